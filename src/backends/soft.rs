//! Software keys, the embedded default backend: private keys held in memory
//! as PKCS#8 and stored on disk only inside age-encrypted key files.
//!
//! Signing uses ring for every algorithm. RSA keys are generated with the
//! `rsa` crate (ring cannot generate RSA keys) and handed to ring as PKCS#8.
//! ECDSA uses ring's `*_FIXED_SIGNING` algorithms, whose output is already the
//! r||s form DNSSEC wants (RFC 6605 §4).
//!
//! Key file format (docs/keystore.md): an age file (binary or armored),
//! encrypted to a passphrase (scrypt) or to X25519 recipients, whose
//! plaintext is one JSON header line and the PKCS#8 DER after it:
//!
//! ```text
//! {"kskit":"soft-key","version":1,"algorithm":"ECDSAP256SHA256","flags":257,"bits":256}\n
//! <PKCS#8 DER bytes>
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use zeroize::Zeroizing;

use super::{BackendError, Signer};
use crate::dnssec::pubkey::rsa_encode;
use crate::dnssec::{Algorithm, Dnskey};
use crate::secrets::Secret;

/// The `kskit` field of a key file header.
const FILE_KIND: &str = "soft-key";
/// The key file format version this code writes and reads.
const FILE_VERSION: u32 = 1;
/// The longest header line accepted (a real one is under 120 bytes).
const MAX_HEADER: usize = 1024;

/// The scrypt work factor (log2 N) of a passphrase-encrypted ZSK file:
/// 2^16, 64 MiB and about 0.2 s per decryption. A ZSK is read by the
/// unattended online signer at every `sign-zone`/`export` run, so age's own
/// calibration (about one second of this machine at encryption time: 2^17
/// on a loaded machine, 2^19 or 2^20 on an idle one, up to 1 GiB) would
/// make every signing run pay that memory and time, and vary with the load
/// of the day the key was made. KSK files, opened at ceremonies only, keep
/// age's calibration. See docs/security.md "Key files".
pub const ZSK_SCRYPT_LOG_N: u8 = 16;

/// How to encrypt a key file: to a passphrase (age scrypt recipient) or to
/// age X25519 recipients (e.g. one per custodian of an offline ceremony).
pub enum KeyEncryption {
    Passphrase(Secret),
    Recipients(Vec<age::x25519::Recipient>),
}

/// How to decrypt a key file: the passphrase or age X25519 identities.
pub enum KeyDecryption {
    Passphrase(Secret),
    Identities(Vec<age::x25519::Identity>),
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A software private key that signs DNSSEC data.
pub struct SoftKey {
    algorithm: Algorithm,
    bits: u32,
    dnskey: Dnskey,
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Pair,
    name: Option<String>,
    /// `pkcs8` locked in RAM; declared after it, so it is unlocked only
    /// once the buffer has been wiped.
    _pkcs8_lock: crate::secrets::MemLock,
}

impl fmt::Debug for SoftKey {
    /// Never prints private material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftKey")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .field("flags", &self.dnskey.flags)
            .field("key_tag", &self.dnskey.key_tag())
            .finish_non_exhaustive()
    }
}

fn err(msg: impl Into<String>) -> BackendError {
    BackendError::Message(msg.into())
}

/// At most this many keys are generated to find one whose key tag is free.
pub const KEY_TAG_TRIES: usize = 32;

use crate::keys::tag_partition::TagPartition;

/// [`generate`], retried until the key tag (and, for a KSK, the tag of its
/// RFC 5011 revoked form) is none of `taken` and the key tag is in
/// `partition` (the side's key-tag partition, Knot's keytag-modulo or
/// BIND's tag-range; `keys::tag_partition`): no two keys of a zone share a
/// key tag (RFC 4034 Appendix B: tags are not unique, and validators then
/// try every key with the tag; KeyTrap, CVE-2023-50387, makes resolvers
/// limit that). Fails after [`KEY_TAG_TRIES`] keys, or with a partition
/// after [`TagPartition::tries`] keys, naming what was sought.
pub fn generate_distinct(alg: Algorithm, bits: Option<u32>, flags: u16, taken: &[u16], partition: &TagPartition) -> Result<SoftKey, BackendError> {
    use crate::backends::Signer as _;
    let tries = partition.tries(KEY_TAG_TRIES);
    for _ in 0..tries {
        let key = generate(alg, bits, flags)?;
        if tag_acceptable(key.dnskey(), taken, partition) {
            return Ok(key);
        }
    }
    Err(err(if partition.is_set() {
        format!("no key with a key tag in the partition ({partition}) and free ({} tags taken) after {tries} tries", taken.len())
    } else {
        format!("no key with a free key tag after {tries} tries ({} tags taken)", taken.len())
    }))
}

