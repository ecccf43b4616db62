//! The client against the fault-injecting fake homeserver: retries, waits,
//! txnId reuse, masquerading parameters, local refusals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ghostkit::client::{
    Client, ClientConfig, ClientError, RetryEvent, RetryHook, RetryPolicy, RetryReason,
};
use ghostkit::ruma::common::{room_id, user_id};
use ghostkit::testing::{FakeHomeserver, FakeOptions, FakeReply};
use serde_json::{json, Value};

use crate::client::registration;

/// A client of `hs` with `policy`, recording every retry.
fn client_for(hs: &FakeHomeserver, policy: RetryPolicy) -> (Client, Arc<Mutex<Vec<RetryEvent>>>) {
    client_with(&hs.url(), policy, Duration::from_secs(10))
}

fn client_with(
    url: &str,
    retry: RetryPolicy,
    request_timeout: Duration,
) -> (Client, Arc<Mutex<Vec<RetryEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let config = ClientConfig {
        retry,
        request_timeout,
        on_retry: Some(RetryHook::new(move |e| {
            sink.lock().unwrap().push(e.clone())
        })),
        ..Default::default()
    };
    let client = Client::with_config(url, registration(), config).unwrap();
    client.set_server_name(ghostkit::ruma::common::server_name!("localhost"));
    (client, events)
}

fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        jitter: 0.5,
        ..Default::default()
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_ms_waits_and_reuses_the_txn_id() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/send/", [FakeReply::rate_limited_ms(300)]);
    let (client, retries) = client_for(&hs, quick_policy());
    let ghost = client.as_user(user_id!("@_client_rl:localhost")).unwrap();

    let event_id = ghost
        .send_text(room_id!("!r:localhost"), "hello")
        .await
        .unwrap();

    let sends = hs.requests_to("/send/");
    assert_eq!(sends.len(), 2, "one 429, one success");
    assert_eq!(sends[0].path, sends[1].path, "the retry reused the txnId");
    assert_eq!(sends[1].json().unwrap()["body"], "hello");
    let gap = sends[1].at - sends[0].at;
    assert!(gap >= Duration::from_millis(300), "waited {gap:?}");
    let retries = retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].wait, Duration::from_millis(300));
    assert_eq!(
        retries[0].reason,
        RetryReason::RateLimited {
            retry_after: Some(Duration::from_millis(300))
        }
    );
    assert!(event_id.as_str().starts_with("$fake"));
    hs.stop().await;
}

#[tokio::test]
async fn rate_limit_with_retry_after_header_waits_the_seconds() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/send/", [FakeReply::rate_limited_header(1)]);
    let (client, retries) = client_for(&hs, quick_policy());

    client
        .as_bot()
        .send_notice(room_id!("!r:localhost"), "n")
        .await
        .unwrap();

    let sends = hs.requests_to("/send/");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].path, sends[1].path);
    assert!(sends[1].at - sends[0].at >= Duration::from_secs(1));
    assert_eq!(retries.lock().unwrap()[0].wait, Duration::from_secs(1));
    hs.stop().await;
}

#[tokio::test]
async fn server_errors_back_off_then_succeed_for_safe_requests() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script(
        "/state",
        [
            FakeReply::error(503, "M_UNKNOWN", "busy"),
            FakeReply::error(502, "M_UNKNOWN", "bad gateway"),
        ],
    );
    let (client, retries) = client_for(&hs, quick_policy());

    let state = client.as_bot().state(room_id!("!r:localhost")).await;
    // The default answer is `{}`, not a list: the third attempt reached the
    // decoder, which shows the two errors were retried.
    assert!(
        matches!(state, Err(ClientError::Decode { .. })),
        "{state:?}"
    );
    assert_eq!(hs.requests_to("/state").len(), 3);
    let retries = retries.lock().unwrap().clone();
    assert_eq!(
        retries.iter().map(|r| r.reason).collect::<Vec<_>>(),
        vec![
            RetryReason::ServerError { status: 503 },
            RetryReason::ServerError { status: 502 }
        ]
    );
    // Exponential backoff with jitter: within [nominal/2, nominal].
    assert!(
        retries[0].wait >= Duration::from_millis(25)
            && retries[0].wait <= Duration::from_millis(50)
    );
    assert!(
        retries[1].wait >= Duration::from_millis(50)
            && retries[1].wait <= Duration::from_millis(100)
    );
    hs.stop().await;
}

