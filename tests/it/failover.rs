//! Two instances of the test bot on one PostgreSQL database, each with a
//! store folder of its own (two machines): one leads, the other waits as
//! its standby. The leader is killed with SIGKILL while transactions keep
//! coming and acknowledged events wait for their handler; the standby takes
//! over the same address, and every acknowledged event is handled once, in
//! order, by one or the other.
//! And a leader whose lock connection is cut stops at once, since a standby
//! may be leading from then on.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::common::eventually;
use crate::crash::{
    assert_once_in_order, free_port, put, record, spawn_bot_with, transaction, wait_listening,
};

/// Plays the homeserver: sends `count` transactions of one event per room,
/// one after another, each until it is acknowledged (through the leader's
/// death); returns their event IDs in order.
async fn send_until_acknowledged(port: u16, count: usize) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for n in 0..count {
        let (body, mut these) = transaction(&["!roomA", "!roomB"], 1, &format!("f{n:03}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !matches!(put(port, &format!("txn-{n}"), &body).await, Ok(s) if s == 200) {
            if std::time::Instant::now() > deadline {
                bail!("transaction {n} was not acknowledged within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ids.append(&mut these);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(ids)
}

#[tokio::test]
async fn the_standby_takes_over_a_killed_leader_under_load_and_each_event_is_handled_once(
) -> Result<()> {
    let Some(options) = ghostkit::testing::postgres_database().await? else {
        return Ok(());
    };
    let (first, second) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let port = free_port()?;
    let extra = ["--postgres", options.url.as_str(), "--log-in-postgres"];
    // Each event takes 300 ms on the leader: most of them wait when it dies.
    let mut leader = spawn_bot_with(first.path(), port, 300, &extra)?;
    wait_listening(port).await?;
    let mut standby = spawn_bot_with(second.path(), port, 0, &extra)?;
    // Transactions keep coming, before, during and after the failover.
    let sender = tokio::spawn(send_until_acknowledged(port, 30));
    eventually(
        Duration::from_secs(20),
        "the leader handles its first events",
        || async { Ok((!record(first.path()).is_empty()).then_some(())) },
    )
    .await?;
    if let Some(status) = standby.try_wait()? {
        bail!("the standby did not wait for the leader: it exited with {status}");
    }
    // Inside the handling of the next events (300 ms each).
    tokio::time::sleep(Duration::from_millis(120)).await;
    leader.kill()?;
    leader.wait()?;
    let by_leader = record(first.path());

    // The standby gets the lock, reads the acknowledged transactions from
    // the database and listens where the leader did; the sender's retries
    // reach it.
    let ids = sender.await??;
    if by_leader.len() >= ids.len() / 2 {
        bail!("the leader handled most events before it was killed: the test proves little");
    }
    let all = || {
        let mut all = record(first.path());
        all.extend(record(second.path()));
        all
    };
    eventually(Duration::from_secs(30), "every event handled", || async {
        Ok((all().len() >= ids.len()).then_some(()))
    })
    .await?;
    // The homeserver sends an acknowledged transaction again: a duplicate
    // for the new leader too; then a marker.
    let (again, _) = transaction(&["!roomA", "!roomB"], 1, "f000");
    assert_eq!(put(port, "txn-0", &again).await?, 200);
    let (marker, marker_ids) = transaction(&["!roomA"], 1, "g");
    assert_eq!(put(port, "txn-marker", &marker).await?, 200);
    eventually(Duration::from_secs(20), "the marker event", || async {
        Ok(record(second.path()).contains(&marker_ids[0]).then_some(()))
    })
    .await?;
    standby.kill()?;
    standby.wait()?;

    let handled = all();
    assert_once_in_order(&handled, &ids, "f", &marker_ids);
    assert!(
        !record(second.path()).is_empty() && !by_leader.is_empty(),
        "both instances handled some"
    );
    Ok(())
}

#[tokio::test]
async fn a_leader_whose_lock_connection_is_cut_exits_at_once() -> Result<()> {
    let Some(options) = ghostkit::testing::postgres_database().await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let extra = ["--postgres", options.url.as_str(), "--log-in-postgres"];
    let mut leader = spawn_bot_with(dir.path(), port, 0, &extra)?;
    wait_listening(port).await?;
    // Cut the connection that holds the advisory lock, as a database
    // failover or a network partition would.
    let (client, connection) = tokio_postgres::connect(&options.url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let cut = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND database = \
             (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await?;
    assert_eq!(cut.len(), 1, "one connection holds the leader's lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = leader.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            bail!("the leader still runs 10 s after its lock's connection was cut");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(1), "{status}");
    Ok(())
}
