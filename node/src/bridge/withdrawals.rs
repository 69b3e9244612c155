//! Withdrawals from Parallax to Ethereum: each committed block's `WithdrawalInitiated` events
//! form a Merkle tree ([`block_withdrawals`]); validators sign its root with their bridge keys
//! and gossip the signatures ([`Attestation`]); the [`Relayer`] collects them until more than
//! 2/3 of the power signed, submits the root to the Ethereum bridge and finalizes every
//! withdrawal of the block, so funds arrive with no step by the user. Anyone can also finalize
//! by hand with the proof [`withdrawal_proof`] gives (RPC `parallax_getWithdrawalProof`).

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Address, B256, BloomInput, U256};
use alloy_sol_types::SolEvent;
use parallax_bridge::{
    attest::{BridgeDomain, BridgeValidators, Quorum, recover_signer, sign_digest},
    contracts::{IParallaxBridge, IParallaxBridgeL2},
    l1::L1Client,
    withdrawal::{Withdrawal, WithdrawalTree},
};
use parallax_genesis::L2_BRIDGE_ADDRESS;
use parallax_storage::{Database, Reader, StorageError};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Storage slot of `ParallaxBridgeL2.nextDepositNonce`.
pub const NEXT_DEPOSIT_NONCE_SLOT: B256 = B256::ZERO;
/// Storage slot of `ParallaxBridgeL2.nextWithdrawalId`.
pub const NEXT_WITHDRAWAL_ID_SLOT: B256 = B256::with_last_byte(1);

/// Most blocks with withdrawals the relayer tracks at once.
const MAX_PENDING_BLOCKS: usize = 4_096;
/// Most attestations held for blocks this node has not committed yet.
const MAX_EARLY_ATTESTATIONS: usize = 4_096;
/// Most committed blocks scanned per tick.
const MAX_SCAN_PER_TICK: u64 = 2_048;
/// How often a validator gossips its attestations again while their block is not finalized
/// (so validators that restarted, or joined late, still collect a quorum). Longer than
/// gossipsub's duplicate cache (60 s), which drops a repeat of the same bytes before that.
const REGOSSIP_EVERY: Duration = Duration::from_secs(75);
/// How long the other validators wait for the designated relayer of a block before relaying
/// it themselves.
const RELAY_GRACE: Duration = Duration::from_secs(15);
/// Metadata key: every block up to this one has no withdrawal left to relay.
const DONE_THROUGH_KEY: &str = "bridge_withdrawals_done_through";

/// The withdrawals `receipts` initiated, in log order.
pub fn withdrawals_in(receipts: &[ReceiptEnvelope]) -> Vec<Withdrawal> {
    let mut out = Vec::new();
    for receipt in receipts {
        if !receipt.status() {
            continue;
        }
        for log in receipt.logs() {
            if log.address != L2_BRIDGE_ADDRESS
                || log.topics().first()
                    != Some(&IParallaxBridgeL2::WithdrawalInitiated::SIGNATURE_HASH)
            {
                continue;
            }
            // The bridge is genesis code: its events always decode.
            if let Ok(e) = IParallaxBridgeL2::WithdrawalInitiated::decode_log_data(&log.data)
                && let Ok(id) = u64::try_from(e.id)
            {
                out.push(Withdrawal {
                    id,
                    l1_token: e.l1Token,
                    l1_recipient: e.l1Recipient,
                    amount: e.amount,
                });
            }
        }
    }
    out
}

/// Whether a block's bloom admits a `WithdrawalInitiated` event of the bridge (false: it has
/// none for certain).
pub fn may_have_withdrawals(header: &Header) -> bool {
    header
        .logs_bloom
        .contains_input(BloomInput::Raw(L2_BRIDGE_ADDRESS.as_slice()))
        && header.logs_bloom.contains_input(BloomInput::Raw(
            IParallaxBridgeL2::WithdrawalInitiated::SIGNATURE_HASH.as_slice(),
        ))
}

/// The withdrawals of committed block `number`.
pub fn block_withdrawals(
    reader: &Reader<'_>,
    number: u64,
) -> Result<Vec<Withdrawal>, StorageError> {
    let Some(header) = reader.header(number)? else {
        return Ok(Vec::new());
    };
    if !may_have_withdrawals(&header) {
        return Ok(Vec::new());
    }
    Ok(withdrawals_in(
        &reader.receipts(number)?.unwrap_or_default(),
    ))
}

