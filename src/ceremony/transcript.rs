//! Ceremony transcripts (docs/ceremony.md): JSON lines, hash-chained.
//!
//! Every entry is one line of *canonical* JSON: compact, keys sorted, as
//! `serde_json` writes a `Value` (so parsing a line and writing it again gives
//! the same bytes). Each entry carries `seq` (0, 1, 2, ...) and `prev`, the
//! SHA-256 (uppercase hex) of the previous line's bytes (64 zeros for the
//! first). The first entry is `kind = "start"`, the last `kind = "close"`
//! with `entries` (how many entries precede it) and `seal`, the SHA-256 of the
//! closing entry's canonical bytes without the `seal` field: the **final
//! hash** the witnesses write down. The transcript is written entry by entry
//! (append, fsync) so a crash leaves a verifiable prefix, which verification
//! reports as "no closing entry".

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::digest::FileDigest;

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The transcript format version (in the start entry).
pub const FORMAT_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("transcript {0} already exists: a transcript is never appended to; choose a new file")]
    Exists(PathBuf),
    #[error("entry {line}: {msg}")]
    Entry { line: usize, msg: String },
    #[error("the transcript is empty")]
    Empty,
    #[error("the transcript has no closing entry: the ceremony did not finish or the end was cut off ({entries} intact entries, last hash {last_hash})")]
    NoClose { entries: usize, last_hash: String },
    #[error("the final hash is {found}, not {expected}: this is not the transcript the witnesses signed")]
    FinalHash { expected: String, found: String },
    #[error("bad --final-hash {0:?}: give the 64 hex digits of the SHA-256")]
    BadFinalHash(String),
    #[error("an entry is not a JSON object")]
    NotObject,
}

/// SHA-256 in uppercase hex of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(&Sha256::digest(bytes))
}

/// The canonical bytes of an entry: compact JSON, keys sorted.
pub fn canonical(v: &Map<String, Value>) -> Vec<u8> {
    // A BTreeMap-ordered copy, independent of serde_json's `preserve_order`.
    let sorted: std::collections::BTreeMap<&String, &Value> = v.iter().collect();
    let mut out = Vec::new();
    out.push(b'{');
    for (i, (k, val)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&serde_json::to_vec(k).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&canonical_value(val));
    }
    out.push(b'}');
    out
}

fn canonical_value(v: &Value) -> Vec<u8> {
    match v {
        Value::Object(m) => canonical(m),
        Value::Array(a) => {
            let mut out = vec![b'['];
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&canonical_value(x));
            }
            out.push(b']');
            out
        }
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// A file read or written by a step, with its digest.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
    pub pgp_words: String,
    pub bytes: u64,
}

impl FileRecord {
    pub fn of(path: &str, data: &[u8]) -> FileRecord {
        let d = FileDigest::of(data);
        FileRecord {
            path: path.to_string(),
            sha256: d.hex(),
            pgp_words: d.words().join(" "),
            bytes: data.len() as u64,
        }
    }
}

/// Appends hash-chained entries to a new transcript file, fsyncing each.
pub struct TranscriptWriter {
    path: PathBuf,
    file: File,
    seq: u64,
    prev: String,
    closed: bool,
}

/// What closing a transcript gives the witnesses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closing {
    /// Entries including the closing entry.
    pub entries: u64,
    /// The seal of the closing entry: the final hash.
    pub final_hash: String,
    pub final_words: String,
}