#[tokio::test]
async fn server_errors_are_not_retried_for_unsafe_requests() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/knock/", [FakeReply::error(503, "M_UNKNOWN", "busy")]);
    let (client, retries) = client_for(&hs, quick_policy());

    let room = room_id!("!knock:localhost");
    let err = client
        .as_bot()
        .knock(room.into(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(hs.requests_to("/knock/").len(), 1);
    assert!(retries.lock().unwrap().is_empty());
    hs.stop().await;
}

#[tokio::test]
async fn a_failed_create_room_looks_for_its_room_before_asking_again() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/createRoom", [FakeReply::error(503, "M_UNKNOWN", "busy")]);
    let (client, retries) = client_for(&hs, quick_policy());

    client
        .as_bot()
        .create_room(&Default::default())
        .await
        .unwrap();
    let paths: Vec<String> = hs
        .requests()
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap_or("").to_owned())
        .collect();
    // The fake's joined rooms hold no room with the request's ID: asked again.
    assert_eq!(paths.first().map(String::as_str), Some("createRoom"));
    assert_eq!(paths.last().map(String::as_str), Some("createRoom"));
    assert!(paths.iter().any(|p| p == "joined_rooms"), "{paths:?}");
    assert_eq!(hs.requests_to("/createRoom").len(), 2);
    // Both carried the same creation ID.
    let ids: Vec<Value> = hs
        .requests_to("/createRoom")
        .iter()
        .filter_map(|r| r.json())
        .map(|b| b["creation_content"][ghostkit::client::rooms::CREATION_ID_KEY].clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].is_string() && ids[0] == ids[1], "{ids:?}");
    assert_eq!(retries.lock().unwrap().len(), 1);
    hs.stop().await;
}

#[tokio::test]
async fn a_timed_out_send_is_retried_with_the_same_txn_id() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script(
        "/send/",
        [FakeReply::ok(json!({"event_id": "$late"})).delayed(Duration::from_secs(3))],
    );
    let (client, retries) = client_with(&hs.url(), quick_policy(), Duration::from_millis(400));

    client
        .as_bot()
        .send_text(room_id!("!r:localhost"), "slow")
        .await
        .unwrap();

    let sends = hs.requests_to("/send/");
    assert_eq!(sends.len(), 2);
    assert_eq!(
        sends[0].path, sends[1].path,
        "same txnId: no duplicate message"
    );
    assert_eq!(retries.lock().unwrap()[0].reason, RetryReason::Timeout);
    hs.stop().await;
}

#[tokio::test]
async fn attempts_are_bounded() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script(
        "/send/",
        vec![FakeReply::error(504, "M_UNKNOWN", "timeout"); 10],
    );
    let policy = RetryPolicy {
        max_attempts: 3,
        ..quick_policy()
    };
    let (client, retries) = client_for(&hs, policy);

    let err = client
        .as_bot()
        .send_text(room_id!("!r:localhost"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(hs.requests_to("/send/").len(), 3);
    assert_eq!(retries.lock().unwrap().len(), 2);
    hs.stop().await;
}

#[tokio::test]
async fn total_time_is_bounded() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/send/", vec![FakeReply::rate_limited_ms(400); 5]);
    let policy = RetryPolicy {
        max_attempts: 10,
        max_total: Duration::from_millis(600),
        ..quick_policy()
    };
    let (client, _) = client_for(&hs, policy);

    let err = client
        .as_bot()
        .send_text(room_id!("!r:localhost"), "x")
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some("M_LIMIT_EXCEEDED"));
    // 0 ms: 429, wait 400; ~400 ms: 429, a second wait would end past 600 ms.
    assert_eq!(hs.requests_to("/send/").len(), 2);
    hs.stop().await;
}

#[tokio::test]
async fn a_rate_limit_longer_than_allowed_is_returned_at_once() {
    let hs = FakeHomeserver::start().await.unwrap();
    hs.script("/send/", [FakeReply::rate_limited_ms(120_000)]);
    let policy = RetryPolicy {
        max_rate_limit_wait: Duration::from_secs(60),
        ..quick_policy()
    };
    let (client, retries) = client_for(&hs, policy);

    let err = client
        .as_bot()
        .send_text(room_id!("!r:localhost"), "x")
        .await
        .unwrap_err();
    let ClientError::Matrix(m) = err else {
        panic!("expected a Matrix error, got {err:?}")
    };
    assert_eq!(m.status, 429);
    assert_eq!(m.errcode, "M_LIMIT_EXCEEDED");
    assert_eq!(m.retry_after_ms, Some(120_000));
    assert!(m.body.contains("retry_after_ms"));
    assert_eq!(hs.requests_to("/send/").len(), 1);
    assert!(retries.lock().unwrap().is_empty());
    hs.stop().await;
}

