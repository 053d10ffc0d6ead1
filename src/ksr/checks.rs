//! The checks the KSK side applies to a KSR before a ceremony signs it,
//! modelled on the IANA kskm tools (the root zone's KSR signer): one named
//! check per rule, each a `pub fn` returning a [`CheckResult`]. The ids are
//! kskit's own and stable; docs/checks.md lists them with their sources and
//! policy knobs.
//!
//! Inputs in the text format (Knot, BIND) carry no request policy, no bundle
//! expiration (a bundle lasts until the next begins, and the last one's end
//! is unknown) and no proof of possession; checks that need those report
//! "not applicable" with the reason, never a silent pass.

use std::collections::{BTreeMap, BTreeSet};

use time::{Duration, OffsetDateTime};

use crate::checks::{CheckResult, Report};
use crate::dnssec::name::same_name;
use crate::dnssec::pubkey::{check_public_key, rsa_components, validate_public_key};
use crate::dnssec::verify::{verify_bounded, CanonicalRrset, FailBudget};
use crate::dnssec::{Dnskey, RData, RrSet, FLAG_ZONE};
use crate::ksr::ksk_policy::{fmt_dur, KskPolicy};
use crate::ksr::model::{AlgorithmParams, Format, Ksr, RequestBundle};
use crate::skr::checks::response_bundle_end;
use crate::skr::model::{ResponseBundle, Skr};
use crate::timeutil::format_rfc3339;

pub const KSR_DOMAIN: &str = "KSR-DOMAIN";
pub const KSR_BUNDLE_UNIQUE: &str = "KSR-BUNDLE-UNIQUE";
pub const KSR_KEY_ID_CONSISTENT: &str = "KSR-KEY-ID-CONSISTENT";
pub const KSR_KEY_PARAMS: &str = "KSR-KEY-PARAMS";
pub const KSR_KEY_TAG: &str = "KSR-KEY-TAG";
pub const KSR_POP: &str = "KSR-POP";
pub const KSR_BUNDLE_COUNT: &str = "KSR-BUNDLE-COUNT";
pub const KSR_CYCLE_DURATION: &str = "KSR-CYCLE-DURATION";
pub const KSR_KEYS_PER_BUNDLE: &str = "KSR-KEYS-PER-BUNDLE";
pub const KSR_DISTINCT_KEYS: &str = "KSR-DISTINCT-KEYS";
pub const KSR_ALGORITHM: &str = "KSR-ALGORITHM";
pub const KSR_BUNDLE_GAP: &str = "KSR-BUNDLE-GAP";
pub const KSR_BUNDLE_OVERLAP: &str = "KSR-BUNDLE-OVERLAP";
pub const KSR_SIG_VALIDITY: &str = "KSR-SIG-VALIDITY";
pub const KSR_HORIZON: &str = "KSR-HORIZON";
pub const KSR_INCEPTION_INTERVAL: &str = "KSR-INCEPTION-INTERVAL";
pub const KSR_CHAIN_ID: &str = "KSR-CHAIN-ID";
pub const KSR_CHAIN_KEYS: &str = "KSR-CHAIN-KEYS";
pub const KSR_CHAIN_OVERLAP: &str = "KSR-CHAIN-OVERLAP";
pub const KSR_CHAIN_PUBLISH_SAFETY: &str = "KSR-CHAIN-PUBLISH-SAFETY";
pub const KSR_CHAIN_RETIRE_SAFETY: &str = "KSR-CHAIN-RETIRE-SAFETY";
pub const KSR_FIELD_SYNTAX: &str = "KSR-FIELD-SYNTAX";
pub const KSR_REQUEST_POLICY: &str = "KSR-REQUEST-POLICY";
pub const KSR_VERIFY_LIMITS: &str = "KSR-VERIFY-LIMITS";
/// Run by `ksr sign` and `ksr sign-batch` (it needs the KSKs), not by [`check_ksr`].
pub const KSR_DNSKEY_ALGORITHMS: &str = "KSR-DNSKEY-ALGORITHMS";
/// The checks outside [`ALL`]: [`KSR_DNSKEY_ALGORITHMS`] runs at signing time.
pub const SIGN_TIME: [&str; 1] = [KSR_DNSKEY_ALGORITHMS];

/// Every KSR check id, in the order [`check_ksr`] runs them.
pub const ALL: [&str; 25] = [
    KSR_DOMAIN,
    KSR_BUNDLE_UNIQUE,
    KSR_KEY_ID_CONSISTENT,
    KSR_KEY_PARAMS,
    KSR_KEY_TAG,
    KSR_VERIFY_LIMITS,
    KSR_POP,
    KSR_REQUEST_POLICY,
    KSR_BUNDLE_COUNT,
    KSR_CYCLE_DURATION,
    KSR_KEYS_PER_BUNDLE,
    KSR_DISTINCT_KEYS,
    KSR_ALGORITHM,
    KSR_BUNDLE_GAP,
    KSR_BUNDLE_OVERLAP,
    KSR_SIG_VALIDITY,
    KSR_HORIZON,
    KSR_INCEPTION_INTERVAL,
    KSR_CHAIN_ID,
    KSR_CHAIN_KEYS,
    KSR_CHAIN_OVERLAP,
    KSR_CHAIN_PUBLISH_SAFETY,
    KSR_CHAIN_RETIRE_SAFETY,
    KSR_FIELD_SYNTAX,
    crate::skr::keyset::KSR_KEYTAG_PARTITION,
];

const TEXT_NO_EXPIRATION: &str =
    "text format: bundles carry no expiration; a bundle lasts until the next one begins and the last bundle's end is unknown";
const TEXT_NO_POP: &str =
    "text format: the KSR carries no proof of possession (no ZSK signatures over the DNSKEY RRset)";
const TEXT_NO_POLICY: &str = "text format: the KSR carries no request policy; bounds come from the KSK policy and its text-format defaults";

/// Runs every KSR check (and, with the previous SKR, the chain checks) and
/// collects the results and notes about the input format.
pub fn check_ksr(
    ksr: &Ksr,
    policy: &KskPolicy,
    previous: Option<&Skr>,
    now: OffsetDateTime,
) -> Report {
    let mut r = Report::new();
    if ksr.format == Format::Text {
        r.note(TEXT_NO_EXPIRATION);
        if !has_signatures(ksr) {
            r.note(TEXT_NO_POP);
        }
        if ksr.request_policy.is_none() {
            r.note(TEXT_NO_POLICY);
        }
    }
    r.push(check_domain(ksr, policy));
    r.push(check_bundle_unique(ksr));
    r.push(check_key_id_consistent(ksr));
    r.push(check_key_params(ksr));
    r.push(check_key_tag(ksr));
    r.push(check_verify_limits(ksr, policy));
    r.push(check_pop(ksr, policy));
    r.push(check_request_policy(ksr, policy));
    r.push(check_bundle_count(ksr, policy));
    r.push(check_cycle_duration(ksr, policy));
    r.push(check_keys_per_bundle(ksr, policy));
    r.push(check_distinct_keys(ksr, policy));
    r.push(check_algorithm(ksr, policy));
    r.push(check_bundle_gap(ksr));
    r.push(check_bundle_overlap(ksr, policy));
    r.push(check_sig_validity(ksr, policy));
    r.push(check_horizon(ksr, policy, now));
    r.push(check_inception_interval(ksr, policy));
    match previous {
        Some(prev) => {
            r.push(check_chain_id(ksr, prev));
            r.push(check_chain_keys(ksr, prev));
            r.push(check_chain_overlap(ksr, prev, policy));
            r.push(check_chain_publish_safety(ksr, prev, policy));
            r.push(check_chain_retire_safety(ksr, prev, policy));
        }
        None => {
            r.note("no previous SKR given: the chain checks (KSR-CHAIN-*) did not run");
            for id in [
                KSR_CHAIN_ID,
                KSR_CHAIN_KEYS,
                KSR_CHAIN_OVERLAP,
                KSR_CHAIN_PUBLISH_SAFETY,
                KSR_CHAIN_RETIRE_SAFETY,
            ] {
                r.push(CheckResult::not_applicable(id, "no previous SKR given"));
            }
        }
    }
    r.push(check_field_syntax(ksr));
    r.push(crate::skr::keyset::check_ksr_keytag_partition(ksr, &policy.zsk_tag_partition()));
    r
}

/// `bundle #3 <id> (2017-04-21T00:00:00Z)`.
fn label(i: usize, b: &RequestBundle) -> String {
    format!(
        "bundle #{} {} ({})",
        i + 1,
        crate::markup::terminal_safe(&b.id),
        format_rfc3339(b.inception)
    )
}

fn rlabel(b: &ResponseBundle) -> String {
    format!("bundle {} ({})", crate::markup::terminal_safe(&b.id), format_rfc3339(b.inception))
}

fn has_signatures(ksr: &Ksr) -> bool {
    ksr.bundles.iter().any(|b| !b.signatures.is_empty())
}

/// Distinct keys of the KSR in first-seen order, with the first bundle index.
fn distinct_keys(ksr: &Ksr) -> Vec<(usize, &crate::ksr::model::BundleKey)> {
    let mut seen: Vec<(usize, &crate::ksr::model::BundleKey)> = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        for k in &b.keys {
            if !seen.iter().any(|(_, s)| s.dnskey == k.dnskey) {
                seen.push((i, k));
            }
        }
    }
    seen
}

