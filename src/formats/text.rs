//! The text KSR/SKR format shared by Knot DNS (`keymgr generate-ksr`,
//! `sign-ksr`, `import-skr`) and BIND 9.20 (`dnssec-ksr request`, `sign`).
//!
//! A file is a sequence of bundles, each a header line
//! `;; KeySigningRequest 1.0 <time> (<human time>) =========` (or
//! `;; SignedKeyResponse 1.0 …`) followed by records in presentation format,
//! and ends with a footer `;; KeySigningRequest 1.0 generated at <time> by
//! <generator>`. Knot writes the bundle time as Unix seconds and the human
//! time as RFC 3339; BIND writes `YYYYMMDDHHMMSS` and a ctime(3) string. Both
//! are read; kskit writes Knot's layout. Records are parsed with
//! `crate::dnssec::presentation`. See docs/formats.md.

use data_encoding::{BASE64, HEXUPPER};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{check_size, FormatError};
use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::presentation::parse_records;
use crate::dnssec::record::rtype;
use crate::dnssec::{Algorithm, DnssecError, Dnskey, Name, RData, Record, Rrsig, FLAG_SEP};
use crate::ksr::{BundleKey, BundleSignature, Format, Ksr, RequestBundle};
use crate::skr::{ResponseBundle, Skr};
use crate::timeutil::{format_rfc3339, format_rrsig_time, parse_absolute_rrsig_time, parse_instant};

type Result<T> = std::result::Result<T, FormatError>;

const KSR_WORD: &str = "KeySigningRequest";
const SKR_WORD: &str = "SignedKeyResponse";
const VERSION: &str = "1.0";

// ---------------------------------------------------------------------------
// Reading.

enum Header {
    Bundle(OffsetDateTime),
    Footer(OffsetDateTime, String),
}

/// A `;; <word> …` header line, or `None` for any other line. `Err` when
/// the line is a header of the format but malformed.
fn parse_header(line: &str, lineno: usize, word: &str, other: &str) -> Result<Option<Header>> {
    let Some(rest) = line.trim_start().strip_prefix(";;") else { return Ok(None) };
    let mut toks = rest.split_ascii_whitespace();
    match toks.next() {
        Some(w) if w == word => {}
        Some(w) if w == other => {
            let (have, want) = if word == KSR_WORD { ("an SKR", "a KSR") } else { ("a KSR", "an SKR") };
            return Err(FormatError::text(lineno, format!("this is {have} (`;; {other}` header), not {want}")));
        }
        _ => return Ok(None),
    }
    let version = toks.next().ok_or_else(|| FormatError::text(lineno, format!("`;; {word}` header without a version")))?;
    if version != VERSION {
        return Err(FormatError::text(lineno, format!("unsupported {word} version {version:?} (kskit reads 1.0)", version = crate::quote::Q(&version))));
    }
    let when = toks.next().ok_or_else(|| FormatError::text(lineno, format!("`;; {word} 1.0` header without a time")))?;
    if when == "generated" {
        // Footer: `generated at <time> by <generator>`.
        let after = rest.split_once("generated").map(|x| x.1).unwrap_or("").trim_start();
        let after = after
            .strip_prefix("at ")
            .ok_or_else(|| FormatError::text(lineno, "footer should read `generated at <time> by <generator>`"))?;
        let (t, gen) = after
            .split_once(" by ")
            .ok_or_else(|| FormatError::text(lineno, "footer should read `generated at <time> by <generator>`"))?;
        let at = parse_footer_time(t.trim())
            .ok_or_else(|| FormatError::text(lineno, format!("bad time {:?} in footer (expected RFC 3339 or a ctime string)", crate::quote::Q(t.trim()))))?;
        let gen = gen.trim();
        if !super::fields::generator_ok(gen) {
            let check = if word == KSR_WORD { "KSR-FIELD-SYNTAX" } else { "SKR-FIELD-SYNTAX" };
            return Err(FormatError::text(lineno, super::fields::refusal(check, "footer generator", gen, super::fields::GENERATOR_RULE)));
        }
        return Ok(Some(Header::Footer(at, gen.to_string())));
    }
    let t = parse_absolute_rrsig_time(when).map_err(|e| match e {
        crate::timeutil::TimeError::TimeOutOfRange(_) => FormatError::text(lineno, e.to_string()),
        _ => FormatError::text(lineno, format!("bad bundle time {when:?}: expected Unix seconds (Knot) or YYYYMMDDHHMMSS (BIND)", when = crate::quote::Q(&when))),
    })?;
    Ok(Some(Header::Bundle(t)))
}

