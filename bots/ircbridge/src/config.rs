//! The bridge's own settings: the `bot` section of its config file
//! (`ircbridge.yaml`, or the file `--config` or `GHOSTKIT_CONFIG` names),
//! beside the framework's settings.
//!
//! ```yaml
//! homeserver_url: http://127.0.0.1:8008
//! registration: ircbridge-registration.yaml
//! store: ircbridge.store
//! bot:
//!   network: libera            # lowercase letters and digits; in ghost IDs and aliases
//!   host: irc.libera.chat
//!   port: 6697
//!   tls: true                  # false: plain TCP (port 6667 on most networks)
//!   # tls_ca_file: ca.pem      # PEM certificates trusted besides the public CAs
//!   nick: matrixbridge
//!   # password: …              # better: GHOSTKIT_BOT_PASSWORD_FILE=/run/secrets/irc
//!   channels: ["#ghostkit"]    # portals made and joined at start
//!   admins: ["@me:example.org"] # who may use the bot's commands; empty: nobody
//!   command_prefix: "!"        # what the bot's commands start with
//!   alias_channels: []         # channels whose alias makes a portal, besides `channels` (globs: "#ghostkit-*")
//!   alias_portals_per_hour: 10 # at most this many portals made by aliases an hour
//!   name_marker: " [m]"        # after relayed Matrix names
//!   max_lines_per_message: 5   # IRC lines one Matrix message becomes at most
//!   max_queued_lines_per_channel: 100
//!   max_queued_lines: 1000
//!   flood_burst: 10
//!   flood_per_second: 2.0
//!   nick_reclaim_seconds: 30   # asks for `nick` again when it was taken
//! ```
//!
//! Every key also has a variable, `GHOSTKIT_BOT_` and the key in capitals:
//! `GHOSTKIT_BOT_NICK=mybridge`, `GHOSTKIT_BOT_TLS=true`,
//! `GHOSTKIT_BOT_CHANNELS=#ghostkit,#rust` (a list is comma-separated, or
//! YAML `["#a", "#b"]`). With `_FILE` after it the value is read from that
//! file, which keeps the server password out of the config file and the
//! process list: `GHOSTKIT_BOT_PASSWORD_FILE=/run/secrets/irc`.
//! `ircbridge generate-config` writes the whole file, every key with its
//! default and what it does.
//!
//! Reading fails closed. An unknown key under `bot` or an unknown
//! `GHOSTKIT_*` variable is an error naming the nearest known one, and a
//! value of the wrong type names its key (the framework's reading,
//! [`ghostkit::config`]); a value out of range or a channel or nick IRC
//! would misread is refused by [`BridgeConfig::validate`] with the key
//! (`bot.nick`) and the fix. Nothing is quietly clamped or ignored.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ghostkit::config::{Settings, Sources};
//! use ircbridge::BridgeConfig;
//!
//! let example = concat!(env!("CARGO_MANIFEST_DIR"), "/ircbridge.example.yaml");
//! let vars = BTreeMap::from([("GHOSTKIT_BOT_NICK".to_owned(), "otherbridge".to_owned())]);
//! let settings = Settings::<BridgeConfig>::load(&Sources::new("ircbridge", Some(example.into()), vars))?;
//! assert_eq!(settings.bot.network, "libera");
//! assert_eq!(settings.bot.nick, "otherbridge");
//! settings.bot.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;

use ghostkit::config::Secret;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::irc::{check_channel, check_nick, IrcConfig, QueueLimits};
use crate::portal::AliasPattern;

/// Why the bridge's settings cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value the bridge refuses.
    #[error("`bot.{key}`: {reason}")]
    Invalid {
        /// The key under `bot`.
        key: &'static str,
        /// What is wrong and what would do.
        reason: String,
    },
}