/// The end of a request bundle: its expiration, or in the text format the
/// next bundle's inception (`None` for the last text bundle).
fn bundle_end(bundles: &[RequestBundle], i: usize) -> Option<OffsetDateTime> {
    let b = bundles.get(i)?;
    b.expiration
        .or_else(|| bundles.get(i + 1).map(|n| n.inception))
}

/// The RSA public exponent of a key, when it fits in 64 bits.
pub fn rsa_exponent(key: &Dnskey) -> Option<u64> {
    let (e, _) = rsa_components(&key.public_key).ok()?;
    let e: Vec<u8> = e.iter().copied().skip_while(|b| *b == 0).collect();
    if e.len() > 8 {
        return None;
    }
    Some(e.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
}

/// The KSR's first bundle by inception (bundles are normally in order).
fn first_bundle(ksr: &Ksr) -> Option<&RequestBundle> {
    ksr.bundles.iter().min_by_key(|b| b.inception)
}

fn last_response_bundle(skr: &Skr) -> Option<&ResponseBundle> {
    skr.bundles.iter().max_by_key(|b| b.inception)
}

/// KSR-DOMAIN: the KSR is for a domain the KSK operator signs for (kskm
/// KSR-DOMAIN; root DPS §5.1.4: only KSRs for the root zone are processed).
/// Knob: `accepted_domains` (default: the root only).
pub fn check_domain(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let names = match policy.accepted_names() {
        Ok(n) => n,
        Err(e) => {
            return CheckResult::fail(
                KSR_DOMAIN,
                format!("the KSK policy's accepted_domains has a bad name: {e}"),
            )
        }
    };
    if names.is_empty() {
        return CheckResult::fail(
            KSR_DOMAIN,
            "the KSK policy accepts no domain: set accepted_domains",
        );
    }
    let shown: Vec<String> = names
        .iter()
        .map(crate::dnssec::name::to_presentation)
        .collect();
    let domain = crate::dnssec::name::to_presentation(&ksr.domain);
    if names.iter().any(|n| same_name(n, &ksr.domain)) {
        CheckResult::pass(KSR_DOMAIN, format!("domain {domain} is accepted"))
    } else {
        CheckResult::fail(
            KSR_DOMAIN,
            format!(
                "domain {domain} is not among the accepted domains {}",
                shown.join(", ")
            ),
        )
    }
}

/// KSR-FIELD-SYNTAX: the fields no signature covers and kskit copies into
/// the SKR, reports and terminals have a safe syntax (docs/formats.md,
/// "Unsigned fields"): IANA: the KSR id and every bundle id
/// `[A-Za-z0-9._:-]{1,64}` (the text format has no KSR id; its bundle ids
/// and key identifiers, derived by the parser, are digits), every
/// keyIdentifier `[A-Za-z0-9._:+/=@-]{0,255}`, and the text footer's
/// generator printable ASCII of at most 128 characters. The parsers refuse such input
/// already; this check holds the rules over the model whatever built it.
/// Reason: ids are echoed into the SKR and from there into zone files
/// (issue 14). No knob.
pub fn check_field_syntax(ksr: &Ksr) -> CheckResult {
    let problems = crate::formats::fields::syntax_problems(
        KSR_FIELD_SYNTAX,
        "KSR",
        &ksr.id,
        ksr.format == Format::Text,
        ksr.bundles.iter().map(|b| (b.id.as_str(), b.keys.as_slice(), b.signatures.as_slice())),
        ksr.generated.as_ref().map(|(_, g)| g.as_str()),
    );
    CheckResult::from_problems(KSR_FIELD_SYNTAX, problems, "every id, key identifier and generator string has the safe syntax")
}

/// KSR-BUNDLE-UNIQUE: every bundle id occurs once (kskm KSR-BUNDLE-UNIQUE:
/// bundles must be unambiguously referable in logs and in the SKR). No knob.
pub fn check_bundle_unique(ksr: &Ksr) -> CheckResult {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        if let Some(first) = seen.insert(b.id.as_str(), i) {
            problems.push(format!(
                "{} repeats the id of bundle #{}",
                label(i, b),
                first + 1
            ));
        }
    }
    CheckResult::from_problems(
        KSR_BUNDLE_UNIQUE,
        problems,
        format!("all {} bundle ids are unique", ksr.bundles.len()),
    )
}

/// KSR-KEY-ID-CONSISTENT: a key identifier names the same DNSKEY in every
/// bundle, and a DNSKEY keeps one identifier (kskm KSR-BUNDLE-KEYS: "key id
/// matches two different keys"). In the text format identifiers are key
/// tags, so this also catches two ZSKs with colliding tags. No knob.
pub fn check_key_id_consistent(ksr: &Ksr) -> CheckResult {
    let mut by_id: BTreeMap<&str, &Dnskey> = BTreeMap::new();
    let mut by_key: Vec<(&Dnskey, &str)> = Vec::new();
    let mut problems = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        for k in &b.keys {
            match by_id.get(k.key_identifier.as_str()) {
                Some(prev) if **prev != k.dnskey => problems.push(format!(
                    "{}: key identifier {} (key tag {}) names a different key than in an earlier bundle (key tag {})",
                    label(i, b),
                    crate::markup::terminal_safe(&k.key_identifier),
                    k.dnskey.key_tag(),
                    prev.key_tag()
                )),
                Some(_) => {}
                None => {
                    by_id.insert(k.key_identifier.as_str(), &k.dnskey);
                }
            }
            match by_key.iter().find(|(d, _)| **d == k.dnskey) {
                Some((_, id)) if *id != k.key_identifier => problems.push(format!(
                    "{}: key tag {} appears under identifier {} and earlier under {}",
                    label(i, b),
                    k.dnskey.key_tag(),
                    crate::markup::terminal_safe(&k.key_identifier),
                    crate::markup::terminal_safe(id)
                )),
                Some(_) => {}
                None => by_key.push((&k.dnskey, k.key_identifier.as_str())),
            }
        }
    }
    CheckResult::from_problems(
        KSR_KEY_ID_CONSISTENT,
        problems,
        format!(
            "{} key identifiers each name one key in every bundle",
            by_id.len()
        ),
    )
}

/// KSR-KEY-PARAMS: every key is a well-formed ZSK — flags exactly 256 (ZONE,
/// no SEP, no REVOKE), protocol 3 (RFC 4034 §2.1.1–2.1.2), a known algorithm
/// and a fully validated public key ([`validate_public_key`]: an ECDSA point
/// on its curve, an Ed25519 point not of small order, an odd RSA modulus;
/// RFC 3110, RFC 6605, RFC 8080) — and,
/// when the KSR carries a request policy, matches one of the algorithms and
/// parameters it declares (kskm KSR-BUNDLE-KEYS). No knob.
pub fn check_key_params(ksr: &Ksr) -> CheckResult {
    let mut problems = Vec::new();
    for (i, k) in distinct_keys(ksr) {
        let Some(b) = ksr.bundles.get(i) else {
            continue;
        };
        let who = format!("{}: key tag {}", label(i, b), k.dnskey.key_tag());
        let d = &k.dnskey;
        if d.flags != FLAG_ZONE {
            problems.push(format!(
                "{who} has flags {}, only 256 (ZONE) is accepted for a ZSK",
                d.flags
            ));
        }
        if d.protocol != 3 {
            problems.push(format!("{who} has protocol {}, must be 3", d.protocol));
        }
        let alg = match d.algorithm() {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{who}: {e}"));
                continue;
            }
        };
        if let Err(e) = validate_public_key(alg, &d.public_key) {
            problems.push(format!("{who}: {e}"));
            continue;
        }
        let Some(bits) = d.key_bits() else {
            problems.push(format!("{who}: the {alg} public key cannot be decoded"));
            continue;
        };
        if let Some(rp) = &ksr.request_policy {
            let exp = rsa_exponent(d);
            let ok = rp.algorithms.iter().any(|a| {
                a.algorithm == d.algorithm
                    && match &a.params {
                        AlgorithmParams::Rsa { size, exponent } => {
                            *size == bits && exp == Some(*exponent)
                        }
                        AlgorithmParams::Ecdsa { size } | AlgorithmParams::EdDsa { size } => {
                            *size == bits
                        }
                        AlgorithmParams::None => true,
                    }
            });
            if !ok {
                let got = match exp {
                    Some(e) if alg.is_rsa() => format!("{alg} {bits} bits exponent {e}"),
                    _ => format!("{alg} {bits} bits"),
                };
                problems.push(format!(
                    "{who} ({got}) matches no algorithm of the KSR's request policy"
                ));
            }
        }
    }
    let n = distinct_keys(ksr).len();
    let ok = if ksr.request_policy.is_some() {
        format!("{n} keys are well-formed ZSKs matching the request policy")
    } else {
        format!("{n} keys are well-formed ZSKs (no request policy to match)")
    };
    CheckResult::from_problems(KSR_KEY_PARAMS, problems, ok)
}

