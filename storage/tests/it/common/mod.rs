//! A deterministic test chain and an independent in-memory model of what the database must hold
//! after it.
//!
//! Block `n`'s content is a function of `n` alone (plus the parent hash): its transactions and
//! receipts, the accounts and slots it touches, self-destructs and re-creations, bytecodes, trie
//! nodes and its certificate. [`Model`] applies blocks with simple before/after diffs, written
//! separately from the storage code, and yields the exact expected content of every table.

// Each integration test uses a different subset of these helpers.
#![allow(dead_code)]

use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, Signed, TxEip1559, TxEnvelope, TxLegacy,
};
use alloy_primitives::{
    Address, B256, Bytes, KECCAK256_EMPTY, Log, LogData, Signature, TxKind, U256, keccak256,
};
use alloy_trie::{BranchNodeCompact, Nibbles};
use parallax_storage::{
    Account, BlockWrite, Database, StateChanges, StorageChanges, Tx, TxLocation, tables::*,
};
use std::collections::{BTreeMap, BTreeSet};

/// Accounts the chain touches.
pub(crate) const ACCOUNTS: u8 = 16;
/// Storage slots per account the chain touches.
pub(crate) const SLOTS: u8 = 8;

pub(crate) fn address(k: u8) -> Address {
    let mut bytes = [0x11u8; 20];
    bytes[19] = k;
    Address::from(bytes)
}

pub(crate) fn slot(s: u8) -> B256 {
    B256::with_last_byte(s)
}

fn code(k: u8) -> Bytes {
    // PUSH1 k PUSH1 0 SSTORE STOP
    Bytes::from(vec![0x60, k, 0x60, 0x00, 0x55, 0x00])
}

fn node(seed: u64) -> BranchNodeCompact {
    let hashes = vec![B256::from(U256::from(seed)), keccak256(seed.to_be_bytes())];
    BranchNodeCompact::new(
        0b1011,
        0b0001,
        0b1010,
        hashes,
        seed.is_multiple_of(2)
            .then(|| B256::repeat_byte(seed as u8)),
    )
}

fn path(n: u64) -> Nibbles {
    Nibbles::from_nibbles([(n % 16) as u8, ((n / 16) % 16) as u8])
}

/// Number of transactions in block `n`.
pub(crate) fn tx_count(n: u64) -> u32 {
    if n == 0 { 0 } else { (n % 4) as u32 }
}

fn transaction(n: u64, i: u32) -> TxEnvelope {
    let nonce = n * 4 + u64::from(i);
    let signature = Signature::new(
        U256::from(nonce + 1),
        U256::from(nonce + 2),
        nonce.is_multiple_of(2),
    );
    if i.is_multiple_of(2) {
        let tx = TxEip1559 {
            chain_id: 77,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: 20,
            max_priority_fee_per_gas: 2,
            to: TxKind::Call(address((i % 16) as u8)),
            value: U256::from(n),
            access_list: Default::default(),
            input: Bytes::from(n.to_be_bytes().to_vec()),
        };
        TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature))
    } else {
        let tx = TxLegacy {
            chain_id: Some(77),
            nonce,
            gas_price: 10,
            gas_limit: 21_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::from(vec![0x60, i as u8]),
        };
        TxEnvelope::Legacy(Signed::new_unhashed(tx, signature))
    }
}

fn receipt(n: u64, i: u32, tx: &TxEnvelope) -> ReceiptEnvelope {
    let logs = (0..i % 3)
        .map(|l| Log {
            address: address(l as u8),
            data: LogData::new_unchecked(
                vec![B256::from(U256::from(n)), B256::with_last_byte(l as u8)],
                Bytes::from(vec![l as u8; (n % 5) as usize]),
            ),
        })
        .collect();
    let receipt = Receipt {
        status: Eip658Value::Eip658(!(n + u64::from(i)).is_multiple_of(5)),
        cumulative_gas_used: 21_000 * u64::from(i + 1),
        logs,
    };
    ReceiptEnvelope::from_typed(tx.tx_type(), receipt.with_bloom())
}

