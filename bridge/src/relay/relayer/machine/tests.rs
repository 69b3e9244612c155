//! The relayer's decisions in virtual time: a machine driven by hand, against an Ethereum in
//! memory that checks what the contract checks.

use super::{
    Action, Policy, RelayMachine,
    carry::{Finalized, L1Step},
};
use crate::{
    attest::{BridgeDomain, BridgeValidators, recover_signer, sign_digest},
    l1::{L1Error, WithdrawalState},
    relay::{
        attestation::Attestation,
        relayer::{MAX_WINDOW_BLOCKS, RELAY_GRACE, WithdrawalStats},
    },
    withdrawal::{Withdrawal, WithdrawalTree},
};
use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

const SECOND: Duration = Duration::from_secs(1);

fn keys() -> Vec<PrivateKeySigner> {
    (1..=4u8)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect()
}

fn domain() -> BridgeDomain {
    BridgeDomain {
        l1_chain_id: 31337,
        l1_bridge: Address::repeat_byte(9),
        l2_chain_id: 4242,
    }
}

/// Four validators of equal power: three of them are a quorum, two are not.
fn validators() -> BridgeValidators {
    BridgeValidators::new(keys().iter().map(|k| (k.address(), 1)))
}

fn withdrawals(first: u64, n: u64) -> Vec<Withdrawal> {
    (first..first + n)
        .map(|id| Withdrawal {
            id,
            l1_token: Address::ZERO,
            l1_recipient: Address::repeat_byte(7),
            amount: U256::from(id + 1),
        })
        .collect()
}

fn root_of(ws: &[Withdrawal]) -> B256 {
    WithdrawalTree::new(ws).unwrap().root()
}

fn attestation(key: &PrivateKeySigner, validator: u32, block: u64, root: B256) -> Attestation {
    Attestation {
        l2_block: block,
        root,
        validator,
        signature: sign_digest(key, domain().withdrawal_root_digest(block, root)).unwrap(),
    }
}

fn stored(actions: &[Action]) -> Vec<(u64, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Store((block, validator, _, _)) => Some((*block, *validator)),
            _ => None,
        })
        .collect()
}

fn gossiped(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Gossip(_)))
        .count()
}

/// One node's machine with the database it would store into.
struct Node {
    sm: RelayMachine,
    stats: Arc<WithdrawalStats>,
    /// The signatures stored, by block, as the database holds them.
    db: BTreeMap<u64, Vec<(u32, B256, [u8; 65])>>,
}

impl Node {
    /// Validator `me` (or a non-validator), relaying or not, reading Ethereum or not; no
    /// block scanned yet (the first is block 1).
    fn new(me: Option<u32>, relay: bool, reads_l1: bool) -> Self {
        Self::resuming(me, relay, reads_l1, 1)
    }

    fn resuming(me: Option<u32>, relay: bool, reads_l1: bool, scan_next: u64) -> Self {
        let stats = Arc::new(WithdrawalStats::default());
        let policy = Policy {
            domain: domain(),
            validators: validators(),
            relayers: 4,
            signer: me.map(|i| (i, keys()[i as usize].clone())),
            relay,
            reads_l1,
        };
        Self {
            sm: RelayMachine::new(policy, stats.clone(), 1, scan_next),
            stats,
            db: BTreeMap::new(),
        }
    }

    /// Stores what the machine asked to, as the driver does.
    fn perform(&mut self, actions: &[Action]) {
        for a in actions {
            if let Action::Store((block, validator, root, signature)) = a {
                self.db
                    .entry(*block)
                    .or_default()
                    .push((*validator, *root, *signature));
            }
        }
    }

    /// The next block commits with `ws`: scanned, stored, taken into the window.
    fn commit(&mut self, ws: &[Withdrawal], now: Instant) -> Vec<Action> {
        let number = self.sm.scan_next();
        let actions = self.sm.on_scanned(number, ws, now);
        self.perform(&actions);
        while let Some(block) = self.sm.window_wants() {
            let ws = if block == number {
                ws.to_vec()
            } else {
                Vec::new()
            };
            let db = self.db.get(&block).cloned().unwrap_or_default();
            self.sm.on_window_block(block, ws, &db, now);
        }
        actions
    }

