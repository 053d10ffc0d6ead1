//! The SKR timeline on disk (docs/keystore.md, docs/handoff.md):
//!
//! ```text
//! keystore/skr/<zone>/          <zone> without the trailing dot, `root` for the root
//!   timeline.json               every imported SKR and every KSR generated, in import order
//!   <first>-<sha256/16>.xml     an imported IANA SKR (<first>: its first inception, Unix seconds)
//!   <first>-<sha256/16>.skr     an imported text SKR
//!   current.json                old layout (one SKR): read as a one-entry timeline,
//!                               replaced by timeline.json at the next import or removal
//! ```
//!
//! Every change is a read-modify-write of timeline.json under the keystore
//! lock (`super::lock`); the SKR file is written (atomically) before
//! timeline.json names it and deleted only after timeline.json stopped naming
//! it, so a crash at any point leaves the old or the new timeline, each
//! naming only files that exist (an SKR file that no entry names is
//! harmless). The rule that picks the bundle in force is
//! `crate::skr::timeline`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::fsutil::{write_atomic, MODE_PUBLIC};
use super::keystore::{Keystore, KeystoreError};
use crate::digest::FileDigest;
use crate::ksr::model::{Format, Ksr};
use crate::skr::model::Skr;
use crate::skr::timeline::{Timeline, TimelineSkr};

/// The timeline file in a zone's SKR directory.
pub const TIMELINE_FILE: &str = "timeline.json";
/// The one-SKR pointer of the old layout.
pub const LEGACY_CURRENT: &str = "current.json";
const TIMELINE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SkrStoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid SKR timeline: {msg}")]
    Bad { path: PathBuf, msg: String },
    #[error("{path} (named by the SKR timeline) is not a valid SKR: {msg}")]
    BadSkr { path: PathBuf, msg: String },
    #[error("no imported SKR of {zone} matches {reference:?}; imported: {known}")]
    NotFound { zone: String, reference: String, known: String },
    #[error("{reference:?} matches several imported SKRs: {}", candidates.join(", "))]
    Ambiguous { reference: String, candidates: Vec<String> },
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SkrStoreError + '_ {
    move |source| SkrStoreError::Io { path: path.to_path_buf(), source }
}

fn rfc3339_opt(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(crate::timeutil::format_rfc3339)
}

/// One imported SKR as timeline.json records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSkr {
    /// The file in the zone's SKR directory.
    pub file: String,
    pub sha256: String,
    pub format: Format,
    /// When it was imported (RFC 3339).
    pub imported: String,
    /// Import order (larger is later); decides between SKRs of one period.
    #[serde(default)]
    pub seq: u64,
    pub bundles: usize,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub first_inception: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_inception: Option<OffsetDateTime>,
    /// Imported with `--without-ksr` (checked against the keystore's ZSK schedule only).
    #[serde(default)]
    pub without_ksr: bool,
    /// A hold variant (`skr import --hold`, docs/rollover.md "Slow
    /// parents"): offers bundles keeping the old KSK; never governs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
}

/// One KSR made by `kskit ksr generate`, so that `ksr generate --next`
/// continues after it even before its SKR comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedKsr {
    /// The output file as given.
    pub file: String,
    pub sha256: String,
    pub format: Format,
    pub generated: String,
    pub bundles: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub first_inception: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_inception: OffsetDateTime,
    /// The end of the period requested (`--until`).
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

/// keystore/skr/<zone>/timeline.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineFile {
    pub version: u32,
    pub skrs: Vec<StoredSkr>,
    #[serde(default)]
    pub requested: Vec<RequestedKsr>,
}

impl Default for TimelineFile {
    fn default() -> Self {
        TimelineFile { version: TIMELINE_VERSION, skrs: vec![], requested: vec![] }
    }
}

/// Directory name for a zone's SKRs: the zone without the trailing dot, `root` for the root.
pub fn zone_dir(zone: &str) -> String {
    let z = zone.trim_end_matches('.').to_ascii_lowercase();
    if z.is_empty() {
        "root".into()
    } else {
        z
    }
}

/// The SKR directory of `zone` in the keystore.
pub fn zone_path(ks: &Keystore, zone: &str) -> PathBuf {
    ks.skr_dir().join(zone_dir(zone))
}

/// A stored file name, refused when it would leave the zone's directory.
fn safe_name<'a>(dir: &Path, name: &'a str) -> Result<&'a str, SkrStoreError> {
    let ok = !name.is_empty() && !name.starts_with('.') && Path::new(name).file_name().is_some_and(|f| f == name);
    if ok {
        Ok(name)
    } else {
        Err(SkrStoreError::Bad { path: dir.join(TIMELINE_FILE), msg: format!("bad file name {name:?}") })
    }
}

fn parse_stored(path: &Path) -> Result<Skr, SkrStoreError> {
    let data = fs::read(path).map_err(io(path))?;
    crate::formats::parse_skr_any(&data).map_err(|e| SkrStoreError::BadSkr { path: path.to_path_buf(), msg: e.to_string() })
}

