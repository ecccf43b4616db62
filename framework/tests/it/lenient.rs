//! Contents Synapse accepts and clients show, with optional fields of the
//! wrong type, reach the typed handler methods instead of being dropped.

use std::sync::{Arc, Mutex};

use ghostkit::prelude::*;
use serde_json::json;

use crate::common::{call, put_txn, service, txn, wait_until, Options, Stack, PATIENCE};

#[derive(Default)]
struct Typed {
    calls: Mutex<Vec<(String, &'static str, String)>>,
}

impl Typed {
    fn push(&self, ctx: &Context, via: &'static str, what: String) {
        let id = ctx
            .event()
            .event_id()
            .map(|e| e.to_string())
            .unwrap_or_default();
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, via, what));
    }
}

#[ghostkit::async_trait]
impl Handler for Typed {
    async fn on_message(&self, ctx: &Context, content: RoomMessageEventContent) -> HandlerResult {
        self.push(ctx, "on_message", content.body().to_owned());
        Ok(())
    }
    async fn on_membership(&self, ctx: &Context, content: RoomMemberEventContent) -> HandlerResult {
        self.push(ctx, "on_membership", content.membership.to_string());
        Ok(())
    }
    async fn on_other(&self, ctx: &Context) -> HandlerResult {
        self.push(ctx, "on_other", String::new());
        Ok(())
    }
    async fn on_state(&self, ctx: &Context) -> HandlerResult {
        self.push(ctx, "on_state", String::new());
        Ok(())
    }
}

fn event(
    id: &str,
    event_type: &str,
    state_key: Option<&str>,
    content: serde_json::Value,
) -> serde_json::Value {
    let mut e = json!({
        "type": event_type, "event_id": id, "room_id": "!r:x.org",
        "sender": "@mallory:x.org", "origin_server_ts": 1, "content": content,
    });
    if let Some(k) = state_key {
        e["state_key"] = k.into();
    }
    e
}

#[actix_web::test]
async fn wrong_optional_fields_do_not_hide_messages_or_joins() {
    let dir = tempfile::tempdir().unwrap();
    let typed = Arc::new(Typed::default());
    let stack = Stack::open(dir.path(), typed.clone(), Options::default()).await;
    let app = service!(stack.state.clone());
    let member = |id, content| event(id, "m.room.member", Some("@mallory:x.org"), content);
    let message = |id, content| event(id, "m.room.message", None, content);
    let events = [
        member("$join1", json!({"membership": "join", "is_direct": "yes"})),
        member("$join2", json!({"membership": "join", "reason": 5})),
        message(
            "$m1",
            json!({"msgtype": "m.text", "body": "bad mentions", "m.mentions": "x"}),
        ),
        message(
            "$m2",
            json!({"msgtype": "m.text", "body": "bad user id",
            "m.mentions": {"user_ids": ["not a user id"]}}),
        ),
        message(
            "$m3",
            json!({"msgtype": "m.text", "body": "two bad fields",
            "m.mentions": 1, "m.relates_to": "x"}),
        ),
        // Required fields of the wrong type: still delivered, as raw events.
        message("$m4", json!({"msgtype": "m.text", "body": 7})),
        member("$join3", json!({"membership": ["join"]})),
    ];
    call(&app, put_txn("1", txn(&events)).to_request())
        .await
        .assert_empty_ok();
    assert!(
        wait_until(PATIENCE, || typed
            .calls
            .lock()
            .map(|c| c.len())
            .unwrap_or(0)
            == 7)
        .await
    );
    let calls = typed.calls.lock().unwrap().clone();
    let want: Vec<(String, &'static str, String)> = [
        ("$join1", "on_membership", "join"),
        ("$join2", "on_membership", "join"),
        ("$m1", "on_message", "bad mentions"),
        ("$m2", "on_message", "bad user id"),
        ("$m3", "on_message", "two bad fields"),
        ("$m4", "on_other", ""),
        ("$join3", "on_state", ""),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b, c.to_owned()))
    .collect();
    assert_eq!(calls, want);
}
