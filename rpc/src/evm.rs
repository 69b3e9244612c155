//! `eth_call`, `eth_estimateGas`, `eth_createAccessList` (the execution crate's call API over
//! the state after any committed block) and `eth_getProof` (Merkle proofs against the state
//! root of the head or of a recent block).

use crate::{
    error::{RpcError, RpcResult, SERVER_ERROR},
    read::Api,
};
use alloy_consensus::Header;
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, TxKind, U64, U256};
use alloy_rpc_types_eth::{
    BlockOverrides as RpcBlockOverrides, EIP1186AccountProofResponse, EIP1186StorageProof,
    TransactionRequest, state::StateOverride,
};
use alloy_serde::storage::JsonStorageKey;
use alloy_trie::EMPTY_ROOT_HASH;
use parallax_call::{
    self as call, AccountOverride, BlockOverrides, CallError, CallOptions, CallOutcome,
    CallRequest, EstimateError, StateOverrides,
};
use parallax_execution::{BlockEnv, HistoricalState, LatestState, StateView};
use parallax_trie::StateRootError;
use serde_json::{Value, json};
use std::time::Instant;

/// Most EVM steps an `eth_call` may take on an async worker (see [`Api::try_call_inline`]).
/// A token's `balanceOf` takes a few hundred; ten thousand steps take well under a
/// millisecond unless most of them read cold storage.
pub(crate) const INLINE_STEPS: u64 = 10_000;

/// Most storage keys one `eth_getProof` may ask for.
const MAX_PROOF_KEYS: usize = 1024;

/// What `eth_call`, `eth_estimateGas` and `eth_createAccessList` are asked: the message, the
/// block whose post-state it runs on, and the overrides.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) request: TransactionRequest,
    pub(crate) block: Option<BlockId>,
    pub(crate) state: Option<StateOverride>,
    /// Block overrides (`eth_call` only).
    pub(crate) header: Option<RpcBlockOverrides>,
}

/// What one EVM method was asked, resolved against the snapshot.
struct Prepared {
    request: CallRequest,
    state_overrides: StateOverrides,
    block_overrides: BlockOverrides,
    header: Header,
    number: u64,
}

/// Which of the three EVM methods runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Call,
    EstimateGas,
    AccessList,
}

