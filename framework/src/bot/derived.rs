//! Bots made with `#[derive(ghostkit::Bot)]`: the [`Bot`] trait the author
//! implements, [`Commands`] for typed commands, and the [`Handler`] every
//! derived bot gets.
//!
//! See [`Bot`] for why derived bots implement a trait of their own.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use ruma_common::thirdparty::{Location, Protocol, User};
use ruma_common::{RoomAliasId, UserId};
use ruma_events::reaction::ReactionEventContent;
use ruma_events::room::member::RoomMemberEventContent;
use ruma_events::room::message::{MessageType, RoomMessageEventContent};

use super::{route, AppContext, Context, Handler, HandlerError, HandlerResult};
use crate::command::{Command, CommandError, Outcome};
use crate::router::DispatchOrder;

/// A boxed, sendable future, as the generated routing code returns them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a bot with `#[derive(ghostkit::Bot)]` implements: one async method per
/// event family, each with a default that does nothing.
///
/// The methods mean what the [`Handler`] methods of the same name mean; the
/// derived [`Handler`] calls them after applying the `#[bot(...)]` attributes
/// (see [`derive@crate::Bot`]).
///
/// # Why a second trait
///
/// The derive has to put filters, auto-join, command parsing and custom
/// event types *in front of* the author's methods. Rust has no
/// specialization, so a type cannot both implement [`Handler`] itself and get
/// a framework-made wrapper picked automatically by
/// [`Appservice::start`](crate::Appservice::start) (a blanket "anything that
/// is a `Handler`" impl overlaps with the derived one). So the roles are
/// split, as with serde's `Serialize` derive and trait:
///
/// - the author implements [`Bot`]: the same methods as [`Handler`], with the
///   same defaults (moving a hand-written handler to the derive is renaming
///   `impl Handler` to `impl Bot`; a [`Handler::dispatch_order`] becomes
///   `#[bot(order = "…")]`);
/// - the derive implements a hidden trait, [`Routing`], holding the
///   attributes compiled into code;
/// - ghostkit implements [`Handler`] for every `Bot + Routing` type, so a
///   derived bot goes to [`Appservice::start`](crate::Appservice::start) and
///   [`cli::run`](crate::cli::run) as it is.
///
/// A hand-written [`Handler`] keeps working unchanged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Bot` but does not implement the `Bot` trait",
    label = "add `#[ghostkit::async_trait] impl ghostkit::Bot for {Self} {{}}` (with the methods you need)"
)]
#[async_trait]
pub trait Bot: Send + Sync + 'static {
    /// See [`Handler::on_start`]: before any event; an error stops the start.
    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        let _ = app;
        Ok(())
    }

    /// See [`Handler::on_stop`]: when the appservice stops.
    async fn on_stop(&self, app: &AppContext) {
        let _ = app;
    }

    /// An `m.room.message` that is not a command of the bot.
    async fn on_message(&self, ctx: &Context, content: RoomMessageEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An `m.room.member` event for any user.
    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        let _ = (ctx, content);
        Ok(())
    }

    /// An invite of the bot or one of its ghosts (after the auto-join, if on).
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

    /// Any other room event not routed by `#[bot(event(...))]`.
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

    /// MSC3202 device data.
    async fn on_device_data(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// See [`Handler::query_user`]. Default: no.
    async fn query_user(&self, app: &AppContext, user_id: &UserId) -> Result<bool, HandlerError> {
        let _ = (app, user_id);
        Ok(false)
    }

    /// See [`Handler::query_room_alias`]. Default: no.
    async fn query_room_alias(
        &self,
        app: &AppContext,
        alias: &RoomAliasId,
    ) -> Result<bool, HandlerError> {
        let _ = (app, alias);
        Ok(false)
    }

    /// See [`Handler::thirdparty_protocol`]. Default: `None`.
    async fn thirdparty_protocol(
        &self,
        app: &AppContext,
        protocol: &str,
    ) -> Result<Option<Protocol>, HandlerError> {
        let _ = (app, protocol);
        Ok(None)
    }

    /// See [`Handler::thirdparty_location`]. Default: nothing.
    async fn thirdparty_location(
        &self,
        app: &AppContext,
        protocol: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Location>, HandlerError> {
        let _ = (app, protocol, fields);
        Ok(Vec::new())
    }

    /// See [`Handler::thirdparty_user`]. Default: nothing.
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

/// The commands of a bot with `#[bot(command = C)]`: called with each
/// message that parses as a `C`.
///
/// `!help` is answered for you from the doc comments of `C`, and a command
/// said wrong gets its [`CommandError`] as a notice (override
/// [`Commands::on_command_error`] to change that).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[bot(command = {C})]` but does not implement `Commands<{C}>`",
    label = "add `#[ghostkit::async_trait] impl ghostkit::Commands<{C}> for {Self} {{ async fn on_command(&self, ctx: &Context, cmd: {C}) -> HandlerResult {{ … }} }}`"
)]
#[async_trait]
pub trait Commands<C: Command>: Send + Sync + 'static {
    /// A message that parsed as the command `cmd`.
    async fn on_command(&self, ctx: &Context, cmd: C) -> HandlerResult;

    /// A message that starts with the prefix but is not a valid command.
    /// Default: the error's message as a notice in the room.
    async fn on_command_error(&self, ctx: &Context, error: CommandError) -> HandlerResult {
        ctx.reply_notice(&error.to_string()).await?;
        Ok(())
    }
}

