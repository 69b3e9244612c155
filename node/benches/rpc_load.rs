//! The JSON-RPC load benchmark of issue 6: `parallax dev` against `hardhat node`, on the same
//! machine, in the same run.
//!
//! Both servers are started (and killed on every way out: drop guards, unwinding panics, and
//! a parent-death signal for when this process is killed), the ERC-20 `Token` is deployed on
//! each with a funded development account, and then, for each method, a closed-loop load of
//! `--concurrency` keep-alive HTTP/1.1 connections runs for `--duration` seconds after a
//! warm-up, against one target at a time. Every request's latency is recorded; a JSON-RPC
//! error, an HTTP error, a broken connection or a wrong result counts as an error. The table
//! gives requests, errors, successful requests per second and latency percentiles per target
//! and method, then the Parallax/hardhat ratio and whether the bar of issue 6 (at least 5×
//! hardhat's requests/s on every read method) is met.
//!
//! ```sh
//! cargo bench -p parallax-node --bench rpc_load -- --duration 10 --concurrency 16
//! ```
//!
//! What it prints and how to read it: `node/benches/README.md`.

use alloy_primitives::{Address, B256, Bytes as EvmBytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use bytes::Bytes;
use parallax_loadgen::{
    Conn, Rpc, RpcCallError, http_request, request_body,
    tx::{self, Fees, Unsigned, balance_of},
};
use serde_json::{Value, json, value::RawValue};
use std::{
    collections::VecDeque,
    fmt::Write as _,
    net::{SocketAddr, TcpListener},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, ExitCode, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

/// The `parallax` binary under test.
const PARALLAX: &str = env!("CARGO_BIN_EXE_parallax");
/// Parallax dev chains' chain id.
const PARALLAX_CHAIN_ID: u64 = 1337;
/// Hardhat's default chain id.
const HARDHAT_CHAIN_ID: u64 = 31337;
/// The read methods: the bar of issue 6 applies to these.
const READS: [Method; 3] = [Method::BlockNumber, Method::GetBalance, Method::Call];
/// The bar: Parallax's requests/s on each read method over hardhat's.
const BAR: f64 = 5.0;
/// Fee cap of every transaction the benchmark signs (100 gwei: far above either chain's base
/// fee during a run, so no transaction waits on the fee).
const MAX_FEE: u128 = 100_000_000_000;
/// Priority fee of every transaction the benchmark signs (1 gwei).
const TIP: u128 = 1_000_000_000;
/// What each load sender is funded with before the timed phases (5 ETH).
const SENDER_FUNDS: u128 = 5_000_000_000_000_000_000;
/// The token supply minted to the holder by the constructor (one million tokens).
const SUPPLY: u128 = 1_000_000_000_000_000_000_000_000;
/// Where the load's transfers go.
const SINK: Address = Address::repeat_byte(0x5a);
/// Dev account that deploys the token.
const DEPLOYER: usize = 0;
/// Dev account that holds the token supply (the `balanceOf` target of `eth_call`).
const HOLDER: usize = 1;
/// Dev accounts that fund the load senders (the rest of the 20).
const FUNDERS: std::ops::Range<usize> = 2..20;

/// A benchmarked JSON-RPC method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// `eth_blockNumber`.
    BlockNumber,
    /// `eth_getBalance` of the development accounts at `latest`.
    GetBalance,
    /// `eth_call` of the token's `balanceOf(holder)` at `latest`.
    Call,
    /// `eth_sendRawTransaction` of pre-signed transfers.
    SendRawTransaction,
}

impl Method {
    /// Every method, in the order the benchmark runs them.
    const ALL: [Method; 4] = [
        Method::BlockNumber,
        Method::GetBalance,
        Method::Call,
        Method::SendRawTransaction,
    ];

    /// The JSON-RPC method name.
    fn name(self) -> &'static str {
        match self {
            Method::BlockNumber => "eth_blockNumber",
            Method::GetBalance => "eth_getBalance",
            Method::Call => "eth_call",
            Method::SendRawTransaction => "eth_sendRawTransaction",
        }
    }

    /// A method from its name, with or without the `eth_` prefix.
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|m| {
            let name = m.name();
            s == name || s.eq_ignore_ascii_case(&name[4..])
        })
    }
}

