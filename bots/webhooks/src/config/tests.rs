//! Tests of `config`, read as the bot reads it: the `bot` section of the
//! one config file, with the `GHOSTKIT_BOT_*` variables over it, checked
//! as a run checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ghostkit::config::{Settings, Sources};

use super::*;

/// The bot's settings read from `path` with these variables and checked
/// ([`ghostkit::bot::BotConfig::check`]); the error's text when refused.
fn load_file(path: &Path, vars: &[(&str, &str)]) -> Result<WebhooksConfig, String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let settings =
        Settings::<WebhooksConfig>::load(&Sources::new("webhooks", Some(path.into()), vars))
            .map_err(|e| e.to_string())?;
    ghostkit::bot::BotConfig::check(&settings.bot).map_err(|e| e.to_string())?;
    Ok(settings.bot)
}

/// [`load_file`] of a file holding `text`.
fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<WebhooksConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webhooks.yaml");
    std::fs::write(&path, text).unwrap();
    load_file(&path, vars)
}

/// A file whose `bot` section is these lines.
fn bot(lines: &str) -> String {
    let mut text = String::from("bot:\n");
    for line in lines.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn refused(text: &str, vars: &[(&str, &str)]) -> String {
    match load_with(text, vars) {
        Ok(c) => panic!("accepted {text:?} with {vars:?}: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn an_empty_file_gives_the_defaults() {
    for text in [
        "",
        "bot:\n",
        "bot: {}\n",
        "homeserver_url: http://hs:8008\n",
    ] {
        let c = load_with(text, &[]).unwrap();
        assert_eq!(c, WebhooksConfig::default(), "{text:?}");
    }
    let c = WebhooksConfig::default();
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 9016)));
    assert_eq!(c.public_url, None);
    assert_eq!(
        (c.rate, c.burst, c.max_body, c.workers),
        (5.0, 20, 32768, 2)
    );
    assert!(c.outbound_allow.is_empty() && c.outbound_deny.is_empty());
    assert_eq!(c.outbound_attempts, 6);
    assert_eq!(c.outbound_backoff(), Duration::from_millis(500));
    assert_eq!(c.outbound_timeout(), Duration::from_secs(10));
    assert_eq!(c.outbound_queue, 1000);
}

#[test]
fn the_bot_section_sets_its_keys_and_leaves_the_rest_default() {
    let c = load_with(
        &bot("listen: 0.0.0.0:9100\n\
              public_url: https://hooks.example.org/\n\
              rate: 2\n\
              burst: 4\n\
              workers: 1\n\
              outbound_allow: [127.0.0.1, \"*.internal\", 10.0.0.0/8]\n\
              outbound_deny: [ci.internal]\n\
              outbound_backoff_ms: 100\n\
              outbound_timeout_ms: 2500"),
        &[],
    )
    .unwrap();
    assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9100)));
    assert_eq!(c.public_url.as_deref(), Some("https://hooks.example.org/"));
    assert_eq!(c.base_url(c.listen), "https://hooks.example.org");
    assert_eq!((c.rate, c.burst, c.workers), (2.0, 4, 1));
    assert_eq!(c.max_body, 32768, "left at its default");
    assert_eq!(
        c.outbound_allow,
        [
            "127.0.0.1".parse::<HostRule>().unwrap(),
            HostRule::Subdomains("internal".into()),
            "10.0.0.0/8".parse().unwrap(),
        ]
    );
    assert_eq!(c.outbound_deny, [HostRule::Host("ci.internal".into())]);
    assert_eq!(c.outbound_backoff(), Duration::from_millis(100));
    assert_eq!(c.outbound_timeout(), Duration::from_millis(2500));
    assert_eq!(c.outbound_attempts, 6, "left at its default");
}

