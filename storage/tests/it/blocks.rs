//! Writing and reading blocks, rejection of blocks that do not extend the head, and the
//! consensus safety and metadata entries.

use crate::common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use common::{Chain, assert_database_matches};
use parallax_storage::{
    Account, Database, StorageError, TxLocation,
    tables::{self, Table, meta_keys},
};

/// Entry counts of every table, to show a rejected block left no trace.
fn counts(db: &Database) -> Vec<(&'static str, usize)> {
    let tx = db.reader().unwrap();
    macro_rules! count {
        ($($t:ident),*) => { vec![$((tables::$t::NAME, tx.entries::<tables::$t>().unwrap())),*] };
    }
    count!(
        CanonicalHeaders,
        HeaderNumbers,
        Headers,
        BlockBodies,
        Transactions,
        Receipts,
        TransactionLookup,
        PlainAccounts,
        PlainStorage,
        Bytecodes,
        AccountChangeSets,
        StorageChangeSets,
        AccountHistory,
        StorageHistory,
        HashedAccounts,
        HashedStorages,
        AccountsTrie,
        StoragesTrie,
        BlockCertificates,
        SystemLogs,
        ConsensusSafety,
        Metadata
    )
}

#[test]
fn blocks_read_back_through_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut chain = Chain::default();
    for n in 0..=20 {
        db.write_block(chain.block(n)).unwrap();
    }
    assert_database_matches(&db, &mut chain, 20);

    let reader = db.reader().unwrap();
    let block = chain.block(19).clone();
    assert_eq!(reader.canonical_hash(19).unwrap(), Some(block.hash));
    assert_eq!(reader.block_number(block.hash).unwrap(), Some(19));
    assert_eq!(
        reader.header_by_hash(block.hash).unwrap(),
        Some(block.header.clone())
    );
    assert_eq!(reader.body(19).unwrap().unwrap().tx_count, 3);
    assert_eq!(
        reader.transactions(19).unwrap().unwrap(),
        block.transactions
    );
    assert_eq!(
        reader.transaction(19, 2).unwrap().as_ref(),
        Some(&block.transactions[2])
    );
    let found = reader
        .transaction_by_hash(*block.transactions[1].tx_hash())
        .unwrap()
        .unwrap();
    assert_eq!(found.transaction, block.transactions[1]);
    assert_eq!(
        found.location,
        TxLocation {
            block_number: 19,
            index: 1
        }
    );
    assert_eq!(reader.receipts(19).unwrap().unwrap(), block.receipts);
    assert_eq!(
        reader.receipt(19, 2).unwrap().as_ref(),
        Some(&block.receipts[2])
    );
    assert_eq!(reader.certificate(19).unwrap(), block.certificate);
    assert_eq!(reader.transactions(21).unwrap(), None);
    assert_eq!(reader.receipts(21).unwrap(), None);
    assert_eq!(
        reader.transaction_by_hash(B256::repeat_byte(3)).unwrap(),
        None
    );

    // Account 4 has code (see the chain's rules) and the code is stored.
    let account = reader.account(common::address(4)).unwrap().unwrap();
    assert!(account.has_code());
    let code = reader.bytecode(account.code_hash).unwrap().unwrap();
    assert_eq!(keccak256(&code), account.code_hash);

    // Typed cursors: range walks and last.
    let mut cursor = reader.cursor::<tables::CanonicalHeaders>().unwrap();
    let range: Vec<_> = cursor.walk_range(3..6).map(|e| e.unwrap().0).collect();
    assert_eq!(range, vec![3, 4, 5]);
    let range: Vec<_> = cursor
        .walk_range(18..=u64::MAX)
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(range, vec![18, 19, 20]);
    assert_eq!(cursor.last().unwrap().map(|e| e.0), Some(20));
    assert_eq!(cursor.prev().unwrap().map(|e| e.0), Some(19));
    assert_eq!(cursor.seek(&7).unwrap().map(|e| e.0), Some(7));
    assert_eq!(cursor.next().unwrap().map(|e| e.0), Some(8));
    assert_eq!(cursor.seek_exact(&21).unwrap(), None);
    let mut txs = reader.cursor::<tables::Transactions>().unwrap();
    let keys: Vec<_> = txs
        .walk_range((6, 1)..(7, 2))
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(keys, vec![(6, 1), (7, 0), (7, 1)]);

    // Reopening keeps everything.
    drop(cursor);
    drop(txs);
    drop(reader);
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_database_matches(&db, &mut chain, 20);
}

