//! A homeserver outage is ridden out. Messages reach the echo test bot,
//! then its Synapse (one of the test's own) is stopped for 20 s while the
//! bot's replies are due: the bot keeps retrying, and once the homeserver
//! is back every message has exactly one reply.

use std::time::Duration;

use anyhow::Result;

use crate::common::User;
use crate::echo_process::{assert_one_reply_each, room_with, send_burst, EchoBot, EchoSpec};
use crate::own_synapse::OwnSynapse;

const SYNAPSE_PORT: u16 = 18109;
const BOT_PORT: u16 = 9043;
const BOT: &str = "@outagebot:localhost";
const OUTAGE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_homeserver_stopped_for_20_seconds_gets_every_reply_once_it_is_back() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let regs = dir.path().join("registrations");
    std::fs::create_dir_all(&regs)?;
    let registration = regs.join("outagebot.yaml");
    std::fs::write(
        &registration,
        format!(
            "id: outagebot\nurl: http://127.0.0.1:{BOT_PORT}\nas_token: outagebot_as_token\n\
             hs_token: outagebot_hs_token\nsender_localpart: outagebot\nrate_limited: false\n\
             namespaces:\n  users: [{{regex: '@outagebot:localhost', exclusive: true}}]\n"
        ),
    )?;
    let homeserver = OwnSynapse::url(SYNAPSE_PORT);
    let bot_dir = dir.path().join("bot");
    std::fs::create_dir_all(&bot_dir)?;
    let log = dir.path().join("bot.log");
    let spec = EchoSpec {
        registration: &registration,
        homeserver: &homeserver,
        store: &bot_dir,
        port: BOT_PORT,
        after_reply_ms: 0,
        // Each event waits before its reply: the replies fall in the outage.
        slow_ms: 2_500,
        log: log.clone(),
        postgres: None,
    };
    let synapse = OwnSynapse::start(SYNAPSE_PORT, dir.path().join("synapse"), &regs)?;
    let bot = EchoBot::spawn(&spec)?;
    let user = User::register_at(&homeserver, "outage").await?;
    let room = room_with(&user, BOT).await?;

    let texts: Vec<String> = (0..4).map(|i| format!("during the outage {i}")).collect();
    send_burst(&user, &room, &texts).await?;
    // Synapse pushes the transaction at once; the bot acknowledges it and
    // its handlers sleep while the homeserver goes away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    synapse.stop()?;
    tokio::time::sleep(OUTAGE).await;
    synapse.start_again()?;

    assert_one_reply_each(&user, &room, BOT, &texts).await?;
    let bot_log = std::fs::read_to_string(&log)?;
    anyhow::ensure!(
        bot_log.contains("retrying homeserver request"),
        "the bot met the outage (its log shows retries): {bot_log}"
    );
    bot.kill()?;
    Ok(())
}
