//! Votes and timeouts, and the certificates built from them: a [`QuorumCertificate`] (votes
//! of more than 2/3 of voting power for one block in one round, verified against the
//! validator set) and a [`TimeoutCertificate`] (timeouts of more than 2/3 for one round).
//!
//! Each has a compact deterministic encoding ([`crate::codec`]) used for hashing, signing
//! and persisting. Signatures are kept as raw bytes and only interpreted when verified
//! ([`crate::crypto`]), so a malformed signature is a rejected message, never a decode panic.

use crate::block::BlockInfo;
use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::primitives::{Hash, Height, MAX_SIGNATURES, Round, Signature, ValidatorIndex};
use crate::rejection::Rejection;
use crate::validators::ValidatorSet;
use ed25519_dalek::SigningKey;
use std::collections::HashSet;

/// One validator's signature inside a quorum certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedBy {
    /// The signer's index.
    pub signer: ValidatorIndex,
    /// Its signature.
    pub signature: Signature,
}

/// Votes of more than 2/3 of voting power for one block in one round. The genesis QC (round
/// 0, no signatures) certifies the genesis block by definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCertificate {
    /// The certified block's round.
    pub round: Round,
    /// The certified block's height.
    pub height: Height,
    /// The certified block's id.
    pub block_id: Hash,
    /// One signature per signer over the vote message.
    pub signatures: Vec<SignedBy>,
}

impl QuorumCertificate {
    /// The genesis QC for `genesis`.
    pub fn genesis(genesis: BlockInfo) -> Self {
        Self {
            round: 0,
            height: 0,
            block_id: genesis.id,
            signatures: Vec::new(),
        }
    }

    /// The certified block.
    pub fn block(&self) -> BlockInfo {
        BlockInfo {
            id: self.block_id,
            round: self.round,
            height: self.height,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.round)
            .u64(self.height)
            .fixed(&self.block_id.0)
            .u32(self.signatures.len() as u32);
        for s in &self.signatures {
            w.u32(s.signer).fixed(&s.signature.0);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let round = r.u64("qc.round")?;
        let height = r.u64("qc.height")?;
        let block_id = Hash(r.array("qc.block_id")?);
        let n = r.count("qc.signatures", MAX_SIGNATURES)?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push(SignedBy {
                signer: r.u32("qc.signer")?,
                signature: Signature(r.array("qc.signature")?),
            });
        }
        Ok(Self {
            round,
            height,
            block_id,
            signatures,
        })
    }

    /// A digest of the whole certificate (signatures included), used to remember which
    /// certificates were already verified.
    pub fn digest(&self) -> Hash {
        let mut w = Writer::new();
        self.write(&mut w);
        Hash::digest(b"parallax/consensus/v1/qc-digest", &[&w.finish()])
    }

    /// Checks the certificate on its own, as block sync needs: every signer is a validator and
    /// signs once, the signers hold a quorum of voting power, and every signature is a valid
    /// vote on `chain_id` for the certified block (one batch verification). Pure: it caches
    /// nothing, so it costs the full verification each time.
    ///
    /// A round-0 QC is refused: the only valid one is the genesis QC, which has no signatures
    /// and certifies the genesis block by definition, so it can only be checked by comparing it
    /// with [`QuorumCertificate::genesis`] of the chain's genesis block, which a validator set
    /// does not know. A QC of height 0 after round 0 is refused too.
    pub fn verify(&self, chain_id: u64, validators: &ValidatorSet) -> Result<(), Rejection> {
        if self.round == 0 {
            return Err(Rejection::Malformed(
                "round-0 QC: only the genesis QC, checked against the genesis block",
            ));
        }
        if self.height == 0 {
            return Err(Rejection::Malformed("QC of height 0 after round 0"));
        }
        if self.signatures.len() > validators.len() {
            return Err(Rejection::Malformed("more signatures than validators"));
        }
        let mut seen = HashSet::with_capacity(self.signatures.len());
        let mut power = 0u64;
        let mut keys = Vec::with_capacity(self.signatures.len());
        let mut sigs = Vec::with_capacity(self.signatures.len());
        for s in &self.signatures {
            let (Some(key), Some(p)) = (validators.key(s.signer), validators.power(s.signer))
            else {
                return Err(Rejection::UnknownValidator(s.signer));
            };
            if !seen.insert(s.signer) {
                return Err(Rejection::DuplicateSigner(s.signer));
            }
            // Bounded: at most 256 signers, total power at most MAX_TOTAL_VOTING_POWER.
            power += p;
            keys.push(*key);
            sigs.push(s.signature);
        }
        if !validators.is_quorum(power) {
            return Err(Rejection::NoQuorum("QC"));
        }
        let msg = crypto::vote_message(chain_id, self.round, self.height, &self.block_id);
        let msgs = vec![msg.as_slice(); sigs.len()];
        if !crypto::verify_batch(&msgs, &sigs, &keys) {
            return Err(Rejection::InvalidSignature("QC"));
        }
        Ok(())
    }
}

