//! The test bot as a real process talking to a real Synapse: spawned, killed
//! with SIGKILL, started again on the same store; and what its room shows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::common::{eventually, User};

/// One echo bot process of the test bot (`ghostkit-testbot --homeserver`).
pub struct EchoBot {
    child: Child,
}

/// How to start an [`EchoBot`].
pub struct EchoSpec<'a> {
    pub registration: &'a Path,
    pub homeserver: &'a str,
    pub store: &'a Path,
    pub port: u16,
    pub after_reply_ms: u64,
    /// How long the bot sleeps before handling each event.
    pub slow_ms: u64,
    pub log: PathBuf,
    /// The PostgreSQL database of the store's data (sled in `store` when
    /// `None`).
    pub postgres: Option<String>,
}

impl EchoBot {
    /// Spawns the bot with `RUST_LOG=warn`.
    pub fn spawn(spec: &EchoSpec<'_>) -> Result<EchoBot> {
        Self::spawn_with_env(spec, &[("RUST_LOG", "warn")])
    }

    /// Spawns the bot with these environment variables.
    pub fn spawn_with_env(spec: &EchoSpec<'_>, env: &[(&str, &str)]) -> Result<EchoBot> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_ghostkit-testbot"))
            .arg("--registration")
            .arg(spec.registration)
            .arg("--store")
            .arg(spec.store.join("store"))
            .arg("--record")
            .arg(spec.store.join("record.txt"))
            .args(["--bind", &format!("127.0.0.1:{}", spec.port)])
            .args(["--homeserver", spec.homeserver])
            .args(["--after-reply-ms", &spec.after_reply_ms.to_string()])
            .args(["--slow-ms", &spec.slow_ms.to_string()])
            .args(
                spec.postgres
                    .iter()
                    .flat_map(|url| ["--postgres", url.as_str()]),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawning ghostkit-testbot")?;
        Ok(EchoBot { child })
    }

    /// The process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for EchoBot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private room of `user` with `bot` invited; returns once the bot joined.
pub async fn room_with(user: &User, bot: &str) -> Result<String> {
    let room = user
        .create_room(json!({ "preset": "private_chat", "invite": [bot] }))
        .await?;
    eventually(Duration::from_secs(60), "the bot joins", || async {
        let members = user.joined_members(&room).await?;
        Ok(members["joined"].get(bot).map(|_| ()))
    })
    .await?;
    Ok(room)
}

/// How many messages from `bot` the room holds, per body (latest 1000 events).
pub async fn replies(user: &User, room: &str, bot: &str) -> Result<HashMap<String, usize>> {
    let mut out = HashMap::new();
    for e in user.latest_events(room, 1000).await? {
        if e["type"] == "m.room.message" && e["sender"] == bot {
            if let Some(body) = e["content"]["body"].as_str() {
                *out.entry(body.to_owned()).or_insert(0) += 1;
            }
        }
    }
    Ok(out)
}

/// Sends `!echo <text>` for every text at once (all in flight).
pub async fn send_burst(user: &User, room: &str, texts: &[String]) -> Result<()> {
    let bodies: Vec<String> = texts.iter().map(|t| format!("!echo {t}")).collect();
    let sends = bodies.iter().map(|b| user.send_text(room, b));
    for r in futures_util::future::join_all(sends).await {
        r?;
    }
    Ok(())
}

/// Waits until every text has a reply, then a little more, and checks that
/// each has exactly one.
pub async fn assert_one_reply_each(
    user: &User,
    room: &str,
    bot: &str,
    texts: &[String],
) -> Result<()> {
    eventually(
        Duration::from_secs(120),
        "a reply to every message",
        || async {
            let got = replies(user, room, bot).await?;
            Ok(texts.iter().all(|t| got.contains_key(t)).then_some(()))
        },
    )
    .await?;
    // Late duplicates (a replay still under way) get the time to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = replies(user, room, bot).await?;
    let wrong: Vec<(&String, usize)> = texts
        .iter()
        .map(|t| (t, got.get(t).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 1)
        .collect();
    anyhow::ensure!(wrong.is_empty(), "replies not exactly once: {wrong:?}");
    Ok(())
}

/// How many of `texts` have a reply in `got`.
pub fn count_of(got: &HashMap<String, usize>, texts: &[String]) -> usize {
    texts.iter().filter(|t| got.contains_key(*t)).count()
}