/// KSR-KEY-TAG: the key tag the file claims for each key is the one computed
/// from its DNSKEY RDATA (RFC 4034 Appendix B; kskm KSR-BUNDLE-KEYS). In the
/// text format the identifier is the tag, so it is compared too. No knob.
pub fn check_key_tag(ksr: &Ksr) -> CheckResult {
    let mut problems = Vec::new();
    let mut n = 0;
    for (i, b) in ksr.bundles.iter().enumerate() {
        for k in &b.keys {
            n += 1;
            let tag = k.dnskey.key_tag();
            if k.key_tag != tag {
                problems.push(format!(
                    "{}: key {} claims key tag {}, computed {tag}",
                    label(i, b),
                    crate::markup::terminal_safe(&k.key_identifier),
                    k.key_tag
                ));
            }
            if ksr.format == Format::Text {
                if let Ok(t) = k.key_identifier.parse::<u16>() {
                    if t != tag {
                        problems.push(format!(
                            "{}: key identified as {t} has key tag {tag}",
                            label(i, b)
                        ));
                    }
                }
            }
        }
    }
    CheckResult::from_problems(
        KSR_KEY_TAG,
        problems,
        format!("all {n} key tags are correct"),
    )
}

/// KSR-POP: proof of possession — in every bundle, every key has signed the
/// bundle's DNSKEY RRset and every signature verifies (RFC 4034 §3.1.8.1,
/// RFC 4035 §5.3; kskm KSR-BUNDLE-POP). The signatures' own validity times
/// are not checked: they prove possession, they are never published. The
/// text format has no such signatures: not applicable (or a failure with
/// knob `require_proof_of_possession`).
pub fn check_pop(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let eff = policy.effective(ksr);
    if ksr.format == Format::Text && !has_signatures(ksr) {
        return if eff.require_proof_of_possession {
            CheckResult::fail(KSR_POP, "the KSR (text format) carries no proof of possession and the KSK policy requires it")
        } else {
            CheckResult::not_applicable(KSR_POP, "the text format carries no proof of possession")
        };
    }
    let limits = policy.verify_limits();
    let mut spent = FailBudget::default();
    let mut problems = Vec::new();
    let mut verified = 0;
    for (i, b) in ksr.bundles.iter().enumerate() {
        let lb = label(i, b);
        let Some(first) = b.keys.first() else {
            problems.push(format!("{lb} has no keys"));
            continue;
        };
        let rrset = match RrSet::new(
            ksr.domain.clone(),
            first.ttl,
            b.keys
                .iter()
                .map(|k| RData::Dnskey(k.dnskey.clone()))
                .collect(),
        ) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{lb}: {e}"));
                continue;
            }
        };
        // Each signature: the key of the bundle it verifies with (tag,
        // algorithm and, in the IANA format, key identifier must agree),
        // within the verification limits (KSR-VERIFY-LIMITS).
        if let Some(why) = limits.bundle_refusal(b.keys.len(), b.signatures.len()) {
            problems.push(format!("{lb}: {why}"));
            continue;
        }
        let set = CanonicalRrset::new(rrset);
        let keys: Vec<&Dnskey> = b.keys.iter().map(|k| &k.dnskey).collect();
        let tags: Vec<u16> = keys.iter().map(|k| k.key_tag()).collect();
        spent.bundle = 0;
        let mut signed_by: Vec<&Dnskey> = Vec::new();
        for s in &b.signatures {
            let tag = s.rrsig.key_tag;
            if !same_name(&s.rrsig.signer_name, &ksr.domain) {
                problems.push(format!(
                    "{lb}: the signature by key tag {tag} names signer {}, not the KSR's domain",
                    s.rrsig.signer_name
                ));
                continue;
            }
            match verify_bounded(&set, &s.rrsig, &keys, &tags, &limits, &mut spent) {
                Ok(i) => {
                    let k = &b.keys[i];
                    if s.key_identifier.as_deref().is_some_and(|id| id != k.key_identifier) {
                        problems.push(format!(
                            "{lb}: the signature by key tag {tag} verifies with key {} but names key {}",
                            k.key_identifier,
                            s.key_identifier.as_deref().unwrap_or_default()
                        ));
                    } else {
                        signed_by.push(&k.dnskey);
                    }
                }
                Err(e) => problems.push(format!("{lb}: the signature by key tag {tag} does not verify: {e}")),
            }
        }
        for k in &b.keys {
            if signed_by.contains(&&k.dnskey) {
                verified += 1;
            } else {
                problems.push(format!(
                    "{lb}: key tag {} has not signed the DNSKEY RRset (no verifying signature)",
                    k.dnskey.key_tag()
                ));
            }
        }
    }
    CheckResult::from_problems(
        KSR_POP,
        problems,
        format!("every key signed every bundle ({verified} proofs of possession verified in {} bundles)", ksr.bundles.len()),
    )
}

/// KSR-VERIFY-LIMITS: no bundle holds more keys or signatures than the
/// verification limits allow (64 keys, fixed; 64 signatures by default),
/// and no signature names more keys sharing its
/// key tag and algorithm than allowed, so that verifying the KSR costs time
/// linear in its size (KeyTrap, CVE-2023-50387; RFC 4034 Appendix B: key
/// tags are not unique). Bundles over the limits are not verified by
/// KSR-POP. Knobs: `max_signatures_per_bundle`, `max_keys_sharing_tag`,
/// `max_failed_verifications_per_bundle`, `max_failed_verifications`.
pub fn check_verify_limits(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let limits = policy.verify_limits();
    let mut problems = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        if let Some(why) = limits.bundle_refusal(b.keys.len(), b.signatures.len()) {
            problems.push(format!("{}: {why}", label(i, b)));
            continue;
        }
        let mut per_tag: BTreeMap<(u16, u8), usize> = BTreeMap::new();
        for k in &b.keys {
            *per_tag.entry((k.dnskey.key_tag(), k.dnskey.algorithm)).or_default() += 1;
        }
        for ((tag, alg), n) in per_tag {
            if n > limits.max_keys_sharing_tag {
                problems.push(format!(
                    "{}: {n} keys share key tag {tag} and algorithm {alg}, more than the limit of {}",
                    label(i, b),
                    limits.max_keys_sharing_tag
                ));
            }
        }
    }
    CheckResult::from_problems(
        KSR_VERIFY_LIMITS,
        problems,
        format!(
            "every bundle within the verification limits ({} keys, {} signatures, {} keys per key tag)",
            limits.max_keys_per_bundle, limits.max_signatures_per_bundle, limits.max_keys_sharing_tag
        ),
    )
}

/// KSR-REQUEST-POLICY: the KSR's request policy (IANA `<RequestPolicy>`)
/// claims no wider bound than the KSK side's own: its signature validity
/// and overlap ranges lie within the KSK policy's. The request policy is a
/// claim by the requester, never a bound (issue 14: the requester must not
/// set its own limits; kskm KSR-POLICY-SIG-VALIDITY compares the same
/// claims). Not applicable without a request policy (text format). Knobs:
/// the KSK policy's `min/max_signature_validity`, `min/max_overlap`.
pub fn check_request_policy(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let Some(rp) = &ksr.request_policy else {
        return CheckResult::not_applicable(KSR_REQUEST_POLICY, "the KSR carries no request policy");
    };
    let eff = policy.effective(ksr);
    let mut problems = Vec::new();
    let claims = [
        ("signature validity", rp.min_signature_validity, rp.max_signature_validity, &eff.signature_validity),
        ("validity overlap", rp.min_validity_overlap, rp.max_validity_overlap, &eff.overlap),
    ];
    for (what, min, max, bounds) in claims {
        if min > max {
            problems.push(format!("the request policy's {what} minimum {} exceeds its maximum {}", fmt_dur(min), fmt_dur(max)));
        }
        for b in bounds.iter() {
            for v in [min, max] {
                if let Some(p) = b.violation(v) {
                    problems.push(format!("the request policy claims {what} [{}, {}]: {p}", fmt_dur(min), fmt_dur(max)));
                    break;
                }
            }
        }
    }
    CheckResult::from_problems(
        KSR_REQUEST_POLICY,
        problems,
        "the request policy's validity and overlap claims are within the KSK policy's bounds",
    )
}

/// KSR-DNSKEY-ALGORITHMS: in every bundle, each algorithm of the DNSKEY
/// RRset the SKR will publish (the bundle's ZSKs and the KSKs) is among the
/// algorithms of the KSKs that sign it (RFC 4035 §2.2: the apex DNSKEY RRset
/// is signed with each algorithm it holds; RFC 6840 §5.11). Run by `ksr
/// sign` and `ksr sign-batch` before the first signature, with the signing
/// KSKs' algorithms. No knob.
pub fn check_dnskey_algorithms(ksr: &Ksr, ksk_algorithms: &[u8]) -> CheckResult {
    let mut problems = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        let mut missing: BTreeSet<u8> = BTreeSet::new();
        for k in &b.keys {
            if !ksk_algorithms.contains(&k.dnskey.algorithm) {
                missing.insert(k.dnskey.algorithm);
            }
        }
        if !missing.is_empty() {
            let m: Vec<String> = missing.iter().map(|a| a.to_string()).collect();
            let have: Vec<String> = ksk_algorithms.iter().map(|a| a.to_string()).collect();
            problems.push(format!(
                "{}: the DNSKEY RRset holds ZSKs of algorithm {} but no signing KSK has it (KSK algorithms {}); each algorithm of the DNSKEY RRset must sign it (RFC 4035 §2.2)",
                label(i, b),
                m.join(", "),
                have.join(", ")
            ));
        }
    }
    CheckResult::from_problems(
        KSR_DNSKEY_ALGORITHMS,
        problems,
        "every algorithm of every bundle's DNSKEY RRset has a signing KSK",
    )
}