/// Whether a new key may be kept: its tag (and a KSK's revoked tag) is
/// none of `taken`, and its tag is in `partition`. Shared by software keys
/// ([`generate_distinct`]) and token keys (`hsm keygen`).
pub fn tag_acceptable(key: &crate::dnssec::Dnskey, taken: &[u16], partition: &TagPartition) -> bool {
    let mut revoked = key.clone();
    revoked.flags |= crate::dnssec::FLAG_REVOKE;
    let sep = key.flags & crate::dnssec::FLAG_SEP != 0;
    !(taken.contains(&key.key_tag()) || sep && taken.contains(&revoked.key_tag())) && partition.contains(key.key_tag())
}

/// Generates a new software key. `bits` is checked with
/// [`Algorithm::check_new_bits`] (RSA 2048/3072/4096; EC and Ed25519 fixed);
/// RSASHA1 and RSASHA1-NSEC3-SHA1 are refused (RFC 8624 §3.1). `flags` are the
/// DNSKEY flags of its role: 257 for a KSK, 256 for a ZSK.
pub fn generate(alg: Algorithm, bits: Option<u32>, flags: u16) -> Result<SoftKey, BackendError> {
    let bits = alg.check_new_bits(bits)?;
    let rng = SystemRandom::new();
    let der: Zeroizing<Vec<u8>> = match alg {
        Algorithm::RsaSha256 | Algorithm::RsaSha512 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits as usize)
                .map_err(|e| err(format!("RSA-{bits} key generation failed: {e}")))?;
            let doc = key.to_pkcs8_der().map_err(|e| err(format!("RSA key export to PKCS#8 failed: {e}")))?;
            Zeroizing::new(doc.as_bytes().to_vec())
        }
        Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 => {
            let doc = EcdsaKeyPair::generate_pkcs8(ecdsa_alg(alg), &rng)
                .map_err(|_| err(format!("{alg} key generation failed")))?;
            Zeroizing::new(doc.as_ref().to_vec())
        }
        Algorithm::Ed25519 => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| err("ED25519 key generation failed"))?;
            Zeroizing::new(doc.as_ref().to_vec())
        }
        Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1 => {
            return Err(crate::dnssec::DnssecError::VerifyOnlyAlgorithm(alg.mnemonic()).into())
        }
    };
    let key = SoftKey::from_pkcs8(alg, flags, &der)?;
    if key.bits != bits {
        return Err(err(format!("generated {alg} key has {} bits, wanted {bits}", key.bits)));
    }
    Ok(key)
}

fn ecdsa_alg(alg: Algorithm) -> &'static signature::EcdsaSigningAlgorithm {
    if alg == Algorithm::EcdsaP384Sha384 {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    } else {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    }
}

/// Bit length of a big-endian unsigned integer.
fn bit_len(b: &[u8]) -> u32 {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    match b.get(i) {
        Some(first) => (b.len() - i) as u32 * 8 - first.leading_zeros(),
        None => 0,
    }
}

