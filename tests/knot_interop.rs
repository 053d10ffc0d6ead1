//! Interoperability with Knot DNS's offline-KSK tooling (keymgr, text
//! format KSR/SKR), both directions:
//!
//! - Knot's ZSK side writes a KSR, kskit verifies and signs it, and Knot's
//!   ZSK side validates and imports kskit's SKR.
//! - kskit's ZSK side writes a KSR, Knot's KSK side signs it, and kskit
//!   verifies (against Knot's KSK as trust anchor) and imports the SKR.
//! - A tampered kskit SKR is rejected by kskit (SKR-SIG-VERIFY) and by Knot.
//!
//! Knot 3.2's `keymgr validate-skr` reports a bad signature on stderr
//! ("invalid SignedKeyResponse for ...") but still prints OK and exits 0
//! (src/utils/keymgr/offline_ksk.c, skr_validate_header: "ctx->ret
//! untouched"); the tests therefore judge validate-skr by its stderr, and
//! `import-skr` (which does fail with exit 1) by its exit code.
//!
//! Without keymgr these tests fail under CI=true and skip otherwise. See
//! docs/interop.md.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Asserts Knot's `validate-skr` found nothing wrong: exit 0, "OK", and no
/// error on stderr (it exits 0 even for bad signatures; see the module doc).
#[track_caller]
fn assert_knot_validates(knot: &Knot, skr: &Path) {
    let o = knot.zsk(&["validate-skr", s(skr)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.trim().is_empty() && String::from_utf8_lossy(&o.stdout).contains("OK"), "keymgr validate-skr rejected {}:\n{}", skr.display(), text(&o));
}

/// The Knot KSR → kskit SKR half, in `t`: Knot's ZSK side pregenerates ZSKs
/// and writes a KSR; a kskit KSK side (software ECDSAP256SHA256 KSK) verifies
/// and signs it with `--cds publish`. Returns the KSR, the SKR, the kskit
/// directory, the trust anchor file (the KSK's DS) and the KSK's key tag.
fn knot_ksr_signed_by_kskit(t: &Path, knot: &Knot) -> (PathBuf, PathBuf, PathBuf, PathBuf, u16) {
    ok(knot.zsk(&["pregenerate", "+90d"]), "keymgr pregenerate");
    let ksr = t.join("knot.ksr");
    let out = ok(knot.zsk(&["generate-ksr", "+0", "+60d"]), "keymgr generate-ksr");
    assert!(out.starts_with(";; KeySigningRequest 1.0 "), "unexpected KSR:\n{out}");
    std::fs::write(&ksr, &out).unwrap();

    let kdir = kskit_init(t, "kskit-ksk", "example.com.");
    let tag = kskit_generate_ksk(&kdir, "ECDSAP256SHA256");
    let ta = t.join("kskit-ksk.ds");
    kskit_write_ds(&kdir, &tag.to_string(), &ta);

    let o = run_kskit(&kdir, &["ksr", "verify", s(&ksr)]);
    let out = ok(o, "kskit ksr verify (Knot KSR)");
    assert!(out.contains("KSR accepted"), "{out}");

    let skr = t.join("kskit.skr");
    let o = run_kskit(&kdir, &["--json", "ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--cds", "publish"]);
    let out = ok(o, "kskit ksr sign (Knot KSR)");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signed"], true, "{out}");
    assert_eq!(v["skr_layout"], "knot", "a Knot KSR is answered in Knot's layout: {out}");
    (ksr, skr, kdir, ta, tag)
}

#[test]
fn knot_ksr_kskit_signs_knot_validates_and_imports() {
    if !Knot::available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let knot = Knot::new();
    let (ksr, skr, kdir, ta, tag) = knot_ksr_signed_by_kskit(t, &knot);

    // The SKR is in the KSR's (text) format, with kskit's KSK and CDS/CDNSKEY.
    let body = std::fs::read_to_string(&skr).unwrap();
    assert!(body.starts_with(";; SignedKeyResponse 1.0 "), "not a text SKR:\n{body}");
    // Knot's layout: bundle times in Unix seconds, the only form Knot before 3.4 reads.
    let first = body.lines().next().unwrap_or_default();
    assert!(first.split(' ').nth(3).is_some_and(|x| x.len() == 10 && x.bytes().all(|b| b.is_ascii_digit())) && first.ends_with(" ========="), "{first}");
    assert!(body.contains(&format!("; KSK, ECDSAP256SHA256 (256b), id = {tag}")), "{body}");
    assert!(body.contains(" CDS ") && body.contains(" CDNSKEY "), "no CDS/CDNSKEY with --cds publish");

    // kskit's own ZSK-side checks pass too (trust anchor: the KSK's DS).
    ok(run_kskit(&kdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]), "kskit skr verify");

    // Knot's ZSK side: validate and import. Knot takes the KSK from the SKR
    // itself (no DNSKEY import needed); the bundle's own DNSKEYs check the RRSIGs.
    assert_knot_validates(&knot, &skr);
    ok(knot.zsk(&["import-skr", s(&skr)]), "keymgr import-skr");

    // The import really stored kskit's records: show-offline prints them.
    let shown = ok(knot.zsk(&["show-offline", "+0"]), "keymgr show-offline");
    assert!(shown.contains(&format!("id = {tag}")), "kskit's KSK {tag} not among Knot's offline records:\n{shown}");
    let rrsig_header = format!(" {tag} example.com.");
    assert!(shown.lines().any(|l| l.contains(&rrsig_header)), "no RRSIG by KSK {tag} among Knot's offline records:\n{shown}");
}

