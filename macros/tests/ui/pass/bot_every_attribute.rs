use ghostkit::prelude::*;

/// Commands.
#[derive(Debug, Command)]
#[command(rename_all = "kebab-case", case_sensitive)]
enum MyCommands {
    /// Rolls.
    #[command(aliases = ["r"], example = "2d6 3")]
    Roll { dice: String, times: Option<u8> },
    /// Sets the topic.
    SetTopic {
        #[command(rest)]
        topic: Option<String>,
    },
    #[command(name = "ping", hidden)]
    Alive,
}

#[derive(Bot, Default)]
#[bot(prefix = "!", command = MyCommands, ignore_own_ghosts, auto_join, order = "per_sender")]
#[bot(ignore_senders = ["@spam.*:example\\.org"], ignore_rooms = ["!quiet:example\\.org"])]
#[bot(event("org.example.ping" = on_ping, "org.example.pong" = on_pong))]
struct MyBot {
    seen: std::sync::atomic::AtomicUsize,
}

impl MyBot {
    async fn on_ping(&self, _ctx: &Context) -> HandlerResult {
        Ok(())
    }
    async fn on_pong(&self, _ctx: &Context) -> HandlerResult {
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Bot for MyBot {
    async fn on_message(&self, _ctx: &Context, _msg: RoomMessageEventContent) -> HandlerResult {
        self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Commands<MyCommands> for MyBot {
    async fn on_command(&self, ctx: &Context, cmd: MyCommands) -> HandlerResult {
        if let MyCommands::Alive = cmd {
            ctx.reply_notice("yes").await?;
        }
        Ok(())
    }
}

fn takes_handler<H: Handler>(_: H) {}

fn main() {
    takes_handler(MyBot::default());
}