impl SoftKey {
    /// Loads a key from PKCS#8 DER (RFC 5958; Ed25519 v1 or v2) for `alg`
    /// with DNSKEY `flags`. A key of another type than `alg` is an error
    /// naming both.
    pub fn from_pkcs8(alg: Algorithm, flags: u16, der: &[u8]) -> Result<SoftKey, BackendError> {
        if !alg.can_sign() {
            return Err(crate::dnssec::DnssecError::VerifyOnlyAlgorithm(alg.mnemonic()).into());
        }
        let mismatch = |why: ring::error::KeyRejected| {
            err(format!("algorithm mismatch or corrupt key: the private key is not a usable {alg} key ({why})"))
        };
        let (pair, public, bits) = match alg {
            Algorithm::RsaSha256 | Algorithm::RsaSha512 | Algorithm::RsaSha1 | Algorithm::RsaSha1Nsec3Sha1 => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(mismatch)?;
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
                let bits = bit_len(&c.n);
                (Pair::Rsa(kp), rsa_encode(&c.e, &c.n), bits)
            }
            Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 => {
                let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(alg), der, &SystemRandom::new()).map_err(mismatch)?;
                // ring gives the uncompressed point 0x04||x||y; DNSKEY has x||y (RFC 6605 §4).
                let point = kp.public_key().as_ref();
                let xy = match point.split_first() {
                    Some((4, xy)) => xy.to_vec(),
                    _ => return Err(err(format!("{alg} public key is not an uncompressed point"))),
                };
                (Pair::Ecdsa(kp), xy, alg.fixed_bits().unwrap_or(0))
            }
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(mismatch)?;
                let pk = kp.public_key().as_ref().to_vec();
                (Pair::Ed25519(kp), pk, 256)
            }
        };
        let pkcs8 = Zeroizing::new(der.to_vec());
        let _pkcs8_lock = crate::secrets::MemLock::new(&pkcs8);
        Ok(SoftKey { algorithm: alg, bits, dnskey: Dnskey::new(flags, alg, public), pkcs8, pair, name: None, _pkcs8_lock })
    }

    /// An Ed25519 key from its 32-byte private seed (RFC 8032 §5.1.5), as
    /// BIND's `PrivateKey:` field and RFC 8080 §6 give it. Stored as PKCS#8 v1.
    pub fn ed25519_from_seed(seed: &[u8], flags: u16) -> Result<SoftKey, BackendError> {
        if seed.len() != 32 {
            return Err(err(format!("an Ed25519 private key is 32 bytes, found {}", seed.len())));
        }
        // PKCS#8 v1 PrivateKeyInfo for id-Ed25519 (RFC 8410 §7).
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ]);
        der.extend_from_slice(seed);
        SoftKey::from_pkcs8(Algorithm::Ed25519, flags, &der)
    }

    /// The private key as PKCS#8 DER. The buffer is wiped when the key is dropped.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Key size in bits (RSA modulus length, curve size for EC/EdDSA).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The DNSKEY flags this key signs under.
    pub fn flags(&self) -> u16 {
        self.dnskey.flags
    }

    /// The same key with other DNSKEY flags (e.g. the REVOKE bit, RFC 5011 §7),
    /// which changes its DNSKEY record and key tag.
    pub fn with_flags(mut self, flags: u16) -> SoftKey {
        self.dnskey.flags = flags;
        self
    }

    /// Names the key for [`Signer::describe`] (the keystore sets its key id).
    pub fn with_name(mut self, name: impl Into<String>) -> SoftKey {
        self.name = Some(name.into());
        self
    }
}

impl Signer for SoftKey {
    fn dnskey(&self) -> &Dnskey {
        &self.dnskey
    }

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BackendError> {
        let rng = SystemRandom::new();
        let alg = self.algorithm;
        match &self.pair {
            Pair::Rsa(kp) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    Algorithm::RsaSha256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RsaSha512 => &signature::RSA_PKCS1_SHA512,
                    _ => return Err(crate::dnssec::DnssecError::VerifyOnlyAlgorithm(alg.mnemonic()).into()),
                };
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(padding, &rng, data, &mut sig).map_err(|_| err(format!("{alg} signing failed")))?;
                Ok(sig)
            }
            Pair::Ecdsa(kp) => {
                let sig = kp.sign(&rng, data).map_err(|_| err(format!("{alg} signing failed")))?;
                Ok(sig.as_ref().to_vec())
            }
            Pair::Ed25519(kp) => Ok(kp.sign(data).as_ref().to_vec()),
        }
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("soft:{n}"),
            None => format!("soft:{}/{}", self.algorithm, self.dnskey.key_tag()),
        }
    }
}

