//! The execution crate's integration tests, one binary: the contracts' artifacts, bridge
//! deposits, differential property tests of the two executors, real mainnet blocks, the
//! state the RPC reads (latest and historical, over MDBX and over the in-memory store), and
//! the parallel executor's statistics.

#[path = "common/contracts.rs"]
mod contracts;
#[path = "common/workloads.rs"]
mod workloads;

mod artifacts;
mod deposits;
mod differential;
mod mainnet_fixtures;
mod rpc_state;
mod state_db;
mod stats;
