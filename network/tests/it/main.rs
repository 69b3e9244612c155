//! The network crate's integration tests, in one binary: [`swarm`] runs several libp2p swarms
//! in one process on 127.0.0.1; [`wire`] round-trips every message through its encoding and
//! feeds it bad bytes. Run one file's tests with `cargo test -p parallax-network --test it wire::`.

mod swarm;
mod wire;
