//! What the test modules share: a registration, a recording handler, a
//! closure handler, the whole stack on a real on-disk store, and request helpers.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use futures_util::future::BoxFuture;
use ghostkit::bot::{AppContext, Context, Handler, HandlerError, HandlerResult};
use ghostkit::event::{Event, EventKind};
use ghostkit::registration::Registration;
use ghostkit::router::{DispatchConfig, Router};
use ghostkit::server::{ServerConfig, ServerState};
use ghostkit::store::Store;
use ghostkit::transaction::{LogConfig, TransactionLog};
use ghostkit::Client;
use serde_json::{json, Value};

/// The token the homeserver uses towards us.
pub const HS_TOKEN: &str = "hs_secret_token_for_tests";

/// A registration with ghosts `@_e_*:x.org`, aliases `#_e_*:x.org` and bot `@bot:x.org`.
pub const REGISTRATION_YAML: &str = r#"
id: itest
url: http://127.0.0.1:9000
as_token: as_secret_token_for_tests
hs_token: hs_secret_token_for_tests
sender_localpart: bot
namespaces:
  users:
    - regex: '^@_e_.*:x\.org$'
      exclusive: true
    - regex: '^@bot:x\.org$'
      exclusive: true
  aliases:
    - regex: '^#_e_.*:x\.org$'
      exclusive: true
"#;

/// The test registration, parsed.
pub fn registration() -> Registration {
    Registration::from_yaml(REGISTRATION_YAML).expect("the test registration is valid")
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `cond` every few milliseconds for up to `limit`; true once it holds.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long any asynchronous outcome may take before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Opens the store in `dir`, waiting while a previous handle (a test's
/// "crashed" run whose last tasks are finishing) still holds its lock.
pub async fn open_store(dir: &Path) -> Store {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "store still locked; waiting");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    }
}

/// An [`AppContext`] whose client points at a port nobody listens on.
pub fn app_context(store: &Store) -> AppContext {
    let reg = Arc::new(registration());
    let client = Client::new("http://127.0.0.1:1", reg.clone()).expect("valid homeserver URL");
    client.set_server_name(ghostkit::ruma::common::server_name!("x.org"));
    AppContext::new(
        client,
        store.clone(),
        reg,
        ghostkit::ruma::common::server_name!("x.org").to_owned(),
    )
    .expect("`bot` makes a user ID")
}

/// The options of the three layers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// HTTP side.
    pub server: ServerConfig,
    /// Transaction log.
    pub log: LogConfig,
    /// Dispatcher.
    pub dispatch: DispatchConfig,
}

/// The framework's pieces put together the way `Appservice::start` does,
/// without listening and without a homeserver.
pub struct Stack {
    pub log: Arc<TransactionLog>,
    pub router: Router,
    pub state: Arc<ServerState>,
}

impl Stack {
    /// Builds the stack on the store in `dir`; needs a tokio runtime.
    pub async fn open(dir: &Path, handler: Arc<dyn Handler>, opts: Options) -> Stack {
        let store = open_store(dir).await;
        let app = app_context(&store);
        let log = Arc::new(
            TransactionLog::open(&store, opts.log)
                .await
                .expect("transaction log opens"),
        );
        let router = Router::new(handler.clone(), app.clone(), log.clone(), opts.dispatch);
        let state = ServerState::new(app, handler, log.clone(), router.clone(), opts.server);
        Stack { log, router, state }
    }
}

/// An actix test service with the appservice routes and the `unrecognized`
/// default service, as `Appservice::start` mounts them.
macro_rules! service {
    ($state:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(ghostkit::server::configure($state))
                .default_service(actix_web::web::to(ghostkit::server::unrecognized)),
        )
        .await
    };
}
pub(crate) use service;

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a Matrix error: the status, a JSON body with the `errcode` and an `error` string.
    #[track_caller]
    pub fn assert_error(&self, status: u16, errcode: &str) {
        assert_eq!(
            self.status,
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "error content type"
        );
        let v = self.json();
        assert_eq!(v["errcode"], errcode, "errcode in {v}");
        assert!(
            v["error"].as_str().is_some_and(|s| !s.is_empty()),
            "error message in {v}"
        );
    }

    /// Asserts `200 {}`.
    #[track_caller]
    pub fn assert_empty_ok(&self) {
        assert_eq!(
            self.status,
            200,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.json(), json!({}));
    }
}

