//! Echo: joins rooms it is invited to and answers `!echo <text>` with `<text>`.
//!
//! ```text
//! REGISTRATION=echo-registration.yaml HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p echo
//! ```

use ghostkit::prelude::*;

struct Echo;

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

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let info = BotInfo {
        id: "echo",
        sender_localpart: "echo",
        user_prefix: None,
        alias_prefix: None,
        port: 9009,
    };
    if let Err(e) = ghostkit::cli::run(info, Echo).await {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
