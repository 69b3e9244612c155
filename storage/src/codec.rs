//! Byte formats of table keys and values.
//!
//! **Keys** ([`Encode`]/[`Decode`]) are encoded so that comparing the bytes (MDBX's default
//! lexicographic order) gives the logical order: integers are fixed-width big-endian, hashes and
//! addresses are their raw bytes, trie paths are one byte per nibble, and composite keys are their
//! parts concatenated. Every part except the last has a fixed width ([`FixedWidth`]), so a
//! composite key decodes without separators and a prefix of parts is a byte prefix of the key.
//!
//! **Values** ([`Compress`]/[`Decompress`]) start with a format-version byte followed by the
//! payload, so a later build can change a format and still read the old one. Integers inside
//! values are LEB128 varints or trimmed big-endian, and all of this crate's own encodings are
//! canonical: every value has exactly one byte form, and decoding rejects any other. Headers are
//! RLP, transactions EIP-2718 envelopes, receipt logs an RLP list. The only exception to the
//! version byte is `()`, stored as zero bytes by the index tables, whose key is the whole entry.
//!
//! Decoding never panics: unknown versions, truncated or trailing bytes and invalid fields are
//! [`CodecError`]s.

use crate::{
    error::CodecError,
    models::{Account, StoredBody, TxLocation},
};
use alloy_consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, TxEnvelope, TxType};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Log, U256};
use alloy_rlp::{Decodable as _, Encodable as _};
use alloy_trie::{BranchNodeCompact, Nibbles, TrieMask};

/// Encodes a table key into bytes whose lexicographic order is the key's logical order.
pub trait Encode {
    /// Appends the encoded key to `out`.
    fn encode_key_to(&self, out: &mut Vec<u8>);

    /// The encoded key.
    fn encode_key(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key_to(&mut out);
        out
    }
}

/// Decodes a table key from exactly the bytes [`Encode`] produced.
pub trait Decode: Sized {
    /// Decodes the key; all of `bytes` must be used.
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// A key part whose encoding always has the same length, so it can precede other parts in a
/// composite key.
pub trait FixedWidth {
    /// The encoded length in bytes.
    const WIDTH: usize;
}

/// Encodes a table value: format-version byte, then the payload.
pub trait Compress {
    /// Appends the encoded value to `out`.
    fn compress_to(&self, out: &mut Vec<u8>);

    /// The encoded value.
    fn compress(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.compress_to(&mut out);
        out
    }
}

/// Decodes a table value written by [`Compress`].
pub trait Decompress: Sized {
    /// Decodes the value; all of `bytes` must be used.
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// The format version every value type currently writes and reads.
pub const FORMAT_V1: u8 = 1;

/// The longest string key ([`String`] keys of the metadata and safety tables).
pub const MAX_STRING_KEY_LEN: usize = 64;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

fn exact<const N: usize>(bytes: &[u8]) -> Result<[u8; N], CodecError> {
    bytes.try_into().map_err(|_| CodecError::InvalidLength {
        expected: N,
        got: bytes.len(),
    })
}

macro_rules! integer_key {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            fn encode_key_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }

        impl Decode for $ty {
            fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
                Ok(<$ty>::from_be_bytes(exact(bytes)?))
            }
        }

        impl FixedWidth for $ty {
            const WIDTH: usize = size_of::<$ty>();
        }
    )*};
}

integer_key!(u32, u64);

macro_rules! bytes_key {
    ($($ty:ty => $len:expr),*) => {$(
        impl Encode for $ty {
            fn encode_key_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(self.as_slice());
            }
        }

        impl Decode for $ty {
            fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
                Ok(<$ty>::from(exact::<$len>(bytes)?))
            }
        }

        impl FixedWidth for $ty {
            const WIDTH: usize = $len;
        }
    )*};
}

bytes_key!(Address => 20, B256 => 32);

/// A trie path: one byte per nibble ("unpacked"), so byte order is nibble order and a path sorts
/// before its extensions.
impl Encode for Nibbles {
    fn encode_key_to(&self, out: &mut Vec<u8>) {
        out.extend(self.iter());
    }
}

