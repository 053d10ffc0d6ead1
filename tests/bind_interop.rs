//! Interoperability with BIND 9.20's offline-KSK tooling (`dnssec-ksr`,
//! `rndc skr -import`), proven against files BIND 9.20 itself wrote: the
//! pair in ../shared/fixtures/bind/ (see ../shared/README.md). No BIND 9.20
//! package exists for this platform (Debian 12 ships 9.18, which has neither
//! `dnssec-ksr` nor `rndc skr`), so BIND cannot run here; what kskit writes
//! for BIND is compared line by line with what BIND writes, and the reader
//! rules are those of BIND's lib/dns/skr.c (`dns_skr_read`: a header time of
//! exactly 14 digits, `dns_time32_fromtext`). The fixture's signatures expire
//! in early 2027, so every check runs with `--now` in December 2026.
//!
//! Under CI=true a missing fixture fails the test; elsewhere it is skipped
//! with a note.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const NOW: &str = "2026-12-02T00:00:00Z";

/// The BIND fixture directory, or `None` (skip) outside CI when absent.
fn bind_fixtures() -> Option<PathBuf> {
    let d: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "shared", "fixtures", "bind"].iter().collect();
    if d.join("example.com.skr").is_file() {
        return Some(d);
    }
    assert!(!in_ci(), "CI=true but the BIND 9.20 fixtures are missing from {}", d.display());
    eprintln!("note: {} is absent; skipping this test", d.display());
    None
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// `kskit --json ARGS` in `dir`, expecting exit 0; the JSON printed.
#[track_caller]
fn json_ok(dir: &Path, args: &[&str], what: &str) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ok(run_kskit(dir, &all), what);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{out}"))
}

/// The ctime(3) form BIND writes (`Tue Dec  1 11:00:51 2026`) of a
/// `YYYYMMDDHHMMSS` time.
fn ctime_of(t14: &str) -> String {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let t = time::PrimitiveDateTime::parse(t14, &fmt).unwrap_or_else(|e| panic!("{t14}: {e}"));
    let out = time::macros::format_description!("[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]");
    t.format(&out).unwrap()
}

/// One line of a BIND-layout SKR, reduced to its structure.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `;; SignedKeyResponse 1.0 YYYYMMDDHHMMSS (ctime)`: the 14-digit time.
    Header(String),
    Empty,
    /// A record: its type (`RRSIG DNSKEY` for signatures) and its shape.
    Record { rtype: String, shape: String },
    /// `;; SignedKeyResponse 1.0 generated at <ctime> by <generator>`.
    Footer(String),
}

/// Classifies every line of a BIND-layout SKR, asserting BIND's forms:
/// headers with a 14-digit time and its ctime, records as owner, TTL, IN,
/// type and RDATA in BIND's tab columns (`example.com.` + two tabs, then
/// one tab each), binary fields in words of at most 56 characters (all but
/// the last exactly 56). The shape keeps field kinds and word lengths, not
/// values: digits become `N`, 14-digit times `T`, base64/hex words `B<len>`.
fn structure(skr: &str, who: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (i, l) in skr.lines().enumerate() {
        let n = i + 1;
        if l.is_empty() {
            out.push(Line::Empty);
        } else if let Some(rest) = l.strip_prefix(";; SignedKeyResponse 1.0 generated at ") {
            let (at, by) = rest.rsplit_once(" by ").unwrap_or_else(|| panic!("{who} line {n}: footer without ` by `: {l}"));
            assert!(time::PrimitiveDateTime::parse(at, time::macros::format_description!("[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]")).is_ok(), "{who} line {n}: footer time is not ctime: {l}");
            out.push(Line::Footer(by.to_string()));
        } else if let Some(rest) = l.strip_prefix(";; SignedKeyResponse 1.0 ") {
            let (t, human) = rest.split_once(' ').unwrap_or_else(|| panic!("{who} line {n}: header without ctime: {l}"));
            assert!(t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()), "{who} line {n}: header time is not YYYYMMDDHHMMSS: {l}");
            assert_eq!(human, format!("({})", ctime_of(t)), "{who} line {n}: header ctime");
            out.push(Line::Header(t.to_string()));
        } else {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() == 6 && f[0] == "example.com." && f[1].is_empty() && f[3] == "IN", "{who} line {n}: not BIND's record columns: {l:?}");
            assert!(f[2].bytes().all(|b| b.is_ascii_digit()), "{who} line {n}: TTL {:?}", f[2]);
            let words: Vec<&str> = f[5].split(' ').collect();
            let fixed = match f[4] {
                "DNSKEY" | "CDNSKEY" | "CDS" => 3,
                "RRSIG" => 8,
                other => panic!("{who} line {n}: record type {other} in an SKR"),
            };
            assert!(words.len() > fixed, "{who} line {n}: short RDATA: {l}");
            let binary = &words[fixed..];
            let (last, full) = binary.split_last().unwrap();
            assert!(full.iter().all(|w| w.len() == 56) && !last.is_empty() && last.len() <= 56, "{who} line {n}: binary field not in 56-character words: {l}");
            let shape: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(j, w)| {
                    if j >= fixed {
                        format!("B{}", w.len())
                    } else if w.len() == 14 && w.bytes().all(|b| b.is_ascii_digit()) {
                        "T".into()
                    } else if w.bytes().all(|b| b.is_ascii_digit()) {
                        // Keep the flags, protocol and algorithm of keys; they say KSK or ZSK.
                        if matches!(f[4], "DNSKEY" | "CDNSKEY") { w.to_string() } else { "N".into() }
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            let rtype = if f[4] == "RRSIG" { format!("RRSIG {}", words[0]) } else { f[4].to_string() };
            out.push(Line::Record { rtype, shape: format!("{}\t{}", f[4], shape.join(" ")) });
        }
    }
    out
}

