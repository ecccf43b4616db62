//! Kill -9 the appservice after it acknowledged a transaction, while it is
//! handling one event and the rest wait; restart it; every event must reach
//! the handler exactly once, in order, and the txnId stays deduplicated.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::common::eventually;

pub(crate) const HS_TOKEN: &str = "crash_hs_token";

pub(crate) fn registration(dir: &Path, port: u16) -> Result<std::path::PathBuf> {
    let path = dir.join("registration.yaml");
    std::fs::write(
        &path,
        format!(
            "id: crash\nurl: http://127.0.0.1:{port}\nas_token: crash_as_token\nhs_token: {HS_TOKEN}\n\
             sender_localpart: crashbot\nnamespaces:\n  users: [{{regex: '^@crashbot:localhost$', exclusive: true}}]\n"
        ),
    )?;
    Ok(path)
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) fn spawn_bot_with(dir: &Path, port: u16, slow_ms: u64, extra: &[&str]) -> Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_ghostkit-testbot"))
        .args(extra)
        .args([
            "--registration",
            &registration(dir, port)?.to_string_lossy(),
        ])
        .args(["--store", &dir.join("store").to_string_lossy()])
        .args(["--record", &dir.join("record.txt").to_string_lossy()])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--slow-ms", &slow_ms.to_string()])
        .stdout(Stdio::null())
        .spawn()?)
}

pub(crate) fn record(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("record.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) fn transaction(rooms: &[&str], per_room: usize, tag: &str) -> (Value, Vec<String>) {
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for i in 0..per_room {
        for room in rooms {
            let id = format!("${tag}_{}_{i}", room.trim_start_matches('!'));
            events.push(json!({
                "type": "m.room.message", "event_id": id, "room_id": room,
                "sender": "@alice:localhost", "origin_server_ts": 1,
                "content": {"msgtype": "m.text", "body": format!("message {i}")}
            }));
            ids.push(id);
        }
    }
    (json!({ "events": events }), ids)
}

pub(crate) async fn put(port: u16, txn: &str, body: &Value) -> Result<reqwest::StatusCode> {
    let url = format!("http://127.0.0.1:{port}/_matrix/app/v1/transactions/{txn}");
    let resp = reqwest::Client::new()
        .put(url)
        .bearer_auth(HS_TOKEN)
        .json(body)
        .send()
        .await?;
    Ok(resp.status())
}

pub(crate) async fn wait_listening(port: u16) -> Result<()> {
    eventually(Duration::from_secs(20), "the bot to listen", || async {
        let url = format!("http://127.0.0.1:{port}/health/ready");
        Ok(reqwest::get(url)
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(|_| ()))
    })
    .await
}

#[tokio::test]
async fn kill_9_between_ack_and_dispatch_loses_and_repeats_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    kill_9_between_ack_and_dispatch(dir.path(), &[]).await
}

