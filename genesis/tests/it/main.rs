//! The integration tests of the genesis crate, in one binary: each file is a module, so the crate
//! is linked once rather than once per file. Run one file's tests with
//! `cargo test -p parallax-genesis --test it <module>::`.

mod public_genesis;
mod validation;