#[test]
fn variables_go_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("url");
    std::fs::write(&url_file, "https://secret.example.org\n").unwrap();
    let c = load_with(
        &bot("rate: 2\nburst: 4\noutbound_allow: [127.0.0.1]"),
        &[
            ("GHOSTKIT_BOT_RATE", "0.5"),
            ("GHOSTKIT_BOT_LISTEN", "127.0.0.1:0"),
            ("GHOSTKIT_BOT_OUTBOUND_ALLOW", "10.0.0.0/8, ci.internal"),
            (
                "GHOSTKIT_BOT_OUTBOUND_DENY",
                "[\"*.example.net\", 203.0.113.7]",
            ),
            ("GHOSTKIT_BOT_PUBLIC_URL_FILE", url_file.to_str().unwrap()),
            ("GHOSTKIT_BOT_OUTBOUND_QUEUE", "50"),
        ],
    )
    .unwrap();
    assert_eq!(c.rate, 0.5);
    assert_eq!(c.burst, 4, "from the file");
    assert_eq!(c.listen.port(), 0);
    assert_eq!(
        c.outbound_allow,
        [
            "10.0.0.0/8".parse::<HostRule>().unwrap(),
            HostRule::Host("ci.internal".into()),
        ]
    );
    assert_eq!(
        c.outbound_deny,
        [
            HostRule::Subdomains("example.net".into()),
            "203.0.113.7".parse().unwrap(),
        ]
    );
    assert_eq!(c.public_url.as_deref(), Some("https://secret.example.org"));
    assert_eq!(c.outbound_queue, 50);
}

#[test]
fn unknown_keys_and_variables_are_named_with_the_nearest() {
    let e = refused(&bot("rat: 2"), &[]);
    assert!(
        e.starts_with("unknown key `bot.rat` in ") && e.ends_with("; did you mean `bot.rate`?"),
        "{e}"
    );
    let e = refused(&bot("outbound_alow: [10.0.0.1]"), &[]);
    assert!(e.ends_with("did you mean `bot.outbound_allow`?"), "{e}");
    let e = refused(&bot("colour: blue"), &[]);
    assert!(e.starts_with("unknown key `bot.colour`"), "{e}");
    assert!(!e.contains("did you mean"), "{e}");
    let e = refused("", &[("GHOSTKIT_BOT_OUTBOUND_ALOW", "10.0.0.1")]);
    assert_eq!(
        e,
        "unknown environment variable GHOSTKIT_BOT_OUTBOUND_ALOW; did you mean `GHOSTKIT_BOT_OUTBOUND_ALLOW`?"
    );
    // Other programs' variables, and the old names, are not read.
    let c = load_with("", &[("PATH", "/bin"), ("WEBHOOKS_RATE", "1")]).unwrap();
    assert_eq!(c.rate, 5.0);
}

#[test]
fn values_of_the_wrong_type_name_their_key() {
    for (text, vars, key) in [
        (bot("rate: fast"), vec![], "`bot.rate`"),
        (
            String::new(),
            vec![("GHOSTKIT_BOT_RATE", "fast")],
            "`bot.rate`",
        ),
        (bot("burst: -1"), vec![], "`bot.burst`"),
        (bot("max_body: 1.5"), vec![], "`bot.max_body`"),
        (bot("workers: -2"), vec![], "`bot.workers`"),
        (bot("listen: localhost"), vec![], "`bot.listen`"),
        (bot("listen: 9016"), vec![], "`bot.listen`"),
        (
            bot("outbound_allow: 10.0.0.1"),
            vec![],
            "`bot.outbound_allow`",
        ),
        (
            bot("outbound_allow: [10.0.0.0/99]"),
            vec![],
            "bot.outbound_allow",
        ),
        (
            String::new(),
            vec![("GHOSTKIT_BOT_OUTBOUND_DENY", "ci.internal, not a host")],
            "bot.outbound_deny",
        ),
        (
            bot("outbound_timeout_ms: soon"),
            vec![],
            "`bot.outbound_timeout_ms`",
        ),
    ] {
        let e = refused(&text, &vars);
        assert!(e.contains(key), "{text:?} {vars:?}: {e}");
    }
    let e = refused(&bot("listen: localhost"), &[]);
    assert!(
        e.contains("expected an address and port like 0.0.0.0:9016"),
        "{e}"
    );
    let e = refused(&bot("outbound_allow: [10.0.0.0/99]"), &[]);
    assert!(
        e.contains("`10.0.0.0/99` is not an address, a CIDR network"),
        "{e}"
    );
    // The old variables took spaces between rules; the new ones take commas.
    let e = refused(
        "",
        &[("GHOSTKIT_BOT_OUTBOUND_ALLOW", "10.0.0.1 ci.internal")],
    );
    assert!(
        e.contains("`10.0.0.1 ci.internal` is several rules in one: separate them with commas"),
        "{e}"
    );
}

