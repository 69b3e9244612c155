//! The relayer's policy as a state machine: it does no I/O and reads no clock.
//!
//! [`RelayMachine`] holds everything the relayer decides from — the scan cursor, the window of
//! blocks on their way to Ethereum with their quorums, the attestations held for blocks not
//! scanned yet, recent roots — and is driven by the task in `driver`. Each method takes what
//! happened (a block scanned, an attestation arrived, a block read into the window, an
//! Ethereum answer) and the current time as an argument (`now: Instant`; where a queued
//! withdrawal's release is compared, Ethereum's clock in unix seconds too), and returns what to
//! do: [`Action`]s (gossip, store a signature, read a root from the database) or, on the
//! Ethereum side ([`carry`]), the next [`carry::L1Step`]. Tests drive it in virtual time.
//!
//! What it decides here:
//! - a validator signs each scanned block's withdrawal root at once;
//! - an attestation counts only for a scanned block whose root is this node's, and in the
//!   window only when its signature recovers to a validator not counted yet; one for a block
//!   not scanned yet is held (at most [`MAX_EARLY_ATTESTATIONS`], [`MAX_EARLY_PER_VALIDATOR`]
//!   of one validator's, up to [`EARLY_HORIZON`] blocks ahead) until the block is;
//! - a block's root is quorum-signed when its signatures carry more than 2/3 of the power;
//! - the window takes blocks in order while it holds fewer than [`MAX_WINDOW_BLOCKS`] blocks
//!   and [`MAX_WINDOW_WITHDRAWALS`] withdrawals (an empty window takes any block);
//! - own attestations of blocks Ethereum has not attested are gossiped again at most every
//!   [`REGOSSIP_EVERY`]; a node that does not read Ethereum forgets a block `4 ×`
//!   [`RELAY_GRACE`] after its quorum (or after it entered the window, if it saw none);
//! - every block below the window's first is settled (the durable cursor).

pub(super) mod carry;
#[cfg(test)]
mod tests;

use super::{
    EARLY_HORIZON, FIRST_RETRY_DELAY, MAX_EARLY_ATTESTATIONS, MAX_EARLY_PER_VALIDATOR,
    MAX_RETRY_DELAY, MAX_ROOTS, MAX_SCAN_PER_TICK, MAX_WINDOW_BLOCKS, MAX_WINDOW_WITHDRAWALS,
    REGOSSIP_EVERY, RELAY_GRACE, WithdrawalStats,
};
use crate::{
    attest::{BridgeDomain, BridgeValidators, Quorum, sign_digest},
    relay::attestation::Attestation,
    withdrawal::{Withdrawal, WithdrawalTree},
};
use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

/// A validator's signature over a block's withdrawal root, as the database stores it:
/// (block, validator index, root, signature).
pub(super) type StoredSignature = (u64, u32, B256, [u8; 65]);

/// What the machine decides; the driver's to do.
#[derive(Debug, Clone)]
pub(super) enum Action {
    /// Gossip this node's attestation on the `bridge` topic.
    Gossip(Attestation),
    /// Store a verified signature (with the others gathered, in one transaction per tick).
    Store(StoredSignature),
    /// The attestation's block is scanned but its root is not held: read the block's
    /// withdrawals and answer with [`RelayMachine::on_root`].
    ReadRoot(Attestation),
}

/// The settings the machine decides with.
#[derive(Debug, Clone)]
pub(super) struct Policy {
    /// The EIP-712 domain roots are signed in.
    pub(super) domain: BridgeDomain,
    /// The validators' bridge addresses with their power.
    pub(super) validators: BridgeValidators,
    /// How many validators take turns as a block's designated relayer (`block % relayers`).
    pub(super) relayers: u64,
    /// This node's validator index and bridge key, when it is a validator.
    pub(super) signer: Option<(u32, PrivateKeySigner)>,
    /// Whether this node sends Ethereum transactions.
    pub(super) relay: bool,
    /// Whether this node reads Ethereum (else it only signs, gossips and stores).
    pub(super) reads_l1: bool,
}

