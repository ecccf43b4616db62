//! examples/dice against the real Synapse: typed arguments, help, errors.

use std::time::Duration;

use anyhow::Result;
use ghostkit::prelude::*;
use serde_json::{json, Value};

use crate::common::{eventually, registration_path, synapse_url, User};

/// Starts `handler` with the test registration `name` on a fresh store.
pub async fn start_example<S: Setup>(
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
pub async fn restart_example<S: Setup>(
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

#[tokio::test]
async fn dice_rolls_explains_and_helps() -> Result<()> {
    let store = tempfile::tempdir()?;
    let running = start_example("dice", dice::handler(), store.path()).await?;
    let bot = running.app().bot_user_id();
    let result = async {
        let (alice, room) = room_with(&bot, "dice").await?;
        alice.send_text(&room, "!roll 3d6 attack").await?;
        let rolled = nth_message_of(&alice, &room, &bot, 0).await?;
        let (head, total) = rolled
            .split_once(" = ")
            .ok_or_else(|| anyhow::anyhow!("no total in {rolled:?}"))?;
        assert!(head.starts_with("🎲 3d6 (attack): "), "{rolled}");
        let dice: Vec<u32> = head["🎲 3d6 (attack): ".len()..]
            .split(" + ")
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        assert_eq!(dice.len(), 3);
        assert!(dice.iter().all(|d| (1..=6).contains(d)));
        assert_eq!(total.parse::<u32>()?, dice.iter().sum::<u32>());

        alice.send_text(&room, "!roll 3x6").await?;
        let err = nth_message_of(&alice, &room, &bot, 1).await?;
        assert_eq!(
            err,
            "`!roll`: `3x6` is not a valid dice (write dice as NdM, like 2d6), e.g. `!roll 2d6`"
        );
        alice.send_text(&room, "!help").await?;
        let help = nth_message_of(&alice, &room, &bot, 2).await?;
        assert!(
            help.contains("!roll <dice> [label…] — Rolls dice and says each die and the total."),
            "{help}"
        );
        assert!(help.contains("!flip — Flips a coin."), "{help}");
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
