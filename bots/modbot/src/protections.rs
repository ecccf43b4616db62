//! Protections: per-room checks on joins and messages of protected rooms.
//!
//! | name | settings (default) | does |
//! |---|---|---|
//! | `flooding` | `max_messages` (10) in `seconds` (10), `action` (`ban`\|`mute`) | bans or mutes the sender and redacts the flood |
//! | `join-wave` | `max_joins` (20) in `seconds` (60) | makes the room invite-only and tells the moderators |
//! | `word-list` | `words` (comma-separated), `minutes` (30) | bans a user who joined less than `minutes` ago and says a listed word; redacts it |
//! | `first-message` | `minutes` (30), `action` (`redact`\|`ban`) | a new joiner's first message is an image, file, video or link: redacts it (and bans) |
//!
//! Each is off by default; `enable <name> [--room R]` turns it on.

use std::collections::{HashMap, HashSet, VecDeque};

use ghostkit::prelude::*;
use serde_json::{json, Value};

use crate::engine::{Engine, Target};
use crate::model::Model;

/// The protections there are, with their default settings.
pub const PROTECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "flooding",
        &[("max_messages", "10"), ("seconds", "10"), ("action", "ban")],
    ),
    ("join-wave", &[("max_joins", "20"), ("seconds", "60")]),
    ("word-list", &[("words", ""), ("minutes", "30")]),
    ("first-message", &[("minutes", "30"), ("action", "redact")]),
];

/// Whether `name` is a protection.
pub fn is_protection(name: &str) -> bool {
    PROTECTIONS.iter().any(|(n, _)| *n == name)
}

/// Whether `key` is a setting of `protection`.
pub fn is_setting(protection: &str, key: &str) -> bool {
    PROTECTIONS
        .iter()
        .any(|(n, s)| *n == protection && s.iter().any(|(k, _)| *k == key))
}