/// One validator's signed timeout inside a timeout certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutSignature {
    /// The signer's index.
    pub signer: ValidatorIndex,
    /// The round of the highest QC the signer had when it timed out.
    pub high_qc_round: Round,
    /// Signature over the timeout message (chain id, round, `high_qc_round`).
    pub signature: Signature,
}

/// Timeouts of more than 2/3 of voting power for one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeoutCertificate {
    /// The round that timed out.
    pub round: Round,
    /// One timeout signature per signer.
    pub signatures: Vec<TimeoutSignature>,
    /// The highest QC among the timeouts; its round is the largest `high_qc_round`.
    pub high_qc: QuorumCertificate,
}

impl TimeoutCertificate {
    /// The largest `high_qc_round` among the signatures.
    pub fn highest_hqc_round(&self) -> Round {
        self.signatures
            .iter()
            .map(|s| s.high_qc_round)
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.round).u32(self.signatures.len() as u32);
        for s in &self.signatures {
            w.u32(s.signer).u64(s.high_qc_round).fixed(&s.signature.0);
        }
        self.high_qc.write(w);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let round = r.u64("tc.round")?;
        let n = r.count("tc.signatures", MAX_SIGNATURES)?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push(TimeoutSignature {
                signer: r.u32("tc.signer")?,
                high_qc_round: r.u64("tc.high_qc_round")?,
                signature: Signature(r.array("tc.signature")?),
            });
        }
        let high_qc = QuorumCertificate::read(r)?;
        Ok(Self {
            round,
            signatures,
            high_qc,
        })
    }

    /// A digest of the whole certificate, used to remember which were verified.
    pub fn digest(&self) -> Hash {
        let mut w = Writer::new();
        self.write(&mut w);
        Hash::digest(b"parallax/consensus/v1/tc-digest", &[&w.finish()])
    }
}

/// A validator's vote for a block, sent to the next round's leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The voted block's round.
    pub round: Round,
    /// The voted block's height.
    pub height: Height,
    /// The voted block's id.
    pub block_id: Hash,
    /// The voter.
    pub voter: ValidatorIndex,
    /// Signature over the vote message (chain id, round, height, block id).
    pub signature: Signature,
}

impl Vote {
    /// Signs a vote for `block`.
    pub fn sign(chain_id: u64, block: BlockInfo, voter: ValidatorIndex, key: &SigningKey) -> Self {
        let msg = crypto::vote_message(chain_id, block.round, block.height, &block.id);
        Self {
            round: block.round,
            height: block.height,
            block_id: block.id,
            voter,
            signature: crypto::sign(key, &msg),
        }
    }

    /// The voted block.
    pub fn block(&self) -> BlockInfo {
        BlockInfo {
            id: self.block_id,
            round: self.round,
            height: self.height,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.round)
            .u64(self.height)
            .fixed(&self.block_id.0)
            .u32(self.voter)
            .fixed(&self.signature.0);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            round: r.u64("vote.round")?,
            height: r.u64("vote.height")?,
            block_id: Hash(r.array("vote.block_id")?),
            voter: r.u32("vote.voter")?,
            signature: Signature(r.array("vote.signature")?),
        })
    }
}

/// A validator's timeout for a round, carrying its highest QC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// The round that timed out.
    pub round: Round,
    /// The author's highest QC.
    pub high_qc: QuorumCertificate,
    /// The TC of the previous round, when the author entered this round through it (round
    /// sync: a node that missed it catches up). Self-authenticating, so not signed.
    pub tc: Option<TimeoutCertificate>,
    /// The author.
    pub author: ValidatorIndex,
    /// Signature over the timeout message (chain id, round, high QC round).
    pub signature: Signature,
}

