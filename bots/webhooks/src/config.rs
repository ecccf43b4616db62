//! The bot's own settings: the defaults, then an optional YAML file named
//! by `WEBHOOKS_CONFIG`, then the `WEBHOOKS_*` environment variables.
//!
//! Reading fails closed: an unknown key in the file or an unknown
//! `WEBHOOKS_*` variable is an error naming it (with the nearest known one
//! when it looks like a typo), a named file that cannot be read is an
//! error, and a value out of range is refused rather than clamped.
//!
//! ```yaml
//! # WEBHOOKS_CONFIG=/etc/webhooks/webhooks.yaml
//! listen: 127.0.0.1:9016
//! public_url: https://hooks.example.org
//! rate: 5
//! burst: 20
//! max_body: 32768
//! workers: 2
//! outbound_allow: [10.20.0.0/16, ci.internal]
//! outbound_deny: ["*.example.net"]
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::address::HostRule;

/// The largest `max_body` accepted: 1 MiB (a Matrix event is at most 64 KiB).
pub const MAX_BODY_LIMIT: usize = 1024 * 1024;

/// The most webhook server worker threads accepted.
pub const MAX_WORKERS: usize = 256;

/// Why the settings cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable starting with `WEBHOOKS_` that the bot does not know.
    #[error("unknown environment variable {name}{}", did_you_mean(*.suggestion))]
    UnknownVariable {
        /// The variable.
        name: String,
        /// The known variable nearest to it, if one is near.
        suggestion: Option<&'static str>,
    },
    /// A key of the config file that the bot does not know.
    #[error("unknown key `{key}` in {}{}", .path.display(), did_you_mean(*.suggestion))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The known key nearest to it, if one is near.
        suggestion: Option<&'static str>,
    },
    /// The file named by `WEBHOOKS_CONFIG` cannot be read.
    #[error("cannot read the config file {} (WEBHOOKS_CONFIG)", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not a YAML mapping of the expected types.
    #[error("the config file {} is not valid", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_yaml::Error,
    },
    /// A value that is not what the setting takes.
    #[error("{key} is `{value}`, expected {expected}")]
    Invalid {
        /// The variable or key (`WEBHOOKS_RATE`, `rate`, `rate_per_sec`).
        key: String,
        /// The value as given.
        value: String,
        /// What the setting takes.
        expected: &'static str,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s}?"))
}

/// Settings of the webhooks bot (beside the registration and homeserver,
/// which `ghostkit::cli` reads).
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Where the webhook HTTP server listens (`WEBHOOKS_LISTEN`, `listen`,
    /// default `127.0.0.1:9016`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The public base URL of that server, as senders reach it
    /// (`WEBHOOKS_PUBLIC_URL`, `public_url`, e.g. `https://hooks.example.org`);
    /// secret URLs are `<base>/webhook/<id>`. When absent: `http://<listen address>`.
    pub public_url: Option<String>,
    /// Messages per second each inbound hook may post, on average
    /// (`WEBHOOKS_RATE`, `rate`, default 5; finite and above 0).
    pub rate_per_sec: f64,
    /// How many messages a hook may post at once before being limited
    /// (`WEBHOOKS_BURST`, `burst`, default 20; at least 1).
    pub burst: u32,
    /// Largest accepted request body in bytes (`WEBHOOKS_MAX_BODY`,
    /// `max_body`, default 32 KiB; 1 to [`MAX_BODY_LIMIT`]).
    pub max_body: usize,
    /// HTTP worker threads of the webhook server (`WEBHOOKS_WORKERS`,
    /// `workers`, default 2; 1 to [`MAX_WORKERS`]).
    pub workers: usize,
    /// Outbound destinations that may be reached although they are internal
    /// addresses (`WEBHOOKS_OUTBOUND_ALLOW`, `outbound_allow`; default none).
    /// See [`crate::address`].
    pub outbound_allow: Vec<HostRule>,
    /// Outbound destinations that are never reached, even when allowed
    /// (`WEBHOOKS_OUTBOUND_DENY`, `outbound_deny`; default none).
    pub outbound_deny: Vec<HostRule>,
    /// Outbound deliveries: attempts per event before giving up (default 6, at least 1).
    pub outbound_attempts: u32,
    /// Outbound deliveries: first wait between attempts, doubled each time
    /// up to 30 s (default 500 ms).
    pub outbound_backoff: Duration,
    /// Outbound deliveries: time allowed for one POST (default 10 s, above 0).
    pub outbound_timeout: Duration,
    /// Outbound events queued per hook before new ones are dropped (default 1000, at least 1).
    pub outbound_queue: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9016)),
            public_url: None,
            rate_per_sec: 5.0,
            burst: 20,
            max_body: 32 * 1024,
            workers: 2,
            outbound_allow: Vec::new(),
            outbound_deny: Vec::new(),
            outbound_attempts: 6,
            outbound_backoff: Duration::from_millis(500),
            outbound_timeout: Duration::from_secs(10),
            outbound_queue: 1000,
        }
    }
}

