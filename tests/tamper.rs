//! Tamper test: for a valid SKR in each format, single-byte mutations of the
//! file either fail to parse, fail verification, or verify to exactly the
//! same keys, signatures and validity. None is accepted with other content.

use kskit::backends::soft;
use kskit::backends::Signer;
use kskit::dnssec::{parse_name, Algorithm, DigestType};
use kskit::ksr::generate::{generate_ksr, GenerateParams, ZskInput};
use kskit::ksr::model::Format;
use kskit::skr::checks::{check_skr, TrustAnchor};
use kskit::skr::model::Skr;
use kskit::skr::sign::{sign_ksr, CdsMode, Ksk, SignOptions};
use kskit::timeutil::parse_instant;
use time::Duration;

/// What an SKR asserts: per bundle, the times, the RRsets and the signatures.
fn content(s: &Skr) -> String {
    let mut out = format!("{}\n", s.domain.to_lowercase());
    for b in &s.bundles {
        out.push_str(&format!("{} {:?}\n", b.inception.unix_timestamp(), b.expiration.map(|e| e.unix_timestamp())));
        for k in &b.keys {
            out.push_str(&format!("K {} {:?}\n", k.ttl, k.dnskey));
        }
        out.push_str(&format!("C {} {:?} {} {:?}\n", b.cds_ttl, b.cds, b.cdnskey_ttl, b.cdnskey));
        for sg in &b.signatures {
            out.push_str(&format!("S {} {:?}\n", sg.ttl, sg.rrsig));
        }
    }
    out
}

fn make_skr(format: Format) -> (String, TrustAnchor, time::OffsetDateTime) {
    let domain = parse_name("example.com.").unwrap();
    let from = parse_instant("2030-01-01T00:00:00Z").unwrap();
    let ksk = soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
    let z1 = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let z2 = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let zsks = vec![
        ZskInput { identifier: "z1".into(), dnskey: z1.dnskey().clone(), publish: from, remove: Some(from + Duration::days(40)), signer: Some(&z1) },
        ZskInput { identifier: "z2".into(), dnskey: z2.dnskey().clone(), publish: from + Duration::days(20), remove: None, signer: Some(&z2) },
    ];
    let params = GenerateParams {
        domain: domain.clone(),
        from,
        until: from + Duration::days(60),
        format,
        bundle_interval: Duration::days(10),
        signature_validity: Duration::days(21),
        dnskey_ttl: 3600,
        request_policy: None,
    };
    let ksr = generate_ksr(&params, &zsks).unwrap();
    let opts = SignOptions { cds: CdsMode::Publish(vec![DigestType::Sha256]), ..SignOptions::default() };
    let skr = sign_ksr(&ksr, &[Ksk { signer: &ksk, identifier: "ksk".into() }], &opts, &mut |_, _| {}).unwrap();
    let text = kskit::formats::write_skr(&skr, format);
    let ta = TrustAnchor { ds: vec![ksk.dnskey().ds(&domain, DigestType::Sha256)], dnskeys: vec![], domain };
    (text, ta, from + Duration::days(1))
}

fn tamper(format: Format) {
    let (text, ta, now) = make_skr(format);
    let base = kskit::formats::parse_skr_any(text.as_bytes()).expect("the valid SKR parses");
    let report = check_skr(&base, &ta, None, now);
    assert!(report.passed(), "{}", report.to_text());
    let want = content(&base);
    let bytes = text.into_bytes();
    // Deterministic sample: every byte position if the file is small, else
    // at least 6000 positions spread over the file; each flipped with a
    // varying non-zero mask.
    let n = bytes.len();
    let step = (n / 6000).max(1);
    let (mut parsed, mut accepted, mut tried) = (0usize, 0usize, 0usize);
    let mut seed: u32 = 0x2545_f491;
    for pos in (0..n).step_by(step) {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let mask = ((seed >> 24) as u8) | 1;
        let mut m = bytes.clone();
        m[pos] ^= mask;
        tried += 1;
        let Ok(skr) = kskit::formats::parse_skr_any(&m) else { continue };
        parsed += 1;
        if !check_skr(&skr, &ta, None, now).passed() {
            continue;
        }
        accepted += 1;
        assert_eq!(
            content(&skr),
            want,
            "mutation at byte {pos} (mask {mask:#04x}, {:?} -> {:?}) was accepted with different content",
            bytes[pos] as char,
            m[pos] as char
        );
    }
    eprintln!("{format:?}: {tried} mutations, {parsed} parsed, {accepted} accepted with identical content");
    assert!(tried >= 5000 || step == 1, "too few mutations tried: {tried}");
}

#[test]
fn every_single_byte_mutation_of_an_iana_skr_is_rejected_or_harmless() {
    tamper(Format::Iana);
}

#[test]
fn every_single_byte_mutation_of_a_text_skr_is_rejected_or_harmless() {
    tamper(Format::Text);
}
