//! The bridge end to end, on a testnet from `testnet/run.sh up` with its real Ethereum
//! (`hardhat node`): a validator whose Ethereum shows a deposit that never happened on the
//! real one proposes it and the others refuse to vote for it; then a user with ethers deposits
//! ETH and the test ERC-20 and gets them back on Ethereum with no further step
//! (`testnet/e2e/bridge.mjs`); then random mixes of deposits and withdrawals by many users,
//! with validators stopped and restarted between them, conserve every token to the wei
//! (`testnet/e2e/bridge-mix.mjs`).
//!
//! Needs Node.js 20 and `npm ci` at the repository root (hardhat and ethers).

mod common;

use alloy_primitives::{Address, U256};
use common::{Script, height, repo, rpc};
use parallax_bridge::{contracts::IParallaxBridge, l1::L1Client};
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(720);

/// Runs `node testnet/e2e/SCRIPT ARGS`, which prints one JSON line; fails the test if the
/// script fails or outlives the budget.
fn node_script(script: &Script, name: &str, args: &[&str]) -> Value {
    let mut child = Command::new("node")
        .arg(repo().join("testnet/e2e").join(name))
        .arg(&script.dir)
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (Node.js 20 must be installed, and `npm ci` run at the repository root)");
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
    eprintln!("$ node {name} {args:?} → {}\n{stdout}{stderr}", out.status);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{name} printed no JSON line ({e}):\n{stdout}"))
}

fn status(addr: SocketAddr) -> Value {
    rpc(addr, "parallax_bridgeStatus", json!([])).expect("parallax_bridgeStatus answers")
}

fn q(v: &Value) -> u64 {
    parallax_testnet::rpc::quantity(v).unwrap_or_else(|| panic!("{v} is not a quantity"))
}

