//! The faults a run plans and injects: partitions, crashes (torn or for good), restarts,
//! and the crash of the next leader.

use super::{Kind, Sim, SimEvent};
use crate::{GENESIS, PartitionPlan, Violation, adversary::Garbage, validator_key};
use parallax_consensus::storage::SafetyStorage;
use parallax_consensus::types::{Block, BlockInfo};
use parallax_consensus::{Consensus, Recovery};
use rand::Rng;

impl Sim {
    pub(super) fn plan_faults(&mut self) {
        let fault = self.cfg.fault_phase_ms;
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].kind == Kind::Honest)
            .collect();
        if self.cfg.partitions > 0 && fault > 0 {
            let slot = fault / self.cfg.partitions as u64;
            for s in 0..self.cfg.partitions as u64 {
                let start = s * slot + self.rng.random_range(0..=slot / 3);
                let end = (start + self.rng.random_range(slot / 4..=slot / 2)).min((s + 1) * slot);
                let groups = match &self.cfg.partition_plan {
                    PartitionPlan::Random => {
                        let groups_n = self.rng.random_range(2..=3usize);
                        (0..self.nodes.len())
                            .map(|_| self.rng.random_range(0..groups_n))
                            .collect()
                    }
                    PartitionPlan::Groups(groups) => {
                        assert_eq!(
                            groups.len(),
                            self.nodes.len(),
                            "a partition plan names a group for every instance"
                        );
                        groups.clone()
                    }
                    PartitionPlan::SplitTwins => {
                        let mut honest_side = 0;
                        (0..self.nodes.len())
                            .map(|i| {
                                if self.nodes[i].kind == Kind::Twin {
                                    // The first of a pair on one side, its twin on the other.
                                    usize::from(
                                        i > 0 && self.nodes[i - 1].index == self.nodes[i].index,
                                    )
                                } else {
                                    honest_side ^= 1;
                                    honest_side ^ 1
                                }
                            })
                            .collect()
                    }
                };
                self.queue_at(start, SimEvent::Partition { groups });
                self.queue_at(end, SimEvent::Heal);
            }
        }
        if !honest.is_empty() && fault > 0 {
            for _ in 0..self.cfg.crashes {
                let instance = honest[self.rng.random_range(0..honest.len())];
                let at = self.rng.random_range(0..fault);
                let back = (at + self.rng.random_range(100..=fault / 2 + 100)).min(fault);
                let torn = self.rng.random_bool(0.5);
                self.queue_at(
                    at,
                    SimEvent::Crash {
                        instance,
                        torn,
                        for_good: false,
                    },
                );
                self.queue_at(back, SimEvent::Restart { instance });
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].kind == Kind::Doomed {
                let at = if fault > 0 {
                    self.rng.random_range(0..fault)
                } else {
                    0
                };
                self.queue_at(
                    at,
                    SimEvent::Crash {
                        instance: i,
                        torn: true,
                        for_good: true,
                    },
                );
            }
        }
        self.queue_at(fault, SimEvent::FaultsOver);
        if self.cfg.leader_crash {
            self.queue_at(fault + 3_000, SimEvent::LeaderCrash);
        }
    }

    pub(super) fn boot(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let safety = match node.disk.load() {
            Ok(s) => s,
            Err(e) => {
                self.violations.push(Violation::Restart {
                    detail: format!("instance {i}: {e}"),
                });
                return;
            }
        };
        node.disk_voted = safety.as_ref().map_or(0, |s| s.last_voted_round);
        let committed = node
            .chain
            .last()
            .map_or(BlockInfo::genesis(GENESIS), Block::info);
        let keep =
            parallax_consensus::LeaderElection::new(self.config.reputation, 0).capacity() + 1;
        let recent = node.chain.len().saturating_sub(keep);
        let committed_blocks = node.chain[recent..].to_vec();
        let key = validator_key(node.index);
        match Consensus::new(
            self.config.clone(),
            node.index,
            key.clone(),
            Recovery {
                safety,
                committed,
                committed_blocks,
                blocks: node.stored.values().cloned().collect(),
            },
        ) {
            Ok(mut sm) => {
                node.incarnation += 1;
                let actions = sm.start();
                node.sm = Some(sm);
                if node.kind == Kind::Garbage {
                    node.garbage = Some(Garbage::new(key, self.config.validators.len()));
                }
                self.apply(i, actions);
            }
            Err(e) => self.violations.push(Violation::Restart {
                detail: format!("instance {i}: {e}"),
            }),
        }
    }

    pub(super) fn crash_next_leader(&mut self) {
        // The highest round any running node is in: its next leader has not gathered that
        // round's votes or proposed yet (either would have moved it to the next round).
        let Some(round) = self
            .nodes
            .iter()
            .filter_map(|n| n.sm.as_ref().map(Consensus::round))
            .max()
        else {
            return;
        };
        let Some(sm) = self
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::Honest)
            .filter_map(|n| n.sm.as_ref())
            .find(|sm| sm.round() == round)
        else {
            return;
        };
        let leader = sm.leader(round + 1);
        let victims: Vec<usize> = (0..self.nodes.len())
            .filter(|j| self.nodes[*j].index == leader)
            .collect();
        for v in victims {
            self.nodes[v].down_for_good = true;
            self.crash(v);
        }
        let qc = self.max_honest_qc();
        self.leader_crash = Some((self.now, round, qc));
        self.note_crash_timeouts();
    }

    /// Records the timeouts honest nodes run in the two rounds a leader crash costs.
    pub(super) fn note_crash_timeouts(&mut self) {
        let Some((_, round, _)) = self.leader_crash else {
            return;
        };
        if self.leader_crash_ms.is_some() {
            return;
        }
        for n in self.nodes.iter().filter(|n| n.honest() && !n.down_for_good) {
            if let Some(sm) = &n.sm
                && let Some(k) = sm.round().checked_sub(round).filter(|k| *k < 2)
            {
                let t = sm.round_timeout().as_millis() as u64;
                let slot = &mut self.leader_crash_timeouts[k as usize];
                *slot = (*slot).max(t);
            }
        }
    }

    pub(super) fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.sm = None;
        n.garbage = None;
        n.incarnation += 1;
        n.torn_crash_pending = false;
    }
}
