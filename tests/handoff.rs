//! The handoff to the online signer, end to end through the `kskit` binary:
//! an SKR made by a whole offline cycle (software keys) is imported, then
//!
//! - `kskit sign-zone` signs a zone with a delegation, glue and a DS, and
//!   BIND's `dnssec-verify` and ldns's `ldns-verify-zone` accept it, for
//!   ECDSA and RSA ZSKs under an ECDSA or RSA KSK; a changed record is caught;
//! - at a time inside a later bundle (and after the ZSK rollover) the
//!   exported RRsets change and the zone signed then still validates;
//! - past the last bundle, export, sign-zone and check fail loudly;
//! - `kskit check` gives Nagios exit codes 0/1/2/3 at its thresholds;
//! - the Knot export is accepted by `keymgr import-skr`, and both text
//!   exports still verify against the KSK trust anchor.
//!
//! Without dnssec-verify, ldns-verify-zone or keymgr the tests that need
//! them fail under CI=true and skip otherwise. See docs/handoff.md.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@ IN SOA ns1 hostmaster 2026112301 7200 3600 1209600 300
@ NS ns1
@ NS ns2.other.net.
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
www AAAA 2001:db8::3
txt TXT \"hello world\" \"second string\"
*.wild A 192.0.2.4
a.b.c A 192.0.2.9
; a secure delegation with in-bailiwick glue
child NS ns.child
child NS ns2.other.net.
child DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.child A 192.0.2.53
ns.child AAAA 2001:db8::53
; an insecure delegation
insecure NS ns.elsewhere.net.
; stale DNSSEC records the signer must replace
@ DNSKEY 256 3 13 AAAA
www RRSIG A 13 3 3600 20300101000000 20200101000000 1 example.com. AAAA
";

fn validators_available() -> bool {
    require_tools("BIND's dnssec-verify and ldns-verify-zone", "bind9-utils and ldnsutils", &["dnssec-verify", "ldns-verify-zone"], &[])
}

/// `kskit demo --dir D`: a ZSK side (D/zsk-side) with an imported SKR made
/// by an ECDSAP256SHA256 KSK over ECDSAP256SHA256 ZSKs, for 90 days.
fn demo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let d = kskit_demo(tmp.path(), None);
    (tmp, d)
}

/// The demo's passphrase file (the demo makes a random one).
fn pass(d: &Path) -> String {
    s(&d.join("passphrase")).to_owned()
}

/// Both sides of a cycle with the given KSK and ZSK algorithms (ZSK set in
/// both sides' kskit.toml `[policy] zsk`: the KSK side's own policy is its
/// bound), up to a written KSR. Returns the ZSK side and KSK side
/// directories, the KSK's tag, the trust anchor and the KSR file.
fn prepare(t: &Path, ksk_alg: &str, zsk_policy: &str) -> (PathBuf, PathBuf, u16, PathBuf, PathBuf) {
    let zdir = kskit_init(t, "zsk-side", "example.com.");
    let kdir = kskit_init(t, "ksk-side", "example.com.");
    for dir in [&zdir, &kdir] {
        let conf = dir.join("kskit.toml");
        let text = std::fs::read_to_string(&conf).unwrap();
        let line = text.lines().find(|l| l.starts_with("zsk = ")).expect("zsk policy line").to_owned();
        std::fs::write(&conf, text.replace(&line, &format!("zsk = {zsk_policy}"))).unwrap();
    }
    let tag = kskit_generate_ksk(&kdir, ksk_alg);
    let ta = t.join("ta.ds");
    kskit_write_ds(&kdir, &tag.to_string(), &ta);
    ok(run_kskit(&zdir, &["zsk", "pregenerate", "--until", "+90d"]), "kskit zsk pregenerate");
    let ksr = t.join("req.xml");
    ok(run_kskit(&zdir, &["ksr", "generate", "--from", "now", "--until", "+90d", "-o", s(&ksr)]), "kskit ksr generate");
    (zdir, kdir, tag, ta, ksr)
}

/// A whole offline cycle scripted through the CLI with the given KSK and
/// ZSK algorithms. Returns the ZSK side directory and the trust anchor file.
fn cycle(t: &Path, ksk_alg: &str, zsk_policy: &str) -> (PathBuf, PathBuf) {
    let (zdir, kdir, tag, ta, ksr) = prepare(t, ksk_alg, zsk_policy);
    let skr = t.join("resp.xml");
    ok(run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes"]), "kskit ksr sign");
    ok(run_kskit(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]), "kskit skr import");
    (zdir, ta)
}

