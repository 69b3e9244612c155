//! The relayer: signs every committed block's withdrawal root, collects the validators'
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
//!   finalized again once released. A failed Ethereum call is retried with a doubling delay
//!   (up to a minute), never given up.
//!
//! Split like the `consensus` crate, policy apart from I/O:
//! - `machine` ([`machine::RelayMachine`]) decides everything above — what to sign, which
//!   attestations count, what enters the window, who sends which block's transactions when,
//!   retries and their backoff, when to gossip again — and does no I/O and reads no clock:
//!   it takes events with the current time as an argument and returns what to do;
//!   `machine::carry` is its Ethereum side (one pass at a block, call by call).
//! - `driver` ([`Relayer`]) is the task around it: it reads the clock, the database and
//!   Ethereum, gossips, stores signatures and cursors, and feeds the answers back.
//!
//! This file holds the settings, the limits and the figures the relayer reports.

mod driver;
mod machine;

use crate::{
    attest::{BridgeDomain, BridgeValidators},
    l1::L1Client,
    relay::events::next_withdrawal_id_at,
};
use alloy_primitives::Address;
use parallax_storage_api::StateReader;
use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64},
    },
    time::Duration,
};

pub use driver::Relayer;

/// Most blocks with withdrawals carried to Ethereum at once.
pub const MAX_WINDOW_BLOCKS: usize = 4_096;
/// Most withdrawals carried to Ethereum at once (a block that alone holds more still enters
/// an empty window).
pub const MAX_WINDOW_WITHDRAWALS: usize = 65_536;
/// Most attestations held for blocks this node has not committed yet.
const MAX_EARLY_ATTESTATIONS: usize = 4_096;
/// Most of those held from one validator, so that one validator's flood cannot crowd out
/// the others' (what is dropped arrives again with the signer's next re-gossip).
const MAX_EARLY_PER_VALIDATOR: usize = 256;
/// How far ahead of the last scanned block an attestation is held; further ahead it is
/// dropped (an honest validator is never that far ahead of a node that follows the chain).
const EARLY_HORIZON: u64 = 1_024;
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
/// The first wait after an Ethereum call for a block failed (doubled per failure in a row).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
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

/// How many withdrawals exist up to block `number` (the bridge's `nextWithdrawalId` after it);
/// zero when `reader` cannot say (the block is not stored).
pub fn withdrawals_through(reader: &(impl StateReader + ?Sized), number: u64) -> u64 {
    next_withdrawal_id_at(reader, number).unwrap_or(0)
}