    fn attest(&mut self, a: Attestation, now: Instant) -> Vec<Action> {
        let actions = self.sm.on_attestation(a, now);
        self.perform(&actions);
        actions
    }

    /// Validators `from` sign block `block`'s root `root`.
    fn signed_by(&mut self, from: &[u32], block: u64, root: B256, now: Instant) {
        let keys = keys();
        for &v in from {
            self.attest(attestation(&keys[v as usize], v, block, root), now);
        }
    }
}

/// Ethereum's bridge in memory: it accepts a root only with more than 2/3 of the power in
/// ascending signer order, and pays what is finalized.
#[derive(Default)]
struct Ethereum {
    roots: BTreeMap<u64, B256>,
    states: BTreeMap<u64, WithdrawalState>,
    /// Every call fails while set.
    down: bool,
    /// `finalizeWithdrawals` fails while set.
    refuse_finalize: bool,
    /// Roots submitted: (block, by whom).
    submitted: Vec<u64>,
    /// Withdrawals finalized, per transaction.
    finalized: Vec<Vec<u64>>,
}

/// What a call to an Ethereum that is down answers.
fn down<T>() -> Result<T, L1Error> {
    Err(L1Error::Rpc("connection refused".into()))
}

impl Ethereum {
    /// One tick of `node`'s relaying at `now` (Ethereum's clock at `unix`): the calls made.
    fn tick(&mut self, node: &mut Node, now: Instant, unix: u64) -> Vec<&'static str> {
        let mut calls = Vec::new();
        for visit in node.sm.due(now) {
            let mut step = node.sm.begin(visit, now);
            loop {
                step = match step {
                    L1Step::Done => break,
                    L1Step::ReadRoot { block } => {
                        calls.push("read root");
                        let r = if self.down {
                            down()
                        } else {
                            Ok(self.roots.get(&block).copied().unwrap_or_default())
                        };
                        node.sm.on_root_read(r, now)
                    }
                    L1Step::SubmitRoot {
                        block,
                        root,
                        signatures,
                    } => {
                        calls.push("submit root");
                        let r = if self.down {
                            down()
                        } else {
                            self.submit(block, root, &signatures)
                        };
                        node.sm.on_root_submitted(r, now)
                    }
                    L1Step::ReadState { id } => {
                        calls.push("read state");
                        let r = if self.down {
                            down()
                        } else {
                            Ok(self
                                .states
                                .get(&id)
                                .copied()
                                .unwrap_or(WithdrawalState::Unfinalized))
                        };
                        node.sm.on_state_read(r, unix, now)
                    }
                    L1Step::Finalize { block, batch } => {
                        calls.push("finalize");
                        let r = if self.down || self.refuse_finalize {
                            down()
                        } else {
                            assert!(self.roots.contains_key(&block), "finalized before attested");
                            Ok(self.finalize(batch.iter().map(|(w, _, _)| w.id), unix))
                        };
                        node.sm.on_finalized(r, now)
                    }
                };
            }
        }
        node.sm.sweep_settled();
        calls
    }

    fn submit(
        &mut self,
        block: u64,
        root: B256,
        signatures: &[alloy_primitives::Bytes],
    ) -> Result<B256, L1Error> {
        let digest = domain().withdrawal_root_digest(block, root);
        let signers: Vec<Address> = signatures
            .iter()
            .map(|s| recover_signer(digest, s).unwrap())
            .collect();
        assert!(signers.is_sorted(), "signatures in ascending signer order");
        let power: u128 = signers
            .iter()
            .map(|s| u128::from(validators().power_of(s)))
            .sum();
        if !validators().is_quorum(power) {
            return Err(L1Error::Reverted("not enough signatures".into()));
        }
        self.roots.insert(block, root);
        self.submitted.push(block);
        Ok(B256::repeat_byte(0xaa))
    }

    fn finalize(&mut self, ids: impl Iterator<Item = u64>, unix: u64) -> Finalized {
        let mut outcomes = BTreeMap::new();
        let mut batch = Vec::new();
        for id in ids {
            let state = self
                .states
                .get(&id)
                .copied()
                .unwrap_or(WithdrawalState::Unfinalized);
            let now_paid = match state {
                WithdrawalState::Unfinalized => true,
                WithdrawalState::Queued { release_at } => unix >= release_at,
                _ => false,
            };
            if now_paid {
                self.states.insert(id, WithdrawalState::Paid);
                outcomes.insert(id, WithdrawalState::Paid);
                batch.push(id);
            }
        }
        self.finalized.push(batch);
        Finalized {
            tx: B256::repeat_byte(0xbb),
            outcomes,
        }
    }
}

