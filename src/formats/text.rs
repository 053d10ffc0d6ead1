//! The text KSR/SKR format shared by Knot DNS (`keymgr generate-ksr`,
//! `sign-ksr`, `import-skr`) and BIND 9.20 (`dnssec-ksr request`, `sign`).
//!
//! A file is a sequence of bundles, each a header line
//! `;; KeySigningRequest 1.0 <time> (<human time>) =========` (or
//! `;; SignedKeyResponse 1.0 …`) followed by records in presentation format,
//! and ends with a footer `;; KeySigningRequest 1.0 generated at <time> by
//! <generator>`. Knot writes the bundle time as Unix seconds and the human
//! time as RFC 3339; BIND writes `YYYYMMDDHHMMSS` and a ctime(3) string. Both
//! are read, and the parser records which one a file uses ([`TextLayout`]);
//! the writers obey the model's layout, so an SKR answers a KSR in the
//! layout of the software that wrote it. Records are parsed with
//! `crate::dnssec::presentation`. See docs/formats.md.

use data_encoding::{BASE64, HEXUPPER};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{check_size, FormatError};
use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::presentation::parse_records;
use crate::dnssec::record::rtype;
use crate::dnssec::{Algorithm, DnssecError, Dnskey, Ds, Name, RData, Record, Rrsig, FLAG_SEP};
use crate::ksr::{BundleKey, BundleSignature, Format, Ksr, RequestBundle, TextLayout};
use crate::skr::{ResponseBundle, Skr};
use crate::timeutil::{format_rfc3339, format_rrsig_time, parse_absolute_rrsig_time, parse_instant};

type Result<T> = std::result::Result<T, FormatError>;

const KSR_WORD: &str = "KeySigningRequest";
const SKR_WORD: &str = "SignedKeyResponse";
const VERSION: &str = "1.0";

// ---------------------------------------------------------------------------
// Reading.

enum Header {
    Bundle(OffsetDateTime, TextLayout),
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
        return Err(FormatError::text(lineno, format!("unsupported {word} version {version:?} (kskit reads 1.0)", version = crate::quote::Q(version))));
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
        _ => FormatError::text(lineno, format!("bad bundle time {when:?}: expected Unix seconds (Knot) or YYYYMMDDHHMMSS (BIND)", when = crate::quote::Q(when))),
    })?;
    // BIND writes (and named reads) only the 14-digit form; Knot writes Unix seconds.
    let layout = if when.len() == 14 && when.bytes().all(|b| b.is_ascii_digit()) { TextLayout::Bind } else { TextLayout::Knot };
    Ok(Some(Header::Bundle(t, layout)))
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
    layout: TextLayout,
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
    let mut layout: Option<TextLayout> = None;
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
                    Header::Bundle(t, l) => {
                        if layout.is_some_and(|first| first != l) {
                            return Err(FormatError::text(
                                lineno,
                                "bundle header times mix Unix seconds (Knot's layout) and YYYYMMDDHHMMSS (BIND's layout)",
                            ));
                        }
                        layout = Some(l);
                        sections.push(Section { header_line: lineno, inception: t, records: Vec::new() })
                    }
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
    Ok(Parsed { sections, generated, domain, layout: layout.unwrap_or_default() })
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
        layout: p.layout,
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
        layout: p.layout,
    })
}

// ---------------------------------------------------------------------------
// Writing, in the layout the model names:
// - Knot DNS (`keymgr generate-ksr`, `sign-ksr`): header times in Unix
//   seconds with RFC 3339 in parentheses and a `=========` rule; the owner
//   padded to 20 columns and a tab; binary fields wrapped at 40 characters
//   on lines indented by four tabs; DNSKEYs with Knot's comment; every RRSIG
//   of a bundle after its RRsets.
// - BIND 9.20 (`dnssec-ksr request`, `sign`): header times `YYYYMMDDHHMMSS`
//   with ctime(3) in parentheses; one record per line in BIND's tab-aligned
//   columns (owner, TTL, class IN, type, RDATA; lib/dns/masterdump.c,
//   `dns_master_style_debug`), binary fields in words of 56 characters;
//   each RRset followed by its RRSIGs; an empty line where the DNSKEY RRset
//   changes (where BIND starts answering the next KSR bundle).
// The footer names kskit as the generator, never a string from the input.

