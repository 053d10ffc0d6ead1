//! Zone-file presentation format (RFC 1035 §5.1) for the records kskit
//! handles: parsing (multi-line parentheses, `;` comments, quoted strings,
//! escapes, `$ORIGIN`/`$TTL`, omitted and relative owners, `@`, optional TTL
//! and class in either order, `TYPEnnn`, RFC 3597 `\# len hex`) and printing.
//!
//! DNSKEY/CDNSKEY (RFC 4034 §2.2, RFC 7344 §3.2), DS/CDS (RFC 4034 §5.3,
//! RFC 7344 §3.1), RRSIG (RFC 4034 §3.2) and the RFC 8078 §4 delete forms
//! are parsed into kskit's own types. A, AAAA, NS, CNAME, PTR, DNAME, MX,
//! SRV, TXT and SOA are parsed here into canonical wire RDATA (names
//! lowercased as RFC 4034 §6.2 requires); other types hickory-proto can read
//! go through its text parser (names in their RDATA are then taken relative
//! to the root, not to `$ORIGIN`), and any type can be given in RFC 3597 form.
//!
//! Names are parsed and printed here rather than with hickory-proto's
//! presentation code because RFC 1035 `\DDD` escapes are decimal.

use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE, HEXUPPER};
use hickory_proto::rr::{RData as HRData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, Restrict};

use super::denial;
use super::name::Name;
use super::rdata::{Dnskey, Ds, Rrsig, FLAG_SEP};
use super::record::{rtype, RData, Record};
use super::{Algorithm, DigestType, DnssecError};
use crate::timeutil::{format_rrsig_time, parse_rrsig_time};

/// Largest TTL a zone file may carry (RFC 2181 §8: the top bit is zero).
const MAX_TTL: u32 = 0x7FFF_FFFF;

fn perr(line: usize, msg: impl Into<String>) -> DnssecError {
    DnssecError::Parse { line, msg: msg.into() }
}

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

/// One token: its text as written (escapes kept, quotes removed).
#[derive(Debug, Clone)]
struct Token {
    text: String,
    quoted: bool,
    line: usize,
}

/// One logical entry (a record or a directive), possibly over several lines.
#[derive(Debug)]
struct Entry {
    tokens: Vec<Token>,
    line: usize,
    /// The entry's first line began with white space: the owner is omitted.
    leading_blank: bool,
}

/// Splits zone-file text into entries (RFC 1035 §5.1): parentheses join
/// lines, `;` starts a comment, `"` quotes, `\` escapes the next character.
fn tokenize(text: &str) -> Result<Vec<Entry>, DnssecError> {
    let mut entries = Vec::new();
    tokenize_each(text, |e| {
        entries.push(e);
        Ok(())
    })?;
    Ok(entries)
}

/// [`tokenize`], handing each entry to `each` as soon as it is complete, so
/// that a large zone is never held tokenized whole.
fn tokenize_each(text: &str, mut each: impl FnMut(Entry) -> Result<(), DnssecError>) -> Result<(), DnssecError> {
    // Byte offsets into `text`, always on a character boundary.
    let at = |i: usize| text.get(i..).and_then(|t| t.chars().next());
    let mut tokens: Vec<Token> = Vec::new();
    let mut entry_line = 1;
    let mut leading_blank = false;
    let mut depth = 0usize;
    let mut paren_line = 0usize;
    let mut line = 1usize;
    let mut at_line_start = true;
    let mut i = 0usize;
    let mut flush = |tokens: &mut Vec<Token>, line: usize, blank: bool| -> Result<(), DnssecError> {
        if !tokens.is_empty() {
            each(Entry { tokens: std::mem::take(tokens), line, leading_blank: blank })?;
        }
        Ok(())
    };
    while let Some(c) = at(i) {
        if at_line_start {
            at_line_start = false;
            if depth == 0 {
                entry_line = line;
                leading_blank = c == ' ' || c == '\t';
            }
        }
        match c {
            '\n' => {
                if depth == 0 {
                    flush(&mut tokens, entry_line, leading_blank)?;
                }
                line += 1;
                at_line_start = true;
                i += 1;
            }
            // Any other whitespace (form feed, vertical tab, Unicode spaces)
            // separates tokens too; left to the token branch below it would
            // make an empty token without advancing (an endless loop found by
            // the tamper test).
            c if c.is_whitespace() => i += c.len_utf8(),
            ';' => {
                while let Some(c) = at(i).filter(|c| *c != '\n') {
                    i += c.len_utf8();
                }
            }
            '(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err(perr(line, "')' without a matching '('"));
                }
                depth -= 1;
                i += 1;
            }
            '"' => {
                let start_line = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match at(i) {
                        None | Some('\n') => return Err(perr(start_line, "unterminated quoted string")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            s.push('\\');
                            match at(i + 1) {
                                None | Some('\n') => {
                                    return Err(perr(start_line, "unterminated quoted string (escape at end of line)"))
                                }
                                Some(n) => {
                                    s.push(n);
                                    i += 1 + n.len_utf8();
                                }
                            }
                        }
                        Some(ch) => {
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                tokens.push(Token { text: s, quoted: true, line: start_line });
            }
            _ => {
                let mut s = String::new();
                while let Some(ch) = at(i) {
                    if ch.is_whitespace() || matches!(ch, ';' | '(' | ')' | '"') {
                        break;
                    }
                    if ch == '\\' {
                        match at(i + 1) {
                            None | Some('\n') => return Err(perr(line, "escape '\\' at end of line")),
                            Some(n) => {
                                s.push('\\');
                                s.push(n);
                                i += 1 + n.len_utf8();
                                continue;
                            }
                        }
                    }
                    s.push(ch);
                    i += ch.len_utf8();
                }
                tokens.push(Token { text: s, quoted: false, line });
            }
        }
    }
    if depth > 0 {
        return Err(perr(
            paren_line,
            format!("unterminated parenthesis: '(' opened on line {paren_line} is never closed"),
        ));
    }
    flush(&mut tokens, entry_line, leading_blank)
}

