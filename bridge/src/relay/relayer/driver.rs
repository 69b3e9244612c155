//! The relayer task: the I/O around [`RelayMachine`]. It reads the clock, the database
//! (committed blocks' withdrawals, stored signatures, its cursors) and Ethereum, gossips,
//! stores, and feeds every answer back to the machine; it decides nothing itself.
//!
//! A tick, in order: scan new blocks (sign and gossip), store the signatures gathered and then
//! the scan cursor (a restart never skips a block whose own signature was not stored), fill
//! the window, carry due blocks to Ethereum, gossip again if due, record how far everything
//! is settled, publish the counts. Attestations from the gossip are fed as they arrive.

use super::{
    DONE_THROUGH_KEY, RelayerConfig, SIGNED_THROUGH_KEY, WithdrawalStats,
    machine::{
        Action, Policy, RelayMachine, StoredSignature,
        carry::{Finalized, L1Step},
    },
};
use crate::{
    contracts::IParallaxBridge,
    l1::{L1Client, WithdrawalState},
    relay::{
        attestation::{Attestation, encode_attestation},
        events::block_withdrawals,
    },
    withdrawal::WithdrawalTree,
};
use alloy_primitives::{Address, U256};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_sol_types::SolEvent;
use parallax_storage::{Database, StorageError};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Signs, collects and relays withdrawal roots: the task around the relayer's state machine.
pub struct Relayer {
    machine: RelayMachine,
    db: Arc<Database>,
    l1: Option<L1Client>,
    /// The Ethereum bridge contract.
    bridge: Address,
    /// The Parallax chain id (for the gossip envelope).
    chain_id: u64,
    tick: std::time::Duration,
    /// Whether this node sends Ethereum transactions (for the start-up log).
    relays: bool,
    /// The last scan cursor made durable.
    scan_recorded: u64,
    /// Verified signatures waiting to be stored (one transaction per tick).
    to_store: Vec<StoredSignature>,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayer")
            .field("scan_next", &self.machine.scan_next())
            .field("window_next", &self.machine.window_next())
            .finish_non_exhaustive()
    }
}

/// The block after the one a metadata cursor names (1 when it is absent).
fn read_cursor(db: &Database, key: &str) -> u64 {
    db.reader()
        .ok()
        .and_then(|r| r.metadata(key).ok().flatten())
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, |b| u64::from_be_bytes(b) + 1)
        .max(1)
}

/// Seconds since the epoch by this machine's clock.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a `finalizeWithdrawals` receipt says of each withdrawal: the bridge's
/// `WithdrawalFinalized` (paid), `WithdrawalPayoutFailed` (unpaid) and `WithdrawalQueued`
/// events; other contracts' logs are ignored.
fn finalized(bridge: Address, receipt: &TransactionReceipt) -> Finalized {
    let mut outcomes = BTreeMap::new();
    for log in receipt.inner.logs() {
        if log.address() != bridge {
            continue;
        }
        let data = log.data();
        if let Ok(e) = IParallaxBridge::WithdrawalFinalized::decode_log_data(data) {
            outcomes.insert(e.id.to(), WithdrawalState::Paid);
        } else if let Ok(e) = IParallaxBridge::WithdrawalPayoutFailed::decode_log_data(data) {
            outcomes.insert(e.id.to(), WithdrawalState::Unpaid);
        } else if let Ok(e) = IParallaxBridge::WithdrawalQueued::decode_log_data(data) {
            outcomes.insert(
                e.id.to(),
                WithdrawalState::Queued {
                    release_at: e.releaseAt.to(),
                },
            );
        }
    }
    Finalized {
        tx: receipt.transaction_hash,
        outcomes,
    }
}

