//! What the config file holds: every framework setting, with its default,
//! and the bot's own settings under `bot`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};
use crate::appservice::{check_server_name, Config, Database};
use crate::cli::LogFormat;
use crate::client::{ClientConfig, RetryPolicy};
use crate::metrics::MetricsConfig;
use crate::router::{DispatchConfig, DispatchOrder};
use crate::server::ServerConfig;
use crate::store::{IfDamaged, PostgresOptions};
use crate::transaction::LogConfig;

/// A bot's config file: the framework's settings, then the bot's own
/// under `bot` (`B`, its [`BotConfig`](crate::bot::BotConfig)). Every key
/// has a default, so an empty file (or none) is a valid one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(bound = "B: JsonSchema + Default + Serialize")]
pub struct Settings<B = ()> {
    /// The homeserver's client-server API URL.
    pub homeserver_url: String,
    /// The homeserver's server name (`example.org`); asked of the
    /// homeserver when not set.
    pub homeserver_domain: Option<String>,
    /// The registration file, the one given to the homeserver too
    /// (default `<bot>-registration.yaml`).
    pub registration: Option<PathBuf>,
    /// Where to listen (`127.0.0.1:9000`); from the registration's `url`
    /// when not set.
    pub bind: Option<String>,
    /// The folder of the on-disk store (default `<bot>.store`).
    pub store: Option<PathBuf>,
    /// Start with an empty store when the database lost flushed writes,
    /// keeping the damaged files aside; false refuses to start.
    pub start_empty_if_damaged: bool,
    /// Keep the store's data in PostgreSQL instead of sled.
    pub postgres: PostgresSettings,
    /// Where `GET /metrics` is served: `app` (on the appservice's
    /// listener, without the hs_token), `off`, or an address of its own
    /// (`127.0.0.1:9100`).
    pub metrics: String,
    /// How logs are written to standard error: `text` (coloured only on a
    /// terminal) or `json` (one object per line).
    pub log_format: String,
    /// Which log lines are written, in `RUST_LOG` syntax
    /// (`info,ghostkit=debug`); `RUST_LOG` wins when it is set.
    pub log_filter: String,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Ask the homeserver to ping the appservice once it listens, and log
    /// the outcome.
    pub self_check: bool,
    /// How long a stop waits for the requests in flight, then again for
    /// the handlers still running, in milliseconds.
    pub drain_timeout_ms: u64,
    /// How events are handed to the bot.
    pub dispatch: DispatchSettings,
    /// The transaction log on disk.
    pub transaction_log: LogSettings,
    /// The HTTP side that the homeserver calls.
    pub server: ServerSettings,
    /// The as_token client that calls the homeserver.
    pub client: ClientSettings,
    /// The bot's own settings.
    pub bot: B,
}

/// The store's data in PostgreSQL ([`Database::Postgres`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PostgresSettings {
    /// The database to keep the store's data in, as a URL
    /// (`postgresql://modbot@db/modbot`) or key-value pairs
    /// (`host=/run/postgresql dbname=modbot`); sled in `store` when not
    /// set. The transaction log's files stay in `store` either way.
    pub url: Option<Secret>,
    /// Connections kept open to the database, at most.
    pub pool_size: usize,
    /// Keep the transaction log in the database too: an acknowledgement
    /// then follows a committed write there instead of an `fdatasync` of a
    /// file in `store` (which still holds the window of seen txnIds).
    pub transaction_log: bool,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            url: None,
            pool_size: PostgresOptions::new("").pool_size,
            transaction_log: false,
        }
    }
}

/// How events are handed to the bot ([`DispatchConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DispatchSettings {
    /// The order of a room's events, overriding the bot's choice:
    /// `per_room`, `per_sender` or `unordered`; the bot's when not set.
    pub order: Option<String>,
    /// How many lanes (rooms, or senders in rooms) are handled at once.
    pub max_concurrent_rooms: usize,
    /// How many acknowledged events may wait for their handler before the
    /// next transaction's acknowledgement waits.
    pub max_backlog: usize,
    /// How many times a failed handler call is tried again (0: never).
    pub handler_retries: u32,
    /// The wait before the first retry, in milliseconds; doubles each time.
    pub retry_backoff_ms: u64,
    /// How many events a busy lane handles before another lane runs.
    pub fairness_batch: usize,
    /// The longest pause of a lane while the homeserver is unavailable, in
    /// milliseconds.
    pub unavailable_pause_ms: u64,
}

