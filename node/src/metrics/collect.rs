//! The node's collectors: each reads one part's figures at a scrape and encodes them, and
//! [`ChainMetrics`], the histograms the commit path records into.

use parallax_chain::ExecutedBlock;
use parallax_execution::Schedule;
use parallax_rpc::RpcStats;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet},
    metrics::{MetricType, histogram::Histogram},
};
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Encodes one counter (`name` without `_total`, which the encoding adds).
pub(crate) fn counter(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: u64,
) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// Encodes one gauge.
pub(crate) fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// Encodes a counter family with one label.
pub(crate) fn counters<'a>(
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

/// Encodes a histogram.
pub(crate) fn histogram(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &Histogram,
) -> fmt::Result {
    h.encode(e.encode_descriptor(name, help, None, h.metric_type())?)
}

/// What the driver records per committed block.
#[derive(Debug)]
pub struct ChainMetrics {
    /// Seconds from this node finishing the block's execution to committing it.
    pub commit_latency: Histogram,
    /// Transactions per committed block.
    pub block_transactions: Histogram,
    /// Wall time of executing a committed block's transactions (without the state root).
    pub execution_seconds: Histogram,
    /// Wall time of computing a committed block's state root.
    pub state_root_seconds: Histogram,
    /// Wall time of writing a committed block to the database (one durable MDBX commit).
    pub persist_seconds: Histogram,
    /// EVM time over wall time of committed blocks on a parallel schedule.
    pub parallelism: Histogram,
    /// Committed blocks by executor schedule: sequential, parallel, handed off, and run by
    /// the sequential executor after the parallel one failed.
    schedules: [AtomicU64; 4],
    /// Transaction executions aborted by validation (each re-executed), in committed blocks.
    pub aborts: AtomicU64,
}

const LATENCY_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const TX_BOUNDS: &[f64] = &[0.0, 1.0, 10.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0];
const EXECUTION_BOUNDS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const PARALLELISM_BOUNDS: &[f64] = &[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0];
const SCHEDULES: [&str; 4] = ["sequential", "parallel", "handed_off", "fallback"];

/// A histogram with these bucket bounds (and `+Inf`).
pub(crate) fn buckets(bounds: &[f64]) -> Histogram {
    Histogram::new(bounds.iter().copied())
}

impl Default for ChainMetrics {
    fn default() -> Self {
        Self {
            commit_latency: buckets(LATENCY_BOUNDS),
            block_transactions: buckets(TX_BOUNDS),
            execution_seconds: buckets(EXECUTION_BOUNDS),
            state_root_seconds: buckets(EXECUTION_BOUNDS),
            persist_seconds: buckets(EXECUTION_BOUNDS),
            parallelism: buckets(PARALLELISM_BOUNDS),
            schedules: Default::default(),
            aborts: AtomicU64::new(0),
        }
    }
}

impl ChainMetrics {
    /// Records a block just committed (by consensus or block sync), whose write to the
    /// database took `persist`. Negative or NaN figures cannot arise here (durations and
    /// counts).
    pub fn on_commit(&self, block: &ExecutedBlock, persist: Duration, now: Instant) {
        self.persist_seconds.observe(persist.as_secs_f64());
        self.commit_latency.observe(
            now.saturating_duration_since(block.executed_at)
                .as_secs_f64(),
        );
        self.block_transactions
            .observe(block.transactions.len() as f64);
        self.execution_seconds
            .observe(block.execution_time.as_secs_f64());
        self.state_root_seconds
            .observe(block.state_root_time.as_secs_f64());
        let schedule = match &block.execution_stats {
            None => 3,
            Some(stats) => {
                self.aborts.fetch_add(stats.aborts, Ordering::Relaxed);
                if let Some(p) = stats.parallelism() {
                    self.parallelism.observe(p);
                }
                match stats.schedule {
                    Schedule::Sequential => 0,
                    Schedule::Parallel => 1,
                    Schedule::HandedOff => 2,
                }
            }
        };
        self.schedules[schedule].fetch_add(1, Ordering::Relaxed);
    }

