//! Prometheus metrics of the appservice, served at `/metrics` in the
//! OpenMetrics text format ([`CONTENT_TYPE`]).
//!
//! Where: on the appservice's own listener by default, without the
//! hs_token check (the homeserver's routes check it; a scraper has no
//! token); on a listener of its own, or not at all, as
//! [`Config::metrics`](crate::Config::metrics) says ([`MetricsConfig`]).
//!
//! One [`Metrics`] per appservice, made with its [`Client`](crate::Client)
//! and reached through [`AppContext::metrics`](crate::AppContext::metrics):
//! no global, so two appservices in one process (as in tests) count apart.
//! A bot adds its own metrics to the same registry with
//! [`Metrics::register`].
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `ghostkit_transactions_received_total` | counter | | transactions the homeserver PUT (with a body read), duplicates included |
//! | `ghostkit_transactions_deduplicated_total` | counter | | of those, re-sends of a transaction already seen (answered `200`, nothing dispatched) |
//! | `ghostkit_transactions_replayed_total` | counter | | transactions read back from the durable log at start, with events left unhandled by the last run |
//! | `ghostkit_events_received_total` | counter | | events of new transactions handed to the router (events seen under another txnId left out) |
//! | `ghostkit_events_replayed_total` | counter | | events read back from the log at start and dispatched again |
//! | `ghostkit_handler_duration_seconds` | histogram | `event_type` | time of one handler call (each retry is a call) |
//! | `ghostkit_handler_failures_total` | counter | `event_type` | events whose handler failed or panicked after its retries |
//! | `ghostkit_dispatch_backlog` | gauge | | events acknowledged and not yet handled |
//! | `ghostkit_dispatch_active_lanes` | gauge | | lanes (rooms, or senders in rooms) with events queued or running, and the runners of unordered events |
//! | `ghostkit_seen_window_oldest_age_seconds` | gauge | | age of the oldest transaction the duplicate window remembers |
//! | `ghostkit_transaction_log_oldest_unhandled_age_seconds` | gauge | | age of the oldest transaction of the log not fully handled; 0 when none |
//! | `ghostkit_client_requests_total` | counter | `endpoint`, `class`, `code` | HTTP exchanges with the homeserver, each attempt of a retried call |
//! | `ghostkit_client_retries_total` | counter | `endpoint`, `reason` | calls tried again (`rate_limited`, `server_error`, `connect`, `timeout`, `network`) |
//! | `ghostkit_client_rate_limited_waits_total` | counter | `endpoint` | waits a `429` caused |
//! | `ghostkit_client_rate_limited_wait_seconds_total` | counter | `endpoint` | time spent in those waits |
//!
//! Labels come from small fixed sets: `event_type` is the type itself for a
//! type of the spec, `m.other` for another `m.` type and `other` for the
//! rest ([`event_type_label`]); `endpoint` is an [`EndpointFamily`], read
//! from the request's path in one place, the client's request layer;
//! `class` is `2xx` … `5xx`, or `none` with `code="none"` when no answer
//! came.
//!
//! The inbound path (transactions, events, handler calls) only adds to
//! atomics: its counters are held apart from the registry, and a handler
//! call's metrics are picked by the index of its event-type label. The
//! gauges are read from the router and the log when `/metrics` is scraped.
//! The ages of the log and of the window count, for what a restart carried
//! over, from the time of the segment or snapshot file it came from.

mod client;
mod histogram;
mod labels;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry, Unit};

/// The metrics library, for a bot's own metrics (`Counter`, `Gauge`,
/// `Family`, …) of the same version as the registry.
pub use prometheus_client;

pub(crate) use client::ClientMetrics;
pub use histogram::{ByEventType, DurationHistogram, EventTypeLabel, Touched};
pub use labels::{event_type_label, EndpointFamily, OTHER_EVENT_TYPE, OTHER_M_EVENT_TYPE};

