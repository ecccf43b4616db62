//! Portals: one Matrix room per IRC channel, remembered in the store
//! (tree `ircbridge.portals`, key: the casefolded channel).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ghostkit::prelude::*;
use serde::{Deserialize, Serialize};

use crate::irc::casefold;

const TREE: &str = "ircbridge.portals";

/// One bridged channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portal {
    /// The channel as first spelled (`#Rust`).
    pub channel: String,
    /// Its Matrix room.
    pub room_id: OwnedRoomId,
}

/// The portals, in memory and in the store.
#[derive(Debug, Clone)]
pub struct Portals {
    store: Store,
    by_channel: Arc<RwLock<HashMap<String, Portal>>>,
}

impl Portals {
    /// Loads the portals of `store`.
    pub fn load(store: &Store) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for item in store.tree(TREE)?.iter() {
            let (key, value) = item?;
            match serde_json::from_slice::<Portal>(&value) {
                Ok(p) => {
                    map.insert(String::from_utf8_lossy(&key).into_owned(), p);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable portal"),
            }
        }
        Ok(Portals {
            store: store.clone(),
            by_channel: Arc::new(RwLock::new(map)),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Portal>> {
        self.by_channel.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The portal of `channel`.
    pub fn by_channel(&self, channel: &str) -> Option<Portal> {
        self.read().get(&casefold(channel)).cloned()
    }

    /// The portal of `room`.
    pub fn by_room(&self, room: &RoomId) -> Option<Portal> {
        self.read().values().find(|p| p.room_id == room).cloned()
    }

    /// Every portal, by channel name.
    pub fn all(&self) -> Vec<Portal> {
        let mut all: Vec<Portal> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.channel.cmp(&b.channel));
        all
    }

    /// Remembers a portal (durably).
    pub async fn insert(&self, portal: Portal) -> anyhow::Result<()> {
        let key = casefold(&portal.channel);
        self.store.put_json(TREE, &key, &portal)?;
        self.store.flush().await?;
        self.by_channel
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, portal);
        Ok(())
    }

    /// Forgets the portal of `channel`; returns it.
    pub async fn remove(&self, channel: &str) -> anyhow::Result<Option<Portal>> {
        let key = casefold(channel);
        self.store.remove(TREE, &key)?;
        self.store.flush().await?;
        Ok(self
            .by_channel
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key))
    }
}
