//! The relayer task: signs every committed block's withdrawal root, collects the validators'
//! signatures, and carries quorum-signed roots and their withdrawals to Ethereum.
//!
//! Two cursors, so that signing never waits on Ethereum:
//! - **Signing** (`scan_next`, durable): every committed block is scanned in order; a
//!   validator signs each withdrawal root at once, stores its signature and gossips it. Other
//!   validators' signatures are checked against the block's root and stored as they arrive,
//!   so the RPC can serve a quorum to anyone (`parallax_getWithdrawalProof`).
//! - **Relaying** (`window`, durable as "every block below is settled"): at most
//!   [`MAX_WINDOW_BLOCKS`] blocks with at most [`MAX_WINDOW_WITHDRAWALS`] withdrawals are
//!   carried to Ethereum at a time; when the window is full the relayer goes on signing and
//!   refills the window from the database as blocks settle. A block's designated relayer
//!   (`block % n`) submits its root and finalizes its withdrawals in batches at once; the other
//!   validators read Ethereum and step in after [`RELAY_GRACE`]. A block is settled when each
//!   of its withdrawals is paid, unpaid (the payout failed: anyone may retry it later on
//!   Ethereum, nothing waits for it) or cancelled; a queued one (above a rate limit) is
//!   finalized again once released.
//!
//! `ethereum` holds the relaying side (which node sends, submitting roots, finalizing
//! withdrawals); this file the signing side and the window.

mod ethereum;

use super::{
    attestation::{Attestation, encode_attestation},
    events::{block_withdrawals, next_withdrawal_id_at},
};
use crate::{
    attest::{BridgeDomain, BridgeValidators, Quorum, sign_digest},
    l1::L1Client,
    withdrawal::{Withdrawal, WithdrawalTree},
};
use alloy_primitives::{Address, B256};
use parallax_storage::{Database, StorageError};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Most blocks with withdrawals carried to Ethereum at once.
pub const MAX_WINDOW_BLOCKS: usize = 4_096;
/// Most withdrawals carried to Ethereum at once (a block that alone holds more still enters
/// an empty window).
pub const MAX_WINDOW_WITHDRAWALS: usize = 65_536;
/// Most attestations held for blocks this node has not committed yet.
const MAX_EARLY_ATTESTATIONS: usize = 4_096;
/// Most recent withdrawal roots remembered for checking attestations of blocks outside the
/// window (older ones are read from the database again).
const MAX_ROOTS: usize = 16_384;
/// Most committed blocks scanned per tick.
const MAX_SCAN_PER_TICK: u64 = 2_048;
/// Most withdrawals finalized in one Ethereum transaction.
const FINALIZE_BATCH: usize = 32;
/// How often a validator gossips its attestations again while their block is not attested
/// on Ethereum (so validators that restarted, or joined late, still collect a quorum).
/// Longer than gossipsub's duplicate cache, which drops a repeat of the same bytes before.
const REGOSSIP_EVERY: Duration = Duration::from_secs(75);
/// How long the other validators wait for the designated relayer of a block before relaying
/// it themselves.
pub const RELAY_GRACE: Duration = Duration::from_secs(15);
/// How often a validator that is not a block's relayer (yet) reads Ethereum for it.
const OBSERVE_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between attempts at a block whose Ethereum calls keep failing.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Metadata key: every block up to this one is settled on Ethereum.
const DONE_THROUGH_KEY: &str = "bridge_withdrawals_done_through";
/// Metadata key: every block up to this one was scanned (and signed, by a validator).
const SIGNED_THROUGH_KEY: &str = "bridge_withdrawals_signed_through";

