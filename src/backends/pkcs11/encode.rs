//! Pure encodings between PKCS#11 attribute and signature forms and the
//! DNSSEC wire forms: PKCS#1 v1.5 DigestInfo and padding (RFC 8017 §9.2),
//! ECDSA signature normalisation to r||s (RFC 6605 §4), CKA_EC_POINT and
//! CKA_EC_PARAMS decoding (PKCS#11 v2.40 §2.3.3, v3.0 §2.3.5), and the
//! private-key parts of PKCS#8 (RFC 5958) needed to import software keys.

use crate::dnssec::Algorithm;

/// DER OID of P-256 (secp256r1, 1.2.840.10045.3.1.7), as CKA_EC_PARAMS.
pub const OID_P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// DER OID of P-384 (secp384r1, 1.3.132.0.34), as CKA_EC_PARAMS.
pub const OID_P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
/// DER OID of Ed25519 (1.3.101.112, RFC 8410), as CKA_EC_PARAMS.
pub const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
/// PrintableString "edwards25519", the PKCS#11 v3.0 curve-name form of CKA_EC_PARAMS.
pub const NAME_ED25519: &[u8] = &[
    0x13, 0x0C, b'e', b'd', b'w', b'a', b'r', b'd', b's', b'2', b'5', b'5', b'1', b'9',
];

/// The curve named by CKA_EC_PARAMS, if kskit knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    Ed25519,
}

impl Curve {
    pub fn from_params(params: &[u8]) -> Option<Curve> {
        if params == OID_P256 {
            Some(Curve::P256)
        } else if params == OID_P384 {
            Some(Curve::P384)
        } else if params == OID_ED25519 || params == NAME_ED25519 {
            Some(Curve::Ed25519)
        } else {
            None
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::Ed25519 => "Ed25519",
        }
    }
    /// Size in bytes of a field element (and of r and s).
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Ed25519 => 32,
            Curve::P384 => 48,
        }
    }
    pub fn bits(self) -> u32 {
        self.field_len() as u32 * 8
    }
    /// The DNSSEC algorithm a key on this curve signs with.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::EcdsaP256Sha256,
            Curve::P384 => Algorithm::EcdsaP384Sha384,
            Curve::Ed25519 => Algorithm::Ed25519,
        }
    }
    pub fn params(self) -> &'static [u8] {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
            Curve::Ed25519 => OID_ED25519,
        }
    }
}

/// DigestInfo prefixes for SHA-256 and SHA-512 (RFC 8017 §9.2, note 1).
const DI_SHA256: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];
const DI_SHA512: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
];

/// The host-side hash of `data` for `alg` (SHA-256 for 8 and 13, SHA-512 for
/// 10, SHA-384 for 14); `None` for Ed25519, which signs the message itself.
pub fn host_hash(alg: Algorithm, data: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    match alg {
        Algorithm::RsaSha256 | Algorithm::EcdsaP256Sha256 => Some(sha2::Sha256::digest(data).to_vec()),
        Algorithm::RsaSha512 => Some(sha2::Sha512::digest(data).to_vec()),
        Algorithm::EcdsaP384Sha384 => Some(sha2::Sha384::digest(data).to_vec()),
        _ => None,
    }
}

/// DER DigestInfo over the hash of `data` for an RSA algorithm, as CKM_RSA_PKCS
/// expects its input (RFC 8017 §9.2 step 2).
pub fn digest_info(alg: Algorithm, data: &[u8]) -> Option<Vec<u8>> {
    let prefix = match alg {
        Algorithm::RsaSha256 => DI_SHA256,
        Algorithm::RsaSha512 => DI_SHA512,
        _ => return None,
    };
    let h = host_hash(alg, data)?;
    let mut v = prefix.to_vec();
    v.extend_from_slice(&h);
    Some(v)
}

