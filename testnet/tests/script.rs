//! `testnet/run.sh` end to end, as a developer uses it: `up` starts four validators and a
//! full node from scratch and prints what to connect to; the nodes commit blocks and the
//! full node follows; a second `up` refuses; `status` shows every node; `stop` and `start`
//! take one validator out and back; `down` stops everything; `up` resumes the same chain.
//!
//! The nodes are the debug `parallax` binary (built here when `PARALLAX_BIN` is unset); the
//! whole run is bounded, and a guard kills every process recorded in `testnet.json` however
//! the test ends.

use parallax_testnet::{Manifest, process::is_node_process};
use serde_json::{Value, json};
use std::{
    io::Read,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(420);
/// What `up` and `start` may wait for blocks (debug nodes on a busy machine are slow).
const NODE_TIMEOUT: &str = "150";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The debug `parallax` binary: `PARALLAX_BIN`, else built by cargo into this test's own
/// target directory (a no-op when `cargo test --workspace` already built it).
fn parallax_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PARALLAX_BIN") {
        return PathBuf::from(bin);
    }
    // target/debug/deps/script-… → target/
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // What cargo set for this test process (package variables, the library path) would make
    // build scripts that watch the environment run again, and rebuild half the tree.
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("CARGO_PKG_")
            || key_str.starts_with("CARGO_MANIFEST_")
            || key_str.starts_with("CARGO_BIN_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
                "LD_LIBRARY_PATH",
            ]
            .contains(&key_str.as_ref())
        {
            build.env_remove(&key);
        }
    }
    let status = build
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "--locked",
            "-p",
            "parallax-node",
            "--bin",
            "parallax",
        ])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the parallax binary failed");
    let bin = profile_dir.join("parallax");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

/// Kills every node `testnet.json` records, whatever happened.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(Some(m)) = Manifest::load(&self.0) else {
            return;
        };
        for n in &m.nodes {
            if let Some(pid) = n.pid
                && is_node_process(pid, &n.config)
            {
                // SAFETY: kill(2) on a pid just checked to be this test's node.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
        if std::thread::panicking() {
            for n in &m.nodes {
                let tail = parallax_testnet::process::log_tail(&n.log, 15);
                eprintln!("--- {} log tail ---\n{tail}", n.name);
            }
        }
    }
}

