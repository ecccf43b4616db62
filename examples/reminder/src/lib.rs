//! Reminder: `!remind 10m buy milk` answers "⏰ in 10m" and, ten minutes
//! later, says "⏰ @you: buy milk" in the room. Reminders are kept in the
//! framework's store (sled), so they survive a restart: on start the bot
//! reads them back and fires those that came due while it was down.
//!
//! ```text
//! GHOSTKIT_REGISTRATION=tests/registrations/reminder.yaml GHOSTKIT_HOMESERVER_URL=http://127.0.0.1:18008 cargo run -p reminder
//! ```
//!
//! One task sleeps until the earliest reminder; a new reminder wakes it.
//! A reminder is removed after it was sent, so a crash in between sends it
//! twice rather than never.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ghostkit::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// The command line defaults of this bot.
pub const INFO: BotInfo = bot_info!("reminder").port(9012);

/// The store tree of pending reminders, keyed by due time then room and event.
const TREE: &str = "reminders";

/// How long to wait: `90s`, `10m`, `1h30m`, `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay(pub Duration);

/// Why a text is not a delay.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DelayError {
    /// Not numbers with units.
    #[error("write a delay as a number and a unit (s, m, h, d), like 10m or 1h30m")]
    Shape,
    /// Zero or more than a year.
    #[error("a delay is from 1s to 365d")]
    Range,
}

impl FromStr for Delay {
    type Err = DelayError;

    /// ```
    /// use reminder::Delay;
    /// use std::time::Duration;
    /// assert_eq!("2s".parse(), Ok(Delay(Duration::from_secs(2))));
    /// assert_eq!("1h30m".parse(), Ok(Delay(Duration::from_secs(5400))));
    /// assert!("10".parse::<Delay>().is_err());
    /// assert!("0m".parse::<Delay>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, DelayError> {
        let mut total: u64 = 0;
        let mut number = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(DelayError::Shape),
            };
            let n: u64 = number.parse().map_err(|_| DelayError::Shape)?;
            number.clear();
            total = n
                .checked_mul(unit)
                .and_then(|x| total.checked_add(x))
                .ok_or(DelayError::Range)?;
        }
        if !number.is_empty() || s.is_empty() {
            return Err(DelayError::Shape);
        }
        if total == 0 || total > 365 * 86_400 {
            return Err(DelayError::Range);
        }
        Ok(Delay(Duration::from_secs(total)))
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if s >= size {
                write!(f, "{}{unit}", s / size)?;
                s %= size;
            }
        }
        if s > 0 || self.0.as_secs() == 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

/// Reminder commands.
#[derive(Debug, PartialEq, Command)]
pub enum ReminderCommand {
    /// Reminds you of something later, in this room.
    #[command(example = "10m take the cake out")]
    Remind {
        /// After how long: 90s, 10m, 1h30m, 2d.
        delay: Delay,
        /// What to remind you of.
        #[command(rest)]
        text: String,
    },
}

/// A reminder waiting in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// When, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    /// The room to say it in.
    pub room_id: String,
    /// Who asked.
    pub user_id: String,
    /// What to say.
    pub text: String,
}

/// The bot: the command, and the task that fires reminders.
#[derive(Debug, Default)]
pub struct Reminder {
    wake: Arc<Notify>,
    timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[ghostkit::async_trait]
impl Handler<ReminderCommand> for Reminder {
    async fn on_start(&self, app: &AppContext) -> HandlerResult {
        let task = tokio::spawn(fire_when_due(app.clone(), self.wake.clone()));
        let old = self
            .timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
        Ok(())
    }

    async fn on_stop(&self, _app: &AppContext) {
        if let Some(task) = self.timer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    async fn on_command(&self, ctx: &Context, cmd: ReminderCommand) -> HandlerResult {
        let ReminderCommand::Remind { delay, text } = cmd;
        let ev = ctx.event();
        let (Some(room), Some(user)) = (ev.room_id(), ev.sender()) else {
            return Ok(());
        };
        let pending = Pending {
            due_ms: now_ms() + delay.0.as_millis() as u64,
            room_id: room.to_string(),
            user_id: user.to_string(),
            text,
        };
        let id = ev.event_id().map(|e| e.to_string()).unwrap_or_default();
        let key = format!("{:020}|{}|{id}", pending.due_ms, pending.room_id);
        ctx.store().put_json(TREE, &key, &pending).await?;
        ctx.store().flush().await?;
        self.wake.notify_one();
        ctx.reply_notice(&format!("⏰ in {delay}")).await?;
        Ok(())
    }
}

/// Sleeps until the earliest reminder, sends it, removes it; forever.
async fn fire_when_due(app: AppContext, wake: Arc<Notify>) {
    loop {
        let next = match earliest(app.store()).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "cannot read reminders");
                None
            }
        };
        let Some((key, pending)) = next else {
            wake.notified().await;
            continue;
        };
        let now = now_ms();
        if pending.due_ms > now {
            let wait = Duration::from_millis(pending.due_ms - now);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
            }
            continue;
        }
        match fire(&app, &key, &pending).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, room = %pending.room_id, "cannot send a reminder; trying again in 5s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn earliest(store: &Store) -> Result<Option<(String, Pending)>, HandlerError> {
    let Some((key, value)) = store.tree(TREE)?.first().await? else {
        return Ok(None);
    };
    let key = String::from_utf8_lossy(&key).into_owned();
    match serde_json::from_slice(&value) {
        Ok(p) => Ok(Some((key, p))),
        Err(e) => {
            // Not ours to understand: drop it rather than loop on it.
            tracing::error!(error = %e, key, "dropping an unreadable reminder");
            store.remove(TREE, &key).await?;
            Ok(None)
        }
    }
}

async fn fire(app: &AppContext, key: &str, p: &Pending) -> Result<(), HandlerError> {
    let Ok(room) = <&RoomId>::try_from(p.room_id.as_str()) else {
        tracing::error!(key, "dropping a reminder for an invalid room ID");
        app.store().remove(TREE, key).await?;
        return Ok(());
    };
    let body = format!("⏰ {}: {}", p.user_id, p.text);
    app.client().as_bot().send_text(room, &body).await?;
    app.store().remove(TREE, key).await?;
    app.store().flush().await?;
    Ok(())
}

/// The bot as it runs: commands after `!`, its own messages ignored, invites accepted.
pub fn handler() -> impl Handler {
    Reminder::default()
        .commands("!")
        .ignore_own_ghosts()
        .auto_join()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_print_as_they_are_written() {
        for (text, shown) in [
            ("90s", "1m30s"),
            ("1h30m", "1h30m"),
            ("2d", "2d"),
            ("3600s", "1h"),
        ] {
            let d: Delay = text.parse().expect("a delay");
            assert_eq!(d.to_string(), shown);
        }
    }

    #[test]
    fn bad_delays() {
        assert_eq!("m".parse::<Delay>(), Err(DelayError::Shape));
        assert_eq!("5x".parse::<Delay>(), Err(DelayError::Shape));
        assert_eq!("366d".parse::<Delay>(), Err(DelayError::Range));
        assert_eq!(
            "99999999999999999999d".parse::<Delay>(),
            Err(DelayError::Shape)
        );
    }
}
