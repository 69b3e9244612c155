//! The Parallax BFT protocol: a HotStuff-style (2-chain, Jolteon / DiemBFT-v4 family)
//! consensus state machine and its deterministic simulator.
//!
//! The state machine does no I/O and reads no clock: messages, timers, storage and payload
//! validation arrive as events and leave as actions, so a seeded simulation drives it.
//!
//! Nothing is implemented yet: the protocol arrives with the consensus issue (#4).
