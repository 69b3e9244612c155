//! Prometheus metrics: one `prometheus-client` [`Registry`](prometheus_client::registry::Registry)
//! into which each part of the node registers what it measures (the service builds it),
//! served on the metrics address by `MetricsServer` (axum, `GET /metrics`, OpenMetrics text).
//!
//! The parts and where their figures live:
//! - the chain, consensus and transactions (`parallax_engine::state`'s collectors over the
//!   engine's typed state, with `parallax_engine::metrics`' histograms);
//! - the network (`parallax_network::NetworkMetrics`), the bridge
//!   (`parallax_bridge::BridgeMetrics`) and the JSON-RPC server (`RpcCollector`, here).
//!
//! The encoding helpers and the rules every collector follows (lock-free recording, counters
//! without `_total`, float bucket bounds) are `parallax_engine::metrics`'.

mod rpc;
mod server;

pub(crate) use rpc::RpcCollector;
pub(crate) use server::MetricsServer;