#[tokio::test]
async fn connection_errors_are_retried_even_for_posts() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy = RetryPolicy {
        max_attempts: 3,
        ..quick_policy()
    };
    let (client, retries) = client_with(
        &format!("http://127.0.0.1:{port}"),
        policy,
        Duration::from_secs(2),
    );

    let err = client
        .as_bot()
        .create_room(&Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Http { .. }), "{err:?}");
    let retries = retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 2);
    assert!(retries.iter().all(|r| r.reason == RetryReason::Connect));
}

#[tokio::test]
async fn thirty_seconds_of_refused_connections_are_ridden_out_by_the_default_policy() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (client, retries) = client_with(
        &format!("http://127.0.0.1:{port}"),
        RetryPolicy::default(),
        Duration::from_secs(10),
    );
    let send = tokio::spawn(async move {
        client
            .as_bot()
            .send_text(room_id!("!r:localhost"), "through the outage")
            .await
    });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!send.is_finished(), "still retrying after 30 s");
    let hs = FakeHomeserver::start_with(FakeOptions {
        port,
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(60), send)
        .await
        .expect("the send ends once the homeserver is back")
        .unwrap();
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(hs.requests_to("/send/").len(), 1, "one send reached it");
    let retries = retries.lock().unwrap().clone();
    assert!(retries.len() >= 5, "{} retries", retries.len());
    assert!(retries.iter().all(|r| r.reason == RetryReason::Connect));
    hs.stop().await;
}

#[tokio::test]
async fn masquerading_parameters_are_sent() {
    let hs = FakeHomeserver::start().await.unwrap();
    let (client, _) = client_for(&hs, quick_policy());
    let room = room_id!("!r:localhost");
    let ghost = client
        .as_user(user_id!("@_client_masq:localhost"))
        .unwrap()
        .with_device("DEV1")
        .with_ts(1_600_000_000_000);

    ghost.send_text(room, "old").await.unwrap();
    ghost
        .send_state(room, "m.room.topic", "", &json!({"topic": "t"}))
        .await
        .unwrap();
    ghost.joined_rooms().await.unwrap_err(); // `{}` is not a list; the request is what matters

    let reqs = hs.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.query_value("user_id"), Some("@_client_masq:localhost"));
        assert_eq!(r.query_value("device_id"), Some("DEV1"));
        assert_eq!(r.query_value("org.matrix.msc3202.device_id"), Some("DEV1"));
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer client_as_token_5f2a8c1e9b3d7f0a4e6c")
        );
    }
    assert_eq!(reqs[0].query_value("ts"), Some("1600000000000"));
    assert_eq!(reqs[1].query_value("ts"), Some("1600000000000"));
    assert_eq!(
        reqs[2].query_value("ts"),
        None,
        "ts only on sends and state"
    );
    assert!(reqs[1].path.ends_with("/state/m.room.topic/"));
    hs.stop().await;
}

#[tokio::test]
async fn acting_outside_the_namespace_fails_locally() {
    let hs = FakeHomeserver::start().await.unwrap();
    let (client, _) = client_for(&hs, quick_policy());

    let err = client.as_user(user_id!("@alice:localhost")).unwrap_err();
    assert!(
        matches!(err, ClientError::NotInNamespace { ref user_id } if user_id == "@alice:localhost")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("@alice:localhost") && msg.contains("namespace"),
        "{msg}"
    );
    // A ghost of another appservice's namespace.
    let err = client
        .as_user(user_id!("@_ghost_bob:localhost"))
        .unwrap_err();
    assert!(matches!(err, ClientError::NotInNamespace { .. }));
    // And through an intent.
    let store = ghostkit::Store::temporary().unwrap();
    let err = ghostkit::Intent::new(&client, &store, user_id!("@mallory:localhost")).unwrap_err();
    assert!(matches!(
        err,
        ghostkit::IntentError::Client(ClientError::NotInNamespace { .. })
    ));
    assert_eq!(hs.request_count(), 0, "nothing was sent");
    hs.stop().await;
}