/// The JSON header line inside a key file's encrypted payload.
#[derive(serde::Serialize, serde::Deserialize)]
struct FileHeader {
    kskit: String,
    version: u32,
    algorithm: Algorithm,
    flags: u16,
    bits: u32,
}

/// Encrypts `key` into the bytes of a key file (binary age format). The
/// plaintext (header line + PKCS#8) only exists in zeroizing memory.
pub fn encrypt_key(key: &SoftKey, enc: &KeyEncryption) -> Result<Vec<u8>, BackendError> {
    let header = FileHeader {
        kskit: FILE_KIND.to_string(),
        version: FILE_VERSION,
        algorithm: key.algorithm,
        flags: key.flags(),
        bits: key.bits,
    };
    let mut plain = Zeroizing::new(
        serde_json::to_vec(&header).map_err(|e| err(format!("cannot encode key file header: {e}")))?,
    );
    plain.push(b'\n');
    plain.extend_from_slice(key.pkcs8());

    let encryptor = match enc {
        KeyEncryption::Passphrase(p) => {
            if p.is_empty() {
                return Err(err("an empty passphrase is refused"));
            }
            let mut r = age::scrypt::Recipient::new(age::secrecy::SecretString::from(p.as_str().to_owned()));
            if key.flags() & crate::dnssec::FLAG_SEP == 0 {
                r.set_work_factor(ZSK_SCRYPT_LOG_N);
            }
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| err(format!("cannot encrypt to the passphrase: {e}")))?
        }
        KeyEncryption::Recipients(rs) => {
            if rs.is_empty() {
                return Err(err("no age recipients given to encrypt the key to"));
            }
            age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| err(format!("cannot encrypt to the age recipients: {e}")))?
        }
    };
    let mut out = Vec::with_capacity(plain.len() + 512);
    let ioe = |e: std::io::Error| err(format!("key encryption failed: {e}"));
    let mut w = encryptor.wrap_output(&mut out).map_err(ioe)?;
    w.write_all(&plain).map_err(ioe)?;
    w.finish().map_err(ioe)?;
    Ok(out)
}

/// Decrypts key file bytes (see [`decrypt_key_file`] for errors naming the file).
pub fn decrypt_key(data: &[u8], dec: &KeyDecryption) -> Result<SoftKey, BackendError> {
    decrypt_named(data, dec, "key data")
}

/// Reads and decrypts the key file at `path`; every error names the file.
pub fn decrypt_key_file(path: &Path, dec: &KeyDecryption) -> Result<SoftKey, BackendError> {
    let data = std::fs::read(path).map_err(|e| err(format!("cannot read key file {}: {e}", path.display())))?;
    decrypt_named(&data, dec, &format!("key file {}", path.display()))
}

/// What a non-age file looks like, for the "foreign key file" error.
fn foreign_hint(data: &[u8]) -> &'static str {
    let head = data.get(..64).unwrap_or(data);
    let starts = |p: &[u8]| head.starts_with(p);
    if starts(b"-----BEGIN") {
        "it is a PEM file, not an age-encrypted kskit key"
    } else if starts(b"Private-key-format:") {
        "it is a BIND private key file"
    } else if starts(b"{") {
        "it looks like JSON, not an age-encrypted kskit key"
    } else if data.is_empty() {
        "it is empty"
    } else {
        "it is not age-encrypted"
    }
}

