//! A homeserver restart or reset loses nothing. Synapse on SQLite numbers
//! appservice transactions from 1 again after every restart, and a fresh
//! Synapse does so too: the bot must tell their new transactions from
//! re-sends of the old ones. A second Synapse of our own (its own port,
//! folder and registration, `scripts/synapse.sh` with `SYNAPSE_DIR`) is
//! restarted under the running echo test bot, then replaced by a fresh one
//! while the bot keeps its store.

use anyhow::Result;

use crate::common::User;
use crate::echo_process::{assert_one_reply_each, room_with, send_burst, EchoBot, EchoSpec};
use crate::own_synapse::OwnSynapse;

const SYNAPSE_PORT: u16 = 18108;
const BOT_PORT: u16 = 9042;
const BOT: &str = "@resetbot:localhost";

fn texts(tag: &str) -> Vec<String> {
    (0..6).map(|i| format!("{tag} {i}")).collect()
}

#[tokio::test]
async fn a_restarted_then_a_fresh_homeserver_get_every_message_handled_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let regs = dir.path().join("registrations");
    std::fs::create_dir_all(&regs)?;
    let registration = regs.join("resetbot.yaml");
    std::fs::write(
        &registration,
        format!(
            "id: resetbot\nurl: http://127.0.0.1:{BOT_PORT}\nas_token: resetbot_as_token\n\
             hs_token: resetbot_hs_token\nsender_localpart: resetbot\nrate_limited: false\n\
             namespaces:\n  users: [{{regex: '@resetbot:localhost', exclusive: true}}]\n"
        ),
    )?;
    let homeserver = OwnSynapse::url(SYNAPSE_PORT);
    let bot_dir = dir.path().join("bot");
    std::fs::create_dir_all(&bot_dir)?;
    let spec = EchoSpec {
        registration: &registration,
        homeserver: &homeserver,
        store: &bot_dir,
        port: BOT_PORT,
        after_reply_ms: 0,
        slow_ms: 0,
        log: dir.path().join("bot.log"),
        postgres: None,
    };

    // The first homeserver, restarted under the running bot.
    let synapse = OwnSynapse::start(SYNAPSE_PORT, dir.path().join("synapse-1"), &regs)?;
    let bot = EchoBot::spawn(&spec)?;
    let user = User::register_at(&homeserver, "reset").await?;
    let room = room_with(&user, BOT).await?;
    let before = texts("before the restart");
    send_burst(&user, &room, &before).await?;
    assert_one_reply_each(&user, &room, BOT, &before).await?;
    synapse.restart()?;
    let after = texts("after the restart");
    for t in &after {
        // One at a time: each a transaction of its own, numbered from 1 again.
        send_burst(&user, &room, std::slice::from_ref(t)).await?;
    }
    assert_one_reply_each(&user, &room, BOT, &after).await?;
    drop(synapse);
    bot.kill()?;

    // A fresh homeserver (a new database), the bot's store kept: invited
    // again, it joins, and answers everything once.
    let _fresh = OwnSynapse::start(SYNAPSE_PORT, dir.path().join("synapse-2"), &regs)?;
    let bot = EchoBot::spawn(&spec)?;
    let user = User::register_at(&homeserver, "fresh").await?;
    let room = room_with(&user, BOT).await?;
    let fresh = texts("on a fresh homeserver");
    for t in &fresh {
        send_burst(&user, &room, std::slice::from_ref(t)).await?;
    }
    assert_one_reply_each(&user, &room, BOT, &fresh).await?;
    bot.kill()?;
    Ok(())
}
