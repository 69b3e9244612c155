//! Historical state reads across creation, update, destruction and re-creation.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use parallax_storage::{
    Account, BlockWrite, Database, StorageChanges, StorageError, tables::StorageChangeSets,
};

const A: Address = Address::repeat_byte(0xaa);
const B: Address = Address::repeat_byte(0xbb);

fn slot(n: u8) -> B256 {
    B256::with_last_byte(n)
}

fn account(nonce: u64, balance: u64) -> Account {
    Account {
        nonce,
        balance: U256::from(balance),
        code_hash: KECCAK256_EMPTY,
    }
}

fn storage(wiped: bool, slots: &[(u8, u64)]) -> StorageChanges {
    StorageChanges {
        wiped,
        slots: slots
            .iter()
            .map(|&(s, v)| (slot(s), U256::from(v)))
            .collect(),
    }
}

/// Writes the next block with the given account and storage changes.
fn write(
    db: &Database,
    accounts: &[(Address, Option<Account>)],
    storages: &[(Address, StorageChanges)],
) -> u64 {
    let head = db.reader().unwrap().head().unwrap();
    let mut block = BlockWrite::new(Header {
        number: head.map_or(0, |h| h.number + 1),
        parent_hash: head.map_or(B256::ZERO, |h| h.hash),
        ..Default::default()
    });
    block.state.accounts = accounts.iter().cloned().collect();
    block.state.storage = storages.iter().cloned().collect();
    db.write_block(&block).unwrap();
    block.header.number
}

#[test]
fn state_after_each_block_through_destruction_and_recreation() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();

    // 0: A created with slots 1 and 2; B created.
    write(
        &db,
        &[(A, Some(account(0, 100))), (B, Some(account(0, 5)))],
        &[(A, storage(false, &[(1, 10), (2, 20)]))],
    );
    // 1: A updated, slot 1 changed, slot 2 cleared.
    write(
        &db,
        &[(A, Some(account(1, 150)))],
        &[(A, storage(false, &[(1, 11), (2, 0)]))],
    );
    // 2: A self-destructs.
    write(&db, &[(A, None)], &[]);
    // 3: only B changes.
    write(&db, &[(B, Some(account(1, 4)))], &[]);
    // 4: A re-created with new storage.
    write(
        &db,
        &[(A, Some(account(0, 7)))],
        &[(A, storage(true, &[(3, 33)]))],
    );
    // 5: A destroyed and re-created in one block: slot 3 goes, slot 1 comes back.
    write(
        &db,
        &[(A, Some(account(0, 8)))],
        &[(A, storage(true, &[(1, 99)]))],
    );
    // 6: nothing happens to A or B.
    write(&db, &[], &[]);

    let reader = db.reader().unwrap();
    let expected_a = [
        Some(account(0, 100)),
        Some(account(1, 150)),
        None,
        None,
        Some(account(0, 7)),
        Some(account(0, 8)),
        Some(account(0, 8)),
    ];
    let expected_slots: [[u64; 3]; 7] = [
        [10, 20, 0],
        [11, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 33],
        [99, 0, 0],
        [99, 0, 0],
    ];
    for block in 0..=6u64 {
        assert_eq!(
            reader.account_at(A, block).unwrap(),
            expected_a[block as usize],
            "A at {block}"
        );
        for (i, s) in [1u8, 2, 3].into_iter().enumerate() {
            assert_eq!(
                reader.storage_at(A, slot(s), block).unwrap(),
                U256::from(expected_slots[block as usize][i]),
                "A slot {s} at {block}"
            );
        }
    }
    let expected_b = [account(0, 5), account(0, 5), account(0, 5), account(1, 4)];
    for block in 0..=6u64 {
        let expected = expected_b[(block as usize).min(3)];
        assert_eq!(
            reader.account_at(B, block).unwrap(),
            Some(expected),
            "B at {block}"
        );
    }

    // Latest state matches the last block; hashed state follows plain state.
    assert_eq!(reader.account(A).unwrap(), Some(account(0, 8)));
    assert_eq!(
        reader.storage_of(A).unwrap(),
        vec![(slot(1), U256::from(99))]
    );
    assert_eq!(
        reader.hashed_account(keccak256(A)).unwrap(),
        Some(account(0, 8))
    );
    assert_eq!(
        reader
            .hashed_storage(keccak256(A), keccak256(slot(1)))
            .unwrap(),
        U256::from(99)
    );
    assert_eq!(
        reader
            .hashed_storage(keccak256(A), keccak256(slot(3)))
            .unwrap(),
        U256::ZERO
    );

    // The destruction in block 2 recorded the one slot it cleared.
    let mut cursor = reader.cursor::<StorageChangeSets>().unwrap();
    let block2: Vec<_> = cursor.walk_prefix(&2u64).collect::<Result<_, _>>().unwrap();
    assert_eq!(block2, vec![((2, A, slot(1)), U256::from(11))]);

    // History reads past the head are refused.
    assert!(matches!(
        reader.account_at(A, 7),
        Err(StorageError::BlockNotAvailable {
            requested: 7,
            head: Some(6)
        })
    ));
    assert!(matches!(
        reader.storage_at(A, slot(1), 7),
        Err(StorageError::BlockNotAvailable { .. })
    ));
}

#[test]
fn history_reads_on_an_empty_database_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let reader = db.reader().unwrap();
    assert!(matches!(
        reader.account_at(A, 0),
        Err(StorageError::BlockNotAvailable {
            requested: 0,
            head: None
        })
    ));
}

#[test]
fn wiping_storage_drops_the_accounts_storage_trie() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let node = BranchNodeCompact::new(0b11, 0, 0b01, vec![B256::repeat_byte(1)], None);
    let hashed_a = keccak256(A);
    let hashed_b = keccak256(B);
    let paths = [
        Nibbles::new(),
        Nibbles::from_nibbles([1]),
        Nibbles::from_nibbles([1, 2]),
    ];

    let mut genesis = BlockWrite::new(Header::default());
    genesis.state.accounts.insert(A, Some(account(0, 1)));
    genesis.state.accounts.insert(B, Some(account(0, 1)));
    for hashed in [hashed_a, hashed_b] {
        let nodes = genesis.trie.storage_nodes.entry(hashed).or_default();
        for path in paths {
            nodes.insert(path, Some(node.clone()));
        }
    }
    genesis
        .trie
        .account_nodes
        .insert(paths[1], Some(node.clone()));
    db.write_block(&genesis).unwrap();

    let mut block = BlockWrite::new(Header {
        number: 1,
        parent_hash: genesis.hash,
        ..Default::default()
    });
    block.state.accounts.insert(A, None);
    block.trie.account_nodes.insert(paths[1], None);
    block
        .trie
        .account_nodes
        .insert(paths[2], Some(node.clone()));
    db.write_block(&block).unwrap();

    let reader = db.reader().unwrap();
    for path in &paths {
        assert_eq!(reader.storage_trie_node(hashed_a, path).unwrap(), None);
        assert_eq!(
            reader.storage_trie_node(hashed_b, path).unwrap(),
            Some(node.clone())
        );
    }
    assert_eq!(reader.account_trie_node(&paths[1]).unwrap(), None);
    assert_eq!(reader.account_trie_node(&paths[2]).unwrap(), Some(node));
}