/// The transaction log on disk ([`LogConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LogSettings {
    /// How many txnIds are remembered to drop re-sent transactions.
    pub seen_transactions: usize,
    /// How many event IDs are remembered to drop events re-sent under a
    /// new txnId.
    pub seen_events: usize,
    /// How often the progress of partly handled transactions is written,
    /// in milliseconds.
    pub progress_interval_ms: u64,
    /// The size past which a new segment file is started, in bytes.
    pub segment_bytes: u64,
    /// How many retired segment files are kept to be written over again.
    pub spare_segments: usize,
}

/// The HTTP side that the homeserver calls ([`ServerConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ServerSettings {
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Also serve the legacy unprefixed routes (`/transactions/…`).
    pub legacy_routes: bool,
    /// The longest time a request body may take to arrive, in milliseconds.
    pub body_timeout_ms: u64,
    /// The longest transaction ID accepted, in bytes.
    pub max_txn_id_bytes: usize,
}

/// The as_token client ([`ClientConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ClientSettings {
    /// The longest time one request may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// The longest time a connection may take to open, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Idle connections kept open to the homeserver.
    pub pool_max_idle_per_host: usize,
    /// How failed requests are tried again.
    pub retry: RetrySettings,
}

/// How failed requests are tried again ([`RetryPolicy`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RetrySettings {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: u32,
    /// The time budget of one call, waits included, in milliseconds.
    pub max_total_ms: u64,
    /// The wait before the first retry, in milliseconds.
    pub initial_backoff_ms: u64,
    /// What the wait is multiplied by after each retry.
    pub multiplier: f64,
    /// The longest wait between two attempts, in milliseconds.
    pub max_backoff_ms: u64,
    /// The share of each wait taken off at random (0 to 1).
    pub jitter: f64,
    /// The longest wait a `429` may ask for, in milliseconds.
    pub max_rate_limit_wait_ms: u64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<B: Default> Default for Settings<B> {
    fn default() -> Self {
        let config = Config::new("http://127.0.0.1:8008", "");
        Settings {
            homeserver_url: config.homeserver_url,
            homeserver_domain: None,
            registration: None,
            bind: None,
            store: None,
            start_empty_if_damaged: false,
            postgres: PostgresSettings::default(),
            metrics: "app".into(),
            log_format: "text".into(),
            log_filter: "info".into(),
            http_workers: config.http_workers,
            self_check: config.self_check,
            drain_timeout_ms: ms(config.drain_timeout),
            dispatch: DispatchSettings::default(),
            transaction_log: LogSettings::default(),
            server: ServerSettings::default(),
            client: ClientSettings::default(),
            bot: B::default(),
        }
    }
}

