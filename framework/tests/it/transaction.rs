//! Transactions end to end and the durable log: item kinds, dedupe across
//! restarts, bounded memory, and recovery of unfinished items.

use std::sync::Arc;

use ghostkit::event::EventKind;
use ghostkit::transaction::{Accepted, LogConfig, LogItem, TransactionLog};
use serde_json::json;

use crate::common::{
    self, call, message, open_store, put_txn, service, txn, wait_until, Options, Recorder, Stack,
    PATIENCE,
};

// --- item kinds through the whole stack ---

/// Sends one transaction body and returns what the handler saw, waiting for `n` calls.
async fn deliver(body: serde_json::Value, n: usize) -> Vec<common::Seen> {
    common::init_tracing();
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    let app = service!(stack.state.clone());
    call(
        &app,
        put_txn("1", serde_json::to_vec(&body).unwrap()).to_request(),
    )
    .await
    .assert_empty_ok();
    let seen = rec.wait_for(n).await;
    // Every item leaves the log once handled.
    assert!(wait_until(PATIENCE, || stack.log.pending_transactions() == 0).await);
    seen
}

fn typing(room: &str) -> serde_json::Value {
    json!({"type": "m.typing", "room_id": room, "content": {"user_ids": ["@a:x.org"]}})
}

#[actix_web::test]
async fn stable_ephemeral_reaches_on_ephemeral() {
    let seen = deliver(
        json!({"events": [], "ephemeral": [typing("!r:x.org"),
            {"type": "m.presence", "sender": "@a:x.org", "content": {"presence": "online"}}]}),
        2,
    )
    .await;
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|s| s.via == "on_ephemeral" && s.kind == EventKind::Ephemeral));
    let types: Vec<_> = seen.iter().map(|s| s.event_type.as_str()).collect();
    assert!(types.contains(&"m.typing") && types.contains(&"m.presence"));
    let t = seen.iter().find(|s| s.event_type == "m.typing").unwrap();
    assert_eq!(t.room_id.as_deref(), Some("!r:x.org"));
}

#[actix_web::test]
async fn unstable_ephemeral_reaches_on_ephemeral() {
    let seen = deliver(
        json!({"events": [], "de.sorunome.msc2409.ephemeral": [typing("!r:x.org")]}),
        1,
    )
    .await;
    assert_eq!(seen[0].via, "on_ephemeral");
    assert_eq!(seen[0].kind, EventKind::Ephemeral);
    assert_eq!(seen[0].event_type, "m.typing");
}

#[actix_web::test]
async fn unstable_to_device_reaches_on_to_device() {
    let seen = deliver(
        json!({"events": [], "de.sorunome.msc2409.to_device": [{
            "type": "m.room_key_request", "sender": "@a:x.org",
            "to_user_id": "@_e_b:x.org", "to_device_id": "DEV",
            "content": {"action": "cancellation"}}]}),
        1,
    )
    .await;
    assert_eq!(seen[0].via, "on_to_device");
    assert_eq!(seen[0].kind, EventKind::ToDevice);
    assert_eq!(seen[0].to_user_id.as_deref(), Some("@_e_b:x.org"));
    assert_eq!(seen[0].room_id, None);
    assert_eq!(seen[0].raw["to_device_id"], "DEV");
}

