//! Users: registering ghosts, whoami, presence, typing, receipts and read
//! markers, account data (global and per room), joined rooms.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#server-admin-style-permissions>,
//! <https://spec.matrix.org/latest/client-server-api/#client-config>
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::account::Presence;
//! use ghostkit::ruma::common::{event_id, room_id, user_id};
//! let ghost = client.as_user(user_id!("@_irc_alice:example.org"))?;
//! ghost.register().await?; // M_USER_IN_USE counts as done
//! let room = room_id!("!abc:example.org");
//! ghost.set_typing(room, true, Some(std::time::Duration::from_secs(5))).await?;
//! ghost.send_receipt(room, event_id!("$seen"), "m.read").await?;
//! ghost.set_presence(Presence::Online, Some("bridged")).await?;
//! ghost.set_account_data("org.example.settings", &serde_json::json!({"lang": "en"})).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use reqwest::Method;
use ruma_common::{EventId, OwnedRoomId, RoomId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{encode, AsUser, Client, ClientError, Request, WhoAmI};
use crate::ErrorCode;

/// `POST /register` for `localpart` with the as_token; `M_USER_IN_USE` is success.
pub(crate) async fn register_localpart(
    client: &Client,
    localpart: &str,
    device_id: Option<&str>,
) -> Result<(), ClientError> {
    let mut body = json!({
        "type": "m.login.application_service",
        "username": localpart,
        "inhibit_login": true,
    });
    if let Some(d) = device_id {
        body["device_id"] = d.into();
    }
    // Registering twice is harmless (M_USER_IN_USE): safe to repeat.
    let req = Request::new(Method::POST, "/_matrix/client/v3/register")
        .json(&body)?
        .idempotent(true);
    match client.execute::<Value>(req).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == Some(ErrorCode::UserInUse) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A user's presence state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Online.
    Online,
    /// Offline.
    Offline,
    /// Away.
    Unavailable,
}

/// A user's presence (`GET /presence/{userId}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PresenceStatus {
    /// The state.
    pub presence: Presence,
    /// Milliseconds since the user was last active.
    #[serde(default)]
    pub last_active_ago: Option<u64>,
    /// The status message.
    #[serde(default)]
    pub status_msg: Option<String>,
    /// Whether the user is active now.
    #[serde(default)]
    pub currently_active: Option<bool>,
}

impl AsUser {
    /// `POST /_matrix/client/v3/register` (`m.login.application_service`,
    /// `inhibit_login`): creates the acting ghost; `M_USER_IN_USE` (it exists)
    /// counts as success. The bot itself needs no registration.
    pub async fn register(&self) -> Result<(), ClientError> {
        let Some(user) = self.user_id() else {
            return Ok(());
        };
        let localpart = user.localpart();
        if localpart == self.client().registration().sender_localpart {
            return Ok(());
        }
        register_localpart(self.client(), localpart, self.device_id()).await
    }