/// What `#[derive(ghostkit::Bot)]` generates from the `#[bot(...)]`
/// attributes. Not implemented by hand; every item has the default of the
/// attribute being absent.
#[doc(hidden)]
pub trait Routing: Send + Sync + 'static {
    /// `ignore_own_ghosts`.
    const IGNORE_OWN_GHOSTS: bool = false;
    /// `auto_join`.
    const AUTO_JOIN: bool = false;
    /// `order = "…"`.
    const DISPATCH_ORDER: DispatchOrder = DispatchOrder::PerRoom;

    /// `ignore_senders = [...]`.
    fn ignores_sender(&self, sender: &str) -> bool {
        let _ = sender;
        false
    }

    /// `ignore_rooms = [...]`.
    fn ignores_room(&self, room: &str) -> bool {
        let _ = room;
        false
    }

    /// `event("type" = method, ...)`: one `match` on the type.
    fn route_custom<'a>(&'a self, ctx: &'a Context) -> Option<BoxFuture<'a, HandlerResult>> {
        let _ = ctx;
        None
    }

    /// `command = C` with `prefix = "..."`: `None` when `body` is no command.
    fn route_command<'a>(
        &'a self,
        ctx: &'a Context,
        body: &'a str,
    ) -> Option<BoxFuture<'a, HandlerResult>> {
        let _ = (ctx, body);
        None
    }
}

/// The body of a derived [`Routing::route_command`].
#[doc(hidden)]
pub fn route_command<'a, B, C>(
    bot: &'a B,
    ctx: &'a Context,
    prefix: &'static str,
    body: &'a str,
) -> Option<BoxFuture<'a, HandlerResult>>
where
    B: Commands<C>,
    C: Command,
{
    Some(match C::outcome(prefix, body)? {
        Outcome::Command(cmd) => bot.on_command(ctx, cmd),
        Outcome::Error(e) => bot.on_command_error(ctx, e),
        Outcome::Help(text) => Box::pin(async move {
            ctx.reply_notice(&text).await?;
            Ok(())
        }),
    })
}

/// The `^(?:…)$` set of `ignore_senders` / `ignore_rooms` (the derive has
/// checked every pattern, so this does not fail; if it did, nothing matches).
#[doc(hidden)]
pub fn anchored_set(patterns: &[&str]) -> regex::RegexSet {
    regex::RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$")))
        .unwrap_or_else(|_| regex::RegexSet::empty())
}

#[async_trait]
impl<T: Bot + Routing> Handler for T {
    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        Bot::on_start(self, app).await
    }

    async fn on_stop(&self, app: &AppContext) {
        Bot::on_stop(self, app).await
    }

    fn dispatch_order(&self) -> DispatchOrder {
        T::DISPATCH_ORDER
    }

    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        let ev = ctx.event();
        if let Some(sender) = ev.sender() {
            let sender = sender.as_str();
            if (T::IGNORE_OWN_GHOSTS && ctx.is_ours(sender)) || self.ignores_sender(sender) {
                return Ok(());
            }
        }
        if let Some(room) = ev.room_id() {
            if self.ignores_room(room.as_str()) {
                return Ok(());
            }
        }
        if let Some(custom) = self.route_custom(ctx) {
            return custom.await;
        }
        route(self, ctx).await
    }

    async fn on_message(&self, ctx: &Context, content: RoomMessageEventContent) -> HandlerResult {
        if let MessageType::Text(text) = &content.msgtype {
            if let Some(command) = self.route_command(ctx, &text.body) {
                return command.await;
            }
        }
        Bot::on_message(self, ctx, content).await
    }

    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        Bot::on_membership(self, ctx, content).await
    }

    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        if T::AUTO_JOIN && invitee.as_str() == ctx.bot_user_id() {
            if let Some(room) = ctx.event().room_id() {
                ctx.intent_for_bot()?.join_room(room.into(), &[]).await?;
            }
        }
        Bot::on_invite(self, ctx, invitee).await
    }

    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        Bot::on_state(self, ctx).await
    }

    async fn on_redaction(&self, ctx: &Context) -> HandlerResult {
        Bot::on_redaction(self, ctx).await
    }

    async fn on_reaction(&self, ctx: &Context, content: ReactionEventContent) -> HandlerResult {
        Bot::on_reaction(self, ctx, content).await
    }

    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        Bot::on_other(self, ctx).await
    }

    async fn on_ephemeral(&self, ctx: &Context) -> HandlerResult {
        Bot::on_ephemeral(self, ctx).await
    }

    async fn on_to_device(&self, ctx: &Context) -> HandlerResult {
        Bot::on_to_device(self, ctx).await
    }

    async fn on_device_data(&self, ctx: &Context) -> HandlerResult {
        Bot::on_device_data(self, ctx).await
    }

    async fn query_user(&self, app: &AppContext, user_id: &UserId) -> Result<bool, HandlerError> {
        Bot::query_user(self, app, user_id).await
    }

    async fn query_room_alias(
        &self,
        app: &AppContext,
        alias: &RoomAliasId,
    ) -> Result<bool, HandlerError> {
        Bot::query_room_alias(self, app, alias).await
    }

    async fn thirdparty_protocol(
        &self,
        app: &AppContext,
        protocol: &str,
    ) -> Result<Option<Protocol>, HandlerError> {
        Bot::thirdparty_protocol(self, app, protocol).await
    }

    async fn thirdparty_location(
        &self,
        app: &AppContext,
        protocol: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Location>, HandlerError> {
        Bot::thirdparty_location(self, app, protocol, fields).await
    }

    async fn thirdparty_user(
        &self,
        app: &AppContext,
        protocol: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<User>, HandlerError> {
        Bot::thirdparty_user(self, app, protocol, fields).await
    }
}
