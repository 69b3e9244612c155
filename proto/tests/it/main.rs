//! The integration tests of the wire types, in one binary: each file is a module, so the crate
//! is linked once rather than once per file. Run one file's tests with
//! `cargo test -p parallax-proto --test it <module>::`.

mod common;

mod admin;
mod decode;
mod golden;
