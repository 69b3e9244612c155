//! Block sync: a node that is behind (restarted, new, or a full node following the chain)
//! asks peers for committed blocks by height, checks that they are committed, and hands them
//! to the driver, which executes and persists them.
//!
//! A response is a run of consecutive blocks, each with its commit record. The run must
//! continue this node's head (parent ids link), and a block counts as committed only when
//! the 2-chain that committed it is proven: its record carries the child block of the next
//! round that extends it and a quorum certificate for that child, whose signatures are
//! verified against the validator set. Every block below a proven one is committed too (its
//! id is linked into the proven block's ancestry), so only blocks above the last proof in a
//! response are left for the next request.

use super::{Input, Shared, store};
use crate::{
    chain::ChainSpec,
    network::NetworkHandle,
    wire::{self, CommittedBlock, Request, SyncErrorCode, SyncRequest},
};
use parallax_consensus::{Block, Hash as BlockId, ValidatorSet};
use parallax_storage::Database;
use std::{
    sync::{Arc, atomic::Ordering, mpsc::SyncSender},
    time::Duration,
};
use thiserror::Error;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

/// Blocks asked for per request.
const BATCH: u32 = 64;
/// Most blocks served per response beyond the asked range, to reach the next commit proof.
const EXTEND_TO_PROOF: u64 = 16;
/// Most bytes of blocks served in one response.
const MAX_RESPONSE_BLOCK_BYTES: usize = 24 * 1024 * 1024;
/// Most ancestors served for one fetch.
const MAX_FETCH: u32 = 64;
/// A node that committed a block this recently is following consensus, not behind.
const QUIET_BEFORE_SYNC_MS: u64 = 2_000;
/// Pause between polls when up to date.
const IDLE_POLL: Duration = Duration::from_millis(1_000);

/// The genesis validator set as consensus sees it.
pub(crate) fn validator_set(spec: &ChainSpec) -> Result<ValidatorSet, String> {
    ValidatorSet::new(
        spec.validators
            .iter()
            .map(|v| (*v.consensus_key.verifying_key(), v.voting_power))
            .collect(),
    )
    .map_err(|e| format!("validator set: {e}"))
}

/// Why a sync response was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum SyncVerifyError {
    /// A block is not at the next height.
    #[error("block at height {found}, expected {expected}")]
    Height {
        /// Found.
        found: u64,
        /// Expected.
        expected: u64,
    },
    /// A block does not extend the one before it.
    #[error("block at height {0} does not extend its predecessor")]
    Parent(u64),
    /// A commit proof does not hold.
    #[error("commit proof at height {height}: {reason}")]
    Proof {
        /// Height.
        height: u64,
        /// Why.
        reason: String,
    },
}

/// How many of `records` (consecutive from `head + 1`, the first extending `head_id`) are
/// proven committed.
pub(crate) fn verify_committed(
    records: &[CommittedBlock],
    head_id: BlockId,
    head: u64,
    chain_id: u64,
    validators: &ValidatorSet,
) -> Result<usize, SyncVerifyError> {
    let mut prev = head_id;
    let mut proven = 0;
    for (i, record) in records.iter().enumerate() {
        let block = &record.block;
        let expected = head + 1 + i as u64;
        if block.height() != expected {
            return Err(SyncVerifyError::Height {
                found: block.height(),
                expected,
            });
        }
        if block.parent() != prev {
            return Err(SyncVerifyError::Parent(expected));
        }
        prev = block.id();
        if let Some(child) = &record.child {
            let proof = |reason: &str| SyncVerifyError::Proof {
                height: expected,
                reason: reason.into(),
            };
            if child.parent() != block.id() || child.round() != block.round() + 1 {
                return Err(proof("the child is not the next round's block on it"));
            }
            let qc = &record.commit_qc;
            if qc.block() != child.info() {
                return Err(proof("the certificate is not for the child"));
            }
            qc.verify(chain_id, validators)
                .map_err(|e| proof(&e.to_string()))?;
            proven = i + 1;
        }
    }
    Ok(proven)
}

