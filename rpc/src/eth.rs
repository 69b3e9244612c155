//! The `web3_`, `net_`, `eth_` and `parallax_` methods that read the database or the
//! mempool. Every method runs on the blocking pool with one MDBX read transaction, so a
//! call sees one consistent snapshot.

use super::{
    RpcContext,
    error::{LIMIT_EXCEEDED, RpcError},
    fees::next_base_fee,
    filters,
};
use alloy_consensus::{
    BlockBody, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
    transaction::{Recovered, SignerRecoverable, TransactionInfo},
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718, eip4895::Withdrawals};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Filter, FilterBlockOption, Header as RpcHeader,
    Log as RpcLog, Transaction as RpcTransaction, TransactionReceipt,
};
use parallax_storage::Reader;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Every method this server answers (for per-method counters).
pub(crate) const METHODS: &[&str] = &[
    "web3_clientVersion",
    "web3_sha3",
    "net_version",
    "net_listening",
    "net_peerCount",
    "eth_chainId",
    "eth_syncing",
    "eth_blockNumber",
    "eth_accounts",
    "eth_coinbase",
    "eth_mining",
    "eth_hashrate",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getUncleCountByBlockNumber",
    "eth_getUncleCountByBlockHash",
    "eth_getUncleByBlockNumberAndIndex",
    "eth_getUncleByBlockHashAndIndex",
    "eth_getTransactionByHash",
    "eth_getRawTransactionByHash",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionReceipt",
    "eth_getBlockReceipts",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_getTransactionCount",
    "eth_call",
    "eth_estimateGas",
    "eth_createAccessList",
    "eth_getProof",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_blobBaseFee",
    "eth_sendRawTransaction",
    "eth_getLogs",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "eth_subscribe",
    "eth_unsubscribe",
    "txpool_status",
    "parallax_validators",
    "parallax_consensusStatus",
    "parallax_evidence",
    "parallax_bridgeStatus",
    "parallax_getWithdrawalProof",
];

/// Methods that read at most a few keys (never a range, never the EVM), so they may run on
/// an async worker without holding it for long.
pub(crate) const POINT_READS: &[&str] = &[
    "web3_clientVersion",
    "net_version",
    "eth_chainId",
    "eth_syncing",
    "eth_mining",
    "eth_hashrate",
    "eth_blockNumber",
    "eth_accounts",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getStorageAt",
    "eth_getCode",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_uninstallFilter",
    "txpool_status",
];

/// Runs a method that reads the database.
pub(crate) fn dispatch(
    ctx: &RpcContext,
    method: &str,
    params: &[Value],
) -> Result<Value, RpcError> {
    match method {
        // The driver publishes the head after writing it, so every block up to this number
        // can be read; no database transaction is needed.
        "eth_blockNumber" => return Ok(hex_u64(ctx.node.head_number())),
        "eth_chainId" => return Ok(hex_u64(ctx.spec.chain_id)),
        // geth's `txpool_status`: ready transactions are `pending`, the rest `queued`.
        "txpool_status" => {
            at_most(params, 0)?;
            let (pending, queued) = ctx.node.pool_counts();
            return Ok(json!({
                "pending": hex_u64(pending as u64),
                "queued": hex_u64(queued as u64),
            }));
        }
        _ => {}
    }
    let reader = ctx.db.reader().map_err(RpcError::internal)?;
    let api = Api::new(ctx, reader);
    api.run(method, params)
}

/// Most EVM steps an `eth_call` may take on an async worker (see [`try_inline`]). A token's
/// `balanceOf` takes a few hundred; ten thousand steps take well under a millisecond unless
/// most of them read cold storage.
pub(crate) const INLINE_STEPS: u64 = 10_000;

