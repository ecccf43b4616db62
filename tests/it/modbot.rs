//! The modbot tests' harness: a moderator, a management room, the bot
//! running as the `ghostkit-modbot` appservice against the real Synapse.

mod fake;
mod policy;
mod protections;
mod security;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use ghostkit::prelude::*;
use modbot::{ModBot, ModConfig};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard};

use crate::common::{enc, eventually, registration_path, synapse_url, unique, User};

/// One appservice per registration at a time: the modbot tests take turns.
static TURN: Mutex<()> = Mutex::const_new(());

/// How long the tests wait for something to happen.
pub const WAIT: Duration = Duration::from_secs(45);

/// A running modbot with its moderator and management room.
pub struct Harness {
    pub moderator: User,
    pub mgmt: String,
    pub bot_id: String,
    config: ModConfig,
    running: Option<ghostkit::Running>,
    _dir: tempfile::TempDir,
    store: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Harness {
    /// Registers a moderator, makes the management room and starts the bot.
    pub async fn new() -> Result<Harness> {
        Self::with(|_| {}).await
    }

    /// Like [`Harness::new`], with a config tweak.
    pub async fn with(tweak: impl FnOnce(&mut ModConfig)) -> Result<Harness> {
        let turn = TURN.lock().await;
        let moderator = User::register("mod").await?;
        let mgmt = moderator
            .create_room(json!({"preset": "private_chat", "name": "modbot management"}))
            .await?;
        let bot_id = "@modbot:localhost".to_owned();
        moderator.invite(&mgmt, &bot_id).await?;
        let dir = tempfile::tempdir()?;
        let store = dir.path().join("store");
        let mut config = ModConfig::new(mgmt.clone());
        tweak(&mut config);
        let mut h = Harness {
            moderator,
            mgmt,
            bot_id,
            config,
            running: None,
            _dir: dir,
            store,
            _turn: turn,
        };
        h.start().await?;
        Ok(h)
    }

    /// Starts (or restarts, with a fresh bot on the same store) the appservice.
    pub async fn start(&mut self) -> Result<()> {
        // The previous test's server may still be letting go of the port.
        let mut tries = 0;
        let running = loop {
            let reg = Registration::load(registration_path("modbot"))?;
            let config = Config::new(synapse_url(), &self.store);
            let bot = self.config.clone();
            let setup = ghostkit::bot::build(move |app: AppContext| async move {
                Ok(ModBot::new(bot, &app).handler())
            });
            match Appservice::new(reg, config).start(setup).await {
                Ok(r) => break r,
                Err(e) if tries < 40 => {
                    tries += 1;
                    tracing_free_log(&e);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        crate::common::ping_until_ok(running.app().client()).await?;
        self.running = Some(running);
        let (m, b) = (&self.moderator, &self.bot_id);
        eventually(WAIT, "the bot in the management room", || async {
            Ok(m.joined_members(&self.mgmt).await?["joined"]
                .get(b)
                .map(drop))
        })
        .await
    }

    /// Stops the appservice; a new bot (same config, same store) is made
    /// at the next start.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Stops the bot at the end of a test.
    pub async fn finish(mut self) -> Result<()> {
        self.stop().await;
        Ok(())
    }

    /// Says `!mod <cmd>` and waits for a bot message containing `expect`.
    pub async fn command(&self, cmd: &str, expect: &str) -> Result<String> {
        self.moderator
            .send_text(&self.mgmt, &format!("!mod {cmd}"))
            .await?;
        self.said(expect).await
    }

    /// The running bot's `/metrics`, scraped over HTTP.
    pub async fn metrics(&self) -> Result<String> {
        let running = self
            .running
            .as_ref()
            .ok_or_else(|| anyhow!("the bot is not running"))?;
        crate::common::scrape_metrics(running).await
    }

    /// Waits for a bot message in the management room containing `expect`.
    pub async fn said(&self, expect: &str) -> Result<String> {
        let res = self.wait_said(expect).await;
        if res.is_err() {
            let msgs = self
                .moderator
                .messages(&self.mgmt)
                .await
                .unwrap_or_default();
            for m in msgs.iter().rev() {
                eprintln!("  {}: {}", m["sender"], m["content"]["body"]);
            }
        }
        res
    }

    async fn wait_said(&self, expect: &str) -> Result<String> {
        eventually(WAIT, &format!("the bot to say `{expect}`"), || async {
            let msgs = self.moderator.messages(&self.mgmt).await?;
            Ok(msgs
                .iter()
                .filter(|m| m["sender"] == self.bot_id.as_str())
                .filter_map(|m| m["content"]["body"].as_str())
                .find(|b| b.contains(expect))
                .map(str::to_owned))
        })
        .await
    }

    /// A public room of `owner` where the bot has power 100, protected.
    pub async fn protected_room(&self, owner: &User) -> Result<String> {
        let room = owner
            .create_room(json!({"preset": "public_chat", "name": unique("protected")}))
            .await?;
        set_power(owner, &room, &self.bot_id, 100).await?;
        self.command(&format!("rooms add {room}"), &format!("protecting {room}"))
            .await?;
        Ok(room)
    }

    /// Creates a bot-owned list with shortcode `code`.
    pub async fn list(&self, code: &str) -> Result<String> {
        let alias = format!("#{}:localhost", unique("modlist"));
        self.command(
            &format!("list create {code} {alias}"),
            &format!("created policy list `{code}`"),
        )
        .await?;
        Ok(alias)
    }

    /// Waits until `user`'s membership in `room` is `want`, as `viewer` (a member) sees it.
    pub async fn wait_membership(
        &self,
        viewer: &User,
        room: &str,
        user: &str,
        want: &str,
    ) -> Result<()> {
        eventually(
            WAIT,
            &format!("{user} to be `{want}` in {room}"),
            || async {
                Ok((membership(viewer, room, user).await?.as_deref() == Some(want)).then_some(()))
            },
        )
        .await
    }
}

fn tracing_free_log(e: &dyn std::fmt::Display) {
    eprintln!("modbot harness: start failed, retrying: {e}");
}

/// `user`'s membership in `room` as `viewer` sees it.
pub async fn membership(viewer: &User, room: &str, user: &str) -> Result<Option<String>> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/state/m.room.member/{}",
        enc(room),
        enc(user)
    );
    match viewer.call(Method::GET, &path, None).await {
        Ok(v) => Ok(v["membership"].as_str().map(str::to_owned)),
        Err(e) if e.to_string().contains("404") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets a state event as `user`.
pub async fn put_state(user: &User, room: &str, ty: &str, key: &str, content: Value) -> Result<()> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/state/{}/{}",
        enc(room),
        ty,
        enc(key)
    );
    user.call(Method::PUT, &path, Some(content)).await.map(drop)
}

/// Reads a state event as `user`.
pub async fn get_state(user: &User, room: &str, ty: &str) -> Result<Option<Value>> {
    let path = format!("/_matrix/client/v3/rooms/{}/state/{}/", enc(room), ty);
    match user.call(Method::GET, &path, None).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.to_string().contains("404") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Gives `target` power `level` in `room` (as the room's creator `owner`).
pub async fn set_power(owner: &User, room: &str, target: &str, level: i64) -> Result<()> {
    let mut pl = get_state(owner, room, "m.room.power_levels")
        .await?
        .ok_or_else(|| anyhow!("no power levels"))?;
    pl["users"][target] = json!(level);
    put_state(owner, room, "m.room.power_levels", "", pl).await
}

/// Joins `room` as `user`.
pub async fn join(user: &User, room: &str) -> Result<()> {
    user.call(
        Method::POST,
        &format!("/_matrix/client/v3/join/{}", enc(room)),
        Some(json!({})),
    )
    .await
    .map(drop)
}
