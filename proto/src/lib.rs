//! Parallax's wire formats: the protobuf messages validators exchange over libp2p (transaction
//! gossip, consensus messages, block sync) and the gRPC admin service operators call.
//!
//! The `.proto` files live in `proto/parallax/v1/` and are compiled at build time by `protox`
//! (pure Rust) and `tonic-prost-build`; building needs no `protoc` and no network. The
//! generated types are in [`v1`], the admin service in [`v1::admin_server`] and
//! [`v1::admin_client`].
//!
//! # Decoding bytes from a peer
//!
//! Every byte from a peer is adversarial. Decode with the typed helpers —
//! [`decode_transaction_batch`], [`decode_consensus_message`], [`decode_sync_request`],
//! [`decode_sync_response`], [`decode_block_payload`], [`decode_committed_block`] — never with `Message::decode` directly. They:
//! 1. reject input longer than the message kind's size limit before parsing it;
//! 2. parse it (prost bounds nesting depth, and a malformed message is an error);
//! 3. check what protobuf cannot express: required sub-messages present, hashes 32 bytes,
//!    signatures 64 bytes, counts within limits, no signer listed twice in a certificate.
//!
//! Every failure is a [`WireError`] whose [`WireError::reason`] is a short, fixed label for
//! metrics; nothing panics. Semantic checks (signatures verify, signers are validators, rounds
//! make sense) belong to the consensus crate.

mod limits;
mod validate;

pub use limits::*;
pub use validate::{
    WireError, decode_block_payload, decode_bounded, decode_committed_block,
    decode_consensus_message, decode_sync_request, decode_sync_response, decode_transaction_batch,
    decode_withdrawal_attestation,
};

/// The generated `parallax.v1` protobuf types and the admin service.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/parallax.v1.rs"));
}