/// The environment variables the bot reads, beside ghostkit's.
pub const VARIABLES: &[&str] = &[
    "WEBHOOKS_CONFIG",
    "WEBHOOKS_LISTEN",
    "WEBHOOKS_PUBLIC_URL",
    "WEBHOOKS_RATE",
    "WEBHOOKS_BURST",
    "WEBHOOKS_MAX_BODY",
    "WEBHOOKS_WORKERS",
    "WEBHOOKS_OUTBOUND_ALLOW",
    "WEBHOOKS_OUTBOUND_DENY",
];

/// The keys of the config file.
pub const FILE_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "rate",
    "burst",
    "max_body",
    "workers",
    "outbound_allow",
    "outbound_deny",
];

/// The config file as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    rate: Option<f64>,
    burst: Option<i64>,
    max_body: Option<i64>,
    workers: Option<i64>,
    outbound_allow: Option<Vec<String>>,
    outbound_deny: Option<Vec<String>>,
}

/// One setting's value as given, with the name it was given under.
struct Given<'a> {
    key: &'a str,
    value: String,
}

impl Given<'_> {
    fn invalid(&self, expected: &'static str) -> ConfigError {
        ConfigError::Invalid {
            key: self.key.to_owned(),
            value: self.value.clone(),
            expected,
        }
    }
}

const RATE: &str = "a finite number of messages per second above 0";
const BURST: &str = "a whole number of messages from 1";
const MAX_BODY: &str = "a number of bytes from 1 to 1048576";
const WORKERS: &str = "a number of threads from 1 to 256";
const LISTEN: &str = "an address like 0.0.0.0:9016";
const PUBLIC_URL: &str = "an http(s) URL like https://hooks.example.org";
const RULES: &str =
    "addresses, CIDR networks, host names or `*.domain`, separated by commas or spaces";
const SERVER_NAME: &str = "the homeserver's server name, like example.org";

impl WebhooksConfig {
    /// Reads the settings from the process environment; see the module
    /// documentation.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the settings from these environment variables (and the file
    /// `WEBHOOKS_CONFIG` names). `HOMESERVER_DOMAIN`, read by ghostkit, is
    /// checked here too: when set, it must be a server name.
    ///
    /// ```
    /// use webhooks::WebhooksConfig;
    /// let vars = [("WEBHOOKS_RATE".to_owned(), "2.5".to_owned())];
    /// assert_eq!(WebhooksConfig::from_vars(vars).unwrap().rate_per_sec, 2.5);
    /// let vars = [("WEBHOOKS_RATES".to_owned(), "2.5".to_owned())];
    /// let e = WebhooksConfig::from_vars(vars).unwrap_err().to_string();
    /// assert_eq!(e, "unknown environment variable WEBHOOKS_RATES; did you mean WEBHOOKS_RATE?");
    /// ```
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        for name in vars.keys() {
            if name.starts_with("WEBHOOKS_") && !VARIABLES.contains(&name.as_str()) {
                return Err(ConfigError::UnknownVariable {
                    name: name.clone(),
                    suggestion: ghostkit::config::nearest(name, VARIABLES),
                });
            }
        }
        if let Some(domain) = vars.get("HOMESERVER_DOMAIN") {
            check_server_name(domain)?;
        }
        let var = |key: &'static str| {
            vars.get(key)
                .filter(|v| !v.trim().is_empty())
                .map(|v| Given {
                    key,
                    value: v.trim().to_owned(),
                })
        };
        let mut c = WebhooksConfig::default();
        if let Some(path) = var("WEBHOOKS_CONFIG") {
            c.apply_file(Path::new(&path.value))?;
        }
        if let Some(v) = var("WEBHOOKS_LISTEN") {
            c.listen = listen(&v)?;
        }
        if let Some(v) = var("WEBHOOKS_PUBLIC_URL") {
            c.public_url = Some(public_url(&v)?);
        }
        if let Some(v) = var("WEBHOOKS_RATE") {
            c.rate_per_sec = rate(&v, v.value.parse().ok())?;
        }
        if let Some(v) = var("WEBHOOKS_BURST") {
            c.burst = burst(&v, v.value.parse().ok())?;
        }
        if let Some(v) = var("WEBHOOKS_MAX_BODY") {
            c.max_body = max_body(&v, v.value.parse().ok())?;
        }
        if let Some(v) = var("WEBHOOKS_WORKERS") {
            c.workers = workers(&v, v.value.parse().ok())?;
        }
        if let Some(v) = var("WEBHOOKS_OUTBOUND_ALLOW") {
            c.outbound_allow = rules(&v, v.value.split([',', ' ']))?;
        }
        if let Some(v) = var("WEBHOOKS_OUTBOUND_DENY") {
            c.outbound_deny = rules(&v, v.value.split([',', ' ']))?;
        }
        Ok(c)
    }

    /// Reads the YAML file at `path` over these settings.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let parse_error = |source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        };
        let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(parse_error)?;
        if let serde_yaml::Value::Mapping(map) = &value {
            for key in map.keys() {
                let key = match key {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                if !FILE_KEYS.contains(&key.as_str()) {
                    return Err(ConfigError::UnknownKey {
                        path: path.to_owned(),
                        suggestion: ghostkit::config::nearest(&key, FILE_KEYS),
                        key,
                    });
                }
            }
        }
        let file: FileConfig = match value {
            serde_yaml::Value::Null => FileConfig::default(),
            value => serde_yaml::from_value(value).map_err(parse_error)?,
        };
        let given = |key, value: String| Given { key, value };
        if let Some(v) = file.listen {
            self.listen = listen(&given("listen", v))?;
        }
        if let Some(v) = file.public_url {
            self.public_url = Some(public_url(&given("public_url", v))?);
        }
        if let Some(v) = file.rate {
            self.rate_per_sec = rate(&given("rate", v.to_string()), Some(v))?;
        }
        if let Some(v) = file.burst {
            self.burst = burst(&given("burst", v.to_string()), v.try_into().ok())?;
        }
        if let Some(v) = file.max_body {
            self.max_body = max_body(&given("max_body", v.to_string()), v.try_into().ok())?;
        }
        if let Some(v) = file.workers {
            self.workers = workers(&given("workers", v.to_string()), v.try_into().ok())?;
        }
        if let Some(v) = file.outbound_allow {
            self.outbound_allow = rules(&given("outbound_allow", v.join(", ")), v.iter())?;
        }
        if let Some(v) = file.outbound_deny {
            self.outbound_deny = rules(&given("outbound_deny", v.join(", ")), v.iter())?;
        }
        Ok(())
    }

    /// Checks settings made in code as [`from_env`](Self::from_env) checks
    /// what it reads; the bot refuses to start with settings that fail.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let given = |key, value: String| Given { key, value };
        rate(
            &given("rate_per_sec", self.rate_per_sec.to_string()),
            Some(self.rate_per_sec),
        )?;
        burst(&given("burst", self.burst.to_string()), Some(self.burst))?;
        max_body(
            &given("max_body", self.max_body.to_string()),
            Some(self.max_body),
        )?;
        workers(
            &given("workers", self.workers.to_string()),
            Some(self.workers),
        )?;
        if let Some(u) = &self.public_url {
            public_url(&given("public_url", u.clone()))?;
        }
        let positive = |key, value: String, ok: bool, expected| match ok {
            true => Ok(()),
            false => Err(given(key, value).invalid(expected)),
        };
        positive(
            "outbound_attempts",
            self.outbound_attempts.to_string(),
            self.outbound_attempts >= 1,
            "a number of attempts from 1",
        )?;
        positive(
            "outbound_queue",
            self.outbound_queue.to_string(),
            self.outbound_queue >= 1,
            "a number of events from 1",
        )?;
        positive(
            "outbound_timeout",
            format!("{:?}", self.outbound_timeout),
            !self.outbound_timeout.is_zero(),
            "a duration above 0",
        )?;
        Ok(())
    }
}

