//! Intents: "act as user X, and make what that needs true first".
//!
//! An [`Intent`] is the client acting as one user (a ghost or the bot; it
//! derefs to [`AsUser`], so every API call is there) plus the preconditions
//! bridges need all the time:
//!
//! - [`Intent::ensure_registered`]: the ghost exists (registered once, then
//!   remembered on disk);
//! - [`Intent::ensure_joined`]: the user is in the room; if it cannot join
//!   (invite-only room), the bot invites it first. A banned user is *not*
//!   unbanned silently: that is an [`IntentError::Banned`];
//! - [`Intent::ensure_display_name`]: the global display name is set (once).
//!
//! What is known is kept in the store (on disk, not in unbounded maps)
//! and fed by the `m.room.member` events of received transactions
//! ([`observe_event`]), so after a restart 10,000 ghosts are not registered or
//! joined again: a warm [`Intent::ensure_joined`] makes no request.
//!
//! The cache can be wrong: a kick the appservice never saw, or a store kept
//! while the homeserver's database was reset. The intent's own sends
//! ([`Intent::send`], [`Intent::send_text`], [`Intent::send_notice`]) join
//! first, and when the homeserver refuses one with `403 M_FORBIDDEN` while
//! the cache said "joined", they drop the cache's entries for the user,
//! register and join again, and send once more with the same txnId.
//! [`Intent::ensure_joined`] heals a stale "registered" the same way.
//!
//! ```no_run
//! # async fn demo(ctx: &ghostkit::Context) -> Result<(), ghostkit::HandlerError> {
//! use ghostkit::ruma::common::user_id;
//! let room = ctx.event().room_id().ok_or("no room")?;
//! let ghost = ctx.intent(user_id!("@_irc_alice:example.org"))?;
//! ghost.ensure_display_name("alice (IRC)").await?;
//! ghost.ensure_joined(room).await?;
//! ghost.send_text(room, "hi from IRC").await?;
//! # Ok(()) }
//! ```

use ruma_common::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, RoomOrAliasId, UserId};
use ruma_events::room::member::MembershipState;
use serde_json::Value;

use crate::client::{AsUser, Client, ClientError};
use crate::event::{Event, EventKind};
use crate::store::{Store, StoreError, Tree};

const REGISTERED_TREE: &str = "ghostkit.intent.registered";
const MEMBERSHIP_TREE: &str = "ghostkit.intent.membership";
const DISPLAY_NAME_TREE: &str = "ghostkit.intent.displayname";
const POWER_TREE: &str = "ghostkit.intent.power";

/// Why an intent could not make its precondition true.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    /// A call to the homeserver failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The cache could not be read or written.
    #[error("intent cache: {0}")]
    Store(#[from] StoreError),
    /// The user is banned from the room; intents do not unban silently.
    #[error("{user_id} is banned from {room_id}; unban it explicitly (AsUser::unban) if it should come back")]
    Banned {
        /// The banned user.
        user_id: OwnedUserId,
        /// The room.
        room_id: OwnedRoomId,
    },
    /// The user could not join, and the bot could not invite it.
    #[error("{user_id} cannot join {room_id}, and the bot could not let it in: {source}")]
    CannotJoin {
        /// The user.
        user_id: OwnedUserId,
        /// The room.
        room_id: OwnedRoomId,
        /// The last error.
        #[source]
        source: Box<ClientError>,
    },
}

/// What intents remember, in the store: registered users, memberships,
/// display names, and rooms' power ([`RoomPower`](crate::power::RoomPower)).
/// Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ghostkit::store::StoreError> {
/// use ghostkit::intent::IntentCache;
/// use ghostkit::ruma::common::{room_id, user_id};
/// use ghostkit::prelude::MembershipState;
/// let cache = IntentCache::open(&ghostkit::Store::temporary()?)?;
/// let (room, ghost) = (room_id!("!r:example.org"), user_id!("@_x_a:example.org"));
/// assert_eq!(cache.membership(room, ghost).await?, None);
/// cache.set_membership(room, ghost, &MembershipState::Join).await?;
/// assert_eq!(cache.membership(room, ghost).await?, Some(MembershipState::Join));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IntentCache {
    registered: Tree,
    membership: Tree,
    display_name: Tree,
    /// Rooms' creation and power levels (`power.rs`).
    pub(crate) power: Tree,
}

impl std::fmt::Debug for IntentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentCache").finish_non_exhaustive()
    }
}

