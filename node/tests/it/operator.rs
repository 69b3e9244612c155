//! What an operator sees of a running `parallax dev` and of a four-validator `parallax run`
//! network: the gRPC admin service through `parallax admin …`, Prometheus metrics on
//! `GET /metrics`, and the log formats. Every process is started on free 127.0.0.1 ports
//! and killed when the test ends.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::common;
use common::{
    BIN, Procs, Testnet, block_number, free_addr, print_log_tails, rpc as rpc_call, start, wait_for,
};

/// A signed transfer from development account 0 on the dev chain (chain id 1337).
fn dev_transfer(nonce: u64) -> String {
    let (_, key) = parallax_genesis::dev_accounts(1).unwrap()[0];
    let signer = PrivateKeySigner::from_bytes(&key).unwrap();
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1_000u64),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_consensus::TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    format!("0x{}", hex::encode(raw))
}

/// `parallax dev` with all three servers, logging to `log` (extra arguments first).
fn dev_with(
    datadir: &Path,
    rpc: SocketAddr,
    grpc: SocketAddr,
    metrics: SocketAddr,
    log: &Path,
    before: &[&str],
) -> Child {
    Command::new(BIN)
        .args(before)
        .arg("dev")
        .arg("--datadir")
        .arg(datadir)
        .args(["--rpc-addr", &rpc.to_string()])
        .args(["--grpc-addr", &grpc.to_string()])
        .args(["--metrics-addr", &metrics.to_string()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Runs `parallax admin ARGS`, giving up after 30 s.
fn admin(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("admin")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("parallax admin {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `parallax admin ARGS` that must succeed, as its `key: value` lines.
fn admin_map(args: &[&str]) -> BTreeMap<String, String> {
    let out = admin(args);
    assert!(
        out.status.success(),
        "parallax admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("not key: value: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// One scrape: HTTP status and body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A parsed exposition: each sample by name and sorted labels.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// Parses the OpenMetrics text format strictly enough to catch what a scraper would
/// refuse: it ends with `# EOF`, every sample belongs to a family declared with HELP and TYPE
/// before it (a counter's samples end in `_total`, a histogram's in `_bucket`, `_sum` and
/// `_count`), label sets are `name="value"` pairs, values are numbers.
fn parse_exposition(text: &str) -> Samples {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    let mut samples = Samples::new();
    let text = text
        .strip_suffix("# EOF\n")
        .unwrap_or_else(|| panic!("the exposition does not end with # EOF: {text}"));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has text");
            assert!(!help.is_empty());
            helps.insert(name.into(), help.into());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "{name} declared twice"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("labels close");
                let mut labels: Vec<(String, String)> = inner
                    .split(',')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label k=v");
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .expect("quoted label value");
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                labels.sort();
                (name, labels)
            }
        };
        assert!(
            name.starts_with("parallax_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        let family = [
            ("_bucket", "histogram"),
            ("_sum", "histogram"),
            ("_count", "histogram"),
            ("_total", "counter"),
        ]
        .iter()
        .find_map(|(suffix, kind)| {
            let base = name.strip_suffix(suffix)?;
            (types.get(base).map(String::as_str) == Some(*kind)).then_some(base)
        })
        .unwrap_or(name);
        if types.get(family).map(String::as_str) == Some("counter") {
            assert!(
                name.ends_with("_total"),
                "counter sample {name} lacks _total"
            );
        }
        assert!(types.contains_key(family), "{name} has no TYPE before it");
        assert!(helps.contains_key(family), "{name} has no HELP before it");
        assert!(
            samples.insert((name.to_string(), labels), value).is_none(),
            "{line} repeated"
        );
    }
    samples
}

fn get(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    samples.get(&(name.to_string(), labels)).copied()
}

fn scrape(addr: SocketAddr) -> Samples {
    let (status, body) = http_get(addr, "/metrics").expect("metrics answered");
    assert_eq!(status, 200, "{body}");
    parse_exposition(&body)
}

/// Sends `bytes` on a fresh connection and reads what comes back until the server closes
/// it (or 5 s pass).
fn junk(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut back = Vec::new();
    let _ = s.read_to_end(&mut back);
    back
}

/// Sends a 64 KiB message to `GetStatus` (whose request is empty) and returns the
/// service's answer code.
fn oversized_status_request(addr: SocketAddr) -> tonic::Code {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let big = parallax_proto::v1::NodeStatus {
            node_name: "x".repeat(64 * 1024),
            ..Default::default()
        };
        let codec = tonic_prost::ProstCodec::<
            parallax_proto::v1::NodeStatus,
            parallax_proto::v1::NodeStatus,
        >::default();
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/parallax.v1.Admin/GetStatus");
        match tokio::time::timeout(
            Duration::from_secs(10),
            grpc.unary(tonic::Request::new(big), path, codec),
        )
        .await
        .expect("the oversized call is answered")
        {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    })
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

/// Waits for `child` to exit, at most `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn dev_node_answers_admin_calls_and_serves_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let log = dir.path().join("dev.log");
    let (rpc, grpc, metrics) = (free_addr(), free_addr(), free_addr());
    let mut procs = Procs(vec![Some(dev_with(
        &datadir,
        rpc,
        grpc,
        metrics,
        &log,
        &[],
    ))]);
    let grpc_s = grpc.to_string();
    let grpc_url = format!("http://{grpc}");

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("a first block", Duration::from_secs(60), || {
            block_number(rpc).is_some_and(|n| n >= 1)
        });

        // Status, in both address forms; the height rises between two calls.
        let first = admin_map(&["status", "--grpc", &grpc_s]);
        assert_eq!(first["chain_id"], "1337");
        assert_eq!(first["node_name"], "dev");
        assert_eq!(first["validator_index"], "0");
        assert_eq!(first["peers"], "0");
        assert_eq!(first["syncing"], "false");
        assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
        // A development node runs without peers: its one long-running part is the driver.
        assert_eq!(first["part.consensus_driver"], "running");
        assert!(first["head_hash"].starts_with("0x") && first["head_hash"].len() == 66);
        let h1: u64 = first["head_height"].parse().unwrap();
        assert!(h1 >= 1);
        let mut later = first.clone();
        wait_for("a higher head over gRPC", Duration::from_secs(30), || {
            later = admin_map(&["status", "--grpc", &grpc_url]);
            later["head_height"].parse::<u64>().unwrap() > h1
        });
        assert_ne!(later["head_hash"], first["head_hash"]);
        assert!(later["current_round"].parse::<u64>().unwrap() > 0);

        // The validator set is the genesis one.
        let genesis = parallax_genesis::Genesis::load(datadir.join("genesis.json")).unwrap();
        let expected = genesis.parallax.unwrap().validators;
        let set = admin_map(&["validators", "--grpc", &grpc_s]);
        assert_eq!(set["validators"], expected.len().to_string());
        for (i, v) in expected.iter().enumerate() {
            assert_eq!(set[&format!("validator.{i}.name")], v.name);
            assert_eq!(
                set[&format!("validator.{i}.consensus_key")],
                format!("0x{}", hex::encode(v.consensus_key.to_bytes()))
            );
            assert_eq!(
                set[&format!("validator.{i}.bridge_address")],
                format!("{:#x}", v.bridge_address)
            );
            assert_eq!(
                set[&format!("validator.{i}.voting_power")],
                v.voting_power.to_string()
            );
            assert_eq!(
                set[&format!("validator.{i}.peer_id")],
                v.peer_id.to_string()
            );
        }
        let total: u64 = expected.iter().map(|v| v.voting_power).sum();
        assert_eq!(set["total_voting_power"], total.to_string());

        let consensus = admin_map(&["consensus", "--grpc", &grpc_s]);
        assert_eq!(consensus["current_leader"], "0");
        assert!(consensus["current_round"].parse::<u64>().unwrap() > 0);
        assert!(consensus["round_timeout_ms"].parse::<u64>().unwrap() > 0);
        // A single validator's fresh chain: its safety data keeps up, nothing is held back.
        assert_eq!(consensus["signing_floor"], "0");
        let evidence = admin_map(&["evidence", "--grpc", &grpc_s]);
        assert_eq!(evidence["evidence"], "0");
        assert_eq!(admin_map(&["peers", "--grpc", &grpc_s])["peers"], "0");

        // Metrics: a well-formed exposition whose head rises and whose RPC counter counts
        // our calls.
        let s1 = scrape(metrics);
        let head1 = get(&s1, "parallax_head_height", &[]).unwrap();
        let calls1 = get(
            &s1,
            "parallax_rpc_requests_total",
            &[("method", "eth_blockNumber")],
        )
        .unwrap();
        let mut last = 0;
        for _ in 0..7 {
            last = block_number(rpc).unwrap();
        }
        // One transaction, so one committed block is not empty.
        let sent = rpc_call(rpc, "eth_sendRawTransaction", json!([dev_transfer(0)])).unwrap();
        let hash = sent["result"]
            .as_str()
            .unwrap_or_else(|| panic!("{sent}"))
            .to_string();
        wait_for("the transfer's receipt", Duration::from_secs(30), || {
            rpc_call(rpc, "eth_getTransactionReceipt", json!([hash]))
                .is_some_and(|r| r["result"].is_object())
        });
        wait_for(
            "a block after the first scrape",
            Duration::from_secs(30),
            || block_number(rpc).is_some_and(|n| n > last.max(head1 as u64)),
        );
        let mut s2 = scrape(metrics);
        assert!(get(&s2, "parallax_head_height", &[]).unwrap() > head1);
        let calls2 = get(
            &s2,
            "parallax_rpc_requests_total",
            &[("method", "eth_blockNumber")],
        )
        .unwrap();
        assert!(calls2 >= calls1 + 8.0, "{calls1} then {calls2}");
        assert!(get(&s2, "parallax_consensus_round", &[]).unwrap() > 0.0);
        assert_eq!(
            get(
                &s2,
                "parallax_node_part_up",
                &[("part", "consensus driver")]
            ),
            Some(1.0)
        );
        assert_eq!(get(&s2, "parallax_peers", &[]), Some(0.0));
        assert!(get(&s2, "parallax_mempool_transactions", &[]).is_some());
        assert!(
            get(
                &s2,
                "parallax_rejected_messages_total",
                &[("reason", "undecodable")]
            )
            .is_some()
        );
        // One observation per committed block in each per-block histogram (a commit may
        // land between reading two lines of one scrape: then scrape again).
        let mut consistent = false;
        for _ in 0..10 {
            let commits = get(&s2, "parallax_blocks_committed_total", &[]).unwrap();
            assert!(commits >= 2.0);
            let counts: Vec<f64> = [
                "parallax_commit_latency_seconds_count",
                "parallax_block_transactions_count",
                "parallax_block_execution_seconds_count",
                "parallax_block_persist_seconds_count",
            ]
            .iter()
            .map(|n| get(&s2, n, &[]).unwrap())
            .collect();
            let inf = get(
                &s2,
                "parallax_commit_latency_seconds_bucket",
                &[("le", "+Inf")],
            )
            .unwrap();
            let scheduled: f64 = ["sequential", "parallel", "handed_off", "fallback"]
                .iter()
                .map(|s| get(&s2, "parallax_blocks_executed_total", &[("schedule", s)]).unwrap())
                .sum();
            if counts.iter().all(|c| *c == commits) && inf == commits && scheduled == commits {
                consistent = true;
                break;
            }
            s2 = scrape(metrics);
        }
        assert!(consistent, "histogram counts differ from blocks committed");
        // One block held our transfer, every other one is empty.
        assert_eq!(
            get(&s2, "parallax_transactions_committed_total", &[]),
            Some(1.0)
        );
        assert_eq!(get(&s2, "parallax_block_transactions_sum", &[]), Some(1.0));
        let empty = get(&s2, "parallax_block_transactions_bucket", &[("le", "0.0")]).unwrap();
        let upto1 = get(&s2, "parallax_block_transactions_bucket", &[("le", "1.0")]).unwrap();
        assert_eq!(upto1 - empty, 1.0);
        assert_eq!(
            Some(upto1),
            get(&s2, "parallax_block_transactions_count", &[])
        );

        // Junk on either port is refused and the node keeps serving.
        let back = junk(
            metrics,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
        );
        assert!(
            back.starts_with(b"HTTP/1.1 400"),
            "{:?}",
            String::from_utf8_lossy(&back)
        );
        let (status, _) = http_get(metrics, "/").unwrap();
        assert_eq!(status, 404);
        let mut garbage = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        garbage.extend((0..4096u32).map(|i| (i * 31 % 251) as u8));
        junk(grpc, &garbage);
        junk(grpc, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(oversized_status_request(grpc), tonic::Code::OutOfRange);
        let after = admin_map(&["status", "--grpc", &grpc_s]);
        assert!(
            after["head_height"].parse::<u64>().unwrap()
                >= later["head_height"].parse::<u64>().unwrap()
        );
        scrape(metrics);

        // A node that is not there: a clear error and a failing exit, no panic.
        let closed = free_addr();
        let out = admin(&["status", "--grpc", &closed.to_string()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("cannot connect to the admin service"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        let out = admin(&["status", "--grpc", "ftp://x:1"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("expected host:port"));

        // Human-readable logs by default.
        let text = std::fs::read_to_string(&log).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("block committed"))
            .unwrap();
        assert!(line.contains("INFO") && serde_json::from_str::<Value>(line).is_err());

        // SIGTERM stops the node and its servers cleanly.
        let child = procs.0[0].as_mut().unwrap();
        sigterm(child);
        let status = wait_exit(child, Duration::from_secs(20)).expect("the node exits");
        assert!(status.success(), "{status}");
        procs.0[0] = None;
        assert!(TcpStream::connect_timeout(&grpc, Duration::from_secs(1)).is_err());
        assert!(TcpStream::connect_timeout(&metrics, Duration::from_secs(1)).is_err());
    }));
    if let Err(panic) = result {
        print_log_tails(&[("dev".into(), log.as_path())], 40);
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let log = dir.path().join("dev.log");
    let (rpc, grpc, metrics) = (free_addr(), free_addr(), free_addr());
    let mut procs = Procs(vec![Some(dev_with(
        &datadir,
        rpc,
        grpc,
        metrics,
        &log,
        &["--log-format", "json"],
    ))]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("two blocks", Duration::from_secs(60), || {
            block_number(rpc).is_some_and(|n| n >= 2)
        });
        let child = procs.0[0].as_mut().unwrap();
        sigterm(child);
        wait_exit(child, Duration::from_secs(20)).expect("the node exits");
        procs.0[0] = None;
        let text = std::fs::read_to_string(&log).unwrap();
        let mut messages = Vec::new();
        for line in text.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            assert!(v["level"].is_string(), "{line}");
            assert!(v["timestamp"].is_string(), "{line}");
            let fields = v["fields"].as_object().unwrap_or_else(|| panic!("{line}"));
            messages.push(fields["message"].as_str().unwrap_or_default().to_string());
            if fields["message"] == "block committed" {
                assert_eq!(v["level"], "INFO");
                assert!(fields["number"].is_u64(), "{line}");
            }
        }
        for expected in [
            "node started",
            "gRPC admin listening",
            "metrics listening (GET /metrics)",
            "block committed",
            "node stopped",
        ] {
            assert!(
                messages.iter().any(|m| m == expected),
                "no {expected:?} in {messages:?}"
            );
        }
    }));
    if let Err(panic) = result {
        print_log_tails(&[("dev".into(), log.as_path())], 40);
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_validator_of_four_reports_its_peers_as_validators() {
    let testnet = Testnet::generate(4);
    let procs = Procs(
        (0..4)
            .map(|i| Some(start(&testnet.config(i), &testnet.log(i))))
            .collect(),
    );
    let grpc = testnet.grpc_addr(0).to_string();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("blocks on node 0", Duration::from_secs(90), || {
            block_number(testnet.rpc_addr(0)).is_some_and(|n| n >= 2)
        });
        wait_for("three peers over gRPC", Duration::from_secs(60), || {
            admin_map(&["status", "--grpc", &grpc])["peers"] == "3"
        });
        let status = admin_map(&["status", "--grpc", &grpc]);
        assert_eq!(status["validator_index"], "0");
        assert_eq!(status["node_name"], "node0");
        let genesis = parallax_genesis::Genesis::load(testnet.dir.path().join("net/genesis.json"))
            .unwrap()
            .parallax
            .unwrap();
        assert_eq!(status["peer_id"], genesis.validators[0].peer_id.to_string());

        let peers = admin_map(&["peers", "--grpc", &grpc]);
        assert_eq!(peers["peers"], "3");
        let mut indexes: Vec<String> = (0..3)
            .map(|i| {
                let index = peers[&format!("peer.{i}.validator_index")].clone();
                let peer_id = &peers[&format!("peer.{i}.peer_id")];
                let v: usize = index.parse().unwrap();
                assert_eq!(*peer_id, genesis.validators[v].peer_id.to_string());
                assert!(
                    ["inbound", "outbound"]
                        .contains(&peers[&format!("peer.{i}.direction")].as_str())
                );
                assert!(peers[&format!("peer.{i}.addresses")].starts_with("/ip4/127.0.0.1/tcp/"));
                index
            })
            .collect();
        indexes.sort();
        assert_eq!(indexes, ["1", "2", "3"]);
        assert_eq!(
            admin_map(&["validators", "--grpc", &grpc])["validators"],
            "4"
        );

        let samples = scrape(testnet.metrics_addr(0));
        assert_eq!(get(&samples, "parallax_peers", &[]), Some(3.0));
        assert!(
            get(
                &samples,
                "parallax_gossip_messages_total",
                &[("outcome", "received")]
            )
            .unwrap()
                > 0.0
        );
    }));
    if let Err(panic) = result {
        let logs: Vec<(String, std::path::PathBuf)> = (0..4)
            .map(|i| (format!("node{i}"), testnet.log(i)))
            .collect();
        let logs: Vec<(String, &Path)> =
            logs.iter().map(|(n, p)| (n.clone(), p.as_path())).collect();
        print_log_tails(&logs, 30);
        std::panic::resume_unwind(panic);
    }
    drop(procs);
}