/// Decodes RFC 1035 escapes (`\X`, decimal `\DDD`) of a character-string or
/// label into bytes.
fn unescape(s: &str, line: usize) -> Result<Vec<u8>, DnssecError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        match b.get(i + 1..i + 4) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                let v = d.iter().fold(0u32, |a, x| a * 10 + u32::from(x - b'0'));
                let v = u8::try_from(v).map_err(|_| perr(line, format!("escape \\{} in {s:?} exceeds 255", v, s = crate::quote::Q(s))))?;
                out.push(v);
                i += 4;
            }
            _ => match b.get(i + 1) {
                Some(d) if d.is_ascii_digit() => {
                    return Err(perr(line, format!("bad escape in {s:?}: \\DDD needs three decimal digits", s = crate::quote::Q(s))))
                }
                Some(n) => {
                    out.push(*n);
                    i += 2;
                }
                None => return Err(perr(line, format!("escape at the end of {s:?}", s = crate::quote::Q(s)))),
            },
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// Parses a domain name in presentation format; `@` is the origin, and a
/// name without a trailing (unescaped) dot is relative to `origin`.
fn parse_dname(s: &str, origin: &Name, line: usize) -> Result<Name, DnssecError> {
    if s == "@" {
        return Ok(origin.clone());
    }
    if s == "." {
        return Ok(Name::root());
    }
    let bad = |why: String| perr(line, format!("bad domain name {s:?}: {why}", s = crate::quote::Q(s)));
    let b = s.as_bytes();
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut absolute = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'.' => {
                if cur.is_empty() {
                    return Err(bad("empty label".into()));
                }
                labels.push(std::mem::take(&mut cur));
                if i + 1 == b.len() {
                    absolute = true;
                }
                i += 1;
            }
            b'\\' => {
                // reuse the character-string unescaper on this one escape
                let len = if b.get(i + 1).is_some_and(u8::is_ascii_digit) { 4 } else { 2 };
                let esc = s.get(i..(i + len).min(b.len())).ok_or_else(|| bad("bad escape".into()))?;
                cur.extend(unescape(esc, line)?);
                i += len;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if !cur.is_empty() {
        labels.push(cur);
    }
    if labels.iter().any(|l| l.len() > 63) {
        return Err(bad("a label is longer than 63 octets".into()));
    }
    let name = Name::from_labels(labels.iter().map(|l| l.as_slice())).map_err(|e| bad(e.to_string()))?;
    let name = if absolute { name } else { name.append_domain(origin).map_err(|e| bad(e.to_string()))? };
    if name.len() > 255 {
        return Err(bad("longer than 255 octets".into()));
    }
    Ok(name)
}

/// Prints a name with the trailing dot, escaping as RFC 1035 §5.1 says
/// (special characters with `\`, others outside printable ASCII as `\DDD`).
pub fn format_name(name: &Name) -> String {
    if name.iter().next().is_none() {
        return ".".into();
    }
    let mut out = String::new();
    for label in name.iter() {
        for &c in label {
            match c {
                b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(c as char);
                }
                0x21..=0x7E => out.push(c as char),
                _ => out.push_str(&format!("\\{c:03}")),
            }
        }
        out.push('.');
    }
    out
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

/// The RDATA tokens of one record, read field by field.
struct Fields<'a> {
    toks: &'a [Token],
    pos: usize,
    what: &'a str,
    end_line: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self, field: &str) -> Result<&'a Token, DnssecError> {
        let t = self
            .toks
            .get(self.pos)
            .ok_or_else(|| perr(self.end_line, format!("truncated {}: missing {field}", self.what)))?;
        self.pos += 1;
        Ok(t)
    }
    fn rest(&mut self) -> &'a [Token] {
        let r = self.toks.get(self.pos..).unwrap_or(&[]);
        self.pos = self.toks.len();
        r
    }
    fn finish(&self) -> Result<(), DnssecError> {
        match self.toks.get(self.pos) {
            Some(t) => Err(perr(t.line, format!("unexpected {:?} after the {} data", crate::quote::Q(&t.text), self.what))),
            None => Ok(()),
        }
    }
    fn num<T: std::str::FromStr>(&mut self, field: &str) -> Result<T, DnssecError> {
        let t = self.next(field)?;
        let what = self.what;
        t.text
            .parse::<T>()
            .map_err(|_| perr(t.line, format!("bad {field} {:?} in {what}: expected a number of its range", crate::quote::Q(&t.text))))
    }
    fn algorithm(&mut self) -> Result<u8, DnssecError> {
        let t = self.next("algorithm")?;
        parse_algorithm(&t.text).ok_or_else(|| {
            perr(
                t.line,
                format!(
                    "unknown algorithm {:?} in {}: give a number or an IANA mnemonic such as ECDSAP256SHA256", crate::quote::Q(&t.text), self.what),
            )
        })
    }
    fn name(&mut self, field: &str, origin: &Name) -> Result<Name, DnssecError> {
        let t = self.next(field)?;
        parse_dname(&t.text, origin, t.line)
    }
}

/// IANA "DNS Security Algorithm Numbers" mnemonics (also those kskit cannot
/// use, so that records with them can still be read).
const ALG_MNEMONICS: &[(&str, u8)] = &[
    ("DELETE", 0),
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// An algorithm field: a number 0..=255 or an IANA mnemonic (RFC 4034 §A.1).
fn parse_algorithm(s: &str) -> Option<u8> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    ALG_MNEMONICS.iter().find(|(m, _)| m.eq_ignore_ascii_case(s)).map(|(_, n)| *n)
}

/// Decodes base64 split over tokens; an error names the token at fault.
fn decode_base64(toks: &[Token], what: &str, field: &str, end_line: usize) -> Result<Vec<u8>, DnssecError> {
    let Some(first) = toks.first() else {
        return Err(perr(end_line, format!("truncated {what}: missing {field}")));
    };
    let joined: String = toks.iter().map(|t| t.text.as_str()).collect();
    BASE64.decode(joined.as_bytes()).map_err(|e| {
        let line = token_at(toks, e.position).map_or(first.line, |t| t.line);
        perr(line, format!("bad base64 in {what} {field}: {e}"))
    })
}

/// Decodes hex split over tokens (either case).
fn decode_hex(toks: &[Token], what: &str, field: &str, end_line: usize) -> Result<Vec<u8>, DnssecError> {
    let Some(first) = toks.first() else {
        return Err(perr(end_line, format!("truncated {what}: missing {field}")));
    };
    let joined: String = toks.iter().map(|t| t.text.as_str()).collect();
    HEXLOWER_PERMISSIVE.decode(joined.as_bytes()).map_err(|e| {
        let line = token_at(toks, e.position).map_or(first.line, |t| t.line);
        perr(line, format!("bad hex in {what} {field}: {e}"))
    })
}

/// The token holding byte `pos` of the tokens' concatenation.
fn token_at(toks: &[Token], pos: usize) -> Option<&Token> {
    let mut off = 0;
    for t in toks {
        off += t.text.len();
        if pos < off {
            return Some(t);
        }
    }
    toks.last()
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// Parser state carried from entry to entry.
struct State {
    origin: Name,
    ttl: Option<u32>,
    last_owner: Option<Name>,
    last_ttl: Option<u32>,
}

/// A TTL: seconds, or BIND units (`1h30m`, `2d`, `1w`); at most 2^31-1
/// (RFC 2181 §8).
fn parse_ttl(s: &str, line: usize) -> Result<u32, DnssecError> {
    let bad = || perr(line, format!("bad TTL {s:?}: use seconds or units such as 1h, 2d, 1w", s = crate::quote::Q(s)));
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10).and_then(|v| v.checked_add(u64::from(d))).ok_or_else(bad)?);
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return Err(bad()),
        };
        let n = num.take().ok_or_else(bad)?;
        total = n.checked_mul(mult).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if let Some(n) = num {
        total = total.checked_add(n).ok_or_else(bad)?;
    }
    if s.is_empty() {
        return Err(bad());
    }
    if total > u64::from(MAX_TTL) {
        return Err(perr(line, format!("TTL {s:?} exceeds {MAX_TTL} (RFC 2181 §8)", s = crate::quote::Q(s))));
    }
    Ok(total as u32)
}

