//! Bounded decoding and structural checks.

use crate::{limits::*, v1};
use prost::Message;
use std::collections::HashSet;

/// Why bytes from a peer were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input is longer than the message kind allows; it was not parsed.
    #[error("{kind} of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The message kind.
        kind: &'static str,
        /// The input's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The input is not a valid protobuf encoding of the message.
    #[error("malformed {kind}: {message}")]
    Malformed {
        /// The message kind.
        kind: &'static str,
        /// prost's description.
        message: String,
    },
    /// The message parsed but breaks a structural rule.
    #[error("invalid {kind}: {field}: {detail}")]
    Invalid {
        /// The message kind.
        kind: &'static str,
        /// Which rule, as a fixed label (`bad_hash_length`, `duplicate_signer`, …).
        reason: &'static str,
        /// The offending field's path (`proposal.parent_qc.signatures[3]`).
        field: String,
        /// What is wrong.
        detail: String,
    },
}

impl WireError {
    /// A short, fixed label for metrics (`too_large`, `malformed`, or the rule broken).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed { .. } => "malformed",
            Self::Invalid { reason, .. } => reason,
        }
    }
}

/// Decodes `bytes` as `M` after checking it is at most `limit` bytes long.
pub fn decode_bounded<M: Message + Default>(
    kind: &'static str,
    bytes: &[u8],
    limit: usize,
) -> Result<M, WireError> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge {
            kind,
            len: bytes.len(),
            limit,
        });
    }
    M::decode(bytes).map_err(|e| WireError::Malformed {
        kind,
        message: e.to_string(),
    })
}

/// Checks fields of one decoded message, building error paths as it descends.
struct Checker {
    kind: &'static str,
}

