//! The `eth_` namespace ([`EthApiServer`] for [`Rpc`]) and its reads of committed blocks,
//! transactions, receipts and state, and [`Api`], one call's view of the database: every
//! method reads one MDBX snapshot, so a call sees one consistent state. The EVM methods are
//! in [`evm`](crate::evm), fees in [`fees`](crate::fees), logs in [`logs`](crate::logs),
//! filters in [`filters`](crate::filters) and subscriptions in [`pubsub`](crate::pubsub).

use crate::{
    RpcContext,
    api::{EthApiServer, Rpc, RpcResult},
    error::RpcError,
    fees::next_base_fee,
    filters,
    params::{End, Quantity, StorageKey},
};
use alloy_consensus::{
    BlockBody, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
    transaction::{Recovered, SignerRecoverable, TransactionInfo},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718, eip4895::Withdrawals};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockOverrides, BlockTransactions, EIP1186AccountProofResponse, Filter,
    Header as RpcHeader, Log as RpcLog, Transaction as RpcTransaction, TransactionReceipt,
    TransactionRequest, state::StateOverride,
};
use alloy_serde::storage::JsonStorageKey;
use jsonrpsee::{PendingSubscriptionSink, core::SubscriptionResult};
use parallax_storage::Reader;
use serde_json::Value;

