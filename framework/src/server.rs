//! The actix-web routes the homeserver calls, their auth and error answers.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/>
//!
//! [`configure`] adds the routes to any actix `App`; it adds no catch-all
//! outside `/_matrix/app`, so a bot's own routes keep working beside them.
//! [`configure_metrics`] adds `GET /metrics`, which asks for no token.

mod auth;
mod body;
mod errors;
mod metrics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use ruma_common::{RoomAliasId, UserId};
use serde_json::json;

use crate::bot::{AppContext, Handler, HandlerError};
use crate::router::Router;
use crate::transaction::{AcceptError, Accepted, TransactionError, TransactionLog};
use crate::ErrorCode;

pub use errors::matrix_error;
pub(crate) use metrics::MetricsListener;
pub use metrics::{configure_metrics, render_metrics};

/// Options of the HTTP side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (`413 M_TOO_LARGE` past it).
    pub max_body_bytes: usize,
    /// Also serve the legacy unprefixed routes (`/transactions/…`, `/users/…`,
    /// `/rooms/…`, `/_matrix/app/unstable/thirdparty/…`).
    pub legacy_routes: bool,
    /// Longest time a request body may take to arrive in full (`408` past
    /// it), so that slow senders cannot hold memory and connections.
    pub body_timeout: std::time::Duration,
    /// Longest transaction ID accepted, in bytes (`400 M_INVALID_PARAM`
    /// past it). The spec sets none; Synapse's are a few digits.
    pub max_txn_id_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            // 100 events, 100 ephemeral and 100 to-device items of up to 64 KiB each.
            max_body_bytes: 32 * 1024 * 1024,
            legacy_routes: true,
            body_timeout: std::time::Duration::from_secs(60),
            max_txn_id_bytes: 1024,
        }
    }
}

/// What the routes share.
pub struct ServerState {
    pub(crate) app: AppContext,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) log: Arc<TransactionLog>,
    pub(crate) router: Router,
    pub(crate) config: ServerConfig,
    pub(crate) ready: AtomicBool,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState").finish_non_exhaustive()
    }
}

impl ServerState {
    /// Puts the server's parts together.
    pub fn new(
        app: AppContext,
        handler: Arc<dyn Handler>,
        log: Arc<TransactionLog>,
        router: Router,
        config: ServerConfig,
    ) -> Arc<Self> {
        Arc::new(ServerState {
            app,
            handler,
            log,
            router,
            config,
            ready: AtomicBool::new(true),
        })
    }

    /// Marks the appservice (not) ready for `/health/ready`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// The router, for its counters.
    pub fn router(&self) -> &Router {
        &self.router
    }
}

/// Adds the appservice routes to an actix app or scope.
///
/// ```no_run
/// # async fn demo(state: std::sync::Arc<ghostkit::server::ServerState>) -> std::io::Result<()> {
/// use actix_web::{web, App, HttpServer};
/// HttpServer::new(move || {
///     App::new()
///         .configure(ghostkit::server::configure(state.clone()))
///         .route("/my/own/route", web::get().to(|| async { "still mine" }))
/// })
/// .bind(("127.0.0.1", 9000))?
/// .run()
/// .await
/// # }
/// ```
pub fn configure(state: Arc<ServerState>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let legacy = state.config.legacy_routes;
        cfg.app_data(web::Data::from(state.clone()));
        cfg.service(resource("/health/live", web::get().to(live)));
        cfg.service(resource("/health/ready", web::get().to(ready)));
        if legacy {
            cfg.service(resource(
                "/transactions/{txn_id}",
                web::put().to(put_transaction),
            ));
            cfg.service(resource("/users/{user_id}", web::get().to(get_user)));
            cfg.service(resource(
                "/rooms/{room_alias}",
                web::get().to(get_room_alias),
            ));
        }
        let mut app_scope = web::scope("/_matrix/app")
            .service(resource(
                "/v1/transactions/{txn_id}",
                web::put().to(put_transaction),
            ))
            .service(resource("/v1/users/{user_id}", web::get().to(get_user)))
            .service(resource(
                "/v1/rooms/{room_alias}",
                web::get().to(get_room_alias),
            ))
            .service(resource("/v1/ping", web::post().to(post_ping)));
        let mut prefixes = vec!["/v1/thirdparty"];
        if legacy {
            prefixes.push("/unstable/thirdparty");
        }
        for p in prefixes {
            app_scope = app_scope
                .service(resource(
                    &format!("{p}/protocol/{{protocol}}"),
                    web::get().to(get_protocol),
                ))
                .service(resource(
                    &format!("{p}/location/{{protocol}}"),
                    web::get().to(get_location),
                ))
                .service(resource(
                    &format!("{p}/user/{{protocol}}"),
                    web::get().to(get_tp_user),
                ))
                .service(resource(
                    &format!("{p}/location"),
                    web::get().to(get_location_reverse),
                ))
                .service(resource(
                    &format!("{p}/user"),
                    web::get().to(get_tp_user_reverse),
                ));
        }
        cfg.service(app_scope.default_service(web::to(unrecognized)));
    }
}

