//! Multi-node tests of the networking layer: several swarms in one process on 127.0.0.1.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use parallax_network::{
    Keypair, Multiaddr, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, PeerId, Topic,
    Validation, start,
};

const CHAIN_ID: u64 = 7_777;

/// What a test node's driver saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Gossip {
        topic: Topic,
        source: PeerId,
        data: Vec<u8>,
    },
    Request(Vec<u8>),
    Connected(PeerId),
    Disconnected(PeerId),
}

type Policy = Arc<dyn Fn(&[u8]) -> Validation + Send + Sync>;
type Responder = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// A running node whose events a driver task answers (validation policy, responder) and logs.
struct Node {
    handle: NetworkHandle,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn config(keypair: Keypair, listen: &str, bootnodes: Vec<Multiaddr>) -> NetworkConfig {
    let mut config = NetworkConfig::new(keypair, listen.parse().expect("address"), CHAIN_ID);
    config.bootnodes = bootnodes;
    config
}

fn accept_all() -> Policy {
    Arc::new(|_| Validation::Accept)
}

fn never_respond() -> Responder {
    Arc::new(|_| None)
}

async fn spawn(config: NetworkConfig, policy: Policy, responder: Responder) -> Node {
    let (handle, mut events) = start(config).await.expect("network starts");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let driver_handle = handle.clone();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let entry = match event {
                NetworkEvent::Gossip {
                    topic,
                    source,
                    message_id,
                    data,
                } => {
                    driver_handle.report(message_id, source, policy(&data));
                    Seen::Gossip {
                        topic,
                        source,
                        data,
                    }
                }
                NetworkEvent::SyncRequest { id, data, .. } => {
                    if let Some(response) = responder(&data) {
                        driver_handle.respond(id, response);
                    }
                    Seen::Request(data)
                }
                NetworkEvent::PeerConnected { peer } => Seen::Connected(peer),
                NetworkEvent::PeerDisconnected { peer } => Seen::Disconnected(peer),
            };
            log.lock().expect("log").push(entry);
        }
    });
    Node { handle, seen }
}

impl Node {
    fn peer_id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// The node's bound address with `/p2p/<id>`, usable as a bootnode.
    async fn bootnode_addr(&self) -> Multiaddr {
        let addr = self
            .handle
            .listen_addrs()
            .await
            .into_iter()
            .next()
            .expect("bound");
        addr.with_p2p(self.peer_id()).expect("no /p2p yet")
    }

    fn count(&self, predicate: impl Fn(&Seen) -> bool) -> usize {
        self.seen
            .lock()
            .expect("log")
            .iter()
            .filter(|s| predicate(s))
            .count()
    }

    /// Waits until an entry matching `predicate` was seen; false after `within`.
    async fn wait_for(&self, within: Duration, predicate: impl Fn(&Seen) -> bool) -> bool {
        self.wait_count(1, within, predicate).await
    }

    /// Waits until `n` entries matching `predicate` were seen; false after `within`.
    async fn wait_count(
        &self,
        n: usize,
        within: Duration,
        predicate: impl Fn(&Seen) -> bool,
    ) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.count(&predicate) >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn gossip_count(&self, data: &[u8]) -> usize {
        self.count(|s| matches!(s, Seen::Gossip { data: d, .. } if d == data))
    }
}

/// Publishes fresh warm-up messages on `topic` from `from` until `to` has received one, so the
/// subscriptions and meshes along the path are in place.
async fn warm_up(from: &Node, to: &Node, topic: Topic, within: Duration) {
    // Each warm-up message is new bytes, also when one sender warms up several paths.
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let deadline = Instant::now() + within;
    loop {
        assert!(
            Instant::now() < deadline,
            "{topic:?} never reached its receiver"
        );
        let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = format!("warmup/{topic:?}/{n}").into_bytes();
        match from.handle.publish(topic, data.clone()).await {
            Ok(()) | Err(NetworkError::NoPeersSubscribed) => {}
            Err(error) => panic!("warm-up publish: {error}"),
        }
        if to
            .wait_for(Duration::from_millis(300), |s| {
                matches!(s, Seen::Gossip { topic: t, data: d, .. }
                    if *t == topic && d.starts_with(b"warmup/"))
            })
            .await
        {
            return;
        }
    }
}

