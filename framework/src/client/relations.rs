//! Relations (replies in threads, edits, reactions) and thread roots.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#get_matrixclientv1roomsroomidrelationseventid>
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::relations::{RelationsQuery, ThreadsQuery};
//! use ghostkit::ruma::common::{event_id, room_id};
//! let room = room_id!("!abc:example.org");
//! let root = event_id!("$root");
//! let replies = me
//!     .relations(room, root, &RelationsQuery { rel_type: Some("m.thread".into()), ..Default::default() })
//!     .await?;
//! let threads = me.threads(room, &ThreadsQuery::default()).await?;
//! println!("{} replies, {} threads", replies.chunk.len(), threads.chunk.len());
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{EventId, RoomId};
use serde::Deserialize;

use super::timeline::{Direction, RoomEvent};
use super::{encode, AsUser, ClientError};

/// What to ask `/relations` for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationsQuery {
    /// Only this relation type (`m.thread`, `m.annotation`, `m.replace`).
    pub rel_type: Option<String>,
    /// Only this event type (needs `rel_type`).
    pub event_type: Option<String>,
    /// Pagination token from an earlier page.
    pub from: Option<String>,
    /// Where to stop.
    pub to: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
    /// Which way (default: newest first).
    pub dir: Direction,
    /// Also events relating to the relating events.
    pub recurse: bool,
}

/// One page of `/relations`.
#[derive(Debug, Clone, Deserialize)]
pub struct RelationsPage {
    /// The relating events.
    #[serde(default)]
    pub chunk: Vec<RoomEvent>,
    /// Token for the next page; `None` at the end.
    #[serde(default)]
    pub next_batch: Option<String>,
    /// Token for the previous page.
    #[serde(default)]
    pub prev_batch: Option<String>,
    /// How deep the server recursed (with `recurse`).
    #[serde(default)]
    pub recursion_depth: Option<u32>,
}

/// Which thread roots `/threads` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThreadInclude {
    /// Every thread.
    #[default]
    All,
    /// Threads the user took part in.
    Participated,
}

/// What to ask `/threads` for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadsQuery {
    /// Which threads.
    pub include: ThreadInclude,
    /// Pagination token from an earlier page.
    pub from: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// One page of `/threads`.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadsPage {
    /// Thread roots, most recently active first.
    #[serde(default)]
    pub chunk: Vec<RoomEvent>,
    /// Token for the next page; `None` at the end.
    #[serde(default)]
    pub next_batch: Option<String>,
}

impl AsUser {
    /// `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`:
    /// the events relating to `event_id`.
    pub async fn relations(
        &self,
        room: &RoomId,
        event_id: &EventId,
        query: &RelationsQuery,
    ) -> Result<RelationsPage, ClientError> {
        let mut path = format!(
            "/_matrix/client/v1/rooms/{}/relations/{}",
            encode(room.as_str()),
            encode(event_id.as_str())
        );
        match (&query.rel_type, &query.event_type) {
            (Some(r), Some(t)) => path += &format!("/{}/{}", encode(r), encode(t)),
            (Some(r), None) => path += &format!("/{}", encode(r)),
            (None, Some(_)) => {
                return Err(ClientError::InvalidArgument(
                    "a relations query by event type needs a rel_type too".into(),
                ))
            }
            (None, None) => {}
        }
        let mut req = self
            .request(Method::GET, path)
            .query("dir", query.dir.as_str())
            .query_opt("from", query.from.as_deref())
            .query_opt("to", query.to.as_deref())
            .query_opt("limit", query.limit);
        if query.recurse {
            req = req.query("recurse", "true");
        }
        self.call(req).await
    }

    /// `GET /_matrix/client/v1/rooms/{roomId}/threads`: the room's thread roots.
    pub async fn threads(
        &self,
        room: &RoomId,
        query: &ThreadsQuery,
    ) -> Result<ThreadsPage, ClientError> {
        let path = format!("/_matrix/client/v1/rooms/{}/threads", encode(room.as_str()));
        let include = match query.include {
            ThreadInclude::All => "all",
            ThreadInclude::Participated => "participated",
        };
        let req = self
            .request(Method::GET, path)
            .query("include", include)
            .query_opt("from", query.from.as_deref())
            .query_opt("limit", query.limit);
        self.call(req).await
    }
}
