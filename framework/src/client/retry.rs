//! When a failed call is tried again, and how long to wait first.
//!
//! - `429 M_LIMIT_EXCEEDED`: wait what the homeserver asked (`retry_after_ms`
//!   in the body, else the `Retry-After` header), else back off; for every
//!   request, since a rate-limited request was not acted on.
//! - `500`, `502`, `503`, `504`, timeouts and broken connections: exponential
//!   backoff with jitter, only for requests safe to repeat
//!   ([`super::Request::idempotent`]; sends carry a transaction ID, so they
//!   are); a failure to *connect* is retried for every request.
//! - Retries are budgeted by time: [`RetryPolicy::max_total`] in all, waits
//!   included (five minutes by default, longer than a homeserver restart
//!   takes), then the last error is returned. A wait the homeserver asks for
//!   is honoured when it fits in what is left of the budget.
//!   [`RetryPolicy::max_attempts`] can bound the count too; by default it
//!   does not.
//!
//! A handler whose call still fails this way (the homeserver is down for
//! longer than the budget) pauses its room: see [`crate::router`].
//!
//! Every retry is logged (`WARN`, with the method, path, attempt, wait and
//! reason) and given to [`super::ClientConfig::on_retry`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use super::request::Request;
use super::ClientError;

/// When and how failed calls are tried again.
///
/// ```
/// use std::time::Duration;
/// use ghostkit::client::RetryPolicy;
/// let p = RetryPolicy { initial_backoff: Duration::from_millis(100), ..Default::default() };
/// assert_eq!(p.backoff(1), Duration::from_millis(100));
/// assert_eq!(p.backoff(3), Duration::from_millis(400));
/// assert_eq!(RetryPolicy::never().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry; `u32::MAX`, the
    /// default: bounded by [`RetryPolicy::max_total`] only).
    pub max_attempts: u32,
    /// Time budget of one call, waits included: no retry starts past it.
    pub max_total: Duration,
    /// Wait before the first retry after a server or network error.
    pub initial_backoff: Duration,
    /// The backoff is multiplied by this after each retry.
    pub multiplier: f64,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// Share of each backoff taken off at random (0: none, 1: "full jitter"),
    /// so that many clients do not retry in lockstep.
    pub jitter: f64,
    /// Longest wait a `429` may ask for (within the time budget); a longer
    /// one is returned as the error.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: u32::MAX,
            max_total: Duration::from_secs(300),
            initial_backoff: Duration::from_millis(500),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(20),
            jitter: 0.5,
            max_rate_limit_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// The backoff before retry number `retry` (1-based), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        self.waits().nominal(retry)
    }

    /// The backoff before retry number `retry`, with jitter.
    pub fn backoff_with_jitter(&self, retry: u32) -> Duration {
        self.waits().delay(retry)
    }

    /// The policy's waits as a [`Backoff`](crate::backoff::Backoff).
    pub fn waits(&self) -> crate::backoff::Backoff {
        crate::backoff::Backoff {
            initial: self.initial_backoff,
            max: self.max_backoff,
            multiplier: self.multiplier,
            jitter: self.jitter,
        }
    }
}

/// Why a call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// `429`: the homeserver rate-limited the call.
    RateLimited {
        /// The wait the homeserver asked for, if it said.
        retry_after: Option<Duration>,
    },
    /// `500`, `502`, `503` or `504`.
    ServerError {
        /// The status.
        status: u16,
    },
    /// The connection could not be opened.
    Connect,
    /// No answer in time.
    Timeout,
    /// The connection broke during the call.
    Network,
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::RateLimited { .. } => f.write_str("rate limited"),
            RetryReason::ServerError { status } => write!(f, "server error {status}"),
            RetryReason::Connect => f.write_str("cannot connect"),
            RetryReason::Timeout => f.write_str("timed out"),
            RetryReason::Network => f.write_str("connection broken"),
        }
    }
}

/// One retry about to happen.
#[derive(Debug, Clone)]
pub struct RetryEvent {
    /// The method of the call.
    pub method: Method,
    /// Its path, without the query.
    pub path: String,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
    /// Why.
    pub reason: RetryReason,
}

/// A function called before each retry.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// let retries = Arc::new(AtomicU32::new(0));
/// let counter = retries.clone();
/// let hook = ghostkit::client::RetryHook::new(move |_event| {
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// # let _ = hook;
/// ```
#[derive(Clone)]
pub struct RetryHook(Arc<dyn Fn(&RetryEvent) + Send + Sync>);

impl RetryHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        RetryHook(Arc::new(f))
    }
}

impl std::fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryHook")
    }
}