/// Sends one request to a test service and reads the whole answer.
pub async fn call<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let resp = match app.call(req).await {
        Ok(r) => r,
        Err(e) => panic!("service failed instead of answering: {e}"),
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = actix_web::test::read_body(resp).await;
    Reply {
        status,
        content_type,
        body,
    }
}

/// Adds `Authorization: Bearer <hs_token>`.
pub fn authed(req: TestRequest) -> TestRequest {
    req.insert_header(("Authorization", format!("Bearer {HS_TOKEN}")))
}

/// An authorized `PUT /_matrix/app/v1/transactions/{txn_id}`.
pub fn put_txn(txn_id: &str, body: impl Into<Bytes>) -> TestRequest {
    authed(TestRequest::put().uri(&format!("/_matrix/app/v1/transactions/{txn_id}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body)
}

/// An authorized GET of `uri`.
pub fn get(uri: &str) -> TestRequest {
    authed(TestRequest::get().uri(uri))
}

/// An `m.room.message` event.
pub fn message(event_id: &str, room_id: &str, body: &str) -> Value {
    json!({
        "type": "m.room.message",
        "event_id": event_id,
        "room_id": room_id,
        "sender": "@alice:x.org",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": body},
    })
}

/// A transaction body with these timeline events.
pub fn txn(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "events": events })).expect("serializable")
}

/// One handler call the [`Recorder`] saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Which handler method was called.
    pub via: &'static str,
    pub kind: EventKind,
    pub event_type: String,
    pub event_id: Option<String>,
    pub room_id: Option<String>,
    pub to_user_id: Option<String>,
    pub raw: Value,
}

/// One query the [`Recorder`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub method: &'static str,
    pub subject: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// How a [`Recorder`] answers the homeserver's queries.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// Answer of `query_user` (for users in the namespace).
    pub user_exists: bool,
    /// Answer of `query_room_alias`.
    pub alias_exists: bool,
    /// Answer of `thirdparty_protocol`, as JSON (not a protocol: the
    /// handler fails).
    pub protocol: Option<Value>,
    /// Answer of the third-party location lookups, as JSON.
    pub locations: Vec<Value>,
    /// Answer of the third-party user lookups, as JSON.
    pub users: Vec<Value>,
}

/// A handler that records every event by the method the default routing
/// called, and answers queries as configured.
#[derive(Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
    queries: Mutex<Vec<Query>>,
    answers: Answers,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    /// A recorder answering queries with `answers`.
    pub fn with(answers: Answers) -> Recorder {
        Recorder {
            answers,
            ..Recorder::default()
        }
    }

    /// Everything seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    /// The event IDs of the timeline events seen so far, in order.
    pub fn event_ids(&self) -> Vec<String> {
        lock(&self.seen)
            .iter()
            .filter_map(|s| s.event_id.clone())
            .collect()
    }

    /// The queries answered so far.
    pub fn queries(&self) -> Vec<Query> {
        lock(&self.queries).clone()
    }

    /// Waits until at least `n` calls were seen; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let ok = wait_until(PATIENCE, || lock(&self.seen).len() >= n).await;
        let seen = self.seen();
        assert!(
            ok,
            "expected {n} handler calls, saw {}: {seen:#?}",
            seen.len()
        );
        seen
    }

    /// Waits until the event `event_id` was handled.
    pub async fn wait_for_event(&self, event_id: &str) {
        let ok = wait_until(PATIENCE, || {
            lock(&self.seen)
                .iter()
                .any(|s| s.event_id.as_deref() == Some(event_id))
        })
        .await;
        assert!(ok, "event {event_id} never reached the handler");
    }

    fn record(&self, via: &'static str, ctx: &Context) -> HandlerResult {
        let ev = ctx.event();
        lock(&self.seen).push(Seen {
            via,
            kind: ev.kind(),
            event_type: ev.event_type().to_owned(),
            event_id: ev.event_id().map(|e| e.to_string()),
            room_id: ev.room_id().map(|r| r.to_string()),
            to_user_id: ev.to_user_id().map(|u| u.to_string()),
            raw: serde_json::from_str(ev.raw())?,
        });
        Ok(())
    }

    fn query(&self, method: &'static str, subject: Option<&str>, fields: Vec<(String, String)>) {
        lock(&self.queries).push(Query {
            method,
            subject: subject.map(str::to_owned),
            fields,
        });
    }
}

