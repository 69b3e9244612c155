//! Consensus data in the database: safety data, the uncommitted blocks consensus stored,
//! and the commit records of committed blocks, read back into a [`Recovery`] at start.

use crate::wire::{self, CommittedBlock};
use parallax_consensus::{Block, BlockInfo, Hash as BlockId, Recovery, SafetyData};
use parallax_storage::{Database, Reader, StorageError, tables::ConsensusSafety};
use thiserror::Error;

/// The key of the safety data (the last voted round, locked QC, …).
pub(crate) const SAFETY_KEY: &str = "safety";
/// How many committed blocks leader reputation reads back at start.
const RECENT_COMMITTED: u64 = 32;
/// Uncommitted blocks are kept this many heights below the committed head, to answer
/// peers that fetch ancestors by id.
const KEEP_BELOW_HEAD: u64 = 64;

/// Reading consensus data back failed.
#[derive(Debug, Error)]
pub(crate) enum StoreError {
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

fn block_key(id: &BlockId) -> String {
    hex::encode(id.0)
}

/// Durably stores (fsync) the safety data; returns once it is on disk.
pub(crate) fn store_safety(db: &Database, data: &SafetyData) -> Result<(), StorageError> {
    db.write_safety(SAFETY_KEY, &data.encode())
}

/// Durably stores an uncommitted block consensus asked to keep.
pub(crate) fn store_block(db: &Database, block: &Block) -> Result<(), StorageError> {
    db.write_safety(&block_key(&block.id()), &block.encode())
}

/// An uncommitted block stored by [`store_block`].
pub(crate) fn stored_block(reader: &Reader<'_>, id: &BlockId) -> Result<Option<Block>, StoreError> {
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
pub(crate) fn prune_blocks(db: &Database, head: u64) -> Result<usize, StoreError> {
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
pub(crate) fn committed_record(
    reader: &Reader<'_>,
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
pub(crate) fn head_info(reader: &Reader<'_>, genesis: BlockId) -> Result<BlockInfo, StoreError> {
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
pub(crate) fn recovery(db: &Database, genesis: BlockId) -> Result<Recovery, StoreError> {
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
