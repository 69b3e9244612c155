//! One Byzantine validator among four real nodes, under a transaction load (issue 22).
//!
//! node3 is stopped and `parallax-byzantine` (this crate's test-only binary) takes its place
//! with node3's real keys and address, while `parallax bench load` sends transfers to node0
//! and node1. For 30 s it equivocates at a pace that keeps it under the gossip graylist (two
//! proposals in a round it leads, a vote for an unknown block before a real vote, two
//! timeouts for a round), replays old messages and floods the network with signed
//! transactions nobody can pay for; then for 30 s it does all of that at every round and
//! adds wrong-height votes, forged certificates, garbage and oversized frames (and is shut out
//! by the honest nodes' peer scoring).
//!
//! The three honest validators keep committing throughout, agree on every block with the
//! full node, commit the load, count what they refused, and every honest node records the
//! first phase's double votes, double timeouts and (when it led a round) double proposals as
//! evidence, and none against an honest validator.

use crate::common;

use common::{Script, base_port, block_hash, height, rpc};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The whole test, builds excluded.
const BUDGET: Duration = Duration::from_secs(420);
/// How long the Byzantine validator attacks.
const ATTACK_SECS: u64 = 60;
/// The longest the chain may go without a block during the attack (the Byzantine leader's
/// rounds time out; backoff after a few of them).
const MAX_STALL: Duration = Duration::from_secs(20);

