//! The parts of the running appservice every handler can use: the client,
//! the store, the registration, the server name, and the intents' cache,
//! opened once and fed from every transaction ([`AppContext::observe`]).

use std::sync::{Arc, OnceLock};

use ruma_common::{IdParseError, OwnedServerName, OwnedUserId, RoomId, ServerName, UserId};

use crate::client::Client;
use crate::event::Event;
use crate::intent::{Intent, IntentCache, IntentError};
use crate::metrics::Metrics;
use crate::power::{PowerError, RoomPower};
use crate::registration::Registration;
use crate::store::{Store, StoreError};

/// The parts of the running appservice every handler can use; cheap to clone.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ghostkit::prelude::*;
/// let reg = Registration::from_yaml("id: t\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces:\n  users: [{regex: '@_t_.*:example\\.org', exclusive: true}]\n")?;
/// let reg = std::sync::Arc::new(reg);
/// let client = Client::new("http://127.0.0.1:1", reg.clone())?;
/// let app = AppContext::new(client, Store::temporary()?, reg, "example.org".try_into()?)?;
/// assert_eq!(app.bot_user_id(), "@bot:example.org");
/// assert!(app.is_ours(&UserId::parse("@_t_ghost:example.org")?));
/// assert!(!app.is_ours(&UserId::parse("@alice:example.org")?));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AppContext {
    inner: Arc<AppShared>,
}

#[derive(Debug)]
struct AppShared {
    client: Client,
    store: Store,
    registration: Arc<Registration>,
    server_name: OwnedServerName,
    bot_user_id: OwnedUserId,
    intents: OnceLock<IntentCache>,
}

impl AppContext {
    /// Puts the shared parts together (done by [`crate::Appservice`]);
    /// fails when the registration's `sender_localpart` makes no user ID
    /// on `server_name`.
    pub fn new(
        client: Client,
        store: Store,
        registration: Arc<Registration>,
        server_name: OwnedServerName,
    ) -> Result<Self, IdParseError> {
        let bot_user_id = registration.bot_user_id(&server_name)?;
        Ok(AppContext {
            inner: Arc::new(AppShared {
                client,
                store,
                registration,
                server_name,
                bot_user_id,
                intents: OnceLock::new(),
            }),
        })
    }

    /// The as_token client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The appservice's metrics (those of its client), served at
    /// `/metrics`; a bot adds its own with [`Metrics::register`].
    ///
    /// ```
    /// # fn demo(app: &ghostkit::AppContext) -> Result<(), ghostkit::metrics::MetricsError> {
    /// use ghostkit::metrics::prometheus_client::metrics::counter::Counter;
    /// let relayed: Counter = Counter::default();
    /// app.metrics().register("mybot_relayed", "Messages relayed", relayed.clone())?;
    /// relayed.inc();
    /// assert!(app.metrics().encode().contains("mybot_relayed_total 1"));
    /// # Ok(()) }
    /// # let reg = ghostkit::Registration::from_yaml("id: t\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces: {}\n").unwrap();
    /// # let reg = std::sync::Arc::new(reg);
    /// # let client = ghostkit::Client::new("http://127.0.0.1:1", reg.clone()).unwrap();
    /// # let app = ghostkit::AppContext::new(client, ghostkit::Store::temporary().unwrap(), reg, ghostkit::ruma::common::server_name!("example.org").to_owned()).unwrap();
    /// # demo(&app).unwrap();
    /// ```
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.inner.client.metrics()
    }

    /// The on-disk store, for the bot's own data too.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The registration in force.
    pub fn registration(&self) -> &Registration {
        &self.inner.registration
    }

    /// The homeserver's server name (`example.org`).
    pub fn server_name(&self) -> &ServerName {
        &self.inner.server_name
    }

    /// The appservice's own bot user ID.
    pub fn bot_user_id(&self) -> &UserId {
        &self.inner.bot_user_id
    }

    /// Whether `user_id` is the bot or one of its ghosts.
    pub fn is_ours(&self, user_id: &UserId) -> bool {
        self.registration()
            .may_act_as(user_id.as_str(), Some(self.server_name().as_str()))
    }

    /// What intents remember (registrations, memberships, display names),
    /// opened once.
    pub fn intents(&self) -> Result<&IntentCache, StoreError> {
        if let Some(cache) = self.inner.intents.get() {
            return Ok(cache);
        }
        let cache = IntentCache::open(self.store())?;
        Ok(self.inner.intents.get_or_init(|| cache))
    }

    /// An [`Intent`] acting as `user_id` (a ghost or the bot); refused
    /// before any request when the user is not ours.
    pub fn intent(&self, user_id: &UserId) -> Result<Intent, IntentError> {
        Intent::with_cache(self.client(), self.intents()?.clone(), user_id)
    }

    /// An [`Intent`] acting as the appservice's bot user.
    pub fn intent_for_bot(&self) -> Result<Intent, IntentError> {
        self.intent(self.bot_user_id())
    }

    /// `room`'s power levels and creators: from the cache, or read from
    /// the homeserver (the room's state, as the bot) when not cached yet,
    /// then kept fresh from the transactions.
    pub async fn room_power(&self, room: &RoomId) -> Result<RoomPower, PowerError> {
        let cache = self.intents()?;
        if let Some(power) = cache.room_power(room).await? {
            return Ok(power);
        }
        let stored = crate::power::fetch(self.client(), room).await?;
        cache.set_power(room, &stored).await?;
        Ok(stored.power())
    }

    /// Whether `user` may send the state event `event_type` in `room`
    /// ([`AppContext::room_power`]).
    pub async fn may_send_state(
        &self,
        room: &RoomId,
        user: &UserId,
        event_type: &str,
    ) -> Result<bool, PowerError> {
        Ok(self
            .room_power(room)
            .await?
            .may_send_state(user, event_type))
    }

    /// Lets the intents' cache learn from an event of a transaction (a
    /// membership of the bot or a ghost); called for every event, in order,
    /// before its handler. Store failures are logged: the cache is a hint.
    pub async fn observe(&self, event: &Event) {
        let res = match self.intents() {
            Ok(c) => c.observe(event, |user| self.is_ours(user)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot record a membership in the intent cache");
        }
    }
}
