//! `/metrics` of a whole appservice on real sockets: the figures after real
//! transactions (a duplicate among them) and a replay, served without a
//! token, on the app listener, on one of its own, or not at all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ghostkit::appservice::{Appservice, Config, Running};
use ghostkit::bot::{Context, Handler, HandlerResult};
use ghostkit::metrics::{MetricsConfig, CONTENT_TYPE};
use ghostkit::transaction::{LogConfig, TransactionLog};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::common::{self, accept_new, message, open_store, registration, txn, HS_TOKEN};

/// A scrape, read completely.
struct Scrape {
    status: u16,
    content_type: Option<String>,
    body: String,
}

impl Scrape {
    /// The samples: `name{labels}` -> value.
    fn samples(&self) -> HashMap<String, f64> {
        self.body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// The value of `series` (panics with the scrape when it is absent).
    #[track_caller]
    fn value(&self, series: &str) -> f64 {
        match self.samples().get(series) {
            Some(v) => *v,
            None => panic!("no {series} in:\n{}", self.body),
        }
    }

    /// The sum of the samples of `name` (any labels).
    fn total(&self, name: &str) -> f64 {
        self.samples()
            .iter()
            .filter(|(series, _)| *series == name || series.starts_with(&format!("{name}{{")))
            .map(|(_, v)| v)
            .sum()
    }

    #[track_caller]
    fn assert_unrecognized(&self) {
        assert_eq!(self.status, 404, "{}", self.body);
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        let v: Value = serde_json::from_str(&self.body).expect("a JSON error body");
        assert_eq!(v["errcode"], "M_UNRECOGNIZED", "{v}");
    }
}

async fn get(addr: SocketAddr, path: &str) -> Scrape {
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the listener answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await.expect("a body");
    Scrape {
        status,
        content_type,
        body,
    }
}

/// Scrapes `/metrics` at `addr` until `cond` holds (or gives up, showing
/// the last scrape).
async fn scrape_until(addr: SocketAddr, what: &str, cond: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = get(addr, "/metrics").await;
        if s.status == 200 && cond(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never: {what}; last scrape:\n{}",
            s.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config(homeserver: &str, dir: &std::path::Path, metrics: MetricsConfig) -> Config {
    let mut config = Config::new(homeserver, dir);
    config.server_name = Some("x.org".into());
    config.self_check = false;
    config.bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.metrics = metrics;
    config
}

async fn put(addr: SocketAddr, txn_id: &str, body: &[u8]) {
    let status = reqwest::Client::new()
        .put(format!(
            "http://{addr}/_matrix/app/v1/transactions/{txn_id}"
        ))
        .bearer_auth(HS_TOKEN)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("the appservice answers")
        .status();
    assert_eq!(status, 200, "PUT {txn_id}");
}

/// Replies to messages as the bot, fails on `com.example.fail`, and waits
/// for a permit of `gate` first when it has one.
struct Replying {
    gate: Option<Arc<Semaphore>>,
}

#[ghostkit::async_trait]
impl Handler for Replying {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        if let Some(gate) = &self.gate {
            gate.acquire().await?.forget();
        }
        let ev = ctx.event();
        match ev.event_type() {
            "m.room.message" if self.gate.is_none() => {
                let room = ev.room_id().ok_or("no room")?;
                ctx.client().as_bot().send_text(room, "seen").await?;
                Ok(())
            }
            "com.example.fail" => Err("this one fails".into()),
            _ => Ok(()),
        }
    }
}

fn custom(event_id: &str, event_type: &str) -> Value {
    json!({
        "type": event_type, "event_id": event_id, "room_id": "!r:x.org",
        "sender": "@alice:x.org", "origin_server_ts": 1, "content": {},
    })
}

fn topic(event_id: &str) -> Value {
    json!({
        "type": "m.room.topic", "event_id": event_id, "room_id": "!r:x.org", "state_key": "",
        "sender": "@alice:x.org", "origin_server_ts": 1, "content": {"topic": "t"},
    })
}

#[cfg(feature = "testing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_transactions_duplicates_events_handler_calls_and_requests() {
    use ghostkit::testing::{FakeHomeserver, FakeReply};
    common::init_tracing();
    let hs = FakeHomeserver::start().await.unwrap();
    // The first send is rate-limited once: a retry after 20 ms.
    hs.script("/send/", [FakeReply::rate_limited_ms(20)]);
    let dir = tempfile::tempdir().unwrap();
    let running = Appservice::new(
        registration(),
        config(&hs.url(), dir.path(), MetricsConfig::default()),
    )
    .start(Replying { gate: None })
    .await
    .unwrap();
    let addr = running.addr();
    assert_eq!(running.metrics_addr(), Some(addr), "on the app listener");

    let t1 = txn(&[
        message("$m1", "!r:x.org", "one"),
        message("$m2", "!r:x.org", "two"),
    ]);
    put(addr, "t1", &t1).await;
    put(
        addr,
        "t2",
        &txn(&[
            message("$m3", "!s:x.org", "three"),
            custom("$f1", "com.example.fail"),
        ]),
    )
    .await;
    put(addr, "t3", &txn(&[topic("$s1")])).await;
    // The homeserver sends t1 again: a duplicate, nothing dispatched.
    put(addr, "t1", &t1).await;

    let s = scrape_until(addr, "5 handler calls, 3 sends answered 200", |s| {
        s.total("ghostkit_handler_duration_seconds_count") >= 5.0
            && s.total("ghostkit_client_requests_total") >= 4.0
            && s.value("ghostkit_dispatch_backlog") == 0.0
    })
    .await;
    assert_eq!(s.content_type.as_deref(), Some(CONTENT_TYPE));
    assert!(s.body.ends_with("# EOF\n"), "{}", s.body);
    assert_eq!(s.value("ghostkit_transactions_received_total"), 4.0);
    assert_eq!(s.value("ghostkit_transactions_deduplicated_total"), 1.0);
    assert_eq!(s.value("ghostkit_events_received_total"), 5.0);
    assert_eq!(s.value("ghostkit_events_replayed_total"), 0.0);
    assert_eq!(s.value("ghostkit_transactions_replayed_total"), 0.0);
    assert_eq!(s.total("ghostkit_handler_duration_seconds_count"), 5.0);
    let count = |t: &str| {
        s.value(&format!(
            "ghostkit_handler_duration_seconds_count{{event_type=\"{t}\"}}"
        ))
    };
    assert_eq!(count("m.room.message"), 3.0);
    assert_eq!(count("m.room.topic"), 1.0);
    // The custom type shares the `other` label.
    assert_eq!(count("other"), 1.0);
    assert_eq!(
        s.value("ghostkit_handler_duration_seconds_bucket{le=\"+Inf\",event_type=\"other\"}"),
        1.0
    );
    assert_eq!(
        s.value("ghostkit_handler_failures_total{event_type=\"other\"}"),
        1.0
    );
    assert_eq!(s.total("ghostkit_handler_failures_total"), 1.0);
    assert_eq!(
        s.value("ghostkit_client_requests_total{endpoint=\"send\",class=\"2xx\",code=\"200\"}"),
        3.0
    );
    assert_eq!(
        s.value("ghostkit_client_requests_total{endpoint=\"send\",class=\"4xx\",code=\"429\"}"),
        1.0
    );
    assert_eq!(
        s.value("ghostkit_client_retries_total{endpoint=\"send\",reason=\"rate_limited\"}"),
        1.0
    );
    assert_eq!(
        s.value("ghostkit_client_rate_limited_waits_total{endpoint=\"send\"}"),
        1.0
    );
    assert_eq!(
        s.value("ghostkit_client_rate_limited_wait_seconds_total{endpoint=\"send\"}"),
        0.02
    );
    assert_eq!(hs.requests_to("/send/").len(), 4, "what the homeserver saw");
    assert_eq!(s.value("ghostkit_dispatch_active_lanes"), 0.0);
    assert_eq!(
        s.value("ghostkit_transaction_log_oldest_unhandled_age_seconds"),
        0.0,
        "all handled"
    );
    let seen_age = s.value("ghostkit_seen_window_oldest_age_seconds");
    assert!(seen_age > 0.0 && seen_age < 60.0, "{seen_age}");

    // No token was sent for the scrape; a wrong one changes nothing, while
    // the homeserver's routes still want theirs.
    let wrong = reqwest::Client::new()
        .get(format!("http://{addr}/metrics?access_token=wrong"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 200);
    let user = get(addr, "/_matrix/app/v1/users/%40_e_a%3Ax.org").await;
    assert_eq!(user.status, 401, "{}", user.body);
    running.stop().await;
    hs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replayed_from_the_log_are_counted_and_the_gauges_follow_the_backlog() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let t0 = txn(&[
        message("$r1", "!r:x.org", "one"),
        message("$r2", "!r:x.org", "two"),
    ]);
    // A run that acknowledged t0 and stopped before handling it.
    {
        let store = open_store(dir.path()).await;
        let log = TransactionLog::open(&store, LogConfig::default())
            .await
            .unwrap();
        assert_eq!(accept_new(&log, "t0", &t0).await.len(), 2);
    }
    // The log's files are older than the start by this much at least.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gate = Arc::new(Semaphore::new(0));
    let running = start_when_unlocked(dir.path(), gate.clone()).await;
    let addr = running.addr();

    // The first event runs (held at the gate), the second waits behind it
    // in the room's lane.
    let s = scrape_until(addr, "both replayed events in the backlog", |s| {
        s.value("ghostkit_dispatch_backlog") == 2.0
            && s.value("ghostkit_dispatch_active_lanes") == 1.0
    })
    .await;
    assert_eq!(s.value("ghostkit_events_replayed_total"), 2.0);
    assert_eq!(s.value("ghostkit_transactions_replayed_total"), 1.0);
    assert_eq!(s.value("ghostkit_events_received_total"), 0.0);
    let unhandled = s.value("ghostkit_transaction_log_oldest_unhandled_age_seconds");
    assert!(
        unhandled >= 0.05,
        "t0 was written before the start: {unhandled}"
    );
    let seen = s.value("ghostkit_seen_window_oldest_age_seconds");
    assert!(seen >= 0.05, "t0 is remembered from its segment: {seen}");

    gate.add_permits(2);
    let s = scrape_until(addr, "both handled", |s| {
        s.value("ghostkit_dispatch_backlog") == 0.0
            && s.total("ghostkit_handler_duration_seconds_count") == 2.0
    })
    .await;
    assert_eq!(s.value("ghostkit_dispatch_active_lanes"), 0.0);
    assert_eq!(
        s.value("ghostkit_transaction_log_oldest_unhandled_age_seconds"),
        0.0
    );

    // The homeserver had not seen our 200 and sends t0 again: remembered.
    put(addr, "t0", &t0).await;
    let s = get(addr, "/metrics").await;
    assert_eq!(s.value("ghostkit_transactions_received_total"), 1.0);
    assert_eq!(s.value("ghostkit_transactions_deduplicated_total"), 1.0);
    assert_eq!(s.value("ghostkit_events_received_total"), 0.0);
    running.stop().await;
}

/// Starts the appservice on `dir` once the run before has let go of the
/// store (its last tasks may still be finishing).
async fn start_when_unlocked(dir: &std::path::Path, gate: Arc<Semaphore>) -> Running {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let started = Appservice::new(
            registration(),
            config("http://127.0.0.1:1", dir, MetricsConfig::default()),
        )
        .start(Replying {
            gate: Some(gate.clone()),
        })
        .await;
        match started {
            Ok(running) => return running,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "store still locked; waiting");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the appservice does not start: {e}"),
        }
    }
}

