//! Public key encodings in DNSKEY records: RSA per RFC 3110 §2, ECDSA per
//! RFC 6605 §4 (uncompressed point without the 0x04 prefix), Ed25519 per RFC 8080 §3.

use super::{Algorithm, DnssecError};

/// Splits an RFC 3110 RSA public key into (exponent, modulus).
pub fn rsa_components(key: &[u8]) -> Result<(&[u8], &[u8]), DnssecError> {
    let bad = || DnssecError::Malformed("RSA public key (RFC 3110) is truncated".into());
    let first = *key.first().ok_or_else(bad)?;
    let (elen, off) = if first == 0 {
        if key.len() < 3 {
            return Err(bad());
        }
        (u16::from_be_bytes([key[1], key[2]]) as usize, 3)
    } else {
        (first as usize, 1)
    };
    if elen == 0 || key.len() <= off + elen {
        return Err(bad());
    }
    Ok((&key[off..off + elen], &key[off + elen..]))
}

/// Builds an RFC 3110 RSA public key from big-endian exponent and modulus.
pub fn rsa_encode(exponent: &[u8], modulus: &[u8]) -> Vec<u8> {
    let e = strip(exponent);
    let n = strip(modulus);
    let mut v = Vec::with_capacity(3 + e.len() + n.len());
    if e.len() <= 255 {
        v.push(e.len() as u8);
    } else {
        v.push(0);
        v.extend_from_slice(&(e.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(e);
    v.extend_from_slice(n);
    v
}

fn strip(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[i..]
}

/// DER `RSAPublicKey` (PKCS#1) from an RFC 3110 key, as ring's verifier wants.
pub fn rsa_to_pkcs1_der(key: &[u8]) -> Result<Vec<u8>, DnssecError> {
    let (e, n) = rsa_components(key)?;
    let mut body = der_uint(n);
    body.extend(der_uint(e));
    Ok(der_tlv(0x30, &body))
}

fn der_uint(b: &[u8]) -> Vec<u8> {
    let b = strip(b);
    let mut v = Vec::with_capacity(b.len() + 1);
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(b);
    der_tlv(0x02, &v)
}

pub(crate) fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let l = body.len();
    if l < 0x80 {
        v.push(l as u8);
    } else if l < 0x100 {
        v.extend_from_slice(&[0x81, l as u8]);
    } else if l < 0x10000 {
        v.extend_from_slice(&[0x82, (l >> 8) as u8, l as u8]);
    } else {
        v.extend_from_slice(&[0x83, (l >> 16) as u8, (l >> 8) as u8, l as u8]);
    }
    v.extend_from_slice(body);
    v
}

/// Checks that a DNSKEY public key has the right shape for its algorithm.
pub fn check_public_key(alg: Algorithm, key: &[u8]) -> Result<(), DnssecError> {
    let want = match alg {
        Algorithm::EcdsaP256Sha256 => Some(64),
        Algorithm::EcdsaP384Sha384 => Some(96),
        Algorithm::Ed25519 => Some(32),
        _ => None,
    };
    match want {
        Some(n) if key.len() != n => Err(DnssecError::Malformed(format!(
            "{alg} public key must be {n} bytes, found {}",
            key.len()
        ))),
        Some(_) => Ok(()),
        None => rsa_components(key).map(|_| ()),
    }
}

/// Fully validates a DNSKEY public key, beyond its shape
/// ([`check_public_key`]): an ECDSA key must be a point on its curve and
/// not the identity (RFC 6605 §4; SEC 1 §3.2.2.1 public key validation,
/// done by the `p256`/`p384` crates); an Ed25519 key must decode to a curve
/// point that is not of small order (RFC 8080 §3, RFC 8032 §5.1.3; a
/// small-order key lets one signature verify over many messages); an RSA
/// modulus must be odd with no leading zero octet (RFC 3110 §2) and its
/// exponent odd and greater than 1. Pure; the caller checks the modulus
/// size and exponent against its policy.
pub fn validate_public_key(alg: Algorithm, key: &[u8]) -> Result<(), DnssecError> {
    check_public_key(alg, key)?;
    let bad = |why: &str| Err(DnssecError::Malformed(format!("{alg} public key {why}")));
    match alg {
        Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 => {
            // SEC 1 uncompressed encoding: 0x04 || x || y. An uncompressed
            // encoding never denotes the identity; a point off the curve
            // (an all-zero key included) does not decode.
            let mut sec1 = Vec::with_capacity(key.len() + 1);
            sec1.push(4);
            sec1.extend_from_slice(key);
            let on_curve = if alg == Algorithm::EcdsaP256Sha256 {
                use p256::elliptic_curve::sec1::FromEncodedPoint as _;
                p256::EncodedPoint::from_bytes(&sec1)
                    .ok()
                    .and_then(|ep| Option::<p256::AffinePoint>::from(p256::AffinePoint::from_encoded_point(&ep)))
                    .is_some()
            } else {
                use p384::elliptic_curve::sec1::FromEncodedPoint as _;
                p384::EncodedPoint::from_bytes(&sec1)
                    .ok()
                    .and_then(|ep| Option::<p384::AffinePoint>::from(p384::AffinePoint::from_encoded_point(&ep)))
                    .is_some()
            };
            if on_curve {
                Ok(())
            } else {
                bad(if alg == Algorithm::EcdsaP256Sha256 { "is not a point on the P-256 curve" } else { "is not a point on the P-384 curve" })
            }
        }
        Algorithm::Ed25519 => {
            let Ok(bytes) = <[u8; 32]>::try_from(key) else {
                return bad("must be 32 bytes");
            };
            match curve25519_dalek::edwards::CompressedEdwardsY(bytes).decompress() {
                None => bad("is not a point on the Ed25519 curve"),
                Some(p) if p.is_small_order() => bad("is a point of small order (identity or torsion point)"),
                Some(_) => Ok(()),
            }
        }
        _ => {
            let (e, n) = rsa_components(key)?;
            if n.first() == Some(&0) {
                return bad("has a modulus with a leading zero octet (RFC 3110 §2)");
            }
            if n.last().is_none_or(|b| b & 1 == 0) {
                return bad("has an even modulus");
            }
            let e = strip(e);
            if e.last().is_none_or(|b| b & 1 == 0) || e == [1] {
                return bad("has an even exponent or exponent 1");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_round_trip() {
        let enc = rsa_encode(&[0x01, 0x00, 0x01], &[0x00, 0xC1, 0x02]);
        assert_eq!(enc, vec![3, 1, 0, 1, 0xC1, 2]);
        let (e, n) = rsa_components(&enc).unwrap();
        assert_eq!(e, &[1, 0, 1]);
        assert_eq!(n, &[0xC1, 2]);
        assert!(rsa_components(&[3, 1, 0]).is_err());
        assert!(rsa_components(&[]).is_err());
        assert_eq!(rsa_to_pkcs1_der(&enc).unwrap(), vec![0x30, 0x0A, 0x02, 0x03, 0x00, 0xC1, 0x02, 0x02, 0x03, 1, 0, 1]);
    }

    #[test]
    fn full_validation_refuses_bad_points() {
        // A real P-256 key (RFC 6605 §6.1 example) passes.
        let p256 = data_encoding::BASE64
            .decode(b"GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==")
            .unwrap();
        validate_public_key(Algorithm::EcdsaP256Sha256, &p256).unwrap();
        let mut off = p256.clone();
        off[63] ^= 1;
        assert!(validate_public_key(Algorithm::EcdsaP256Sha256, &off).is_err(), "off-curve point");
        assert!(validate_public_key(Algorithm::EcdsaP256Sha256, &[0u8; 64]).is_err(), "all-zero key");
        assert!(validate_public_key(Algorithm::EcdsaP384Sha384, &[0u8; 96]).is_err());
        // Ed25519: the identity (y = 1) and an all-zero key (a point of order 4) are small-order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(validate_public_key(Algorithm::Ed25519, &identity).is_err());
        assert!(validate_public_key(Algorithm::Ed25519, &[0u8; 32]).is_err());
        // RFC 8080 §6.1 example key passes.
        let ed = data_encoding::BASE64.decode(b"l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=").unwrap();
        validate_public_key(Algorithm::Ed25519, &ed).unwrap();
        // RSA: even modulus refused, odd accepted.
        let even = rsa_encode(&[1, 0, 1], &[0xC1, 2]);
        assert!(validate_public_key(Algorithm::RsaSha256, &even).is_err());
        let odd = rsa_encode(&[1, 0, 1], &[0xC1, 3]);
        validate_public_key(Algorithm::RsaSha256, &odd).unwrap();
        assert!(validate_public_key(Algorithm::RsaSha256, &rsa_encode(&[1], &[0xC1, 3])).is_err(), "exponent 1");
    }
}
