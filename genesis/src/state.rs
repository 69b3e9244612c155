//! Genesis state and its Merkle-Patricia root.
//!
//! The root is Ethereum's: a secure trie keyed by `keccak(address)` whose leaves are
//! `rlp([nonce, balance, storage_root, code_hash])`, each storage root a secure trie keyed by
//! `keccak(slot)` with `rlp(value)` leaves (zero values absent). It is built with alloy-trie's
//! `HashBuilder`, which also hands back the trie's branch nodes so a node can store them and
//! later update the root incrementally.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::HashMap};
use alloy_trie::{
    BranchNodeCompact, EMPTY_ROOT_HASH, HashBuilder, KECCAK_EMPTY, Nibbles, TrieAccount,
};
use std::collections::BTreeMap;

/// One account of the genesis `alloc`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenesisAccount {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Contract code (empty for externally owned accounts).
    pub code: Bytes,
    /// Storage slots; zero values are allowed in the file and are not part of the trie.
    pub storage: BTreeMap<B256, B256>,
}

impl GenesisAccount {
    /// keccak256 of the code, [`KECCAK_EMPTY`] for no code.
    pub fn code_hash(&self) -> B256 {
        if self.code.is_empty() {
            KECCAK_EMPTY
        } else {
            keccak256(&self.code)
        }
    }

    /// Non-zero storage slots as (slot, value).
    pub fn nonzero_storage(&self) -> impl Iterator<Item = (B256, U256)> + '_ {
        self.storage
            .iter()
            .map(|(k, v)| (*k, U256::from_be_bytes(v.0)))
            .filter(|(_, v)| !v.is_zero())
    }
}

/// The trie of one account's storage.
#[derive(Clone, Debug, Default)]
pub struct StorageTrie {
    /// Root of the storage trie.
    pub root: B256,
    /// Branch nodes by nibble path, for storing in the database.
    pub nodes: HashMap<Nibbles, BranchNodeCompact>,
}

/// The genesis state's tries.
#[derive(Clone, Debug)]
pub struct GenesisTries {
    /// The state root.
    pub state_root: B256,
    /// Branch nodes of the account trie by nibble path.
    pub account_nodes: HashMap<Nibbles, BranchNodeCompact>,
    /// Storage tries of accounts with non-empty storage, by `keccak(address)`.
    pub storage_tries: BTreeMap<B256, StorageTrie>,
}

/// Builds the storage trie of one account.
pub fn storage_trie(account: &GenesisAccount) -> StorageTrie {
    let mut leaves: Vec<(B256, U256)> = account
        .nonzero_storage()
        .map(|(slot, value)| (keccak256(slot), value))
        .collect();
    if leaves.is_empty() {
        return StorageTrie {
            root: EMPTY_ROOT_HASH,
            nodes: HashMap::default(),
        };
    }
    leaves.sort_unstable_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default().with_updates(true);
    let mut buf = Vec::with_capacity(33);
    for (hashed_slot, value) in leaves {
        buf.clear();
        alloy_rlp::Encodable::encode(&value, &mut buf);
        hb.add_leaf(Nibbles::unpack(hashed_slot), &buf);
    }
    let root = hb.root();
    let (_, nodes) = hb.split();
    StorageTrie { root, nodes }
}

