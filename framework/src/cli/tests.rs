use super::*;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("bot").chain(args.iter().copied())).expect("parses")
}

#[test]
fn an_empty_homeserver_domain_is_refused() {
    let cli = parse(&["--homeserver-domain", ""]);
    let err = homeserver_domain(cli.homeserver_domain, None).expect_err("refused");
    assert!(matches!(&err, AppserviceError::BadServerName(s) if s.is_empty()));
    let text = err.to_string();
    assert!(
        text.contains("HOMESERVER_DOMAIN") && text.contains("example.org"),
        "{text}"
    );
    // Set but empty in the environment, whatever the parser made of it.
    let err = homeserver_domain(None, Some(OsStr::new(""))).expect_err("refused");
    assert!(matches!(err, AppserviceError::BadServerName(_)));
    assert!(homeserver_domain(Some(String::new()), Some(OsStr::new(""))).is_err());
}

#[test]
fn a_homeserver_domain_that_is_not_a_server_name_is_refused() {
    for bad in [" ", "example.org/", "a b", "@echo:example.org"] {
        let cli = parse(&["--homeserver-domain", bad]);
        assert!(
            homeserver_domain(cli.homeserver_domain, None).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn a_good_or_absent_homeserver_domain_is_kept() {
    let cli = parse(&["--homeserver-domain", "example.org"]);
    assert_eq!(
        homeserver_domain(cli.homeserver_domain, None).expect("valid"),
        Some("example.org".to_owned())
    );
    assert_eq!(homeserver_domain(None, None).expect("unset"), None);
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
