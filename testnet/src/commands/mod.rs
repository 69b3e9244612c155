//! The commands behind `testnet/run.sh`: `up`, `status`, `logs`, `stop`, `start`, `down`.
//!
//! Every command that changes the testnet holds an exclusive lock on `DIR/.lock` while it
//! works, so two of them never race on the same directory.
//!
//! `up` (create or resume), `status` (and `logs`), `lifecycle` (`stop`, `start`, `down`);
//! this file holds what they share: the runtime, the directory lock, node liveness.

mod lifecycle;
mod status;
mod up;

pub use lifecycle::{down, start, stop};
pub use status::{NodeStatus, logs, node_status, status};
pub use up::{UpOptions, summary, up, wait_for_commits};

use crate::{Manifest, TestnetError, l1, manifest::NodeEntry, process, rpc};
use serde_json::json;
use std::{
    fs::File,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    time::Duration,
};

/// How long one status call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// Log lines shown when a node fails.
const TAIL_LINES: usize = 25;

/// Where the nodes come from and how long to wait for them.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// The testnet directory.
    pub dir: PathBuf,
    /// The `parallax` binary the nodes run.
    pub bin: PathBuf,
    /// How long `up` and `start` wait for blocks.
    pub timeout: Duration,
    /// How long `stop` and `down` wait after SIGTERM before SIGKILL.
    pub grace: Duration,
    /// The repository (its `node_modules/` holds anvil for the testnet's Ethereum).
    pub repo: PathBuf,
}

/// An exclusive `flock` on `DIR/.lock`, released when dropped.
struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    fn take(dir: &Path) -> Result<Self, TestnetError> {
        let path = dir.join(".lock");
        let file = File::create(&path).map_err(|e| TestnetError::io(&path, e))?;
        // SAFETY: flock(2) on a descriptor this File owns; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            return Err(TestnetError::Busy {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self(file))
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, TestnetError> {
    std::fs::create_dir_all(dir).map_err(|e| TestnetError::io(dir, e))?;
    dir.canonicalize().map_err(|e| TestnetError::io(dir, e))
}

fn existing(dir: &Path) -> Result<(PathBuf, Manifest), TestnetError> {
    let no_testnet = || TestnetError::NoTestnet {
        dir: dir.to_path_buf(),
    };
    let abs = dir.canonicalize().map_err(|_| no_testnet())?;
    let manifest = Manifest::load(&abs)?.ok_or_else(no_testnet)?;
    Ok((abs, manifest))
}

/// Whether the node's recorded pid is its running `parallax run`.
pub fn is_running(node: &NodeEntry) -> bool {
    node.pid
        .is_some_and(|pid| process::is_node_process(pid, &node.config))
}

/// Stops the nodes in `which` and, when that is every node, the testnet's Ethereum.
fn stop_quietly(dir: &Path, manifest: &mut Manifest, which: &[usize], grace: Duration) {
    if which.len() == manifest.nodes.len()
        && let Some(entry) = manifest.l1.as_mut()
        && let Some(pid) = entry.pid.take()
    {
        l1::stop(pid, entry.port, grace);
    }
    stop_nodes_quietly(dir, manifest, which, grace);
}

fn stop_nodes_quietly(dir: &Path, manifest: &mut Manifest, which: &[usize], grace: Duration) {
    let targets: Vec<(u32, &Path)> = which
        .iter()
        .filter_map(|&i| {
            let n = &manifest.nodes[i];
            n.pid.map(|pid| (pid, n.config.as_path()))
        })
        .collect();
    process::stop_all(&targets, grace);
    for &i in which {
        manifest.nodes[i].pid = None;
    }
    let _ = manifest.save(dir);
}

fn height(node: &NodeEntry) -> Option<u64> {
    let addr = node.rpc_addr()?;
    rpc::call(addr, "eth_blockNumber", json!([]), RPC_TIMEOUT)
        .ok()
        .as_ref()
        .and_then(rpc::quantity)
}

fn died(node: &NodeEntry) -> TestnetError {
    TestnetError::NodeDied {
        name: node.name.clone(),
        log: node.log.clone(),
        tail: process::log_tail(&node.log, TAIL_LINES),
    }
}
