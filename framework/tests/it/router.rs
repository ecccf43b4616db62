//! The dispatcher: per-room order, concurrency across rooms, back-pressure,
//! failures and retries. Items come from a real transaction log on disk.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ghostkit::bot::HandlerResult;
use ghostkit::event::Event;
use ghostkit::router::{DispatchConfig, DispatchOrder, Router};
use ghostkit::transaction::{Accepted, LogConfig, LogItem, TransactionLog};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

use crate::common::{self, message, open_store, txn, wait_until, FnHandler, PATIENCE};

/// A router over a fresh on-disk log, calling `handler`.
struct Bench {
    _dir: tempfile::TempDir,
    log: Arc<TransactionLog>,
    router: Router,
    next_txn: AtomicU32,
}

impl Bench {
    async fn new(handler: Arc<FnHandler>, config: DispatchConfig) -> Bench {
        common::init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        let log = Arc::new(TransactionLog::open(&store, LogConfig::default()).unwrap());
        let router = Router::new(handler, common::app_context(&store), log.clone(), config);
        Bench {
            _dir: dir,
            log,
            router,
            next_txn: AtomicU32::new(0),
        }
    }

    /// Logs a transaction of `(event_id, room)` messages; returns its items.
    async fn log(&self, events: &[(&str, &str)]) -> Vec<LogItem> {
        let body = txn(&events
            .iter()
            .map(|(id, room)| message(id, room, "x"))
            .collect::<Vec<_>>());
        self.log_body(body).await
    }

    /// Logs a transaction body as it is; returns its items.
    async fn log_body(&self, body: Vec<u8>) -> Vec<LogItem> {
        let n = self.next_txn.fetch_add(1, Ordering::Relaxed);
        match self.log.accept(&n.to_string(), body.into()).await.unwrap() {
            Accepted::New(items) => items,
            Accepted::Duplicate => unreachable!(),
        }
    }

    /// Logs, admits and dispatches, as the transaction route does.
    async fn send(&self, events: &[(&str, &str)]) {
        let items = self.log(events).await;
        let admission = self.router.admit(items.len()).await;
        self.router.dispatch(items, admission);
    }

    /// Logs, admits and dispatches a transaction body.
    async fn send_body(&self, body: Vec<u8>) {
        let items = self.log_body(body).await;
        let admission = self.router.admit(items.len()).await;
        self.router.dispatch(items, admission);
    }

    /// Sends `(event_id, room, sender)` messages in one transaction.
    async fn send_from(&self, events: &[(&str, &str, &str)]) {
        let events: Vec<Value> = events
            .iter()
            .map(|(id, room, sender)| message_from(id, room, sender))
            .collect();
        self.send_body(txn(&events)).await;
    }

    fn handled(&self) -> u64 {
        self.router.stats().handled.load(Ordering::Relaxed)
    }

    fn failed(&self) -> u64 {
        self.router.stats().failed.load(Ordering::Relaxed)
    }

    async fn wait_finished(&self, n: u64) {
        let ok = wait_until(PATIENCE, || self.handled() + self.failed() >= n).await;
        assert!(
            ok,
            "expected {n} finished, handled {} failed {}",
            self.handled(),
            self.failed()
        );
    }
}

/// A message of `sender`.
fn message_from(event_id: &str, room_id: &str, sender: &str) -> Value {
    let mut m = message(event_id, room_id, "x");
    m["sender"] = sender.into();
    m
}

fn ordered(order: DispatchOrder) -> DispatchConfig {
    DispatchConfig {
        order: Some(order),
        ..DispatchConfig::default()
    }
}

fn sender_of(ev: &Event) -> String {
    ev.sender().map(|s| s.to_string()).unwrap_or_default()
}

fn id_of(ev: &Event) -> String {
    ev.event_id().map(|e| e.to_string()).unwrap_or_default()
}

fn room_of(ev: &Event) -> String {
    ev.room_id().map(|r| r.to_string()).unwrap_or_default()
}