/// EMSA-PKCS1-v1_5 encoding `00 01 FF.. 00 DigestInfo` of length `k` (RFC 8017
/// §9.2 steps 3–5), the input of a raw CKM_RSA_X_509 signature.
pub fn pkcs1_v15_pad(digest_info: &[u8], k: usize) -> Option<Vec<u8>> {
    // RFC 8017 §9.2 step 3: at least 8 octets of 0xFF.
    if k < digest_info.len() + 11 {
        return None;
    }
    let mut em = Vec::with_capacity(k);
    em.push(0x00);
    em.push(0x01);
    em.resize(k - digest_info.len() - 1, 0xFF);
    em.push(0x00);
    em.extend_from_slice(digest_info);
    Some(em)
}

/// Left-pads a big-endian integer to `len` bytes (tokens may drop leading
/// zero octets of an RSA signature; RFC 8017 §5.2.1 I2OSP wants `k` octets).
pub fn left_pad(v: &[u8], len: usize) -> Option<Vec<u8>> {
    let v = strip_zeros(v);
    if v.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[i..]
}

/// Normalises an ECDSA signature from a token to the fixed r||s form of
/// RFC 6605 §4. PKCS#11 specifies r||s, but some modules return the DER
/// `ECDSA-Sig-Value` SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3).
pub fn ecdsa_to_fixed(sig: &[u8], field_len: usize) -> Option<Vec<u8>> {
    if sig.len() == 2 * field_len {
        return Some(sig.to_vec());
    }
    let mut outer = Der::new(sig);
    let body = outer.read(0x30)?;
    if !outer.done() {
        return None;
    }
    let mut inner = Der::new(body);
    let r = inner.read(0x02)?;
    let s = inner.read(0x02)?;
    if !inner.done() {
        return None;
    }
    let mut out = left_pad(r, field_len)?;
    out.extend(left_pad(s, field_len)?);
    Some(out)
}

/// Decodes CKA_EC_POINT to the DNSSEC public key: for ECDSA the uncompressed
/// point without its 0x04 prefix (RFC 6605 §4), for Ed25519 the 32-byte key
/// (RFC 8080 §3). The attribute is a DER OCTET STRING by the standard, but
/// several modules return the bare point; both are accepted.
pub fn ec_point_to_dnskey(point: &[u8], curve: Curve) -> Option<Vec<u8>> {
    let n = curve.field_len();
    let bare = |p: &[u8]| -> Option<Vec<u8>> {
        match curve {
            Curve::Ed25519 => (p.len() == 32).then(|| p.to_vec()),
            _ => (p.len() == 1 + 2 * n && p.first() == Some(&0x04)).then(|| p[1..].to_vec()),
        }
    };
    if let Some(k) = bare(point) {
        return Some(k);
    }
    let mut d = Der::new(point);
    let inner = d.read(0x04)?;
    if !d.done() {
        return None;
    }
    bare(inner)
}

/// CKA_EC_POINT for a public key object: DER OCTET STRING of the encoded point.
pub fn dnskey_to_ec_point(public_key: &[u8], curve: Curve) -> Vec<u8> {
    let mut p = Vec::with_capacity(public_key.len() + 1);
    if curve != Curve::Ed25519 {
        p.push(0x04);
    }
    p.extend_from_slice(public_key);
    crate::dnssec::pubkey::der_tlv(0x04, &p)
}

/// A minimal DER reader for the few structures read here.
pub(crate) struct Der<'a> {
    buf: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Der { buf }
    }
    pub(crate) fn done(&self) -> bool {
        self.buf.is_empty()
    }
    /// Reads any TLV, returning (tag, value).
    pub(crate) fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let tag = *self.buf.first()?;
        let l0 = *self.buf.get(1)? as usize;
        let (len, off) = if l0 < 0x80 {
            (l0, 2)
        } else {
            let n = l0 & 0x7F;
            if n == 0 || n > 3 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *self.buf.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let end = off.checked_add(len)?;
        let val = self.buf.get(off..end)?;
        self.buf = self.buf.get(end..)?;
        Some((tag, val))
    }
    /// Reads a TLV that must have tag `tag`.
    pub(crate) fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (t, v) = self.any()?;
        (t == tag).then_some(v)
    }
}

