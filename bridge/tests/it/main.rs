//! The integration tests of the bridge crate, in one binary: each file is a module, so the crate
//! is linked once rather than once per file. Run one file's tests with
//! `cargo test -p parallax-bridge --test it <module>::`.

mod common;

mod artifacts;
mod l1_contract;
mod l1_payouts;
mod l1_tls;
