//! How rules from policy lists come in: read from a list's state or from
//! its events, weighed, and either put in force or held until a moderator
//! says `confirm` in the management room.
//!
//! A rule is held when it would ban more members of the protected rooms
//! than `confirm_above_members`, or when it is a wildcard over the bot's own
//! server (`@*:our.server`, `*`): one careless or hostile line in a watched
//! list must not empty every protected room. The management room is told
//! the rule's reach (how many members in how many rooms) and the command
//! that applies it. A confirmation is remembered (in the model) for the
//! rule as it is; a list that changes the rule's entity needs a new one.

use std::collections::BTreeSet;

use ghostkit::prelude::*;

use crate::engine::{lock, Engine};
use crate::glob::{has_wildcard, Glob};
use crate::model;
use crate::rules::{parse_policy_event, EntityKind, PolicyChange, Rule};

/// Whom a rule would reach now: distinct members and rooms among the
/// cached members of the protected rooms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// Members it would ban (user rules) or cut off by the server ACL
    /// (server rules).
    pub members: usize,
    /// Protected rooms they are in.
    pub rooms: usize,
}

/// A rule from a list waiting for `confirm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The rule as the list says it.
    pub rule: Rule,
    /// Its reach when it was held.
    pub reach: Reach,
    /// Whether it is a wildcard over our own server.
    pub over_own_server: bool,
}

/// Whether `rule` is a wildcard that covers IDs of `server` (our own): a
/// user glob whose server part (after the first `:`) matches it, or that
/// has a `*` and no `:` at all (`@spam*`, `*`); a server glob matching it.
/// Exact entities are never wildcards.
///
/// ```
/// use modbot::intake::is_wildcard_over;
/// use modbot::rules::{EntityKind, Rule, RuleKey};
/// let rule = |kind, entity: &str| Rule {
///     key: RuleKey { list: "!l".into(), event_type: "m.policy.rule.user".into(), state_key: "k".into() },
///     kind, entity: entity.into(), reason: String::new(),
/// };
/// assert!(is_wildcard_over(&rule(EntityKind::User, "@*:example.org"), "example.org"));
/// assert!(!is_wildcard_over(&rule(EntityKind::User, "@*:evil.org"), "example.org"));
/// assert!(!is_wildcard_over(&rule(EntityKind::User, "@bob:example.org"), "example.org"));
/// assert!(is_wildcard_over(&rule(EntityKind::Server, "*.org"), "example.org"));
/// ```
pub fn is_wildcard_over(rule: &Rule, server: &str) -> bool {
    if !has_wildcard(&rule.entity) {
        return false;
    }
    match rule.kind {
        EntityKind::User => match rule.entity.split_once(':') {
            Some((_, server_part)) => Glob::new(server_part).matches(server),
            None => rule.entity.contains('*'),
        },
        EntityKind::Server => Glob::new(&rule.entity).matches(server),
        EntityKind::Room => false,
    }
}

/// The server part of a user ID.
fn server_of(user: &str) -> &str {
    user.split_once(':').map_or("", |(_, s)| s)
}

impl Engine {
    /// Whom `rule` would reach if it were put in force now. Room rules ban
    /// nobody: their reach is empty.
    pub fn reach(&self, rule: &Rule) -> Reach {
        let mut users = BTreeSet::new();
        let mut rooms = BTreeSet::new();
        match rule.kind {
            EntityKind::User => {
                for t in self.targets_for_rule(rule) {
                    users.insert(t.user);
                    rooms.insert(t.room);
                }
            }
            EntityKind::Server => {
                let own = Some(self.app().server_name().as_str());
                let glob = Glob::new(&rule.entity);
                let protected: Vec<String> = self.model().protected_rooms.iter().cloned().collect();
                let cache = self.member_cache();
                for room in &protected {
                    for (user, m) in cache.get(room).into_iter().flatten() {
                        let server = server_of(user);
                        let active = crate::engine::bannable(m);
                        if active && Some(server) != own && glob.matches(server) {
                            users.insert(user.clone());
                            rooms.insert(room.clone());
                        }
                    }
                }
            }
            EntityKind::Room => {}
        }
        Reach {
            members: users.len(),
            rooms: rooms.len(),
        }
    }

