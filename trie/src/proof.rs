//! EIP-1186 account and storage proofs (`eth_getProof`) of the latest committed state, of the
//! state after an earlier block, or of the stored state under an overlay of changes.

use super::{
    DbTrieReader, HashedPostState, MAX_PROOF_HISTORY, StateRootError, TrieReader,
    compute::{
        AccountView, StateRootStats, StorageView, account_changes, changed_storage_tries,
        storage_changes, trie_proof,
    },
    reverse_post_state,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount, proof::ProofNodes};
use parallax_storage::{BlockNumber, TransactionKind, Tx};
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

/// The proof of `address` and of its storage `slots` in the state after block `number`
/// (at most [`MAX_PROOF_HISTORY`] blocks before the head `tx` holds), against that block's
/// state root.
///
/// The stored trie nodes describe the head only, so the state after `number` is the head's
/// with the changes of the blocks after it undone ([`reverse_post_state`]): the proof walk
/// runs over the stored head trie with that overlay, re-hashing every path that leads to an
/// undone change or to a proof target from the overlaid leaves, and reusing the stored
/// hashes of the subtrees no later block touched (they are the same at `number`). The work
/// grows with the number of keys changed since `number`. At the head this is
/// [`account_proof`].
///
/// A block after the head is [`StorageError::BlockNotAvailable`](parallax_storage::StorageError)
/// (inside [`StateRootError::Storage`]); one further back than [`MAX_PROOF_HISTORY`] is
/// [`StateRootError::HistoryTooDeep`].
pub fn account_proof_at<K: TransactionKind>(
    tx: &Tx<'_, K>,
    number: BlockNumber,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StateRootError> {
    let overlay = reverse_post_state(tx, number, MAX_PROOF_HISTORY)?;
    account_proof_over(&mut DbTrieReader::new(tx)?, &overlay, address, slots)
}

/// [`account_proof`] over any [`TrieReader`] (the database's, or a
/// [`MemoryTrieStore`](super::MemoryTrieStore)).
pub fn account_proof_from<R: TrieReader + ?Sized>(
    reader: &mut R,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StateRootError> {
    account_proof_over(reader, &HashedPostState::default(), address, slots)
}

/// The proof of `address` and of its storage `slots` in the state that `reader`'s stored
/// state becomes with `post_state` applied (as [`state_root`](super::state_root) would apply
/// it), against that state's root.
///
/// The walk is the incremental state root's, with the proof targets added to the changed
/// keys: the storage tries `post_state` changes are recomputed (the proven account's with its
/// slots as targets), and the account trie is walked with the changed accounts and the
/// proven one. With an empty `post_state` it proves the stored state ([`account_proof_from`]).
pub fn account_proof_over<R: TrieReader + ?Sized>(
    reader: &mut R,
    post_state: &HashedPostState,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StateRootError> {
    let hashed_address = keccak256(address);
    let account = match post_state.accounts.get(&hashed_address) {
        Some(account) => *account,
        None => reader.account(hashed_address)?,
    };

    // The new roots of the other storage tries the overlay changes.
    let mut stats = StateRootStats::default();
    let mut storage_roots: BTreeMap<B256, B256> =
        changed_storage_tries(&mut *reader, post_state, false)?
            .into_iter()
            .filter(|(hashed, _)| *hashed != hashed_address)
            .map(|(hashed, result)| (hashed, result.root))
            .collect();

    let mut storage_proofs = Vec::with_capacity(slots.len());
    let storage_root = if account.is_some() {
        let (changes, wiped) = match post_state.storages.get(&hashed_address) {
            Some(storage) => (storage_changes(storage), storage.wiped),
            None => (BTreeMap::new(), false),
        };
        let targets: BTreeSet<B256> = slots.iter().map(keccak256).collect();
        let mut view = StorageView {
            reader: &mut *reader,
            owner: hashed_address,
            wiped,
        };
        let (result, nodes) = trie_proof(&mut view, &changes, &targets)?;
        for slot in slots {
            let hashed_slot = keccak256(slot);
            let value = match changes.get(&hashed_slot) {
                Some(value) => value.unwrap_or_default(),
                None if wiped => U256::ZERO,
                None => match reader.seek_storage(hashed_address, hashed_slot)? {
                    Some((found, value)) if found == hashed_slot => value,
                    _ => U256::ZERO,
                },
            };
            storage_proofs.push(StorageProof {
                key: *slot,
                value,
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
    if post_state.storages.contains_key(&hashed_address) && account.is_some() {
        storage_roots.insert(hashed_address, storage_root);
    }

    let account_changes = account_changes(&mut *reader, post_state, &storage_roots, &mut stats)?;
    storage_roots.insert(hashed_address, storage_root);
    let mut view = AccountView {
        reader: &mut *reader,
        storage_roots: &storage_roots,
        nested: StateRootStats::default(),
    };
    let (result, nodes) = trie_proof(
        &mut view,
        &account_changes,
        &BTreeSet::from([hashed_address]),
    )?;
    Ok(AccountProof {
        address,
        account: account.map(|account| TrieAccount {
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