fn is_class_in(s: &str) -> bool {
    s.eq_ignore_ascii_case("IN") || s.eq_ignore_ascii_case("CLASS1")
}

fn is_other_class(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    matches!(u.as_str(), "CH" | "CHAOS" | "HS" | "HESIOD" | "CS" | "NONE" | "ANY")
        || u.strip_prefix("CLASS").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The mnemonic of a type, `TYPEnnn` (RFC 3597 §5) for types without one.
pub fn type_mnemonic(t: u16) -> String {
    match RecordType::from(t) {
        RecordType::Unknown(_) => format!("TYPE{t}"),
        _ if t == 0 => "TYPE0".into(),
        rt => rt.to_string(),
    }
}

/// A type field: mnemonic or `TYPEnnn`; meta-types are refused (RFC 6895 §3.1).
fn parse_type(s: &str, line: usize) -> Result<u16, DnssecError> {
    let t = rtype::parse(s).ok_or_else(|| perr(line, format!("unknown record type {s:?}", s = crate::quote::Q(s))))?;
    if t == 0 || t == 41 || (128..=255).contains(&t) {
        return Err(perr(line, format!("record type {s:?} is a meta-type and cannot appear in zone data", s = crate::quote::Q(s))));
    }
    Ok(t)
}

fn parse_directive(e: &Entry, st: &mut State) -> Result<(), DnssecError> {
    let Some(first) = e.tokens.first() else { return Ok(()) };
    let arg = e.tokens.get(1);
    if let Some(extra) = e.tokens.get(2) {
        return Err(perr(extra.line, format!("unexpected {:?} after {}", crate::quote::Q(&extra.text), crate::quote::Q(&first.text))));
    }
    match first.text.to_ascii_uppercase().as_str() {
        "$ORIGIN" => {
            let a = arg.ok_or_else(|| perr(e.line, "$ORIGIN needs a domain name"))?;
            st.origin = parse_dname(&a.text, &st.origin, a.line)?;
        }
        "$TTL" => {
            let a = arg.ok_or_else(|| perr(e.line, "$TTL needs a TTL"))?;
            st.ttl = Some(parse_ttl(&a.text, a.line)?);
        }
        "$INCLUDE" => return Err(perr(e.line, "$INCLUDE is not supported: give the records inline")),
        other => return Err(perr(e.line, format!("unknown directive {other}"))),
    }
    Ok(())
}

fn parse_entry(e: &Entry, st: &mut State) -> Result<Record, DnssecError> {
    let end_line = e.tokens.last().map_or(e.line, |t| t.line);
    let mut toks = e.tokens.iter().peekable();
    let owner = if e.leading_blank {
        st.last_owner.clone().ok_or_else(|| perr(e.line, "no owner name: the first record must name its owner"))?
    } else {
        let t = toks.next().ok_or_else(|| perr(e.line, "empty record"))?;
        parse_dname(&t.text, &st.origin, t.line)?
    };
    let mut ttl: Option<u32> = None;
    let mut class_seen = false;
    let rt = loop {
        let t = toks.next().ok_or_else(|| perr(end_line, "truncated record: missing the record type"))?;
        if t.quoted {
            return Err(perr(t.line, format!("expected TTL, class or type, found quoted {:?}", crate::quote::Q(&t.text))));
        }
        if is_class_in(&t.text) {
            if class_seen {
                return Err(perr(t.line, "class given twice"));
            }
            class_seen = true;
            continue;
        }
        if is_other_class(&t.text) {
            return Err(perr(t.line, format!("class {:?} is not supported: kskit handles class IN only", crate::quote::Q(&t.text))));
        }
        if t.text.starts_with(|c: char| c.is_ascii_digit()) {
            if ttl.is_some() {
                return Err(perr(t.line, format!("second TTL {:?}", crate::quote::Q(&t.text))));
            }
            ttl = Some(parse_ttl(&t.text, t.line)?);
            continue;
        }
        break parse_type(&t.text, t.line)?;
    };
    let ttl =
        ttl.or(st.ttl).or(st.last_ttl).ok_or_else(|| perr(e.line, "no TTL: give one in the record or with $TTL"))?;
    let rest: Vec<Token> = toks.cloned().collect();
    let rdata = parse_rdata_tokens(rt, &rest, &st.origin, end_line)?;
    st.last_owner = Some(owner.clone());
    st.last_ttl = Some(ttl);
    Ok(Record::new(owner, ttl, rdata))
}

/// Parses zone-file text into records. `origin` completes relative names
/// (the root when `None`, until a `$ORIGIN`); `default_ttl` applies to
/// records without a TTL until a `$TTL` (then the previous record's TTL is
/// used, as RFC 1035 §5.1 says). Errors are `DnssecError::Parse` with the
/// 1-based line of the fault.
pub fn parse_records(text: &str, origin: Option<&Name>, default_ttl: Option<u32>) -> Result<Vec<Record>, DnssecError> {
    let mut out = Vec::new();
    parse_records_each(text, origin, default_ttl, |r| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// [`parse_records`], handing each record to `each` as soon as it is
/// parsed: a large zone is never held tokenized or parsed whole (sign-zone
/// keeps only its compact form). An error from `each` stops the parse.
pub fn parse_records_each<E: From<DnssecError>>(
    text: &str,
    origin: Option<&Name>,
    default_ttl: Option<u32>,
    mut each: impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    let mut st = State {
        origin: origin
            .cloned()
            .map(|mut o| {
                o.set_fqdn(true);
                o
            })
            .unwrap_or_else(Name::root),
        ttl: default_ttl,
        last_owner: None,
        last_ttl: None,
    };
    let mut failed: Option<E> = None;
    let r = tokenize_each(text, |e| {
        let is_directive = !e.leading_blank && e.tokens.first().is_some_and(|t| !t.quoted && t.text.starts_with('$'));
        if is_directive {
            parse_directive(&e, &mut st)
        } else {
            let rec = parse_entry(&e, &mut st)?;
            each(rec).map_err(|err| {
                failed = Some(err);
                // Stops the tokenizer; the caller's error is returned below.
                perr(e.line, "stopped")
            })
        }
    });
    match (r, failed) {
        (_, Some(err)) => Err(err),
        (Err(e), None) => Err(e.into()),
        (Ok(()), None) => Ok(()),
    }
}

/// Parses one record (which may span parentheses); names are relative to
/// the root and the TTL must be given.
pub fn parse_record(line: &str) -> Result<Record, DnssecError> {
    let recs = parse_records(line.trim_start(), None, None)?;
    let mut it = recs.into_iter();
    match (it.next(), it.next()) {
        (Some(r), None) => Ok(r),
        (None, _) => Err(perr(1, "no record found")),
        (Some(_), Some(_)) => Err(perr(1, "more than one record found where one was expected")),
    }
}

/// Parses RDATA in presentation format for type `rt` (the part after the
/// type mnemonic), with relative names completed by `origin`.
pub fn parse_rdata(rt: u16, text: &str, origin: &Name) -> Result<RData, DnssecError> {
    let toks: Vec<Token> = tokenize(text)?.into_iter().flat_map(|e| e.tokens).collect();
    let end_line = toks.last().map_or(1, |t| t.line);
    parse_rdata_tokens(rt, &toks, origin, end_line)
}

fn parse_rdata_tokens(rt: u16, toks: &[Token], origin: &Name, end_line: usize) -> Result<RData, DnssecError> {
    let what = type_mnemonic(rt);
    if let Some(first) = toks.first().filter(|t| !t.quoted && t.text == "\\#") {
        return parse_rfc3597(rt, toks.get(1..).unwrap_or(&[]), &what, first.line, end_line);
    }
    let mut f = Fields { toks, pos: 0, what: &what, end_line };
    let rd = match rt {
        rtype::DNSKEY | rtype::CDNSKEY => {
            let flags: u16 = f.num("flags")?;
            let protocol: u8 = f.num("protocol")?;
            let algorithm = f.algorithm()?;
            let rest = f.rest();
            let public_key = if algorithm == 0 && rest.len() == 1 && rest.first().is_some_and(|t| t.text == "0") {
                // RFC 8078 §4 delete form written `0 3 0 0`
                vec![0]
            } else {
                decode_base64(rest, &what, "public key", end_line)?
            };
            let k = Dnskey { flags, protocol, algorithm, public_key };
            if rt == rtype::DNSKEY {
                RData::Dnskey(k)
            } else {
                RData::Cdnskey(k)
            }
        }
        rtype::DS | rtype::CDS => {
            let key_tag: u16 = f.num("key tag")?;
            let algorithm = f.algorithm()?;
            let dt_tok = f.next("digest type")?;
            let digest_type: u8 = dt_tok
                .text
                .parse()
                .ok()
                .or_else(|| dt_tok.text.parse::<DigestType>().ok().map(DigestType::number))
                .ok_or_else(|| perr(dt_tok.line, format!("bad digest type {:?} in {what}", crate::quote::Q(&dt_tok.text))))?;
            let rest = f.rest();
            let digest = decode_hex(rest, &what, "digest", end_line)?;
            check_digest_len(algorithm, digest_type, &digest, rest, &what, end_line)?;
            let d = Ds { key_tag, algorithm, digest_type, digest };
            if rt == rtype::DS {
                RData::Ds(d)
            } else {
                RData::Cds(d)
            }
        }
        rtype::RRSIG => {
            let tc = f.next("type covered")?;
            let type_covered = parse_type(&tc.text, tc.line)?;
            let algorithm = f.algorithm()?;
            let labels: u8 = f.num("labels")?;
            let ot = f.next("original TTL")?;
            let original_ttl: u32 =
                ot.text.parse().map_err(|_| perr(ot.line, format!("bad original TTL {:?} in RRSIG", crate::quote::Q(&ot.text))))?;
            let mut time = |field: &str| -> Result<u32, DnssecError> {
                let t = f.next(field)?;
                parse_rrsig_time(&t.text).ok_or_else(|| {
                    perr(t.line, format!("bad {field} {:?} in RRSIG: use YYYYMMDDHHmmSS or seconds", crate::quote::Q(&t.text)))
                })
            };
            let expiration = time("signature expiration")?;
            let inception = time("signature inception")?;
            let key_tag: u16 = f.num("key tag")?;
            let signer_name = f.name("signer name", origin)?;
            let signature = decode_base64(f.rest(), &what, "signature", end_line)?;
            RData::Rrsig(Rrsig {
                type_covered,
                algorithm,
                labels,
                original_ttl,
                expiration,
                inception,
                key_tag,
                signer_name,
                signature,
            })
        }
        _ => RData::Other { rtype: rt, data: parse_other(rt, &mut f, origin)? },
    };
    f.finish()?;
    Ok(rd)
}

/// RFC 8078 §4 allows the one-octet zero digest of the delete form; a known
/// digest type must otherwise have its digest length (RFC 4509, RFC 6605).
fn check_digest_len(
    algorithm: u8,
    digest_type: u8,
    digest: &[u8],
    toks: &[Token],
    what: &str,
    end_line: usize,
) -> Result<(), DnssecError> {
    if algorithm == 0 {
        return Ok(());
    }
    if let Ok(dt) = DigestType::from_number(digest_type) {
        if digest.len() != dt.digest_len() {
            let line = toks.first().map_or(end_line, |t| t.line);
            return Err(perr(
                line,
                format!("{what} digest has {} bytes but {dt} digests have {}", digest.len(), dt.digest_len()),
            ));
        }
    }
    Ok(())
}

/// RFC 3597 §5 generic RDATA: `\# length hex...`.
fn parse_rfc3597(rt: u16, toks: &[Token], what: &str, line: usize, end_line: usize) -> Result<RData, DnssecError> {
    let (len_tok, hex) =
        toks.split_first().ok_or_else(|| perr(end_line, format!("truncated {what}: \\# needs a length")))?;
    let len: u16 = len_tok
        .text
        .parse()
        .map_err(|_| perr(len_tok.line, format!("bad RFC 3597 length {:?} in {what}", crate::quote::Q(&len_tok.text))))?;
    let data = if hex.is_empty() { Vec::new() } else { decode_hex(hex, what, "RFC 3597 data", end_line)? };
    if data.len() != usize::from(len) {
        return Err(perr(
            line,
            format!("RFC 3597 length {len} does not match the {} bytes given for {what}", data.len()),
        ));
    }
    let rd = RData::from_wire(rt, &data).map_err(|e| perr(line, format!("bad {what} RFC 3597 data: {e}")))?;
    // Types read natively are put into canonical form (lowercased names).
    if let RData::Other { data, .. } = &rd {
        if let Some(text) = format_other_native(rt, data) {
            return parse_rdata(rt, &text, &Name::root()).map_err(|_| perr(line, format!("bad {what} RFC 3597 data")));
        }
    }
    Ok(rd)
}

/// Names in RDATA of these types are lowercased in canonical form
/// (RFC 4034 §6.2 item 3, less NSEC per RFC 6840 §5.1).
fn push_name(out: &mut Vec<u8>, n: &Name) {
    out.extend(super::name::canonical_wire(n));
}

/// Parses the RDATA of a type kskit carries as wire data.
fn parse_other(rt: u16, f: &mut Fields<'_>, origin: &Name) -> Result<Vec<u8>, DnssecError> {
    let mut out = Vec::new();
    match rt {
        rtype::A => {
            let t = f.next("address")?;
            let a: Ipv4Addr = t.text.parse().map_err(|_| perr(t.line, format!("bad IPv4 address {:?}", crate::quote::Q(&t.text))))?;
            out.extend(a.octets());
        }
        rtype::AAAA => {
            let t = f.next("address")?;
            let a: Ipv6Addr = t.text.parse().map_err(|_| perr(t.line, format!("bad IPv6 address {:?}", crate::quote::Q(&t.text))))?;
            out.extend(a.octets());
        }
        rtype::NS | rtype::CNAME | T_PTR | T_DNAME => push_name(&mut out, &f.name("target name", origin)?),
        rtype::MX => {
            out.extend(f.num::<u16>("preference")?.to_be_bytes());
            push_name(&mut out, &f.name("exchange", origin)?);
        }
        T_SRV => {
            for field in ["priority", "weight", "port"] {
                out.extend(f.num::<u16>(field)?.to_be_bytes());
            }
            push_name(&mut out, &f.name("target", origin)?);
        }
        rtype::SOA => {
            push_name(&mut out, &f.name("primary server", origin)?);
            push_name(&mut out, &f.name("responsible mailbox", origin)?);
            out.extend(f.num::<u32>("serial")?.to_be_bytes());
            for field in ["refresh", "retry", "expire", "minimum"] {
                let t = f.next(field)?;
                out.extend(parse_ttl(&t.text, t.line)?.to_be_bytes());
            }
        }
        rtype::TXT => {
            let rest = f.rest();
            if rest.is_empty() {
                return Err(perr(f.end_line, "truncated TXT: missing text"));
            }
            for t in rest {
                let s = unescape(&t.text, t.line)?;
                let len = u8::try_from(s.len())
                    .map_err(|_| perr(t.line, format!("TXT string of {} bytes exceeds 255", s.len())))?;
                out.push(len);
                out.extend(s);
            }
        }
        rtype::NSEC => {
            // RFC 6840 §5.1: the next name keeps its case in canonical form.
            let next = f.name("next domain name", origin)?;
            for label in next.iter() {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            }
            out.push(0);
            out.extend(parse_type_list(f.rest())?);
        }
        rtype::NSEC3 | rtype::NSEC3PARAM => {
            out.push(f.num::<u8>("hash algorithm")?);
            out.push(f.num::<u8>("flags")?);
            out.extend(f.num::<u16>("iterations")?.to_be_bytes());
            let t = f.next("salt")?;
            let salt = denial::parse_salt(&t.text)
                .ok_or_else(|| perr(t.line, format!("bad salt {:?}: hex of at most 255 octets, or -", crate::quote::Q(&t.text))))?;
            out.push(salt.len() as u8);
            out.extend(salt);
            if rt == rtype::NSEC3 {
                let t = f.next("next hashed owner name")?;
                let h = denial::base32hex_decode(&t.text)
                    .filter(|h| !h.is_empty() && h.len() <= 255)
                    .ok_or_else(|| perr(t.line, format!("bad next hashed owner name {:?}: base32hex expected", crate::quote::Q(&t.text))))?;
                out.push(h.len() as u8);
                out.extend(h);
                out.extend(parse_type_list(f.rest())?);
            }
        }
        _ => {
            let rest = f.rest();
            let rtt = RecordType::from(rt);
            if matches!(rtt, RecordType::Unknown(_)) {
                let line = rest.first().map_or(f.end_line, |t| t.line);
                return Err(perr(
                    line,
                    format!("type {} has no known format: give its data as RFC 3597 \\# length hex", type_mnemonic(rt)),
                ));
            }
            let text = rest
                .iter()
                .map(|t| if t.quoted { format!("\"{}\"", crate::quote::Q(&t.text)) } else { t.text.clone() })
                .collect::<Vec<_>>()
                .join(" ");
            let line = rest.first().map_or(f.end_line, |t| t.line);
            let rd = HRData::try_from_str(rtt, &text).map_err(|e| {
                perr(
                    line,
                    format!("cannot read {} data {text:?}: {e}; RFC 3597 \\# form is accepted", type_mnemonic(rt), text = crate::quote::Q(&text)),
                )
            })?;
            out = hickory_canonical(&rd)
                .ok_or_else(|| perr(line, format!("cannot encode {} data", type_mnemonic(rt))))?;
        }
    }
    Ok(out)
}

/// The type list of NSEC/NSEC3 presentation form, as a type bit map.
fn parse_type_list(toks: &[Token]) -> Result<Vec<u8>, DnssecError> {
    let mut types = Vec::with_capacity(toks.len());
    for t in toks {
        types.push(parse_type(&t.text, t.line)?);
    }
    Ok(denial::type_bitmap(&types))
}

fn format_types(types: &[u16]) -> String {
    types.iter().map(|t| format!(" {}", type_mnemonic(*t))).collect()
}

const T_PTR: u16 = 12;
const T_DNAME: u16 = 39;
const T_SRV: u16 = 33;

fn hickory_canonical(rd: &HRData) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_canonical_form(true);
    rd.emit(&mut enc).ok()?;
    Some(buf)
}

// ---------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------

/// RFC 3597 §5 form of any RDATA.
fn rfc3597(data: &[u8]) -> String {
    if data.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {}", data.len(), HEXUPPER.encode(data))
    }
}

/// A character-string in quotes, escaping `"` and `\` and non-printables.
fn quote_string(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &c in s {
        match c {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7E => out.push(c as char),
            _ => out.push_str(&format!("\\{c:03}")),
        }
    }
    out.push('"');
    out
}

/// Reads a name at the start of `data` (wire form, uncompressed).
fn take_name(data: &[u8]) -> Option<(Name, &[u8])> {
    let (n, used) = super::name::from_wire(data).ok()?;
    Some((n, data.get(used..)?))
}

fn take_u16(data: &[u8]) -> Option<(u16, &[u8])> {
    let (h, t) = data.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*h), t))
}

