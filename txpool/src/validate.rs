//! The checks that need no account state: decoding, type, size, signature, fees, gas.

use super::{MempoolError, PoolEnv};
use alloy_consensus::{Transaction, TxEnvelope, Typed2718, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Eip2718Error};
use alloy_primitives::{Address, B256};
use revm::{
    context_interface::cfg::gas::calculate_initial_tx_gas,
    primitives::{eip3860, eip7825, hardfork::SpecId},
};

/// Largest transaction the pool takes, EIP-2718 encoded (geth's `txMaxSize`, four 32 KiB
/// slots).
pub const MAX_TX_SIZE: usize = 4 * 32 * 1024;

/// Decodes an EIP-2718 transaction as `eth_sendRawTransaction` receives it.
///
/// The whole input must be one transaction: trailing bytes are an error. Input above
/// [`MAX_TX_SIZE`] is refused before decoding.
pub fn decode_raw(bytes: &[u8]) -> Result<TxEnvelope, MempoolError> {
    if bytes.len() > MAX_TX_SIZE {
        return Err(MempoolError::OversizedData {
            size: bytes.len(),
            limit: MAX_TX_SIZE,
        });
    }
    // A typed transaction is its type byte and at least an RLP list header.
    if bytes.len() <= 1 {
        return Err(MempoolError::TooShort);
    }
    // Below 0x80 the first byte is a type (geth: anything else is a legacy RLP list).
    if bytes[0] < 0x80 && alloy_consensus::TxType::try_from(bytes[0]).is_err() {
        return Err(MempoolError::UnknownTxType);
    }
    let mut buf = bytes;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| match e {
        // A legacy transaction that does not decode comes back as an unknown type: say
        // which field is wrong instead.
        e if bytes[0] >= 0xc0 => match (legacy_field_error(bytes), e) {
            (Some((field, error)), _) => MempoolError::LegacyField { field, error },
            (None, Eip2718Error::RlpError(e)) => MempoolError::Rlp(e),
            (None, _) => MempoolError::Rlp(alloy_rlp::Error::Custom("invalid legacy transaction")),
        },
        Eip2718Error::UnexpectedType(_) => MempoolError::UnknownTxType,
        Eip2718Error::RlpError(e) => MempoolError::Rlp(e),
        _ => MempoolError::Rlp(alloy_rlp::Error::Custom("invalid transaction envelope")),
    })?;
    if !buf.is_empty() {
        return Err(MempoolError::TrailingBytes);
    }
    Ok(tx)
}

/// The first field of a legacy transaction (an RLP list of nine) that does not decode as its
/// type, with why.
fn legacy_field_error(bytes: &[u8]) -> Option<(&'static str, alloy_rlp::Error)> {
    use alloy_primitives::{Bytes, TxKind, U256};
    use alloy_rlp::Decodable;
    let mut buf = bytes;
    let header = match alloy_rlp::Header::decode(&mut buf) {
        Ok(h) if h.list => h,
        Ok(_) => return Some(("list", alloy_rlp::Error::UnexpectedString)),
        Err(e) => return Some(("list", e)),
    };
    let mut fields = buf.get(..header.payload_length)?;
    fn check<T: Decodable>(
        buf: &mut &[u8],
        name: &'static str,
    ) -> Result<(), (&'static str, alloy_rlp::Error)> {
        T::decode(buf).map(drop).map_err(|e| (name, e))
    }
    let result = (|| {
        check::<u64>(&mut fields, "nonce")?;
        check::<u128>(&mut fields, "gas price")?;
        check::<u64>(&mut fields, "gas limit")?;
        check::<TxKind>(&mut fields, "to")?;
        check::<U256>(&mut fields, "value")?;
        check::<Bytes>(&mut fields, "input")?;
        check::<u64>(&mut fields, "v")?;
        check::<U256>(&mut fields, "r")?;
        check::<U256>(&mut fields, "s")?;
        Ok(())
    })();
    result.err()
}

/// A decoded transaction and its sender, recovered ahead of the pool's checks (signature
/// recovery is the costliest of them, and needs no pool state, so it can run before the
/// pool is locked).
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The transaction.
    pub tx: TxEnvelope,
    /// Its signer; `None` when the signature does not recover (refused in the checks'
    /// order, as geth does).
    pub sender: Option<Address>,
}

impl Recovered {
    /// Recovers `tx`'s sender.
    pub fn new(tx: TxEnvelope) -> Self {
        let sender = tx.recover_signer().ok();
        Self { tx, sender }
    }
}