#[test]
fn a_root_is_submitted_only_once_more_than_two_thirds_of_the_power_signed_it() {
    let t0 = Instant::now();
    // Validator 1 is block 1's designated relayer.
    let mut node = Node::new(Some(1), true, true);
    let mut eth = Ethereum::default();
    let ws = withdrawals(0, 3);
    let root = root_of(&ws);
    let actions = node.commit(&ws, t0);
    assert_eq!(stored(&actions), vec![(1, 1)], "its own signature, stored");
    assert_eq!(gossiped(&actions), 1, "and gossiped");
    assert_eq!(
        eth.tick(&mut node, t0, 0),
        vec!["read root"],
        "1 of 4: only reads"
    );

    let keys = keys();
    let outsider = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x66)).unwrap();
    let forged = node.attest(attestation(&outsider, 2, 1, root), t0);
    assert!(
        stored(&forged).is_empty(),
        "a non-validator's signature counts for nothing"
    );
    let other_root = node.attest(attestation(&keys[2], 2, 1, B256::repeat_byte(1)), t0);
    assert!(stored(&other_root).is_empty(), "nor one over another root");
    assert_eq!(
        node.stats.conflicting_attestations.load(Ordering::Relaxed),
        1
    );
    assert_eq!(
        stored(&node.attest(attestation(&keys[2], 2, 1, root), t0)),
        vec![(1, 2)]
    );
    assert!(
        stored(&node.attest(attestation(&keys[2], 2, 1, root), t0)).is_empty(),
        "a validator counts once"
    );
    assert_eq!(
        eth.tick(&mut node, t0 + SECOND, 0),
        vec!["read root"],
        "2 of 4 is no quorum"
    );
    assert!(eth.submitted.is_empty());

    node.signed_by(&[3], 1, root, t0 + SECOND);
    assert_eq!(node.stats.signed.load(Ordering::Relaxed), 3);
    assert_eq!(
        eth.tick(&mut node, t0 + 2 * SECOND, 0),
        vec![
            "read root",
            "submit root",
            "read state",
            "read state",
            "read state",
            "finalize"
        ]
    );
    assert_eq!(
        eth.submitted,
        vec![1],
        "the contract took the quorum's signatures"
    );
    assert_eq!(eth.finalized, vec![vec![0, 1, 2]]);
    assert_eq!(node.stats.state(2), Some("finalized"));
    assert_eq!(node.sm.advance_done(), Some(2), "block 1 settled");
    assert!(eth.tick(&mut node, t0 + 3 * SECOND, 0).is_empty());
}

