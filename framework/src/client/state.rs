//! Room state: write any state event, read all of it or one type and key,
//! and helpers for the name, topic and power levels.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey>
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::ruma::common::room_id;
//! let room = room_id!("!abc:example.org");
//! me.set_topic(room, "Bridged from #rust").await?;
//! let topic: serde_json::Value = me.state_event(room, "m.room.topic", "").await?;
//! assert_eq!(topic["topic"], "Bridged from #rust");
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{OwnedEventId, RoomId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::timeline::RoomEvent;
use super::{encode, AsUser, ClientError};
use crate::ErrorCode;

fn state_path(room: &RoomId, event_type: &str, state_key: &str) -> String {
    format!(
        "/_matrix/client/v3/rooms/{}/state/{}/{}",
        encode(room.as_str()),
        encode(event_type),
        encode(state_key)
    )
}

impl AsUser {
    /// `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`:
    /// sets a state event (with `?ts=` when set); returns its event ID.
    pub async fn send_state(
        &self,
        room: &RoomId,
        event_type: &str,
        state_key: &str,
        content: &(impl Serialize + ?Sized),
    ) -> Result<OwnedEventId, ClientError> {
        #[derive(Deserialize)]
        struct Sent {
            event_id: OwnedEventId,
        }
        let req = self
            .with_ts_param(self.request(Method::PUT, state_path(room, event_type, state_key)))
            .json(content)?;
        let s: Sent = self.call(req).await?;
        Ok(s.event_id)
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/state`: every current state event.
    pub async fn state(&self, room: &RoomId) -> Result<Vec<RoomEvent>, ClientError> {
        let path = format!("/_matrix/client/v3/rooms/{}/state", encode(room.as_str()));
        self.call(self.request(Method::GET, path)).await
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`:
    /// the content of one state event (`M_NOT_FOUND` when unset).
    pub async fn state_event<T: DeserializeOwned>(
        &self,
        room: &RoomId,
        event_type: &str,
        state_key: &str,
    ) -> Result<T, ClientError> {
        self.call(self.request(Method::GET, state_path(room, event_type, state_key)))
            .await
    }

    /// Like [`AsUser::state_event`], with `None` when the state is not set.
    pub async fn state_event_opt<T: DeserializeOwned>(
        &self,
        room: &RoomId,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<T>, ClientError> {
        match self.state_event(room, event_type, state_key).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets `m.room.topic`.
    pub async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<OwnedEventId, ClientError> {
        self.send_state(room, "m.room.topic", "", &json!({ "topic": topic }))
            .await
    }

    /// Sets `m.room.name`.
    pub async fn set_room_name(
        &self,
        room: &RoomId,
        name: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.send_state(room, "m.room.name", "", &json!({ "name": name }))
            .await
    }

    /// Sets `m.room.avatar` to an `mxc://` URI.
    pub async fn set_room_avatar(
        &self,
        room: &RoomId,
        mxc: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.send_state(room, "m.room.avatar", "", &json!({ "url": mxc }))
            .await
    }

    /// The `m.room.power_levels` content.
    pub async fn power_levels(&self, room: &RoomId) -> Result<Value, ClientError> {
        self.state_event(room, "m.room.power_levels", "").await
    }

    /// Gives `user` the power `level` (reads, changes and writes `m.room.power_levels`).
    pub async fn set_user_power_level(
        &self,
        room: &RoomId,
        user: &UserId,
        level: i64,
    ) -> Result<OwnedEventId, ClientError> {
        let mut pl = self.power_levels(room).await?;
        if !pl.is_object() {
            pl = json!({});
        }
        if !pl["users"].is_object() {
            pl["users"] = json!({});
        }
        pl["users"][user.as_str()] = level.into();
        self.send_state(room, "m.room.power_levels", "", &pl).await
    }
}