impl Decode for Nibbles {
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > 64 {
            return Err(CodecError::Invalid("trie path longer than 64 nibbles"));
        }
        if bytes.iter().any(|&nibble| nibble > 0x0f) {
            return Err(CodecError::Invalid("trie path byte is not a nibble"));
        }
        Ok(Nibbles::from_nibbles_unchecked(bytes))
    }
}

/// Whether `key` is usable as a string key: 1 to [`MAX_STRING_KEY_LEN`] printable ASCII bytes.
pub fn check_string_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("key is empty");
    }
    if key.len() > MAX_STRING_KEY_LEN {
        return Err("key is longer than 64 bytes");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("key is not printable ASCII without spaces");
    }
    Ok(())
}

/// A short printable-ASCII key, stored as its bytes.
impl Encode for String {
    fn encode_key_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl Decode for String {
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        let key =
            std::str::from_utf8(bytes).map_err(|_| CodecError::Invalid("key is not UTF-8"))?;
        check_string_key(key).map_err(CodecError::Invalid)?;
        Ok(key.to_owned())
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode_key_to(&self, out: &mut Vec<u8>) {
        self.0.encode_key_to(out);
        self.1.encode_key_to(out);
    }
}

fn split_fixed<A: FixedWidth>(bytes: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
    bytes
        .split_at_checked(A::WIDTH)
        .ok_or_else(|| CodecError::Truncated {
            needed: A::WIDTH - bytes.len(),
        })
}

impl<A: Decode + FixedWidth, B: Decode> Decode for (A, B) {
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        let (a, rest) = split_fixed::<A>(bytes)?;
        Ok((A::decode_key(a)?, B::decode_key(rest)?))
    }
}

impl<A: FixedWidth, B: FixedWidth> FixedWidth for (A, B) {
    const WIDTH: usize = A::WIDTH + B::WIDTH;
}

impl<A: Encode, B: Encode, C: Encode> Encode for (A, B, C) {
    fn encode_key_to(&self, out: &mut Vec<u8>) {
        self.0.encode_key_to(out);
        self.1.encode_key_to(out);
        self.2.encode_key_to(out);
    }
}

