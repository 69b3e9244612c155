//! A node's TOML configuration file, as `parallax genesis testnet` writes it and
//! `parallax run --config FILE` reads it.
//!
//! Relative paths are relative to the directory holding the config file, so a generated
//! testnet directory can be moved as a whole.

use crate::GenesisError;
use multiaddr::{Multiaddr, Protocol};
use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Mempool limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions held in total; the cheapest are evicted beyond it.
    pub max_transactions: usize,
    /// Most transactions held per sender (ready and future-nonce together).
    pub max_per_sender: usize,
    /// Most bytes of transactions held in total.
    pub max_bytes: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_transactions: 50_000,
            max_per_sender: 128,
            max_bytes: 128 * 1024 * 1024,
        }
    }
}

/// Peer-to-peer networking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The libp2p address to listen on, e.g. `/ip4/127.0.0.1/tcp/30303`.
    pub listen_addr: Multiaddr,
    /// Peers to dial at start, each ending in `/p2p/<peer id>`.
    #[serde(default)]
    pub bootnodes: Vec<Multiaddr>,
}

/// How the node reaches Ethereum (the bridge's L1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Config {
    /// Ethereum JSON-RPC URL (`http://…`): the node's own view of Ethereum.
    pub rpc_url: String,
    /// The Ethereum block to read bridge deposits from (the bridge's deployment block).
    #[serde(default)]
    pub from_block: u64,
    /// How often to poll Ethereum, in milliseconds.
    #[serde(default = "default_l1_poll_ms")]
    pub poll_interval_ms: u64,
    /// Whether this validator submits withdrawal roots and finalizes withdrawals on Ethereum
    /// (its bridge key pays the gas).
    #[serde(default = "default_true")]
    pub relay: bool,
}

fn default_l1_poll_ms() -> u64 {
    1_000
}

fn default_true() -> bool {
    true
}

/// A node's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name in logs and metrics.
    pub name: String,
    /// The genesis file.
    pub genesis_file: PathBuf,
    /// Where the database lives.
    pub datadir: PathBuf,
    /// The validator key file (also holds the network key); a full node has one too, for its
    /// network identity.
    pub key_file: PathBuf,
    /// Networking.
    pub network: NetworkConfig,
    /// JSON-RPC (HTTP and WebSocket on one address).
    pub rpc_addr: SocketAddr,
    /// gRPC admin API.
    pub grpc_addr: SocketAddr,
    /// Prometheus metrics.
    pub metrics_addr: SocketAddr,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// Ethereum, for the bridge; absent: the node does not watch Ethereum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1: Option<L1Config>,
}

impl NodeConfig {
    /// Reads a config file, resolves its relative paths against the file's directory and
    /// validates it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, GenesisError> {
        let path = path.as_ref();
        let bytes = crate::error::read_bounded(path, MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            GenesisError::io(path, std::io::Error::other("config file is not UTF-8"))
        })?;
        let de = toml::Deserializer::parse(&text).map_err(|e| GenesisError::Parse {
            path: path.to_path_buf(),
            what: "config",
            field: ".".into(),
            message: e.to_string(),
        })?;
        let mut config: Self = serde_path_to_error::deserialize(de)
            .map_err(|e| GenesisError::parse(path, "config", e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.genesis_file,
            &mut config.datadir,
            &mut config.key_file,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.name.trim().is_empty() {
            return Err(GenesisError::invalid("name", "must not be empty"));
        }
        if let Some(l1) = &self.l1 {
            if !(l1.rpc_url.starts_with("http://") || l1.rpc_url.starts_with("https://")) {
                return Err(GenesisError::invalid(
                    "l1.rpc_url",
                    format!("{:?} is not an http:// URL", l1.rpc_url),
                ));
            }
            if l1.poll_interval_ms == 0 || l1.poll_interval_ms > 600_000 {
                return Err(GenesisError::invalid(
                    "l1.poll_interval_ms",
                    format!("{} must be within 1..=600000", l1.poll_interval_ms),
                ));
            }
        }
        for (i, addr) in self.network.bootnodes.iter().enumerate() {
            if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                return Err(GenesisError::invalid(
                    format!("network.bootnodes[{i}]"),
                    format!("{addr} must end in /p2p/<peer id>"),
                ));
            }
        }
        let mut ports = [
            ("rpc_addr", self.rpc_addr),
            ("grpc_addr", self.grpc_addr),
            ("metrics_addr", self.metrics_addr),
        ]
        .to_vec();
        ports.sort_by_key(|(_, a)| *a);
        for pair in ports.windows(2) {
            if pair[0].1 == pair[1].1 && pair[0].1.port() != 0 {
                return Err(GenesisError::invalid(
                    pair[1].0,
                    format!("{} is also {}", pair[1].1, pair[0].0),
                ));
            }
        }
        let m = &self.mempool;
        if m.max_transactions == 0 || m.max_per_sender == 0 || m.max_bytes == 0 {
            return Err(GenesisError::invalid(
                "mempool",
                "limits must be greater than zero",
            ));
        }
        if m.max_per_sender > m.max_transactions {
            return Err(GenesisError::invalid(
                "mempool.max_per_sender",
                "is above max_transactions",
            ));
        }
        Ok(())
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a node config serialises to TOML")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NodeConfig {
        NodeConfig {
            name: "node0".into(),
            genesis_file: "../genesis.json".into(),
            datadir: "data".into(),
            key_file: "key.json".into(),
            network: NetworkConfig {
                listen_addr: "/ip4/127.0.0.1/tcp/30303".parse().unwrap(),
                bootnodes: vec![],
            },
            rpc_addr: "127.0.0.1:8545".parse().unwrap(),
            grpc_addr: "127.0.0.1:9090".parse().unwrap(),
            metrics_addr: "127.0.0.1:9100".parse().unwrap(),
            mempool: MempoolConfig::default(),
            l1: None,
        }
    }

    #[test]
    fn round_trips_and_resolves_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, sample().to_toml()).unwrap();
        let loaded = NodeConfig::load(&path).unwrap();
        assert_eq!(loaded.datadir, dir.path().join("data"));
        assert_eq!(loaded.rpc_addr, sample().rpc_addr);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let cases = [
            (
                sample()
                    .to_toml()
                    .replace("127.0.0.1:8545", "localhost-8545"),
                "rpc_addr",
            ),
            (
                sample()
                    .to_toml()
                    .replace("name = \"node0\"", "name = \"node0\"\nnmae = 1"),
                "nmae",
            ),
            (
                sample()
                    .to_toml()
                    .replace("max_per_sender = 128", "max_per_sender = 0"),
                "mempool",
            ),
            (
                sample()
                    .to_toml()
                    .replace("127.0.0.1:9090", "127.0.0.1:8545"),
                "grpc_addr",
            ),
            (
                sample()
                    .to_toml()
                    .replace("bootnodes = []", "bootnodes = [\"/ip4/127.0.0.1/tcp/1\"]"),
                "network.bootnodes[0]",
            ),
            ("name = [".to_string(), "config"),
        ];
        for (text, field) in cases {
            std::fs::write(&path, &text).unwrap();
            let err = NodeConfig::load(&path).unwrap_err().to_string();
            assert!(
                err.contains(field),
                "expected {field} in: {err}\n--- config:\n{text}"
            );
        }
    }
}
