//! Signed consensus messages and certificates, as honest validators would make them.
//!
//! [`Signers`] holds the validators' keys and the chain id they sign for; its builders sign
//! exactly what the consensus crate verifies, so a test's certificate is valid unless the test
//! changes it afterwards.

use ed25519_dalek::SigningKey;
use parallax_consensus::{
    Block, BlockInfo, Proposal, QuorumCertificate, Round, SignedBy, Timeout, TimeoutCertificate,
    TimeoutSignature, ValidatorIndex, ValidatorSet, Vote,
};

/// The validators of a test chain: their keys (equal voting power) and its chain id.
#[derive(Debug, Clone)]
pub struct Signers {
    /// The chain id every message is signed for.
    pub chain_id: u64,
    keys: Vec<SigningKey>,
}

impl Signers {
    /// `n` validators whose keys are fixed (validator `i`'s secret is `[i + 1; 32]`), so a
    /// failure reproduces.
    pub fn new(chain_id: u64, n: usize) -> Self {
        Self::with_keys(
            chain_id,
            (0..n)
                .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
                .collect(),
        )
    }

    /// Validators with the given keys, in index order.
    pub fn with_keys(chain_id: u64, keys: Vec<SigningKey>) -> Self {
        Self { chain_id, keys }
    }

    /// Validator `i`'s key.
    pub fn key(&self, i: ValidatorIndex) -> &SigningKey {
        &self.keys[i as usize]
    }

    /// The validator set, each with voting power 1.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet::new(self.keys.iter().map(|k| (k.verifying_key(), 1)).collect())
            .expect("a valid validator set")
    }

    /// A quorum certificate for `block` with the votes of `signers`, in that order.
    pub fn qc(&self, block: BlockInfo, signers: &[ValidatorIndex]) -> QuorumCertificate {
        QuorumCertificate {
            round: block.round,
            height: block.height,
            block_id: block.id,
            signatures: signers
                .iter()
                .map(|&s| SignedBy {
                    signer: s,
                    signature: Vote::sign(self.chain_id, block, s, self.key(s)).signature,
                })
                .collect(),
        }
    }

    /// A timeout certificate for `round` whose signers all hold `high_qc`.
    pub fn tc(
        &self,
        round: Round,
        high_qc: &QuorumCertificate,
        signers: &[ValidatorIndex],
    ) -> TimeoutCertificate {
        TimeoutCertificate {
            round,
            signatures: signers
                .iter()
                .map(|&s| TimeoutSignature {
                    signer: s,
                    high_qc_round: high_qc.round,
                    signature: Timeout::sign(self.chain_id, round, high_qc.clone(), s, self.key(s))
                        .signature,
                })
                .collect(),
            high_qc: high_qc.clone(),
        }
    }

    /// `author`'s signed proposal for `round`: a block extending `qc` (one height above it)
    /// carrying `payload`, justified by `qc` and, after a timeout, `tc`.
    pub fn proposal(
        &self,
        author: ValidatorIndex,
        round: Round,
        qc: &QuorumCertificate,
        tc: Option<TimeoutCertificate>,
        payload: &[u8],
    ) -> Proposal {
        let block = Block::new(
            round,
            qc.height + 1,
            qc.block_id,
            author,
            Proposal::participants(qc, tc.as_ref()),
            payload.to_vec(),
        );
        Proposal::sign(self.chain_id, block, qc.clone(), tc, self.key(author))
    }
}
