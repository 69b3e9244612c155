//! The machine's Ethereum side: which window blocks are due, whether this node sends their
//! transactions now, and one pass at a block, Ethereum call by Ethereum call.
//!
//! A tick, the driver asks [`RelayMachine::due`] which blocks to look at (those whose retry
//! time has come) and, for each in turn, starts a pass ([`RelayMachine::begin`]) and performs
//! the [`L1Step`] it is given, answering with the matching `on_*` method, until
//! [`L1Step::Done`]; then [`RelayMachine::sweep_settled`] drops settled blocks. A pass:
//! 1. unless Ethereum attested the root already: read `withdrawalRoots(block)`; if it is this
//!    root the block is attested; another root is an error (retried); none, and this node
//!    may send, submits the quorum's signatures, else the pass waits;
//! 2. read each unsettled withdrawal's state in order; a settled one is recorded; a queued one
//!    is finalized again once released (by Ethereum's clock), else woken then; an unfinalized
//!    one is finalized when this node may send, else the pass stops there (the relayer goes
//!    in order, so the rest are not either);
//! 3. finalize what is to send in batches of [`FINALIZE_BATCH`], reading each withdrawal's
//!    outcome from the receipt's events.
//!
//! This node may send a block's transactions once a quorum signed its root (or Ethereum
//! attested it): at once when it is the block's designated relayer (`block % relayers`),
//! after [`RELAY_GRACE`] otherwise. A pass ends done (nothing left), waiting (looked at again
//! after [`OBSERVE_EVERY`], or at a queued withdrawal's release) or failed (an Ethereum call
//! failed: tried again after a doubling delay, never given up).

use super::{super::FINALIZE_BATCH, Pending, RelayMachine};
use crate::{
    l1::{L1Error, WithdrawalState},
    relay::relayer::{MAX_RETRY_DELAY, OBSERVE_EVERY, RELAY_GRACE},
    withdrawal::Withdrawal,
};
use alloy_primitives::{B256, Bytes};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

/// A withdrawal as `finalizeWithdrawals` takes it: with its block and Merkle proof.
pub(in crate::relay::relayer) type Finalization = (Withdrawal, u64, Vec<B256>);

/// A window block to look at on Ethereum now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::relay::relayer) struct Visit {
    /// The Parallax block.
    pub(in crate::relay::relayer) block: u64,
    /// Whether this node sends the block's transactions now (else it only reads).
    pub(in crate::relay::relayer) may_send: bool,
}

/// The next Ethereum call of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::relay::relayer) enum L1Step {
    /// Read the root Ethereum holds for the block; answer with
    /// [`RelayMachine::on_root_read`].
    ReadRoot {
        /// The Parallax block.
        block: u64,
    },
    /// Submit the root with a quorum's signatures (ascending signers); answer with
    /// [`RelayMachine::on_root_submitted`].
    SubmitRoot {
        /// The Parallax block.
        block: u64,
        /// Its withdrawal root.
        root: B256,
        /// The signatures, as the contract takes them.
        signatures: Vec<Bytes>,
    },
    /// Read a withdrawal's state; answer with [`RelayMachine::on_state_read`].
    ReadState {
        /// The withdrawal's id.
        id: u64,
    },
    /// Finalize these withdrawals in one transaction; answer with
    /// [`RelayMachine::on_finalized`].
    Finalize {
        /// The Parallax block.
        block: u64,
        /// The withdrawals with their proofs.
        batch: Vec<Finalization>,
    },
    /// The pass is over.
    Done,
}

/// What a `finalizeWithdrawals` transaction did, read from its receipt's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(in crate::relay::relayer) struct Finalized {
    /// The Ethereum transaction.
    pub(in crate::relay::relayer) tx: B256,
    /// Each withdrawal the transaction finalized: paid, unpaid or queued (one it skipped,
    /// another relayer's already, is absent).
    pub(in crate::relay::relayer) outcomes: BTreeMap<u64, WithdrawalState>,
}

/// A pass at one block in progress.
#[derive(Debug)]
pub(in crate::relay::relayer) struct Pass {
    block: u64,
    may_send: bool,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the root Ethereum holds.
    ReadingRoot,
    /// Waiting for the root's submission.
    SubmittingRoot,
    /// Reading the unsettled withdrawals' states (the front one's is asked for).
    ReadingStates {
        todo: VecDeque<(Withdrawal, Vec<B256>)>,
        send: Vec<Finalization>,
        wake: Option<Instant>,
    },
    /// Finalizing batches (the ids of the one sent are `in_flight`).
    Finalizing {
        batches: VecDeque<Vec<Finalization>>,
        in_flight: Vec<u64>,
        wake: Option<Instant>,
    },
}