/// One call's view: the context and a read snapshot.
pub(crate) struct Api<'a> {
    pub(crate) ctx: &'a RpcContext,
    pub(crate) reader: Reader<'a>,
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
    pub(crate) fn new(ctx: &'a RpcContext, reader: Reader<'a>) -> Self {
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

#[jsonrpsee::core::async_trait]
impl EthApiServer for Rpc {
    // The driver publishes the head after writing it, so every block up to this number can
    // be read; no database transaction is needed.
    fn chain_id(&self, _: Option<End<0>>) -> RpcResult<U64> {
        Ok(U64::from(self.ctx.spec.chain_id))
    }

    // Committed blocks are final and a node serves only what it committed.
    fn syncing(&self, _: Option<End<0>>) -> RpcResult<bool> {
        Ok(false)
    }

    fn block_number(&self, _: Option<End<0>>) -> RpcResult<U64> {
        Ok(U64::from(self.ctx.node.head_number()))
    }

    fn accounts(&self, _: Option<End<0>>) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn coinbase(&self, _: Option<End<0>>) -> RpcResult<Address> {
        Err(RpcError::server("etherbase must be explicitly specified"))
    }

    fn mining(&self, _: Option<End<0>>) -> RpcResult<bool> {
        Ok(false)
    }

    fn hashrate(&self, _: Option<End<0>>) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }

    async fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: Option<bool>,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>> {
        self.blocking(move |api| match api.number_of_tag(block)? {
            Some(n) => api.block(n, full.unwrap_or(false)).map(Some),
            None => Ok(None),
        })
        .await
    }

    async fn block_by_hash(
        &self,
        hash: B256,
        full: Option<bool>,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>> {
        self.blocking(move |api| match api.number_of_hash(hash)? {
            Some(n) => api.block(n, full.unwrap_or(false)).map(Some),
            None => Ok(None),
        })
        .await
    }

    fn block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
        _: Option<End<1>>,
    ) -> RpcResult<Option<U64>> {
        self.read(|api| {
            let n = api.number_of_tag(block)?;
            api.transaction_count_of(n)
        })
    }

    fn block_transaction_count_by_hash(
        &self,
        hash: B256,
        _: Option<End<1>>,
    ) -> RpcResult<Option<U64>> {
        self.read(|api| {
            let n = api.number_of_hash(hash)?;
            api.transaction_count_of(n)
        })
    }

    async fn uncle_count_by_number(
        &self,
        block: BlockNumberOrTag,
        _: Option<End<1>>,
    ) -> RpcResult<Option<U64>> {
        self.blocking(move |api| Ok(api.number_of_tag(block)?.map(|_| U64::ZERO)))
            .await
    }

    async fn uncle_count_by_hash(&self, hash: B256, _: Option<End<1>>) -> RpcResult<Option<U64>> {
        self.blocking(move |api| Ok(api.number_of_hash(hash)?.map(|_| U64::ZERO)))
            .await
    }

    fn uncle_by_number_and_index(
        &self,
        _: BlockNumberOrTag,
        _: U64,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>> {
        Ok(None)
    }

    fn uncle_by_hash_and_index(
        &self,
        _: B256,
        _: U64,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>> {
        Ok(None)
    }

    async fn transaction_by_hash(
        &self,
        hash: B256,
        _: Option<End<1>>,
    ) -> RpcResult<Option<RpcTransaction>> {
        self.blocking(move |api| {
            if let Some(found) = api
                .reader
                .transaction_by_hash(hash)
                .map_err(RpcError::internal)?
            {
                let header = api.header(found.location.block_number)?;
                let index = u64::from(found.location.index);
                let hash = header.hash_slow();
                return api
                    .rpc_transaction(&header, hash, found.transaction, index)
                    .map(Some);
            }
            // Still pending?
            Ok(api
                .ctx
                .node
                .pooled_transaction(&hash)
                .map(|tx| pooled_rpc_transaction(&tx, hash)))
        })
        .await
    }

    async fn raw_transaction_by_hash(
        &self,
        hash: B256,
        _: Option<End<1>>,
    ) -> RpcResult<Option<Bytes>> {
        self.blocking(move |api| {
            if let Some(found) = api
                .reader
                .transaction_by_hash(hash)
                .map_err(RpcError::internal)?
            {
                return Ok(Some(Bytes::from(found.transaction.encoded_2718())));
            }
            Ok(api
                .ctx
                .node
                .pooled_transaction(&hash)
                .map(|tx| tx.encoded.clone()))
        })
        .await
    }

    async fn transaction_by_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcTransaction>> {
        self.blocking(move |api| {
            let n = api.number_of_tag(block)?;
            api.transaction_at(n, index)
        })
        .await
    }

    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: U64,
        _: Option<End<2>>,
    ) -> RpcResult<Option<RpcTransaction>> {
        self.blocking(move |api| {
            let n = api.number_of_hash(hash)?;
            api.transaction_at(n, index)
        })
        .await
    }

    async fn transaction_receipt(
        &self,
        hash: B256,
        _: Option<End<1>>,
    ) -> RpcResult<Option<TransactionReceipt>> {
        self.blocking(move |api| {
            let Some(found) = api
                .reader
                .transaction_by_hash(hash)
                .map_err(RpcError::internal)?
            else {
                return Ok(None);
            };
            let n = found.location.block_number;
            let index = found.location.index as usize;
            Ok(api.receipts(n, Some(index))?.into_iter().next())
        })
        .await
    }

    async fn block_receipts(
        &self,
        block: BlockId,
        _: Option<End<1>>,
    ) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        self.blocking(move |api| match api.number_of_id(block)? {
            Some(n) => api.receipts(n, None).map(Some),
            None => Ok(None),
        })
        .await
    }

    fn balance(
        &self,
        address: Address,
        block: Option<BlockId>,
        _: Option<End<2>>,
    ) -> RpcResult<U256> {
        self.read(|api| {
            let n = api.state_block(block)?;
            Ok(api.account_at(address, n)?.balance)
        })
    }

    fn transaction_count(
        &self,
        address: Address,
        block: Option<BlockId>,
        _: Option<End<2>>,
    ) -> RpcResult<U64> {
        self.read(|api| {
            let n = api.state_block(block)?;
            let nonce = api.account_at(address, n)?.nonce;
            let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
            Ok(U64::from(if pending {
                api.ctx.node.pending_nonce(address, nonce)
            } else {
                nonce
            }))
        })
    }

    fn code(
        &self,
        address: Address,
        block: Option<BlockId>,
        _: Option<End<2>>,
    ) -> RpcResult<Bytes> {
        self.read(|api| {
            let n = api.state_block(block)?;
            let account = api.account_at(address, n)?;
            if account.code_hash == alloy_primitives::KECCAK256_EMPTY {
                return Ok(Bytes::new());
            }
            Ok(api
                .reader
                .bytecode(account.code_hash)
                .map_err(RpcError::internal)?
                .unwrap_or_default())
        })
    }

    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
        _: Option<End<3>>,
    ) -> RpcResult<B256> {
        self.read(|api| {
            let n = api.state_block(block)?;
            let slot = B256::from(slot.0);
            let value = if n == api.head()? {
                api.reader.storage(address, slot)
            } else {
                api.reader.storage_at(address, slot, n)
            }
            .map_err(RpcError::internal)?;
            Ok(B256::from(value))
        })
    }

    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        header: Option<BlockOverrides>,
        _: Option<End<4>>,
    ) -> RpcResult<Bytes> {
        let call = crate::evm::Call {
            request,
            block,
            state,
            header,
        };
        // A short call is answered here; a longer one (or one over past state) goes on to
        // the pool.
        let inline = {
            let reader = self.ctx.db.reader().map_err(RpcError::internal)?;
            Api::new(&self.ctx, reader).try_call_inline(&call)
        };
        if let Some(answer) = inline {
            return answer;
        }
        self.blocking(move |api| api.call(&call)).await
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        _: Option<End<3>>,
    ) -> RpcResult<U64> {
        let call = crate::evm::Call {
            request,
            block,
            state,
            header: None,
        };
        self.blocking(move |api| api.estimate_gas(&call)).await
    }

    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        _: Option<End<3>>,
    ) -> RpcResult<Value> {
        let call = crate::evm::Call {
            request,
            block,
            state,
            header: None,
        };
        self.blocking(move |api| api.create_access_list(&call))
            .await
    }

    async fn proof(
        &self,
        address: Address,
        slots: Vec<JsonStorageKey>,
        block: Option<BlockId>,
        _: Option<End<3>>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        self.blocking(move |api| api.proof(address, slots, block))
            .await
    }

    async fn gas_price(&self, _: Option<End<0>>) -> RpcResult<U256> {
        self.blocking(|api| {
            let head = api.header(api.head()?)?;
            let next = next_base_fee(&head);
            Ok(U256::from(u128::from(next) + api.suggested_tip()?))
        })
        .await
    }

    async fn max_priority_fee_per_gas(&self, _: Option<End<0>>) -> RpcResult<U256> {
        self.blocking(|api| Ok(U256::from(api.suggested_tip()?)))
            .await
    }

    async fn fee_history(
        &self,
        count: Quantity,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
        _: Option<End<3>>,
    ) -> RpcResult<Value> {
        self.blocking(move |api| api.fee_history(count.0, newest, percentiles))
            .await
    }

    fn blob_base_fee(&self, _: Option<End<0>>) -> RpcResult<U64> {
        Ok(U64::from(1))
    }

    async fn send_raw_transaction(&self, raw: Bytes, _: Option<End<1>>) -> RpcResult<B256> {
        // Signature recovery is CPU work: on the pool.
        self.blocking(move |api| {
            api.ctx
                .node
                .submit_transaction(&raw)
                .map_err(|e| RpcError::server(e.to_string()))
        })
        .await
    }

    async fn logs(&self, filter: Filter, _: Option<End<1>>) -> RpcResult<Vec<RpcLog>> {
        self.blocking(move |api| api.logs(&filter)).await
    }

    async fn new_filter(&self, filter: Filter, _: Option<End<1>>) -> RpcResult<String> {
        self.blocking(move |api| {
            // Check the range now, as geth does, so a bad filter fails at install.
            api.log_range(&filter)?;
            let next = api.head()? + 1;
            api.ctx.filters.install(
                filters::Kind::Logs {
                    filter: Box::new(filter),
                    next,
                },
                &api.ctx.limits,
            )
        })
        .await
    }

    async fn new_block_filter(&self, _: Option<End<0>>) -> RpcResult<String> {
        self.blocking(|api| {
            let next = api.head()? + 1;
            api.ctx
                .filters
                .install(filters::Kind::Blocks { next }, &api.ctx.limits)
        })
        .await
    }

    async fn new_pending_transaction_filter(&self, _: Option<End<0>>) -> RpcResult<String> {
        self.ctx.filters.install(
            filters::Kind::Pending {
                hashes: Default::default(),
            },
            &self.ctx.limits,
        )
    }

    async fn filter_changes(&self, id: String, _: Option<End<1>>) -> RpcResult<Value> {
        self.blocking(move |api| filters::changes(api, &id)).await
    }

    async fn filter_logs(&self, id: String, _: Option<End<1>>) -> RpcResult<Vec<RpcLog>> {
        self.blocking(move |api| {
            let filter = api.ctx.filters.log_filter(&id)?;
            api.logs(&filter)
        })
        .await
    }

    fn uninstall_filter(&self, id: String, _: Option<End<1>>) -> RpcResult<bool> {
        Ok(self.ctx.filters.uninstall(&id))
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        options: Option<Value>,
    ) -> SubscriptionResult {
        crate::pubsub::subscribe(&self.ctx, pending, kind, options).await;
        Ok(())
    }
}

impl Api<'_> {
    /// A block's transaction count; `None` when there is no such block.
    fn transaction_count_of(&self, n: Option<u64>) -> RpcResult<Option<U64>> {
        let Some(n) = n else {
            return Ok(None);
        };
        let body = self.reader.body(n).map_err(RpcError::internal)?;
        Ok(body.map(|b| U64::from(b.tx_count)))
    }

    /// The transaction at `index` of block `n`, if both exist.
    fn transaction_at(&self, n: Option<u64>, index: U64) -> RpcResult<Option<RpcTransaction>> {
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
    ) -> Result<parallax_storage::Account, RpcError> {
        let account = if n == self.head()? {
            self.reader.account(address)
        } else {
            self.reader.account_at(address, n)
        }
        .map_err(RpcError::internal)?;
        Ok(account.unwrap_or_default())
    }

    /// A block as `eth_getBlockBy*` returns it.
    fn block(&self, n: u64, full: bool) -> Result<RpcBlock, RpcError> {
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
    fn receipts(&self, n: u64, only: Option<usize>) -> Result<Vec<TransactionReceipt>, RpcError> {
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
