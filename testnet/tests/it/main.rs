//! The end-to-end suites, one binary: real multi-node testnets started by `testnet/run.sh`
//! (debug `parallax` binaries, a real Ethereum from anvil), under faults, load, a partition, a
//! Byzantine validator and the bridge's adversaries. They run one at a time
//! ([`common::one_testnet_at_a_time`]); `./scripts/test.sh` runs them as its own stage.

mod common;
mod l1_proxy;

mod amnesia;
mod bridge;
mod bridge_stress;
mod byzantine;
mod partition;
mod script;
mod under_load;
