//! What both executors share: the EVM environment, turning a transaction's state into
//! writes, system calls, and assembling a block's output from per-transaction results.

use crate::{
    state::{Overlay, StateError, StateView, Write},
    types::{AccountState, Block, BlockEnv, BlockOutput, ChainRules, ExecutionError},
};
use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_eips::{eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256, map::HashMap};
use parallax_storage_api::StateChanges;
use revm::{
    Context, Database, MainBuilder, MainContext, SystemCallEvm,
    bytecode::Bytecode,
    context::{
        BlockEnv as RevmBlockEnv, CfgEnv,
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    },
    context_interface::block::BlobExcessGasAndPrice,
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::{AccountInfo, EvmState},
};

/// Why a transaction could not be included. Kept as a value (not a formatted message):
/// speculative executions fail often and only the final one is ever shown.
#[derive(Debug, Clone)]
pub(crate) enum TxFailure {
    /// The transaction is invalid against the state it ran on.
    Transaction(InvalidTransaction),
    /// Anything else revm rejected (the block header, ...).
    Other(String),
}

impl std::fmt::Display for TxFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transaction(e) => e.fmt(f),
            Self::Other(e) => f.write_str(e),
        }
    }
}

/// A transaction that ran, with the bloom of its logs (computed where it executed, so the
/// parallel executor does this hashing on its workers).
#[derive(Debug)]
pub(crate) struct TxDone {
    pub(crate) result: ExecutionResult<HaltReason>,
    pub(crate) bloom: Bloom,
}

impl TxDone {
    pub(crate) fn new(result: ExecutionResult<HaltReason>) -> Self {
        let mut bloom = Bloom::ZERO;
        for log in result.logs() {
            bloom.accrue_log(log);
        }
        Self { result, bloom }
    }
}

/// The outcome of one transaction as the block assembler needs it.
pub(crate) type TxResult = Result<TxDone, TxFailure>;

/// The revm configuration for a block's rules (spec, chain id, blob fee fraction): what the
/// executors run a block under, and what `parallax-call` runs a single message under.
pub fn cfg_env(rules: &ChainRules) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(rules.spec);
    cfg.chain_id = rules.chain_id;
    cfg.blob_base_fee_update_fraction = rules.blob_base_fee_update_fraction;
    cfg
}

/// The revm block environment of `env` under `rules` (blob gas price from the fork's or the
/// chain's fraction; `prevrandao` from the Merge on).
pub fn block_env(env: &BlockEnv, rules: &ChainRules) -> RevmBlockEnv {
    let spec = rules.spec;
    let blob = if spec.is_enabled_in(SpecId::CANCUN) {
        let excess = env.excess_blob_gas.unwrap_or(0);
        Some(match rules.blob_base_fee_update_fraction {
            Some(fraction) => BlobExcessGasAndPrice::new(excess, fraction),
            None => BlobExcessGasAndPrice::new_with_spec(excess, spec),
        })
    } else {
        None
    };
    RevmBlockEnv {
        number: U256::from(env.number),
        beneficiary: env.beneficiary,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee.unwrap_or(0),
        difficulty: env.difficulty,
        prevrandao: if spec.is_enabled_in(SpecId::MERGE) {
            Some(env.prevrandao.unwrap_or_default())
        } else {
            None
        },
        blob_excess_gas_and_price: blob,
        ..Default::default()
    }
}

/// An [`AccountState`] as revm's account info, for a revm `Database` over a [`StateView`].
pub fn to_info(account: AccountState) -> AccountInfo {
    AccountInfo {
        balance: account.balance,
        nonce: account.nonce,
        code_hash: account.code_hash,
        code: account.code,
        ..Default::default()
    }
}

