//! `call`, `estimate_gas` and `create_access_list` over an in-memory state with small
//! hand-assembled contracts: geth's defaults and error wording, overrides, deadlines, exact
//! gas estimates (including a call whose success depends on the 63/64 rule) and access lists.

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, U256, map::HashMap};
use parallax_call::{
    AccountOverride, BlockOverrides, CallError, CallFailure, CallOptions, CallOutcome, CallRequest,
    EstimateError, StateOverrides, call, create_access_list, estimate_gas,
};
use parallax_execution::{BlockEnv, ChainRules, InMemoryAccount, InMemoryState, SpecId};
use std::time::Instant;

const CHAIN_ID: u64 = 7_357;
const BASE_FEE: u64 = 7;

fn rules() -> ChainRules {
    ChainRules::new(CHAIN_ID, SpecId::PRAGUE)
}

fn block() -> BlockEnv {
    BlockEnv {
        number: 10,
        timestamp: 1_700_000_000,
        beneficiary: Address::repeat_byte(0xbe),
        gas_limit: 30_000_000,
        base_fee: Some(BASE_FEE),
        difficulty: U256::ZERO,
        prevrandao: Some(B256::with_last_byte(7)),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: None,
        parent_hash: None,
    }
}

fn addr(b: u8) -> Address {
    Address::repeat_byte(b)
}

/// An account that exists with `balance`.
const RICH: u8 = 0x11;
/// A contract that stores 1 in slot 0 (a cold zero-to-non-zero `SSTORE`: 22100 gas).
const STORE: u8 = 0x21;
/// A contract that `CALL`s [`STORE`] with all its gas and reverts if that call fails.
const FORWARD: u8 = 0x22;
/// A contract that reverts with `0xdeadbeef`.
const REVERT: u8 = 0x23;
/// A contract that loops forever.
const LOOP: u8 = 0x24;
/// A contract that executes the designated invalid opcode.
const INVALID: u8 = 0x25;
/// A contract that returns its slot 0.
const READ: u8 = 0x26;
/// A contract that returns `NUMBER`.
const NUMBER: u8 = 0x27;
/// A contract that reads slot 1, the balance of 0x31, calls [`READ2`] and the identity
/// precompile.
const TOUCH: u8 = 0x28;
/// A contract that reads slot 2.
const READ2: u8 = 0x29;
/// A contract that clears its slot 0 (set to 1): a refund makes it need more than it uses.
const CLEAR: u8 = 0x2a;

fn store_code() -> Bytes {
    // PUSH1 1 PUSH1 0 SSTORE STOP
    Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x00])
}

fn forward_code(target: Address) -> Bytes {
    // 5 x PUSH1 0, PUSH20 target, GAS, CALL, ISZERO, PUSH1 38, JUMPI, STOP,
    // 38: JUMPDEST, PUSH1 0, PUSH1 0, REVERT
    let mut code = vec![0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x73];
    code.extend_from_slice(target.as_slice());
    code.extend_from_slice(&[0x5a, 0xf1, 0x15, 0x60, 38, 0x57, 0x00]);
    assert_eq!(code.len(), 38);
    code.extend_from_slice(&[0x5b, 0x60, 0, 0x60, 0, 0xfd]);
    code.into()
}

fn touch_code() -> Bytes {
    let mut code = vec![0x60, 0x01, 0x54, 0x50]; // PUSH1 1 SLOAD POP
    code.push(0x73); // PUSH20 0x31.. BALANCE POP
    code.extend_from_slice(addr(0x31).as_slice());
    code.extend_from_slice(&[0x31, 0x50]);
    for target in [addr(READ2), Address::with_last_byte(4)] {
        // STATICCALL(gas, target, 0, 0, 0, 0) POP
        code.extend_from_slice(&[0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x73]);
        code.extend_from_slice(target.as_slice());
        code.extend_from_slice(&[0x5a, 0xfa, 0x50]);
    }
    code.push(0x00);
    code.into()
}

