//! The as_token client: calls to the homeserver as the bot or any ghost.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#client-server-api-extensions>
//!
//! One shared connection pool; every call carries `Authorization: Bearer
//! <as_token>` and, to act as a ghost, `?user_id=`. Acting as a user outside
//! the registration's namespace is refused here, before any request.
//!
//! The API is grouped by area, one module each: [`rooms`], [`messages`],
//! [`timeline`], [`relations`], [`state`], [`members`], [`profile`],
//! [`account`], [`directory`], [`media`] and [`discovery`]. Their methods live
//! on [`AsUser`], the client bound to one user (and optionally a device and a
//! timestamp), made by [`Client::as_bot`] or [`Client::as_user`]. Failed calls
//! are retried as [`RetryPolicy`] says ([`retry`]).
//!
//! # Why the request and response bodies are written here
//!
//! The bodies are small serde types of this crate, not those of
//! `ruma-client-api`, because that crate would be the largest item of a
//! clean build: measured on this project's 2-core machine with
//! `cargo build -j 1 --timings` (dev profile, ruma-common 0.20), it took
//! 61 s to compile, against 40 s for ruma-events and 16 s for ruma-common,
//! while the client uses a few dozen of its hundreds of endpoints.
//! `ruma-appservice-api` (3 s) would add little, but the server side reads
//! transactions lazily (`event/head.rs`) where its types parse whole
//! events. The typed parts that matter to a bot come from ruma all the
//! same: IDs, event contents, `ErrorKind`-like error codes
//! ([`ErrorCode`](crate::ErrorCode)) and third-party answers.
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::ruma::common::{room_id, user_id};
//! let room = room_id!("!abc:example.org");
//! // As the bot:
//! client.as_bot().send_text(room, "hello").await?;
//! // As a ghost, with an imported timestamp:
//! let ghost = client.as_user(user_id!("@_irc_alice:example.org"))?.with_ts(1_700_000_000_000);
//! ghost.send_text(room, "hello from the past").await?;
//! # Ok(()) }
//! ```

pub mod account;
mod as_user;
pub mod directory;
pub mod discovery;
pub mod media;
pub mod members;
pub mod messages;
pub mod profile;
pub mod relations;
mod request;
pub mod retry;
pub mod rooms;
pub mod state;
pub mod timeline;
pub mod txn;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use ruma_common::{OwnedUserId, UserId};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::registration::Registration;
use crate::ErrorCode;

pub use as_user::AsUser;
pub use request::{Request, RequestBody};
pub use reqwest::Method;
pub use retry::{RetryEvent, RetryHook, RetryPolicy, RetryReason};

/// An error answer from the homeserver (`{"errcode":…,"error":…}`).
///
/// ```
/// let e = ghostkit::MatrixError::from_response(429, None, br#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":2000}"#);
/// assert_eq!(e.errcode, "M_LIMIT_EXCEEDED");
/// assert_eq!(e.retry_after_ms, Some(2000));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("homeserver answered {status} {errcode}: {error}")]
pub struct MatrixError {
    /// The HTTP status.
    pub status: u16,
    /// The Matrix error code (`M_FORBIDDEN`), or `M_UNKNOWN` when the body had none.
    pub errcode: String,
    /// The human-readable message.
    pub error: String,
    /// How long to wait before retrying, when rate-limited (`retry_after_ms`
    /// in the body, else the `Retry-After` header).
    pub retry_after_ms: Option<u64>,
    /// The whole body as received.
    pub body: String,
}

impl MatrixError {
    /// The error code as a type.
    pub fn kind(&self) -> ErrorCode {
        ErrorCode::parse(&self.errcode)
    }

