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