/// The command line.
struct Args {
    /// Measured seconds per target, method and round.
    duration: Duration,
    /// Rounds per read method: each runs Parallax, then hardhat, so that a change in the
    /// machine's speed during the run (it is shared) falls on both alike.
    rounds: usize,
    /// Unmeasured seconds before each measurement (connections open, caches warm).
    warmup: Duration,
    /// Concurrent keep-alive connections.
    concurrency: usize,
    /// The methods to run, in order.
    methods: Vec<Method>,
    /// Worker threads of the load generator's runtime.
    threads: usize,
    /// Pre-signed transactions per target for `eth_sendRawTransaction`.
    txs: usize,
    /// Accounts the transactions come from (derived from the mnemonic after the 20 dev ones).
    senders: usize,
}

const USAGE: &str = "usage: rpc_load [--duration SECS] [--rounds N] [--warmup SECS] [--concurrency N] \
[--methods blockNumber,getBalance,call,sendRawTransaction] [--threads N] [--txs N] [--senders N]";

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            duration: Duration::from_secs(10),
            rounds: 3,
            warmup: Duration::from_secs(2),
            concurrency: 16,
            methods: Method::ALL.to_vec(),
            threads: 1,
            txs: 32_000,
            senders: 256,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            // cargo bench passes --bench; libtest-style filters are not ours either.
            if flag == "--bench" {
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.into());
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
            };
            let number = |v: String| -> Result<f64, String> {
                v.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n > 0.0)
                    .ok_or_else(|| format!("{flag}: not a positive number: {v:?}"))
            };
            match flag.as_str() {
                "--duration" => args.duration = Duration::from_secs_f64(number(value()?)?),
                "--warmup" => {
                    let v = value()?;
                    args.warmup = if v == "0" {
                        Duration::ZERO
                    } else {
                        Duration::from_secs_f64(number(v)?)
                    };
                }
                "--rounds" => args.rounds = number(value()?)? as usize,
                "--concurrency" => args.concurrency = number(value()?)? as usize,
                "--threads" => args.threads = number(value()?)? as usize,
                "--txs" => args.txs = number(value()?)? as usize,
                "--senders" => args.senders = number(value()?)? as usize,
                "--methods" => {
                    args.methods = value()?
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| Method::parse(s).ok_or_else(|| format!("unknown method {s:?}")))
                        .collect::<Result<_, _>>()?;
                    if args.methods.is_empty() {
                        return Err("--methods: no method".into());
                    }
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if args.concurrency == 0 || args.threads == 0 || args.rounds == 0 {
            return Err("--concurrency, --threads and --rounds must be at least 1".into());
        }
        args.senders = args.senders.max(args.concurrency);
        Ok(args)
    }
}

