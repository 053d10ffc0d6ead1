//! The IANA XML KSR/SKR format of the root zone's KSK ceremonies
//! (schema: `ksr.rnc` of the ICANN/IANA dnssec-keytools), read and written
//! with quick-xml, plus kskit's documented extensions (`<ECDSA>`/`<EdDSA>`
//! algorithm parameters, `<CDS>`/`<CDNSKEY>` in response bundles). See
//! docs/formats.md.
//!
//! Reading is strict and defensive: DOCTYPE/DTDs are refused outright (so no
//! external entities and no entity expansion beyond the five predefined XML
//! entities and character references), nesting depth and text sizes are
//! bounded, unknown elements and attributes are errors naming them, and
//! required elements must appear exactly once.

use data_encoding::{BASE64, HEXUPPER, HEXUPPER_PERMISSIVE};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::fields::{self, id_ok, key_identifier_ok, ID_RULE, KEY_IDENTIFIER_RULE};
use super::{check_size, FormatError};
use crate::dnssec::name::{parse_name, to_presentation};
use crate::dnssec::record::rtype;
use crate::dnssec::{Dnskey, Ds, Rrsig};
use crate::ksr::{AlgorithmParams, AlgorithmPolicy, BundleKey, BundleSignature, Format, Ksr, RequestBundle, SignaturePolicy};
use crate::skr::{ResponseBundle, Skr};
use crate::timeutil::{format_iso_duration, parse_duration, parse_instant};

/// Deepest element nesting accepted (the format needs 6).
pub const MAX_DEPTH: usize = 32;
/// Largest text of one element or attribute value accepted (1 MiB).
pub const MAX_TEXT: usize = 1024 * 1024;

type Result<T> = std::result::Result<T, FormatError>;

// The check ids of the field syntax rules (crate::ksr::checks, crate::skr::checks).
const KSR_FIELD_SYNTAX: &str = "KSR-FIELD-SYNTAX";
const SKR_FIELD_SYNTAX: &str = "SKR-FIELD-SYNTAX";

// ---------------------------------------------------------------------------
// A small element tree, built with the security limits applied.

#[derive(Debug)]
struct Elem {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Elem>,
    line: usize,
}

fn line_of(src: &str, pos: u64) -> usize {
    let p = usize::try_from(pos).unwrap_or(usize::MAX).min(src.len());
    src.as_bytes().get(..p).map(|b| b.iter().filter(|c| **c == b'\n').count() + 1).unwrap_or(1)
}

fn at_line(line: usize) -> String {
    format!("line {line}")
}

fn new_elem(e: &BytesStart, line: usize) -> Result<Elem> {
    let name = std::str::from_utf8(e.name().as_ref())
        .map_err(|_| FormatError::xml(at_line(line), "element name is not UTF-8"))?
        .to_string();
    let mut attrs: Vec<(String, String)> = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| FormatError::xml(at_line(line), format!("bad attribute on <{name}>: {err}")))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| FormatError::xml(at_line(line), format!("attribute name on <{name}> is not UTF-8")))?
            .to_string();
        if a.value.len() > MAX_TEXT {
            return Err(FormatError::xml(at_line(line), format!("attribute {key} on <{name}> is longer than {MAX_TEXT} bytes")));
        }
        let value = a.unescape_value().map_err(|err| {
            FormatError::xml(at_line(line), format!("bad value of attribute {key} on <{name}> (only the five predefined XML entities are allowed): {err}"))
        })?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Elem { name, attrs, text: String::new(), children: Vec::new(), line })
}

/// Parses XML into an element tree, refusing DTDs, processing instructions,
/// deep nesting, oversize text, unknown entities, text outside the root,
/// several roots, and truncated input.
fn parse_tree(src: &str) -> Result<Elem> {
    check_size(src.len())?;
    let mut reader = Reader::from_str(src);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    // Line numbers counted incrementally (positions only grow): counting from
    // the start at every event made parsing quadratic in the input's size.
    let (mut counted_to, mut line_at) = (0usize, 1usize);
    loop {
        let before = reader.buffer_position();
        let ev = reader.read_event().map_err(|e| {
            FormatError::xml(at_line(line_of(src, reader.error_position())), format!("malformed XML: {e}"))
        })?;
        let pos = usize::try_from(before).unwrap_or(usize::MAX).min(src.len());
        if pos >= counted_to {
            line_at += src.as_bytes().get(counted_to..pos).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0);
            counted_to = pos;
        } else {
            line_at = line_of(src, before);
            counted_to = pos;
        }
        let line = line_at;
        // An element that just ended (or was empty) is attached here.
        let mut finished: Option<Elem> = None;
        match ev {
            Event::DocType(_) => {
                return Err(FormatError::xml(
                    at_line(line),
                    "DOCTYPE declarations are refused: KSR/SKR files need no DTD, and kskit expands no entities beyond the five predefined XML ones",
                ))
            }
            Event::PI(_) => return Err(FormatError::xml(at_line(line), "processing instructions are not allowed")),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(FormatError::xml(at_line(line), format!("elements nested deeper than {MAX_DEPTH} levels")));
                }
                if stack.is_empty() && root.is_some() {
                    return Err(FormatError::xml(at_line(line), "more than one root element"));
                }
                stack.push(new_elem(&e, line)?);
            }
            Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(FormatError::xml(at_line(line), format!("elements nested deeper than {MAX_DEPTH} levels")));
                }
                if stack.is_empty() && root.is_some() {
                    return Err(FormatError::xml(at_line(line), "more than one root element"));
                }
                finished = Some(new_elem(&e, line)?);
            }
            Event::End(_) => {
                // check_end_names makes quick-xml refuse mismatched end tags.
                finished = Some(stack.pop().ok_or_else(|| FormatError::xml(at_line(line), "end tag without start tag"))?);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| {
                    FormatError::xml(at_line(line), format!("bad text (only the five predefined XML entities are allowed): {e}"))
                })?;
                push_text(&mut stack, &text, line)?;
            }
            Event::CData(c) => {
                let text = c.decode().map_err(|e| FormatError::xml(at_line(line), format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &text, line)?;
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(FormatError::xml(
                        at_line(line),
                        format!("unexpected end of input: <{}> (line {}) is not closed; the file is truncated", open.name, open.line),
                    ));
                }
                return root.ok_or_else(|| FormatError::xml(at_line(line), "no root element: the input is empty or not XML"));
            }
        }
        if let Some(el) = finished {
            match stack.last_mut() {
                Some(parent) => parent.children.push(el),
                None => root = Some(el),
            }
        }
    }
}

