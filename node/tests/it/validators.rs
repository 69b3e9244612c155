//! Four validators in one process on 127.0.0.1: they commit blocks carrying transactions and
//! agree on every block; a validator stopped and restarted catches up and votes again; a
//! fresh full node syncs from genesis; with two of four down the chain halts without forking
//! and continues when one returns; malformed gossip does not disturb anyone.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use parallax_genesis::{Genesis, ValidatorKeys, dev_accounts, parallax_genesis};
use parallax_node::service::{Node, NodeOptions};
use std::{
    net::TcpListener,
    path::PathBuf,
    time::{Duration, Instant},
};

const CHAIN_ID: u64 = 7_007;

struct Net {
    genesis: Genesis,
    keys: Vec<ValidatorKeys>,
    ports: Vec<u16>,
    dir: tempfile::TempDir,
    accounts: Vec<(Address, B256)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Net {
    fn new(validators: usize, extra: usize) -> Self {
        let keys: Vec<ValidatorKeys> = (0..validators + extra)
            .map(|_| ValidatorKeys::generate().unwrap())
            .collect();
        let set = ValidatorKeys::equal_validators(&keys[..validators]);
        let accounts = dev_accounts(8).unwrap();
        let mut genesis = parallax_genesis(CHAIN_ID, 1_700_000_000, set, &accounts).unwrap();
        let timing = &mut genesis.parallax.as_mut().unwrap().consensus;
        timing.base_round_timeout_ms = 1_000;
        timing.max_round_timeout_ms = 4_000;
        timing.min_block_interval_ms = 200;
        let ports = (0..validators + extra).map(|_| free_port()).collect();
        Self {
            genesis,
            keys,
            ports,
            dir: tempfile::tempdir().unwrap(),
            accounts,
        }
    }

    fn addr(&self, i: usize) -> libp2p::Multiaddr {
        format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            self.ports[i],
            self.keys[i].peer_id()
        )
        .parse()
        .unwrap()
    }

    fn datadir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}"))
    }

    async fn start(&self, i: usize) -> Node {
        let bootnodes = (0..self.keys.len())
            .filter(|j| *j != i)
            .map(|j| self.addr(j))
            .collect();
        Node::start(NodeOptions {
            name: format!("node{i}"),
            genesis: self.genesis.clone(),
            datadir: self.datadir(i),
            keys: self.keys[i].clone(),
            listen_addr: Some(
                format!("/ip4/127.0.0.1/tcp/{}", self.ports[i])
                    .parse()
                    .unwrap(),
            ),
            bootnodes,
            rpc_addr: None,
            rpc_limits: Default::default(),
            grpc_addr: None,
            metrics_addr: None,
            mempool: Default::default(),
            executor_threads: 1,
            clock: std::sync::Arc::new(parallax_node::service::SystemClock),
            l1: None,
        })
        .await
        .unwrap()
    }

    fn transfer(&self, from: usize, nonce: u64, value: u64) -> Vec<u8> {
        let signer = PrivateKeySigner::from_bytes(&self.accounts[from].1).unwrap();
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0xee)),
            value: U256::from(value),
            ..Default::default()
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        alloy_consensus::TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every node's canonical hash and state root at every height up to `upto` agree.
fn assert_same_chain(nodes: &[&Node], upto: u64) {
    for n in 0..=upto {
        let mut seen: Option<(B256, B256)> = None;
        for node in nodes {
            let r = node.db().reader().unwrap();
            let hash = r.canonical_hash(n).unwrap().expect("block present");
            let root = r.header(n).unwrap().unwrap().state_root;
            match seen {
                None => seen = Some((hash, root)),
                Some(s) => assert_eq!(s, (hash, root), "nodes disagree at height {n}"),
            }
        }
    }
}

