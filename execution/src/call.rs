//! Running one message call against a state without committing anything: the EVM side of
//! Ethereum JSON-RPC's `eth_call`, `eth_estimateGas` and `eth_createAccessList`, with geth's
//! semantics (`DoCall`, `gasestimator.Estimate`, `AccessList`).
//!
//! - [`call`] runs a [`CallRequest`] over any [`StateView`] (the head's [`DbState`], an older
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
//! results and errors (whose messages are geth's).
//!
//! [`DbState`]: crate::DbState
//! [`HistoricalState`]: crate::HistoricalState

use crate::{
    evm::{block_env, cfg_env, to_info},
    state::{StateError, StateView},
    types::{BlockEnv, ChainRules},
};
use alloy_eips::{eip2930::AccessList, eip2930::AccessListItem, eip7702::SignedAuthorization};
use alloy_primitives::{
    Address, B256, Bytes, Log, TxKind, U256, keccak256,
    map::{HashMap, HashSet},
};
use revm::{
    Context, Database, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    bytecode::{Bytecode, opcode},
    context::{
        BlockEnv as RevmBlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction, OutOfGasError},
    },
    context_interface::Cfg,
    interpreter::{
        InstructionResult, Interpreter,
        interpreter_types::{InputsTr, Jumps},
    },
    precompile::{PrecompileSpecId, Precompiles},
    primitives::{KECCAK_EMPTY, eip7825::TX_GAS_LIMIT_CAP, hardfork::SpecId},
    state::AccountInfo,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

/// geth's default `--rpc.gascap`: the most gas one call may use.
pub const DEFAULT_GAS_CAP: u64 = 50_000_000;

/// Gas of a plain value transfer.
const TX_GAS: u64 = 21_000;

/// Gas a `CALL` with value hands the callee for free (added to the first guess of
/// [`estimate_gas`], as geth does).
const CALL_STIPEND: u64 = 2_300;

/// How many interpreter steps pass between two looks at the clock.
const DEADLINE_CHECK_INTERVAL: u64 = 4_096;

/// A message call (or, with `to == None`, a contract creation) to simulate: the fields of a
/// JSON-RPC transaction object. Absent fields take geth's defaults (see [`call`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// The sender; the zero address when absent.
    pub from: Option<Address>,
    /// The recipient; `None` creates a contract with `input` as its init code.
    pub to: Option<Address>,
    /// The gas limit; `min(gas_cap, block gas limit)` when absent, capped by the gas cap.
    pub gas: Option<u64>,
    /// Legacy gas price (exclusive with the EIP-1559 fields).
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Value sent with the call.
    pub value: Option<U256>,
    /// Calldata, or init code for a creation.
    pub input: Bytes,
    /// The nonce. Calls do not check it (the sender's state nonce is what a creation uses).
    pub nonce: Option<u64>,
    /// EIP-2930 access list.
    pub access_list: Option<AccessList>,
    /// EIP-7702 authorizations (makes the call a set-code transaction).
    pub authorization_list: Option<Vec<SignedAuthorization>>,
    /// EIP-4844 blob versioned hashes (makes the call a blob transaction).
    pub blob_versioned_hashes: Option<Vec<B256>>,
    /// EIP-4844 blob fee cap.
    pub max_fee_per_blob_gas: Option<u128>,
}

/// Replacement values for one account for the duration of a call (geth's state override
/// set entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountOverride {
    /// New balance.
    pub balance: Option<U256>,
    /// New nonce.
    pub nonce: Option<u64>,
    /// New code (empty removes it).
    pub code: Option<Bytes>,
    /// Replaces the whole storage: slots not listed read as zero.
    pub state: Option<HashMap<B256, B256>>,
    /// Patches individual slots; the others keep their values.
    pub state_diff: Option<HashMap<B256, B256>>,
}

/// Accounts to override during a call, by address.
pub type StateOverrides = HashMap<Address, AccountOverride>;

/// Replacement header fields for a call (geth's block overrides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockOverrides {
    /// Block number (`NUMBER`).
    pub number: Option<u64>,
    /// Timestamp (`TIMESTAMP`).
    pub timestamp: Option<u64>,
    /// Block gas limit (`GASLIMIT`, and the default gas of a call).
    pub gas_limit: Option<u64>,
    /// Fee recipient (`COINBASE`).
    pub coinbase: Option<Address>,
    /// Base fee (`BASEFEE`, and the fee checks).
    pub base_fee: Option<u64>,
    /// `PREVRANDAO`.
    pub prevrandao: Option<B256>,
}

