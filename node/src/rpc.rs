//! Ethereum JSON-RPC over HTTP: the methods a wallet needs to send transactions and follow
//! the chain (`eth_chainId`, `eth_blockNumber`, `eth_getBalance`, `eth_getTransactionCount`,
//! `eth_sendRawTransaction`, `eth_getBlockByNumber`, `eth_getTransactionReceipt`, …) plus
//! `parallax_consensusStatus`. Errors use JSON-RPC's codes and geth's wording.

use crate::{chain::ChainSpec, service::Shared, service::Submitter};
use alloy_consensus::{Header, Transaction as _, TxReceipt};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes};
use axum::{Router, extract::State, http::StatusCode, routing::post};
use parallax_storage::{Database, Reader};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};
use tokio::sync::oneshot;
use tracing::{debug, info};

/// Largest request body.
const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Most calls in one batch.
const MAX_BATCH: usize = 100;

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct RpcContext {
    pub(crate) db: Arc<Database>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) submitter: Submitter,
    pub(crate) shared: Arc<Shared>,
}

/// A running RPC server.
pub(crate) struct RpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    /// Binds `addr` and serves.
    pub(crate) async fn start(addr: SocketAddr, ctx: RpcContext) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", post(handle))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(ctx);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "rpc server failed");
            }
        });
        info!(%addr, "JSON-RPC listening");
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await;
    }
}

/// A JSON-RPC error.
#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    fn params(message: impl Into<String>) -> Self {
        Self {
            code: -32602,
            message: message.into(),
        }
    }
    fn server(message: impl Into<String>) -> Self {
        Self {
            code: -32000,
            message: message.into(),
        }
    }
    fn internal(message: impl std::fmt::Display) -> Self {
        Self {
            code: -32603,
            message: message.to_string(),
        }
    }
}

fn error_response(id: Value, e: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

async fn handle(State(ctx): State<RpcContext>, body: axum::body::Bytes) -> (StatusCode, String) {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            let e = RpcError {
                code: -32700,
                message: "parse error".into(),
            };
            return (StatusCode::OK, error_response(Value::Null, e).to_string());
        }
    };
    let response = match request {
        Value::Array(calls) => {
            if calls.is_empty() {
                error_response(
                    Value::Null,
                    RpcError {
                        code: -32600,
                        message: "empty batch".into(),
                    },
                )
            } else if calls.len() > MAX_BATCH {
                error_response(
                    Value::Null,
                    RpcError {
                        code: -32600,
                        message: format!(
                            "batch too large: {} calls, limit {MAX_BATCH}",
                            calls.len()
                        ),
                    },
                )
            } else {
                let mut out = Vec::with_capacity(calls.len());
                for call in calls {
                    out.push(call_one(&ctx, call).await);
                }
                Value::Array(out)
            }
        }
        call => call_one(&ctx, call).await,
    };
    (StatusCode::OK, response.to_string())
}

async fn call_one(ctx: &RpcContext, call: Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = call.get("method").and_then(Value::as_str) else {
        return error_response(
            id,
            RpcError {
                code: -32600,
                message: "invalid request".into(),
            },
        );
    };
    let params = match call.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p.clone(),
        Some(_) => return error_response(id, RpcError::params("params must be an array")),
    };
    debug!(method, "rpc call");
    let ctx = ctx.clone();
    let method = method.to_owned();
    let result = tokio::task::spawn_blocking(move || dispatch(&ctx, &method, &params))
        .await
        .unwrap_or_else(|e| Err(RpcError::internal(e)));
    match result {
        Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}),
        Err(e) => error_response(id, e),
    }
}

fn hex_u64(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

fn param<T: serde::de::DeserializeOwned>(
    params: &[Value],
    i: usize,
    name: &str,
) -> Result<T, RpcError> {
    let v = params.get(i).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v)
        .map_err(|e| RpcError::params(format!("invalid argument {i} ({name}): {e}")))
}

/// A block tag or number resolved against the head.
fn block_number(reader: &Reader<'_>, tag: Option<&Value>) -> Result<u64, RpcError> {
    let head = reader
        .head_number()
        .map_err(RpcError::internal)?
        .unwrap_or(0);
    match tag {
        None | Some(Value::Null) => Ok(head),
        Some(Value::String(s)) => match s.as_str() {
            "latest" | "safe" | "finalized" | "pending" => Ok(head),
            "earliest" => Ok(0),
            hex => {
                let n = hex
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .ok_or_else(|| RpcError::params(format!("invalid block tag {hex:?}")))?;
                if n > head {
                    return Err(RpcError::server("header not found"));
                }
                Ok(n)
            }
        },
        Some(_) => Err(RpcError::params("invalid block tag")),
    }
}

fn header_json(header: &Header, hash: B256, transactions: Value) -> Value {
    json!({
        "number": hex_u64(header.number),
        "hash": hash,
        "parentHash": header.parent_hash,
        "sha3Uncles": header.ommers_hash,
        "miner": header.beneficiary,
        "stateRoot": header.state_root,
        "transactionsRoot": header.transactions_root,
        "receiptsRoot": header.receipts_root,
        "logsBloom": header.logs_bloom,
        "difficulty": "0x0",
        "gasLimit": hex_u64(header.gas_limit),
        "gasUsed": hex_u64(header.gas_used),
        "timestamp": hex_u64(header.timestamp),
        "extraData": header.extra_data,
        "mixHash": header.mix_hash,
        "nonce": header.nonce,
        "baseFeePerGas": header.base_fee_per_gas.map(hex_u64),
        "withdrawalsRoot": header.withdrawals_root,
        "blobGasUsed": header.blob_gas_used.map(hex_u64),
        "excessBlobGas": header.excess_blob_gas.map(hex_u64),
        "parentBeaconBlockRoot": header.parent_beacon_block_root,
        "requestsHash": header.requests_hash,
        "uncles": [],
        "withdrawals": [],
        "transactions": transactions,
    })
}

