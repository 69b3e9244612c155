//! Wire types: the messages validators send each other ([`Message`]: proposals, votes,
//! timeouts, round sync and evidence), and, re-exported here, the blocks, votes, timeouts
//! and certificates they are built from.
//!
//! They are plain Rust values; the node maps them to the protobufs in `proto/`. Each has a
//! compact deterministic encoding ([`crate::codec`]) used for hashing, signing and
//! persisting. Signatures are kept as raw bytes here and only interpreted when verified, so a
//! malformed signature is a rejected message, never a decode panic.

pub use crate::block::{Block, BlockInfo, MAX_PAYLOAD_BYTES};
pub use crate::certificate::{
    QuorumCertificate, SignedBy, Timeout, TimeoutCertificate, TimeoutSignature, Vote,
};
pub use crate::primitives::{Hash, Height, MAX_SIGNATURES, Round, Signature, ValidatorIndex};

use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::evidence::Evidence;
use ed25519_dalek::SigningKey;

/// Largest encoded [`Evidence`] (two signed headers; far above the 290-odd bytes it takes).
pub const MAX_EVIDENCE_BYTES: usize = 1024;

/// A leader's proposal: a block with the QC of its parent, and the TC of the previous round
/// when that round timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The proposed block.
    pub block: Block,
    /// The QC certifying the block's parent.
    pub qc: QuorumCertificate,
    /// The TC of round `block.round - 1`, when the parent's QC is older than that.
    pub tc: Option<TimeoutCertificate>,
    /// The author's signature over the proposal message (chain id, round, block id).
    pub signature: Signature,
}

impl Proposal {
    /// The participants a block proposed on `qc` (and `tc`, after a timeout) must record:
    /// the TC's signers when there is a TC, else the QC's signers, in index order.
    pub fn participants(
        qc: &QuorumCertificate,
        tc: Option<&TimeoutCertificate>,
    ) -> Vec<ValidatorIndex> {
        let mut v: Vec<ValidatorIndex> = match tc {
            Some(tc) => tc.signatures.iter().map(|s| s.signer).collect(),
            None => qc.signatures.iter().map(|s| s.signer).collect(),
        };
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Signs a proposal of `block` (whose author must be the signer).
    pub fn sign(
        chain_id: u64,
        block: Block,
        qc: QuorumCertificate,
        tc: Option<TimeoutCertificate>,
        key: &SigningKey,
    ) -> Self {
        let msg = crypto::proposal_message(chain_id, block.round(), &block.id());
        Self {
            block,
            qc,
            tc,
            signature: crypto::sign(key, &msg),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        self.block.write(w);
        self.qc.write(w);
        w.optional(self.tc.as_ref(), |v, w| v.write(w));
        w.fixed(&self.signature.0);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let block = Block::read(r)?;
        let qc = QuorumCertificate::read(r)?;
        let tc = r.optional("proposal.tc", TimeoutCertificate::read)?;
        Ok(Self {
            block,
            qc,
            tc,
            signature: Signature(r.array("proposal.signature")?),
        })
    }
}

/// A node's highest certificates, sent to a validator that is behind (round sync). Unsigned:
/// each certificate authenticates itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncInfo {
    /// The sender's highest QC.
    pub highest_qc: QuorumCertificate,
    /// The sender's highest TC, when it is above the highest QC.
    pub highest_tc: Option<TimeoutCertificate>,
}

impl SyncInfo {
    /// The round the certificates move a node to.
    pub fn round(&self) -> Round {
        let tc = self.highest_tc.as_ref().map_or(0, |t| t.round);
        self.highest_qc.round.max(tc).saturating_add(1)
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        self.highest_qc.write(w);
        w.optional(self.highest_tc.as_ref(), |v, w| v.write(w));
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            highest_qc: QuorumCertificate::read(r)?,
            highest_tc: r.optional("sync.tc", TimeoutCertificate::read)?,
        })
    }
}

/// Everything validators send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A leader's proposal, broadcast.
    Proposal(Box<Proposal>),
    /// A vote, sent to the next leader.
    Vote(Vote),
    /// A timeout, broadcast.
    Timeout(Timeout),
    /// Certificates for a validator that is behind.
    Sync(Box<SyncInfo>),
    /// Proof that a validator equivocated, gossiped so every validator learns it.
    Evidence(Box<Evidence>),
}

