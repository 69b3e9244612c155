//! The servers a node answers on: Ethereum JSON-RPC (`parallax-rpc`), the gRPC admin service
//! and the Prometheus metrics endpoint, each on its own address when configured, started
//! after the parts they report on and stopped before them.

use super::{Node, NodeError, NodeOptions};
use crate::{admin::AdminServer, metrics::MetricsServer};
use parallax_rpc::RpcServer;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;

/// The servers a node started.
#[derive(Default)]
pub(super) struct Servers {
    rpc: Option<RpcServer>,
    admin: Option<AdminServer>,
    metrics: Option<MetricsServer>,
}

impl Servers {
    /// Starts the servers `options` asks for, over `node`; stops those it started if one
    /// cannot start (its address is taken).
    pub(super) async fn start(
        node: &Node,
        options: &NodeOptions,
        registry: Registry,
    ) -> Result<Self, NodeError> {
        let mut servers = Self::default();
        if let Err(e) = servers.start_each(node, options, registry).await {
            servers.stop().await;
            return Err(e);
        }
        Ok(servers)
    }

    async fn start_each(
        &mut self,
        node: &Node,
        options: &NodeOptions,
        registry: Registry,
    ) -> Result<(), NodeError> {
        if let Some(addr) = options.rpc_addr {
            let server = RpcServer::start(addr, node.rpc_deps())
                .await
                .map_err(|e| NodeError::Rpc(format!("{addr}: {e}")))?;
            self.rpc = Some(server);
        }
        if let Some(addr) = options.grpc_addr {
            let server = AdminServer::start(addr, node.admin_context(options))
                .await
                .map_err(|e| NodeError::Admin(format!("gRPC admin on {addr}: {e}")))?;
            self.admin = Some(server);
        }
        if let Some(addr) = options.metrics_addr {
            let server = MetricsServer::start(addr, registry)
                .await
                .map_err(|e| NodeError::Admin(format!("metrics on {addr}: {e}")))?;
            self.metrics = Some(server);
        }
        Ok(())
    }

    /// The JSON-RPC server's bound address.
    pub(super) fn rpc_addr(&self) -> Option<SocketAddr> {
        self.rpc.as_ref().map(RpcServer::addr)
    }

    /// The gRPC admin server's bound address.
    pub(super) fn grpc_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::addr)
    }

    /// The metrics server's bound address.
    pub(super) fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsServer::addr)
    }

    /// Stops every server it started (clients are answered no more).
    pub(super) async fn stop(&mut self) {
        if let Some(admin) = self.admin.take() {
            admin.stop().await;
        }
        if let Some(metrics) = self.metrics.take() {
            metrics.stop().await;
        }
        if let Some(rpc) = self.rpc.take() {
            rpc.stop().await;
        }
    }
}