#[test]
fn blocks_that_do_not_extend_the_head_are_rejected_without_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut chain = Chain::default();

    let err = db.write_block(chain.block(1)).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::OutOfOrder {
                expected: 0,
                got: 1
            }
        ),
        "{err}"
    );
    assert_eq!(db.reader().unwrap().head().unwrap(), None);

    for n in 0..=2 {
        db.write_block(chain.block(n)).unwrap();
    }
    let before = counts(&db);

    // A gap, a repeat, and the genesis again.
    for n in [4, 2, 0] {
        let err = db.write_block(chain.block(n)).unwrap_err();
        assert!(
            matches!(err, StorageError::OutOfOrder { expected: 3, got } if got == n),
            "{err}"
        );
    }
    // The right number on the wrong parent.
    let mut fork = chain.block(3).clone();
    fork.header.parent_hash = B256::repeat_byte(9);
    fork.hash = fork.header.hash_slow();
    let err = db.write_block(&fork).unwrap_err();
    assert!(
        matches!(err, StorageError::ParentMismatch { number: 3, expected, got }
            if expected == chain.block(2).hash && got == B256::repeat_byte(9)),
        "{err}"
    );
    // Malformed blocks.
    let mut bad_hash = chain.block(3).clone();
    bad_hash.hash = B256::repeat_byte(1);
    let mut missing_receipt = chain.block(3).clone();
    missing_receipt.receipts.pop();
    let mut destroyed_with_storage = chain.block(3).clone();
    let victim = *destroyed_with_storage.state.storage.keys().next().unwrap();
    destroyed_with_storage.state.accounts.insert(victim, None);
    let mut bad_code = chain.block(3).clone();
    bad_code
        .state
        .bytecodes
        .insert(B256::repeat_byte(2), Bytes::from_static(b"\x00"));
    let mut replayed_tx = chain.block(3).clone();
    replayed_tx.transactions[0] = chain.block(2).transactions[0].clone();
    replayed_tx.receipts[0] = chain.block(2).receipts[0].clone();
    for (what, block) in [
        ("hash", bad_hash),
        ("receipts", missing_receipt),
        ("destroyed account with storage", destroyed_with_storage),
        ("bytecode hash", bad_code),
        ("replayed transaction", replayed_tx),
    ] {
        let err = db.write_block(&block).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidBlock { number: 3, .. }),
            "{what}: {err}"
        );
    }
    assert_eq!(counts(&db), before, "rejected blocks left entries behind");
    assert_database_matches(&db, &mut chain, 2);

    // The chain still extends normally.
    db.write_block(chain.block(3)).unwrap();
    assert_database_matches(&db, &mut chain, 3);
}

#[test]
fn unchanged_values_record_no_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut chain = Chain::default();
    db.write_block(chain.block(0)).unwrap();
    let address = common::address(0);
    let current = db.reader().unwrap().account(address).unwrap();
    let slot = common::slot(0);
    let value = db.reader().unwrap().storage(address, slot).unwrap();
    assert_ne!(value, U256::ZERO);

    let mut block = parallax_storage::BlockWrite::new(alloy_consensus::Header {
        number: 1,
        parent_hash: chain.block(0).hash,
        ..Default::default()
    });
    block.state.accounts.insert(address, current);
    block
        .state
        .storage
        .entry(address)
        .or_default()
        .slots
        .insert(slot, value);
    // Setting an absent slot to zero is no change either.
    block
        .state
        .storage
        .entry(address)
        .or_default()
        .slots
        .insert(common::slot(7), U256::ZERO);
    db.write_block(&block).unwrap();

    let reader = db.reader().unwrap();
    assert_eq!(reader.entries::<tables::AccountChangeSets>().unwrap(), 8);
    assert_eq!(reader.entries::<tables::StorageChangeSets>().unwrap(), 12);
    assert_eq!(reader.account_at(address, 0).unwrap(), current);
}

