//! [`RpcCollector`]: the JSON-RPC server's counters as metrics.

use parallax_engine::metrics::{counter, counters, gauge};
use parallax_rpc::RpcStats;
use prometheus_client::{collector::Collector, encoding::DescriptorEncoder};
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// The JSON-RPC server's counters.
#[derive(Debug)]
pub(crate) struct RpcCollector(pub(crate) Arc<RpcStats>);

impl Collector for RpcCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let r = &self.0;
        counters(
            &mut e,
            "parallax_rpc_requests",
            "JSON-RPC calls answered, by method (unknown: methods the node does not serve); \
             methods never called are left out.",
            "method",
            r.calls(),
        )?;
        counter(
            &mut e,
            "parallax_rpc_errors",
            "JSON-RPC calls answered with an error.",
            load(&r.errors),
        )?;
        counters(
            &mut e,
            "parallax_rpc_rejected_requests",
            "JSON-RPC requests refused before dispatch, by reason: malformed (not JSON or not \
             JSON-RPC), oversized (over a size or batch limit), connection_limit (connection \
             refused: too many in all or from one address), slow_subscriber (subscription \
             ended for not keeping up).",
            "reason",
            [
                ("malformed", load(&r.malformed)),
                ("oversized", load(&r.oversized)),
                ("connection_limit", load(&r.refused_connections)),
                ("slow_subscriber", load(&r.slow_subscribers)),
            ],
        )?;
        gauge(
            &mut e,
            "parallax_rpc_requests_in_flight",
            "HTTP JSON-RPC requests being handled now (at most max_requests_in_flight).",
            load(&r.in_flight),
        )?;
        counter(
            &mut e,
            "parallax_rpc_requests_waited",
            "HTTP JSON-RPC requests that waited for a turn because max_requests_in_flight \
             were being handled (e.g. many HTTP/2 streams on one connection).",
            load(&r.waited),
        )
    }
}