/// `ParallaxBridgeL2.nextWithdrawalId` after committed block `number`.
fn next_withdrawal_id_at(reader: &Reader<'_>, number: u64) -> Result<u64, StorageError> {
    let v = reader.storage_at(L2_BRIDGE_ADDRESS, NEXT_WITHDRAWAL_ID_SLOT, number)?;
    Ok(u64::try_from(v).unwrap_or(u64::MAX))
}

/// Where withdrawal `id` was initiated: the block and its withdrawals; `None` if no committed
/// block initiated it (yet). Ids are gap-free and grow with the block number, so the block is
/// found by binary search over the bridge's `nextWithdrawalId` history.
pub fn find_withdrawal(
    reader: &Reader<'_>,
    id: u64,
) -> Result<Option<(u64, Vec<Withdrawal>)>, StorageError> {
    let Some(head) = reader.head_number()? else {
        return Ok(None);
    };
    if next_withdrawal_id_at(reader, head)? <= id {
        return Ok(None);
    }
    // The first block after which more than `id` withdrawals exist.
    let (mut lo, mut hi) = (0u64, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if next_withdrawal_id_at(reader, mid)? > id {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some((lo, block_withdrawals(reader, lo)?)))
}

/// A withdrawal with what `finalizeWithdrawal` needs to pay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalProof {
    /// The withdrawal.
    pub withdrawal: Withdrawal,
    /// The Parallax block that initiated it.
    pub l2_block: u64,
    /// That block's withdrawal root.
    pub root: B256,
    /// The Merkle proof of the withdrawal's leaf against the root.
    pub proof: Vec<B256>,
    /// The leaf.
    pub leaf: B256,
}

/// The proof of withdrawal `id`, if a committed block initiated it.
pub fn withdrawal_proof(
    reader: &Reader<'_>,
    id: u64,
) -> Result<Option<WithdrawalProof>, StorageError> {
    let Some((l2_block, withdrawals)) = find_withdrawal(reader, id)? else {
        return Ok(None);
    };
    let Some(index) = withdrawals.iter().position(|w| w.id == id) else {
        return Err(StorageError::Inconsistent(format!(
            "withdrawal {id} counted in block {l2_block} but not among its events"
        )));
    };
    let tree = WithdrawalTree::new(&withdrawals)
        .ok_or_else(|| StorageError::Inconsistent("empty withdrawal tree".into()))?;
    Ok(Some(WithdrawalProof {
        withdrawal: withdrawals[index],
        l2_block,
        root: tree.root(),
        proof: tree.proof(index).unwrap_or_default(),
        leaf: withdrawals[index].leaf(),
    }))
}

/// A gossiped withdrawal attestation whose signature recovered to its validator's bridge
/// address (the network ingress checks that before relaying it).
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The Parallax block.
    pub l2_block: u64,
    /// The root the validator signed.
    pub root: B256,
    /// The validator's index.
    pub validator: u32,
    /// The signature.
    pub signature: [u8; 65],
}

/// Checks a decoded attestation: the signature must be `validator`'s bridge key's over the
/// EIP-712 digest of `(l2_block, root)`.
pub fn verify_attestation(
    domain: &BridgeDomain,
    bridge_addresses: &[Address],
    a: &parallax_proto::v1::WithdrawalAttestation,
) -> Result<Attestation, String> {
    let expected = bridge_addresses
        .get(a.validator as usize)
        .ok_or_else(|| format!("validator {} is not in the set", a.validator))?;
    let root = B256::from_slice(&a.root);
    let signer = recover_signer(
        domain.withdrawal_root_digest(a.l2_block, root),
        &a.signature,
    )
    .map_err(|e| e.to_string())?;
    if signer != *expected {
        return Err(format!(
            "signed by {signer}, validator {}'s bridge key is {expected}",
            a.validator
        ));
    }
    let mut signature = [0u8; 65];
    signature.copy_from_slice(&a.signature);
    Ok(Attestation {
        l2_block: a.l2_block,
        root,
        validator: a.validator,
        signature,
    })
}

/// Encodes an attestation for the bridge topic.
pub fn encode_attestation(chain_id: u64, a: &Attestation) -> Vec<u8> {
    use prost::Message as _;
    parallax_proto::v1::WithdrawalAttestation {
        chain_id,
        l2_block: a.l2_block,
        root: a.root.to_vec(),
        validator: a.validator,
        signature: a.signature.to_vec(),
    }
    .encode_to_vec()
}

