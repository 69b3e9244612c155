//! WebSocket connections: the same JSON-RPC methods as HTTP, plus `eth_subscribe` /
//! `eth_unsubscribe` for `newHeads`, `logs` (with an address/topics filter) and
//! `newPendingTransactions`.
//!
//! Each connection has one bounded outgoing queue for responses and notifications. A
//! subscriber that does not read fast enough to keep it from filling is disconnected (and
//! counted) rather than buffered without bound. Notifications follow committed blocks from
//! the database, so a burst of blocks is never skipped: the commit broadcast only wakes the
//! subscription up.

use super::{
    RpcContext,
    error::{INVALID_PARAMS, LIMIT_EXCEEDED, RpcError},
    eth::{Api, param, required},
    handle_message,
};
use alloy_consensus::transaction::Recovered;
use alloy_primitives::{B256, keccak256};
use alloy_rpc_types_eth::{Filter, Transaction as RpcTransaction};
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    hash::{BuildHasher, Hasher},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc};
use tracing::debug;

/// How often the server pings a WebSocket client.
const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// Messages queued for one WebSocket before its subscriber counts as too slow.
const OUT_QUEUE: usize = 4096;
/// Requests of one WebSocket handled at once.
const IN_FLIGHT: usize = 16;

/// One WebSocket's state.
pub(crate) struct Connection {
    out: mpsc::Sender<String>,
    subscriptions: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    kill: Arc<Notify>,
    counter: AtomicU64,
    seed: u64,
}

impl Connection {
    fn new(out: mpsc::Sender<String>) -> Self {
        Self {
            out,
            subscriptions: Mutex::new(HashMap::new()),
            kill: Arc::new(Notify::new()),
            counter: AtomicU64::new(0),
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        }
    }

    fn new_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut preimage = [0u8; 16];
        preimage[..8].copy_from_slice(&self.seed.to_be_bytes());
        preimage[8..].copy_from_slice(&n.to_be_bytes());
        format!("0x{}", hex::encode(&keccak256(preimage)[..16]))
    }

    /// `eth_subscribe`.
    pub(crate) fn subscribe(&self, ctx: &RpcContext, params: &[Value]) -> Result<Value, RpcError> {
        let kind: String = required(params, 0)?;
        let mut subs = self
            .subscriptions
            .lock()
            .map_err(|_| RpcError::internal("subscriptions poisoned"))?;
        subs.retain(|_, task| !task.is_finished());
        if subs.len() >= ctx.limits.max_subscriptions {
            return Err(RpcError::new(
                LIMIT_EXCEEDED,
                format!(
                    "too many subscriptions on this connection (limit {})",
                    ctx.limits.max_subscriptions
                ),
            ));
        }
        let id = self.new_id();
        let sink = Sink {
            id: id.clone(),
            out: self.out.clone(),
            kill: self.kill.clone(),
            ctx: ctx.clone(),
        };
        let head = ctx
            .db
            .reader()
            .and_then(|r| r.head_number())
            .map_err(RpcError::internal)?
            .unwrap_or(0);
        let task = match kind.as_str() {
            "newHeads" => tokio::spawn(follow_blocks(sink, ctx.commits.subscribe(), head, None)),
            "logs" => {
                let filter: Filter = param::<Option<Filter>>(params, 1)?.unwrap_or_default();
                tokio::spawn(follow_blocks(
                    sink,
                    ctx.commits.subscribe(),
                    head,
                    Some(filter),
                ))
            }
            "newPendingTransactions" => {
                let full: bool = param::<Option<bool>>(params, 1)?.unwrap_or(false);
                tokio::spawn(follow_pending(sink, ctx.pending.subscribe(), full))
            }
            other => {
                return Err(RpcError::new(
                    INVALID_PARAMS,
                    format!("no \"{other}\" subscription in eth namespace"),
                ));
            }
        };
        subs.insert(id.clone(), task);
        Ok(json!(id))
    }

    /// `eth_unsubscribe`.
    pub(crate) fn unsubscribe(&self, params: &[Value]) -> Result<Value, RpcError> {
        let id: String = required(params, 0)?;
        let removed = self
            .subscriptions
            .lock()
            .map_err(|_| RpcError::internal("subscriptions poisoned"))?
            .remove(&id.to_ascii_lowercase());
        match removed {
            Some(task) => {
                task.abort();
                Ok(json!(true))
            }
            None => Err(RpcError::server("subscription not found")),
        }
    }

    fn close(&self) {
        if let Ok(mut subs) = self.subscriptions.lock() {
            for (_, task) in subs.drain() {
                task.abort();
            }
        }
    }
}

