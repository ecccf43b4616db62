//! bots/webhooks against what a room's members and admins could abuse:
//! outbound hooks aimed at internal addresses or redirected there, HTML
//! that carries scripts, display names that pass for someone else, and
//! one room's hook renaming another room's ghost.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use serde_json::Value;
use webhooks::hooks::{Hook, HookKind, Hooks};
use webhooks::outbound::Outbound;
use webhooks::WebhooksConfig;

use crate::common::{eventually, User};
use crate::examples::{room_with, start_example};
use crate::webhooks::{
    dm_room, line_starting, message_containing, post, strict_config, test_config, Counter,
    ONE_AT_A_TIME,
};

const EVENT: &str = r#"{"type":"m.room.message","event_id":"$e","room_id":"!room:localhost","sender":"@alice:localhost","content":{"body":"hi"}}"#;

/// Stores an outbound hook to `url` directly (as a hook made before the
/// checks, or whose host changed since, would be).
async fn stored_hook(hooks: &Hooks, name: &str, url: String) -> Result<Hook> {
    let hook = Hook::new(
        name,
        "!room:localhost",
        "@alice:localhost",
        HookKind::Outbound {
            url,
            secret: "s3cret".into(),
        },
    );
    hooks.insert(hook.clone()).await?;
    Ok(hook)
}

async fn failure_of(out: &Outbound, hook: &Hook) -> Result<String> {
    eventually(Duration::from_secs(10), "a failed delivery", || async {
        Ok(out.last_failure(&hook.id))
    })
    .await
}

#[tokio::test]
async fn outbound_urls_to_internal_addresses_are_refused_in_the_room() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = tempfile::tempdir()?;
    let running =
        start_example("webhooks", webhooks::setup(strict_config()).0, store.path()).await?;
    let bot_id = running.app().bot_user_id().to_string();
    let result = async {
        let (alice, room) = room_with(&bot_id, "whssrf").await?;
        // (URL, the address the refusal names)
        let forms = [
            ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
            ("http://localhost:9/hook", "is a loopback address"),
            ("http://127.1/", "127.0.0.1 is a loopback address"),
            ("http://0x7f000001/", "127.0.0.1 is a loopback address"),
            ("http://2130706433/", "127.0.0.1 is a loopback address"),
            ("http://0177.0.0.1/", "127.0.0.1 is a loopback address"),
            ("http://[::1]/", "::1 is a loopback address"),
            (
                "http://[::ffff:127.0.0.1]/",
                "::ffff:127.0.0.1 is a loopback address",
            ),
            ("http://0.0.0.0/", "0.0.0.0 is the unspecified address"),
            ("http://[::]/", ":: is the unspecified address"),
            ("http://10.0.0.1/", "10.0.0.1 is a private address"),
            ("http://172.16.0.1/", "172.16.0.1 is a private address"),
            ("http://192.168.0.1/", "192.168.0.1 is a private address"),
            (
                "http://100.64.0.1/",
                "100.64.0.1 is a shared (CGNAT) address",
            ),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254 is a link-local address",
            ),
            ("http://[fe80::1]/", "fe80::1 is a link-local address"),
            ("http://[fd00::1]/", "fd00::1 is a unique-local address"),
            ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
            (
                "http://255.255.255.255/",
                "255.255.255.255 is the broadcast address",
            ),
            (
                "http://[::ffff:10.0.0.1]/",
                "::ffff:10.0.0.1 is a private address",
            ),
            ("http://[ff02::1]/", "ff02::1 is a multicast address"),
        ];
        for (url, why) in forms {
            alice
                .send_text(&room, &format!("!webhook outbound {url}"))
                .await?;
            let m =
                message_containing(&alice, &room, &format!("Cannot forward to `{url}`")).await?;
            let body = m["content"]["body"].as_str().unwrap_or("");
            ensure!(
                body.contains(why) && body.contains("which webhooks may not reach"),
                "{url}: {body}"
            );
        }
        alice
            .send_text(&room, "!webhook outbound gopher://example.org/")
            .await?;
        let m = message_containing(&alice, &room, "Cannot forward to `gopher://").await?;
        ensure!(
            m["content"]["body"]
                .as_str()
                .unwrap_or("")
                .contains("only http and https"),
            "{m}"
        );
        alice.send_text(&room, "!webhook list").await?;
        message_containing(&alice, &room, "This room has no webhooks").await?;
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

