//! Bridge deposits as the protocol mints them before a block's transactions, on the Parallax
//! bridge contract (`bridge/contracts/ParallaxBridgeL2.sol`) installed as genesis installs it:
//! every Ethereum asset, ETH included, arrives as a bridged ERC-20 (Parallax's gas token is its
//! own and backs nothing); a deposit that cannot be minted is refunded and never stops the ones
//! after it; withdrawals burn what was bridged and no more, and any one validator can pause
//! them. The sequential and the parallel executor agree on all of it.

use crate::workloads;

use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_sol_types::{SolCall, SolEvent};
use parallax_bridge::attest::{L2BridgeDomain, sign_digest};
use parallax_bridge::contracts::{IBridgedToken, IParallaxBridgeL2, TokenMetadata};
use parallax_call::{CallOptions, CallOutcome, CallRequest, call};
use parallax_execution::{
    BlockExecutor, BlockOutput, BridgeDeposit, BridgeDeposits, ExecutionError, InMemoryState,
    ParallelExecutor, SequentialExecutor, SpecId, StateView,
};
use parallax_genesis::{L2_BRIDGE_ADDRESS as BRIDGE, bridged_token_address, l2_bridge_code};
use workloads::{addr, block, call as tx_call, eoa, ether};

const ALICE: Address = Address::new([0xa1; 20]);
const BOB: Address = Address::new([0xb0; 20]);
const RICH: Address = Address::new([0xcc; 20]);
/// Who deposits on Ethereum (refunds go back there).
const DEPOSITOR: Address = Address::new([0xde; 20]);

fn l1_token(i: u8) -> Address {
    addr(0x11, u64::from(i))
}