/// KSR-BUNDLE-COUNT: the number of bundles is within bounds (kskm
/// KSR-BUNDLE-COUNT; the root's quarterly KSR has 9 bundles, DPS §6.5).
/// Knobs: `min_bundles`, `max_bundles`.
pub fn check_bundle_count(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let b = policy.effective(ksr).bundles;
    let n = ksr.bundles.len();
    match b.violation(n) {
        Some(v) => CheckResult::fail(KSR_BUNDLE_COUNT, format!("the KSR has {n} bundles: {v}")),
        None => CheckResult::pass(
            KSR_BUNDLE_COUNT,
            format!("{n} bundles, within {}", b.describe()),
        ),
    }
}

/// KSR-CYCLE-DURATION: first to last bundle inception spans an accepted
/// period (kskm KSR-BUNDLE-CYCLE-DURATION; the root's cycle is one quarter,
/// 79–81 days between first and last inception). Knobs:
/// `min_cycle_duration`, `max_cycle_duration` (text format: no default bound).
pub fn check_cycle_duration(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let b = policy.effective(ksr).cycle_duration;
    let (Some(first), Some(last)) = (
        ksr.bundles.iter().map(|b| b.inception).min(),
        ksr.bundles.iter().map(|b| b.inception).max(),
    ) else {
        return CheckResult::fail(KSR_CYCLE_DURATION, "the KSR has no bundles");
    };
    let d = last - first;
    if b.is_unbounded() {
        return CheckResult::not_applicable(
            KSR_CYCLE_DURATION,
            format!(
                "cycle of {} has no bound to check ({}; knobs min/max_cycle_duration)",
                fmt_dur(d),
                b.source
            ),
        );
    }
    match b.violation(d) {
        Some(v) => CheckResult::fail(
            KSR_CYCLE_DURATION,
            format!("first to last inception {}: {v}", fmt_dur(d)),
        ),
        None => CheckResult::pass(
            KSR_CYCLE_DURATION,
            format!("cycle of {} within {}", fmt_dur(d), b.describe()),
        ),
    }
}

/// KSR-KEYS-PER-BUNDLE: each bundle holds an accepted number of ZSKs (kskm
/// KSR-POLICY-KEYS: the root has 2 keys in the first and last bundle during
/// a pre-publication rollover, RFC 6781 §4.1.1.1, and 1 otherwise). Knobs:
/// `min_keys_per_bundle`, `max_keys_per_bundle` (default 1–2).
pub fn check_keys_per_bundle(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let b = policy.effective(ksr).keys_per_bundle;
    let problems: Vec<String> = ksr
        .bundles
        .iter()
        .enumerate()
        .filter_map(|(i, bu)| {
            b.violation(bu.keys.len())
                .map(|v| format!("{} has {} keys: {v}", label(i, bu), bu.keys.len()))
        })
        .collect();
    CheckResult::from_problems(
        KSR_KEYS_PER_BUNDLE,
        problems,
        format!("every bundle's key count is within {}", b.describe()),
    )
}

/// KSR-DISTINCT-KEYS: the KSR uses an accepted number of distinct keys
/// (kskm KSR-POLICY-KEYS: the root's KSR holds three — outgoing, current,
/// incoming ZSK). Knob: `max_distinct_keys` (text format: no default bound).
pub fn check_distinct_keys(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let b = policy.effective(ksr).distinct_keys;
    let keys = distinct_keys(ksr);
    let tags: Vec<String> = keys
        .iter()
        .map(|(_, k)| k.dnskey.key_tag().to_string())
        .collect();
    match b.violation(keys.len()) {
        Some(v) => CheckResult::fail(
            KSR_DISTINCT_KEYS,
            format!(
                "{} distinct keys (tags {}): {v}",
                keys.len(),
                tags.join(", ")
            ),
        ),
        None => CheckResult::pass(
            KSR_DISTINCT_KEYS,
            format!(
                "{} distinct keys (tags {}) within {}",
                keys.len(),
                tags.join(", "),
                b.describe()
            ),
        ),
    }
}

/// KSR-ALGORITHM: every key's algorithm, and for RSA its modulus size and
/// exponent, is approved by the KSK operator, and so is every algorithm the
/// request policy declares (kskm KSR-POLICY-ALG; RFC 8624 §3.1 for which
/// algorithms may sign). Knob: `algorithms`.
pub fn check_algorithm(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let eff = policy.effective(ksr);
    let mut problems = Vec::new();
    let approved_names: Vec<String> = eff
        .algorithms
        .iter()
        .map(|a| a.algorithm.to_string())
        .collect();
    for (i, k) in distinct_keys(ksr) {
        let Some(b) = ksr.bundles.get(i) else {
            continue;
        };
        let who = format!("{}: key tag {}", label(i, b), k.dnskey.key_tag());
        let Some(a) = eff
            .algorithms
            .iter()
            .find(|a| a.algorithm.number() == k.dnskey.algorithm)
        else {
            problems.push(format!(
                "{who} uses algorithm {}, approved: {}",
                k.dnskey.algorithm,
                approved_names.join(", ")
            ));
            continue;
        };
        if a.algorithm.is_rsa() {
            let bits = k.dnskey.key_bits();
            let exp = rsa_exponent(&k.dnskey);
            if !bits.is_some_and(|b| a.accepted_rsa_sizes().contains(&b)) {
                problems.push(format!(
                    "{who} is {} with {} bits, approved sizes {:?}",
                    a.algorithm,
                    bits.unwrap_or(0),
                    a.accepted_rsa_sizes()
                ));
            }
            if !exp.is_some_and(|e| a.accepted_rsa_exponents().contains(&e)) {
                problems.push(format!(
                    "{who} has RSA exponent {}, approved {:?}",
                    exp.map(|e| e.to_string()).unwrap_or("?".into()),
                    a.accepted_rsa_exponents()
                ));
            }
        } else if check_public_key(a.algorithm, &k.dnskey.public_key).is_err() {
            problems.push(format!(
                "{who}: not a {} public key (curve mismatch)",
                a.algorithm
            ));
        }
    }
    if let Some(rp) = &ksr.request_policy {
        for ap in &rp.algorithms {
            match eff
                .algorithms
                .iter()
                .find(|a| a.algorithm.number() == ap.algorithm)
            {
                None => problems.push(format!(
                    "the request policy declares algorithm {}, approved: {}",
                    ap.algorithm,
                    approved_names.join(", ")
                )),
                Some(a) => {
                    if let AlgorithmParams::Rsa { size, exponent } = ap.params {
                        if !a.accepted_rsa_sizes().contains(&size)
                            || !a.accepted_rsa_exponents().contains(&exponent)
                        {
                            problems.push(format!(
                                "the request policy declares {} {size} bits exponent {exponent}, approved sizes {:?} exponents {:?}",
                                a.algorithm,
                                a.accepted_rsa_sizes(),
                                a.accepted_rsa_exponents()
                            ));
                        }
                    }
                }
            }
        }
    }
    CheckResult::from_problems(
        KSR_ALGORITHM,
        problems,
        format!(
            "all keys use approved algorithms ({})",
            approved_names.join(", ")
        ),
    )
}

/// KSR-BUNDLE-GAP: each bundle begins no later than the previous one expires,
/// so the signed DNSKEY RRset never lapses (kskm KSR-POLICY-SIG-OVERLAP;
/// RFC 6781 §4.1.4). Not applicable to the text format, where a bundle lasts
/// until the next begins. No knob.
pub fn check_bundle_gap(ksr: &Ksr) -> CheckResult {
    if ksr.bundles.iter().all(|b| b.expiration.is_none()) {
        return CheckResult::not_applicable(
            KSR_BUNDLE_GAP,
            "text format: bundles have no expiration, each lasts until the next begins",
        );
    }
    let mut problems = Vec::new();
    for (i, pair) in ksr.bundles.windows(2).enumerate() {
        let [prev, this] = pair else { continue };
        if let Some(exp) = prev.expiration {
            if this.inception > exp {
                problems.push(format!(
                    "{} begins {} after {} expires ({})",
                    label(i + 1, this),
                    fmt_dur(this.inception - exp),
                    label(i, prev),
                    format_rfc3339(exp)
                ));
            }
        }
    }
    CheckResult::from_problems(
        KSR_BUNDLE_GAP,
        problems,
        "no gap between consecutive bundles",
    )
}

