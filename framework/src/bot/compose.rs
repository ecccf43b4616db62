//! The layers composed around a handler: each wraps a [`Handler`] and is
//! one, so they stack in any order (`h.commands("!").auto_join()`).

use ruma_events::room::member::MembershipState;

use super::{Context, Handler, HandlerResult, Prefix, WithCommands};
use crate::command::{Command, CommandError};
use crate::router::DispatchOrder;

/// An `impl Handler<$c> for $ty` whose listed items are written out and
/// whose start, stop and query methods go to `self.inner`. A layer's
/// behaviour sits in `on_event` and, where it needs them, the command and
/// order methods; the homeserver's queries are never a layer's concern.
macro_rules! layer {
    (impl [$($gen:tt)*] Handler<$c:ty> for $ty:ty where [$($bounds:tt)*] { $($items:tt)* }) => {
        #[::async_trait::async_trait]
        impl<$($gen)*> $crate::bot::Handler<$c> for $ty
        where
            $($bounds)*
        {
            $($items)*

            async fn on_start(&self, app: &$crate::bot::AppContext) -> $crate::bot::HandlerResult {
                self.inner.on_start(app).await
            }

            async fn on_stop(&self, app: &$crate::bot::AppContext) {
                self.inner.on_stop(app).await
            }

            async fn query_user(&self, app: &$crate::bot::AppContext, user_id: &::ruma_common::UserId) -> Result<bool, $crate::bot::HandlerError> {
                self.inner.query_user(app, user_id).await
            }

            async fn query_room_alias(&self, app: &$crate::bot::AppContext, alias: &::ruma_common::RoomAliasId) -> Result<bool, $crate::bot::HandlerError> {
                self.inner.query_room_alias(app, alias).await
            }

            async fn thirdparty_protocol(&self, app: &$crate::bot::AppContext, protocol: &str) -> Result<Option<::ruma_common::thirdparty::Protocol>, $crate::bot::HandlerError> {
                self.inner.thirdparty_protocol(app, protocol).await
            }

            async fn thirdparty_location(
                &self,
                app: &$crate::bot::AppContext,
                protocol: Option<&str>,
                fields: &::std::collections::BTreeMap<String, String>,
            ) -> Result<Vec<::ruma_common::thirdparty::Location>, $crate::bot::HandlerError> {
                self.inner.thirdparty_location(app, protocol, fields).await
            }

            async fn thirdparty_user(
                &self,
                app: &$crate::bot::AppContext,
                protocol: Option<&str>,
                fields: &::std::collections::BTreeMap<String, String>,
            ) -> Result<Vec<::ruma_common::thirdparty::User>, $crate::bot::HandlerError> {
                self.inner.thirdparty_user(app, protocol, fields).await
            }
        }
    };
}
pub(super) use layer;

/// The layers, on every handler: `use ghostkit::prelude::*` brings them.
///
/// ```
/// use ghostkit::prelude::*;
///
/// struct Quiet;
/// impl Handler for Quiet {}
///
/// // A filter from run-time settings, then auto-join and an order.
/// let muted = vec!["@noisy:example.org".to_owned()];
/// let handler = Quiet
///     .filter(move |ctx: &Context| ctx.sender().is_none_or(|s| !muted.iter().any(|m| m == s.as_str())))
///     .ignore_own_ghosts()
///     .auto_join()
///     .order(DispatchOrder::Unordered);
/// assert_eq!(handler.dispatch_order(), DispatchOrder::Unordered);
/// ```
pub trait HandlerExt<C: Command>: Handler<C> + Sized {
    /// Parses each text message that starts with `prefix` as a `C`:
    /// [`Handler::on_command`] gets the command,
    /// [`Handler::on_command_error`] a command said wrong, `!help` is
    /// answered from the doc comments of `C`, and every other event goes
    /// to [`Handler::on_event`]. The prefix may come from config
    /// (`String`) and may have alternatives ([`Prefix::or`]); see
    /// [`WithCommands`] for guards.
    fn commands(self, prefix: impl Into<Prefix>) -> WithCommands<C, Self> {
        WithCommands::new(self, prefix.into())
    }

    /// Hands on only the events for which `keep` is true (their commands
    /// included); the rest are dropped before any method.
    fn filter<F>(self, keep: F) -> Filter<Self, F>
    where
        F: Fn(&Context) -> bool + Send + Sync + 'static,
    {
        Filter { inner: self, keep }
    }

