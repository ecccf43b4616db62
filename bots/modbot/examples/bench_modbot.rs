//! Benchmark: 200 protected rooms × 50 members, a 5,000-rule list, and the
//! time and requests to apply one new user rule across every room, against
//! ghostkit's in-process fake homeserver (our side only).
//!
//! ```text
//! cargo run --release -p ghostkit-modbot --features testing --example bench_modbot [ROOMS MEMBERS RULES]
//! ```

use std::sync::Arc;
use std::time::Instant;

use ghostkit::client::{Client, ClientConfig};
use ghostkit::testing::{FakeHomeserver, FakeOptions, FakeReply};
use ghostkit::{AppContext, Registration, Store};
use modbot::model::{save_model, ListMeta, Model};
use modbot::rules::{EntityKind, PolicyChange, Rule, RuleKey};
use modbot::{ModBot, ModConfig};
use serde_json::json;

const REGISTRATION: &str = r#"
id: bench-modbot
url: null
as_token: bench_as_token
hs_token: bench_hs_token
sender_localpart: modbot
namespaces:
  users:
    - {regex: '@modbot:bench', exclusive: true}
"#;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rooms = args.first().copied().unwrap_or(200);
    let members = args.get(1).copied().unwrap_or(50);
    let n_rules = args.get(2).copied().unwrap_or(5000);

    let hs = FakeHomeserver::start_with(FakeOptions {
        workers: 2,
        record: false,
        ..FakeOptions::default()
    })
    .await?;
    let mgmt = "!mgmt:bench".to_owned();
    let list = "!list:bench".to_owned();
    let room_ids: Vec<String> = (0..rooms).map(|r| format!("!room{r}:bench")).collect();

    // Members: 49 locals per room, plus one user in every room (the target).
    for (r, room) in room_ids.iter().enumerate() {
        let mut chunk: Vec<_> = (1..members)
            .map(|i| member(&format!("@u{r}_{i}:bench"), "join"))
            .collect();
        chunk.push(member("@target:elsewhere", "join"));
        hs.script(
            &format!("/rooms/{}/members", encode(room)),
            [FakeReply::ok(json!({ "chunk": chunk }))],
        );
    }
    hs.script(
        &format!("/rooms/{}/members", encode(&mgmt)),
        [FakeReply::ok(
            json!({ "chunk": [member("@moderator:bench", "join")] }),
        )],
    );
    // The list: mostly exact users, 1% user globs, 1% servers.
    let state: Vec<_> = (0..n_rules)
        .map(|i| {
            let (ty, entity) = match i % 100 {
                0 => ("m.policy.rule.user", format!("@spam{i}*:evil")),
                1 => ("m.policy.rule.server", format!("evil{i}.example")),
                _ => ("m.policy.rule.user", format!("@bad{i}:evil")),
            };
            json!({"type": ty, "state_key": format!("rule:{entity}"), "event_id": format!("$r{i}"),
                   "sender": "@curator:bench", "origin_server_ts": 0,
                   "content": {"entity": entity, "recommendation": "m.ban", "reason": "bench"}})
        })
        .collect();
    hs.script(
        &format!("/rooms/{}/state", encode(&list)),
        [FakeReply::ok(json!(state))],
    );

    let reg = Arc::new(Registration::from_yaml(REGISTRATION)?);
    let client = Client::with_config(&hs.url(), reg.clone(), ClientConfig::default())?;
    client.set_server_name(ghostkit::ruma::common::server_name!("bench"));
    let store = Store::temporary()?;
    let mut model = Model {
        protected_rooms: room_ids.iter().cloned().collect(),
        ..Default::default()
    };
    model.lists.insert(list.clone(), ListMeta::default());
    save_model(&store, &model).await?;
    let app = AppContext::new(
        client,
        store,
        reg,
        ghostkit::ruma::common::server_name!("bench").to_owned(),
    )?;

    let mut config = ModConfig::new(mgmt);
    config.max_concurrent_requests = 16;
    let bot = ModBot::new(config, &app);
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let before = hs.request_count();
    bot.init().await;
    let init = t0.elapsed();
    let init_requests = hs.request_count() - before;
    let rss1 = rss_kib();
    let engine = bot.engine();
    println!(
        "setup: {rooms} rooms × {members} members, {} rules loaded",
        engine.rule_count()
    );
    println!(
        "start-up (read members once, read list, write ACLs): {:.3} s, {init_requests} requests, RSS +{} KiB (total {} KiB)",
        init.as_secs_f64(),
        rss1.saturating_sub(rss0),
        rss1
    );

    // The measured step: one new exact user rule arrives.
    let rule = Rule {
        key: RuleKey {
            list: list.clone(),
            event_type: "m.policy.rule.user".into(),
            state_key: "rule:@target:elsewhere".into(),
        },
        kind: EntityKind::User,
        entity: "@target:elsewhere".into(),
        reason: "ban evasion".into(),
    };
    let bans0 = engine.stats().bans.get();
    let before = hs.request_count();
    let t1 = Instant::now();
    engine.apply_change(PolicyChange::Set(rule)).await;
    let apply = t1.elapsed();
    let reqs = hs.request_count() - before;
    let bans = engine.stats().bans.get() - bans0;
    println!(
        "new exact user rule: {bans} bans in {:.3} s, {reqs} requests (bans + 1 log notice), {:.0} bans/s",
        apply.as_secs_f64(),
        bans as f64 / apply.as_secs_f64()
    );

    // A glob rule matching nobody: matching cost only.
    let glob = Rule {
        key: RuleKey {
            list: list.clone(),
            event_type: "m.policy.rule.user".into(),
            state_key: "rule:@nobody*:nowhere".into(),
        },
        kind: EntityKind::User,
        entity: "@nobody*:nowhere".into(),
        reason: String::new(),
    };
    let before = hs.request_count();
    let t2 = Instant::now();
    engine.apply_change(PolicyChange::Set(glob)).await;
    println!(
        "new glob rule matching nobody: {:.3} ms, {} requests",
        t2.elapsed().as_secs_f64() * 1000.0,
        hs.request_count() - before
    );

    // Matching every cached member against every rule (what `sync` does).
    let t3 = Instant::now();
    let targets = engine.targets_for_everything();
    println!(
        "full sweep of {} members against {} rules: {:.3} ms ({} targets)",
        rooms * members,
        n_rules + 2,
        t3.elapsed().as_secs_f64() * 1000.0,
        targets.len()
    );
    println!("RSS at end: {} KiB", rss_kib());
    hs.stop().await;
    Ok(())
}

fn member(user: &str, membership: &str) -> serde_json::Value {
    json!({"type": "m.room.member", "state_key": user, "sender": user, "event_id": format!("$m{user}"),
           "origin_server_ts": 0, "content": {"membership": membership}})
}