/// Limits of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// The most gas a call may be given (geth's `--rpc.gascap`); zero means no cap.
    pub gas_cap: u64,
    /// When set, execution is aborted once this instant has passed (checked every few
    /// thousand EVM steps) and the call fails with [`CallError::Timeout`]. Checking costs
    /// an inspector, so none is installed without a deadline.
    pub deadline: Option<Instant>,
    /// When set, execution stops after this many interpreter steps (instructions, counted
    /// over all call frames) and the call fails with [`CallError::StepLimit`]. The limit only
    /// observes: a call that finishes within it has exactly the outcome it has without one.
    /// A server uses it to answer cheap calls where it stands and hand the rest to a thread
    /// that may take longer.
    pub step_limit: Option<u64>,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            gas_cap: DEFAULT_GAS_CAP,
            deadline: None,
            step_limit: None,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned normally.
    Success {
        /// Return data (the deployed code for a creation).
        output: Bytes,
        /// Gas used, after refunds.
        gas_used: u64,
        /// Logs emitted.
        logs: Vec<Log>,
    },
    /// It reverted (`REVERT`).
    Revert {
        /// Revert data (`Error(string)`, a custom error, ...); see [`revert_reason`].
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// It halted exceptionally (out of gas, invalid opcode, ...): all its gas is used.
    Halt {
        /// What happened, in geth's words (`"out of gas"`, `"invalid opcode"`, ...).
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
}

impl CallOutcome {
    /// Gas used by the call.
    pub fn gas_used(&self) -> u64 {
        match self {
            Self::Success { gas_used, .. }
            | Self::Revert { gas_used, .. }
            | Self::Halt { gas_used, .. } => *gas_used,
        }
    }

    /// Whether the call returned normally.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success { .. })
    }

    /// The failure, if the call did not succeed.
    pub fn failure(&self) -> Option<CallFailure> {
        match self {
            Self::Success { .. } => None,
            Self::Revert { output, .. } => Some(CallFailure::Revert {
                output: output.clone(),
            }),
            Self::Halt { reason, .. } => Some(CallFailure::Halt {
                reason: reason.clone(),
            }),
        }
    }
}

/// Why an executed call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// It reverted.
    #[error("{}", revert_message(.output))]
    Revert {
        /// Revert data.
        output: Bytes,
    },
    /// It halted.
    #[error("{reason}")]
    Halt {
        /// What happened, in geth's words.
        reason: String,
    },
}

/// Why a call could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The message is not valid against the state and block (funds, fee caps, intrinsic
    /// gas, ...). The message is geth's; geth's `eth_call` shows it as
    /// `err: <message> (supplied gas <gas>)`.
    #[error("{message}")]
    InvalidTransaction {
        /// geth's wording, e.g. `insufficient funds for gas * price + value: address 0x…
        /// have 0 want 1`.
        message: String,
        /// The gas limit the message was run with.
        gas: u64,
    },
    /// The request or its overrides are malformed (geth reports these before running).
    #[error("{0}")]
    InvalidRequest(String),
    /// The deadline of [`CallOptions`] passed.
    #[error("execution aborted (timeout = {})", go_duration(*.timeout))]
    Timeout {
        /// Time from the start of the call to its deadline.
        timeout: Duration,
    },
    /// The step limit of [`CallOptions`] was reached before the call finished.
    #[error("execution stopped after {limit} steps")]
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// Reading the state failed.
    #[error("state read failed: {0}")]
    State(String),
    /// revm refused the block environment or failed in another way.
    #[error("{0}")]
    Evm(String),
}

/// Why a gas estimate could not be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    /// The call reverts even with the most gas it may have. geth's RPC answers with error
    /// code 3, `execution reverted: <reason>` and the revert data.
    #[error("{}", revert_message(.output))]
    Reverted {
        /// Revert data.
        output: Bytes,
    },
    /// The call runs out of gas even with the most gas it may have (or that is below its
    /// intrinsic gas).
    #[error("gas required exceeds allowance ({allowance})")]
    GasRequiredExceedsAllowance {
        /// The most gas it may have.
        allowance: u64,
    },
    /// The call halts for a reason other than gas with the most gas it may have.
    #[error("{reason}")]
    Halted {
        /// What happened, in geth's words.
        reason: String,
    },
    /// The call cannot run (invalid, timed out, state read error).
    #[error(transparent)]
    Call(#[from] CallError),
}