    /// Drops the events sent by the bot or its ghosts, so that what the
    /// bot says never comes back to it.
    fn ignore_own_ghosts(self) -> Filter<Self, fn(&Context) -> bool> {
        fn not_ours(ctx: &Context) -> bool {
            ctx.sender().is_none_or(|s| !ctx.is_ours(s))
        }
        Filter {
            inner: self,
            keep: not_ours,
        }
    }

    /// Joins each room the bot user is invited to, before the handler sees
    /// the invite.
    fn auto_join(self) -> AutoJoin<Self> {
        AutoJoin { inner: self }
    }

    /// Says the order the handler needs ([`Handler::dispatch_order`]).
    fn order(self, order: DispatchOrder) -> Ordered<Self> {
        Ordered { inner: self, order }
    }
}

impl<C: Command, H: Handler<C>> HandlerExt<C> for H {}

/// A handler behind a filter: from [`HandlerExt::filter`] and
/// [`HandlerExt::ignore_own_ghosts`].
#[derive(Debug, Clone)]
pub struct Filter<H, F> {
    inner: H,
    keep: F,
}

layer! {
    impl [C: Command, H: Handler<C>, F] Handler<C> for Filter<H, F>
    where [F: Fn(&Context) -> bool + Send + Sync + 'static]
    {
        fn dispatch_order(&self) -> DispatchOrder {
            self.inner.dispatch_order()
        }

        async fn on_event(&self, ctx: &Context) -> HandlerResult {
            if (self.keep)(ctx) {
                self.inner.on_event(ctx).await
            } else {
                Ok(())
            }
        }

        async fn on_command(&self, ctx: &Context, cmd: C) -> HandlerResult {
            if (self.keep)(ctx) {
                self.inner.on_command(ctx, cmd).await
            } else {
                Ok(())
            }
        }

        async fn on_command_error(&self, ctx: &Context, error: CommandError) -> HandlerResult {
            if (self.keep)(ctx) {
                self.inner.on_command_error(ctx, error).await
            } else {
                Ok(())
            }
        }
    }
}

/// A handler that joins the rooms its bot user is invited to: from
/// [`HandlerExt::auto_join`].
#[derive(Debug, Clone)]
pub struct AutoJoin<H> {
    inner: H,
}

/// The one field of `m.room.member` content the auto-join reads.
#[derive(serde::Deserialize)]
struct Membership {
    membership: MembershipState,
}

layer! {
    impl [C: Command, H: Handler<C>] Handler<C> for AutoJoin<H>
    where []
    {
        fn dispatch_order(&self) -> DispatchOrder {
            self.inner.dispatch_order()
        }

        async fn on_event(&self, ctx: &Context) -> HandlerResult {
            let ev = ctx.event();
            if ev.event_type() == "m.room.member"
                && ev.state_key() == Some(ctx.bot_user_id().as_str())
                && ev.content::<Membership>().is_ok_and(|m| m.membership == MembershipState::Invite)
            {
                if let Some(room) = ev.room_id() {
                    ctx.intent_for_bot()?.join_room(room.into(), &[]).await?;
                }
            }
            self.inner.on_event(ctx).await
        }

        async fn on_command(&self, ctx: &Context, cmd: C) -> HandlerResult {
            self.inner.on_command(ctx, cmd).await
        }

        async fn on_command_error(&self, ctx: &Context, error: CommandError) -> HandlerResult {
            self.inner.on_command_error(ctx, error).await
        }
    }
}

/// A handler with its dispatch order said: from [`HandlerExt::order`].
#[derive(Debug, Clone)]
pub struct Ordered<H> {
    inner: H,
    order: DispatchOrder,
}

layer! {
    impl [C: Command, H: Handler<C>] Handler<C> for Ordered<H>
    where []
    {
        fn dispatch_order(&self) -> DispatchOrder {
            self.order
        }

        async fn on_event(&self, ctx: &Context) -> HandlerResult {
            self.inner.on_event(ctx).await
        }

        async fn on_command(&self, ctx: &Context, cmd: C) -> HandlerResult {
            self.inner.on_command(ctx, cmd).await
        }

        async fn on_command_error(&self, ctx: &Context, error: CommandError) -> HandlerResult {
            self.inner.on_command_error(ctx, error).await
        }
    }
}
