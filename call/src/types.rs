//! What a call is asked and what it answers: the request, overrides and options, the
//! outcome, the errors (with geth's wording), and the defaults geth uses.

use alloy_eips::{eip2930::AccessList, eip7702::SignedAuthorization};
use alloy_primitives::{Address, B256, Bytes, Log, U256, map::HashMap};
use std::time::{Duration, Instant};

/// geth's default `--rpc.gascap`: the most gas one call may use.
pub const DEFAULT_GAS_CAP: u64 = 50_000_000;

/// Gas of a plain value transfer.
pub(crate) const TX_GAS: u64 = 21_000;

/// Gas a `CALL` with value hands the callee for free (added to the first guess of
/// [`estimate_gas`], as geth does).
pub(crate) const CALL_STIPEND: u64 = 2_300;

/// How many interpreter steps pass between two looks at the clock.
pub(crate) const DEADLINE_CHECK_INTERVAL: u64 = 4_096;

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
pub(crate) fn revert_message(output: &[u8]) -> String {
    match revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_owned(),
    }
}

/// A duration the way Go prints one, for the usual round values (`5s`, `1.5s`, `300ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    format!("{d:?}")
}