/// How a pass ended.
enum Relayed {
    /// Everything this node may do now is done.
    Done,
    /// Waiting: for the block's relayer (this node only read Ethereum), or for a queued
    /// withdrawal's release (until the given time).
    Waiting(Option<Instant>),
    /// An Ethereum call failed.
    Failed,
}

impl RelayMachine {
    /// Whether this node sends block `number`'s Ethereum transactions at `now`, its root
    /// signed since `since`: the designated relayer at once, the others after the grace
    /// period.
    fn relays_now(&self, number: u64, since: Instant, now: Instant) -> bool {
        if !self.policy.relay {
            return false;
        }
        let designated = self
            .policy
            .signer
            .as_ref()
            .is_some_and(|(i, _)| u64::from(*i) == number % self.policy.relayers.max(1));
        designated || now.saturating_duration_since(since) >= RELAY_GRACE
    }

    /// The window blocks to look at on Ethereum at `now`, in order. Every block is looked
    /// at: its relayer sends once a quorum signed; the others only read Ethereum until the
    /// grace period ends (so their status counts what the relayer did), and a node that
    /// missed the signatures learns from Ethereum that a quorum signed.
    pub(in crate::relay::relayer) fn due(&self, now: Instant) -> Vec<Visit> {
        self.window
            .iter()
            .filter(|(_, p)| p.retry.is_none_or(|(at, _)| now >= at))
            .map(|(n, p)| {
                let since = if p.attested {
                    Some(p.entered_at.max(p.reached_at.unwrap_or(p.entered_at)))
                } else {
                    p.reached_at
                };
                Visit {
                    block: *n,
                    may_send: since.is_some_and(|at| self.relays_now(*n, at, now)),
                }
            })
            .collect()
    }

    /// Starts a pass at a due block: its first Ethereum call.
    pub(in crate::relay::relayer) fn begin(&mut self, visit: Visit, now: Instant) -> L1Step {
        let Some(p) = self.window.get(&visit.block) else {
            self.pass = None;
            return L1Step::Done;
        };
        let attested = p.attested;
        self.pass = Some(Pass {
            block: visit.block,
            may_send: visit.may_send,
            stage: Stage::ReadingRoot,
        });
        if attested {
            self.start_states(now)
        } else {
            L1Step::ReadRoot { block: visit.block }
        }
    }

    /// The pass in progress and its block, if the block is still in the window.
    fn current(&mut self) -> Option<(&mut Pass, &mut Pending)> {
        let pass = self.pass.as_mut()?;
        let p = self.window.get_mut(&pass.block)?;
        Some((pass, p))
    }

    /// Ethereum's root for the block (zero: none yet), or the error reading it.
    pub(in crate::relay::relayer) fn on_root_read(
        &mut self,
        on_l1: Result<B256, L1Error>,
        now: Instant,
    ) -> L1Step {
        let Some((pass, p)) = self.current() else {
            return self.end(Relayed::Done, now);
        };
        if !matches!(pass.stage, Stage::ReadingRoot) {
            return self.end(Relayed::Done, now);
        }
        let (number, may_send, root) = (pass.block, pass.may_send, p.tree.root());
        match on_l1 {
            Ok(on_l1) if on_l1 == root => self.attested(now),
            Ok(on_l1) if on_l1 != B256::ZERO => {
                // Another root for this block: the quorum that signed it is not ours.
                warn!(block = number, %on_l1, ours = %root, "Ethereum holds another withdrawal root for this block");
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                self.end(Relayed::Failed, now)
            }
            Ok(_) if !may_send => self.end(Relayed::Waiting(None), now),
            Ok(_) => {
                let signatures = p.quorum.signatures();
                pass.stage = Stage::SubmittingRoot;
                L1Step::SubmitRoot {
                    block: number,
                    root,
                    signatures,
                }
            }
            Err(e) => {
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                warn!(block = number, error = %e, "reading the Ethereum bridge failed");
                self.end(Relayed::Failed, now)
            }
        }
    }

