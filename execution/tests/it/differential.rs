//! Differential property tests: on generated blocks mixing independent and conflicting ETH
//! transfers, ERC-20 transfers, contract deployments, reverts, storage-write conflicts,
//! nonce gaps, self-destruct and re-creation at the same address, payments to and from the
//! beneficiary, the parallel executor must return exactly what the sequential one returns
//! (the same output, or the same error) on 1, 2 and 8 threads, every time.

use crate::contracts;
use crate::workloads;

use alloy_primitives::{Address, B256, Bytes, U256};
use contracts::{child, factory, token};
use parallax_execution::{
    BlockExecutor, InMemoryState, ParallelExecutor, SequentialExecutor, SpecId, Transaction,
};
use proptest::prelude::*;
use workloads::{BENEFICIARY, addr, call, contract, eoa, ether};

const USERS: u64 = 8;
const FUNDED: u64 = 6;

fn user(i: u64) -> Address {
    addr(1, i % USERS)
}

fn token_address() -> Address {
    addr(9, 0)
}

fn factory_address() -> Address {
    addr(9, 1)
}

/// One generated operation.
#[derive(Debug, Clone)]
enum Op {
    /// ETH to another user, the beneficiary or a contract.
    Eth { from: u64, to: u64, value: u64 },
    /// ERC-20 transfer (may exceed the balance and revert).
    Erc20 { from: u64, to: u64, amount: u64 },
    /// Deploys a new token with CREATE.
    Deploy { from: u64 },
    /// A call that always reverts.
    Revert { from: u64 },
    /// Writes `count` factory slots from `start`: conflicting storage writes.
    WriteSlots {
        from: u64,
        start: u64,
        count: u64,
        value: u64,
    },
    /// CREATE2 a child at salt `salt` (reverts if it exists).
    Create2 { from: u64, salt: u8, value: u64 },
    /// CREATE2 a child and self-destruct it in the same transaction.
    CreateAndDestroy { from: u64, salt: u8, to: u64 },
    /// Self-destruct an existing child (after EIP-6780 it only moves the balance).
    Destroy { from: u64, salt: u8, to: u64 },
    /// Writes a child's storage.
    SetChild { from: u64, salt: u8, value: u64 },
    /// Burns gas (runs out of gas when asked for more than the limit).
    BurnGas { from: u64, amount: u64 },
    /// The beneficiary sends ETH (reads the fees accumulated lazily so far).
    FromBeneficiary { to: u64, value: u64 },
    /// Skips a nonce: the sender's next transaction is invalid.
    NonceGap { from: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let from = 0..USERS;
    prop_oneof![
        24 => (from.clone(), 0..USERS + 3, 0..5_000u64).prop_map(|(from, to, value)| Op::Eth { from, to, value }),
        24 => (from.clone(), 0..USERS, 0..2_000u64).prop_map(|(from, to, amount)| Op::Erc20 { from, to, amount }),
        4 => from.clone().prop_map(|from| Op::Deploy { from }),
        4 => from.clone().prop_map(|from| Op::Revert { from }),
        12 => (from.clone(), 0..4u64, 1..4u64, 0..3u64).prop_map(|(from, start, count, value)| Op::WriteSlots { from, start, count, value }),
        8 => (from.clone(), 0..3u8, 0..3u64).prop_map(|(from, salt, value)| Op::Create2 { from, salt, value }),
        8 => (from.clone(), 0..3u8, 0..USERS).prop_map(|(from, salt, to)| Op::CreateAndDestroy { from, salt, to }),
        8 => (from.clone(), 0..3u8, 0..USERS).prop_map(|(from, salt, to)| Op::Destroy { from, salt, to }),
        8 => (from.clone(), 0..3u8, 0..3u64).prop_map(|(from, salt, value)| Op::SetChild { from, salt, value }),
        4 => (from.clone(), 0..300_000u64).prop_map(|(from, amount)| Op::BurnGas { from, amount }),
        4 => (0..USERS, 1..1_000u64).prop_map(|(to, value)| Op::FromBeneficiary { to, value }),
        1 => from.prop_map(|from| Op::NonceGap { from }),
    ]
}

/// Few senders, one token, a handful of slots: nearly every transaction conflicts.
fn contended_ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            (0..3u64, 0..3u64, 1..500u64).prop_map(|(from, to, amount)| Op::Erc20 {
                from,
                to,
                amount
            }),
            (0..3u64, 0..2u64, 1..2u64, 0..3u64).prop_map(|(from, start, count, value)| {
                Op::WriteSlots {
                    from,
                    start,
                    count,
                    value,
                }
            }),
            (0..3u64, 0..3u64, 1..100u64).prop_map(|(from, to, value)| Op::Eth { from, to, value }),
        ],
        16..64,
    )
}