/// Appends the writes a transaction's resulting state makes, with the database's commit
/// semantics: untouched accounts are skipped, self-destructed ones and (after EIP-161, which
/// revm's journal already normalised for older rules) touched empty ones are removed with
/// their storage, created ones start from empty storage, and otherwise only changed account
/// fields and changed slots are written.
pub(crate) fn for_each_write(state: &EvmState, mut out: impl FnMut(Write)) {
    for (address, account) in state {
        if !account.is_touched() {
            continue;
        }
        let address = *address;
        if account.is_selfdestructed() {
            out(Write::WipeStorage(address));
            out(Write::Account(address, None));
            continue;
        }
        let original = account.original_info();
        let code_changed = account.is_created() || original.code_hash != account.info.code_hash;
        let info = AccountState {
            balance: account.info.balance,
            nonce: account.info.nonce,
            code_hash: account.info.code_hash,
            code: if code_changed && account.info.code_hash != KECCAK_EMPTY {
                account.info.code.clone()
            } else {
                None
            },
        };
        if account.is_created() {
            out(Write::WipeStorage(address));
            out(Write::Account(address, Some(info)));
            for (slot, value) in &account.storage {
                if !value.present_value.is_zero() {
                    out(Write::Slot(address, *slot, value.present_value));
                }
            }
            continue;
        }
        if account.info.is_empty() {
            if !account.is_loaded_as_not_existing() {
                out(Write::WipeStorage(address));
                out(Write::Account(address, None));
            }
            continue;
        }
        if account.is_loaded_as_not_existing()
            || original.balance != info.balance
            || original.nonce != info.nonce
            || original.code_hash != info.code_hash
        {
            out(Write::Account(address, Some(info)));
        }
        for (slot, value) in &account.storage {
            if value.is_changed() {
                out(Write::Slot(address, *slot, value.present_value));
            }
        }
    }
}

/// [`for_each_write`] into a vector.
pub(crate) fn collect_writes(state: &EvmState, out: &mut Vec<Write>) {
    for_each_write(state, |write| out.push(write));
}

/// A revm error that makes a transaction (and so the block) invalid.
pub(crate) fn invalid_reason<E: std::fmt::Display>(
    error: EVMError<E, InvalidTransaction>,
) -> TxFailure {
    match error {
        EVMError::Transaction(e) => TxFailure::Transaction(e),
        EVMError::Header(e) => TxFailure::Other(format!("invalid block header: {e}")),
        other => TxFailure::Other(other.to_string()),
    }
}

/// A database over a base state and the block's overlay: used by the sequential executor
/// and for system calls.
pub(crate) struct OverlayDb<'a, S: ?Sized> {
    pub(crate) base: &'a S,
    pub(crate) overlay: Overlay,
    /// Code the block introduced, by hash.
    pub(crate) new_code: HashMap<B256, Bytecode>,
}

impl<'a, S: StateView + ?Sized> OverlayDb<'a, S> {
    pub(crate) fn new(base: &'a S, overlay: Overlay) -> Self {
        Self {
            base,
            overlay,
            new_code: HashMap::default(),
        }
    }

    pub(crate) fn apply(&mut self, writes: &[Write]) -> Result<(), StateError> {
        for write in writes {
            self.apply_owned(write.clone())?;
        }
        Ok(())
    }

    /// Applies one write, taking its values.
    pub(crate) fn apply_owned(&mut self, write: Write) -> Result<(), StateError> {
        if let Write::Account(_, Some(info)) = &write
            && let Some(code) = &info.code
        {
            self.new_code.insert(info.code_hash, code.clone());
        }
        self.overlay.apply_owned(self.base, write)
    }
}

impl<S: StateView + ?Sized> Database for OverlayDb<'_, S> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.overlay.account(self.base, address)?.map(to_info))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        if let Some(code) = self.new_code.get(&code_hash) {
            return Ok(code.clone());
        }
        Ok(self.base.code(code_hash)?.unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        self.overlay.storage(self.base, address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash(number)
    }
}

/// The function of the Parallax bridge contract that records a deposit.
const FINALIZE_DEPOSIT: &str =
    "finalizeDeposit(uint256,address,address,address,uint256,uint256,bytes)";

/// The calldata of `finalizeDeposit(nonce, l1Token, l1From, recipient, amount, l1Block,
/// metadata)`.
fn finalize_deposit_calldata(d: &crate::types::BridgeDeposit) -> Bytes {
    let word = |out: &mut Vec<u8>, v: U256| out.extend_from_slice(&v.to_be_bytes::<32>());
    let address = |out: &mut Vec<u8>, a: Address| {
        out.extend_from_slice(B256::left_padding_from(a.as_slice()).as_slice())
    };
    let padded = d.metadata.len().div_ceil(32) * 32;
    let mut data = Vec::with_capacity(4 + 9 * 32 + padded);
    data.extend_from_slice(&alloy_primitives::keccak256(FINALIZE_DEPOSIT)[..4]);
    word(&mut data, U256::from(d.nonce));
    address(&mut data, d.l1_token);
    address(&mut data, d.l1_from);
    address(&mut data, d.recipient);
    word(&mut data, d.amount);
    word(&mut data, U256::from(d.l1_block));
    // The dynamic `bytes` argument: its offset after the seven head words, then its length
    // and its bytes, zero-padded to a word.
    word(&mut data, U256::from(7 * 32));
    word(&mut data, U256::from(d.metadata.len()));
    data.extend_from_slice(&d.metadata);
    data.resize(4 + 9 * 32 + padded, 0);
    data.into()
}

