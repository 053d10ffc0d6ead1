//! The checks the ZSK side applies to an SKR before importing it: every
//! signature verifies, the signing KSKs are the trust-anchored ones, the
//! bundles are what the KSR asked for and cover its period without a gap or
//! an early expiry, and CDS/CDNSKEY are coherent. One named `pub fn` per
//! check; ids in docs/checks.md.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use crate::checks::{CheckResult, Report};
use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::presentation::parse_records;
use crate::dnssec::pubkey::validate_public_key;
use crate::dnssec::verify::{verify_bounded, CanonicalRrset, FailBudget, VerifyLimits};
use crate::dnssec::{
    rtype, DigestType, Dnskey, DnssecError, Ds, Name, RData, RrSet, FLAG_REVOKE,
};
use crate::ksr::model::{AlgorithmParams, AlgorithmPolicy, Format, Ksr, RequestBundle};
use crate::skr::model::{ResponseBundle, Skr};
use crate::markup::terminal_safe;
use crate::timeutil::{format_iso_duration, format_rfc3339, from_rrsig_time};

pub const SKR_SIG_VERIFY: &str = "SKR-SIG-VERIFY";
pub const SKR_TRUST_ANCHOR: &str = "SKR-TRUST-ANCHOR";
pub const SKR_DNSKEY_SIGNED: &str = "SKR-DNSKEY-SIGNED";
pub const SKR_MATCHES_KSR: &str = "SKR-MATCHES-KSR";
pub const SKR_COVERAGE: &str = "SKR-COVERAGE";
pub const SKR_NO_EARLY_EXPIRY: &str = "SKR-NO-EARLY-EXPIRY";
pub const SKR_CDS_CONSISTENT: &str = "SKR-CDS-CONSISTENT";
pub const SKR_NOT_EXPIRED: &str = "SKR-NOT-EXPIRED";
pub const SKR_BUNDLE_TIMES: &str = "SKR-BUNDLE-TIMES";
pub const SKR_TTL: &str = "SKR-TTL";
pub const SKR_FIELD_SYNTAX: &str = "SKR-FIELD-SYNTAX";
pub const SKR_BUNDLE_UNIQUE: &str = "SKR-BUNDLE-UNIQUE";
pub const SKR_KEY_TAG: &str = "SKR-KEY-TAG";
pub const SKR_KEY_ID_CONSISTENT: &str = "SKR-KEY-ID-CONSISTENT";
pub const SKR_NO_DUPLICATES: &str = "SKR-NO-DUPLICATES";
pub const SKR_RESPONSE_POLICY: &str = "SKR-RESPONSE-POLICY";
pub const SKR_KEY_VALID: &str = "SKR-KEY-VALID";
pub const SKR_DNSKEY_ALGORITHMS: &str = "SKR-DNSKEY-ALGORITHMS";
pub const SKR_MAX_VALIDITY: &str = "SKR-MAX-VALIDITY";

/// Every SKR check id, in the order [`check_skr`] runs them.
pub const ALL: [&str; 20] = [
    SKR_KEY_VALID,
    SKR_SIG_VERIFY,
    SKR_DNSKEY_ALGORITHMS,
    SKR_MAX_VALIDITY,
    SKR_BUNDLE_TIMES,
    SKR_TTL,
    SKR_TRUST_ANCHOR,
    SKR_DNSKEY_SIGNED,
    SKR_MATCHES_KSR,
    SKR_COVERAGE,
    SKR_NO_EARLY_EXPIRY,
    SKR_CDS_CONSISTENT,
    SKR_NOT_EXPIRED,
    SKR_FIELD_SYNTAX,
    SKR_BUNDLE_UNIQUE,
    SKR_KEY_TAG,
    SKR_KEY_ID_CONSISTENT,
    SKR_NO_DUPLICATES,
    SKR_RESPONSE_POLICY,
    crate::skr::keyset::SKR_KEYTAG_DISTINCT,
];

/// The KSKs the ZSK side trusts: DS records (as the parent publishes them)
/// and/or DNSKEY records, for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    pub ds: Vec<Ds>,
    pub dnskeys: Vec<Dnskey>,
    pub domain: Name,
}

/// Errors reading a trust-anchor file.
#[derive(Debug, thiserror::Error)]
pub enum TrustAnchorError {
    #[error("trust anchor: {0}")]
    Parse(#[from] DnssecError),
    #[error("trust anchor: no DS or DNSKEY record found")]
    Empty,
    #[error("trust anchor: records for {0} and {1}; one trust anchor covers one domain")]
    MixedOwners(String, String),
    #[error("trust anchor: {0} record for {1} is not a DS or DNSKEY")]
    UnsupportedType(String, String),
}

/// Parses a trust anchor in zone-file presentation format: DS and/or DNSKEY
/// records of one owner (`. IN DS 19036 8 2 49AA...`); the TTL may be omitted.
pub fn parse_trust_anchor(text: &str) -> Result<TrustAnchor, TrustAnchorError> {
    let records = parse_records(text, None, Some(0))?;
    let mut domain: Option<Name> = None;
    let mut ta_ds = Vec::new();
    let mut dnskeys = Vec::new();
    for r in records {
        match &domain {
            Some(d) if !same_name(d, &r.name) => {
                return Err(TrustAnchorError::MixedOwners(
                    to_presentation(d),
                    to_presentation(&r.name),
                ))
            }
            Some(_) => {}
            None => domain = Some(r.name.clone()),
        }
        match r.rdata {
            RData::Ds(d) => ta_ds.push(d),
            RData::Dnskey(k) => dnskeys.push(k),
            other => {
                return Err(TrustAnchorError::UnsupportedType(
                    rtype::name(other.rtype()),
                    to_presentation(&r.name),
                ))
            }
        }
    }
    let domain = domain.ok_or(TrustAnchorError::Empty)?;
    Ok(TrustAnchor {
        ds: ta_ds,
        dnskeys,
        domain,
    })
}

impl TrustAnchor {
    /// A warning when the anchor pins its keys by SHA-1 alone: DS records of
    /// digest type 1 only and no DNSKEY. RFC 8624 §3.3 says SHA-1 DS digests
    /// MUST NOT be generated (validators still accept them); a second
    /// preimage of a SHA-1 DS digest would pin another key. `None` otherwise.
    pub fn sha1_only_warning(&self) -> Option<String> {
        if !self.dnskeys.is_empty() || self.ds.is_empty() || self.ds.iter().any(|d| d.digest_type != 1) {
            return None;
        }
        Some(format!(
            "the trust anchor for {} has only SHA-1 DS records (digest type 1), which RFC 8624 §3.3 says not to use: add a SHA-256 DS (digest type 2) or the DNSKEY",
            to_presentation(&self.domain)
        ))
    }

