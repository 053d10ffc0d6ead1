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
}
