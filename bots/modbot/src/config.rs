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
//! ```
//! Environment: `MODBOT_MANAGEMENT_ROOM`, `MODBOT_DRY_RUN` (`true`/`false`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML for this config.
    #[error("config file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde_yaml said.
        #[source]
        source: serde_yaml::Error,
    },
    /// No management room was configured.
    #[error(
        "no management room: set `management_room` in the config file or MODBOT_MANAGEMENT_ROOM"
    )]
    NoManagementRoom,
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {name} has an invalid value `{value}`")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

/// The bot's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ModConfig {
    /// The management room (ID or alias) where moderators give commands.
    pub management_room: String,
    /// Log what would be done instead of doing it.
    pub dry_run: bool,
    /// Accept invites only from members of the management room.
    pub invites_from_management_only: bool,
    /// When a ban reason contains one of these words, the banned user's
    /// recent messages are redacted too.
    pub redact_reason_words: Vec<String>,
    /// How many recent events per room are looked at for redactions.
    pub redact_limit: u32,
    /// How many moderation requests run at the same time.
    pub max_concurrent_requests: usize,
    /// The command prefix in the management room.
    pub command_prefix: String,
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

    /// Reads `path` (if it exists), then applies environment overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config = if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            serde_yaml::from_str(&text).map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source,
            })?
        } else {
            ModConfig::default()
        };
        if let Ok(room) = std::env::var("MODBOT_MANAGEMENT_ROOM") {
            config.management_room = room;
        }
        if let Ok(v) = std::env::var("MODBOT_DRY_RUN") {
            config.dry_run = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::BadEnv {
                        name: "MODBOT_DRY_RUN",
                        value: v,
                    })
                }
            };
        }
        if config.management_room.is_empty() {
            return Err(ConfigError::NoManagementRoom);
        }
        Ok(config)
    }

    /// Reads the file named by `MODBOT_CONFIG` (default `modbot.yaml`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let path = std::env::var("MODBOT_CONFIG").unwrap_or_else(|_| "modbot.yaml".into());
        Self::load(Path::new(&path))
    }

    /// Whether a ban reason asks for the user's messages to be redacted.
    pub fn reason_wants_redaction(&self, reason: &str) -> bool {
        let reason = reason.to_lowercase();
        self.redact_reason_words
            .iter()
            .any(|w| !w.is_empty() && reason.contains(&w.to_lowercase()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_keeps_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modbot.yaml");
        std::fs::write(&path, "management_room: '!m:x'\ndry_run: true\n").unwrap();
        let c = ModConfig::load(&path).unwrap();
        assert_eq!(c.management_room, "!m:x");
        assert!(c.dry_run);
        assert_eq!(c.command_prefix, "!mod");
        assert!(c.reason_wants_redaction("SPAM bot"));
        assert!(!c.reason_wants_redaction("rude"));
    }
}