/// Runs an `eth_call` at the head where the request stands, with the EVM stopped after
/// [`INLINE_STEPS`]: `Some` answer when it finished (exactly the answer of an unbounded run,
/// since the limit only observes), `None` when the call must go to the blocking pool (it ran
/// longer, or reads a past block's state).
pub(crate) fn try_inline(
    ctx: &RpcContext,
    method: &str,
    params: &[Value],
) -> Option<Result<Value, RpcError>> {
    if method != "eth_call" {
        return None;
    }
    let reader = match ctx.db.reader() {
        Ok(r) => r,
        Err(e) => return Some(Err(RpcError::internal(e))),
    };
    let mut api = Api::new(ctx, reader);
    api.step_limit = Some(INLINE_STEPS);
    let result = api.run(method, params);
    (!api.over_budget.get()).then_some(result)
}

/// One call's view: the context and a read snapshot.
pub(crate) struct Api<'a> {
    pub(crate) ctx: &'a RpcContext,
    pub(crate) reader: Reader<'a>,
    /// The snapshot's head number, read once.
    head: std::cell::Cell<Option<u64>>,
    /// A step limit for the EVM methods (see [`try_inline`]).
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

/// `params[i]`, decoded; a missing optional parameter decodes from `null`.
pub(crate) fn param<T: DeserializeOwned>(params: &[Value], i: usize) -> Result<T, RpcError> {
    let v = params.get(i).cloned().unwrap_or(Value::Null);
    if has_unprefixed_hex(&v) {
        return Err(RpcError::params(format!(
            "invalid argument {i}: hex string without 0x prefix"
        )));
    }
    serde_json::from_value(v).map_err(|e| RpcError::params(format!("invalid argument {i}: {e}")))
}

/// Whether a parameter holds, anywhere inside, a string of hex digits without `0x`: geth's
/// hex types (addresses, hashes, data, quantities) refuse those, and the decoders here would
/// take them. Block tags (`latest`, …) and other words are not all hex digits.
fn has_unprefixed_hex(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()),
        Value::Array(items) => items.iter().any(has_unprefixed_hex),
        Value::Object(map) => map.values().any(has_unprefixed_hex),
        _ => false,
    }
}

/// `params[i]`, which must be present.
pub(crate) fn required<T: DeserializeOwned>(params: &[Value], i: usize) -> Result<T, RpcError> {
    match params.get(i) {
        None | Some(Value::Null) => Err(RpcError::params(format!(
            "missing value for required argument {i}"
        ))),
        Some(_) => param(params, i),
    }
}

/// Refuses more than `max` parameters, as geth does.
pub(crate) fn at_most(params: &[Value], max: usize) -> Result<(), RpcError> {
    if params.len() > max {
        return Err(RpcError::params(format!(
            "too many arguments, want at most {max}"
        )));
    }
    Ok(())
}

/// The transaction hash the logs of block `n`'s bridge deposits carry (they belong to no
/// transaction): `keccak256("parallax-bridge-deposits" ‖ n as 8 big-endian bytes)`.
pub(crate) fn system_tx_hash(n: u64) -> B256 {
    let mut preimage = b"parallax-bridge-deposits".to_vec();
    preimage.extend_from_slice(&n.to_be_bytes());
    keccak256(preimage)
}

pub(crate) fn hex_u64(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// A quantity given as a hex string or a JSON number (geth accepts both for counts).
pub(crate) fn quantity(params: &[Value], i: usize) -> Result<u64, RpcError> {
    match params.get(i) {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| RpcError::params(format!("invalid argument {i}: not a u64"))),
        _ => required::<U64>(params, i).map(|v| v.to()),
    }
}

