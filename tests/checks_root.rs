//! The KSR and SKR checks on real files: the root zone's 2017 Q2 KSR with
//! the Q1 SKR as previous SKR, both root SKRs against the KSK-2010 trust
//! anchor, and tampered copies that must fail with the failing check named.
//! Also the Knot DNS text-format pair. Fixtures are read from ../shared;
//! when that is absent the fixture cases print a note and return.

use std::path::PathBuf;

use kskit::checks::Report;
use kskit::ksr::checks::check_ksr;
use kskit::ksr::ksk_policy::KskPolicy;
use kskit::ksr::Ksr;
use kskit::skr::checks::{check_skr, parse_trust_anchor, TrustAnchor};
use kskit::skr::Skr;
use kskit::timeutil::parse_instant;
use time::OffsetDateTime;

const ROOT_TA: &str =
    ". IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5";

fn fixture(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel);
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) => {
            eprintln!(
                "note: fixture {} not found; skipping this case",
                p.display()
            );
            None
        }
    }
}

/// Inside both the Q1 SKR's period (to 2017-04-11) and the Q2 KSR's.
fn now() -> OffsetDateTime {
    parse_instant("2017-04-05T00:00:00Z").unwrap()
}

fn ksr(xml: &str) -> Ksr {
    kskit::formats::iana::parse_ksr(xml).unwrap()
}

fn skr(xml: &str) -> Skr {
    kskit::formats::iana::parse_skr(xml).unwrap()
}

fn ta() -> TrustAnchor {
    parse_trust_anchor(ROOT_TA).unwrap()
}

fn failed(r: &Report) -> Vec<&'static str> {
    r.failures().iter().map(|c| c.id).collect()
}

/// Asserts the report failed and that `id` is among the failures, with a
/// message naming `needle` (a bundle id or key tag).
fn assert_fails(r: &Report, id: &str, needle: &str) {
    assert!(!r.passed(), "expected a failure of {id}:\n{r}");
    let c = r
        .get(id)
        .unwrap_or_else(|| panic!("{id} did not run:\n{r}"));
    assert!(c.is_failure(), "expected {id} to fail:\n{r}");
    assert!(
        c.message.contains(needle),
        "{id} message should name {needle:?}: {}",
        c.message
    );
}

/// Replaces the first occurrence of `from` (which must exist) with `to`.
fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert!(s.contains(from), "tamper target {from:?} not found");
    s.replacen(from, to, 1)
}

/// Removes the bundle element (`RequestBundle` or `ResponseBundle`) with `id`.
fn drop_bundle(s: &str, elem: &str, id: &str) -> String {
    let open = format!("<{elem} id=\"{id}\">");
    let start = s.find(&open).expect("bundle to drop");
    let close = format!("</{elem}>");
    let end = start + s[start..].find(&close).expect("bundle end") + close.len();
    format!("{}{}", &s[..start], &s[end..])
}

#[test]
fn root_ksr_with_previous_skr_passes() {
    let (Some(k), Some(p)) = (
        fixture("root/ksr-root-2017-q2-0.xml"),
        fixture("root/skr-root-2017-q1-0.xml"),
    ) else {
        return;
    };
    let (k, p) = (ksr(&k), skr(&p));
    for policy in [KskPolicy::default(), KskPolicy::root()] {
        let r = check_ksr(&k, &policy, Some(&p), now());
        assert!(r.passed(), "{r}");
        // Every check applies except KSR-KEYTAG-PARTITION, which applies
        // only where the KSK side's policy sets a ZSK key-tag partition (the
        // root's sets none).
        assert!(
            r.results.iter().all(|c| c.applicable || c.id == "KSR-KEYTAG-PARTITION"),
            "every check applies to an IANA KSR with a previous SKR:\n{r}"
        );
        assert!(!r.get("KSR-KEYTAG-PARTITION").unwrap().applicable, "{r}");
        assert_eq!(r.results.len(), kskit::ksr::checks::ALL.len());
    }
    let r = check_ksr(&k, &KskPolicy::default(), Some(&p), now());
    eprintln!("{r}");
    let pop = r.get("KSR-POP").unwrap();
    assert!(
        pop.message.starts_with("every key signed every bundle"),
        "{pop}"
    );
    assert!(r
        .to_text()
        .lines()
        .next()
        .unwrap()
        .starts_with("PASS KSR-DOMAIN"));
}