impl Message {
    /// The round the message is about.
    pub fn round(&self) -> Round {
        match self {
            Message::Proposal(p) => p.block.round(),
            Message::Vote(v) => v.round,
            Message::Timeout(t) => t.round,
            Message::Sync(s) => s.round(),
            Message::Evidence(e) => e.round(),
        }
    }

    /// The validator that claims to have signed it (`None` for [`Message::Sync`], which
    /// carries only certificates, and [`Message::Evidence`], whose signer is the culprit,
    /// not the sender).
    pub fn author(&self) -> Option<ValidatorIndex> {
        match self {
            Message::Proposal(p) => Some(p.block.author()),
            Message::Vote(v) => Some(v.voter),
            Message::Timeout(t) => Some(t.author),
            Message::Sync(_) | Message::Evidence(_) => None,
        }
    }

    /// The canonical encoding (a tag byte, then the message).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Message::Proposal(p) => {
                w.u8(1);
                p.write(&mut w);
            }
            Message::Vote(v) => {
                w.u8(2);
                v.write(&mut w);
            }
            Message::Timeout(t) => {
                w.u8(3);
                t.write(&mut w);
            }
            Message::Sync(s) => {
                w.u8(4);
                s.write(&mut w);
            }
            Message::Evidence(e) => {
                w.u8(5);
                w.bytes(&e.encode());
            }
        }
        w.finish()
    }

    /// Decodes [`Message::encode`]'s output; never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let m = match r.u8("message.tag")? {
            1 => Message::Proposal(Box::new(Proposal::read(&mut r)?)),
            2 => Message::Vote(Vote::read(&mut r)?),
            3 => Message::Timeout(Timeout::read(&mut r)?),
            4 => Message::Sync(Box::new(SyncInfo::read(&mut r)?)),
            5 => {
                let bytes = r.bytes("message.evidence", MAX_EVIDENCE_BYTES)?;
                Message::Evidence(Box::new(Evidence::decode(bytes)?))
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "message.tag",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::tests::{key, sample_qc};

    #[test]
    fn every_message_round_trips_through_its_encoding() {
        let qc = sample_qc();
        let b = Block::new(4, 3, qc.block_id, 1, vec![2, 0, 1], vec![1, 2, 3]);
        assert_eq!(b.participants(), &[0, 1, 2]);
        let t = Timeout::sign(9, 4, qc.clone(), 2, &key(2));
        let tc = TimeoutCertificate {
            round: 4,
            signatures: vec![TimeoutSignature {
                signer: 2,
                high_qc_round: 3,
                signature: t.signature,
            }],
            high_qc: qc.clone(),
        };
        let mut t_with_tc = t.clone();
        t_with_tc.round = 5;
        t_with_tc.tc = Some(tc.clone());
        let msgs = [
            Message::Timeout(t_with_tc),
            Message::Proposal(Box::new(Proposal::sign(
                9,
                b.clone(),
                qc.clone(),
                None,
                &key(1),
            ))),
            Message::Proposal(Box::new(Proposal::sign(
                9,
                b.clone(),
                qc.clone(),
                Some(tc.clone()),
                &key(1),
            ))),
            Message::Vote(Vote::sign(9, b.info(), 3, &key(3))),
            Message::Sync(Box::new(SyncInfo {
                highest_qc: qc.clone(),
                highest_tc: Some(tc.clone()),
            })),
            Message::Sync(Box::new(SyncInfo {
                highest_qc: qc.clone(),
                highest_tc: None,
            })),
            Message::Timeout(t),
        ];
        for m in msgs {
            let bytes = m.encode();
            assert_eq!(Message::decode(&bytes).unwrap(), m);
            // Every strict prefix fails to decode, and never panics.
            for cut in 0..bytes.len() {
                assert!(Message::decode(&bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn oversized_certificate_is_rejected_while_decoding() {
        let mut qc = sample_qc();
        let s = qc.signatures[0];
        qc.signatures = vec![s; MAX_SIGNATURES + 1];
        let t = Timeout::sign(9, 4, qc, 2, &key(2));
        let err = Message::decode(&Message::Timeout(t).encode()).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::TooLong {
                field: "qc.signatures",
                ..
            }
        ));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Message::decode(&bytes);
        }
    }
}
