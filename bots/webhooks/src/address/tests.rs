//! Tests of `address`.

use super::*;
use std::collections::HashMap;

/// Answers from a table; anything else is "not found".
#[derive(Debug, Default)]
struct Table(std::sync::Mutex<HashMap<String, Vec<IpAddr>>>);

impl Table {
    fn set(&self, host: &str, addrs: &[&str]) {
        self.0.lock().unwrap().insert(
            host.to_owned(),
            addrs.iter().map(|a| a.parse().unwrap()).collect(),
        );
    }
}

impl Lookup for Table {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let found = self.0.lock().unwrap().get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        })
    }
}

fn rules(list: &[&str]) -> Vec<HostRule> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

fn guard(allow: &[&str], deny: &[&str]) -> (AddressGuard, Arc<Table>) {
    let table = Arc::new(Table::default());
    let g = AddressGuard::with_lookup(&rules(allow), &rules(deny), table.clone());
    (g, table)
}

#[test]
fn every_internal_form_of_a_literal_is_refused() {
    let (g, _) = guard(&[], &[]);
    for url in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.0.0.1.:8080/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:192.168.0.1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[ff02::1]/",
        "https://[2001::1]/",
    ] {
        let e = g.check_url(url).unwrap_err();
        assert!(matches!(e, AddressError::Internal { .. }), "{url}: {e:?}");
    }
}

#[test]
fn public_literals_and_other_schemes() {
    let (g, _) = guard(&[], &[]);
    for url in [
        "http://93.184.215.14/",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/",
        "http://172.32.0.1/",
        "http://100.128.0.1/",
    ] {
        assert!(g.check_url(url).is_ok(), "{url}");
    }
    assert_eq!(
        g.check_url("ftp://example.org/").unwrap_err(),
        AddressError::Scheme("ftp".into())
    );
    assert!(matches!(
        g.check_url("file:///etc/passwd").unwrap_err(),
        AddressError::Scheme(_)
    ));
    assert!(matches!(
        g.check_url("not a url").unwrap_err(),
        AddressError::NotAUrl(_)
    ));
}

#[tokio::test]
async fn names_are_judged_by_every_address_they_resolve_to() {
    let (g, t) = guard(&[], &[]);
    t.set("public.test", &["93.184.215.14"]);
    t.set("localhost", &["127.0.0.1", "::1"]);
    t.set("mixed.test", &["93.184.215.14", "10.0.0.7"]);
    t.set("mapped.test", &["::ffff:127.0.0.1"]);
    assert!(g.check_new("https://public.test/hook").await.is_ok());
    for url in [
        "http://localhost:8080/",
        "http://LOCALHOST./",
        "http://mixed.test/",
        "http://mapped.test/",
    ] {
        let e = g.check_new(url).await.unwrap_err();
        assert!(matches!(e, AddressError::Internal { .. }), "{url}: {e:?}");
    }
    assert!(matches!(
        g.check_new("http://nowhere.test/").await.unwrap_err(),
        AddressError::Lookup { .. }
    ));
    t.set("empty.test", &[]);
    assert!(matches!(
        g.check_new("http://empty.test/").await.unwrap_err(),
        AddressError::NoAddress(_)
    ));
}

#[tokio::test]
async fn the_resolver_refuses_a_name_that_turned_internal() {
    use reqwest::dns::Resolve as _;
    let (g, t) = guard(&[], &[]);
    t.set("rebind.test", &["93.184.215.14"]);
    assert!(g.check_new("http://rebind.test/").await.is_ok());
    let r = g.resolver();
    let addrs: Vec<SocketAddr> = r
        .resolve("rebind.test".parse().unwrap())
        .await
        .unwrap()
        .collect();
    assert_eq!(addrs, vec!["93.184.215.14:0".parse().unwrap()]);
    // The name now points at the loopback interface.
    t.set("rebind.test", &["127.0.0.1"]);
    let e = match r.resolve("rebind.test".parse().unwrap()).await {
        Ok(_) => panic!("a loopback address was let through"),
        Err(e) => e,
    };
    let e = e.downcast::<AddressError>().unwrap();
    assert!(matches!(*e, AddressError::Internal { .. }), "{e:?}");
}

#[tokio::test]
async fn the_resolver_is_what_the_http_client_connects_through() {
    let (g, t) = guard(&[], &[]);
    t.set("rebind.test", &["127.0.0.1"]);
    let http = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(g.resolver())
        .build()
        .unwrap();
    let e = http.get("http://rebind.test:9/").send().await.unwrap_err();
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    let mut found = false;
    while let Some(s) = source {
        found |= s.downcast_ref::<AddressError>().is_some();
        source = s.source();
    }
    assert!(found, "{e:?}");
}

#[tokio::test]
async fn the_allow_list_opens_and_the_deny_list_closes() {
    let (g, t) = guard(
        &["10.1.0.0/16", "hooks.internal", "::1"],
        &["10.1.2.3", "*.evil.test", "93.184.215.0/24"],
    );
    t.set("hooks.internal", &["10.9.9.9"]);
    t.set("other.internal", &["10.9.9.9"]);
    t.set("a.evil.test", &["8.8.8.8"]);
    t.set("public.test", &["93.184.215.14"]);
    assert!(g.check_url("http://10.1.0.1/").is_ok());
    assert!(g.check_url("http://[::1]:8080/").is_ok());
    assert!(g.check_url("http://[::ffff:10.1.0.1]/").is_ok());
    assert!(g.check_new("http://hooks.internal/").await.is_ok());
    assert!(matches!(
        g.check_new("http://other.internal/").await.unwrap_err(),
        AddressError::Internal { .. }
    ));
    // Still internal, and not in the allowed network.
    assert!(g.check_url("http://127.0.0.1/").is_err());
    // Deny beats allow.
    assert_eq!(
        g.check_url("http://10.1.2.3/").unwrap_err(),
        AddressError::Denied("10.1.2.3".into())
    );
    assert!(matches!(
        g.check_url("http://a.evil.test/").unwrap_err(),
        AddressError::Denied(_)
    ));
    assert!(matches!(
        g.check_new("http://public.test/").await.unwrap_err(),
        AddressError::Denied(_)
    ));
    // `*.` covers subdomains only.
    t.set("evil.test", &["8.8.8.8"]);
    assert!(g.check_new("http://evil.test/").await.is_ok());
}

#[test]
fn messages_say_what_and_how() {
    let (g, _) = guard(&[], &[]);
    let e = g.check_url("http://0x7f000001/").unwrap_err().to_string();
    assert_eq!(
        e,
        "127.0.0.1 is a loopback address, which webhooks may not reach (the operator can allow it with outbound_allow)"
    );
}
