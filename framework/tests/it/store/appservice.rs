//! The whole appservice on a real store whose disk fills up while events
//! are handled: readiness says so, handlers wait, transactions the log
//! could not keep get a 500, and once there is room every event is handled
//! exactly once, its bot writes kept, also after a clean restart.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ghostkit::appservice::{Appservice, Config, Running};
use ghostkit::bot::{Context, Handler, HandlerResult};
use ghostkit::router::DispatchConfig;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::common::{self, message, registration, HS_TOKEN};
use crate::tmpfs::Tmpfs;

/// Counts completed handler runs per event; events whose body is `gated`
/// wait for a permit first. Each run writes the event to the store.
struct Counting {
    done: Mutex<HashMap<String, u32>>,
    gate: Arc<Semaphore>,
}

#[ghostkit::async_trait]
impl Handler for Counting {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        let ev = ctx.event();
        let Some(id) = ev.event_id().map(|id| id.to_string()) else {
            return Ok(());
        };
        if ev.raw().contains(r#""body":"gated""#) {
            let _permit = self.gate.acquire().await?;
        }
        // Large enough that the handlers' writes need new blocks.
        ctx.app()
            .store()
            .put_json("handled", &id, &"h".repeat(64 * 1024))
            .await?;
        *self.done.lock().unwrap().entry(id).or_default() += 1;
        Ok(())
    }
}

impl Default for Counting {
    fn default() -> Self {
        Counting {
            done: Mutex::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Counting {
    fn counts(&self) -> HashMap<String, u32> {
        self.done.lock().unwrap().clone()
    }
}

async fn start(dir: &std::path::Path, handler: Arc<Counting>) -> Running {
    let mut config = Config::new("http://127.0.0.1:1", dir);
    config.server_name = Some("x.org".into());
    config.self_check = false;
    config.bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.log.segment_bytes = 256 * 1024;
    config.log.spare_segments = 0;
    config.dispatch = DispatchConfig {
        unavailable_pause: Duration::from_millis(200),
        ..DispatchConfig::default()
    };
    Appservice::new(registration(), config)
        .start(SharedHandler(handler))
        .await
        .expect("the appservice starts")
}

struct SharedHandler(Arc<Counting>);

#[ghostkit::async_trait]
impl Handler for SharedHandler {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        self.0.on_event(ctx).await
    }
}

async fn put(addr: SocketAddr, txn_id: &str, ids: &[&str], body: &str) -> u16 {
    let events: Vec<Value> = ids.iter().map(|id| message(id, "!r:x.org", body)).collect();
    reqwest::Client::new()
        .put(format!(
            "http://{addr}/_matrix/app/v1/transactions/{txn_id}"
        ))
        .bearer_auth(HS_TOKEN)
        .json(&json!({ "events": events }))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn ready(addr: SocketAddr) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}/health/ready"))
        .await
        .expect("health answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_full_while_handling_loses_no_event_and_handles_none_twice() {
    common::init_tracing();
    let Some(fs) = Tmpfs::mount(24) else { return };
    let dir = fs.path().join("store");
    let handler = Arc::new(Counting::default());
    let running = start(&dir, handler.clone()).await;
    let addr = running.addr();

    let first: Vec<String> = (0..5).map(|i| format!("$a{i}")).collect();
    let first_ids: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(put(addr, "t1", &first_ids, "plain").await, 200);
    eventually("the first events are handled", async || {
        handler.counts().len() == 5
    })
    .await;

    // Acknowledged, then held at the gate while the disk fills.
    let gated: Vec<String> = (0..20).map(|i| format!("$g{i}")).collect();
    let gated_ids: Vec<&str> = gated.iter().map(String::as_str).collect();
    assert_eq!(put(addr, "t2", &gated_ids, "gated").await, 200);
    let filler = fs.fill();
    handler.gate.add_permits(1000);

    eventually("readiness reports the store", async || {
        let (status, body) = ready(addr).await;
        status == 503 && body["status"] == "store_unavailable"
    })
    .await;
    // A transaction the log cannot keep is refused, not acknowledged.
    let during: Vec<String> = (0..3).map(|i| format!("$d{i}")).collect();
    let during_ids: Vec<&str> = during.iter().map(String::as_str).collect();
    let refused = put(addr, "t3", &during_ids, "plain").await;

    std::fs::remove_file(&filler).unwrap();
    eventually("ready again", async || ready(addr).await.0 == 200).await;
    if refused != 200 {
        // The homeserver's retry.
        assert_eq!(put(addr, "t3", &during_ids, "plain").await, 200);
    }
    let expected: Vec<&String> = first.iter().chain(&gated).chain(&during).collect();
    eventually("every event is handled", async || {
        let counts = handler.counts();
        expected.iter().all(|id| counts.contains_key(*id))
    })
    .await;
    running.stop().await;

    // A clean restart replays nothing that was handled.
    let running = start(&dir, handler.clone()).await;
    let addr = running.addr();
    assert_eq!(put(addr, "t4", &["$sentinel"], "plain").await, 200);
    eventually("the sentinel is handled", async || {
        handler.counts().contains_key("$sentinel")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = handler.counts();
    let twice: Vec<(&String, &u32)> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    let store = running.app().store().clone();
    for id in &expected {
        assert_eq!(
            store
                .get_json::<String>("handled", id)
                .await
                .unwrap()
                .map(|v| v.len()),
            Some(64 * 1024),
            "the bot's write for {id} was kept"
        );
    }
    running.stop().await;
}
