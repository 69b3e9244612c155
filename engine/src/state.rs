//! What the node's parts publish for the others to read, typed per part ([`Shared`]: the
//! chain's, consensus's, gossip ingress's and transactions' figures, each behind its own
//! `Arc`; RPC, admin and metrics read them) and the feed of admitted transactions. Each part's
//! collector encodes its figures for the metrics registry.

use crate::metrics::{counter, counters, gauge};
use alloy_primitives::B256;
use parallax_consensus::Rejection;
use prometheus_client::{collector::Collector, encoding::DescriptorEncoder};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64},
    },
};
use std::{fmt, sync::atomic::Ordering};

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}
use tokio::sync::broadcast;

/// What the node's parts publish for the others (RPC, admin, metrics) to read, one typed part
/// per component; each part is shared on its own, so a reader holds only what it reads.
#[derive(Debug, Default)]
pub struct Shared {
    /// The chain: what was committed.
    pub chain: Arc<ChainState>,
    /// Consensus: where it stands, what it refused, the evidence it recorded.
    pub consensus: Arc<ConsensusState>,
    /// Gossip ingress: what could not be decoded, verified or kept.
    pub ingress: Arc<IngressCounters>,
    /// Transactions: the mempool and transaction gossip.
    pub transactions: Arc<TxState>,
}

/// What the driver publishes about the chain.
#[derive(Debug, Default)]
pub struct ChainState {
    /// Committed head number.
    pub head: AtomicU64,
    /// Blocks committed since start.
    pub commits: AtomicU64,
    /// Transactions committed since start.
    pub committed_txs: AtomicU64,
    /// When this node last committed a block (Unix milliseconds; 0: not since start).
    pub last_commit_ms: AtomicU64,
    /// Blocks consensus committed above a gap in this node's chain (left to block sync).
    pub commit_gaps: AtomicU64,
    /// Block sync's last round imported blocks: the node is catching up.
    pub syncing: AtomicBool,
    /// Histograms and counters recorded at commit, for the metrics endpoint.
    pub metrics: crate::metrics::ChainMetrics,
}

/// What the driver publishes about consensus.
#[derive(Debug, Default)]
pub struct ConsensusState {
    /// Consensus round.
    pub round: AtomicU64,
    /// Highest QC round.
    pub highest_qc_round: AtomicU64,
    /// Round of the last committed block.
    pub committed_round: AtomicU64,
    /// Leader of the current round.
    pub leader: AtomicU64,
    /// Locked round.
    pub locked_round: AtomicU64,
    /// Last voted round.
    pub last_voted_round: AtomicU64,
    /// Round of the highest timeout certificate seen.
    pub highest_tc_round: AtomicU64,
    /// The current round's timeout, in milliseconds.
    pub round_timeout_ms: AtomicU64,
    /// While the safety data is missing or behind the network: the highest round in which
    /// this validator signs nothing (0: trusted). See `parallax_consensus::continuity`.
    pub signing_floor: AtomicU64,
    /// 1 while the validator refuses to sign in its current round for lost safety data.
    pub signing_paused: AtomicU64,
    /// The highest height this node's consensus committed (0: none yet, or not a validator).
    /// Above the stored head, the chain is behind its own consensus and block sync runs.
    pub consensus_committed: AtomicU64,
    /// Proposals whose payload this node refused.
    pub invalid_proposals: AtomicU64,
    /// Equivocation evidence recorded (verified, new to this node, stored), by kind
    /// ([`parallax_consensus::EvidenceKind::ALL`] order).
    pub evidence: [AtomicU64; 3],
    /// Verified evidence not stored: its culprit already had the most kept.
    pub evidence_unstored: AtomicU64,
    /// Consensus participation, timeouts and latencies, for the metrics endpoint.
    pub metrics: crate::metrics::ConsensusMetrics,
    /// Consensus inputs rejected, by reason.
    rejections: Mutex<HashMap<&'static str, u64>>,
}