impl<A: Decode + FixedWidth, B: Decode + FixedWidth, C: Decode> Decode for (A, B, C) {
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        let (a, rest) = split_fixed::<A>(bytes)?;
        let (b, rest) = split_fixed::<B>(rest)?;
        Ok((A::decode_key(a)?, B::decode_key(b)?, C::decode_key(rest)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------------

/// Reads the fields of a value front to back.
struct ByteReader<'a> {
    buf: &'a [u8],
}

impl<'a> ByteReader<'a> {
    /// Checks the version byte and returns a reader over the payload.
    fn versioned(bytes: &'a [u8]) -> Result<Self, CodecError> {
        let (&version, payload) = bytes.split_first().ok_or(CodecError::MissingVersion)?;
        if version != FORMAT_V1 {
            return Err(CodecError::UnknownVersion {
                found: version,
                supported: FORMAT_V1,
            });
        }
        Ok(Self { buf: payload })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let (head, tail) = self
            .buf
            .split_at_checked(len)
            .ok_or_else(|| CodecError::Truncated {
                needed: len - self.buf.len(),
            })?;
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        exact(self.take(N)?)
    }

    /// A canonical (shortest form) LEB128 varint.
    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            if i == 9 && byte > 1 {
                return Err(CodecError::Invalid("varint overflows u64"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(CodecError::Invalid("varint is not in shortest form"));
                }
                return Ok(value);
            }
        }
        Err(CodecError::Invalid("varint overflows u64"))
    }

    /// A trimmed big-endian U256 preceded by its length byte.
    fn sized_u256(&mut self) -> Result<U256, CodecError> {
        let len = usize::from(self.u8()?);
        if len > 32 {
            return Err(CodecError::Invalid("integer longer than 32 bytes"));
        }
        trimmed_u256(self.take(len)?)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn finish(self) -> Result<(), CodecError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(CodecError::TrailingBytes(n)),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The big-endian bytes of `value` without leading zeros (empty for zero).
fn trim_u256(value: &U256) -> ([u8; 32], usize) {
    let bytes = value.to_be_bytes::<32>();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(32);
    (bytes, start)
}

fn put_trimmed_u256(out: &mut Vec<u8>, value: &U256) {
    let (bytes, start) = trim_u256(value);
    out.extend_from_slice(&bytes[start..]);
}

fn put_sized_u256(out: &mut Vec<u8>, value: &U256) {
    let (bytes, start) = trim_u256(value);
    out.push((32 - start) as u8);
    out.extend_from_slice(&bytes[start..]);
}

fn trimmed_u256(bytes: &[u8]) -> Result<U256, CodecError> {
    if bytes.first() == Some(&0) {
        return Err(CodecError::Invalid("integer has a leading zero byte"));
    }
    U256::try_from_be_slice(bytes).ok_or(CodecError::Invalid("integer longer than 32 bytes"))
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// Index entries: the key says everything, the value is empty.
impl Compress for () {
    fn compress_to(&self, _out: &mut Vec<u8>) {}
}

impl Decompress for () {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.len() {
            0 => Ok(()),
            n => Err(CodecError::TrailingBytes(n)),
        }
    }
}

/// Block numbers: version, varint.
impl Compress for u64 {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        put_varint(out, *self);
    }
}

impl Decompress for u64 {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let value = r.varint()?;
        r.finish()?;
        Ok(value)
    }
}

/// Hashes: version, 32 bytes.
impl Compress for B256 {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        out.extend_from_slice(self.as_slice());
    }
}

impl Decompress for B256 {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let hash = B256::from(r.array::<32>()?);
        r.finish()?;
        Ok(hash)
    }
}

/// Storage words: version, trimmed big-endian (zero is an empty payload).
impl Compress for U256 {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        put_trimmed_u256(out, self);
    }
}

impl Decompress for U256 {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        trimmed_u256(r.rest())
    }
}

/// Opaque bytes (code, certificates, safety data, metadata): version, raw bytes.
impl Compress for Bytes {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        out.extend_from_slice(self);
    }
}

impl Decompress for Bytes {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        Ok(Bytes::copy_from_slice(r.rest()))
    }
}

/// Headers: version, RLP.
impl Compress for Header {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        self.encode(out);
    }
}

impl Decompress for Header {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let mut payload = r.rest();
        let header = Header::decode(&mut payload)?;
        ByteReader { buf: payload }.finish()?;
        Ok(header)
    }
}

/// Transactions: version, EIP-2718 envelope.
impl Compress for TxEnvelope {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        self.encode_2718(out);
    }
}

impl Decompress for TxEnvelope {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        Ok(TxEnvelope::decode_2718_exact(r.rest())?)
    }
}

const STATUS_FAILED: u8 = 0;
const STATUS_SUCCESS: u8 = 1;
const STATUS_POST_STATE: u8 = 2;

/// Receipts: version, tx type, status (0 failed, 1 success, 2 + 32-byte pre-Byzantium state
/// root), varint cumulative gas, RLP list of logs. The bloom is not stored: it is recomputed from
/// the logs on read.
impl Compress for ReceiptEnvelope {
    fn compress_to(&self, out: &mut Vec<u8>) {
        let (ReceiptEnvelope::Legacy(inner)
        | ReceiptEnvelope::Eip2930(inner)
        | ReceiptEnvelope::Eip1559(inner)
        | ReceiptEnvelope::Eip4844(inner)
        | ReceiptEnvelope::Eip7702(inner)) = self;
        let receipt = &inner.receipt;
        out.push(FORMAT_V1);
        out.push(self.tx_type() as u8);
        match receipt.status {
            Eip658Value::Eip658(false) => out.push(STATUS_FAILED),
            Eip658Value::Eip658(true) => out.push(STATUS_SUCCESS),
            Eip658Value::PostState(root) => {
                out.push(STATUS_POST_STATE);
                out.extend_from_slice(root.as_slice());
            }
        }
        put_varint(out, receipt.cumulative_gas_used);
        alloy_rlp::encode_list::<Log, Log>(&receipt.logs, out);
    }
}