/// Where a subscription writes.
struct Sink {
    id: String,
    out: mpsc::Sender<String>,
    kill: Arc<Notify>,
    ctx: RpcContext,
}

impl Sink {
    /// Queues a notification; `false` when the subscription must end (the connection is
    /// gone or its reader is too slow, in which case the connection is closed).
    fn send(&self, result: Value) -> bool {
        let message = json!({
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": self.id, "result": result},
        })
        .to_string();
        match self.out.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.ctx
                    .stats
                    .slow_subscribers
                    .fetch_add(1, Ordering::Relaxed);
                debug!(subscription = %self.id, "subscriber too slow: closing its connection");
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// `newHeads` (no filter) or `logs` (a filter): each committed block after `head`, in order.
async fn follow_blocks(
    sink: Sink,
    mut commits: broadcast::Receiver<Arc<parallax_chain::ExecutedBlock>>,
    mut sent: u64,
    filter: Option<Filter>,
) {
    let filter = filter.map(Arc::new);
    loop {
        match commits.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
        let ctx = sink.ctx.clone();
        let filter = filter.clone();
        let read = tokio::task::spawn_blocking(move || -> Result<(u64, Vec<Value>), RpcError> {
            let api = Api::new(&ctx, ctx.db.reader().map_err(RpcError::internal)?);
            let head = api.head()?;
            // Never more than a bounded batch per wake-up; the rest follows on the next.
            let to = head.min(sent + 256);
            let mut out = Vec::new();
            for n in sent + 1..=to {
                match &filter {
                    None => out.push(api.rpc_header(n)?),
                    Some(f) => {
                        for log in api.block_logs(n, f)? {
                            out.push(serde_json::to_value(log).map_err(RpcError::internal)?);
                        }
                    }
                }
            }
            Ok((to.max(sent), out))
        })
        .await;
        let Ok(Ok((to, items))) = read else {
            debug!(subscription = %sink.id, "reading blocks for a subscription failed");
            continue;
        };
        sent = to;
        for item in items {
            if !sink.send(item) {
                return;
            }
        }
    }
}

/// `newPendingTransactions`: hashes (or whole transactions) entering the mempool.
async fn follow_pending(sink: Sink, mut pending: broadcast::Receiver<B256>, full: bool) {
    loop {
        let hash = match pending.recv().await {
            Ok(hash) => hash,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let item = if full {
            match sink.ctx.node.pooled_transaction(&hash) {
                Some(tx) => {
                    let rpc = RpcTransaction::from_transaction(
                        Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
                        alloy_consensus::transaction::TransactionInfo {
                            hash: Some(hash),
                            ..Default::default()
                        },
                    );
                    serde_json::to_value(rpc).unwrap_or(Value::Null)
                }
                None => continue,
            }
        } else {
            json!(hash)
        };
        if !sink.send(item) {
            return;
        }
    }
}

/// Serves one WebSocket until the client closes it (or is too slow).
pub(crate) async fn serve(ctx: RpcContext, socket: WebSocket) {
    let (mut write, mut read) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<String>(OUT_QUEUE);
    let conn = Arc::new(Connection::new(out));
    let writer = tokio::spawn(async move {
        // Pings keep a quiet subscriber's connection alive: its pongs are reads, and a
        // connection that reads nothing for the idle timeout is closed.
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            let message = tokio::select! {
                m = out_rx.recv() => match m {
                    Some(m) => Message::Text(m.into()),
                    None => break,
                },
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            if write.send(message).await.is_err() {
                break;
            }
        }
        let _ = write.close().await;
    });
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let kill = conn.kill.clone();
    loop {
        let message = tokio::select! {
            m = read.next() => m,
            () = kill.notified() => break,
        };
        let bytes = match message {
            Some(Ok(Message::Text(text))) => axum::body::Bytes::from(text),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let ctx = ctx.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            if let Some(response) = handle_message(&ctx, &bytes, Some(&conn)).await {
                let _ = conn.out.send(response).await;
            }
            drop(permit);
        });
    }
    conn.close();
    drop(conn);
    writer.abort();
}
