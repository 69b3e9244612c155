//! `MemoryStore` answers every read trait as the MDBX database does: the same chain (the storage
//! crate's own deterministic test chain, with self-destructs, re-creations, cleared slots,
//! system logs, certificates, withdrawal signatures and metadata) is written into both, and
//! every method is asked about present and absent keys and the state after every block.
//!
//! One integration binary; run with `cargo test -p parallax-storage-api --test it`.

// The storage crate's test chain, shared rather than copied: block `n` is a function of `n`.
#[path = "../../../storage/tests/it/common/mod.rs"]
mod common;

use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, keccak256};
use common::{ACCOUNTS, Chain, SLOTS, address, slot};
use parallax_storage::{BlockWrite, Database, StateChanges, StorageChanges, StorageResult};
use parallax_storage_api::{ChainReader, MemoryStore, MetadataReader, SafetyReader, StateReader};
use std::fmt::Debug;

const CHAIN_ID: u64 = 77;
const CURSOR_KEY: &str = "relay_cursor";

/// Block `n` of the test chain, with system logs on some blocks and no certificate on others
/// (neither is covered by the header's hash).
fn block(chain: &mut Chain, n: u64) -> BlockWrite {
    let mut block = chain.block(n).clone();
    if n % 6 == 2 {
        block.system_logs = vec![Log {
            address: address(3),
            data: LogData::new_unchecked(vec![B256::with_last_byte(n as u8)], Bytes::new()),
        }];
    }
    if n % 9 == 4 {
        block.certificate = None;
    }
    block
}

/// A withdrawal signature of `validator` for block `n` (the second for a block replaces the
/// first, as the relayer's later signature does).
fn signature(n: u64, validator: u32, version: u8) -> (u64, u32, B256, [u8; 65]) {
    (
        n,
        validator,
        keccak256([n as u8, version]),
        [validator as u8 ^ version; 65],
    )
}

/// Writes blocks `from..=to` (and, with them, signatures and a cursor) into both stores.
fn write(db: &Database, memory: &mut MemoryStore, chain: &mut Chain, from: u64, to: u64) {
    for n in from..=to {
        let block = block(chain, n);
        if n == 0 {
            db.write_genesis(&block, CHAIN_ID).unwrap();
            memory.write_genesis(&block, CHAIN_ID).unwrap();
        } else {
            db.write_block(&block).unwrap();
            memory.write_block(&block).unwrap();
        }
        if n % 3 == 1 {
            let signatures = [signature(n, 2, 0), signature(n, 0, 0), signature(n, 2, 1)];
            db.put_withdrawal_signatures(&signatures).unwrap();
            memory.put_withdrawal_signatures(&signatures);
        }
    }
    db.set_metadata(CURSOR_KEY, &to.to_be_bytes()).unwrap();
    memory.set_metadata(CURSOR_KEY, &to.to_be_bytes()).unwrap();
    // Consensus's records: the safety data replaced, one kept block per write.
    for (key, value) in [
        ("safety", to.to_be_bytes()),
        (&*format!("block-{to}"), [7; 8]),
    ] {
        db.write_safety(key, &value).unwrap();
        memory.write_safety(key, &value).unwrap();
    }
}

/// Both answers are the same value, or the same error.
fn same<T: PartialEq + Debug>(what: &str, db: StorageResult<T>, memory: StorageResult<T>) {
    match (db, memory) {
        (Ok(db), Ok(memory)) => assert_eq!(db, memory, "{what}"),
        (Err(db), Err(memory)) => assert_eq!(db.to_string(), memory.to_string(), "{what}"),
        (db, memory) => panic!("{what}: the database says {db:?}, memory {memory:?}"),
    }
}

