//! The state the RPC reads from a database: a few blocks executed and committed to a temporary
//! MDBX database (with their state roots and trie nodes), then [`HistoricalState`] at every
//! height against what the state was right after that block was committed, calls over it,
//! and EIP-1186 proofs of the head state and of every earlier height verified against that
//! block's header state root. After the executed blocks come two written as state changes:
//! one creating accounts with storage and clearing a slot, one destroying an account and
//! wiping another's storage, so that proofs at earlier heights have deletions to undo. The
//! same chain is written to `parallax-storage-api`'s `MemoryStore`, and the executors and
//! [`HistoricalState`] read it exactly as they read MDBX.

use crate::contracts;
use crate::workloads;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount, proof::verify_proof};
use contracts::token;
use parallax_call::{BlockOverrides, CallOptions, CallOutcome, CallRequest, StateOverrides, call};
use parallax_execution::{
    AccountState, Block, BlockExecutor, ChainRules, HistoricalState, InMemoryState, LatestState,
    ParallelExecutor, SequentialExecutor, SpecId, StateView,
};
use parallax_storage::{Account, BlockWrite, Database, StateChanges, StorageChanges, StorageError};
use parallax_storage_api::MemoryStore;
use parallax_trie::{
    DbTrieReader, HashedPostState, StateRootError, account_proof, account_proof_at,
    reverse_post_state, state_root,
};
use std::collections::BTreeMap;
use workloads::{CHAIN_ID, addr, block_env, eoa, ether, token_account};

const TOKEN: Address = Address::new([0x77; 20]);
/// Blocks executed by the EVM after genesis.
const EXECUTED: u64 = 4;
/// All blocks after genesis: the executed ones, then [`created_block`] and [`destroying_block`].
const BLOCKS: u64 = EXECUTED + 2;
/// Created with storage in [`created_block`]; its storage is wiped and rewritten in
/// [`destroying_block`].
const CREATED: Address = Address::new([0x31; 20]);
/// Created with storage in [`created_block`], destroyed in [`destroying_block`].
const EPHEMERAL: Address = Address::new([0x32; 20]);

/// The token holder whose balance [`created_block`] clears.
fn cleared_holder() -> Address {
    addr(1, 150)
}

fn eoas() -> Vec<Address> {
    (0..200).map(|i| addr(1, i)).collect()
}

/// Commits a block with `changes` onto the head, with its state root and trie nodes.
/// Writes the block to the database and, the same [`BlockWrite`], to `memory`.
fn commit(
    db: &Database,
    memory: &mut MemoryStore,
    number: u64,
    parent: B256,
    changes: StateChanges,
) -> B256 {
    let post = HashedPostState::from_state_changes(&changes);
    let out = {
        let reader = db.reader().unwrap();
        state_root(&mut DbTrieReader::new(&reader).unwrap(), &post).unwrap()
    };
    let mut block = BlockWrite::new(Header {
        number,
        parent_hash: parent,
        state_root: out.root,
        timestamp: block_env(number).timestamp,
        ..Default::default()
    });
    block.state = changes;
    block.trie = out.updates;
    if number == 0 {
        db.write_genesis(&block, CHAIN_ID).unwrap();
        memory.write_genesis(&block, CHAIN_ID).unwrap();
    } else {
        db.write_block(&block).unwrap();
        memory.write_block(&block).unwrap();
    }
    block.hash
}

/// The addresses and token slots the tests look at.
fn tracked() -> (Vec<Address>, Vec<U256>) {
    let mut addresses: Vec<Address> = eoas().into_iter().take(8).collect();
    addresses.extend((0..8).map(|i| addr(2, i)));
    addresses.extend([
        TOKEN,
        workloads::BENEFICIARY,
        addr(3, 0),
        CREATED,
        EPHEMERAL,
    ]);
    let slots = addresses
        .iter()
        .map(|a| token::balance_slot(*a))
        .chain([token::total_supply_slot(), U256::from(12_345)])
        .collect();
    (addresses, slots)
}