#[tokio::test]
async fn outbound_deliveries_to_internal_addresses_are_refused_at_send_time() -> Result<()> {
    let receiver = Counter::start(200, None).await?;
    let dir = tempfile::tempdir()?;
    let store = ghostkit::Store::open(dir.path())?;
    let hooks = Hooks::load(&store).await?;
    let port = receiver.addr.port();
    // An IP literal (never seen by the resolver) and a name that resolves
    // to the loopback interface.
    let literal = stored_hook(&hooks, "literal", format!("http://127.0.0.1:{port}/hook")).await?;
    let named = stored_hook(&hooks, "named", format!("http://localhost:{port}/hook")).await?;
    let out = Outbound::start(&strict_config(), &store, &hooks).await?;
    out.enqueue(&literal, EVENT).await;
    out.enqueue(&named, EVENT).await;
    let why = failure_of(&out, &literal).await?;
    ensure!(
        why.starts_with("the URL is refused: 127.0.0.1 is a loopback address"),
        "{why}"
    );
    let why = failure_of(&out, &named).await?;
    ensure!(
        why.starts_with("the URL is refused: ") && why.contains("is a loopback address"),
        "{why}"
    );
    ensure!(
        receiver.hits() == 0,
        "{} requests got through",
        receiver.hits()
    );

    // The same hooks with 127.0.0.1 allowed are delivered: the refusal was
    // the address, not the receiver.
    out.stop();
    drop(out);
    let allowed = WebhooksConfig {
        outbound_allow: vec!["127.0.0.1".parse()?, "::1".parse()?],
        ..strict_config()
    };
    let out = Outbound::start(&allowed, &store, &hooks).await?;
    out.enqueue(&literal, EVENT).await;
    out.enqueue(&named, EVENT).await;
    eventually(Duration::from_secs(10), "both deliveries", || async {
        Ok((receiver.hits() == 2).then_some(()))
    })
    .await?;
    receiver.stop().await;
    Ok(())
}

#[tokio::test]
async fn outbound_redirects_are_not_followed() -> Result<()> {
    let target = Counter::start(200, None).await?;
    let front = Counter::start(307, Some(format!("http://{}/hook", target.addr))).await?;
    let dir = tempfile::tempdir()?;
    let store = ghostkit::Store::open(dir.path())?;
    let hooks = Hooks::load(&store).await?;
    let hook = stored_hook(&hooks, "moved", format!("http://{}/hook", front.addr)).await?;
    // 127.0.0.1 is allowed, so only the redirect rule stands between the
    // hook and the second server.
    let out = Outbound::start(&test_config(), &store, &hooks).await?;
    out.enqueue(&hook, EVENT).await;
    let why = failure_of(&out, &hook).await?;
    ensure!(
        why.contains("answered 307")
            && why.contains(&format!("to http://{}/hook", target.addr))
            && why.contains("redirects are not followed"),
        "{why}"
    );
    // Retries would come after 100 ms: give them time to show.
    tokio::time::sleep(Duration::from_millis(800)).await;
    ensure!(
        front.hits() == 1,
        "{} requests to the hook's URL",
        front.hits()
    );
    ensure!(target.hits() == 0, "the redirect was followed");
    front.stop().await;
    target.stop().await;
    Ok(())
}

/// Makes an inbound hook `name` in `room`; returns its secret URL.
async fn inbound_hook(user: &User, bot: &str, room: &str, name: &str) -> Result<String> {
    user.send_text(room, &format!("!webhook create {name}"))
        .await?;
    message_containing(user, room, &format!("Created webhook `{name}`")).await?;
    let dm = dm_room(user, bot).await?;
    let note = message_containing(user, &dm, &format!("of room {room} is ready")).await?;
    line_starting(note["content"]["body"].as_str().unwrap_or(""), "http")
}

