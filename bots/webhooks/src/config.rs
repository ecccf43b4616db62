//! The bot's own settings: the `bot` section of its config file
//! (`webhooks.yaml`, or the file `--config` or `GHOSTKIT_CONFIG` names),
//! beside the framework's settings.
//!
//! ```yaml
//! homeserver_url: http://127.0.0.1:8008
//! registration: /etc/webhooks/registration.yaml
//! bot:
//!   listen: 127.0.0.1:9016          # the webhook server, not the appservice
//!   public_url: https://hooks.example.org
//!   rate: 5                         # messages per second per inbound hook
//!   burst: 20
//!   max_body: 32768
//!   workers: 2
//!   outbound_allow: [10.20.0.0/16, ci.internal]
//!   outbound_deny: ["*.example.net"]
//!   outbound_attempts: 6
//!   outbound_backoff_ms: 500
//!   outbound_timeout_ms: 10000
//!   outbound_queue: 1000
//! ```
//!
//! Each key also has a variable, `GHOSTKIT_BOT_` and the key in capitals
//! (`GHOSTKIT_BOT_PUBLIC_URL=https://hooks.example.org`,
//! `GHOSTKIT_BOT_RATE=2.5`; a list is comma-separated,
//! `GHOSTKIT_BOT_OUTBOUND_ALLOW=10.20.0.0/16,ci.internal`), and a `_FILE`
//! variant that reads the value from a file. `webhooks generate-config`
//! writes the file with every key, its default and what it does.
//!
//! Reading fails closed: an unknown key or variable is an error naming it
//! and the nearest known one, a value of the wrong type names its key (the
//! framework's reading, [`ghostkit::config`]), and a value out of range is
//! refused by [`WebhooksConfig::validate`] rather than clamped.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::address::HostRule;

/// The largest `max_body` accepted: 1 MiB (a Matrix event is at most 64 KiB).
pub const MAX_BODY_LIMIT: usize = 1024 * 1024;

/// The most webhook server worker threads accepted.
pub const MAX_WORKERS: usize = 256;

/// The largest `outbound_queue` accepted, in events per hook.
pub const MAX_OUTBOUND_QUEUE: usize = 1_000_000;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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

/// Settings of the webhooks bot: the `bot` section of its config file
/// (beside the registration and homeserver, which `ghostkit::cli` reads).
///
/// Each field's doc comment is its description in the file
/// `generate-config` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct WebhooksConfig {
    /// Where the webhook HTTP server listens, the one senders post to (not
    /// the appservice's): an address and port; port 0 picks a free port.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// The public base URL of the webhook server, as senders reach it, like
    /// <https://hooks.example.org>; a hook's secret URL is this base, then
    /// /webhook/ and its ID. When not set: http:// and the listen address.
    pub public_url: Option<String>,
    /// Messages per second each inbound hook may post, on average (a finite
    /// number above 0).
    pub rate: f64,
    /// How many messages an inbound hook may post at once before it is
    /// limited (at least 1).
    pub burst: u32,
    /// The largest request body the webhook server accepts, in bytes (1 to
    /// 1048576).
    pub max_body: usize,
    /// HTTP worker threads of the webhook server (1 to 256).
    pub workers: usize,
    /// Destinations outbound hooks may reach although they are internal
    /// addresses: addresses (10.1.2.3), networks (10.20.0.0/16), host names
    /// (ci.internal) or every subdomain of a name (*.corp.example).
    pub outbound_allow: Vec<HostRule>,
    /// Destinations outbound hooks never reach, even when allowed; written
    /// as in outbound_allow.
    pub outbound_deny: Vec<HostRule>,
    /// Attempts at delivering one event to an outbound hook before it is
    /// given up (at least 1).
    pub outbound_attempts: u32,
    /// The wait after the first failed delivery to an outbound hook, in
    /// milliseconds; doubled after each further failure, up to 30 seconds.
    pub outbound_backoff_ms: u64,
    /// The time one delivery to an outbound hook may take, in milliseconds
    /// (above 0).
    pub outbound_timeout_ms: u64,
    /// How many events may wait per outbound hook before new ones are
    /// dropped (1 to 1000000).
    pub outbound_queue: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9016)),
            public_url: None,
            rate: 5.0,
            burst: 20,
            max_body: 32 * 1024,
            workers: 2,
            outbound_allow: Vec::new(),
            outbound_deny: Vec::new(),
            outbound_attempts: 6,
            outbound_backoff_ms: 500,
            outbound_timeout_ms: 10_000,
            outbound_queue: 1000,
        }
    }
}