fn resource(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(|| async {
            matrix_error(
                405,
                ErrorCode::Unrecognized,
                "method not allowed on this endpoint",
            )
        }))
}

/// `404 M_UNRECOGNIZED`: the default service of `/_matrix/app` and of [`crate::Appservice::serve`].
pub async fn unrecognized() -> HttpResponse {
    matrix_error(404, ErrorCode::Unrecognized, "unrecognized request")
}

type State = web::Data<ServerState>;

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "live"}))
}

async fn ready(state: State) -> HttpResponse {
    if !state.app.store().healthy() {
        // Transactions still go to the log; handlers wait for the store.
        return HttpResponse::ServiceUnavailable().json(json!({
            "status": "store_unavailable",
            "backlog": state.router.backlog(),
        }));
    }
    if state.ready.load(Ordering::Acquire) {
        HttpResponse::Ok().json(json!({
            "status": "ready",
            "backlog": state.router.backlog(),
            "handled": state.router.stats().handled.load(Ordering::Relaxed),
            "failed": state.router.stats().failed.load(Ordering::Relaxed),
            "pending_transactions": state.log.pending_transactions(),
        }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({"status": "starting"}))
    }
}

/// `PUT /_matrix/app/v1/transactions/{txnId}`
async fn put_transaction(
    _auth: auth::Authorized,
    req: HttpRequest,
    txn_id: web::Path<String>,
    payload: web::Payload,
    state: State,
) -> HttpResponse {
    if txn_id.len() > state.config.max_txn_id_bytes {
        return matrix_error(
            400,
            ErrorCode::InvalidParam,
            &format!(
                "the transaction ID is {} bytes long; at most {} are accepted",
                txn_id.len(),
                state.config.max_txn_id_bytes
            ),
        );
    }
    let body = match body::read(&req, payload, &state.config).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let metrics = state.app.metrics();
    metrics.transactions_received.inc();
    match state.log.accept(&txn_id, body).await {
        Ok(Accepted::Duplicate) => {
            metrics.transactions_deduplicated.inc();
            HttpResponse::Ok().json(json!({}))
        }
        Ok(Accepted::New(items)) => {
            metrics.events_received.inc_by(items.len() as u64);
            let admission = state.router.admit(items.len()).await;
            state.router.dispatch(items, admission);
            HttpResponse::Ok().json(json!({}))
        }
        Err(AcceptError::Parse(TransactionError::NotJson(e))) => {
            matrix_error(400, ErrorCode::NotJson, &e)
        }
        Err(AcceptError::Parse(TransactionError::BadJson(e))) => {
            matrix_error(400, ErrorCode::BadJson, &e)
        }
        Err(AcceptError::Store(e)) => {
            tracing::error!(error = %e, txn_id = %txn_id, "cannot store transaction");
            matrix_error(
                500,
                ErrorCode::Unknown,
                "cannot store the transaction; retry later",
            )
        }
    }
}

/// `GET /_matrix/app/v1/users/{userId}`
async fn get_user(
    _auth: auth::Authorized,
    user_id: web::Path<String>,
    state: State,
) -> HttpResponse {
    let Ok(user) = <&UserId>::try_from(user_id.as_str()) else {
        return matrix_error(400, ErrorCode::InvalidParam, "not a valid user ID");
    };
    if !state.app.registration().is_user_in_namespace(user.as_str()) {
        return matrix_error(
            404,
            ErrorCode::NotFound,
            "user is not in this appservice's namespace",
        );
    }
    match state.handler.query_user(&state.app, user).await {
        Ok(true) => HttpResponse::Ok().json(json!({})),
        Ok(false) => matrix_error(404, ErrorCode::NotFound, "no such user"),
        Err(e) => {
            tracing::error!(user_id = %user, error = %e, "user query handler failed");
            matrix_error(500, ErrorCode::Unknown, "user query failed")
        }
    }
}

/// `GET /_matrix/app/v1/rooms/{roomAlias}`
async fn get_room_alias(
    _auth: auth::Authorized,
    alias: web::Path<String>,
    state: State,
) -> HttpResponse {
    let Ok(alias) = <&RoomAliasId>::try_from(alias.as_str()) else {
        return matrix_error(400, ErrorCode::InvalidParam, "not a valid room alias");
    };
    if !state
        .app
        .registration()
        .is_alias_in_namespace(alias.as_str())
    {
        return matrix_error(
            404,
            ErrorCode::NotFound,
            "alias is not in this appservice's namespace",
        );
    }
    match state.handler.query_room_alias(&state.app, alias).await {
        Ok(true) => HttpResponse::Ok().json(json!({})),
        Ok(false) => matrix_error(404, ErrorCode::NotFound, "no such room alias"),
        Err(e) => {
            tracing::error!(alias = %alias, error = %e, "room alias query handler failed");
            matrix_error(500, ErrorCode::Unknown, "room alias query failed")
        }
    }
}

/// `POST /_matrix/app/v1/ping`
async fn post_ping(
    _auth: auth::Authorized,
    req: HttpRequest,
    payload: web::Payload,
    state: State,
) -> HttpResponse {
    let limits = ServerConfig {
        max_body_bytes: 64 * 1024,
        ..state.config.clone()
    };
    let body = match body::read(&req, payload, &limits).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if !body.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Err(e) => return matrix_error(400, ErrorCode::NotJson, &e.to_string()),
            Ok(v) if !v.is_object() => {
                return matrix_error(400, ErrorCode::BadJson, "body must be an object")
            }
            Ok(v) => {
                tracing::debug!(transaction_id = ?v.get("transaction_id"), "pinged by the homeserver")
            }
        }
    }
    HttpResponse::Ok().json(json!({}))
}

