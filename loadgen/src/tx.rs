//! Signed transactions and the test token's ABI, for load generators.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// `balanceOf(address)`.
pub const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
/// `transfer(address,uint256)`.
pub const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// `mint(address,uint256)`.
pub const MINT: [u8; 4] = [0x40, 0xc1, 0x0f, 0x19];

/// The ERC-20 `Token` of `execution/contracts` (compiled artifact, checked in).
const TOKEN_ARTIFACT: &str = include_str!("../../execution/contracts/artifacts/Token.json");

/// Fees of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee: u128,
    /// `maxPriorityFeePerGas`.
    pub tip: u128,
}

/// What to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// Chain id.
    pub chain_id: u64,
    /// Nonce.
    pub nonce: u64,
    /// Recipient, or creation.
    pub to: TxKind,
    /// Gas limit.
    pub gas: u64,
    /// Wei sent.
    pub value: U256,
    /// Call data.
    pub input: Vec<u8>,
    /// Fees.
    pub fees: Fees,
}

/// A signed EIP-1559 transaction: its raw bytes (0x-hex) and hash.
pub fn sign(key: &PrivateKeySigner, tx: Unsigned) -> (String, B256) {
    let tx = TxEip1559 {
        chain_id: tx.chain_id,
        nonce: tx.nonce,
        gas_limit: tx.gas,
        max_fee_per_gas: tx.fees.max_fee,
        max_priority_fee_per_gas: tx.fees.tip,
        to: tx.to,
        value: tx.value,
        input: Bytes::from(tx.input),
        ..Default::default()
    };
    let sig = key
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing a hash with a valid key never fails");
    let envelope = TxEnvelope::from(tx.into_signed(sig));
    let hash = *envelope.tx_hash();
    (format!("0x{}", hex::encode(envelope.encoded_2718())), hash)
}

fn word(out: &mut Vec<u8>, v: U256) {
    out.extend_from_slice(&v.to_be_bytes::<32>());
}

fn address_word(out: &mut Vec<u8>, a: Address) {
    out.extend_from_slice(&[0u8; 12]);
    out.extend_from_slice(a.as_slice());
}

/// ABI encoding of the token constructor's `(string name, string symbol, address holder,
/// uint256 supply)`.
pub fn constructor_args(name: &str, symbol: &str, holder: Address, supply: U256) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        word(out, U256::from(s.len()));
        out.extend_from_slice(s.as_bytes());
        out.resize(out.len() + (32 - s.len() % 32) % 32, 0);
    }
    let padded = |s: &str| s.len().div_ceil(32) * 32;
    let mut out = Vec::new();
    word(&mut out, U256::from(4 * 32));
    word(&mut out, U256::from(4 * 32 + 32 + padded(name)));
    address_word(&mut out, holder);
    word(&mut out, supply);
    string(&mut out, name);
    string(&mut out, symbol);
    out
}

/// `balanceOf(who)` call data.
pub fn balance_of(who: Address) -> Vec<u8> {
    let mut data = BALANCE_OF.to_vec();
    address_word(&mut data, who);
    data
}

/// `transfer(to, amount)` call data.
pub fn transfer(to: Address, amount: U256) -> Vec<u8> {
    let mut data = TRANSFER.to_vec();
    address_word(&mut data, to);
    word(&mut data, amount);
    data
}

/// `mint(to, amount)` call data.
pub fn mint(to: Address, amount: U256) -> Vec<u8> {
    let mut data = MINT.to_vec();
    address_word(&mut data, to);
    word(&mut data, amount);
    data
}

/// The token's creation code (without constructor arguments).
pub fn token_creation_code() -> Vec<u8> {
    parallax_genesis::artifact::creation_code(TOKEN_ARTIFACT).to_vec()
}

/// The token deployed by `deployer` at `nonce`, minting `supply` to `holder`: the creation
/// transaction's input.
pub fn token_deployment(holder: Address, supply: U256) -> Vec<u8> {
    let mut input = token_creation_code();
    input.extend(constructor_args(
        "Parallax Test Token",
        "PTT",
        holder,
        supply,
    ));
    input
}

/// Accounts of the development mnemonic from index `from`, `n` of them, with signers.
pub fn mnemonic_accounts(from: u32, n: u32) -> Vec<(Address, PrivateKeySigner)> {
    let all = parallax_genesis::dev_accounts(from + n).expect("the development mnemonic derives");
    all.into_iter()
        .skip(from as usize)
        .map(|(a, k)| {
            let key = PrivateKeySigner::from_bytes(&k).expect("a derived key is valid");
            (a, key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn selectors_are_the_functions_keccak() {
        let sel = |s: &str| <[u8; 4]>::try_from(&keccak256(s)[..4]).unwrap();
        assert_eq!(BALANCE_OF, sel("balanceOf(address)"));
        assert_eq!(TRANSFER, sel("transfer(address,uint256)"));
        assert_eq!(MINT, sel("mint(address,uint256)"));
    }

    #[test]
    fn a_signed_transaction_recovers_to_its_signer() {
        use alloy_consensus::transaction::SignerRecoverable;
        use alloy_eips::eip2718::Decodable2718;
        let (address, key) = mnemonic_accounts(0, 1).remove(0);
        let (raw, hash) = sign(
            &key,
            Unsigned {
                chain_id: 7,
                nonce: 3,
                to: TxKind::Call(Address::repeat_byte(1)),
                gas: 21_000,
                value: U256::from(5),
                input: Vec::new(),
                fees: Fees {
                    max_fee: 10,
                    tip: 1,
                },
            },
        );
        let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap();
        let tx = TxEnvelope::decode_2718(&mut bytes.as_slice()).unwrap();
        assert_eq!(*tx.tx_hash(), hash);
        assert_eq!(tx.recover_signer().unwrap(), address);
    }
}
