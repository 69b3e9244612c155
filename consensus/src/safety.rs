//! Safety rules and the safety data that must survive a crash.
//!
//! The rules are the 2-chain (Jolteon / DiemBFT-v4) ones:
//!
//! * **vote** for a block of round `r` only if `r > last_voted_round`, and the block either
//!   extends a QC of round `r - 1` directly, or comes with a TC of round `r - 1` and extends a
//!   QC at least as high as every QC the TC's signers reported. Voting records
//!   `last_voted_round = r` and locks on the block's QC round (`locked_round`).
//! * **time out** in round `r` only if `r >= last_voted_round`, with a highest QC at least as
//!   high as the lock, and only in a round the node entered through a QC or TC of `r - 1`.
//!   Timing out records `last_voted_round = r`, so no vote follows a timeout in that round.
//!
//! [`SafetyData`] is what a restarted node must reload to keep these promises. The state
//! machine hands it to the driver in [`crate::Action::Persist`] before any vote or timeout
//! that depends on it (see [`crate::storage`]).

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{BlockInfo, QuorumCertificate, Round, Timeout, TimeoutCertificate, Vote};
use thiserror::Error;

const SAFETY_DATA_VERSION: u8 = 1;

/// Why the safety rules refused to sign.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SafetyViolation {
    /// A vote or timeout was already signed in this round or a later one.
    #[error("already voted in round {last_voted} (asked to sign for round {round})")]
    AlreadyVoted {
        /// The round asked for.
        round: Round,
        /// The last round signed in.
        last_voted: Round,
    },
    /// The block does not follow a QC or TC of the previous round in a way the 2-chain rule
    /// accepts.
    #[error("block of round {round} with QC round {qc_round} does not extend the lock safely")]
    UnsafeVote {
        /// The block's round.
        round: Round,
        /// The round of the QC it extends.
        qc_round: Round,
    },
    /// A timeout whose highest QC is below the lock, or for a round not entered properly.
    #[error("unsafe timeout for round {round} (highest QC round {qc_round}, lock {locked})")]
    UnsafeTimeout {
        /// The round.
        round: Round,
        /// The highest QC's round.
        qc_round: Round,
        /// The locked round.
        locked: Round,
    },
}

/// What a validator persists (fsync'd in production) before a vote or timeout leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyData {
    /// The last round in which this validator signed a vote or a timeout.
    pub last_voted_round: Round,
    /// The lock: the highest QC round among the blocks this validator voted to extend.
    pub locked_round: Round,
    /// The last vote signed (re-sent after a restart rather than signing anew).
    pub last_vote: Option<Vote>,
    /// The last timeout signed (re-broadcast until the round ends).
    pub last_timeout: Option<Timeout>,
    /// The highest QC seen.
    pub highest_qc: QuorumCertificate,
    /// The highest TC seen.
    pub highest_tc: Option<TimeoutCertificate>,
}

impl SafetyData {
    /// The safety data of a validator that never signed anything.
    pub fn new(genesis: BlockInfo) -> Self {
        Self {
            last_voted_round: 0,
            locked_round: 0,
            last_vote: None,
            last_timeout: None,
            highest_qc: QuorumCertificate::genesis(genesis),
            highest_tc: None,
        }
    }

    /// The round of the highest TC seen (0 if none).
    pub fn highest_tc_round(&self) -> Round {
        self.highest_tc.as_ref().map_or(0, |tc| tc.round)
    }

    /// The round to be in: one past the highest QC or TC.
    pub fn current_round(&self) -> Round {
        self.highest_qc.round.max(self.highest_tc_round()) + 1
    }

    /// Checks the 2-chain voting rule for a block of `round` extending a QC of `qc_round`,
    /// justified by `tc` when the QC is not of the previous round.
    pub fn check_vote(
        &self,
        round: Round,
        qc_round: Round,
        tc: Option<&TimeoutCertificate>,
    ) -> Result<(), SafetyViolation> {
        if round <= self.last_voted_round {
            return Err(SafetyViolation::AlreadyVoted {
                round,
                last_voted: self.last_voted_round,
            });
        }
        let direct = qc_round.checked_add(1) == Some(round);
        let via_tc = tc.is_some_and(|tc| {
            tc.round.checked_add(1) == Some(round) && qc_round >= tc.highest_hqc_round()
        });
        if direct || via_tc {
            Ok(())
        } else {
            Err(SafetyViolation::UnsafeVote { round, qc_round })
        }
    }

    /// Records a vote the rules allowed.
    pub fn record_vote(&mut self, vote: &Vote, qc_round: Round) {
        self.last_voted_round = vote.round;
        self.locked_round = self.locked_round.max(qc_round);
        self.last_vote = Some(vote.clone());
    }

    /// Checks the timeout rule for `round` with the current highest QC and TC.
    pub fn check_timeout(&self, round: Round) -> Result<(), SafetyViolation> {
        if round < self.last_voted_round {
            return Err(SafetyViolation::AlreadyVoted {
                round,
                last_voted: self.last_voted_round,
            });
        }
        let qc_round = self.highest_qc.round;
        let entered = qc_round.checked_add(1) == Some(round)
            || self.highest_tc_round().checked_add(1) == Some(round);
        if qc_round < self.locked_round || !entered {
            return Err(SafetyViolation::UnsafeTimeout {
                round,
                qc_round,
                locked: self.locked_round,
            });
        }
        Ok(())
    }

