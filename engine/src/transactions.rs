//! Transactions on their way into the pool: from RPC ([`Submitter`]: admitted, then gossiped
//! in batches) and from gossip ([`TxIngress`], on a thread of its own), checked against the
//! state at the committed head ([`DbAccounts`]) and the next block's rules ([`pool_env`]).

use crate::{clock::now_secs, input::Input, state::Shared};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes};
use libp2p::PeerId;
use parallax_chain::ChainSpec;
use parallax_network::{self as network, NetworkHandle, Topic, Validation, wire};
use parallax_storage::{Database, Reader};
use parallax_txpool::{AccountInfo, AccountSource, Mempool, MempoolError, PoolEnv};
use std::{
    sync::{Arc, Mutex, atomic::Ordering, mpsc::SyncSender},
    time::Duration,
};
use tracing::debug;

/// Tells the driver transactions arrived, once until it has seen it: a burst of
/// transactions is one wake-up, and never crowds consensus messages out of its queue.
pub fn signal_tx(inputs: &SyncSender<Input>, shared: &Shared) {
    if !shared.transactions.tx_signal.swap(true, Ordering::AcqRel)
        && inputs.try_send(Input::TxArrived).is_err()
    {
        shared
            .transactions
            .tx_signal
            .store(false, Ordering::Release);
    }
}

/// The account state at the committed head, for the mempool.
pub struct DbAccounts<'a, 'db>(pub &'a Reader<'db>);