#[test]
fn root_skrs_pass_with_the_trust_anchor() {
    let (Some(q1), Some(q2), Some(k)) = (
        fixture("root/skr-root-2017-q1-0.xml"),
        fixture("root/skr-root-2017-q2-0.xml"),
        fixture("root/ksr-root-2017-q2-0.xml"),
    ) else {
        return;
    };
    let r = check_skr(&skr(&q1), &ta(), None, now());
    assert!(r.passed(), "{r}");
    let r = check_skr(&skr(&q2), &ta(), Some(&ksr(&k)), now());
    eprintln!("{r}");
    assert!(r.passed(), "{r}");
    assert!(r.get("SKR-MATCHES-KSR").unwrap().passed);
    assert!(r.get("SKR-TRUST-ANCHOR").unwrap().message.contains("19036"));
    // The root SKRs of 2017 publish no CDS/CDNSKEY: reported as not applicable, not passed.
    assert!(!r.get("SKR-CDS-CONSISTENT").unwrap().applicable);
}

#[test]
fn tampered_ksr_signature_fails_pop() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else {
        return;
    };
    // The first SignatureData (bundle dc1bc68c, key 14796) with one byte changed.
    let bad = replace_once(&k, "<SignatureData>kRfwt566", "<SignatureData>kRfwt567");
    let r = check_ksr(&ksr(&bad), &KskPolicy::default(), None, now());
    assert_fails(&r, "KSR-POP", "dc1bc68c-b1c1-46f8-817f-ec893549f2be");
    assert!(r.get("KSR-POP").unwrap().message.contains("14796"));
    assert_eq!(failed(&r), vec!["KSR-POP"]);
}

#[test]
fn tampered_ksr_key_fails_tag_and_pop() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else {
        return;
    };
    // Key 14796's public key changed in the first bundle only (it is in all nine).
    let bad = replace_once(&k, "<PublicKey>AwEAAZLsvvPf", "<PublicKey>AwEAAZLsvvPg");
    let r = check_ksr(&ksr(&bad), &KskPolicy::default(), None, now());
    assert_fails(&r, "KSR-KEY-TAG", "claims key tag 14796");
    assert_fails(&r, "KSR-POP", "dc1bc68c-b1c1-46f8-817f-ec893549f2be");
    // The same identifier now names two different keys.
    assert_fails(
        &r,
        "KSR-KEY-ID-CONSISTENT",
        "bundle #2 3ea61ea1-43ca-47ce-a9c4-1e5799fb13b7",
    );
}

#[test]
fn tampered_ksr_bundle_date_fails_timing() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else {
        return;
    };
    // Bundle cfe81083 (the 4th) begins two days late.
    let bad = replace_once(
        &k,
        "<Inception>2017-05-01T00:00:00</Inception>",
        "<Inception>2017-05-03T00:00:00</Inception>",
    );
    let r = check_ksr(&ksr(&bad), &KskPolicy::default(), None, now());
    assert_fails(
        &r,
        "KSR-SIG-VALIDITY",
        "cfe81083-5562-4429-923b-0ef5e718b9e4",
    );
    assert_fails(
        &r,
        "KSR-INCEPTION-INTERVAL",
        "cfe81083-5562-4429-923b-0ef5e718b9e4",
    );
    // Its overlap with the previous bundle shrinks to 9 days, still within the claimed P9D..P12D.
    assert!(r.get("KSR-BUNDLE-OVERLAP").unwrap().passed);
    // Two days later still: 7 days of overlap, below the claimed minimum.
    let worse = replace_once(
        &k,
        "<Inception>2017-05-01T00:00:00</Inception>",
        "<Inception>2017-05-05T00:00:00</Inception>",
    );
    let r = check_ksr(&ksr(&worse), &KskPolicy::default(), None, now());
    assert_fails(
        &r,
        "KSR-BUNDLE-OVERLAP",
        "cfe81083-5562-4429-923b-0ef5e718b9e4",
    );
}