#[test]
fn kskit_ksr_knot_signs_kskit_verifies_and_imports() {
    if !Knot::available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let knot = Knot::new();

    // kskit ZSK side.
    let zdir = kskit_init(t, "kskit-zsk", "example.com.");
    ok(run_kskit(&zdir, &["zsk", "pregenerate", "--until", "+90d"]), "kskit zsk pregenerate");
    let ksr = t.join("kskit.ksr");
    ok(run_kskit(&zdir, &["ksr", "generate", "--from", "now", "--until", "+90d", "--format", "text", "-o", s(&ksr)]), "kskit ksr generate");

    // Knot KSK side: a KSK, then sign-ksr (the SKR goes to stdout).
    ok(knot.ksk(&["generate", "ksk=yes"]), "keymgr generate ksk=yes");
    let o = knot.ksk(&["sign-ksr", s(&ksr)]);
    assert!(o.status.success() && o.stderr.is_empty(), "keymgr sign-ksr failed on kskit's KSR:\n{}", text(&o));
    let skr = t.join("knot.skr");
    std::fs::write(&skr, &o.stdout).unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).matches(";; SignedKeyResponse 1.0 ").count() >= 2, "no bundles in Knot's SKR");

    // Trust anchors as Knot prints them: `ds` (SHA-256 and SHA-384, no
    // class, lower-case hex) and `dnskey`.
    let ds = ok(knot.ksk(&["ds"]), "keymgr ds");
    assert!(ds.contains(" DS "), "{ds}");
    let ta_ds = t.join("knot-ksk.ds");
    std::fs::write(&ta_ds, &ds).unwrap();
    let dnskey = ok(knot.ksk(&["dnskey"]), "keymgr dnskey");
    let ta_dnskey = t.join("knot-ksk.dnskey");
    std::fs::write(&ta_dnskey, &dnskey).unwrap();
    let knot_tag: u16 = ds.split_whitespace().nth(2).and_then(|x| x.parse().ok()).expect("key tag in keymgr ds output");

    for ta in [&ta_ds, &ta_dnskey] {
        let o = run_kskit(&zdir, &["--json", "skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(ta)]);
        let out = ok(o, "kskit skr verify (Knot SKR)");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["passed"], true, "{out}");
    }
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta_ds)]);
    let out = ok(o, "kskit skr verify");
    assert!(out.contains(&format!("key tags {knot_tag}")), "Knot's KSK {knot_tag} not named as the trust-anchored signer:\n{out}");

    let o = run_kskit(&zdir, &["--json", "skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta_ds)]);
    let out = ok(o, "kskit skr import (Knot SKR)");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], true, "{out}");
    let imported = zdir.join(v["imported"].as_str().expect("imported path"));
    assert!(imported.is_file(), "{} not stored", imported.display());
    assert!(zdir.join("keystore/skr/example.com/timeline.json").is_file());

    // A trust anchor that is not Knot's KSK: the same SKR is rejected.
    let other = kskit_init(t, "other-ksk", "example.com.");
    let other_tag = kskit_generate_ksk(&other, "ECDSAP256SHA256");
    let wrong_ta = t.join("wrong.ds");
    kskit_write_ds(&other, &other_tag.to_string(), &wrong_ta);
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&wrong_ta)]);
    assert_eq!(o.status.code(), Some(1), "a wrong trust anchor was accepted:\n{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-TRUST-ANCHOR"), "{}", text(&o));
}