impl AccountSource for DbAccounts<'_, '_> {
    fn account(&self, address: Address) -> Result<AccountInfo, String> {
        match self.0.account(address) {
            Ok(Some(a)) => Ok(AccountInfo {
                nonce: a.nonce,
                balance: a.balance,
            }),
            Ok(None) => Ok(AccountInfo::default()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What the mempool checks transactions against: the block after `head`.
pub fn pool_env(spec: &ChainSpec, head: &Header) -> PoolEnv {
    PoolEnv {
        chain_id: spec.chain_id,
        base_fee: head
            .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(0),
        block_gas_limit: head.gas_limit,
        spec: spec
            .rules(head.number + 1, now_secs().max(head.timestamp))
            .spec,
    }
}

/// Transactions admitted from RPC that may wait for gossip.
pub const TX_GOSSIP_QUEUE: usize = 16_384;
/// How long the first transaction of a gossip batch waits for others to join it.
const TX_GOSSIP_DELAY: Duration = Duration::from_millis(25);

/// Publishes admitted transactions in batches: whatever arrives within `TX_GOSSIP_DELAY` (25 ms)
/// of a batch's first transaction, up to the wire format's limits. One gossip message per
/// transaction costs every peer a message's overhead per transaction, and under load that
/// overhead alone fills gossipsub's send queues and crowds consensus messages out.
pub async fn gossip_transactions(
    net: NetworkHandle,
    mut queue: tokio::sync::mpsc::Receiver<Bytes>,
) {
    let mut open = true;
    while open {
        let Some(first) = queue.recv().await else {
            break;
        };
        let deadline = tokio::time::Instant::now() + TX_GOSSIP_DELAY;
        let mut bytes = first.len();
        let mut batch = vec![first];
        while batch.len() < parallax_proto::MAX_TRANSACTIONS_PER_BATCH {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(tx)) => {
                    // Room for the field tags and lengths of the encoding.
                    if bytes + tx.len() + 8 * (batch.len() + 1)
                        > parallax_proto::MAX_TRANSACTION_BATCH_BYTES
                    {
                        publish_batch(&net, &batch).await;
                        bytes = 0;
                        batch.clear();
                    }
                    bytes += tx.len();
                    batch.push(tx);
                }
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            publish_batch(&net, &batch).await;
        }
    }
}

async fn publish_batch(net: &NetworkHandle, batch: &[Bytes]) {
    if let Err(e) = net
        .publish(Topic::Transactions, wire::encode_tx_batch(batch))
        .await
        && !e.is_benign()
    {
        debug!(error = %e, transactions = batch.len(), "gossiping transactions failed");
    }
}

/// Admits transactions from RPC or tests: mempool, then gossip.
#[derive(Clone)]
pub struct Submitter {
    /// The database (read through snapshots).
    pub db: Arc<Database>,
    /// The chain's rules.
    pub spec: Arc<ChainSpec>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The consensus driver's input queue.
    pub inputs: SyncSender<Input>,
    /// Transactions on their way to batched gossip; `None` without a network.
    pub gossip: Option<tokio::sync::mpsc::Sender<Bytes>>,
    /// What the parts publish for RPC, admin and metrics.
    pub shared: Arc<Shared>,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").finish_non_exhaustive()
    }
}

impl Submitter {
    /// Admits a raw (EIP-2718) transaction; returns its hash.
    pub fn submit(&self, raw: &[u8]) -> Result<B256, MempoolError> {
        let hash = admit(&self.db, &self.spec, &self.mempool, &self.shared, raw)?;
        signal_tx(&self.inputs, &self.shared);
        // Gossiped in a batch with the transactions admitted around it. When gossip falls
        // that far behind, the transaction stays in this node's pool (and its proposals)
        // without being gossiped, and is counted.
        if let Some(gossip) = &self.gossip
            && gossip.try_send(Bytes::copy_from_slice(raw)).is_err()
        {
            self.shared
                .transactions
                .tx_gossip_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(hash)
    }

    /// The next nonce of `sender` counting its pooled transactions.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        self.mempool
            .lock()
            .map(|m| m.pending_nonce(sender, state_nonce))
            .unwrap_or(state_nonce)
    }

    /// A pooled transaction.
    pub fn pooled_tx(&self, hash: &B256) -> Option<Arc<parallax_txpool::PooledTx>> {
        self.mempool.lock().ok().and_then(|m| m.get(hash))
    }

    /// Whether the pool holds a transaction.
    pub fn pooled(&self, hash: &B256) -> bool {
        self.mempool
            .lock()
            .map(|m| m.contains(hash))
            .unwrap_or(false)
    }

    /// How many pooled transactions are ready (executable now) and queued (behind a nonce
    /// gap or the sender's balance).
    pub fn pool_counts(&self) -> (usize, usize) {
        self.mempool
            .lock()
            .map(|m| (m.ready_len(), m.queued_len()))
            .unwrap_or_default()
    }
}

fn admit(
    db: &Database,
    spec: &ChainSpec,
    mempool: &Mutex<Mempool>,
    shared: &Shared,
    raw: &[u8],
) -> Result<B256, MempoolError> {
    let lock = || {
        mempool
            .lock()
            .map_err(|_| MempoolError::State("pool poisoned".into()))
    };
    // Decoding and signature recovery need no pool state: done before the pool is locked,
    // so that admissions (a gossiped batch may hold a thousand) do not hold the lock the
    // driver needs to build and commit blocks. A transaction the pool already holds is
    // refused without recovering it.
    let recovered = match parallax_txpool::decode_raw(raw) {
        Ok(tx) => {
            let known = lock()?.contains(tx.tx_hash());
            Some(if known {
                parallax_txpool::Recovered { tx, sender: None }
            } else {
                parallax_txpool::Recovered::new(tx)
            })
        }
        // Refused below by the pool's own decoder, which counts and words it.
        Err(_) => None,
    };
    // The pool first, then the snapshot: a snapshot taken before the lock can predate a
    // commit whose `on_commit` already moved the sender's nonce on, and checking against it
    // would queue the transaction behind a nonce that is already in a block, for good.
    let mut pool = lock()?;
    let reader = db
        .reader()
        .map_err(|e| MempoolError::State(e.to_string()))?;
    let head = reader
        .head_number()
        .ok()
        .flatten()
        .and_then(|n| reader.header(n).ok().flatten())
        .ok_or_else(|| MempoolError::State("no head block".into()))?;
    let env = pool_env(spec, &head);
    let outcome = match recovered {
        Some(r) => pool.add_recovered(r, &DbAccounts(&reader), &env)?,
        None => pool.add_raw(raw, &DbAccounts(&reader), &env)?,
    };
    shared
        .transactions
        .mempool_size
        .store(pool.len() as u64, Ordering::Relaxed);
    drop(pool);
    let _ = shared.transactions.pending_txs.0.send(outcome.hash);
    Ok(outcome.hash)
}

/// Admits gossiped transaction batches on a thread of its own (see [`Ingress`](crate::ingress::Ingress)).
pub struct TxIngress {
    /// The database (read through snapshots).
    pub db: Arc<Database>,
    /// The chain's rules.
    pub spec: Arc<ChainSpec>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The consensus driver's input queue.
    pub inputs: SyncSender<Input>,
    /// What the parts publish for RPC, admin and metrics.
    pub shared: Arc<Shared>,
    /// The network it reads from and publishes on.
    pub net: NetworkHandle,
}

/// Gossiped transaction batches that may wait for admission; beyond it they are ignored
/// (not forwarded, not penalised) and counted.
pub const TX_INGRESS_QUEUE: usize = 256;

impl TxIngress {
    /// Admits each queued batch until the queue's senders are gone.
    pub fn run(self, work: std::sync::mpsc::Receiver<(network::MessageId, PeerId, Vec<u8>)>) {
        while let Ok((message_id, source, data)) = work.recv() {
            let verdict = self.on_transactions(&data);
            self.net.report(message_id, source, verdict);
        }
    }

    fn on_transactions(&self, data: &[u8]) -> Validation {
        let Ok(batch) = wire::decode_tx_batch(data) else {
            self.shared
                .ingress
                .malformed_gossip
                .fetch_add(1, Ordering::Relaxed);
            return Validation::Reject;
        };
        let mut admitted = false;
        let mut verdict = Validation::Ignore;
        for raw in batch {
            match admit(&self.db, &self.spec, &self.mempool, &self.shared, &raw) {
                Ok(_) => {
                    admitted = true;
                    verdict = Validation::Accept;
                }
                Err(e) if e.is_peer_fault() => {
                    debug!(error = %e, "invalid gossiped transaction");
                    verdict = Validation::Reject;
                    break;
                }
                Err(_) => {}
            }
        }
        // What was admitted before a faulty transaction stays pooled: the driver learns of it.
        if admitted {
            signal_tx(&self.inputs, &self.shared);
        }
        verdict
    }
}
