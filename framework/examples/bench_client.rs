//! Benchmark of the outbound path: masqueraded sends against a local HTTP
//! server that answers at once (the fake homeserver of `ghostkit::testing`),
//! with 1 and 64 concurrent tasks, and the cost of a warm `ensure_joined`.
//!
//! ```text
//! cargo run --release -p ghostkit --features testing --example bench_client [SENDS]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use ghostkit::client::{Client, ClientConfig};
use ghostkit::ruma::common::{room_id, OwnedUserId};
use ghostkit::testing::{FakeHomeserver, FakeOptions};
use ghostkit::{AppContext, Intent, Registration, Store};

const REGISTRATION: &str = r#"
id: bench
url: null
as_token: bench_as_token
hs_token: bench_hs_token
sender_localpart: bench
namespaces:
  users:
    - {regex: '@_bench_.*:localhost', exclusive: true}
    - {regex: '@bench:localhost', exclusive: true}
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn sends(client: &Client, tasks: usize, total: usize) -> (f64, Duration, Duration) {
    let per_task = total / tasks;
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            let ghost =
                OwnedUserId::try_from(format!("@_bench_g{t}:localhost")).expect("valid ghost ID");
            let me = client.as_user(&ghost).expect("ghost in namespace");
            let room = room_id!("!bench:localhost");
            let mut lat = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let t0 = Instant::now();
                me.send_text(room, &format!("message {i}"))
                    .await
                    .expect("send succeeds");
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(total);
    for h in handles {
        all.extend(h.await.expect("task ends"));
    }
    let elapsed = started.elapsed();
    all.sort();
    (
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let hs = FakeHomeserver::start_with(FakeOptions {
        workers: 1,
        record: false,
        ..FakeOptions::default()
    })
    .await?;
    let reg = Arc::new(Registration::from_yaml(REGISTRATION)?);
    let client = Client::with_config(&hs.url(), reg.clone(), ClientConfig::default())?;
    client.set_server_name(ghostkit::ruma::common::server_name!("localhost"));

    sends(&client, 8, 2_000).await; // warm-up: connections, allocator
    println!("| scenario | requests | req/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for tasks in [1usize, 64] {
        let n = if tasks == 1 { total / 4 } else { total };
        let (rps, p50, p99) = sends(&client, tasks, n).await;
        println!(
            "| masqueraded send, {tasks} task(s) | {n} | {rps:.0} | {:.3} ms | {:.3} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }

    // ensure_joined: cold (register + join) then warm (cache hit, no request).
    let store = Store::temporary()?;
    let room = room_id!("!bench:localhost");
    let cold_n = 500;
    let before = hs.request_count();
    let t0 = Instant::now();
    for i in 0..cold_n {
        let ghost = OwnedUserId::try_from(format!("@_bench_cold{i}:localhost"))?;
        Intent::new(&client, &store, &ghost)?
            .ensure_joined(room)
            .await?;
    }
    let cold = t0.elapsed() / cold_n;
    let cold_requests = hs.request_count() - before;

    let ghost = OwnedUserId::try_from("@_bench_cold0:localhost")?;
    let intent = Intent::new(&client, &store, &ghost)?;
    let warm_n = 200_000u32;
    let before = hs.request_count();
    let t0 = Instant::now();
    for _ in 0..warm_n {
        intent.ensure_joined(room).await?;
    }
    let warm = t0.elapsed() / warm_n;
    let warm_requests = hs.request_count() - before;
    // Including the intent's construction with its cache opened each time.
    let t0 = Instant::now();
    for _ in 0..warm_n {
        Intent::new(&client, &store, &ghost)?
            .ensure_joined(room)
            .await?;
    }
    let warm_with_new = t0.elapsed() / warm_n;
    // What `ctx.intent(&ghost)` costs: the context's cache, opened once.
    let app = AppContext::new(
        client.clone(),
        store.clone(),
        reg,
        ghostkit::ruma::common::server_name!("localhost").to_owned(),
    )?;
    let t0 = Instant::now();
    for _ in 0..warm_n {
        app.intent(&ghost)?.ensure_joined(room).await?;
    }
    let warm_with_app = t0.elapsed() / warm_n;
    println!();
    println!("| ensure_joined | per call | requests |");
    println!("|---|---:|---:|");
    println!(
        "| cold (register + join), {cold_n} ghosts | {:.3} ms | {cold_requests} |",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "| warm cache, {warm_n} calls | {:.2} µs | {warm_requests} |",
        warm.as_secs_f64() * 1e6
    );
    println!(
        "| warm cache incl. `Intent::new`, {warm_n} calls | {:.2} µs | 0 |",
        warm_with_new.as_secs_f64() * 1e6
    );
    println!(
        "| warm cache incl. `ctx.intent(&ghost)`, {warm_n} calls | {:.2} µs | 0 |",
        warm_with_app.as_secs_f64() * 1e6
    );
    hs.stop().await;
    Ok(())
}
