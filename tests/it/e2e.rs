//! The appservice against the real Synapse: registration, invites and
//! messages through real transactions, room v12 IDs, the echo example.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use ghostkit::prelude::*;
use serde_json::json;

use crate::common::{eventually, registration_path, synapse_url, User};

/// Held by each test that runs an appservice as `tests/registrations/e2e.yaml`:
/// one at a time listens on its port and gets its transactions.
pub static E2E_APPSERVICE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone)]
struct Seen {
    event_type: String,
    room: String,
    sender: String,
    body: Option<String>,
    invitee: Option<String>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn push(&self, ctx: &Context, body: Option<String>, invitee: Option<String>) {
        let ev = ctx.event();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Seen {
                event_type: ev.event_type().to_owned(),
                room: ev.room_id().map(|r| r.to_string()).unwrap_or_default(),
                sender: ev.sender().map(|s| s.to_string()).unwrap_or_default(),
                body,
                invitee,
            });
    }

    fn find(&self, pred: impl Fn(&Seen) -> bool) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| pred(s))
            .cloned()
    }
}

#[ghostkit::async_trait]
impl Handler for Recorder {
    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        self.push(ctx, None, Some(invitee.to_string()));
        if let Some(room) = ctx.event().room_id() {
            ctx.client()
                .as_user(invitee)?
                .join_room(room.into(), &[])
                .await?;
        }
        Ok(())
    }

    async fn on_message(&self, ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
        self.push(ctx, Some(msg.body().to_owned()), None);
        Ok(())
    }
}

async fn start<S: Setup<Config = ()>>(
    name: &str,
    handler: S,
) -> Result<(ghostkit::Running, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let reg = Registration::load(registration_path(name))?;
    let config = Config::new(synapse_url(), dir.path().join("store"));
    let running = Appservice::new(reg, config).start(handler).await?;
    crate::common::ping_until_ok(running.app().client()).await?;
    Ok((running, dir))
}

async fn invite_and_talk(room_version: Option<&str>) -> Result<()> {
    let recorder = Recorder::default();
    let (running, _dir) = start("e2e", recorder.clone()).await?;
    assert_eq!(
        running.app().server_name().as_str(),
        "localhost",
        "server name learned by whoami"
    );
    let bot = running.app().bot_user_id().to_string();

    let alice = User::register("alice").await?;
    let mut body = json!({ "preset": "private_chat", "name": "e2e" });
    if let Some(v) = room_version {
        body["room_version"] = json!(v);
    }
    let room = alice.create_room(body).await?;
    if room_version == Some("12") {
        assert!(
            !room.contains(':'),
            "a v12 room id has no server part: {room}"
        );
    }
    alice.invite(&room, &bot).await?;

    let invite = eventually(
        Duration::from_secs(30),
        "the invite to reach the bot",
        || async {
            Ok(recorder.find(|s| s.room == room && s.invitee.as_deref() == Some(bot.as_str())))
        },
    )
    .await?;
    assert_eq!(invite.sender, alice.user_id);
    assert_eq!(invite.event_type, "m.room.member");

    eventually(Duration::from_secs(30), "the bot to join", || async {
        let members = alice.joined_members(&room).await?;
        Ok(members["joined"].get(&bot).map(|_| ()))
    })
    .await?;

    let text = format!("hello from {}", alice.user_id);
    alice.send_text(&room, &text).await?;
    let msg = eventually(
        Duration::from_secs(30),
        "the message to reach the bot",
        || async {
            Ok(recorder.find(|s| s.room == room && s.body.as_deref() == Some(text.as_str())))
        },
    )
    .await?;
    assert_eq!(msg.sender, alice.user_id);
    assert_eq!(msg.event_type, "m.room.message");
    running.stop().await;
    Ok(())
}

/// One test, as both rooms use the same appservice (and port) one after the other.
#[tokio::test]
async fn invite_and_message_arrive_through_real_transactions_also_in_room_v12() -> Result<()> {
    let _port = E2E_APPSERVICE.lock().await;
    invite_and_talk(None).await?;
    invite_and_talk(Some("12")).await
}

/// The echo example's own binary (`examples/echo/src/main.rs`, built here
/// as `echo-example`), killed when dropped.
struct EchoExample(std::process::Child);