fn push_text(stack: &mut [Elem], text: &str, line: usize) -> Result<()> {
    match stack.last_mut() {
        Some(top) => {
            if top.text.len() + text.len() > MAX_TEXT {
                return Err(FormatError::xml(at_line(line), format!("text of <{}> is longer than {MAX_TEXT} bytes", top.name)));
            }
            top.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(FormatError::xml(at_line(line), "text outside the root element")),
    }
}

// ---------------------------------------------------------------------------
// Walking the tree strictly, with element paths in errors.

struct Node<'a> {
    el: &'a Elem,
    path: String,
}

impl<'a> Node<'a> {
    fn err(&self, msg: impl Into<String>) -> FormatError {
        FormatError::xml(format!("{} (line {})", self.path, self.el.line), msg)
    }

    fn opt_attr(&self, name: &str) -> Option<&'a str> {
        self.el.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn attr(&self, name: &str) -> Result<&'a str> {
        self.opt_attr(name).ok_or_else(|| self.err(format!("missing required attribute {name}")))
    }

    fn attr_num<T: std::str::FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.attr(name)?;
        v.trim().parse().map_err(|e| self.err(format!("bad number {v:?} in attribute {name}: {e}", v = crate::quote::Q(v))))
    }

    /// Unknown attributes are errors (quick-xml already refuses duplicates).
    fn check_attrs(&self, allowed: &[&str]) -> Result<()> {
        if self.opt_attr("timestamp").is_some() && !allowed.contains(&"timestamp") {
            return Err(self.err("the optional timestamp attribute is not supported by kskit"));
        }
        for (k, _) in &self.el.attrs {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(format!("unknown attribute {k} on <{}> (expected: {})", self.el.name, list(allowed))));
            }
        }
        Ok(())
    }

    /// A container: only the allowed child elements, and no text.
    fn check_children(&self, allowed: &[&str]) -> Result<()> {
        if !self.el.text.trim().is_empty() {
            return Err(self.err(format!("unexpected text {:?} in <{}>", crate::quote::Q(&self.el.text), self.el.name)));
        }
        for c in &self.el.children {
            if !allowed.contains(&c.name.as_str()) {
                let hint = match c.name.as_str() {
                    "Signer" => " (the optional <Signer> element is not supported by kskit)",
                    "DSA" => " (DSA is obsolete: RFC 8624 §3.1 forbids it)",
                    _ => "",
                };
                return Err(self.err(format!(
                    "unknown element <{}> in <{}> at line {}{hint} (expected: {})",
                    c.name,
                    self.el.name,
                    c.line,
                    list(allowed)
                )));
            }
        }
        Ok(())
    }

    fn child_path(&self, c: &Elem, index: usize, count: usize) -> String {
        match c.attrs.iter().find(|(k, _)| k == "id") {
            // An id outside the safe syntax is never quoted in a path (it is refused with its own error).
            Some((_, id)) if c.name.ends_with("Bundle") && id_ok(id) => format!("{}/{}[@id='{}']", self.path, c.name, id),
            _ if count > 1 => format!("{}/{}[{}]", self.path, c.name, index + 1),
            _ => format!("{}/{}", self.path, c.name),
        }
    }

    fn all(&self, name: &str) -> Vec<Node<'a>> {
        let found: Vec<&'a Elem> = self.el.children.iter().filter(|c| c.name == name).collect();
        let n = found.len();
        found.into_iter().enumerate().map(|(i, c)| Node { el: c, path: self.child_path(c, i, n) }).collect()
    }

    /// At most one child `name`; more is an error.
    fn opt(&self, name: &str) -> Result<Option<Node<'a>>> {
        let mut v = self.all(name);
        if v.len() > 1 {
            return Err(self.err(format!("<{name}> appears {} times; it must appear once", v.len())));
        }
        Ok(v.pop())
    }

    /// Exactly one child `name`.
    fn one(&self, name: &str) -> Result<Node<'a>> {
        self.opt(name)?.ok_or_else(|| self.err(format!("missing required element <{name}>")))
    }

    /// A leaf with attributes: no child elements.
    fn no_children(&self) -> Result<()> {
        match self.el.children.first() {
            Some(c) => Err(self.err(format!("unknown element <{}> inside <{}>", c.name, self.el.name))),
            None => Ok(()),
        }
    }

    /// The trimmed text of a leaf element (no attributes, no children).
    fn leaf_text(&self) -> Result<&'a str> {
        if let Some(c) = self.el.children.first() {
            return Err(self.err(format!("unknown element <{}> inside <{}>", c.name, self.el.name)));
        }
        if let Some((k, _)) = self.el.attrs.first() {
            return Err(self.err(format!("unknown attribute {k} on <{}>", self.el.name)));
        }
        Ok(self.el.text.trim())
    }

    fn num<T: std::str::FromStr>(&self) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let t = self.leaf_text()?;
        t.parse().map_err(|e| self.err(format!("bad number {:?}: {e}", crate::quote::Q(t))))
    }

    fn child_num<T: std::str::FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.one(name)?.num()
    }

    fn base64(&self) -> Result<Vec<u8>> {
        let t: String = self.leaf_text()?.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if t.is_empty() {
            return Err(self.err("empty base64 data"));
        }
        BASE64.decode(t.as_bytes()).map_err(|e| self.err(format!("bad base64: {e}")))
    }

    fn datetime(&self) -> Result<OffsetDateTime> {
        let t = self.leaf_text()?;
        if !t.contains('T') {
            return Err(self.err(format!("bad date-time {:?}: expected e.g. 2017-04-01T00:00:00 or 2017-04-01T00:00:00+00:00", crate::quote::Q(t))));
        }
        parse_instant(t)
            .ok_or_else(|| self.err(format!("bad date-time {:?}: expected e.g. 2017-04-01T00:00:00 or 2017-04-01T00:00:00+00:00", crate::quote::Q(t))))
    }

    fn rrsig_time(&self) -> Result<u32> {
        let t = self.datetime()?;
        if t.nanosecond() != 0 {
            return Err(self.err("RRSIG times have whole seconds (RFC 4034 §3.1.5)"));
        }
        u32::try_from(t.unix_timestamp()).map_err(|_| self.err("time is outside the RRSIG range 1970-01-01..2106-02-07"))
    }

    fn duration(&self) -> Result<Duration> {
        let t = self.leaf_text()?;
        if !t.starts_with('P') {
            return Err(self.err(format!("bad duration {:?}: expected an ISO 8601 duration such as P10D or PT0S", crate::quote::Q(t))));
        }
        parse_duration(t).map_err(|e| self.err(e.to_string()))
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// Reading.

const POLICY_DURATIONS: [&str; 6] =
    ["PublishSafety", "RetireSafety", "MaxSignatureValidity", "MinSignatureValidity", "MaxValidityOverlap", "MinValidityOverlap"];

fn parse_policy(n: &Node) -> Result<SignaturePolicy> {
    n.check_attrs(&[])?;
    let mut allowed: Vec<&str> = POLICY_DURATIONS.to_vec();
    allowed.push("SignatureAlgorithm");
    n.check_children(&allowed)?;
    let d = |name: &str| n.one(name).and_then(|c| c.duration());
    let mut algorithms = Vec::new();
    for a in n.all("SignatureAlgorithm") {
        a.check_attrs(&["algorithm"])?;
        a.check_children(&["RSA", "ECDSA", "EdDSA"])?;
        let algorithm: u8 = a.attr_num("algorithm")?;
        if a.el.children.len() > 1 {
            return Err(a.err("more than one parameter element in <SignatureAlgorithm>"));
        }
        let params = match a.el.children.first() {
            None => AlgorithmParams::None,
            Some(c) => {
                let p = Node { el: c, path: format!("{}/{}", a.path, c.name) };
                p.check_children(&[])?;
                match c.name.as_str() {
                    "RSA" => {
                        p.check_attrs(&["size", "exponent"])?;
                        AlgorithmParams::Rsa { size: p.attr_num("size")?, exponent: p.attr_num("exponent")? }
                    }
                    "ECDSA" => {
                        p.check_attrs(&["size"])?;
                        AlgorithmParams::Ecdsa { size: p.attr_num("size")? }
                    }
                    _ => {
                        p.check_attrs(&["size"])?;
                        AlgorithmParams::EdDsa { size: p.attr_num("size")? }
                    }
                }
            }
        };
        algorithms.push(AlgorithmPolicy { algorithm, params });
    }
    if algorithms.is_empty() {
        return Err(n.err("missing required element <SignatureAlgorithm>"));
    }
    Ok(SignaturePolicy {
        publish_safety: d("PublishSafety")?,
        retire_safety: d("RetireSafety")?,
        max_signature_validity: d("MaxSignatureValidity")?,
        min_signature_validity: d("MinSignatureValidity")?,
        max_validity_overlap: d("MaxValidityOverlap")?,
        min_validity_overlap: d("MinValidityOverlap")?,
        algorithms,
    })
}

/// The `keyIdentifier` attribute of `n` (`""` when absent), refused unless
/// it has the safe syntax of [`fields::key_identifier_ok`].
fn key_identifier(n: &Node, check: &str) -> Result<Option<String>> {
    match n.opt_attr("keyIdentifier") {
        None => Ok(None),
        Some(v) if key_identifier_ok(v) => Ok(Some(v.to_string())),
        Some(v) => Err(n.err(fields::refusal(check, "keyIdentifier", v, KEY_IDENTIFIER_RULE))),
    }
}

/// An id attribute (of `<KSR>` or a bundle), refused unless it has the safe
/// syntax of [`fields::id_ok`].
fn id_attr(n: &Node, check: &str, what: &str) -> Result<String> {
    let v = n.attr("id")?;
    if !id_ok(v) {
        return Err(n.err(fields::refusal(check, what, v, ID_RULE)));
    }
    Ok(v.to_string())
}

fn parse_key(n: &Node, check: &str) -> Result<BundleKey> {
    n.check_attrs(&["keyIdentifier", "keyTag"])?;
    n.check_children(&["TTL", "Flags", "Protocol", "Algorithm", "PublicKey"])?;
    Ok(BundleKey {
        key_identifier: key_identifier(n, check)?.unwrap_or_default(),
        key_tag: n.attr_num("keyTag")?,
        ttl: n.child_num("TTL")?,
        dnskey: Dnskey {
            flags: n.child_num("Flags")?,
            protocol: n.child_num("Protocol")?,
            algorithm: n.child_num("Algorithm")?,
            public_key: n.one("PublicKey")?.base64()?,
        },
    })
}

fn parse_signature(n: &Node, check: &str) -> Result<BundleSignature> {
    n.check_attrs(&["keyIdentifier"])?;
    n.check_children(&[
        "TTL",
        "TypeCovered",
        "Algorithm",
        "Labels",
        "OriginalTTL",
        "SignatureExpiration",
        "SignatureInception",
        "KeyTag",
        "SignersName",
        "SignatureData",
    ])?;
    let tc = n.one("TypeCovered")?;
    let tc_text = tc.leaf_text()?;
    let type_covered = rtype::parse(tc_text).ok_or_else(|| tc.err(format!("unknown RR type {:?}", crate::quote::Q(tc_text))))?;
    let signer = n.one("SignersName")?;
    let signer_name = parse_name(signer.leaf_text()?).map_err(|e| signer.err(e.to_string()))?;
    Ok(BundleSignature {
        key_identifier: key_identifier(n, check)?,
        ttl: n.child_num("TTL")?,
        rrsig: Rrsig {
            type_covered,
            algorithm: n.child_num("Algorithm")?,
            labels: n.child_num("Labels")?,
            original_ttl: n.child_num("OriginalTTL")?,
            expiration: n.one("SignatureExpiration")?.rrsig_time()?,
            inception: n.one("SignatureInception")?.rrsig_time()?,
            key_tag: n.child_num("KeyTag")?,
            signer_name,
            signature: n.one("SignatureData")?.base64()?,
        },
    })
}

/// `<CDS ttl="…">keytag algorithm digest-type hex-digest</CDS>` (kskit extension).
fn parse_cds(n: &Node) -> Result<(u32, Ds)> {
    n.check_attrs(&["ttl"])?;
    n.no_children()?;
    let ttl: u32 = n.attr_num("ttl")?;
    let t = n.el.text.trim();
    let mut f = t.split_ascii_whitespace();
    let mut field = |what: &str| f.next().ok_or_else(|| n.err(format!("CDS RDATA {:?} lacks the {what}", crate::quote::Q(t))));
    let key_tag = field("key tag")?.parse().map_err(|e| n.err(format!("bad CDS key tag: {e}")))?;
    let algorithm = field("algorithm")?.parse().map_err(|e| n.err(format!("bad CDS algorithm: {e}")))?;
    let digest_type = field("digest type")?.parse().map_err(|e| n.err(format!("bad CDS digest type: {e}")))?;
    let hex: String = f.collect();
    if hex.is_empty() {
        return Err(n.err("CDS RDATA lacks the digest"));
    }
    let digest = HEXUPPER_PERMISSIVE.decode(hex.as_bytes()).map_err(|e| n.err(format!("bad CDS digest hex: {e}")))?;
    Ok((ttl, Ds { key_tag, algorithm, digest_type, digest }))
}

/// `<CDNSKEY ttl="…">flags protocol algorithm base64-key</CDNSKEY>` (kskit extension).
fn parse_cdnskey(n: &Node) -> Result<(u32, Dnskey)> {
    n.check_attrs(&["ttl"])?;
    n.no_children()?;
    let ttl: u32 = n.attr_num("ttl")?;
    let t = n.el.text.trim();
    let mut f = t.split_ascii_whitespace();
    let mut field = |what: &str| f.next().ok_or_else(|| n.err(format!("CDNSKEY RDATA {:?} lacks the {what}", crate::quote::Q(t))));
    let flags = field("flags")?.parse().map_err(|e| n.err(format!("bad CDNSKEY flags: {e}")))?;
    let protocol = field("protocol")?.parse().map_err(|e| n.err(format!("bad CDNSKEY protocol: {e}")))?;
    let algorithm = field("algorithm")?.parse().map_err(|e| n.err(format!("bad CDNSKEY algorithm: {e}")))?;
    let b64: String = f.collect();
    if b64.is_empty() {
        return Err(n.err("CDNSKEY RDATA lacks the public key"));
    }
    let public_key = BASE64.decode(b64.as_bytes()).map_err(|e| n.err(format!("bad base64 in CDNSKEY: {e}")))?;
    Ok((ttl, Dnskey { flags, protocol, algorithm, public_key }))
}

struct BundleParts {
    id: String,
    inception: OffsetDateTime,
    expiration: OffsetDateTime,
    keys: Vec<BundleKey>,
    signatures: Vec<BundleSignature>,
}

fn parse_bundle_common(n: &Node, extra: &[&str], check: &str) -> Result<BundleParts> {
    n.check_attrs(&["id"])?;
    let mut allowed = vec!["Inception", "Expiration", "Key", "Signature"];
    allowed.extend_from_slice(extra);
    n.check_children(&allowed)?;
    let id = id_attr(n, check, "bundle id")?;
    let inception = n.one("Inception")?.datetime()?;
    let expiration = n.one("Expiration")?.datetime()?;
    let keys = n.all("Key").iter().map(|k| parse_key(k, check)).collect::<Result<Vec<_>>>()?;
    if keys.is_empty() {
        return Err(n.err("missing required element <Key>: a bundle has at least one key"));
    }
    let signatures = n.all("Signature").iter().map(|g| parse_signature(g, check)).collect::<Result<Vec<_>>>()?;
    Ok(BundleParts { id, inception, expiration, keys, signatures })
}

struct Header {
    id: String,
    domain: crate::dnssec::Name,
    serial: Option<u32>,
}

fn parse_header(top: &Node, check: &str) -> Result<Header> {
    top.check_attrs(&["id", "domain", "serial"])?;
    let domain_text = top.attr("domain")?;
    let domain = parse_name(domain_text).map_err(|e| top.err(format!("bad domain attribute: {e}")))?;
    let serial = match top.opt_attr("serial") {
        Some(_) => Some(top.attr_num("serial")?),
        None => None,
    };
    Ok(Header { id: id_attr(top, check, "id")?, domain, serial })
}

fn root_node<'a>(root: &'a Elem) -> Result<Node<'a>> {
    let top = Node { el: root, path: format!("/{}", root.name) };
    if root.name != "KSR" {
        return Err(top.err(format!("the root element is <{}>; a KSR or SKR file has <KSR>", root.name)));
    }
    Ok(top)
}

