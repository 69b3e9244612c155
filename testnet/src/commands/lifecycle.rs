//! `stop`, `start` and `down`: one node's process, or all of them.

use super::{DirLock, Runtime, died, existing, height, is_running};
use crate::{
    TestnetError, l1, ports,
    process::{self, Stopped},
};
use std::{
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

/// `stop NODE`: SIGTERM, then SIGKILL after the grace period.
pub fn stop(rt: &Runtime, name: &str, out: &mut impl Write) -> Result<Stopped, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let i = m.node(name)?;
    let node = &m.nodes[i];
    let outcome = match node.pid {
        Some(pid) => process::stop_all(&[(pid, &node.config)], rt.grace)[0],
        None => Stopped::NotRunning,
    };
    let _ = match outcome {
        Stopped::Terminated => writeln!(out, "{name} stopped."),
        Stopped::Killed => writeln!(
            out,
            "{name} did not exit within {}s of SIGTERM and was killed.",
            rt.grace.as_secs()
        ),
        Stopped::NotRunning => writeln!(out, "{name} was not running."),
    };
    m.nodes[i].pid = None;
    m.save(&dir)?;
    Ok(outcome)
}

/// `start NODE`: starts a stopped node and waits until it has caught up with the others.
pub fn start(rt: &Runtime, name: &str, out: &mut impl Write) -> Result<u64, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let i = m.node(name)?;
    if is_running(&m.nodes[i]) {
        return Err(TestnetError::NodeRunning {
            name: name.to_owned(),
            pid: m.nodes[i].pid.unwrap_or_default(),
        });
    }
    for (port, what) in m.nodes[i].ports() {
        if !ports::is_free(port) {
            return Err(TestnetError::PortInUse {
                port,
                what: format!("{name} {what}"),
            });
        }
    }
    // Where the rest of the network is: the height to catch up to.
    let target = m
        .nodes
        .iter()
        .enumerate()
        .filter(|(j, n)| *j != i && is_running(n))
        .filter_map(|(_, n)| height(n))
        .max();
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| TestnetError::io(dir.join("logs"), e))?;
    let pid = {
        let n = &m.nodes[i];
        process::spawn_node(&rt.bin, &n.config, &n.log, &n.name)?
    };
    m.nodes[i].pid = Some(pid);
    m.save(&dir)?;
    let _ = writeln!(
        out,
        "{name} started (pid {pid}); waiting for it to catch up…"
    );
    let node = &m.nodes[i];
    let started = Instant::now();
    loop {
        if !is_running(node) {
            m.nodes[i].pid = None;
            m.save(&dir)?;
            return Err(died(&m.nodes[i]));
        }
        let h = height(node);
        if let Some(h) = h
            && target.is_none_or(|t| h >= t)
        {
            let _ = match target {
                Some(_) => writeln!(out, "{name} is at height {h}, level with the network."),
                None => writeln!(out, "{name} answers at height {h} (no other node runs)."),
            };
            return Ok(h);
        }
        if started.elapsed() >= rt.timeout {
            // It runs; it is just slow. Leave it running and say so.
            return Err(TestnetError::Timeout {
                what: format!("{name} to reach height {}", target.unwrap_or(0)),
                secs: rt.timeout.as_secs(),
                detail: format!(
                    "it is at {}; it keeps running (see `status`). The end of {}:\n{}",
                    h.map_or("no answer".into(), |h| format!("height {h}")),
                    node.log.display(),
                    process::log_tail(&node.log, 8)
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `down`: stops every node this tool started (by recorded pid; a pid that no longer is
/// that node's process is left alone).
pub fn down(rt: &Runtime, out: &mut impl Write) -> Result<Vec<Stopped>, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let targets: Vec<(u32, &Path)> = m
        .nodes
        .iter()
        .map(|n| (n.pid.unwrap_or(0), n.config.as_path()))
        .collect();
    let outcome = process::stop_all(&targets, rt.grace);
    for (n, o) in m.nodes.iter().zip(&outcome) {
        let _ = match o {
            Stopped::Terminated => writeln!(out, "{} stopped.", n.name),
            Stopped::Killed => writeln!(out, "{} killed after {}s.", n.name, rt.grace.as_secs()),
            Stopped::NotRunning => writeln!(out, "{} was not running.", n.name),
        };
    }
    for n in &mut m.nodes {
        n.pid = None;
    }
    if let Some(l1) = m.l1.as_mut() {
        let was = l1.pid.is_some_and(|pid| l1::stop(pid, l1.port, rt.grace));
        let _ = writeln!(
            out,
            "The Ethereum node {}.",
            if was { "stopped" } else { "was not running" }
        );
        l1.pid = None;
    }
    m.save(&dir)?;
    let _ = writeln!(
        out,
        "The testnet in {} is down; `up` resumes the same chain.",
        dir.display()
    );
    Ok(outcome)
}
