//! Synthetic blocks for benchmarks and differential tests: a pre-state written directly
//! (accounts, contract code and storage as the Solidity contracts lay it out) and a block of
//! transactions against it. Included next to `contracts.rs` (as
//! `crate::workloads` in `tests/it`, by `#[path]` in the benchmarks).
#![allow(dead_code)]

use super::contracts::{pool, token};
use alloy_consensus::{TxEip1559, TxLegacy, TypedTransaction};
use alloy_primitives::{Address, Bytes, TxKind, U256, map::HashMap};
use parallax_execution::{
    Block, BlockEnv, ChainRules, InMemoryAccount, InMemoryState, SpecId, Transaction,
};

/// Chain id of the synthetic blocks.
pub(crate) const CHAIN_ID: u64 = 7_357;
/// The beneficiary of the synthetic blocks.
pub(crate) const BENEFICIARY: Address = Address::new([0xbe; 20]);
/// Base fee of the synthetic blocks.
pub(crate) const BASE_FEE: u64 = 7;

/// A deterministic, distinct address for index `i` in namespace `ns`.
pub(crate) fn addr(ns: u8, i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = ns;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::new(bytes)
}

/// One ether.
pub(crate) fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A block environment at the latest rules.
pub(crate) fn block_env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number * 2,
        beneficiary: BENEFICIARY,
        gas_limit: 1_000_000_000,
        base_fee: Some(BASE_FEE),
        difficulty: U256::ZERO,
        prevrandao: Some(alloy_primitives::B256::with_last_byte(7)),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: None,
        parent_hash: None,
    }
}

/// A block of `transactions` under `spec`.
pub(crate) fn block(spec: SpecId, transactions: Vec<Transaction>) -> Block {
    Block {
        env: block_env(1),
        rules: ChainRules::new(CHAIN_ID, spec),
        transactions,
        withdrawals: Vec::new(),
        deposits: None,
    }
}

/// An EIP-1559 call (or create, with `to == None`) from `from`.
pub(crate) fn call(
    from: Address,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> Transaction {
    let tx = TypedTransaction::Eip1559(TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 20,
        max_priority_fee_per_gas: 3,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value,
        access_list: Default::default(),
        input,
    });
    Transaction::unsigned(&tx, from)
}

/// A legacy transaction (for forks before EIP-1559).
pub(crate) fn legacy_call(
    from: Address,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> Transaction {
    let tx = TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 20,
        gas_limit,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value,
        input,
    });
    Transaction::unsigned(&tx, from)
}

/// An externally owned account with `balance`.
pub(crate) fn eoa(balance: U256) -> InMemoryAccount {
    InMemoryAccount {
        balance,
        ..Default::default()
    }
}

/// A contract account.
pub(crate) fn contract(code: Bytes, storage: Vec<(U256, U256)>) -> InMemoryAccount {
    InMemoryAccount {
        code,
        storage: storage.into_iter().collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

/// `n` independent ETH transfers: distinct senders to distinct recipients.
pub(crate) fn eth_transfers(n: u64) -> (Block, InMemoryState) {
    let mut state = InMemoryState::new();
    let mut txs = Vec::new();
    for i in 0..n {
        state.insert_account(addr(1, i), eoa(ether(100)));
        txs.push(call(
            addr(1, i),
            0,
            Some(addr(2, i)),
            U256::from(1_000 + i),
            Bytes::new(),
            21_000,
        ));
    }
    (block(SpecId::PRAGUE, txs), state)
}

/// A token with `holders` each holding `amount`, deployed at `at`.
pub(crate) fn token_account(holders: &[Address], amount: U256) -> InMemoryAccount {
    let balances: Vec<(Address, U256)> = holders.iter().map(|h| (*h, amount)).collect();
    contract(
        token::runtime_code(),
        token::prestate_storage("Token", "TKN", &balances, &[]),
    )
}

/// `n` independent ERC-20 transfers on one token: distinct senders to distinct recipients.
pub(crate) fn erc20_transfers(n: u64) -> (Block, InMemoryState) {
    let token_address = addr(9, 0);
    let senders: Vec<Address> = (0..n).map(|i| addr(1, i)).collect();
    let mut state = InMemoryState::new();
    state.insert_account(token_address, token_account(&senders, ether(1_000)));
    let mut txs = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        state.insert_account(*sender, eoa(ether(1)));
        txs.push(call(
            *sender,
            0,
            Some(token_address),
            U256::ZERO,
            token::transfer(addr(2, i as u64), U256::from(10 + i)),
            100_000,
        ));
    }
    (block(SpecId::PRAGUE, txs), state)
}

/// `pools` constant-product pools, each with its own pair of tokens, and `swaps` swaps by
/// distinct traders spread round-robin over them. With `pools == 1` every swap hits the
/// same pool: the fully contended block.
pub(crate) fn swaps(pools: u64, swaps: u64) -> (Block, InMemoryState) {
    let mut state = InMemoryState::new();
    let traders: Vec<Address> = (0..swaps).map(|i| addr(1, i)).collect();
    for p in 0..pools {
        let pool_address = addr(10, p);
        let token0 = addr(11, p);
        let token1 = addr(12, p);
        let reserve = ether(1_000_000);
        let holders: Vec<Address> = traders
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 % pools == p)
            .map(|(_, t)| *t)
            .collect();
        let mut balances0: Vec<(Address, U256)> =
            holders.iter().map(|h| (*h, ether(1_000))).collect();
        balances0.push((pool_address, reserve));
        let allowances: Vec<(Address, Address, U256)> = holders
            .iter()
            .map(|h| (*h, pool_address, U256::MAX))
            .collect();
        state.insert_account(
            token0,
            contract(
                token::runtime_code(),
                token::prestate_storage("Zero", "T0", &balances0, &allowances),
            ),
        );
        state.insert_account(
            token1,
            contract(
                token::runtime_code(),
                token::prestate_storage("One", "T1", &[(pool_address, reserve)], &[]),
            ),
        );
        state.insert_account(
            pool_address,
            contract(
                pool::runtime_code(),
                pool::prestate_storage(token0, token1, reserve, reserve),
            ),
        );
    }
    let mut txs = Vec::new();
    for (i, trader) in traders.iter().enumerate() {
        state.insert_account(*trader, eoa(ether(1)));
        let p = i as u64 % pools;
        txs.push(call(
            *trader,
            0,
            Some(addr(10, p)),
            U256::ZERO,
            pool::swap(ether(1), true, U256::from(1), *trader),
            200_000,
        ));
    }
    (block(SpecId::PRAGUE, txs), state)
}
