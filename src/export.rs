//! Handing an imported SKR to the online signer: which bundle is in force at
//! a time, the records of a bundle ready for a zone file, the SKR in the text
//! format Knot DNS (`keymgr import-skr`) and BIND 9.20 (`rndc skr -import`)
//! read, and the monitoring figures of `kskit check`. Pure: model in, text
//! or figures out; the CLI (`crate::cli::export`, `crate::cli::check`) does
//! the I/O. See docs/handoff.md.

use time::{Duration, OffsetDateTime};

use crate::dnssec::name::{canonical_wire, to_presentation};
use crate::dnssec::{rtype, RData, Record};
use crate::ksr::model::{BundleKey, BundleSignature, Format, TextLayout};
use crate::skr::checks::response_bundle_end;
use crate::skr::model::{ResponseBundle, Skr};
use crate::timeutil::format_rfc3339;

/// Why no bundle of an SKR can be used at a time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    #[error("the SKR for {zone} holds no bundles")]
    NoBundles { zone: String },
    #[error("bundle {id} of the SKR for {zone} has no expiration and no DNSKEY signature: its end is unknown")]
    NoEnd { zone: String, id: String },
    #[error("{at} is before the first bundle of the SKR for {zone}, which starts at {first}: its signatures are not valid yet")]
    BeforeFirst { zone: String, at: String, first: String },
    #[error("{at} is past the last bundle of the SKR for {zone}, whose signatures expired at {end}: refusing to hand out expired signatures; import a newer SKR")]
    Expired { zone: String, at: String, end: String },
    #[error("no bundle of the SKR for {zone} is in force at {at} (a gap between bundles)")]
    Gap { zone: String, at: String },
}

fn zone_text(skr: &Skr) -> String {
    to_presentation(&skr.domain)
}

/// The end of a bundle (its expiration, or its DNSKEY signatures' earliest
/// expiration in the text format), or an error when it has neither.
pub fn bundle_end(skr: &Skr, b: &ResponseBundle) -> Result<OffsetDateTime, ExportError> {
    response_bundle_end(b).ok_or_else(|| ExportError::NoEnd { zone: zone_text(skr), id: crate::markup::terminal_safe(&b.id) })
}

/// The end of a bundle as RFC 3339 text, `unknown` without one.
pub fn response_end_text(b: &ResponseBundle) -> String {
    response_bundle_end(b).map(format_rfc3339).unwrap_or_else(|| "unknown".into())
}

/// The bundle in force at `at`: of the bundles whose period
/// `[inception, end)` contains `at`, the one that started last (bundles
/// overlap; the newer one takes over when it starts, as Knot's and BIND's
/// signers do, BIND lib/dns/skr.c `dns_skr_lookup`). Before the first bundle,
/// past the last one's end, or in a gap: an error, never an expired or
/// not-yet-valid bundle.
pub fn bundle_in_force(skr: &Skr, at: OffsetDateTime) -> Result<&ResponseBundle, ExportError> {
    let zone = zone_text(skr);
    if skr.bundles.is_empty() {
        return Err(ExportError::NoBundles { zone });
    }
    let mut best: Option<&ResponseBundle> = None;
    let mut first: Option<OffsetDateTime> = None;
    let mut last_end: Option<OffsetDateTime> = None;
    for b in &skr.bundles {
        let end = bundle_end(skr, b)?;
        first = Some(first.map_or(b.inception, |f| f.min(b.inception)));
        last_end = Some(last_end.map_or(end, |e| e.max(end)));
        if b.inception <= at && at < end && best.is_none_or(|x| x.inception < b.inception) {
            best = Some(b);
        }
    }
    if let Some(b) = best {
        return Ok(b);
    }
    let at_s = format_rfc3339(at);
    match (first, last_end) {
        (Some(f), _) if at < f => Err(ExportError::BeforeFirst { zone, at: at_s, first: format_rfc3339(f) }),
        (_, Some(e)) if at >= e => Err(ExportError::Expired { zone, at: at_s, end: format_rfc3339(e) }),
        _ => Err(ExportError::Gap { zone, at: at_s }),
    }
}

