//! The registration file: loading, validation, namespaces, round trips, generation.

use ghostkit::registration::{
    GenerateOptions, Registration, RegistrationError, RegistrationWarning,
};

use crate::common::REGISTRATION_YAML;

/// The field an `Invalid` error names, and its message.
#[track_caller]
fn invalid_field(yaml: &str) -> (String, String) {
    match Registration::from_yaml(yaml) {
        Err(e @ RegistrationError::Invalid { .. }) => {
            let msg = e.to_string();
            let RegistrationError::Invalid { field, .. } = e else {
                unreachable!()
            };
            assert!(
                msg.contains(&format!("`{field}`")),
                "message names the field: {msg}"
            );
            (field, msg)
        }
        Err(e) => panic!("expected an invalid field, got {e:?}"),
        Ok(_) => panic!("accepted an invalid registration:\n{yaml}"),
    }
}

/// The test registration with one line replaced.
fn with(old: &str, new: &str) -> String {
    assert!(REGISTRATION_YAML.contains(old), "{old:?} not in the YAML");
    REGISTRATION_YAML.replacen(old, new, 1)
}

#[test]
fn load_reads_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registration.yaml");
    std::fs::write(&path, REGISTRATION_YAML).unwrap();

    let reg = Registration::load(&path).unwrap();
    assert_eq!(reg.id, "itest");
    assert_eq!(reg.url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(reg.as_token, "as_secret_token_for_tests");
    assert_eq!(reg.hs_token, "hs_secret_token_for_tests");
    assert_eq!(reg.sender_localpart, "bot");
    assert_eq!(reg.namespaces.users.len(), 2);
    assert!(reg.namespaces.users[0].exclusive);
    assert!(reg.is_user_in_namespace("@_e_alice:x.org"));
    assert!(reg.is_user_in_namespace("@bot:x.org"));
    assert!(!reg.is_user_in_namespace("@alice:x.org"));
    assert!(reg.warnings().is_empty(), "{:?}", reg.warnings());
    assert!(reg.is_alias_in_namespace("#_e_room:x.org"));
    assert!(!reg.is_alias_in_namespace("#room:x.org"));
    assert!(!reg.is_room_in_namespace("!r:x.org"));
    let server = ghostkit::ruma::common::server_name!("x.org");
    assert_eq!(reg.bot_user_id(server).expect("a user ID"), "@bot:x.org");
    let mut odd = reg.clone();
    odd.sender_localpart = "bot:evil.org".into();
    assert!(odd.bot_user_id(server).is_err(), "a `:` makes no localpart");
}

