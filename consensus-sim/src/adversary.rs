//! A Byzantine validator that follows the protocol closely enough to stay in step (it runs
//! the honest state machine) and corrupts what it sends, mixing its tricks within one run:
//! withheld votes, votes for the wrong round, replays of old messages and certificates,
//! proposals extending a stale QC, conflicting proposals to different
//! halves of the network, conflicting votes, votes for the right block at a wrong height (sent
//! first, to poison the QC the next leader forms), invalid payloads, bad signatures, certificates
//! with duplicated or unknown signers, malformed and far-future messages.

use ed25519_dalek::SigningKey;
use parallax_consensus::types::{
    Block, BlockInfo, Hash, Message, Proposal, QuorumCertificate, Signature, SignedBy, SyncInfo,
    Timeout, ValidatorIndex, Vote,
};
use parallax_consensus::{Action, crypto};
use rand::Rng;
use rand::rngs::StdRng;

pub(super) struct Garbage {
    key: SigningKey,
    me: ValidatorIndex,
    n: usize,
    /// A real QC seen on the network, to forge certificates from.
    seen_qc: Option<QuorumCertificate>,
    /// An older real QC, to propose on (a stale QC).
    old_qc: Option<QuorumCertificate>,
    /// Messages seen lately, to replay.
    history: std::collections::VecDeque<Message>,
}

/// Most messages kept for replay.
const HISTORY: usize = 32;

impl Garbage {
    pub(super) fn new(key: SigningKey, n: usize) -> Self {
        let vk = key.verifying_key();
        let me = (0..n as ValidatorIndex)
            .find(|i| crate::validator_key(*i).verifying_key() == vk)
            .unwrap_or(0);
        Self {
            key,
            me,
            n,
            seen_qc: None,
            old_qc: None,
            history: std::collections::VecDeque::new(),
        }
    }