impl TranscriptWriter {
    /// Creates `path` (it must not exist) with mode 0640.
    pub fn create(path: &Path) -> Result<TranscriptWriter, TranscriptError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o640)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    TranscriptError::Exists(path.to_path_buf())
                } else {
                    TranscriptError::Io {
                        path: path.to_path_buf(),
                        source: e,
                    }
                }
            })?;
        // Make the new directory entry durable too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = crate::keys::fsutil::sync_dir(dir);
        }
        Ok(TranscriptWriter {
            path: path.to_path_buf(),
            file,
            seq: 0,
            prev: GENESIS.to_string(),
            closed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries written so far.
    pub fn count(&self) -> u64 {
        self.seq
    }

    /// Appends an entry of `kind` with `fields` (an object), plus `seq`,
    /// `prev` and `time`, and fsyncs. Returns the entry's hash.
    pub fn append(
        &mut self,
        kind: &str,
        fields: Value,
        time: &str,
    ) -> Result<String, TranscriptError> {
        let mut m = match fields {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => return Err(TranscriptError::NotObject),
        };
        m.insert("kind".into(), Value::from(kind));
        m.insert("seq".into(), Value::from(self.seq));
        m.insert("prev".into(), Value::from(self.prev.clone()));
        m.insert("time".into(), Value::from(time));
        if kind == "close" {
            m.insert("entries".into(), Value::from(self.seq));
            m.remove("seal");
            let seal = sha256_hex(&canonical(&m));
            m.insert("seal".into(), Value::from(seal));
        }
        let mut line = canonical(&m);
        let hash = sha256_hex(&line);
        line.push(b'\n');
        let io = |e| TranscriptError::Io {
            path: self.path.clone(),
            source: e,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(|e| TranscriptError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        self.seq += 1;
        self.prev = hash.clone();
        if kind == "close" {
            self.closed = true;
        }
        Ok(hash)
    }

    /// Writes the closing entry and returns the final hash.
    pub fn close(&mut self, fields: Value, time: &str) -> Result<Closing, TranscriptError> {
        self.append("close", fields, time)?;
        let seal = self.last_seal()?;
        let words = pgp_words::to_words(
            &data_encoding::HEXUPPER
                .decode(seal.as_bytes())
                .unwrap_or_default(),
        )
        .join(" ");
        Ok(Closing {
            entries: self.seq,
            final_hash: seal,
            final_words: words,
        })
    }

    fn last_seal(&self) -> Result<String, TranscriptError> {
        let data = std::fs::read(&self.path).map_err(|e| TranscriptError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        let v = verify(&data, None)?;
        Ok(v.final_hash)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// What a verified transcript says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries including start and close.
    pub entries: usize,
    /// Step entries.
    pub steps: usize,
    pub title: String,
    /// `completed`, `failed` or `aborted`.
    pub outcome: String,
    pub failed_step: Option<u64>,
    pub started: String,
    pub closed: String,
    pub final_hash: String,
    pub final_words: String,
}

fn entry_err(line: usize, msg: impl Into<String>) -> TranscriptError {
    TranscriptError::Entry {
        line,
        msg: msg.into(),
    }
}

/// Normalises a final hash as written down: hex digits, spaces and colons ignored.
pub fn parse_final_hash(s: &str) -> Result<String, TranscriptError> {
    let h: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(TranscriptError::BadFinalHash(s.to_string()));
    }
    Ok(h)
}

/// Verifies a transcript: every line canonical JSON; `seq` counting from 0;
/// `prev` the SHA-256 of the previous line (detects edits, deletions,
/// insertions, reordering); a start entry first and exactly one closing
/// entry last, whose `entries` count and `seal` match (detects truncation and
/// edits to the closing entry); and, when `final_hash` is given, that the
/// seal equals it (detects a wholly rewritten chain).
pub fn verify(data: &[u8], final_hash: Option<&str>) -> Result<Verified, TranscriptError> {
    let expected = final_hash.map(parse_final_hash).transpose()?;
    if data.is_empty() {
        return Err(TranscriptError::Empty);
    }
    let mut prev = GENESIS.to_string();
    let mut start: Option<Map<String, Value>> = None;
    let mut close: Option<Map<String, Value>> = None;
    let mut steps = 0usize;
    let mut failed_step = None;
    let mut count = 0usize;
    let mut rest = data;
    while !rest.is_empty() {
        let line_no = count + 1;
        let nl = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| entry_err(line_no, "the last line is cut off (no newline)"))?;
        let (line, tail) = rest.split_at(nl);
        rest = tail.get(1..).unwrap_or_default();
        if close.is_some() {
            return Err(entry_err(line_no, "an entry after the closing entry"));
        }
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| entry_err(line_no, format!("not JSON ({e}): edited or cut off")))?;
        let Value::Object(m) = v else {
            return Err(entry_err(line_no, "not a JSON object"));
        };
        if canonical(&m) != line {
            return Err(entry_err(
                line_no,
                "not in canonical form: the entry was edited",
            ));
        }
        let seq = m
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| entry_err(line_no, "no seq"))?;
        if seq != count as u64 {
            return Err(entry_err(
                line_no,
                format!(
                    "seq is {seq}, expected {count}: entries were deleted, inserted or reordered"
                ),
            ));
        }
        let p = m
            .get("prev")
            .and_then(Value::as_str)
            .ok_or_else(|| entry_err(line_no, "no prev"))?;
        if p != prev {
            return Err(entry_err(
                line_no,
                "prev does not match the hash of the previous entry: the previous entry was edited, or entries were deleted, inserted or reordered",
            ));
        }
        let kind = m
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| entry_err(line_no, "no kind"))?;
        match (kind, count) {
            ("start", 0) => {
                if m.get("format").and_then(Value::as_u64) != Some(FORMAT_VERSION) {
                    return Err(entry_err(
                        line_no,
                        format!(
                            "unknown transcript format (this kskit reads format {FORMAT_VERSION})"
                        ),
                    ));
                }
                start = Some(m.clone());
            }
            ("start", _) => return Err(entry_err(line_no, "a second start entry")),
            (_, 0) => return Err(entry_err(line_no, "the first entry is not the start entry")),
            ("step", _) => {
                steps += 1;
                if m.get("outcome").and_then(Value::as_str) == Some("failed") {
                    failed_step = m.get("step").and_then(Value::as_u64);
                }
            }
            ("close", _) => {
                let n = m.get("entries").and_then(Value::as_u64);
                if n != Some(count as u64) {
                    return Err(entry_err(line_no, format!("the closing entry counts {n:?} entries, the transcript has {count} before it")));
                }
                let seal = m
                    .get("seal")
                    .and_then(Value::as_str)
                    .ok_or_else(|| entry_err(line_no, "closing entry without seal"))?
                    .to_string();
                let mut unsealed = m.clone();
                unsealed.remove("seal");
                if sha256_hex(&canonical(&unsealed)) != seal {
                    return Err(entry_err(
                        line_no,
                        "the closing entry's seal does not match it: the closing entry was edited",
                    ));
                }
                close = Some(m.clone());
            }
            (other, _) => return Err(entry_err(line_no, format!("unknown entry kind {other:?}"))),
        }
        prev = sha256_hex(line);
        count += 1;
    }
    let start = start.ok_or(TranscriptError::Empty)?;
    let Some(close) = close else {
        return Err(TranscriptError::NoClose {
            entries: count,
            last_hash: prev,
        });
    };
    let str_of = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let final_hash = str_of(&close, "seal");
    if let Some(exp) = expected {
        if exp != final_hash {
            return Err(TranscriptError::FinalHash {
                expected: exp,
                found: final_hash,
            });
        }
    }
    let words = pgp_words::to_words(
        &data_encoding::HEXUPPER
            .decode(final_hash.as_bytes())
            .unwrap_or_default(),
    )
    .join(" ");
    Ok(Verified {
        entries: count,
        steps,
        title: str_of(&start, "title"),
        outcome: str_of(&close, "outcome"),
        failed_step: failed_step.or_else(|| close.get("failed_step").and_then(Value::as_u64)),
        started: str_of(&start, "time"),
        closed: str_of(&close, "time"),
        final_hash,
        final_words: words,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> (Vec<u8>, Closing) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.jsonl");
        let mut w = TranscriptWriter::create(&p).unwrap();
        w.append(
            "start",
            json!({"format": FORMAT_VERSION, "title": "t \"x\" é"}),
            "2026-11-23T00:00:00Z",
        )
        .unwrap();
        w.append(
            "step",
            json!({"step": 1, "outcome": "ok", "output": "a\nb"}),
            "2026-11-23T00:00:01Z",
        )
        .unwrap();
        w.append(
            "step",
            json!({"step": 2, "outcome": "ok"}),
            "2026-11-23T00:00:02Z",
        )
        .unwrap();
        let c = w
            .close(json!({"outcome": "completed"}), "2026-11-23T00:00:03Z")
            .unwrap();
        assert!(
            TranscriptWriter::create(&p).is_err(),
            "never appends to an existing transcript"
        );
        (std::fs::read(&p).unwrap(), c)
    }

    #[test]
    fn verifies_and_detects_tampering() {
        let (data, c) = sample();
        let v = verify(&data, Some(&c.final_hash.to_lowercase())).unwrap();
        assert_eq!(
            (v.entries, v.steps, v.outcome.as_str()),
            (4, 2, "completed")
        );
        assert_eq!(c.entries, 4);
        let lines: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
        // Every byte of every line (except the newline) flipped is detected.
        for i in 0..data.len() {
            if data[i] == b'\n' {
                continue;
            }
            let mut t = data.clone();
            t[i] ^= 0x01;
            assert!(verify(&t, None).is_err(), "flip at byte {i} not detected");
        }
        // Deletion, swap, truncation of the closing entry.
        for skip in 0..lines.len() {
            let t: Vec<u8> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .flat_map(|(_, l)| l.to_vec())
                .collect();
            assert!(verify(&t, None).is_err(), "deleting {skip} not detected");
        }
        let mut sw = lines.clone();
        sw.swap(1, 2);
        assert!(verify(&sw.concat(), None).is_err());
        let cut = &data[..data.len() - 10];
        assert!(verify(cut, None).is_err());
        let no_close: Vec<u8> = lines[..3].concat();
        assert!(matches!(
            verify(&no_close, None),
            Err(TranscriptError::NoClose { entries: 3, .. })
        ));
        assert!(matches!(
            verify(&data, Some(&GENESIS.replace('0', "A"))),
            Err(TranscriptError::FinalHash { .. })
        ));
    }
}