impl Api<'_> {
    fn run(&self, method: &str, p: &[Value]) -> Result<Value, RpcError> {
        let ctx = self.ctx;
        match method {
            "web3_clientVersion" => Ok(json!(client_version())),
            "web3_sha3" => {
                at_most(p, 1)?;
                let data: Bytes = required(p, 0)?;
                Ok(json!(keccak256(&data)))
            }
            "net_version" => Ok(json!(ctx.spec.chain_id.to_string())),
            // Committed blocks are final and a node serves only what it committed.
            "eth_syncing" | "eth_mining" => Ok(json!(false)),
            "eth_hashrate" => Ok(hex_u64(0)),
            "eth_accounts" => Ok(json!([])),
            "eth_coinbase" => Err(RpcError::server(
                "etherbase must be explicitly specified",
            )),
            "eth_getBlockByNumber" | "eth_getBlockByHash" => {
                at_most(p, 2)?;
                let full: bool = param::<Option<bool>>(p, 1)?.unwrap_or(false);
                let number = if method == "eth_getBlockByHash" {
                    self.number_of_hash(required(p, 0)?)?
                } else {
                    self.number_of_tag(required(p, 0)?)?
                };
                match number {
                    Some(n) => self.block(n, full),
                    None => Ok(Value::Null),
                }
            }
            "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
                at_most(p, 1)?;
                let number = if method.ends_with("ByHash") {
                    self.number_of_hash(required(p, 0)?)?
                } else {
                    self.number_of_tag(required(p, 0)?)?
                };
                let Some(n) = number else {
                    return Ok(Value::Null);
                };
                let body = self.reader.body(n).map_err(RpcError::internal)?;
                Ok(body.map_or(Value::Null, |b| hex_u64(u64::from(b.tx_count))))
            }
            "eth_getUncleCountByBlockNumber" | "eth_getUncleCountByBlockHash" => {
                at_most(p, 1)?;
                let number = if method.ends_with("ByBlockHash") {
                    self.number_of_hash(required(p, 0)?)?
                } else {
                    self.number_of_tag(required(p, 0)?)?
                };
                Ok(number.map_or(Value::Null, |_| hex_u64(0)))
            }
            "eth_getUncleByBlockNumberAndIndex" | "eth_getUncleByBlockHashAndIndex" => {
                Ok(Value::Null)
            }
            "eth_getTransactionByHash" | "eth_getRawTransactionByHash" => {
                at_most(p, 1)?;
                let hash: B256 = required(p, 0)?;
                let raw = method == "eth_getRawTransactionByHash";
                if let Some(found) = self
                    .reader
                    .transaction_by_hash(hash)
                    .map_err(RpcError::internal)?
                {
                    let n = found.location.block_number;
                    let index = found.location.index;
                    if raw {
                        return Ok(json!(Bytes::from(found.transaction.encoded_2718())));
                    }
                    let header = self.header(n)?;
                    return self.transaction_json(&header, found.transaction, u64::from(index));
                }
                // Still pending?
                match self.ctx.node.pooled_transaction(&hash) {
                    Some(tx) if raw => Ok(json!(tx.encoded)),
                    Some(tx) => {
                        let rpc = RpcTransaction::from_transaction(
                            Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
                            TransactionInfo {
                                hash: Some(hash),
                                ..Default::default()
                            },
                        );
                        serde_json::to_value(rpc).map_err(RpcError::internal)
                    }
                    None => Ok(Value::Null),
                }
            }
            "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
                at_most(p, 2)?;
                let number = if method.contains("ByBlockHash") {
                    self.number_of_hash(required(p, 0)?)?
                } else {
                    self.number_of_tag(required(p, 0)?)?
                };
                let index: U64 = required(p, 1)?;
                let Some(n) = number else {
                    return Ok(Value::Null);
                };
                let Ok(index) = u32::try_from(index.to::<u64>()) else {
                    return Ok(Value::Null);
                };
                let Some(tx) = self
                    .reader
                    .transaction(n, index)
                    .map_err(RpcError::internal)?
                else {
                    return Ok(Value::Null);
                };
                let header = self.header(n)?;
                self.transaction_json(&header, tx, u64::from(index))
            }
            "eth_getTransactionReceipt" => {
                at_most(p, 1)?;
                let hash: B256 = required(p, 0)?;
                let Some(found) = self
                    .reader
                    .transaction_by_hash(hash)
                    .map_err(RpcError::internal)?
                else {
                    return Ok(Value::Null);
                };
                let n = found.location.block_number;
                let index = found.location.index as usize;
                let receipts = self.receipts(n, Some(index))?;
                Ok(receipts.into_iter().next().unwrap_or(Value::Null))
            }
            "eth_getBlockReceipts" => {
                at_most(p, 1)?;
                let id: BlockId = required(p, 0)?;
                match self.number_of_id(id)? {
                    Some(n) => Ok(Value::Array(self.receipts(n, None)?)),
                    None => Ok(Value::Null),
                }
            }
            "eth_getBalance" | "eth_getTransactionCount" | "eth_getCode" => {
                at_most(p, 2)?;
                let address: Address = required(p, 0)?;
                let tag: Option<BlockId> = param(p, 1)?;
                let n = self.state_block(tag)?;
                let account = self.account_at(address, n)?;
                match method {
                    "eth_getBalance" => Ok(json!(account.balance)),
                    "eth_getCode" => {
                        if account.code_hash == alloy_primitives::KECCAK256_EMPTY {
                            return Ok(json!(Bytes::new()));
                        }
                        let code = self
                            .reader
                            .bytecode(account.code_hash)
                            .map_err(RpcError::internal)?
                            .unwrap_or_default();
                        Ok(json!(code))
                    }
                    _ => {
                        let pending = matches!(tag, Some(BlockId::Number(BlockNumberOrTag::Pending)));
                        let nonce = if pending {
                            self.ctx.node.pending_nonce(address, account.nonce)
                        } else {
                            account.nonce
                        };
                        Ok(hex_u64(nonce))
                    }
                }
            }
            "eth_getStorageAt" => {
                at_most(p, 3)?;
                let address: Address = required(p, 0)?;
                let slot: U256 = required::<StorageKey>(p, 1)?.0;
                let n = self.state_block(param(p, 2)?)?;
                let slot = B256::from(slot);
                let value = if n == self.head()? {
                    self.reader.storage(address, slot)
                } else {
                    self.reader.storage_at(address, slot, n)
                }
                .map_err(RpcError::internal)?;
                Ok(json!(B256::from(value)))
            }
            "eth_call" | "eth_estimateGas" | "eth_createAccessList" | "eth_getProof" => {
                self.evm_method(method, p)
            }
            "eth_gasPrice" => {
                let head = self.header(self.head()?)?;
                let next = next_base_fee(&head);
                Ok(json!(U256::from(u128::from(next) + self.suggested_tip()?)))
            }
            "eth_maxPriorityFeePerGas" => Ok(json!(U256::from(self.suggested_tip()?))),
            "eth_blobBaseFee" => Ok(hex_u64(1)),
            "eth_feeHistory" => {
                at_most(p, 3)?;
                let count = quantity(p, 0)?;
                let newest: BlockNumberOrTag = required(p, 1)?;
                let percentiles: Option<Vec<f64>> = param(p, 2)?;
                self.fee_history(count, newest, percentiles)
            }
            "eth_sendRawTransaction" => {
                at_most(p, 1)?;
                let raw: Bytes = required(p, 0)?;
                let hash = self
                    .ctx
                    .node
                    .submit_transaction(&raw)
                    .map_err(|e| RpcError::server(e.to_string()))?;
                Ok(json!(hash))
            }
            "eth_getLogs" => {
                at_most(p, 1)?;
                let filter: Filter = required(p, 0)?;
                let logs = self.logs(&filter)?;
                serde_json::to_value(logs).map_err(RpcError::internal)
            }
            "eth_newFilter" => {
                at_most(p, 1)?;
                let filter: Filter = required(p, 0)?;
                // Check the range now, as geth does, so a bad filter fails at install.
                self.log_range(&filter)?;
                let next = self.head()? + 1;
                ctx.filters.install(
                    filters::Kind::Logs {
                        filter: Box::new(filter),
                        next,
                    },
                    &ctx.limits,
                )
            }
            "eth_newBlockFilter" => {
                let next = self.head()? + 1;
                ctx.filters.install(filters::Kind::Blocks { next }, &ctx.limits)
            }
            "eth_newPendingTransactionFilter" => ctx.filters.install(
                filters::Kind::Pending {
                    hashes: Default::default(),
                },
                &ctx.limits,
            ),
            "eth_getFilterChanges" => {
                at_most(p, 1)?;
                let id: String = required(p, 0)?;
                filters::changes(self, &id)
            }
            "eth_getFilterLogs" => {
                at_most(p, 1)?;
                let id: String = required(p, 0)?;
                let filter = ctx.filters.log_filter(&id)?;
                let logs = self.logs(&filter)?;
                serde_json::to_value(logs).map_err(RpcError::internal)
            }
            "eth_uninstallFilter" => {
                at_most(p, 1)?;
                let id: String = required(p, 0)?;
                Ok(json!(ctx.filters.uninstall(&id)))
            }
            "parallax_validators" => Ok(Value::Array(
                ctx.spec
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
            )),
            "parallax_consensusStatus" => {
                let s = ctx.node.consensus_status();
                Ok(json!({
                    "head": hex_u64(self.head()?),
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
            other => Err(RpcError::method_not_found(other)),
        }
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
    fn block(&self, n: u64, full: bool) -> Result<Value, RpcError> {
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
        let block = RpcBlock {
            header: RpcHeader {
                hash,
                inner: header,
                total_difficulty: Some(U256::ZERO),
                size: Some(U256::from(size)),
            },
            uncles: Vec::new(),
            transactions,
            withdrawals,
        };
        serde_json::to_value(block).map_err(RpcError::internal)
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

    fn rpc_transaction(
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

    fn transaction_json(
        &self,
        header: &Header,
        tx: TxEnvelope,
        index: u64,
    ) -> Result<Value, RpcError> {
        let rpc = self.rpc_transaction(header, header.hash_slow(), tx, index)?;
        serde_json::to_value(rpc).map_err(RpcError::internal)
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
    fn receipts(&self, n: u64, only: Option<usize>) -> Result<Vec<Value>, RpcError> {
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
            out.push(serde_json::to_value(rpc).map_err(RpcError::internal)?);
        }
        Ok(out)
    }

    /// The matching logs of block `n`: its receipts' logs, then the logs of its bridge
    /// deposits' system calls (`DepositFinalized`, the bridged token's mint), which belong to
    /// no transaction: they carry the block's [`system_tx_hash`] and the index after its last
    /// transaction, as Polygon PoS serves its state-sync events.
    pub(crate) fn block_logs(&self, n: u64, filter: &Filter) -> Result<Vec<RpcLog>, RpcError> {
        let header = self.header(n)?;
        // The header commits to the block's deposits; without any there are no system logs.
        let has_system_logs = header
            .requests_hash
            .is_some_and(|h| h != alloy_eips::eip7685::EMPTY_REQUESTS_HASH);
        let in_receipts = filter.matches_bloom(header.logs_bloom);
        if !in_receipts && !has_system_logs {
            return Ok(Vec::new());
        }
        let block_hash = header.hash_slow();
        let receipts = self
            .reader
            .receipts(n)
            .map_err(RpcError::internal)?
            .unwrap_or_default();
        let mut txs: Option<Vec<TxEnvelope>> = None;
        let mut out = Vec::new();
        let mut log_index = 0u64;
        for (i, receipt) in receipts.iter().enumerate() {
            for log in receipt.logs() {
                if in_receipts && filter.matches(log) {
                    if txs.is_none() {
                        txs = Some(
                            self.reader
                                .transactions(n)
                                .map_err(RpcError::internal)?
                                .unwrap_or_default(),
                        );
                    }
                    let hash = txs.as_ref().and_then(|t| t.get(i)).map(|t| *t.tx_hash());
                    out.push(RpcLog {
                        inner: log.clone(),
                        block_hash: Some(block_hash),
                        block_number: Some(n),
                        block_timestamp: Some(header.timestamp),
                        transaction_hash: hash,
                        transaction_index: Some(i as u64),
                        log_index: Some(log_index),
                        removed: false,
                    });
                }
                log_index += 1;
            }
        }
        if has_system_logs {
            for log in self.reader.system_logs(n).map_err(RpcError::internal)? {
                if filter.matches(&log) {
                    out.push(RpcLog {
                        inner: log,
                        block_hash: Some(block_hash),
                        block_number: Some(n),
                        block_timestamp: Some(header.timestamp),
                        transaction_hash: Some(system_tx_hash(n)),
                        transaction_index: Some(receipts.len() as u64),
                        log_index: Some(log_index),
                        removed: false,
                    });
                }
                log_index += 1;
            }
        }
        Ok(out)
    }

    /// The blocks a log filter covers: from `fromBlock` (default latest) to `toBlock`
    /// (default latest), or the one block with `blockHash`.
    pub(crate) fn log_range(&self, filter: &Filter) -> Result<(u64, u64), RpcError> {
        let head = self.head()?;
        let resolve = |tag: Option<&BlockNumberOrTag>| -> u64 {
            match tag {
                None
                | Some(
                    BlockNumberOrTag::Latest
                    | BlockNumberOrTag::Safe
                    | BlockNumberOrTag::Finalized
                    | BlockNumberOrTag::Pending,
                ) => head,
                Some(BlockNumberOrTag::Earliest) => 0,
                Some(BlockNumberOrTag::Number(n)) => *n,
            }
        };
        match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .number_of_hash(*hash)?
                    .ok_or_else(|| RpcError::server("unknown block"))?;
                Ok((n, n))
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let from = resolve(from_block.as_ref());
                let to = resolve(to_block.as_ref());
                if from > to {
                    return Err(RpcError::server("invalid block range params"));
                }
                Ok((from, to))
            }
        }
    }

    /// `eth_getLogs`: the matching logs of a bounded range.
    pub(crate) fn logs(&self, filter: &Filter) -> Result<Vec<RpcLog>, RpcError> {
        let (from, to) = self.log_range(filter)?;
        let to = to.min(self.head()?);
        let limits = &self.ctx.limits;
        if to >= from && to - from >= limits.max_log_range {
            return Err(RpcError::new(
                LIMIT_EXCEEDED,
                format!("query exceeds max block range {}", limits.max_log_range),
            ));
        }
        let mut out = Vec::new();
        for n in from..=to {
            out.extend(self.block_logs(n, filter)?);
            if out.len() > limits.max_logs {
                return Err(RpcError::new(
                    LIMIT_EXCEEDED,
                    format!("query returned more than {} results", limits.max_logs),
                ));
            }
        }
        Ok(out)
    }
}

/// A storage slot given as any hex quantity or 32-byte word (geth accepts both).
struct StorageKey(U256);

impl<'de> serde::Deserialize<'de> for StorageKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(|| serde::de::Error::custom("hex string without 0x prefix"))?;
        if hex.len() > 64 {
            return Err(serde::de::Error::custom(
                "hex string too long for a storage key",
            ));
        }
        U256::from_str_radix(if hex.is_empty() { "0" } else { hex }, 16)
            .map(StorageKey)
            .map_err(|_| serde::de::Error::custom("invalid hex string"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_accept_quantities_and_words() {
        let k: StorageKey = serde_json::from_value(json!("0x0")).unwrap();
        assert_eq!(k.0, U256::ZERO);
        let k: StorageKey =
            serde_json::from_value(json!(format!("0x{}", "0".repeat(63) + "2"))).unwrap();
        assert_eq!(k.0, U256::from(2));
        assert!(serde_json::from_value::<StorageKey>(json!("2")).is_err());
        assert!(
            serde_json::from_value::<StorageKey>(json!(format!("0x{}", "1".repeat(65)))).is_err()
        );
    }

    #[test]
    fn missing_and_extra_arguments_use_geths_words() {
        let e = required::<Address>(&[], 0).unwrap_err();
        assert_eq!(e.message, "missing value for required argument 0");
        assert_eq!(e.code, -32602);
        let e = at_most(&[json!(1), json!(2)], 1).unwrap_err();
        assert_eq!(e.message, "too many arguments, want at most 1");
        let e = required::<Address>(&[json!("0x12")], 0).unwrap_err();
        assert!(
            e.message.starts_with("invalid argument 0:"),
            "{}",
            e.message
        );
    }
}
