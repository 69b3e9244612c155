//! Consensus messages on the wire: exact conversions between this crate's types and the
//! protobufs of `parallax-proto` (what the node gossips, and what the simulator sends, so both
//! run one encoding).
//!
//! [`encode_message`] and [`decode_message`] (an [`Envelope`]: chain id, optional recipient,
//! send number, message). [`Convert`] and the `*_to_proto` functions are the building blocks
//! the node's other wire formats (block sync) use too.
//!
//! Decoding never panics and never trusts the input: bytes go through `parallax-proto`'s
//! bounded decoders (size limit before parsing, structure after), then through a conversion
//! that checks what is left and fails with a [`WireError`] whose [`WireError::reason`] is a
//! fixed label for metrics. Decoding checks form, not authority: signatures, signers and
//! rounds are for the state machine to judge.
//!
//! # Block ids
//!
//! A block's id is not on the wire. [`decode_message`] rebuilds every block with
//! [`Block::new`], which computes the id from the decoded fields. A block altered in transit
//! therefore gets a different id, and the proposal signature, votes and QCs over the original
//! id no longer verify against it: alteration is caught by verification, not here.
//! Participants must arrive strictly increasing (the canonical form), so every block has
//! exactly one encoding.
//!
//! Encoding is infallible and does not check limits: a value beyond them (a payload above
//! [`MAX_PAYLOAD_BYTES`], say) encodes to bytes that every peer rejects.

use crate::evidence::{Evidence, SignedProposal, SignedTimeout};
use crate::types::{
    Block, Hash, MAX_PAYLOAD_BYTES, MAX_SIGNATURES, Message, Proposal, QuorumCertificate,
    Signature, SignedBy, SyncInfo, Timeout, TimeoutCertificate, TimeoutSignature, ValidatorIndex,
    Vote,
};
use parallax_proto::v1;
use prost::Message as _;

/// Why bytes from a peer were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The protobuf layer rejected them: too large, malformed, or structurally invalid.
    #[error(transparent)]
    Proto(#[from] parallax_proto::WireError),
    /// They parsed and passed the protobuf checks, but do not convert to a consensus or
    /// Ethereum value (the node uses this variant for its own formats too).
    #[error("invalid {kind}: {field}: {detail}")]
    Invalid {
        /// The message kind.
        kind: &'static str,
        /// Which rule, as a fixed label (`bad_header`, `commit_mismatch`, …).
        reason: &'static str,
        /// The offending field's path (`transactions[3]`).
        field: String,
        /// What is wrong.
        detail: String,
    },
}

impl WireError {
    /// A short, fixed label for metrics: the protobuf layer's
    /// ([`parallax_proto::WireError::reason`]) or this module's rule.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Proto(e) => e.reason(),
            Self::Invalid { reason, .. } => reason,
        }
    }
}

/// A consensus message as it travels: for which chain, to whom, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The chain the message belongs to; the receiver drops messages for another chain.
    pub chain_id: u64,
    /// The addressee of a point-to-point message (a vote to the next leader, a sync to a
    /// validator that is behind); `None` for broadcasts. Others only relay it.
    pub recipient: Option<ValidatorIndex>,
    /// Which send of the message this is (see [`encode_message`]); not signed, not used by
    /// consensus.
    pub send_seq: u64,
    /// The message.
    pub message: Message,
}

/// Encodes a consensus message for the consensus topic (or a point-to-point send to
/// `recipient`). `send_seq` numbers the sender's sends: gossip identifies a message by a hash
/// of its bytes and drops what it has seen (the sender's own router included), so a re-send
/// of the same signed message gets a new number to reach the validators that missed the first.
pub fn encode_message(
    chain_id: u64,
    message: &Message,
    recipient: Option<ValidatorIndex>,
    send_seq: u64,
) -> Vec<u8> {
    use v1::consensus_message::Body;
    let body = match message {
        Message::Proposal(p) => Body::Proposal(v1::Proposal {
            block: Some(block_to_proto(&p.block)),
            parent_qc: Some(qc_to_proto(&p.qc)),
            tc: p.tc.as_ref().map(tc_to_proto),
            signature: p.signature.0.to_vec(),
        }),
        Message::Vote(v) => Body::Vote(vote_to_proto(v)),
        Message::Timeout(t) => Body::Timeout(v1::Timeout {
            round: t.round,
            high_qc: Some(qc_to_proto(&t.high_qc)),
            tc: t.tc.as_ref().map(tc_to_proto),
            author: t.author,
            signature: t.signature.0.to_vec(),
        }),
        Message::Sync(s) => Body::Sync(v1::SyncInfo {
            highest_qc: Some(qc_to_proto(&s.highest_qc)),
            highest_tc: s.highest_tc.as_ref().map(tc_to_proto),
        }),
        Message::Evidence(e) => Body::Evidence(evidence_to_proto(e)),
    };
    v1::ConsensusMessage {
        chain_id,
        recipient,
        send_seq,
        body: Some(body),
    }
    .encode_to_vec()
}

