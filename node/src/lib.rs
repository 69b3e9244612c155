//! The Parallax node: the `parallax` binary — configuration, the command line, and the
//! composition of the crates that own each concern into a running validator or full node.
//!
//! The node wires; it does not decide. What happens to the chain is `parallax-engine`'s (the
//! consensus driver, gossip ingress, block sync, transaction admission), over consensus rules
//! in `parallax-consensus`, block execution in `parallax-execution`, the chain spec in
//! `parallax-genesis`, the database in `parallax-storage`, the transaction pool in
//! `parallax-txpool`, libp2p and the wire encoding in `parallax-network`, the bridge in
//! `parallax-bridge` and the load generator of `parallax bench load` in `parallax-loadgen`.
//! Blocks are built, checked and committed by `parallax-chain`; Ethereum JSON-RPC is served
//! by `parallax-rpc`. Here: [`service`] starts and stops the parts together ([`parts`]: each
//! long-running one by name, with its health), [`admin`]
//! serves the gRPC admin service, [`metrics`] the Prometheus endpoint, and [`cli`] defines
//! the command line.

pub mod admin;
pub mod cli;
mod commands;
pub mod metrics;
pub mod parts;
mod server;
pub mod service;
