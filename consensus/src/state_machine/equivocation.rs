//! Equivocations: evidence this node caught or was sent, verified, reported once and
//! gossiped.

use crate::evidence::Evidence;
use crate::types::Message;
use tracing::warn;

use super::{Action, Consensus, Rejection};

impl Consensus {
    /// An equivocation this node caught (both messages verified on arrival): reported and
    /// broadcast, once.
    pub(super) fn caught(&mut self, evidence: Evidence) {
        let evidence = evidence.canonical();
        if !self.evidence.insert(&evidence) {
            return;
        }
        warn!(
            me = self.me,
            culprit = evidence.culprit(),
            round = evidence.round(),
            kind = evidence.kind().as_str(),
            "validator equivocated"
        );
        self.out.push(Action::Broadcast {
            message: Message::Evidence(Box::new(evidence.clone())),
        });
        self.out.push(Action::ReportEvidence(evidence));
    }

    /// Evidence a peer gossiped: verified, then reported once (gossip relays it on).
    pub(super) fn on_evidence(&mut self, evidence: Evidence) -> Result<(), Rejection> {
        let evidence = evidence.canonical();
        if self.evidence.contains(&evidence) {
            return Err(Rejection::Duplicate);
        }
        evidence.verify(self.cfg.chain_id, &self.cfg.validators)?;
        self.evidence.insert(&evidence);
        warn!(
            me = self.me,
            culprit = evidence.culprit(),
            round = evidence.round(),
            kind = evidence.kind().as_str(),
            "evidence of an equivocation received"
        );
        self.out.push(Action::ReportEvidence(evidence));
        Ok(())
    }
}
