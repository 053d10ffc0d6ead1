//! The DNSSEC core: algorithms, names, record data, canonical RRsets,
//! presentation format, signing input and verification. Pure: no I/O.

pub mod algorithm;
pub mod denial;
pub mod name;
pub mod presentation;
pub mod pubkey;
pub mod rdata;
pub mod record;
pub mod sign;
pub mod verify;

pub use algorithm::{Algorithm, DigestType};
pub use name::{parse_name, Name};
pub use rdata::{Dnskey, Ds, Rrsig, FLAG_REVOKE, FLAG_SEP, FLAG_ZONE};
pub use record::{rtype, RData, Record, RrSet};

/// Errors of the DNSSEC core.
#[derive(Debug, thiserror::Error)]
pub enum DnssecError {
    #[error("unknown or unsupported DNSSEC algorithm {0:?} (kskit signs with RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519)")]
    UnknownAlgorithm(String),
    #[error("algorithm {0} is accepted for verifying old data only, not for new keys or signatures")]
    VerifyOnlyAlgorithm(&'static str),
    #[error("{bits}-bit keys are not allowed for {algorithm}; allowed: {allowed:?}")]
    BadKeySize { algorithm: &'static str, bits: u32, allowed: Vec<u32> },
    #[error("unknown DS digest type {0:?} (use sha256 or sha384)")]
    UnknownDigestType(String),
    #[error("malformed record data: {0}")]
    Malformed(String),
    #[error("line {line}: {msg}")]
    Parse { line: usize, msg: String },
    #[error("signature check failed: {0}")]
    BadSignature(String),
    #[error("signing failed: {0}")]
    Signing(String),
}
