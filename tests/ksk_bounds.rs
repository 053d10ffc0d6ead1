//! Issue 14 points 4 and 5: the KSK side's own policy sets the bounds (a
//! KSR's request policy is only a claim), ZSK public keys are fully
//! validated, RFC 4035 §2.2 holds in every bundle, the ZSK side bounds a
//! text SKR's validity, and verification stays linear on KeyTrap-shaped
//! input (counted verification attempts, not time).

mod common;

use std::path::PathBuf;

use common::*;
use kskit::ksr::checks::check_ksr;
use kskit::ksr::ksk_policy::KskPolicy;
use kskit::timeutil::parse_instant;

fn root_fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/root").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// The root's 2017 Q2 KSR with every bundle's expiration moved to 90 days
/// after its inception and the request policy rewritten to claim it.
fn root_ksr_90_days() -> String {
    let xml = root_fixture("ksr-root-2017-q2-0.xml");
    let ksr = kskit::formats::iana::parse_ksr(&xml).unwrap();
    let mut out = xml.clone();
    for b in &ksr.bundles {
        // The file writes times without a zone designator: 2017-04-22T00:00:00.
        let iana = |t: time::OffsetDateTime| kskit::timeutil::format_rfc3339(t).trim_end_matches('Z').to_string();
        let exp = iana(b.expiration.unwrap());
        let new = iana(b.inception + time::Duration::days(90));
        out = out.replacen(&format!("<Expiration>{exp}</Expiration>"), &format!("<Expiration>{new}</Expiration>"), 1);
    }
    assert_ne!(out, xml, "no expiration rewritten");
    out = out.replace("<MaxSignatureValidity>P21D</MaxSignatureValidity>", "<MaxSignatureValidity>P90D</MaxSignatureValidity>");
    out = out.replace("<MinSignatureValidity>P21D</MinSignatureValidity>", "<MinSignatureValidity>P90D</MinSignatureValidity>");
    out = out.replace("<MaxValidityOverlap>P12D</MaxValidityOverlap>", "<MaxValidityOverlap>P81D</MaxValidityOverlap>");
    out = out.replace("<MinValidityOverlap>P9D</MinValidityOverlap>", "<MinValidityOverlap>P79D</MinValidityOverlap>");
    out
}

#[test]
fn root_ksr_rewritten_to_90_day_signatures_is_refused_by_the_ksk_sides_policy() {
    let ksr = kskit::formats::iana::parse_ksr(&root_ksr_90_days()).unwrap();
    let rp = ksr.request_policy.as_ref().unwrap();
    assert_eq!(rp.max_signature_validity, time::Duration::days(90), "the request policy claims 90 days");
    let now = parse_instant("2017-03-20T00:00:00Z").unwrap();
    for (name, policy) in [("root()", KskPolicy::root()), ("default", KskPolicy::default())] {
        let r = check_ksr(&ksr, &policy, None, now);
        let c = r.get("KSR-SIG-VALIDITY").unwrap();
        assert!(c.is_failure(), "{name}: a 90-day bundle passed KSR-SIG-VALIDITY:\n{r}");
        assert!(r.get("KSR-REQUEST-POLICY").unwrap().is_failure(), "{name}: the 90-day claim passed:\n{r}");
    }
    // The real KSR still passes with the root policy.
    let real = kskit::formats::iana::parse_ksr(&root_fixture("ksr-root-2017-q2-0.xml")).unwrap();
    let r = check_ksr(&real, &KskPolicy::root(), None, now);
    assert!(r.passed(), "{r}");
}

