//! A node's view of Ethereum's bridge deposits: what the leader proposes and what a voter
//! checks a proposal against.
//!
//! [`DepositView`] is the node's own view of the Ethereum bridge contract, kept by
//! [`watch_deposits`] through its own L1 RPC with [`crate::l1::DepositWatcher`] (only deposits
//! Ethereum has settled: K blocks deep, or finalized). It resumes where the chain stands (the
//! next nonce Parallax mints and the Ethereum block of the last one, both read from
//! `ParallaxBridgeL2`'s state). A leader proposes the next deposits from it
//! ([`DepositView::pending`]); a voter refuses a proposal carrying a deposit its view does not
//! hold exactly ([`DepositView::check`]). A proposal's deposits are committed in the header's
//! `requests_hash` ([`crate::deposit::requests_hash`]).
//!
//! The view holds at most [`MAX_VIEW_DEPOSITS`] deposits, all at or above the chain's next
//! deposit nonce (its floor): a commit that mints deposits raises the floor and prunes them,
//! and the watcher reads more only while there is room. A restarted node resumes from the
//! chain's own cursor ([`DepositCursor`]), so it never re-reads what was minted long ago and
//! never fills up with it.
//!
//! Policy apart from I/O: `book` holds those rules with no lock, no clock and no I/O (every
//! decision that depends on time takes it as an argument); [`DepositView`] is the edge around
//! it — the lock shared by the watcher task and the consensus driver, the clock
//! ([`DepositView::pending_at`] takes the time from the caller instead) and the counters —
//! and [`watch_deposits`] the task that polls Ethereum into it.

mod book;

use crate::deposit::Deposit;
use crate::{
    contracts::l2_storage,
    l1::{DepositSource, DepositWatcher, Finality},
};
use alloy_primitives::{Address, B256};
use book::Book;
use parallax_genesis::L2_BRIDGE_ADDRESS;
use parallax_storage_api::{StateReader, StorageError};
use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// Most confirmed deposits a view holds above the chain's next deposit nonce (a node whose
/// chain is far behind Ethereum reads more as the chain mints them).
pub const MAX_VIEW_DEPOSITS: usize = 65_536;

/// Where the chain stands with deposits: read from `ParallaxBridgeL2`'s state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepositCursor {
    /// The nonce the next deposit minted must have.
    pub next_nonce: u64,
    /// The Ethereum block of the last deposit minted (0 before the first).
    pub last_l1_block: u64,
}

impl DepositCursor {
    /// The cursor in the state after the reader's head block.
    pub fn at_head(reader: &(impl StateReader + ?Sized)) -> Result<Self, StorageError> {
        let read = |slot: B256| -> Result<u64, StorageError> {
            let v = reader.storage(L2_BRIDGE_ADDRESS, slot)?;
            Ok(u64::try_from(v).unwrap_or(u64::MAX))
        };
        Ok(Self {
            next_nonce: read(l2_storage::NEXT_DEPOSIT_NONCE)?,
            last_l1_block: read(l2_storage::LAST_DEPOSIT_L1_BLOCK)?,
        })
    }

    /// The first Ethereum block to read: the block of the last deposit minted (later deposits
    /// are in it or after it), never before `from_block` (the bridge's deployment).
    pub fn start_block(&self, from_block: u64) -> u64 {
        if self.next_nonce == 0 {
            from_block
        } else {
            self.last_l1_block.max(from_block)
        }
    }
}

/// This node's view of the Ethereum bridge's confirmed deposits, shared between the watcher
/// task (which fills it) and the consensus driver (which proposes and checks from it and
/// prunes it as blocks commit).
#[derive(Debug)]
pub struct DepositView {
    /// The deposits and the rules over them; a leader proposes a deposit a proposal delay
    /// after confirming it, so the other validators' views (polling on their own schedule)
    /// have confirmed it too and vote.
    book: RwLock<Book>,
    /// Deposits the watcher has seen in all (since this node started).
    pub seen: AtomicU64,
    /// Proposals refused because a deposit was not in this view.
    pub refused: AtomicU64,
    /// Polls of the L1 RPC that failed.
    pub poll_errors: AtomicU64,
}

impl DepositView {
    /// A view of a chain whose next deposit nonce is `floor`, whose leader proposes a deposit
    /// `proposal_delay` after confirming it (about one poll interval: the other validators
    /// confirm it within theirs).
    pub fn new(proposal_delay: Duration, floor: u64) -> Self {
        Self::with_capacity(proposal_delay, floor, MAX_VIEW_DEPOSITS)
    }

    /// [`DepositView::new`] holding at most `capacity` deposits.
    pub fn with_capacity(proposal_delay: Duration, floor: u64, capacity: usize) -> Self {
        Self {
            book: RwLock::new(Book::new(proposal_delay, floor, capacity)),
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            poll_errors: AtomicU64::new(0),
        }
    }

    /// Up to `limit` deposits from nonce `from` on, in nonce order without gaps, that this
    /// view confirmed at least the proposal delay ago.
    pub fn pending(&self, from: u64, limit: usize) -> Vec<Deposit> {
        self.pending_at(from, limit, Instant::now())
    }

