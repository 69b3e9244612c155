//! The commands behind `testnet/run.sh`: `up`, `status`, `logs`, `stop`, `start`, `down`.
//!
//! Every command that changes the testnet holds an exclusive lock on `DIR/.lock` while it
//! works, so two of them never race on the same directory.

use crate::{
    Manifest, TestnetError, l1,
    manifest::{Account, BridgeEntry, L1Entry, NodeEntry},
    ports,
    process::{self, Stopped},
    rpc,
};
use parallax_genesis::{Genesis, NativeCurrency, TestnetOptions, generate_testnet};
use serde_json::{Value, json};
use std::{
    fs::File,
    io::Write,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// How long one status call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Log lines shown when a node fails.
const TAIL_LINES: usize = 25;

/// Where the nodes come from and how long to wait for them.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// The testnet directory.
    pub dir: PathBuf,
    /// The `parallax` binary the nodes run.
    pub bin: PathBuf,
    /// How long `up` and `start` wait for blocks.
    pub timeout: Duration,
    /// How long `stop` and `down` wait after SIGTERM before SIGKILL.
    pub grace: Duration,
    /// The repository (its `node_modules/` holds anvil for the testnet's Ethereum).
    pub repo: PathBuf,
}

/// `up`'s choices for a new testnet (a resumed one keeps its own).
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Validators (default 4).
    pub validators: Option<usize>,
    /// Non-validator full nodes (default 1).
    pub full_nodes: Option<usize>,
    /// Chain id (default [`parallax_genesis::DEFAULT_TESTNET_CHAIN_ID`]).
    pub chain_id: Option<u64>,
    /// Where the search for free ports starts (default 26000).
    pub base_port: Option<u16>,
    /// Run no Ethereum (and so no bridge) beside the nodes.
    pub no_l1: bool,
}

