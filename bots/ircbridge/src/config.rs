//! The bridge's configuration: a YAML file (`IRCBRIDGE_CONFIG`, default
//! `ircbridge.yaml`).
//!
//! ```yaml
//! network: libera            # lowercase letters and digits; in ghost IDs and aliases
//! host: irc.libera.chat
//! port: 6697
//! tls: true                  # false: plain TCP (port 6667 on most networks)
//! # tls_ca_file: ca.pem      # PEM certificates trusted besides the public CAs
//! nick: matrixbridge
//! channels: ["#ghostkit"]    # portals made and joined at start
//! admins: ["@me:example.org"] # who may use the bot's commands; empty: nobody
//! command_prefix: "!"        # what the bot's commands start with
//! alias_channels: []         # channels whose alias makes a portal, besides `channels` (globs: "#ghostkit-*")
//! alias_portals_per_hour: 10 # at most this many portals made by aliases an hour
//! name_marker: " [m]"        # after relayed Matrix names
//! max_lines_per_message: 5   # IRC lines one Matrix message becomes at most
//! max_queued_lines_per_channel: 100
//! max_queued_lines: 1000
//! flood_burst: 10
//! flood_per_second: 2.0
//! nick_reclaim_seconds: 30   # asks for `nick` again when it was taken
//! ```
//!
//! The file is checked before anything runs: an unknown key, a value out of
//! range or a channel or nick IRC would misread is an error that says which
//! key and why; nothing is quietly clamped or ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::irc::{check_channel, check_nick, IrcConfig, QueueLimits};
use crate::portal::AliasPattern;

/// Every key of the config file, as [`BridgeConfig`] names its fields.
pub const KNOWN_KEYS: &[&str] = &[
    "network",
    "host",
    "port",
    "tls",
    "tls_ca_file",
    "nick",
    "password",
    "channels",
    "admins",
    "command_prefix",
    "alias_channels",
    "alias_portals_per_hour",
    "name_marker",
    "max_lines_per_message",
    "max_queued_lines_per_channel",
    "max_queued_lines",
    "flood_burst",
    "flood_per_second",
    "nick_reclaim_seconds",
];

/// Why the configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error(
        "the config file {} does not exist (IRCBRIDGE_CONFIG names it; ./ircbridge.yaml when unset)",
        .0.display()
    )]
    Missing(PathBuf),
    /// The file exists but cannot be read.
    #[error("cannot read the config file {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no settings.
    #[error("the config file {} is empty", .0.display())]
    Empty(PathBuf),
    /// The file is not YAML, or a value has the wrong type.
    #[error("the config file {} is not valid: {message}", .path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said, with the line.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// The file is not a mapping of keys to values.
    #[error("the config file {} must be a mapping of keys to values", .0.display())]
    NotAMapping(PathBuf),
    /// A key the bridge does not know.
    #[error("unknown config key `{key}`{hint}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// `; did you mean …?`, or the known keys.
        hint: String,
    },
    /// A value the bridge refuses.
    #[error("`{key}`: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong and what would do.
        reason: String,
    },
}

/// The bridge's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// The network's name in ghost IDs and aliases (lowercase letters, digits).
    pub network: String,
    /// IRC server host.
    pub host: String,
    /// IRC server port.
    pub port: u16,
    /// Whether to connect with TLS.
    pub tls: bool,
    /// A PEM file of certificates to trust besides the public authorities
    /// (a private network's CA, a self-signed server); needs `tls: true`.
    pub tls_ca_file: Option<PathBuf>,
    /// The bridge's nick on IRC.
    pub nick: String,
    /// A server password, if any.
    pub password: Option<String>,
    /// Channels bridged from the start.
    pub channels: Vec<String>,
    /// Matrix users allowed to give commands; empty: nobody (the commands
    /// are off).
    pub admins: Vec<String>,
    /// What the bot's commands start with (`!`): `!join #rust`.
    pub command_prefix: String,
    /// Channels whose portal may be made by joining its alias: patterns
    /// where `*` is any run of characters and `?` one, compared as IRC
    /// compares names, besides those of `channels`. Empty (the default):
    /// only the aliases of `channels` make portals.
    pub alias_channels: Vec<String>,
    /// The most portals aliases may make in an hour (0: none).
    pub alias_portals_per_hour: u32,
    /// Put after every relayed Matrix name (`<alice [m]> hi`); it must hold
    /// a character no nick can (a space, `!@*?,.`), so that no relayed name
    /// reads as an IRC user's.
    pub name_marker: String,
    /// The most IRC lines one Matrix message becomes; a longer one is cut
    /// and a line more says how much was left out.
    pub max_lines_per_message: usize,
    /// The most lines waiting to be said in one channel.
    pub max_queued_lines_per_channel: usize,
    /// The most lines waiting to be said in all channels together.
    pub max_queued_lines: usize,
    /// Lines sent at once before flood control paces them.
    pub flood_burst: u32,
    /// Lines a second after the burst.
    pub flood_per_second: f64,
    /// Seconds between attempts to get the configured nick back when the
    /// server gave us another (it was taken).
    pub nick_reclaim_seconds: u64,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            network: "irc".into(),
            host: "127.0.0.1".into(),
            port: 6667,
            tls: false,
            tls_ca_file: None,
            nick: "matrixbridge".into(),
            password: None,
            channels: Vec::new(),
            admins: Vec::new(),
            command_prefix: "!".into(),
            alias_channels: Vec::new(),
            alias_portals_per_hour: 10,
            name_marker: " [m]".into(),
            max_lines_per_message: 5,
            max_queued_lines_per_channel: 100,
            max_queued_lines: 1000,
            flood_burst: 10,
            flood_per_second: 2.0,
            nick_reclaim_seconds: 30,
        }
    }
}

