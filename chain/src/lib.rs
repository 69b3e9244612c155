//! The chain: building, checking and committing Ethereum-format blocks on top of MDBX.
//!
//! Consensus decides *which* block comes next; this module decides what a block *is*. A
//! leader asks [`Chain::build`] for a block on a parent (the committed head or a certified
//! but uncommitted block): it executes the candidate transactions with the parallel executor
//! over the parent's state ([`overlay::LayeredState`]: MDBX under the uncommitted ancestors'
//! changes), drops those that cannot run, and derives the header (parent hash, number, roots,
//! bloom, gas, EIP-1559 base fee, a timestamp that never decreases). A validator asks
//! [`Chain::validate`]: it re-executes the proposed transactions on the same parent and
//! rebuilds the header it expects; the block is valid only when every header field matches.
//! [`Chain::commit`] writes a final block with its receipts, state changes, trie nodes and
//! commit certificate in one durable MDBX transaction.
//!
//! Executed but uncommitted blocks are cached by hash (bounded) so a block is executed once
//! by the node that builds or checks it, and again only if its state root had to be computed
//! over uncommitted ancestors (then its trie updates are recomputed against the database at
//! commit time, once its parent is the head).
//!
//! [`genesis_write`] is block 0 as a storage write (`parallax init`, and a node's first start).

mod error;
mod genesis;
mod overlay;
mod spec;

pub use error::{ChainError, InvalidBlock};
pub use genesis::genesis_write;
pub use spec::ChainSpec;

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B64, B256, Bytes, Log, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use overlay::{Layer, LayeredState};
use parallax_bridge::deposit::{Deposit, requests_hash};
use parallax_execution::{
    BlockEnv, BlockExecutor, BridgeDeposits, ExecutionError, ExecutionStats, LatestState,
    ParallelExecutor, SequentialExecutor, Transaction,
};
use parallax_genesis::{EthereumHardfork, L2_BRIDGE_ADDRESS};
use parallax_storage::{BlockWrite, Database, StateChanges, TrieUpdates};
use parallax_trie::{DbTrieReader, HashedPostState, state_root};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

/// Most executed-but-uncommitted blocks kept.
const MAX_EXECUTED: usize = 256;
/// Most uncommitted ancestors a block may execute on.
const MAX_UNCOMMITTED_DEPTH: usize = 64;
/// How far ahead of this node's clock a proposed timestamp may be, in seconds.
pub const MAX_FUTURE_DRIFT_SECS: u64 = 15;
/// Most transactions in one block.
pub const MAX_BLOCK_TRANSACTIONS: usize = 20_000;
/// Attempts at building a block when transactions turn out invalid.
const BUILD_ATTEMPTS: usize = 16;

/// A block this node executed: header, body, receipts and state changes.
#[derive(Debug)]
pub struct ExecutedBlock {
    /// The header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
    /// The transactions.
    pub transactions: Vec<TxEnvelope>,
    /// Their senders.
    pub senders: Vec<Address>,
    /// One receipt per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The bridge deposits the block minted before its transactions.
    pub deposits: Vec<Deposit>,
    /// The logs of the deposits' system calls (`DepositFinalized`, …); in no receipt.
    pub system_logs: Vec<Log>,
    /// The state after the block, as changes.
    pub changes: Arc<StateChanges>,
    /// The trie nodes to store, when the root was computed with the parent as the head.
    trie: Option<TrieUpdates>,
    /// How long execution took (without the state root).
    pub execution_time: Duration,
    /// How long the state root took.
    pub state_root_time: Duration,
    /// What the parallel executor measured; `None` when it failed and the sequential
    /// executor ran the block instead.
    pub execution_stats: Option<ExecutionStats>,
    /// When this node finished executing the block (building it, checking a proposal or
    /// importing it): the start of its commit latency.
    pub executed_at: Instant,
}

/// What a block needs besides its transactions: where and by whom it is made.
#[derive(Debug, Clone, Copy)]
pub struct BlockContext {
    /// The parent's Ethereum hash.
    pub parent_hash: B256,
    /// The proposing validator.
    pub author: u32,
    /// The block's timestamp (seconds).
    pub timestamp: u64,
}