/// Every method of every trait, asked of both stores about blocks `0..=last + 2`, every
/// account and slot the chain touches and one it never does, and absent hashes and keys.
fn assert_same_answers(db: &impl ChainReader, memory: &impl ChainReader, chain: &mut Chain) {
    same("head_number", db.head_number(), memory.head_number());
    same("head", db.head(), memory.head());
    let last = db.head_number().unwrap().map_or(0, |h| h + 2);
    let mut code_hashes = vec![B256::repeat_byte(0xc0)];
    let mut tx_hashes = vec![B256::repeat_byte(0x7a)];
    let mut block_hashes = vec![B256::repeat_byte(0xb1)];
    for n in 0..=last {
        let block = chain.block(n);
        block_hashes.push(block.hash);
        tx_hashes.extend(block.transactions.iter().map(|t| *t.tx_hash()));
        code_hashes.extend(block.state.bytecodes.keys());
    }
    for n in 0..=last {
        let at = |what: &str| format!("{what} of block {n}");
        same(&at("hash"), db.canonical_hash(n), memory.canonical_hash(n));
        same(&at("header"), db.header(n), memory.header(n));
        same(&at("body"), db.body(n), memory.body(n));
        same(
            &at("transactions"),
            db.transactions(n),
            memory.transactions(n),
        );
        same(&at("receipts"), db.receipts(n), memory.receipts(n));
        for index in 0..5 {
            let what = at(&format!("transaction {index}"));
            same(
                &what,
                db.transaction(n, index),
                memory.transaction(n, index),
            );
            same(&what, db.receipt(n, index), memory.receipt(n, index));
        }
        same(&at("system logs"), db.system_logs(n), memory.system_logs(n));
        same(&at("certificate"), db.certificate(n), memory.certificate(n));
        same(
            &at("withdrawal signatures"),
            db.withdrawal_signatures(n),
            memory.withdrawal_signatures(n),
        );
    }
    for hash in block_hashes {
        let what = format!("block {hash}");
        same(&what, db.block_number(hash), memory.block_number(hash));
        same(&what, db.header_by_hash(hash), memory.header_by_hash(hash));
    }
    for hash in tx_hashes {
        let what = format!("transaction {hash}");
        same(
            &what,
            db.transaction_by_hash(hash),
            memory.transaction_by_hash(hash),
        );
    }
    for hash in code_hashes {
        same(
            &format!("code {hash}"),
            db.bytecode(hash),
            memory.bytecode(hash),
        );
    }
    for k in 0..=ACCOUNTS {
        let a = address(k);
        same(&format!("account {a}"), db.account(a), memory.account(a));
        same(
            &format!("storage of {a}"),
            db.storage_of(a),
            memory.storage_of(a),
        );
        for n in 0..=last {
            let what = format!("account {a} after block {n}");
            same(&what, db.account_at(a, n), memory.account_at(a, n));
        }
        for s in 0..=SLOTS {
            let s = slot(s);
            same(
                &format!("slot {s} of {a}"),
                db.storage(a, s),
                memory.storage(a, s),
            );
            for n in 0..=last {
                let what = format!("slot {s} of {a} after block {n}");
                same(&what, db.storage_at(a, s, n), memory.storage_at(a, s, n));
            }
        }
    }
    for key in [
        "schema_version",
        "head_block",
        "chain_id",
        "genesis_hash",
        CURSOR_KEY,
        "nope",
    ] {
        same(
            &format!("metadata {key}"),
            db.metadata(key),
            memory.metadata(key),
        );
    }
    same("chain id", db.chain_id(), memory.chain_id());
    same("genesis hash", db.genesis_hash(), memory.genesis_hash());
}

/// Both stores hold the same consensus records, present and absent.
fn assert_same_safety(db: &impl SafetyReader, memory: &impl SafetyReader) {
    for key in [
        "safety", "block-0", "block-1", "block-13", "block-40", "block-2", "nope",
    ] {
        same(&format!("safety {key}"), db.safety(key), memory.safety(key));
    }
}

