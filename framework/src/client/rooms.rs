//! Rooms: create, join, knock, leave, forget, invite, kick, ban, unban,
//! redact, upgrade.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#rooms>
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::rooms::{CreateRoom, RoomPreset};
//! use ghostkit::ruma::common::user_id;
//! let ghost = client.as_user(user_id!("@_irc_alice:example.org"))?;
//! let room = ghost
//!     .create_room(&CreateRoom {
//!         preset: Some(RoomPreset::PublicChat),
//!         name: Some("#rust on IRC".into()),
//!         invite: vec![user_id!("@bob:example.org").to_owned()],
//!         ..Default::default()
//!     })
//!     .await?;
//! ghost.invite(&room, user_id!("@carol:example.org"), Some("welcome")).await?;
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, RoomOrAliasId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::directory::Visibility;
use super::{encode, AsUser, ClientError};

/// `createRoom`'s presets: the initial join rules, history visibility and powers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomPreset {
    /// Invite only; invitees can see history.
    PrivateChat,
    /// Invitees get the creator's power level.
    TrustedPrivateChat,
    /// Anyone can join.
    PublicChat,
}

/// A state event to put in a new room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialStateEvent {
    /// The event type (`m.room.topic`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The state key (often empty).
    #[serde(default)]
    pub state_key: String,
    /// The content.
    pub content: Value,
}

impl InitialStateEvent {
    /// A state event of `event_type` with `state_key` and `content`.
    pub fn new(
        event_type: impl Into<String>,
        state_key: impl Into<String>,
        content: Value,
    ) -> Self {
        InitialStateEvent {
            event_type: event_type.into(),
            state_key: state_key.into(),
            content,
        }
    }
}

/// The body of `POST /createRoom`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateRoom {
    /// The preset (join rules, history visibility, power levels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<RoomPreset>,
    /// Whether to publish the room in the server's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// Localpart of an alias to create (`foo` for `#foo:server`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_alias_name: Option<String>,
    /// The room name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The room topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Users to invite.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invite: Vec<OwnedUserId>,
    /// Marks the invites as direct chats.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_direct: bool,
    /// The room version; the server's default when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_version: Option<String>,
    /// State events to put in the room (after the preset's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub initial_state: Vec<InitialStateEvent>,
    /// Merged over the default `m.room.power_levels` content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_level_content_override: Option<Value>,
    /// Extra `m.room.create` content (e.g. `{"type": "m.space"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_content: Option<Value>,
}

/// The `m.room.tombstone` of an upgraded room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tombstone {
    /// The room that replaces this one.
    pub replacement_room: OwnedRoomId,
    /// A message for users.
    #[serde(default)]
    pub body: String,
}

#[derive(Deserialize)]
struct RoomIdAnswer {
    room_id: OwnedRoomId,
}

#[derive(Deserialize)]
struct EventIdAnswer {
    event_id: OwnedEventId,
}

fn reason_body(reason: Option<&str>) -> Value {
    let mut body = Map::new();
    if let Some(r) = reason {
        body.insert("reason".into(), r.into());
    }
    Value::Object(body)
}

impl AsUser {
    /// `POST /_matrix/client/v3/createRoom`: makes a room; returns its ID.
    ///
    /// Not repeated after a server error (that could make two rooms).
    pub async fn create_room(&self, body: &CreateRoom) -> Result<OwnedRoomId, ClientError> {
        let req = self
            .request(Method::POST, "/_matrix/client/v3/createRoom")
            .json(body)?;
        let a: RoomIdAnswer = self.call(req).await?;
        Ok(a.room_id)
    }

    /// `POST /_matrix/client/v3/join/{roomIdOrAlias}`: joins by room ID or
    /// alias, through the `via` servers; returns the room ID.
    pub async fn join_room(
        &self,
        room: &RoomOrAliasId,
        via: &[&str],
    ) -> Result<OwnedRoomId, ClientError> {
        let mut req = self.request(
            Method::POST,
            format!("/_matrix/client/v3/join/{}", encode(room.as_str())),
        );
        for server in via {
            req = req.query("via", *server).query("server_name", *server);
        }
        let a: RoomIdAnswer = self.call(req.json(&json!({}))?.idempotent(true)).await?;
        Ok(a.room_id)
    }