/// Knot writes RFC 3339; BIND writes ctime(3) (`Mon Nov 23 09:45:19 2026`,
/// in the signer's local zone, read here as UTC).
fn parse_footer_time(t: &str) -> Option<OffsetDateTime> {
    if let Ok(v) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(v);
    }
    if let Some(v) = parse_instant(t) {
        return Some(v);
    }
    let norm = t.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] [year]"
    );
    PrimitiveDateTime::parse(&norm, &fmt).ok().map(|p| p.assume_utc())
}

struct Section {
    header_line: usize,
    inception: OffsetDateTime,
    records: Vec<(usize, Record)>,
}

struct Parsed {
    sections: Vec<Section>,
    generated: (OffsetDateTime, String),
    domain: Name,
}

fn dnssec_err(base_line: usize, e: DnssecError) -> FormatError {
    match e {
        DnssecError::Parse { line, msg } => FormatError::text(base_line + line.saturating_sub(1), msg),
        other => FormatError::text(base_line, other.to_string()),
    }
}

/// Splits the file at its headers and parses each bundle's records.
fn split(text: &str, word: &str, other: &str) -> Result<Parsed> {
    check_size(text.len())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<Section> = Vec::new();
    let mut generated: Option<(OffsetDateTime, String)> = None;
    // Lines of the current bundle's records, and the line they start at.
    let mut chunk = String::new();
    let mut chunk_start = 1;
    let flush = |sections: &mut Vec<Section>, chunk: &mut String, chunk_start: usize| -> Result<()> {
        if let Some(sec) = sections.last_mut() {
            let recs = parse_records(chunk, None, None).map_err(|e| dnssec_err(chunk_start, e))?;
            // parse_records gives no per-record line; report the bundle's header line.
            sec.records.extend(recs.into_iter().map(|r| (sec.header_line, r)));
        }
        chunk.clear();
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        match parse_header(line, lineno, word, other)? {
            Some(h) => {
                if generated.is_some() {
                    return Err(FormatError::text(lineno, format!("`;; {word}` header after the footer")));
                }
                flush(&mut sections, &mut chunk, chunk_start)?;
                chunk_start = lineno + 1;
                match h {
                    Header::Bundle(t) => sections.push(Section { header_line: lineno, inception: t, records: Vec::new() }),
                    Header::Footer(t, g) => generated = Some((t, g)),
                }
            }
            None => {
                let meaningful = {
                    let t = line.trim();
                    !t.is_empty() && !t.starts_with(';')
                };
                if meaningful && sections.is_empty() {
                    return Err(FormatError::text(lineno, format!("record before the first `;; {word} 1.0` header")));
                }
                if meaningful && generated.is_some() {
                    return Err(FormatError::text(lineno, format!("record after the `;; {word} 1.0 generated …` footer")));
                }
                chunk.push_str(line);
                chunk.push('\n');
            }
        }
    }
    flush(&mut sections, &mut chunk, chunk_start)?;
    let last_line = text.lines().count().max(1);
    if sections.is_empty() {
        return Err(FormatError::text(last_line, format!("no `;; {word} 1.0 <time>` bundle header found")));
    }
    let generated = generated.ok_or_else(|| {
        FormatError::text(last_line, format!("missing the `;; {word} 1.0 generated at … by …` footer: the file may be truncated"))
    })?;
    let domain = sections
        .iter()
        .flat_map(|s| s.records.first())
        .map(|(_, r)| r.name.clone())
        .next()
        .ok_or_else(|| FormatError::text(1, "the file holds no records"))?;
    for s in &sections {
        if s.records.is_empty() {
            return Err(FormatError::text(s.header_line, "bundle without records"));
        }
        for (l, r) in &s.records {
            if !same_name(&r.name, &domain) {
                return Err(FormatError::text(
                    *l,
                    format!("record owner {} differs from the zone {} of the first record", to_presentation(&r.name), to_presentation(&domain)),
                ));
            }
        }
    }
    Ok(Parsed { sections, generated, domain })
}

