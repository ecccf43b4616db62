//! Outbound hooks: a room's events POSTed as JSON to a URL, signed.
//!
//! Each request carries `X-Ghostkit-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the exact body with the hook's secret, and
//! `X-Ghostkit-Hook: <name>`. The body is
//! `{"hook": name, "room_id": …, "event": <the Matrix event>}`.
//!
//! Room dispatch only puts events in a queue ([`Outbound::enqueue`] never
//! waits); one task per hook delivers them in order, retrying a failure
//! (network error, 5xx, 408, 429) with doubling waits, a bounded number of
//! times. A full queue drops new events with a warning.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::WebhooksConfig;
use crate::hooks::{Hook, HookKind};

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "X-Ghostkit-Signature";

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
///
/// ```
/// let sig = webhooks::outbound::signature("secret", b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// ```
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One event to deliver to one hook.
#[derive(Debug)]
struct Delivery {
    hook: Hook,
    body: actix_web::web::Bytes,
}

/// The queue of outbound deliveries and its worker tasks.
#[derive(Debug)]
pub struct Outbound {
    tx: mpsc::Sender<Delivery>,
    task: tokio::task::JoinHandle<()>,
}

/// How deliveries are made.
#[derive(Debug, Clone)]
struct Policy {
    http: reqwest::Client,
    attempts: u32,
    backoff: Duration,
    per_hook_queue: usize,
}

impl Outbound {
    /// Starts the dispatcher.
    pub fn start(config: &WebhooksConfig) -> anyhow::Result<Outbound> {
        let http = reqwest::Client::builder()
            .timeout(config.outbound_timeout)
            .user_agent(concat!("ghostkit-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let policy = Policy {
            http,
            attempts: config.outbound_attempts.max(1),
            backoff: config.outbound_backoff,
            per_hook_queue: config.outbound_queue.max(1),
        };
        let (tx, rx) = mpsc::channel(config.outbound_queue.max(1) * 4);
        let task = tokio::spawn(dispatch(rx, policy));
        Ok(Outbound { tx, task })
    }

    /// Queues `event` (the JSON text of a room event) for `hook`; never waits.
    pub fn enqueue(&self, hook: &Hook, event: &str) {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            hook: &'a str,
            room_id: &'a str,
            event: &'a serde_json::value::RawValue,
        }
        let body = match serde_json::from_str(event).and_then(|event| {
            serde_json::to_vec(&Body {
                hook: &hook.name,
                room_id: &hook.room_id,
                event,
            })
        }) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialize an outbound event");
                return;
            }
        };
        let d = Delivery {
            hook: hook.clone(),
            body: body.into(),
        };
        if let Err(e) = self.tx.try_send(d) {
            tracing::warn!(hook = %hook.name, error = %e, "outbound queue full; event dropped");
        }
    }

    /// Stops delivering (queued events are dropped).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Routes deliveries to one ordered queue per hook.
async fn dispatch(mut rx: mpsc::Receiver<Delivery>, policy: Policy) {
    let mut queues: HashMap<String, mpsc::Sender<Delivery>> = HashMap::new();
    let mut workers = JoinSet::new();
    while let Some(d) = rx.recv().await {
        let id = d.hook.id.clone();
        let q = queues.entry(id.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(policy.per_hook_queue);
            workers.spawn(deliver_all(rx, policy.clone()));
            tx
        });
        if let Err(e) = q.try_send(d) {
            match e {
                mpsc::error::TrySendError::Full(d) => {
                    tracing::warn!(hook = %d.hook.name, "outbound queue of the hook is full; event dropped");
                }
                mpsc::error::TrySendError::Closed(_) => {
                    queues.remove(&id);
                }
            }
        }
        while workers.try_join_next().is_some() {}
    }
}

async fn deliver_all(mut rx: mpsc::Receiver<Delivery>, policy: Policy) {
    while let Some(d) = rx.recv().await {
        deliver(&d, &policy).await;
    }
}

/// Delivers one event, retrying with backoff; logs the outcome.
async fn deliver(d: &Delivery, policy: &Policy) {
    let HookKind::Outbound { url, secret } = &d.hook.kind else {
        return;
    };
    let sig = signature(secret, &d.body);
    let mut wait = policy.backoff;
    for attempt in 1..=policy.attempts {
        let res = policy
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, &sig)
            .header("X-Ghostkit-Hook", &d.hook.name)
            .body(d.body.clone())
            .send()
            .await;
        let retry_after = match res {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                let s = r.status().as_u16();
                if !(s >= 500 || s == 408 || s == 429) {
                    tracing::warn!(hook = %d.hook.name, status = s, "outbound webhook refused the event; not retrying");
                    return;
                }
                tracing::debug!(hook = %d.hook.name, status = s, attempt, "outbound delivery failed");
                r.headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
            }
            Err(e) => {
                tracing::debug!(hook = %d.hook.name, error = %e, attempt, "outbound delivery failed");
                None
            }
        };
        if attempt == policy.attempts {
            break;
        }
        let pause = retry_after.unwrap_or(wait).min(Duration::from_secs(30));
        tokio::time::sleep(pause).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    tracing::warn!(hook = %d.hook.name, attempts = policy.attempts, "outbound webhook unreachable; event dropped");
}
