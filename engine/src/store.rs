//! Consensus data in the database: safety data, the uncommitted blocks consensus stored,
//! and the commit records of committed blocks, read back into a [`Recovery`] at start.

use alloy_primitives::Bytes;
use parallax_consensus::{Block, BlockInfo, Evidence, Hash as BlockId, Recovery, SafetyData};
use parallax_network::wire::{self, CommittedBlock};
use parallax_storage::{
    Database, Reader, StorageError,
    tables::{ConsensusEvidence, ConsensusSafety},
};
use parallax_storage_api::{BlockReader, SafetyReader};
use thiserror::Error;

/// The key of the safety data (the last voted round, locked QC, …).
pub const SAFETY_KEY: &str = "safety";
/// How many committed blocks leader reputation reads back at start.
const RECENT_COMMITTED: u64 = 32;
/// Uncommitted blocks are kept this many heights below the committed head, to answer
/// peers that fetch ancestors by id.
const KEEP_BELOW_HEAD: u64 = 64;

/// Most evidence kept against one validator. One proves the fault; the rest are kept for
/// operators, up to this bound, so a validator equivocating in every round cannot grow the
/// database without end. Evidence past it is counted, not stored.
pub const MAX_EVIDENCE_PER_VALIDATOR: usize = 256;

/// What [`store_evidence`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredEvidence {
    /// Stored: new to this node.
    New,
    /// Already stored (same culprit, round and kind).
    Known,
    /// Not stored: the culprit already has [`MAX_EVIDENCE_PER_VALIDATOR`].
    Full,
}

fn evidence_key(e: &Evidence) -> (u32, u64, u32) {
    (e.culprit(), e.round(), u32::from(e.kind().tag()))
}

/// Stores verified evidence (canonical form) under (culprit, round, kind).
pub fn store_evidence(db: &Database, e: &Evidence) -> Result<StoredEvidence, StorageError> {
    let key = evidence_key(e);
    let tx = db.begin_rw()?;
    if tx.get::<ConsensusEvidence>(&key)?.is_some() {
        return Ok(StoredEvidence::Known);
    }
    let held = tx
        .cursor::<ConsensusEvidence>()?
        .walk_prefix(&e.culprit())
        .take(MAX_EVIDENCE_PER_VALIDATOR)
        .count();
    if held >= MAX_EVIDENCE_PER_VALIDATOR {
        return Ok(StoredEvidence::Full);
    }
    let canonical = e.clone().canonical();
    tx.put::<ConsensusEvidence>(&key, &Bytes::from(canonical.encode()))?;
    tx.commit()?;
    Ok(StoredEvidence::New)
}