/// The end of the SKR: the latest end of any bundle (when the last
/// pre-signed DNSKEY signatures expire).
pub fn skr_end(skr: &Skr) -> Result<OffsetDateTime, ExportError> {
    let mut end: Option<OffsetDateTime> = None;
    for b in &skr.bundles {
        let e = bundle_end(skr, b)?;
        end = Some(end.map_or(e, |x| x.max(e)));
    }
    end.ok_or_else(|| ExportError::NoBundles { zone: zone_text(skr) })
}

/// The DNSKEY, CDNSKEY and CDS RRsets of a bundle with their RRSIGs, as
/// records at the zone apex: what a zone needs from the KSK side. Order:
/// DNSKEY, its RRSIGs, CDNSKEY, its RRSIGs, CDS, its RRSIGs.
pub fn zonefile_records(skr: &Skr, b: &ResponseBundle) -> Vec<Record> {
    let owner = skr.domain.clone();
    let mut out = Vec::new();
    let sigs = |t: u16| b.signatures.iter().filter(move |s| s.rrsig.type_covered == t);
    for k in &b.keys {
        out.push(Record::new(owner.clone(), k.ttl, RData::Dnskey(k.dnskey.clone())));
    }
    out.extend(sigs(rtype::DNSKEY).map(|s| Record::new(owner.clone(), s.ttl, RData::Rrsig(s.rrsig.clone()))));
    for k in &b.cdnskey {
        out.push(Record::new(owner.clone(), b.cdnskey_ttl, RData::Cdnskey(k.clone())));
    }
    out.extend(sigs(rtype::CDNSKEY).map(|s| Record::new(owner.clone(), s.ttl, RData::Rrsig(s.rrsig.clone()))));
    for d in &b.cds {
        out.push(Record::new(owner.clone(), b.cds_ttl, RData::Cds(d.clone())));
    }
    out.extend(sigs(rtype::CDS).map(|s| Record::new(owner.clone(), s.ttl, RData::Rrsig(s.rrsig.clone()))));
    out
}

/// The SKR in the text format's model: bundle ids are the inception as
/// Unix seconds, bundles carry no expiration (the RRSIGs tell), keys are
/// identified by key tag and signatures by nothing (docs/formats.md). An
/// IANA SKR is converted; a text SKR is returned as it is.
pub fn to_text_model(skr: &Skr) -> Skr {
    if skr.format == Format::Text {
        return skr.clone();
    }
    let mut bundles: Vec<ResponseBundle> = skr
        .bundles
        .iter()
        .map(|b| ResponseBundle {
            id: b.inception.unix_timestamp().to_string(),
            inception: b.inception,
            expiration: None,
            keys: b
                .keys
                .iter()
                .map(|k| {
                    let tag = k.dnskey.key_tag();
                    BundleKey { key_identifier: tag.to_string(), key_tag: tag, ttl: k.ttl, dnskey: k.dnskey.clone() }
                })
                .collect(),
            cds: b.cds.clone(),
            cds_ttl: b.cds_ttl,
            cdnskey: b.cdnskey.clone(),
            cdnskey_ttl: b.cdnskey_ttl,
            signatures: b.signatures.iter().map(|s| BundleSignature { key_identifier: None, ttl: s.ttl, rrsig: s.rrsig.clone() }).collect(),
        })
        .collect();
    bundles.sort_by_key(|b| b.inception);
    Skr {
        format: Format::Text,
        id: String::new(),
        domain: skr.domain.clone(),
        serial: None,
        ksk_policy: None,
        zsk_policy: None,
        bundles,
        generated: None,
        layout: TextLayout::Knot,
    }
}

