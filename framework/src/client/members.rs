//! Members: the member list, joined members, and the room snapshot used to
//! peek into rooms (`/rooms/{roomId}/initialSync`).
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3roomsroomidmembers>
//!
//! ```no_run
//! # async fn demo(me: ghostkit::client::AsUser) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::ruma::common::room_id;
//! let room = room_id!("!abc:example.org");
//! for (user, member) in me.joined_members(room).await? {
//!     println!("{user}: {:?}", member.display_name);
//! }
//! let snapshot = me.room_initial_sync(room).await?;
//! println!("{} state events", snapshot.state.len());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use reqwest::Method;
use ruma_common::{OwnedRoomId, OwnedUserId, RoomId};
use serde::Deserialize;
use serde_json::Value;

use super::timeline::RoomEvent;
use super::{encode, AsUser, ClientError};

/// Which members `/members` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembersQuery {
    /// The membership at this pagination token (from `/sync` or `/messages`).
    pub at: Option<String>,
    /// Only this membership (`join`, `invite`, `leave`, `ban`, `knock`).
    pub membership: Option<String>,
    /// All but this membership.
    pub not_membership: Option<String>,
}

/// One joined member (`/joined_members`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JoinedMember {
    /// The member's display name in the room.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The member's avatar in the room.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// A page of events and its tokens (`messages` of a room snapshot).
#[derive(Debug, Clone, Deserialize)]
pub struct EventChunk {
    /// The events, oldest first.
    #[serde(default)]
    pub chunk: Vec<RoomEvent>,
    /// Token at the start of the chunk.
    #[serde(default)]
    pub start: Option<String>,
    /// Token at the end of the chunk.
    #[serde(default)]
    pub end: Option<String>,
}

/// The snapshot of `GET /rooms/{roomId}/initialSync`, for peeking.
#[derive(Debug, Clone, Deserialize)]
pub struct RoomInitialSync {
    /// The room.
    pub room_id: OwnedRoomId,
    /// The caller's membership, if any.
    #[serde(default)]
    pub membership: Option<String>,
    /// The most recent messages.
    #[serde(default)]
    pub messages: Option<EventChunk>,
    /// The current state.
    #[serde(default)]
    pub state: Vec<RoomEvent>,
    /// `public` or `private` in the room directory.
    #[serde(default)]
    pub visibility: Option<String>,
    /// The caller's room account data events.
    #[serde(default)]
    pub account_data: Vec<Value>,
    /// Presence of the members.
    #[serde(default)]
    pub presence: Vec<Value>,
}

impl AsUser {
    /// `GET /_matrix/client/v3/rooms/{roomId}/members`: the `m.room.member` events.
    pub async fn members(
        &self,
        room: &RoomId,
        query: &MembersQuery,
    ) -> Result<Vec<RoomEvent>, ClientError> {
        #[derive(Deserialize)]
        struct Members {
            chunk: Vec<RoomEvent>,
        }
        let path = format!("/_matrix/client/v3/rooms/{}/members", encode(room.as_str()));
        let req = self
            .request(Method::GET, path)
            .query_opt("at", query.at.as_deref())
            .query_opt("membership", query.membership.as_deref())
            .query_opt("not_membership", query.not_membership.as_deref());
        let m: Members = self.call(req).await?;
        Ok(m.chunk)
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/joined_members`: joined users
    /// with their room display names and avatars.
    pub async fn joined_members(
        &self,
        room: &RoomId,
    ) -> Result<BTreeMap<OwnedUserId, JoinedMember>, ClientError> {
        #[derive(Deserialize)]
        struct Joined {
            joined: BTreeMap<OwnedUserId, JoinedMember>,
        }
        let path = format!(
            "/_matrix/client/v3/rooms/{}/joined_members",
            encode(room.as_str())
        );
        let j: Joined = self.call(self.request(Method::GET, path)).await?;
        Ok(j.joined)
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/initialSync`: a snapshot of the
    /// room's state and latest messages; works without joining for rooms
    /// whose history is `world_readable` (peeking).
    pub async fn room_initial_sync(&self, room: &RoomId) -> Result<RoomInitialSync, ClientError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/initialSync",
            encode(room.as_str())
        );
        self.call(self.request(Method::GET, path)).await
    }
}
