//! Reading the timeline: one event, its context, `/messages` pagination in
//! both directions, and the event nearest a timestamp.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3roomsroomidmessages>
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::timeline::{Direction, MessagesQuery};
//! use ghostkit::ruma::common::room_id;
//! let room = room_id!("!abc:example.org");
//! // Newest first, 50 at a time, until the start of the room.
//! let mut query = MessagesQuery { limit: Some(50), ..Default::default() };
//! loop {
//!     let page = me.messages(room, &query).await?;
//!     for ev in &page.chunk {
//!         println!("{} {}", ev.sender, ev.event_type);
//!     }
//!     match page.end {
//!         Some(end) => query.from = Some(end),
//!         None => break,
//!     }
//! }
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{encode, AsUser, ClientError};

/// A room event as the homeserver returns it; `content` stays JSON until
/// read with [`RoomEvent::content_as`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// The event type (`m.room.message`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event ID.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// When, in ms since the Unix epoch (as the sender's server says, or `?ts=`).
    pub origin_server_ts: u64,
    /// The room (absent in some answers where it is implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<OwnedRoomId>,
    /// The state key, for state events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_key: Option<String>,
    /// The content, as JSON.
    #[serde(default)]
    pub content: Value,
    /// Server-added data (age, relations, transaction_id …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<Value>,
}

impl RoomEvent {
    /// The content as a typed value (e.g. a ruma `RoomMessageEventContent`).
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.content)
    }

    /// The content's `body` string, if any.
    pub fn body(&self) -> Option<&str> {
        self.content.get("body").and_then(Value::as_str)
    }
}

/// Which way to paginate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Towards newer events (`f`).
    #[serde(rename = "f")]
    Forward,
    /// Towards older events (`b`).
    #[default]
    #[serde(rename = "b")]
    Backward,
}

impl Direction {
    /// The spec's letter (`f` or `b`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "f",
            Direction::Backward => "b",
        }
    }
}

/// What to ask `/messages` for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessagesQuery {
    /// Where to start: a token from an earlier page (or `/sync`, `/context`);
    /// `None` starts at the newest (backward) or oldest (forward) event.
    pub from: Option<String>,
    /// Where to stop.
    pub to: Option<String>,
    /// Which way.
    pub dir: Direction,
    /// At most this many events (the server has a default, often 10).
    pub limit: Option<u32>,
    /// A `RoomEventFilter`, as JSON.
    pub filter: Option<Value>,
}

/// One page of `/messages`.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesPage {
    /// The token this page started at.
    pub start: String,
    /// The token to give as `from` for the next page; `None` at the end.
    #[serde(default)]
    pub end: Option<String>,
    /// The events, in the order of the pagination.
    #[serde(default)]
    pub chunk: Vec<RoomEvent>,
    /// State needed to show the events (with lazy-loading filters).
    #[serde(default)]
    pub state: Vec<RoomEvent>,
}

/// An event with the events around it (`/context`).
#[derive(Debug, Clone, Deserialize)]
pub struct EventContext {
    /// The event asked for.
    pub event: Option<RoomEvent>,
    /// Events before it, newest first.
    #[serde(default)]
    pub events_before: Vec<RoomEvent>,
    /// Events after it, oldest first.
    #[serde(default)]
    pub events_after: Vec<RoomEvent>,
    /// Token to paginate backwards from the first event before.
    #[serde(default)]
    pub start: Option<String>,
    /// Token to paginate forwards from the last event after.
    #[serde(default)]
    pub end: Option<String>,
    /// The room state at the last event returned.
    #[serde(default)]
    pub state: Vec<RoomEvent>,
}

/// The answer of `timestamp_to_event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimestampEvent {
    /// The event nearest the timestamp in the direction asked.
    pub event_id: OwnedEventId,
    /// Its timestamp.
    pub origin_server_ts: u64,
}

impl AsUser {
    /// `GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}`: one event.
    pub async fn event(&self, room: &RoomId, event_id: &EventId) -> Result<RoomEvent, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/event/{}",
            encode(room.as_str()),
            encode(event_id.as_str())
        );
        self.call(self.request(Method::GET, path)).await
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}`: the event and
    /// up to `limit` events around it.
    pub async fn context(
        &self,
        room: &RoomId,
        event_id: &EventId,
        limit: Option<u32>,
    ) -> Result<EventContext, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/context/{}",
            encode(room.as_str()),
            encode(event_id.as_str())
        );
        self.call(self.request(Method::GET, path).query_opt("limit", limit))
            .await
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/messages`: one page of events.
    pub async fn messages(
        &self,
        room: &RoomId,
        query: &MessagesQuery,
    ) -> Result<MessagesPage, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages",
            encode(room.as_str())
        );
        let filter = match &query.filter {
            Some(f) => Some(serde_json::to_string(f).map_err(ClientError::Encode)?),
            None => None,
        };
        let req = self
            .request(Method::GET, path)
            .query("dir", query.dir.as_str())
            .query_opt("from", query.from.as_deref())
            .query_opt("to", query.to.as_deref())
            .query_opt("limit", query.limit)
            .query_opt("filter", filter);
        self.call(req).await
    }

    /// `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event`: the event
    /// nearest `ts_ms` (ms since the Unix epoch) looking in `dir`.
    pub async fn timestamp_to_event(
        &self,
        room: &RoomId,
        ts_ms: u64,
        dir: Direction,
    ) -> Result<TimestampEvent, ClientError> {
        let path = format!(
            "/_matrix/client/v1/rooms/{}/timestamp_to_event",
            encode(room.as_str())
        );
        let req = self
            .request(Method::GET, path)
            .query("ts", ts_ms.to_string())
            .query("dir", dir.as_str());
        self.call(req).await
    }
}