/// Answers a sync request from the database.
pub(crate) fn serve(db: &Database, genesis: BlockId, data: &[u8]) -> Vec<u8> {
    let refuse =
        |code, message: String| wire::encode_sync_response(&Err(wire::SyncError { code, message }));
    let request = match wire::decode_request(data) {
        Ok(r) => r,
        Err(e) => return refuse(SyncErrorCode::Unspecified, format!("bad request: {e}")),
    };
    let reader = match db.reader() {
        Ok(r) => r,
        Err(e) => return refuse(SyncErrorCode::Internal, e.to_string()),
    };
    let _ = genesis;
    match request {
        Request::Committed(SyncRequest {
            from_height,
            max_blocks,
        }) => {
            let head = reader.head_number().ok().flatten().unwrap_or(0);
            if from_height == 0 || from_height > head {
                return refuse(SyncErrorCode::RangeUnavailable, format!("head is {head}"));
            }
            let last = head.min(from_height + u64::from(max_blocks.clamp(1, BATCH)) - 1);
            let mut out = Vec::new();
            let mut bytes = 0;
            let mut number = from_height;
            while number <= head {
                let record = match store::committed_record(&reader, number) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => return refuse(SyncErrorCode::Internal, e.to_string()),
                };
                bytes += record.block.payload().len();
                let has_proof = record.child.is_some();
                out.push(record);
                // Past the asked range, go on only until a block with a commit proof.
                if (number >= last && has_proof)
                    || number >= last + EXTEND_TO_PROOF
                    || bytes > MAX_RESPONSE_BLOCK_BYTES
                {
                    break;
                }
                number += 1;
            }
            if out.is_empty() {
                return refuse(SyncErrorCode::RangeUnavailable, "no blocks".into());
            }
            wire::encode_sync_response(&Ok(out))
        }
        Request::Fetch(fetch) => {
            let mut out: Vec<Block> = Vec::new();
            let mut at = fetch.id;
            for _ in 0..=fetch.ancestors.min(MAX_FETCH) {
                match store::stored_block(&reader, &at) {
                    Ok(Some(block)) => {
                        at = block.parent();
                        out.push(block);
                    }
                    _ => break,
                }
            }
            wire::encode_fetch_response(&out)
        }
    }
}

/// Polls peers for committed blocks above this node's head.
pub(crate) struct Syncer {
    pub(crate) net: NetworkHandle,
    pub(crate) db: Arc<Database>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) inputs: SyncSender<Input>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) validators: ValidatorSet,
}

impl Syncer {
    pub(crate) async fn run(self) {
        let mut turn = 0usize;
        loop {
            let behind = match self.round(turn).await {
                Ok(n) => n > 0,
                Err(e) => {
                    debug!(error = %e, "sync round failed");
                    false
                }
            };
            turn = turn.wrapping_add(1);
            if !behind {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }

    /// One request to one peer; returns how many blocks were imported. A node that is
    /// committing blocks itself is not behind and asks nothing.
    async fn round(&self, turn: usize) -> Result<u64, String> {
        let last = self.shared.last_commit_ms.load(Ordering::Relaxed);
        if last != 0 && super::now_millis().saturating_sub(last) < QUIET_BEFORE_SYNC_MS {
            return Ok(0);
        }
        let peers = self.net.peers().await;
        if peers.is_empty() {
            return Ok(0);
        }
        let peer = peers[turn % peers.len()].peer;
        let (head, head_id) = {
            let reader = self.db.reader().map_err(|e| e.to_string())?;
            let head = reader
                .head_number()
                .map_err(|e| e.to_string())?
                .unwrap_or(0);
            let info =
                store::head_info(&reader, self.spec.genesis_id()).map_err(|e| e.to_string())?;
            (head, info.id)
        };
        let request = wire::encode_sync_request(&SyncRequest {
            from_height: head + 1,
            max_blocks: BATCH,
        });
        let bytes = self
            .net
            .request(peer, request)
            .await
            .map_err(|e| e.to_string())?;
        let records = match wire::decode_sync_response(&bytes) {
            Ok(Ok(records)) => records,
            Ok(Err(refusal)) => {
                if refusal.code != SyncErrorCode::RangeUnavailable {
                    debug!(%peer, %refusal, "sync refused");
                }
                return Ok(0);
            }
            Err(e) => {
                self.shared
                    .bad_sync_responses
                    .fetch_add(1, Ordering::Relaxed);
                warn!(%peer, error = %e, "malformed sync response");
                return Ok(0);
            }
        };
        let proven = match verify_committed(
            &records,
            head_id,
            head,
            self.spec.chain_id,
            &self.validators,
        ) {
            Ok(n) => n,
            Err(e) => {
                self.shared
                    .bad_sync_responses
                    .fetch_add(1, Ordering::Relaxed);
                warn!(%peer, error = %e, "sync response failed verification");
                return Ok(0);
            }
        };
        if proven == 0 {
            return Ok(0);
        }
        let mut records = records;
        records.truncate(proven);
        let (done, wait) = oneshot::channel();
        if self
            .inputs
            .try_send(Input::Synced {
                blocks: records,
                done,
            })
            .is_err()
        {
            return Ok(0);
        }
        let imported = wait.await.map_err(|e| e.to_string())??;
        if imported > 0 {
            info!(%peer, imported, from = head + 1, "synced");
        }
        Ok(imported)
    }
}
