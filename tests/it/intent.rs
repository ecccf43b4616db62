//! Intents: preconditions made true once, remembered on disk, fed by
//! transactions; against the fake homeserver (request counts) and Synapse.

use ghostkit::client::rooms::{CreateRoom, RoomPreset};
use ghostkit::event::{Event, EventKind};
use ghostkit::ruma::common::{room_id, user_id, RoomId, UserId};
use ghostkit::testing::{FakeHomeserver, FakeReply};
use ghostkit::{AppContext, Client, Intent, IntentError, Store};
use serde_json::json;

use crate::client::{client, ghost_id, membership_of, registration};

fn fake_client(hs: &FakeHomeserver) -> Client {
    let c = Client::new(&hs.url(), registration()).unwrap();
    c.set_server_name(ghostkit::ruma::common::server_name!("localhost"));
    c
}

fn member_event(room: &RoomId, user: &UserId, membership: &str) -> Event {
    let raw = serde_json::value::to_raw_value(&json!({
        "type": "m.room.member",
        "event_id": "$m",
        "room_id": room,
        "sender": user,
        "state_key": user,
        "content": { "membership": membership },
    }))
    .unwrap();
    Event::from_raw(EventKind::Timeline, &raw).unwrap()
}

#[tokio::test]
async fn a_warm_ensure_joined_makes_no_request_even_after_a_restart() -> anyhow::Result<()> {
    let hs = FakeHomeserver::start().await?;
    let client = fake_client(&hs);
    let dir = tempfile::tempdir()?;
    let room = room_id!("!warm:localhost");
    let ghost = user_id!("@_client_warm:localhost");
    {
        let store = Store::open(dir.path())?;
        let intent = Intent::new(&client, &store, ghost)?;
        intent.ensure_joined(room).await?;
        assert_eq!(hs.requests_to("/register").len(), 1);
        assert_eq!(hs.requests_to("/join/").len(), 1);
        let before = hs.request_count();
        intent.ensure_joined(room).await?;
        intent.ensure_registered().await?;
        assert_eq!(hs.request_count(), before, "warm cache: no request");
        store.flush().await?;
    }
    let store = Store::open(dir.path())?;
    let before = hs.request_count();
    let intent = Intent::new(&client, &store, ghost)?;
    intent.ensure_joined(room).await?;
    intent.ensure_registered().await?;
    assert_eq!(hs.request_count(), before, "after a restart: no request");
    hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn memberships_from_transactions_feed_the_cache() -> anyhow::Result<()> {
    let hs = FakeHomeserver::start().await?;
    let client = fake_client(&hs);
    let store = Store::temporary()?;
    let app = AppContext::new(
        client.clone(),
        store.clone(),
        registration(),
        ghostkit::ruma::common::server_name!("localhost").to_owned(),
    )?;
    let room = room_id!("!fed:localhost");
    let ghost = user_id!("@_client_fed:localhost");

    app.observe(&member_event(room, ghost, "join")).await;
    // Someone else's membership is not ours to remember.
    app.observe(&member_event(room, user_id!("@alice:localhost"), "join"))
        .await;
    let intent = app.intent(ghost)?;
    intent.ensure_joined(room).await?;
    assert_eq!(hs.request_count(), 0);
    assert_eq!(
        intent
            .cache()
            .membership(room, user_id!("@alice:localhost"))
            .await?,
        None
    );

    // Kicked (seen in a transaction): the next ensure_joined joins again.
    app.observe(&member_event(room, ghost, "leave")).await;
    intent.ensure_joined(room).await?;
    assert_eq!(hs.requests_to("/join/").len(), 1);

    // The bot's own intent.
    let bot = app.intent_for_bot()?;
    assert_eq!(bot.user_id().as_str(), "@gk_client:localhost");
    bot.ensure_registered().await?;
    assert!(
        hs.requests_to("/register").len() <= 1,
        "the bot is never registered"
    );
    hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_refused_join_is_fixed_by_a_bot_invite_but_a_ban_is_not_lifted() -> anyhow::Result<()> {
    let hs = FakeHomeserver::start().await?;
    let client = fake_client(&hs);
    let store = Store::temporary()?;
    let room = room_id!("!closed:localhost");
    let ghost = user_id!("@_client_closed:localhost");

    hs.script(
        "/join/",
        [FakeReply::error(403, "M_FORBIDDEN", "not invited")],
    );
    Intent::new(&client, &store, ghost)?
        .ensure_joined(room)
        .await?;
    let steps: Vec<(String, Option<String>)> = hs
        .requests()
        .iter()
        .filter(|r| !r.path.ends_with("/register"))
        .map(|r| {
            (
                r.path.rsplit('/').next().unwrap_or("").to_owned(),
                r.query_value("user_id").map(str::to_owned),
            )
        })
        .collect();
    let ghost_q = Some(ghost.to_string());
    let bot_q = Some("@gk_client:localhost".to_string());
    assert_eq!(
        steps,
        vec![
            (
                room.as_str().replace('!', "%21").replace(':', "%3A"),
                ghost_q.clone()
            ),
            (
                room.as_str().replace('!', "%21").replace(':', "%3A"),
                bot_q.clone()
            ),
            ("%40_client_closed%3Alocalhost".into(), bot_q.clone()),
            ("invite".into(), bot_q),
            (
                room.as_str().replace('!', "%21").replace(':', "%3A"),
                ghost_q
            ),
        ]
    );

    hs.reset();
    let banned_room = room_id!("!banned:localhost");
    hs.script("/join/", [FakeReply::error(403, "M_FORBIDDEN", "banned")]);
    hs.script(
        "/state/m.room.member/",
        [FakeReply::ok(json!({"membership": "ban"}))],
    );
    let err = Intent::new(&client, &store, ghost)?
        .ensure_joined(banned_room)
        .await
        .unwrap_err();
    assert!(matches!(err, IntentError::Banned { .. }), "{err:?}");
    assert!(err.to_string().contains("banned"));
    assert!(hs.requests_to("/invite").is_empty());
    assert!(hs.requests_to("/unban").is_empty());
    hs.stop().await;
    Ok(())
}

#[tokio::test]
async fn intents_against_synapse() -> anyhow::Result<()> {
    let client = client();
    let store = Store::temporary()?;
    let app = AppContext::new(
        client.clone(),
        store.clone(),
        registration(),
        ghostkit::ruma::common::server_name!("localhost").to_owned(),
    )?;
    let room = client
        .as_bot()
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            ..Default::default()
        })
        .await?;

    // Invite-only room: the ghost is registered, invited by the bot, and joins.
    let id = ghost_id("intent");
    let ghost = app.intent(&id)?;
    ghost.ensure_joined(&room).await?;
    assert_eq!(
        membership_of(&client, &room, &id).await.as_deref(),
        Some("join")
    );
    ghost.ensure_display_name("Intent Ghost").await?;
    assert_eq!(
        client.as_bot().display_name(&id).await?.as_deref(),
        Some("Intent Ghost")
    );
    ghost.send_text(&room, "hello through an intent").await?;

    // Banned: reported, not undone.
    let banned_id = ghost_id("banned");
    let banned = app.intent(&banned_id)?;
    banned.ensure_joined(&room).await?;
    client.as_bot().ban(&room, &banned_id, Some("test")).await?;
    let fresh = Intent::new(&client, &Store::temporary()?, &banned_id)?;
    let err = fresh.ensure_joined(&room).await.unwrap_err();
    assert!(matches!(err, IntentError::Banned { .. }), "{err:?}");
    assert_eq!(
        membership_of(&client, &room, &banned_id).await.as_deref(),
        Some("ban")
    );

    // Leaving through the intent updates the cache.
    ghost.leave(&room, None).await?;
    assert_eq!(
        ghost.cache().membership(&room, &id).await?,
        Some(ghostkit::prelude::MembershipState::Leave)
    );
    Ok(())
}

