//! What the end-to-end tests share: the homeserver, real users, polling.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

/// The local Synapse of `scripts/synapse.sh`.
pub fn synapse_url() -> String {
    std::env::var("SYNAPSE_URL").unwrap_or_else(|_| "http://127.0.0.1:18008".into())
}

const SHARED_SECRET: &str = "ghostkit-dev-registration-shared-secret";

/// A test registration from `tests/registrations/`.
pub fn registration_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("registrations")
        .join(format!("{name}.yaml"))
}

/// A name unique to this run and call (the homeserver's database outlives runs).
pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{ms}x{n}")
}

/// Registers a new non-admin user through Synapse's shared-secret admin API
/// (`/_synapse/admin/v1/register`, HMAC-SHA1 over the nonce); returns its
/// user ID and access token. `base` is the homeserver.
pub async fn register_user_at(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
) -> Result<(String, String)> {
    let url = format!("{base}/_synapse/admin/v1/register");
    let name = unique(prefix);
    let password = unique("pw");
    let nonce: Value = http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let nonce = nonce["nonce"]
        .as_str()
        .ok_or_else(|| anyhow!("no nonce"))?
        .to_owned();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SHARED_SECRET.as_bytes())?;
    mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
    let body = json!({
        "nonce": nonce, "username": name, "password": password, "admin": false,
        "mac": hex::encode(mac.finalize().into_bytes()),
    });
    let resp = http.post(&url).json(&body).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        bail!("registering {name}: {status} {v}");
    }
    let token = v["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no access_token: {v}"))?;
    let user_id = v["user_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no user_id: {v}"))?;
    Ok((user_id.to_owned(), token.to_owned()))
}

/// A real user of the homeserver, logged in.
pub struct User {
    pub user_id: String,
    token: String,
    http: reqwest::Client,
    base: String,
}

impl User {
    /// Registers a new non-admin user (see [`register_user`]).
    pub async fn register(prefix: &str) -> Result<User> {
        Self::register_at(&synapse_url(), prefix).await
    }

    /// A new user of the homeserver at `base`.
    pub async fn register_at(base: &str, prefix: &str) -> Result<User> {
        let http = reqwest::Client::new();
        let (user_id, token) = register_user_at(&http, base, prefix).await?;
        Ok(User {
            user_id,
            token,
            http,
            base: base.to_owned(),
        })
    }

    /// One client-server call as this user; fails on a non-2xx answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        // A connection kept open to a homeserver that restarted since breaks
        // on first use: the calls here are safe to repeat, so try again.
        let mut attempt = 0;
        let resp = loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.token);
            if let Some(b) = &body {
                req = req.json(b);
            }
            match req.send().await {
                Err(e) if attempt < 3 && (e.is_request() || e.is_connect()) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => break other?,
            }
        };
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path} answered {status}: {v}");
        }
        Ok(v)
    }

    pub async fn create_room(&self, body: Value) -> Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                Some(body),
            )
            .await?;
        v["room_id"]
            .as_str()
            .map(str::to_owned)
            .context("no room_id")
    }

    pub async fn invite(&self, room: &str, user: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/rooms/{}/invite", enc(room)),
            Some(json!({ "user_id": user })),
        )
        .await
        .map(drop)
    }

    pub async fn send_text(&self, room: &str, body: &str) -> Result<String> {
        let v = self
            .call(
                reqwest::Method::PUT,
                &format!(
                    "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                    enc(room),
                    unique("t")
                ),
                Some(json!({ "msgtype": "m.text", "body": body })),
            )
            .await?;
        v["event_id"]
            .as_str()
            .map(str::to_owned)
            .context("no event_id")
    }

    pub async fn joined_members(&self, room: &str) -> Result<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/_matrix/client/v3/rooms/{}/joined_members", enc(room)),
            None,
        )
        .await
    }

    /// The latest messages of a room, newest first.
    pub async fn messages(&self, room: &str) -> Result<Vec<Value>> {
        self.latest_events(room, 50).await
    }

    /// The latest `limit` events of a room (at most 1000), newest first.
    pub async fn latest_events(&self, room: &str, limit: usize) -> Result<Vec<Value>> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!(
                    "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={limit}",
                    enc(room)
                ),
                None,
            )
            .await?;
        Ok(v["chunk"].as_array().cloned().unwrap_or_default())
    }
}

/// Percent-encodes one path segment.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks Synapse to ping the appservice until it gets through (a Synapse just
/// started has been seen to fail a first ping with a twisted race). A
/// successful ping also makes Synapse resume sending to an appservice it had
/// marked down, e.g. after an earlier run ended.
pub async fn ping_until_ok(client: &ghostkit::Client) -> Result<()> {
    let mut last = None;
    for _ in 0..4 {
        match ghostkit::appservice::self_check(client).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(anyhow!(
        "the homeserver could not ping the appservice: {last:?}"
    ))
}

/// `GET /metrics` of a running appservice, as text.
pub async fn scrape_metrics(running: &ghostkit::Running) -> Result<String> {
    let addr = running
        .metrics_addr()
        .context("the appservice serves no /metrics")?;
    let resp = reqwest::get(format!("http://{addr}/metrics")).await?;
    anyhow::ensure!(resp.status() == 200, "/metrics answered {}", resp.status());
    Ok(resp.text().await?)
}

/// The value of the unlabelled series `name` (`modbot_bans_total`) in a
/// scrape.
pub fn metric(scrape: &str, name: &str) -> Option<u64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}
