//! The HTTP side: auth, bad input, size limits, routes and answers.

use std::sync::Arc;
use std::time::Duration;

use actix_web::test::TestRequest;
use actix_web::{web, App, HttpMessage};
use ghostkit::server::ServerConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    self, authed, call, get, message, put_txn, service, txn, wait_until, Answers, Options,
    Recorder, Stack, HS_TOKEN, PATIENCE,
};

/// A stack with `recorder` as the handler, on a fresh temporary store.
async fn stack_with(recorder: Arc<Recorder>, server: ServerConfig) -> (tempfile::TempDir, Stack) {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::open(
        dir.path(),
        recorder,
        Options {
            server,
            ..Options::default()
        },
    )
    .await;
    (dir, stack)
}

fn one_event(id: &str) -> Vec<u8> {
    txn(&[message(id, "!room:x.org", "hi")])
}

// --- auth ---

#[actix_web::test]
async fn missing_token_is_401() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    let req = TestRequest::put()
        .uri("/_matrix/app/v1/transactions/1")
        .set_payload(one_event("$a"));
    call(&app, req.to_request())
        .await
        .assert_error(401, "M_UNAUTHORIZED");
    let req = TestRequest::get().uri("/_matrix/app/v1/users/@_e_a:x.org");
    call(&app, req.to_request())
        .await
        .assert_error(401, "M_UNAUTHORIZED");
    let req = TestRequest::post().uri("/_matrix/app/v1/ping");
    call(&app, req.to_request())
        .await
        .assert_error(401, "M_UNAUTHORIZED");

    // The refused transaction was not remembered: it goes through once authorized.
    call(&app, put_txn("1", one_event("$a")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$a").await;
    assert!(rec.queries().is_empty(), "no query reached the handler");
}

#[actix_web::test]
async fn wrong_header_token_is_403() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    for token in [
        "wrong",
        "hs_secret_token_for_test",
        "hs_secret_token_for_testsX",
    ] {
        let req = TestRequest::put()
            .uri("/_matrix/app/v1/transactions/1")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_payload(one_event("$a"));
        call(&app, req.to_request())
            .await
            .assert_error(403, "M_FORBIDDEN");
    }
    // The as_token is not the hs_token.
    let req = TestRequest::get()
        .uri("/_matrix/app/v1/users/@_e_a:x.org")
        .insert_header(("Authorization", "Bearer as_secret_token_for_tests"));
    call(&app, req.to_request())
        .await
        .assert_error(403, "M_FORBIDDEN");
    // A wrong query token alone is forbidden too.
    let req = TestRequest::put()
        .uri("/_matrix/app/v1/transactions/1?access_token=wrong")
        .set_payload(one_event("$a"));
    call(&app, req.to_request())
        .await
        .assert_error(403, "M_FORBIDDEN");

    call(&app, put_txn("1", one_event("$a")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$a").await;
    assert_eq!(rec.event_ids(), ["$a"]);
}

#[actix_web::test]
async fn correct_header_or_query_token_is_accepted() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    call(&app, put_txn("h", one_event("$header")).to_request())
        .await
        .assert_empty_ok();
    // The scheme is case-insensitive in practice.
    let req = TestRequest::put()
        .uri("/_matrix/app/v1/transactions/lower")
        .insert_header(("Authorization", format!("bearer {HS_TOKEN}")))
        .set_payload(one_event("$lower"));
    call(&app, req.to_request()).await.assert_empty_ok();
    // The deprecated query parameter only.
    let req = TestRequest::put()
        .uri(&format!(
            "/_matrix/app/v1/transactions/q?access_token={HS_TOKEN}"
        ))
        .set_payload(one_event("$query"));
    call(&app, req.to_request()).await.assert_empty_ok();
    // Both, equal.
    let req = authed(TestRequest::put().uri(&format!(
        "/_matrix/app/v1/transactions/both?access_token={HS_TOKEN}"
    )))
    .set_payload(one_event("$both"));
    call(&app, req.to_request()).await.assert_empty_ok();

    rec.wait_for(4).await;
    let mut ids = rec.event_ids();
    ids.sort();
    assert_eq!(ids, ["$both", "$header", "$lower", "$query"]);
}

#[actix_web::test]
async fn header_and_query_that_differ_are_403() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    // Correct header, wrong query, and the other way round.
    let req = authed(TestRequest::put().uri("/_matrix/app/v1/transactions/1?access_token=other"))
        .set_payload(one_event("$a"));
    call(&app, req.to_request())
        .await
        .assert_error(403, "M_FORBIDDEN");
    let req = TestRequest::put()
        .uri(&format!(
            "/_matrix/app/v1/transactions/1?access_token={HS_TOKEN}"
        ))
        .insert_header(("Authorization", "Bearer other"))
        .set_payload(one_event("$a"));
    call(&app, req.to_request())
        .await
        .assert_error(403, "M_FORBIDDEN");

    // Nothing was dispatched: a sentinel is the first event the handler sees.
    call(&app, put_txn("2", one_event("$sentinel")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$sentinel").await;
    assert_eq!(rec.event_ids(), ["$sentinel"]);
}

#[actix_web::test]
async fn malformed_authorization_header_is_401() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec, ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    for header in [
        format!("Basic {HS_TOKEN}"),
        format!("Token {HS_TOKEN}"),
        HS_TOKEN.to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer    ".to_owned(),
        String::new(),
    ] {
        let req = TestRequest::put()
            .uri("/_matrix/app/v1/transactions/1")
            .insert_header(("Authorization", header.as_str()))
            .set_payload(one_event("$a"));
        let reply = call(&app, req.to_request()).await;
        assert_eq!(reply.status, 401, "for {header:?}");
        reply.assert_error(401, "M_UNAUTHORIZED");
    }
    // A header that is not even valid text.
    let req = TestRequest::put()
        .uri("/_matrix/app/v1/transactions/1")
        .insert_header((
            "Authorization",
            actix_web::http::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        ))
        .set_payload(one_event("$a"));
    call(&app, req.to_request())
        .await
        .assert_error(401, "M_UNAUTHORIZED");
}

// --- bad input ---

#[actix_web::test]
async fn malformed_json_is_400_not_json() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    for body in [
        &b"not json"[..],
        b"{\"events\":[",
        b"{\"events\":[]",
        b"",
        b"{\"events\":[]} trailing",
        b"\xff\xfe",
    ] {
        let reply = call(&app, put_txn("1", body).to_request()).await;
        assert_eq!(reply.status, 400, "for {:?}", String::from_utf8_lossy(body));
        reply.assert_error(400, "M_NOT_JSON");
    }
    // None of them was remembered: txnId 1 is still new.
    call(&app, put_txn("1", one_event("$ok")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$ok").await;
    assert_eq!(stack.log.pending_transactions(), 0);
}

#[actix_web::test]
async fn json_of_the_wrong_shape_is_400_bad_json() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    for body in [
        "[]",
        "[[]]",
        "{\"events\":5}",
        "{}",
        "{\"events\":null}",
        "{\"events\":{}}",
        "{\"events\":[],\"ephemeral\":{}}",
        "{\"events\":[],\"events\":[]}",
        "null",
        "42",
        "\"events\"",
    ] {
        let reply = call(&app, put_txn("1", body).to_request()).await;
        assert_eq!(reply.status, 400, "for {body}");
        reply.assert_error(400, "M_BAD_JSON");
    }
    call(&app, put_txn("1", one_event("$ok")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$ok").await;
    assert_eq!(rec.event_ids(), ["$ok"]);
}

/// A transaction body of at least `size` bytes (padding in the content).
fn body_of_size(size: usize) -> Vec<u8> {
    let mut ev = message("$big", "!room:x.org", "");
    ev["content"]["body"] = json!("x".repeat(size));
    txn(&[ev])
}

#[actix_web::test]
async fn oversized_body_is_413_with_and_without_content_length() {
    let rec = Arc::new(Recorder::default());
    let config = ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    };
    let (_dir, stack) = stack_with(rec.clone(), config).await;
    let app = service!(stack.state.clone());

    // With Content-Length: refused from the header.
    let req = put_txn("1", body_of_size(2000)).to_request();
    assert!(req
        .headers()
        .contains_key(actix_web::http::header::CONTENT_LENGTH));
    call(&app, req).await.assert_error(413, "M_TOO_LARGE");

    // Without Content-Length: refused while reading.
    let mut req = put_txn("1", body_of_size(2000)).to_request();
    req.headers_mut()
        .remove(actix_web::http::header::CONTENT_LENGTH);
    call(&app, req).await.assert_error(413, "M_TOO_LARGE");

    // A lying Content-Length does not get a big body past the limit either.
    let mut req = put_txn("1", body_of_size(2000)).to_request();
    req.headers_mut().insert(
        actix_web::http::header::CONTENT_LENGTH,
        actix_web::http::header::HeaderValue::from_static("10"),
    );
    call(&app, req).await.assert_error(413, "M_TOO_LARGE");

    // Just under the limit is fine, and txnId 1 was not remembered.
    let body = body_of_size(700);
    assert!(body.len() <= 1024);
    call(&app, put_txn("1", body).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$big").await;
}

/// Writes `head` then `body` in HTTP/1.1 chunks to `addr`; returns the raw answer
/// (read until `until` appears, the connection closes, or 5 s pass).
async fn raw_chunked(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
    finish: bool,
    until: &str,
) -> String {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(100) {
        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
        piece.extend_from_slice(chunk);
        piece.extend_from_slice(b"\r\n");
        if sock.write_all(&piece).await.is_err() {
            break; // the server answered early and closed
        }
    }
    if finish {
        let _ = sock.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&answer).contains(until) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn chunked_bodies_over_a_real_socket() {
    let rec = Arc::new(Recorder::default());
    let config = ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    };
    let (_dir, stack) = stack_with(rec.clone(), config).await;
    let state = stack.state.clone();
    let server = actix_web::HttpServer::new(move || {
        App::new()
            .configure(ghostkit::server::configure(state.clone()))
            .default_service(web::to(ghostkit::server::unrecognized))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let head = |txn_id: &str| {
        format!(
            "PUT /_matrix/app/v1/transactions/{txn_id} HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {HS_TOKEN}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
    };
    // Over the limit, no Content-Length: 413 as soon as the limit is passed.
    let answer = raw_chunked(
        addr,
        &head("big"),
        &body_of_size(3000),
        false,
        "M_TOO_LARGE",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"errcode\":\"M_TOO_LARGE\""), "{answer}");

    // Under the limit, chunked: accepted and dispatched.
    let answer = raw_chunked(addr, &head("small"), &body_of_size(500), true, "{}").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    rec.wait_for_event("$big").await;
    assert_eq!(rec.event_ids(), ["$big"]);

    handle.stop(false).await;
}

#[actix_web::test]
async fn one_malformed_event_is_skipped_and_the_rest_handled() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    let mut no_event_id = message("$x", "!room:x.org", "x");
    no_event_id.as_object_mut().unwrap().remove("event_id");
    let mut bad_room = message("$badroom", "room-without-sigil", "x");
    bad_room["room_id"] = json!("room-without-sigil");
    let mut bad_sender = message("$badsender", "!room:x.org", "x");
    bad_sender["sender"] = json!("alice");
    let mut no_type = message("$notype", "!room:x.org", "x");
    no_type.as_object_mut().unwrap().remove("type");
    let body = txn(&[
        message("$1", "!room:x.org", "one"),
        json!(42),
        no_event_id,
        message("$2", "!room:x.org", "two"),
        bad_room,
        bad_sender,
        no_type,
        json!({"type": 5, "event_id": "$t", "room_id": "!room:x.org", "sender": "@a:x.org"}),
        message("$3", "!other:x.org", "three"),
    ]);
    call(&app, put_txn("mixed", body).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for(3).await;
    // A sentinel in each room shows nothing else is on its way.
    let body = txn(&[
        message("$s1", "!room:x.org", "s"),
        message("$s2", "!other:x.org", "s"),
    ]);
    call(&app, put_txn("sentinel", body).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$s1").await;
    rec.wait_for_event("$s2").await;
    let mut ids = rec.event_ids();
    ids.sort();
    assert_eq!(ids, ["$1", "$2", "$3", "$s1", "$s2"]);
    assert!(wait_until(PATIENCE, || stack.log.pending_transactions() == 0).await);
}

// --- routes ---

#[actix_web::test]
async fn unknown_paths_and_wrong_methods_are_unrecognized() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec, ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    for uri in [
        "/_matrix/app/v1/nope",
        "/_matrix/app/v2/transactions/1",
        "/_matrix/app/v1/transactions",
        "/_matrix/app",
        "/somewhere/else",
    ] {
        let reply = call(&app, get(uri).to_request()).await;
        assert_eq!(reply.status, 404, "for {uri}");
        reply.assert_error(404, "M_UNRECOGNIZED");
    }
    // Unknown paths are unrecognized even without credentials.
    let req = TestRequest::get().uri("/_matrix/app/v1/nope").to_request();
    call(&app, req).await.assert_error(404, "M_UNRECOGNIZED");

    let wrong_method = [
        TestRequest::get().uri("/_matrix/app/v1/transactions/1"),
        TestRequest::post().uri("/_matrix/app/v1/transactions/1"),
        TestRequest::put().uri("/_matrix/app/v1/users/@_e_a:x.org"),
        TestRequest::delete().uri("/_matrix/app/v1/rooms/%23_e_a:x.org"),
        TestRequest::get().uri("/_matrix/app/v1/ping"),
        TestRequest::post().uri("/_matrix/app/v1/thirdparty/protocol/irc"),
        TestRequest::post().uri("/health/live"),
    ];
    for req in wrong_method {
        let req = authed(req).to_request();
        let what = format!("{} {}", req.method(), req.path());
        let reply = call(&app, req).await;
        assert_eq!(reply.status, 405, "for {what}");
        reply.assert_error(405, "M_UNRECOGNIZED");
    }
}

#[actix_web::test]
async fn legacy_routes_follow_the_option() {
    let rec = Arc::new(Recorder::with(Answers {
        user_exists: true,
        protocol: Some(json!({"user_fields": []})),
        ..Answers::default()
    }));
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());
    let req = authed(TestRequest::put().uri("/transactions/legacy1")).set_payload(one_event("$l"));
    call(&app, req.to_request()).await.assert_empty_ok();
    rec.wait_for_event("$l").await;
    call(&app, get("/users/@_e_a:x.org").to_request())
        .await
        .assert_empty_ok();
    let reply = call(
        &app,
        get("/_matrix/app/unstable/thirdparty/protocol/irc").to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    // The legacy and the v1 route share the dedupe.
    call(&app, put_txn("legacy1", one_event("$l")).to_request())
        .await
        .assert_empty_ok();

    let rec = Arc::new(Recorder::with(Answers {
        user_exists: true,
        protocol: Some(json!({})),
        ..Answers::default()
    }));
    let config = ServerConfig {
        legacy_routes: false,
        ..ServerConfig::default()
    };
    let (_dir2, stack2) = stack_with(rec.clone(), config).await;
    let app = service!(stack2.state.clone());
    let req = authed(TestRequest::put().uri("/transactions/legacy2")).set_payload(one_event("$m"));
    call(&app, req.to_request())
        .await
        .assert_error(404, "M_UNRECOGNIZED");
    for uri in [
        "/users/@_e_a:x.org",
        "/rooms/%23_e_a:x.org",
        "/_matrix/app/unstable/thirdparty/protocol/irc",
    ] {
        call(&app, get(uri).to_request())
            .await
            .assert_error(404, "M_UNRECOGNIZED");
    }
    // v1 still works, and the refused legacy transaction was never dispatched.
    call(&app, put_txn("v1", one_event("$v1")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$v1").await;
    assert_eq!(rec.event_ids(), ["$v1"]);
    assert!(rec.queries().is_empty());
}

#[actix_web::test]
async fn user_query() {
    let no = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(no.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());
    // Outside the namespace: 404 without asking the handler.
    call(&app, get("/_matrix/app/v1/users/@alice:x.org").to_request())
        .await
        .assert_error(404, "M_NOT_FOUND");
    call(
        &app,
        get("/_matrix/app/v1/users/@_e_a:x.org.evil").to_request(),
    )
    .await
    .assert_error(404, "M_NOT_FOUND");
    assert!(no.queries().is_empty());
    // In the namespace, the handler says no.
    call(&app, get("/_matrix/app/v1/users/@_e_a:x.org").to_request())
        .await
        .assert_error(404, "M_NOT_FOUND");
    assert_eq!(no.queries().len(), 1);
    // Not a user ID at all.
    call(&app, get("/_matrix/app/v1/users/alice").to_request())
        .await
        .assert_error(400, "M_INVALID_PARAM");

    let yes = Arc::new(Recorder::with(Answers {
        user_exists: true,
        ..Answers::default()
    }));
    let (_dir2, stack2) = stack_with(yes.clone(), ServerConfig::default()).await;
    let app = service!(stack2.state.clone());
    call(
        &app,
        get("/_matrix/app/v1/users/%40_e_a%3Ax.org").to_request(),
    )
    .await
    .assert_empty_ok();
    call(&app, get("/_matrix/app/v1/users/@alice:x.org").to_request())
        .await
        .assert_error(404, "M_NOT_FOUND");
    let q = yes.queries();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].method, "query_user");
    assert_eq!(q[0].subject.as_deref(), Some("@_e_a:x.org"));
}

#[actix_web::test]
async fn room_alias_query() {
    let no = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(no.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());
    call(
        &app,
        get("/_matrix/app/v1/rooms/%23elsewhere:x.org").to_request(),
    )
    .await
    .assert_error(404, "M_NOT_FOUND");
    assert!(no.queries().is_empty());
    call(
        &app,
        get("/_matrix/app/v1/rooms/%23_e_r:x.org").to_request(),
    )
    .await
    .assert_error(404, "M_NOT_FOUND");
    assert_eq!(no.queries().len(), 1);

    let yes = Arc::new(Recorder::with(Answers {
        alias_exists: true,
        ..Answers::default()
    }));
    let (_dir2, stack2) = stack_with(yes.clone(), ServerConfig::default()).await;
    let app = service!(stack2.state.clone());
    call(
        &app,
        get("/_matrix/app/v1/rooms/%23_e_r:x.org").to_request(),
    )
    .await
    .assert_empty_ok();
    call(
        &app,
        get("/_matrix/app/v1/rooms/%23other:x.org").to_request(),
    )
    .await
    .assert_error(404, "M_NOT_FOUND");
    let q = yes.queries();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].method, "query_room_alias");
    assert_eq!(q[0].subject.as_deref(), Some("#_e_r:x.org"));
}

#[actix_web::test]
async fn thirdparty_lookups() {
    let results = vec![json!({"alias": "#_e_r:x.org", "protocol": "irc", "fields": {}})];
    let full = Arc::new(Recorder::with(Answers {
        protocol: Some(json!({"user_fields": ["nick"], "location_fields": ["channel"]})),
        results: results.clone(),
        ..Answers::default()
    }));
    let (_dir, stack) = stack_with(full.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    let reply = call(
        &app,
        get("/_matrix/app/v1/thirdparty/protocol/irc").to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["user_fields"], json!(["nick"]));

    for uri in [
        "/_matrix/app/v1/thirdparty/location/irc?channel=%23chat",
        "/_matrix/app/v1/thirdparty/user/irc?nick=bob",
        "/_matrix/app/v1/thirdparty/location?alias=%23_e_r:x.org",
        "/_matrix/app/v1/thirdparty/user?userid=@_e_bob:x.org",
    ] {
        let reply = call(&app, get(uri).to_request()).await;
        assert_eq!(reply.status, 200, "for {uri}");
        assert_eq!(reply.json(), json!(results), "for {uri}");
    }
    // Reverse lookups need their parameter.
    call(
        &app,
        get("/_matrix/app/v1/thirdparty/location?other=1").to_request(),
    )
    .await
    .assert_error(400, "M_MISSING_PARAM");
    call(&app, get("/_matrix/app/v1/thirdparty/user").to_request())
        .await
        .assert_error(400, "M_MISSING_PARAM");
    // The query token is not a lookup field.
    let req = TestRequest::get().uri(&format!(
        "/_matrix/app/v1/thirdparty/user?access_token={HS_TOKEN}"
    ));
    call(&app, req.to_request())
        .await
        .assert_error(400, "M_MISSING_PARAM");

    let strip = |q: &crate::common::Query| (q.method, q.subject.clone(), q.fields.clone());
    let q: Vec<_> = full.queries().iter().map(strip).collect();
    let s = |v: &str| Some(v.to_owned());
    let f = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    assert_eq!(
        q,
        vec![
            ("thirdparty_protocol", s("irc"), vec![]),
            ("thirdparty_location", s("irc"), f("channel", "#chat")),
            ("thirdparty_user", s("irc"), f("nick", "bob")),
            ("thirdparty_location", None, f("alias", "#_e_r:x.org")),
            ("thirdparty_user", None, f("userid", "@_e_bob:x.org")),
        ]
    );

    let empty = Arc::new(Recorder::default());
    let (_dir2, stack2) = stack_with(empty, ServerConfig::default()).await;
    let app = service!(stack2.state.clone());
    for uri in [
        "/_matrix/app/v1/thirdparty/protocol/irc",
        "/_matrix/app/v1/thirdparty/location/irc?channel=x",
        "/_matrix/app/v1/thirdparty/user/irc?nick=x",
        "/_matrix/app/v1/thirdparty/location?alias=%23a:x.org",
        "/_matrix/app/v1/thirdparty/user?userid=@a:x.org",
    ] {
        let reply = call(&app, get(uri).to_request()).await;
        assert_eq!(reply.status, 404, "for {uri}");
        reply.assert_error(404, "M_NOT_FOUND");
    }
}

#[actix_web::test]
async fn ping_answers_empty_object() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec, ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    let req = authed(TestRequest::post().uri("/_matrix/app/v1/ping"))
        .set_json(json!({"transaction_id": "mautrix-go_1"}));
    call(&app, req.to_request()).await.assert_empty_ok();
    let req = authed(TestRequest::post().uri("/_matrix/app/v1/ping"));
    call(&app, req.to_request()).await.assert_empty_ok();
    let req = authed(TestRequest::post().uri("/_matrix/app/v1/ping")).set_payload("{");
    call(&app, req.to_request())
        .await
        .assert_error(400, "M_NOT_JSON");
    let req = authed(TestRequest::post().uri("/_matrix/app/v1/ping")).set_payload("[]");
    call(&app, req.to_request())
        .await
        .assert_error(400, "M_BAD_JSON");
}

#[actix_web::test]
async fn health_endpoints() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec, ServerConfig::default()).await;
    let app = service!(stack.state.clone());

    // No credentials needed.
    let reply = call(&app, TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "live");

    let reply = call(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["backlog"], 0);
    assert_eq!(v["pending_transactions"], 0);

    stack.state.set_ready(false);
    let reply = call(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["status"], "starting");
    stack.state.set_ready(true);
    let reply = call(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(reply.status, 200);
}

#[actix_web::test]
async fn configure_leaves_the_users_own_routes_alone() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = actix_web::test::init_service(
        App::new()
            .configure(ghostkit::server::configure(stack.state.clone()))
            .route("/my/route", web::get().to(|| async { "still mine" }))
            .service(web::scope("/_matrix/mine").route("/x", web::get().to(|| async { "x" }))),
    )
    .await;

    let reply = call(&app, TestRequest::get().uri("/my/route").to_request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"still mine");
    let reply = call(&app, TestRequest::get().uri("/_matrix/mine/x").to_request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"x");

    // The appservice routes work beside them.
    call(&app, put_txn("1", one_event("$mine")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$mine").await;
    let req = authed(TestRequest::post().uri("/_matrix/app/v1/ping"));
    call(&app, req.to_request()).await.assert_empty_ok();
    call(&app, get("/_matrix/app/v1/nope").to_request())
        .await
        .assert_error(404, "M_UNRECOGNIZED");
    // Outside /_matrix/app the user's app decides (actix's plain 404 here).
    let reply = call(&app, TestRequest::get().uri("/not/mine").to_request()).await;
    assert_eq!(reply.status, 404);
}

#[actix_web::test]
async fn slow_handler_delays_the_acknowledgement() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let handler = common::FnHandler::new(move |_ev| {
        let g = g.clone();
        async move {
            g.acquire().await?.forget();
            Ok(())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    opts.dispatch.max_backlog = 1;
    let stack = Stack::open(dir.path(), handler, opts).await;
    let app = service!(stack.state.clone());

    call(&app, put_txn("1", one_event("$1")).to_request())
        .await
        .assert_empty_ok();
    let second = call(&app, put_txn("2", one_event("$2")).to_request());
    tokio::pin!(second);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut second)
            .await
            .is_err(),
        "the second transaction was acknowledged while the backlog was full"
    );
    assert_eq!(stack.router.backlog(), 1);
    gate.add_permits(1);
    tokio::time::timeout(PATIENCE, &mut second)
        .await
        .expect("acknowledged once the handler progressed")
        .assert_empty_ok();
    gate.add_permits(1);
    assert!(wait_until(PATIENCE, || stack.router.backlog() == 0).await);
    assert_eq!(
        stack
            .router
            .stats()
            .handled
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}
