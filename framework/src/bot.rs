//! The one handler trait a bot implements, the layers composed around it
//! (commands, filters, auto-join, order), and the context each call gets.
//!
//! Every method of [`Handler`] has a default that does nothing, so a bot
//! implements only what it needs. [`Handler::on_event`] sees every item
//! first; its default routes by event family to the other methods
//! ([`route`]). What a bot does *around* its methods (parse commands with a
//! prefix, drop its own ghosts' events, join when invited, say its order) is
//! a value wrapped around the handler by [`HandlerExt`], itself a
//! [`Handler`]; a prefix or a guard read from the bot's config at run time
//! is one more call.
//!
//! ```
//! use ghostkit::prelude::*;
//!
//! /// The commands; the doc comments are the `!help`.
//! #[derive(Debug, PartialEq, Command)]
//! enum EchoCommand {
//!     /// Says the text back.
//!     Echo { #[command(rest, raw)] text: String },
//! }
//!
//! struct Echo;
//!
//! #[ghostkit::async_trait]
//! impl Handler<EchoCommand> for Echo {
//!     async fn on_command(&self, ctx: &Context, cmd: EchoCommand) -> HandlerResult {
//!         let EchoCommand::Echo { text } = cmd;
//!         ctx.reply_text(&text).await?;
//!         Ok(())
//!     }
//! }
//!
//! // What goes to `ghostkit::main` or `Appservice::start`: a `Handler` again.
//! fn handler() -> impl Handler {
//!     Echo.commands("!").auto_join()
//! }
//! # let _ = handler();
//! ```

mod commands;
mod compose;
mod context;
mod route;
mod setup;

use std::collections::BTreeMap;

use async_trait::async_trait;
use ruma_common::thirdparty::{Location, Protocol, User};
use ruma_common::{RoomAliasId, UserId};
use ruma_events::reaction::ReactionEventContent;
use ruma_events::room::member::RoomMemberEventContent;
use ruma_events::room::message::RoomMessageEventContent;

pub use crate::app::AppContext;
use crate::command::{Command, CommandError, CommandSpec};
use crate::router::DispatchOrder;

pub use commands::{Guard, Prefix, Verdict, WithCommands};
pub use compose::{AutoJoin, Filter, HandlerExt, Ordered};
pub use context::{Context, InRoom};
pub use route::route;
pub(crate) use setup::WithConfig;
pub use setup::{build, configured, BotConfig, Build, Configured, Setup};

/// What a handler returns on failure: any error (`anyhow::Error` converts).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult = Result<(), HandlerError>;

/// The handler trait: one async method per event family, each with a
/// default, and the typed commands `C` of the bot.
///
/// `C` is the bot's command enum (`#[derive(Command)]`); a handler without
/// commands leaves it out (`impl Handler for X`, which is
/// `Handler<NoCommands>`). A handler with commands gets them once it is
/// wrapped by [`HandlerExt::commands`], which parses each message, answers
/// `!help`, calls [`Handler::on_command`] and gives everything else to
/// [`Handler::on_event`]; the wrapped handler is a plain [`Handler`],
/// what [`Appservice::start`](crate::Appservice::start) takes.
///
/// Methods return [`HandlerResult`]; an error (or a panic) is logged with the
/// room and event ID and does not stop other rooms. See
/// [`crate::router::DispatchConfig`] for retries.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Handler<{C}>`",
    label = "add `#[ghostkit::async_trait] impl Handler<{C}> for {Self} {{ … }}` with the methods it needs",
    note = "a handler with commands is made a plain `Handler` by `.commands(\"!\")` (from `HandlerExt`)"
)]
#[async_trait]
pub trait Handler<C: Command = NoCommands>: Send + Sync + 'static {
    /// Called once by [`Appservice::start`](crate::Appservice::start) before
    /// any event is dispatched: spawn timers, check the config. An error
    /// stops the start. Default: nothing.
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
    /// on the order of events, here or with [`HandlerExt::order`].
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

    /// Every item of every transaction comes here first (after the layers
    /// around the handler: a command the [`HandlerExt::commands`] layer
    /// took does not). The default routes it by family to the methods
    /// below ([`route`]); override it to see events by type string, and
    /// call [`route`] for the rest.
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        route(self, ctx).await
    }

    /// A message that parsed as the command `cmd` (the handler is wrapped
    /// by [`HandlerExt::commands`]). Default: nothing.
    async fn on_command(&self, ctx: &Context, cmd: C) -> HandlerResult {
        let _ = (ctx, cmd);
        Ok(())
    }

    /// A message that starts with the prefix but is not a valid command.
    /// Default: the error's message, which says the fix, as a notice in
    /// the room.
    async fn on_command_error(&self, ctx: &Context, error: CommandError) -> HandlerResult {
        ctx.reply_notice(&error.to_string()).await?;
        Ok(())
    }

    /// An `m.room.message` event (text, notice, emote, media…) that is not
    /// a command of the bot.
    async fn on_message(&self, ctx: &Context, content: RoomMessageEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An `m.room.member` event for any user.
    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An invite of the bot or one of its ghosts (called after
    /// `on_membership`, and after the join of [`HandlerExt::auto_join`]).
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

/// The commands of a handler that has none: the default `C` of
/// [`Handler`]. It has no value, so [`Handler::on_command`] is never called
/// with one, and it parses nothing.
///
/// ```
/// use ghostkit::bot::NoCommands;
/// use ghostkit::command::Command;
/// assert!(NoCommands::parse("!", "!anything").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommands {}

impl Command for NoCommands {
    const COMMANDS: &'static [CommandSpec] = &[];

    fn parse(_prefix: &str, _text: &str) -> Option<Result<Self, CommandError>> {
        None
    }
}
