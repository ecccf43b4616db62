//! What the webhooks tests share: the bot's settings, the requester's direct
//! messages, a receiver for outbound hooks.

mod hooks;
mod security;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{anyhow, Context as _, Result};
use serde_json::Value;
use webhooks::WebhooksConfig;

use crate::common::{enc, eventually, User};

/// The bot listens on the registration's port: one bot at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Test settings: an ephemeral port, a small burst, quick retries, and
/// 127.0.0.1 allowed for outbound hooks (the receivers here listen there).
pub fn test_config() -> WebhooksConfig {
    WebhooksConfig {
        outbound_allow: vec!["127.0.0.1".parse().expect("an address")],
        ..strict_config()
    }
}

/// [`test_config`] without the allow-list: internal addresses refused.
pub fn strict_config() -> WebhooksConfig {
    WebhooksConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate: 0.2,
        burst: 10,
        outbound_backoff_ms: 100,
        ..WebhooksConfig::default()
    }
}

/// POSTs `body` as JSON; the status, `Retry-After` and the JSON answer.
pub async fn post(url: &str, body: &str) -> Result<(u16, Option<String>, Value)> {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    Ok((status, retry, v))
}

/// Joins the direct-message room the bot `bot` invited `user` to; returns its ID.
pub async fn dm_room(user: &User, bot: &str) -> Result<String> {
    eventually(
        Duration::from_secs(30),
        "the bot's direct message",
        || async {
            let sync = user
                .call(
                    reqwest::Method::GET,
                    "/_matrix/client/v3/sync?timeout=0",
                    None,
                )
                .await?;
            let from_bot = |room: &Value, section: &str| {
                room[section]["events"]
                    .as_array()
                    .is_some_and(|evs| evs.iter().any(|e| e["sender"] == bot))
            };
            if let Some(invites) = sync["rooms"]["invite"].as_object() {
                for (id, room) in invites {
                    if from_bot(room, "invite_state") {
                        user.call(
                            reqwest::Method::POST,
                            &format!("/_matrix/client/v3/join/{}", enc(id)),
                            Some(serde_json::json!({})),
                        )
                        .await?;
                        return Ok(Some(id.clone()));
                    }
                }
            }
            Ok(None)
        },
    )
    .await
}

/// Waits for a message in `room` whose body contains `needle`; returns the event.
pub async fn message_containing(user: &User, room: &str, needle: &str) -> Result<Value> {
    eventually(Duration::from_secs(30), needle, || async {
        Ok(user.messages(room).await?.into_iter().find(|m| {
            m["type"] == "m.room.message"
                && m["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(needle))
        }))
    })
    .await
}

/// The line of `text` starting with `prefix`.
pub fn line_starting(text: &str, prefix: &str) -> Result<String> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no line starting with {prefix:?} in {text:?}"))
}

/// One request an outbound hook made.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `X-Ghostkit-Signature` header.
    pub signature: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A receiver of outbound hooks that answers 503 to its first request (to
/// see the retry) and 200 afterwards.
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub refused: Arc<Mutex<u32>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start() -> Result<Receiver> {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refused: Arc<Mutex<u32>> = Arc::default();
        let (g, r) = (got.clone(), refused.clone());
        let server = HttpServer::new(move || {
            let (g, r) = (g.clone(), r.clone());
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (g, r) = (g.clone(), r.clone());
                    async move {
                        let mut refused = r.lock().unwrap_or_else(|p| p.into_inner());
                        if *refused == 0 {
                            *refused += 1;
                            return HttpResponse::ServiceUnavailable().finish();
                        }
                        let signature = req
                            .headers()
                            .get("X-Ghostkit-Signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        g.lock().unwrap_or_else(|p| p.into_inner()).push(Received {
                            signature,
                            body: body.to_vec(),
                        });
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")?;
        let addr = *server.addrs().first().context("no address")?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Receiver {
            addr,
            got,
            refused,
            handle,
        })
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A server that counts the requests it gets and answers each with one
/// status (and a `Location` header, if given).
pub struct Counter {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<u32>>,
    handle: actix_web::dev::ServerHandle,
}

impl Counter {
    pub async fn start(status: u16, location: Option<String>) -> Result<Counter> {
        let hits: Arc<Mutex<u32>> = Arc::default();
        let h = hits.clone();
        let server = HttpServer::new(move || {
            let (h, location) = (h.clone(), location.clone());
            App::new().default_service(web::to(move || {
                let (h, location) = (h.clone(), location.clone());
                async move {
                    *h.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    let code = actix_web::http::StatusCode::from_u16(status)
                        .unwrap_or(actix_web::http::StatusCode::OK);
                    let mut resp = HttpResponse::build(code);
                    if let Some(l) = location {
                        resp.insert_header(("Location", l));
                    }
                    resp.finish()
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
        Ok(Counter { addr, hits, handle })
    }

    pub fn hits(&self) -> u32 {
        *self.hits.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
