//! The bot's own settings: the `bot` section of its config file
//! (`modbot.yaml`, or the file `--config` or `GHOSTKIT_CONFIG` names),
//! beside the framework's settings.
//!
//! ```yaml
//! homeserver_url: http://127.0.0.1:8008
//! registration: modbot-registration.yaml
//! bot:
//!   management_room: "#moderators:example.org"   # room ID or alias
//!   dry_run: false
//!   invites_from_management_only: true
//!   redact_reason_words: [spam, scam]
//!   redact_limit: 100
//!   max_concurrent_requests: 8
//!   command_prefix: "!mod"
//!   command_power_level: 50      # in the management room, to give commands
//!   confirm_above_members: 5     # list rules banning more wait for `confirm`
//! ```
//! Each key also has a variable, `GHOSTKIT_BOT_` and the key in capitals
//! (`GHOSTKIT_BOT_MANAGEMENT_ROOM`, `GHOSTKIT_BOT_DRY_RUN=true`), and
//! `modbot generate-config` writes the file with every key, its default
//! and what it does.
//!
//! Reading fails closed: an unknown key or variable is an error naming it
//! and the nearest known one (the framework's reading), and a value out of
//! range is refused by [`ModConfig::validate`] rather than clamped.

use ghostkit::ruma::common::{RoomAliasId, RoomId};
use serde::{Deserialize, Serialize};

/// The most moderation requests in flight accepted.
pub const MAX_CONCURRENT_LIMIT: usize = 256;

/// The most recent events per room `redact_limit` may look at.
pub const REDACT_LIMIT_MAX: u32 = 10_000;

/// The highest power level Matrix allows (2^53 - 1).
pub const MAX_POWER_LEVEL: i64 = (1 << 53) - 1;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No management room was configured.
    #[error(
        "no management room: set `bot.management_room` in the config file, or GHOSTKIT_BOT_MANAGEMENT_ROOM"
    )]
    NoManagementRoom,
    /// A value the bot refuses.
    #[error("`bot.{key}` is `{value}`: {fix}")]
    Invalid {
        /// The key under `bot`.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What would do.
        fix: &'static str,
    },
}

/// The bot's settings: the `bot` section of its config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ModConfig {
    /// The management room (ID `!…` or alias `#…:server`) where moderators
    /// give commands.
    pub management_room: String,
    /// Log what would be done instead of doing it.
    pub dry_run: bool,
    /// Accept invites only from members of the management room who may
    /// give commands (`command_power_level`).
    pub invites_from_management_only: bool,
    /// When a ban reason contains one of these words, the banned user's
    /// recent messages are redacted too.
    pub redact_reason_words: Vec<String>,
    /// How many recent events per room are looked at for redactions
    /// (1 to 10000).
    pub redact_limit: u32,
    /// How many moderation requests run at the same time (1 to 256).
    pub max_concurrent_requests: usize,
    /// The command prefix in the management room (one word).
    pub command_prefix: String,
    /// The power level a member of the management room needs (in its
    /// `m.room.power_levels`) to give commands (default 50, at least 1).
    pub command_power_level: i64,
    /// A rule from a policy list that would ban more members than this
    /// (counted over all protected rooms) waits for `confirm` in the
    /// management room instead of being applied (default 5; 0: every rule
    /// that bans anyone waits).
    pub confirm_above_members: usize,
}

impl Default for ModConfig {
    fn default() -> Self {
        ModConfig {
            management_room: String::new(),
            dry_run: false,
            invites_from_management_only: true,
            redact_reason_words: vec!["spam".into()],
            redact_limit: 100,
            max_concurrent_requests: 8,
            command_prefix: "!mod".into(),
            command_power_level: 50,
            confirm_above_members: 5,
        }
    }
}

impl ModConfig {
    /// A config for `management_room` with every other setting at its default.
    pub fn new(management_room: impl Into<String>) -> Self {
        ModConfig {
            management_room: management_room.into(),
            ..Default::default()
        }
    }

    /// Refuses settings the bot cannot run with: no or a malformed
    /// management room, limits of zero, an empty prefix.
    ///
    /// ```
    /// use modbot::ModConfig;
    /// assert!(ModConfig::new("#mods:example.org").validate().is_ok());
    /// let e = ModConfig::new("mods").validate().unwrap_err();
    /// assert!(e.to_string().starts_with("`bot.management_room` is `mods`"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: String, fix| Err(ConfigError::Invalid { key, value, fix });
        let room = self.management_room.as_str();
        if room.is_empty() {
            return Err(ConfigError::NoManagementRoom);
        }
        let room_ok = match room.chars().next() {
            Some('!') => room.len() > 1 && <&RoomId>::try_from(room).is_ok(),
            Some('#') => <&RoomAliasId>::try_from(room).is_ok(),
            _ => false,
        };
        if !room_ok || room.chars().any(char::is_whitespace) {
            return invalid(
                "management_room",
                room.to_owned(),
                "write a room ID (`!abc…`) or an alias (`#moderators:example.org`)",
            );
        }
        if !(1..=REDACT_LIMIT_MAX).contains(&self.redact_limit) {
            return invalid(
                "redact_limit",
                self.redact_limit.to_string(),
                "use a number of events from 1 to 10000",
            );
        }
        if !(1..=MAX_CONCURRENT_LIMIT).contains(&self.max_concurrent_requests) {
            return invalid(
                "max_concurrent_requests",
                self.max_concurrent_requests.to_string(),
                "use a number of requests from 1 to 256",
            );
        }
        let prefix = &self.command_prefix;
        if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid(
                "command_prefix",
                prefix.clone(),
                "use one word without spaces, e.g. `!mod`",
            );
        }
        if !(1..=MAX_POWER_LEVEL).contains(&self.command_power_level) {
            return invalid(
                "command_power_level",
                self.command_power_level.to_string(),
                "use a power level from 1 (0 and below would let every member command the bot); 50 is a moderator",
            );
        }
        if let Some(w) = self
            .redact_reason_words
            .iter()
            .find(|w| w.trim().is_empty())
        {
            return invalid(
                "redact_reason_words",
                w.clone(),
                "remove the empty word: it would match every reason",
            );
        }
        Ok(())
    }

    /// Whether a ban reason asks for the user's messages to be redacted.
    pub fn reason_wants_redaction(&self, reason: &str) -> bool {
        let reason = reason.to_lowercase();
        self.redact_reason_words
            .iter()
            .any(|w| !w.is_empty() && reason.contains(&w.to_lowercase()))
    }
}

impl ghostkit::bot::BotConfig for ModConfig {
    fn check(&self) -> Result<(), ghostkit::HandlerError> {
        Ok(self.validate()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
