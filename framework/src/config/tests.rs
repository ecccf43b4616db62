use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::appservice::Database;

/// A bot's own settings, as a bot would write them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(default)]
struct Bot {
    /// What the bot's commands start with.
    command_prefix: String,
    /// Who may command the bot.
    admins: Vec<String>,
    /// The network's password.
    password: Option<String>,
    /// Greetings by room.
    greetings: BTreeMap<String, String>,
}

impl Default for Bot {
    fn default() -> Self {
        Bot {
            command_prefix: "!bot".into(),
            admins: vec!["@admin:example.org".into()],
            password: None,
            greetings: BTreeMap::new(),
        }
    }
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bot.yaml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

fn load(path: &std::path::Path, env: &[(&str, &str)]) -> Result<Settings<Bot>, ConfigError> {
    Settings::load(&Sources::new("bot", Some(path.to_owned()), vars(env)))
}

#[test]
fn no_file_and_no_variables_give_the_defaults() {
    let sources = Sources::new("bot", None, BTreeMap::new());
    assert_eq!(sources.path, PathBuf::from("bot.yaml"));
    let settings: Settings<Bot> = Settings::load(&sources).expect("defaults");
    assert_eq!(settings, Settings::default());
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let e = load(std::path::Path::new("/nonexistent/bot.yaml"), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Missing(_)), "{e}");
    assert!(e.to_string().contains("generate-config"), "{e}");
}

#[test]
fn the_file_sets_framework_and_bot_keys_and_leaves_the_rest_default() {
    let (_d, path) = file(
        "homeserver_url: http://hs:8008\ndispatch:\n  max_backlog: 7\nbot:\n  command_prefix: '!x'\n  greetings: {'!r:x': hi}\n",
    );
    let s = load(&path, &[]).expect("loads");
    assert_eq!(s.homeserver_url, "http://hs:8008");
    assert_eq!(s.dispatch.max_backlog, 7);
    assert_eq!(
        s.dispatch.fairness_batch,
        DispatchSettings::default().fairness_batch
    );
    assert_eq!(s.bot.command_prefix, "!x");
    assert_eq!(s.bot.admins, Bot::default().admins);
    assert_eq!(s.bot.greetings.get("!r:x").map(String::as_str), Some("hi"));
}