/// The state changes of block `n`.
fn state_changes(n: u64) -> StateChanges {
    let mut changes = StateChanges::default();
    if n == 0 {
        for k in 0..8 {
            let account = Account {
                nonce: 0,
                balance: U256::from(10u64.pow(18)) * U256::from(k + 1),
                code_hash: KECCAK256_EMPTY,
            };
            changes.accounts.insert(address(k), Some(account));
        }
        for k in 0..4 {
            let slots = (0..3)
                .map(|s| (slot(s), U256::from(u64::from(k) * 100 + u64::from(s) + 1)))
                .collect();
            changes.storage.insert(
                address(k),
                StorageChanges {
                    wiped: false,
                    slots,
                },
            );
        }
        return changes;
    }

    let touched = [(n % 16) as u8, ((n * 7 + 3) % 16) as u8];
    for k in touched {
        let code_hash = if k % 4 == 0 {
            let code = code(k);
            let hash = keccak256(&code);
            changes.bytecodes.insert(hash, code);
            hash
        } else {
            KECCAK256_EMPTY
        };
        let account = Account {
            nonce: n,
            balance: U256::from(n * 1000 + u64::from(k)),
            code_hash,
        };
        changes.accounts.insert(address(k), Some(account));
        let storage = changes.storage.entry(address(k)).or_default();
        storage
            .slots
            .insert(slot((n % 5) as u8), U256::from(n * 10 + 1));
        let cleared = if n.is_multiple_of(4) {
            U256::ZERO
        } else {
            U256::from(n * 10 + 2)
        };
        storage.slots.insert(slot(((n * 3) % 7) as u8), cleared);
    }
    // Self-destruct: the account and all its storage go.
    if n % 10 == 7 {
        let k = ((n / 10) % 16) as u8;
        changes.accounts.insert(address(k), None);
        changes.storage.remove(&address(k));
    }
    // Destroyed and re-created in the same block: storage starts from scratch.
    if n % 13 == 5 {
        let k = ((n * 3 + 1) % 16) as u8;
        let account = Account {
            nonce: 1,
            balance: U256::from(n),
            code_hash: KECCAK256_EMPTY,
        };
        changes.accounts.insert(address(k), Some(account));
        let slots = [(slot(7), U256::from(n + 1))].into_iter().collect();
        changes
            .storage
            .insert(address(k), StorageChanges { wiped: true, slots });
    }
    changes
}

/// Block `n` with parent `parent_hash`.
pub(crate) fn make_block(n: u64, parent_hash: B256) -> BlockWrite {
    let transactions: Vec<_> = (0..tx_count(n)).map(|i| transaction(n, i)).collect();
    let receipts: Vec<_> = transactions
        .iter()
        .zip(0..)
        .map(|(tx, i)| receipt(n, i, tx))
        .collect();
    let state = state_changes(n);
    let mut block = BlockWrite::new(Header {
        number: n,
        parent_hash,
        beneficiary: address(15),
        state_root: keccak256(n.to_be_bytes()),
        gas_limit: 30_000_000,
        gas_used: receipts.last().map_or(0, |r| r.cumulative_gas_used()),
        timestamp: 1_700_000_000 + n,
        base_fee_per_gas: Some(7),
        ..Default::default()
    });
    block.transactions = transactions;
    block.receipts = receipts;
    block.trie.account_nodes.insert(path(n), Some(node(n)));
    if n.is_multiple_of(3) && n > 0 {
        block.trie.account_nodes.insert(path(n - 1), None);
    }
    for (address, storage) in &state.storage {
        let nodes = block
            .trie
            .storage_nodes
            .entry(keccak256(address))
            .or_default();
        nodes.insert(path(n % 4), Some(node(n + 1000)));
        if !storage.wiped && n.is_multiple_of(5) {
            nodes.insert(path((n + 1) % 4), None);
        }
    }
    block.state = state;
    block.certificate = Some(Bytes::from([b"cert".as_slice(), &n.to_be_bytes()].concat()));
    block
}

/// The chain's blocks, built in order (each needs its parent's hash).
#[derive(Default)]
pub(crate) struct Chain {
    blocks: Vec<BlockWrite>,
}

impl Chain {
    pub(crate) fn block(&mut self, n: u64) -> &BlockWrite {
        while self.blocks.len() as u64 <= n {
            let next = self.blocks.len() as u64;
            let parent = self.blocks.last().map_or(B256::ZERO, |b| b.hash);
            self.blocks.push(make_block(next, parent));
        }
        &self.blocks[n as usize]
    }

    /// Blocks `0..=head`.
    pub(crate) fn blocks(&mut self, head: u64) -> &[BlockWrite] {
        self.block(head);
        &self.blocks[..=head as usize]
    }
}

/// What the state and index tables must hold after some blocks.
#[derive(Default, Clone, Debug, PartialEq)]
pub(crate) struct Model {
    pub(crate) accounts: BTreeMap<Address, Account>,
    pub(crate) storage: BTreeMap<(Address, B256), U256>,
    pub(crate) bytecodes: BTreeMap<B256, Bytes>,
    pub(crate) account_changes: BTreeMap<(u64, Address), Option<Account>>,
    pub(crate) storage_changes: BTreeMap<(u64, Address, B256), U256>,
    pub(crate) account_nodes: BTreeMap<Nibbles, BranchNodeCompact>,
    pub(crate) storage_nodes: BTreeMap<(B256, Nibbles), BranchNodeCompact>,
}

