//! Policy rules: reading them from list events, and the index that matches
//! entities against all of them.
//!
//! Spec: <https://spec.matrix.org/latest/client-server-api/#moderation-policy-lists>.
//! Three event type families are read: `m.policy.rule.*`, the legacy
//! `m.room.rule.*` and `org.matrix.mjolnir.rule.*`. A rule is removed by
//! replacing its state with empty content (no `entity`). Only the `m.ban`
//! recommendation (and its legacy twin `org.matrix.mjolnir.ban`) is acted on.

use std::collections::HashMap;

use ghostkit::ruma::events::policy::rule::{
    PossiblyRedactedPolicyRuleEventContent, Recommendation,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::glob::Glob;

/// What a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A user ID (or glob of user IDs).
    User,
    /// A room ID or alias.
    Room,
    /// A server name (glob).
    Server,
}

impl EntityKind {
    /// The kind of an entity as typed in a command: `@…` user, `!…`/`#…` room, else server.
    pub fn of_entity(entity: &str) -> EntityKind {
        match entity.chars().next() {
            Some('@') => EntityKind::User,
            Some('!') | Some('#') => EntityKind::Room,
            _ => EntityKind::Server,
        }
    }

    /// The stable event type for rules of this kind.
    pub fn event_type(self) -> &'static str {
        match self {
            EntityKind::User => "m.policy.rule.user",
            EntityKind::Room => "m.policy.rule.room",
            EntityKind::Server => "m.policy.rule.server",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The kind of rule an event type holds, if it is a policy rule type.
pub fn kind_of_event_type(event_type: &str) -> Option<EntityKind> {
    let suffix = event_type
        .strip_prefix("m.policy.rule.")
        .or_else(|| event_type.strip_prefix("m.room.rule."))
        .or_else(|| event_type.strip_prefix("org.matrix.mjolnir.rule."))?;
    match suffix {
        "user" => Some(EntityKind::User),
        "room" => Some(EntityKind::Room),
        "server" => Some(EntityKind::Server),
        _ => None,
    }
}

/// Where a rule lives: its list room, event type and state key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleKey {
    /// The policy list (room ID).
    pub list: String,
    /// The event type as sent (any of the three families).
    pub event_type: String,
    /// The state key.
    pub state_key: String,
}

impl RuleKey {
    /// A key usable in the store: fields joined by NUL.
    pub fn store_key(&self) -> String {
        format!("{}\0{}\0{}", self.list, self.event_type, self.state_key)
    }
}

/// A ban rule in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Where it lives.
    pub key: RuleKey,
    /// What it is about.
    pub kind: EntityKind,
    /// The entity or glob.
    pub entity: String,
    /// Why (free text).
    #[serde(default)]
    pub reason: String,
}

/// What one state event means for the rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    /// The event is a ban rule: set it.
    Set(Rule),
    /// The event removes the rule at this key (empty content, or a
    /// recommendation we do not act on).
    Remove(RuleKey),
}

/// Reads one state event of a list room. `None` when it is not a policy rule.
pub fn parse_policy_event(
    list: &str,
    event_type: &str,
    state_key: &str,
    content: &Value,
) -> Option<PolicyChange> {
    let kind = kind_of_event_type(event_type)?;
    let key = RuleKey {
        list: list.to_owned(),
        event_type: event_type.to_owned(),
        state_key: state_key.to_owned(),
    };
    // ruma's possibly-redacted content: a redacted rule (no entity or
    // recommendation) and one that does not parse both remove the rule.
    let rule = PossiblyRedactedPolicyRuleEventContent::deserialize(content).unwrap_or_else(|_| {
        PossiblyRedactedPolicyRuleEventContent::new(
            String::new(),
            Recommendation::from(""),
            String::new(),
        )
    });
    let entity = rule.entity.unwrap_or_default();
    // `org.matrix.mjolnir.ban` is the unstable name Mjolnir and Draupnir
    // lists still carry.
    let is_ban = rule
        .recommendation
        .is_some_and(|r| r == Recommendation::Ban || r.as_str() == "org.matrix.mjolnir.ban");
    if entity.is_empty() || !is_ban {
        return Some(PolicyChange::Remove(key));
    }
    Some(PolicyChange::Set(Rule {
        key,
        kind,
        entity,
        reason: rule.reason.unwrap_or_default(),
    }))
}

/// All rules in force, indexed for matching: exact entities in hash maps,
/// globs compiled once and kept apart.
#[derive(Debug, Default)]
pub struct RuleIndex {
    rules: HashMap<RuleKey, Rule>,
    exact: [HashMap<String, Vec<RuleKey>>; 3],
    globs: [Vec<(Glob, RuleKey)>; 3],
}