/// The SKR in the text format, for Knot DNS's `keymgr import-skr`
/// ([`TextLayout::Knot`]: bundle times as Unix seconds, which every Knot
/// version reads) or BIND 9.20's `rndc skr -import` ([`TextLayout::Bind`]:
/// `dnssec-ksr sign`'s layout with `YYYYMMDDHHMMSS` bundle times, the only
/// form `named` reads). The footer says kskit wrote it at `generated_at`.
/// See [`crate::formats::text`].
pub fn text_skr(skr: &Skr, layout: TextLayout, generated_at: OffsetDateTime) -> String {
    let mut t = to_text_model(skr);
    t.layout = layout;
    t.generated = Some((generated_at, String::new()));
    crate::formats::text::write_skr(&t)
}

/// Largest DNS response over UDP that avoids IP fragmentation on common
/// paths: the EDNS buffer size of DNS Flag Day 2020.
pub const SAFE_UDP_RESPONSE: usize = 1232;

/// An estimate of the DNS response to `ZONE DNSKEY` with the DO bit, in
/// bytes: header (12), question (QNAME + type + class), each DNSKEY and
/// RRSIG(DNSKEY) record with a compressed owner (2) and fixed fields (10)
/// plus RDATA (the RRSIG signer name is never compressed, RFC 4034 §3.1.7),
/// and the OPT record (11, RFC 6891 §6.1.2).
pub fn dnskey_response_size(skr: &Skr, b: &ResponseBundle) -> usize {
    let qname = canonical_wire(&skr.domain).len();
    let mut n = 12 + qname + 4 + 11;
    for k in &b.keys {
        n += 2 + 10 + k.dnskey.to_wire().len();
    }
    for s in b.signatures.iter().filter(|s| s.rrsig.type_covered == rtype::DNSKEY) {
        n += 2 + 10 + s.rrsig.to_wire().len();
    }
    n
}

/// Nagios states (plugin exit codes 0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// What `kskit check` reports about an imported SKR.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkrHealth {
    pub status: Status,
    pub zone: String,
    /// Whole days until the last bundle's signatures expire (negative when past).
    pub days_left: i64,
    pub skr_end: String,
    /// The end of the bundle in force now, if any.
    pub bundle_in_force_until: Option<String>,
    /// Bundles whose DNSKEY response would exceed [`SAFE_UDP_RESPONSE`]: (bundle id, estimated bytes).
    pub oversize_dnskey: Vec<(String, usize)>,
    /// The end of coverage across every imported SKR (the first time from
    /// now when no bundle is in force), RFC 3339; absent when none is in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage_end: Option<String>,
    /// Whether the next KSR ceremony is due (coverage ends within the policy's `ceremony_lead`).
    #[serde(default)]
    pub ceremony_due: bool,
    /// How many SKRs the timeline holds.
    pub skrs: usize,
    /// One-line explanation.
    pub message: String,
}

/// Monitoring of an imported SKR at `now`: CRITICAL when no bundle is in
/// force or fewer than `crit` days of pre-signed DNSKEY signatures remain
/// (the zone goes bogus when they expire, RFC 4035 §5.3.1); WARNING when
/// fewer than `warn` days remain, or when a bundle's DNSKEY response would
/// exceed 1232 bytes (fragmentation or TCP fallback, DNS Flag Day 2020);
/// else OK.
pub fn skr_health(skr: &Skr, now: OffsetDateTime, warn: Duration, crit: Duration) -> SkrHealth {
    let zone = zone_text(skr);
    let end = match skr_end(skr) {
        Ok(e) => e,
        Err(e) => {
            return SkrHealth {
                status: Status::Unknown,
                zone,
                days_left: 0,
                skr_end: String::new(),
                bundle_in_force_until: None,
                oversize_dnskey: vec![],
                coverage_end: None,
                ceremony_due: false,
                skrs: 1,
                message: e.to_string(),
            }
        }
    };
    let left = end - now;
    let days_left = left.whole_days();
    let in_force = bundle_in_force(skr, now);
    let until = in_force.as_ref().ok().and_then(|b| response_bundle_end(b)).map(format_rfc3339);
    let oversize: Vec<(String, usize)> = skr
        .bundles
        .iter()
        .map(|b| (b.id.clone(), dnskey_response_size(skr, b)))
        .filter(|(_, n)| *n > SAFE_UDP_RESPONSE)
        .collect();
    let mut status = Status::Ok;
    let mut message = match (&in_force, &until) {
        (Ok(_), Some(u)) => format!("{zone} SKR valid for {days_left} days, bundle in force until {u}"),
        (Err(e), _) => {
            status = Status::Critical;
            format!("{zone}: {e}")
        }
        (Ok(_), None) => format!("{zone} SKR valid for {days_left} days"),
    };
    if status == Status::Ok {
        status = coverage_status(left, warn, crit, &mut message);
    }
    note_oversize(&oversize, &mut status, &mut message);
    SkrHealth {
        status,
        zone,
        days_left,
        skr_end: format_rfc3339(end),
        bundle_in_force_until: until,
        oversize_dnskey: oversize,
        coverage_end: None,
        ceremony_due: false,
        skrs: 1,
        message,
    }
}