    /// Reads an error answer: `status`, the `Retry-After` header if any
    /// (seconds, or an HTTP date), and the body (JSON or not).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
    /// let e = ghostkit::MatrixError::from_response(503, Some(&in_a_minute), b"");
    /// let ms = e.retry_after_ms.unwrap();
    /// assert!((55_000..=60_000).contains(&ms), "{ms}");
    /// let e = ghostkit::MatrixError::from_response(429, Some("7"), b"");
    /// assert_eq!(e.retry_after_ms, Some(7_000));
    /// ```
    pub fn from_response(status: u16, retry_after_header: Option<&str>, body: &[u8]) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let header_ms = retry_after_header.and_then(|s| {
            let s = s.trim();
            match s.parse::<u64>() {
                Ok(secs) => Some(secs.saturating_mul(1000)),
                // A date: wait until then (not at all if it passed).
                Err(_) => httpdate::parse_http_date(s).ok().map(|at| {
                    at.duration_since(std::time::SystemTime::now())
                        .map(|d| d.as_millis().try_into().unwrap_or(u64::MAX))
                        .unwrap_or(0)
                }),
            }
        });
        MatrixError {
            status,
            errcode: v["errcode"].as_str().unwrap_or("M_UNKNOWN").to_owned(),
            error: v["error"].as_str().unwrap_or_default().to_owned(),
            retry_after_ms: v["retry_after_ms"].as_u64().or(header_ms),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }
}

/// Everything that can go wrong with a call to the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The homeserver answered with an error.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// The request did not reach the homeserver, or the answer did not arrive.
    #[error("cannot reach the homeserver at {url}: {source}; check GHOSTKIT_HOMESERVER_URL and that it is running")]
    Http {
        /// The URL called (without the token).
        url: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the JSON expected.
    #[error("unexpected answer from {url}: {source}")]
    Decode {
        /// The URL called.
        url: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A request body could not be serialized to JSON.
    #[error("cannot serialize the request body to JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// Refused locally: the user is not the bot nor in the users namespace.
    #[error("cannot act as {user_id}: not the bot and not in the registration's users namespace; add a matching `namespaces.users` regex")]
    NotInNamespace {
        /// The user asked for.
        user_id: String,
    },
    /// The homeserver URL is not a valid base URL.
    #[error("homeserver URL `{0}` is not valid; give it like `http://127.0.0.1:8008`")]
    BadUrl(String),
    /// An event without a room was asked to reply in its room.
    #[error("this event has no room to reply in")]
    NoRoom,
    /// An argument cannot be sent as given.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl ClientError {
    /// The Matrix error code as sent, when the homeserver sent one (for
    /// logs; compare [`ClientError::kind`]).
    pub fn errcode(&self) -> Option<&str> {
        match self {
            ClientError::Matrix(m) => Some(&m.errcode),
            _ => None,
        }
    }

    /// The Matrix error code, when the homeserver sent one.
    ///
    /// ```
    /// use ghostkit::{ClientError, ErrorCode, MatrixError};
    /// let e = ClientError::from(MatrixError::from_response(404, None, br#"{"errcode":"M_NOT_FOUND"}"#));
    /// assert_eq!(e.kind(), Some(ErrorCode::NotFound));
    /// ```
    pub fn kind(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Matrix(m) => Some(m.kind()),
            _ => None,
        }
    }

    /// Whether the homeserver refused the call as not allowed (`403
    /// M_FORBIDDEN`): not a member, not registered, no power.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ClientError::Matrix(m) if m.status == 403 && m.kind() == ErrorCode::Forbidden)
    }

    /// Whether the homeserver could not be reached or could not serve the
    /// call for now: no connection, no answer in time, a broken
    /// connection, `500`, `502`, `503`, `504` or `429`. Such a call may
    /// work later as it is; the router pauses the room of a handler that
    /// failed this way and calls it again.
    ///
    /// ```
    /// let busy = ghostkit::MatrixError::from_response(503, None, b"{}");
    /// assert!(ghostkit::client::ClientError::from(busy).is_unavailable());
    /// let refused = ghostkit::MatrixError::from_response(403, None, br#"{"errcode":"M_FORBIDDEN"}"#);
    /// assert!(!ghostkit::client::ClientError::from(refused).is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        match self {
            ClientError::Matrix(m) => matches!(m.status, 429 | 500 | 502..=504),
            ClientError::Http { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            _ => false,
        }
    }

    /// The HTTP status, when the homeserver answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Matrix(m) => Some(m.status),
            _ => None,
        }
    }
}

