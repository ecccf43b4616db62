//! Users against the real Synapse: whoami, profiles, presence, typing,
//! receipts and read markers, account data, joined rooms.

use std::time::Duration;

use ghostkit::client::account::Presence;
use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use serde_json::{json, Value};

use crate::client::{bot_id, client, ghost_id, unique};

#[tokio::test]
async fn whoami_as_the_bot_and_as_a_ghost() -> anyhow::Result<()> {
    let client = client();
    assert_eq!(client.as_bot().whoami().await?.user_id, bot_id().as_str());
    let id = ghost_id("who");
    let ghost = client.as_user(&id)?;
    ghost.register().await?;
    assert_eq!(ghost.whoami().await?.user_id, id.as_str());
    Ok(())
}

#[tokio::test]
async fn profiles_global_and_per_room() -> anyhow::Result<()> {
    let client = client();
    let id = ghost_id("profile");
    let ghost = client.as_user(&id)?;
    ghost.register().await?;
    let room = ghost
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            ..Default::default()
        })
        .await?;

    let name = unique("Ghost ");
    ghost.set_display_name(&name).await?;
    assert_eq!(
        ghost.display_name(&id).await?.as_deref(),
        Some(name.as_str())
    );
    ghost.set_avatar_url("mxc://localhost/avatar1").await?;
    let profile = client.as_bot().profile(&id).await?;
    assert_eq!(profile.displayname.as_deref(), Some(name.as_str()));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("mxc://localhost/avatar1")
    );
    assert_eq!(
        client.as_bot().avatar_url(&id).await?.as_deref(),
        Some("mxc://localhost/avatar1")
    );

    ghost.set_room_display_name(&room, "only here").await?;
    ghost
        .set_room_avatar_url(&room, "mxc://localhost/avatar2")
        .await?;
    let members = ghost.joined_members(&room).await?;
    let me = &members[&id];
    assert_eq!(me.display_name.as_deref(), Some("only here"));
    assert_eq!(me.avatar_url.as_deref(), Some("mxc://localhost/avatar2"));
    // The global profile is unchanged.
    assert_eq!(
        ghost.display_name(&id).await?.as_deref(),
        Some(name.as_str())
    );

    // The bot's profile too.
    let bot_name = unique("Bot ");
    client.as_bot().set_display_name(&bot_name).await?;
    assert_eq!(
        client.as_bot().display_name(&bot_id()).await?.as_deref(),
        Some(bot_name.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn presence_typing_receipts_markers_and_account_data() -> anyhow::Result<()> {
    let client = client();
    let id = ghost_id("busy");
    let ghost = client.as_user(&id)?;
    ghost.register().await?;
    let room = ghost
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            ..Default::default()
        })
        .await?;
    let ev = ghost.send_text(&room, "read me").await?;

    ghost
        .set_presence(Presence::Online, Some("bridging"))
        .await?;
    // Only users sharing a room may see presence: read it as the ghost.
    let p = ghost.presence(&id).await?;
    assert_eq!(p.presence, Presence::Online);
    assert_eq!(p.status_msg.as_deref(), Some("bridging"));

    ghost
        .set_typing(&room, true, Some(Duration::from_secs(5)))
        .await?;
    ghost.set_typing(&room, false, None).await?;
    ghost.send_receipt(&room, &ev, "m.read").await?;
    ghost.set_read_markers(&room, &ev, Some(&ev), None).await?;
    let fully_read: Option<Value> = ghost.room_account_data(&room, "m.fully_read").await?;
    assert_eq!(fully_read.unwrap()["event_id"], ev.as_str());

    let kind = unique("org.ghostkit.test.");
    assert_eq!(ghost.account_data::<Value>(&kind).await?, None);
    ghost.set_account_data(&kind, &json!({"n": 1})).await?;
    assert_eq!(
        ghost.account_data::<Value>(&kind).await?,
        Some(json!({"n": 1}))
    );
    ghost
        .set_room_account_data(&room, &kind, &json!({"n": 2}))
        .await?;
    assert_eq!(
        ghost.room_account_data::<Value>(&room, &kind).await?,
        Some(json!({"n": 2}))
    );
    // The bot's account data is its own.
    assert_eq!(client.as_bot().account_data::<Value>(&kind).await?, None);

    assert!(ghost.joined_rooms().await?.contains(&room));
    Ok(())
}
