//! Outbound hooks: a room's events POSTed as JSON to a URL, signed.
//!
//! Each request carries `X-Ghostkit-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the exact body with the hook's secret, and
//! `X-Ghostkit-Hook: <name>`. The body is
//! `{"hook": name, "room_id": …, "event": <the Matrix event>}`.
//!
//! Room dispatch only puts events in a queue ([`Outbound::enqueue`] waits
//! for the store's write, never for the queue); one task per hook delivers them in order, retrying a failure
//! (network error, 5xx, 408, 429) with doubling waits, a bounded number of
//! times. A full queue drops new events with a warning.
//!
//! Requests go only where [`crate::address`] allows: the URL's host is
//! checked before every request and every address a name resolves to is
//! checked by the client's resolver; no proxy is used. Redirects are not
//! followed: a 3xx answer is a failed delivery, not retried. A refused
//! address is not retried either. The last failure of each hook is kept
//! for `!webhook list` ([`Outbound::last_failure`]).
//!
//! The queue is on disk too (store tree `webhooks.outbound`): an event is
//! written there before its room event counts as handled, in the same store
//! whose flush marks the room event done, and leaves it once delivered (or
//! given up). After a restart, what was still queued is delivered first, in
//! order, to the hooks that still exist.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ghostkit::metrics::prometheus_client::metrics::counter::Counter;
use ghostkit::metrics::{Metrics, MetricsError};
use ghostkit::store::{Store, Tree};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::address::{AddressError, AddressGuard};
use crate::config::WebhooksConfig;
use crate::hooks::{Hook, HookKind, Hooks};
use ghostkit::backoff::Backoff;

/// The store tree of queued deliveries.
const TREE: &str = "webhooks.outbound";

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
    /// Its key in the queue's tree.
    key: [u8; 8],
    hook: Hook,
    body: actix_web::web::Bytes,
}

/// The queue of outbound deliveries and its worker tasks.
#[derive(Debug)]
pub struct Outbound {
    tx: mpsc::Sender<Delivery>,
    task: tokio::task::JoinHandle<()>,
    queued: Tree,
    next_key: AtomicU64,
    guard: AddressGuard,
    failures: Failures,
    counters: Counters,
}

/// Deliveries made and given up, for `/metrics`.
#[derive(Debug, Clone, Default)]
struct Counters {
    delivered: Counter,
    failed: Counter,
}

/// The last failed delivery of each hook, by hook ID, in words.
type Failures = Arc<Mutex<HashMap<String, String>>>;

/// How deliveries are made.
#[derive(Debug, Clone)]
struct Policy {
    http: reqwest::Client,
    attempts: u32,
    backoff: Duration,
    per_hook_queue: usize,
    queued: Tree,
    guard: AddressGuard,
    failures: Failures,
    counters: Counters,
}

/// A queued delivery as stored: the hook's ID (length first), then the body.
fn encode(hook_id: &str, body: &[u8]) -> Vec<u8> {
    let id = &hook_id.as_bytes()[..hook_id.len().min(u16::MAX as usize)];
    let mut v = Vec::with_capacity(2 + id.len() + body.len());
    v.extend_from_slice(&(id.len() as u16).to_be_bytes());
    v.extend_from_slice(id);
    v.extend_from_slice(body);
    v
}

fn decode(value: &[u8]) -> Option<(&str, &[u8])> {
    let len = u16::from_be_bytes(value.get(..2)?.try_into().ok()?) as usize;
    let id = std::str::from_utf8(value.get(2..2 + len)?).ok()?;
    Some((id, value.get(2 + len..)?))
}

/// The deliveries left queued by the last run, oldest first, for hooks that
/// still exist (the others are forgotten); and the next free key.
async fn pending(queued: &Tree, hooks: &Hooks) -> anyhow::Result<(Vec<Delivery>, u64)> {
    let mut out = Vec::new();
    let mut next = 0u64;
    for (key, value) in queued.entries().await? {
        let Ok(key) = <[u8; 8]>::try_from(key.as_slice()) else {
            queued.remove(key).await?;
            continue;
        };
        next = next.max(u64::from_be_bytes(key) + 1);
        match decode(&value).and_then(|(id, body)| Some((hooks.get(id)?, body))) {
            Some((hook, body)) if !hook.is_inbound() => out.push(Delivery {
                key,
                hook,
                body: actix_web::web::Bytes::copy_from_slice(body),
            }),
            _ => {
                queued.remove(key).await?;
            }
        }
    }
    Ok((out, next))
}

