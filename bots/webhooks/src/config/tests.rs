//! Tests of `config`.

use super::*;

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn error(list: &[(&str, &str)]) -> String {
    WebhooksConfig::from_vars(vars(list))
        .unwrap_err()
        .to_string()
}

#[test]
fn nonsense_rates_are_refused_not_clamped() {
    for rate in [
        "inf", "-inf", "infinity", "NaN", "0", "-1", "0.0", "1e400", "fast",
    ] {
        let e = error(&[("WEBHOOKS_RATE", rate)]);
        assert_eq!(
            e,
            format!("WEBHOOKS_RATE is `{rate}`, expected a finite number of messages per second above 0")
        );
    }
    for (key, value) in [
        ("WEBHOOKS_BURST", "0"),
        ("WEBHOOKS_BURST", "-3"),
        ("WEBHOOKS_MAX_BODY", "0"),
        ("WEBHOOKS_MAX_BODY", "99999999999"),
        ("WEBHOOKS_WORKERS", "0"),
        ("WEBHOOKS_WORKERS", "100000"),
        ("WEBHOOKS_LISTEN", "localhost"),
        ("WEBHOOKS_PUBLIC_URL", "ftp://hooks.example.org"),
        ("WEBHOOKS_OUTBOUND_ALLOW", "10.0.0.0/99"),
    ] {
        let e = error(&[(key, value)]);
        assert!(
            e.starts_with(&format!("{key} is `{value}`, expected")),
            "{e}"
        );
    }
    let c = WebhooksConfig::from_vars(vars(&[
        ("WEBHOOKS_RATE", "0.5"),
        ("WEBHOOKS_BURST", "3"),
        ("WEBHOOKS_WORKERS", "4"),
        ("WEBHOOKS_OUTBOUND_ALLOW", "10.0.0.0/8, ci.internal"),
    ]))
    .unwrap();
    assert_eq!((c.rate_per_sec, c.burst, c.workers), (0.5, 3, 4));
    assert_eq!(c.outbound_allow.len(), 2);
}

#[test]
fn an_empty_or_odd_homeserver_domain_is_refused() {
    for domain in ["", "  ", "exa mple.org", "example.org "] {
        let e = error(&[("HOMESERVER_DOMAIN", domain)]);
        assert!(e.starts_with("HOMESERVER_DOMAIN is `"), "{e}");
    }
    assert!(WebhooksConfig::from_vars(vars(&[("HOMESERVER_DOMAIN", "example.org")])).is_ok());
    assert!(WebhooksConfig::from_vars(vars(&[("HOMESERVER_DOMAIN", "localhost:8448")])).is_ok());
}

#[test]
fn unknown_variables_are_named() {
    assert_eq!(
        error(&[("WEBHOOKS_OUTBOUND_ALOW", "10.0.0.1")]),
        "unknown environment variable WEBHOOKS_OUTBOUND_ALOW; did you mean WEBHOOKS_OUTBOUND_ALLOW?"
    );
    assert_eq!(
        error(&[("WEBHOOKS_SOMETHING_ELSE", "1")]),
        "unknown environment variable WEBHOOKS_SOMETHING_ELSE"
    );
    // Other programs' variables are not the bot's business.
    assert!(WebhooksConfig::from_vars(vars(&[("PATH", "/bin"), ("WEBHOOK", "x")])).is_ok());
}

#[test]
fn the_file_is_read_and_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webhooks.yaml");
    let with = |text: &str| {
        std::fs::write(&path, text).unwrap();
        WebhooksConfig::from_vars(vars(&[("WEBHOOKS_CONFIG", path.to_str().unwrap())]))
    };
    let c = with(
        "rate: 2\nburst: 4\nworkers: 1\noutbound_allow: [127.0.0.1, \"*.internal\"]\noutbound_deny: [10.0.0.0/8]\n",
    )
    .unwrap();
    assert_eq!((c.rate_per_sec, c.burst, c.workers), (2.0, 4, 1));
    assert_eq!(c.outbound_allow[1], HostRule::Subdomains("internal".into()));
    assert_eq!(c.outbound_deny.len(), 1);

    let e = with("rat: 2\n").unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "unknown key `rat` in {}; did you mean rate?",
            path.display()
        )
    );
    let e = with("colour: blue\n").unwrap_err().to_string();
    assert_eq!(e, format!("unknown key `colour` in {}", path.display()));
    let e = with("rate: .inf\n").unwrap_err().to_string();
    assert!(e.starts_with("rate is `inf`, expected"), "{e}");
    let e = with("burst: -1\n").unwrap_err().to_string();
    assert!(e.starts_with("burst is `-1`, expected"), "{e}");
    let e = with("rate: [1]\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
    // An empty file is the defaults.
    assert_eq!(with("").unwrap().burst, 20);

    // The environment goes over the file.
    std::fs::write(&path, "rate: 2\n").unwrap();
    let c = WebhooksConfig::from_vars(vars(&[
        ("WEBHOOKS_CONFIG", path.to_str().unwrap()),
        ("WEBHOOKS_RATE", "3"),
    ]))
    .unwrap();
    assert_eq!(c.rate_per_sec, 3.0);
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let e = WebhooksConfig::from_vars(vars(&[("WEBHOOKS_CONFIG", "/nonexistent/webhooks.yaml")]))
        .unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "cannot read the config file /nonexistent/webhooks.yaml (WEBHOOKS_CONFIG)"
    );
}

#[test]
fn settings_made_in_code_are_checked_too() {
    assert!(WebhooksConfig::default().validate().is_ok());
    let bad = [
        WebhooksConfig {
            rate_per_sec: f64::INFINITY,
            ..WebhooksConfig::default()
        },
        WebhooksConfig {
            rate_per_sec: -1.0,
            ..WebhooksConfig::default()
        },
        WebhooksConfig {
            burst: 0,
            ..WebhooksConfig::default()
        },
        WebhooksConfig {
            workers: 0,
            ..WebhooksConfig::default()
        },
        WebhooksConfig {
            outbound_attempts: 0,
            ..WebhooksConfig::default()
        },
    ];
    for c in bad {
        assert!(
            matches!(c.validate(), Err(ConfigError::Invalid { .. })),
            "{c:?}"
        );
    }
}

#[test]
fn nearest_finds_typos_only() {
    use ghostkit::config::nearest;
    assert_eq!(nearest("max_bdy", FILE_KEYS), Some("max_body"));
    assert_eq!(nearest("Listen", FILE_KEYS), Some("listen"));
    assert_eq!(nearest("zzzzzz", FILE_KEYS), None);
}