/// Computes the state root of `alloc` and the branch nodes of every trie.
pub fn compute_tries(alloc: &BTreeMap<Address, GenesisAccount>) -> GenesisTries {
    let mut storage_tries = BTreeMap::new();
    let mut leaves: Vec<(B256, TrieAccount)> = Vec::with_capacity(alloc.len());
    for (address, account) in alloc {
        let hashed = keccak256(address);
        let storage = storage_trie(account);
        let trie_account = TrieAccount {
            nonce: account.nonce,
            balance: account.balance,
            storage_root: storage.root,
            code_hash: account.code_hash(),
        };
        if storage.root != EMPTY_ROOT_HASH {
            storage_tries.insert(hashed, storage);
        }
        leaves.push((hashed, trie_account));
    }
    leaves.sort_unstable_by_key(|(k, _)| *k);

    let mut hb = HashBuilder::default().with_updates(true);
    let mut buf = Vec::with_capacity(128);
    for (hashed, account) in &leaves {
        buf.clear();
        alloy_rlp::Encodable::encode(account, &mut buf);
        hb.add_leaf(Nibbles::unpack(hashed), &buf);
    }
    let state_root = hb.root();
    let (_, account_nodes) = hb.split();
    GenesisTries {
        state_root,
        account_nodes,
        storage_tries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn empty_alloc_has_the_empty_root() {
        assert_eq!(compute_tries(&BTreeMap::new()).state_root, EMPTY_ROOT_HASH);
    }

    #[test]
    fn zero_storage_values_are_not_in_the_trie() {
        let mut with_zero = GenesisAccount {
            balance: U256::from(1),
            ..Default::default()
        };
        with_zero
            .storage
            .insert(B256::with_last_byte(1), B256::ZERO);
        let plain = GenesisAccount {
            balance: U256::from(1),
            ..Default::default()
        };
        let a = address!("0x0000000000000000000000000000000000000001");
        let r1 = compute_tries(&BTreeMap::from([(a, with_zero)])).state_root;
        let r2 = compute_tries(&BTreeMap::from([(a, plain)])).state_root;
        assert_eq!(r1, r2);
    }

    #[test]
    fn matches_alloy_trie_reference_root() {
        // Cross-check against alloy-trie's own (node-less) root computation.
        let mut alloc = BTreeMap::new();
        for i in 0u8..50 {
            let mut acc = GenesisAccount {
                nonce: u64::from(i),
                balance: U256::from(i) * U256::from(10).pow(U256::from(18)),
                ..Default::default()
            };
            if i % 7 == 0 {
                acc.code = Bytes::from(vec![0x60, i, 0x00]);
                for s in 0..u64::from(i) {
                    acc.storage
                        .insert(B256::from(U256::from(s)), B256::from(U256::from(s * 3 + 1)));
                }
            }
            alloc.insert(Address::with_last_byte(i), acc);
        }
        let ours = compute_tries(&alloc).state_root;
        let reference = alloy_trie::root::state_root_unhashed(alloc.iter().map(|(a, acc)| {
            let storage_root =
                alloy_trie::root::storage_root_unhashed(acc.nonzero_storage().collect::<Vec<_>>());
            (
                *a,
                TrieAccount {
                    nonce: acc.nonce,
                    balance: acc.balance,
                    storage_root,
                    code_hash: acc.code_hash(),
                },
            )
        }));
        assert_eq!(ours, reference);
        assert_ne!(ours, EMPTY_ROOT_HASH);
    }

    #[test]
    fn single_account_root_is_ethereums() {
        // One account with 1 wei at address 0x..01: the root every Ethereum client computes.
        let alloc = BTreeMap::from([(
            address!("0x0000000000000000000000000000000000000001"),
            GenesisAccount {
                balance: U256::from(1),
                ..Default::default()
            },
        )]);
        let root = compute_tries(&alloc).state_root;
        // Independently: a one-leaf trie's root is keccak(rlp(leaf node)).
        let hashed = keccak256(address!("0x0000000000000000000000000000000000000001"));
        let mut value = Vec::new();
        alloy_rlp::Encodable::encode(
            &TrieAccount {
                nonce: 0,
                balance: U256::from(1),
                storage_root: EMPTY_ROOT_HASH,
                code_hash: KECCAK_EMPTY,
            },
            &mut value,
        );
        let mut path = vec![0x20];
        path.extend_from_slice(hashed.as_slice());
        let mut leaf = Vec::new();
        alloy_rlp::encode_list::<&[u8], [u8]>(&[path.as_slice(), value.as_slice()], &mut leaf);
        assert_eq!(root, keccak256(&leaf));
        assert_ne!(
            root,
            b256!("0x0000000000000000000000000000000000000000000000000000000000000000")
        );
    }
}
