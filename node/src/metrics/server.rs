//! The metrics HTTP server: axum answering `GET /metrics` (and `HEAD`) with the registry's
//! OpenMetrics text; any other path is a 404, any other method a 405, bytes that are not HTTP
//! a 400.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (one more is closed unanswered),
//! and a connection silent for [`SILENCE`] (before its request, or between keep-alive
//! requests) is closed (`parallax_rpc::limited`). A request head is bounded by hyper's
//! buffer limit (about 400 KiB).

use crate::server::{Running, accept_bounded};
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use parallax_engine::metrics::text;
use parallax_rpc::limited::{LimitedStream, Timeouts};
use prometheus_client::registry::Registry;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Semaphore};
use tracing::{info, warn};

/// Most metrics connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 16;
/// How long a metrics connection may stay silent.
pub(crate) const SILENCE: Duration = Duration::from_secs(5);

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running metrics server.
pub(crate) struct MetricsServer(Running);

impl MetricsServer {
    /// Binds `addr` and serves `GET /metrics` from `registry`.
    pub(crate) async fn start(addr: SocketAddr, registry: Registry) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let listener = Bounded {
            inner: listener,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        };
        let app = Router::new()
            .route("/metrics", get(scrape))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found: try /metrics\n") })
            .with_state(Arc::new(registry));
        let running = Running::spawn(addr, |stopped| async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                warn!(error = %e, "metrics server failed");
            }
        });
        info!(%addr, "metrics listening (GET /metrics)");
        Ok(Self(running))
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// Stops accepting connections; a scrape in progress has 2 s to finish.
    pub(crate) async fn stop(self) {
        self.0.stop().await;
    }
}

async fn scrape(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS)], text(&registry))
}

/// A listener that holds at most [`MAX_CONNECTIONS`] and closes silent ones.
struct Bounded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl axum::serve::Listener for Bounded {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let timeouts = Timeouts {
            first_byte: SILENCE,
            idle: SILENCE,
        };
        accept_bounded(&self.inner, &self.permits, timeouts, "metrics").await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