impl Decompress for ReceiptEnvelope {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let tx_type = TxType::try_from(r.u8()?)
            .map_err(|_| CodecError::Invalid("unknown transaction type"))?;
        let status = match r.u8()? {
            STATUS_FAILED => Eip658Value::Eip658(false),
            STATUS_SUCCESS => Eip658Value::Eip658(true),
            STATUS_POST_STATE => Eip658Value::PostState(B256::from(r.array::<32>()?)),
            _ => return Err(CodecError::Invalid("unknown receipt status tag")),
        };
        let cumulative_gas_used = r.varint()?;
        let mut logs_rlp = r.rest();
        let logs = Vec::<Log>::decode(&mut logs_rlp)?;
        ByteReader { buf: logs_rlp }.finish()?;
        let receipt = Receipt {
            status,
            cumulative_gas_used,
            logs,
        };
        Ok(ReceiptEnvelope::from_typed(tx_type, receipt.with_bloom()))
    }
}

/// A block's system logs: version, RLP list of logs.
impl Compress for Vec<Log> {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        alloy_rlp::encode_list::<Log, Log>(self, out);
    }
}

impl Decompress for Vec<Log> {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let mut rlp = r.rest();
        let logs = Vec::<Log>::decode(&mut rlp)?;
        ByteReader { buf: rlp }.finish()?;
        Ok(logs)
    }
}

const ACCOUNT_HAS_CODE: u8 = 1;

/// Account payload: flags (bit 0: has code), varint nonce, length-prefixed trimmed balance, then
/// the code hash only if the account has code.
fn put_account(out: &mut Vec<u8>, account: &Account) {
    let has_code = account.has_code();
    out.push(if has_code { ACCOUNT_HAS_CODE } else { 0 });
    put_varint(out, account.nonce);
    put_sized_u256(out, &account.balance);
    if has_code {
        out.extend_from_slice(account.code_hash.as_slice());
    }
}

fn read_account(r: &mut ByteReader<'_>) -> Result<Account, CodecError> {
    let flags = r.u8()?;
    if flags & !ACCOUNT_HAS_CODE != 0 {
        return Err(CodecError::Invalid("unknown account flag bits"));
    }
    let nonce = r.varint()?;
    let balance = r.sized_u256()?;
    let code_hash = if flags & ACCOUNT_HAS_CODE != 0 {
        let hash = B256::from(r.array::<32>()?);
        if hash == KECCAK256_EMPTY {
            return Err(CodecError::Invalid(
                "code hash of empty code stored explicitly",
            ));
        }
        hash
    } else {
        KECCAK256_EMPTY
    };
    Ok(Account {
        nonce,
        balance,
        code_hash,
    })
}

/// Accounts: version, account payload.
impl Compress for Account {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        put_account(out, self);
    }
}

impl Decompress for Account {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let account = read_account(&mut r)?;
        r.finish()?;
        Ok(account)
    }
}

/// Account changeset entries: version, 0 (did not exist) or 1 followed by the account payload.
impl Compress for Option<Account> {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        match self {
            None => out.push(0),
            Some(account) => {
                out.push(1);
                put_account(out, account);
            }
        }
    }
}

impl Decompress for Option<Account> {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let account = match r.u8()? {
            0 => None,
            1 => Some(read_account(&mut r)?),
            _ => return Err(CodecError::Invalid("unknown account presence tag")),
        };
        r.finish()?;
        Ok(account)
    }
}

/// Bodies: version, varint transaction count.
impl Compress for StoredBody {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        put_varint(out, self.tx_count.into());
    }
}

