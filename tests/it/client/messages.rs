//! Messages, timeline, relations and peeking against the real Synapse.

use ghostkit::client::relations::{RelationsQuery, ThreadsQuery};
use ghostkit::client::rooms::{CreateRoom, InitialStateEvent, RoomPreset};
use ghostkit::client::timeline::{Direction, MessagesQuery};
use serde_json::json;

use crate::client::{client, ghost_id};

#[tokio::test]
async fn ts_massaged_sends_paginate_both_ways_and_keep_their_timestamp() -> anyhow::Result<()> {
    let client = client();
    let bot = client.as_bot();
    let room = bot
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PublicChat),
            ..Default::default()
        })
        .await?;
    let ghost_id = ghost_id("importer");
    let ghost = client.as_user(&ghost_id)?;
    ghost.register().await?;
    ghost.join_room((&*room).into(), &[]).await?;

    // 25 imported messages, one second apart, a day ago.
    let base: u64 = 1_700_000_000_000;
    let mut sent = Vec::new();
    for i in 0..25u64 {
        let id = ghost
            .clone()
            .with_ts(base + i * 1000)
            .send_text(&room, &format!("imported {i}"))
            .await?;
        sent.push(id);
    }
    let one = bot.event(&room, &sent[3]).await?;
    assert_eq!(one.origin_server_ts, base + 3000, "the ts was kept");
    assert_eq!(one.sender, ghost_id);
    assert_eq!(one.body(), Some("imported 3"));

    // Backwards, 10 at a time, from the newest.
    let mut query = MessagesQuery {
        limit: Some(10),
        filter: Some(json!({"types": ["m.room.message"]})),
        ..Default::default()
    };
    let mut backwards = Vec::new();
    loop {
        let page = bot.messages(&room, &query).await?;
        backwards.extend(page.chunk.into_iter().map(|e| e.event_id));
        match page.end {
            Some(end) if backwards.len() < 100 => query.from = Some(end),
            _ => break,
        }
    }
    let mut expected = sent.clone();
    expected.reverse();
    assert_eq!(backwards, expected);

    // Forwards from the start of the room.
    let mut query = MessagesQuery {
        dir: Direction::Forward,
        limit: Some(7),
        filter: Some(json!({"types": ["m.room.message"]})),
        ..Default::default()
    };
    let mut forwards = Vec::new();
    loop {
        let page = bot.messages(&room, &query).await?;
        if page.chunk.is_empty() {
            break;
        }
        forwards.extend(page.chunk.into_iter().map(|e| e.event_id));
        match page.end {
            Some(end) if forwards.len() < 100 => query.from = Some(end),
            _ => break,
        }
    }
    assert_eq!(forwards, sent);

    // Context and timestamp_to_event.
    let ctx = bot.context(&room, &sent[10], Some(4)).await?;
    assert_eq!(ctx.event.map(|e| e.event_id).as_ref(), Some(&sent[10]));
    assert!(!ctx.events_before.is_empty() && !ctx.events_after.is_empty());
    let found = bot
        .timestamp_to_event(&room, base + 10_000, Direction::Forward)
        .await?;
    assert_eq!(found.event_id, sent[10]);
    assert_eq!(found.origin_server_ts, base + 10_000);
    Ok(())
}

#[tokio::test]
async fn formatted_replies_edits_reactions_threads_and_redactions() -> anyhow::Result<()> {
    let client = client();
    let ghost = client.as_user(&ghost_id("talker"))?;
    ghost.register().await?;
    let room = ghost
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            ..Default::default()
        })
        .await?;

    let html = ghost.send_html(&room, "bold", "<b>bold</b>").await?;
    let ev = ghost.event(&room, &html).await?;
    assert_eq!(ev.content["formatted_body"], "<b>bold</b>");
    let emote = ghost.send_emote(&room, "waves").await?;
    assert_eq!(
        ghost.event(&room, &emote).await?.content["msgtype"],
        "m.emote"
    );
    let notice = ghost.send_notice(&room, "note").await?;
    assert_eq!(
        ghost.event(&room, &notice).await?.content["msgtype"],
        "m.notice"
    );

    let reply = ghost.send_reply(&room, &html, "a reply").await?;
    let ev = ghost.event(&room, &reply).await?;
    assert_eq!(
        ev.content["m.relates_to"]["m.in_reply_to"]["event_id"],
        html.as_str()
    );

    let edit = ghost.send_edit(&room, &html, "bolder").await?;
    let reaction = ghost.react(&room, &html, "👍").await?;
    let in_thread = ghost.send_in_thread(&room, &html, "thread reply").await?;

    let edits = ghost
        .relations(
            &room,
            &html,
            &RelationsQuery {
                rel_type: Some("m.replace".into()),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(
        edits.chunk.iter().map(|e| &e.event_id).collect::<Vec<_>>(),
        vec![&edit]
    );
    let reactions = ghost
        .relations(
            &room,
            &html,
            &RelationsQuery {
                rel_type: Some("m.annotation".into()),
                event_type: Some("m.reaction".into()),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(reactions.chunk[0].event_id, reaction);
    assert_eq!(reactions.chunk[0].content["m.relates_to"]["key"], "👍");
    let all = ghost
        .relations(&room, &html, &RelationsQuery::default())
        .await?;
    assert!(all.chunk.iter().any(|e| e.event_id == in_thread));
    let threads = ghost.threads(&room, &ThreadsQuery::default()).await?;
    assert_eq!(
        threads
            .chunk
            .iter()
            .map(|e| &e.event_id)
            .collect::<Vec<_>>(),
        vec![&html]
    );

    let redaction = ghost.redact(&room, &notice, Some("oops")).await?;
    assert_ne!(redaction, notice);
    let redacted = ghost.event(&room, &notice).await?;
    assert!(
        redacted.content.get("body").is_none(),
        "{:?}",
        redacted.content
    );
    Ok(())
}

#[tokio::test]
async fn peeking_with_room_initial_sync() -> anyhow::Result<()> {
    let client = client();
    let bot = client.as_bot();
    let room = bot
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PublicChat),
            initial_state: vec![InitialStateEvent::new(
                "m.room.history_visibility",
                "",
                json!({"history_visibility": "world_readable"}),
            )],
            ..Default::default()
        })
        .await?;
    bot.send_text(&room, "visible to peekers").await?;

    // A ghost that never joined reads the room.
    let peeker = client.as_user(&ghost_id("peeker"))?;
    peeker.register().await?;
    let snapshot = peeker.room_initial_sync(&room).await?;
    assert_eq!(snapshot.room_id, room);
    assert_ne!(snapshot.membership.as_deref(), Some("join"));
    let messages = snapshot.messages.expect("messages in the snapshot");
    assert!(messages
        .chunk
        .iter()
        .any(|e| e.body() == Some("visible to peekers")));
    assert!(snapshot
        .state
        .iter()
        .any(|e| e.event_type == "m.room.create"));

    // Members and state, as the bot.
    let members = bot.members(&room, &Default::default()).await?;
    assert_eq!(members.len(), 1);
    let state = bot.state(&room).await?;
    assert!(state.iter().any(|e| e.event_type == "m.room.power_levels"));
    Ok(())
}
