//! The consensus driver's timers in virtual time: a one-validator chain whose blocks come a
//! minute apart runs on a `ManualClock`. It makes no block while the clock stands still, a
//! block each time the clock moves a minute, and five minutes of its time take seconds.

use parallax_genesis::{ValidatorKeys, dev_accounts, parallax_genesis};
use parallax_node::service::{ManualClock, Node, NodeOptions};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

const CHAIN_ID: u64 = 7_008;
const INTERVAL: Duration = Duration::from_secs(60);

fn round(node: &Node) -> u64 {
    node.shared().consensus.round.load(Ordering::Relaxed)
}

/// Waits (real time, at most 10 s) until `done`.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_a_minute_apart_come_as_fast_as_the_clock_moves() {
    let key = ValidatorKeys::generate().unwrap();
    let set = ValidatorKeys::equal_validators(std::slice::from_ref(&key));
    let accounts = dev_accounts(1).unwrap();
    let mut genesis = parallax_genesis(CHAIN_ID, 1_700_000_000, set, &accounts).unwrap();
    let timing = &mut genesis.parallax.as_mut().unwrap().consensus;
    timing.min_block_interval_ms = INTERVAL.as_millis() as u64;
    timing.base_round_timeout_ms = 2 * INTERVAL.as_millis() as u64;
    timing.max_round_timeout_ms = 8 * INTERVAL.as_millis() as u64;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::default());
    let node = Node::start(NodeOptions {
        name: "solo".into(),
        genesis,
        datadir: dir.path().join("solo"),
        keys: key,
        listen_addr: None,
        bootnodes: Vec::new(),
        rpc_addr: None,
        rpc_limits: Default::default(),
        grpc_addr: None,
        metrics_addr: None,
        mempool: Default::default(),
        executor_threads: 1,
        clock: clock.clone(),
        l1: None,
    })
    .await
    .unwrap();
    let started = Instant::now();

    // The clock stands still: the first block is a minute away, so none comes.
    wait_until("consensus to start", || round(&node) >= 1).await;
    let first_round = round(&node);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node.head(), 0);
    assert_eq!(round(&node), first_round);

    // Each minute of the clock is one more round (its block built, certified at once).
    for minute in 1..=5 {
        clock.advance(INTERVAL);
        wait_until(&format!("round {}", first_round + minute), || {
            round(&node) >= first_round + minute
        })
        .await;
    }
    // A block commits once its child is certified: at least three of the five.
    wait_until("three blocks committed", || node.head() >= 3).await;
    let (head, last_round) = (node.head(), round(&node));
    assert!(head <= 5, "more blocks than minutes: {head}");

    // Standing still again, nothing more happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(round(&node), last_round);
    assert_eq!(node.head(), head);

    // Five minutes of the chain's time, in real seconds.
    assert!(
        started.elapsed() < INTERVAL,
        "five virtual minutes took {:?}",
        started.elapsed()
    );
    node.shutdown().await;
}
