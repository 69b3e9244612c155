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
//! - [`l1`]: the view of Ethereum through the validator's own L1 RPC (alloy provider): calls
//!   and transactions to the contracts, and the watcher that reports deposits once they are
//!   enough blocks deep.
//!
//! This crate does no consensus and knows nothing of the node: it is the bridge's logic and
//! its Ethereum client, which the node wires in.

pub mod attest;
pub mod contracts;
pub mod deposit;
pub mod l1;
pub mod withdrawal;
