//! `DIR/testnet.json`: what tools read to find a running testnet's nodes and accounts.
//!
//! ```json
//! {
//!   "chain_id": 424242,
//!   "genesis_hash": "0x…",
//!   "nodes": [{"name": "node0", "validator": true,
//!              "rpc_http": "http://127.0.0.1:26001", "rpc_ws": "ws://127.0.0.1:26001",
//!              "grpc": "127.0.0.1:26002", "metrics": "http://127.0.0.1:26003/metrics",
//!              "p2p": "/ip4/127.0.0.1/tcp/26000/p2p/12D3…", "pid": 4242,
//!              "log": "/abs/DIR/logs/node0.log", "datadir": "/abs/DIR/node0/data",
//!              "config": "/abs/DIR/node0/config.toml"}],
//!   "accounts": [{"address": "0xf39F…", "private_key": "0xac09…"}],
//!   "l1": {"rpc": "http://127.0.0.1:26050", "chain_id": 31337, "port": 26050, "pid": 4240,
//!          "log": "/abs/DIR/logs/l1.log", "state": "/abs/DIR/l1/state.json"},
//!   "bridge": {"l1_bridge": "0x5FbD…", "l2_bridge": "0x…b41d9E",
//!              "l1_test_token": "0xe7f1…", "confirmations": 2}
//! }
//! ```
//!
//! `pid` is `null` while a node (or the Ethereum) is stopped; `l1` and `bridge` are absent on
//! a testnet without an Ethereum. Members this tool does not know are kept as they are when it
//! rewrites the file.

use crate::TestnetError;
use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// The file's name inside the testnet directory.
pub const MANIFEST_FILE: &str = "testnet.json";

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The chain id (decimal).
    pub chain_id: u64,
    /// The genesis block's hash, `0x`-prefixed.
    pub genesis_hash: String,
    /// Validators first, then full nodes.
    pub nodes: Vec<NodeEntry>,
    /// The funded development accounts.
    pub accounts: Vec<Account>,
    /// The testnet's Ethereum; absent for a testnet without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1: Option<L1Entry>,
    /// The bridge between Ethereum and Parallax; absent without an Ethereum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeEntry>,
    /// Members written by other tools, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Its name (`node0`…, `full0`…), which the commands take.
    pub name: String,
    /// Whether it is in the validator set.
    pub validator: bool,
    /// JSON-RPC over HTTP, e.g. `http://127.0.0.1:26001`.
    pub rpc_http: String,
    /// JSON-RPC over WebSocket (the same address).
    pub rpc_ws: String,
    /// The gRPC admin address, `host:port`.
    pub grpc: String,
    /// The Prometheus metrics URL.
    pub metrics: String,
    /// The libp2p address with the node's peer id (usable as a bootnode).
    pub p2p: String,
    /// The pid of its `parallax run` process; `null` while stopped.
    pub pid: Option<u32>,
    /// Its log file.
    pub log: PathBuf,
    /// Its data directory.
    pub datadir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// Members written by other tools, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The testnet's Ethereum (anvil).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct L1Entry {
    /// Its JSON-RPC URL.
    pub rpc: String,
    /// Its chain id.
    pub chain_id: u64,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The pid of its process (group); `null` while stopped.
    pub pid: Option<u32>,
    /// Its log file.
    pub log: PathBuf,
    /// The file its chain is kept in across restarts (`DIR/l1/state.json`); absent in a
    /// testnet from before Ethereum kept its state, and then `up` records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PathBuf>,
}

/// The bridge's contracts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BridgeEntry {
    /// `ParallaxBridge` on Ethereum.
    pub l1_bridge: String,
    /// `ParallaxBridgeL2`, predeployed in the Parallax genesis.
    pub l2_bridge: String,
    /// The test ERC-20 on Ethereum the development accounts hold.
    pub l1_test_token: String,
    /// How many Ethereum blocks deep a deposit must be before it is minted.
    pub confirmations: u64,
}

