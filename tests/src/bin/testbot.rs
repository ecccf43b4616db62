//! A bot for the crash tests: appends the ID of every event it handles to a
//! file (flushed to disk), optionally after sleeping, so a test can kill it
//! with SIGKILL mid-dispatch and count what each event got.
//!
//! With `--homeserver URL` it talks to a real homeserver: it joins the rooms
//! its bot user is invited to and answers `!echo <text>` with `<text>`, then
//! sleeps `--after-reply-ms` before it records the event, so a test can kill
//! it between a reply and the end of its handler.
//!
//! With `--postgres URL` the store's data is in that PostgreSQL database
//! (the transaction log stays in `--store`, or goes there too with
//! `--log-in-postgres`).
//!
//! With `--on-stop FILE` it appends `stopped` to that file when the
//! appservice calls its `on_stop`, so a test can tell a drain from a kill.
//!
//! ```text
//! ghostkit-testbot --version
//! ghostkit-testbot --registration R --store DIR --record FILE --bind ADDR [--slow-ms N]
//!                  [--segment-bytes N] [--homeserver URL [--after-reply-ms N]]
//!                  [--on-stop FILE] [--postgres URL [--log-in-postgres]]
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use ghostkit::appservice::Database;
use ghostkit::prelude::*;

struct Recorder {
    file: std::sync::Mutex<std::fs::File>,
    slow: Duration,
    /// `Some(wait after a reply)` when talking to a real homeserver.
    echo: Option<Duration>,
    /// Where `on_stop` says it ran.
    on_stop: Option<PathBuf>,
}

impl Recorder {
    /// Joins on an invite of the bot; answers `!echo`. Returns whether it replied.
    async fn echo(&self, ctx: &Context) -> Result<bool, HandlerError> {
        let ev = ctx.event();
        let bot = ctx.app().bot_user_id();
        if ev.event_type() == "m.room.member" && ev.state_key() == Some(bot.as_str()) {
            let member: serde_json::Value = ev.content()?;
            if member["membership"] == "invite" {
                if let Some(room) = ev.room_id() {
                    ctx.app()
                        .intent_for_bot()?
                        .join_room(room.into(), &[])
                        .await?;
                }
            }
            return Ok(false);
        }
        if ev.event_type() != "m.room.message"
            || ev.sender().map(|s| s.as_str()) == Some(bot.as_str())
        {
            return Ok(false);
        }
        let content: serde_json::Value = ev.content()?;
        let Some(text) = content["body"]
            .as_str()
            .and_then(|b| b.strip_prefix("!echo "))
        else {
            return Ok(false);
        };
        ctx.reply_text(text).await?;
        Ok(true)
    }
}

#[ghostkit::async_trait]
impl Handler for Recorder {
    async fn on_event(&self, ctx: &Context) -> HandlerResult {
        tokio::time::sleep(self.slow).await;
        if let Some(after) = self.echo {
            if self.echo(ctx).await? {
                tokio::time::sleep(after).await;
            }
        }
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

    async fn on_stop(&self, _app: &AppContext) {
        let Some(path) = &self.on_stop else { return };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "stopped").and_then(|()| f.sync_data()));
        if let Err(e) = written {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("ghostkit-testbot {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    // RUST_LOG and GHOSTKIT_LOG_FORMAT as for every bot; quiet by default.
    ghostkit::cli::init_logging_as(ghostkit::cli::LogFormat::from_env()?, "warn");
    let need = |n: &str| arg(&args, n).ok_or_else(|| anyhow::anyhow!("missing {n}"));
    let registration = Registration::load(need("--registration")?)?;
    let record = PathBuf::from(need("--record")?);
    let slow = Duration::from_millis(
        arg(&args, "--slow-ms")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    );
    let homeserver = arg(&args, "--homeserver");
    let echo = homeserver.as_ref().map(|_| {
        Duration::from_millis(
            arg(&args, "--after-reply-ms")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        )
    });
    let mut config = Config::new(
        homeserver.as_deref().unwrap_or("http://127.0.0.1:9"),
        need("--store")?,
    );
    config.server_name = Some("localhost".into());
    // With a real homeserver, the start-up ping also makes it retry at once
    // the transactions it failed to deliver while the bot was down.
    config.self_check = homeserver.is_some();
    config.bind = Some(need("--bind")?.parse()?);
    if let Some(n) = arg(&args, "--segment-bytes") {
        // Small segments: retired, kept as spares and written over often.
        config.log.segment_bytes = n.parse()?;
    }
    if let Some(url) = arg(&args, "--postgres") {
        config.database = Database::Postgres(ghostkit::store::PostgresOptions::new(url));
        config.log_in_database = args.iter().any(|a| a == "--log-in-postgres");
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(record)?;
    let running = Appservice::new(registration, config)
        .start(Recorder {
            file: std::sync::Mutex::new(file),
            slow,
            echo,
            on_stop: arg(&args, "--on-stop").map(PathBuf::from),
        })
        .await?;
    println!("listening {}", running.addr());
    running.wait().await?;
    Ok(())
}
