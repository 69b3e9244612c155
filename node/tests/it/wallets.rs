//! The wallet tests (`node/tests/js/*.test.mjs`, ethers v6 and viem from npm, run by Node's
//! built-in `node --test`) against the `parallax` binary: the whole suite against `parallax
//! dev`, and a subset against a four-validator network of `parallax run` processes, reading
//! from one validator while sending to another. Needs Node.js 20 and `npm ci` at the
//! repository root.

use serde_json::json;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common;
use common::{Procs, Testnet, block_number, dev, free_addr, print_log_tails, rpc, start, wait_for};

/// Longest a `node --test` run may take.
const JS_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Panics with what to run when Node.js or the npm packages are missing.
fn require_node_modules() {
    let root = repo_root();
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            let major: u32 = version
                .trim()
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            assert!(
                major >= 20,
                "the wallet tests need Node.js 20 or newer, found {}",
                version.trim()
            );
        }
        _ => panic!(
            "the wallet tests need Node.js 20 (`node` is not on PATH); install it, then run `npm ci` in {}",
            root.display()
        ),
    }
    for package in ["ethers", "viem", "solc"] {
        let manifest = root.join("node_modules").join(package).join("package.json");
        assert!(
            manifest.exists(),
            "node_modules/{package} is missing: run `npm ci` in {} (the packages pinned in package.json)",
            root.display()
        );
    }
}

/// Runs `node --test FILES…` from the repository root with `env`; panics with its output
/// unless every test passes. Bounded by [`JS_TIMEOUT`]; the process is killed on every path.
fn run_js(files: &[&str], env: &[(&str, String)], log: &Path) {
    let root = repo_root();
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg("--test")
        .arg("--test-reporter=spec")
        .args(files)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut guard = Procs(vec![Some(cmd.spawn().expect("spawn node"))]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = guard.0[0].as_mut().unwrap().try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > JS_TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let output = std::fs::read_to_string(log).unwrap_or_default();
    eprintln!("{output}");
    match status {
        None => panic!(
            "`node --test {}` did not finish within {JS_TIMEOUT:?}",
            files.join(" ")
        ),
        Some(s) if !s.success() => panic!(
            "wallet tests failed (`node --test {}`, {s}); see the output above",
            files.join(" ")
        ),
        Some(_) => {}
    }
    drop(guard);
}

fn chain_id(addr: SocketAddr) -> u64 {
    let v = rpc(addr, "eth_chainId", json!([])).expect("eth_chainId");
    u64::from_str_radix(
        v["result"]
            .as_str()
            .expect("a chain id")
            .trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

fn target_env(
    read: SocketAddr,
    send: SocketAddr,
    validators: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("PARALLAX_HTTP", format!("http://{read}")),
        ("PARALLAX_WS", format!("ws://{read}")),
        ("PARALLAX_SEND_HTTP", format!("http://{send}")),
        ("PARALLAX_CHAIN_ID", chain_id(read).to_string()),
        ("PARALLAX_VALIDATORS", validators.to_string()),
    ]
}

#[test]
fn wallet_tests_pass_against_parallax_dev() {
    require_node_modules();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let log = dir.path().join("dev.log");
    let _procs = Procs(vec![Some(dev(&dir.path().join("dev"), addr, &log))]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("the dev chain's RPC", Duration::from_secs(60), || {
            block_number(addr).is_some()
        });
        assert_eq!(chain_id(addr), 1337);
        run_js(
            &["node/tests/js/"],
            &target_env(addr, addr, 1),
            &dir.path().join("js.log"),
        );
    }));
    if let Err(panic) = result {
        print_log_tails(&[("dev".into(), &log)], 30);
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn wallet_subset_passes_against_four_validators() {
    require_node_modules();
    // `genesis testnet` funds the 20 development accounts the wallet tests sign with.
    let testnet = Testnet::generate(4);
    let dir = &testnet.dir;
    let config = |i: usize| testnet.config(i);
    let log = |i: usize| testnet.log(i);
    let rpc_addr = |i: usize| testnet.rpc_addr(i);
    let _procs = Procs((0..4).map(|i| Some(start(&config(i), &log(i)))).collect());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("blocks on every node", Duration::from_secs(90), || {
            (0..4).all(|i| block_number(rpc_addr(i)).is_some_and(|n| n >= 2))
        });
        // read from validator 0, send through validator 1
        run_js(
            &[
                "node/tests/js/network.test.mjs",
                "node/tests/js/txtypes.test.mjs",
                "node/tests/js/blocks.test.mjs",
            ],
            &target_env(rpc_addr(0), rpc_addr(1), 4),
            &dir.path().join("js.log"),
        );
    }));
    if let Err(panic) = result {
        let logs: Vec<(String, PathBuf)> = (0..4).map(|i| (format!("node{i}"), log(i))).collect();
        let logs: Vec<(String, &Path)> =
            logs.iter().map(|(n, p)| (n.clone(), p.as_path())).collect();
        print_log_tails(&logs, 20);
        std::panic::resume_unwind(panic);
    }
}
