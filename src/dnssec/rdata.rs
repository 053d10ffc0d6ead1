//! The DNSSEC record data kskit works with: DNSKEY/CDNSKEY, DS/CDS and RRSIG
//! (RFC 4034 §2, §3, §5; RFC 7344 §3), with their wire encodings, the key tag
//! (RFC 4034 Appendix B) and DS digests (RFC 4034 §5.1.4, RFC 4509, RFC 6605).

use sha2::Digest;

use super::name::{canonical_wire, Name};
use super::{Algorithm, DigestType, DnssecError};

/// DNSKEY flag: Zone Key (RFC 4034 §2.1.1).
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flag: Secure Entry Point (RFC 4034 §2.1.1).
pub const FLAG_SEP: u16 = 0x0001;
/// DNSKEY flag: REVOKE (RFC 5011 §7).
pub const FLAG_REVOKE: u16 = 0x0080;

/// DNSKEY (or CDNSKEY) RDATA. `algorithm` stays a raw number so that records
/// with algorithms kskit does not know can still be read and reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dnskey {
    pub flags: u16,
    pub protocol: u8,
    pub algorithm: u8,
    pub public_key: Vec<u8>,
}

impl Dnskey {
    pub fn new(flags: u16, algorithm: Algorithm, public_key: Vec<u8>) -> Self {
        Dnskey { flags, protocol: 3, algorithm: algorithm.number(), public_key }
    }

    /// The algorithm, or an error naming the unknown number.
    pub fn algorithm(&self) -> Result<Algorithm, DnssecError> {
        Algorithm::from_number(self.algorithm)
    }

    pub fn is_zone_key(&self) -> bool {
        self.flags & FLAG_ZONE != 0
    }
    pub fn is_sep(&self) -> bool {
        self.flags & FLAG_SEP != 0
    }
    pub fn is_revoked(&self) -> bool {
        self.flags & FLAG_REVOKE != 0
    }

    /// RDATA in wire format (RFC 4034 §2.2).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + self.public_key.len());
        v.extend_from_slice(&self.flags.to_be_bytes());
        v.push(self.protocol);
        v.push(self.algorithm);
        v.extend_from_slice(&self.public_key);
        v
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        if data.len() < 4 {
            return Err(DnssecError::Malformed(format!("DNSKEY RDATA of {} bytes is too short", data.len())));
        }
        Ok(Dnskey {
            flags: u16::from_be_bytes([data[0], data[1]]),
            protocol: data[2],
            algorithm: data[3],
            public_key: data[4..].to_vec(),
        })
    }

    /// The key tag (RFC 4034 Appendix B; the algorithm-1 special case is not
    /// needed since RSAMD5 is never accepted).
    pub fn key_tag(&self) -> u16 {
        key_tag_of_rdata(&self.to_wire())
    }

    /// Key size in bits: the modulus length for RSA (RFC 3110 §2), the curve
    /// size for ECDSA and Ed25519. `None` when the key cannot be decoded.
    pub fn key_bits(&self) -> Option<u32> {
        match self.algorithm().ok()? {
            a if a.is_rsa() => {
                let (_, n) = super::pubkey::rsa_components(&self.public_key).ok()?;
                let n = strip_leading_zeros(n);
                if n.is_empty() {
                    return None;
                }
                Some((n.len() as u32 - 1) * 8 + (8 - n[0].leading_zeros()))
            }
            a => a.fixed_bits(),
        }
    }

    /// The DS record data for this key with `owner` as the key's owner name
    /// (RFC 4034 §5.1.4: digest = hash(canonical owner | DNSKEY RDATA)).
    pub fn ds(&self, owner: &Name, digest_type: DigestType) -> Ds {
        let mut input = canonical_wire(owner);
        input.extend_from_slice(&self.to_wire());
        let digest = match digest_type {
            DigestType::Sha1 => {
                use sha1::Digest as _;
                sha1::Sha1::digest(&input).to_vec()
            }
            DigestType::Sha256 => sha2::Sha256::digest(&input).to_vec(),
            DigestType::Sha384 => sha2::Sha384::digest(&input).to_vec(),
        };
        Ds { key_tag: self.key_tag(), algorithm: self.algorithm, digest_type: digest_type.number(), digest }
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[i..]
}

/// Key tag over DNSKEY RDATA in wire format (RFC 4034 Appendix B).
pub fn key_tag_of_rdata(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 { *b as u32 } else { (*b as u32) << 8 };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// DS (or CDS) RDATA (RFC 4034 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ds {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    pub digest: Vec<u8>,
}

