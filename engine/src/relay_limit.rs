//! How often this node forwards one consensus message it only relays.
//!
//! Consensus sends are numbered outside their signatures (`send_seq`), so that a re-send is new
//! bytes gossip lets through. A validator relays what it does not consume (a full node
//! relays everything) once the author's signature checks out, and cannot tell an honest
//! re-send from a Byzantine validator numbering copies of one message to flood the network
//! through it. So the same signed message (same recipient, same content, whatever its number)
//! is forwarded at most once per [`MIN_INTERVAL`]: honest re-sends, which come at mid-round and
//! at timeouts, still pass; a flood does not.

use sha2::{Digest, Sha256};
use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

/// The shortest time between two forwards of the same message.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Most messages remembered (the oldest are forgotten first).
const CAPACITY: usize = 16_384;

/// The last time each relayed message was forwarded, bounded.
#[derive(Debug, Default)]
pub struct RelayLimit {
    last: HashMap<[u8; 32], Instant>,
    order: VecDeque<[u8; 32]>,
}

impl RelayLimit {
    /// Whether to forward `message` (addressed to `recipient`) now; records it when so.
    pub fn admit(
        &mut self,
        recipient: Option<u32>,
        message: &parallax_consensus::Message,
        now: Instant,
    ) -> bool {
        let mut hash = Sha256::new();
        hash.update(recipient.map_or([0xff; 5], |r| {
            let mut b = [0u8; 5];
            b[1..].copy_from_slice(&r.to_be_bytes());
            b
        }));
        hash.update(message.encode());
        let digest: [u8; 32] = hash.finalize().into();
        if let Some(at) = self.last.get(&digest)
            && now.saturating_duration_since(*at) < MIN_INTERVAL
        {
            return false;
        }
        if self.last.insert(digest, now).is_none() {
            self.order.push_back(digest);
            while self.order.len() > CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.last.remove(&old);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_consensus::{BlockInfo, Hash, Message, Vote};

    fn vote(round: u64) -> Message {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        Message::Vote(Vote::sign(
            7,
            BlockInfo {
                id: Hash([1; 32]),
                round,
                height: round,
            },
            0,
            &key,
        ))
    }

    #[test]
    fn copies_of_one_message_pass_at_most_once_per_interval() {
        let mut limit = RelayLimit::default();
        let t0 = Instant::now();
        assert!(limit.admit(Some(1), &vote(3), t0));
        // A flood of copies (each with its own send number on the wire): refused.
        for ms in 1..100 {
            assert!(!limit.admit(Some(1), &vote(3), t0 + Duration::from_millis(ms)));
        }
        // Other messages, or the same to another recipient, are not held back.
        assert!(limit.admit(Some(1), &vote(4), t0));
        assert!(limit.admit(Some(2), &vote(3), t0));
        // A re-send after the interval passes.
        assert!(limit.admit(Some(1), &vote(3), t0 + MIN_INTERVAL));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut limit = RelayLimit::default();
        let t0 = Instant::now();
        for r in 0..(CAPACITY as u64 + 500) {
            limit.admit(None, &vote(r), t0);
        }
        assert_eq!(limit.last.len(), CAPACITY);
        assert_eq!(limit.order.len(), CAPACITY);
    }
}