impl Api<'_> {
    /// Runs an `eth_call` at the head where the request stands, with the EVM stopped after
    /// [`INLINE_STEPS`]: `Some` answer when it finished (exactly the answer of an unbounded
    /// run, since the limit only observes), `None` when the call must go to the blocking pool
    /// (it ran longer, or reads a past block's state).
    pub(crate) fn try_call_inline(mut self, call: &Call) -> Option<RpcResult<Bytes>> {
        self.step_limit = Some(INLINE_STEPS);
        let result = self.call(call);
        (!self.over_budget.get()).then_some(result)
    }

    /// `eth_call`.
    pub(crate) fn call(&self, call: &Call) -> RpcResult<Bytes> {
        match self.evm(Method::Call, call)? {
            Value::String(s) => s.parse().map_err(RpcError::internal),
            other => Err(RpcError::internal(format!(
                "unexpected call output {other}"
            ))),
        }
    }

    /// `eth_estimateGas`.
    pub(crate) fn estimate_gas(&self, call: &Call) -> RpcResult<U64> {
        serde_json::from_value(self.evm(Method::EstimateGas, call)?).map_err(RpcError::internal)
    }

    /// `eth_createAccessList`.
    pub(crate) fn create_access_list(&self, call: &Call) -> RpcResult<Value> {
        self.evm(Method::AccessList, call)
    }

    /// The methods that run the EVM.
    fn evm(&self, method: Method, call: &Call) -> RpcResult<Value> {
        let prepared = self.prepare(call)?;
        let head = self.head()?;
        if self.step_limit.is_some() && prepared.number != head {
            // Past state is read through the history tables: not tried under a step limit.
            self.over_budget.set(true);
            return Err(RpcError::internal("not tried under a step limit"));
        }
        if prepared.number == head {
            self.run_evm(method, &LatestState::new(&*self.reader), &prepared)
        } else {
            let state =
                HistoricalState::new(&*self.reader, prepared.number).map_err(RpcError::internal)?;
            self.run_evm(method, &state, &prepared)
        }
    }

    fn prepare(&self, call: &Call) -> RpcResult<Prepared> {
        let number = self.state_block(call.block)?;
        let header = self.header(number)?;
        Ok(Prepared {
            request: call_request(call.request.clone())?,
            state_overrides: call.state.clone().map(state_overrides).unwrap_or_default(),
            block_overrides: call
                .header
                .clone()
                .map(block_overrides_of)
                .transpose()?
                .unwrap_or_default(),
            header,
            number,
        })
    }

    fn run_evm<S: StateView>(
        &self,
        method: Method,
        state: &S,
        prepared: &Prepared,
    ) -> RpcResult<Value> {
        let header = &prepared.header;
        let env = block_env(header);
        let rules = self.ctx.spec.rules(header.number, header.timestamp);
        let options = CallOptions {
            gas_cap: self.ctx.limits.gas_cap,
            deadline: Some(Instant::now() + self.ctx.limits.evm_timeout),
            step_limit: self.step_limit,
        };
        // The three share one signature: the state, the block, the rules, the request, its
        // overrides and the limits.
        macro_rules! run {
            ($f:path) => {
                $f(
                    state,
                    &env,
                    &rules,
                    &prepared.request,
                    &prepared.state_overrides,
                    &prepared.block_overrides,
                    &options,
                )
            };
        }
        match method {
            Method::Call => {
                let outcome = run!(call::call).map_err(|e| {
                    if matches!(e, CallError::StepLimit { .. }) {
                        self.over_budget.set(true);
                    }
                    call_error(e)
                })?;
                match outcome {
                    CallOutcome::Success { output, .. } => Ok(json!(output)),
                    CallOutcome::Revert { output, .. } => Err(RpcError::reverted(&output)),
                    CallOutcome::Halt { reason, .. } => Err(RpcError::server(reason)),
                }
            }
            Method::EstimateGas => {
                let gas = run!(call::estimate_gas).map_err(|e| match e {
                    EstimateError::Reverted { output } => RpcError::reverted(&output),
                    EstimateError::Call(e) => call_error(e),
                    other => RpcError::server(other.to_string()),
                })?;
                Ok(json!(U64::from(gas)))
            }
            Method::AccessList => {
                let result = run!(call::create_access_list).map_err(call_error)?;
                let mut out = json!({
                    "accessList": result.access_list,
                    "gasUsed": json!(U64::from(result.gas_used)),
                });
                if let Some(failure) = result.failure {
                    out["error"] = json!(failure.to_string());
                }
                Ok(out)
            }
        }
    }

    /// `eth_getProof(address, slots, block)`: the head block's proof from its stored trie
    /// nodes; an earlier block's (at most
    /// [`MAX_PROOF_HISTORY`](parallax_trie::MAX_PROOF_HISTORY) blocks
    /// back, -32000 beyond) from those nodes with the later blocks' changes undone. Either is
    /// checked against that block's header before it is answered.
    pub(crate) fn proof(
        &self,
        address: Address,
        slots: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        if slots.len() > MAX_PROOF_KEYS {
            return Err(RpcError::params(format!(
                "too many storage keys: the limit is {MAX_PROOF_KEYS}"
            )));
        }
        let number = self.state_block(block)?;
        let keys: Vec<B256> = slots.iter().map(|k| k.as_b256()).collect();
        let proof = self
            .reader
            .account_proof(number, address, &keys)
            .map_err(|e| match e {
                // "block N is D blocks before the head H; proofs reach at most M blocks back"
                StateRootError::HistoryTooDeep { .. } => RpcError::server(e.to_string()),
                e => RpcError::internal(e),
            })?;
        let header = self.header(number)?;
        if proof.state_root != header.state_root {
            return Err(RpcError::internal(format!(
                "the proof's root {} is not the state root {} of block {number}",
                proof.state_root, header.state_root
            )));
        }
        let storage_hash = proof.storage_root();
        let (balance, nonce, code_hash) = match &proof.account {
            Some(a) => (a.balance, a.nonce, a.code_hash),
            None => (U256::ZERO, 0, KECCAK256_EMPTY),
        };
        Ok(EIP1186AccountProofResponse {
            address: proof.address,
            balance,
            code_hash,
            nonce,
            storage_hash: if proof.account.is_some() {
                storage_hash
            } else {
                EMPTY_ROOT_HASH
            },
            account_proof: proof.account_proof,
            storage_proof: proof
                .storage_proofs
                .into_iter()
                .zip(slots)
                .map(|(s, key)| EIP1186StorageProof {
                    key,
                    value: s.value,
                    proof: s.proof,
                })
                .collect(),
        })
    }
}

