//! The log under I/O faults: every acknowledged transaction is handled
//! once, after the fault and after a crash.

use super::*;

fn dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ghostkit-log-{:016x}", rand::random::<u64>()))
}

fn body(event_ids: &[&str]) -> Bytes {
    let events: Vec<serde_json::Value> = event_ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "event_id": id, "room_id": "!r:x.org", "sender": "@u:x.org",
                "type": "m.room.message", "origin_server_ts": 1,
                "content": {"msgtype": "m.text", "body": id},
            })
        })
        .collect();
    Bytes::from(serde_json::to_vec(&serde_json::json!({ "events": events })).expect("json"))
}

fn ids(items: &[LogItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.event.event_id_str().map(str::to_owned))
        .collect()
}

fn new_items(accepted: Accepted) -> Vec<LogItem> {
    match accepted {
        Accepted::New(items) => items,
        Accepted::Duplicate => panic!("taken for a duplicate"),
    }
}

/// Opens the log in `dir`, as a restart does.
async fn open(dir: &std::path::Path) -> (Store, TransactionLog) {
    let store = Store::open(dir).expect("store opens");
    let log = TransactionLog::open(&store, LogConfig::default())
        .await
        .expect("log opens");
    (store, log)
}

/// Handles everything: every item done, progress flushed, finished
/// segments retired.
async fn handle_all(log: &TransactionLog, items: &[LogItem]) {
    for item in items {
        log.item_done(item.seq, item.idx);
    }
    log.persist_progress().await.expect("flushed");
}

#[tokio::test]
async fn a_full_disk_hides_no_later_acknowledged_transaction() {
    let dir = dir();
    let mut acked = Vec::new();
    {
        let (_store, log) = open(&dir).await;
        for i in 1..=3 {
            let id = format!("$a{i}");
            log.accept(&format!("t{i}"), body(&[&id]))
                .await
                .expect("accepted");
            acked.push(id);
        }
        // The disk fills up part-way through the fourth transaction.
        log.journal.faults().limit_writes(Some(40));
        let refused = log.accept("t4", body(&["$a4"])).await;
        assert!(refused.is_err(), "a failed append is not acknowledged");
        log.journal.faults().limit_writes(None);
        for i in 5..=6 {
            let id = format!("$a{i}");
            log.accept(&format!("t{i}"), body(&[&id]))
                .await
                .expect("accepted");
            acked.push(id);
        }
        // The homeserver retries the refused one.
        let retried = new_items(log.accept("t4", body(&["$a4"])).await.expect("accepted"));
        assert_eq!(ids(&retried), ["$a4"]);
        acked.push("$a4".to_owned());
        // A crash: nothing was handled.
    }
    let (_store, log) = open(&dir).await;
    let mut recovered = ids(&log.recover().expect("recovers"));
    recovered.sort();
    acked.sort();
    assert_eq!(
        recovered, acked,
        "every acknowledged transaction comes back, once"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failed_sync_lets_the_retry_in_and_its_events_are_handled_once() {
    let dir = dir();
    {
        let (_store, log) = open(&dir).await;
        log.accept("t1", body(&["$b1"])).await.expect("accepted");
        log.journal.faults().fail_syncs(1);
        assert!(log.accept("t2", body(&["$b2", "$b3"])).await.is_err());
        // The retry is new: the failed copy's txnId and events are forgotten.
        let retried = new_items(
            log.accept("t2", body(&["$b2", "$b3"]))
                .await
                .expect("accepted"),
        );
        assert_eq!(ids(&retried), ["$b2", "$b3"]);
        assert!(matches!(
            log.accept("t2", body(&["$b2", "$b3"]))
                .await
                .expect("accepted"),
            Accepted::Duplicate
        ));
    }
    // After a crash, the failed copy (which did reach this disk) is not
    // handled besides its retry.
    let (_store, log) = open(&dir).await;
    let items = log.recover().expect("recovers");
    let mut got = ids(&items);
    got.sort();
    assert_eq!(got, ["$b1", "$b2", "$b3"]);
    // Once handled, no segment holds the log back: the failed copy's
    // sequence number was released.
    handle_all(&log, &items).await;
    assert_eq!(log.pending_transactions(), 0);
    assert_eq!(
        log.segment_files(),
        1,
        "only the segment being written is left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_damaged_record_loses_only_itself_and_its_segment_is_kept_aside() {
    let dir = dir();
    {
        let (_store, log) = open(&dir).await;
        for i in 1..=6 {
            log.accept(&format!("t{i}"), body(&[&format!("$c{i}")]))
                .await
                .expect("accepted");
        }
    }
    // One bit flips in the second record's body.
    let txnlog = dir.join("txnlog");
    let seg = wal::existing_segments(&txnlog).expect("lists")[0];
    let path = txnlog.join(format!("{seg:016}.seg"));
    let mut bytes = std::fs::read(&path).expect("reads");
    let first_len = body(&["$c1"]).len() + 2 + 22;
    bytes[28 + first_len + 22 + 20] ^= 0x04;
    std::fs::write(&path, &bytes).expect("writes");

    let (_store, log) = open(&dir).await;
    let items = log.recover().expect("recovers");
    assert_eq!(ids(&items), ["$c1", "$c3", "$c4", "$c5", "$c6"]);
    handle_all(&log, &items).await;
    let corrupt = txnlog.join(format!("{seg:016}.corrupt"));
    assert!(
        corrupt.exists(),
        "the damaged segment is kept for inspection"
    );
    assert_eq!(std::fs::read(&corrupt).expect("reads"), bytes);
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
