//! EVM block execution for Parallax.
//!
//! This crate executes a block's transactions on revm: a sequential reference executor and a
//! parallel (Block-STM style) executor whose results are byte-identical to it, the incremental
//! Merkle-Patricia state root, receipts, and the `replay` tool that proves both against real
//! Ethereum mainnet blocks. It knows nothing of consensus or networking.

pub mod state_root;