#[test]
fn tampered_kskit_skr_is_rejected_by_kskit_and_knot() {
    if !Knot::available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let knot = Knot::new();
    let (ksr, skr, kdir, ta, _tag) = knot_ksr_signed_by_kskit(t, &knot);
    let bad = t.join("tampered.skr");
    let changed = tamper_text_rrsig(&skr, &bad);
    assert_ne!(std::fs::read(&skr).unwrap(), std::fs::read(&bad).unwrap());

    // The untampered SKR passes both (so the rejections below are about the change).
    ok(run_kskit(&kdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]), "kskit skr verify (original)");
    assert_knot_validates(&knot, &skr);

    // kskit: exit 1, SKR-SIG-VERIFY named.
    let o = run_kskit(&kdir, &["skr", "verify", s(&bad), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]);
    assert_eq!(o.status.code(), Some(1), "tampered SKR ({changed:?}) not rejected with exit 1:\n{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-SIG-VERIFY"), "{}", text(&o));
    let o = run_kskit(&kdir, &["--json", "skr", "verify", s(&bad), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(v.to_string().contains("SKR-SIG-VERIFY"));
    // ... and `skr import` stores nothing.
    let o = run_kskit(&kdir, &["skr", "import", s(&bad), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!kdir.join("keystore/skr/example.com/timeline.json").exists());

    // Knot: validate-skr names the bad bundle on stderr (it still exits 0 in
    // Knot 3.2), import-skr refuses with a non-zero exit.
    let o = knot.zsk(&["validate-skr", s(&bad)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid SignedKeyResponse"), "keymgr validate-skr did not report the tampered SKR:\n{}", text(&o));
    let o = knot.zsk(&["import-skr", s(&bad)]);
    assert!(!o.status.success(), "keymgr import-skr accepted the tampered SKR:\n{}", text(&o));
}

/// The zone kskit's SKR is for, as an unsigned zone file.
const ZONE_FILE: &str = "$TTL 3600
@ SOA ns1 hostmaster 1 3600 900 604800 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
";

/// A `trust-anchors` clause for delv (`-a FILE`) from a DS record line.
fn delv_anchor(ds_line: &str) -> String {
    let f: Vec<&str> = ds_line.split_whitespace().collect();
    let i = f.iter().position(|x| *x == "DS").expect("a DS record");
    let digest: String = f[i + 4..].concat();
    format!("trust-anchors {{\n  {} static-ds {} {} {} \"{digest}\";\n}};\n", f[0], f[i + 1], f[i + 2], f[i + 3])
}

/// The end of the chain: Knot's server signs the zone with its ZSKs and the
/// DNSKEY/CDS/CDNSKEY signatures imported from kskit's SKR and serves it on
/// 127.0.0.1; `delv`, with kskit's KSK as the only trust anchor, validates the
/// SOA and the DNSKEY RRset, and fails with another key as anchor; and an
/// independent zone validator (ldns-verify-zone) accepts the signed zone
/// file with kskit's DS, and rejects it with another key's DS.
#[test]
fn knotd_serves_the_zone_with_kskit_skr_and_delv_and_ldns_validate_it() {
    if !Knot::available()
        || !require_tools("knotd, delv and ldns-verify-zone", "knot, bind9-dnsutils, ldnsutils", &["knotd", "delv", "ldns-verify-zone"], &[])
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let knot = Knot::new();
    let (_ksr, skr, _kdir, ta, tag) = knot_ksr_signed_by_kskit(t, &knot);
    ok(knot.zsk(&["import-skr", s(&skr)]), "keymgr import-skr");

    // The zone storage of the ZSK side's configuration is DIR/zsk.
    let zone_file = knot.dir.path().join("zsk/example.com.zone");
    std::fs::write(&zone_file, ZONE_FILE).unwrap();
    let rundir = knot.dir.path().join("run");
    std::fs::create_dir(&rundir).unwrap();
    let conf = knot.dir.path().join("knotd.conf");
    let zsk_conf = std::fs::read_to_string(&knot.zsk_conf).unwrap();
    let port = free_port();
    std::fs::write(&conf, format!("server:\n    rundir: {}\n    listen: 127.0.0.1@{port}\n{zsk_conf}", s(&rundir))).unwrap();
    let log = knot.dir.path().join("knotd.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let child = std::process::Command::new("knotd")
        .arg("-c")
        .arg(&conf)
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("start knotd");
    let mut knotd = Knotd(child);
    // Wait for knotd to write the signed zone (a guard against hanging, not a timing check).
    let mut done = false;
    for _ in 0..600 {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        if l.contains("zone file updated") {
            done = true;
            break;
        }
        if let Ok(Some(status)) = knotd.0.try_wait() {
            panic!("knotd exited ({status}):\n{l}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let l = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(done, "knotd did not write the signed zone:\n{l}");

    // delv against knotd on 127.0.0.1 with kskit's KSK as the only trust anchor.
    let anchors = t.join("anchors.conf");
    std::fs::write(&anchors, delv_anchor(&std::fs::read_to_string(&ta).unwrap())).unwrap();
    let delv = |anchor: &Path, rtype: &str| {
        output(
            std::process::Command::new("delv")
                .arg("@127.0.0.1")
                .args(["-p", &port.to_string(), "-a"])
                .arg(anchor)
                .args(["+root=example.com.", "+tcp", "example.com.", rtype]),
        )
    };
    for rtype in ["SOA", "DNSKEY"] {
        let o = delv(&anchors, rtype);
        let out = text(&o);
        assert!(o.status.success() && out.contains("; fully validated"), "delv did not validate {rtype} with kskit's KSK:\n{out}");
        assert!(out.contains(&format!("IN\t{rtype}")) || out.contains(&format!("IN {rtype}")), "no {rtype} in delv's answer:\n{out}");
    }
    // With another key as the only anchor, delv must not validate.
    let other = kskit_init(t, "other-ksk", "example.com.");
    let other_tag = kskit_generate_ksk(&other, "ECDSAP256SHA256");
    let wrong = t.join("other.ds");
    kskit_write_ds(&other, &other_tag.to_string(), &wrong);
    let wrong_anchors = t.join("wrong-anchors.conf");
    std::fs::write(&wrong_anchors, delv_anchor(&std::fs::read_to_string(&wrong).unwrap())).unwrap();
    let o = delv(&wrong_anchors, "SOA");
    assert!(!text(&o).contains("; fully validated"), "delv validated with an unrelated trust anchor:\n{}", text(&o));
    drop(knotd);
    assert!(l.contains("using offline records"), "knotd did not use the imported SKR:\n{l}");

    let signed = std::fs::read_to_string(&zone_file).unwrap();
    let by_kskit = |rtype: &str| signed.lines().any(|l| l.contains(&format!("RRSIG\t{rtype} 13 2 ")) && l.contains(&format!(" {tag} example.com. ")));
    assert!(by_kskit("DNSKEY") && by_kskit("CDS") && by_kskit("CDNSKEY"), "the zone lacks kskit's KSK signatures:\n{signed}");

    let o = output(std::process::Command::new("ldns-verify-zone").arg("-k").arg(&ta).arg(&zone_file));
    assert!(o.status.success(), "ldns-verify-zone rejected the Knot-signed zone with kskit's DS:\n{}", text(&o));
    let o = output(std::process::Command::new("ldns-verify-zone").arg("-k").arg(&wrong).arg(&zone_file));
    assert!(!o.status.success(), "ldns-verify-zone accepted the zone with an unrelated DS:\n{}", text(&o));
}