/// The bridge validators' keys (their bridge addresses are in the predeploy's storage).
fn guardians() -> Vec<alloy_signer_local::PrivateKeySigner> {
    (1..=4u8)
        .map(|i| alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect()
}

/// Genesis: the bridge's runtime code with the validator set genesis writes; BOB and RICH
/// hold Parallax's own gas token, ALICE holds nothing.
fn genesis() -> InMemoryState {
    let mut state = InMemoryState::new();
    let storage = parallax_genesis::l2_bridge_storage(guardians().iter().map(|k| (k.address(), 1)))
        .into_iter()
        .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
        .collect();
    state.insert_account(BRIDGE, workloads::contract(l2_bridge_code(), storage));
    state.insert_account(BOB, eoa(ether(1)));
    state.insert_account(RICH, eoa(ether(1_000)));
    state
}

fn metadata(name: &str, symbol: &str, decimals: u8) -> Bytes {
    TokenMetadata {
        name: name.into(),
        symbol: symbol.into(),
        decimals,
    }
    .encode()
}

fn deposit(nonce: u64, token: Address, recipient: Address, amount: U256) -> BridgeDeposit {
    BridgeDeposit {
        nonce,
        l1_token: token,
        l1_from: DEPOSITOR,
        recipient,
        amount,
        l1_block: 100 + nonce,
        metadata: if token == Address::ZERO {
            Bytes::new()
        } else {
            metadata("USD Coin", "USDC", 6)
        },
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

/// Executes a block and applies it.
fn run(state: &mut InMemoryState, b: &parallax_execution::Block) -> BlockOutput {
    let out = execute(b, state).unwrap();
    state.apply(&out.state);
    out
}

fn view<C: SolCall>(state: &InMemoryState, to: Address, c: C) -> C::Return {
    let b = block(SpecId::PRAGUE, vec![]);
    let request = CallRequest {
        to: Some(to),
        input: c.abi_encode().into(),
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
        CallOutcome::Success { output, .. } => C::abi_decode_returns(&output).unwrap(),
        other => panic!("{}: {other:?}", C::SIGNATURE),
    }
}

fn events<E: SolEvent>(logs: &[Log]) -> Vec<E> {
    logs.iter()
        .filter(|l| l.address == BRIDGE)
        .filter_map(|l| E::decode_log_data(&l.data).ok())
        .collect()
}

fn tx<C: SolCall>(from: Address, nonce: u64, to: Address, c: C) -> parallax_execution::Transaction {
    tx_call(
        from,
        nonce,
        Some(to),
        U256::ZERO,
        c.abi_encode().into(),
        300_000,
    )
}

fn withdraw(
    from: Address,
    nonce: u64,
    l2_token: Address,
    amount: U256,
) -> parallax_execution::Transaction {
    tx(
        from,
        nonce,
        BRIDGE,
        IParallaxBridgeL2::withdrawERC20Call {
            l2Token: l2_token,
            amount,
            l1Recipient: Address::with_last_byte(0x77),
        },
    )
}

/// Parallax's own currency held by `who`.
fn native(state: &InMemoryState, who: Address) -> U256 {
    state
        .account(who)
        .unwrap()
        .map(|a| a.balance)
        .unwrap_or_default()
}

fn balance(state: &InMemoryState, token: Address, who: Address) -> U256 {
    view(state, token, IBridgedToken::balanceOfCall { owner: who })
}

#[test]
fn deposits_mint_bridged_tokens_before_the_transactions_that_spend_them() {
    let mut state = genesis();
    let usdc = l1_token(1);
    let (eth_l2, usdc_l2) = (
        bridged_token_address(Address::ZERO),
        bridged_token_address(usdc),
    );
    assert_eq!(
        view(
            &state,
            BRIDGE,
            IParallaxBridgeL2::l2TokenForCall { l1Token: usdc }
        ),
        usdc_l2,
        "the contract and genesis' CREATE2 rule agree on the bridged token's address"
    );
    let deposits = vec![
        deposit(0, Address::ZERO, BOB, ether(5)),
        deposit(1, usdc, BOB, U256::from(1_000)),
        deposit(2, usdc, ALICE, U256::from(7)),
        deposit(3, Address::ZERO, ALICE, ether(1)),
    ];
    // In the same block BOB (who pays gas in Parallax's own currency) moves bridged ETH and
    // USDC minted to him moments earlier.
    let txs = vec![
        tx(
            BOB,
            0,
            eth_l2,
            IBridgedToken::transferCall {
                to: RICH,
                amount: ether(2),
            },
        ),
        tx(
            BOB,
            1,
            usdc_l2,
            IBridgedToken::transferCall {
                to: RICH,
                amount: U256::from(400),
            },
        ),
    ];
    let out = run(
        &mut state,
        &with_deposits(block(SpecId::PRAGUE, txs), deposits),
    );
    assert!(
        out.receipts.iter().all(|r| r.status()),
        "both transactions succeed"
    );
    let finalized = events::<IParallaxBridgeL2::DepositFinalized>(&out.system_logs);
    assert_eq!(
        finalized
            .iter()
            .map(|e| e.nonce.to::<u64>())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(
        events::<IParallaxBridgeL2::BridgedTokenCreated>(&out.system_logs).len(),
        2
    );
    assert!(
        out.receipts[1].logs().iter().all(|l| l.address == usdc_l2),
        "system logs are in no receipt"
    );

    // ETH arrived as the bridged ETH token, not as native currency: ALICE has no gas.
    assert_eq!(native(&state, ALICE), U256::ZERO);
    assert_eq!(balance(&state, eth_l2, ALICE), ether(1));
    assert_eq!(balance(&state, eth_l2, BOB), ether(3));
    assert_eq!(balance(&state, eth_l2, RICH), ether(2));
    assert_eq!(balance(&state, usdc_l2, BOB), U256::from(600));
    assert_eq!(
        view(&state, usdc_l2, IBridgedToken::totalSupplyCall {}),
        U256::from(1_007)
    );
    // The tokens carry the L1 token's description (ETH's is fixed).
    assert_eq!(
        (
            view(&state, usdc_l2, IBridgedToken::nameCall {}),
            view(&state, usdc_l2, IBridgedToken::symbolCall {}),
            view(&state, usdc_l2, IBridgedToken::decimalsCall {}),
        ),
        ("USD Coin".to_string(), "USDC".to_string(), 6)
    );
    assert_eq!(
        (
            view(&state, eth_l2, IBridgedToken::symbolCall {}),
            view(&state, eth_l2, IBridgedToken::decimalsCall {}),
        ),
        ("ETH".to_string(), 18)
    );
    assert_eq!(view(&state, usdc_l2, IBridgedToken::l1TokenCall {}), usdc);
    assert_eq!(
        view(&state, BRIDGE, IParallaxBridgeL2::nextDepositNonceCall {}),
        U256::from(4)
    );
    assert_eq!(
        view(&state, BRIDGE, IParallaxBridgeL2::lastDepositL1BlockCall {}),
        U256::from(103),
        "where a restarted watcher resumes"
    );

    // The next block: nonce 4 is next; replaying 3, skipping to 5, or deposits without a
    // bridge contract make the block invalid.
    let mut next = block(SpecId::PRAGUE, vec![]);
    next.env.number = 2;
    for bad in [
        vec![deposit(3, usdc, ALICE, U256::from(9))],
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
    let err = execute(&elsewhere, &state).unwrap_err();
    assert!(err.to_string().contains("no bridge contract"), "{err}");
    // Only the protocol finalizes deposits: an ordinary transaction calling it reverts.
    let forged = tx(
        RICH,
        0,
        BRIDGE,
        IParallaxBridgeL2::finalizeDepositCall {
            nonce: U256::from(4),
            l1Token: Address::ZERO,
            l1From: RICH,
            l2Recipient: RICH,
            amount: ether(1_000_000),
            l1Block: U256::from(1),
            metadata: Bytes::new(),
        },
    );
    let bypass = tx(
        RICH,
        1,
        BRIDGE,
        IParallaxBridgeL2::mintDepositCall {
            l1Token: Address::ZERO,
            l2Recipient: RICH,
            amount: ether(1_000_000),
            metadata: Bytes::new(),
        },
    );
    let out = execute(&block(SpecId::PRAGUE, vec![forged, bypass]), &state).unwrap();
    assert!(out.receipts.iter().all(|r| !r.status()), "neither mints");
}

/// The backing attack: a holder of Parallax's own currency (genesis allocations, fees) tries
/// to take the ETH depositors locked on Ethereum. Native currency cannot be withdrawn at all,
/// and bridged ETH is only what deposits minted, so the depositor always gets theirs back.
#[test]
fn parallax_currency_backs_nothing_so_no_one_withdraws_what_depositors_locked() {
    let mut state = genesis();
    let eth_l2 = bridged_token_address(Address::ZERO);
    run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, vec![]),
            vec![deposit(0, Address::ZERO, BOB, ether(3))],
        ),
    );
    let native_to_bridge = tx_call(RICH, 0, Some(BRIDGE), ether(100), Bytes::new(), 100_000);
    let txs = vec![
        native_to_bridge,                        // native currency sent to the bridge
        withdraw(RICH, 1, eth_l2, ether(3)),     // bridged ETH RICH does not hold
        withdraw(RICH, 2, RICH, U256::from(1)),  // not a bridged token
        withdraw(BOB, 0, eth_l2, ether(3)),      // the depositor's own: paid
        withdraw(BOB, 1, eth_l2, U256::from(1)), // one wei past what BOB holds
    ];
    let out = run(&mut state, &block(SpecId::PRAGUE, txs));
    let statuses: Vec<bool> = out.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [false, false, false, true, false]);
    let initiated: Vec<_> = out
        .receipts
        .iter()
        .flat_map(|r| events::<IParallaxBridgeL2::WithdrawalInitiated>(r.logs()))
        .map(|e| (e.id.to::<u64>(), e.l1Token, e.from, e.amount))
        .collect();
    assert_eq!(initiated, [(0, Address::ZERO, BOB, ether(3))]);
    assert_eq!(
        view(&state, eth_l2, IBridgedToken::totalSupplyCall {}),
        U256::ZERO
    );
    assert!(
        native(&state, RICH) > ether(999),
        "RICH keeps his gas money"
    );
}

/// A deposit whose mint reverts (here: the bridged token's supply would overflow) is recorded
/// as failed and refunded to its Ethereum depositor by a withdrawal; the deposits after it are
/// minted in the same block. Deposit, withdraw and deposit 2^255 again (the sequence that
/// overflowed a cumulative counter before) simply works.
#[test]
fn a_deposit_that_cannot_be_minted_is_refunded_and_the_queue_goes_on() {
    let mut state = genesis();
    let token = l1_token(3);
    let l2 = bridged_token_address(token);
    let half = U256::from(1) << 255;
    run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, vec![]),
            vec![deposit(0, token, BOB, half)],
        ),
    );
    run(
        &mut state,
        &block(SpecId::PRAGUE, vec![withdraw(BOB, 0, l2, half)]),
    );
    let out = run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, vec![]),
            vec![
                deposit(1, token, BOB, half),
                deposit(2, token, ALICE, half), // 2^256 in all: the mint overflows
                deposit(3, Address::ZERO, ALICE, ether(1)),
            ],
        ),
    );
    let minted: Vec<u64> = events::<IParallaxBridgeL2::DepositFinalized>(&out.system_logs)
        .iter()
        .map(|e| e.nonce.to())
        .collect();
    assert_eq!(minted, [1, 3]);
    let failed = events::<IParallaxBridgeL2::DepositFailed>(&out.system_logs);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].nonce.to::<u64>(),
            failed[0].l1From,
            failed[0].amount,
            failed[0].refundId.to::<u64>()
        ),
        (2, DEPOSITOR, half, 1)
    );
    // The refund is a withdrawal like any other, to the depositor on Ethereum, in the block's
    // system logs (so in its withdrawal tree).
    let refunds = events::<IParallaxBridgeL2::WithdrawalInitiated>(&out.system_logs);
    assert_eq!(
        refunds
            .iter()
            .map(|e| (e.id.to::<u64>(), e.l1Token, e.from, e.l1Recipient, e.amount))
            .collect::<Vec<_>>(),
        [(1, token, BRIDGE, DEPOSITOR, half)]
    );
    assert_eq!(balance(&state, l2, BOB), half);
    assert_eq!(balance(&state, l2, ALICE), U256::ZERO);
    assert_eq!(
        view(
            &state,
            BRIDGE,
            IParallaxBridgeL2::failedDepositRefundCall {
                nonce: U256::from(2)
            }
        ),
        U256::from(2),
        "refund id + 1"
    );
    assert_eq!(
        view(&state, BRIDGE, IParallaxBridgeL2::nextDepositNonceCall {}),
        U256::from(4)
    );
    assert_eq!(
        balance(&state, bridged_token_address(Address::ZERO), ALICE),
        ether(1)
    );
}