/// KSR-BUNDLE-OVERLAP: consecutive bundles overlap by an accepted amount —
/// previous expiration minus this inception within the request policy's
/// Min/MaxValidityOverlap and the KSK policy's bounds (kskm
/// KSR-POLICY-SIG-OVERLAP; RFC 6781 §4.1.4 signature overlap for resolvers
/// holding older signatures). Knobs: `min_overlap`, `max_overlap`. Not
/// applicable to the text format.
pub fn check_bundle_overlap(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    if ksr.bundles.iter().all(|b| b.expiration.is_none()) {
        return CheckResult::not_applicable(
            KSR_BUNDLE_OVERLAP,
            "text format: bundles have no expiration, so no overlap",
        );
    }
    let eff = policy.effective(ksr);
    let mut problems = Vec::new();
    for (i, pair) in ksr.bundles.windows(2).enumerate() {
        let [prev, this] = pair else { continue };
        let Some(exp) = prev.expiration else { continue };
        let ov = exp - this.inception;
        for b in &eff.overlap {
            if let Some(v) = b.violation(ov) {
                problems.push(format!(
                    "{} overlaps {} by {v}",
                    label(i + 1, this),
                    label(i, prev)
                ));
            }
        }
    }
    let bounds: Vec<String> = eff.overlap.iter().map(|b| b.describe()).collect();
    CheckResult::from_problems(
        KSR_BUNDLE_OVERLAP,
        problems,
        format!("every overlap within {}", bounds.join(" and ")),
    )
}

/// KSR-SIG-VALIDITY: every bundle's validity (expiration − inception) is
/// positive and within both the minimum and the maximum of the request
/// policy and of the KSK policy (kskm KSR-POLICY-SIG-VALIDITY; root DPS
/// §5.1.4: no RRSIG valid for more than 21 days). Knobs:
/// `min_signature_validity`, `max_signature_validity`. Not applicable to
/// the text format (the signer chooses the validity).
pub fn check_sig_validity(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    if ksr.bundles.iter().all(|b| b.expiration.is_none()) {
        return CheckResult::not_applicable(
            KSR_SIG_VALIDITY,
            "text format: bundles have no expiration; the signer chooses the signature validity",
        );
    }
    let eff = policy.effective(ksr);
    let mut problems = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        let Some(exp) = b.expiration else {
            problems.push(format!("{} has no expiration", label(i, b)));
            continue;
        };
        let v = exp - b.inception;
        if v <= Duration::ZERO {
            problems.push(format!(
                "{} expires ({}) before it begins",
                label(i, b),
                format_rfc3339(exp)
            ));
            continue;
        }
        for bound in &eff.signature_validity {
            if let Some(p) = bound.violation(v) {
                problems.push(format!("{} validity {p}", label(i, b)));
            }
        }
    }
    let bounds: Vec<String> = eff
        .signature_validity
        .iter()
        .map(|b| b.describe())
        .collect();
    let ok = if bounds.is_empty() {
        "every bundle's validity is positive (no validity bounds: no request policy and none in the KSK policy)".to_string()
    } else {
        format!("every bundle's validity within {}", bounds.join(" and "))
    };
    CheckResult::from_problems(KSR_SIG_VALIDITY, problems, ok)
}

/// KSR-HORIZON: no bundle ends further than the horizon beyond `now`, and
/// none has already ended (kskm KSR-POLICY-SIG-HORIZON; root DPS §5.1.4:
/// signatures never expire more than 180 days in the future; an end in the
/// past suggests a stale KSR or a wrong clock). In the text format a bundle
/// ends when the next begins; the last one's end is unknown, so its
/// inception is held to the horizon instead. Knob: `horizon`.
pub fn check_horizon(ksr: &Ksr, policy: &KskPolicy, now: OffsetDateTime) -> CheckResult {
    let eff = policy.effective(ksr);
    let Some(h) = eff.horizon else {
        return CheckResult::not_applicable(KSR_HORIZON, "no horizon configured");
    };
    let limit = now + h;
    let mut problems = Vec::new();
    let mut text_last = false;
    for (i, b) in ksr.bundles.iter().enumerate() {
        match bundle_end(&ksr.bundles, i) {
            Some(end) => {
                if end > limit {
                    problems.push(format!(
                        "{} ends {}, beyond the horizon of {} from now ({})",
                        label(i, b),
                        format_rfc3339(end),
                        fmt_dur(h),
                        format_rfc3339(limit)
                    ));
                }
                if end < now {
                    problems.push(format!(
                        "{} already ended ({}), now is {}",
                        label(i, b),
                        format_rfc3339(end),
                        format_rfc3339(now)
                    ));
                }
            }
            None => {
                text_last = true;
                if b.inception > limit {
                    problems.push(format!(
                        "{} begins {}, beyond the horizon of {} from now",
                        label(i, b),
                        format_rfc3339(b.inception),
                        fmt_dur(h)
                    ));
                }
            }
        }
    }
    let mut ok = format!(
        "every bundle ends between now ({}) and the horizon ({})",
        format_rfc3339(now),
        format_rfc3339(limit)
    );
    if text_last {
        ok.push_str(
            "; the last bundle's end is unknown (text format), its inception is within the horizon",
        );
    }
    CheckResult::from_problems(KSR_HORIZON, problems, ok)
}

/// KSR-INCEPTION-INTERVAL: bundle inceptions strictly increase, and the time
/// between consecutive inceptions is within bounds (kskm
/// KSR-POLICY-BUNDLE-INTERVALS: 9–11 days at the root, DPS §6.5). Knobs:
/// `min_inception_interval`, `max_inception_interval` (text format: none by
/// default, bundles follow key events).
pub fn check_inception_interval(ksr: &Ksr, policy: &KskPolicy) -> CheckResult {
    let b = policy.effective(ksr).inception_interval;
    let mut problems = Vec::new();
    for (i, pair) in ksr.bundles.windows(2).enumerate() {
        let [prev, this] = pair else { continue };
        let d = this.inception - prev.inception;
        if d <= Duration::ZERO {
            problems.push(format!(
                "{} does not begin after {}",
                label(i + 1, this),
                label(i, prev)
            ));
        } else if let Some(v) = b.violation(d) {
            problems.push(format!(
                "{} begins {v} after the previous one",
                label(i + 1, this)
            ));
        }
    }
    let ok = if b.is_unbounded() {
        format!(
            "inceptions strictly increase (no interval bounds: {})",
            b.source
        )
    } else {
        format!(
            "inceptions strictly increase, intervals within {}",
            b.describe()
        )
    };
    CheckResult::from_problems(KSR_INCEPTION_INTERVAL, problems, ok)
}

/// KSR-CHAIN-ID: the KSR is not a replay of the previous cycle — its id and
/// bundle ids differ from the previous SKR's (kskm KSR-ID and
/// KSR-BUNDLE-UNIQUE against SKR(n-1)). Text-format ids are inception
/// times, and a continuing KSR legitimately repeats the previous SKR's last
/// inception, so there the KSR must not begin before that last inception.
pub fn check_chain_id(ksr: &Ksr, prev: &Skr) -> CheckResult {
    if ksr.format == Format::Iana {
        let mut problems = Vec::new();
        if ksr.id == prev.id {
            problems.push(format!("the KSR id {} is the previous SKR's id", crate::markup::terminal_safe(&ksr.id)));
        }
        let prev_ids: BTreeSet<&str> = prev.bundles.iter().map(|b| b.id.as_str()).collect();
        for (i, b) in ksr.bundles.iter().enumerate() {
            if prev_ids.contains(b.id.as_str()) {
                problems.push(format!(
                    "{} has an id already used in the previous SKR",
                    label(i, b)
                ));
            }
        }
        return CheckResult::from_problems(
            KSR_CHAIN_ID,
            problems,
            "the KSR id and bundle ids are new (not in the previous SKR)",
        );
    }
    let (Some(first), Some(last)) = (first_bundle(ksr), last_response_bundle(prev)) else {
        return CheckResult::fail(KSR_CHAIN_ID, "the KSR or the previous SKR has no bundles");
    };
    if first.inception < last.inception {
        CheckResult::fail(
            KSR_CHAIN_ID,
            format!("the KSR begins {} before the previous SKR's last {}: a replay or an overlapping request", format_rfc3339(first.inception), rlabel(last)),
        )
    } else {
        CheckResult::pass(KSR_CHAIN_ID, "text format (ids are inception times): the KSR begins no earlier than the previous SKR's last bundle")
    }
}

/// KSR-CHAIN-KEYS: every ZSK of the KSR's first bundle was published in the
/// previous SKR's last bundle, so the key sets chain without a jump (kskm
/// KSR-CHAIN-KEYS; RFC 6781 §4.1.1.1 pre-publication). No knob.
pub fn check_chain_keys(ksr: &Ksr, prev: &Skr) -> CheckResult {
    let (Some(first), Some(last)) = (first_bundle(ksr), last_response_bundle(prev)) else {
        return CheckResult::fail(KSR_CHAIN_KEYS, "the KSR or the previous SKR has no bundles");
    };
    let missing: Vec<String> = first
        .keys
        .iter()
        .filter(|k| !last.keys.iter().any(|l| l.dnskey == k.dnskey))
        .map(|k| {
            format!(
                "key tag {} of the KSR's first bundle {} is not in the previous SKR's last {}",
                k.dnskey.key_tag(),
                first.id,
                rlabel(last)
            )
        })
        .collect();
    CheckResult::from_problems(
        KSR_CHAIN_KEYS,
        missing,
        "the first bundle's keys were all published in the previous SKR's last bundle",
    )
}