fn salt(s: u8) -> B256 {
    B256::with_last_byte(s + 1)
}

fn state() -> InMemoryState {
    let mut state = InMemoryState::new();
    // Every user has ether; only the first FUNDED hold tokens.
    for u in 0..USERS {
        state.insert_account(user(u), eoa(ether(100)));
    }
    let holders: Vec<Address> = (0..FUNDED).map(user).collect();
    state.insert_account(BENEFICIARY, eoa(ether(1)));
    state.insert_account(
        token_address(),
        workloads::token_account(&holders, U256::from(1_000)),
    );
    state.insert_account(
        factory_address(),
        contract(factory::runtime_code(), Vec::new()),
    );
    // One child exists before the block, so destroying and re-creating it is exercised.
    let existing = factory::child_address_of(factory_address(), salt(0));
    state.insert_account(
        existing,
        contract(
            child::runtime_code(),
            child::prestate_storage(factory_address(), U256::from(5)),
        ),
    );
    state
}

fn build(ops: &[Op], spec: SpecId) -> Vec<Transaction> {
    let nonces = std::cell::RefCell::new([0u64; USERS as usize + 1]);
    let mut txs = Vec::new();
    let beneficiary_slot = USERS as usize;
    let mut push =
        |from: Address, slot: usize, to: Option<Address>, value: U256, input: Bytes, gas: u64| {
            let nonce = nonces.borrow()[slot];
            nonces.borrow_mut()[slot] += 1;
            txs.push(if spec.is_enabled_in(SpecId::LONDON) {
                call(from, nonce, to, value, input, gas)
            } else {
                workloads::legacy_call(from, nonce, to, value, input, gas)
            });
        };
    for op in ops {
        match op.clone() {
            Op::Eth { from, to, value } => {
                let to = match to {
                    t if t < USERS => user(t),
                    t if t == USERS => BENEFICIARY,
                    t if t == USERS + 1 => token_address(),
                    _ => factory_address(),
                };
                push(
                    user(from),
                    from as usize,
                    Some(to),
                    U256::from(value),
                    Bytes::new(),
                    60_000,
                );
            }
            Op::Erc20 { from, to, amount } => push(
                user(from),
                from as usize,
                Some(token_address()),
                U256::ZERO,
                token::transfer(user(to), U256::from(amount)),
                120_000,
            ),
            Op::Deploy { from } => push(
                user(from),
                from as usize,
                None,
                U256::ZERO,
                token::deploy_code("New", "NEW", user(from), U256::from(77)),
                1_500_000,
            ),
            Op::Revert { from } => push(
                user(from),
                from as usize,
                Some(factory_address()),
                U256::ZERO,
                factory::always_revert(),
                100_000,
            ),
            Op::WriteSlots {
                from,
                start,
                count,
                value,
            } => push(
                user(from),
                from as usize,
                Some(factory_address()),
                U256::ZERO,
                factory::write_slots(U256::from(start), U256::from(count), U256::from(value)),
                200_000,
            ),
            Op::Create2 {
                from,
                salt: s,
                value,
            } => push(
                user(from),
                from as usize,
                Some(factory_address()),
                U256::from(value),
                factory::deploy(salt(s)),
                400_000,
            ),
            Op::CreateAndDestroy { from, salt: s, to } => push(
                user(from),
                from as usize,
                Some(factory_address()),
                U256::ZERO,
                factory::deploy_and_destroy(salt(s), user(to)),
                400_000,
            ),
            Op::Destroy { from, salt: s, to } => push(
                user(from),
                from as usize,
                Some(factory::child_address_of(factory_address(), salt(s))),
                U256::ZERO,
                child::destroy(user(to)),
                100_000,
            ),
            Op::SetChild {
                from,
                salt: s,
                value,
            } => push(
                user(from),
                from as usize,
                Some(factory::child_address_of(factory_address(), salt(s))),
                U256::ZERO,
                child::set(U256::from(value)),
                100_000,
            ),
            Op::BurnGas { from, amount } => push(
                user(from),
                from as usize,
                Some(factory_address()),
                U256::ZERO,
                factory::burn_gas(U256::from(amount)),
                150_000,
            ),
            Op::FromBeneficiary { to, value } => push(
                BENEFICIARY,
                beneficiary_slot,
                Some(user(to)),
                U256::from(value),
                Bytes::new(),
                21_000,
            ),
            Op::NonceGap { from } => nonces.borrow_mut()[from as usize] += 1,
        }
    }
    txs
}

