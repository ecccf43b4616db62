//! Echo: joins rooms its bot user is invited to, and answers `!echo <text>`
//! with a message whose body is exactly `<text>`.

use ghostkit::prelude::*;

/// The echo bot.
#[derive(Debug, Default)]
pub struct Echo;

/// What the command line needs to know about the bot.
pub const INFO: BotInfo = BotInfo {
    id: "echo",
    sender_localpart: "echo",
    user_prefix: None,
    alias_prefix: None,
    port: 9009,
};

#[ghostkit::async_trait]
impl Handler for Echo {
    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        if let Some(room) = ctx.event().room_id() {
            ctx.client()
                .join(room.as_str(), Some(invitee.as_str()))
                .await?;
        }
        Ok(())
    }

    async fn on_message(&self, ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
        let from_us = ctx
            .event()
            .sender()
            .is_some_and(|s| ctx.is_ours(s.as_str()));
        if let (false, Some(text)) = (from_us, msg.body().strip_prefix("!echo ")) {
            ctx.reply_text(text).await?;
        }
        Ok(())
    }
}