/// KSR-CHAIN-OVERLAP: the previous SKR's last bundle and the KSR's first
/// bundle overlap by an accepted amount (kskm KSR-CHAIN-OVERLAP; RFC 6781
/// §4.1.4). The previous bundle's end is its expiration or, in the text
/// format, its DNSKEY signatures' expiration. Knobs: `min_overlap`,
/// `max_overlap` (text default: no gap).
pub fn check_chain_overlap(ksr: &Ksr, prev: &Skr, policy: &KskPolicy) -> CheckResult {
    let (Some(first), Some(last)) = (first_bundle(ksr), last_response_bundle(prev)) else {
        return CheckResult::fail(
            KSR_CHAIN_OVERLAP,
            "the KSR or the previous SKR has no bundles",
        );
    };
    let Some(end) = response_bundle_end(last) else {
        return CheckResult::fail(
            KSR_CHAIN_OVERLAP,
            format!(
                "the previous SKR's last {} has no expiration and no DNSKEY signature",
                rlabel(last)
            ),
        );
    };
    let ov = end - first.inception;
    let eff = policy.effective(ksr);
    let problems: Vec<String> = eff
        .overlap
        .iter()
        .filter_map(|b| b.violation(ov))
        .map(|v| {
            format!(
                "the KSR's first bundle {} overlaps the previous SKR's last {} by {v}",
                first.id,
                rlabel(last)
            )
        })
        .collect();
    CheckResult::from_problems(
        KSR_CHAIN_OVERLAP,
        problems,
        format!(
            "overlap with the previous SKR's last bundle is {}",
            fmt_dur(ov)
        ),
    )
}

/// KSR-CHAIN-PUBLISH-SAFETY: every ZSK of the KSR's first bundle (which may
/// sign from that bundle's inception) has been published without
/// interruption in the previous SKR for at least the publish safety before
/// that inception (RFC 7583 §3.3.1 pre-publication; kskm
/// KSR-POLICY-SAFETY). Knob: `publish_safety` (else the request policy's
/// PublishSafety, else the DNSKEY TTL).
pub fn check_chain_publish_safety(ksr: &Ksr, prev: &Skr, policy: &KskPolicy) -> CheckResult {
    let Some(first) = first_bundle(ksr) else {
        return CheckResult::fail(KSR_CHAIN_PUBLISH_SAFETY, "the KSR has no bundles");
    };
    let safety = policy.effective(ksr).publish_safety;
    let need = safety.min.unwrap_or(Duration::ZERO);
    let mut prev_sorted: Vec<&ResponseBundle> = prev.bundles.iter().collect();
    prev_sorted.sort_by_key(|b| b.inception);
    let mut problems = Vec::new();
    for k in &first.keys {
        // The earliest inception of the trailing run of previous bundles holding the key.
        let mut since = None;
        for b in prev_sorted.iter().rev() {
            if b.keys.iter().any(|x| x.dnskey == k.dnskey) {
                since = Some(b.inception);
            } else {
                break;
            }
        }
        let tag = k.dnskey.key_tag();
        match since {
            None => problems.push(format!("key tag {tag} of the KSR's first bundle {} is not published in the previous SKR's last bundle", first.id)),
            Some(s) => {
                let published = first.inception - s;
                if published < need {
                    problems.push(format!(
                        "key tag {tag} published since {} is only {} before the KSR's first bundle {} ({}), publish safety {} ({})",
                        format_rfc3339(s),
                        fmt_dur(published),
                        first.id,
                        format_rfc3339(first.inception),
                        fmt_dur(need),
                        safety.source
                    ));
                }
            }
        }
    }
    CheckResult::from_problems(
        KSR_CHAIN_PUBLISH_SAFETY,
        problems,
        format!(
            "every key of the first bundle was published at least {} ({}) before it",
            fmt_dur(need),
            safety.source
        ),
    )
}

