//! Helpers shared by the end-to-end tests that drive `testnet/run.sh`: the `parallax`
//! binary, a guard that kills every node `testnet.json` records however a test ends, the
//! script run with a deadline, and small JSON-RPC reads.
#![allow(dead_code)]

use parallax_testnet::{Manifest, process::is_node_process};
use serde_json::{Value, json};
use std::{
    io::Read,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The `--base-port` for the test in `slot` (0–7, one per test module): below Linux's ephemeral
/// range (32768–60999), so no outgoing connection on the machine (a node dialling its peers,
/// a client of the L1) can take a port a node is about to listen on, and spread by process id
/// so two runs at once rarely meet.
pub(crate) fn base_port(slot: u16) -> String {
    assert!(slot < 8, "slot {slot} is past the last test range");
    (12_000 + slot * 2_500 + (std::process::id() % 12) as u16 * 200).to_string()
}

/// Held by each test for its whole run: one testnet at a time. Each starts several node
/// processes, an L1 and a load or a script; two at once on a small machine would measure the
/// machine, not the protocol (the tests' deadlines assume the machine is theirs). A test that
/// failed while holding it leaves it usable by the next.
pub(crate) fn one_testnet_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `up` and `start` may wait for blocks (debug nodes on a busy machine are slow).
pub(crate) const NODE_TIMEOUT: &str = "150";

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The debug `parallax` binary: `PARALLAX_BIN`, else built by cargo into this test's own
/// target directory (a no-op when `cargo test --workspace` already built it).
pub(crate) fn parallax_bin() -> PathBuf {
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
pub(crate) struct Cleanup(pub(crate) PathBuf);

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
        if let Some(l1) = &m.l1
            && let Some(pid) = l1.pid
        {
            parallax_testnet::l1::stop(pid, l1.port, Duration::from_secs(5));
        }
        if std::thread::panicking() {
            for n in &m.nodes {
                let tail = parallax_testnet::process::log_tail(&n.log, 15);
                eprintln!("--- {} log tail ---\n{tail}", n.name);
            }
        }
    }
}

pub(crate) struct Script {
    pub(crate) dir: PathBuf,
    pub(crate) bin: PathBuf,
    pub(crate) deadline: Instant,
}

pub(crate) struct Output {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Script {
    /// A testnet in `tmp/net`, run with the debug `parallax` (see [`parallax_bin`]) within
    /// `budget` from now, and the guard that kills its nodes however the test ends (drop it
    /// before `tmp`).
    pub(crate) fn in_tempdir(tmp: &Path, budget: Duration) -> (Self, Cleanup) {
        let dir = tmp.join("net");
        let script = Self {
            dir: dir.clone(),
            bin: parallax_bin(),
            deadline: Instant::now() + budget,
        };
        (script, Cleanup(dir))
    }

    /// `run.sh ARGS --dir DIR`, killed if it outlives the test's budget.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
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

    pub(crate) fn manifest(&self) -> Manifest {
        Manifest::load(&self.dir).unwrap().expect("testnet.json")
    }

    pub(crate) fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        while !f() {
            assert!(
                Instant::now() < self.deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

pub(crate) fn rpc(addr: SocketAddr, method: &str, params: Value) -> Option<Value> {
    parallax_testnet::rpc::call(addr, method, params, Duration::from_secs(3)).ok()
}

pub(crate) fn height(addr: SocketAddr) -> Option<u64> {
    parallax_testnet::rpc::quantity(&rpc(addr, "eth_blockNumber", json!([]))?)
}

pub(crate) fn block_hash(addr: SocketAddr, n: u64) -> Option<String> {
    let b = rpc(
        addr,
        "eth_getBlockByNumber",
        json!([format!("{n:#x}"), false]),
    )?;
    Some(b["hash"].as_str()?.to_owned())
}

/// Gone: no process, or one that has exited and awaits reaping.
pub(crate) fn pid_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Starts `node testnet/e2e/NAME DIR ARGS` (it prints one JSON line at the end).
pub(crate) fn spawn_script(script: &Script, name: &str, args: &[&str]) -> Child {
    Command::new("node")
        .arg(repo().join("testnet/e2e").join(name))
        .arg(&script.dir)
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (Node.js 20 must be installed, and `npm ci` run at the repository root)")
}

/// Waits for a script started by [`spawn_script`]; fails the test if it fails or outlives the
/// budget. Returns its JSON line.
pub(crate) fn finish_script(script: &Script, name: &str, mut child: Child) -> Value {
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > script.deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} was still running at the end of the test's budget");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("$ node {name} → {}\n{stdout}{stderr}", out.status);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{name} printed no JSON line ({e}):\n{stdout}"))
}

pub(crate) fn node_script(script: &Script, name: &str, args: &[&str]) -> Value {
    let child = spawn_script(script, name, args);
    finish_script(script, name, child)
}
