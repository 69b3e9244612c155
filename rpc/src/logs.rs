//! Logs: the matching logs of a block (its receipts' logs, then its bridge deposits'),
//! the range a filter covers, and `eth_getLogs`'s bounded scan, for `eth_getLogs`, log
//! filters and `logs` subscriptions.

use crate::{
    error::{LIMIT_EXCEEDED, RpcError},
    read::Api,
};
use alloy_consensus::TxEnvelope;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, keccak256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log as RpcLog};

/// The transaction hash the logs of block `n`'s bridge deposits carry (they belong to no
/// transaction): `keccak256("parallax-bridge-deposits" ‖ n as 8 big-endian bytes)`.
pub(crate) fn system_tx_hash(n: u64) -> B256 {
    let mut preimage = b"parallax-bridge-deposits".to_vec();
    preimage.extend_from_slice(&n.to_be_bytes());
    keccak256(preimage)
}

impl Api<'_> {
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