impl Model {
    /// The model after blocks `0..=head` of `chain`.
    pub(crate) fn after(chain: &mut Chain, head: u64) -> Self {
        let mut model = Self::default();
        for block in chain.blocks(head) {
            model.apply(block);
        }
        model
    }

    fn slots_of(&self, address: Address) -> BTreeMap<B256, U256> {
        self.storage
            .iter()
            .filter(|((a, _), _)| *a == address)
            .map(|((_, s), v)| (*s, *v))
            .collect()
    }

    pub(crate) fn apply(&mut self, block: &BlockWrite) {
        let n = block.header.number;
        let changes = &block.state;
        for (address, new) in &changes.accounts {
            let old = self.accounts.get(address).copied();
            if old != *new {
                self.account_changes.insert((n, *address), old);
                match new {
                    Some(account) => self.accounts.insert(*address, *account),
                    None => self.accounts.remove(address),
                };
            }
        }
        let touched: BTreeSet<Address> = changes
            .accounts
            .keys()
            .chain(changes.storage.keys())
            .copied()
            .collect();
        for address in touched {
            let before = self.slots_of(address);
            let destroyed = changes.accounts.get(&address) == Some(&None);
            let update = changes.storage.get(&address);
            let mut after = before.clone();
            if destroyed || update.is_some_and(|u| u.wiped) {
                after.clear();
                let hashed = keccak256(address);
                self.storage_nodes.retain(|(h, _), _| *h != hashed);
            }
            for (slot, value) in update.into_iter().flat_map(|u| &u.slots) {
                after.insert(*slot, *value);
            }
            after.retain(|_, v| !v.is_zero());
            let slots: BTreeSet<B256> = before.keys().chain(after.keys()).copied().collect();
            for slot in slots {
                let old = before.get(&slot).copied().unwrap_or_default();
                let new = after.get(&slot).copied().unwrap_or_default();
                if old != new {
                    self.storage_changes.insert((n, address, slot), old);
                    if new.is_zero() {
                        self.storage.remove(&(address, slot));
                    } else {
                        self.storage.insert((address, slot), new);
                    }
                }
            }
        }
        self.bytecodes.extend(changes.bytecodes.clone());
        for (path, node) in &block.trie.account_nodes {
            match node {
                Some(node) => self.account_nodes.insert(*path, node.clone()),
                None => self.account_nodes.remove(path),
            };
        }
        for (hashed, nodes) in &block.trie.storage_nodes {
            for (path, node) in nodes {
                match node {
                    Some(node) => self.storage_nodes.insert((*hashed, *path), node.clone()),
                    None => self.storage_nodes.remove(&(*hashed, *path)),
                };
            }
        }
    }
}