/// The bridge's settings: the `bot` section of its config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct BridgeConfig {
    /// The network's name in ghost IDs and aliases: lowercase letters and
    /// digits only.
    pub network: String,
    /// The IRC server's host name.
    pub host: String,
    /// The IRC server's port (6697 for TLS, 6667 for plain TCP on most
    /// networks).
    pub port: u16,
    /// Connect with TLS.
    pub tls: bool,
    /// A PEM file of certificates to trust besides the public authorities
    /// (a private network's CA, a self-signed server); needs `tls: true`.
    pub tls_ca_file: Option<PathBuf>,
    /// The bridge's nick on IRC.
    pub nick: String,
    /// The server password (PASS), if the network needs one; better set
    /// with GHOSTKIT_BOT_PASSWORD_FILE than written here.
    pub password: Option<Secret>,
    /// Channels bridged from the start (more with the join command).
    pub channels: Vec<String>,
    /// Matrix users allowed to give commands, as full user IDs
    /// (`@me:example.org`); empty: nobody (the commands are off).
    pub admins: Vec<String>,
    /// What the bot's commands start with: `!` makes `!join #rust`.
    pub command_prefix: String,
    /// Channels whose portal may be made by joining its alias, besides
    /// those of `channels`: patterns where `*` is any run of characters and
    /// `?` one, compared as IRC compares names (`#ghostkit-*`). Empty: only
    /// the aliases of `channels` make portals.
    pub alias_channels: Vec<String>,
    /// The most portals aliases may make in an hour (0: none, at most 1000).
    pub alias_portals_per_hour: u32,
    /// Put after every relayed Matrix name (`<alice [m]> hi`); it must hold
    /// a character no nick can (a space, or one of `!@*?,.`), so that no
    /// relayed name reads as an IRC user's.
    pub name_marker: String,
    /// The most IRC lines one Matrix message becomes (1 to 100); a longer
    /// one is cut and a line more says how much was left out.
    pub max_lines_per_message: usize,
    /// The most lines waiting to be said in one channel (1 to 10000); a
    /// message that does not fit is dropped.
    pub max_queued_lines_per_channel: usize,
    /// The most lines waiting to be said in all channels together (from
    /// max_queued_lines_per_channel to 100000).
    pub max_queued_lines: usize,
    /// Lines sent at once before flood control paces them (1 to 1000).
    pub flood_burst: u32,
    /// Lines a second after the burst (more than 0, up to 1000).
    pub flood_per_second: f64,
    /// Seconds between attempts to get the configured nick back when the
    /// server gave another because it was taken (1 to 86400).
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
    /// Refuses settings the bridge cannot run with safely: names that would
    /// make ambiguous Matrix IDs, channels and nicks IRC would misread,
    /// numbers out of range. The error names the key (`bot.nick`) and says
    /// the fix.
    ///
    /// ```
    /// use ircbridge::BridgeConfig;
    /// assert!(BridgeConfig::default().validate().is_ok());
    /// let e = BridgeConfig { nick: "a b".into(), ..Default::default() }.validate().unwrap_err();
    /// assert!(e.to_string().starts_with("`bot.nick`: "), "{e}");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let network_ok = !self.network.is_empty()
            && self
                .network
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ensure(network_ok, "network", || {
            format!(
                "`{}`: use lowercase letters and digits only, e.g. `libera`",
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
            || {
                format!(
                    "`{}` is not a host name: write the IRC server's, e.g. `irc.libera.chat`",
                    self.host.escape_debug()
                )
            },
        )?;
        ensure(self.port != 0, "port", || {
            "0 is not a port: write the IRC server's, e.g. 6697 (TLS) or 6667".to_owned()
        })?;
        check_nick(&self.nick).map_err(|e| ConfigError::Invalid {
            key: "nick",
            reason: format!("{e}: choose another, e.g. `matrixbridge`"),
        })?;
        if let Some(p) = self.password.as_ref().map(Secret::expose) {
            ensure(
                !p.is_empty() && !p.contains(['\r', '\n', '\0']),
                "password",
                || {
                    "empty, or holds a line break or NUL: write the server password on one line, \
                     or leave the key out when the server needs none"
                        .to_owned()
                },
            )?;
        }
        for channel in &self.channels {
            check_channel(channel).map_err(|e| ConfigError::Invalid {
                key: "channels",
                reason: format!("{e}: write channel names like \"#ghostkit\""),
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
                        "`{}` is not a Matrix user ID: write full IDs like `@me:example.org`",
                        admin.escape_debug()
                    )
                },
            )?;
        }
        for pattern in &self.alias_channels {
            AliasPattern::new(pattern).map_err(|e| ConfigError::Invalid {
                key: "alias_channels",
                reason: format!(
                    "{e} (with `x` for its wildcards): write patterns like \"#ghostkit-*\""
                ),
            })?;
        }
        ensure(
            self.alias_portals_per_hour <= 1000,
            "alias_portals_per_hour",
            || {
                format!(
                    "{} is more than 1000: use 0 to 1000",
                    self.alias_portals_per_hour
                )
            },
        )?;
        let marker = &self.name_marker;
        ensure(
            !marker
                .chars()
                .any(|c| c.is_control() || matches!(c, '<' | '>'))
                && marker.chars().count() <= 16,
            "name_marker",
            || {
                "use at most 16 characters, without `<`, `>` or control characters, e.g. \" [m]\""
                    .to_owned()
            },
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
                    "{}: use bot.max_queued_lines_per_channel ({}) to 100000",
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
                "set but bot.tls is false: add `tls: true` (or remove tls_ca_file)".to_owned()
            })?;
            ensure(ca.is_file(), "tls_ca_file", || {
                format!(
                    "{} is not a readable file: name a PEM file of CA certificates",
                    ca.display()
                )
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

/// The bridge's settings as the framework reads them: [`BridgeConfig::validate`]
/// refuses what the bridge cannot use before anything runs.
impl ghostkit::bot::BotConfig for BridgeConfig {
    fn check(&self) -> Result<(), ghostkit::HandlerError> {
        Ok(self.validate()?)
    }
}

#[cfg(test)]
mod tests;