/// Stored evidence, against `validator` only when given, in (validator, round) order, at
/// most `limit`.
pub fn stored_evidence(
    reader: &Reader<'_>,
    validator: Option<u32>,
    limit: usize,
) -> Result<Vec<Evidence>, StoreError> {
    let mut cursor = reader.cursor::<ConsensusEvidence>()?;
    let entries: Vec<_> = match validator {
        Some(v) => cursor.walk_prefix(&v).take(limit).collect(),
        None => cursor.walk(None).take(limit).collect(),
    };
    entries
        .into_iter()
        .map(|entry| {
            let (_, bytes) = entry?;
            Evidence::decode(&bytes).map_err(|e| StoreError::Corrupt {
                what: "evidence",
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Reading consensus data back failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    /// Stored bytes do not decode.
    #[error("stored {what} does not decode: {reason}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// The key an uncommitted block is kept under: its id in hex.
pub(crate) fn block_key(id: &BlockId) -> String {
    hex::encode(id.0)
}

/// Durably stores (fsync) the safety data; returns once it is on disk.
pub fn store_safety(db: &Database, data: &SafetyData) -> Result<(), StorageError> {
    db.write_safety(SAFETY_KEY, &data.encode())
}

/// Durably stores an uncommitted block consensus asked to keep.
pub fn store_block(db: &Database, block: &Block) -> Result<(), StorageError> {
    db.write_safety(&block_key(&block.id()), &block.encode())
}

/// An uncommitted block stored by [`store_block`].
pub fn stored_block(
    reader: &(impl SafetyReader + ?Sized),
    id: &BlockId,
) -> Result<Option<Block>, StoreError> {
    match reader.safety(&block_key(id))? {
        None => Ok(None),
        Some(bytes) => Block::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: "consensus block",
                reason: e.to_string(),
            }),
    }
}

/// Every stored uncommitted block.
fn stored_blocks(reader: &Reader<'_>) -> Result<Vec<Block>, StoreError> {
    let mut cursor = reader.cursor::<ConsensusSafety>()?;
    let mut out = Vec::new();
    for entry in cursor.walk(None) {
        let (key, value) = entry?;
        if key == SAFETY_KEY {
            continue;
        }
        let block = Block::decode(&value).map_err(|e| StoreError::Corrupt {
            what: "consensus block",
            reason: e.to_string(),
        })?;
        out.push(block);
    }
    Ok(out)
}

/// Deletes stored uncommitted blocks far below the committed head.
pub fn prune_blocks(db: &Database, head: u64) -> Result<usize, StoreError> {
    let Some(below) = head.checked_sub(KEEP_BELOW_HEAD) else {
        return Ok(0);
    };
    let stale: Vec<String> = {
        let reader = db.reader()?;
        stored_blocks(&reader)?
            .iter()
            .filter(|b| b.height() < below)
            .map(|b| block_key(&b.id()))
            .collect()
    };
    if stale.is_empty() {
        return Ok(0);
    }
    let tx = db.begin_rw()?;
    for key in &stale {
        tx.delete::<ConsensusSafety>(key)?;
    }
    tx.commit()?;
    Ok(stale.len())
}

/// The commit record stored with committed block `number`.
pub fn committed_record(
    reader: &(impl BlockReader + ?Sized),
    number: u64,
) -> Result<Option<CommittedBlock>, StoreError> {
    match reader.certificate(number)? {
        None => Ok(None),
        Some(bytes) => wire::decode_committed(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: "commit record",
                reason: e.to_string(),
            }),
    }
}

/// The consensus identity of the committed head: the genesis block, or the block in the
/// head's commit record.
pub fn head_info(
    reader: &(impl BlockReader + ?Sized),
    genesis: BlockId,
) -> Result<BlockInfo, StoreError> {
    let head = reader.head_number()?.unwrap_or(0);
    if head == 0 {
        return Ok(BlockInfo::genesis(genesis));
    }
    let record = committed_record(reader, head)?.ok_or(StoreError::Corrupt {
        what: "commit record",
        reason: format!("block {head} has none"),
    })?;
    Ok(record.block.info())
}

/// What consensus needs to restart where it stopped.
pub fn recovery(db: &Database, genesis: BlockId) -> Result<Recovery, StoreError> {
    let reader = db.reader()?;
    let safety = match reader.safety(SAFETY_KEY)? {
        None => None,
        Some(bytes) => Some(SafetyData::decode(&bytes).map_err(|e| StoreError::Corrupt {
            what: "safety data",
            reason: e.to_string(),
        })?),
    };
    let committed = head_info(&reader, genesis)?;
    let mut committed_blocks = Vec::new();
    let first = committed.height.saturating_sub(RECENT_COMMITTED).max(1);
    for number in first..=committed.height {
        if let Some(record) = committed_record(&reader, number)? {
            committed_blocks.push(record.block);
        }
    }
    let blocks = stored_blocks(&reader)?
        .into_iter()
        .filter(|b| b.height() > committed.height)
        .collect();
    Ok(Recovery {
        safety,
        committed,
        committed_blocks,
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use parallax_consensus::{SignedTimeout, crypto};

    fn double_timeout(culprit: u32, round: u64) -> Evidence {
        let key = SigningKey::from_bytes(&[culprit as u8 + 1; 32]);
        let signed = |hqc| SignedTimeout {
            author: culprit,
            round,
            high_qc_round: hqc,
            signature: crypto::sign(&key, &crypto::timeout_message(9, round, hqc)),
        };
        Evidence::DoubleTimeout {
            first: signed(1),
            second: signed(0),
        }
    }

    #[test]
    fn evidence_is_stored_once_in_canonical_form_and_bounded_per_validator() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let e = double_timeout(2, 5);
        assert_eq!(store_evidence(&db, &e).unwrap(), StoredEvidence::New);
        assert_eq!(store_evidence(&db, &e).unwrap(), StoredEvidence::Known);
        let stored = stored_evidence(&db.reader().unwrap(), Some(2), 10).unwrap();
        assert_eq!(stored, vec![e.clone().canonical()]);
        assert!(
            stored_evidence(&db.reader().unwrap(), Some(1), 10)
                .unwrap()
                .is_empty()
        );
        // A validator equivocating in every round fills its share, then is only counted;
        // another validator's evidence is still kept.
        for round in 6..(6 + MAX_EVIDENCE_PER_VALIDATOR as u64 - 1) {
            assert_eq!(
                store_evidence(&db, &double_timeout(2, round)).unwrap(),
                StoredEvidence::New
            );
        }
        assert_eq!(
            store_evidence(&db, &double_timeout(2, 10_000)).unwrap(),
            StoredEvidence::Full
        );
        assert_eq!(
            store_evidence(&db, &double_timeout(3, 10_000)).unwrap(),
            StoredEvidence::New
        );
        let all = stored_evidence(&db.reader().unwrap(), None, usize::MAX).unwrap();
        assert_eq!(all.len(), MAX_EVIDENCE_PER_VALIDATOR + 1);
        assert_eq!(all.last().unwrap().culprit(), 3);
    }
}