#[tokio::test]
async fn with_the_log_in_postgres_kill_9_between_ack_and_dispatch_loses_and_repeats_nothing(
) -> Result<()> {
    let Some(options) = ghostkit::testing::postgres_database().await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let extra = ["--postgres", options.url.as_str(), "--log-in-postgres"];
    kill_9_between_ack_and_dispatch(dir.path(), &extra).await?;
    let segments = std::fs::read_dir(dir.path().join("store").join("txnlog"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert_eq!(segments, 0, "the log went to files, not to PostgreSQL");
    Ok(())
}

/// Acknowledged, killed mid-dispatch, started again: each event once, in
/// order; `extra` goes to the test bot.
async fn kill_9_between_ack_and_dispatch(dir: &Path, extra: &[&str]) -> Result<()> {
    let port = free_port()?;
    // Each event takes 300 ms to handle: after the first one is recorded, the
    // second is mid-dispatch and the others are acknowledged but waiting.
    let mut bot = spawn_bot_with(dir, port, 300, extra)?;
    wait_listening(port).await?;
    let (body, ids) = transaction(&["!roomA", "!roomB"], 5, "t1");
    assert_eq!(put(port, "txn-1", &body).await?, 200);

    eventually(
        Duration::from_secs(20),
        "the first events to be handled",
        || async { Ok((!record(dir).is_empty()).then_some(())) },
    )
    .await?;
    // Well inside the handling of the next event (300 ms), and well after the
    // progress of the first was written (every 10 ms).
    tokio::time::sleep(Duration::from_millis(120)).await;
    bot.kill()?;
    bot.wait()?;
    let before = record(dir);
    if before.len() >= ids.len() {
        bail!("the bot finished before it was killed: the test proves nothing");
    }

    let mut bot = spawn_bot_with(dir, port, 0, extra)?;
    wait_listening(port).await?;
    eventually(
        Duration::from_secs(20),
        "every event to be handled",
        || async { Ok((record(dir).len() >= ids.len()).then_some(())) },
    )
    .await?;
    // The homeserver re-sends the acknowledged transaction: nothing new happens.
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    // A new transaction after it is handled: a marker that the dispatcher moved on.
    let (body2, ids2) = transaction(&["!roomA"], 1, "t2");
    assert_eq!(put(port, "txn-2", &body2).await?, 200);
    eventually(Duration::from_secs(20), "the marker event", || async {
        Ok(record(dir).contains(&ids2[0]).then_some(()))
    })
    .await?;
    bot.kill()?;
    bot.wait()?;

    let after = record(dir);
    assert_once_in_order(&after, &ids, "t1", &ids2);
    Ok(())
}

/// Every ID of `ids` and `more` handled exactly once and nothing else, and
/// the events of `ids` (whose IDs start with `$` and `tag`) in their order
/// within each room.
pub(crate) fn assert_once_in_order(handled: &[String], ids: &[String], tag: &str, more: &[String]) {
    let counts = counts(handled);
    for id in ids.iter().chain(more) {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "event {id} handled {:?} times",
            counts.get(id.as_str())
        );
    }
    assert_eq!(
        handled.len(),
        ids.len() + more.len(),
        "nothing else was handled: {handled:?}"
    );
    for room in ["roomA", "roomB"] {
        let in_room =
            |id: &&String| id.starts_with(&format!("${tag}")) && id.contains(&format!("_{room}_"));
        let seen: Vec<&String> = handled.iter().filter(in_room).collect();
        let want: Vec<&String> = ids.iter().filter(in_room).collect();
        assert_eq!(seen, want, "order in {room}");
    }
}

/// Counts how often each ID was recorded.
pub(crate) fn counts(record: &[String]) -> HashMap<&str, usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in record {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn kill_9_after_segments_were_written_over_replays_nothing_old() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    // About three transactions per segment: thirty of them retire segments,
    // keep them as spares and write over them again and again.
    let small = ["--segment-bytes", "2048"];
    let mut bot = spawn_bot_with(dir.path(), port, 0, &small)?;
    wait_listening(port).await?;
    let mut all = Vec::new();
    let mut bodies = Vec::new();
    for t in 0..30 {
        let (body, ids) = transaction(&["!roomA", "!roomB"], 1, &format!("s{t}"));
        assert_eq!(put(port, &format!("txn-{t}"), &body).await?, 200);
        all.extend(ids);
        bodies.push(body);
    }
    eventually(
        Duration::from_secs(20),
        "every event to be handled",
        || async { Ok((record(dir.path()).len() >= all.len()).then_some(())) },
    )
    .await?;
    let txnlog = dir.path().join("store").join("txnlog");
    eventually(Duration::from_secs(20), "spare segments", || async {
        let spares = std::fs::read_dir(&txnlog)?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".spare"))
            })
            .count();
        Ok((spares > 0).then_some(()))
    })
    .await?;
    // Well past the progress interval (10 ms), with room for a loaded
    // machine: an event handled in the last moments before a kill is
    // dispatched again (at-least-once), and that is not what this test is
    // about.
    tokio::time::sleep(Duration::from_millis(300)).await;
    bot.kill()?;
    bot.wait()?;

    let mut bot = spawn_bot_with(dir.path(), port, 0, &small)?;
    wait_listening(port).await?;
    // The homeserver re-sends an old transaction (its segment was written
    // over long ago) and the last one: both are known, nothing is handled.
    assert_eq!(put(port, "txn-0", &bodies[0]).await?, 200);
    assert_eq!(put(port, "txn-29", &bodies[29]).await?, 200);
    let (marker, marker_ids) = transaction(&["!roomA"], 1, "marker");
    assert_eq!(put(port, "txn-marker", &marker).await?, 200);
    eventually(Duration::from_secs(20), "the marker event", || async {
        Ok(record(dir.path()).contains(&marker_ids[0]).then_some(()))
    })
    .await?;
    bot.kill()?;
    bot.wait()?;

    let after = record(dir.path());
    let counts = counts(&after);
    for id in all.iter().chain(&marker_ids) {
        assert_eq!(counts.get(id.as_str()), Some(&1), "event {id}");
    }
    assert_eq!(
        after.len(),
        all.len() + 1,
        "no old record of a reused segment came back: {after:?}"
    );
    Ok(())
}
