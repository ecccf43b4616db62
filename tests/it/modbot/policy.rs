//! Modbot against the real Synapse: lists, enforcement, ACLs, unbans,
//! watched lists, restarts. Protections are in `protections`.

use anyhow::Result;
use serde_json::json;

use crate::common::{eventually, unique, User};
use crate::modbot::{get_state, join, membership, put_state, Harness, WAIT};

#[tokio::test]
async fn a_user_rule_bans_in_every_protected_room() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let rooms = [
        h.protected_room(&owner).await?,
        h.protected_room(&owner).await?,
    ];
    let spammer = User::register("spammer").await?;
    let bystander = User::register("bystander").await?;
    for r in &rooms {
        join(&spammer, r).await?;
        join(&bystander, r).await?;
    }
    h.list("main").await?;
    let spam = spammer.send_text(&rooms[0], "buy now").await?;
    h.command(
        &format!("ban {} main spam", spammer.user_id),
        &format!("rule added to main: ban {}", spammer.user_id),
    )
    .await?;
    for r in &rooms {
        h.wait_membership(&owner, r, &spammer.user_id, "ban")
            .await?;
    }
    h.said(&format!("banned {} in 2 room(s)", spammer.user_id))
        .await?;
    // The reason says "spam": the user's messages are redacted too.
    eventually(WAIT, "the spam to be redacted", || async {
        let msgs = owner.messages(&rooms[0]).await?;
        Ok(msgs
            .iter()
            .find(|m| m["event_id"] == spam.as_str())
            .filter(|m| m["content"].as_object().is_some_and(|c| c.is_empty()))
            .map(drop))
    })
    .await?;
    assert_eq!(
        membership(&owner, &rooms[0], &bystander.user_id)
            .await?
            .as_deref(),
        Some("join")
    );
    // The scrape counts the two bans and the redaction.
    let scraped = h.metrics().await?;
    let value = |name: &str| crate::common::metric(&scraped, name);
    assert_eq!(value("modbot_bans_total"), Some(2), "{scraped}");
    assert!(value("modbot_redactions_total") >= Some(1), "{scraped}");
    assert!(value("modbot_requests_total") > Some(2), "{scraped}");
    // Never itself, nor a moderator, nor its own server.
    h.command("ban @modbot:localhost main", "refusing to ban myself")
        .await?;
    h.command(
        &format!("ban {} main", h.moderator.user_id),
        "a member of the management room",
    )
    .await?;
    h.command("ban localhost main", "matches my own server")
        .await?;
    h.finish().await
}

#[tokio::test]
async fn a_glob_rule_bans_a_late_joiner() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.list("main").await?;
    let prefix = unique("late");
    h.command(&format!("ban @{prefix}*:localhost main"), "wildcard ban")
        .await?;
    h.command("confirm", &format!("ban @{prefix}*:localhost"))
        .await?;
    let late = User::register(&prefix).await?;
    join(&late, &room).await?;
    h.wait_membership(&owner, &room, &late.user_id, "ban")
        .await?;
    h.command(
        &format!("rules matching {}", late.user_id),
        &format!("@{prefix}*:localhost"),
    )
    .await?;
    h.finish().await
}

#[tokio::test]
async fn server_rules_make_the_acl() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.list("main").await?;
    h.command("ban evil.example main", "server ACL updated")
        .await?;
    h.command("ban *.bad.example main", "wildcard").await?;
    h.command("confirm", "rule added").await?;
    let want = json!(["*.bad.example", "evil.example"]);
    let acl = eventually(WAIT, "the ACL to deny both servers", || async {
        Ok(get_state(&owner, &room, "m.room.server_acl")
            .await?
            .filter(|acl| acl["deny"] == want))
    })
    .await?;
    assert_eq!(acl["allow"], json!(["*"]));
    assert_eq!(acl["allow_ip_literals"], json!(false));
    h.command("unban evil.example", "removed 1 rule(s)").await?;
    eventually(WAIT, "the ACL to drop evil.example", || async {
        Ok(get_state(&owner, &room, "m.room.server_acl")
            .await?
            .filter(|acl| acl["deny"] == json!(["*.bad.example"]))
            .map(drop))
    })
    .await?;
    // Someone changes the ACL by hand: `sync` puts the rules back.
    put_state(
        &owner,
        &room,
        "m.room.server_acl",
        "",
        json!({"allow": ["*"], "deny": ["other.example"]}),
    )
    .await?;
    h.command("sync", "synced 1 list(s), 1 room(s)").await?;
    eventually(WAIT, "the ACL to be restored", || async {
        Ok(get_state(&owner, &room, "m.room.server_acl")
            .await?
            .filter(|acl| acl["deny"] == json!(["*.bad.example"]))
            .map(drop))
    })
    .await?;
    h.finish().await
}

