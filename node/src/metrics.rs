//! Prometheus metrics: the histograms the commit path records into, and a small HTTP server
//! that answers `GET /metrics` on the metrics address with the text exposition format
//! (version 0.0.4).
//!
//! Recording is lock-free: a histogram is a fixed array of atomic bucket counters, a count
//! and a fixed-point sum, so the consensus driver never waits for a scrape. A scrape reads
//! the atomics one by one; the numbers of one scrape may straddle a commit (a bucket already
//! counted, the count not yet), which Prometheus tolerates.
//!
//! The server is read-only and bounded: at most [`MAX_CONNECTIONS`] connections at once
//! (more are closed unanswered), a request head of at most [`MAX_REQUEST_BYTES`] read
//! within [`REQUEST_TIMEOUT`], one request per connection. Anything but `GET /metrics` gets
//! a 4xx answer; bytes that are not HTTP get a 400 and the connection is closed.

use crate::service::Shared;
use parallax_chain::ExecutedBlock;
use parallax_execution::Schedule;
use parallax_network::NetworkHandle;
use parallax_rpc::RpcStats;
use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, oneshot},
};
use tracing::{debug, info, warn};

/// Most metrics connections open at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Most bytes of a request head read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a client has to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a scrape waits for the network's peer list.
const PEERS_TIMEOUT: Duration = Duration::from_secs(1);

/// A histogram with fixed upper bounds, recorded with atomics.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    /// The sum of observations in units of `1 / SUM_SCALE`.
    sum: AtomicU64,
}

/// Fixed-point scale of histogram sums: micro-units (microseconds for durations).
const SUM_SCALE: f64 = 1e6;

