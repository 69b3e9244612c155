//! Unit tests of the private parts: revert decoding, geth's words for timeouts and halts,
//! and the default gas of a call.

use super::*;
use crate::types::revert_message;
use alloy_primitives::B256;
use revm::context::result::OutOfGasError;
use std::time::Duration;

/// ABI encoding of `Error(reason)`.
fn error_string(reason: &str) -> Vec<u8> {
    let mut out = vec![0x08, 0xc3, 0x79, 0xa0];
    out.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(reason.len()).to_be_bytes::<32>());
    out.extend_from_slice(reason.as_bytes());
    out.resize(out.len().next_multiple_of(32) + 4, 0);
    out
}

#[test]
fn revert_reasons_decode_error_strings_only() {
    assert_eq!(
        revert_reason(&error_string("not enough")).as_deref(),
        Some("not enough")
    );
    assert_eq!(
        revert_message(&error_string("no")),
        "execution reverted: no"
    );
    assert_eq!(revert_reason(&[0xde, 0xad, 0xbe, 0xef]), None);
    assert_eq!(revert_message(&[]), "execution reverted");
    // A length running past the data is not a reason (and does not panic).
    let mut bad = error_string("abc");
    bad[4 + 63] = 0xff;
    assert_eq!(revert_reason(&bad), None);
    assert_eq!(
        CallFailure::Revert {
            output: error_string("x").into()
        }
        .to_string(),
        "execution reverted: x"
    );
}

#[test]
fn timeouts_print_like_go_durations() {
    let timeout = |ms| CallError::Timeout {
        timeout: Duration::from_millis(ms),
    };
    assert_eq!(
        timeout(5_000).to_string(),
        "execution aborted (timeout = 5s)"
    );
    assert_eq!(
        timeout(1_500).to_string(),
        "execution aborted (timeout = 1.5s)"
    );
    assert_eq!(
        timeout(300).to_string(),
        "execution aborted (timeout = 300ms)"
    );
}

#[test]
fn halts_use_geths_words() {
    assert_eq!(
        halt_message(&HaltReason::OutOfGas(OutOfGasError::Basic)),
        "out of gas"
    );
    assert_eq!(halt_message(&HaltReason::OpcodeNotFound), "invalid opcode");
    assert_eq!(
        halt_message(&HaltReason::CallNotAllowedInsideStatic),
        "write protection"
    );
    assert_eq!(
        EstimateError::GasRequiredExceedsAllowance { allowance: 7 }.to_string(),
        "gas required exceeds allowance (7)"
    );
}

#[test]
fn default_gas_follows_the_cap_and_the_block() {
    let state = parallax_execution::InMemoryState::new();
    let block = BlockEnv {
        number: 1,
        timestamp: 1,
        beneficiary: Address::ZERO,
        gas_limit: 30_000_000,
        base_fee: Some(1),
        difficulty: U256::ZERO,
        prevrandao: Some(B256::ZERO),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: None,
        parent_hash: None,
    };
    let rules = ChainRules::new(1, SpecId::PRAGUE);
    let gas = |gas: Option<u64>, gas_cap: u64| {
        Simulation::new(
            &state,
            &block,
            &rules,
            &CallRequest {
                gas,
                ..Default::default()
            },
            &StateOverrides::default(),
            &BlockOverrides::default(),
            &CallOptions {
                gas_cap,
                ..CallOptions::default()
            },
        )
        .unwrap()
        .default_gas()
    };
    assert_eq!(gas(None, DEFAULT_GAS_CAP), 30_000_000);
    assert_eq!(gas(None, 1_000_000), 1_000_000);
    assert_eq!(gas(None, 0), 30_000_000);
    assert_eq!(gas(Some(60_000_000), DEFAULT_GAS_CAP), DEFAULT_GAS_CAP);
    assert_eq!(gas(Some(40_000_000), DEFAULT_GAS_CAP), 40_000_000);
    assert_eq!(gas(Some(60_000_000), 0), 60_000_000);
}