fn check(ops: &[Op], spec: SpecId) -> Result<(), TestCaseError> {
    let block = workloads::block(spec, build(ops, spec));
    let state = state();
    let sequential = SequentialExecutor.execute(&block, &state);
    for threads in [1, 2, 8] {
        // The pure Block-STM machinery, whatever the block's size and shape...
        let speculative = ParallelExecutor::new(threads)
            .speculation_only()
            .execute(&block, &state);
        prop_assert_eq!(
            &speculative,
            &sequential,
            "speculative execution on {} threads differs (spec {:?})",
            threads,
            spec
        );
        // ...and the executor as shipped (sequential schedule for small or single-sender
        // blocks, sender-chain dependencies, hand-off under contention).
        let parallel = ParallelExecutor::new(threads).execute(&block, &state);
        prop_assert_eq!(
            &parallel,
            &sequential,
            "parallel on {} threads differs (spec {:?})",
            threads,
            spec
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn parallel_equals_sequential_on_mixed_blocks(
        ops in prop::collection::vec(op(), 1..48),
        spec in prop_oneof![Just(SpecId::CANCUN), Just(SpecId::PRAGUE), Just(SpecId::OSAKA)],
    ) {
        check(&ops, spec)?;
    }

    #[test]
    fn parallel_equals_sequential_under_heavy_contention(ops in contended_ops()) {
        check(&ops, SpecId::PRAGUE)?;
    }
}

#[test]
fn contended_and_single_sender_blocks_equal_sequential() {
    // Blocks that trigger the hand-off (every swap on one pool) and the sender-chain
    // schedule (one sender's transfers), with and without the heuristics, repeatedly.
    let (swaps, swap_state) = workloads::swaps(1, 300);
    let senders: Vec<Transaction> = (0..200)
        .map(|i| {
            call(
                user(0),
                i,
                Some(user(1 + i % 5)),
                U256::from(1 + i),
                Bytes::new(),
                21_000,
            )
        })
        .collect();
    let chain = workloads::block(SpecId::PRAGUE, senders);
    for (block, state) in [(&swaps, &swap_state), (&chain, &state())] {
        let sequential = SequentialExecutor
            .execute(block, state)
            .expect("valid block");
        for _ in 0..3 {
            for executor in [
                ParallelExecutor::new(2),
                ParallelExecutor::new(2).speculation_only(),
                ParallelExecutor::new(8),
            ] {
                assert_eq!(
                    executor.execute(block, state).expect("valid block"),
                    sequential
                );
            }
        }
    }
}

#[test]
fn consecutive_blocks_leave_the_state_one_block_would() {
    // `InMemoryState::apply` carries a block's changes into the next block's state: running
    // a block's transactions as two consecutive blocks (same header fields, so the same fees)
    // must leave exactly the state of running them as one — including contracts created,
    // destroyed and re-created, and storage wiped along the way.
    let ops = vec![
        Op::Erc20 {
            from: 0,
            to: 6,
            amount: 40,
        },
        Op::Create2 {
            from: 1,
            salt: 1,
            value: 2,
        },
        Op::SetChild {
            from: 2,
            salt: 1,
            value: 9,
        },
        Op::WriteSlots {
            from: 3,
            start: 0,
            count: 3,
            value: 1,
        },
        Op::Deploy { from: 4 },
        Op::Eth {
            from: 5,
            to: 7,
            value: 500,
        },
        Op::CreateAndDestroy {
            from: 0,
            salt: 2,
            to: 1,
        },
        Op::Destroy {
            from: 1,
            salt: 0,
            to: 2,
        },
        Op::Erc20 {
            from: 6,
            to: 0,
            amount: 30,
        },
        Op::WriteSlots {
            from: 2,
            start: 1,
            count: 2,
            value: 0,
        },
        Op::Create2 {
            from: 3,
            salt: 2,
            value: 0,
        },
        Op::Eth {
            from: 7,
            to: USERS,
            value: 9,
        },
    ];
    let txs = build(&ops, SpecId::PRAGUE);
    let (first, second) = txs.split_at(txs.len() / 2);
    let executor = ParallelExecutor::new(2).speculation_only();

    let mut one = state();
    let whole = workloads::block(SpecId::PRAGUE, txs.clone());
    let out = executor.execute(&whole, &one).expect("valid block");
    assert!(out.receipts.iter().all(alloy_consensus::TxReceipt::status));
    one.apply(&out.state);

    let mut two = state();
    for part in [first, second] {
        let block = workloads::block(SpecId::PRAGUE, part.to_vec());
        let out = executor.execute(&block, &two).expect("valid block");
        two.apply(&out.state);
    }
    assert_eq!(one, two);
    assert_ne!(one, state(), "the blocks changed the state");
}

#[test]
fn most_generated_blocks_are_valid() {
    // The property is only as strong as the blocks it sees: most must execute (a nonce gap
    // invalidates a whole block), with both successful and failed transactions.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(op(), 1..48);
    let (mut valid, mut failed_txs, mut ok_txs) = (0, 0, 0);
    for _ in 0..200 {
        let ops = strategy.new_tree(&mut runner).expect("generates").current();
        let block = workloads::block(SpecId::PRAGUE, build(&ops, SpecId::PRAGUE));
        if let Ok(out) = SequentialExecutor.execute(&block, &state()) {
            valid += 1;
            for r in &out.receipts {
                if alloy_consensus::TxReceipt::status(r) {
                    ok_txs += 1;
                } else {
                    failed_txs += 1;
                }
            }
        }
    }
    assert!(
        valid >= 120,
        "only {valid} of 200 generated blocks are valid"
    );
    assert!(
        ok_txs > 1_000 && failed_txs > 100,
        "{ok_txs} successful, {failed_txs} failed"
    );
}

#[test]
fn outputs_are_not_trivially_equal() {
    // Guard against a vacuous property: the generated blocks really execute, change state,
    // and fail the same way when they are invalid.
    let ops = vec![
        Op::Erc20 {
            from: 0,
            to: 1,
            amount: 5,
        },
        Op::Eth {
            from: 1,
            to: USERS,
            value: 9,
        },
        Op::CreateAndDestroy {
            from: 2,
            salt: 1,
            to: 3,
        },
        Op::Create2 {
            from: 3,
            salt: 1,
            value: 1,
        },
        Op::FromBeneficiary { to: 4, value: 3 },
    ];
    let block = workloads::block(SpecId::PRAGUE, build(&ops, SpecId::PRAGUE));
    let out = SequentialExecutor
        .execute(&block, &state())
        .expect("valid block");
    assert_eq!(out.receipts.len(), 5);
    assert!(
        out.state.accounts.len() >= 5,
        "{:?}",
        out.state.accounts.keys()
    );
    let created = factory::child_address_of(factory_address(), salt(1));
    assert!(
        matches!(out.state.accounts.get(&created), Some(Some(_))),
        "the child re-created after self-destruct exists"
    );
    assert_eq!(
        out,
        ParallelExecutor::new(2)
            .execute(&block, &state())
            .expect("valid")
    );

    let gap = vec![
        Op::NonceGap { from: 0 },
        Op::Eth {
            from: 0,
            to: 1,
            value: 1,
        },
    ];
    let block = workloads::block(SpecId::PRAGUE, build(&gap, SpecId::PRAGUE));
    let err = SequentialExecutor
        .execute(&block, &state())
        .expect_err("nonce gap");
    assert!(err.to_string().contains("transaction 0"), "{err}");
    assert_eq!(Err(err), ParallelExecutor::new(2).execute(&block, &state()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// An executor keeps its buffers (multi-version memory, scheduler, result slots) from
    /// one block to the next: blocks of different sizes and shapes, one after another on
    /// the same executors, still give exactly the sequential results.
    #[test]
    fn reused_executors_equal_sequential_block_after_block(
        blocks in prop::collection::vec(
            prop_oneof![prop::collection::vec(op(), 1..48), contended_ops()],
            2..6,
        ),
    ) {
        let executors = [
            ParallelExecutor::new(2),
            ParallelExecutor::new(2).speculation_only(),
            ParallelExecutor::new(8).speculation_only(),
        ];
        let state = state();
        for ops in &blocks {
            let block = workloads::block(SpecId::PRAGUE, build(ops, SpecId::PRAGUE));
            let sequential = SequentialExecutor.execute(&block, &state);
            for executor in &executors {
                let parallel = executor.execute(&block, &state);
                prop_assert_eq!(&parallel, &sequential, "{} ops, {:?}", ops.len(), executor);
            }
        }
    }
}