const INDENT: &str = "\n\t\t\t\t";
const WRAP: usize = 40;

/// Word length of base64 and hex fields in BIND's files.
const BIND_WORD: usize = 56;
/// BIND's columns for TTL, class, type and RDATA, and its tab width.
const BIND_COLUMNS: [usize; 4] = [24, 32, 40, 48];
const BIND_TAB: usize = 8;

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

/// `s` (base64 or hex, ASCII) in words of [`BIND_WORD`] characters.
fn bind_words(s: &str) -> String {
    let words: Vec<&str> = s.as_bytes().chunks(BIND_WORD).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    words.join(" ")
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

/// `YYYYMMDDHHMMSS` in UTC: BIND's bundle time, the only form BIND's SKR
/// reader takes (lib/dns/skr.c, `dns_time32_fromtext`).
fn time14(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// ctime(3) without the newline, as BIND writes it (`Tue Dec  1 11:00:51
/// 2026`, day padded with a space); in UTC, where BIND uses local time.
fn ctime(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// One record in the layout's form. `rdata_knot` is Knot's multi-line
/// RDATA (with any comment), `rdata_bind` BIND's one-line RDATA.
struct RecordWriter {
    layout: TextLayout,
    owner: String,
    knot_owner: String,
}

impl RecordWriter {
    fn new(domain: &Name, layout: TextLayout) -> Self {
        RecordWriter { layout, owner: to_presentation(domain), knot_owner: owner_field(domain) }
    }

    /// BIND's `indent()`: tabs (then spaces) from column `col` to `to`, at
    /// least one separator when the field already reaches `to`.
    fn bind_indent(out: &mut String, col: &mut usize, to: usize) {
        let to = to.max(*col + 1);
        let tabs = to / BIND_TAB - *col / BIND_TAB;
        let mut from = *col;
        if tabs > 0 {
            out.push_str(&"\t".repeat(tabs));
            from = (to / BIND_TAB) * BIND_TAB;
        }
        out.push_str(&" ".repeat(to - from));
        *col = to;
    }

    fn record(&self, out: &mut String, ttl: u32, rtype_name: &str, rdata_knot: &str, rdata_bind: &str) {
        match self.layout {
            TextLayout::Knot => out.push_str(&format!("{}{ttl} {rtype_name} {rdata_knot}\n", self.knot_owner)),
            TextLayout::Bind => {
                let mut col = 0;
                let fields = [self.owner.as_str(), &ttl.to_string(), "IN", rtype_name];
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        Self::bind_indent(out, &mut col, BIND_COLUMNS[i - 1]);
                    }
                    out.push_str(f);
                    col += f.len();
                }
                Self::bind_indent(out, &mut col, BIND_COLUMNS[3]);
                out.push_str(rdata_bind);
                out.push('\n');
            }
        }
    }

    fn key(&self, out: &mut String, ttl: u32, rtype_name: &str, k: &Dnskey) {
        let b64 = BASE64.encode(&k.public_key);
        let head = format!("{} {} {}", k.flags, k.protocol, k.algorithm);
        let knot = format!("{head} ({}{INDENT}) ; {}", wrapped(&b64), key_comment(k));
        let bind = format!("{head} {}", bind_words(&b64));
        self.record(out, ttl, rtype_name, &knot, &bind);
    }

    fn cds(&self, out: &mut String, ttl: u32, d: &Ds) {
        let hex = HEXUPPER.encode(&d.digest);
        let head = format!("{} {} {}", d.key_tag, d.algorithm, d.digest_type);
        let knot = format!("{head} ({}{INDENT})", wrapped(&hex));
        let bind = format!("{head} {}", bind_words(&hex));
        self.record(out, ttl, "CDS", &knot, &bind);
    }

    fn rrsig(&self, out: &mut String, ttl: u32, g: &Rrsig) {
        let b64 = BASE64.encode(&g.signature);
        let head = format!("{} {} {} {}", rtype::name(g.type_covered), g.algorithm, g.labels, g.original_ttl);
        let (exp, inc, signer) = (format_rrsig_time(g.expiration), format_rrsig_time(g.inception), to_presentation(&g.signer_name));
        let knot = format!("{head} {exp} ({INDENT}{inc} {} {signer}{}{INDENT})", g.key_tag, wrapped(&b64));
        let bind = format!("{head} {exp} {inc} {} {signer} {}", g.key_tag, bind_words(&b64));
        self.record(out, ttl, "RRSIG", &knot, &bind);
    }
}

fn header(word: &str, t: OffsetDateTime, layout: TextLayout) -> String {
    match layout {
        TextLayout::Knot => format!(";; {word} {VERSION} {} ({}) =========\n", t.unix_timestamp(), format_rfc3339(t)),
        TextLayout::Bind => format!(";; {word} {VERSION} {} ({})\n", time14(t), ctime(t)),
    }
}

/// The footer: the model's generation time (else now) and kskit as the
/// generator; whatever generator the input named is not repeated.
fn footer(word: &str, generated: &Option<(OffsetDateTime, String)>, layout: TextLayout) -> String {
    let t = generated.as_ref().map(|(t, _)| *t).unwrap_or_else(OffsetDateTime::now_utc);
    let at = match layout {
        TextLayout::Knot => format_rfc3339(t),
        TextLayout::Bind => ctime(t),
    };
    format!(";; {word} {VERSION} generated at {at} by kskit {}\n", env!("CARGO_PKG_VERSION"))
}

/// Writes a KSR in the text format, in the layout `k.layout` names
/// (header, DNSKEY records, footer). The footer uses `generated`'s time
/// when set, else the current time.
pub fn write_ksr(k: &Ksr) -> String {
    let w = RecordWriter::new(&k.domain, k.layout);
    let mut out = String::new();
    for b in &k.bundles {
        out.push_str(&header(KSR_WORD, b.inception, k.layout));
        for key in &b.keys {
            w.key(&mut out, key.ttl, "DNSKEY", &key.dnskey);
        }
    }
    out.push_str(&footer(KSR_WORD, &k.generated, k.layout));
    out
}

/// Writes an SKR in the text format, in the layout `s.layout` names. Knot:
/// per bundle the header, DNSKEY, CDNSKEY and CDS records, then the RRSIGs.
/// BIND: per bundle the header, then DNSKEY (KSKs first), CDNSKEY and CDS each followed
/// by its RRSIGs (and any other RRSIG last), an empty line before a bundle
/// whose DNSKEY RRset differs from the one before. Then the footer.
pub fn write_skr(s: &Skr) -> String {
    let w = RecordWriter::new(&s.domain, s.layout);
    let mut out = String::new();
    let mut previous: Option<&ResponseBundle> = None;
    for b in &s.bundles {
        if s.layout == TextLayout::Bind && previous.is_some_and(|p| p.keys.iter().map(|k| &k.dnskey).ne(b.keys.iter().map(|k| &k.dnskey))) {
            out.push('\n');
        }
        previous = Some(b);
        out.push_str(&header(SKR_WORD, b.inception, s.layout));
        let sigs = |covered: Option<u16>| {
            let mut o = String::new();
            let known = [rtype::DNSKEY, rtype::CDNSKEY, rtype::CDS];
            for g in b.signatures.iter().filter(|g| match covered {
                Some(t) => g.rrsig.type_covered == t,
                None => !known.contains(&g.rrsig.type_covered),
            }) {
                w.rrsig(&mut o, g.ttl, &g.rrsig);
            }
            o
        };
        let bind = s.layout == TextLayout::Bind;
        // BIND lists the KSKs of the DNSKEY RRset first, then the requested ZSKs.
        let sep_first = |sep: bool| b.keys.iter().filter(move |k| (k.dnskey.flags & FLAG_SEP != 0) == sep);
        let keys: Vec<&BundleKey> = if bind { sep_first(true).chain(sep_first(false)).collect() } else { b.keys.iter().collect() };
        for key in keys {
            w.key(&mut out, key.ttl, "DNSKEY", &key.dnskey);
        }
        if bind {
            out.push_str(&sigs(Some(rtype::DNSKEY)));
        }
        for k in &b.cdnskey {
            w.key(&mut out, b.cdnskey_ttl, "CDNSKEY", k);
        }
        if bind {
            out.push_str(&sigs(Some(rtype::CDNSKEY)));
        }
        for d in &b.cds {
            w.cds(&mut out, b.cds_ttl, d);
        }
        if bind {
            out.push_str(&sigs(Some(rtype::CDS)));
            out.push_str(&sigs(None));
        } else {
            for g in &b.signatures {
                w.rrsig(&mut out, g.ttl, &g.rrsig);
            }
        }
    }
    out.push_str(&footer(SKR_WORD, &s.generated, s.layout));
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
        assert_eq!(k.layout, TextLayout::Bind);
        // Written again it keeps BIND's layout, and the footer names kskit, not the input's generator.
        let out = write_ksr(&k);
        assert_eq!(
            out,
            format!(
                ";; KeySigningRequest 1.0 20261123094519 (Mon Nov 23 09:45:19 2026)\nexample.com.\t\t3600\tIN\tDNSKEY\t256 3 13 QL/aFSekva8E3ReonZhFSj4br0KRzVF8BB3bXWcgpgF2sKzESh108IOk ILJsg32Dpt2OQ4O3tSsuX5ztYkhtDQ==\n;; KeySigningRequest 1.0 generated at Mon Nov 23 09:45:19 2026 by kskit {}\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        let mut again = parse_ksr(&out).unwrap();
        again.generated = k.generated.clone();
        assert_eq!(again, k);
        // In Knot's layout it reads back the same, apart from the layout.
        let knot = Ksr { layout: TextLayout::Knot, ..k.clone() };
        let mut back = parse_ksr(&write_ksr(&knot)).unwrap();
        back.generated = k.generated.clone();
        assert_eq!(back, knot);
    }

    #[test]
    fn header_time_forms_are_not_mixed() {
        let t = format!(
            ";; KeySigningRequest 1.0 20261123094519 (x)\n{KEY};; KeySigningRequest 1.0 1795513519 (x)\n{KEY};; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n"
        );
        let e = parse_ksr(&t).unwrap_err().to_string();
        assert!(e.starts_with("line 3:") && e.contains("mix Unix seconds"), "{e}");
    }

    #[test]
    fn bind_columns_follow_binds_indent_rule() {
        // BIND's masterdump indent(): tabs to the next column, or a single
        // separator (space, or a tab landing on a tab stop) once past it.
        let col = |owner: &str| {
            let mut out = String::new();
            let w = RecordWriter { layout: TextLayout::Bind, owner: owner.into(), knot_owner: String::new() };
            w.record(&mut out, 3600, "DNSKEY", "", "X");
            out
        };
        assert_eq!(col("example.com."), "example.com.\t\t3600\tIN\tDNSKEY\tX\n");
        assert_eq!(col("."), ".\t\t\t3600\tIN\tDNSKEY\tX\n");
        let o30 = format!("{}.", "a".repeat(29));
        assert_eq!(col(&o30), format!("{o30} 3600 IN\tDNSKEY\tX\n"));
        let o31 = format!("{}.", "a".repeat(30));
        assert_eq!(col(&o31), format!("{o31}\t3600 IN\tDNSKEY\tX\n"));
        assert_eq!(bind_words(&"A".repeat(60)), format!("{} AAAA", "A".repeat(56)));
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