fn membership_key(room: &RoomId, user: &UserId) -> Vec<u8> {
    let mut k = Vec::with_capacity(room.as_str().len() + user.as_str().len() + 1);
    k.extend_from_slice(room.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(user.as_str().as_bytes());
    k
}

impl IntentCache {
    /// Opens the cache's trees in `store`.
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(IntentCache {
            registered: store.tree(REGISTERED_TREE)?,
            membership: store.tree(MEMBERSHIP_TREE)?,
            display_name: store.tree(DISPLAY_NAME_TREE)?,
            power: store.tree(POWER_TREE)?,
        })
    }

    /// Whether `user` is known to be registered.
    pub async fn is_registered(&self, user: &UserId) -> Result<bool, StoreError> {
        self.registered.contains_key(user.as_str()).await
    }

    /// Remembers that `user` is registered.
    pub async fn set_registered(&self, user: &UserId) -> Result<(), StoreError> {
        self.registered.insert(user.as_str(), []).await?;
        Ok(())
    }

    /// Forgets that `user` is registered (the next `ensure_registered` asks).
    pub async fn forget_registered(&self, user: &UserId) -> Result<(), StoreError> {
        self.registered.remove(user.as_str()).await?;
        Ok(())
    }

    /// The last known membership of `user` in `room`.
    pub async fn membership(
        &self,
        room: &RoomId,
        user: &UserId,
    ) -> Result<Option<MembershipState>, StoreError> {
        Ok(self
            .membership
            .get(membership_key(room, user))
            .await?
            .map(|v| MembershipState::from(String::from_utf8_lossy(&v).as_ref())))
    }

    /// Remembers the membership of `user` in `room`.
    pub async fn set_membership(
        &self,
        room: &RoomId,
        user: &UserId,
        membership: &MembershipState,
    ) -> Result<(), StoreError> {
        self.membership
            .insert(membership_key(room, user), membership.as_str().as_bytes())
            .await?;
        Ok(())
    }

    /// Forgets what is known of `user` in `room` (the next `ensure_joined` asks).
    pub async fn forget_membership(&self, room: &RoomId, user: &UserId) -> Result<(), StoreError> {
        self.membership.remove(membership_key(room, user)).await?;
        Ok(())
    }

    /// The display name last set through an intent.
    pub async fn display_name(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        Ok(self
            .display_name
            .get(user.as_str())
            .await?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Remembers the display name of `user`.
    pub async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), StoreError> {
        self.display_name
            .insert(user.as_str(), name.as_bytes())
            .await?;
        Ok(())
    }
}

/// The client acting as one user, with preconditions made true on demand.
/// Derefs to [`AsUser`] for every API call.
#[derive(Debug, Clone)]
pub struct Intent {
    api: AsUser,
    user_id: OwnedUserId,
    is_bot: bool,
    cache: IntentCache,
}

impl std::ops::Deref for Intent {
    type Target = AsUser;
    fn deref(&self) -> &AsUser {
        &self.api
    }
}

impl Intent {
    /// An intent acting as `user_id` (refused with
    /// [`ClientError::NotInNamespace`] when not ours), remembering in `store`.
    /// In a handler, [`AppContext::intent`](crate::AppContext::intent) reuses
    /// the cache it opened once.
    pub fn new(client: &Client, store: &Store, user_id: &UserId) -> Result<Self, IntentError> {
        Self::with_cache(client, IntentCache::open(store)?, user_id)
    }

    /// An intent acting as `user_id` with an already opened cache.
    pub fn with_cache(
        client: &Client,
        cache: IntentCache,
        user_id: &UserId,
    ) -> Result<Self, IntentError> {
        let api = client.as_user(user_id)?;
        let is_bot = user_id.localpart() == client.registration().sender_localpart;
        Ok(Intent {
            api,
            user_id: user_id.to_owned(),
            is_bot,
            cache,
        })
    }

    /// The user acted as.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The cache this intent reads and feeds.
    pub fn cache(&self) -> &IntentCache {
        &self.cache
    }

    /// The plain client for this user, without the caches.
    pub fn api(&self) -> &AsUser {
        &self.api
    }

    /// Registers the user unless known to be registered (the bot always is).
    pub async fn ensure_registered(&self) -> Result<(), IntentError> {
        if self.is_bot || self.cache.is_registered(&self.user_id).await? {
            return Ok(());
        }
        self.api.register().await?;
        self.cache.set_registered(&self.user_id).await?;
        Ok(())
    }

    /// Makes the user a member of `room`: nothing to do when the cache says
    /// so; otherwise registers it, joins, and if joining is refused has the
    /// bot invite it and joins again. A ban is reported, never lifted. When
    /// that fails for a ghost the cache said was registered, the cache was
    /// stale (a reset homeserver): it registers the ghost and tries once more.
    pub async fn ensure_joined(&self, room: &RoomId) -> Result<(), IntentError> {
        if self.cache.membership(room, &self.user_id).await? == Some(MembershipState::Join) {
            return Ok(());
        }
        let was_registered = !self.is_bot && self.cache.is_registered(&self.user_id).await?;
        match self.join_with_help(room).await {
            Err(IntentError::CannotJoin { .. }) if was_registered => {
                tracing::info!(user = %self.user_id, room = %room, "cannot join although known to be registered; registering again");
                self.cache.forget_registered(&self.user_id).await?;
                self.join_with_help(room).await
            }
            other => other,
        }
    }

    /// Registers (unless known), joins, and on a refusal has the bot invite.
    async fn join_with_help(&self, room: &RoomId) -> Result<(), IntentError> {
        self.ensure_registered().await?;
        let first = match self.api.join_room(room.into(), &[]).await {
            Ok(_) => return self.joined(room).await,
            Err(e) => e,
        };
        if self.is_bot || first.status() != Some(403) {
            return Err(self.cannot_join(room, first));
        }
        // Let the bot in first, then have it check for a ban and invite.
        let bot_id = self.api.client().as_bot().me()?;
        let bot = Intent::with_cache(self.api.client(), self.cache.clone(), &bot_id)?;
        if let Err(e) = bot.join_once(room).await {
            return Err(self.cannot_join(room, e));
        }
        let member: Option<Value> = bot
            .state_event_opt(room, "m.room.member", self.user_id.as_str())
            .await?;
        if member.as_ref().and_then(|m| m["membership"].as_str()) == Some("ban") {
            self.cache
                .set_membership(room, &self.user_id, &MembershipState::Ban)
                .await?;
            return Err(IntentError::Banned {
                user_id: self.user_id.clone(),
                room_id: room.to_owned(),
            });
        }
        if let Err(e) = bot.invite(room, &self.user_id, None).await {
            return Err(self.cannot_join(room, e));
        }
        match self.api.join_room(room.into(), &[]).await {
            Ok(_) => self.joined(room).await,
            Err(e) => Err(self.cannot_join(room, e)),
        }
    }

    /// Joins without inviting (what the bot itself does).
    async fn join_once(&self, room: &RoomId) -> Result<(), ClientError> {
        if matches!(
            self.cache.membership(room, &self.user_id).await,
            Ok(Some(MembershipState::Join))
        ) {
            return Ok(());
        }
        self.api.join_room(room.into(), &[]).await?;
        if let Err(e) = self
            .cache
            .set_membership(room, &self.user_id, &MembershipState::Join)
            .await
        {
            tracing::warn!(error = %e, "cannot remember a join");
        }
        Ok(())
    }

    async fn joined(&self, room: &RoomId) -> Result<(), IntentError> {
        self.cache
            .set_membership(room, &self.user_id, &MembershipState::Join)
            .await?;
        Ok(())
    }

    fn cannot_join(&self, room: &RoomId, source: ClientError) -> IntentError {
        IntentError::CannotJoin {
            user_id: self.user_id.clone(),
            room_id: room.to_owned(),
            source: Box::new(source),
        }
    }

    /// Sets the user's global display name unless it was already set to `name`.
    pub async fn ensure_display_name(&self, name: &str) -> Result<(), IntentError> {
        if self.cache.display_name(&self.user_id).await?.as_deref() == Some(name) {
            return Ok(());
        }
        self.ensure_registered().await?;
        self.api.set_display_name(name).await?;
        self.cache.set_display_name(&self.user_id, name).await?;
        Ok(())
    }

    /// Sends an event into `room` as this user (`PUT
    /// /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`), joining
    /// first when not known to be a member. A `403 M_FORBIDDEN` while the
    /// cache said "joined" means the cache was stale: its entries go, the
    /// user registers and joins again, and the send is made once more with
    /// the same txnId (so it cannot be made twice).
    pub async fn send(
        &self,
        room: &RoomId,
        event_type: &str,
        content: &(impl serde::Serialize + ?Sized),
    ) -> Result<OwnedEventId, IntentError> {
        let cached =
            self.cache.membership(room, &self.user_id).await? == Some(MembershipState::Join);
        self.ensure_joined(room).await?;
        let txn_id = self.api.txn_id()?;
        let first = match self
            .api
            .send_with_txn_id(room, event_type, &txn_id, content)
            .await
        {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if !(cached && first.is_forbidden()) {
            return Err(first.into());
        }
        tracing::info!(user = %self.user_id, room = %room, error = %first, "send refused although known to be joined; joining again");
        self.cache.forget_membership(room, &self.user_id).await?;
        if !self.is_bot {
            self.cache.forget_registered(&self.user_id).await?;
        }
        self.ensure_joined(room).await?;
        Ok(self
            .api
            .send_with_txn_id(room, event_type, &txn_id, content)
            .await?)
    }

    /// Sends an `m.text` message as this user, like [`Intent::send`].
    pub async fn send_text(&self, room: &RoomId, body: &str) -> Result<OwnedEventId, IntentError> {
        self.send(
            room,
            "m.room.message",
            &serde_json::json!({"msgtype": "m.text", "body": body}),
        )
        .await
    }

    /// Sends an `m.notice` as this user, like [`Intent::send`].
    pub async fn send_notice(
        &self,
        room: &RoomId,
        body: &str,
    ) -> Result<OwnedEventId, IntentError> {
        self.send(
            room,
            "m.room.message",
            &serde_json::json!({"msgtype": "m.notice", "body": body}),
        )
        .await
    }

    /// Joins (like [`AsUser::join_room`]) and remembers it.
    pub async fn join_room(
        &self,
        room: &RoomOrAliasId,
        via: &[&str],
    ) -> Result<OwnedRoomId, IntentError> {
        self.ensure_registered().await?;
        let room_id = self.api.join_room(room, via).await?;
        self.joined(&room_id).await?;
        Ok(room_id)
    }

    /// Leaves (like [`AsUser::leave`]) and remembers it.
    pub async fn leave(&self, room: &RoomId, reason: Option<&str>) -> Result<(), IntentError> {
        self.api.leave(room, reason).await?;
        self.cache
            .set_membership(room, &self.user_id, &MembershipState::Leave)
            .await?;
        Ok(())
    }
}

impl IntentCache {
    /// Learns from one received event: an `m.room.member` event about a
    /// user `is_ours` says is the bot or a ghost records that membership,
    /// and a new `m.room.power_levels` or `m.room.create` of a room whose
    /// power is cached replaces the cached one.
    /// [`AppContext::observe`](crate::AppContext::observe) calls it for every
    /// event of every transaction, in order, before the handler.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use ghostkit::event::{Event, EventKind};
    /// use ghostkit::intent::IntentCache;
    /// use ghostkit::ruma::common::{room_id, user_id};
    /// use ghostkit::prelude::MembershipState;
    /// let cache = IntentCache::open(&ghostkit::Store::temporary()?)?;
    /// let raw = serde_json::value::RawValue::from_string(r#"{"type":"m.room.member","state_key":"@_t_a:example.org",
    ///   "event_id":"$e","room_id":"!r:example.org","sender":"@_t_a:example.org","content":{"membership":"join"}}"#.into())?;
    /// cache.observe(&Event::from_raw(EventKind::Timeline, &raw)?, |u| u.as_str().starts_with("@_t_")).await?;
    /// assert_eq!(cache.membership(room_id!("!r:example.org"), user_id!("@_t_a:example.org")).await?, Some(MembershipState::Join));
    /// # Ok(()) }
    /// ```
    pub async fn observe(
        &self,
        event: &Event,
        is_ours: impl Fn(&UserId) -> bool,
    ) -> Result<(), StoreError> {
        self.observe_power(event).await?;
        if event.kind() != EventKind::Timeline || event.event_type() != "m.room.member" {
            return Ok(());
        }
        let (Some(room), Some(key)) = (event.room_id(), event.state_key()) else {
            return Ok(());
        };
        let Ok(user) = <&UserId>::try_from(key) else {
            return Ok(());
        };
        if !is_ours(user) {
            return Ok(());
        }
        #[derive(serde::Deserialize)]
        struct Member {
            membership: MembershipState,
        }
        let Ok(member) = event.content::<Member>() else {
            return Ok(());
        };
        self.set_membership(room, user, &member.membership).await
    }
}
