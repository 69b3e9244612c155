//! The command line: what `parallax` accepts (clap). `commands` carries it out.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Parallax: an EVM-compatible BFT sidechain.
#[derive(Debug, Parser)]
#[command(name = "parallax", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format: `text` (human-readable, the default) or `json` (one JSON object per
    /// line). The level comes from `RUST_LOG` (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`)
    /// and the enclosing spans.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validator key files.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Genesis files and testnet configurations.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Store a chain's genesis block and state in a data directory (MDBX under DIR/db).
    /// Running it again with the same genesis changes nothing; a different one is refused.
    Init {
        /// The genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// The data directory.
        #[arg(long)]
        datadir: PathBuf,
    },
    /// Run a node (validator or full node) from a TOML config; flags override its fields.
    Run(Box<RunArgs>),
    /// Measure a running chain.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a one-validator development chain with the 20 development accounts funded,
    /// serving JSON-RPC (default 127.0.0.1:8545). Without --datadir the chain is thrown away
    /// on exit.
    Dev {
        /// Keep the chain here across restarts.
        #[arg(long)]
        datadir: Option<PathBuf>,
        /// JSON-RPC address.
        #[arg(long, default_value = "127.0.0.1:8545")]
        rpc_addr: std::net::SocketAddr,
        /// Serve the gRPC admin service here (default: not served).
        #[arg(long)]
        grpc_addr: Option<std::net::SocketAddr>,
        /// Serve Prometheus metrics (`GET /metrics`) here (default: not served).
        #[arg(long)]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Ask a running node's gRPC admin service; prints `key: value` lines.
    Admin {
        /// What to ask.
        #[command(subcommand)]
        query: AdminQuery,
        /// The node's gRPC admin address: `host:port` or `http://host:port`.
        #[arg(long, global = true, default_value = "127.0.0.1:9090")]
        grpc: String,
    },
}

/// `parallax admin …`
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AdminQuery {
    /// Chain, head, rounds, peers, mempool and sync state.
    Status,
    /// Connected peers.
    Peers,
    /// The validator set.
    Validators,
    /// The consensus state machine's rounds and leader.
    Consensus,
    /// Equivocation evidence the node holds.
    Evidence {
        /// Only evidence against this validator index.
        #[arg(long)]
        validator: Option<u32>,
    },
}

/// `parallax run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The node's config file.
    #[arg(long)]
    pub config: PathBuf,
    /// Node name.
    #[arg(long)]
    pub name: Option<String>,
    /// Genesis file.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Data directory.
    #[arg(long)]
    pub datadir: Option<PathBuf>,
    /// Key file.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// libp2p listen address, e.g. /ip4/127.0.0.1/tcp/30303.
    #[arg(long)]
    pub listen_addr: Option<libp2p::Multiaddr>,
    /// Bootnode (repeatable), ending in /p2p/PEER_ID; replaces the config's list.
    #[arg(long = "bootnode")]
    pub bootnodes: Vec<libp2p::Multiaddr>,
    /// JSON-RPC address.
    #[arg(long)]
    pub rpc_addr: Option<std::net::SocketAddr>,
    /// gRPC admin address.
    #[arg(long)]
    pub grpc_addr: Option<std::net::SocketAddr>,
    /// Prometheus metrics address.
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Mempool: most transactions in total.
    #[arg(long)]
    pub max_transactions: Option<usize>,
    /// Mempool: most transactions per sender.
    #[arg(long)]
    pub max_per_sender: Option<usize>,
    /// Mempool: most bytes of transactions in total.
    #[arg(long)]
    pub mempool_max_bytes: Option<usize>,
    /// Threads of the parallel executor.
    #[arg(long)]
    pub executor_threads: Option<usize>,
}

/// `parallax bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send signed transactions at a fixed rate over nodes' JSON-RPC and report offered and
    /// committed transactions/s, submission-to-commit latency and block intervals. The
    /// senders (development-mnemonic accounts from index 1000) are funded from the 20
    /// funded development accounts, which the chain's genesis must hold (`parallax dev`
    /// and `parallax genesis testnet` chains do). SIGINT or SIGTERM ends the load early;
    /// the drain and the report follow as after a full run.
    Load {
        /// A node's JSON-RPC URL (repeatable); transactions are spread over all of them.
        #[arg(long = "rpc", required = true)]
        rpcs: Vec<String>,
        /// Target transactions per second, over all nodes.
        #[arg(long, default_value_t = 1000)]
        tps: u64,
        /// Seconds of load.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// What each transaction does.
        #[arg(long, value_enum, default_value_t = LoadKind::Transfer)]
        kind: LoadKind,
        /// Sender accounts.
        #[arg(long, default_value_t = 400)]
        senders: usize,
        /// Keep-alive connections per node.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seconds to wait after the load for accepted transactions to commit.
        #[arg(long, default_value_t = 30)]
        drain: u64,
        /// Also write every committed transaction here, one JSON object per line:
        /// `{"hash": "0x…", "block": N}` (N as a decimal number).
        #[arg(long)]
        record: Option<std::path::PathBuf>,
    },
}

/// What `parallax bench load` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadKind {
    /// ETH transfers of 1 wei.
    Transfer,
    /// ERC-20 `transfer`s of the test token.
    Erc20,
}

/// `parallax keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a validator key file: an ed25519 consensus key, an ed25519 network (libp2p)
    /// key and a secp256k1 bridge key. Prints the public parts; the file is mode 0600 and is
    /// never overwritten.
    Generate {
        /// Where to write the key file.
        #[arg(long)]
        out: PathBuf,
        /// Also print the secret keys.
        #[arg(long)]
        show_secret: bool,
    },
    /// Print a key file's public parts (after checking they match its secrets).
    Inspect {
        /// The key file.
        file: PathBuf,
        /// Also print the secret keys.
        #[arg(long)]
        show_secret: bool,
    },
}

/// `parallax genesis …`
#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Write a complete N-validator configuration: DIR/genesis.json and, per validator,
    /// DIR/nodeI/{key.json,config.toml} (per full node, DIR/fullJ/…).
    Testnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Number of non-validator full nodes (keys outside the validator set; their ports
        /// follow the validators').
        #[arg(long, default_value_t = 0)]
        full_nodes: usize,
        /// Output directory; must not exist or be empty.
        #[arg(long)]
        out: PathBuf,
        /// Chain id.
        #[arg(long, default_value_t = parallax_genesis::DEFAULT_TESTNET_CHAIN_ID)]
        chain_id: u64,
        /// Node I listens on BASE+10I (p2p), +1 (RPC), +2 (gRPC), +3 (metrics).
        #[arg(long, default_value_t = 26_000)]
        base_port: u16,
    },
    /// Print a genesis file's chain id, account count, state root and genesis block hash,
    /// one `key: value` per line. Works for any geth genesis file.
    Inspect {
        /// The genesis file.
        file: PathBuf,
    },
}

/// Logs go to stderr through `tracing`, as text or JSON lines; `RUST_LOG` sets the level
/// (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
