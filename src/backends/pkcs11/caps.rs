//! What a token can do for DNSSEC, from its mechanism list and mechanism
//! info (C_GetMechanismList, C_GetMechanismInfo): per algorithm, the signing
//! mechanism kskit would choose, whether it can make keys and of which
//! sizes, and in words what is missing. `kskit hsm list` shows it, and
//! `hsm keygen` refuses what the token cannot do before trying (a TPM
//! offers no Ed25519 and RSA only up to 3072 bits, issue 17.1).
//!
//! Pure: the facts are read by the caller (mod.rs) on the worker thread.

use cryptoki::mechanism::MechanismType;

use super::SignMechanism;
use crate::dnssec::Algorithm;

/// One mechanism of a token with the parts of CK_MECHANISM_INFO kskit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechFacts {
    pub mechanism: MechanismType,
    /// ulMinKeySize, ulMaxKeySize (bits for RSA; 0 max: not stated).
    pub min_key_size: u64,
    pub max_key_size: u64,
    pub sign: bool,
    pub generate_key_pair: bool,
}

/// What a token offers for one DNSSEC algorithm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlgorithmSupport {
    /// The mnemonic, e.g. `RSASHA256`.
    pub algorithm: String,
    pub number: u8,
    /// The signing mechanism kskit would use (best first: hash-and-sign on
    /// the token, else a raw mechanism over a hash made on the host).
    pub sign_mechanism: Option<String>,
    /// The key-pair generation mechanism, when offered.
    pub keygen_mechanism: Option<String>,
    /// The key sizes kskit makes for this algorithm that the token's
    /// mechanism info allows (empty: it cannot make keys of this algorithm).
    pub keygen_bits: Vec<u32>,
    /// What is missing, in words (empty when signing and key generation at
    /// every size kskit makes are possible).
    pub missing: Vec<String>,
}

/// The key-pair generation mechanism for `alg`.
pub fn keygen_mechanism(alg: Algorithm) -> Option<MechanismType> {
    match alg {
        Algorithm::RsaSha256 | Algorithm::RsaSha512 => Some(MechanismType::RSA_PKCS_KEY_PAIR_GEN),
        Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 => Some(MechanismType::ECC_KEY_PAIR_GEN),
        Algorithm::Ed25519 => Some(MechanismType::ECC_EDWARDS_KEY_PAIR_GEN),
        _ => None,
    }
}

/// Whether a key of `bits` fits the mechanism's stated key size range. Only
/// RSA sizes are compared (PKCS#11 states them in bits; EC ranges are
/// reported inconsistently between modules, and curves are not listed).
pub fn size_allowed(alg: Algorithm, facts: &MechFacts, bits: u32) -> bool {
    let rsa = matches!(alg, Algorithm::RsaSha256 | Algorithm::RsaSha512);
    if !rsa {
        return true;
    }
    let b = u64::from(bits);
    b >= facts.min_key_size && (facts.max_key_size == 0 || b <= facts.max_key_size)
}

/// The refusal for a key size outside the token's range, naming the range.
pub fn size_refusal(token: &str, alg: Algorithm, facts: &MechFacts, bits: u32) -> String {
    format!(
        "token {token:?} offers {} only for {}-{}-bit keys (CK_MECHANISM_INFO): it cannot make {alg} {bits}-bit keys",
        facts.mechanism, facts.min_key_size, facts.max_key_size
    )
}

/// The signing mechanism kskit would choose for `alg` among `mechs`.
pub fn sign_mechanism(alg: Algorithm, mechs: &[MechFacts]) -> Option<SignMechanism> {
    SignMechanism::candidates(alg).iter().copied().find(|m| mechs.iter().any(|f| f.mechanism == m.mechanism_type() && f.sign))
}

