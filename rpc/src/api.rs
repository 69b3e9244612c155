//! The namespaces the server answers, one `jsonrpsee` trait each: the one place that names a
//! method and declares its parameters and result. `web3`, `net`, `txpool` and `parallax` are
//! implemented here; `eth` in [`eth`](crate::eth), answering from [`read`](crate::read)
//! (one snapshot's reads of blocks and state), [`evm`](crate::evm), [`fees`](crate::fees),
//! [`logs`](crate::logs), [`filters`](crate::filters) and [`pubsub`](crate::pubsub).
//!
//! Parameters are decoded by serde in order; the [`middleware`](crate::middleware) turns
//! jsonrpsee's decoding errors into geth's words. A trailing [`End<N>`] parameter declares
//! that a method takes at most `N` arguments (geth refuses more; jsonrpsee alone would ignore
//! them).
//!
//! Where a method runs: point reads (a few keys) on the async worker through [`Rpc::read`];
//! everything that walks ranges or runs the EVM on the bounded blocking pool through
//! [`Rpc::blocking`]; `eth_call` is first tried inline under a step budget.

use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
    params::{End, Quantity, StorageKey},
    read::{Api, client_version, hex_u64},
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockOverrides, EIP1186AccountProofResponse, Filter, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt, TransactionRequest, state::StateOverride,
};
use alloy_serde::storage::JsonStorageKey;
use jsonrpsee::{core::SubscriptionResult, proc_macros::rpc};
use serde_json::{Value, json};

/// `web3_`.
#[rpc(server, namespace = "web3")]
pub(crate) trait Web3Api {
    /// The client's name and version.
    #[method(name = "clientVersion")]
    fn client_version(&self, end: Option<End<0>>) -> RpcResult<String>;
    /// keccak256 of the data.
    #[method(name = "sha3")]
    fn sha3(&self, data: Bytes, end: Option<End<1>>) -> RpcResult<B256>;
}

/// `net_`.
#[rpc(server, namespace = "net")]
pub(crate) trait NetApi {
    /// The chain id, in decimal.
    #[method(name = "version")]
    fn version(&self, end: Option<End<0>>) -> RpcResult<String>;
    /// Always true: a node serving RPC listens (geth's answer).
    #[method(name = "listening")]
    fn listening(&self, end: Option<End<0>>) -> RpcResult<bool>;
    /// Connected peers.
    #[method(name = "peerCount")]
    async fn peer_count(&self, end: Option<End<0>>) -> RpcResult<U64>;
}

/// `eth_`.
#[rpc(server, namespace = "eth")]
pub(crate) trait EthApi {
    /// The chain id.
    #[method(name = "chainId")]
    fn chain_id(&self, end: Option<End<0>>) -> RpcResult<U64>;
    /// Always false: a node serves only what it committed.
    #[method(name = "syncing")]
    fn syncing(&self, end: Option<End<0>>) -> RpcResult<bool>;
    /// The committed head's number.
    #[method(name = "blockNumber")]
    fn block_number(&self, end: Option<End<0>>) -> RpcResult<U64>;
    /// No accounts: the node holds no user keys.
    #[method(name = "accounts")]
    fn accounts(&self, end: Option<End<0>>) -> RpcResult<Vec<Address>>;
    /// geth's refusal: there is no etherbase.
    #[method(name = "coinbase")]
    fn coinbase(&self, end: Option<End<0>>) -> RpcResult<Address>;
    /// Always false.
    #[method(name = "mining")]
    fn mining(&self, end: Option<End<0>>) -> RpcResult<bool>;
    /// Always zero.
    #[method(name = "hashrate")]
    fn hashrate(&self, end: Option<End<0>>) -> RpcResult<U64>;

