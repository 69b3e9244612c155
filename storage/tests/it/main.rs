//! The integration tests of the storage crate, in one binary: each file is a module, so the crate
//! is linked once rather than once per file. Run one file's tests with
//! `cargo test -p parallax-storage --test it <module>::`.

mod common;

mod blocks;
mod concurrent;
mod crash;
mod history;
mod open;
