//! Reading and writing the two KSR/SKR file formats into the one model
//! (`crate::ksr::Ksr`, `crate::skr::Skr`): the IANA XML format of the root
//! zone's KSK ceremonies (`iana`) and the text format Knot DNS and BIND 9.20
//! share (`text`). Pure: strings in, model out, and back. See docs/formats.md.

pub mod fields;
pub mod iana;
pub mod text;

use crate::ksr::{Format, Ksr};
use crate::skr::Skr;

/// Largest KSR or SKR file kskit reads (16 MiB), for both formats. A root
/// KSR is about 20 KiB; the limit keeps a hostile file from exhausting memory.
pub const MAX_INPUT: usize = 16 * 1024 * 1024;

/// What is wrong with a KSR or SKR file, and where.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("input is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("input is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("cannot tell the file format: {0}")]
    UnknownFormat(String),
    /// An IANA XML problem; `at` is an element path such as
    /// `/KSR/Request/RequestBundle[@id='…']/Key[2]/PublicKey`, or a line.
    #[error("XML {at}: {msg}")]
    Xml { at: String, msg: String },
    /// A text-format problem at a line (1-based).
    #[error("line {line}: {msg}")]
    Text { line: usize, msg: String },
}

impl FormatError {
    pub(crate) fn xml(at: impl Into<String>, msg: impl Into<String>) -> Self {
        FormatError::Xml { at: at.into(), msg: msg.into() }
    }
    pub(crate) fn text(line: usize, msg: impl Into<String>) -> Self {
        FormatError::Text { line, msg: msg.into() }
    }
}

/// Refuses input over [`MAX_INPUT`] before any parsing.
pub fn check_size(len: usize) -> Result<(), FormatError> {
    if len > MAX_INPUT {
        return Err(FormatError::TooLarge { size: len, limit: MAX_INPUT });
    }
    Ok(())
}

fn to_str(input: &[u8]) -> Result<&str, FormatError> {
    check_size(input.len())?;
    let s = std::str::from_utf8(input).map_err(|e| FormatError::NotUtf8 { offset: e.valid_up_to() })?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

/// Tells the format from the first meaningful bytes: XML (`<`) is IANA; a
/// `;; KeySigningRequest` or `;; SignedKeyResponse` line is the text format.
pub fn detect(input: &[u8]) -> Result<Format, FormatError> {
    let s = to_str(input)?;
    let t = s.trim_start();
    if t.starts_with('<') {
        return Ok(Format::Iana);
    }
    let is_text_header = |l: &str| {
        let l = l.trim_start();
        l.strip_prefix(";;")
            .map(|r| {
                let r = r.trim_start();
                r.starts_with("KeySigningRequest") || r.starts_with("SignedKeyResponse")
            })
            .unwrap_or(false)
    };
    if t.lines().any(is_text_header) {
        return Ok(Format::Text);
    }
    if t.is_empty() {
        return Err(FormatError::UnknownFormat("the input is empty".into()));
    }
    Err(FormatError::UnknownFormat(
        "neither IANA XML (starting with `<`) nor the Knot/BIND text format (`;; KeySigningRequest 1.0 …` or `;; SignedKeyResponse 1.0 …` headers)".into(),
    ))
}

/// Reads a KSR in either format: size limit, UTF-8 check, format detection.
pub fn parse_ksr_any(input: &[u8]) -> Result<Ksr, FormatError> {
    let s = to_str(input)?;
    match detect(input)? {
        Format::Iana => iana::parse_ksr(s),
        Format::Text => text::parse_ksr(s),
    }
}

/// Reads an SKR in either format: size limit, UTF-8 check, format detection.
pub fn parse_skr_any(input: &[u8]) -> Result<Skr, FormatError> {
    let s = to_str(input)?;
    match detect(input)? {
        Format::Iana => iana::parse_skr(s),
        Format::Text => text::parse_skr(s),
    }
}

/// Writes a KSR in the format asked for.
pub fn write_ksr(k: &Ksr, f: Format) -> String {
    match f {
        Format::Iana => iana::write_ksr(k),
        Format::Text => text::write_ksr(k),
    }
}

/// Writes an SKR in the format asked for.
pub fn write_skr(s: &Skr, f: Format) -> String {
    match f {
        Format::Iana => iana::write_skr(s),
        Format::Text => text::write_skr(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect(b"  <?xml version=\"1.0\"?><KSR/>").unwrap(), Format::Iana);
        assert_eq!(detect(b";; KeySigningRequest 1.0 1795427119 (2026-11-23T09:45:19Z) ===\n").unwrap(), Format::Text);
        assert_eq!(detect(b"\n;; SignedKeyResponse 1.0 1795427119\n").unwrap(), Format::Text);
        assert!(matches!(detect(b"hello"), Err(FormatError::UnknownFormat(_))));
        assert!(matches!(detect(b""), Err(FormatError::UnknownFormat(_))));
        assert!(matches!(detect(b"<\xff\xfe"), Err(FormatError::NotUtf8 { offset: 1 })));
    }

    #[test]
    fn refuses_oversize_input_early() {
        let big = vec![b' '; MAX_INPUT + 1];
        assert!(matches!(parse_ksr_any(&big), Err(FormatError::TooLarge { .. })));
        assert!(matches!(parse_skr_any(&big), Err(FormatError::TooLarge { .. })));
    }
}