/// Kills a child process if the test ends before it does.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The text of a node's `/metrics`.
fn scrape(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The value of a metric line `name{labels} value` (or `name value`).
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn evidence_kinds(addr: SocketAddr, validator: u32) -> BTreeSet<String> {
    let list = rpc(
        addr,
        "parallax_evidence",
        json!([{ "validator": validator }]),
    )
    .expect("parallax_evidence");
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["validator"], validator);
            e["kind"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn one_byzantine_validator_under_load_halts_nothing_and_every_equivocation_is_evidence() {
    let _one_at_a_time = common::one_testnet_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (script, _cleanup) = Script::in_tempdir(tmp.path(), BUDGET);
    let base = base_port(5);
    let up = script.run(&["up", "--validators", "4", "--no-l1", "--base-port", &base]);
    assert!(up.ok, "up failed: {}", up.stderr);
    let m = script.manifest();
    let node = |name: &str| m.nodes[m.node(name).unwrap()].clone();
    let honest: Vec<SocketAddr> = ["node0", "node1", "node2", "full0"]
        .iter()
        .map(|n| node(n).rpc_addr().unwrap())
        .collect();
    script.wait_for("blocks", || height(honest[0]).is_some_and(|h| h >= 3));

    // node3's place is taken by the Byzantine validator.
    assert!(script.run(&["stop", "node3"]).ok);
    let byz_log = std::fs::File::create(tmp.path().join("byzantine.log")).unwrap();
    let mut byzantine = Guard(Some(
        Command::new(env!("CARGO_BIN_EXE_parallax-byzantine"))
            .arg("--config")
            .arg(&node("node3").config)
            .args(["--seconds", &ATTACK_SECS.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(byz_log)
            .spawn()
            .unwrap(),
    ));
    // The load, to two honest validators.
    let load_log = tmp.path().join("load.log");
    let record = tmp.path().join("load.jsonl");
    let mut load = Guard(Some(
        Command::new(&script.bin)
            .args(["bench", "load"])
            .args(["--rpc", &node("node0").rpc_http])
            .args(["--rpc", &node("node1").rpc_http])
            .args(["--tps", "20", "--duration", &(ATTACK_SECS + 10).to_string()])
            .args([
                "--kind",
                "transfer",
                "--senders",
                "30",
                "--connections",
                "1",
            ])
            .args(["--drain", "60"])
            .arg("--record")
            .arg(&record)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&load_log).unwrap())
            .stderr(std::fs::File::create(tmp.path().join("load.err")).unwrap())
            .spawn()
            .unwrap(),
    ));

    // During the attack the chain never stalls for long.
    let from = height(honest[0]).unwrap();
    let attack_end = Instant::now() + Duration::from_secs(ATTACK_SECS);
    let (mut last, mut last_at) = (from, Instant::now());
    let mut longest = Duration::ZERO;
    while Instant::now() < attack_end {
        std::thread::sleep(Duration::from_millis(500));
        let h = height(honest[0]).unwrap_or(last);
        if h > last {
            longest = longest.max(last_at.elapsed());
            (last, last_at) = (h, Instant::now());
        }
        assert!(
            last_at.elapsed() <= MAX_STALL,
            "no block for {:?} at height {last} under attack",
            last_at.elapsed()
        );
    }
    let to = height(honest[0]).unwrap();
    eprintln!("under attack: blocks {from}..{to}, the longest wait for a block {longest:?}");
    assert!(
        to >= from + 15,
        "only {} blocks in {ATTACK_SECS} s",
        to - from
    );

    // What the Byzantine validator did.
    let child = byzantine.0.as_mut().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < script.deadline,
            "the Byzantine validator did not end"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    byzantine.0 = None;
    assert!(status.success(), "parallax-byzantine failed: {status}");
    let sent: Value = serde_json::from_str(out.trim()).expect("its report");
    eprintln!("the Byzantine validator sent: {sent}");
    for attack in [
        "double_votes",
        "double_timeouts",
        "forged",
        "wrong_height_votes",
        "replays",
        "garbage",
        "oversized",
        "transactions",
    ] {
        assert!(
            sent[attack].as_u64().unwrap() > 0,
            "no {attack} sent: {sent}"
        );
    }

    // The load ends and committed.
    let child = load.0.as_mut().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < script.deadline, "the load did not end");
        std::thread::sleep(Duration::from_millis(250));
    };
    load.0 = None;
    eprintln!(
        "--- load ---\n{}",
        std::fs::read_to_string(&load_log).unwrap_or_default()
    );
    assert!(status.success(), "the load failed: {status}");
    let committed = std::fs::read_to_string(&record).unwrap().lines().count();
    assert!(
        committed >= 200,
        "only {committed} load transactions committed"
    );

    // Every honest node holds the same blocks.
    let top = honest.iter().map(|a| height(*a).unwrap()).min().unwrap();
    for n in 1..=top {
        let hash = block_hash(honest[0], n).unwrap();
        for a in &honest[1..] {
            assert_eq!(
                block_hash(*a, n).as_deref(),
                Some(hash.as_str()),
                "block {n} on {a}"
            );
        }
    }

    // Evidence: the first phase's equivocations, on every honest node (gossiped from whichever
    // caught them), and nothing against an honest validator.
    let paced = &sent["paced"];
    assert!(paced["double_votes"].as_u64().unwrap() > 0, "{sent}");
    assert!(paced["double_timeouts"].as_u64().unwrap() > 0, "{sent}");
    let mut wanted: BTreeSet<String> = ["double_vote", "double_timeout"].map(String::from).into();
    if paced["double_proposals"].as_u64().unwrap() > 0 {
        wanted.insert("double_proposal".into());
    }
    for a in &honest {
        script.wait_for("evidence to reach every node", || {
            evidence_kinds(*a, 3).is_superset(&wanted)
        });
        for v in 0..3 {
            assert!(
                evidence_kinds(*a, v).is_empty(),
                "evidence against {v} on {a}"
            );
        }
    }
    eprintln!("evidence on every honest node: {wanted:?}");

    // The validators counted what they refused: the evidence, and the second phase's first
    // forgeries or garbage before its sender was graylisted.
    for name in ["node0", "node1", "node2"] {
        let text = scrape(&node(name).metrics);
        let double_votes = metric(&text, "parallax_equivocations_total{kind=\"double_vote\"}");
        let refused: u64 = [
            "invalid_signature",
            "duplicate_signer",
            "malformed",
            "undecodable",
        ]
        .iter()
        .map(|r| {
            metric(
                &text,
                &format!("parallax_rejected_messages_total{{reason=\"{r}\"}}"),
            )
        })
        .sum();
        eprintln!(
            "{name}: double votes recorded {double_votes}, forged or malformed refused {refused}"
        );
        assert!(double_votes >= 1 && refused >= 1, "{name}");
    }
}
