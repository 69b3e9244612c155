//! The `parallax` binary as operators run it: four `parallax run` processes from a generated
//! testnet commit blocks with transactions sent over JSON-RPC; one killed with SIGKILL and
//! restarted catches up and votes again. And `parallax dev`: a one-validator chain on a
//! chosen RPC address that keeps its chain across restarts with `--datadir`.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use crate::common;
use common::{BIN, Procs, Testnet, block_number, dev, free_addr, rpc, start, wait_for};

fn signed_transfer(key: B256, chain_id: u64, nonce: u64, to: Address, value: u64) -> String {
    let signer = PrivateKeySigner::from_bytes(&key).unwrap();
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_consensus::TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    format!("0x{}", hex::encode(raw))
}

fn balance(addr: SocketAddr, who: Address) -> Option<U256> {
    let v = rpc(addr, "eth_getBalance", json!([who, "latest"]))?;
    v["result"].as_str()?.parse().ok()
}

fn last_voted(addr: SocketAddr) -> Option<u64> {
    let v = rpc(addr, "parallax_consensusStatus", json!([]))?;
    u64::from_str_radix(
        v["result"]["lastVotedRound"]
            .as_str()?
            .trim_start_matches("0x"),
        16,
    )
    .ok()
}

#[test]
fn four_processes_commit_and_a_killed_validator_catches_up() {
    let testnet = Testnet::generate(4);
    let config = |i: usize| testnet.config(i);
    let log = |i: usize| testnet.log(i);
    let rpc_addr = |i: usize| testnet.rpc_addr(i);
    let mut procs = Procs((0..4).map(|i| Some(start(&config(i), &log(i)))).collect());

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("blocks on every node", Duration::from_secs(90), || {
            (0..4).all(|i| block_number(rpc_addr(i)).is_some_and(|n| n >= 2))
        });
        // A transfer sent to one node's RPC lands on every node.
        let chain_id = u64::from_str_radix(
            rpc(rpc_addr(0), "eth_chainId", json!([])).unwrap()["result"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let (_, key) = parallax_genesis::dev_accounts(1).unwrap()[0];
        let to = Address::repeat_byte(0x42);
        let raw = signed_transfer(key, chain_id, 0, to, 12_345);
        let sent = rpc(rpc_addr(1), "eth_sendRawTransaction", json!([raw])).unwrap();
        assert!(sent["result"].is_string(), "{sent}");
        // The same bytes again are refused in geth's words.
        let again = rpc(rpc_addr(1), "eth_sendRawTransaction", json!([raw])).unwrap();
        assert_eq!(again["error"]["code"], -32000, "{again}");
        assert_eq!(again["error"]["message"], "already known", "{again}");
        wait_for(
            "the transfer on every node",
            Duration::from_secs(60),
            || (0..4).all(|i| balance(rpc_addr(i), to) == Some(U256::from(12_345))),
        );

        // SIGKILL validator 3: the others keep committing.
        let mut victim = procs.0[3].take().unwrap();
        victim.kill().unwrap();
        victim.wait().unwrap();
        let at_kill = block_number(rpc_addr(0)).unwrap();
        wait_for("blocks without node 3", Duration::from_secs(60), || {
            block_number(rpc_addr(0)).is_some_and(|n| n >= at_kill + 5)
        });
        // Restarted from its database, it catches up and votes again.
        procs.0[3] = Some(start(&config(3), &log(3)));
        let target = block_number(rpc_addr(0)).unwrap();
        wait_for("node 3 to catch up", Duration::from_secs(90), || {
            block_number(rpc_addr(3)).is_some_and(|n| n >= target)
        });
        let voted = last_voted(rpc_addr(3)).unwrap();
        wait_for("node 3 to vote again", Duration::from_secs(60), || {
            last_voted(rpc_addr(3)).is_some_and(|r| r > voted)
        });
        // Every node agrees on the block at a common height.
        let common = (0..4)
            .map(|i| block_number(rpc_addr(i)).unwrap())
            .min()
            .unwrap();
        let hashes: Vec<Value> = (0..4)
            .map(|i| {
                rpc(
                    rpc_addr(i),
                    "eth_getBlockByNumber",
                    json!([format!("{common:#x}"), false]),
                )
                .unwrap()["result"]["hash"]
                    .clone()
            })
            .collect();
        assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");
    }));
    if let Err(panic) = result {
        for i in 0..4 {
            let text = std::fs::read_to_string(log(i)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            eprintln!("--- node{i} log tail ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        std::panic::resume_unwind(panic);
    }
    // SIGTERM shuts a node down cleanly (exit code 0).
    let mut node = procs.0[0].take().unwrap();
    let pid = node.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = node.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            // Not left running after the test: it is no longer in the guard.
            let _ = node.kill();
            let _ = node.wait();
            panic!("no exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn dev_chain_serves_rpc_and_keeps_its_chain_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let datadir: PathBuf = dir.path().join("dev");
    let addr = free_addr();
    let log = dir.path().join("dev.log");
    let mut procs = Procs(vec![Some(dev(&datadir, addr, &log))]);
    wait_for("the dev chain's RPC", Duration::from_secs(60), || {
        block_number(addr).is_some()
    });
    let chain = rpc(addr, "eth_chainId", json!([])).unwrap();
    assert_eq!(chain["result"], "0x539");
    // The first development account is funded as in hardhat and anvil.
    let (first, key) = parallax_genesis::dev_accounts(1).unwrap()[0];
    assert_eq!(
        first,
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse::<Address>()
            .unwrap()
    );
    assert!(balance(addr, first).unwrap() > U256::ZERO);
    let to = Address::repeat_byte(0x99);
    let raw = signed_transfer(key, 1337, 0, to, 777);
    let sent = rpc(addr, "eth_sendRawTransaction", json!([raw])).unwrap();
    let hash = sent["result"].as_str().expect("a hash").to_owned();
    wait_for("the receipt", Duration::from_secs(30), || {
        rpc(addr, "eth_getTransactionReceipt", json!([hash]))
            .is_some_and(|r| r["result"]["status"] == "0x1")
    });
    // A malformed request gets JSON-RPC's error, and the node keeps serving.
    let unknown = rpc(addr, "eth_noSuchMethod", json!([])).unwrap();
    assert_eq!(unknown["error"]["code"], -32601);
    let junk = rpc(addr, "eth_sendRawTransaction", json!(["0xdeadbeef"])).unwrap();
    assert_eq!(junk["error"]["code"], -32000, "{junk}");
    let height = block_number(addr).unwrap();

    // Stopped and started again on the same data directory, the chain is still there.
    let mut node = procs.0[0].take().unwrap();
    Command::new("kill")
        .args(["-INT", &node.id().to_string()])
        .status()
        .unwrap();
    let status = node.wait().unwrap();
    assert!(status.success(), "{status}");
    procs.0[0] = Some(dev(&datadir, addr, &log));
    wait_for("the restarted dev chain", Duration::from_secs(60), || {
        block_number(addr).is_some_and(|n| n >= height)
    });
    assert_eq!(balance(addr, to), Some(U256::from(777)));
}

#[test]
fn a_bad_config_is_a_clear_error_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.toml"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nrpc_addr = \"not an address\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("error"), "{err}");
}