impl Checker {
    fn fail<T>(
        &self,
        reason: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Result<T, WireError> {
        Err(WireError::Invalid {
            kind: self.kind,
            reason,
            field: field.into(),
            detail: detail.into(),
        })
    }

    fn required<'a, T>(&self, value: &'a Option<T>, field: &str) -> Result<&'a T, WireError> {
        match value {
            Some(v) => Ok(v),
            None => self.fail("missing_field", field, "is required"),
        }
    }

    fn hash(&self, bytes: &[u8], field: &str) -> Result<(), WireError> {
        if bytes.len() != HASH_BYTES {
            return self.fail(
                "bad_hash_length",
                field,
                format!("{} bytes, expected {HASH_BYTES}", bytes.len()),
            );
        }
        Ok(())
    }

    /// Evidence: a kind, and both signed messages with a 32-byte id and a 64-byte signature.
    fn evidence(&self, e: &v1::Evidence, field: &str) -> Result<(), WireError> {
        use v1::evidence::Kind;
        match self.required(&e.kind, &format!("{field}.kind"))? {
            Kind::DoubleProposal(d) => {
                for (name, h) in [("first", &d.first), ("second", &d.second)] {
                    let f = format!("{field}.double_proposal.{name}");
                    let h = self.required(h, &f)?;
                    self.hash(&h.block_id, &format!("{f}.block_id"))?;
                    self.signature(&h.signature, &format!("{f}.signature"))?;
                }
            }
            Kind::DoubleVote(d) => {
                for (name, v) in [("first", &d.first), ("second", &d.second)] {
                    let f = format!("{field}.double_vote.{name}");
                    let v = self.required(v, &f)?;
                    self.hash(&v.block_id, &format!("{f}.block_id"))?;
                    self.signature(&v.signature, &format!("{f}.signature"))?;
                }
            }
            Kind::DoubleTimeout(d) => {
                for (name, t) in [("first", &d.first), ("second", &d.second)] {
                    let f = format!("{field}.double_timeout.{name}");
                    let t = self.required(t, &f)?;
                    self.signature(&t.signature, &format!("{f}.signature"))?;
                }
            }
        }
        Ok(())
    }

    fn signature(&self, bytes: &[u8], field: &str) -> Result<(), WireError> {
        if bytes.len() != SIGNATURE_BYTES {
            return self.fail(
                "bad_signature_length",
                field,
                format!("{} bytes, expected {SIGNATURE_BYTES}", bytes.len()),
            );
        }
        Ok(())
    }

    fn exact(&self, bytes: &[u8], len: usize, field: &str) -> Result<(), WireError> {
        if bytes.len() != len {
            return self.fail(
                "bad_length",
                field,
                format!("{} bytes, expected {len}", bytes.len()),
            );
        }
        Ok(())
    }

    fn count(&self, len: usize, max: usize, field: &str) -> Result<(), WireError> {
        if len > max {
            return self.fail("too_many", field, format!("{len} entries, at most {max}"));
        }
        Ok(())
    }

    fn transactions(&self, txs: &[Vec<u8>], max: usize, field: &str) -> Result<usize, WireError> {
        self.count(txs.len(), max, field)?;
        let mut total = 0;
        for (i, tx) in txs.iter().enumerate() {
            if tx.is_empty() {
                return self.fail("empty_transaction", format!("{field}[{i}]"), "is empty");
            }
            if tx.len() > MAX_TRANSACTION_BYTES {
                return self.fail(
                    "oversized_transaction",
                    format!("{field}[{i}]"),
                    format!("{} bytes, at most {MAX_TRANSACTION_BYTES}", tx.len()),
                );
            }
            total += tx.len();
        }
        Ok(total)
    }

    fn block(&self, block: &v1::Block, field: &str) -> Result<(), WireError> {
        self.hash(&block.parent_id, &format!("{field}.parent_id"))?;
        let participants = format!("{field}.participants");
        self.count(
            block.participants.len(),
            MAX_SIGNATURES_PER_CERTIFICATE,
            &participants,
        )?;
        if let Some(i) = block.participants.windows(2).position(|w| w[0] >= w[1]) {
            return self.fail(
                "participants_not_canonical",
                format!("{participants}[{}]", i + 1),
                format!(
                    "{} follows {}: participants must be strictly increasing",
                    block.participants[i + 1],
                    block.participants[i]
                ),
            );
        }
        if block.payload.len() > MAX_PAYLOAD_BYTES {
            return self.fail(
                "oversized_payload",
                format!("{field}.payload"),
                format!("{} bytes, at most {MAX_PAYLOAD_BYTES}", block.payload.len()),
            );
        }
        Ok(())
    }

    fn committed_block(&self, b: &v1::CommittedBlock, field: &str) -> Result<(), WireError> {
        self.block(
            self.required(&b.block, &format!("{field}.block"))?,
            &format!("{field}.block"),
        )?;
        self.qc(
            self.required(&b.commit_qc, &format!("{field}.commit_qc"))?,
            &format!("{field}.commit_qc"),
        )?;
        if let Some(child) = &b.commit_child {
            self.block(child, &format!("{field}.commit_child"))?;
        }
        Ok(())
    }

    fn signers<I: IntoIterator<Item = u32>>(
        &self,
        indices: I,
        field: &str,
    ) -> Result<(), WireError> {
        let mut seen = HashSet::new();
        for (i, index) in indices.into_iter().enumerate() {
            if !seen.insert(index) {
                return self.fail(
                    "duplicate_signer",
                    format!("{field}[{i}]"),
                    format!("validator {index} signs twice"),
                );
            }
        }
        Ok(())
    }

    fn qc(&self, qc: &v1::QuorumCertificate, field: &str) -> Result<(), WireError> {
        self.hash(&qc.block_id, &format!("{field}.block_id"))?;
        let sigs = format!("{field}.signatures");
        self.count(qc.signatures.len(), MAX_SIGNATURES_PER_CERTIFICATE, &sigs)?;
        if qc.signatures.is_empty() && qc.round != 0 {
            return self.fail(
                "missing_signatures",
                sigs,
                "only the genesis QC (round 0) has no signatures",
            );
        }
        for (i, s) in qc.signatures.iter().enumerate() {
            self.signature(&s.signature, &format!("{sigs}[{i}].signature"))?;
        }
        self.signers(qc.signatures.iter().map(|s| s.validator_index), &sigs)
    }

    fn tc(&self, tc: &v1::TimeoutCertificate, field: &str) -> Result<(), WireError> {
        let sigs = format!("{field}.signatures");
        self.count(tc.signatures.len(), MAX_SIGNATURES_PER_CERTIFICATE, &sigs)?;
        if tc.signatures.is_empty() {
            return self.fail("missing_signatures", sigs, "a TC needs signatures");
        }
        for (i, s) in tc.signatures.iter().enumerate() {
            self.signature(&s.signature, &format!("{sigs}[{i}].signature"))?;
        }
        self.signers(tc.signatures.iter().map(|s| s.validator_index), &sigs)?;
        self.qc(
            self.required(&tc.high_qc, &format!("{field}.high_qc"))?,
            &format!("{field}.high_qc"),
        )
    }
}

