//! `parallax-byzantine`: a Byzantine validator for end-to-end tests.
//!
//! Test-only: a separate binary that no `parallax` config can start. It takes a validator's
//! place in a testnet (its node config, so its real consensus and network keys, its p2p
//! address and bootnodes), speaks the production wire protocol through the node's own
//! networking and encoding, and for the given time attacks, in two phases.
//!
//! Honest nodes score gossip peers: a few rejected messages in quick succession graylist the
//! sender, after which nothing it sends is delivered. The first phase therefore paces what
//! honest nodes reject (one equivocation per topic every 16 s, under the graylist), so each
//! equivocation reaches them; the second phase sends everything at once and is shut out.
//!
//! First phase:
//!
//! - **equivocation**: in a round it leads (it forms the QC from the votes sent to it), two
//!   different signed proposals; a vote for an unknown block and then one for the real block
//!   (a double vote at the next leader); two timeouts for an upcoming round with different
//!   highest QCs (a double timeout at every validator);
//! - **replay** of older messages of other validators, renumbered so gossip delivers them;
//! - **a transaction flood**: batches of correctly signed transactions from unfunded keys.
//!
//! Second phase, all of the above at every round plus:
//! - votes for the right block at a wrong height;
//! - **forgery**: proposals carrying a QC with made-up signatures, timeouts whose highest QC
//!   certifies an unknown block with made-up signatures, sync messages with a TC that counts
//!   one signer twice;
//! - **garbage and oversized frames** on the consensus topics.
//!
//! At the end it prints one JSON line counting what it sent.

use clap::Parser;
use ed25519_dalek::SigningKey;
use eyre::{WrapErr, eyre};
use parallax_chain::ChainSpec;
use parallax_consensus::{
    Block, BlockInfo, Hash, Height, Message, Proposal, QuorumCertificate, Round, Signature,
    SignedBy, SyncInfo, Timeout, TimeoutCertificate, TimeoutSignature, ValidatorIndex,
    ValidatorSet, Vote, wire,
};
use parallax_genesis::{Genesis, NodeConfig, ValidatorKeys};
use parallax_network::{self as network, NetworkConfig, NetworkEvent, NetworkHandle, Topic};
use prost::Message as _;
use serde_json::json;
use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    path::PathBuf,
    time::{Duration, Instant},
};

/// `parallax-byzantine --config NODE.toml --seconds N`
#[derive(Debug, Parser)]
struct Args {
    /// The config of the validator whose place it takes (stop that node first).
    #[arg(long)]
    config: PathBuf,
    /// How long to attack.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Transactions flooded per second.
    #[arg(long, default_value_t = 400)]
    tx_per_second: u64,
}

/// Older messages of others kept for replay.
const HISTORY: usize = 64;
/// Rounds of votes kept while forming QCs.
const VOTE_ROUNDS: usize = 16;
/// Unfunded keys the flood signs with.
const FLOOD_KEYS: u64 = 64;
/// How often, in the first phase, one message honest nodes reject is sent per topic.
const PACE: Duration = Duration::from_secs(16);

/// What it sent, by attack.
#[derive(Debug, Default)]
struct Sent {
    /// Equivocations of the first phase (each should reach every honest node).
    paced_double_proposals: u64,
    paced_double_votes: u64,
    paced_double_timeouts: u64,
    double_proposals: u64,
    double_votes: u64,
    wrong_height_votes: u64,
    double_timeouts: u64,
    forged: u64,
    replays: u64,
    garbage: u64,
    oversized: u64,
    transactions: u64,
}

struct Byzantine {
    chain_id: u64,
    me: ValidatorIndex,
    key: SigningKey,
    validators: ValidatorSet,
    genesis_qc: QuorumCertificate,
    net: NetworkHandle,
    seq: u64,
    rng: u64,
    history: VecDeque<Message>,
    /// Votes sent to it: (round, block, height) → signer → signature.
    votes: BTreeMap<(Round, Hash, Height), BTreeMap<ValidatorIndex, Signature>>,
    attacked: HashSet<Round>,
    proposed: HashSet<Round>,
    /// In the second phase: no pacing, every attack.
    noisy: bool,
    /// When the paced equivocations were last sent (votes, timeouts, proposals).
    last_vote_attack: Option<Instant>,
    last_timeout_attack: Option<Instant>,
    last_proposal_attack: Option<Instant>,
    sent: Sent,
}

/// Whether a paced attack may go now (and marks it sent).
fn due(last: &mut Option<Instant>, noisy: bool) -> bool {
    if noisy || last.is_none_or(|t| t.elapsed() >= PACE) {
        *last = Some(Instant::now());
        true
    } else {
        false
    }
}

