//! The bridge end to end, on a testnet from `testnet/run.sh up` with its real Ethereum (anvil),
//! against faults and users who do not play along:
//! 1. a validator whose Ethereum shows a deposit that never happened proposes it; the others
//!    refuse to vote and nothing is minted;
//! 2. a user with ethers deposits ETH and the test ERC-20 (they arrive as bridged tokens named
//!    like their originals) and gets them back on Ethereum with no further step
//!    (`testnet/e2e/bridge.mjs`);
//! 3. random mixes of deposits and withdrawals by many users, some of whom hold only
//!    Parallax's own currency and try to take what depositors locked
//!    (`testnet/e2e/bridge-mix.mjs`), while: validators restart mid-stream; one validator's
//!    Ethereum RPC is unreachable for 30 s; the relayer of a block is SIGKILLed between
//!    submitting its root and finalizing its withdrawals;
//! 4. a deposit is reorganised away on Ethereum before it is deep enough: never minted;
//! 5. `down` and `up`: Ethereum keeps its state, and the next mix checks the whole history.
//!
//! While each mix runs, every asset's bridged supply is sampled against what Ethereum holds
//! locked (never above); after it, to the wei, per asset: locked on Ethereum == bridged supply
//! on Parallax + withdrawals in flight, what the bridge holds == locked + owed + cancelled,
//! and every user's balances on both chains moved by exactly their transfers.
//!
//! Needs Node.js 20 and `npm ci` at the repository root (anvil and ethers).

use crate::common;
use crate::l1_proxy;

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use common::{Script, base_port, finish_script, height, node_script, repo, rpc, spawn_script};
use l1_proxy::L1Proxy;
use parallax_bridge::{contracts::IParallaxBridge, l1::L1Client};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    process::Child,
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(1_200);

fn status(addr: SocketAddr) -> Value {
    rpc(addr, "parallax_bridgeStatus", json!([])).expect("parallax_bridgeStatus answers")
}