fn bundle_key(r: &Record, k: &Dnskey) -> BundleKey {
    let tag = k.key_tag();
    BundleKey { key_identifier: tag.to_string(), key_tag: tag, ttl: r.ttl, dnskey: k.clone() }
}

/// Reads a text-format KSR (Knot or BIND). Bundles hold only DNSKEY records.
pub fn parse_ksr(text: &str) -> std::result::Result<Ksr, FormatError> {
    let p = split(text, KSR_WORD, SKR_WORD)?;
    let mut bundles = Vec::new();
    for s in &p.sections {
        let mut keys = Vec::new();
        for (l, r) in &s.records {
            match &r.rdata {
                RData::Dnskey(k) => keys.push(bundle_key(r, k)),
                _ => {
                    return Err(FormatError::text(
                        *l,
                        format!("a KSR bundle holds only DNSKEY records, not {}", rtype::name(r.rtype())),
                    ))
                }
            }
        }
        bundles.push(RequestBundle {
            id: s.inception.unix_timestamp().to_string(),
            inception: s.inception,
            expiration: None,
            keys,
            signatures: Vec::new(),
        });
    }
    Ok(Ksr {
        format: Format::Text,
        id: String::new(),
        domain: p.domain,
        serial: None,
        request_policy: None,
        bundles,
        generated: Some(p.generated),
    })
}

/// Reads a text-format SKR (Knot or BIND): DNSKEY, CDNSKEY, CDS and RRSIG
/// records per bundle.
pub fn parse_skr(text: &str) -> std::result::Result<Skr, FormatError> {
    let p = split(text, SKR_WORD, KSR_WORD)?;
    let mut bundles = Vec::new();
    for s in &p.sections {
        let mut b = ResponseBundle {
            id: s.inception.unix_timestamp().to_string(),
            inception: s.inception,
            expiration: None,
            keys: Vec::new(),
            cds: Vec::new(),
            cds_ttl: 0,
            cdnskey: Vec::new(),
            cdnskey_ttl: 0,
            signatures: Vec::new(),
        };
        for (l, r) in &s.records {
            match &r.rdata {
                RData::Dnskey(k) => b.keys.push(bundle_key(r, k)),
                RData::Cdnskey(k) => {
                    if !b.cdnskey.is_empty() && b.cdnskey_ttl != r.ttl {
                        return Err(FormatError::text(*l, "CDNSKEY records of one bundle have different TTLs"));
                    }
                    b.cdnskey_ttl = r.ttl;
                    b.cdnskey.push(k.clone());
                }
                RData::Cds(d) => {
                    if !b.cds.is_empty() && b.cds_ttl != r.ttl {
                        return Err(FormatError::text(*l, "CDS records of one bundle have different TTLs"));
                    }
                    b.cds_ttl = r.ttl;
                    b.cds.push(d.clone());
                }
                RData::Rrsig(g) => b.signatures.push(BundleSignature { key_identifier: None, ttl: r.ttl, rrsig: g.clone() }),
                _ => {
                    return Err(FormatError::text(
                        *l,
                        format!("an SKR bundle holds DNSKEY, CDNSKEY, CDS and RRSIG records, not {}", rtype::name(r.rtype())),
                    ))
                }
            }
        }
        if b.keys.is_empty() {
            return Err(FormatError::text(s.header_line, "SKR bundle without DNSKEY records"));
        }
        bundles.push(b);
    }
    Ok(Skr {
        format: Format::Text,
        id: String::new(),
        domain: p.domain,
        serial: None,
        ksk_policy: None,
        zsk_policy: None,
        bundles,
        generated: Some(p.generated),
    })
}

// ---------------------------------------------------------------------------
// Writing, in Knot DNS's layout (owner padded to 20 columns and a tab,
// binary fields wrapped at 40 characters on lines indented by four tabs).

const INDENT: &str = "\n\t\t\t\t";
const WRAP: usize = 40;

fn owner_field(domain: &Name) -> String {
    let name = to_presentation(domain);
    let sep = if name.len() < 32 { '\t' } else { ' ' };
    format!("{name:<20}{sep}")
}

