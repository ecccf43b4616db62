//! Transaction bodies: not JSON, the wrong shape, too large (with and without
//! Content-Length, over a real socket), malformed items, slow acknowledgement.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpMessage};
use ghostkit::server::ServerConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{one_event, stack_with};
use crate::common::{
    self, call, message, put_txn, service, txn, wait_until, Options, Recorder, Stack, HS_TOKEN,
    PATIENCE,
};

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
        body_timeout: Duration::from_millis(400),
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

    // A body that never ends: 408 once its time is up, and nothing kept.
    let started = std::time::Instant::now();
    let answer = raw_chunked(addr, &head("slow"), &body_of_size(500), false, "M_UNKNOWN").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    assert!(
        started.elapsed() < PATIENCE,
        "answered at the deadline, not at the test's"
    );
    assert_eq!(rec.event_ids(), ["$big"]);

    handle.stop(false).await;
}

#[actix_web::test]
async fn an_overlong_transaction_id_is_400_invalid_param() {
    let rec = Arc::new(Recorder::default());
    let (_dir, stack) = stack_with(rec.clone(), ServerConfig::default()).await;
    let app = service!(stack.state.clone());
    let long = "t".repeat(1025);
    let reply = call(&app, put_txn(&long, one_event("$long")).to_request()).await;
    reply.assert_error(400, "M_INVALID_PARAM");
    assert_eq!(stack.log.remembered_transactions(), 0, "nothing was logged");
    // At the bound, accepted.
    let at_bound = "t".repeat(1024);
    call(&app, put_txn(&at_bound, one_event("$ok")).to_request())
        .await
        .assert_empty_ok();
    rec.wait_for_event("$ok").await;
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
