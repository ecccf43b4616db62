//! The room directory: aliases, directory visibility, the appservice's
//! per-network directory, and listing or searching public rooms.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#room-aliases>,
//! <https://spec.matrix.org/latest/application-service-api/#room-directories>
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::client::directory::{PublicRoomsQuery, Visibility};
//! use ghostkit::ruma::common::{room_alias_id, room_id};
//! let bot = client.as_bot();
//! let room = room_id!("!abc:example.org");
//! bot.create_alias(room_alias_id!("#_irc_rust:example.org"), room).await?;
//! bot.publish_to_network("irc", room, Visibility::Public).await?;
//! let found = bot
//!     .public_rooms(&PublicRoomsQuery {
//!         third_party_instance_id: Some(client.network_instance_id("irc")),
//!         ..Default::default()
//!     })
//!     .await?;
//! assert!(found.chunk.iter().any(|r| r.room_id == room));
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{OwnedRoomAliasId, OwnedRoomId, RoomAliasId, RoomId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{encode, AsUser, Client, ClientError};

/// Whether a room is listed in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed.
    Public,
    /// Not listed.
    Private,
}

/// The room an alias points to (`GET /directory/room/{roomAlias}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResolvedAlias {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Servers that know the room (give them as `via` when joining).
    #[serde(default)]
    pub servers: Vec<String>,
}

/// What to ask `/publicRooms` for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicRoomsQuery {
    /// At most this many rooms.
    pub limit: Option<u32>,
    /// Pagination token from an earlier page.
    pub since: Option<String>,
    /// Another server's directory.
    pub server: Option<String>,
    /// Search term matched against names, topics and aliases.
    pub search: Option<String>,
    /// Only this third-party network's directory (see [`Client::network_instance_id`]).
    pub third_party_instance_id: Option<String>,
    /// All networks' rooms together with the server's own.
    pub include_all_networks: bool,
}

/// A room listed in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PublishedRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// Its canonical alias.
    #[serde(default)]
    pub canonical_alias: Option<OwnedRoomAliasId>,
    /// Joined members.
    #[serde(default)]
    pub num_joined_members: u64,
    /// Whether anyone can read its history.
    #[serde(default)]
    pub world_readable: bool,
    /// Whether guests can join.
    #[serde(default)]
    pub guest_can_join: bool,
    /// Its join rule (`public` when absent).
    #[serde(default)]
    pub join_rule: Option<String>,
    /// Its avatar.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Its type (`m.space`).
    #[serde(default)]
    pub room_type: Option<String>,
}

/// One page of `/publicRooms`.
#[derive(Debug, Clone, Deserialize)]
pub struct PublicRoomsPage {
    /// The rooms, largest first.
    #[serde(default)]
    pub chunk: Vec<PublishedRoom>,
    /// Token for the next page; `None` at the end.
    #[serde(default)]
    pub next_batch: Option<String>,
    /// Token for the previous page.
    #[serde(default)]
    pub prev_batch: Option<String>,
    /// About how many rooms there are.
    #[serde(default)]
    pub total_room_count_estimate: Option<u64>,
}

impl Client {
    /// The `third_party_instance_id` naming this appservice's directory for
    /// `network_id`, as Synapse lists it: `{appserviceId}|{networkId}`.
    pub fn network_instance_id(&self, network_id: &str) -> String {
        format!("{}|{network_id}", self.registration().id)
    }
}

fn alias_path(alias: &RoomAliasId) -> String {
    format!(
        "/_matrix/client/v3/directory/room/{}",
        encode(alias.as_str())
    )
}

impl AsUser {
    /// `PUT /_matrix/client/v3/directory/room/{roomAlias}`: makes `alias` point to `room`.
    pub async fn create_alias(
        &self,
        alias: &RoomAliasId,
        room: &RoomId,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::PUT, alias_path(alias))
            .json(&json!({ "room_id": room }))?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `DELETE /_matrix/client/v3/directory/room/{roomAlias}`.
    pub async fn delete_alias(&self, alias: &RoomAliasId) -> Result<(), ClientError> {
        self.call::<Value>(self.request(Method::DELETE, alias_path(alias)))
            .await
            .map(drop)
    }

