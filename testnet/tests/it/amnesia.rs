//! A validator that loses its database, or gets an old copy of it back, while the chain runs
//! never signs a conflicting message and votes again (issue 22; the rule is
//! `parallax_consensus::continuity`):
//! - node3's database is copied while it is stopped, and it rejoins and votes;
//! - its database is wiped: it restarts empty, syncs the chain, says in its metrics and
//!   admin state that it holds back its signatures up to a round (its safety data is gone),
//!   and then votes again past that round;
//! - the old copy is restored: block sync brings blocks it signed for after the copy was
//!   taken, it holds back again, and votes again.
//!
//! Throughout, the other validators record no evidence against it (nor anyone), and all
//! nodes agree on the blocks.

use crate::common;

use common::{Script, base_port, block_hash, height, rpc};
use serde_json::json;
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(400);

/// `parallax admin consensus` on a node's gRPC address, as a map (empty if it does not answer).
fn consensus_state(bin: &Path, grpc: &str) -> HashMap<String, u64> {
    let Ok(out) = Command::new(bin)
        .args(["admin", "consensus", "--grpc", grpc])
        .output()
    else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Waits for node3 to catch up with node0, to hold back its signatures up to a round (its
/// safety data cannot be trusted), and then to vote past it.
fn holds_back_then_votes(script: &Script, node0: SocketAddr, node3: SocketAddr, grpc: &str) {
    let target = height(node0).unwrap();
    script.wait_for("node3 to catch up", || {
        height(node3).is_some_and(|h| h >= target)
    });
    let mut floor = 0;
    script.wait_for("node3 to report a signing floor", || {
        floor = consensus_state(&script.bin, grpc)
            .get("signing_floor")
            .copied()
            .unwrap_or(0);
        floor > 0
    });
    eprintln!("node3 signs nothing up to round {floor}");
    script.wait_for("node3 to vote past its floor", || {
        consensus_state(&script.bin, grpc)
            .get("last_voted_round")
            .is_some_and(|r| *r > floor)
    });
}

fn no_evidence(addrs: &[SocketAddr]) {
    for a in addrs {
        let evidence = rpc(*a, "parallax_evidence", json!([])).expect("parallax_evidence");
        assert_eq!(evidence, json!([]), "evidence recorded on {a}");
    }
}

#[test]
fn a_validator_that_loses_its_database_never_double_signs_and_votes_again() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = base_port(3);
    let up = script.run(&["up", "--validators", "4", "--no-l1", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    let node3 = m.nodes.iter().find(|n| n.name == "node3").unwrap().clone();
    let node3_rpc = node3.rpc_addr().unwrap();
    let db = node3.datadir.join("db");
    let old_copy = tmp.path().join("node3-db-old");
    let started = Instant::now();

    // An old copy, taken while node3 is stopped; node3 then rejoins and votes for a while.
    script.wait_for("blocks", || height(addrs[0]).is_some_and(|h| h >= 3));
    assert!(script.run(&["stop", "node3"]).ok);
    copy_dir(&db, &old_copy);
    assert!(script.run(&["start", "node3"]).ok);
    let at = height(addrs[0]).unwrap();
    script.wait_for("node3 to vote again after a restart", || {
        height(addrs[0]).is_some_and(|h| h >= at + 8)
            && consensus_state(&script.bin, &node3.grpc)
                .get("last_voted_round")
                .is_some_and(|r| *r > 0)
    });
    // An ordinary restart holds nothing back.
    assert_eq!(
        consensus_state(&script.bin, &node3.grpc).get("signing_floor"),
        Some(&0)
    );

    // The database wiped.
    assert!(script.run(&["stop", "node3"]).ok);
    std::fs::remove_dir_all(&db).unwrap();
    assert!(script.run(&["start", "node3"]).ok);
    holds_back_then_votes(&script, addrs[0], node3_rpc, &node3.grpc);
    no_evidence(&addrs);

    // The old copy restored.
    let at = height(addrs[0]).unwrap();
    script.wait_for("a few blocks with node3", || {
        height(addrs[0]).is_some_and(|h| h >= at + 5)
    });
    assert!(script.run(&["stop", "node3"]).ok);
    std::fs::remove_dir_all(&db).unwrap();
    copy_dir(&old_copy, &db);
    assert!(script.run(&["start", "node3"]).ok);
    holds_back_then_votes(&script, addrs[0], node3_rpc, &node3.grpc);

    // The chain went on, nobody equivocated, and everyone agrees.
    let at = height(addrs[0]).unwrap();
    script.wait_for("more blocks", || {
        addrs
            .iter()
            .all(|a| height(*a).is_some_and(|h| h >= at + 3))
    });
    no_evidence(&addrs);
    let hash = block_hash(addrs[0], at).unwrap();
    for a in &addrs {
        assert_eq!(block_hash(*a, at).as_deref(), Some(hash.as_str()), "{a}");
    }
    eprintln!("amnesia test took {:?}", started.elapsed());
}