#[test]
fn load_reports_a_missing_file_and_bad_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    match Registration::load(&missing) {
        Err(RegistrationError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // Not YAML, not a mapping at all, empty.
    for bad in ["id: [unclosed\n", "- just\n- a list\n", ""] {
        assert!(
            matches!(
                Registration::from_yaml(bad),
                Err(RegistrationError::Syntax { .. })
            ),
            "{bad:?}"
        );
    }
    // A missing key is named.
    let (field, msg) =
        invalid_field("id: x\nas_token: a\nsender_localpart: b\nurl: null\nnamespaces: {}\n");
    assert_eq!(field, "hs_token");
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn url_may_be_null() {
    let reg = Registration::from_yaml(&with("url: http://127.0.0.1:9000", "url: null")).unwrap();
    assert_eq!(reg.url, None);
}

#[test]
fn invalid_regex_names_the_namespace_entry() {
    let (field, _) = invalid_field(&with(r"'^@_e_.*:x\.org$'", r"'@_e_[.*:x\.org'"));
    assert_eq!(field, "namespaces.users[0].regex");

    let (field, _) = invalid_field(&with(r"'^#_e_.*:x\.org$'", r"'#_e_(.*:x\.org'"));
    assert_eq!(field, "namespaces.aliases[0].regex");
}

#[test]
fn the_sender_is_the_own_user_inside_a_namespace_or_not() {
    let reg =
        Registration::from_yaml(&with("sender_localpart: bot", "sender_localpart: other")).unwrap();
    assert!(!reg.is_user_in_namespace("@other:x.org"));
    assert!(reg.is_own_user("@other:x.org", Some("x.org")));
    assert!(reg.may_act_as("@other:x.org", Some("x.org")));
    assert!(!reg.may_act_as("@other:y.org", Some("x.org")));
    assert!(
        reg.may_act_as("@other:y.org", None),
        "any server before it is known"
    );
    assert!(reg.may_act_as("@_e_ghost:x.org", Some("x.org")));
    assert!(!reg.may_act_as("@stranger:x.org", None));
}

#[test]
fn empty_and_equal_tokens_load_with_a_warning() {
    let reg = Registration::from_yaml(&with(
        "as_token: as_secret_token_for_tests",
        "as_token: \"\"",
    ))
    .unwrap();
    assert!(reg
        .warnings()
        .contains(&RegistrationWarning::EmptyField { field: "as_token" }));

    let reg = Registration::from_yaml(&with(
        "hs_token: hs_secret_token_for_tests",
        "hs_token: as_secret_token_for_tests",
    ))
    .unwrap();
    assert!(reg.warnings().contains(&RegistrationWarning::EqualTokens));
    let text = RegistrationWarning::EqualTokens.to_string();
    assert!(
        text.contains("as_token") && text.contains("hs_token"),
        "{text}"
    );
}

#[test]
fn odd_urls_load_with_a_warning_and_a_missing_url_is_refused() {
    for url in [
        "\"not a url\"",
        "ftp://127.0.0.1:9000",
        "\"127.0.0.1:9000\"",
        "\"\"",
    ] {
        let reg =
            Registration::from_yaml(&with("url: http://127.0.0.1:9000", &format!("url: {url}")))
                .unwrap();
        assert!(
            reg.warnings()
                .iter()
                .any(|w| matches!(w, RegistrationWarning::UrlNotHttp { .. })),
            "for {url}: {:?}",
            reg.warnings()
        );
    }
    let (field, msg) = invalid_field(&with("url: http://127.0.0.1:9000\n", ""));
    assert_eq!(field, "url");
    assert!(msg.contains("url: null"), "the fix mentions null: {msg}");
    let (field, _) = invalid_field(&with("url: http://127.0.0.1:9000", "url: 8080"));
    assert_eq!(field, "url");
}

#[test]
fn regexes_are_anchored_at_the_start_only_like_python_re_match() {
    let unanchored = with(r"'^@_e_.*:x\.org$'", r"'@_e_.*:x\.org'");
    let reg = Registration::from_yaml(&unanchored).unwrap();
    assert!(reg.is_user_in_namespace("@_e_a:x.org"));
    assert!(
        reg.is_user_in_namespace("@_e_a:x.org.evil"),
        "no end anchor unless the file writes `$`"
    );
    assert!(!reg.is_user_in_namespace("x@_e_a:x.org"));
    assert!(
        !reg.is_user_in_namespace("@_e_a:xXorg"),
        "the dot is escaped"
    );
    assert!(reg.warnings().iter().any(|w| matches!(
        w,
        RegistrationWarning::Unanchored {
            start: true,
            end: true,
            ..
        }
    )));

    // The written `^…$` holds.
    let reg = Registration::from_yaml(REGISTRATION_YAML).unwrap();
    assert!(!reg.is_user_in_namespace("@_e_a:x.org.evil"));

    // The start anchor covers the whole alternation.
    let reg = Registration::from_yaml(&with(
        r"'^@_e_.*:x\.org$'",
        r"'@_e_.*:x\.org$|@_f_.*:x\.org$'",
    ))
    .unwrap();
    assert!(reg.is_user_in_namespace("@_f_a:x.org"));
    assert!(!reg.is_user_in_namespace("@_e_a:x.org.evil"));
    assert!(!reg.is_user_in_namespace("x@_f_a:x.org"));
}

#[test]
fn the_first_matching_entry_decides_exclusivity() {
    use ghostkit::registration::NamespaceKind::Users;
    let yaml = r#"
id: t
url: null
as_token: a
hs_token: h
sender_localpart: t
namespaces:
  users:
    - {regex: '@a_', exclusive: false}
    - {regex: '@a_.*:x$', exclusive: true}
"#;
    let reg = Registration::from_yaml(yaml).unwrap();
    assert!(!reg.is_exclusive(Users, "@a_1:x"));
    assert!(reg.is_user_in_namespace("@a_1:x"));
}

#[test]
fn unknown_keys_survive_a_round_trip() {
    let yaml = format!(
        "{REGISTRATION_YAML}\
x_custom_top:
  nested: [1, two]
de.sorunome.msc2409.push_ephemeral: true
org.matrix.msc3202: true
"
    )
    .replace(
        "    - regex: '^@bot:x\\.org$'\n      exclusive: true\n",
        "    - regex: '^@bot:x\\.org$'\n      exclusive: true\n      x_in_namespace: keep me\n",
    )
    .replace("  aliases:\n", "  x_namespaces_extra: 7\n  aliases:\n");
    let reg = Registration::from_yaml(&yaml).unwrap();
    assert!(reg.extra.contains_key("x_custom_top"), "{:?}", reg.extra);
    assert_eq!(
        reg.namespaces.users[1].extra.get("x_in_namespace"),
        Some(&serde_yaml::Value::from("keep me"))
    );

    let again = Registration::from_yaml(&reg.to_yaml()).unwrap();
    let top = again.extra.get("x_custom_top").expect("top-level key kept");
    assert_eq!(top["nested"][1], serde_yaml::Value::from("two"));
    assert_eq!(
        again.namespaces.users[1].extra.get("x_in_namespace"),
        Some(&serde_yaml::Value::from("keep me"))
    );
    assert_eq!(
        again.namespaces.extra.get("x_namespaces_extra"),
        Some(&serde_yaml::Value::from(7))
    );
    assert_eq!(again.push_ephemeral_unstable, Some(true));
    assert_eq!(again.msc3202, Some(true));
    assert!(again.wants_ephemeral());
    // Known fields and behaviour survive too.
    assert_eq!(again.hs_token, reg.hs_token);
    assert!(again.is_user_in_namespace("@_e_a:x.org"));
    assert!(!again.is_user_in_namespace("x@_e_a:x.org"));
}

fn generate_options() -> GenerateOptions {
    GenerateOptions {
        id: "gen".into(),
        url: "http://127.0.0.1:9000".into(),
        sender_localpart: "genbot".into(),
        server_name: "example.org".into(),
        user_prefix: Some("_gen_".into()),
        alias_prefix: Some("_gen_".into()),
    }
}

#[test]
fn generate_gives_distinct_tokens_and_a_valid_file() {
    let a = Registration::generate(generate_options()).unwrap();
    let b = Registration::generate(generate_options()).unwrap();
    for token in [&a.as_token, &a.hs_token, &b.as_token, &b.hs_token] {
        assert_eq!(token.len(), 64, "{token}");
        assert!(token.bytes().all(|c| c.is_ascii_alphanumeric()), "{token}");
    }
    let all = [&a.as_token, &a.hs_token, &b.as_token, &b.hs_token];
    for (i, x) in all.iter().enumerate() {
        for y in &all[i + 1..] {
            assert_ne!(x, y, "tokens must all differ");
        }
    }

    assert!(a.is_user_in_namespace("@_gen_alice:example.org"));
    assert!(a.is_user_in_namespace("@genbot:example.org"));
    assert!(a.warnings().is_empty(), "{:?}", a.warnings());
    assert!(!a.is_user_in_namespace("@_gen_alice:exampleXorg"));
    assert!(!a.is_user_in_namespace("@_gen_alice:example.org.evil"));
    assert!(a.is_alias_in_namespace("#_gen_room:example.org"));

    // The file it writes loads back, identical in substance.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.yaml");
    a.save(&path).unwrap();
    let loaded = Registration::load(&path).unwrap();
    assert_eq!(loaded.as_token, a.as_token);
    assert_eq!(loaded.hs_token, a.hs_token);
    assert_eq!(loaded.url, a.url);
    assert!(loaded.is_user_in_namespace("@_gen_bob:example.org"));
    assert!(loaded.wants_ephemeral());
}

#[cfg(unix)]
#[test]
fn save_writes_mode_0600() {
    use std::os::unix::fs::PermissionsExt;

    let reg = Registration::generate(generate_options()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let fresh = dir.path().join("fresh.yaml");
    reg.save(&fresh).unwrap();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

    // An existing world-readable file is tightened as well.
    let existing = dir.path().join("existing.yaml");
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    reg.save(&existing).unwrap();
    let mode = std::fs::metadata(&existing).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    assert_eq!(
        Registration::load(&existing).unwrap().as_token,
        reg.as_token
    );
}

#[test]
fn the_documented_example_file_is_valid() {
    let text = include_str!("../../../registration.yaml.example");
    let reg = ghostkit::Registration::from_yaml(text).expect("registration.yaml.example is valid");
    assert!(reg.is_user_in_namespace("@echo:example.org"));
    assert!(reg.is_user_in_namespace("@_echo_alice:example.org"));
    assert!(reg.is_alias_in_namespace("#_echo_room:example.org"));
    assert!(!reg.is_user_in_namespace("@_echo_alice:example.org.evil"));
    assert!(reg.wants_ephemeral());
    assert!(reg.warnings().is_empty(), "{:?}", reg.warnings());
}

#[test]
fn the_bots_example_files_are_valid() {
    for text in [
        include_str!("../../../bots/ircbridge/registration.yaml.example"),
        include_str!("../../../bots/modbot/registration.example.yaml"),
        include_str!("../../../bots/webhooks/registration.yaml.example"),
    ] {
        let reg = Registration::from_yaml(text).unwrap();
        assert!(
            reg.warnings().is_empty(),
            "{}: {:?}",
            reg.id,
            reg.warnings()
        );
    }
}

#[test]
fn a_registration_deserializes_only_through_validation() {
    let ok: Registration = serde_yaml::from_str(REGISTRATION_YAML).unwrap();
    assert!(ok.is_user_in_namespace("@_e_a:x.org"));
    let bad = REGISTRATION_YAML.replace("id: itest", "id: \"a|b\"");
    let err = serde_yaml::from_str::<Registration>(&bad).unwrap_err();
    assert!(err.to_string().contains("`id`"), "{err}");
}

#[test]
fn typos_of_known_keys_load_with_a_warning_and_are_kept() {
    let yaml = with(
        "sender_localpart: bot\n",
        "sender_localpart: bot\nrate_limit: false\nas_tokn: x\nx_custom: 1\n",
    )
    .replace("  aliases:\n", "  user: []\n  aliases:\n")
    .replace(
        "    - regex: '^@bot:x\\.org$'\n      exclusive: true\n",
        "    - regex: '^@bot:x\\.org$'\n      exclusive: true\n      exlusive: false\n",
    );
    let reg = Registration::from_yaml(&yaml).unwrap();
    let typos: Vec<(String, &str)> = reg
        .warnings()
        .iter()
        .filter_map(|w| match w {
            RegistrationWarning::LikelyTypo { field, meant } => Some((field.clone(), *meant)),
            _ => None,
        })
        .collect();
    assert_eq!(
        typos,
        [
            ("as_tokn".to_owned(), "as_token"),
            ("rate_limit".to_owned(), "rate_limited"),
            ("namespaces.user".to_owned(), "users"),
            ("namespaces.users[1].exlusive".to_owned(), "exclusive"),
        ],
        "{:?}",
        reg.warnings()
    );
    let text = reg.warnings()[0].to_string();
    assert!(
        text.contains("`as_tokn`") && text.contains("did you mean `as_token`?"),
        "{text}"
    );
    // Kept for the round trip, and the real keys are untouched.
    assert!(reg.extra.contains_key("rate_limit") && reg.extra.contains_key("x_custom"));
    assert!(reg.namespaces.extra.contains_key("user"));
    assert_eq!(reg.rate_limited, None);
    let again = Registration::from_yaml(&reg.to_yaml()).unwrap();
    assert_eq!(again.warnings(), reg.warnings());
    // Keys Synapse reads although they have no field are not typos.
    let known = with(
        "sender_localpart: bot\n",
        "sender_localpart: bot\nip_range_whitelist: ['10.0.0.0/8']\n",
    );
    assert!(Registration::from_yaml(&known)
        .unwrap()
        .warnings()
        .is_empty());
}

#[test]
fn a_missing_key_names_the_typo_that_was_meant_for_it() {
    for (old, new, field, typo) in [
        ("namespaces:\n", "namespace:\n", "namespaces", "namespace"),
        ("as_token: ", "as_tokn: ", "as_token", "as_tokn"),
        ("url: ", "ur1: ", "url", "ur1"),
    ] {
        let (got, msg) = invalid_field(&with(old, new));
        assert_eq!(got, field);
        assert!(
            msg.contains(&format!("the file has `{typo}`"))
                && msg.contains(&format!("rename it to `{field}`")),
            "{msg}"
        );
    }
    let (_, msg) = invalid_field(&with(
        "exclusive: true\n    - regex",
        "exclusiv: true\n    - regex",
    ));
    assert!(msg.contains("the file has `exclusiv`"), "{msg}");
}

#[test]
fn check_registration_prints_the_typo_warnings() {
    use ghostkit::registration::check::{report, Ids};
    let reg = Registration::from_yaml(&with(
        "sender_localpart: bot\n",
        "sender_localpart: bot\nrate_limit: false\n",
    ))
    .unwrap();
    let text = report(&reg, &Ids::default(), Some("x.org"));
    assert!(
        text.contains("warning: `rate_limit` is not a key Synapse reads")
            && text.contains("`rate_limited`"),
        "{text}"
    );
}