fn decrypt_named(data: &[u8], dec: &KeyDecryption, what: &str) -> Result<SoftKey, BackendError> {
    let is_age = data.starts_with(b"age-encryption.org/") || data.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
    if !is_age {
        return Err(err(format!("foreign key file: {what} is not a kskit key file ({})", foreign_hint(data))));
    }
    let corrupt = |detail: String| err(format!("{what} is truncated or corrupt ({detail})"));
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data)).map_err(|e| match e {
        age::DecryptError::UnknownFormat => err(format!("{what} uses an age format version this kskit does not know")),
        e => corrupt(format!("age header: {e}")),
    })?;
    let scrypt = decryptor.is_scrypt();
    let reader = match dec {
        KeyDecryption::Passphrase(p) => {
            if !scrypt {
                return Err(err(format!(
                    "{what} is encrypted to age recipients, not to a passphrase: give an age identity file"
                )));
            }
            let mut id = age::scrypt::Identity::new(age::secrecy::SecretString::from(p.as_str().to_owned()));
            // age caps the work factor it will do by timing this machine now;
            // under load (parallel tests, a busy ceremony laptop) that cap fell
            // below the factor age itself chose when the key was written
            // (2^19 here), and kskit's own keys were refused. A fixed cap of
            // 2^22 (4 GiB of scrypt memory, age's usual cap on these machines)
            // keeps hostile files bounded without depending on the load.
            id.set_max_work_factor(22);
            decryptor.decrypt(std::iter::once(&id as &dyn age::Identity)).map_err(|e| match e {
                age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                    err(format!("wrong passphrase for {what}"))
                }
                age::DecryptError::ExcessiveWork { required, target } => err(format!(
                    "{what} asks for scrypt work factor 2^{required}, far above this machine's 2^{target}: refused"
                )),
                e => corrupt(e.to_string()),
            })?
        }
        KeyDecryption::Identities(ids) => {
            if scrypt {
                return Err(err(format!("{what} is passphrase-encrypted: give the passphrase, not age identities")));
            }
            decryptor.decrypt(ids.iter().map(|i| i as &dyn age::Identity)).map_err(|e| match e {
                age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                    err(format!("none of the given age identities can open {what}"))
                }
                e => corrupt(e.to_string()),
            })?
        }
    };
    // The decrypted payload (header line + PKCS#8), locked in RAM while it
    // exists; a key file is far below 4096 bytes, so the buffer is not
    // reallocated (which would leave an unwiped copy behind).
    let mut plain = Zeroizing::new(vec![0u8; 4096]);
    let plain_lock = crate::secrets::MemLock::new(&plain);
    plain.clear();
    let mut reader = reader;
    reader.read_to_end(&mut plain).map_err(|e| corrupt(format!("encrypted payload: {e}")))?;
    let key = parse_payload(&plain, what);
    drop(plain);
    drop(plain_lock);
    key
}