#[test]
fn ksr_with_a_dropped_bundle_fails() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else {
        return;
    };
    let bad = drop_bundle(&k, "RequestBundle", "a3e8f6ca-894b-4d01-b81e-99599fbba151");
    let r = check_ksr(&ksr(&bad), &KskPolicy::default(), None, now());
    assert_fails(&r, "KSR-BUNDLE-COUNT", "8 bundles");
    // The next bundle (b909490e) now begins 20 days after its predecessor.
    assert_fails(
        &r,
        "KSR-INCEPTION-INTERVAL",
        "b909490e-be41-4433-bdb8-12c2bf1caa65",
    );
    assert_fails(
        &r,
        "KSR-BUNDLE-OVERLAP",
        "b909490e-be41-4433-bdb8-12c2bf1caa65",
    );
}

#[test]
fn ksr_with_a_duplicate_bundle_id_fails() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else {
        return;
    };
    let bad = replace_once(
        &k,
        "<RequestBundle id=\"3ea61ea1-43ca-47ce-a9c4-1e5799fb13b7\">",
        "<RequestBundle id=\"dc1bc68c-b1c1-46f8-817f-ec893549f2be\">",
    );
    let r = check_ksr(&ksr(&bad), &KskPolicy::default(), None, now());
    assert_fails(
        &r,
        "KSR-BUNDLE-UNIQUE",
        "bundle #2 dc1bc68c-b1c1-46f8-817f-ec893549f2be",
    );
    assert_eq!(failed(&r), vec!["KSR-BUNDLE-UNIQUE"]);
}

#[test]
fn ksr_replayed_against_its_own_skr_fails_chain() {
    let (Some(k), Some(q2), Some(q1)) = (
        fixture("root/ksr-root-2017-q2-0.xml"),
        fixture("root/skr-root-2017-q2-0.xml"),
        fixture("root/skr-root-2017-q1-0.xml"),
    ) else {
        return;
    };
    // The Q2 SKR as "previous": same KSR id and bundle ids, and the keys do not chain.
    let r = check_ksr(&ksr(&k), &KskPolicy::default(), Some(&skr(&q2)), now());
    assert_fails(&r, "KSR-CHAIN-ID", "23e34059-7725-46a8-a7d2-662d657aab2b");
    assert_fails(&r, "KSR-CHAIN-KEYS", "61045");
    // A previous SKR whose last bundle lacks the incoming ZSK 14796.
    let last = "<ResponseBundle id=\"c8753ecf-cbaf-4adc-902b-9f3e0861cc48\">";
    let start = q1.find(last).unwrap();
    let key = "<Key keyIdentifier=\"302e312c302a06035504031323566572695369676e20444e5353656320526f6f7420414c47382032303438205a534b33\" keyTag=\"14796\">";
    let ks = start + q1[start..].find(key).unwrap();
    let ke = ks + q1[ks..].find("</Key>").unwrap() + "</Key>".len();
    let bad_prev = format!("{}{}", &q1[..ks], &q1[ke..]);
    let r = check_ksr(
        &ksr(&k),
        &KskPolicy::default(),
        Some(&skr(&bad_prev)),
        now(),
    );
    assert_fails(&r, "KSR-CHAIN-KEYS", "14796");
    assert_fails(&r, "KSR-CHAIN-PUBLISH-SAFETY", "14796");
}