#[tokio::test]
async fn unban_with_invite_brings_the_user_back() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    let user = User::register("misjudged").await?;
    join(&user, &room).await?;
    h.list("main").await?;
    h.command(&format!("ban {} main rude", user.user_id), "rule added")
        .await?;
    h.wait_membership(&owner, &room, &user.user_id, "ban")
        .await?;
    h.command(
        &format!("unban {} --invite", user.user_id),
        "unbanned in 1 room(s) and invited back",
    )
    .await?;
    h.wait_membership(&owner, &room, &user.user_id, "invite")
        .await?;
    h.command(&format!("rules matching {}", user.user_id), "0 rule(s)")
        .await?;
    h.finish().await
}

/// A list owned by someone else: a stable rule read when watched, a legacy
/// one arriving later through a transaction.
async fn others_list(owner: &User) -> Result<String> {
    owner
        .create_room(json!({"preset": "public_chat", "name": unique("others-list")}))
        .await
}

#[tokio::test]
async fn a_watched_list_of_someone_else_is_enforced() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    let curator = User::register("curator").await?;
    let list = others_list(&curator).await?;
    let (a, b) = (User::register("bad").await?, User::register("worse").await?);
    join(&a, &room).await?;
    join(&b, &room).await?;
    put_state(
        &curator,
        &list,
        "m.policy.rule.user",
        &format!("rule:{}", a.user_id),
        json!({"entity": a.user_id, "recommendation": "m.ban", "reason": "known troll"}),
    )
    .await?;
    h.command(&format!("watch {list}"), &format!("watching {list}"))
        .await?;
    h.wait_membership(&owner, &room, &a.user_id, "ban").await?;
    put_state(
        &curator,
        &list,
        "org.matrix.mjolnir.rule.user",
        "legacy",
        json!({"entity": b.user_id, "recommendation": "org.matrix.mjolnir.ban", "reason": "troll"}),
    )
    .await?;
    h.wait_membership(&owner, &room, &b.user_id, "ban").await?;
    h.finish().await
}

#[tokio::test]
async fn a_restart_keeps_rooms_lists_and_rules() -> Result<()> {
    let mut h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.list("main").await?;
    let curator = User::register("curator").await?;
    let list = others_list(&curator).await?;
    h.command(&format!("watch {list}"), "watching").await?;
    h.command("ban old.example main", "rule added").await?;
    h.stop().await;

    // While the bot is down, the watched list gets a rule and a target joins.
    let target = User::register("whiledown").await?;
    join(&target, &room).await?;
    put_state(
        &curator,
        &list,
        "m.policy.rule.user",
        "rule:x",
        json!({"entity": target.user_id, "recommendation": "m.ban"}),
    )
    .await?;

    h.start().await?;
    h.wait_membership(&owner, &room, &target.user_id, "ban")
        .await?;
    h.command("status", "1 protected room(s), 2 list(s)")
        .await?;
    h.command("rules matching old.example", "1 rule(s)").await?;
    // The owned list still works after the restart.
    let next = User::register("after").await?;
    join(&next, &room).await?;
    h.command(&format!("ban {} main", next.user_id), "rule added")
        .await?;
    h.wait_membership(&owner, &room, &next.user_id, "ban")
        .await?;
    h.finish().await
}

