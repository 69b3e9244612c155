//! Lost or stale safety data: when a validator may trust what its disk says it signed.
//!
//! The safety rules ([`crate::safety`]) keep a validator from signing twice in a round only
//! if its safety data records every message it signed. A validator whose database was wiped
//! (no safety data at all) or restored from an older copy (safety data from the past) does
//! not know what it signed since, and following its rules as if nothing happened can sign a
//! second, different vote, timeout or proposal in a round it already signed in: evidence
//! against an honest operator.
//!
//! # The rule
//!
//! A validator can have signed only in rounds it was in, and it enters round `r` only on a
//! certificate (QC or TC) of round `r - 1`, so it has signed in no round above one past the
//! highest certificate that existed when its data was lost.
//!
//! * **Missing safety data** (none at start: a wiped database, refilled or not by block
//!   sync): the validator judges at the **first certificate above genesis it verifies**, of
//!   round `c0`. If `c0 <= last_voted_round + 1`, counting what it signed since starting (at
//!   most round 1, see below), the chain is just starting and nothing is held back. Otherwise
//!   it may have signed in any round up to `c0 + 1` (if `c0` is the newest certificate there
//!   was), and it **signs nothing in a round at or below `c0 + 1`**: no vote, no timeout, no
//!   proposal. Being in round `c0 + 2` means it has observed a certificate of round `c0 + 1`,
//!   beyond every round it may have signed in, and it signs from then on. Before that first
//!   certificate it signs only in round 1 (a new chain must be able to start).
//! * **Safety data behind what it can see it signed** (a database restored from an older
//!   copy): a verified certificate carrying its own signature for a round above its
//!   `last_voted_round`, or a block (received, fetched, stored or committed) listing it among
//!   the signers of its parent's certificate above that round, proves it signed there and
//!   does not remember. It signs
//!   nothing up to one past that round (up to the block's round, for a block).
//! * The judgement survives the state machine being rebuilt (after block sync): the
//!   stricter of the old and the new one holds ([`Continuity::merge`]).
//! * Safety data that is merely old (a validator that was stopped for a while) is what it
//!   signed: it is trusted.
//!
//! Re-sending the vote or timeout its safety data holds is not signing and stays allowed.
//!
//! # Limits
//!
//! * The rule trusts that the first certificate a wiped validator verifies is not older than
//!   its data loss (gossip delivers current rounds; a stale message arriving first would set
//!   the bound too low).
//! * A restored copy is caught only through a certificate holding one of the validator's
//!   later signatures (QCs and TCs usually do: a vote or timeout that made a certificate).
//!   A copy whose later signatures all went unused is taken for a stopped validator.
//! * Losing safety data is a fault: while it sits out rounds up to `c0 + 1`, it counts as
//!   one of the f validators the chain tolerates. With f others down too, the chain waits
//!   for one of them to return (a certificate of round `c0 + 1` then forms without it).
//! * A validator that lost everything may sign again in the first rounds of a chain (round
//!   1, and trusts itself from a certificate of round 2): every validator past them ignores
//!   such messages.

use crate::primitives::Round;

/// Whether the safety data can be trusted, as judged by [`Continuity::on_certificate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// Started without safety data, and no certificate above genesis verified since:
    /// signing only in round 1.
    Unchecked,
    /// The safety data keeps up with the network.
    Trusted,
    /// The safety data is missing or behind: nothing is signed in rounds up to `floor`.
    Recovering {
        /// The highest round this validator may have signed in without remembering it.
        floor: Round,
    },
}

impl Continuity {
    /// The state at start: `missing` when the node started without safety data.
    pub fn new(missing: bool) -> Self {
        if missing {
            Continuity::Unchecked
        } else {
            Continuity::Trusted
        }
    }

    /// A verified certificate of `round`; `mine`: this validator's signature is in it;
    /// `last_voted` is the safety data's last voted round. Returns the new floor when the
    /// certificate starts or raises one.
    pub fn on_certificate(&mut self, round: Round, mine: bool, last_voted: Round) -> Option<Round> {
        if round == 0 {
            return None;
        }
        let before = self.floor();
        if let Continuity::Unchecked = self {
            *self = if round <= last_voted.saturating_add(1) {
                Continuity::Trusted
            } else {
                Continuity::Recovering {
                    floor: round.saturating_add(1),
                }
            };
        }
        if mine {
            // Its own signature in a round its data does not record?
            self.on_own_signature(round, last_voted);
        }
        let after = self.floor();
        (after != before).then_some(after).flatten()
    }

