//! The local multi-node Parallax testnet: the `run.sh` script's helpers and the end-to-end
//! tests that start real node processes on 127.0.0.1.
//!
//! Nothing is implemented yet: the testnet arrives with the testnet issue (#7). Generating a
//! testnet's keys, genesis and per-node configuration already works through
//! `parallax genesis testnet` (crate `parallax-genesis`).