/// The committed chain and the executed blocks above it.
pub struct Chain {
    db: Arc<Database>,
    spec: Arc<ChainSpec>,
    executor: ParallelExecutor,
    head: Arc<ExecutedHeader>,
    executed: HashMap<B256, Arc<ExecutedBlock>>,
}

/// The committed head.
#[derive(Debug, Clone)]
pub struct ExecutedHeader {
    /// Its header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("head", &self.head.header.number)
            .field("executed", &self.executed.len())
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Opens the chain stored in `db`, which must hold this spec's genesis.
    pub fn open(
        db: Arc<Database>,
        spec: Arc<ChainSpec>,
        threads: usize,
    ) -> Result<Self, ChainError> {
        let reader = db.reader()?;
        let genesis = reader.canonical_hash(0)?.ok_or(ChainError::Empty)?;
        if genesis != spec.genesis_hash {
            return Err(ChainError::WrongGenesis {
                expected: spec.genesis_hash,
                found: genesis,
            });
        }
        let head = reader.head()?.ok_or(ChainError::Empty)?;
        let header = reader.header(head.number)?.ok_or(ChainError::Empty)?;
        drop(reader);
        Ok(Self {
            db,
            spec,
            executor: ParallelExecutor::new(threads.max(1)),
            head: Arc::new(ExecutedHeader {
                header,
                hash: head.hash,
            }),
            executed: HashMap::new(),
        })
    }

    /// The chain spec.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// The database.
    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// The committed head.
    pub fn head(&self) -> &Arc<ExecutedHeader> {
        &self.head
    }

    /// An executed block (committed head excluded) by hash.
    pub fn executed(&self, hash: &B256) -> Option<&Arc<ExecutedBlock>> {
        self.executed.get(hash)
    }

    /// The header of a block this node knows: the head or an executed block.
    pub fn header(&self, hash: &B256) -> Option<&Header> {
        if *hash == self.head.hash {
            return Some(&self.head.header);
        }
        self.executed.get(hash).map(|b| &b.header)
    }

    /// The state changes of the uncommitted ancestors of a block whose parent is `parent`,
    /// oldest first.
    fn layers(&self, parent: B256) -> Result<Vec<Layer>, ChainError> {
        let mut layers = Vec::new();
        let mut at = parent;
        while at != self.head.hash {
            let block = self
                .executed
                .get(&at)
                .ok_or_else(|| ChainError::UnknownParent(at.to_string()))?;
            if block.header.number <= self.head.header.number
                || layers.len() >= MAX_UNCOMMITTED_DEPTH
            {
                return Err(ChainError::UnknownParent(format!(
                    "{at} is not above the committed head"
                )));
            }
            layers.push(Layer {
                number: block.header.number,
                hash: block.hash,
                changes: block.changes.clone(),
            });
            at = block.header.parent_hash;
        }
        layers.reverse();
        Ok(layers)
    }

    /// The header fields fixed before execution, for a block minting `deposits`.
    fn template(
        &self,
        parent: &Header,
        ctx: &BlockContext,
        deposits: &[Deposit],
    ) -> Result<Header, InvalidBlock> {
        let beneficiary = self
            .spec
            .beneficiary(ctx.author)
            .ok_or(InvalidBlock::Author(ctx.author))?;
        let number = parent.number + 1;
        let ts = ctx.timestamp;
        let active = |f| self.spec.active(f, number, ts);
        let cancun = active(EthereumHardfork::Cancun);
        let prague = active(EthereumHardfork::Prague);
        if !deposits.is_empty() && !prague {
            // The header commits to deposits through requests_hash, which Prague adds.
            return Err(InvalidBlock::Deposits(
                "deposits need Prague's requests_hash to commit to them".into(),
            ));
        }
        Ok(Header {
            parent_hash: ctx.parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary,
            difficulty: U256::ZERO,
            number,
            gas_limit: parent.gas_limit,
            timestamp: ts,
            // Parallax has no beacon chain: prevrandao is derived from the parent and is
            // predictable. Contracts must not use it as randomness.
            mix_hash: keccak256(ctx.parent_hash),
            nonce: B64::ZERO,
            base_fee_per_gas: parent
                .next_block_base_fee(BaseFeeParams::ethereum())
                .or(Some(alloy_eips::eip1559::INITIAL_BASE_FEE)),
            withdrawals_root: active(EthereumHardfork::Shanghai).then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then_some(0),
            excess_blob_gas: cancun.then_some(0),
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: prague.then(|| requests_hash(deposits)),
            ..Default::default()
        })
    }