/// The result of [`create_access_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessListResult {
    /// Addresses and slots the call touches (sorted), without the sender, the recipient
    /// (or created contract) and the precompiles as bare addresses; their slots are listed.
    pub access_list: AccessList,
    /// Gas used by the call with that access list.
    pub gas_used: u64,
    /// Set when the call with that list reverts or halts (geth's `error` field).
    pub failure: Option<CallFailure>,
}

/// The reason of an `Error(string)` revert, if `output` is one.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    // keccak256("Error(string)")[..4]
    const SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    let data = output.strip_prefix(&SELECTOR[..])?;
    let word = |at: usize| -> Option<usize> {
        let bytes = data.get(at..at.checked_add(32)?)?;
        usize::try_from(U256::from_be_slice(bytes)).ok()
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = data.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// geth's message for a revert: `execution reverted`, with `: <reason>` when the data is an
/// `Error(string)`.
fn revert_message(output: &[u8]) -> String {
    match revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_owned(),
    }
}

/// A duration the way Go prints one, for the usual round values (`5s`, `1.5s`, `300ms`).
fn go_duration(d: Duration) -> String {
    format!("{d:?}")
}

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

/// One prepared simulation: the environment built once and run at different gas limits.
struct Simulation<'a, S: ?Sized> {
    db: CallDb<'a, S>,
    cfg: CfgEnv,
    block: RevmBlockEnv,
    tx: TxEnv,
    from: Address,
    /// The request's gas limit.
    requested_gas: Option<u64>,
    gas_cap: u64,
    deadline: Option<Instant>,
    step_limit: Option<u64>,
    started: Instant,
    /// The fee fields as given: `(fee cap, tip cap)`.
    fees: (u128, u128),
}

/// One run of [`estimate_gas`]'s search.
enum Attempt {
    Success(ExecutionResult),
    /// A revert or halt, or `None` for a limit below the intrinsic gas or the EIP-7623 floor.
    Failed(Option<ExecutionResult>),
}

impl<'a, S: StateView + ?Sized> Simulation<'a, S> {
    fn new(
        state: &'a S,
        block: &BlockEnv,
        rules: &ChainRules,
        request: &CallRequest,
        state_overrides: &StateOverrides,
        block_overrides: &BlockOverrides,
        options: &CallOptions,
    ) -> Result<Self, CallError> {
        let started = Instant::now();
        let mut env = block.clone();
        if let Some(number) = block_overrides.number {
            env.number = number;
        }
        if let Some(timestamp) = block_overrides.timestamp {
            env.timestamp = timestamp;
        }
        if let Some(gas_limit) = block_overrides.gas_limit {
            env.gas_limit = gas_limit;
        }
        if let Some(coinbase) = block_overrides.coinbase {
            env.beneficiary = coinbase;
        }
        if let Some(base_fee) = block_overrides.base_fee {
            env.base_fee = Some(base_fee);
        }
        if let Some(prevrandao) = block_overrides.prevrandao {
            env.prevrandao = Some(prevrandao);
        }
        let mut revm_block = block_env(&env, rules);

        if request.gas_price.is_some()
            && (request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some())
        {
            return Err(CallError::InvalidRequest(
                "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".to_owned(),
            ));
        }
        let london = rules.spec.is_enabled_in(SpecId::LONDON);
        let (fee_cap, tip) = match request.gas_price {
            Some(price) => (price, price),
            None if london => (
                request.max_fee_per_gas.unwrap_or(0),
                request.max_priority_fee_per_gas.unwrap_or(0),
            ),
            None => (0, 0),
        };
        // geth's NoBaseFee: a call that pays nothing runs as if the base fee were zero.
        if fee_cap == 0 && tip == 0 {
            revm_block.basefee = 0;
        }
        let blob_fee = request.max_fee_per_blob_gas.unwrap_or(0);
        if blob_fee == 0
            && let Some(blob) = &mut revm_block.blob_excess_gas_and_price
        {
            blob.blob_gasprice = 0;
        }

        let has_blobs = request
            .blob_versioned_hashes
            .as_ref()
            .is_some_and(|h| !h.is_empty());
        let tx_type = if request.authorization_list.is_some() {
            4
        } else if has_blobs {
            3
        } else if london && request.gas_price.is_none() {
            2
        } else if request.access_list.is_some() {
            1
        } else {
            0
        };
        let from = request.from.unwrap_or_default();
        let tx = TxEnv {
            tx_type,
            caller: from,
            gas_limit: 0,
            gas_price: fee_cap,
            kind: request.to.map_or(TxKind::Create, TxKind::Call),
            value: request.value.unwrap_or_default(),
            data: request.input.clone(),
            nonce: request.nonce.unwrap_or(0),
            chain_id: Some(rules.chain_id),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: (tx_type >= 2).then_some(tip),
            blob_hashes: request.blob_versioned_hashes.clone().unwrap_or_default(),
            max_fee_per_blob_gas: blob_fee,
            authorization_list: request
                .authorization_list
                .iter()
                .flatten()
                .cloned()
                .map(revm::context::either::Either::Left)
                .collect(),
        };

        let mut cfg = cfg_env(rules);
        cfg.disable_nonce_check = true;
        cfg.disable_block_gas_limit = true;
        cfg.disable_eip3607 = true;
        cfg.tx_gas_limit_cap = Some(u64::MAX);

        Ok(Self {
            db: CallDb::new(state, state_overrides)?,
            cfg,
            block: revm_block,
            tx,
            from,
            requested_gas: request.gas,
            gas_cap: options.gas_cap,
            deadline: options.deadline,
            step_limit: options.step_limit,
            started,
            fees: (fee_cap, tip),
        })
    }

