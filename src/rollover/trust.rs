//! The chain of trust of one published state: does the zone validate from
//! the parent's DS RRset? Used by the rollover tests to check every planned
//! instant, and usable on any DS / DNSKEY / RRSIG snapshot. Pure.

use std::collections::BTreeSet;

use crate::dnssec::verify::{rrsig_valid_at, verify_rrsig};
use crate::dnssec::{Dnskey, Ds, Name, RrSet, Rrsig};

/// Why a snapshot does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("no DS matches a DNSKEY whose RRSIG over the DNSKEY RRset is valid (RFC 4035 §5.2)")]
    NoSecureEntryPoint,
    #[error("DS algorithm {0} has no valid DNSKEY RRSIG by a key it matches (RFC 6840 §5.11, conservative)")]
    DsAlgorithmUnsigned(u8),
    #[error("DNSKEY algorithm {0} in the DNSKEY RRset has no valid RRSIG over the DNSKEY RRset (RFC 4035 §2.2)")]
    DnskeyAlgorithmUnsigned(u8),
    #[error("DNSKEY algorithm {0} has no valid RRSIG over the zone data by a key in the DNSKEY RRset (RFC 4035 §2.2)")]
    DataAlgorithmUnsigned(u8),
    #[error("no valid RRSIG over the zone data by a key in the DNSKEY RRset (RFC 4035 §5.3)")]
    DataUnsigned,
}

/// The outcome of a chain check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Validates from the DS.
    Secure,
    /// No DS at the parent: the zone is insecure (RFC 4035 §5.2), nothing to validate.
    Insecure,
}

/// A snapshot: the parent's DS RRset, the zone's DNSKEY RRset with its
/// RRSIGs, and one other zone RRset (e.g. the SOA) with its RRSIGs.
pub struct Snapshot<'a> {
    pub zone: &'a Name,
    pub ds: &'a [Ds],
    pub dnskey: &'a RrSet,
    pub dnskey_sigs: &'a [Rrsig],
    pub data: &'a RrSet,
    pub data_sigs: &'a [Rrsig],
    /// Validation time, seconds since the epoch.
    pub at: u64,
}

impl Snapshot<'_> {
    fn keys(&self) -> Vec<Dnskey> {
        self.dnskey
            .rdatas
            .iter()
            .filter_map(|r| match r {
                crate::dnssec::RData::Dnskey(k) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    /// Keys that can validate: zone keys without the REVOKE bit (RFC 5011 §3:
    /// a revoked key must not be used to validate anything but its own RRSIG).
    fn usable_keys(&self) -> Vec<Dnskey> {
        self.keys().into_iter().filter(|k| k.is_zone_key() && !k.is_revoked()).collect()
    }

    /// Keys whose RRSIG over the DNSKEY RRset verifies and is valid at `at`.
    fn dnskey_signers(&self) -> Vec<Dnskey> {
        self.usable_keys()
            .into_iter()
            .filter(|k| self.dnskey_sigs.iter().any(|s| rrsig_valid_at(s, self.at) && verify_rrsig(self.dnskey, s, k).is_ok()))
            .collect()
    }
}

/// RFC 4035 §5.2: a DS must match a DNSKEY in the apex DNSKEY RRset whose
/// RRSIG over that RRset verifies (the secure entry point).
pub fn check_secure_entry(s: &Snapshot<'_>) -> Result<(), TrustError> {
    let signers = s.dnskey_signers();
    if s.ds.iter().any(|d| signers.iter().any(|k| d.matches(s.zone, k))) {
        Ok(())
    } else {
        Err(TrustError::NoSecureEntryPoint)
    }
}

/// Every algorithm in the DS RRset leads to a valid DNSKEY RRSIG by a key of
/// that algorithm the DS matches. RFC 6840 §5.11 lets validators accept any
/// one path, but validators that insist on the DS algorithms exist, so an
/// algorithm rollover must never leave a DS algorithm without a signature
/// (RFC 6781 §4.1.4).
pub fn check_ds_algorithms(s: &Snapshot<'_>) -> Result<(), TrustError> {
    let signers = s.dnskey_signers();
    let algs: BTreeSet<u8> = s.ds.iter().map(|d| d.algorithm).collect();
    for a in algs {
        let ok = s.ds.iter().filter(|d| d.algorithm == a).any(|d| signers.iter().any(|k| d.matches(s.zone, k)));
        if !ok {
            return Err(TrustError::DsAlgorithmUnsigned(a));
        }
    }
    Ok(())
}

/// RFC 4035 §2.2: the DNSKEY RRset carries a valid RRSIG for every
/// algorithm of the (non-revoked) keys in it.
pub fn check_dnskey_algorithms(s: &Snapshot<'_>) -> Result<(), TrustError> {
    let signers = s.dnskey_signers();
    let algs: BTreeSet<u8> = s.usable_keys().iter().map(|k| k.algorithm).collect();
    for a in algs {
        if !signers.iter().any(|k| k.algorithm == a) {
            return Err(TrustError::DnskeyAlgorithmUnsigned(a));
        }
    }
    Ok(())
}

/// RFC 4035 §2.2 and §5.3: the zone's other RRsets carry a valid RRSIG by a
/// key of the DNSKEY RRset, for every algorithm in it.
pub fn check_zone_data(s: &Snapshot<'_>) -> Result<(), TrustError> {
    let keys = s.usable_keys();
    let valid: Vec<&Dnskey> =
        keys.iter().filter(|k| s.data_sigs.iter().any(|sig| rrsig_valid_at(sig, s.at) && verify_rrsig(s.data, sig, k).is_ok())).collect();
    if valid.is_empty() {
        return Err(TrustError::DataUnsigned);
    }
    let algs: BTreeSet<u8> = keys.iter().map(|k| k.algorithm).collect();
    for a in algs {
        if !valid.iter().any(|k| k.algorithm == a) {
            return Err(TrustError::DataAlgorithmUnsigned(a));
        }
    }
    Ok(())
}

/// All checks of a snapshot, in chain order: DS → KSK → DNSKEY RRset → data.
pub fn check_chain(s: &Snapshot<'_>) -> Result<Trust, TrustError> {
    if s.ds.is_empty() {
        return Ok(Trust::Insecure);
    }
    check_secure_entry(s)?;
    check_ds_algorithms(s)?;
    check_dnskey_algorithms(s)?;
    check_zone_data(s)?;
    Ok(Trust::Secure)
}
