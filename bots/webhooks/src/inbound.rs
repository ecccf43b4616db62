//! The webhook HTTP server: `POST|PUT /webhook/{id}` posts a message into the
//! hook's room, as the bot or as the hook's own ghost (see [`crate::identity`]).
//!
//! Answers are JSON: `{"ok": true}`, or `{"ok": false, "error": "…"}` with
//! 404 (no such hook), 400 (bad body), 413 (too large), 429 (rate limited,
//! with `Retry-After` in seconds) or 502 (the homeserver refused the message).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{http::StatusCode, web, App, HttpResponse, HttpServer};
use ghostkit::prelude::*;
use serde_json::json;

use crate::config::WebhooksConfig;
use crate::format::{self, Inbound};
use crate::hooks::{Hook, Hooks};
use crate::identity::ghost_id;
use crate::ratelimit::RateLimiter;

/// What the request handlers share.
#[derive(Debug)]
pub struct InboundState {
    app: AppContext,
    hooks: Hooks,
    limiter: RateLimiter,
    /// Per-room display names already set, by (room, ghost).
    names: Mutex<HashMap<(String, String), String>>,
    /// Held while a ghost is set up, so a burst of first messages sets it up once.
    setup: tokio::sync::Mutex<()>,
}

impl InboundState {
    /// The state for `hooks`, posting through `app`.
    pub fn new(app: AppContext, hooks: Hooks, config: &WebhooksConfig) -> Self {
        InboundState {
            app,
            hooks,
            limiter: RateLimiter::new(config.rate, config.burst),
            names: Mutex::new(HashMap::new()),
            setup: tokio::sync::Mutex::new(()),
        }
    }

    /// Forgets what is kept about a deleted hook.
    pub fn forget(&self, hook_id: &str) {
        self.limiter.forget(hook_id);
    }

    /// Posts `msg` into the hook's room; returns the event ID.
    pub async fn post(&self, hook: &Hook, msg: &Inbound) -> anyhow::Result<String> {
        let room = <&RoomId>::try_from(hook.room_id.as_str())?;
        let api = match &msg.username {
            None => self.app.client().as_bot(),
            Some(name) => {
                let ghost =
                    ghost_id(hook, self.app.server_name().as_str()).map_err(anyhow::Error::msg)?;
                let intent = self.app.intent(&ghost)?;
                if !self.has_room_name(room, &ghost, name) {
                    let _one = self.setup.lock().await;
                    intent.ensure_joined(room).await?;
                    self.ensure_room_name(&intent, room, name).await?;
                }
                intent.api().clone()
            }
        };
        let id = api.send(room, "m.room.message", &msg.content()).await?;
        Ok(id.to_string())
    }

    /// Whether the ghost is known to be in the room under this name.
    fn has_room_name(&self, room: &RoomId, ghost: &UserId, name: &str) -> bool {
        let key = (room.to_string(), ghost.to_string());
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .is_some_and(|n| n == name)
    }

    async fn ensure_room_name(
        &self,
        intent: &Intent,
        room: &RoomId,
        name: &str,
    ) -> anyhow::Result<()> {
        let key = (room.to_string(), intent.user_id().to_string());
        let known = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if known.as_deref() == Some(name) {
            return Ok(());
        }
        intent.ensure_display_name(name).await?;
        intent.api().set_room_display_name(room, name).await?;
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, name.to_owned());
        Ok(())
    }
}

fn answer(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "ok": false, "error": error }))
}

/// `POST|PUT /webhook/{id}`.
async fn receive(
    id: web::Path<String>,
    payload: web::Payload,
    st: web::Data<Arc<InboundState>>,
    limit: web::Data<BodyLimit>,
) -> HttpResponse {
    let Some(hook) = st.hooks.get(&id).filter(Hook::is_inbound) else {
        return answer(StatusCode::NOT_FOUND, "no such webhook; check the URL");
    };
    if let Err(wait) = st.limiter.take(&hook.id) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .json(json!({
                "ok": false,
                "error": format!("too many messages for this webhook; try again in {secs}s"),
                "retry_after_ms": wait.as_millis() as u64,
            }));
    }
    let body = match read_body(payload, limit.0).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let msg = match format::parse(&body) {
        Ok(m) => m,
        Err(e) => return answer(StatusCode::BAD_REQUEST, &e),
    };
    match st.post(&hook, &msg).await {
        Ok(event_id) => HttpResponse::Ok().json(json!({ "ok": true, "event_id": event_id })),
        Err(e) => {
            tracing::warn!(hook = %hook.name, room = %hook.room_id, error = %e, "cannot post a webhook message");
            answer(
                StatusCode::BAD_GATEWAY,
                "the homeserver did not take the message; try again later",
            )
        }
    }
}

/// The largest accepted body, in bytes.
#[derive(Debug, Clone, Copy)]
struct BodyLimit(usize);

/// Reads the body up to `limit` bytes; a longer one is a JSON 413.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    use futures_util::StreamExt as _;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            answer(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The running webhook HTTP server.
#[derive(Debug)]
pub struct InboundServer {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: ServerHandle,
}

impl InboundServer {
    /// Binds `config.listen` and serves in the background.
    pub fn start(state: Arc<InboundState>, config: &WebhooksConfig) -> anyhow::Result<Self> {
        let limit = config.max_body;
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::Data::new(BodyLimit(limit)))
                .route("/webhook/{id}", web::post().to(receive))
                .route("/webhook/{id}", web::put().to(receive))
                .default_service(web::to(|| async {
                    answer(
                        StatusCode::NOT_FOUND,
                        "not a webhook URL; use POST /webhook/<id>",
                    )
                }))
        })
        .workers(config.workers.max(1))
        .disable_signals()
        .bind(config.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {} for webhooks: {e}", config.listen))?;
        let addr = server.addrs().first().copied().unwrap_or(config.listen);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        tracing::info!(%addr, "webhook server listening");
        Ok(InboundServer { addr, handle })
    }

    /// Stops listening, letting requests in flight finish.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}