/// The content type of the `/metrics` answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where `/metrics` is served ([`Config::metrics`](crate::Config::metrics)).
///
/// Read from text as `off`, `app` (the default) or a socket address:
///
/// ```
/// use ghostkit::metrics::MetricsConfig;
/// assert_eq!(MetricsConfig::default(), MetricsConfig::AppListener);
/// assert_eq!("off".parse::<MetricsConfig>().unwrap(), MetricsConfig::Off);
/// assert_eq!("app".parse::<MetricsConfig>().unwrap(), MetricsConfig::AppListener);
/// let own: MetricsConfig = "127.0.0.1:9100".parse().unwrap();
/// assert_eq!(own, MetricsConfig::Listener(([127, 0, 0, 1], 9100).into()));
/// assert_eq!(own.to_string(), "127.0.0.1:9100");
/// assert!("9100".parse::<MetricsConfig>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsConfig {
    /// Not served: `/metrics` is `404 M_UNRECOGNIZED` like any unknown
    /// route. The metrics are still kept ([`AppContext::metrics`](crate::AppContext::metrics)).
    Off,
    /// On the appservice's own listener, beside the homeserver's routes
    /// (the default).
    #[default]
    AppListener,
    /// On a listener of its own at this address, and not on the
    /// appservice's: to keep the scrape off an address the homeserver can
    /// reach, say.
    Listener(SocketAddr),
}

impl std::str::FromStr for MetricsConfig {
    type Err = MetricsError;

    fn from_str(s: &str) -> Result<Self, MetricsError> {
        match s.trim() {
            "off" => Ok(MetricsConfig::Off),
            "app" => Ok(MetricsConfig::AppListener),
            other => other
                .parse()
                .map(MetricsConfig::Listener)
                .map_err(|_| MetricsError::BadSetting(s.to_owned())),
        }
    }
}

impl std::fmt::Display for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsConfig::Off => f.write_str("off"),
            MetricsConfig::AppListener => f.write_str("app"),
            MetricsConfig::Listener(addr) => write!(f, "{addr}"),
        }
    }
}

/// Why a metric could not be registered, or a setting read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The name is not a Prometheus metric name.
    #[error(
        "`{0}` is not a metric name: use letters, digits, `_` and `:`, not starting with a digit"
    )]
    BadName(String),
    /// A counter's name ends with `_total`, which the encoding adds.
    #[error("the counter name `{0}` ends with `_total`: leave it off, the encoding adds it")]
    TotalSuffix(String),
    /// The name starts with `ghostkit_`, the framework's own prefix.
    #[error("`{0}` starts with `ghostkit_`, the framework's prefix: name the bot's metrics after the bot")]
    Reserved(String),
    /// A metric of this name is registered already.
    #[error("a metric named `{0}` is registered already")]
    Duplicate(String),
    /// A [`MetricsConfig`] setting is neither `off`, `app` nor an address.
    #[error("metrics setting `{0}`: expected `off`, `app` or an address to listen on, like `127.0.0.1:9100`")]
    BadSetting(String),
}

/// The registry and the names in it.
#[derive(Debug)]
struct Registered {
    registry: Registry,
    names: HashSet<String>,
}

