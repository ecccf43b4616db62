//! Modbot against the fault-injecting fake homeserver: rate limits are
//! waited out, a room where bans are forbidden is reported and skipped, and
//! nothing is read from the homeserver to apply a new rule.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ghostkit::client::{Client, ClientConfig, RetryPolicy};
use ghostkit::testing::{FakeHomeserver, FakeReply};
use ghostkit::{AppContext, Registration, Store};
use modbot::model::{save_model, ListMeta, Model};
use modbot::rules::{EntityKind, PolicyChange, Rule, RuleKey};
use modbot::{ModBot, ModConfig};
use serde_json::{json, Value};

const REGISTRATION: &str = r#"
id: fake-modbot
url: null
as_token: fake_as_token
hs_token: fake_hs_token
sender_localpart: modbot
namespaces:
  users:
    - {regex: '@modbot:fake', exclusive: true}
"#;

fn member(user: &str) -> Value {
    json!({"type": "m.room.member", "state_key": user, "sender": user, "event_id": "$m",
           "origin_server_ts": 0, "content": {"membership": "join"}})
}

fn enc(s: &str) -> String {
    s.replace('!', "%21").replace(':', "%3A")
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_forbidden_rooms_skipped() -> Result<()> {
    let hs = FakeHomeserver::start().await?;
    let rooms: Vec<String> = (0..3).map(|i| format!("!r{i}:fake")).collect();
    for r in &rooms {
        hs.script(
            &format!("/rooms/{}/members", enc(r)),
            [FakeReply::ok(
                json!({"chunk": [member("@bad:evil"), member("@ok:fake")]}),
            )],
        );
    }
    hs.script(
        "/rooms/%21mgmt%3Afake/members",
        [FakeReply::ok(json!({"chunk": [member("@mod:fake")]}))],
    );
    hs.script("/rooms/%21list%3Afake/state", [FakeReply::ok(json!([]))]);
    let reg = Arc::new(Registration::from_yaml(REGISTRATION)?);
    let config = ClientConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            ..Default::default()
        },
        ..Default::default()
    };
    let client = Client::with_config(&hs.url(), reg.clone(), config)?;
    client.set_server_name(ghostkit::ruma::common::server_name!("fake"));
    let store = Store::temporary()?;
    let mut model = Model {
        protected_rooms: rooms.iter().cloned().collect(),
        ..Default::default()
    };
    model.lists.insert("!list:fake".into(), ListMeta::default());
    save_model(&store, &model).await?;
    let app = AppContext::new(
        client,
        store,
        reg,
        ghostkit::ruma::common::server_name!("fake").to_owned(),
    )?;
    let bot = ModBot::new(ModConfig::new("!mgmt:fake"), &app);
    bot.init().await;

    hs.reset();
    hs.script("/rooms/%21r0%3Afake/ban", [FakeReply::rate_limited_ms(200)]);
    hs.script(
        "/rooms/%21r1%3Afake/ban",
        [FakeReply::error(403, "M_FORBIDDEN", "not allowed")],
    );
    let rule = Rule {
        key: RuleKey {
            list: "!list:fake".into(),
            event_type: "m.policy.rule.user".into(),
            state_key: "rule:@bad:evil".into(),
        },
        kind: EntityKind::User,
        entity: "@bad:evil".into(),
        reason: "troll".into(),
    };
    bot.engine().apply_change(PolicyChange::Set(rule)).await;

    let bans = hs.requests_to("/ban");
    // r0: 429 then success; r1: forbidden (not retried); r2: success.
    assert_eq!(bans.len(), 4, "{bans:?}");
    assert!(bans
        .iter()
        .all(|b| b.json().is_some_and(|j| j["user_id"] == "@bad:evil")));
    assert_eq!(bot.engine().stats().bans.get(), 2);
    assert!(
        hs.requests_to("/members").is_empty() && hs.requests_to("/state").is_empty(),
        "a new rule reads nothing from the homeserver"
    );
    let notices: Vec<String> = hs
        .requests_to("/send/m.room.message")
        .iter()
        .filter_map(|r| r.json())
        .filter_map(|j| j["body"].as_str().map(str::to_owned))
        .collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("cannot ban @bad:evil in !r1:fake")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("banned @bad:evil in 2 room(s)")),
        "{notices:?}"
    );
    hs.stop().await;
    Ok(())
}

fn user_rule(entity: &str) -> PolicyChange {
    PolicyChange::Set(Rule {
        key: RuleKey {
            list: "!list:fake".into(),
            event_type: "m.policy.rule.user".into(),
            state_key: format!("rule:{entity}"),
        },
        kind: EntityKind::User,
        entity: entity.into(),
        reason: "list says so".into(),
    })
}