async fn connected(node: &Node, peer: PeerId, within: Duration) -> bool {
    node.wait_for(within, |s| *s == Seen::Connected(peer)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_node_on_every_topic_once() {
    init_tracing();
    tokio::time::timeout(Duration::from_secs(30), async {
        let listen = "/ip4/127.0.0.1/tcp/0";
        let a = spawn(
            config(Keypair::generate_ed25519(), listen, vec![]),
            accept_all(),
            never_respond(),
        )
        .await;
        let boot = vec![a.bootnode_addr().await];
        let b = spawn(
            config(Keypair::generate_ed25519(), listen, boot.clone()),
            accept_all(),
            never_respond(),
        )
        .await;
        let c = spawn(
            config(Keypair::generate_ed25519(), listen, boot),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&b, a.peer_id(), Duration::from_secs(5)).await);
        assert!(connected(&c, a.peer_id(), Duration::from_secs(5)).await);

        for topic in Topic::ALL {
            warm_up(&b, &c, topic, Duration::from_secs(10)).await;
        }
        for topic in Topic::ALL {
            let data = format!("payload/{topic:?}").into_bytes();
            b.handle
                .publish(topic, data.clone())
                .await
                .expect("publish");
            // A hears it from B directly; C through A, which validated and forwarded it.
            for (node, source) in [(&a, b.peer_id()), (&c, a.peer_id())] {
                let expected = Seen::Gossip {
                    topic,
                    source,
                    data: data.clone(),
                };
                assert!(
                    node.wait_for(Duration::from_secs(3), |s| *s == expected)
                        .await,
                    "{topic:?} payload missing or wrong topic/source"
                );
            }
            // The same bytes again: content-addressed, so a duplicate, not a new message.
            let again = b.handle.publish(topic, data.clone()).await;
            assert!(matches!(again, Err(NetworkError::Duplicate)), "{again:?}");
        }
        // Long enough for any second copy (another path, lazy gossip) to have arrived.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for topic in Topic::ALL {
            let data = format!("payload/{topic:?}").into_bytes();
            assert_eq!(a.gossip_count(&data), 1, "A, {topic:?}");
            assert_eq!(c.gossip_count(&data), 1, "C, {topic:?}");
            assert_eq!(b.gossip_count(&data), 0, "B hears its own message");
        }
        assert!(a.handle.stats().gossip_received >= 4);
        for node in [a, b, c] {
            node.handle.shutdown().await;
        }
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_gossip_is_not_forwarded_and_graylists_the_sender() {
    init_tracing();
    tokio::time::timeout(Duration::from_secs(30), async {
        let listen = "/ip4/127.0.0.1/tcp/0";
        // A line: A - B - C. B rejects anything starting with "bad".
        let a = spawn(
            config(Keypair::generate_ed25519(), listen, vec![]),
            accept_all(),
            never_respond(),
        )
        .await;
        let rejecting: Policy = Arc::new(|data| {
            if data.starts_with(b"bad") {
                Validation::Reject
            } else {
                Validation::Accept
            }
        });
        let b = spawn(
            config(
                Keypair::generate_ed25519(),
                listen,
                vec![a.bootnode_addr().await],
            ),
            rejecting,
            never_respond(),
        )
        .await;
        let c = spawn(
            config(
                Keypair::generate_ed25519(),
                listen,
                vec![b.bootnode_addr().await],
            ),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&c, b.peer_id(), Duration::from_secs(5)).await);
        assert!(connected(&b, a.peer_id(), Duration::from_secs(5)).await);
        warm_up(&a, &c, Topic::Votes, Duration::from_secs(10)).await;
        assert!(
            !a.handle.peers().await.iter().any(|p| p.peer == c.peer_id()),
            "C must only reach A through B"
        );

        // Rejected by B: never forwarded to C.
        a.handle
            .publish(Topic::Votes, b"bad/1".to_vec())
            .await
            .expect("publish");
        assert!(
            b.wait_for(
                Duration::from_secs(3),
                |s| matches!(s, Seen::Gossip { data, .. } if data == b"bad/1")
            )
            .await
        );
        // Accepted by B: forwarded. Published after the rejected one, so once it arrives the
        // rejected one would have too.
        a.handle
            .publish(Topic::Votes, b"good/1".to_vec())
            .await
            .expect("publish");
        assert!(
            c.wait_for(
                Duration::from_secs(3),
                |s| matches!(s, Seen::Gossip { data, .. } if data == b"good/1")
            )
            .await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            c.gossip_count(b"bad/1"),
            0,
            "a rejected message was forwarded"
        );
        assert_eq!(b.handle.stats().gossip_rejected, 1);

        // More rejections sink A's score at B below the graylist: B then drops A's messages,
        // good ones included.
        for n in 2..=6 {
            let data = format!("bad/{n}").into_bytes();
            a.handle.publish(Topic::Votes, data).await.expect("publish");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let rejected =
            b.count(|s| matches!(s, Seen::Gossip { data, .. } if data.starts_with(b"bad/")));
        assert!(rejected >= 3, "B saw only {rejected} bad messages");
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.handle
            .publish(Topic::Votes, b"good/2".to_vec())
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            b.gossip_count(b"good/2"),
            0,
            "graylisted peer's message was processed"
        );
        assert_eq!(c.gossip_count(b"good/2"), 0);
        for node in [a, b, c] {
            node.handle.shutdown().await;
        }
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_requests_are_answered_bounded_and_time_out() {
    init_tracing();
    tokio::time::timeout(Duration::from_secs(30), async {
        let listen = "/ip4/127.0.0.1/tcp/0";
        let responder: Responder = Arc::new(|data| match data {
            b"ping" => Some(b"pong".to_vec()),
            b"big" => Some(vec![0xab; 4096]),
            b"silent" => None,
            other => Some(other.iter().rev().copied().collect()),
        });
        // A keeps the default 1 KiB request limit.
        let a = spawn(
            config(Keypair::generate_ed25519(), listen, vec![]),
            accept_all(),
            responder,
        )
        .await;
        let mut b_config = config(
            Keypair::generate_ed25519(),
            listen,
            vec![a.bootnode_addr().await],
        );
        b_config.max_response_bytes = 1024;
        b_config.max_request_bytes = 4096;
        b_config.request_timeout = Duration::from_secs(2);
        let b = spawn(b_config, accept_all(), never_respond()).await;
        assert!(connected(&b, a.peer_id(), Duration::from_secs(5)).await);
        let a_id = a.peer_id();

        assert_eq!(
            b.handle
                .request(a_id, b"ping".to_vec())
                .await
                .expect("response"),
            b"pong"
        );
        assert_eq!(
            b.handle
                .request(a_id, vec![1, 2, 3])
                .await
                .expect("response"),
            vec![3, 2, 1]
        );

        let big = b.handle.request(a_id, b"big".to_vec()).await;
        assert!(
            matches!(big, Err(NetworkError::ResponseTooLarge { limit: 1024, .. })),
            "{big:?}"
        );

        // Above A's limit: A drops it unread and counts it; B sees a failure.
        let oversized = b.handle.request(a_id, vec![9; 2048]).await;
        assert!(oversized.is_err(), "{oversized:?}");
        assert_eq!(a.handle.stats().oversized_requests, 1);
        assert_eq!(
            a.count(|s| matches!(s, Seen::Request(d) if d.len() == 2048)),
            0
        );

        // Above B's own limit: refused before sending.
        let local = b.handle.request(a_id, vec![9; 5000]).await;
        assert!(
            matches!(
                local,
                Err(NetworkError::RequestTooLarge {
                    size: 5000,
                    limit: 4096
                })
            ),
            "{local:?}"
        );

        let started = Instant::now();
        let silent = b.handle.request(a_id, b"silent".to_vec()).await;
        let took = started.elapsed();
        assert!(
            matches!(silent, Err(NetworkError::Timeout { peer }) if peer == a_id),
            "{silent:?}"
        );
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
            "{took:?}"
        );

        // Nothing above broke the connection.
        assert_eq!(
            b.handle
                .request(a_id, b"ping".to_vec())
                .await
                .expect("response"),
            b"pong"
        );
        assert!(b.handle.stats().failed_requests >= 3);
        for node in [a, b] {
            node.handle.shutdown().await;
        }
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootnode_is_redialled_after_it_restarts() {
    init_tracing();
    tokio::time::timeout(Duration::from_secs(30), async {
        let keypair = Keypair::generate_ed25519();
        let a = spawn(
            config(keypair.clone(), "/ip4/127.0.0.1/tcp/0", vec![]),
            accept_all(),
            never_respond(),
        )
        .await;
        let a_id = a.peer_id();
        let boot = a.bootnode_addr().await;
        let a_listen: Multiaddr = boot
            .iter()
            .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
            .collect();
        let b = spawn(
            config(
                Keypair::generate_ed25519(),
                "/ip4/127.0.0.1/tcp/0",
                vec![boot],
            ),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&b, a_id, Duration::from_secs(5)).await);

        a.handle.shutdown().await;
        assert!(matches!(
            a.handle.publish(Topic::Votes, vec![1]).await,
            Err(NetworkError::Shutdown)
        ));
        assert!(a.handle.listen_addrs().await.is_empty());
        assert!(
            b.wait_for(Duration::from_secs(5), |s| *s == Seen::Disconnected(a_id))
                .await
        );
        // Stay down long enough for at least one redial to fail.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(b.handle.stats().dial_failures >= 1);

        let restarted = spawn(
            config(keypair, &a_listen.to_string(), vec![]),
            accept_all(),
            never_respond(),
        )
        .await;
        assert_eq!(restarted.peer_id(), a_id);
        // B redials on its own: a second PeerConnected for the same peer id.
        assert!(
            b.wait_count(2, Duration::from_secs(10), |s| *s == Seen::Connected(a_id))
                .await,
            "B did not reconnect"
        );
        assert!(connected(&restarted, b.peer_id(), Duration::from_secs(2)).await);
        assert!(b.handle.peers().await.iter().any(|p| p.peer == a_id));
        for node in [restarted, b] {
            node.handle.shutdown().await;
        }
    })
    .await
    .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_loses_gossip_without_blocking_the_network() {
    init_tracing();
    tokio::time::timeout(Duration::from_secs(30), async {
        let listen = "/ip4/127.0.0.1/tcp/0";
        // X never reads its events; its channel holds two.
        let mut x_config = config(Keypair::generate_ed25519(), listen, vec![]);
        x_config.event_capacity = 2;
        let (x, _unread_events) = start(x_config).await.expect("network starts");
        let x_addr = x
            .listen_addrs()
            .await
            .remove(0)
            .with_p2p(x.local_peer_id())
            .expect("addr");
        let y = spawn(
            config(Keypair::generate_ed25519(), listen, vec![x_addr]),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&y, x.local_peer_id(), Duration::from_secs(5)).await);

        // PeerConnected took one slot; of ten messages one fits, the rest are dropped.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut sent = 0;
        while sent < 10 {
            assert!(Instant::now() < deadline, "X never subscribed");
            match y
                .handle
                .publish(Topic::Transactions, format!("tx/{sent}").into_bytes())
                .await
            {
                Ok(()) => sent += 1,
                Err(NetworkError::NoPeersSubscribed) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(error) => panic!("publish: {error}"),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while x.stats().gossip_received < 10 {
            assert!(Instant::now() < deadline, "X received {:?}", x.stats());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let stats = x.stats();
        assert_eq!(stats.events_dropped, 9, "{stats:?}");
        assert_eq!(
            stats.gossip_ignored, 0,
            "lag drops are not the node's Ignore"
        );
        // The swarm task still serves commands with the node's channel full.
        let peers = tokio::time::timeout(Duration::from_secs(1), x.peers())
            .await
            .expect("not blocked");
        assert_eq!(peers.len(), 1);
        x.shutdown().await;
        y.handle.shutdown().await;
    })
    .await
    .expect("test finished in time");
}

/// Gossip identifies a message by a hash of its bytes, and a router never sends the same bytes
/// twice: a consensus message re-sent as it was (the pacemaker's mid-round re-send, a timeout
/// broadcast again) never reaches a validator that missed the first copy. Numbered as the
/// driver numbers its sends, the re-send does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_sent_consensus_message_reaches_a_node_that_missed_the_first() {
    use parallax_consensus::types::{BlockInfo, Hash, Message, Vote};
    use parallax_network::wire;
    init_tracing();
    tokio::time::timeout(Duration::from_secs(40), async {
        let listen = "/ip4/127.0.0.1/tcp/0";
        let a = spawn(
            config(Keypair::generate_ed25519(), listen, vec![]),
            accept_all(),
            never_respond(),
        )
        .await;
        let boot = vec![a.bootnode_addr().await];
        let b = spawn(
            config(Keypair::generate_ed25519(), listen, boot.clone()),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&b, a.peer_id(), Duration::from_secs(5)).await);
        warm_up(&a, &b, Topic::Votes, Duration::from_secs(10)).await;
        let block = BlockInfo {
            id: Hash([5; 32]),
            round: 3,
            height: 2,
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
        let vote = Message::Vote(Vote::sign(CHAIN_ID, block, 1, &key));
        let first = wire::encode_message(CHAIN_ID, &vote, Some(2), 41);
        a.handle
            .publish(Topic::Votes, first.clone())
            .await
            .expect("publish");
        assert!(
            b.wait_for(
                Duration::from_secs(3),
                |s| matches!(s, Seen::Gossip { data, .. } if *data == first)
            )
            .await
        );
        // C was not there for the first send.
        let c = spawn(
            config(Keypair::generate_ed25519(), listen, boot),
            accept_all(),
            never_respond(),
        )
        .await;
        assert!(connected(&c, a.peer_id(), Duration::from_secs(5)).await);
        warm_up(&a, &c, Topic::Votes, Duration::from_secs(10)).await;
        let again = a.handle.publish(Topic::Votes, first.clone()).await;
        assert!(
            matches!(again, Err(NetworkError::Duplicate)),
            "the same bytes are not sent again: {again:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(c.gossip_count(&first), 0);
        // The re-send as the driver makes it: the same signed vote, the next send number.
        let resent = wire::encode_message(CHAIN_ID, &vote, Some(2), 42);
        a.handle
            .publish(Topic::Votes, resent.clone())
            .await
            .expect("a numbered re-send is a new gossip message");
        assert!(
            c.wait_for(
                Duration::from_secs(3),
                |s| matches!(s, Seen::Gossip { data, .. } if *data == resent)
            )
            .await,
            "the node that missed the first copy gets the re-send"
        );
        let (x, y) = (
            wire::decode_message(&first).unwrap(),
            wire::decode_message(&resent).unwrap(),
        );
        assert_eq!(x.message, y.message, "the same message, signature included");
        assert_eq!((x.send_seq, y.send_seq), (41, 42));
        for node in [a, b, c] {
            node.handle.shutdown().await;
        }
    })
    .await
    .expect("test finished in time");
}
