//! The keystore directory (docs/keystore.md):
//!
//! ```text
//! keystore/
//!   keys.json          key metadata (public), written atomically
//!   private/<id>.age   age-encrypted software keys, mode 0600
//!   skr/               imported SKRs (the SKR timeline, `super::skr_store`)
//!   .lock              the advisory lock of every write (`super::lock`)
//! ```
//!
//! Concurrency: every write happens under the keystore lock. A keystore
//! opened with [`Keystore::open_locked`] holds it until dropped, so a
//! command's whole read-modify-write sequence is one critical section; on a
//! keystore opened without it, [`Keystore::add`] and [`Keystore::update`]
//! take the lock, re-read keys.json, apply the change and save, so no
//! concurrent update is lost.
//!
//! Crash safety: a private key file is written (atomically) before the
//! metadata that names it, and keys.json is only ever replaced by rename, so
//! after a crash at any point keys.json holds the old or the new state; stale
//! temp files are removed when the keystore is opened.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::fsutil::{self, MODE_PUBLIC, MODE_SECRET};
use super::lock::KeystoreLock;
use crate::backends::soft::{self, KeyDecryption, KeyEncryption, SoftKey};
use crate::backends::{BackendError, Signer};
use crate::dnssec::name::to_presentation;
use crate::dnssec::rdata::{FLAG_REVOKE, FLAG_SEP, FLAG_ZONE};
use crate::dnssec::{Algorithm, DnssecError, Dnskey, Name};

/// The metadata file in the keystore directory.
pub const INDEX_FILE: &str = "keys.json";
/// The directory of software key files.
pub const PRIVATE_DIR: &str = "private";
/// The directory of imported SKRs.
pub const SKR_DIR: &str = "skr";
/// Version of the keys.json format.
const INDEX_VERSION: u32 = 1;
/// Locator prefix for software key files.
pub const FILE_LOCATOR: &str = "file:";

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("no keystore at {0}: run `kskit init`")]
    Missing(PathBuf),
    #[error("a keystore already exists at {0}")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid keystore index: {msg}")]
    BadIndex { path: PathBuf, msg: String },
    #[error("key id {0:?} is already in the keystore")]
    DuplicateId(String),
    #[error("no key with id {0:?} in the keystore")]
    UnknownId(String),
    #[error("no key matches {reference:?}; keys: {known}")]
    NoMatch { reference: String, known: String },
    #[error("{reference:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous { reference: String, candidates: Vec<String> },
    #[error("key {id}: {msg}")]
    BadMeta { id: String, msg: String },
    #[error("key {id} is not a software key (it lives at {locator})")]
    NotSoft { id: String, locator: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Dnssec(#[from] DnssecError),
}

/// A key's role in its zone.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ksk,
    Zsk,
    Csk,
}

impl Role {
    /// The DNSKEY flags of a key in this role: Zone Key, plus SEP for keys
    /// that the parent's DS points at (RFC 4034 §2.1.1, RFC 3757): 257 for
    /// KSK and CSK, 256 for ZSK.
    pub fn flags(self) -> u16 {
        match self {
            Role::Ksk | Role::Csk => FLAG_ZONE | FLAG_SEP,
            Role::Zsk => FLAG_ZONE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
            Role::Csk => "csk",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ksk" => Ok(Role::Ksk),
            "zsk" => Ok(Role::Zsk),
            "csk" => Ok(Role::Csk),
            other => Err(format!("unknown key role {other:?} (use ksk, zsk or csk)")),
        }
    }
}

/// Key timing parameters of RFC 7583 §3.3 (absent = not scheduled).
#[derive(Serialize, Deserialize, Clone, Default, Debug, PartialEq)]
pub struct KeyTiming {
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub publish: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub active: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub retire: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub remove: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoke: Option<OffsetDateTime>,
}

/// What the keystore records about one key (no private material).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KeyMeta {
    pub id: String,
    /// Absolute zone name with trailing dot, lowercase.
    pub zone: String,
    pub role: Role,
    pub algorithm: Algorithm,
    pub bits: u32,
    pub key_tag: u16,
    pub flags: u16,
    /// The DNSKEY public key field, base64.
    pub public_key: String,
    /// `file:private/<id>.age` (relative to the keystore directory) or a
    /// PKCS#11 URI without any pin-value.
    pub locator: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub timing: KeyTiming,
    #[serde(default)]
    pub label: Option<String>,
    /// A standby KSK (policy `standby_ksk`): published and self-signing,
    /// taken into use by `kskit rollover emergency` (docs/rollover.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
    /// Declared lost or compromised by `kskit rollover emergency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<Lost>,
}