/// What gossip ingress refused or shed before anything else saw it.
#[derive(Debug, Default)]
pub struct IngressCounters {
    /// Gossip messages that did not decode.
    pub malformed_gossip: AtomicU64,
    /// Relayed consensus messages whose signature did not verify.
    pub forged_relays: AtomicU64,
    /// Copies of one relayed consensus message held back (forwarded at most twice a second).
    pub relay_repeats: AtomicU64,
    /// Sync responses that failed verification.
    pub bad_sync_responses: AtomicU64,
    /// Withdrawal attestations dropped because the relayer's queue was full.
    pub attestations_shed: AtomicU64,
}

/// What transaction admission and gossip publish.
#[derive(Debug, Default)]
pub struct TxState {
    /// Transactions in the mempool.
    pub mempool_size: AtomicU64,
    /// Admitted transactions not gossiped because the gossip queue was full.
    pub tx_gossip_dropped: AtomicU64,
    /// Gossiped transaction batches ignored because admission was that far behind.
    pub tx_batches_shed: AtomicU64,
    /// A `TxArrived` is queued for the driver.
    pub tx_signal: AtomicBool,
    /// Hashes of transactions as the mempool admits them (RPC filters and subscriptions).
    pub pending_txs: PendingFeed,
}

impl ConsensusState {
    /// Counts a consensus message the state machine refused, by reason.
    pub fn count_rejection(&self, reason: &Rejection) {
        let label = match reason {
            Rejection::UnknownValidator(_) => "unknown_validator",
            Rejection::DuplicateSigner(_) => "duplicate_signer",
            Rejection::InvalidSignature(_) => "invalid_signature",
            Rejection::NoQuorum(_) => "no_quorum",
            Rejection::StaleRound { .. } => "stale_round",
            Rejection::FutureRound { .. } => "future_round",
            Rejection::NotLeader { .. } => "not_leader",
            Rejection::NotNextLeader(_) => "not_next_leader",
            Rejection::Malformed(_) => "malformed",
            Rejection::LeaderChanged { .. } => "leader_changed",
            Rejection::Equivocation { .. } => "equivocation",
            Rejection::Duplicate => "duplicate",
            Rejection::InvalidPayload => "invalid_payload",
            Rejection::Unsolicited => "unsolicited",
        };
        if let Ok(mut map) = self.rejections.lock() {
            *map.entry(label).or_default() += 1;
        }
    }

    /// Rejected consensus inputs by reason.
    pub fn rejections(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self
            .rejections
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// The chain: head, commits, and what each committed block measured.
#[derive(Debug)]
pub struct ChainCollector(pub Arc<ChainState>);

impl Collector for ChainCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let s = &self.0;
        gauge(
            &mut e,
            "parallax_head_height",
            "Height of the last committed block.",
            load(&s.head),
        )?;
        counter(
            &mut e,
            "parallax_blocks_committed",
            "Blocks this node committed since it started (by consensus or block sync).",
            load(&s.commits),
        )?;
        counter(
            &mut e,
            "parallax_transactions_committed",
            "Transactions in the blocks this node committed since it started.",
            load(&s.committed_txs),
        )?;
        gauge(
            &mut e,
            "parallax_syncing",
            "1 while block sync is importing blocks to catch up, else 0.",
            u64::from(s.syncing.load(Ordering::Relaxed)),
        )?;
        s.metrics.encode_into(&mut e)
    }
}

/// Consensus: where it is, what it refused, and the evidence it recorded.
#[derive(Debug)]
pub struct ConsensusCollector {
    /// Consensus's figures.
    pub consensus: Arc<ConsensusState>,
    /// What gossip ingress counted.
    pub ingress: Arc<IngressCounters>,
}