    /// [`DepositView::pending`] at `now`, a time the caller read from its own clock.
    pub fn pending_at(&self, from: u64, limit: usize, now: Instant) -> Vec<Deposit> {
        self.book
            .read()
            .map(|b| b.pending(from, limit, now))
            .unwrap_or_default()
    }

    /// Whether every deposit is exactly one this view confirmed; the error says which is not.
    pub fn check(&self, deposits: &[Deposit]) -> Result<(), String> {
        self.book
            .read()
            .map_err(|_| "deposit view poisoned".to_string())?
            .check(deposits)
    }

    /// The chain minted every deposit below `nonce`: forget them and never take them again.
    pub fn prune_below(&self, nonce: u64) {
        if let Ok(mut book) = self.book.write() {
            book.prune_below(nonce);
        }
    }

    /// The chain's next deposit nonce, as far as this view knows.
    pub fn floor(&self) -> u64 {
        self.book.read().map_or(0, |b| b.floor())
    }

    /// How many more deposits the view takes now.
    pub fn room(&self) -> usize {
        self.book.read().map_or(0, |b| b.room())
    }

    /// How many deposits the view holds.
    pub fn len(&self) -> usize {
        self.book.read().map_or(0, |b| b.len())
    }

    /// Whether the view holds no deposit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The L1 head at the last successful poll.
    pub fn l1_head(&self) -> Option<u64> {
        self.book.read().ok().and_then(|b| b.l1_head())
    }

    /// The highest settled L1 block at the last successful poll.
    pub fn settled(&self) -> Option<u64> {
        self.book.read().ok().and_then(|b| b.settled())
    }

    /// How many deposits Ethereum has that this view confirmed or the chain minted (the next
    /// nonce the watcher expects).
    pub fn confirmed(&self) -> u64 {
        self.book.read().map_or(0, |b| b.next_nonce())
    }

    /// The last poll's error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.book.read().ok().and_then(|b| b.error())
    }

    /// A confirmed deposit still held.
    pub fn get(&self, nonce: u64) -> Option<Deposit> {
        self.book.read().ok()?.get(nonce)
    }

    /// The L1 tokens this view saw deposited (at most the first 1,024).
    pub fn tokens(&self) -> Vec<Address> {
        self.book.read().map(|b| b.tokens()).unwrap_or_default()
    }

    /// One poll of `watcher` into the view: at most the room left, from the chain's floor on.
    pub async fn poll_once<S: DepositSource>(
        &self,
        watcher: &mut DepositWatcher<S>,
    ) -> Result<usize, crate::l1::L1Error> {
        match watcher.poll(self.floor(), self.room()).await {
            Ok(found) => {
                let n = found.len();
                if let Ok(mut book) = self.book.write() {
                    let taken = book.record(
                        found,
                        watcher.next_nonce(),
                        watcher.head(),
                        watcher.settled(),
                        Instant::now(),
                    );
                    self.seen.fetch_add(taken, Ordering::Relaxed);
                }
                Ok(n)
            }
            Err(e) => {
                self.poll_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut book) = self.book.write() {
                    book.fail(e.to_string());
                }
                Err(e)
            }
        }
    }
}

