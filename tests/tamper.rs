//! Tamper tests. A small valid SKR in each format (made by kskit: ECDSA
//! P-256, CDS and CDNSKEY, IANA with request and response policies) is
//! changed and checked as the ZSK side would (`check_skr`), once without
//! and once with the KSR it answers. Every change must be refused (a parse
//! error or a failed check) or harmless: harmless means the parsed model
//! equals the original's field for field — ids, serial, policies, key
//! identifiers, claimed key tags, TTLs, times, keys, CDS/CDNSKEY,
//! signatures, the text footer — except the few fields listed in
//! [`unbindable`], which nothing the ZSK side holds can confirm (and which
//! must still have the safe syntax of docs/formats.md).
//!
//! Byte changes: EVERY byte position of the file, each with two masks
//! (xor 0x01: neighbouring digits and letters; xor 0x20: letter case,
//! digits to control characters). Structural changes: a bundle duplicated, dropped, moved, spliced
//! in from another SKR signed by the same KSK (with its own id and relabelled
//! with a requested one), a signature repeated or dropped — each refused
//! with the KSR. And the splice on the real 2017 root SKRs.

use kskit::backends::soft::{self, SoftKey};
use kskit::backends::Signer;
use kskit::checks::Report;
use kskit::dnssec::{parse_name, rtype, Algorithm, DigestType};
use kskit::ksr::generate::{generate_ksr, GenerateParams, ZskInput};
use kskit::ksr::model::{AlgorithmParams, AlgorithmPolicy, Format, Ksr, SignaturePolicy};
use kskit::skr::checks::{check_skr, parse_trust_anchor, TrustAnchor};
use kskit::skr::model::Skr;
use kskit::skr::sign::{sign_ksr, CdsMode, Ksk, SignOptions};
use kskit::timeutil::parse_instant;
use time::{Duration, OffsetDateTime};