fn wrapped(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (a, b) = rest.split_at(rest.len().min(WRAP));
        out.push_str(INDENT);
        out.push_str(a);
        rest = b;
    }
    out
}

/// Knot's DNSKEY comment: `KSK, ECDSAP256SHA256 (256b), id = 541`.
fn key_comment(k: &Dnskey) -> String {
    let role = if k.flags & FLAG_SEP != 0 { "KSK" } else { "ZSK" };
    let alg = Algorithm::from_number(k.algorithm).map(|a| a.mnemonic()).unwrap_or("UNKNOWN");
    let bits = match (k.algorithm, k.key_bits()) {
        (0, _) | (_, None) => String::new(),
        (_, Some(b)) => format!(" ({b}b)"),
    };
    format!("{role}, {alg}{bits}, id = {}", k.key_tag())
}

fn write_key_record(out: &mut String, owner: &str, ttl: u32, rtype_name: &str, k: &Dnskey) {
    out.push_str(&format!(
        "{owner}{ttl} {rtype_name} {} {} {} ({}{INDENT}) ; {}\n",
        k.flags,
        k.protocol,
        k.algorithm,
        wrapped(&BASE64.encode(&k.public_key)),
        key_comment(k)
    ));
}

fn write_rrsig(out: &mut String, owner: &str, ttl: u32, g: &Rrsig) {
    out.push_str(&format!(
        "{owner}{ttl} RRSIG {} {} {} {} {} ({INDENT}{} {} {}{}{INDENT})\n",
        rtype::name(g.type_covered),
        g.algorithm,
        g.labels,
        g.original_ttl,
        format_rrsig_time(g.expiration),
        format_rrsig_time(g.inception),
        g.key_tag,
        to_presentation(&g.signer_name),
        wrapped(&BASE64.encode(&g.signature)),
    ));
}

fn header(word: &str, t: OffsetDateTime) -> String {
    format!(";; {word} {VERSION} {} ({}) =========\n", t.unix_timestamp(), format_rfc3339(t))
}

fn footer(word: &str, generated: &Option<(OffsetDateTime, String)>) -> String {
    let (t, by) = match generated {
        Some((t, g)) => (*t, g.clone()),
        None => (OffsetDateTime::now_utc(), format!("kskit {}", env!("CARGO_PKG_VERSION"))),
    };
    format!(";; {word} {VERSION} generated at {} by {by}\n", format_rfc3339(t))
}

/// Writes a KSR in Knot's text layout (header, DNSKEY records, footer). The
/// footer uses `generated` when set, else the current time and `kskit <version>`.
pub fn write_ksr(k: &Ksr) -> String {
    let owner = owner_field(&k.domain);
    let mut out = String::new();
    for b in &k.bundles {
        out.push_str(&header(KSR_WORD, b.inception));
        for key in &b.keys {
            write_key_record(&mut out, &owner, key.ttl, "DNSKEY", &key.dnskey);
        }
    }
    out.push_str(&footer(KSR_WORD, &k.generated));
    out
}