/// Checks a new value for a setting: numbers must be positive integers,
/// `action` one of the actions the protection knows.
pub fn validate_setting(protection: &str, key: &str, value: &str) -> anyhow::Result<()> {
    if !is_setting(protection, key) {
        return Err(anyhow::anyhow!(
            "`{protection}` has no setting `{key}`; see `protections`"
        ));
    }
    let default = default_of(protection, key);
    if default.parse::<u64>().is_ok() && !value.parse::<u64>().is_ok_and(|n| n > 0) {
        return Err(anyhow::anyhow!(
            "`{protection}.{key}` must be a positive whole number"
        ));
    }
    if key == "action" {
        let allowed: &[&str] = match protection {
            "flooding" => &["ban", "mute"],
            _ => &["redact", "ban"],
        };
        if !allowed.contains(&value) {
            return Err(anyhow::anyhow!(
                "`{protection}.action` must be one of: {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn default_of(protection: &str, key: &str) -> &'static str {
    PROTECTIONS
        .iter()
        .find(|(n, _)| *n == protection)
        .and_then(|(_, s)| s.iter().find(|(k, _)| *k == key))
        .map(|(_, v)| *v)
        .unwrap_or("")
}

/// What a protection wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ban the user, redact the events.
    Ban {
        /// Room, user and reason.
        target: Target,
        /// Events to redact.
        redact: Vec<String>,
    },
    /// Mute the user (power level below `events_default`), redact the events.
    Mute {
        /// Room, user and reason.
        target: Target,
        /// Events to redact.
        redact: Vec<String>,
    },
    /// Redact events.
    Redact {
        /// The room.
        room: String,
        /// The events.
        events: Vec<String>,
        /// Why (for the log).
        reason: String,
    },
    /// Make the room invite-only.
    InviteOnly {
        /// The room.
        room: String,
        /// How many joins tripped it.
        joins: usize,
    },
}

type Key = (String, String);

/// The protections' short-term memory (not persisted: windows of seconds).
#[derive(Debug, Default)]
pub struct Runtime {
    messages: HashMap<Key, VecDeque<(u64, String)>>,
    joins: HashMap<String, VecDeque<u64>>,
    joined_at: HashMap<Key, u64>,
    spoke: HashSet<Key>,
    calls: u64,
}

/// How long a join makes a "new joiner", at most (longer settings are capped).
const MEMORY_MS: u64 = 24 * 3600 * 1000;

fn setting(model: &Model, p: &str, room: &str, key: &str) -> String {
    model
        .protection(p)
        .setting(room, key)
        .map(str::to_owned)
        .unwrap_or_else(|| default_of(p, key).to_owned())
}

fn number(model: &Model, p: &str, room: &str, key: &str) -> u64 {
    setting(model, p, room, key).parse().unwrap_or(0)
}

impl Runtime {
    /// Forgets what no protection can need any more (every 1,000 calls), so
    /// memory stays bounded by recent activity.
    fn prune(&mut self, now: u64) {
        self.calls += 1;
        if !self.calls.is_multiple_of(1000) {
            return;
        }
        let old = |t: u64| t.saturating_add(MEMORY_MS) < now;
        self.joined_at.retain(|_, t| !old(*t));
        let joined = &self.joined_at;
        self.spoke.retain(|k| joined.contains_key(k));
        self.messages
            .retain(|_, q| q.back().is_some_and(|(t, _)| !old(*t)));
        self.joins.retain(|_, q| q.back().is_some_and(|t| !old(*t)));
    }

    /// How many (room, user) pairs are remembered.
    pub fn remembered(&self) -> usize {
        self.joined_at.len() + self.messages.len()
    }

    /// A member joined `room` at `ts` (ms).
    pub fn on_join(&mut self, model: &Model, room: &str, user: &str, ts: u64) -> Vec<Action> {
        self.prune(ts);
        let key = (room.to_owned(), user.to_owned());
        self.joined_at.insert(key.clone(), ts);
        self.spoke.remove(&key);
        let mut out = Vec::new();
        if model.protection("join-wave").is_on_in(room) {
            let window = number(model, "join-wave", room, "seconds") * 1000;
            let max = number(model, "join-wave", room, "max_joins") as usize;
            let q = self.joins.entry(room.to_owned()).or_default();
            q.push_back(ts);
            while q.front().is_some_and(|t| t + window < ts) {
                q.pop_front();
            }
            if q.len() > max {
                out.push(Action::InviteOnly {
                    room: room.to_owned(),
                    joins: q.len(),
                });
                q.clear();
            }
        }
        out
    }

    /// A message `event_id` from `user` in `room` at `ts` (ms).
    pub fn on_message(
        &mut self,
        model: &Model,
        room: &str,
        user: &str,
        event_id: &str,
        ts: u64,
        content: &Value,
    ) -> Vec<Action> {
        self.prune(ts);
        let key = (room.to_owned(), user.to_owned());
        let first = self.spoke.insert(key.clone());
        let mut out = Vec::new();
        if model.protection("flooding").is_on_in(room) {
            let window = number(model, "flooding", room, "seconds") * 1000;
            let max = number(model, "flooding", room, "max_messages") as usize;
            let q = self.messages.entry(key.clone()).or_default();
            q.push_back((ts, event_id.to_owned()));
            while q.front().is_some_and(|(t, _)| t + window < ts) {
                q.pop_front();
            }
            if q.len() > max {
                let redact: Vec<String> = q.drain(..).map(|(_, e)| e).collect();
                let target = Target {
                    room: room.to_owned(),
                    user: user.to_owned(),
                    reason: format!("flooding: more than {max} messages in {}s", window / 1000),
                };
                out.push(if setting(model, "flooding", room, "action") == "mute" {
                    Action::Mute { target, redact }
                } else {
                    Action::Ban { target, redact }
                });
                return out;
            }
        }
        let new_joiner = |p: &str| {
            let window = number(model, p, room, "minutes") * 60_000;
            self.joined_at
                .get(&key)
                .is_some_and(|j| ts.saturating_sub(*j) <= window)
        };
        let body = content["body"].as_str().unwrap_or("").to_lowercase();
        if model.protection("word-list").is_on_in(room) && new_joiner("word-list") {
            let words = setting(model, "word-list", room, "words");
            let hit = words
                .split(',')
                .map(|w| w.trim().to_lowercase())
                .find(|w| !w.is_empty() && body.contains(w.as_str()));
            if let Some(w) = hit {
                out.push(Action::Ban {
                    target: Target {
                        room: room.to_owned(),
                        user: user.to_owned(),
                        reason: format!("word list: said `{w}` right after joining"),
                    },
                    redact: vec![event_id.to_owned()],
                });
                return out;
            }
        }
        if first && model.protection("first-message").is_on_in(room) && new_joiner("first-message")
        {
            let media = matches!(
                content["msgtype"].as_str(),
                Some("m.image" | "m.file" | "m.video")
            );
            let link = body.contains("http://") || body.contains("https://");
            if media || link {
                let reason = "first message of a new joiner is an image or link".to_owned();
                if setting(model, "first-message", room, "action") == "ban" {
                    out.push(Action::Ban {
                        target: Target {
                            room: room.to_owned(),
                            user: user.to_owned(),
                            reason,
                        },
                        redact: vec![event_id.to_owned()],
                    });
                } else {
                    out.push(Action::Redact {
                        room: room.to_owned(),
                        events: vec![event_id.to_owned()],
                        reason,
                    });
                }
            }
        }
        out
    }
}

impl Engine {
    /// Carries out what protections decided; errors are reported.
    pub async fn carry_out(&self, actions: Vec<Action>) {
        let client = self.app().client().clone();
        for action in actions {
            match action {
                Action::Ban { target, redact } => {
                    if self.is_untouchable(&target.user) {
                        continue;
                    }
                    self.say(&format!(
                        "protection: {} in {}: {}",
                        target.user, target.room, target.reason
                    ))
                    .await;
                    let room = target.room.clone();
                    self.ban_all(vec![target]).await;
                    self.redact_events(&room, &redact).await;
                }
                Action::Mute { target, redact } => {
                    if self.is_untouchable(&target.user) {
                        continue;
                    }
                    self.say(&format!(
                        "protection: muting {} in {}: {}",
                        target.user, target.room, target.reason
                    ))
                    .await;
                    if !self.config.dry_run {
                        if let (Ok(r), Ok(u)) = (
                            <&RoomId>::try_from(target.room.as_str()),
                            <&UserId>::try_from(target.user.as_str()),
                        ) {
                            if let Err(e) = client.as_bot().set_user_power_level(r, u, -1).await {
                                self.report(
                                    &format!("mute:{}", target.room),
                                    &format!("cannot mute {} in {}: {e}", target.user, target.room),
                                )
                                .await;
                            }
                        }
                    }
                    self.redact_events(&target.room, &redact).await;
                }
                Action::Redact {
                    room,
                    events,
                    reason,
                } => {
                    self.say(&format!("protection: redacting in {room}: {reason}"))
                        .await;
                    self.redact_events(&room, &events).await;
                }
                Action::InviteOnly { room, joins } => {
                    self.say(&format!(
                        "join wave in {room}: {joins} joins; making it invite-only — moderators, please check"
                    ))
                    .await;
                    if self.config.dry_run {
                        continue;
                    }
                    let Ok(r) = <&RoomId>::try_from(room.as_str()) else {
                        continue;
                    };
                    if let Err(e) = client
                        .as_bot()
                        .send_state(r, "m.room.join_rules", "", &json!({"join_rule": "invite"}))
                        .await
                    {
                        self.report(
                            &format!("joinrule:{room}"),
                            &format!("cannot make {room} invite-only: {e}"),
                        )
                        .await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with(p: &str, settings: &[(&str, &str)]) -> Model {
        let mut m = Model::default();
        let mut s = crate::model::ProtectionState {
            enabled: true,
            ..Default::default()
        };
        for (k, v) in settings {
            s.settings.insert((*k).into(), (*v).into());
        }
        m.protections.insert(p.into(), s);
        m
    }

    #[test]
    fn flooding_trips_after_max_messages_within_the_window() {
        let m = model_with("flooding", &[("max_messages", "3"), ("seconds", "10")]);
        let mut rt = Runtime::default();
        let c = json!({"msgtype": "m.text", "body": "hi"});
        for i in 0..3 {
            assert!(rt
                .on_message(&m, "!r", "@u:x", &format!("$e{i}"), i * 1000, &c)
                .is_empty());
        }
        let a = rt.on_message(&m, "!r", "@u:x", "$e3", 3000, &c);
        assert!(matches!(&a[..], [Action::Ban { redact, .. }] if redact.len() == 4));
        // Slow talkers are fine.
        let mut rt = Runtime::default();
        for i in 0..10 {
            assert!(rt
                .on_message(&m, "!r", "@u:x", "$e", i * 6000, &c)
                .is_empty());
        }
    }

    #[test]
    fn room_settings_win() {
        let mut m = model_with("flooding", &[("max_messages", "100")]);
        if let Some(p) = m.protections.get_mut("flooding") {
            p.room_settings
                .entry("!strict".into())
                .or_default()
                .insert("max_messages".into(), "1".into());
        }
        let c = json!({"body": "hi"});
        let mut rt = Runtime::default();
        assert!(rt.on_message(&m, "!lax", "@u:x", "$1", 0, &c).is_empty());
        assert!(rt.on_message(&m, "!lax", "@u:x", "$2", 1, &c).is_empty());
        assert!(rt.on_message(&m, "!strict", "@u:x", "$3", 0, &c).is_empty());
        assert!(!rt.on_message(&m, "!strict", "@u:x", "$4", 1, &c).is_empty());
    }

    #[test]
    fn memory_is_pruned() {
        let m = model_with("flooding", &[]);
        let mut rt = Runtime::default();
        let c = json!({"body": "hi"});
        for i in 0..999u64 {
            rt.on_join(&m, "!r", &format!("@u{i}:x"), 0);
        }
        rt.on_message(&m, "!r", "@u0:x", "$1", 0, &c);
        assert!(rt.remembered() >= 999);
        // A day later, the next prune forgets them all.
        for i in 0..1000u64 {
            rt.on_message(
                &m,
                "!r2",
                "@late:x",
                &format!("$l{i}"),
                MEMORY_MS + 10 + i * 20_000,
                &c,
            );
        }
        assert!(rt.remembered() <= 2, "{}", rt.remembered());
    }

    #[test]
    fn settings_are_checked() {
        assert!(validate_setting("flooding", "max_messages", "5").is_ok());
        assert!(validate_setting("flooding", "max_messages", "0").is_err());
        assert!(validate_setting("flooding", "max_messages", "many").is_err());
        assert!(validate_setting("flooding", "action", "mute").is_ok());
        assert!(validate_setting("flooding", "action", "explode").is_err());
        assert!(validate_setting("word-list", "words", "a, b").is_ok());
        assert!(validate_setting("word-list", "colour", "red").is_err());
    }

    #[test]
    fn join_wave_and_new_joiner_checks() {
        let m = model_with("join-wave", &[("max_joins", "2"), ("seconds", "60")]);
        let mut rt = Runtime::default();
        assert!(rt.on_join(&m, "!r", "@a:x", 0).is_empty());
        assert!(rt.on_join(&m, "!r", "@b:x", 1).is_empty());
        assert!(matches!(
            &rt.on_join(&m, "!r", "@c:x", 2)[..],
            [Action::InviteOnly { joins: 3, .. }]
        ));

        let m = model_with("word-list", &[("words", "buy crypto, casino")]);
        let mut rt = Runtime::default();
        rt.on_join(&m, "!r", "@a:x", 0);
        let a = rt.on_message(
            &m,
            "!r",
            "@a:x",
            "$1",
            1000,
            &json!({"body": "Best CASINO here"}),
        );
        assert!(matches!(&a[..], [Action::Ban { .. }]));
        // Old members may say it.
        assert!(rt
            .on_message(&m, "!r", "@old:x", "$2", 1000, &json!({"body": "casino"}))
            .is_empty());

        let m = model_with("first-message", &[]);
        let mut rt = Runtime::default();
        rt.on_join(&m, "!r", "@a:x", 0);
        let a = rt.on_message(
            &m,
            "!r",
            "@a:x",
            "$1",
            10,
            &json!({"msgtype": "m.image", "body": "x.png"}),
        );
        assert!(matches!(&a[..], [Action::Redact { .. }]));
        rt.on_join(&m, "!r", "@b:x", 0);
        assert!(rt
            .on_message(&m, "!r", "@b:x", "$2", 10, &json!({"body": "hello"}))
            .is_empty());
        assert!(rt
            .on_message(&m, "!r", "@b:x", "$3", 20, &json!({"body": "https://spam"}))
            .is_empty());
    }
}
