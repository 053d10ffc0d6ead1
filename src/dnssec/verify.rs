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
