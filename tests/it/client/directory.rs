//! Aliases and the room directory against the real Synapse.

use ghostkit::client::directory::{PublicRoomsQuery, Visibility};
use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::ruma::common::OwnedRoomAliasId;

use crate::client::{client, ghost_id, unique};

#[tokio::test]
async fn aliases_and_directory_visibility() -> anyhow::Result<()> {
    let client = client();
    let ghost = client.as_user(&ghost_id("dir"))?;
    ghost.register().await?;
    let name = unique("Directory room ");
    let room = ghost
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PublicChat),
            name: Some(name.clone()),
            ..Default::default()
        })
        .await?;

    // Aliases, as the ghost and as the bot.
    let alias = OwnedRoomAliasId::try_from(format!("#_client_{}:localhost", unique("a")))?;
    ghost.create_alias(&alias, &room).await?;
    let resolved = client.as_bot().resolve_alias(&alias).await?;
    assert_eq!(resolved.room_id, room);
    assert!(resolved.servers.contains(&"localhost".to_string()));
    assert!(ghost.room_aliases(&room).await?.contains(&alias));
    let joined = client.as_bot().join_room((&*alias).into(), &[]).await?;
    assert_eq!(joined, room);
    ghost.delete_alias(&alias).await?;
    let gone = client.as_bot().resolve_alias(&alias).await.unwrap_err();
    assert_eq!(gone.errcode(), Some("M_NOT_FOUND"));

    // The server's directory: this Synapse's `room_list_publication_rules`
    // forbid publishing, so only unpublishing is exercised here.
    assert_eq!(
        ghost.directory_visibility(&room).await?,
        Visibility::Private
    );
    ghost
        .set_directory_visibility(&room, Visibility::Private)
        .await?;
    assert_eq!(
        ghost.directory_visibility(&room).await?,
        Visibility::Private
    );

    // Searching, in the appservice's network directory.
    let network = unique("search");
    let instance = client.network_instance_id(&network);
    ghost
        .publish_to_network(&network, &room, Visibility::Public)
        .await?;
    let search = |term: String| PublicRoomsQuery {
        search: Some(term),
        third_party_instance_id: Some(instance.clone()),
        ..Default::default()
    };
    let found = client.as_bot().public_rooms(&search(name.clone())).await?;
    assert_eq!(found.chunk.len(), 1, "{:?}", found.chunk);
    assert_eq!(found.chunk[0].room_id, room);
    assert_eq!(found.chunk[0].num_joined_members, 2);
    let other = client
        .as_bot()
        .public_rooms(&search(unique("nothing ")))
        .await?;
    assert!(other.chunk.is_empty());
    let all = client
        .as_bot()
        .public_rooms(&PublicRoomsQuery {
            include_all_networks: true,
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    assert!(all.chunk.iter().any(|r| r.room_id == room));
    ghost
        .publish_to_network(&network, &room, Visibility::Private)
        .await?;
    let found = client.as_bot().public_rooms(&search(name)).await?;
    assert!(found.chunk.is_empty());
    Ok(())
}
