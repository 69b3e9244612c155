//! The Parallax node: the `parallax` binary — block production and import, storage wiring,
//! RPC and the command line, composed from the crates that own each concern.
//!
//! The node wires; it does not decide. Consensus rules live in `parallax-consensus`, block
//! execution in `parallax-execution`, the chain spec in `parallax-genesis`, the database in
//! `parallax-storage`, the transaction pool in `parallax-txpool`, libp2p and the wire encoding
//! in `parallax-network`, the bridge's protocol in `parallax-bridge` and the load generator
//! of `parallax bench load` in `parallax-loadgen`. Blocks are built,
//! checked and committed by `parallax-chain`. Ethereum JSON-RPC is served by
//! `parallax-rpc`. Here: [`admin`] serves the gRPC admin service, [`metrics`] the
//! Prometheus endpoint, and [`service`] runs them together as a validator or full node.

pub mod admin;
pub mod cli;
mod commands;
pub mod metrics;
mod server;
pub mod service;
pub mod state;
pub(crate) mod store;
