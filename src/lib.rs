//! kskit: offline DNSSEC KSK signing toolkit. See docs/architecture.md.

pub mod backends;
pub mod ceremony;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod config;
pub mod custody;
pub mod digest;
pub mod dnssec;
pub mod export;
pub mod formats;
pub mod keys;
pub mod live;
pub mod ksr;
pub mod markup;
pub mod secrets;
pub mod signzone;
pub mod parent;
pub mod policy;
pub mod registrar;
pub mod report;
pub mod quote;
pub mod rollover;
pub mod skr;
pub mod timeutil;
pub mod zone;