    /// Whether `key` is pinned: a DS matches it or a DNSKEY equals it
    /// (algorithm and public key). A revoked key (RFC 5011 §2.1) is pinned by
    /// its unrevoked form, whose key tag and DS it had before the REVOKE bit.
    pub fn pins(&self, key: &Dnskey) -> bool {
        let mut plain = key.clone();
        plain.flags &= !FLAG_REVOKE;
        self.ds.iter().any(|d| d.matches(&self.domain, &plain))
            || self
                .dnskeys
                .iter()
                .any(|k| k.algorithm == key.algorithm && k.public_key == key.public_key)
    }
}

/// Runs every SKR check. `ksr` is the request the SKR answers, when known.
/// No bound on the signatures' validity: see [`check_skr_bounded`].
pub fn check_skr(skr: &Skr, ta: &TrustAnchor, ksr: Option<&Ksr>, now: OffsetDateTime) -> Report {
    check_skr_bounded(skr, ta, ksr, now, None)
}

/// Runs every SKR check; `max_validity` is the ZSK side's own policy's
/// signature validity (kskit.toml `signature_validity`), which no signature
/// of the SKR may exceed (SKR-MAX-VALIDITY; not applicable when `None`).
/// Each signature is verified once, within [`VerifyLimits::default`], and
/// the result is shared by the checks that need it.
pub fn check_skr_bounded(skr: &Skr, ta: &TrustAnchor, ksr: Option<&Ksr>, now: OffsetDateTime, max_validity: Option<Duration>) -> Report {
    let _scope = VerifyScope::enter(skr);
    let mut r = Report::new();
    if skr.format == Format::Text {
        r.note("text format: bundles carry no expiration; a bundle's end is taken from its DNSKEY signatures' expiration");
    }
    if ksr.is_none() {
        r.note("no KSR given: the SKR was not compared with a request (SKR-MATCHES-KSR) and coverage was checked for gaps only");
    }
    r.push(check_key_valid(skr));
    r.push(check_sig_verify(skr));
    r.push(check_dnskey_algorithms(skr));
    r.push(match max_validity {
        Some(m) => check_max_validity(skr, m),
        None => CheckResult::not_applicable(SKR_MAX_VALIDITY, "no signature validity bound given (the ZSK side's kskit.toml sets it)"),
    });
    r.push(check_bundle_times(skr));
    r.push(check_ttl(skr));
    r.push(check_trust_anchor(skr, ta));
    r.push(check_dnskey_signed(skr, ta));
    r.push(match ksr {
        Some(k) => check_matches_ksr(skr, k),
        None => CheckResult::not_applicable(SKR_MATCHES_KSR, "no KSR given"),
    });
    r.push(check_coverage(skr, ksr));
    r.push(check_no_early_expiry(skr));
    r.push(check_cds_consistent(skr, ta));
    r.push(check_not_expired(skr, now));
    r.push(check_field_syntax(skr));
    r.push(check_bundle_unique(skr));
    r.push(check_key_tag(skr));
    r.push(check_key_id_consistent(skr));
    r.push(check_no_duplicates(skr));
    r.push(check_response_policy(skr));
    r.push(crate::skr::keyset::check_skr_keytags(skr));
    r
}

/// The verification results of one SKR, shared by the checks run by
/// [`check_skr_bounded`]: per (bundle, signature) the index of the
/// verifying key or why none verified. Outside `check_skr_bounded` each
/// check verifies on its own (still within the limits).
struct Verified {
    /// Address and bundle count of the SKR the results are for.
    skr: (usize, usize),
    results: Vec<Vec<Result<usize, String>>>,
}

thread_local! {
    static VERIFIED: std::cell::RefCell<Option<std::rc::Rc<Verified>>> = const { std::cell::RefCell::new(None) };
}

/// Holds the shared verification results of one SKR while its checks run.
struct VerifyScope;

impl VerifyScope {
    fn enter(skr: &Skr) -> VerifyScope {
        let v = std::rc::Rc::new(verify_all(skr));
        VERIFIED.with(|c| *c.borrow_mut() = Some(v));
        VerifyScope
    }
}

impl Drop for VerifyScope {
    fn drop(&mut self) {
        VERIFIED.with(|c| *c.borrow_mut() = None);
    }
}

fn skr_identity(skr: &Skr) -> (usize, usize) {
    (skr as *const Skr as usize, skr.bundles.len())
}

/// Verifies every signature of `skr` once: per bundle, the canonical form of
/// each RRset is built once, a signature is tried only with keys whose tag,
/// algorithm and flags fit, and the [`VerifyLimits`] bound the work.
fn verify_all(skr: &Skr) -> Verified {
    Verified { skr: skr_identity(skr), results: verify_bundles(&skr.domain, &skr.bundles) }
}

fn verify_bundles(domain: &Name, bundles: &[ResponseBundle]) -> Vec<Vec<Result<usize, String>>> {
    let limits = VerifyLimits::default();
    let mut spent = FailBudget::default();
    let mut results = Vec::with_capacity(bundles.len());
    for b in bundles {
        spent.bundle = 0;
        if let Some(why) = limits.bundle_refusal(b.keys.len(), b.signatures.len()) {
            results.push(b.signatures.iter().map(|_| Err(why.clone())).collect());
            continue;
        }
        let keys: Vec<&Dnskey> = b.keys.iter().map(|k| &k.dnskey).collect();
        let tags: Vec<u16> = keys.iter().map(|k| k.key_tag()).collect();
        let mut sets: Vec<(u16, Option<CanonicalRrset>)> = Vec::new();
        let mut out = Vec::with_capacity(b.signatures.len());
        for s in &b.signatures {
            let t = s.rrsig.type_covered;
            if !sets.iter().any(|(st, _)| *st == t) {
                sets.push((t, rrset(domain, b, t).map(CanonicalRrset::new)));
            }
            let set = sets.iter().find(|(st, _)| *st == t).and_then(|(_, c)| c.as_ref());
            out.push(match set {
                None => Err("it covers an RRset the bundle does not have".to_string()),
                Some(set) => verify_bounded(set, &s.rrsig, &keys, &tags, &limits, &mut spent),
            });
        }
        results.push(out);
    }
    results
}

/// The verification result of signature `si` of bundle `bi`: shared when
/// [`check_skr_bounded`] is running on this SKR, else computed here.
fn verified(skr: &Skr, bi: usize, si: usize) -> Result<usize, String> {
    let shared = VERIFIED.with(|c| c.borrow().as_ref().filter(|v| v.skr == skr_identity(skr)).cloned());
    let v = match shared {
        Some(v) => v,
        None => {
            // One bundle only, with the limits.
            let Some(b) = skr.bundles.get(bi) else { return Err("no such bundle".into()) };
            let r = verify_bundles(&skr.domain, std::slice::from_ref(b));
            return r.first().and_then(|v| v.get(si)).cloned().unwrap_or_else(|| Err("no such signature".into()));
        }
    };
    v.results.get(bi).and_then(|r| r.get(si)).cloned().unwrap_or_else(|| Err("no such signature".into()))
}

/// The key of bundle `bi` whose signature `si` verifies over the covered RRset.
fn verifying_key_at(skr: &Skr, bi: usize, si: usize) -> Option<&Dnskey> {
    let i = verified(skr, bi, si).ok()?;
    skr.bundles.get(bi)?.keys.get(i).map(|k| &k.dnskey)
}

/// SKR-KEY-VALID: every key of every bundle's DNSKEY RRset has a fully
/// validated public key: an ECDSA point on its curve, an Ed25519 point not
/// of small order, an odd RSA modulus (RFC 6605 §4, RFC 8080 §3, RFC 3110
/// §2; [`validate_public_key`]), so no ZSK the KSK side should have refused
/// is published. No knob.
pub fn check_key_valid(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    let mut seen: std::collections::HashSet<&Dnskey> = std::collections::HashSet::new();
    for b in &skr.bundles {
        for k in &b.keys {
            if !seen.insert(&k.dnskey) {
                continue;
            }
            let res = k.dnskey.algorithm().and_then(|a| validate_public_key(a, &k.dnskey.public_key));
            if let Err(e) = res {
                problems.push(format!("{}: key tag {}: {e}", label(b), k.dnskey.key_tag()));
            }
        }
    }
    CheckResult::from_problems(SKR_KEY_VALID, problems, format!("all {} distinct keys have valid public keys", seen.len()))
}

/// SKR-DNSKEY-ALGORITHMS: in every bundle, each algorithm of the DNSKEY
/// RRset has a verifying RRSIG over that RRset (RFC 4035 §2.2, RFC 6840
/// §5.11): a ZSK of an algorithm no KSK signs with would leave validators
/// without a chain for it. No knob.
pub fn check_dnskey_algorithms(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    for (bi, b) in skr.bundles.iter().enumerate() {
        let signed: BTreeSet<u8> = b
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| s.rrsig.type_covered == rtype::DNSKEY)
            .filter_map(|(si, _)| verifying_key_at(skr, bi, si))
            .map(|k| k.algorithm)
            .collect();
        let held: BTreeSet<u8> = b.keys.iter().map(|k| k.dnskey.algorithm).collect();
        let missing: Vec<String> = held.difference(&signed).map(|a| a.to_string()).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{}: the DNSKEY RRset holds algorithm {} but has no verifying signature of it",
                label(b),
                missing.join(", ")
            ));
        }
    }
    CheckResult::from_problems(SKR_DNSKEY_ALGORITHMS, problems, "every algorithm of every bundle's DNSKEY RRset signs it")
}

/// SKR-MAX-VALIDITY: no signature of the SKR is valid (expiration − the
/// later of its inception and the bundle's start, so an inception offset
/// against clock skew does not count) for longer than the ZSK side's own policy allows (kskit.toml
/// `signature_validity`): the KSK side picks the validity of text-format
/// bundles, and the ZSK side must not publish signatures that outlive its
/// policy (RFC 6781 §4.4.2: validity bounds replay). Knob: the ZSK side's
/// `signature_validity`.
pub fn check_max_validity(skr: &Skr, max: Duration) -> CheckResult {
    let mut problems = Vec::new();
    for b in &skr.bundles {
        for s in &b.signatures {
            // From the bundle's start (or a later inception): an inception
            // set back before the bundle (Knot and kskit back-date by the
            // inception offset) against clock skew does not count.
            let inc = from_rrsig_time(s.rrsig.inception, b.inception).max(b.inception);
            let exp = from_rrsig_time(s.rrsig.expiration, b.inception);
            let v = exp - inc;
            if v > max {
                problems.push(format!(
                    "{}: RRSIG {} by key tag {} is valid for {}, more than the policy's {}",
                    label(b),
                    rtype::name(s.rrsig.type_covered),
                    s.rrsig.key_tag,
                    format_iso_duration(v),
                    format_iso_duration(max)
                ));
            }
        }
    }
    CheckResult::from_problems(SKR_MAX_VALIDITY, problems, format!("no signature is valid for more than {}", format_iso_duration(max)))
}

/// The end of a response bundle: its expiration, or (text format) the
/// earliest expiration of its DNSKEY RRSIGs. `None` without either.
pub fn response_bundle_end(b: &ResponseBundle) -> Option<OffsetDateTime> {
    b.expiration.or_else(|| {
        b.signatures
            .iter()
            .filter(|s| s.rrsig.type_covered == rtype::DNSKEY)
            .map(|s| from_rrsig_time(s.rrsig.expiration, b.inception))
            .min()
    })
}

/// A bundle as check messages name it; the id is quoted terminal-safe.
fn label(b: &ResponseBundle) -> String {
    format!("bundle {} ({})", terminal_safe(&b.id), format_rfc3339(b.inception))
}

/// The bundle's RRset of type `t` (DNSKEY, CDS or CDNSKEY), if it has one.
fn rrset(domain: &Name, b: &ResponseBundle, t: u16) -> Option<RrSet> {
    let (ttl, rdatas): (u32, Vec<RData>) = match t {
        rtype::DNSKEY => (
            b.keys.first().map(|k| k.ttl).unwrap_or(0),
            b.keys
                .iter()
                .map(|k| RData::Dnskey(k.dnskey.clone()))
                .collect(),
        ),
        rtype::CDS => (b.cds_ttl, b.cds.iter().cloned().map(RData::Cds).collect()),
        rtype::CDNSKEY => (
            b.cdnskey_ttl,
            b.cdnskey.iter().cloned().map(RData::Cdnskey).collect(),
        ),
        _ => return None,
    };
    RrSet::new(domain.clone(), ttl, rdatas).ok()
}