    /// `POST /_matrix/client/v3/knock/{roomIdOrAlias}`: asks to join a room
    /// whose join rule is `knock`; returns the room ID.
    pub async fn knock(
        &self,
        room: &RoomOrAliasId,
        via: &[&str],
        reason: Option<&str>,
    ) -> Result<OwnedRoomId, ClientError> {
        let mut req = self.request(
            Method::POST,
            format!("/_matrix/client/v3/knock/{}", encode(room.as_str())),
        );
        for server in via {
            req = req.query("via", *server).query("server_name", *server);
        }
        let a: RoomIdAnswer = self.call(req.json(&reason_body(reason))?).await?;
        Ok(a.room_id)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/leave`: leaves (or rejects an invite).
    pub async fn leave(&self, room: &RoomId, reason: Option<&str>) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, room_path(room, "leave"))
            .json(&reason_body(reason))?
            .idempotent(true);
        self.call::<Value>(req).await.map(drop)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/forget`: forgets a room left
    /// before (it leaves the user's history).
    pub async fn forget(&self, room: &RoomId) -> Result<(), ClientError> {
        let req = self
            .request(Method::POST, room_path(room, "forget"))
            .json(&json!({}))?
            .idempotent(true);
        self.call::<Value>(req).await.map(drop)
    }

    async fn membership_action(
        &self,
        room: &RoomId,
        action: &str,
        user: &UserId,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut body = reason_body(reason);
        body["user_id"] = user.as_str().into();
        let req = self
            .request(Method::POST, room_path(room, action))
            .json(&body)?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/invite`.
    pub async fn invite(
        &self,
        room: &RoomId,
        user: &UserId,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        self.membership_action(room, "invite", user, reason).await
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/kick`.
    pub async fn kick(
        &self,
        room: &RoomId,
        user: &UserId,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        self.membership_action(room, "kick", user, reason).await
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/ban`.
    pub async fn ban(
        &self,
        room: &RoomId,
        user: &UserId,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        self.membership_action(room, "ban", user, reason).await
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/unban`.
    pub async fn unban(
        &self,
        room: &RoomId,
        user: &UserId,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        self.membership_action(room, "unban", user, reason).await
    }

    /// `PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}`:
    /// redacts an event; returns the redaction's event ID. Retries reuse the
    /// txnId, and inside a handler it is derived like a send's ([`super::txn`]).
    pub async fn redact(
        &self,
        room: &RoomId,
        event_id: &EventId,
        reason: Option<&str>,
    ) -> Result<OwnedEventId, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{}",
            encode(room.as_str()),
            encode(event_id.as_str()),
            encode(&self.txn_id()?)
        );
        let req = self.request(Method::PUT, path).json(&reason_body(reason))?;
        let a: EventIdAnswer = self.call(req).await?;
        Ok(a.event_id)
    }

    /// `POST /_matrix/client/v3/rooms/{roomId}/upgrade`: replaces the room
    /// with a new one of `new_version`; returns the new room's ID.
    pub async fn upgrade_room(
        &self,
        room: &RoomId,
        new_version: &str,
    ) -> Result<OwnedRoomId, ClientError> {
        #[derive(Deserialize)]
        struct Upgraded {
            replacement_room: OwnedRoomId,
        }
        let req = self
            .request(Method::POST, room_path(room, "upgrade"))
            .json(&json!({ "new_version": new_version }))?;
        let a: Upgraded = self.call(req).await?;
        Ok(a.replacement_room)
    }

    /// The room's `m.room.tombstone`, if it was upgraded (the "upgrade
    /// notice"): where its users went. `None` when the room was not upgraded.
    pub async fn tombstone(&self, room: &RoomId) -> Result<Option<Tombstone>, ClientError> {
        let content: Option<Value> = self.state_event_opt(room, "m.room.tombstone", "").await?;
        // A redacted tombstone has no replacement: not an upgrade notice.
        Ok(content.and_then(|c| serde_json::from_value(c).ok()))
    }

    /// Follows tombstones from `room` to the room in use now (at most 16 hops).
    pub async fn follow_upgrades(&self, room: &RoomId) -> Result<OwnedRoomId, ClientError> {
        let mut current = room.to_owned();
        for _ in 0..16 {
            match self.tombstone(&current).await {
                Ok(Some(t)) if t.replacement_room != current => current = t.replacement_room,
                Ok(_) => break,
                // Not allowed to read the old room's state: stop here.
                Err(e) if e.errcode() == Some("M_FORBIDDEN") => break,
                Err(e) => return Err(e),
            }
        }
        Ok(current)
    }
}

pub(crate) fn room_path(room: &RoomId, action: &str) -> String {
    format!(
        "/_matrix/client/v3/rooms/{}/{action}",
        encode(room.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_room_body_leaves_unset_fields_out() {
        let body = CreateRoom {
            preset: Some(RoomPreset::TrustedPrivateChat),
            is_direct: true,
            initial_state: vec![InitialStateEvent::new(
                "m.room.topic",
                "",
                json!({"topic": "t"}),
            )],
            ..Default::default()
        };
        let v = serde_json::to_value(&body).expect("serializable");
        assert_eq!(
            v,
            json!({
                "preset": "trusted_private_chat",
                "is_direct": true,
                "initial_state": [{"type": "m.room.topic", "state_key": "", "content": {"topic": "t"}}]
            })
        );
    }
}
