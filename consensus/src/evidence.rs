//! Equivocation evidence: two conflicting messages one validator signed, which anyone can
//! check with that validator's public key alone.
//!
//! An honest validator signs at most one proposal (as leader), one vote and one timeout per
//! round, and re-sends the same signed message rather than signing anew (its safety data
//! keeps the last vote and timeout). Two different ones for one round are therefore proof of
//! a fault:
//!
//! * [`Evidence::DoubleProposal`]: two proposals of different blocks for one round.
//! * [`Evidence::DoubleVote`]: two votes for different (block, height) in one round.
//! * [`Evidence::DoubleTimeout`]: two timeouts for one round reporting different highest-QC
//!   rounds.
//!
//! Evidence carries only what was signed (never the blocks or certificates around it), has
//! one canonical form ([`Evidence::canonical`]: the pair in byte order), and a compact
//! deterministic encoding ([`Evidence::encode`]), so it can be persisted, gossiped and, later,
//! carried in a block for jailing and slashing. [`Evidence::verify`] is the one check every
//! receiver runs; [`EvidencePool`] remembers what a node has already reported, bounded.

use crate::certificate::Vote;
use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::primitives::{Hash, Round, Signature, ValidatorIndex};
use crate::rejection::Rejection;
use crate::validators::ValidatorSet;
use std::collections::BTreeSet;

const EVIDENCE_VERSION: u8 = 1;

/// A proposal's signed header: enough to prove what a leader proposed in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedProposal {
    /// The leader.
    pub author: ValidatorIndex,
    /// The round.
    pub round: Round,
    /// The proposed block's id.
    pub block_id: Hash,
    /// The leader's signature over the proposal message.
    pub signature: Signature,
}

impl SignedProposal {
    fn write(&self, w: &mut Writer) {
        w.u32(self.author)
            .u64(self.round)
            .fixed(&self.block_id.0)
            .fixed(&self.signature.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            author: r.u32("proposal.author")?,
            round: r.u64("proposal.round")?,
            block_id: Hash(r.array("proposal.block_id")?),
            signature: Signature(r.array("proposal.signature")?),
        })
    }
}

/// A timeout's signed content: (round, highest QC round), by its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTimeout {
    /// The author.
    pub author: ValidatorIndex,
    /// The round timed out.
    pub round: Round,
    /// The round of the author's highest QC, as signed.
    pub high_qc_round: Round,
    /// The author's signature over the timeout message.
    pub signature: Signature,
}

impl SignedTimeout {
    fn write(&self, w: &mut Writer) {
        w.u32(self.author)
            .u64(self.round)
            .u64(self.high_qc_round)
            .fixed(&self.signature.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            author: r.u32("timeout.author")?,
            round: r.u64("timeout.round")?,
            high_qc_round: r.u64("timeout.high_qc_round")?,
            signature: Signature(r.array("timeout.signature")?),
        })
    }
}

/// What kind of message a validator signed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceKind {
    /// Two proposals.
    DoubleProposal,
    /// Two votes.
    DoubleVote,
    /// Two timeouts.
    DoubleTimeout,
}

impl EvidenceKind {
    /// All kinds, for metrics.
    pub const ALL: [EvidenceKind; 3] = [
        EvidenceKind::DoubleProposal,
        EvidenceKind::DoubleVote,
        EvidenceKind::DoubleTimeout,
    ];

    /// A fixed label (`double_proposal`, `double_vote`, `double_timeout`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::DoubleProposal => "double_proposal",
            EvidenceKind::DoubleVote => "double_vote",
            EvidenceKind::DoubleTimeout => "double_timeout",
        }
    }

    /// Its tag in the encoding (1, 2, 3), stable across versions.
    pub fn tag(self) -> u8 {
        match self {
            EvidenceKind::DoubleProposal => 1,
            EvidenceKind::DoubleVote => 2,
            EvidenceKind::DoubleTimeout => 3,
        }
    }
}

/// Proof that a validator equivocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Two different proposals signed by one leader for one round.
    DoubleProposal {
        /// One proposal.
        first: SignedProposal,
        /// The other.
        second: SignedProposal,
    },
    /// Two votes by one validator for different blocks (or heights) in one round.
    DoubleVote {
        /// One vote.
        first: Vote,
        /// The other.
        second: Vote,
    },
    /// Two timeouts by one validator for one round with different highest-QC rounds.
    DoubleTimeout {
        /// One timeout.
        first: SignedTimeout,
        /// The other.
        second: SignedTimeout,
    },
}

