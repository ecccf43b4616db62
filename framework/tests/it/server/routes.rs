//! Every route: unknown paths and methods, legacy routes, queries, third-party
//! lookups, ping, health, and mounting beside a bot's own routes.

use std::sync::Arc;

use actix_web::test::TestRequest;
use actix_web::{web, App};
use ghostkit::server::ServerConfig;
use serde_json::json;

use super::{one_event, stack_with};
use crate::common::{authed, call, get, put_txn, service, Answers, Recorder, HS_TOKEN};

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
        protocol: Some(
            json!({"user_fields": ["nick"], "location_fields": ["channel"], "icon": "mxc://x.org/i", "field_types": {}, "instances": []}),
        ),
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
        protocol: Some(
            json!({"user_fields": ["nick"], "location_fields": ["channel"], "icon": "mxc://x.org/i", "field_types": {}, "instances": []}),
        ),
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
    let locations =
        vec![json!({"alias": "#_e_r:x.org", "protocol": "irc", "fields": {"channel": "#r"}})];
    let users =
        vec![json!({"userid": "@_e_bob:x.org", "protocol": "irc", "fields": {"nick": "bob"}})];
    let full = Arc::new(Recorder::with(Answers {
        protocol: Some(
            json!({"user_fields": ["nick"], "location_fields": ["channel"], "icon": "mxc://x.org/i", "field_types": {}, "instances": []}),
        ),
        locations: locations.clone(),
        users: users.clone(),
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

    for (uri, expected) in [
        (
            "/_matrix/app/v1/thirdparty/location/irc?channel=%23chat",
            &locations,
        ),
        ("/_matrix/app/v1/thirdparty/user/irc?nick=bob", &users),
        (
            "/_matrix/app/v1/thirdparty/location?alias=%23_e_r:x.org",
            &locations,
        ),
        (
            "/_matrix/app/v1/thirdparty/user?userid=@_e_bob:x.org",
            &users,
        ),
    ] {
        let reply = call(&app, get(uri).to_request()).await;
        assert_eq!(reply.status, 200, "for {uri}");
        assert_eq!(reply.json(), json!(expected), "for {uri}");
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
async fn a_failing_lookup_is_a_500_not_an_empty_answer() {
    // Answers that are not a protocol, a location or a user make the
    // handler fail.
    let broken = Arc::new(Recorder::with(Answers {
        protocol: Some(json!({"user_fields": "nick"})),
        locations: vec![json!({"alias": "not an alias"})],
        users: vec![json!({"userid": 5})],
        ..Answers::default()
    }));
    let (_dir, stack) = stack_with(broken, ServerConfig::default()).await;
    let app = service!(stack.state.clone());
    for uri in [
        "/_matrix/app/v1/thirdparty/protocol/irc",
        "/_matrix/app/v1/thirdparty/location/irc?channel=x",
        "/_matrix/app/v1/thirdparty/user/irc?nick=x",
        "/_matrix/app/v1/thirdparty/location?alias=%23a:x.org",
        "/_matrix/app/v1/thirdparty/user?userid=@a:x.org",
    ] {
        call(&app, get(uri).to_request())
            .await
            .assert_error(500, "M_UNKNOWN");
    }
}
