//! `testnet/run.sh` end to end, as a developer uses it: `up` starts four validators and a
//! full node from scratch and prints what to connect to; the nodes commit blocks and the
//! full node follows; a second `up` refuses; `status` shows every node; `stop` and `start`
//! take one validator out and back; `down` stops everything; `up` resumes the same chain,
//! and the testnet's Ethereum (anvil) resumes its own from its state file, with the bridge
//! still deployed.
//!
//! The nodes are the debug `parallax` binary (built here when `PARALLAX_BIN` is unset); the
//! whole run is bounded, and a guard kills every process recorded in `testnet.json` however
//! the test ends.

use crate::common;

use common::{Script, base_port, block_hash, height, pid_gone, repo, rpc};
use parallax_testnet::{l1::is_l1_process, process::is_node_process};
use serde_json::json;
use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(420);

#[test]
fn run_sh_starts_reports_stops_restarts_and_resumes_a_testnet() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let started = Instant::now();
    // Away from the default 26000 and from other tests; `up` moves on from taken ports.
    let base = base_port(0);

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
        "Currency symbol:  PLX".into(),
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

    // down: every recorded pid is gone; the Ethereum has written its state.
    let before_down = script.manifest();
    let height_before_down = addrs.iter().filter_map(|a| height(*a)).min().unwrap();
    let l1 = before_down.l1.clone().expect("the testnet's Ethereum");
    let l1_addr: SocketAddr = l1.rpc.strip_prefix("http://").unwrap().parse().unwrap();
    let l1_pid = l1.pid.unwrap();
    assert!(is_l1_process(l1_pid, l1.port));
    let l1_before_down = height(l1_addr).unwrap();
    let down = script.run(&["down"]);
    assert!(down.ok);
    for n in &before_down.nodes {
        let pid = n.pid.unwrap();
        assert!(pid_gone(pid), "{} (pid {pid}) is gone", n.name);
    }
    assert!(script.manifest().nodes.iter().all(|n| n.pid.is_none()));
    assert!(addrs.iter().all(|a| height(*a).is_none()), "no RPC answers");
    assert!(
        pid_gone(l1_pid) && height(l1_addr).is_none(),
        "the Ethereum stopped"
    );
    let state = l1.state.clone().unwrap();
    assert_eq!(
        state,
        script.dir.canonicalize().unwrap().join("l1/state.json")
    );
    assert!(state.is_file(), "{} written", state.display());

    // up again resumes the same chain: same genesis, height not reset.
    let resumed = script.run(&["up"]);
    assert!(resumed.ok, "resume failed: {}", resumed.stderr);
    assert!(resumed.stdout.contains("Resuming the testnet"));
    // The Ethereum goes on from where it stopped, its contracts in place, nothing redeployed.
    assert!(resumed.stdout.contains("Ethereum resumed from its state"));
    assert!(!resumed.stdout.contains("Deployed the bridge"));
    assert!(height(l1_addr).unwrap() >= l1_before_down);
    let bridge = &before_down.bridge.as_ref().unwrap().l1_bridge;
    let code = rpc(l1_addr, "eth_getCode", json!([bridge, "latest"])).unwrap();
    assert!(
        code.as_str().unwrap().len() > 2,
        "the bridge's code at {bridge}"
    );
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
    assert!(
        pid_gone(m2.l1.unwrap().pid.unwrap()),
        "the Ethereum is gone"
    );
    eprintln!("the script's run took {:?}", started.elapsed());
}
