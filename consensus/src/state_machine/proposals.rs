//! Proposals: the leader's build and proposal, and a validator's checks of a received one
//! (author, certificate, ancestry, payload validation) before it may vote on it.

use crate::crypto;
use crate::evidence::{Evidence, SignedProposal};
use crate::types::{Block, Hash, Message, Proposal, Round, ValidatorIndex};
use tracing::{error, warn};

use super::{Action, Consensus, Pending, Rejection};

impl Consensus {
    pub(super) fn try_propose(&mut self) {
        let round = self.round;
        // Having signed anything in this round (our own proposal's vote, before a restart,
        // or a timeout) means we must not propose in it again: a second proposal would be
        // a different block, i.e. equivocation.
        if self.leader(round) != self.me
            || self.building == Some(round)
            || self.proposals.contains_key(&round)
            || self.safety.last_voted_round >= round
            || !self.may_sign(round)
        {
            return;
        }
        let qc = &self.safety.highest_qc;
        if qc.round + 1 != round && self.safety.highest_tc_round() + 1 != round {
            return;
        }
        let parent = qc.block();
        match self.connected(&parent.id) {
            Ok(()) => {
                self.building = Some(round);
                self.out.push(Action::BuildPayload { round, parent });
            }
            // The certified block or one of its ancestors is missing (e.g. after a restart,
            // holding only the blocks this node voted for): fetch it, then propose.
            Err(Some(missing)) => {
                let from = self.fetch_source(&qc.clone());
                self.want(missing, from);
            }
            Err(None) => {}
        }
    }

    pub(super) fn on_payload_built(&mut self, round: Round, parent: Hash, payload: Vec<u8>) {
        if round != self.round || self.building != Some(round) {
            return;
        }
        self.building = None;
        let qc = self.safety.highest_qc.clone();
        if parent != qc.block_id || self.leader(round) != self.me {
            return;
        }
        if !self.may_sign(round) {
            return;
        }
        if let Some(first) = self.proposals.get(&round) {
            // Someone holding our key already proposed in this round: do not add a second.
            error!(me = self.me, round, first = ?first.block_id, "our key already proposed in this round");
            return;
        }
        let tc = if qc.round + 1 == round {
            None
        } else {
            self.safety.highest_tc.clone()
        };
        let participants = Proposal::participants(&qc, tc.as_ref());
        let block = Block::new(round, qc.height + 1, parent, self.me, participants, payload);
        let proposal = Proposal::sign(self.cfg.chain_id, block, qc, tc, &self.key);
        self.proposals.insert(
            round,
            SignedProposal {
                author: self.me,
                round,
                block_id: proposal.block.id(),
                signature: proposal.signature,
            },
        );
        self.insert_block(proposal.block.clone());
        self.out.push(Action::Broadcast {
            message: Message::Proposal(Box::new(proposal.clone())),
        });
        self.own_proposal = Some(proposal.clone());
        // The leader built the payload itself: it votes without asking for validation.
        self.vote(&proposal);
    }

