//! Reading and writing both KSR/SKR formats: the real root-zone IANA XML
//! files and the Knot DNS and BIND 9.20 text-format pairs from
//! ../shared/fixtures, round trips, and malformed inputs. Fixture tests print a note and return when
//! ../shared is absent.

use std::path::PathBuf;

use kskit::dnssec::record::rtype;
use kskit::formats::{self, iana, text, FormatError, MAX_INPUT};
use kskit::ksr::{AlgorithmParams, Format, TextLayout};
use quick_xml::events::Event;
use quick_xml::Reader;
use time::Duration;

fn fixture(rel: &str) -> Option<String> {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "shared", "fixtures", rel].iter().collect();
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) => {
            eprintln!("note: {} is absent; skipping this fixture test", p.display());
            None
        }
    }
}

fn instant(s: &str) -> time::OffsetDateTime {
    kskit::timeutil::parse_instant(s).unwrap()
}

// --- IANA XML ---------------------------------------------------------------

/// One element: (path, sorted attributes, trimmed text).
type Flat = (String, Vec<(String, String)>, String);

/// Every element as (path, sorted attributes, trimmed text), sorted. Times
/// are normalised: a trailing `+00:00` or `Z` offset is dropped (UTC either way).
fn flatten(xml: &str) -> Vec<Flat> {
    let mut r = Reader::from_str(xml);
    let mut stack: Vec<Flat> = Vec::new();
    let mut out = Vec::new();
    let attrs_of = |e: &quick_xml::events::BytesStart| {
        let mut a: Vec<(String, String)> = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
            })
            .collect();
        a.sort();
        a
    };
    let norm = |t: &str| {
        let t = t.trim();
        let is_time = t.len() >= 19 && t.as_bytes().get(10) == Some(&b'T') && t.as_bytes().get(4) == Some(&b'-');
        if is_time {
            t.trim_end_matches("+00:00").trim_end_matches('Z').to_string()
        } else {
            t.to_string()
        }
    };
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) => {
                let path = format!("{}/{}", stack.last().map(|s| s.0.as_str()).unwrap_or(""), String::from_utf8_lossy(e.name().as_ref()));
                stack.push((path, attrs_of(&e), String::new()));
            }
            Event::Empty(e) => {
                let path = format!("{}/{}", stack.last().map(|s| s.0.as_str()).unwrap_or(""), String::from_utf8_lossy(e.name().as_ref()));
                out.push((path, attrs_of(&e), String::new()));
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.unescape().unwrap());
                }
            }
            Event::End(_) => {
                let (p, a, t) = stack.pop().unwrap();
                out.push((p, a, norm(&t)));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out.sort();
    out
}

#[test]
fn root_ksr_parses_with_expected_content() {
    let Some(x) = fixture("root/ksr-root-2017-q2-0.xml") else { return };
    let k = iana::parse_ksr(&x).unwrap();
    assert_eq!(k.format, Format::Iana);
    assert_eq!(k.id, "23e34059-7725-46a8-a7d2-662d657aab2b");
    assert!(k.domain.is_root());
    assert_eq!(k.serial, Some(1));
    assert_eq!(k.bundles.len(), 9);
    let mut tags: Vec<u16> = k.bundles.iter().flat_map(|b| b.keys.iter().map(|k| k.key_tag)).collect();
    tags.sort();
    tags.dedup();
    // 14796 and 61045 roll; 15768 is pre-published in the last bundle.
    assert_eq!(tags, vec![14796, 15768, 61045]);
    assert_eq!(k.bundles.iter().map(|b| b.keys.len()).sum::<usize>(), 11);
    // The claimed key tags are the real ones.
    for b in &k.bundles {
        for key in &b.keys {
            assert_eq!(key.dnskey.key_tag(), key.key_tag);
            assert_eq!(key.ttl, 172800);
        }
        assert!(!b.signatures.is_empty());
        assert!(b.signatures.iter().all(|s| s.rrsig.type_covered == rtype::DNSKEY && s.rrsig.signer_name.is_root()));
    }
    let b0 = &k.bundles[0];
    assert_eq!(b0.id, "dc1bc68c-b1c1-46f8-817f-ec893549f2be");
    assert_eq!(b0.inception, instant("2017-04-01T00:00:00Z"));
    assert_eq!(b0.expiration, Some(instant("2017-04-22T00:00:00Z")));
    assert_eq!(b0.keys.len(), 2);
    assert_eq!(b0.signatures[0].rrsig.inception, instant("2017-01-01T00:15:04Z").unix_timestamp() as u32);
    let p = k.request_policy.as_ref().unwrap();
    assert_eq!(p.publish_safety, Duration::days(10));
    assert_eq!(p.retire_safety, Duration::days(10));
    assert_eq!(p.max_signature_validity, Duration::days(21));
    assert_eq!(p.min_signature_validity, Duration::days(21));
    assert_eq!(p.max_validity_overlap, Duration::days(12));
    assert_eq!(p.min_validity_overlap, Duration::days(9));
    assert_eq!(p.algorithms.len(), 1);
    assert_eq!(p.algorithms[0].algorithm, 8);
    assert_eq!(p.algorithms[0].params, AlgorithmParams::Rsa { size: 2048, exponent: 65537 });
    // The generic entry point agrees.
    assert_eq!(formats::detect(x.as_bytes()).unwrap(), Format::Iana);
    assert_eq!(formats::parse_ksr_any(x.as_bytes()).unwrap(), k);
}

