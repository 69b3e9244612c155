//! The node's side of the bridge to Ethereum.
//!
//! Deposits ([`deposits`]): [`DepositView`] is this node's own view of the Ethereum bridge
//! contract, kept by [`watch_deposits`] through its own L1 RPC with
//! `parallax_bridge::l1::DepositWatcher` (only deposits Ethereum has settled: K blocks deep, or
//! finalized). It resumes where the chain stands (the next nonce Parallax mints and the
//! Ethereum block of the last one, both read from `ParallaxBridgeL2`'s state) and holds a
//! bounded number of deposits ahead of it. A leader proposes the next deposits from it
//! ([`DepositView::pending`]); a voter refuses a proposal carrying a deposit its view does not
//! hold exactly ([`DepositView::check`]). A proposal's deposits are committed in the header's
//! `requests_hash` ([`requests_hash`]).
//!
//! Withdrawals: see [`withdrawals`] (the per-block trees, attestations and the relayer).

pub mod deposits;
pub mod withdrawals;

pub use deposits::{DepositCursor, DepositView, watch_deposits};

pub use parallax_bridge::deposit::{DEPOSIT_REQUEST_TYPE, Deposit, requests_hash};