#[test]
fn values_out_of_range_are_refused_not_clamped() {
    for (lines, key) in [
        ("rate: 0", "rate"),
        ("rate: -1", "rate"),
        ("rate: .inf", "rate"),
        ("rate: -.inf", "rate"),
        ("rate: .nan", "rate"),
        ("burst: 0", "burst"),
        ("max_body: 0", "max_body"),
        ("max_body: 1048577", "max_body"),
        ("workers: 0", "workers"),
        ("workers: 257", "workers"),
        ("public_url: ftp://hooks.example.org", "public_url"),
        ("public_url: hooks.example.org", "public_url"),
        ("public_url: ''", "public_url"),
        ("outbound_attempts: 0", "outbound_attempts"),
        ("outbound_timeout_ms: 0", "outbound_timeout_ms"),
        ("outbound_queue: 0", "outbound_queue"),
        ("outbound_queue: 1000001", "outbound_queue"),
    ] {
        let e = refused(&bot(lines), &[]);
        let value = lines.split_once(": ").map_or("", |(_, v)| v);
        assert!(e.starts_with(&format!("`bot.{key}` is `")), "{lines}: {e}");
        assert!(
            e.contains(": use ") || e.contains(": write "),
            "{lines}: {e}"
        );
        if !value.starts_with(['.', '-', '\'']) {
            assert!(e.contains(&format!("is `{value}`")), "{lines}: {e}");
        }
    }
    assert_eq!(
        refused(&bot("rate: -1"), &[]),
        "`bot.rate` is `-1`: use a finite number of messages per second above 0, e.g. 5 or 0.5"
    );
    // The edges of each range are accepted.
    let c = load_with(
        &bot("rate: 0.001\nburst: 1\nmax_body: 1048576\nworkers: 256\noutbound_attempts: 1\noutbound_timeout_ms: 1\noutbound_queue: 1000000\noutbound_backoff_ms: 0"),
        &[],
    )
    .unwrap();
    assert_eq!(
        (c.max_body, c.workers, c.outbound_queue),
        (MAX_BODY_LIMIT, MAX_WORKERS, MAX_OUTBOUND_QUEUE)
    );
}

#[test]
fn settings_made_in_code_are_checked_too() {
    assert!(WebhooksConfig::default().validate().is_ok());
    for (c, key) in [
        (
            WebhooksConfig {
                rate: f64::NAN,
                ..WebhooksConfig::default()
            },
            "rate",
        ),
        (
            WebhooksConfig {
                workers: 0,
                ..WebhooksConfig::default()
            },
            "workers",
        ),
        (
            WebhooksConfig {
                outbound_attempts: 0,
                ..WebhooksConfig::default()
            },
            "outbound_attempts",
        ),
    ] {
        match c.validate() {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{c:?}: {other:?}"),
        }
    }
}

#[test]
fn the_generated_file_reads_back_as_the_defaults() {
    let text = Settings::<WebhooksConfig>::template("webhooks");
    assert!(text.contains("\nbot:\n"), "{text}");
    assert!(
        text.contains("# (GHOSTKIT_BOT_LISTEN)\n  listen: 127.0.0.1:9016\n"),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_RATE)\n  rate: 5.0\n"),
        "{text}"
    );
    assert!(
        text.contains("# (GHOSTKIT_BOT_OUTBOUND_ALLOW)\n  outbound_allow: []\n"),
        "{text}"
    );
    assert!(
        text.contains("# Messages per second each inbound hook may post"),
        "{text}"
    );
    // The descriptions are plain words, not rustdoc.
    assert!(!text.contains("[`") && !text.contains("`]"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webhooks.yaml");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(load_file(&path, &[]).unwrap(), WebhooksConfig::default());
}

#[test]
fn the_example_file_is_valid() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/webhooks.example.yaml"
    ));
    let vars = BTreeMap::new();
    let settings =
        Settings::<WebhooksConfig>::load(&Sources::new("webhooks", Some(path), vars)).unwrap();
    assert_eq!(
        settings.registration.as_deref(),
        Some(Path::new("/etc/webhooks/registration.yaml"))
    );
    let c = settings.bot;
    assert!(c.validate().is_ok(), "{c:?}");
    assert_eq!(c.public_url.as_deref(), Some("https://hooks.example.org"));
    assert_eq!(c.rate, 2.0);
    assert_eq!(
        c.outbound_allow,
        [
            "10.20.0.0/16".parse::<HostRule>().unwrap(),
            HostRule::Host("ci.internal".into()),
        ]
    );
    assert_eq!(c.outbound_deny.len(), 2);
}
