//! The Parallax two-way bridge to Ethereum: the Solidity contracts, the L1 watcher,
//! validator attestations and the relayer.
//!
//! Nothing is implemented yet: the bridge arrives with the bridge issue (#8). The bridge's
//! genesis settings (L1 chain id, confirmation depth, contract addresses) are already part of
//! the chain spec in `parallax-genesis`.
