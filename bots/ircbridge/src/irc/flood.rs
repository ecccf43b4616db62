//! Flood control of outgoing lines: a token bucket.

use std::time::{Duration, Instant};

/// A token bucket: `burst` lines at once, then `per_second` lines a second.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ircbridge::irc::TokenBucket;
/// let start = Instant::now();
/// let mut bucket = TokenBucket::new(2, 1.0, start);
/// assert_eq!(bucket.take(start), Duration::ZERO);
/// assert_eq!(bucket.take(start), Duration::ZERO);
/// assert_eq!(bucket.take(start), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens (at least 1) refilled at `per_second`
    /// (at least 0.01).
    pub fn new(burst: u32, per_second: f64, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            burst,
            per_second: per_second.max(0.01),
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last = now;
    }

    /// Takes a token; returns how long to wait before sending (zero when one
    /// was there). The token is owed when the wait is not zero.
    pub fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }

    /// Takes a token, sleeping as long as needed.
    pub async fn acquire(&mut self) {
        let wait = self.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_the_rate_and_never_above_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, 2.0, t0);
        for _ in 0..3 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
        assert_eq!(b.take(t0), Duration::from_millis(500));
        assert_eq!(b.take(t0), Duration::from_millis(1000));
        // Long idle: back to a full burst, not more.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(later), Duration::ZERO);
        }
        assert!(b.take(later) > Duration::ZERO);
    }

    #[test]
    fn silly_settings_are_clamped() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, 0.0, t0);
        assert_eq!(b.take(t0), Duration::ZERO);
        assert_eq!(b.take(t0), Duration::from_secs(100));
    }
}
