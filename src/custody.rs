//! Key custody (docs/ceremony.md, "Custody"): backups of software keys to
//! several custodians' age X25519 recipients (any one can restore), M-of-N
//! Shamir splits, and putting a key back into the keystore.
//!
//! The **backup payload** is one JSON header line naming the key (its
//! keystore record, public data only) followed by the PKCS#8 DER:
//!
//! ```text
//! {"kskit":"key-backup","version":1,"key":{...KeyMeta...}}\n<PKCS#8 DER>
//! ```
//!
//! A backup file is that payload age-encrypted (armored) to the recipients.
//! A split encrypts the payload once with ChaCha20-Poly1305 under a fresh
//! random 256-bit data key, and splits only the data key with Shamir's scheme
//! over GF(256) (the `sharks` crate). Each share file carries its share of
//! the data key, the encrypted payload, and the SHA-256 of the data key, so a
//! wrong or mixed combination is detected (never a silent garbage key).
//! Splitting a uniformly random key, not the key file itself, also confines
//! the small bias of `sharks`' coefficient sampling (it never picks 0) to a
//! negligible leak about a random key that protects nothing without the
//! ciphertext's authentication tag.

use std::io::{Read, Write};

use data_encoding::BASE64;
use ring::aead::{self, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::backends::soft::{encrypt_key, KeyEncryption, SoftKey};
use crate::backends::{BackendError, Signer};
use crate::keys::fsutil::{self, MODE_SECRET};
use crate::keys::keystore::{KeyMeta, Keystore, KeystoreError, FILE_LOCATOR, PRIVATE_DIR};

const BACKUP_KIND: &str = "key-backup";
const SHARE_KIND: &str = "key-share";
const VERSION: u32 = 1;
/// The longest header line accepted.
const MAX_HEADER: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Crypto(String),
    #[error("not enough shares: this key was split {threshold}-of-{shares}, so {threshold} different shares are needed; {given} given")]
    NotEnoughShares {
        threshold: u8,
        shares: u8,
        given: usize,
    },
    #[error("the shares do not combine to the key they were split from (wrong, corrupt or mixed shares): nothing restored")]
    WrongCombination,
    #[error("key {id} (key tag {tag}, {zone}) is already in the keystore{detail}: refusing to restore a duplicate")]
    Duplicate {
        id: String,
        tag: u16,
        zone: String,
        detail: String,
    },
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn invalid(msg: impl Into<String>) -> CustodyError {
    CustodyError::Invalid(msg.into())
}

#[derive(Serialize, Deserialize)]
struct BackupHeader {
    kskit: String,
    version: u32,
    key: KeyMeta,
}

/// The backup payload of a software key (zeroized on drop).
pub fn backup_payload(meta: &KeyMeta, key: &SoftKey) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
    check_matches(meta, key)?;
    let header = BackupHeader {
        kskit: BACKUP_KIND.into(),
        version: VERSION,
        key: meta.clone(),
    };
    let mut out = Zeroizing::new(
        serde_json::to_vec(&header)
            .map_err(|e| invalid(format!("cannot encode the backup header: {e}")))?,
    );
    out.push(b'\n');
    out.extend_from_slice(key.pkcs8());
    Ok(out)
}

/// Checks that `key` is the key `meta` describes (algorithm and public key).
fn check_matches(meta: &KeyMeta, key: &SoftKey) -> Result<(), CustodyError> {
    let want = meta.dnskey()?;
    if key.algorithm() != meta.algorithm || key.dnskey().public_key != want.public_key {
        return Err(invalid(format!(
            "the private key does not match the record of key {} (key tag {})",
            meta.id, meta.key_tag
        )));
    }
    Ok(())
}

/// Parses a backup payload and checks the key against its record.
pub fn parse_payload(plain: &[u8]) -> Result<(KeyMeta, SoftKey), CustodyError> {
    let foreign = || invalid("not a kskit key backup (no key-backup header)");
    let nl = plain
        .iter()
        .take(MAX_HEADER)
        .position(|b| *b == b'\n')
        .ok_or_else(foreign)?;
    let (line, rest) = plain.split_at(nl);
    let der = rest.get(1..).unwrap_or_default();
    let h: BackupHeader = serde_json::from_slice(line).map_err(|_| foreign())?;
    if h.kskit != BACKUP_KIND {
        return Err(foreign());
    }
    if h.version != VERSION {
        return Err(invalid(format!(
            "key backup version {} (this kskit reads version {VERSION})",
            h.version
        )));
    }
    h.key.check()?;
    let key = SoftKey::from_pkcs8(h.key.algorithm, h.key.flags, der)?.with_name(h.key.id.clone());
    check_matches(&h.key, &key)?;
    Ok((h.key, key))
}

