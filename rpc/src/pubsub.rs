//! `eth_subscribe` on a WebSocket: `newHeads`, `logs` (with an address/topics filter) and
//! `newPendingTransactions` (hashes, or whole transactions with `true`). jsonrpsee owns the
//! connection, its subscriptions (bounded per connection), `eth_unsubscribe` and the
//! `eth_subscription` notifications; this module decides what is sent.
//!
//! Each connection has one bounded outgoing queue (jsonrpsee's message buffer). A subscriber
//! that does not read fast enough to keep it from filling loses its subscription (and is
//! counted) rather than being buffered without bound. Notifications follow committed blocks
//! from the database, so a burst of blocks is never skipped: the commit broadcast only wakes
//! the subscription up.

use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
    read::Api,
};
use alloy_primitives::B256;
use alloy_rpc_types_eth::Filter;
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink, core::server::TrySendError,
    types::ErrorObjectOwned,
};
use serde_json::{Value, json, value::RawValue};
use std::sync::{Arc, atomic::Ordering};
use tokio::sync::broadcast;
use tracing::debug;

/// Most blocks read for a subscription per wake-up; the rest follow on the next.
const BLOCKS_PER_WAKE: u64 = 256;

/// What a subscription follows.
enum Kind {
    /// Committed blocks' headers (`None`) or logs matching a filter.
    Blocks(Option<Box<Filter>>),
    /// Transactions entering the pool: hashes, or whole transactions.
    Pending { full: bool },
}

/// `eth_subscribe(kind, options)`: refuses an unknown kind or bad options, else accepts and
/// follows in a task of its own until the client unsubscribes or goes away.
pub(crate) async fn subscribe(
    ctx: &RpcContext,
    pending: PendingSubscriptionSink,
    kind: String,
    options: Option<Value>,
) {
    let kind = match parse(&kind, options) {
        Ok(kind) => kind,
        Err(e) => {
            pending.reject(ErrorObjectOwned::from(e)).await;
            return;
        }
    };
    // Where the subscription starts: read before accepting, so no block committed after
    // the answer is missed.
    let head = match ctx.db.snapshot().and_then(|r| r.head_number()) {
        Ok(head) => head.unwrap_or(0),
        Err(e) => {
            pending
                .reject(ErrorObjectOwned::from(RpcError::internal(e)))
                .await;
            return;
        }
    };
    let commits = ctx.commits.subscribe();
    let pool = ctx.pending.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        match kind {
            Kind::Blocks(filter) => follow_blocks(ctx, sink, commits, head, filter).await,
            Kind::Pending { full } => follow_pending(ctx, sink, pool, full).await,
        }
    });
}

fn parse(kind: &str, options: Option<Value>) -> RpcResult<Kind> {
    let invalid = |e: serde_json::Error| RpcError::params(format!("invalid argument 1: {e}"));
    match kind {
        "newHeads" => Ok(Kind::Blocks(None)),
        "logs" => {
            let filter: Option<Filter> = options
                .map(serde_json::from_value)
                .transpose()
                .map_err(invalid)?;
            Ok(Kind::Blocks(Some(Box::new(filter.unwrap_or_default()))))
        }
        "newPendingTransactions" => {
            let full: Option<bool> = options
                .map(serde_json::from_value)
                .transpose()
                .map_err(invalid)?;
            Ok(Kind::Pending {
                full: full.unwrap_or(false),
            })
        }
        other => Err(RpcError::params(format!(
            "no \"{other}\" subscription in eth namespace"
        ))),
    }
}

/// Queues a notification; `false` when the subscription must end (the client went away, or
/// reads too slowly: then it is counted).
fn send(ctx: &RpcContext, sink: &mut SubscriptionSink, item: &Value) -> bool {
    let Ok(raw) = RawValue::from_string(item.to_string()) else {
        return false;
    };
    match sink.try_send(SubscriptionMessage::from(raw)) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            ctx.stats.slow_subscribers.fetch_add(1, Ordering::Relaxed);
            debug!(subscription = ?sink.subscription_id(), "subscriber too slow: its subscription ends");
            false
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

/// `newHeads` (no filter) or `logs` (a filter): each committed block after `head`, in order.
async fn follow_blocks(
    ctx: RpcContext,
    mut sink: SubscriptionSink,
    mut commits: broadcast::Receiver<Arc<parallax_chain::ExecutedBlock>>,
    mut sent: u64,
    filter: Option<Box<Filter>>,
) {
    let filter: Option<Arc<Filter>> = filter.map(|f| Arc::new(*f));
    loop {
        tokio::select! {
            recv = commits.recv() => match recv {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sink.closed() => return,
        }
        let read_ctx = ctx.clone();
        let filter = filter.clone();
        let read = tokio::task::spawn_blocking(move || -> RpcResult<(u64, Vec<Value>)> {
            let api = Api::new(
                &read_ctx,
                read_ctx.db.snapshot().map_err(RpcError::internal)?,
            );
            let head = api.head()?;
            let to = head.min(sent + BLOCKS_PER_WAKE);
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
            debug!(subscription = ?sink.subscription_id(), "reading blocks for a subscription failed");
            continue;
        };
        sent = to;
        for item in &items {
            if !send(&ctx, &mut sink, item) {
                return;
            }
        }
    }
}

/// `newPendingTransactions`: hashes (or whole transactions) entering the mempool.
async fn follow_pending(
    ctx: RpcContext,
    mut sink: SubscriptionSink,
    mut pending: broadcast::Receiver<B256>,
    full: bool,
) {
    loop {
        let hash = tokio::select! {
            recv = pending.recv() => match recv {
                Ok(hash) => hash,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sink.closed() => return,
        };
        let item = if full {
            match ctx.node.pooled_transaction(&hash) {
                Some(tx) => serde_json::to_value(crate::read::pooled_rpc_transaction(&tx, hash))
                    .unwrap_or(Value::Null),
                None => continue,
            }
        } else {
            json!(hash)
        };
        if !send(&ctx, &mut sink, &item) {
            return;
        }
    }
}

/// Subscription ids in geth's shape: `0x` and 32 hex digits, unguessable (a keyed hash of a
/// counter).
#[derive(Debug)]
pub(crate) struct HexIds {
    counter: std::sync::atomic::AtomicU64,
    seed: u64,
}

impl Default for HexIds {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        Self {
            counter: Default::default(),
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        }
    }
}

impl jsonrpsee::server::IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut preimage = [0u8; 16];
        preimage[..8].copy_from_slice(&self.seed.to_be_bytes());
        preimage[8..].copy_from_slice(&n.to_be_bytes());
        let id = format!(
            "0x{}",
            hex::encode(&alloy_primitives::keccak256(preimage)[..16])
        );
        jsonrpsee::types::SubscriptionId::Str(id.into())
    }
}
