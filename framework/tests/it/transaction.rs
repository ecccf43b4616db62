//! Transactions end to end and the durable log: item kinds, dedupe across
//! restarts, bounded memory, and recovery of unfinished items.

use std::sync::Arc;

use ghostkit::event::EventKind;
use ghostkit::transaction::{Accepted, LogConfig, TransactionLog};
use serde_json::json;

use crate::common::{
    self, accept_new, call, ids, message, open_store, put_txn, service, txn, wait_until, Options,
    Recorder, Stack, PATIENCE,
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
    // With another body, the homeserver numbers its transactions again:
    // the new event is handled, the known one is not.
    let reused = txn(&[
        message("$1", "!r:x.org", "one"),
        message("$other", "!r:x.org", "x"),
    ]);
    call(&app, put_txn("7", reused.clone()).to_request())
        .await
        .assert_empty_ok();
    // And that transaction re-sent is a duplicate in turn.
    call(&app, put_txn("7", reused).to_request())
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
    assert_eq!(rec.event_ids(), ["$1", "$other", "$sentinel"]);
}

#[tokio::test]
async fn txn_ids_counted_again_by_a_reset_homeserver_lose_nothing_across_restarts() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let body = |ids: &[&str]| {
        txn(&ids
            .iter()
            .map(|id| message(id, "!r:x.org", "x"))
            .collect::<Vec<_>>())
    };
    /// A txnId, its body, and the events it must bring (`None`: a duplicate).
    type Step = (&'static str, Vec<u8>, Option<Vec<&'static str>>);
    let run = |steps: Vec<Step>| {
        let path = dir.path().to_owned();
        async move {
            let store = open_store(&path).await;
            let log = TransactionLog::open(&store, LogConfig::default())
                .await
                .unwrap();
            for (txn_id, body, want) in steps {
                let got = match log.accept(txn_id, body.into()).await.unwrap() {
                    Accepted::New(items) => {
                        for i in &items {
                            log.item_done(i.seq, i.idx);
                        }
                        Some(ids(&items))
                    }
                    Accepted::Duplicate => None,
                };
                let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                assert_eq!(got, want, "txnId {txn_id}");
            }
            log.persist_progress().await.unwrap();
        }
    };
    // The first homeserver: txnIds 1 and 2.
    run(vec![
        ("1", body(&["$a"]), Some(vec!["$a"])),
        ("2", body(&["$b"]), Some(vec!["$b"])),
    ])
    .await;
    // Restarted, it counts from 1 again, and re-sends $b it was not sure of.
    run(vec![
        ("1", body(&["$c"]), Some(vec!["$c"])),
        ("1", body(&["$c"]), None),
        ("2", body(&["$b", "$d"]), Some(vec!["$d"])),
        // A real re-send of the first homeserver's txn 1 is a reuse too, but
        // its event is known.
        ("1", body(&["$a"]), Some(vec![])),
    ])
    .await;
    // After our own restart, the new bodies are still known as re-sends.
    run(vec![
        ("2", body(&["$b", "$d"]), None),
        ("3", body(&["$e"]), Some(vec!["$e"])),
    ])
    .await;
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
        // A clean stop writes the done marks, as `Appservice` does.
        stack
            .log
            .persist_progress()
            .await
            .expect("progress is written");
        assert_eq!(stack.log.unflushed_marks(), 0);
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
        let log = TransactionLog::open(&store, LogConfig::default())
            .await
            .unwrap();
        for i in accept_new(&log, txn_id, &txn(&[message(event_id, "!r:x.org", "x")])).await {
            log.item_done(i.seq, i.idx);
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, LogConfig::default())
        .await
        .unwrap();
    for (txn_id, event_id) in [("A", "$a"), ("B", "$b"), ("C", "$c")] {
        let body = txn(&[message(event_id, "!r:x.org", "x")]);
        assert!(
            matches!(
                log.accept(txn_id, body.into()).await.unwrap(),
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
        let log = TransactionLog::open(&store, config.clone()).await.unwrap();
        for i in 0..100 {
            let body = txn(&[message(&format!("$e{i}"), "!r:x.org", "x")]);
            let Accepted::New(items) = log
                .accept(&format!("t{i}"), body.clone().into())
                .await
                .unwrap()
            else {
                panic!("t{i} is new");
            };
            for it in items {
                log.item_done(it.seq, it.idx);
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
            let body = txn(&[message(&format!("$e{i}"), "!r:x.org", "x")]);
            assert!(matches!(
                log.accept(&format!("t{i}"), body.into()).await.unwrap(),
                Accepted::Duplicate
            ));
        }
        log.persist_progress().await.unwrap();
        assert_eq!(log.pending_transactions(), 0);
    }
    // Still bounded, and the same, after a restart.
    let store = open_store(dir.path()).await;
    let log = TransactionLog::open(&store, config).await.unwrap();
    assert!(log.remembered_transactions() <= 20);
    assert!(log.remembered_transactions() >= 10);
    let body = txn(&[message("$e99", "!r:x.org", "x")]);
    assert!(matches!(
        log.accept("t99", body.into()).await.unwrap(),
        Accepted::Duplicate
    ));
    // The oldest are forgotten: t0 is new again.
    assert!(matches!(
        log.accept("t0", bytes::Bytes::from_static(b"{\"events\":[]}"))
            .await
            .unwrap(),
        Accepted::New(_)
    ));
}
