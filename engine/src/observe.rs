//! Consensus metrics an operator needs, observed by the driver from the state machine's
//! inputs and outputs (consensus itself reads no clock): which validators sign the
//! certificates that commit, how many timeouts this validator signed and how many TCs it saw,
//! how many rounds each commit took, and how long from a proposal to its QC and to its commit.

use crate::metrics::ConsensusMetrics;
#[cfg(test)]
use parallax_consensus::ValidatorIndex;
use parallax_consensus::{Block, Round};
use std::{collections::BTreeMap, sync::atomic::Ordering, time::Instant};

/// Proposals remembered for the latency figures.
const MAX_PROPOSALS: usize = 256;

/// What the driver remembers to compute the figures.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    /// When each recent round's proposal was first seen.
    proposals: BTreeMap<Round, Instant>,
    qc_round: Round,
    tc_round: Round,
    timeout_round: Round,
    last_commit_round: Option<Round>,
}

impl Observer {
    /// Where the state machine (re)started: later certificates are measured against it.
    pub(crate) fn baseline(&mut self, qc_round: Round, tc_round: Round) {
        self.qc_round = self.qc_round.max(qc_round);
        self.tc_round = self.tc_round.max(tc_round);
    }

    /// A proposal of `round` arrived or was sent.
    pub(crate) fn on_proposal(&mut self, round: Round, now: Instant) {
        if round <= self.qc_round {
            return;
        }
        self.proposals.entry(round).or_insert(now);
        while self.proposals.len() > MAX_PROPOSALS {
            self.proposals.pop_first();
        }
    }

    /// This validator broadcast a timeout of `round` (a re-broadcast counts once).
    pub(crate) fn on_own_timeout(&mut self, round: Round, m: &ConsensusMetrics) {
        if round > self.timeout_round {
            self.timeout_round = round;
            m.timeouts_signed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The state machine's highest QC and TC rounds after an event.
    pub(crate) fn on_certificates(
        &mut self,
        qc_round: Round,
        tc_round: Round,
        m: &ConsensusMetrics,
        now: Instant,
    ) {
        if qc_round > self.qc_round {
            self.qc_round = qc_round;
            if let Some(at) = self.proposals.get(&qc_round) {
                m.proposal_to_qc
                    .observe(now.saturating_duration_since(*at).as_secs_f64());
            }
        }
        if tc_round > self.tc_round {
            m.tcs.fetch_add(1, Ordering::Relaxed);
            self.tc_round = tc_round;
        }
    }

    /// Consensus committed `block`.
    pub(crate) fn on_commit(&mut self, block: &Block, m: &ConsensusMetrics, now: Instant) {
        let round = block.round();
        if let Some(last) = self.last_commit_round
            && round > last
        {
            m.rounds_per_commit.observe((round - last) as f64);
        }
        self.last_commit_round = Some(round);
        if let Some(at) = self.proposals.get(&round) {
            m.proposal_to_commit
                .observe(now.saturating_duration_since(*at).as_secs_f64());
        }
        self.proposals = self.proposals.split_off(&(round + 1));
        m.blocks.fetch_add(1, Ordering::Relaxed);
        for v in block.participants() {
            if let Some(c) = m.participation.get(*v as usize) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The validator whose participation a test reads.
    #[cfg(test)]
    fn participation(m: &ConsensusMetrics, v: ValidatorIndex) -> u64 {
        m.participation[v as usize].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_consensus::Hash;
    use std::time::Duration;

    #[test]
    fn figures_follow_proposals_certificates_and_commits() {
        let m = ConsensusMetrics::default();
        m.set_validators(4);
        let mut o = Observer::default();
        let t0 = Instant::now();
        o.on_proposal(5, t0);
        o.on_proposal(5, t0 + Duration::from_secs(9)); // a re-send: the first sighting counts
        o.on_certificates(5, 0, &m, t0 + Duration::from_millis(300));
        let b5 = Block::new(5, 3, Hash([1; 32]), 1, vec![0, 2, 3], vec![]);
        o.on_commit(&b5, &m, t0 + Duration::from_secs(1));
        // Round 6 failed (a TC), round 7's block commits next.
        o.on_own_timeout(6, &m);
        o.on_own_timeout(6, &m);
        o.on_certificates(5, 6, &m, t0 + Duration::from_secs(3));
        o.on_proposal(7, t0 + Duration::from_secs(3));
        let b7 = Block::new(7, 4, b5.id(), 3, vec![0, 1, 2], vec![]);
        o.on_commit(&b7, &m, t0 + Duration::from_secs(4));

        let mut registry = prometheus_client::registry::Registry::default();
        let m = std::sync::Arc::new(m);
        registry.register_collector(Box::new(m.clone()));
        let text = crate::metrics::text(&registry);
        assert!(
            text.contains("parallax_consensus_proposal_to_qc_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("parallax_consensus_proposal_to_commit_seconds_count 2"));
        assert!(text.contains("parallax_consensus_rounds_per_commit_bucket{le=\"1.0\"} 0"));
        assert!(text.contains("parallax_consensus_rounds_per_commit_bucket{le=\"2.0\"} 1"));
        assert!(text.contains("parallax_consensus_timeouts_signed_total 1"));
        assert!(text.contains("parallax_consensus_timeout_certificates_total 1"));
        assert!(text.contains("parallax_consensus_blocks_committed_total 2"));
        assert!(text.contains("parallax_consensus_qc_participation_total{validator=\"0\"} 2"));
        assert_eq!(Observer::participation(&m, 1), 1);
        assert!(!text.contains("validator=\"4\""));
    }
}
