//! Benchmark: messages relayed per second each way, our side only.
//!
//! - Inbound: HTTP POSTs to a hook's secret URL (Markdown rendered, as the bot
//!   and as the hook's ghost) become sends to ghostkit's in-process fake
//!   homeserver, which answers at once.
//! - Outbound: room events queued for outbound hooks are POSTed, signed, to an
//!   in-process receiver that answers 200 at once.
//!
//! ```text
//! cargo run --release -p ghostkit-webhooks --features testing --example bench_webhooks [MESSAGES CONCURRENCY]
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use ghostkit::client::{Client, ClientConfig};
use ghostkit::testing::{FakeHomeserver, FakeOptions, FakeReply};
use ghostkit::{AppContext, Registration, Store};
use serde_json::json;
use serde_json::value::RawValue;
use webhooks::hooks::{Hook, HookKind, Hooks};
use webhooks::inbound::{InboundServer, InboundState};
use webhooks::outbound::Outbound;
use webhooks::WebhooksConfig;

const REGISTRATION: &str = r#"
id: bench-webhooks
url: null
as_token: bench_as_token
hs_token: bench_hs_token
sender_localpart: webhooks
namespaces:
  users:
    - {regex: '@webhooks:bench', exclusive: true}
    - {regex: '@_webhook_.*:bench', exclusive: true}
"#;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn inbound(url: &str, body: &str, total: usize, tasks: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let mut joins = Vec::new();
    for t in 0..tasks {
        let (http, url, body) = (http.clone(), url.to_owned(), body.to_owned());
        let n = total / tasks + usize::from(t < total % tasks);
        joins.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let s = Instant::now();
                let r = http.post(&url).body(body.clone()).send().await?;
                anyhow::ensure!(r.status().is_success(), "answer {}", r.status());
                lat.push(s.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(total);
    for j in joins {
        lat.extend(j.await??);
    }
    let secs = t0.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "inbound {body}: {total} messages, {tasks} senders: {:.0} msg/s, p50 {:.2} ms, p99 {:.2} ms",
        total as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    Ok(())
}

async fn receiver(
    count: Arc<AtomicU64>,
) -> anyhow::Result<(SocketAddr, actix_web::dev::ServerHandle)> {
    let server = HttpServer::new(move || {
        let c = count.clone();
        App::new().default_service(web::to(move |_b: web::Bytes| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")?;
    let addr = *server
        .addrs()
        .first()
        .ok_or_else(|| anyhow::anyhow!("no address"))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((addr, handle))
}

async fn outbound(config: &WebhooksConfig, total: usize, n_hooks: usize) -> anyhow::Result<()> {
    let count = Arc::new(AtomicU64::new(0));
    let (addr, handle) = receiver(count.clone()).await?;
    let store = ghostkit::Store::temporary()?;
    let registry = webhooks::hooks::Hooks::load(&store).await?;
    let hooks: Vec<Hook> = (0..n_hooks)
        .map(|i| {
            let kind = HookKind::Outbound {
                url: format!("http://{addr}/hook{i}"),
                secret: webhooks::hooks::random_hex(32),
            };
            Hook::new(
                &format!("out{i}"),
                &format!("!room{i}:bench"),
                "@u:bench",
                kind,
            )
        })
        .collect();
    for hook in &hooks {
        registry.insert(hook.clone()).await?;
    }
    // The queue is on disk (sled) too: each event is written, then removed
    // once delivered.
    let out = Outbound::start(config, &store, &registry).await?;
    let event = RawValue::from_string(
        r#"{"type":"m.room.message","event_id":"$e:bench","room_id":"!room:bench","sender":"@u:bench","origin_server_ts":0,"content":{"msgtype":"m.text","body":"hello out there"}}"#
            .to_owned(),
    )?;
    let t0 = Instant::now();
    for i in 0..total {
        out.enqueue(&hooks[i % n_hooks], event.get()).await;
    }
    let queued = t0.elapsed();
    while count.load(Ordering::Relaxed) < total as u64 {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(120),
            "outbound deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "outbound: {total} events over {n_hooks} hooks: {:.0} events/s delivered (enqueueing took {:.2} µs/event)",
        total as f64 / secs,
        queued.as_secs_f64() * 1e6 / total as f64
    );
    out.stop();
    handle.stop(false).await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(20_000);
    let tasks = args.get(1).copied().unwrap_or(32);

    let hs = FakeHomeserver::start_with(FakeOptions {
        workers: 1,
        record: false,
        ..FakeOptions::default()
    })
    .await?;
    let reg = Arc::new(Registration::from_yaml(REGISTRATION)?);
    let client = Client::with_config(&hs.url(), reg.clone(), ClientConfig::default())?;
    client.set_server_name(ghostkit::ruma::common::server_name!("bench"));
    let store = Store::temporary()?;
    let app = AppContext::new(
        client,
        store.clone(),
        reg,
        ghostkit::ruma::common::server_name!("bench").to_owned(),
    )?;
    let config = WebhooksConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate: 1e9,
        burst: u32::MAX,
        workers: 1,
        outbound_queue: total.max(1000),
        ..WebhooksConfig::default()
    };
    let hooks = Hooks::load(&store).await?;
    let hook = Hook::new("bench", "!room:bench", "@u:bench", HookKind::Inbound);
    let url = format!("/webhook/{}", hook.id);
    hooks.insert(hook).await?;
    let state = Arc::new(InboundState::new(app, hooks, &config));
    let server = InboundServer::start(state, &config)?;
    let url = format!("http://{}{url}", server.addr);

    inbound(&url, r#"{"text":"**build** 42 passed"}"#, total, tasks).await?;
    // The ghost's first message joins it and sets its room display name
    // (the fake says it is joined when asked); the measured ones are warm.
    hs.script(
        "/state/m.room.member/",
        [FakeReply::ok(json!({"membership": "join"}))],
    );
    let ghost = r#"{"text":"**build** 42 passed","username":"CI"}"#;
    inbound(&url, ghost, 1, 1).await?;
    inbound(&url, ghost, total, tasks).await?;
    inbound(&url, r#"{"build":42,"status":"passed"}"#, total, tasks).await?;
    outbound(&config, total, 1).await?;
    outbound(&config, total, 16).await?;
    server.stop().await;
    hs.stop().await;
    Ok(())
}
