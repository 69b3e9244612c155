//! The executor's inputs and outputs.

use alloy_consensus::{ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256};
use parallax_storage_api::StateChanges;
use revm::{
    bytecode::Bytecode,
    context::TxEnv,
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
};

/// The header fields a block's execution depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block number.
    pub number: u64,
    /// Timestamp in seconds.
    pub timestamp: u64,
    /// The fee recipient (`coinbase`).
    pub beneficiary: Address,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Base fee per gas (London and later).
    pub base_fee: Option<u64>,
    /// Proof-of-work difficulty (zero after the merge).
    pub difficulty: U256,
    /// `prevrandao` (the header's mix hash) from the merge on.
    pub prevrandao: Option<B256>,
    /// Excess blob gas (Cancun and later).
    pub excess_blob_gas: Option<u64>,
    /// Parent beacon block root; when set (Cancun and later) the EIP-4788 system call runs
    /// before the transactions.
    pub parent_beacon_block_root: Option<B256>,
    /// Parent block hash; when set (Prague and later) the EIP-2935 system call stores it in
    /// the block-hash history contract before the transactions.
    pub parent_hash: Option<B256>,
}

/// The EVM rules a block runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainRules {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The hard fork whose rules apply.
    pub spec: SpecId,
    /// The blob base fee update fraction, when the chain's schedule overrides the fork's
    /// default (Ethereum's blob-parameter-only forks, EIP-7892).
    pub blob_base_fee_update_fraction: Option<u64>,
}

impl ChainRules {
    /// The revm rules of an Ethereum fork, or `None` for a fork this code has no rules for
    /// (a chain scheduling one must be refused, never run under other rules). Forks that only
    /// change blob parameters (EIP-7892) keep their base fork's rules; a difficulty-bomb delay
    /// keeps the previous fork's.
    pub fn spec_of(fork: alloy_hardforks::EthereumHardfork) -> Option<SpecId> {
        use alloy_hardforks::EthereumHardfork as F;
        Some(match fork {
            F::Frontier => SpecId::FRONTIER,
            F::Homestead | F::Dao => SpecId::HOMESTEAD,
            F::Tangerine => SpecId::TANGERINE,
            F::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
            F::Byzantium => SpecId::BYZANTIUM,
            F::Constantinople | F::Petersburg => SpecId::PETERSBURG,
            F::Istanbul | F::MuirGlacier => SpecId::ISTANBUL,
            F::Berlin => SpecId::BERLIN,
            F::London | F::ArrowGlacier | F::GrayGlacier => SpecId::LONDON,
            F::Paris => SpecId::MERGE,
            F::Shanghai => SpecId::SHANGHAI,
            F::Cancun => SpecId::CANCUN,
            F::Prague => SpecId::PRAGUE,
            F::Osaka | F::Bpo1 | F::Bpo2 | F::Bpo3 | F::Bpo4 | F::Bpo5 => SpecId::OSAKA,
            F::Amsterdam => SpecId::AMSTERDAM,
            // Bogota, and whatever `alloy-hardforks` (a non-exhaustive enum) adds later: no
            // rules here yet.
            _ => return None,
        })
    }

    /// The rules of `spec` on chain `chain_id`, with the fork's default blob parameters.
    pub fn new(chain_id: u64, spec: SpecId) -> Self {
        Self {
            chain_id,
            spec,
            blob_base_fee_update_fraction: None,
        }
    }
}

/// A validator withdrawal (Shanghai and later): a balance increment after the transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawal {
    /// Recipient.
    pub address: Address,
    /// Amount in gwei.
    pub amount_gwei: u64,
}

/// A bridge deposit from Ethereum that the protocol mints before a block's transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeDeposit {
    /// The deposit's nonce on Ethereum (they are minted in order, with no gaps).
    pub nonce: u64,
    /// The Ethereum token (`Address::ZERO` for ETH).
    pub l1_token: Address,
    /// Who deposited on Ethereum (a failed deposit is refunded to them).
    pub l1_from: Address,
    /// Who receives it on Parallax.
    pub recipient: Address,
    /// How much (what the Ethereum contract received).
    pub amount: U256,
    /// The Ethereum block that holds the deposit.
    pub l1_block: u64,
    /// The token's name, symbol and decimals as the Ethereum bridge read them
    /// (`abi.encode(string, string, uint8)`; empty for ETH).
    pub metadata: Bytes,
}

/// The deposits a block mints, and the Parallax bridge contract that records them.
///
/// Before the block's transactions (after the EIP-2935 and EIP-4788 system calls), each
/// deposit in order: `finalizeDeposit(nonce, l1Token, l1From, recipient, amount, l1Block,
/// metadata)` is called on `bridge` from the system address. The contract records the nonce and
/// mints the bridged token, or, if minting fails, records the deposit as failed and initiates
/// its refund; no native balance is ever credited (Parallax's gas token is not bridged). A
/// call that reverts (a deposit out of order), or deposits where no contract is deployed, make
/// the block invalid. The calls' logs are the block's [`BlockOutput::system_logs`], not part of
/// any receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeDeposits {
    /// The Parallax bridge contract.
    pub bridge: Address,
    /// The deposits, in nonce order.
    pub deposits: Vec<BridgeDeposit>,
}

/// A transaction ready to execute: its sender is known.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The recovered (or, for unsigned test data, declared) sender.
    pub sender: Address,
    /// EIP-2718 transaction type.
    pub tx_type: u8,
    /// The EVM's view of the transaction (its `caller` is `sender`).
    pub env: TxEnv,
    /// The signed transaction, when there is one; the transactions root is computed over
    /// these.
    pub envelope: Option<TxEnvelope>,
}

