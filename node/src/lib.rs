//! The Parallax node: the `parallax` binary's command line and, as the chain grows, its
//! networking, mempool, storage wiring, RPC, gRPC admin and metrics.
//!
//! The node wires; it does not decide. Consensus rules live in `parallax-consensus`, block
//! execution in `parallax-execution`, the chain spec in `parallax-genesis` and the database
//! in `parallax-storage`. Today the binary carries the operator tooling that needs no running
//! chain: `parallax keys generate|inspect` and `parallax genesis testnet|inspect`.

pub mod cli;
mod commands;
pub mod wire;
