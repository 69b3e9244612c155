//! EIP-1186 account and storage proofs (`eth_getProof`) of the latest committed state.

use super::{
    DbTrieReader, StateRootError, TrieReader,
    compute::{AccountView, StateRootStats, StorageView, trie_proof},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount, proof::ProofNodes};
use parallax_storage::{TransactionKind, Tx};
use std::collections::{BTreeMap, BTreeSet};

/// An account's Merkle proof against the state root, with proofs of some of its storage
/// slots against its storage root (EIP-1186).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// The account as the state trie holds it; `None` when it does not exist (the proof is
    /// then an exclusion proof).
    pub account: Option<TrieAccount>,
    /// The state root the proofs lead to (recomputed while proving; equal to the stored
    /// head's root for a consistent database).
    pub state_root: B256,
    /// The RLP-encoded trie nodes from the root towards `keccak(address)`, root first.
    pub account_proof: Vec<Bytes>,
    /// One proof per requested slot, in the order asked.
    pub storage_proofs: Vec<StorageProof>,
}

/// A storage slot's Merkle proof against its account's storage root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot, as asked (not hashed).
    pub key: B256,
    /// Its value (zero when unset).
    pub value: U256,
    /// The RLP-encoded trie nodes from the storage root towards `keccak(key)`, root first;
    /// empty when the account has no storage.
    pub proof: Vec<Bytes>,
}

impl AccountProof {
    /// The account's storage root (the empty root for an absent account).
    pub fn storage_root(&self) -> B256 {
        self.account
            .as_ref()
            .map_or(EMPTY_ROOT_HASH, |account| account.storage_root)
    }
}

/// The proof of `address` and of its storage `slots` in the latest state `tx` holds (the
/// head block's state, whose root its header records).
///
/// It walks the stored branch nodes as the incremental state root does, treating the proof
/// targets like changed keys: the nodes on the paths to `keccak(address)` and to each
/// `keccak(slot)` are opened and re-hashed by a hash builder that retains them, and the stored
/// hashes of everything beside those paths are reused. So the cost grows with the trie depth,
/// not with the size of the state. Absent accounts and slots get exclusion proofs.
pub fn account_proof<K: TransactionKind>(
    tx: &Tx<'_, K>,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StateRootError> {
    account_proof_from(&mut DbTrieReader::new(tx)?, address, slots)
}

/// [`account_proof`] over any [`TrieReader`] (the database's, or a
/// [`MemoryTrieStore`](super::MemoryTrieStore)).
pub fn account_proof_from<R: TrieReader + ?Sized>(
    reader: &mut R,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StateRootError> {
    let hashed_address = keccak256(address);
    let stored = reader.account(hashed_address)?;

    let mut storage_proofs = Vec::with_capacity(slots.len());
    let storage_root = if stored.is_some() {
        let targets: BTreeSet<B256> = slots.iter().map(keccak256).collect();
        let mut view = StorageView {
            reader: &mut *reader,
            owner: hashed_address,
            wiped: false,
        };
        let (result, nodes) = trie_proof(&mut view, &targets)?;
        for slot in slots {
            let hashed_slot = keccak256(slot);
            storage_proofs.push(StorageProof {
                key: *slot,
                value: match reader.seek_storage(hashed_address, hashed_slot)? {
                    Some((found, value)) if found == hashed_slot => value,
                    _ => U256::ZERO,
                },
                proof: path_nodes(&nodes, hashed_slot),
            });
        }
        result.root
    } else {
        storage_proofs.extend(slots.iter().map(|slot| StorageProof {
            key: *slot,
            value: U256::ZERO,
            proof: Vec::new(),
        }));
        EMPTY_ROOT_HASH
    };

    let storage_roots = BTreeMap::from([(hashed_address, storage_root)]);
    let mut view = AccountView {
        reader: &mut *reader,
        storage_roots: &storage_roots,
        nested: StateRootStats::default(),
    };
    let (result, nodes) = trie_proof(&mut view, &BTreeSet::from([hashed_address]))?;
    Ok(AccountProof {
        address,
        account: stored.map(|account| TrieAccount {
            nonce: account.nonce,
            balance: account.balance,
            storage_root,
            code_hash: account.code_hash,
        }),
        state_root: result.root,
        account_proof: path_nodes(&nodes, hashed_address),
        storage_proofs,
    })
}

/// The retained nodes on the path to `key`, root first.
fn path_nodes(nodes: &ProofNodes, key: B256) -> Vec<Bytes> {
    nodes
        .matching_nodes_sorted(&Nibbles::unpack(key))
        .into_iter()
        .map(|(_, node)| node)
        .collect()
}