    /// Executes `transactions` on `template`'s parent and fills in the header; the error
    /// is execution's verdict on the transactions.
    fn execute(
        &self,
        mut header: Header,
        transactions: Vec<Transaction>,
        deposits: &[Deposit],
    ) -> Result<Result<ExecutedBlock, (ExecutionError, Vec<Transaction>)>, ChainError> {
        let layers = self.layers(header.parent_hash)?;
        let rules = self.spec.rules(header.number, header.timestamp);
        let block = parallax_execution::Block {
            env: BlockEnv {
                number: header.number,
                timestamp: header.timestamp,
                beneficiary: header.beneficiary,
                gas_limit: header.gas_limit,
                base_fee: header.base_fee_per_gas,
                difficulty: U256::ZERO,
                prevrandao: Some(header.mix_hash),
                excess_blob_gas: header.excess_blob_gas,
                parent_beacon_block_root: header.parent_beacon_block_root,
                parent_hash: Some(header.parent_hash),
            },
            rules,
            transactions,
            withdrawals: Vec::new(),
            deposits: (!deposits.is_empty()).then(|| BridgeDeposits {
                bridge: L2_BRIDGE_ADDRESS,
                deposits: deposits.iter().map(minted).collect(),
            }),
        };
        let reader = self.db.reader()?;
        let base = LatestState::new(&reader);
        let state = LayeredState::new(&base, &layers);
        let started = Instant::now();
        let mut execution_stats = None;
        let output = match self.executor.execute_with_stats(&block, &state) {
            Ok((output, stats)) => {
                execution_stats = Some(stats);
                output
            }
            // A worker failure is the executor's own fault, not a verdict on the block: the
            // sequential executor (the reference the parallel one must equal) decides.
            Err(ExecutionError::Worker(reason)) => {
                warn!(number = header.number, %reason, "parallel executor failed; executing sequentially");
                match SequentialExecutor.execute(&block, &state) {
                    Ok(output) => output,
                    Err(e) => return Ok(Err((e, block.transactions))),
                }
            }
            Err(e) => return Ok(Err((e, block.transactions))),
        };
        let execution_time = started.elapsed();
        let started = Instant::now();
        let mut post = HashedPostState::default();
        for layer in &layers {
            post.extend(&HashedPostState::from_state_changes(&layer.changes));
        }
        post.extend(&HashedPostState::from_state_changes(&output.state));
        let mut trie_reader =
            DbTrieReader::new(&reader).map_err(|e| ChainError::StateRoot(e.to_string()))?;
        let root = state_root(&mut trie_reader, &post)
            .map_err(|e| ChainError::StateRoot(e.to_string()))?;
        let state_root_time = started.elapsed();
        drop(trie_reader);
        drop(reader);

        header.state_root = root.root;
        header.transactions_root = output.transactions_root.unwrap_or(EMPTY_ROOT_HASH);
        header.receipts_root = output.receipts_root;
        header.logs_bloom = output.logs_bloom;
        header.gas_used = output.gas_used;
        let senders = block.transactions.iter().map(|t| t.sender).collect();
        let transactions = block
            .transactions
            .into_iter()
            .filter_map(|t| t.envelope)
            .collect();
        Ok(Ok(ExecutedBlock {
            hash: header.hash_slow(),
            header,
            transactions,
            senders,
            receipts: output.receipts,
            deposits: deposits.to_vec(),
            system_logs: output.system_logs,
            changes: Arc::new(output.state),
            trie: layers.is_empty().then_some(root.updates),
            execution_time,
            state_root_time,
            execution_stats,
            executed_at: Instant::now(),
        }))
    }

    fn remember(&mut self, block: ExecutedBlock) -> Arc<ExecutedBlock> {
        let block = Arc::new(block);
        if self.executed.len() >= MAX_EXECUTED {
            // Forget the lowest blocks first: they are the likeliest to be abandoned forks.
            let mut numbers: Vec<(u64, B256)> = self
                .executed
                .values()
                .map(|b| (b.header.number, b.hash))
                .collect();
            numbers.sort_unstable();
            for (_, hash) in numbers.iter().take(self.executed.len() + 1 - MAX_EXECUTED) {
                self.executed.remove(hash);
            }
        }
        self.executed.insert(block.hash, block.clone());
        block
    }