/// One block's withdrawals on their way to Ethereum.
#[derive(Debug)]
struct Pending {
    withdrawals: Vec<Withdrawal>,
    tree: WithdrawalTree,
    quorum: Quorum,
    own: Option<Attestation>,
    entered_at: Instant,
    reached_at: Option<Instant>,
    attested: bool,
    /// Withdrawals Ethereum settled (paid, unpaid or cancelled).
    settled: BTreeSet<u64>,
    /// After an Ethereum call for this block failed: when to try again, and how many
    /// attempts failed in a row (the delay doubles up to [`MAX_RETRY_DELAY`]); or when to
    /// look again (observing, or a queued withdrawal's release).
    retry: Option<(Instant, u32)>,
}

impl Pending {
    /// An Ethereum call for the block failed at `now`: try again after a doubled delay.
    fn failed(&mut self, now: Instant) {
        let failures = self.retry.map_or(0, |(_, n)| n) + 1;
        self.retry = Some((now + retry_delay(failures), failures));
    }

    fn is_settled(&self) -> bool {
        self.settled.len() >= self.withdrawals.len()
    }
}

/// The wait after `failures` failed attempts in a row: 1 s, 2 s, 4 s, … up to a minute.
fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY_DELAY
        .saturating_mul(1 << failures.min(7))
        .min(MAX_RETRY_DELAY)
}

/// The relayer's state and decisions (see the module docs).
#[derive(Debug)]
pub(super) struct RelayMachine {
    policy: Policy,
    stats: Arc<WithdrawalStats>,
    /// The blocks being carried to Ethereum.
    window: BTreeMap<u64, Pending>,
    window_withdrawals: usize,
    /// The next scanned block the window has not looked at.
    window_next: u64,
    /// Every block below this is settled (durable).
    done_below: u64,
    /// The next committed block to scan and sign.
    scan_next: u64,
    /// Recent withdrawal roots by block (blocks with withdrawals only).
    roots: BTreeMap<u64, B256>,
    /// Attestations of blocks not scanned yet, held until they are.
    early: BTreeMap<u64, Vec<Attestation>>,
    early_len: usize,
    /// How many of those each validator signed.
    early_by: HashMap<u32, usize>,
    /// When this node last gossiped its attestations again.
    last_gossip: Option<Instant>,
    /// The pass at a block on Ethereum in progress ([`carry`]).
    pass: Option<carry::Pass>,
}

impl RelayMachine {
    /// A machine resuming with every block below `done_below` settled and every block below
    /// `scan_next` scanned.
    pub(super) fn new(
        policy: Policy,
        stats: Arc<WithdrawalStats>,
        done_below: u64,
        scan_next: u64,
    ) -> Self {
        Self {
            policy,
            stats,
            window: BTreeMap::new(),
            window_withdrawals: 0,
            window_next: done_below,
            done_below,
            scan_next: scan_next.max(done_below),
            roots: BTreeMap::new(),
            early: BTreeMap::new(),
            early_len: 0,
            early_by: HashMap::new(),
            last_gossip: None,
            pass: None,
        }
    }

    /// The next committed block to scan.
    pub(super) fn scan_next(&self) -> u64 {
        self.scan_next
    }

    /// The next scanned block the window has not looked at.
    pub(super) fn window_next(&self) -> u64 {
        self.window_next
    }

    /// The last block to scan this tick, with the chain's head at `head` (at most
    /// [`MAX_SCAN_PER_TICK`] blocks a tick).
    pub(super) fn scan_until(&self, head: u64) -> u64 {
        head.min(self.scan_next + MAX_SCAN_PER_TICK - 1)
    }

    /// Block `number` (the next to scan) was committed with `withdrawals`: sign its root
    /// (as a validator), and count the attestations held for it.
    pub(super) fn on_scanned(
        &mut self,
        number: u64,
        withdrawals: &[Withdrawal],
        now: Instant,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if number != self.scan_next {
            debug!(
                block = number,
                expected = self.scan_next,
                "a block scanned out of order"
            );
            return actions;
        }
        self.scan_next += 1;
        let Some(tree) = WithdrawalTree::new(withdrawals) else {
            return actions;
        };
        let root = tree.root();
        self.remember_root(number, root);
        self.stats
            .seen
            .fetch_add(withdrawals.len() as u64, Ordering::Relaxed);
        self.stats.set(withdrawals.iter().map(|w| w.id), "signing");
        if let Some(own) = self.sign(number, root) {
            actions.push(Action::Gossip(own.clone()));
            actions.push(Action::Store((number, own.validator, root, own.signature)));
        }
        debug!(block = number, withdrawals = withdrawals.len(), %root, "withdrawal root");
        if let Some(early) = self.early.remove(&number) {
            self.early_len -= early.len();
            for a in early {
                if let Some(held) = self.early_by.get_mut(&a.validator) {
                    *held -= 1;
                    if *held == 0 {
                        self.early_by.remove(&a.validator);
                    }
                }
                actions.extend(self.on_attestation(a, now));
            }
        }
        actions
    }