// The safe syntax of docs/formats.md ("Unsigned fields"), written out here
// rather than taken from `kskit::formats::fields`, so the test states the rule.
fn id_ok(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}
fn key_identifier_ok(s: &str) -> bool {
    s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".:_-+/=@".contains(&b))
}
fn generator_ok(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The byte masks every position is changed with.
const MASKS: [u8; 2] = [0x01, 0x20];

struct Case {
    format: Format,
    ksr: Ksr,
    text: String,
    skr: Skr,
    ta: TrustAnchor,
    now: OffsetDateTime,
}

fn policy(validity: i64) -> SignaturePolicy {
    SignaturePolicy {
        publish_safety: Duration::days(1),
        retire_safety: Duration::days(2),
        max_signature_validity: Duration::days(validity),
        min_signature_validity: Duration::days(validity),
        max_validity_overlap: Duration::days(12),
        min_validity_overlap: Duration::days(9),
        algorithms: vec![AlgorithmPolicy { algorithm: 13, params: AlgorithmParams::Ecdsa { size: 256 } }],
    }
}

/// A KSR from `from` for `days` days (IANA: bundles 10 days apart; text:
/// bundles where the ZSK set changes, with 7-day signature-refresh bundles
/// between them in the SKR) with ZSKs `z1` (all along) and `z2` (from half
/// way), and the SKR `ksk` signs for it.
fn make(format: Format, from: OffsetDateTime, days: i64, ksk: &SoftKey, z1: &SoftKey, z2: &SoftKey) -> (Ksr, Skr) {
    let domain = parse_name("example.com.").unwrap();
    let zsks = vec![
        ZskInput { identifier: "z1".into(), dnskey: z1.dnskey().clone(), publish: from, remove: None, signer: Some(z1) },
        ZskInput { identifier: "z2".into(), dnskey: z2.dnskey().clone(), publish: from + Duration::days(days / 2), remove: None, signer: Some(z2) },
    ];
    let params = GenerateParams {
        domain,
        from,
        until: from + Duration::days(days),
        format,
        bundle_interval: Duration::days(10),
        signature_validity: Duration::days(21),
        dnskey_ttl: 3600,
        request_policy: (format == Format::Iana).then(|| policy(21)),
    };
    let ksr = generate_ksr(&params, &zsks).unwrap();
    let opts = SignOptions {
        cds: CdsMode::Publish(vec![DigestType::Sha256]),
        ksk_policy: (format == Format::Iana).then(|| policy(21)),
        text_refresh: Duration::days(7),
        ..SignOptions::default()
    };
    let skr = sign_ksr(&ksr, &[Ksk { signer: ksk, identifier: "ksk".into() }], &opts, &mut |_, _| {}).unwrap();
    (ksr, skr)
}

fn keys() -> (SoftKey, SoftKey, SoftKey) {
    let g = |flags| soft::generate(Algorithm::EcdsaP256Sha256, None, flags).unwrap();
    (g(257), g(256), g(256))
}

fn case(format: Format) -> Case {
    case_of(format, 20)
}

/// A case whose KSR spans `days` days.
fn case_of(format: Format, days: i64) -> Case {
    let from = parse_instant("2030-01-01T00:00:00Z").unwrap();
    let (ksk, z1, z2) = keys();
    let (ksr, skr) = make(format, from, days, &ksk, &z1, &z2);
    // Through the file and back, as the ZSK side reads it.
    let text = kskit::formats::write_skr(&skr, format);
    let ksr = kskit::formats::parse_ksr_any(kskit::formats::write_ksr(&ksr, format).as_bytes()).unwrap();
    let skr = kskit::formats::parse_skr_any(text.as_bytes()).expect("the valid SKR parses");
    let domain = skr.domain.clone();
    let ta = TrustAnchor { ds: vec![ksk.dnskey().ds(&domain, DigestType::Sha256)], dnskeys: vec![], domain };
    let c = Case { format, ksr, text, skr, ta, now: from + Duration::days(1) };
    for r in [check_skr(&c.skr, &c.ta, None, c.now), check_skr(&c.skr, &c.ta, Some(&c.ksr), c.now)] {
        assert!(r.passed(), "the untouched SKR must pass: {}", r.to_text());
    }
    c
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    WithoutKsr,
    WithKsr,
}

/// The fields no check can bind in `mode`, copied from the original into
/// the mutant before the comparison, after checking that the mutant's
/// values still have the safe syntax (so whatever they say is harmless to
/// print). Text format: the footer's time and generator (signed by nothing,
/// compared with nothing). IANA without the KSR: the SKR id, serial, bundle
/// ids, key identifiers and the response policy (SKR-MATCHES-KSR binds them
/// to the request). IANA with the KSR: only the durations of the KSK
/// response policy (the KSK side's statement about itself, which the ZSK
/// side neither knows nor uses; its algorithms must stay the same).
fn unbindable(orig: &Skr, m: &Skr, mode: Mode) -> Skr {
    let mut n = m.clone();
    if let Some((_, g)) = &m.generated {
        assert!(generator_ok(g), "an accepted footer generator {g:?} is not safe");
    }
    n.generated = orig.generated.clone();
    if m.format == Format::Text {
        return n;
    }
    match mode {
        Mode::WithoutKsr => {
            assert!(id_ok(&m.id), "an accepted SKR id {:?} is not safe", m.id);
            n.id = orig.id.clone();
            n.serial = orig.serial;
            n.zsk_policy = orig.zsk_policy.clone();
            n.ksk_policy = orig.ksk_policy.clone();
            if n.bundles.len() == orig.bundles.len() {
                for (nb, ob) in n.bundles.iter_mut().zip(&orig.bundles) {
                    assert!(id_ok(&nb.id), "an accepted bundle id {:?} is not safe", nb.id);
                    nb.id = ob.id.clone();
                    if nb.keys.len() == ob.keys.len() {
                        for (nk, ok) in nb.keys.iter_mut().zip(&ob.keys) {
                            assert!(key_identifier_ok(&nk.key_identifier), "unsafe keyIdentifier {:?}", nk.key_identifier);
                            nk.key_identifier = ok.key_identifier.clone();
                        }
                    }
                    if nb.signatures.len() == ob.signatures.len() {
                        for (ns, os) in nb.signatures.iter_mut().zip(&ob.signatures) {
                            assert!(ns.key_identifier.as_deref().is_none_or(key_identifier_ok));
                            ns.key_identifier = os.key_identifier.clone();
                        }
                    }
                }
            }
        }
        Mode::WithKsr => {
            if let (Some(np), Some(op)) = (&mut n.ksk_policy, &orig.ksk_policy) {
                np.publish_safety = op.publish_safety;
                np.retire_safety = op.retire_safety;
                np.max_signature_validity = op.max_signature_validity;
                np.min_signature_validity = op.min_signature_validity;
                np.max_validity_overlap = op.max_validity_overlap;
                np.min_validity_overlap = op.min_validity_overlap;
            }
        }
    }
    n
}

/// How one mutated file fared, in both modes.
#[derive(Default)]
struct Tally {
    tried: usize,
    unparsed: usize,
    identical: usize,
    refused: [usize; 2],
    harmless: [usize; 2],
    last_refused_without: bool,
}

/// Checks one mutated file in both modes; panics on a mutation accepted
/// with content other than the original's.
fn judge(c: &Case, data: &[u8], what: &dyn Fn() -> String, t: &mut Tally) {
    t.tried += 1;
    let Ok(m) = kskit::formats::parse_skr_any(data) else {
        t.unparsed += 1;
        return;
    };
    // The checks see only the model (docs/architecture.md): a mutation that
    // parses to the very same model gets the very same (passing) verdict,
    // in both modes, and is harmless.
    if m == c.skr {
        t.identical += 1;
        return;
    }
    for (i, mode) in [Mode::WithoutKsr, Mode::WithKsr].into_iter().enumerate() {
        // With the KSR, check_skr runs every check it runs without it (same
        // rules; SKR-COVERAGE only stricter) plus SKR-MATCHES-KSR: what is
        // refused without the KSR is refused with it, so only what passed
        // without it is checked again (halving the test's cost).
        if mode == Mode::WithKsr && t.last_refused_without {
            t.refused[i] += 1;
            continue;
        }
        let ksr = (mode == Mode::WithKsr).then_some(&c.ksr);
        let passed = check_skr(&m, &c.ta, ksr, c.now).passed();
        if mode == Mode::WithoutKsr {
            t.last_refused_without = !passed;
        }
        if !passed {
            t.refused[i] += 1;
            continue;
        }
        t.harmless[i] += 1;
        let n = unbindable(&c.skr, &m, mode);
        assert!(n == c.skr, "{} was accepted {mode:?} with other content:\n{m:#?}", what());
    }
}

fn every_byte(format: Format) {
    let c = case(format);
    let bytes = c.text.as_bytes();
    let mut t = Tally::default();
    for pos in 0..bytes.len() {
        for mask in MASKS {
            let mut m = bytes.to_vec();
            m[pos] ^= mask;
            let what = || format!("{format:?} byte {pos} ^ {mask:#04x} ({:?} -> {:?})", bytes[pos] as char, m[pos] as char);
            judge(&c, &m, &what, &mut t);
        }
    }
    eprintln!(
        "{format:?}: {} bytes x {} masks = {} mutations: {} unparsable, {} parse to the identical model; without the KSR {} refused, {} harmless; with it {} refused, {} harmless",
        bytes.len(),
        MASKS.len(),
        t.tried,
        t.unparsed,
        t.identical,
        t.refused[0],
        t.harmless[0],
        t.refused[1],
        t.harmless[1]
    );
    assert_eq!(t.tried, bytes.len() * MASKS.len());
    // A mutation test that cannot tell would pass with everything refused:
    // some mutations must reach the checks and some must be refused there.
    assert!(t.refused[0] > 0 && t.refused[1] >= t.refused[0], "no mutation reached a failing check");
}

#[test]
fn every_byte_of_an_iana_skr_xor_two_masks_is_refused_or_harmless_with_and_without_ksr() {
    every_byte(Format::Iana);
}

#[test]
fn every_byte_of_a_text_skr_xor_two_masks_is_refused_or_harmless_with_and_without_ksr() {
    every_byte(Format::Text);
}

// ---------------------------------------------------------------------------
// Structural changes.

fn failures(r: &Report) -> Vec<&'static str> {
    r.failures().iter().map(|c| c.id).collect()
}

