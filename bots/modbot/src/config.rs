//! The bot's configuration: a YAML file (`MODBOT_CONFIG`, default
//! `modbot.yaml`) with environment overrides.
//!
//! ```yaml
//! management_room: "#moderators:example.org"   # room ID or alias
//! dry_run: false
//! invites_from_management_only: true
//! redact_reason_words: [spam, scam]
//! redact_limit: 100
//! max_concurrent_requests: 8
//! command_prefix: "!mod"
//! command_power_level: 50      # in the management room, to give commands
//! confirm_above_members: 5     # list rules banning more wait for `confirm`
//! ```
//! Environment: `MODBOT_CONFIG`, `MODBOT_MANAGEMENT_ROOM`, `MODBOT_DRY_RUN`
//! (`true`/`false`).
//!
//! Reading fails closed: an unknown key (or `MODBOT_*` variable) is an error
//! naming it and the nearest known one, a file named by `MODBOT_CONFIG` that
//! does not exist is an error (only the default `modbot.yaml` may be
//! absent), and a value out of range is refused rather than clamped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ghostkit::config::{did_you_mean, nearest};
use ghostkit::ruma::common::{RoomAliasId, RoomId};
use serde::{Deserialize, Serialize};

/// The config file read when `MODBOT_CONFIG` is not set.
pub const DEFAULT_PATH: &str = "modbot.yaml";

/// Every key of the config file, as [`ModConfig`] names its fields.
pub const KNOWN_KEYS: &[&str] = &[
    "management_room",
    "dry_run",
    "invites_from_management_only",
    "redact_reason_words",
    "redact_limit",
    "max_concurrent_requests",
    "command_prefix",
    "command_power_level",
    "confirm_above_members",
];

/// The environment variables the bot reads, beside ghostkit's.
pub const VARIABLES: &[&str] = &["MODBOT_CONFIG", "MODBOT_MANAGEMENT_ROOM", "MODBOT_DRY_RUN"];

/// The most moderation requests in flight accepted.
pub const MAX_CONCURRENT_LIMIT: usize = 256;

/// The most recent events per room `redact_limit` may look at.
pub const REDACT_LIMIT_MAX: u32 = 10_000;

/// The highest power level Matrix allows (2^53 - 1).
pub const MAX_POWER_LEVEL: i64 = (1 << 53) - 1;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `MODBOT_CONFIG` does not exist.
    #[error(
        "the config file {} named by MODBOT_CONFIG does not exist; fix the path, or unset MODBOT_CONFIG to read ./{DEFAULT_PATH}",
        .0.display()
    )]
    Missing(PathBuf),
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML, or a value has the wrong type.
    #[error("config file {} is not valid: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said, with the key and line.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// The file is not a mapping of keys to values.
    #[error("the config file {} must be a mapping of `key: value` lines", .0.display())]
    NotAMapping(PathBuf),
    /// A key of the config file the bot does not know.
    #[error("unknown key `{key}` in {}{}", .path.display(), did_you_mean(*.suggestion))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
        /// The known key nearest to it, if one is near.
        suggestion: Option<&'static str>,
    },
    /// An environment variable starting with `MODBOT_` the bot does not know.
    #[error("unknown environment variable {name}{}", did_you_mean(*.suggestion))]
    UnknownVariable {
        /// The variable.
        name: String,
        /// The known variable nearest to it, if one is near.
        suggestion: Option<&'static str>,
    },
    /// No management room was configured.
    #[error(
        "no management room: set `management_room` in the config file or MODBOT_MANAGEMENT_ROOM"
    )]
    NoManagementRoom,
    /// A value the bot refuses.
    #[error("`{key}` is `{value}`: {fix}")]
    Invalid {
        /// The key (or variable).
        key: &'static str,
        /// The value as given.
        value: String,
        /// What would do.
        fix: &'static str,
    },
}

/// The bot's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// (1 to [`REDACT_LIMIT_MAX`]).
    pub redact_limit: u32,
    /// How many moderation requests run at the same time (1 to
    /// [`MAX_CONCURRENT_LIMIT`]).
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

    /// Reads `path` and checks it. A missing file is an error when
    /// `required`, else the defaults.
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(ModConfig::default())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(path.to_owned()))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::parse(&text, path)
    }

    /// Parses the text of a config file (`path` names it in errors); the
    /// values are checked by [`check`](Self::check) once the environment
    /// is applied.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parse_error = |source: serde_yaml::Error| ConfigError::Parse {
            path: path.to_owned(),
            message: source.to_string(),
            source,
        };
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(parse_error)?;
        match &value {
            serde_yaml::Value::Null => return Ok(ModConfig::default()),
            serde_yaml::Value::Mapping(map) => {
                for key in map.keys() {
                    let key = match key {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    if !KNOWN_KEYS.contains(&key.as_str()) {
                        return Err(ConfigError::UnknownKey {
                            path: path.to_owned(),
                            suggestion: nearest(&key, KNOWN_KEYS),
                            key,
                        });
                    }
                }
            }
            _ => return Err(ConfigError::NotAMapping(path.to_owned())),
        }
        // From the text, not the value: the parser's errors then name the
        // key (`redact_limit: invalid value: integer `-1`, expected u32`).
        serde_yaml::from_str(text).map_err(parse_error)
    }

    /// Reads the configuration from the process environment: the file
    /// named by `MODBOT_CONFIG` (default `modbot.yaml`), then the overrides.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from these variables.
    ///
    /// ```
    /// use modbot::ModConfig;
    /// let vars = [("MODBOT_MANAGEMENT_ROOM".to_owned(), "#mods:example.org".to_owned()),
    ///             ("MODBOT_CONFIG".to_owned(), "/nonexistent/modbot.yaml".to_owned())];
    /// let e = ModConfig::from_vars(vars).unwrap_err().to_string();
    /// assert!(e.contains("named by MODBOT_CONFIG does not exist"), "{e}");
    /// let vars = [("MODBOT_DRY_RUNN".to_owned(), "true".to_owned())];
    /// let e = ModConfig::from_vars(vars).unwrap_err().to_string();
    /// assert_eq!(e, "unknown environment variable MODBOT_DRY_RUNN; did you mean `MODBOT_DRY_RUN`?");
    /// ```
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        for name in vars.keys() {
            if name.starts_with("MODBOT_") && !VARIABLES.contains(&name.as_str()) {
                return Err(ConfigError::UnknownVariable {
                    name: name.clone(),
                    suggestion: nearest(name, VARIABLES),
                });
            }
        }
        let mut config = match vars.get("MODBOT_CONFIG") {
            Some(path) if path.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    key: "MODBOT_CONFIG",
                    value: path.clone(),
                    fix: "name the config file, or unset MODBOT_CONFIG to read ./modbot.yaml",
                })
            }
            Some(path) => Self::load(Path::new(path), true)?,
            None => Self::load(Path::new(DEFAULT_PATH), false)?,
        };
        if let Some(room) = vars.get("MODBOT_MANAGEMENT_ROOM") {
            config.management_room = room.clone();
        }
        if let Some(v) = vars.get("MODBOT_DRY_RUN") {
            config.dry_run = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "MODBOT_DRY_RUN",
                        value: v.clone(),
                        fix: "use `true` or `false`",
                    })
                }
            };
        }
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the bot cannot run with: no or a malformed
    /// management room, limits of zero, an empty prefix.
    pub fn check(&self) -> Result<(), ConfigError> {
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
    fn load() -> Result<Self, ghostkit::HandlerError> {
        Ok(ModConfig::from_env()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
