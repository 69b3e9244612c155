//! The Parallax two-way bridge to Ethereum.
//!
//! - [`contracts`]: the Solidity contracts of `bridge/contracts/` (`ParallaxBridge` on
//!   Ethereum, a test ERC-20), their ABI bindings and compiled code.
//! - [`deposit`]: a deposit as a Parallax block mints it, and the header's commitment to a
//!   block's deposits.
//! - [`withdrawal`]: withdrawals and the Merkle tree of a Parallax block's withdrawals,
//!   hashed as the contract verifies them.
//! - [`attest`]: the EIP-712 messages validators sign with their secp256k1 bridge keys
//!   (withdrawal roots, validator-set updates, pausing) and the collection of signatures into
//!   a quorum of more than 2/3 of the voting power.
//! - [`watcher`]: a node's bounded view of the deposits Ethereum settled, which its leader
//!   proposes from and its votes check proposals against, kept by a task over [`l1`] and
//!   resumed from the chain's state.
//! - [`relay`]: withdrawals from committed blocks (their Merkle trees from the blocks'
//!   events), the validators' signed and gossiped roots, and the relayer that carries
//!   quorum-signed roots and their withdrawals to Ethereum; the proofs anyone can finish a
//!   withdrawal with.
//! - [`l1`]: the view of Ethereum through the validator's own L1 RPC (alloy provider): calls
//!   and transactions to the contracts, and the watcher that reports deposits once they are
//!   enough blocks deep.
//!
//! This crate does no consensus and knows nothing of the node: it is the bridge's logic, its
//! Ethereum client, and the tasks that read Parallax's side from the database (`storage`),
//! which the node wires in.

pub mod attest;
pub mod contracts;
pub mod deposit;
mod handles;
pub mod l1;
mod metrics;
pub mod relay;
pub mod watcher;
pub mod withdrawal;

pub use handles::BridgeHandles;
pub use metrics::BridgeMetrics;