/// Writes the changed model to a file of its format, reads it back and
/// checks it with the KSR: it must be refused; returns the failed check ids.
fn refused_with_ksr(c: &Case, skr: &Skr, what: &str) -> Vec<&'static str> {
    let text = kskit::formats::write_skr(skr, c.format);
    let m = match kskit::formats::parse_skr_any(text.as_bytes()) {
        Ok(m) => m,
        Err(e) => panic!("{what}: the changed {:?} SKR does not even parse: {e}", c.format),
    };
    let r = check_skr(&m, &c.ta, Some(&c.ksr), c.now);
    assert!(!r.passed(), "{what} ({:?}) was accepted with the KSR:\n{}", c.format, r.to_text());
    failures(&r)
}

fn both_formats(f: impl Fn(&Case)) {
    f(&case(Format::Iana));
    f(&case(Format::Text));
}

#[test]
fn a_duplicated_bundle_is_refused_with_the_ksr() {
    both_formats(|c| {
        for i in 0..c.skr.bundles.len() {
            let mut s = c.skr.clone();
            let b = s.bundles[i].clone();
            s.bundles.insert(i + 1, b.clone());
            let f = refused_with_ksr(c, &s, &format!("bundle #{} repeated after itself", i + 1));
            assert!(f.contains(&"SKR-BUNDLE-UNIQUE"), "{f:?}");
            let mut s = c.skr.clone();
            s.bundles.push(b);
            refused_with_ksr(c, &s, &format!("bundle #{} repeated at the end", i + 1));
        }
    });
}