    /// The gas of a run without a limit of its own: the request's, capped, or
    /// `min(cap, block gas limit)`.
    fn default_gas(&self) -> u64 {
        match self.requested_gas {
            Some(gas) if self.gas_cap != 0 => gas.min(self.gas_cap),
            Some(gas) => gas,
            None if self.gas_cap != 0 => self.gas_cap.min(self.block.gas_limit),
            None => self.block.gas_limit,
        }
    }

    fn fee_cap(&self) -> u128 {
        self.fees.0
    }

    fn balance(&mut self, address: Address) -> Result<U256, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(U256::ZERO, |a| a.balance))
    }

    fn nonce(&mut self, address: Address) -> Result<u64, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(0, |a| a.nonce))
    }

    fn code_hash(&mut self, address: Address) -> Result<B256, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(KECCAK_EMPTY, |a| a.code_hash))
    }

    /// Runs the message with `gas_limit`, returning the raw result.
    fn execute(
        &mut self,
        gas_limit: u64,
        tracer: Option<AccessTracer>,
    ) -> Result<(ExecutionResult, Option<AccessTracer>), EVMError<StateError>> {
        let mut tx = self.tx.clone();
        tx.gas_limit = gas_limit;
        let ctx = Context::mainnet()
            .with_db(&mut self.db)
            .with_cfg(self.cfg.clone())
            .with_block(self.block.clone());
        if self.deadline.is_none() && self.step_limit.is_none() && tracer.is_none() {
            let mut evm = ctx.build_mainnet();
            return Ok((evm.transact_one(tx)?, None));
        }
        let inspector = CallInspector {
            deadline: self.deadline,
            step_limit: self.step_limit,
            steps: 0,
            stopped: None,
            tracer,
        };
        let mut evm = ctx.build_mainnet_with_inspector(inspector);
        let result = evm.inspect_one_tx(tx);
        let inspector = std::mem::replace(&mut evm.inspector, CallInspector::idle());
        match inspector.stopped {
            Some(Stop::Deadline) => return Err(EVMError::Custom(TIMED_OUT.to_owned())),
            Some(Stop::Steps) => return Err(EVMError::Custom(STEP_LIMIT.to_owned())),
            None => {}
        }
        Ok((result?, inspector.tracer))
    }

    /// [`Self::execute`] as a call result.
    fn run(
        &mut self,
        gas_limit: u64,
        tracer: Option<AccessTracer>,
    ) -> Result<(CallOutcome, Option<AccessTracer>), CallError> {
        match self.execute(gas_limit, tracer) {
            Ok((result, tracer)) => Ok((outcome(result), tracer)),
            Err(e) => Err(self.error(e, gas_limit)),
        }
    }

    /// One run of the gas search: invalid-gas errors are failures, other errors are errors.
    fn attempt(&mut self, gas_limit: u64) -> Result<Attempt, CallError> {
        match self.execute(gas_limit, None) {
            Ok((result, _)) if result.is_success() => Ok(Attempt::Success(result)),
            Ok((result, _)) => Ok(Attempt::Failed(Some(result))),
            Err(EVMError::Transaction(
                InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
                | InvalidTransaction::GasFloorMoreThanGasLimit { .. },
            )) => Ok(Attempt::Failed(None)),
            Err(e) => Err(self.error(e, gas_limit)),
        }
    }

    fn succeeds(&mut self, gas_limit: u64) -> Result<bool, CallError> {
        Ok(matches!(self.attempt(gas_limit)?, Attempt::Success(_)))
    }

    fn error(&self, error: EVMError<StateError>, gas: u64) -> CallError {
        match error {
            EVMError::Database(e) => CallError::State(e.0),
            EVMError::Custom(e) if e == STEP_LIMIT => CallError::StepLimit {
                limit: self.step_limit.unwrap_or_default(),
            },
            EVMError::Custom(e) if e == TIMED_OUT => {
                let timeout = self
                    .deadline
                    .map(|d| d.saturating_duration_since(self.started))
                    .unwrap_or_default();
                CallError::Timeout {
                    timeout: Duration::from_millis(timeout.as_millis() as u64),
                }
            }
            EVMError::Transaction(e) => CallError::InvalidTransaction {
                message: self.invalid_message(&e, gas),
                gas,
            },
            EVMError::Header(e) => CallError::Evm(format!("invalid block: {e}")),
            other => CallError::Evm(other.to_string()),
        }
    }

    /// geth's wording for an invalid message.
    fn invalid_message(&self, error: &InvalidTransaction, gas: u64) -> String {
        let from = self.from;
        let (fee_cap, tip) = self.fees;
        match error {
            InvalidTransaction::LackOfFundForMaxFee { fee, balance } => format!(
                "insufficient funds for gas * price + value: address {from} have {balance} want \
                 {fee}"
            ),
            InvalidTransaction::GasPriceLessThanBasefee => format!(
                "max fee per gas less than block base fee: address {from}, maxFeePerGas: \
                 {fee_cap}, baseFee: {}",
                self.block.basefee
            ),
            InvalidTransaction::PriorityFeeGreaterThanMaxFee => format!(
                "max priority fee per gas higher than max fee per gas: address {from}, \
                 maxPriorityFeePerGas: {tip}, maxFeePerGas: {fee_cap}"
            ),
            InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, .. } => {
                format!("intrinsic gas too low: have {gas}, want {initial_gas}")
            }
            InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, .. } => {
                format!("insufficient gas for floor data gas cost: have {gas}, want {gas_floor}")
            }
            InvalidTransaction::CreateInitCodeSizeLimit => format!(
                "max initcode size exceeded: code size {} limit {}",
                self.tx.data.len(),
                self.cfg.max_initcode_size()
            ),
            InvalidTransaction::BlobGasPriceGreaterThanMax {
                block_blob_gas_price,
                tx_max_fee_per_blob_gas,
            } => format!(
                "max fee per blob gas less than block blob gas fee: address {from}, \
                 maxFeePerBlobGas: {tx_max_fee_per_blob_gas}, blobBaseFee: \
                 {block_blob_gas_price}"
            ),
            InvalidTransaction::EmptyBlobs => "blob transaction missing blob hashes".to_owned(),
            InvalidTransaction::BlobCreateTransaction => {
                "blob transaction of type create".to_owned()
            }
            InvalidTransaction::EmptyAuthorizationList => {
                "EIP-7702 transaction with empty auth list".to_owned()
            }
            InvalidTransaction::OverflowPaymentInTransaction => {
                "insufficient funds for gas * price + value".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// The marker of an aborted run.
const TIMED_OUT: &str = "call deadline passed";
/// The marker of a run stopped by its step limit.
const STEP_LIMIT: &str = "call step limit reached";

fn outcome(result: ExecutionResult) -> CallOutcome {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, logs, .. } => CallOutcome::Success {
            output: output.into_data(),
            gas_used,
            logs,
        },
        ExecutionResult::Revert { output, .. } => CallOutcome::Revert { output, gas_used },
        ExecutionResult::Halt { reason, .. } => CallOutcome::Halt {
            reason: halt_message(&reason),
            gas_used,
        },
    }
}