    /// `GET /_matrix/client/v3/account/whoami`: who the homeserver thinks we are.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.call(self.request(Method::GET, "/_matrix/client/v3/account/whoami"))
            .await
    }

    /// `GET /_matrix/client/v3/joined_rooms`: the rooms the acting user is in.
    pub async fn joined_rooms(&self) -> Result<Vec<OwnedRoomId>, ClientError> {
        #[derive(Deserialize)]
        struct Joined {
            joined_rooms: Vec<OwnedRoomId>,
        }
        let j: Joined = self
            .call(self.request(Method::GET, "/_matrix/client/v3/joined_rooms"))
            .await?;
        Ok(j.joined_rooms)
    }

    /// `GET /_matrix/client/v3/presence/{userId}/status`.
    pub async fn presence(&self, user: &UserId) -> Result<PresenceStatus, ClientError> {
        let path = format!(
            "/_matrix/client/v3/presence/{}/status",
            encode(user.as_str())
        );
        self.call(self.request(Method::GET, path)).await
    }

    /// `PUT /_matrix/client/v3/presence/{userId}/status`: the acting user's presence.
    pub async fn set_presence(
        &self,
        presence: Presence,
        status_msg: Option<&str>,
    ) -> Result<(), ClientError> {
        let me = self.me()?;
        let path = format!("/_matrix/client/v3/presence/{}/status", encode(me.as_str()));
        let mut body = json!({ "presence": presence });
        if let Some(m) = status_msg {
            body["status_msg"] = m.into();
        }
        let req = self.request(Method::PUT, path).json(&body)?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}`: starts (for
    /// `timeout`, default 30 s) or stops the typing notice.
    pub async fn set_typing(
        &self,
        room: &RoomId,
        typing: bool,
        timeout: Option<Duration>,
    ) -> Result<(), ClientError> {
        let me = self.me()?;
        let path = format!(
            "/_matrix/client/v3/rooms/{}/typing/{}",
            encode(room.as_str()),
            encode(me.as_str())
        );
        let mut body = json!({ "typing": typing });
        if typing {
            body["timeout"] =
                (timeout.unwrap_or(Duration::from_secs(30)).as_millis() as u64).into();
        }
        let req = self.request(Method::PUT, path).json(&body)?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}`:
    /// a read receipt (`m.read`, `m.read.private`).
    pub async fn send_receipt(
        &self,
        room: &RoomId,
        event_id: &EventId,
        receipt_type: &str,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/receipt/{}/{}",
            encode(room.as_str()),
            encode(receipt_type),
            encode(event_id.as_str())
        );
        let req = self
            .request(Method::POST, path)
            .json(&json!({}))?
            .idempotent(true);
        self.call::<Value>(req).await.map(drop)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/read_markers`: the fully-read
    /// marker and, optionally, read receipts.
    pub async fn set_read_markers(
        &self,
        room: &RoomId,
        fully_read: &EventId,
        read: Option<&EventId>,
        read_private: Option<&EventId>,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/read_markers",
            encode(room.as_str())
        );
        let mut body = Map::new();
        body.insert("m.fully_read".into(), fully_read.as_str().into());
        if let Some(r) = read {
            body.insert("m.read".into(), r.as_str().into());
        }
        if let Some(r) = read_private {
            body.insert("m.read.private".into(), r.as_str().into());
        }
        let req = self
            .request(Method::POST, path)
            .json(&body)?
            .idempotent(true);
        self.call::<Value>(req).await.map(drop)
    }

    fn account_data_path(
        &self,
        room: Option<&RoomId>,
        event_type: &str,
    ) -> Result<String, ClientError> {
        let me = self.me()?;
        Ok(match room {
            None => format!(
                "/_matrix/client/v3/user/{}/account_data/{}",
                encode(me.as_str()),
                encode(event_type)
            ),
            Some(r) => format!(
                "/_matrix/client/v3/user/{}/rooms/{}/account_data/{}",
                encode(me.as_str()),
                encode(r.as_str()),
                encode(event_type)
            ),
        })
    }

    /// `GET /_matrix/client/v3/user/{userId}/account_data/{type}`; `None` when unset.
    pub async fn account_data<T: DeserializeOwned>(
        &self,
        event_type: &str,
    ) -> Result<Option<T>, ClientError> {
        let path = self.account_data_path(None, event_type)?;
        not_found_is_none(self.call(self.request(Method::GET, path)).await)
    }

    /// `PUT /_matrix/client/v3/user/{userId}/account_data/{type}`.
    pub async fn set_account_data(
        &self,
        event_type: &str,
        content: &(impl Serialize + ?Sized),
    ) -> Result<(), ClientError> {
        let path = self.account_data_path(None, event_type)?;
        let req = self.request(Method::PUT, path).json(content)?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`;
    /// `None` when unset.
    pub async fn room_account_data<T: DeserializeOwned>(
        &self,
        room: &RoomId,
        event_type: &str,
    ) -> Result<Option<T>, ClientError> {
        let path = self.account_data_path(Some(room), event_type)?;
        not_found_is_none(self.call(self.request(Method::GET, path)).await)
    }

    /// `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}`.
    pub async fn set_room_account_data(
        &self,
        room: &RoomId,
        event_type: &str,
        content: &(impl Serialize + ?Sized),
    ) -> Result<(), ClientError> {
        let path = self.account_data_path(Some(room), event_type)?;
        let req = self.request(Method::PUT, path).json(content)?;
        self.call::<Value>(req).await.map(drop)
    }
}

fn not_found_is_none<T>(r: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == Some(ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
