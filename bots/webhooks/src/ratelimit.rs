//! Per-hook token buckets for inbound requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by hook ID: `burst` tokens, refilled at `rate` per second.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter allowing `rate` requests per second per key, `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        RateLimiter {
            rate: rate.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is there.
    ///
    /// ```
    /// let l = webhooks::ratelimit::RateLimiter::new(1.0, 2);
    /// assert!(l.take("h").is_ok());
    /// assert!(l.take("h").is_ok());
    /// let wait = l.take("h").unwrap_err();
    /// assert!(wait.as_secs_f64() > 0.5 && wait.as_secs_f64() <= 1.0);
    /// assert!(l.take("other").is_ok());
    /// ```
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }

    /// Forgets the bucket of a deleted hook.
    pub fn forget(&self, key: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_over_time() {
        let l = RateLimiter::new(2.0, 1);
        let t0 = Instant::now();
        assert!(l.take_at("h", t0).is_ok());
        assert!(l.take_at("h", t0).is_err());
        assert!(l.take_at("h", t0 + Duration::from_millis(400)).is_err());
        assert!(l.take_at("h", t0 + Duration::from_millis(1000)).is_ok());
    }
}