    pub(super) fn observe(&mut self, m: &Message) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(m.clone());
        let qc = match m {
            Message::Proposal(p) => &p.qc,
            Message::Timeout(t) => &t.high_qc,
            Message::Sync(s) => &s.highest_qc,
            Message::Vote(_) | Message::Evidence(_) => return,
        };
        if qc.signatures.len() >= 2 {
            if self
                .seen_qc
                .as_ref()
                .is_some_and(|seen| seen.round + 2 <= qc.round)
            {
                self.old_qc = self.seen_qc.take();
            }
            self.seen_qc = Some(qc.clone());
        }
    }

    fn send(to: ValidatorIndex, message: Message) -> Action {
        Action::Send { to, message }
    }

    pub(super) fn transform(
        &mut self,
        rng: &mut StdRng,
        round: u64,
        actions: Vec<Action>,
    ) -> Vec<Action> {
        let mut out = Vec::with_capacity(actions.len() + 4);
        for a in actions {
            match a {
                Action::Broadcast {
                    message: Message::Proposal(p),
                } => {
                    // Equivocate: one block to even validators, another to odd ones.
                    let payload = if rng.random_bool(0.3) {
                        b"BAD payload".to_vec()
                    } else {
                        let mut v = b"ok-twin".to_vec();
                        v.extend_from_slice(&rng.random::<u64>().to_be_bytes());
                        v
                    };
                    let b = &p.block;
                    let other = Block::new(
                        b.round(),
                        b.height(),
                        b.parent(),
                        b.author(),
                        b.participants().to_vec(),
                        payload,
                    );
                    let p2 = Proposal::sign(
                        crate::CHAIN_ID,
                        other,
                        p.qc.clone(),
                        p.tc.clone(),
                        &self.key,
                    );
                    for v in 0..self.n as ValidatorIndex {
                        let m = if v % 2 == 0 {
                            Message::Proposal(p.clone())
                        } else {
                            Message::Proposal(Box::new(p2.clone()))
                        };
                        out.push(Self::send(v, m));
                    }
                    if let Some(stale) = self.old_qc.clone()
                        && stale.round < p.qc.round
                        && rng.random_bool(0.3)
                    {
                        // The same round, extending an older QC than the one it holds.
                        let b = Block::new(
                            b.round(),
                            stale.height + 1,
                            stale.block_id,
                            b.author(),
                            Proposal::participants(&stale, None),
                            b"stale".to_vec(),
                        );
                        let p3 = Proposal::sign(crate::CHAIN_ID, b, stale, None, &self.key);
                        out.push(Action::Broadcast {
                            message: Message::Proposal(Box::new(p3)),
                        });
                    }
                }
                Action::Send {
                    to,
                    message: Message::Vote(v),
                } => {
                    if rng.random_bool(0.2) {
                        // Withheld: the next leader never hears from this validator.
                        continue;
                    }
                    if rng.random_bool(0.3) {
                        // The right block, signed for the next round.
                        let wrong = BlockInfo {
                            id: v.block_id,
                            round: v.round + 1,
                            height: v.height,
                        };
                        let lie = Vote::sign(crate::CHAIN_ID, wrong, self.me, &self.key);
                        out.push(Self::send(to, Message::Vote(lie)));
                    }
                    if rng.random_bool(0.5) {
                        // First, correctly signed: the right block at a wrong height. Counted
                        // with the honest votes, it would poison the QC's height.
                        let wrong = BlockInfo {
                            id: v.block_id,
                            round: v.round,
                            height: v.height + 1 + rng.random_range(0..3),
                        };
                        let lie = Vote::sign(crate::CHAIN_ID, wrong, self.me, &self.key);
                        out.push(Self::send(to, Message::Vote(lie)));
                    }
                    out.push(Self::send(to, Message::Vote(v.clone())));
                    if rng.random_bool(0.5) {
                        // A conflicting vote for a made-up block.
                        let fake = Block::new(v.round, v.height, Hash([7; 32]), 0, vec![], vec![1]);
                        let c = Vote::sign(crate::CHAIN_ID, fake.info(), self.me, &self.key);
                        out.push(Self::send(to, Message::Vote(c)));
                    }
                }
                Action::Broadcast {
                    message: Message::Timeout(t),
                } => {
                    if rng.random_bool(0.7) {
                        out.push(Action::Broadcast {
                            message: Message::Timeout(t),
                        });
                    } else {
                        let mut bad = t;
                        bad.signature.0[0] ^= 0x55;
                        out.push(Action::Broadcast {
                            message: Message::Timeout(bad),
                        });
                    }
                }
                other => out.push(other),
            }
        }
        if rng.random_bool(0.5) {
            let to = rng.random_range(0..self.n as ValidatorIndex);
            if let Some(m) = self.garbage(rng, round) {
                out.push(Self::send(to, m));
            }
        }
        if !self.history.is_empty() && rng.random_bool(0.3) {
            // An old message or certificate, replayed as it was.
            let old = self.history[rng.random_range(0..self.history.len())].clone();
            let to = rng.random_range(0..self.n as ValidatorIndex);
            out.push(Self::send(to, old));
        }
        out
    }

    fn garbage(&mut self, rng: &mut StdRng, round: u64) -> Option<Message> {
        let block = Block::new(round, round, Hash([9; 32]), self.me, vec![], b"ok".to_vec());
        Some(match rng.random_range(0..10u8) {
            0 => {
                let mut v = Vote::sign(crate::CHAIN_ID, block.info(), self.me, &self.key);
                v.signature = Signature([0x11; 64]);
                Message::Vote(v)
            }
            1 => {
                let mut v = Vote::sign(crate::CHAIN_ID, block.info(), self.me, &self.key);
                v.voter = self.n as ValidatorIndex + 3;
                Message::Vote(v)
            }
            2 => {
                let far = round + 1_000 + rng.random_range(0..1_000_000);
                let qc = self.seen_qc.clone()?;
                Message::Timeout(Timeout::sign(crate::CHAIN_ID, far, qc, self.me, &self.key))
            }
            3 => {
                // A QC with a duplicated signer.
                let mut qc = self.seen_qc.clone()?;
                let first = qc.signatures[0];
                qc.signatures
                    .truncate(qc.signatures.len().saturating_sub(1));
                qc.signatures.push(first);
                Message::Timeout(Timeout::sign(
                    crate::CHAIN_ID,
                    round,
                    qc,
                    self.me,
                    &self.key,
                ))
            }
            4 => {
                // A QC with an unknown signer.
                let mut qc = self.seen_qc.clone()?;
                qc.signatures.push(SignedBy {
                    signer: 1_000,
                    signature: Signature([3; 64]),
                });
                Message::Timeout(Timeout::sign(
                    crate::CHAIN_ID,
                    round,
                    qc,
                    self.me,
                    &self.key,
                ))
            }
            5 => {
                // A proposal whose height does not follow its QC.
                let qc = self.seen_qc.clone()?;
                let b = Block::new(
                    qc.round + 1,
                    qc.height + 5,
                    qc.block_id,
                    self.me,
                    Proposal::participants(&qc, None),
                    b"ok".to_vec(),
                );
                Message::Proposal(Box::new(Proposal::sign(
                    crate::CHAIN_ID,
                    b,
                    qc,
                    None,
                    &self.key,
                )))
            }
            6 => {
                // A far-future proposal justified by a forged QC.
                let far = round + 500;
                let fake_qc = QuorumCertificate {
                    round: far - 1,
                    height: far,
                    block_id: Hash([4; 32]),
                    signatures: (0..self.n as ValidatorIndex)
                        .map(|s| SignedBy {
                            signer: s,
                            signature: crypto::sign(&self.key, b"nonsense"),
                        })
                        .collect(),
                };
                let b = Block::new(
                    far,
                    far + 1,
                    fake_qc.block_id,
                    self.me,
                    Proposal::participants(&fake_qc, None),
                    b"ok".to_vec(),
                );
                Message::Proposal(Box::new(Proposal::sign(
                    crate::CHAIN_ID,
                    b,
                    fake_qc,
                    None,
                    &self.key,
                )))
            }
            7 => {
                // A proposal that misstates who signed its QC (to skew leader reputation).
                let qc = self.seen_qc.clone()?;
                let b = Block::new(
                    qc.round + 1,
                    qc.height + 1,
                    qc.block_id,
                    self.me,
                    vec![self.me],
                    b"ok".to_vec(),
                );
                Message::Proposal(Box::new(Proposal::sign(
                    crate::CHAIN_ID,
                    b,
                    qc,
                    None,
                    &self.key,
                )))
            }
            8 => {
                // Certificates for a validator "behind", with a forged QC.
                let mut qc = self.seen_qc.clone()?;
                qc.round += 3;
                Message::Sync(Box::new(SyncInfo {
                    highest_qc: qc,
                    highest_tc: None,
                }))
            }
            _ => {
                // Random bytes, sent only if they happen to decode (from the wire encoding).
                let len = rng.random_range(0..200);
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                parallax_consensus::wire::decode_message(&bytes)
                    .ok()?
                    .message
            }
        })
    }
}