/// The appservice's metrics: a `prometheus_client` registry and the
/// framework's metrics in it (listed in the [module docs](self)).
///
/// A bot registers its own through [`AppContext::metrics`](crate::AppContext::metrics):
///
/// ```
/// use ghostkit::metrics::Metrics;
/// use ghostkit::metrics::prometheus_client::metrics::counter::Counter;
/// let metrics = Metrics::new();
/// let bridged: Counter = Counter::default();
/// metrics.register("mybridge_messages_bridged", "Messages bridged to the remote side", bridged.clone())?;
/// bridged.inc();
/// let text = metrics.encode();
/// assert!(text.contains("mybridge_messages_bridged_total 1\n"));
/// assert!(text.contains("ghostkit_transactions_received_total 0\n"));
/// assert!(text.ends_with("# EOF\n"));
/// // The framework's prefix and names taken are refused.
/// assert!(metrics.register("ghostkit_mine", "x", Counter::<u64>::default()).is_err());
/// assert!(metrics.register("mybridge_messages_bridged", "x", Counter::<u64>::default()).is_err());
/// # Ok::<(), ghostkit::metrics::MetricsError>(())
/// ```
#[derive(Debug)]
pub struct Metrics {
    registered: Mutex<Registered>,
    pub(crate) transactions_received: Counter,
    pub(crate) transactions_deduplicated: Counter,
    pub(crate) transactions_replayed: Counter,
    pub(crate) events_received: Counter,
    pub(crate) events_replayed: Counter,
    pub(crate) handler_duration: ByEventType<DurationHistogram>,
    pub(crate) handler_failures: ByEventType<Counter>,
    pub(crate) backlog: Gauge,
    pub(crate) active_lanes: Gauge,
    pub(crate) seen_window_age: Gauge<f64, AtomicU64>,
    pub(crate) unhandled_age: Gauge<f64, AtomicU64>,
    pub(crate) client: ClientMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `name` is a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Metrics {
    /// A registry holding the framework's metrics, all at zero.
    pub fn new() -> Self {
        let m = Metrics {
            registered: Mutex::new(Registered {
                registry: Registry::default(),
                names: HashSet::new(),
            }),
            transactions_received: Counter::default(),
            transactions_deduplicated: Counter::default(),
            transactions_replayed: Counter::default(),
            events_received: Counter::default(),
            events_replayed: Counter::default(),
            handler_duration: ByEventType::default(),
            handler_failures: ByEventType::default(),
            backlog: Gauge::default(),
            active_lanes: Gauge::default(),
            seen_window_age: Gauge::default(),
            unhandled_age: Gauge::default(),
            client: ClientMetrics::default(),
        };
        m.with_registry(|r| m.register_own(r));
        m
    }

    fn register_own(&self, r: &mut Registry) {
        let counters = [
            (
                "ghostkit_transactions_received",
                "Transactions the homeserver PUT, duplicates included",
                &self.transactions_received,
            ),
            (
                "ghostkit_transactions_deduplicated",
                "Transactions seen before (same txnId and body): answered 200, nothing dispatched",
                &self.transactions_deduplicated,
            ),
            (
                "ghostkit_transactions_replayed",
                "Transactions read back from the durable log at start with events left unhandled",
                &self.transactions_replayed,
            ),
            (
                "ghostkit_events_received",
                "Events of new transactions dispatched to the handler",
                &self.events_received,
            ),
            (
                "ghostkit_events_replayed",
                "Events read back from the durable log at start and dispatched again",
                &self.events_replayed,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register_with_unit(
            "ghostkit_handler_duration",
            "Time of one handler call, by event type",
            Unit::Seconds,
            self.handler_duration.clone(),
        );
        r.register(
            "ghostkit_handler_failures",
            "Events whose handler failed or panicked after its retries, by event type",
            self.handler_failures.clone(),
        );
        r.register(
            "ghostkit_dispatch_backlog",
            "Events acknowledged and not yet handled",
            self.backlog.clone(),
        );
        r.register(
            "ghostkit_dispatch_active_lanes",
            "Lanes (rooms, or senders in rooms) with events queued or running, and runners of unordered events",
            self.active_lanes.clone(),
        );
        r.register_with_unit(
            "ghostkit_seen_window_oldest_age",
            "Age of the oldest transaction the duplicate window remembers",
            Unit::Seconds,
            self.seen_window_age.clone(),
        );
        r.register_with_unit(
            "ghostkit_transaction_log_oldest_unhandled_age",
            "Age of the oldest transaction in the log not fully handled (0: none)",
            Unit::Seconds,
            self.unhandled_age.clone(),
        );
        self.client.register(r);
    }

    /// Adds a bot's metric to the registry under `name` (without the
    /// `_total` of a counter: the encoding adds it), with `help` (a full
    /// stop is added). Refused when the name is not a metric name, starts
    /// with `ghostkit_`, or is taken.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl Metric,
    ) -> Result<(), MetricsError> {
        self.register_checked(name, name.to_owned(), &metric)?;
        self.with_registry(|r| r.register(name, help, metric));
        Ok(())
    }

    /// [`Metrics::register`] with a unit, which the encoding appends to the
    /// name (`…_seconds`).
    ///
    /// ```
    /// use ghostkit::metrics::prometheus_client::metrics::gauge::Gauge;
    /// use ghostkit::metrics::prometheus_client::registry::Unit;
    /// let metrics = ghostkit::metrics::Metrics::new();
    /// let lag: Gauge = Gauge::default();
    /// metrics.register_with_unit("mybridge_remote_lag", "Lag of the remote side", Unit::Seconds, lag.clone())?;
    /// lag.set(3);
    /// assert!(metrics.encode().contains("mybridge_remote_lag_seconds 3\n"));
    /// # Ok::<(), ghostkit::metrics::MetricsError>(())
    /// ```
    pub fn register_with_unit(
        &self,
        name: &str,
        help: &str,
        unit: Unit,
        metric: impl Metric,
    ) -> Result<(), MetricsError> {
        let full = format!("{name}_{}", unit.as_str());
        self.register_checked(name, full, &metric)?;
        self.with_registry(|r| r.register_with_unit(name, help, unit, metric));
        Ok(())
    }

    fn register_checked(
        &self,
        name: &str,
        full: String,
        metric: &impl Metric,
    ) -> Result<(), MetricsError> {
        if !valid_name(name) {
            return Err(MetricsError::BadName(name.to_owned()));
        }
        if name.starts_with("ghostkit_") {
            return Err(MetricsError::Reserved(name.to_owned()));
        }
        if metric.metric_type() == prometheus_client::metrics::MetricType::Counter
            && name.ends_with("_total")
        {
            return Err(MetricsError::TotalSuffix(name.to_owned()));
        }
        if !lock(&self.registered).names.insert(full) {
            return Err(MetricsError::Duplicate(name.to_owned()));
        }
        Ok(())
    }

    /// Runs `f` on the registry itself, for what [`Metrics::register`]
    /// does not cover (a sub-registry with a prefix or labels, a
    /// `Collector`). Its names are not checked: keep them off the
    /// `ghostkit_` prefix. Scrapes wait while `f` runs.
    ///
    /// ```
    /// let metrics = ghostkit::metrics::Metrics::new();
    /// let up: ghostkit::metrics::prometheus_client::metrics::gauge::Gauge = Default::default();
    /// metrics.with_registry(|r| r.sub_registry_with_prefix("mybridge").register("remote_up", "Remote side reachable", up.clone()));
    /// up.set(1);
    /// assert!(metrics.encode().contains("mybridge_remote_up 1\n"));
    /// ```
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut lock(&self.registered).registry)
    }