fn q(v: &Value) -> u64 {
    parallax_testnet::rpc::quantity(v).unwrap_or_else(|| panic!("{v} is not a quantity"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bridged token's balance on a node (0 before the token exists).
fn bridged_balance(addr: SocketAddr, l1_token: Address, who: Address) -> U256 {
    let token = parallax_genesis::bridged_token_address(l1_token);
    let data = parallax_bridge::contracts::IBridgedToken::balanceOfCall { owner: who }.abi_encode();
    let out = rpc(
        addr,
        "eth_call",
        json!([{ "to": token, "data": alloy_primitives::hex::encode_prefixed(data) }, "latest"]),
    )
    .expect("eth_call");
    let hex = out.as_str().unwrap();
    if hex == "0x" {
        return U256::ZERO;
    }
    hex.parse().unwrap()
}

/// Points node `i`'s config at another Ethereum RPC URL and restarts it.
fn repoint(script: &Script, i: usize, from: &str, to: &str) {
    let m = script.manifest();
    let node = &m.nodes[i];
    let config = std::fs::read_to_string(&node.config).unwrap();
    assert!(config.contains(from), "{} watches {from}", node.name);
    assert!(script.run(&["stop", &node.name]).ok);
    std::fs::write(&node.config, config.replace(from, to)).unwrap();
    assert!(script.run(&["start", &node.name]).ok);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_bridge_conserves_funds_against_faults_and_users_who_do_not_play_along() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = base_port(1);
    let up = script.run(&["up", "--validators", "4", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    let rt = runtime();

    // testnet.json describes the Ethereum and the bridge, with the members tools read.
    let raw: Value =
        serde_json::from_str(&std::fs::read_to_string(script.dir.join("testnet.json")).unwrap())
            .unwrap();
    for key in ["rpc", "chain_id"] {
        assert!(!raw["l1"][key].is_null(), "testnet.json l1.{key}");
    }
    for key in ["l1_bridge", "l2_bridge", "l1_test_token", "confirmations"] {
        assert!(!raw["bridge"][key].is_null(), "testnet.json bridge.{key}");
    }
    let l1 = m.l1.clone().unwrap();
    let bridge = m.bridge.clone().unwrap();
    assert_eq!(l1.chain_id, 31_337);
    assert!(up.stdout.contains(&bridge.l1_bridge) && up.stdout.contains(&l1.rpc));
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    let s = status(addrs[1]);
    assert_eq!(
        s["l1Bridge"].as_str().unwrap().to_lowercase(),
        bridge.l1_bridge.to_lowercase()
    );
    assert_eq!(q(&s["deposits"]["minted"]), 0);
    assert_eq!(s["paused"], json!({ "ethereum": false, "parallax": false }));
    let l1_bridge: Address = bridge.l1_bridge.parse().unwrap();
    let l1_client = rt.block_on(L1Client::connect(&l1.rpc, None)).unwrap();

    // 1. A validator whose Ethereum is another chain, where a deposit happened that the real
    // Ethereum never saw. Its proposals carry the deposit; the others refuse to vote for them.
    let fake_dir = tempfile::tempdir().unwrap();
    let fake = parallax_testnet::l1::L1Node::start(
        &repo(),
        fake_dir.path(),
        free_port(),
        Duration::from_secs(90),
    )
    .expect("a second Ethereum");
    let fake_url = fake.url();
    let genesis = parallax_genesis::Genesis::load(script.dir.join("genesis.json")).unwrap();
    let validators: Vec<Address> = genesis
        .parallax
        .as_ref()
        .unwrap()
        .validators
        .iter()
        .map(|v| v.bridge_address)
        .collect();
    parallax_testnet::l1::deploy(&fake_url, m.chain_id, &validators).unwrap();
    repoint(&script, 0, &l1.rpc, &fake_url);
    let victim = Address::repeat_byte(0x5a);
    let depositor = parallax_genesis::dev_accounts(4).unwrap()[3].1;
    rt.block_on(async {
        let key = alloy_signer_local::PrivateKeySigner::from_bytes(&depositor).unwrap();
        let client = L1Client::connect(&fake_url, Some(key)).await.unwrap();
        client
            .send_call(
                l1_bridge,
                IParallaxBridge::depositETHCall {
                    l2Recipient: victim,
                },
                U256::from(5u64) * U256::from(10u64).pow(U256::from(18u64)),
            )
            .await
            .unwrap();
    });
    script.wait_for("node0 to see the fake deposit", || {
        q(&status(addrs[0])["deposits"]["seen"]) == 1
    });
    let refused = || -> u64 {
        addrs[1..4]
            .iter()
            .map(|a| q(&status(*a)["deposits"]["refusedProposals"]))
            .sum()
    };
    script.wait_for("the other validators to refuse node0's proposal", || {
        refused() >= 2
    });
    let at = height(addrs[1]).unwrap();
    script.wait_for("the chain to go on without node0's proposals", || {
        height(addrs[1]).is_some_and(|h| h >= at + 10)
    });
    for a in &addrs {
        assert_eq!(
            bridged_balance(*a, Address::ZERO, victim),
            U256::ZERO,
            "nothing minted for the fake deposit"
        );
        assert_eq!(q(&status(*a)["deposits"]["minted"]), 0);
    }
    // node0 back on the real Ethereum.
    repoint(&script, 0, &fake_url, &l1.rpc);
    drop(fake);

    // 2. A user with ethers: deposits arrive and are spent on Parallax; withdrawals arrive on
    // Ethereum with nothing done after the withdrawal transactions.
    let e2e = node_script(&script, "bridge.mjs", &[]);
    for key in [
        "depositToSpendableEthMs",
        "withdrawalToL1EthMs",
        "withdrawalToL1TokenMs",
    ] {
        assert!(e2e[key].is_u64(), "{key} in {e2e}");
    }

    // 3a. A mix with validators restarting while it runs (its transactions go through node0).
    let first = node_script(&script, "bridge-mix.mjs", &["--ops", "40", "--seed", "1"]);
    assert!(
        first["backingSamples"].as_u64().unwrap() > 0,
        "backing was sampled while the mix ran: {first}"
    );
    let mix = spawn_script(
        &script,
        "bridge-mix.mjs",
        &["--ops", "60", "--seed", "2", "--via", "0"],
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(script.run(&["stop", "node2"]).ok);
    std::thread::sleep(Duration::from_secs(2));
    assert!(script.run(&["start", "node2"]).ok);
    assert!(script.run(&["stop", "node1"]).ok);
    assert!(script.run(&["stop", "full0"]).ok);
    std::thread::sleep(Duration::from_secs(2));
    assert!(script.run(&["start", "node1"]).ok);
    assert!(script.run(&["start", "full0"]).ok);
    finish_script(&script, "bridge-mix.mjs", mix);

    // 3b. node3 reaches Ethereum through a proxy the test controls; it is unreachable for 30 s
    // in the middle of a mix.
    let upstream = l1.rpc.trim_start_matches("http://").to_owned();
    let proxy = L1Proxy::start(&upstream);
    repoint(&script, 3, &l1.rpc, &proxy.url());
    let mix = spawn_script(
        &script,
        "bridge-mix.mjs",
        &["--ops", "40", "--seed", "3", "--via", "0"],
    );
    std::thread::sleep(Duration::from_secs(3));
    proxy.set_down(true);
    let outage = Instant::now();
    script.wait_for("node3 to notice Ethereum is gone", || {
        !status(addrs[3])["l1Error"].is_null()
    });
    std::thread::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed()));
    proxy.set_down(false);
    finish_script(&script, "bridge-mix.mjs", mix);
    script.wait_for("node3 to read Ethereum again", || {
        status(addrs[3])["l1Error"].is_null()
    });

    // 3c. node3 is SIGKILLed the moment its submission of a withdrawal root reaches Ethereum,
    // before it can finalize that block's withdrawals; the others take over.
    proxy.trap(IParallaxBridge::submitWithdrawalRootCall::SELECTOR);
    let pid3 = script.manifest().nodes[3].pid.unwrap();
    let mut seed = 4;
    while !proxy.tripped() {
        assert!(seed < 10, "node3 never submitted a root");
        let mix = spawn_script(
            &script,
            "bridge-mix.mjs",
            &["--ops", "24", "--seed", &seed.to_string(), "--via", "0"],
        );
        while !proxy.tripped() && mix_running(&mix) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if proxy.tripped() {
            // SAFETY: kill(2) on the node this test's testnet started.
            unsafe {
                libc::kill(pid3 as libc::pid_t, libc::SIGKILL);
            }
        }
        finish_script(&script, "bridge-mix.mjs", mix);
        seed += 1;
    }
    let roots_by_others: u64 = addrs[..3]
        .iter()
        .map(|a| q(&status(*a)["withdrawals"]["rootsSubmittedByThisNode"]))
        .sum();
    assert!(roots_by_others > 0, "the other validators relayed");
    assert!(script.run(&["start", "node3"]).ok);

    // 4. A deposit reorganised away before it is deep enough is never minted.
    let ghost = Address::repeat_byte(0x6b);
    rt.block_on(async {
        let snapshot: U256 = l1_client
            .provider()
            .raw_request("evm_snapshot".into(), json!([]))
            .await
            .unwrap();
        let key = alloy_signer_local::PrivateKeySigner::from_bytes(
            &parallax_genesis::dev_accounts(3).unwrap()[2].1,
        )
        .unwrap();
        let user = L1Client::connect(&l1.rpc, Some(key)).await.unwrap();
        user.send_call(
            l1_bridge,
            IParallaxBridge::depositETHCall { l2Recipient: ghost },
            U256::from(3u64) * U256::from(10u64).pow(U256::from(18u64)),
        )
        .await
        .unwrap();
        let ok: bool = l1_client
            .provider()
            .raw_request("evm_revert".into(), (snapshot,))
            .await
            .unwrap();
        assert!(ok, "evm_revert");
    });
    let mix = node_script(&script, "bridge-mix.mjs", &["--ops", "30", "--seed", "11"]);
    assert!(mix["deposits"].as_u64().unwrap() > 0);
    for a in &addrs {
        assert_eq!(
            bridged_balance(*a, Address::ZERO, ghost),
            U256::ZERO,
            "the reorganised deposit was never minted"
        );
    }

    // Every node agrees on the totals and reports every withdrawal signed and settled,
    // restarted nodes included.
    let m = script.manifest();
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    script.wait_for("every node at the same bridge totals", || {
        let all: Vec<(u64, u64, u64, u64)> = addrs
            .iter()
            .map(|a| {
                let s = status(*a);
                let w = &s["withdrawals"];
                (
                    q(&s["deposits"]["minted"]),
                    q(&w["initiated"]),
                    q(&w["signed"]),
                    q(&w["finalized"]),
                )
            })
            .collect();
        all.windows(2).all(|w| w[0] == w[1]) && all[0].1 == all[0].2 && all[0].1 == all[0].3
    });

    // 5. down and up: Ethereum keeps its state, so the next mix's checks over the whole history
    // hold across the restart.
    assert!(script.run(&["down"]).ok);
    assert!(!parallax_testnet::l1::is_l1_process(
        l1.pid.unwrap(),
        l1.port
    ));
    let up = script.run(&["up"]);
    assert!(up.ok, "up again failed: {}", up.stderr);
    let again = node_script(&script, "bridge-mix.mjs", &["--ops", "24", "--seed", "12"]);
    assert!(
        again["totalDeposits"].as_u64().unwrap() > mix["totalDeposits"].as_u64().unwrap(),
        "the history of Ethereum before `down` is still there: {again}"
    );
}

fn mix_running(child: &Child) -> bool {
    // `try_wait` needs &mut; a live process has a /proc entry that is not a zombie.
    !common::pid_gone(child.id())
}
