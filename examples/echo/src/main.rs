//! Echo: joins rooms its bot user is invited to, and answers `!echo <text>`
//! with a message whose body is exactly `<text>`; `!help` lists the commands.
//! Commands from the bot itself or its ghosts are not taken, so an answer
//! that starts with `!echo` is not answered again.
//!
//! ```text
//! GHOSTKIT_REGISTRATION=echo-registration.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:8008 cargo run -p echo
//! ```
//!
//! The events of a room are handled one after another (the default
//! [`DispatchOrder::PerRoom`]); `--dispatch-order unordered` answers the
//! commands of a busy room concurrently.

use ghostkit::prelude::*;

/// The echo bot's commands; the doc comments are its `!help`.
#[derive(Debug, PartialEq, Command)]
enum EchoCommand {
    /// Says the text back, exactly as written.
    Echo {
        #[command(rest, raw)]
        text: String,
    },
}

/// The echo bot.
struct Echo;

#[ghostkit::async_trait]
impl Handler<EchoCommand> for Echo {
    async fn on_command(&self, ctx: &Context, cmd: EchoCommand) -> HandlerResult {
        let EchoCommand::Echo { text } = cmd;
        ctx.reply_text(&text).await?;
        Ok(())
    }
}

fn main() {
    ghostkit::main(bot_info!("echo"), Echo.commands("!").auto_join())
}
