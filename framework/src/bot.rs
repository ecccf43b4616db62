//! The handler trait a bot implements, and the context each call gets.
//!
//! Every method has a default that does nothing, so a bot implements only
//! what it needs. [`Handler::on_event`] sees every item first; its default
//! routes by event family to the other methods.
//!
//! ```
//! use ghostkit::prelude::*;
//!
//! struct Echo;
//!
//! #[ghostkit::async_trait]
//! impl Handler for Echo {
//!     async fn on_message(&self, ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
//!         if let Some(text) = msg.body().strip_prefix("!echo ") {
//!             ctx.reply_text(text).await?;
//!         }
//!         Ok(())
//!     }
//! }
//! ```

use std::collections::BTreeMap;

use async_trait::async_trait;
use ruma_common::thirdparty::{Location, Protocol, User};
use ruma_common::{OwnedEventId, RoomAliasId, UserId};

pub use crate::app::AppContext;
use ruma_events::reaction::ReactionEventContent;
use ruma_events::room::member::{MembershipState, RoomMemberEventContent};
use ruma_events::room::message::RoomMessageEventContent;

use crate::client::ClientError;
use crate::event::{Event, EventKind};
use crate::router::DispatchOrder;

pub(crate) mod derived;
pub use derived::{Bot, BoxFuture, Commands};

/// What a handler returns on failure: any error (`anyhow::Error` converts).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult = Result<(), HandlerError>;

/// What one handler call gets: the shared parts and the event.
#[derive(Clone, Debug)]
pub struct Context {
    app: AppContext,
    event: Event,
}

impl std::ops::Deref for Context {
    type Target = AppContext;
    fn deref(&self) -> &AppContext {
        &self.app
    }
}

impl Context {
    /// A context for one event.
    pub fn new(app: AppContext, event: Event) -> Self {
        Context { app, event }
    }

    /// The event being handled.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The shared parts.
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// Sends a plain-text message as the bot into the event's room.
    pub async fn reply_text(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        let room = self.event.room_id().ok_or(ClientError::NoRoom)?;
        self.client().as_bot().send_text(room, body).await
    }

    /// Sends a notice (`m.notice`: bots do not answer notices, so no loops)
    /// as the bot into the event's room.
    pub async fn reply_notice(&self, body: &str) -> Result<OwnedEventId, ClientError> {
        let room = self.event.room_id().ok_or(ClientError::NoRoom)?;
        self.client().as_bot().send_notice(room, body).await
    }
}

