//! The rules of a node's view of Ethereum's deposits, with no lock, no clock and no I/O:
//! what the view keeps, within which bounds, and what a leader may propose when.
//!
//! [`Book`] holds the confirmed deposits by nonce, each with the instant the view confirmed
//! it, all at or above the chain's next deposit nonce (its floor). The time is always an
//! argument (`now`): [`super::DepositView`] reads the clock and holds the lock around it.
//! - It keeps at most `capacity` deposits ([`Book::room`] is what a poll may hand out); a
//!   commit that mints deposits raises the floor and forgets everything below
//!   ([`Book::prune_below`]), and nothing below the floor is ever taken again.
//! - A deposit is proposed only `proposal_delay` after this view confirmed it, so the other
//!   validators' views (polling on their own schedule) hold it too; a proposal is a run of
//!   nonces without gaps ([`Book::pending`]).
//! - A voter accepts only deposits its view holds exactly ([`Book::check`]), at once.

use crate::{deposit::Deposit, l1::L1Deposit};
use alloy_primitives::Address;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

/// Most distinct L1 tokens the view remembers having seen deposited (for the status RPC).
const MAX_TOKENS: usize = 1_024;

/// What this node's view of Ethereum holds, and the rules over it.
#[derive(Debug)]
pub(super) struct Book {
    /// Confirmed deposits by nonce, with when this view confirmed them; all at or above
    /// `floor`.
    deposits: BTreeMap<u64, (Deposit, Instant)>,
    /// The chain's next deposit nonce: everything below was minted.
    floor: u64,
    /// The next nonce the watcher expects (everything below was seen or minted).
    next_nonce: u64,
    /// The L1 head at the last successful poll.
    l1_head: Option<u64>,
    /// The highest settled L1 block at the last successful poll.
    settled: Option<u64>,
    /// The last poll's error, if it failed.
    error: Option<String>,
    /// L1 tokens seen deposited (at most [`MAX_TOKENS`]).
    tokens: BTreeSet<Address>,
    /// How long after confirming a deposit a leader may propose it.
    proposal_delay: Duration,
    /// Most deposits held.
    capacity: usize,
}

impl Book {
    /// An empty view of a chain whose next deposit nonce is `floor`.
    pub(super) fn new(proposal_delay: Duration, floor: u64, capacity: usize) -> Self {
        Self {
            deposits: BTreeMap::new(),
            floor,
            next_nonce: floor,
            l1_head: None,
            settled: None,
            error: None,
            tokens: BTreeSet::new(),
            proposal_delay,
            capacity,
        }
    }

    /// Up to `limit` deposits from nonce `from` on, in nonce order without gaps, that this
    /// view confirmed at least the proposal delay before `now`.
    pub(super) fn pending(&self, from: u64, limit: usize, now: Instant) -> Vec<Deposit> {
        let mut out = Vec::new();
        for (nonce, (d, at)) in self.deposits.range(from..).take(limit) {
            if *nonce != from + out.len() as u64
                || now.saturating_duration_since(*at) < self.proposal_delay
            {
                break;
            }
            out.push(d.clone());
        }
        out
    }

    /// Whether every deposit is exactly one this view confirmed; the error says which is not.
    pub(super) fn check(&self, deposits: &[Deposit]) -> Result<(), String> {
        for d in deposits {
            match self.deposits.get(&d.nonce).map(|(seen, _)| seen) {
                Some(seen) if seen == d => {}
                Some(seen) => {
                    return Err(format!(
                        "deposit {} differs from Ethereum's: proposed {d:?}, Ethereum has {seen:?}",
                        d.nonce
                    ));
                }
                None if d.nonce < self.floor => {
                    // Minted already: proposing it again fails in execution; refuse here with
                    // a clear reason.
                    return Err(format!("deposit {} was minted already", d.nonce));
                }
                None => {
                    return Err(format!(
                        "deposit {} is not in this node's view of Ethereum (it has confirmed up to nonce {}, L1 head {:?}, settled {:?})",
                        d.nonce, self.next_nonce, self.l1_head, self.settled
                    ));
                }
            }
        }
        Ok(())
    }

    /// The chain minted every deposit below `nonce`: forget them and never take them again.
    pub(super) fn prune_below(&mut self, nonce: u64) {
        if nonce <= self.floor {
            return;
        }
        self.floor = nonce;
        self.next_nonce = self.next_nonce.max(nonce);
        self.deposits = self.deposits.split_off(&nonce);
    }