impl Ds {
    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + self.digest.len());
        v.extend_from_slice(&self.key_tag.to_be_bytes());
        v.push(self.algorithm);
        v.push(self.digest_type);
        v.extend_from_slice(&self.digest);
        v
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        if data.len() < 4 {
            return Err(DnssecError::Malformed(format!("DS RDATA of {} bytes is too short", data.len())));
        }
        Ok(Ds { key_tag: u16::from_be_bytes([data[0], data[1]]), algorithm: data[2], digest_type: data[3], digest: data[4..].to_vec() })
    }

    /// Whether this DS matches `key` at `owner` (tag, algorithm and digest).
    pub fn matches(&self, owner: &Name, key: &Dnskey) -> bool {
        let Ok(dt) = DigestType::from_number(self.digest_type) else { return false };
        key.ds(owner, dt) == *self
    }

    /// The RFC 8078 §4 "delete" CDS: `0 0 0 00`.
    pub fn delete() -> Self {
        Ds { key_tag: 0, algorithm: 0, digest_type: 0, digest: vec![0] }
    }
    pub fn is_delete(&self) -> bool {
        self.algorithm == 0
    }
}

/// RRSIG RDATA (RFC 4034 §3.1). Times are seconds since the epoch as u32
/// (serial-number arithmetic per RFC 4034 §3.1.5 is applied by the checks).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rrsig {
    pub type_covered: u16,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    pub signer_name: Name,
    pub signature: Vec<u8>,
}

impl Rrsig {
    /// RRSIG RDATA without the signature field, signer name in canonical form
    /// (RFC 4034 §3.1.8.1: the first part of the signed data).
    pub fn to_wire_without_signature(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&self.type_covered.to_be_bytes());
        v.push(self.algorithm);
        v.push(self.labels);
        v.extend_from_slice(&self.original_ttl.to_be_bytes());
        v.extend_from_slice(&self.expiration.to_be_bytes());
        v.extend_from_slice(&self.inception.to_be_bytes());
        v.extend_from_slice(&self.key_tag.to_be_bytes());
        v.extend_from_slice(&canonical_wire(&self.signer_name));
        v
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = self.to_wire_without_signature();
        v.extend_from_slice(&self.signature);
        v
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        if data.len() < 19 {
            return Err(DnssecError::Malformed(format!("RRSIG RDATA of {} bytes is too short", data.len())));
        }
        let be32 = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let (signer_name, used) = super::name::from_wire(&data[18..])?;
        Ok(Rrsig {
            type_covered: u16::from_be_bytes([data[0], data[1]]),
            algorithm: data[2],
            labels: data[3],
            original_ttl: be32(4),
            expiration: be32(8),
            inception: be32(12),
            key_tag: u16::from_be_bytes([data[16], data[17]]),
            signer_name,
            signature: data[18 + used..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_encoding::BASE64;

    fn root_key(b64: &str) -> Dnskey {
        Dnskey { flags: 257, protocol: 3, algorithm: 8, public_key: BASE64.decode(b64.as_bytes()).unwrap() }
    }

    const KSK2017: &str = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";
    const KSK2010: &str = "AwEAAagAIKlVZrpC6Ia7gEzahOR+9W29euxhJhVVLOyQbSEW0O8gcCjFFVQUTf6v58fLjwBd0YI0EzrAcQqBGCzh/RStIoO8g0NfnfL2MTJRkxoXbfDaUeVPQuYEhg37NZWAJQ9VnMVDxP/VHL496M/QZxkjf5/Efucp2gaDX6RS6CXpoY68LsvPVjR0ZSwzz1apAzvN9dlzEheX7ICJBBtuA6G3LQpzW5hOA2hzCTMjJPJ8LbqF6dsV6DoBQzgul0sGIcGOYl7OyQdXfZ57relSQageu+ipAdTTJ25AsRTAoub8ONGcLmqrAmRLKBP1dfwhYB4N7knNnulqQxA+Uk1ihz0=";

    #[test]
    fn root_ksk_2017_tag_and_ds() {
        let k = root_key(KSK2017);
        assert_eq!(k.key_tag(), 20326);
        let ds = k.ds(&Name::root(), DigestType::Sha256);
        assert_eq!(
            data_encoding::HEXUPPER.encode(&ds.digest),
            "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
        );
        assert_eq!(k.key_bits(), Some(2048));
    }

    #[test]
    fn root_ksk_2010_tag_and_ds() {
        let k = root_key(KSK2010);
        assert_eq!(k.key_tag(), 19036);
        let ds = k.ds(&Name::root(), DigestType::Sha256);
        assert_eq!(
            data_encoding::HEXUPPER.encode(&ds.digest),
            "49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5"
        );
        assert!(ds.matches(&Name::root(), &k));
        let mut other = k.clone();
        other.flags = 256;
        assert!(!ds.matches(&Name::root(), &other));
    }

    #[test]
    fn wire_round_trips() {
        let k = root_key(KSK2010);
        assert_eq!(Dnskey::from_wire(&k.to_wire()).unwrap(), k);
        let ds = k.ds(&Name::root(), DigestType::Sha384);
        assert_eq!(Ds::from_wire(&ds.to_wire()).unwrap(), ds);
        assert!(Dnskey::from_wire(&[1, 2]).is_err());
    }
}
