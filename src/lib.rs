//! kskit: offline DNSSEC KSK signing toolkit. See docs/architecture.md.

pub mod backends;
pub mod dnssec;
pub mod keys;
pub mod ksr;
pub mod skr;
pub mod timeutil;