/// Reads an IANA XML Key Signing Request.
pub fn parse_ksr(xml: &str) -> std::result::Result<Ksr, FormatError> {
    let root = parse_tree(xml)?;
    let top = root_node(&root)?;
    if top.opt("Response")?.is_some() {
        return Err(top.err("this is an SKR (it has <Response>), not a KSR"));
    }
    top.check_children(&["Request"])?;
    let header = parse_header(&top, KSR_FIELD_SYNTAX)?;
    let req = top.one("Request")?;
    req.check_attrs(&[])?;
    req.check_children(&["RequestPolicy", "RequestBundle"])?;
    let request_policy = match req.opt("RequestPolicy")? {
        Some(p) => {
            p.check_attrs(&[])?;
            p.check_children(&["ZSK"])?;
            Some(parse_policy(&p.one("ZSK")?)?)
        }
        None => None,
    };
    let mut bundles = Vec::new();
    for b in req.all("RequestBundle") {
        let p = parse_bundle_common(&b, &[], KSR_FIELD_SYNTAX)?;
        bundles.push(RequestBundle {
            id: p.id,
            inception: p.inception,
            expiration: Some(p.expiration),
            keys: p.keys,
            signatures: p.signatures,
        });
    }
    if bundles.is_empty() {
        return Err(req.err("missing required element <RequestBundle>"));
    }
    Ok(Ksr {
        format: Format::Iana,
        id: header.id,
        domain: header.domain,
        serial: header.serial,
        request_policy,
        bundles,
        generated: None,
        layout: crate::ksr::TextLayout::Knot,
    })
}