/// geth's name for an exceptional halt (`core/vm/errors.go`).
fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::InvalidOperand) => "gas uint64 overflow",
        HaltReason::OutOfGas(_) => "out of gas",
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode | HaltReason::NotActivated => {
            "invalid opcode"
        }
        HaltReason::InvalidJump => "invalid jump destination",
        HaltReason::StackUnderflow => "stack underflow",
        HaltReason::StackOverflow => "stack limit reached 1024",
        HaltReason::OutOfOffset => "return data out of bounds",
        HaltReason::CreateCollision => "contract address collision",
        HaltReason::PrecompileError | HaltReason::PrecompileErrorWithContext(_) => {
            "precompiled contract failed"
        }
        HaltReason::NonceOverflow => "nonce uint64 overflow",
        HaltReason::CreateContractSizeLimit => "max code size exceeded",
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef",
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded",
        HaltReason::OverflowPayment => "gas uint64 overflow",
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection"
        }
        HaltReason::OutOfFunds => "insufficient balance for transfer",
        HaltReason::CallTooDeep => "max call depth exceeded",
        #[allow(unreachable_patterns)]
        other => return other.to_string(),
    }
    .to_owned()
}

/// One overridden account, resolved against the base state.
#[derive(Debug)]
struct OverriddenAccount {
    info: AccountInfo,
    storage: HashMap<U256, U256>,
    /// `state` was given: slots not in `storage` read as zero.
    replaced: bool,
}

