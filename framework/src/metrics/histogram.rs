//! Metrics updated on the inbound path with atomic additions only:
//! [`DurationHistogram`] (prometheus-client's `Histogram` takes a mutex per
//! observation) and [`ByEventType`], one metric per event-type label,
//! resolved by index instead of a `Family`'s map lookup.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::{MetricType, TypedMetric};

use super::labels::{event_type_at, EVENT_TYPE_LABELS};

/// Upper bounds of the buckets, in seconds: 1 ms to 30 s, then `+Inf`.
pub(crate) const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The same bounds in nanoseconds, to place an observation with integer
/// comparisons.
const BUCKETS_NS: [u64; 14] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// A histogram of durations: per-bucket counts and the sum in nanoseconds,
/// each an `AtomicU64`; an observation is two `fetch_add`s. Cheap to clone
/// (the clones share the counts).
#[derive(Debug, Clone, Default)]
pub struct DurationHistogram {
    inner: Arc<HistogramCounts>,
}

#[derive(Debug, Default)]
struct HistogramCounts {
    /// One per bound of [`BUCKETS`], then `+Inf`; not cumulative.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl DurationHistogram {
    /// Records one duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = ghostkit::metrics::DurationHistogram::default();
    /// h.observe(Duration::from_millis(3));
    /// h.observe(Duration::from_secs(60));
    /// assert_eq!(h.count(), 2);
    /// assert!((h.sum_seconds() - 60.003).abs() < 1e-9);
    /// ```
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = BUCKETS_NS.partition_point(|&bound| bound < ns);
        self.inner.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.inner.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.inner
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Their sum, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.inner.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
}

impl TypedMetric for DurationHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for DurationHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(0.0, 0u64); BUCKETS.len() + 1];
        for (i, slot) in buckets.iter_mut().enumerate() {
            *slot = (
                BUCKETS.get(i).copied().unwrap_or(f64::INFINITY),
                self.inner.buckets[i].load(Ordering::Relaxed),
            );
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum_seconds(), count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Whether a metric of a [`ByEventType`] was ever touched: untouched ones
/// are left out of the scrape, which would otherwise list every known type.
pub trait Touched {
    /// Whether anything was recorded.
    fn touched(&self) -> bool;
}

impl Touched for DurationHistogram {
    fn touched(&self) -> bool {
        self.count() > 0
    }
}

impl Touched for Counter {
    fn touched(&self) -> bool {
        self.get() > 0
    }
}

/// One metric per `event_type` label (see
/// [`event_type_label`](super::event_type_label)), all made up front: the
/// inbound path picks one by index, without a lock or a map.
#[derive(Debug, Clone)]
pub struct ByEventType<M> {
    metrics: Arc<[M]>,
}

impl<M: Default> Default for ByEventType<M> {
    fn default() -> Self {
        ByEventType {
            metrics: (0..EVENT_TYPE_LABELS).map(|_| M::default()).collect(),
        }
    }
}

impl<M> ByEventType<M> {
    /// The metric of the events with this label.
    pub fn get(&self, label: EventTypeLabel) -> &M {
        // An EventTypeLabel's index is below EVENT_TYPE_LABELS, the length.
        &self.metrics[label.0]
    }
}

/// An event type's label, looked up once per event.
///
/// ```
/// use ghostkit::metrics::EventTypeLabel;
/// assert_eq!(EventTypeLabel::of("m.reaction").as_str(), "m.reaction");
/// assert_eq!(EventTypeLabel::of("net.example.game").as_str(), "other");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTypeLabel(usize);

impl EventTypeLabel {
    /// The label of `event_type`.
    pub fn of(event_type: &str) -> Self {
        EventTypeLabel(super::labels::event_type_index(event_type))
    }

    /// The label's text.
    pub fn as_str(self) -> &'static str {
        event_type_at(self.0)
    }
}

impl<M: EncodeMetric + TypedMetric + Touched> TypedMetric for ByEventType<M> {
    const TYPE: MetricType = M::TYPE;
}

impl<M: EncodeMetric + TypedMetric + Touched> EncodeMetric for ByEventType<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (i, m) in self.metrics.iter().enumerate() {
            if !m.touched() {
                continue;
            }
            let labels = [("event_type", event_type_at(i))];
            m.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    fn is_empty(&self) -> bool {
        !self.metrics.iter().any(Touched::touched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::{Registry, Unit};

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).expect("encodes");
        out
    }

    #[test]
    fn observations_land_in_their_bucket_and_the_scrape_is_cumulative() {
        let h = DurationHistogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(7));
        h.observe(Duration::from_secs(100));
        let mut registry = Registry::default();
        registry.register_with_unit("t", "test", Unit::Seconds, h.clone());
        let out = text(&registry);
        // A bound is inclusive: 1 ms is in the 1 ms bucket.
        assert!(out.contains("t_seconds_bucket{le=\"0.001\"} 2\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"0.01\"} 3\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"30.0\"} 3\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("t_seconds_count 4\n"), "{out}");
        assert!(out.contains("t_seconds_sum 100.0085\n"), "{out}");
    }

    #[test]
    fn only_the_event_types_seen_are_scraped() {
        let by: ByEventType<Counter> = ByEventType::default();
        by.get(EventTypeLabel::of("m.room.message")).inc();
        by.get(EventTypeLabel::of("com.example.a")).inc();
        by.get(EventTypeLabel::of("com.example.b")).inc();
        let mut registry = Registry::default();
        registry.register("f", "test", by);
        let out = text(&registry);
        assert!(
            out.contains("f_total{event_type=\"m.room.message\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("f_total{event_type=\"other\"} 2\n"), "{out}");
        assert_eq!(out.matches("f_total{").count(), 2, "{out}");
    }
}
