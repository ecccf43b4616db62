//! The handler layers against the in-process fake homeserver: commands with
//! help and errors, a run-time prefix, guards, filters, auto-join, order,
//! custom event types through `on_event`, and the rest by family.

use std::sync::{Arc, Mutex};

use ghostkit::bot::{Guard, Prefix, Verdict};
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

/// Records what each method saw.
#[derive(Default, Clone)]
struct TestBot {
    calls: Arc<Mutex<Vec<String>>>,
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
}

#[ghostkit::async_trait]
impl Handler<TestCommand> for TestBot {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        if ctx.event().event_type() == "org.example.ping" {
            self.record("ping".into());
            return Ok(());
        }
        ghostkit::bot::route(self, ctx).await
    }

    async fn on_command(&self, _ctx: &Context, cmd: TestCommand) -> HandlerResult {
        let TestCommand::Add { a, b } = cmd;
        self.record(format!("add {}", a + b));
        Ok(())
    }

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

const REG: &str = "id: t\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: bot\nnamespaces:\n  users: [{regex: '@_t_.*:example\\.org', exclusive: true}, {regex: '@bot:example\\.org', exclusive: true}]\n";

struct Fixture {
    hs: FakeHomeserver,
    app: AppContext,
}

impl Fixture {
    async fn new() -> Result<Fixture, HandlerError> {
        let hs = FakeHomeserver::start().await?;
        let reg = Arc::new(Registration::from_yaml(REG)?);
        let client = Client::new(&hs.url(), reg.clone())?;
        client.set_server_name(ghostkit::ruma::common::server_name!("example.org"));
        let app = AppContext::new(
            client,
            Store::temporary()?,
            reg,
            ghostkit::ruma::common::server_name!("example.org").to_owned(),
        )?;
        Ok(Fixture { hs, app })
    }