fn take_u32(data: &[u8]) -> Option<(u32, &[u8])> {
    let (h, t) = data.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*h), t))
}

/// Presentation form of the wire RDATA of the types parsed natively.
fn format_other_native(rt: u16, data: &[u8]) -> Option<String> {
    match rt {
        rtype::A => Some(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?).to_string()),
        rtype::AAAA => Some(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?).to_string()),
        rtype::NS | rtype::CNAME | T_PTR | T_DNAME => {
            let (n, rest) = take_name(data)?;
            rest.is_empty().then(|| format_name(&n))
        }
        rtype::MX => {
            let (p, rest) = take_u16(data)?;
            let (n, rest) = take_name(rest)?;
            rest.is_empty().then(|| format!("{p} {}", format_name(&n)))
        }
        T_SRV => {
            let (a, rest) = take_u16(data)?;
            let (b, rest) = take_u16(rest)?;
            let (c, rest) = take_u16(rest)?;
            let (n, rest) = take_name(rest)?;
            rest.is_empty().then(|| format!("{a} {b} {c} {}", format_name(&n)))
        }
        rtype::SOA => {
            let (m, rest) = take_name(data)?;
            let (r, mut rest) = take_name(rest)?;
            let mut nums = Vec::new();
            for _ in 0..5 {
                let (v, t) = take_u32(rest)?;
                nums.push(v.to_string());
                rest = t;
            }
            rest.is_empty().then(|| format!("{} {} {}", format_name(&m), format_name(&r), nums.join(" ")))
        }
        rtype::NSEC => {
            let n = denial::Nsec::from_wire(data).ok()?;
            Some(format!("{}{}", format_name(&n.next), format_types(&n.types)))
        }
        rtype::NSEC3 => {
            let n = denial::Nsec3::from_wire(data).ok()?;
            Some(format!(
                "{} {} {} {} {}{}",
                n.hash_algorithm,
                n.flags,
                n.iterations,
                denial::format_salt(&n.salt),
                denial::base32hex(&n.next_hashed),
                format_types(&n.types)
            ))
        }
        rtype::NSEC3PARAM => {
            let n = denial::Nsec3Param::from_wire(data).ok()?;
            Some(format!("{} {} {} {}", n.hash_algorithm, n.flags, n.iterations, denial::format_salt(&n.salt)))
        }
        rtype::TXT => {
            let mut parts = Vec::new();
            let mut rest = data;
            while let Some((len, t)) = rest.split_first() {
                let s = t.get(..usize::from(*len))?;
                parts.push(quote_string(s));
                rest = t.get(usize::from(*len)..)?;
            }
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        _ => None,
    }
}