    pub(super) fn on_proposal(
        &mut self,
        from: ValidatorIndex,
        p: Proposal,
    ) -> Result<(), Rejection> {
        let b = &p.block;
        let (round, author) = (b.round(), b.author());
        if self.fetches.iter().any(|(h, _)| *h == b.id()) {
            // A block we are fetching (its hash is certified): take it, even if the proposal
            // itself is stale by now.
            let _ = self.on_blocks_fetched(vec![b.clone()]);
        }
        let (key, _) = self.signer_key(author)?;
        if b.parent() != p.qc.block_id || Some(b.height()) != p.qc.height.checked_add(1) {
            return Err(Rejection::Malformed("proposal does not extend its QC"));
        }
        match &p.tc {
            None if p.qc.round.checked_add(1) != Some(round) => {
                return Err(Rejection::Malformed("proposal skips rounds without a TC"));
            }
            Some(tc)
                if tc.round.checked_add(1) != Some(round)
                    || p.qc.round.checked_add(1) == Some(round) =>
            {
                return Err(Rejection::Malformed(
                    "proposal's TC is not of the previous round",
                ));
            }
            _ => {}
        }
        if b.participants() != Proposal::participants(&p.qc, p.tc.as_ref()) {
            return Err(Rejection::Malformed(
                "block participants are not its certificate's signers",
            ));
        }
        let msg = crypto::proposal_message(self.cfg.chain_id, round, &b.id());
        if round < self.round {
            // A leader behind us: help it catch up (its signature first, so a forged
            // proposal cannot make us send).
            if crypto::verify(&key, &msg, &p.signature) {
                self.help_behind(author);
            }
            return Err(Rejection::StaleRound {
                round,
                current: self.round,
            });
        }
        if !crypto::verify(&key, &msg, &p.signature) {
            return Err(Rejection::InvalidSignature("proposal"));
        }
        self.verify_qc(&p.qc)?;
        if let Some(tc) = &p.tc {
            self.verify_tc(tc)?;
        }
        // Round sync: the proposal's certificates move us to its round (and may commit
        // blocks, which can change who leads it, so the leader is checked after).
        self.process_qc(&p.qc);
        if let Some(tc) = &p.tc {
            self.process_tc(tc);
        }
        if round != self.round {
            return Err(Rejection::StaleRound {
                round,
                current: self.round,
            });
        }
        if self.leader(round) != author {
            return Err(Rejection::NotLeader { round, author });
        }
        let header = SignedProposal {
            author,
            round,
            block_id: b.id(),
            signature: p.signature,
        };
        if let Some(first) = self.proposals.get(&round) {
            if first.block_id == header.block_id {
                return Err(Rejection::Duplicate);
            }
            if first.author != author {
                return Err(Rejection::LeaderChanged { round, author });
            }
            let evidence = Evidence::DoubleProposal {
                first: *first,
                second: header,
            };
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        self.proposals.insert(round, header);
        let parent = b.parent();
        self.pending = Some(Pending {
            proposal: p,
            validating: false,
        });
        if self.known(&parent).is_none() {
            self.want(parent, from);
        } else {
            self.resume_pending();
        }
        Ok(())
    }

    /// Moves the pending proposal on once its parent is known: checks it against the parent
    /// and asks the application to validate its payload.
    pub(super) fn resume_pending(&mut self) {
        let Some(pending) = &self.pending else { return };
        if pending.validating {
            return;
        }
        let p = &pending.proposal;
        if p.block.round() != self.round {
            self.pending = None;
            return;
        }
        let author = p.block.author();
        let Some(parent) = self.known(&p.block.parent()) else {
            return;
        };
        let malformed = if parent.height + 1 != p.block.height() || parent.round >= p.block.round()
        {
            Some("proposal inconsistent with its parent")
        } else {
            // The application executes the block on its ancestors: all must be held first.
            match self.connected(&parent.id) {
                Ok(()) => None,
                Err(Some(missing)) => {
                    self.want(missing, author);
                    return;
                }
                Err(None) => Some("proposal does not extend the committed chain"),
            }
        };
        if let Some(reason) = malformed {
            self.pending = None;
            self.out.push(Action::Rejected {
                from: author,
                reason: Rejection::Malformed(reason),
            });
            return;
        }
        let block = p.block.clone();
        if let Some(pending) = &mut self.pending {
            pending.validating = true;
        }
        self.insert_block(block.clone());
        self.out.push(Action::ValidatePayload { block });
    }

    pub(super) fn on_payload_validated(&mut self, block_id: Hash, valid: bool) {
        let Some(pending) = &self.pending else { return };
        let p = &pending.proposal;
        if !pending.validating || p.block.id() != block_id || p.block.round() != self.round {
            return;
        }
        let Some(Pending { proposal: p, .. }) = self.pending.take() else {
            return;
        };
        if valid {
            self.vote(&p);
        } else {
            warn!(
                me = self.me,
                round = p.block.round(),
                "proposal payload rejected by the application"
            );
            self.blocks.remove(&block_id);
            self.out.push(Action::Rejected {
                from: p.block.author(),
                reason: Rejection::InvalidPayload,
            });
        }
    }
}