    /// Builds a block on `ctx.parent_hash` from `candidates` (transactions with their
    /// senders, in the order to include them) minting `deposits` first. Transactions that turn
    /// out not to be executable on the parent's state are left out, with every later one of
    /// their sender; deposits the bridge contract refuses are all left out.
    pub fn build(
        &mut self,
        ctx: BlockContext,
        candidates: Vec<(TxEnvelope, Address)>,
        deposits: Vec<Deposit>,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let parent = self
            .header(&ctx.parent_hash)
            .ok_or_else(|| ChainError::UnknownParent(ctx.parent_hash.to_string()))?
            .clone();
        let mut ctx = ctx;
        ctx.timestamp = ctx.timestamp.max(parent.timestamp);
        let mut deposits = deposits;
        let mut template = match self.template(&parent, &ctx, &deposits) {
            Err(InvalidBlock::Deposits(reason)) => {
                warn!(%reason, "leaving the bridge deposits out");
                deposits.clear();
                self.template(&parent, &ctx, &deposits)?
            }
            other => other?,
        };
        let candidates = self.in_nonce_order(ctx.parent_hash, candidates)?;
        let mut txs: Vec<Transaction> = candidates
            .into_iter()
            .take(MAX_BLOCK_TRANSACTIONS)
            .filter(|(tx, _)| !tx.is_eip4844())
            .map(|(tx, sender)| Transaction::from_envelope(tx, sender))
            .collect();
        for attempt in 0..=BUILD_ATTEMPTS {
            let (error, back) =
                match self.execute(template.clone(), std::mem::take(&mut txs), &deposits)? {
                    Ok(block) => {
                        debug!(
                            number = block.header.number,
                            transactions = block.transactions.len(),
                            gas_used = block.header.gas_used,
                            attempt,
                            "block built"
                        );
                        return Ok(self.remember(block));
                    }
                    Err(failed) => failed,
                };
            if let ExecutionError::SystemCall { .. } = &error
                && !deposits.is_empty()
            {
                // The bridge contract refused the deposits (out of order, say): this node's
                // view of Ethereum is ahead of or apart from the chain. Build without them.
                warn!(%error, deposits = deposits.len(), "the bridge refused the deposits: leaving them out");
                deposits.clear();
                template = self.template(&parent, &ctx, &deposits)?;
                txs = back;
                continue;
            }
            if back.is_empty() {
                return Err(InvalidBlock::Execution(error.to_string()).into());
            }
            txs = back;
            match error {
                _ if attempt + 1 >= BUILD_ATTEMPTS => {
                    warn!(%error, "giving up on the candidates: building an empty block");
                    txs.clear();
                }
                ExecutionError::BlockGasLimit { index, .. } => txs.truncate(index),
                ExecutionError::InvalidTransaction { index, ref reason } => {
                    debug!(index, reason, "leaving a transaction out of the block");
                    let sender = txs.get(index).map(|t| t.sender);
                    let mut i = 0;
                    txs.retain(|t| {
                        let keep = i < index || Some(t.sender) != sender;
                        i += 1;
                        keep
                    });
                }
                other => return Err(InvalidBlock::Execution(other.to_string()).into()),
            }
        }
        Err(InvalidBlock::Execution("no block could be built".into()).into())
    }

    /// The nonce of the next bridge deposit to mint on top of `parent`: the bridge contract's
    /// `nextDepositNonce` in the parent's state.
    pub fn next_deposit_nonce(&self, parent: B256) -> Result<u64, ChainError> {
        use parallax_execution::StateView;
        let layers = self.layers(parent)?;
        let reader = self.db.reader()?;
        let base = LatestState::new(&reader);
        let state = LayeredState::new(&base, &layers);
        let next = state
            .storage(L2_BRIDGE_ADDRESS, U256::ZERO)
            .map_err(|e| ChainError::StateRoot(e.0))?;
        Ok(u64::try_from(next).unwrap_or(u64::MAX))
    }