#[test]
fn example_com_ksk_side_refuses_a_root_ksr_and_a_90_day_ksr() {
    let t = tempfile::tempdir().unwrap();
    let d = kskit_init(t.path(), "ksk", "example.com.");
    let p = t.path().join("root.xml");
    std::fs::write(&p, root_fixture("ksr-root-2017-q2-0.xml")).unwrap();
    let o = run_kskit(&d, &["ksr", "verify", s(&p), "--now", "2017-03-20T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-DOMAIN"), "{}", text(&o));
    // A root KSK side (kskit.toml for "." with the root's RSA ZSKs) accepts
    // the real KSR but not the one rewritten to 90-day signatures.
    let r = kskit_init(t.path(), "root", ".");
    let cfg = r.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace(
        "zsk = { algorithm = \"ECDSAP256SHA256\", lifetime = \"90d\" }",
        "zsk = { algorithm = \"RSASHA256\", bits = 2048, lifetime = \"90d\" }",
    );
    let c = c.replace("publish_safety = \"1h\"", "publish_safety = \"10d\"").replace("retire_safety = \"1h\"", "retire_safety = \"10d\"");
    std::fs::write(&cfg, c.replace("bundle_interval = \"10d\"", "bundle_interval = \"9d\"")).unwrap();
    let o = run_kskit(&r, &["ksr", "verify", s(&p), "--now", "2017-03-20T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let bad = t.path().join("root-90d.xml");
    std::fs::write(&bad, root_ksr_90_days()).unwrap();
    let o = run_kskit(&r, &["ksr", "verify", s(&bad), "--now", "2017-03-20T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-SIG-VALIDITY") && text(&o).contains("FAIL KSR-REQUEST-POLICY"), "{}", text(&o));
}

/// A text KSR of one bundle holding `key` (presentation RDATA after "DNSKEY").
fn text_ksr(key: &str) -> kskit::ksr::Ksr {
    let body = format!(
        ";; KeySigningRequest 1.0 1893456000 (2030-01-01T00:00:00Z) =====\nexample.com. 3600 DNSKEY {key}\n;; KeySigningRequest 1.0 generated at 2029-12-01T00:00:00Z by test\n"
    );
    kskit::formats::parse_ksr_any(body.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

#[test]
fn ksr_key_params_refuses_off_curve_identity_zero_and_even_modulus_keys() {
    use data_encoding::BASE64;
    let mut off = BASE64.decode(b"GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==").unwrap();
    off[63] ^= 1;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut even = vec![3u8, 1, 0, 1, 0xC5];
    even.extend([0x55; 254]);
    even.push(0x56);
    let cases = [
        ("off-curve P-256", format!("256 3 13 {}", BASE64.encode(&off))),
        ("all-zero P-256", format!("256 3 13 {}", BASE64.encode(&[0u8; 64]))),
        ("Ed25519 identity", format!("256 3 15 {}", BASE64.encode(&identity))),
        ("even RSA modulus", format!("256 3 8 {}", BASE64.encode(&even))),
    ];
    let policy = KskPolicy { accepted_domains: Some(vec!["example.com.".into()]), ..KskPolicy::default() };
    for (what, key) in cases {
        let ksr = text_ksr(&key);
        let r = check_ksr(&ksr, &policy, None, parse_instant("2029-12-30T00:00:00Z").unwrap());
        let c = r.get("KSR-KEY-PARAMS").unwrap();
        assert!(c.is_failure(), "{what} passed KSR-KEY-PARAMS:\n{r}");
    }
    // A valid key passes.
    let good = format!("256 3 13 {}", BASE64.encode(&BASE64.decode(b"GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==").unwrap()));
    let r = check_ksr(&text_ksr(&good), &policy, None, parse_instant("2029-12-30T00:00:00Z").unwrap());
    assert!(!r.get("KSR-KEY-PARAMS").unwrap().is_failure(), "{r}");
}

/// A kskit directory for example.net with a KSK of `ksk_alg` and ZSKs of
/// `zsk_alg` pre-generated for 2030 Q1.
fn side(t: &std::path::Path, ksk_alg: &str, zsk_alg: &str, extra: &str) -> PathBuf {
    let d = kskit_init(t, "z", "example.net.");
    let cfg = d.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace(
        "zsk = { algorithm = \"ECDSAP256SHA256\", lifetime = \"90d\" }",
        &format!("zsk = {{ algorithm = \"{zsk_alg}\", lifetime = \"90d\" }}"),
    );
    std::fs::write(&cfg, format!("{c}\n").replace("[policy]\n", &format!("[policy]\n{extra}\n"))).unwrap();
    ok(run_kskit(&d, &["key", "generate", "--role", "ksk", "--algorithm", ksk_alg]), "key generate");
    ok(run_kskit(&d, &["zsk", "pregenerate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z"]), "pregenerate");
    d
}

fn ksk_id(d: &std::path::Path) -> String {
    key_list(d).iter().find(|k| k["role"] == "ksk").unwrap()["id"].as_str().unwrap().to_string()
}

#[test]
fn ksr_sign_refuses_ed25519_zsks_with_an_ecdsa_only_ksk() {
    let t = tempfile::tempdir().unwrap();
    let d = side(t.path(), "ECDSAP256SHA256", "ED25519", "");
    let ksk = ksk_id(&d);
    for fmt in ["iana", "text"] {
        let ksr = d.join(format!("r.{fmt}"));
        let skr = d.join(format!("s.{fmt}"));
        ok(run_kskit(&d, &["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "--format", fmt, "-o", s(&ksr)]), "ksr generate");
        let o = run_kskit(&d, &["ksr", "sign", s(&ksr), "--ksk", &ksk, "-o", s(&skr), "--yes", "--now", "2029-12-20T00:00:00Z"]);
        assert_eq!(o.status.code(), Some(1), "{fmt}: {}", text(&o));
        assert!(text(&o).contains("KSR-DNSKEY-ALGORITHMS"), "{fmt}: {}", text(&o));
        assert!(!skr.exists(), "{fmt}: an SKR was written");
    }
}

#[test]
fn text_skr_takes_validity_from_kskit_toml_and_the_zsk_side_bounds_it() {
    let t = tempfile::tempdir().unwrap();
    let d = side(t.path(), "ECDSAP256SHA256", "ECDSAP256SHA256", "");
    let cfg = d.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap().replace("signature_validity = \"21d\"", "signature_validity = \"18d\"");
    std::fs::write(&cfg, c).unwrap();
    let ksk = ksk_id(&d);
    let ta = d.join("ta.ds");
    std::fs::write(&ta, ok(run_kskit(&d, &["key", "ds", &ksk]), "key ds")).unwrap();
    let ksr = d.join("r.txt");
    let skr = d.join("s.txt");
    ok(run_kskit(&d, &["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "--format", "text", "-o", s(&ksr)]), "ksr generate");
    ok(run_kskit(&d, &["ksr", "sign", s(&ksr), "--ksk", &ksk, "-o", s(&skr), "--yes", "--now", "2029-12-20T00:00:00Z"]), "ksr sign");
    let parsed = kskit::formats::parse_skr_any(&std::fs::read(&skr).unwrap()).unwrap();
    for b in &parsed.bundles {
        for sig in &b.signatures {
            let v = sig.rrsig.expiration.wrapping_sub(sig.rrsig.inception) as i64;
            assert_eq!(v, 18 * 86400 + 3600, "bundle {}: validity {v} s is not 18 days (+1h inception offset)", b.id);
        }
    }
    let now = "2030-01-02T00:00:00Z";
    ok(run_kskit(&d, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", now]), "skr verify");
    // A ZSK side whose own policy allows 14 days refuses it.
    let c = std::fs::read_to_string(&cfg).unwrap().replace("signature_validity = \"18d\"", "signature_validity = \"14d\"").replace("bundle_interval = \"10d\"", "bundle_interval = \"7d\"");
    std::fs::write(&cfg, c).unwrap();
    let o = run_kskit(&d, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", now]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-MAX-VALIDITY"), "{}", text(&o));
}

/// Verification attempts stay within a linear bound of the input's
/// signatures whatever its shape: KeyTrap-shaped KSRs and SKRs (many keys
/// sharing one tag, junk signatures) are refused after at most the per-input
/// budget of failed attempts, and a well-formed input costs one attempt per
/// signature per check pass.
#[test]
fn verification_attempts_stay_linear_on_keytrap_shaped_input() {
    use kskit::dnssec::verify::{verification_attempts, VerifyLimits};
    let zone = kskit::dnssec::parse_name("example.").unwrap();
    let limits = VerifyLimits::default();
    let policy = KskPolicy { accepted_domains: Some(vec!["example.".into()]), ..KskPolicy::default() };
    // (bundles, keys sharing one tag, junk signatures): over and within the limits.
    for (bundles, keys, sigs) in [(3, 200, 100), (20, 4, 64), (20, 2, 8), (1, 64, 64)] {
        let (ksr, skr) = kskit::bench::keytrap_inputs(&zone, bundles, keys, sigs);
        let n_sigs = (bundles * sigs) as u64;
        let at = ksr.bundles[0].inception;
        let before = verification_attempts();
        let r = check_ksr(&ksr, &policy, None, at);
        let ksr_attempts = verification_attempts() - before;
        assert!(r.get("KSR-POP").unwrap().is_failure(), "{r}");
        assert!(ksr_attempts <= n_sigs.min(limits.max_failed_total as u64), "KSR {bundles}x{keys}x{sigs}: {ksr_attempts} attempts");
        let ta = kskit::skr::checks::TrustAnchor { domain: zone.clone(), ds: vec![], dnskeys: vec![] };
        let before = verification_attempts();
        let r = kskit::skr::checks::check_skr(&skr, &ta, None, at);
        let skr_attempts = verification_attempts() - before;
        assert!(r.get("SKR-SIG-VERIFY").unwrap().is_failure(), "{r}");
        assert!(skr_attempts <= n_sigs.min(limits.max_failed_total as u64), "SKR {bundles}x{keys}x{sigs}: {skr_attempts} attempts");
    }
}

/// The same bound on the Knot/BIND text format: a KeyTrap-shaped SKR written
/// as text and read back by the text parser is refused within the budget of
/// failed verification attempts (the text KSR carries no signatures, so only
/// its keys are read and checked).
#[test]
fn verification_attempts_stay_linear_on_keytrap_shaped_text_input() {
    use kskit::dnssec::verify::{verification_attempts, VerifyLimits};
    use kskit::ksr::model::Format;
    let zone = kskit::dnssec::parse_name("example.").unwrap();
    let limits = VerifyLimits::default();
    let policy = KskPolicy { accepted_domains: Some(vec!["example.".into()]), ..KskPolicy::default() };
    for (bundles, keys, sigs) in [(3, 200, 100), (20, 4, 64), (1, 64, 64)] {
        let (mut ksr, mut skr) = kskit::bench::keytrap_inputs(&zone, bundles, keys, sigs);
        ksr.format = Format::Text;
        skr.format = Format::Text;
        let ksr = kskit::formats::parse_ksr_any(kskit::formats::write_ksr(&ksr, Format::Text).as_bytes()).expect("the text KSR reads back");
        let skr = kskit::formats::parse_skr_any(kskit::formats::write_skr(&skr, Format::Text).as_bytes()).expect("the text SKR reads back");
        assert_eq!((ksr.format, skr.format), (Format::Text, Format::Text));
        assert_eq!(skr.bundles.iter().map(|b| b.signatures.len()).sum::<usize>(), bundles * sigs, "every junk signature read back");
        let at = ksr.bundles[0].inception;
        let before = verification_attempts();
        let r = check_ksr(&ksr, &policy, None, at);
        assert!(!r.passed(), "{r}");
        assert_eq!(verification_attempts() - before, 0, "a text KSR has no signatures to try");
        let n_sigs = (bundles * sigs) as u64;
        let ta = kskit::skr::checks::TrustAnchor { domain: zone.clone(), ds: vec![], dnskeys: vec![] };
        let before = verification_attempts();
        let r = kskit::skr::checks::check_skr(&skr, &ta, None, at);
        let skr_attempts = verification_attempts() - before;
        assert!(r.get("SKR-SIG-VERIFY").unwrap().is_failure(), "{r}");
        assert!(skr_attempts <= n_sigs.min(limits.max_failed_total as u64), "text SKR {bundles}x{keys}x{sigs}: {skr_attempts} attempts");
    }
}

/// The KSK response policy an IANA SKR states is the KSK side's own (its
/// kskit.toml bounds: validity 10–21 days, overlap 0–11 days here), not an
/// echo of what the KSR's request policy claims (21 days, 11 days).
#[test]
fn iana_skr_states_the_ksk_sides_policy_not_the_ksrs_claims() {
    let t = tempfile::tempdir().unwrap();
    let d = side(t.path(), "ECDSAP256SHA256", "ECDSAP256SHA256", "");
    let ksk = ksk_id(&d);
    let (ksr, skr) = (d.join("r.xml"), d.join("s.xml"));
    ok(run_kskit(&d, &["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "--format", "iana", "-o", s(&ksr)]), "ksr generate");
    ok(run_kskit(&d, &["ksr", "sign", s(&ksr), "--ksk", &ksk, "-o", s(&skr), "--yes", "--now", "2029-12-20T00:00:00Z"]), "ksr sign");
    let request = kskit::formats::parse_ksr_any(&std::fs::read(&ksr).unwrap()).unwrap().request_policy.expect("a request policy");
    let response = kskit::formats::parse_skr_any(&std::fs::read(&skr).unwrap()).unwrap().ksk_policy.expect("a KSK response policy");
    let day = time::Duration::days(1);
    assert_eq!((request.min_signature_validity, request.min_validity_overlap), (21 * day, 11 * day), "what kskit's KSR claims");
    assert_eq!(
        (response.min_signature_validity, response.max_signature_validity, response.min_validity_overlap, response.max_validity_overlap),
        (10 * day, 21 * day, time::Duration::ZERO, 11 * day),
        "the KSK side's kskit.toml bounds"
    );
}