impl Relayer {
    /// A relayer resuming where the database says it stopped.
    pub fn new(config: RelayerConfig, db: Arc<Database>, stats: Arc<WithdrawalStats>) -> Self {
        let done = read_cursor(&db, DONE_THROUGH_KEY);
        let scanned = read_cursor(&db, SIGNED_THROUGH_KEY).max(done);
        let policy = Policy {
            domain: config.domain,
            validators: config.validators,
            relayers: config.bridge_addresses.len().max(1) as u64,
            signer: config.signer,
            relay: config.relay,
            reads_l1: config.l1.is_some(),
        };
        Self {
            machine: RelayMachine::new(policy, stats, done, scanned),
            db,
            l1: config.l1,
            bridge: config.domain.l1_bridge,
            chain_id: config.chain_id,
            tick: config.tick,
            relays: config.relay,
            scan_recorded: scanned,
            to_store: Vec::new(),
        }
    }

    /// Runs until its task is stopped; `publish` gossips this node's attestations. A closed
    /// `attestations` queue (a node without a network, whose own signatures are all there is)
    /// ends only what it receives: signing and relaying go on.
    pub async fn run(
        mut self,
        mut attestations: mpsc::Receiver<Attestation>,
        publish: impl Fn(Vec<u8>) + Send,
    ) {
        info!(
            scan_from = self.machine.scan_next(),
            relay_from = self.machine.window_next(),
            reads_l1 = self.l1.is_some(),
            relays = self.relays,
            "withdrawal relayer started"
        );
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut receiving = true;
        loop {
            tokio::select! {
                a = attestations.recv(), if receiving => match a {
                    Some(a) => {
                        let actions = self.machine.on_attestation(a, Instant::now());
                        self.perform(actions, &publish);
                    }
                    None => receiving = false,
                },
                _ = tick.tick() => self.on_tick(&publish).await,
            }
        }
    }

    async fn on_tick(&mut self, publish: &impl Fn(Vec<u8>)) {
        if let Err(e) = self.step(publish) {
            warn!(error = %e, "the withdrawal relayer's database work failed");
        }
        self.relay().await;
        let actions = self.machine.regossip(Instant::now());
        self.perform(actions, publish);
        if let Err(e) = self.advance_done() {
            warn!(error = %e, "recording the relayer's progress failed");
        }
        self.machine.publish_counts();
    }