/// What the relayer reports (RPC `parallax_bridgeStatus`, metrics).
#[derive(Debug, Default)]
pub struct WithdrawalStats {
    /// Withdrawals seen in committed blocks (by this relayer since it started or resumed).
    pub seen: AtomicU64,
    /// Withdrawals whose root more than 2/3 of the power signed.
    pub signed: AtomicU64,
    /// Roots this node submitted to Ethereum.
    pub roots_submitted: AtomicU64,
    /// Withdrawals this node finalized on Ethereum.
    pub finalized_here: AtomicU64,
    /// Withdrawals found finalized on Ethereum (by this node or another).
    pub finalized: AtomicU64,
    /// Attestations refused: a root other than this node's for the block.
    pub conflicting_attestations: AtomicU64,
    /// Ethereum calls that failed.
    pub l1_errors: AtomicU64,
    /// The last committed block the relayer has scanned (every withdrawal up to it is
    /// tracked or done).
    pub scanned_through: AtomicU64,
    /// Withdrawals tracked whose root has no quorum yet.
    pub unsigned: AtomicU64,
    /// Withdrawals tracked that Ethereum has not paid yet.
    pub outstanding: AtomicU64,
    /// Whether the relayer reads Ethereum (else `outstanding` is not known).
    pub watches_l1: std::sync::atomic::AtomicBool,
    /// Per withdrawal id still tracked: its state (`signing`, `signed`, `attested`, `finalized`).
    states: Mutex<BTreeMap<u64, &'static str>>,
}

impl WithdrawalStats {
    /// The state of a withdrawal the relayer tracks now.
    pub fn state(&self, id: u64) -> Option<&'static str> {
        self.states.lock().ok()?.get(&id).copied()
    }

    fn set(&self, ids: impl IntoIterator<Item = u64>, state: &'static str) {
        if let Ok(mut s) = self.states.lock() {
            for id in ids {
                s.insert(id, state);
            }
            // Bounded: the oldest (lowest ids) go first.
            while s.len() > MAX_PENDING_BLOCKS * 4 {
                s.pop_first();
            }
        }
    }
}

/// One block's withdrawals on their way to Ethereum.
#[derive(Debug)]
struct Pending {
    withdrawals: Vec<Withdrawal>,
    tree: WithdrawalTree,
    quorum: Quorum,
    own: Option<Attestation>,
    scanned_at: Instant,
    reached_at: Option<Instant>,
    attested: bool,
    finalized: BTreeSet<u64>,
    /// After an Ethereum call for this block failed: when to try again, and how many
    /// attempts failed in a row (the delay doubles up to [`MAX_RETRY_DELAY`]).
    retry: Option<(Instant, u32)>,
}

/// How often a validator that is not a block's relayer (yet) reads Ethereum for it.
const OBSERVE_EVERY: Duration = Duration::from_secs(1);

/// What one pass at a block did.
enum Relayed {
    /// Everything this node may do is done.
    Done,
    /// Waiting for the block's relayer (this node only read Ethereum).
    Waiting,
    /// An Ethereum call failed.
    Failed,
}

/// The longest wait between attempts at a block whose Ethereum calls keep failing.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

impl Pending {
    fn failed(&mut self) {
        let failures = self.retry.map_or(0, |(_, n)| n) + 1;
        let delay = Duration::from_millis(500)
            .saturating_mul(1 << failures.min(7))
            .min(MAX_RETRY_DELAY);
        self.retry = Some((Instant::now() + delay, failures));
    }
}

/// The relayer's settings.
#[derive(Debug, Clone)]
pub struct RelayerConfig {
    /// The EIP-712 domain of the Ethereum bridge (its `l1_bridge` is the contract relayed to).
    pub domain: BridgeDomain,
    /// Each validator's bridge address, by index.
    pub bridge_addresses: Vec<Address>,
    /// The bridge validator set with power.
    pub validators: BridgeValidators,
    /// This node's validator index and bridge key, when it is a validator.
    pub signer: Option<(u32, alloy_signer_local::PrivateKeySigner)>,
    /// The Ethereum client: it reads what Ethereum has and, when `relay`, submits roots and
    /// finalizes (its key pays the gas); `None` signs and gossips only.
    pub l1: Option<L1Client>,
    /// Whether this node sends the Ethereum transactions (a validator with `relay`).
    pub relay: bool,
    /// The Parallax chain id (for the gossip envelope).
    pub chain_id: u64,
    /// How often to look for new blocks and relay.
    pub tick: Duration,
}