impl Evidence {
    /// The equivocating validator (as the first message claims; [`Evidence::verify`] checks
    /// both are its).
    pub fn culprit(&self) -> ValidatorIndex {
        match self {
            Evidence::DoubleProposal { first, .. } => first.author,
            Evidence::DoubleVote { first, .. } => first.voter,
            Evidence::DoubleTimeout { first, .. } => first.author,
        }
    }

    /// The round of the equivocation.
    pub fn round(&self) -> Round {
        match self {
            Evidence::DoubleProposal { first, .. } => first.round,
            Evidence::DoubleVote { first, .. } => first.round,
            Evidence::DoubleTimeout { first, .. } => first.round,
        }
    }

    /// What was signed twice.
    pub fn kind(&self) -> EvidenceKind {
        match self {
            Evidence::DoubleProposal { .. } => EvidenceKind::DoubleProposal,
            Evidence::DoubleVote { .. } => EvidenceKind::DoubleVote,
            Evidence::DoubleTimeout { .. } => EvidenceKind::DoubleTimeout,
        }
    }

    /// The same evidence with its two messages in byte order of their encodings, so that
    /// (a, b) and (b, a) are one value with one encoding and one [`Evidence::id`].
    pub fn canonical(self) -> Self {
        fn order<T>(a: T, b: T, enc: impl Fn(&T) -> Vec<u8>) -> (T, T) {
            if enc(&a) <= enc(&b) { (a, b) } else { (b, a) }
        }
        let enc = |f: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new();
            f(&mut w);
            w.finish()
        };
        match self {
            Evidence::DoubleProposal { first, second } => {
                let (first, second) = order(first, second, |p| enc(&|w| p.write(w)));
                Evidence::DoubleProposal { first, second }
            }
            Evidence::DoubleVote { first, second } => {
                let (first, second) = order(first, second, |v| enc(&|w| v.write(w)));
                Evidence::DoubleVote { first, second }
            }
            Evidence::DoubleTimeout { first, second } => {
                let (first, second) = order(first, second, |t| enc(&|w| t.write(w)));
                Evidence::DoubleTimeout { first, second }
            }
        }
    }

    /// Checks the evidence proves an equivocation on `chain_id`: both messages name one
    /// validator of `validators` and one round, they differ in what they sign, and both
    /// signatures are that validator's.
    pub fn verify(&self, chain_id: u64, validators: &ValidatorSet) -> Result<(), Rejection> {
        let (author, other, round, other_round, messages, signatures) = match self {
            Evidence::DoubleProposal { first, second } => {
                if first.block_id == second.block_id {
                    return Err(Rejection::Malformed("evidence: the same proposal twice"));
                }
                (
                    first.author,
                    second.author,
                    first.round,
                    second.round,
                    [
                        crypto::proposal_message(chain_id, first.round, &first.block_id),
                        crypto::proposal_message(chain_id, second.round, &second.block_id),
                    ],
                    [first.signature, second.signature],
                )
            }
            Evidence::DoubleVote { first, second } => {
                if (first.block_id, first.height) == (second.block_id, second.height) {
                    return Err(Rejection::Malformed("evidence: the same vote twice"));
                }
                (
                    first.voter,
                    second.voter,
                    first.round,
                    second.round,
                    [
                        crypto::vote_message(chain_id, first.round, first.height, &first.block_id),
                        crypto::vote_message(
                            chain_id,
                            second.round,
                            second.height,
                            &second.block_id,
                        ),
                    ],
                    [first.signature, second.signature],
                )
            }
            Evidence::DoubleTimeout { first, second } => {
                if first.high_qc_round == second.high_qc_round {
                    return Err(Rejection::Malformed("evidence: the same timeout twice"));
                }
                (
                    first.author,
                    second.author,
                    first.round,
                    second.round,
                    [
                        crypto::timeout_message(chain_id, first.round, first.high_qc_round),
                        crypto::timeout_message(chain_id, second.round, second.high_qc_round),
                    ],
                    [first.signature, second.signature],
                )
            }
        };
        if author != other {
            return Err(Rejection::Malformed("evidence: two different signers"));
        }
        if round != other_round {
            return Err(Rejection::Malformed("evidence: two different rounds"));
        }
        if round == 0 {
            return Err(Rejection::Malformed("evidence: round 0"));
        }
        let key = validators
            .key(author)
            .ok_or(Rejection::UnknownValidator(author))?;
        if !messages
            .iter()
            .zip(&signatures)
            .all(|(m, s)| crypto::verify(key, m, s))
        {
            return Err(Rejection::InvalidSignature("evidence"));
        }
        Ok(())
    }

    /// The canonical encoding (a version byte, a kind tag, then both messages). Callers
    /// encode [`Evidence::canonical`] values; any order encodes and decodes faithfully.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(EVIDENCE_VERSION).u8(self.kind().tag());
        match self {
            Evidence::DoubleProposal { first, second } => {
                first.write(&mut w);
                second.write(&mut w);
            }
            Evidence::DoubleVote { first, second } => {
                first.write(&mut w);
                second.write(&mut w);
            }
            Evidence::DoubleTimeout { first, second } => {
                first.write(&mut w);
                second.write(&mut w);
            }
        }
        w.finish()
    }

    /// Decodes [`Evidence::encode`]'s output; never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("evidence.version")?;
        if version != EVIDENCE_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let e = match r.u8("evidence.kind")? {
            1 => Evidence::DoubleProposal {
                first: SignedProposal::read(&mut r)?,
                second: SignedProposal::read(&mut r)?,
            },
            2 => Evidence::DoubleVote {
                first: Vote::read(&mut r)?,
                second: Vote::read(&mut r)?,
            },
            3 => Evidence::DoubleTimeout {
                first: SignedTimeout::read(&mut r)?,
                second: SignedTimeout::read(&mut r)?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "evidence.kind",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(e)
    }

    /// The evidence's identity: a digest of its canonical encoding.
    pub fn id(&self) -> Hash {
        Hash::digest(
            b"parallax/consensus/v1/evidence",
            &[&self.clone().canonical().encode()],
        )
    }
}