/// Decodes a consensus message: bounded protobuf decoding
/// ([`parallax_proto::decode_consensus_message`]), then conversion. Every block is rebuilt
/// with [`Block::new`], so its id is recomputed from the decoded fields: if anything was
/// altered on the way, the id differs and the signatures over the original fail to verify.
/// Block participants must be strictly increasing.
pub fn decode_message(bytes: &[u8]) -> Result<Envelope, WireError> {
    use v1::consensus_message::Body;
    let msg = parallax_proto::decode_consensus_message(bytes)?;
    let c = Convert {
        kind: "consensus message",
    };
    let message = match c.required(msg.body, "body")? {
        Body::Proposal(p) => {
            let block = c.block(c.required(p.block, "proposal.block")?, "proposal.block")?;
            let qc = c.qc(
                c.required(p.parent_qc, "proposal.parent_qc")?,
                "proposal.parent_qc",
            )?;
            let tc = p.tc.map(|tc| c.tc(tc, "proposal.tc")).transpose()?;
            Message::Proposal(Box::new(Proposal {
                block,
                qc,
                tc,
                signature: c.signature(&p.signature, "proposal.signature")?,
            }))
        }
        Body::Vote(v) => Message::Vote(c.vote(v, "vote")?),
        Body::Timeout(t) => Message::Timeout(Timeout {
            round: t.round,
            high_qc: c.qc(c.required(t.high_qc, "timeout.high_qc")?, "timeout.high_qc")?,
            tc: t.tc.map(|tc| c.tc(tc, "timeout.tc")).transpose()?,
            author: t.author,
            signature: c.signature(&t.signature, "timeout.signature")?,
        }),
        Body::Sync(s) => Message::Sync(Box::new(SyncInfo {
            highest_qc: c.qc(
                c.required(s.highest_qc, "sync.highest_qc")?,
                "sync.highest_qc",
            )?,
            highest_tc: s
                .highest_tc
                .map(|tc| c.tc(tc, "sync.highest_tc"))
                .transpose()?,
        })),
        Body::Evidence(e) => Message::Evidence(Box::new(c.evidence(e, "evidence")?)),
    };
    Ok(Envelope {
        chain_id: msg.chain_id,
        recipient: msg.recipient,
        send_seq: msg.send_seq,
        message,
    })
}

// ---------------------------------------------------------------------------------------------
// Conversions

fn vote_to_proto(v: &Vote) -> v1::Vote {
    v1::Vote {
        round: v.round,
        height: v.height,
        block_id: v.block_id.0.to_vec(),
        voter: v.voter,
        signature: v.signature.0.to_vec(),
    }
}

/// Evidence as its protobuf.
pub fn evidence_to_proto(e: &Evidence) -> v1::Evidence {
    use v1::evidence::Kind;
    let proposal = |p: &SignedProposal| v1::SignedProposalHeader {
        author: p.author,
        round: p.round,
        block_id: p.block_id.0.to_vec(),
        signature: p.signature.0.to_vec(),
    };
    let timeout = |t: &SignedTimeout| v1::SignedTimeoutHeader {
        author: t.author,
        round: t.round,
        high_qc_round: t.high_qc_round,
        signature: t.signature.0.to_vec(),
    };
    let kind = match e {
        Evidence::DoubleProposal { first, second } => Kind::DoubleProposal(v1::DoubleProposal {
            first: Some(proposal(first)),
            second: Some(proposal(second)),
        }),
        Evidence::DoubleVote { first, second } => Kind::DoubleVote(v1::DoubleVote {
            first: Some(vote_to_proto(first)),
            second: Some(vote_to_proto(second)),
        }),
        Evidence::DoubleTimeout { first, second } => Kind::DoubleTimeout(v1::DoubleTimeout {
            first: Some(timeout(first)),
            second: Some(timeout(second)),
        }),
    };
    v1::Evidence { kind: Some(kind) }
}

/// A block as its protobuf (its id is not on the wire: see the module docs).
pub fn block_to_proto(b: &Block) -> v1::Block {
    v1::Block {
        round: b.round(),
        height: b.height(),
        parent_id: b.parent().0.to_vec(),
        author: b.author(),
        participants: b.participants().to_vec(),
        payload: b.payload().to_vec(),
    }
}