/// Any revert in the mint path: the bridged token's address is already taken (code there that
/// refuses everything). Only that deposit fails; malformed metadata falls back to a default
/// description instead of failing.
#[test]
fn a_forced_mint_revert_fails_only_that_deposit() {
    let mut state = genesis();
    let (taken, odd) = (l1_token(4), l1_token(5));
    state.insert_account(
        bridged_token_address(taken),
        workloads::contract(Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd]), vec![]),
    );
    let mut garbled = deposit(1, odd, BOB, U256::from(5));
    garbled.metadata = Bytes::from_static(b"\x01\x02 not an abi encoding");
    let out = run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, vec![]),
            vec![
                deposit(0, taken, BOB, U256::from(9)),
                garbled,
                deposit(2, taken, BOB, U256::from(3)),
            ],
        ),
    );
    let failed: Vec<u64> = events::<IParallaxBridgeL2::DepositFailed>(&out.system_logs)
        .iter()
        .map(|e| e.nonce.to())
        .collect();
    assert_eq!(failed, [0, 2]);
    let l2 = bridged_token_address(odd);
    assert_eq!(balance(&state, l2, BOB), U256::from(5));
    assert_eq!(
        (
            view(&state, l2, IBridgedToken::nameCall {}),
            view(&state, l2, IBridgedToken::symbolCall {}),
            view(&state, l2, IBridgedToken::decimalsCall {}),
        ),
        ("Parallax Bridged Token".to_string(), "PXB".to_string(), 18)
    );
    assert_eq!(
        events::<IParallaxBridgeL2::WithdrawalInitiated>(&out.system_logs).len(),
        2,
        "both failed deposits are refunded"
    );
}