impl Outbound {
    /// Adds the delivery counters to the appservice's metrics:
    /// `webhooks_outbound_delivered_total` and
    /// `webhooks_outbound_failed_total` (given up after every attempt).
    pub fn register_metrics(&self, metrics: &Metrics) -> Result<(), MetricsError> {
        metrics.register(
            "webhooks_outbound_delivered",
            "Events delivered to outbound hooks",
            self.counters.delivered.clone(),
        )?;
        metrics.register(
            "webhooks_outbound_failed",
            "Events given up on after every attempt at an outbound hook",
            self.counters.failed.clone(),
        )
    }

    /// Starts the dispatcher; deliveries queued in `store` by the last run
    /// go first.
    pub async fn start(
        config: &WebhooksConfig,
        store: &Store,
        hooks: &Hooks,
    ) -> anyhow::Result<Outbound> {
        let guard = AddressGuard::new(&config.outbound_allow, &config.outbound_deny);
        let http = reqwest::Client::builder()
            .timeout(config.outbound_timeout())
            .user_agent(concat!("ghostkit-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(guard.resolver())
            .build()?;
        let failures = Failures::default();
        let counters = Counters::default();
        let queued = store.tree(TREE)?;
        let (left, next_key) = pending(&queued, hooks).await?;
        if !left.is_empty() {
            tracing::info!(
                deliveries = left.len(),
                "delivering what the last run left queued"
            );
        }
        let policy = Policy {
            http,
            attempts: config.outbound_attempts.max(1),
            backoff: config.outbound_backoff(),
            per_hook_queue: config.outbound_queue.max(1),
            queued: queued.clone(),
            guard: guard.clone(),
            failures: failures.clone(),
            counters: counters.clone(),
        };
        let (tx, rx) = mpsc::channel(config.outbound_queue.max(1) * 4);
        let task = tokio::spawn(dispatch(rx, policy, left));
        Ok(Outbound {
            tx,
            task,
            queued,
            next_key: AtomicU64::new(next_key),
            guard,
            failures,
            counters,
        })
    }

    /// The rules outbound URLs obey, to check a new hook's URL.
    pub fn guard(&self) -> &AddressGuard {
        &self.guard
    }

    /// How the last delivery to this hook failed, unless one succeeded since.
    pub fn last_failure(&self, hook_id: &str) -> Option<String> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hook_id)
            .cloned()
    }

    /// Queues `event` (the JSON text of a room event) for `hook`; waits for
    /// the store's write, never for room in the queue.
    pub async fn enqueue(&self, hook: &Hook, event: &str) {
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
        let key = self.next_key.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        if let Err(e) = self.queued.insert(key, encode(&hook.id, &body)).await {
            tracing::warn!(hook = %hook.name, error = %e, "cannot queue an outbound event on disk; sending it anyway");
        }
        let d = Delivery {
            key,
            hook: hook.clone(),
            body: body.into(),
        };
        if let Err(e) = self.tx.try_send(d) {
            tracing::warn!(hook = %hook.name, error = %e, "outbound queue full; event dropped");
            forget(&self.queued, &key).await;
        }
    }