    /// Keeps the candidates whose nonces continue their sender's nonce on the parent's state
    /// without gaps (transactions already in uncommitted ancestors are dropped here, before
    /// execution would refuse them).
    fn in_nonce_order(
        &self,
        parent: B256,
        candidates: Vec<(TxEnvelope, Address)>,
    ) -> Result<Vec<(TxEnvelope, Address)>, ChainError> {
        use alloy_consensus::Transaction as _;
        use parallax_execution::StateView;
        let layers = self.layers(parent)?;
        let reader = self.db.reader()?;
        let base = LatestState::new(&reader);
        let state = LayeredState::new(&base, &layers);
        let mut next: HashMap<Address, u64> = HashMap::new();
        let mut out = Vec::with_capacity(candidates.len());
        for (tx, sender) in candidates {
            let expected = match next.get(&sender) {
                Some(n) => *n,
                None => state
                    .account(sender)
                    .map_err(|e| ChainError::StateRoot(e.0))?
                    .map_or(0, |a| a.nonce),
            };
            if tx.nonce() == expected {
                next.insert(sender, expected + 1);
                out.push((tx, sender));
            } else {
                next.insert(sender, expected);
            }
        }
        Ok(out)
    }

    /// Checks a proposed block: `header` and `transactions` must be exactly what executing
    /// the transactions on the parent gives. `now` is this node's clock in seconds.
    pub fn validate(
        &mut self,
        height: u64,
        author: u32,
        header: &Header,
        transactions: Vec<TxEnvelope>,
        deposits: &[Deposit],
        now: Option<u64>,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        self.validate_with_senders(height, author, header, transactions, deposits, &[], now)
    }

    /// [`Chain::validate`], given the senders already recovered for some transactions
    /// (`known[i]` for transaction `i`, e.g. from the mempool, which recovered them from the
    /// same signed bytes: a transaction hash commits to the signature). The others are
    /// recovered here.
    #[allow(clippy::too_many_arguments)]
    pub fn validate_with_senders(
        &mut self,
        height: u64,
        author: u32,
        header: &Header,
        transactions: Vec<TxEnvelope>,
        deposits: &[Deposit],
        known: &[Option<Address>],
        now: Option<u64>,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let hash = header.hash_slow();
        if let Some(block) = self.executed.get(&hash)
            && block.header.number == height
            && Some(block.header.beneficiary) == self.spec.beneficiary(author)
        {
            // Executed before (built here, or checked already): the same hash is the same
            // header, parent and transactions.
            return Ok(block.clone());
        }
        if header.number != height {
            return Err(InvalidBlock::Height {
                height,
                number: header.number,
            }
            .into());
        }
        let parent = self
            .header(&header.parent_hash)
            .ok_or_else(|| ChainError::UnknownParent(header.parent_hash.to_string()))?
            .clone();
        if let Some(now) = now {
            let max = now + MAX_FUTURE_DRIFT_SECS;
            if header.timestamp < parent.timestamp || header.timestamp > max {
                return Err(InvalidBlock::Timestamp {
                    timestamp: header.timestamp,
                    min: parent.timestamp,
                    max,
                }
                .into());
            }
        } else if header.timestamp < parent.timestamp {
            return Err(InvalidBlock::Timestamp {
                timestamp: header.timestamp,
                min: parent.timestamp,
                max: u64::MAX,
            }
            .into());
        }
        if transactions.len() > MAX_BLOCK_TRANSACTIONS {
            return Err(InvalidBlock::TooManyTransactions(transactions.len()).into());
        }
        if let Some(index) = transactions.iter().position(|t| t.is_eip4844()) {
            return Err(InvalidBlock::Transaction {
                index,
                reason: "blob transactions are not supported".into(),
            }
            .into());
        }
        let ctx = BlockContext {
            parent_hash: header.parent_hash,
            author,
            timestamp: header.timestamp,
        };
        let mut template = self.template(&parent, &ctx, deposits)?;
        template.extra_data = Bytes::new();
        let txs = self.recover_senders(transactions, known)?;
        let block = self
            .execute(template, txs, deposits)?
            .map_err(|(e, _)| InvalidBlock::Execution(e.to_string()))?;
        compare_headers(header, &block.header)?;
        Ok(self.remember(block))
    }