/// The messages of `room` from `sender` whose body is `body`.
async fn count_messages(
    client: &Client,
    room: &RoomId,
    sender: &UserId,
    body: &str,
) -> anyhow::Result<usize> {
    let page: serde_json::Value = client
        .execute(
            client
                .as_bot()
                .request(
                    ghostkit::client::Method::GET,
                    format!(
                        "/_matrix/client/v3/rooms/{}/messages",
                        urlencode(room.as_str())
                    ),
                )
                .query("dir", "b")
                .query("limit", "100"),
        )
        .await?;
    let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
    Ok(chunk
        .iter()
        .filter(|e| e["sender"] == sender.as_str() && e["content"]["body"] == body)
        .count())
}

fn urlencode(s: &str) -> String {
    s.replace('!', "%21").replace(':', "%3A")
}

#[tokio::test]
async fn a_stale_cache_heals_against_synapse() -> anyhow::Result<()> {
    let client = client();
    let store = Store::temporary()?;
    let app = AppContext::new(
        client.clone(),
        store.clone(),
        registration(),
        ghostkit::ruma::common::server_name!("localhost").to_owned(),
    )?;
    let room = client
        .as_bot()
        .create_room(&CreateRoom {
            preset: Some(RoomPreset::PrivateChat),
            ..Default::default()
        })
        .await?;

    // Kicked behind the cache's back: the cache still says "joined".
    let id = ghost_id("kicked");
    let ghost = app.intent(&id)?;
    ghost.ensure_joined(&room).await?;
    client.as_bot().kick(&room, &id, Some("test")).await?;
    assert_eq!(
        ghost.cache().membership(&room, &id).await?,
        Some(ghostkit::prelude::MembershipState::Join)
    );
    let plain = ghost.api().send_text(&room, "not a member").await;
    assert!(plain.as_ref().is_err_and(|e| e.is_forbidden()), "{plain:?}");
    ghost.send_text(&room, "back after a kick").await?;
    assert_eq!(
        membership_of(&client, &room, &id).await.as_deref(),
        Some("join")
    );
    assert_eq!(
        count_messages(&client, &room, &id, "back after a kick").await?,
        1
    );

    // A cache from another homeserver's database: "registered" and "joined"
    // for a ghost this Synapse has never seen.
    let never = ghost_id("never");
    let cache = ghostkit::intent::IntentCache::open(&store)?;
    cache.set_registered(&never).await?;
    cache
        .set_membership(&room, &never, &ghostkit::prelude::MembershipState::Join)
        .await?;
    let ghost = app.intent(&never)?;
    ghost.send_text(&room, "hello from a stale cache").await?;
    assert_eq!(
        membership_of(&client, &room, &never).await.as_deref(),
        Some("join")
    );
    assert_eq!(
        count_messages(&client, &room, &never, "hello from a stale cache").await?,
        1
    );

    // A stale "registered" alone heals in ensure_joined.
    let other = ghost_id("unregistered");
    cache.set_registered(&other).await?;
    app.intent(&other)?.ensure_joined(&room).await?;
    assert_eq!(
        membership_of(&client, &room, &other).await.as_deref(),
        Some("join")
    );
    Ok(())
}