#[test]
fn a_failing_ethereum_is_retried_with_backoff_and_never_given_up() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(1), true, true);
    let mut eth = Ethereum {
        down: true,
        ..Ethereum::default()
    };
    let ws = withdrawals(0, 2);
    node.commit(&ws, t0);
    node.signed_by(&[2, 3], 1, root_of(&ws), t0);
    assert_eq!(eth.tick(&mut node, t0, 0), vec!["read root"]);
    let mut at = t0;
    let delays = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60];
    for delay in delays {
        at += delay * SECOND;
        assert!(
            eth.tick(&mut node, at - Duration::from_millis(1), 0)
                .is_empty(),
            "not before {delay} s"
        );
        assert_eq!(
            eth.tick(&mut node, at, 0),
            vec!["read root"],
            "again after {delay} s"
        );
    }
    assert_eq!(
        node.stats.l1_errors.load(Ordering::Relaxed),
        1 + delays.len() as u64
    );
    // Ethereum is back: the next attempt, a minute later, carries the block.
    eth.down = false;
    at += 60 * SECOND;
    assert_eq!(
        eth.tick(&mut node, at, 0),
        vec![
            "read root",
            "submit root",
            "read state",
            "read state",
            "finalize"
        ]
    );
    assert_eq!(node.sm.advance_done(), Some(2));

    // A failed finalization, the root already in, is retried the same way, from 1 s.
    for _ in 2..5 {
        node.commit(&[], at);
    }
    let ws = withdrawals(2, 1);
    node.commit(&ws, at);
    node.signed_by(&[2, 3], 5, root_of(&ws), at);
    eth.roots.insert(5, root_of(&ws));
    eth.refuse_finalize = true;
    assert_eq!(
        eth.tick(&mut node, at, 0),
        vec!["read root", "read state", "finalize"]
    );
    eth.refuse_finalize = false;
    assert!(
        eth.tick(&mut node, at + Duration::from_millis(999), 0)
            .is_empty()
    );
    assert_eq!(
        eth.tick(&mut node, at + SECOND, 0),
        vec!["read state", "finalize"]
    );
    assert_eq!(node.sm.advance_done(), Some(6));
}

#[test]
fn the_designated_relayer_goes_first_and_the_others_take_over_after_the_grace_period() {
    let t0 = Instant::now();
    let ws = withdrawals(0, 2);
    let root = root_of(&ws);
    // Validator 1 is block 1's designated relayer; validator 0 is not.
    let mut designated = Node::new(Some(1), true, true);
    let mut other = Node::new(Some(0), true, true);
    for node in [&mut designated, &mut other] {
        node.commit(&ws, t0);
        node.signed_by(&[0, 1, 2, 3], 1, root, t0);
    }

    // The designated relayer is down; the other only reads Ethereum until the grace ends.
    let mut eth = Ethereum::default();
    assert_eq!(eth.tick(&mut other, t0, 0), vec!["read root"]);
    assert_eq!(eth.tick(&mut other, t0 + SECOND, 0), vec!["read root"]);
    assert_eq!(
        eth.tick(&mut other, t0 + RELAY_GRACE - SECOND, 0),
        vec!["read root"]
    );
    assert!(eth.submitted.is_empty());
    assert_eq!(
        eth.tick(&mut other, t0 + RELAY_GRACE, 0),
        vec![
            "read root",
            "submit root",
            "read state",
            "read state",
            "finalize"
        ],
        "after the grace period it relays the block itself"
    );

    // The designated relayer is up: it relays at once, and the other, after the grace,
    // finds everything done and sends nothing.
    let mut eth = Ethereum::default();
    let mut other = Node::new(Some(0), true, true);
    other.commit(&ws, t0);
    other.signed_by(&[1, 2, 3], 1, root, t0);
    assert_eq!(
        eth.tick(&mut designated, t0, 0),
        vec![
            "read root",
            "submit root",
            "read state",
            "read state",
            "finalize"
        ]
    );
    assert_eq!(
        eth.tick(&mut other, t0 + RELAY_GRACE, 0),
        vec!["read root", "read state", "read state"]
    );
    assert_eq!((eth.submitted.len(), eth.finalized.len()), (1, 1));
    assert_eq!(other.stats.finalized.load(Ordering::Relaxed), 2);
    assert_eq!(other.sm.advance_done(), Some(2));

    // A validator that does not relay only ever reads.
    let mut eth = Ethereum::default();
    let mut reader = Node::new(Some(1), false, true);
    reader.commit(&ws, t0);
    reader.signed_by(&[2, 3], 1, root, t0);
    assert_eq!(
        eth.tick(&mut reader, t0 + 10 * RELAY_GRACE, 0),
        vec!["read root"]
    );
}