type Log = Arc<Mutex<Vec<(String, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_room_are_handled_in_order() {
    let seen: Log = Arc::default();
    let s = seen.clone();
    let handler = FnHandler::new(move |ev| {
        let s = s.clone();
        async move {
            let pause = rand::thread_rng().gen_range(0..4);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            s.lock().unwrap().push((room_of(&ev), id_of(&ev)));
            Ok(())
        }
    });
    let bench = Bench::new(handler, DispatchConfig::default()).await;

    // Three rooms, interleaved, over several transactions.
    let rooms = ["!a:x.org", "!b:x.org", "!c:x.org"];
    let mut sent: HashMap<&str, Vec<String>> = HashMap::new();
    let mut n = 0;
    for _ in 0..6 {
        let mut batch = Vec::new();
        for _ in 0..10 {
            let room = rooms[rand::thread_rng().gen_range(0..rooms.len())];
            let id = format!("$e{n}");
            n += 1;
            sent.entry(room).or_default().push(id.clone());
            batch.push((id, room));
        }
        let batch: Vec<(&str, &str)> = batch.iter().map(|(i, r)| (i.as_str(), *r)).collect();
        bench.send(&batch).await;
    }
    bench.wait_finished(n).await;
    assert_eq!(bench.failed(), 0);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len() as u64, n);
    for (room, ids) in sent {
        let got: Vec<String> = seen
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, i)| i.clone())
            .collect();
        assert_eq!(got, ids, "order in {room}");
    }
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
    assert_eq!(bench.router.backlog(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_never_runs_two_handlers_at_once() {
    let busy: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let overlaps = Arc::new(AtomicU32::new(0));
    let (b, o) = (busy.clone(), overlaps.clone());
    let handler = FnHandler::new(move |ev| {
        let (b, o) = (b.clone(), o.clone());
        async move {
            let room = room_of(&ev);
            if b.lock().unwrap().insert(room.clone(), true) == Some(true) {
                o.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            b.lock().unwrap().insert(room, false);
            Ok(())
        }
    });
    let bench = Bench::new(handler, DispatchConfig::default()).await;
    let ids: Vec<String> = (0..40).map(|i| format!("$e{i}")).collect();
    // Many small transactions for two rooms, sent concurrently.
    let sends = ids.chunks(2).map(|pair| {
        let bench = &bench;
        async move {
            bench
                .send(&[
                    (pair[0].as_str(), "!a:x.org"),
                    (pair[1].as_str(), "!b:x.org"),
                ])
                .await
        }
    });
    futures_util::future::join_all(sends).await;
    bench.wait_finished(40).await;
    assert_eq!(overlaps.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_rooms_run_concurrently() {
    let a_waiting = Arc::new(AtomicU32::new(0));
    let b_done = Arc::new(Notify::new());
    let a_result: Arc<Mutex<Option<bool>>> = Arc::default();
    let (aw, bd, ar) = (a_waiting.clone(), b_done.clone(), a_result.clone());
    let handler = FnHandler::new(move |ev| {
        let (aw, bd, ar) = (aw.clone(), bd.clone(), ar.clone());
        async move {
            if room_of(&ev) == "!a:x.org" {
                // Blocks until room B's event was handled.
                aw.store(1, Ordering::SeqCst);
                let waited = tokio::time::timeout(PATIENCE, bd.notified()).await;
                *ar.lock().unwrap() = Some(waited.is_ok());
            } else {
                bd.notify_one();
            }
            Ok(())
        }
    });
    let bench = Bench::new(handler, DispatchConfig::default()).await;
    bench.send(&[("$a", "!a:x.org")]).await;
    assert!(wait_until(PATIENCE, || a_waiting.load(Ordering::SeqCst) == 1).await);
    bench.send(&[("$b", "!b:x.org")]).await;
    bench.wait_finished(2).await;
    assert_eq!(
        *a_result.lock().unwrap(),
        Some(true),
        "room A's handler never saw room B's event handled"
    );
    assert_eq!(bench.handled(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_rooms_bounds_the_rooms_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicU32::new(0));
    let order: Log = Arc::default();
    let (g, e, o) = (gate.clone(), entered.clone(), order.clone());
    let handler = FnHandler::new(move |ev| {
        let (g, e, o) = (g.clone(), e.clone(), o.clone());
        async move {
            e.fetch_add(1, Ordering::SeqCst);
            if room_of(&ev) == "!a:x.org" {
                g.acquire().await?.forget();
            }
            o.lock().unwrap().push((room_of(&ev), id_of(&ev)));
            Ok(())
        }
    });
    let config = DispatchConfig {
        max_concurrent_rooms: 1,
        ..DispatchConfig::default()
    };
    let bench = Bench::new(handler, config).await;
    bench.send(&[("$a", "!a:x.org")]).await;
    assert!(wait_until(PATIENCE, || entered.load(Ordering::SeqCst) == 1).await);
    bench.send(&[("$b", "!b:x.org")]).await;
    // Room B waits for the only worker, which room A holds.
    assert!(
        !wait_until(Duration::from_millis(300), || entered
            .load(Ordering::SeqCst)
            > 1)
        .await,
        "room B was handled while room A held the only worker"
    );
    gate.add_permits(1);
    bench.wait_finished(2).await;
    let order = order.lock().unwrap().clone();
    assert_eq!(order[0].1, "$a");
    assert_eq!(order[1].1, "$b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admit_waits_while_the_backlog_is_full() {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let handler = FnHandler::new(move |_ev| {
        let g = g.clone();
        async move {
            g.acquire().await?.forget();
            Ok(())
        }
    });
    let config = DispatchConfig {
        max_backlog: 3,
        ..DispatchConfig::default()
    };
    let bench = Bench::new(handler, config).await;
    // Three events in two rooms fill the backlog; their handlers block.
    bench
        .send(&[("$1", "!a:x.org"), ("$2", "!a:x.org"), ("$3", "!b:x.org")])
        .await;
    assert_eq!(bench.router.backlog(), 3);

    let more = bench.log(&[("$4", "!c:x.org")]).await;
    let admit = bench.router.admit(more.len());
    tokio::pin!(admit);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut admit)
            .await
            .is_err(),
        "admit completed while the backlog was full"
    );
    // One handler finishes: one place frees up and admit completes.
    gate.add_permits(1);
    let admission = tokio::time::timeout(PATIENCE, &mut admit)
        .await
        .expect("admit completes once a handler progressed");
    bench.router.dispatch(more, admission);
    assert_eq!(bench.handled(), 1);
    assert_eq!(bench.router.backlog(), 3);

    gate.add_permits(3);
    bench.wait_finished(4).await;
    assert!(wait_until(PATIENCE, || bench.router.backlog() == 0).await);
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_panics_are_counted_and_do_not_stop_dispatch() {
    let seen: Log = Arc::default();
    let s = seen.clone();
    let handler = FnHandler::new(move |ev| {
        let s = s.clone();
        async move {
            let id = id_of(&ev);
            if id.starts_with("$fail") {
                return Err(format!("{id} fails").into());
            }
            if id.starts_with("$panic") {
                panic!("{id} panics");
            }
            s.lock().unwrap().push((room_of(&ev), id));
            Ok(()) as HandlerResult
        }
    });
    let bench = Bench::new(handler, DispatchConfig::default()).await;
    bench
        .send(&[
            ("$ok1", "!a:x.org"),
            ("$fail1", "!a:x.org"),
            ("$ok2", "!a:x.org"),
            ("$panic1", "!a:x.org"),
            ("$ok3", "!a:x.org"),
            ("$panic2", "!b:x.org"),
            ("$ok4", "!b:x.org"),
        ])
        .await;
    bench
        .send(&[("$ok5", "!a:x.org"), ("$ok6", "!c:x.org")])
        .await;
    bench.wait_finished(9).await;
    assert_eq!(bench.failed(), 3);
    assert_eq!(bench.handled(), 6);
    let seen = seen.lock().unwrap().clone();
    let in_a: Vec<_> = seen
        .iter()
        .filter(|(r, _)| r == "!a:x.org")
        .map(|(_, i)| i.as_str())
        .collect();
    assert_eq!(in_a, ["$ok1", "$ok2", "$ok3", "$ok5"]);
    assert!(seen.iter().any(|(_, i)| i == "$ok4"));
    assert!(seen.iter().any(|(_, i)| i == "$ok6"));
    // Failed items leave the log too (they are not retried forever).
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
    assert_eq!(bench.router.backlog(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_turn_a_flaky_handler_into_a_success() {
    let calls: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let c = calls.clone();
    let handler = FnHandler::new(move |ev| {
        let c = c.clone();
        async move {
            let id = id_of(&ev);
            let n = {
                let mut calls = c.lock().unwrap();
                let n = calls.entry(id.clone()).or_default();
                *n += 1;
                *n
            };
            match id.as_str() {
                // Fails twice, then works.
                "$flaky" if n <= 2 => Err("not yet".into()),
                "$flaky" => Ok(()),
                // Panics once, then works.
                "$once" if n == 1 => panic!("first call panics"),
                "$once" => Ok(()),
                _ => Err("always".into()),
            }
        }
    });
    let config = DispatchConfig {
        handler_retries: 2,
        retry_backoff: Duration::from_millis(1),
        ..DispatchConfig::default()
    };
    let bench = Bench::new(handler, config).await;
    bench
        .send(&[
            ("$flaky", "!a:x.org"),
            ("$once", "!b:x.org"),
            ("$broken", "!c:x.org"),
        ])
        .await;
    bench.wait_finished(3).await;
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls["$flaky"], 3, "two failures and one success");
    assert_eq!(calls["$once"], 2);
    assert_eq!(calls["$broken"], 3, "one call and two retries");
    assert_eq!(bench.handled(), 2);
    assert_eq!(bench.failed(), 1);
}

// --- dispatch orders ---

const ALICE: &str = "@alice:x.org";
const BOB: &str = "@bob:x.org";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_is_the_handlers_unless_the_config_says_otherwise() {
    struct Unordered;
    impl ghostkit::Handler for Unordered {
        fn dispatch_order(&self) -> DispatchOrder {
            DispatchOrder::Unordered
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let log = Arc::new(TransactionLog::open(&store, LogConfig::default()).unwrap());
    let app = common::app_context(&store);
    let by_handler = Router::new(
        Arc::new(Unordered),
        app.clone(),
        log.clone(),
        DispatchConfig::default(),
    );
    assert_eq!(by_handler.order(), DispatchOrder::Unordered);
    assert_eq!(by_handler.config().order, Some(DispatchOrder::Unordered));
    let by_config = Router::new(
        Arc::new(Unordered),
        app,
        log,
        ordered(DispatchOrder::PerSender),
    );
    assert_eq!(by_config.order(), DispatchOrder::PerSender);
    let default = FnHandler::new(|_ev| async { Ok(()) });
    assert_eq!(
        ghostkit::Handler::dispatch_order(&*default),
        DispatchOrder::PerRoom
    );
}

/// Sends `first` then `second` (each `(event_id, sender)`, both in one room);
/// the handler of `first` waits up to `patience` for `second` to be handled.
/// True when it saw it: the two ran concurrently.
async fn first_waits_for_second(
    order: DispatchOrder,
    first: (&str, &str),
    second: (&str, &str),
    patience: Duration,
) -> bool {
    let first_waiting = Arc::new(AtomicU32::new(0));
    let second_done = Arc::new(Notify::new());
    let result: Arc<Mutex<Option<bool>>> = Arc::default();
    let (fw, sd, r) = (first_waiting.clone(), second_done.clone(), result.clone());
    let first_id = first.0.to_owned();
    let handler = FnHandler::new(move |ev| {
        let (fw, sd, r, first_id) = (fw.clone(), sd.clone(), r.clone(), first_id.clone());
        async move {
            if id_of(&ev) == first_id {
                fw.store(1, Ordering::SeqCst);
                let waited = tokio::time::timeout(patience, sd.notified()).await;
                *r.lock().unwrap() = Some(waited.is_ok());
            } else {
                sd.notify_one();
            }
            Ok(())
        }
    });
    let bench = Bench::new(handler, ordered(order)).await;
    bench.send_from(&[(first.0, "!r:x.org", first.1)]).await;
    assert!(wait_until(PATIENCE, || first_waiting.load(Ordering::SeqCst) == 1).await);
    bench.send_from(&[(second.0, "!r:x.org", second.1)]).await;
    bench.wait_finished(2).await;
    assert_eq!(bench.handled(), 2);
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
    let saw = *result.lock().unwrap();
    saw.expect("the first handler ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_runs_two_senders_of_one_room_concurrently() {
    // Alice's event blocks until Bob's, in the same room, was handled.
    assert!(
        first_waits_for_second(
            DispatchOrder::PerSender,
            ("$a1", ALICE),
            ("$b1", BOB),
            PATIENCE
        )
        .await,
        "Bob's event waited for Alice's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_room_makes_the_second_sender_wait() {
    // The same two events per room: Bob's waits until Alice's finished.
    assert!(
        !first_waits_for_second(
            DispatchOrder::PerRoom,
            ("$a1", ALICE),
            ("$b1", BOB),
            Duration::from_millis(300)
        )
        .await,
        "Bob's event ran beside Alice's in per-room order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_makes_the_same_senders_next_event_wait() {
    assert!(
        !first_waits_for_second(
            DispatchOrder::PerSender,
            ("$a1", ALICE),
            ("$a2", ALICE),
            Duration::from_millis(300)
        )
        .await,
        "Alice's second event ran beside her first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_runs_two_events_of_one_sender_in_one_room_concurrently() {
    assert!(
        first_waits_for_second(
            DispatchOrder::Unordered,
            ("$a1", ALICE),
            ("$a2", ALICE),
            PATIENCE
        )
        .await,
        "the second event waited for the first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_keeps_each_senders_order() {
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let s = seen.clone();
    let handler = FnHandler::new(move |ev| {
        let s = s.clone();
        async move {
            let pause = rand::thread_rng().gen_range(0..4);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            s.lock()
                .unwrap()
                .push((room_of(&ev), sender_of(&ev), id_of(&ev)));
            Ok(())
        }
    });
    let bench = Bench::new(handler, ordered(DispatchOrder::PerSender)).await;
    let rooms = ["!a:x.org", "!b:x.org"];
    let senders = [ALICE, BOB, "@carol:x.org"];
    let mut sent: HashMap<(&str, &str), Vec<String>> = HashMap::new();
    let mut n = 0;
    for _ in 0..6 {
        let mut batch = Vec::new();
        for _ in 0..10 {
            let room = rooms[rand::thread_rng().gen_range(0..rooms.len())];
            let sender = senders[rand::thread_rng().gen_range(0..senders.len())];
            let id = format!("$e{n}");
            n += 1;
            sent.entry((room, sender)).or_default().push(id.clone());
            batch.push((id, room, sender));
        }
        let batch: Vec<(&str, &str, &str)> =
            batch.iter().map(|(i, r, s)| (i.as_str(), *r, *s)).collect();
        bench.send_from(&batch).await;
    }
    bench.wait_finished(n).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len() as u64, n);
    for ((room, sender), ids) in sent {
        let got: Vec<String> = seen
            .iter()
            .filter(|(r, s, _)| r == room && s == sender)
            .map(|(_, _, i)| i.clone())
            .collect();
        assert_eq!(got, ids, "order of {sender} in {room}");
    }
}

/// What every order guarantees: each item (timeline, ephemeral, to-device)
/// handled exactly once, marked done, the backlog empty, the router idle;
/// never more handlers at once than `max_concurrent_rooms`; to-device
/// messages of one recipient and ephemeral events of one room in order.
async fn every_item_once_within_the_bound(order: DispatchOrder) {
    const BOUND: usize = 3;
    let calls: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let lanes: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let running = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let (c, l, r, m) = (calls.clone(), lanes.clone(), running.clone(), most.clone());
    let handler = FnHandler::new(move |ev| {
        let (c, l, r, m) = (c.clone(), l.clone(), r.clone(), m.clone());
        async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let pause = rand::thread_rng().gen_range(0..3);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let content: Value = ev.content()?;
            let key = content["n"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| id_of(&ev));
            *c.lock().unwrap().entry(key.clone()).or_default() += 1;
            if let Some(lane) = content["lane"].as_str() {
                l.lock()
                    .unwrap()
                    .entry(lane.to_owned())
                    .or_default()
                    .push(key);
            }
            r.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let config = DispatchConfig {
        max_concurrent_rooms: BOUND,
        fairness_batch: 2,
        ..ordered(order)
    };
    let bench = Bench::new(handler, config).await;
    let mut expected = Vec::new();
    let mut n = 0;
    for t in 0..8 {
        let mut events = Vec::new();
        for i in 0..12 {
            let id = format!("$e{t}.{i}");
            let room = ["!a:x.org", "!b:x.org"][i % 2];
            let sender = [ALICE, BOB, "@carol:x.org"][i % 3];
            events.push(message_from(&id, room, sender));
            expected.push(id);
        }
        let ephemeral: Vec<Value> = (0..2)
            .map(|i| {
                let key = format!("typing{t}.{i}");
                expected.push(key.clone());
                json!({"type": "m.typing", "room_id": "!a:x.org",
                       "content": {"n": key, "lane": "ephemeral !a", "user_ids": []}})
            })
            .collect();
        let to_device: Vec<Value> = (0..2)
            .map(|i| {
                let key = format!("todevice{t}.{i}");
                expected.push(key.clone());
                json!({"type": "org.example.x", "sender": ALICE, "to_user_id": "@_t_ghost:x.org",
                       "to_device_id": "D", "content": {"n": key, "lane": "to-device"}})
            })
            .collect();
        n += 16;
        let body = json!({"events": events, "ephemeral": ephemeral, "to_device": to_device});
        bench.send_body(serde_json::to_vec(&body).unwrap()).await;
    }
    bench.wait_finished(n).await;
    assert_eq!(bench.failed(), 0);
    assert_eq!(bench.handled(), n);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), expected.len(), "{order}: every item handled");
    for key in &expected {
        assert_eq!(calls.get(key), Some(&1), "{order}: {key} handled once");
    }
    assert!(
        most.load(Ordering::SeqCst) as usize <= BOUND,
        "{order}: {} handlers at once, bound {BOUND}",
        most.load(Ordering::SeqCst)
    );
    let lanes = lanes.lock().unwrap().clone();
    for (lane, prefix) in [("ephemeral !a", "typing"), ("to-device", "todevice")] {
        let want: Vec<&String> = expected.iter().filter(|k| k.starts_with(prefix)).collect();
        let got: Vec<&String> = lanes[lane].iter().collect();
        assert_eq!(got, want, "{order}: {lane} in order");
    }
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
    assert_eq!(bench.router.backlog(), 0);
    assert!(bench.router.wait_idle(PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_room_handles_every_item_once_within_the_bound() {
    every_item_once_within_the_bound(DispatchOrder::PerRoom).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_handles_every_item_once_within_the_bound() {
    every_item_once_within_the_bound(DispatchOrder::PerSender).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_handles_every_item_once_within_the_bound() {
    every_item_once_within_the_bound(DispatchOrder::Unordered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_fills_the_bound_and_waits_at_it() {
    const BOUND: usize = 2;
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicU32::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    let handler = FnHandler::new(move |_ev| {
        let (g, e) = (g.clone(), e.clone());
        async move {
            e.fetch_add(1, Ordering::SeqCst);
            g.acquire().await?.forget();
            Ok(())
        }
    });
    let config = DispatchConfig {
        max_concurrent_rooms: BOUND,
        ..ordered(DispatchOrder::Unordered)
    };
    let bench = Bench::new(handler, config).await;
    bench
        .send(&[("$1", "!a:x.org"), ("$2", "!a:x.org"), ("$3", "!a:x.org")])
        .await;
    // Two of one room's events run at once, the third waits for a slot.
    assert!(wait_until(PATIENCE, || entered.load(Ordering::SeqCst) == 2).await);
    assert!(
        !wait_until(Duration::from_millis(300), || entered
            .load(Ordering::SeqCst)
            > 2)
        .await,
        "a third handler started beyond the bound"
    );
    assert!(!bench.router.wait_idle(Duration::from_millis(50)).await);
    gate.add_permits(3);
    bench.wait_finished(3).await;
    assert!(bench.router.wait_idle(PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_marks_a_transaction_done_only_after_its_slowest_handler() {
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let handler = FnHandler::new(move |ev| {
        let g = g.clone();
        async move {
            if id_of(&ev) == "$slow" {
                g.acquire().await?.forget();
            }
            Ok(())
        }
    });
    let bench = Bench::new(handler, ordered(DispatchOrder::Unordered)).await;
    bench
        .send(&[("$slow", "!a:x.org"), ("$fast", "!a:x.org")])
        .await;
    // The later event finished first; the transaction stays in the log.
    bench.wait_finished(1).await;
    bench.log.persist_progress().await.unwrap();
    assert_eq!(bench.log.pending_transactions(), 1);
    assert_eq!(bench.router.backlog(), 1);
    gate.add_permits(1);
    bench.wait_finished(2).await;
    assert!(wait_until(PATIENCE, || bench.log.pending_transactions() == 0).await);
    assert_eq!(bench.router.backlog(), 0);
}

// --- homeserver outages ---

fn unavailable_pausing() -> DispatchConfig {
    DispatchConfig {
        unavailable_pause: Duration::from_millis(40),
        ..DispatchConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_on_an_unavailable_homeserver_pauses_its_room_and_is_not_marked_done() {
    let seen: Log = Arc::default();
    let s = seen.clone();
    let handler = FnHandler::new(move |ev| {
        let s = s.clone();
        async move {
            let id = id_of(&ev);
            let calls = {
                let mut seen = s.lock().unwrap();
                seen.push((id.clone(), room_of(&ev)));
                seen.iter().filter(|(i, _)| *i == id).count()
            };
            if id == "$a" && calls <= 3 {
                let busy = ghostkit::MatrixError::from_response(503, None, b"{}");
                return Err(ghostkit::client::ClientError::from(busy).into());
            }
            Ok(())
        }
    });
    let bench = Bench::new(handler, unavailable_pausing()).await;
    bench.send(&[("$a", "!r:x.org"), ("$b", "!r:x.org")]).await;
    bench.wait_finished(2).await;
    let got: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(i, _)| i.clone())
        .collect();
    assert_eq!(
        got,
        ["$a", "$a", "$a", "$a", "$b"],
        "the room waited for $a"
    );
    assert_eq!((bench.handled(), bench.failed()), (2, 0));
}

#[cfg(feature = "testing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_seen_through_any_error_type_pauses_and_the_send_happens_once() {
    use ghostkit::client::{Client, ClientConfig, RetryPolicy};
    use ghostkit::testing::{FakeHomeserver, FakeReply};
    let hs = FakeHomeserver::start().await.unwrap();
    // The homeserver answers 503 to the first six sends: longer than one
    // call's retry budget.
    hs.script(
        "/send/m.room.message/",
        (0..6).map(|_| FakeReply::error(503, "M_UNKNOWN", "restarting")),
    );
    let config = ClientConfig {
        retry: RetryPolicy {
            max_total: Duration::from_millis(30),
            initial_backoff: Duration::from_millis(10),
            jitter: 0.0,
            ..RetryPolicy::default()
        },
        ..ClientConfig::default()
    };
    let client = Client::with_config(&hs.url(), Arc::new(common::registration()), config).unwrap();
    client.set_server_name("x.org");
    let handler = FnHandler::new(move |ev| {
        let client = client.clone();
        async move {
            let room = room_of(&ev);
            // The error's type is lost on the way, as `anyhow` or a
            // bot's own error type would lose it.
            client
                .send_text(&room, "reply", None)
                .await
                .map_err(|e| format!("cannot reply: {e}"))?;
            Ok(())
        }
    });
    let bench = Bench::new(handler, unavailable_pausing()).await;
    bench.send(&[("$a", "!r:x.org")]).await;
    bench.wait_finished(1).await;
    assert_eq!((bench.handled(), bench.failed()), (1, 0));
    let sends = hs.requests_to("/send/m.room.message/");
    assert_eq!(sends.len(), 7, "six refused, one accepted");
    let txn_ids: std::collections::HashSet<String> = sends
        .iter()
        .filter_map(|r| r.path.rsplit('/').next().map(str::to_owned))
        .collect();
    assert_eq!(
        txn_ids.len(),
        1,
        "every attempt is the same send: {txn_ids:?}"
    );
    hs.stop().await;
}
