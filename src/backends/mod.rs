//! Where private keys live and how they sign: `soft` (age-encrypted files,
//! the embedded default) and `pkcs11` (HSMs and smartcards). Both implement
//! [`Signer`]; nothing above this layer knows which one it holds.

pub mod pkcs11;
pub mod soft;

use crate::dnssec::{Algorithm, Dnskey};

/// Errors from a signing backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Dnssec(#[from] crate::dnssec::DnssecError),
}

/// A private key that can make DNSSEC signatures.
pub trait Signer: Send + Sync {
    /// The public key as a DNSKEY record, with the flags of its role.
    fn dnskey(&self) -> &Dnskey;

    /// The key's algorithm.
    fn algorithm(&self) -> Algorithm;

    /// Signs `data` (the RFC 4034 §3.1.8.1 signing input) and returns the
    /// signature in the DNSSEC wire form of the algorithm: RSA PKCS#1 v1.5
    /// (RFC 3110 §3, RFC 5702 §3), ECDSA r||s (RFC 6605 §4), Ed25519 (RFC 8080 §4).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BackendError>;

    /// A short human description (`soft:ab12cd` or the PKCS#11 URI without PIN).
    fn describe(&self) -> String;
}