/// What a state holds at the tracked addresses and slots.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    accounts: BTreeMap<Address, Option<(U256, u64, B256)>>,
    token_slots: BTreeMap<U256, U256>,
}

fn snapshot(state: &impl StateView) -> Snapshot {
    let (addresses, slots) = tracked();
    let account = |a: &Address| {
        state.account(*a).unwrap().map(
            |AccountState {
                 balance,
                 nonce,
                 code_hash,
                 ..
             }| (balance, nonce, code_hash),
        )
    };
    Snapshot {
        accounts: addresses.iter().map(|a| (*a, account(a))).collect(),
        token_slots: slots
            .iter()
            .map(|s| (*s, state.storage(TOKEN, *s).unwrap()))
            .collect(),
    }
}

/// Block `number`: ETH transfers, token transfers and a mint, varying with the number.
fn block(number: u64) -> Block {
    let senders = eoas();
    let mut transactions = Vec::new();
    for i in 0..4u64 {
        let from = senders[((number + i) % 8) as usize];
        // Each sender sends at most one transaction per block; its nonce is how many blocks
        // it sent in before.
        let sent_before = (1..number).filter(|b| (0..4).any(|j| (b + j) % 8 == (number + i) % 8));
        let nonce_of = sent_before.count() as u64;
        let tx = if i % 2 == 0 {
            workloads::call(
                from,
                nonce_of,
                Some(addr(2, i)),
                U256::from(1_000 * number + i),
                Bytes::new(),
                21_000,
            )
        } else {
            workloads::call(
                from,
                nonce_of,
                Some(TOKEN),
                U256::ZERO,
                token::transfer(addr(2, i), U256::from(7 * number + i)),
                100_000,
            )
        };
        transactions.push(tx);
    }
    Block {
        env: block_env(number),
        rules: ChainRules::new(CHAIN_ID, SpecId::PRAGUE),
        transactions,
        withdrawals: Vec::new(),
        deposits: None,
    }
}

fn storage(wiped: bool, slots: &[(u64, u64)]) -> StorageChanges {
    StorageChanges {
        wiped,
        slots: slots
            .iter()
            .map(|(slot, value)| (B256::from(U256::from(*slot)), U256::from(*value)))
            .collect(),
    }
}

/// Creates [`CREATED`] and [`EPHEMERAL`] with storage, and clears a token balance slot.
fn created_block() -> StateChanges {
    let code_hash = keccak256(token::runtime_code());
    let mut changes = StateChanges::default();
    for (address, nonce) in [(CREATED, 1), (EPHEMERAL, 2)] {
        let account = Account {
            nonce,
            balance: ether(nonce),
            code_hash,
        };
        changes.accounts.insert(address, Some(account));
    }
    changes
        .storage
        .insert(CREATED, storage(false, &[(1, 5), (2, 6)]));
    changes.storage.insert(EPHEMERAL, storage(false, &[(3, 9)]));
    let mut token_slots = storage(false, &[]);
    token_slots.slots.insert(
        B256::from(token::balance_slot(cleared_holder())),
        U256::ZERO,
    );
    changes.storage.insert(TOKEN, token_slots);
    changes
}

/// Destroys [`EPHEMERAL`], wipes the storage of [`CREATED`] (re-creating one slot) and moves
/// some ether.
fn destroying_block(db: &Database) -> StateChanges {
    let reader = db.reader().unwrap();
    let mut changes = StateChanges::default();
    changes.accounts.insert(EPHEMERAL, None);
    changes.storage.insert(CREATED, storage(true, &[(7, 1)]));
    let payer = addr(1, 1);
    let mut account = reader.account(payer).unwrap().unwrap();
    account.balance -= ether(1);
    changes.accounts.insert(payer, Some(account));
    changes
}

/// A database with a genesis (200 funded accounts and a token with 200 holders), [`EXECUTED`]
/// executed blocks and the two written ones, the same chain in a [`MemoryStore`] (each
/// executed block executed over it too, with the same output), and the snapshot of the state
/// after each block.
struct Chain {
    _dir: tempfile::TempDir,
    db: Database,
    memory: MemoryStore,
    snapshots: Vec<Snapshot>,
}