/// The base state with the overrides on top, as a revm database. Base reads are cached:
/// [`estimate_gas`] and [`create_access_list`] run the same message many times.
struct CallDb<'a, S: ?Sized> {
    base: &'a S,
    accounts: HashMap<Address, OverriddenAccount>,
    codes: HashMap<B256, Bytecode>,
    read_accounts: HashMap<Address, Option<AccountInfo>>,
    read_slots: HashMap<(Address, U256), U256>,
}

impl<'a, S: StateView + ?Sized> CallDb<'a, S> {
    fn new(base: &'a S, overrides: &StateOverrides) -> Result<Self, CallError> {
        let mut accounts = HashMap::default();
        let mut codes = HashMap::default();
        for (address, o) in overrides {
            if o.state.is_some() && o.state_diff.is_some() {
                return Err(CallError::InvalidRequest(format!(
                    "account {address} has both 'state' and 'stateDiff'"
                )));
            }
            let mut info = base
                .account(*address)
                .map_err(|e| CallError::State(e.0))?
                .map(to_info)
                .unwrap_or_default();
            if let Some(balance) = o.balance {
                info.balance = balance;
            }
            if let Some(nonce) = o.nonce {
                info.nonce = nonce;
            }
            if let Some(code) = &o.code {
                if code.is_empty() {
                    info.code_hash = KECCAK_EMPTY;
                    info.code = Some(Bytecode::default());
                } else {
                    let bytecode = Bytecode::new_raw_checked(code.clone()).map_err(|e| {
                        CallError::InvalidRequest(format!(
                            "invalid code override for {address}: {e}"
                        ))
                    })?;
                    info.code_hash = keccak256(code);
                    codes.insert(info.code_hash, bytecode.clone());
                    info.code = Some(bytecode);
                }
            } else if info.code.is_none() && info.code_hash != KECCAK_EMPTY {
                info.code = base
                    .code(info.code_hash)
                    .map_err(|e| CallError::State(e.0))?;
            }
            let slots = o.state.as_ref().or(o.state_diff.as_ref());
            accounts.insert(
                *address,
                OverriddenAccount {
                    info,
                    storage: slots
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                        .collect(),
                    replaced: o.state.is_some(),
                },
            );
        }
        Ok(Self {
            base,
            accounts,
            codes,
            read_accounts: HashMap::default(),
            read_slots: HashMap::default(),
        })
    }
}