impl Timeout {
    /// Signs a timeout for `round`.
    pub fn sign(
        chain_id: u64,
        round: Round,
        high_qc: QuorumCertificate,
        author: ValidatorIndex,
        key: &SigningKey,
    ) -> Self {
        let msg = crypto::timeout_message(chain_id, round, high_qc.round);
        Self {
            round,
            high_qc,
            tc: None,
            author,
            signature: crypto::sign(key, &msg),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.round);
        self.high_qc.write(w);
        w.optional(self.tc.as_ref(), |v, w| v.write(w));
        w.u32(self.author).fixed(&self.signature.0);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            round: r.u64("timeout.round")?,
            high_qc: QuorumCertificate::read(r)?,
            tc: r.optional("timeout.tc", TimeoutCertificate::read)?,
            author: r.u32("timeout.author")?,
            signature: Signature(r.array("timeout.signature")?),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::block::Block;

    /// Validator `i`'s test key.
    pub(crate) fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    /// A QC of validators 0..3 (keys [`key`]) for a block at round 3, height 2.
    pub(crate) fn sample_qc() -> QuorumCertificate {
        let b = Block::new(3, 2, Hash([1; 32]), 0, vec![], b"x".to_vec());
        let sigs = (0..3)
            .map(|i| {
                let v = Vote::sign(9, b.info(), i, &key(i as u8));
                SignedBy {
                    signer: i,
                    signature: v.signature,
                }
            })
            .collect();
        QuorumCertificate {
            round: 3,
            height: 2,
            block_id: b.id(),
            signatures: sigs,
        }
    }

    #[test]
    fn a_qc_verifies_against_the_validator_set_on_its_own() {
        let set = ValidatorSet::new((0..4).map(|i| (key(i).verifying_key(), 1)).collect()).unwrap();
        let qc = sample_qc();
        assert_eq!(qc.verify(9, &set), Ok(()));
        assert_eq!(
            qc.verify(10, &set),
            Err(Rejection::InvalidSignature("QC")),
            "signed for another chain"
        );

        let mut tampered = qc.clone();
        tampered.signatures[1].signature.0[7] ^= 1;
        assert_eq!(
            tampered.verify(9, &set),
            Err(Rejection::InvalidSignature("QC"))
        );
        let mut other_block = qc.clone();
        other_block.block_id = Hash([5; 32]);
        assert_eq!(
            other_block.verify(9, &set),
            Err(Rejection::InvalidSignature("QC"))
        );

        let mut duplicated = qc.clone();
        duplicated.signatures.push(qc.signatures[0]);
        assert_eq!(
            duplicated.verify(9, &set),
            Err(Rejection::DuplicateSigner(0))
        );
        // Two valid signatures of four equal powers are not more than 2/3, and repeating one
        // does not make up the difference.
        let mut below = qc.clone();
        below.signatures.truncate(2);
        assert_eq!(below.verify(9, &set), Err(Rejection::NoQuorum("QC")));
        below.signatures.push(qc.signatures[1]);
        assert_eq!(below.verify(9, &set), Err(Rejection::DuplicateSigner(1)));

        let mut unknown = qc.clone();
        unknown.signatures[2].signer = 4;
        assert_eq!(unknown.verify(9, &set), Err(Rejection::UnknownValidator(4)));
        let mut too_many = qc.clone();
        too_many.signatures = vec![qc.signatures[0]; 5];
        assert!(matches!(
            too_many.verify(9, &set),
            Err(Rejection::Malformed(_))
        ));

        // The genesis QC has no signatures: only a comparison with the chain's genesis block
        // can accept it, so on its own it is refused, as is any signed-looking round-0 QC.
        let genesis = QuorumCertificate::genesis(BlockInfo::genesis(Hash([1; 32])));
        assert!(matches!(
            genesis.verify(9, &set),
            Err(Rejection::Malformed(_))
        ));
        let mut round0 = qc.clone();
        round0.round = 0;
        assert!(matches!(
            round0.verify(9, &set),
            Err(Rejection::Malformed(_))
        ));
        let mut height0 = qc;
        height0.height = 0;
        assert!(matches!(
            height0.verify(9, &set),
            Err(Rejection::Malformed(_))
        ));
    }
}