    /// `Some` when `rule` must wait for a confirmation: not confirmed as it
    /// is, and reaching more than `confirm_above_members` or a wildcard over
    /// our own server.
    pub fn must_wait(&self, rule: &Rule) -> Option<Held> {
        if rule.kind == EntityKind::Room || self.model().is_confirmed(rule) {
            return None;
        }
        let own = self.app().server_name().as_str();
        let over_own_server = is_wildcard_over(rule, own);
        let reach = self.reach(rule);
        (over_own_server || reach.members > self.config.confirm_above_members).then(|| Held {
            rule: rule.clone(),
            reach,
            over_own_server,
        })
    }

    /// Applies a rule change from a list: a rule that must wait is held
    /// (and whatever the list said at its key before is dropped), the
    /// others are stored and enforced. Removing a rule forgets its
    /// confirmation.
    pub async fn apply_change(&self, change: PolicyChange) {
        let change = match change {
            PolicyChange::Set(rule) => match self.must_wait(&rule) {
                Some(held) => {
                    let key = rule.key.clone();
                    self.hold(held).await;
                    PolicyChange::Remove(key)
                }
                None => {
                    lock(&self.held).remove(&rule.key);
                    PolicyChange::Set(rule)
                }
            },
            PolicyChange::Remove(key) => {
                lock(&self.held).remove(&key);
                let forgot = self
                    .model()
                    .confirmed_rules
                    .remove(&key.store_key())
                    .is_some();
                if forgot {
                    self.save().await;
                }
                PolicyChange::Remove(key)
            }
        };
        self.enforce_change(change).await;
    }

    /// Holds a rule and, unless it was held as it is already, tells the
    /// management room its reach and how to apply it.
    async fn hold(&self, held: Held) {
        let text = self.hold_notice(&held);
        let before = lock(&self.held).insert(held.rule.key.clone(), held.clone());
        if before.is_some_and(|b| b.rule == held.rule) {
            return;
        }
        tracing::warn!(entity = %held.rule.entity, list = %held.rule.key.list, "list rule held for confirmation");
        self.say(&text).await;
    }

    /// What the management room is told about a held rule.
    pub fn hold_notice(&self, held: &Held) -> String {
        let rule = &held.rule;
        let Reach { members, rooms } = held.reach;
        let effect = match rule.kind {
            EntityKind::Server => "cut off (server ACL)",
            _ => "ban",
        };
        let mut why = Vec::new();
        if members > self.config.confirm_above_members {
            why.push(format!(
                "more than confirm_above_members ({})",
                self.config.confirm_above_members
            ));
        }
        if held.over_own_server {
            let server = self.app().server_name();
            why.push(format!("a wildcard over our own server {server}"));
        }
        let reason = if rule.reason.is_empty() {
            String::new()
        } else {
            format!(" (\"{}\")", rule.reason)
        };
        format!(
            "⏸ not applied: the rule `{}`{reason} from the list {} would {effect} {members} member(s) in {rooms} room(s), {}; say `{} confirm {}` to apply it",
            rule.entity,
            rule.key.list,
            why.join(" and "),
            self.config.command_prefix,
            rule.entity,
        )
    }

    /// Confirms held rules: those for `entity`, or the only one held when
    /// `entity` is `None`; they are put in force at once.
    pub async fn confirm_held(&self, entity: Option<&str>) -> anyhow::Result<String> {
        let chosen: Vec<Held> = {
            let mut held = lock(&self.held);
            let keys: Vec<_> = match entity {
                Some(e) => held
                    .iter()
                    .filter(|(_, h)| h.rule.entity == e)
                    .map(|(k, _)| k.clone())
                    .collect(),
                None if held.len() <= 1 => held.keys().cloned().collect(),
                None => {
                    let names: BTreeSet<&str> =
                        held.values().map(|h| h.rule.entity.as_str()).collect();
                    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                    return Err(anyhow::anyhow!(
                        "{} rules wait for confirmation ({}); say `{} confirm <entity>`",
                        held.len(),
                        names.join(", "),
                        self.config.command_prefix
                    ));
                }
            };
            keys.iter().filter_map(|k| held.remove(k)).collect()
        };
        if chosen.is_empty() {
            return Err(match entity {
                Some(e) => anyhow::anyhow!("no rule `{e}` waits for confirmation"),
                None => anyhow::anyhow!("nothing waits for confirmation"),
            });
        }
        {
            let mut m = self.model();
            for h in &chosen {
                m.confirmed_rules
                    .insert(h.rule.key.store_key(), h.rule.entity.clone());
            }
        }
        self.save().await;
        let entities: BTreeSet<String> = chosen.iter().map(|h| h.rule.entity.clone()).collect();
        for h in chosen {
            self.apply_change(PolicyChange::Set(h.rule)).await;
        }
        let names: Vec<String> = entities.iter().map(|e| format!("`{e}`")).collect();
        Ok(format!("confirmed and applied {}", names.join(", ")))
    }