struct Script {
    dir: PathBuf,
    bin: PathBuf,
    deadline: Instant,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Script {
    /// `run.sh ARGS --dir DIR`, killed if it outlives the test's budget.
    fn run(&self, args: &[&str]) -> Output {
        let mut child = Command::new(repo().join("testnet/run.sh"))
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .args(["--timeout", NODE_TIMEOUT, "--grace", "15"])
            .env("PARALLAX_BIN", &self.bin)
            .env(
                "PARALLAX_TESTNET_BIN",
                env!("CARGO_BIN_EXE_parallax-testnet"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("run.sh {args:?} was still running at the end of the test's budget");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let output = Output {
            ok: status.success(),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        };
        eprintln!(
            "$ run.sh {} → {status}\n{}{}",
            args.join(" "),
            output.stdout,
            output.stderr
        );
        output
    }

    fn manifest(&self) -> Manifest {
        Manifest::load(&self.dir).unwrap().expect("testnet.json")
    }

    fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        while !f() {
            assert!(
                Instant::now() < self.deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn rpc(addr: SocketAddr, method: &str, params: Value) -> Option<Value> {
    parallax_testnet::rpc::call(addr, method, params, Duration::from_secs(3)).ok()
}

fn height(addr: SocketAddr) -> Option<u64> {
    parallax_testnet::rpc::quantity(&rpc(addr, "eth_blockNumber", json!([]))?)
}

fn block_hash(addr: SocketAddr, n: u64) -> Option<String> {
    let b = rpc(
        addr,
        "eth_getBlockByNumber",
        json!([format!("{n:#x}"), false]),
    )?;
    Some(b["hash"].as_str()?.to_owned())
}

/// Gone: no process, or one that has exited and awaits reaping.
fn pid_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
fn run_sh_starts_reports_stops_restarts_and_resumes_a_testnet() {
    let bin = parallax_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let _cleanup = Cleanup(dir.clone());
    let script = Script {
        dir: dir.clone(),
        bin,
        deadline: Instant::now() + BUDGET,
    };
    let started = Instant::now();
    // Away from the default 26000 and from other tests; `up` moves on from taken ports.
    let base = (30_000 + (std::process::id() % 50) * 200).to_string();

    // No arguments: usage.
    let usage = Command::new(repo().join("testnet/run.sh"))
        .output()
        .unwrap();
    assert!(usage.status.success());
    assert!(String::from_utf8_lossy(&usage.stdout).contains("Usage: testnet/run.sh COMMAND"));

    // up: generated, started, committing, summarised.
    let up = script.run(&["up", "--validators", "4", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    assert_eq!(m.nodes.len(), 5, "four validators and a full node");
    assert_eq!(m.validators(), 4);
    let full = m.nodes.iter().position(|n| !n.validator).unwrap();
    assert_eq!(m.nodes[full].name, "full0");
    assert_eq!(m.accounts.len(), 20);
    assert_eq!(
        m.accounts[0].address,
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    );
    let (first, key) = (&m.accounts[0].address, &m.accounts[0].private_key);
    for expected in [
        format!("Chain id:  {} (hex {:#x})", m.chain_id, m.chain_id),
        format!("{first}  private key {key}"),
        "PUBLIC test keys".into(),
        "MetaMask".into(),
        format!("New RPC URL:      {}", m.nodes[0].rpc_http),
        format!("Chain ID:         {}", m.chain_id),
        "Currency symbol:  ETH".into(),
    ] {
        assert!(up.stdout.contains(&expected), "summary lacks {expected:?}");
    }
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    for n in &m.nodes {
        assert!(up.stdout.contains(&n.rpc_http) && up.stdout.contains(&n.rpc_ws));
        assert_eq!(n.rpc_ws, n.rpc_http.replace("http://", "ws://"));
        assert!(
            is_node_process(n.pid.unwrap(), &n.config),
            "{} runs",
            n.name
        );
        assert!(n.log.is_file() && n.datadir.is_dir(), "{} files", n.name);
        assert!(n.p2p.starts_with("/ip4/127.0.0.1/tcp/") && n.p2p.contains("/p2p/"));
    }
    // Every node answers with the chain id and its height rises; the full node too.
    for &a in &addrs {
        let id = rpc(a, "eth_chainId", json!([])).unwrap();
        assert_eq!(id, json!(format!("{:#x}", m.chain_id)));
    }
    let at_up: Vec<u64> = addrs.iter().map(|a| height(*a).unwrap()).collect();
    script.wait_for("heights to rise on every node", || {
        addrs
            .iter()
            .zip(&at_up)
            .all(|(a, h0)| height(*a).is_some_and(|h| h >= h0 + 2))
    });
    let common = addrs.iter().map(|a| height(*a).unwrap()).min().unwrap();
    let hashes: Vec<Option<String>> = addrs.iter().map(|a| block_hash(*a, common)).collect();
    assert!(hashes[0].is_some() && hashes.iter().all(|h| *h == hashes[0]));
    let genesis = block_hash(addrs[0], 0).unwrap();
    assert_eq!(genesis, m.genesis_hash);

    // A second up refuses while it runs.
    let again = script.run(&["up"]);
    assert!(!again.ok, "a second up must fail");
    assert!(
        again.stderr.contains("a testnet is already running"),
        "{}",
        again.stderr
    );
    assert_eq!(script.manifest().nodes, m.nodes, "nothing was restarted");

    // status: a row per node, each running with a height.
    let status = script.run(&["status"]);
    assert!(status.ok);
    for n in &m.nodes {
        let row = status
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", n.name)))
            .unwrap_or_else(|| panic!("no row for {}", n.name));
        let cols: Vec<&str> = row.split_whitespace().collect();
        // NODE ROLE… PID STATE HEIGHT: the role is one word or "full node".
        let rest = if n.validator { &cols[2..] } else { &cols[3..] };
        assert_eq!(rest[0], n.pid.unwrap().to_string(), "{row}");
        assert_eq!(rest[1], "running", "{row}");
        assert!(rest[2].parse::<u64>().unwrap() >= common, "{row}");
        assert!(row.contains(&n.rpc_http), "{row}");
    }

    // stop node1: its process is gone, the others keep committing.
    let node1 = m.node("node1").unwrap();
    let pid1 = m.nodes[node1].pid.unwrap();
    let stop = script.run(&["stop", "node1"]);
    assert!(stop.ok && stop.stdout.contains("node1 stopped"));
    assert!(pid_gone(pid1), "node1's pid {pid1} is gone");
    assert_eq!(script.manifest().nodes[node1].pid, None);
    let at_stop = height(addrs[0]).unwrap();
    script.wait_for("blocks without node1", || {
        [0, 2, 3, full]
            .iter()
            .all(|&i| height(addrs[i]).is_some_and(|h| h >= at_stop + 3))
    });
    let status = script.run(&["status"]);
    let row = status
        .stdout
        .lines()
        .find(|l| l.starts_with("node1 "))
        .unwrap();
    assert!(row.contains("stopped"), "{row}");

    // start node1: it catches up and follows.
    let target = height(addrs[0]).unwrap();
    let start = script.run(&["start", "node1"]);
    assert!(start.ok, "start failed: {}", start.stderr);
    assert!(is_node_process(
        script.manifest().nodes[node1].pid.unwrap(),
        &m.nodes[node1].config
    ));
    assert!(height(addrs[node1]).unwrap() >= target);
    script.wait_for("node1 to follow the chain", || {
        height(addrs[node1]).is_some_and(|h| h >= target + 2)
    });

    // down: every recorded pid is gone.
    let before_down = script.manifest();
    let height_before_down = addrs.iter().filter_map(|a| height(*a)).min().unwrap();
    let down = script.run(&["down"]);
    assert!(down.ok);
    for n in &before_down.nodes {
        let pid = n.pid.unwrap();
        assert!(pid_gone(pid), "{} (pid {pid}) is gone", n.name);
    }
    assert!(script.manifest().nodes.iter().all(|n| n.pid.is_none()));
    assert!(addrs.iter().all(|a| height(*a).is_none()), "no RPC answers");

    // up again resumes the same chain: same genesis, height not reset.
    let resumed = script.run(&["up"]);
    assert!(resumed.ok, "resume failed: {}", resumed.stderr);
    assert!(resumed.stdout.contains("Resuming the testnet"));
    let m2 = script.manifest();
    assert_eq!(m2.genesis_hash, m.genesis_hash);
    assert_eq!(m2.nodes.len(), 5);
    for &a in &addrs {
        assert_eq!(block_hash(a, 0).as_deref(), Some(genesis.as_str()));
        assert!(height(a).unwrap() >= height_before_down);
    }
    script.wait_for("new blocks after resuming", || {
        addrs
            .iter()
            .all(|a| height(*a).is_some_and(|h| h > height_before_down))
    });

    let down = script.run(&["down"]);
    assert!(down.ok);
    for n in &m2.nodes {
        assert!(pid_gone(n.pid.unwrap()), "{} is gone", n.name);
    }
    eprintln!("the script's run took {:?}", started.elapsed());
}