    /// The root's submission: its transaction, or the error.
    pub(in crate::relay::relayer) fn on_root_submitted(
        &mut self,
        tx: Result<B256, L1Error>,
        now: Instant,
    ) -> L1Step {
        let Some((pass, p)) = self.current() else {
            return self.end(Relayed::Done, now);
        };
        if !matches!(pass.stage, Stage::SubmittingRoot) {
            return self.end(Relayed::Done, now);
        }
        let (number, root) = (pass.block, p.tree.root());
        match tx {
            Ok(tx) => {
                self.stats.roots_submitted.fetch_add(1, Ordering::Relaxed);
                info!(block = number, %root, l1_tx = %tx, "withdrawal root submitted to Ethereum");
                self.attested(now)
            }
            Err(e) => {
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                warn!(block = number, error = %e, "submitting a withdrawal root failed");
                self.end(Relayed::Failed, now)
            }
        }
    }

    /// Ethereum holds the block's root: on to its withdrawals.
    fn attested(&mut self, now: Instant) -> L1Step {
        if let Some((_, p)) = self.current() {
            p.attested = true;
            if p.reached_at.is_none() {
                // The contract checked a quorum's signatures over this root.
                p.reached_at = Some(now);
            }
            let ids: Vec<u64> = p
                .withdrawals
                .iter()
                .filter(|w| !p.settled.contains(&w.id))
                .map(|w| w.id)
                .collect();
            self.stats.set(ids, "attested");
        }
        self.start_states(now)
    }

    /// Starts reading the states of the block's unsettled withdrawals.
    fn start_states(&mut self, now: Instant) -> L1Step {
        let Some((pass, p)) = self.current() else {
            return self.end(Relayed::Done, now);
        };
        let todo = p
            .withdrawals
            .iter()
            .enumerate()
            .filter(|(_, w)| !p.settled.contains(&w.id))
            .map(|(i, w)| (*w, p.tree.proof(i).unwrap_or_default()))
            .collect();
        pass.stage = Stage::ReadingStates {
            todo,
            send: Vec::new(),
            wake: None,
        };
        self.next_read(now)
    }

    /// Asks for the next withdrawal's state, or goes on to finalizing.
    fn next_read(&mut self, now: Instant) -> L1Step {
        let Some(pass) = self.pass.as_mut() else {
            return L1Step::Done;
        };
        let Stage::ReadingStates { todo, send, wake } = &mut pass.stage else {
            return self.end(Relayed::Done, now);
        };
        if let Some((w, _)) = todo.front() {
            return L1Step::ReadState { id: w.id };
        }
        let batches = send
            .chunks(FINALIZE_BATCH)
            .map(<[Finalization]>::to_vec)
            .collect();
        pass.stage = Stage::Finalizing {
            batches,
            in_flight: Vec::new(),
            wake: *wake,
        };
        self.next_batch(now)
    }

    /// The state of the withdrawal asked for, or the error reading it; `unix_now` is the
    /// time in seconds since the epoch (a queued withdrawal's release is compared with it).
    pub(in crate::relay::relayer) fn on_state_read(
        &mut self,
        state: Result<WithdrawalState, L1Error>,
        unix_now: u64,
        now: Instant,
    ) -> L1Step {
        let Some(pass) = self.pass.as_mut() else {
            return L1Step::Done;
        };
        let (number, may_send) = (pass.block, pass.may_send);
        let Stage::ReadingStates { todo, send, wake } = &mut pass.stage else {
            return self.end(Relayed::Done, now);
        };
        let Some((w, proof)) = todo.pop_front() else {
            return self.end(Relayed::Done, now);
        };
        let state = match state {
            Ok(state) => state,
            Err(e) => {
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                warn!(id = w.id, error = %e, "reading the Ethereum bridge failed");
                return self.end(Relayed::Failed, now);
            }
        };
        match state {
            s if s.is_settled() => self.settle(number, w.id, s),
            WithdrawalState::Queued { release_at } => {
                self.stats.set([w.id], "queued");
                if unix_now >= release_at && may_send {
                    send.push((w, number, proof));
                } else {
                    let wait = Duration::from_secs(release_at.saturating_sub(unix_now).max(1));
                    // A release too far ahead to count to is looked at again later.
                    let at = now.checked_add(wait).unwrap_or(now + MAX_RETRY_DELAY);
                    *wake = Some(wake.map_or(at, |w| w.min(at)));
                }
            }
            _ if may_send => send.push((w, number, proof)),
            // Not finalized yet, and not this node's to send: the relayer goes in order, so
            // the rest of the block is not either.
            _ => return self.end(Relayed::Waiting(None), now),
        }
        self.next_read(now)
    }