/// A funded development account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Its address (EIP-55 checksummed).
    pub address: String,
    /// Its private key, `0x`-prefixed hex. A public test key.
    pub private_key: String,
}

impl NodeEntry {
    /// The JSON-RPC socket address.
    pub fn rpc_addr(&self) -> Option<SocketAddr> {
        self.rpc_http.strip_prefix("http://")?.parse().ok()
    }

    /// Every port the node listens on, with what it is for.
    pub fn ports(&self) -> Vec<(u16, &'static str)> {
        let mut ports = Vec::with_capacity(4);
        if let Some(p) = p2p_port(&self.p2p) {
            ports.push((p, "p2p"));
        }
        if let Some(a) = self.rpc_addr() {
            ports.push((a.port(), "JSON-RPC"));
        }
        if let Ok(a) = self.grpc.parse::<SocketAddr>() {
            ports.push((a.port(), "gRPC"));
        }
        let metrics = self
            .metrics
            .strip_prefix("http://")
            .and_then(|m| m.split('/').next())
            .and_then(|a| a.parse::<SocketAddr>().ok());
        if let Some(a) = metrics {
            ports.push((a.port(), "metrics"));
        }
        ports
    }
}

/// The TCP port of a `/ip4/…/tcp/PORT/…` address.
fn p2p_port(addr: &str) -> Option<u16> {
    let mut parts = addr.split('/');
    parts.find(|p| *p == "tcp")?;
    parts.next()?.parse().ok()
}

impl Manifest {
    /// `DIR/testnet.json`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// Reads `DIR/testnet.json`; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, TestnetError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TestnetError::io(path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TestnetError::Manifest {
                path,
                message: e.to_string(),
            })
    }

    /// Writes `DIR/testnet.json` atomically (a reader never sees half a file).
    pub fn save(&self, dir: &Path) -> Result<(), TestnetError> {
        let path = Self::path(dir);
        let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
        let json = serde_json::to_string_pretty(self).expect("a manifest serialises");
        std::fs::write(&tmp, json + "\n").map_err(|e| TestnetError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TestnetError::io(&path, e))
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Result<usize, TestnetError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| TestnetError::UnknownNode {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    /// The node names, comma-separated.
    pub fn names(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How many validators.
    pub fn validators(&self) -> usize {
        self.nodes.iter().filter(|n| n.validator).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tools_members_survive_a_rewrite() {
        let text = r#"{
            "chain_id": 7, "genesis_hash": "0x01",
            "nodes": [{"name": "node0", "validator": true,
                "rpc_http": "http://127.0.0.1:26001", "rpc_ws": "ws://127.0.0.1:26001",
                "grpc": "127.0.0.1:26002", "metrics": "http://127.0.0.1:26003/metrics",
                "p2p": "/ip4/127.0.0.1/tcp/26000/p2p/12D3KooW", "pid": null,
                "log": "/x/logs/node0.log", "datadir": "/x/node0/data",
                "config": "/x/node0/config.toml", "bridge_key": "0xab"}],
            "accounts": [],
            "explorer": {"url": "http://127.0.0.1:4000"},
            "faucet": {"address": "0x00"}
        }"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let again = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(again, m);
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(Manifest::path(dir.path())).unwrap())
                .unwrap();
        assert_eq!(raw["explorer"]["url"], "http://127.0.0.1:4000");
        assert_eq!(raw["faucet"]["address"], "0x00");
        assert_eq!(raw["nodes"][0]["bridge_key"], "0xab");
        assert_eq!(
            again.nodes[0].ports(),
            vec![
                (26000, "p2p"),
                (26001, "JSON-RPC"),
                (26002, "gRPC"),
                (26003, "metrics")
            ]
        );
    }

    #[test]
    fn a_missing_file_is_no_testnet_and_a_broken_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Manifest::load(dir.path()).unwrap().is_none());
        std::fs::write(Manifest::path(dir.path()), "{\"chain_id\": 1").unwrap();
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("testnet.json"), "{err}");
    }
}
