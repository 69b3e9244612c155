//! Blocks as consensus sees them: [`Block`] (its place in the chain and an opaque payload,
//! with an id computed from every field) and [`BlockInfo`] (the identity certificates and
//! the commit rule need), with the block's compact deterministic encoding
//! ([`crate::codec`]).

use crate::codec::{DecodeError, Reader, Writer};
use crate::crypto;
use crate::primitives::{Hash, Height, MAX_SIGNATURES, Round, ValidatorIndex};
use std::fmt;

/// Largest payload a block may carry on the wire.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024 * 1024;

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
    /// the block is proposed on (see [`Block::participants`] and
    /// [`Proposal::participants`](crate::Proposal::participants)); they are sorted and
    /// deduplicated here.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
