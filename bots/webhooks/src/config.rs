//! The bot's own settings, read from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

/// Settings of the webhooks bot (beside the registration and homeserver,
/// which `ghostkit::cli` reads).
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Where the webhook HTTP server listens (`WEBHOOKS_LISTEN`, default
    /// `127.0.0.1:9016`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// The public base URL of that server, as senders reach it
    /// (`WEBHOOKS_PUBLIC_URL`, e.g. `https://hooks.example.org`); secret URLs
    /// are `<base>/webhook/<id>`. When absent: `http://<listen address>`.
    pub public_url: Option<String>,
    /// Messages per second each inbound hook may post, on average
    /// (`WEBHOOKS_RATE`, default 5).
    pub rate_per_sec: f64,
    /// How many messages a hook may post at once before being limited
    /// (`WEBHOOKS_BURST`, default 20).
    pub burst: u32,
    /// Largest accepted request body in bytes (`WEBHOOKS_MAX_BODY`, default 32 KiB).
    pub max_body: usize,
    /// HTTP worker threads of the webhook server (`WEBHOOKS_WORKERS`, default 2).
    pub workers: usize,
    /// Outbound deliveries: attempts per event before giving up (default 6).
    pub outbound_attempts: u32,
    /// Outbound deliveries: first wait between attempts, doubled each time
    /// up to 30 s (default 500 ms).
    pub outbound_backoff: Duration,
    /// Outbound deliveries: time allowed for one POST (default 10 s).
    pub outbound_timeout: Duration,
    /// Outbound events queued per hook before new ones are dropped (default 1000).
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
            outbound_attempts: 6,
            outbound_backoff: Duration::from_millis(500),
            outbound_timeout: Duration::from_secs(10),
            outbound_queue: 1000,
        }
    }
}

impl WebhooksConfig {
    /// Reads the `WEBHOOKS_*` environment variables over the defaults.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut c = WebhooksConfig::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("WEBHOOKS_LISTEN") {
            c.listen = v.parse().with_context(|| {
                format!("WEBHOOKS_LISTEN `{v}` is not an address like 0.0.0.0:9016")
            })?;
        }
        if let Some(v) = var("WEBHOOKS_PUBLIC_URL") {
            let u = url::Url::parse(&v)
                .with_context(|| format!("WEBHOOKS_PUBLIC_URL `{v}` is not a URL"))?;
            anyhow::ensure!(
                matches!(u.scheme(), "http" | "https"),
                "WEBHOOKS_PUBLIC_URL must start with https:// (or http://), got `{v}`"
            );
            c.public_url = Some(v.trim_end_matches('/').to_owned());
        }
        if let Some(v) = var("WEBHOOKS_RATE") {
            c.rate_per_sec = v
                .parse()
                .ok()
                .filter(|r: &f64| *r > 0.0)
                .with_context(|| format!("WEBHOOKS_RATE `{v}` is not a positive number"))?;
        }
        if let Some(v) = var("WEBHOOKS_BURST") {
            c.burst =
                v.parse().ok().filter(|b| *b > 0).with_context(|| {
                    format!("WEBHOOKS_BURST `{v}` is not a positive whole number")
                })?;
        }
        if let Some(v) = var("WEBHOOKS_MAX_BODY") {
            c.max_body = v
                .parse()
                .with_context(|| format!("WEBHOOKS_MAX_BODY `{v}` is not a number of bytes"))?;
        }
        if let Some(v) = var("WEBHOOKS_WORKERS") {
            c.workers = v
                .parse()
                .with_context(|| format!("WEBHOOKS_WORKERS `{v}` is not a number"))?;
        }
        Ok(c)
    }
}