fn state() -> InMemoryState {
    let mut state = InMemoryState::new();
    let account = |code: Bytes, balance: u64| InMemoryAccount {
        balance: U256::from(balance),
        code,
        ..Default::default()
    };
    state.insert_account(addr(RICH), account(Bytes::new(), 1_000_000_000_000));
    state.insert_account(addr(STORE), account(store_code(), 0));
    state.insert_account(addr(FORWARD), account(forward_code(addr(STORE)), 0));
    state.insert_account(
        addr(REVERT),
        // PUSH4 deadbeef PUSH1 0 MSTORE PUSH1 4 PUSH1 28 REVERT
        account(
            Bytes::from_static(&[
                0x63, 0xde, 0xad, 0xbe, 0xef, 0x60, 0, 0x52, 0x60, 4, 0x60, 28, 0xfd,
            ]),
            0,
        ),
    );
    // JUMPDEST PUSH1 0 JUMP
    state.insert_account(
        addr(LOOP),
        account(Bytes::from_static(&[0x5b, 0x60, 0, 0x56]), 0),
    );
    state.insert_account(addr(INVALID), account(Bytes::from_static(&[0xfe]), 0));
    let mut read = account(read_code(0), 0);
    read.storage.insert(U256::ZERO, U256::from(42));
    read.storage.insert(U256::from(5), U256::from(55));
    state.insert_account(addr(READ), read);
    // NUMBER PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    state.insert_account(
        addr(NUMBER),
        account(
            Bytes::from_static(&[0x43, 0x60, 0, 0x52, 0x60, 32, 0x60, 0, 0xf3]),
            0,
        ),
    );
    state.insert_account(addr(TOUCH), account(touch_code(), 0));
    state.insert_account(addr(READ2), account(read_code(2), 0));
    // PUSH1 0 PUSH1 0 SSTORE STOP
    let mut clear = account(Bytes::from_static(&[0x60, 0, 0x60, 0, 0x55, 0x00]), 0);
    clear.storage.insert(U256::ZERO, U256::from(1));
    state.insert_account(addr(CLEAR), clear);
    state
}

/// Returns storage slot `slot`.
fn read_code(slot: u8) -> Bytes {
    // PUSH1 slot SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    Bytes::from(vec![
        0x60, slot, 0x54, 0x60, 0, 0x52, 0x60, 32, 0x60, 0, 0xf3,
    ])
}

fn to(address: u8) -> CallRequest {
    CallRequest {
        to: Some(addr(address)),
        ..Default::default()
    }
}

fn run(request: &CallRequest) -> Result<CallOutcome, CallError> {
    run_with(
        request,
        &StateOverrides::default(),
        &BlockOverrides::default(),
    )
}

fn run_with(
    request: &CallRequest,
    overrides: &StateOverrides,
    block_overrides: &BlockOverrides,
) -> Result<CallOutcome, CallError> {
    call(
        &state(),
        &block(),
        &rules(),
        request,
        overrides,
        block_overrides,
        &CallOptions::default(),
    )
}

fn estimate(request: &CallRequest) -> Result<u64, EstimateError> {
    estimate_gas(
        &state(),
        &block(),
        &rules(),
        request,
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &CallOptions::default(),
    )
}

fn word(output: &Bytes) -> U256 {
    assert_eq!(output.len(), 32, "output {output}");
    U256::from_be_slice(output)
}

#[test]
fn an_unfunded_sender_calls_for_free_with_default_gas() {
    let request = CallRequest {
        from: Some(addr(0x99)),
        ..to(READ)
    };
    match run(&request).unwrap() {
        CallOutcome::Success {
            output, gas_used, ..
        } => {
            assert_eq!(word(&output), U256::from(42));
            assert!(gas_used > 21_000 && gas_used < 30_000, "{gas_used}");
        }
        other => panic!("{other:?}"),
    }
    // Without `from` at all, too.
    assert!(run(&to(READ)).unwrap().is_success());
}

