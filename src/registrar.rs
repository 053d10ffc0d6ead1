//! DS and DNSKEY data in the forms registrars ask for: presentation lines,
//! JSON, the RFC 5910 secDNS-1.1 EPP extension (`dsData`, `keyData`), and a
//! field-by-field listing for registrar web forms (names and numbers both,
//! since those forms confuse them). Pure functions: the CLI (`kskit key ds`,
//! `kskit trust-anchor`) prints what they return.
//!
//! Every value here comes from the key itself (computed DS, the DNSKEY
//! RDATA) except the zone name, which is escaped for XML.

use serde::Serialize;

use crate::dnssec::presentation::format_record;
use crate::dnssec::{Algorithm, DigestType, Dnskey, Ds, Name, RData, Record};
use crate::markup::escape;

/// RFC 5910 §4 XML namespace of the DNSSEC EPP extension.
pub const SECDNS_NS: &str = "urn:ietf:params:xml:ns:secDNS-1.1";

/// The output forms of `key ds` and `trust-anchor`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsFormat {
    /// DS record(s) in zone-file presentation format.
    Presentation,
    /// JSON: key tag, algorithm number and mnemonic, digest type number and name, digest.
    Json,
    /// RFC 5910 secDNS-1.1 `<secDNS:create>` with one `<secDNS:dsData>` per digest (EPP).
    Epp,
    /// RFC 5910 secDNS-1.1 `<secDNS:create>` with `<secDNS:keyData>` (registries that take keys).
    EppKey,
    /// One field per line, as registrar web forms ask: names and numbers both.
    Fields,
}

/// An algorithm as both number and mnemonic.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlgorithmOut {
    pub number: u8,
    /// The IANA mnemonic; `null` for a number kskit does not know.
    pub mnemonic: Option<&'static str>,
}

impl AlgorithmOut {
    fn of(n: u8) -> Self {
        AlgorithmOut { number: n, mnemonic: Algorithm::from_number(n).ok().map(Algorithm::mnemonic) }
    }
}

/// A DS digest type as both number and name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestTypeOut {
    pub number: u8,
    /// "SHA-256", "SHA-384", "SHA-1"; `null` for an unknown number.
    pub name: Option<String>,
}

/// One DS record, every field separate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DsOut {
    pub key_tag: u16,
    pub algorithm: AlgorithmOut,
    pub digest_type: DigestTypeOut,
    /// Hex, upper case (as in presentation format).
    pub digest: String,
    /// The whole record in presentation format.
    pub record: String,
}

/// The DNSKEY the DS records hash, every field separate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DnskeyOut {
    pub flags: u16,
    pub protocol: u8,
    pub algorithm: AlgorithmOut,
    /// Base64, as in presentation format and EPP `pubKey`.
    pub public_key: String,
    pub record: String,
}

/// The JSON document of `key ds --format json` and `trust-anchor --format json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DsReport {
    /// Keystore id of the key.
    pub id: String,
    /// Zone (owner name of the DS and DNSKEY), absolute, in presentation format.
    pub zone: String,
    pub key_tag: u16,
    pub ds: Vec<DsOut>,
    pub dnskey: DnskeyOut,
}

/// The DS records of `key` at `zone` for each digest type, and the key.
pub fn report(id: &str, zone: &Name, key: &Dnskey, digests: &[DigestType], ttl: u32) -> DsReport {
    let ds = digests
        .iter()
        .map(|d| {
            let ds = key.ds(zone, *d);
            ds_out(zone, &ds, ttl)
        })
        .collect();
    DsReport {
        id: id.to_string(),
        zone: crate::dnssec::name::to_presentation(zone),
        key_tag: key.key_tag(),
        ds,
        dnskey: DnskeyOut {
            flags: key.flags,
            protocol: key.protocol,
            algorithm: AlgorithmOut::of(key.algorithm),
            public_key: data_encoding::BASE64.encode(&key.public_key),
            record: format_record(&Record::new(zone.clone(), ttl, RData::Dnskey(key.clone()))),
        },
    }
}

fn ds_out(zone: &Name, ds: &Ds, ttl: u32) -> DsOut {
    DsOut {
        key_tag: ds.key_tag,
        algorithm: AlgorithmOut::of(ds.algorithm),
        digest_type: DigestTypeOut {
            number: ds.digest_type,
            name: DigestType::from_number(ds.digest_type).ok().map(|d| d.to_string()),
        },
        digest: data_encoding::HEXUPPER.encode(&ds.digest),
        record: format_record(&Record::new(zone.clone(), ttl, RData::Ds(ds.clone()))),
    }
}

/// Renders `r` in `format` (with a final newline).
pub fn render(r: &DsReport, format: DsFormat) -> Result<String, serde_json::Error> {
    Ok(match format {
        DsFormat::Presentation => r.ds.iter().map(|d| format!("{}\n", d.record)).collect(),
        DsFormat::Json => format!("{}\n", serde_json::to_string_pretty(r)?),
        DsFormat::Epp => epp_ds_data(r),
        DsFormat::EppKey => epp_key_data(r),
        DsFormat::Fields => fields(r),
    })
}

