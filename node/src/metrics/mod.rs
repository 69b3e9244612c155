//! Prometheus metrics: one `prometheus-client` [`Registry`] into which each part of the node
//! registers what it measures (the service builds it), served on the metrics address by
//! [`MetricsServer`] (axum, `GET /metrics`, OpenMetrics text). This module holds the metric
//! types the parts record into, the encoding helpers their collectors use, and the server;
//! it imports no other module of the node.
//!
//! The parts and where their figures live:
//! - the chain (`state::ChainCollector`, over `state::ChainState`): head, commits, and the
//!   per-block histograms of [`ChainMetrics`] that the commit path records into;
//! - consensus (`state::ConsensusCollector`, over `state::ConsensusState` and the ingress
//!   counters): round, signing floor, the driver's
//!   [`ConsensusMetrics`] (participation, timeouts, TCs,
//!   latencies), rejected messages, equivocation evidence;
//! - transactions (`state::TransactionsCollector`): the mempool and transaction gossip;
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
mod consensus;
mod server;

pub use collect::ChainMetrics;
pub(crate) use collect::{RpcCollector, buckets, counter, counters, gauge, histogram};
pub use consensus::ConsensusMetrics;
pub(crate) use server::MetricsServer;

use prometheus_client::registry::Registry;

/// The OpenMetrics text of a registry.
pub(crate) fn text(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail; a collector's error would leave a partial text.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "encoding the metrics failed");
    }
    out
}
