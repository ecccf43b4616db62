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

mod order;
mod outage;

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
        let log = Arc::new(
            TransactionLog::open(&store, LogConfig::default())
                .await
                .unwrap(),
        );
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
    // A permit returns just after its item is marked done.
    assert!(wait_until(PATIENCE, || bench.router.backlog() == 0).await);
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
    // A permit returns just after its item is marked done.
    assert!(wait_until(PATIENCE, || bench.router.backlog() == 0).await);
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
