//! The node's side of the bridge to Ethereum.
//!
//! Deposits: [`DepositView`] is this node's own view of the Ethereum bridge contract, kept by
//! [`watch_deposits`] through its own L1 RPC with `parallax_bridge::l1::DepositWatcher` (only
//! deposits at least `confirmations` blocks deep). A leader proposes the next deposits from
//! it ([`DepositView::pending`]); a voter refuses a proposal carrying a deposit its view does
//! not hold exactly ([`DepositView::check`]). A proposal's deposits are committed in the
//! header's `requests_hash` ([`requests_hash`]).
//!
//! Withdrawals: see [`withdrawals`] (the per-block trees, attestations and the relayer).

pub mod withdrawals;

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::bytes::BufMut;
use parallax_bridge::l1::{DepositWatcher, L1Client, L1Deposit};
use parallax_execution::BridgeDeposit;
use std::{
    collections::BTreeMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// The EIP-7685 request type under which a Parallax header's `requests_hash` commits to the
/// block's bridge deposits.
pub const DEPOSIT_REQUEST_TYPE: u8 = 0x50;

/// Most confirmed deposits a view keeps above the chain's next deposit nonce (a node whose
/// chain is far behind Ethereum reads more as it catches up).
const MAX_VIEW_DEPOSITS: usize = 65_536;

/// A bridge deposit as a proposal carries it: what execution mints, and where Ethereum holds
/// it (so voters compare it with their own view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deposit {
    /// The deposit nonce on Ethereum.
    pub nonce: u64,
    /// The Ethereum token (`Address::ZERO` for ETH).
    pub l1_token: Address,
    /// The Parallax recipient.
    pub recipient: Address,
    /// What the Ethereum contract received.
    pub amount: U256,
    /// The depositing Ethereum transaction.
    pub l1_tx_hash: B256,
    /// The Ethereum block that holds it.
    pub l1_block: u64,
}

impl Deposit {
    /// The deposit an Ethereum `Deposit` event records.
    pub fn from_l1(d: &L1Deposit) -> Self {
        Self {
            nonce: d.nonce,
            l1_token: d.token,
            recipient: d.l2_recipient,
            amount: d.amount,
            l1_tx_hash: d.tx_hash,
            l1_block: d.block_number,
        }
    }

    /// What execution mints.
    pub fn to_execution(&self) -> BridgeDeposit {
        BridgeDeposit {
            nonce: self.nonce,
            l1_token: self.l1_token,
            recipient: self.recipient,
            amount: self.amount,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.nonce);
        out.put_slice(self.l1_token.as_slice());
        out.put_slice(self.recipient.as_slice());
        out.put_slice(&self.amount.to_be_bytes::<32>());
        out.put_slice(self.l1_tx_hash.as_slice());
        out.put_u64(self.l1_block);
    }
}

/// The header's `requests_hash` for a block minting `deposits` (EIP-7685's hash over one
/// request of type [`DEPOSIT_REQUEST_TYPE`] whose data is each deposit's fields, fixed-width,
/// in order). With no deposits it is EIP-7685's empty requests hash, as on Ethereum.
pub fn requests_hash(deposits: &[Deposit]) -> B256 {
    let mut request = Vec::with_capacity(1 + deposits.len() * 120);
    request.push(DEPOSIT_REQUEST_TYPE);
    for d in deposits {
        d.encode(&mut request);
    }
    alloy_eips::eip7685::Requests::new(vec![request.into()]).requests_hash()
}

/// What this node's view of Ethereum holds.
#[derive(Debug, Default)]
struct Book {
    /// Confirmed deposits by nonce, with when this view confirmed them.
    deposits: BTreeMap<u64, (Deposit, Instant)>,
    /// The next nonce the watcher expects (everything below was seen).
    next_nonce: u64,
    /// The L1 head at the last successful poll.
    l1_head: Option<u64>,
    /// The last poll's error, if it failed.
    error: Option<String>,
}

