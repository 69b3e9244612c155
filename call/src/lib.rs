//! Running one message call against a state without committing anything: the EVM side of
//! Ethereum JSON-RPC's `eth_call`, `eth_estimateGas` and `eth_createAccessList`, with geth's
//! semantics (`DoCall`, `gasestimator.Estimate`, `AccessList`).
//!
//! - [`call`] runs a [`CallRequest`] over any [`StateView`] (the head's [`LatestState`], an older
//!   block's [`HistoricalState`], an in-memory state), with [`StateOverrides`] and
//!   [`BlockOverrides`] on top. As in geth the nonce is not checked, the sender may have code
//!   (EIP-3607 is off), the block gas limit and the EIP-7825 per-transaction cap do not apply,
//!   and when no fee field is given the gas price is zero and the base fee is taken as zero
//!   (so an unfunded sender can call; `BASEFEE` then reads zero, as in geth). When fees are
//!   given they are checked and charged against the sender's balance.
//! - [`estimate_gas`] finds the smallest gas limit with which the call succeeds, by binary
//!   search between what a run at the cap used and the cap.
//! - [`create_access_list`] records the addresses and slots a call touches, re-running with
//!   the list until it no longer grows.
//!
//! Nothing here knows JSON: the RPC layer parses requests into these types and formats the
//! results and errors (whose messages are geth's). Of Parallax's crates it imports only
//! `parallax-execution`, for the [`StateView`] it reads and the revm environment of a block.
//!
//! Modules: `types` (requests, overrides, options, outcomes, errors), `simulation` (one run
//! at a gas limit, read the way geth reads it), `db` (the state under the overrides, as a revm
//! `Database`), `inspect` (the access-list tracer and the deadline and step-limit inspector).
//!
//! [`LatestState`]: parallax_execution::LatestState
//! [`HistoricalState`]: parallax_execution::HistoricalState

mod db;
mod inspect;
mod simulation;
mod types;

#[cfg(test)]
mod tests;

pub use types::{
    AccessListResult, AccountOverride, BlockOverrides, CallError, CallFailure, CallOptions,
    CallOutcome, CallRequest, DEFAULT_GAS_CAP, EstimateError, StateOverrides, revert_reason,
};

use crate::{
    inspect::AccessTracer,
    simulation::{Attempt, Simulation, halt_message},
    types::{CALL_STIPEND, TX_GAS},
};
use alloy_primitives::{Address, U256, map::HashSet};
use parallax_execution::{BlockEnv, ChainRules, StateView};
use revm::{
    context::result::{ExecutionResult, HaltReason},
    precompile::{PrecompileSpecId, Precompiles},
    primitives::{KECCAK_EMPTY, eip7825::TX_GAS_LIMIT_CAP, hardfork::SpecId},
};

/// Runs `request` once against `state` (with the overrides on top) in the block `block`,
/// as geth's `eth_call` does.
///
/// Defaults: `from` the zero address; gas `min(gas_cap, block gas limit)`, and a given gas
/// is capped at `gas_cap`; without any fee field the gas price is zero and the base fee
/// check is skipped (the block's base fee is taken as zero, as geth's `NoBaseFee` does); the
/// nonce is not checked. Fees that are given are checked and charged as in a transaction.
pub fn call<S: StateView>(
    state: &S,
    block: &BlockEnv,
    rules: &ChainRules,
    request: &CallRequest,
    state_overrides: &StateOverrides,
    block_overrides: &BlockOverrides,
    options: &CallOptions,
) -> Result<CallOutcome, CallError> {
    let mut sim = Simulation::new(
        state,
        block,
        rules,
        request,
        state_overrides,
        block_overrides,
        options,
    )?;
    let gas = sim.default_gas();
    sim.run(gas, None).map(|(outcome, _)| outcome)
}

