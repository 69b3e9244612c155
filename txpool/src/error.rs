//! Why the pool refused a transaction, in go-ethereum's words.

use alloy_primitives::{Address, I256, U256};

/// Why a transaction was not admitted.
///
/// `Display` is go-ethereum's error text (`core/txpool/errors.go`, `core/error.go`,
/// `core/types`), so wallets and tools that match on geth's messages keep working;
/// [`MempoolError::reason`] is a short stable label for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The bytes are not an EIP-2718 transaction.
    #[error("rlp: {0}")]
    Rlp(alloy_rlp::Error),
    /// A legacy transaction with a field that does not decode as its type (e.g. a gas limit
    /// above 2^64 − 1, a gas price above 2^128 − 1).
    #[error("rlp: {error}, decoding into the legacy transaction's {field}")]
    LegacyField {
        /// The field.
        field: &'static str,
        /// Why.
        error: alloy_rlp::Error,
    },
    /// A valid transaction followed by more bytes.
    #[error("rlp: input contains more than one value")]
    TrailingBytes,
    /// Empty input, or a type byte with nothing after it.
    #[error("typed transaction too short")]
    TooShort,
    /// A type byte no transaction type has.
    #[error("transaction type not supported")]
    UnknownTxType,
    /// A known type this pool does not take (EIP-4844 blob transactions).
    #[error("transaction type not supported: tx type {ty} not supported by this pool")]
    TxTypeNotSupported {
        /// The EIP-2718 type.
        ty: u8,
    },
    /// A type whose fork is not active yet.
    #[error("transaction type not supported: type {ty} rejected, pool not yet in {fork}")]
    TxTypeNotActive {
        /// The EIP-2718 type.
        ty: u8,
        /// The fork that introduces it.
        fork: &'static str,
    },
    /// An EIP-7702 transaction without authorizations.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthList,
    /// Larger than the pool takes.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// The EIP-2718 encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A legacy transaction without an EIP-155 chain id.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// Signed for another chain.
    #[error("invalid sender: invalid chain id for signer: have {have} want {want}")]
    InvalidChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The signature does not recover (or has a high `s`, EIP-2).
    #[error("invalid sender: invalid transaction v, r, s values")]
    InvalidSender,
    /// Contract-creation input above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    MaxInitCodeSize {
        /// Input length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Gas limit above the EIP-7825 per-transaction cap (Osaka and later).
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The cap.
        cap: u64,
        /// The transaction's gas limit.
        gas: u64,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// Tip above fee cap.
    #[error(
        "max priority fee per gas higher than max fee per gas: address {address}, \
         maxPriorityFeePerGas: {tip}, maxFeePerGas: {fee_cap}"
    )]
    TipAboveFeeCap {
        /// The sender.
        address: Address,
        /// `max_priority_fee_per_gas`.
        tip: u128,
        /// `max_fee_per_gas`.
        fee_cap: u128,
    },
    /// The nonce cannot be incremented (EIP-2681).
    #[error("nonce has max value: address {address}, nonce: {nonce}")]
    NonceMax {
        /// The sender.
        address: Address,
        /// The nonce.
        nonce: u64,
    },
    /// Fee cap (or legacy gas price) below the next block's base fee.
    #[error(
        "max fee per gas less than block base fee: address {address}, \
         maxFeePerGas: {fee_cap}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// The sender.
        address: Address,
        /// `max_fee_per_gas`, or the gas price of a legacy or EIP-2930 transaction.
        fee_cap: u128,
        /// The next block's base fee.
        base_fee: u64,
    },
    /// Gas limit below the intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas {
        /// The transaction's gas limit.
        gas: u64,
        /// The intrinsic gas.
        needed: u64,
    },
    /// Gas limit below the EIP-7623 calldata floor (Prague and later).
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas {
        /// The transaction's gas limit.
        gas: u64,
        /// The floor.
        needed: u64,
    },
    /// The nonce is already used.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow {
        /// The sender.
        address: Address,
        /// The transaction's nonce.
        tx: u64,
        /// The sender's nonce at the head.
        state: u64,
    },
    /// The sender cannot pay for this transaction alone.
    #[error(
        "insufficient funds for gas * price + value: balance {have}, tx cost {want}, overshot {}",
        want.saturating_sub(*have)
    )]
    InsufficientFunds {
        /// The sender.
        address: Address,
        /// The sender's balance.
        have: U256,
        /// `gas_limit * fee_cap + value`.
        want: U256,
    },
    /// The sender cannot pay for this transaction on top of its pooled ones.
    #[error(
        "insufficient funds for gas * price + value: balance {balance}, queued cost {queued}, \
         tx cost {cost}, overshot {}",
        queued.saturating_add(*cost).saturating_sub(*balance)
    )]
    InsufficientFundsQueued {
        /// The sender's balance.
        balance: U256,
        /// What the sender's pooled transactions may cost.
        queued: U256,
        /// What this one may cost.
        cost: U256,
    },
    /// The sender cannot pay for this replacement on top of its pooled transactions.
    #[error(
        "insufficient funds for gas * price + value: balance {balance}, queued cost {queued}, \
         tx bumped {bump}, overshot {}",
        I256::from_raw(*queued).saturating_add(*bump).saturating_sub(I256::from_raw(*balance))
    )]
    InsufficientFundsBump {
        /// The sender's balance.
        balance: U256,
        /// What the sender's pooled transactions may cost.
        queued: U256,
        /// New cost minus the replaced transaction's.
        bump: I256,
    },
    /// This exact transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce as a pooled transaction without a 10% bump of fee cap and tip.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender has as many transactions pooled as it may.
    #[error("account limit exceeded: pooled {pooled} txs")]
    AccountLimit {
        /// How many the sender has pooled.
        pooled: usize,
    },
    /// The pool is full and this transaction pays no more than the cheapest it could evict.
    #[error("transaction underpriced")]
    Underpriced,
    /// The pool is full and only executable transactions could make room for this
    /// future-nonce one.
    #[error("future transaction tries to replace pending")]
    FutureReplacePending,
    /// The pool is full and nothing can be evicted for this transaction.
    #[error("txpool is full")]
    PoolFull,
    /// The account state could not be read.
    #[error("state unavailable: {0}")]
    State(String),
}

