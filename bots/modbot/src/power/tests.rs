//! Tests of `power`.

use super::*;
use serde_json::json;

fn created(version: &str, sender: &str, more: &[&str]) -> Creation {
    Creation::from_event(&json!({
        "type": "m.room.create", "sender": sender, "state_key": "",
        "content": {"room_version": version, "additional_creators": more},
    }))
}

#[test]
fn the_users_map_then_users_default_then_zero() {
    let c = created("10", "@owner:x", &[]);
    let pl = json!({"users": {"@owner:x": 100, "@mod:x": 50, "@low:x": 10}});
    assert_eq!(power_of("@owner:x", Some(&pl), &c), Power::Level(100));
    assert_eq!(power_of("@mod:x", Some(&pl), &c), Power::Level(50));
    assert!(!power_of("@low:x", Some(&pl), &c).reaches(50));
    assert_eq!(power_of("@other:x", Some(&pl), &c), Power::Level(0));
    let generous = json!({"users": {"@low:x": 10}, "users_default": 50});
    assert_eq!(power_of("@other:x", Some(&generous), &c), Power::Level(50));
    assert_eq!(power_of("@low:x", Some(&generous), &c), Power::Level(10));
    let strings = json!({"users": {"@s:x": "75"}});
    assert_eq!(power_of("@s:x", Some(&strings), &c), Power::Level(75));
}

#[test]
fn creators_of_version_12_rooms_outrank_everyone() {
    let c = created("12", "@owner:x", &["@co:x"]);
    let pl = json!({"users": {"@mod:x": 50}, "users_default": 0});
    assert_eq!(power_of("@owner:x", Some(&pl), &c), Power::Creator);
    assert_eq!(power_of("@co:x", Some(&pl), &c), Power::Creator);
    assert!(Power::Creator.reaches(i64::MAX));
    assert_eq!(power_of("@mod:x", Some(&pl), &c), Power::Level(50));
    // Before version 12 the creator is only what `users` says.
    let old = created("11", "@owner:x", &["@co:x"]);
    assert_eq!(power_of("@owner:x", Some(&pl), &old), Power::Level(0));
    assert!(created("org.matrix.hydra.11", "@o:x", &[]).creators_outrank_all());
}

#[test]
fn without_power_levels_the_creator_has_100() {
    let c = Creation::from_event(&json!({"sender": "@o:x", "content": {"creator": "@o:x"}}));
    assert_eq!(c.room_version, "1");
    assert_eq!(power_of("@o:x", None, &c), Power::Level(100));
    assert_eq!(power_of("@p:x", None, &c), Power::Level(0));
}