#[ghostkit::async_trait]
impl Handler for Recorder {
    async fn on_message(
        &self,
        ctx: &Context,
        _content: ghostkit::prelude::RoomMessageEventContent,
    ) -> HandlerResult {
        self.record("on_message", ctx)
    }
    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        self.record("on_state", ctx)
    }
    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        self.record("on_other", ctx)
    }
    async fn on_ephemeral(&self, ctx: &Context) -> HandlerResult {
        self.record("on_ephemeral", ctx)
    }
    async fn on_to_device(&self, ctx: &Context) -> HandlerResult {
        self.record("on_to_device", ctx)
    }
    async fn on_device_data(&self, ctx: &Context) -> HandlerResult {
        self.record("on_device_data", ctx)
    }

    async fn query_user(
        &self,
        _app: &AppContext,
        user_id: &ghostkit::prelude::UserId,
    ) -> Result<bool, HandlerError> {
        self.query("query_user", Some(user_id.as_str()), Vec::new());
        Ok(self.answers.user_exists)
    }

    async fn query_room_alias(
        &self,
        _app: &AppContext,
        alias: &ghostkit::ruma::common::RoomAliasId,
    ) -> Result<bool, HandlerError> {
        self.query("query_room_alias", Some(alias.as_str()), Vec::new());
        Ok(self.answers.alias_exists)
    }

    async fn thirdparty_protocol(
        &self,
        _app: &AppContext,
        protocol: &str,
    ) -> Result<Option<ghostkit::ruma::common::thirdparty::Protocol>, HandlerError> {
        self.query("thirdparty_protocol", Some(protocol), Vec::new());
        // An answer that is not a protocol is the handler's failure.
        Ok(self
            .answers
            .protocol
            .clone()
            .map(serde_json::from_value)
            .transpose()?)
    }

    async fn thirdparty_location(
        &self,
        _app: &AppContext,
        protocol: Option<&str>,
        fields: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<ghostkit::ruma::common::thirdparty::Location>, HandlerError> {
        let fields = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.query("thirdparty_location", protocol, fields);
        Ok(serde_json::from_value(Value::Array(
            self.answers.locations.clone(),
        ))?)
    }

    async fn thirdparty_user(
        &self,
        _app: &AppContext,
        protocol: Option<&str>,
        fields: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<ghostkit::ruma::common::thirdparty::User>, HandlerError> {
        let fields = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.query("thirdparty_user", protocol, fields);
        Ok(serde_json::from_value(Value::Array(
            self.answers.users.clone(),
        ))?)
    }
}

type EventFn = dyn Fn(Event) -> BoxFuture<'static, HandlerResult> + Send + Sync;

/// A handler whose `on_event` is a closure (router tests).
pub struct FnHandler(Box<EventFn>);

impl FnHandler {
    /// Wraps `f`, called with each event.
    pub fn new<F, Fut>(f: F) -> Arc<FnHandler>
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        Arc::new(FnHandler(Box::new(move |ev| Box::pin(f(ev)))))
    }
}

#[ghostkit::async_trait]
impl Handler for FnHandler {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        (self.0)(ctx.event().clone()).await
    }
}

pub fn ids(items: &[ghostkit::transaction::LogItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.event.event_id().unwrap().to_string())
        .collect()
}

pub async fn accept_new(
    log: &TransactionLog,
    txn_id: &str,
    body: &[u8],
) -> Vec<ghostkit::transaction::LogItem> {
    match log
        .accept(txn_id, bytes::Bytes::copy_from_slice(body))
        .await
        .unwrap()
    {
        ghostkit::transaction::Accepted::New(items) => items,
        ghostkit::transaction::Accepted::Duplicate => panic!("{txn_id} taken as a duplicate"),
    }
}
