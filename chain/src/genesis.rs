//! Block 0 as a storage write.

use alloy_primitives::map::HashMap;
use parallax_genesis::{Genesis, GenesisBlock};
use parallax_storage::{
    Account, BlockWrite, StateChanges, StorageChanges, TrieNodeUpdates, TrieUpdates,
};

fn node_updates<K: Clone + Ord, V: Clone>(
    nodes: &HashMap<K, V>,
) -> std::collections::BTreeMap<K, Option<V>> {
    nodes
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect()
}

/// The genesis block as a storage write: the header, every `alloc` account with its code and
/// non-zero storage, and the branch nodes of the account and storage tries.
pub fn genesis_write(genesis: &Genesis, block: &GenesisBlock) -> BlockWrite {
    let mut state = StateChanges::default();
    for (address, account) in &genesis.alloc {
        let code_hash = account.code_hash();
        state.accounts.insert(
            *address,
            Some(Account {
                nonce: account.nonce,
                balance: account.balance,
                code_hash,
            }),
        );
        if !account.code.is_empty() {
            state.bytecodes.insert(code_hash, account.code.clone());
        }
        let slots: std::collections::BTreeMap<_, _> = account.nonzero_storage().collect();
        if !slots.is_empty() {
            state.storage.insert(
                *address,
                StorageChanges {
                    wiped: false,
                    slots,
                },
            );
        }
    }
    let storage_nodes = block
        .tries
        .storage_tries
        .iter()
        .map(|(hashed, trie)| (*hashed, node_updates(&trie.nodes) as TrieNodeUpdates))
        .collect();
    BlockWrite {
        header: block.header.clone(),
        hash: block.hash,
        state,
        trie: TrieUpdates {
            account_nodes: node_updates(&block.tries.account_nodes),
            storage_nodes,
        },
        ..Default::default()
    }
}
