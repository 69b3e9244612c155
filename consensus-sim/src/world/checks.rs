//! The properties every run checks as it goes and at its end (safety, persist before send,
//! liveness, bounded memory), and the report built from them.

use super::Sim;
use crate::{GENESIS, SimReport, Violation};
use parallax_consensus::Consensus;
use parallax_consensus::types::{Block, Hash, Message};
use sha2::Digest;

impl Sim {
    pub(super) fn check_persisted(&mut self, i: usize, message: &Message) {
        let n = &self.nodes[i];
        if !n.honest() {
            return;
        }
        let round = match message {
            Message::Vote(v) if v.voter == n.index && !n.stored.contains_key(&v.block_id) => {
                self.violations.push(Violation::PersistBeforeSend {
                    instance: i,
                    round: v.round,
                });
                return;
            }
            Message::Vote(v) if v.voter == n.index => v.round,
            Message::Timeout(t) if t.author == n.index => t.round,
            _ => return,
        };
        if n.disk_voted < round {
            self.violations
                .push(Violation::PersistBeforeSend { instance: i, round });
        }
    }

    pub(super) fn commit(&mut self, i: usize, block: Block) {
        let honest = self.nodes[i].honest();
        let n = &mut self.nodes[i];
        let expected_parent = n.chain.last().map_or(GENESIS, Block::id);
        let height = block.height();
        if height != n.chain.len() as u64 + 1 || block.parent() != expected_parent {
            self.violations.push(Violation::CommitOrder {
                instance: i,
                height,
            });
            return;
        }
        n.chain_index.insert(block.id(), n.chain.len());
        n.chain.push(block.clone());
        n.stored.retain(|_, b| b.height() > height);
        if let Some(r0) = self.faults_over_round
            && block.round() > r0
        {
            n.fresh_commits += 1;
            if self.recovery_rounds.is_none() && honest {
                let r = self.max_honest_round();
                self.recovery_rounds = Some(r.saturating_sub(r0));
            }
        }
        self.hash_trace(&[b"commit", &(i as u32).to_be_bytes(), &block.id().0]);
        if !honest {
            return;
        }
        let h = height as usize;
        if self.canonical.len() >= h {
            if self.canonical[h - 1] != block.id() {
                self.violations.push(Violation::Safety {
                    height,
                    instance: i,
                });
            }
        } else {
            self.canonical.push(block.id());
        }
    }

    pub(super) fn final_checks(&mut self) {
        // Every honest chain is a prefix of the canonical (longest) one.
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.honest() {
                continue;
            }
            for (h, b) in n.chain.iter().enumerate() {
                if self.canonical.get(h) != Some(&b.id()) {
                    self.violations.push(Violation::Safety {
                        height: h as u64 + 1,
                        instance: i,
                    });
                    break;
                }
            }
        }
        match self.faults_over_round {
            None => self.violations.push(Violation::Liveness {
                detail: "the fault phase never ended".into(),
            }),
            Some(r0) => {
                let lagging: Vec<(usize, u64)> = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.honest() && !n.down_for_good)
                    .filter(|(_, n)| n.fresh_commits < self.cfg.commits_after_faults)
                    .map(|(i, n)| (i, n.fresh_commits))
                    .collect();
                if !lagging.is_empty() {
                    self.violations.push(Violation::Liveness {
                        detail: format!(
                            "after round {r0}, (instance, commits) {lagging:?} below {} by t={}ms",
                            self.cfg.commits_after_faults, self.now
                        ),
                    });
                }
                if let Some(r) = self.recovery_rounds
                    && r > self.cfg.liveness_rounds
                {
                    self.violations.push(Violation::Liveness {
                        detail: format!(
                            "commits resumed {r} rounds after the faults (bound {})",
                            self.cfg.liveness_rounds
                        ),
                    });
                }
            }
        }
        let longest = self
            .nodes
            .iter()
            .filter(|n| n.honest())
            .map(|n| &n.chain)
            .max_by_key(|c| c.len());
        if self.cfg.expect_every_round_commits
            && let Some(b) = longest.and_then(|c| c.iter().find(|b| b.round() != b.height()))
        {
            self.violations
                .push(Violation::RoundWithoutCommit { round: b.height() });
        }
        if self.cfg.leader_crash && self.leader_crash.is_none() {
            self.violations.push(Violation::Liveness {
                detail: "the leader crash never happened".into(),
            });
        } else if self.cfg.leader_crash && self.leader_crash_ms.is_none() {
            self.violations.push(Violation::Liveness {
                detail: "no block certified after the leader crash".into(),
            });
        }
    }

    pub(super) fn report(self) -> SimReport {
        let committed_height = self.canonical.len() as u64;
        let max_round = self
            .nodes
            .iter()
            .filter(|n| n.honest())
            .filter_map(|n| n.sm.as_ref().map(Consensus::round))
            .max()
            .unwrap_or(0);
        let final_states = self
            .nodes
            .iter()
            .map(|n| match &n.sm {
                Some(sm) => format!(
                    "v{} {:?} round {} qc {} tc {} voted {} committed {} chain {} fetches {}",
                    n.index,
                    n.kind,
                    sm.round(),
                    sm.highest_qc().round,
                    sm.safety().highest_tc_round(),
                    sm.safety().last_voted_round,
                    sm.committed().height,
                    n.chain.len(),
                    sm.footprint().fetches
                ),
                None => format!("v{} {:?} down", n.index, n.kind),
            })
            .collect();
        SimReport {
            final_states,
            seed: self.cfg.seed,
            trace_hash: Hash(self.trace.finalize().into()),
            max_round,
            committed_height,
            messages: self.messages,
            recovery_rounds: self.recovery_rounds,
            leader_crash_ms: self.leader_crash_ms,
            leader_crash_rounds: self.leader_crash_rounds,
            leader_crash_timeouts_ms: self.leader_crash.map(|_| self.leader_crash_timeouts),
            leader_crash_bar_ms: self.leader_crash_bar_ms,
            evidence: self.evidence,
            rejections: self.rejections,
            max_footprint: self.max_footprint,
            log: self.log,
            violations: self.violations,
        }
    }
}