impl WebhooksConfig {
    /// The wait after the first failed outbound delivery
    /// (`outbound_backoff_ms`).
    pub fn outbound_backoff(&self) -> Duration {
        Duration::from_millis(self.outbound_backoff_ms)
    }

    /// The time one outbound delivery may take (`outbound_timeout_ms`).
    pub fn outbound_timeout(&self) -> Duration {
        Duration::from_millis(self.outbound_timeout_ms)
    }

    /// The base of the secret URLs: `public_url` without a trailing `/`,
    /// or `http://` and `addr`, where the webhook server listens.
    ///
    /// ```
    /// use webhooks::WebhooksConfig;
    /// let addr = "127.0.0.1:9016".parse().unwrap();
    /// assert_eq!(WebhooksConfig::default().base_url(addr), "http://127.0.0.1:9016");
    /// let c = WebhooksConfig {
    ///     public_url: Some("https://hooks.example.org/".into()),
    ///     ..WebhooksConfig::default()
    /// };
    /// assert_eq!(c.base_url(addr), "https://hooks.example.org");
    /// ```
    pub fn base_url(&self, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        }
    }

    /// Refuses settings the bot cannot run with (the framework's reading
    /// has checked the types); the error names the key and says the fix.
    /// Settings made in code go through it too: the bot refuses to start
    /// with settings that fail.
    ///
    /// ```
    /// use webhooks::WebhooksConfig;
    /// assert!(WebhooksConfig::default().validate().is_ok());
    /// let c = WebhooksConfig { rate: f64::INFINITY, ..WebhooksConfig::default() };
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.starts_with("`bot.rate` is `inf`: "), "{e}");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |ok: bool, key, value: &dyn fmt::Display, fix| match ok {
            true => Ok(()),
            false => Err(ConfigError::Invalid {
                key,
                value: value.to_string(),
                fix,
            }),
        };
        check(
            self.rate.is_finite() && self.rate > 0.0,
            "rate",
            &self.rate,
            "use a finite number of messages per second above 0, e.g. 5 or 0.5",
        )?;
        check(
            self.burst >= 1,
            "burst",
            &self.burst,
            "use a number of messages from 1",
        )?;
        check(
            (1..=MAX_BODY_LIMIT).contains(&self.max_body),
            "max_body",
            &self.max_body,
            "use a number of bytes from 1 to 1048576",
        )?;
        check(
            (1..=MAX_WORKERS).contains(&self.workers),
            "workers",
            &self.workers,
            "use a number of threads from 1 to 256",
        )?;
        if let Some(url) = &self.public_url {
            check(
                is_public_url(url),
                "public_url",
                url,
                "write an http(s) URL like https://hooks.example.org, or leave the key out",
            )?;
        }
        check(
            self.outbound_attempts >= 1,
            "outbound_attempts",
            &self.outbound_attempts,
            "use a number of attempts from 1 (1: never retry)",
        )?;
        check(
            self.outbound_timeout_ms >= 1,
            "outbound_timeout_ms",
            &self.outbound_timeout_ms,
            "use a number of milliseconds above 0, e.g. 10000",
        )?;
        check(
            (1..=MAX_OUTBOUND_QUEUE).contains(&self.outbound_queue),
            "outbound_queue",
            &self.outbound_queue,
            "use a number of events from 1 to 1000000",
        )?;
        Ok(())
    }
}

/// An `http` or `https` URL with a host.
fn is_public_url(url: &str) -> bool {
    url::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// Reads `listen`, saying what it takes when the text is not an address.
fn socket_addr<'de, D: serde::Deserializer<'de>>(de: D) -> Result<SocketAddr, D::Error> {
    struct Listen;
    impl serde::de::Visitor<'_> for Listen {
        type Value = SocketAddr;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an address and port like 0.0.0.0:9016")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SocketAddr, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
    }
    de.deserialize_str(Listen)
}

impl ghostkit::bot::BotConfig for WebhooksConfig {
    fn check(&self) -> Result<(), ghostkit::HandlerError> {
        Ok(self.validate()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
