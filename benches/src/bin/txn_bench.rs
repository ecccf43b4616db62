//! The inbound hot path: transactions over loopback HTTP, written to the
//! durable log (flushed to disk before the ack), dispatched to a handler
//! that counts events.
//!
//! ```text
//! cargo run --release -p ghostkit-bench --bin txn-bench -- [--txns 2000] [--conns 1,16] [--stores sled,postgres]
//! txn-bench --version
//! ```
//! `--stores` names where the store's data goes, each run in turn for each
//! connection count: `sled` (the default) in the store folder, `postgres`
//! in a fresh database on the server `GHOSTKIT_TEST_POSTGRES` names
//! (`scripts/postgres.sh start`, then `scripts/postgres.sh url`), with the
//! transaction log's segments in the store folder, or `postgres-log` with
//! the transaction log in that database too.
//! The server runs in a child process (so its peak RSS is its own); this
//! process plays Synapse: one transaction in flight per connection, 100
//! realistic `m.room.message` events each.
//!
//! Knobs (environment): `BENCH_HTTP_WORKERS` (actix workers of the server,
//! default 2), `BENCH_RT_THREADS` (its tokio worker threads, default 2),
//! `BENCH_PROFILE` (a profiler command to attach to the server's pid, e.g.
//! `perf record -g -o /tmp/perf.data -p`), `BENCH_THREADS` (set: print the
//! server's threads with their CPU time and context switches),
//! `BENCH_SEEN_EVENTS` (size of the window of event IDs, default 100,000).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use ghostkit::appservice::Database;
use ghostkit::prelude::*;
use ghostkit::store::PostgresOptions;

const HS_TOKEN: &str = "bench_hs_token";
const EVENTS_PER_TXN: usize = 100;

struct Counter(Arc<AtomicU64>);

