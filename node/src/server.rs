//! What the node's own servers (gRPC admin, metrics) share: accepting connections under a
//! bound, and the handle of a running server (its address; stopping it with a grace period).

use parallax_rpc::limited::{LimitedStream, Timeouts};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, oneshot},
    task::JoinHandle,
};
use tracing::{debug, warn};

/// How long a stopping server's open connections have to finish.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A server running on its own task.
pub(crate) struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Spawns `serve` for the server bound at `addr`; `serve` is given the signal to stop on.
    pub(crate) fn spawn<F>(addr: SocketAddr, serve: impl FnOnce(oneshot::Receiver<()>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Self {
            addr,
            stop: Some(stop),
            task: tokio::spawn(serve(stopped)),
        }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections; open ones have [`STOP_GRACE`] to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(STOP_GRACE, &mut self.task).await;
        self.task.abort();
    }
}

/// Accepts the next connection that fits under `permits` (each connection holds one until it
/// closes, and is closed after `timeouts` of silence); connections over the bound are closed
/// as they come.
pub(crate) async fn accept_bounded(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    timeouts: Timeouts,
    server: &'static str,
) -> (LimitedStream, SocketAddr) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                warn!(server, error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let stream = LimitedStream::new(stream, permit, None, Some(timeouts));
                return (stream, peer);
            }
            Err(_) => debug!(server, %peer, "connection refused: too many connections"),
        }
    }
}