/// The block environment a call at `header`'s post-state runs in: that block's own.
fn block_env(header: &Header) -> BlockEnv {
    BlockEnv {
        number: header.number,
        timestamp: header.timestamp,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
        base_fee: header.base_fee_per_gas,
        difficulty: header.difficulty,
        prevrandao: Some(header.mix_hash),
        excess_blob_gas: header.excess_blob_gas,
        parent_beacon_block_root: header.parent_beacon_block_root,
        parent_hash: Some(header.parent_hash),
    }
}

fn call_request(request: TransactionRequest) -> Result<CallRequest, RpcError> {
    if let (Some(input), Some(data)) = (&request.input.input, &request.input.data)
        && input != data
    {
        return Err(RpcError::params(
            "both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data",
        ));
    }
    Ok(CallRequest {
        from: request.from,
        to: match request.to {
            Some(TxKind::Call(to)) => Some(to),
            Some(TxKind::Create) | None => None,
        },
        gas: request.gas,
        gas_price: request.gas_price,
        max_fee_per_gas: request.max_fee_per_gas,
        max_priority_fee_per_gas: request.max_priority_fee_per_gas,
        value: request.value,
        input: request.input.into_input().unwrap_or_default(),
        nonce: request.nonce,
        access_list: request.access_list,
        authorization_list: request.authorization_list,
        blob_versioned_hashes: request.blob_versioned_hashes,
        max_fee_per_blob_gas: request.max_fee_per_blob_gas,
    })
}

fn state_overrides(overrides: StateOverride) -> StateOverrides {
    overrides
        .into_iter()
        .map(|(address, o)| {
            (
                address,
                AccountOverride {
                    balance: o.balance,
                    nonce: o.nonce,
                    code: o.code,
                    state: o.state.map(|m| m.into_iter().collect()),
                    state_diff: o.state_diff.map(|m| m.into_iter().collect()),
                },
            )
        })
        .collect()
}

fn block_overrides_of(o: RpcBlockOverrides) -> Result<BlockOverrides, RpcError> {
    let too_big = |what: &str| RpcError::params(format!("block override {what} is too large"));
    Ok(BlockOverrides {
        number: o
            .number
            .map(|n| u64::try_from(n).map_err(|_| too_big("number")))
            .transpose()?,
        timestamp: o.time,
        gas_limit: o.gas_limit,
        coinbase: o.coinbase,
        base_fee: o
            .base_fee
            .map(|n| u64::try_from(n).map_err(|_| too_big("baseFee")))
            .transpose()?,
        prevrandao: o.random,
    })
}

/// A call that could not run, as geth reports it.
fn call_error(e: CallError) -> RpcError {
    match e {
        CallError::InvalidTransaction { message, gas } => {
            RpcError::new(SERVER_ERROR, format!("err: {message} (supplied gas {gas})"))
        }
        CallError::State(_) => RpcError::internal(e),
        other => RpcError::server(other.to_string()),
    }
}