/// Decodes a gossiped transaction batch: 1 to [`MAX_TRANSACTIONS_PER_BATCH`] non-empty
/// transactions of at most [`MAX_TRANSACTION_BYTES`] each.
pub fn decode_transaction_batch(bytes: &[u8]) -> Result<v1::TransactionBatch, WireError> {
    const KIND: &str = "transaction batch";
    let batch: v1::TransactionBatch = decode_bounded(KIND, bytes, MAX_TRANSACTION_BATCH_BYTES)?;
    let c = Checker { kind: KIND };
    if batch.transactions.is_empty() {
        return c.fail("empty_batch", "transactions", "no transactions");
    }
    c.transactions(
        &batch.transactions,
        MAX_TRANSACTIONS_PER_BATCH,
        "transactions",
    )?;
    Ok(batch)
}

/// Decodes the Parallax node's block payload: a non-empty header of at most
/// [`MAX_HEADER_BYTES`] and at most [`MAX_BLOCK_TRANSACTIONS`] non-empty transactions of at
/// most [`MAX_TRANSACTION_BYTES`] each, together at most [`MAX_BLOCK_BYTES`]. Whether the
/// header and transactions are valid RLP and EIP-2718 is for the caller to check.
pub fn decode_block_payload(bytes: &[u8]) -> Result<v1::BlockPayload, WireError> {
    const KIND: &str = "block payload";
    let payload: v1::BlockPayload = decode_bounded(KIND, bytes, MAX_PAYLOAD_BYTES)?;
    let c = Checker { kind: KIND };
    if payload.header.is_empty() || payload.header.len() > MAX_HEADER_BYTES {
        return c.fail(
            "bad_header",
            "header",
            format!(
                "{} bytes, expected 1..={MAX_HEADER_BYTES}",
                payload.header.len()
            ),
        );
    }
    let body = c.transactions(
        &payload.transactions,
        MAX_BLOCK_TRANSACTIONS,
        "transactions",
    )?;
    if body + payload.header.len() > MAX_BLOCK_BYTES {
        return c.fail(
            "oversized_block",
            "transactions",
            format!(
                "{} bytes with the header, at most {MAX_BLOCK_BYTES}",
                body + payload.header.len()
            ),
        );
    }
    c.count(payload.deposits.len(), MAX_BLOCK_DEPOSITS, "deposits")?;
    for (i, d) in payload.deposits.iter().enumerate() {
        c.exact(&d.l1_token, 20, &format!("deposits[{i}].l1_token"))?;
        c.exact(&d.recipient, 20, &format!("deposits[{i}].recipient"))?;
        c.exact(&d.amount, 32, &format!("deposits[{i}].amount"))?;
        c.hash(&d.l1_tx_hash, &format!("deposits[{i}].l1_tx_hash"))?;
        c.exact(&d.l1_from, 20, &format!("deposits[{i}].l1_from"))?;
        if d.metadata.len() > MAX_DEPOSIT_METADATA_BYTES {
            return c.fail(
                "oversized_field",
                format!("deposits[{i}].metadata"),
                format!(
                    "{} bytes, at most {MAX_DEPOSIT_METADATA_BYTES}",
                    d.metadata.len()
                ),
            );
        }
    }
    Ok(payload)
}

/// Decodes a gossiped withdrawal attestation: a 32-byte root and a 65-byte signature, in at
/// most [`MAX_ATTESTATION_BYTES`]. Whether the signature is the validator's is for the caller.
pub fn decode_withdrawal_attestation(bytes: &[u8]) -> Result<v1::WithdrawalAttestation, WireError> {
    const KIND: &str = "withdrawal attestation";
    let a: v1::WithdrawalAttestation = decode_bounded(KIND, bytes, MAX_ATTESTATION_BYTES)?;
    let c = Checker { kind: KIND };
    c.hash(&a.root, "root")?;
    c.exact(&a.signature, BRIDGE_SIGNATURE_BYTES, "signature")?;
    Ok(a)
}

/// Decodes one committed block (a block, its commit QC and, when it heads the 2-chain that
/// committed it, its commit child) and checks its structure. How the three relate (the child
/// extends the block, the QC certifies the right one) needs block ids, which the consensus
/// crate computes; the caller checks it.
pub fn decode_committed_block(bytes: &[u8]) -> Result<v1::CommittedBlock, WireError> {
    const KIND: &str = "committed block";
    let block: v1::CommittedBlock = decode_bounded(KIND, bytes, MAX_COMMITTED_BLOCK_BYTES)?;
    Checker { kind: KIND }.committed_block(&block, "committed_block")?;
    Ok(block)
}

