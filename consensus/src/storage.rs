//! Where safety data lives, and the persist-before-send contract.
//!
//! # Contract
//!
//! [`crate::Consensus::handle`] returns its actions in order. When the safety data changed,
//! the **first** action is [`crate::Action::Persist`] carrying the complete new
//! [`SafetyData`]. A driver must finish persisting it durably (in production: written and
//! fsync'd by [`SafetyStorage::store`]) before it carries out any later action of the same
//! list; if storing fails it must stop, not send. Because every vote or timeout is signed in
//! the same call that updates `last_voted_round`, no signature can leave before the promise
//! not to sign again in that round is on disk, and a node restarted from that disk
//! ([`crate::Recovery`]) never signs twice in a round. [`crate::Action::StoreBlock`] follows
//! the same rule: the block is durable before this node's vote for it leaves, so a certified
//! block survives even if every validator restarts. The simulator checks this on every
//! message it sends, and crashes nodes half-way through action lists to test it.

use crate::safety::SafetyData;

/// Durable storage for [`SafetyData`].
pub trait SafetyStorage {
    /// The storage's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Replaces the stored safety data; returns only once it is durable.
    fn store(&mut self, data: &SafetyData) -> Result<(), Self::Error>;

    /// The stored safety data, if any was ever stored.
    fn load(&self) -> Result<Option<SafetyData>, Self::Error>;
}

/// In-memory storage holding the encoded bytes, as a disk would (for tests and the
/// simulator; durable only as long as the value lives).
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    bytes: Option<Vec<u8>>,
}

impl MemoryStorage {
    /// The stored bytes.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }
}

impl SafetyStorage for MemoryStorage {
    type Error = crate::codec::DecodeError;

    fn store(&mut self, data: &SafetyData) -> Result<(), Self::Error> {
        self.bytes = Some(data.encode());
        Ok(())
    }

    fn load(&self) -> Result<Option<SafetyData>, Self::Error> {
        self.bytes.as_deref().map(SafetyData::decode).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BlockInfo, Hash};

    #[test]
    fn memory_storage_round_trips_through_bytes() {
        let mut s = MemoryStorage::default();
        assert_eq!(s.load().unwrap(), None);
        let mut d = SafetyData::new(BlockInfo::genesis(Hash([1; 32])));
        d.last_voted_round = 12;
        s.store(&d).unwrap();
        assert_eq!(s.load().unwrap(), Some(d));
    }
}