impl Decompress for StoredBody {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let tx_count = u32::try_from(r.varint()?)
            .map_err(|_| CodecError::Invalid("transaction count exceeds u32"))?;
        r.finish()?;
        Ok(Self { tx_count })
    }
}

/// Transaction locations: version, varint block number, varint index.
impl Compress for TxLocation {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        put_varint(out, self.block_number);
        put_varint(out, self.index.into());
    }
}

impl Decompress for TxLocation {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let block_number = r.varint()?;
        let index = u32::try_from(r.varint()?)
            .map_err(|_| CodecError::Invalid("transaction index exceeds u32"))?;
        r.finish()?;
        Ok(Self {
            block_number,
            index,
        })
    }
}

/// Trie branch nodes: version, state/tree/hash masks (u16 big-endian each), root-hash flag and
/// optional root hash, then one 32-byte hash per bit of the hash mask.
impl Compress for BranchNodeCompact {
    fn compress_to(&self, out: &mut Vec<u8>) {
        out.push(FORMAT_V1);
        for mask in [self.state_mask, self.tree_mask, self.hash_mask] {
            out.extend_from_slice(&mask.get().to_be_bytes());
        }
        match &self.root_hash {
            None => out.push(0),
            Some(root) => {
                out.push(1);
                out.extend_from_slice(root.as_slice());
            }
        }
        for hash in self.hashes.iter() {
            out.extend_from_slice(hash.as_slice());
        }
    }
}