/// Signs ZONE in `zdir` at `at` (None: now) into `out`; extra args appended.
fn sign(zdir: &Path, at: Option<&str>, out: &Path, extra: &[&str]) -> std::process::Output {
    let zf = zdir.join("zone.db");
    std::fs::write(&zf, ZONE).unwrap();
    let mut args: Vec<&str> = vec!["sign-zone", s(&zf), "-o", s(out)];
    if let Some(a) = at {
        args.extend(["--at", a]);
    }
    args.extend(extra);
    run_kskit(zdir, &args)
}

#[track_caller]
fn assert_dnssec_verify(file: &Path) {
    let o = output(Command::new("dnssec-verify").args(["-o", "example.com", s(file)]));
    assert!(o.status.success() && text(&o).contains("Zone fully signed"), "dnssec-verify rejected {}:\n{}", file.display(), text(&o));
}

/// ldns-verify-zone, at `time` (YYYYMMDDhhmmss) when given.
fn ldns_verify(file: &Path, time: Option<&str>) -> std::process::Output {
    let mut c = Command::new("ldns-verify-zone");
    if let Some(t) = time {
        c.args(["-t", t]);
    }
    output(c.arg(s(file)))
}

#[track_caller]
fn assert_ldns_verify(file: &Path, time: Option<&str>) {
    let o = ldns_verify(file, time);
    assert!(o.status.success() && text(&o).contains("Zone is verified and complete"), "ldns-verify-zone rejected {}:\n{}", file.display(), text(&o));
}

/// Structural facts of the signed zone the validators do not insist on.
fn assert_zone_shape(signed: &str, zsk_alg: u8) {
    let lines: Vec<&str> = signed.lines().filter(|l| !l.starts_with(';')).collect();
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    // Glue is published but neither signed nor given an NSEC.
    assert!(has("ns.child.example.com. 3600 IN A 192.0.2.53"));
    assert!(!has("ns.child.example.com. 3600 IN RRSIG") && !has("ns.child.example.com. 300 IN NSEC"), "glue signed:\n{signed}");
    // The delegation: DS signed, NS not; NSEC bitmap NS DS RRSIG NSEC.
    assert!(has(&format!("child.example.com. 3600 IN RRSIG DS {zsk_alg} 3 ")), "{signed}");
    assert!(!has("child.example.com. 3600 IN RRSIG NS"), "{signed}");
    assert!(has("child.example.com. 300 IN NSEC insecure.example.com. NS DS RRSIG NSEC"), "{signed}");
    assert!(has("insecure.example.com. 300 IN NSEC mail.example.com. NS RRSIG NSEC"), "{signed}");
    // The stale input DNSKEY is gone; the SKR's KSK signature is there.
    assert!(!signed.contains("DNSKEY 256 3 13 AAAA"));
    assert!(lines.iter().filter(|l| l.contains(" IN RRSIG DNSKEY ")).count() >= 1);
}

#[test]
fn demo_skr_signed_zone_passes_bind_and_ldns_and_tampering_is_caught() {
    if !validators_available() {
        return;
    }
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    let out = d.join("signed.db");
    let o = sign(&zdir, None, &out, &["--passphrase-file", &pass(&d)]);
    let msg = ok(o, "kskit sign-zone");
    assert!(msg.contains("2 delegations, 1 glue names"), "{msg}");
    let signed = std::fs::read_to_string(&out).unwrap();
    assert_zone_shape(&signed, 13);
    assert_dnssec_verify(&out);
    assert_ldns_verify(&out, None);

    // One changed address: both validators object.
    let bad = d.join("tampered.db");
    std::fs::write(&bad, signed.replace("www.example.com. 3600 IN A 192.0.2.3", "www.example.com. 3600 IN A 192.0.2.99")).unwrap();
    assert_ne!(std::fs::read(&bad).unwrap(), signed.as_bytes());
    assert!(!output(Command::new("dnssec-verify").args(["-o", "example.com", s(&bad)])).status.success(), "dnssec-verify accepted a changed record");
    assert!(!ldns_verify(&bad, None).status.success(), "ldns-verify-zone accepted a changed record");
}