fn entry_for(file: String, data: &[u8], skr: &Skr, seq: u64, imported: OffsetDateTime, without_ksr: bool) -> StoredSkr {
    StoredSkr {
        file,
        sha256: FileDigest::of(data).hex(),
        format: skr.format,
        imported: crate::timeutil::format_rfc3339(imported),
        seq,
        bundles: skr.bundles.len(),
        first_inception: skr.bundles.iter().map(|b| b.inception).min(),
        last_inception: skr.bundles.iter().map(|b| b.inception).max(),
        without_ksr,
        hold: false,
    }
}

/// Reads a zone's timeline index: timeline.json; else the old layout's
/// current.json as a one-entry timeline; else an empty timeline.
pub fn load_index(dir: &Path) -> Result<TimelineFile, SkrStoreError> {
    let path = dir.join(TIMELINE_FILE);
    match fs::read(&path) {
        Ok(data) => {
            let bad = |msg: String| SkrStoreError::Bad { path: path.clone(), msg };
            let tf: TimelineFile = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
            if tf.version != TIMELINE_VERSION {
                return Err(bad(format!("format version {} (this kskit reads {TIMELINE_VERSION})", tf.version)));
            }
            for e in &tf.skrs {
                safe_name(dir, &e.file)?;
            }
            return Ok(tf);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(SkrStoreError::Io { path, source }),
    }
    let legacy = dir.join(LEGACY_CURRENT);
    let data = match fs::read(&legacy) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TimelineFile::default()),
        Err(source) => return Err(SkrStoreError::Io { path: legacy, source }),
    };
    let bad = |msg: String| SkrStoreError::Bad { path: legacy.clone(), msg };
    let v: serde_json::Value = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
    let name = v.get("file").and_then(|f| f.as_str()).ok_or_else(|| bad("names no file".into()))?;
    let name = safe_name(dir, name)?.to_string();
    let skr_path = dir.join(&name);
    let skr = parse_stored(&skr_path)?;
    let skr_data = fs::read(&skr_path).map_err(io(&skr_path))?;
    let imported = v
        .get("imported")
        .and_then(|t| t.as_str())
        .and_then(crate::timeutil::parse_instant)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let entry = entry_for(name, &skr_data, &skr, 0, imported, false);
    Ok(TimelineFile { version: TIMELINE_VERSION, skrs: vec![entry], requested: vec![] })
}

/// Writes timeline.json (atomically) and retires the old layout's
/// current.json once timeline.json holds its entry.
fn save_index(dir: &Path, tf: &TimelineFile) -> Result<(), SkrStoreError> {
    let path = dir.join(TIMELINE_FILE);
    let mut json = serde_json::to_vec_pretty(tf).map_err(|e| SkrStoreError::Bad { path: path.clone(), msg: e.to_string() })?;
    json.push(b'\n');
    write_atomic(&path, &json, MODE_PUBLIC).map_err(io(&path))?;
    let legacy = dir.join(LEGACY_CURRENT);
    if legacy.exists() {
        fs::remove_file(&legacy).map_err(io(&legacy))?;
        super::fsutil::sync_dir(dir).map_err(io(dir))?;
    }
    Ok(())
}

/// The timeline of `zone` with every SKR parsed, and its index.
pub fn load(ks: &Keystore, zone: &str) -> Result<(Timeline, TimelineFile), SkrStoreError> {
    let dir = zone_path(ks, zone);
    let tf = load_index(&dir)?;
    let mut skrs = Vec::with_capacity(tf.skrs.len());
    for e in &tf.skrs {
        let path = dir.join(&e.file);
        skrs.push(TimelineSkr { name: path.display().to_string(), seq: e.seq, skr: parse_stored(&path)?, hold: e.hold });
    }
    Ok((Timeline::new(zone, skrs), tf))
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub path: PathBuf,
    pub entry: StoredSkr,
    /// The same file was imported before (it is now the latest import of its period).
    pub again: bool,
    /// Imported SKRs whose period this one overlaps (file names).
    pub overlaps: Vec<String>,
}

/// Adds a verified SKR to the zone's timeline, under the keystore lock.
pub fn import(ks: &Keystore, zone: &str, skr: &Skr, data: &[u8], without_ksr: bool, now: OffsetDateTime) -> Result<Imported, SkrStoreError> {
    import_variant(ks, zone, skr, data, without_ksr, false, now)
}

/// [`import`], as a hold variant when `hold` (docs/rollover.md "Slow parents").
pub fn import_variant(ks: &Keystore, zone: &str, skr: &Skr, data: &[u8], without_ksr: bool, hold: bool, now: OffsetDateTime) -> Result<Imported, SkrStoreError> {
    ks.with_lock(|| import_locked(ks, zone, skr, data, without_ksr, hold, now))?
}