    async fn send(&self, h: &impl Handler, event: Value) -> Result<(), HandlerError> {
        let raw = serde_json::value::RawValue::from_string(event.to_string())?;
        let ev = Event::from_raw(EventKind::Timeline, &raw)?;
        h.on_event(&Context::new(self.app.clone(), ev)).await
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
async fn commands_help_and_errors() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let h = bot.clone().commands("!");
    f.send(&h, text(ALICE, ROOM, "!add 2 40")).await?;
    f.send(&h, text(ALICE, ROOM, "hello")).await?;
    assert_eq!(bot.take(), ["add 42", "message hello"]);

    f.send(&h, text(ALICE, ROOM, "!add 2")).await?;
    f.send(&h, text(ALICE, ROOM, "!help")).await?;
    assert!(bot.take().is_empty());
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
    f.send(&h, notice).await?;
    assert_eq!(bot.take(), ["message !add 1 1"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_prefix_from_config_with_alternatives() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let configured = String::from("calc: ");
    let h = bot.clone().commands(Prefix::new(configured).or("="));
    f.send(&h, text(ALICE, ROOM, "calc: add 1 2")).await?;
    f.send(&h, text(ALICE, ROOM, "=add 3 4")).await?;
    f.send(&h, text(ALICE, ROOM, "!add 5 6")).await?;
    assert_eq!(bot.take(), ["add 3", "add 7", "message !add 5 6"]);
    f.send(&h, text(ALICE, ROOM, "=help")).await?;
    let notices = f.notices();
    assert!(
        notices.last().is_some_and(|n| n.contains("=add <a> <b>")),
        "{notices:?}"
    );
    f.hs.stop().await;
    Ok(())
}

/// Lets only Alice run commands, and tells others why not.
struct OnlyAlice;

#[ghostkit::async_trait]
impl Guard for OnlyAlice {
    async fn check(&self, ctx: &Context) -> Verdict {
        match ctx.sender() {
            Some(s) if s.as_str() == ALICE => Verdict::Allow,
            _ => Verdict::Refuse("only Alice may".into()),
        }
    }
}

#[tokio::test]
async fn guards_allow_ignore_or_refuse_and_the_message_stays_a_message() -> Result<(), HandlerError>
{
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let refusing = bot.clone().commands("!").guard(OnlyAlice);
    f.send(&refusing, text(ALICE, ROOM, "!add 1 1")).await?;
    f.send(&refusing, text("@bob:example.org", ROOM, "!add 2 2"))
        .await?;
    assert_eq!(bot.take(), ["add 2", "message !add 2 2"]);
    assert_eq!(f.notices(), ["only Alice may"]);

    // A closure guard ignores silently, help included.
    let silent = bot
        .clone()
        .commands("!")
        .guard(|ctx: &Context| ctx.sender().is_some_and(|s| s.as_str() == ALICE));
    f.send(&silent, text("@bob:example.org", ROOM, "!help"))
        .await?;
    assert_eq!(bot.take(), ["message !help"]);
    assert_eq!(f.notices().len(), 1, "no help for Bob");
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn events_first_sees_the_commands_too() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let h = bot.clone().commands("!").events_first();
    f.send(&h, text(ALICE, ROOM, "!add 1 2")).await?;
    assert_eq!(bot.take(), ["message !add 1 2", "add 3"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn filters_drop_events_and_commands_before_any_method() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let muted = ["@spammer:example.org".to_owned()];
    // Filters inside and outside the command layer both hold.
    let h = bot
        .clone()
        .filter(move |ctx: &Context| {
            ctx.room_id()
                .is_none_or(|r| r.as_str() != "!quiet:example.org")
        })
        .commands("!")
        .ignore_own_ghosts()
        .filter(move |ctx: &Context| {
            ctx.sender()
                .is_none_or(|s| !muted.iter().any(|m| m == s.as_str()))
        });
    f.send(&h, text("@bot:example.org", ROOM, "!add 1 1"))
        .await?;
    f.send(&h, text("@_t_ghost:example.org", ROOM, "hello"))
        .await?;
    f.send(&h, text("@spammer:example.org", ROOM, "!add 1 1"))
        .await?;
    f.send(&h, text(ALICE, "!quiet:example.org", "!add 1 1"))
        .await?;
    f.send(&h, text(ALICE, "!quiet:example.org", "hello"))
        .await?;
    assert!(bot.take().is_empty());
    f.send(&h, text("@xspammer:example.org", ROOM, "kept"))
        .await?;
    f.send(&h, text(ALICE, "!quieter:example.org", "!add 1 1"))
        .await?;
    assert_eq!(bot.take(), ["message kept", "add 2"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn custom_types_through_on_event_then_families() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let h = bot.clone().commands("!");
    let custom = |t: &str| json!({"type": t, "event_id": "$c", "room_id": ROOM, "sender": ALICE, "content": {}});
    f.send(&h, custom("org.example.ping")).await?;
    f.send(&h, custom("org.example.other")).await?;
    assert_eq!(bot.take(), ["ping", "other org.example.other"]);
    f.hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn auto_join_accepts_invites_of_the_bot_only() -> Result<(), HandlerError> {
    let f = Fixture::new().await?;
    let bot = TestBot::default();
    let h = bot.clone().commands("!").auto_join();
    let invite = |who: &str| {
        json!({"type": "m.room.member", "event_id": "$i", "room_id": ROOM, "sender": ALICE,
               "state_key": who, "content": {"membership": "invite"}})
    };
    f.send(&h, invite("@bot:example.org")).await?;
    assert_eq!(f.hs.requests_to("/join/").len(), 1);
    f.send(&h, invite("@_t_ghost:example.org")).await?;
    assert_eq!(f.hs.requests_to("/join/").len(), 1);
    assert_eq!(
        bot.take(),
        ["invite @bot:example.org", "invite @_t_ghost:example.org"]
    );
    f.hs.stop().await;
    Ok(())
}

#[test]
fn the_order_layer_says_the_dispatch_order() {
    let plain = TestBot::default().commands("!");
    assert_eq!(plain.dispatch_order(), DispatchOrder::PerRoom);
    let unordered = TestBot::default()
        .commands("!")
        .auto_join()
        .order(DispatchOrder::Unordered);
    assert_eq!(unordered.dispatch_order(), DispatchOrder::Unordered);
    // The order given inside the command layer is seen through it.
    let inner = TestBot::default()
        .order(DispatchOrder::PerSender)
        .commands("!");
    assert_eq!(inner.dispatch_order(), DispatchOrder::PerSender);
}
