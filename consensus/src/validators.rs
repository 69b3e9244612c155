//! The validator set: keys, voting power, quorum thresholds and leader rotation.

use crate::primitives::{MAX_SIGNATURES, Round, ValidatorIndex};
use ed25519_dalek::VerifyingKey;
use std::collections::HashSet;
use thiserror::Error;

/// Largest total voting power (quorum arithmetic is done in `u128`, but genesis caps it too).
pub const MAX_TOTAL_VOTING_POWER: u64 = u64::MAX / 4;

/// Length of the leader schedule before it repeats, at most. Voting powers whose sum is
/// larger are scaled down proportionally (every validator keeps at least one slot).
const MAX_SCHEDULE: u64 = 4096;

/// Why a validator set is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("the validator set is empty")]
    Empty,
    /// More validators than a certificate may carry.
    #[error("{0} validators, more than the limit {MAX_SIGNATURES}")]
    TooMany(usize),
    /// A validator with no voting power.
    #[error("validator {0} has zero voting power")]
    ZeroPower(ValidatorIndex),
    /// Total power too large for quorum arithmetic.
    #[error("total voting power is above {MAX_TOTAL_VOTING_POWER}")]
    PowerOverflow,
    /// The same key twice: it would be counted twice.
    #[error("validator {0} repeats another validator's key")]
    DuplicateKey(ValidatorIndex),
    /// A small-order key, which could sign for any message.
    #[error("validator {0} has a weak (small-order) key")]
    WeakKey(ValidatorIndex),
}

/// The validators, in index order, with their voting power.
#[derive(Clone, Debug)]
pub struct ValidatorSet {
    keys: Vec<VerifyingKey>,
    powers: Vec<u64>,
    total: u64,
    schedule: Vec<ValidatorIndex>,
}

impl ValidatorSet {
    /// Builds a set from `(key, voting power)` pairs in index order.
    pub fn new(members: Vec<(VerifyingKey, u64)>) -> Result<Self, ValidatorSetError> {
        if members.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if members.len() > MAX_SIGNATURES {
            return Err(ValidatorSetError::TooMany(members.len()));
        }
        let mut seen = HashSet::new();
        let mut total: u64 = 0;
        for (i, (key, power)) in members.iter().enumerate() {
            let i = i as ValidatorIndex;
            if *power == 0 {
                return Err(ValidatorSetError::ZeroPower(i));
            }
            if key.is_weak() {
                return Err(ValidatorSetError::WeakKey(i));
            }
            if !seen.insert(key.to_bytes()) {
                return Err(ValidatorSetError::DuplicateKey(i));
            }
            total = total
                .checked_add(*power)
                .filter(|t| *t <= MAX_TOTAL_VOTING_POWER)
                .ok_or(ValidatorSetError::PowerOverflow)?;
        }
        let (keys, powers): (Vec<_>, Vec<_>) = members.into_iter().unzip();
        let schedule = Self::schedule(&powers, total);
        Ok(Self {
            keys,
            powers,
            total,
            schedule,
        })
    }

    /// Smooth weighted round-robin over (scaled) powers: each validator gets slots in
    /// proportion to its power, spread evenly; equal powers give plain round-robin.
    fn schedule(powers: &[u64], total: u64) -> Vec<ValidatorIndex> {
        let weights: Vec<i128> = if total <= MAX_SCHEDULE {
            powers.iter().map(|p| *p as i128).collect()
        } else {
            powers
                .iter()
                .map(|p| ((*p as u128 * MAX_SCHEDULE as u128 / total as u128) as i128).max(1))
                .collect()
        };
        let sum: i128 = weights.iter().sum();
        let mut current = vec![0i128; weights.len()];
        let mut out = Vec::with_capacity(sum as usize);
        for _ in 0..sum {
            let mut best = 0;
            for i in 0..weights.len() {
                current[i] += weights[i];
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= sum;
            out.push(best as ValidatorIndex);
        }
        out
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a set has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A validator's key, if the index is in the set.
    pub fn key(&self, i: ValidatorIndex) -> Option<&VerifyingKey> {
        self.keys.get(i as usize)
    }

    /// A validator's voting power, if the index is in the set.
    pub fn power(&self, i: ValidatorIndex) -> Option<u64> {
        self.powers.get(i as usize).copied()
    }

    /// Sum of voting power.
    pub fn total_power(&self) -> u64 {
        self.total
    }

    /// Whether `power` is more than 2/3 of the total (a quorum).
    pub fn is_quorum(&self, power: u64) -> bool {
        3 * power as u128 > 2 * self.total as u128
    }

    /// Whether `power` is more than 1/3 of the total (at least one honest validator, with at
    /// most f faulty of 3f+1).
    pub fn is_validity(&self, power: u64) -> bool {
        3 * power as u128 > self.total as u128
    }

    /// The leader of `round`: a deterministic rotation weighted by voting power.
    pub fn leader(&self, round: Round) -> ValidatorIndex {
        self.schedule[(round % self.schedule.len() as u64) as usize]
    }

    /// Length of the leader schedule: [`ValidatorSet::leader`] repeats with this period.
    pub fn schedule_len(&self) -> usize {
        self.schedule.len()
    }

    /// The index of `key`, if it belongs to the set.
    pub fn index_of(&self, key: &VerifyingKey) -> Option<ValidatorIndex> {
        self.keys
            .iter()
            .position(|k| k == key)
            .map(|i| i as ValidatorIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn vk(i: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[i; 32]).verifying_key()
    }

    #[test]
    fn equal_power_is_round_robin_and_quorum_is_more_than_two_thirds() {
        let set = ValidatorSet::new((1..=4).map(|i| (vk(i), 10)).collect()).unwrap();
        let leaders: Vec<_> = (0..8).map(|r| set.leader(r)).collect();
        assert_eq!(leaders, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        assert!(!set.is_quorum(20));
        assert!(set.is_quorum(30));
        assert!(!set.is_validity(10));
        assert!(set.is_validity(20));
    }

    #[test]
    fn leadership_follows_voting_power_and_is_spread_out() {
        let set = ValidatorSet::new(vec![(vk(1), 3), (vk(2), 1), (vk(3), 1)]).unwrap();
        let leaders: Vec<_> = (0..5).map(|r| set.leader(r)).collect();
        assert_eq!(leaders.iter().filter(|l| **l == 0).count(), 3);
        // Never three turns in a row for the heavy validator within a cycle.
        assert!(leaders.windows(3).all(|w| w != [0, 0, 0]));

        let big = ValidatorSet::new(vec![(vk(1), 1 << 40), (vk(2), 1 << 40), (vk(3), 1)]).unwrap();
        let slots: Vec<_> = (0..big.schedule.len() as u64)
            .map(|r| big.leader(r))
            .collect();
        assert!(slots.contains(&2), "the tiny validator keeps a slot");
        assert!(slots.len() as u64 <= MAX_SCHEDULE + 3);
    }

    #[test]
    fn rejects_bad_sets() {
        assert_eq!(
            ValidatorSet::new(vec![]).unwrap_err(),
            ValidatorSetError::Empty
        );
        assert_eq!(
            ValidatorSet::new(vec![(vk(1), 1), (vk(1), 1)]).unwrap_err(),
            ValidatorSetError::DuplicateKey(1)
        );
        assert_eq!(
            ValidatorSet::new(vec![(vk(1), 0)]).unwrap_err(),
            ValidatorSetError::ZeroPower(0)
        );
        assert_eq!(
            ValidatorSet::new(vec![(vk(1), u64::MAX), (vk(2), 1)]).unwrap_err(),
            ValidatorSetError::PowerOverflow
        );
    }
}
