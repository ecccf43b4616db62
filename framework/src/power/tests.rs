//! Tests of `power`: levels, creators by room version, defaults, and the
//! cache fed from events.

use super::*;
use ruma_common::{room_id, user_id};
use serde_json::json;

fn power(version: &str, more: &[&str], pl: Option<&Value>) -> RoomPower {
    let create = json!({"room_version": version, "additional_creators": more});
    RoomPower::from_state(Some((user_id!("@owner:x"), &create)), pl)
}

#[test]
fn the_users_map_then_users_default_then_zero() {
    let pl = json!({"users": {"@owner:x": 100, "@mod:x": 50, "@low:x": 10}});
    let p = power("10", &[], Some(&pl));
    assert_eq!(p.level_text(user_id!("@owner:x")), "100");
    assert!(p.reaches(user_id!("@mod:x"), 50));
    assert!(!p.reaches(user_id!("@low:x"), 50));
    assert_eq!(p.level_text(user_id!("@other:x")), "0");
    let generous = json!({"users": {"@low:x": 10}, "users_default": 50});
    let p = power("10", &[], Some(&generous));
    assert_eq!(p.level_text(user_id!("@other:x")), "50");
    assert_eq!(p.level_text(user_id!("@low:x")), "10");
    // Old rooms may hold levels as strings.
    let strings = json!({"users": {"@s:x": "75"}});
    assert_eq!(
        power("10", &[], Some(&strings)).level_text(user_id!("@s:x")),
        "75"
    );
}

#[test]
fn creators_of_version_12_rooms_outrank_everyone() {
    let pl = json!({"users": {"@mod:x": 50}, "users_default": 0});
    let p = power("12", &["@co:x"], Some(&pl));
    assert_eq!(p.level_text(user_id!("@owner:x")), "creator");
    assert_eq!(p.level_text(user_id!("@co:x")), "creator");
    assert!(p.reaches(user_id!("@co:x"), i64::MAX));
    assert!(p.may_send_state(user_id!("@co:x"), "m.room.power_levels"));
    assert_eq!(p.level_text(user_id!("@mod:x")), "50");
    // Before version 12 the creator is only what `users` says.
    let old = power("11", &["@co:x"], Some(&pl));
    assert_eq!(old.level_text(user_id!("@owner:x")), "0");
    assert!(!old.may_send_state(user_id!("@owner:x"), "m.room.topic"));
    // The unstable name of version 12 and versions past it.
    let hydra = power("org.matrix.hydra.11", &[], Some(&pl));
    assert_eq!(hydra.level_text(user_id!("@owner:x")), "creator");
    assert_eq!(
        power("13", &[], Some(&pl)).level_text(user_id!("@owner:x")),
        "creator"
    );
}

#[test]
fn without_power_levels_the_creator_has_100() {
    let create = json!({"creator": "@o:x"});
    let p = RoomPower::from_state(Some((user_id!("@o:x"), &create)), None);
    assert_eq!(p.level_text(user_id!("@o:x")), "100");
    assert_eq!(p.level_text(user_id!("@p:x")), "0");
    assert!(p.may_send_state(user_id!("@o:x"), "m.room.topic"));
    assert!(!p.may_send_state(user_id!("@p:x"), "m.room.topic"));
}

#[test]
fn state_events_need_their_own_level_or_state_default() {
    let pl = json!({"users": {"@mod:x": 50, "@half:x": 25}, "state_default": 50,
                    "events": {"m.room.topic": 20}});
    let p = power("10", &[], Some(&pl));
    assert!(p.may_send_state(user_id!("@half:x"), "m.room.topic"));
    assert!(!p.may_send_state(user_id!("@half:x"), "m.room.name"));
    assert!(p.may_send_state(user_id!("@mod:x"), "m.room.name"));
}

#[test]
fn power_levels_that_do_not_parse_are_the_strict_defaults() {
    let bad = json!({"users": "everyone"});
    let p = power("10", &[], Some(&bad));
    assert!(!p.may_send_state(user_id!("@anyone:x"), "m.room.topic"));
}

fn event(json: Value) -> Event {
    let raw = serde_json::value::RawValue::from_string(json.to_string()).unwrap();
    Event::from_raw(EventKind::Timeline, &raw).unwrap()
}

#[tokio::test]
async fn the_cache_follows_power_level_changes_of_rooms_it_holds() {
    let cache = IntentCache::open(&crate::Store::temporary().unwrap()).unwrap();
    let (room, other) = (room_id!("!r:x"), room_id!("!o:x"));
    let pl_event = |room: &str, level: i64| {
        event(
            json!({"type": "m.room.power_levels", "state_key": "", "event_id": "$p",
                     "room_id": room, "sender": "@owner:x",
                     "content": {"users": {"@mod:x": level}}}),
        )
    };
    // A room never asked about is not cached.
    cache
        .observe(&pl_event("!o:x", 50), |_| false)
        .await
        .unwrap();
    assert!(cache.room_power(other).await.unwrap().is_none());

    let stored = StoredPower {
        create: Some((
            user_id!("@owner:x").to_owned(),
            json!({"room_version": "10"}),
        )),
        power_levels: Some(json!({"users": {"@mod:x": 0}})),
    };
    cache.set_power(room, &stored).await.unwrap();
    let mod_reaches_50 = |cache: &IntentCache| {
        let cache = cache.clone();
        async move {
            let power = cache.room_power(room).await.unwrap();
            power.unwrap().reaches(user_id!("@mod:x"), 50)
        }
    };
    assert!(!mod_reaches_50(&cache).await);
    cache
        .observe(&pl_event("!r:x", 50), |_| false)
        .await
        .unwrap();
    assert!(mod_reaches_50(&cache).await);
    // Another state key is not the room's power levels.
    let mut keyed = pl_event("!r:x", 0);
    keyed = event({
        let mut v: Value = serde_json::from_str(keyed.raw()).unwrap();
        v["state_key"] = "x".into();
        v
    });
    cache.observe(&keyed, |_| false).await.unwrap();
    assert!(mod_reaches_50(&cache).await);
}