/// Per DNSSEC signing algorithm kskit supports, what the token offers.
pub fn algorithm_support(mechs: &[MechFacts]) -> Vec<AlgorithmSupport> {
    Algorithm::ALL
        .iter()
        .copied()
        .filter(|a| a.can_sign() && !SignMechanism::candidates(*a).is_empty())
        .map(|alg| {
            let mut missing = Vec::new();
            let sign = sign_mechanism(alg, mechs);
            if sign.is_none() {
                let names: Vec<&str> = SignMechanism::candidates(alg).iter().map(|m| m.name()).collect();
                missing.push(format!("no signing mechanism for {alg} (needs one of {})", names.join(", ")));
            }
            let gen_type = keygen_mechanism(alg);
            let gen = gen_type.and_then(|t| mechs.iter().find(|f| f.mechanism == t && f.generate_key_pair));
            let mut keygen_bits = Vec::new();
            match (gen_type, gen) {
                (Some(t), None) => missing.push(format!("no {t}: cannot make {alg} keys")),
                (_, Some(f)) => {
                    for &bits in alg.allowed_new_bits() {
                        if size_allowed(alg, f, bits) {
                            keygen_bits.push(bits);
                        } else {
                            missing.push(format!("{} is limited to {}-{} bits: no {bits}-bit keys", f.mechanism, f.min_key_size, f.max_key_size));
                        }
                    }
                }
                (None, None) => {}
            }
            AlgorithmSupport {
                algorithm: alg.mnemonic().to_string(),
                number: alg.number(),
                sign_mechanism: sign.map(|m| m.name().to_string()),
                keygen_mechanism: gen.map(|f| f.mechanism.to_string()),
                keygen_bits,
                missing,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(mechanism: MechanismType, min: u64, max: u64, sign: bool, gen: bool) -> MechFacts {
        MechFacts { mechanism, min_key_size: min, max_key_size: max, sign, generate_key_pair: gen }
    }

    /// The mechanisms tpm2-pkcs11 1.9 over swtpm reports (RSA 1024-3072, no EdDSA).
    fn tpm() -> Vec<MechFacts> {
        vec![
            m(MechanismType::RSA_PKCS_KEY_PAIR_GEN, 1024, 3072, false, true),
            m(MechanismType::RSA_PKCS, 1024, 3072, true, false),
            m(MechanismType::SHA256_RSA_PKCS, 1024, 3072, true, false),
            m(MechanismType::SHA512_RSA_PKCS, 1024, 3072, true, false),
            m(MechanismType::ECC_KEY_PAIR_GEN, 192, 638, false, true),
            m(MechanismType::ECDSA, 192, 638, true, false),
            m(MechanismType::ECDSA_SHA256, 192, 638, true, false),
        ]
    }

    fn of<'a>(v: &'a [AlgorithmSupport], alg: &str) -> &'a AlgorithmSupport {
        v.iter().find(|a| a.algorithm == alg).unwrap()
    }

    #[test]
    fn tpm_lacks_ed25519_and_rsa_4096_and_says_so() {
        let v = algorithm_support(&tpm());
        let rsa = of(&v, "RSASHA256");
        assert_eq!(rsa.sign_mechanism.as_deref(), Some("CKM_SHA256_RSA_PKCS"));
        assert_eq!(rsa.keygen_bits, vec![2048, 3072]);
        assert_eq!(rsa.missing.len(), 1, "{:?}", rsa.missing);
        assert!(rsa.missing[0].contains("1024-3072") && rsa.missing[0].contains("no 4096-bit"), "{:?}", rsa.missing);
        let ed = of(&v, "ED25519");
        assert_eq!(ed.sign_mechanism, None);
        assert!(ed.keygen_bits.is_empty());
        assert!(ed.missing.iter().any(|s| s.contains("CKM_EDDSA")), "{:?}", ed.missing);
        assert!(ed.missing.iter().any(|s| s.contains("CKM_EC_EDWARDS_KEY_PAIR_GEN")), "{:?}", ed.missing);
        let p256 = of(&v, "ECDSAP256SHA256");
        assert_eq!(p256.sign_mechanism.as_deref(), Some("CKM_ECDSA_SHA256"));
        assert!(p256.missing.is_empty(), "{:?}", p256.missing);
        // P-384 falls back to raw CKM_ECDSA over a host hash.
        assert_eq!(of(&v, "ECDSAP384SHA384").sign_mechanism.as_deref(), Some("CKM_ECDSA"));
    }

    #[test]
    fn a_mechanism_without_the_sign_flag_is_not_chosen() {
        let v = algorithm_support(&[m(MechanismType::SHA256_RSA_PKCS, 0, 0, false, false), m(MechanismType::RSA_X_509, 0, 0, true, false)]);
        assert_eq!(of(&v, "RSASHA256").sign_mechanism.as_deref(), Some("CKM_RSA_X_509"));
    }

    #[test]
    fn an_unstated_maximum_allows_every_size() {
        let f = m(MechanismType::RSA_PKCS_KEY_PAIR_GEN, 512, 0, false, true);
        assert!(size_allowed(Algorithm::RsaSha256, &f, 4096));
        let f = m(MechanismType::RSA_PKCS_KEY_PAIR_GEN, 1024, 3072, false, true);
        assert!(!size_allowed(Algorithm::RsaSha256, &f, 4096));
        assert!(size_refusal("ksk", Algorithm::RsaSha256, &f, 4096).contains("1024-3072-bit"));
    }
}