#[test]
fn root_skrs_parse_with_expected_content() {
    for name in ["root/skr-root-2017-q1-0.xml", "root/skr-root-2017-q2-0.xml"] {
        let Some(x) = fixture(name) else { return };
        let s = iana::parse_skr(&x).unwrap();
        assert_eq!(s.bundles.len(), 9, "{name}");
        let ksk = s.ksk_policy.as_ref().unwrap();
        assert_eq!(ksk.publish_safety, Duration::ZERO);
        assert_eq!(ksk.retire_safety, Duration::days(28));
        assert_eq!(ksk.max_validity_overlap, Duration::days(16));
        assert_eq!(s.zsk_policy.as_ref().unwrap().max_validity_overlap, Duration::days(12));
        for b in &s.bundles {
            assert!(b.keys.iter().any(|k| k.key_tag == 19036 && k.dnskey.flags == 257 && k.key_identifier == "Kjqmt7v"));
            assert!(b.signatures.iter().all(|g| g.rrsig.key_tag == 19036 && g.key_identifier.as_deref() == Some("Kjqmt7v")));
            assert!(b.cds.is_empty() && b.cdnskey.is_empty());
        }
        assert_eq!(formats::parse_skr_any(x.as_bytes()).unwrap(), s);
    }
    let Some(q2) = fixture("root/skr-root-2017-q2-0.xml") else { return };
    let s = iana::parse_skr(&q2).unwrap();
    assert_eq!(s.id, "23e34059-7725-46a8-a7d2-662d657aab2b");
    assert_eq!(s.bundles[0].keys.len(), 3);
}

#[test]
fn root_files_round_trip_element_for_element() {
    let Some(k) = fixture("root/ksr-root-2017-q2-0.xml") else { return };
    let model = iana::parse_ksr(&k).unwrap();
    let out = iana::write_ksr(&model);
    assert_eq!(iana::parse_ksr(&out).unwrap(), model);
    assert_eq!(flatten(&out), flatten(&k));
    for name in ["root/skr-root-2017-q1-0.xml", "root/skr-root-2017-q2-0.xml"] {
        let Some(x) = fixture(name) else { return };
        let model = iana::parse_skr(&x).unwrap();
        let out = iana::write_skr(&model);
        assert_eq!(iana::parse_skr(&out).unwrap(), model);
        assert_eq!(flatten(&out), flatten(&x), "{name}");
    }
}

fn ksr_err(x: &str) -> String {
    match iana::parse_ksr(x) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("malformed input was accepted"),
    }
}