    /// Re-reads a list's state (one request) and replaces its rules; rules
    /// that must wait are held, not put in force. Nothing is enforced here:
    /// the callers enforce everything once their lists are read.
    pub async fn sync_list(&self, list: &str) {
        let app = self.app();
        let Ok(id) = <&RoomId>::try_from(list) else {
            return;
        };
        self.stats.requests.inc();
        let state = match app.client().as_bot().state(id).await {
            Ok(s) => s,
            Err(e) => {
                return self
                    .report(
                        &format!("list:{list}:{}", e.errcode().unwrap_or("")),
                        &format!("cannot read the policy list {list}: {e}"),
                    )
                    .await
            }
        };
        let rules: Vec<Rule> = state
            .iter()
            .filter_map(|ev| {
                let key = ev.state_key.as_deref()?;
                match parse_policy_event(list, &ev.event_type, key, &ev.content)? {
                    PolicyChange::Set(rule) => Some(rule),
                    PolicyChange::Remove(_) => None,
                }
            })
            .collect();
        let mut keep = Vec::with_capacity(rules.len());
        let mut wait = Vec::new();
        for rule in rules {
            match self.must_wait(&rule) {
                Some(held) => wait.push(held),
                None => keep.push(rule),
            }
        }
        if let Err(e) = model::remove_list_rules(app.store(), list).await {
            tracing::error!("cannot clear stored rules of {list}: {e}");
        }
        for rule in &keep {
            if let Err(e) = model::save_rule(app.store(), rule).await {
                tracing::error!("cannot store a rule: {e}");
            }
        }
        {
            let mut idx = self.rules_write();
            idx.remove_list(list);
            for rule in keep {
                idx.apply(PolicyChange::Set(rule));
            }
        }
        let still: BTreeSet<_> = wait.iter().map(|h| h.rule.key.clone()).collect();
        lock(&self.held).retain(|k, _| k.list != list || still.contains(k));
        for held in wait {
            self.hold(held).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKey;

    fn rule(kind: EntityKind, entity: &str) -> Rule {
        Rule {
            key: RuleKey {
                list: "!l:x".into(),
                event_type: kind.event_type().into(),
                state_key: format!("rule:{entity}"),
            },
            kind,
            entity: entity.into(),
            reason: String::new(),
        }
    }

    #[test]
    fn wildcards_over_our_own_server() {
        let own = "example.org";
        for (kind, entity, over) in [
            (EntityKind::User, "@*:example.org", true),
            (EntityKind::User, "@spam*:example.org", true),
            (EntityKind::User, "@*:*", true),
            (EntityKind::User, "@*:example.*", true),
            (EntityKind::User, "@*", true),
            (EntityKind::User, "*", true),
            (EntityKind::User, "@spam*", true),
            (EntityKind::User, "@*:evil.org", false),
            (EntityKind::User, "@spam?:evil.org", false),
            (EntityKind::User, "@bob:example.org", false),
            (EntityKind::User, "@b?b", false),
            (EntityKind::Server, "*", true),
            (EntityKind::Server, "*.org", true),
            (EntityKind::Server, "example.org", false),
            (EntityKind::Server, "*.evil.org", false),
            (EntityKind::Room, "!*:example.org", false),
        ] {
            assert_eq!(is_wildcard_over(&rule(kind, entity), own), over, "{entity}");
        }
    }
}