impl MempoolError {
    /// Whether a peer that gossiped this transaction misbehaved: no honest node relays
    /// bytes that do not decode, are unsigned or signed for another chain, or are oversized.
    /// Late or underpriced transactions are not a fault (the sender saw another state).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            Self::Rlp(_)
                | Self::TrailingBytes
                | Self::TooShort
                | Self::UnknownTxType
                | Self::OversizedData { .. }
                | Self::Unprotected
                | Self::InvalidChainId { .. }
                | Self::InvalidSender
                | Self::EmptyAuthList
        )
    }

    /// A short stable label for metrics (`rejected{reason=...}`) and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Rlp(_) | Self::LegacyField { .. } | Self::TrailingBytes | Self::TooShort => {
                "decode"
            }
            Self::UnknownTxType
            | Self::TxTypeNotSupported { .. }
            | Self::TxTypeNotActive { .. } => "tx_type_not_supported",
            Self::EmptyAuthList => "empty_auth_list",
            Self::OversizedData { .. } => "oversized_data",
            Self::Unprotected => "unprotected",
            Self::InvalidChainId { .. } => "invalid_chain_id",
            Self::InvalidSender => "invalid_sender",
            Self::MaxInitCodeSize { .. } => "max_initcode_size",
            Self::GasLimitTooHigh { .. } => "gas_limit_too_high",
            Self::ExceedsBlockGasLimit => "exceeds_block_gas_limit",
            Self::TipAboveFeeCap { .. } => "tip_above_fee_cap",
            Self::NonceMax { .. } => "nonce_max",
            Self::FeeCapTooLow { .. } => "fee_cap_too_low",
            Self::IntrinsicGas { .. } => "intrinsic_gas",
            Self::FloorDataGas { .. } => "floor_data_gas",
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::InsufficientFunds { .. }
            | Self::InsufficientFundsQueued { .. }
            | Self::InsufficientFundsBump { .. } => "insufficient_funds",
            Self::AlreadyKnown => "already_known",
            Self::ReplacementUnderpriced => "replacement_underpriced",
            Self::AccountLimit { .. } => "account_limit",
            Self::Underpriced => "underpriced",
            Self::FutureReplacePending => "future_replace_pending",
            Self::PoolFull => "pool_full",
            Self::State(_) => "state_unavailable",
        }
    }

    /// Every label [`MempoolError::reason`] returns, for pre-registering metrics.
    pub const REASONS: &'static [&'static str] = &[
        "decode",
        "tx_type_not_supported",
        "empty_auth_list",
        "oversized_data",
        "unprotected",
        "invalid_chain_id",
        "invalid_sender",
        "max_initcode_size",
        "gas_limit_too_high",
        "exceeds_block_gas_limit",
        "tip_above_fee_cap",
        "nonce_max",
        "fee_cap_too_low",
        "intrinsic_gas",
        "floor_data_gas",
        "nonce_too_low",
        "insufficient_funds",
        "already_known",
        "replacement_underpriced",
        "account_limit",
        "underpriced",
        "future_replace_pending",
        "pool_full",
        "state_unavailable",
    ];
}
