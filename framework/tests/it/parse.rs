//! `transaction::parse` never panics, counts every item, and skips only the
//! malformed ones.

use ghostkit::event::EventKind;
use ghostkit::transaction::{parse, TransactionError};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Keys the parser and the event head look at, and some it does not.
const KEYS: &[&str] = &[
    "events",
    "ephemeral",
    "de.sorunome.msc2409.ephemeral",
    "to_device",
    "de.sorunome.msc2409.to_device",
    "device_lists",
    "org.matrix.msc3202.device_lists",
    "device_one_time_keys_count",
    "org.matrix.msc3202.device_one_time_keys_count",
    "org.matrix.msc3202.device_one_time_key_counts",
    "device_unused_fallback_key_types",
    "org.matrix.msc3202.device_unused_fallback_key_types",
    "type",
    "event_id",
    "room_id",
    "sender",
    "state_key",
    "to_user_id",
    "content",
    "unsigned",
    "other",
];

/// Strings that are sometimes valid IDs, sometimes not.
fn id_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$ev".to_owned()),
        Just("$ev:x.org".to_owned()),
        Just("!r:x.org".to_owned()),
        Just("!iVZ_MlYQB25yyxanRNo1iDeazUZE7PwofPkWAEFQ2A8".to_owned()),
        Just("@a:x.org".to_owned()),
        Just("#a:x.org".to_owned()),
        Just("m.room.message".to_owned()),
        Just(String::new()),
        Just("@".to_owned()),
        Just("!".to_owned()),
        Just("$".to_owned()),
        "[!@$#]?\\PC{0,12}",
        any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Arbitrary JSON, biased towards the keys and values a transaction has.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        id_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object that often looks like an event.
fn event_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        btree_map(key(), json_value(), 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        (
            proptest::option::of(id_string()),
            proptest::option::of(id_string()),
            proptest::option::of(id_string()),
            proptest::option::of(id_string()),
            proptest::option::of(json_value()),
        )
            .prop_map(|(t, e, r, s, c)| {
                let mut m = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                };
                put("type", t.map(Value::String));
                put("event_id", e.map(Value::String));
                put("room_id", r.map(Value::String));
                put("sender", s.map(Value::String));
                put("content", c);
                Value::Object(m)
            }),
        json_value(),
    ]
}

/// A transaction-shaped object: an `events` array (mostly) and other known keys.
fn transaction_like() -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.9, vec(event_like(), 0..8)),
        btree_map(
            proptest::sample::select(&KEYS[1..12]).prop_map(str::to_owned),
            prop_oneof![
                3 => vec(event_like(), 0..4).prop_map(Value::Array),
                1 => json_value(),
            ],
            0..5,
        ),
    )
        .prop_map(|(events, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            if let Some(events) = events {
                m.insert("events".into(), Value::Array(events));
            }
            Value::Object(m)
        })
}

/// How many items `parse` must account for (parsed or skipped) in `v`.
fn expected_items(v: &Value) -> usize {
    let list = |stable: &str, unstable: &str| {
        let pick = match &v[stable] {
            Value::Null => &v[unstable],
            x => x,
        };
        pick.as_array().map_or(0, Vec::len)
    };
    let single = |keys: &[&str]| usize::from(keys.iter().any(|k| !v[*k].is_null()));
    v["events"].as_array().map_or(0, Vec::len)
        + list("ephemeral", "de.sorunome.msc2409.ephemeral")
        + list("to_device", "de.sorunome.msc2409.to_device")
        + single(&["device_lists", "org.matrix.msc3202.device_lists"])
        + single(&[
            "device_one_time_keys_count",
            "org.matrix.msc3202.device_one_time_keys_count",
            "org.matrix.msc3202.device_one_time_key_counts",
        ])
        + single(&[
            "device_unused_fallback_key_types",
            "org.matrix.msc3202.device_unused_fallback_key_types",
        ])
}

fn kind_rank(k: EventKind) -> u8 {
    match k {
        EventKind::Timeline => 0,
        EventKind::Ephemeral => 1,
        EventKind::ToDevice => 2,
        EventKind::DeviceLists => 3,
        EventKind::OneTimeKeyCounts => 4,
        EventKind::FallbackKeyTypes => 5,
    }
}

