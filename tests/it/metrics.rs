//! `/metrics` after real traffic through Synapse: a user invites the
//! appservice's bot and says "ping"; a hand-written handler joins and
//! answers "pong"; the scrape (no token) counts the transactions, the
//! events by type, the handler calls and the client's requests by family.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use ghostkit::prelude::*;
use serde_json::json;

use crate::common::{eventually, registration_path, synapse_url, User};
use crate::e2e::E2E_APPSERVICE;

/// Joins when invited; answers "ping" with "pong" as the bot.
struct Pong;

#[ghostkit::async_trait]
impl Handler for Pong {
    async fn on_invite(&self, ctx: &Context, invitee: &UserId) -> HandlerResult {
        if let Some(room) = ctx.event().room_id() {
            ctx.client()
                .as_user(invitee)?
                .join_room(room.into(), &[])
                .await?;
        }
        Ok(())
    }

    async fn on_message(&self, ctx: &Context, msg: RoomMessageEventContent) -> HandlerResult {
        let ev = ctx.event();
        let ours = ev.sender().is_some_and(|s| ctx.is_ours(s));
        if let (false, "ping", Some(room)) = (ours, msg.body(), ev.room_id()) {
            ctx.client().as_bot().send_text(room, "pong").await?;
        }
        Ok(())
    }
}

/// The samples of a scrape: `name{labels}` -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(s: &HashMap<String, f64>, series: &str) -> f64 {
    s.get(series).copied().unwrap_or(0.0)
}

fn total(s: &HashMap<String, f64>, name: &str) -> f64 {
    s.iter()
        .filter(|(series, _)| series.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(addr: std::net::SocketAddr) -> Result<(String, String)> {
    let resp = reqwest::get(format!("http://{addr}/metrics")).await?;
    anyhow::ensure!(resp.status() == 200, "/metrics answered {}", resp.status());
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((content_type, resp.text().await?))
}

#[tokio::test]
async fn metrics_count_real_transactions_handler_calls_and_requests_through_synapse() -> Result<()>
{
    let _port = E2E_APPSERVICE.lock().await;
    let dir = tempfile::tempdir()?;
    let reg = Registration::load(registration_path("e2e"))?;
    let config = Config::new(synapse_url(), dir.path().join("store"));
    let running = Appservice::new(reg, config).start(Pong).await?;
    crate::common::ping_until_ok(running.app().client()).await?;
    let addr = running
        .metrics_addr()
        .context("metrics on the app listener")?;
    assert_eq!(addr, running.addr());
    let bot = running.app().bot_user_id().to_string();

    let alice = User::register("metrics").await?;
    let room = alice
        .create_room(json!({ "preset": "private_chat", "name": "metrics" }))
        .await?;
    alice.invite(&room, &bot).await?;
    eventually(Duration::from_secs(30), "the bot to join", || async {
        Ok(alice.joined_members(&room).await?["joined"]
            .get(&bot)
            .map(|_| ()))
    })
    .await?;
    alice.send_text(&room, "ping").await?;
    eventually(Duration::from_secs(30), "the pong", || async {
        Ok(alice
            .messages(&room)
            .await?
            .into_iter()
            .find(|m| m["sender"] == bot.as_str() && m["content"]["body"] == "pong"))
    })
    .await?;

    // Synapse sends the bot's own join and pong too; once they are
    // handled, every event received was handled once.
    let (content_type, text) = eventually(Duration::from_secs(30), "a settled scrape", || async {
        let (content_type, text) = scrape(addr).await?;
        let s = samples(&text);
        let messages = value(
            &s,
            "ghostkit_handler_duration_seconds_count{event_type=\"m.room.message\"}",
        );
        let calls = total(&s, "ghostkit_handler_duration_seconds_count");
        let events = value(&s, "ghostkit_events_received_total")
            + value(&s, "ghostkit_events_replayed_total");
        let settled =
            messages >= 2.0 && calls == events && value(&s, "ghostkit_dispatch_backlog") == 0.0;
        Ok(settled.then_some((content_type, text)))
    })
    .await?;
    assert_eq!(content_type, ghostkit::metrics::CONTENT_TYPE);
    let s = samples(&text);
    let show = || format!("scrape:\n{text}");
    // The invite, the join, the ping and the pong, at least (a stray
    // transaction of an earlier run may add to them).
    assert!(
        value(&s, "ghostkit_transactions_received_total") >= 2.0,
        "{}",
        show()
    );
    assert!(
        value(&s, "ghostkit_events_received_total") >= 4.0,
        "{}",
        show()
    );
    assert!(
        value(
            &s,
            "ghostkit_handler_duration_seconds_count{event_type=\"m.room.member\"}"
        ) >= 2.0,
        "{}",
        show()
    );
    assert_eq!(
        value(
            &s,
            "ghostkit_handler_failures_total{event_type=\"m.room.message\"}"
        ),
        0.0,
        "{}",
        show()
    );
    for (family, at_least) in [("join", 1.0), ("send", 1.0), ("other", 2.0)] {
        let series = format!(
            "ghostkit_client_requests_total{{endpoint=\"{family}\",class=\"2xx\",code=\"200\"}}"
        );
        assert!(value(&s, &series) >= at_least, "{series}; {}", show());
    }
    assert!(
        s.contains_key("ghostkit_seen_window_oldest_age_seconds"),
        "{}",
        show()
    );
    running.stop().await;
    Ok(())
}