/// An exclusive `flock` on `DIR/.lock`, released when dropped.
struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    fn take(dir: &Path) -> Result<Self, TestnetError> {
        let path = dir.join(".lock");
        let file = File::create(&path).map_err(|e| TestnetError::io(&path, e))?;
        // SAFETY: flock(2) on a descriptor this File owns; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            return Err(TestnetError::Busy {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self(file))
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, TestnetError> {
    std::fs::create_dir_all(dir).map_err(|e| TestnetError::io(dir, e))?;
    dir.canonicalize().map_err(|e| TestnetError::io(dir, e))
}

fn existing(dir: &Path) -> Result<(PathBuf, Manifest), TestnetError> {
    let no_testnet = || TestnetError::NoTestnet {
        dir: dir.to_path_buf(),
    };
    let abs = dir.canonicalize().map_err(|_| no_testnet())?;
    let manifest = Manifest::load(&abs)?.ok_or_else(no_testnet)?;
    Ok((abs, manifest))
}

/// Whether the node's recorded pid is its running `parallax run`.
pub fn is_running(node: &NodeEntry) -> bool {
    node.pid
        .is_some_and(|pid| process::is_node_process(pid, &node.config))
}

/// Starts a new testnet in `rt.dir`, or resumes the one there (same genesis, keys, data
/// and ports), and waits until every node has seen new blocks committed. Refuses when the
/// testnet there is running. Prints the summary to `out`.
pub fn up(rt: &Runtime, opts: &UpOptions, out: &mut impl Write) -> Result<Manifest, TestnetError> {
    let dir = absolute(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let (mut manifest, resumed) = match Manifest::load(&dir)? {
        Some(m) => {
            check_resumable(&dir, &m, opts)?;
            (m, true)
        }
        None => (generate(&dir, opts)?, false),
    };
    if resumed {
        writeln!(
            out,
            "Resuming the testnet in {} (chain id {}, genesis {}).",
            dir.display(),
            manifest.chain_id,
            manifest.genesis_hash
        )
        .ok();
    } else {
        writeln!(
            out,
            "Generated a testnet in {}: {} validators, {} full node(s), chain id {}.",
            dir.display(),
            manifest.validators(),
            manifest.nodes.len() - manifest.validators(),
            manifest.chain_id
        )
        .ok();
    }
    // Every port free before anything starts: a clear error instead of a node dying on it.
    for node in &manifest.nodes {
        for (port, what) in node.ports() {
            if !ports::is_free(port) {
                return Err(TestnetError::PortInUse {
                    port,
                    what: format!("{} {what}", node.name),
                });
            }
        }
    }
    if let Some(l1) = &manifest.l1
        && !ports::is_free(l1.port)
    {
        return Err(TestnetError::PortInUse {
            port: l1.port,
            what: "the Ethereum (anvil) JSON-RPC".into(),
        });
    }
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| TestnetError::io(dir.join("logs"), e))?;
    let genesis = Genesis::load(dir.join("genesis.json"))?;
    if let Some(l1) = manifest.l1.clone() {
        let state = l1.state.clone().unwrap_or_else(|| l1::state_path(&dir));
        let has_state = state.exists();
        writeln!(
            out,
            "Starting the testnet's Ethereum (anvil on {}, its chain kept in {})…",
            l1.rpc,
            state.display()
        )
        .ok();
        let pid = l1::start(&rt.repo, l1.port, &l1.log, &state, rt.timeout)?;
        if let Some(entry) = manifest.l1.as_mut() {
            entry.pid = Some(pid);
            entry.state = Some(state.clone());
        }
        manifest.save(&dir)?;
        let ready = if has_state {
            l1::check_deployed(&l1.rpc, &state).map(|_| {
                writeln!(
                    out,
                    "Ethereum resumed from its state: the bridge and the test token are in place."
                )
                .ok();
            })
        } else {
            if resumed {
                writeln!(
                    out,
                    "Note: {} does not exist, so this Ethereum starts as a new chain with the \
                     bridge deployed again at the same address; whatever an earlier Ethereum of \
                     this testnet held is not on it (Parallax keeps what it minted).",
                    state.display()
                )
                .ok();
            }
            let validators: Vec<alloy_primitives::Address> = genesis
                .parallax
                .as_ref()
                .map(|p| p.validators.iter().map(|v| v.bridge_address).collect())
                .unwrap_or_default();
            l1::deploy(&l1.rpc, manifest.chain_id, &validators).map(|_| {
                writeln!(
                    out,
                    "Deployed the bridge on Ethereum and funded the development accounts with \
                     the test token."
                )
                .ok();
            })
        };
        if let Err(e) = ready {
            l1::stop(pid, l1.port, rt.grace);
            if !has_state {
                // A chain with half a deployment is no use: the next `up` deploys afresh.
                let _ = std::fs::remove_file(&state);
            }
            if let Some(entry) = manifest.l1.as_mut() {
                entry.pid = None;
            }
            manifest.save(&dir)?;
            return Err(e);
        }
    }
    writeln!(
        out,
        "Starting {} nodes ({})…",
        manifest.nodes.len(),
        rt.bin.display()
    )
    .ok();
    let all: Vec<usize> = (0..manifest.nodes.len()).collect();
    for &i in &all {
        let started = {
            let node = &manifest.nodes[i];
            process::spawn_node(&rt.bin, &node.config, &node.log, &node.name)
        };
        match started {
            Ok(pid) => manifest.nodes[i].pid = Some(pid),
            Err(e) => {
                stop_quietly(&dir, &mut manifest, &all, rt.grace);
                return Err(e);
            }
        }
        manifest.save(&dir)?;
    }
    match wait_for_commits(&manifest, &all, rt.timeout) {
        Ok(height) => {
            let currency = genesis
                .parallax
                .map(|p| p.native_currency)
                .unwrap_or_default();
            summary(&dir, &manifest, &currency, height, out);
            Ok(manifest)
        }
        Err(e) => {
            writeln!(out, "The testnet did not come up; stopping its nodes.").ok();
            stop_quietly(&dir, &mut manifest, &all, rt.grace);
            Err(e)
        }
    }
}

/// Stops the nodes in `which` and, when that is every node, the testnet's Ethereum.
fn stop_quietly(dir: &Path, manifest: &mut Manifest, which: &[usize], grace: Duration) {
    if which.len() == manifest.nodes.len()
        && let Some(entry) = manifest.l1.as_mut()
        && let Some(pid) = entry.pid.take()
    {
        l1::stop(pid, entry.port, grace);
    }
    stop_nodes_quietly(dir, manifest, which, grace);
}

fn stop_nodes_quietly(dir: &Path, manifest: &mut Manifest, which: &[usize], grace: Duration) {
    let targets: Vec<(u32, &Path)> = which
        .iter()
        .filter_map(|&i| {
            let n = &manifest.nodes[i];
            n.pid.map(|pid| (pid, n.config.as_path()))
        })
        .collect();
    process::stop_all(&targets, grace);
    for &i in which {
        manifest.nodes[i].pid = None;
    }
    let _ = manifest.save(dir);
}

/// An existing testnet may be resumed when none of it runs and the options agree with it.
fn check_resumable(dir: &Path, m: &Manifest, opts: &UpOptions) -> Result<(), TestnetError> {
    let running: Vec<String> = m
        .nodes
        .iter()
        .filter(|n| is_running(n))
        .map(|n| format!("{} (pid {})", n.name, n.pid.unwrap_or_default()))
        .collect();
    if !running.is_empty() {
        return Err(TestnetError::AlreadyRunning {
            dir: dir.to_path_buf(),
            running: running.join(", "),
        });
    }
    let full = m.nodes.len() - m.validators();
    let differs = |what: &str, asked: Option<u64>, has: u64| match asked {
        Some(a) if a != has => Err(TestnetError::Mismatch(format!(
            "{} holds a testnet with {what} {has}, not {a}; use another --dir for a new one \
             (or delete this one: `down`, then remove the directory)",
            dir.display()
        ))),
        _ => Ok(()),
    };
    differs(
        "validators",
        opts.validators.map(|v| v as u64),
        m.validators() as u64,
    )?;
    differs("full nodes", opts.full_nodes.map(|v| v as u64), full as u64)?;
    differs("chain id", opts.chain_id, m.chain_id)?;
    // The same chain: the genesis on disk is the one the manifest names.
    let genesis = Genesis::load(dir.join("genesis.json"))?;
    let hash = genesis.build()?.hash.to_string();
    if hash != m.genesis_hash {
        return Err(TestnetError::Mismatch(format!(
            "{}/genesis.json has hash {hash} but testnet.json says {}; the directory was \
             changed by hand",
            dir.display(),
            m.genesis_hash
        )));
    }
    Ok(())
}

/// Generates keys, genesis and configs into `dir` (through a staging directory, since the
/// lock file already lives in `dir`) and writes `testnet.json`.
fn generate(dir: &Path, opts: &UpOptions) -> Result<Manifest, TestnetError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TestnetError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TestnetError::io(dir, e))?;
        let name = entry.file_name();
        if name != ".lock" && name != ".staging" {
            return Err(TestnetError::NotATestnetDir {
                dir: dir.to_path_buf(),
            });
        }
    }
    let validators = opts.validators.unwrap_or(4);
    let full_nodes = opts.full_nodes.unwrap_or(1);
    // One slot more than the nodes: the testnet's Ethereum takes the first port after them.
    let base_port = ports::find_base(
        opts.base_port.unwrap_or(26_000),
        validators + full_nodes + 1,
    )?;
    let l1_port = base_port + ports::PORTS_PER_NODE * (validators + full_nodes) as u16;
    let (l1_bridge, l1_token) = l1::predicted_addresses()?;
    let l1_rpc = l1::rpc_url(l1_port);
    let staging = dir.join(".staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| TestnetError::io(&staging, e))?;
    }
    let options = TestnetOptions {
        validators,
        full_nodes,
        chain_id: opts
            .chain_id
            .unwrap_or(parallax_genesis::DEFAULT_TESTNET_CHAIN_ID),
        base_port,
        bridge: (!opts.no_l1).then(|| parallax_genesis::TestnetBridge {
            l1_chain_id: l1::L1_CHAIN_ID,
            l1_bridge,
            confirmations: l1::CONFIRMATIONS,
            finalized: false,
            l1_rpc_url: l1_rpc.clone(),
        }),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let net = generate_testnet(&staging, &options)?;
    // Node configs name the genesis as `../genesis.json`: moving the entries up one level
    // keeps every relative path valid.
    let staged = std::fs::read_dir(&staging).map_err(|e| TestnetError::io(&staging, e))?;
    for entry in staged {
        let entry = entry.map_err(|e| TestnetError::io(&staging, e))?;
        let to = dir.join(entry.file_name());
        std::fs::rename(entry.path(), &to).map_err(|e| TestnetError::io(&to, e))?;
    }
    std::fs::remove_dir(&staging).map_err(|e| TestnetError::io(&staging, e))?;

    let nodes = net
        .nodes
        .iter()
        .map(|n| {
            let name = n.config.name.clone();
            let node_dir = dir.join(&name);
            NodeEntry {
                validator: n.validator,
                rpc_http: format!("http://{}", n.config.rpc_addr),
                rpc_ws: format!("ws://{}", n.config.rpc_addr),
                grpc: n.config.grpc_addr.to_string(),
                metrics: format!("http://{}/metrics", n.config.metrics_addr),
                p2p: format!("{}/p2p/{}", n.config.network.listen_addr, n.peer_id),
                pid: None,
                log: dir.join("logs").join(format!("{name}.log")),
                datadir: node_dir.join(&n.config.datadir),
                config: node_dir.join("config.toml"),
                extra: Default::default(),
                name,
            }
        })
        .collect();
    let manifest = Manifest {
        chain_id: options.chain_id,
        genesis_hash: net.genesis_hash.to_string(),
        nodes,
        accounts: net
            .dev_accounts
            .iter()
            .map(|(address, key)| Account {
                address: address.to_string(),
                private_key: key.to_string(),
            })
            .collect(),
        l1: (!opts.no_l1).then(|| L1Entry {
            rpc: l1_rpc.clone(),
            chain_id: l1::L1_CHAIN_ID,
            port: l1_port,
            pid: None,
            log: dir.join("logs").join("l1.log"),
            state: Some(l1::state_path(dir)),
        }),
        bridge: (!opts.no_l1).then(|| BridgeEntry {
            l1_bridge: l1_bridge.to_string(),
            l2_bridge: parallax_genesis::L2_BRIDGE_ADDRESS.to_string(),
            l1_test_token: l1_token.to_string(),
            confirmations: l1::CONFIRMATIONS,
        }),
        extra: Default::default(),
    };
    manifest.save(dir)?;
    Ok(manifest)
}

