use super::*;

#[test]
fn an_ip_literal_or_localhost_is_listened_on_as_written() {
    for (url, addr) in [
        ("http://127.0.0.1:9000", "127.0.0.1:9000"),
        ("http://localhost:9001", "127.0.0.1:9001"),
        ("http://[::1]:9002", "[::1]:9002"),
        ("http://10.1.2.3", "10.1.2.3:80"),
        ("https://192.168.0.5", "192.168.0.5:443"),
    ] {
        let b = bind_address(Some(url)).expect(url);
        assert_eq!(b.addr.to_string(), addr, "{url}");
        assert_eq!(b.host_name, None, "{url}: no warning");
    }
}

#[test]
fn a_host_name_listens_on_all_interfaces_and_says_so() {
    let b = bind_address(Some("http://modbot:9014")).expect("a host name");
    assert_eq!(b.addr, SocketAddr::from(([0, 0, 0, 0], 9014)));
    assert_eq!(b.host_name.as_deref(), Some("modbot"));
    let b = bind_address(Some("https://bot.example.org")).expect("a host name");
    assert_eq!(b.addr.port(), 443);
    assert_eq!(b.host_name.as_deref(), Some("bot.example.org"));
}

#[test]
fn no_url_is_nowhere_to_listen() {
    assert!(matches!(
        bind_address(None),
        Err(AppserviceError::NoBind(_))
    ));
    assert!(matches!(
        bind_address(Some("not a url")),
        Err(AppserviceError::NoBind(_))
    ));
}

#[test]
fn an_empty_server_name_is_refused() {
    for bad in [
        "",
        " ",
        "example.org ",
        "a b",
        "@echo:example.org",
        "exa mple",
    ] {
        let err = check_server_name(bad).expect_err(bad);
        assert!(
            err.to_string().contains("GHOSTKIT_HOMESERVER_DOMAIN"),
            "{err}"
        );
    }
    for good in [
        "example.org",
        "localhost",
        "localhost:8448",
        "127.0.0.1",
        "[::1]:8448",
    ] {
        check_server_name(good).expect(good);
    }
}

#[tokio::test]
async fn start_refuses_an_empty_server_name_before_anything_else() {
    struct Quiet;
    impl Handler for Quiet {}
    let reg = Registration::from_yaml(
        "id: x\nurl: null\nas_token: a\nhs_token: h\nsender_localpart: echo\nnamespaces: {}\n",
    )
    .expect("valid");
    let dir = std::env::temp_dir().join(format!("ghostkit-empty-domain-{}", std::process::id()));
    let mut config = Config::new("http://127.0.0.1:1", &dir);
    config.server_name = Some(String::new());
    let err = Appservice::new(reg, config)
        .start(Quiet)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, AppserviceError::BadServerName(s) if s.is_empty()),
        "{err}"
    );
    assert!(!dir.exists(), "no store was opened");
}