/// Age-encrypts (armored) `data` to `recipients`: any one of them can decrypt.
pub fn encrypt_to(
    data: &[u8],
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>, CustodyError> {
    if recipients.is_empty() {
        return Err(invalid("no age recipient given"));
    }
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| CustodyError::Crypto(format!("cannot encrypt to the age recipients: {e}")))?;
    let mut out = Vec::new();
    let ioe = |e: std::io::Error| CustodyError::Crypto(format!("age encryption failed: {e}"));
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(ioe)?;
    let mut w = enc.wrap_output(armor).map_err(ioe)?;
    w.write_all(data).map_err(ioe)?;
    w.finish().and_then(|a| a.finish()).map_err(ioe)?;
    Ok(out)
}

/// Whether `data` is an age file (binary or armored).
pub fn is_age(data: &[u8]) -> bool {
    data.starts_with(b"age-encryption.org/")
        || data.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// Decrypts an age file with X25519 identities; `what` names it in errors.
pub fn decrypt_with(
    data: &[u8],
    identities: &[age::x25519::Identity],
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
    if !is_age(data) {
        return Err(invalid(format!("{what} is not age-encrypted")));
    }
    let d = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data))
        .map_err(|e| CustodyError::Crypto(format!("{what} is corrupt or not an age file: {e}")))?;
    if d.is_scrypt() {
        return Err(invalid(format!(
            "{what} is passphrase-encrypted; custody files are encrypted to age X25519 recipients"
        )));
    }
    let mut r = d
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                CustodyError::Crypto(format!("none of the given age identities can open {what}"))
            }
            e => CustodyError::Crypto(format!("{what}: {e}")),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    r.read_to_end(&mut plain)
        .map_err(|e| CustodyError::Crypto(format!("{what} is truncated or corrupt: {e}")))?;
    Ok(plain)
}

/// A backup file: the payload encrypted to every custodian's recipient.
pub fn backup(
    meta: &KeyMeta,
    key: &SoftKey,
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>, CustodyError> {
    encrypt_to(&backup_payload(meta, key)?, recipients)
}

/// Opens a backup file with one custodian's identities.
pub fn open_backup(
    data: &[u8],
    identities: &[age::x25519::Identity],
) -> Result<(KeyMeta, SoftKey), CustodyError> {
    parse_payload(&decrypt_with(data, identities, "the backup file")?)
}

/// Adds a restored key to the keystore under its original id, encrypted
/// with `enc`. Refuses a duplicate: the same id, or the same public key for
/// the same zone already recorded (software or token). Like
/// [`Keystore::store_soft_key`], the key file is written before the record.
pub fn restore_into(
    ks: &mut Keystore,
    meta: &KeyMeta,
    key: &SoftKey,
    enc: &KeyEncryption,
) -> Result<KeyMeta, CustodyError> {
    check_matches(meta, key)?;
    let dup = |other: &KeyMeta, detail: &str| CustodyError::Duplicate {
        id: other.id.clone(),
        tag: other.key_tag,
        zone: other.zone.clone(),
        detail: detail.to_string(),
    };
    if let Some(k) = ks.get(&meta.id) {
        return Err(dup(k, ""));
    }
    if let Some(k) = ks
        .keys()
        .iter()
        .find(|k| k.zone.eq_ignore_ascii_case(&meta.zone) && k.public_key == meta.public_key)
    {
        return Err(dup(k, &format!(" as {} at {}", k.id, k.locator)));
    }
    let mut m = meta.clone();
    m.locator = format!("{FILE_LOCATOR}{PRIVATE_DIR}/{}.age", m.id);
    m.check()?;
    let path = ks.private_path(&m.id);
    if path.exists() {
        return Err(invalid(format!(
            "{} already exists although no key record names it: move it away first",
            path.display()
        )));
    }
    let data = encrypt_key(key, enc)?;
    let private = ks.dir().join(PRIVATE_DIR);
    let ioerr = |p: &std::path::Path, e: std::io::Error| {
        CustodyError::Keystore(KeystoreError::Io {
            path: p.to_path_buf(),
            source: e,
        })
    };
    if !private.is_dir() {
        fsutil::create_dir_with_mode(&private, 0o700).map_err(|e| ioerr(&private, e))?;
    }
    fsutil::write_atomic(&path, &data, MODE_SECRET).map_err(|e| ioerr(&path, e))?;
    if let Err(e) = ks.add(m.clone()) {
        let _ = std::fs::remove_file(&path);
        return Err(e.into());
    }
    Ok(m)
}

/// One share file's content (before optional age encryption to its custodian).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShareFile {
    pub kskit: String,
    pub version: u32,
    /// The same random id in every share of one split.
    pub split_id: String,
    pub key_id: String,
    pub zone: String,
    pub key_tag: u16,
    pub threshold: u8,
    pub shares: u8,
    /// This share's number (the Shamir x coordinate), 1..=shares.
    pub index: u8,
    /// SHA-256 (uppercase hex) of the data key: detects a wrong combination.
    pub secret_sha256: String,
    /// This share of the data key (sharks encoding: x then y), base64.
    pub share: String,
    /// The backup payload encrypted with ChaCha20-Poly1305 under the data key (nonce 0, key used once), base64.
    pub ciphertext: String,
}

fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, CustodyError> {
    let mut b = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(b.as_mut())
        .map_err(|_| CustodyError::Crypto("no system randomness".into()))?;
    Ok(b)
}

fn aead_key(k: &[u8]) -> Result<LessSafeKey, CustodyError> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, k)
            .map_err(|_| CustodyError::Crypto("bad data key length".into()))?,
    ))
}

/// The associated data binding the ciphertext to its split.
fn aad(split_id: &str, key_id: &str, threshold: u8, shares: u8) -> Vec<u8> {
    format!("kskit key-share v1|{split_id}|{key_id}|{threshold}|{shares}").into_bytes()
}

/// Splits a software key `threshold`-of-`shares` (2 <= threshold <= shares <= 255).
pub fn split(
    meta: &KeyMeta,
    key: &SoftKey,
    threshold: u8,
    shares: u8,
) -> Result<Vec<ShareFile>, CustodyError> {
    if threshold < 2 || threshold > shares {
        return Err(invalid(format!(
            "a {threshold}-of-{shares} split is not possible: need 2 <= threshold <= shares (use `kskit key backup` for 1-of-N)"
        )));
    }
    let payload = backup_payload(meta, key)?;
    let data_key = random_bytes::<32>()?;
    let split_id = uuid::Uuid::new_v4().to_string();
    let mut ct = payload.to_vec();
    aead_key(data_key.as_ref())?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0u8; 12]),
            aead::Aad::from(aad(&split_id, &meta.id, threshold, shares)),
            &mut ct,
        )
        .map_err(|_| CustodyError::Crypto("encryption failed".into()))?;
    let ciphertext = BASE64.encode(&ct);
    let secret_sha256 = data_encoding::HEXUPPER.encode(&Sha256::digest(&data_key[..]));
    let dealer = sharks::Sharks(threshold).dealer(data_key.as_ref());
    let out: Vec<ShareFile> = dealer
        .take(shares as usize)
        .map(|s| {
            let bytes = Zeroizing::new(Vec::from(&s));
            ShareFile {
                kskit: SHARE_KIND.into(),
                version: VERSION,
                split_id: split_id.clone(),
                key_id: meta.id.clone(),
                zone: meta.zone.clone(),
                key_tag: meta.key_tag,
                threshold,
                shares,
                index: bytes.first().copied().unwrap_or(0),
                secret_sha256: secret_sha256.clone(),
                share: BASE64.encode(&bytes),
                ciphertext: ciphertext.clone(),
            }
        })
        .collect();
    if out.len() != shares as usize {
        return Err(CustodyError::Crypto(
            "the share dealer produced too few shares".into(),
        ));
    }
    Ok(out)
}

/// Parses a share file's plaintext (JSON).
pub fn parse_share(data: &[u8], what: &str) -> Result<ShareFile, CustodyError> {
    let s: ShareFile = serde_json::from_slice(data)
        .map_err(|e| invalid(format!("{what} is not a kskit key share: {e}")))?;
    if s.kskit != SHARE_KIND || s.version != VERSION {
        return Err(invalid(format!(
            "{what} is not a version {VERSION} kskit key share"
        )));
    }
    Ok(s)
}