    /// A block by number or tag.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: Option<bool>,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>>;
    /// A block by hash.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(
        &self,
        hash: B256,
        full: Option<bool>,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>>;
    /// A block's transaction count, by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
        end: Option<End<1>>,
    ) -> RpcResult<Option<U64>>;
    /// A block's transaction count, by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(
        &self,
        hash: B256,
        end: Option<End<1>>,
    ) -> RpcResult<Option<U64>>;
    /// Zero for a known block: there are no uncles.
    #[method(name = "getUncleCountByBlockNumber")]
    async fn uncle_count_by_number(
        &self,
        block: BlockNumberOrTag,
        end: Option<End<1>>,
    ) -> RpcResult<Option<U64>>;
    /// Zero for a known block: there are no uncles.
    #[method(name = "getUncleCountByBlockHash")]
    async fn uncle_count_by_hash(&self, hash: B256, end: Option<End<1>>) -> RpcResult<Option<U64>>;
    /// Always null: there are no uncles.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    fn uncle_by_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>>;
    /// Always null: there are no uncles.
    #[method(name = "getUncleByBlockHashAndIndex")]
    fn uncle_by_hash_and_index(
        &self,
        hash: B256,
        index: U64,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcBlock>>;
    /// A committed or pooled transaction.
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(
        &self,
        hash: B256,
        end: Option<End<1>>,
    ) -> RpcResult<Option<RpcTransaction>>;
    /// A committed or pooled transaction's EIP-2718 bytes.
    #[method(name = "getRawTransactionByHash")]
    async fn raw_transaction_by_hash(
        &self,
        hash: B256,
        end: Option<End<1>>,
    ) -> RpcResult<Option<Bytes>>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcTransaction>>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: U64,
        end: Option<End<2>>,
    ) -> RpcResult<Option<RpcTransaction>>;
    /// A committed transaction's receipt.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(
        &self,
        hash: B256,
        end: Option<End<1>>,
    ) -> RpcResult<Option<TransactionReceipt>>;
    /// All receipts of a block.
    #[method(name = "getBlockReceipts")]
    async fn block_receipts(
        &self,
        block: BlockId,
        end: Option<End<1>>,
    ) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    /// An account's balance after a block.
    #[method(name = "getBalance")]
    fn balance(
        &self,
        address: Address,
        block: Option<BlockId>,
        end: Option<End<2>>,
    ) -> RpcResult<U256>;
    /// An account's nonce after a block (`pending`: after its pooled transactions).
    #[method(name = "getTransactionCount")]
    fn transaction_count(
        &self,
        address: Address,
        block: Option<BlockId>,
        end: Option<End<2>>,
    ) -> RpcResult<U64>;
    /// An account's code after a block.
    #[method(name = "getCode")]
    fn code(
        &self,
        address: Address,
        block: Option<BlockId>,
        end: Option<End<2>>,
    ) -> RpcResult<Bytes>;
    /// A storage slot after a block.
    #[method(name = "getStorageAt")]
    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
        end: Option<End<3>>,
    ) -> RpcResult<B256>;

    /// Runs a call over the state after a block.
    #[method(name = "call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        header: Option<BlockOverrides>,
        end: Option<End<4>>,
    ) -> RpcResult<Bytes>;
    /// The exact smallest gas limit with which a call succeeds.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        end: Option<End<3>>,
    ) -> RpcResult<U64>;
    /// What a call touches, and its gas.
    #[method(name = "createAccessList")]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        end: Option<End<3>>,
    ) -> RpcResult<Value>;
    /// An EIP-1186 proof of an account and storage slots after a block.
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        slots: Vec<JsonStorageKey>,
        block: Option<BlockId>,
        end: Option<End<3>>,
    ) -> RpcResult<EIP1186AccountProofResponse>;

    /// The next base fee plus the suggested tip.
    #[method(name = "gasPrice")]
    async fn gas_price(&self, end: Option<End<0>>) -> RpcResult<U256>;
    /// The suggested tip (geth's oracle).
    #[method(name = "maxPriorityFeePerGas")]
    async fn max_priority_fee_per_gas(&self, end: Option<End<0>>) -> RpcResult<U256>;
    /// Base fees, gas used and reward percentiles of recent blocks.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        count: Quantity,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
        end: Option<End<3>>,
    ) -> RpcResult<Value>;
    /// The blob base fee: blobs are not used, so the minimum.
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self, end: Option<End<0>>) -> RpcResult<U64>;
    /// Admits a signed transaction into the pool.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes, end: Option<End<1>>) -> RpcResult<B256>;

    /// The logs matching a filter over a bounded range.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter, end: Option<End<1>>) -> RpcResult<Vec<RpcLog>>;
    /// Installs a log filter.
    #[method(name = "newFilter")]
    async fn new_filter(&self, filter: Filter, end: Option<End<1>>) -> RpcResult<String>;
    /// Installs a filter of new block hashes.
    #[method(name = "newBlockFilter")]
    async fn new_block_filter(&self, end: Option<End<0>>) -> RpcResult<String>;
    /// Installs a filter of hashes entering the pool.
    #[method(name = "newPendingTransactionFilter")]
    async fn new_pending_transaction_filter(&self, end: Option<End<0>>) -> RpcResult<String>;
    /// What a filter saw since its last poll.
    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: String, end: Option<End<1>>) -> RpcResult<Value>;
    /// All logs of a log filter's range.
    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: String, end: Option<End<1>>) -> RpcResult<Vec<RpcLog>>;
    /// Removes a filter; whether it existed.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: String, end: Option<End<1>>) -> RpcResult<bool>;

    /// `newHeads`, `logs` (with a filter) or `newPendingTransactions` (hashes, or whole
    /// transactions with `true`), on a WebSocket.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = Value)]
    async fn subscribe(&self, kind: String, options: Option<Value>) -> SubscriptionResult;
}

