use super::*;

const REGISTRATION: &[&str] = &[
    "id",
    "url",
    "as_token",
    "hs_token",
    "sender_localpart",
    "namespaces",
    "rate_limited",
];

#[test]
fn typos_find_the_key_meant() {
    for (typo, meant) in [
        ("namespace", "namespaces"),
        ("as_tokn", "as_token"),
        ("hs-token", "hs_token"),
        ("ur1", "url"),
        ("uri", "url"),
        ("rate_limit", "rate_limited"),
        ("sender_locaplart", "sender_localpart"),
        ("ID", "id"),
    ] {
        assert_eq!(nearest(typo, REGISTRATION), Some(meant), "{typo}");
    }
}

#[test]
fn other_words_find_nothing() {
    for word in [
        "zzzzzz",
        "ab",
        "de.example.custom",
        "push_everything",
        "tls",
    ] {
        assert_eq!(nearest(word, REGISTRATION), None, "{word}");
    }
    assert_eq!(nearest("anything", &[]), None);
}

#[test]
fn the_closest_wins_then_the_first() {
    assert_eq!(nearest("user", &["users", "user_"]), Some("users"));
    assert_eq!(
        nearest("flood", &["flood_burst", "flood_per_second"]),
        Some("flood_burst")
    );
    assert_eq!(nearest("rooms", &["room", "rooms"]), Some("rooms"));
}