/// What the relayer reports (RPC `parallax_bridgeStatus`, metrics).
#[derive(Debug, Default)]
pub struct WithdrawalStats {
    /// Withdrawals seen in committed blocks (by this relayer since it started or resumed).
    pub seen: AtomicU64,
    /// Withdrawals whose root more than 2/3 of the power signed (seen since start).
    pub signed: AtomicU64,
    /// Roots this node submitted to Ethereum.
    pub roots_submitted: AtomicU64,
    /// Withdrawals this node finalized on Ethereum (paid, queued or recorded unpaid).
    pub finalized_here: AtomicU64,
    /// Withdrawals found settled on Ethereum (by this node or another) since start.
    pub finalized: AtomicU64,
    /// Withdrawals found proven but unpaid on Ethereum (their payout failed) since start.
    pub unpaid: AtomicU64,
    /// Attestations refused: a root other than this node's for the block.
    pub conflicting_attestations: AtomicU64,
    /// Ethereum calls that failed.
    pub l1_errors: AtomicU64,
    /// The last committed block scanned (and signed, by a validator).
    pub scanned_through: AtomicU64,
    /// The last block the relaying window reached: every withdrawal up to it is settled or in
    /// the window.
    pub window_through: AtomicU64,
    /// Withdrawals in the window whose root has no quorum yet.
    pub unsigned: AtomicU64,
    /// Withdrawals in the window that Ethereum has not settled yet.
    pub outstanding: AtomicU64,
    /// Whether the relayer reads Ethereum (else `outstanding` is not known).
    pub watches_l1: AtomicBool,
    /// Per withdrawal id still tracked: its state (`signing`, `signed`, `attested`, …).
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
            while s.len() > MAX_WINDOW_WITHDRAWALS * 2 {
                s.pop_first();
            }
        }
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
    fn failed(&mut self) {
        let failures = self.retry.map_or(0, |(_, n)| n) + 1;
        let delay = Duration::from_millis(500)
            .saturating_mul(1 << failures.min(7))
            .min(MAX_RETRY_DELAY);
        self.retry = Some((Instant::now() + delay, failures));
    }

    fn is_settled(&self) -> bool {
        self.settled.len() >= self.withdrawals.len()
    }
}

/// What one pass at a block did.
enum Relayed {
    /// Everything this node may do now is done.
    Done,
    /// Waiting: for the block's relayer (this node only read Ethereum), or for a queued
    /// withdrawal's release (until the given time).
    Waiting(Option<Instant>),
    /// An Ethereum call failed.
    Failed,
}

/// Signs, collects and relays withdrawal roots.
pub struct Relayer {
    config: RelayerConfig,
    db: Arc<Database>,
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
    /// The last scan cursor made durable.
    scan_recorded: u64,
    /// Recent withdrawal roots by block (blocks with withdrawals only).
    roots: BTreeMap<u64, B256>,
    early: BTreeMap<u64, Vec<Attestation>>,
    early_len: usize,
    /// Verified signatures waiting to be stored (one transaction per tick).
    to_store: Vec<(u64, u32, B256, [u8; 65])>,
    last_gossip: Option<Instant>,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayer")
            .field("window", &self.window.len())
            .field("scan_next", &self.scan_next)
            .field("window_next", &self.window_next)
            .finish_non_exhaustive()
    }
}