/// Presentation form of other types through hickory-proto, used only when
/// it reads back to the same wire data.
fn format_other_hickory(rt: u16, data: &[u8]) -> Option<String> {
    let rtt = RecordType::from(rt);
    if matches!(rtt, RecordType::Unknown(_)) || rt == 0 {
        return None;
    }
    let len = u16::try_from(data.len()).ok()?;
    let mut dec = BinDecoder::new(data);
    let rd = HRData::read(&mut dec, rtt, Restrict::new(len)).ok()?;
    let text = rd.to_string();
    let back = HRData::try_from_str(rtt, &text).ok()?;
    (hickory_canonical(&back)? == data).then_some(text)
}

fn b64_or_empty(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| BASE64.encode(b))
}

/// RDATA in presentation form, on one line (RFC 4034 §2.2, §3.2, §5.3;
/// base64 unbroken, hex uppercase, RRSIG times as YYYYMMDDHHmmSS). Data
/// that has no other faithful form is printed in RFC 3597 form.
pub fn format_rdata(rd: &RData) -> String {
    let s = match rd {
        RData::Dnskey(k) | RData::Cdnskey(k) => {
            b64_or_empty(&k.public_key).map(|b| format!("{} {} {} {}", k.flags, k.protocol, k.algorithm, b))
        }
        RData::Ds(d) | RData::Cds(d) => (!d.digest.is_empty())
            .then(|| format!("{} {} {} {}", d.key_tag, d.algorithm, d.digest_type, HEXUPPER.encode(&d.digest))),
        RData::Rrsig(s) => b64_or_empty(&s.signature).map(|b| format!("{} {}", rrsig_head(s), b)),
        RData::Other { rtype, data } => {
            format_other_native(*rtype, data).or_else(|| format_other_hickory(*rtype, data))
        }
    };
    s.unwrap_or_else(|| rfc3597(&rd.to_wire()))
}