impl Collector for ConsensusCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let (s, ingress) = (&self.consensus, &self.ingress);
        gauge(
            &mut e,
            "parallax_consensus_round",
            "The round consensus is in (0 on a node that is not a validator).",
            load(&s.round),
        )?;
        gauge(
            &mut e,
            "parallax_consensus_signing_floor",
            "While this validator's safety data is missing or behind the network (a wiped or \
             restored database): the highest round in which it signs nothing; 0 when trusted.",
            load(&s.signing_floor),
        )?;
        gauge(
            &mut e,
            "parallax_consensus_signing_paused",
            "1 while this validator refuses to sign in its current round because its safety \
             data may be behind what it signed.",
            load(&s.signing_paused),
        )?;
        gauge(
            &mut e,
            "parallax_consensus_committed_round",
            "Round of the last block consensus committed.",
            load(&s.committed_round),
        )?;
        s.metrics.encode_into(&mut e)?;
        let mut reasons = s.rejections();
        reasons.push(("undecodable", load(&ingress.malformed_gossip)));
        reasons.push(("forged_relay", load(&ingress.forged_relays)));
        reasons.push(("relay_repeat", load(&ingress.relay_repeats)));
        reasons.push(("bad_sync_response", load(&ingress.bad_sync_responses)));
        counters(
            &mut e,
            "parallax_rejected_messages",
            "Gossip and consensus messages this node rejected, by reason: consensus's \
             verdicts (stale_round, invalid_signature, ...), undecodable (not a valid wire \
             message or another chain), forged_relay (a relayed message whose signature does \
             not verify), relay_repeat (another copy of a message relayed less than 0.5 s \
             before), bad_sync_response (a block-sync answer that failed verification).",
            "reason",
            reasons,
        )?;
        counter(
            &mut e,
            "parallax_invalid_proposals",
            "Proposals whose payload this node refused.",
            load(&s.invalid_proposals),
        )?;
        counters(
            &mut e,
            "parallax_equivocations",
            "Equivocation evidence recorded (two conflicting messages one validator signed \
             for one round; verified, new to this node, stored), by kind.",
            "kind",
            parallax_consensus::EvidenceKind::ALL
                .iter()
                .map(|k| k.as_str())
                .zip(s.evidence.iter().map(load)),
        )?;
        counter(
            &mut e,
            "parallax_evidence_unstored",
            "Verified evidence not stored (its culprit already had the most kept, or storage \
             failed).",
            load(&s.evidence_unstored),
        )
    }
}

/// Transactions: the mempool and what gossip could not carry.
#[derive(Debug)]
pub struct TransactionsCollector {
    /// The mempool's and transaction gossip's figures.
    pub transactions: Arc<TxState>,
    /// What gossip ingress counted.
    pub ingress: Arc<IngressCounters>,
}

impl Collector for TransactionsCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let (s, ingress) = (&self.transactions, &self.ingress);
        gauge(
            &mut e,
            "parallax_mempool_transactions",
            "Transactions in the mempool.",
            load(&s.mempool_size),
        )?;
        counter(
            &mut e,
            "parallax_tx_gossip_dropped",
            "Transactions admitted from RPC but not gossiped because the gossip queue was \
             full (they stay in this node's pool and proposals).",
            load(&s.tx_gossip_dropped),
        )?;
        counter(
            &mut e,
            "parallax_tx_batches_shed",
            "Gossiped transaction batches ignored because admission was too far behind.",
            load(&s.tx_batches_shed),
        )?;
        counter(
            &mut e,
            "parallax_bridge_attestations_shed",
            "Withdrawal attestations dropped because the relayer's queue was full.",
            load(&ingress.attestations_shed),
        )
    }
}

/// A broadcast of the hashes the mempool admits; lagging receivers lose the oldest.
#[derive(Debug)]
pub struct PendingFeed(pub broadcast::Sender<B256>);

impl Default for PendingFeed {
    fn default() -> Self {
        Self(broadcast::channel(4096).0)
    }
}