/// KSR-CHAIN-RETIRE-SAFETY: every ZSK of the previous SKR's last bundle
/// stays published in the KSR for at least the retire safety after the
/// KSR's first inception, when it may stop signing (RFC 7583 §3.3.1
/// post-publication; kskm KSR-POLICY-SAFETY). KSKs (SEP keys) of the
/// previous SKR are not the KSR's business. Knob: `retire_safety` (else the
/// request policy's RetireSafety, else the DNSKEY TTL).
pub fn check_chain_retire_safety(ksr: &Ksr, prev: &Skr, policy: &KskPolicy) -> CheckResult {
    let (Some(first), Some(last)) = (first_bundle(ksr), last_response_bundle(prev)) else {
        return CheckResult::fail(
            KSR_CHAIN_RETIRE_SAFETY,
            "the KSR or the previous SKR has no bundles",
        );
    };
    let safety = policy.effective(ksr).retire_safety;
    let need = safety.min.unwrap_or(Duration::ZERO);
    let until = first.inception + need;
    let mut problems = Vec::new();
    for k in last.keys.iter().filter(|k| !k.dnskey.is_sep()) {
        let tag = k.dnskey.key_tag();
        for (i, b) in ksr.bundles.iter().enumerate() {
            if b.inception < until && !b.keys.iter().any(|x| x.dnskey == k.dnskey) {
                problems.push(format!(
                    "key tag {tag} of the previous SKR's last {} is missing from {}, within the retire safety {} ({}) after {}",
                    rlabel(last),
                    label(i, b),
                    fmt_dur(need),
                    safety.source,
                    format_rfc3339(first.inception)
                ));
                break;
            }
        }
    }
    CheckResult::from_problems(
        KSR_CHAIN_RETIRE_SAFETY,
        problems,
        format!(
            "every ZSK of the previous SKR's last bundle stays published at least {} ({})",
            fmt_dur(need),
            safety.source
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dnssec::sign::sign_rrset;
    use crate::dnssec::{Algorithm, Name};
    use crate::ksr::ksk_policy::ApprovedAlgorithm;
    use crate::ksr::model::{AlgorithmPolicy, BundleKey, BundleSignature, SignaturePolicy};
    use crate::timeutil::{parse_instant, to_rrsig_time};
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    /// A throw-away ECDSA P-256 signer for building test data.
    pub(crate) struct TestKey {
        pair: EcdsaKeyPair,
        dnskey: Dnskey,
    }

    impl TestKey {
        pub(crate) fn new(flags: u16) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            let pubkey = pair.public_key().as_ref()[1..].to_vec();
            TestKey {
                pair,
                dnskey: Dnskey::new(flags, Algorithm::EcdsaP256Sha256, pubkey),
            }
        }
        pub(crate) fn dnskey(&self) -> &Dnskey {
            &self.dnskey
        }
        pub(crate) fn bundle_key(&self, ttl: u32) -> BundleKey {
            BundleKey {
                key_identifier: format!("k{}", self.dnskey.key_tag()),
                key_tag: self.dnskey.key_tag(),
                ttl,
                dnskey: self.dnskey.clone(),
            }
        }
    }

    impl crate::backends::Signer for TestKey {
        fn dnskey(&self) -> &Dnskey {
            &self.dnskey
        }
        fn algorithm(&self) -> Algorithm {
            Algorithm::EcdsaP256Sha256
        }
        fn sign(&self, data: &[u8]) -> Result<Vec<u8>, crate::backends::BackendError> {
            let rng = SystemRandom::new();
            self.pair
                .sign(&rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| crate::backends::BackendError::Message("sign".into()))
        }
        fn describe(&self) -> String {
            "test".into()
        }
    }

    pub(crate) fn t(s: &str) -> OffsetDateTime {
        parse_instant(s).unwrap()
    }

    pub(crate) fn sign_set(
        key: &TestKey,
        rrset: &RrSet,
        inc: OffsetDateTime,
        exp: OffsetDateTime,
    ) -> BundleSignature {
        let rrsig = sign_rrset(
            key,
            rrset,
            &rrset.name,
            to_rrsig_time(inc),
            to_rrsig_time(exp),
        )
        .unwrap();
        BundleSignature {
            key_identifier: Some(format!("k{}", key.dnskey.key_tag())),
            ttl: rrset.ttl,
            rrsig,
        }
    }

    pub(crate) fn dnskey_rrset(domain: &Name, keys: &[BundleKey]) -> RrSet {
        RrSet::new(
            domain.clone(),
            keys[0].ttl,
            keys.iter()
                .map(|k| RData::Dnskey(k.dnskey.clone()))
                .collect(),
        )
        .unwrap()
    }

    /// A root-like IANA KSR: 9 bundles from `start`, 10 days apart, 21 days
    /// valid, ZSK A in 1–8 and B pre-published in 9, old ZSK O post-published in 1.
    pub(crate) struct Fixture {
        pub old: TestKey,
        pub a: TestKey,
        pub b: TestKey,
        pub ksr: Ksr,
    }

    pub(crate) fn bundle(
        domain: &Name,
        id: &str,
        inc: OffsetDateTime,
        exp: Option<OffsetDateTime>,
        keys: &[&TestKey],
        pop: bool,
    ) -> RequestBundle {
        let bks: Vec<BundleKey> = keys.iter().map(|k| k.bundle_key(3600)).collect();
        let rrset = dnskey_rrset(domain, &bks);
        let signatures = if pop {
            keys.iter()
                .map(|k| {
                    sign_set(
                        k,
                        &rrset,
                        t("2017-01-01T00:00:00Z"),
                        t("2017-01-31T00:00:00Z"),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        RequestBundle {
            id: id.into(),
            inception: inc,
            expiration: exp,
            keys: bks,
            signatures,
        }
    }

    pub(crate) fn iana_fixture() -> Fixture {
        let old = TestKey::new(256);
        let a = TestKey::new(256);
        let b = TestKey::new(256);
        let root = Name::root();
        let start = t("2027-01-01T00:00:00Z");
        let mut bundles = Vec::new();
        for i in 0..9i64 {
            let inc = start + Duration::days(10 * i);
            let keys: Vec<&TestKey> = match i {
                0 => vec![&old, &a],
                8 => vec![&a, &b],
                _ => vec![&a],
            };
            bundles.push(bundle(
                &root,
                &format!("bundle-{i}"),
                inc,
                Some(inc + Duration::days(21)),
                &keys,
                true,
            ));
        }
        let ksr = Ksr {
            format: Format::Iana,
            id: "ksr-1".into(),
            domain: root,
            serial: Some(1),
            request_policy: Some(SignaturePolicy {
                publish_safety: Duration::days(10),
                retire_safety: Duration::days(10),
                max_signature_validity: Duration::days(21),
                min_signature_validity: Duration::days(21),
                max_validity_overlap: Duration::days(12),
                min_validity_overlap: Duration::days(9),
                algorithms: vec![AlgorithmPolicy {
                    algorithm: 13,
                    params: AlgorithmParams::Ecdsa { size: 256 },
                }],
            }),
            bundles,
            generated: None,
            layout: crate::ksr::TextLayout::Knot,
        };
        Fixture { old, a, b, ksr }
    }

    /// The previous SKR for the fixture: 9 bundles ending 2027-01-11,
    /// O in 1–9, A pre-published in the last, signed by a KSK.
    pub(crate) fn previous_skr(f: &Fixture, ksk: &TestKey) -> Skr {
        let root = Name::root();
        let start = t("2027-01-01T00:00:00Z") - Duration::days(90);
        let mut bundles = Vec::new();
        for i in 0..9i64 {
            let inc = start + Duration::days(10 * i);
            let exp = inc + Duration::days(21);
            let zsks: Vec<&TestKey> = if i == 8 {
                vec![&f.old, &f.a]
            } else {
                vec![&f.old]
            };
            let mut keys: Vec<BundleKey> = zsks.iter().map(|k| k.bundle_key(3600)).collect();
            keys.push(ksk.bundle_key(3600));
            let rrset = dnskey_rrset(&root, &keys);
            let signatures = vec![sign_set(ksk, &rrset, inc, exp)];
            bundles.push(ResponseBundle {
                id: format!("prev-{i}"),
                inception: inc,
                expiration: Some(exp),
                keys,
                cds: vec![],
                cds_ttl: 0,
                cdnskey: vec![],
                cdnskey_ttl: 0,
                signatures,
            });
        }
        Skr {
            format: Format::Iana,
            id: "ksr-0".into(),
            domain: root,
            serial: Some(1),
            ksk_policy: None,
            zsk_policy: None,
            bundles,
            generated: None,
            layout: crate::ksr::TextLayout::Knot,
        }
    }

    fn now() -> OffsetDateTime {
        t("2026-12-15T00:00:00Z")
    }

    #[test]
    fn good_iana_ksr_passes_every_check() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let prev = previous_skr(&f, &ksk);
        // A ZSK partition of every tag, so that KSR-KEYTAG-PARTITION applies too.
        let every = KskPolicy { zsk_tag_range: Some(crate::keys::tag_partition::TagRange { min: 0, max: u16::MAX }), ..KskPolicy::default() };
        let r = check_ksr(&f.ksr, &every, Some(&prev), now());
        assert!(r.passed(), "{r}");
        assert_eq!(r.results.len(), ALL.len());
        for (res, id) in r.results.iter().zip(ALL) {
            assert_eq!(res.id, id);
            assert!(res.applicable, "{res}");
        }
    }

    #[test]
    fn zsks_outside_the_zsk_partition_are_named() {
        let f = iana_fixture();
        let tag = f.ksr.bundles[0].keys[0].dnskey.key_tag();
        let other = crate::keys::tag_partition::KeytagModulo { remainder: (tag + 1) % 2, modulus: 2 };
        let p = KskPolicy { zsk_keytag_modulo: Some(other), ..Default::default() };
        let r = crate::skr::keyset::check_ksr_keytag_partition(&f.ksr, &p.zsk_tag_partition());
        assert!(r.is_failure() && r.message.contains(&format!("ZSK {tag} ")) && r.message.contains("keytag_modulo"), "{r}");
        let unset = crate::skr::keyset::check_ksr_keytag_partition(&f.ksr, &KskPolicy::default().zsk_tag_partition());
        assert!(!unset.applicable, "{unset}");
        // From a --policy file, Knot's and BIND's forms; a bad one is refused.
        let p = KskPolicy::from_toml("zsk_keytag_modulo = \"0/2\"\nzsk_tag_range = [0, 32767]\n", "t").unwrap();
        assert!(p.zsk_tag_partition().contains(2) && !p.zsk_tag_partition().contains(3) && !p.zsk_tag_partition().contains(32768));
        assert!(KskPolicy::from_toml("zsk_tag_range = [0, 10]\n", "t").is_err());
    }

    #[test]
    fn domain_not_accepted() {
        let f = iana_fixture();
        let p = KskPolicy {
            accepted_domains: Some(vec!["example.com.".into()]),
            ..Default::default()
        };
        let r = check_domain(&f.ksr, &p);
        assert!(r.is_failure());
        assert!(r.message.contains("domain . is not among"), "{}", r.message);
        assert!(check_domain(&f.ksr, &KskPolicy::small_registry()).is_failure());
    }

    #[test]
    fn duplicate_bundle_id_fails() {
        let mut f = iana_fixture();
        f.ksr.bundles[3].id = f.ksr.bundles[2].id.clone();
        let r = check_bundle_unique(&f.ksr);
        assert!(r.is_failure());
        assert!(r.message.contains("bundle #4 bundle-2"), "{}", r.message);
    }

    #[test]
    fn key_identifier_reused_for_another_key_fails() {
        let mut f = iana_fixture();
        f.ksr.bundles[8].keys[1].key_identifier = f.ksr.bundles[8].keys[0].key_identifier.clone();
        let r = check_key_id_consistent(&f.ksr);
        assert!(r.is_failure(), "{r}");
        assert!(r.message.contains("bundle #9"));
    }

    #[test]
    fn sep_flag_or_wrong_algorithm_params_fail_key_params() {
        let mut f = iana_fixture();
        f.ksr.bundles[4].keys[0].dnskey.flags = 257;
        let r = check_key_params(&f.ksr);
        assert!(r.is_failure());
        assert!(r.message.contains("flags 257"), "{}", r.message);

        let mut f = iana_fixture();
        if let Some(rp) = f.ksr.request_policy.as_mut() {
            rp.algorithms = vec![AlgorithmPolicy {
                algorithm: 8,
                params: AlgorithmParams::Rsa {
                    size: 2048,
                    exponent: 65537,
                },
            }];
        }
        let r = check_key_params(&f.ksr);
        assert!(r.is_failure());
        assert!(
            r.message
                .contains("matches no algorithm of the KSR's request policy"),
            "{}",
            r.message
        );
    }

    #[test]
    fn wrong_claimed_key_tag_fails() {
        let mut f = iana_fixture();
        let real = f.ksr.bundles[2].keys[0].dnskey.key_tag();
        f.ksr.bundles[2].keys[0].key_tag = real.wrapping_add(1);
        let r = check_key_tag(&f.ksr);
        assert!(r.is_failure());
        assert!(
            r.message.contains(&format!("computed {real}")),
            "{}",
            r.message
        );
    }

    #[test]
    fn pop_detects_tampering() {
        // A flipped signature byte.
        let mut f = iana_fixture();
        f.ksr.bundles[5].signatures[0].rrsig.signature[7] ^= 1;
        let r = check_pop(&f.ksr, &KskPolicy::default());
        assert!(r.is_failure());
        assert!(
            r.message.contains("bundle #6") && r.message.contains("does not verify"),
            "{}",
            r.message
        );
        // A changed key byte (the key no longer matches its signature).
        let mut f = iana_fixture();
        let k = &mut f.ksr.bundles[0].keys[1].dnskey.public_key;
        k[10] ^= 1;
        let r = check_pop(&f.ksr, &KskPolicy::default());
        assert!(r.is_failure(), "{r}");
        assert!(r.message.contains("bundle #1"));
        // A missing signature.
        let mut f = iana_fixture();
        f.ksr.bundles[8].signatures.pop();
        let r = check_pop(&f.ksr, &KskPolicy::default());
        assert!(r.is_failure());
        assert!(
            r.message.contains(&format!(
                "key tag {} has not signed",
                f.b.dnskey().key_tag()
            )),
            "{}",
            r.message
        );
    }

    #[test]
    fn counts_and_cycle() {
        let mut f = iana_fixture();
        f.ksr.bundles.pop();
        let p = KskPolicy::default();
        assert!(check_bundle_count(&f.ksr, &p).is_failure());
        assert!(
            check_cycle_duration(&f.ksr, &p).is_failure(),
            "70 days is below 79"
        );
        let relaxed = KskPolicy {
            min_bundles: Some(1),
            max_bundles: Some(20),
            min_cycle_duration: Some(Duration::days(60)),
            ..Default::default()
        };
        assert!(check_bundle_count(&f.ksr, &relaxed).passed);
        assert!(check_cycle_duration(&f.ksr, &relaxed).passed);

        let mut f = iana_fixture();
        let extra = TestKey::new(256).bundle_key(3600);
        f.ksr.bundles[3].keys.push(extra.clone());
        f.ksr.bundles[3].keys.push(extra);
        let r = check_keys_per_bundle(&f.ksr, &p);
        assert!(
            r.is_failure() && r.message.contains("bundle #4 bundle-3"),
            "{r}"
        );
        let r = check_distinct_keys(&f.ksr, &p);
        assert!(
            r.is_failure() && r.message.contains("4 distinct keys"),
            "{r}"
        );
    }

    #[test]
    fn algorithm_not_approved() {
        let f = iana_fixture();
        let p = KskPolicy::root();
        let r = check_algorithm(&f.ksr, &p);
        assert!(r.is_failure());
        assert!(r.message.contains("uses algorithm 13"), "{}", r.message);
        let p = KskPolicy {
            algorithms: Some(vec![ApprovedAlgorithm::new(Algorithm::EcdsaP256Sha256)]),
            ..Default::default()
        };
        assert!(check_algorithm(&f.ksr, &p).passed);
    }

    #[test]
    fn timing_tampering() {
        let p = KskPolicy::default();
        // A bundle moved later: gap before it, wrong overlap and interval.
        let mut f = iana_fixture();
        f.ksr.bundles[4].inception += Duration::days(12);
        f.ksr.bundles[4].expiration = f.ksr.bundles[4].expiration.map(|e| e + Duration::days(12));
        assert!(check_bundle_gap(&f.ksr).is_failure());
        let r = check_bundle_overlap(&f.ksr, &p);
        assert!(
            r.is_failure() && r.message.contains("bundle #5 bundle-4"),
            "{r}"
        );
        assert!(check_inception_interval(&f.ksr, &p).is_failure());
        // Validity: both too long and too short fail.
        let mut f = iana_fixture();
        f.ksr.bundles[2].expiration = f.ksr.bundles[2].expiration.map(|e| e + Duration::days(1));
        let r = check_sig_validity(&f.ksr, &p);
        assert!(
            r.is_failure() && r.message.contains("> maximum P21D"),
            "{r}"
        );
        let mut f = iana_fixture();
        f.ksr.bundles[2].expiration = f.ksr.bundles[2].expiration.map(|e| e - Duration::days(1));
        let r = check_sig_validity(&f.ksr, &p);
        assert!(
            r.is_failure() && r.message.contains("< minimum P21D"),
            "{r}"
        );
        // Out of order.
        let mut f = iana_fixture();
        f.ksr.bundles.swap(3, 4);
        assert!(check_inception_interval(&f.ksr, &p).is_failure());
    }

    #[test]
    fn horizon_both_ways() {
        let f = iana_fixture();
        let p = KskPolicy::default();
        assert!(check_horizon(&f.ksr, &p, now()).passed);
        let r = check_horizon(&f.ksr, &p, t("2026-06-01T00:00:00Z"));
        assert!(
            r.is_failure() && r.message.contains("beyond the horizon"),
            "{r}"
        );
        let r = check_horizon(&f.ksr, &p, t("2027-02-01T00:00:00Z"));
        assert!(r.is_failure() && r.message.contains("already ended"), "{r}");
    }

    #[test]
    fn chain_checks() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let p = KskPolicy::default();
        let prev = previous_skr(&f, &ksk);
        // Replayed id and bundle id.
        let mut k2 = f.ksr.clone();
        k2.id = prev.id.clone();
        k2.bundles[0].id = prev.bundles[3].id.clone();
        let r = check_chain_id(&k2, &prev);
        assert!(r.is_failure() && r.message.contains("prev-3"), "{r}");
        // A first-bundle key never published before.
        let mut prev2 = prev.clone();
        if let Some(last) = prev2.bundles.last_mut() {
            last.keys.retain(|k| k.dnskey != *f.a.dnskey());
        }
        assert!(check_chain_keys(&f.ksr, &prev2).is_failure());
        assert!(check_chain_publish_safety(&f.ksr, &prev2, &p).is_failure());
        // Pre-published too late: A only in the last previous bundle, 10 days
        // before; with a 15-day publish safety it fails.
        let strict = KskPolicy {
            publish_safety: Some(Duration::days(15)),
            ..Default::default()
        };
        let r = check_chain_publish_safety(&f.ksr, &prev, &strict);
        assert!(
            r.is_failure()
                && r.message
                    .contains(&format!("key tag {}", f.a.dnskey().key_tag())),
            "{r}"
        );
        // The old ZSK dropped at once: retire safety fails.
        let mut k3 = f.ksr.clone();
        k3.bundles[0].keys.retain(|k| k.dnskey != *f.old.dnskey());
        let r = check_chain_retire_safety(&k3, &prev, &p);
        assert!(
            r.is_failure()
                && r.message
                    .contains(&format!("key tag {}", f.old.dnskey().key_tag())),
            "{r}"
        );
        // Overlap: shift the KSR two weeks later: a gap.
        let mut k4 = f.ksr.clone();
        for b in &mut k4.bundles {
            b.inception += Duration::days(14);
        }
        assert!(check_chain_overlap(&k4, &prev, &p).is_failure());
    }

    fn text_ksr() -> (Ksr, TestKey, TestKey) {
        let a = TestKey::new(256);
        let b = TestKey::new(256);
        let d = crate::dnssec::parse_name("example.com.").unwrap();
        let s = t("2026-11-23T09:45:19Z");
        let mk = |inc: OffsetDateTime, keys: &[&TestKey]| {
            let mut bu = bundle(
                &d,
                &inc.unix_timestamp().to_string(),
                inc,
                None,
                keys,
                false,
            );
            for k in &mut bu.keys {
                k.key_identifier = k.key_tag.to_string();
            }
            bu
        };
        let bundles = vec![
            mk(s, &[&a]),
            mk(s + Duration::days(30), &[&a, &b]),
            mk(s + Duration::days(30) + Duration::hours(1), &[&a, &b]),
            mk(s + Duration::days(30) + Duration::hours(2), &[&b]),
            mk(s + Duration::days(60), &[&b]),
        ];
        let ksr = Ksr {
            format: Format::Text,
            id: String::new(),
            domain: d,
            serial: None,
            request_policy: None,
            bundles,
            generated: Some((s, "Knot DNS 3.2.6".into())),
            layout: crate::ksr::TextLayout::Knot,
        };
        (ksr, a, b)
    }

    #[test]
    fn text_ksr_is_honest_about_what_it_lacks() {
        let (ksr, _, _) = text_ksr();
        let p = KskPolicy {
            accepted_domains: Some(vec!["example.com.".into()]),
            ..Default::default()
        };
        let r = check_ksr(&ksr, &p, None, t("2026-11-23T10:00:00Z"));
        assert!(r.passed(), "{r}");
        for id in [
            KSR_POP,
            KSR_BUNDLE_GAP,
            KSR_BUNDLE_OVERLAP,
            KSR_SIG_VALIDITY,
            KSR_CYCLE_DURATION,
            KSR_CHAIN_ID,
        ] {
            let c = r.get(id).unwrap();
            assert!(!c.applicable && !c.passed, "{c}");
        }
        assert!(r
            .get(KSR_HORIZON)
            .unwrap()
            .message
            .contains("last bundle's end is unknown"));
        assert!(r.notes.iter().any(|n| n.contains("no proof of possession")));
        assert!(r.to_text().contains("N/A  KSR-POP"));
        // Required proof of possession turns N/A into a failure.
        let strict = KskPolicy {
            require_proof_of_possession: Some(true),
            ..p.clone()
        };
        assert!(check_pop(&ksr, &strict).is_failure());
        // Horizon: the last inception beyond a 30-day horizon fails.
        let short = KskPolicy {
            horizon: Some(Duration::days(30)),
            ..p
        };
        assert!(check_horizon(&ksr, &short, t("2026-11-23T10:00:00Z")).is_failure());
    }

    #[test]
    fn text_key_tag_identifier_mismatch() {
        let (mut ksr, _, _) = text_ksr();
        ksr.bundles[1].keys[0].key_identifier = "1".into();
        assert!(check_key_tag(&ksr).is_failure());
    }

    #[test]
    fn empty_inputs_fail_without_panicking() {
        let f = iana_fixture();
        let mut k = f.ksr.clone();
        k.bundles.clear();
        let ksk = TestKey::new(257);
        let mut prev = previous_skr(&f, &ksk);
        prev.bundles.clear();
        let r = check_ksr(&k, &KskPolicy::default(), Some(&prev), now());
        assert!(!r.passed());
        assert!(r.get(KSR_BUNDLE_COUNT).unwrap().is_failure());
        assert!(r.get(KSR_CHAIN_KEYS).unwrap().is_failure());
        let r = crate::skr::checks::check_skr(
            &prev,
            &crate::skr::checks::TrustAnchor {
                ds: vec![],
                dnskeys: vec![ksk.dnskey().clone()],
                domain: Name::root(),
            },
            Some(&k),
            now(),
        );
        assert!(!r.passed());
    }
}
