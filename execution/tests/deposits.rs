//! Bridge deposits as the protocol mints them before a block's transactions: ETH credited to
//! the recipient, bridged ERC-20s created on their first deposit and minted, the Parallax
//! bridge contract (`bridge/contracts/ParallaxBridgeL2.sol`, installed as genesis installs it)
//! recording each nonce once and in order; withdrawals burning what was bridged and no more.
//! The sequential and the parallel executor agree on all of it.

#[path = "common/contracts.rs"]
mod contracts;
#[path = "common/workloads.rs"]
mod workloads;

use alloy_primitives::{Address, B256, Bytes, Log, U256, keccak256};
use contracts::{AbiValue, create2_address, decode_address, decode_uint, encode_args, encode_call};
use parallax_execution::{
    BlockExecutor, BlockOutput, BridgeDeposit, BridgeDeposits, CallOptions, CallOutcome,
    CallRequest, ExecutionError, InMemoryState, ParallelExecutor, SequentialExecutor, SpecId, call,
};
use serde_json::Value;
use std::path::PathBuf;
use workloads::{addr, block, call as tx_call, eoa, ether};

/// Where genesis predeploys the bridge (`parallax_genesis::L2_BRIDGE_ADDRESS`).
const BRIDGE: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb4, 0x1d, 0x9e,
]);

