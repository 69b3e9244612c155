//! Helpers shared by the tests that run the `parallax` binary as processes
//! (`processes.rs`, `wallets.rs`): a drop guard that kills children, raw JSON-RPC over HTTP,
//! bounded waits, free ports, and starting `parallax run` / `parallax dev`.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_parallax");

/// Kills its processes when dropped, whatever the test did.
pub(crate) struct Procs(pub(crate) Vec<Option<Child>>);

impl Drop for Procs {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn rpc(addr: SocketAddr, method: &str, params: Value) -> Option<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let json = response.split("\r\n\r\n").nth(1)?;
    serde_json::from_str(json).ok()
}

pub(crate) fn block_number(addr: SocketAddr) -> Option<u64> {
    let v = rpc(addr, "eth_blockNumber", json!([]))?;
    u64::from_str_radix(v["result"].as_str()?.trim_start_matches("0x"), 16).ok()
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A base port with `n` nodes' ports (10 each) free.
pub(crate) fn free_base(n: u16) -> u16 {
    'search: for attempt in 0..200u16 {
        let base = 20_000 + (std::process::id() as u16 % 200) * 100 + attempt * 97 % 20_000;
        let base = base.clamp(20_000, 60_000);
        let mut held = Vec::new();
        for i in 0..n * 10 {
            match TcpListener::bind(("127.0.0.1", base + i)) {
                Ok(l) => held.push(l),
                Err(_) => continue 'search,
            }
        }
        return base;
    }
    panic!("no free port range");
}

pub(crate) fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `parallax run --config CONFIG`, logging to `log`.
pub(crate) fn start(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `parallax dev --datadir DATADIR --rpc-addr ADDR`, logging to `log`.
pub(crate) fn dev(datadir: &Path, addr: SocketAddr, log: &Path) -> Child {
    Command::new(BIN)
        .arg("dev")
        .arg("--datadir")
        .arg(datadir)
        .arg("--rpc-addr")
        .arg(addr.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Prints the last lines of each log (after a failure).
pub(crate) fn print_log_tails(logs: &[(String, &Path)], lines: usize) {
    for (name, path) in logs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        eprintln!("--- {name} log tail ---");
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
    }
}