/// What the stateless checks learn about a transaction.
pub(super) struct Checked {
    pub(super) hash: B256,
    pub(super) sender: Address,
    pub(super) size: usize,
}

/// The checks that need no state, in geth's order (`core/txpool/validation.go`), with the
/// RPC layer's replay-protection check first and the fee-cap check Parallax adds.
pub(super) fn check_stateless(
    tx: &TxEnvelope,
    sender: Option<Address>,
    env: &PoolEnv,
) -> Result<Checked, MempoolError> {
    let ty = tx.ty();
    match tx {
        TxEnvelope::Legacy(signed) => {
            if signed.tx().chain_id.is_none() {
                return Err(MempoolError::Unprotected);
            }
        }
        TxEnvelope::Eip2930(_) => require_fork(ty, env.spec, SpecId::BERLIN, "Berlin")?,
        TxEnvelope::Eip1559(_) => require_fork(ty, env.spec, SpecId::LONDON, "London")?,
        TxEnvelope::Eip4844(_) => return Err(MempoolError::TxTypeNotSupported { ty }),
        TxEnvelope::Eip7702(signed) => {
            require_fork(ty, env.spec, SpecId::PRAGUE, "Prague")?;
            if signed.tx().authorization_list.is_empty() {
                return Err(MempoolError::EmptyAuthList);
            }
        }
    }
    let size = tx.eip2718_encoded_length();
    if size > MAX_TX_SIZE {
        return Err(MempoolError::OversizedData {
            size,
            limit: MAX_TX_SIZE,
        });
    }
    let input = tx.input();
    let is_create = tx.kind().is_create();
    if env.spec.is_enabled_in(SpecId::SHANGHAI)
        && is_create
        && input.len() > eip3860::MAX_INITCODE_SIZE
    {
        return Err(MempoolError::MaxInitCodeSize {
            size: input.len(),
            limit: eip3860::MAX_INITCODE_SIZE,
        });
    }
    let gas = tx.gas_limit();
    if env.spec.is_enabled_in(SpecId::OSAKA) && gas > eip7825::TX_GAS_LIMIT_CAP {
        return Err(MempoolError::GasLimitTooHigh {
            cap: eip7825::TX_GAS_LIMIT_CAP,
            gas,
        });
    }
    if gas > env.block_gas_limit {
        return Err(MempoolError::ExceedsBlockGasLimit);
    }
    if let Some(have) = tx.chain_id()
        && have != env.chain_id
    {
        return Err(MempoolError::InvalidChainId {
            have,
            want: env.chain_id,
        });
    }
    // Recovery (done by [`Recovered::new`]) enforces low `s` (EIP-2), so a signature's
    // malleated twin is not a second pooled transaction.
    let sender = sender.ok_or(MempoolError::InvalidSender)?;
    let fee_cap = tx.max_fee_per_gas();
    let tip = tx.priority_fee_or_price();
    if tip > fee_cap {
        return Err(MempoolError::TipAboveFeeCap {
            address: sender,
            tip,
            fee_cap,
        });
    }
    if tx.nonce() == u64::MAX {
        return Err(MempoolError::NonceMax {
            address: sender,
            nonce: tx.nonce(),
        });
    }
    if fee_cap < u128::from(env.base_fee) {
        return Err(MempoolError::FeeCapTooLow {
            address: sender,
            fee_cap,
            base_fee: env.base_fee,
        });
    }
    let (accounts, slots) = tx.access_list().map_or((0, 0), |list| {
        (
            list.len() as u64,
            list.iter().map(|item| item.storage_keys.len() as u64).sum(),
        )
    });
    let auths = tx.authorization_list().map_or(0, |list| list.len() as u64);
    let initial =
        calculate_initial_tx_gas(env.spec, input, is_create, accounts, slots, auths, None);
    let needed = initial.initial_total_gas();
    if gas < needed {
        return Err(MempoolError::IntrinsicGas { gas, needed });
    }
    if env.spec.is_enabled_in(SpecId::PRAGUE) && gas < initial.floor_gas {
        return Err(MempoolError::FloorDataGas {
            gas,
            needed: initial.floor_gas,
        });
    }
    Ok(Checked {
        hash: *tx.tx_hash(),
        sender,
        size,
    })
}

fn require_fork(
    ty: u8,
    spec: SpecId,
    fork: SpecId,
    name: &'static str,
) -> Result<(), MempoolError> {
    if spec.is_enabled_in(fork) {
        Ok(())
    } else {
        Err(MempoolError::TxTypeNotActive { ty, fork: name })
    }
}
