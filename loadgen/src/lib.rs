//! Load generation against Parallax's JSON-RPC: the `parallax bench load` command and the
//! pieces the RPC benchmark (`node/benches/rpc_load.rs`) shares with it — a cheap keep-alive
//! HTTP/1.1 client ([`http`]), a JSON-RPC client over it ([`Rpc`]), and signed transactions
//! and the test token's ABI ([`tx`]).

pub mod http;
pub mod load;
pub mod tx;

use alloy_primitives::{Address, B256, U256};
use bytes::Bytes;
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

pub use http::{Conn, HttpError, http_request};

/// A JSON-RPC call that failed: the connection, or an error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcCallError {
    /// The HTTP exchange failed.
    #[error("{method}: {error}")]
    Http {
        /// The method called.
        method: String,
        /// What failed.
        error: HttpError,
    },
    /// The server answered with a JSON-RPC error, or with something that is not a response.
    #[error("{method}: {message}")]
    Answer {
        /// The method called.
        method: String,
        /// The error object (or why the answer is not one), as text.
        message: String,
    },
}

/// A JSON-RPC request body.
pub fn request_body(method: &str, params: Value) -> Bytes {
    Bytes::from(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
}

/// The `result` of a JSON-RPC response, or its error as text.
pub fn result_of(body: &[u8]) -> Result<Value, String> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
    if let Some(error) = v.get("error").filter(|e| !e.is_null()) {
        return Err(format!("JSON-RPC error {error}"));
    }
    match v.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err("response without result".into()),
    }
}

/// A JSON-RPC client on one keep-alive connection, reopened after a failure.
#[derive(Debug)]
pub struct Rpc {
    addr: SocketAddr,
    conn: Option<Conn>,
}

impl Rpc {
    /// A client of the server at `addr` (connects on first use).
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, conn: None }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls `method` and returns its `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcCallError> {
        let http = |error| RpcCallError::Http {
            method: method.to_owned(),
            error,
        };
        if self.conn.is_none() {
            self.conn = Some(Conn::open(self.addr).await.map_err(http)?);
        }
        let conn = self.conn.as_mut().expect("just opened");
        match conn.post(request_body(method, params)).await {
            Ok(body) => result_of(&body).map_err(|message| RpcCallError::Answer {
                method: method.to_owned(),
                message,
            }),
            Err(e) => {
                self.conn = None;
                Err(http(e))
            }
        }
    }

    /// Calls several methods in one JSON-RPC batch and returns their results in order.
    pub async fn batch(&mut self, calls: &[(&str, Value)]) -> Result<Vec<Value>, RpcCallError> {
        let method = calls.first().map_or("batch", |(m, _)| *m).to_owned();
        let answer = |message: String| RpcCallError::Answer {
            method: method.clone(),
            message,
        };
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (m, params))| json!({"jsonrpc": "2.0", "id": id, "method": m, "params": params}))
            .collect();
        if self.conn.is_none() {
            let conn = Conn::open(self.addr)
                .await
                .map_err(|error| RpcCallError::Http {
                    method: method.clone(),
                    error,
                })?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("just opened");
        let bytes = match conn.post(Bytes::from(Value::Array(body).to_string())).await {
            Ok(b) => b,
            Err(error) => {
                self.conn = None;
                return Err(RpcCallError::Http { method, error });
            }
        };
        let responses: Vec<Value> = serde_json::from_slice(&bytes)
            .map_err(|e| answer(format!("batch response is not a JSON array: {e}")))?;
        let mut results = vec![None; calls.len()];
        for mut r in responses {
            let id = r["id"].as_u64().map(|i| i as usize);
            let Some(slot) = id.and_then(|i| results.get_mut(i)) else {
                return Err(answer(format!("response with an unknown id: {r}")));
            };
            if let Some(error) = r.get("error").filter(|e| !e.is_null()) {
                return Err(answer(format!("JSON-RPC error {error}")));
            }
            *slot = Some(r["result"].take());
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| answer("a call of the batch was not answered".into())))
            .collect()
    }

    /// Calls a method whose result is a quantity.
    pub async fn quantity(&mut self, method: &str, params: Value) -> Result<u64, RpcCallError> {
        let v = self.call(method, params).await?;
        v.as_str()
            .and_then(|s| s.strip_prefix("0x"))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| RpcCallError::Answer {
                method: method.to_owned(),
                message: format!("not a quantity: {v}"),
            })
    }

    /// `eth_getBalance(who, "latest")`.
    pub async fn balance(&mut self, who: Address) -> Result<U256, RpcCallError> {
        let v = self.call("eth_getBalance", json!([who, "latest"])).await?;
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| RpcCallError::Answer {
                method: "eth_getBalance".into(),
                message: format!("not a quantity: {v}"),
            })
    }

    /// `eth_getTransactionCount(who, "pending")`.
    pub async fn pending_nonce(&mut self, who: Address) -> Result<u64, RpcCallError> {
        self.quantity("eth_getTransactionCount", json!([who, "pending"]))
            .await
    }

    /// `eth_sendRawTransaction(raw)`: the transaction's hash.
    pub async fn send(&mut self, raw: &str) -> Result<B256, RpcCallError> {
        let v = self.call("eth_sendRawTransaction", json!([raw])).await?;
        serde_json::from_value(v).map_err(|e| RpcCallError::Answer {
            method: "eth_sendRawTransaction".into(),
            message: e.to_string(),
        })
    }

    /// Waits up to `timeout` for a transaction's receipt and returns it.
    pub async fn receipt(&mut self, hash: B256, timeout: Duration) -> Result<Value, RpcCallError> {
        let start = Instant::now();
        loop {
            let r = self
                .call("eth_getTransactionReceipt", json!([hash]))
                .await?;
            if !r.is_null() {
                return Ok(r);
            }
            if start.elapsed() > timeout {
                return Err(RpcCallError::Answer {
                    method: "eth_getTransactionReceipt".into(),
                    message: format!("no receipt for {hash} after {timeout:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