fn import_locked(ks: &Keystore, zone: &str, skr: &Skr, data: &[u8], without_ksr: bool, hold: bool, now: OffsetDateTime) -> Result<Imported, SkrStoreError> {
    let dir = zone_path(ks, zone);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut tf = load_index(&dir)?;
    let d = FileDigest::of(data);
    let first = skr.bundles.iter().map(|b| b.inception.unix_timestamp()).min().unwrap_or(0);
    let ext = match skr.format {
        Format::Iana => "xml",
        Format::Text => "skr",
    };
    let name = format!("{first}-{}.{ext}", &d.hex()[..16]);
    let path = dir.join(&name);
    write_atomic(&path, data, MODE_PUBLIC).map_err(io(&path))?;
    let seq = tf.skrs.iter().map(|e| e.seq).max().map_or(1, |m| m + 1);
    let mut entry = entry_for(name.clone(), data, skr, seq, now, without_ksr);
    entry.hold = hold;
    let again = tf.skrs.iter().any(|e| e.file == name);
    tf.skrs.retain(|e| e.file != name);
    let overlaps = tf
        .skrs
        .iter()
        .filter(|e| e.hold == hold)
        .filter(|e| match (e.first_inception, e.last_inception, entry.first_inception, entry.last_inception) {
            (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 <= b1 && b0 <= a1,
            _ => false,
        })
        .map(|e| e.file.clone())
        .collect();
    tf.skrs.push(entry.clone());
    save_index(&dir, &tf)?;
    Ok(Imported { path, entry, again, overlaps })
}

/// Takes an import back: the entry whose file name, or a unique prefix of
/// its file name or SHA-256, is `reference`. Returns the entry removed.
pub fn remove(ks: &Keystore, zone: &str, reference: &str) -> Result<StoredSkr, SkrStoreError> {
    ks.with_lock(|| remove_locked(ks, zone, reference))?
}

fn remove_locked(ks: &Keystore, zone: &str, reference: &str) -> Result<StoredSkr, SkrStoreError> {
    let dir = zone_path(ks, zone);
    let mut tf = load_index(&dir)?;
    let r = reference.trim();
    let r = Path::new(r).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let exact: Vec<usize> = tf.skrs.iter().enumerate().filter(|(_, e)| e.file == r).map(|(i, _)| i).collect();
    let found: Vec<usize> = if exact.is_empty() && !r.is_empty() {
        let low = r.to_ascii_lowercase();
        tf.skrs.iter().enumerate().filter(|(_, e)| e.file.starts_with(&r) || e.sha256.starts_with(&low)).map(|(i, _)| i).collect()
    } else {
        exact
    };
    let i = match found.as_slice() {
        [i] => *i,
        [] => {
            let known = if tf.skrs.is_empty() { "none".to_string() } else { tf.skrs.iter().map(|e| e.file.as_str()).collect::<Vec<_>>().join(", ") };
            return Err(SkrStoreError::NotFound { zone: zone.to_string(), reference: reference.to_string(), known });
        }
        many => {
            return Err(SkrStoreError::Ambiguous { reference: reference.to_string(), candidates: many.iter().map(|i| tf.skrs[*i].file.clone()).collect() })
        }
    };
    let entry = tf.skrs.remove(i);
    save_index(&dir, &tf)?;
    let path = dir.join(safe_name(&dir, &entry.file)?);
    match fs::remove_file(&path) {
        Ok(()) => super::fsutil::sync_dir(&dir).map_err(io(&dir))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(SkrStoreError::Io { path, source }),
    }
    Ok(entry)
}

/// Records a generated KSR in the zone's timeline, under the keystore lock.
pub fn record_request(ks: &Keystore, zone: &str, file: &Path, data: &[u8], ksr: &Ksr, until: OffsetDateTime, now: OffsetDateTime) -> Result<(), SkrStoreError> {
    let (Some(first), Some(last)) = (ksr.bundles.iter().map(|b| b.inception).min(), ksr.bundles.iter().map(|b| b.inception).max()) else {
        return Ok(());
    };
    let req = RequestedKsr {
        file: file.display().to_string(),
        sha256: FileDigest::of(data).hex(),
        format: ksr.format,
        generated: crate::timeutil::format_rfc3339(now),
        bundles: ksr.bundles.len(),
        first_inception: first,
        last_inception: last,
        until,
    };
    ks.with_lock(|| -> Result<(), SkrStoreError> {
        let dir = zone_path(ks, zone);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut tf = load_index(&dir)?;
        tf.requested.retain(|r| r.sha256 != req.sha256);
        tf.requested.push(req);
        save_index(&dir, &tf)
    })?
}

/// Where the next KSR starts (`ksr generate --next`): one bundle interval
/// after the last bundle already requested or imported; for a text-format
/// KSR, whose bundles fall on ZSK changes, the end of the period it
/// requested. `None` when nothing was requested or imported.
pub fn next_start(tf: &TimelineFile, bundle_interval: time::Duration) -> Option<OffsetDateTime> {
    let requested = tf.requested.iter().map(|r| match r.format {
        Format::Iana => r.last_inception + bundle_interval,
        Format::Text => r.until.max(r.last_inception + bundle_interval),
    });
    let imported = tf.skrs.iter().filter_map(|e| e.last_inception).map(|t| t + bundle_interval);
    requested.chain(imported).max()
}

/// Rendering helper for listings: RFC 3339 or `-`.
pub fn fmt_opt(t: Option<OffsetDateTime>) -> String {
    rfc3339_opt(t).unwrap_or_else(|| "-".into())
}
