//! What the bot remembers across restarts, in sled through the framework's
//! [`Store`]: the model (protected rooms, lists, protection settings, last
//! ACL written) as one JSON value, and every rule under its own key.

use std::collections::{BTreeMap, BTreeSet};

use ghostkit::store::{StoreError, Write};
use ghostkit::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules::{Rule, RuleKey};

const MODEL_TREE: &str = "modbot";
const MODEL_KEY: &str = "model";
const RULES_TREE: &str = "modbot_rules";

/// A policy list the bot reads (and maybe writes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {
    /// The short name moderators use in `ban` (`main`), for lists the bot created.
    #[serde(default)]
    pub shortcode: Option<String>,
    /// The alias it was created or watched with.
    #[serde(default)]
    pub alias: Option<String>,
    /// Whether the bot created it (else it only watches it).
    #[serde(default)]
    pub owned: bool,
}

/// One protection's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionState {
    /// On in every protected room (except `disabled_rooms`).
    #[serde(default)]
    pub enabled: bool,
    /// Rooms where it is off although enabled.
    #[serde(default)]
    pub disabled_rooms: BTreeSet<String>,
    /// Rooms where it is on although not enabled globally.
    #[serde(default)]
    pub enabled_rooms: BTreeSet<String>,
    /// Its settings (`max_messages` → `10`).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Settings for one room, over `settings`.
    #[serde(default)]
    pub room_settings: BTreeMap<String, BTreeMap<String, String>>,
}

impl ProtectionState {
    /// Whether the protection is on in `room`.
    pub fn is_on_in(&self, room: &str) -> bool {
        if self.enabled {
            !self.disabled_rooms.contains(room)
        } else {
            self.enabled_rooms.contains(room)
        }
    }

    /// A setting in `room`: the room's own, else the protection's, else `None`.
    pub fn setting(&self, room: &str, key: &str) -> Option<&str> {
        self.room_settings
            .get(room)
            .and_then(|s| s.get(key))
            .or_else(|| self.settings.get(key))
            .map(String::as_str)
    }
}

/// The bot's durable state besides the rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Rooms where the bot enforces.
    #[serde(default)]
    pub protected_rooms: BTreeSet<String>,
    /// Policy lists by room ID.
    #[serde(default)]
    pub lists: BTreeMap<String, ListMeta>,
    /// Protections by name.
    #[serde(default)]
    pub protections: BTreeMap<String, ProtectionState>,
    /// The last `m.room.server_acl` content written, per room.
    #[serde(default)]
    pub acl_written: BTreeMap<String, Value>,
    /// Rules confirmed in the management room (or written by a command),
    /// by [`RuleKey::store_key`], with the entity confirmed: a list changing
    /// the rule's entity needs a new confirmation.
    #[serde(default)]
    pub confirmed_rules: BTreeMap<String, String>,
}

impl Model {
    /// The list room whose shortcode (or room ID or alias) is `name`.
    pub fn list_by_name(&self, name: &str) -> Option<&str> {
        self.lists
            .iter()
            .find(|(id, m)| {
                id.as_str() == name
                    || m.shortcode.as_deref() == Some(name)
                    || m.alias.as_deref() == Some(name)
            })
            .map(|(id, _)| id.as_str())
    }

    /// Whether `rule` was confirmed as it is now.
    pub fn is_confirmed(&self, rule: &Rule) -> bool {
        self.confirmed_rules.get(&rule.key.store_key()) == Some(&rule.entity)
    }

    /// A protection's state (default: off, no settings).
    pub fn protection(&self, name: &str) -> ProtectionState {
        self.protections.get(name).cloned().unwrap_or_default()
    }
}

/// Reads the model (empty on first start).
pub async fn load_model(store: &Store) -> Result<Model, StoreError> {
    Ok(store
        .get_json(MODEL_TREE, MODEL_KEY)
        .await?
        .unwrap_or_default())
}

/// Writes the model.
pub async fn save_model(store: &Store, model: &Model) -> Result<(), StoreError> {
    store.put_json(MODEL_TREE, MODEL_KEY, model).await
}

/// Reads every stored rule.
pub async fn load_rules(store: &Store) -> Result<Vec<Rule>, StoreError> {
    let tree = store.tree(RULES_TREE)?;
    let mut out = Vec::new();
    for (key, value) in tree.entries().await? {
        let rule: Rule = serde_json::from_slice(&value).map_err(|source| StoreError::Value {
            key: String::from_utf8_lossy(&key).into_owned(),
            source,
        })?;
        out.push(rule);
    }
    Ok(out)
}

/// Stores a rule (replacing the one at its key).
pub async fn save_rule(store: &Store, rule: &Rule) -> Result<(), StoreError> {
    store
        .put_json(RULES_TREE, &rule.key.store_key(), rule)
        .await
}

/// Forgets the rule at `key`.
pub async fn remove_rule(store: &Store, key: &RuleKey) -> Result<(), StoreError> {
    store.remove(RULES_TREE, &key.store_key()).await.map(drop)
}

/// Forgets every rule of `list`.
pub async fn remove_list_rules(store: &Store, list: &str) -> Result<(), StoreError> {
    let tree = store.tree(RULES_TREE)?;
    let prefix = format!("{list}\0");
    let writes = tree
        .scan_prefix(prefix.as_bytes())
        .await?
        .into_iter()
        .map(|(key, _)| Write::Remove(key))
        .collect();
    tree.apply(writes).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rules::EntityKind;

    #[tokio::test]
    async fn model_and_rules_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let rule = Rule {
            key: RuleKey {
                list: "!l:x".into(),
                event_type: "m.policy.rule.user".into(),
                state_key: "rule:@a:x".into(),
            },
            kind: EntityKind::User,
            entity: "@a:x".into(),
            reason: "spam".into(),
        };
        {
            let store = Store::open(dir.path()).unwrap();
            let mut m = Model::default();
            m.protected_rooms.insert("!r:x".into());
            m.lists.insert(
                "!l:x".into(),
                ListMeta {
                    shortcode: Some("main".into()),
                    alias: None,
                    owned: true,
                },
            );
            save_model(&store, &m).await.unwrap();
            save_rule(&store, &rule).await.unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let m = load_model(&store).await.unwrap();
        assert!(m.protected_rooms.contains("!r:x"));
        assert_eq!(m.list_by_name("main"), Some("!l:x"));
        assert_eq!(load_rules(&store).await.unwrap(), vec![rule]);
        remove_list_rules(&store, "!l:x").await.unwrap();
        assert!(load_rules(&store).await.unwrap().is_empty());
    }
}