#[actix_web::test]
async fn msc3202_device_data_reaches_on_device_data() {
    let lists = json!({"changed": ["@a:x.org"], "left": ["@b:x.org"]});
    let otk = json!({"@_e_b:x.org": {"DEV": {"signed_curve25519": 50}}});
    let fallback = json!({"@_e_b:x.org": {"DEV": ["signed_curve25519"]}});
    let seen = deliver(
        json!({"events": [],
            "org.matrix.msc3202.device_lists": lists,
            "org.matrix.msc3202.device_one_time_keys_count": otk,
            "org.matrix.msc3202.device_unused_fallback_key_types": fallback}),
        3,
    )
    .await;
    assert!(seen.iter().all(|s| s.via == "on_device_data"), "{seen:#?}");
    let of = |kind| {
        seen.iter()
            .find(|s| s.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} in {seen:#?}"))
    };
    assert_eq!(of(EventKind::DeviceLists).raw, lists);
    assert_eq!(of(EventKind::OneTimeKeyCounts).raw, otk);
    assert_eq!(of(EventKind::FallbackKeyTypes).raw, fallback);
}

#[actix_web::test]
async fn the_other_otk_count_spelling_reaches_on_device_data() {
    let otk = json!({"@_e_b:x.org": {"DEV": {"signed_curve25519": 7}}});
    let seen = deliver(
        json!({"events": [], "org.matrix.msc3202.device_one_time_key_counts": otk}),
        1,
    )
    .await;
    assert_eq!(seen[0].via, "on_device_data");
    assert_eq!(seen[0].kind, EventKind::OneTimeKeyCounts);
    assert_eq!(seen[0].raw, otk);
}

#[actix_web::test]
async fn room_v12_room_ids_are_accepted() {
    let room = "!iVZ_MlYQB25yyxanRNo1iDeazUZE7PwofPkWAEFQ2A8";
    let seen = deliver(
        json!({"events": [message("$v12", room, "hello v12")],
               "ephemeral": [typing(room)]}),
        2,
    )
    .await;
    let msg = seen
        .iter()
        .find(|s| s.via == "on_message")
        .expect("message");
    assert_eq!(msg.room_id.as_deref(), Some(room));
    assert_eq!(msg.event_id.as_deref(), Some("$v12"));
    let eph = seen
        .iter()
        .find(|s| s.via == "on_ephemeral")
        .expect("typing");
    assert_eq!(eph.room_id.as_deref(), Some(room));
}

#[actix_web::test]
async fn all_kinds_in_one_transaction() {
    let seen = deliver(
        json!({
            "events": [message("$m", "!r:x.org", "hi"),
                {"type": "m.room.topic", "event_id": "$s", "room_id": "!r:x.org",
                 "sender": "@a:x.org", "state_key": "", "content": {"topic": "t"}}],
            "ephemeral": [typing("!r:x.org")],
            "de.sorunome.msc2409.to_device": [{"type": "m.dummy", "sender": "@a:x.org",
                "to_user_id": "@_e_b:x.org", "content": {}}],
            "org.matrix.msc3202.device_lists": {"changed": [], "left": []},
        }),
        5,
    )
    .await;
    let mut vias: Vec<_> = seen.iter().map(|s| s.via).collect();
    vias.sort();
    assert_eq!(
        vias,
        [
            "on_device_data",
            "on_ephemeral",
            "on_message",
            "on_state",
            "on_to_device"
        ]
    );
}

// --- dedupe ---

#[actix_web::test]
async fn same_txn_id_twice_is_dispatched_once() {
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    let app = service!(stack.state.clone());

    let body = txn(&[message("$1", "!r:x.org", "one")]);
    call(&app, put_txn("7", body.clone()).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$1").await;
    call(&app, put_txn("7", body).to_request())
        .await
        .assert_empty_ok();
    // Also with a different body: the txnId decides.
    call(
        &app,
        put_txn("7", txn(&[message("$other", "!r:x.org", "x")])).to_request(),
    )
    .await
    .assert_empty_ok();
    // Events of one room are handled in order: once the sentinel is, any
    // duplicate dispatched before it would have been too.
    call(
        &app,
        put_txn("8", txn(&[message("$sentinel", "!r:x.org", "s")])).to_request(),
    )
    .await
    .assert_empty_ok();
    rec.wait_for_event("$sentinel").await;
    assert_eq!(rec.event_ids(), ["$1", "$sentinel"]);
}

#[actix_web::test]
async fn concurrent_puts_of_one_txn_id_dispatch_once() {
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    let app = service!(stack.state.clone());

    let body = txn(&[message("$1", "!r:x.org", "one")]);
    let calls = (0..8).map(|_| call(&app, put_txn("same", body.clone()).to_request()));
    for reply in futures_util::future::join_all(calls).await {
        reply.assert_empty_ok();
    }
    call(
        &app,
        put_txn("next", txn(&[message("$sentinel", "!r:x.org", "s")])).to_request(),
    )
    .await
    .assert_empty_ok();
    rec.wait_for_event("$sentinel").await;
    assert_eq!(rec.event_ids(), ["$1", "$sentinel"]);
}

#[actix_web::test]
async fn dedupe_survives_a_restart() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let body = txn(&[message("$1", "!r:x.org", "one")]);
    {
        let rec = Arc::new(Recorder::default());
        let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
        let app = service!(stack.state.clone());
        call(&app, put_txn("41", body.clone()).to_request())
            .await
            .assert_empty_ok();
        rec.wait_for_event("$1").await;
        assert!(wait_until(PATIENCE, || stack.log.pending_transactions() == 0).await);
    }

    let rec = Arc::new(Recorder::default());
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    assert!(stack.log.remembered_transactions() >= 1);
    assert!(
        stack.log.recover().unwrap().is_empty(),
        "a handled event is not recovered"
    );
    let app = service!(stack.state.clone());
    call(&app, put_txn("41", body).to_request())
        .await
        .assert_empty_ok();
    // The same event under a new txnId is not dispatched again either.
    call(
        &app,
        put_txn("42", txn(&[message("$1", "!r:x.org", "one")])).to_request(),
    )
    .await
    .assert_empty_ok();
    call(
        &app,
        put_txn("43", txn(&[message("$sentinel", "!r:x.org", "s")])).to_request(),
    )
    .await
    .assert_empty_ok();
    rec.wait_for_event("$sentinel").await;
    assert_eq!(rec.event_ids(), ["$sentinel"]);
}

#[tokio::test]
async fn dedupe_survives_several_restarts() {
    // Each run handles its transaction completely, so the log is empty at
    // every start; what the earlier runs saw must still be known.
    let dir = tempfile::tempdir().unwrap();
    for (txn_id, event_id) in [("A", "$a"), ("B", "$b"), ("C", "$c")] {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, LogConfig::default()).unwrap();
        for i in accept_new(&log, txn_id, &txn(&[message(event_id, "!r:x.org", "x")])).await {
            log.item_done(i.seq, i.idx).unwrap();
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, LogConfig::default()).unwrap();
    for txn_id in ["A", "B", "C"] {
        assert!(
            matches!(
                log.accept(txn_id, &txn(&[])).await.unwrap(),
                Accepted::Duplicate
            ),
            "txnId {txn_id} forgotten after restarts"
        );
    }
    let body = txn(&[
        message("$a", "!r:x.org", "x"),
        message("$b", "!r:x.org", "x"),
        message("$c", "!r:x.org", "x"),
        message("$d", "!r:x.org", "x"),
    ]);
    assert_eq!(ids(&accept_new(&log, "D", &body).await), ["$d"]);
}

#[actix_web::test]
async fn same_event_under_a_new_txn_id_is_not_dispatched_again() {
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(dir.path(), rec.clone(), Options::default()).await;
    let app = service!(stack.state.clone());

    call(
        &app,
        put_txn("a", txn(&[message("$1", "!r:x.org", "one")])).to_request(),
    )
    .await
    .assert_empty_ok();
    // Re-sent under a new txnId next to a new event, and twice inside one transaction.
    let again = txn(&[
        message("$1", "!r:x.org", "one"),
        message("$2", "!r:x.org", "two"),
        message("$2", "!r:x.org", "two"),
    ]);
    call(&app, put_txn("b", again).to_request())
        .await
        .assert_empty_ok();
    call(
        &app,
        put_txn("c", txn(&[message("$sentinel", "!r:x.org", "s")])).to_request(),
    )
    .await
    .assert_empty_ok();
    rec.wait_for_event("$sentinel").await;
    assert_eq!(rec.event_ids(), ["$1", "$2", "$sentinel"]);
    assert!(wait_until(PATIENCE, || stack.log.pending_transactions() == 0).await);
}

#[tokio::test]
async fn seen_sets_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        seen_transactions: 10,
        seen_events: 10,
        ..LogConfig::default()
    };
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).unwrap();
        for i in 0..100 {
            let body = txn(&[message(&format!("$e{i}"), "!r:x.org", "x")]);
            let Accepted::New(items) = log.accept(&format!("t{i}"), &body).await.unwrap() else {
                panic!("t{i} is new");
            };
            for it in items {
                log.item_done(it.seq, it.idx).unwrap();
            }
        }
        assert!(
            log.remembered_transactions() <= 20,
            "{}",
            log.remembered_transactions()
        );
        assert!(log.remembered_events() <= 20, "{}", log.remembered_events());
        // At least the last `seen_transactions` are remembered.
        for i in 90..100 {
            assert!(matches!(
                log.accept(&format!("t{i}"), b"{\"events\":[]}")
                    .await
                    .unwrap(),
                Accepted::Duplicate
            ));
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    // Still bounded, and the same, after a restart.
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).unwrap();
    assert!(log.remembered_transactions() <= 20);
    assert!(log.remembered_transactions() >= 10);
    assert!(matches!(
        log.accept("t99", b"{\"events\":[]}").await.unwrap(),
        Accepted::Duplicate
    ));
    // The oldest are forgotten: t0 is new again.
    assert!(matches!(
        log.accept("t0", b"{\"events\":[]}").await.unwrap(),
        Accepted::New(_)
    ));
}

