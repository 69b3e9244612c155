//! The Parallax node: the `parallax` binary — networking, mempool, block production and
//! import, storage wiring, RPC and the command line.
//!
//! The node wires; it does not decide. Consensus rules live in `parallax-consensus`, block
//! execution in `parallax-execution`, the chain spec in `parallax-genesis` and the database
//! in `parallax-storage`. Here: [`chain`] turns consensus payloads into Ethereum-format
//! blocks (build, validate, commit), [`mempool`] admits transactions with geth's rules,
//! [`network`] is libp2p (gossipsub and block sync), [`wire`] maps consensus types to the
//! protobuf wire formats, [`rpc`] serves Ethereum JSON-RPC over HTTP and WebSocket,
//! [`admin`] serves the gRPC admin service, [`metrics`] the Prometheus endpoint,
//! [`service`] runs them together as a validator or full node, and [`loadgen`] is the
//! transaction load of `parallax bench load` (and the RPC benchmark's client).

pub mod admin;
pub mod bridge;
pub mod chain;
pub mod cli;
mod commands;
mod limited;
pub mod loadgen;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod rpc;
pub mod service;
pub mod wire;