    /// Records a timeout the rules allowed.
    pub fn record_timeout(&mut self, timeout: &Timeout) {
        self.last_voted_round = self.last_voted_round.max(timeout.round);
        self.last_timeout = Some(timeout.clone());
    }

    /// The versioned encoding the storage layer keeps.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(SAFETY_DATA_VERSION)
            .u64(self.last_voted_round)
            .u64(self.locked_round);
        w.optional(self.last_vote.as_ref(), |v, w| v.write(w));
        w.optional(self.last_timeout.as_ref(), |v, w| v.write(w));
        self.highest_qc.write(&mut w);
        w.optional(self.highest_tc.as_ref(), |v, w| v.write(w));
        w.finish()
    }

    /// Decodes [`SafetyData::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("safety.version")?;
        if version != SAFETY_DATA_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let last_voted_round = r.u64("safety.last_voted_round")?;
        let locked_round = r.u64("safety.locked_round")?;
        let last_vote = r.optional("safety.last_vote", Vote::read)?;
        let last_timeout = r.optional("safety.last_timeout", Timeout::read)?;
        let highest_qc = QuorumCertificate::read(&mut r)?;
        let highest_tc = r.optional("safety.highest_tc", TimeoutCertificate::read)?;
        r.finish()?;
        Ok(Self {
            last_voted_round,
            locked_round,
            last_vote,
            last_timeout,
            highest_qc,
            highest_tc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Hash, Signature, TimeoutSignature};

    fn qc(round: Round) -> QuorumCertificate {
        QuorumCertificate {
            round,
            height: round,
            block_id: Hash([round as u8; 32]),
            signatures: vec![],
        }
    }

    fn tc(round: Round, hqc_rounds: &[Round]) -> TimeoutCertificate {
        TimeoutCertificate {
            round,
            signatures: hqc_rounds
                .iter()
                .enumerate()
                .map(|(i, r)| TimeoutSignature {
                    signer: i as u32,
                    high_qc_round: *r,
                    signature: Signature([0; 64]),
                })
                .collect(),
            high_qc: qc(*hqc_rounds.iter().max().unwrap()),
        }
    }

    fn vote(round: Round) -> Vote {
        Vote {
            round,
            height: round,
            block_id: Hash([1; 32]),
            voter: 0,
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn never_votes_twice_in_a_round_or_after_a_timeout() {
        let mut s = SafetyData::new(BlockInfo::genesis(Hash::ZERO));
        s.check_vote(1, 0, None).unwrap();
        s.record_vote(&vote(1), 0);
        assert!(matches!(
            s.check_vote(1, 0, None),
            Err(SafetyViolation::AlreadyVoted { .. })
        ));
        // Timing out in the round already voted in is allowed, and forbids later votes there.
        s.highest_qc = qc(1);
        s.check_timeout(2).unwrap();
        let t = Timeout {
            round: 2,
            high_qc: qc(1),
            tc: None,
            author: 0,
            signature: Signature([0; 64]),
        };
        s.record_timeout(&t);
        assert!(s.check_vote(2, 1, None).is_err());
    }

    #[test]
    fn two_chain_rule_requires_a_tc_that_does_not_skip_a_higher_qc() {
        let s = SafetyData::new(BlockInfo::genesis(Hash::ZERO));
        // Not following the previous round's QC, no TC: refused.
        assert!(matches!(
            s.check_vote(5, 3, None),
            Err(SafetyViolation::UnsafeVote { .. })
        ));
        // TC of round 4 whose signers saw at most QC 3: extending QC 3 is safe.
        s.check_vote(5, 3, Some(&tc(4, &[2, 3, 1]))).unwrap();
        // A signer of the TC saw QC 3: a block on QC 2 could skip a committed block.
        assert!(s.check_vote(5, 2, Some(&tc(4, &[2, 3, 1]))).is_err());
        // A TC of another round does not justify the block.
        assert!(s.check_vote(5, 3, Some(&tc(3, &[2]))).is_err());
    }

    #[test]
    fn timeout_needs_a_properly_entered_round_and_the_lock() {
        let mut s = SafetyData::new(BlockInfo::genesis(Hash::ZERO));
        s.check_timeout(1).unwrap();
        assert!(s.check_timeout(3).is_err(), "round 3 was never entered");
        s.locked_round = 2;
        s.highest_qc = qc(1);
        assert!(s.check_timeout(2).is_err(), "highest QC below the lock");
        s.last_voted_round = 5;
        assert!(s.check_timeout(4).is_err());
    }

    #[test]
    fn encoding_round_trips_and_restart_round_is_after_highest_certificate() {
        let mut s = SafetyData::new(BlockInfo::genesis(Hash::ZERO));
        s.record_vote(&vote(7), 6);
        s.highest_qc = qc(7);
        s.highest_tc = Some(tc(9, &[7]));
        let d = SafetyData::decode(&s.encode()).unwrap();
        assert_eq!(d, s);
        assert_eq!(d.current_round(), 10);
        s.highest_tc = Some(tc(4, &[3]));
        assert_eq!(s.current_round(), 8);
        let mut bytes = s.encode();
        bytes[0] = 9;
        assert_eq!(
            SafetyData::decode(&bytes),
            Err(DecodeError::UnsupportedVersion(9))
        );
    }
}