/// Runs the system calls that precede a block's transactions (EIP-2935 block-hash history
/// from Prague, EIP-4788 beacon roots from Cancun, then the block's bridge deposits) and
/// returns their writes as an overlay, with the deposit calls' logs. An EIP system contract
/// that is not deployed is skipped, as the EIPs specify; a bridge deposit call must succeed.
pub(crate) fn pre_block_overlay<S: StateView + ?Sized>(
    block: &Block,
    base: &S,
) -> Result<(Overlay, Vec<Log>), ExecutionError> {
    let spec = block.rules.spec;
    let mut calls: Vec<(Address, Bytes)> = Vec::new();
    if spec.is_enabled_in(SpecId::PRAGUE)
        && let Some(parent) = block.env.parent_hash
    {
        calls.push((
            HISTORY_STORAGE_ADDRESS,
            Bytes::copy_from_slice(parent.as_slice()),
        ));
    }
    if spec.is_enabled_in(SpecId::CANCUN)
        && let Some(root) = block.env.parent_beacon_block_root
    {
        calls.push((
            BEACON_ROOTS_ADDRESS,
            Bytes::copy_from_slice(root.as_slice()),
        ));
    }
    let mut db = OverlayDb::new(base, Overlay::default());
    for (address, data) in calls {
        let deployed = base
            .account(address)
            .map_err(|e| ExecutionError::State(e.0))?
            .is_some_and(|a| a.code_hash != KECCAK_EMPTY);
        if !deployed {
            continue;
        }
        let (state, _) = system_call(&mut db, block, address, data)?;
        // Only the system contract's own storage changes; the system caller is not an
        // account of the chain.
        let state: EvmState = state.into_iter().filter(|(a, _)| *a == address).collect();
        let mut writes = Vec::new();
        collect_writes(&state, &mut writes);
        db.apply(&writes).map_err(|e| ExecutionError::State(e.0))?;
    }
    let mut logs = Vec::new();
    if let Some(bridge) = &block.deposits
        && !bridge.deposits.is_empty()
    {
        let deployed = base
            .account(bridge.bridge)
            .map_err(|e| ExecutionError::State(e.0))?
            .is_some_and(|a| a.code_hash != KECCAK_EMPTY);
        if !deployed {
            return Err(ExecutionError::SystemCall {
                address: bridge.bridge,
                reason: "no bridge contract is deployed there to record deposits".into(),
            });
        }
        for deposit in &bridge.deposits {
            let (state, result) = system_call(
                &mut db,
                block,
                bridge.bridge,
                finalize_deposit_calldata(deposit),
            )?;
            match result {
                ExecutionResult::Success {
                    logs: call_logs, ..
                } => logs.extend(call_logs),
                other => {
                    return Err(ExecutionError::SystemCall {
                        address: bridge.bridge,
                        reason: format!("deposit {} was not finalized: {other:?}", deposit.nonce),
                    });
                }
            }
            // Everything the call changed (the bridge, bridged tokens, recipients) except
            // the system caller, which is not an account of the chain.
            let state: EvmState = state
                .into_iter()
                .filter(|(a, _)| *a != revm::handler::SYSTEM_ADDRESS)
                .collect();
            let mut writes = Vec::new();
            collect_writes(&state, &mut writes);
            for write in writes {
                db.apply_owned(write)
                    .map_err(|e| ExecutionError::State(e.0))?;
            }
        }
    }
    Ok((db.overlay, logs))
}

/// One system call from the system address on top of `db`: its state and result.
fn system_call<S: StateView + ?Sized>(
    db: &mut OverlayDb<'_, S>,
    block: &Block,
    address: Address,
    data: Bytes,
) -> Result<(EvmState, ExecutionResult<HaltReason>), ExecutionError> {
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg_env(&block.rules))
        .with_block(block_env(&block.env, &block.rules))
        .build_mainnet();
    let outcome = evm
        .system_call_with_caller(revm::handler::SYSTEM_ADDRESS, address, data)
        .map_err(|e| ExecutionError::SystemCall {
            address,
            reason: e.to_string(),
        })?;
    Ok((outcome.state, outcome.result))
}

