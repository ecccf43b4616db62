//! Modbot's protections against the real Synapse.

use anyhow::Result;

use crate::common::{eventually, User};
use crate::modbot::{join, Harness, WAIT};

#[tokio::test]
async fn flooding_bans_and_redacts() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.command(
        &format!("config set flooding max_messages 3 --room {room}"),
        &format!("flooding.max_messages = 3 in {room}"),
    )
    .await?;
    h.command("config set flooding seconds 60", "flooding.seconds = 60")
        .await?;
    h.command("enable flooding", "flooding enabled everywhere")
        .await?;
    let flooder = User::register("flooder").await?;
    join(&flooder, &room).await?;
    let mut sent = Vec::new();
    for i in 0..4 {
        sent.push(flooder.send_text(&room, &format!("flood {i}")).await?);
    }
    h.wait_membership(&owner, &room, &flooder.user_id, "ban")
        .await?;
    eventually(WAIT, "the flood to be redacted", || async {
        let msgs = owner.messages(&room).await?;
        let redacted = msgs
            .iter()
            .filter(|m| sent.iter().any(|s| m["event_id"] == s.as_str()))
            .filter(|m| m["content"].as_object().is_some_and(|c| c.is_empty()))
            .count();
        Ok((redacted == sent.len()).then_some(()))
    })
    .await?;
    h.finish().await
}

#[tokio::test]
async fn a_join_wave_closes_the_room() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.command(
        "config set join-wave max_joins 2",
        "join-wave.max_joins = 2",
    )
    .await?;
    h.command(
        &format!("enable join-wave --room {room}"),
        "join-wave enabled in",
    )
    .await?;
    for _ in 0..3 {
        join(&User::register("wave").await?, &room).await?;
    }
    h.said(&format!("join wave in {room}")).await?;
    eventually(WAIT, "the room to be invite-only", || async {
        let jr = crate::modbot::get_state(&owner, &room, "m.room.join_rules").await?;
        Ok(jr.filter(|j| j["join_rule"] == "invite").map(drop))
    })
    .await?;
    h.finish().await
}

#[tokio::test]
async fn word_list_bans_a_new_joiner() -> Result<()> {
    let h = Harness::new().await?;
    let owner = User::register("owner").await?;
    let room = h.protected_room(&owner).await?;
    h.command(
        "config set word-list words cheap pills, casino",
        "word-list.words = cheap pills, casino",
    )
    .await?;
    h.command("enable word-list", "word-list enabled").await?;
    h.command("enable first-message", "first-message enabled")
        .await?;
    let linker = User::register("linker").await?;
    join(&linker, &room).await?;
    let link = linker.send_text(&room, "see https://spam.example").await?;
    let newbie = User::register("newbie").await?;
    join(&newbie, &room).await?;
    newbie.send_text(&room, "hello").await?;
    newbie.send_text(&room, "Best CASINO in town").await?;
    h.wait_membership(&owner, &room, &newbie.user_id, "ban")
        .await?;
    eventually(WAIT, "the link to be redacted", || async {
        let msgs = owner.messages(&room).await?;
        Ok(msgs
            .iter()
            .find(|m| m["event_id"] == link.as_str())
            .filter(|m| m["content"].as_object().is_some_and(|c| c.is_empty()))
            .map(drop))
    })
    .await?;
    h.finish().await
}
