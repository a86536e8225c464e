//! A histogram updated with atomics only: prometheus-client's own takes a
//! lock per observation, and the exchange observes one per request on every
//! worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Cheap to clone: the clones share their counts.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Upper bounds, ascending; `+Inf` is implicit.
    bounds: Box<[f64]>,
    /// Observations per bucket (not cumulative), one more than `bounds`.
    counts: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram(Arc::new(Inner {
            bounds: bounds.into(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    pub fn observe(&self, value: f64) {
        let inner = &self.0;
        let bucket = inner.bounds.partition_point(|upper| *upper < value);
        inner.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = inner
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = &self.0;
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(inner.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' sum, so that it always equals `+Inf`'s
        // even while observations land during the scrape.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = f64::from_bits(inner.sum.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let histogram = Histogram::new(&[0.01, 0.1, 1.0]);
        for value in [0.005, 0.01, 0.05, 0.5, 0.5, 7.0] {
            histogram.observe(value);
        }
        let mut registry = Registry::default();
        registry.register("latency", "Latency", histogram);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "latency_sum 8.065",
            "latency_count 6",
            "latency_bucket{le=\"0.01\"} 2",
            "latency_bucket{le=\"0.1\"} 3",
            "latency_bucket{le=\"1.0\"} 5",
            "latency_bucket{le=\"+Inf\"} 6",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