/// The record types of each bundle, with runs of one type collapsed
/// (`DNSKEY+ RRSIG DNSKEY ...`): the order BIND writes.
fn bundle_orders(lines: &[Line]) -> Vec<String> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in lines {
        match l {
            Line::Header(_) => out.push(Vec::new()),
            Line::Record { rtype, .. } => {
                let cur = out.last_mut().expect("record before the first header");
                if cur.last().map(|x| x.trim_end_matches('+')) == Some(rtype.as_str()) {
                    let x = cur.pop().unwrap();
                    cur.push(format!("{}+", x.trim_end_matches('+')));
                } else {
                    cur.push(rtype.clone());
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(|v| v.join(", ")).collect()
}

/// A kskit KSK side for example.com. in `t` with a new software
/// ECDSAP256SHA256 KSK; returns the directory, the key tag and its DS file.
fn kskit_ksk_side(t: &Path) -> (PathBuf, u16, PathBuf) {
    let kdir = kskit_init(t, "kskit-ksk", "example.com.");
    let tag = kskit_generate_ksk(&kdir, "ECDSAP256SHA256");
    let ta = t.join("kskit-ksk.ds");
    kskit_write_ds(&kdir, &tag.to_string(), &ta);
    (kdir, tag, ta)
}

#[test]
fn bind_skr_is_verified_and_imported_by_kskit_and_a_tampered_one_is_refused() {
    let Some(b) = bind_fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (skr, ksr, ds) = (b.join("example.com.skr"), b.join("example.com.ksr"), b.join("ksk.ds"));
    let zdir = kskit_init(t, "zsk-side", "example.com.");
    let v = json_ok(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ds), "--now", NOW], "kskit skr verify (BIND SKR)");
    assert_eq!((v["passed"].as_bool(), v["bundles"].as_u64()), (Some(true), Some(10)), "{v}");
    // Without --external-zsks a kskit ZSK side refuses BIND's SKR: its ZSKs
    // are not this keystore's scheduled keys (SKR-ZSKS-SCHEDULED).
    let o = run_kskit(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ds), "--now", NOW]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-ZSKS-SCHEDULED"), "{}", text(&o));
    let v = json_ok(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--external-zsks", "--trust-anchor", s(&ds), "--now", NOW], "kskit skr import (BIND SKR)");
    assert_eq!(v["passed"], true, "{v}");
    let stored = zdir.join(v["imported"].as_str().expect("the path of the imported SKR"));
    assert_eq!(read(&stored), read(&skr), "the imported SKR is BIND's file as it was");

    // BIND's named serves whatever signature an SKR carries; kskit does not
    // let a corrupted one through: one base64 character of an RRSIG DNSKEY.
    let body = read(&skr);
    let line = body.lines().find(|l| l.contains("\tRRSIG\tDNSKEY ")).unwrap();
    let sig_at = line.rfind(' ').unwrap() + 1;
    let mut bad_line = line.to_string();
    let c = if &line[sig_at..=sig_at] == "A" { "B" } else { "A" };
    bad_line.replace_range(sig_at..=sig_at, c);
    let bad = t.join("tampered.skr");
    std::fs::write(&bad, body.replacen(line, &bad_line, 1)).unwrap();
    for cmd in ["verify", "import"] {
        let mut args = vec!["skr", cmd, s(&bad), "--ksr", s(&ksr), "--trust-anchor", s(&ds), "--now", NOW];
        if cmd == "import" {
            args.push("--external-zsks");
        }
        let o = run_kskit(&zdir, &args);
        assert_eq!(o.status.code(), Some(1), "kskit skr {cmd} accepted a corrupted RRSIG:\n{}", text(&o));
    }
    // The import in force is still BIND's good SKR.
    let v = json_ok(&zdir, &["export", "--to", "bind", "--zone", "example.com.", "--at", NOW, "-o", s(&t.join("check.skr"))], "kskit export");
    assert_eq!(v["to"], "bind");
}

#[test]
fn export_of_binds_skr_reproduces_binds_layout_line_by_line_and_knots_on_request() {
    let Some(b) = bind_fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (skr, ksr, ds) = (b.join("example.com.skr"), b.join("example.com.ksr"), b.join("ksk.ds"));
    let zdir = kskit_init(t, "zsk-side", "example.com.");
    json_ok(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--external-zsks", "--trust-anchor", s(&ds), "--now", NOW], "kskit skr import (BIND SKR)");
    let (to_bind, to_knot) = (t.join("export.bind.skr"), t.join("export.knot.skr"));
    ok(run_kskit(&zdir, &["export", "--to", "bind", "--at", NOW, "-o", s(&to_bind)]), "kskit export --to bind");
    ok(run_kskit(&zdir, &["export", "--to", "knot", "--at", NOW, "-o", s(&to_knot)]), "kskit export --to knot");
    // Every line as BIND wrote it, but the footer, which names kskit.
    let (theirs, ours) = (read(&skr), read(&to_bind));
    let (tl, ol): (Vec<&str>, Vec<&str>) = (theirs.lines().collect(), ours.lines().collect());
    assert_eq!(tl.len(), ol.len(), "{ours}");
    assert_eq!(tl[..tl.len() - 1], ol[..ol.len() - 1]);
    let footer = ol[ol.len() - 1];
    assert!(footer.starts_with(";; SignedKeyResponse 1.0 generated at ") && footer.ends_with(&format!(" by kskit {}", env!("CARGO_PKG_VERSION"))), "{footer}");
    assert_eq!(structure(&ours, "export --to bind").last(), Some(&Line::Footer(format!("kskit {}", env!("CARGO_PKG_VERSION")))));
    // Knot's layout: Unix seconds in every header (what Knot before 3.4 needs).
    let knot = read(&to_knot);
    let headers: Vec<&str> = knot.lines().filter(|l| l.starts_with(";; SignedKeyResponse 1.0 ") && !l.contains(" generated at ")).collect();
    assert_eq!(headers.len(), 10);
    assert!(headers.iter().all(|h| h.split(' ').nth(3).is_some_and(|x| x.len() == 10 && x.bytes().all(|b| b.is_ascii_digit()))), "{knot}");
    // Both exports verify against BIND's KSK, with BIND's KSR.
    for f in [&to_bind, &to_knot] {
        let v = json_ok(&zdir, &["skr", "verify", s(f), "--ksr", s(&ksr), "--trust-anchor", s(&ds), "--now", NOW], "kskit skr verify (export)");
        assert_eq!(v["passed"], true, "{v}");
    }
}

#[test]
fn bind_ksr_signed_by_kskit_follows_binds_skr_layout_line_by_line() {
    let Some(b) = bind_fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ksr = b.join("example.com.ksr");
    let (kdir, tag, ta) = kskit_ksk_side(t);
    let out = t.join("kskit.skr");
    let v = json_ok(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&out), "--yes", "--cds", "publish", "--now", NOW], "kskit ksr sign (BIND KSR)");
    assert_eq!(v["signed"], true, "{v}");
    assert_eq!(v["skr_layout"], "bind", "the layout chosen is reported: {v}");
    let ours_text = read(&out);
    let theirs_text = read(&b.join("example.com.skr"));
    let ours = structure(&ours_text, "kskit's SKR");
    let theirs = structure(&theirs_text, "BIND's SKR");

    // Footer: BIND's form, naming kskit.
    assert_eq!(theirs.last(), Some(&Line::Footer("9.20.28-dev".into())));
    assert_eq!(ours.last(), Some(&Line::Footer(format!("kskit {}", env!("CARGO_PKG_VERSION")))));
    assert_eq!(ours.iter().filter(|l| matches!(l, Line::Footer(_))).count(), 1);

    // Headers: each KSR bundle is answered from its own start, as BIND does,
    // and an empty line stands before each KSR bundle after the first.
    let starts = |lines: &[Line]| -> Vec<String> {
        lines.windows(2).filter_map(|w| match w {
            [Line::Empty, Line::Header(h)] => Some(h.clone()),
            _ => None,
        }).collect()
    };
    assert_eq!(starts(&theirs), ["20261231085551", "20270110120551"]);
    assert_eq!(starts(&ours), starts(&theirs));
    assert!(matches!(ours.first(), Some(Line::Header(h)) if h == "20261201110051"), "{ours:?}");
    assert_eq!(ours.iter().filter(|l| **l == Line::Empty).count(), 2);

    // Record order: every kskit bundle is BIND's full bundle (KSK first,
    // each RRset followed by its RRSIGs); BIND's first bundle lacks CDS and
    // CDNSKEY only because its policy publishes them a day later.
    let full = "DNSKEY+, RRSIG DNSKEY, CDNSKEY, RRSIG CDNSKEY, CDS, RRSIG CDS";
    let theirs_orders = bundle_orders(&theirs);
    assert_eq!(theirs_orders[0], "DNSKEY+, RRSIG DNSKEY");
    assert!(theirs_orders[1..].iter().all(|o| o == full), "{theirs_orders:?}");
    assert!(bundle_orders(&ours).iter().all(|o| o == full), "{:?}", bundle_orders(&ours));
    for text in [&ours_text, &theirs_text] {
        for bundle in text.split(";; SignedKeyResponse 1.0 ").skip(1) {
            let flags: Vec<&str> = bundle.lines().filter(|l| l.contains("\tDNSKEY\t")).map(|l| l.split('\t').nth(5).unwrap().split(' ').next().unwrap()).collect();
            assert!(flags.is_empty() || (flags[0] == "257" && flags[1..].iter().all(|f| *f == "256")), "KSK not first: {bundle}");
        }
    }

    // Columns and RDATA: every kskit record line has the shape of one of
    // BIND's (same algorithm, so the same word lengths).
    let shapes = |lines: &[Line]| -> std::collections::BTreeSet<String> {
        lines.iter().filter_map(|l| match l {
            Line::Record { shape, .. } => Some(shape.clone()),
            _ => None,
        }).collect()
    };
    let (ours_shapes, theirs_shapes) = (shapes(&ours), shapes(&theirs));
    assert!(ours_shapes.is_subset(&theirs_shapes), "kskit record shapes not in BIND's file: {:?}\nBIND's: {theirs_shapes:?}", ours_shapes.difference(&theirs_shapes).collect::<Vec<_>>());
    assert_eq!(ours_shapes.len(), theirs_shapes.len(), "{ours_shapes:?} vs {theirs_shapes:?}");

    // kskit reads it back as BIND's layout, and the ZSK side's checks pass
    // with the new KSK's DS and BIND's KSR.
    let back = kskit::formats::text::parse_skr(&ours_text).unwrap();
    assert_eq!(back.layout, kskit::ksr::TextLayout::Bind);
    let v = json_ok(&kdir, &["skr", "verify", s(&out), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", NOW], "kskit skr verify (kskit's SKR for BIND)");
    assert_eq!(v["passed"], true, "{v}");
}

#[test]
fn skr_layout_flag_overrides_the_guess_and_sign_batch_answers_each_ksr_in_its_layout() {
    let Some(b) = bind_fixtures() else { return };
    let knot_ksr: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "shared", "fixtures", "knot", "example.com.ksr"].iter().collect();
    assert!(knot_ksr.is_file(), "the Knot fixture is missing beside the BIND one");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ksr = b.join("example.com.ksr");
    let (kdir, tag, ta) = kskit_ksk_side(t);
    let tag = tag.to_string();

    // --skr-layout knot: BIND's KSR answered in Knot's layout.
    let out = t.join("as-knot.skr");
    let o = run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag, "-o", s(&out), "--yes", "--skr-layout", "knot", "--now", NOW]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    ok(o, "kskit ksr sign --skr-layout knot");
    assert!(err.contains("SKR layout: knot (--skr-layout)"), "{err}");
    let body = read(&out);
    assert!(body.starts_with(";; SignedKeyResponse 1.0 1796122851 (2026-12-01T11:00:51Z) ========="), "{body}");
    let v = json_ok(&kdir, &["skr", "verify", s(&out), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", NOW], "kskit skr verify");
    assert_eq!(v["passed"], true, "{v}");

    // sign-batch: the BIND KSR and the Knot KSR, each answered in its own layout.
    let inbox = t.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::copy(&ksr, inbox.join("a-bind.ksr")).unwrap();
    std::fs::copy(&knot_ksr, inbox.join("b-knot.ksr")).unwrap();
    let outdir = t.join("skrs");
    let v = json_ok(&kdir, &["ksr", "sign-batch", s(&inbox), "--ksk", &tag, "-o", s(&outdir), "--yes", "--now", "2026-12-01T12:00:00Z"], "kskit ksr sign-batch");
    assert_eq!(v["signed"], true, "{v}");
    assert_eq!(v["skr_layouts"], serde_json::json!(["bind", "knot"]), "{v}");
    let bind_out = read(&outdir.join("a-bind.skr"));
    assert!(bind_out.starts_with(";; SignedKeyResponse 1.0 20261201110051 (Tue Dec  1 11:00:51 2026)\n"), "{bind_out}");
    structure(&bind_out, "sign-batch's SKR for BIND");
    let knot_out = read(&outdir.join("b-knot.skr"));
    assert!(knot_out.starts_with(";; SignedKeyResponse 1.0 1795427119 (2026-11-23T09:45:19Z) =========\n"), "{knot_out}");
    assert_eq!(kskit::formats::text::parse_skr(&knot_out).unwrap().layout, kskit::ksr::TextLayout::Knot);
}

/// BIND's SKR cut at its bundle headers: the header-led sections in order,
/// and the footer line.
fn skr_sections(body: &str) -> (Vec<String>, String) {
    let mut sections: Vec<String> = Vec::new();
    let mut footer = String::new();
    for line in body.lines() {
        if line.starts_with(";; SignedKeyResponse 1.0 ") && line.contains(" generated at ") {
            footer = line.to_string();
        } else if line.starts_with(";; SignedKeyResponse 1.0 ") || sections.is_empty() {
            sections.push(format!("{line}\n"));
        } else if let Some(s) = sections.last_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    (sections, footer)
}

#[test]
fn a_signature_refresh_bundle_dropped_from_binds_skr_is_refused_with_binds_ksr() {
    let Some(b) = bind_fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (skr, ksr, ds) = (b.join("example.com.skr"), b.join("example.com.ksr"), b.join("ksk.ds"));
    let zdir = kskit_init(t, "zsk-side", "example.com.");
    let requested: Vec<String> = read(&ksr)
        .lines()
        .filter(|l| l.starts_with(";; KeySigningRequest 1.0 ") && !l.contains(" generated at "))
        .filter_map(|l| l.split(' ').nth(3).map(str::to_string))
        .collect();
    let (sections, footer) = skr_sections(&read(&skr));
    assert_eq!(sections.len(), 10, "BIND's fixture has ten bundles");
    let last_requested = sections.iter().rposition(|s| requested.iter().any(|r| s.split(' ').nth(3) == Some(r))).unwrap();
    let mut tried = 0;
    // Every refresh bundle before the last requested inception: its
    // neighbours' signatures (9 days apart, valid 14) still cover the time,
    // so only the refresh step shows the loss.
    for i in 1..last_requested {
        let start = sections[i].split(' ').nth(3).unwrap().to_string();
        if requested.contains(&start) {
            continue;
        }
        let mut kept = sections.clone();
        kept.remove(i);
        let cut = t.join(format!("dropped-{i}.skr"));
        std::fs::write(&cut, format!("{}{footer}\n", kept.concat())).unwrap();
        let o = run_kskit(&zdir, &["skr", "verify", s(&cut), "--ksr", s(&ksr), "--trust-anchor", s(&ds), "--now", NOW]);
        assert_eq!(o.status.code(), Some(1), "BIND's SKR without its refresh bundle {start} was accepted:\n{}", text(&o));
        assert!(text(&o).contains("FAIL SKR-MATCHES-KSR") && text(&o).contains("a refresh bundle is missing"), "{}", text(&o));
        tried += 1;
    }
    assert!(tried >= 3, "only {tried} refresh bundles tried");
}
