//! Effects happen once across crashes: the echo test bot, talking to the
//! real Synapse, is killed with SIGKILL between a reply and the end of its
//! handler, again and again; replayed, its handlers send the same txnIds, so
//! every message has exactly one reply in the room. Once with the store on
//! sled, once on PostgreSQL.

use std::time::Duration;

use anyhow::Result;
use ghostkit::store::{PostgresBackend, Store};
use ghostkit::testing::postgres_database;

use crate::common::{eventually, registration_path, synapse_url, User};
use crate::echo_process::{
    assert_one_reply_each, count_of, replies, room_with, send_burst, EchoBot, EchoSpec,
};

/// The port of `tests/registrations/effects.yaml`.
pub const PORT: u16 = 9041;

/// Held by each test that runs a bot as the `effects` appservice: one at a
/// time listens on its port and gets its transactions.
pub static EFFECTS_APPSERVICE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const BOT: &str = "@effects:localhost";

#[tokio::test]
async fn killed_between_reply_and_done_many_times_every_message_gets_one_reply() -> Result<()> {
    let dir = tempfile::tempdir()?;
    killed_many_times("effects", dir.path(), None).await
}

#[tokio::test]
async fn on_postgres_killed_many_times_every_message_gets_one_reply() -> Result<()> {
    let Some(options) = postgres_database().await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    killed_many_times("effects-pg", dir.path(), Some(options.url.clone())).await?;
    // The data went to PostgreSQL: the folder holds the log alone, and the
    // database the memberships the bot saw and the done marks.
    let files: Vec<String> = std::fs::read_dir(dir.path().join("store"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(files, ["txnlog"], "the store folder holds no database");
    let store = Store::with_backend(dir.path(), PostgresBackend::connect(&options).await?);
    for tree in ["ghostkit.intent.membership", "ghostkit.txn.done"] {
        let entries = store.tree(tree)?.len().await?;
        assert!(entries > 0, "{tree} is empty in PostgreSQL");
    }
    Ok(())
}

/// Five bursts, the bot killed in each; `user` names the Matrix user.
async fn killed_many_times(
    user: &str,
    dir: &std::path::Path,
    postgres: Option<String>,
) -> Result<()> {
    let _port = EFFECTS_APPSERVICE.lock().await;
    let registration = registration_path("effects");
    let homeserver = synapse_url();
    let spec = EchoSpec {
        registration: &registration,
        homeserver: &homeserver,
        store: dir,
        port: PORT,
        // The handler lingers after its reply: a kill then lands after the
        // reply was sent and before the event was marked handled.
        after_reply_ms: 400,
        slow_ms: 0,
        log: dir.join("bot.log"),
        postgres,
    };
    let user = User::register(user).await?;
    let mut bot = EchoBot::spawn(&spec)?;
    let room = room_with(&user, BOT).await?;

    let mut all = Vec::new();
    for round in 0..5 {
        let texts: Vec<String> = (0..8)
            .map(|i| format!("round {round} message {i}"))
            .collect();
        send_burst(&user, &room, &texts).await?;
        // Kill as soon as a few replies of this burst are out.
        eventually(
            Duration::from_secs(60),
            "the first replies of a burst",
            || async {
                let got = replies(&user, &room, BOT).await?;
                Ok((count_of(&got, &texts) >= 2 + round % 3).then_some(()))
            },
        )
        .await?;
        bot.kill()?;
        bot = EchoBot::spawn(&spec)?;
        all.extend(texts);
    }
    assert_one_reply_each(&user, &room, BOT, &all).await?;
    drop(bot);
    Ok(())
}
