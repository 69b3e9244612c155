//! `up`: a new testnet (genesis, keys, configs, ports, the Ethereum beside it) or the one in
//! the directory resumed, and the summary it prints.

use super::{DirLock, Runtime, absolute, died, height, is_running, stop_quietly};
use crate::{
    Manifest, TestnetError, l1,
    manifest::{Account, BridgeEntry, L1Entry, NodeEntry},
    ports, process,
};
use parallax_genesis::{Genesis, NativeCurrency, TestnetOptions, generate_testnet};
use std::{
    io::Write,
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

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