/// How the client talks to the homeserver.
///
/// ```
/// use std::time::Duration;
/// let config = ghostkit::client::ClientConfig {
///     request_timeout: Duration::from_secs(30),
///     ..Default::default()
/// };
/// assert_eq!(config.retry.max_total, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// When and how failed calls are tried again.
    pub retry: RetryPolicy,
    /// Longest wait for one attempt's answer.
    pub request_timeout: Duration,
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// Idle connections kept open to the homeserver.
    pub pool_max_idle_per_host: usize,
    /// Called before each retry (metrics, tests); every retry is also logged.
    pub on_retry: Option<RetryHook>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            pool_max_idle_per_host: 256,
            on_retry: None,
        }
    }
}

/// The as_token client; cheap to clone (one shared connection pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    registration: Arc<Registration>,
    server_name: std::sync::OnceLock<ruma_common::OwnedServerName>,
    bot_user_id: std::sync::OnceLock<OwnedUserId>,
    config: ClientConfig,
    metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("homeserver", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// Answer of `GET /account/whoami`.
#[derive(Debug, Clone, Deserialize)]
pub struct WhoAmI {
    /// The user the token (and `user_id`) acts as.
    pub user_id: String,
    /// The device, if any.
    pub device_id: Option<String>,
}

impl Client {
    /// A client for the homeserver at `homeserver_url` (`http://127.0.0.1:8008`)
    /// with the default [`ClientConfig`].
    pub fn new(homeserver_url: &str, registration: Arc<Registration>) -> Result<Self, ClientError> {
        Self::with_config(homeserver_url, registration, ClientConfig::default())
    }

    /// A client with its own timeouts and retry policy.
    ///
    /// ```no_run
    /// # fn demo(reg: std::sync::Arc<ghostkit::Registration>) -> Result<(), ghostkit::ClientError> {
    /// use ghostkit::client::{Client, ClientConfig, RetryPolicy};
    /// let config = ClientConfig {
    ///     retry: RetryPolicy { max_attempts: 3, ..Default::default() },
    ///     ..Default::default()
    /// };
    /// let client = Client::with_config("http://127.0.0.1:8008", reg, config)?;
    /// # Ok(()) }
    /// ```
    pub fn with_config(
        homeserver_url: &str,
        registration: Arc<Registration>,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let parsed = url::Url::parse(homeserver_url)
            .map_err(|_| ClientError::BadUrl(homeserver_url.into()))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(ClientError::BadUrl(homeserver_url.into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .build()
            .map_err(|source| ClientError::Http {
                url: homeserver_url.into(),
                source,
            })?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", registration.as_token))
            .map_err(|_| {
                ClientError::InvalidArgument(
                    "the registration's as_token holds characters not allowed in a header".into(),
                )
            })?;
        auth.set_sensitive(true);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: homeserver_url.trim_end_matches('/').to_owned(),
                auth,
                registration,
                server_name: std::sync::OnceLock::new(),
                bot_user_id: std::sync::OnceLock::new(),
                config,
                metrics: Arc::new(crate::metrics::Metrics::new()),
            }),
        })
    }

    /// The homeserver's base URL.
    pub fn homeserver_url(&self) -> &str {
        &self.inner.base
    }

    /// The registration this client acts for.
    pub fn registration(&self) -> &Registration {
        &self.inner.registration
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The metrics of this client's appservice (made with the client; the
    /// requests it makes are counted there): see [`crate::metrics`].
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// Sets the server name (learned by [`Client::whoami`] or configured).
    pub fn set_server_name(&self, name: &ruma_common::ServerName) {
        if let Ok(bot) = self.inner.registration.bot_user_id(name) {
            let _ = self.inner.bot_user_id.set(bot);
        }
        let _ = self.inner.server_name.set(name.to_owned());
    }

    /// The server name, once set.
    pub fn server_name(&self) -> Option<&ruma_common::ServerName> {
        self.inner.server_name.get().map(|s| &**s)
    }

    /// The bot's user ID, once the server name is known (and when the
    /// registration's `sender_localpart` makes one).
    pub fn bot_user_id(&self) -> Option<&UserId> {
        self.inner.bot_user_id.get().map(|u| &**u)
    }

    /// A fresh, random transaction ID for `PUT …/send/{type}/{txnId}`, the
    /// same inside a handler or not; sends use [`Client::txn_id_for`].
    pub fn new_txn_id(&self) -> String {
        txn::fresh()
    }

    /// The transaction ID of the next `PUT …/{txnId}` made as `user_id`:
    /// inside a handler, derived from the event handled, the user and the
    /// request's ordinal, so a replayed handler sends the same IDs (see
    /// [`txn`]); elsewhere fresh.
    pub fn txn_id_for(&self, user_id: &UserId) -> String {
        txn::derive(&self.inner.registration.id, user_id.as_str())
    }

    /// Whether `user_id` is the appservice's own user (on the server name,
    /// once known; any server before) or in the users namespace, as Synapse
    /// decides masquerading ([`Registration::may_act_as`]).
    pub fn may_act_as(&self, user_id: &UserId) -> bool {
        self.inner
            .registration
            .may_act_as(user_id.as_str(), self.server_name().map(|s| s.as_str()))
    }

    fn check_user(&self, user_id: &UserId) -> Result<(), ClientError> {
        if self.may_act_as(user_id) {
            Ok(())
        } else {
            Err(ClientError::NotInNamespace {
                user_id: user_id.to_string(),
            })
        }
    }

    /// The client acting as the appservice's bot user.
    pub fn as_bot(&self) -> AsUser {
        AsUser {
            client: self.clone(),
            user_id: None,
            device_id: None,
            ts: None,
        }
    }

    /// The client acting as `user_id` (a ghost, or the bot). Refused with
    /// [`ClientError::NotInNamespace`], before any request, when the user is
    /// neither the bot nor in the users namespace.
    ///
    /// ```no_run
    /// # fn demo(client: ghostkit::Client) {
    /// use ghostkit::ruma::common::user_id;
    /// let err = client.as_user(user_id!("@someone_else:example.org")).unwrap_err();
    /// assert!(matches!(err, ghostkit::ClientError::NotInNamespace { .. }));
    /// # }
    /// ```
    pub fn as_user(&self, user_id: &UserId) -> Result<AsUser, ClientError> {
        self.check_user(user_id)?;
        Ok(AsUser {
            client: self.clone(),
            user_id: Some(user_id.to_owned()),
            device_id: None,
            ts: None,
        })
    }

    /// `GET /_matrix/client/v3/account/whoami` for the as_token itself
    /// (no `user_id`): how the appservice learns the server name before it
    /// knows its bot's ID. Afterwards, [`AsUser::whoami`] asks as a user.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.execute(Request::new(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
        ))
        .await
    }

    /// `POST /_matrix/client/v1/appservice/{appserviceId}/ping`: asks the
    /// homeserver to ping us; returns its measured round trip.
    pub async fn ping(&self, transaction_id: Option<&str>) -> Result<Duration, ClientError> {
        #[derive(Deserialize)]
        struct Pong {
            duration_ms: u64,
        }
        let path = format!(
            "/_matrix/client/v1/appservice/{}/ping",
            encode(&self.inner.registration.id)
        );
        let body = match transaction_id {
            Some(t) => json!({ "transaction_id": t }),
            None => json!({}),
        };
        let pong: Pong = self
            .execute(Request::new(Method::POST, path).json(&body)?)
            .await?;
        Ok(Duration::from_millis(pong.duration_ms))
    }

    /// `POST /_matrix/client/v3/register` with `m.login.application_service`;
    /// `M_USER_IN_USE` counts as success.
    pub async fn register(&self, localpart: &str) -> Result<(), ClientError> {
        account::register_localpart(self, localpart, None).await
    }
}

/// Percent-encodes one path segment.
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