impl<S: StateView + ?Sized> Database for CallDb<'_, S> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(Some(account.info.clone()));
        }
        if let Some(info) = self.read_accounts.get(&address) {
            return Ok(info.clone());
        }
        let info = self.base.account(address)?.map(to_info);
        self.read_accounts.insert(address, info.clone());
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.base.code(code_hash)?.unwrap_or_default();
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(account) = self.accounts.get(&address) {
            if let Some(value) = account.storage.get(&index) {
                return Ok(*value);
            }
            if account.replaced {
                return Ok(U256::ZERO);
            }
        }
        if let Some(value) = self.read_slots.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.base.storage(address, index)?;
        self.read_slots.insert((address, index), value);
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash(number)
    }
}

/// The addresses and slots a call touched, as geth's access-list tracer records them.
#[derive(Debug, Clone)]
struct AccessTracer {
    excluded: HashSet<Address>,
    touched: BTreeMap<Address, BTreeSet<B256>>,
}

impl AccessTracer {
    fn new(excluded: HashSet<Address>) -> Self {
        Self {
            excluded,
            touched: BTreeMap::new(),
        }
    }

    /// A tracer with the same exclusions that starts from `list`.
    fn empty_copy_with(&self, list: &AccessList) -> Self {
        let mut copy = Self::new(self.excluded.clone());
        copy.add_list(list);
        copy
    }

    fn add_list(&mut self, list: &AccessList) {
        for item in list.iter() {
            self.add_address(item.address);
            for slot in &item.storage_keys {
                self.add_slot(item.address, *slot);
            }
        }
    }

    fn add_address(&mut self, address: Address) {
        if !self.excluded.contains(&address) {
            self.touched.entry(address).or_default();
        }
    }

    fn add_slot(&mut self, address: Address, slot: B256) {
        self.touched.entry(address).or_default().insert(slot);
    }

    fn to_access_list(&self) -> AccessList {
        AccessList(
            self.touched
                .iter()
                .map(|(address, slots)| AccessListItem {
                    address: *address,
                    storage_keys: slots.iter().copied().collect(),
                })
                .collect(),
        )
    }

    fn step(&mut self, interp: &Interpreter) {
        let stack = interp.stack.data();
        let word = |from_top: usize| -> Option<U256> {
            stack.len().checked_sub(from_top + 1).map(|i| stack[i])
        };
        let address_at = |from_top: usize| -> Option<Address> {
            word(from_top).map(|w| Address::from_word(B256::from(w)))
        };
        match interp.bytecode.opcode() {
            opcode::SLOAD | opcode::SSTORE => {
                if let Some(slot) = word(0) {
                    self.add_slot(interp.input.target_address(), B256::from(slot));
                }
            }
            opcode::EXTCODECOPY
            | opcode::EXTCODEHASH
            | opcode::EXTCODESIZE
            | opcode::BALANCE
            | opcode::SELFDESTRUCT => {
                if let Some(address) = address_at(0) {
                    self.add_address(address);
                }
            }
            opcode::DELEGATECALL | opcode::CALL | opcode::STATICCALL | opcode::CALLCODE
                if stack.len() >= 5 =>
            {
                if let Some(address) = address_at(1) {
                    self.add_address(address);
                }
            }
            _ => {}
        }
    }
}

/// The inspector of a call: the deadline check, the step limit and the access-list tracer,
/// each optional.
struct CallInspector {
    deadline: Option<Instant>,
    step_limit: Option<u64>,
    steps: u64,
    /// Why the run was stopped, once it was.
    stopped: Option<Stop>,
    tracer: Option<AccessTracer>,
}

/// Why [`CallInspector`] stopped a run.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Deadline,
    Steps,
}

impl CallInspector {
    fn idle() -> Self {
        Self {
            deadline: None,
            step_limit: None,
            steps: 0,
            stopped: None,
            tracer: None,
        }
    }
}

impl<CTX> Inspector<CTX> for CallInspector {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if self.stopped.is_some() {
            // Every frame still running is halted in turn.
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        self.steps += 1;
        if self.step_limit.is_some_and(|limit| self.steps > limit) {
            self.stopped = Some(Stop::Steps);
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        if let Some(deadline) = self.deadline
            && self.steps.is_multiple_of(DEADLINE_CHECK_INTERVAL)
            && Instant::now() >= deadline
        {
            self.stopped = Some(Stop::Deadline);
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        if let Some(tracer) = &mut self.tracer {
            tracer.step(interp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let state = crate::InMemoryState::new();
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
}
