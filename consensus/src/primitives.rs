//! The protocol's primitive values: rounds, heights, validator indices, hashes and
//! signatures as received, and the largest number of signatures a certificate may carry.
//!
//! Everything else in the crate is built from these; this module depends on nothing of the
//! crate's, so the signing messages ([`crate::crypto`]), the validator set and the messages
//! can all name them.

use sha2::{Digest, Sha256};
use std::fmt;

/// A consensus round. Round 0 is genesis; the first proposal is in round 1.
pub type Round = u64;
/// A block's height (block number). Genesis is height 0.
pub type Height = u64;
/// A validator, named by its index in the validator set.
pub type ValidatorIndex = u32;

/// Most signatures a certificate may carry (the largest validator set genesis allows).
pub const MAX_SIGNATURES: usize = 256;

/// A 32-byte hash (block ids, digests).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `parts`, each length-prefixed, under a domain tag.
    pub fn digest(domain: &[u8], parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        h.update((domain.len() as u32).to_be_bytes());
        h.update(domain);
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        Hash(h.finalize().into())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(&self.0[..4]))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// A 64-byte ed25519 signature as received; only verification interprets it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sig:{}", hex::encode(&self.0[..4]))
    }
}