    /// Every metric of the registry in the OpenMetrics text format, `# EOF`
    /// last. The gauges read from the router and the log are as of the
    /// last scrape of `/metrics` (which sets them first).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registered = lock(&self.registered);
        // Writing to a String does not fail; a metric's encoder could only
        // fail on the writer's account.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registered.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// Counts the items read back from the log at start (in log order, a
    /// transaction's items together) and their transactions.
    pub(crate) fn replaying(&self, items: &[crate::transaction::LogItem]) {
        self.events_replayed.inc_by(items.len() as u64);
        let transactions = items
            .iter()
            .enumerate()
            .filter(|(i, item)| *i == 0 || items[i - 1].seq != item.seq)
            .count();
        self.transactions_replayed.inc_by(transactions as u64);
    }

    /// Records the time of one handler call for an event of `label`.
    pub(crate) fn handler_called(&self, label: EventTypeLabel, took: std::time::Duration) {
        self.handler_duration.get(label).observe(took);
    }

    /// Records an event whose handler failed for good.
    pub(crate) fn handler_failed(&self, label: EventTypeLabel) {
        self.handler_failures.get(label).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        let m = Metrics::new();
        let c = || Counter::<u64>::default();
        assert_eq!(
            m.register("1abc", "x", c()),
            Err(MetricsError::BadName("1abc".into()))
        );
        assert_eq!(
            m.register("a-b", "x", c()),
            Err(MetricsError::BadName("a-b".into()))
        );
        assert_eq!(
            m.register("", "x", c()),
            Err(MetricsError::BadName("".into()))
        );
        assert_eq!(
            m.register("bot_sent_total", "x", c()),
            Err(MetricsError::TotalSuffix("bot_sent_total".into()))
        );
        // A gauge may end with `_total`.
        m.register("bot_in_total", "x", Gauge::<i64>::default())
            .expect("a gauge");
        m.register("bot:sent", "x", c()).expect("colons are fine");
        // The same base name with a unit is another name.
        m.register_with_unit("bot_lag", "x", Unit::Seconds, Gauge::<i64>::default())
            .expect("bot_lag_seconds");
        m.register("bot_lag", "x", Gauge::<i64>::default())
            .expect("bot_lag");
        assert_eq!(
            m.register_with_unit("bot_lag", "x", Unit::Seconds, Gauge::<i64>::default()),
            Err(MetricsError::Duplicate("bot_lag".into()))
        );
    }

