//! The hooks: what is stored per hook, and the in-memory registry over the
//! store (tree `webhooks.hooks`, keyed by hook ID).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use ghostkit::Store;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The store tree of hooks.
pub const TREE: &str = "webhooks.hooks";

/// One webhook of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Random ID; for an inbound hook it is the secret part of its URL.
    pub id: String,
    /// The name given in the room (unique within the room).
    pub name: String,
    /// The room it belongs to.
    pub room_id: String,
    /// Who created it.
    pub creator: String,
    /// When, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Inbound or outbound, and what that needs.
    #[serde(flatten)]
    pub kind: HookKind,
}

/// Which way a hook goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HookKind {
    /// HTTP requests to its secret URL become messages in the room.
    Inbound,
    /// The room's events are POSTed to `url`, signed with `secret`.
    Outbound {
        /// Where to POST.
        url: String,
        /// The HMAC-SHA256 key of the signature header.
        secret: String,
    },
}

impl Hook {
    /// A new hook with a fresh random ID.
    pub fn new(name: &str, room_id: &str, creator: &str, kind: HookKind) -> Hook {
        Hook {
            id: random_hex(16),
            name: name.to_owned(),
            room_id: room_id.to_owned(),
            creator: creator.to_owned(),
            created_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            kind,
        }
    }

    /// Whether this is an inbound hook.
    pub fn is_inbound(&self) -> bool {
        matches!(self.kind, HookKind::Inbound)
    }
}

/// `n` random bytes as lowercase hex (from the OS-seeded thread RNG).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Checks a hook name: 1 to 32 of `a-z 0-9 -`, starting with a letter or
/// digit; uppercase letters are lowered. It becomes part of the hook's
/// ghost's user ID (see [`crate::identity`]), so it keeps to characters that
/// read the same everywhere.
///
/// ```
/// assert_eq!(webhooks::hooks::check_name("CI-builds").unwrap(), "ci-builds");
/// assert!(webhooks::hooks::check_name("has space").is_err());
/// assert!(webhooks::hooks::check_name("a_b").is_err());
/// assert!(webhooks::hooks::check_name("-x").is_err());
/// assert!(webhooks::hooks::check_name("").is_err());
/// ```
pub fn check_name(name: &str) -> Result<String, String> {
    let lower = name.trim().to_ascii_lowercase();
    let ok = (1..=32).contains(&lower.len())
        && lower.starts_with(|c: char| c.is_ascii_alphanumeric())
        && lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(lower)
    } else {
        Err(format!(
            "`{name}` is not a valid hook name: use 1 to 32 letters, digits or `-`, starting with a letter or digit, like `ci-builds`"
        ))
    }
}

/// All hooks, in memory, written through to the store.
#[derive(Debug, Clone)]
pub struct Hooks {
    store: Store,
    by_id: Arc<RwLock<HashMap<String, Hook>>>,
}

impl Hooks {
    /// Loads every stored hook; a stored value that cannot be read is logged and skipped.
    pub async fn load(store: &Store) -> anyhow::Result<Hooks> {
        let mut by_id = HashMap::new();
        for (key, value) in store.tree(TREE)?.entries().await? {
            match serde_json::from_slice::<Hook>(&value) {
                Ok(h) => {
                    by_id.insert(h.id.clone(), h);
                }
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(&key),
                    error = %e,
                    "skipping a stored hook that cannot be read"
                ),
            }
        }
        Ok(Hooks {
            store: store.clone(),
            by_id: Arc::new(RwLock::new(by_id)),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Hook>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The hook with this ID.
    pub fn get(&self, id: &str) -> Option<Hook> {
        self.read().get(id).cloned()
    }

    /// The hooks of a room, by name.
    pub fn in_room(&self, room_id: &str) -> Vec<Hook> {
        let mut v: Vec<Hook> = self
            .read()
            .values()
            .filter(|h| h.room_id == room_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The outbound hooks of a room.
    pub fn outbound_in(&self, room_id: &str) -> Vec<Hook> {
        self.read()
            .values()
            .filter(|h| h.room_id == room_id && !h.is_inbound())
            .cloned()
            .collect()
    }

    /// The hook of a room with this name.
    pub fn find(&self, room_id: &str, name: &str) -> Option<Hook> {
        self.read()
            .values()
            .find(|h| h.room_id == room_id && h.name == name)
            .cloned()
    }

    /// Stores a new hook durably, then makes it live.
    pub async fn insert(&self, hook: Hook) -> anyhow::Result<()> {
        self.store.put_json(TREE, &hook.id, &hook).await?;
        self.store.flush().await?;
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hook.id.clone(), hook);
        Ok(())
    }

    /// Removes a hook (live at once, durable on return).
    pub async fn remove(&self, id: &str) -> anyhow::Result<bool> {
        let was = self
            .by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
            .is_some();
        self.store.remove(TREE, id).await?;
        self.store.flush().await?;
        Ok(was)
    }
}