impl Byzantine {
    fn random(&mut self) -> u64 {
        // xorshift64*: reproducible enough, no dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.random() as u8).collect()
    }

    fn random_hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        h.copy_from_slice(&self.random_bytes(32));
        Hash(h)
    }

    fn random_signature(&mut self) -> Signature {
        let mut s = [0u8; 64];
        s.copy_from_slice(&self.random_bytes(64));
        Signature(s)
    }

    async fn publish(&mut self, message: &Message, recipient: Option<ValidatorIndex>) {
        let topic = match message {
            Message::Proposal(_) => Topic::Proposals,
            Message::Vote(_) => Topic::Votes,
            _ => Topic::Timeouts,
        };
        self.seq += 1;
        let bytes = wire::encode_message(self.chain_id, message, recipient, self.seq);
        if let Err(e) = self.net.publish(topic, bytes).await {
            eprintln!("publish failed: {e}");
        }
    }

    /// Sends to every other validator (the next leader among them).
    async fn send_to_all(&mut self, message: Message) {
        for v in 0..self.validators.len() as ValidatorIndex {
            if v != self.me {
                self.publish(&message, Some(v)).await;
            }
        }
    }

    async fn on_message(&mut self, message: Message, recipient: Option<ValidatorIndex>) {
        if message.author() == Some(self.me) {
            return;
        }
        match &message {
            Message::Vote(v) if recipient == Some(self.me) => {
                let v = v.clone();
                self.collect_vote(v).await;
                return;
            }
            Message::Proposal(p) => {
                let p = (**p).clone();
                self.attack_round(&p).await;
            }
            _ => {}
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(message);
    }

    /// Everything it does in a round an honest leader proposed in.
    async fn attack_round(&mut self, p: &Proposal) {
        let round = p.block.round();
        if !self.attacked.insert(round) {
            return;
        }
        let info = p.block.info();
        if due(&mut self.last_vote_attack, self.noisy) {
            // A vote for a block nobody proposed, first, then the real one: a double vote.
            let unknown = BlockInfo {
                id: self.random_hash(),
                ..info
            };
            let decoy = Vote::sign(self.chain_id, unknown, self.me, &self.key);
            self.send_to_all(Message::Vote(decoy)).await;
            let real = Vote::sign(self.chain_id, info, self.me, &self.key);
            self.send_to_all(Message::Vote(real)).await;
            self.sent.double_votes += 1;
            if !self.noisy {
                self.sent.paced_double_votes += 1;
            }
        }
        if p.qc.round > 0 && due(&mut self.last_timeout_attack, self.noisy) {
            // Two timeouts for an upcoming round (honest nodes take timeouts up to 64 rounds
            // ahead; rounds are short under load), each with a valid highest QC.
            let ahead = round + 2;
            let low = Timeout::sign(
                self.chain_id,
                ahead,
                self.genesis_qc.clone(),
                self.me,
                &self.key,
            );
            let high = Timeout::sign(self.chain_id, ahead, p.qc.clone(), self.me, &self.key);
            self.publish(&Message::Timeout(low), None).await;
            self.publish(&Message::Timeout(high), None).await;
            self.sent.double_timeouts += 1;
            if !self.noisy {
                self.sent.paced_double_timeouts += 1;
            }
        }
        // A replay of something older (a stale round: ignored, not penalised).
        if !self.history.is_empty() {
            let i = (self.random() as usize) % self.history.len();
            let old = self.history[i].clone();
            self.publish(&old, None).await;
            self.sent.replays += 1;
        }
        if !self.noisy {
            return;
        }
        // The right block with a wrong height.
        let wrong = BlockInfo {
            height: info.height + 1,
            ..info
        };
        let wrong = Vote::sign(self.chain_id, wrong, self.me, &self.key);
        self.send_to_all(Message::Vote(wrong)).await;
        self.sent.wrong_height_votes += 1;
        self.forge(p).await;
    }

    /// A QC with made-up signatures in a proposal of the next round; a timeout whose highest
    /// QC certifies an unknown block; a TC counting this validator three times.
    async fn forge(&mut self, p: &Proposal) {
        let round = p.block.round();
        let forged_qc = QuorumCertificate {
            signatures: p
                .qc
                .signatures
                .iter()
                .map(|s| SignedBy {
                    signer: s.signer,
                    signature: self.random_signature(),
                })
                .collect(),
            ..p.qc.clone()
        };
        let block = Block::new(
            round + 1,
            p.qc.height + 1,
            p.qc.block_id,
            self.me,
            Proposal::participants(&forged_qc, None),
            self.random_bytes(32),
        );
        let forged = Proposal::sign(self.chain_id, block, forged_qc, None, &self.key);
        self.publish(&Message::Proposal(Box::new(forged)), None)
            .await;
        let unknown_qc = QuorumCertificate {
            round: round.saturating_sub(1).max(1),
            height: p.block.height(),
            block_id: self.random_hash(),
            signatures: (0..self.validators.len() as ValidatorIndex)
                .map(|signer| SignedBy {
                    signer,
                    signature: Signature([7; 64]),
                })
                .collect(),
        };
        let t = Timeout::sign(self.chain_id, round + 1, unknown_qc, self.me, &self.key);
        self.publish(&Message::Timeout(t), None).await;
        let twice = TimeoutSignature {
            signer: self.me,
            high_qc_round: 0,
            signature: Timeout::sign(
                self.chain_id,
                round,
                self.genesis_qc.clone(),
                self.me,
                &self.key,
            )
            .signature,
        };
        let tc = TimeoutCertificate {
            round,
            signatures: vec![twice, twice, twice],
            high_qc: self.genesis_qc.clone(),
        };
        let sync = SyncInfo {
            highest_qc: p.qc.clone(),
            highest_tc: Some(tc),
        };
        self.send_to_all(Message::Sync(Box::new(sync))).await;
        self.sent.forged += 3;
    }

    /// Collects the votes sent to it as the next leader; on a quorum, proposes twice.
    async fn collect_vote(&mut self, v: Vote) {
        let key = (v.round, v.block_id, v.height);
        let signers = self.votes.entry(key).or_default();
        signers.insert(v.voter, v.signature);
        let power: u64 = signers
            .keys()
            .filter_map(|s| self.validators.power(*s))
            .sum();
        let quorum = self.validators.is_quorum(power);
        let signatures: Vec<SignedBy> = signers
            .iter()
            .map(|(signer, signature)| SignedBy {
                signer: *signer,
                signature: *signature,
            })
            .collect();
        while self.votes.len() > VOTE_ROUNDS {
            self.votes.pop_first();
        }
        let round = v.round + 1;
        if !quorum || self.proposed.contains(&round) {
            return;
        }
        if !due(&mut self.last_proposal_attack, self.noisy) {
            return;
        }
        self.proposed.insert(round);
        let qc = QuorumCertificate {
            round: v.round,
            height: v.height,
            block_id: v.block_id,
            signatures,
        };
        for _ in 0..2 {
            let payload = self.random_bytes(64);
            let block = Block::new(
                round,
                v.height + 1,
                v.block_id,
                self.me,
                Proposal::participants(&qc, None),
                payload,
            );
            let p = Proposal::sign(self.chain_id, block, qc.clone(), None, &self.key);
            self.publish(&Message::Proposal(Box::new(p)), None).await;
        }
        self.sent.double_proposals += 1;
        if !self.noisy {
            self.sent.paced_double_proposals += 1;
        }
    }

    async fn garbage(&mut self) {
        let len = 1 + (self.random() as usize) % 2_000;
        let bytes = self.random_bytes(len);
        let topic = [Topic::Proposals, Topic::Votes, Topic::Timeouts][self.random() as usize % 3];
        let _ = self.net.publish(topic, bytes).await;
        // A real message cut short.
        if let Some(m) = self.history.back().cloned() {
            let mut bytes = wire::encode_message(self.chain_id, &m, None, self.random());
            bytes.truncate(bytes.len() / 2);
            let _ = self.net.publish(Topic::Timeouts, bytes).await;
        }
        self.sent.garbage += 2;
    }

    async fn oversized(&mut self) {
        let bytes = vec![0x5a; network::DEFAULT_MAX_GOSSIP_BYTES + 4096];
        let _ = self.net.publish(Topic::Votes, bytes).await;
        self.sent.oversized += 1;
    }
}

