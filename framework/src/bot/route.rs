//! The default routing of [`Handler::on_event`]: an event to the method of
//! its family, its content parsed leniently.

use ruma_common::UserId;
use ruma_events::reaction::ReactionEventContent;
use ruma_events::room::member::{MembershipState, RoomMemberEventContent};
use ruma_events::room::message::RoomMessageEventContent;

use super::{Context, Handler, HandlerResult};
use crate::command::Command;
use crate::event::{Event, EventKind};

/// The default routing of [`Handler::on_event`], callable from an override:
/// `m.room.message` to [`Handler::on_message`], memberships to
/// [`Handler::on_membership`] (and invites of ours to
/// [`Handler::on_invite`]), and so on by family.
///
/// ```
/// use ghostkit::prelude::*;
///
/// struct Pings;
///
/// #[ghostkit::async_trait]
/// impl Handler for Pings {
///     async fn on_event(&self, ctx: &Context) -> HandlerResult {
///         if ctx.event().event_type() == "org.example.ping" {
///             return Ok(()); // handled here
///         }
///         ghostkit::bot::route(self, ctx).await
///     }
/// }
/// # let _ = Pings;
/// ```
pub async fn route<C: Command, H: Handler<C> + ?Sized>(h: &H, ctx: &Context) -> HandlerResult {
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
                if let Some(invitee) = invitee_of_ours(ctx) {
                    h.on_invite(ctx, invitee).await?;
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

/// The invited user when the event is an invite of one of ours.
pub(super) fn invitee_of_ours(ctx: &Context) -> Option<&UserId> {
    let ev = ctx.event();
    let invitee = ev.state_key().and_then(|k| <&UserId>::try_from(k).ok())?;
    ctx.is_ours(invitee).then_some(invitee)
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