/// Writes an SKR in Knot's text layout: per bundle the header, DNSKEY,
/// CDNSKEY and CDS records, then the RRSIGs; then the footer.
pub fn write_skr(s: &Skr) -> String {
    let owner = owner_field(&s.domain);
    let mut out = String::new();
    for b in &s.bundles {
        out.push_str(&header(SKR_WORD, b.inception));
        for key in &b.keys {
            write_key_record(&mut out, &owner, key.ttl, "DNSKEY", &key.dnskey);
        }
        for k in &b.cdnskey {
            write_key_record(&mut out, &owner, b.cdnskey_ttl, "CDNSKEY", k);
        }
        for d in &b.cds {
            out.push_str(&format!(
                "{owner}{} CDS {} {} {} ({}{INDENT})\n",
                b.cds_ttl,
                d.key_tag,
                d.algorithm,
                d.digest_type,
                wrapped(&HEXUPPER.encode(&d.digest))
            ));
        }
        for g in &b.signatures {
            write_rrsig(&mut out, &owner, g.ttl, &g.rrsig);
        }
    }
    out.push_str(&footer(SKR_WORD, &s.generated));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "example.com. 3600 DNSKEY 256 3 13 QL/aFSekva8E3ReonZhFSj4br0KRzVF8BB3bXWcgpgF2sKzESh108IOkILJsg32Dpt2OQ4O3tSsuX5ztYkhtDQ==\n";

    #[test]
    fn reads_bind_style_headers_and_footer() {
        let t = format!(
            ";; KeySigningRequest 1.0 20261123094519 (Mon Nov 23 09:45:19 2026)\n{KEY}\n;; KeySigningRequest 1.0 generated at Mon Nov 23 09:45:19 2026 by 9.20.4\n"
        );
        let k = parse_ksr(&t).unwrap();
        assert_eq!(k.bundles.len(), 1);
        assert_eq!(k.bundles[0].id, "1795427119");
        assert_eq!(k.bundles[0].keys[0].key_identifier, "14954");
        let (at, by) = k.generated.clone().unwrap();
        assert_eq!(at.unix_timestamp(), 1795427119);
        assert_eq!(by, "9.20.4");
        // Written in Knot's layout, it reads back the same.
        assert_eq!(parse_ksr(&write_ksr(&k)).unwrap(), k);
    }

    #[test]
    fn footer_generator_must_be_printable_ascii() {
        let with = |g: &str| format!(";; SignedKeyResponse 1.0 1795427119 (x)\n{KEY};; SignedKeyResponse 1.0 generated at 2026-11-23T09:45:19Z by {g}\n");
        // BIND's and Knot's generators are accepted.
        for g in ["9.20.28-dev", "Knot DNS 3.2.6"] {
            assert!(split(&with(g), SKR_WORD, KSR_WORD).is_ok(), "{g}");
        }
        for g in ["x\u{1b}[2Jy", "x\ry", &"a".repeat(129)] {
            let e = split(&with(g), SKR_WORD, KSR_WORD).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("SKR-FIELD-SYNTAX") && e.contains("footer generator") && !e.contains('\u{1b}'), "{e}");
        }
    }

    #[test]
    fn refuses_truncation_wrong_kind_and_stray_records() {
        let no_footer = format!(";; KeySigningRequest 1.0 1795427119 (2026-11-23T09:45:19Z) =========\n{KEY}");
        assert!(parse_ksr(&no_footer).unwrap_err().to_string().contains("truncated"));
        let skr = format!(";; SignedKeyResponse 1.0 1795427119 (x) ===\n{KEY};; SignedKeyResponse 1.0 generated at 2026-11-23T09:45:19Z by x\n");
        assert!(parse_ksr(&skr).unwrap_err().to_string().contains("not a KSR"));
        let before = format!("{KEY};; KeySigningRequest 1.0 1795427119 (x)\n{KEY};; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n");
        assert!(parse_ksr(&before).unwrap_err().to_string().starts_with("line 1: record before"));
        let bad_time = format!(";; KeySigningRequest 1.0 soon (x)\n{KEY};; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n");
        assert!(parse_ksr(&bad_time).unwrap_err().to_string().contains("bad bundle time"));
        // A BIND-style header time past 2106 is refused, not wrapped to 1970.
        for (word, parse) in [("KeySigningRequest", true), ("SignedKeyResponse", false)] {
            let late = format!(";; {word} 1.0 21070101000000 (x)\n{KEY};; {word} 1.0 generated at 2026-11-23T09:45:19Z by x\n");
            let e = if parse { parse_ksr(&late).unwrap_err().to_string() } else { parse_skr(&late).unwrap_err().to_string() };
            assert!(e.starts_with("line 1:") && e.contains("out of range"), "{e}");
        }
        let bad_b64 = ";; KeySigningRequest 1.0 1795427119 (x)\nexample.com. 3600 DNSKEY 256 3 13 !!!\n;; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n";
        let e = parse_ksr(bad_b64).unwrap_err().to_string();
        assert!(e.starts_with("line 2:"), "{e}");
        let other = format!(";; KeySigningRequest 1.0 1795427119 (x)\n{}other.org. 3600 DNSKEY 256 3 13 AAAA\n;; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n", KEY);
        assert!(parse_ksr(&other).unwrap_err().to_string().contains("differs from the zone"));
    }
}
