//! What the server reads the chain from: a [`ChainStore`] hands out one consistent
//! [`Snapshot`] per call, read through `parallax-storage-api`'s traits.
//!
//! The node serves its MDBX [`Database`] (a snapshot is one read transaction); a test can
//! serve a [`MemoryStore`] holding the same blocks, and every method answers alike, proofs
//! included (the store computes them from its whole state, having no trie nodes).

use alloy_primitives::{Address, B256};
use parallax_storage::{Database, RO, Tx};
use parallax_storage_api::{BlockReader, ChainReader, MemoryStore, StorageResult};
use parallax_trie::{
    AccountProof, HashedPostState, MAX_PROOF_HISTORY, MemoryTrieStore, StateRootError,
    account_proof, account_proof_at, account_proof_over,
};

/// A source of consistent read snapshots of the committed chain.
pub trait ChainStore: Send + Sync + 'static {
    /// A snapshot: every read through it sees the same committed state, however many blocks
    /// commit meanwhile.
    fn snapshot(&self) -> StorageResult<Box<dyn Snapshot + '_>>;
}

/// One consistent view of the chain: blocks, state, withdrawal signatures, metadata, and
/// EIP-1186 proofs of its state.
pub trait Snapshot: ChainReader + Sync {
    /// The proof of `address` and its storage `slots` in the state after block `number`,
    /// with the state root it leads to. A block more than [`MAX_PROOF_HISTORY`] blocks below
    /// the head may be refused ([`StateRootError::HistoryTooDeep`]), as the database does.
    fn account_proof(
        &self,
        number: u64,
        address: Address,
        slots: &[B256],
    ) -> Result<AccountProof, StateRootError>;
}

impl ChainStore for Database {
    fn snapshot(&self) -> StorageResult<Box<dyn Snapshot + '_>> {
        Ok(Box::new(self.reader()?))
    }
}

/// The database's snapshot proves from its stored trie nodes: the head's state directly,
/// an earlier block's with the later blocks' changes undone.
impl Snapshot for Tx<'_, RO> {
    fn account_proof(
        &self,
        number: u64,
        address: Address,
        slots: &[B256],
    ) -> Result<AccountProof, StateRootError> {
        if Some(number) == BlockReader::head_number(self)? {
            account_proof(self, address, slots)
        } else {
            account_proof_at(self, number, address, slots)
        }
    }
}

impl ChainStore for MemoryStore {
    fn snapshot(&self) -> StorageResult<Box<dyn Snapshot + '_>> {
        Ok(Box::new(self))
    }
}

/// The in-memory store keeps no trie nodes: it proves from its whole state after the block,
/// hashed into a trie from scratch (slower, the same proof), under the database's depth
/// bound so that both refuse alike.
impl Snapshot for &MemoryStore {
    fn account_proof(
        &self,
        number: u64,
        address: Address,
        slots: &[B256],
    ) -> Result<AccountProof, StateRootError> {
        let head = BlockReader::head_number(self)?.unwrap_or_default();
        if head.saturating_sub(number) > MAX_PROOF_HISTORY {
            return Err(StateRootError::HistoryTooDeep {
                requested: number,
                head,
                max_blocks: MAX_PROOF_HISTORY,
            });
        }
        let state = HashedPostState::from_state_changes(&self.state_at(number)?);
        account_proof_over(&mut MemoryTrieStore::default(), &state, address, slots)
    }
}
