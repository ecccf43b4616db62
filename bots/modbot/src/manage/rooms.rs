//! The protected rooms: listed, and no longer protected.

use ghostkit::prelude::*;

use super::Reply;
use crate::engine::Engine;

impl Engine {
    /// `rooms`: the protected rooms with their joined members.
    pub(super) fn rooms_text(&self) -> String {
        let cache = self.member_cache();
        let lines: Vec<String> = self
            .model()
            .protected_rooms
            .iter()
            .map(|r| {
                let n = cache.get(r).map_or(0, |m| {
                    m.values().filter(|s| **s == MembershipState::Join).count()
                });
                format!("- {r} ({n} joined)")
            })
            .collect();
        format!("{} protected room(s)\n{}", lines.len(), lines.join("\n"))
    }

    /// `rooms remove <room>`.
    pub(super) async fn unprotect(&self, room: &str) -> Reply {
        let id = self.resolve(room).await?;
        let removed = self.model().protected_rooms.remove(&id);
        self.save().await;
        Ok(if removed {
            format!("{id} is no longer protected")
        } else {
            format!("{id} was not protected")
        })
    }
}