fn balance(addr: SocketAddr, who: Address) -> U256 {
    let v = rpc(addr, "eth_getBalance", json!([who, "latest"])).expect("eth_getBalance");
    v.as_str().unwrap().parse().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A second Ethereum, stopped when dropped.
struct OtherL1 {
    pid: u32,
    port: u16,
}

impl Drop for OtherL1 {
    fn drop(&mut self) {
        parallax_testnet::l1::stop(self.pid, self.port, Duration::from_secs(5));
    }
}

#[test]
fn deposits_and_withdrawals_cross_hands_off_conserve_funds_across_restarts_and_fake_deposits_get_no_votes()
 {
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = (34_000 + (std::process::id() % 50) * 200).to_string();
    let up = script.run(&["up", "--validators", "4", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();

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

    // 1. A validator whose Ethereum is another chain, where a deposit happened that the real
    // Ethereum never saw. Its proposals carry the deposit; the others refuse to vote for them.
    let fake_port = free_port();
    let fake_log = tmp.path().join("fake-l1.log");
    let fake_pid =
        parallax_testnet::l1::start(&repo(), fake_port, &fake_log, Duration::from_secs(90))
            .expect("a second hardhat node");
    let fake = OtherL1 {
        pid: fake_pid,
        port: fake_port,
    };
    let fake_url = parallax_testnet::l1::rpc_url(fake_port);
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
    let config = m.nodes[0].config.clone();
    let honest_config = std::fs::read_to_string(&config).unwrap();
    assert!(honest_config.contains(&l1.rpc));
    assert!(script.run(&["stop", "node0"]).ok);
    std::fs::write(&config, honest_config.replace(&l1.rpc, &fake_url)).unwrap();
    assert!(script.run(&["start", "node0"]).ok);

    let victim = Address::repeat_byte(0x5a);
    let depositor = parallax_genesis::dev_accounts(4).unwrap()[3].1;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let l1_bridge: Address = bridge.l1_bridge.parse().unwrap();
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
    assert!(refused() >= 2);
    for a in &addrs {
        assert_eq!(
            balance(*a, victim),
            U256::ZERO,
            "nothing minted for the fake deposit"
        );
        assert_eq!(q(&status(*a)["deposits"]["minted"]), 0);
    }
    // node0 back on the real Ethereum.
    assert!(script.run(&["stop", "node0"]).ok);
    std::fs::write(&config, &honest_config).unwrap();
    drop(fake);
    assert!(script.run(&["start", "node0"]).ok);

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

    // 3. Random mixes by eight users, validators stopped and restarted between and during
    // them; each run checks conservation over the whole history.
    let mix = |seed: &str| node_script(&script, "bridge-mix.mjs", &["--ops", "40", "--seed", seed]);
    mix("1");
    assert!(script.run(&["stop", "node2"]).ok);
    mix("2");
    assert!(script.run(&["start", "node2"]).ok);
    assert!(script.run(&["stop", "node1"]).ok);
    assert!(script.run(&["stop", "full0"]).ok);
    mix("3");
    assert!(script.run(&["start", "node1"]).ok);
    assert!(script.run(&["start", "full0"]).ok);
    let last = mix("4");
    assert_eq!(last["eth"]["inFlight"], "0");
    assert_eq!(last["token"]["inFlight"], "0");
    // Every node agrees on what the bridge minted and burned.
    let m = script.manifest();
    let addrs: Vec<SocketAddr> = m.nodes.iter().map(|n| n.rpc_addr().unwrap()).collect();
    // ... and reports every withdrawal signed and paid out, restarted nodes included.
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
    let s = status(addrs[0]);
    let withdrawals = q(&s["withdrawals"]["initiated"]);
    assert!(withdrawals > 10, "{s}");
    let last_id = format!("{:#x}", withdrawals - 1);
    let w = rpc(
        addrs[0],
        "parallax_bridgeStatus",
        json!([{ "withdrawal": last_id }]),
    )
    .unwrap();
    assert_eq!(w["withdrawal"]["state"], "finalized", "{w}");
    // Every withdrawal's proof from RPC (the full node's) is what `finalizeWithdrawal` checks on
    // Ethereum: the leaf of its fields, proven against the root Ethereum holds for its block.
    let l1_client = rt.block_on(L1Client::connect(&l1.rpc, None)).unwrap();
    let mut multi_leaf_blocks = 0;
    for id in 0..withdrawals {
        let p = rpc(
            addrs[4],
            "parallax_getWithdrawalProof",
            json!([format!("{id:#x}")]),
        )
        .unwrap_or_else(|| panic!("a proof for withdrawal {id}"));
        assert_eq!(q(&p["id"]), id, "{p}");
        let b256 = |v: &Value| {
            v.as_str()
                .unwrap()
                .parse::<alloy_primitives::B256>()
                .unwrap()
        };
        let address = |v: &Value| v.as_str().unwrap().parse::<Address>().unwrap();
        let (root, leaf) = (b256(&p["root"]), b256(&p["leaf"]));
        let proof: Vec<_> = p["proof"].as_array().unwrap().iter().map(b256).collect();
        multi_leaf_blocks += usize::from(!proof.is_empty());
        rt.block_on(async {
            let attested = l1_client
                .view(
                    l1_bridge,
                    IParallaxBridge::withdrawalRootsCall {
                        l2BlockNumber: U256::from(q(&p["l2BlockNumber"])),
                    },
                )
                .await
                .unwrap();
            assert_eq!(attested, root, "withdrawal {id}: the root Ethereum holds");
            let on_l1_leaf = l1_client
                .view(
                    l1_bridge,
                    IParallaxBridge::withdrawalLeafCall {
                        id: U256::from(id),
                        l1Token: address(&p["l1Token"]),
                        l1Recipient: address(&p["l1Recipient"]),
                        amount: p["amount"].as_str().unwrap().parse().unwrap(),
                    },
                )
                .await
                .unwrap();
            assert_eq!(on_l1_leaf, leaf, "withdrawal {id}: the leaf");
            let proven = l1_client
                .view(l1_bridge, IParallaxBridge::processProofCall { leaf, proof })
                .await
                .unwrap();
            assert_eq!(proven, root, "withdrawal {id}: the proof");
        });
    }
    assert!(
        multi_leaf_blocks > 0,
        "some block held several withdrawals, so some proof is not empty"
    );

    // down stops the Ethereum too.
    assert!(script.run(&["down"]).ok);
    let l1_pid = l1.pid.unwrap();
    assert!(!parallax_testnet::l1::is_l1_process(l1_pid, l1.port));
}
