//! The incremental Merkle-Patricia state root (work in progress).