fn sorted(skr: &Skr) -> Vec<&ResponseBundle> {
    let mut v: Vec<&ResponseBundle> = skr.bundles.iter().collect();
    v.sort_by_key(|b| b.inception);
    v
}

/// SKR-SIG-VERIFY: every RRSIG of every bundle verifies over the RRset it
/// covers (DNSKEY, CDS or CDNSKEY) with a key of the bundle's DNSKEY set, and
/// names the zone as signer (RFC 4034 §3.1.8.1, RFC 4035 §5.3.1; kskm
/// validates the SKR(n-1) the same way). No knob.
pub fn check_sig_verify(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    let mut n = 0;
    for (bi, b) in skr.bundles.iter().enumerate() {
        for (si, s) in b.signatures.iter().enumerate() {
            n += 1;
            let sig = &s.rrsig;
            let what = format!(
                "{}: RRSIG {} by key tag {}",
                label(b),
                rtype::name(sig.type_covered),
                sig.key_tag
            );
            if !same_name(&sig.signer_name, &skr.domain) {
                problems.push(format!(
                    "{what} names signer {}, not {}",
                    to_presentation(&sig.signer_name),
                    to_presentation(&skr.domain)
                ));
                continue;
            }
            if let Err(e) = verified(skr, bi, si) {
                problems.push(format!("{what} does not verify: {e}"));
            }
        }
    }
    CheckResult::from_problems(
        SKR_SIG_VERIFY,
        problems,
        format!("all {n} signatures in {} bundles verify", skr.bundles.len()),
    )
}

/// SKR-TRUST-ANCHOR: the SKR is for the trust anchor's domain and every key
/// that made a signature is pinned by the trust anchor (a matching DS or an
/// equal DNSKEY): a response signed by any other KSK is not ours (RFC 4035
/// §5: validation starts at a trust anchor; RFC 7344 §4.1 for CDS). No knob;
/// the trust anchor is the input.
pub fn check_trust_anchor(skr: &Skr, ta: &TrustAnchor) -> CheckResult {
    if !same_name(&skr.domain, &ta.domain) {
        return CheckResult::fail(
            SKR_TRUST_ANCHOR,
            format!(
                "the SKR is for {} but the trust anchor for {}",
                to_presentation(&skr.domain),
                to_presentation(&ta.domain)
            ),
        );
    }
    let mut problems = Vec::new();
    let mut signers = BTreeSet::new();
    for (bi, b) in skr.bundles.iter().enumerate() {
        for (si, s) in b.signatures.iter().enumerate() {
            match verifying_key_at(skr, bi, si) {
                Some(k) if ta.pins(k) => {
                    signers.insert(k.key_tag());
                }
                Some(k) => problems.push(format!(
                    "{}: signing key tag {} is not pinned by the trust anchor",
                    label(b),
                    k.key_tag()
                )),
                None => {
                    // Unverifiable signatures are SKR-SIG-VERIFY's; still, the named key must be pinned.
                    let named: Vec<&Dnskey> = b
                        .keys
                        .iter()
                        .map(|k| &k.dnskey)
                        .filter(|k| {
                            k.key_tag() == s.rrsig.key_tag && k.algorithm == s.rrsig.algorithm
                        })
                        .collect();
                    if !named.iter().any(|k| ta.pins(k)) {
                        problems.push(format!(
                            "{}: signature by key tag {} is by no trust-anchored key",
                            label(b),
                            s.rrsig.key_tag
                        ));
                    }
                }
            }
        }
    }
    let tags: Vec<String> = signers.iter().map(|t| t.to_string()).collect();
    CheckResult::from_problems(
        SKR_TRUST_ANCHOR,
        problems,
        format!(
            "every signing key is trust-anchored (key tags {})",
            tags.join(", ")
        ),
    )
}

/// SKR-DNSKEY-SIGNED: every bundle's DNSKEY RRset carries a verifying RRSIG
/// by a non-revoked, trust-anchored KSK contained in that RRset, so
/// validators can follow the chain from the DS (RFC 4035 §5.2, RFC 5011 §2.1
/// for revoked keys, RFC 6781 §3.1). No knob.
pub fn check_dnskey_signed(skr: &Skr, ta: &TrustAnchor) -> CheckResult {
    let mut problems = Vec::new();
    for (bi, b) in skr.bundles.iter().enumerate() {
        let ok = b
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| s.rrsig.type_covered == rtype::DNSKEY)
            .any(|(si, _)| {
                verifying_key_at(skr, bi, si)
                    .is_some_and(|k| !k.is_revoked() && ta.pins(k))
            });
        if !ok {
            problems.push(format!(
                "{}: the DNSKEY RRset has no valid signature by a trust-anchored KSK",
                label(b)
            ));
        }
    }
    if skr.bundles.is_empty() {
        problems.push("the SKR has no bundles".into());
    }
    CheckResult::from_problems(
        SKR_DNSKEY_SIGNED,
        problems,
        format!(
            "the DNSKEY RRset of all {} bundles is signed by a trust-anchored KSK",
            skr.bundles.len()
        ),
    )
}

fn zsk_set(keys: impl Iterator<Item = Dnskey>) -> BTreeSet<Vec<u8>> {
    keys.map(|k| k.to_wire()).collect()
}

fn tags_of(set: &BTreeSet<Vec<u8>>) -> String {
    let v: Vec<String> = set
        .iter()
        .filter_map(|w| Dnskey::from_wire(w).ok())
        .map(|k| k.key_tag().to_string())
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

fn skr_zsks(b: &ResponseBundle) -> BTreeSet<Vec<u8>> {
    zsk_set(
        b.keys
            .iter()
            .filter(|k| !k.dnskey.is_sep())
            .map(|k| k.dnskey.clone()),
    )
}

fn ksr_zsks(b: &RequestBundle) -> BTreeSet<Vec<u8>> {
    zsk_set(b.keys.iter().map(|k| k.dnskey.clone()))
}

/// SKR-MATCHES-KSR: the SKR answers this KSR, one bundle for one bundle:
/// same domain; IANA: the KSR's id and serial echoed (the root's practice),
/// the ZSK response policy, when given, equal to the request policy, and
/// every KSR bundle answered by exactly one SKR bundle with its id,
/// inception, expiration and ZSK set (and the ZSKs' key identifiers), with
/// no SKR bundle left over; text: every KSR bundle's inception starts
/// exactly one SKR bundle, and every SKR bundle (Knot and BIND add
/// signature-refresh bundles between and after the requested inceptions)
/// begins no earlier than the first requested inception and carries the ZSK
/// set of the KSR bundle in force at its inception. Every SKR bundle is
/// compared, not the first with each id: a bundle spliced in from another
/// SKR signed by the same KSK is refused. Keys with the SEP flag are taken as
/// the KSK side's. No knob (kskm checks its own output the same way).
pub fn check_matches_ksr(skr: &Skr, ksr: &Ksr) -> CheckResult {
    let mut problems = Vec::new();
    if !same_name(&skr.domain, &ksr.domain) {
        problems.push(format!(
            "the SKR is for {}, the KSR for {}",
            to_presentation(&skr.domain),
            to_presentation(&ksr.domain)
        ));
    }
    if ksr.format == Format::Iana {
        if skr.id != ksr.id {
            problems.push(format!(
                "the SKR id {} is not the KSR id {}",
                terminal_safe(&skr.id),
                terminal_safe(&ksr.id)
            ));
        }
        if skr.serial != ksr.serial {
            problems.push(format!(
                "the SKR serial {} is not the KSR serial {}",
                skr.serial.map(|s| s.to_string()).unwrap_or("(none)".into()),
                ksr.serial.map(|s| s.to_string()).unwrap_or("(none)".into())
            ));
        }
        if skr.zsk_policy.is_some() && skr.zsk_policy != ksr.request_policy {
            problems.push("the SKR's ZSK response policy is not the KSR's request policy".into());
        }
        let mut answered = vec![0usize; skr.bundles.len()];
        for kb in &ksr.bundles {
            let kid = terminal_safe(&kb.id);
            let matching: Vec<usize> = skr
                .bundles
                .iter()
                .enumerate()
                .filter(|(_, s)| s.id == kb.id)
                .map(|(i, _)| i)
                .collect();
            for i in &matching {
                if let Some(a) = answered.get_mut(*i) {
                    *a += 1;
                }
            }
            let sb = match matching.as_slice() {
                [] => {
                    problems.push(format!("KSR bundle {kid} has no SKR bundle"));
                    continue;
                }
                [i] => match skr.bundles.get(*i) {
                    Some(sb) => sb,
                    None => continue,
                },
                many => {
                    problems.push(format!(
                        "KSR bundle {kid} is answered by {} SKR bundles (#{}): one bundle, one answer",
                        many.len(),
                        many.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", #")
                    ));
                    continue;
                }
            };
            if sb.inception != kb.inception {
                problems.push(format!(
                    "{}: inception differs from the requested {}",
                    label(sb),
                    format_rfc3339(kb.inception)
                ));
            }
            if sb.expiration != kb.expiration {
                problems.push(format!(
                    "{}: expiration {} differs from the requested {}",
                    label(sb),
                    sb.expiration.map(format_rfc3339).unwrap_or("none".into()),
                    kb.expiration.map(format_rfc3339).unwrap_or("none".into())
                ));
            }
            let (want, got) = (ksr_zsks(kb), skr_zsks(sb));
            if want != got {
                problems.push(format!(
                    "{}: ZSKs {} differ from the requested {}",
                    label(sb),
                    tags_of(&got),
                    tags_of(&want)
                ));
            }
            for k in sb.keys.iter().filter(|k| !k.dnskey.is_sep()) {
                if let Some(r) = kb.keys.iter().find(|r| r.dnskey == k.dnskey) {
                    if r.key_identifier != k.key_identifier {
                        problems.push(format!(
                            "{}: ZSK key tag {} is identified as {}, the KSR says {}",
                            label(sb),
                            k.dnskey.key_tag(),
                            terminal_safe(&k.key_identifier),
                            terminal_safe(&r.key_identifier)
                        ));
                    }
                }
            }
        }
        for (sb, n) in skr.bundles.iter().zip(&answered) {
            if *n == 0 {
                problems.push(format!("{} was not requested", label(sb)));
            }
        }
        return CheckResult::from_problems(
            SKR_MATCHES_KSR,
            problems,
            format!(
                "all {} bundles match the KSR one to one (id, inception, expiration, ZSKs)",
                ksr.bundles.len()
            ),
        );
    }
    let mut kbs: Vec<&RequestBundle> = ksr.bundles.iter().collect();
    kbs.sort_by_key(|b| b.inception);
    for kb in &kbs {
        match skr.bundles.iter().filter(|s| s.inception == kb.inception).count() {
            0 => problems.push(format!(
                "the KSR bundle at {} has no SKR bundle starting then",
                format_rfc3339(kb.inception)
            )),
            1 => {}
            n => problems.push(format!(
                "the KSR bundle at {} is answered by {n} SKR bundles starting then: one bundle, one answer",
                format_rfc3339(kb.inception)
            )),
        }
    }
    for sb in &skr.bundles {
        match kbs.iter().rev().find(|k| k.inception <= sb.inception) {
            None => problems.push(format!(
                "{} begins before the KSR's first bundle",
                label(sb)
            )),
            Some(kb) => {
                let (want, got) = (ksr_zsks(kb), skr_zsks(sb));
                if want != got {
                    problems.push(format!(
                        "{}: ZSKs {} differ from {} requested from {}",
                        label(sb),
                        tags_of(&got),
                        tags_of(&want),
                        format_rfc3339(kb.inception)
                    ));
                }
            }
        }
    }
    problems.extend(refresh_step_problems(skr, &kbs));
    CheckResult::from_problems(
        SKR_MATCHES_KSR,
        problems,
        format!(
            "all {} SKR bundles carry the requested ZSKs and every requested inception is answered by one bundle (text format: no expirations to compare)",
            skr.bundles.len()
        ),
    )
}

