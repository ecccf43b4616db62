//! A fake homeserver in-process, for tests of retries and faults (feature
//! `testing`).
//!
//! [`FakeHomeserver`] listens on `127.0.0.1:0`, records every request, and
//! answers plausibly by default (sends get an event ID — the same one again
//! for a repeated txnId, like a real homeserver —, joins and `createRoom` a
//! room ID, anything else `{}`). Scripted answers ([`FakeReply`]) go first
//! for the requests whose path contains a given text: rate limits, server
//! errors, slow answers.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ghostkit::testing::{FakeHomeserver, FakeReply};
//! let hs = FakeHomeserver::start().await?;
//! hs.script("/send/", [FakeReply::rate_limited_ms(100), FakeReply::error(503, "M_UNKNOWN", "busy")]);
//! // … point a Client at hs.url(), send, then:
//! let sends = hs.requests_to("/send/");
//! # let _ = sends;
//! hs.stop().await;
//! # Ok(()) }
//! ```
//!
//! [`postgres_database`] makes a fresh PostgreSQL database for a test.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

mod postgres;
pub use postgres::{postgres_database, TestDatabaseError, REQUIRE_VAR, SERVER_VAR};

/// A request the fake homeserver received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of query parameter `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct FakeReply {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

impl FakeReply {
    /// `200` with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    /// Any status with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        FakeReply {
            status,
            body: body.to_string().into_bytes(),
            content_type: "application/json",
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A Matrix error.
    pub fn error(status: u16, errcode: &str, error: &str) -> Self {
        Self::json(status, json!({ "errcode": errcode, "error": error }))
    }

    /// `429 M_LIMIT_EXCEEDED` with `retry_after_ms` in the body.
    pub fn rate_limited_ms(retry_after_ms: u64) -> Self {
        Self::json(
            429,
            json!({ "errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": retry_after_ms }),
        )
    }

    /// `429 M_LIMIT_EXCEEDED` with only a `Retry-After` header (seconds).
    pub fn rate_limited_header(retry_after_secs: u64) -> Self {
        Self::error(429, "M_LIMIT_EXCEEDED", "Too Many Requests")
            .header("Retry-After", retry_after_secs.to_string())
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Answers only after `delay` (to make the client time out).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// How the fake homeserver runs.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// HTTP worker threads.
    pub workers: usize,
    /// Whether to record requests (turn off for benchmarks).
    pub record: bool,
    /// The loopback port to listen on; 0 for any free one.
    pub port: u16,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            workers: 1,
            record: true,
            port: 0,
        }
    }
}

#[derive(Default)]
struct State {
    record: bool,
    requests: Mutex<Vec<RecordedRequest>>,
    scripts: Mutex<Vec<(String, VecDeque<FakeReply>)>>,
    sent: Mutex<HashMap<String, String>>,
    counter: AtomicU64,
}

/// The running fake homeserver; see the [module docs](self).
pub struct FakeHomeserver {
    addr: SocketAddr,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for FakeHomeserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHomeserver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeHomeserver {
    /// Starts one with the default options on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts one with `options`.
    pub async fn start_with(options: FakeOptions) -> std::io::Result<Self> {
        let state = Arc::new(State {
            record: options.record,
            ..Default::default()
        });
        let st = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(st.clone()))
                .default_service(web::to(answer))
        })
        .workers(options.workers.max(1))
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", options.port))?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("the fake homeserver has no address"))?;
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(FakeHomeserver {
            addr,
            state,
            handle,
            task,
        })
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests whose path contains `path_contains` with
    /// `replies`, in order; after them, the default answers again.
    pub fn script(&self, path_contains: &str, replies: impl IntoIterator<Item = FakeReply>) {
        lock(&self.state.scripts).push((path_contains.to_owned(), replies.into_iter().collect()));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// The requests whose path contains `path_contains`.
    pub fn requests_to(&self, path_contains: &str) -> Vec<RecordedRequest> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path.contains(path_contains))
            .cloned()
            .collect()
    }

    /// How many requests arrived (also when not recording).
    pub fn request_count(&self) -> u64 {
        self.state.counter.load(Ordering::Relaxed)
    }

    /// Forgets the recorded requests and scripts.
    pub fn reset(&self) {
        lock(&self.state.requests).clear();
        lock(&self.state.scripts).clear();
    }

    /// Stops listening.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    let path = req.path().to_owned();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let method = req.method().as_str().to_owned();
    if state.record {
        lock(&state.requests).push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            authorization: req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: body.to_vec(),
            at: Instant::now(),
        });
    }
    let scripted = {
        let mut scripts = lock(&state.scripts);
        scripts
            .iter_mut()
            .find(|(p, q)| path.contains(p.as_str()) && !q.is_empty())
            .and_then(|(_, q)| q.pop_front())
    };
    let reply = match scripted {
        Some(r) => r,
        None => FakeReply::ok(default_answer(&state, &method, &path, &query, n)),
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.content_type(reply.content_type);
    for (k, v) in reply.headers {
        resp.insert_header((k, v));
    }
    resp.body(reply.body)
}

fn default_answer(
    state: &State,
    method: &str,
    path: &str,
    query: &[(String, String)],
    n: u64,
) -> Value {
    let user = query
        .iter()
        .find(|(k, _)| k == "user_id")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "@bot:localhost".into());
    let last_segment = path
        .rsplit('/')
        .next()
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if method == "PUT" && (path.contains("/send/") || path.contains("/redact/")) {
        // Like a homeserver: the same txnId (path and user) gives the same event.
        let key = format!("{user} {path}");
        let id = lock(&state.sent)
            .entry(key)
            .or_insert_with(|| format!("$fake{n}"))
            .clone();
        return json!({ "event_id": id });
    }
    if method == "PUT" && path.contains("/state/") {
        return json!({ "event_id": format!("$fake{n}") });
    }
    if path.contains("/join/") {
        let room = if last_segment.starts_with('!') {
            last_segment
        } else {
            "!fake:localhost".into()
        };
        return json!({ "room_id": room });
    }
    if path.ends_with("/createRoom") {
        return json!({ "room_id": format!("!fake{n}:localhost") });
    }
    if path.ends_with("/account/whoami") {
        return json!({ "user_id": user });
    }
    if path.ends_with("/register") {
        return json!({ "user_id": user });
    }
    json!({})
}
