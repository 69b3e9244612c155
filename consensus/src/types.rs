//! Wire types: blocks, votes, timeouts, proposals and the certificates built from them.
//!
//! They are plain Rust values; the node maps them to the protobufs in `proto/`. Each has a
//! compact deterministic encoding ([`crate::codec`]) used for hashing, signing and
//! persisting. Signatures are kept as raw bytes here and only interpreted when verified, so a
//! malformed signature is a rejected message, never a decode panic.

use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::evidence::Evidence;
use crate::state_machine::Rejection;
use crate::validators::ValidatorSet;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;

/// A consensus round. Round 0 is genesis; the first proposal is in round 1.
pub type Round = u64;
/// A block's height (block number). Genesis is height 0.
pub type Height = u64;
/// A validator, named by its index in the validator set.
pub type ValidatorIndex = u32;

/// Largest payload a block may carry on the wire.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;
/// Largest encoded [`Evidence`] (two signed headers; far above the 290-odd bytes it takes).
pub const MAX_EVIDENCE_BYTES: usize = 1024;
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

/// The identity of a block: what certificates and the commit rule need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    /// The block id.
    pub id: Hash,
    /// The round it was proposed in (0 for genesis).
    pub round: Round,
    /// Its height.
    pub height: Height,
}

impl BlockInfo {
    /// The genesis block, known by its id (the node passes the chain's genesis hash).
    pub fn genesis(id: Hash) -> Self {
        Self {
            id,
            round: 0,
            height: 0,
        }
    }
}

/// A block as consensus sees it: its place in the chain and an opaque payload the
/// application builds and validates. Its id is computed from all fields, so it cannot
/// disagree with them.
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    round: Round,
    height: Height,
    parent: Hash,
    author: ValidatorIndex,
    participants: Vec<ValidatorIndex>,
    payload: Vec<u8>,
    id: Hash,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("id", &self.id)
            .field("round", &self.round)
            .field("height", &self.height)
            .field("parent", &self.parent)
            .field("author", &self.author)
            .field("participants", &self.participants)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl Block {
    /// Builds a block and computes its id. `participants` are the signers of the certificate
    /// the block is proposed on (see [`Block::participants`] and [`Proposal::participants`]);
    /// they are sorted and deduplicated here.
    pub fn new(
        round: Round,
        height: Height,
        parent: Hash,
        author: ValidatorIndex,
        mut participants: Vec<ValidatorIndex>,
        payload: Vec<u8>,
    ) -> Self {
        participants.sort_unstable();
        participants.dedup();
        let id = Self::compute_id(round, height, &parent, author, &participants, &payload);
        Self {
            round,
            height,
            parent,
            author,
            participants,
            payload,
            id,
        }
    }

    fn compute_id(
        round: Round,
        height: Height,
        parent: &Hash,
        author: ValidatorIndex,
        participants: &[ValidatorIndex],
        payload: &[u8],
    ) -> Hash {
        let signers: Vec<u8> = participants.iter().flat_map(|p| p.to_be_bytes()).collect();
        Hash::digest(
            crypto::DOMAIN_BLOCK,
            &[
                &round.to_be_bytes(),
                &height.to_be_bytes(),
                &parent.0,
                &author.to_be_bytes(),
                &signers,
                payload,
            ],
        )
    }

    /// The block id: SHA-256 over its fields under the block domain tag.
    pub fn id(&self) -> Hash {
        self.id
    }
    /// The round it was proposed in.
    pub fn round(&self) -> Round {
        self.round
    }
    /// Its height (parent's height + 1).
    pub fn height(&self) -> Height {
        self.height
    }
    /// The parent block's id.
    pub fn parent(&self) -> Hash {
        self.parent
    }
    /// The proposing validator.
    pub fn author(&self) -> ValidatorIndex {
        self.author
    }
    /// The validators that signed the certificate this block was proposed on, in index
    /// order: its parent's QC, or the previous round's TC when the block follows a timeout.
    /// Validators check it against the proposal's certificates before voting, so a committed
    /// block records who was taking part; leader reputation ([`crate::leader`]) reads it.
    pub fn participants(&self) -> &[ValidatorIndex] {
        &self.participants
    }
    /// The application's payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// Id, round and height.
    pub fn info(&self) -> BlockInfo {
        BlockInfo {
            id: self.id,
            round: self.round,
            height: self.height,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.round)
            .u64(self.height)
            .fixed(&self.parent.0)
            .u32(self.author)
            .u32(self.participants.len() as u32);
        for p in &self.participants {
            w.u32(*p);
        }
        w.bytes(&self.payload);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let round = r.u64("block.round")?;
        let height = r.u64("block.height")?;
        let parent = Hash(r.array("block.parent")?);
        let author = r.u32("block.author")?;
        let n = r.count("block.participants", MAX_SIGNATURES)?;
        let mut participants = Vec::with_capacity(n);
        for _ in 0..n {
            participants.push(r.u32("block.participant")?);
        }
        if participants.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::NotCanonical("block.participants"));
        }
        let payload = r.bytes("block.payload", MAX_PAYLOAD_BYTES)?.to_vec();
        Ok(Self::new(
            round,
            height,
            parent,
            author,
            participants,
            payload,
        ))
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.finish()
    }

    /// Decodes [`Block::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let b = Self::read(&mut r)?;
        r.finish()?;
        Ok(b)
    }
}

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

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    fn sample_qc() -> QuorumCertificate {
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

    #[test]
    fn block_id_commits_to_every_field() {
        let base = Block::new(5, 4, Hash([7; 32]), 1, vec![], b"payload".to_vec());
        let variants = [
            Block::new(6, 4, Hash([7; 32]), 1, vec![], b"payload".to_vec()),
            Block::new(5, 5, Hash([7; 32]), 1, vec![], b"payload".to_vec()),
            Block::new(5, 4, Hash([8; 32]), 1, vec![], b"payload".to_vec()),
            Block::new(5, 4, Hash([7; 32]), 2, vec![], b"payload".to_vec()),
            Block::new(5, 4, Hash([7; 32]), 1, vec![], b"payloae".to_vec()),
            Block::new(5, 4, Hash([7; 32]), 1, vec![0, 2], b"payload".to_vec()),
        ];
        for v in variants {
            assert_ne!(base.id(), v.id());
        }
        assert_eq!(base.id(), Block::decode(&base.encode()).unwrap().id());
    }

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
    fn block_participants_must_be_sorted_and_distinct_on_the_wire() {
        let b = Block::new(4, 3, Hash([2; 32]), 1, vec![0, 3], vec![9]);
        let bytes = b.encode();
        assert_eq!(Block::decode(&bytes).unwrap(), b);
        // The participant list follows round, height, parent and author: swap its entries.
        let at = 8 + 8 + 32 + 4 + 4;
        let mut swapped = bytes.clone();
        swapped[at..at + 4].copy_from_slice(&3u32.to_be_bytes());
        swapped[at + 4..at + 8].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            Block::decode(&swapped),
            Err(DecodeError::NotCanonical("block.participants"))
        );
        let mut repeated = bytes;
        repeated[at + 4..at + 8].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            Block::decode(&repeated),
            Err(DecodeError::NotCanonical("block.participants"))
        );
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