/// Every entry of table `T`, in key order.
pub(crate) fn table<T, K>(tx: &Tx<'_, K>) -> Vec<(T::Key, T::Value)>
where
    T: Table,
    K: parallax_storage::TransactionKind,
{
    let mut cursor = tx.cursor::<T>().unwrap();
    cursor.walk(None).collect::<Result<_, _>>().unwrap()
}

/// Asserts that every table holds exactly what blocks `0..=head` of `chain` put there.
pub(crate) fn assert_database_matches(db: &Database, chain: &mut Chain, head: u64) {
    let reader = db.reader().unwrap();
    let blocks = chain.blocks(head).to_vec();
    let tip = blocks.last().unwrap();
    let stored_head = reader.head().unwrap().expect("database has a head");
    assert_eq!(
        (stored_head.number, stored_head.hash),
        (head, tip.hash),
        "head pointer"
    );

    // Block tables: exactly blocks 0..=head.
    let canonical: Vec<_> = blocks.iter().map(|b| (b.header.number, b.hash)).collect();
    assert_eq!(
        table::<CanonicalHeaders, _>(&reader),
        canonical,
        "CanonicalHeaders"
    );
    let numbers: BTreeMap<_, _> = blocks.iter().map(|b| (b.hash, b.header.number)).collect();
    assert_eq!(
        table::<HeaderNumbers, _>(&reader),
        numbers.into_iter().collect::<Vec<_>>()
    );
    let headers: Vec<_> = blocks
        .iter()
        .map(|b| (b.header.number, b.header.clone()))
        .collect();
    assert_eq!(table::<Headers, _>(&reader), headers, "Headers");
    let bodies: Vec<_> = table::<BlockBodies, _>(&reader)
        .into_iter()
        .map(|(n, body)| (n, body.tx_count))
        .collect();
    let expected: Vec<_> = blocks
        .iter()
        .map(|b| (b.header.number, tx_count(b.header.number)))
        .collect();
    assert_eq!(bodies, expected, "BlockBodies");
    let mut txs = Vec::new();
    let mut receipts = Vec::new();
    let mut lookup = BTreeMap::new();
    for block in &blocks {
        let n = block.header.number;
        for (i, (tx, receipt)) in (0u32..).zip(block.transactions.iter().zip(&block.receipts)) {
            txs.push(((n, i), tx.clone()));
            receipts.push(((n, i), receipt.clone()));
            lookup.insert(
                *tx.tx_hash(),
                TxLocation {
                    block_number: n,
                    index: i,
                },
            );
        }
    }
    assert_eq!(table::<Transactions, _>(&reader), txs, "Transactions");
    assert_eq!(table::<Receipts, _>(&reader), receipts, "Receipts");
    assert_eq!(
        table::<TransactionLookup, _>(&reader),
        lookup.into_iter().collect::<Vec<_>>()
    );
    let certificates: Vec<_> = blocks
        .iter()
        .map(|b| (b.header.number, b.certificate.clone().unwrap()))
        .collect();
    assert_eq!(
        table::<BlockCertificates, _>(&reader),
        certificates,
        "BlockCertificates"
    );

    // State, changesets and history.
    let model = Model::after(chain, head);
    assert_eq!(
        table::<PlainAccounts, _>(&reader),
        model.accounts.clone().into_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        table::<PlainStorage, _>(&reader),
        model.storage.clone().into_iter().collect::<Vec<_>>()
    );
    let hashed_accounts: BTreeMap<_, _> = model
        .accounts
        .iter()
        .map(|(a, acc)| (keccak256(a), *acc))
        .collect();
    assert_eq!(
        table::<HashedAccounts, _>(&reader),
        hashed_accounts.into_iter().collect::<Vec<_>>()
    );
    let hashed_storage: BTreeMap<_, _> = model
        .storage
        .iter()
        .map(|((a, s), v)| ((keccak256(a), keccak256(s)), *v))
        .collect();
    assert_eq!(
        table::<HashedStorages, _>(&reader),
        hashed_storage.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        table::<Bytecodes, _>(&reader),
        model.bytecodes.clone().into_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        table::<AccountChangeSets, _>(&reader),
        model
            .account_changes
            .clone()
            .into_iter()
            .collect::<Vec<_>>(),
        "AccountChangeSets"
    );
    assert_eq!(
        table::<StorageChangeSets, _>(&reader),
        model
            .storage_changes
            .clone()
            .into_iter()
            .collect::<Vec<_>>(),
        "StorageChangeSets"
    );
    let account_history: BTreeSet<_> = model
        .account_changes
        .keys()
        .map(|(n, a)| (*a, *n))
        .collect();
    let stored: Vec<_> = table::<AccountHistory, _>(&reader)
        .into_iter()
        .map(|(k, ())| k)
        .collect();
    assert_eq!(
        stored,
        account_history.into_iter().collect::<Vec<_>>(),
        "AccountHistory"
    );
    let storage_history: BTreeSet<_> = model
        .storage_changes
        .keys()
        .map(|(n, a, s)| (*a, *s, *n))
        .collect();
    let stored: Vec<_> = table::<StorageHistory, _>(&reader)
        .into_iter()
        .map(|(k, ())| k)
        .collect();
    assert_eq!(
        stored,
        storage_history.into_iter().collect::<Vec<_>>(),
        "StorageHistory"
    );
    assert_eq!(
        table::<AccountsTrie, _>(&reader),
        model.account_nodes.clone().into_iter().collect::<Vec<_>>(),
        "AccountsTrie"
    );
    assert_eq!(
        table::<StoragesTrie, _>(&reader),
        model.storage_nodes.clone().into_iter().collect::<Vec<_>>(),
        "StoragesTrie"
    );
}

/// Asserts that `account_at`/`storage_at` at block `at` return the state after `at`.
pub(crate) fn assert_history_matches<K: parallax_storage::TransactionKind>(
    reader: &Tx<'_, K>,
    chain: &mut Chain,
    at: u64,
) {
    let model = Model::after(chain, at);
    for k in 0..ACCOUNTS {
        let address = address(k);
        assert_eq!(
            reader.account_at(address, at).unwrap(),
            model.accounts.get(&address).copied(),
            "account {k} after block {at}"
        );
        for s in 0..SLOTS {
            assert_eq!(
                reader.storage_at(address, slot(s), at).unwrap(),
                model
                    .storage
                    .get(&(address, slot(s)))
                    .copied()
                    .unwrap_or_default(),
                "slot {s} of account {k} after block {at}"
            );
        }
    }
}
