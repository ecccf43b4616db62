//! What a bot process writes to its log, at the most verbose level, through
//! a start, transactions from the real Synapse, its requests back, and a
//! stop: never the as_token nor the hs_token; no ANSI codes when standard
//! error is a file; JSON lines that carry the handler's span (room, event
//! ID and type).

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::common::{eventually, registration_path, synapse_url, User};
use crate::echo_process::{replies, room_with, send_burst, EchoBot, EchoSpec};
use crate::effects_once::{EFFECTS_APPSERVICE, PORT};
use crate::signals::{exited, send};

const BOT: &str = "@effects:localhost";

/// Runs the echo test bot as `effects` with `env`, through a start, an
/// invite, an `!echo` and its reply, a transaction authenticated the legacy
/// way (`?access_token=`), and SIGTERM; returns its standard error.
async fn one_run(env: &[(&str, &str)]) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let registration = registration_path("effects");
    let homeserver = synapse_url();
    let log = dir.path().join("bot.log");
    let spec = EchoSpec {
        registration: &registration,
        homeserver: &homeserver,
        store: dir.path(),
        port: PORT,
        after_reply_ms: 0,
        slow_ms: 0,
        log: log.clone(),
        postgres: None,
    };
    let user = User::register("logs").await?;
    let mut bot = EchoBot::spawn_with_env(&spec, env)?;
    let room = room_with(&user, BOT).await?;
    let text = vec![format!("log check {}", crate::common::unique("t"))];
    send_burst(&user, &room, &text).await?;
    eventually(Duration::from_secs(60), "the echo", || async {
        let got = replies(&user, &room, BOT).await?;
        Ok(got.contains_key(&text[0]).then_some(()))
    })
    .await?;

    // The hs_token in the query string, as older homeservers send it.
    let hs_token = reg_token(&registration, "hs_token")?;
    let url = format!(
        "http://127.0.0.1:{PORT}/_matrix/app/v1/transactions/legacy-{}?access_token={hs_token}",
        crate::common::unique("t")
    );
    let status = reqwest::Client::new()
        .put(url)
        .json(&json!({ "events": [] }))
        .send()
        .await?
        .status();
    assert_eq!(status, 200, "legacy authentication");

    send(bot.child(), "TERM")?;
    let status = exited(bot.child(), Duration::from_secs(30)).await?;
    assert_eq!(status.code(), Some(0), "stopped by SIGTERM");
    drop(bot);
    let out = std::fs::read_to_string(&log).context("reading the bot's log")?;
    if out.is_empty() {
        bail!("the bot logged nothing: the test proves nothing");
    }
    Ok(out)
}

/// A token of the registration file at `path`.
fn reg_token(path: &std::path::Path, key: &str) -> Result<String> {
    let reg = ghostkit::Registration::load(path)?;
    Ok(match key {
        "as_token" => reg.as_token,
        _ => reg.hs_token,
    })
}

fn assert_no_secrets(out: &str) -> Result<()> {
    let registration = registration_path("effects");
    for key in ["as_token", "hs_token"] {
        let secret = reg_token(&registration, key)?;
        if let Some(at) = out.find(&secret) {
            let line = out[..at].lines().count();
            bail!("the {key} is in the log, line {line}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_trace_log_of_start_transactions_and_stop_holds_no_token() -> Result<()> {
    let _port = EFFECTS_APPSERVICE.lock().await;
    let out = one_run(&[("RUST_LOG", "trace"), ("GHOSTKIT_LOG_FORMAT", "text")]).await?;
    assert_no_secrets(&out)?;
    assert!(
        !out.contains('\u{1b}'),
        "ANSI escape codes in a log that is not a terminal"
    );
    // The handler's span names the event it handles.
    assert!(
        out.lines()
            .any(|l| l.contains("handler{room_id=\"!") && l.contains("event_type=\"m.room.")),
        "no line in a handler span"
    );
    assert!(out.contains("stopping"), "the drain is logged");
    Ok(())
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_handler_span() -> Result<()> {
    let _port = EFFECTS_APPSERVICE.lock().await;
    let out = one_run(&[
        ("RUST_LOG", "debug,ghostkit=trace"),
        ("GHOSTKIT_LOG_FORMAT", "json"),
    ])
    .await?;
    assert_no_secrets(&out)?;
    let mut in_handler = 0;
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
        let spans = v["spans"].as_array().cloned().unwrap_or_default();
        if spans.iter().any(|s| {
            s["name"] == "handler"
                && s["room_id"].as_str().is_some_and(|r| r.starts_with('!'))
                && s["event_id"].as_str().is_some_and(|e| e.starts_with('$'))
                && s["event_type"].as_str().is_some()
        }) {
            in_handler += 1;
        }
    }
    assert!(in_handler > 0, "no JSON line in a handler span");
    Ok(())
}