fn rrsig_head(s: &Rrsig) -> String {
    format!(
        "{} {} {} {} {} {} {} {}",
        type_mnemonic(s.type_covered),
        s.algorithm,
        s.labels,
        s.original_ttl,
        format_rrsig_time(s.expiration),
        format_rrsig_time(s.inception),
        s.key_tag,
        format_name(&s.signer_name)
    )
}

/// One record on one line: `owner TTL IN TYPE rdata`, owner with the
/// trailing dot.
pub fn format_record(r: &Record) -> String {
    format!("{} {} IN {} {}", format_name(&r.name), r.ttl, type_mnemonic(r.rtype()), format_rdata(&r.rdata))
}

const INDENT: &str = "\t\t\t\t";
const CHUNK: usize = 44;

fn chunks(s: &str) -> Vec<&str> {
    let mut v = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (a, b) = rest.split_at(rest.len().min(CHUNK));
        v.push(a);
        rest = b;
    }
    v
}

/// The mnemonic for a DNSKEY comment: kskit's name or the IANA one.
fn algorithm_label(n: u8) -> String {
    Algorithm::from_number(n)
        .map(|a| a.mnemonic().to_string())
        .ok()
        .or_else(|| ALG_MNEMONICS.iter().find(|(_, v)| *v == n).map(|(m, _)| (*m).to_string()))
        .unwrap_or_else(|| n.to_string())
}

