//! What the engine's parts measure, and the helpers every collector of the node encodes
//! with: one `prometheus-client` registry (the node builds it) into which each part
//! registers a collector.
//!
//! Recording stays lock-free where it is hot: counters and gauges are the parts' own
//! atomics, read by the collectors at each scrape; a histogram observation takes the
//! histogram's own short mutex (one per committed block or consensus event), so a scrape
//! never waits for the consensus driver. The numbers of one scrape may straddle a commit (a
//! block counted by one series and not yet by another), which Prometheus tolerates; the
//! buckets, sum and count of one histogram always agree.
//!
//! Counters are registered without their `_total` suffix, which the OpenMetrics encoding
//! adds to the sample; bucket bounds are printed as floats (`le="1.0"`).

mod chain;
mod consensus;

pub use chain::ChainMetrics;
pub use consensus::ConsensusMetrics;

use prometheus_client::{
    encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet},
    metrics::{MetricType, histogram::Histogram},
    registry::Registry,
};
use std::fmt;

/// The OpenMetrics text of a registry.
pub fn text(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail; a collector's error would leave a partial text.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "encoding the metrics failed");
    }
    out
}

/// Encodes one counter (`name` without `_total`, which the encoding adds).
pub fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// Encodes one gauge.
pub fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// Encodes a counter family with one label.
pub fn counters<'a>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    rows: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, v) in rows {
        m.encode_family(&[(label, value)])?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

/// Encodes a gauge family with one label.
pub fn gauges<'a>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    rows: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (value, v) in rows {
        m.encode_family(&[(label, value)])?.encode_gauge(&v)?;
    }
    Ok(())
}

/// Encodes a histogram.
pub fn histogram(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &Histogram,
) -> fmt::Result {
    h.encode(e.encode_descriptor(name, help, None, h.metric_type())?)
}

/// A histogram with these bucket bounds (and `+Inf`).
pub fn buckets(bounds: &[f64]) -> Histogram {
    Histogram::new(bounds.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::collector::Collector;

    #[test]
    fn a_histogram_is_encoded_with_cumulative_buckets_sum_and_count() {
        #[derive(Debug)]
        struct One(Histogram);
        impl Collector for One {
            fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
                histogram(&mut e, "x", "An example.", &self.0)
            }
        }
        let h = buckets(&[1.0, 2.0, 5.0]);
        for v in [0.5, 1.0, 1.5, 3.0, 7.0] {
            h.observe(v);
        }
        let mut r = Registry::default();
        r.register_collector(Box::new(One(h)));
        let text = super::text(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "# HELP x An example.",
                "# TYPE x histogram",
                "x_sum 13.0",
                "x_count 5",
                "x_bucket{le=\"1.0\"} 2",
                "x_bucket{le=\"2.0\"} 3",
                "x_bucket{le=\"5.0\"} 4",
                "x_bucket{le=\"+Inf\"} 5",
                "# EOF",
            ]
        );
    }

    #[test]
    fn counters_carry_total_and_their_labels() {
        #[derive(Debug)]
        struct Two;
        impl Collector for Two {
            fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
                counters(&mut e, "c", "Counted.", "why", [("a", 1), ("b", 2)])?;
                gauge(&mut e, "g", "Gauged.", 7)
            }
        }
        let mut r = Registry::default();
        r.register_collector(Box::new(Two));
        let text = super::text(&r);
        assert!(text.contains("# TYPE c counter\nc_total{why=\"a\"} 1\nc_total{why=\"b\"} 2\n"));
        assert!(text.contains("# TYPE g gauge\ng 7\n"), "{text}");
    }
}