    /// Encodes the per-block figures.
    pub(crate) fn encode_into(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let m = self;
        for (name, help, h) in [
            (
                "parallax_commit_latency_seconds",
                "Seconds from this node finishing a block's execution (building it as leader, \
                 checking the proposal, or importing it by block sync) to committing it; one \
                 observation per committed block.",
                &m.commit_latency,
            ),
            (
                "parallax_block_transactions",
                "Transactions per committed block.",
                &m.block_transactions,
            ),
            (
                "parallax_block_execution_seconds",
                "Wall time of executing a committed block's transactions with the parallel \
                 executor, without the state root.",
                &m.execution_seconds,
            ),
            (
                "parallax_block_state_root_seconds",
                "Wall time of computing a committed block's state root.",
                &m.state_root_seconds,
            ),
            (
                "parallax_block_persist_seconds",
                "Wall time of writing a committed block, its receipts and state to the \
                 database (one durable MDBX commit).",
                &m.persist_seconds,
            ),
            (
                "parallax_block_parallel_speedup",
                "Per committed block run on a parallel schedule: time inside the EVM summed \
                 over the executor's workers divided by the block's execution wall time. \
                 Aborted executions count as EVM time, so this bounds the speedup over \
                 sequential execution from above. Blocks on the sequential schedule are not \
                 observed.",
                &m.parallelism,
            ),
        ] {
            histogram(e, name, help, h)?;
        }
        counters(
            e,
            "parallax_blocks_executed",
            "Committed blocks by the executor schedule they ran on (fallback: the sequential \
             executor after the parallel one failed).",
            "schedule",
            SCHEDULES.iter().copied().zip(m.schedules.iter().map(load)),
        )?;
        counter(
            e,
            "parallax_execution_aborts",
            "Transaction executions in committed blocks that validation aborted and the \
             parallel executor re-executed.",
            load(&m.aborts),
        )
    }
}

/// The JSON-RPC server's counters.
#[derive(Debug)]
pub(crate) struct RpcCollector(pub(crate) Arc<RpcStats>);

impl Collector for RpcCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let r = &self.0;
        counters(
            &mut e,
            "parallax_rpc_requests",
            "JSON-RPC calls answered, by method (unknown: methods the node does not serve); \
             methods never called are left out.",
            "method",
            r.calls(),
        )?;
        counter(
            &mut e,
            "parallax_rpc_errors",
            "JSON-RPC calls answered with an error.",
            load(&r.errors),
        )?;
        counters(
            &mut e,
            "parallax_rpc_rejected_requests",
            "JSON-RPC requests refused before dispatch, by reason: malformed (not JSON or not \
             JSON-RPC), oversized (over a size or batch limit), connection_limit (connection \
             refused: too many in all or from one address), slow_subscriber (subscription \
             ended for not keeping up).",
            "reason",
            [
                ("malformed", load(&r.malformed)),
                ("oversized", load(&r.oversized)),
                ("connection_limit", load(&r.refused_connections)),
                ("slow_subscriber", load(&r.slow_subscribers)),
            ],
        )?;
        gauge(
            &mut e,
            "parallax_rpc_requests_in_flight",
            "HTTP JSON-RPC requests being handled now (at most max_requests_in_flight).",
            load(&r.in_flight),
        )?;
        counter(
            &mut e,
            "parallax_rpc_requests_waited",
            "HTTP JSON-RPC requests that waited for a turn because max_requests_in_flight \
             were being handled (e.g. many HTTP/2 streams on one connection).",
            load(&r.waited),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

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
        let text = super::super::text(&r);
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
        let text = super::super::text(&r);
        assert!(text.contains("# TYPE c counter\nc_total{why=\"a\"} 1\nc_total{why=\"b\"} 2\n"));
        assert!(text.contains("# TYPE g gauge\ng 7\n"), "{text}");
    }
}
