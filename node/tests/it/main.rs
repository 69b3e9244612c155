//! The node's integration tests, in one binary: each file is a module, so the node crate is
//! linked once rather than once per file. Run one file's tests with
//! `cargo test -p parallax-node --test it rpc::` (its module name).

mod common;

mod bridge;
mod cli;
mod clock;
mod layout;
mod operator;
mod processes;
mod rpc;
mod validators;
mod wallets;
