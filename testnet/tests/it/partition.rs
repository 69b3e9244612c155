//! A partition of a real testnet, healed: with one validator stopped, the other three are
//! exactly a quorum; cutting one of them off (every packet to or from its libp2p port refused)
//! halts the chain for several round timeouts; once the partition heals, the chain commits
//! again within two base round timeouts. Consensus messages lost during the partition must be
//! re-sent in a form gossip does not drop as a duplicate.
//!
//! The partition is made with `iptables` (the cut-off validator is given no bootnodes, so all
//! its connections are made to its own port, which two rules refuse). It needs root and
//! `iptables`, which `scripts/setup.sh` installs on a Debian-like machine; without them the
//! test says so and passes without running.

use crate::common;

use common::{Script, base_port, height};
use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(300);
/// The testnet genesis's base round timeout.
const BASE_TIMEOUT: Duration = Duration::from_millis(2_000);

/// Two iptables rules refusing (with a TCP reset) every packet to or from a port; removed when
/// dropped.
struct Cut {
    rules: Vec<Vec<String>>,
}

impl Cut {
    fn port(port: u16) -> Self {
        let tag = format!("parallax-partition-{}", std::process::id());
        let rules: Vec<Vec<String>> = ["--dport", "--sport"]
            .iter()
            .map(|dir| {
                [
                    "INPUT",
                    "-p",
                    "tcp",
                    dir,
                    &port.to_string(),
                    "-m",
                    "comment",
                    "--comment",
                    &tag,
                    "-j",
                    "REJECT",
                    "--reject-with",
                    "tcp-reset",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            })
            .collect();
        for rule in &rules {
            let ok = Command::new("iptables")
                .arg("-A")
                .args(rule)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "iptables -A {rule:?}");
        }
        Self { rules }
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        for rule in &self.rules {
            let _ = Command::new("iptables").arg("-D").args(rule).status();
        }
    }
}

fn iptables_usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("iptables")
        .args(["-L", "INPUT", "-n"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_healed_partition_commits_again_within_two_base_timeouts() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    if !iptables_usable() {
        eprintln!(
            "skipped: cutting a node off needs root and iptables (scripts/setup.sh installs it as root on Debian)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = base_port(6);
    let up = script.run(&["up", "--validators", "4", "--no-l1", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();

    // node2 dials no one: every connection it has is made to its own port.
    let node2 = &m.nodes[2];
    let mut config = parallax_genesis::NodeConfig::load(&node2.config).unwrap();
    let p2p_port = config
        .network
        .listen_addr
        .iter()
        .find_map(|p| match p {
            multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("node2 listens on TCP");
    config.network.bootnodes.clear();
    assert!(script.run(&["stop", "node2"]).ok);
    std::fs::write(&node2.config, config.to_toml()).unwrap();
    assert!(script.run(&["start", "node2"]).ok);
    // node3 stopped: the three left are exactly a quorum.
    assert!(script.run(&["stop", "node3"]).ok);
    let at = height(addrs[0]).unwrap();
    script.wait_for("the three validators to commit", || {
        height(addrs[0]).is_some_and(|h| h >= at + 3)
    });

    // Cut node2 off for several round timeouts: the chain halts.
    let cut = Cut::port(p2p_port);
    std::thread::sleep(BASE_TIMEOUT);
    let halted = height(addrs[0]).unwrap();
    std::thread::sleep(BASE_TIMEOUT * 6);
    assert!(
        height(addrs[0]).unwrap() <= halted + 1,
        "the chain went on without a quorum"
    );
    // Heal: the next commit comes within two base timeouts.
    let healed_at = height(addrs[0]).unwrap();
    drop(cut);
    let healed = Instant::now();
    script.wait_for(
        "the chain to commit again after the partition heals",
        || height(addrs[0]).is_some_and(|h| h > healed_at),
    );
    let took = healed.elapsed();
    eprintln!("the chain committed again {took:?} after the partition healed");
    assert!(
        took <= BASE_TIMEOUT * 2,
        "the chain took {took:?} to commit again (bar: two base timeouts, {:?})",
        BASE_TIMEOUT * 2
    );
}
