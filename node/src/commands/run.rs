//! `parallax run` (a node from a config file) and `parallax dev` (a one-validator
//! development chain).

use crate::service::{Node, NodeOptions};
use eyre::{WrapErr, bail};
use libp2p::Multiaddr;
use parallax_genesis::{Genesis, NodeConfig, ValidatorKeys, dev_accounts, parallax_genesis};
use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Flags that override the config file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) name: Option<String>,
    pub(crate) genesis: Option<PathBuf>,
    pub(crate) datadir: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) listen_addr: Option<Multiaddr>,
    pub(crate) bootnodes: Vec<Multiaddr>,
    pub(crate) rpc_addr: Option<SocketAddr>,
    pub(crate) grpc_addr: Option<SocketAddr>,
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) max_transactions: Option<usize>,
    pub(crate) max_per_sender: Option<usize>,
    pub(crate) mempool_max_bytes: Option<usize>,
    pub(crate) executor_threads: Option<usize>,
}

fn runtime() -> eyre::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

/// SIGINT or SIGTERM, listened for from the moment this is called: the handlers are installed
/// at once, so a signal that arrives while the node is starting, or while the caller is busy
/// elsewhere, is kept until the future is polled. (A future that installed them on its first
/// poll, re-created in a loop, lost a SIGTERM that came between two polls, and the node ran
/// on.)
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)))
    };
    async move {
        #[cfg(unix)]
        if let Ok((mut term, mut int)) = signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts the node and runs it until SIGINT or SIGTERM (then shuts it down cleanly) or until
/// it fails.
async fn run_until_signal(options: NodeOptions) -> eyre::Result<()> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let node = tokio::select! {
        node = Node::start(options) => node?,
        _ = &mut shutdown => {
            tracing::info!("signal received while starting: not started");
            return Ok(());
        }
    };
    let mut failure = tokio::time::interval(std::time::Duration::from_millis(500));
    let failed = loop {
        tokio::select! {
            _ = &mut shutdown => break None,
            _ = failure.tick() => {
                if let Some(e) = node.failure() {
                    break Some(e);
                }
            }
        }
    };
    tracing::info!("shutting down");
    node.shutdown().await;
    match failed {
        Some(e) => bail!("the node stopped: {e}"),
        None => Ok(()),
    }
}

/// `parallax run --config FILE [overrides]`.
pub(crate) fn run(config: &Path, o: Overrides) -> eyre::Result<()> {
    let mut c = NodeConfig::load(config)?;
    if let Some(v) = o.name {
        c.name = v;
    }
    if let Some(v) = o.genesis {
        c.genesis_file = v;
    }
    if let Some(v) = o.datadir {
        c.datadir = v;
    }
    if let Some(v) = o.key_file {
        c.key_file = v;
    }
    if let Some(v) = o.listen_addr {
        c.network.listen_addr = v;
    }
    if !o.bootnodes.is_empty() {
        c.network.bootnodes = o.bootnodes;
    }
    if let Some(v) = o.rpc_addr {
        c.rpc_addr = v;
    }
    if let Some(v) = o.grpc_addr {
        c.grpc_addr = v;
    }
    if let Some(v) = o.metrics_addr {
        c.metrics_addr = v;
    }
    if let Some(v) = o.max_transactions {
        c.mempool.max_transactions = v;
    }
    if let Some(v) = o.max_per_sender {
        c.mempool.max_per_sender = v;
    }
    if let Some(v) = o.mempool_max_bytes {
        c.mempool.max_bytes = v;
    }
    c.validate()
        .wrap_err_with(|| format!("config {}", config.display()))?;
    let genesis = Genesis::load(&c.genesis_file)?;
    if genesis.parallax.is_none() {
        bail!(
            "{} is not a Parallax genesis (it has no `parallax` section)",
            c.genesis_file.display()
        );
    }
    let keys = ValidatorKeys::load(&c.key_file)?;
    let options = NodeOptions {
        name: c.name.clone(),
        genesis,
        datadir: c.datadir.clone(),
        keys,
        listen_addr: Some(c.network.listen_addr.clone()),
        bootnodes: c.network.bootnodes.clone(),
        rpc_addr: Some(c.rpc_addr),
        rpc_limits: Default::default(),
        grpc_addr: Some(c.grpc_addr),
        metrics_addr: Some(c.metrics_addr),
        mempool: c.mempool.clone(),
        executor_threads: o.executor_threads.unwrap_or(2),
        clock: std::sync::Arc::new(crate::service::SystemClock),
        l1: c.l1.as_ref().map(|l1| crate::service::L1Options {
            rpc_url: l1.rpc_url.clone(),
            from_block: l1.from_block,
            poll_interval: std::time::Duration::from_millis(l1.poll_interval_ms),
            relay: l1.relay,
        }),
    };
    runtime()?.block_on(run_until_signal(options))
}