/// Parses the decrypted payload: header line, then PKCS#8 DER.
fn parse_payload(plain: &[u8], what: &str) -> Result<SoftKey, BackendError> {
    let foreign = || err(format!("foreign key file: {what} is age-encrypted but holds no kskit key"));
    let nl = plain.iter().take(MAX_HEADER).position(|b| *b == b'\n').ok_or_else(foreign)?;
    let (line, rest) = plain.split_at(nl);
    let der = rest.get(1..).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|_| foreign())?;
    if value.get("kskit").and_then(|v| v.as_str()) != Some(FILE_KIND) {
        return Err(foreign());
    }
    if let Some(v) = value.get("version").and_then(|v| v.as_u64()) {
        if v != FILE_VERSION as u64 {
            return Err(err(format!("{what} has key file version {v}; this kskit reads version {FILE_VERSION}")));
        }
    }
    let header: FileHeader =
        serde_json::from_value(value).map_err(|e| err(format!("{what} has a bad key file header: {e}")))?;
    if der.is_empty() {
        return Err(err(format!("{what} is truncated or corrupt (no key data after the header)")));
    }
    let key = SoftKey::from_pkcs8(header.algorithm, header.flags, der)
        .map_err(|e| err(format!("{what}: {e}")))?;
    if key.bits != header.bits {
        return Err(err(format!(
            "{what}: algorithm mismatch: the header says {}-bit {} but the key has {} bits",
            header.bits, header.algorithm, key.bits
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signs_and_verifies() {
        let k = generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
        assert_eq!(k.dnskey().public_key.len(), 64);
        let sig = k.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        crate::dnssec::verify::verify_raw(k.dnskey(), b"hello", &sig).unwrap();
        assert!(crate::dnssec::verify::verify_raw(k.dnskey(), b"hellO", &sig).is_err());
    }

    /// The scrypt stanza's work factor (`-> scrypt SALT LOG_N`) of an age file.
    fn scrypt_log_n(file: &[u8]) -> u8 {
        let text = String::from_utf8_lossy(&file[..file.len().min(200)]).into_owned();
        let line = text.lines().find(|l| l.starts_with("-> scrypt ")).expect("a scrypt stanza");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn zsk_files_use_the_fixed_scrypt_work_factor_and_still_open() {
        let pass = || KeyEncryption::Passphrase(Secret::new("a passphrase".into()));
        let zsk = generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
        let file = encrypt_key(&zsk, &pass()).unwrap();
        assert_eq!(scrypt_log_n(&file), ZSK_SCRYPT_LOG_N);
        let back = decrypt_key(&file, &KeyDecryption::Passphrase(Secret::new("a passphrase".into()))).unwrap();
        assert_eq!(back.dnskey(), zsk.dnskey());
        // A KSK keeps age's calibration (about a second of this machine),
        // which is never below 2^10 even on a very slow one.
        let ksk = generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
        let ksk_file = encrypt_key(&ksk, &pass()).unwrap();
        assert!(scrypt_log_n(&ksk_file) >= 10);
    }

    #[test]
    fn refuses_sha1_and_bad_sizes() {
        assert!(generate(Algorithm::RsaSha1, Some(2048), 257).is_err());
        assert!(generate(Algorithm::RsaSha256, Some(1024), 257).is_err());
        assert!(generate(Algorithm::EcdsaP256Sha256, Some(384), 257).is_err());
    }

    #[test]
    fn pkcs8_of_another_algorithm_is_a_mismatch() {
        let k = generate(Algorithm::EcdsaP384Sha384, None, 256).unwrap();
        let e = SoftKey::from_pkcs8(Algorithm::EcdsaP256Sha256, 256, k.pkcs8()).unwrap_err().to_string();
        assert!(e.contains("algorithm mismatch"), "{e}");
        let e = SoftKey::from_pkcs8(Algorithm::Ed25519, 256, k.pkcs8()).unwrap_err().to_string();
        assert!(e.contains("algorithm mismatch"), "{e}");
    }

    #[test]
    fn payload_rejects_foreign_content() {
        assert!(parse_payload(b"hello world", "x").unwrap_err().to_string().contains("foreign key file"));
        assert!(parse_payload(b"{\"kskit\":\"other\"}\n\x30", "x").unwrap_err().to_string().contains("foreign"));
        let e = parse_payload(b"{\"kskit\":\"soft-key\",\"version\":9}\n\x30", "x").unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn generate_distinct_avoids_taken_tags_and_gives_up_when_all_are_taken() {
        use crate::backends::Signer as _;
        let first = super::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
        let taken = vec![first.dnskey().key_tag()];
        let k = super::generate_distinct(Algorithm::EcdsaP256Sha256, None, 257, &taken, &TagPartition::default()).unwrap();
        assert!(!taken.contains(&k.dnskey().key_tag()));
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let Err(e) = super::generate_distinct(Algorithm::EcdsaP256Sha256, None, 257, &all, &TagPartition::default()) else { panic!("a key with a free tag among none") };
        assert!(e.to_string().contains("free key tag"), "{e}");
    }

    #[test]
    fn generate_distinct_keeps_only_keys_in_the_partition() {
        use crate::backends::Signer as _;
        use crate::keys::tag_partition::{TagRange, KeytagModulo};
        let odd = TagPartition::new(Some("1/2".parse::<KeytagModulo>().unwrap()), None);
        let high = TagPartition::new(Some("3/4".parse::<KeytagModulo>().unwrap()), Some(TagRange { min: 32768, max: 65535 }));
        for p in [odd, high] {
            for _ in 0..8 {
                let k = super::generate_distinct(Algorithm::EcdsaP256Sha256, None, 256, &[], &p).unwrap();
                assert!(p.contains(k.dnskey().key_tag()), "{} not in {p}", k.dnskey().key_tag());
            }
        }
        // every tag of the partition taken: gives up naming the partition
        let taken: Vec<u16> = (0..=u16::MAX).filter(|t| odd.contains(*t)).collect();
        let Err(e) = super::generate_distinct(Algorithm::EcdsaP256Sha256, None, 256, &taken, &odd) else { panic!("a key in a full partition") };
        assert!(e.to_string().contains("keytag_modulo \"1/2\"") && e.to_string().contains("64 tries"), "{e}");
    }
}