// --- recovery ---

fn ids(items: &[LogItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.event.event_id().unwrap().to_string())
        .collect()
}

async fn accept_new(log: &TransactionLog, txn_id: &str, body: &[u8]) -> Vec<LogItem> {
    match log.accept(txn_id, body).await.unwrap() {
        Accepted::New(items) => items,
        Accepted::Duplicate => panic!("{txn_id} taken as a duplicate"),
    }
}

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
        let log = TransactionLog::open(&store, config.clone()).unwrap();
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
    let log = TransactionLog::open(&store, config.clone()).unwrap();
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
        log.accept("b", &b).await.unwrap(),
        Accepted::Duplicate
    ));
}

#[tokio::test]
async fn only_the_items_not_done_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::default();
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).unwrap();
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
            log.item_done(i.seq, i.idx).unwrap();
        }
        let _ = c;
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 2, "b left the log");
    }
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).unwrap();
        let rest = log.recover().unwrap();
        assert_eq!(ids(&rest), ["$a2", "$c1"]);
        // Finish them; nothing is left for the next run.
        for i in &rest {
            log.item_done(i.seq, i.idx).unwrap();
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).unwrap();
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
        let log = TransactionLog::open(&store, config.clone()).unwrap();
        for i in accept_new(&log, "1", &txn(&[message("$old", "!r:x.org", "x")])).await {
            log.item_done(i.seq, i.idx).unwrap();
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, config.clone()).unwrap();
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
    let log = TransactionLog::open(&store, config).unwrap();
    assert_eq!(ids(&log.recover().unwrap()), ["$new"]);
}

#[actix_web::test]
async fn recovered_items_go_through_the_router() {
    // What `Appservice::start` does with a crashed run's leftovers.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, LogConfig::default()).unwrap();
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
    let log = TransactionLog::open(&store, config).unwrap();
    for i in 0..50 {
        let body = txn(&[message(
            &format!("$seg{i}"),
            "!r:x.org",
            "some text to fill the segment",
        )]);
        let Accepted::New(items) = log.accept(&format!("t{i}"), &body).await.unwrap() else {
            panic!("transaction {i} taken for a duplicate");
        };
        for item in items {
            log.item_done(item.seq, item.idx).unwrap();
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
    let on_disk = std::fs::read_dir(dir.path().join("txnlog"))
        .unwrap()
        .count();
    assert_eq!(on_disk, log.segment_files());
}
