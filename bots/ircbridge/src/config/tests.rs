//! Tests of `config`.

use super::*;

fn parse(text: &str) -> Result<BridgeConfig, ConfigError> {
    BridgeConfig::parse(text, Path::new("test.yaml"))
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_ca_file_needs_tls_and_must_be_certificates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "nothing").expect("writes");
    let mut c = BridgeConfig {
        tls_ca_file: Some(ca),
        ..BridgeConfig::default()
    };
    let err = c.check().expect_err("refused").to_string();
    assert!(err.contains("add `tls: true`"), "{err}");
    c.tls = true;
    let err = c.check().expect_err("refused").to_string();
    assert!(err.contains("holds no certificate"), "{err}");
    c.tls_ca_file = Some(dir.path().join("missing.pem"));
    let err = c.check().expect_err("refused").to_string();
    assert!(err.contains("not a readable file"), "{err}");
    c.tls_ca_file = None;
    c.check().expect("TLS with the public authorities");
    assert!(c.irc().tls.is_some());
}

#[test]
fn the_known_keys_are_the_fields() {
    let value = serde_yaml::to_value(BridgeConfig::default()).expect("serializes");
    let mut fields: Vec<String> = value
        .as_mapping()
        .expect("a mapping")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    let mut known: Vec<String> = KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    fields.sort();
    known.sort();
    assert_eq!(fields, known);
    BridgeConfig::default().check().expect("the defaults pass");
}

#[test]
fn unknown_keys_are_errors_that_suggest_the_nearest() {
    let err = refused("network: x\nadmin: [\"@me:example.org\"]\n");
    assert_eq!(
        err, "unknown config key `admin`; did you mean `admins`?",
        "{err}"
    );
    let err = refused("chanels: []\n");
    assert!(err.contains("did you mean `channels`?"), "{err}");
    let err = refused("something_else: 1\n");
    assert!(
        err.contains("`something_else`") && err.contains("the keys are network"),
        "{err}"
    );
    let config = parse("network: libera\nadmins: [\"@me:example.org\"]\n").expect("valid");
    assert!(config.is_admin("@me:example.org"));
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nope.yaml");
    let err = BridgeConfig::load(&path).expect_err("refused");
    assert!(
        matches!(&err, ConfigError::Missing(p) if p == &path),
        "{err}"
    );
    assert!(err.to_string().contains("IRCBRIDGE_CONFIG"), "{err}");
    std::fs::write(&path, "# nothing\n").expect("writes");
    let err = BridgeConfig::load(&path).expect_err("refused");
    assert!(matches!(err, ConfigError::Empty(_)), "{err}");
    std::fs::write(&path, "- a list\n").expect("writes");
    let err = BridgeConfig::load(&path).expect_err("refused");
    assert!(matches!(err, ConfigError::NotAMapping(_)), "{err}");
}

#[test]
fn nonsense_values_are_refused_not_clamped() {
    for (text, key) in [
        ("flood_per_second: -5\n", "`flood_per_second`"),
        ("flood_per_second: 0\n", "`flood_per_second`"),
        ("flood_per_second: .nan\n", "`flood_per_second`"),
        ("flood_burst: 0\n", "`flood_burst`"),
        ("nick_reclaim_seconds: 0\n", "`nick_reclaim_seconds`"),
        ("channels: ['#a,#b']\n", "`channels`"),
        ("channels: [\"#bell\\a\"]\n", "`channels`"),
        ("channels: ['rust']\n", "`channels`"),
        ("nick: 'a b'\n", "`nick`"),
        ("nick: ''\n", "`nick`"),
        ("admins: ['me']\n", "`admins`"),
        ("alias_channels: ['*']\n", "`alias_channels`"),
        ("alias_channels: ['#a,*']\n", "`alias_channels`"),
        ("name_marker: '[m]'\n", "`name_marker`"),
        ("name_marker: ''\n", "`name_marker`"),
        ("name_marker: ' <m>'\n", "`name_marker`"),
        ("max_lines_per_message: 0\n", "`max_lines_per_message`"),
        (
            "max_queued_lines_per_channel: 0\n",
            "`max_queued_lines_per_channel`",
        ),
        ("max_queued_lines: 10\n", "`max_queued_lines`"),
        ("port: 0\n", "`port`"),
        ("network: Libera\n", "`network`"),
        ("password: \"a\\nQUIT\"\n", "`password`"),
    ] {
        let err = refused(text);
        assert!(err.starts_with(key), "{text:?}: {err}");
    }
    // Wrong types and out-of-range numbers are YAML errors naming the file.
    let err = refused("port: 70000\n");
    assert!(err.contains("test.yaml"), "{err}");
    let err = refused("flood_burst: lots\n");
    assert!(err.contains("test.yaml"), "{err}");
}

#[test]
fn the_example_config_is_valid() {
    let c = parse(include_str!("../../ircbridge.example.yaml")).expect("valid");
    assert!(c.alias_channels.is_empty() && c.admin_commands_enabled());
}

#[test]
fn no_admins_means_no_admin() {
    let c = BridgeConfig::default();
    assert!(!c.admin_commands_enabled());
    assert!(!c.is_admin("@anyone:example.org"));
    let c = BridgeConfig {
        admins: vec!["@me:example.org".into()],
        ..BridgeConfig::default()
    };
    assert!(c.admin_commands_enabled() && c.is_admin("@me:example.org"));
    assert!(!c.is_admin("@you:example.org"));
}