#[tokio::test]
async fn with_metrics_off_the_route_is_unrecognized() {
    let dir = tempfile::tempdir().unwrap();
    let running = Appservice::new(
        registration(),
        config("http://127.0.0.1:1", dir.path(), MetricsConfig::Off),
    )
    .start(Replying { gate: None })
    .await
    .unwrap();
    assert_eq!(running.metrics_addr(), None);
    get(running.addr(), "/metrics").await.assert_unrecognized();
    // The metrics are still kept, for the bot.
    put(running.addr(), "t", &txn(&[])).await;
    assert!(running
        .app()
        .metrics()
        .encode()
        .contains("ghostkit_transactions_received_total 1\n"));
    running.stop().await;
}

#[tokio::test]
async fn on_its_own_listener_metrics_are_served_there_only() {
    let dir = tempfile::tempdir().unwrap();
    let own = MetricsConfig::Listener(SocketAddr::from(([127, 0, 0, 1], 0)));
    let running = Appservice::new(
        registration(),
        config("http://127.0.0.1:1", dir.path(), own),
    )
    .start(Replying { gate: None })
    .await
    .unwrap();
    let app = running.addr();
    let metrics = running.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics, app);
    assert_ne!(metrics.port(), 0, "the port given is told");

    put(app, "t1", &txn(&[topic("$s1")])).await;
    let s = scrape_until(metrics, "the transaction of the app listener", |s| {
        s.value("ghostkit_transactions_received_total") == 1.0
            && s.total("ghostkit_handler_duration_seconds_count") == 1.0
    })
    .await;
    assert_eq!(s.content_type.as_deref(), Some(CONTENT_TYPE));
    assert_eq!(s.value("ghostkit_events_received_total"), 1.0);

    get(app, "/metrics").await.assert_unrecognized();
    // Only /metrics there: neither the homeserver's routes nor health.
    get(metrics, "/health/live").await.assert_unrecognized();
    get(metrics, "/_matrix/app/v1/users/%40_e_a%3Ax.org")
        .await
        .assert_unrecognized();
    assert_eq!(get(app, "/health/live").await.status, 200);
    running.stop().await;
    assert!(
        reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .is_err(),
        "the metrics listener stops with the appservice"
    );
}
