//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`) polled with `eth_getFilterChanges`. Filters live in
//! memory, are bounded in number, expire when not polled for `filter_ttl` (geth: 5 minutes)
//! and buffer a bounded number of pending hashes.

use crate::{
    RpcLimits,
    error::{LIMIT_EXCEEDED, RpcError},
    read::Api,
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, keccak256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption};
use serde_json::{Value, json};
use std::{
    collections::{HashMap, VecDeque},
    hash::{BuildHasher, Hasher},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};
use tokio::sync::broadcast;

/// Most pending-transaction hashes one filter buffers between polls; older ones are dropped.
const MAX_PENDING_BUFFER: usize = 4096;

/// What a filter follows.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Logs matching `filter` in blocks from `next` on.
    Logs {
        /// The filter.
        filter: Box<Filter>,
        /// The first block not yet reported.
        next: u64,
    },
    /// Hashes of blocks from `next` on.
    Blocks {
        /// The first block not yet reported.
        next: u64,
    },
    /// Hashes of transactions that entered the mempool since the last poll.
    Pending {
        /// Buffered hashes, oldest first.
        hashes: VecDeque<B256>,
    },
}

#[derive(Debug)]
struct Installed {
    kind: Kind,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug)]
pub(crate) struct Filters {
    map: Mutex<HashMap<String, Installed>>,
    counter: AtomicU64,
    seed: u64,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        }
    }
}

fn not_found() -> RpcError {
    RpcError::server("filter not found")
}

impl Filters {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Installed>>, RpcError> {
        self.map
            .lock()
            .map_err(|_| RpcError::internal("filter table poisoned"))
    }

    /// Installs a filter; returns its id.
    pub(crate) fn install(&self, mut kind: Kind, limits: &RpcLimits) -> Result<String, RpcError> {
        if let Kind::Logs { filter, next } = &mut kind
            && let FilterBlockOption::Range {
                from_block: Some(BlockNumberOrTag::Number(from)),
                ..
            } = filter.block_option
        {
            *next = (*next).max(from);
        }
        let mut map = self.lock()?;
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.last_poll) < limits.filter_ttl);
        if map.len() >= limits.max_filters {
            return Err(RpcError::new(
                LIMIT_EXCEEDED,
                format!("too many installed filters (limit {})", limits.max_filters),
            ));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut preimage = [0u8; 16];
        preimage[..8].copy_from_slice(&self.seed.to_be_bytes());
        preimage[8..].copy_from_slice(&n.to_be_bytes());
        let id = format!("0x{}", hex::encode(&keccak256(preimage)[..16]));
        map.insert(
            id.clone(),
            Installed {
                kind,
                last_poll: now,
            },
        );
        Ok(id)
    }

    /// Removes a filter; whether it existed.
    pub(crate) fn uninstall(&self, id: &str) -> bool {
        self.lock()
            .map(|mut m| m.remove(&id.to_ascii_lowercase()).is_some())
            .unwrap_or(false)
    }

    /// The filter of a log filter (for `eth_getFilterLogs`).
    pub(crate) fn log_filter(&self, id: &str) -> Result<Filter, RpcError> {
        let mut map = self.lock()?;
        let installed = map
            .get_mut(&id.to_ascii_lowercase())
            .ok_or_else(not_found)?;
        installed.last_poll = Instant::now();
        match &installed.kind {
            Kind::Logs { filter, .. } => Ok((**filter).clone()),
            _ => Err(not_found()),
        }
    }

    /// Appends a pending transaction's hash to every pending filter.
    fn push_pending(&self, hash: B256) {
        if let Ok(mut map) = self.map.lock() {
            for f in map.values_mut() {
                if let Kind::Pending { hashes } = &mut f.kind {
                    if hashes.len() >= MAX_PENDING_BUFFER {
                        hashes.pop_front();
                    }
                    hashes.push_back(hash);
                }
            }
        }
    }

    /// How many filters are installed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// `eth_getFilterChanges`.
pub(crate) fn changes(api: &Api<'_>, id: &str) -> Result<Value, RpcError> {
    let head = api.head()?;
    let limits = &api.ctx.limits;
    let mut map = api.ctx.filters.lock()?;
    let installed = map
        .get_mut(&id.to_ascii_lowercase())
        .ok_or_else(not_found)?;
    let now = Instant::now();
    if now.duration_since(installed.last_poll) >= limits.filter_ttl {
        map.remove(&id.to_ascii_lowercase());
        return Err(not_found());
    }
    installed.last_poll = now;
    match &mut installed.kind {
        Kind::Blocks { next } => {
            let to = head.min(next.saturating_add(limits.max_log_range) - 1);
            let mut hashes = Vec::new();
            for n in *next..=to {
                hashes.push(api.header(n)?.hash_slow());
            }
            *next = (*next).max(to + 1);
            Ok(json!(hashes))
        }
        Kind::Logs { filter, next } => {
            let mut to = head.min(next.saturating_add(limits.max_log_range) - 1);
            if let FilterBlockOption::Range {
                to_block: Some(BlockNumberOrTag::Number(end)),
                ..
            } = filter.block_option
            {
                to = to.min(end);
            }
            let mut logs = Vec::new();
            for n in *next..=to {
                logs.extend(api.block_logs(n, filter)?);
                if logs.len() > limits.max_logs {
                    return Err(RpcError::new(
                        LIMIT_EXCEEDED,
                        format!("query returned more than {} results", limits.max_logs),
                    ));
                }
            }
            *next = (*next).max(to + 1);
            serde_json::to_value(logs).map_err(RpcError::internal)
        }
        Kind::Pending { hashes } => Ok(json!(hashes.drain(..).collect::<Vec<_>>())),
    }
}

/// Feeds pending filters from the mempool's admissions until the node stops.
pub(crate) async fn feed_pending(
    filters: std::sync::Arc<Filters>,
    mut pending: broadcast::Receiver<B256>,
) {
    loop {
        match pending.recv().await {
            Ok(hash) => filters.push_pending(hash),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn filters_are_bounded_and_expire() {
        let filters = Filters::default();
        let limits = RpcLimits {
            max_filters: 2,
            filter_ttl: Duration::from_millis(50),
            ..RpcLimits::default()
        };
        let a = filters.install(Kind::Blocks { next: 1 }, &limits).unwrap();
        let b = filters.install(Kind::Blocks { next: 1 }, &limits).unwrap();
        assert_ne!(a, b);
        let e = filters
            .install(Kind::Blocks { next: 1 }, &limits)
            .unwrap_err();
        assert_eq!(e.code, LIMIT_EXCEEDED);
        std::thread::sleep(Duration::from_millis(60));
        // Expired filters make room.
        filters.install(Kind::Blocks { next: 1 }, &limits).unwrap();
        assert_eq!(filters.len(), 1);
        assert!(!filters.uninstall(&a));
    }

    #[test]
    fn pending_buffers_are_bounded() {
        let filters = Filters::default();
        let id = filters
            .install(
                Kind::Pending {
                    hashes: VecDeque::new(),
                },
                &RpcLimits::default(),
            )
            .unwrap();
        for i in 0..(MAX_PENDING_BUFFER + 10) {
            filters.push_pending(B256::with_last_byte(i as u8));
        }
        let map = filters.map.lock().unwrap();
        match &map[&id].kind {
            Kind::Pending { hashes } => assert_eq!(hashes.len(), MAX_PENDING_BUFFER),
            _ => unreachable!(),
        }
    }
}