/// The private scalar `d` of an RFC 5915 ECPrivateKey (the privateKey
/// OCTET STRING of a PKCS#8 EC key).
pub fn ec_private_scalar(ec_private_key: &[u8]) -> Option<&[u8]> {
    let mut outer = Der::new(ec_private_key);
    let body = outer.read(0x30)?;
    let mut d = Der::new(body);
    let version = d.read(0x02)?;
    if version != [1] {
        return None;
    }
    d.read(0x04)
}

/// The 32-byte seed of an Ed25519 PKCS#8 private key (RFC 8410 §7: the
/// privateKey field holds an OCTET STRING CurvePrivateKey).
pub fn ed25519_seed(private_key_field: &[u8]) -> Option<&[u8]> {
    let mut d = Der::new(private_key_field);
    let seed = d.read(0x04)?;
    (seed.len() == 32).then_some(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_padding_shape() {
        let di = digest_info(Algorithm::RsaSha256, b"abc").unwrap();
        assert_eq!(di.len(), 19 + 32);
        let em = pkcs1_v15_pad(&di, 256).unwrap();
        assert_eq!(em.len(), 256);
        assert_eq!(&em[..2], &[0, 1]);
        assert_eq!(em[256 - di.len() - 1], 0);
        assert!(em[2..256 - di.len() - 1].iter().all(|b| *b == 0xFF));
        assert!(pkcs1_v15_pad(&di, 60).is_none());
        assert_eq!(digest_info(Algorithm::RsaSha512, b"").unwrap().len(), 19 + 64);
        assert!(digest_info(Algorithm::EcdsaP256Sha256, b"").is_none());
    }

    #[test]
    fn ecdsa_der_and_fixed() {
        let fixed: Vec<u8> = (1..=64).collect();
        assert_eq!(ecdsa_to_fixed(&fixed, 32).unwrap(), fixed);
        // r with high bit (leading 00 in DER), s short (leading zero dropped)
        let mut r = vec![0x00, 0x80];
        r.extend(std::iter::repeat_n(7, 31));
        let s = vec![5u8; 31];
        let mut body = vec![0x02, r.len() as u8];
        body.extend(&r);
        body.extend([0x02, s.len() as u8]);
        body.extend(&s);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(&body);
        let out = ecdsa_to_fixed(&der, 32).unwrap();
        assert_eq!(out.len(), 64);
        assert_eq!(out[0], 0x80);
        assert_eq!(out[32], 0);
        assert_eq!(&out[33..], &s[..]);
        assert!(ecdsa_to_fixed(&der[..der.len() - 1], 32).is_none());
        assert!(ecdsa_to_fixed(&[0x30, 0x00], 32).is_none());
    }

    #[test]
    fn ec_point_forms() {
        let mut bare = vec![0x04];
        bare.extend(1..=64u8);
        let want: Vec<u8> = (1..=64).collect();
        assert_eq!(ec_point_to_dnskey(&bare, Curve::P256).unwrap(), want);
        let der = crate::dnssec::pubkey::der_tlv(0x04, &bare);
        assert_eq!(ec_point_to_dnskey(&der, Curve::P256).unwrap(), want);
        assert_eq!(dnskey_to_ec_point(&want, Curve::P256), der);
        assert!(ec_point_to_dnskey(&der, Curve::P384).is_none());
        let ed = [9u8; 32];
        assert_eq!(ec_point_to_dnskey(&ed, Curve::Ed25519).unwrap(), ed);
        let edder = crate::dnssec::pubkey::der_tlv(0x04, &ed);
        assert_eq!(ec_point_to_dnskey(&edder, Curve::Ed25519).unwrap(), ed);
        assert_eq!(Curve::from_params(OID_P384), Some(Curve::P384));
        assert_eq!(Curve::from_params(NAME_ED25519), Some(Curve::Ed25519));
        assert_eq!(Curve::from_params(&[0x06, 0x01, 0x00]), None);
    }
}