/// The smallest gas limit with which `request` succeeds, by geth's algorithm
/// (`eth_estimateGas`), made exact.
///
/// The upper bound is `request.gas` (when at least 21000) or the block gas limit, lowered to
/// what the sender can pay for when a fee is given, to the gas cap, and from Osaka to the
/// EIP-7825 per-transaction limit. A call that fails at the bound is reported as it failed
/// ([`EstimateError::Reverted`] with its data, [`EstimateError::GasRequiredExceedsAllowance`],
/// [`EstimateError::Halted`]). Otherwise the limit is binary-searched between the gas that
/// run used and the bound; if the search ends just above that used gas, the limit one below
/// is tried as well, and the search goes on downwards if it succeeds, so the answer is the
/// smallest succeeding limit even for calls whose gas use shrinks with their limit. It is
/// exact provided success is monotonic in the gas limit.
pub fn estimate_gas<S: StateView>(
    state: &S,
    block: &BlockEnv,
    rules: &ChainRules,
    request: &CallRequest,
    state_overrides: &StateOverrides,
    block_overrides: &BlockOverrides,
    options: &CallOptions,
) -> Result<u64, EstimateError> {
    let mut sim = Simulation::new(
        state,
        block,
        rules,
        request,
        state_overrides,
        block_overrides,
        options,
    )?;
    let mut hi = match request.gas {
        Some(gas) if gas >= TX_GAS => gas,
        _ => sim.block.gas_limit,
    };
    // What the sender can pay for.
    let fee_cap = sim.fee_cap();
    if fee_cap != 0 {
        let balance = sim.balance(sim.from)?;
        let value = request.value.unwrap_or_default();
        if value > balance {
            return Err(CallError::InvalidTransaction {
                message: "insufficient funds for transfer".to_owned(),
                gas: hi,
            }
            .into());
        }
        let mut available = balance - value;
        if let Some(hashes) = &request.blob_versioned_hashes {
            let blob_cost = U256::from(request.max_fee_per_blob_gas.unwrap_or(0))
                * U256::from(hashes.len() as u64 * revm::primitives::eip4844::GAS_PER_BLOB);
            available = available.saturating_sub(blob_cost);
        }
        let allowance = available / U256::from(fee_cap);
        if allowance < U256::from(hi) {
            hi = allowance.to::<u64>();
        }
    }
    if options.gas_cap != 0 && hi > options.gas_cap {
        hi = options.gas_cap;
    }
    if rules.spec.is_enabled_in(SpecId::OSAKA) && hi > TX_GAS_LIMIT_CAP {
        hi = TX_GAS_LIMIT_CAP;
    }

    // A plain transfer to an account without code costs exactly 21000.
    if let Some(to) = request.to
        && request.input.is_empty()
        && hi >= TX_GAS
        && sim.code_hash(to)? == KECCAK_EMPTY
        && matches!(sim.attempt(TX_GAS)?, Attempt::Success(_))
    {
        return Ok(TX_GAS);
    }

    let (used, spent) = match sim.attempt(hi)? {
        Attempt::Success(result) => (result.tx_gas_used(), result.gas().total_gas_spent()),
        Attempt::Failed(Some(ExecutionResult::Revert { output, .. })) => {
            return Err(EstimateError::Reverted { output });
        }
        Attempt::Failed(Some(ExecutionResult::Halt { reason, .. }))
            if !matches!(reason, HaltReason::OutOfGas(_)) =>
        {
            return Err(EstimateError::Halted {
                reason: halt_message(&reason),
            });
        }
        Attempt::Failed(_) => {
            return Err(EstimateError::GasRequiredExceedsAllowance { allowance: hi });
        }
    };

    // `lo` fails (or is presumed to: a limit below the gas a run used), `hi` succeeds.
    let mut lo = used.saturating_sub(1);
    let mut lo_tested = false;
    // geth's first guess: what the run spent before refunds, plus a call stipend, plus the
    // 1/64 the 63/64 rule withholds at each call.
    let optimistic = (spent.saturating_add(CALL_STIPEND)).saturating_mul(64) / 63;
    if optimistic > lo && optimistic < hi {
        if sim.succeeds(optimistic)? {
            hi = optimistic;
        } else {
            lo = optimistic;
            lo_tested = true;
        }
    }
    loop {
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if sim.succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
                lo_tested = true;
            }
        }
        if lo_tested || lo == 0 {
            return Ok(hi);
        }
        // The presumed failure was never run: check it, and search below if it succeeds.
        if sim.succeeds(lo)? {
            hi = lo;
            lo = 0;
        }
        lo_tested = true;
    }
}

/// The access list of `request` by geth's algorithm (`eth_createAccessList`): run the call
/// recording every address and slot it touches, add them to the list and run again, until
/// the list no longer changes; then report the gas the call uses with it.
///
/// Touched are: the slots of `SLOAD` and `SSTORE` (of the contract whose storage they use),
/// the targets of `BALANCE`, `EXTCODESIZE`, `EXTCODECOPY`, `EXTCODEHASH`, `SELFDESTRUCT`
/// and of the `CALL` family. The sender, the recipient (or the address a creation deploys
/// to) and the precompiles are never added as bare addresses, as in geth; slots are
/// recorded whichever contract they belong to. The request's own access list is the first
/// list (its excluded addresses dropped unless they have slots).
pub fn create_access_list<S: StateView>(
    state: &S,
    block: &BlockEnv,
    rules: &ChainRules,
    request: &CallRequest,
    state_overrides: &StateOverrides,
    block_overrides: &BlockOverrides,
    options: &CallOptions,
) -> Result<AccessListResult, CallError> {
    let mut sim = Simulation::new(
        state,
        block,
        rules,
        request,
        state_overrides,
        block_overrides,
        options,
    )?;
    let to = match request.to {
        Some(to) => to,
        None => {
            let nonce = sim.nonce(sim.from)?;
            sim.from.create(nonce)
        }
    };
    let mut excluded: HashSet<Address> = HashSet::default();
    excluded.insert(sim.from);
    excluded.insert(to);
    excluded.extend(
        Precompiles::new(PrecompileSpecId::from_spec_id(rules.spec))
            .addresses()
            .copied(),
    );
    let mut list = AccessTracer::new(excluded);
    if let Some(initial) = &request.access_list {
        list.add_list(initial);
    }
    // The list is sent with the call: a legacy request becomes an EIP-2930 one.
    if sim.tx.tx_type == 0 && rules.spec.is_enabled_in(SpecId::BERLIN) {
        sim.tx.tx_type = 1;
    }
    let gas = sim.default_gas();
    loop {
        let access_list = list.to_access_list();
        sim.tx.access_list = access_list.clone();
        let (outcome, traced) = sim.run(gas, Some(list.empty_copy_with(&access_list)))?;
        let traced = traced.expect("an access tracer was installed");
        if traced.touched == list.touched {
            return Ok(AccessListResult {
                access_list,
                gas_used: outcome.gas_used(),
                failure: outcome.failure(),
            });
        }
        list = traced;
    }
}
