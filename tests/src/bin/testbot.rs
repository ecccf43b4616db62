//! A bot for the crash tests: appends the ID of every event it handles to a
//! file (flushed to disk), optionally after sleeping, so a test can kill it
//! with SIGKILL mid-dispatch and count what each event got.
//!
//! ```text
//! ghostkit-testbot --registration R --store DIR --record FILE --bind ADDR [--slow-ms N]
//!                  [--segment-bytes N]
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use ghostkit::prelude::*;

struct Recorder {
    file: std::sync::Mutex<std::fs::File>,
    slow: Duration,
}

#[ghostkit::async_trait]
impl Handler for Recorder {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        tokio::time::sleep(self.slow).await;
        let id = ctx
            .event()
            .event_id()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let mut f = self.file.lock().map_err(|_| "poisoned")?;
        writeln!(f, "{id}")?;
        f.sync_data()?;
        Ok(())
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args: Vec<String> = std::env::args().collect();
    let need = |n: &str| arg(&args, n).ok_or_else(|| anyhow::anyhow!("missing {n}"));
    let registration = Registration::load(need("--registration")?)?;
    let record = PathBuf::from(need("--record")?);
    let slow = Duration::from_millis(
        arg(&args, "--slow-ms")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    );
    let mut config = Config::new("http://127.0.0.1:9", need("--store")?);
    config.server_name = Some("localhost".into());
    config.self_check = false;
    config.bind = Some(need("--bind")?.parse()?);
    if let Some(n) = arg(&args, "--segment-bytes") {
        // Small segments: retired, kept as spares and written over often.
        config.log.segment_bytes = n.parse()?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(record)?;
    let running = Appservice::new(registration, config)
        .start(Recorder {
            file: std::sync::Mutex::new(file),
            slow,
        })
        .await?;
    println!("listening {}", running.addr());
    running.wait().await?;
    Ok(())
}
