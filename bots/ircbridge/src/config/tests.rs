//! Tests of `config`, read as the bridge reads it: the `bot` section of
//! the one config file, with the `GHOSTKIT_BOT_*` variables over it, then
//! checked as a run checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ghostkit::bot::BotConfig;
use ghostkit::config::{Settings, Sources};

use super::*;

/// The settings in the file at `path` with these variables, or the error's
/// text; the bot's section checked as a run checks it.
fn load_file(path: &Path, vars: &[(&str, &str)]) -> Result<BridgeConfig, String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let settings =
        Settings::<BridgeConfig>::load(&Sources::new("ircbridge", Some(path.into()), vars))
            .map_err(|e| e.to_string())?;
    settings.bot.check().map_err(|e| e.to_string())?;
    Ok(settings.bot)
}

/// [`load_file`] of a temporary file holding `text`.
fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<BridgeConfig, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ircbridge.yaml");
    std::fs::write(&path, text).expect("writes the config");
    load_file(&path, vars)
}

/// A config file whose `bot` section is these lines.
fn bot(lines: &str) -> String {
    let mut text = String::from("homeserver_url: http://127.0.0.1:8008\nbot:\n");
    for line in lines.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The error of a file whose `bot` section is `lines`; fails when it loads.
fn refused(lines: &str) -> String {
    match load_text(&bot(lines), &[]) {
        Ok(c) => panic!("accepted {lines:?}: {c:?}"),
        Err(e) => e,
    }
}

fn example_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ircbridge.example.yaml"
    ))
}

#[test]
fn the_example_file_is_valid() {
    let sources = Sources::new(
        "ircbridge",
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/ircbridge.example.yaml").into()),
        BTreeMap::new(),
    );
    let settings = Settings::<BridgeConfig>::load(&sources).expect("the example loads");
    assert_eq!(settings.homeserver_url, "http://127.0.0.1:8008");
    assert_eq!(
        settings.registration.as_deref(),
        Some(Path::new("ircbridge-registration.yaml"))
    );
    assert_eq!(
        settings.store.as_deref(),
        Some(Path::new("ircbridge.store"))
    );
    let c = &settings.bot;
    assert_eq!(c.network, "libera");
    assert_eq!(c.host, "irc.libera.chat");
    assert_eq!((c.port, c.tls), (6697, true));
    assert_eq!(c.channels, ["#ghostkit"]);
    assert!(c.alias_channels.is_empty() && c.admin_commands_enabled());
    assert!(c.is_admin("@me:example.org"));
    assert_eq!(c.password, None);
    c.check().expect("the example passes the check");
}

#[test]
fn a_file_without_a_bot_section_gives_the_defaults() {
    let c = load_text("homeserver_url: http://127.0.0.1:8008\n", &[]).expect("valid");
    assert_eq!(c, BridgeConfig::default());
    let c = load_text(&bot("network: libera\nport: 6697"), &[]).expect("valid");
    assert_eq!((c.network.as_str(), c.port), ("libera", 6697));
    assert_eq!(c.nick, "matrixbridge");
    assert_eq!(c.name_marker, " [m]");
}