/// The chain id of `parallax dev` chains (the one wallets know for local chains).
pub(crate) const DEV_CHAIN_ID: u64 = 1337;

/// Where `parallax dev` serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DevAddrs {
    /// JSON-RPC.
    pub(crate) rpc: SocketAddr,
    /// gRPC admin, if served.
    pub(crate) grpc: Option<SocketAddr>,
    /// Prometheus metrics, if served.
    pub(crate) metrics: Option<SocketAddr>,
}

/// `parallax dev`: a one-validator chain with the development accounts funded.
pub(crate) fn dev(
    datadir: Option<PathBuf>,
    addrs: DevAddrs,
    out: &mut impl Write,
) -> eyre::Result<()> {
    let rpc_addr = addrs.rpc;
    let (datadir, _temp) = match datadir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("parallax-dev-")
                .tempdir()
                .wrap_err("cannot create a temporary data directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    std::fs::create_dir_all(&datadir)
        .wrap_err_with(|| format!("cannot create {}", datadir.display()))?;
    let key_path = datadir.join("validator-key.json");
    let genesis_path = datadir.join("genesis.json");
    let keys = if key_path.exists() {
        ValidatorKeys::load(&key_path)?
    } else {
        let keys = ValidatorKeys::generate()?;
        keys.save(&key_path)?;
        keys
    };
    let accounts = dev_accounts(parallax_genesis::DEV_ACCOUNTS)?;
    let genesis = if genesis_path.exists() {
        Genesis::load(&genesis_path)?
    } else {
        let validator = keys.validator("dev", 1);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let genesis = parallax_genesis(DEV_CHAIN_ID, now, vec![validator], &accounts)?;
        let json = serde_json::to_string_pretty(&genesis.to_json())?;
        std::fs::write(&genesis_path, json + "\n")
            .wrap_err_with(|| format!("cannot write {}", genesis_path.display()))?;
        genesis
    };
    writeln!(out, "Parallax development chain")?;
    writeln!(out, "chain id: {}", genesis.chain_id())?;
    writeln!(out, "data directory: {}", datadir.display())?;
    writeln!(out, "JSON-RPC: http://{rpc_addr}")?;
    if let Some(a) = addrs.grpc {
        writeln!(out, "gRPC admin: http://{a}")?;
    }
    if let Some(a) = addrs.metrics {
        writeln!(out, "metrics: http://{a}/metrics")?;
    }
    let currency = genesis
        .parallax
        .as_ref()
        .map_or("ETH", |p| p.native_currency.symbol.as_str());
    writeln!(
        out,
        "currency: {currency} (this chain's own; not bridged from Ethereum)"
    )?;
    writeln!(
        out,
        "accounts (10,000 {currency} each; keys from the public test mnemonic, never use them for value):"
    )?;
    for (i, (address, key)) in accounts.iter().enumerate() {
        writeln!(out, "  ({i}) {address} {key}")?;
    }
    out.flush()?;
    let options = NodeOptions {
        name: "dev".into(),
        genesis,
        datadir,
        keys,
        listen_addr: None,
        bootnodes: Vec::new(),
        rpc_addr: Some(rpc_addr),
        rpc_limits: Default::default(),
        grpc_addr: addrs.grpc,
        metrics_addr: addrs.metrics,
        mempool: Default::default(),
        executor_threads: 2,
        clock: std::sync::Arc::new(crate::service::SystemClock),
        l1: None,
    };
    runtime()?.block_on(run_until_signal(options))
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    /// The handlers are installed when the future is made, not when it is first polled: a
    /// SIGTERM in between is kept, not lost (nor does it kill the process).
    #[tokio::test]
    async fn a_sigterm_before_the_first_poll_still_ends_the_wait() {
        let shutdown = super::shutdown_signal();
        // SAFETY: raise(3) sends SIGTERM to this process, whose handler was just installed.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        tokio::time::timeout(Duration::from_secs(5), shutdown)
            .await
            .expect("the SIGTERM sent before the first poll ends the wait");
    }
}