    /// Sends the next batch, or ends the pass.
    fn next_batch(&mut self, now: Instant) -> L1Step {
        let Some(pass) = self.pass.as_mut() else {
            return L1Step::Done;
        };
        let block = pass.block;
        let Stage::Finalizing {
            batches,
            in_flight,
            wake,
        } = &mut pass.stage
        else {
            return self.end(Relayed::Done, now);
        };
        match batches.pop_front() {
            Some(batch) => {
                *in_flight = batch.iter().map(|(w, _, _)| w.id).collect();
                L1Step::Finalize { block, batch }
            }
            None => match *wake {
                Some(at) => self.end(Relayed::Waiting(Some(at)), now),
                None => self.end(Relayed::Done, now),
            },
        }
    }

    /// What the batch sent did, or the error sending it.
    pub(in crate::relay::relayer) fn on_finalized(
        &mut self,
        receipt: Result<Finalized, L1Error>,
        now: Instant,
    ) -> L1Step {
        let Some(pass) = self.pass.as_mut() else {
            return L1Step::Done;
        };
        let number = pass.block;
        let Stage::Finalizing {
            in_flight, wake, ..
        } = &mut pass.stage
        else {
            return self.end(Relayed::Done, now);
        };
        let ids = std::mem::take(in_flight);
        let receipt = match receipt {
            Ok(receipt) => receipt,
            Err(e) => {
                self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                warn!(block = number, batch = ids.len(), error = %e, "finalizing withdrawals failed");
                return self.end(Relayed::Failed, now);
            }
        };
        info!(block = number, batch = ids.len(), l1_tx = %receipt.tx, "withdrawals finalized on Ethereum");
        let mut wake_at = *wake;
        let mut settled = Vec::new();
        for id in ids {
            match receipt.outcomes.get(&id) {
                Some(s) => {
                    self.stats.finalized_here.fetch_add(1, Ordering::Relaxed);
                    if s.is_settled() {
                        settled.push((id, *s));
                    } else {
                        self.stats.set([id], "queued");
                        wake_at = Some(now + Duration::from_secs(1));
                    }
                }
                // Skipped (another relayer got there first): read it next pass.
                None => wake_at = Some(now),
            }
        }
        *wake = wake_at;
        for (id, s) in settled {
            self.settle(number, id, s);
        }
        self.next_batch(now)
    }

    /// Ends the pass: when to look at the block again.
    fn end(&mut self, outcome: Relayed, now: Instant) -> L1Step {
        if let Some((_, p)) = self.current() {
            match outcome {
                Relayed::Done => p.retry = None,
                Relayed::Failed => p.failed(now),
                Relayed::Waiting(until) => {
                    p.retry = Some((until.unwrap_or(now + OBSERVE_EVERY), 0))
                }
            }
        }
        self.pass = None;
        L1Step::Done
    }

    /// Withdrawal `id` of block `number` is settled on Ethereum.
    fn settle(&mut self, number: u64, id: u64, state: WithdrawalState) {
        let Some(p) = self.window.get_mut(&number) else {
            return;
        };
        if !p.settled.insert(id) {
            return;
        }
        self.stats.finalized.fetch_add(1, Ordering::Relaxed);
        if state == WithdrawalState::Unpaid {
            self.stats.unpaid.fetch_add(1, Ordering::Relaxed);
            warn!(
                id,
                block = number,
                "a withdrawal's payout failed on Ethereum; it stays claimable (retry finalizeWithdrawal)"
            );
        }
        self.stats.set([id], state.name());
    }

    /// Drops the blocks whose withdrawals are all settled from the window.
    pub(in crate::relay::relayer) fn sweep_settled(&mut self) {
        let before = self.window.len();
        let mut freed = 0;
        self.window.retain(|_, p| {
            let keep = !p.is_settled();
            if !keep {
                freed += p.withdrawals.len();
            }
            keep
        });
        self.window_withdrawals -= freed;
        if self.window.len() < before {
            debug!(
                settled = before - self.window.len(),
                "blocks settled on Ethereum"
            );
        }
    }
}