    fn sign(&self, number: u64, root: B256) -> Option<Attestation> {
        let (index, key) = self.policy.signer.as_ref()?;
        let digest = self.policy.domain.withdrawal_root_digest(number, root);
        match sign_digest(key, digest) {
            Ok(signature) => Some(Attestation {
                l2_block: number,
                root,
                validator: *index,
                signature,
            }),
            Err(e) => {
                warn!(block = number, error = %e, "signing a withdrawal root failed");
                None
            }
        }
    }

    fn remember_root(&mut self, number: u64, root: B256) {
        self.roots.insert(number, root);
        while self.roots.len() > MAX_ROOTS {
            self.roots.pop_first();
        }
    }

    /// A validator's attestation arrived (the ingress checked its signature against the
    /// validator's bridge key).
    pub(super) fn on_attestation(&mut self, a: Attestation, now: Instant) -> Vec<Action> {
        if a.l2_block >= self.scan_next {
            let held = self.early_by.get(&a.validator).copied().unwrap_or(0);
            if self.early_len < MAX_EARLY_ATTESTATIONS
                && held < MAX_EARLY_PER_VALIDATOR
                && a.l2_block - self.scan_next < EARLY_HORIZON
            {
                *self.early_by.entry(a.validator).or_default() += 1;
                self.early.entry(a.l2_block).or_default().push(a);
                self.early_len += 1;
            }
            return Vec::new();
        }
        let root = match self.window.get(&a.l2_block) {
            Some(p) => p.tree.root(),
            None => match self.roots.get(&a.l2_block) {
                Some(root) => *root,
                None => return vec![Action::ReadRoot(a)],
            },
        };
        self.count(a, Some(root), now)
    }

    /// The root of attestation `a`'s block, read from the database (`None`: the block has
    /// no withdrawals), after [`Action::ReadRoot`].
    pub(super) fn on_root(
        &mut self,
        a: Attestation,
        root: Option<B256>,
        now: Instant,
    ) -> Vec<Action> {
        if let Some(root) = root {
            self.remember_root(a.l2_block, root);
        }
        self.count(a, root, now)
    }

    /// Counts an attestation of a scanned block whose root is `root`.
    fn count(&mut self, a: Attestation, root: Option<B256>, now: Instant) -> Vec<Action> {
        let Some(root) = root else {
            debug!(
                block = a.l2_block,
                validator = a.validator,
                "an attestation for a block without withdrawals"
            );
            return Vec::new();
        };
        if a.root != root {
            self.stats
                .conflicting_attestations
                .fetch_add(1, Ordering::Relaxed);
            warn!(block = a.l2_block, validator = a.validator, signed = %a.root, ours = %root, "a validator signed another withdrawal root");
            return Vec::new();
        }
        let new = match self.window.get_mut(&a.l2_block) {
            Some(p) => match p.quorum.add(&self.policy.validators, &a.signature) {
                Ok(new) => new,
                Err(e) => {
                    debug!(block = a.l2_block, error = %e, "attestation not counted");
                    false
                }
            },
            // Outside the window: the ingress verified it; store it for when the block comes.
            None => true,
        };
        if !new {
            return Vec::new();
        }
        let number = a.l2_block;
        let stored = Action::Store((a.l2_block, a.validator, a.root, a.signature));
        self.check_quorum(number, now);
        vec![stored]
    }

    fn check_quorum(&mut self, number: u64, now: Instant) {
        let Some(p) = self.window.get_mut(&number) else {
            return;
        };
        if p.reached_at.is_none() && p.quorum.is_reached(&self.policy.validators) {
            p.reached_at = Some(now);
            self.stats
                .signed
                .fetch_add(p.withdrawals.len() as u64, Ordering::Relaxed);
            if !p.attested {
                self.stats.set(p.withdrawals.iter().map(|w| w.id), "signed");
            }
            info!(
                block = number,
                withdrawals = p.withdrawals.len(),
                signers = p.quorum.signers(),
                "withdrawal root signed by a quorum"
            );
        }
    }