/// A block to execute.
#[derive(Debug, Clone)]
pub struct Block {
    /// Header fields.
    pub env: BlockEnv,
    /// Chain id and hard fork.
    pub rules: ChainRules,
    /// Transactions in block order.
    pub transactions: Vec<Transaction>,
    /// Withdrawals, applied after the transactions.
    pub withdrawals: Vec<Withdrawal>,
    /// Bridge deposits, minted before the transactions.
    pub deposits: Option<BridgeDeposits>,
}

/// An account as the executor sees it (its storage is read slot by slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// keccak256 of the code, `KECCAK_EMPTY` when there is none.
    pub code_hash: B256,
    /// The code, when the block itself set it (contract creation, EIP-7702 delegation);
    /// otherwise it is read from the state by hash.
    pub code: Option<Bytecode>,
}

impl AccountState {
    /// An account with `balance` and nothing else.
    pub fn with_balance(balance: U256) -> Self {
        Self {
            balance,
            nonce: 0,
            code_hash: KECCAK_EMPTY,
            code: None,
        }
    }

    /// The account as the storage layer keeps it.
    pub fn to_stored(&self) -> parallax_storage_api::Account {
        parallax_storage_api::Account {
            nonce: self.nonce,
            balance: self.balance,
            code_hash: self.code_hash,
        }
    }
}

/// What executing a block produced.
///
/// The sequential and the parallel executor return equal values for the same block and state.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutput {
    /// One receipt per transaction, with status, cumulative gas, logs and bloom.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by each transaction.
    pub gas_used_per_tx: Vec<u64>,
    /// The address each contract-creating transaction deployed to, if it succeeded.
    pub contract_addresses: Vec<Option<Address>>,
    /// Total gas used by the block.
    pub gas_used: u64,
    /// Bloom filter over every receipt's logs.
    pub logs_bloom: Bloom,
    /// Root of the receipts trie.
    pub receipts_root: B256,
    /// Root of the transactions trie; `None` when a transaction has no signed envelope
    /// (unsigned test data), since the root is defined over signed transactions.
    pub transactions_root: Option<B256>,
    /// The state the block leaves behind, as changes against the state it started from:
    /// only accounts and slots whose value changed, plus accounts whose storage was wiped.
    pub state: StateChanges,
    /// The logs of the protocol's own calls before the transactions (bridge deposits), in
    /// order; they belong to no transaction's receipt and are not in `logs_bloom`.
    pub system_logs: Vec<Log>,
}

/// Why a block could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// A transaction is not valid against the state it runs on (nonce, funds, gas limit, ...),
    /// which makes the block invalid.
    #[error("transaction {index} is invalid: {reason}")]
    InvalidTransaction {
        /// Index of the first invalid transaction.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The transactions use more gas than the block allows.
    #[error("block gas limit exceeded at transaction {index}: {used} used, limit {limit}")]
    BlockGasLimit {
        /// Index of the transaction that does not fit.
        index: usize,
        /// Gas used up to and including it.
        used: u64,
        /// The block gas limit.
        limit: u64,
    },
    /// A system call (EIP-4788, EIP-2935, a bridge deposit) failed.
    #[error("system call to {address} failed: {reason}")]
    SystemCall {
        /// The system contract.
        address: Address,
        /// What went wrong.
        reason: String,
    },
    /// Reading the state failed.
    #[error("state read failed: {0}")]
    State(String),
    /// A parallel worker thread panicked.
    #[error("executor worker failed: {0}")]
    Worker(String),
}

impl Transaction {
    /// A signed transaction whose sender has been recovered.
    pub fn from_envelope(envelope: TxEnvelope, sender: Address) -> Self {
        let env = tx_env(&envelope, sender);
        let tx_type = alloy_consensus::Typed2718::ty(&envelope);
        Self {
            sender,
            tx_type,
            env,
            envelope: Some(envelope),
        }
    }

    /// A transaction known only by its fields and declared sender (test data without
    /// signatures). It executes like any other but contributes no transactions root.
    pub fn unsigned(tx: &alloy_consensus::TypedTransaction, sender: Address) -> Self {
        Self {
            sender,
            tx_type: alloy_consensus::Typed2718::ty(tx),
            env: tx_env(tx, sender),
            envelope: None,
        }
    }
}

/// The EVM's view of a transaction.
fn tx_env<T: alloy_consensus::Transaction>(tx: &T, sender: Address) -> TxEnv {
    let priority = tx.max_priority_fee_per_gas();
    TxEnv {
        tx_type: tx.ty(),
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price: tx.gas_price().unwrap_or_else(|| tx.max_fee_per_gas()),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: if tx.gas_price().is_some() {
            None
        } else {
            priority
        },
        blob_hashes: tx
            .blob_versioned_hashes()
            .map(<[B256]>::to_vec)
            .unwrap_or_default(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas().unwrap_or_default(),
        authorization_list: tx
            .authorization_list()
            .map(|list| {
                list.iter()
                    .cloned()
                    .map(revm::context::either::Either::Left)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_hardforks::EthereumHardfork as F;

    #[test]
    fn every_fork_has_its_own_rules_or_none() {
        assert_eq!(ChainRules::spec_of(F::Paris), Some(SpecId::MERGE));
        assert_eq!(ChainRules::spec_of(F::Prague), Some(SpecId::PRAGUE));
        // Blob-parameter-only forks keep Osaka's rules.
        for bpo in F::bpo_variants() {
            assert_eq!(ChainRules::spec_of(*bpo), Some(SpecId::OSAKA));
        }
        assert_eq!(ChainRules::spec_of(F::Amsterdam), Some(SpecId::AMSTERDAM));
        // No rules yet: refused, not run as another fork.
        assert_eq!(ChainRules::spec_of(F::Bogota), None);
    }
}