    /// `GET /_matrix/client/v3/directory/room/{roomAlias}`: the room an alias names.
    pub async fn resolve_alias(&self, alias: &RoomAliasId) -> Result<ResolvedAlias, ClientError> {
        self.call(self.request(Method::GET, alias_path(alias)))
            .await
    }

    /// `GET /_matrix/client/v3/rooms/{roomId}/aliases`: the room's local aliases.
    pub async fn room_aliases(&self, room: &RoomId) -> Result<Vec<OwnedRoomAliasId>, ClientError> {
        #[derive(Deserialize)]
        struct Aliases {
            aliases: Vec<OwnedRoomAliasId>,
        }
        let path = format!("/_matrix/client/v3/rooms/{}/aliases", encode(room.as_str()));
        let a: Aliases = self.call(self.request(Method::GET, path)).await?;
        Ok(a.aliases)
    }

    /// `GET /_matrix/client/v3/directory/list/room/{roomId}`: whether the room
    /// is in the server's directory.
    pub async fn directory_visibility(&self, room: &RoomId) -> Result<Visibility, ClientError> {
        #[derive(Deserialize)]
        struct Vis {
            visibility: Visibility,
        }
        let path = format!(
            "/_matrix/client/v3/directory/list/room/{}",
            encode(room.as_str())
        );
        let v: Vis = self.call(self.request(Method::GET, path)).await?;
        Ok(v.visibility)
    }

    /// `PUT /_matrix/client/v3/directory/list/room/{roomId}`: lists or unlists
    /// the room in the server's directory.
    pub async fn set_directory_visibility(
        &self,
        room: &RoomId,
        visibility: Visibility,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/_matrix/client/v3/directory/list/room/{}",
            encode(room.as_str())
        );
        let req = self
            .request(Method::PUT, path)
            .json(&json!({ "visibility": visibility }))?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}`:
    /// lists (or unlists) the room in this appservice's directory for the
    /// third-party network `network_id`.
    pub async fn publish_to_network(
        &self,
        network_id: &str,
        room: &RoomId,
        visibility: Visibility,
    ) -> Result<(), ClientError> {
        let path = format!(
            "/_matrix/client/v3/directory/list/appservice/{}/{}",
            encode(network_id),
            encode(room.as_str())
        );
        let req = self
            .request(Method::PUT, path)
            .json(&json!({ "visibility": visibility }))?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `GET` or `POST /_matrix/client/v3/publicRooms`: one page of the
    /// directory (POST when searching or choosing networks).
    pub async fn public_rooms(
        &self,
        query: &PublicRoomsQuery,
    ) -> Result<PublicRoomsPage, ClientError> {
        let path = "/_matrix/client/v3/publicRooms";
        let simple = query.search.is_none()
            && query.third_party_instance_id.is_none()
            && !query.include_all_networks;
        let req = if simple {
            self.request(Method::GET, path)
                .query_opt("limit", query.limit)
                .query_opt("since", query.since.as_deref())
                .query_opt("server", query.server.as_deref())
        } else {
            let mut body = Map::new();
            if let Some(l) = query.limit {
                body.insert("limit".into(), l.into());
            }
            if let Some(s) = &query.since {
                body.insert("since".into(), s.as_str().into());
            }
            if let Some(term) = &query.search {
                body.insert("filter".into(), json!({ "generic_search_term": term }));
            }
            if let Some(id) = &query.third_party_instance_id {
                body.insert("third_party_instance_id".into(), id.as_str().into());
            }
            if query.include_all_networks {
                body.insert("include_all_networks".into(), true.into());
            }
            // A search changes nothing: safe to repeat.
            self.request(Method::POST, path)
                .query_opt("server", query.server.as_deref())
                .json(&body)?
                .idempotent(true)
        };
        self.call(req).await
    }
}