#[test]
fn safety_and_metadata_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.write_safety("last_voted_round", &42u64.to_be_bytes())
            .unwrap();
        db.write_safety("locked_qc", b"qc bytes").unwrap();
        db.write_safety("last_voted_round", &43u64.to_be_bytes())
            .unwrap();
        db.set_chain_id(77).unwrap();
        db.set_genesis_hash(B256::repeat_byte(0x9e)).unwrap();
        db.set_metadata("node_version", b"0.1.0").unwrap();

        for key in ["", "has space", "caf\u{e9}", &"k".repeat(65)] {
            let err = db.write_safety(key, b"x").unwrap_err();
            assert!(
                matches!(
                    err,
                    StorageError::InvalidKey {
                        table: "ConsensusSafety",
                        ..
                    }
                ),
                "{err}"
            );
        }
        for key in [meta_keys::HEAD_BLOCK, meta_keys::SCHEMA_VERSION] {
            let err = db.set_metadata(key, &[0; 8]).unwrap_err();
            assert!(matches!(err, StorageError::ReservedMetadataKey(_)), "{err}");
        }
    }
    let db = Database::open(dir.path()).unwrap();
    let reader = db.reader().unwrap();
    assert_eq!(
        reader.safety("last_voted_round").unwrap(),
        Some(Bytes::copy_from_slice(&43u64.to_be_bytes()))
    );
    assert_eq!(
        reader.safety("locked_qc").unwrap(),
        Some(Bytes::from_static(b"qc bytes"))
    );
    assert_eq!(reader.safety("missing").unwrap(), None);
    assert_eq!(reader.chain_id().unwrap(), Some(77));
    assert_eq!(
        reader.genesis_hash().unwrap(),
        Some(B256::repeat_byte(0x9e))
    );
    assert_eq!(
        reader.metadata("node_version").unwrap(),
        Some(Bytes::from_static(b"0.1.0"))
    );
    assert_eq!(reader.head().unwrap(), None);
}

#[test]
fn accounts_without_storage_or_code_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut genesis = parallax_storage::BlockWrite::new(Default::default());
    let rich = Account {
        nonce: u64::MAX,
        balance: U256::MAX,
        ..Default::default()
    };
    genesis
        .state
        .accounts
        .insert(Address::ZERO, Some(Account::default()));
    genesis
        .state
        .accounts
        .insert(Address::repeat_byte(0xff), Some(rich));
    db.write_block(&genesis).unwrap();
    let reader = db.reader().unwrap();
    assert_eq!(
        reader.account(Address::ZERO).unwrap(),
        Some(Account::default())
    );
    assert_eq!(
        reader.account(Address::repeat_byte(0xff)).unwrap(),
        Some(rich)
    );
    assert_eq!(reader.account(Address::repeat_byte(1)).unwrap(), None);
}

#[test]
fn genesis_and_its_metadata_land_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();

    // Only block 0 can be a genesis, and a rejected one leaves nothing behind.
    let not_genesis = common::make_block(1, B256::ZERO);
    assert!(db.write_genesis(&not_genesis, 7).is_err());
    assert_eq!(db.reader().unwrap().head().unwrap(), None);
    assert_eq!(db.reader().unwrap().chain_id().unwrap(), None);

    let genesis = common::make_block(0, B256::ZERO);
    db.write_genesis(&genesis, 7).unwrap();
    let tx = db.reader().unwrap();
    assert_eq!(tx.head().unwrap().map(|h| h.hash), Some(genesis.hash));
    assert_eq!(tx.chain_id().unwrap(), Some(7));
    assert_eq!(tx.genesis_hash().unwrap(), Some(genesis.hash));
    drop(tx);

    // A second genesis does not extend the head.
    assert!(matches!(
        db.write_genesis(&genesis, 7),
        Err(StorageError::OutOfOrder { .. })
    ));
}

#[test]
fn a_blocks_system_logs_are_stored_with_it_and_absent_for_other_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut chain = Chain::default();
    db.write_block(chain.block(0)).unwrap();
    let mut block = chain.block(1).clone();
    let log = alloy_primitives::Log::new_unchecked(
        Address::repeat_byte(0xb1),
        vec![B256::repeat_byte(1), B256::repeat_byte(2)],
        Bytes::from_static(&[7; 32]),
    );
    block.system_logs = vec![log.clone(), log.clone()];
    db.write_block(&block).unwrap();
    let reader = db.reader().unwrap();
    assert_eq!(reader.system_logs(1).unwrap(), vec![log.clone(), log]);
    assert_eq!(
        reader.system_logs(0).unwrap(),
        vec![],
        "a block without any"
    );
    assert_eq!(
        reader.system_logs(2).unwrap(),
        vec![],
        "a block not written"
    );
    assert_eq!(reader.entries::<tables::SystemLogs>().unwrap(), 1);
}