fn listen(v: &Given<'_>) -> Result<SocketAddr, ConfigError> {
    v.value.parse().map_err(|_| v.invalid(LISTEN))
}

fn public_url(v: &Given<'_>) -> Result<String, ConfigError> {
    let ok = url::Url::parse(&v.value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    match ok {
        Some(_) => Ok(v.value.trim_end_matches('/').to_owned()),
        None => Err(v.invalid(PUBLIC_URL)),
    }
}

fn rate(v: &Given<'_>, n: Option<f64>) -> Result<f64, ConfigError> {
    n.filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| v.invalid(RATE))
}

fn burst(v: &Given<'_>, n: Option<u32>) -> Result<u32, ConfigError> {
    n.filter(|b| *b >= 1).ok_or_else(|| v.invalid(BURST))
}

fn max_body(v: &Given<'_>, n: Option<usize>) -> Result<usize, ConfigError> {
    n.filter(|b| (1..=MAX_BODY_LIMIT).contains(b))
        .ok_or_else(|| v.invalid(MAX_BODY))
}

fn workers(v: &Given<'_>, n: Option<usize>) -> Result<usize, ConfigError> {
    n.filter(|w| (1..=MAX_WORKERS).contains(w))
        .ok_or_else(|| v.invalid(WORKERS))
}

fn rules<S: AsRef<str>>(
    v: &Given<'_>,
    items: impl Iterator<Item = S>,
) -> Result<Vec<HostRule>, ConfigError> {
    items
        .map(|s| s.as_ref().trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| v.invalid(RULES)))
        .collect()
}

/// A server name: a host name, IPv4 address or bracketed IPv6 address,
/// optionally with a port.
fn check_server_name(domain: &str) -> Result<(), ConfigError> {
    let invalid = || ConfigError::Invalid {
        key: "HOMESERVER_DOMAIN".into(),
        value: domain.to_owned(),
        expected: SERVER_NAME,
    };
    if domain.trim().is_empty() || domain.trim() != domain {
        return Err(invalid());
    }
    <&ghostkit::ruma::common::ServerName>::try_from(domain)
        .map(|_| ())
        .map_err(|_| invalid())
}

impl ghostkit::bot::BotConfig for WebhooksConfig {
    fn load() -> Result<Self, ghostkit::HandlerError> {
        Ok(WebhooksConfig::from_env()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
