//! DNSSEC algorithm numbers (IANA "DNS Security Algorithm Numbers") and DS digest types.

use std::fmt;
use std::str::FromStr;

use super::DnssecError;

/// A DNSSEC signing algorithm that kskit knows.
///
/// Signing is offered for 8, 10, 13, 14 and 15; 5 and 7 are verify-only, for
/// historical data (RFC 8624 §3.1 says they must not be used for signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Algorithm {
    RsaSha1,
    RsaSha1Nsec3Sha1,
    RsaSha256,
    RsaSha512,
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    Ed25519,
}

impl Algorithm {
    pub const ALL: [Algorithm; 7] = [
        Algorithm::RsaSha1,
        Algorithm::RsaSha1Nsec3Sha1,
        Algorithm::RsaSha256,
        Algorithm::RsaSha512,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::Ed25519,
    ];

    /// The IANA algorithm number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::RsaSha1 => 5,
            Algorithm::RsaSha1Nsec3Sha1 => 7,
            Algorithm::RsaSha256 => 8,
            Algorithm::RsaSha512 => 10,
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::EcdsaP384Sha384 => 14,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The IANA mnemonic, as used in zone files and by Knot and BIND.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => "RSASHA1",
            Algorithm::RsaSha1Nsec3Sha1 => "RSASHA1-NSEC3-SHA1",
            Algorithm::RsaSha256 => "RSASHA256",
            Algorithm::RsaSha512 => "RSASHA512",
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::EcdsaP384Sha384 => "ECDSAP384SHA384",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    pub fn from_number(n: u8) -> Result<Self, DnssecError> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.number() == n)
            .ok_or(DnssecError::UnknownAlgorithm(n.to_string()))
    }

    /// Whether kskit will make new signatures with this algorithm.
    pub fn can_sign(self) -> bool {
        !matches!(self, Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1)
    }

    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1 | Algorithm::RsaSha256 | Algorithm::RsaSha512
        )
    }

    pub fn is_ecdsa(self) -> bool {
        matches!(self, Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384)
    }

    /// Fixed key size in bits for EC and EdDSA algorithms; `None` for RSA.
    pub fn fixed_bits(self) -> Option<u32> {
        match self {
            Algorithm::EcdsaP256Sha256 => Some(256),
            Algorithm::EcdsaP384Sha384 => Some(384),
            Algorithm::Ed25519 => Some(256),
            _ => None,
        }
    }

    /// Key sizes kskit accepts for new keys of this algorithm.
    pub fn allowed_new_bits(self) -> &'static [u32] {
        match self {
            Algorithm::RsaSha256 | Algorithm::RsaSha512 => &[2048, 3072, 4096],
            Algorithm::EcdsaP256Sha256 | Algorithm::Ed25519 => &[256],
            Algorithm::EcdsaP384Sha384 => &[384],
            Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1 => &[],
        }
    }

    /// Default size for new keys.
    pub fn default_bits(self) -> u32 {
        self.fixed_bits().unwrap_or(2048)
    }

    /// Checks a requested size for a new key of this algorithm.
    pub fn check_new_bits(self, bits: Option<u32>) -> Result<u32, DnssecError> {
        if !self.can_sign() {
            return Err(DnssecError::VerifyOnlyAlgorithm(self.mnemonic()));
        }
        let bits = bits.unwrap_or_else(|| self.default_bits());
        if self.allowed_new_bits().contains(&bits) {
            Ok(bits)
        } else {
            Err(DnssecError::BadKeySize {
                algorithm: self.mnemonic(),
                bits,
                allowed: self.allowed_new_bits().to_vec(),
            })
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

impl FromStr for Algorithm {
    type Err = DnssecError;
    /// Accepts the mnemonic (any case, `-`/`_` ignored) or the number.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            return Algorithm::from_number(n);
        }
        let norm: String = t.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_uppercase();
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.mnemonic().replace('-', "") == norm)
            .ok_or_else(|| DnssecError::UnknownAlgorithm(t.to_string()))
    }
}

impl TryFrom<String> for Algorithm {
    type Error = DnssecError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Algorithm> for String {
    fn from(a: Algorithm) -> String {
        a.mnemonic().to_string()
    }
}

/// DS digest types (RFC 4509, RFC 6605). SHA-1 is read for old data only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestType {
    Sha1,
    Sha256,
    Sha384,
}

impl DigestType {
    pub fn number(self) -> u8 {
        match self {
            DigestType::Sha1 => 1,
            DigestType::Sha256 => 2,
            DigestType::Sha384 => 4,
        }
    }
    pub fn from_number(n: u8) -> Result<Self, DnssecError> {
        match n {
            1 => Ok(DigestType::Sha1),
            2 => Ok(DigestType::Sha256),
            4 => Ok(DigestType::Sha384),
            _ => Err(DnssecError::UnknownDigestType(n.to_string())),
        }
    }
    pub fn digest_len(self) -> usize {
        match self {
            DigestType::Sha1 => 20,
            DigestType::Sha256 => 32,
            DigestType::Sha384 => 48,
        }
    }
}

impl FromStr for DigestType {
    type Err = DnssecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "1" | "sha1" => Ok(DigestType::Sha1),
            "2" | "sha256" => Ok(DigestType::Sha256),
            "4" | "sha384" => Ok(DigestType::Sha384),
            other => Err(DnssecError::UnknownDigestType(other.to_string())),
        }
    }
}

impl fmt::Display for DigestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DigestType::Sha1 => "SHA-1",
            DigestType::Sha256 => "SHA-256",
            DigestType::Sha384 => "SHA-384",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_number(a.number()).unwrap(), a);
            assert_eq!(a.mnemonic().parse::<Algorithm>().unwrap(), a);
        }
        assert_eq!("ecdsa-p256-sha256".parse::<Algorithm>().unwrap(), Algorithm::EcdsaP256Sha256);
        assert_eq!("13".parse::<Algorithm>().unwrap(), Algorithm::EcdsaP256Sha256);
        assert!("3".parse::<Algorithm>().is_err());
        assert!("GOST".parse::<Algorithm>().is_err());
    }

    #[test]
    fn new_key_sizes() {
        assert_eq!(Algorithm::RsaSha256.check_new_bits(None).unwrap(), 2048);
        assert!(Algorithm::RsaSha256.check_new_bits(Some(1024)).is_err());
        assert!(Algorithm::RsaSha1.check_new_bits(Some(2048)).is_err());
        assert_eq!(Algorithm::EcdsaP384Sha384.check_new_bits(None).unwrap(), 384);
    }
}