/// The known key nearest to `key`, if one is near enough to be meant
/// ([`ghostkit::config::nearest`] over [`KNOWN_KEYS`]).
///
/// ```
/// assert_eq!(ircbridge::config::nearest_key("admin"), Some("admins"));
/// assert_eq!(ircbridge::config::nearest_key("flood_per_sec"), Some("flood_per_second"));
/// assert_eq!(ircbridge::config::nearest_key("zzzzzz"), None);
/// ```
pub fn nearest_key(key: &str) -> Option<&'static str> {
    ghostkit::config::nearest(key, KNOWN_KEYS)
}

/// Refuses `key` unless `ok`, saying `reason`.
fn ensure(ok: bool, key: &'static str, reason: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            reason: reason(),
        })
    }
}

impl BridgeConfig {
    /// Reads `path` and checks it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing(path.to_owned())
            } else {
                ConfigError::Read {
                    path: path.to_owned(),
                    source: e,
                }
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of a config file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let yaml_error = |e: serde_yaml::Error| ConfigError::Yaml {
            path: path.to_owned(),
            message: e.to_string(),
            source: e,
        };
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_error)?;
        let keys = match &value {
            serde_yaml::Value::Null => return Err(ConfigError::Empty(path.to_owned())),
            serde_yaml::Value::Mapping(m) => m.keys(),
            _ => return Err(ConfigError::NotAMapping(path.to_owned())),
        };
        for key in keys {
            let name = match key {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            if !KNOWN_KEYS.contains(&name.as_str()) {
                let hint = match nearest_key(&name) {
                    Some(k) => format!("; did you mean `{k}`?"),
                    None => format!("; the keys are {}", KNOWN_KEYS.join(", ")),
                };
                return Err(ConfigError::UnknownKey { key: name, hint });
            }
        }
        let config: BridgeConfig = serde_yaml::from_value(value).map_err(yaml_error)?;
        config.check()?;
        Ok(config)
    }

    /// Reads the file named by `IRCBRIDGE_CONFIG` (default `ircbridge.yaml`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let path = std::env::var("IRCBRIDGE_CONFIG").unwrap_or_else(|_| "ircbridge.yaml".into());
        Self::load(Path::new(&path))
    }

    /// Refuses settings the bridge cannot run with safely: names that would
    /// make ambiguous Matrix IDs, channels and nicks IRC would misread,
    /// numbers out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        let network_ok = !self.network.is_empty()
            && self
                .network
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ensure(network_ok, "network", || {
            format!(
                "`{}`: use lowercase letters and digits only",
                self.network.escape_debug()
            )
        })?;
        ensure(
            !self.host.is_empty()
                && !self
                    .host
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()),
            "host",
            || format!("`{}` is not a host name", self.host.escape_debug()),
        )?;
        ensure(self.port != 0, "port", || "0 is not a port".to_owned())?;
        check_nick(&self.nick).map_err(|e| ConfigError::Invalid {
            key: "nick",
            reason: e.to_string(),
        })?;
        if let Some(p) = &self.password {
            ensure(
                !p.is_empty() && !p.contains(['\r', '\n', '\0']),
                "password",
                || "empty, or holds a line break or NUL".to_owned(),
            )?;
        }
        for channel in &self.channels {
            check_channel(channel).map_err(|e| ConfigError::Invalid {
                key: "channels",
                reason: e.to_string(),
            })?;
        }
        ensure(
            !self.command_prefix.trim().is_empty() && !self.command_prefix.contains(['\n', '\r']),
            "command_prefix",
            || "empty or holds a line break; say what commands start with, e.g. \"!\"".to_owned(),
        )?;
        for admin in &self.admins {
            ensure(
                ghostkit::ruma::common::UserId::parse(admin.as_str()).is_ok(),
                "admins",
                || {
                    format!(
                        "`{}` is not a Matrix user ID like `@me:example.org`",
                        admin.escape_debug()
                    )
                },
            )?;
        }
        for pattern in &self.alias_channels {
            AliasPattern::new(pattern).map_err(|e| ConfigError::Invalid {
                key: "alias_channels",
                reason: e.to_string(),
            })?;
        }
        ensure(
            self.alias_portals_per_hour <= 1000,
            "alias_portals_per_hour",
            || format!("{} is more than 1000", self.alias_portals_per_hour),
        )?;
        let marker = &self.name_marker;
        ensure(
            !marker
                .chars()
                .any(|c| c.is_control() || matches!(c, '<' | '>'))
                && marker.chars().count() <= 16,
            "name_marker",
            || "at most 16 characters, without `<`, `>` or control characters".to_owned(),
        )?;
        ensure(
            marker.trim() != "" && marker.contains([' ', '!', '@', '*', '?', ',', '.']),
            "name_marker",
            || {
                format!(
                    "`{marker}` could end a real nick: it needs a character no nick holds \
                     (a space, or one of `!@*?,.`), e.g. \" [m]\""
                )
            },
        )?;
        ensure(
            (1..=100).contains(&self.max_lines_per_message),
            "max_lines_per_message",
            || format!("{}: use 1 to 100", self.max_lines_per_message),
        )?;
        ensure(
            (1..=10_000).contains(&self.max_queued_lines_per_channel),
            "max_queued_lines_per_channel",
            || format!("{}: use 1 to 10000", self.max_queued_lines_per_channel),
        )?;
        ensure(
            (self.max_queued_lines_per_channel..=100_000).contains(&self.max_queued_lines),
            "max_queued_lines",
            || {
                format!(
                    "{}: use max_queued_lines_per_channel ({}) to 100000",
                    self.max_queued_lines, self.max_queued_lines_per_channel
                )
            },
        )?;
        ensure(
            (1..=1000).contains(&self.flood_burst),
            "flood_burst",
            || format!("{}: use 1 to 1000", self.flood_burst),
        )?;
        ensure(
            self.flood_per_second.is_finite()
                && self.flood_per_second > 0.0
                && self.flood_per_second <= 1000.0,
            "flood_per_second",
            || format!("{}: use more than 0, up to 1000", self.flood_per_second),
        )?;
        ensure(
            (1..=86_400).contains(&self.nick_reclaim_seconds),
            "nick_reclaim_seconds",
            || format!("{}: use 1 to 86400", self.nick_reclaim_seconds),
        )?;
        if let Some(ca) = &self.tls_ca_file {
            ensure(self.tls, "tls_ca_file", || {
                "set but tls is false: add `tls: true` (or remove tls_ca_file)".to_owned()
            })?;
            ensure(ca.is_file(), "tls_ca_file", || {
                format!("{} is not a readable file", ca.display())
            })?;
        }
        if self.tls {
            // Fails early on a CA file that is not PEM certificates.
            crate::irc::Tls {
                ca_file: self.tls_ca_file.clone(),
            }
            .connector()
            .map_err(|reason| ConfigError::Invalid {
                key: "tls_ca_file",
                reason,
            })?;
        }
        Ok(())
    }

    /// Whether admin commands are on: some `admins` are configured.
    pub fn admin_commands_enabled(&self) -> bool {
        !self.admins.is_empty()
    }

    /// Whether `user_id` may give commands (nobody when `admins` is empty).
    pub fn is_admin(&self, user_id: &str) -> bool {
        self.admins.iter().any(|a| a == user_id)
    }

    /// The IRC connection's settings.
    pub fn irc(&self) -> IrcConfig {
        let mut c = IrcConfig::new(&self.host, self.port, &self.nick);
        c.tls = self.tls.then(|| crate::irc::Tls {
            ca_file: self.tls_ca_file.clone(),
        });
        c.password = self.password.clone();
        c.flood_burst = self.flood_burst;
        c.flood_per_second = self.flood_per_second;
        c.nick_reclaim = std::time::Duration::from_secs(self.nick_reclaim_seconds);
        c.queue = QueueLimits {
            per_channel: self.max_queued_lines_per_channel,
            total: self.max_queued_lines,
            ..QueueLimits::default()
        };
        c
    }
}

impl ghostkit::bot::BotConfig for BridgeConfig {
    fn load() -> Result<Self, ghostkit::HandlerError> {
        Ok(BridgeConfig::from_env()?)
    }
}

#[cfg(test)]
mod tests;
