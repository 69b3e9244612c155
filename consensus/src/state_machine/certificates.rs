//! Certificates: verifying QCs and TCs (signers known and counted once, signatures in one
//! batch, verified digests cached), the continuity checks on our own signatures they carry,
//! and what a valid certificate moves (the highest QC, the round, the commit rule).

use crate::crypto;
use crate::types::{Hash, QuorumCertificate, Round, TimeoutCertificate, ValidatorIndex};
use ed25519_dalek::VerifyingKey;
use std::collections::HashSet;
use tracing::warn;

use super::{Consensus, Rejection};

impl Consensus {
    pub(super) fn remember_verified(&mut self, digest: Hash) {
        if self.verified.insert(digest) {
            self.verified_order.push_back(digest);
            while self.verified_order.len() > self.cfg.limits.verified_cache {
                if let Some(old) = self.verified_order.pop_front() {
                    self.verified.remove(&old);
                }
            }
        }
    }

    pub(super) fn signer_key(&self, i: ValidatorIndex) -> Result<(VerifyingKey, u64), Rejection> {
        match (self.cfg.validators.key(i), self.cfg.validators.power(i)) {
            (Some(k), Some(p)) => Ok((*k, p)),
            _ => Err(Rejection::UnknownValidator(i)),
        }
    }

    /// Verifies a QC: the genesis QC exactly, or (once, then remembered) what
    /// [`QuorumCertificate::verify`] checks: a quorum of distinct known signers whose
    /// signatures verify in one batch.
    pub(crate) fn verify_qc(&mut self, qc: &QuorumCertificate) -> Result<(), Rejection> {
        if qc.round == 0 {
            return if *qc == QuorumCertificate::genesis(self.cfg.genesis) {
                Ok(())
            } else {
                Err(Rejection::Malformed(
                    "round-0 QC that is not the genesis QC",
                ))
            };
        }
        let digest = qc.digest();
        if self.verified.contains(&digest) {
            return Ok(());
        }
        qc.verify(self.cfg.chain_id, &self.cfg.validators)?;
        self.remember_verified(digest);
        Ok(())
    }

    /// Verifies a TC: a quorum of distinct known signers, each timeout signature valid (one
    /// batch), and a high QC that is valid and is the highest the signers reported.
    pub(crate) fn verify_tc(&mut self, tc: &TimeoutCertificate) -> Result<(), Rejection> {
        if tc.round == 0 || tc.high_qc.round >= tc.round {
            return Err(Rejection::Malformed("TC round"));
        }
        let digest = tc.digest();
        if self.verified.contains(&digest) {
            return Ok(());
        }
        if tc.signatures.len() > self.cfg.validators.len() {
            return Err(Rejection::Malformed("more signatures than validators"));
        }
        let mut seen = HashSet::new();
        let mut power = 0u64;
        let mut keys = Vec::with_capacity(tc.signatures.len());
        let mut sigs = Vec::with_capacity(tc.signatures.len());
        let mut msgs = Vec::with_capacity(tc.signatures.len());
        for s in &tc.signatures {
            let (k, p) = self.signer_key(s.signer)?;
            if !seen.insert(s.signer) {
                return Err(Rejection::DuplicateSigner(s.signer));
            }
            if s.high_qc_round >= tc.round {
                return Err(Rejection::Malformed(
                    "TC signer's QC round not below the TC",
                ));
            }
            power += p;
            keys.push(k);
            sigs.push(s.signature);
            msgs.push(crypto::timeout_message(
                self.cfg.chain_id,
                tc.round,
                s.high_qc_round,
            ));
        }
        if !self.cfg.validators.is_quorum(power) {
            return Err(Rejection::NoQuorum("TC"));
        }
        if tc.highest_hqc_round() != tc.high_qc.round {
            return Err(Rejection::Malformed(
                "TC high QC is not the highest reported",
            ));
        }
        self.verify_qc(&tc.high_qc)?;
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        if !crypto::verify_batch(&refs, &sigs, &keys) {
            return Err(Rejection::InvalidSignature("TC"));
        }
        self.remember_verified(digest);
        Ok(())
    }

    /// A verified certificate of `round` signed by `signers`: judges the safety data's
    /// continuity with it (see [`crate::continuity`]).
    pub(super) fn check_continuity(&mut self, round: Round, mine: bool) {
        if let Some(floor) =
            self.continuity
                .on_certificate(round, mine, self.safety.last_voted_round)
        {
            warn!(
                me = self.me,
                certificate_round = round,
                last_voted_round = self.safety.last_voted_round,
                floor,
                "safety data is missing or behind the network: signing nothing up to round {floor}"
            );
        }
    }

    /// This validator's signature is in a certificate of round `signed` (seen as a block's
    /// participant, in the block of round `block_round`).
    pub(super) fn note_own_signature(&mut self, signed: Round, block_round: Round) {
        if let Some(floor) = self
            .continuity
            .on_own_signature(signed, self.safety.last_voted_round)
        {
            warn!(
                me = self.me,
                block_round,
                last_voted_round = self.safety.last_voted_round,
                floor,
                "safety data is behind this validator's signatures in a block: signing nothing up to round {floor}"
            );
        }
    }

    /// Whether this node may sign a new message in `round` (the continuity rule; the safety
    /// rules apply on top).
    pub(super) fn may_sign(&self, round: Round) -> bool {
        self.continuity.may_sign(round)
    }

    /// Takes in a verified QC: raises the highest QC, applies the commit rule, and moves to
    /// the round after it.
    pub(super) fn process_qc(&mut self, qc: &QuorumCertificate) {
        let mine = qc.signatures.iter().any(|s| s.signer == self.me);
        self.check_continuity(qc.round, mine);
        if qc.round > self.safety.highest_qc.round {
            self.safety.highest_qc = qc.clone();
            self.dirty = true;
        }
        if qc.round > self.committed.round && !self.certified.contains_key(&qc.round) {
            self.certified.insert(qc.round, qc.clone());
            while self.certified.len() > self.cfg.limits.max_certified {
                self.certified.pop_first();
            }
            self.try_commit();
        }
        self.advance_round(qc.round + 1);
        // A commit may have made this node the leader of its round.
        self.try_propose();
    }

    pub(super) fn process_tc(&mut self, tc: &TimeoutCertificate) {
        let mine = tc.signatures.iter().any(|s| s.signer == self.me);
        self.check_continuity(tc.round, mine);
        if tc.round > self.safety.highest_tc_round() {
            self.safety.highest_tc = Some(tc.clone());
            self.dirty = true;
        }
        self.process_qc(&tc.high_qc);
        self.advance_round(tc.round + 1);
    }
}
