//! The relayer's Ethereum side: whether this node sends a block's transactions now, submitting
//! quorum-signed roots, and finalizing their withdrawals in batches until each is settled.

use super::{FINALIZE_BATCH, OBSERVE_EVERY, RELAY_GRACE, Relayed, Relayer, unix_now};
use crate::{
    contracts::IParallaxBridge,
    l1::{L1Client, WithdrawalState},
    withdrawal::Withdrawal,
};
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolEvent;
use std::{
    collections::BTreeMap,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

impl Relayer {
    /// Whether this node sends block `number`'s Ethereum transactions now: the designated
    /// relayer at once, the others after the grace period.
    fn relays_now(&self, number: u64, since: Instant) -> bool {
        let n = self.config.bridge_addresses.len().max(1) as u64;
        if !self.config.relay {
            return false;
        }
        let designated = self
            .config
            .signer
            .as_ref()
            .is_some_and(|(i, _)| u64::from(*i) == number % n);
        designated || since.elapsed() >= RELAY_GRACE
    }

    /// Carries the window's blocks to Ethereum.
    pub(super) async fn relay(&mut self) {
        let Some(l1) = self.config.l1.clone() else {
            return;
        };
        let bridge = self.config.domain.l1_bridge;
        // Every block is looked at: its relayer sends once a quorum signed; the others only read
        // Ethereum until the grace period ends (so their status counts what the relayer did),
        // and a node that missed the signatures learns from Ethereum that a quorum signed.
        let now = Instant::now();
        let ready: Vec<(u64, bool)> = self
            .window
            .iter()
            .filter(|(_, p)| p.retry.is_none_or(|(at, _)| now >= at))
            .map(|(n, p)| {
                let since = if p.attested {
                    Some(p.entered_at.max(p.reached_at.unwrap_or(p.entered_at)))
                } else {
                    p.reached_at
                };
                (*n, since.is_some_and(|at| self.relays_now(*n, at)))
            })
            .collect();
        for (number, may_send) in ready {
            let outcome = self.relay_block(&l1, bridge, number, may_send).await;
            if let Some(p) = self.window.get_mut(&number) {
                match outcome {
                    Relayed::Done => p.retry = None,
                    Relayed::Failed => p.failed(),
                    Relayed::Waiting(until) => {
                        p.retry = Some((until.unwrap_or(Instant::now() + OBSERVE_EVERY), 0))
                    }
                }
            }
        }
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

    /// Submits block `number`'s root (unless Ethereum has it) and finalizes its withdrawals;
    /// with `may_send` false it only reads what Ethereum has.
    async fn relay_block(
        &mut self,
        l1: &L1Client,
        bridge: Address,
        number: u64,
        may_send: bool,
    ) -> Relayed {
        let Some(p) = self.window.get(&number) else {
            return Relayed::Done;
        };
        let root = p.tree.root();
        if !p.attested {
            let call = IParallaxBridge::withdrawalRootsCall {
                l2BlockNumber: U256::from(number),
            };
            match l1.view(bridge, call).await {
                Ok(on_l1) if on_l1 == root => {}
                Ok(on_l1) if on_l1 != B256::ZERO => {
                    // Another root for this block: the quorum that signed it is not ours.
                    warn!(block = number, %on_l1, ours = %root, "Ethereum holds another withdrawal root for this block");
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    return Relayed::Failed;
                }
                Ok(_) if !may_send => return Relayed::Waiting(None),
                Ok(_) => {
                    let signatures = p.quorum.signatures();
                    match l1
                        .submit_withdrawal_root(bridge, number, root, signatures)
                        .await
                    {
                        Ok(receipt) => {
                            self.stats.roots_submitted.fetch_add(1, Ordering::Relaxed);
                            info!(block = number, %root, l1_tx = %receipt.transaction_hash, "withdrawal root submitted to Ethereum");
                        }
                        Err(e) => {
                            self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                            warn!(block = number, error = %e, "submitting a withdrawal root failed");
                            return Relayed::Failed;
                        }
                    }
                }
                Err(e) => {
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(block = number, error = %e, "reading the Ethereum bridge failed");
                    return Relayed::Failed;
                }
            }
            if let Some(p) = self.window.get_mut(&number) {
                p.attested = true;
                if p.reached_at.is_none() {
                    // The contract checked a quorum's signatures over this root.
                    p.reached_at = Some(Instant::now());
                }
                let ids: Vec<u64> = p
                    .withdrawals
                    .iter()
                    .filter(|w| !p.settled.contains(&w.id))
                    .map(|w| w.id)
                    .collect();
                self.stats.set(ids, "attested");
            }
        }
        self.finalize_block(l1, bridge, number, may_send).await
    }

    /// Reads the state of the block's unsettled withdrawals and, when `may_send`, finalizes
    /// those Ethereum has not (and queued ones now released) in batches.
    async fn finalize_block(
        &mut self,
        l1: &L1Client,
        bridge: Address,
        number: u64,
        may_send: bool,
    ) -> Relayed {
        let Some(p) = self.window.get(&number) else {
            return Relayed::Done;
        };
        let todo: Vec<(Withdrawal, Vec<B256>)> = p
            .withdrawals
            .iter()
            .enumerate()
            .filter(|(_, w)| !p.settled.contains(&w.id))
            .map(|(i, w)| (*w, p.tree.proof(i).unwrap_or_default()))
            .collect();
        let mut send: Vec<(Withdrawal, u64, Vec<B256>)> = Vec::new();
        let mut wake: Option<Instant> = None;
        for (w, proof) in todo {
            let state = match l1.withdrawal_state(bridge, w.id).await {
                Ok(state) => state,
                Err(e) => {
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(id = w.id, error = %e, "reading the Ethereum bridge failed");
                    return Relayed::Failed;
                }
            };
            match state {
                s if s.is_settled() => self.settle(number, w.id, s),
                WithdrawalState::Queued { release_at } => {
                    self.stats.set([w.id], "queued");
                    let now = unix_now();
                    if now >= release_at && may_send {
                        send.push((w, number, proof));
                    } else {
                        let at = Instant::now()
                            + Duration::from_secs(release_at.saturating_sub(now).max(1));
                        wake = Some(wake.map_or(at, |w| w.min(at)));
                    }
                }
                _ if may_send => send.push((w, number, proof)),
                // Not finalized yet, and not this node's to send: the relayer goes in order,
                // so the rest of the block is not either.
                _ => return Relayed::Waiting(None),
            }
        }
        let mut failed = false;
        for batch in send.chunks(FINALIZE_BATCH) {
            match l1.finalize_withdrawals(bridge, batch).await {
                Ok(receipt) => {
                    let mut outcomes: BTreeMap<u64, WithdrawalState> = BTreeMap::new();
                    for log in receipt.inner.logs() {
                        if log.address() != bridge {
                            continue;
                        }
                        let data = log.data();
                        if let Ok(e) = IParallaxBridge::WithdrawalFinalized::decode_log_data(data) {
                            outcomes.insert(e.id.to(), WithdrawalState::Paid);
                        } else if let Ok(e) =
                            IParallaxBridge::WithdrawalPayoutFailed::decode_log_data(data)
                        {
                            outcomes.insert(e.id.to(), WithdrawalState::Unpaid);
                        } else if let Ok(e) =
                            IParallaxBridge::WithdrawalQueued::decode_log_data(data)
                        {
                            outcomes.insert(
                                e.id.to(),
                                WithdrawalState::Queued {
                                    release_at: e.releaseAt.to(),
                                },
                            );
                        }
                    }
                    info!(block = number, batch = batch.len(), l1_tx = %receipt.transaction_hash, "withdrawals finalized on Ethereum");
                    for (w, _, _) in batch {
                        match outcomes.get(&w.id) {
                            Some(s) => {
                                self.stats.finalized_here.fetch_add(1, Ordering::Relaxed);
                                if s.is_settled() {
                                    self.settle(number, w.id, *s);
                                } else {
                                    self.stats.set([w.id], "queued");
                                    wake = Some(Instant::now() + Duration::from_secs(1));
                                }
                            }
                            // Skipped (another relayer got there first): read it next pass.
                            None => wake = Some(Instant::now()),
                        }
                    }
                }
                Err(e) => {
                    self.stats.l1_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(block = number, batch = batch.len(), error = %e, "finalizing withdrawals failed");
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            return Relayed::Failed;
        }
        match wake {
            Some(at) => Relayed::Waiting(Some(at)),
            None => Relayed::Done,
        }
    }

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
}