/// A server process, killed (with its process group) when dropped.
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd` with its output in `log`, in its own process group, with SIGKILL as its
    /// parent-death signal so that it dies with this process however this process ends.
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("create a server log");
        let err = out.try_clone().expect("clone the log handle");
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only calls
        // async-signal-safe functions (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl: then we were re-parented.
                if libc::getppid() == 1 {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child, log }
    }

    /// The last lines of the server's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails if the process has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); its log ends with:\n{}",
                self.name,
                self.log_tail()
            )),
            _ => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole group: a server's helpers die with it.
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Waits until the server answers `eth_chainId` with `chain_id`.
async fn wait_ready(server: &mut Server, addr: SocketAddr, chain_id: u64) -> Result<(), String> {
    let start = Instant::now();
    let mut rpc = Rpc::new(addr);
    loop {
        server.check_alive()?;
        match rpc.quantity("eth_chainId", json!([])).await {
            Ok(id) if id == chain_id => return Ok(()),
            Ok(id) => {
                return Err(format!(
                    "{}: chain id {id}, expected {chain_id}",
                    server.name
                ));
            }
            Err(_) if start.elapsed() < Duration::from_secs(180) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("{} not ready after 180 s: {e}", server.name)),
        }
    }
}

/// A signed EIP-1559 transaction with the benchmark's fees: its raw bytes (0x-hex) and hash.
fn sign(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    gas: u64,
    value: U256,
    input: Vec<u8>,
) -> (String, B256) {
    let fees = Fees {
        max_fee: MAX_FEE,
        tip: TIP,
    };
    tx::sign(
        key,
        Unsigned {
            chain_id,
            nonce,
            to,
            gas,
            value,
            input,
            fees,
        },
    )
}

/// A failed setup call, as the benchmark's error text.
fn text(e: RpcCallError) -> String {
    e.to_string()
}

/// The accounts the benchmark uses.
struct Accounts {
    /// The 20 development accounts both chains fund.
    dev: Vec<(Address, PrivateKeySigner)>,
    /// The load senders: further accounts of the same mnemonic, funded by the benchmark.
    senders: Vec<(Address, PrivateKeySigner)>,
}

impl Accounts {
    fn derive(senders: usize) -> Self {
        let mut all = tx::mnemonic_accounts(0, 20 + senders as u32);
        let senders = all.split_off(20);
        Self { dev: all, senders }
    }
}

/// A benchmarked server with the token deployed.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    chain_id: u64,
    token: Address,
    /// Why `eth_call` cannot be measured, when it cannot.
    call_unsupported: Option<String>,
    server: Server,
}

/// Deploys the token and funds the load senders on a target.
async fn prepare(
    name: &'static str,
    mut server: Server,
    addr: SocketAddr,
    chain_id: u64,
    accounts: &Accounts,
    fund_senders: bool,
) -> Result<Target, String> {
    wait_ready(&mut server, addr, chain_id).await?;
    let mut rpc = Rpc::new(addr);
    // The token, from the deployer, minted to the holder by the constructor.
    let (deployer, key) = &accounts.dev[DEPLOYER];
    let nonce = rpc
        .quantity("eth_getTransactionCount", json!([deployer, "pending"]))
        .await
        .map_err(text)?;
    let holder = accounts.dev[HOLDER].0;
    let mut code = tx::token_creation_code();
    code.extend(tx::constructor_args(
        "Bench",
        "BNC",
        holder,
        U256::from(SUPPLY),
    ));
    let (raw, hash) = sign(
        key,
        chain_id,
        nonce,
        TxKind::Create,
        3_000_000,
        U256::ZERO,
        code,
    );
    let sent = rpc.send(&raw).await.map_err(text)?;
    if sent != hash {
        return Err(format!("{name}: deploy hash {sent}, expected {hash}"));
    }
    let receipt = rpc
        .receipt(hash, Duration::from_secs(60))
        .await
        .map_err(text)?;
    if receipt["status"] != "0x1" {
        return Err(format!("{name}: token deploy failed: {receipt}"));
    }
    // Old receipts may lack contractAddress: the CREATE address is the sender's at the nonce.
    let token = deployer.create(nonce);
    if let Some(reported) = receipt["contractAddress"].as_str()
        && reported.parse::<Address>().ok() != Some(token)
    {
        return Err(format!(
            "{name}: receipt contractAddress {reported}, expected {token}"
        ));
    }
    // eth_call support, and the holder's balance through it.
    let probe = rpc
        .call(
            "eth_call",
            json!([{"to": token, "data": EvmBytes::from(balance_of(holder))}, "latest"]),
        )
        .await
        .map_err(text);
    let call_unsupported = match probe {
        Ok(v) if v == expected_balance_word() => None,
        Ok(v) => {
            return Err(format!(
                "{name}: balanceOf(holder) = {v}, expected {}",
                expected_balance_word()
            ));
        }
        Err(e) => Some(e),
    };
    if let Some(why) = &call_unsupported {
        println!("{name}: eth_call is not available, it will be reported unsupported: {why}");
    }
    if fund_senders {
        fund(name, &mut rpc, chain_id, accounts).await?;
    }
    Ok(Target {
        name,
        addr,
        chain_id,
        token,
        call_unsupported,
        server,
    })
}

/// The holder's token balance as `eth_call` returns it.
fn expected_balance_word() -> Value {
    json!(format!(
        "0x{}",
        hex::encode(U256::from(SUPPLY).to_be_bytes::<32>())
    ))
}

/// Sends each load sender `SENDER_FUNDS` from the funder accounts and waits for all of it.
async fn fund(name: &str, rpc: &mut Rpc, chain_id: u64, accounts: &Accounts) -> Result<(), String> {
    let started = Instant::now();
    let funders: Vec<_> = accounts.dev[FUNDERS].iter().collect();
    let mut nonces = Vec::with_capacity(funders.len());
    for (address, _) in &funders {
        nonces.push(
            rpc.quantity("eth_getTransactionCount", json!([address, "pending"]))
                .await
                .map_err(text)?,
        );
    }
    let mut last = Vec::new();
    for (i, (to, _)) in accounts.senders.iter().enumerate() {
        let f = i % funders.len();
        let (raw, hash) = sign(
            &funders[f].1,
            chain_id,
            nonces[f],
            TxKind::Call(*to),
            21_000,
            U256::from(SENDER_FUNDS),
            Vec::new(),
        );
        nonces[f] += 1;
        rpc.send(&raw).await.map_err(text)?;
        if i + funders.len() >= accounts.senders.len() {
            last.push(hash);
        }
    }
    for hash in last {
        let r = rpc
            .receipt(hash, Duration::from_secs(120))
            .await
            .map_err(text)?;
        if r["status"] != "0x1" {
            return Err(format!("{name}: funding transfer failed: {r}"));
        }
    }
    for (address, _) in &accounts.senders {
        if rpc.balance(*address).await.map_err(text)? < U256::from(SENDER_FUNDS) {
            return Err(format!("{name}: {address} not funded"));
        }
    }
    println!(
        "{name}: token deployed, {} load senders funded in {:.1} s",
        accounts.senders.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One request of a load, with the result it must return (when it is known).
struct Req {
    /// The whole HTTP request, prepared by [`http_request`].
    wire: Vec<u8>,
    /// The `result` expected, as JSON text.
    expect: Option<String>,
}

impl Req {
    fn new(target: &Target, method: &str, params: Value, expect: Option<Value>) -> Self {
        let body = request_body(method, params);
        Self {
            wire: http_request(&target.addr.to_string(), &body),
            expect: expect.map(|e| e.to_string()),
        }
    }
}

/// What a connection sends.
enum Work {
    /// The same requests over and over (reads), starting at the connection's index.
    Cycle(Arc<Vec<Req>>),
    /// Pre-signed transactions of the connection's own senders, each sender's in nonce
    /// order, senders taken in turn; a sender whose transaction fails is dropped (its later
    /// nonces could not be accepted).
    Send(Vec<(Address, VecDeque<Req>)>),
}

/// What one connection measured.
#[derive(Default)]
struct Measured {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
    /// The connection ran out of transactions before the end.
    exhausted: bool,
    /// Per sender: the hashes of the transactions accepted, in nonce order from the first
    /// (warm-up included).
    accepted: Vec<(Address, Vec<Value>)>,
}

impl Measured {
    fn merge(&mut self, other: Measured) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        self.errors += other.errors;
        for e in other.error_samples {
            if self.error_samples.len() < 5 && !self.error_samples.contains(&e) {
                self.error_samples.push(e);
            }
        }
        self.exhausted |= other.exhausted;
        self.accepted.extend(other.accepted);
    }
}

/// A response, its members left unparsed.
#[derive(serde::Deserialize)]
struct RawResponse<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// Checks a response against the request's expectation: the `result` must be exactly the
/// expected JSON text (results here are hex strings, which have one spelling), or any string
/// when nothing is expected.
fn check(response: Result<Bytes, String>, expect: &Option<String>) -> Result<(), String> {
    let body = response?;
    let parsed: RawResponse<'_> =
        serde_json::from_slice(&body).map_err(|e| format!("response is not JSON: {e}"))?;
    if let Some(error) = parsed.error {
        return Err(format!("JSON-RPC error {error}"));
    }
    let result = parsed.result.ok_or("response without result")?.get();
    match expect {
        Some(e) if e != result => Err(format!("wrong result {result}, expected {e}")),
        Some(_) => Ok(()),
        None if result.starts_with('"') => Ok(()),
        None => Err(format!("unexpected result {result}")),
    }
}

/// One connection's closed loop: a request, its response, the next request.
async fn connection(
    addr: SocketAddr,
    index: usize,
    mut work: Work,
    measure_from: Instant,
    end: Instant,
) -> Measured {
    let mut m = Measured::default();
    let mut conn: Option<Conn> = None;
    let mut next = index;
    let mut turn = 0usize;
    let mut accepted: Vec<Vec<Value>> = match &work {
        Work::Send(senders) => vec![Vec::new(); senders.len()],
        Work::Cycle(_) => Vec::new(),
    };
    let cycle = match &work {
        Work::Cycle(reqs) => Some(reqs.clone()),
        Work::Send(_) => None,
    };
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let popped: Req;
        let (req, sender) = match (&cycle, &mut work) {
            (Some(reqs), _) => {
                next += 1;
                (&reqs[next % reqs.len()], None)
            }
            (None, Work::Cycle(_)) => unreachable!("a cycle is taken out before the loop"),
            (None, Work::Send(senders)) => {
                let live = senders.len();
                let Some(s) = (0..live)
                    .map(|k| (turn + k) % live)
                    .find(|&s| !senders[s].1.is_empty())
                else {
                    m.exhausted = true;
                    break;
                };
                turn = s + 1;
                popped = senders[s].1.pop_front().expect("not empty");
                (&popped, Some(s))
            }
        };
        let t0 = Instant::now();
        let response = match &mut conn {
            Some(c) => c.post_wire(&req.wire).await,
            None => match Conn::open(addr).await {
                Ok(c) => conn.insert(c).post_wire(&req.wire).await,
                Err(e) => {
                    // A refused connection would otherwise spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(e)
                }
            },
        };
        if response.is_err() {
            conn = None;
        }
        let outcome = check(response.map_err(|e| e.to_string()), &req.expect);
        let t1 = Instant::now();
        if let (Some(s), Work::Send(senders)) = (sender, &mut work) {
            match outcome {
                Ok(()) => accepted[s].push(
                    req.expect
                        .as_deref()
                        .and_then(|e| serde_json::from_str(e).ok())
                        .unwrap_or_default(),
                ),
                Err(_) => senders[s].1.clear(),
            }
        }
        if t0 >= measure_from && t1 <= end {
            m.latencies_us
                .push(u32::try_from((t1 - t0).as_micros()).unwrap_or(u32::MAX));
            match outcome {
                Ok(()) => m.ok += 1,
                Err(e) => {
                    m.errors += 1;
                    if m.error_samples.len() < 5 && !m.error_samples.contains(&e) {
                        m.error_samples.push(e);
                    }
                }
            }
        } else if let Err(e) = outcome {
            // Errors during warm-up are reported too, but not counted in the figures.
            let e = format!("(warm-up) {e}");
            if m.error_samples.len() < 5 && !m.error_samples.contains(&e) {
                m.error_samples.push(e);
            }
        }
    }
    if let Work::Send(senders) = work {
        m.accepted = senders
            .iter()
            .zip(accepted)
            .map(|((a, _), n)| (*a, n))
            .collect();
    }
    m
}

/// A row of the table.
struct Row {
    target: &'static str,
    method: Method,
    /// `None` when the target does not support the method.
    measured: Option<Measured>,
    unsupported: Option<String>,
    seconds: f64,
    /// For transactions: how long after the load the last accepted one was in a block.
    inclusion: Option<String>,
}

impl Row {
    fn rate(&self) -> Option<f64> {
        self.measured.as_ref().map(|m| m.ok as f64 / self.seconds)
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// Builds the work of each connection for a method on a target.
fn plan(target: &Target, method: Method, accounts: &Accounts, args: &Args) -> Vec<Work> {
    let c = args.concurrency;
    let cycle = |reqs: Vec<Req>| -> Vec<Work> {
        let reqs = Arc::new(reqs);
        (0..c).map(|_| Work::Cycle(reqs.clone())).collect()
    };
    match method {
        Method::BlockNumber => cycle(vec![Req::new(target, "eth_blockNumber", json!([]), None)]),
        Method::GetBalance => cycle(
            accounts
                .dev
                .iter()
                .map(|(a, _)| Req::new(target, "eth_getBalance", json!([a, "latest"]), None))
                .collect(),
        ),
        Method::Call => {
            // The holder's balance, and accounts that hold none.
            let call = |who: Address, expect: Value| {
                Req::new(
                    target,
                    "eth_call",
                    json!([{"to": target.token, "data": EvmBytes::from(balance_of(who))}, "latest"]),
                    Some(expect),
                )
            };
            let mut reqs = vec![call(accounts.dev[HOLDER].0, expected_balance_word())];
            for (a, _) in &accounts.dev[FUNDERS] {
                reqs.push(call(*a, json!(format!("0x{}", "0".repeat(64)))));
            }
            cycle(reqs)
        }
        Method::SendRawTransaction => {
            let per_sender = args.txs.div_ceil(accounts.senders.len());
            let signed = sign_all(target, &accounts.senders, per_sender);
            let mut works: Vec<Vec<(Address, VecDeque<Req>)>> =
                (0..c).map(|_| Vec::new()).collect();
            for (i, (address, txs)) in signed.into_iter().enumerate() {
                works[i % c].push((address, txs));
            }
            works.into_iter().map(Work::Send).collect()
        }
    }
}

/// Signs `per_sender` transfers (nonces 0, 1, …) for each sender, on two threads.
fn sign_all(
    target: &Target,
    senders: &[(Address, PrivateKeySigner)],
    per_sender: usize,
) -> Vec<(Address, VecDeque<Req>)> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = senders.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = senders
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(address, key)| {
                            let txs = (0..per_sender as u64)
                                .map(|nonce| {
                                    let (raw, hash) = sign(
                                        key,
                                        target.chain_id,
                                        nonce,
                                        TxKind::Call(SINK),
                                        21_000,
                                        U256::from(1),
                                        Vec::new(),
                                    );
                                    Req::new(
                                        target,
                                        "eth_sendRawTransaction",
                                        json!([raw]),
                                        Some(json!(hash)),
                                    )
                                })
                                .collect();
                            (*address, txs)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// Runs one method's load against one target.
async fn measure(target: &mut Target, method: Method, accounts: &Accounts, args: &Args) -> Row {
    let mut row = Row {
        target: target.name,
        method,
        measured: None,
        unsupported: None,
        seconds: args.duration.as_secs_f64(),
        inclusion: None,
    };
    if method == Method::Call
        && let Some(why) = &target.call_unsupported
    {
        row.unsupported = Some(why.clone());
        return row;
    }
    if let Err(e) = target.server.check_alive() {
        panic!("{e}");
    }
    let works = if method == Method::SendRawTransaction {
        let started = Instant::now();
        let w = plan(target, method, accounts, args);
        println!(
            "{}: {} transfers signed in {:.1} s",
            target.name,
            args.txs.div_ceil(accounts.senders.len()) * accounts.senders.len(),
            started.elapsed().as_secs_f64()
        );
        w
    } else {
        plan(target, method, accounts, args)
    };
    let measure_from = Instant::now() + args.warmup;
    let end = measure_from + args.duration;
    let tasks: Vec<_> = works
        .into_iter()
        .enumerate()
        .map(|(i, w)| tokio::spawn(connection(target.addr, i, w, measure_from, end)))
        .collect();
    let mut total = Measured::default();
    for t in tasks {
        total.merge(t.await.expect("a connection task panicked"));
    }
    total.latencies_us.sort_unstable();
    if method == Method::SendRawTransaction {
        row.inclusion = Some(inclusion(target, &total.accepted).await);
    }
    row.measured = Some(total);
    row
}

/// Waits until every accepted transaction is in a block (the senders' nonces reach the
/// count accepted) and says how long that took after the load ended, or what is stuck.
async fn inclusion(target: &Target, accepted: &[(Address, Vec<Value>)]) -> String {
    let started = Instant::now();
    let total: usize = accepted.iter().map(|(_, h)| h.len()).sum();
    let mut rpc = Rpc::new(target.addr);
    let mut pending: Vec<&(Address, Vec<Value>)> =
        accepted.iter().filter(|(_, h)| !h.is_empty()).collect();
    let timeout = Duration::from_secs(60);
    let mut nonces = Vec::new();
    while !pending.is_empty() && started.elapsed() < timeout {
        let mut still = Vec::new();
        nonces.clear();
        for entry in pending {
            match rpc
                .quantity("eth_getTransactionCount", json!([entry.0, "latest"]))
                .await
            {
                Ok(nonce) if nonce >= entry.1.len() as u64 => {}
                Ok(nonce) => {
                    nonces.push(nonce);
                    still.push(entry);
                }
                Err(_) => {
                    nonces.push(0);
                    still.push(entry);
                }
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    if pending.is_empty() {
        return format!(
            "all {total} accepted transactions (warm-up included) in blocks {:.1} s after the load",
            started.elapsed().as_secs_f64()
        );
    }
    let missing: u64 = pending
        .iter()
        .zip(&nonces)
        .map(|((_, h), n)| h.len() as u64 - n)
        .sum();
    let mut text = format!(
        "{missing} of {total} accepted transactions, from {} of {} senders, not in a block {} s \
         after the load",
        pending.len(),
        accepted.len(),
        timeout.as_secs()
    );
    // What the server says about the first few stuck senders' next transaction.
    for ((address, hashes), nonce) in pending.iter().zip(&nonces).take(3) {
        let pool_nonce = rpc
            .call("eth_getTransactionCount", json!([address, "pending"]))
            .await
            .map_err(|e| e.to_string());
        let next = &hashes[*nonce as usize];
        let known = rpc
            .call("eth_getTransactionByHash", json!([next]))
            .await
            .map_err(|e| e.to_string());
        let known = match known {
            Ok(Value::Null) => "unknown to the server".to_owned(),
            Ok(tx) => format!("known, blockNumber {}", tx["blockNumber"]),
            Err(e) => e,
        };
        let _ = write!(
            text,
            "\n    {address}: {} accepted, nonce {nonce} in blocks, pending nonce {}; \
             transaction {nonce} ({next}) {known}",
            hashes.len(),
            pool_nonce.map_or_else(|e| e, |v| v.to_string()),
        );
    }
    if let Ok(status) = rpc.call("parallax_consensusStatus", json!([])).await {
        let _ = write!(text, "\n    consensus status: {status}");
    }
    text
}

/// Prints the table, the ratios and the bar; returns whether the run is a failure (errors on
/// reads).
fn report(rows: &[Row], args: &Args) -> bool {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nJSON-RPC load: {} connections; per read method {} round(s) of {:.0} s per target \
         (Parallax, then hardhat), each after {:.0} s warm-up; {} load-generator thread(s), \
         {} logical CPUs\n",
        args.concurrency,
        args.rounds,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64(),
        args.threads,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        out,
        "{:<9} {:<23} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8}",
        "target", "method", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    let mut failure = false;
    for r in rows {
        match (&r.measured, &r.unsupported) {
            (Some(m), _) => {
                let l = &m.latencies_us;
                let _ = writeln!(
                    out,
                    "{:<9} {:<23} {:>9} {:>7} {:>10.1} {:>8.2} {:>8.2} {:>8.1}",
                    r.target,
                    r.method.name(),
                    m.ok + m.errors,
                    m.errors,
                    r.rate().unwrap_or(0.0),
                    percentile(l, 50.0),
                    percentile(l, 99.0),
                    percentile(l, 100.0),
                );
                if READS.contains(&r.method) && (m.errors > 0 || m.ok == 0) {
                    failure = true;
                }
            }
            (None, Some(_)) => {
                let _ = writeln!(out, "{:<9} {:<23} unsupported", r.target, r.method.name());
            }
            (None, None) => {}
        }
    }
    let _ = writeln!(out, "\nreq/s counts successful requests only.");
    for r in rows {
        if let Some(m) = &r.measured {
            for e in &m.error_samples {
                let _ = writeln!(out, "{} {} error: {e}", r.target, r.method.name());
            }
            if m.exhausted {
                let _ = writeln!(
                    out,
                    "{} {}: ran out of pre-signed transactions before the end (raise --txs); \
                     its req/s is a lower bound",
                    r.target,
                    r.method.name()
                );
            }
        }
        if let Some(why) = &r.unsupported {
            let _ = writeln!(out, "{} {}: unsupported ({why})", r.target, r.method.name());
        }
        if let Some(i) = &r.inclusion {
            let _ = writeln!(out, "{} {}: {i}", r.target, r.method.name());
        }
    }
    let _ = writeln!(out, "\nParallax/hardhat requests/s:");
    for method in &args.methods {
        let find = |t: &str| rows.iter().find(|r| r.target == t && r.method == *method);
        let (Some(p), Some(h)) = (find("parallax"), find("hardhat")) else {
            continue;
        };
        let ratio = match (p.rate(), h.rate()) {
            (Some(p), Some(h)) if h > 0.0 => Some(p / h),
            _ => None,
        };
        let ratio_text = ratio.map_or("n/a".to_owned(), |r| format!("{r:.2}x"));
        let _ = writeln!(out, "  {:<23} {ratio_text}", method.name());
        if READS.contains(method) {
            let verdict = match (ratio, &p.unsupported) {
                (_, Some(_)) => "NOT MET: unsupported by Parallax".to_owned(),
                (Some(r), None)
                    if r >= BAR && p.measured.as_ref().is_some_and(|m| m.errors == 0) =>
                {
                    format!("met ({r:.2}x >= {BAR}x)")
                }
                (Some(r), None) => format!("NOT MET ({r:.2}x < {BAR}x or errors)"),
                (None, None) => "NOT MET: no hardhat figure to compare with".to_owned(),
            };
            let _ = writeln!(out, "  bar {:<19} {verdict}", method.name());
        }
    }
    if failure {
        let _ = writeln!(
            out,
            "\nFAILURE: a read method had errors (or no successful request)"
        );
    }
    print!("{out}");
    failure
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The repository's hardhat and its test configuration (`test-support/hardhat.config.cjs`).
    let hardhat_addr = free_addr();
    let hardhat_cmd = match parallax_test_support::l1::hardhat_command(hardhat_addr.port()) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let needs_senders = args.methods.contains(&Method::SendRawTransaction);
    let accounts = Accounts::derive(if needs_senders { args.senders } else { 0 });
    let dir = tempfile::Builder::new()
        .prefix("parallax-rpc-bench-")
        .tempdir()
        .expect("a temporary directory");

    // Both servers start now (on the main thread: the parent-death signal follows it).
    let parallax_addr = free_addr();
    let mut cmd = Command::new(PARALLAX);
    cmd.arg("dev")
        .arg("--datadir")
        .arg(dir.path().join("parallax"))
        .arg("--rpc-addr")
        .arg(parallax_addr.to_string());
    let parallax = Server::spawn("parallax", cmd, dir.path().join("parallax.log"));
    let hardhat = Server::spawn("hardhat", hardhat_cmd, dir.path().join("hardhat.log"));

    // One thread by default, without a multi-threaded scheduler's cross-thread wake-ups.
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("a tokio runtime");
    let failure = runtime.block_on(async {
        let mut parallax = prepare(
            "parallax",
            parallax,
            parallax_addr,
            PARALLAX_CHAIN_ID,
            &accounts,
            needs_senders,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut hardhat = prepare(
            "hardhat",
            hardhat,
            hardhat_addr,
            HARDHAT_CHAIN_ID,
            &accounts,
            needs_senders,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        println!("setup done in {:.1} s", started.elapsed().as_secs_f64());
        let mut rows = Vec::new();
        for &method in &args.methods {
            // One target at a time: Parallax, then hardhat, in rounds (transactions: one, as
            // they are signed for one pass).
            let rounds = if method == Method::SendRawTransaction {
                1
            } else {
                args.rounds
            };
            let mut merged: [Option<Row>; 2] = [None, None];
            for round in 1..=rounds {
                let mut rates = [0.0; 2];
                for (i, target) in [&mut parallax, &mut hardhat].into_iter().enumerate() {
                    let row = measure(target, method, &accounts, &args).await;
                    rates[i] = row.rate().unwrap_or(0.0);
                    if let Some(m) = &row.measured {
                        println!(
                            "{} {} round {round}/{rounds}: {:.1} req/s, {} errors",
                            row.target,
                            method.name(),
                            rates[i],
                            m.errors
                        );
                    }
                    merged[i] = Some(match merged[i].take() {
                        None => row,
                        Some(mut total) => {
                            if let (Some(t), Some(m)) = (&mut total.measured, row.measured) {
                                t.merge(m);
                            }
                            total.seconds += row.seconds;
                            total
                        }
                    });
                }
                if rates[1] > 0.0 {
                    println!(
                        "{} round {round}/{rounds}: Parallax/hardhat {:.2}x",
                        method.name(),
                        rates[0] / rates[1]
                    );
                }
            }
            for row in merged.into_iter().flatten() {
                let mut row = row;
                if let Some(m) = &mut row.measured {
                    m.latencies_us.sort_unstable();
                }
                rows.push(row);
            }
        }
        for target in [&mut parallax, &mut hardhat] {
            if let Err(e) = target.server.check_alive() {
                panic!("{e}");
            }
        }
        report(&rows, &args)
    });
    drop(runtime);
    if failure {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
