//! The one model that both KSR formats (IANA XML and the Knot/BIND text
//! format) parse into. The checks see only this, never XML or text.

use time::{Duration, OffsetDateTime};

use crate::dnssec::{Algorithm, Dnskey, Name, Rrsig};

/// The file format a KSR or SKR came in (and an SKR is written in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The IANA XML format of the root zone's KSK ceremonies.
    Iana,
    /// The text format Knot DNS and BIND 9.20 share (`;; KeySigningRequest 1.0`).
    Text,
}

/// Whose layout a text-format KSR or SKR is in, and the layout an SKR is
/// written in. The parser tells them apart by the bundle header time; the
/// writer ([`crate::formats::text`]) obeys. Meaningless for the IANA format.
/// See docs/formats.md.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TextLayout {
    /// Knot DNS: header times in Unix seconds (which every Knot version
    /// reads), RFC 3339 in comments, multi-line records.
    #[default]
    Knot,
    /// BIND 9.20 `dnssec-ksr`: header times as `YYYYMMDDHHMMSS` (the only
    /// form BIND's `named` reads), ctime(3) comments, one record per line
    /// in tab-aligned columns.
    Bind,
}

impl TextLayout {
    /// `knot` or `bind`, as `--skr-layout` and `--json` spell it.
    pub fn name(self) -> &'static str {
        match self {
            TextLayout::Knot => "knot",
            TextLayout::Bind => "bind",
        }
    }
}

/// One signature algorithm allowed by a request or response policy, with its
/// parameters (IANA `<SignatureAlgorithm>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    pub algorithm: u8,
    pub params: AlgorithmParams,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmParams {
    /// `<RSA size="2048" exponent="65537"/>`
    Rsa { size: u32, exponent: u64 },
    /// `<ECDSA size="256"/>`
    Ecdsa { size: u32 },
    /// `<EdDSA size="256"/>` (kskit extension; ignored by other readers)
    EdDsa { size: u32 },
    /// No parameters given.
    None,
}

/// The timing and algorithm policy for one key role (IANA `<ZSK>` or `<KSK>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePolicy {
    pub publish_safety: Duration,
    pub retire_safety: Duration,
    pub max_signature_validity: Duration,
    pub min_signature_validity: Duration,
    pub max_validity_overlap: Duration,
    pub min_validity_overlap: Duration,
    pub algorithms: Vec<AlgorithmPolicy>,
}

/// A DNSKEY in a bundle, with the identifier the file gives it. In the IANA
/// format `key_identifier` and `key_tag` are attributes of `<Key>`; in the
/// text format the identifier is the key tag as text and `key_tag` is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleKey {
    pub key_identifier: String,
    /// The key tag the file claims (checked against the computed one).
    pub key_tag: u16,
    pub ttl: u32,
    pub dnskey: Dnskey,
}

/// An RRSIG in a bundle. `key_identifier` names the signing key in the IANA
/// format; the text format has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSignature {
    pub key_identifier: Option<String>,
    pub ttl: u32,
    pub rrsig: Rrsig,
}

/// One bundle (slot) of a KSR: the ZSK DNSKEY set for a period, and (IANA)
/// the proof-of-possession signatures by those ZSKs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBundle {
    /// The IANA bundle id (a UUID); in the text format, the inception as a Unix timestamp.
    pub id: String,
    pub inception: OffsetDateTime,
    /// `None` in the text format, where a bundle lasts until the next one starts.
    pub expiration: Option<OffsetDateTime>,
    pub keys: Vec<BundleKey>,
    pub signatures: Vec<BundleSignature>,
}

/// A Key Signing Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ksr {
    pub format: Format,
    /// IANA `id` attribute (a UUID); for the text format, empty.
    pub id: String,
    pub domain: Name,
    /// IANA `serial` attribute.
    pub serial: Option<u32>,
    /// IANA `<RequestPolicy><ZSK>`; the text format carries none.
    pub request_policy: Option<SignaturePolicy>,
    pub bundles: Vec<RequestBundle>,
    /// Text format: the trailer's generation time and generator (`by Knot DNS 3.2.6`).
    pub generated: Option<(OffsetDateTime, String)>,
    /// Text format: the layout the file came in (Knot for the IANA format).
    pub layout: TextLayout,
}

impl AlgorithmPolicy {
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::from_number(self.algorithm).ok()
    }
}
