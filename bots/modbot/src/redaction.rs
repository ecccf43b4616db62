//! Redactions: a user's recent messages, or given events.

use ghostkit::client::timeline::{Direction, MessagesQuery};
use ghostkit::prelude::*;
use ghostkit::ruma::common::EventId;

use crate::engine::Engine;

impl Engine {
    /// Redacts `user`'s events among the latest `limit` of each room; returns how many.
    pub async fn redact_user(&self, user: &str, rooms: &[String], limit: u32) -> usize {
        let client = self.client();
        let mut count = 0;
        for room in rooms {
            let Ok(id) = <&RoomId>::try_from(room.as_str()) else {
                continue;
            };
            let query = MessagesQuery {
                dir: Direction::Backward,
                limit: Some(limit),
                filter: Some(serde_json::json!({ "senders": [user] })),
                ..Default::default()
            };
            self.stats.requests.inc();
            let page = match client.as_bot().messages(id, &query).await {
                Ok(p) => p,
                Err(e) => {
                    self.report(
                        &format!("messages:{room}:{}", e.errcode().unwrap_or("")),
                        &format!("cannot read messages of {room}: {e}"),
                    )
                    .await;
                    continue;
                }
            };
            let ids: Vec<String> = page
                .chunk
                .iter()
                .filter(|e| {
                    e.sender.as_str() == user
                        && e.state_key.is_none()
                        && e.event_type != "m.room.redaction"
                        && e.content.as_object().is_some_and(|c| !c.is_empty())
                })
                .map(|e| e.event_id.to_string())
                .collect();
            count += self.redact_events(room, &ids).await;
        }
        if count > 0 {
            self.say(&format!("redacted {count} event(s) of {user}"))
                .await;
        }
        count
    }

    /// Redacts events of one room; returns how many were redacted.
    pub async fn redact_events(&self, room: &str, events: &[String]) -> usize {
        let client = self.client();
        let Ok(room_id) = <&RoomId>::try_from(room) else {
            return 0;
        };
        if self.config.dry_run {
            return events.len();
        }
        let mut n = 0;
        for ev in events {
            let Ok(ev_id) = <&EventId>::try_from(ev.as_str()) else {
                continue;
            };
            let _permit = self.throttle.acquire().await;
            self.stats.requests.inc();
            match client
                .as_bot()
                .redact(room_id, ev_id, Some("moderation"))
                .await
            {
                Ok(_) => {
                    n += 1;
                    self.stats.redactions.inc();
                }
                Err(e) => {
                    self.report(
                        &format!("redact:{room}:{}", e.errcode().unwrap_or("")),
                        &format!("cannot redact {ev} in {room}: {e}"),
                    )
                    .await
                }
            }
        }
        n
    }
}