/// A QC as its protobuf.
pub fn qc_to_proto(qc: &QuorumCertificate) -> v1::QuorumCertificate {
    v1::QuorumCertificate {
        round: qc.round,
        height: qc.height,
        block_id: qc.block_id.0.to_vec(),
        signatures: qc
            .signatures
            .iter()
            .map(|s| v1::ValidatorSignature {
                validator_index: s.signer,
                signature: s.signature.0.to_vec(),
            })
            .collect(),
    }
}

/// A TC as its protobuf.
pub fn tc_to_proto(tc: &TimeoutCertificate) -> v1::TimeoutCertificate {
    v1::TimeoutCertificate {
        round: tc.round,
        signatures: tc
            .signatures
            .iter()
            .map(|s| v1::TimeoutSignature {
                validator_index: s.signer,
                high_qc_round: s.high_qc_round,
                signature: s.signature.0.to_vec(),
            })
            .collect(),
        high_qc: Some(qc_to_proto(&tc.high_qc)),
    }
}

/// Converts checked protobufs into consensus values. `parallax-proto`'s decoders already
/// enforce most of these rules; the conversion checks them again instead of assuming them, so
/// it is total on any protobuf value and never panics.
#[derive(Debug, Clone, Copy)]
pub struct Convert {
    kind: &'static str,
}

impl Convert {
    /// A conversion of a `kind` of message (named in its errors).
    pub fn new(kind: &'static str) -> Self {
        Self { kind }
    }

