//! `Authorization: Bearer`, the `access_token` query parameter, and their errors.

use std::sync::Arc;

use actix_web::test::TestRequest;
use ghostkit::server::ServerConfig;

use super::{one_event, stack_with};
use crate::common::{authed, call, put_txn, service, Recorder, HS_TOKEN};

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
