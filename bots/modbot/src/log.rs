//! The management room log: every action and error goes there, and the same
//! error is not repeated over and over (it is counted, and said again with
//! its count once the quiet period is over).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ghostkit::ruma::common::RoomId;
use ghostkit::Client;

/// Sends notices to the management room, de-duplicating errors.
#[derive(Debug)]
pub struct ManagementLog {
    room: Mutex<Option<String>>,
    quiet: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl ManagementLog {
    /// A log that says the same error at most once per `quiet` period.
    pub fn new(quiet: Duration) -> Self {
        ManagementLog {
            room: Mutex::new(None),
            quiet,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the management room (once resolved).
    pub fn set_room(&self, room: &str) {
        *self.room.lock().unwrap_or_else(|p| p.into_inner()) = Some(room.to_owned());
    }

    /// The management room, once known.
    pub fn room(&self) -> Option<String> {
        self.room.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Says `text` in the management room.
    pub async fn info(&self, client: &Client, text: &str) {
        tracing::info!("{text}");
        let Some(room) = self.room() else { return };
        let Ok(room) = <&RoomId>::try_from(room.as_str()) else {
            tracing::warn!(
                room,
                "the management room is not a room ID; not logging there"
            );
            return;
        };
        if let Err(e) = client.as_bot().send_notice(room, text).await {
            tracing::warn!("cannot log to the management room: {e}");
        }
    }

    /// Whether an error with `key` should be said now; returns how many
    /// times it was held back since it was last said.
    pub fn should_report(&self, key: &str) -> Option<u32> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match seen.get_mut(key) {
            Some((last, held)) if now.duration_since(*last) < self.quiet => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let n = *held;
                *last = now;
                *held = 0;
                Some(n)
            }
            None => {
                seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }

    /// Reports an error, unless the same `key` was reported recently.
    pub async fn error(&self, client: &Client, key: &str, text: &str) {
        tracing::warn!("{text}");
        if let Some(held) = self.should_report(key) {
            let body = if held > 0 {
                format!("⚠ {text} (and {held} more times since last said)")
            } else {
                format!("⚠ {text}")
            };
            self.info(client, &body).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_error_is_said_once_per_quiet_period() {
        let log = ManagementLog::new(Duration::from_secs(3600));
        assert_eq!(log.should_report("ban:!r:M_FORBIDDEN"), Some(0));
        assert_eq!(log.should_report("ban:!r:M_FORBIDDEN"), None);
        assert_eq!(log.should_report("ban:!r:M_FORBIDDEN"), None);
        assert_eq!(log.should_report("ban:!other:M_FORBIDDEN"), Some(0));
        let quick = ManagementLog::new(Duration::ZERO);
        assert_eq!(quick.should_report("k"), Some(0));
        quick.should_report("k");
        assert_eq!(quick.should_report("k"), Some(0));
    }
}