/// Applies the block's withdrawals to `overlay` (those whose recipient `owns`) and returns
/// the block's state changes against `base`.
pub(crate) fn finish_state<S: StateView + ?Sized>(
    block: &Block,
    base: &S,
    mut overlay: Overlay,
    owns: impl Fn(&Address) -> bool,
) -> Result<StateChanges, StateError> {
    for withdrawal in &block.withdrawals {
        if withdrawal.amount_gwei == 0 || !owns(&withdrawal.address) {
            continue;
        }
        let amount = U256::from(withdrawal.amount_gwei) * U256::from(1_000_000_000u64);
        overlay.apply(base, &Write::BalanceIncrement(withdrawal.address, amount))?;
    }
    overlay.into_changes(base)
}

/// A block's receipts and everything derived from them.
pub(crate) struct Receipts {
    receipts: Vec<ReceiptEnvelope>,
    gas_used_per_tx: Vec<u64>,
    contract_addresses: Vec<Option<Address>>,
    gas_used: u64,
    logs_bloom: Bloom,
    receipts_root: B256,
}

/// Builds the receipts (status, cumulative gas, logs, bloom) and the receipts and
/// transactions roots, checking the block gas limit and that every transaction is valid.
pub(crate) fn receipts(
    block: &Block,
    results: Vec<TxResult>,
    root: impl FnOnce(&[ReceiptEnvelope]) -> B256,
) -> Result<Receipts, ExecutionError> {
    let mut receipts = Vec::with_capacity(results.len());
    let mut gas_used_per_tx = Vec::with_capacity(results.len());
    let mut contract_addresses = Vec::with_capacity(results.len());
    let mut cumulative = 0u64;
    let mut logs_bloom = Bloom::ZERO;
    for (index, (result, tx)) in results.into_iter().zip(&block.transactions).enumerate() {
        if tx.env.gas_limit > block.env.gas_limit.saturating_sub(cumulative) {
            return Err(ExecutionError::BlockGasLimit {
                index,
                used: cumulative.saturating_add(tx.env.gas_limit),
                limit: block.env.gas_limit,
            });
        }
        let TxDone { result, bloom } =
            result.map_err(|failure| ExecutionError::InvalidTransaction {
                index,
                reason: failure.to_string(),
            })?;
        let gas = result.tx_gas_used();
        cumulative += gas;
        gas_used_per_tx.push(gas);
        contract_addresses.push(result.created_address());
        let success = result.is_success();
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: cumulative,
            logs: result.into_logs(),
        };
        logs_bloom |= bloom;
        let with_bloom = ReceiptWithBloom::new(receipt, bloom);
        receipts.push(match tx.tx_type {
            1 => ReceiptEnvelope::Eip2930(with_bloom),
            2 => ReceiptEnvelope::Eip1559(with_bloom),
            3 => ReceiptEnvelope::Eip4844(with_bloom),
            4 => ReceiptEnvelope::Eip7702(with_bloom),
            _ => ReceiptEnvelope::Legacy(with_bloom),
        });
    }
    let receipts_root = root(&receipts);
    Ok(Receipts {
        receipts,
        gas_used_per_tx,
        contract_addresses,
        gas_used: cumulative,
        logs_bloom,
        receipts_root,
    })
}

/// The transactions root, when every transaction has its signed envelope.
pub(crate) fn transactions_root(block: &Block) -> Option<B256> {
    block
        .transactions
        .iter()
        .map(|t| t.envelope.as_ref())
        .collect::<Option<Vec<_>>>()
        .map(|txs| alloy_consensus::proofs::calculate_transaction_root(&txs))
}

/// Builds a block's output from its transactions' results and its state changes.
pub(crate) fn assemble(
    block: &Block,
    results: Vec<TxResult>,
    state: StateChanges,
) -> Result<BlockOutput, ExecutionError> {
    Ok(output(
        receipts(
            block,
            results,
            alloy_consensus::proofs::calculate_receipt_root,
        )?,
        transactions_root(block),
        state,
    ))
}

/// The block's output from its receipts, transactions root and state changes.
pub(crate) fn output(
    r: Receipts,
    transactions_root: Option<B256>,
    state: StateChanges,
) -> BlockOutput {
    BlockOutput {
        receipts: r.receipts,
        gas_used_per_tx: r.gas_used_per_tx,
        contract_addresses: r.contract_addresses,
        gas_used: r.gas_used,
        logs_bloom: r.logs_bloom,
        receipts_root: r.receipts_root,
        transactions_root,
        state,
        system_logs: Vec::new(),
    }
}