    /// Stops delivering; what is queued stays on disk for the next start.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Removes a delivery from the queue on disk.
async fn forget(queued: &Tree, key: &[u8; 8]) {
    if let Err(e) = queued.remove(key).await {
        tracing::warn!(error = %e, "cannot remove a finished outbound delivery from the store");
    }
}

/// Routes deliveries to one ordered queue per hook; `left` (from the last
/// run) first.
async fn dispatch(mut rx: mpsc::Receiver<Delivery>, policy: Policy, left: Vec<Delivery>) {
    let mut queues: HashMap<String, mpsc::Sender<Delivery>> = HashMap::new();
    let mut workers = JoinSet::new();
    let mut queue_of = |id: &str, workers: &mut JoinSet<()>| {
        queues
            .entry(id.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(policy.per_hook_queue);
                workers.spawn(deliver_all(rx, policy.clone()));
                tx
            })
            .clone()
    };
    for d in left {
        // Waits for room in the hook's queue: none of these is dropped.
        let _ = queue_of(&d.hook.id, &mut workers).send(d).await;
    }
    while let Some(d) = rx.recv().await {
        let q = queue_of(&d.hook.id, &mut workers);
        if let Err(mpsc::error::TrySendError::Full(d)) = q.try_send(d) {
            tracing::warn!(hook = %d.hook.name, "outbound queue of the hook is full; event dropped");
            forget(&policy.queued, &d.key).await;
        }
        while workers.try_join_next().is_some() {}
    }
}

async fn deliver_all(mut rx: mpsc::Receiver<Delivery>, policy: Policy) {
    while let Some(d) = rx.recv().await {
        deliver(&d, &policy).await;
        forget(&policy.queued, &d.key).await;
    }
}

/// Delivers one event, retrying with backoff; logs the outcome and keeps
/// a failure for [`Outbound::last_failure`].
async fn deliver(d: &Delivery, policy: &Policy) {
    let outcome = attempt_all(d, policy).await;
    let mut failures = policy.failures.lock().unwrap_or_else(|p| p.into_inner());
    match outcome {
        Ok(()) => {
            policy.counters.delivered.inc();
            failures.remove(&d.hook.id);
        }
        Err(why) => {
            policy.counters.failed.inc();
            tracing::warn!(hook = %d.hook.name, room = %d.hook.room_id, "outbound delivery failed, event dropped: {why}");
            failures.insert(d.hook.id.clone(), why);
        }
    }
}

/// The attempts at one delivery; the error says why it failed.
async fn attempt_all(d: &Delivery, policy: &Policy) -> Result<(), String> {
    let HookKind::Outbound { url, secret } = &d.hook.kind else {
        return Ok(());
    };
    let sig = signature(secret, &d.body);
    let mut waits = Backoff::new(policy.backoff, Duration::from_secs(30)).steps();
    let mut last = String::new();
    for attempt in 1..=policy.attempts {
        // An IP-literal host never reaches the resolver: check it here.
        let target = policy
            .guard
            .check_url(url)
            .map_err(|e| format!("the URL is refused: {e}"))?;
        let res = policy
            .http
            .post(target)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, &sig)
            .header("X-Ghostkit-Hook", &d.hook.name)
            .body(d.body.clone())
            .send()
            .await;
        let retry_after = match res {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status().is_redirection() => {
                let to = r
                    .headers()
                    .get("Location")
                    .and_then(|v| v.to_str().ok())
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default();
                return Err(format!(
                    "the URL answered {} (a redirect{to}), and redirects are not followed",
                    r.status().as_u16()
                ));
            }
            Ok(r) => {
                let s = r.status().as_u16();
                if !(s >= 500 || s == 408 || s == 429) {
                    return Err(format!("the URL refused the event with status {s}"));
                }
                tracing::debug!(hook = %d.hook.name, status = s, attempt, "outbound delivery failed");
                last = format!("status {s}");
                r.headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
            }
            Err(e) => {
                if let Some(refused) = address_error(&e) {
                    return Err(format!("the URL is refused: {refused}"));
                }
                tracing::debug!(hook = %d.hook.name, error = %e, attempt, "outbound delivery failed");
                last = e.to_string();
                None
            }
        };
        if attempt == policy.attempts {
            break;
        }
        let wait = waits.next_delay();
        let pause = retry_after.unwrap_or(wait).min(Duration::from_secs(30));
        tokio::time::sleep(pause).await;
    }
    Err(format!(
        "the URL was unreachable in {} attempts ({last})",
        policy.attempts
    ))
}

/// The address refusal behind an HTTP client error, if it is one.
fn address_error(e: &reqwest::Error) -> Option<&AddressError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<AddressError>() {
            return Some(refused);
        }
        source = s.source();
    }
    None
}