#[test]
fn the_memory_store_answers_every_read_as_the_database_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut memory = MemoryStore::new();
    let mut chain = Chain::default();

    // Empty: no head, and no state after any block.
    assert_same_answers(&db.reader().unwrap(), &memory, &mut chain);
    let mut from = 0;
    for head in [0, 1, 13, 40] {
        write(&db, &mut memory, &mut chain, from, head);
        from = head + 1;
        assert_same_answers(&db.reader().unwrap(), &memory, &mut chain);
        assert_same_safety(&db.reader().unwrap(), &memory);
    }
    assert_eq!(
        memory.safety("safety").unwrap().unwrap().to_vec(),
        40u64.to_be_bytes()
    );
    assert_eq!(memory.chain_id().unwrap(), Some(CHAIN_ID));
    assert!(memory.account_at(address(0), 41).is_err());
}

#[test]
fn both_stores_refuse_the_same_blocks_and_stay_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut memory = MemoryStore::new();
    let mut chain = Chain::default();
    let refuse = |db: &Database, memory: &mut MemoryStore, block: &BlockWrite| {
        let from_db = db.write_block(block).unwrap_err().to_string();
        let from_memory = memory.write_block(block).unwrap_err().to_string();
        assert_eq!(from_db, from_memory);
    };

    // Block 1 onto an empty store.
    refuse(&db, &mut memory, &block(&mut chain, 1));
    write(&db, &mut memory, &mut chain, 0, 3);

    // Not the head's child; the head's number with another parent.
    refuse(&db, &mut memory, &block(&mut chain, 5));
    let mut orphan = block(&mut chain, 4);
    orphan.header.parent_hash = B256::repeat_byte(9);
    orphan.hash = orphan.header.hash_slow();
    refuse(&db, &mut memory, &orphan);

    // A transaction already stored in block 3 (block 4 has none of its own).
    let mut replayed = block(&mut chain, 4);
    replayed
        .transactions
        .push(chain.block(3).transactions[0].clone());
    replayed.receipts.push(chain.block(3).receipts[0].clone());
    refuse(&db, &mut memory, &replayed);

    // Storage written to an account the block destroys.
    let mut destroyed = block(&mut chain, 4);
    destroyed.state = StateChanges::default();
    destroyed.state.accounts.insert(address(1), None);
    let slots = [(slot(1), U256::from(5))].into_iter().collect();
    let storage = StorageChanges {
        wiped: false,
        slots,
    };
    destroyed.state.storage.insert(address(1), storage);
    refuse(&db, &mut memory, &destroyed);

    // Reserved metadata keys.
    let reserved = db.set_metadata("head_block", &[0]).unwrap_err().to_string();
    assert_eq!(
        reserved,
        memory
            .set_metadata("head_block", &[0])
            .unwrap_err()
            .to_string()
    );

    // Keys the consensus table cannot hold.
    for key in ["", "with space", &"k".repeat(65)] {
        assert_eq!(
            db.write_safety(key, &[1]).unwrap_err().to_string(),
            memory.write_safety(key, &[1]).unwrap_err().to_string()
        );
    }

    // Nothing of the refused blocks was kept; the chain goes on from block 3.
    assert_same_answers(&db.reader().unwrap(), &memory, &mut chain);
    write(&db, &mut memory, &mut chain, 4, 6);
    assert_same_answers(&db.reader().unwrap(), &memory, &mut chain);
}

#[test]
fn a_reader_and_the_memory_store_serve_code_written_against_the_traits() {
    // The same generic function, over a `Reader` and over a `MemoryStore`.
    fn balance_after(store: &dyn ChainReader, who: Address, block: u64) -> U256 {
        store
            .account_at(who, block)
            .unwrap()
            .map_or(U256::ZERO, |a| a.balance)
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut memory = MemoryStore::new();
    let mut chain = Chain::default();
    write(&db, &mut memory, &mut chain, 0, 5);
    let reader = db.reader().unwrap();
    for n in 0..=5 {
        let expected = balance_after(&reader, address(1), n);
        assert_eq!(balance_after(&memory, address(1), n), expected);
    }
    // Block 0 funds account 1 with 2 ether; block 1 sets it to 1,001 wei.
    assert_eq!(
        balance_after(&memory, address(1), 0),
        U256::from(2 * 10u64.pow(18))
    );
    assert_eq!(balance_after(&memory, address(1), 1), U256::from(1001));
}
