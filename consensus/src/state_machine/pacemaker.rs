//! The pacemaker: round timers with exponential backoff, the mid-round re-send, local
//! timeouts and their collection into timeout certificates, and round sync from the
//! certificates others show (answering a validator still in an earlier round).

use crate::crypto;
use crate::evidence::{Evidence, SignedTimeout};
use crate::types::{
    Message, Round, SyncInfo, Timeout, TimeoutCertificate, TimeoutSignature, ValidatorIndex,
};
use std::collections::HashMap;
use std::time::Duration;
use tracing::{debug, warn};

use super::{Action, Consensus, Rejection, TimeoutCollector};

impl Consensus {
    /// A round entered through a QC of the previous round gets the base timeout, and so does
    /// the round after it: votes go to the next leader, so one crashed leader costs two
    /// rounds (the one whose votes it should have gathered, and its own). Backoff starts
    /// with the third round without a QC.
    pub(super) fn timeout_for(&self, round: Round) -> Duration {
        let since = round.saturating_sub(self.safety.highest_qc.round.saturating_add(2));
        self.cfg.timing.timeout(since)
    }

    /// Arms the timer of a round just entered: it first fires at mid-round (to re-send what
    /// may have been lost), then at the round's timeout.
    pub(super) fn set_timer(&mut self) {
        let duration = self.timeout_for(self.round) / 2;
        self.mid_round_pending = true;
        self.out.push(Action::SetTimer {
            round: self.round,
            duration,
        });
    }

    pub(super) fn advance_round(&mut self, round: Round) {
        if round <= self.round {
            return;
        }
        debug!(
            me = self.me,
            from = self.round,
            to = round,
            "entering round"
        );
        self.round = round;
        self.pending = None;
        self.building = None;
        self.own_proposal = None;
        let keep_votes = round.saturating_sub(1);
        self.votes = self.votes.split_off(&keep_votes);
        self.timeouts = self.timeouts.split_off(&round);
        self.proposals = self.proposals.split_off(&keep_votes);
        self.set_timer();
        self.try_propose();
    }

    /// The round timer. Its first firing, at mid-round, re-sends what this node already sent
    /// in the round, in case the network lost it (a round whose quorum needs every honest
    /// validator fails on one lost message otherwise): the leader its proposal, a voter its
    /// vote, and a node still without a proposal its certificates to the leader (who may have
    /// missed how the round was entered). The second firing, at the timeout, times out;
    /// later ones re-broadcast the timeout until the round ends.
    pub(super) fn on_timer(&mut self, round: Round) {
        if round != self.round {
            return;
        }
        if std::mem::take(&mut self.mid_round_pending) {
            self.mid_round();
            self.retry_fetches();
            let full = self.timeout_for(round);
            self.out.push(Action::SetTimer {
                round,
                duration: full - full / 2,
            });
            return;
        }
        self.local_timeout();
        self.retry_fetches();
        // Re-arm, so the timeout is re-broadcast until the round ends.
        let duration = self.timeout_for(round);
        self.out.push(Action::SetTimer { round, duration });
    }

    pub(super) fn mid_round(&mut self) {
        let round = self.round;
        if let Some(p) = self.own_proposal.clone() {
            self.out.push(Action::Broadcast {
                message: Message::Proposal(Box::new(p)),
            });
        }
        if let Some(v) = self.resendable_vote.clone()
            && v.round == round
            && self.leader(round + 1) != self.me
        {
            self.route_vote(v);
        }
        let leader = self.leader(round);
        if leader != self.me && !self.proposals.contains_key(&round) {
            self.out.push(Action::Send {
                to: leader,
                message: Message::Sync(Box::new(self.sync_info())),
            });
        }
    }

    /// This node's highest certificates.
    pub(super) fn sync_info(&self) -> SyncInfo {
        SyncInfo {
            highest_qc: self.safety.highest_qc.clone(),
            highest_tc: self
                .safety
                .highest_tc
                .clone()
                .filter(|tc| tc.round > self.safety.highest_qc.round),
        }
    }

    /// Answers a message from a validator behind this node's round with this node's
    /// certificates, at most once per validator and round of this node.
    pub(super) fn help_behind(&mut self, to: ValidatorIndex) {
        if to == self.me || self.cfg.validators.key(to).is_none() {
            return;
        }
        if self.synced.get(&to).is_some_and(|r| *r >= self.round) {
            return;
        }
        self.synced.insert(to, self.round);
        self.out.push(Action::Send {
            to,
            message: Message::Sync(Box::new(self.sync_info())),
        });
    }

    /// Takes in another node's certificates. Only those that tell this node something (a
    /// higher QC, a TC that ends its round) are verified and used; a sync that brings
    /// nothing new is ignored (it is a peer's help, not an error).
    pub(super) fn on_sync(&mut self, s: SyncInfo) -> Result<(), Rejection> {
        if let Some(tc) = &s.highest_tc
            && tc.round <= s.highest_qc.round
        {
            return Err(Rejection::Malformed("sync TC not above its QC"));
        }
        if s.highest_qc.round > self.safety.highest_qc.round {
            self.verify_qc(&s.highest_qc)?;
            self.process_qc(&s.highest_qc);
        }
        if let Some(tc) = &s.highest_tc
            && tc.round >= self.round
        {
            self.verify_tc(tc)?;
            self.process_tc(tc);
        }
        Ok(())
    }

