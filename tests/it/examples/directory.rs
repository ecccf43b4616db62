//! examples/directory against the real Synapse: joining an alias of the
//! namespace makes the room, published in the appservice's directory; a user
//! of the namespace is registered when the homeserver asks about it.

use std::time::Duration;

use anyhow::Result;
use ghostkit::client::directory::PublicRoomsQuery;
use serde_json::json;

use crate::common::{enc, eventually, unique, User};
use crate::examples::start_example;

/// The tests of this module share the registration's port: one at a time.
static PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn joining_an_alias_makes_and_publishes_the_room() -> Result<()> {
    let _port = PORT.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("directory", directory::handler(), store.path()).await?;
    let result = async {
        let alice = User::register("dir").await?;
        let name = unique("r");
        let alias = format!("#_dir_{name}:localhost");
        let joined = alice
            .call(
                reqwest::Method::POST,
                &format!("/_matrix/client/v3/join/{}", enc(&alias)),
                Some(json!({})),
            )
            .await?;
        let room = joined["room_id"].as_str().unwrap_or_default().to_owned();
        assert!(room.starts_with('!'), "{joined}");
        let members = alice.joined_members(&room).await?;
        assert!(members["joined"].get(&alice.user_id).is_some());

        let client = running.app().client();
        let listed = client
            .as_bot()
            .public_rooms(&PublicRoomsQuery {
                third_party_instance_id: Some(client.network_instance_id(directory::NETWORK)),
                limit: Some(1000),
                ..Default::default()
            })
            .await?;
        let entry = listed
            .chunk
            .iter()
            .find(|r| r.room_id.as_str() == room)
            .ok_or_else(|| anyhow::anyhow!("{room} not in the network directory"))?;
        assert_eq!(entry.name.as_deref(), Some(name.as_str()));

        // Joining again finds the same room: no second query, no second room.
        let again = alice
            .call(
                reqwest::Method::POST,
                &format!("/_matrix/client/v3/join/{}", enc(&alias)),
                Some(json!({})),
            )
            .await?;
        assert_eq!(again["room_id"], room.as_str());
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}

#[tokio::test]
async fn a_user_of_the_namespace_is_made_when_asked_about() -> Result<()> {
    let _port = PORT.lock().await;
    let store = tempfile::tempdir()?;
    let running = start_example("directory", directory::handler(), store.path()).await?;
    let result = async {
        let alice = User::register("dirq").await?;
        let room = alice
            .create_room(json!({ "preset": "private_chat" }))
            .await?;
        let name = unique("g");
        let ghost = format!("@_dir_{name}:localhost");
        alice.invite(&room, &ghost).await?;
        let profile = eventually(Duration::from_secs(30), "the ghost's profile", || async {
            Ok(alice
                .call(
                    reqwest::Method::GET,
                    &format!("/_matrix/client/v3/profile/{}", enc(&ghost)),
                    None,
                )
                .await
                .ok()
                .filter(|p| p["displayname"] == name.as_str()))
        })
        .await?;
        assert_eq!(profile["displayname"], name.as_str());
        anyhow::Ok(())
    }
    .await;
    running.stop().await;
    result
}