#[tokio::test]
async fn a_room_without_power_is_reported_once_and_others_still_enforced() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let good = h.protected_room(&owner).await?;
    // A room the bot may join but not ban in (no power given).
    let weak = owner
        .create_room(json!({"preset": "public_chat", "name": unique("weak")}))
        .await?;
    h.command(
        &format!("rooms add {weak}"),
        &format!("protecting {weak} — warning: my power level here is 0"),
    )
    .await?;
    h.list("main").await?;
    let (a, b) = (User::register("ta").await?, User::register("tb").await?);
    for u in [&a, &b] {
        join(u, &good).await?;
        join(u, &weak).await?;
    }
    h.command(&format!("ban {} main", a.user_id), "rule added")
        .await?;
    h.wait_membership(&owner, &good, &a.user_id, "ban").await?;
    h.said(&format!("cannot ban {} in {weak}", a.user_id))
        .await?;
    h.command(&format!("ban {} main", b.user_id), "rule added")
        .await?;
    h.wait_membership(&owner, &good, &b.user_id, "ban").await?;
    // The second failure in the same room is held back, not repeated.
    h.command("status", "2 ban(s)").await?;
    let msgs = h.moderator.messages(&h.mgmt).await?;
    let complaints = msgs
        .iter()
        .filter_map(|m| m["content"]["body"].as_str())
        .filter(|b| b.contains("cannot ban") && b.contains(weak.as_str()))
        .count();
    assert_eq!(complaints, 1, "the same error is said once");
    assert_eq!(
        membership(&owner, &weak, &b.user_id).await?.as_deref(),
        Some("join")
    );
    h.finish().await
}

#[tokio::test]
async fn dry_run_says_and_does_nothing() -> Result<()> {
    let h = Harness::with(|c| c.dry_run = true).await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.list("main").await?;
    let u = User::register("spared").await?;
    join(&u, &room).await?;
    h.command(&format!("ban {} main", u.user_id), "rule added")
        .await?;
    h.said(&format!("[dry-run] would ban {} in 1 room(s)", u.user_id))
        .await?;
    assert_eq!(
        membership(&owner, &room, &u.user_id).await?.as_deref(),
        Some("join")
    );
    h.finish().await
}

#[tokio::test]
async fn a_room_rule_stops_the_bot_protecting_or_joining() -> Result<()> {
    let h = Harness::new().await?;
    let bad = h
        .moderator
        .create_room(json!({"preset": "public_chat", "name": unique("banned-room")}))
        .await?;
    h.list("main").await?;
    h.command(&format!("ban {bad} main hate room"), "rule added")
        .await?;
    h.command(&format!("rooms add {bad}"), "banned by a room rule")
        .await?;
    // An invite, even from a moderator, is refused too.
    h.moderator.invite(&bad, &h.bot_id).await?;
    h.said(&format!("refused to join {bad}")).await?;
    h.wait_membership(&h.moderator, &bad, &h.bot_id, "leave")
        .await?;
    h.command("status", "0 protected room(s)").await?;
    h.finish().await
}

#[tokio::test]
async fn kick_redact_help_and_mentions() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    let prefix = unique("kickme");
    let (a, b) = (
        User::register(&prefix).await?,
        User::register("stays").await?,
    );
    join(&a, &room).await?;
    join(&b, &room).await?;
    let ev = b.send_text(&room, "an unfortunate message").await?;
    h.command(
        &format!("kick @{prefix}*:localhost calm down"),
        &format!("kicked 1 member(s) matching @{prefix}*:localhost"),
    )
    .await?;
    h.wait_membership(&owner, &room, &a.user_id, "leave")
        .await?;
    assert_eq!(
        membership(&owner, &room, &b.user_id).await?.as_deref(),
        Some("join")
    );
    h.command(
        &format!("redact https://matrix.to/#/{room}/{ev}"),
        "redacted 1 event(s)",
    )
    .await?;
    eventually(WAIT, "the message to be redacted", || async {
        let msgs = owner.messages(&room).await?;
        Ok(msgs
            .iter()
            .find(|m| m["event_id"] == ev.as_str())
            .filter(|m| m["content"].as_object().is_some_and(|c| c.is_empty()))
            .map(drop))
    })
    .await?;
    h.command("help", "unban <entity> [--invite]").await?;
    h.moderator.send_text(&h.mgmt, "modbot: rooms").await?;
    h.said("1 protected room(s)").await?;
    h.command("frobnicate", "unknown command `!mod frobnicate`")
        .await?;
    h.finish().await
}
