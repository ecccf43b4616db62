//! bots/webhooks against the real Synapse, over real HTTP both ways: hooks
//! made by a real user's commands, secret URLs read from the bot's direct
//! message, messages checked in the room, outbound POSTs verified.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::common::{enc, eventually, User};
use crate::examples::{restart_example, room_with, start_example};
use crate::webhooks::{
    dm_room, line_starting, message_containing, post, test_config, Receiver, ONE_AT_A_TIME,
};

#[tokio::test]
async fn inbound_hooks_post_into_the_room_and_survive_a_restart() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = tempfile::tempdir()?;
    let (bot, handle) = webhooks::setup(test_config());
    let running = start_example("webhooks", bot, store.path()).await?;
    let bot_id = running.app().bot_user_id().to_string();
    let mut running = Some(running);
    let result = async {
        let (alice, room) = room_with(&bot_id, "whin").await?;
        alice.send_text(&room, "!webhook create CI").await?;
        message_containing(&alice, &room, "Created webhook `ci`").await?;
        let dm = dm_room(&alice, &bot_id).await?;
        ensure!(dm != room);
        let note = message_containing(&alice, &dm, "/webhook/").await?;
        let url = line_starting(note["content"]["body"].as_str().unwrap_or(""), "http")?;
        let room_text = Value::Array(alice.messages(&room).await?).to_string();
        ensure!(
            !room_text.contains(&url),
            "the secret URL leaked into the room"
        );

        // Text, Markdown, a ghost with a display name, other JSON.
        let (s, _, v) = post(&url, r#"{"text": "plain hello"}"#).await?;
        ensure!(s == 200 && v["ok"] == true, "{s} {v}");
        let m = message_containing(&alice, &room, "plain hello").await?;
        ensure!(m["sender"] == bot_id.as_str(), "{m}");

        post(&url, r#"{"text": "**bold** move"}"#).await?;
        let m = message_containing(&alice, &room, "**bold** move").await?;
        let html = m["content"]["formatted_body"].as_str().unwrap_or("");
        ensure!(html.contains("<strong>bold</strong>"), "{m}");

        let (s, _, v) = post(&url, r#"{"text": "from ci", "username": "CI Bot"}"#).await?;
        ensure!(s == 200, "{s} {v}");
        let m = message_containing(&alice, &room, "from ci").await?;
        let mut hook =
            webhooks::hooks::Hook::new("ci", &room, "", webhooks::hooks::HookKind::Inbound);
        hook.id = url
            .rsplit_once("/webhook/")
            .context("url shape")?
            .1
            .to_owned();
        let ghost = webhooks::identity::ghost_id(&hook, "localhost").map_err(anyhow::Error::msg)?;
        ensure!(m["sender"] == ghost.as_str(), "{m}");
        let members = alice.joined_members(&room).await?;
        ensure!(
            members["joined"][ghost.as_str()]["display_name"] == "CI Bot (webhook)",
            "{members}"
        );

        post(&url, r#"{"build": 7, "status": "<green>"}"#).await?;
        let m = message_containing(&alice, &room, "\"build\": 7").await?;
        ensure!(
            m["content"]["body"]
                .as_str()
                .unwrap_or("")
                .starts_with("```json"),
            "{m}"
        );
        let html = m["content"]["formatted_body"].as_str().unwrap_or("");
        ensure!(
            html.starts_with("<pre><code") && html.contains("&lt;green&gt;"),
            "{m}"
        );

        // Wrong hook, bad bodies, then the rate limit.
        let base = url
            .rsplit_once("/webhook/")
            .context("url shape")?
            .0
            .to_owned();
        let (s, _, v) = post(&format!("{base}/webhook/0123456789abcdef"), "{}").await?;
        ensure!(
            s == 404 && v["ok"] == false && v["error"].is_string(),
            "{s} {v}"
        );
        let (s, _, v) = post(&url, "not json").await?;
        ensure!(
            s == 400 && v["error"].as_str().unwrap_or("").contains("not JSON"),
            "{s} {v}"
        );
        let (s, _, v) = post(&url, r#"{"text": 5}"#).await?;
        ensure!(
            s == 400 && v["error"] == "`text` must be a string, got a number",
            "{s} {v}"
        );
        let big = format!(r#"{{"text": "{}"}}"#, "a".repeat(40 * 1024));
        let (s, _, v) = post(&url, &big).await?;
        ensure!(
            s == 413 && v["error"].as_str().unwrap_or("").contains("larger than"),
            "{s} {v}"
        );
        let mut limited = None;
        for _ in 0..12 {
            let (s, retry, v) = post(&url, "not json").await?;
            if s == 429 {
                limited = Some((retry, v));
                break;
            }
            ensure!(s == 400, "{s} {v}");
        }
        let (retry, v) = limited.context("no 429 after the burst")?;
        let retry: u64 = retry.context("no Retry-After")?.parse()?;
        ensure!(retry >= 1 && v["ok"] == false, "{retry} {v}");

        // A restart keeps the hook (on a new port: same secret path).
        let id = url
            .rsplit_once("/webhook/")
            .context("url shape")?
            .1
            .to_owned();
        if let Some(r) = running.take() {
            r.stop().await;
        }
        let h2 = std::sync::Arc::new(std::sync::Mutex::new(None));
        let h2c = h2.clone();
        running = Some(
            restart_example(
                "webhooks",
                move || {
                    let (b, handle) = webhooks::setup(test_config());
                    *h2c.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
                    b
                },
                store.path(),
            )
            .await?,
        );
        let base = h2
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .and_then(|h| h.base_url())
            .context("restarted bot has no server")?;
        let (s, _, v) = post(
            &format!("{base}/webhook/{id}"),
            r#"{"text": "after restart"}"#,
        )
        .await?;
        ensure!(s == 200, "{s} {v}");
        message_containing(&alice, &room, "after restart").await?;

        // List, delete, and the URL is dead.
        alice.send_text(&room, "!webhook list").await?;
        let m = message_containing(&alice, &room, "Webhooks of this room:").await?;
        ensure!(
            m["content"]["body"]
                .as_str()
                .unwrap_or("")
                .contains("- ci (inbound, by"),
            "{m}"
        );
        alice.send_text(&room, "!webhook delete ci").await?;
        message_containing(&alice, &room, "Deleted webhook `ci`").await?;
        let (s, _, _) = post(&format!("{base}/webhook/{id}"), r#"{"text": "x"}"#).await?;
        ensure!(s == 404, "{s}");
        drop(handle);
        anyhow::Ok(())
    }
    .await;
    if let Some(r) = running {
        r.stop().await;
    }
    result
}

#[tokio::test]
async fn outbound_hooks_post_signed_events_and_only_managers_make_hooks() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("webhooks", webhooks::setup(test_config()).0, store.path()).await?;
    let bot_id = running.app().bot_user_id().to_string();
    let mut running = Some(running);
    let receiver = Receiver::start().await?;
    let result = async {
        let (alice, room) = room_with(&bot_id, "whout").await?;
        let target = format!("http://{}/hook", receiver.addr);
        alice
            .send_text(&room, &format!("!webhook outbound {target} relay"))
            .await?;
        message_containing(
            &alice,
            &room,
            "Forwarding this room's events as webhook `relay`",
        )
        .await?;
        let dm = dm_room(&alice, &bot_id).await?;
        let note = message_containing(&alice, &dm, "keyed with this secret").await?;
        let secret = note["content"]["body"]
            .as_str()
            .and_then(|b| b.lines().last())
            .context("no secret")?
            .to_owned();

        let sent = alice.send_text(&room, "to the outside").await?;
        let got = eventually(Duration::from_secs(30), "the signed POST", || async {
            let got = receiver
                .got
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Ok(got.into_iter().find(|r| {
                serde_json::from_slice::<Value>(&r.body)
                    .is_ok_and(|v| v["event"]["event_id"] == sent.as_str())
            }))
        })
        .await?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())?;
        mac.update(&got.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        ensure!(got.signature == want, "{} != {want}", got.signature);
        let v: Value = serde_json::from_slice(&got.body)?;
        ensure!(v["hook"] == "relay" && v["room_id"] == room.as_str(), "{v}");
        ensure!(v["event"]["content"]["body"] == "to the outside", "{v}");
        ensure!(
            *receiver.refused.lock().unwrap_or_else(|p| p.into_inner()) == 1,
            "the first delivery should have been refused and retried"
        );
        // `/metrics` counts the delivery (the refused attempt was retried,
        // not given up).
        let bot = running.as_ref().context("the bot is not running")?;
        let scraped = eventually(Duration::from_secs(10), "the delivery counted", || async {
            let text = crate::common::scrape_metrics(bot).await?;
            let delivered = crate::common::metric(&text, "webhooks_outbound_delivered_total");
            Ok((delivered >= Some(1)).then_some(text))
        })
        .await?;
        ensure!(
            crate::common::metric(&scraped, "webhooks_outbound_failed_total") == Some(0),
            "{scraped}"
        );

        // The outbound hook survives a restart.
        if let Some(r) = running.take() {
            r.stop().await;
        }
        let again_bot = || webhooks::setup(test_config()).0;
        running = Some(restart_example("webhooks", again_bot, store.path()).await?);
        let again = alice.send_text(&room, "after restart").await?;
        eventually(
            Duration::from_secs(30),
            "the POST after restart",
            || async {
                let got = receiver
                    .got
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                Ok(got
                    .iter()
                    .any(|r| {
                        serde_json::from_slice::<Value>(&r.body)
                            .is_ok_and(|v| v["event"]["event_id"] == again.as_str())
                    })
                    .then_some(()))
            },
        )
        .await?;

        // A member without power cannot make hooks.
        let bob = User::register("whbob").await?;
        alice.invite(&room, &bob.user_id).await?;
        bob.call(
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/join/{}", enc(&room)),
            Some(json!({})),
        )
        .await?;
        bob.send_text(&room, "!webhook create sneaky").await?;
        message_containing(
            &alice,
            &room,
            "Only users who may change this room's settings",
        )
        .await?;
        alice.send_text(&room, "!webhook list").await?;
        let m = message_containing(&alice, &room, "Webhooks of this room:").await?;
        let body = m["content"]["body"].as_str().unwrap_or("");
        ensure!(body.contains("- relay (outbound to 127.0.0.1"), "{body}");
        ensure!(!body.contains("sneaky"), "{body}");
        anyhow::Ok(())
    }
    .await;
    if let Some(r) = running {
        r.stop().await;
    }
    receiver.stop().await;
    result
}

#[tokio::test]
async fn outbound_events_queued_at_a_stop_are_delivered_after_a_restart() -> Result<()> {
    use webhooks::hooks::{Hook, HookKind, Hooks};
    use webhooks::outbound::Outbound;
    let receiver = Receiver::start().await?;
    let dir = tempfile::tempdir()?;
    let store = ghostkit::Store::open(dir.path())?;
    let hooks = Hooks::load(&store).await?;
    let hook = Hook::new(
        "relay",
        "!room:localhost",
        "@alice:localhost",
        HookKind::Outbound {
            url: format!("http://{}/hook", receiver.addr),
            secret: "s3cret".into(),
        },
    );
    hooks.insert(hook.clone()).await?;
    // The receiver refuses the first request; the retry waits a minute, and
    // the bot stops before it.
    let config = webhooks::WebhooksConfig {
        outbound_backoff_ms: 60_000,
        ..test_config()
    };
    let event = r#"{"type":"m.room.message","event_id":"$queued","room_id":"!room:localhost","sender":"@alice:localhost","content":{"body":"still here"}}"#;
    let out = Outbound::start(&config, &store, &hooks).await?;
    out.enqueue(&hook, event).await;
    eventually(
        Duration::from_secs(10),
        "the first (refused) try",
        || async {
            Ok((*receiver.refused.lock().unwrap_or_else(|p| p.into_inner()) > 0).then_some(()))
        },
    )
    .await?;
    out.stop();
    drop(out);
    store.flush().await?;
    drop((hooks, store));

    // The aborted dispatcher lets go of the store when tokio drops it.
    let store = eventually(Duration::from_secs(10), "the store to reopen", || async {
        Ok(ghostkit::Store::open(dir.path()).ok())
    })
    .await?;
    let hooks = Hooks::load(&store).await?;
    let _out = Outbound::start(&config, &store, &hooks).await?;
    let got = eventually(
        Duration::from_secs(10),
        "the delivery after the restart",
        || async {
            Ok(receiver
                .got
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .first()
                .cloned())
        },
    )
    .await?;
    let body: Value = serde_json::from_slice(&got.body)?;
    ensure!(body["event"]["event_id"] == "$queued", "{body}");
    ensure!(body["hook"] == "relay", "{body}");
    // Delivered: it leaves the queue on disk.
    eventually(Duration::from_secs(10), "the queue to empty", || async {
        Ok(store
            .tree("webhooks.outbound")?
            .is_empty()
            .await?
            .then_some(()))
    })
    .await?;
    receiver.stop().await;
    Ok(())
}
