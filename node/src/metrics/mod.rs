//! Prometheus metrics: one `prometheus-client` [`Registry`] into which each part of the node
//! registers what it measures, served on the metrics address by [`MetricsServer`] (axum,
//! `GET /metrics`, OpenMetrics text).
//!
//! The parts and where their figures live:
//! - the chain ([`ChainCollector`], over `service::ChainState`): head, commits, and the
//!   per-block histograms of [`ChainMetrics`] that the commit path records into;
//! - consensus ([`ConsensusCollector`], over `service::ConsensusState` and the ingress
//!   counters): round, signing floor, the driver's
//!   [`ConsensusMetrics`](crate::service::observe::ConsensusMetrics) (participation, timeouts, TCs,
//!   latencies), rejected messages, equivocation evidence;
//! - transactions ([`TransactionsCollector`]): the mempool and transaction gossip;
//! - the network (`parallax_network::NetworkMetrics`), the bridge
//!   (`parallax_bridge::BridgeMetrics`) and the JSON-RPC server ([`RpcCollector`]).
//!
//! Recording stays lock-free where it is hot: counters and gauges are the components' own
//! atomics, read by the collectors at each scrape; a histogram observation takes the
//! histogram's own short mutex (one per committed block or consensus event), so a scrape
//! never waits for the consensus driver. The numbers of one scrape may straddle a commit (a
//! block counted by one series and not yet by another), which Prometheus tolerates; the
//! buckets, sum and count of one histogram always agree.
//!
//! Counters are registered without their `_total` suffix, which the OpenMetrics encoding
//! adds to the sample; bucket bounds are printed as floats (`le="1.0"`).

mod collect;
mod server;

pub use collect::ChainMetrics;
pub(crate) use collect::{
    ChainCollector, ConsensusCollector, RpcCollector, TransactionsCollector, buckets, counter,
    counters, histogram,
};
pub(crate) use server::MetricsServer;

use crate::service::Shared;
use parallax_network::{NetworkHandle, NetworkMetrics};
use parallax_rpc::RpcStats;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// What the node's parts measure, for the registry.
#[derive(Clone)]
pub(crate) struct Sources {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rpc: Arc<RpcStats>,
    pub(crate) net: Option<NetworkHandle>,
    pub(crate) bridge: Option<parallax_bridge::BridgeHandles>,
}

/// The node's registry: every part registers its collector.
pub(crate) fn registry(src: &Sources) -> Registry {
    let mut registry = Registry::default();
    let shared = &src.shared;
    registry.register_collector(Box::new(ChainCollector(shared.chain.clone())));
    registry.register_collector(Box::new(ConsensusCollector {
        consensus: shared.consensus.clone(),
        ingress: shared.ingress.clone(),
    }));
    registry.register_collector(Box::new(TransactionsCollector {
        transactions: shared.transactions.clone(),
        ingress: shared.ingress.clone(),
    }));
    registry.register_collector(Box::new(
        src.net
            .as_ref()
            .map_or_else(NetworkMetrics::detached, NetworkHandle::metrics),
    ));
    registry.register_collector(Box::new(RpcCollector(src.rpc.clone())));
    if let Some(bridge) = &src.bridge {
        registry.register_collector(Box::new(bridge.metrics()));
    }
    registry
}

/// The OpenMetrics text of a registry.
pub(crate) fn text(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail; a collector's error would leave a partial text.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "encoding the metrics failed");
    }
    out
}
