//! The deterministic simulator of `parallax-consensus`: a seeded world that attacks the
//! state machine through its public API only, and the `simulate` binary that sweeps seeds.
//!
//! [`run`] drives N validators over a simulated network in virtual time (milliseconds) from
//! one seed: latency with jitter (so messages reorder), loss, duplication, partitions that
//! start and heal, crashes (some torn half-way through an action list) and restarts from
//! the persisted safety data, and Byzantine validators ([`Adversary`]): Twins (two honest
//! instances sharing one key), garbage/conflicting senders, or validators that crash for
//! good. Every run checks:
//!
//! * **safety** — no two honest instances commit different blocks at one height; each
//!   commits in height order, each block once, so every chain is a prefix of the longest;
//!   honest validators are never reported for equivocation;
//! * **persist before send** — no vote or timeout leaves before the safety data promising it
//!   is on the simulated disk;
//! * **liveness** — once faults stop (partitions healed, crashed nodes restarted, at most f
//!   faulty of 3f+1 left), commits resume within a bounded number of rounds; with
//!   [`SimConfig::leader_crash`], the next QC after a leader crash comes within two rounds
//!   and within [`leader_crash_bar_ms`] (the two timeouts waited plus message delays);
//! * **bounded memory** — every node's [`Footprint`](parallax_consensus::Footprint) stays within
//!   its bound;
//! * **determinism** — the run's trace hash depends only on the configuration and seed.
//!
//! The world sends every message in the production encoding (`parallax_consensus::wire`),
//! so a run exercises the bytes the node gossips. A failing seed prints the `simulate`
//! command that reproduces it.
//!
//! Modules: `config` (what a run simulates), `report` (what it found), `world` (the event
//! loop, its faults, network and checks) and `adversary` (the garbage sender).

mod adversary;
mod config;
mod report;
mod world;

pub use config::{Adversary, NetworkConfig, PartitionPlan, SimConfig};
pub use report::{SimReport, Violation, leader_crash_bar_ms};

use ed25519_dalek::SigningKey;
use parallax_consensus::{Hash, ValidatorIndex};

/// Test keys: deterministic per validator index.
pub fn validator_key(i: ValidatorIndex) -> SigningKey {
    let h = Hash::digest(b"parallax/sim/key", &[&i.to_be_bytes()]);
    SigningKey::from_bytes(&h.0)
}

/// The simulated genesis block id.
pub const GENESIS: Hash = Hash([0x6e; 32]);

/// The chain id used in simulations.
pub const CHAIN_ID: u64 = 0x9a11;

/// Runs one simulation.
pub fn run(cfg: SimConfig) -> SimReport {
    world::run(cfg)
}