#[test]
fn variables_set_the_bridges_keys_over_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("irc-password");
    std::fs::write(&secret, "hunter2\n").expect("writes the secret");
    let secret = secret.to_str().expect("a UTF-8 path");
    let c = load_file(
        &example_path(),
        &[
            ("GHOSTKIT_BOT_NICK", "otherbridge"),
            ("GHOSTKIT_BOT_PORT", "7000"),
            ("GHOSTKIT_BOT_TLS", "false"),
            ("GHOSTKIT_BOT_CHANNELS", "#rust, #ghostkit-dev"),
            (
                "GHOSTKIT_BOT_ADMINS",
                "[\"@a:example.org\", \"@b:example.org\"]",
            ),
            ("GHOSTKIT_BOT_FLOOD_PER_SECOND", "0.5"),
            ("GHOSTKIT_BOT_COMMAND_PREFIX", "!irc"),
            ("GHOSTKIT_BOT_PASSWORD_FILE", secret),
        ],
    )
    .expect("valid");
    assert_eq!(c.nick, "otherbridge");
    assert_eq!((c.port, c.tls), (7000, false));
    assert_eq!(c.channels, ["#rust", "#ghostkit-dev"]);
    assert_eq!(c.admins, ["@a:example.org", "@b:example.org"]);
    assert!((c.flood_per_second - 0.5).abs() < f64::EPSILON);
    // Text stays text, even where YAML would read a tag.
    assert_eq!(c.command_prefix, "!irc");
    // The secret's file, without its line end.
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("hunter2"));
    assert_eq!(
        c.irc().password.as_ref().map(Secret::expose),
        Some("hunter2")
    );
    assert!(!format!("{c:?} {:?}", c.irc()).contains("hunter2"));
    // The file's own values stay where no variable is set.
    assert_eq!(c.network, "libera");

    // A variable is checked like the file.
    let err = load_file(&example_path(), &[("GHOSTKIT_BOT_NICK", "a b")]).expect_err("refused");
    assert!(err.starts_with("`bot.nick`: "), "{err}");
    let err = load_file(&example_path(), &[("GHOSTKIT_BOT_PORT", "lots")]).expect_err("refused");
    assert!(
        err.contains("bot.port") && err.contains("GHOSTKIT_BOT_PORT"),
        "{err}"
    );
    let err = load_file(&example_path(), &[("GHOSTKIT_BOT_NIK", "x")]).expect_err("refused");
    assert_eq!(
        err,
        "unknown environment variable GHOSTKIT_BOT_NIK; did you mean `GHOSTKIT_BOT_NICK`?"
    );
    let err = load_file(
        &example_path(),
        &[
            ("GHOSTKIT_BOT_PASSWORD", "a"),
            ("GHOSTKIT_BOT_PASSWORD_FILE", secret),
        ],
    )
    .expect_err("refused");
    assert!(err.contains("keep one"), "{err}");
}

#[test]
fn unknown_keys_are_errors_that_suggest_the_nearest() {
    let err = refused("network: x\nadmin: [\"@me:example.org\"]");
    assert!(
        err.starts_with("unknown key `bot.admin` in ")
            && err.ends_with("; did you mean `bot.admins`?"),
        "{err}"
    );
    let err = refused("chanels: []");
    assert!(err.contains("did you mean `bot.channels`?"), "{err}");
    let err = refused("flood_per_sec: 1");
    assert!(
        err.contains("did you mean `bot.flood_per_second`?"),
        "{err}"
    );
    let err = refused("something_else: 1");
    assert!(
        err.contains("`bot.something_else`") && !err.contains("did you mean"),
        "{err}"
    );
    // A bridge key at the top of the file is not the bridge's.
    let err = load_text("nick: matrixbridge\n", &[]).expect_err("refused");
    assert!(err.starts_with("unknown key `nick` in "), "{err}");
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nope.yaml");
    let err = load_file(&path, &[]).expect_err("refused");
    assert!(
        err.contains(&format!("{} does not exist", path.display())) && err.contains("--config"),
        "{err}"
    );
    // A `bot` that is not a mapping of keys.
    let err = load_text("bot:\n  - a list\n", &[]).expect_err("refused");
    assert!(
        err.starts_with("`bot` ") && err.contains("sequence"),
        "{err}"
    );
}