    #[test]
    fn the_framework_metrics_are_all_there_at_zero() {
        let text = Metrics::new().encode();
        for line in [
            "ghostkit_transactions_received_total 0",
            "ghostkit_transactions_deduplicated_total 0",
            "ghostkit_transactions_replayed_total 0",
            "ghostkit_events_received_total 0",
            "ghostkit_events_replayed_total 0",
            "ghostkit_dispatch_backlog 0",
            "ghostkit_dispatch_active_lanes 0",
            "ghostkit_seen_window_oldest_age_seconds 0.0",
            "ghostkit_transaction_log_oldest_unhandled_age_seconds 0.0",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
        // Labelled metrics show once a label has a value.
        assert!(!text.contains("ghostkit_handler_duration"), "{text}");
        assert!(!text.contains("ghostkit_client_requests"), "{text}");
    }

    #[test]
    fn client_exchanges_are_counted_by_family_and_status() {
        use crate::client::RetryReason;
        use std::time::Duration;
        let m = Metrics::new();
        m.client.answered(EndpointFamily::Send, Some(200));
        m.client.answered(EndpointFamily::Send, Some(200));
        m.client.answered(EndpointFamily::Send, Some(429));
        m.client.answered(EndpointFamily::Join, None);
        m.client.retrying(
            EndpointFamily::Send,
            RetryReason::RateLimited { retry_after: None },
            Duration::from_millis(1500),
        );
        m.client
            .retrying(EndpointFamily::Join, RetryReason::Connect, Duration::ZERO);
        let text = m.encode();
        for line in [
            r#"ghostkit_client_requests_total{endpoint="send",class="2xx",code="200"} 2"#,
            r#"ghostkit_client_requests_total{endpoint="send",class="4xx",code="429"} 1"#,
            r#"ghostkit_client_requests_total{endpoint="join",class="none",code="none"} 1"#,
            r#"ghostkit_client_retries_total{endpoint="send",reason="rate_limited"} 1"#,
            r#"ghostkit_client_retries_total{endpoint="join",reason="connect"} 1"#,
            r#"ghostkit_client_rate_limited_waits_total{endpoint="send"} 1"#,
            r#"ghostkit_client_rate_limited_wait_seconds_total{endpoint="send"} 1.5"#,
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
        assert!(!text.contains(r#"rate_limited_waits_total{endpoint="join"}"#));
    }
}