/// Why `err` may be retried, if it may; `idempotent` says whether the
/// request may be repeated after it reached the homeserver.
pub fn classify(err: &ClientError, idempotent: bool) -> Option<RetryReason> {
    match err {
        ClientError::Matrix(m) if m.status == 429 => Some(RetryReason::RateLimited {
            retry_after: m.retry_after_ms.map(Duration::from_millis),
        }),
        ClientError::Matrix(m) if idempotent && matches!(m.status, 500 | 502..=504) => {
            Some(RetryReason::ServerError { status: m.status })
        }
        ClientError::Http { source, .. } if source.is_connect() => Some(RetryReason::Connect),
        ClientError::Http { source, .. } if idempotent && source.is_timeout() => {
            Some(RetryReason::Timeout)
        }
        ClientError::Http { source, .. }
            if idempotent && (source.is_request() || source.is_body()) =>
        {
            Some(RetryReason::Network)
        }
        _ => None,
    }
}

/// The wait before retry number `retry` for `reason`; `None` when a `429`
/// asks for longer than [`RetryPolicy::max_rate_limit_wait`].
pub fn wait_for(policy: &RetryPolicy, reason: RetryReason, retry: u32) -> Option<Duration> {
    match reason {
        RetryReason::RateLimited {
            retry_after: Some(asked),
        } => (asked <= policy.max_rate_limit_wait).then_some(asked),
        _ => Some(policy.backoff_with_jitter(retry)),
    }
}

/// Gives `event` to the hook, if any.
pub(crate) fn report(hook: Option<&RetryHook>, event: &RetryEvent) {
    if let Some(hook) = hook {
        (hook.0)(event);
    }
}

/// Runs `attempt` until it succeeds or may not be retried.
/// `retrying` is told of each retry (the metrics).
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    hook: Option<&RetryHook>,
    req: &Request,
    retrying: impl Fn(RetryReason, Duration),
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let started = Instant::now();
    let mut n: u32 = 1;
    loop {
        let err = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(reason) = classify(&err, req.is_idempotent()) else {
            return Err(err);
        };
        if n >= policy.max_attempts.max(1) {
            tracing::warn!(method = %req.method(), path = req.path(), attempts = n, %reason, error = %err, "giving up: no attempts left");
            return Err(err);
        }
        let Some(wait) = wait_for(policy, reason, n) else {
            tracing::warn!(method = %req.method(), path = req.path(), attempts = n, %reason, error = %err, "giving up: the homeserver asks for a longer wait than allowed");
            return Err(err);
        };
        if started.elapsed() + wait > policy.max_total {
            tracing::warn!(method = %req.method(), path = req.path(), attempts = n, %reason, error = %err, "giving up: out of time");
            return Err(err);
        }
        tracing::warn!(
            method = %req.method(),
            path = req.path(),
            attempt = n,
            wait_ms = wait.as_millis() as u64,
            %reason,
            error = %err,
            "retrying homeserver request"
        );
        retrying(reason, wait);
        if let Some(hook) = hook {
            (hook.0)(&RetryEvent {
                method: req.method().clone(),
                path: req.path().to_owned(),
                attempt: n,
                wait,
                reason,
            });
        }
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MatrixError;

    fn matrix(status: u16, retry_after_ms: Option<u64>) -> ClientError {
        MatrixError {
            status,
            errcode: "M_X".into(),
            error: String::new(),
            retry_after_ms,
            body: String::new(),
        }
        .into()
    }

    #[test]
    fn rate_limits_are_retried_for_every_request() {
        let e = matrix(429, Some(1500));
        let r = classify(&e, false);
        assert_eq!(
            r,
            Some(RetryReason::RateLimited {
                retry_after: Some(Duration::from_millis(1500))
            })
        );
        let p = RetryPolicy::default();
        assert_eq!(
            wait_for(&p, r.expect("retryable"), 1),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn server_errors_only_for_idempotent_requests() {
        assert_eq!(
            classify(&matrix(503, None), true),
            Some(RetryReason::ServerError { status: 503 })
        );
        assert_eq!(classify(&matrix(503, None), false), None);
        assert_eq!(
            classify(&matrix(500, None), true),
            Some(RetryReason::ServerError { status: 500 })
        );
        assert_eq!(classify(&matrix(501, None), true), None);
        assert_eq!(classify(&matrix(403, None), true), None);
    }

    #[test]
    fn too_long_rate_limit_waits_give_up() {
        let p = RetryPolicy {
            max_rate_limit_wait: Duration::from_secs(1),
            ..Default::default()
        };
        let r = RetryReason::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        };
        assert_eq!(wait_for(&p, r, 1), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            jitter: 0.5,
            ..Default::default()
        };
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(4), Duration::from_millis(700));
        assert_eq!(p.backoff(1000), Duration::from_millis(700));
        for _ in 0..100 {
            let w = p.backoff_with_jitter(2);
            assert!(w <= Duration::from_millis(200) && w >= Duration::from_millis(100));
        }
    }
}
