//! Helpers that several crates' tests share, so each is written once: [`certificates`] signs
//! consensus messages and certificates as honest validators would; [`l1`] runs a real
//! Ethereum development node (hardhat or anvil) for a test; [`http`] posts raw JSON-RPC
//! requests and returns exactly what the server answered.
//!
//! Test-only: no crate depends on it outside `[dev-dependencies]` (`node/tests/it/layout.rs`
//! checks). The consensus crate's own unit tests cannot use it (they would see a second copy
//! of the consensus types); its integration tests and every other crate's tests can.

pub mod certificates;
pub mod http;
pub mod l1;

pub use certificates::Signers;