    /// The next scanned block the window takes, when it has room.
    pub(super) fn window_wants(&self) -> Option<u64> {
        (self.window_next < self.scan_next
            && self.window.len() < MAX_WINDOW_BLOCKS
            && (self.window.is_empty() || self.window_withdrawals < MAX_WINDOW_WITHDRAWALS))
            .then_some(self.window_next)
    }

    /// Block `number` (the one [`RelayMachine::window_wants`] named) enters the window with
    /// its withdrawals and the signatures stored for it (validator, root, signature); each
    /// counts only if it is over this root and recovers to a validator.
    pub(super) fn on_window_block(
        &mut self,
        number: u64,
        withdrawals: Vec<Withdrawal>,
        stored: &[(u32, B256, [u8; 65])],
        now: Instant,
    ) {
        if number != self.window_next {
            return;
        }
        self.window_next += 1;
        let Some(tree) = WithdrawalTree::new(&withdrawals) else {
            return;
        };
        let root = tree.root();
        let digest = self.policy.domain.withdrawal_root_digest(number, root);
        let mut quorum = Quorum::new(digest);
        for (_, signed, signature) in stored {
            if *signed == root {
                let _ = quorum.add(&self.policy.validators, signature);
            }
        }
        let own = self.sign(number, root);
        if let Some(own) = &own {
            let _ = quorum.add(&self.policy.validators, &own.signature);
        }
        self.window_withdrawals += withdrawals.len();
        self.window.insert(
            number,
            Pending {
                withdrawals,
                tree,
                quorum,
                own,
                entered_at: now,
                reached_at: None,
                attested: false,
                settled: BTreeSet::new(),
                retry: None,
            },
        );
        self.check_quorum(number, now);
    }

    /// Gossips this node's attestations again for window blocks Ethereum has not attested, at
    /// most every [`REGOSSIP_EVERY`]; a node that does not read Ethereum forgets blocks then.
    pub(super) fn regossip(&mut self, now: Instant) -> Vec<Action> {
        if self
            .last_gossip
            .is_some_and(|t| now.saturating_duration_since(t) < REGOSSIP_EVERY)
        {
            return Vec::new();
        }
        self.last_gossip = Some(now);
        let actions = self
            .window
            .values()
            .filter(|p| !p.attested)
            .filter_map(|p| p.own.clone().map(Action::Gossip))
            .collect();
        if !self.policy.reads_l1 {
            // A node that cannot read Ethereum stops tracking a block a while after its quorum
            // (the relayers settle it), or after it entered the window if it never saw one (the
            // signatures went by before this node started, and are in its database or not).
            let mut freed = 0;
            self.window.retain(|_, p| {
                let since = p.reached_at.unwrap_or(p.entered_at);
                let keep = now.saturating_duration_since(since) < RELAY_GRACE * 4;
                if !keep {
                    freed += p.withdrawals.len();
                }
                keep
            });
            self.window_withdrawals -= freed;
        }
        actions
    }

    /// Publishes what is tracked, for the status RPC and metrics.
    pub(super) fn publish_counts(&self) {
        let unsigned: usize = self
            .window
            .values()
            .filter(|p| p.reached_at.is_none())
            .map(|p| p.withdrawals.len())
            .sum();
        let outstanding: usize = self
            .window
            .values()
            .map(|p| p.withdrawals.len() - p.settled.len())
            .sum();
        let s = &self.stats;
        s.unsigned.store(unsigned as u64, Ordering::Relaxed);
        s.outstanding.store(outstanding as u64, Ordering::Relaxed);
        s.scanned_through
            .store(self.scan_next.saturating_sub(1), Ordering::Relaxed);
        s.window_through
            .store(self.window_next.saturating_sub(1), Ordering::Relaxed);
        s.watches_l1.store(self.policy.reads_l1, Ordering::Relaxed);
    }

    /// How far every block's withdrawals are settled, when that moved since last asked: the
    /// first block not settled (the driver records the one before it, so a restart resumes
    /// there).
    pub(super) fn advance_done(&mut self) -> Option<u64> {
        let done = self
            .window
            .keys()
            .next()
            .copied()
            .unwrap_or(self.window_next);
        (done > self.done_below).then(|| {
            self.done_below = done;
            done
        })
    }
}