/// Remote members cannot join rooms of the real Synapse in the tests: the
/// fake homeserver has seven members of `evil` in a protected room.
#[tokio::test]
async fn list_rules_reaching_more_than_the_limit_wait_and_small_ones_apply() -> Result<()> {
    let hs = FakeHomeserver::start().await?;
    let evil: Vec<String> = (1..=7).map(|i| format!("@bad{i}:evil")).collect();
    let mut chunk: Vec<Value> = evil.iter().map(|u| member(u)).collect();
    chunk.push(member("@ok:fake"));
    hs.script(
        "/rooms/%21r0%3Afake/members",
        [FakeReply::ok(json!({ "chunk": chunk }))],
    );
    hs.script(
        "/rooms/%21mgmt%3Afake/members",
        [FakeReply::ok(json!({"chunk": [member("@mod:fake")]}))],
    );
    hs.script("/rooms/%21list%3Afake/state", [FakeReply::ok(json!([]))]);
    let reg = Arc::new(Registration::from_yaml(REGISTRATION)?);
    let client = Client::with_config(&hs.url(), reg.clone(), ClientConfig::default())?;
    client.set_server_name(ghostkit::ruma::common::server_name!("fake"));
    let store = Store::temporary()?;
    let mut model = Model {
        protected_rooms: ["!r0:fake".to_owned()].into_iter().collect(),
        ..Default::default()
    };
    model.lists.insert("!list:fake".into(), ListMeta::default());
    save_model(&store, &model).await?;
    let app = AppContext::new(
        client,
        store,
        reg,
        ghostkit::ruma::common::server_name!("fake").to_owned(),
    )?;
    let bot = ModBot::new(ModConfig::new("!mgmt:fake"), &app);
    bot.init().await;
    hs.reset();

    // Seven members: more than the default five, held.
    bot.engine().apply_change(user_rule("@bad*:evil")).await;
    assert!(hs.requests_to("/ban").is_empty(), "nobody banned yet");
    let notices = || -> Vec<String> {
        hs.requests_to("/send/m.room.message")
            .iter()
            .filter_map(|r| r.json())
            .filter_map(|j| j["body"].as_str().map(str::to_owned))
            .collect()
    };
    let held = notices();
    assert!(
        held.iter().any(|n| n.contains("the rule `@bad*:evil`")
            && n.contains("would ban 7 member(s) in 1 room(s)")
            && n.contains("more than confirm_above_members (5)")
            && !n.contains("own server")
            && n.contains("say `!mod confirm @bad*:evil`")),
        "{held:?}"
    );
    // The same rule again is not said again.
    bot.engine().apply_change(user_rule("@bad*:evil")).await;
    assert_eq!(notices().len(), held.len());
    // A server rule cutting off the same seven is held too: no ACL written.
    bot.engine()
        .apply_change(PolicyChange::Set(Rule {
            key: RuleKey {
                list: "!list:fake".into(),
                event_type: "m.policy.rule.server".into(),
                state_key: "rule:evil".into(),
            },
            kind: EntityKind::Server,
            entity: "evil".into(),
            reason: String::new(),
        }))
        .await;
    assert!(hs.requests_to("m.room.server_acl").is_empty());
    assert!(notices()
        .iter()
        .any(|n| n.contains("the rule `evil`") && n.contains("cut off (server ACL) 7 member(s)")));

    // One member: applied at once.
    bot.engine().apply_change(user_rule("@bad1:evil")).await;
    let bans = hs.requests_to("/ban");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(
        bans[0].json().map(|j| j["user_id"].clone()),
        Some(json!("@bad1:evil"))
    );

    // Confirmed, the held user rule bans the six left.
    let said = bot.engine().confirm_held(Some("@bad*:evil")).await;
    assert_eq!(
        said.map_err(|e| e.to_string()).as_deref(),
        Ok("confirmed and applied `@bad*:evil`")
    );
    assert_eq!(hs.requests_to("/ban").len(), 7);
    assert_eq!(
        bot.engine()
            .confirm_held(Some("@bad*:evil"))
            .await
            .map_err(|e| e.to_string()),
        Err("no rule `@bad*:evil` waits for confirmation".to_owned())
    );
    // The confirmation is remembered for the rule as it is.
    let confirmed = match user_rule("@bad*:evil") {
        PolicyChange::Set(r) => bot.engine().model().is_confirmed(&r),
        PolicyChange::Remove(_) => false,
    };
    assert!(confirmed);
    hs.stop().await;
    Ok(())
}
