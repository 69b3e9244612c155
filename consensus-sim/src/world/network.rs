//! The simulated network: latency with jitter, partitioned links, and delivery of the
//! production encoding's bytes.

use super::{Sim, SimEvent};
use crate::CHAIN_ID;
use parallax_consensus::types::{Hash, Message, ValidatorIndex};
use rand::Rng;

impl Sim {
    pub(super) fn latency(&mut self) -> u64 {
        let (lo, hi) = (
            self.cfg.network.min_latency_ms,
            self.cfg
                .network
                .max_latency_ms
                .max(self.cfg.network.min_latency_ms),
        );
        self.rng.random_range(lo..=hi)
    }

    /// Whether a message from `i` to `j` gets through now (partition and loss).
    pub(super) fn link_up(&mut self, i: usize, j: usize) -> bool {
        if self.partitioned && self.nodes[i].group != self.nodes[j].group {
            return false;
        }
        !(self.cfg.network.loss > 0.0 && self.rng.random_bool(self.cfg.network.loss.min(1.0)))
    }

    /// Sends `message` from instance `i` to instance `j` in the production encoding
    /// ([`crate::wire`]), numbered like the node numbers its sends.
    pub(super) fn send(
        &mut self,
        i: usize,
        j: usize,
        message: Message,
        recipient: Option<ValidatorIndex>,
    ) {
        self.messages += 1;
        let bytes =
            parallax_consensus::wire::encode_message(CHAIN_ID, &message, recipient, self.messages);
        self.hash_trace(&[&(i as u32).to_be_bytes(), &(j as u32).to_be_bytes(), &bytes]);
        if !self.link_up(i, j) {
            return;
        }
        let from = self.nodes[i].index;
        let copies = if self.cfg.network.duplicate > 0.0
            && self.rng.random_bool(self.cfg.network.duplicate.min(1.0))
        {
            2
        } else {
            1
        };
        let slow = self.cfg.slow_validator.and_then(|(v, extra)| {
            let involved = self.nodes[i].index == v || self.nodes[j].index == v;
            (involved && self.now < self.cfg.fault_phase_ms).then_some(extra)
        });
        for _ in 0..copies {
            let delay = self.latency() + slow.unwrap_or(0);
            self.schedule(
                delay,
                SimEvent::Deliver {
                    to: j,
                    sender: i,
                    from,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    pub(super) fn serve_fetch(
        &mut self,
        server: usize,
        requester: usize,
        id: Hash,
        ancestors: u32,
    ) {
        if self.nodes[server].sm.is_none() {
            return;
        }
        let mut blocks = Vec::new();
        let mut cur = id;
        while blocks.len() <= ancestors as usize {
            let Some(b) = self.nodes[server].block(&cur) else {
                break;
            };
            cur = b.parent();
            blocks.push(b);
        }
        if blocks.is_empty() || !self.link_up(server, requester) {
            return;
        }
        self.messages += 1;
        let delay = self.latency();
        let incarnation = self.nodes[requester].incarnation;
        self.schedule(
            delay,
            SimEvent::Fetched {
                to: requester,
                incarnation,
                blocks,
            },
        );
    }
}
