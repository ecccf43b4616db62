use super::*;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("bot").chain(args.iter().copied())).expect("parses")
}

fn settings_after(args: &[&str]) -> Settings<()> {
    let mut settings = Settings::default();
    parse(args).apply(&mut settings);
    settings
}

#[test]
fn flags_go_over_the_settings() {
    let s = settings_after(&[
        "--homeserver-url",
        "http://hs:8008",
        "--homeserver-domain",
        "example.org",
        "--registration",
        "r.yaml",
        "--store",
        "s",
        "--bind",
        "127.0.0.1:9001",
        "--dispatch-order",
        "per_sender",
        "--metrics",
        "off",
        "--log-format",
        "json",
        "--start-empty-if-damaged",
    ]);
    assert_eq!(s.homeserver_url, "http://hs:8008");
    assert_eq!(s.homeserver_domain.as_deref(), Some("example.org"));
    assert_eq!(s.registration, Some(PathBuf::from("r.yaml")));
    assert_eq!(s.store, Some(PathBuf::from("s")));
    assert_eq!(s.bind.as_deref(), Some("127.0.0.1:9001"));
    assert_eq!(s.dispatch.order.as_deref(), Some("per_sender"));
    assert_eq!(s.metrics, "off");
    assert_eq!(s.log_format, "json");
    assert!(s.start_empty_if_damaged);
    // What the flags set, the appservice's config reads back.
    let config = s.appservice_config("bot").expect("valid");
    assert_eq!(config.dispatch.order, Some(DispatchOrder::PerSender));
    assert_eq!(config.metrics, MetricsConfig::Off);
    // No flag leaves every setting alone.
    assert_eq!(settings_after(&[]), Settings::default());
}

#[test]
fn a_homeserver_domain_that_is_not_a_server_name_is_refused() {
    for bad in ["", " ", "example.org/", "a b", "@echo:example.org"] {
        let s = settings_after(&["--homeserver-domain", bad]);
        let e = s.server_name().expect_err(bad);
        assert!(e.to_string().contains("homeserver_domain"), "{e}");
        assert!(s.appservice_config("bot").is_err(), "{bad:?}");
    }
    let s = settings_after(&["--homeserver-domain", "example.org"]);
    assert_eq!(
        s.server_name().expect("valid").as_deref(),
        Some("example.org")
    );
    assert_eq!(
        Settings::<()>::default().server_name().expect("unset"),
        None
    );
}

#[test]
fn bind_is_an_address() {
    let cli = parse(&["--bind", "127.0.0.1:9000"]);
    assert_eq!(cli.bind, Some(SocketAddr::from(([127, 0, 0, 1], 9000))));
    assert!(Cli::try_parse_from(["bot", "--bind", "nowhere"]).is_err());
}

#[test]
fn log_format_is_a_flag_of_every_command() {
    assert_eq!(parse(&[]).log_format, None);
    assert_eq!(
        parse(&["--log-format", "json"]).log_format,
        Some(LogFormat::Json)
    );
    // Global: also after a subcommand.
    assert_eq!(
        parse(&["check-registration", "--log-format", "text"]).log_format,
        Some(LogFormat::Text)
    );
    let bad = Cli::try_parse_from(["bot", "--log-format", "yaml"]).expect_err("refused");
    assert!(bad.to_string().contains("json"), "{bad}");
}

#[test]
fn version_is_the_bots_then_ghostkits() {
    let info = BotInfo {
        id: "quiet",
        sender_localpart: "quiet",
        user_prefix: None,
        alias_prefix: None,
        port: 9000,
        version: "2.0.1",
    };
    let err = Cli::command()
        .name(info.id)
        .version(info.version_text())
        .try_get_matches_from(["quiet", "--version"])
        .expect_err("--version stops the parse");
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(err.to_string().trim(), info.version_line());
}

#[test]
fn an_error_line_adds_causes_not_yet_said() {
    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Said(#[source] std::io::Error);
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Unsaid(#[source] std::io::Error);
    let io = || std::io::Error::other("disk full");
    assert_eq!(error_line("bot", &Said(io())), "bot: outer: disk full");
    assert_eq!(error_line("bot", &Unsaid(io())), "bot: outer: disk full");
}

#[test]
fn metrics_says_where_metrics_are_served() {
    use crate::metrics::MetricsConfig;
    assert_eq!(parse(&[]).metrics, None);
    assert_eq!(
        parse(&["--metrics", "off"]).metrics,
        Some(MetricsConfig::Off)
    );
    assert_eq!(
        parse(&["--metrics", "app"]).metrics,
        Some(MetricsConfig::AppListener)
    );
    assert_eq!(
        parse(&["--metrics", "127.0.0.1:9100"]).metrics,
        Some(MetricsConfig::Listener(([127, 0, 0, 1], 9100).into()))
    );
    let err = Cli::try_parse_from(["bot", "--metrics", "everywhere"]).expect_err("refused");
    assert!(err.to_string().contains("everywhere"), "{err}");
}
