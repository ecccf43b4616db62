//! The examples of `examples/` against the real Synapse, each with its
//! registration of `tests/registrations/`, and what their tests share.

use std::time::Duration;

use anyhow::Result;
use ghostkit::prelude::*;
use serde_json::{json, Value};

use crate::common::{eventually, registration_path, synapse_url, User};

mod dice;
mod directory;
mod ghosts;
mod reminder;

/// Starts `handler` with the test registration `name` on a fresh store.
pub async fn start_example<S: Setup<Config = ()>>(
    name: &str,
    handler: S,
    store: &std::path::Path,
) -> Result<ghostkit::Running> {
    let reg = Registration::load(registration_path(name))?;
    let mut config = Config::new(synapse_url(), store);
    config.server_name = Some("localhost".into());
    let running = Appservice::new(reg, config).start(handler).await?;
    // Also makes Synapse resume sending to an appservice it had marked down.
    crate::common::ping_until_ok(running.app().client()).await?;
    Ok(running)
}

/// Like [`start_example`] on the store of an appservice just stopped in this
/// process: its last tasks may hold the store for a moment, so the start is
/// tried again for up to 10 s while the store is locked.
pub async fn restart_example<S: Setup<Config = ()>>(
    name: &str,
    make: impl Fn() -> S,
    store: &std::path::Path,
) -> Result<ghostkit::Running> {
    let start = std::time::Instant::now();
    loop {
        match start_example(name, make(), store).await {
            Err(e)
                if start.elapsed() < Duration::from_secs(10) && e.to_string().contains("lock") =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// A room of a new user with `bot` invited and joined.
pub async fn room_with(bot: &str, prefix: &str) -> Result<(User, String)> {
    let user = User::register(prefix).await?;
    let room = user
        .create_room(json!({ "preset": "private_chat" }))
        .await?;
    user.invite(&room, bot).await?;
    eventually(Duration::from_secs(30), "the bot to join", || async {
        Ok(user.joined_members(&room).await?["joined"]
            .get(bot)
            .map(|_| ()))
    })
    .await?;
    Ok((user, room))
}

/// Waits for the `n`-th message of `sender` in `room` (oldest first) and returns its body.
pub async fn nth_message_of(user: &User, room: &str, sender: &str, n: usize) -> Result<String> {
    eventually(Duration::from_secs(30), "the bot's answer", || async {
        let mine: Vec<Value> = user
            .messages(room)
            .await?
            .into_iter()
            .rev()
            .filter(|m| m["sender"] == sender && m["type"] == "m.room.message")
            .collect();
        Ok(mine
            .get(n)
            .map(|m| m["content"]["body"].as_str().unwrap_or_default().to_owned()))
    })
    .await
}
