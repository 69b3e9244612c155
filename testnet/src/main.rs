//! `parallax-testnet`: starts and manages a local multi-node Parallax testnet. Usually run
//! through `testnet/run.sh`, which builds the binaries first.

use clap::{Parser, Subcommand};
use eyre::WrapErr;
use parallax_testnet::commands::{self, Runtime, UpOptions};
use std::{path::PathBuf, time::Duration};

/// A local Parallax testnet on 127.0.0.1: N validators and a full node, each a
/// `parallax run` process.
#[derive(Debug, Parser)]
#[command(name = "parallax-testnet", version, about)]
struct Cli {
    /// The testnet's directory (keys, genesis, data, logs, testnet.json).
    #[arg(long, global = true, default_value = ".testnet")]
    dir: PathBuf,
    /// The `parallax` binary the nodes run (default: $PARALLAX_BIN, else `parallax` beside
    /// this binary, else on PATH).
    #[arg(long, global = true)]
    parallax_bin: Option<PathBuf>,
    /// Seconds `up` and `start` wait for blocks.
    #[arg(long, global = true, default_value_t = 120)]
    timeout: u64,
    /// Seconds `stop` and `down` wait after SIGTERM before SIGKILL.
    #[arg(long, global = true, default_value_t = 20)]
    grace: u64,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a new testnet in DIR, or resume the stopped one there; wait for blocks; print
    /// the RPC URLs, chain id, funded accounts and MetaMask settings.
    Up {
        /// Validators (new testnet only; default 4).
        #[arg(long)]
        validators: Option<usize>,
        /// Non-validator full nodes (new testnet only; default 1).
        #[arg(long)]
        full_nodes: Option<usize>,
        /// Chain id (new testnet only; default 424242).
        #[arg(long)]
        chain_id: Option<u64>,
        /// Search for free ports from here (new testnet only; default 26000). Node I takes
        /// BASE+10I (p2p), +1 (JSON-RPC), +2 (gRPC), +3 (metrics).
        #[arg(long)]
        base_port: Option<u16>,
        /// Run no Ethereum (anvil) and so no bridge beside the nodes.
        #[arg(long)]
        no_l1: bool,
    },
    /// A table of the nodes: height, round, peers, last commit, mempool.
    Status,
    /// Print a node's log.
    Logs {
        /// The node (e.g. node0, full0).
        node: String,
        /// Lines from the end.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        /// Keep printing what the node writes (Ctrl-C to stop).
        #[arg(short, long)]
        follow: bool,
    },
    /// Stop one node (SIGTERM; SIGKILL after the grace period).
    Stop {
        /// The node.
        node: String,
    },
    /// Start one stopped node and wait until it has caught up.
    Start {
        /// The node.
        node: String,
    },
    /// Stop every node this tool started.
    Down,
}

fn parallax_bin(flag: Option<PathBuf>) -> eyre::Result<PathBuf> {
    if let Some(bin) = flag.or_else(|| std::env::var_os("PARALLAX_BIN").map(PathBuf::from)) {
        return bin
            .canonicalize()
            .wrap_err_with(|| format!("the parallax binary {}", bin.display()));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("parallax")));
    if let Some(bin) = beside.filter(|b| b.is_file()) {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("parallax"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| {
        eyre::eyre!(
            "no parallax binary: set PARALLAX_BIN or --parallax-bin, or build it with \
             `cargo build --release -p parallax-node --bin parallax` (testnet/run.sh does)"
        )
    })
}

/// The repository whose `node_modules/` holds anvil: `PARALLAX_REPO` (run.sh sets it), else
/// the one this binary was built from.
fn repo() -> PathBuf {
    std::env::var_os("PARALLAX_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default()
        })
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> eyre::Result<()> {
    let needs_bin = matches!(cli.command, Cmd::Up { .. } | Cmd::Start { .. });
    let rt = Runtime {
        dir: cli.dir.clone(),
        bin: if needs_bin {
            parallax_bin(cli.parallax_bin)?
        } else {
            PathBuf::from("parallax")
        },
        timeout: Duration::from_secs(cli.timeout),
        grace: Duration::from_secs(cli.grace),
        repo: repo(),
    };
    let mut out = std::io::stdout().lock();
    match cli.command {
        Cmd::Up {
            validators,
            full_nodes,
            chain_id,
            base_port,
            no_l1,
        } => {
            let opts = UpOptions {
                validators,
                full_nodes,
                chain_id,
                base_port,
                no_l1,
            };
            commands::up(&rt, &opts, &mut out)?;
        }
        Cmd::Status => {
            commands::status(&rt.dir, &mut out)?;
        }
        Cmd::Logs {
            node,
            lines,
            follow,
        } => commands::logs(&rt.dir, &node, lines, follow, &mut out)?,
        Cmd::Stop { node } => {
            commands::stop(&rt, &node, &mut out)?;
        }
        Cmd::Start { node } => {
            commands::start(&rt, &node, &mut out)?;
        }
        Cmd::Down => {
            commands::down(&rt, &mut out)?;
        }
    }
    Ok(())
}
