//! The block tree: blocks held (bounded, evicted oldest first), whether a block's ancestry
//! down to the committed block is here, fetching what is missing, and the 2-chain commit
//! rule that reports commits in height order, once each.

use crate::types::{Block, BlockInfo, Hash, QuorumCertificate, ValidatorIndex};
use std::collections::HashSet;
use tracing::{error, info};

use super::{Action, Consensus, Fetch, Rejection};

impl Consensus {
    pub(super) fn known(&self, id: &Hash) -> Option<BlockInfo> {
        if *id == self.committed.id {
            Some(self.committed)
        } else {
            self.blocks.get(id).map(Block::info)
        }
    }

    /// Whether block `id` and all its ancestors down to the committed block are held, so the
    /// application can execute it. `Err(Some(missing))` names the first block to fetch;
    /// `Err(None)` means the chain does not reach the committed block (a branch that can
    /// never commit, which nothing should build or vote on).
    pub(super) fn connected(&self, id: &Hash) -> Result<(), Option<Hash>> {
        let mut at = *id;
        // Each step goes one height down, so this ends within the held blocks.
        for _ in 0..=self.blocks.len() {
            if at == self.committed.id {
                return Ok(());
            }
            match self.blocks.get(&at) {
                Some(b) if b.height() > self.committed.height => at = b.parent(),
                Some(_) => return Err(None),
                None => return Err(Some(at)),
            }
        }
        Err(None)
    }

    pub(super) fn insert_block(&mut self, block: Block) {
        if block.height() <= self.committed.height || self.blocks.contains_key(&block.id()) {
            return;
        }
        // Its participants signed its parent's certificate, of round `round - 1` at the
        // latest: if this validator is one and its safety data does not reach that round, the
        // data is behind (every block inserted here is authentic: verified with its proposal,
        // certified by hash, or read back from this node's disk).
        if block.round() > 0 && block.participants().contains(&self.me) {
            self.note_own_signature(block.round() - 1, block.round());
        }
        if self.blocks.len() >= self.cfg.limits.max_blocks {
            self.evict_block();
        }
        self.blocks.insert(block.id(), block);
    }

    /// Makes room by dropping the lowest-round block that is not an ancestor of the highest
    /// QC's block (the chain the next proposals and commits need).
    pub(super) fn evict_block(&mut self) {
        let mut keep = HashSet::new();
        let mut cur = self.safety.highest_qc.block_id;
        while let Some(b) = self.blocks.get(&cur) {
            if !keep.insert(cur) {
                break;
            }
            cur = b.parent();
        }
        if let Some(p) = &self.pending {
            keep.insert(p.proposal.block.id());
        }
        let victim = self
            .blocks
            .values()
            .filter(|b| !keep.contains(&b.id()))
            .min_by_key(|b| (b.round(), b.id()))
            .map(Block::id);
        if let Some(id) = victim {
            self.blocks.remove(&id);
        }
    }

    pub(super) fn want(&mut self, id: Hash, from: ValidatorIndex) {
        if self.known(&id).is_some() || self.fetches.iter().any(|(h, _)| *h == id) {
            return;
        }
        if self.fetches.len() >= self.cfg.limits.max_fetches {
            self.fetches.pop_front();
        }
        let from = if from == self.me {
            (self.me + 1) % self.cfg.validators.len() as u32
        } else {
            from
        };
        self.fetches.push_back((id, Fetch { from, attempts: 0 }));
        self.out.push(Action::FetchBlock {
            id,
            ancestors: self.cfg.limits.fetch_ancestors,
            from,
        });
    }

    pub(super) fn fetch_source(&self, qc: &QuorumCertificate) -> ValidatorIndex {
        qc.signatures
            .iter()
            .map(|s| s.signer)
            .find(|s| *s != self.me)
            .unwrap_or(self.me)
    }

