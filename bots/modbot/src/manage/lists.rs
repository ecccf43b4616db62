//! Watching policy lists, and reading everything again (`sync`).

use ghostkit::prelude::*;

use super::Reply;
use crate::engine::Engine;
use crate::model::ListMeta;

impl Engine {
    /// `watch <room>`: joins a policy list and applies its rules.
    pub(super) async fn watch(&self, app: &AppContext, room: &str) -> Reply {
        let id = self.join(app, room).await?;
        self.model().lists.entry(id.clone()).or_insert(ListMeta {
            shortcode: None,
            alias: room.starts_with('#').then(|| room.to_owned()),
            owned: false,
        });
        self.save().await;
        self.sync_list(&id).await;
        self.enforce_everything().await;
        Ok(format!("watching {room} ({id})"))
    }

    /// `unwatch <room>`: forgets a list and the rules it gave.
    pub(super) async fn unwatch(&self, app: &AppContext, room: &str) -> Reply {
        let id = self.resolve(room).await?;
        self.model().lists.remove(&id);
        self.save().await;
        let n = self
            .rules
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove_list(&id);
        if let Err(e) = crate::model::remove_list_rules(app.store(), &id).await {
            tracing::error!("cannot forget rules of {id}: {e}");
        }
        self.apply_acl_everywhere().await;
        Ok(format!("no longer watching {id} ({n} rules dropped)"))
    }

    /// `sync`: every list and protected room read again, then enforced.
    pub(super) async fn sync_all(&self) -> String {
        let (rooms, lists): (Vec<String>, Vec<String>) = {
            let m = self.model();
            (
                m.protected_rooms.iter().cloned().collect(),
                m.lists.keys().cloned().collect(),
            )
        };
        for l in &lists {
            self.sync_list(l).await;
        }
        for r in &rooms {
            self.refresh_members(r).await;
            self.read_current_acl(r).await;
        }
        self.enforce_everything().await;
        format!(
            "synced {} list(s), {} room(s), {} rule(s)",
            lists.len(),
            rooms.len(),
            self.rules_read().len()
        )
    }
}