    pub(super) fn local_timeout(&mut self) {
        let round = self.round;
        if let Some(t) = self.safety.last_timeout.clone()
            && t.round == round
        {
            self.out.push(Action::Broadcast {
                message: Message::Timeout(t),
            });
            return;
        }
        if !self.may_sign(round) {
            debug!(me = self.me, round, floor = ?self.continuity.floor(), "not timing out: recovering lost safety data");
            return;
        }
        if let Err(e) = self.safety.check_timeout(round) {
            warn!(me = self.me, round, error = %e, "safety rules refused to time out");
            return;
        }
        let mut t = Timeout::sign(
            self.cfg.chain_id,
            round,
            self.safety.highest_qc.clone(),
            self.me,
            &self.key,
        );
        t.tc = self
            .safety
            .highest_tc
            .clone()
            .filter(|tc| tc.round + 1 == round);
        self.safety.record_timeout(&t);
        self.dirty = true;
        debug!(me = self.me, round, "timing out");
        self.out.push(Action::Broadcast {
            message: Message::Timeout(t.clone()),
        });
        // Our own timeout counts towards the TC.
        let _ = self.add_timeout(t);
    }

    pub(super) fn on_timeout(&mut self, t: Timeout) -> Result<(), Rejection> {
        let (key, _) = self.signer_key(t.author)?;
        if t.round < self.round {
            // Its author is still in an earlier round (it missed how that round ended):
            // send it our certificates, once its signature checks out.
            let msg = crypto::timeout_message(self.cfg.chain_id, t.round, t.high_qc.round);
            if self.synced.get(&t.author).is_none_or(|r| *r < self.round)
                && crypto::verify(&key, &msg, &t.signature)
            {
                self.help_behind(t.author);
            }
            return Err(Rejection::StaleRound {
                round: t.round,
                current: self.round,
            });
        }
        if t.round > self.round + self.cfg.limits.future_rounds {
            return Err(Rejection::FutureRound {
                round: t.round,
                current: self.round,
            });
        }
        if t.high_qc.round >= t.round {
            return Err(Rejection::Malformed("timeout's QC is not below its round"));
        }
        let msg = crypto::timeout_message(self.cfg.chain_id, t.round, t.high_qc.round);
        if !crypto::verify(&key, &msg, &t.signature) {
            return Err(Rejection::InvalidSignature("timeout"));
        }
        self.verify_qc(&t.high_qc)?;
        if let Some(tc) = &t.tc {
            if tc.round + 1 != t.round {
                return Err(Rejection::Malformed(
                    "timeout's TC is not of the previous round",
                ));
            }
            self.verify_tc(tc)?;
        }
        self.process_qc(&t.high_qc);
        if let Some(tc) = &t.tc {
            self.process_tc(tc);
        }
        if t.round < self.round {
            return Ok(());
        }
        self.add_timeout(t)
    }

    pub(super) fn add_timeout(&mut self, t: Timeout) -> Result<(), Rejection> {
        let power = self.cfg.validators.power(t.author).unwrap_or(0);
        let col = self
            .timeouts
            .entry(t.round)
            .or_insert_with(|| TimeoutCollector {
                by_author: HashMap::new(),
                power: 0,
                high_qc: t.high_qc.clone(),
                done: false,
            });
        if let Some(first) = col.by_author.get(&t.author) {
            if first.high_qc_round == t.high_qc.round {
                return Err(Rejection::Duplicate);
            }
            // An honest validator re-sends its one timeout of a round (its safety data keeps
            // it); a second one reporting another QC round is an equivocation.
            let signed = |s: &TimeoutSignature| SignedTimeout {
                author: s.signer,
                round: t.round,
                high_qc_round: s.high_qc_round,
                signature: s.signature,
            };
            let evidence = Evidence::DoubleTimeout {
                first: signed(first),
                second: SignedTimeout {
                    author: t.author,
                    round: t.round,
                    high_qc_round: t.high_qc.round,
                    signature: t.signature,
                },
            };
            let (author, round) = (t.author, t.round);
            self.caught(evidence);
            return Err(Rejection::Equivocation { author, round });
        }
        col.by_author.insert(
            t.author,
            TimeoutSignature {
                signer: t.author,
                high_qc_round: t.high_qc.round,
                signature: t.signature,
            },
        );
        col.power += power;
        if t.high_qc.round > col.high_qc.round {
            col.high_qc = t.high_qc.clone();
        }
        if !col.done && self.cfg.validators.is_quorum(col.power) {
            col.done = true;
            let mut signatures: Vec<TimeoutSignature> = col.by_author.values().copied().collect();
            signatures.sort_by_key(|s| s.signer);
            let tc = TimeoutCertificate {
                round: t.round,
                signatures,
                high_qc: col.high_qc.clone(),
            };
            debug!(me = self.me, round = tc.round, "formed TC");
            self.remember_verified(tc.digest());
            self.process_tc(&tc);
            return Ok(());
        }
        // More than 1/3 timed out: at least one honest validator did, so join it rather
        // than wait for our own timer (keeps validators' rounds together).
        let joined = self
            .safety
            .last_timeout
            .as_ref()
            .is_some_and(|own| own.round == t.round);
        if t.round == self.round && !joined && self.cfg.validators.is_validity(col.power) {
            self.local_timeout();
        }
        Ok(())
    }
}
