//! Two instances of the test bot on one PostgreSQL database, each with a
//! store folder of its own (two machines): one leads, the other waits as
//! its standby. The leader is killed with SIGKILL while acknowledged events
//! wait for their handler; the standby takes over the same address, and
//! every acknowledged event is handled once, in order, by one or the other.
//! And a leader whose lock connection is cut stops at once, since a standby
//! may be leading from then on.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::common::eventually;
use crate::crash::{
    assert_once_in_order, free_port, put, record, spawn_bot_with, transaction, wait_listening,
};

#[tokio::test]
async fn the_standby_takes_over_a_killed_leader_and_each_event_is_handled_once() -> Result<()> {
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
    let (body, ids) = transaction(&["!roomA", "!roomB"], 5, "f1");
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    eventually(
        Duration::from_secs(20),
        "the leader handles its first events",
        || async { Ok((!record(first.path()).is_empty()).then_some(())) },
    )
    .await?;
    if let Some(status) = standby.try_wait()? {
        bail!("the standby did not wait for the leader: it exited with {status}");
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    leader.kill()?;
    leader.wait()?;
    let by_leader = record(first.path());
    if by_leader.len() >= ids.len() {
        bail!("the leader finished before it was killed: the test proves nothing");
    }

    // The standby gets the lock, reads the acknowledged transaction from the
    // database and listens where the leader did.
    wait_listening(port).await?;
    let all = || {
        let mut all = record(first.path());
        all.extend(record(second.path()));
        all
    };
    eventually(Duration::from_secs(30), "every event handled", || async {
        Ok((all().len() >= ids.len()).then_some(()))
    })
    .await?;
    // The homeserver sends the acknowledged transaction again: a duplicate
    // for the new leader too; then a marker.
    assert_eq!(put(port, "txn-1", &body).await?, 200);
    let (marker, marker_ids) = transaction(&["!roomA"], 1, "f2");
    assert_eq!(put(port, "txn-2", &marker).await?, 200);
    eventually(Duration::from_secs(20), "the marker event", || async {
        Ok(record(second.path()).contains(&marker_ids[0]).then_some(()))
    })
    .await?;
    standby.kill()?;
    standby.wait()?;

    let handled = all();
    assert_once_in_order(&handled, &ids, "f1", &marker_ids);
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