#[test]
fn tampered_skrs_fail() {
    let (Some(q2), Some(k)) = (
        fixture("root/skr-root-2017-q2-0.xml"),
        fixture("root/ksr-root-2017-q2-0.xml"),
    ) else {
        return;
    };
    let k = ksr(&k);
    let first_sig = q2.find("<SignatureData>").unwrap() + "<SignatureData>".len();
    // A signature byte (bundle dc1bc68c).
    let c = &q2[first_sig..first_sig + 1];
    let flipped = if c == "A" { "B" } else { "A" };
    let bad = format!("{}{}{}", &q2[..first_sig], flipped, &q2[first_sig + 1..]);
    let r = check_skr(&skr(&bad), &ta(), Some(&k), now());
    assert_fails(&r, "SKR-SIG-VERIFY", "dc1bc68c-b1c1-46f8-817f-ec893549f2be");
    assert_fails(
        &r,
        "SKR-DNSKEY-SIGNED",
        "dc1bc68c-b1c1-46f8-817f-ec893549f2be",
    );
    // A ZSK byte: the signature no longer verifies and the ZSK set differs from the request.
    let bad = replace_once(
        &q2,
        "<PublicKey>AwEAAYvgWbYkpeGg",
        "<PublicKey>AwEAAYvgWbYkpeGh",
    );
    let r = check_skr(&skr(&bad), &ta(), Some(&k), now());
    assert_fails(&r, "SKR-SIG-VERIFY", "dc1bc68c-b1c1-46f8-817f-ec893549f2be");
    assert_fails(
        &r,
        "SKR-MATCHES-KSR",
        "dc1bc68c-b1c1-46f8-817f-ec893549f2be",
    );
    // A different trust anchor: not ours.
    let other = parse_trust_anchor(
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    )
    .unwrap();
    let r = check_skr(&skr(&q2), &other, Some(&k), now());
    assert_fails(&r, "SKR-TRUST-ANCHOR", "19036");
    // A bundle date that is not what was requested.
    let bad = replace_once(
        &q2,
        "<Expiration>2017-05-12T00:00:00+00:00</Expiration>",
        "<Expiration>2017-05-13T00:00:00+00:00</Expiration>",
    );
    let r = check_skr(&skr(&bad), &ta(), Some(&k), now());
    assert_fails(
        &r,
        "SKR-MATCHES-KSR",
        "ea67fb0d-2864-41e7-b26b-34d52e7364c0",
    );
    // Two bundles dropped: a gap in coverage.
    let bad = drop_bundle(
        &q2,
        "ResponseBundle",
        "cfe81083-5562-4429-923b-0ef5e718b9e4",
    );
    let bad = drop_bundle(
        &bad,
        "ResponseBundle",
        "a3e8f6ca-894b-4d01-b81e-99599fbba151",
    );
    let r = check_skr(&skr(&bad), &ta(), Some(&k), now());
    assert_fails(&r, "SKR-COVERAGE", "gap");
    assert_fails(
        &r,
        "SKR-MATCHES-KSR",
        "cfe81083-5562-4429-923b-0ef5e718b9e4",
    );
    assert_fails(
        &r,
        "SKR-NO-EARLY-EXPIRY",
        "ea67fb0d-2864-41e7-b26b-34d52e7364c0",
    );
    // A duplicated bundle id: the request's second bundle goes unanswered.
    let bad = replace_once(
        &q2,
        "<ResponseBundle id=\"3ea61ea1-43ca-47ce-a9c4-1e5799fb13b7\">",
        "<ResponseBundle id=\"dc1bc68c-b1c1-46f8-817f-ec893549f2be\">",
    );
    let r = check_skr(&skr(&bad), &ta(), Some(&k), now());
    assert_fails(
        &r,
        "SKR-MATCHES-KSR",
        "3ea61ea1-43ca-47ce-a9c4-1e5799fb13b7",
    );
    // An SKR whose time is over.
    let r = check_skr(
        &skr(&q2),
        &ta(),
        Some(&k),
        parse_instant("2017-08-01T00:00:00Z").unwrap(),
    );
    assert_fails(&r, "SKR-NOT-EXPIRED", "2017-07-11");
}

// ---- Knot DNS 3.2.6 text-format pair ----

const KNOT_KSK_541: &str = "example.com. 3600 IN DNSKEY 257 3 13 iOVfT3OFQBQCdmHZdOFALTLatAfJKXnXRagsVhFtTVwEu7Zf9tp+GbatKUoCx/k3Tu/DRM2du/IUaBbNEw5oKQ==";

fn knot_now() -> OffsetDateTime {
    parse_instant("2026-11-23T10:00:00Z").unwrap()
}

fn example_policy() -> KskPolicy {
    KskPolicy {
        accepted_domains: Some(vec!["example.com.".into()]),
        ..KskPolicy::default()
    }
}

#[test]
fn knot_ksr_passes_default_checks() {
    let Some(text) = fixture("knot/example.com.ksr") else {
        return;
    };
    let k = kskit::formats::text::parse_ksr(&text).unwrap();
    let r = check_ksr(&k, &example_policy(), None, knot_now());
    eprintln!("{r}");
    assert!(r.passed(), "{r}");
    // What the text format cannot tell is reported as such, never as a pass.
    for id in [
        "KSR-POP",
        "KSR-BUNDLE-GAP",
        "KSR-BUNDLE-OVERLAP",
        "KSR-SIG-VALIDITY",
    ] {
        let c = r.get(id).unwrap();
        assert!(!c.applicable && !c.passed, "{c}");
    }
    assert!(r.notes.iter().any(|n| n.contains("no proof of possession")));
    // The default domain (the root) does not accept it.
    let r = check_ksr(&k, &KskPolicy::default(), None, knot_now());
    assert_eq!(failed(&r), vec!["KSR-DOMAIN"]);
}