#[test]
fn rsa_zsk_under_rsa_ksk_validates() {
    if !validators_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (zdir, _) = cycle(tmp.path(), "RSASHA256", r#"{ algorithm = "RSASHA256", bits = 2048, lifetime = "90d" }"#);
    let out = tmp.path().join("signed.db");
    ok(sign(&zdir, None, &out, &["--threads", "3"]), "kskit sign-zone (RSA ZSK)");
    let signed = std::fs::read_to_string(&out).unwrap();
    assert_zone_shape(&signed, 8);
    assert!(signed.contains(" IN DNSKEY 256 3 8 ") && signed.contains(" IN DNSKEY 257 3 8 "), "{signed}");
    assert_dnssec_verify(&out);
    assert_ldns_verify(&out, None);
}

/// An RSA ZSK under an ECDSA KSK (or the reverse) breaks the algorithm
/// rule (RFC 4035 §2.2: each RRset signed with every algorithm of the
/// DNSKEY RRset; the offline KSK cannot sign the zone's data): the KSK side
/// refuses to sign such a KSR (KSR-DNSKEY-ALGORITHMS, exit 1) and writes no
/// SKR, so no zone BIND rejects can be made from it.
#[test]
fn mixed_ksk_and_zsk_algorithms_are_refused() {
    for (ksk, zsk) in [
        ("ECDSAP256SHA256", r#"{ algorithm = "RSASHA256", bits = 2048, lifetime = "90d" }"#),
        ("RSASHA256", r#"{ algorithm = "ECDSAP256SHA256", lifetime = "90d" }"#),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (_, kdir, tag, _, ksr) = prepare(tmp.path(), ksk, zsk);
        let skr = tmp.path().join("resp.xml");
        let o = run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("FAIL KSR-DNSKEY-ALGORITHMS") && text(&o).contains("RFC 4035 §2.2"), "{}", text(&o));
        assert!(!skr.exists());
    }
}

/// YYYYMMDDhhmmss of now + `days`.
fn stamp(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    let f = time::macros::format_description!("[year][month][day][hour][minute][second]");
    t.format(&f).unwrap()
}

fn rrsig_dnskey_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(" IN RRSIG DNSKEY ")).map(str::to_owned).collect()
}

fn dnskeys(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(" IN DNSKEY ")).map(str::to_owned).collect()
}

#[test]
fn later_bundles_change_the_rrsets_and_still_validate() {
    if !validators_available() {
        return;
    }
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    let export = |at: &str| ok(run_kskit(&zdir, &["export", "--to", "zonefile", "--at", at]), "kskit export --to zonefile");
    let now = export("now");
    let next = export("+11d");
    // Inside the second bundle: the same keys, new KSK signatures.
    assert_eq!(dnskeys(&now), dnskeys(&next));
    assert!(!rrsig_dnskey_lines(&now).is_empty());
    assert_ne!(rrsig_dnskey_lines(&now), rrsig_dnskey_lines(&next), "the bundle in force did not change after 10 days");
    // After the ZSK rollover (+90d): the successor ZSK is published too.
    let late = export("+95d");
    assert_eq!(dnskeys(&late).len(), dnskeys(&now).len() + 1, "{late}");

    // The zone signed inside the second bundle and after the rollover
    // validates at those times (ldns-verify-zone -t; dnssec-verify only
    // knows the real clock, for which these signatures are not yet valid).
    for (at, days) in [("+11d", 11), ("+95d", 95)] {
        let out = d.join(format!("signed{days}.db"));
        ok(sign(&zdir, Some(at), &out, &["--passphrase-file", &pass(&d)]), "kskit sign-zone --at");
        let signed = std::fs::read_to_string(&out).unwrap();
        let exported = export(at);
        assert_eq!(rrsig_dnskey_lines(&signed), rrsig_dnskey_lines(&exported));
        assert_ldns_verify(&out, Some(&stamp(days)));
        // ... and not now: proof that -t matters and the signatures are of that bundle.
        if days == 95 {
            assert!(!ldns_verify(&out, None).status.success(), "a zone signed for +95d validated today");
        }
    }
}