/// This node's view of the Ethereum bridge's confirmed deposits, shared between the watcher
/// task (which fills it) and the consensus driver (which proposes and checks from it).
#[derive(Debug, Default)]
pub struct DepositView {
    book: RwLock<Book>,
    /// How long a leader waits after confirming a deposit before proposing it, so the other
    /// validators' views (polling on their own schedule) have confirmed it too and vote.
    proposal_delay: Duration,
    /// Deposits the watcher has seen in all.
    pub seen: AtomicU64,
    /// Proposals refused because a deposit was not in this view.
    pub refused: AtomicU64,
    /// Polls of the L1 RPC that failed.
    pub poll_errors: AtomicU64,
}

impl DepositView {
    /// A view whose leader proposes a deposit `proposal_delay` after confirming it (about one
    /// poll interval: the other validators confirm it within theirs).
    pub fn new(proposal_delay: Duration) -> Self {
        Self {
            proposal_delay,
            ..Self::default()
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
            out.push(*d);
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
                None if d.nonce < book.next_nonce => {
                    // Seen and pruned: it was minted already, so proposing it again fails in
                    // execution; refuse here with a clear reason.
                    return Err(format!("deposit {} was minted already", d.nonce));
                }
                None => {
                    return Err(format!(
                        "deposit {} is not in this node's view of Ethereum (it has {} confirmed deposits, L1 head {:?})",
                        d.nonce, book.next_nonce, book.l1_head
                    ));
                }
            }
        }
        Ok(())
    }

    /// Forgets deposits below `nonce` (minted and committed).
    pub fn prune_below(&self, nonce: u64) {
        if let Ok(mut book) = self.book.write() {
            book.deposits = book.deposits.split_off(&nonce);
        }
    }

    /// The L1 head at the last successful poll.
    pub fn l1_head(&self) -> Option<u64> {
        self.book.read().ok().and_then(|b| b.l1_head)
    }

    /// How many deposits the watcher confirmed (the next nonce it expects).
    pub fn confirmed(&self) -> u64 {
        self.book.read().map_or(0, |b| b.next_nonce)
    }

    /// The last poll's error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.book.read().ok().and_then(|b| b.error.clone())
    }

    /// A confirmed deposit still held.
    pub fn get(&self, nonce: u64) -> Option<Deposit> {
        self.book.read().ok()?.deposits.get(&nonce).map(|(d, _)| *d)
    }

    fn record(&self, watcher: &mut DepositWatcher) {
        let Ok(mut book) = self.book.write() else {
            return;
        };
        book.l1_head = watcher.head();
        book.error = None;
        let from = book.next_nonce;
        let room = MAX_VIEW_DEPOSITS.saturating_sub(book.deposits.len());
        for d in watcher.from_nonce(from, room) {
            book.next_nonce = d.nonce + 1;
            book.deposits
                .insert(d.nonce, (Deposit::from_l1(&d), Instant::now()));
            self.seen.fetch_add(1, Ordering::Relaxed);
        }
        // The watcher keeps only what the view has not taken yet.
        watcher.prune_below(book.next_nonce);
    }

    fn fail(&self, error: String) {
        self.poll_errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut book) = self.book.write() {
            book.error = Some(error);
        }
    }
}