#[test]
fn an_unknown_key_names_itself_with_its_parents_and_the_nearest() {
    for (text, key, near) in [
        (
            "homeserver_ulr: x\n",
            "homeserver_ulr",
            Some("homeserver_url"),
        ),
        (
            "dispatch:\n  max_backlgo: 1\n",
            "dispatch.max_backlgo",
            Some("dispatch.max_backlog"),
        ),
        (
            "bot:\n  comand_prefix: x\n",
            "bot.comand_prefix",
            Some("bot.command_prefix"),
        ),
        (
            "client:\n  retry:\n    zzzzzz: 1\n",
            "client.retry.zzzzzz",
            None,
        ),
    ] {
        let (_d, path) = file(text);
        match load(&path, &[]) {
            Err(ConfigError::UnknownKey {
                key: k, suggestion, ..
            }) => {
                assert_eq!(k, key);
                assert_eq!(suggestion.as_deref(), near, "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // A map field takes any key.
    let (_d, path) = file("bot:\n  greetings:\n    anything: at all\n");
    assert!(load(&path, &[]).is_ok());
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let (_d, path) = file("dispatch:\n  max_backlog: lots\n");
    let e = load(&path, &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("`dispatch.max_backlog` (GHOSTKIT_DISPATCH_MAX_BACKLOG): "),
        "{e}"
    );
}

#[test]
fn variables_win_over_the_file_and_keep_text_as_text() {
    let (_d, path) = file("dispatch:\n  max_backlog: 7\nbot:\n  command_prefix: '!x'\n");
    let s = load(
        &path,
        &[
            ("GHOSTKIT_DISPATCH_MAX_BACKLOG", "9"),
            ("GHOSTKIT_SELF_CHECK", "false"),
            ("GHOSTKIT_BOT_COMMAND_PREFIX", "!mod"),
            ("GHOSTKIT_BOT_ADMINS", "@a:x, @b:x"),
            ("HOME", "/root"),
        ],
    )
    .expect("loads");
    assert_eq!(s.dispatch.max_backlog, 9);
    assert!(!s.self_check);
    assert_eq!(s.bot.command_prefix, "!mod");
    assert_eq!(s.bot.admins, ["@a:x", "@b:x"]);
}

#[test]
fn a_file_variant_reads_a_secret_from_a_file() {
    let (dir, path) = file("");
    let secret = dir.path().join("password");
    std::fs::write(&secret, "hunter2\n").expect("write");
    let secret = secret.to_str().expect("utf-8");
    let s = load(&path, &[("GHOSTKIT_BOT_PASSWORD_FILE", secret)]).expect("loads");
    assert_eq!(s.bot.password.as_deref(), Some("hunter2"));
    let both = load(
        &path,
        &[
            ("GHOSTKIT_BOT_PASSWORD_FILE", secret),
            ("GHOSTKIT_BOT_PASSWORD", "x"),
        ],
    )
    .unwrap_err();
    assert!(matches!(both, ConfigError::BothSet { .. }), "{both}");
    let missing = load(&path, &[("GHOSTKIT_BOT_PASSWORD_FILE", "/nonexistent/pw")]).unwrap_err();
    assert!(
        missing.to_string().contains("GHOSTKIT_BOT_PASSWORD_FILE"),
        "{missing}"
    );
    assert!(!missing.to_string().contains("hunter2"));
}

#[test]
fn an_unknown_variable_is_an_error_with_the_nearest() {
    let (_d, path) = file("");
    let e = load(&path, &[("GHOSTKIT_BOT_COMAND_PREFIX", "!")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown environment variable GHOSTKIT_BOT_COMAND_PREFIX; did you mean `GHOSTKIT_BOT_COMMAND_PREFIX`?"
    );
}

#[test]
fn the_registration_commands_leave_the_bots_settings_alone() {
    let (_d, path) = file("registration: r.yaml\nbot:\n  not_a_key: 1\n");
    let sources = Sources::new("bot", Some(path), vars(&[("GHOSTKIT_BOT_WHATEVER", "1")]));
    let s = Settings::load_framework(&sources).expect("framework only");
    assert_eq!(s.registration, Some(PathBuf::from("r.yaml")));
    assert!(Settings::<Bot>::load(&sources).is_err());
}

#[test]
fn the_template_describes_every_key_and_reads_back_as_the_defaults() {
    let text = Settings::<Bot>::template("bot");
    assert!(
        text.contains("# What the bot's commands start with.\n"),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_COMMAND_PREFIX)\n  command_prefix: '!bot'\n"),
        "{text}"
    );
    assert!(
        text.contains("# The longest wait a `429` may ask for"),
        "{text}"
    );
    let (_d, path) = file(&text);
    let back = load(&path, &[]).expect("the template loads");
    assert_eq!(back, Settings::defaults_for("bot"));
    for line in text.lines() {
        assert!(line.len() <= 78, "too long: {line}");
    }
}

#[test]
fn every_variable_names_one_key() {
    let node = schema::Node::of::<Settings<Bot>>();
    let names = load::variables(&node);
    let mut seen = std::collections::BTreeSet::new();
    for (name, path, _) in &names {
        assert!(
            seen.insert(name.clone()),
            "{name} names two keys, one is {path:?}"
        );
    }
    assert!(seen.iter().all(|name| !name.starts_with(TEST_PREFIX)));
    assert!(seen.contains("GHOSTKIT_STORE"));
    assert!(seen.contains("GHOSTKIT_DISPATCH_ORDER"));
    assert!(seen.contains("GHOSTKIT_CLIENT_RETRY_MAX_TOTAL_MS"));
}

#[test]
fn the_settings_make_the_appservice_config() {
    let s: Settings = Settings {
        homeserver_domain: Some("example.org".into()),
        bind: Some("127.0.0.1:9001".into()),
        metrics: "off".into(),
        ..Settings::default()
    };
    let c = s.appservice_config("bot").expect("valid");
    assert_eq!(c.store_path, PathBuf::from("bot.store"));
    assert_eq!(c.server_name.as_deref(), Some("example.org"));
    assert_eq!(c.bind.map(|a| a.port()), Some(9001));
    for (bad, key) in [
        (
            Settings {
                bind: Some("nowhere".into()),
                ..Settings::<()>::default()
            },
            "bind",
        ),
        (
            Settings {
                metrics: "sometimes".into(),
                ..Settings::default()
            },
            "metrics",
        ),
        (
            Settings {
                homeserver_domain: Some(String::new()),
                ..Settings::default()
            },
            "homeserver_domain",
        ),
    ] {
        match bad.appservice_config("bot") {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn a_postgres_url_puts_the_store_in_postgres_and_a_bad_one_is_not_repeated() {
    let (dir, path) = file("postgres:\n  pool_size: 3\n  transaction_log: true\n");
    let secret = dir.path().join("pg-url");
    std::fs::write(
        &secret,
        "postgresql://modbot:hunter2@db.example.org:5433/modbot\n",
    )
    .expect("write");
    let s = load(
        &path,
        &[(
            "GHOSTKIT_POSTGRES_URL_FILE",
            secret.to_str().expect("utf-8"),
        )],
    )
    .expect("loads");
    let c = s.appservice_config("bot").expect("valid");
    let Database::Postgres(options) = &c.database else {
        panic!("sled, not PostgreSQL: {:?}", c.database);
    };
    assert_eq!(
        options.url,
        "postgresql://modbot:hunter2@db.example.org:5433/modbot"
    );
    assert_eq!(options.pool_size, 3);
    assert!(c.log_in_database);
    assert!(
        !format!("{s:?}").contains("hunter2"),
        "the settings show the password"
    );
    let shown = format!("{c:?}");
    assert!(shown.contains("db.example.org:5433"), "{shown}");
    assert!(!shown.contains("hunter2"), "the password is shown: {shown}");

    assert_eq!(
        Settings::<()>::default()
            .appservice_config("bot")
            .expect("valid")
            .database,
        Database::Sled
    );
    let bad = Settings::<()> {
        postgres: PostgresSettings {
            url: Some(Secret::new("postgresql://u:hunter2@db:notaport/x")),
            ..PostgresSettings::default()
        },
        ..Settings::default()
    };
    match bad.appservice_config("bot") {
        Err(e @ ConfigError::Invalid { .. }) => {
            let text = e.to_string();
            assert!(text.contains("postgres.url"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let log_alone = Settings::<()> {
        postgres: PostgresSettings {
            transaction_log: true,
            ..PostgresSettings::default()
        },
        ..Settings::default()
    };
    match log_alone.appservice_config("bot") {
        Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "postgres.transaction_log"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_test_helpers_variables_are_left_alone_and_others_are_refused() {
    let (_d, path) = file("");
    load(
        &path,
        &[
            ("GHOSTKIT_TEST_POSTGRES", "host=127.0.0.1"),
            ("GHOSTKIT_TEST_REQUIRE_POSTGRES", "1"),
        ],
    )
    .expect("test variables are not settings");
    match load(&path, &[("GHOSTKIT_POSTGRES_UR", "host=db")]) {
        Err(ConfigError::UnknownVariable { name, suggestion }) => {
            assert_eq!(name, "GHOSTKIT_POSTGRES_UR");
            assert_eq!(suggestion.as_deref(), Some("GHOSTKIT_POSTGRES_URL"));
        }
        other => panic!("{other:?}"),
    }
}
