//! Parameter types for where serde's default decoding would differ from geth's: a quantity
//! given as a JSON number or a hex string, a storage slot as any hex quantity or word, and
//! [`End`], which marks where a method's arguments end.
//!
//! Hex strings without `0x` (which alloy's decoders would take and geth refuses) are refused
//! for every method before its parameters are decoded, in the
//! [`middleware`](crate::middleware).

use alloy_primitives::{U64, U256};
use serde::{Deserialize, Deserializer, de::Error as _};

/// The last parameter of a method that takes at most `N` arguments: any value in its place
/// is refused with geth's "too many arguments, want at most N" (a `null` there is as if
/// absent). jsonrpsee alone would ignore the extra arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct End<const N: usize>;

/// The start of an [`End`] refusal's text; the middleware keeps it as the message.
pub(crate) const TOO_MANY_ARGUMENTS: &str = "too many arguments, want at most";

impl<'de, const N: usize> Deserialize<'de> for End<N> {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(D::Error::custom(format!("{TOO_MANY_ARGUMENTS} {N}")))
    }
}

/// A quantity given as a hex string or a JSON number (geth accepts both for counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantity(pub(crate) u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Hex(U64),
        }
        match Either::deserialize(d) {
            Ok(Either::Number(n)) => Ok(Self(n)),
            Ok(Either::Hex(n)) => Ok(Self(n.to())),
            Err(_) => Err(D::Error::custom(
                "not a quantity: a hex string or a number that fits in 64 bits",
            )),
        }
    }
}

/// A storage slot given as any hex quantity or 32-byte word (geth accepts both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorageKey(pub(crate) U256);

impl<'de> Deserialize<'de> for StorageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(|| D::Error::custom("hex string without 0x prefix"))?;
        if hex.len() > 64 {
            return Err(D::Error::custom("hex string too long for a storage key"));
        }
        U256::from_str_radix(if hex.is_empty() { "0" } else { hex }, 16)
            .map(StorageKey)
            .map_err(|_| D::Error::custom("invalid hex string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn storage_keys_accept_quantities_and_words() {
        let k: StorageKey = serde_json::from_value(json!("0x0")).unwrap();
        assert_eq!(k.0, U256::ZERO);
        let k: StorageKey =
            serde_json::from_value(json!(format!("0x{}", "0".repeat(63) + "2"))).unwrap();
        assert_eq!(k.0, U256::from(2));
        assert!(serde_json::from_value::<StorageKey>(json!("2")).is_err());
        assert!(
            serde_json::from_value::<StorageKey>(json!(format!("0x{}", "1".repeat(65)))).is_err()
        );
    }

    #[test]
    fn quantities_are_hex_strings_or_numbers() {
        assert_eq!(
            serde_json::from_value::<Quantity>(json!("0x10")).unwrap(),
            Quantity(16)
        );
        assert_eq!(
            serde_json::from_value::<Quantity>(json!(16)).unwrap(),
            Quantity(16)
        );
        assert!(serde_json::from_value::<Quantity>(json!(-1)).is_err());
        assert!(serde_json::from_value::<Quantity>(json!("0x1ffffffffffffffff")).is_err());
    }

    #[test]
    fn an_end_refuses_any_value_in_its_place() {
        let e = serde_json::from_value::<End<2>>(json!(3)).unwrap_err();
        assert_eq!(e.to_string(), "too many arguments, want at most 2");
        assert!(
            serde_json::from_value::<Option<End<2>>>(json!(null))
                .unwrap()
                .is_none()
        );
    }
}