/// Why a KSK is out of use (`kskit rollover emergency`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LossCause {
    /// The private key is gone (a melted smartcard): it cannot sign again,
    /// not even its own revocation.
    Lost,
    /// The private key leaked but is still held here: it can sign its own
    /// RFC 5011 revocation.
    Compromised,
}

/// The emergency record of a KSK taken out of use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    pub cause: LossCause,
    /// When the emergency was declared.
    #[serde(with = "time::serde::rfc3339")]
    pub declared: OffsetDateTime,
    /// The standby KSK that takes over (keystore id).
    pub standby: String,
    /// From when the standby signs alone (a bundle boundary); `None` while
    /// the standby's DS is still awaited at the parent.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub switch: Option<OffsetDateTime>,
}

impl KeyMeta {
    /// The key's DNSKEY record data, from the recorded flags, algorithm and public key.
    pub fn dnskey(&self) -> Result<Dnskey, KeystoreError> {
        let pk = BASE64
            .decode(self.public_key.trim().as_bytes())
            .map_err(|e| self.bad(format!("public key is not valid base64: {e}")))?;
        crate::dnssec::pubkey::check_public_key(self.algorithm, &pk).map_err(|e| self.bad(e.to_string()))?;
        Ok(Dnskey::new(self.flags, self.algorithm, pk))
    }

    /// Whether the key is a software key stored in the keystore.
    pub fn is_soft(&self) -> bool {
        self.locator.starts_with(FILE_LOCATOR)
    }

    fn bad(&self, msg: String) -> KeystoreError {
        KeystoreError::BadMeta { id: self.id.clone(), msg }
    }

    /// Checks that the record is self-consistent: a usable id, an absolute
    /// zone, a public key that decodes, and a key tag that matches it
    /// (RFC 4034 Appendix B), and flags that fit the role (RFC 4034 §2.1.1).
    pub fn check(&self) -> Result<(), KeystoreError> {
        if !valid_id(&self.id) {
            return Err(self.bad("a key id must be non-empty and use only a-z, 0-9, '.', '-' and '_'".into()));
        }
        if !self.zone.ends_with('.') {
            return Err(self.bad(format!("zone {:?} must be absolute (end with a dot)", self.zone)));
        }
        let key = self.dnskey()?;
        if key.key_tag() != self.key_tag {
            return Err(self.bad(format!(
                "recorded key tag {} does not match its public key (tag {})",
                self.key_tag,
                key.key_tag()
            )));
        }
        if self.flags & !FLAG_REVOKE != self.role.flags() {
            return Err(self.bad(format!("flags {} do not fit role {} (expected {})", self.flags, self.role, self.role.flags())));
        }
        if self.locator.contains("pin-value") {
            return Err(self.bad("the locator must not contain a PIN (pin-value)".into()));
        }
        Ok(())
    }
}

