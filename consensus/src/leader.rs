//! Leader election with reputation derived from the committed chain.
//!
//! The base schedule is [`ValidatorSet::leader`], a rotation weighted by voting power. On top
//! of it, a validator that has stopped taking part loses its turns. The evidence comes from
//! committed blocks only:
//!
//! * every block records the signers of the certificate it was proposed on
//!   ([`crate::Block::participants`]: its parent's QC, or the previous round's TC), and
//!   validators check that record before they vote, so a committed block states who was
//!   signing when it was proposed; its author was taking part too;
//! * the rounds between a committed block and its committed parent produced nothing that
//!   committed: their base-schedule leaders *failed* there (the base leader, not a
//!   substitute, so a block's record depends on the block and its parent's round alone,
//!   not on earlier reputation; a substitute that fails is caught in its own rounds).
//!
//! The leader of round `r` is computed from one **anchor**: the last committed block whose
//! round is at most `r - lag`, and the `window` committed blocks ending at it. A validator is
//! *inactive* if it failed in one of them and has not been seen (as author or participant)
//! in that block or a later one of the window, or if the window is full and it was not seen
//! in any of them. If the base leader of `r` is active it leads `r`; otherwise an active
//! validator does, picked by a hash of `r` weighted by voting power, avoiding the leaders of
//! rounds `r - 1` and `r + 1` (so no validator leads two rounds in a row when others can,
//! and a crashed leader costs at most the two rounds it always costs).
//!
//! Properties:
//!
//! * **Deterministic from committed data only.** The committed chain is the same on every
//!   honest node (safety), so two nodes whose committed chains reach the anchors of the
//!   rounds involved compute the same leader. The lag keeps the anchor behind what a node
//!   about to route a vote to the leader of `r` (it is in round `r - 1`, entered through
//!   the QC of `r - 2`, which committed the block of `r - 3`) has committed, with one round
//!   of slack for a vote that arrives before its proposal. A node whose committed chain is
//!   behind an anchor uses its own last committed block and may disagree until it catches
//!   up: that costs liveness, never safety, because the safety rules ([`crate::safety`])
//!   never depend on who leads a round.
//! * **A crashed validator stops being elected** once a committed block records a round it
//!   failed in, in a certificate it did not sign (the first commit after its failure, `lag`
//!   rounds later), and stays out while it signs nothing. One that comes back is elected
//!   again as soon as a committed block records one of its votes or timeouts, which every
//!   validator sends whether or not it leads, so no validator is locked out for good.
//! * **Stale records fall back to the base schedule.** Records change only when blocks
//!   commit, so while nothing commits they can be wrong about who is up (a validator that
//!   failed rounds while restarting stays out, one that crashed since stays in), and a wrong
//!   schedule could keep the chain from committing (and so from correcting it). Once a
//!   round's anchor is more than `lag + stale_after` rounds old, the round follows the base
//!   schedule, which is live on its own: with equal powers and at most f faulty of 3f+1, the
//!   2f+1 honest validators form at most f runs in the rotation, so some run has three
//!   honest leaders in a row, all a 2-chain commit needs.
//! * **Fault-free, nothing changes**: no round fails, so only the full-window rule could
//!   leave a validator out, and a validator that votes lands in some certificate of ten in a
//!   row in practice (with 7 validators, a QC leaves out two votes: each is out of ten in a
//!   row with probability about 3^-10); the base schedule holds.
//! * **Bounded**: a node keeps only the last `window + lag` committed blocks' records, each
//!   of at most two lists of validators.
//!
//! A Byzantine leader picks which quorum of votes goes into its QC, so while its committed
//! block is the latest of a window it can leave out an honest validator that failed a round
//! just before; and a validator whose votes are always the last to arrive may never be in a
//! certificate and lose its turns. Both cost leader turns, never safety or liveness.

use crate::crypto;
use crate::types::{Block, Hash, Round, ValidatorIndex};
use crate::validators::ValidatorSet;
use std::collections::VecDeque;

/// Leader reputation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reputation {
    /// Committed blocks (ending at the anchor) that reputation reads; `0` turns reputation
    /// off (the plain weighted rotation).
    pub window: usize,
    /// The anchor of round `r` is the last committed block of round at most `r - lag`.
    pub lag: Round,
    /// Reputation is used for round `r` only if its anchor is of round at least
    /// `r - lag - stale_after`: after that many rounds without a commit the records may be
    /// wrong about who is up (no commit updates them), and the base schedule takes over.
    pub stale_after: Round,
}