#[test]
fn one_that_is_not_the_relayer_yet_reads_only_up_to_the_first_unfinalized_withdrawal() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(0), true, true);
    let ws = withdrawals(0, 3);
    node.commit(&ws, t0);
    node.signed_by(&[1, 2], 1, root_of(&ws), t0);
    let mut eth = Ethereum::default();
    eth.roots.insert(1, root_of(&ws));
    eth.states.insert(0, WithdrawalState::Paid);
    assert_eq!(
        eth.tick(&mut node, t0, 0),
        vec!["read root", "read state", "read state"]
    );
    assert_eq!(node.stats.state(0), Some("finalized"));
    assert_eq!(node.stats.state(1), Some("attested"));
    // It looks again a second later, without reading what it knows settled.
    assert!(
        eth.tick(&mut node, t0 + Duration::from_millis(999), 0)
            .is_empty()
    );
    assert_eq!(eth.tick(&mut node, t0 + SECOND, 0), vec!["read state"]);
}

#[test]
fn a_queued_withdrawal_is_finalized_again_once_released() {
    let t0 = Instant::now();
    let unix = 1_700_000_000;
    let mut node = Node::new(Some(1), true, true);
    let ws = withdrawals(0, 3);
    node.commit(&ws, t0);
    node.signed_by(&[2, 3], 1, root_of(&ws), t0);
    let mut eth = Ethereum::default();
    eth.roots.insert(1, root_of(&ws));
    eth.states.insert(
        0,
        WithdrawalState::Queued {
            release_at: unix + 100,
        },
    );
    assert_eq!(
        eth.tick(&mut node, t0, unix),
        vec![
            "read root",
            "read state",
            "read state",
            "read state",
            "finalize"
        ]
    );
    assert_eq!(
        eth.finalized,
        vec![vec![1, 2]],
        "the others do not wait for it"
    );
    assert_eq!(node.stats.state(0), Some("queued"));
    assert!(eth.tick(&mut node, t0 + 99 * SECOND, unix + 99).is_empty());
    assert_eq!(
        eth.tick(&mut node, t0 + 100 * SECOND, unix + 100),
        vec!["read state", "finalize"]
    );
    assert_eq!(eth.finalized[1], vec![0]);
    assert_eq!(node.sm.advance_done(), Some(2));
}

#[test]
fn gossiping_again_is_rate_limited_and_stops_once_ethereum_has_the_root() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(0), true, true);
    let ws = withdrawals(0, 1);
    assert_eq!(gossiped(&node.commit(&ws, t0)), 1);
    assert_eq!(gossiped(&node.sm.regossip(t0)), 1);
    assert_eq!(gossiped(&node.sm.regossip(t0 + 74 * SECOND)), 0);
    assert_eq!(gossiped(&node.sm.regossip(t0 + 75 * SECOND)), 1);
    assert_eq!(gossiped(&node.sm.regossip(t0 + 100 * SECOND)), 0);
    let mut eth = Ethereum::default();
    eth.roots.insert(1, root_of(&ws));
    // Queued with a release too far ahead to count to: it is looked at again later.
    eth.states.insert(
        0,
        WithdrawalState::Queued {
            release_at: u64::MAX,
        },
    );
    assert_eq!(
        eth.tick(&mut node, t0 + 100 * SECOND, 0),
        vec!["read root", "read state"]
    );
    assert_eq!(
        gossiped(&node.sm.regossip(t0 + 150 * SECOND)),
        0,
        "Ethereum attested the root"
    );
}

