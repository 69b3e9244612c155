//! What can go wrong running a testnet, in words that say what to do about it.

use std::path::PathBuf;

/// A testnet command's failure.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Generating or loading the genesis or a node config failed.
    #[error(transparent)]
    Genesis(#[from] parallax_genesis::GenesisError),
    /// `testnet.json` is not what this tool writes.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The directory holds no testnet.
    #[error("no testnet in {} (no testnet.json); start one with `up`", dir.display())]
    NoTestnet {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory holds something else.
    #[error(
        "{} is not empty and holds no testnet.json; choose another --dir or empty it",
        dir.display()
    )]
    NotATestnetDir {
        /// The directory.
        dir: PathBuf,
    },
    /// `up` on a directory whose testnet runs.
    #[error(
        "a testnet is already running in {}: {running}; see `status`, or `down` it first",
        dir.display()
    )]
    AlreadyRunning {
        /// The directory.
        dir: PathBuf,
        /// Its running nodes and their pids.
        running: String,
    },
    /// Another command holds the directory's lock.
    #[error(
        "another testnet command is working on {} right now; try again when it has finished",
        dir.display()
    )]
    Busy {
        /// The directory.
        dir: PathBuf,
    },
    /// The testnet's Ethereum (anvil) could not be started or set up.
    #[error("the testnet's Ethereum: {0}")]
    L1(String),
    /// `up` with options that contradict the existing testnet.
    #[error("{0}")]
    Mismatch(String),
    /// A node name that is not in the testnet.
    #[error("no node named {name:?}; the nodes are {known}")]
    UnknownNode {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// `start` on a running node.
    #[error("{name} is already running (pid {pid})")]
    NodeRunning {
        /// The node.
        name: String,
        /// Its pid.
        pid: u32,
    },
    /// A port a node needs is taken.
    #[error("127.0.0.1:{port} ({what}) is in use by another program; stop it, or use a new --dir")]
    PortInUse {
        /// The port.
        port: u16,
        /// Which node and service needs it.
        what: String,
    },
    /// No base port with every port free.
    #[error("no free range of {needed} ports found from 127.0.0.1:{from} upwards")]
    NoFreePorts {
        /// Where the search started.
        from: u16,
        /// How many consecutive ports the nodes take.
        needed: u32,
    },
    /// The `parallax` binary could not be started.
    #[error("cannot start {}: {source}", bin.display())]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A node exited while the command waited for it.
    #[error("{name} exited; the end of its log ({}):\n{tail}", log.display())]
    NodeDied {
        /// The node.
        name: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
    /// The network did not get where it should in time.
    #[error("timed out after {secs}s waiting for {what}:\n{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
        /// Where each node got to, and log tails.
        detail: String,
    },
}

impl TestnetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
