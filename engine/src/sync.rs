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

use crate::store;
use crate::{input::Input, state::Shared};
use parallax_chain::ChainSpec;
use parallax_consensus::{Block, Hash as BlockId, ValidatorSet};
use parallax_network::{
    NetworkHandle,
    wire::{self, CommittedBlock, Request, SyncErrorCode, SyncRequest},
};
use parallax_storage::Database;
use parallax_storage_api::{BlockReader, SafetyReader};
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
/// A validator that committed a block this recently is following consensus, not behind
/// (unless its consensus committed past its stored head).
const QUIET_BEFORE_SYNC_MS: u64 = 2_000;
/// Pause between a validator's polls when up to date (its consensus brings its blocks).
const IDLE_POLL: Duration = Duration::from_millis(1_000);
/// Pause between a full node's polls when up to date (block sync is how it follows the
/// chain, so this is how far it may trail it).
const FULL_NODE_POLL: Duration = Duration::from_millis(200);

/// The genesis validator set as consensus sees it.
pub fn validator_set(spec: &ChainSpec) -> Result<ValidatorSet, String> {
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
pub enum SyncVerifyError {
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
pub fn verify_committed(
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
            parallax_consensus::proof::verify_commit(
                block,
                child,
                &record.commit_qc,
                chain_id,
                validators,
            )
            .map_err(|e| SyncVerifyError::Proof {
                height: expected,
                reason: e.to_string(),
            })?;
            proven = i + 1;
        }
    }
    Ok(proven)
}

/// A refusal of a sync request, encoded.
pub fn refuse(code: SyncErrorCode, message: String) -> Vec<u8> {
    wire::encode_sync_response(&Err(wire::SyncError { code, message }))
}