fn chain() -> Chain {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut memory = MemoryStore::new();
    let mut genesis = InMemoryState::new();
    let holders = eoas();
    for a in &holders {
        genesis.insert_account(*a, eoa(ether(100)));
    }
    genesis.insert_account(TOKEN, token_account(&holders, ether(1_000)));
    let mut parent = commit(&db, &mut memory, 0, B256::ZERO, genesis.to_changes());
    let mut snapshots = vec![snapshot(&LatestState::new(&db.reader().unwrap()))];
    for number in 1..=EXECUTED {
        let block = block(number);
        let output = {
            let reader = db.reader().unwrap();
            SequentialExecutor
                .execute(&block, &LatestState::new(&reader))
                .unwrap()
        };
        assert!(
            output.receipts.iter().all(|r| r.status()),
            "block {number}: every transaction succeeds"
        );
        let over_memory = ParallelExecutor::new(2)
            .execute(&block, &LatestState::new(&memory))
            .unwrap();
        assert!(
            over_memory == output,
            "block {number}: executing over the in-memory store differs from over MDBX"
        );
        parent = commit(&db, &mut memory, number, parent, output.state);
        snapshots.push(snapshot(&LatestState::new(&db.reader().unwrap())));
    }
    parent = commit(&db, &mut memory, EXECUTED + 1, parent, created_block());
    snapshots.push(snapshot(&LatestState::new(&db.reader().unwrap())));
    let changes = destroying_block(&db);
    commit(&db, &mut memory, EXECUTED + 2, parent, changes);
    snapshots.push(snapshot(&LatestState::new(&db.reader().unwrap())));
    Chain {
        _dir: dir,
        db,
        memory,
        snapshots,
    }
}

#[test]
fn historical_state_is_the_state_after_each_block() {
    let Chain {
        _dir,
        db,
        memory,
        snapshots,
    } = chain();
    // The blocks changed what is tracked, so the comparison means something.
    for pair in snapshots.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
    let reader = db.reader().unwrap();
    for (number, expected) in (0u64..).zip(&snapshots) {
        let state = HistoricalState::new(&reader, number).unwrap();
        assert_eq!(state.number(), number);
        assert_eq!(&snapshot(&state), expected, "after block {number}");
        let in_memory = HistoricalState::new(&memory, number).unwrap();
        assert_eq!(
            &snapshot(&in_memory),
            expected,
            "after block {number}, in memory"
        );
        for n in 0..=BLOCKS + 1 {
            let hash = state.block_hash(n).unwrap();
            if n <= number {
                assert_eq!(Some(hash), reader.canonical_hash(n).unwrap());
                assert_ne!(hash, B256::ZERO);
            } else {
                assert_eq!(hash, B256::ZERO);
            }
        }
    }
    // At the head it reads what the latest state reads.
    let head = HistoricalState::new(&reader, BLOCKS).unwrap();
    assert_eq!(snapshot(&head), snapshot(&LatestState::new(&reader)));
    let code_hash = keccak256(token::runtime_code());
    assert_eq!(
        head.code(code_hash).unwrap().map(|c| c.original_bytes()),
        LatestState::new(&reader)
            .code(code_hash)
            .unwrap()
            .map(|c| c.original_bytes())
    );
    assert_eq!(snapshot(&LatestState::new(&memory)), snapshot(&head));
    assert!(matches!(
        HistoricalState::new(&reader, BLOCKS + 1),
        Err(StorageError::BlockNotAvailable { .. })
    ));
    assert!(matches!(
        HistoricalState::new(&memory, BLOCKS + 1),
        Err(StorageError::BlockNotAvailable { .. })
    ));
}