#[tokio::test]
async fn inbound_html_is_sanitized_before_it_reaches_the_room() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("webhooks", webhooks::setup(test_config()).0, store.path()).await?;
    let bot_id = running.app().bot_user_id().to_string();
    let result = async {
        let (alice, room) = room_with(&bot_id, "whhtml").await?;
        let url = inbound_hook(&alice, &bot_id, &room, "html").await?;
        // (request body, the plain body it gets, what its HTML must be)
        let cases = [
            (
                r#"{"html": "<img src=x onerror=alert(1)>image"}"#,
                "image",
                "<img>image",
            ),
            (
                r#"{"html": "<a href=\"javascript:alert(1)\">js link</a>"}"#,
                "js link",
                "js link",
            ),
            (
                r#"{"text": "scripted", "html": "<script>alert(1)</script><b>bold</b>"}"#,
                "scripted",
                "<b>bold</b>",
            ),
            (
                r#"{"text": "[md link](javascript:alert(1))"}"#,
                "[md link]",
                "<p>md link</p>\n",
            ),
        ];
        for (body, plain, html) in cases {
            let (s, _, v) = post(&url, body).await?;
            ensure!(s == 200, "{body}: {s} {v}");
            let m = message_containing(&alice, &room, plain).await?;
            let got = m["content"]["formatted_body"].as_str().unwrap_or("");
            ensure!(got == html, "{body}: {got:?}");
        }
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

async fn display_name_in(user: &User, room: &str, who: &str) -> Result<Value> {
    Ok(user.joined_members(room).await?["joined"][who]["display_name"].clone())
}

#[tokio::test]
async fn each_hook_has_its_own_ghost_and_display_names_are_marked() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("webhooks", webhooks::setup(test_config()).0, store.path()).await?;
    let bot_id = running.app().bot_user_id().to_string();
    let result = async {
        // Two rooms, two admins, a hook called `ci` in each.
        let (alice, room_a) = room_with(&bot_id, "whida").await?;
        let (bob, room_b) = room_with(&bot_id, "whidb").await?;
        let url_a = inbound_hook(&alice, &bot_id, &room_a, "ci").await?;
        let url_b = inbound_hook(&bob, &bot_id, &room_b, "ci").await?;

        let (s, _, v) = post(&url_a, r#"{"text": "from a", "username": "Alpha"}"#).await?;
        ensure!(s == 200, "{s} {v}");
        let m = message_containing(&alice, &room_a, "from a").await?;
        let ghost_a = m["sender"].as_str().context("no sender")?.to_owned();
        ensure!(ghost_a.starts_with("@_webhook_ci_"), "{ghost_a}");
        ensure!(
            !ghost_a.contains(url_a.rsplit('/').next().unwrap_or("")),
            "the ghost shows the secret"
        );
        ensure!(
            display_name_in(&alice, &room_a, &ghost_a).await? == "Alpha (webhook)",
            "{}",
            alice.joined_members(&room_a).await?
        );

        let (s, _, v) = post(&url_b, r#"{"text": "from b", "username": "Room Admin"}"#).await?;
        ensure!(s == 200, "{s} {v}");
        let m = message_containing(&bob, &room_b, "from b").await?;
        let ghost_b = m["sender"].as_str().context("no sender")?.to_owned();
        ensure!(ghost_b != ghost_a, "both rooms' hooks post as {ghost_a}");
        ensure!(
            display_name_in(&bob, &room_b, &ghost_b).await? == "Room Admin (webhook)",
            "{}",
            bob.joined_members(&room_b).await?
        );

        // Room B's name did not reach room A's ghost, in the room or globally.
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            display_name_in(&alice, &room_a, &ghost_a).await? == "Alpha (webhook)",
            "{}",
            alice.joined_members(&room_a).await?
        );
        let profile = alice
            .call(
                reqwest::Method::GET,
                &format!(
                    "/_matrix/client/v3/profile/{}/displayname",
                    crate::common::enc(&ghost_a)
                ),
                None,
            )
            .await?;
        ensure!(profile["displayname"] == "Alpha (webhook)", "{profile}");

        // A name with a text-direction override is refused.
        let (s, _, v) = post(
            &url_a,
            "{\"text\": \"x\", \"username\": \"\u{202e}nimdA mooR\"}",
        )
        .await?;
        ensure!(
            s == 400 && v["error"].as_str().unwrap_or("").contains("U+202E"),
            "{s} {v}"
        );
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
