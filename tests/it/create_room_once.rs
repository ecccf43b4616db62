//! `createRoom` is made once even when its answer is lost: a proxy in front
//! of the real Synapse forwards the first `createRoom`, lets Synapse make the
//! room, and answers the client `504` (or `429`) instead; the client finds
//! the room it made and does not ask for a second one.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{Context as _, Result};
use ghostkit::client::rooms::{CreateRoom, CREATION_ID_KEY};
use ghostkit::client::{ClientConfig, RetryPolicy};
use ghostkit::Client;
use serde_json::Value;

use crate::client::{registration, synapse_url, unique};

/// What the proxy saw of `createRoom`: the rooms Synapse made.
#[derive(Default)]
struct Seen {
    made: Vec<String>,
}

/// Forwards everything to Synapse; the first `createRoom`'s answer is
/// replaced by `status` with `errcode`.
async fn start_proxy(
    status: u16,
    errcode: &'static str,
) -> Result<(String, Arc<Mutex<Seen>>, actix_web::dev::ServerHandle)> {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    let http = reqwest::Client::new();
    let server = HttpServer::new(move || {
        let (s, http) = (s.clone(), http.clone());
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (s, http) = (s.clone(), http.clone());
            async move {
                let url = format!("{}{}", synapse_url(), req.uri());
                let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
                    .unwrap_or(reqwest::Method::GET);
                let mut out = http.request(method, url).body(body.to_vec());
                if let Some(auth) = req.headers().get("authorization").and_then(|v| v.to_str().ok()) {
                    out = out.header("authorization", auth);
                }
                let Ok(resp) = out.header("content-type", "application/json").send().await else {
                    return HttpResponse::BadGateway().finish();
                };
                let code = resp.status().as_u16();
                let bytes = resp.bytes().await.unwrap_or_default();
                if req.path().ends_with("/createRoom") && code == 200 {
                    let room = serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v["room_id"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let mut seen = s.lock().unwrap_or_else(|p| p.into_inner());
                    seen.made.push(room);
                    if seen.made.len() == 1 {
                        let status = actix_web::http::StatusCode::from_u16(status)
                            .unwrap_or(actix_web::http::StatusCode::GATEWAY_TIMEOUT);
                        return HttpResponse::build(status)
                            .content_type("application/json")
                            .body(format!(r#"{{"errcode":"{errcode}","error":"answer lost","retry_after_ms":50}}"#));
                    }
                }
                HttpResponse::build(
                    actix_web::http::StatusCode::from_u16(code)
                        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
                )
                .content_type("application/json")
                .body(bytes)
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")?;
    let addr = *server.addrs().first().context("no address")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://{addr}"), seen, handle))
}

fn client_via(url: &str) -> Result<Client> {
    let config = ClientConfig {
        retry: RetryPolicy {
            initial_backoff: std::time::Duration::from_millis(50),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = Client::with_config(url, registration(), config)?;
    c.set_server_name(ghostkit::ruma::common::server_name!("localhost"));
    Ok(c)
}

#[tokio::test]
async fn a_lost_create_room_answer_makes_one_room_not_two() -> Result<()> {
    for (status, errcode, alias) in [
        (504, "M_UNKNOWN", None),
        (429, "M_LIMIT_EXCEEDED", None),
        (502, "M_UNKNOWN", Some(unique("_client_lost"))),
    ] {
        let (url, seen, handle) = start_proxy(status, errcode).await?;
        let client = client_via(&url)?;
        let room = client
            .as_bot()
            .create_room(&CreateRoom {
                room_alias_name: alias.clone(),
                ..Default::default()
            })
            .await?;
        let made = std::mem::take(&mut seen.lock().unwrap_or_else(|p| p.into_inner()).made);
        handle.stop(false).await;
        assert_eq!(
            made,
            [room.to_string()],
            "after {status}: rooms made {made:?}"
        );
        // The marker is in the room's create event.
        let create: Value = crate::client::client()
            .as_bot()
            .state_event_opt(&room, "m.room.create", "")
            .await?
            .context("a create event")?;
        assert!(create[CREATION_ID_KEY].is_string(), "{create}");
    }
    Ok(())
}