fn dispatch(ctx: &RpcContext, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    let reader = ctx.db.reader().map_err(RpcError::internal)?;
    match method {
        "web3_clientVersion" => Ok(json!(format!("parallax/v{}", env!("CARGO_PKG_VERSION")))),
        "net_version" => Ok(json!(ctx.spec.chain_id.to_string())),
        "eth_chainId" => Ok(hex_u64(ctx.spec.chain_id)),
        "eth_blockNumber" => Ok(hex_u64(block_number(&reader, None)?)),
        "eth_syncing" => Ok(json!(false)),
        "eth_accounts" => Ok(json!([])),
        "eth_getBalance" | "eth_getTransactionCount" => {
            let address: Address = param(params, 0, "address")?;
            let number = block_number(&reader, params.get(1))?;
            let head = block_number(&reader, None)?;
            let account = if number == head {
                reader.account(address)
            } else {
                reader.account_at(address, number)
            }
            .map_err(RpcError::internal)?
            .unwrap_or_default();
            if method == "eth_getBalance" {
                Ok(json!(account.balance))
            } else {
                let pending = params.get(1).and_then(Value::as_str) == Some("pending");
                let nonce = if pending {
                    ctx.submitter.pending_nonce(address, account.nonce)
                } else {
                    account.nonce
                };
                Ok(hex_u64(nonce))
            }
        }
        "eth_sendRawTransaction" => {
            let raw: Bytes = param(params, 0, "data")?;
            let hash = ctx
                .submitter
                .submit(&raw)
                .map_err(|e| RpcError::server(e.to_string()))?;
            Ok(json!(hash))
        }
        "eth_getBlockByNumber" => {
            let number = block_number(&reader, params.first())?;
            let full: bool = params.get(1).and_then(Value::as_bool).unwrap_or(false);
            let Some(header) = reader.header(number).map_err(RpcError::internal)? else {
                return Ok(Value::Null);
            };
            let hash = header.hash_slow();
            let txs = reader
                .transactions(number)
                .map_err(RpcError::internal)?
                .unwrap_or_default();
            let list: Vec<Value> = txs
                .iter()
                .map(|t| {
                    if full {
                        json!({"hash": t.tx_hash(), "nonce": hex_u64(t.nonce()), "input": t.input()})
                    } else {
                        json!(t.tx_hash())
                    }
                })
                .collect();
            Ok(header_json(&header, hash, Value::Array(list)))
        }
        "eth_getTransactionReceipt" => {
            let hash: B256 = param(params, 0, "hash")?;
            let Some(located) = reader
                .transaction_by_hash(hash)
                .map_err(RpcError::internal)?
            else {
                return Ok(Value::Null);
            };
            let number = located.location.block_number;
            let index = located.location.index;
            let receipt = reader
                .receipt(number, index)
                .map_err(RpcError::internal)?
                .ok_or_else(|| RpcError::internal("receipt missing"))?;
            let block_hash = reader
                .canonical_hash(number)
                .map_err(RpcError::internal)?
                .unwrap_or_default();
            let previous = if index == 0 {
                0
            } else {
                reader
                    .receipt(number, index - 1)
                    .map_err(RpcError::internal)?
                    .map_or(0, |r| r.cumulative_gas_used())
            };
            let tx = &located.transaction;
            Ok(json!({
                "transactionHash": hash,
                "transactionIndex": hex_u64(u64::from(index)),
                "blockHash": block_hash,
                "blockNumber": hex_u64(number),
                "status": if receipt.status() { "0x1" } else { "0x0" },
                "cumulativeGasUsed": hex_u64(receipt.cumulative_gas_used()),
                "gasUsed": hex_u64(receipt.cumulative_gas_used().saturating_sub(previous)),
                "type": hex_u64(u64::from(tx.tx_type() as u8)),
                "to": tx.to(),
                "logs": [],
                "logsBloom": receipt.bloom(),
                "raw": Bytes::from(tx.encoded_2718()),
            }))
        }
        "parallax_consensusStatus" => {
            let s = &ctx.shared;
            Ok(json!({
                "head": hex_u64(s.head.load(Ordering::Relaxed)),
                "round": hex_u64(s.round.load(Ordering::Relaxed)),
                "leader": s.leader.load(Ordering::Relaxed),
                "highestQcRound": hex_u64(s.highest_qc_round.load(Ordering::Relaxed)),
                "committedRound": hex_u64(s.committed_round.load(Ordering::Relaxed)),
                "lockedRound": hex_u64(s.locked_round.load(Ordering::Relaxed)),
                "lastVotedRound": hex_u64(s.last_voted_round.load(Ordering::Relaxed)),
                "mempoolSize": s.mempool_size.load(Ordering::Relaxed),
            }))
        }
        other => Err(RpcError {
            code: -32601,
            message: format!("the method {other} does not exist/is not available"),
        }),
    }
}
