//! The metrics HTTP server: axum answering `GET /metrics` (and `HEAD`) with the registry's
//! OpenMetrics text; any other path is a 404, any other method a 405, bytes that are not HTTP
//! a 400.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (one more is closed unanswered),
//! and a connection silent for [`SILENCE`] (before its request, or between keep-alive
//! requests) is closed (`parallax_rpc::limited`). A request head is bounded by hyper's
//! buffer limit (about 400 KiB).

use super::text;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use parallax_rpc::limited::{LimitedStream, Timeouts};
use prometheus_client::registry::Registry;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, oneshot},
};
use tracing::{debug, info, warn};

/// Most metrics connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 16;
/// How long a metrics connection may stay silent.
pub(crate) const SILENCE: Duration = Duration::from_secs(5);

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running metrics server.
pub(crate) struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

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
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                warn!(error = %e, "metrics server failed");
            }
        });
        info!(%addr, "metrics listening (GET /metrics)");
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections; a scrape in progress has 2 s to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
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
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!(error = %e, "accepting a metrics connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                debug!(%peer, "metrics connection refused: too many connections");
                continue;
            };
            let timeouts = Timeouts {
                first_byte: SILENCE,
                idle: SILENCE,
            };
            return (
                LimitedStream::new(stream, permit, None, Some(timeouts)),
                peer,
            );
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
