//! A four-validator testnet from `testnet/run.sh` under a steady transaction load
//! (`parallax bench load` sending to the full node and two validators that stay up):
//! - SIGKILL one validator: the chain keeps committing the load's transactions;
//! - restart it: it catches up and votes again;
//! - stop two of the four: the chain halts, and the nodes still up agree on every block;
//! - restart one: the chain resumes; restart the other too.
//!
//! At the end all five nodes hold the same blocks, and every transaction the load saw
//! committed is in the block it was committed in on every node, with a successful receipt.
//!
//! The nodes are the debug `parallax` binary (built here when `PARALLAX_BIN` is unset); the
//! whole run is bounded, and guards kill the load and every node however the test ends.

use crate::common;

use common::{Script, base_port, block_hash, height, pid_gone, rpc};
use parallax_testnet::rpc::quantity;
use serde_json::{Value, json};
use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(600);
/// The offered load (transactions/s), low enough for debug nodes on a busy 2-core machine.
const TPS: &str = "30";
/// How long a chain must stay still to count as halted, with blocks due every 500 ms.
const HALT_WATCH: Duration = Duration::from_secs(8);

/// Kills the load generator if the test ends before it does.
struct LoadGuard(Option<Child>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn last_voted(addr: SocketAddr) -> Option<u64> {
    quantity(&rpc(addr, "parallax_consensusStatus", json!([]))?["lastVotedRound"])
}

/// The block at `n` without transaction bodies.
fn block(addr: SocketAddr, n: u64) -> Option<Value> {
    rpc(
        addr,
        "eth_getBlockByNumber",
        json!([format!("{n:#x}"), false]),
    )
    .filter(|b| !b.is_null())
}

/// Transactions in blocks `from..=to` at `addr`.
fn transactions_in(addr: SocketAddr, from: u64, to: u64) -> usize {
    (from..=to)
        .filter_map(|n| block(addr, n))
        .map(|b| b["transactions"].as_array().map_or(0, Vec::len))
        .sum()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid this test started (checked by the caller).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

fn log_has(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.contains(text))
}

#[test]
fn under_load_a_killed_validator_rejoins_and_two_stopped_halt_the_chain_without_a_fork() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let (dir, bin) = (script.dir.clone(), script.bin.clone());
    let started = Instant::now();
    // Away from the default 26000 and from the script test's ports.
    let base = base_port(4);
    let up = script.run(&["up", "--validators", "4", "--base-port", &base, "--no-l1"]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    let index = |name: &str| m.node(name).unwrap();
    let addr = |name: &str| m.nodes[index(name)].rpc_addr().unwrap();
    let all = ["node0", "node1", "node2", "node3", "full0"];
    let survivors = ["node0", "node1", "full0"];

    // The load: to the full node (also the one it watches for blocks) and the two
    // validators that stay up throughout.
    let record: PathBuf = dir.join("load.jsonl");
    let load_log = dir.join("load.log");
    let log_file = std::fs::File::create(&load_log).unwrap();
    let mut args: Vec<String> = vec!["bench".into(), "load".into()];
    for name in survivors.iter().rev() {
        args.extend(["--rpc".into(), m.nodes[index(name)].rpc_http.clone()]);
    }
    args.extend(
        [
            "--tps",
            TPS,
            "--duration",
            "900",
            "--kind",
            "transfer",
            "--senders",
            "60",
            "--connections",
            "1",
            "--drain",
            "90",
        ]
        .map(String::from),
    );
    args.extend(["--record".into(), record.display().to_string()]);
    let mut load = LoadGuard(Some(
        Command::new(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    ));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Signed ahead, then five seconds watching the idle chain, then the load.
        script.wait_for("the load to start", || log_has(&load_log, "signed "));
        let signed_at = height(addr("full0")).unwrap();
        script.wait_for("the load's first transactions in blocks", || {
            let h = height(addr("full0")).unwrap_or(0);
            h > signed_at && transactions_in(addr("full0"), signed_at + 1, h) > 0
        });

        // SIGKILL node3: the others keep committing the load.
        let node3 = &m.nodes[index("node3")];
        let pid3 = script.manifest().nodes[index("node3")].pid.unwrap();
        assert!(parallax_testnet::process::is_node_process(
            pid3,
            &node3.config
        ));
        signal(pid3, libc::SIGKILL);
        script.wait_for("node3 to die", || pid_gone(pid3));
        // Heights from a validator: the full node may lag, and its blocks in flight at the
        // kill would prove nothing.
        let at_kill = height(addr("node0")).unwrap();
        script.wait_for("blocks without node3", || {
            height(addr("node0")).is_some_and(|h| h >= at_kill + 5)
        });
        let restart_at = height(addr("node0")).unwrap();
        let during_kill = transactions_in(addr("node0"), at_kill + 1, restart_at);
        assert!(
            during_kill > 0,
            "no transactions in blocks {at_kill}..={restart_at} while node3 was down"
        );

        // Restarted from its killed database, it catches up and votes again.
        let start3 = script.run(&["start", "node3"]);
        assert!(start3.ok, "start node3: {}", start3.stderr);
        assert!(height(addr("node3")).unwrap() >= restart_at);
        let voted = last_voted(addr("node3")).unwrap();
        script.wait_for("node3 to vote again", || {
            last_voted(addr("node3")).is_some_and(|r| r > voted)
        });

        // Stop two of four: no quorum, so the chain halts; the survivors agree.
        for name in ["node2", "node3"] {
            let stop = script.run(&["stop", name]);
            assert!(stop.ok && stop.stdout.contains(&format!("{name} stopped")));
        }
        // A block certified just before the second stop may still commit.
        std::thread::sleep(Duration::from_secs(3));
        let halted: Vec<u64> = survivors.iter().map(|n| height(addr(n)).unwrap()).collect();
        std::thread::sleep(HALT_WATCH);
        let after: Vec<u64> = survivors.iter().map(|n| height(addr(n)).unwrap()).collect();
        assert_eq!(
            halted, after,
            "with two of four validators stopped the chain must halt"
        );
        let top = *halted.iter().min().unwrap();
        for n in 0..=top {
            let hashes: Vec<Option<String>> =
                survivors.iter().map(|s| block_hash(addr(s), n)).collect();
            assert!(
                hashes[0].is_some() && hashes.iter().all(|h| *h == hashes[0]),
                "block {n} differs while halted: {hashes:?}"
            );
        }
        // The load goes on meanwhile: the nodes still take transactions.
        let pending = rpc(addr("full0"), "txpool_status", json!([])).unwrap();
        assert!(
            quantity(&pending["pending"]).unwrap() > 0,
            "transactions wait while halted: {pending}"
        );

        // Restart one: three of four again, and the chain resumes.
        let halt_height = *halted.iter().max().unwrap();
        let start3 = script.run(&["start", "node3"]);
        assert!(start3.ok, "start node3 again: {}", start3.stderr);
        script.wait_for("the chain to resume", || {
            survivors
                .iter()
                .all(|n| height(addr(n)).is_some_and(|h| h >= halt_height + 3))
        });
        let resumed_txs = transactions_in(
            addr("full0"),
            halt_height + 1,
            height(addr("full0")).unwrap(),
        );
        assert!(
            resumed_txs > 0,
            "the waiting transactions commit on resuming"
        );
        let start2 = script.run(&["start", "node2"]);
        assert!(start2.ok, "start node2: {}", start2.stderr);

        // End the load; it drains, reports and writes what committed.
        let child = load.0.as_mut().unwrap();
        signal(child.id(), libc::SIGTERM);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < script.deadline, "the load did not end");
            std::thread::sleep(Duration::from_millis(250));
        };
        load.0 = None;
        let report = std::fs::read_to_string(&load_log).unwrap();
        eprintln!("--- load ---\n{report}");
        assert!(status.success(), "the load failed: {status}");
        let committed: Vec<(String, u64)> = std::fs::read_to_string(&record)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["hash"].as_str().unwrap().to_owned(),
                    v["block"].as_u64().unwrap(),
                )
            })
            .collect();
        assert!(
            committed.len() >= 100,
            "only {} transactions committed",
            committed.len()
        );
        for (what, from, to) in [
            ("while node3 was killed", at_kill + 1, restart_at),
            ("after the halt", halt_height + 1, u64::MAX),
        ] {
            assert!(
                committed.iter().any(|(_, b)| (from..=to).contains(b)),
                "none of the load's transactions committed {what}"
            );
        }

        // Every node reaches the same height and holds the same blocks.
        let target = all.iter().map(|n| height(addr(n)).unwrap()).max().unwrap();
        script.wait_for("every node at the same height", || {
            all.iter()
                .all(|n| height(addr(n)).is_some_and(|h| h >= target))
        });
        let mut in_blocks: Vec<HashSet<String>> = Vec::new();
        for n in 0..=target {
            let blocks: Vec<Value> = all
                .iter()
                .map(|name| block(addr(name), n).unwrap_or_else(|| panic!("{name} block {n}")))
                .collect();
            for (name, b) in all.iter().zip(&blocks) {
                assert_eq!(
                    b["hash"], blocks[0]["hash"],
                    "{name} differs from node0 at block {n}"
                );
                assert_eq!(b["transactions"], blocks[0]["transactions"]);
            }
            in_blocks.push(
                blocks[0]["transactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_owned())
                    .collect(),
            );
        }
        // Every committed transaction is where it was committed, on every node.
        for (hash, number) in &committed {
            assert!(
                in_blocks[*number as usize].contains(hash),
                "{hash} is no longer in block {number}"
            );
        }
        // And has its receipt there (every 25th, on every node).
        for (hash, number) in committed.iter().step_by(25) {
            for name in all {
                let r = rpc(addr(name), "eth_getTransactionReceipt", json!([hash]))
                    .unwrap_or_else(|| panic!("{name}: no answer for {hash}'s receipt"));
                assert_eq!(quantity(&r["blockNumber"]), Some(*number), "{name}: {r}");
                assert_eq!(r["status"], "0x1", "{name}: {r}");
            }
        }
        eprintln!(
            "{} committed transactions checked on {} nodes over {} blocks",
            committed.len(),
            all.len(),
            target + 1
        );
    }));
    if let Err(panic) = result {
        let text = std::fs::read_to_string(&load_log).unwrap_or_default();
        eprintln!("--- load log ---\n{text}");
        // The nodes' logs and databases, for whoever looks into the failure.
        drop(cleanup);
        eprintln!("the testnet's files are kept in {}", tmp.keep().display());
        std::panic::resume_unwind(panic);
    }
    let down = script.run(&["down"]);
    assert!(down.ok);
    eprintln!("the run under load took {:?}", started.elapsed());
}