impl Decompress for BranchNodeCompact {
    fn decompress(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = ByteReader::versioned(bytes)?;
        let mut mask = || -> Result<TrieMask, CodecError> {
            Ok(TrieMask::new(u16::from_be_bytes(r.array::<2>()?)))
        };
        let (state_mask, tree_mask, hash_mask) = (mask()?, mask()?, mask()?);
        if !tree_mask.is_subset_of(state_mask) {
            return Err(CodecError::Invalid(
                "tree mask is not a subset of the state mask",
            ));
        }
        if !hash_mask.is_subset_of(state_mask) {
            return Err(CodecError::Invalid(
                "hash mask is not a subset of the state mask",
            ));
        }
        let root_hash = match r.u8()? {
            0 => None,
            1 => Some(B256::from(r.array::<32>()?)),
            _ => return Err(CodecError::Invalid("unknown root hash tag")),
        };
        let hashes = (0..hash_mask.count_bits())
            .map(|_| r.array::<32>().map(B256::from))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(BranchNodeCompact::new(
            state_mask, tree_mask, hash_mask, hashes, root_hash,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Signed, TxEip1559, TxLegacy};
    use alloy_primitives::{Bloom, LogData, Signature, TxKind};
    use proptest::prelude::*;

    fn roundtrip_value<V: Compress + Decompress + PartialEq + std::fmt::Debug>(value: &V) {
        let bytes = value.compress();
        assert_eq!(
            bytes.first(),
            Some(&FORMAT_V1),
            "value must start with the version"
        );
        assert_eq!(&V::decompress(&bytes).unwrap(), value);
    }

    /// A value whose encoding this crate defines must have exactly one byte form: whatever
    /// decodes re-encodes to the same bytes.
    fn canonical<V: Compress + Decompress>(bytes: &[u8]) {
        if let Ok(value) = V::decompress(bytes) {
            assert_eq!(value.compress(), bytes);
        }
    }

    fn arb_b256() -> impl Strategy<Value = B256> {
        any::<[u8; 32]>().prop_map(B256::from)
    }

    fn arb_address() -> impl Strategy<Value = Address> {
        any::<[u8; 20]>().prop_map(Address::from)
    }

    fn arb_u256() -> impl Strategy<Value = U256> {
        prop_oneof![
            Just(U256::ZERO),
            any::<u64>().prop_map(U256::from),
            any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        ]
    }

    fn arb_account() -> impl Strategy<Value = Account> {
        (
            any::<u64>(),
            arb_u256(),
            prop_oneof![Just(KECCAK256_EMPTY), arb_b256()],
        )
            .prop_map(|(nonce, balance, code_hash)| Account {
                nonce,
                balance,
                code_hash,
            })
    }

    fn arb_nibbles() -> impl Strategy<Value = Nibbles> {
        proptest::collection::vec(0u8..16, 0..=64).prop_map(Nibbles::from_nibbles)
    }

    fn arb_branch() -> impl Strategy<Value = BranchNodeCompact> {
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<bool>()).prop_flat_map(
            |(state, tree, hash, has_root)| {
                let (tree, hash) = (tree & state, hash & state);
                let count = hash.count_ones() as usize;
                (
                    proptest::collection::vec(arb_b256(), count),
                    arb_b256().prop_map(move |root| has_root.then_some(root)),
                )
                    .prop_map(move |(hashes, root)| {
                        BranchNodeCompact::new(state, tree, hash, hashes, root)
                    })
            },
        )
    }

    fn arb_log() -> impl Strategy<Value = Log> {
        (
            arb_address(),
            proptest::collection::vec(arb_b256(), 0..=4),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(address, topics, data)| Log {
                address,
                data: LogData::new_unchecked(topics, data.into()),
            })
    }

    fn arb_receipt() -> impl Strategy<Value = ReceiptEnvelope> {
        (
            0u8..5,
            prop_oneof![
                any::<bool>().prop_map(Eip658Value::Eip658),
                arb_b256().prop_map(Eip658Value::PostState),
            ],
            any::<u64>(),
            proptest::collection::vec(arb_log(), 0..4),
        )
            .prop_map(|(ty, status, cumulative_gas_used, logs)| {
                let receipt = Receipt {
                    status,
                    cumulative_gas_used,
                    logs,
                };
                ReceiptEnvelope::from_typed(TxType::try_from(ty).unwrap(), receipt.with_bloom())
            })
    }

    fn signature(seed: u64) -> Signature {
        Signature::new(
            U256::from(seed) + U256::from(1),
            U256::from(seed) + U256::from(2),
            seed.is_multiple_of(2),
        )
    }

    fn arb_tx() -> impl Strategy<Value = TxEnvelope> {
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..100),
            any::<bool>(),
        )
            .prop_map(|(nonce, value, input, legacy)| {
                if legacy {
                    let tx = TxLegacy {
                        chain_id: Some(7),
                        nonce,
                        gas_price: 1_000,
                        gas_limit: 21_000,
                        to: TxKind::Create,
                        value: U256::from(value),
                        input: input.into(),
                    };
                    TxEnvelope::Legacy(Signed::new_unhashed(tx, signature(nonce)))
                } else {
                    let tx = TxEip1559 {
                        chain_id: 7,
                        nonce,
                        gas_limit: 50_000,
                        max_fee_per_gas: 10,
                        max_priority_fee_per_gas: 1,
                        to: TxKind::Call(Address::with_last_byte(9)),
                        value: U256::from(value),
                        access_list: Default::default(),
                        input: input.into(),
                    };
                    TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature(nonce)))
                }
            })
    }

    proptest! {
        #[test]
        fn integer_key_order(a: u64, b: u64) {
            prop_assert_eq!(a.encode_key().cmp(&b.encode_key()), a.cmp(&b));
            prop_assert_eq!(u64::decode_key(&a.encode_key()).unwrap(), a);
        }

        #[test]
        fn block_index_key_order(a: (u64, u32), b: (u64, u32)) {
            prop_assert_eq!(a.encode_key().cmp(&b.encode_key()), a.cmp(&b));
            prop_assert_eq!(<(u64, u32)>::decode_key(&a.encode_key()).unwrap(), a);
        }

        #[test]
        fn storage_key_order(
            a in (arb_address(), arb_b256(), any::<u64>()),
            b in (arb_address(), arb_b256(), any::<u64>()),
        ) {
            prop_assert_eq!(a.encode_key().cmp(&b.encode_key()), a.cmp(&b));
            prop_assert_eq!(<(Address, B256, u64)>::decode_key(&a.encode_key()).unwrap(), a);
            let (a2, b2) = ((a.0, a.1), (b.0, b.1));
            prop_assert_eq!(a2.encode_key().cmp(&b2.encode_key()), a2.cmp(&b2));
            // A shorter key made of leading parts is a byte prefix of the longer key.
            prop_assert!(a.encode_key().starts_with(&a2.encode_key()));
        }

        #[test]
        fn changeset_key_order(
            a in (any::<u64>(), arb_address(), arb_b256()),
            b in (any::<u64>(), arb_address(), arb_b256()),
        ) {
            prop_assert_eq!(a.encode_key().cmp(&b.encode_key()), a.cmp(&b));
            prop_assert_eq!(<(u64, Address, B256)>::decode_key(&a.encode_key()).unwrap(), a);
        }

        #[test]
        fn trie_path_key_order(a in (arb_b256(), arb_nibbles()), b in (arb_b256(), arb_nibbles())) {
            prop_assert_eq!(a.encode_key().cmp(&b.encode_key()), a.cmp(&b));
            prop_assert_eq!(<(B256, Nibbles)>::decode_key(&a.encode_key()).unwrap(), a);
            prop_assert_eq!(a.1.encode_key().cmp(&b.1.encode_key()), a.1.cmp(&b.1));
        }

        #[test]
        fn values_roundtrip(
            account in arb_account(),
            maybe in proptest::option::of(arb_account()),
            word in arb_u256(),
            number: u64,
            hash in arb_b256(),
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            tx_count: u32,
            index: u32,
        ) {
            roundtrip_value(&account);
            roundtrip_value(&maybe);
            roundtrip_value(&word);
            roundtrip_value(&number);
            roundtrip_value(&hash);
            roundtrip_value(&Bytes::from(bytes));
            roundtrip_value(&StoredBody { tx_count });
            roundtrip_value(&TxLocation { block_number: number, index });
        }

        #[test]
        fn trie_nodes_roundtrip(node in arb_branch()) {
            roundtrip_value(&node);
        }

        #[test]
        fn system_logs_roundtrip(logs in proptest::collection::vec(arb_log(), 0..6)) {
            roundtrip_value(&logs);
        }

        #[test]
        fn receipts_roundtrip(receipt in arb_receipt()) {
            roundtrip_value(&receipt);
            let decoded = ReceiptEnvelope::decompress(&receipt.compress()).unwrap();
            // The bloom is recomputed from the logs.
            let expected = receipt.logs().iter().fold(Bloom::default(), |mut bloom, log| {
                bloom.accrue_log(log);
                bloom
            });
            prop_assert_eq!(*decoded.logs_bloom(), expected);
        }

        #[test]
        fn transactions_roundtrip(tx in arb_tx()) {
            let decoded = TxEnvelope::decompress(&tx.compress()).unwrap();
            prop_assert_eq!(decoded.tx_hash(), tx.tx_hash());
            prop_assert_eq!(decoded, tx);
        }

        #[test]
        fn headers_roundtrip(number: u64, parent in arb_b256(), gas_used: u64, base_fee: Option<u64>) {
            let header = Header {
                number,
                parent_hash: parent,
                gas_used,
                gas_limit: gas_used.saturating_add(1),
                base_fee_per_gas: base_fee,
                ..Default::default()
            };
            roundtrip_value(&header);
        }

        /// Random bytes never panic a decoder, and our own formats are canonical.
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            canonical::<Account>(&bytes);
            canonical::<Option<Account>>(&bytes);
            canonical::<U256>(&bytes);
            canonical::<u64>(&bytes);
            canonical::<B256>(&bytes);
            canonical::<StoredBody>(&bytes);
            canonical::<TxLocation>(&bytes);
            canonical::<BranchNodeCompact>(&bytes);
            canonical::<()>(&bytes);
            let _ = Header::decompress(&bytes);
            let _ = TxEnvelope::decompress(&bytes);
            let _ = ReceiptEnvelope::decompress(&bytes);
            let _ = <(u64, u32)>::decode_key(&bytes);
            let _ = <(Address, B256, u64)>::decode_key(&bytes);
            let _ = <(B256, Nibbles)>::decode_key(&bytes);
            let _ = String::decode_key(&bytes);
            if let Ok(path) = Nibbles::decode_key(&bytes) {
                prop_assert_eq!(path.encode_key(), bytes);
            }
        }

        /// Version byte 1 followed by junk: the payload decoders see the junk.
        #[test]
        fn junk_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut value = vec![FORMAT_V1];
            value.extend_from_slice(&bytes);
            canonical::<Account>(&value);
            canonical::<Option<Account>>(&value);
            canonical::<BranchNodeCompact>(&value);
            canonical::<TxLocation>(&value);
            if let Ok(receipt) = ReceiptEnvelope::decompress(&value) {
                let again = ReceiptEnvelope::decompress(&receipt.compress()).unwrap();
                prop_assert_eq!(again, receipt);
            }
            let _ = Header::decompress(&value);
            let _ = TxEnvelope::decompress(&value);
        }

        #[test]
        fn unknown_version_is_an_error(version in 2u8.., account in arb_account()) {
            let mut bytes = account.compress();
            bytes[0] = version;
            let unknown = matches!(
                Account::decompress(&bytes),
                Err(CodecError::UnknownVersion { found, supported: FORMAT_V1 }) if found == version
            );
            prop_assert!(unknown);
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        assert!(matches!(
            U256::decompress(&[]),
            Err(CodecError::MissingVersion)
        ));
        assert!(matches!(
            U256::decompress(&[1, 0, 5]),
            Err(CodecError::Invalid("integer has a leading zero byte"))
        ));
        assert!(matches!(
            u64::decompress(&[1, 0x80, 0x00]),
            Err(CodecError::Invalid("varint is not in shortest form"))
        ));
        assert!(matches!(
            u64::decompress(&[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
            ]),
            Err(CodecError::Invalid("varint overflows u64"))
        ));
        assert!(matches!(
            u64::decompress(&[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Ok(u64::MAX)
        ));
        assert!(matches!(
            B256::decompress(&[1; 20]),
            Err(CodecError::Truncated { needed: 13 })
        ));
        assert!(matches!(
            u64::decompress(&[1, 5, 5]),
            Err(CodecError::TrailingBytes(1))
        ));
        assert!(matches!(
            <()>::decompress(&[1]),
            Err(CodecError::TrailingBytes(1))
        ));
        assert!(matches!(
            u64::decode_key(&[0; 7]),
            Err(CodecError::InvalidLength {
                expected: 8,
                got: 7
            })
        ));
        assert!(Nibbles::decode_key(&[1, 0x10]).is_err());
        assert!(Nibbles::decode_key(&[1; 65]).is_err());
        assert!(String::decode_key(b"head block").is_err());
        assert!(String::decode_key(b"").is_err());
        // A hash mask bit outside the state mask.
        let mut node = vec![FORMAT_V1, 0, 1, 0, 0, 0, 2, 0];
        node.extend_from_slice(&[7; 32]);
        assert!(matches!(
            BranchNodeCompact::decompress(&node),
            Err(CodecError::Invalid(
                "hash mask is not a subset of the state mask"
            ))
        ));
        // One hash promised by the mask, none present.
        let node = [FORMAT_V1, 0, 1, 0, 0, 0, 1, 0];
        assert!(matches!(
            BranchNodeCompact::decompress(&node),
            Err(CodecError::Truncated { needed: 32 })
        ));
    }

    #[test]
    fn accounts_without_code_are_short() {
        let account = Account {
            nonce: 1,
            balance: U256::from(1_000_000u64),
            code_hash: KECCAK256_EMPTY,
        };
        // version, flags, nonce, balance length, 3 balance bytes
        assert_eq!(account.compress().len(), 7);
        assert_eq!(Some(account).compress().len(), 8);
        assert_eq!(None::<Account>.compress(), vec![FORMAT_V1, 0]);
    }
}
