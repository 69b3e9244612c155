//! [`Api`], one call's view of the chain: every method reads one [`Snapshot`] (one MDBX read
//! transaction in the node), so a call sees one consistent state; and the reads of committed
//! blocks, transactions, receipts and state that the namespaces answer from.

use crate::store::Snapshot;
use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
};
use alloy_consensus::{
    BlockBody, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
    transaction::{Recovered, SignerRecoverable, TransactionInfo},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip4895::Withdrawals};
use alloy_primitives::{Address, B256, U64, U256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt,
};
use serde_json::Value;

/// One call's view: the context and a read snapshot.
pub(crate) struct Api<'a> {
    pub(crate) ctx: &'a RpcContext,
    pub(crate) reader: Box<dyn Snapshot + 'a>,
    /// The snapshot's head number, read once.
    head: std::cell::Cell<Option<u64>>,
    /// A step limit for the EVM methods (see [`evm`](crate::evm)).
    pub(crate) step_limit: Option<u64>,
    /// Set when a call met [`Self::step_limit`] (or was not tried under it): its answer is
    /// not the call's.
    pub(crate) over_budget: std::cell::Cell<bool>,
}

impl<'a> Api<'a> {
    /// A view over `reader`.
    pub(crate) fn new(ctx: &'a RpcContext, reader: Box<dyn Snapshot + 'a>) -> Self {
        Self {
            ctx,
            reader,
            head: std::cell::Cell::new(None),
            step_limit: None,
            over_budget: std::cell::Cell::new(false),
        }
    }
}

/// A pooled transaction as `eth_getTransactionByHash` shows it.
pub(crate) fn pooled_rpc_transaction(tx: &parallax_txpool::PooledTx, hash: B256) -> RpcTransaction {
    RpcTransaction::from_transaction(
        Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        TransactionInfo {
            hash: Some(hash),
            ..Default::default()
        },
    )
}

