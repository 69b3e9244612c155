//! The validator's engine: the parts of a running node that decide what happens to the
//! chain, between the network and the database.
//!
//! ```text
//! network ──gossip──▶ ingress ──decoded──▶ driver thread (consensus + chain) ──▶ MDBX
//!    ▲                 │ txs: transactions        │ Send/Broadcast ──▶ network.publish
//!    │                 ▼                          │ Commit ──▶ mempool.on_commit, subscribers
//!    └── sync (behind? fetch committed blocks, verify certificates) ──▶ driver
//! ```
//!
//! - [`driver`]: one thread owning the consensus state machine and the chain; everything that
//!   changes the chain happens there, in order, fed through [`input`]'s bounded queue;
//! - [`ingress`]: decodes and checks gossip (consensus messages, evidence, bridge
//!   attestations) and routes it; relayed messages are rate-limited per content
//!   ([`relay_limit`]);
//! - [`sync`]: serves and fetches committed blocks with their commit proofs;
//! - [`transactions`]: admission from RPC and gossip into the mempool, and batched gossip;
//! - [`store`]: consensus data in the database (safety data, blocks, evidence), read back
//!   into a recovery at start;
//! - [`state`]: what the parts publish, typed per part, for RPC, admin and metrics to read,
//!   with each part's metrics collector; [`metrics`] the histograms and encoding helpers;
//! - [`clock`]: the clock timers are read on, so tests run them in virtual time.
//!
//! The rules themselves live below: consensus in `parallax-consensus` (the engine carries out
//! its actions), blocks in `parallax-chain`, the pool's policy in `parallax-txpool`, the wire
//! in `parallax-network`. The engine never imports the RPC, admin or metrics servers, nor the
//! command line: `parallax-node` composes them with it.

pub mod clock;
pub mod driver;
pub mod ingress;
pub mod input;
pub mod metrics;
mod observe;
pub mod relay_limit;
pub mod state;
pub mod store;
pub mod sync;
pub mod transactions;