impl EchoExample {
    /// Starts it with the `echo` test registration and waits until it
    /// listens on the registration's port.
    async fn start(store: &std::path::Path, log: &std::path::Path) -> Result<EchoExample> {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_echo-example"))
            .arg("--registration")
            .arg(registration_path("echo"))
            .args(["--homeserver-url", &synapse_url()])
            .arg("--store")
            .arg(store)
            .env_remove("GHOSTKIT_HOMESERVER_DOMAIN")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()?;
        let mut echo = EchoExample(child);
        let listening = eventually(Duration::from_secs(60), "echo to listen", || {
            let exited = echo.0.try_wait();
            async move {
                if let Some(status) = exited? {
                    anyhow::bail!("echo exited with {status}");
                }
                Ok(tokio::net::TcpStream::connect("127.0.0.1:9009").await.ok())
            }
        })
        .await;
        if let Err(e) = listening {
            anyhow::bail!("{e}; its log:\n{}", std::fs::read_to_string(log)?);
        }
        Ok(echo)
    }
}

impl Drop for EchoExample {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn echo_example_replies_with_exactly_the_text() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let _echo = EchoExample::start(&dir.path().join("store"), &dir.path().join("echo.log")).await?;
    let bob = User::register("bob").await?;
    let server = bob.user_id.split_once(':').map_or("localhost", |(_, s)| s);
    let bot = format!("@echo:{server}");
    let room = bob.create_room(json!({ "preset": "private_chat" })).await?;
    bob.invite(&room, &bot).await?;
    eventually(Duration::from_secs(30), "echo to join", || async {
        Ok(bob.joined_members(&room).await?["joined"]
            .get(&bot)
            .map(|_| ()))
    })
    .await?;
    let text = "  spaced *text* with !echo inside  ";
    bob.send_text(&room, &format!("!echo {text}")).await?;
    // An answer that is itself a command is not taken as one: the bot
    // gives no commands to itself.
    bob.send_text(&room, "!echo !echo again").await?;
    bob.send_text(&room, "not a command").await?;
    let bodies = || async {
        let msgs = bob.messages(&room).await?;
        Ok::<_, anyhow::Error>(
            msgs.into_iter()
                .filter(|m| m["sender"] == bot.as_str() && m["type"] == "m.room.message")
                .map(|m| m["content"]["body"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>(),
        )
    };
    eventually(Duration::from_secs(30), "echo's replies", || async {
        let got = bodies().await?;
        Ok((got.len() >= 2).then_some(()))
    })
    .await?;
    // Time for a wrong third answer (to "not a command", or to its own
    // "!echo again") to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut got = bodies().await?;
    got.sort();
    let mut want = vec![text.to_owned(), "!echo again".to_owned()];
    want.sort();
    assert_eq!(got, want);
    Ok(())
}

#[tokio::test]
async fn self_check_explains_a_homeserver_that_cannot_reach_us() -> Result<()> {
    // This registration points at 127.0.0.1:9, where nothing listens.
    let reg = std::sync::Arc::new(Registration::load(registration_path("unreachable"))?);
    // Tried for a few seconds, not the default five minutes: what is
    // checked is the explanation of the last failure.
    let brief = || ghostkit::client::ClientConfig {
        retry: ghostkit::client::RetryPolicy {
            max_total: Duration::from_secs(3),
            ..Default::default()
        },
        ..Default::default()
    };
    let client = ghostkit::Client::with_config(&synapse_url(), reg, brief())?;
    let err = match ghostkit::appservice::self_check(&client).await {
        Ok(_) => anyhow::bail!("the ping succeeded although nothing listens"),
        Err(e) => e,
    };
    assert_eq!(err.errcode(), Some("M_CONNECTION_FAILED"), "{err}");
    assert!(ghostkit::appservice::explain_ping_error(&err).contains("cannot connect"));

    let unreachable = ghostkit::Client::with_config(
        "http://127.0.0.1:9",
        std::sync::Arc::new(Registration::load(registration_path("unreachable"))?),
        brief(),
    )?;
    let err = match ghostkit::appservice::self_check(&unreachable).await {
        Ok(_) => anyhow::bail!("a ping to nowhere succeeded"),
        Err(e) => e,
    };
    assert_eq!(err.errcode(), None);
    assert!(ghostkit::appservice::explain_ping_error(&err).contains("GHOSTKIT_HOMESERVER_URL"));
    Ok(())
}