/// The bridge's compiled artifacts, read from `bridge/contracts/artifacts/`.
fn artifact(name: &str) -> Value {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let path = dir
        .join("../bridge/contracts/artifacts")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn code(name: &str, key: &str) -> Bytes {
    artifact(name)[key].as_str().unwrap().parse().unwrap()
}

/// The bridged token of `l1_token`: CREATE2 by the bridge, salt = the L1 address.
fn l2_token_for(l1_token: Address) -> Address {
    let mut init = code("BridgedToken", "bytecode").to_vec();
    init.extend_from_slice(&encode_args(&[AbiValue::Address(l1_token)]));
    create2_address(BRIDGE, l1_token.into_word(), &init)
}

const ALICE: Address = Address::new([0xa1; 20]);
const BOB: Address = Address::new([0xb0; 20]);
const RICH: Address = Address::new([0xcc; 20]);

fn l1_token(i: u8) -> Address {
    addr(0x11, u64::from(i))
}

/// Genesis: the bridge's runtime code with empty storage; BOB and RICH hold ETH of
/// Parallax's own (not bridged).
fn genesis() -> InMemoryState {
    let mut state = InMemoryState::new();
    state.insert_account(
        BRIDGE,
        workloads::contract(code("ParallaxBridgeL2", "deployedBytecode"), vec![]),
    );
    state.insert_account(BOB, eoa(ether(1)));
    state.insert_account(RICH, eoa(ether(1_000)));
    state
}

fn deposit(nonce: u64, token: Address, recipient: Address, amount: U256) -> BridgeDeposit {
    BridgeDeposit {
        nonce,
        l1_token: token,
        recipient,
        amount,
    }
}

fn with_deposits(
    mut b: parallax_execution::Block,
    deposits: Vec<BridgeDeposit>,
) -> parallax_execution::Block {
    b.deposits = Some(BridgeDeposits {
        bridge: BRIDGE,
        deposits,
    });
    b
}

/// Runs both executors; they must agree.
fn execute(
    b: &parallax_execution::Block,
    state: &InMemoryState,
) -> Result<BlockOutput, ExecutionError> {
    let sequential = SequentialExecutor.execute(b, state);
    let parallel = ParallelExecutor::new(2).execute(b, state);
    assert_eq!(sequential, parallel, "the executors disagree");
    sequential
}

fn view(state: &InMemoryState, to: Address, signature: &str, args: &[AbiValue<'_>]) -> Bytes {
    let b = block(SpecId::PRAGUE, vec![]);
    let request = CallRequest {
        to: Some(to),
        input: encode_call(signature, args),
        ..Default::default()
    };
    match call(
        state,
        &b.env,
        &b.rules,
        &request,
        &Default::default(),
        &Default::default(),
        &CallOptions::default(),
    )
    .unwrap()
    {
        CallOutcome::Success { output, .. } => output,
        other => panic!("{signature}: {other:?}"),
    }
}

fn uint(state: &InMemoryState, to: Address, signature: &str, args: &[AbiValue<'_>]) -> U256 {
    decode_uint(&view(state, to, signature, args)).unwrap()
}

fn topic(signature: &str) -> B256 {
    keccak256(signature)
}

fn events<'a>(logs: &'a [Log], signature: &str) -> Vec<&'a Log> {
    logs.iter()
        .filter(|l| l.topics().first() == Some(&topic(signature)))
        .collect()
}

const DEPOSIT_FINALIZED: &str = "DepositFinalized(uint256,address,address,uint256)";
const WITHDRAWAL_INITIATED: &str = "WithdrawalInitiated(uint256,address,address,address,uint256)";

#[test]
fn deposits_mint_before_the_transactions_that_spend_them() {
    let mut state = genesis();
    let token = l1_token(1);
    let wrapped = l2_token_for(token);
    assert_eq!(
        decode_address(&view(
            &state,
            BRIDGE,
            "l2TokenFor(address)",
            &[AbiValue::Address(token)]
        )),
        Some(wrapped),
        "the contract and the CREATE2 rule agree on the bridged token's address"
    );
    let deposits = vec![
        deposit(0, Address::ZERO, ALICE, ether(5)),
        deposit(1, token, BOB, U256::from(1_000)),
        deposit(2, token, ALICE, U256::from(7)),
        deposit(3, l1_token(2), ALICE, U256::from(9)),
    ];
    // In the same block: ALICE (who had nothing before) spends deposited ETH on gas and
    // sends 1 ETH; BOB moves 400 of the token minted to him moments earlier.
    let txs = vec![
        tx_call(ALICE, 0, Some(RICH), ether(1), Bytes::new(), 21_000),
        tx_call(
            BOB,
            0,
            Some(wrapped),
            U256::ZERO,
            encode_call(
                "transfer(address,uint256)",
                &[AbiValue::Address(RICH), AbiValue::Uint(U256::from(400))],
            ),
            100_000,
        ),
    ];
    let b = with_deposits(block(SpecId::PRAGUE, txs), deposits);
    let out = execute(&b, &state).unwrap();
    assert!(
        out.receipts.iter().all(|r| r.status()),
        "both transactions succeed"
    );

    let finalized = events(&out.system_logs, DEPOSIT_FINALIZED);
    assert_eq!(finalized.len(), 4);
    for (i, log) in finalized.iter().enumerate() {
        assert_eq!(log.address, BRIDGE);
        assert_eq!(U256::from_be_bytes(log.topics()[1].0), U256::from(i));
    }
    assert_eq!(
        events(&out.system_logs, "BridgedTokenCreated(address,address)").len(),
        2
    );
    // The system logs are in no receipt.
    assert!(out.receipts[1].logs().iter().all(|l| l.address == wrapped));

    state.apply(&out.state);
    let balance = |a: &Address| {
        out.state
            .accounts
            .get(a)
            .cloned()
            .flatten()
            .map(|x| x.balance)
    };
    assert!(
        balance(&ALICE).unwrap() < ether(4)
            && balance(&ALICE).unwrap() > ether(4) - ether(1) / U256::from(1_000)
    );
    let bal = |holder| {
        uint(
            &state,
            wrapped,
            "balanceOf(address)",
            &[AbiValue::Address(holder)],
        )
    };
    assert_eq!(
        (bal(BOB), bal(RICH), bal(ALICE)),
        (U256::from(600), U256::from(400), U256::from(7))
    );
    assert_eq!(
        uint(&state, wrapped, "totalSupply()", &[]),
        U256::from(1_007)
    );
    assert_eq!(
        uint(&state, BRIDGE, "nextDepositNonce()", &[]),
        U256::from(4)
    );
    assert_eq!(
        uint(
            &state,
            BRIDGE,
            "minted(address)",
            &[AbiValue::Address(Address::ZERO)]
        ),
        ether(5)
    );
    assert_eq!(
        decode_address(&view(&state, wrapped, "l1Token()", &[])),
        Some(token)
    );

    // The next block: nonce 4 is next; replaying 3, skipping to 5, or deposits without a
    // bridge contract make the block invalid.
    let mut next = block(SpecId::PRAGUE, vec![]);
    next.env.number = 2;
    for bad in [
        vec![deposit(3, l1_token(2), ALICE, U256::from(9))],
        vec![deposit(5, Address::ZERO, ALICE, ether(1))],
        vec![
            deposit(4, Address::ZERO, ALICE, ether(1)),
            deposit(4, Address::ZERO, ALICE, ether(1)),
        ],
    ] {
        let err = execute(&with_deposits(next.clone(), bad.clone()), &state).unwrap_err();
        assert!(
            matches!(&err, ExecutionError::SystemCall { address, reason } if *address == BRIDGE && reason.contains("not finalized")),
            "{bad:?}: {err}"
        );
    }
    let mut elsewhere = with_deposits(
        next.clone(),
        vec![deposit(4, Address::ZERO, ALICE, ether(1))],
    );
    elsewhere.deposits.as_mut().unwrap().bridge = Address::with_last_byte(0x42);
    // Deposits are only minted where the bridge contract records them.
    let err = execute(&elsewhere, &state).unwrap_err();
    assert!(err.to_string().contains("no bridge contract"), "{err}");
    let ok = execute(
        &with_deposits(next, vec![deposit(4, Address::ZERO, BOB, ether(2))]),
        &state,
    )
    .unwrap();
    assert_eq!(events(&ok.system_logs, DEPOSIT_FINALIZED).len(), 1);
}

#[test]
fn withdrawals_burn_only_what_was_bridged() {
    let mut state = genesis();
    let token = l1_token(1);
    let wrapped = l2_token_for(token);
    let b = with_deposits(
        block(SpecId::PRAGUE, vec![]),
        vec![
            deposit(0, Address::ZERO, ALICE, ether(3)),
            deposit(1, token, BOB, U256::from(500)),
        ],
    );
    state.apply(&execute(&b, &state).unwrap().state);

    let l1 = Address::with_last_byte(0x77);
    let withdraw_eth = |from, nonce, value| {
        tx_call(
            from,
            nonce,
            Some(BRIDGE),
            value,
            encode_call("withdrawETH(address)", &[AbiValue::Address(l1)]),
            200_000,
        )
    };
    let withdraw_token = |from, nonce, l2: Address, amount: u64| {
        tx_call(
            from,
            nonce,
            Some(BRIDGE),
            U256::ZERO,
            encode_call(
                "withdrawERC20(address,uint256,address)",
                &[
                    AbiValue::Address(l2),
                    AbiValue::Uint(U256::from(amount)),
                    AbiValue::Address(l1),
                ],
            ),
            200_000,
        )
    };
    let txs = vec![
        withdraw_eth(ALICE, 0, ether(1)),      // ok: id 0
        withdraw_token(BOB, 0, wrapped, 200),  // ok: id 1
        withdraw_eth(RICH, 0, ether(100)),     // Parallax's own ETH: more than was bridged
        withdraw_token(BOB, 1, wrapped, 301),  // more than BOB holds
        withdraw_token(BOB, 2, RICH, 1),       // not a bridged token
        withdraw_eth(RICH, 1, ether(2)),       // ok: id 2 (3 bridged, 1 + 2 burned)
        withdraw_eth(ALICE, 1, U256::from(1)), // one wei past what was bridged
    ];
    let out = execute(&block(SpecId::PRAGUE, txs), &state).unwrap();
    let statuses: Vec<bool> = out.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [true, true, false, false, false, true, false]);
    let initiated: Vec<(U256, Address, Address, U256)> = out
        .receipts
        .iter()
        .flat_map(|r| r.logs().to_vec())
        .filter(|l| l.topics().first() == Some(&topic(WITHDRAWAL_INITIATED)))
        .map(|l| {
            let data = &l.data.data;
            (
                U256::from_be_bytes(l.topics()[1].0),
                Address::from_word(l.topics()[2]),
                Address::from_slice(&data[12..32]),
                U256::from_be_slice(&data[32..64]),
            )
        })
        .collect();
    assert_eq!(
        initiated,
        [
            (U256::from(0), Address::ZERO, l1, ether(1)),
            (U256::from(1), token, l1, U256::from(200)),
            (U256::from(2), Address::ZERO, l1, ether(2)),
        ]
    );
    state.apply(&out.state);
    assert_eq!(uint(&state, wrapped, "totalSupply()", &[]), U256::from(300));
    assert_eq!(
        uint(
            &state,
            BRIDGE,
            "burned(address)",
            &[AbiValue::Address(Address::ZERO)]
        ),
        ether(3)
    );
    assert_eq!(
        uint(&state, BRIDGE, "nextWithdrawalId()", &[]),
        U256::from(3)
    );
    // Only the protocol finalizes deposits: an ordinary transaction calling it reverts.
    let forged = tx_call(
        RICH,
        2,
        Some(BRIDGE),
        U256::ZERO,
        encode_call(
            "finalizeDeposit(uint256,address,address,uint256)",
            &[
                AbiValue::Uint(U256::from(2)),
                AbiValue::Address(token),
                AbiValue::Address(RICH),
                AbiValue::Uint(U256::from(1_000_000)),
            ],
        ),
        200_000,
    );
    let out = execute(&block(SpecId::PRAGUE, vec![forged]), &state).unwrap();
    assert!(!out.receipts[0].status());
}
