//! One exponential backoff for every retry loop: the client's retries, the
//! router's pauses on an unavailable homeserver or store, the store's
//! reopening, and the bots' own (webhook deliveries, IRC reconnects).

use std::time::Duration;

use rand::Rng;

/// Waits that start at `initial`, grow by `multiplier` at each step up to
/// `max`, and are shortened by up to `jitter` (0 to 1) of themselves at
/// random, so that many waiters do not retry in step.
///
/// ```
/// use std::time::Duration;
/// use ghostkit::backoff::Backoff;
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(b.nominal(1), Duration::from_millis(100));
/// assert_eq!(b.nominal(3), Duration::from_millis(400));
/// assert_eq!(b.nominal(10), Duration::from_secs(1));
/// let mut steps = b.steps();
/// assert_eq!(steps.next_delay(), Duration::from_millis(100));
/// assert_eq!(steps.next_delay(), Duration::from_millis(200));
/// steps.reset();
/// assert_eq!(steps.next_delay(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How much each wait grows over the one before (at least 1).
    pub multiplier: f64,
    /// How much of a wait may be cut off at random (0: none, 1: all of it).
    pub jitter: f64,
}

impl Backoff {
    /// Doubling waits from `initial` up to `max`, without jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.0,
        }
    }

    /// The same waits, shortened at random by up to `jitter` of themselves.
    pub const fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The wait before step `step` (1-based), without jitter.
    pub fn nominal(&self, step: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1.0)
            .powi(step.saturating_sub(1).min(64) as i32);
        let wait = self.initial.as_secs_f64() * factor;
        Duration::try_from_secs_f64(wait)
            .unwrap_or(Duration::MAX)
            .min(self.max)
    }

    /// The wait before step `step` (1-based), with jitter.
    pub fn delay(&self, step: u32) -> Duration {
        let nominal = self.nominal(step);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return nominal;
        }
        let r: f64 = rand::thread_rng().gen_range(0.0..1.0);
        nominal.mul_f64(1.0 - jitter * r)
    }

    /// A counter of steps over these waits, for a loop that retries.
    pub fn steps(self) -> Steps {
        Steps {
            backoff: self,
            step: 0,
        }
    }
}

/// The steps of one retry loop ([`Backoff::steps`]).
#[derive(Debug, Clone)]
pub struct Steps {
    backoff: Backoff,
    step: u32,
}

impl Steps {
    /// The wait before the next try; each call is one step further.
    pub fn next_delay(&mut self) -> Duration {
        self.step = self.step.saturating_add(1);
        self.backoff.delay(self.step)
    }

    /// Back to the first wait (after a success that lasted).
    pub fn reset(&mut self) {
        self.step = 0;
    }

    /// How many waits were handed out since the start or the last reset.
    pub fn taken(&self) -> u32 {
        self.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_only_shortens() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.5);
        for step in 1..20 {
            let d = b.delay(step);
            assert!(d <= b.nominal(step) && d >= b.nominal(step) / 2, "{d:?}");
        }
    }

    #[test]
    fn huge_steps_stay_at_the_maximum() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
        let unbounded = Backoff::new(Duration::from_secs(10), Duration::MAX);
        assert_eq!(unbounded.nominal(u32::MAX), Duration::MAX);
    }
}