impl Default for DispatchSettings {
    fn default() -> Self {
        let d = DispatchConfig::default();
        DispatchSettings {
            order: None,
            max_concurrent_rooms: d.max_concurrent_rooms,
            max_backlog: d.max_backlog,
            handler_retries: d.handler_retries,
            retry_backoff_ms: ms(d.retry_backoff),
            fairness_batch: d.fairness_batch,
            unavailable_pause_ms: ms(d.unavailable_pause),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        let l = LogConfig::default();
        LogSettings {
            seen_transactions: l.seen_transactions,
            seen_events: l.seen_events,
            progress_interval_ms: ms(l.progress_interval),
            segment_bytes: l.segment_bytes,
            spare_segments: l.spare_segments,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        let s = ServerConfig::default();
        ServerSettings {
            max_body_bytes: s.max_body_bytes,
            legacy_routes: s.legacy_routes,
            body_timeout_ms: ms(s.body_timeout),
            max_txn_id_bytes: s.max_txn_id_bytes,
        }
    }
}

impl Default for ClientSettings {
    fn default() -> Self {
        let c = ClientConfig::default();
        ClientSettings {
            request_timeout_ms: ms(c.request_timeout),
            connect_timeout_ms: ms(c.connect_timeout),
            pool_max_idle_per_host: c.pool_max_idle_per_host,
            retry: RetrySettings::default(),
        }
    }
}

impl Default for RetrySettings {
    fn default() -> Self {
        let r = RetryPolicy::default();
        RetrySettings {
            max_attempts: r.max_attempts,
            max_total_ms: ms(r.max_total),
            initial_backoff_ms: ms(r.initial_backoff),
            multiplier: r.multiplier,
            max_backoff_ms: ms(r.max_backoff),
            jitter: r.jitter,
            max_rate_limit_wait_ms: ms(r.max_rate_limit_wait),
        }
    }
}

impl<B> Settings<B> {
    /// The registration file: `registration`, or `<id>-registration.yaml`.
    pub fn registration_path(&self, id: &str) -> PathBuf {
        self.registration
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{id}-registration.yaml")))
    }

    /// The server name set (`homeserver_domain`), refused when it is not
    /// one: the bot would be `@bot:`.
    pub fn server_name(&self) -> Result<Option<String>, ConfigError> {
        match &self.homeserver_domain {
            Some(name) if check_server_name(name).is_err() => Err(ConfigError::Invalid {
                key: "homeserver_domain".into(),
                value: name.clone(),
                fix: "write the homeserver's server name, e.g. `example.org`, or leave it out to ask the homeserver".into(),
            }),
            other => Ok(other.clone()),
        }
    }

    /// The log format, refused when it is neither `text` nor `json`.
    pub fn log_format(&self) -> Result<LogFormat, ConfigError> {
        LogFormat::parse(&self.log_format).map_err(|_| ConfigError::Invalid {
            key: "log_format".into(),
            value: self.log_format.clone(),
            fix: "use `text` or `json`".into(),
        })
    }

    /// The appservice's [`Config`] these settings make for the bot `id`;
    /// an error names the key whose value is wrong and says the fix.
    pub fn appservice_config(&self, id: &str) -> Result<Config, ConfigError> {
        let invalid = |key: &str, value: &str, fix: &str| ConfigError::Invalid {
            key: key.into(),
            value: value.into(),
            fix: fix.into(),
        };
        if self.homeserver_url.trim().is_empty() {
            return Err(invalid(
                "homeserver_url",
                &self.homeserver_url,
                "set the homeserver's URL, e.g. `http://127.0.0.1:8008`",
            ));
        }
        let store = self
            .store
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{id}.store")));
        let mut config = Config::new(self.homeserver_url.clone(), store);
        config.server_name = self.server_name()?;
        if let Some(bind) = &self.bind {
            let addr: SocketAddr = bind.parse().map_err(|_| {
                invalid(
                    "bind",
                    bind,
                    "write an address and port, e.g. `127.0.0.1:9000`",
                )
            })?;
            config.bind = Some(addr);
        }
        if self.start_empty_if_damaged {
            config.if_damaged = IfDamaged::StartEmpty;
        }
        config.database = self.postgres.database()?;
        config.log_in_database = self.postgres.transaction_log;
        config.metrics = self.metrics.parse::<MetricsConfig>().map_err(|_| {
            invalid(
                "metrics",
                &self.metrics,
                "use `app`, `off` or an address and port, e.g. `127.0.0.1:9100`",
            )
        })?;
        if self.http_workers == 0 {
            return Err(invalid("http_workers", "0", "use 1 or more"));
        }
        config.http_workers = self.http_workers;
        config.self_check = self.self_check;
        config.drain_timeout = Duration::from_millis(self.drain_timeout_ms);
        self.dispatch.apply(&mut config.dispatch)?;
        self.transaction_log.apply(&mut config.log);
        self.server.apply(&mut config.server);
        self.client.apply(&mut config.client)?;
        Ok(config)
    }
}

impl DispatchSettings {
    fn apply(&self, d: &mut DispatchConfig) -> Result<(), ConfigError> {
        if let Some(order) = &self.order {
            let order = order
                .parse::<DispatchOrder>()
                .map_err(|_| ConfigError::Invalid {
                    key: "dispatch.order".into(),
                    value: order.clone(),
                    fix: "use `per_room`, `per_sender` or `unordered`".into(),
                })?;
            d.order = Some(order);
        }
        for (key, value) in [
            ("dispatch.max_concurrent_rooms", self.max_concurrent_rooms),
            ("dispatch.max_backlog", self.max_backlog),
            ("dispatch.fairness_batch", self.fairness_batch),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: "0".into(),
                    fix: "use 1 or more".into(),
                });
            }
        }
        d.max_concurrent_rooms = self.max_concurrent_rooms;
        d.max_backlog = self.max_backlog;
        d.handler_retries = self.handler_retries;
        d.retry_backoff = Duration::from_millis(self.retry_backoff_ms);
        d.fairness_batch = self.fairness_batch;
        d.unavailable_pause = Duration::from_millis(self.unavailable_pause_ms);
        Ok(())
    }
}

