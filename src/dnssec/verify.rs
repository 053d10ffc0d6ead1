//! Signature verification for RRSIGs (RFC 4034 §3.1.8.1, RFC 5702, RFC 6605,
//! RFC 8080), with ring as the primitive.

use ring::signature;

use super::name::same_name;
use super::pubkey::rsa_components;
use super::rdata::{Dnskey, Rrsig};
use super::record::RrSet;
use super::{Algorithm, DnssecError};

/// Verifies a raw DNSSEC signature (`sig` in the DNSKEY algorithm's wire
/// form: RSA PKCS#1 v1.5 octets, ECDSA r||s, Ed25519 R||S) over `data`.
pub fn verify_raw(key: &Dnskey, data: &[u8], sig: &[u8]) -> Result<(), DnssecError> {
    let alg = key.algorithm()?;
    ATTEMPTS.with(|a| a.set(a.get().saturating_add(1)));
    let bad = || DnssecError::BadSignature(format!("{alg} signature by key {} does not verify", key.key_tag()));
    match alg {
        Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1 | Algorithm::RsaSha256 | Algorithm::RsaSha512 => {
            let (e, n) = rsa_components(&key.public_key)?;
            let params: &signature::RsaParameters = match alg {
                Algorithm::RsaSha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                Algorithm::RsaSha512 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                _ => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            };
            signature::RsaPublicKeyComponents { n, e }.verify(params, data, sig).map_err(|_| bad())
        }
        Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 => {
            super::pubkey::check_public_key(alg, &key.public_key)?;
            let mut point = Vec::with_capacity(1 + key.public_key.len());
            point.push(4);
            point.extend_from_slice(&key.public_key);
            let a: &signature::EcdsaVerificationAlgorithm = if alg == Algorithm::EcdsaP256Sha256 {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            signature::UnparsedPublicKey::new(a, &point).verify(data, sig).map_err(|_| bad())
        }
        Algorithm::Ed25519 => {
            super::pubkey::check_public_key(alg, &key.public_key)?;
            signature::UnparsedPublicKey::new(&signature::ED25519, &key.public_key).verify(data, sig).map_err(|_| bad())
        }
    }
}

/// Verifies `sig` over `rrset` with `key`: the RRSIG must name this key (tag
/// and algorithm), cover this type, carry a plausible label count, and the
/// key must be a zone key (RFC 4035 §5.3.1). Validity times are checked by
/// the callers, which know the time of interest.
pub fn verify_rrsig(rrset: &RrSet, sig: &Rrsig, key: &Dnskey) -> Result<(), DnssecError> {
    if sig.type_covered != rrset.rtype {
        return Err(DnssecError::BadSignature(format!(
            "RRSIG covers {} but the RRset is {}",
            super::record::rtype::name(sig.type_covered),
            super::record::rtype::name(rrset.rtype)
        )));
    }
    if sig.algorithm != key.algorithm || sig.key_tag != key.key_tag() {
        return Err(DnssecError::BadSignature(format!(
            "RRSIG names key {}/alg {} but was checked against key {}/alg {}",
            sig.key_tag,
            sig.algorithm,
            key.key_tag(),
            key.algorithm
        )));
    }
    if !key.is_zone_key() || key.protocol != 3 {
        return Err(DnssecError::BadSignature(format!("key {} is not a DNSSEC zone key", key.key_tag())));
    }
    if sig.labels > rrset.name.num_labels() {
        return Err(DnssecError::BadSignature(format!(
            "RRSIG labels {} exceed the owner's {} labels",
            sig.labels,
            rrset.name.num_labels()
        )));
    }
    let _ = same_name; // signer/zone relations are checked by callers that know the zone
    verify_raw(key, &rrset.signing_input(sig), &sig.signature)
}

thread_local! {
    static ATTEMPTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many signature verifications (calls into the primitive) this thread
/// has made: tests use it to show verification stays linear in the input.
pub fn verification_attempts() -> u64 {
    ATTEMPTS.with(|a| a.get())
}

/// Limits on the verification work one bundle (of a KSR or SKR) may cause,
/// against inputs shaped like KeyTrap (CVE-2023-50387: many keys sharing one
/// key tag, many signatures that do not verify). See docs/security.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyLimits {
    /// Keys in one bundle's DNSKEY RRset.
    pub max_keys_per_bundle: usize,
    /// Signatures in one bundle.
    pub max_signatures_per_bundle: usize,
    /// Keys of one bundle sharing a key tag and algorithm: a signature naming
    /// more is refused without trying any (RFC 4034 Appendix B tags are not unique,
    /// but legitimately colliding keys are rare).
    pub max_keys_sharing_tag: usize,
    /// Failed verifications in one bundle before its remaining signatures are refused untried.
    pub max_failed_per_bundle: usize,
    /// Failed verifications in one input before every remaining signature is refused untried.
    pub max_failed_total: usize,
}

impl Default for VerifyLimits {
    /// 64 keys and 64 signatures per bundle, 4 keys per key tag, 8 failed
    /// verifications per bundle and 64 per input.
    fn default() -> Self {
        VerifyLimits {
            max_keys_per_bundle: 64,
            max_signatures_per_bundle: 64,
            max_keys_sharing_tag: 4,
            max_failed_per_bundle: 8,
            max_failed_total: 64,
        }
    }
}

impl VerifyLimits {
    /// Why a bundle of `keys` keys and `sigs` signatures is refused before
    /// any verification, if it is.
    pub fn bundle_refusal(&self, keys: usize, sigs: usize) -> Option<String> {
        if keys > self.max_keys_per_bundle {
            return Some(format!("{keys} keys exceed the verification limit of {} per bundle; not verified", self.max_keys_per_bundle));
        }
        if sigs > self.max_signatures_per_bundle {
            return Some(format!("{sigs} signatures exceed the verification limit of {} per bundle; not verified", self.max_signatures_per_bundle));
        }
        None
    }
}

/// The failed verifications counted against [`VerifyLimits`]: per bundle and in total.
#[derive(Debug, Default, Clone)]
pub struct FailBudget {
    pub bundle: usize,
    pub total: usize,
}

/// An RRset with its canonical RR sequence (RFC 4034 §6) built once: the
/// signing input of each RRSIG is its RDATA prefix plus that sequence,
/// cached per (label count, original TTL), which every signature of a
/// bundle normally shares.
#[derive(Debug)]
pub struct CanonicalRrset {
    pub rrset: RrSet,
    rdatas: Vec<Vec<u8>>,
    body: std::cell::RefCell<Option<((u8, u32), Vec<u8>)>>,
}

impl CanonicalRrset {
    pub fn new(rrset: RrSet) -> Self {
        let rdatas = rrset.canonical_rdatas();
        CanonicalRrset { rrset, rdatas, body: std::cell::RefCell::new(None) }
    }

    /// The data `sig` signs over this RRset (as [`RrSet::signing_input`]).
    pub fn signing_input(&self, sig: &Rrsig) -> Vec<u8> {
        let key = (sig.labels, sig.original_ttl);
        let mut cache = self.body.borrow_mut();
        if cache.as_ref().is_none_or(|(k, _)| *k != key) {
            *cache = Some((key, self.rrset.canonical_body(&self.rdatas, sig.labels, sig.original_ttl)));
        }
        let mut out = sig.to_wire_without_signature();
        if let Some((_, body)) = cache.as_ref() {
            out.extend_from_slice(body);
        }
        out
    }
}

/// Verifies `sig` over `set` with the first fitting key among `keys`: only
/// keys whose tag, algorithm and flags (zone key, protocol 3) fit are tried,
/// none when more than `limits.max_keys_sharing_tag` fit, and none once the
/// bundle's or the input's failed-verification budget is spent. Returns the
/// index of the verifying key, or why none verified.
pub fn verify_bounded(set: &CanonicalRrset, sig: &Rrsig, keys: &[&Dnskey], tags: &[u16], limits: &VerifyLimits, spent: &mut FailBudget) -> Result<usize, String> {
    let fits: Vec<usize> = (0..keys.len())
        .filter(|&i| {
            tags.get(i) == Some(&sig.key_tag) && keys[i].algorithm == sig.algorithm && keys[i].is_zone_key() && keys[i].protocol == 3
        })
        .collect();
    if fits.is_empty() {
        return Err(format!("no zone key with key tag {} and algorithm {} in the bundle", sig.key_tag, sig.algorithm));
    }
    if fits.len() > limits.max_keys_sharing_tag {
        return Err(format!(
            "{} keys share key tag {} and algorithm {}: more than the verification limit of {}; not tried",
            fits.len(),
            sig.key_tag,
            sig.algorithm,
            limits.max_keys_sharing_tag
        ));
    }
    let mut errs = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    for i in fits {
        if spent.bundle >= limits.max_failed_per_bundle || spent.total >= limits.max_failed_total {
            errs.push(format!(
                "the failed-verification budget ({} per bundle, {} per input) is spent; not tried",
                limits.max_failed_per_bundle, limits.max_failed_total
            ));
            break;
        }
        if sig.type_covered != set.rrset.rtype || sig.labels > set.rrset.name.num_labels() {
            return Err(format!("RRSIG over {} (labels {}) does not fit the RRset", super::record::rtype::name(sig.type_covered), sig.labels));
        }
        let input = data.get_or_insert_with(|| set.signing_input(sig));
        match verify_raw(keys[i], input, &sig.signature) {
            Ok(()) => return Ok(i),
            Err(e) => {
                spent.bundle += 1;
                spent.total += 1;
                errs.push(e.to_string());
            }
        }
    }
    Err(errs.join(", "))
}

/// Whether `t` (seconds since the epoch) lies within the RRSIG's validity,
/// using serial-number arithmetic (RFC 4034 §3.1.5, RFC 1982).
pub fn rrsig_valid_at(sig: &Rrsig, t: u64) -> bool {
    let t = t as u32;
    serial_le(sig.inception, t) && serial_le(t, sig.expiration)
}

fn serial_le(a: u32, b: u32) -> bool {
    a == b || (b.wrapping_sub(a) as i32) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic() {
        let s = Rrsig {
            type_covered: 48,
            algorithm: 8,
            labels: 0,
            original_ttl: 0,
            inception: 100,
            expiration: 200,
            key_tag: 0,
            signer_name: crate::dnssec::Name::root(),
            signature: vec![],
        };
        assert!(rrsig_valid_at(&s, 150));
        assert!(rrsig_valid_at(&s, 200));
        assert!(!rrsig_valid_at(&s, 201));
        assert!(!rrsig_valid_at(&s, 99));
    }
}
