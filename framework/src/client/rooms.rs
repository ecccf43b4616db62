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
use crate::ErrorCode;

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

/// The `m.room.create` content key where [`AsUser::create_room`] leaves the
/// ID of its request, to find the room again after an unclear failure.
pub const CREATION_ID_KEY: &str = "io.ghostkit.creation_id";

impl AsUser {
    /// `POST /_matrix/client/v3/createRoom`: makes a room; returns its ID.
    ///
    /// `createRoom` is not idempotent, and a failure does not prove that no
    /// room was made: a timeout, a `5xx`, a broken connection, or even a
    /// `429` (Synapse can make the room and then refuse the creator's join
    /// for its join rate limit, synapse#8309). So the request carries an ID
    /// in the `m.room.create` content ([`CREATION_ID_KEY`]; derived from the
    /// event handled, like a send's txnId), and before each retry the client
    /// looks for a room with that ID: through the requested alias, then
    /// among the user's joined rooms. Only when none is found is the room
    /// asked for again. A room made but never joined (synapse#8309) cannot
    /// be found, so it may be left behind, empty.
    pub async fn create_room(&self, body: &CreateRoom) -> Result<OwnedRoomId, ClientError> {
        let creation_id = self.txn_id()?;
        let mut body = body.clone();
        let mut content = match body.creation_content.take() {
            None => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(ClientError::InvalidArgument(
                    "`creation_content` must be a JSON object".into(),
                ))
            }
        };
        content.insert(CREATION_ID_KEY.into(), creation_id.clone().into());
        body.creation_content = Some(Value::Object(content));
        let req = self
            .request(Method::POST, "/_matrix/client/v3/createRoom")
            .json(&body)?
            .retry_policy(super::RetryPolicy::never());
        let policy = self.client().config().retry.clone();
        let started = std::time::Instant::now();
        let mut attempt: u32 = 1;
        loop {
            let err = match self.call::<RoomIdAnswer>(req.clone()).await {
                Ok(a) => return Ok(a.room_id),
                Err(e) => e,
            };
            // Retryable once we have looked: `true` lets server errors,
            // timeouts and broken connections in.
            let Some(reason) = super::retry::classify(&err, true) else {
                return Err(err);
            };
            let wait = super::retry::wait_for(&policy, reason, attempt).filter(|w| {
                attempt < policy.max_attempts && started.elapsed() + *w <= policy.max_total
            });
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            if reason != super::RetryReason::Connect {
                if let Some(room) = self
                    .find_created_room(&creation_id, body.room_alias_name.as_deref())
                    .await
                {
                    tracing::warn!(room = %room, error = %err, "createRoom failed but the room was made; using it");
                    return Ok(room);
                }
            }
            if wait.is_none() {
                return Err(err);
            }
            tracing::warn!(attempt, %reason, error = %err, "createRoom failed and made no room; asking again");
            super::retry::report(
                self.client().config().on_retry.as_ref(),
                &super::RetryEvent {
                    method: Method::POST,
                    path: "/_matrix/client/v3/createRoom".into(),
                    attempt,
                    wait: wait.unwrap_or_default(),
                    reason,
                },
            );
            attempt += 1;
        }
    }

    /// The room whose `m.room.create` carries `creation_id`: the one the
    /// alias points to, or one of the user's joined rooms. Lookup failures
    /// count as "not found".
    async fn find_created_room(
        &self,
        creation_id: &str,
        alias_localpart: Option<&str>,
    ) -> Option<OwnedRoomId> {
        let mut candidates = Vec::new();
        if let (Some(local), Some(server)) = (alias_localpart, self.client().server_name()) {
            if let Ok(alias) = ruma_common::OwnedRoomAliasId::try_from(format!("#{local}:{server}"))
            {
                if let Ok(found) = self.resolve_alias(&alias).await {
                    candidates.push(found.room_id);
                }
            }
        }
        if candidates.is_empty() {
            candidates = self.joined_rooms().await.ok()?;
        }
        for room in candidates {
            let create: Option<Value> = self
                .state_event_opt(&room, "m.room.create", "")
                .await
                .ok()?;
            if create.as_ref().and_then(|c| c[CREATION_ID_KEY].as_str()) == Some(creation_id) {
                return Some(room);
            }
        }
        None
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
                Err(e) if e.kind() == Some(ErrorCode::Forbidden) => break,
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