/// Text SKRs (part of SKR-MATCHES-KSR): Knot and BIND answer each
/// requested inception with one bundle and add signature-refresh bundles a
/// fixed step apart until the next requested inception. The step is the
/// longest gap between consecutive bundles, not ending at a requested
/// inception, that occurs at least twice (none: nothing to compare); no gap
/// may exceed it. A refresh
/// bundle dropped from the file shows as a gap of two steps, even where the
/// signatures' validity still covers it (issue 14 point 2). Shorter gaps
/// (BIND aligns its first refresh; the last one before a requested inception
/// is cut short) are not problems.
fn refresh_step_problems(skr: &Skr, requested: &[&RequestBundle]) -> Vec<String> {
    let wanted: BTreeSet<OffsetDateTime> = requested.iter().map(|k| k.inception).collect();
    let mut starts: Vec<OffsetDateTime> = skr.bundles.iter().map(|b| b.inception).collect();
    starts.sort();
    starts.dedup();
    let gaps: Vec<(OffsetDateTime, OffsetDateTime)> = starts.windows(2).filter_map(|w| Some((*w.first()?, *w.get(1)?))).collect();
    let mut counts: std::collections::BTreeMap<time::Duration, usize> = std::collections::BTreeMap::new();
    for (a, b) in gaps.iter().filter(|(_, b)| !wanted.contains(b)) {
        *counts.entry(*b - *a).or_default() += 1;
    }
    // The step is the longest such gap seen at least twice: one extra
    // refresh bundle (accepted) splits a step in two without changing it,
    // and one dropped bundle leaves a double step seen once.
    let Some(step) = counts.iter().filter(|(_, n)| **n >= 2).map(|(d, _)| *d).max() else {
        return Vec::new();
    };
    gaps.iter()
        .filter(|(a, b)| *b - *a > step)
        .map(|(a, b)| {
            format!(
                "no SKR bundle between {} and {} ({} apart) where the SKR's refresh bundles are {} apart: a refresh bundle is missing",
                format_rfc3339(*a),
                format_rfc3339(*b),
                crate::timeutil::format_iso_duration(*b - *a),
                crate::timeutil::format_iso_duration(step)
            )
        })
        .collect()
}

/// SKR-COVERAGE: the bundles, each valid from its inception to its end
/// (expiration, or its DNSKEY signatures' expiration), cover the requested
/// period — the KSR's first inception to its last expiration (text format:
/// last inception) — without a gap, so the zone never lacks a signed DNSKEY
/// RRset (RFC 6781 §4.1.4). Without a KSR, only gaps between bundles are
/// checked. No knob.
pub fn check_coverage(skr: &Skr, ksr: Option<&Ksr>) -> CheckResult {
    let bundles = sorted(skr);
    let mut problems = Vec::new();
    let mut reach: Option<OffsetDateTime> = None;
    for b in &bundles {
        let Some(end) = response_bundle_end(b) else {
            problems.push(format!(
                "{} has no expiration and no DNSKEY signature",
                label(b)
            ));
            continue;
        };
        if let Some(r) = reach {
            if b.inception > r {
                problems.push(format!(
                    "gap from {} to {} before {}",
                    format_rfc3339(r),
                    format_rfc3339(b.inception),
                    label(b)
                ));
            }
        }
        reach = Some(reach.map_or(end, |r| r.max(end)));
    }
    let (Some(first), Some(reach)) = (bundles.first(), reach) else {
        return CheckResult::fail(SKR_COVERAGE, "the SKR has no usable bundles");
    };
    let Some(k) = ksr else {
        return CheckResult::from_problems(
            SKR_COVERAGE,
            problems,
            format!(
                "no gap from {} to {} (no KSR to compare with)",
                format_rfc3339(first.inception),
                format_rfc3339(reach)
            ),
        );
    };
    let start = k.bundles.iter().map(|b| b.inception).min();
    let end = k
        .bundles
        .iter()
        .filter_map(|b| b.expiration)
        .max()
        .or_else(|| k.bundles.iter().map(|b| b.inception).max());
    if let Some(s) = start {
        if first.inception > s {
            problems.push(format!(
                "the SKR begins {} after the requested start {}",
                format_rfc3339(first.inception),
                format_rfc3339(s)
            ));
        }
    }
    if let Some(e) = end {
        if reach < e {
            problems.push(format!(
                "the SKR ends {} before the requested end {}",
                format_rfc3339(reach),
                format_rfc3339(e)
            ));
        }
    }
    CheckResult::from_problems(
        SKR_COVERAGE,
        problems,
        format!(
            "the bundles cover {} to {} without a gap, including the requested period",
            format_rfc3339(first.inception),
            format_rfc3339(reach)
        ),
    )
}

/// SKR-NO-EARLY-EXPIRY: every signature of a bundle is valid from the
/// bundle's inception until the next bundle takes over (and, where the
/// bundle has one, until its expiration), so no published RRSIG lapses while
/// in use (RFC 4034 §3.1.5, RFC 6781 §4.4.1). No knob.
pub fn check_no_early_expiry(skr: &Skr) -> CheckResult {
    let bundles = sorted(skr);
    let mut problems = Vec::new();
    for (i, b) in bundles.iter().enumerate() {
        let next = bundles.get(i + 1).map(|n| n.inception);
        let until = match (next, b.expiration) {
            (Some(n), Some(e)) => Some(n.max(e)),
            (a, c) => a.or(c),
        };
        for s in &b.signatures {
            let inc = from_rrsig_time(s.rrsig.inception, b.inception);
            let exp = from_rrsig_time(s.rrsig.expiration, b.inception);
            let what = format!(
                "{}: RRSIG {} by key tag {}",
                label(b),
                rtype::name(s.rrsig.type_covered),
                s.rrsig.key_tag
            );
            if inc > b.inception {
                problems.push(format!(
                    "{what} is valid only from {}, after the bundle begins",
                    format_rfc3339(inc)
                ));
            }
            if exp <= inc {
                problems.push(format!(
                    "{what} expires ({}) before its inception",
                    format_rfc3339(exp)
                ));
            } else if let Some(u) = until {
                if exp < u {
                    problems.push(format!(
                        "{what} expires {} before the next bundle takes over ({})",
                        format_rfc3339(exp),
                        format_rfc3339(u)
                    ));
                }
            }
        }
    }
    CheckResult::from_problems(
        SKR_NO_EARLY_EXPIRY,
        problems,
        "no signature expires before the next bundle takes over",
    )
}