/// The handler trait: one async method per event family, each with a default.
///
/// Methods return [`HandlerResult`]; an error (or a panic) is logged with the
/// room and event ID and does not stop other rooms. See
/// [`crate::router::DispatchConfig`] for retries.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Called once by [`Appservice::start`](crate::Appservice::start) before
    /// any event is dispatched: load state, spawn timers. An error stops the
    /// start. Default: nothing.
    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        let _ = app;
        Ok(())
    }

    /// Called once when the appservice stops ([`Running::stop`](crate::Running::stop)
    /// or the end of [`Running::wait`](crate::Running::wait)): stop what
    /// `on_start` spawned. Default: nothing.
    async fn on_stop(&self, app: &AppContext) {
        let _ = app;
    }

    /// In what order this handler needs a room's events: read once, when
    /// the appservice starts; [`DispatchConfig::order`](crate::router::DispatchConfig::order)
    /// (the `--dispatch-order` flag) overrides it. Default:
    /// [`DispatchOrder::PerRoom`], what a bridge needs; say
    /// [`DispatchOrder::Unordered`] when the handler's effects do not depend
    /// on the order of events (a derived bot says it with
    /// `#[bot(order = "unordered")]`).
    ///
    /// ```
    /// use ghostkit::prelude::*;
    ///
    /// struct Lookup;
    ///
    /// impl Handler for Lookup {
    ///     fn dispatch_order(&self) -> DispatchOrder {
    ///         DispatchOrder::Unordered
    ///     }
    /// }
    /// assert_eq!(Lookup.dispatch_order(), DispatchOrder::Unordered);
    /// ```
    fn dispatch_order(&self) -> DispatchOrder {
        DispatchOrder::PerRoom
    }

    /// Every item of every transaction comes here first. The default routes it
    /// by family to the methods below; override it to see events by type string.
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        route(self, ctx).await
    }

    /// An `m.room.message` event (text, notice, emote, media…).
    async fn on_message(&self, ctx: &Context, content: RoomMessageEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An `m.room.member` event for any user.
    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An invite of the bot or one of its ghosts (called after `on_membership`).
    /// `invitee` is the invited user of ours.
    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        let _ = (ctx, invitee);
        Ok(())
    }

    /// A state event other than membership.
    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// An `m.room.redaction` event.
    async fn on_redaction(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// An `m.reaction` event.
    async fn on_reaction(&self, ctx: &Context, content: ReactionEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// Any other room event (custom types included); see `ctx.event().event_type()`.
    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// An ephemeral event: `m.typing`, `m.receipt`, `m.presence` or other.
    async fn on_ephemeral(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// A to-device message (MSC2409).
    async fn on_to_device(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// MSC3202 device data: device lists, one-time key counts, fallback keys.
    async fn on_device_data(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// `GET /users/{userId}`: does this user of our namespace exist? To say
    /// yes, register the user first. Default: no.
    async fn query_user(&self, app: &AppContext, user_id: &UserId) -> Result<bool, HandlerError> {
        let _ = (app, user_id);
        Ok(false)
    }

    /// `GET /rooms/{roomAlias}`: does this alias of our namespace exist? To say
    /// yes, create the room with the alias first. Default: no.
    async fn query_room_alias(
        &self,
        app: &AppContext,
        alias: &RoomAliasId,
    ) -> Result<bool, HandlerError> {
        let _ = (app, alias);
        Ok(false)
    }

    /// `GET /thirdparty/protocol/{protocol}`: the protocol's metadata, or `None` (404).
    async fn thirdparty_protocol(
        &self,
        app: &AppContext,
        protocol: &str,
    ) -> Result<Option<Protocol>, HandlerError> {
        let _ = (app, protocol);
        Ok(None)
    }

    /// `GET /thirdparty/location[/{protocol}]`: portal rooms matching the
    /// fields (protocol `None` with an `alias` field is the reverse lookup).
    async fn thirdparty_location(
        &self,
        app: &AppContext,
        protocol: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Location>, HandlerError> {
        let _ = (app, protocol, fields);
        Ok(Vec::new())
    }

    /// `GET /thirdparty/user[/{protocol}]`: remote users matching the fields
    /// (protocol `None` with a `userid` field is the reverse lookup).
    async fn thirdparty_user(
        &self,
        app: &AppContext,
        protocol: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<User>, HandlerError> {
        let _ = (app, protocol, fields);
        Ok(Vec::new())
    }
}

/// The default routing of [`Handler::on_event`], callable from an override.
pub async fn route<H: Handler + ?Sized>(h: &H, ctx: &Context) -> HandlerResult {
    let ev = ctx.event();
    match ev.kind() {
        EventKind::Timeline => {}
        EventKind::Ephemeral => return h.on_ephemeral(ctx).await,
        EventKind::ToDevice => return h.on_to_device(ctx).await,
        _ => return h.on_device_data(ctx).await,
    }
    // Contents are parsed leniently: an optional field of the wrong type is
    // left out (the raw event keeps it) instead of dropping the event; one
    // whose required fields do not parse goes to `on_other` / `on_state`.
    match ev.event_type() {
        "m.room.message" if !ev.is_state() => {
            match lenient::<RoomMessageEventContent>(ev, &["msgtype", "body"]) {
                Some(content) => h.on_message(ctx, content).await,
                None => h.on_other(ctx).await,
            }
        }
        "m.room.member" if ev.is_state() => {
            let Some(content) = lenient::<RoomMemberEventContent>(ev, &["membership"]) else {
                return h.on_state(ctx).await;
            };
            let invite = content.membership == MembershipState::Invite;
            h.on_membership(ctx, content).await?;
            if invite {
                if let Some(invitee) = ev.state_key().and_then(|k| <&UserId>::try_from(k).ok()) {
                    if ctx.is_ours(invitee.as_str()) {
                        h.on_invite(ctx, invitee).await?;
                    }
                }
            }
            Ok(())
        }
        "m.room.redaction" => h.on_redaction(ctx).await,
        "m.reaction" => match lenient::<ReactionEventContent>(ev, &["m.relates_to"]) {
            Some(content) => h.on_reaction(ctx, content).await,
            None => h.on_other(ctx).await,
        },
        _ if ev.is_state() => h.on_state(ctx).await,
        _ => h.on_other(ctx).await,
    }
}

/// The content of `ev` parsed leniently ([`Event::content_lenient`]); what
/// was left out is logged.
fn lenient<T: serde::de::DeserializeOwned>(ev: &Event, required: &[&str]) -> Option<T> {
    match ev.content_lenient::<T>(required) {
        Ok(parsed) => {
            if !parsed.dropped.is_empty() {
                tracing::debug!(
                    event_id = ev.event_id_str(),
                    dropped = ?parsed.dropped,
                    "content fields of the wrong type left out"
                );
            }
            Some(parsed.content)
        }
        Err(e) => {
            tracing::debug!(event_id = ev.event_id_str(), error = %e, "content does not parse; routed as a raw event");
            None
        }
    }
}