/// RFC 5910 §4.1 (DS Data Interface): a `<secDNS:create>` element with one
/// `<secDNS:dsData>` (keyTag, alg, digestType, digest) per DS record, ready
/// for the `<extension>` of an EPP `<domain:create>`; for `<domain:update>`
/// the same `dsData` elements go in `<secDNS:update><secDNS:add>`.
pub fn epp_ds_data(r: &DsReport) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- DS for {} (RFC 5910 DS Data Interface) -->\n<secDNS:create xmlns:secDNS=\"{SECDNS_NS}\">\n",
        escape_comment(&r.zone)
    );
    for d in &r.ds {
        s.push_str(&format!(
            "  <secDNS:dsData>\n    <secDNS:keyTag>{}</secDNS:keyTag>\n    <secDNS:alg>{}</secDNS:alg>\n    <secDNS:digestType>{}</secDNS:digestType>\n    <secDNS:digest>{}</secDNS:digest>\n  </secDNS:dsData>\n",
            d.key_tag, d.algorithm.number, d.digest_type.number, escape(&d.digest)
        ));
    }
    s.push_str("</secDNS:create>\n");
    s
}

/// RFC 5910 §4.2 (Key Data Interface): a `<secDNS:create>` element with the
/// `<secDNS:keyData>` (flags, protocol, alg, pubKey) for registries that take
/// the DNSKEY and compute the DS themselves.
pub fn epp_key_data(r: &DsReport) -> String {
    let k = &r.dnskey;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- DNSKEY for {} (RFC 5910 Key Data Interface) -->\n<secDNS:create xmlns:secDNS=\"{SECDNS_NS}\">\n  <secDNS:keyData>\n    <secDNS:flags>{}</secDNS:flags>\n    <secDNS:protocol>{}</secDNS:protocol>\n    <secDNS:alg>{}</secDNS:alg>\n    <secDNS:pubKey>{}</secDNS:pubKey>\n  </secDNS:keyData>\n</secDNS:create>\n",
        escape_comment(&r.zone),
        k.flags,
        k.protocol,
        k.algorithm.number,
        escape(&k.public_key)
    )
}

/// Text for inside an XML comment: markup-escaped and without `--`.
fn escape_comment(s: &str) -> String {
    escape(s).replace("--", "- -")
}

fn alg_text(a: &AlgorithmOut) -> String {
    match a.mnemonic {
        Some(m) => format!("{} ({m})", a.number),
        None => format!("{} (unknown)", a.number),
    }
}

/// The field-by-field listing for registrar web forms: each DS record's
/// fields, then the DNSKEY's for forms that ask for the key.
pub fn fields(r: &DsReport) -> String {
    let mut s = format!("Domain:          {}\n", r.zone.trim_end_matches('.'));
    for (i, d) in r.ds.iter().enumerate() {
        let dt = match &d.digest_type.name {
            Some(n) => format!("{} ({n})", d.digest_type.number),
            None => format!("{} (unknown)", d.digest_type.number),
        };
        s.push_str(&format!(
            "\nDS record {} of {}\n  Key tag:       {}\n  Algorithm:     {}\n  Digest type:   {}\n  Digest:        {}\n",
            i + 1,
            r.ds.len(),
            d.key_tag,
            alg_text(&d.algorithm),
            dt,
            d.digest
        ));
    }
    let k = &r.dnskey;
    let role = if k.flags & crate::dnssec::rdata::FLAG_SEP != 0 { "KSK/SEP" } else { "ZSK" };
    s.push_str(&format!(
        "\nDNSKEY (for registrars that ask for the key)\n  Flags:         {} ({role})\n  Protocol:      {}\n  Algorithm:     {}\n  Public key:    {}\n",
        k.flags,
        k.protocol,
        alg_text(&k.algorithm),
        k.public_key
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DsReport {
        let zone = crate::dnssec::parse_name("example.com.").unwrap();
        let key = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![7u8; 64]);
        report("k1", &zone, &key, &[DigestType::Sha256, DigestType::Sha384], 3600)
    }

    #[test]
    fn report_fields_come_from_the_computed_ds() {
        let r = sample();
        let zone = crate::dnssec::parse_name(&r.zone).unwrap();
        let key = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![7u8; 64]);
        assert_eq!(r.ds.len(), 2);
        for (d, t) in r.ds.iter().zip([DigestType::Sha256, DigestType::Sha384]) {
            let ds = key.ds(&zone, t);
            assert_eq!(d.key_tag, key.key_tag());
            assert_eq!(d.algorithm, AlgorithmOut { number: 13, mnemonic: Some("ECDSAP256SHA256") });
            assert_eq!(d.digest_type.number, t.number());
            assert_eq!(d.digest, data_encoding::HEXUPPER.encode(&ds.digest));
        }
        let f = fields(&r);
        assert!(f.contains("Algorithm:     13 (ECDSAP256SHA256)"), "{f}");
        assert!(f.contains("Digest type:   4 (SHA-384)"), "{f}");
        assert!(f.contains("Flags:         257 (KSK/SEP)"), "{f}");
    }

    #[test]
    fn unknown_algorithm_numbers_are_reported_as_numbers() {
        assert_eq!(AlgorithmOut::of(200), AlgorithmOut { number: 200, mnemonic: None });
    }
}