/// One record in the multi-line style of BIND and Knot: binary fields split
/// over indented lines inside parentheses, and for DNSKEY/CDNSKEY a comment
/// such as `; KSK; alg = ECDSAP256SHA256 ; key id = 541`.
pub fn format_record_multiline(r: &Record) -> String {
    let head = format!("{} {} IN {}", format_name(&r.name), r.ttl, type_mnemonic(r.rtype()));
    let body = |first: String, binary: String| {
        let mut s = format!("{head} {first} (");
        for c in chunks(&binary) {
            s.push('\n');
            s.push_str(INDENT);
            s.push_str(c);
        }
        s
    };
    match &r.rdata {
        RData::Dnskey(k) | RData::Cdnskey(k) if !k.public_key.is_empty() && k.algorithm != 0 => {
            let mut s = body(format!("{} {} {}", k.flags, k.protocol, k.algorithm), BASE64.encode(&k.public_key));
            let kind = if k.flags & FLAG_SEP != 0 { "KSK" } else { "ZSK" };
            s.push_str(&format!(
                "\n{INDENT}) ; {kind}; alg = {} ; key id = {}",
                algorithm_label(k.algorithm),
                k.key_tag()
            ));
            s
        }
        RData::Ds(d) | RData::Cds(d) if !d.digest.is_empty() && d.algorithm != 0 => {
            let mut s = body(format!("{} {} {}", d.key_tag, d.algorithm, d.digest_type), HEXUPPER.encode(&d.digest));
            s.push_str(" )");
            s
        }
        RData::Rrsig(g) if !g.signature.is_empty() => {
            let mut s = format!(
                "{head} {} {} {} {} (\n{INDENT}{} {} {} {}",
                type_mnemonic(g.type_covered),
                g.algorithm,
                g.labels,
                g.original_ttl,
                format_rrsig_time(g.expiration),
                format_rrsig_time(g.inception),
                g.key_tag,
                format_name(&g.signer_name)
            );
            for c in chunks(&BASE64.encode(&g.signature)) {
                s.push('\n');
                s.push_str(INDENT);
                s.push_str(c);
            }
            s.push_str(" )");
            s
        }
        _ => format_record(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::name::parse_name;

    const KSK2010: &str = "AwEAAagAIKlVZrpC6Ia7gEzahOR+9W29euxhJhVVLOyQbSEW0O8gcCjFFVQUTf6v58fLjwBd0YI0EzrAcQqBGCzh/RStIoO8g0NfnfL2MTJRkxoXbfDaUeVPQuYEhg37NZWAJQ9VnMVDxP/VHL496M/QZxkjf5/Efucp2gaDX6RS6CXpoY68LsvPVjR0ZSwzz1apAzvN9dlzEheX7ICJBBtuA6G3LQpzW5hOA2hzCTMjJPJ8LbqF6dsV6DoBQzgul0sGIcGOYl7OyQdXfZ57relSQageu+ipAdTTJ25AsRTAoub8ONGcLmqrAmRLKBP1dfwhYB4N7knNnulqQxA+Uk1ihz0=";

    fn parse_line(line: &str) -> DnssecError {
        match parse_records(line, None, None) {
            Err(e) => e,
            Ok(r) => panic!("expected an error for {line:?}, got {r:?}"),
        }
    }

    /// Asserts a Parse error on `line` whose message contains `needle`.
    fn assert_parse_err(text: &str, line: usize, needle: &str) {
        match parse_records(text, None, None) {
            Err(DnssecError::Parse { line: l, msg }) => {
                assert_eq!(l, line, "wrong line for {msg:?}");
                assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
            }
            other => panic!("expected Parse error at line {line}, got {other:?}"),
        }
    }

    fn rec(text: &str) -> Record {
        parse_record(text).unwrap()
    }

    /// The streaming tokenizer works on byte offsets: multi-byte UTF-8 inside
    /// quoted and unquoted tokens and after escapes is kept whole, and an
    /// error from the callback stops the parse and is returned.
    #[test]
    fn streaming_parse_keeps_multibyte_text_and_stops_on_callback_error() {
        let text = "a. 60 IN TXT \"h\u{e9}llo w\u{f6}rld\" z\u{fc}rich \\\u{e9}\nb. 60 IN A 192.0.2.1\nc. 60 IN A 192.0.2.2\n";
        let all = parse_records(text, None, None).unwrap();
        assert_eq!(all.len(), 3);
        let mut want = Vec::new();
        for part in ["h\u{e9}llo w\u{f6}rld", "z\u{fc}rich", "\u{e9}"] {
            want.push(part.len() as u8);
            want.extend_from_slice(part.as_bytes());
        }
        assert_eq!(all[0].rdata.to_wire(), want);
        let mut seen = 0;
        let r: Result<(), DnssecError> = parse_records_each(text, None, None, |_| {
            seen += 1;
            if seen == 2 {
                return Err(perr(99, "stop here"));
            }
            Ok(())
        });
        assert!(matches!(r, Err(DnssecError::Parse { line: 99, .. })), "{r:?}");
        assert_eq!(seen, 2, "no record after the callback's error");
    }

    /// Regression (tamper test finding): a form feed or other non-blank
    /// whitespace between tokens once made the tokenizer loop forever.
    #[test]
    fn other_whitespace_separates_tokens() {
        for ws in ['\u{c}', '\u{b}', '\u{a0}', '\u{2003}'] {
            let text = format!("example.{ws}3600 IN{ws}A 192.0.2.1");
            let r = parse_records(&text, None, None).unwrap();
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].ttl, 3600);
        }
    }

    #[test]
    fn dnskey_single_line_and_round_trip() {
        let text = format!(". 172800 IN DNSKEY 257 3 8 {KSK2010}");
        let r = rec(&text);
        assert_eq!(r.name, Name::root());
        assert_eq!(r.ttl, 172800);
        let RData::Dnskey(k) = &r.rdata else { panic!("not a DNSKEY") };
        assert_eq!((k.flags, k.protocol, k.algorithm), (257, 3, 8));
        assert_eq!(k.key_tag(), 19036);
        assert_eq!(format_record(&r), text);
        assert_eq!(rec(&format_record_multiline(&r)), r);
    }

    #[test]
    fn multiline_comments_and_split_base64() {
        let (a, b) = KSK2010.split_at(100);
        let (b, c) = b.split_at(77); // not on a base64 quantum boundary
        let text = format!(
            "; a comment line\n\n. 172800 IN DNSKEY 257 3 RSASHA256 ( ; flags proto alg\n   {a}\n\t{b} ; middle\n {c}\n ) ; KSK\n"
        );
        let recs = parse_records(&text, None, None).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0], rec(&format!(". 172800 IN DNSKEY 257 3 8 {KSK2010}")));
        let ml = format_record_multiline(&recs[0]);
        assert!(ml.contains("; KSK; alg = RSASHA256 ; key id = 19036"), "{ml}");
        assert!(ml.lines().count() > 3);
        assert_eq!(parse_records(&ml, None, None).unwrap(), recs);
    }

    #[test]
    fn ds_rrsig_round_trips() {
        let ds = rec(". 86400 IN DS 19036 8 2 49aac11d7b6f6446702e54a1607371607a1a4185 5200fd2ce1cdde32f24e8fb5");
        assert_eq!(
            format_record(&ds),
            ". 86400 IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5"
        );
        assert_eq!(rec(&format_record_multiline(&ds)), ds);

        let sig = rec("www.Example.net. 3600 IN RRSIG A ECDSAP256SHA256 3 3600 20100909100439 1281607479 55648 example.NET. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==");
        let RData::Rrsig(s) = &sig.rdata else { panic!("not an RRSIG") };
        assert_eq!(s.type_covered, rtype::A);
        assert_eq!(s.algorithm, 13);
        assert_eq!(s.expiration, 1284026679);
        assert_eq!(s.inception, 1281607479);
        let line = format_record(&sig);
        assert!(
            line.starts_with(
                "www.Example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.NET. qx6w"
            ),
            "{line}"
        );
        assert_eq!(rec(&line), sig);
        assert_eq!(rec(&format_record_multiline(&sig)), sig);
    }

    #[test]
    fn origin_ttl_owner_rules() {
        let text = "$ORIGIN example.com.\n$TTL 1h\n@ IN 300 A 192.0.2.1\n  A 192.0.2.2\nwww 60 IN AAAA 2001:db8::1\nmail IN MX 10 MX1\n$ORIGIN sub\nx TYPE1 10.0.0.1\n";
        let r = parse_records(text, None, None).unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].name, parse_name("example.com.").unwrap());
        assert_eq!(r[0].ttl, 300);
        assert_eq!(r[1].name, r[0].name);
        assert_eq!(r[1].ttl, 3600, "$TTL applies to records without a TTL");
        assert_eq!(r[1].rdata, RData::Other { rtype: rtype::A, data: vec![192, 0, 2, 2] });
        assert_eq!(r[2].name, parse_name("www.example.com.").unwrap());
        assert_eq!(
            r[3].rdata,
            RData::Other { rtype: rtype::MX, data: b"\x00\x0a\x03mx1\x07example\x03com\x00".to_vec() }
        );
        assert_eq!(r[4].name, parse_name("x.sub.example.com.").unwrap());
        assert_eq!(format_record(&r[3]), "mail.example.com. 3600 IN MX 10 mx1.example.com.");
        // origin parameter and default TTL
        let o = parse_name("zone.").unwrap();
        let r = parse_records("a NS ns\nb 5 NS ns\nc NS ns", Some(&o), Some(7)).unwrap();
        assert_eq!(r[0].name, parse_name("a.zone.").unwrap());
        assert_eq!((r[0].ttl, r[1].ttl, r[2].ttl), (7, 5, 7));
        // without $TTL the previous record's TTL carries over
        let r = parse_records("a. 5 NS ns.\nb. NS ns.", None, None).unwrap();
        assert_eq!(r[1].ttl, 5);
    }

    #[test]
    fn common_types_canonical() {
        let soa = rec("Ex. 3600 IN SOA NS1.Ex. Host\\.Master.Ex. 2024010101 2h 1H 1w 300");
        let w = soa.rdata.to_wire();
        assert!(w.starts_with(b"\x03ns1\x02ex\x00\x0bhost.master\x02ex\x00"), "{w:?}");
        assert_eq!(format_rdata(&soa.rdata), "ns1.ex. host\\.master.ex. 2024010101 7200 3600 604800 300");
        let txt = rec("t. 60 TXT \"hello world\" plain \"q\\\"uote\\\\\" \"\\065\\255\"");
        assert_eq!(txt.rdata.to_wire(), b"\x0bhello world\x05plain\x07q\"uote\\\x02A\xff".to_vec());
        assert_eq!(rec(&format_record(&txt)), txt);
        let cname = rec("c.  60 IN CNAME Target.Example.");
        assert_eq!(cname.rdata.to_wire(), b"\x06target\x07example\x00".to_vec());
        let aaaa = rec("c. 60 AAAA 2001:DB8::1");
        assert_eq!(format_record(&aaaa), "c. 60 IN AAAA 2001:db8::1");
        for r in [soa, cname, aaaa] {
            assert_eq!(rec(&format_record(&r)), r);
        }
        // a type handled by hickory-proto
        let caa = rec("c. 60 CAA 0 issue \"ca.example.net\"");
        assert_eq!(rec(&format_record(&caa)), caa);
    }

    #[test]
    fn rfc3597_and_type_numbers() {
        let r = rec("x. 60 IN TYPE65534 \\# 4 0A0B0c0d");
        assert_eq!(r.rdata, RData::Other { rtype: 65534, data: vec![10, 11, 12, 13] });
        assert_eq!(format_record(&r), "x. 60 IN TYPE65534 \\# 4 0A0B0C0D");
        assert_eq!(rec(&format_record(&r)), r);
        // a known type in generic form is canonicalised
        let ns = rec("x. 60 NS \\# 3 014100");
        assert_eq!(ns.rdata.to_wire(), b"\x01a\x00".to_vec());
        let k = rec("x. 60 TYPE48 \\# 6 0101030D AAFF");
        assert_eq!(
            k.rdata,
            RData::Dnskey(Dnskey { flags: 257, protocol: 3, algorithm: 13, public_key: vec![0xAA, 0xFF] })
        );
        assert_parse_err("x. 60 TYPE65534 1 2", 1, "RFC 3597");
        assert_parse_err("x. 60 TYPE65534 \\# 3 0A0B", 1, "length 3");
    }

    #[test]
    fn delete_forms() {
        let cds = rec("example. 0 IN CDS 0 0 0 00");
        assert_eq!(cds.rdata, RData::Cds(Ds::delete()));
        assert_eq!(format_record(&cds), "example. 0 IN CDS 0 0 0 00");
        let k1 = rec("example. 0 IN CDNSKEY 0 3 0 AA==");
        let k2 = rec("example. 0 IN CDNSKEY 0 3 0 0");
        assert_eq!(k1, k2);
        assert_eq!(k1.rdata, RData::Cdnskey(Dnskey { flags: 0, protocol: 3, algorithm: 0, public_key: vec![0] }));
        assert_eq!(format_record(&k1), "example. 0 IN CDNSKEY 0 3 0 AA==");
        assert_eq!(format_record_multiline(&k1), format_record(&k1));
    }

    #[test]
    fn names_with_escapes() {
        let r = rec("a\\.b.c\\032d.\\\\. 1 A 1.2.3.4");
        let labels: Vec<&[u8]> = r.name.iter().collect();
        assert_eq!(labels, vec![&b"a.b"[..], b"c d", b"\\"]);
        assert_eq!(format_name(&r.name), "a\\.b.c\\032d.\\\\.");
        assert_eq!(rec(&format_record(&r)).name, r.name);
    }

    #[test]
    fn errors_name_the_line() {
        // bad base64 on the third line of a multi-line record
        assert_parse_err("; head\n. 3600 IN DNSKEY 257 3 8 (\n AwEAAa!!\n )", 3, "base64");
        assert_parse_err("a. 1 A 1.2.3.4\nb. 1 IN FOO 1 2 3\n", 2, "unknown record type \"FOO\"");
        assert_parse_err("\n\na. 1 IN DNSKEY 257 3 NOTANALG AwEAAQ==", 3, "unknown algorithm \"NOTANALG\"");
        assert_parse_err(
            "a. 1 IN A 1.2.3.4\nwww 3600 IN RRSIG A 8 3 3600 (\n 20300101000000 20000101000000\n 9033 )",
            4,
            "truncated RRSIG: missing signer name",
        );
        assert_parse_err(
            "a. 1 IN RRSIG A 8 3 3600 20300101000000 20000101000000 9033 example.",
            1,
            "missing signature",
        );
        assert_parse_err("a. 1 A 1.2.3.4\n\nb. 1 IN DS 1 8 2 (\n AABB\n", 3, "unterminated parenthesis");
        assert_parse_err("a. 1 A 1.2.3.4\nb. 3x IN A 1.2.3.4", 2, "bad TTL \"3x\"");
        assert_parse_err("b. 4294967295 IN A 1.2.3.4", 1, "exceeds");
        assert_parse_err("b. 1 IN DS 1 8 2 AABB", 1, "SHA-256 digests have 32");
        assert_parse_err("b. 1 IN DS 1 8 2 AABBZZ", 1, "bad hex");
        assert_parse_err("b. 1 CH A 1.2.3.4", 1, "class IN only");
        assert_parse_err("b. 1 A 1.2.3.4 5", 1, "unexpected \"5\"");
        assert_parse_err("b. 1 A 1.2.3.4 )", 1, "without a matching");
        assert_parse_err("b. 1 TXT \"open", 1, "unterminated quoted");
        assert_parse_err("  1 A 1.2.3.4", 1, "no owner");
        assert_parse_err("b. A 1.2.3.4", 1, "no TTL");
        assert_parse_err("$INCLUDE other.zone", 1, "not supported");
        assert_parse_err("b. 1 IN DNSKEY 256 3", 1, "truncated DNSKEY: missing algorithm");
        assert!(matches!(parse_line("b. 1 IN DNSKEY 256 3 8"), DnssecError::Parse { line: 1, .. }));
        assert!(matches!(parse_record("a. 1 A 1.2.3.4\nb. 1 A 1.2.3.4"), Err(DnssecError::Parse { .. })));
    }

    #[test]
    fn ttl_and_class_in_either_order() {
        let a = rec("a. IN 30 A 1.2.3.4");
        let b = rec("a. 30 IN A 1.2.3.4");
        let c = rec("a. 30s A 1.2.3.4");
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(rec("a. 1h30m A 1.2.3.4").ttl, 5400);
    }
}