#[test]
fn knot_skr_passes_with_its_ksk_as_trust_anchor() {
    let (Some(st), Some(kt)) = (
        fixture("knot/example.com.skr"),
        fixture("knot/example.com.ksr"),
    ) else {
        return;
    };
    let s = kskit::formats::text::parse_skr(&st).unwrap();
    let k = kskit::formats::text::parse_ksr(&kt).unwrap();
    let knot_ta = parse_trust_anchor(KNOT_KSK_541).unwrap();
    // The ZSK side's own bound (SKR-MAX-VALIDITY): Knot's rrsig-lifetime of 14 days.
    let r = kskit::skr::checks::check_skr_bounded(&s, &knot_ta, Some(&k), knot_now(), Some(time::Duration::days(14)));
    eprintln!("{r}");
    assert!(r.passed(), "{r}");
    // Every check applies except SKR-RESPONSE-POLICY: a text SKR states no KSK response policy.
    assert!(r.results.iter().all(|c| c.applicable || c.id == "SKR-RESPONSE-POLICY"), "{r}");
    assert!(!r.get("SKR-RESPONSE-POLICY").unwrap().applicable, "{r}");
    assert!(r.get("SKR-TRUST-ANCHOR").unwrap().message.contains("541"));
    // The next Knot KSR continues at the last inception with the same ZSK:
    // with this SKR as previous SKR, every chain check applies and passes.
    let mut next = k.clone();
    next.bundles = k.bundles.last().cloned().into_iter().collect();
    let r = check_ksr(&next, &example_policy(), Some(&s), knot_now());
    assert!(r.passed(), "{r}");
    for id in [
        "KSR-CHAIN-ID",
        "KSR-CHAIN-KEYS",
        "KSR-CHAIN-OVERLAP",
        "KSR-CHAIN-PUBLISH-SAFETY",
        "KSR-CHAIN-RETIRE-SAFETY",
    ] {
        assert!(r.get(id).unwrap().passed, "{r}");
    }
    // Resending the same KSR after its SKR is a replay: it begins before the SKR's last bundle.
    let r = check_ksr(&k, &example_policy(), Some(&s), knot_now());
    assert_fails(&r, "KSR-CHAIN-ID", "before the previous SKR's last");
    // The root trust anchor does not pin Knot's KSK.
    let r = check_skr(&s, &ta(), Some(&k), knot_now());
    assert_fails(&r, "SKR-TRUST-ANCHOR", "the SKR is for example.com.");
}

#[test]
fn tampered_knot_skr_fails() {
    let (Some(st), Some(kt)) = (
        fixture("knot/example.com.skr"),
        fixture("knot/example.com.ksr"),
    ) else {
        return;
    };
    let k = kskit::formats::text::parse_ksr(&kt).unwrap();
    let ta = parse_trust_anchor(KNOT_KSK_541).unwrap();
    // The first CDS digest changed: no longer the KSK's, and its RRSIG fails.
    let bad = replace_once(
        &st,
        "05913CCEABD1D23F69244F8477F5CF23643B6392",
        "05913CCEABD1D23F69244F8477F5CF23643B6393",
    );
    let s = kskit::formats::text::parse_skr(&bad).unwrap();
    let r = check_skr(&s, &ta, Some(&k), knot_now());
    assert_fails(&r, "SKR-CDS-CONSISTENT", "matches no KSK");
    assert_fails(&r, "SKR-SIG-VERIFY", "RRSIG CDS by key tag 541");
    // A refresh bundle's ZSK swapped for the other one: not what was requested.
    let s = kskit::formats::text::parse_skr(&st).unwrap();
    let mut s2 = s.clone();
    let other = s
        .bundles
        .iter()
        .flat_map(|b| b.keys.iter())
        .find(|k| k.key_tag == 8897)
        .cloned()
        .unwrap();
    if let Some(b) = s2.bundles.get_mut(1) {
        b.keys.retain(|k| k.key_tag != 14954);
        b.keys.insert(0, other);
    }
    let r = check_skr(&s2, &ta, Some(&k), knot_now());
    assert_fails(&r, "SKR-MATCHES-KSR", "2026-11-30T09:45:19Z");
    assert_fails(&r, "SKR-SIG-VERIFY", "2026-11-30T09:45:19Z");
}