#[test]
fn a_dropped_bundle_is_refused_with_the_ksr_refresh_bundles_included() {
    // 60 days: the text SKR has several 7-day refresh bundles in each
    // 10-day period, so the refresh step shows in the file.
    for c in [case_of(Format::Iana, 60), case_of(Format::Text, 60)] {
        let c = &c;
        let last_requested = c.ksr.bundles.iter().map(|k| k.inception).max().unwrap();
        let mut refresh_drops = 0;
        for i in 0..c.skr.bundles.len() {
            // A text SKR's signature-refresh bundles after the last requested
            // inception extend coverage past what the KSR asks for; dropping
            // one of those is not a loss the KSR can show.
            let start = c.skr.bundles[i].inception;
            let requested = c.ksr.bundles.iter().any(|k| k.inception == start);
            if !requested && start > last_requested {
                continue;
            }
            let mut s = c.skr.clone();
            s.bundles.remove(i);
            let f = refused_with_ksr(c, &s, &format!("bundle #{} dropped", i + 1));
            if !requested {
                // Between requested inceptions, the neighbours' signatures may
                // still cover the time: the refresh step shows the loss.
                assert!(f.contains(&"SKR-MATCHES-KSR"), "{f:?}");
                refresh_drops += 1;
            }
        }
        if c.format == Format::Text {
            assert!(refresh_drops > 0, "the text case has no refresh bundle between requested inceptions");
        }
    }
}

#[test]
fn reordered_bundles_are_refused_with_the_ksr() {
    both_formats(|c| {
        let mut s = c.skr.clone();
        s.bundles.swap(0, 1);
        let f = refused_with_ksr(c, &s, "bundles #1 and #2 swapped");
        assert!(f.contains(&"SKR-BUNDLE-UNIQUE"), "{f:?}");
        let mut s = c.skr.clone();
        s.bundles.reverse();
        refused_with_ksr(c, &s, "bundles reversed");
    });
}

/// Another SKR signed by the same KSK: a KSR for the same period with
/// another ZSK (`z3` instead of `z1`), and one for the next period.
fn other_skrs(c: &Case, ksk: &SoftKey, z1: &SoftKey, z2: &SoftKey) -> Vec<Skr> {
    let from = c.skr.bundles[0].inception;
    let z3 = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    vec![make(c.format, from, 20, ksk, &z3, z2).1, make(c.format, from + Duration::days(20), 20, ksk, z1, z2).1]
}

#[test]
fn a_bundle_spliced_from_another_skr_by_the_same_ksk_is_refused_with_the_ksr() {
    for format in [Format::Iana, Format::Text] {
        let from = parse_instant("2030-01-01T00:00:00Z").unwrap();
        let (ksk, z1, z2) = keys();
        let (ksr, skr) = make(format, from, 20, &ksk, &z1, &z2);
        let domain = skr.domain.clone();
        let c = Case {
            format,
            text: kskit::formats::write_skr(&skr, format),
            ksr,
            skr,
            ta: TrustAnchor { ds: vec![ksk.dnskey().ds(&domain, DigestType::Sha256)], dnskeys: vec![], domain },
            now: from + Duration::days(1),
        };
        assert!(check_skr(&c.skr, &c.ta, Some(&c.ksr), c.now).passed());
        for (o, other) in other_skrs(&c, &ksk, &z1, &z2).iter().enumerate() {
            for (j, foreign) in other.bundles.iter().enumerate() {
                // Added as it is, at its place in time.
                let mut s = c.skr.clone();
                s.bundles.push(foreign.clone());
                s.bundles.sort_by_key(|b| b.inception);
                refused_with_ksr(&c, &s, &format!("bundle #{} of other SKR {o} added", j + 1));
                // Relabelled with the id of each requested bundle (ids are
                // not signed), added after it or in its place.
                for i in 0..c.skr.bundles.len() {
                    let mut f = foreign.clone();
                    f.id = c.skr.bundles[i].id.clone();
                    let mut s = c.skr.clone();
                    s.bundles.insert(i + 1, f.clone());
                    refused_with_ksr(&c, &s, &format!("bundle #{} of other SKR {o} added as #{}", j + 1, i + 1));
                    let mut s = c.skr.clone();
                    s.bundles[i] = f;
                    if s.bundles[i].inception == c.skr.bundles[i].inception && s.bundles[i].keys == c.skr.bundles[i].keys {
                        continue; // The same content signed twice: not a splice.
                    }
                    refused_with_ksr(&c, &s, &format!("bundle #{} of other SKR {o} in place of #{}", j + 1, i + 1));
                }
            }
        }
    }
}

