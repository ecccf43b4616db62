//! Dispatch orders: per room, per sender, unordered.

use super::*;

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
    let log = Arc::new(
        TransactionLog::open(&store, LogConfig::default())
            .await
            .unwrap(),
    );
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
    // A permit returns just after its item is marked done.
    assert!(wait_until(PATIENCE, || bench.router.backlog() == 0).await);
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
    // A permit returns just after its item is marked done.
    assert!(wait_until(PATIENCE, || bench.router.backlog() == 0).await);
}
