//! Tests of `config`.

use super::*;

fn parse(text: &str) -> Result<ModConfig, ConfigError> {
    ModConfig::parse(text, Path::new("modbot.yaml")).and_then(|c| c.check().map(|()| c))
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted {text:?}: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reads_yaml_and_keeps_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modbot.yaml");
    std::fs::write(&path, "management_room: '!m:x'\ndry_run: true\n").unwrap();
    let c = ModConfig::load(&path, true).unwrap();
    assert_eq!(c.management_room, "!m:x");
    assert!(c.dry_run);
    assert_eq!(c.command_prefix, "!mod");
    assert_eq!(c.command_power_level, 50);
    assert_eq!(c.confirm_above_members, 5);
    assert!(c.reason_wants_redaction("SPAM bot"));
    assert!(!c.reason_wants_redaction("rude"));
}

#[test]
fn known_keys_are_the_fields() {
    let value = serde_yaml::to_value(ModConfig::default()).unwrap();
    let mut fields: Vec<String> = value
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    let mut known: Vec<String> = KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    fields.sort();
    known.sort();
    assert_eq!(fields, known);
    ModConfig::new("#mods:example.org").check().unwrap();
}

#[test]
fn unknown_keys_are_errors_that_suggest_the_nearest() {
    let err = refused("management_room: '#m:x'\ndry_runn: true\n");
    assert_eq!(
        err, "unknown key `dry_runn` in modbot.yaml; did you mean `dry_run`?",
        "{err}"
    );
    let err = refused("command_power: 50\n");
    assert!(err.contains("did you mean `command_power_level`?"), "{err}");
    let err = refused("zzzzzz: 1\n");
    assert_eq!(err, "unknown key `zzzzzz` in modbot.yaml", "{err}");
    assert!(matches!(
        parse("- a list\n"),
        Err(ConfigError::NotAMapping(_))
    ));
}

#[test]
fn a_named_file_that_is_missing_is_an_error_the_default_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let err = ModConfig::load(&path, true).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Missing(p) if p == &path),
        "{err}"
    );
    assert!(err.to_string().contains("MODBOT_CONFIG"), "{err}");
    let named = |path: &Path| {
        vec![
            ("MODBOT_CONFIG".to_owned(), path.display().to_string()),
            ("MODBOT_MANAGEMENT_ROOM".to_owned(), "#m:x".to_owned()),
        ]
    };
    assert!(matches!(
        ModConfig::from_vars(named(&path)),
        Err(ConfigError::Missing(_))
    ));
    let empty = vec![("MODBOT_CONFIG".to_owned(), String::new())];
    assert!(matches!(
        ModConfig::from_vars(empty),
        Err(ConfigError::Invalid {
            key: "MODBOT_CONFIG",
            ..
        })
    ));
    // Not required: the defaults.
    assert_eq!(
        ModConfig::load(&path, false).unwrap().command_prefix,
        "!mod"
    );
    std::fs::write(&path, "management_room: '#m:x'\n").unwrap();
    assert_eq!(
        ModConfig::from_vars(named(&path)).unwrap().management_room,
        "#m:x"
    );
}

#[test]
fn nonsense_values_are_refused_not_clamped() {
    for (text, key) in [
        ("management_room: 'moderators'\n", "`management_room`"),
        ("management_room: '#moderators'\n", "`management_room`"),
        ("management_room: '!'\n", "`management_room`"),
        ("management_room: '@mod:x'\n", "`management_room`"),
        ("management_room: '#a b:x'\n", "`management_room`"),
        (
            "management_room: '!m:x'\nredact_limit: 0\n",
            "`redact_limit`",
        ),
        (
            "management_room: '!m:x'\nredact_limit: 99999\n",
            "`redact_limit`",
        ),
        (
            "management_room: '!m:x'\nredact_limit: -1\n",
            "redact_limit",
        ),
        (
            "management_room: '!m:x'\nmax_concurrent_requests: 0\n",
            "`max_concurrent_requests`",
        ),
        (
            "management_room: '!m:x'\nmax_concurrent_requests: -3\n",
            "max_concurrent_requests",
        ),
        (
            "management_room: '!m:x'\ncommand_power_level: 0\n",
            "`command_power_level`",
        ),
        (
            "management_room: '!m:x'\ncommand_power_level: -10\n",
            "`command_power_level`",
        ),
        (
            "management_room: '!m:x'\nconfirm_above_members: -1\n",
            "confirm_above_members",
        ),
        (
            "management_room: '!m:x'\ncommand_prefix: ''\n",
            "`command_prefix`",
        ),
        (
            "management_room: '!m:x'\ncommand_prefix: '! mod'\n",
            "`command_prefix`",
        ),
        (
            "management_room: '!m:x'\nredact_reason_words: [spam, '']\n",
            "`redact_reason_words`",
        ),
        ("management_room: '!m:x'\ndry_run: maybe\n", "dry_run"),
    ] {
        let err = refused(text);
        assert!(err.contains(key), "{text:?}: {err}");
    }
    assert!(matches!(
        parse("dry_run: true\n"),
        Err(ConfigError::NoManagementRoom)
    ));
    let err = ModConfig::from_vars([
        ("MODBOT_MANAGEMENT_ROOM".to_owned(), "#m:x".to_owned()),
        ("MODBOT_DRY_RUN".to_owned(), "perhaps".to_owned()),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("MODBOT_DRY_RUN"), "{err}");
}

#[test]
fn room_ids_of_every_version_and_aliases_are_accepted() {
    for room in [
        "!m:x",
        "!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "#mods:example.org",
    ] {
        ModConfig::new(room)
            .check()
            .unwrap_or_else(|e| panic!("{room}: {e}"));
    }
    let c = parse("management_room: '#m:x'\nconfirm_above_members: 0\n").unwrap();
    assert_eq!(
        c.confirm_above_members, 0,
        "0: every rule that bans anyone waits"
    );
}

#[test]
fn the_example_file_is_valid() {
    let c = parse(include_str!("../../modbot.example.yaml")).unwrap();
    assert_eq!(c.management_room, "#moderators:example.org");
    assert_eq!(c.command_power_level, 50);
}