/// A quantity as geth writes it (`0x`-prefixed hex).
pub(crate) fn hex_u64(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

impl Api<'_> {
    /// A block's transaction count; `None` when there is no such block.
    pub(crate) fn transaction_count_of(&self, n: Option<u64>) -> RpcResult<Option<U64>> {
        let Some(n) = n else {
            return Ok(None);
        };
        let body = self.reader.body(n).map_err(RpcError::internal)?;
        Ok(body.map(|b| U64::from(b.tx_count)))
    }

    /// The transaction at `index` of block `n`, if both exist.
    pub(crate) fn transaction_at(
        &self,
        n: Option<u64>,
        index: U64,
    ) -> RpcResult<Option<RpcTransaction>> {
        let Some(n) = n else {
            return Ok(None);
        };
        let Ok(index) = u32::try_from(index.to::<u64>()) else {
            return Ok(None);
        };
        let Some(tx) = self
            .reader
            .transaction(n, index)
            .map_err(RpcError::internal)?
        else {
            return Ok(None);
        };
        let header = self.header(n)?;
        let hash = header.hash_slow();
        self.rpc_transaction(&header, hash, tx, u64::from(index))
            .map(Some)
    }

    /// The committed head's number (as of this call's snapshot).
    pub(crate) fn head(&self) -> Result<u64, RpcError> {
        if let Some(head) = self.head.get() {
            return Ok(head);
        }
        let head = self
            .reader
            .head_number()
            .map_err(RpcError::internal)?
            .unwrap_or(0);
        self.head.set(Some(head));
        Ok(head)
    }

    /// The header of a stored block.
    pub(crate) fn header(&self, n: u64) -> Result<Header, RpcError> {
        self.reader
            .header(n)
            .map_err(RpcError::internal)?
            .ok_or_else(RpcError::header_not_found)
    }

    /// A block tag's number; `None` when the block does not exist (yet).
    pub(crate) fn number_of_tag(&self, tag: BlockNumberOrTag) -> Result<Option<u64>, RpcError> {
        let head = self.head()?;
        Ok(match tag {
            // BFT finality: the committed head is final, and there is no pending block
            // beyond what the mempool holds.
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized
            | BlockNumberOrTag::Pending => Some(head),
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
        })
    }

    /// A block hash's number; `None` when no committed block has it.
    pub(crate) fn number_of_hash(&self, hash: B256) -> Result<Option<u64>, RpcError> {
        self.reader.block_number(hash).map_err(RpcError::internal)
    }

    /// An EIP-1898 block id's number (committed blocks are all canonical).
    pub(crate) fn number_of_id(&self, id: BlockId) -> Result<Option<u64>, RpcError> {
        match id {
            BlockId::Hash(h) => self.number_of_hash(h.block_hash),
            BlockId::Number(tag) => self.number_of_tag(tag),
        }
    }

    /// The block whose post-state a state method reads (`latest` when absent); geth's
    /// "header not found" when there is no such block.
    pub(crate) fn state_block(&self, id: Option<BlockId>) -> Result<u64, RpcError> {
        let id = id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
        match &id {
            BlockId::Hash(h) => self
                .number_of_hash(h.block_hash)?
                .ok_or_else(|| RpcError::server("header for hash not found")),
            BlockId::Number(_) => self
                .number_of_id(id)?
                .ok_or_else(RpcError::header_not_found),
        }
    }

    /// The account after block `n` (empty when it does not exist).
    pub(crate) fn account_at(
        &self,
        address: Address,
        n: u64,
    ) -> Result<parallax_storage_api::Account, RpcError> {
        let account = if n == self.head()? {
            self.reader.account(address)
        } else {
            self.reader.account_at(address, n)
        }
        .map_err(RpcError::internal)?;
        Ok(account.unwrap_or_default())
    }

    /// A block as `eth_getBlockBy*` returns it.
    pub(crate) fn block(&self, n: u64, full: bool) -> Result<RpcBlock, RpcError> {
        let header = self.header(n)?;
        let txs = self
            .reader
            .transactions(n)
            .map_err(RpcError::internal)?
            .unwrap_or_default();
        let hash = header.hash_slow();
        let body = BlockBody {
            transactions: txs,
            ommers: Vec::new(),
            withdrawals: header.withdrawals_root.map(|_| Withdrawals::default()),
        };
        let size = alloy_consensus::Block::<TxEnvelope>::rlp_length_for(&header, &body);
        let withdrawals = body.withdrawals.clone();
        let transactions = if full {
            let mut list = Vec::with_capacity(body.transactions.len());
            for (i, tx) in body.transactions.into_iter().enumerate() {
                list.push(self.rpc_transaction(&header, hash, tx, i as u64)?);
            }
            BlockTransactions::Full(list)
        } else {
            BlockTransactions::Hashes(body.transactions.iter().map(|t| *t.tx_hash()).collect())
        };
        Ok(RpcBlock {
            header: RpcHeader {
                hash,
                inner: header,
                total_difficulty: Some(U256::ZERO),
                size: Some(U256::from(size)),
            },
            uncles: Vec::new(),
            transactions,
            withdrawals,
        })
    }

    /// A newHeads notification's header.
    pub(crate) fn rpc_header(&self, n: u64) -> Result<Value, RpcError> {
        let header = self.header(n)?;
        let hash = header.hash_slow();
        let rpc = RpcHeader {
            hash,
            inner: header,
            total_difficulty: Some(U256::ZERO),
            size: None,
        };
        serde_json::to_value(rpc).map_err(RpcError::internal)
    }

    pub(crate) fn rpc_transaction(
        &self,
        header: &Header,
        block_hash: B256,
        tx: TxEnvelope,
        index: u64,
    ) -> Result<RpcTransaction, RpcError> {
        let from = tx
            .recover_signer()
            .map_err(|e| RpcError::internal(format!("stored transaction: {e}")))?;
        let hash = *tx.tx_hash();
        Ok(RpcTransaction::from_transaction(
            Recovered::new_unchecked(tx, from),
            TransactionInfo {
                hash: Some(hash),
                index: Some(index),
                block_hash: Some(block_hash),
                block_number: Some(header.number),
                base_fee: header.base_fee_per_gas,
                block_timestamp: None,
            },
        ))
    }

    /// Block `n`'s transactions and receipts, in order (empty when it is not stored).
    pub(crate) fn transactions_and_receipts(
        &self,
        n: u64,
    ) -> Result<(Vec<TxEnvelope>, Vec<ReceiptEnvelope>), RpcError> {
        let txs = self
            .reader
            .transactions(n)
            .map_err(RpcError::internal)?
            .unwrap_or_default();
        let receipts = self
            .reader
            .receipts(n)
            .map_err(RpcError::internal)?
            .unwrap_or_default();
        Ok((txs, receipts))
    }

    /// The receipts of block `n`, as `eth_getTransactionReceipt` returns each; with `only`,
    /// just that transaction's (the others are walked for their gas and log positions, but
    /// their senders are not recovered).
    pub(crate) fn receipts(
        &self,
        n: u64,
        only: Option<usize>,
    ) -> Result<Vec<TransactionReceipt>, RpcError> {
        let header = self.header(n)?;
        let block_hash = header.hash_slow();
        let (txs, receipts) = self.transactions_and_receipts(n)?;
        let mut out = Vec::with_capacity(receipts.len());
        let mut previous_gas = 0u64;
        let mut log_index = 0u64;
        for (i, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
            if only.is_some_and(|only| only != i) {
                previous_gas = receipt.cumulative_gas_used();
                log_index += receipt.logs().len() as u64;
                continue;
            }
            let from = tx
                .recover_signer()
                .map_err(|e| RpcError::internal(format!("stored transaction: {e}")))?;
            let hash = *tx.tx_hash();
            let cumulative = receipt.cumulative_gas_used();
            let gas_used = cumulative.saturating_sub(previous_gas);
            previous_gas = cumulative;
            let contract_address = tx.to().is_none().then(|| from.create(tx.nonce()));
            let inner: ReceiptEnvelope<RpcLog> = receipt.map_logs(|log| {
                let rpc = RpcLog {
                    inner: log,
                    block_hash: Some(block_hash),
                    block_number: Some(n),
                    block_timestamp: Some(header.timestamp),
                    transaction_hash: Some(hash),
                    transaction_index: Some(i as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                log_index += 1;
                rpc
            });
            let rpc = TransactionReceipt {
                inner,
                transaction_hash: hash,
                transaction_index: Some(i as u64),
                block_hash: Some(block_hash),
                block_number: Some(n),
                gas_used,
                effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
                blob_gas_used: None,
                blob_gas_price: None,
                from,
                to: tx.to(),
                contract_address,
            };
            out.push(rpc);
        }
        Ok(out)
    }
}

/// `web3_clientVersion`.
pub(crate) fn client_version() -> String {
    format!(
        "parallax/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