/// Reads an IANA XML Signed Key Response (with kskit's CDS/CDNSKEY extension).
pub fn parse_skr(xml: &str) -> std::result::Result<Skr, FormatError> {
    let root = parse_tree(xml)?;
    let top = root_node(&root)?;
    if top.opt("Request")?.is_some() {
        return Err(top.err("this is a KSR (it has <Request>), not an SKR"));
    }
    top.check_children(&["Response"])?;
    let header = parse_header(&top, SKR_FIELD_SYNTAX)?;
    let resp = top.one("Response")?;
    resp.check_attrs(&[])?;
    resp.check_children(&["ResponsePolicy", "ResponseBundle"])?;
    let (ksk_policy, zsk_policy) = match resp.opt("ResponsePolicy")? {
        Some(p) => {
            p.check_attrs(&[])?;
            p.check_children(&["KSK", "ZSK"])?;
            let k = p.opt("KSK")?.map(|n| parse_policy(&n)).transpose()?;
            let z = p.opt("ZSK")?.map(|n| parse_policy(&n)).transpose()?;
            (k, z)
        }
        None => (None, None),
    };
    let mut bundles = Vec::new();
    for b in resp.all("ResponseBundle") {
        let p = parse_bundle_common(&b, &["CDS", "CDNSKEY"], SKR_FIELD_SYNTAX)?;
        let mut cds = Vec::new();
        let mut cds_ttl = None;
        for c in b.all("CDS") {
            let (ttl, ds) = parse_cds(&c)?;
            if cds_ttl.is_some_and(|t| t != ttl) {
                return Err(c.err("all <CDS> of a bundle form one RRset and must have the same ttl"));
            }
            cds_ttl = Some(ttl);
            cds.push(ds);
        }
        let mut cdnskey = Vec::new();
        let mut cdnskey_ttl = None;
        for c in b.all("CDNSKEY") {
            let (ttl, k) = parse_cdnskey(&c)?;
            if cdnskey_ttl.is_some_and(|t| t != ttl) {
                return Err(c.err("all <CDNSKEY> of a bundle form one RRset and must have the same ttl"));
            }
            cdnskey_ttl = Some(ttl);
            cdnskey.push(k);
        }
        bundles.push(ResponseBundle {
            id: p.id,
            inception: p.inception,
            expiration: Some(p.expiration),
            keys: p.keys,
            cds,
            cds_ttl: cds_ttl.unwrap_or(0),
            cdnskey,
            cdnskey_ttl: cdnskey_ttl.unwrap_or(0),
            signatures: p.signatures,
        });
    }
    if bundles.is_empty() {
        return Err(resp.err("missing required element <ResponseBundle>"));
    }
    Ok(Skr {
        format: Format::Iana,
        id: header.id,
        domain: header.domain,
        serial: header.serial,
        ksk_policy,
        zsk_policy,
        bundles,
        generated: None,
        layout: crate::ksr::TextLayout::Knot,
    })
}

