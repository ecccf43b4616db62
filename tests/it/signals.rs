//! SIGTERM and SIGINT stop the test bot, a real process, with a drain: a
//! signal sent while a slow handler runs lets it finish, runs `on_stop` and
//! exits 0, and the next start on the same store does not handle that event
//! again. A second signal during the drain ends the process at once; the
//! event cut off is handled at the next start, once.

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::common::eventually;
use crate::crash::{
    counts, free_port, put, record, spawn_bot_with, transaction, wait_listening, HS_TOKEN,
};

/// Sends `signal` (`TERM`, `INT`) to the process.
pub(crate) fn send(child: &Child, signal: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -s {signal} failed: {status}");
    }
    Ok(())
}

/// Waits for the process to end, at most `limit`.
pub(crate) async fn exited(child: &mut Child, limit: Duration) -> Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            bail!("the bot did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn(dir: &Path, port: u16, slow_ms: u64) -> Result<Child> {
    let on_stop = dir.join("on_stop.txt");
    spawn_bot_with(
        dir,
        port,
        slow_ms,
        &["--on-stop", &on_stop.to_string_lossy()],
    )
}

fn on_stop_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("on_stop.txt"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Whether a transaction PUT now is refused (or never answered in time).
async fn refused(port: u16) -> bool {
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    let (body, _) = transaction(&["!roomA"], 1, "late");
    let url = format!("http://127.0.0.1:{port}/_matrix/app/v1/transactions/late");
    match http.put(url).bearer_auth(HS_TOKEN).json(&body).send().await {
        Ok(resp) => !resp.status().is_success(),
        Err(_) => true,
    }
}

async fn a_signal_drains_the_running_handler(signal: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    // The handler sleeps 1.5 s before it records the event.
    let mut bot = spawn(dir.path(), port, 1500)?;
    wait_listening(port).await?;
    let (body, ids) = transaction(&["!roomA"], 1, "drain");
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    if !record(dir.path()).is_empty() {
        bail!("the handler finished before the signal: the test proves nothing");
    }
    send(&bot, signal)?;
    let sent = Instant::now();
    // While the handler drains, no new transaction is taken.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        refused(port).await,
        "a transaction was accepted after {signal}"
    );
    let status = exited(&mut bot, Duration::from_secs(20)).await?;
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}");
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "exited before the handler could finish"
    );
    assert_eq!(record(dir.path()), ids, "the running handler finished");
    assert_eq!(on_stop_runs(dir.path()), 1, "on_stop ran once");

    // The same store again: the drained event was marked handled.
    let mut bot = spawn(dir.path(), port, 0)?;
    wait_listening(port).await?;
    // The homeserver sending the transaction again changes nothing.
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    let (marker, marker_ids) = transaction(&["!roomA"], 1, "marker");
    assert_eq!(put(port, "txn-2", &marker).await?, 200);
    eventually(Duration::from_secs(20), "the marker event", || async {
        Ok(record(dir.path()).contains(&marker_ids[0]).then_some(()))
    })
    .await?;
    send(&bot, signal)?;
    let status = exited(&mut bot, Duration::from_secs(20)).await?;
    assert_eq!(status.code(), Some(0), "an idle bot stops with 0 too");
    let after = record(dir.path());
    let counts = counts(&after);
    assert_eq!(counts.get(ids[0].as_str()), Some(&1), "{after:?}");
    assert_eq!(
        after.len(),
        2,
        "nothing but the event and the marker: {after:?}"
    );
    assert_eq!(on_stop_runs(dir.path()), 2);
    Ok(())
}

#[tokio::test]
async fn sigterm_drains_the_running_handler_and_exits_0() -> Result<()> {
    a_signal_drains_the_running_handler("TERM").await
}

#[tokio::test]
async fn sigint_drains_the_running_handler_and_exits_0() -> Result<()> {
    a_signal_drains_the_running_handler("INT").await
}

#[tokio::test]
async fn a_second_signal_during_the_drain_exits_at_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    // A handler far slower than the test waits.
    let mut bot = spawn(dir.path(), port, 8000)?;
    wait_listening(port).await?;
    let (body, ids) = transaction(&["!roomA"], 1, "double");
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&bot, "TERM")?;
    let sent = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(status) = bot.try_wait()? {
        bail!("the first signal ended the process at once ({status}): no drain");
    }
    send(&bot, "INT")?;
    let status = exited(&mut bot, Duration::from_secs(5)).await?;
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "waited for the handler: {:?}",
        sent.elapsed()
    );
    // 128 + SIGINT: the second signal ended it.
    assert_eq!(status.code(), Some(130), "exit status: {status}");
    assert!(record(dir.path()).is_empty(), "the handler was cut off");
    assert_eq!(on_stop_runs(dir.path()), 0, "on_stop did not run");

    // Acknowledged, so handled at the next start, once.
    let mut bot = spawn(dir.path(), port, 0)?;
    wait_listening(port).await?;
    eventually(
        Duration::from_secs(20),
        "the event cut off to be handled",
        || async { Ok((!record(dir.path()).is_empty()).then_some(())) },
    )
    .await?;
    send(&bot, "TERM")?;
    let status = exited(&mut bot, Duration::from_secs(20)).await?;
    assert_eq!(status.code(), Some(0));
    assert_eq!(record(dir.path()), ids);
    Ok(())
}
