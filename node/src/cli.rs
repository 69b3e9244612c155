//! The command line.

use crate::commands;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Parallax: an EVM-compatible BFT sidechain.
#[derive(Debug, Parser)]
#[command(name = "parallax", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    /// DIR/nodeI/{key.json,config.toml}.
    Testnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
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

impl Cli {
    /// Runs the command.
    pub fn run(self) -> eyre::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.command {
            Command::Keys(KeysCommand::Generate {
                out: path,
                show_secret,
            }) => commands::keys::generate(&path, show_secret, &mut out),
            Command::Keys(KeysCommand::Inspect { file, show_secret }) => {
                commands::keys::inspect(&file, show_secret, &mut out)
            }
            Command::Genesis(GenesisCommand::Testnet {
                validators,
                out: dir,
                chain_id,
                base_port,
            }) => commands::genesis::testnet(&dir, validators, chain_id, base_port, &mut out),
            Command::Genesis(GenesisCommand::Inspect { file }) => {
                commands::genesis::inspect(&file, &mut out)
            }
            Command::Init { genesis, datadir } => {
                commands::init::init(&genesis, &datadir, &mut out)
            }
        }
    }
}

/// Logs go to stderr through `tracing`; `RUST_LOG` sets the level (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