/// `txpool_`.
#[rpc(server, namespace = "txpool")]
pub(crate) trait TxPoolApi {
    /// geth's counts: ready transactions are `pending`, the rest `queued`.
    #[method(name = "status")]
    fn status(&self, end: Option<End<0>>) -> RpcResult<Value>;
}

/// `parallax_`: the validator set, consensus, evidence and the bridge.
#[rpc(server, namespace = "parallax")]
pub(crate) trait ParallaxApi {
    /// The genesis validator set.
    #[method(name = "validators")]
    fn validators(&self, end: Option<End<0>>) -> RpcResult<Value>;
    /// Consensus figures as the node last published them.
    #[method(name = "consensusStatus")]
    fn consensus_status(&self, end: Option<End<0>>) -> RpcResult<Value>;
    /// The equivocation evidence this node holds.
    #[method(name = "evidence")]
    fn evidence(
        &self,
        query: Option<crate::consensus::EvidenceQuery>,
        end: Option<End<1>>,
    ) -> RpcResult<Value>;
    /// The bridge's state, and one transfer's when asked.
    #[method(name = "bridgeStatus")]
    async fn bridge_status(
        &self,
        query: Option<crate::bridge::StatusQuery>,
        end: Option<End<1>>,
    ) -> RpcResult<Value>;
    /// What finalizing a withdrawal on Ethereum takes.
    #[method(name = "getWithdrawalProof")]
    fn withdrawal_proof(&self, id: Quantity, end: Option<End<1>>) -> RpcResult<Value>;
}

/// The handlers: every namespace is implemented on this one type.
#[derive(Clone)]
pub(crate) struct Rpc {
    pub(crate) ctx: RpcContext,
}

impl Rpc {
    /// Runs `f` over a read snapshot on this async worker: for point reads, which cost less
    /// than handing the call to the blocking pool and waking a thread for it.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Api<'_>) -> RpcResult<T>) -> RpcResult<T> {
        let reader = self.ctx.db.snapshot().map_err(RpcError::internal)?;
        f(&Api::new(&self.ctx, reader))
    }

    /// Runs `f` over a read snapshot on the bounded blocking pool; a panic in it answers
    /// -32603.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Api<'_>) -> RpcResult<T> + Send + 'static,
    ) -> RpcResult<T> {
        let Ok(_permit) = self.ctx.blocking.acquire().await else {
            return Err(RpcError::internal("the server is stopping"));
        };
        let ctx = self.ctx.clone();
        tokio::task::spawn_blocking(move || {
            let reader = ctx.db.snapshot().map_err(RpcError::internal)?;
            f(&Api::new(&ctx, reader))
        })
        .await
        .unwrap_or_else(|e| Err(RpcError::internal(format!("handler failed: {e}"))))
    }
}

