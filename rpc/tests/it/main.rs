//! The RPC crate's integration tests: the server, started as the node starts it, over
//! `parallax-storage-api`'s in-memory store and over MDBX.

mod stores;