#[test]
fn a_node_without_ethereum_forgets_a_block_a_while_after_its_quorum() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(0), false, false);
    let ws = withdrawals(0, 1);
    node.commit(&ws, t0);
    node.signed_by(&[1, 2], 1, root_of(&ws), t0 + 5 * SECOND);
    node.sm.regossip(t0 + 64 * SECOND);
    assert_eq!(
        node.sm.advance_done(),
        None,
        "kept within 4 × the grace period"
    );
    node.sm.regossip(t0 + 139 * SECOND);
    assert_eq!(node.sm.advance_done(), Some(2), "forgotten after it");
}

#[test]
fn attestations_for_blocks_not_scanned_yet_count_once_they_are() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(0), true, true);
    let ws = withdrawals(0, 1);
    let root = root_of(&ws);
    let keys = keys();
    assert!(
        node.attest(attestation(&keys[1], 1, 1, root), t0)
            .is_empty()
    );
    assert!(
        node.attest(attestation(&keys[2], 2, 1, root), t0)
            .is_empty()
    );
    let actions = node.commit(&ws, t0);
    assert_eq!(stored(&actions), vec![(1, 0), (1, 1), (1, 2)]);
    assert_eq!(
        node.stats.signed.load(Ordering::Relaxed),
        1,
        "a quorum at once"
    );
}

/// One validator floods attestations for blocks this node has not reached (each correctly
/// signed by its own bridge key): far ahead, and just ahead. The honest validators'
/// attestations of the next block are still held, so it reaches its quorum the moment it
/// commits instead of waiting for their next re-gossip.
#[test]
fn one_validators_flood_of_early_attestations_does_not_crowd_out_the_others() {
    let t0 = Instant::now();
    let mut node = Node::new(Some(0), true, true);
    let ws = withdrawals(0, 1);
    let root = root_of(&ws);
    let keys = keys();
    for block in (1_000_000..1_004_000).chain(2..2_000) {
        node.attest(attestation(&keys[3], 3, block, B256::repeat_byte(7)), t0);
    }
    node.signed_by(&[1, 2], 1, root, t0);
    let actions = node.commit(&ws, t0);
    assert_eq!(stored(&actions), vec![(1, 0), (1, 1), (1, 2)]);
    assert_eq!(
        node.stats.signed.load(Ordering::Relaxed),
        1,
        "a quorum at once"
    );
}

#[test]
fn an_attestation_for_an_old_block_is_checked_against_its_root_from_the_database() {
    let t0 = Instant::now();
    // Resumed with blocks 1..10 scanned before the restart.
    let mut node = Node::resuming(Some(0), true, true, 10);
    let keys = keys();
    let root = root_of(&withdrawals(0, 1));
    let a = attestation(&keys[1], 1, 5, root);
    let actions = node.sm.on_attestation(a.clone(), t0);
    assert!(matches!(actions.as_slice(), [Action::ReadRoot(a)] if a.l2_block == 5));
    assert_eq!(
        stored(&node.sm.on_root(a.clone(), Some(root), t0)),
        vec![(5, 1)]
    );
    assert!(
        stored(&node.sm.on_root(a, None, t0)).is_empty(),
        "a block without withdrawals has no root to sign"
    );
    let again = attestation(&keys[2], 2, 5, root);
    assert_eq!(
        stored(&node.sm.on_attestation(again, t0)),
        vec![(5, 2)],
        "its root is remembered"
    );
}

#[test]
fn the_window_takes_blocks_only_while_it_has_room() {
    let t0 = Instant::now();
    let mut node = Node::new(None, false, true);
    for i in 0..=MAX_WINDOW_BLOCKS as u64 {
        node.sm.on_scanned(i + 1, &withdrawals(i, 1), t0);
    }
    let mut taken = 0;
    while let Some(block) = node.sm.window_wants() {
        node.sm
            .on_window_block(block, withdrawals(block - 1, 1), &[], t0);
        taken += 1;
    }
    assert_eq!(taken, MAX_WINDOW_BLOCKS, "the last block waits for room");
    assert_eq!(
        node.sm.scan_next(),
        MAX_WINDOW_BLOCKS as u64 + 2,
        "signing goes on"
    );
}
