//! Profiles: display name and avatar, global and per room.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#profiles>
//!
//! ```no_run
//! # async fn demo(client: ghostkit::Client) -> Result<(), ghostkit::ClientError> {
//! use ghostkit::ruma::common::{room_id, user_id};
//! let ghost = client.as_user(user_id!("@_irc_alice:example.org"))?;
//! ghost.set_display_name("alice (IRC)").await?;
//! ghost.set_room_display_name(room_id!("!abc:example.org"), "alice [op]").await?;
//! # Ok(()) }
//! ```

use reqwest::Method;
use ruma_common::{OwnedEventId, RoomId, UserId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{encode, AsUser, ClientError};
use crate::ErrorCode;

/// A user's global profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Profile {
    /// The display name.
    #[serde(default)]
    pub displayname: Option<String>,
    /// The avatar's `mxc://` URI.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

fn profile_path(user: &UserId, field: Option<&str>) -> String {
    match field {
        Some(f) => format!("/_matrix/client/v3/profile/{}/{f}", encode(user.as_str())),
        None => format!("/_matrix/client/v3/profile/{}", encode(user.as_str())),
    }
}

impl AsUser {
    /// `GET /_matrix/client/v3/profile/{userId}`: anyone's profile.
    pub async fn profile(&self, user: &UserId) -> Result<Profile, ClientError> {
        self.call(self.request(Method::GET, profile_path(user, None)))
            .await
    }

    /// `GET /_matrix/client/v3/profile/{userId}/displayname`; `None` when unset.
    pub async fn display_name(&self, user: &UserId) -> Result<Option<String>, ClientError> {
        match self
            .call::<Profile>(self.request(Method::GET, profile_path(user, Some("displayname"))))
            .await
        {
            Ok(p) => Ok(p.displayname),
            Err(e) if e.kind() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /_matrix/client/v3/profile/{userId}/displayname`: sets the acting
    /// user's global display name (the homeserver updates it in every room).
    pub async fn set_display_name(&self, name: &str) -> Result<(), ClientError> {
        let me = self.me()?;
        let req = self
            .request(Method::PUT, profile_path(&me, Some("displayname")))
            .json(&json!({ "displayname": name }))?;
        self.call::<Value>(req).await.map(drop)
    }

    /// `GET /_matrix/client/v3/profile/{userId}/avatar_url`; `None` when unset.
    pub async fn avatar_url(&self, user: &UserId) -> Result<Option<String>, ClientError> {
        match self
            .call::<Profile>(self.request(Method::GET, profile_path(user, Some("avatar_url"))))
            .await
        {
            Ok(p) => Ok(p.avatar_url),
            Err(e) if e.kind() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /_matrix/client/v3/profile/{userId}/avatar_url`: sets the acting
    /// user's global avatar (an `mxc://` URI).
    pub async fn set_avatar_url(&self, mxc: &str) -> Result<(), ClientError> {
        let me = self.me()?;
        let req = self
            .request(Method::PUT, profile_path(&me, Some("avatar_url")))
            .json(&json!({ "avatar_url": mxc }))?;
        self.call::<Value>(req).await.map(drop)
    }

    /// Changes the acting user's own `m.room.member` event in one room
    /// (which must be a join) with `change`.
    async fn update_own_member(
        &self,
        room: &RoomId,
        change: impl FnOnce(&mut Value),
    ) -> Result<OwnedEventId, ClientError> {
        let me = self.me()?;
        let mut content: Value = self.state_event(room, "m.room.member", me.as_str()).await?;
        if content["membership"] != "join" {
            return Err(ClientError::InvalidArgument(format!(
                "{me} is not joined to {room}; join before setting a per-room profile"
            )));
        }
        change(&mut content);
        self.send_state(room, "m.room.member", me.as_str(), &content)
            .await
    }

    /// Sets the acting user's display name in one room only.
    pub async fn set_room_display_name(
        &self,
        room: &RoomId,
        name: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.update_own_member(room, |c| c["displayname"] = name.into())
            .await
    }

    /// Sets the acting user's avatar in one room only.
    pub async fn set_room_avatar_url(
        &self,
        room: &RoomId,
        mxc: &str,
    ) -> Result<OwnedEventId, ClientError> {
        self.update_own_member(room, |c| c["avatar_url"] = mxc.into())
            .await
    }
}
