//! The `eth_` namespace ([`EthApiServer`] for [`Rpc`]), answered from [`Api`]'s reads
//! (`read`). The EVM methods are in [`evm`](crate::evm), fees in [`fees`](crate::fees), logs
//! in [`logs`](crate::logs), filters in [`filters`](crate::filters) and subscriptions in
//! [`pubsub`](crate::pubsub).

use crate::{
    api::{EthApiServer, Rpc},
    error::{RpcError, RpcResult},
    fees::next_base_fee,
    filters,
    params::{End, Quantity, StorageKey},
    read::{Api, pooled_rpc_transaction},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockOverrides, EIP1186AccountProofResponse, Filter, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt, TransactionRequest, state::StateOverride,
};
use alloy_serde::storage::JsonStorageKey;
use jsonrpsee::{PendingSubscriptionSink, core::SubscriptionResult};
use serde_json::Value;

/// One call's view: the context and a read snapshot.

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
            let reader = self.ctx.db.snapshot().map_err(RpcError::internal)?;
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