#[test]
fn a_repeated_signature_is_refused_with_the_ksr() {
    both_formats(|c| {
        for i in 0..c.skr.bundles.len() {
            for j in 0..c.skr.bundles[i].signatures.len() {
                let mut s = c.skr.clone();
                let g = s.bundles[i].signatures[j].clone();
                s.bundles[i].signatures.push(g);
                let f = refused_with_ksr(c, &s, &format!("signature {j} of bundle #{} repeated", i + 1));
                assert!(f.contains(&"SKR-NO-DUPLICATES"), "{f:?}");
            }
        }
    });
}

#[test]
fn a_dropped_signature_is_refused_with_the_ksr() {
    both_formats(|c| {
        for i in 0..c.skr.bundles.len() {
            for j in 0..c.skr.bundles[i].signatures.len() {
                let mut s = c.skr.clone();
                let g = s.bundles[i].signatures.remove(j);
                let f = refused_with_ksr(c, &s, &format!("signature {j} ({}) of bundle #{} dropped", rtype::name(g.rrsig.type_covered), i + 1));
                let want = if g.rrsig.type_covered == rtype::DNSKEY { "SKR-DNSKEY-SIGNED" } else { "SKR-CDS-CONSISTENT" };
                assert!(f.contains(&want), "{f:?}");
            }
        }
    });
}

// ---------------------------------------------------------------------------
// The real root SKRs of 2017 (../shared/fixtures/root).

fn root_fixture(name: &str) -> Option<String> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/root").join(name);
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => panic!("fixture {} missing in CI", p.display()),
        Err(_) => {
            eprintln!("note: fixture {} not found; skipping", p.display());
            None
        }
    }
}

/// The `<ResponseBundle …>…</ResponseBundle>` elements of an SKR file, in order.
fn xml_bundles(xml: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(a) = rest.find("<ResponseBundle ") {
        let Some(e) = rest[a..].find("</ResponseBundle>") else { break };
        let end = a + e + "</ResponseBundle>".len();
        out.push(&rest[a..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn a_root_2017_q1_bundle_spliced_into_the_q2_skr_is_refused_with_the_q2_ksr() {
    let (Some(q1), Some(q2), Some(ksr)) =
        (root_fixture("skr-root-2017-q1-0.xml"), root_fixture("skr-root-2017-q2-0.xml"), root_fixture("ksr-root-2017-q2-0.xml"))
    else {
        return;
    };
    let ksr = kskit::formats::parse_ksr_any(ksr.as_bytes()).unwrap();
    let ta = parse_trust_anchor(". IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5").unwrap();
    let now = parse_instant("2017-04-05T00:00:00Z").unwrap();
    let check = |xml: &str| check_skr(&kskit::formats::parse_skr_any(xml.as_bytes()).unwrap(), &ta, Some(&ksr), now);
    assert!(check(&q2).passed(), "the real Q2 SKR passes with its KSR");
    let (b1, b2) = (xml_bundles(&q1), xml_bundles(&q2));
    assert_eq!((b1.len(), b2.len()), (9, 9));
    let first_id = |b: &str| b.split('"').nth(1).unwrap_or_default().to_string();
    let spliced_as_is = q2.replacen(b2[0], &format!("{}\n{}", b1[8], b2[0]), 1);
    // The last Q1 bundle (signed by the same KSK-2010), given the id of the
    // first Q2 bundle, which it overlaps in time: bundle ids are not signed.
    let relabelled = b1[8].replacen(&first_id(b1[8]), &first_id(b2[0]), 1);
    let spliced_relabelled = q2.replacen(b2[0], &format!("{}\n{relabelled}", b2[0]), 1);
    for (what, xml) in [("as it is", spliced_as_is), ("with a Q2 bundle id", spliced_relabelled)] {
        let r = check(&xml);
        assert!(!r.passed(), "a Q1 bundle spliced into the Q2 SKR {what} was accepted:\n{}", r.to_text());
        assert!(r.get("SKR-MATCHES-KSR").is_some_and(|c| c.is_failure()), "{}", r.to_text());
    }
}