/// Decodes a message from the consensus topic and checks its structure.
pub fn decode_consensus_message(bytes: &[u8]) -> Result<v1::ConsensusMessage, WireError> {
    use v1::consensus_message::Body;
    const KIND: &str = "consensus message";
    let msg: v1::ConsensusMessage = decode_bounded(KIND, bytes, MAX_CONSENSUS_MESSAGE_BYTES)?;
    let c = Checker { kind: KIND };
    match c.required(&msg.body, "body")? {
        Body::Proposal(p) => {
            c.block(c.required(&p.block, "proposal.block")?, "proposal.block")?;
            c.qc(
                c.required(&p.parent_qc, "proposal.parent_qc")?,
                "proposal.parent_qc",
            )?;
            if let Some(tc) = &p.tc {
                c.tc(tc, "proposal.tc")?;
            }
            c.signature(&p.signature, "proposal.signature")?;
        }
        Body::Vote(v) => {
            c.hash(&v.block_id, "vote.block_id")?;
            c.signature(&v.signature, "vote.signature")?;
        }
        Body::Timeout(t) => {
            c.qc(
                c.required(&t.high_qc, "timeout.high_qc")?,
                "timeout.high_qc",
            )?;
            if let Some(tc) = &t.tc {
                c.tc(tc, "timeout.tc")?;
            }
            c.signature(&t.signature, "timeout.signature")?;
        }
        Body::Sync(s) => {
            c.qc(
                c.required(&s.highest_qc, "sync.highest_qc")?,
                "sync.highest_qc",
            )?;
            if let Some(tc) = &s.highest_tc {
                c.tc(tc, "sync.highest_tc")?;
            }
        }
        Body::Evidence(e) => c.evidence(e, "evidence")?,
    }
    Ok(msg)
}

/// Decodes a block sync request: 1 to [`MAX_SYNC_BLOCKS`] blocks.
pub fn decode_sync_request(bytes: &[u8]) -> Result<v1::BlockSyncRequest, WireError> {
    const KIND: &str = "sync request";
    let req: v1::BlockSyncRequest = decode_bounded(KIND, bytes, MAX_SYNC_REQUEST_BYTES)?;
    if !req.block_id.is_empty() && req.block_id.len() != 32 {
        return Checker { kind: KIND }.fail(
            "bad_hash",
            "block_id",
            format!("{} bytes, expected 32", req.block_id.len()),
        );
    }
    if req.max_blocks == 0 || req.max_blocks > MAX_SYNC_BLOCKS {
        return Checker { kind: KIND }.fail(
            "bad_block_count",
            "max_blocks",
            format!("{}, expected 1..={MAX_SYNC_BLOCKS}", req.max_blocks),
        );
    }
    Ok(req)
}

/// Decodes a block sync response and checks its structure.
pub fn decode_sync_response(bytes: &[u8]) -> Result<v1::BlockSyncResponse, WireError> {
    use v1::block_sync_response::Result as SyncResult;
    const KIND: &str = "sync response";
    let resp: v1::BlockSyncResponse = decode_bounded(KIND, bytes, MAX_SYNC_RESPONSE_BYTES)?;
    let c = Checker { kind: KIND };
    match c.required(&resp.result, "result")? {
        SyncResult::Blocks(synced) => {
            c.count(
                synced.blocks.len(),
                MAX_SYNC_BLOCKS as usize,
                "blocks.blocks",
            )?;
            if synced.blocks.is_empty() {
                return c.fail(
                    "empty_response",
                    "blocks.blocks",
                    "no blocks; send an error instead",
                );
            }
            for (i, b) in synced.blocks.iter().enumerate() {
                c.committed_block(b, &format!("blocks.blocks[{i}]"))?;
            }
        }
        SyncResult::Fetched(fetched) => {
            c.count(
                fetched.blocks.len(),
                MAX_SYNC_BLOCKS as usize,
                "fetched.blocks",
            )?;
            for (i, b) in fetched.blocks.iter().enumerate() {
                c.block(b, &format!("fetched.blocks[{i}]"))?;
            }
        }
        SyncResult::Error(e) => {
            if v1::sync_error::Code::try_from(e.code).is_err() {
                return c.fail(
                    "unknown_error_code",
                    "error.code",
                    format!("{} is not a known code", e.code),
                );
            }
            if e.message.len() > MAX_SYNC_ERROR_MESSAGE_BYTES {
                return c.fail(
                    "oversized_error",
                    "error.message",
                    format!("{} bytes", e.message.len()),
                );
            }
        }
    }
    Ok(resp)
}