/// Beginnings of transactions, for random tails.
const PREFIXES: &[&[u8]] = &[
    b"{\"events\":[",
    b"{\"events\":[{\"type\":",
    b"{\"events\":[],\"ephemeral\":[{",
    b"{\"events\":[{\"event_id\":\"$",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_bytes(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn never_panics_on_bytes_after_a_transaction_prefix(
        prefix in proptest::sample::select(PREFIXES),
        tail in vec(any::<u8>(), 0..256),
    ) {
        let mut body = prefix.to_vec();
        body.extend_from_slice(&tail);
        let _ = parse(&body);
    }

    #[test]
    fn accounts_for_every_item_of_json_ish_input(v in transaction_like()) {
        let body = serde_json::to_vec(&v).unwrap();
        match parse(&body) {
            Ok(txn) => {
                prop_assert_eq!(txn.events.len() + txn.skipped, expected_items(&v));
                let ranks: Vec<u8> = txn.events.iter().map(|e| kind_rank(e.kind())).collect();
                prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "kinds out of order: {:?}", ranks);
                for ev in &txn.events {
                    if ev.kind() == EventKind::Timeline {
                        prop_assert!(ev.event_id().is_some());
                        prop_assert!(ev.room_id().is_some());
                        prop_assert!(ev.sender().is_some());
                    }
                    // Every item is an object, kept as received.
                    let raw: Value = serde_json::from_str(ev.raw()).unwrap();
                    prop_assert!(raw.is_object(), "item is not an object: {}", raw);
                    let _ = ev.content::<Value>();
                }
            }
            // Only an `events` that is missing or not an array, or another
            // known key of the wrong type, may refuse the whole transaction.
            Err(TransactionError::BadJson(_)) => {}
            Err(TransactionError::NotJson(e)) => {
                prop_assert!(false, "serialized JSON called not JSON: {}", e);
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_json(v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        match parse(&body) {
            Ok(_) => prop_assert!(
                v.is_object() && v["events"].is_array(),
                "accepted as a transaction: {}", v
            ),
            Err(TransactionError::BadJson(_)) => {}
            Err(TransactionError::NotJson(e)) => {
                prop_assert!(false, "serialized JSON called not JSON: {}", e);
            }
        }
    }

    #[test]
    fn exactly_the_valid_events_come_through(
        items in vec((any::<bool>(), 0u8..6), 0..20)
    ) {
        let mut events = Vec::new();
        let mut want = Vec::new();
        for (i, (valid, flaw)) in items.iter().enumerate() {
            let id = format!("$e{i}");
            let mut ev = json!({"type": "m.room.message", "event_id": id,
                "room_id": "!r:x.org", "sender": "@a:x.org", "content": {"body": "x"}});
            if *valid {
                want.push(id);
            } else {
                let m = ev.as_object_mut().unwrap();
                match flaw {
                    0 => { m.remove("type"); }
                    1 => { m.remove("event_id"); }
                    2 => { m.insert("room_id".into(), json!("r:x.org")); }
                    3 => { m.insert("sender".into(), json!(7)); }
                    4 => { m.insert("event_id".into(), json!("e")); }
                    _ => { ev = json!([1, 2]); }
                }
            }
            events.push(ev);
        }
        let txn = parse(&serde_json::to_vec(&json!({"events": events})).unwrap()).unwrap();
        let got: Vec<String> = txn.events.iter().map(|e| e.event_id().unwrap().to_string()).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(txn.skipped, items.len() - want.len());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    assert!(parse(deep.as_bytes()).is_err());
    let deep_obj = "{\"events\":".repeat(50_000);
    assert!(parse(deep_obj.as_bytes()).is_err());
    // Deep content inside an otherwise fine event.
    let body = format!(
        "{{\"events\":[{{\"type\":\"x\",\"event_id\":\"$1\",\"room_id\":\"!r:x.org\",\
         \"sender\":\"@a:x.org\",\"content\":{}1{}}}]}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let _ = parse(body.as_bytes());
}

#[test]
fn malformed_items_of_every_kind_are_skipped() {
    let good_msg = json!({"type": "m.room.message", "event_id": "$1", "room_id": "!r:x.org",
        "sender": "@a:x.org", "content": {}});
    let body = json!({
        "events": [
            good_msg,
            "a string",
            null,
            {"type": "m.room.message", "room_id": "!r:x.org", "sender": "@a:x.org"},
            {"type": "m.room.message", "event_id": "$2", "sender": "@a:x.org"},
            {"type": "m.room.message", "event_id": "$3", "room_id": "!r:x.org"},
            {"type": ["not", "a", "string"], "event_id": "$4", "room_id": "!r:x.org", "sender": "@a:x.org"},
        ],
        "ephemeral": [
            {"type": "m.typing", "room_id": "!r:x.org", "content": {}},
            {"room_id": "!r:x.org", "content": {}},
            {"type": "m.typing", "room_id": "no-sigil"},
            17,
        ],
        "de.sorunome.msc2409.to_device": [
            {"type": "m.dummy", "sender": "@a:x.org", "to_user_id": "@b:x.org", "content": {}},
            {"type": "m.dummy", "sender": "not-a-user", "to_user_id": "@b:x.org"},
            [],
        ],
        "org.matrix.msc3202.device_lists": {"changed": [], "left": []},
    });
    let txn = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
    let kinds: Vec<EventKind> = txn.events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Timeline,
            EventKind::Ephemeral,
            EventKind::ToDevice,
            EventKind::DeviceLists
        ]
    );
    assert_eq!(txn.skipped, 6 + 3 + 2);
    assert_eq!(txn.events[0].event_id().unwrap().as_str(), "$1");
    assert_eq!(txn.events[2].to_user_id().unwrap().as_str(), "@b:x.org");
}

#[test]
fn stable_keys_win_over_their_unstable_twins() {
    let typing = |room: &str| json!({"type": "m.typing", "room_id": room, "content": {}});
    let body = json!({
        "events": [],
        "ephemeral": [typing("!stable:x.org")],
        "de.sorunome.msc2409.ephemeral": [typing("!unstable:x.org")],
        "to_device": [{"type": "m.dummy", "sender": "@a:x.org", "to_user_id": "@s:x.org"}],
        "de.sorunome.msc2409.to_device": [{"type": "m.dummy", "sender": "@a:x.org", "to_user_id": "@u:x.org"}],
    });
    let txn = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(txn.events.len(), 2, "each item once, not twice");
    assert_eq!(txn.events[0].room_id().unwrap().as_str(), "!stable:x.org");
    assert_eq!(txn.events[1].to_user_id().unwrap().as_str(), "@s:x.org");
}