/// Any one validator pauses withdrawals with its signature (anyone may send it); deposits go
/// on; one validator cannot unpause, a quorum can; an old pause signature cannot pause again.
#[test]
fn any_one_validator_pauses_withdrawals_and_only_a_quorum_unpauses() {
    let mut state = genesis();
    let eth_l2 = bridged_token_address(Address::ZERO);
    run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, vec![]),
            vec![deposit(0, Address::ZERO, BOB, ether(3))],
        ),
    );
    let domain = L2BridgeDomain {
        chain_id: workloads::CHAIN_ID,
        bridge: BRIDGE,
    };
    assert_eq!(
        view(
            &state,
            BRIDGE,
            IParallaxBridgeL2::guardianPauseDigestCall { nonce: U256::ZERO }
        ),
        domain.guardian_pause_digest(0),
        "Rust and Solidity hash the pause alike"
    );
    let keys = guardians();
    let sig = |k: usize, digest: B256| Bytes::from(sign_digest(&keys[k], digest).unwrap().to_vec());
    let outsider = alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(9)).unwrap();
    let pause_sig = sig(2, domain.guardian_pause_digest(0));
    let txs = vec![
        tx(
            RICH,
            0,
            BRIDGE,
            IParallaxBridgeL2::guardianPauseCall {
                signature: Bytes::from(
                    sign_digest(&outsider, domain.guardian_pause_digest(0))
                        .unwrap()
                        .to_vec(),
                ),
            },
        ),
        tx(
            RICH,
            1,
            BRIDGE,
            IParallaxBridgeL2::guardianPauseCall {
                signature: pause_sig.clone(),
            },
        ),
        withdraw(BOB, 0, eth_l2, ether(1)),
    ];
    let out = run(
        &mut state,
        &with_deposits(
            block(SpecId::PRAGUE, txs),
            vec![deposit(1, Address::ZERO, BOB, ether(1))],
        ),
    );
    let statuses: Vec<bool> = out.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses,
        [false, true, false],
        "an outsider cannot pause; a validator can; withdrawals stop"
    );
    assert_eq!(
        events::<IParallaxBridgeL2::DepositFinalized>(&out.system_logs).len(),
        1,
        "deposits go on"
    );
    assert!(view(&state, BRIDGE, IParallaxBridgeL2::pausedCall {}));

    let quorum = |signers: &[usize], nonce: u64, paused: bool| {
        let digest = domain.set_paused_digest(nonce, paused);
        let mut sigs: Vec<(Address, Bytes)> = signers
            .iter()
            .map(|i| (keys[*i].address(), sig(*i, digest)))
            .collect();
        sigs.sort();
        sigs.into_iter().map(|(_, s)| s).collect::<Vec<_>>()
    };
    let txs = vec![
        tx(
            RICH,
            2,
            BRIDGE,
            IParallaxBridgeL2::setPausedCall {
                paused: false,
                signatures: quorum(&[1], 0, false),
            },
        ),
        tx(
            RICH,
            3,
            BRIDGE,
            IParallaxBridgeL2::setPausedCall {
                paused: false,
                signatures: quorum(&[0, 1, 3], 0, false),
            },
        ),
        withdraw(BOB, 1, eth_l2, ether(1)),
        tx(
            RICH,
            4,
            BRIDGE,
            IParallaxBridgeL2::guardianPauseCall {
                signature: pause_sig,
            },
        ),
        withdraw(BOB, 2, eth_l2, ether(1)),
    ];
    let out = run(&mut state, &block(SpecId::PRAGUE, txs));
    let statuses: Vec<bool> = out.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [false, true, true, false, true]);
    assert!(!view(&state, BRIDGE, IParallaxBridgeL2::pausedCall {}));
}
