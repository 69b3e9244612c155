//! The bridge on a testnet from `testnet/run.sh up` when no one helps and when everyone gets
//! in the way:
//! 1. every validator's relayer is off: a user finishes its withdrawals on Ethereum with
//!    nothing but RPC data, the root's signatures included (`testnet/e2e/bridge-manual.mjs`);
//! 2. the validators' brakes: a rate limit queues a large withdrawal until its release, one
//!    validator pauses either side on its own, a quorum unpauses, and parallax_bridgeStatus
//!    shows each (`testnet/e2e/bridge-limits.mjs`);
//! 3. two thousand withdrawals, every third of which can never be paid (a contract refusing
//!    ETH, the Ethereum bridge itself, a blocked token recipient): every other one is paid,
//!    the unpayable ones are recorded unpaid and reported as such, and paid once their
//!    recipients can take them (`testnet/e2e/bridge-unpayable.mjs`).
//!
//! Each script ends with the conservation check to the wei.
//!
//! Needs Node.js 20 and `npm ci` at the repository root (anvil and ethers).

use crate::common;

use common::{Script, base_port, node_script, rpc};
use serde_json::{Value, json};
use std::{net::SocketAddr, time::Duration};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(1_200);

fn q(v: &Value) -> u64 {
    parallax_testnet::rpc::quantity(v).unwrap_or_else(|| panic!("{v} is not a quantity"))
}

/// Sets `relay = …` in every validator's `[l1]` section and restarts them one by one.
fn set_relay(script: &Script, on: bool) {
    let m = script.manifest();
    for node in m.nodes.iter().filter(|n| n.validator) {
        let config = std::fs::read_to_string(&node.config).unwrap();
        let (from, to) = if on {
            ("relay = false", "relay = true")
        } else {
            ("relay = true", "relay = false")
        };
        assert!(config.contains(from), "{} has `{from}`", node.name);
        assert!(script.run(&["stop", &node.name]).ok);
        std::fs::write(&node.config, config.replace(from, to)).unwrap();
        assert!(script.run(&["start", &node.name]).ok);
    }
}

#[test]
fn withdrawals_finish_without_relayers_brakes_hold_and_unpayable_ones_never_block_the_rest() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = base_port(2);
    let up = script.run(&["up", "--validators", "4", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);

    // 1. No relayer anywhere: RPC data is enough.
    set_relay(&script, false);
    let manual = node_script(&script, "bridge-manual.mjs", &[]);
    assert_eq!(
        manual["withdrawals"].as_array().unwrap().len(),
        2,
        "{manual}"
    );
    set_relay(&script, true);

    // 2. Rate limits and pauses.
    let limits = node_script(&script, "bridge-limits.mjs", &[]);
    assert!(limits["releaseAt"].is_string(), "{limits}");

    // 3. Thousands of unpayable withdrawals among ordinary ones.
    let stress = node_script(&script, "bridge-unpayable.mjs", &["--count", "2000"]);
    assert_eq!(stress["unpaid"].as_u64().unwrap(), 667, "{stress}");
    assert_eq!(stress["paid"].as_u64().unwrap(), 1_333, "{stress}");

    // Every node counts every withdrawal signed and settled, and its unpaid ones.
    let m = script.manifest();
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    script.wait_for(
        "every node to count every withdrawal signed and settled",
        || {
            addrs.iter().all(|a| {
                let Some(s) = rpc(*a, "parallax_bridgeStatus", json!([])) else {
                    return false;
                };
                let w = &s["withdrawals"];
                q(&w["initiated"]) == q(&w["signed"]) && q(&w["initiated"]) == q(&w["finalized"])
            })
        },
    );
}
