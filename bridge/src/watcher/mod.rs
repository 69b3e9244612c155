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

use crate::deposit::Deposit;
use crate::{
    contracts::l2_storage,
    l1::{DepositSource, DepositWatcher, Finality, L1Deposit},
};
use alloy_primitives::{Address, B256};
use parallax_genesis::L2_BRIDGE_ADDRESS;
use parallax_storage::{Reader, StorageError};
use std::{
    collections::{BTreeMap, BTreeSet},
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
/// Most distinct L1 tokens the view remembers having seen deposited (for the status RPC).
const MAX_TOKENS: usize = 1_024;

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
    pub fn at_head(reader: &Reader<'_>) -> Result<Self, StorageError> {
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

/// What this node's view of Ethereum holds.
#[derive(Debug, Default)]
struct Book {
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
    /// L1 tokens seen deposited.
    tokens: BTreeSet<Address>,
}

/// This node's view of the Ethereum bridge's confirmed deposits, shared between the watcher
/// task (which fills it) and the consensus driver (which proposes and checks from it and
/// prunes it as blocks commit).
#[derive(Debug)]
pub struct DepositView {
    book: RwLock<Book>,
    /// How long a leader waits after confirming a deposit before proposing it, so the other
    /// validators' views (polling on their own schedule) have confirmed it too and vote.
    proposal_delay: Duration,
    /// Most deposits held.
    capacity: usize,
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
            book: RwLock::new(Book {
                floor,
                next_nonce: floor,
                ..Book::default()
            }),
            proposal_delay,
            capacity,
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            poll_errors: AtomicU64::new(0),
        }
    }

    /// Up to `limit` deposits from nonce `from` on, in nonce order without gaps, that this
    /// view confirmed at least the proposal delay ago.
    pub fn pending(&self, from: u64, limit: usize) -> Vec<Deposit> {
        let Ok(book) = self.book.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (nonce, (d, at)) in book.deposits.range(from..).take(limit) {
            if *nonce != from + out.len() as u64 || at.elapsed() < self.proposal_delay {
                break;
            }
            out.push(d.clone());
        }
        out
    }

    /// Whether every deposit is exactly one this view confirmed; the error says which is not.
    pub fn check(&self, deposits: &[Deposit]) -> Result<(), String> {
        let book = self
            .book
            .read()
            .map_err(|_| "deposit view poisoned".to_string())?;
        for d in deposits {
            match book.deposits.get(&d.nonce).map(|(seen, _)| seen) {
                Some(seen) if seen == d => {}
                Some(seen) => {
                    return Err(format!(
                        "deposit {} differs from Ethereum's: proposed {d:?}, Ethereum has {seen:?}",
                        d.nonce
                    ));
                }
                None if d.nonce < book.floor => {
                    // Minted already: proposing it again fails in execution; refuse here with
                    // a clear reason.
                    return Err(format!("deposit {} was minted already", d.nonce));
                }
                None => {
                    return Err(format!(
                        "deposit {} is not in this node's view of Ethereum (it has confirmed up to nonce {}, L1 head {:?}, settled {:?})",
                        d.nonce, book.next_nonce, book.l1_head, book.settled
                    ));
                }
            }
        }
        Ok(())
    }

    /// The chain minted every deposit below `nonce`: forget them and never take them again.
    pub fn prune_below(&self, nonce: u64) {
        if let Ok(mut book) = self.book.write() {
            if nonce <= book.floor {
                return;
            }
            book.floor = nonce;
            book.next_nonce = book.next_nonce.max(nonce);
            book.deposits = book.deposits.split_off(&nonce);
        }
    }

    /// The chain's next deposit nonce, as far as this view knows.
    pub fn floor(&self) -> u64 {
        self.book.read().map_or(0, |b| b.floor)
    }

    /// How many more deposits the view takes now.
    pub fn room(&self) -> usize {
        self.book
            .read()
            .map_or(0, |b| self.capacity.saturating_sub(b.deposits.len()))
    }

    /// How many deposits the view holds.
    pub fn len(&self) -> usize {
        self.book.read().map_or(0, |b| b.deposits.len())
    }

    /// Whether the view holds no deposit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The L1 head at the last successful poll.
    pub fn l1_head(&self) -> Option<u64> {
        self.book.read().ok().and_then(|b| b.l1_head)
    }

    /// The highest settled L1 block at the last successful poll.
    pub fn settled(&self) -> Option<u64> {
        self.book.read().ok().and_then(|b| b.settled)
    }

    /// How many deposits Ethereum has that this view confirmed or the chain minted (the next
    /// nonce the watcher expects).
    pub fn confirmed(&self) -> u64 {
        self.book.read().map_or(0, |b| b.next_nonce)
    }

    /// The last poll's error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.book.read().ok().and_then(|b| b.error.clone())
    }

    /// A confirmed deposit still held.
    pub fn get(&self, nonce: u64) -> Option<Deposit> {
        self.book
            .read()
            .ok()?
            .deposits
            .get(&nonce)
            .map(|(d, _)| d.clone())
    }

    /// The L1 tokens this view saw deposited (at most the first 1,024).
    pub fn tokens(&self) -> Vec<Address> {
        self.book
            .read()
            .map(|b| b.tokens.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Takes what a poll returned: deposits in nonce order from the view's next nonce on.
    fn record(
        &self,
        found: Vec<L1Deposit>,
        next_nonce: u64,
        l1_head: Option<u64>,
        settled: Option<u64>,
    ) {
        let Ok(mut book) = self.book.write() else {
            return;
        };
        book.l1_head = l1_head;
        book.settled = settled;
        book.error = None;
        let now = Instant::now();
        for d in found {
            if d.nonce < book.floor {
                continue;
            }
            if book.tokens.len() < MAX_TOKENS {
                book.tokens.insert(d.token);
            }
            book.deposits.insert(d.nonce, (Deposit::from_l1(&d), now));
            self.seen.fetch_add(1, Ordering::Relaxed);
        }
        book.next_nonce = book.next_nonce.max(next_nonce);
    }

    fn fail(&self, error: String) {
        self.poll_errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut book) = self.book.write() {
            book.error = Some(error);
        }
    }

    /// One poll of `watcher` into the view: at most the room left, from the chain's floor on.
    pub async fn poll_once<S: DepositSource>(
        &self,
        watcher: &mut DepositWatcher<S>,
    ) -> Result<usize, crate::l1::L1Error> {
        match watcher.poll(self.floor(), self.room()).await {
            Ok(found) => {
                let n = found.len();
                self.record(
                    found,
                    watcher.next_nonce(),
                    watcher.head(),
                    watcher.settled(),
                );
                Ok(n)
            }
            Err(e) => {
                self.fail(e.to_string());
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
    use crate::l1::L1Error;
    use alloy_primitives::{Bytes, U256};

    fn view_with(n: u64) -> DepositView {
        let view = DepositView::new(Duration::ZERO, 0);
        {
            let mut book = view.book.write().unwrap();
            for i in 0..n {
                book.deposits
                    .insert(i, (Deposit::sample(i), Instant::now()));
            }
            book.next_nonce = n;
        }
        view
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
        let view = DepositView::new(Duration::from_secs(3600), 0);
        view.book
            .write()
            .unwrap()
            .deposits
            .insert(0, (Deposit::sample(0), Instant::now()));
        assert_eq!(view.pending(0, 10), vec![], "confirmed just now");
        assert_eq!(
            view.check(&[Deposit::sample(0)]),
            Ok(()),
            "but voted for at once"
        );
    }

    #[test]
    fn pending_stops_at_a_gap_and_at_the_limit() {
        let view = view_with(5);
        view.book.write().unwrap().deposits.remove(&3);
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