/// A correctly signed transfer from one of [`FLOOD_KEYS`] fresh, unfunded keys.
fn flood_tx(chain_id: u64, seed: u64, n: u64) -> Vec<u8> {
    use alloy_primitives::{Address, TxKind, U256};
    use parallax_loadgen::tx::{Fees, Unsigned, sign};
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&(seed ^ (n % FLOOD_KEYS)).to_be_bytes());
    secret[31] = 1;
    let key = alloy_signer_local::PrivateKeySigner::from_slice(&secret)
        .expect("a valid secp256k1 scalar");
    let (raw, _) = sign(
        &key,
        Unsigned {
            chain_id,
            nonce: n / FLOOD_KEYS,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            gas: 21_000,
            value: U256::from(1_000_000u64),
            input: vec![],
            fees: Fees {
                max_fee: 2_000_000_000,
                tip: 1_000_000_000,
            },
        },
    );
    hex::decode(raw.trim_start_matches("0x")).expect("hex we wrote")
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let args = Args::parse();
    let config = NodeConfig::load(&args.config).wrap_err("node config")?;
    let genesis = Genesis::load(&config.genesis_file).wrap_err("genesis")?;
    let keys = ValidatorKeys::load(&config.key_file).wrap_err("keys")?;
    let parallax = genesis
        .parallax
        .clone()
        .ok_or_else(|| eyre!("the genesis has no parallax section"))?;
    let me = keys
        .validator_index(&parallax)
        .ok_or_else(|| eyre!("these keys are not a validator's"))? as ValidatorIndex;
    let spec = ChainSpec::new(genesis).map_err(|e| eyre!("chain spec: {e}"))?;
    let validators = ValidatorSet::new(
        spec.validators
            .iter()
            .map(|v| (*v.consensus_key.verifying_key(), v.voting_power))
            .collect(),
    )
    .map_err(|e| eyre!("validator set: {e}"))?;

    let mut net_config = NetworkConfig::new(
        keys.network_keypair(),
        config.network.listen_addr.clone(),
        spec.chain_id,
    );
    net_config.bootnodes = config.network.bootnodes.clone();
    // Large enough to send frames every honest node refuses.
    net_config.max_gossip_bytes = network::DEFAULT_MAX_GOSSIP_BYTES * 2;
    let (net, mut events) = network::start(net_config)
        .await
        .map_err(|e| eyre!("network: {e}"))?;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut b = Byzantine {
        chain_id: spec.chain_id,
        me,
        key: keys.consensus_key().clone(),
        validators,
        genesis_qc: QuorumCertificate::genesis(BlockInfo::genesis(spec.genesis_id())),
        net,
        seq: seed,
        rng: seed,
        history: VecDeque::new(),
        votes: BTreeMap::new(),
        attacked: HashSet::new(),
        proposed: HashSet::new(),
        noisy: false,
        last_vote_attack: None,
        last_timeout_attack: None,
        last_proposal_attack: None,
        sent: Sent::default(),
    };
    eprintln!("byzantine validator {me} attacking for {} s", args.seconds);

    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let noisy_from = start + Duration::from_secs(args.seconds / 2);
    let mut garbage = tokio::time::interval(Duration::from_millis(250));
    let mut oversized = tokio::time::interval(Duration::from_secs(10));
    let batch = (args.tx_per_second / 10).max(1);
    let mut flood = tokio::time::interval(Duration::from_millis(100));
    let mut next_tx = 0u64;
    let mut seen_peers: HashMap<String, ()> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => break,
            event = events.recv() => match event {
                None => break,
                Some(NetworkEvent::Gossip { topic, source, message_id, data }) => {
                    // Accept everything: it relays like anyone (and sees its own copies).
                    b.net.report(message_id, source, network::Validation::Accept);
                    if matches!(topic, Topic::Proposals | Topic::Votes | Topic::Timeouts)
                        && let Ok(env) = wire::decode_message(&data)
                        && env.chain_id == b.chain_id
                    {
                        b.on_message(env.message, env.recipient).await;
                    }
                }
                Some(NetworkEvent::PeerConnected { peer }) => {
                    seen_peers.insert(peer.to_string(), ());
                }
                Some(_) => {}
            },
            _ = garbage.tick() => {
                if !b.noisy && Instant::now() >= noisy_from {
                    eprintln!("second phase: everything at once");
                    b.noisy = true;
                }
                if b.noisy {
                    b.garbage().await;
                }
            }
            _ = oversized.tick() => {
                if b.noisy {
                    b.oversized().await;
                }
            }
            _ = flood.tick() => {
                let txs: Vec<Vec<u8>> = (next_tx..next_tx + batch)
                    .map(|n| flood_tx(b.chain_id, seed, n))
                    .collect();
                next_tx += batch;
                let bytes = parallax_proto::v1::TransactionBatch { transactions: txs }.encode_to_vec();
                if b.net.publish(Topic::Transactions, bytes).await.is_ok() {
                    b.sent.transactions += batch;
                }
            }
        }
    }
    let s = &b.sent;
    println!(
        "{}",
        json!({
            "validator": me,
            "peers": seen_peers.len(),
            "paced": {
                "double_proposals": s.paced_double_proposals,
                "double_votes": s.paced_double_votes,
                "double_timeouts": s.paced_double_timeouts,
            },
            "double_proposals": s.double_proposals,
            "double_votes": s.double_votes,
            "wrong_height_votes": s.wrong_height_votes,
            "double_timeouts": s.double_timeouts,
            "forged": s.forged,
            "replays": s.replays,
            "garbage": s.garbage,
            "oversized": s.oversized,
            "transactions": s.transactions,
        })
    );
    b.net.shutdown().await;
    Ok(())
}