impl PostgresSettings {
    fn database(&self) -> Result<Database, ConfigError> {
        let Some(url) = &self.url else {
            if self.transaction_log {
                return Err(ConfigError::Invalid {
                    key: "postgres.transaction_log".into(),
                    value: "true".into(),
                    fix: "set postgres.url too, or leave this false to keep the log in the store folder".into(),
                });
            }
            return Ok(Database::Sled);
        };
        if url.expose().parse::<tokio_postgres::Config>().is_err() {
            // The value is not repeated: it may hold a password.
            return Err(ConfigError::Invalid {
                key: "postgres.url".into(),
                value: "(not shown)".into(),
                fix: "write a URL such as `postgresql://user@host/dbname` or key-value pairs such as `host=/run/postgresql dbname=bot`".into(),
            });
        }
        if self.pool_size == 0 {
            return Err(ConfigError::Invalid {
                key: "postgres.pool_size".into(),
                value: "0".into(),
                fix: "use 1 or more".into(),
            });
        }
        Ok(Database::Postgres(PostgresOptions {
            url: url.expose().to_owned(),
            pool_size: self.pool_size,
        }))
    }
}

impl LogSettings {
    fn apply(&self, l: &mut LogConfig) {
        l.seen_transactions = self.seen_transactions;
        l.seen_events = self.seen_events;
        l.progress_interval = Duration::from_millis(self.progress_interval_ms);
        l.segment_bytes = self.segment_bytes;
        l.spare_segments = self.spare_segments;
    }
}

impl ServerSettings {
    fn apply(&self, s: &mut ServerConfig) {
        s.max_body_bytes = self.max_body_bytes;
        s.legacy_routes = self.legacy_routes;
        s.body_timeout = Duration::from_millis(self.body_timeout_ms);
        s.max_txn_id_bytes = self.max_txn_id_bytes;
    }
}

impl ClientSettings {
    fn apply(&self, c: &mut ClientConfig) -> Result<(), ConfigError> {
        let r = &self.retry;
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(ConfigError::Invalid {
                key: "client.retry.jitter".into(),
                value: r.jitter.to_string(),
                fix: "use a share from 0 to 1".into(),
            });
        }
        if !(r.multiplier >= 1.0 && r.multiplier.is_finite()) {
            return Err(ConfigError::Invalid {
                key: "client.retry.multiplier".into(),
                value: r.multiplier.to_string(),
                fix: "use a number of 1 or more".into(),
            });
        }
        if r.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                key: "client.retry.max_attempts".into(),
                value: "0".into(),
                fix: "use 1 (never retry) or more".into(),
            });
        }
        c.request_timeout = Duration::from_millis(self.request_timeout_ms);
        c.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        c.pool_max_idle_per_host = self.pool_max_idle_per_host;
        c.retry = RetryPolicy {
            max_attempts: r.max_attempts,
            max_total: Duration::from_millis(r.max_total_ms),
            initial_backoff: Duration::from_millis(r.initial_backoff_ms),
            multiplier: r.multiplier,
            max_backoff: Duration::from_millis(r.max_backoff_ms),
            jitter: r.jitter,
            max_rate_limit_wait: Duration::from_millis(r.max_rate_limit_wait_ms),
        };
        Ok(())
    }
}
