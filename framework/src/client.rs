//! The as_token client: calls to the homeserver as the bot or any ghost.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#client-server-api-extensions>
//!
//! One shared connection pool; every call carries `Authorization: Bearer
//! <as_token>` and, to act as a ghost, `?user_id=`. Acting as a user outside
//! the registration's namespace is refused here, before any request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::registration::Registration;

/// An error answer from the homeserver (`{"errcode":…,"error":…}`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("homeserver answered {status} {errcode}: {error}")]
pub struct MatrixError {
    /// The HTTP status.
    pub status: u16,
    /// The Matrix error code (`M_FORBIDDEN`), or `M_UNKNOWN` when the body had none.
    pub errcode: String,
    /// The human-readable message.
    pub error: String,
    /// How long to wait before retrying, when rate-limited.
    pub retry_after_ms: Option<u64>,
    /// The whole body as received.
    pub body: String,
}

/// Everything that can go wrong with a call to the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The homeserver answered with an error.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// The request did not reach the homeserver, or the answer did not arrive.
    #[error("cannot reach the homeserver at {url}: {source}; check HOMESERVER_URL and that it is running")]
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
}

impl ClientError {
    /// The Matrix error code, when the homeserver sent one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            ClientError::Matrix(m) => Some(&m.errcode),
            _ => None,
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
    registration: Arc<Registration>,
    server_name: std::sync::OnceLock<String>,
    txn_counter: AtomicU64,
    txn_prefix: String,
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
    /// A client for the homeserver at `homeserver_url` (`http://127.0.0.1:8008`).
    pub fn new(homeserver_url: &str, registration: Arc<Registration>) -> Result<Self, ClientError> {
        let parsed = url::Url::parse(homeserver_url)
            .map_err(|_| ClientError::BadUrl(homeserver_url.into()))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(ClientError::BadUrl(homeserver_url.into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|source| ClientError::Http {
                url: homeserver_url.into(),
                source,
            })?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: homeserver_url.trim_end_matches('/').to_owned(),
                registration,
                server_name: std::sync::OnceLock::new(),
                txn_counter: AtomicU64::new(0),
                txn_prefix: format!("gk{nanos:x}"),
            }),
        })
    }

    /// The homeserver's base URL.
    pub fn homeserver_url(&self) -> &str {
        &self.inner.base
    }

    /// Sets the server name (learned by [`Client::whoami`] or configured).
    pub fn set_server_name(&self, name: &str) {
        let _ = self.inner.server_name.set(name.to_owned());
    }

    /// The bot's user ID, once the server name is known.
    pub fn bot_user_id(&self) -> Option<String> {
        self.inner
            .server_name
            .get()
            .map(|s| self.inner.registration.bot_user_id(s))
    }

    /// A fresh transaction ID for `PUT …/send/{type}/{txnId}`.
    pub fn new_txn_id(&self) -> String {
        let n = self.inner.txn_counter.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.inner.txn_prefix)
    }

    fn check_user(&self, user_id: &str) -> Result<(), ClientError> {
        let reg = &self.inner.registration;
        let is_bot = user_id
            .strip_prefix('@')
            .and_then(|s| s.split_once(':'))
            .map(|(l, _)| l)
            == Some(reg.sender_localpart.as_str());
        if is_bot || reg.is_user_in_namespace(user_id) {
            Ok(())
        } else {
            Err(ClientError::NotInNamespace {
                user_id: user_id.to_owned(),
            })
        }
    }

    /// Makes one call. `path` starts with `/_matrix/…`, already percent-encoded;
    /// `as_user` masquerades as that user (checked against the namespace).
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        as_user: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        if let Some(user) = as_user {
            self.check_user(user)?;
        }
        let url = format!("{}{}", self.inner.base, path);
        let mut req = self
            .inner
            .http
            .request(method, &url)
            .bearer_auth(&self.inner.registration.as_token)
            .query(query);
        if let Some(user) = as_user {
            req = req.query(&[("user_id", user)]);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let http_err = |source| ClientError::Http {
            url: url.clone(),
            source,
        };
        let resp = req.send().await.map_err(http_err)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|s| s * 1000);
        let bytes = resp.bytes().await.map_err(http_err)?;
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(MatrixError {
                status: status.as_u16(),
                errcode: v["errcode"].as_str().unwrap_or("M_UNKNOWN").to_owned(),
                error: v["error"].as_str().unwrap_or_default().to_owned(),
                retry_after_ms: v["retry_after_ms"].as_u64().or(retry_after),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
            .into());
        }
        let bytes = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|source| ClientError::Decode { url, source })
    }

    /// `GET /_matrix/client/v3/account/whoami`: who the as_token (or `as_user`) is.
    pub async fn whoami(&self, as_user: Option<&str>) -> Result<WhoAmI, ClientError> {
        self.request(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            &[],
            as_user,
            None,
        )
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
            .request(Method::POST, &path, &[], None, Some(&body))
            .await?;
        Ok(Duration::from_millis(pong.duration_ms))
    }

    /// `POST /_matrix/client/v3/register` with `m.login.application_service`;
    /// `M_USER_IN_USE` counts as success.
    pub async fn register(&self, localpart: &str) -> Result<(), ClientError> {
        let body = json!({
            "type": "m.login.application_service",
            "username": localpart,
            "inhibit_login": true,
        });
        match self
            .request::<Value>(
                Method::POST,
                "/_matrix/client/v3/register",
                &[],
                None,
                Some(&body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.errcode() == Some("M_USER_IN_USE") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /_matrix/client/v3/join/{roomIdOrAlias}`; returns the room ID.
    pub async fn join(
        &self,
        room_or_alias: &str,
        as_user: Option<&str>,
    ) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Joined {
            room_id: String,
        }
        let path = format!("/_matrix/client/v3/join/{}", encode(room_or_alias));
        let j: Joined = self
            .request(Method::POST, &path, &[], as_user, Some(&json!({})))
            .await?;
        Ok(j.room_id)
    }

    /// `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`; returns the event ID.
    pub async fn send_event(
        &self,
        room_id: &str,
        event_type: &str,
        content: &Value,
        as_user: Option<&str>,
    ) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Sent {
            event_id: String,
        }
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{}/{}",
            encode(room_id),
            encode(event_type),
            encode(&self.new_txn_id())
        );
        let s: Sent = self
            .request(Method::PUT, &path, &[], as_user, Some(content))
            .await?;
        Ok(s.event_id)
    }

    /// Sends an `m.text` message; returns the event ID.
    pub async fn send_text(
        &self,
        room_id: &str,
        body: &str,
        as_user: Option<&str>,
    ) -> Result<String, ClientError> {
        self.send_event(
            room_id,
            "m.room.message",
            &json!({"msgtype": "m.text", "body": body}),
            as_user,
        )
        .await
    }

    /// `POST /_matrix/client/v3/createRoom` with `body` as given; returns the room ID.
    pub async fn create_room(
        &self,
        body: &Value,
        as_user: Option<&str>,
    ) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Created {
            room_id: String,
        }
        let c: Created = self
            .request(
                Method::POST,
                "/_matrix/client/v3/createRoom",
                &[],
                as_user,
                Some(body),
            )
            .await?;
        Ok(c.room_id)
    }
}

/// Percent-encodes one path segment.
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
