//! Lenient readers for the number and byte encodings found in real genesis files.
//!
//! geth's own files mix `0x`-hex quantities, decimal strings and bare JSON numbers
//! (holesky's `timestamp`, hoodi's decimal balances), addresses with and without `0x`,
//! and `""` for empty `extraData`. Everything here accepts exactly those forms and rejects
//! anything else with a message that says what was expected.

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{
    Deserialize, Deserializer,
    de::{self, Visitor},
};
use std::{collections::BTreeMap, fmt};

/// Parses a quantity written as `0x`-hex or decimal text.
pub(crate) fn parse_u256(s: &str) -> Result<U256, String> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() {
            return Err("empty hex quantity".into());
        }
        U256::from_str_radix(hex, 16).map_err(|e| format!("invalid hex quantity {s:?}: {e}"))
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "invalid quantity {s:?}: expected 0x-hex or decimal"
            ));
        }
        U256::from_str_radix(s, 10).map_err(|e| format!("invalid decimal quantity {s:?}: {e}"))
    }
}

/// Parses hex bytes; `""` and `"0x"` are empty, the `0x` prefix is optional.
pub(crate) fn parse_bytes(s: &str) -> Result<Bytes, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(hex)
        .map(Bytes::from)
        .map_err(|e| format!("invalid hex bytes: {e}"))
}

/// Parses a 32-byte word written as hex of at most 32 bytes, left-padded with zeros (the way
/// geth reads storage keys and values).
pub(crate) fn parse_word(s: &str) -> Result<B256, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.len() > 64 {
        return Err(format!("{s:?} is longer than 32 bytes"));
    }
    let padded = format!("{hex:0>64}");
    let bytes = hex::decode(&padded).map_err(|e| format!("invalid hex word {s:?}: {e}"))?;
    Ok(B256::from_slice(&bytes))
}

/// Parses an address with or without `0x`.
pub(crate) fn parse_address(s: &str) -> Result<Address, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.len() != 40 {
        return Err(format!("invalid address {s:?}: expected 20 bytes of hex"));
    }
    hex.parse::<Address>()
        .map_err(|e| format!("invalid address {s:?}: {e}"))
}

struct QuantityVisitor;

impl Visitor<'_> for QuantityVisitor {
    type Value = U256;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity: 0x-hex string, decimal string or non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
        Ok(U256::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<U256, E> {
        u64::try_from(v)
            .map(U256::from)
            .map_err(|_| E::custom(format!("negative quantity {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<U256, E> {
        // serde_json hands integers beyond u64 over as floats. Only whole, non-negative values
        // are quantities; they are exact up to 2^53 and close enough above for the one field
        // that can be that large (a terminal total difficulty, never used by Parallax).
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
            Ok(U256::from(v as u128))
        } else {
            Err(E::custom(format!("invalid quantity {v}")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
        parse_u256(v).map_err(E::custom)
    }
}

/// Deserializes a [`U256`] quantity.
pub(crate) fn u256<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
    d.deserialize_any(QuantityVisitor)
}

/// Deserializes a `u64` quantity.
pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = d.deserialize_any(QuantityVisitor)?;
    u64::try_from(v).map_err(|_| de::Error::custom(format!("quantity {v} does not fit in 64 bits")))
}

/// Deserializes an optional `u64` quantity (`null` or absent is `None`).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "u64")] u64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// Deserializes an optional [`U256`] quantity.
pub(crate) fn opt_u256<'de, D: Deserializer<'de>>(d: D) -> Result<Option<U256>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "u256")] U256);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// Deserializes lenient hex bytes.
pub(crate) fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    let s = String::deserialize(d)?;
    parse_bytes(&s).map_err(de::Error::custom)
}

/// Deserializes a 32-byte word (hex, left-padded).
pub(crate) fn word<'de, D: Deserializer<'de>>(d: D) -> Result<B256, D::Error> {
    let s = String::deserialize(d)?;
    parse_word(&s).map_err(de::Error::custom)
}

/// Deserializes an address with or without `0x`.
pub(crate) fn address<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
    let s = String::deserialize(d)?;
    parse_address(&s).map_err(de::Error::custom)
}

/// Deserializes a storage map of 32-byte words, rejecting two spellings of one slot.
pub(crate) fn storage<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<B256, B256>, D::Error> {
    let raw = BTreeMap::<String, String>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let slot = parse_word(&k).map_err(|e| de::Error::custom(format!("slot {k}: {e}")))?;
        let value = parse_word(&v).map_err(|e| de::Error::custom(format!("slot {k}: {e}")))?;
        if out.insert(slot, value).is_some() {
            return Err(de::Error::custom(format!("slot {slot} is given twice")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_every_spelling() {
        assert_eq!(parse_u256("0x10").unwrap(), U256::from(16));
        assert_eq!(parse_u256("16").unwrap(), U256::from(16));
        assert_eq!(
            parse_u256("0xD3C21BCECCEDA1000000").unwrap(),
            U256::from(1_000_000u128 * 10u128.pow(18))
        );
        assert!(parse_u256("0x").is_err());
        assert!(parse_u256("-1").is_err());
        assert!(parse_u256("12a").is_err());
        assert!(u64(serde_json::json!("0x10000000000000000")).is_err());
        let n: serde_json::Value = serde_json::json!(1695902100u64);
        assert_eq!(u64(n).unwrap(), 1_695_902_100);
        assert!(u64(serde_json::json!(-3)).is_err());
        assert!(u64(serde_json::json!(1.5)).is_err());
    }

    #[test]
    fn words_bytes_and_addresses() {
        assert_eq!(parse_word("0x01").unwrap(), B256::with_last_byte(1));
        assert!(parse_word(&format!("0x{}", "1".repeat(65))).is_err());
        assert_eq!(parse_bytes("").unwrap(), Bytes::new());
        assert_eq!(parse_bytes("0x").unwrap(), Bytes::new());
        assert!(parse_bytes("0xabc").is_err());
        let a = "3282791d6fd713f1e94f4bfd565eaa78b3a0599d";
        assert_eq!(
            parse_address(a).unwrap(),
            parse_address(&format!("0x{a}")).unwrap()
        );
        assert!(parse_address("0x1234").is_err());
    }
}
