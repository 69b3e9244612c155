//! Votes: signing one under the safety rules, routing it to the next leader, and forming a
//! QC from more than 2/3 of voting power on one (round, height, block).

use crate::crypto;
use crate::evidence::Evidence;
use crate::types::{Message, Proposal, QuorumCertificate, SignedBy, Vote};
use tracing::{debug, warn};

use super::{Action, Consensus, Rejection};

impl Consensus {
    pub(super) fn vote(&mut self, p: &Proposal) {
        if !self.may_sign(p.block.round()) {
            debug!(me = self.me, round = p.block.round(), floor = ?self.continuity.floor(), "not voting: recovering lost safety data");
            return;
        }
        if let Err(e) = self
            .safety
            .check_vote(p.block.round(), p.qc.round, p.tc.as_ref())
        {
            debug!(me = self.me, round = p.block.round(), error = %e, "not voting");
            return;
        }
        let vote = Vote::sign(self.cfg.chain_id, p.block.info(), self.me, &self.key);
        self.safety.record_vote(&vote, p.qc.round);
        self.dirty = true;
        self.out.push(Action::StoreBlock(p.block.clone()));
        self.resendable_vote = Some(vote.clone());
        self.route_vote(vote);
    }

    pub(super) fn route_vote(&mut self, vote: Vote) {
        let next = self.leader(vote.round + 1);
        if next == self.me {
            let _ = self.add_vote(vote);
        } else {
            self.out.push(Action::Send {
                to: next,
                message: Message::Vote(vote),
            });
        }
    }

    pub(super) fn on_vote(&mut self, v: Vote) -> Result<(), Rejection> {
        let (key, _) = self.signer_key(v.voter)?;
        if v.round + 1 < self.round {
            return Err(Rejection::StaleRound {
                round: v.round,
                current: self.round,
            });
        }
        if v.round > self.round + self.cfg.limits.future_rounds {
            return Err(Rejection::FutureRound {
                round: v.round,
                current: self.round,
            });
        }
        if v.round == 0 || v.height == 0 {
            return Err(Rejection::Malformed("vote for genesis"));
        }
        if self.leader(v.round + 1) != self.me {
            return Err(Rejection::NotNextLeader(v.round));
        }
        let msg = crypto::vote_message(self.cfg.chain_id, v.round, v.height, &v.block_id);
        if !crypto::verify(&key, &msg, &v.signature) {
            return Err(Rejection::InvalidSignature("vote"));
        }
        if let Some(block) = self.blocks.get(&v.block_id)
            && (block.height() != v.height || block.round() != v.round)
        {
            // Correctly signed, but not about the block it names: counted, it would make a QC
            // no one accepts.
            return Err(Rejection::Malformed(
                "vote's height or round is not its block's",
            ));
        }
        self.add_vote(v)
    }

    pub(super) fn add_vote(&mut self, v: Vote) -> Result<(), Rejection> {
        let power = self.cfg.validators.power(v.voter).unwrap_or(0);
        let col = self.votes.entry(v.round).or_default();
        if let Some(first) = col.by_voter.get(&v.voter) {
            if first.block_id == v.block_id && first.height == v.height {
                return Err(Rejection::Duplicate);
            }
            let (author, round) = (v.voter, v.round);
            let evidence = Evidence::DoubleVote {
                first: first.clone(),
                second: v,
            };
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        col.by_voter.insert(v.voter, v.clone());
        let entry = col.by_message.entry((v.block_id, v.height)).or_default();
        entry.0 += power;
        entry.1.push(SignedBy {
            signer: v.voter,
            signature: v.signature,
        });
        if col.done || !self.cfg.validators.is_quorum(entry.0) {
            return Ok(());
        }
        let mut signatures = entry.1.clone();
        signatures.sort_by_key(|s| s.signer);
        let qc = QuorumCertificate {
            round: v.round,
            height: v.height,
            block_id: v.block_id,
            signatures,
        };
        // Verified like any QC before it is used: every vote was checked on arrival (this
        // node's own when it signed), so this only fails on a bug, and then no QC is used.
        if let Err(e) = qc.verify(self.cfg.chain_id, &self.cfg.validators) {
            warn!(me = self.me, round = qc.round, error = %e, "a QC formed from collected votes does not verify");
            return Err(e);
        }
        col.done = true;
        debug!(me = self.me, round = qc.round, "formed QC");
        self.remember_verified(qc.digest());
        self.process_qc(&qc);
        Ok(())
    }
}