impl RuleIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many rules are in force.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule is in force.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies a change; returns the rule it added, if it is new or changed.
    pub fn apply(&mut self, change: PolicyChange) -> Option<Rule> {
        match change {
            PolicyChange::Remove(key) => {
                self.remove(&key);
                None
            }
            PolicyChange::Set(rule) => {
                if self.rules.get(&rule.key) == Some(&rule) {
                    return None;
                }
                self.remove(&rule.key);
                self.insert(rule.clone());
                Some(rule)
            }
        }
    }

    fn insert(&mut self, rule: Rule) {
        let i = rule.kind.index();
        let glob = Glob::new(&rule.entity);
        if glob.is_literal() {
            self.exact[i]
                .entry(rule.entity.clone())
                .or_default()
                .push(rule.key.clone());
        } else {
            self.globs[i].push((glob, rule.key.clone()));
        }
        self.rules.insert(rule.key.clone(), rule);
    }

    /// The rule at `key`.
    pub fn get(&self, key: &RuleKey) -> Option<&Rule> {
        self.rules.get(key)
    }

    /// Removes the rule at `key`; returns it.
    pub fn remove(&mut self, key: &RuleKey) -> Option<Rule> {
        let rule = self.rules.remove(key)?;
        let i = rule.kind.index();
        if let Some(keys) = self.exact[i].get_mut(&rule.entity) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.exact[i].remove(&rule.entity);
            }
        }
        self.globs[i].retain(|(_, k)| k != key);
        Some(rule)
    }

    /// Removes every rule of `list`; returns how many.
    pub fn remove_list(&mut self, list: &str) -> usize {
        let keys: Vec<RuleKey> = self
            .rules
            .keys()
            .filter(|k| k.list == list)
            .cloned()
            .collect();
        for k in &keys {
            self.remove(k);
        }
        keys.len()
    }

    /// The first rule banning `entity` of `kind`: an exact hit first (one
    /// hash lookup), else the first matching glob.
    pub fn find(&self, kind: EntityKind, entity: &str) -> Option<&Rule> {
        let i = kind.index();
        if let Some(k) = self.exact[i].get(entity).and_then(|ks| ks.first()) {
            return self.rules.get(k);
        }
        self.globs[i]
            .iter()
            .find(|(g, _)| g.matches(entity))
            .and_then(|(_, k)| self.rules.get(k))
    }

    /// Every rule whose entity matches `entity` (of any kind), or that is
    /// written exactly as `entity`.
    pub fn matching(&self, entity: &str) -> Vec<&Rule> {
        let mut out: Vec<&Rule> = self
            .rules
            .values()
            .filter(|r| r.entity == entity || Glob::new(&r.entity).matches(entity))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Every rule, sorted by list, type and state key.
    pub fn all(&self) -> Vec<&Rule> {
        let mut out: Vec<&Rule> = self.rules.values().collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The entities of every server rule.
    pub fn server_entities(&self) -> impl Iterator<Item = &str> {
        self.rules
            .values()
            .filter(|r| r.kind == EntityKind::Server)
            .map(|r| r.entity.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(list: &str, ty: &str, entity: &str) -> PolicyChange {
        parse_policy_event(
            list,
            ty,
            &format!("rule:{entity}"),
            &json!({"entity": entity, "recommendation": "m.ban", "reason": "spam"}),
        )
        .unwrap()
    }

    #[test]
    fn every_event_type_family_is_read() {
        for (ty, kind) in [
            ("m.policy.rule.user", EntityKind::User),
            ("m.room.rule.room", EntityKind::Room),
            ("org.matrix.mjolnir.rule.server", EntityKind::Server),
        ] {
            assert_eq!(kind_of_event_type(ty), Some(kind));
        }
        assert_eq!(kind_of_event_type("m.policy.rule.other"), None);
        assert_eq!(kind_of_event_type("m.room.message"), None);
    }

    #[test]
    fn recommendations_and_removal() {
        let legacy = parse_policy_event(
            "!l",
            "org.matrix.mjolnir.rule.user",
            "k",
            &json!({"entity": "@a:x", "recommendation": "org.matrix.mjolnir.ban"}),
        );
        assert!(matches!(legacy, Some(PolicyChange::Set(r)) if r.reason.is_empty()));
        let removed = parse_policy_event("!l", "m.policy.rule.user", "k", &json!({}));
        assert!(matches!(removed, Some(PolicyChange::Remove(_))));
        let other = parse_policy_event(
            "!l",
            "m.policy.rule.user",
            "k",
            &json!({"entity": "@a:x", "recommendation": "m.mute"}),
        );
        assert!(matches!(other, Some(PolicyChange::Remove(_))));
        assert_eq!(
            parse_policy_event("!l", "m.room.topic", "", &json!({})),
            None
        );
    }

    #[test]
    fn index_finds_exact_and_glob_rules_and_forgets_removed_ones() {
        let mut idx = RuleIndex::new();
        assert!(idx
            .apply(set("!l", "m.policy.rule.user", "@bad:x"))
            .is_some());
        assert!(idx
            .apply(set("!l", "m.policy.rule.user", "@spam*:x"))
            .is_some());
        // The same rule again is no change.
        assert!(idx
            .apply(set("!l", "m.policy.rule.user", "@bad:x"))
            .is_none());
        assert_eq!(idx.len(), 2);
        assert!(idx.find(EntityKind::User, "@bad:x").is_some());
        assert!(idx.find(EntityKind::User, "@spam42:x").is_some());
        assert!(idx.find(EntityKind::User, "@good:x").is_none());
        assert!(idx.find(EntityKind::Server, "@bad:x").is_none());
        assert_eq!(idx.matching("@spam42:x").len(), 1);

        let key = RuleKey {
            list: "!l".into(),
            event_type: "m.policy.rule.user".into(),
            state_key: "rule:@spam*:x".into(),
        };
        idx.apply(PolicyChange::Remove(key));
        assert!(idx.find(EntityKind::User, "@spam42:x").is_none());
        assert_eq!(idx.remove_list("!l"), 1);
        assert!(idx.is_empty());
    }

    #[test]
    fn entity_kinds_from_commands() {
        assert_eq!(EntityKind::of_entity("@u:x"), EntityKind::User);
        assert_eq!(EntityKind::of_entity("#r:x"), EntityKind::Room);
        assert_eq!(EntityKind::of_entity("!r"), EntityKind::Room);
        assert_eq!(EntityKind::of_entity("*.evil.org"), EntityKind::Server);
    }
}