/// Answers a sync request from one snapshot of the committed chain (`reader`: the database
/// in the node): a run of committed blocks with their commit records, from the asked height
/// up to the asked count (at most [`BATCH`]) and on, at most [`EXTEND_TO_PROOF`] blocks
/// further, to the next block with a commit proof, within [`MAX_RESPONSE_BLOCK_BYTES`]; or a
/// block and its stored ancestors by id. Bad requests and unavailable ranges get a refusal.
pub fn serve(reader: &(impl BlockReader + SafetyReader + ?Sized), data: &[u8]) -> Vec<u8> {
    let request = match wire::decode_request(data) {
        Ok(r) => r,
        Err(e) => return refuse(SyncErrorCode::Unspecified, format!("bad request: {e}")),
    };
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
                let record = match store::committed_record(reader, number) {
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
                match store::stored_block(reader, &at) {
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
pub struct Syncer {
    /// A validator: its own consensus commits blocks, and sync only fills gaps.
    pub follows_consensus: bool,
    /// The network it reads from and publishes on.
    pub net: NetworkHandle,
    /// The database (read through snapshots).
    pub db: Arc<Database>,
    /// The chain's rules.
    pub spec: Arc<ChainSpec>,
    /// The consensus driver's input queue.
    pub inputs: SyncSender<Input>,
    /// What the parts publish for RPC, admin and metrics.
    pub shared: Arc<Shared>,
    /// The genesis validator set signatures are checked against.
    pub validators: ValidatorSet,
}

impl Syncer {
    /// Fetches, verifies and hands the driver committed blocks, until the task is stopped.
    pub async fn run(self) {
        let mut turn = 0usize;
        let mut behind = false;
        loop {
            // While a round imports blocks the next one follows at once: the node is catching
            // up, and its own imports must not make it look like it follows consensus.
            behind = match self.round(turn, behind).await {
                Ok(n) => n > 0,
                Err(e) => {
                    debug!(error = %e, "sync round failed");
                    false
                }
            };
            self.shared.chain.syncing.store(behind, Ordering::Relaxed);
            turn = turn.wrapping_add(1);
            if !behind {
                tokio::time::sleep(if self.follows_consensus {
                    IDLE_POLL
                } else {
                    FULL_NODE_POLL
                })
                .await;
            }
        }
    }

    /// One request to one peer; returns how many blocks were imported. A validator that is
    /// committing blocks itself, and whose consensus has not committed past its stored head,
    /// is not behind and asks nothing.
    async fn round(&self, turn: usize, catching_up: bool) -> Result<u64, String> {
        let last = self.shared.chain.last_commit_ms.load(Ordering::Relaxed);
        let stored = self.shared.chain.head.load(Ordering::Relaxed);
        let gap = self
            .shared
            .consensus
            .consensus_committed
            .load(Ordering::Relaxed)
            > stored;
        if self.follows_consensus
            && !catching_up
            && !gap
            && last != 0
            && crate::clock::now_millis().saturating_sub(last) < QUIET_BEFORE_SYNC_MS
        {
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
                    .ingress
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
                    .ingress
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use parallax_consensus::{BlockInfo, QuorumCertificate};
    use parallax_storage::BlockWrite;
    use parallax_storage_api::MemoryStore;
    use parallax_test_support::Signers;

    const CHAIN: u64 = 9;

    fn set() -> ValidatorSet {
        Signers::new(CHAIN, 4).validator_set()
    }

    fn qc(block: BlockInfo, signers: &[u32]) -> QuorumCertificate {
        Signers::new(CHAIN, 4).qc(block, signers)
    }

    /// Blocks 1..=3 in rounds 1, 2, 4 on `genesis`, and block 4 in round 5.
    fn blocks(genesis: BlockId) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        let mut parent = genesis;
        for (height, round) in [(1, 1), (2, 2), (3, 4), (4, 5)] {
            let b = Block::new(round, height, parent, 0, vec![0, 1, 2], vec![height as u8]);
            parent = b.id();
            out.push(b);
        }
        out
    }

    /// A chain of `n` blocks in consecutive rounds on `genesis`.
    fn chain(genesis: BlockId, n: u64) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        let mut parent = genesis;
        for height in 1..=n {
            let b = Block::new(height, height, parent, 0, vec![0, 1, 2], vec![height as u8]);
            parent = b.id();
            out.push(b);
        }
        out
    }

    /// A store holding `blocks` committed at heights 1.., each with its commit record as the
    /// node writes it: the blocks at `proven` heights head a 2-chain (their record carries the
    /// child and its QC); those below one carry that 2-chain's QC. The last block must be
    /// proven.
    fn committed_store(blocks: &[Block], proven: &[u64]) -> MemoryStore {
        let mut store = MemoryStore::new();
        let genesis = BlockWrite::new(Header::default());
        let mut parent = genesis.hash;
        store.write_genesis(&genesis, CHAIN).unwrap();
        let proofs: Vec<(u64, Block, QuorumCertificate)> = proven
            .iter()
            .map(|&height| {
                let block = &blocks[height as usize - 1];
                let child = Block::new(
                    block.round() + 1,
                    height + 1,
                    block.id(),
                    0,
                    vec![0, 1, 2],
                    vec![],
                );
                let qc = qc(child.info(), &[0, 1, 2]);
                (height, child, qc)
            })
            .collect();
        for (i, block) in blocks.iter().enumerate() {
            let height = i as u64 + 1;
            let (proof_height, child, qc) = proofs
                .iter()
                .find(|(p, _, _)| *p >= height)
                .expect("every block is under a proof");
            let child = (*proof_height == height).then_some(child);
            let record = wire::encode_committed(block, qc, child);
            let mut write = BlockWrite::new(Header {
                number: height,
                parent_hash: parent,
                ..Default::default()
            });
            write.certificate = Some(record.into());
            parent = write.hash;
            store.write_block(&write).unwrap();
        }
        store
    }

    fn ask(
        store: &MemoryStore,
        from_height: u64,
        max_blocks: u32,
    ) -> Result<Vec<u64>, SyncErrorCode> {
        let request = wire::encode_sync_request(&SyncRequest {
            from_height,
            max_blocks,
        });
        wire::decode_sync_response(&serve(store, &request))
            .unwrap()
            .map(|records| records.iter().map(|r| r.block.height()).collect())
            .map_err(|e| e.code)
    }

    #[test]
    fn junk_and_unavailable_requests_get_error_answers() {
        let store = committed_store(&chain(BlockId([0xab; 32]), 4), &[4]);
        for junk in [&[0xff_u8; 40][..], &[], &[0x08, 0x01]] {
            let answer = serve(&store, junk);
            match wire::decode_sync_response(&answer) {
                Ok(Err(refusal)) => assert!(!refusal.message.is_empty()),
                other => panic!("junk {junk:?} answered with {other:?}"),
            }
        }
        // A range above the head, or from the genesis, is refused as unavailable.
        assert_eq!(ask(&store, 5, 4), Err(SyncErrorCode::RangeUnavailable));
        assert_eq!(ask(&store, 0, 4), Err(SyncErrorCode::RangeUnavailable));
        // An unknown block id yields no blocks.
        let fetch = wire::encode_fetch_request(&wire::FetchRequest {
            id: BlockId([3; 32]),
            ancestors: 2,
        });
        assert!(
            wire::decode_fetch_response(&serve(&store, &fetch))
                .unwrap()
                .is_empty()
        );
    }

    /// A served run ends at the asked end when that block carries a commit proof, goes on to
    /// the next proof when it does not (at most 16 blocks further, so a peer without proofs
    /// cannot make one answer unbounded), and is capped at 64 blocks asked however many are.
    /// What it serves verifies as committed on the asking side.
    #[test]
    fn served_runs_reach_a_commit_proof_within_their_bounds() {
        let blocks = chain(BlockId([0xab; 32]), 100);
        let store = committed_store(&blocks, &[4, 9, 100]);
        assert_eq!(ask(&store, 1, 4), Ok((1..=4).collect()));
        assert_eq!(ask(&store, 1, 2), Ok((1..=4).collect()));
        assert_eq!(ask(&store, 5, 1), Ok((5..=9).collect()));
        // No proof between 10 and 99: 16 blocks past the asked end, then stop.
        assert_eq!(ask(&store, 10, 2), Ok((10..=27).collect()));
        // Asking for more than a batch gets at most 64 (+16 looking for a proof); asking for
        // none or more than the wire allows is a bad request.
        assert_eq!(
            ask(&store, 10, parallax_proto::MAX_SYNC_BLOCKS),
            Ok((10..=89).collect())
        );
        assert_eq!(ask(&store, 9, 0), Err(SyncErrorCode::Unspecified));
        assert_eq!(
            ask(&store, 9, parallax_proto::MAX_SYNC_BLOCKS + 1),
            Err(SyncErrorCode::Unspecified)
        );
        // The last proof is the head's: a run to it stops there.
        assert_eq!(ask(&store, 95, 64), Ok((95..=100).collect()));
        // What is served verifies as committed on the asking side.
        let request = wire::encode_sync_request(&SyncRequest {
            from_height: 1,
            max_blocks: 4,
        });
        let records = wire::decode_sync_response(&serve(&store, &request))
            .unwrap()
            .unwrap();
        assert_eq!(
            verify_committed(&records, BlockId([0xab; 32]), 0, CHAIN, &set()),
            Ok(4)
        );
    }

    /// A fetch walks a block's kept ancestors by id, newest first, up to what was asked.
    #[test]
    fn fetches_walk_kept_ancestors_by_id() {
        let blocks = chain(BlockId([0xab; 32]), 5);
        let mut store = committed_store(&[], &[]);
        for block in &blocks {
            store
                .write_safety(&crate::store::block_key(&block.id()), &block.encode())
                .unwrap();
        }
        let fetch = |id: BlockId, ancestors: u32| -> Vec<u64> {
            let request = wire::encode_fetch_request(&wire::FetchRequest { id, ancestors });
            wire::decode_fetch_response(&serve(&store, &request))
                .unwrap()
                .iter()
                .map(Block::height)
                .collect()
        };
        assert_eq!(fetch(blocks[4].id(), 2), [5, 4, 3]);
        assert_eq!(fetch(blocks[4].id(), 100), [5, 4, 3, 2, 1]);
        assert_eq!(fetch(blocks[1].id(), 0), [2]);
    }

    #[test]
    fn only_blocks_below_a_verified_two_chain_count_as_committed() {
        let genesis = BlockId([0xab; 32]);
        let b = blocks(genesis);
        // Block 3 (round 4) heads the 2-chain with block 4 (round 5); blocks 1 and 2 were
        // committed with it and carry its QC.
        let proof = qc(b[3].info(), &[0, 1, 2]);
        let records: Vec<CommittedBlock> = (0..3)
            .map(|i| CommittedBlock {
                block: b[i].clone(),
                commit_qc: proof.clone(),
                child: (i == 2).then(|| b[3].clone()),
            })
            .collect();
        assert_eq!(verify_committed(&records, genesis, 0, CHAIN, &set()), Ok(3));
        // Without the last record the first two are not proven yet.
        assert_eq!(
            verify_committed(&records[..2], genesis, 0, CHAIN, &set()),
            Ok(0)
        );

        // A QC with a forged signature, or without a quorum, proves nothing.
        let mut forged = records.clone();
        forged[2].commit_qc.signatures[1].signature = forged[2].commit_qc.signatures[0].signature;
        assert!(matches!(
            verify_committed(&forged, genesis, 0, CHAIN, &set()),
            Err(SyncVerifyError::Proof { height: 3, .. })
        ));
        let mut thin = records.clone();
        thin[2].commit_qc = qc(b[3].info(), &[0, 1]);
        assert!(verify_committed(&thin, genesis, 0, CHAIN, &set()).is_err());
        // Signed for another chain.
        assert!(verify_committed(&records, genesis, 0, CHAIN + 1, &set()).is_err());

        // A child in a later round than the next is no 2-chain.
        let late = Block::new(6, 4, b[2].id(), 0, vec![0, 1, 2], vec![9]);
        let mut gap = records.clone();
        gap[2].child = Some(late.clone());
        gap[2].commit_qc = qc(late.info(), &[0, 1, 2]);
        assert!(verify_committed(&gap, genesis, 0, CHAIN, &set()).is_err());

        // Blocks that do not continue this node's head are refused.
        assert_eq!(
            verify_committed(&records, BlockId([1; 32]), 0, CHAIN, &set()),
            Err(SyncVerifyError::Parent(1))
        );
        assert_eq!(
            verify_committed(&records[1..], b[0].id(), 0, CHAIN, &set()),
            Err(SyncVerifyError::Height {
                found: 2,
                expected: 1
            })
        );
    }
}
