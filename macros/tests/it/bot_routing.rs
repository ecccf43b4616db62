//! A derived bot against the fake homeserver: filters, auto-join, commands
//! with help and errors, custom event types, and the rest by family.

use std::sync::Mutex;

use ghostkit::event::{Event, EventKind};
use ghostkit::prelude::*;
use ghostkit::testing::FakeHomeserver;
use serde_json::{json, Value};

/// Test commands.
#[derive(Debug, PartialEq, Command)]
enum TestCommand {
    /// Adds two numbers.
    #[command(example = "2 3")]
    Add { a: i64, b: i64 },
}

#[derive(Bot, Default)]
#[bot(prefix = "!", command = TestCommand, ignore_own_ghosts, auto_join)]
#[bot(ignore_senders = ["@spam.*:example\\.org"], ignore_rooms = ["!quiet:example\\.org"])]
#[bot(event("org.example.ping" = on_ping))]
struct TestBot {
    calls: Mutex<Vec<String>>,
}

impl TestBot {
    fn record(&self, what: String) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }

    async fn on_ping(&self, ctx: &Context) -> HandlerResult {
        self.record(format!("ping {}", ctx.event().event_type()));
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Bot for TestBot {
    async fn on_message(&self, _ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
        self.record(format!("message {}", msg.body()));
        Ok(())
    }

    async fn on_invite(&self, _ctx: &Context, invitee: &UserId) -> HandlerResult {
        self.record(format!("invite {invitee}"));
        Ok(())
    }

    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        self.record(format!("other {}", ctx.event().event_type()));
        Ok(())
    }
}

#[ghostkit::async_trait]
impl Commands<TestCommand> for TestBot {
    async fn on_command(&self, _ctx: &Context, cmd: TestCommand) -> HandlerResult {
        let TestCommand::Add { a, b } = cmd;
        self.record(format!("add {}", a + b));
        Ok(())
    }
}

const REG: &str = "id: t\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces:\n  users: [{regex: '@_t_.*:example\\.org', exclusive: true}, {regex: '@bot:example\\.org', exclusive: true}]\n";

struct Fixture {
    hs: FakeHomeserver,
    app: AppContext,
    bot: TestBot,
}

impl Fixture {
    async fn new() -> anyhow::Result<Fixture> {
        let hs = FakeHomeserver::start().await?;
        let reg = std::sync::Arc::new(Registration::from_yaml(REG)?);
        let client = Client::new(&hs.url(), reg.clone())?;
        client.set_server_name("example.org");
        let app = AppContext::new(client, Store::temporary()?, reg, "example.org".into());
        Ok(Fixture {
            hs,
            app,
            bot: TestBot::default(),
        })
    }

    async fn send(&self, event: Value) -> anyhow::Result<()> {
        let raw = serde_json::value::RawValue::from_string(event.to_string())?;
        let ev = Event::from_raw(EventKind::Timeline, &raw)?;
        Handler::on_event(&self.bot, &Context::new(self.app.clone(), ev))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The bodies of the notices the bot sent.
    fn notices(&self) -> Vec<String> {
        self.hs
            .requests_to("/send/m.room.message/")
            .iter()
            .filter_map(|r| r.json())
            .filter(|b| b["msgtype"] == "m.notice")
            .map(|b| b["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn text(sender: &str, room: &str, body: &str) -> Value {
    json!({"type": "m.room.message", "event_id": "$e", "room_id": room, "sender": sender,
           "content": {"msgtype": "m.text", "body": body}})
}

const ROOM: &str = "!r:example.org";
const ALICE: &str = "@alice:example.org";

#[tokio::test]
async fn commands_help_and_errors() -> anyhow::Result<()> {
    let f = Fixture::new().await?;
    f.send(text(ALICE, ROOM, "!add 2 40")).await?;
    f.send(text(ALICE, ROOM, "hello")).await?;
    assert_eq!(f.bot.take(), ["add 42", "message hello"]);

    f.send(text(ALICE, ROOM, "!add 2")).await?;
    f.send(text(ALICE, ROOM, "!help")).await?;
    assert!(f.bot.take().is_empty());
    let notices = f.notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(notices[0], "`!add` needs a b, e.g. `!add 2 3`");
    assert!(
        notices[1].contains("!add <a> <b> — Adds two numbers."),
        "{}",
        notices[1]
    );

    // A notice starting with the prefix is not a command (bots answer in notices).
    let mut notice = text(ALICE, ROOM, "!add 1 1");
    notice["content"]["msgtype"] = "m.notice".into();
    f.send(notice).await?;
    assert_eq!(f.bot.take(), ["message !add 1 1"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn filters_drop_events_before_any_method() -> anyhow::Result<()> {
    let f = Fixture::new().await?;
    f.send(text("@bot:example.org", ROOM, "!add 1 1")).await?;
    f.send(text("@_t_ghost:example.org", ROOM, "hello")).await?;
    f.send(text("@spammer:example.org", ROOM, "hello")).await?;
    f.send(text(ALICE, "!quiet:example.org", "hello")).await?;
    assert!(f.bot.take().is_empty());
    // Anchored: only whole IDs match.
    f.send(text("@xspam:example.org", ROOM, "kept")).await?;
    f.send(text(ALICE, "!quieter:example.org", "kept")).await?;
    assert_eq!(f.bot.take(), ["message kept", "message kept"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn custom_types_then_families() -> anyhow::Result<()> {
    let f = Fixture::new().await?;
    let custom = |t: &str| json!({"type": t, "event_id": "$c", "room_id": ROOM, "sender": ALICE, "content": {}});
    f.send(custom("org.example.ping")).await?;
    f.send(custom("org.example.other")).await?;
    assert_eq!(
        f.bot.take(),
        ["ping org.example.ping", "other org.example.other"]
    );
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn auto_join_accepts_invites_of_the_bot_only() -> anyhow::Result<()> {
    let f = Fixture::new().await?;
    let invite = |who: &str| {
        json!({"type": "m.room.member", "event_id": "$i", "room_id": ROOM, "sender": ALICE,
               "state_key": who, "content": {"membership": "invite"}})
    };
    f.send(invite("@bot:example.org")).await?;
    assert_eq!(f.hs.requests_to("/join/").len(), 1);
    f.send(invite("@_t_ghost:example.org")).await?;
    assert_eq!(f.hs.requests_to("/join/").len(), 1);
    assert_eq!(
        f.bot.take(),
        ["invite @bot:example.org", "invite @_t_ghost:example.org"]
    );
    f.hs.stop().await;
    Ok(())
}

/// A bot that says its events need no order.
#[derive(Bot, Default)]
#[bot(order = "unordered")]
struct Unordered;

#[ghostkit::async_trait]
impl Bot for Unordered {}

/// One ordered by sender.
#[derive(Bot, Default)]
#[bot(order = "per_sender")]
struct PerSender;

#[ghostkit::async_trait]
impl Bot for PerSender {}

#[test]
fn order_is_the_derived_handlers_dispatch_order() {
    assert_eq!(Unordered.dispatch_order(), DispatchOrder::Unordered);
    assert_eq!(PerSender.dispatch_order(), DispatchOrder::PerSender);
    // Absent: per room.
    assert_eq!(TestBot::default().dispatch_order(), DispatchOrder::PerRoom);
}
