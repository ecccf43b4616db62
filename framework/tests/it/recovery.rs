//! Recovery from the durable log: what a crash leaves unfinished is
//! dispatched again, in order, and nothing handled is dispatched twice; the
//! disk used by handled transactions is given back.

use std::sync::Arc;

use ghostkit::event::EventKind;
use ghostkit::transaction::{Accepted, LogConfig, TransactionLog};
use serde_json::json;

use crate::common::{
    accept_new, call, ids, message, open_store, put_txn, service, txn, wait_until, Options,
    Recorder, Stack, PATIENCE,
};

// --- recovery ---

#[tokio::test]
async fn unfinished_items_are_recovered_in_order_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::default();
    let a = txn(&[
        message("$a1", "!r1:x.org", "x"),
        message("$a2", "!r2:x.org", "x"),
        message("$a3", "!r1:x.org", "x"),
    ]);
    let b = txn(&[message("$b1", "!r2:x.org", "x")]);
    let c = serde_json::to_vec(&json!({
        "events": [message("$c1", "!r1:x.org", "x")],
        "ephemeral": [{"type": "m.typing", "room_id": "!r1:x.org", "content": {}}],
    }))
    .unwrap();
    let accepted = {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        let mut all = accept_new(&log, "a", &a).await;
        all.extend(accept_new(&log, "b", &b).await);
        all.extend(accept_new(&log, "c", &c).await);
        assert_eq!(log.pending_transactions(), 3);
        all.iter()
            .map(|i| (i.seq, i.idx, i.event.event_type().to_owned()))
            .collect::<Vec<_>>()
        // Dropped without marking anything done: a crash.
    };

    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config.clone()).await.unwrap();
    let recovered = log.recover().unwrap();
    let got: Vec<_> = recovered
        .iter()
        .map(|i| (i.seq, i.idx, i.event.event_type().to_owned()))
        .collect();
    assert_eq!(got, accepted, "same items, same order");
    assert_eq!(
        recovered
            .iter()
            .filter_map(|i| i.event.event_id().map(|e| e.to_string()))
            .collect::<Vec<_>>(),
        ["$a1", "$a2", "$a3", "$b1", "$c1"]
    );
    assert_eq!(recovered[5].event.kind(), EventKind::Ephemeral);
    // The txnIds are still known.
    assert!(matches!(
        log.accept("b", b.clone().into()).await.unwrap(),
        Accepted::Duplicate
    ));
}

#[tokio::test]
async fn only_the_items_not_done_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::default();
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        let a = accept_new(
            &log,
            "a",
            &txn(&[
                message("$a1", "!r:x.org", "x"),
                message("$a2", "!r:x.org", "x"),
                message("$a3", "!r:x.org", "x"),
            ]),
        )
        .await;
        let b = accept_new(
            &log,
            "b",
            &txn(&[
                message("$b1", "!r:x.org", "x"),
                message("$b2", "!r:x.org", "x"),
            ]),
        )
        .await;
        let c = accept_new(&log, "c", &txn(&[message("$c1", "!q:x.org", "x")])).await;
        // a: first and last done; b: all done; c: nothing done.
        for i in [&a[0], &a[2], &b[0], &b[1]] {
            log.item_done(i.seq, i.idx);
        }
        let _ = c;
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 2, "b left the log");
    }
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        let rest = log.recover().unwrap();
        assert_eq!(ids(&rest), ["$a2", "$c1"]);
        // Finish them; nothing is left for the next run.
        for i in &rest {
            log.item_done(i.seq, i.idx);
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    assert!(log.recover().unwrap().is_empty());
    assert_eq!(log.pending_transactions(), 0);
}

#[tokio::test]
async fn recovery_does_not_redeliver_events_handled_in_an_earlier_run() {
    // Run 1 handles $old completely; the log is then empty.
    // Run 2 gets $old again (re-sent under a new txnId) beside $new, and
    // crashes before anything is handled or persisted.
    // Run 3 must recover $new only.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::default();
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        for i in accept_new(&log, "1", &txn(&[message("$old", "!r:x.org", "x")])).await {
            log.item_done(i.seq, i.idx);
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        let items = accept_new(
            &log,
            "2",
            &txn(&[
                message("$old", "!r:x.org", "x"),
                message("$new", "!r:x.org", "x"),
            ]),
        )
        .await;
        assert_eq!(ids(&items), ["$new"]);
    }
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    assert_eq!(ids(&log.recover().unwrap()), ["$new"]);
}

