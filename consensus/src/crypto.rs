//! Domain-separated signing messages and ed25519 signing and (batch) verification.
//!
//! Every signed message starts with a length-prefixed domain tag naming its kind and the
//! protocol version, then the chain id, then the fields that identify what is signed, so a
//! signature for one kind of message, one chain or one round can never be replayed as another.

use crate::codec::Writer;
use crate::primitives::{Hash, Round, Signature};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// Domain tag of block ids.
pub(crate) const DOMAIN_BLOCK: &[u8] = b"parallax/consensus/v1/block";
/// Domain tag of the hash that picks a substitute leader ([`crate::leader`]).
pub(crate) const DOMAIN_LEADER: &[u8] = b"parallax/consensus/v1/leader";
/// Domain tag of votes.
pub const DOMAIN_VOTE: &[u8] = b"parallax/consensus/v1/vote";
/// Domain tag of timeouts.
pub const DOMAIN_TIMEOUT: &[u8] = b"parallax/consensus/v1/timeout";
/// Domain tag of proposals.
pub const DOMAIN_PROPOSAL: &[u8] = b"parallax/consensus/v1/proposal";

fn start(domain: &[u8], chain_id: u64) -> Writer {
    let mut w = Writer::new();
    w.bytes(domain).u64(chain_id);
    w
}

/// What a vote signs: (domain, chain id, round, height, block id).
pub fn vote_message(chain_id: u64, round: Round, height: u64, block_id: &Hash) -> Vec<u8> {
    let mut w = start(DOMAIN_VOTE, chain_id);
    w.u64(round).u64(height).fixed(&block_id.0);
    w.finish()
}

/// What a timeout signs: (domain, chain id, round, round of the signer's highest QC).
pub fn timeout_message(chain_id: u64, round: Round, high_qc_round: Round) -> Vec<u8> {
    let mut w = start(DOMAIN_TIMEOUT, chain_id);
    w.u64(round).u64(high_qc_round);
    w.finish()
}

/// What a proposal signs: (domain, chain id, round, block id).
pub fn proposal_message(chain_id: u64, round: Round, block_id: &Hash) -> Vec<u8> {
    let mut w = start(DOMAIN_PROPOSAL, chain_id);
    w.u64(round).fixed(&block_id.0);
    w.finish()
}

/// Signs `msg`.
pub fn sign(key: &SigningKey, msg: &[u8]) -> Signature {
    Signature(key.sign(msg).to_bytes())
}

/// Verifies one signature strictly (canonical encodings, no small-order keys).
pub fn verify(key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    key.verify_strict(msg, &sig).is_ok()
}

/// Verifies many signatures at once; `true` only if every one is valid (any invalid
/// signature, or mismatched lengths, fails the whole batch). Keys come from the validator
/// set, which admits no weak keys.
pub fn verify_batch(msgs: &[&[u8]], sigs: &[Signature], keys: &[VerifyingKey]) -> bool {
    if msgs.len() != sigs.len() || sigs.len() != keys.len() {
        return false;
    }
    match sigs.len() {
        0 => true,
        1 => verify(&keys[0], msgs[0], &sigs[0]),
        _ => {
            let parsed: Vec<ed25519_dalek::Signature> = sigs
                .iter()
                .map(|s| ed25519_dalek::Signature::from_bytes(&s.0))
                .collect();
            ed25519_dalek::verify_batch(msgs, &parsed, keys).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_domain_separated() {
        let h = Hash([3; 32]);
        let v = vote_message(1, 5, 4, &h);
        assert_ne!(v, vote_message(2, 5, 4, &h), "chain id is signed");
        assert_ne!(v, vote_message(1, 6, 4, &h), "round is signed");
        assert_ne!(proposal_message(1, 5, &h), timeout_message(1, 5, 4));
        assert!(v.starts_with(&(DOMAIN_VOTE.len() as u32).to_be_bytes()));
    }

    #[test]
    fn batch_rejects_one_bad_signature_among_good_ones() {
        let keys: Vec<SigningKey> = (1..=4u8)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let msg = vote_message(1, 2, 3, &Hash([9; 32]));
        let mut sigs: Vec<Signature> = keys.iter().map(|k| sign(k, &msg)).collect();
        let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
        let msgs = vec![msg.as_slice(); 4];
        assert!(verify_batch(&msgs, &sigs, &vks));
        sigs[2].0[5] ^= 1;
        assert!(!verify_batch(&msgs, &sigs, &vks));
        // A valid signature under the wrong key is rejected too.
        let swapped = vec![vks[1], vks[0], vks[2], vks[3]];
        sigs[2].0[5] ^= 1;
        assert!(!verify_batch(&msgs, &sigs, &swapped));
        assert!(!verify_batch(&msgs[..3], &sigs, &vks), "length mismatch");
    }
}