/// Every namespace's methods, in one router.
pub(crate) fn methods(
    rpc: Rpc,
) -> Result<jsonrpsee::Methods, jsonrpsee::core::RegisterMethodError> {
    let mut module = jsonrpsee::RpcModule::new(());
    module.merge(Web3ApiServer::into_rpc(rpc.clone()))?;
    module.merge(NetApiServer::into_rpc(rpc.clone()))?;
    module.merge(EthApiServer::into_rpc(rpc.clone()))?;
    module.merge(TxPoolApiServer::into_rpc(rpc.clone()))?;
    module.merge(ParallaxApiServer::into_rpc(rpc))?;
    Ok(module.into())
}

#[jsonrpsee::core::async_trait]
impl Web3ApiServer for Rpc {
    fn client_version(&self, _: Option<End<0>>) -> RpcResult<String> {
        Ok(client_version())
    }

    fn sha3(&self, data: Bytes, _: Option<End<1>>) -> RpcResult<B256> {
        Ok(keccak256(&data))
    }
}

#[jsonrpsee::core::async_trait]
impl NetApiServer for Rpc {
    fn version(&self, _: Option<End<0>>) -> RpcResult<String> {
        Ok(self.ctx.spec.chain_id.to_string())
    }

    fn listening(&self, _: Option<End<0>>) -> RpcResult<bool> {
        Ok(true)
    }

    async fn peer_count(&self, _: Option<End<0>>) -> RpcResult<U64> {
        let peers = match &self.ctx.net {
            Some(net) => net.peers().await.len(),
            None => 0,
        };
        Ok(U64::from(peers))
    }
}

#[jsonrpsee::core::async_trait]
impl TxPoolApiServer for Rpc {
    fn status(&self, _: Option<End<0>>) -> RpcResult<Value> {
        let (pending, queued) = self.ctx.node.pool_counts();
        Ok(json!({
            "pending": hex_u64(pending as u64),
            "queued": hex_u64(queued as u64),
        }))
    }
}

#[jsonrpsee::core::async_trait]
impl ParallaxApiServer for Rpc {
    fn validators(&self, _: Option<End<0>>) -> RpcResult<Value> {
        Ok(Value::Array(
            self.ctx
                .spec
                .validators
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    json!({
                        "index": i,
                        "name": v.name,
                        "consensusKey": format!("0x{}", hex::encode(v.consensus_key.to_bytes())),
                        "bridgeAddress": v.bridge_address,
                        "votingPower": hex_u64(v.voting_power),
                        "peerId": v.peer_id.to_string(),
                    })
                })
                .collect(),
        ))
    }

    fn consensus_status(&self, _: Option<End<0>>) -> RpcResult<Value> {
        let head = self.read(|api| api.head())?;
        let s = self.ctx.node.consensus_status();
        Ok(json!({
            "head": hex_u64(head),
            "round": hex_u64(s.round),
            "leader": s.leader,
            "highestQcRound": hex_u64(s.highest_qc_round),
            "committedRound": hex_u64(s.committed_round),
            "lockedRound": hex_u64(s.locked_round),
            "lastVotedRound": hex_u64(s.last_voted_round),
            "lastCommitMs": (s.last_commit_ms != 0).then_some(s.last_commit_ms),
            "commits": s.commits,
            "mempoolSize": s.mempool_size,
        }))
    }

    fn evidence(
        &self,
        query: Option<crate::consensus::EvidenceQuery>,
        _: Option<End<1>>,
    ) -> RpcResult<Value> {
        crate::consensus::evidence(&self.ctx, query.unwrap_or_default())
    }

    async fn bridge_status(
        &self,
        query: Option<crate::bridge::StatusQuery>,
        _: Option<End<1>>,
    ) -> RpcResult<Value> {
        crate::bridge::status(&self.ctx, query.unwrap_or_default()).await
    }

    fn withdrawal_proof(&self, id: Quantity, _: Option<End<1>>) -> RpcResult<Value> {
        crate::bridge::withdrawal_proof_rpc(&self.ctx, id.0)
    }
}