    /// Does what the machine decided; reads the roots it asks for and feeds them back.
    fn perform(&mut self, actions: Vec<Action>, publish: &impl Fn(Vec<u8>)) {
        let mut todo = VecDeque::from(actions);
        while let Some(action) = todo.pop_front() {
            match action {
                Action::Gossip(own) => publish(encode_attestation(self.chain_id, &own)),
                Action::Store(signature) => self.to_store.push(signature),
                Action::ReadRoot(a) => {
                    let block = a.l2_block;
                    let root = self.db.reader().and_then(|r| {
                        Ok(WithdrawalTree::new(&block_withdrawals(&r, block)?).map(|t| t.root()))
                    });
                    match root {
                        Ok(root) => todo.extend(self.machine.on_root(a, root, Instant::now())),
                        Err(e) => {
                            warn!(block, error = %e, "reading a block's withdrawals failed");
                        }
                    }
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

    /// Feeds newly committed blocks' withdrawals to the machine.
    fn scan(&mut self, publish: &impl Fn(Vec<u8>)) -> Result<(), StorageError> {
        let db = self.db.clone();
        let reader = db.reader()?;
        let last = self.machine.scan_until(reader.head_number()?.unwrap_or(0));
        while self.machine.scan_next() <= last {
            let number = self.machine.scan_next();
            let withdrawals = block_withdrawals(&reader, number)?;
            let actions = self
                .machine
                .on_scanned(number, &withdrawals, Instant::now());
            self.perform(actions, publish);
        }
        Ok(())
    }

    /// Stores the signatures gathered, then records how far scanning got: a restart never
    /// skips a block whose own signature was not stored.
    fn flush(&mut self) -> Result<(), StorageError> {
        self.db.put_withdrawal_signatures(&self.to_store)?;
        self.to_store.clear();
        let scan_next = self.machine.scan_next();
        if scan_next > self.scan_recorded {
            self.db
                .set_metadata(SIGNED_THROUGH_KEY, &(scan_next - 1).to_be_bytes())?;
            self.scan_recorded = scan_next;
        }
        Ok(())
    }

    /// Reads the blocks the window takes, with the signatures stored for them.
    fn fill_window(&mut self) -> Result<(), StorageError> {
        if self.machine.window_wants().is_none() {
            return Ok(());
        }
        let db = self.db.clone();
        let reader = db.reader()?;
        while let Some(number) = self.machine.window_wants() {
            let withdrawals = block_withdrawals(&reader, number)?;
            let stored = if withdrawals.is_empty() {
                Vec::new()
            } else {
                reader.withdrawal_signatures(number)?
            };
            self.machine
                .on_window_block(number, withdrawals, &stored, Instant::now());
        }
        Ok(())
    }

    /// Carries the due window blocks to Ethereum: performs each pass's calls.
    async fn relay(&mut self) {
        let Some(l1) = self.l1.clone() else {
            return;
        };
        let bridge = self.bridge;
        for visit in self.machine.due(Instant::now()) {
            let mut step = self.machine.begin(visit, Instant::now());
            loop {
                step = match step {
                    L1Step::Done => break,
                    L1Step::ReadRoot { block } => {
                        let call = IParallaxBridge::withdrawalRootsCall {
                            l2BlockNumber: U256::from(block),
                        };
                        let on_l1 = l1.view(bridge, call).await;
                        self.machine.on_root_read(on_l1, Instant::now())
                    }
                    L1Step::SubmitRoot {
                        block,
                        root,
                        signatures,
                    } => {
                        let tx = l1
                            .submit_withdrawal_root(bridge, block, root, signatures)
                            .await
                            .map(|receipt| receipt.transaction_hash);
                        self.machine.on_root_submitted(tx, Instant::now())
                    }
                    L1Step::ReadState { id } => {
                        let state = l1.withdrawal_state(bridge, id).await;
                        self.machine
                            .on_state_read(state, unix_now(), Instant::now())
                    }
                    L1Step::Finalize { batch, .. } => {
                        let receipt = l1
                            .finalize_withdrawals(bridge, &batch)
                            .await
                            .map(|receipt| finalized(bridge, &receipt));
                        self.machine.on_finalized(receipt, Instant::now())
                    }
                };
            }
        }
        self.machine.sweep_settled();
    }

    /// Records how far every block's withdrawals are settled, so a restart resumes there.
    fn advance_done(&mut self) -> Result<(), StorageError> {
        if let Some(done) = self.machine.advance_done() {
            self.db
                .set_metadata(DONE_THROUGH_KEY, &(done - 1).to_be_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::{BridgeDomain, BridgeValidators};
    use alloy_primitives::B256;
    use alloy_signer_local::PrivateKeySigner;
    use std::time::Duration;

    /// A one-validator chain without a network: nobody holds the attestation queue's sender,
    /// and the relayer must keep running (it signs and relays on its own), not end at once.
    #[tokio::test]
    async fn a_closed_attestation_queue_does_not_stop_the_relayer() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap();
        let config = RelayerConfig {
            domain: BridgeDomain {
                l1_chain_id: 31337,
                l1_bridge: Address::repeat_byte(9),
                l2_chain_id: 4242,
            },
            bridge_addresses: vec![key.address()],
            validators: BridgeValidators::new([(key.address(), 1)]),
            signer: Some((0, key)),
            l1: None,
            relay: false,
            chain_id: 4242,
            tick: Duration::from_millis(10),
        };
        let relayer = Relayer::new(config, db, Arc::default());
        let (sender, received) = mpsc::channel(1);
        drop(sender);
        let run = tokio::time::timeout(Duration::from_millis(300), relayer.run(received, |_| {}));
        assert!(run.await.is_err(), "the relayer stopped");
    }
}
