//! Parallax's Merkle-Patricia tries: the state root, computed incrementally over the branch
//! nodes `parallax-storage` keeps, and EIP-1186 proofs of the head state or of any of the
//! [`MAX_PROOF_HISTORY`] blocks before it.
//!
//! The crate knows nothing of the EVM: it is handed a block's state changes
//! ([`HashedPostState::from_state_changes`]) and reads the stored tries through
//! [`TrieReader`]. The executors produce the changes (`parallax-execution`); the chain checks
//! the root against the header and stores the trie updates with the block (`parallax-chain`);
//! the RPC serves the proofs (`parallax-rpc`).
//!
//! # The incremental state root
//!
//! Ethereum's state root is the root of a secure trie keyed by `keccak(address)` whose leaves
//! are `rlp([nonce, balance, storage_root, code_hash])`; each account's storage root is the root
//! of a secure trie keyed by `keccak(slot)` with `rlp(value)` leaves (zero values absent).
//!
//! The storage crate keeps the state as *hashed leaves* (`HashedAccounts`, `HashedStorages`)
//! plus the tries' *branch nodes* in alloy-trie's [`BranchNodeCompact`] form, keyed by nibble
//! path (`AccountsTrie`, `StoragesTrie`), exactly as alloy-trie's [`HashBuilder`] hands them out
//! with updates enabled. [`state_root`] updates the root for one block from those stored nodes:
//!
//! - it walks the stored branch nodes from the top. A child subtree with no changed key beneath
//!   it whose hash is stored (`hash_mask`) is fed to a [`HashBuilder`] as that hash and never
//!   opened. A changed child is opened: if it holds stored nodes (`tree_mask`) the walk descends
//!   into them, otherwise its leaves are re-fed (the post-state overlaid on the stored leaves);
//! - a branch that the block leaves with fewer than two children collapses into its parent; the
//!   stored hashes of its children are then not reused (the surviving child may have to merge
//!   into an extension or leaf), and the walk descends into it instead;
//! - storage tries are recomputed the same way, only for accounts whose storage changed.
//!   Unchanged accounts that have to be re-fed take their storage root from the stored root
//!   node (`root_hash`), or, when the root is not a stored branch, from the few nodes below it.
//!
//! So the work grows with the keys the block changed (times the trie depth), not with the size
//! of the state. [`StateRootStats`] counts it. The result carries the new root and the
//! [`TrieUpdates`] to store with the block, so the next block can be computed incrementally
//! again; they agree with what a from-scratch [`HashBuilder`] build would store (the tests check
//! this over random multi-block histories).
//!
//! [`account_proof`] gives EIP-1186 proofs (`eth_getProof`) of the latest committed state by
//! the same walk: the proof targets are walked like changed keys, so the nodes on their
//! paths are rebuilt (and retained) while the stored hashes beside them are reused.
//! [`account_proof_at`] proves the state after an earlier block the same way, over the head's
//! stored trie with the later blocks' changes undone ([`reverse_post_state`], from the
//! changesets) as an overlay, at most [`MAX_PROOF_HISTORY`] blocks back.
//!
//! Reads go through the [`TrieReader`] trait: [`MemoryTrieStore`] keeps everything in
//! `BTreeMap`s (tests, tools, benchmarks) and can apply a block's results; [`DbTrieReader`]
//! reads a `parallax_storage` transaction.
//!
//! ```text
//! per block:   post = HashedPostState::from_state_changes(&changes);
//!              out  = state_root(&mut DbTrieReader::new(&reader)?, &post)?;
//!              check out.root against the header; write changes + out.updates in one commit
//! ```
//!
//! [`BranchNodeCompact`]: alloy_trie::BranchNodeCompact
//! [`HashBuilder`]: alloy_trie::HashBuilder
//! [`TrieUpdates`]: parallax_storage::TrieUpdates

mod compute;
mod db;
mod history;
mod memory;
mod post_state;
mod proof;
mod reader;

#[cfg(test)]
mod tests;

pub use compute::{StateRootOutput, StateRootStats, state_root};
pub use db::DbTrieReader;
pub use history::{MAX_PROOF_HISTORY, reverse_post_state};
pub use memory::{MemoryTrieStore, StorageTrieNodes, storage_root_from_scratch};
pub use post_state::{HashedPostState, HashedStorage};
pub use proof::{
    AccountProof, StorageProof, account_proof, account_proof_at, account_proof_from,
    account_proof_over,
};
pub use reader::TrieReader;

use alloy_trie::Nibbles;
use parallax_storage::StorageError;

/// Why a state root could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum StateRootError {
    /// Reading the database failed (including stored bytes that do not decode).
    #[error("reading trie data: {0}")]
    Storage(#[from] StorageError),
    /// A stored branch node is not one alloy-trie could have produced.
    #[error("malformed trie node at path {path:?}{}: {reason}", owner_suffix(.owner))]
    MalformedNode {
        /// keccak of the account whose storage trie holds the node; `None` for the account trie.
        owner: Option<alloy_primitives::B256>,
        /// The node's path.
        path: Nibbles,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stored data is inconsistent: a reader returned keys out of order or outside the
    /// range asked for, or nodes and leaves disagree.
    #[error("inconsistent trie data{}: {reason}", owner_suffix(.owner))]
    Inconsistent {
        /// keccak of the account whose storage trie is concerned; `None` for the account trie.
        owner: Option<alloy_primitives::B256>,
        /// What was found.
        reason: String,
    },
    /// A proof of a past state was asked further back than the changes undone for it may
    /// reach.
    #[error(
        "block {requested} is {} blocks before the head {head}; proofs reach at most \
         {max_blocks} blocks back",
        head - requested
    )]
    HistoryTooDeep {
        /// The block asked for.
        requested: u64,
        /// The head block.
        head: u64,
        /// The furthest back a proof reaches, in blocks.
        max_blocks: u64,
    },
}

fn owner_suffix(owner: &Option<alloy_primitives::B256>) -> String {
    match owner {
        Some(owner) => format!(" in the storage trie of {owner}"),
        None => String::new(),
    }
}