/// Keeps `view` filled from the Ethereum bridge at `bridge` through `client`, polling every
/// `interval`, until the task is dropped. Errors (an unreachable RPC, a nonce gap) are logged,
/// counted and retried; the view keeps what it had.
pub async fn watch_deposits(
    view: Arc<DepositView>,
    client: L1Client,
    bridge: Address,
    confirmations: u64,
    from_block: u64,
    interval: Duration,
) {
    let mut watcher = DepositWatcher::new(client, bridge, confirmations, from_block);
    let mut failing = false;
    info!(%bridge, confirmations, from_block, "watching Ethereum bridge deposits");
    loop {
        match watcher.poll().await {
            Ok(found) => {
                if failing {
                    info!("Ethereum RPC reachable again");
                    failing = false;
                }
                if found > 0 {
                    info!(found, next_nonce = watcher.next_nonce(), l1_head = ?watcher.head(), "confirmed Ethereum deposits");
                }
                view.record(&mut watcher);
            }
            Err(e) => {
                if !failing {
                    warn!(error = %e, "polling the Ethereum bridge failed; retrying");
                }
                failing = true;
                view.fail(e.to_string());
            }
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit(nonce: u64) -> Deposit {
        Deposit {
            nonce,
            l1_token: Address::ZERO,
            recipient: Address::repeat_byte(7),
            amount: U256::from(1000 + nonce),
            l1_tx_hash: B256::repeat_byte(nonce as u8),
            l1_block: 10 + nonce,
        }
    }

    fn view_with(n: u64) -> DepositView {
        let view = DepositView::default();
        {
            let mut book = view.book.write().unwrap();
            for i in 0..n {
                book.deposits.insert(i, (deposit(i), Instant::now()));
            }
            book.next_nonce = n;
        }
        view
    }

    #[test]
    fn requests_hash_commits_to_every_field_and_is_empty_without_deposits() {
        assert_eq!(requests_hash(&[]), alloy_eips::eip7685::EMPTY_REQUESTS_HASH);
        let base = requests_hash(&[deposit(0)]);
        let mut changed = vec![
            Deposit {
                nonce: 1,
                ..deposit(0)
            },
            Deposit {
                l1_token: Address::repeat_byte(1),
                ..deposit(0)
            },
            Deposit {
                recipient: Address::repeat_byte(1),
                ..deposit(0)
            },
            Deposit {
                amount: U256::from(1),
                ..deposit(0)
            },
            Deposit {
                l1_tx_hash: B256::repeat_byte(0xee),
                ..deposit(0)
            },
            Deposit {
                l1_block: 0,
                ..deposit(0)
            },
        ];
        for d in changed.drain(..) {
            assert_ne!(requests_hash(&[d]), base, "{d:?}");
        }
        assert_ne!(requests_hash(&[deposit(0), deposit(1)]), base);
    }

    #[test]
    fn the_view_refuses_deposits_it_did_not_confirm() {
        let view = view_with(3);
        assert_eq!(view.check(&[deposit(0), deposit(1), deposit(2)]), Ok(()));
        let fake = Deposit {
            amount: U256::from(10).pow(U256::from(24)),
            ..deposit(1)
        };
        assert!(
            view.check(&[deposit(0), fake])
                .unwrap_err()
                .contains("differs")
        );
        assert!(
            view.check(&[deposit(3)])
                .unwrap_err()
                .contains("not in this node's view")
        );
        view.prune_below(2);
        assert!(
            view.check(&[deposit(1)])
                .unwrap_err()
                .contains("minted already")
        );
        assert_eq!(view.pending(2, 10), vec![deposit(2)]);
        assert_eq!(view.pending(0, 10), vec![], "pruned nonces are gone");
    }

    #[test]
    fn a_deposit_is_proposed_only_after_the_delay() {
        let view = DepositView::new(Duration::from_secs(3600));
        view.book
            .write()
            .unwrap()
            .deposits
            .insert(0, (deposit(0), Instant::now()));
        assert_eq!(view.pending(0, 10), vec![], "confirmed just now");
        assert_eq!(view.check(&[deposit(0)]), Ok(()), "but voted for at once");
    }

    #[test]
    fn pending_stops_at_a_gap_and_at_the_limit() {
        let view = view_with(5);
        view.book.write().unwrap().deposits.remove(&3);
        assert_eq!(view.pending(1, 10), vec![deposit(1), deposit(2)]);
        assert_eq!(view.pending(0, 2), vec![deposit(0), deposit(1)]);
    }
}