#[test]
fn malformed_iana_inputs_give_clear_errors() {
    let Some(x) = fixture("root/ksr-root-2017-q2-0.xml") else { return };
    // Truncated.
    let e = ksr_err(&x[..x.len() / 2]);
    assert!(e.contains("truncated") || e.contains("malformed"), "{e}");
    // DOCTYPE with an entity.
    let dtd = format!("<!DOCTYPE KSR [<!ENTITY boom \"x\">]>\n{}", x.replacen("serial=\"1\"", "serial=\"&boom;\"", 1));
    assert!(ksr_err(&dtd).contains("DOCTYPE"));
    // Unknown element, named.
    let unk = x.replacen("<TTL>172800</TTL>", "<TTL>172800</TTL><Colour>blue</Colour>", 1);
    let e = ksr_err(&unk);
    assert!(e.contains("unknown element <Colour>") && e.contains("Key"), "{e}");
    // Missing Inception: error names the element and the bundle id.
    let no_inc = x.replacen("<Inception>2017-04-01T00:00:00</Inception>", "", 1);
    let e = ksr_err(&no_inc);
    assert!(e.contains("<Inception>") && e.contains("dc1bc68c-b1c1-46f8-817f-ec893549f2be"), "{e}");
    // Bad base64.
    let bad64 = x.replacen("<PublicKey>AwEAAZLs", "<PublicKey>!!AwEAAZLs", 1);
    let e = ksr_err(&bad64);
    assert!(e.contains("base64") && e.contains("PublicKey"), "{e}");
    // Bad date.
    let bad_date = x.replacen("<Expiration>2017-04-22T00:00:00</Expiration>", "<Expiration>2017-13-45T00:00:00</Expiration>", 1);
    let e = ksr_err(&bad_date);
    assert!(e.contains("bad date-time") && e.contains("Expiration"), "{e}");
    // Oversize input is refused before parsing.
    let mut big = x.clone().into_bytes();
    big.resize(MAX_INPUT + 1, b' ');
    assert!(matches!(formats::parse_ksr_any(&big), Err(FormatError::TooLarge { .. })));
    // An SKR is not a KSR.
    if let Some(s) = fixture("root/skr-root-2017-q2-0.xml") {
        assert!(ksr_err(&s).contains("not a KSR"));
    }
}

// --- Knot/BIND text format ----------------------------------------------------

/// `t` with its last line (the footer) replaced by `footer_start` and
/// kskit's generator: what kskit writes for a file it read, since the
/// footer names kskit, never the input's generator.
fn with_kskit_footer(t: &str, footer_start: &str) -> String {
    let body = t.trim_end_matches('\n');
    let (head, last) = body.rsplit_once('\n').unwrap();
    assert!(last.starts_with(footer_start), "{last}");
    let at = last[footer_start.len()..].rsplit_once(" by ").unwrap().0;
    format!("{head}\n{footer_start}{at} by kskit {}\n", env!("CARGO_PKG_VERSION"))
}

#[test]
fn knot_ksr_parses_and_rewrites_in_knots_layout_line_by_line() {
    let Some(t) = fixture("knot/example.com.ksr") else { return };
    let k = text::parse_ksr(&t).unwrap();
    assert_eq!(k.format, Format::Text);
    assert_eq!(kskit::dnssec::name::to_presentation(&k.domain), "example.com.");
    assert_eq!(k.bundles.len(), 5);
    let mut tags: Vec<u16> = k.bundles.iter().flat_map(|b| b.keys.iter().map(|k| k.key_tag)).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags, vec![8897, 14954]);
    let counts: Vec<usize> = k.bundles.iter().map(|b| b.keys.len()).collect();
    assert_eq!(counts, vec![1, 2, 2, 1, 1]);
    assert_eq!(k.bundles[0].id, "1795427119");
    assert_eq!(k.bundles[0].inception, instant("2026-11-23T09:45:19Z"));
    assert!(k.bundles.iter().all(|b| b.expiration.is_none() && b.signatures.is_empty()));
    assert!(k.bundles.iter().flat_map(|b| &b.keys).all(|key| key.key_identifier == key.key_tag.to_string() && key.ttl == 3600));
    let (at, by) = k.generated.clone().unwrap();
    assert_eq!(at, instant("2026-11-23T09:45:19Z"));
    assert_eq!(by, "Knot DNS 3.2.6");
    assert_eq!(k.layout, TextLayout::Knot);
    let expected = with_kskit_footer(&t, ";; KeySigningRequest 1.0 generated at ");
    assert_eq!(text::write_ksr(&k), expected);
    assert_eq!(formats::detect(t.as_bytes()).unwrap(), Format::Text);
    assert_eq!(formats::parse_ksr_any(t.as_bytes()).unwrap(), k);
    assert_eq!(formats::write_ksr(&k, Format::Text), expected);
}