    /// Whether a new message may be signed in `round` (the safety rules still apply on top).
    pub fn may_sign(&self, round: Round) -> bool {
        match self {
            Continuity::Unchecked => round <= 1,
            Continuity::Trusted => true,
            Continuity::Recovering { floor } => round > *floor,
        }
    }

    /// This validator's signature is known to be in round `round` (e.g. it participates in
    /// a committed block): if its safety data does not record it, its data is behind. Returns
    /// the new floor when it starts or raises one.
    pub fn on_own_signature(&mut self, round: Round, last_voted: Round) -> Option<Round> {
        if round <= last_voted {
            return None;
        }
        let floor = round.saturating_add(1).max(self.floor().unwrap_or(0));
        let changed = self.floor() != Some(floor);
        *self = Continuity::Recovering { floor };
        changed.then_some(floor)
    }

    /// The stricter of two judgements (when the state machine is rebuilt, e.g. after block
    /// sync, it keeps what the previous one learnt): recovering (the higher floor) over
    /// unchecked over trusted.
    pub fn merge(self, other: Continuity) -> Continuity {
        match (self, other) {
            (Continuity::Recovering { floor: a }, Continuity::Recovering { floor: b }) => {
                Continuity::Recovering { floor: a.max(b) }
            }
            (r @ Continuity::Recovering { .. }, _) | (_, r @ Continuity::Recovering { .. }) => r,
            (Continuity::Unchecked, _) | (_, Continuity::Unchecked) => Continuity::Unchecked,
            _ => Continuity::Trusted,
        }
    }

    /// The floor while recovering.
    pub fn floor(&self) -> Option<Round> {
        match self {
            Continuity::Recovering { floor } => Some(*floor),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_validator_with_its_data_is_trusted() {
        let mut c = Continuity::new(false);
        assert!(c.may_sign(500));
        assert_eq!(c.on_certificate(499, false, 40), None);
        assert_eq!(c, Continuity::Trusted);
    }

    #[test]
    fn a_new_chain_starts_in_round_one() {
        let mut c = Continuity::new(true);
        assert!(c.may_sign(1));
        assert!(!c.may_sign(2));
        assert_eq!(c.on_certificate(1, true, 1), None);
        assert_eq!(c, Continuity::Trusted);
        assert!(c.may_sign(2));
    }

    #[test]
    fn a_wiped_validator_signs_nothing_until_past_every_round_it_may_have_signed_in() {
        let mut c = Continuity::new(true);
        // Genesis certificates say nothing.
        assert_eq!(c.on_certificate(0, false, 0), None);
        assert_eq!(c.on_certificate(499, false, 0), Some(500));
        for round in [1, 2, 499, 500] {
            assert!(!c.may_sign(round), "round {round}");
        }
        // Later certificates do not move the floor: it entered round 501 on one of round 500.
        assert_eq!(c.on_certificate(500, false, 0), None);
        assert!(c.may_sign(501));
    }

    #[test]
    fn a_rebuilt_state_machine_keeps_the_stricter_judgement() {
        use Continuity::*;
        assert_eq!(Trusted.merge(Unchecked), Unchecked);
        assert_eq!(
            Unchecked.merge(Recovering { floor: 3 }),
            Recovering { floor: 3 }
        );
        assert_eq!(
            Recovering { floor: 9 }.merge(Recovering { floor: 3 }),
            Recovering { floor: 9 }
        );
        assert_eq!(Trusted.merge(Trusted), Trusted);
    }

    #[test]
    fn its_own_signature_above_its_data_proves_the_data_is_behind() {
        let mut c = Continuity::new(false);
        c.on_certificate(100, true, 100);
        assert_eq!(c, Continuity::Trusted);
        // A restored copy says 100, but here is its vote in round 130.
        assert_eq!(c.on_certificate(130, true, 100), Some(131));
        assert!(!c.may_sign(131));
        assert!(c.may_sign(132));
        // Never lowered.
        c.on_certificate(120, true, 100);
        assert_eq!(c.floor(), Some(131));
    }
}
