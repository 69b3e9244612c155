//! `parallax bench load`: an open-loop transaction load over one or more nodes' JSON-RPC,
//! and what it measured.
//!
//! Setup (not measured): the senders — accounts of the development mnemonic from index
//! [`FIRST_SENDER`] on — are funded from the 20 funded development accounts; for ERC-20 load
//! the test token is deployed and every sender mints itself tokens. Then every transaction of
//! the run is signed ahead, so signing costs nothing during the load.
//!
//! The load: each RPC endpoint gets `connections` keep-alive connections; each connection
//! owns a share of the senders and sends their transactions in nonce order at its share of
//! the target rate, on a fixed schedule (open loop: a connection that falls behind sends at
//! once, and the offered rate says what was really sent). A tracker polls the first endpoint
//! every 10 ms for new blocks and notes when each block appeared and which transactions it
//! holds, so submission-to-commit latency is from the moment a transaction was sent to the
//! moment the tracker saw its block (at most one poll interval late). Before the load it
//! watches the idle chain for a few seconds, for the block interval without load.
//!
//! Transfers go from each sender to its own sink address, so two senders' transactions never
//! touch the same account or slot (the load is as parallel as its senders).

use super::{
    Conn, Rpc, RpcCallError, http_request,
    tx::{self, Fees, Unsigned},
};
use alloy_primitives::{Address, B256, TxKind, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    fmt::{self, Write as _},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Index of the first sender in the development mnemonic (after the 20 funded accounts,
/// and clear of the RPC benchmark's senders).
pub const FIRST_SENDER: u32 = 1_000;
/// What each sender is funded with (10 ETH).
const SENDER_FUNDS: u128 = 10_000_000_000_000_000_000;
/// A sender with less than this is funded again (1 ETH).
const MIN_SENDER_BALANCE: u128 = 1_000_000_000_000_000_000;
/// Tokens each sender mints itself for ERC-20 load.
const SENDER_TOKENS: u128 = 1_000_000_000_000_000_000_000_000;
/// Gas limit of an ETH transfer and of a token transfer.
const TRANSFER_GAS: u64 = 21_000;
const TOKEN_TRANSFER_GAS: u64 = 60_000;
/// Gas limits of the setup transactions.
const MINT_GAS: u64 = 100_000;
const DEPLOY_GAS: u64 = 3_000_000;
/// How often the tracker asks for the head.
const POLL: Duration = Duration::from_millis(10);
/// Most blocks the tracker asks for in one batch.
const TRACKER_BATCH: u64 = 20;
/// How long the idle chain is watched before the load.
const IDLE_WATCH: Duration = Duration::from_secs(5);

/// What each transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1 wei to the sender's sink.
    Transfer,
    /// 1 token unit to the sender's sink (`Token.transfer`).
    Erc20,
}

impl Kind {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Erc20 => "erc20",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The nodes' JSON-RPC addresses; the first also serves the setup and the tracker.
    pub rpcs: Vec<SocketAddr>,
    /// Target transactions per second, over all endpoints.
    pub tps: u64,
    /// How long the load runs.
    pub duration: Duration,
    /// What the transactions do.
    pub kind: Kind,
    /// How many sender accounts.
    pub senders: usize,
    /// Keep-alive connections per endpoint.
    pub connections: usize,
    /// How long to wait after the load for accepted transactions to commit.
    pub drain: Duration,
    /// Becomes `true` to end the load early (the drain and the report still follow).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// Why the load could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setup call failed.
    #[error("setup: {0}")]
    Setup(#[from] RpcCallError),
    /// The setup did not take effect in time.
    #[error("setup: {0}")]
    Stuck(String),
    /// Bad options.
    #[error("{0}")]
    Options(String),
}

/// One connection's sending, measured.
#[derive(Debug, Default)]
struct Sent {
    /// Accepted transactions and when each was sent.
    accepted: Vec<(B256, Instant)>,
    /// Transactions sent (accepted or not).
    offered: u64,
    /// Errors by message (first 100 characters).
    errors: BTreeMap<String, u64>,
    /// Senders dropped after a refused transaction (their later nonces could not land).
    dropped_senders: u64,
    /// The connection ran out of signed transactions before the end.
    exhausted: bool,
}

/// What the tracker saw.
#[derive(Debug, Default)]
struct Seen {
    /// Blocks in order: number, when seen, how many transactions.
    blocks: Vec<(u64, Instant, usize)>,
    /// Every transaction seen in a block: when, and the block's number.
    included: HashMap<B256, (Instant, u64)>,
    /// The last error of the tracker's polling, if any.
    error: Option<String>,
}

/// What a run measured.
#[derive(Debug)]
pub struct LoadReport {
    options: LoadOptions,
    started: Instant,
    ended: Instant,
    offered: u64,
    accepted: Vec<(B256, Instant)>,
    errors: BTreeMap<String, u64>,
    dropped_senders: u64,
    exhausted: bool,
    seen: Seen,
    idle_intervals_ms: Vec<f64>,
}

/// Runs the load and returns what it measured.
pub async fn run(options: LoadOptions) -> Result<LoadReport, LoadError> {
    if options.rpcs.is_empty() {
        return Err(LoadError::Options("at least one --rpc is needed".into()));
    }
    if options.tps == 0 || options.senders == 0 || options.connections == 0 {
        return Err(LoadError::Options(
            "--tps, --senders and --connections must be at least 1".into(),
        ));
    }
    let mut rpc = Rpc::new(options.rpcs[0]);
    let chain_id = rpc.quantity("eth_chainId", json!([])).await?;
    let gas_price = rpc.quantity("eth_gasPrice", json!([])).await?;
    let fees = Fees {
        max_fee: u128::from(gas_price.max(1)) * 4 + 1_000_000_000,
        tip: 1_000_000_000,
    };
    println!(
        "chain {chain_id}: deriving {} senders and funding them",
        options.senders
    );
    let funders = tx::mnemonic_accounts(0, 20);
    let senders = tx::mnemonic_accounts(FIRST_SENDER, options.senders as u32);
    fund(&mut rpc, chain_id, fees, &funders, &senders).await?;
    let token = match options.kind {
        Kind::Transfer => None,
        Kind::Erc20 => Some(token_setup(&mut rpc, chain_id, fees, &funders[0], &senders).await?),
    };

    // Every transaction of the run, signed ahead.
    let total = options.tps as f64 * options.duration.as_secs_f64();
    let per_sender = ((total * 1.1) as usize).div_ceil(senders.len()) + 1;
    let mut nonces = Vec::with_capacity(senders.len());
    for (address, _) in &senders {
        nonces.push(rpc.pending_nonce(*address).await?);
    }
    let signing = Instant::now();
    let signed = sign_all(&senders, &nonces, per_sender, chain_id, fees, token);
    println!(
        "signed {} transactions in {:.1} s",
        per_sender * senders.len(),
        signing.elapsed().as_secs_f64()
    );

    // The tracker starts now and watches the idle chain first.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tracker = tokio::spawn(track(options.rpcs[0], seen.clone(), stop.clone()));
    tokio::time::sleep(IDLE_WATCH).await;
    let idle_intervals_ms = {
        let s = seen.lock().expect("tracker lock");
        intervals_ms(&s.blocks, None)
    };

    // The load.
    let connections = options.rpcs.len() * options.connections;
    let mut shares: Vec<Vec<VecDeque<(String, B256)>>> = vec![Vec::new(); connections];
    for (i, txs) in signed.into_iter().enumerate() {
        shares[i % connections].push(txs);
    }
    let interval = Duration::from_secs_f64(connections as f64 / options.tps as f64);
    let started = Instant::now() + Duration::from_millis(100);
    let end = started + options.duration;
    let tasks: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(i, share)| {
            let addr = options.rpcs[i % options.rpcs.len()];
            // Connections start spread over one interval, not all at once.
            let first = started + interval.mul_f64(i as f64 / connections as f64);
            tokio::spawn(send(
                addr,
                share,
                first,
                interval,
                end,
                options.stop.clone(),
            ))
        })
        .collect();
    let mut sent = Sent::default();
    for t in tasks {
        let s = t.await.expect("a sending task panicked");
        sent.accepted.extend(s.accepted);
        sent.offered += s.offered;
        for (e, n) in s.errors {
            *sent.errors.entry(e).or_default() += n;
        }
        sent.dropped_senders += s.dropped_senders;
        sent.exhausted |= s.exhausted;
    }
    // A load stopped early ended when its connections stopped sending.
    let ended = if *options.stop.borrow() {
        Instant::now()
    } else {
        Instant::now().max(end)
    };

    // Until every accepted transaction is in a block, or the drain time is up.
    let drain_until = Instant::now() + options.drain;
    loop {
        let missing = {
            let s = seen.lock().expect("tracker lock");
            sent.accepted
                .iter()
                .filter(|(h, _)| !s.included.contains_key(h))
                .count()
        };
        if missing == 0 || Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = tracker.await;
    let seen = Arc::try_unwrap(seen)
        .map(|m| m.into_inner().expect("tracker lock"))
        .unwrap_or_else(|arc| std::mem::take(&mut *arc.lock().expect("tracker lock")));
    Ok(LoadReport {
        options,
        started,
        ended,
        offered: sent.offered,
        accepted: sent.accepted,
        errors: sent.errors,
        dropped_senders: sent.dropped_senders,
        exhausted: sent.exhausted,
        seen,
        idle_intervals_ms,
    })
}

/// The sink of sender `i`: an address no one holds a key for.
fn sink(i: usize) -> Address {
    Address::from_slice(&keccak256(format!("parallax load sink {i}"))[12..])
}

/// Funds every sender holding less than [`MIN_SENDER_BALANCE`], and waits until all hold it.
async fn fund(
    rpc: &mut Rpc,
    chain_id: u64,
    fees: Fees,
    funders: &[(Address, PrivateKeySigner)],
    senders: &[(Address, PrivateKeySigner)],
) -> Result<(), LoadError> {
    let mut needy = Vec::new();
    for (address, _) in senders {
        if rpc.balance(*address).await? < U256::from(MIN_SENDER_BALANCE) {
            needy.push(*address);
        }
    }
    let mut next_nonce = Vec::with_capacity(funders.len());
    for (address, _) in funders {
        next_nonce.push(rpc.pending_nonce(*address).await?);
    }
    for (i, to) in needy.iter().enumerate() {
        let f = i % funders.len();
        let (raw, _) = tx::sign(
            &funders[f].1,
            Unsigned {
                chain_id,
                nonce: next_nonce[f],
                to: TxKind::Call(*to),
                gas: TRANSFER_GAS,
                value: U256::from(SENDER_FUNDS),
                input: Vec::new(),
                fees,
            },
        );
        next_nonce[f] += 1;
        rpc.send(&raw).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for to in &needy {
        while rpc.balance(*to).await? < U256::from(MIN_SENDER_BALANCE) {
            if Instant::now() > deadline {
                return Err(LoadError::Stuck(format!(
                    "sender {to} not funded after 120 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if !needy.is_empty() {
        println!("funded {} senders", needy.len());
    }
    Ok(())
}

/// Deploys the token and has every sender mint itself tokens; returns the token's address.
async fn token_setup(
    rpc: &mut Rpc,
    chain_id: u64,
    fees: Fees,
    deployer: &(Address, PrivateKeySigner),
    senders: &[(Address, PrivateKeySigner)],
) -> Result<Address, LoadError> {
    let nonce = rpc.pending_nonce(deployer.0).await?;
    let (raw, hash) = tx::sign(
        &deployer.1,
        Unsigned {
            chain_id,
            nonce,
            to: TxKind::Create,
            gas: DEPLOY_GAS,
            value: U256::ZERO,
            input: tx::token_deployment(deployer.0, U256::ZERO),
            fees,
        },
    );
    rpc.send(&raw).await?;
    let receipt = rpc.receipt(hash, Duration::from_secs(60)).await?;
    if receipt["status"] != json!("0x1") {
        return Err(LoadError::Stuck(format!(
            "the token deployment failed: {receipt}"
        )));
    }
    let token = deployer.0.create(nonce);
    let mut last = Vec::with_capacity(senders.len());
    for (address, key) in senders {
        let nonce = rpc.pending_nonce(*address).await?;
        let (raw, hash) = tx::sign(
            key,
            Unsigned {
                chain_id,
                nonce,
                to: TxKind::Call(token),
                gas: MINT_GAS,
                value: U256::ZERO,
                input: tx::mint(*address, U256::from(SENDER_TOKENS)),
                fees,
            },
        );
        rpc.send(&raw).await?;
        last.push(hash);
    }
    for hash in last {
        let receipt = rpc.receipt(hash, Duration::from_secs(120)).await?;
        if receipt["status"] != json!("0x1") {
            return Err(LoadError::Stuck(format!("a mint failed: {receipt}")));
        }
    }
    println!("token {token} deployed; {} senders minted", senders.len());
    Ok(token)
}

/// Signs `per_sender` transactions per sender from its next nonce, on every core.
fn sign_all(
    senders: &[(Address, PrivateKeySigner)],
    nonces: &[u64],
    per_sender: usize,
    chain_id: u64,
    fees: Fees,
    token: Option<Address>,
) -> Vec<VecDeque<(String, B256)>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let indices: Vec<usize> = (0..senders.len()).collect();
    let chunk = indices.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let key = &senders[i].1;
                            (0..per_sender as u64)
                                .map(|k| {
                                    let (to, gas, value, input) = match token {
                                        None => (sink(i), TRANSFER_GAS, U256::from(1), Vec::new()),
                                        Some(token) => (
                                            token,
                                            TOKEN_TRANSFER_GAS,
                                            U256::ZERO,
                                            tx::transfer(sink(i), U256::from(1)),
                                        ),
                                    };
                                    tx::sign(
                                        key,
                                        Unsigned {
                                            chain_id,
                                            nonce: nonces[i] + k,
                                            to: TxKind::Call(to),
                                            gas,
                                            value,
                                            input,
                                            fees,
                                        },
                                    )
                                })
                                .collect::<VecDeque<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread panicked"))
            .collect()
    })
}

/// One connection: its senders' transactions, senders in turn, one every `interval` from
/// `first` until `end`.
async fn send(
    addr: SocketAddr,
    mut senders: Vec<VecDeque<(String, B256)>>,
    first: Instant,
    interval: Duration,
    end: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Sent {
    let mut out = Sent::default();
    let host = addr.to_string();
    let mut conn: Option<Conn> = None;
    let mut turn = 0usize;
    let mut k = 0u32;
    loop {
        let due = first + interval * k;
        if due >= end {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        k += 1;
        let live = senders.len();
        let Some(s) = (0..live)
            .map(|j| (turn + j) % live)
            .find(|&j| !senders[j].is_empty())
        else {
            out.exhausted = true;
            break;
        };
        turn = s + 1;
        let (raw, hash) = senders[s].pop_front().expect("not empty");
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]})
                .to_string();
        let wire = http_request(&host, body.as_bytes());
        let sent_at = Instant::now();
        out.offered += 1;
        let c = match &mut conn {
            Some(c) => c,
            None => match Conn::open(addr).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    *out.errors.entry(e.to_string()).or_default() += 1;
                    // This nonce was never sent, so the sender's later ones cannot land.
                    senders[s].clear();
                    out.dropped_senders += 1;
                    continue;
                }
            },
        };
        let outcome = match c.post_wire(&wire).await {
            Ok(body) => super::result_of(&body).and_then(|v| {
                if v == json!(hash) {
                    Ok(())
                } else {
                    Err(format!("unexpected result {v}"))
                }
            }),
            Err(e) => {
                conn = None;
                Err(e.to_string())
            }
        };
        match outcome {
            Ok(()) => out.accepted.push((hash, sent_at)),
            Err(e) => {
                let e: String = e.chars().take(100).collect();
                *out.errors.entry(e).or_default() += 1;
                // Its later nonces cannot land now.
                senders[s].clear();
                out.dropped_senders += 1;
            }
        }
    }
    out
}

/// Polls `addr` for new blocks until `stop`, noting when each appeared and what it holds.
async fn track(addr: SocketAddr, seen: Arc<Mutex<Seen>>, stop: Arc<std::sync::atomic::AtomicBool>) {
    let mut rpc = Rpc::new(addr);
    let mut next: Option<u64> = None;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let head = match rpc.quantity("eth_blockNumber", json!([])).await {
            Ok(h) => h,
            Err(e) => {
                seen.lock().expect("tracker lock").error = Some(e.to_string());
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let now = Instant::now();
        let from = *next.get_or_insert(head + 1);
        // The new blocks in batches: under load a chain may add many blocks between polls.
        let mut n = from;
        while n <= head {
            let last = head.min(n + TRACKER_BATCH - 1);
            let calls: Vec<(&str, serde_json::Value)> = (n..=last)
                .map(|b| ("eth_getBlockByNumber", json!([format!("{b:#x}"), false])))
                .collect();
            let blocks = match rpc.batch(&calls).await {
                Ok(b) => b,
                Err(e) => {
                    seen.lock().expect("tracker lock").error = Some(e.to_string());
                    break;
                }
            };
            let mut s = seen.lock().expect("tracker lock");
            for (number, block) in (n..=last).zip(blocks) {
                let hashes: Vec<B256> = block["transactions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|h| serde_json::from_value(h.clone()).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                s.blocks.push((number, now, hashes.len()));
                for h in hashes {
                    s.included.insert(h, (now, number));
                }
            }
            drop(s);
            n = last + 1;
            next = Some(n);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Intervals (ms) between consecutive polls that saw new blocks, of those in `window` if
/// given. Blocks that appear between two polls share the later poll's time, so each interval
/// is an upper bound on the block intervals inside it.
fn intervals_ms(blocks: &[(u64, Instant, usize)], window: Option<(Instant, Instant)>) -> Vec<f64> {
    let mut times: Vec<Instant> = blocks.iter().map(|b| b.1).collect();
    times.dedup();
    let mut out: Vec<f64> = times
        .windows(2)
        .filter(|w| window.is_none_or(|(a, b)| w[1] >= a && w[1] <= b))
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl LoadReport {
    /// Transactions accepted and committed, and committed within the load window.
    fn committed(&self) -> (usize, usize) {
        let mut all = 0;
        let mut in_window = 0;
        for (h, _) in &self.accepted {
            if let Some((at, _)) = self.seen.included.get(h) {
                all += 1;
                if *at >= self.started && *at <= self.ended {
                    in_window += 1;
                }
            }
        }
        (all, in_window)
    }

    /// Every accepted transaction seen in a block, with the block's number, in the order
    /// they were sent.
    pub fn committed_transactions(&self) -> Vec<(B256, u64)> {
        self.accepted
            .iter()
            .filter_map(|(h, _)| self.seen.included.get(h).map(|(_, n)| (*h, *n)))
            .collect()
    }

    /// Committed transactions per second within the load window.
    pub fn committed_per_second(&self) -> f64 {
        self.committed().1 as f64 / self.window_seconds()
    }

    fn window_seconds(&self) -> f64 {
        (self.ended - self.started).as_secs_f64().max(1e-9)
    }

    /// Submission-to-commit latencies (ms), sorted.
    fn latencies_ms(&self) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .accepted
            .iter()
            .filter_map(|(h, sent)| {
                self.seen
                    .included
                    .get(h)
                    .map(|(at, _)| at.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
            })
            .collect();
        out.sort_by(f64::total_cmp);
        out
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let secs = self.window_seconds();
        let (committed, in_window) = self.committed();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "load: {} at {} tx/s for {:.0} s over {} endpoint(s) x {} connection(s), {} senders",
            o.kind.name(),
            o.tps,
            o.duration.as_secs_f64(),
            o.rpcs.len(),
            o.connections,
            o.senders
        );
        let _ = writeln!(
            out,
            "offered:   {} sent ({:.1}/s), {} accepted, {} refused",
            self.offered,
            self.offered as f64 / secs,
            self.accepted.len(),
            self.offered - self.accepted.len() as u64
        );
        for (e, n) in &self.errors {
            let _ = writeln!(out, "  refused {n}x: {e}");
        }
        if self.dropped_senders > 0 {
            let _ = writeln!(
                out,
                "  {} sender(s) stopped after a refusal",
                self.dropped_senders
            );
        }
        if self.exhausted {
            let _ = writeln!(
                out,
                "  a connection ran out of signed transactions: the offered rate is a lower bound"
            );
        }
        let _ = writeln!(
            out,
            "committed: {in_window} in the load window ({:.1}/s); {committed} of {} accepted in all \
             after the drain",
            in_window as f64 / secs,
            self.accepted.len()
        );
        // Per 10 s of the window, to show whether the rate held.
        let mut buckets = vec![0u64; (secs / 10.0).ceil().max(1.0) as usize];
        for (h, _) in &self.accepted {
            if let Some((at, _)) = self.seen.included.get(h)
                && *at >= self.started
                && *at <= self.ended
            {
                let last = buckets.len() - 1;
                let b = ((*at - self.started).as_secs_f64() / 10.0) as usize;
                buckets[b.min(last)] += 1;
            }
        }
        let per = buckets
            .iter()
            .map(|n| format!("{:.0}", *n as f64 / 10.0))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(out, "  committed tx/s per 10 s: {per}");
        let l = self.latencies_ms();
        let _ = writeln!(
            out,
            "submission to commit: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} transactions; \
             seen by polling every {} ms)",
            percentile(&l, 50.0),
            percentile(&l, 99.0),
            percentile(&l, 100.0),
            l.len(),
            POLL.as_millis()
        );
        let window = Some((self.started, self.ended));
        let loaded = intervals_ms(&self.seen.blocks, window);
        let mut per_block: Vec<f64> = self
            .seen
            .blocks
            .iter()
            .filter(|(_, at, _)| *at >= self.started && *at <= self.ended)
            .map(|(_, _, n)| *n as f64)
            .collect();
        per_block.sort_by(f64::total_cmp);
        let _ = writeln!(
            out,
            "blocks under load: {} (one per {:.0} ms on average); between polls that saw new \
             blocks p50 {:.0} ms, p99 {:.0} ms; transactions per block p50 {:.0}, max {:.0}",
            per_block.len(),
            secs * 1000.0 / per_block.len().max(1) as f64,
            percentile(&loaded, 50.0),
            percentile(&loaded, 99.0),
            percentile(&per_block, 50.0),
            percentile(&per_block, 100.0)
        );
        let idle = &self.idle_intervals_ms;
        let _ = writeln!(
            out,
            "blocks without load ({} s before): {} intervals, p50 {:.0} ms, max {:.0} ms",
            IDLE_WATCH.as_secs(),
            idle.len(),
            percentile(idle, 50.0),
            percentile(idle, 100.0)
        );
        if let Some(e) = &self.seen.error {
            let _ = writeln!(out, "tracker: last polling error: {e}");
        }
        f.write_str(&out)
    }
}

/// Parses `http://host:port` (or `host:port`) into an address.
pub async fn resolve(url: &str) -> Result<SocketAddr, LoadError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.starts_with("https://") || url.starts_with("https://") {
        return Err(LoadError::Options(format!(
            "{url}: https is not supported; use the node's plain http address"
        )));
    }
    let hostport = rest.trim_end_matches('/');
    let mut addrs = tokio::net::lookup_host(hostport)
        .await
        .map_err(|e| LoadError::Options(format!("{url}: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| LoadError::Options(format!("{url}: no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_are_distinct() {
        let sinks: std::collections::HashSet<_> = (0..1000).map(sink).collect();
        assert_eq!(sinks.len(), 1000);
    }

    #[test]
    fn intervals_follow_the_blocks() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let blocks = vec![
            (1, at(0), 0),
            (2, at(300), 5),
            (3, at(500), 7),
            (4, at(500), 1),
        ];
        // Blocks 3 and 4 appeared in the same poll: one interval.
        assert_eq!(intervals_ms(&blocks, None), vec![200.0, 300.0]);
        assert_eq!(intervals_ms(&blocks, Some((at(400), at(600)))), vec![200.0]);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.0);
    }

    #[tokio::test]
    async fn rpc_urls_resolve() {
        assert_eq!(
            resolve("http://127.0.0.1:8545").await.unwrap(),
            "127.0.0.1:8545".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:9/").await.unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert!(resolve("https://127.0.0.1:1").await.is_err());
    }
}
