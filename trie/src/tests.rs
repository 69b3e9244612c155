//! Unit tests: bad stored data is an error, the stored-node semantics the walk relies on, and
//! single-block agreement with a from-scratch build.

use super::*;
use alloy_primitives::{B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{BranchNodeCompact, Nibbles, TrieMask};
use parallax_storage::Account;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn account(n: u64) -> Account {
    Account {
        nonce: n,
        balance: U256::from(n),
        code_hash: KECCAK256_EMPTY,
    }
}

fn store_of(n: u64) -> MemoryTrieStore {
    let accounts = (0..n)
        .map(|i| (keccak256(i.to_be_bytes()), account(i + 1)))
        .collect();
    MemoryTrieStore::from_leaves(accounts, BTreeMap::new()).0
}

fn one_change(store: &MemoryTrieStore) -> HashedPostState {
    let mut post = HashedPostState::default();
    let key = *store.accounts.keys().next().unwrap();
    post.accounts.insert(key, Some(account(777)));
    post
}

#[test]
fn malformed_nodes_are_errors_not_panics() {
    let base = store_of(300);
    let post = one_change(&base);
    let root_path = Nibbles::default();
    let root = base.account_nodes[&root_path].clone();

    // Hashes that do not match the hash mask.
    let mut store = base.clone();
    let mut node = root.clone();
    node.hashes = std::sync::Arc::new(Vec::new());
    store.account_nodes.insert(root_path, node);
    let err = state_root(&mut store, &post).unwrap_err();
    assert!(matches!(err, StateRootError::MalformedNode { .. }), "{err}");

    // A tree mask outside the state mask.
    let mut store = base.clone();
    let mut node = root.clone();
    assert!(node.tree_mask.is_bit_set(0));
    node.state_mask = TrieMask::new(node.state_mask.get() & !1);
    store.account_nodes.insert(root_path, node);
    assert!(matches!(
        state_root(&mut store, &post),
        Err(StateRootError::MalformedNode { .. })
    ));

    // A node at a full-length path (its children would be longer than a key).
    let mut store = base.clone();
    let key = *base.accounts.keys().next().unwrap();
    store.account_nodes.clear();
    store.account_nodes.insert(
        Nibbles::unpack(key),
        BranchNodeCompact::new(0b11, 0, 0, vec![], None),
    );
    let err = state_root(&mut store, &post).unwrap_err();
    assert!(matches!(err, StateRootError::MalformedNode { .. }), "{err}");

    // A branch with one child.
    let mut store = base.clone();
    let mut node = root.clone();
    node.state_mask = TrieMask::new(1);
    node.tree_mask = TrieMask::new(0);
    node.hash_mask = TrieMask::new(0);
    node.hashes = std::sync::Arc::new(Vec::new());
    store.account_nodes.insert(root_path, node);
    assert!(matches!(
        state_root(&mut store, &post),
        Err(StateRootError::MalformedNode { .. })
    ));
}

/// A reader that returns leaves out of order.
struct Shuffled(MemoryTrieStore);

impl TrieReader for Shuffled {
    fn seek_account_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        self.0.seek_account_node(path)
    }
    fn seek_storage_node(
        &mut self,
        owner: B256,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        self.0.seek_storage_node(owner, path)
    }
    fn seek_account(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError> {
        self.0.seek_account(key)
    }
    fn next_account(&mut self) -> Result<Option<(B256, Account)>, StateRootError> {
        // Always the first account again.
        self.0.seek_account(B256::ZERO)
    }
    fn seek_storage(
        &mut self,
        owner: B256,
        key: B256,
    ) -> Result<Option<(B256, U256)>, StateRootError> {
        self.0.seek_storage(owner, key)
    }
    fn next_storage(&mut self) -> Result<Option<(B256, U256)>, StateRootError> {
        self.0.next_storage()
    }
}

#[test]
fn out_of_order_leaves_are_an_error() {
    let mut base = store_of(40);
    base.account_nodes.clear();
    let post = one_change(&base);
    let err = state_root(&mut Shuffled(base), &post).unwrap_err();
    assert!(matches!(err, StateRootError::Inconsistent { .. }), "{err}");
}

/// Keys with long shared prefixes from a small alphabet.
fn clustered_key() -> impl Strategy<Value = B256> {
    (0usize..=64, 1u8..=3, any::<[u8; 32]>()).prop_map(|(shared, alphabet, random)| {
        let mut nibbles = Nibbles::unpack(random).to_vec();
        for nibble in nibbles.iter_mut().take(shared) {
            *nibble %= alphabet;
        }
        let mut out = [0u8; 32];
        Nibbles::from_nibbles(&nibbles).pack_to(&mut out);
        B256::from(out)
    })
}

/// Whether the keys under `path` diverge right after it (a branch node sits at `path`).
fn is_branch(keys: &[Nibbles], path: &Nibbles) -> bool {
    let mut next = keys
        .iter()
        .filter(|k| k.starts_with(path) && k.len() > path.len())
        .map(|k| k.get_unchecked(path.len()));
    match next.next() {
        Some(first) => next.any(|n| n != first),
        None => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The walk reuses a stored child hash as the hash of a *branch* at exactly the child's
    /// path. Check that alloy-trie only ever sets hash bits for such children (never for
    /// extension or leaf children), and tree bits exactly where stored nodes lie below.
    #[test]
    fn stored_hash_bits_name_branch_children(keys in prop::collection::btree_set(clustered_key(), 2..60)) {
        let accounts = keys.iter().enumerate().map(|(i, k)| (*k, account(i as u64 + 1))).collect();
        let (store, _) = MemoryTrieStore::from_leaves(accounts, BTreeMap::new());
        let nibbles: Vec<Nibbles> = keys.iter().map(Nibbles::unpack).collect();
        for (path, node) in &store.account_nodes {
            prop_assert!(is_branch(&nibbles, path), "stored node at {path:?} is not a branch");
            for nibble in 0u8..16 {
                let mut child = *path;
                child.push(nibble);
                if node.hash_mask.is_bit_set(nibble) {
                    prop_assert!(is_branch(&nibbles, &child), "hash bit for non-branch {child:?}");
                }
                let below = store.account_nodes.keys().any(|p| p.starts_with(&child));
                prop_assert_eq!(node.tree_mask.is_bit_set(nibble), below, "tree bit at {:?}", child);
            }
        }
    }

    /// Stored nodes that do not match the leaves (moved, dropped, with wrong masks, or leaves
    /// missing) give a wrong root or an error, never a panic.
    #[test]
    fn corrupt_nodes_never_panic(
        keys in prop::collection::btree_set(clustered_key(), 2..60),
        corruptions in prop::collection::vec((0u8..4, any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u16>()), 1..6),
        changed in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..6),
    ) {
        let keys: Vec<B256> = keys.into_iter().collect();
        let accounts = keys.iter().enumerate().map(|(i, k)| (*k, account(i as u64 + 1))).collect();
        let (mut store, _) = MemoryTrieStore::from_leaves(accounts, BTreeMap::new());
        for (kind, which, other, bits) in corruptions {
            let paths: Vec<Nibbles> = store.account_nodes.keys().copied().collect();
            if paths.is_empty() {
                break;
            }
            let path = *which.get(&paths);
            match kind {
                // Move the node under another key's path.
                0 => {
                    let node = store.account_nodes.remove(&path).unwrap();
                    let target = Nibbles::unpack(other.get(&keys));
                    let len = (usize::from(bits) % 64).max(1);
                    store.account_nodes.insert(target.slice(..len), node);
                }
                // Drop it.
                1 => {
                    store.account_nodes.remove(&path);
                }
                // Replace its masks (kept well-formed) and hashes.
                2 => {
                    let node = &store.account_nodes[&path];
                    let state = node.state_mask.get() | bits | 0b11;
                    let tree = bits.rotate_left(3) & state;
                    let hash = bits.rotate_left(7) & state;
                    let hashes = vec![B256::repeat_byte(0x11); hash.count_ones() as usize];
                    store.account_nodes.insert(path, BranchNodeCompact::new(state, tree, hash, hashes, node.root_hash));
                }
                // Lose a leaf.
                _ => {
                    store.accounts.remove(other.get(&keys));
                }
            }
        }
        let mut post = HashedPostState::default();
        for (key, delete) in changed {
            post.accounts.insert(*key.get(&keys), (!delete).then(|| account(5)));
        }
        let _ = state_root(&mut store, &post);
    }

    /// One block of random changes on clustered keys, including storage.
    #[test]
    fn one_block_matches_scratch(
        keys in prop::collection::btree_set(clustered_key(), 1..40),
        slots in prop::collection::btree_set(clustered_key(), 1..20),
        changes in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<prop::sample::Index>(), 0u64..3), 1..16),
    ) {
        let keys: Vec<B256> = keys.into_iter().collect();
        let slots: Vec<B256> = slots.into_iter().collect();
        let accounts = keys.iter().step_by(2).enumerate().map(|(i, k)| (*k, account(i as u64 + 1))).collect();
        let storages = keys.iter().step_by(3).map(|k| {
            (*k, slots.iter().enumerate().map(|(i, s)| (*s, U256::from(i + 1))).collect())
        }).collect();
        let (mut store, _) = MemoryTrieStore::from_leaves(accounts, storages);
        let mut post = HashedPostState::default();
        for (key, kind, slot, value) in changes {
            let key = *key.get(&keys);
            match kind {
                0 => { post.accounts.insert(key, Some(account(value + 10))); }
                1 => { post.accounts.insert(key, None); post.storages.entry(key).or_default().wiped = true; }
                _ => {
                    if !post.is_destroyed(&key) {
                        post.storages.entry(key).or_default().slots.insert(*slot.get(&slots), U256::from(value));
                    }
                }
            }
        }
        let out = state_root(&mut store, &post).unwrap();
        store.apply(&post, &out.updates);
        let (scratch, root) = MemoryTrieStore::from_leaves(store.accounts.clone(), store.storages.clone());
        prop_assert_eq!(out.root, root);
        prop_assert_eq!(&store.account_nodes, &scratch.account_nodes);
        prop_assert_eq!(&store.storage_nodes, &scratch.storage_nodes);
    }
}