#[test]
fn calls_over_historical_state_see_that_blocks_balances() {
    let Chain {
        _dir,
        db,
        snapshots,
        ..
    } = chain();
    let reader = db.reader().unwrap();
    let holder = addr(2, 1);
    let slot = token::balance_slot(holder);
    for (number, expected) in (0u64..).zip(&snapshots) {
        let state = HistoricalState::new(&reader, number).unwrap();
        let outcome = call(
            &state,
            &block_env(number + 1),
            &ChainRules::new(CHAIN_ID, SpecId::PRAGUE),
            &CallRequest {
                to: Some(TOKEN),
                input: token::balance_of(holder),
                ..Default::default()
            },
            &StateOverrides::default(),
            &BlockOverrides::default(),
            &CallOptions::default(),
        )
        .unwrap();
        let CallOutcome::Success { output, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(U256::from_be_slice(&output), expected.token_slots[&slot]);
    }
}

#[test]
fn account_proofs_verify_against_the_head_state_root() {
    let Chain { _dir, db, .. } = chain();
    let reader = db.reader().unwrap();
    let head = reader.head_number().unwrap().unwrap();
    let root = reader.header(head).unwrap().unwrap().state_root;
    let slots: Vec<B256> = [
        token::balance_slot(addr(1, 0)),
        token::balance_slot(addr(2, 1)),
        token::total_supply_slot(),
        U256::from(987_654), // unset
    ]
    .into_iter()
    .map(B256::from)
    .collect();
    let absent = Address::repeat_byte(0xab);
    for address in [TOKEN, addr(1, 3), addr(2, 0), absent] {
        let asked: &[B256] = if address == TOKEN {
            &slots
        } else {
            &slots[..1]
        };
        let proof = account_proof(&reader, address, asked).unwrap();
        assert_eq!(
            proof.state_root, root,
            "the walk recomputes the stored root"
        );
        assert_eq!(proof.address, address);
        let expected = reader
            .account(address)
            .unwrap()
            .map(|a| (a.balance, a.nonce));
        assert_eq!(
            proof.account.map(|a| (a.balance, a.nonce)),
            expected,
            "{address}"
        );
        let leaf = proof.account.map(|a: TrieAccount| alloy_rlp::encode(a));
        verify_proof(
            root,
            Nibbles::unpack(keccak256(address)),
            leaf,
            &proof.account_proof,
        )
        .unwrap_or_else(|e| panic!("account proof of {address}: {e}"));
        assert!(!proof.account_proof.is_empty());
        assert_eq!(proof.storage_proofs.len(), asked.len());
        for (storage, slot) in proof.storage_proofs.iter().zip(asked) {
            assert_eq!(storage.key, *slot);
            assert_eq!(storage.value, reader.storage(address, *slot).unwrap());
            let value = (!storage.value.is_zero()).then(|| alloy_rlp::encode(storage.value));
            verify_proof(
                proof.storage_root(),
                Nibbles::unpack(keccak256(slot)),
                value,
                &storage.proof,
            )
            .unwrap_or_else(|e| panic!("storage proof of {address} slot {slot}: {e}"));
        }
        if address == TOKEN {
            assert_ne!(proof.storage_root(), EMPTY_ROOT_HASH);
            assert!(!proof.storage_proofs[0].value.is_zero());
            assert!(proof.storage_proofs[3].value.is_zero());
            assert!(!proof.storage_proofs[3].proof.is_empty());
        } else {
            assert_eq!(proof.storage_root(), EMPTY_ROOT_HASH);
        }
    }
    // A proof does not verify for another value.
    let proof = account_proof(&reader, addr(1, 3), &[]).unwrap();
    let mut wrong = proof.account.unwrap();
    wrong.balance += U256::from(1);
    assert!(
        verify_proof(
            root,
            Nibbles::unpack(keccak256(addr(1, 3))),
            Some(alloy_rlp::encode(wrong)),
            &proof.account_proof,
        )
        .is_err()
    );
}

#[test]
fn account_proofs_at_every_height_verify_against_that_blocks_state_root() {
    let Chain { _dir, db, .. } = chain();
    let reader = db.reader().unwrap();
    let slot = |s: U256| B256::from(s);
    let slots: Vec<B256> = [
        token::balance_slot(addr(1, 0)), // changed by the executed blocks
        token::balance_slot(addr(2, 1)), // set by a later block
        token::balance_slot(cleared_holder()), // cleared to zero by a later block
        token::balance_slot(addr(1, 199)), // never changed
        token::total_supply_slot(),
        U256::from(987_654), // never set
        U256::from(1),       // CREATED's, wiped later
        U256::from(3),       // EPHEMERAL's, destroyed later
        U256::from(7),       // CREATED's, set after the wipe
    ]
    .into_iter()
    .map(slot)
    .collect();
    let addresses = [
        TOKEN,
        addr(1, 0),   // a sender: changed
        addr(1, 1),   // a sender, and paying in the last block
        addr(1, 100), // never changed
        addr(2, 0),   // created by a transfer in a later block
        CREATED,
        EPHEMERAL,
        workloads::BENEFICIARY,
        Address::repeat_byte(0xab), // never exists
    ];
    // The chain does exercise what the proofs have to undo.
    let cleared = slots[2];
    assert!(
        !reader
            .storage_at(TOKEN, cleared, EXECUTED)
            .unwrap()
            .is_zero()
    );
    assert!(reader.storage(TOKEN, cleared).unwrap().is_zero());
    assert!(reader.account_at(CREATED, EXECUTED).unwrap().is_none());
    assert!(
        reader
            .account_at(EPHEMERAL, EXECUTED + 1)
            .unwrap()
            .is_some()
    );
    assert!(reader.account(EPHEMERAL).unwrap().is_none());
    assert!(reader.account_at(addr(2, 0), 0).unwrap().is_none());

    for number in 0..=BLOCKS {
        let root = reader.header(number).unwrap().unwrap().state_root;
        for address in addresses {
            let proof = account_proof_at(&reader, number, address, &slots)
                .unwrap_or_else(|e| panic!("block {number}, {address}: {e}"));
            let at = format!("block {number}, {address}");
            assert_eq!(proof.state_root, root, "{at}: the root of that block");
            assert_eq!(proof.address, address);
            let expected = reader.account_at(address, number).unwrap();
            assert_eq!(
                proof.account.map(|a| (a.balance, a.nonce, a.code_hash)),
                expected.map(|a| (a.balance, a.nonce, a.code_hash)),
                "{at}"
            );
            verify_proof(
                root,
                Nibbles::unpack(keccak256(address)),
                proof.account.map(alloy_rlp::encode),
                &proof.account_proof,
            )
            .unwrap_or_else(|e| panic!("{at}: account proof: {e}"));
            assert_eq!(proof.storage_proofs.len(), slots.len());
            for (storage, slot) in proof.storage_proofs.iter().zip(&slots) {
                assert_eq!(storage.key, *slot);
                let value = reader.storage_at(address, *slot, number).unwrap();
                assert_eq!(storage.value, value, "{at}, slot {slot}");
                verify_proof(
                    proof.storage_root(),
                    Nibbles::unpack(keccak256(slot)),
                    (!value.is_zero()).then(|| alloy_rlp::encode(value)),
                    &storage.proof,
                )
                .unwrap_or_else(|e| panic!("{at}, slot {slot}: storage proof: {e}"));
            }
            if number == BLOCKS {
                assert_eq!(proof, account_proof(&reader, address, &slots).unwrap());
            }
        }
    }

    // The overlay is empty at the head; too far back and after the head are errors.
    assert!(reverse_post_state(&reader, BLOCKS, 0).unwrap().is_empty());
    assert!(!reverse_post_state(&reader, 0, BLOCKS).unwrap().is_empty());
    let err = reverse_post_state(&reader, 0, BLOCKS - 1).unwrap_err();
    assert!(
        matches!(
            err,
            StateRootError::HistoryTooDeep {
                requested: 0,
                head: BLOCKS,
                max_blocks,
            } if max_blocks == BLOCKS - 1
        ),
        "{err}"
    );
    assert!(err.to_string().contains("proofs reach at most"), "{err}");
    assert!(matches!(
        account_proof_at(&reader, BLOCKS + 1, TOKEN, &[]),
        Err(StateRootError::Storage(
            StorageError::BlockNotAvailable { .. }
        ))
    ));
}
