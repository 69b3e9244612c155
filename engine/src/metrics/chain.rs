//! [`ChainMetrics`]: the histograms and counters the commit path records into, per
//! committed block.

use super::{buckets, counter, counters, histogram};
use parallax_chain::ExecutedBlock;
use parallax_execution::Schedule;
use prometheus_client::{encoding::DescriptorEncoder, metrics::histogram::Histogram};
use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
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