/// A from-scratch proof: every leaf fed to a hash builder that retains the nodes on the paths
/// to `targets`.
fn scratch_proof(
    leaves: &BTreeMap<B256, Vec<u8>>,
    targets: &[B256],
) -> (B256, alloy_trie::proof::ProofNodes) {
    let mut hb = alloy_trie::HashBuilder::default().with_proof_retainer(
        alloy_trie::proof::ProofRetainer::new(targets.iter().map(Nibbles::unpack).collect()),
    );
    for (key, value) in leaves {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    (root, hb.take_proof_nodes())
}

fn nodes_to(nodes: &alloy_trie::proof::ProofNodes, key: B256) -> Vec<alloy_primitives::Bytes> {
    nodes
        .matching_nodes_sorted(&Nibbles::unpack(key))
        .into_iter()
        .map(|(_, node)| node)
        .collect()
}

#[test]
fn proofs_equal_from_scratch_proofs_and_verify() {
    use alloy_primitives::Address;
    use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount, proof::verify_proof};

    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    let slot = |s: u64| B256::from(U256::from(s));
    for size in [0u64, 1, 2, 3, 17, 300] {
        let mut accounts = BTreeMap::new();
        let mut storages: BTreeMap<B256, BTreeMap<B256, U256>> = BTreeMap::new();
        for i in 0..size {
            accounts.insert(keccak256(address(i)), account(i + 1));
            let slots = match i % 3 {
                0 => 0,
                1 => 1,
                _ => i % 50,
            };
            if slots > 0 {
                storages.insert(
                    keccak256(address(i)),
                    (0..slots)
                        .map(|s| (keccak256(slot(s)), U256::from(s + 1)))
                        .collect(),
                );
            }
        }
        let (mut store, root) = MemoryTrieStore::from_leaves(accounts.clone(), storages.clone());
        let leaves: BTreeMap<B256, Vec<u8>> = accounts
            .iter()
            .map(|(hashed, a)| {
                let storage_root = storages.get(hashed).map_or(EMPTY_ROOT_HASH, |slots| {
                    alloy_trie::root::storage_root(slots.iter().map(|(k, v)| (*k, *v)))
                });
                let leaf = TrieAccount {
                    nonce: a.nonce,
                    balance: a.balance,
                    storage_root,
                    code_hash: a.code_hash,
                };
                (*hashed, alloy_rlp::encode(leaf))
            })
            .collect();
        // Present accounts with and without storage, and absent ones.
        for i in [0, 1, 2, size / 2, size.saturating_sub(1), size, size + 1000] {
            let target = address(i);
            let hashed = keccak256(target);
            let slots = [slot(0), slot(1), slot(7), slot(10_000)];
            let proof = account_proof_from(&mut store, target, &slots).unwrap();
            assert_eq!(proof.state_root, root, "size {size}, account {i}");
            let (scratch_root, scratch) = scratch_proof(&leaves, &[hashed]);
            assert_eq!(scratch_root, root);
            assert_eq!(
                proof.account_proof,
                nodes_to(&scratch, hashed),
                "size {size}, account {i}"
            );
            verify_proof(
                root,
                Nibbles::unpack(hashed),
                leaves.get(&hashed).cloned(),
                &proof.account_proof,
            )
            .unwrap();
            assert_eq!(proof.account.is_some(), accounts.contains_key(&hashed));
            let storage: BTreeMap<B256, Vec<u8>> = storages
                .get(&hashed)
                .into_iter()
                .flatten()
                .map(|(k, v)| (*k, alloy_rlp::encode(v)))
                .collect();
            let hashed_slots: Vec<B256> = slots.iter().map(keccak256).collect();
            let (storage_root, scratch) = scratch_proof(&storage, &hashed_slots);
            assert_eq!(proof.storage_root(), storage_root);
            for (storage_proof, hashed_slot) in proof.storage_proofs.iter().zip(&hashed_slots) {
                let expected = storages
                    .get(&hashed)
                    .and_then(|slots| slots.get(hashed_slot))
                    .copied()
                    .unwrap_or_default();
                assert_eq!(storage_proof.value, expected);
                if proof.account.is_some() {
                    assert_eq!(storage_proof.proof, nodes_to(&scratch, *hashed_slot));
                }
                verify_proof(
                    storage_root,
                    Nibbles::unpack(hashed_slot),
                    storage.get(hashed_slot).cloned(),
                    &storage_proof.proof,
                )
                .unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A proof over the stored tries with an overlay of changes (creations, destructions,
    /// wipes, slot writes and deletions) is the proof of the state with the overlay applied.
    #[test]
    fn proofs_over_an_overlay_equal_proofs_of_the_applied_state(
        size in 1u64..60,
        changes in prop::collection::vec((0u64..70, 0u8..5, 0u64..40, 0u64..3), 1..24),
        targets in prop::collection::vec(0u64..70, 1..6),
    ) {
        use alloy_primitives::Address;

        let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
        let slot = |s: u64| B256::from(U256::from(s));
        let mut accounts = BTreeMap::new();
        let mut storages: BTreeMap<B256, BTreeMap<B256, U256>> = BTreeMap::new();
        for i in 0..size {
            let hashed = keccak256(address(i));
            accounts.insert(hashed, account(i + 1));
            let slots = [0, 1, 30][(i % 3) as usize];
            storages.insert(hashed, (0..slots).map(|s| (keccak256(slot(s)), U256::from(s + 1))).collect());
        }
        let (mut store, _) = MemoryTrieStore::from_leaves(accounts, storages);
        let mut post = HashedPostState::default();
        for (i, kind, s, value) in &changes {
            let hashed = keccak256(address(*i));
            match kind {
                0 => { post.accounts.insert(hashed, Some(account(value + 100))); }
                1 => {
                    post.accounts.insert(hashed, None);
                    post.storages.insert(hashed, HashedStorage { wiped: true, slots: BTreeMap::new() });
                }
                2 => { post.storages.entry(hashed).or_default().wiped = true; }
                _ => {
                    if post.is_destroyed(&hashed) {
                        continue;
                    }
                    if *i >= size {
                        post.accounts.entry(hashed).or_insert(Some(account(*i + 1)));
                    }
                    post.storages.entry(hashed).or_default().slots.insert(keccak256(slot(*s)), U256::from(*value));
                }
            }
        }
        let mut applied = store.clone();
        let out = state_root(&mut store, &post).unwrap();
        applied.apply(&post, &out.updates);
        let slots = [slot(0), slot(1), slot(5), slot(29), slot(1_000)];
        for i in changes.iter().map(|c| c.0).chain(targets) {
            let over = account_proof_over(&mut store, &post, address(i), &slots).unwrap();
            prop_assert_eq!(over.state_root, out.root);
            let expected = account_proof_from(&mut applied, address(i), &slots).unwrap();
            prop_assert_eq!(over, expected, "account {}", i);
        }
        // No overlay: the stored state's proof.
        let plain = account_proof_over(&mut store, &HashedPostState::default(), address(0), &slots).unwrap();
        prop_assert_eq!(plain, account_proof_from(&mut store, address(0), &slots).unwrap());
    }
}
