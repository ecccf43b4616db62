//! examples/reminder against the real Synapse: the reminder is kept in the
//! store, survives a restart of the appservice, and fires on time, once.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::examples::{nth_message_of, restart_example, room_with, start_example};

/// The tests of this module share the registration's port: one at a time.
static PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_reminder_survives_a_restart_and_fires_on_time() -> Result<()> {
    let _port = PORT.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("reminder", reminder::handler(), store.path()).await?;
    let bot = running.app().bot_user_id().to_string();
    let (alice, room) = match room_with(&bot, "remind").await {
        Ok(r) => r,
        Err(e) => {
            running.stop().await;
            return Err(e);
        }
    };
    let asked = Instant::now();
    alice.send_text(&room, "!remind 4s \"stretch\"").await?;
    let ack = nth_message_of(&alice, &room, &bot, 0).await;
    // Down before it is due; a new appservice on the same store must fire it.
    running.stop().await;
    assert_eq!(ack?, "⏰ in 4s");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "too slow to test a restart"
    );

    let again = restart_example("reminder", reminder::handler, store.path()).await?;
    let result = async {
        let fired = nth_message_of(&alice, &room, &bot, 1).await?;
        assert_eq!(fired, format!("⏰ {}: stretch", alice.user_id));
        assert!(asked.elapsed() >= Duration::from_secs(4), "fired early");
        // Once only, and nothing left in the store.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let count = alice
            .messages(&room)
            .await?
            .iter()
            .filter(|m| m["sender"] == bot.as_str() && m["content"]["body"] == fired.as_str())
            .count();
        assert_eq!(count, 1);
        assert!(again.app().store().tree("reminders")?.is_empty().await?);
        anyhow::Ok(())
    }
    .await;
    again.stop().await;
    result
}

#[tokio::test]
async fn a_bad_delay_is_explained() -> Result<()> {
    let _port = PORT.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("reminder", reminder::handler(), store.path()).await?;
    let bot = running.app().bot_user_id().to_string();
    let result = async {
        let (alice, room) = room_with(&bot, "remind").await?;
        alice.send_text(&room, "!remind soon tea").await?;
        let err = nth_message_of(&alice, &room, &bot, 0).await?;
        assert!(
            err.starts_with("`!remind`: `soon` is not a valid delay"),
            "{err}"
        );
        assert!(
            err.ends_with("e.g. `!remind 10m take the cake out`"),
            "{err}"
        );
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