// ---------------------------------------------------------------------------
// Writing.

struct W {
    out: String,
    depth: usize,
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

impl W {
    fn new() -> Self {
        W { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), depth: 0 }
    }
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
    fn tag(&mut self, name: &str, attrs: &[(&str, String)], empty: bool) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", esc(v)));
        }
        self.out.push_str(if empty { "/>\n" } else { ">\n" });
    }
    fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.tag(name, attrs, false);
        self.depth += 1;
    }
    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }
    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.tag(name, attrs, true);
    }
    fn leaf_attrs(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", esc(v)));
        }
        self.out.push_str(&format!(">{}</{name}>\n", esc(text)));
    }
    fn leaf(&mut self, name: &str, text: impl AsRef<str>) {
        self.leaf_attrs(name, &[], text.as_ref());
    }
}

/// `2017-04-01T00:00:00+00:00` (UTC; fractional seconds only when present).
fn fmt_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let mut s = t.format(&fmt).unwrap_or_default();
    if t.nanosecond() != 0 {
        let frac = format!("{:09}", t.nanosecond());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push_str("+00:00");
    s
}

fn fmt_rrsig_time(v: u32) -> String {
    fmt_datetime(OffsetDateTime::from_unix_timestamp(i64::from(v)).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

fn write_header_attrs(id: &str, domain: &crate::dnssec::Name, serial: Option<u32>) -> Vec<(&'static str, String)> {
    let mut a = vec![("id", id.to_string()), ("domain", to_presentation(domain))];
    if let Some(s) = serial {
        a.push(("serial", s.to_string()));
    }
    a
}

fn write_policy(w: &mut W, name: &str, p: &SignaturePolicy) {
    w.open(name, &[]);
    w.leaf("PublishSafety", format_iso_duration(p.publish_safety));
    w.leaf("RetireSafety", format_iso_duration(p.retire_safety));
    w.leaf("MaxSignatureValidity", format_iso_duration(p.max_signature_validity));
    w.leaf("MinSignatureValidity", format_iso_duration(p.min_signature_validity));
    w.leaf("MaxValidityOverlap", format_iso_duration(p.max_validity_overlap));
    w.leaf("MinValidityOverlap", format_iso_duration(p.min_validity_overlap));
    for a in &p.algorithms {
        let attrs = [("algorithm", a.algorithm.to_string())];
        match &a.params {
            AlgorithmParams::None => w.empty("SignatureAlgorithm", &attrs),
            params => {
                w.open("SignatureAlgorithm", &attrs);
                match params {
                    AlgorithmParams::Rsa { size, exponent } => {
                        w.empty("RSA", &[("size", size.to_string()), ("exponent", exponent.to_string())])
                    }
                    AlgorithmParams::Ecdsa { size } => w.empty("ECDSA", &[("size", size.to_string())]),
                    AlgorithmParams::EdDsa { size } => w.empty("EdDSA", &[("size", size.to_string())]),
                    AlgorithmParams::None => {}
                }
                w.close("SignatureAlgorithm");
            }
        }
    }
    w.close(name);
}

fn write_key(w: &mut W, k: &BundleKey) {
    let mut attrs = Vec::new();
    if !k.key_identifier.is_empty() {
        attrs.push(("keyIdentifier", k.key_identifier.clone()));
    }
    attrs.push(("keyTag", k.key_tag.to_string()));
    w.open("Key", &attrs);
    w.leaf("TTL", k.ttl.to_string());
    w.leaf("Flags", k.dnskey.flags.to_string());
    w.leaf("Protocol", k.dnskey.protocol.to_string());
    w.leaf("Algorithm", k.dnskey.algorithm.to_string());
    w.leaf("PublicKey", BASE64.encode(&k.dnskey.public_key));
    w.close("Key");
}

fn write_signature(w: &mut W, s: &BundleSignature) {
    let attrs: Vec<(&str, String)> = s.key_identifier.iter().map(|k| ("keyIdentifier", k.clone())).collect();
    w.open("Signature", &attrs);
    let r = &s.rrsig;
    w.leaf("TTL", s.ttl.to_string());
    w.leaf("TypeCovered", rtype::name(r.type_covered));
    w.leaf("Algorithm", r.algorithm.to_string());
    w.leaf("Labels", r.labels.to_string());
    w.leaf("OriginalTTL", r.original_ttl.to_string());
    w.leaf("SignatureExpiration", fmt_rrsig_time(r.expiration));
    w.leaf("SignatureInception", fmt_rrsig_time(r.inception));
    w.leaf("KeyTag", r.key_tag.to_string());
    w.leaf("SignersName", to_presentation(&r.signer_name));
    w.leaf("SignatureData", BASE64.encode(&r.signature));
    w.close("Signature");
}

fn write_times(w: &mut W, inception: OffsetDateTime, expiration: Option<OffsetDateTime>) {
    w.leaf("Inception", fmt_datetime(inception));
    // A text-format bundle has no expiration; the IANA format requires one,
    // so such a model must get expirations before it is written as IANA XML.
    if let Some(e) = expiration {
        w.leaf("Expiration", fmt_datetime(e));
    }
}

/// Writes a KSR as IANA XML (UTF-8, two-space indentation).
pub fn write_ksr(k: &Ksr) -> String {
    let mut w = W::new();
    w.open("KSR", &write_header_attrs(&k.id, &k.domain, k.serial));
    w.open("Request", &[]);
    if let Some(p) = &k.request_policy {
        w.open("RequestPolicy", &[]);
        write_policy(&mut w, "ZSK", p);
        w.close("RequestPolicy");
    }
    for b in &k.bundles {
        w.open("RequestBundle", &[("id", b.id.clone())]);
        write_times(&mut w, b.inception, b.expiration);
        for key in &b.keys {
            write_key(&mut w, key);
        }
        for s in &b.signatures {
            write_signature(&mut w, s);
        }
        w.close("RequestBundle");
    }
    w.close("Request");
    w.close("KSR");
    w.out
}

/// Writes an SKR as IANA XML; CDS/CDNSKEY RRsets, when present, as kskit's
/// `<CDNSKEY>`/`<CDS>` extension elements after the keys.
pub fn write_skr(s: &Skr) -> String {
    let mut w = W::new();
    w.open("KSR", &write_header_attrs(&s.id, &s.domain, s.serial));
    w.open("Response", &[]);
    if s.ksk_policy.is_some() || s.zsk_policy.is_some() {
        w.open("ResponsePolicy", &[]);
        if let Some(p) = &s.ksk_policy {
            write_policy(&mut w, "KSK", p);
        }
        if let Some(p) = &s.zsk_policy {
            write_policy(&mut w, "ZSK", p);
        }
        w.close("ResponsePolicy");
    }
    for b in &s.bundles {
        w.open("ResponseBundle", &[("id", b.id.clone())]);
        write_times(&mut w, b.inception, b.expiration);
        for key in &b.keys {
            write_key(&mut w, key);
        }
        for k in &b.cdnskey {
            let rdata = format!("{} {} {} {}", k.flags, k.protocol, k.algorithm, BASE64.encode(&k.public_key));
            w.leaf_attrs("CDNSKEY", &[("ttl", b.cdnskey_ttl.to_string())], &rdata);
        }
        for d in &b.cds {
            let rdata = format!("{} {} {} {}", d.key_tag, d.algorithm, d.digest_type, HEXUPPER.encode(&d.digest));
            w.leaf_attrs("CDS", &[("ttl", b.cds_ttl.to_string())], &rdata);
        }
        for sig in &b.signatures {
            write_signature(&mut w, sig);
        }
        w.close("ResponseBundle");
    }
    w.close("Response");
    w.close("KSR");
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "<Key keyIdentifier=\"k1\" keyTag=\"1\"><TTL>3600</TTL><Flags>256</Flags><Protocol>3</Protocol><Algorithm>13</Algorithm><PublicKey>AAEC</PublicKey></Key>";

    fn ksr_with_bundle(bundle_body: &str) -> String {
        format!(
            "<KSR id=\"x\" domain=\".\" serial=\"1\"><Request><RequestBundle id=\"b1\">{bundle_body}</RequestBundle></Request></KSR>"
        )
    }

    fn xml_err(r: std::result::Result<Ksr, FormatError>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(_) => "parsed".into(),
        }
    }

    #[test]
    fn minimal_ksr_and_policy_free_round_trip() {
        let x = ksr_with_bundle(&format!(
            "<Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00Z</Expiration>{KEY}"
        ));
        let k = parse_ksr(&x).unwrap();
        assert_eq!(k.bundles.len(), 1);
        assert_eq!(k.bundles[0].keys[0].dnskey.public_key, vec![0, 1, 2]);
        assert_eq!(parse_ksr(&write_ksr(&k)).unwrap(), k);
    }

    #[test]
    fn missing_inception_names_element_and_bundle() {
        let e = xml_err(parse_ksr(&ksr_with_bundle(&format!("<Expiration>2026-01-22T00:00:00</Expiration>{KEY}"))));
        assert!(e.contains("<Inception>") && e.contains("b1"), "{e}");
    }

    #[test]
    fn duplicate_singleton_is_an_error() {
        let e = xml_err(parse_ksr(&ksr_with_bundle(&format!(
            "<Inception>2026-01-01T00:00:00</Inception><Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00</Expiration>{KEY}"
        ))));
        assert!(e.contains("<Inception> appears 2 times"), "{e}");
    }

    #[test]
    fn unknown_element_and_attribute_are_named() {
        let e = xml_err(parse_ksr(&ksr_with_bundle(&format!(
            "<Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00</Expiration><Bogus/>{KEY}"
        ))));
        assert!(e.contains("unknown element <Bogus>"), "{e}");
        let x = ksr_with_bundle(&format!("<Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00</Expiration>{KEY}"))
            .replace("serial=\"1\"", "serial=\"1\" evil=\"1\"");
        let e = xml_err(parse_ksr(&x));
        assert!(e.contains("unknown attribute evil"), "{e}");
    }

    #[test]
    fn refuses_doctype_entities_depth_and_truncation() {
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE KSR [<!ENTITY a \"aaaa\">]><KSR id=\"&a;\" domain=\".\"/>";
        assert!(xml_err(parse_ksr(dtd)).contains("DOCTYPE"));
        let ent = "<KSR id=\"&xxe;\" domain=\".\"/>";
        assert!(xml_err(parse_ksr(ent)).contains("entities"));
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert!(xml_err(parse_ksr(&deep)).contains("nested deeper"));
        let trunc = "<KSR id=\"x\" domain=\".\"><Request>";
        assert!(xml_err(parse_ksr(trunc)).contains("truncated"));
        let big_text = format!("<KSR id=\"x\" domain=\".\">{}</KSR>", "a".repeat(MAX_TEXT + 1));
        assert!(xml_err(parse_ksr(&big_text)).contains("longer than"));
        let pi = "<?evil stuff?><KSR id=\"x\" domain=\".\"/>";
        assert!(xml_err(parse_ksr(pi)).contains("processing instructions"));
    }

    #[test]
    fn cds_cdnskey_extension_round_trips() {
        let x = "<KSR id=\"x\" domain=\"example.com.\"><Response><ResponseBundle id=\"b\">\
            <Inception>2026-01-01T00:00:00Z</Inception><Expiration>2026-01-15T00:00:00Z</Expiration>\
            <Key keyTag=\"1\"><TTL>3600</TTL><Flags>257</Flags><Protocol>3</Protocol><Algorithm>13</Algorithm><PublicKey>AAEC</PublicKey></Key>\
            <CDNSKEY ttl=\"0\">257 3 13 AAEC</CDNSKEY><CDNSKEY ttl=\"0\">0 3 0 AA==</CDNSKEY>\
            <CDS ttl=\"0\">541 13 2 05913ccead</CDS>\
            <Signature><TTL>0</TTL><TypeCovered>CDS</TypeCovered><Algorithm>13</Algorithm><Labels>2</Labels><OriginalTTL>0</OriginalTTL>\
            <SignatureExpiration>2026-01-15T00:00:00</SignatureExpiration><SignatureInception>2026-01-01T00:00:00</SignatureInception>\
            <KeyTag>541</KeyTag><SignersName>example.com.</SignersName><SignatureData>AAAA</SignatureData></Signature>\
            </ResponseBundle></Response></KSR>";
        let s = parse_skr(x).unwrap();
        let b = &s.bundles[0];
        assert_eq!(b.cds, vec![Ds { key_tag: 541, algorithm: 13, digest_type: 2, digest: vec![0x05, 0x91, 0x3c, 0xce, 0xad] }]);
        assert_eq!(b.cdnskey.len(), 2);
        assert_eq!(b.cdnskey[1].public_key, vec![0]);
        assert_eq!(b.signatures[0].rrsig.type_covered, rtype::CDS);
        assert_eq!(b.signatures[0].key_identifier, None);
        assert_eq!(b.keys[0].key_identifier, "");
        let out = write_skr(&s);
        assert!(out.contains("<CDS ttl=\"0\">541 13 2 05913CCEAD</CDS>"), "{out}");
        assert_eq!(parse_skr(&out).unwrap(), s);
        let bad_ttl = x.replace("<CDNSKEY ttl=\"0\">0 3", "<CDNSKEY ttl=\"5\">0 3");
        assert!(parse_skr(&bad_ttl).unwrap_err().to_string().contains("same ttl"));
    }

    #[test]
    fn kskit_algorithm_params_round_trip() {
        let p = SignaturePolicy {
            publish_safety: Duration::days(10),
            retire_safety: Duration::ZERO,
            max_signature_validity: Duration::days(21),
            min_signature_validity: Duration::days(14),
            max_validity_overlap: Duration::hours(36),
            min_validity_overlap: Duration::days(9),
            algorithms: vec![
                AlgorithmPolicy { algorithm: 13, params: AlgorithmParams::Ecdsa { size: 256 } },
                AlgorithmPolicy { algorithm: 15, params: AlgorithmParams::EdDsa { size: 256 } },
                AlgorithmPolicy { algorithm: 8, params: AlgorithmParams::None },
            ],
        };
        let x = ksr_with_bundle(&format!("<Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00</Expiration>{KEY}"));
        let mut k = parse_ksr(&x).unwrap();
        k.request_policy = Some(p);
        let out = write_ksr(&k);
        assert!(out.contains("<ECDSA size=\"256\"/>") && out.contains("<EdDSA size=\"256\"/>") && out.contains("P1DT12H"), "{out}");
        assert_eq!(parse_ksr(&out).unwrap(), k);
        let dsa = out.replace("<ECDSA size=\"256\"/>", "<DSA size=\"1024\"/>");
        assert!(xml_err(parse_ksr(&dsa)).contains("DSA is obsolete"));
    }

    #[test]
    fn unsafe_ids_and_key_identifiers_are_refused_naming_the_field() {
        let body = format!("<Inception>2026-01-01T00:00:00</Inception><Expiration>2026-01-22T00:00:00</Expiration>{KEY}");
        // A newline and record text in a bundle id (as a character reference:
        // attribute values are unescaped), once exported as zone-file records.
        let evil = ksr_with_bundle(&body).replace("id=\"b1\"", "id=\"b1&#10;. 3600 IN A 192.0.2.1\"");
        let e = xml_err(parse_ksr(&evil));
        assert!(e.contains("KSR-FIELD-SYNTAX") && e.contains("bundle id") && !e.contains('\n'), "{e}");
        let skr = evil.replace("Request", "Response");
        let e = parse_skr(&skr).unwrap_err().to_string();
        assert!(e.contains("SKR-FIELD-SYNTAX") && e.contains("bundle id") && !e.contains('\n'), "{e}");
        let esc = ksr_with_bundle(&body).replace("keyIdentifier=\"k1\"", "keyIdentifier=\"k&#27;[2J\"");
        let e = xml_err(parse_ksr(&esc));
        assert!(e.contains("keyIdentifier") && !e.contains('\u{1b}'), "{e}");
        let long_id = ksr_with_bundle(&body).replace("<KSR id=\"x\"", &format!("<KSR id=\"{}\"", "a".repeat(65)));
        assert!(xml_err(parse_ksr(&long_id)).contains("KSR-FIELD-SYNTAX"));
        let empty_id = ksr_with_bundle(&body).replace("id=\"b1\"", "id=\"\"");
        assert!(xml_err(parse_ksr(&empty_id)).contains("bundle id"));
    }

    #[test]
    fn wrong_kind_is_reported() {
        let x = "<KSR id=\"x\" domain=\".\"><Response/></KSR>";
        assert!(xml_err(parse_ksr(x)).contains("not a KSR"));
        let y = "<KSR id=\"x\" domain=\".\"><Request/></KSR>";
        assert!(parse_skr(y).unwrap_err().to_string().contains("not an SKR"));
    }
}
