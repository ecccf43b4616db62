//! Modbot against attacks by room members, on the real Synapse: a watched
//! list that bans everyone with one wildcard rule, and members of the
//! management room without the power to command the bot.

use anyhow::Result;
use serde_json::json;

use crate::common::{unique, User};
use crate::modbot::{join, membership, put_state, set_power, Harness};

#[tokio::test]
async fn wildcard_rules_of_a_watched_list_wait_for_confirmation() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    let prefix = unique("crowd");
    let mut crowd = Vec::new();
    for _ in 0..6 {
        let u = User::register(&prefix).await?;
        join(&u, &room).await?;
        crowd.push(u);
    }
    let bystander = User::register("bystander").await?;
    join(&bystander, &room).await?;
    // A list curated by someone else, with a rule that bans everyone here.
    let curator = User::register("curator").await?;
    let list = curator
        .create_room(json!({"preset": "public_chat", "name": unique("hostile-list")}))
        .await?;
    let rule = |entity: &str| json!({"entity": entity, "recommendation": "m.ban", "reason": "all"});
    put_state(
        &curator,
        &list,
        "m.policy.rule.user",
        "rule:all",
        rule("@*:localhost"),
    )
    .await?;
    let crowd_glob = format!("@{prefix}*:localhost");
    put_state(
        &curator,
        &list,
        "m.policy.rule.user",
        "rule:crowd",
        rule(&crowd_glob),
    )
    .await?;

    h.command(&format!("watch {list}"), &format!("watching {list}"))
        .await?;
    let notice = h
        .said(&format!("not applied: the rule `{crowd_glob}`"))
        .await?;
    assert!(
        notice.contains("would ban 6 member(s) in 1 room(s)")
            && notice.contains("more than confirm_above_members (5)")
            && notice.contains("a wildcard over our own server localhost")
            && notice.contains(&format!("say `!mod confirm {crowd_glob}`")),
        "{notice}"
    );
    h.said("not applied: the rule `@*:localhost`").await?;
    // "watching" comes after everything was enforced: nobody was banned.
    for u in crowd.iter().chain([&bystander, &owner]) {
        assert_eq!(
            membership(&owner, &room, &u.user_id).await?.as_deref(),
            Some("join"),
            "{} is still in the room",
            u.user_id
        );
    }
    h.command("status", "2 waiting for confirmation").await?;
    h.command("confirm", "2 rules wait for confirmation")
        .await?;

    // A rule arriving later by a transaction is held too.
    let late = User::register("late").await?;
    join(&late, &room).await?;
    put_state(
        &curator,
        &list,
        "m.policy.rule.user",
        "rule:late",
        rule("@late*:localhost"),
    )
    .await?;
    h.said("not applied: the rule `@late*:localhost`").await?;
    assert_eq!(
        membership(&owner, &room, &late.user_id).await?.as_deref(),
        Some("join")
    );

    // Confirmed, the crowd rule is applied, and only it.
    h.command(&format!("confirm {crowd_glob}"), "confirmed and applied")
        .await?;
    for u in &crowd {
        h.wait_membership(&owner, &room, &u.user_id, "ban").await?;
    }
    assert_eq!(
        membership(&owner, &room, &bystander.user_id)
            .await?
            .as_deref(),
        Some("join")
    );
    h.command(&format!("rules matching {}", crowd[0].user_id), "1 rule(s)")
        .await?;
    h.finish().await
}

#[tokio::test]
async fn members_without_power_cannot_command_the_bot() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.list("main").await?;
    let victim = User::register("victim").await?;
    join(&victim, &room).await?;
    // Someone the moderators let into the management room, at power 0.
    let intruder = User::register("intruder").await?;
    h.moderator.invite(&h.mgmt, &intruder.user_id).await?;
    join(&intruder, &h.mgmt).await?;

    intruder
        .send_text(&h.mgmt, &format!("!mod ban {} main", victim.user_id))
        .await?;
    h.said(&format!(
        "✗ {}: commands need power level 50 in this room, you have 0",
        intruder.user_id
    ))
    .await?;
    intruder.send_text(&h.mgmt, "!mod help").await?;
    // Its invites are not followed either.
    let elsewhere = intruder
        .create_room(json!({"preset": "private_chat", "name": unique("elsewhere")}))
        .await?;
    intruder.invite(&elsewhere, &h.bot_id).await?;
    h.said(&format!(
        "ignored an invite to {elsewhere} from {}, who may not command me",
        intruder.user_id
    ))
    .await?;
    h.command(&format!("rules matching {}", victim.user_id), "0 rule(s)")
        .await?;
    assert_eq!(
        membership(&owner, &room, &victim.user_id).await?.as_deref(),
        Some("join")
    );
    let msgs = h.moderator.messages(&h.mgmt).await?;
    let refusals = msgs
        .iter()
        .filter(|m| m["sender"] == h.bot_id.as_str())
        .filter_map(|m| m["content"]["body"].as_str())
        .filter(|b| b.starts_with(&format!("✗ {}:", intruder.user_id)))
        .count();
    assert_eq!(refusals, 2, "each command gets a short refusal, help too");

    // Given the power level, the same member is obeyed.
    set_power(&h.moderator, &h.mgmt, &intruder.user_id, 50).await?;
    intruder.send_text(&h.mgmt, "!mod status").await?;
    h.said("1 protected room(s)").await?;
    h.finish().await
}