impl Default for Reputation {
    fn default() -> Self {
        Self {
            window: 10,
            lag: 4,
            stale_after: 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    round: Round,
    author: ValidatorIndex,
    participants: Vec<ValidatorIndex>,
    /// Base-schedule leaders of the rounds between the parent and this block.
    failed: Vec<ValidatorIndex>,
}

/// The leader schedule of one node: the base rotation plus the records of its last
/// committed blocks.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    cfg: Reputation,
    /// The last committed blocks' records, oldest first (rounds strictly increase).
    records: VecDeque<Record>,
    /// The round of the last committed block (recorded or not).
    last_round: Round,
}

impl LeaderElection {
    /// An election whose last committed block is of round `last_round` (0 at genesis);
    /// blocks committed after it are added with [`LeaderElection::on_commit`]. A restarted
    /// node starts from the oldest of its recent committed blocks and adds the others.
    pub fn new(cfg: Reputation, last_round: Round) -> Self {
        Self {
            cfg,
            records: VecDeque::new(),
            last_round,
        }
    }

    /// How many committed blocks' records are kept: `window + lag` (0 when off).
    pub fn capacity(&self) -> usize {
        if self.cfg.window == 0 {
            return 0;
        }
        self.cfg.window.saturating_add(self.cfg.lag as usize)
    }

    /// Records a committed block; blocks must come in height order, each the child of the
    /// one before (one not above the last committed round is ignored).
    pub fn on_commit(&mut self, validators: &ValidatorSet, block: &Block) {
        if block.round() <= self.last_round {
            return;
        }
        let parent_round = std::mem::replace(&mut self.last_round, block.round());
        if self.capacity() == 0 {
            return;
        }
        let gap = (block.round() - parent_round - 1).min(validators.schedule_len() as u64);
        let mut failed: Vec<ValidatorIndex> = (0..gap)
            .map(|k| validators.leader(parent_round + 1 + k))
            .collect();
        failed.sort_unstable();
        failed.dedup();
        self.records.push_back(Record {
            round: block.round(),
            author: block.author(),
            participants: block.participants().to_vec(),
            failed,
        });
        while self.records.len() > self.capacity() {
            self.records.pop_front();
        }
    }

    /// Number of committed blocks' records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no committed block is recorded (the base rotation is in force).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Which validators count as active for `round`, by index; `None` when no committed
    /// block is old enough to be its anchor, or the anchor is stale (every validator is
    /// then active: the base schedule).
    pub fn active(&self, validators: &ValidatorSet, round: Round) -> Option<Vec<bool>> {
        if self.cfg.window == 0 {
            return None;
        }
        let limit = round.saturating_sub(self.cfg.lag);
        let end = self.records.partition_point(|r| r.round <= limit);
        if end == 0 || self.records[end - 1].round < limit.saturating_sub(self.cfg.stale_after) {
            return None;
        }
        let start = end.saturating_sub(self.cfg.window);
        let full = end - start == self.cfg.window;
        let n = validators.len();
        let mut seen: Vec<Option<usize>> = vec![None; n];
        let mut failed: Vec<Option<usize>> = vec![None; n];
        for (i, rec) in self.records.range(start..end).enumerate() {
            for v in std::iter::once(&rec.author).chain(&rec.participants) {
                if let Some(slot) = seen.get_mut(*v as usize) {
                    *slot = Some(i);
                }
            }
            for v in &rec.failed {
                if let Some(slot) = failed.get_mut(*v as usize) {
                    *slot = Some(i);
                }
            }
        }
        Some(
            seen.iter()
                .zip(&failed)
                .map(|(s, f)| match (s, f) {
                    (s, Some(f)) => s.is_some_and(|s| s >= *f),
                    (None, None) => !full,
                    (Some(_), None) => true,
                })
                .collect(),
        )
    }

    fn is_active(&self, validators: &ValidatorSet, round: Round, v: ValidatorIndex) -> bool {
        self.active(validators, round)
            .is_none_or(|a| a.get(v as usize).copied().unwrap_or(false))
    }

    /// The leader of `round`.
    pub fn leader(&self, validators: &ValidatorSet, round: Round) -> ValidatorIndex {
        let base = validators.leader(round);
        if self.is_active(validators, round, base) {
            return base;
        }
        // Rounds `first..=round` all have inactive base leaders: substitute them in order,
        // each avoiding the leader before it.
        let longest = validators.schedule_len() as u64;
        let mut first = round;
        while first > 1
            && round - first < longest
            && !self.is_active(validators, first - 1, validators.leader(first - 1))
        {
            first -= 1;
        }
        let mut prev = (first > 1 && round - first < longest).then(|| validators.leader(first - 1));
        for r in first..=round {
            prev = Some(self.substitute(validators, r, prev));
        }
        prev.unwrap_or(base)
    }