fn height(node: &NodeEntry) -> Option<u64> {
    let addr = node.rpc_addr()?;
    rpc::call(addr, "eth_blockNumber", json!([]), RPC_TIMEOUT)
        .ok()
        .as_ref()
        .and_then(rpc::quantity)
}

fn died(node: &NodeEntry) -> TestnetError {
    TestnetError::NodeDied {
        name: node.name.clone(),
        log: node.log.clone(),
        tail: process::log_tail(&node.log, TAIL_LINES),
    }
}

/// Waits until every node in `which` answers and has passed the highest height any of them
/// first reported: new blocks were committed, and every node has them. Fails at once when a
/// node exits. Returns the lowest height reached.
pub fn wait_for_commits(
    manifest: &Manifest,
    which: &[usize],
    timeout: Duration,
) -> Result<u64, TestnetError> {
    let start = Instant::now();
    let mut first: Vec<Option<u64>> = vec![None; which.len()];
    let mut last: Vec<Option<u64>> = vec![None; which.len()];
    loop {
        for (k, &i) in which.iter().enumerate() {
            let node = &manifest.nodes[i];
            if !is_running(node) {
                return Err(died(node));
            }
            last[k] = height(node);
            if first[k].is_none() {
                first[k] = last[k];
            }
        }
        if first.iter().all(Option::is_some) {
            let target = first.iter().flatten().max().copied().unwrap_or(0) + 1;
            if last.iter().all(|h| h.is_some_and(|h| h >= target)) {
                return Ok(last.iter().flatten().min().copied().unwrap_or(target));
            }
        }
        if start.elapsed() >= timeout {
            let mut detail = String::new();
            for (k, &i) in which.iter().enumerate() {
                let node = &manifest.nodes[i];
                let at = last[k].map_or("no answer from its RPC".to_owned(), |h| {
                    format!("height {h}")
                });
                detail += &format!(
                    "--- {}: {at}; the end of {}:\n{}\n",
                    node.name,
                    node.log.display(),
                    process::log_tail(&node.log, 8)
                );
            }
            return Err(TestnetError::Timeout {
                what: "blocks to commit on every node".into(),
                secs: timeout.as_secs(),
                detail,
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The hint shown for further commands: the wrapper script's name when it says so.
fn command_prefix(dir: &Path) -> String {
    let prog = std::env::var("PARALLAX_TESTNET_CMD").unwrap_or_else(|_| "parallax-testnet".into());
    let default = Path::new(".testnet").canonicalize().ok();
    if default.as_deref() == Some(dir) {
        prog
    } else {
        format!("{prog} --dir {}", dir.display())
    }
}

/// The summary `up` prints.
/// `currency` is the chain's native currency (the genesis's `parallax.nativeCurrency`).
pub fn summary(
    dir: &Path,
    m: &Manifest,
    currency: &NativeCurrency,
    height: u64,
    out: &mut impl Write,
) {
    let validators = m.validators();
    let full = m.nodes.len() - validators;
    let mut s = String::new();
    s += &format!(
        "\nParallax testnet is up: {validators} validators and {full} full node(s), \
         committing blocks (height {height}).\n"
    );
    s += &format!("  Chain id:  {} (hex {:#x})\n", m.chain_id, m.chain_id);
    s += &format!("  Genesis:   {}\n", m.genesis_hash);
    s += &format!(
        "  Files:     {} (nodes, pids and accounts for tools), logs in {}\n\n",
        Manifest::path(dir).display(),
        dir.join("logs").display()
    );
    s += &format!(
        "{:<7} {:<10} {:<8} {:<26} {:<24}\n",
        "NODE", "ROLE", "PID", "JSON-RPC (HTTP)", "JSON-RPC (WebSocket)"
    );
    for n in &m.nodes {
        s += &format!(
            "{:<7} {:<10} {:<8} {:<26} {:<24}\n",
            n.name,
            if n.validator {
                "validator"
            } else {
                "full node"
            },
            n.pid.map_or("-".into(), |p| p.to_string()),
            n.rpc_http,
            n.rpc_ws
        );
    }
    s += &format!(
        "\nFunded development accounts ({} {} each). These are PUBLIC test keys (mnemonic\n\
         \"{}\"):\nanyone can take what they hold. Never use them outside this testnet.\n",
        parallax_genesis::DEV_ACCOUNT_BALANCE_WEI / 1_000_000_000_000_000_000,
        currency.symbol,
        parallax_genesis::DEV_MNEMONIC
    );
    for (i, a) in m.accounts.iter().enumerate() {
        s += &format!("  ({i:>2}) {}  private key {}\n", a.address, a.private_key);
    }
    let rpc = m
        .nodes
        .first()
        .map_or("http://127.0.0.1:26001", |n| n.rpc_http.as_str());
    s += &format!(
        "\nAdd it to MetaMask: Settings > Networks > Add a network > Add a network manually:\n\
         \x20 Network name:     Parallax testnet\n\
         \x20 New RPC URL:      {rpc}\n\
         \x20 Chain ID:         {}\n\
         \x20 Currency symbol:  {}\n\
         Then import an account with one of the private keys above\n\
         (account menu > Add account or hardware wallet > Import account).\n",
        m.chain_id, currency.symbol
    );
    if let (Some(l1), Some(b)) = (&m.l1, &m.bridge) {
        s += &format!(
            "\nEthereum (anvil, chain id {}): {}\n\
             \x20 Bridge on Ethereum:  {}  (depositETH / depositERC20; minted after {} blocks)\n\
             \x20 Bridge on Parallax:  {}  (withdrawERC20; relayed back by the validators)\n\
             \x20 Bridged ETH on Parallax: {}  (an ERC-20; {} is this chain's own, never bridged)\n\
             \x20 Test ERC-20 on Ethereum: {}  ({} PTT per development account)\n",
            l1.chain_id,
            l1.rpc,
            b.l1_bridge,
            b.confirmations,
            b.l2_bridge,
            parallax_genesis::bridged_token_address(alloy_primitives::Address::ZERO),
            currency.symbol,
            b.l1_test_token,
            l1::TEST_TOKENS_PER_ACCOUNT
        );
    }
    let prefix = command_prefix(dir);
    s += &format!("\nNext: {prefix} status | logs NODE | stop NODE | start NODE | down\n");
    let _ = out.write_all(s.as_bytes());
}

/// What `status` found out about one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its recorded process runs.
    pub running: bool,
    /// Committed head.
    pub height: Option<u64>,
    /// Consensus round.
    pub round: Option<u64>,
    /// Connected peers.
    pub peers: Option<u64>,
    /// Time since its last commit (or since the head block's timestamp).
    pub last_commit_age: Option<Duration>,
    /// Ready transactions in its mempool.
    pub pending: Option<u64>,
    /// Queued transactions in its mempool.
    pub queued: Option<u64>,
}

/// Asks one node how it is doing.
pub fn node_status(node: &NodeEntry) -> NodeStatus {
    let mut s = NodeStatus {
        running: is_running(node),
        ..Default::default()
    };
    let Some(addr) = node.rpc_addr().filter(|_| s.running) else {
        return s;
    };
    let call = |method: &str, params: Value| rpc::call(addr, method, params, RPC_TIMEOUT).ok();
    s.height = call("eth_blockNumber", json!([]))
        .as_ref()
        .and_then(rpc::quantity);
    s.peers = call("net_peerCount", json!([]))
        .as_ref()
        .and_then(rpc::quantity);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut last_commit_ms = None;
    if let Some(c) = call("parallax_consensusStatus", json!([])) {
        s.round = rpc::quantity(&c["round"]);
        last_commit_ms = c["lastCommitMs"].as_u64();
    }
    if last_commit_ms.is_none() {
        // Nothing committed since it started: the head block's own time.
        last_commit_ms = call("eth_getBlockByNumber", json!(["latest", false]))
            .as_ref()
            .and_then(|b| rpc::quantity(&b["timestamp"]))
            .map(|t| t * 1000);
    }
    s.last_commit_age = last_commit_ms.map(|t| Duration::from_millis(now_ms.saturating_sub(t)));
    if let Some(pool) = call("txpool_status", json!([])) {
        s.pending = rpc::quantity(&pool["pending"]);
        s.queued = rpc::quantity(&pool["queued"]);
    }
    s
}

fn age(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s ago")
    } else if secs < 3600.0 {
        format!("{}m{}s ago", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h{}m ago", d.as_secs() / 3600, d.as_secs() % 3600 / 60)
    }
}

/// `status`: one row per node.
pub fn status(dir: &Path, out: &mut impl Write) -> Result<Vec<NodeStatus>, TestnetError> {
    let (dir, m) = existing(dir)?;
    let statuses: Vec<NodeStatus> = std::thread::scope(|scope| {
        let handles: Vec<_> = m
            .nodes
            .iter()
            .map(|n| scope.spawn(move || node_status(n)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let dash = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let mut s = format!(
        "Testnet in {} (chain id {}):\n{:<7} {:<10} {:<8} {:<8} {:>7} {:>7} {:>6}  {:<12} {:>8}  {}\n",
        dir.display(),
        m.chain_id,
        "NODE",
        "ROLE",
        "PID",
        "STATE",
        "HEIGHT",
        "ROUND",
        "PEERS",
        "LAST COMMIT",
        "MEMPOOL",
        "RPC"
    );
    for (n, st) in m.nodes.iter().zip(&statuses) {
        let state = match (st.running, st.height) {
            (false, _) => "stopped",
            (true, None) => "starting",
            (true, Some(_)) => "running",
        };
        let mempool = match (st.pending, st.queued) {
            (Some(p), Some(q)) => format!("{p}/{q}"),
            _ => "-".into(),
        };
        s += &format!(
            "{:<7} {:<10} {:<8} {:<8} {:>7} {:>7} {:>6}  {:<12} {:>8}  {}\n",
            n.name,
            if n.validator {
                "validator"
            } else {
                "full node"
            },
            if st.running {
                dash(n.pid.map(u64::from))
            } else {
                "-".into()
            },
            state,
            dash(st.height),
            dash(st.round),
            dash(st.peers),
            st.last_commit_age.map_or("-".into(), age),
            mempool,
            n.rpc_http
        );
    }
    s += "(MEMPOOL: pending/queued transactions)\n";
    if let Some(l1) = &m.l1 {
        let running = l1.pid.is_some_and(|pid| l1::is_l1_process(pid, l1.port));
        let head = running
            .then(|| {
                let addr: std::net::SocketAddr =
                    l1.rpc.trim_start_matches("http://").parse().ok()?;
                rpc::call(addr, "eth_blockNumber", json!([]), RPC_TIMEOUT)
                    .ok()
                    .as_ref()
                    .and_then(rpc::quantity)
            })
            .flatten();
        s += &format!(
            "Ethereum (anvil, chain id {}): {}, head {}, {}\n",
            l1.chain_id,
            if running { "running" } else { "stopped" },
            dash(head),
            l1.rpc
        );
        // The bridge as the first running validator sees it.
        let bridge = m
            .nodes
            .iter()
            .zip(&statuses)
            .find(|(_, st)| st.height.is_some())
            .and_then(|(n, _)| {
                rpc::call(
                    n.rpc_addr()?,
                    "parallax_bridgeStatus",
                    json!([]),
                    RPC_TIMEOUT,
                )
                .ok()
            });
        if let Some(b) = bridge {
            let n = |v: &Value| dash(rpc::quantity(v));
            s += &format!(
                "Bridge: deposits seen {} / minted {}; withdrawals initiated {} / signed {} / finalized {}\n",
                n(&b["deposits"]["seen"]),
                n(&b["deposits"]["minted"]),
                n(&b["withdrawals"]["initiated"]),
                n(&b["withdrawals"]["signed"]),
                n(&b["withdrawals"]["finalized"]),
            );
        }
    }
    let _ = out.write_all(s.as_bytes());
    Ok(statuses)
}

/// `logs NODE`: the last `lines` lines of its log; with `follow`, then everything appended
/// until interrupted.
pub fn logs(
    dir: &Path,
    name: &str,
    lines: usize,
    follow: bool,
    out: &mut impl Write,
) -> Result<(), TestnetError> {
    use std::io::{Read, Seek, SeekFrom};
    let (_, m) = existing(dir)?;
    let node = &m.nodes[m.node(name)?];
    let tail = process::log_tail(&node.log, lines);
    if !tail.is_empty() {
        let _ = writeln!(out, "{tail}");
    }
    if !follow {
        return Ok(());
    }
    let mut file = File::open(&node.log).map_err(|e| TestnetError::io(&node.log, e))?;
    let mut pos = file
        .seek(SeekFrom::End(0))
        .map_err(|e| TestnetError::io(&node.log, e))?;
    let mut buf = Vec::new();
    loop {
        let len = std::fs::metadata(&node.log).map_or(pos, |md| md.len());
        if len < pos {
            pos = 0; // truncated
        }
        if len > pos {
            file.seek(SeekFrom::Start(pos))
                .map_err(|e| TestnetError::io(&node.log, e))?;
            buf.clear();
            let read = (&mut file)
                .take(len - pos)
                .read_to_end(&mut buf)
                .map_err(|e| TestnetError::io(&node.log, e))?;
            pos += read as u64;
            if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                return Ok(()); // the reader went away (e.g. `| head`)
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `stop NODE`: SIGTERM, then SIGKILL after the grace period.
pub fn stop(rt: &Runtime, name: &str, out: &mut impl Write) -> Result<Stopped, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let i = m.node(name)?;
    let node = &m.nodes[i];
    let outcome = match node.pid {
        Some(pid) => process::stop_all(&[(pid, &node.config)], rt.grace)[0],
        None => Stopped::NotRunning,
    };
    let _ = match outcome {
        Stopped::Terminated => writeln!(out, "{name} stopped."),
        Stopped::Killed => writeln!(
            out,
            "{name} did not exit within {}s of SIGTERM and was killed.",
            rt.grace.as_secs()
        ),
        Stopped::NotRunning => writeln!(out, "{name} was not running."),
    };
    m.nodes[i].pid = None;
    m.save(&dir)?;
    Ok(outcome)
}

/// `start NODE`: starts a stopped node and waits until it has caught up with the others.
pub fn start(rt: &Runtime, name: &str, out: &mut impl Write) -> Result<u64, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let i = m.node(name)?;
    if is_running(&m.nodes[i]) {
        return Err(TestnetError::NodeRunning {
            name: name.to_owned(),
            pid: m.nodes[i].pid.unwrap_or_default(),
        });
    }
    for (port, what) in m.nodes[i].ports() {
        if !ports::is_free(port) {
            return Err(TestnetError::PortInUse {
                port,
                what: format!("{name} {what}"),
            });
        }
    }
    // Where the rest of the network is: the height to catch up to.
    let target = m
        .nodes
        .iter()
        .enumerate()
        .filter(|(j, n)| *j != i && is_running(n))
        .filter_map(|(_, n)| height(n))
        .max();
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| TestnetError::io(dir.join("logs"), e))?;
    let pid = {
        let n = &m.nodes[i];
        process::spawn_node(&rt.bin, &n.config, &n.log, &n.name)?
    };
    m.nodes[i].pid = Some(pid);
    m.save(&dir)?;
    let _ = writeln!(
        out,
        "{name} started (pid {pid}); waiting for it to catch up…"
    );
    let node = &m.nodes[i];
    let started = Instant::now();
    loop {
        if !is_running(node) {
            m.nodes[i].pid = None;
            m.save(&dir)?;
            return Err(died(&m.nodes[i]));
        }
        let h = height(node);
        if let Some(h) = h
            && target.is_none_or(|t| h >= t)
        {
            let _ = match target {
                Some(_) => writeln!(out, "{name} is at height {h}, level with the network."),
                None => writeln!(out, "{name} answers at height {h} (no other node runs)."),
            };
            return Ok(h);
        }
        if started.elapsed() >= rt.timeout {
            // It runs; it is just slow. Leave it running and say so.
            return Err(TestnetError::Timeout {
                what: format!("{name} to reach height {}", target.unwrap_or(0)),
                secs: rt.timeout.as_secs(),
                detail: format!(
                    "it is at {}; it keeps running (see `status`). The end of {}:\n{}",
                    h.map_or("no answer".into(), |h| format!("height {h}")),
                    node.log.display(),
                    process::log_tail(&node.log, 8)
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `down`: stops every node this tool started (by recorded pid; a pid that no longer is
/// that node's process is left alone).
pub fn down(rt: &Runtime, out: &mut impl Write) -> Result<Vec<Stopped>, TestnetError> {
    let (dir, mut m) = existing(&rt.dir)?;
    let _lock = DirLock::take(&dir)?;
    let targets: Vec<(u32, &Path)> = m
        .nodes
        .iter()
        .map(|n| (n.pid.unwrap_or(0), n.config.as_path()))
        .collect();
    let outcome = process::stop_all(&targets, rt.grace);
    for (n, o) in m.nodes.iter().zip(&outcome) {
        let _ = match o {
            Stopped::Terminated => writeln!(out, "{} stopped.", n.name),
            Stopped::Killed => writeln!(out, "{} killed after {}s.", n.name, rt.grace.as_secs()),
            Stopped::NotRunning => writeln!(out, "{} was not running.", n.name),
        };
    }
    for n in &mut m.nodes {
        n.pid = None;
    }
    if let Some(l1) = m.l1.as_mut() {
        let was = l1.pid.is_some_and(|pid| l1::stop(pid, l1.port, rt.grace));
        let _ = writeln!(
            out,
            "The Ethereum node {}.",
            if was { "stopped" } else { "was not running" }
        );
        l1.pid = None;
    }
    m.save(&dir)?;
    let _ = writeln!(
        out,
        "The testnet in {} is down; `up` resumes the same chain.",
        dir.display()
    );
    Ok(outcome)
}