/// Recombines a key from shares of one split: all must agree on the split,
/// at least `threshold` different shares are needed, and the result must
/// hash to the recorded SHA-256 and decrypt the payload (authenticated).
pub fn combine(shares: &[ShareFile]) -> Result<(KeyMeta, SoftKey), CustodyError> {
    let first = shares.first().ok_or_else(|| invalid("no shares given"))?;
    for s in shares {
        if (
            &s.split_id,
            &s.key_id,
            s.threshold,
            s.shares,
            &s.secret_sha256,
            &s.ciphertext,
        ) != (
            &first.split_id,
            &first.key_id,
            first.threshold,
            first.shares,
            &first.secret_sha256,
            &first.ciphertext,
        ) {
            return Err(invalid(format!(
                "share {} (key {}, split {}) is not from the same split as share {} (key {}, split {}): mixed shares",
                s.index, s.key_id, s.split_id, first.index, first.key_id, first.split_id
            )));
        }
    }
    let mut parsed: Vec<sharks::Share> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in shares {
        let bytes = Zeroizing::new(
            BASE64
                .decode(s.share.as_bytes())
                .map_err(|_| invalid(format!("share {}: the share is not base64", s.index)))?,
        );
        let sh = sharks::Share::try_from(bytes.as_slice())
            .map_err(|e| invalid(format!("share {}: {e}", s.index)))?;
        if bytes.first().copied() != Some(s.index) || s.index == 0 {
            return Err(invalid(format!(
                "share {}: its index does not match its content",
                s.index
            )));
        }
        // The same share given twice counts once.
        if seen.insert(s.index) {
            parsed.push(sh);
        }
    }
    if parsed.len() < first.threshold as usize {
        return Err(CustodyError::NotEnoughShares {
            threshold: first.threshold,
            shares: first.shares,
            given: parsed.len(),
        });
    }
    let data_key = Zeroizing::new(
        sharks::Sharks(first.threshold)
            .recover(parsed.iter())
            .map_err(|e| invalid(format!("cannot combine: {e}")))?,
    );
    if data_key.len() != 32
        || data_encoding::HEXUPPER.encode(&Sha256::digest(data_key.as_slice()))
            != first.secret_sha256
    {
        return Err(CustodyError::WrongCombination);
    }
    let mut ct = Zeroizing::new(
        BASE64
            .decode(first.ciphertext.as_bytes())
            .map_err(|_| invalid("the ciphertext is not base64"))?,
    );
    let plain = aead_key(&data_key)?
        .open_in_place(
            Nonce::assume_unique_for_key([0u8; 12]),
            aead::Aad::from(aad(
                &first.split_id,
                &first.key_id,
                first.threshold,
                first.shares,
            )),
            ct.as_mut_slice(),
        )
        .map_err(|_| CustodyError::WrongCombination)?;
    let (meta, key) = parse_payload(plain)?;
    if meta.id != first.key_id {
        return Err(CustodyError::WrongCombination);
    }
    Ok((meta, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::keystore::Role;

    fn key_and_meta(dir: &std::path::Path) -> (Keystore, KeyMeta) {
        let mut ks = Keystore::init(dir).unwrap();
        let key = crate::backends::soft::generate(
            crate::dnssec::Algorithm::Ed25519,
            None,
            Role::Ksk.flags(),
        )
        .unwrap();
        let enc = KeyEncryption::Passphrase(crate::secrets::Secret::new("pw".into()));
        let zone = crate::dnssec::parse_name("example.").unwrap();
        let meta = ks
            .store_soft_key(
                &key,
                &zone,
                Role::Ksk,
                &enc,
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
        (ks, meta)
    }

    #[test]
    fn split_combine_every_subset() {
        let d = tempfile::tempdir().unwrap();
        let (ks, meta) = key_and_meta(&d.path().join("ks"));
        let key = ks
            .load_soft_key(
                &meta,
                &crate::backends::soft::KeyDecryption::Passphrase(crate::secrets::Secret::new("pw".into())),
            )
            .unwrap();
        let shares = split(&meta, &key, 3, 5).unwrap();
        for a in 0..5 {
            for b in a + 1..5 {
                let two = [shares[a].clone(), shares[b].clone()];
                assert!(matches!(
                    combine(&two),
                    Err(CustodyError::NotEnoughShares { .. })
                ));
                for c in b + 1..5 {
                    let (m, k) =
                        combine(&[shares[a].clone(), shares[b].clone(), shares[c].clone()])
                            .unwrap();
                    assert_eq!(m.id, meta.id);
                    assert_eq!(k.pkcs8(), key.pkcs8());
                }
            }
        }
        // A corrupted share is a wrong combination, not a garbage key.
        let mut bad = shares[0].clone();
        let mut b = BASE64.decode(bad.share.as_bytes()).unwrap();
        b[5] ^= 1;
        bad.share = BASE64.encode(&b);
        assert!(matches!(
            combine(&[bad, shares[1].clone(), shares[2].clone()]),
            Err(CustodyError::WrongCombination)
        ));
        // Shares of two different splits are refused.
        let other = split(&meta, &key, 3, 5).unwrap();
        assert!(combine(&[shares[0].clone(), shares[1].clone(), other[2].clone()]).is_err());
    }
}