/// SKR-BUNDLE-TIMES: a bundle's times are not signed, only its RRSIGs'
/// are, so they must agree with the signatures or a changed time (a bundle
/// published early or late) would go unnoticed. IANA: every RRSIG of a
/// bundle is valid exactly from the bundle's inception to its expiration
/// (the root's practice, and kskit's signer). Text: the bundle's start lies
/// at the same offsets from its DNSKEY RRSIGs' inception and expiration in
/// every bundle (Knot signs 90 minutes before the bundle, BIND and kskit at a
/// fixed offset too), and within the signatures' validity. No knob.
pub fn check_bundle_times(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    let mut offsets: Option<(i64, i64, String)> = None;
    for b in &skr.bundles {
        for s in &b.signatures {
            let inc = from_rrsig_time(s.rrsig.inception, b.inception);
            let exp = from_rrsig_time(s.rrsig.expiration, b.inception);
            match skr.format {
                Format::Iana => {
                    if inc != b.inception || Some(exp) != b.expiration {
                        problems.push(format!(
                            "{}: RRSIG {} by key tag {} is valid {}..{}, not the bundle's {}..{}",
                            label(b),
                            rtype::name(s.rrsig.type_covered),
                            s.rrsig.key_tag,
                            format_rfc3339(inc),
                            format_rfc3339(exp),
                            format_rfc3339(b.inception),
                            b.expiration.map(format_rfc3339).unwrap_or_else(|| "(none)".into())
                        ));
                    }
                }
                Format::Text => {
                    let before = (b.inception - inc).whole_seconds();
                    let after = (exp - b.inception).whole_seconds();
                    if before < 0 || after <= 0 {
                        problems.push(format!("{}: the bundle starts outside its RRSIG {} validity", label(b), rtype::name(s.rrsig.type_covered)));
                        continue;
                    }
                    match &offsets {
                        None => offsets = Some((before, after, label(b))),
                        Some((b0, a0, first)) if (*b0, *a0) != (before, after) => problems.push(format!(
                            "{}: signed {before} s before and valid {after} s after the bundle start, but {first} is signed {b0} s before and valid {a0} s after",
                            label(b)
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    CheckResult::from_problems(SKR_BUNDLE_TIMES, problems, "every bundle's times agree with its signatures")
}

/// SKR-TTL: TTLs are not covered by signatures except as the RRSIG's
/// original TTL, so each must agree with it: all records of an RRset share
/// one TTL (RFC 2181 §5.2), and an RRSIG's TTL and original TTL equal the
/// TTL of the RRset it covers (RFC 4034 §3, §3.1.4). No knob.
pub fn check_ttl(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    for b in &skr.bundles {
        let dnskey_ttl = b.keys.first().map(|k| k.ttl);
        if b.keys.iter().any(|k| Some(k.ttl) != dnskey_ttl) {
            problems.push(format!("{}: the DNSKEY records have different TTLs", label(b)));
        }
        for s in &b.signatures {
            let want = match s.rrsig.type_covered {
                rtype::DNSKEY => dnskey_ttl,
                rtype::CDS => Some(b.cds_ttl),
                rtype::CDNSKEY => Some(b.cdnskey_ttl),
                _ => None,
            };
            if let Some(w) = want {
                if s.ttl != w || s.rrsig.original_ttl != w {
                    problems.push(format!(
                        "{}: RRSIG {} by key tag {} has TTL {} and original TTL {}, but the RRset's TTL is {w}",
                        label(b),
                        rtype::name(s.rrsig.type_covered),
                        s.rrsig.key_tag,
                        s.ttl,
                        s.rrsig.original_ttl
                    ));
                }
            }
        }
    }
    CheckResult::from_problems(SKR_TTL, problems, "record, RRSIG and original TTLs agree")
}

/// The RFC 8078 §4 CDNSKEY delete form: `0 3 0 AA==`.
pub fn cdnskey_delete() -> Dnskey {
    Dnskey {
        flags: 0,
        protocol: 3,
        algorithm: 0,
        public_key: vec![0],
    }
}

/// SKR-CDS-CONSISTENT: each bundle's CDS and CDNSKEY RRsets (RFC 7344 §3)
/// either name known KSKs — the same KSKs in both when both are published,
/// no SHA-1 digests (RFC 8624 §3.3), at least one of them a KSK of the
/// bundle's DNSKEY set so that the DS RRset they ask for keeps the
/// delegation working (RFC 7344 §4.1 "Continuity") — or are exactly the RFC
/// 8078 §4 delete form, never a mix of delete and normal records; and each
/// is signed by a trust-anchored KSK (RFC 7344 §4.1). A KSK outside the
/// bundle's DNSKEY set is known when another bundle of the SKR publishes it
/// or the trust anchor pins it: a double-DS rollover (RFC 7583 §3.3.3) asks
/// for the new KSK's DS before the KSK is published ([`cds_key_known`]). Not
/// applicable when no bundle publishes CDS or CDNSKEY. No knob.
pub fn check_cds_consistent(skr: &Skr, ta: &TrustAnchor) -> CheckResult {
    if skr
        .bundles
        .iter()
        .all(|b| b.cds.is_empty() && b.cdnskey.is_empty())
    {
        return CheckResult::not_applicable(
            SKR_CDS_CONSISTENT,
            "no bundle publishes CDS or CDNSKEY",
        );
    }
    let mut problems = Vec::new();
    for (bi, b) in skr.bundles.iter().enumerate() {
        if b.cds.is_empty() && b.cdnskey.is_empty() {
            continue;
        }
        let lb = label(b);
        let ksks: Vec<&Dnskey> = b
            .keys
            .iter()
            .map(|k| &k.dnskey)
            .filter(|k| k.is_sep())
            .collect();
        let deletes = b.cds.iter().filter(|d| d.is_delete()).count()
            + b.cdnskey.iter().filter(|k| k.algorithm == 0).count();
        let total = b.cds.len() + b.cdnskey.len();
        if deletes > 0 && deletes < total {
            problems.push(format!(
                "{lb}: CDS/CDNSKEY mix the RFC 8078 delete form with normal records"
            ));
            continue;
        }
        if deletes > 0 {
            if b.cds.iter().any(|d| *d != Ds::delete())
                || b.cdnskey.iter().any(|k| *k != cdnskey_delete())
            {
                problems.push(format!("{lb}: a delete record is not exactly CDS 0 0 0 00 / CDNSKEY 0 3 0 AA== (RFC 8078 §4)"));
            }
        } else {
            let mut cds_tags = BTreeSet::new();
            for d in &b.cds {
                if d.digest_type == DigestType::Sha1.number() {
                    problems.push(format!("{lb}: CDS for key tag {} uses SHA-1, which must not be published (RFC 8624 §3.3)", d.key_tag));
                }
                match cds_key_known(skr, ta, &ksks, d) {
                    Some(tag) => {
                        cds_tags.insert(tag);
                    }
                    None => problems.push(format!(
                        "{lb}: CDS for key tag {} matches no KSK of the bundle, of the SKR or of the trust anchor",
                        d.key_tag
                    )),
                }
            }
            let mut cdnskey_tags = BTreeSet::new();
            for c in &b.cdnskey {
                if ksks.contains(&c) || ta.pins(c) || skr.bundles.iter().flat_map(|o| o.keys.iter()).any(|k| k.dnskey.is_sep() && k.dnskey == *c) {
                    cdnskey_tags.insert(c.key_tag());
                } else {
                    problems.push(format!(
                        "{lb}: CDNSKEY key tag {} is not a KSK of the bundle, of the SKR or of the trust anchor",
                        c.key_tag()
                    ));
                }
            }
            let continuity = b.cds.iter().any(|d| ksks.iter().any(|k| d.matches(&skr.domain, k)))
                || b.cdnskey.iter().any(|c| ksks.contains(&c));
            if !continuity {
                problems.push(format!(
                    "{lb}: no CDS/CDNSKEY names a KSK of the bundle: the DS RRset it asks for would break the delegation (RFC 7344 §4.1 Continuity)"
                ));
            }
            if !b.cds.is_empty() && !b.cdnskey.is_empty() && cds_tags != cdnskey_tags {
                problems.push(format!(
                    "{lb}: CDS names key tags {cds_tags:?} but CDNSKEY {cdnskey_tags:?}"
                ));
            }
        }
        for (t, present) in [
            (rtype::CDS, !b.cds.is_empty()),
            (rtype::CDNSKEY, !b.cdnskey.is_empty()),
        ] {
            if !present {
                continue;
            }
            let signed = b
                .signatures
                .iter()
                .enumerate()
                .filter(|(_, s)| s.rrsig.type_covered == t)
                .any(|(si, _)| {
                    verifying_key_at(skr, bi, si)
                        .is_some_and(|k| !k.is_revoked() && ta.pins(k))
                });
            if !signed {
                problems.push(format!(
                    "{lb}: the {} RRset has no valid signature by a trust-anchored KSK",
                    rtype::name(t)
                ));
            }
        }
    }
    CheckResult::from_problems(
        SKR_CDS_CONSISTENT,
        problems,
        "CDS and CDNSKEY name the bundles' KSKs (or the delete form) and are signed",
    )
}

/// The key tag of the KSK a CDS record names, when that KSK is known: a KSK
/// of the bundle (`ksks`), a KSK published in any bundle of the SKR, or a
/// key the trust anchor pins (by DNSKEY, or by this very DS). `None` for a
/// CDS of an unknown key. Used by [`check_cds_consistent`].
pub fn cds_key_known(skr: &Skr, ta: &TrustAnchor, ksks: &[&Dnskey], d: &Ds) -> Option<u16> {
    if let Some(k) = ksks.iter().find(|k| d.matches(&skr.domain, k)) {
        return Some(k.key_tag());
    }
    let in_skr = skr.bundles.iter().flat_map(|b| b.keys.iter()).map(|k| &k.dnskey).filter(|k| k.is_sep());
    if let Some(k) = in_skr.chain(ta.dnskeys.iter()).find(|k| d.matches(&skr.domain, k)) {
        return Some(k.key_tag());
    }
    ta.ds.iter().any(|t| t == d).then_some(d.key_tag)
}

/// SKR-NOT-EXPIRED: at `now`, the SKR still has a bundle whose signatures
/// have not expired; importing an SKR that ended is a mistake (a stale file
/// or a wrong clock; RFC 4035 §5.3.1 validity). No knob.
pub fn check_not_expired(skr: &Skr, now: OffsetDateTime) -> CheckResult {
    match skr.bundles.iter().filter_map(response_bundle_end).max() {
        None => CheckResult::fail(SKR_NOT_EXPIRED, "the SKR has no bundle with an end time"),
        Some(end) if end <= now => CheckResult::fail(
            SKR_NOT_EXPIRED,
            format!(
                "every bundle ended by {}; now is {}",
                format_rfc3339(end),
                format_rfc3339(now)
            ),
        ),
        Some(end) => CheckResult::pass(
            SKR_NOT_EXPIRED,
            format!("the SKR is usable until {}", format_rfc3339(end)),
        ),
    }
}

/// SKR-FIELD-SYNTAX: the fields no signature covers and kskit copies into
/// files, reports and terminals have a safe syntax (docs/formats.md,
/// "Unsigned fields"): IANA: the SKR id and every bundle id
/// `[A-Za-z0-9._:-]{1,64}` (the text format has no SKR id; its bundle ids
/// and key identifiers, derived by the parser, are digits), every
/// keyIdentifier `[A-Za-z0-9._:+/=@-]{0,255}`, and the text footer's
/// generator printable ASCII of at most 128 characters.
/// The parsers refuse such input already; this check holds the same rules
/// over the model, whatever built it. Reason: a bundle id with a newline and
/// record text once came out of `export --to zonefile` as real records
/// (issue 14). No knob.
pub fn check_field_syntax(skr: &Skr) -> CheckResult {
    let problems = crate::formats::fields::syntax_problems(
        SKR_FIELD_SYNTAX,
        "SKR",
        &skr.id,
        skr.format == Format::Text,
        skr.bundles.iter().map(|b| (b.id.as_str(), b.keys.as_slice(), b.signatures.as_slice())),
        skr.generated.as_ref().map(|(_, g)| g.as_str()),
    );
    CheckResult::from_problems(SKR_FIELD_SYNTAX, problems, "every id, key identifier and generator string has the safe syntax")
}

/// SKR-RESPONSE-POLICY: the algorithms of the KSK response policy (IANA
/// `<ResponsePolicy><KSK>`, not signed) are those of the keys that signed
/// the DNSKEY RRsets, with their parameters (RSA size and exponent, ECDSA
/// and EdDSA size; an entry without parameters matches any key of its
/// algorithm). Its durations are the KSK side's statement about itself,
/// which the ZSK side can neither confirm nor uses. `N/A` without a KSK
/// response policy. Reason: the tamper test found an algorithm changed in
/// it accepted (issue 14). No knob.
pub fn check_response_policy(skr: &Skr) -> CheckResult {
    let Some(p) = &skr.ksk_policy else {
        return CheckResult::not_applicable(SKR_RESPONSE_POLICY, "the SKR states no KSK response policy");
    };
    let mut signers: Vec<AlgorithmPolicy> = Vec::new();
    for (bi, b) in skr.bundles.iter().enumerate() {
        for (si, _) in b.signatures.iter().enumerate().filter(|(_, g)| g.rrsig.type_covered == rtype::DNSKEY) {
            if let Some(k) = verifying_key_at(skr, bi, si) {
                let ap = key_algorithm_policy(k);
                if !signers.contains(&ap) {
                    signers.push(ap);
                }
            }
        }
    }
    let fits = |pol: &AlgorithmPolicy, key: &AlgorithmPolicy| {
        pol.algorithm == key.algorithm && (pol.params == AlgorithmParams::None || pol.params == key.params)
    };
    let mut problems = Vec::new();
    for a in &p.algorithms {
        if !signers.iter().any(|k| fits(a, k)) {
            problems.push(format!("the KSK response policy names algorithm {} ({:?}), which no signing KSK has", a.algorithm, a.params));
        }
    }
    for k in &signers {
        if !p.algorithms.iter().any(|a| fits(a, k)) {
            problems.push(format!("a KSK of algorithm {} ({:?}) signed, but the KSK response policy does not name it", k.algorithm, k.params));
        }
    }
    CheckResult::from_problems(SKR_RESPONSE_POLICY, problems, "the KSK response policy names the signing KSKs' algorithms")
}

/// The algorithm and parameters of a key, as a policy states them.
fn key_algorithm_policy(key: &Dnskey) -> AlgorithmPolicy {
    let params = match crate::dnssec::Algorithm::from_number(key.algorithm) {
        Ok(a) if a.is_rsa() => AlgorithmParams::Rsa {
            size: key.key_bits().unwrap_or(0),
            exponent: crate::ksr::checks::rsa_exponent(key).unwrap_or(0),
        },
        Ok(a) if a.is_ecdsa() => AlgorithmParams::Ecdsa { size: a.default_bits() },
        Ok(a) => AlgorithmParams::EdDsa { size: a.default_bits() },
        Err(_) => AlgorithmParams::None,
    };
    AlgorithmPolicy { algorithm: key.algorithm, params }
}

/// SKR-BUNDLE-UNIQUE: one bundle per id and per inception, in time order:
/// bundle ids are unique, and inceptions strictly increase in file order.
/// Neither the ids nor the order of bundles is signed, so a duplicated,
/// repeated or reordered bundle (each one correctly signed) would otherwise
/// give the online signer two answers for one time (kskm KSR-BUNDLE-UNIQUE
/// for the request; Knot and BIND write bundles in time order). No knob.
pub fn check_bundle_unique(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    let mut ids: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (i, b) in skr.bundles.iter().enumerate() {
        if let Some(first) = ids.insert(b.id.as_str(), i) {
            problems.push(format!("{} (#{}) repeats the id of bundle #{}", label(b), i + 1, first + 1));
        }
        if i > 0 {
            if let Some(prev) = skr.bundles.get(i - 1) {
                if b.inception <= prev.inception {
                    problems.push(format!(
                        "{} (#{}) does not begin after the bundle before it ({}): bundles must be in strictly increasing time order",
                        label(b),
                        i + 1,
                        label(prev)
                    ));
                }
            }
        }
    }
    CheckResult::from_problems(
        SKR_BUNDLE_UNIQUE,
        problems,
        format!("all {} bundle ids are unique and the inceptions strictly increase", skr.bundles.len()),
    )
}

/// SKR-NO-DUPLICATES: no record appears twice in a bundle — no DNSKEY,
/// CDS, CDNSKEY or RRSIG repeated. An RRset holds no duplicate records
/// (RFC 2181 §5; RFC 4034 §6.3 drops them before signing), so a repeated
/// record is not part of what was signed and a repeated RRSIG only adds
/// validation work (the KeyTrap class, CVE-2023-50387). No knob.
pub fn check_no_duplicates(skr: &Skr) -> CheckResult {
    fn repeats<T: std::hash::Hash + Eq>(v: &[T]) -> usize {
        let mut seen = std::collections::HashSet::with_capacity(v.len());
        v.iter().filter(|x| !seen.insert(*x)).count()
    }
    let mut problems = Vec::new();
    for b in &skr.bundles {
        let dnskeys: Vec<&Dnskey> = b.keys.iter().map(|k| &k.dnskey).collect();
        let sigs: Vec<(&crate::dnssec::Rrsig, u32)> = b.signatures.iter().map(|g| (&g.rrsig, g.ttl)).collect();
        for (what, n) in [
            ("DNSKEY", repeats(&dnskeys)),
            ("CDS", repeats(&b.cds)),
            ("CDNSKEY", repeats(&b.cdnskey)),
            ("RRSIG", repeats(&sigs)),
        ] {
            if n > 0 {
                problems.push(format!("{}: {n} {what} record(s) repeated", label(b)));
            }
        }
    }
    CheckResult::from_problems(SKR_NO_DUPLICATES, problems, "no bundle repeats a record")
}

/// SKR-KEY-TAG: the key tag the file claims for each key (IANA `keyTag`
/// attribute, unsigned) is the one computed from its DNSKEY RDATA (RFC 4034
/// Appendix B), as KSR-KEY-TAG requires of the request. No knob.
pub fn check_key_tag(skr: &Skr) -> CheckResult {
    let mut problems = Vec::new();
    let mut n = 0;
    for b in &skr.bundles {
        for k in &b.keys {
            n += 1;
            let tag = k.dnskey.key_tag();
            if k.key_tag != tag {
                problems.push(format!(
                    "{}: key {} claims key tag {}, computed {tag}",
                    label(b),
                    terminal_safe(&k.key_identifier),
                    k.key_tag
                ));
            }
        }
    }
    CheckResult::from_problems(SKR_KEY_TAG, problems, format!("all {n} claimed key tags are the computed ones"))
}

/// The same key, its RFC 5011 REVOKE bit aside: a KSK keeps its identifier
/// when it is revoked (RFC 5011 §2.1: the revoked key is the same key).
fn same_key_but_revoke(a: &Dnskey, b: &Dnskey) -> bool {
    a.flags & !FLAG_REVOKE == b.flags & !FLAG_REVOKE
        && a.protocol == b.protocol
        && a.algorithm == b.algorithm
        && a.public_key == b.public_key
}

/// SKR-KEY-ID-CONSISTENT: the unsigned key identifiers agree with the
/// signed keys (IANA): one identifier names one DNSKEY throughout the SKR
/// and a DNSKEY keeps one identifier, and a signature's keyIdentifier, when
/// given, is the identifier of a key of its bundle with the RRSIG's key tag
/// and algorithm (kskm KSR-BUNDLE-KEYS, as KSR-KEY-ID-CONSISTENT for the
/// request). Text SKRs identify keys by their tags only. No knob.
pub fn check_key_id_consistent(skr: &Skr) -> CheckResult {
    let mut by_id: std::collections::BTreeMap<&str, &Dnskey> = std::collections::BTreeMap::new();
    let mut by_key: Vec<(&Dnskey, &str)> = Vec::new();
    let mut problems = Vec::new();
    for b in &skr.bundles {
        for k in b.keys.iter().filter(|k| !k.key_identifier.is_empty()) {
            match by_id.get(k.key_identifier.as_str()) {
                Some(prev) if !same_key_but_revoke(prev, &k.dnskey) => problems.push(format!(
                    "{}: key identifier {} (key tag {}) names another key elsewhere (key tag {})",
                    label(b),
                    terminal_safe(&k.key_identifier),
                    k.dnskey.key_tag(),
                    prev.key_tag()
                )),
                Some(_) => {}
                None => {
                    by_id.insert(k.key_identifier.as_str(), &k.dnskey);
                }
            }
            match by_key.iter().find(|(d, _)| same_key_but_revoke(d, &k.dnskey)) {
                Some((_, id)) if *id != k.key_identifier => problems.push(format!(
                    "{}: key tag {} appears as {} and elsewhere as {}",
                    label(b),
                    k.dnskey.key_tag(),
                    terminal_safe(&k.key_identifier),
                    terminal_safe(id)
                )),
                Some(_) => {}
                None => by_key.push((&k.dnskey, k.key_identifier.as_str())),
            }
        }
        for g in &b.signatures {
            let Some(id) = &g.key_identifier else { continue };
            let named = b.keys.iter().any(|k| {
                k.key_identifier == *id && k.dnskey.key_tag() == g.rrsig.key_tag && k.dnskey.algorithm == g.rrsig.algorithm
            });
            if !named {
                problems.push(format!(
                    "{}: RRSIG {} by key tag {} names keyIdentifier {}, which is not the identifier of a key of the bundle with that tag and algorithm",
                    label(b),
                    rtype::name(g.rrsig.type_covered),
                    g.rrsig.key_tag,
                    terminal_safe(id)
                ));
            }
        }
    }
    CheckResult::from_problems(
        SKR_KEY_ID_CONSISTENT,
        problems,
        format!("{} key identifiers each name one key, and signatures name their signing keys", by_id.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ksr::checks::tests::{dnskey_rrset, iana_fixture, sign_set, t, TestKey};
    use crate::ksr::model::BundleKey;
    use time::Duration;

    /// Signs the KSR model like a KSK side would: DNSKEY = ZSKs + KSK, CDS
    /// and CDNSKEY for the KSK, all signed for the bundle's validity.
    fn sign(ksr: &Ksr, ksk: &TestKey) -> Skr {
        let bundles = ksr
            .bundles
            .iter()
            .map(|kb| {
                let exp = kb.expiration.unwrap_or(kb.inception + Duration::days(14));
                let mut keys: Vec<BundleKey> = kb.keys.clone();
                keys.push(ksk.bundle_key(3600));
                let dk = dnskey_rrset(&ksr.domain, &keys);
                let cds = vec![ksk.dnskey().ds(&ksr.domain, DigestType::Sha256)];
                let cdnskey = vec![ksk.dnskey().clone()];
                let cds_set = RrSet::new(
                    ksr.domain.clone(),
                    0,
                    cds.iter().cloned().map(RData::Cds).collect(),
                )
                .unwrap();
                let cdk_set = RrSet::new(
                    ksr.domain.clone(),
                    0,
                    cdnskey.iter().cloned().map(RData::Cdnskey).collect(),
                )
                .unwrap();
                let signatures = vec![
                    sign_set(ksk, &dk, kb.inception, exp),
                    sign_set(ksk, &cds_set, kb.inception, exp),
                    sign_set(ksk, &cdk_set, kb.inception, exp),
                ];
                ResponseBundle {
                    id: kb.id.clone(),
                    inception: kb.inception,
                    expiration: kb.expiration,
                    keys,
                    cds,
                    cds_ttl: 0,
                    cdnskey,
                    cdnskey_ttl: 0,
                    signatures,
                }
            })
            .collect();
        Skr {
            format: ksr.format,
            id: ksr.id.clone(),
            domain: ksr.domain.clone(),
            serial: ksr.serial,
            ksk_policy: None,
            zsk_policy: None,
            bundles,
            generated: None,
            layout: crate::ksr::TextLayout::Knot,
        }
    }

    fn ta_for(k: &TestKey) -> TrustAnchor {
        TrustAnchor {
            ds: vec![k.dnskey().ds(&Name::root(), DigestType::Sha256)],
            dnskeys: vec![],
            domain: Name::root(),
        }
    }

    fn now() -> OffsetDateTime {
        t("2027-01-05T00:00:00Z")
    }

    #[test]
    fn good_skr_passes() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let mut skr = sign(&f.ksr, &ksk);
        let zero = time::Duration::ZERO;
        skr.ksk_policy = Some(crate::ksr::model::SignaturePolicy {
            publish_safety: zero,
            retire_safety: zero,
            max_signature_validity: zero,
            min_signature_validity: zero,
            max_validity_overlap: zero,
            min_validity_overlap: zero,
            algorithms: vec![key_algorithm_policy(ksk.dnskey())],
        });
        let r = check_skr_bounded(&skr, &ta_for(&ksk), Some(&f.ksr), now(), Some(Duration::days(21)));
        assert!(r.passed(), "{r}");
        assert!(r.results.iter().all(|c| c.applicable), "{r}");
        // An algorithm changed in the (unsigned) KSK response policy.
        let mut changed = skr.clone();
        if let Some(p) = &mut changed.ksk_policy {
            p.algorithms[0].algorithm = 3;
        }
        assert!(check_response_policy(&changed).is_failure());
        assert_eq!(
            r.results.iter().map(|c| c.id).collect::<Vec<_>>(),
            ALL.to_vec()
        );
        // A DNSKEY trust anchor works as well as a DS one.
        let ta = TrustAnchor {
            ds: vec![],
            dnskeys: vec![ksk.dnskey().clone()],
            domain: Name::root(),
        };
        assert!(check_skr(&skr, &ta, None, now()).passed());
    }

    #[test]
    fn tampered_signature_fails_verify() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let mut skr = sign(&f.ksr, &ksk);
        skr.bundles[4].signatures[0].rrsig.signature[3] ^= 0x40;
        let r = check_skr(&skr, &ta_for(&ksk), Some(&f.ksr), now());
        let fails: Vec<&str> = r.failures().iter().map(|c| c.id).collect();
        assert!(
            fails.contains(&SKR_SIG_VERIFY) && fails.contains(&SKR_DNSKEY_SIGNED),
            "{r}"
        );
        assert!(r.get(SKR_SIG_VERIFY).unwrap().message.contains("bundle-4"));
    }

    #[test]
    fn foreign_ksk_fails_trust_anchor() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let other = TestKey::new(257);
        let skr = sign(&f.ksr, &ksk);
        let r = check_skr(&skr, &ta_for(&other), Some(&f.ksr), now());
        let fails: Vec<&str> = r.failures().iter().map(|c| c.id).collect();
        assert!(
            fails.contains(&SKR_TRUST_ANCHOR)
                && fails.contains(&SKR_DNSKEY_SIGNED)
                && fails.contains(&SKR_CDS_CONSISTENT),
            "{r}"
        );
        assert!(!fails.contains(&SKR_SIG_VERIFY));
        let mut wrong_domain = ta_for(&ksk);
        wrong_domain.domain = crate::dnssec::parse_name("example.").unwrap();
        assert!(check_trust_anchor(&skr, &wrong_domain).is_failure());
    }

    #[test]
    fn mismatch_with_ksr() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let skr = sign(&f.ksr, &ksk);
        let mut k2 = f.ksr.clone();
        k2.bundles[2].expiration = k2.bundles[2].expiration.map(|e| e + Duration::days(1));
        let r = check_matches_ksr(&skr, &k2);
        assert!(r.is_failure() && r.message.contains("bundle-2"), "{r}");
        let mut k3 = f.ksr.clone();
        k3.bundles[3].keys.push(f.b.bundle_key(3600));
        let r = check_matches_ksr(&skr, &k3);
        assert!(r.is_failure() && r.message.contains("ZSKs"), "{r}");
    }

    #[test]
    fn dropped_bundle_breaks_coverage() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let mut skr = sign(&f.ksr, &ksk);
        // Drop bundles 4 and 5: 30 days between inceptions, 21-day validity: a gap.
        skr.bundles.remove(4);
        skr.bundles.remove(4);
        let r = check_skr(&skr, &ta_for(&ksk), Some(&f.ksr), now());
        let fails: Vec<&str> = r.failures().iter().map(|c| c.id).collect();
        assert!(
            fails.contains(&SKR_COVERAGE)
                && fails.contains(&SKR_MATCHES_KSR)
                && fails.contains(&SKR_NO_EARLY_EXPIRY),
            "{r}"
        );
        // Dropping the last bundle leaves the requested end uncovered.
        let mut skr = sign(&f.ksr, &ksk);
        skr.bundles.pop();
        let r = check_coverage(&skr, Some(&f.ksr));
        assert!(
            r.is_failure() && r.message.contains("before the requested end"),
            "{r}"
        );
        assert!(check_coverage(&skr, None).passed);
    }

    #[test]
    fn cds_rules() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let ta = ta_for(&ksk);
        let skr = sign(&f.ksr, &ksk);
        // A mix of delete and normal.
        let mut s2 = skr.clone();
        s2.bundles[1].cds.push(Ds::delete());
        let r = check_cds_consistent(&s2, &ta);
        assert!(r.is_failure() && r.message.contains("mix"), "{r}");
        // A CDS for a key not in the bundle.
        let mut s3 = skr.clone();
        s3.bundles[1].cds = vec![TestKey::new(257)
            .dnskey()
            .ds(&Name::root(), DigestType::Sha256)];
        let r = check_cds_consistent(&s3, &ta);
        assert!(
            r.is_failure() && r.message.contains("matches no KSK"),
            "{r}"
        );
        // Double-DS (RFC 7583 §3.3.3): the CDS of a KSK the trust anchor pins
        // but the bundle does not publish yet, next to the bundle's own KSK.
        let next = TestKey::new(257);
        let next_ds = next.dnskey().ds(&Name::root(), DigestType::Sha256);
        let mut ta2 = ta.clone();
        ta2.dnskeys.push(next.dnskey().clone());
        let mut s5 = skr.clone();
        let resign_cds = |b: &mut ResponseBundle| {
            let (inc, exp) = (b.inception, b.expiration.unwrap_or(b.inception + Duration::days(14)));
            let set = RrSet::new(Name::root(), 0, b.cds.iter().cloned().map(RData::Cds).collect()).unwrap();
            b.signatures[1] = sign_set(&ksk, &set, inc, exp);
            if !b.cdnskey.is_empty() {
                let set = RrSet::new(Name::root(), 0, b.cdnskey.iter().cloned().map(RData::Cdnskey).collect()).unwrap();
                b.signatures[2] = sign_set(&ksk, &set, inc, exp);
            }
        };
        s5.bundles[1].cds.push(next_ds.clone());
        s5.bundles[1].cdnskey.push(next.dnskey().clone());
        resign_cds(&mut s5.bundles[1]);
        assert!(check_cds_consistent(&s5, &ta2).passed, "{}", check_cds_consistent(&s5, &ta2));
        // ... but not when it is the only one: continuity (RFC 7344 §4.1).
        s5.bundles[1].cds = vec![next_ds];
        s5.bundles[1].cdnskey.clear();
        s5.bundles[1].signatures.truncate(2);
        resign_cds(&mut s5.bundles[1]);
        let r = check_cds_consistent(&s5, &ta2);
        assert!(r.is_failure() && r.message.contains("Continuity"), "{r}");
        // None published: not applicable.
        let mut s4 = skr.clone();
        for b in &mut s4.bundles {
            b.cds.clear();
            b.cdnskey.clear();
            b.signatures.truncate(1);
        }
        assert!(!check_cds_consistent(&s4, &ta).applicable);
    }

    #[test]
    fn early_expiry_and_stale() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let mut skr = sign(&f.ksr, &ksk);
        let b = &mut skr.bundles[2];
        let dk = dnskey_rrset(&Name::root(), &b.keys);
        b.signatures[0] = sign_set(&ksk, &dk, b.inception, b.inception + Duration::days(5));
        let r = check_no_early_expiry(&skr);
        assert!(r.is_failure() && r.message.contains("bundle-2"), "{r}");
        assert!(check_not_expired(&skr, t("2027-06-01T00:00:00Z")).is_failure());
        assert!(check_not_expired(&skr, now()).passed);
    }

    #[test]
    fn trust_anchor_parsing() {
        let ta = parse_trust_anchor(
            ". IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5\n",
        )
        .unwrap();
        assert_eq!(ta.ds.len(), 1);
        assert_eq!(ta.ds[0].key_tag, 19036);
        assert!(ta.domain.is_root());
        assert!(matches!(
            parse_trust_anchor(""),
            Err(TrustAnchorError::Empty)
        ));
        assert!(parse_trust_anchor(". IN DS 1 8 2 00\nexample. IN DS 1 8 2 00").is_err());
        assert!(parse_trust_anchor(". 0 IN A 192.0.2.1").is_err());
    }

    /// The IANA fixture as a text-format KSR: no ids, no expirations.
    fn text_ksr() -> Ksr {
        let mut k = iana_fixture().ksr;
        k.format = Format::Text;
        k.id = String::new();
        k.serial = None;
        k.request_policy = None;
        for b in &mut k.bundles {
            b.id = b.inception.unix_timestamp().to_string();
            b.expiration = None;
            b.signatures.clear();
            for key in &mut b.keys {
                key.key_identifier = key.dnskey.key_tag().to_string();
            }
        }
        k
    }

    fn text_skr(ksr: &Ksr, ksk: &TestKey) -> Skr {
        let mut s = sign(ksr, ksk);
        for b in &mut s.bundles {
            for key in &mut b.keys {
                key.key_identifier = key.dnskey.key_tag().to_string();
            }
            for g in &mut b.signatures {
                g.key_identifier = None;
            }
        }
        s
    }

    #[test]
    fn every_skr_bundle_is_matched_one_to_one_with_the_ksr() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let skr = sign(&f.ksr, &ksk);
        assert!(check_matches_ksr(&skr, &f.ksr).passed);
        // A bundle signed for another request (other ZSKs, same KSK),
        // relabelled with a requested id and added after the real one: once
        // passed, as only the first bundle with each id was compared.
        let mut other = f.ksr.clone();
        for b in &mut other.bundles {
            b.keys = vec![f.b.bundle_key(3600)];
        }
        let foreign = sign(&other, &ksk).bundles[3].clone();
        let mut spliced = skr.clone();
        spliced.bundles.insert(4, foreign);
        let r = check_matches_ksr(&spliced, &f.ksr);
        assert!(r.is_failure() && r.message.contains("answered by 2 SKR bundles"), "{r}");
        let u = check_bundle_unique(&spliced);
        assert!(u.is_failure() && u.message.contains("repeats the id"), "{u}");
        // The serial and the ZSK response policy are the KSR's.
        let mut s2 = skr.clone();
        s2.serial = s2.serial.map(|x| x + 1).or(Some(7));
        assert!(check_matches_ksr(&s2, &f.ksr).message.contains("serial"));
        // A ZSK renamed (keyIdentifier is not signed).
        let mut s3 = skr.clone();
        s3.bundles[1].keys[0].key_identifier = "renamed".into();
        assert!(check_matches_ksr(&s3, &f.ksr).message.contains("identified as renamed"));
    }

    #[test]
    fn text_skr_bundles_answer_each_requested_inception_once() {
        let ksr = text_ksr();
        let ksk = TestKey::new(257);
        let skr = text_skr(&ksr, &ksk);
        assert!(check_matches_ksr(&skr, &ksr).passed, "{}", check_matches_ksr(&skr, &ksr));
        assert!(check_field_syntax(&skr).passed && check_bundle_unique(&skr).passed);
        // A signature-refresh bundle between requested inceptions, with the
        // ZSKs in force: accepted (Knot and BIND write them).
        let mut refresh = skr.clone();
        let mut extra = skr.bundles[2].clone();
        extra.inception += Duration::days(3);
        extra.id = extra.inception.unix_timestamp().to_string();
        refresh.bundles.insert(3, extra.clone());
        assert!(check_matches_ksr(&refresh, &ksr).passed);
        assert!(check_bundle_unique(&refresh).passed);
        // The same with the ZSKs of another bundle: refused.
        let mut wrong = refresh.clone();
        wrong.bundles[3].keys = skr.bundles[0].keys.clone();
        if skr_zsks(&wrong.bundles[3]) != skr_zsks(&skr.bundles[2]) {
            assert!(check_matches_ksr(&wrong, &ksr).is_failure());
        }
        // A requested inception answered twice, or bundles out of order.
        let mut dup = skr.clone();
        dup.bundles.insert(2, skr.bundles[1].clone());
        let r = check_matches_ksr(&dup, &ksr);
        assert!(r.is_failure() && r.message.contains("answered by 2"), "{r}");
        assert!(check_bundle_unique(&dup).is_failure());
        let mut swapped = skr.clone();
        swapped.bundles.swap(1, 2);
        let u = check_bundle_unique(&swapped);
        assert!(u.is_failure() && u.message.contains("strictly increasing"), "{u}");
    }

    #[test]
    fn unsigned_fields_are_checked() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let skr = sign(&f.ksr, &ksk);
        for c in [check_field_syntax(&skr), check_key_tag(&skr), check_key_id_consistent(&skr), check_no_duplicates(&skr)] {
            assert!(c.passed, "{c}");
        }
        let mut s = skr.clone();
        s.bundles[2].id = "b\n. 3600 IN A 192.0.2.1".into();
        let c = check_field_syntax(&s);
        assert!(c.is_failure() && !c.message.contains('\n'), "{c}");
        // Every message quoting the id stays on one line.
        assert!(check_skr(&s, &ta_for(&ksk), Some(&f.ksr), now()).results.iter().all(|r| !r.message.contains('\n')));
        let mut s = skr.clone();
        s.generated = Some((now(), "x\u{1b}[2J".into()));
        assert!(check_field_syntax(&s).is_failure());
        let mut s = skr.clone();
        s.bundles[1].keys[0].key_tag ^= 1;
        assert!(check_key_tag(&s).is_failure());
        let mut s = skr.clone();
        s.bundles[1].signatures[0].key_identifier = Some("nobody".into());
        assert!(check_key_id_consistent(&s).message.contains("nobody"));
        let mut s = skr.clone();
        let g = s.bundles[1].signatures[0].clone();
        s.bundles[1].signatures.push(g);
        let c = check_no_duplicates(&s);
        assert!(c.is_failure() && c.message.contains("RRSIG"), "{c}");
        let mut s = skr.clone();
        let k = s.bundles[1].keys[0].clone();
        s.bundles[1].keys.push(k);
        assert!(check_no_duplicates(&s).message.contains("DNSKEY"));
    }

    #[test]
    fn revoked_key_is_pinned_by_unrevoked_form() {
        let ksk = TestKey::new(257);
        let ta = ta_for(&ksk);
        let mut revoked = ksk.dnskey().clone();
        revoked.flags |= FLAG_REVOKE;
        assert!(ta.pins(&revoked));
        assert!(!ta.pins(TestKey::new(257).dnskey()));
    }
}