#[actix_web::test]
async fn recovered_items_go_through_the_router() {
    // What `Appservice::start` does with a crashed run's leftovers.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, LogConfig::default())
            .await
            .unwrap();
        accept_new(
            &log,
            "1",
            &txn(&[
                message("$1", "!r:x.org", "x"),
                message("$2", "!r:x.org", "x"),
            ]),
        )
        .await;
    }
    let rec = Arc::new(Recorder::default());
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    let items = stack.log.recover().unwrap();
    let admission = stack.router.admit(items.len()).await;
    stack.router.dispatch(items, admission);
    rec.wait_for(2).await;
    assert_eq!(rec.event_ids(), ["$1", "$2"]);
    assert!(wait_until(PATIENCE, || stack.log.pending_transactions() == 0).await);
    // The txnId is still a duplicate through the server.
    let app = service!(stack.state.clone());
    call(
        &app,
        put_txn("1", txn(&[message("$1", "!r:x.org", "x")])).to_request(),
    )
    .await
    .assert_empty_ok();
    call(
        &app,
        put_txn("2", txn(&[message("$s", "!r:x.org", "x")])).to_request(),
    )
    .await
    .assert_empty_ok();
    rec.wait_for_event("$s").await;
    assert_eq!(rec.event_ids(), ["$1", "$2", "$s"]);
}

#[tokio::test]
async fn handled_segments_are_deleted_so_disk_use_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 512,
        ..LogConfig::default()
    };
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    for i in 0..50 {
        let body = txn(&[message(
            &format!("$seg{i}"),
            "!r:x.org",
            "some text to fill the segment",
        )]);
        let Accepted::New(items) = log
            .accept(&format!("t{i}"), body.clone().into())
            .await
            .unwrap()
        else {
            panic!("transaction {i} taken for a duplicate");
        };
        for item in items {
            log.item_done(item.seq, item.idx);
        }
        log.persist_progress().await.unwrap();
    }
    // Every transaction is done: only the segment being written (and at most
    // the one just rotated away from) is left, not one per 512 bytes.
    assert!(
        log.segment_files() <= 2,
        "{} segment files left",
        log.segment_files()
    );
    let names: Vec<String> = std::fs::read_dir(dir.path().join("txnlog"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let count = |ext: &str| names.iter().filter(|n| n.ends_with(ext)).count();
    assert_eq!(count(".seg"), log.segment_files());
    // Handled segments kept to be written over: a few, as configured.
    assert!(
        (1..=LogConfig::default().spare_segments).contains(&count(".spare")),
        "{names:?}"
    );
    // And the snapshot of the seen window, written when segments retire.
    assert_eq!(count("seen.snapshot"), 1, "{names:?}");
    assert_eq!(
        names.len(),
        count(".seg") + count(".spare") + 1,
        "{names:?}"
    );
}

/// The body of transaction `t{i}` of [`retire_twenty`].
fn old_body(i: usize) -> Vec<u8> {
    txn(&[message(&format!("$old{i}"), "!r:x.org", "filler text")])
}

/// Fills and retires segments: 20 handled transactions of one event each.
async fn retire_twenty(dir: &std::path::Path, config: &LogConfig) {
    let store = open_store(dir).await;
    let log = TransactionLog::open(&store, config.clone()).await.unwrap();
    for i in 0..20 {
        let body = old_body(i);
        for item in accept_new(&log, &format!("t{i}"), &body).await {
            log.item_done(item.seq, item.idx);
        }
        log.persist_progress().await.unwrap();
    }
    assert!(log.segment_files() <= 2, "segments were retired");
}

#[tokio::test]
async fn transactions_of_retired_segments_are_still_known_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 512,
        ..LogConfig::default()
    };
    retire_twenty(dir.path(), &config).await;
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    // t0's segment is long gone: the snapshot remembers it, with its body.
    assert!(matches!(
        log.accept("t0", old_body(0).into()).await.unwrap(),
        Accepted::Duplicate
    ));
    // So is its event, re-sent under a new txnId.
    let again = txn(&[message("$old0", "!r:x.org", "filler text")]);
    assert!(accept_new(&log, "t-new", &again).await.is_empty());
}

#[tokio::test]
async fn without_the_snapshot_only_the_segments_on_disk_are_known() {
    // The counter-test: the snapshot is what carries retired segments over.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 512,
        ..LogConfig::default()
    };
    retire_twenty(dir.path(), &config).await;
    std::fs::remove_file(dir.path().join("txnlog").join("seen.snapshot")).unwrap();
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    assert!(matches!(
        log.accept("t0", old_body(0).into()).await.unwrap(),
        Accepted::New(_)
    ));
    assert!(matches!(
        log.accept("t19", old_body(19).into()).await.unwrap(),
        Accepted::Duplicate
    ));
}
