//! The incremental state root against from-scratch computations: random multi-block histories
//! over the in-memory store, a real MDBX database, and the cost of a small change in a large
//! state.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount};
use parallax_storage::{
    Account, BlockWrite, Database, RW, StateChanges, StorageChanges, TrieNodeUpdates, TrieUpdates,
    Tx,
    tables::{AccountsTrie, HashedAccounts, HashedStorages, StoragesTrie},
};
use parallax_trie::{
    DbTrieReader, HashedPostState, HashedStorage, MemoryTrieStore, StateRootOutput, state_root,
};
use proptest::{prelude::*, sample::Index};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Reference computations

/// The state root from the leaves with alloy-trie's own root functions (no nodes involved).
fn reference_root(store: &MemoryTrieStore) -> B256 {
    alloy_trie::root::state_root(store.accounts.iter().map(|(hashed, account)| {
        let storage_root = store.storages.get(hashed).map_or(EMPTY_ROOT_HASH, |slots| {
            alloy_trie::root::storage_root(slots.iter().map(|(k, v)| (*k, *v)))
        });
        (
            *hashed,
            TrieAccount {
                nonce: account.nonce,
                balance: account.balance,
                storage_root,
                code_hash: account.code_hash,
            },
        )
    }))
}

/// Runs one block incrementally, applies it, and checks the root and every stored node against
/// a from-scratch build of the resulting leaves.
fn run_block(store: &mut MemoryTrieStore, post: &HashedPostState) -> StateRootOutput {
    let out = state_root(store, post).expect("state root");
    store.apply(post, &out.updates);
    let (scratch, scratch_root) =
        MemoryTrieStore::from_leaves(store.accounts.clone(), store.storages.clone());
    assert_eq!(
        out.root, scratch_root,
        "incremental root differs from scratch"
    );
    assert_eq!(
        out.root,
        reference_root(store),
        "root differs from alloy-trie's"
    );
    assert_eq!(
        store.account_nodes, scratch.account_nodes,
        "account-trie nodes differ from a from-scratch build"
    );
    assert_eq!(
        store.storage_nodes, scratch.storage_nodes,
        "storage-trie nodes differ from a from-scratch build"
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Hashed keys chosen directly. Many share long prefixes drawn from a tiny alphabet, which
/// makes extension nodes, deep branches, and (near the bottom) branches small enough to be
/// inlined in their parents.
fn key() -> impl Strategy<Value = B256> {
    (
        prop_oneof![Just(0usize), Just(1), Just(3), Just(8), Just(30), Just(64)],
        1u8..=3,
        any::<[u8; 32]>(),
    )
        .prop_map(|(shared, alphabet, random)| {
            let mut nibbles = Nibbles::unpack(random).to_vec();
            for nibble in nibbles.iter_mut().take(shared) {
                *nibble %= alphabet;
            }
            let mut out = [0u8; 32];
            Nibbles::from_nibbles(&nibbles).pack_to(&mut out);
            B256::from(out)
        })
}

fn nonzero_value() -> impl Strategy<Value = U256> {
    prop_oneof![
        (1u64..4).prop_map(U256::from),
        any::<[u8; 32]>().prop_map(|bytes| U256::from_be_bytes(bytes) | U256::from(1)),
    ]
}

/// A new slot value; zero deletes.
fn slot_value() -> impl Strategy<Value = U256> {
    prop_oneof![1 => Just(U256::ZERO), 3 => nonzero_value()]
}

fn account() -> impl Strategy<Value = Account> {
    (0u64..3, nonzero_value(), any::<bool>()).prop_map(|(nonce, balance, code)| Account {
        nonce,
        balance: if nonce == 0 { U256::ZERO } else { balance },
        code_hash: if code {
            keccak256(balance.to_be_bytes::<32>())
        } else {
            KECCAK256_EMPTY
        },
    })
}

#[derive(Debug, Clone)]
enum Op {
    /// New account info (storage kept).
    Set(Index, Account),
    /// Self-destruct.
    Destroy(Index),
    /// Destroyed and created again in the same block, with new storage.
    Recreate(Index, Account, Writes),
    /// Storage writes, after wiping the old storage if asked.
    Storage(Index, bool, Writes),
}

fn op() -> impl Strategy<Value = Op> {
    let slots = || prop::collection::vec((any::<Index>(), slot_value()), 0..8);
    prop_oneof![
        3 => (any::<Index>(), account()).prop_map(|(i, a)| Op::Set(i, a)),
        2 => any::<Index>().prop_map(Op::Destroy),
        1 => (any::<Index>(), account(), slots()).prop_map(|(i, a, s)| Op::Recreate(i, a, s)),
        4 => (any::<Index>(), prop::bool::weighted(0.15), slots())
            .prop_map(|(i, w, s)| Op::Storage(i, w, s)),
    ]
}

#[derive(Debug, Clone)]
struct Block {
    ops: Vec<Op>,
    /// Destroy every account but this many (the first ones by hashed address).
    keep_accounts: Option<usize>,
    /// Delete every slot of every account, but keep this many per account.
    keep_slots: Option<usize>,
}

fn block() -> impl Strategy<Value = Block> {
    (
        prop::collection::vec(op(), 0..12),
        prop::option::weighted(0.15, 0usize..3),
        prop::option::weighted(0.15, 0usize..3),
    )
        .prop_map(|(ops, keep_accounts, keep_slots)| Block {
            ops,
            keep_accounts,
            keep_slots,
        })
}

/// Slot writes: (slot key index, value).
type Writes = Vec<(Index, U256)>;

#[derive(Debug, Clone)]
struct History {
    account_keys: Vec<B256>,
    slot_keys: Vec<B256>,
    genesis: Vec<(Index, Account, Writes)>,
    blocks: Vec<Block>,
}

fn history() -> impl Strategy<Value = History> {
    (
        prop::collection::vec(key(), 1..28),
        prop::collection::vec(key(), 1..20),
        prop::collection::vec(
            (
                any::<Index>(),
                account(),
                prop::collection::vec((any::<Index>(), nonzero_value()), 0..14),
            ),
            0..32,
        ),
        prop::collection::vec(block(), 1..6),
    )
        .prop_map(|(account_keys, slot_keys, genesis, blocks)| History {
            account_keys,
            slot_keys,
            genesis,
            blocks,
        })
}

/// The post-state of `block` on top of `store`; ops apply in order, later ones winning.
fn post_state(history: &History, store: &MemoryTrieStore, block: &Block) -> HashedPostState {
    let account_key = |i: &Index| *i.get(&history.account_keys);
    let slots = |writes: &[(Index, U256)]| -> BTreeMap<B256, U256> {
        writes
            .iter()
            .map(|(i, v)| (*i.get(&history.slot_keys), *v))
            .collect()
    };
    let mut post = HashedPostState::default();
    for op in &block.ops {
        let mut step = HashedPostState::default();
        match op {
            Op::Set(i, account) => {
                step.accounts.insert(account_key(i), Some(*account));
            }
            Op::Destroy(i) => {
                let key = account_key(i);
                step.accounts.insert(key, None);
                step.storages.insert(
                    key,
                    HashedStorage {
                        wiped: true,
                        slots: BTreeMap::new(),
                    },
                );
            }
            Op::Recreate(i, account, writes) => {
                let key = account_key(i);
                step.accounts.insert(key, Some(*account));
                step.storages.insert(
                    key,
                    HashedStorage {
                        wiped: true,
                        slots: slots(writes),
                    },
                );
            }
            Op::Storage(i, wiped, writes) => {
                step.storages.insert(
                    account_key(i),
                    HashedStorage {
                        wiped: *wiped,
                        slots: slots(writes),
                    },
                );
            }
        }
        post.extend(&step);
    }
    if let Some(keep) = block.keep_accounts {
        let mut mass = HashedPostState::default();
        for key in store.accounts.keys().skip(keep) {
            mass.accounts.insert(*key, None);
        }
        post.extend(&mass);
    }
    if let Some(keep) = block.keep_slots {
        let mut mass = HashedPostState::default();
        for (owner, slots) in &store.storages {
            let entry = mass.storages.entry(*owner).or_default();
            for slot in slots.keys().skip(keep) {
                entry.slots.insert(*slot, U256::ZERO);
            }
        }
        post.extend(&mass);
    }
    post
}

fn genesis_store(history: &History) -> MemoryTrieStore {
    let mut accounts = BTreeMap::new();
    let mut storages: BTreeMap<B256, BTreeMap<B256, U256>> = BTreeMap::new();
    for (i, account, slots) in &history.genesis {
        let key = *i.get(&history.account_keys);
        accounts.insert(key, *account);
        for (slot, value) in slots {
            storages
                .entry(key)
                .or_default()
                .insert(*slot.get(&history.slot_keys), *value);
        }
    }
    MemoryTrieStore::from_leaves(accounts, storages).0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Over random histories, every block's incremental root equals the from-scratch root, and
    /// the stored nodes after applying its updates equal a from-scratch build.
    #[test]
    fn incremental_matches_scratch_over_blocks(history in history()) {
        let mut store = genesis_store(&history);
        prop_assert_eq!(store.root_from_scratch(), reference_root(&store));
        for block in &history.blocks {
            let post = post_state(&history, &store, block);
            run_block(&mut store, &post);
        }
    }

    /// Blocks that only delete, down to a handful of keys or none.
    #[test]
    fn deleting_most_or_all_keys(history in history(), keep in 0usize..3) {
        let mut store = genesis_store(&history);
        let mut post = HashedPostState::default();
        for key in store.accounts.keys().skip(keep) {
            post.accounts.insert(*key, None);
        }
        for (owner, slots) in &store.storages {
            let entry = post.storages.entry(*owner).or_default();
            for slot in slots.keys().skip(keep) {
                entry.slots.insert(*slot, U256::ZERO);
            }
        }
        run_block(&mut store, &post);
        prop_assert!(store.accounts.len() <= keep);
        // And everything back again.
        let refill = genesis_store(&history);
        let mut post = HashedPostState::default();
        for (key, account) in &refill.accounts {
            post.accounts.insert(*key, Some(*account));
        }
        for (owner, slots) in &refill.storages {
            post.storages.insert(*owner, HashedStorage { wiped: true, slots: slots.clone() });
        }
        run_block(&mut store, &post);
        prop_assert_eq!(store.root_from_scratch(), refill.root_from_scratch());
    }

    /// Plain addresses and slots through `from_state_changes`, as the node will call it.
    #[test]
    fn plain_changes_are_hashed(
        genesis in prop::collection::vec((any::<u8>(), account(), prop::collection::vec((any::<u8>(), nonzero_value()), 0..6)), 0..20),
        changes in prop::collection::vec((any::<u8>(), prop::option::weighted(0.8, account()), any::<bool>(), prop::collection::vec((any::<u8>(), slot_value()), 0..6)), 0..10),
    ) {
        let mut accounts = BTreeMap::new();
        let mut storages: BTreeMap<B256, BTreeMap<B256, U256>> = BTreeMap::new();
        for (a, account, slots) in &genesis {
            let hashed = keccak256(Address::with_last_byte(*a));
            accounts.insert(hashed, *account);
            for (s, v) in slots {
                storages.entry(hashed).or_default().insert(keccak256(B256::with_last_byte(*s)), *v);
            }
        }
        let (mut store, _) = MemoryTrieStore::from_leaves(accounts, storages);
        let mut plain = StateChanges::default();
        for (a, account, wiped, slots) in &changes {
            let address = Address::with_last_byte(*a);
            plain.accounts.insert(address, *account);
            if account.is_some() {
                plain.storage.insert(address, StorageChanges {
                    wiped: *wiped,
                    slots: slots.iter().map(|(s, v)| (B256::with_last_byte(*s), *v)).collect(),
                });
            } else {
                plain.storage.remove(&address);
            }
        }
        run_block(&mut store, &HashedPostState::from_state_changes(&plain));
    }
}

// ---------------------------------------------------------------------------------------------
// Targeted cases

fn acct(n: u64) -> Account {
    Account {
        nonce: n,
        balance: U256::from(n) * U256::from(1_000_000_007u64),
        code_hash: KECCAK256_EMPTY,
    }
}

fn nibble_key(prefix: &[u8], fill: u8) -> B256 {
    let mut nibbles = prefix.to_vec();
    nibbles.resize(64, fill & 0x0f);
    let mut out = [0u8; 32];
    Nibbles::from_nibbles(&nibbles).pack_to(&mut out);
    B256::from(out)
}

#[test]
fn deleting_a_sibling_collapses_a_branch_into_an_extension() {
    // Under prefix 1 there are a big subtree at 1-0 (a stored, hashed branch) and one leaf at
    // 1-1. Deleting the leaf removes the branch at 1: the subtree at 1-0 must join an
    // extension from the root, and its stored hash is a branch's, so it may stay a hash.
    let mut accounts = BTreeMap::new();
    for i in 0..40u8 {
        accounts.insert(
            nibble_key(&[1, 0, i % 16, i / 16], i),
            acct(u64::from(i) + 1),
        );
    }
    let lone = nibble_key(&[1, 1], 7);
    accounts.insert(lone, acct(99));
    for i in 0..20u8 {
        accounts.insert(nibble_key(&[2, i % 16], i), acct(200 + u64::from(i)));
    }
    let (mut store, _) = MemoryTrieStore::from_leaves(accounts, BTreeMap::new());
    assert!(
        store
            .account_nodes
            .contains_key(&Nibbles::from_nibbles([1]))
    );
    let mut post = HashedPostState::default();
    post.accounts.insert(lone, None);
    run_block(&mut store, &post);
    assert!(
        !store
            .account_nodes
            .contains_key(&Nibbles::from_nibbles([1]))
    );
    // Then everything under 2 goes: the root branch collapses too.
    let mut post = HashedPostState::default();
    for i in 0..20u8 {
        post.accounts.insert(nibble_key(&[2, i % 16], i), None);
    }
    run_block(&mut store, &post);
    // And a key splits the extension again.
    let mut post = HashedPostState::default();
    post.accounts
        .insert(nibble_key(&[1, 0, 3, 9, 9], 1), Some(acct(5)));
    post.accounts.insert(nibble_key(&[1, 5], 1), Some(acct(6)));
    run_block(&mut store, &post);
}

#[test]
fn root_extension_and_single_leaf_tries() {
    // All keys under 0-0-0: the root is an extension; storage tries likewise.
    let owner = nibble_key(&[0, 0, 0, 1], 3);
    let mut accounts = BTreeMap::new();
    let mut slots = BTreeMap::new();
    for i in 0..30u8 {
        accounts.insert(
            nibble_key(&[0, 0, 0, i % 4, i / 4], i),
            acct(u64::from(i) + 1),
        );
        slots.insert(
            nibble_key(&[5, 5, 5, i % 3, i / 3], i),
            U256::from(i) + U256::from(1),
        );
    }
    accounts.insert(owner, acct(1000));
    let storages = BTreeMap::from([(owner, slots)]);
    let (mut store, _) = MemoryTrieStore::from_leaves(accounts.clone(), storages);
    assert!(!store.account_nodes.contains_key(&Nibbles::default()));

    // Only the account info of the storage owner changes: its storage root comes from the
    // stored trie, whose root is an extension.
    let mut post = HashedPostState::default();
    post.accounts.insert(owner, Some(acct(1001)));
    let out = run_block(&mut store, &post);
    assert!(out.stats.storage_roots_read >= 1);
    assert_eq!(out.stats.storage_tries_updated, 0);

    // Delete everything but one account: a lone leaf.
    let mut post = HashedPostState::default();
    for key in accounts.keys().filter(|k| **k != owner) {
        post.accounts.insert(*key, None);
    }
    run_block(&mut store, &post);
    assert!(store.account_nodes.is_empty());
    // Then none at all.
    let mut post = HashedPostState::default();
    post.accounts.insert(owner, None);
    let out = run_block(&mut store, &post);
    assert_eq!(out.root, EMPTY_ROOT_HASH);
    assert!(store.storage_nodes.is_empty());
}

#[test]
fn an_empty_block_reads_only_the_root_node() {
    let accounts = (0..500u64)
        .map(|i| (keccak256(i.to_be_bytes()), acct(i + 1)))
        .collect();
    let (mut store, root) = MemoryTrieStore::from_leaves(accounts, BTreeMap::new());
    let out = run_block(&mut store, &HashedPostState::default());
    assert_eq!(out.root, root);
    assert_eq!(out.stats.node_reads, 1);
    assert_eq!(out.stats.leaves_fed, 0);
    assert_eq!(out.updates, TrieUpdates::default());
}

// ---------------------------------------------------------------------------------------------
// Cost

#[test]
fn one_change_in_ten_thousand_accounts_is_cheap() {
    let mut accounts = BTreeMap::new();
    let mut storages = BTreeMap::new();
    for i in 0..10_000u64 {
        let hashed = keccak256(Address::from_word(B256::from(U256::from(i))));
        accounts.insert(hashed, acct(i + 1));
        if i % 10 == 0 {
            let slots: BTreeMap<B256, U256> = (0..20u64)
                .map(|s| (keccak256(B256::from(U256::from(s))), U256::from(s + i + 1)))
                .collect();
            storages.insert(hashed, slots);
        }
    }
    let big_storage: BTreeMap<B256, U256> = (0..10_000u64)
        .map(|s| (keccak256(B256::from(U256::from(s))), U256::from(s + 1)))
        .collect();
    let whale = keccak256(Address::with_last_byte(0xee));
    accounts.insert(whale, acct(7));
    storages.insert(whale, big_storage);
    let (mut store, _) = MemoryTrieStore::from_leaves(accounts, storages);
    let total_leaves =
        store.accounts.len() + store.storages.values().map(BTreeMap::len).sum::<usize>();

    // One balance.
    let target = keccak256(Address::from_word(B256::from(U256::from(4242u64))));
    let mut post = HashedPostState::default();
    post.accounts.insert(target, Some(acct(1)));
    let out = run_block(&mut store, &post);
    let s = out.stats;
    eprintln!("one balance in {total_leaves} leaves: {s:?}");
    assert!(s.node_reads <= 30, "{s:?}");
    assert!(s.leaf_reads <= 60, "{s:?}");
    assert!(s.leaves_fed <= 40, "{s:?}");

    // One slot of the account with 10,000 slots.
    let mut post = HashedPostState::default();
    post.storages.insert(
        whale,
        HashedStorage {
            wiped: false,
            slots: BTreeMap::from([(keccak256(B256::from(U256::from(77u64))), U256::from(5))]),
        },
    );
    let out = run_block(&mut store, &post);
    let s = out.stats;
    eprintln!("one slot of 10,000: {s:?}");
    assert_eq!(s.storage_tries_updated, 1);
    assert!(s.node_reads <= 40, "{s:?}");
    assert!(s.leaf_reads <= 80, "{s:?}");
    assert!(s.leaves_fed <= 60, "{s:?}");

    // A few account deletions.
    let mut post = HashedPostState::default();
    for i in [1u64, 2000, 3001] {
        post.accounts.insert(
            keccak256(Address::from_word(B256::from(U256::from(i)))),
            None,
        );
    }
    let out = run_block(&mut store, &post);
    let s = out.stats;
    eprintln!("three deletions: {s:?}");
    assert!(
        s.node_reads <= 90 && s.leaf_reads <= 180 && s.leaves_fed <= 120,
        "{s:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// MDBX

fn header(number: u64, parent_hash: B256, state_root: B256) -> Header {
    Header {
        number,
        parent_hash,
        state_root,
        ..Default::default()
    }
}

fn nodes_in_db(
    db: &Database,
) -> (
    BTreeMap<Nibbles, alloy_trie::BranchNodeCompact>,
    BTreeMap<B256, BTreeMap<Nibbles, alloy_trie::BranchNodeCompact>>,
) {
    let reader = db.reader().unwrap();
    let mut accounts = BTreeMap::new();
    for entry in reader.cursor::<AccountsTrie>().unwrap().walk(None) {
        let (path, node) = entry.unwrap();
        accounts.insert(path, node);
    }
    let mut storages: BTreeMap<B256, BTreeMap<Nibbles, _>> = BTreeMap::new();
    for entry in reader.cursor::<StoragesTrie>().unwrap().walk(None) {
        let ((owner, path), node) = entry.unwrap();
        storages.entry(owner).or_default().insert(path, node);
    }
    (accounts, storages)
}

fn as_updates(nodes: &BTreeMap<Nibbles, alloy_trie::BranchNodeCompact>) -> TrieNodeUpdates {
    nodes.iter().map(|(p, n)| (*p, Some(n.clone()))).collect()
}

#[test]
fn incremental_root_over_mdbx_matches_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();

    // Genesis: 300 accounts, every fifth with storage, written with the nodes a from-scratch
    // HashBuilder build stores (as `parallax init` does).
    let address = |i: u64| Address::from_word(B256::from(U256::from(i)));
    let slot = |s: u64| B256::from(U256::from(s));
    let mut genesis = StateChanges::default();
    for i in 0..300u64 {
        genesis.accounts.insert(address(i), Some(acct(i + 1)));
        if i % 5 == 0 {
            genesis.storage.insert(
                address(i),
                StorageChanges {
                    wiped: false,
                    slots: (0..(i % 40))
                        .map(|s| (slot(s), U256::from(s * 7 + 1)))
                        .collect(),
                },
            );
        }
    }
    let hashed_genesis = HashedPostState::from_state_changes(&genesis);
    let mut mirror = MemoryTrieStore::default();
    let empty_out = state_root(&mut mirror, &hashed_genesis).unwrap();
    mirror.apply(&hashed_genesis, &empty_out.updates);
    let (scratch, genesis_root) =
        MemoryTrieStore::from_leaves(mirror.accounts.clone(), mirror.storages.clone());
    assert_eq!(empty_out.root, genesis_root);
    let mut block = BlockWrite::new(header(0, B256::ZERO, genesis_root));
    block.state = genesis.clone();
    block.trie = TrieUpdates {
        account_nodes: as_updates(&scratch.account_nodes),
        storage_nodes: scratch
            .storage_nodes
            .iter()
            .map(|(owner, nodes)| (*owner, as_updates(nodes)))
            .collect(),
    };
    db.write_genesis(&block, 1).unwrap();
    let mut parent = block.hash;

    // Three blocks: updates, storage writes and deletions, a destroyed account, a wiped and
    // re-created one, a new account.
    let blocks: Vec<StateChanges> = vec![
        {
            let mut c = StateChanges::default();
            c.accounts.insert(address(3), Some(acct(1234)));
            c.storage.insert(
                address(10),
                StorageChanges {
                    wiped: false,
                    slots: BTreeMap::from([(slot(1), U256::ZERO), (slot(500), U256::from(9))]),
                },
            );
            c.accounts.insert(address(1000), Some(acct(1)));
            c
        },
        {
            let mut c = StateChanges::default();
            c.accounts.insert(address(25), None);
            c.accounts.insert(address(35), Some(acct(35)));
            c.storage.insert(
                address(35),
                StorageChanges {
                    wiped: true,
                    slots: BTreeMap::from([(slot(2), U256::from(2))]),
                },
            );
            c
        },
        {
            let mut c = StateChanges::default();
            let slots = (0..40u64).map(|s| (slot(s), U256::ZERO)).collect();
            c.storage.insert(
                address(15),
                StorageChanges {
                    wiped: false,
                    slots,
                },
            );
            for i in 100..140u64 {
                c.accounts.insert(address(i), None);
            }
            c
        },
    ];
    for (number, changes) in (1u64..).zip(&blocks) {
        let post = HashedPostState::from_state_changes(changes);
        let out = {
            let reader = db.reader().unwrap();
            let mut trie_reader = DbTrieReader::new(&reader).unwrap();
            state_root(&mut trie_reader, &post).unwrap()
        };
        // The same block on the in-memory mirror of the database.
        let mirror_out = state_root(&mut mirror, &post).unwrap();
        assert_eq!(out.root, mirror_out.root);
        assert_eq!(out.updates, mirror_out.updates);
        mirror.apply(&post, &mirror_out.updates);
        let (scratch, scratch_root) =
            MemoryTrieStore::from_leaves(mirror.accounts.clone(), mirror.storages.clone());
        assert_eq!(out.root, scratch_root, "block {number}");

        let mut block = BlockWrite::new(header(number, parent, out.root));
        block.state = changes.clone();
        block.trie = out.updates;
        db.write_block(&block).unwrap();
        parent = block.hash;

        // The database now holds exactly the nodes of a from-scratch build.
        let (account_nodes, storage_nodes) = nodes_in_db(&db);
        assert_eq!(account_nodes, scratch.account_nodes, "block {number}");
        assert_eq!(storage_nodes, scratch.storage_nodes, "block {number}");
    }
}

/// Writes a block's hashed state changes and trie updates straight into the hashed-state and
/// trie tables, as the block write does (wiped and destroyed storage tries are cleared first).
fn write_hashed(tx: &Tx<'_, RW>, post: &HashedPostState, updates: &TrieUpdates) {
    for (hashed, account) in &post.accounts {
        match account {
            Some(account) => tx.put::<HashedAccounts>(hashed, account).unwrap(),
            None => {
                tx.delete::<HashedAccounts>(hashed).unwrap();
            }
        }
    }
    for hashed in post.accounts.keys().chain(post.storages.keys()) {
        let cleared =
            post.is_destroyed(hashed) || post.storages.get(hashed).is_some_and(|s| s.wiped);
        if cleared {
            tx.delete_prefix::<HashedStorages, _>(hashed).unwrap();
            tx.delete_prefix::<StoragesTrie, _>(hashed).unwrap();
        }
    }
    for (hashed, storage) in &post.storages {
        if post.is_destroyed(hashed) {
            continue;
        }
        for (slot, value) in &storage.slots {
            if value.is_zero() {
                tx.delete::<HashedStorages>(&(*hashed, *slot)).unwrap();
            } else {
                tx.put::<HashedStorages>(&(*hashed, *slot), value).unwrap();
            }
        }
    }
    for (path, node) in &updates.account_nodes {
        match node {
            Some(node) => tx.put::<AccountsTrie>(path, node).unwrap(),
            None => {
                tx.delete::<AccountsTrie>(path).unwrap();
            }
        }
    }
    for (hashed, nodes) in &updates.storage_nodes {
        for (path, node) in nodes {
            match node {
                Some(node) => tx.put::<StoragesTrie>(&(*hashed, *path), node).unwrap(),
                None => {
                    tx.delete::<StoragesTrie>(&(*hashed, *path)).unwrap();
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random histories on clustered hashed keys through MDBX: the database reader gives the
    /// same roots and updates as the in-memory store, and the database ends up holding the
    /// nodes of a from-scratch build.
    #[test]
    fn mdbx_reader_agrees_with_memory_over_blocks(history in history()) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let mut memory = MemoryTrieStore::default();
        let genesis = genesis_store(&history);
        // Genesis as a block that inserts everything, then the history's blocks, each drawn
        // against the state it applies to.
        let mut post = HashedPostState::default();
        for (key, account) in &genesis.accounts {
            post.accounts.insert(*key, Some(*account));
        }
        for (owner, slots) in &genesis.storages {
            post.storages.insert(*owner, HashedStorage { wiped: false, slots: slots.clone() });
        }
        let mut blocks = history.blocks.iter();
        loop {
            let from_db = {
                let reader = db.reader().unwrap();
                state_root(&mut DbTrieReader::new(&reader).unwrap(), &post).unwrap()
            };
            let from_memory = run_block(&mut memory, &post);
            prop_assert_eq!(from_db.root, from_memory.root);
            prop_assert_eq!(&from_db.updates, &from_memory.updates);
            let tx = db.begin_rw().unwrap();
            write_hashed(&tx, &post, &from_db.updates);
            tx.commit().unwrap();
            let (account_nodes, storage_nodes) = nodes_in_db(&db);
            prop_assert_eq!(&account_nodes, &memory.account_nodes);
            prop_assert_eq!(&storage_nodes, &memory.storage_nodes);
            let Some(block) = blocks.next() else { break };
            post = post_state(&history, &memory, block);
        }
    }
}