/// One match is the answer, none is `None`, several are an ambiguity error
/// listing the candidates.
fn pick_one<'a>(reference: &str, found: Vec<&'a KeyMeta>) -> Option<Result<&'a KeyMeta, KeystoreError>> {
    match found.as_slice() {
        [] => None,
        [one] => Some(Ok(*one)),
        many => Some(Err(KeystoreError::Ambiguous {
            reference: reference.to_string(),
            candidates: many.iter().map(|k| format!("{} ({} {} tag {})", k.id, k.zone, k.role, k.key_tag)).collect(),
        })),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// keys.json on disk.
#[derive(Serialize, Deserialize)]
struct Index {
    version: u32,
    keys: Vec<KeyMeta>,
}

/// An open keystore directory with its key metadata in memory.
#[derive(Debug)]
pub struct Keystore {
    dir: PathBuf,
    keys: Vec<KeyMeta>,
    /// Held from before keys.json was read (see [`Keystore::open_locked`]).
    lock: Option<KeystoreLock>,
}

/// Best effort: removes stale temp files (call only under the lock).
fn remove_stale(dir: &Path) {
    let _ = fsutil::remove_stale_temps(dir);
    let _ = fsutil::remove_stale_temps(&dir.join(PRIVATE_DIR));
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeystoreError + '_ {
    move |source| KeystoreError::Io { path: path.to_path_buf(), source }
}

impl Keystore {
    /// Creates a keystore: `dir` (mode 0700), `private/` (0700) and an empty
    /// keys.json. An existing directory without keys.json (e.g. one holding
    /// only README.md) is fine; an existing keystore is an error.
    pub fn init(dir: &Path) -> Result<Keystore, KeystoreError> {
        let index = dir.join(INDEX_FILE);
        if index.exists() {
            return Err(KeystoreError::Exists(dir.to_path_buf()));
        }
        fsutil::create_dir_with_mode(dir, 0o700).map_err(io_err(dir))?;
        let private = dir.join(PRIVATE_DIR);
        fsutil::create_dir_with_mode(&private, 0o700).map_err(io_err(&private))?;
        let ks = Keystore { dir: dir.to_path_buf(), keys: Vec::new(), lock: None };
        ks.save()?;
        Ok(ks)
    }

    /// Opens an existing keystore for reading. Stale temp files from an
    /// interrupted save are ignored, and removed when no other kskit process
    /// holds the lock (a writer's temp file is never taken for a stale one).
    pub fn open(dir: &Path) -> Result<Keystore, KeystoreError> {
        let index = dir.join(INDEX_FILE);
        if !index.is_file() {
            return Err(KeystoreError::Missing(dir.to_path_buf()));
        }
        if let Some(_lock) = KeystoreLock::try_acquire(dir) {
            remove_stale(dir);
        }
        let keys = Self::read_index(dir)?;
        Ok(Keystore { dir: dir.to_path_buf(), keys, lock: None })
    }

    /// Opens an existing keystore for a read-modify-write sequence: takes
    /// the keystore lock (waiting for another kskit process, with a message
    /// on stderr), then reads keys.json. The lock is held until the
    /// keystore is dropped.
    pub fn open_locked(dir: &Path) -> Result<Keystore, KeystoreError> {
        let index = dir.join(INDEX_FILE);
        if !index.is_file() {
            return Err(KeystoreError::Missing(dir.to_path_buf()));
        }
        let lock = KeystoreLock::acquire(dir).map_err(io_err(&dir.join(super::lock::LOCK_FILE)))?;
        remove_stale(dir);
        let keys = Self::read_index(dir)?;
        Ok(Keystore { dir: dir.to_path_buf(), keys, lock: Some(lock) })
    }

    /// Whether this keystore holds the lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Runs `f` under the keystore lock: the one held, or one taken for
    /// the duration of `f`.
    pub fn with_lock<R>(&self, f: impl FnOnce() -> R) -> Result<R, KeystoreError> {
        if self.lock.is_some() {
            return Ok(f());
        }
        let _lock = KeystoreLock::acquire(&self.dir).map_err(io_err(&self.dir.join(super::lock::LOCK_FILE)))?;
        Ok(f())
    }

    /// Runs a change of the key records under the lock: without a held
    /// lock, keys.json is read again first (another process may have
    /// written it since this keystore was opened), so nothing is lost.
    fn locked_change(&mut self, f: impl FnOnce(&mut Self) -> Result<(), KeystoreError>) -> Result<(), KeystoreError> {
        if self.lock.is_some() {
            return f(self);
        }
        let lock = KeystoreLock::acquire(&self.dir).map_err(io_err(&self.dir.join(super::lock::LOCK_FILE)))?;
        let keys = Self::read_index(&self.dir)?;
        let old = std::mem::replace(&mut self.keys, keys);
        let r = f(self);
        if r.is_err() {
            self.keys = old;
        }
        drop(lock);
        r
    }

    fn read_index(dir: &Path) -> Result<Vec<KeyMeta>, KeystoreError> {
        let index = dir.join(INDEX_FILE);
        let data = fs::read(&index).map_err(io_err(&index))?;
        let bad = |msg: String| KeystoreError::BadIndex { path: index.clone(), msg };
        let parsed: Index = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
        if parsed.version != INDEX_VERSION {
            return Err(bad(format!("format version {} (this kskit reads version {INDEX_VERSION})", parsed.version)));
        }
        let mut seen = std::collections::HashSet::new();
        for k in &parsed.keys {
            if !seen.insert(k.id.as_str()) {
                return Err(bad(format!("key id {:?} appears twice", k.id)));
            }
            k.check().map_err(|e| bad(e.to_string()))?;
        }
        Ok(parsed.keys)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn keys(&self) -> &[KeyMeta] {
        &self.keys
    }

    /// Where imported SKRs are kept.
    pub fn skr_dir(&self) -> PathBuf {
        self.dir.join(SKR_DIR)
    }

    /// Where the software key file of key `id` is kept.
    pub fn private_path(&self, id: &str) -> PathBuf {
        self.dir.join(PRIVATE_DIR).join(format!("{id}.age"))
    }

    fn save(&self) -> Result<(), KeystoreError> {
        let index = self.dir.join(INDEX_FILE);
        let body = Index { version: INDEX_VERSION, keys: self.keys.clone() };
        let mut json = serde_json::to_vec_pretty(&body)
            .map_err(|e| KeystoreError::BadIndex { path: index.clone(), msg: e.to_string() })?;
        json.push(b'\n');
        fsutil::write_atomic(&index, &json, MODE_PUBLIC).map_err(io_err(&index))
    }

    /// Adds a key record (its id must be new) and saves keys.json atomically,
    /// under the keystore lock. On a failed save the in-memory state is left
    /// as it was.
    pub fn add(&mut self, meta: KeyMeta) -> Result<(), KeystoreError> {
        self.locked_change(|ks| ks.add_unlocked(meta))
    }

    fn add_unlocked(&mut self, meta: KeyMeta) -> Result<(), KeystoreError> {
        meta.check()?;
        if self.get(&meta.id).is_some() {
            return Err(KeystoreError::DuplicateId(meta.id));
        }
        self.keys.push(meta);
        if let Err(e) = self.save() {
            self.keys.pop();
            return Err(e);
        }
        Ok(())
    }

    /// Replaces the record with the same id and saves keys.json atomically,
    /// under the keystore lock.
    pub fn update(&mut self, meta: KeyMeta) -> Result<(), KeystoreError> {
        self.locked_change(|ks| ks.update_unlocked(meta))
    }

    fn update_unlocked(&mut self, meta: KeyMeta) -> Result<(), KeystoreError> {
        meta.check()?;
        let pos = self.keys.iter().position(|k| k.id == meta.id).ok_or_else(|| KeystoreError::UnknownId(meta.id.clone()))?;
        let old = std::mem::replace(&mut self.keys[pos], meta);
        if let Err(e) = self.save() {
            if let Some(slot) = self.keys.get_mut(pos) {
                *slot = old;
            }
            return Err(e);
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&KeyMeta> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Resolves a key reference: an exact id, else a unique key tag
    /// (`20326`), else a unique id prefix. No match and several matches are
    /// errors; the latter lists the candidates.
    pub fn find<'a>(&'a self, reference: &str) -> Result<&'a KeyMeta, KeystoreError> {
        let r = reference.trim();
        if let Some(k) = self.get(r) {
            return Ok(k);
        }
        let pick = |found: Vec<&'a KeyMeta>| pick_one(r, found);
        if let Ok(tag) = r.parse::<u16>() {
            if let Some(res) = pick(self.keys.iter().filter(|k| k.key_tag == tag).collect()) {
                return res;
            }
        }
        if !r.is_empty() {
            if let Some(res) = pick(self.keys.iter().filter(|k| k.id.starts_with(r)).collect()) {
                return res;
            }
        }
        let known = if self.keys.is_empty() {
            "none (the keystore is empty)".to_string()
        } else {
            self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
        };
        Err(KeystoreError::NoMatch { reference: r.to_string(), known })
    }

    /// A new, unused id: `<zone without dot, or "root">-<role>-<tag>-<kind><4 hex>`
    /// (`kind` is empty for software keys, `hsm` for token keys).
    pub fn new_id(&self, zone: &Name, role: Role, tag: u16, kind: &str) -> Result<String, KeystoreError> {
        let z = to_presentation(&zone.to_lowercase());
        let z = z.trim_end_matches('.');
        let z: String = if z.is_empty() {
            "root".to_string()
        } else {
            z.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c.to_ascii_lowercase() } else { '_' }).collect()
        };
        let rng = ring::rand::SystemRandom::new();
        for _ in 0..32 {
            let r: [u8; 2] = ring::rand::generate(&rng)
                .map_err(|_| KeystoreError::Backend(BackendError::Message("no system randomness".into())))?
                .expose();
            let id = format!("{z}-{role}-{tag}-{kind}{:02x}{:02x}", r[0], r[1]);
            if self.get(&id).is_none() && !self.private_path(&id).exists() {
                return Ok(id);
            }
        }
        Err(KeystoreError::Backend(BackendError::Message("cannot find a free key id".into())))
    }

    /// Stores a software key: encrypts it to `private/<id>.age` (atomic,
    /// mode 0600) first, then records it in keys.json, so metadata never
    /// names a key file that does not exist. The key's flags must fit `role`.
    pub fn store_soft_key(
        &mut self,
        key: &SoftKey,
        zone: &Name,
        role: Role,
        enc: &KeyEncryption,
        now: OffsetDateTime,
    ) -> Result<KeyMeta, KeystoreError> {
        self.store_soft_key_timed(key, zone, role, enc, now, KeyTiming::default())
    }

    /// [`Keystore::store_soft_key`] with the key's timing in the same
    /// keys.json write: a crash can never leave the key stored without its
    /// schedule (an unscheduled ZSK that `zsk pregenerate` would not count).
    pub fn store_soft_key_timed(
        &mut self,
        key: &SoftKey,
        zone: &Name,
        role: Role,
        enc: &KeyEncryption,
        now: OffsetDateTime,
        timing: KeyTiming,
    ) -> Result<KeyMeta, KeystoreError> {
        let dnskey = key.dnskey();
        if key.flags() & !FLAG_REVOKE != role.flags() {
            return Err(KeystoreError::BadMeta {
                id: format!("(new {role})"),
                msg: format!("key flags {} do not fit role {role} (expected {})", key.flags(), role.flags()),
            });
        }
        let tag = dnskey.key_tag();
        let id = self.new_id(zone, role, tag, "")?;
        let meta = KeyMeta {
            id: id.clone(),
            zone: to_presentation(&zone.to_lowercase()),
            role,
            algorithm: key.algorithm(),
            bits: key.bits(),
            key_tag: tag,
            flags: key.flags(),
            public_key: BASE64.encode(&dnskey.public_key),
            locator: format!("{FILE_LOCATOR}{PRIVATE_DIR}/{id}.age"),
            created: now,
            timing,
            label: None,
            standby: false,
            lost: None,
        };
        meta.check()?;
        let data = soft::encrypt_key(key, enc)?;
        let private = self.dir.join(PRIVATE_DIR);
        if !private.is_dir() {
            fsutil::create_dir_with_mode(&private, 0o700).map_err(io_err(&private))?;
        }
        let path = self.private_path(&id);
        fsutil::write_atomic(&path, &data, MODE_SECRET).map_err(io_err(&path))?;
        if let Err(e) = self.add(meta.clone()) {
            // Do not leave a key file that no metadata names.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(meta)
    }

    /// The path of a software key's file, from its locator (relative paths
    /// are relative to the keystore directory).
    pub fn key_file(&self, meta: &KeyMeta) -> Result<PathBuf, KeystoreError> {
        let rel = meta
            .locator
            .strip_prefix(FILE_LOCATOR)
            .ok_or_else(|| KeystoreError::NotSoft { id: meta.id.clone(), locator: meta.locator.clone() })?;
        let p = Path::new(rel);
        Ok(if p.is_absolute() { p.to_path_buf() } else { self.dir.join(p) })
    }

    /// Decrypts a software key and checks it is the key the metadata
    /// describes (algorithm and public key); it signs with the recorded flags
    /// (which may carry REVOKE) and describes itself by its id.
    pub fn load_soft_key(&self, meta: &KeyMeta, dec: &KeyDecryption) -> Result<SoftKey, KeystoreError> {
        let path = self.key_file(meta)?;
        let key = soft::decrypt_key_file(&path, dec)?;
        if key.algorithm() != meta.algorithm {
            return Err(meta.bad(format!(
                "algorithm mismatch: keys.json says {} but {} holds a {} key",
                meta.algorithm,
                path.display(),
                key.algorithm()
            )));
        }
        let want = meta.dnskey()?;
        if key.dnskey().public_key != want.public_key {
            return Err(meta.bad(format!(
                "{} holds a different key than keys.json records (key tag {} expected)",
                path.display(),
                meta.key_tag
            )));
        }
        Ok(key.with_flags(meta.flags).with_name(meta.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_flags_and_names() {
        assert_eq!(Role::Ksk.flags(), 257);
        assert_eq!(Role::Zsk.flags(), 256);
        assert_eq!(Role::Csk.flags(), 257);
        assert_eq!("KSK".parse::<Role>().unwrap(), Role::Ksk);
        assert!("kzk".parse::<Role>().is_err());
        assert_eq!(serde_json::to_string(&Role::Zsk).unwrap(), "\"zsk\"");
    }

    #[test]
    fn ids() {
        assert!(valid_id("example.com-ksk-541-a3f2"));
        assert!(!valid_id("../x"));
        assert!(!valid_id(""));
        assert!(!valid_id(".hidden"));
    }
}