/// Keeps `view` filled from the Ethereum bridge at `bridge` through `source`, reading from
/// L1 block `start_block` (see [`DepositCursor::start_block`]) and polling every `interval`,
/// until the task is dropped. Errors (an unreachable RPC, a nonce gap) are logged, counted
/// and retried; the view keeps what it had.
pub async fn watch_deposits<S: DepositSource>(
    view: Arc<DepositView>,
    source: S,
    bridge: Address,
    finality: Finality,
    start_block: u64,
    interval: Duration,
) {
    let mut watcher = DepositWatcher::new(source, bridge, finality, start_block, view.floor());
    let mut failing = false;
    info!(%bridge, ?finality, start_block, next_nonce = view.floor(), "watching Ethereum bridge deposits");
    loop {
        match view.poll_once(&mut watcher).await {
            Ok(found) => {
                if failing {
                    info!("Ethereum RPC reachable again");
                    failing = false;
                }
                if found > 0 {
                    info!(found, next_nonce = watcher.next_nonce(), l1_head = ?watcher.head(), held = view.len(), "confirmed Ethereum deposits");
                }
            }
            Err(e) => {
                if !failing {
                    warn!(error = %e, "polling the Ethereum bridge failed; retrying");
                }
                failing = true;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l1::{L1Deposit, L1Error};
    use alloy_primitives::{Bytes, U256};

    use super::book::tests::l1 as l1_deposit;

    /// A view that confirmed deposits `nonces` at `at`.
    fn view_of(
        view: DepositView,
        nonces: impl IntoIterator<Item = u64>,
        at: Instant,
    ) -> DepositView {
        {
            let mut book = view.book.write().unwrap();
            let found: Vec<L1Deposit> = nonces.into_iter().map(l1_deposit).collect();
            let next = found.last().map_or(0, |d| d.nonce + 1);
            book.record(found, next, None, None, at);
        }
        view
    }

    fn view_with(n: u64) -> DepositView {
        view_of(DepositView::new(Duration::ZERO, 0), 0..n, Instant::now())
    }

    #[test]
    fn the_view_refuses_deposits_it_did_not_confirm() {
        let view = view_with(3);
        assert_eq!(
            view.check(&[Deposit::sample(0), Deposit::sample(1), Deposit::sample(2)]),
            Ok(())
        );
        let fake = Deposit {
            amount: U256::from(10).pow(U256::from(24)),
            ..Deposit::sample(1)
        };
        assert!(
            view.check(&[Deposit::sample(0), fake])
                .unwrap_err()
                .contains("differs")
        );
        let other_metadata = Deposit {
            metadata: Bytes::from_static(b"lies"),
            ..Deposit::sample(1)
        };
        assert!(
            view.check(&[other_metadata])
                .unwrap_err()
                .contains("differs")
        );
        assert!(
            view.check(&[Deposit::sample(3)])
                .unwrap_err()
                .contains("not in this node's view")
        );
        view.prune_below(2);
        assert!(
            view.check(&[Deposit::sample(1)])
                .unwrap_err()
                .contains("minted already")
        );
        assert_eq!(view.pending(2, 10), vec![Deposit::sample(2)]);
        assert_eq!(view.pending(0, 10), vec![], "pruned nonces are gone");
    }

    #[test]
    fn a_deposit_is_proposed_only_after_the_delay() {
        let t0 = Instant::now();
        let delay = Duration::from_secs(3600);
        let view = view_of(DepositView::new(delay, 0), [0], t0);
        assert_eq!(view.pending_at(0, 10, t0), vec![], "confirmed just now");
        assert_eq!(
            view.pending_at(0, 10, t0 + delay),
            vec![Deposit::sample(0)],
            "proposed once the delay passed"
        );
        assert_eq!(
            view.pending(0, 10),
            vec![],
            "by the clock, confirmed just now"
        );
        assert_eq!(
            view.check(&[Deposit::sample(0)]),
            Ok(()),
            "but voted for at once"
        );
    }

    #[test]
    fn pending_stops_at_a_gap_and_at_the_limit() {
        let view = view_of(
            DepositView::new(Duration::ZERO, 0),
            [0, 1, 2, 4],
            Instant::now(),
        );
        assert_eq!(
            view.pending(1, 10),
            vec![Deposit::sample(1), Deposit::sample(2)]
        );
        assert_eq!(
            view.pending(0, 2),
            vec![Deposit::sample(0), Deposit::sample(1)]
        );
    }

    /// Ethereum with `total` deposits, three per block from block 1, all settled.
    #[derive(Clone)]
    struct History {
        total: u64,
    }

    impl DepositSource for History {
        async fn heads(&self, _finality: Finality) -> Result<(u64, Option<u64>), L1Error> {
            let head = self.total / 3 + 10;
            Ok((head, Some(head)))
        }

        async fn deposits(
            &self,
            _bridge: Address,
            from: u64,
            to: u64,
        ) -> Result<Vec<L1Deposit>, L1Error> {
            let first = from.saturating_sub(1) * 3;
            let last = (to * 3).min(self.total);
            Ok((first..last)
                .map(|nonce| L1Deposit {
                    nonce,
                    token: Address::ZERO,
                    from: Address::repeat_byte(6),
                    l2_recipient: Address::repeat_byte(7),
                    amount: U256::from(nonce + 1),
                    metadata: Bytes::new(),
                    block_number: 1 + nonce / 3,
                    block_hash: B256::ZERO,
                    tx_hash: B256::ZERO,
                })
                .filter(|d| d.block_number >= from && d.block_number <= to)
                .collect())
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The old failure: 65,536 deposits in all, then a restart. The view fills from the
    /// chain's cursor, never above its capacity, and keeps up as the chain mints.
    #[test]
    fn a_restarted_node_keeps_up_with_a_long_history_in_bounded_memory() {
        let history = History { total: 90_000 };
        // The chain minted 70,000 before the restart; the last in block 1 + 69,999 / 3.
        let cursor = DepositCursor {
            next_nonce: 70_000,
            last_l1_block: 1 + 69_999 / 3,
        };
        let view = DepositView::with_capacity(Duration::ZERO, cursor.next_nonce, 1_000);
        let mut watcher = DepositWatcher::new(
            history,
            Address::ZERO,
            Finality::Confirmations(1),
            cursor.start_block(0),
            view.floor(),
        );
        let mut minted = cursor.next_nonce;
        block_on(async {
            while minted < 90_000 {
                view.poll_once(&mut watcher).await.unwrap();
                assert!(view.len() <= 1_000, "the view stays within its capacity");
                // The chain mints what a leader proposes (up to 256 a block), a few blocks.
                for _ in 0..3 {
                    let next = view.pending(minted, 256);
                    assert!(
                        !next.is_empty() || minted == 90_000,
                        "there is always something to propose at nonce {minted}"
                    );
                    assert_eq!(view.check(&next), Ok(()));
                    minted += next.len() as u64;
                    view.prune_below(minted);
                }
            }
        });
        assert_eq!(view.confirmed(), 90_000);
        assert!(view.is_empty());
    }
}
