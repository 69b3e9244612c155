//! One simulation: a request prepared against a block and a state, run at a given gas limit
//! under the deadline and step limit, and its result read the way geth reads it.

use crate::{
    db::CallDb,
    inspect::{AccessTracer, CallInspector, Stop},
    types::{BlockOverrides, CallError, CallOptions, CallOutcome, CallRequest, StateOverrides},
};
use alloy_primitives::{Address, B256, TxKind, U256};
use parallax_execution::{BlockEnv, ChainRules, StateError, StateView, block_env, cfg_env};
use revm::{
    Context, Database, ExecuteEvm, InspectEvm, MainBuilder, MainContext,
    context::{
        BlockEnv as RevmBlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction, OutOfGasError},
    },
    context_interface::Cfg,
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
};
use std::time::{Duration, Instant};

/// One prepared simulation: the environment built once and run at different gas limits.
pub(crate) struct Simulation<'a, S: ?Sized> {
    db: CallDb<'a, S>,
    cfg: CfgEnv,
    pub(crate) block: RevmBlockEnv,
    pub(crate) tx: TxEnv,
    pub(crate) from: Address,
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
pub(crate) enum Attempt {
    Success(ExecutionResult),
    /// A revert or halt, or `None` for a limit below the intrinsic gas or the EIP-7623 floor.
    Failed(Option<ExecutionResult>),
}

impl<'a, S: StateView + ?Sized> Simulation<'a, S> {
    pub(crate) fn new(
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
    pub(crate) fn default_gas(&self) -> u64 {
        match self.requested_gas {
            Some(gas) if self.gas_cap != 0 => gas.min(self.gas_cap),
            Some(gas) => gas,
            None if self.gas_cap != 0 => self.gas_cap.min(self.block.gas_limit),
            None => self.block.gas_limit,
        }
    }

    pub(crate) fn fee_cap(&self) -> u128 {
        self.fees.0
    }

    pub(crate) fn balance(&mut self, address: Address) -> Result<U256, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(U256::ZERO, |a| a.balance))
    }

    pub(crate) fn nonce(&mut self, address: Address) -> Result<u64, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(0, |a| a.nonce))
    }

    pub(crate) fn code_hash(&mut self, address: Address) -> Result<B256, CallError> {
        Ok(self
            .db
            .basic(address)
            .map_err(|e| CallError::State(e.0))?
            .map_or(KECCAK_EMPTY, |a| a.code_hash))
    }

    /// Runs the message with `gas_limit`, returning the raw result.
    pub(crate) fn execute(
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
    pub(crate) fn run(
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
    pub(crate) fn attempt(&mut self, gas_limit: u64) -> Result<Attempt, CallError> {
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

    pub(crate) fn succeeds(&mut self, gas_limit: u64) -> Result<bool, CallError> {
        Ok(matches!(self.attempt(gas_limit)?, Attempt::Success(_)))
    }

    pub(crate) fn error(&self, error: EVMError<StateError>, gas: u64) -> CallError {
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
    pub(crate) fn invalid_message(&self, error: &InvalidTransaction, gas: u64) -> String {
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
pub(crate) const TIMED_OUT: &str = "call deadline passed";

/// The marker of a run stopped by its step limit.
pub(crate) const STEP_LIMIT: &str = "call step limit reached";

pub(crate) fn outcome(result: ExecutionResult) -> CallOutcome {
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
pub(crate) fn halt_message(reason: &HaltReason) -> String {
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