/// The equivocations a node has already reported, one per (culprit, round, kind), so that a
/// validator equivocating many ways in one round, or evidence gossiped back, is reported
/// once. Bounded: past [`EvidencePool::capacity`] the lowest rounds are forgotten (a
/// forgotten one reported again is deduplicated by whoever persists it).
#[derive(Debug)]
pub struct EvidencePool {
    known: BTreeSet<(Round, ValidatorIndex, EvidenceKind)>,
    capacity: usize,
}

impl EvidencePool {
    /// A pool remembering at most `capacity` (at least 1) equivocations.
    pub fn new(capacity: usize) -> Self {
        Self {
            known: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// How many equivocations it remembers at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many it remembers.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Whether an equivocation of this culprit, round and kind is already known.
    pub fn contains(&self, e: &Evidence) -> bool {
        self.known.contains(&(e.round(), e.culprit(), e.kind()))
    }

    /// Remembers `e`; `false` if it was already known.
    pub fn insert(&mut self, e: &Evidence) -> bool {
        if !self.known.insert((e.round(), e.culprit(), e.kind())) {
            return false;
        }
        while self.known.len() > self.capacity {
            self.known.pop_first();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BlockInfo;
    use ed25519_dalek::SigningKey;

    const CHAIN: u64 = 7;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i + 1; 32])
    }

    fn set() -> ValidatorSet {
        ValidatorSet::new((0..4).map(|i| (key(i).verifying_key(), 1)).collect()).unwrap()
    }

    fn vote(signer: u8, voter: ValidatorIndex, round: Round, height: u64, id: u8) -> Vote {
        let block = BlockInfo {
            id: Hash([id; 32]),
            round,
            height,
        };
        Vote::sign(CHAIN, block, voter, &key(signer))
    }

    fn timeout(signer: u8, round: Round, hqc: Round) -> SignedTimeout {
        let msg = crypto::timeout_message(CHAIN, round, hqc);
        SignedTimeout {
            author: ValidatorIndex::from(signer),
            round,
            high_qc_round: hqc,
            signature: crypto::sign(&key(signer), &msg),
        }
    }

    fn proposal(signer: u8, round: Round, id: u8) -> SignedProposal {
        let block_id = Hash([id; 32]);
        SignedProposal {
            author: ValidatorIndex::from(signer),
            round,
            block_id,
            signature: crypto::sign(
                &key(signer),
                &crypto::proposal_message(CHAIN, round, &block_id),
            ),
        }
    }

    #[test]
    fn each_kind_verifies_and_round_trips_in_either_order() {
        let cases = [
            Evidence::DoubleProposal {
                first: proposal(1, 5, 1),
                second: proposal(1, 5, 2),
            },
            Evidence::DoubleVote {
                first: vote(2, 2, 5, 3, 1),
                second: vote(2, 2, 5, 4, 1),
            },
            Evidence::DoubleTimeout {
                first: timeout(3, 9, 7),
                second: timeout(3, 9, 8),
            },
        ];
        for e in cases {
            e.verify(CHAIN, &set()).unwrap();
            assert_eq!(Evidence::decode(&e.encode()).unwrap(), e);
            let swapped = match e.clone() {
                Evidence::DoubleProposal { first, second } => Evidence::DoubleProposal {
                    first: second,
                    second: first,
                },
                Evidence::DoubleVote { first, second } => Evidence::DoubleVote {
                    first: second,
                    second: first,
                },
                Evidence::DoubleTimeout { first, second } => Evidence::DoubleTimeout {
                    first: second,
                    second: first,
                },
            };
            assert_eq!(swapped.id(), e.id());
            assert_eq!(swapped.clone().canonical(), e.clone().canonical());
            // Another chain's validators never signed these messages.
            assert_eq!(
                e.verify(CHAIN + 1, &set()),
                Err(Rejection::InvalidSignature("evidence"))
            );
        }
    }

    #[test]
    fn what_is_not_an_equivocation_is_refused() {
        let v = set();
        // The same message twice.
        let same = Evidence::DoubleVote {
            first: vote(1, 1, 5, 3, 1),
            second: vote(1, 1, 5, 3, 1),
        };
        assert!(matches!(
            same.verify(CHAIN, &v),
            Err(Rejection::Malformed(_))
        ));
        // Two validators' messages: no one equivocated.
        let two = Evidence::DoubleProposal {
            first: proposal(1, 5, 1),
            second: proposal(2, 5, 2),
        };
        assert!(matches!(
            two.verify(CHAIN, &v),
            Err(Rejection::Malformed(_))
        ));
        // Two rounds.
        let rounds = Evidence::DoubleTimeout {
            first: timeout(1, 5, 3),
            second: timeout(1, 6, 4),
        };
        assert!(matches!(
            rounds.verify(CHAIN, &v),
            Err(Rejection::Malformed(_))
        ));
        // A message signed by another key in the culprit's name: framing fails.
        let mut forged = vote(1, 2, 5, 3, 2);
        forged.voter = 2;
        let framed = Evidence::DoubleVote {
            first: vote(2, 2, 5, 3, 1),
            second: forged,
        };
        assert_eq!(
            framed.verify(CHAIN, &v),
            Err(Rejection::InvalidSignature("evidence"))
        );
        // An index outside the set.
        let unknown = Evidence::DoubleTimeout {
            first: SignedTimeout {
                author: 9,
                ..timeout(1, 5, 3)
            },
            second: SignedTimeout {
                author: 9,
                ..timeout(1, 5, 4)
            },
        };
        assert_eq!(
            unknown.verify(CHAIN, &v),
            Err(Rejection::UnknownValidator(9))
        );
    }

    #[test]
    fn decoding_never_panics_and_rejects_trailing_bytes() {
        let e = Evidence::DoubleTimeout {
            first: timeout(0, 2, 0),
            second: timeout(0, 2, 1),
        };
        let bytes = e.encode();
        for len in 0..bytes.len() {
            assert!(Evidence::decode(&bytes[..len]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Evidence::decode(&long).is_err());
        let mut bad = bytes;
        bad[1] = 9;
        assert!(Evidence::decode(&bad).is_err());
    }

    #[test]
    fn pool_reports_once_and_forgets_the_lowest_rounds_past_its_capacity() {
        let mut pool = EvidencePool::new(2);
        let at = |round| Evidence::DoubleTimeout {
            first: timeout(0, round, 0),
            second: timeout(0, round, 1),
        };
        assert!(pool.insert(&at(5)));
        assert!(!pool.insert(&at(5)));
        assert!(pool.insert(&at(6)));
        assert!(pool.insert(&at(7)));
        assert_eq!(pool.len(), 2);
        assert!(!pool.contains(&at(5)));
        assert!(pool.contains(&at(7)));
    }
}