/// The status for `left` of SKR coverage against the warning and critical
/// thresholds; a non-OK status appends what to do to `message`.
fn coverage_status(left: Duration, warn: Duration, crit: Duration, message: &mut String) -> Status {
    let status = if left < crit {
        Status::Critical
    } else if left < warn {
        Status::Warning
    } else {
        Status::Ok
    };
    if status != Status::Ok {
        message.push_str(&format!(" (less than {} days left: import a new SKR)", if status == Status::Critical { crit } else { warn }.whole_days()));
    }
    status
}

/// Raises `status` to WARNING and names the first of the `oversize` bundles
/// whose DNSKEY response exceeds what fits in UDP.
fn note_oversize(oversize: &[(String, usize)], status: &mut Status, message: &mut String) {
    if let Some((id, n)) = oversize.first() {
        *status = (*status).max(Status::Warning);
        message.push_str(&format!(
            "; DNSKEY response of {} bundle(s) exceeds {SAFE_UDP_RESPONSE} bytes (bundle {id}: about {n} bytes)",
            oversize.len()
        ));
    }
}

/// Monitoring of a zone's SKR timeline at `now` (`kskit check`): as
/// [`skr_health`], with the days left counted to the end of coverage across
/// every imported SKR (the next period's SKR imported ahead of time counts;
/// a gap between SKRs ends coverage), and a WARNING that the next ceremony
/// is due once coverage ends within `ceremony_lead` (the KSR must go to the
/// KSK side and its SKR come back before then).
pub fn timeline_health(tl: &crate::skr::timeline::Timeline, now: OffsetDateTime, warn: Duration, crit: Duration, ceremony_lead: Duration) -> SkrHealth {
    let zone = tl.zone.clone();
    let skrs = tl.skrs().len();
    let empty = |status: Status, message: String| SkrHealth {
        status,
        zone: zone.clone(),
        days_left: 0,
        skr_end: String::new(),
        bundle_in_force_until: None,
        oversize_dnskey: vec![],
        coverage_end: None,
        ceremony_due: false,
        skrs,
        message,
    };
    if skrs == 0 {
        return empty(Status::Unknown, format!("no SKR imported for {zone}"));
    }
    let in_force = match tl.in_force(now) {
        Ok(x) => x,
        Err(e) => return empty(Status::Critical, format!("{zone}: {e}")),
    };
    let coverage = match tl.coverage_end(now) {
        Ok(c) => c,
        Err(e) => return empty(Status::Unknown, format!("{zone}: {e}")),
    };
    let left = coverage - now;
    let days_left = left.whole_days();
    let until = response_bundle_end(in_force.bundle).map(format_rfc3339);
    let oversize: Vec<(String, usize)> = tl
        .merged()
        .iter()
        .map(|x| (x.bundle.id.clone(), dnskey_response_size(&x.skr.skr, x.bundle)))
        .filter(|(_, n)| *n > SAFE_UDP_RESPONSE)
        .collect();
    let mut status = Status::Ok;
    let mut message = format!(
        "{zone} SKR valid for {days_left} days, bundle in force until {}; coverage until {} across {skrs} imported SKR(s)",
        until.as_deref().unwrap_or("unknown"),
        format_rfc3339(coverage)
    );
    status = status.max(coverage_status(left, warn, crit, &mut message));
    let ceremony_due = left < ceremony_lead;
    if ceremony_due {
        status = status.max(Status::Warning);
        message.push_str(&format!(
            "; next ceremony due: coverage ends within ceremony_lead ({} days): `kskit ksr generate --next`, sign, import",
            ceremony_lead.whole_days()
        ));
    }
    note_oversize(&oversize, &mut status, &mut message);
    SkrHealth {
        status,
        zone,
        days_left,
        skr_end: format_rfc3339(coverage),
        bundle_in_force_until: until,
        oversize_dnskey: oversize,
        coverage_end: Some(format_rfc3339(coverage)),
        ceremony_due,
        skrs,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::{parse_name, Dnskey, Rrsig};

    fn t(s: &str) -> OffsetDateTime {
        crate::timeutil::parse_instant(s).unwrap()
    }

    fn bundle(id: &str, inc: &str, exp: &str, pk_len: usize) -> ResponseBundle {
        let key = Dnskey { flags: 257, protocol: 3, algorithm: 13, public_key: vec![7; pk_len] };
        let sig = Rrsig {
            type_covered: rtype::DNSKEY,
            algorithm: 13,
            labels: 2,
            original_ttl: 3600,
            expiration: t(exp).unix_timestamp() as u32,
            inception: t(inc).unix_timestamp() as u32,
            key_tag: key.key_tag(),
            signer_name: parse_name("example.com.").unwrap(),
            signature: vec![1; 64],
        };
        ResponseBundle {
            id: id.into(),
            inception: t(inc),
            expiration: Some(t(exp)),
            keys: vec![BundleKey { key_identifier: "k".into(), key_tag: key.key_tag(), ttl: 3600, dnskey: key }],
            cds: vec![],
            cds_ttl: 0,
            cdnskey: vec![],
            cdnskey_ttl: 0,
            signatures: vec![BundleSignature { key_identifier: Some("k".into()), ttl: 3600, rrsig: sig }],
        }
    }

    fn skr(bundles: Vec<ResponseBundle>) -> Skr {
        Skr {
            format: Format::Iana,
            id: "x".into(),
            domain: parse_name("example.com.").unwrap(),
            serial: Some(1),
            ksk_policy: None,
            zsk_policy: None,
            bundles,
            generated: None,
            layout: crate::ksr::TextLayout::Knot,
        }
    }

    fn two() -> Skr {
        skr(vec![
            bundle("a", "2027-01-01T00:00:00Z", "2027-01-22T00:00:00Z", 64),
            bundle("b", "2027-01-11T00:00:00Z", "2027-02-01T00:00:00Z", 64),
        ])
    }

    #[test]
    fn newest_started_bundle_is_in_force() {
        let s = two();
        assert_eq!(bundle_in_force(&s, t("2027-01-01T00:00:00Z")).unwrap().id, "a");
        assert_eq!(bundle_in_force(&s, t("2027-01-10T23:59:59Z")).unwrap().id, "a");
        assert_eq!(bundle_in_force(&s, t("2027-01-11T00:00:00Z")).unwrap().id, "b");
        assert_eq!(bundle_in_force(&s, t("2027-01-31T23:59:59Z")).unwrap().id, "b");
    }

    #[test]
    fn outside_the_skr_is_an_error() {
        let s = two();
        assert!(matches!(bundle_in_force(&s, t("2026-12-31T23:59:59Z")), Err(ExportError::BeforeFirst { .. })));
        let e = bundle_in_force(&s, t("2027-02-01T00:00:00Z")).unwrap_err();
        assert!(matches!(e, ExportError::Expired { .. }));
        assert!(e.to_string().contains("2027-02-01T00:00:00Z"), "{e}");
        let gap = skr(vec![
            bundle("a", "2027-01-01T00:00:00Z", "2027-01-05T00:00:00Z", 64),
            bundle("b", "2027-01-11T00:00:00Z", "2027-02-01T00:00:00Z", 64),
        ]);
        assert!(matches!(bundle_in_force(&gap, t("2027-01-07T00:00:00Z")), Err(ExportError::Gap { .. })));
        assert!(matches!(bundle_in_force(&skr(vec![]), t("2027-01-07T00:00:00Z")), Err(ExportError::NoBundles { .. })));
    }

    #[test]
    fn text_model_in_both_layouts_reads_back() {
        let s = two();
        let at = t("2027-01-01T00:00:00Z");
        let text = text_skr(&s, TextLayout::Knot, at);
        assert!(text.starts_with(&format!(";; SignedKeyResponse 1.0 {} (2027-01-01T00:00:00Z) =========\n", at.unix_timestamp())), "{text}");
        let back = crate::formats::parse_skr_any(text.as_bytes()).unwrap();
        assert_eq!(back.layout, TextLayout::Knot);
        assert_eq!(back.bundles.len(), 2);
        assert_eq!(back.bundles[1].id, t("2027-01-11T00:00:00Z").unix_timestamp().to_string());
        assert_eq!(back.bundles[0].signatures[0].rrsig, s.bundles[0].signatures[0].rrsig);
        let bind = text_skr(&s, TextLayout::Bind, at);
        assert!(bind.starts_with(";; SignedKeyResponse 1.0 20270101000000 (Fri Jan  1 00:00:00 2027)\n"), "{bind}");
        assert!(bind.ends_with(&format!("generated at Fri Jan  1 00:00:00 2027 by kskit {}\n", env!("CARGO_PKG_VERSION"))));
        assert!(bind.lines().filter(|l| !l.starts_with(";;") && !l.is_empty()).all(|l| !l.contains('@') && !l.contains('(') && l.starts_with("example.com.\t\t")), "{bind}");
        let back = crate::formats::parse_skr_any(bind.as_bytes()).unwrap();
        assert_eq!(back.layout, TextLayout::Bind);
        assert_eq!(back.bundles, to_text_model(&s).bundles);
        // A text SKR read in one layout is exported in the other one asked for.
        assert_eq!(text_skr(&back, TextLayout::Knot, at), text);
    }

    #[test]
    fn health_thresholds() {
        let s = two();
        let (w, c) = (Duration::days(14), Duration::days(7));
        let h = skr_health(&s, t("2027-01-01T00:00:00Z"), w, c);
        assert_eq!(h.status, Status::Ok, "{}", h.message);
        assert_eq!(h.days_left, 31);
        assert!(h.message.starts_with("example.com. SKR valid for 31 days, bundle in force until 2027-01-22T00:00:00Z"), "{}", h.message);
        assert_eq!(skr_health(&s, t("2027-01-20T00:00:00Z"), w, c).status, Status::Warning);
        assert_eq!(skr_health(&s, t("2027-01-28T00:00:00Z"), w, c).status, Status::Critical);
        assert_eq!(skr_health(&s, t("2027-02-02T00:00:00Z"), w, c).status, Status::Critical);
        assert_eq!(skr_health(&s, t("2026-12-01T00:00:00Z"), w, c).status, Status::Critical);
        // A DNSKEY RRset too big for 1232 bytes: WARNING even with time left.
        let big = skr(vec![bundle("a", "2027-01-01T00:00:00Z", "2027-03-01T00:00:00Z", 1300)]);
        assert!(dnskey_response_size(&big, &big.bundles[0]) > SAFE_UDP_RESPONSE);
        let h = skr_health(&big, t("2027-01-01T00:00:00Z"), w, c);
        assert_eq!(h.status, Status::Warning, "{}", h.message);
        assert!(h.message.contains("exceeds 1232 bytes"));
    }

    #[test]
    fn zonefile_records_keep_signatures() {
        let s = two();
        let r = zonefile_records(&s, &s.bundles[0]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].rtype(), rtype::DNSKEY);
        assert_eq!(r[1].rtype(), rtype::RRSIG);
    }
}
