//! `status` and `logs`: how each node is doing, and what it wrote.

use super::{RPC_TIMEOUT, existing, is_running};
use crate::{TestnetError, l1, manifest::NodeEntry, process, rpc};
use serde_json::{Value, json};
use std::{
    fs::File,
    io::Write,
    path::Path,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// What `status` found out about one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its recorded process runs.
    pub running: bool,
    /// Committed head.
    pub height: Option<u64>,
    /// Consensus round.
    pub round: Option<u64>,
    /// Connected peers.
    pub peers: Option<u64>,
    /// Time since its last commit (or since the head block's timestamp).
    pub last_commit_age: Option<Duration>,
    /// Ready transactions in its mempool.
    pub pending: Option<u64>,
    /// Queued transactions in its mempool.
    pub queued: Option<u64>,
}

/// Asks one node how it is doing.
pub fn node_status(node: &NodeEntry) -> NodeStatus {
    let mut s = NodeStatus {
        running: is_running(node),
        ..Default::default()
    };
    let Some(addr) = node.rpc_addr().filter(|_| s.running) else {
        return s;
    };
    let call = |method: &str, params: Value| rpc::call(addr, method, params, RPC_TIMEOUT).ok();
    s.height = call("eth_blockNumber", json!([]))
        .as_ref()
        .and_then(rpc::quantity);
    s.peers = call("net_peerCount", json!([]))
        .as_ref()
        .and_then(rpc::quantity);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut last_commit_ms = None;
    if let Some(c) = call("parallax_consensusStatus", json!([])) {
        s.round = rpc::quantity(&c["round"]);
        last_commit_ms = c["lastCommitMs"].as_u64();
    }
    if last_commit_ms.is_none() {
        // Nothing committed since it started: the head block's own time.
        last_commit_ms = call("eth_getBlockByNumber", json!(["latest", false]))
            .as_ref()
            .and_then(|b| rpc::quantity(&b["timestamp"]))
            .map(|t| t * 1000);
    }
    s.last_commit_age = last_commit_ms.map(|t| Duration::from_millis(now_ms.saturating_sub(t)));
    if let Some(pool) = call("txpool_status", json!([])) {
        s.pending = rpc::quantity(&pool["pending"]);
        s.queued = rpc::quantity(&pool["queued"]);
    }
    s
}

fn age(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s ago")
    } else if secs < 3600.0 {
        format!("{}m{}s ago", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h{}m ago", d.as_secs() / 3600, d.as_secs() % 3600 / 60)
    }
}

/// `status`: one row per node.
pub fn status(dir: &Path, out: &mut impl Write) -> Result<Vec<NodeStatus>, TestnetError> {
    let (dir, m) = existing(dir)?;
    let statuses: Vec<NodeStatus> = std::thread::scope(|scope| {
        let handles: Vec<_> = m
            .nodes
            .iter()
            .map(|n| scope.spawn(move || node_status(n)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let dash = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let mut s = format!(
        "Testnet in {} (chain id {}):\n{:<7} {:<10} {:<8} {:<8} {:>7} {:>7} {:>6}  {:<12} {:>8}  {}\n",
        dir.display(),
        m.chain_id,
        "NODE",
        "ROLE",
        "PID",
        "STATE",
        "HEIGHT",
        "ROUND",
        "PEERS",
        "LAST COMMIT",
        "MEMPOOL",
        "RPC"
    );
    for (n, st) in m.nodes.iter().zip(&statuses) {
        let state = match (st.running, st.height) {
            (false, _) => "stopped",
            (true, None) => "starting",
            (true, Some(_)) => "running",
        };
        let mempool = match (st.pending, st.queued) {
            (Some(p), Some(q)) => format!("{p}/{q}"),
            _ => "-".into(),
        };
        s += &format!(
            "{:<7} {:<10} {:<8} {:<8} {:>7} {:>7} {:>6}  {:<12} {:>8}  {}\n",
            n.name,
            if n.validator {
                "validator"
            } else {
                "full node"
            },
            if st.running {
                dash(n.pid.map(u64::from))
            } else {
                "-".into()
            },
            state,
            dash(st.height),
            dash(st.round),
            dash(st.peers),
            st.last_commit_age.map_or("-".into(), age),
            mempool,
            n.rpc_http
        );
    }
    s += "(MEMPOOL: pending/queued transactions)\n";
    if let Some(l1) = &m.l1 {
        let running = l1.pid.is_some_and(|pid| l1::is_l1_process(pid, l1.port));
        let head = running
            .then(|| {
                let addr: std::net::SocketAddr =
                    l1.rpc.trim_start_matches("http://").parse().ok()?;
                rpc::call(addr, "eth_blockNumber", json!([]), RPC_TIMEOUT)
                    .ok()
                    .as_ref()
                    .and_then(rpc::quantity)
            })
            .flatten();
        s += &format!(
            "Ethereum (anvil, chain id {}): {}, head {}, {}\n",
            l1.chain_id,
            if running { "running" } else { "stopped" },
            dash(head),
            l1.rpc
        );
        // The bridge as the first running validator sees it.
        let bridge = m
            .nodes
            .iter()
            .zip(&statuses)
            .find(|(_, st)| st.height.is_some())
            .and_then(|(n, _)| {
                rpc::call(
                    n.rpc_addr()?,
                    "parallax_bridgeStatus",
                    json!([]),
                    RPC_TIMEOUT,
                )
                .ok()
            });
        if let Some(b) = bridge {
            let n = |v: &Value| dash(rpc::quantity(v));
            s += &format!(
                "Bridge: deposits seen {} / minted {}; withdrawals initiated {} / signed {} / finalized {}\n",
                n(&b["deposits"]["seen"]),
                n(&b["deposits"]["minted"]),
                n(&b["withdrawals"]["initiated"]),
                n(&b["withdrawals"]["signed"]),
                n(&b["withdrawals"]["finalized"]),
            );
        }
    }
    let _ = out.write_all(s.as_bytes());
    Ok(statuses)
}

/// `logs NODE`: the last `lines` lines of its log; with `follow`, then everything appended
/// until interrupted.
pub fn logs(
    dir: &Path,
    name: &str,
    lines: usize,
    follow: bool,
    out: &mut impl Write,
) -> Result<(), TestnetError> {
    use std::io::{Read, Seek, SeekFrom};
    let (_, m) = existing(dir)?;
    let node = &m.nodes[m.node(name)?];
    let tail = process::log_tail(&node.log, lines);
    if !tail.is_empty() {
        let _ = writeln!(out, "{tail}");
    }
    if !follow {
        return Ok(());
    }
    let mut file = File::open(&node.log).map_err(|e| TestnetError::io(&node.log, e))?;
    let mut pos = file
        .seek(SeekFrom::End(0))
        .map_err(|e| TestnetError::io(&node.log, e))?;
    let mut buf = Vec::new();
    loop {
        let len = std::fs::metadata(&node.log).map_or(pos, |md| md.len());
        if len < pos {
            pos = 0; // truncated
        }
        if len > pos {
            file.seek(SeekFrom::Start(pos))
                .map_err(|e| TestnetError::io(&node.log, e))?;
            buf.clear();
            let read = (&mut file)
                .take(len - pos)
                .read_to_end(&mut buf)
                .map_err(|e| TestnetError::io(&node.log, e))?;
            pos += read as u64;
            if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                return Ok(()); // the reader went away (e.g. `| head`)
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
