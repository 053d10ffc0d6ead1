//! The Signed Key Response model, shared by both formats.

use time::OffsetDateTime;

use crate::dnssec::{Dnskey, Ds, Name};
use crate::ksr::model::{BundleKey, BundleSignature, Format, SignaturePolicy, TextLayout};

/// One bundle of an SKR: the DNSKEY RRset (ZSKs and KSKs), optional CDS and
/// CDNSKEY RRsets, and the KSK signatures over them, valid from `inception`
/// to `expiration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBundle {
    pub id: String,
    pub inception: OffsetDateTime,
    /// `None` in the text format (the RRSIG expiration tells).
    pub expiration: Option<OffsetDateTime>,
    pub keys: Vec<BundleKey>,
    /// CDS RRset (RFC 7344) and its TTL; empty when not published.
    pub cds: Vec<Ds>,
    pub cds_ttl: u32,
    /// CDNSKEY RRset (RFC 7344) and its TTL; empty when not published.
    pub cdnskey: Vec<Dnskey>,
    pub cdnskey_ttl: u32,
    /// Every RRSIG of the bundle; `type_covered` says which RRset it covers.
    pub signatures: Vec<BundleSignature>,
}

/// A Signed Key Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skr {
    pub format: Format,
    /// IANA: the id of the KSR answered (the root SKR keeps the KSR's id).
    pub id: String,
    pub domain: Name,
    pub serial: Option<u32>,
    /// IANA `<ResponsePolicy>`: the KSK and ZSK policies.
    pub ksk_policy: Option<SignaturePolicy>,
    pub zsk_policy: Option<SignaturePolicy>,
    pub bundles: Vec<ResponseBundle>,
    /// Text format trailer, when present.
    pub generated: Option<(OffsetDateTime, String)>,
    /// Text format: the layout the file came in, or is to be written in
    /// (Knot for the IANA format).
    pub layout: TextLayout,
}