#[test]
fn knot_skr_parses_and_rewrites_in_knots_layout_line_by_line() {
    let Some(t) = fixture("knot/example.com.skr") else { return };
    let s = text::parse_skr(&t).unwrap();
    assert_eq!(s.bundles.len(), 13);
    for b in &s.bundles {
        assert!(b.keys.iter().any(|k| k.key_tag == 541 && k.dnskey.flags == 257));
        assert_eq!(b.cdnskey.len(), 1);
        assert_eq!(b.cdnskey[0].key_tag(), 541);
        assert_eq!(b.cds.len(), 1);
        assert!(b.cds[0].matches(&s.domain, &b.cdnskey[0]));
        assert_eq!((b.cds_ttl, b.cdnskey_ttl), (0, 0));
        let mut covered: Vec<u16> = b.signatures.iter().map(|g| g.rrsig.type_covered).collect();
        covered.sort();
        assert_eq!(covered, vec![rtype::DNSKEY, rtype::CDS, rtype::CDNSKEY]);
    }
    assert_eq!(s.layout, TextLayout::Knot);
    assert_eq!(text::write_skr(&s), with_kskit_footer(&t, ";; SignedKeyResponse 1.0 generated at "));
    assert_eq!(formats::parse_skr_any(t.as_bytes()).unwrap(), s);
    // A text SKR converts to IANA XML (with the CDS/CDNSKEY extension) and back.
    let mut via = s.clone();
    // The IANA format requires an id of the safe syntax (docs/formats.md,
    // "Unsigned fields"); the text format has none.
    via.id = "knot-example-com".into();
    for b in &mut via.bundles {
        b.expiration = Some(b.inception + Duration::days(14));
    }
    let xml = iana::write_skr(&via);
    let back = iana::parse_skr(&xml).unwrap();
    assert_eq!(back.bundles.len(), 13);
    for (a, b) in back.bundles.iter().zip(&via.bundles) {
        assert_eq!((&a.keys, &a.cds, &a.cdnskey), (&b.keys, &b.cds, &b.cdnskey));
        assert_eq!(a.signatures.iter().map(|g| &g.rrsig).collect::<Vec<_>>(), b.signatures.iter().map(|g| &g.rrsig).collect::<Vec<_>>());
    }
}

/// BIND 9.20's own files (`dnssec-ksr request` and `sign`): read as BIND's
/// layout, and written again by kskit line for line as BIND wrote them
/// (headers, tab-aligned columns, 56-character words, KSK first, each RRset
/// followed by its RRSIGs, empty lines between KSR bundles), the footer
/// naming kskit instead of BIND's version.
#[test]
fn bind_ksr_and_skr_parse_and_rewrite_in_binds_layout_line_by_line() {
    let (Some(kt), Some(st)) = (fixture("bind/example.com.ksr"), fixture("bind/example.com.skr")) else { return };
    let k = text::parse_ksr(&kt).unwrap();
    assert_eq!(k.layout, TextLayout::Bind);
    assert_eq!(k.bundles.len(), 3);
    assert_eq!(k.bundles[0].inception, instant("2026-12-01T11:00:51Z"));
    assert_eq!(k.generated.as_ref().unwrap().1, "9.20.28-dev");
    assert_eq!(text::write_ksr(&k), with_kskit_footer(&kt, ";; KeySigningRequest 1.0 generated at "));
    let s = text::parse_skr(&st).unwrap();
    assert_eq!(s.layout, TextLayout::Bind);
    assert_eq!(s.bundles.len(), 10);
    let out = text::write_skr(&s);
    assert_eq!(out, with_kskit_footer(&st, ";; SignedKeyResponse 1.0 generated at "));
    // The same SKR in Knot's layout: Unix seconds, and it reads back the same.
    let knot = kskit::skr::Skr { layout: TextLayout::Knot, ..s.clone() };
    let kt2 = text::write_skr(&knot);
    assert!(kt2.starts_with(&format!(";; SignedKeyResponse 1.0 {} (2026-12-01T11:00:51Z) =========\n", instant("2026-12-01T11:00:51Z").unix_timestamp())), "{kt2}");
    let back = text::parse_skr(&kt2).unwrap();
    assert_eq!(back.layout, TextLayout::Knot);
    assert_eq!(back.bundles, s.bundles);
}

#[test]
fn malformed_text_inputs_give_clear_errors() {
    let Some(t) = fixture("knot/example.com.ksr") else { return };
    // Truncated: the footer is missing.
    let cut = &t[..t.len() / 2];
    let e = text::parse_ksr(cut).unwrap_err().to_string();
    assert!(e.contains("truncated") || e.starts_with("line"), "{e}");
    // Bad base64 in a key.
    let bad = t.replacen("QL/aFSekva8E3ReonZhFSj4br0KRzVF8BB3bXWcg", "QL/aFSekva8E3ReonZhFSj4br0KRzVF8BB3bXWc!", 1);
    assert!(matches!(text::parse_ksr(&bad), Err(FormatError::Text { .. })));
    // Bad bundle time.
    let bad_time = t.replacen("1795427119", "17954x7119", 1);
    assert!(text::parse_ksr(&bad_time).unwrap_err().to_string().contains("bad bundle time"));
    // An SKR is not a KSR.
    if let Some(s) = fixture("knot/example.com.skr") {
        assert!(text::parse_ksr(&s).unwrap_err().to_string().contains("not a KSR"));
    }
}