#[test]
fn given_fees_are_checked_and_charged_with_geths_wording() {
    let poor = addr(0x99);
    let err = run(&CallRequest {
        from: Some(poor),
        gas: Some(100_000),
        gas_price: Some(10),
        ..to(READ)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("insufficient funds for gas * price + value: address {poor} have 0 want 1000000")
    );
    assert!(matches!(
        err,
        CallError::InvalidTransaction { gas: 100_000, .. }
    ));

    let err = run(&CallRequest {
        from: Some(addr(RICH)),
        max_fee_per_gas: Some(5),
        ..to(READ)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "max fee per gas less than block base fee: address {}, maxFeePerGas: 5, baseFee: 7",
            addr(RICH)
        )
    );
    // Enough fee, a funded sender: it runs.
    assert!(
        run(&CallRequest {
            from: Some(addr(RICH)),
            max_fee_per_gas: Some(10),
            max_priority_fee_per_gas: Some(1),
            ..to(READ)
        })
        .unwrap()
        .is_success()
    );
    // Even without fees the value must be covered.
    let err = run(&CallRequest {
        from: Some(poor),
        value: Some(U256::from(5)),
        ..to(READ)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("insufficient funds for gas * price + value: address {poor} have 0 want 5")
    );
    let err = run(&CallRequest {
        gas: Some(20_000),
        ..to(READ)
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "intrinsic gas too low: have 20000, want 21000"
    );
    let err = run(&CallRequest {
        gas_price: Some(1),
        max_fee_per_gas: Some(1),
        ..to(READ)
    })
    .unwrap_err();
    assert!(matches!(err, CallError::InvalidRequest(_)), "{err}");
}

#[test]
fn gas_above_the_block_limit_is_allowed_up_to_the_cap() {
    let request = CallRequest {
        gas: Some(40_000_000),
        ..to(READ)
    };
    assert!(run(&request).unwrap().is_success());
    // A sender with code is allowed too (EIP-3607 is off for calls).
    let request = CallRequest {
        from: Some(addr(STORE)),
        ..to(READ)
    };
    assert!(run(&request).unwrap().is_success());
}

#[test]
fn reverts_and_halts_are_outcomes() {
    match run(&to(REVERT)).unwrap() {
        CallOutcome::Revert { output, .. } => assert_eq!(output.as_ref(), [0xde, 0xad, 0xbe, 0xef]),
        other => panic!("{other:?}"),
    }
    match run(&to(INVALID)).unwrap() {
        CallOutcome::Halt { reason, gas_used } => {
            assert_eq!(reason, "invalid opcode");
            assert_eq!(gas_used, 30_000_000, "a halt uses all the gas");
        }
        other => panic!("{other:?}"),
    }
    match run(&CallRequest {
        gas: Some(30_000),
        ..to(LOOP)
    })
    .unwrap()
    {
        CallOutcome::Halt { reason, .. } => assert_eq!(reason, "out of gas"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_passed_deadline_aborts_the_call() {
    let options = CallOptions {
        deadline: Some(Instant::now()),
        ..CallOptions::default()
    };
    let err = call(
        &state(),
        &block(),
        &rules(),
        &to(LOOP),
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &options,
    )
    .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("execution aborted (timeout = "),
        "{err}"
    );
    // A deadline far away changes nothing.
    let options = CallOptions {
        deadline: Some(Instant::now() + std::time::Duration::from_secs(60)),
        ..CallOptions::default()
    };
    let outcome = call(
        &state(),
        &block(),
        &rules(),
        &to(READ),
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &options,
    )
    .unwrap();
    assert_eq!(outcome, run(&to(READ)).unwrap());
}

#[test]
fn a_step_limit_stops_long_calls_and_leaves_short_ones_unchanged() {
    let with_limit = |limit: u64| CallOptions {
        step_limit: Some(limit),
        ..CallOptions::default()
    };
    let run_with = |target: &CallRequest, options: &CallOptions| {
        call(
            &state(),
            &block(),
            &rules(),
            target,
            &StateOverrides::default(),
            &BlockOverrides::default(),
            options,
        )
    };
    // An endless loop is stopped at the limit, not by its gas.
    let err = run_with(&to(LOOP), &with_limit(10_000)).unwrap_err();
    assert!(
        matches!(err, CallError::StepLimit { limit: 10_000 }),
        "{err:?}"
    );
    // A short read within the limit has exactly the unbounded outcome...
    let unbounded = run(&to(READ)).unwrap();
    assert_eq!(run_with(&to(READ), &with_limit(10_000)).unwrap(), unbounded);
    // ...and the smallest limit it fits in is its number of steps: one fewer stops it.
    let fits = (1..10_000u64)
        .find(|&n| run_with(&to(READ), &with_limit(n)).is_ok())
        .expect("the read fits in 10,000 steps");
    assert_eq!(run_with(&to(READ), &with_limit(fits)).unwrap(), unbounded);
    assert!(matches!(
        run_with(&to(READ), &with_limit(fits - 1)),
        Err(CallError::StepLimit { .. })
    ));
}

#[test]
fn state_and_block_overrides_apply() {
    let slot = |n: u64| B256::from(U256::from(n));
    // stateDiff patches one slot, the others stay.
    let mut overrides = StateOverrides::default();
    overrides.insert(
        addr(READ),
        AccountOverride {
            state_diff: Some(HashMap::from_iter([(slot(0), slot(7))])),
            ..Default::default()
        },
    );
    let output = |o: CallOutcome| match o {
        CallOutcome::Success { output, .. } => word(&output),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        output(run_with(&to(READ), &overrides, &BlockOverrides::default()).unwrap()),
        U256::from(7)
    );
    // `state` replaces the storage: slot 0 reads zero when only slot 5 is given.
    overrides.insert(
        addr(READ),
        AccountOverride {
            state: Some(HashMap::from_iter([(slot(5), slot(1))])),
            ..Default::default()
        },
    );
    assert_eq!(
        output(run_with(&to(READ), &overrides, &BlockOverrides::default()).unwrap()),
        U256::ZERO
    );
    // Code on an account that does not exist, with a balance.
    overrides.clear();
    overrides.insert(
        addr(0x77),
        AccountOverride {
            code: Some(read_code(3)),
            state_diff: Some(HashMap::from_iter([(slot(3), slot(33))])),
            balance: Some(U256::from(1)),
            ..Default::default()
        },
    );
    assert_eq!(
        output(run_with(&to(0x77), &overrides, &BlockOverrides::default()).unwrap()),
        U256::from(33)
    );
    // Both is an error.
    overrides.insert(
        addr(0x77),
        AccountOverride {
            state: Some(HashMap::default()),
            state_diff: Some(HashMap::default()),
            ..Default::default()
        },
    );
    let err = run_with(&to(0x77), &overrides, &BlockOverrides::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("account {} has both 'state' and 'stateDiff'", addr(0x77))
    );
    // A balance override funds an unfunded sender.
    overrides.clear();
    overrides.insert(
        addr(0x99),
        AccountOverride {
            balance: Some(U256::from(10u64.pow(18))),
            ..Default::default()
        },
    );
    let paying = CallRequest {
        from: Some(addr(0x99)),
        gas_price: Some(10),
        ..to(READ)
    };
    assert!(run(&paying).is_err());
    assert!(
        run_with(&paying, &overrides, &BlockOverrides::default())
            .unwrap()
            .is_success()
    );

    let block_overrides = BlockOverrides {
        number: Some(12_345),
        ..Default::default()
    };
    assert_eq!(
        output(run_with(&to(NUMBER), &StateOverrides::default(), &block_overrides).unwrap()),
        U256::from(12_345)
    );
    assert_eq!(output(run(&to(NUMBER)).unwrap()), U256::from(10));
}

/// Whether the call succeeds with exactly `gas`.
fn succeeds_with(request: &CallRequest, gas: u64) -> bool {
    let request = CallRequest {
        gas: Some(gas),
        ..request.clone()
    };
    match run(&request) {
        Ok(outcome) => outcome.is_success(),
        Err(CallError::InvalidTransaction { .. }) => false,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_plain_transfer_is_estimated_at_21000() {
    let request = CallRequest {
        from: Some(addr(RICH)),
        to: Some(addr(0x55)),
        value: Some(U256::from(1)),
        ..Default::default()
    };
    assert_eq!(estimate(&request).unwrap(), 21_000);
    assert!(!succeeds_with(&request, 20_999));
}

#[test]
fn estimates_are_the_smallest_limit_that_succeeds() {
    let create = CallRequest {
        // Init code: SLOAD(0), BALANCE(0x31), then return empty code.
        input: Bytes::from_static(&[
            0x60, 0, 0x54, 0x50, 0x60, 0x31, 0x31, 0x50, 0x60, 0, 0x60, 0, 0xf3,
        ]),
        ..Default::default()
    };
    for request in [
        to(STORE),
        to(READ),
        to(FORWARD),
        to(TOUCH),
        to(CLEAR),
        create,
    ] {
        let estimate = estimate(&request).unwrap();
        assert!(
            succeeds_with(&request, estimate),
            "{request:?} at {estimate}"
        );
        assert!(
            !succeeds_with(&request, estimate - 1),
            "{request:?} also succeeds at {}",
            estimate - 1
        );
    }
    // The forwarding call needs more than it uses: the 63/64 rule keeps back part of the
    // gas at the CALL, and the estimate accounts for it.
    // So does the clearing call, whose refund is paid only after it ran.
    for contract in [FORWARD, CLEAR] {
        let estimate = estimate(&to(contract)).unwrap();
        let used = run(&to(contract)).unwrap().gas_used();
        assert!(estimate > used, "estimate {estimate}, used {used}");
    }
}

#[test]
fn estimates_report_why_the_call_fails_at_the_cap() {
    match estimate(&to(REVERT)).unwrap_err() {
        EstimateError::Reverted { output } => {
            assert_eq!(output.as_ref(), [0xde, 0xad, 0xbe, 0xef]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        estimate(&to(LOOP)).unwrap_err(),
        EstimateError::GasRequiredExceedsAllowance {
            allowance: 30_000_000
        }
    );
    assert_eq!(
        estimate(&to(INVALID)).unwrap_err(),
        EstimateError::Halted {
            reason: "invalid opcode".into()
        }
    );
    // A paying sender is bounded by its balance: 1e12 wei at 1e6 per gas buys 1e6 gas.
    let request = CallRequest {
        from: Some(addr(RICH)),
        gas_price: Some(1_000_000),
        ..to(LOOP)
    };
    assert_eq!(
        estimate(&request).unwrap_err(),
        EstimateError::GasRequiredExceedsAllowance {
            allowance: 1_000_000
        }
    );
    let request = CallRequest {
        from: Some(addr(0x99)),
        gas_price: Some(1),
        value: Some(U256::from(1)),
        ..to(READ)
    };
    assert_eq!(
        estimate(&request).unwrap_err().to_string(),
        "insufficient funds for transfer"
    );
}

#[test]
fn access_lists_record_what_a_call_touches() {
    let result = create_access_list(
        &state(),
        &block(),
        &rules(),
        &to(TOUCH),
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &CallOptions::default(),
    )
    .unwrap();
    let slot = |n: u64| B256::from(U256::from(n));
    // Sorted by address: the recipient only for its slot, the balance target bare, the
    // callee with its slot; not the sender, not the precompile.
    assert_eq!(
        result.access_list,
        AccessList(vec![
            AccessListItem {
                address: addr(TOUCH),
                storage_keys: vec![slot(1)],
            },
            AccessListItem {
                address: addr(READ2),
                storage_keys: vec![slot(2)],
            },
            AccessListItem {
                address: addr(0x31),
                storage_keys: vec![],
            },
        ])
    );
    assert_eq!(result.failure, None);
    // The gas is that of the call with the list.
    let with_list = run(&CallRequest {
        access_list: Some(result.access_list.clone()),
        ..to(TOUCH)
    })
    .unwrap();
    assert_eq!(result.gas_used, with_list.gas_used());
    assert_ne!(result.gas_used, run(&to(TOUCH)).unwrap().gas_used());

    // A creation: the new contract is not listed bare, its slot is; the sender never is.
    let sender = addr(RICH);
    let created = create_access_list(
        &state(),
        &block(),
        &rules(),
        &CallRequest {
            from: Some(sender),
            input: Bytes::from_static(&[
                0x60, 0, 0x54, 0x50, 0x73, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x31, 0x50, 0x00,
            ]),
            ..Default::default()
        },
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &CallOptions::default(),
    )
    .unwrap();
    assert_eq!(
        created.access_list,
        AccessList(vec![AccessListItem {
            address: sender.create(0),
            storage_keys: vec![slot(0)],
        }])
    );

    let reverted = create_access_list(
        &state(),
        &block(),
        &rules(),
        &to(REVERT),
        &StateOverrides::default(),
        &BlockOverrides::default(),
        &CallOptions::default(),
    )
    .unwrap();
    assert_eq!(
        reverted.failure,
        Some(CallFailure::Revert {
            output: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])
        })
    );
    assert_eq!(reverted.failure.unwrap().to_string(), "execution reverted");
}