    pub(super) fn retry_fetches(&mut self) {
        // Ask again for blocks still missing, from another peer.
        let n = self.cfg.validators.len() as u32;
        for (id, f) in self.fetches.iter_mut() {
            f.attempts += 1;
            let mut from = (f.from + f.attempts) % n;
            if from == self.me {
                from = (from + 1) % n;
            }
            self.out.push(Action::FetchBlock {
                id: *id,
                ancestors: self.cfg.limits.fetch_ancestors,
                from,
            });
        }
    }

    pub(super) fn on_blocks_fetched(&mut self, blocks: Vec<Block>) -> Result<(), Rejection> {
        let mut expected: Option<Hash> = None;
        let mut accepted = 0usize;
        let mut last: Option<Block> = None;
        for b in blocks {
            let id = b.id();
            match expected {
                None => {
                    let Some(pos) = self.fetches.iter().position(|(h, _)| *h == id) else {
                        break;
                    };
                    self.fetches.remove(pos);
                }
                Some(e) if e == id => {
                    if let Some(pos) = self.fetches.iter().position(|(h, _)| *h == id) {
                        self.fetches.remove(pos);
                    }
                }
                Some(_) => break,
            }
            if let Some(child) = &last
                && (child.height() != b.height() + 1 || child.round() <= b.round())
            {
                break;
            }
            if b.height() <= self.committed.height {
                break;
            }
            accepted += 1;
            expected = Some(b.parent());
            self.insert_block(b.clone());
            last = Some(b);
        }
        if accepted == 0 {
            return Err(Rejection::Unsolicited);
        }
        if let Some(b) = last
            && b.height() > self.committed.height + 1
        {
            let from = self.fetch_source(&self.safety.highest_qc.clone());
            self.want(b.parent(), from);
        }
        self.try_commit();
        self.resume_pending();
        self.try_propose();
        Ok(())
    }

    /// The 2-chain commit rule: a certified block whose parent is of the previous round
    /// commits that parent and its ancestors.
    pub(super) fn try_commit(&mut self) {
        let qcs: Vec<QuorumCertificate> = self.certified.values().rev().cloned().collect();
        for qc in qcs {
            if qc.round <= self.committed.round {
                break;
            }
            let Some(b1) = self.blocks.get(&qc.block_id) else {
                let from = self.fetch_source(&qc);
                self.want(qc.block_id, from);
                continue;
            };
            let parent = b1.parent();
            let b1_round = b1.round();
            let Some(b0) = self.blocks.get(&parent) else {
                if parent != self.committed.id {
                    let from = self.fetch_source(&qc);
                    self.want(parent, from);
                }
                continue;
            };
            if b0.round() + 1 != b1_round || b0.height() <= self.committed.height {
                continue;
            }
            // Collect b0 and its uncommitted ancestors down to the committed block.
            let mut chain = vec![b0.clone()];
            while let Some(cur) = chain.last() {
                if cur.height() == self.committed.height + 1 {
                    if cur.parent() != self.committed.id {
                        error!(
                            me = self.me,
                            height = cur.height(),
                            "certified chain conflicts with the committed chain"
                        );
                        return;
                    }
                    break;
                }
                let p = cur.parent();
                match self.blocks.get(&p) {
                    Some(b) => chain.push(b.clone()),
                    None => {
                        let from = self.fetch_source(&qc);
                        self.want(p, from);
                        return;
                    }
                }
            }
            for block in chain.into_iter().rev() {
                info!(
                    me = self.me,
                    height = block.height(),
                    round = block.round(),
                    "commit"
                );
                self.committed = block.info();
                self.election.on_commit(&self.cfg.validators, &block);
                self.out.push(Action::Commit {
                    block,
                    commit_qc: qc.clone(),
                });
            }
            let (h, r) = (self.committed.height, self.committed.round);
            self.blocks.retain(|_, b| b.height() > h);
            self.certified = self.certified.split_off(&(r + 1));
            return;
        }
    }
}