    /// An active validator to lead `round` in place of its inactive base leader: by a hash
    /// of the round, weighted by voting power, other than `prev` (the leader of `round - 1`)
    /// and the base leader of `round + 1` when that one is active, as long as some validator
    /// is left.
    fn substitute(
        &self,
        validators: &ValidatorSet,
        round: Round,
        prev: Option<ValidatorIndex>,
    ) -> ValidatorIndex {
        let n = validators.len();
        let active = self
            .active(validators, round)
            .unwrap_or_else(|| vec![true; n]);
        let next_base = validators.leader(round + 1);
        let next = self
            .is_active(validators, round + 1, next_base)
            .then_some(next_base);
        let power = |i: usize| validators.power(i as ValidatorIndex).unwrap_or(0) as u128;
        let h = Hash::digest(crypto::DOMAIN_LEADER, &[&round.to_be_bytes()]);
        let seed = u128::from_be_bytes(h.0[..16].try_into().unwrap_or([0; 16]));
        for avoid in [[prev, next], [prev, None], [None, None]] {
            let eligible: Vec<usize> = (0..n)
                .filter(|i| active[*i] && !avoid.contains(&Some(*i as ValidatorIndex)))
                .collect();
            let total: u128 = eligible.iter().map(|i| power(*i)).sum();
            if total == 0 {
                continue;
            }
            let mut pick = seed % total;
            for i in eligible {
                if pick < power(i) {
                    return i as ValidatorIndex;
                }
                pick -= power(i);
            }
        }
        validators.leader(round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn set(n: u8) -> ValidatorSet {
        ValidatorSet::new(
            (1..=n)
                .map(|i| (SigningKey::from_bytes(&[i; 32]).verifying_key(), 1))
                .collect(),
        )
        .unwrap()
    }

    /// Committed blocks, one per round in `rounds` (authored by the base leader), each
    /// recording `signers(round)`.
    fn chain(
        vs: &ValidatorSet,
        rounds: &[Round],
        signers: impl Fn(Round) -> Vec<ValidatorIndex>,
    ) -> Vec<Block> {
        let mut parent = Hash([9; 32]);
        rounds
            .iter()
            .enumerate()
            .map(|(h, r)| {
                let b = Block::new(*r, h as u64 + 1, parent, vs.leader(*r), signers(*r), vec![]);
                parent = b.id();
                b
            })
            .collect()
    }

    fn election(vs: &ValidatorSet, blocks: &[Block]) -> LeaderElection {
        let mut e = LeaderElection::new(Reputation::default(), 0);
        for b in blocks {
            e.on_commit(vs, b);
        }
        e
    }

    fn leaders(e: &LeaderElection, vs: &ValidatorSet, rounds: std::ops::Range<Round>) -> Vec<u32> {
        rounds.map(|r| e.leader(vs, r)).collect()
    }

    #[test]
    fn fault_free_chains_keep_the_base_rotation() {
        let vs = set(7);
        for r in 0..50 {
            assert_eq!(election(&vs, &[]).leader(&vs, r), vs.leader(r));
        }
        // Every round commits; each certificate has a different quorum of 5 of the 7.
        let rounds: Vec<Round> = (1..=40).collect();
        let blocks = chain(&vs, &rounds, |r| {
            (0..7u32).filter(|v| (r + *v as u64) % 7 >= 2).collect()
        });
        let e = election(&vs, &blocks);
        assert!(e.len() <= e.capacity());
        for r in 41..80 {
            assert_eq!(e.leader(&vs, r), vs.leader(r), "round {r}");
        }
        let off = LeaderElection::new(
            Reputation {
                window: 0,
                ..Reputation::default()
            },
            0,
        );
        assert_eq!(off.capacity(), 0);
    }

    #[test]
    fn crashed_validators_lose_their_turns_and_nobody_leads_twice_in_a_row() {
        let vs = set(7);
        let cfg = Reputation::default();
        // Validators 2 and 5 crashed after round 20: their rounds fail from then on, and the
        // certificates recorded after that are signed by the other five.
        let live = |r: Round| -> Vec<ValidatorIndex> {
            if r <= 21 {
                (0..7).collect()
            } else {
                vec![0, 1, 3, 4, 6]
            }
        };
        let mut substitutes = std::collections::BTreeSet::new();
        for tip in 40..90 {
            let rounds: Vec<Round> = (1..=tip)
                .filter(|r| *r <= 20 || (r % 7 != 2 && r % 7 != 5))
                .collect();
            let last = *rounds.last().unwrap();
            let e = election(&vs, &chain(&vs, &rounds, live));
            // Rounds anchored on fresh records: 2 and 5 never lead, nobody leads twice in a
            // row, and the others keep their own rounds.
            let fresh = last + 1..last + cfg.lag + cfg.stale_after + 1;
            let elected = leaders(&e, &vs, fresh.clone());
            assert!(
                !elected.contains(&2) && !elected.contains(&5),
                "{elected:?}"
            );
            assert!(elected.windows(2).all(|w| w[0] != w[1]), "{elected:?}");
            for (r, l) in fresh.zip(&elected) {
                if [2, 5].contains(&vs.leader(r)) {
                    substitutes.insert(*l);
                } else {
                    assert_eq!(*l, vs.leader(r), "active base leaders keep their rounds");
                }
            }
            // Past the stale horizon (nothing committed for `stale_after` rounds) the base
            // schedule is back.
            let stale = last + cfg.lag + cfg.stale_after + 1..last + 60;
            assert_eq!(
                leaders(&e, &vs, stale.clone()),
                stale.map(|r| vs.leader(r)).collect::<Vec<_>>()
            );
        }
        assert!(
            substitutes.len() >= 3,
            "substitutes are spread: {substitutes:?}"
        );

        // Right after the first failure commits: the block of round 24 records that
        // validator 2 failed round 23 and did not sign that block's certificate. Rounds
        // anchored on it (from 24 + lag) no longer go to validator 2.
        let first: Vec<Round> = (1..=24).filter(|r| *r != 23).collect();
        let e = election(&vs, &chain(&vs, &first, live));
        assert_eq!(e.leader(&vs, 23), 2, "anchored before the failure");
        assert_ne!(e.leader(&vs, 30), 2, "anchored on round 24");
    }

    #[test]
    fn leaders_depend_only_on_committed_blocks_up_to_the_anchor() {
        let vs = set(4);
        // Validator 3 crashed after round 10.
        let rounds: Vec<Round> = (1..=40).filter(|r| *r <= 10 || r % 4 != 3).collect();
        let signers = |r: Round| -> Vec<ValidatorIndex> {
            if r <= 11 {
                vec![0, 1, 2, 3]
            } else {
                vec![0, 1, 2]
            }
        };
        let blocks = chain(&vs, &rounds, signers);
        let a = election(&vs, &blocks);
        // A node restarted from its last `capacity + 1` committed blocks elects the same.
        let recent = &blocks[blocks.len() - a.capacity() - 1..];
        let mut b = LeaderElection::new(Reputation::default(), recent[0].round());
        for blk in &recent[1..] {
            b.on_commit(&vs, blk);
        }
        assert_eq!(leaders(&a, &vs, 38..120), leaders(&b, &vs, 38..120));
        let cfg = Reputation::default();
        assert!(!leaders(&a, &vs, 41..41 + cfg.lag + cfg.stale_after).contains(&3));
        // A node one block behind agrees on every round anchored before that block.
        let c = election(&vs, &blocks[..blocks.len() - 1]);
        let last = blocks.last().unwrap().round();
        let lag = Reputation::default().lag;
        assert_eq!(
            leaders(&a, &vs, 38..last + lag),
            leaders(&c, &vs, 38..last + lag)
        );
        // Repeated or old blocks change nothing.
        let mut d = a.clone();
        d.on_commit(&vs, &blocks[5]);
        d.on_commit(&vs, blocks.last().unwrap());
        assert_eq!(leaders(&a, &vs, 38..120), leaders(&d, &vs, 38..120));
        // A restart from fewer blocks (or none) may disagree: that is why `Recovery` asks
        // for `capacity + 1` of them.
        let short = &blocks[blocks.len() - 2..];
        let mut f = LeaderElection::new(Reputation::default(), short[0].round());
        f.on_commit(&vs, &short[1]);
        assert_ne!(leaders(&a, &vs, 38..56), leaders(&f, &vs, 38..56));
        // Validator 3 restarts: once a committed block records its timeout or vote, it
        // leads its rounds again.
        let tip = blocks.last().unwrap();
        let back = Block::new(
            41,
            tip.height() + 1,
            tip.id(),
            vs.leader(41),
            vec![0, 1, 3],
            vec![],
        );
        let mut e = a.clone();
        e.on_commit(&vs, &back);
        assert_eq!(e.leader(&vs, 47), 3);
        assert_ne!(a.leader(&vs, 47), 3);
    }
}