fn balance(node: &Node, who: Address) -> U256 {
    node.db()
        .reader()
        .unwrap()
        .account(who)
        .unwrap()
        .map_or(U256::ZERO, |a| a.balance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_commit_restart_sync_and_halt_without_forking() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let net = Net::new(4, 1);
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..4 {
        nodes.push(Some(net.start(i).await));
    }
    let get = |nodes: &Vec<Option<Node>>, i: usize| nodes[i].as_ref().unwrap().head();
    // Every networked validator runs the same parts, all of them running.
    for node in nodes.iter().flatten() {
        let parts: Vec<(&str, bool)> = node
            .health()
            .into_iter()
            .map(|h| (h.part, h.running))
            .collect();
        assert_eq!(
            parts,
            [
                ("transaction gossip", true),
                ("transaction admission", true),
                ("gossip ingress", true),
                ("block sync", true),
                ("consensus driver", true),
            ]
        );
        assert_eq!(node.failure(), None);
    }

    // Transactions sent to different validators end up in blocks everyone agrees on.
    for (k, node) in nodes.iter().enumerate() {
        let node = node.as_ref().unwrap();
        for nonce in 0..3 {
            node.submitter()
                .submit(&net.transfer(k, nonce, 1_000 + nonce))
                .unwrap();
        }
    }
    let sink = Address::repeat_byte(0xee);
    let expected = U256::from(4 * (1_000 + 1_001 + 1_002));
    wait_for("12 transfers to commit", Duration::from_secs(60), || {
        nodes
            .iter()
            .all(|n| balance(n.as_ref().unwrap(), sink) == expected)
    })
    .await;
    let refs: Vec<&Node> = nodes.iter().map(|n| n.as_ref().unwrap()).collect();
    // The lowest head as the databases hold it (what the balances were read from): the
    // published head may trail a commit by an instant.
    let low = refs
        .iter()
        .map(|n| n.db().reader().unwrap().head_number().unwrap().unwrap())
        .min()
        .unwrap();
    assert!(low >= 1);
    assert_same_chain(&refs, low);
    let with_txs: usize = (1..=low)
        .map(|n| {
            refs[0]
                .db()
                .reader()
                .unwrap()
                .transactions(n)
                .unwrap()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(with_txs, 12);

    // Malformed gossip from a peer is rejected and counted; the chain goes on.
    // (Published through node 0's network as if by a broken peer.)
    let before = get(&nodes, 1);
    nodes[0]
        .as_ref()
        .unwrap()
        .publish_raw(parallax_network::Topic::Proposals, vec![0xff; 64])
        .await;
    nodes[0]
        .as_ref()
        .unwrap()
        .publish_raw(parallax_network::Topic::Transactions, vec![1, 2, 3])
        .await;
    wait_for("blocks after junk gossip", Duration::from_secs(30), || {
        get(&nodes, 1) >= before + 3
    })
    .await;
    // Junk on the sync protocol gets an error answer, not a crash.
    let target = nodes[1].as_ref().unwrap().peer_id().unwrap();
    for junk in [vec![0xff; 100], vec![], vec![0x08]] {
        let answer = nodes[0]
            .as_ref()
            .unwrap()
            .request_raw(target, junk)
            .await
            .expect("an answer");
        assert!(
            matches!(
                parallax_network::wire::decode_sync_response(&answer),
                Ok(Err(_))
            ),
            "junk was not refused"
        );
    }
    // Peers that got the junk rejected and counted it (flood publishing reaches every
    // connected peer; one briefly reconnecting may miss it, which is no fault).
    wait_for("the junk to be counted", Duration::from_secs(20), || {
        (1..4)
            .filter(|i| {
                nodes[*i]
                    .as_ref()
                    .unwrap()
                    .shared()
                    .ingress
                    .malformed_gossip
                    .load(std::sync::atomic::Ordering::Relaxed)
                    >= 1
            })
            .count()
            >= 2
    })
    .await;

    // Stop validator 3; the other three go on. Restarted, it catches up and votes again.
    nodes[3].take().unwrap().shutdown().await;
    let stopped_at = get(&nodes, 0);
    wait_for("progress without node 3", Duration::from_secs(30), || {
        get(&nodes, 0) >= stopped_at + 5
    })
    .await;
    nodes[3] = Some(net.start(3).await);
    let target = get(&nodes, 0);
    wait_for("node 3 to catch up", Duration::from_secs(60), || {
        get(&nodes, 3) >= target
    })
    .await;
    let voted = nodes[3]
        .as_ref()
        .unwrap()
        .shared()
        .consensus
        .last_voted_round
        .load(std::sync::atomic::Ordering::Relaxed);
    wait_for("node 3 to vote again", Duration::from_secs(30), || {
        nodes[3]
            .as_ref()
            .unwrap()
            .shared()
            .consensus
            .last_voted_round
            .load(std::sync::atomic::Ordering::Relaxed)
            > voted
    })
    .await;

    // A fresh full node syncs from genesis to the tip.
    let full = net.start(4).await;
    assert_eq!(full.validator(), None);
    let tip = get(&nodes, 0);
    wait_for("the full node to sync", Duration::from_secs(60), || {
        full.head() >= tip
    })
    .await;

    // Two of four down: no quorum, so no block commits; nothing forks. What was committed
    // before may still arrive (a node's block sync catching up with its own consensus, or
    // with blocks the full node synced from the stopped ones): the bound is the highest
    // block any running node holds or saw committed once the stopped ones are gone.
    nodes[2].take().unwrap().shutdown().await;
    nodes[3].take().unwrap().shutdown().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let committed = |n: &Node| {
        n.head().max(
            n.shared()
                .consensus
                .consensus_committed
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    };
    let halted = committed(nodes[0].as_ref().unwrap())
        .max(committed(nodes[1].as_ref().unwrap()))
        .max(full.head());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        get(&nodes, 0).max(get(&nodes, 1)) <= halted,
        "blocks committed without a quorum: {} and {} above {halted}",
        get(&nodes, 0),
        get(&nodes, 1)
    );
    // One returns: the chain continues.
    nodes[2] = Some(net.start(2).await);
    wait_for(
        "progress after node 2 returns",
        Duration::from_secs(90),
        || get(&nodes, 0) >= halted + 3,
    )
    .await;
    let refs: Vec<&Node> = nodes.iter().flatten().chain([&full]).collect();
    let low = refs.iter().map(|n| n.head()).min().unwrap();
    assert_same_chain(&refs, low);

    full.shutdown().await;
    for node in nodes.into_iter().flatten() {
        node.shutdown().await;
    }
}
