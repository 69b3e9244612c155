//! What proves, to a node that was not there, that a block was committed and that a relayed
//! message is its author's: checks a node runs on what block sync and gossip hand it.
//!
//! Under the 2-chain rule a block commits when its child, proposed in the very next round,
//! is certified. So a block, its child and a valid QC for that child prove the block (and,
//! through parent links, its ancestors) final, whoever sends them.

use crate::crypto;
use crate::rejection::Rejection;
use crate::types::{Block, Message, QuorumCertificate};
use crate::validators::ValidatorSet;
use thiserror::Error;

/// Why a commit proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitProofError {
    /// The child does not extend the block in the next round.
    #[error("the child is not the next round's block on it")]
    NotNextChild,
    /// The certificate is not for the child.
    #[error("the certificate is not for the child")]
    WrongCertificate,
    /// The certificate does not verify.
    #[error("{0}")]
    Certificate(Rejection),
}

/// Checks that `commit_qc`, a QC of `child`, proves `block` committed: the child extends the
/// block in the round right after it, and the QC is a valid quorum certificate of the child.
pub fn verify_commit(
    block: &Block,
    child: &Block,
    commit_qc: &QuorumCertificate,
    chain_id: u64,
    validators: &ValidatorSet,
) -> Result<(), CommitProofError> {
    if child.parent() != block.id() || Some(child.round()) != block.round().checked_add(1) {
        return Err(CommitProofError::NotNextChild);
    }
    if commit_qc.block() != child.info() {
        return Err(CommitProofError::WrongCertificate);
    }
    commit_qc
        .verify(chain_id, validators)
        .map_err(CommitProofError::Certificate)
}

/// Whether a message carries what only its author could produce: a valid signature of a
/// validator of `validators` on `chain_id` (a proposal, vote or timeout), a valid highest QC
/// (a sync message, which is unsigned), or valid evidence. Whether it is timely or useful is
/// for the state machine; a node that only relays a message checks this much, so it never
/// forwards a forgery on someone's behalf.
pub fn authentic(message: &Message, chain_id: u64, validators: &ValidatorSet) -> bool {
    let signed = |author: u32, msg: Vec<u8>, sig| {
        validators
            .key(author)
            .is_some_and(|key| crypto::verify(key, &msg, sig))
    };
    match message {
        Message::Proposal(p) => signed(
            p.block.author(),
            crypto::proposal_message(chain_id, p.block.round(), &p.block.id()),
            &p.signature,
        ),
        Message::Vote(v) => signed(
            v.voter,
            crypto::vote_message(chain_id, v.round, v.height, &v.block_id),
            &v.signature,
        ),
        Message::Timeout(t) => signed(
            t.author,
            crypto::timeout_message(chain_id, t.round, t.high_qc.round),
            &t.signature,
        ),
        Message::Sync(sync) => {
            sync.highest_qc.round == 0 || sync.highest_qc.verify(chain_id, validators).is_ok()
        }
        Message::Evidence(e) => e.verify(chain_id, validators).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BlockInfo, Hash as BlockId, Timeout, Vote};
    use ed25519_dalek::SigningKey;

    fn key(i: u32) -> SigningKey {
        SigningKey::from_bytes(&[i as u8 + 7; 32])
    }

    fn set() -> ValidatorSet {
        ValidatorSet::new((0..4).map(|i| (key(i).verifying_key(), 1)).collect()).unwrap()
    }

    #[test]
    fn relayed_messages_must_carry_their_authors_signature() {
        let set = set();
        let block = BlockInfo {
            id: BlockId([5; 32]),
            round: 3,
            height: 2,
        };
        let vote = Vote::sign(11, block, 1, &key(1));
        assert!(authentic(&Message::Vote(vote.clone()), 11, &set));
        // Another chain, another voter's name, a changed block: all forgeries.
        assert!(!authentic(&Message::Vote(vote.clone()), 12, &set));
        let mut renamed = vote.clone();
        renamed.voter = 2;
        assert!(!authentic(&Message::Vote(renamed), 11, &set));
        let mut moved = vote;
        moved.block_id = BlockId([6; 32]);
        assert!(!authentic(&Message::Vote(moved), 11, &set));
        // An author outside the set.
        let outsider = Vote::sign(11, block, 9, &key(9));
        assert!(!authentic(&Message::Vote(outsider), 11, &set));
        let genesis = QuorumCertificate::genesis(BlockInfo::genesis(BlockId([1; 32])));
        let timeout = Timeout::sign(11, 4, genesis, 3, &key(3));
        assert!(authentic(&Message::Timeout(timeout.clone()), 11, &set));
        let mut late = timeout;
        late.round = 5;
        assert!(!authentic(&Message::Timeout(late), 11, &set));
    }

    #[test]
    fn a_commit_proof_needs_the_next_rounds_child_and_its_valid_certificate() {
        let set = set();
        let parent = BlockInfo::genesis(BlockId([1; 32]));
        let block = Block::new(4, 1, parent.id, 0, vec![], b"b".to_vec());
        let child = Block::new(5, 2, block.id(), 1, vec![], b"c".to_vec());
        let qc = |b: &Block, signers: &[u32]| QuorumCertificate {
            round: b.round(),
            height: b.height(),
            block_id: b.id(),
            signatures: signers
                .iter()
                .map(|s| crate::types::SignedBy {
                    signer: *s,
                    signature: Vote::sign(11, b.info(), *s, &key(*s)).signature,
                })
                .collect(),
        };
        verify_commit(&block, &child, &qc(&child, &[0, 1, 2]), 11, &set).unwrap();
        // A child two rounds later commits nothing (a timeout came between).
        let late = Block::new(6, 2, block.id(), 1, vec![], b"c".to_vec());
        assert_eq!(
            verify_commit(&block, &late, &qc(&late, &[0, 1, 2]), 11, &set),
            Err(CommitProofError::NotNextChild)
        );
        // The block's own QC is not the child's.
        assert_eq!(
            verify_commit(&block, &child, &qc(&block, &[0, 1, 2]), 11, &set),
            Err(CommitProofError::WrongCertificate)
        );
        // Two signers are not a quorum of four.
        assert!(matches!(
            verify_commit(&block, &child, &qc(&child, &[0, 1]), 11, &set),
            Err(CommitProofError::Certificate(Rejection::NoQuorum(_)))
        ));
    }
}
