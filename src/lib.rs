//! kskit: offline DNSSEC KSK signing toolkit. See docs/architecture.md.

pub mod backends;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod config;
pub mod digest;
pub mod dnssec;
pub mod formats;
pub mod keys;
pub mod ksr;
pub mod secrets;
pub mod parent;
pub mod policy;
pub mod skr;
pub mod timeutil;
