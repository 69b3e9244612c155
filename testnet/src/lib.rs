//! The local multi-node Parallax testnet: the `parallax-testnet` helper behind
//! `testnet/run.sh`, and the end-to-end test that drives the script.
//!
//! `run.sh up` generates keys, genesis and node configs (through
//! [`parallax_genesis::generate_testnet`]: N validators and a full node outside the
//! validator set), picks 127.0.0.1 ports that are free ([`ports`]), starts one detached
//! `parallax run` per node with its log in `DIR/logs/`, waits until every node has new
//! committed blocks, and writes `DIR/testnet.json` ([`Manifest`]) for tools. `status` asks
//! each node over JSON-RPC ([`rpc`]) for its height, round, peers, last commit and mempool;
//! `stop`, `start` and `down` signal only the pids it recorded, and only while
//! `/proc/PID/cmdline` is still that node's `parallax run` ([`process`]). `up` on a stopped
//! testnet resumes the same chain from its data directories. Beside the nodes runs the testnet's
//! Ethereum ([`l1`]): an anvil node (its state kept across restarts) with the bridge
//! contracts, which every node watches and the validators relay withdrawals to. See `testnet/README.md`.

pub mod commands;
mod error;
pub mod l1;
pub mod manifest;
pub mod ports;
pub mod process;
pub mod rpc;

pub use error::TestnetError;
pub use manifest::Manifest;