    /// An error of this kind of message: rule `reason` broken at `field`.
    pub fn fail<T>(
        &self,
        reason: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Result<T, WireError> {
        Err(WireError::Invalid {
            kind: self.kind,
            reason,
            field: field.into(),
            detail: detail.into(),
        })
    }

    /// A required field.
    pub fn required<T>(&self, value: Option<T>, field: &str) -> Result<T, WireError> {
        match value {
            Some(v) => Ok(v),
            None => self.fail("missing_field", field, "is required"),
        }
    }

    /// A 32-byte hash.
    pub fn hash(&self, bytes: &[u8], field: &str) -> Result<Hash, WireError> {
        match <[u8; 32]>::try_from(bytes) {
            Ok(h) => Ok(Hash(h)),
            Err(_) => self.fail(
                "bad_hash_length",
                field,
                format!("{} bytes, expected 32", bytes.len()),
            ),
        }
    }

    /// A 64-byte ed25519 signature.
    pub fn signature(&self, bytes: &[u8], field: &str) -> Result<Signature, WireError> {
        match <[u8; 64]>::try_from(bytes) {
            Ok(s) => Ok(Signature(s)),
            Err(_) => self.fail(
                "bad_signature_length",
                field,
                format!("{} bytes, expected 64", bytes.len()),
            ),
        }
    }

    /// A block, its id computed from its fields; participants strictly increasing.
    pub fn block(&self, b: v1::Block, field: &str) -> Result<Block, WireError> {
        let parent = self.hash(&b.parent_id, &format!("{field}.parent_id"))?;
        if b.participants.len() > MAX_SIGNATURES {
            return self.fail(
                "too_many",
                format!("{field}.participants"),
                format!("{} entries, at most {MAX_SIGNATURES}", b.participants.len()),
            );
        }
        if let Some(i) = b.participants.windows(2).position(|w| w[0] >= w[1]) {
            return self.fail(
                "participants_not_canonical",
                format!("{field}.participants[{}]", i + 1),
                "participants must be strictly increasing",
            );
        }
        if b.payload.len() > MAX_PAYLOAD_BYTES {
            return self.fail(
                "oversized_payload",
                format!("{field}.payload"),
                format!("{} bytes, at most {MAX_PAYLOAD_BYTES}", b.payload.len()),
            );
        }
        Ok(Block::new(
            b.round,
            b.height,
            parent,
            b.author,
            b.participants,
            b.payload,
        ))
    }

    /// At most as many entries as a certificate may carry.
    pub fn count(&self, len: usize, field: &str) -> Result<(), WireError> {
        if len > MAX_SIGNATURES {
            return self.fail(
                "too_many",
                field,
                format!("{len} entries, at most {MAX_SIGNATURES}"),
            );
        }
        Ok(())
    }

    /// A QC.
    pub fn qc(
        &self,
        qc: v1::QuorumCertificate,
        field: &str,
    ) -> Result<QuorumCertificate, WireError> {
        let sigs = format!("{field}.signatures");
        self.count(qc.signatures.len(), &sigs)?;
        let signatures = qc
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(SignedBy {
                    signer: s.validator_index,
                    signature: self.signature(&s.signature, &format!("{sigs}[{i}].signature"))?,
                })
            })
            .collect::<Result<_, WireError>>()?;
        Ok(QuorumCertificate {
            round: qc.round,
            height: qc.height,
            block_id: self.hash(&qc.block_id, &format!("{field}.block_id"))?,
            signatures,
        })
    }

    /// A vote.
    pub fn vote(&self, v: v1::Vote, field: &str) -> Result<Vote, WireError> {
        Ok(Vote {
            round: v.round,
            height: v.height,
            block_id: self.hash(&v.block_id, &format!("{field}.block_id"))?,
            voter: v.voter,
            signature: self.signature(&v.signature, &format!("{field}.signature"))?,
        })
    }

    /// Evidence (its form only: [`Evidence::verify`] judges it).
    pub fn evidence(&self, e: v1::Evidence, field: &str) -> Result<Evidence, WireError> {
        use v1::evidence::Kind;
        let proposal = |p: Option<v1::SignedProposalHeader>, f: String| {
            let p = self.required(p, &f)?;
            Ok::<_, WireError>(SignedProposal {
                author: p.author,
                round: p.round,
                block_id: self.hash(&p.block_id, &format!("{f}.block_id"))?,
                signature: self.signature(&p.signature, &format!("{f}.signature"))?,
            })
        };
        let timeout = |t: Option<v1::SignedTimeoutHeader>, f: String| {
            let t = self.required(t, &f)?;
            Ok::<_, WireError>(SignedTimeout {
                author: t.author,
                round: t.round,
                high_qc_round: t.high_qc_round,
                signature: self.signature(&t.signature, &format!("{f}.signature"))?,
            })
        };
        Ok(match self.required(e.kind, &format!("{field}.kind"))? {
            Kind::DoubleProposal(d) => Evidence::DoubleProposal {
                first: proposal(d.first, format!("{field}.double_proposal.first"))?,
                second: proposal(d.second, format!("{field}.double_proposal.second"))?,
            },
            Kind::DoubleVote(d) => {
                let f = format!("{field}.double_vote.first");
                let s = format!("{field}.double_vote.second");
                Evidence::DoubleVote {
                    first: self.vote(self.required(d.first, &f)?, &f)?,
                    second: self.vote(self.required(d.second, &s)?, &s)?,
                }
            }
            Kind::DoubleTimeout(d) => Evidence::DoubleTimeout {
                first: timeout(d.first, format!("{field}.double_timeout.first"))?,
                second: timeout(d.second, format!("{field}.double_timeout.second"))?,
            },
        })
    }

    /// A TC.
    pub fn tc(
        &self,
        tc: v1::TimeoutCertificate,
        field: &str,
    ) -> Result<TimeoutCertificate, WireError> {
        let sigs = format!("{field}.signatures");
        self.count(tc.signatures.len(), &sigs)?;
        let signatures = tc
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(TimeoutSignature {
                    signer: s.validator_index,
                    high_qc_round: s.high_qc_round,
                    signature: self.signature(&s.signature, &format!("{sigs}[{i}].signature"))?,
                })
            })
            .collect::<Result<_, WireError>>()?;
        let high_qc = format!("{field}.high_qc");
        Ok(TimeoutCertificate {
            round: tc.round,
            signatures,
            high_qc: self.qc(self.required(tc.high_qc, &high_qc)?, &high_qc)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protobuf values built directly, skipping `parallax-proto`'s checks, still convert to
    /// an error, never a panic.
    #[test]
    fn conversion_rejects_what_the_proto_layer_would() {
        let c = Convert::new("test");
        let block = v1::Block {
            round: 1,
            height: 1,
            parent_id: vec![0; 32],
            author: 0,
            participants: vec![2, 2],
            payload: vec![],
        };
        let err = c.block(block.clone(), "b").unwrap_err();
        assert_eq!(err.reason(), "participants_not_canonical");
        assert!(err.to_string().contains("b.participants[1]"), "{err}");
        let err = c
            .block(
                v1::Block {
                    parent_id: vec![0; 31],
                    ..block.clone()
                },
                "b",
            )
            .unwrap_err();
        assert_eq!(err.reason(), "bad_hash_length");
        let err = c
            .block(
                v1::Block {
                    participants: (0..=MAX_SIGNATURES as u32).collect(),
                    ..block
                },
                "b",
            )
            .unwrap_err();
        assert_eq!(err.reason(), "too_many");

        let qc = v1::QuorumCertificate {
            round: 1,
            height: 1,
            block_id: vec![0; 32],
            signatures: vec![v1::ValidatorSignature {
                validator_index: 0,
                signature: vec![0; 65],
            }],
        };
        assert_eq!(
            c.qc(qc.clone(), "qc").unwrap_err().reason(),
            "bad_signature_length"
        );
        let tc = v1::TimeoutCertificate {
            round: 2,
            signatures: vec![],
            high_qc: None,
        };
        assert_eq!(c.tc(tc, "tc").unwrap_err().reason(), "missing_field");
    }
}