    /// Every transaction with its sender: `known[i]` where given, recovered otherwise.
    fn recover_senders(
        &self,
        transactions: Vec<TxEnvelope>,
        known: &[Option<Address>],
    ) -> Result<Vec<Transaction>, InvalidBlock> {
        let invalid =
            |index: usize, e: parallax_execution::RecoveryError| InvalidBlock::Transaction {
                index,
                reason: parallax_execution::RecoveryError { index, ..e }.to_string(),
            };
        let mut out: Vec<Option<Transaction>> = Vec::with_capacity(transactions.len());
        let mut unknown = Vec::new();
        let mut unknown_at = Vec::new();
        for (i, envelope) in transactions.into_iter().enumerate() {
            match known.get(i).copied().flatten() {
                Some(sender) => out.push(Some(Transaction::from_envelope(envelope, sender))),
                None => {
                    out.push(None);
                    unknown_at.push(i);
                    unknown.push(envelope);
                }
            }
        }
        let recovered = self
            .executor
            .recover_senders(unknown)
            .map_err(|e| invalid(unknown_at[e.index], e))?;
        for (i, tx) in unknown_at.into_iter().zip(recovered) {
            out[i] = Some(tx);
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Writes a committed block: its parent must be the head. `certificate` is the proof of
    /// commit stored with it (for block sync). The block must have been executed by
    /// [`Chain::build`] or [`Chain::validate`].
    pub fn commit(
        &mut self,
        hash: B256,
        certificate: Bytes,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let block =
            self.executed.get(&hash).cloned().ok_or_else(|| {
                ChainError::UnknownParent(format!("block {hash} was not executed"))
            })?;
        if block.header.parent_hash != self.head.hash {
            return Err(ChainError::Fork {
                number: block.header.number,
                hash,
                head: self.head.hash,
            });
        }
        let trie = match &block.trie {
            Some(trie) => trie.clone(),
            None => {
                let reader = self.db.reader()?;
                let mut trie_reader =
                    DbTrieReader::new(&reader).map_err(|e| ChainError::StateRoot(e.to_string()))?;
                let out = state_root(
                    &mut trie_reader,
                    &HashedPostState::from_state_changes(&block.changes),
                )
                .map_err(|e| ChainError::StateRoot(e.to_string()))?;
                if out.root != block.header.state_root {
                    return Err(ChainError::StateRoot(format!(
                        "block {} recomputed root {} differs from {}",
                        block.header.number, out.root, block.header.state_root
                    )));
                }
                out.updates
            }
        };
        let write = BlockWrite {
            header: block.header.clone(),
            hash,
            transactions: block.transactions.clone(),
            receipts: block.receipts.clone(),
            state: (*block.changes).clone(),
            trie,
            certificate: Some(certificate),
            system_logs: block.system_logs.clone(),
        };
        self.db.write_block(&write)?;
        self.head = Arc::new(ExecutedHeader {
            header: block.header.clone(),
            hash,
        });
        let head_number = self.head.header.number;
        self.executed.remove(&hash);
        self.executed.retain(|_, b| b.header.number > head_number);
        info!(
            number = head_number,
            %hash,
            transactions = block.transactions.len(),
            gas_used = block.header.gas_used,
            "block committed"
        );
        Ok(block)
    }
}

/// The first header field that differs, as an error.
fn compare_headers(found: &Header, expected: &Header) -> Result<(), InvalidBlock> {
    macro_rules! check {
        ($($field:ident),*) => {$(
            if found.$field != expected.$field {
                return Err(InvalidBlock::Header {
                    field: stringify!($field),
                    found: format!("{:?}", found.$field),
                    expected: format!("{:?}", expected.$field),
                });
            }
        )*};
    }
    check!(
        parent_hash,
        ommers_hash,
        beneficiary,
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom,
        difficulty,
        number,
        gas_limit,
        gas_used,
        timestamp,
        extra_data,
        mix_hash,
        nonce,
        base_fee_per_gas,
        withdrawals_root,
        blob_gas_used,
        excess_blob_gas,
        parent_beacon_block_root,
        requests_hash
    );
    Ok(())
}

/// What execution mints for a deposit.
fn minted(d: &Deposit) -> parallax_execution::BridgeDeposit {
    parallax_execution::BridgeDeposit {
        nonce: d.nonce,
        l1_token: d.l1_token,
        l1_from: d.l1_from,
        recipient: d.recipient,
        amount: d.amount,
        l1_block: d.l1_block,
        metadata: d.metadata.clone(),
    }
}

#[cfg(test)]
mod tests;