#[ghostkit::async_trait]
impl Handler for Counter {
    async fn on_event(&self, _ctx: &Context) -> HandlerResult {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

async fn serve(dir: &str, postgres: Option<String>, log_in_database: bool) -> Result<()> {
    let reg = Registration::from_yaml(&format!(
        "id: bench\nurl: http://127.0.0.1:1\nas_token: bench_as_token\nhs_token: {HS_TOKEN}\n\
         sender_localpart: bench\nnamespaces:\n  users: [{{regex: '^@bench:localhost$', exclusive: true}}]\n"
    ))?;
    let mut config = Config::new("http://127.0.0.1:1", dir);
    config.server_name = Some("localhost".into());
    config.self_check = false;
    config.bind = Some("127.0.0.1:0".parse()?);
    if let Some(url) = postgres {
        config.database = Database::Postgres(PostgresOptions::new(url));
        config.log_in_database = log_in_database;
    }
    if let Ok(n) = std::env::var("BENCH_SEEN_EVENTS") {
        config.log.seen_events = n.parse()?;
    }
    if let Ok(n) = std::env::var("BENCH_HTTP_WORKERS") {
        config.http_workers = n.parse()?;
    }
    let running = Appservice::new(reg, config)
        .start(Counter(Arc::new(AtomicU64::new(0))))
        .await?;
    println!("ADDR {}", running.addr());
    running.wait().await?;
    Ok(())
}

fn event(conn: usize, txn: usize, i: usize) -> String {
    let room = (txn * 7 + i) % 10;
    format!(
        concat!(
            r#"{{"type":"m.room.message","room_id":"!benchroom{conn}x{room}AbCdEfGhIjKlMnOpQr:localhost","#,
            r#""sender":"@user{i}:localhost","event_id":"$ev{conn}_{txn}_{i}_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789","#,
            r#""origin_server_ts":1732700000000,"content":{{"msgtype":"m.text","#,
            r#""body":"Hello everyone, this is message {i} of transaction {txn}. It has about the length of a normal chat line, maybe a bit longer.","#,
            r#""format":"org.matrix.custom.html","formatted_body":"<p>Hello everyone, this is message <b>{i}</b> of transaction {txn}.</p>","#,
            r#""m.mentions":{{}}}},"unsigned":{{"age":1234,"membership":"join"}},"user_id":"@user{i}:localhost","age":1234}}"#
        ),
        conn = conn,
        room = room,
        i = i,
        txn = txn,
    )
}

fn body(conn: usize, txn: usize) -> String {
    let events: Vec<String> = (0..EVENTS_PER_TXN).map(|i| event(conn, txn, i)).collect();
    format!(r#"{{"events":[{}],"ephemeral":[]}}"#, events.join(","))
}

struct Http {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Http {
    fn connect(addr: SocketAddr) -> Result<Http> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Http {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    fn call(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        // One write per request, as an HTTP client with a send buffer does
        // (`write!` on the bare socket would send each piece on its own).
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {HS_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body.as_bytes());
        self.writer.write_all(&request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
        }
        let mut buf = vec![0; len];
        self.reader.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

/// Per thread of the server: name, CPU seconds, voluntary and forced
/// context switches (where the wake-ups go).
fn print_threads(pid: u32) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let tid: u32 = task.file_name().to_string_lossy().parse().unwrap_or(0);
        let cpu = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|stat| {
                let rest = stat.rsplit_once(") ")?.1.to_owned();
                let f: Vec<f64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap_or(0.0))
                    .collect();
                Some((f.get(11)? + f.get(12)?) / 100.0)
            })
            .unwrap_or(0.0);
        println!(
            "  thread {tid:>7} {:<24} cpu {cpu:>6.2} s  switches voluntary {:>7} forced {:>6}",
            field("Name:"),
            field("voluntary_ctxt_switches:"),
            field("nonvoluntary_ctxt_switches:"),
        );
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Where a run keeps the store's data.
#[derive(Clone, Copy, PartialEq)]
enum StoreKind {
    Sled,
    Postgres,
    PostgresLog,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            StoreKind::Sled => "sled",
            StoreKind::Postgres => "postgres",
            StoreKind::PostgresLog => "postgres-log",
        }
    }
}

/// A fresh database on the test server, for one run.
fn fresh_database() -> Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match rt.block_on(ghostkit::testing::postgres_database())? {
        Some(options) => Ok(options.url),
        None => bail!(
            "--stores postgres needs GHOSTKIT_TEST_POSTGRES: run `scripts/postgres.sh start` and set it to what `scripts/postgres.sh url` prints"
        ),
    }
}

fn run(conns: usize, txns_per_conn: usize, store: StoreKind) -> Result<()> {
    let dir = std::env::current_dir()?
        .join("target")
        .join(format!("bench-store-{conns}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut server = Command::new(std::env::current_exe()?);
    server.args(["--serve", &dir.to_string_lossy()]);
    if store != StoreKind::Sled {
        server.args(["--postgres", &fresh_database()?]);
    }
    if store == StoreKind::PostgresLog {
        server.arg("--log-in-postgres");
    }
    let mut child = server.stdout(Stdio::piped()).spawn()?;
    let pid = child.id();
    let stdout = child.stdout.take().context("child stdout")?;
    // Whatever happens below, the server does not outlive this run.
    let child = KillOnDrop(child);
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if let Ok(cmd) = std::env::var("BENCH_PROFILE") {
        // e.g. BENCH_PROFILE="perf record -g -o /tmp/perf.data -p": attach to the server.
        let mut parts = cmd.split_whitespace();
        let prog = parts.next().context("empty BENCH_PROFILE")?;
        Command::new(prog)
            .args(parts)
            .arg(pid.to_string())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(500));
    }
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("ADDR ")
        .ok_or_else(|| anyhow!("server said {line:?}"))?
        .parse()?;

    // Warm-up: connections, the store's trees, the allocator.
    let mut warm = Http::connect(addr)?;
    for t in 0..20 {
        let (status, _) = warm.call(
            "PUT",
            &format!("/_matrix/app/v1/transactions/w{t}"),
            &body(999, t),
        )?;
        if status != 200 {
            bail!("warm-up transaction answered {status}");
        }
    }
    let warm_events = 20 * EVENTS_PER_TXN as u64;

    // Bodies are made before the clock starts: this process shares the CPU.
    let bodies: Vec<Vec<String>> = (0..conns)
        .map(|c| (0..txns_per_conn).map(|t| body(c, t)).collect())
        .collect();
    let cpu_before = cpu_seconds(pid);
    let load_cpu_before = cpu_seconds(std::process::id());
    let start = Instant::now();
    let handles: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(c, bodies)| {
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut http = Http::connect(addr)?;
                let mut lat = Vec::with_capacity(txns_per_conn);
                for (t, b) in bodies.iter().enumerate() {
                    let t0 = Instant::now();
                    let (status, resp) =
                        http.call("PUT", &format!("/_matrix/app/v1/transactions/c{c}t{t}"), b)?;
                    lat.push(t0.elapsed());
                    if status != 200 {
                        bail!("transaction answered {status}: {resp}");
                    }
                }
                Ok(lat)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.join().map_err(|_| anyhow!("client thread panicked"))??);
    }
    let acked = start.elapsed();
    let total = (conns * txns_per_conn * EVENTS_PER_TXN) as u64;
    // A fresh connection: the warm-up one may have been idle past keep-alive.
    let mut probe = Http::connect(addr)?;
    let dispatched = loop {
        let (_, r) = probe.call("GET", "/health/ready", "")?;
        let v: serde_json::Value = serde_json::from_str(&r)?;
        if v["handled"].as_u64().unwrap_or(0) >= total + warm_events {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("dispatch did not finish: {v}");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let cpu_after = cpu_seconds(pid);
    let load_cpu = cpu_seconds(std::process::id()) - load_cpu_before;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        .unwrap_or_else(|| "?".into());
    if std::env::var_os("BENCH_THREADS").is_some() {
        print_threads(pid);
    }
    drop(child);
    latencies.sort();
    println!(
        "{:<12} conns={conns:>2} txns={:>5} events={total:>7}  acked {:>8.0} ev/s  acked+dispatched {:>8.0} ev/s  \
         ack p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  server CPU {:.2} us/event (load generator {:.2})  peak RSS {hwm}",
        store.name(),
        latencies.len(),
        total as f64 / acked.as_secs_f64(),
        total as f64 / dispatched.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
        (cpu_after - cpu_before) * 1e6 / total as f64,
        load_cpu * 1e6 / total as f64,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("txn-bench {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(dir) = arg("--serve") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::env::var("BENCH_RT_THREADS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(2),
            )
            .enable_all()
            .build()?;
        let log_in_database = std::env::args().any(|a| a == "--log-in-postgres");
        return rt.block_on(serve(&dir, arg("--postgres"), log_in_database));
    }
    let txns: usize = arg("--txns").and_then(|s| s.parse().ok()).unwrap_or(2000);
    let conns = arg("--conns").unwrap_or_else(|| "1,16".into());
    let stores = arg("--stores")
        .unwrap_or_else(|| "sled".into())
        .split(',')
        .map(|s| match s.trim() {
            "sled" => Ok(StoreKind::Sled),
            "postgres" => Ok(StoreKind::Postgres),
            "postgres-log" => Ok(StoreKind::PostgresLog),
            other => Err(anyhow!(
                "--stores takes sled, postgres and postgres-log, like sled,postgres-log; not {other:?}"
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    println!(
        "txn-bench: {EVENTS_PER_TXN} events per transaction, durable (flushed) before each ack"
    );
    for c in conns.split(',') {
        let c: usize = c
            .trim()
            .parse()
            .context("--conns takes numbers like 1,16")?;
        for &store in &stores {
            run(c, (txns / c).max(1), store)?;
        }
    }
    Ok(())
}