/// Signs, collects and relays withdrawal roots.
pub struct Relayer {
    config: RelayerConfig,
    db: Arc<Database>,
    stats: Arc<WithdrawalStats>,
    pending: BTreeMap<u64, Pending>,
    early: BTreeMap<u64, Vec<Attestation>>,
    early_len: usize,
    /// The next committed block to scan.
    next_block: u64,
    /// Every block below this has nothing left to relay.
    done_below: u64,
    last_gossip: Option<Instant>,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayer")
            .field("pending", &self.pending.len())
            .field("next_block", &self.next_block)
            .finish_non_exhaustive()
    }
}

impl Relayer {
    /// A relayer resuming where the database says it stopped.
    pub fn new(config: RelayerConfig, db: Arc<Database>, stats: Arc<WithdrawalStats>) -> Self {
        let done = db
            .reader()
            .ok()
            .and_then(|r| r.metadata(DONE_THROUGH_KEY).ok().flatten())
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, |b| u64::from_be_bytes(b) + 1);
        Self {
            config,
            db,
            stats,
            pending: BTreeMap::new(),
            early: BTreeMap::new(),
            early_len: 0,
            next_block: done.max(1),
            done_below: done.max(1),
            last_gossip: None,
        }
    }

    /// Runs until `attestations` closes; `publish` gossips this node's attestations.
    pub async fn run(
        mut self,
        mut attestations: mpsc::Receiver<Attestation>,
        publish: impl Fn(Vec<u8>) + Send,
    ) {
        info!(
            from_block = self.next_block,
            reads_l1 = self.config.l1.is_some(),
            relays = self.config.relay,
            "withdrawal relayer started"
        );
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                a = attestations.recv() => match a {
                    Some(a) => self.on_attestation(a),
                    None => break,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.scan(&publish) {
                        warn!(error = %e, "scanning committed blocks for withdrawals failed");
                    }
                    self.relay().await;
                    self.regossip(&publish);
                    self.advance_done();
                    self.publish_counts();
                }
            }
        }
    }

    /// Picks up the withdrawals of newly committed blocks; signs them as a validator.
    fn scan(&mut self, publish: &impl Fn(Vec<u8>)) -> Result<(), StorageError> {
        let db = self.db.clone();
        let reader = db.reader()?;
        let head = reader.head_number()?.unwrap_or(0);
        let last = head.min(self.next_block + MAX_SCAN_PER_TICK - 1);
        while self.next_block <= last && self.pending.len() < MAX_PENDING_BLOCKS {
            let number = self.next_block;
            let withdrawals = block_withdrawals(&reader, number)?;
            self.next_block += 1;
            let Some(tree) = WithdrawalTree::new(&withdrawals) else {
                continue;
            };
            let root = tree.root();
            let digest = self.config.domain.withdrawal_root_digest(number, root);
            let mut pending = Pending {
                withdrawals,
                tree,
                quorum: Quorum::new(digest),
                own: None,
                scanned_at: Instant::now(),
                reached_at: None,
                attested: false,
                finalized: BTreeSet::new(),
                retry: None,
            };
            self.stats
                .seen
                .fetch_add(pending.withdrawals.len() as u64, Ordering::Relaxed);
            self.stats
                .set(pending.withdrawals.iter().map(|w| w.id), "signing");
            if let Some((index, key)) = &self.config.signer {
                match sign_digest(key, digest) {
                    Ok(signature) => {
                        let own = Attestation {
                            l2_block: number,
                            root,
                            validator: *index,
                            signature,
                        };
                        let _ = pending.quorum.add(&self.config.validators, &signature);
                        publish(encode_attestation(self.config.chain_id, &own));
                        pending.own = Some(own);
                    }
                    Err(e) => warn!(block = number, error = %e, "signing a withdrawal root failed"),
                }
            }
            debug!(block = number, withdrawals = pending.withdrawals.len(), %root, "withdrawal root");
            self.pending.insert(number, pending);
            if let Some(early) = self.early.remove(&number) {
                self.early_len -= early.len();
                for a in early {
                    self.on_attestation(a);
                }
            }
            self.check_quorum(number);
        }
        Ok(())
    }

    fn on_attestation(&mut self, a: Attestation) {
        let Some(pending) = self.pending.get_mut(&a.l2_block) else {
            if a.l2_block >= self.next_block && self.early_len < MAX_EARLY_ATTESTATIONS {
                self.early.entry(a.l2_block).or_default().push(a);
                self.early_len += 1;
            }
            return;
        };
        if a.root != pending.tree.root() {
            self.stats
                .conflicting_attestations
                .fetch_add(1, Ordering::Relaxed);
            warn!(block = a.l2_block, validator = a.validator, signed = %a.root, ours = %pending.tree.root(), "a validator signed another withdrawal root");
            return;
        }
        match pending.quorum.add(&self.config.validators, &a.signature) {
            Ok(true) => self.check_quorum(a.l2_block),
            Ok(false) => {}
            Err(e) => debug!(block = a.l2_block, error = %e, "attestation not counted"),
        }
    }

    fn check_quorum(&mut self, number: u64) {
        let Some(p) = self.pending.get_mut(&number) else {
            return;
        };
        if p.reached_at.is_none() && p.quorum.is_reached(&self.config.validators) {
            p.reached_at = Some(Instant::now());
            self.stats
                .signed
                .fetch_add(p.withdrawals.len() as u64, Ordering::Relaxed);
            self.stats.set(p.withdrawals.iter().map(|w| w.id), "signed");
            info!(
                block = number,
                withdrawals = p.withdrawals.len(),
                signers = p.quorum.signers(),
                "withdrawal root signed by a quorum"
            );
        }
    }

    /// Whether this node relays `number` now: the designated relayer at once, the others
    /// after the grace period.
    fn relays_now(&self, number: u64, reached_at: Instant) -> bool {
        let n = self.config.bridge_addresses.len().max(1) as u64;
        if !self.config.relay {
            return false;
        }
        let designated = self
            .config
            .signer
            .as_ref()
            .is_some_and(|(i, _)| u64::from(*i) == number % n);
        designated || reached_at.elapsed() >= RELAY_GRACE
    }

    /// Submits quorum-signed roots and finalizes their withdrawals on Ethereum.
    async fn relay(&mut self) {
        let Some(l1) = self.config.l1.clone() else {
            return;
        };
        let bridge = self.config.domain.l1_bridge;
        // Every block is looked at: its relayer sends once a quorum signed; the others only read
        // Ethereum until the grace period ends (so their status counts what the relayer did),
        // and a node that missed the signatures (it restarted after they were gossiped) learns
        // from Ethereum that a quorum signed the root.
        let ready: Vec<(u64, bool)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.retry.is_none_or(|(at, _)| Instant::now() >= at))
            .map(|(n, p)| (*n, p.reached_at.is_some_and(|at| self.relays_now(*n, at))))
            .collect();
        for (number, may_send) in ready {
            let outcome = self.relay_block(&l1, bridge, number, may_send).await;
            if let Some(p) = self.pending.get_mut(&number) {
                match outcome {
                    Relayed::Done => p.retry = None,
                    Relayed::Failed => p.failed(),
                    Relayed::Waiting => p.retry = Some((Instant::now() + OBSERVE_EVERY, 0)),
                }
            }
        }
        self.pending
            .retain(|_, p| p.finalized.len() < p.withdrawals.len());
    }

    /// Submits block `number`'s root (unless Ethereum has it) and finalizes its withdrawals;
    /// with `may_send` false it only reads what Ethereum has. `Failed` when an Ethereum call
    /// failed (the block is retried later, with a growing delay).
    async fn relay_block(
        &mut self,
        l1: &L1Client,
        bridge: Address,
        number: u64,
        may_send: bool,
    ) -> Relayed {
        let Some(p) = self.pending.get(&number) else {
            return Relayed::Done;
        };
        let root = p.tree.root();
        if !p.attested {
            let call = IParallaxBridge::withdrawalRootsCall {
                l2BlockNumber: U256::from(number),
            };
            match l1.view(bridge, call).await {
                Ok(on_l1) if on_l1 == root => {
                    // The contract checked a quorum's signatures over this root.
                    if let Some(p) = self.pending.get_mut(&number)
                        && p.reached_at.is_none()
                    {
                        p.reached_at = Some(Instant::now());
                        self.stats.set(p.withdrawals.iter().map(|w| w.id), "signed");
                    }
                }
                Ok(on_l1) if on_l1 != B256::ZERO => {
                    // Another root for this block: the quorum that signed it is not ours.
                    warn!(block = number, %on_l1, ours = %root, "Ethereum holds another withdrawal root for this block");
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    return Relayed::Failed;
                }
                Ok(_) if !may_send => return Relayed::Waiting,
                Ok(_) => {
                    let signatures = p.quorum.signatures();
                    match l1
                        .submit_withdrawal_root(bridge, number, root, signatures)
                        .await
                    {
                        Ok(receipt) => {
                            self.stats.roots_submitted.fetch_add(1, Ordering::Relaxed);
                            info!(block = number, %root, l1_tx = %receipt.transaction_hash, "withdrawal root submitted to Ethereum");
                        }
                        Err(e) => {
                            self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                            warn!(block = number, error = %e, "submitting a withdrawal root failed");
                            return Relayed::Failed;
                        }
                    }
                }
                Err(e) => {
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(block = number, error = %e, "reading the Ethereum bridge failed");
                    return Relayed::Failed;
                }
            }
            if let Some(p) = self.pending.get_mut(&number) {
                p.attested = true;
                let ids = p
                    .withdrawals
                    .iter()
                    .filter(|w| !p.finalized.contains(&w.id))
                    .map(|w| w.id);
                self.stats.set(ids, "attested");
            }
        }
        let Some(p) = self.pending.get(&number) else {
            return Relayed::Done;
        };
        let todo: Vec<(Withdrawal, Vec<B256>)> = p
            .withdrawals
            .iter()
            .enumerate()
            .filter(|(_, w)| !p.finalized.contains(&w.id))
            .map(|(i, w)| (*w, p.tree.proof(i).unwrap_or_default()))
            .collect();
        let mut outcome = Relayed::Done;
        for (w, proof) in todo {
            let call = IParallaxBridge::isWithdrawalFinalizedCall {
                id: U256::from(w.id),
            };
            let done = match l1.view(bridge, call).await {
                Ok(true) => Some(true),
                Ok(false) if !may_send => None,
                Ok(false) => match l1.finalize_withdrawal(bridge, &w, number, proof).await {
                    Ok(receipt) => {
                        self.stats.finalized_here.fetch_add(1, Ordering::Relaxed);
                        info!(id = w.id, block = number, recipient = %w.l1_recipient, amount = %w.amount, l1_tx = %receipt.transaction_hash, "withdrawal finalized on Ethereum");
                        Some(true)
                    }
                    Err(e) => {
                        warn!(id = w.id, error = %e, "finalizing a withdrawal failed");
                        Some(false)
                    }
                },
                Err(e) => {
                    warn!(id = w.id, error = %e, "reading the Ethereum bridge failed");
                    Some(false)
                }
            };
            if done.is_none() {
                // Not finalized yet, and not this node's to send.
                if matches!(outcome, Relayed::Done) {
                    outcome = Relayed::Waiting;
                }
                continue;
            }
            if done == Some(true) {
                self.stats.finalized.fetch_add(1, Ordering::Relaxed);
                self.stats.set([w.id], "finalized");
                if let Some(p) = self.pending.get_mut(&number) {
                    p.finalized.insert(w.id);
                }
            } else {
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                outcome = Relayed::Failed;
            }
        }
        outcome
    }

    /// Gossips this node's attestations again for blocks still waiting.
    fn regossip(&mut self, publish: &impl Fn(Vec<u8>)) {
        if self
            .last_gossip
            .is_some_and(|t| t.elapsed() < REGOSSIP_EVERY)
        {
            return;
        }
        self.last_gossip = Some(Instant::now());
        for p in self.pending.values() {
            if let Some(own) = &p.own {
                publish(encode_attestation(self.config.chain_id, own));
            }
        }
        if self.config.l1.is_none() {
            // A node that cannot read Ethereum stops tracking a block a while after its quorum
            // (the relayers finalize it), or after it was scanned if it never saw one (the
            // signatures went by before this node started).
            self.pending
                .retain(|_, p| p.reached_at.unwrap_or(p.scanned_at).elapsed() < RELAY_GRACE * 4);
        }
    }

    /// Publishes what is tracked, for the status RPC: with the bridge's withdrawal count at the
    /// last scanned block, it gives how many withdrawals are signed and paid in all.
    fn publish_counts(&self) {
        let unsigned: usize = self
            .pending
            .values()
            .filter(|p| p.reached_at.is_none())
            .map(|p| p.withdrawals.len())
            .sum();
        let outstanding: usize = self
            .pending
            .values()
            .map(|p| p.withdrawals.len() - p.finalized.len())
            .sum();
        let s = &self.stats;
        s.unsigned.store(unsigned as u64, Ordering::Relaxed);
        s.outstanding.store(outstanding as u64, Ordering::Relaxed);
        s.scanned_through
            .store(self.next_block.saturating_sub(1), Ordering::Relaxed);
        s.watches_l1
            .store(self.config.l1.is_some(), Ordering::Relaxed);
    }

    /// Records how far every block's withdrawals are finalized, so a restart resumes there.
    fn advance_done(&mut self) {
        let done = self
            .pending
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_block);
        if done > self.done_below {
            self.done_below = done;
            let through = (done - 1).to_be_bytes();
            if let Err(e) = self.db.set_metadata(DONE_THROUGH_KEY, &through) {
                warn!(error = %e, "recording the relayer's progress failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Receipt, ReceiptWithBloom};
    use alloy_primitives::{Log, LogData};

    fn withdrawal_log(id: u64, amount: u64) -> Log {
        let e = IParallaxBridgeL2::WithdrawalInitiated {
            id: U256::from(id),
            l1Token: Address::ZERO,
            from: Address::repeat_byte(1),
            l1Recipient: Address::repeat_byte(2),
            amount: U256::from(amount),
        };
        Log {
            address: L2_BRIDGE_ADDRESS,
            data: e.encode_log_data(),
        }
    }

    fn receipt(status: bool, logs: Vec<Log>) -> ReceiptEnvelope {
        ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(
            Receipt {
                status: status.into(),
                cumulative_gas_used: 21_000,
                logs,
            },
            Default::default(),
        ))
    }

    #[test]
    fn only_the_bridges_withdrawal_events_of_successful_receipts_count() {
        let mut forged = withdrawal_log(9, 1);
        forged.address = Address::repeat_byte(0x66);
        let other = Log {
            address: L2_BRIDGE_ADDRESS,
            data: LogData::new_unchecked(vec![B256::repeat_byte(3)], Default::default()),
        };
        let receipts = vec![
            receipt(true, vec![withdrawal_log(0, 5), other, forged]),
            receipt(false, vec![withdrawal_log(7, 5)]),
            receipt(true, vec![withdrawal_log(1, 6)]),
        ];
        let found = withdrawals_in(&receipts);
        assert_eq!(found.iter().map(|w| w.id).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(found[1].amount, U256::from(6));
        assert_eq!(found[0].l1_recipient, Address::repeat_byte(2));
    }

    #[test]
    fn attestations_verify_only_for_their_validator_block_and_root() {
        let keys: Vec<_> = (1..=3u8)
            .map(|i| {
                alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
            })
            .collect();
        let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let domain = BridgeDomain {
            l1_chain_id: 31337,
            l1_bridge: Address::repeat_byte(9),
            l2_chain_id: 4242,
        };
        let root = B256::repeat_byte(5);
        let sig = sign_digest(&keys[1], domain.withdrawal_root_digest(7, root)).unwrap();
        let msg =
            |validator: u32, block: u64, root: B256| parallax_proto::v1::WithdrawalAttestation {
                chain_id: 4242,
                l2_block: block,
                root: root.to_vec(),
                validator,
                signature: sig.to_vec(),
            };
        let ok = verify_attestation(&domain, &addrs, &msg(1, 7, root)).unwrap();
        assert_eq!((ok.l2_block, ok.root, ok.validator), (7, root, 1));
        assert!(
            verify_attestation(&domain, &addrs, &msg(0, 7, root)).is_err(),
            "another validator"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(1, 8, root)).is_err(),
            "another block"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(1, 7, B256::ZERO)).is_err(),
            "another root"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(5, 7, root)).is_err(),
            "not in the set"
        );
        let other_domain = BridgeDomain {
            l2_chain_id: 1,
            ..domain
        };
        assert!(
            verify_attestation(&other_domain, &addrs, &msg(1, 7, root)).is_err(),
            "another chain"
        );
    }
}
