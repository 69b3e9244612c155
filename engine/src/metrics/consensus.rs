//! The consensus metrics an operator needs (the driver observes them: see
//! the engine's `observe`): which validators sign the certificates that commit, how many timeouts
//! this validator signed and how many TCs it saw, how many rounds each commit took, and how
//! long from a proposal to its QC and to its commit.

use super::{buckets, counter, counters, histogram};
use parallax_consensus::types::MAX_SIGNATURES;
use prometheus_client::{
    collector::Collector, encoding::DescriptorEncoder, metrics::histogram::Histogram,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds from a proposal to its QC, or to its commit.
const LATENCY_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];
/// Rounds from one committed block to the next.
const ROUNDS_BOUNDS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0];

/// The consensus metrics (atomics, and histograms with their own short lock: a scrape never
/// waits for the driver).
#[derive(Debug)]
pub struct ConsensusMetrics {
    /// Seconds from first seeing a round's proposal to seeing a QC of that round.
    pub proposal_to_qc: Histogram,
    /// Seconds from first seeing a block's proposal to committing it.
    pub proposal_to_commit: Histogram,
    /// Rounds between consecutive blocks committed by consensus (1: no round failed).
    pub rounds_per_commit: Histogram,
    /// Timeouts this validator signed (one per round at most).
    pub timeouts_signed: AtomicU64,
    /// Timeout certificates seen (each round once).
    pub tcs: AtomicU64,
    /// Blocks committed by consensus (not block sync), the participation denominator.
    pub blocks: AtomicU64,
    /// Per validator: committed blocks whose parent certificate it signed.
    pub(crate) participation: Box<[AtomicU64]>,
    /// Validators in the set (only those are rendered).
    validators: AtomicU64,
}

impl Default for ConsensusMetrics {
    fn default() -> Self {
        Self {
            proposal_to_qc: buckets(LATENCY_BOUNDS),
            proposal_to_commit: buckets(LATENCY_BOUNDS),
            rounds_per_commit: buckets(ROUNDS_BOUNDS),
            timeouts_signed: AtomicU64::new(0),
            tcs: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
            participation: (0..MAX_SIGNATURES).map(|_| AtomicU64::new(0)).collect(),
            validators: AtomicU64::new(0),
        }
    }
}

impl ConsensusMetrics {
    /// Sets the validator set's size (what is rendered per validator).
    pub fn set_validators(&self, n: usize) {
        self.validators.store(n as u64, Ordering::Relaxed);
    }

    /// Encodes the figures (validators beyond the set's size are left out).
    pub(crate) fn encode_into(&self, e: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let n = (load(&self.validators) as usize).min(self.participation.len());
        let indices: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        counters(
            e,
            "parallax_consensus_qc_participation",
            "Blocks this node committed by consensus whose parent certificate (QC, or TC after \
             a timeout) the validator signed, by validator index; compare with \
             parallax_consensus_blocks_committed_total.",
            "validator",
            indices
                .iter()
                .map(String::as_str)
                .zip(self.participation[..n].iter().map(load)),
        )?;
        for (name, help, value) in [
            (
                "parallax_consensus_blocks_committed",
                "Blocks this node committed by consensus (block sync's imports excluded).",
                &self.blocks,
            ),
            (
                "parallax_consensus_timeouts_signed",
                "Timeouts this validator signed (at most one per round).",
                &self.timeouts_signed,
            ),
            (
                "parallax_consensus_timeout_certificates",
                "Timeout certificates this node saw form or received, one per round.",
                &self.tcs,
            ),
        ] {
            counter(e, name, help, load(value))?;
        }
        for (name, help, h) in [
            (
                "parallax_consensus_proposal_to_qc_seconds",
                "Seconds from first seeing a round's proposal to seeing a QC of that round.",
                &self.proposal_to_qc,
            ),
            (
                "parallax_consensus_proposal_to_commit_seconds",
                "Seconds from first seeing a block's proposal to committing it.",
                &self.proposal_to_commit,
            ),
            (
                "parallax_consensus_rounds_per_commit",
                "Rounds from one block committed by consensus to the next (1: no round failed \
                 between them).",
                &self.rounds_per_commit,
            ),
        ] {
            histogram(e, name, help, h)?;
        }
        Ok(())
    }
}

impl Collector for ConsensusMetrics {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        self.encode_into(&mut e)
    }
}
