//! Echo: joins rooms its bot user is invited to, and answers `!echo <text>`
//! with a message whose body is exactly `<text>`; `!help` lists the commands.
//!
//! Each answer depends only on its own command, so the bot asks for no
//! order ([`DispatchOrder::Unordered`]): the commands of a busy room are
//! answered concurrently, and answers to commands sent close together may
//! arrive in another order than the commands. `--dispatch-order per_room`
//! (or `GHOSTKIT_DISPATCH_ORDER=per_room`) answers them one after another.

use ghostkit::prelude::*;

/// What the command line needs to know about the bot.
pub const INFO: BotInfo = bot_info!("echo").port(9009);

/// The echo bot's commands; the doc comments are its `!help`.
#[derive(Debug, PartialEq, Command)]
pub enum EchoCommand {
    /// Says the text back, exactly as written.
    Echo {
        #[command(rest, raw)]
        text: String,
    },
}

/// The echo bot.
pub struct Echo;

#[ghostkit::async_trait]
impl Handler<EchoCommand> for Echo {
    async fn on_command(&self, ctx: &Context, cmd: EchoCommand) -> HandlerResult {
        let EchoCommand::Echo { text } = cmd;
        ctx.reply_text(&text).await?;
        Ok(())
    }
}

/// The bot as it runs: commands after `!`, its own messages ignored,
/// invites accepted, in no order.
pub fn handler() -> impl Handler {
    let echo = Echo.commands("!").ignore_own_ghosts().auto_join();
    echo.order(DispatchOrder::Unordered)
}
