//! The state the RPC reads from a database: a few blocks executed and committed to a temporary
//! MDBX database (with their state roots and trie nodes), then [`HistoricalState`] at every
//! height against what the state was right after that block was committed, calls over it,
//! and EIP-1186 proofs of the head state verified against the head header's state root.

#[path = "common/contracts.rs"]
mod contracts;
#[path = "common/workloads.rs"]
mod workloads;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount, proof::verify_proof};
use contracts::token;
use parallax_execution::{
    AccountState, Block, BlockExecutor, BlockOverrides, CallOptions, CallOutcome, CallRequest,
    ChainRules, DbState, HistoricalState, InMemoryState, SequentialExecutor, SpecId,
    StateOverrides, StateView, call,
    state_root::{DbTrieReader, HashedPostState, account_proof, state_root},
};
use parallax_storage::{BlockWrite, Database, StateChanges, StorageError};
use std::collections::BTreeMap;
use workloads::{CHAIN_ID, addr, block_env, eoa, ether, token_account};

const TOKEN: Address = Address::new([0x77; 20]);
const BLOCKS: u64 = 4;

fn eoas() -> Vec<Address> {
    (0..200).map(|i| addr(1, i)).collect()
}

/// Commits a block with `changes` onto the head, with its state root and trie nodes.
fn commit(db: &Database, number: u64, parent: B256, changes: StateChanges) -> B256 {
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
    } else {
        db.write_block(&block).unwrap();
    }
    block.hash
}

/// The addresses and token slots the tests look at.
fn tracked() -> (Vec<Address>, Vec<U256>) {
    let mut addresses: Vec<Address> = eoas().into_iter().take(8).collect();
    addresses.extend((0..8).map(|i| addr(2, i)));
    addresses.extend([TOKEN, workloads::BENEFICIARY, addr(3, 0)]);
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
    }
}

/// A database with a genesis (200 funded accounts and a token with 200 holders) and
/// [`BLOCKS`] executed blocks, and the snapshot of the state after each block.
fn chain() -> (tempfile::TempDir, Database, Vec<Snapshot>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut genesis = InMemoryState::new();
    let holders = eoas();
    for a in &holders {
        genesis.insert_account(*a, eoa(ether(100)));
    }
    genesis.insert_account(TOKEN, token_account(&holders, ether(1_000)));
    let mut parent = commit(&db, 0, B256::ZERO, genesis.to_changes());
    let mut snapshots = vec![snapshot(&DbState::new(&db.reader().unwrap()))];
    for number in 1..=BLOCKS {
        let block = block(number);
        let output = {
            let reader = db.reader().unwrap();
            SequentialExecutor
                .execute(&block, &DbState::new(&reader))
                .unwrap()
        };
        assert!(
            output.receipts.iter().all(|r| r.status()),
            "block {number}: every transaction succeeds"
        );
        parent = commit(&db, number, parent, output.state);
        snapshots.push(snapshot(&DbState::new(&db.reader().unwrap())));
    }
    (dir, db, snapshots)
}

#[test]
fn historical_state_is_the_state_after_each_block() {
    let (_dir, db, snapshots) = chain();
    // The blocks changed what is tracked, so the comparison means something.
    for pair in snapshots.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
    let reader = db.reader().unwrap();
    for (number, expected) in (0u64..).zip(&snapshots) {
        let state = HistoricalState::new(&reader, number).unwrap();
        assert_eq!(state.number(), number);
        assert_eq!(&snapshot(&state), expected, "after block {number}");
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
    assert_eq!(snapshot(&head), snapshot(&DbState::new(&reader)));
    let code_hash = keccak256(token::runtime_code());
    assert_eq!(
        head.code(code_hash).unwrap().map(|c| c.original_bytes()),
        DbState::new(&reader)
            .code(code_hash)
            .unwrap()
            .map(|c| c.original_bytes())
    );
    assert!(matches!(
        HistoricalState::new(&reader, BLOCKS + 1),
        Err(StorageError::BlockNotAvailable { .. })
    ));
}

#[test]
fn calls_over_historical_state_see_that_blocks_balances() {
    let (_dir, db, snapshots) = chain();
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
    let (_dir, db, _) = chain();
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
