//! The commands' implementations. Each writes its report to the given writer so tests and
//! the binary share them.

pub(crate) mod admin;
pub(crate) mod bench;
pub(crate) mod genesis;
pub(crate) mod init;
pub(crate) mod keys;
pub(crate) mod run;