fn read_cursor(db: &Database, key: &str) -> u64 {
    db.reader()
        .ok()
        .and_then(|r| r.metadata(key).ok().flatten())
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, |b| u64::from_be_bytes(b) + 1)
        .max(1)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Relayer {
    /// A relayer resuming where the database says it stopped.
    pub fn new(config: RelayerConfig, db: Arc<Database>, stats: Arc<WithdrawalStats>) -> Self {
        let done = read_cursor(&db, DONE_THROUGH_KEY);
        let scanned = read_cursor(&db, SIGNED_THROUGH_KEY).max(done);
        Self {
            config,
            db,
            stats,
            window: BTreeMap::new(),
            window_withdrawals: 0,
            window_next: done,
            done_below: done,
            scan_next: scanned,
            scan_recorded: scanned,
            roots: BTreeMap::new(),
            early: BTreeMap::new(),
            early_len: 0,
            to_store: Vec::new(),
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
            scan_from = self.scan_next,
            relay_from = self.window_next,
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
                    if let Err(e) = self.step(&publish) {
                        warn!(error = %e, "the withdrawal relayer's database work failed");
                    }
                    self.relay().await;
                    self.regossip(&publish);
                    if let Err(e) = self.advance_done() {
                        warn!(error = %e, "recording the relayer's progress failed");
                    }
                    self.publish_counts();
                }
            }
        }
    }

    /// Scans and signs new blocks, stores the signatures gathered, fills the window.
    fn step(&mut self, publish: &impl Fn(Vec<u8>)) -> Result<(), StorageError> {
        self.scan(publish)?;
        self.flush()?;
        self.fill_window()?;
        Ok(())
    }

    /// Picks up the withdrawals of newly committed blocks; signs them as a validator.
    fn scan(&mut self, publish: &impl Fn(Vec<u8>)) -> Result<(), StorageError> {
        let db = self.db.clone();
        let reader = db.reader()?;
        let head = reader.head_number()?.unwrap_or(0);
        let last = head.min(self.scan_next + MAX_SCAN_PER_TICK - 1);
        while self.scan_next <= last {
            let number = self.scan_next;
            let withdrawals = block_withdrawals(&reader, number)?;
            self.scan_next += 1;
            let Some(tree) = WithdrawalTree::new(&withdrawals) else {
                continue;
            };
            let root = tree.root();
            self.remember_root(number, root);
            self.stats
                .seen
                .fetch_add(withdrawals.len() as u64, Ordering::Relaxed);
            self.stats.set(withdrawals.iter().map(|w| w.id), "signing");
            if let Some(own) = self.sign(number, root) {
                publish(encode_attestation(self.config.chain_id, &own));
                self.to_store
                    .push((number, own.validator, root, own.signature));
            }
            debug!(block = number, withdrawals = withdrawals.len(), %root, "withdrawal root");
            if let Some(early) = self.early.remove(&number) {
                self.early_len -= early.len();
                for a in early {
                    self.on_attestation(a);
                }
            }
        }
        Ok(())
    }

    fn sign(&self, number: u64, root: B256) -> Option<Attestation> {
        let (index, key) = self.config.signer.as_ref()?;
        let digest = self.config.domain.withdrawal_root_digest(number, root);
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

    /// The withdrawal root of scanned block `number` (`None`: it has no withdrawals).
    fn root_of(&mut self, number: u64) -> Result<Option<B256>, StorageError> {
        if let Some(p) = self.window.get(&number) {
            return Ok(Some(p.tree.root()));
        }
        if let Some(root) = self.roots.get(&number) {
            return Ok(Some(*root));
        }
        let db = self.db.clone();
        let reader = db.reader()?;
        let root = WithdrawalTree::new(&block_withdrawals(&reader, number)?).map(|t| t.root());
        drop(reader);
        if let Some(root) = root {
            self.remember_root(number, root);
        }
        Ok(root)
    }

    /// Stores the signatures gathered, then records how far scanning got: a restart never
    /// skips a block whose own signature was not stored.
    fn flush(&mut self) -> Result<(), StorageError> {
        self.db.put_withdrawal_signatures(&self.to_store)?;
        self.to_store.clear();
        if self.scan_next > self.scan_recorded {
            self.db
                .set_metadata(SIGNED_THROUGH_KEY, &(self.scan_next - 1).to_be_bytes())?;
            self.scan_recorded = self.scan_next;
        }
        Ok(())
    }

    /// Takes scanned blocks into the window while it has room, with the signatures stored.
    fn fill_window(&mut self) -> Result<(), StorageError> {
        if self.window_next >= self.scan_next {
            return Ok(());
        }
        let db = self.db.clone();
        let reader = db.reader()?;
        while self.window_next < self.scan_next
            && self.window.len() < MAX_WINDOW_BLOCKS
            && (self.window.is_empty() || self.window_withdrawals < MAX_WINDOW_WITHDRAWALS)
        {
            let number = self.window_next;
            let withdrawals = block_withdrawals(&reader, number)?;
            self.window_next += 1;
            let Some(tree) = WithdrawalTree::new(&withdrawals) else {
                continue;
            };
            let root = tree.root();
            let digest = self.config.domain.withdrawal_root_digest(number, root);
            let mut quorum = Quorum::new(digest);
            for (_, signed, signature) in reader.withdrawal_signatures(number)? {
                if signed == root {
                    let _ = quorum.add(&self.config.validators, &signature);
                }
            }
            let own = self.sign(number, root);
            if let Some(own) = &own {
                let _ = quorum.add(&self.config.validators, &own.signature);
            }
            self.window_withdrawals += withdrawals.len();
            self.window.insert(
                number,
                Pending {
                    withdrawals,
                    tree,
                    quorum,
                    own,
                    entered_at: Instant::now(),
                    reached_at: None,
                    attested: false,
                    settled: BTreeSet::new(),
                    retry: None,
                },
            );
            self.check_quorum(number);
        }
        Ok(())
    }

    fn on_attestation(&mut self, a: Attestation) {
        if a.l2_block >= self.scan_next {
            if self.early_len < MAX_EARLY_ATTESTATIONS {
                self.early.entry(a.l2_block).or_default().push(a);
                self.early_len += 1;
            }
            return;
        }
        let root = match self.root_of(a.l2_block) {
            Ok(Some(root)) => root,
            Ok(None) => {
                debug!(
                    block = a.l2_block,
                    validator = a.validator,
                    "an attestation for a block without withdrawals"
                );
                return;
            }
            Err(e) => {
                warn!(block = a.l2_block, error = %e, "reading a block's withdrawals failed");
                return;
            }
        };
        if a.root != root {
            self.stats
                .conflicting_attestations
                .fetch_add(1, Ordering::Relaxed);
            warn!(block = a.l2_block, validator = a.validator, signed = %a.root, ours = %root, "a validator signed another withdrawal root");
            return;
        }
        let new = match self.window.get_mut(&a.l2_block) {
            Some(p) => match p.quorum.add(&self.config.validators, &a.signature) {
                Ok(new) => new,
                Err(e) => {
                    debug!(block = a.l2_block, error = %e, "attestation not counted");
                    false
                }
            },
            // Outside the window: the ingress verified it; store it for when the block comes.
            None => true,
        };
        if new {
            self.to_store
                .push((a.l2_block, a.validator, a.root, a.signature));
            self.check_quorum(a.l2_block);
        }
    }

    fn check_quorum(&mut self, number: u64) {
        let Some(p) = self.window.get_mut(&number) else {
            return;
        };
        if p.reached_at.is_none() && p.quorum.is_reached(&self.config.validators) {
            p.reached_at = Some(Instant::now());
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

    /// Gossips this node's attestations again for window blocks Ethereum has not attested.
    fn regossip(&mut self, publish: &impl Fn(Vec<u8>)) {
        if self
            .last_gossip
            .is_some_and(|t| t.elapsed() < REGOSSIP_EVERY)
        {
            return;
        }
        self.last_gossip = Some(Instant::now());
        for p in self.window.values().filter(|p| !p.attested) {
            if let Some(own) = &p.own {
                publish(encode_attestation(self.config.chain_id, own));
            }
        }
        if self.config.l1.is_none() {
            // A node that cannot read Ethereum stops tracking a block a while after its quorum
            // (the relayers settle it), or after it entered the window if it never saw one (the
            // signatures went by before this node started, and are in its database or not).
            let mut freed = 0;
            self.window.retain(|_, p| {
                let keep = p.reached_at.unwrap_or(p.entered_at).elapsed() < RELAY_GRACE * 4;
                if !keep {
                    freed += p.withdrawals.len();
                }
                keep
            });
            self.window_withdrawals -= freed;
        }
    }

    /// Publishes what is tracked, for the status RPC and metrics.
    fn publish_counts(&self) {
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
        s.watches_l1
            .store(self.config.l1.is_some(), Ordering::Relaxed);
    }

    /// Records how far every block's withdrawals are settled, so a restart resumes there.
    fn advance_done(&mut self) -> Result<(), StorageError> {
        let done = self
            .window
            .keys()
            .next()
            .copied()
            .unwrap_or(self.window_next);
        if done > self.done_below {
            self.done_below = done;
            self.db
                .set_metadata(DONE_THROUGH_KEY, &(done - 1).to_be_bytes())?;
        }
        Ok(())
    }
}

/// How many withdrawals exist up to block `number` (the bridge's `nextWithdrawalId` after it).
pub fn withdrawals_through(db: &Database, number: u64) -> u64 {
    db.reader()
        .ok()
        .and_then(|r| next_withdrawal_id_at(&r, number).ok())
        .unwrap_or(0)
}
