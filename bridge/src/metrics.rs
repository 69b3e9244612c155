//! The bridge's Prometheus metrics: this node's view of Ethereum's deposits and the
//! withdrawal relayer's figures, read from their live counters at each scrape.

use crate::{relay::WithdrawalStats, watcher::DepositView};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, NoLabelSet},
    metrics::MetricType,
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// The bridge's metrics ([`Collector`]); see [`crate::BridgeHandles::metrics`].
#[derive(Debug, Clone)]
pub struct BridgeMetrics {
    pub(crate) deposits: Option<Arc<DepositView>>,
    pub(crate) withdrawals: Arc<WithdrawalStats>,
}

fn one(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    value: u64,
) -> std::fmt::Result {
    let mut m = encoder.encode_descriptor(name, help, None, kind)?;
    match kind {
        MetricType::Counter => m.encode_counter::<NoLabelSet, _, u64>(&value, None),
        _ => m.encode_gauge(&value),
    }
}

impl Collector for BridgeMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        if let Some(view) = &self.deposits {
            one(
                &mut encoder,
                "parallax_bridge_l1_head",
                "The Ethereum head this node's deposit watcher last saw.",
                MetricType::Gauge,
                view.l1_head().unwrap_or(0),
            )?;
            one(
                &mut encoder,
                "parallax_bridge_deposits_confirmed",
                "Ethereum deposits this node's view confirmed (at least K blocks deep).",
                MetricType::Gauge,
                view.confirmed(),
            )?;
            one(
                &mut encoder,
                "parallax_bridge_refused_proposals",
                "Proposals refused because a deposit was not in this node's view of Ethereum.",
                MetricType::Counter,
                load(&view.refused),
            )?;
            one(
                &mut encoder,
                "parallax_bridge_l1_poll_errors",
                "Polls of the Ethereum RPC that failed.",
                MetricType::Counter,
                load(&view.poll_errors),
            )?;
        }
        let w = &self.withdrawals;
        for (name, help, v) in [
            (
                "parallax_bridge_withdrawals_seen",
                "Withdrawals seen in committed blocks.",
                &w.seen,
            ),
            (
                "parallax_bridge_withdrawals_signed",
                "Withdrawals whose root a quorum signed.",
                &w.signed,
            ),
            (
                "parallax_bridge_roots_submitted",
                "Withdrawal roots this node submitted to Ethereum.",
                &w.roots_submitted,
            ),
            (
                "parallax_bridge_withdrawals_finalized",
                "Withdrawals found settled on Ethereum (paid, unpaid or cancelled).",
                &w.finalized,
            ),
            (
                "parallax_bridge_withdrawals_unpaid",
                "Withdrawals found proven but unpaid on Ethereum (the payout failed; claimable \
                 by retrying).",
                &w.unpaid,
            ),
            (
                "parallax_bridge_conflicting_attestations",
                "Attestations of a root other than this node's.",
                &w.conflicting_attestations,
            ),
            (
                "parallax_bridge_l1_errors",
                "Ethereum calls of the relayer that failed.",
                &w.l1_errors,
            ),
        ] {
            one(&mut encoder, name, help, MetricType::Counter, load(v))?;
        }
        Ok(())
    }
}