#[test]
fn nonsense_values_are_refused_not_clamped() {
    for (lines, key) in [
        ("flood_per_second: -5", "`bot.flood_per_second`: "),
        ("flood_per_second: 0", "`bot.flood_per_second`: "),
        ("flood_per_second: .nan", "`bot.flood_per_second`: "),
        ("flood_burst: 0", "`bot.flood_burst`: "),
        ("nick_reclaim_seconds: 0", "`bot.nick_reclaim_seconds`: "),
        ("channels: ['#a,#b']", "`bot.channels`: "),
        ("channels: [\"#bell\\a\"]", "`bot.channels`: "),
        ("channels: ['rust']", "`bot.channels`: "),
        ("nick: 'a b'", "`bot.nick`: "),
        ("nick: ''", "`bot.nick`: "),
        ("nick: '1abc'", "`bot.nick`: "),
        ("admins: ['me']", "`bot.admins`: "),
        ("command_prefix: ' '", "`bot.command_prefix`: "),
        ("alias_channels: ['*']", "`bot.alias_channels`: "),
        ("alias_channels: ['#a,*']", "`bot.alias_channels`: "),
        (
            "alias_portals_per_hour: 1001",
            "`bot.alias_portals_per_hour`: ",
        ),
        ("name_marker: '[m]'", "`bot.name_marker`: "),
        ("name_marker: ''", "`bot.name_marker`: "),
        ("name_marker: ' <m>'", "`bot.name_marker`: "),
        ("max_lines_per_message: 0", "`bot.max_lines_per_message`: "),
        (
            "max_lines_per_message: 101",
            "`bot.max_lines_per_message`: ",
        ),
        (
            "max_queued_lines_per_channel: 0",
            "`bot.max_queued_lines_per_channel`: ",
        ),
        ("max_queued_lines: 10", "`bot.max_queued_lines`: "),
        ("port: 0", "`bot.port`: "),
        ("host: ''", "`bot.host`: "),
        ("host: 'irc libera'", "`bot.host`: "),
        ("network: Libera", "`bot.network`: "),
        ("network: ''", "`bot.network`: "),
        ("password: \"a\\nQUIT\"", "`bot.password`: "),
        ("password: ''", "`bot.password`: "),
        ("tls_ca_file: /nonexistent/ca.pem", "`bot.tls_ca_file`: "),
    ] {
        let err = refused(lines);
        assert!(err.starts_with(key), "{lines:?}: {err}");
    }
    // Wrong types and out-of-range numbers name the key and its variable.
    for (lines, key) in [
        ("port: 70000", "bot.port"),
        ("port: -1", "bot.port"),
        ("flood_burst: lots", "bot.flood_burst"),
        ("tls: perhaps", "bot.tls"),
        ("channels: '#a'", "bot.channels"),
    ] {
        let err = refused(lines);
        let var = format!("GHOSTKIT_{}", key.replace('.', "_").to_ascii_uppercase());
        assert!(err.contains(key) && err.contains(&var), "{lines:?}: {err}");
    }
}

#[test]
fn a_refusal_says_the_fix() {
    let err = refused("nick: 'a b'");
    assert!(
        err.contains("holds a space") && err.contains("e.g. `matrixbridge`"),
        "{err}"
    );
    let err = refused("max_queued_lines_per_channel: 200\nmax_queued_lines: 100");
    assert!(
        err.contains("use bot.max_queued_lines_per_channel (200) to 100000"),
        "{err}"
    );
    let err = refused("network: Libera");
    assert!(err.contains("lowercase letters and digits"), "{err}");
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
    let err = c.validate().expect_err("refused").to_string();
    assert!(
        err.starts_with("`bot.tls_ca_file`: ") && err.contains("add `tls: true`"),
        "{err}"
    );
    c.tls = true;
    let err = c.validate().expect_err("refused").to_string();
    assert!(
        err.starts_with("`bot.tls_ca_file`: ") && err.contains("holds no certificate"),
        "{err}"
    );
    c.tls_ca_file = Some(dir.path().join("missing.pem"));
    let err = c.validate().expect_err("refused").to_string();
    assert!(err.contains("not a readable file"), "{err}");
    c.tls_ca_file = None;
    c.validate().expect("TLS with the public authorities");
    assert!(c.irc().tls.is_some());
}

#[test]
fn the_generated_file_reads_back_as_the_defaults() {
    let text = Settings::<BridgeConfig>::template("ircbridge");
    assert!(text.contains("\nbot:\n"), "{text}");
    assert!(
        text.contains(
            "# The bridge's nick on IRC.\n  # (GHOSTKIT_BOT_NICK)\n  nick: matrixbridge\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_NAME_MARKER)\n  name_marker: ' [m]'\n"),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_CHANNELS)\n  channels: []\n"),
        "{text}"
    );
    assert!(text.contains("GHOSTKIT_BOT_PASSWORD_FILE"), "{text}");
    // Every key of the bridge is in it, each with its variable.
    let keys = serde_yaml::to_value(BridgeConfig::default()).expect("serializes");
    for key in keys.as_mapping().expect("a mapping").keys() {
        let key = key.as_str().expect("a text key");
        let line = format!("  # (GHOSTKIT_BOT_{})\n  {key}:", key.to_ascii_uppercase());
        assert!(text.contains(&line), "{key}: {text}");
    }
    // Read back as a run reads it.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ircbridge.yaml");
    std::fs::write(&path, &text).expect("writes");
    let settings = Settings::<BridgeConfig>::load(&Sources::new(
        "ircbridge",
        Some(path.clone()),
        BTreeMap::new(),
    ))
    .expect("the template loads");
    assert_eq!(settings.bot, BridgeConfig::default());
    assert_eq!(
        settings,
        Settings::<BridgeConfig>::defaults_for("ircbridge")
    );
    load_file(&path, &[]).expect("the defaults pass the check");
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