fn query_fields(req: &HttpRequest) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "access_token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn found_list<T: serde::Serialize>(answer: Result<Vec<T>, HandlerError>) -> HttpResponse {
    match answer {
        Ok(list) if list.is_empty() => matrix_error(404, ErrorCode::NotFound, "no results"),
        Ok(list) => HttpResponse::Ok().json(list),
        Err(e) => lookup_failed(&e),
    }
}

/// `500 M_UNKNOWN` for a lookup whose handler failed (logged with its error).
fn lookup_failed(e: &HandlerError) -> HttpResponse {
    tracing::error!(error = %e, "third-party lookup failed");
    matrix_error(500, ErrorCode::Unknown, "the lookup failed")
}

/// `GET /_matrix/app/v1/thirdparty/protocol/{protocol}`
async fn get_protocol(
    _auth: auth::Authorized,
    protocol: web::Path<String>,
    state: State,
) -> HttpResponse {
    match state
        .handler
        .thirdparty_protocol(&state.app, &protocol)
        .await
    {
        Ok(Some(v)) => HttpResponse::Ok().json(v),
        Ok(None) => matrix_error(404, ErrorCode::NotFound, "no such protocol"),
        Err(e) => lookup_failed(&e),
    }
}

/// `GET /_matrix/app/v1/thirdparty/location/{protocol}`
async fn get_location(
    _auth: auth::Authorized,
    req: HttpRequest,
    protocol: web::Path<String>,
    state: State,
) -> HttpResponse {
    let fields = query_fields(&req);
    found_list(
        state
            .handler
            .thirdparty_location(&state.app, Some(&protocol), &fields)
            .await,
    )
}

/// `GET /_matrix/app/v1/thirdparty/user/{protocol}`
async fn get_tp_user(
    _auth: auth::Authorized,
    req: HttpRequest,
    protocol: web::Path<String>,
    state: State,
) -> HttpResponse {
    let fields = query_fields(&req);
    found_list(
        state
            .handler
            .thirdparty_user(&state.app, Some(&protocol), &fields)
            .await,
    )
}

/// `GET /_matrix/app/v1/thirdparty/location?alias=`
async fn get_location_reverse(
    _auth: auth::Authorized,
    req: HttpRequest,
    state: State,
) -> HttpResponse {
    let fields = query_fields(&req);
    if !fields.contains_key("alias") {
        return matrix_error(
            400,
            ErrorCode::MissingParam,
            "the `alias` query parameter is required",
        );
    }
    found_list(
        state
            .handler
            .thirdparty_location(&state.app, None, &fields)
            .await,
    )
}

/// `GET /_matrix/app/v1/thirdparty/user?userid=`
async fn get_tp_user_reverse(
    _auth: auth::Authorized,
    req: HttpRequest,
    state: State,
) -> HttpResponse {
    let fields = query_fields(&req);
    if !fields.contains_key("userid") {
        return matrix_error(
            400,
            ErrorCode::MissingParam,
            "the `userid` query parameter is required",
        );
    }
    found_list(
        state
            .handler
            .thirdparty_user(&state.app, None, &fields)
            .await,
    )
}