#[test]
fn past_the_last_bundle_export_sign_and_check_fail_loudly() {
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    for to in ["zonefile", "knot", "bind"] {
        let out = d.join(format!("late.{to}"));
        let o = run_kskit(&zdir, &["export", "--to", to, "--at", "+120d", "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("past the last bundle"), "{}", text(&o));
        assert!(!out.exists(), "a file was written for an expired SKR");
        assert!(o.stdout.is_empty());
    }
    let o = run_kskit(&zdir, &["export", "--to", "zonefile", "--at=-1d"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("before the first bundle"), "{}", text(&o));
    let out = d.join("late-signed.db");
    let o = sign(&zdir, Some("+120d"), &out, &["--passphrase-file", &pass(&d)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("past the last bundle") && !out.exists(), "{}", text(&o));
    let o = run_kskit(&zdir, &["check", "--now", "+120d"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("KSKIT CRITICAL - example.com.: "), "{}", text(&o));
}

#[test]
fn check_thresholds_and_nagios_exit_codes() {
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    let check = |args: &[&str]| {
        let mut a = vec!["check"];
        a.extend(args);
        let o = run_kskit(&zdir, &a);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // The demo SKR lasts 90 days plus one bundle's overlap (about 100 days).
    let (code, out) = check(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("KSKIT OK - example.com. SKR valid for 100 days, bundle in force until "), "{out}");
    assert_eq!(out.lines().count(), 1);
    let (code, out) = check(&["--now", "+90d"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("KSKIT WARNING - "), "{out}");
    let (code, out) = check(&["--now", "+95d"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.starts_with("KSKIT CRITICAL - "), "{out}");
    // Thresholds are the options'.
    assert_eq!(check(&["--warn", "120", "--crit", "110"]).0, Some(2));
    assert_eq!(check(&["--warn", "120", "--crit", "30"]).0, Some(1));
    // With 10 days left, below the policy's ceremony_lead (30 days): WARNING
    // that the next ceremony is due, whatever --warn and --crit say.
    let (code, out) = check(&["--now", "+90d", "--warn", "5", "--crit", "2"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("next ceremony due"), "{out}");
    assert_eq!(check(&["--now", "+60d", "--warn", "5", "--crit", "2"]).0, Some(0));
    // JSON carries the same status.
    let o = run_kskit(&zdir, &["--json", "check", "--now", "+90d"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "WARNING");
    let left = v["days_left"].as_i64().unwrap();
    assert!((9..=10).contains(&left), "{v}");
    // UNKNOWN: no SKR for the zone; no configuration at all.
    let (code, out) = check(&["--zone", "example.org."]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.starts_with("KSKIT UNKNOWN - no SKR imported for example.org."), "{out}");
    let o = run_kskit(&d, &["--config", s(&d.join("nope.toml")), "check"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("KSKIT UNKNOWN - "));
}

#[test]
fn knot_and_bind_exports_verify_and_knot_imports() {
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    let ta = d.join("trust-anchor.ds");
    let knot_file = d.join("export.knot.skr");
    let bind_file = d.join("export.bind.skr");
    ok(run_kskit(&zdir, &["export", "--to", "knot", "-o", s(&knot_file)]), "kskit export --to knot");
    ok(run_kskit(&zdir, &["export", "--to", "bind", "-o", s(&bind_file)]), "kskit export --to bind");
    let knot = std::fs::read_to_string(&knot_file).unwrap();
    let bind = std::fs::read_to_string(&bind_file).unwrap();
    // Knot's layout: Unix-seconds bundle times; BIND's: YYYYMMDDHHMMSS and
    // ctime, one record per line, absolute owners, class IN.
    let first = knot.lines().next().unwrap();
    assert!(first.split_whitespace().nth(3).unwrap().len() == 10, "{first}");
    let bfirst = bind.lines().next().unwrap();
    assert!(bfirst.split_whitespace().nth(3).unwrap().len() == 14, "{bfirst}");
    assert!(bind.lines().filter(|l| !l.is_empty() && !l.starts_with(";;")).all(|l| l.starts_with("example.com.\t") && l.contains("\tIN\t")), "{bind}");
    assert_eq!(knot.matches(";; SignedKeyResponse 1.0 ").count(), bind.matches(";; SignedKeyResponse 1.0 ").count());
    // Both still verify against the KSK's DS: nothing was lost in conversion.
    for f in [&knot_file, &bind_file] {
        let o = run_kskit(&zdir, &["--json", "skr", "verify", s(f), "--trust-anchor", s(&ta)]);
        let out = ok(o, "kskit skr verify (export)");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["passed"], true, "{out}");
        assert_eq!(v["bundles"], 9);
    }
    if !Knot::available() {
        return;
    }
    let k = Knot::new();
    ok(k.zsk(&["import-skr", s(&knot_file)]), "keymgr import-skr (kskit export)");
    let shown = ok(k.zsk(&["show-offline", "+0"]), "keymgr show-offline");
    let ksk_tag = std::fs::read_to_string(&ta).unwrap().split_whitespace().nth(4).unwrap().to_owned();
    assert!(shown.lines().any(|l| l.contains(&format!(" {ksk_tag} example.com."))), "no RRSIG by KSK {ksk_tag} among Knot's offline records:\n{shown}");
    assert!(shown.contains(&format!("id = {ksk_tag}")), "kskit's KSK {ksk_tag} not among Knot's offline records:\n{shown}");
}

/// The next period's SKR imported ahead (issue 15.1): the Knot and BIND
/// exports made while the current period is in force hold the rest of the
/// current period and the whole next one, verify against the KSK, and
/// Knot's `keymgr import-skr` accepts them; so does an export of the future
/// period alone (`--at` inside it).
#[test]
fn next_period_exports_are_accepted_by_knot_while_the_current_is_in_force() {
    let (_tmp, d) = demo();
    let zdir = d.join("zsk-side");
    let kdir = d.join("ksk-side");
    let ta = d.join("trust-anchor.ds");
    let pass = pass(&d);
    ok(run_kskit(&zdir, &["zsk", "pregenerate", "--until", "+200d", "--passphrase-file", &pass]), "zsk pregenerate (next period)");
    let ksr2 = d.join("next.ksr.xml");
    let skr2 = d.join("next.skr.xml");
    let out = ok(run_kskit(&zdir, &["--json", "ksr", "generate", "--next", "--until", "+90d", "-o", s(&ksr2), "--passphrase-file", &pass]), "ksr generate --next");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let from = v["from"].as_str().unwrap().to_string();
    let ksk_id = common::key_list(&kdir).first().and_then(|k| k["id"].as_str().map(str::to_string)).expect("demo KSK");
    ok(run_kskit(&kdir, &["ksr", "sign", s(&ksr2), "--ksk", &ksk_id, "-o", s(&skr2), "--yes", "--now", "+60d", "--passphrase-file", &pass]), "ksr sign (next period)");
    ok(run_kskit(&zdir, &["skr", "import", s(&skr2), "--ksr", s(&ksr2), "--trust-anchor", s(&ta), "--now", "+60d"]), "skr import ahead");
    // Now (the current period): still the first SKR's bundle.
    let zf = ok(run_kskit(&zdir, &["export", "--to", "zonefile"]), "export --to zonefile");
    assert!(!zf.contains("next.skr"), "{zf}");
    let knot_file = d.join("both.knot.skr");
    let bind_file = d.join("both.bind.skr");
    let future_file = d.join("future.knot.skr");
    ok(run_kskit(&zdir, &["export", "--to", "knot", "-o", s(&knot_file)]), "export --to knot");
    ok(run_kskit(&zdir, &["export", "--to", "bind", "-o", s(&bind_file)]), "export --to bind");
    ok(run_kskit(&zdir, &["export", "--to", "knot", "--at", &from, "-o", s(&future_file)]), "export --to knot --at next period");
    for (f, n) in [(&knot_file, 18), (&bind_file, 18), (&future_file, 9)] {
        let out = ok(run_kskit(&zdir, &["--json", "skr", "verify", s(f), "--trust-anchor", s(&ta)]), "skr verify (export)");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["passed"], true, "{out}");
        assert_eq!(v["bundles"], n, "{}", f.display());
    }
    let first_future = std::fs::read_to_string(&future_file).unwrap().lines().next().unwrap().split_whitespace().nth(3).unwrap().to_string();
    let from_unix = kskit::timeutil::parse_instant(&from).unwrap().unix_timestamp().to_string();
    assert_eq!(first_future, from_unix);
    if !Knot::available() {
        return;
    }
    let k = Knot::new();
    ok(k.zsk(&["import-skr", s(&knot_file)]), "keymgr import-skr (both periods)");
    ok(k.zsk(&["import-skr", s(&future_file)]), "keymgr import-skr (the future period, current in force)");
    let shown = ok(k.zsk(&["show-offline", &from_unix]), "keymgr show-offline (next period)");
    let ksk_tag = std::fs::read_to_string(&ta).unwrap().split_whitespace().nth(4).unwrap().to_owned();
    assert!(shown.contains(&format!("id = {ksk_tag}")) || shown.contains(&format!(" {ksk_tag} example.com.")), "no next-period records in Knot:\n{shown}");
}
