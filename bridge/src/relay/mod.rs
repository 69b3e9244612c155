//! Withdrawals from Parallax to Ethereum: each committed block's `WithdrawalInitiated` events
//! (its transactions' and its failed deposits' refunds) form a Merkle tree ([`events`]);
//! validators sign its root with their bridge keys and gossip the signatures
//! ([`attestation`]); the [`Relayer`] stores every signature, and carries quorum-signed roots
//! and their withdrawals to Ethereum, so funds arrive with no step by the user. Anyone can also
//! finish a withdrawal with nothing but RPC data: [`withdrawal_proof`] (RPC
//! `parallax_getWithdrawalProof`) gives the root's signatures and the withdrawal's proof.

pub mod attestation;
pub mod events;
pub mod relayer;

pub use attestation::{Attestation, encode_attestation, verify_attestation};
pub use events::{
    WithdrawalProof, block_withdrawals, find_withdrawal, may_have_withdrawals, withdrawal_events,
    withdrawal_proof, withdrawals_in,
};
pub use relayer::{Relayer, RelayerConfig, WithdrawalStats, withdrawals_through};
