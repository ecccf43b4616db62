//! Rooms against the real Synapse: create as a ghost, publish to the
//! appservice's network directory, moderate a real user, leave and forget,
//! knock, upgrade.

use ghostkit::client::directory::{PublicRoomsQuery, Visibility};
use ghostkit::client::rooms::{CreateRoom, InitialStateEvent, RoomPreset};
use ghostkit::client::AsUser;
use ghostkit::ruma::common::{RoomId, UserId};
use serde_json::{json, Value};

use crate::client::{bot_id, client, ghost_id, unique, RealUser};

async fn membership(as_: &AsUser, room: &RoomId, user: &UserId) -> Option<String> {
    let v: Option<Value> = as_
        .state_event_opt(room, "m.room.member", user.as_str())
        .await
        .expect("member state readable");
    v.and_then(|v| v["membership"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_ghost_creates_publishes_and_moderates_a_room() -> anyhow::Result<()> {
    let client = client();
    let owner = ghost_id("owner");
    let ghost = client.as_user(&owner)?;
    ghost.register().await?;
    ghost.register().await?; // M_USER_IN_USE is success
    let alice = RealUser::register("alice").await?;
    let name = unique("Ghost room ");

    let room = ghost
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PublicChat),
            name: Some(name.clone()),
            topic: Some("first topic".into()),
            invite: vec![alice.user_id.clone()],
            room_version: Some("11".into()),
            initial_state: vec![InitialStateEvent::new(
                "m.room.history_visibility",
                "",
                json!({"history_visibility": "world_readable"}),
            )],
            power_level_content_override: Some(json!({
                "users": { owner.as_str(): 100, bot_id().as_str(): 90 }
            })),
            ..Default::default()
        })
        .await?;

    let create: Value = ghost.state_event(&room, "m.room.create", "").await?;
    assert_eq!(create["room_version"], "11");
    let pl = ghost.power_levels(&room).await?;
    assert_eq!(pl["users"][bot_id().as_str()], 90);
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("invite")
    );

    // The appservice's network directory.
    let network = unique("net");
    ghost
        .publish_to_network(&network, &room, Visibility::Public)
        .await?;
    let listed = ghost
        .public_rooms(&PublicRoomsQuery {
            third_party_instance_id: Some(client.network_instance_id(&network)),
            ..Default::default()
        })
        .await?;
    let entry = listed
        .chunk
        .iter()
        .find(|r| r.room_id == room)
        .expect("room listed in the network's directory");
    assert_eq!(entry.name.as_deref(), Some(name.as_str()));
    assert!(entry.world_readable);

    // Topic.
    ghost.set_topic(&room, "second topic").await?;
    let topic: Value = ghost.state_event(&room, "m.room.topic", "").await?;
    assert_eq!(topic["topic"], "second topic");

    // Moderating a real user.
    alice.join(&room).await?;
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("join")
    );
    ghost
        .kick(&room, &alice.user_id, Some("testing kicks"))
        .await?;
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("leave")
    );
    alice.join(&room).await?;
    ghost
        .ban(&room, &alice.user_id, Some("testing bans"))
        .await?;
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("ban")
    );
    assert!(
        alice.join(&room).await.is_err(),
        "a banned user cannot join"
    );
    ghost.unban(&room, &alice.user_id, None).await?;
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("leave")
    );
    ghost.invite(&room, &alice.user_id, None).await?;
    assert_eq!(
        membership(&ghost, &room, &alice.user_id).await.as_deref(),
        Some("invite")
    );

    // The bot joins by ID; the ghost leaves and forgets.
    client
        .as_bot()
        .join_room((&*room).into(), &["localhost"])
        .await?;
    assert!(client.as_bot().joined_rooms().await?.contains(&room));
    ghost.leave(&room, Some("bye")).await?;
    ghost.forget(&room).await?;
    assert!(!ghost.joined_rooms().await?.contains(&room));
    assert_eq!(
        membership(&client.as_bot(), &room, &owner).await.as_deref(),
        Some("leave")
    );
    Ok(())
}

#[tokio::test]
async fn knocking_and_upgrades() -> anyhow::Result<()> {
    let client = client();
    let bot = client.as_bot();
    let room = bot
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            room_version: Some("10".into()),
            initial_state: vec![InitialStateEvent::new(
                "m.room.join_rules",
                "",
                json!({"join_rule": "knock"}),
            )],
            ..Default::default()
        })
        .await?;
    let knocker = client.as_user(&ghost_id("knocker"))?;
    knocker.register().await?;
    let knocked = knocker
        .knock((&*room).into(), &["localhost"], Some("let me in"))
        .await?;
    assert_eq!(knocked, room);
    assert_eq!(
        membership(&bot, &room, knocker.user_id().unwrap())
            .await
            .as_deref(),
        Some("knock")
    );

    // Upgrade notice: the old room's tombstone points to the new room.
    assert_eq!(bot.tombstone(&room).await?, None);
    let new_room = bot.upgrade_room(&room, "11").await?;
    let tombstone = bot
        .tombstone(&room)
        .await?
        .expect("tombstone after upgrade");
    assert_eq!(tombstone.replacement_room, new_room);
    assert_eq!(bot.follow_upgrades(&room).await?, new_room);
    Ok(())
}