impl Histogram {
    /// A histogram whose buckets end at `bounds` (increasing), plus `+Inf`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one observation (negative and NaN values count as 0).
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum
            .fetch_add((value * SUM_SCALE).round() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines.
    pub(crate) fn render(&self, out: &mut String, name: &str) {
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match self.bounds.get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / SUM_SCALE;
        let _ = writeln!(out, "{name}_sum {sum}");
        // The count is the +Inf bucket, so the two always agree within a scrape.
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// What the driver records per committed block.
#[derive(Debug)]
pub struct ChainMetrics {
    /// Seconds from this node finishing the block's execution to committing it.
    pub commit_latency: Histogram,
    /// Transactions per committed block.
    pub block_transactions: Histogram,
    /// Wall time of executing a committed block's transactions (without the state root).
    pub execution_seconds: Histogram,
    /// Wall time of computing a committed block's state root.
    pub state_root_seconds: Histogram,
    /// Wall time of writing a committed block to the database (one durable MDBX commit).
    pub persist_seconds: Histogram,
    /// EVM time over wall time of committed blocks on a parallel schedule.
    pub parallelism: Histogram,
    /// Committed blocks by executor schedule: sequential, parallel, handed off, and run by
    /// the sequential executor after the parallel one failed.
    schedules: [AtomicU64; 4],
    /// Transaction executions aborted by validation (each re-executed), in committed blocks.
    pub aborts: AtomicU64,
}

const LATENCY_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const TX_BOUNDS: &[f64] = &[0.0, 1.0, 10.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0];
const EXECUTION_BOUNDS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const PARALLELISM_BOUNDS: &[f64] = &[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0];
const SCHEDULES: [&str; 4] = ["sequential", "parallel", "handed_off", "fallback"];

impl Default for ChainMetrics {
    fn default() -> Self {
        Self {
            commit_latency: Histogram::new(LATENCY_BOUNDS),
            block_transactions: Histogram::new(TX_BOUNDS),
            execution_seconds: Histogram::new(EXECUTION_BOUNDS),
            state_root_seconds: Histogram::new(EXECUTION_BOUNDS),
            persist_seconds: Histogram::new(EXECUTION_BOUNDS),
            parallelism: Histogram::new(PARALLELISM_BOUNDS),
            schedules: Default::default(),
            aborts: AtomicU64::new(0),
        }
    }
}

impl ChainMetrics {
    /// Records a block just committed (by consensus or block sync), whose write to the
    /// database took `persist`.
    pub fn on_commit(&self, block: &ExecutedBlock, persist: Duration, now: Instant) {
        self.persist_seconds.observe(persist.as_secs_f64());
        self.commit_latency.observe(
            now.saturating_duration_since(block.executed_at)
                .as_secs_f64(),
        );
        self.block_transactions
            .observe(block.transactions.len() as f64);
        self.execution_seconds
            .observe(block.execution_time.as_secs_f64());
        self.state_root_seconds
            .observe(block.state_root_time.as_secs_f64());
        let schedule = match &block.execution_stats {
            None => 3,
            Some(stats) => {
                self.aborts.fetch_add(stats.aborts, Ordering::Relaxed);
                if let Some(p) = stats.parallelism() {
                    self.parallelism.observe(p);
                }
                match stats.schedule {
                    Schedule::Sequential => 0,
                    Schedule::Parallel => 1,
                    Schedule::HandedOff => 2,
                }
            }
        };
        self.schedules[schedule].fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything a scrape reads.
#[derive(Clone)]
pub(crate) struct Sources {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rpc: Arc<RpcStats>,
    pub(crate) net: Option<NetworkHandle>,
    pub(crate) bridge: Option<parallax_bridge::BridgeHandles>,
}

pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Label values are fixed identifiers from our code, but escape them anyway.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text exposition of every metric.
pub(crate) async fn render(src: &Sources) -> String {
    let s = &src.shared;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    // The peer list comes from the network task; a scrape does not wait long for it.
    let peers = match &src.net {
        Some(net) => tokio::time::timeout(PEERS_TIMEOUT, net.peers())
            .await
            .ok()
            .map(|p| p.len() as u64),
        None => Some(0),
    };
    let mut out = String::with_capacity(8 * 1024);
    single(
        &mut out,
        "parallax_head_height",
        "gauge",
        "Height of the last committed block.",
        load(&s.head),
    );
    single(
        &mut out,
        "parallax_consensus_round",
        "gauge",
        "The round consensus is in (0 on a node that is not a validator).",
        load(&s.round),
    );
    single(
        &mut out,
        "parallax_consensus_signing_floor",
        "gauge",
        "While this validator's safety data is missing or behind the network (a wiped or \
         restored database): the highest round in which it signs nothing; 0 when trusted.",
        load(&s.signing_floor),
    );
    single(
        &mut out,
        "parallax_consensus_signing_paused",
        "gauge",
        "1 while this validator refuses to sign in its current round because its safety \
         data may be behind what it signed.",
        load(&s.signing_paused),
    );
    single(
        &mut out,
        "parallax_consensus_committed_round",
        "gauge",
        "Round of the last block consensus committed.",
        load(&s.committed_round),
    );
    single(
        &mut out,
        "parallax_blocks_committed_total",
        "counter",
        "Blocks this node committed since it started (by consensus or block sync).",
        load(&s.commits),
    );
    single(
        &mut out,
        "parallax_transactions_committed_total",
        "counter",
        "Transactions in the blocks this node committed since it started.",
        load(&s.committed_txs),
    );
    s.consensus_metrics.render(&mut out);
    let m = &s.metrics;
    header(
        &mut out,
        "parallax_commit_latency_seconds",
        "histogram",
        "Seconds from this node finishing a block's execution (building it as leader, \
         checking the proposal, or importing it by block sync) to committing it; one \
         observation per committed block.",
    );
    m.commit_latency
        .render(&mut out, "parallax_commit_latency_seconds");
    header(
        &mut out,
        "parallax_block_transactions",
        "histogram",
        "Transactions per committed block.",
    );
    m.block_transactions
        .render(&mut out, "parallax_block_transactions");
    header(
        &mut out,
        "parallax_block_execution_seconds",
        "histogram",
        "Wall time of executing a committed block's transactions with the parallel \
         executor, without the state root.",
    );
    m.execution_seconds
        .render(&mut out, "parallax_block_execution_seconds");
    header(
        &mut out,
        "parallax_block_state_root_seconds",
        "histogram",
        "Wall time of computing a committed block's state root.",
    );
    m.state_root_seconds
        .render(&mut out, "parallax_block_state_root_seconds");
    header(
        &mut out,
        "parallax_block_persist_seconds",
        "histogram",
        "Wall time of writing a committed block, its receipts and state to the database \
         (one durable MDBX commit).",
    );
    m.persist_seconds
        .render(&mut out, "parallax_block_persist_seconds");
    header(
        &mut out,
        "parallax_block_parallel_speedup",
        "histogram",
        "Per committed block run on a parallel schedule: time inside the EVM summed over \
         the executor's workers divided by the block's execution wall time. Aborted \
         executions count as EVM time, so this bounds the speedup over sequential \
         execution from above. Blocks on the sequential schedule are not observed.",
    );
    m.parallelism
        .render(&mut out, "parallax_block_parallel_speedup");
    header(
        &mut out,
        "parallax_blocks_executed_total",
        "counter",
        "Committed blocks by the executor schedule they ran on (fallback: the sequential \
         executor after the parallel one failed).",
    );
    for (label, n) in SCHEDULES.iter().zip(&m.schedules) {
        let _ = writeln!(
            out,
            "parallax_blocks_executed_total{{schedule=\"{label}\"}} {}",
            load(n)
        );
    }
    single(
        &mut out,
        "parallax_execution_aborts_total",
        "counter",
        "Transaction executions in committed blocks that validation aborted and the \
         parallel executor re-executed.",
        load(&m.aborts),
    );
    single(
        &mut out,
        "parallax_mempool_transactions",
        "gauge",
        "Transactions in the mempool.",
        load(&s.mempool_size),
    );
    header(
        &mut out,
        "parallax_peers",
        "gauge",
        "Connected libp2p peers (left out when the network did not answer within a second).",
    );
    if let Some(peers) = peers {
        let _ = writeln!(out, "parallax_peers {peers}");
    }
    single(
        &mut out,
        "parallax_syncing",
        "gauge",
        "1 while block sync is importing blocks to catch up, else 0.",
        u64::from(s.syncing.load(Ordering::Relaxed)),
    );
    header(
        &mut out,
        "parallax_rejected_messages_total",
        "counter",
        "Gossip and consensus messages this node rejected, by reason: consensus's verdicts \
         (stale_round, invalid_signature, ...), undecodable (not a valid wire message or \
         another chain), forged_relay (a relayed message whose signature does not verify), \
         relay_repeat (another copy of a message relayed less than 0.5 s before), \
         bad_sync_response (a block-sync answer that failed verification).",
    );
    let mut reasons = s.rejections();
    reasons.push(("undecodable", load(&s.malformed_gossip)));
    reasons.push(("forged_relay", load(&s.forged_relays)));
    reasons.push(("relay_repeat", load(&s.relay_repeats)));
    reasons.push(("bad_sync_response", load(&s.bad_sync_responses)));
    for (reason, n) in reasons {
        let _ = writeln!(
            out,
            "parallax_rejected_messages_total{{reason=\"{}\"}} {n}",
            escape(reason)
        );
    }
    single(
        &mut out,
        "parallax_invalid_proposals_total",
        "counter",
        "Proposals whose payload this node refused.",
        load(&s.invalid_proposals),
    );
    single(
        &mut out,
        "parallax_tx_gossip_dropped_total",
        "counter",
        "Transactions admitted from RPC but not gossiped because the gossip queue was full \
         (they stay in this node's pool and proposals).",
        load(&s.tx_gossip_dropped),
    );
    single(
        &mut out,
        "parallax_tx_batches_shed_total",
        "counter",
        "Gossiped transaction batches ignored because admission was too far behind.",
        load(&s.tx_batches_shed),
    );
    header(
        &mut out,
        "parallax_equivocations_total",
        "counter",
        "Equivocation evidence recorded (two conflicting messages one validator signed for \
         one round; verified, new to this node, stored), by kind.",
    );
    for (kind, n) in parallax_consensus::EvidenceKind::ALL
        .iter()
        .zip(&s.evidence)
    {
        let _ = writeln!(
            out,
            "parallax_equivocations_total{{kind=\"{}\"}} {}",
            kind.as_str(),
            load(n)
        );
    }
    single(
        &mut out,
        "parallax_evidence_unstored_total",
        "counter",
        "Verified evidence not stored (its culprit already had the most kept, or storage failed).",
        load(&s.evidence_unstored),
    );
    if let Some(net) = &src.net {
        let n = net.stats();
        header(
            &mut out,
            "parallax_gossip_messages_total",
            "counter",
            "Gossip messages by what happened to them: received (handed to the node), \
             rejected (invalid or oversized, sender penalised), ignored (dropped without \
             penalty), dropped (the node's event queue was full).",
        );
        for (label, v) in [
            ("received", n.gossip_received),
            ("rejected", n.gossip_rejected),
            ("ignored", n.gossip_ignored),
            ("dropped", n.events_dropped),
        ] {
            let _ = writeln!(
                out,
                "parallax_gossip_messages_total{{outcome=\"{label}\"}} {v}"
            );
        }
    }
    header(
        &mut out,
        "parallax_rpc_requests_total",
        "counter",
        "JSON-RPC calls answered, by method (unknown: methods the node does not serve); \
         methods never called are left out.",
    );
    for (method, n) in src.rpc.calls() {
        let _ = writeln!(
            out,
            "parallax_rpc_requests_total{{method=\"{}\"}} {n}",
            escape(method)
        );
    }
    single(
        &mut out,
        "parallax_rpc_errors_total",
        "counter",
        "JSON-RPC calls answered with an error.",
        load(&src.rpc.errors),
    );
    header(
        &mut out,
        "parallax_rpc_rejected_requests_total",
        "counter",
        "JSON-RPC requests refused before dispatch, by reason: malformed (not JSON or not \
         JSON-RPC), oversized (over a size or batch limit), connection_limit (connection \
         refused: too many in all or from one address), slow_subscriber (subscription ended for \
         not keeping up).",
    );
    for (reason, a) in [
        ("malformed", &src.rpc.malformed),
        ("oversized", &src.rpc.oversized),
        ("connection_limit", &src.rpc.refused_connections),
        ("slow_subscriber", &src.rpc.slow_subscribers),
    ] {
        let _ = writeln!(
            out,
            "parallax_rpc_rejected_requests_total{{reason=\"{reason}\"}} {}",
            load(a)
        );
    }
    single(
        &mut out,
        "parallax_rpc_requests_in_flight",
        "gauge",
        "HTTP JSON-RPC requests being handled now (at most max_requests_in_flight).",
        load(&src.rpc.in_flight),
    );
    single(
        &mut out,
        "parallax_rpc_requests_waited_total",
        "counter",
        "HTTP JSON-RPC requests that waited for a turn because max_requests_in_flight were \
         being handled (e.g. many HTTP/2 streams on one connection).",
        load(&src.rpc.waited),
    );
    single(
        &mut out,
        "parallax_bridge_attestations_shed_total",
        "counter",
        "Withdrawal attestations dropped because the relayer's queue was full.",
        load(&s.attestations_shed),
    );
    if let Some(b) = &src.bridge {
        if let Some(view) = &b.deposits {
            single(
                &mut out,
                "parallax_bridge_l1_head",
                "gauge",
                "The Ethereum head this node's deposit watcher last saw.",
                view.l1_head().unwrap_or(0),
            );
            single(
                &mut out,
                "parallax_bridge_deposits_confirmed",
                "gauge",
                "Ethereum deposits this node's view confirmed (at least K blocks deep).",
                view.confirmed(),
            );
            single(
                &mut out,
                "parallax_bridge_refused_proposals_total",
                "counter",
                "Proposals refused because a deposit was not in this node's view of Ethereum.",
                load(&view.refused),
            );
            single(
                &mut out,
                "parallax_bridge_l1_poll_errors_total",
                "counter",
                "Polls of the Ethereum RPC that failed.",
                load(&view.poll_errors),
            );
        }
        let w = &b.withdrawals;
        for (name, help, v) in [
            (
                "parallax_bridge_withdrawals_seen_total",
                "Withdrawals seen in committed blocks.",
                &w.seen,
            ),
            (
                "parallax_bridge_withdrawals_signed_total",
                "Withdrawals whose root a quorum signed.",
                &w.signed,
            ),
            (
                "parallax_bridge_roots_submitted_total",
                "Withdrawal roots this node submitted to Ethereum.",
                &w.roots_submitted,
            ),
            (
                "parallax_bridge_withdrawals_finalized_total",
                "Withdrawals found settled on Ethereum (paid, unpaid or cancelled).",
                &w.finalized,
            ),
            (
                "parallax_bridge_withdrawals_unpaid_total",
                "Withdrawals found proven but unpaid on Ethereum (the payout failed; claimable by retrying).",
                &w.unpaid,
            ),
            (
                "parallax_bridge_conflicting_attestations_total",
                "Attestations of a root other than this node's.",
                &w.conflicting_attestations,
            ),
            (
                "parallax_bridge_l1_errors_total",
                "Ethereum calls of the relayer that failed.",
                &w.l1_errors,
            ),
        ] {
            single(&mut out, name, "counter", help, load(v));
        }
    }
    out
}

/// A running metrics server.
pub(crate) struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` and serves `GET /metrics`.
    pub(crate) async fn start(addr: SocketAddr, sources: Sources) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = oneshot::channel::<()>();
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            warn!(error = %e, "accepting a metrics connection failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    debug!(%peer, "metrics connection refused: too many connections");
                    continue;
                };
                let sources = sources.clone();
                tokio::spawn(async move {
                    serve_connection(stream, &sources).await;
                    drop(permit);
                });
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

    /// Stops accepting connections (a scrape in progress finishes on its own).
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics,
    NotFound,
    MethodNotAllowed,
    Bad,
}

/// Parses the request line of an HTTP/1.x request head.
fn parse_request(head: &[u8]) -> Request {
    let Some(line) = head.split(|b| *b == b'\n').next() else {
        return Request::Bad;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Request::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Request::Bad;
    }
    if method != "GET" && method != "HEAD" {
        return Request::MethodNotAllowed;
    }
    let path = target.split('?').next().unwrap_or(target);
    if path == "/metrics" {
        Request::Metrics
    } else {
        Request::NotFound
    }
}

async fn serve_connection(mut stream: TcpStream, sources: &Sources) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        loop {
            if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
                return true;
            }
            if head.len() >= MAX_REQUEST_BYTES {
                return false;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n.min(MAX_REQUEST_BYTES - head.len())]),
            }
        }
    })
    .await;
    let request = match read {
        Ok(true) => parse_request(&head),
        Ok(false) | Err(_) => Request::Bad,
    };
    let head_only = head.starts_with(b"HEAD ");
    let (status, content_type, body) = match request {
        Request::Metrics => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(sources).await,
        ),
        Request::NotFound => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics\n".into(),
        ),
        Request::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET /metrics\n".into(),
        ),
        Request::Bad => ("400 Bad Request", "text/plain", "bad request\n".into()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(&body);
    }
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_matches() {
        let h = Histogram::new(&[1.0, 2.0, 5.0]);
        for v in [0.5, 1.0, 1.5, 3.0, 7.0, f64::NAN, -1.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "x_bucket{le=\"1\"} 4",
                "x_bucket{le=\"2\"} 5",
                "x_bucket{le=\"5\"} 6",
                "x_bucket{le=\"+Inf\"} 7",
                "x_sum 13",
                "x_count 7",
            ]
        );
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn only_get_metrics_is_served() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(
            parse_request(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::MethodNotAllowed
        );
        assert_eq!(parse_request(b"\x00\xff\x13junk"), Request::Bad);
        assert_eq!(parse_request(b"GET /metrics SSH-2.0\r\n\r\n"), Request::Bad);
    }
}