    /// Takes what a poll returned at `now`: deposits in nonce order from the view's next
    /// nonce on (any below the floor is dropped), the watcher's next nonce and the heads it
    /// read. Returns how many deposits it took.
    pub(super) fn record(
        &mut self,
        found: Vec<L1Deposit>,
        next_nonce: u64,
        l1_head: Option<u64>,
        settled: Option<u64>,
        now: Instant,
    ) -> u64 {
        self.l1_head = l1_head;
        self.settled = settled;
        self.error = None;
        let mut taken = 0;
        for d in found {
            if d.nonce < self.floor {
                continue;
            }
            if self.tokens.len() < MAX_TOKENS {
                self.tokens.insert(d.token);
            }
            self.deposits.insert(d.nonce, (Deposit::from_l1(&d), now));
            taken += 1;
        }
        self.next_nonce = self.next_nonce.max(next_nonce);
        taken
    }

    /// A poll failed: the view keeps what it had and reports the error.
    pub(super) fn fail(&mut self, error: String) {
        self.error = Some(error);
    }

    /// The chain's next deposit nonce, as far as this view knows.
    pub(super) fn floor(&self) -> u64 {
        self.floor
    }

    /// How many more deposits the view takes now.
    pub(super) fn room(&self) -> usize {
        self.capacity.saturating_sub(self.deposits.len())
    }

    /// How many deposits the view holds.
    pub(super) fn len(&self) -> usize {
        self.deposits.len()
    }

    /// The L1 head at the last successful poll.
    pub(super) fn l1_head(&self) -> Option<u64> {
        self.l1_head
    }

    /// The highest settled L1 block at the last successful poll.
    pub(super) fn settled(&self) -> Option<u64> {
        self.settled
    }

    /// The next nonce the watcher expects.
    pub(super) fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// The last poll's error, if it failed.
    pub(super) fn error(&self) -> Option<String> {
        self.error.clone()
    }

    /// A confirmed deposit still held.
    pub(super) fn get(&self, nonce: u64) -> Option<Deposit> {
        self.deposits.get(&nonce).map(|(d, _)| d.clone())
    }

    /// The L1 tokens this view saw deposited.
    pub(super) fn tokens(&self) -> Vec<Address> {
        self.tokens.iter().copied().collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use alloy_primitives::{B256, Bytes, U256};

    /// The L1 log of [`Deposit::sample`]`(nonce)` (the watcher's tests share it).
    pub(in crate::watcher) fn l1(nonce: u64) -> L1Deposit {
        let d = Deposit::sample(nonce);
        L1Deposit {
            nonce,
            token: d.l1_token,
            from: d.l1_from,
            l2_recipient: d.recipient,
            amount: d.amount,
            metadata: d.metadata.clone(),
            block_number: d.l1_block,
            block_hash: B256::ZERO,
            tx_hash: d.l1_tx_hash,
        }
    }

    #[test]
    fn a_deposit_is_proposed_only_after_the_delay_but_voted_for_at_once() {
        let t0 = Instant::now();
        let delay = Duration::from_secs(12);
        let mut book = Book::new(delay, 0, 16);
        assert_eq!(
            book.record(vec![l1(0), l1(1)], 2, Some(30), Some(20), t0),
            2
        );
        book.record(
            vec![l1(2)],
            3,
            Some(31),
            Some(21),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(
            book.check(&[Deposit::sample(0)]),
            Ok(()),
            "voted for at once"
        );
        assert_eq!(book.pending(0, 10, t0), vec![], "confirmed just now");
        assert_eq!(
            book.pending(0, 10, t0 + delay - Duration::from_millis(1)),
            vec![]
        );
        assert_eq!(
            book.pending(0, 10, t0 + delay),
            vec![Deposit::sample(0), Deposit::sample(1)],
            "the later one waits its own delay"
        );
        assert_eq!(book.pending(0, 10, t0 + delay * 2).len(), 3);
    }

    #[test]
    fn the_book_never_holds_more_than_its_capacity_nor_anything_below_its_floor() {
        let t0 = Instant::now();
        let mut book = Book::new(Duration::ZERO, 5, 3);
        assert_eq!(book.room(), 3);
        assert_eq!(
            book.record(vec![l1(3), l1(4), l1(5), l1(6)], 7, None, None, t0),
            2,
            "minted ones are dropped"
        );
        assert_eq!(book.room(), 1);
        book.prune_below(6);
        assert_eq!((book.len(), book.room(), book.floor()), (1, 2, 6));
        book.prune_below(2);
        assert_eq!(book.floor(), 6, "the floor never goes down");
        assert!(
            book.check(&[Deposit::sample(5)])
                .unwrap_err()
                .contains("minted already")
        );
        let other = Deposit {
            amount: U256::from(1),
            metadata: Bytes::from_static(b"x"),
            ..Deposit::sample(6)
        };
        assert!(book.check(&[other]).unwrap_err().contains("differs"));
        book.fail("down".into());
        assert_eq!(book.error().as_deref(), Some("down"));
        assert_eq!(
            book.get(6),
            Some(Deposit::sample(6)),
            "a failed poll keeps the view"
        );
    }
}
