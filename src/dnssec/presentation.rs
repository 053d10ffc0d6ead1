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
    let chars: Vec<char> = text.chars().collect();
    let mut entries = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut entry_line = 1;
    let mut leading_blank = false;
    let mut depth = 0usize;
    let mut paren_line = 0usize;
    let mut line = 1usize;
    let mut at_line_start = true;
    let mut i = 0usize;
    let flush = |tokens: &mut Vec<Token>, entries: &mut Vec<Entry>, line: usize, blank: bool| {
        if !tokens.is_empty() {
            entries.push(Entry { tokens: std::mem::take(tokens), line, leading_blank: blank });
        }
    };
    while let Some(&c) = chars.get(i) {
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
                    flush(&mut tokens, &mut entries, entry_line, leading_blank);
                }
                line += 1;
                at_line_start = true;
                i += 1;
            }
            ' ' | '\t' | '\r' => i += 1,
            ';' => {
                while chars.get(i).is_some_and(|c| *c != '\n') {
                    i += 1;
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
                    match chars.get(i) {
                        None | Some('\n') => return Err(perr(start_line, "unterminated quoted string")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            s.push('\\');
                            match chars.get(i + 1) {
                                None | Some('\n') => {
                                    return Err(perr(start_line, "unterminated quoted string (escape at end of line)"))
                                }
                                Some(n) => s.push(*n),
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token { text: s, quoted: true, line: start_line });
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace() || matches!(ch, ';' | '(' | ')' | '"') {
                        break;
                    }
                    if ch == '\\' {
                        match chars.get(i + 1) {
                            None | Some('\n') => return Err(perr(line, "escape '\\' at end of line")),
                            Some(n) => {
                                s.push('\\');
                                s.push(*n);
                                i += 2;
                                continue;
                            }
                        }
                    }
                    s.push(ch);
                    i += 1;
                }
                tokens.push(Token { text: s, quoted: false, line });
            }
        }
    }
    if depth > 0 {
        return Err(perr(paren_line, format!("unterminated parenthesis: '(' opened on line {paren_line} is never closed")));
    }
    flush(&mut tokens, &mut entries, entry_line, leading_blank);
    Ok(entries)
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
                let v = u8::try_from(v).map_err(|_| perr(line, format!("escape \\{} in {s:?} exceeds 255", v)))?;
                out.push(v);
                i += 4;
            }
            _ => match b.get(i + 1) {
                Some(d) if d.is_ascii_digit() => {
                    return Err(perr(line, format!("bad escape in {s:?}: \\DDD needs three decimal digits")))
                }
                Some(n) => {
                    out.push(*n);
                    i += 2;
                }
                None => return Err(perr(line, format!("escape at the end of {s:?}"))),
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
    let bad = |why: String| perr(line, format!("bad domain name {s:?}: {why}"));
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
            Some(t) => Err(perr(t.line, format!("unexpected {:?} after the {} data", t.text, self.what))),
            None => Ok(()),
        }
    }
    fn num<T: std::str::FromStr>(&mut self, field: &str) -> Result<T, DnssecError> {
        let t = self.next(field)?;
        let what = self.what;
        t.text
            .parse::<T>()
            .map_err(|_| perr(t.line, format!("bad {field} {:?} in {what}: expected a number of its range", t.text)))
    }
    fn algorithm(&mut self) -> Result<u8, DnssecError> {
        let t = self.next("algorithm")?;
        parse_algorithm(&t.text).ok_or_else(|| {
            perr(t.line, format!("unknown algorithm {:?} in {}: give a number or an IANA mnemonic such as ECDSAP256SHA256", t.text, self.what))
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
    let bad = || perr(line, format!("bad TTL {s:?}: use seconds or units such as 1h, 2d, 1w"));
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
        return Err(perr(line, format!("TTL {s:?} exceeds {MAX_TTL} (RFC 2181 §8)")));
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
    let t = rtype::parse(s).ok_or_else(|| perr(line, format!("unknown record type {s:?}")))?;
    if t == 0 || t == 41 || (128..=255).contains(&t) {
        return Err(perr(line, format!("record type {s:?} is a meta-type and cannot appear in zone data")));
    }
    Ok(t)
}

fn parse_directive(e: &Entry, st: &mut State) -> Result<(), DnssecError> {
    let Some(first) = e.tokens.first() else { return Ok(()) };
    let arg = e.tokens.get(1);
    if let Some(extra) = e.tokens.get(2) {
        return Err(perr(extra.line, format!("unexpected {:?} after {}", extra.text, first.text)));
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
            return Err(perr(t.line, format!("expected TTL, class or type, found quoted {:?}", t.text)));
        }
        if is_class_in(&t.text) {
            if class_seen {
                return Err(perr(t.line, "class given twice"));
            }
            class_seen = true;
            continue;
        }
        if is_other_class(&t.text) {
            return Err(perr(t.line, format!("class {:?} is not supported: kskit handles class IN only", t.text)));
        }
        if t.text.starts_with(|c: char| c.is_ascii_digit()) {
            if ttl.is_some() {
                return Err(perr(t.line, format!("second TTL {:?}", t.text)));
            }
            ttl = Some(parse_ttl(&t.text, t.line)?);
            continue;
        }
        break parse_type(&t.text, t.line)?;
    };
    let ttl = ttl
        .or(st.ttl)
        .or(st.last_ttl)
        .ok_or_else(|| perr(e.line, "no TTL: give one in the record or with $TTL"))?;
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
    let mut st = State {
        origin: origin.cloned().map(|mut o| {
            o.set_fqdn(true);
            o
        }).unwrap_or_else(Name::root),
        ttl: default_ttl,
        last_owner: None,
        last_ttl: None,
    };
    let mut out = Vec::new();
    for e in tokenize(text)? {
        let is_directive =
            !e.leading_blank && e.tokens.first().is_some_and(|t| !t.quoted && t.text.starts_with('$'));
        if is_directive {
            parse_directive(&e, &mut st)?;
        } else {
            out.push(parse_entry(&e, &mut st)?);
        }
    }
    Ok(out)
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
                .ok_or_else(|| perr(dt_tok.line, format!("bad digest type {:?} in {what}", dt_tok.text)))?;
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
                ot.text.parse().map_err(|_| perr(ot.line, format!("bad original TTL {:?} in RRSIG", ot.text)))?;
            let mut time = |field: &str| -> Result<u32, DnssecError> {
                let t = f.next(field)?;
                parse_rrsig_time(&t.text).ok_or_else(|| {
                    perr(t.line, format!("bad {field} {:?} in RRSIG: use YYYYMMDDHHmmSS or seconds", t.text))
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
    let (len_tok, hex) = toks.split_first().ok_or_else(|| perr(end_line, format!("truncated {what}: \\# needs a length")))?;
    let len: u16 = len_tok
        .text
        .parse()
        .map_err(|_| perr(len_tok.line, format!("bad RFC 3597 length {:?} in {what}", len_tok.text)))?;
    let data = if hex.is_empty() { Vec::new() } else { decode_hex(hex, what, "RFC 3597 data", end_line)? };
    if data.len() != usize::from(len) {
        return Err(perr(line, format!("RFC 3597 length {len} does not match the {} bytes given for {what}", data.len())));
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
            let a: Ipv4Addr = t.text.parse().map_err(|_| perr(t.line, format!("bad IPv4 address {:?}", t.text)))?;
            out.extend(a.octets());
        }
        rtype::AAAA => {
            let t = f.next("address")?;
            let a: Ipv6Addr = t.text.parse().map_err(|_| perr(t.line, format!("bad IPv6 address {:?}", t.text)))?;
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
        _ => {
            let rest = f.rest();
            let rtt = RecordType::from(rt);
            if matches!(rtt, RecordType::Unknown(_)) {
                let line = rest.first().map_or(f.end_line, |t| t.line);
                return Err(perr(line, format!("type {} has no known format: give its data as RFC 3597 \\# length hex", type_mnemonic(rt))));
            }
            let text = rest
                .iter()
                .map(|t| if t.quoted { format!("\"{}\"", t.text) } else { t.text.clone() })
                .collect::<Vec<_>>()
                .join(" ");
            let line = rest.first().map_or(f.end_line, |t| t.line);
            let rd = HRData::try_from_str(rtt, &text)
                .map_err(|e| perr(line, format!("cannot read {} data {text:?}: {e}; RFC 3597 \\# form is accepted", type_mnemonic(rt))))?;
            out = hickory_canonical(&rd).ok_or_else(|| perr(line, format!("cannot encode {} data", type_mnemonic(rt))))?;
        }
    }
    Ok(out)
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
