//! `kskit verify-zone` on zones signed by four signers — kskit's own
//! `sign-zone`, BIND's `dnssec-signzone`, ldns's `ldns-signzone` and Knot's
//! `kzonesign` — with NSEC and with NSEC3 opt-out, and on broken copies of
//! each: a dropped RRSIG, expired signatures, a missing algorithm (the two
//! signers that sign with two algorithms), a broken NSEC/NSEC3 chain, and
//! a DNSKEY RRset that is not the SKR bundle's. For every case kskit's
//! verdict is compared with those of `dnssec-verify`, `ldns-verify-zone`
//! and `kzonecheck` where they check the same thing (dnssec-verify has no
//! time option, so it sits out the expired case; only dnssec-verify checks
//! the algorithm rule, which ldns-verify-zone and kzonecheck do not), and
//! kskit must name the owner and type at fault.
//!
//! Without BIND's, ldns's or Knot's tools the tests fail under CI=true and
//! skip otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@ IN SOA ns1 hostmaster 2026120101 7200 3600 1209600 300
@ NS ns1
@ NS ns2.other.net.
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
www AAAA 2001:db8::3
txt TXT \"hello world\"
*.wild A 192.0.2.4
a.b.c A 192.0.2.9
child NS ns.child
child DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.child A 192.0.2.53
insecure NS ns.elsewhere.net.
insecure2 NS ns.elsewhere.net.
";

fn tools() -> bool {
    require_tools("BIND's signer and verifier", "bind9-utils", &["dnssec-keygen", "dnssec-signzone", "dnssec-verify", "dnssec-dsfromkey"], &[])
        && require_tools("ldns's signer and verifier", "ldnsutils", &["ldns-keygen", "ldns-signzone", "ldns-verify-zone", "ldns-key2ds"], &[])
        && require_tools("Knot's zone signer and checker", "knot-dnssecutils", &["kzonesign", "kzonecheck"], &[])
        && require_tools("Knot's keymgr", "knot", &["keymgr"], &[])
}

/// A signed zone file and the DS of its KSK.
struct Signed {
    what: String,
    file: PathBuf,
    ds: PathBuf,
    nsec3: bool,
    /// Signed with two algorithms (13 and 15).
    two_algorithms: bool,
}

fn run_ok(c: &mut Command, what: &str) -> String {
    let o = output(c);
    assert!(o.status.success(), "{what} failed:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write_zone(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let z = dir.join("zone.db");
    std::fs::write(&z, ZONE).unwrap();
    z
}

fn bind(t: &Path, nsec3: bool) -> Signed {
    let dir = t.join(if nsec3 { "bind-nsec3" } else { "bind-nsec" });
    let zone = write_zone(&dir);
    let keygen = |args: &[&str]| run_ok(Command::new("dnssec-keygen").current_dir(&dir).args(["-q", "-K", s(&dir)]).args(args).arg("example.com"), "dnssec-keygen").trim().to_owned();
    let ksk = keygen(&["-a", "ECDSAP256SHA256", "-f", "KSK"]);
    keygen(&["-a", "ECDSAP256SHA256"]);
    keygen(&["-a", "ED25519", "-f", "KSK"]);
    keygen(&["-a", "ED25519"]);
    let out = dir.join("signed.db");
    let mut c = Command::new("dnssec-signzone");
    c.current_dir(&dir).args(["-q", "-S", "-K", s(&dir), "-O", "full", "-o", "example.com", "-f", s(&out)]);
    if nsec3 {
        c.args(["-3", "-", "-A"]);
    }
    run_ok(c.arg(s(&zone)), "dnssec-signzone");
    let ds = dir.join("ds");
    std::fs::write(&ds, run_ok(Command::new("dnssec-dsfromkey").current_dir(&dir).args(["-2", &format!("{ksk}.key")]), "dnssec-dsfromkey")).unwrap();
    Signed { what: format!("dnssec-signzone {}", if nsec3 { "NSEC3 opt-out" } else { "NSEC" }), file: out, ds, nsec3, two_algorithms: true }
}

fn ldns(t: &Path, nsec3: bool) -> Signed {
    let dir = t.join(if nsec3 { "ldns-nsec3" } else { "ldns-nsec" });
    let zone = write_zone(&dir);
    let keygen = |args: &[&str]| run_ok(Command::new("ldns-keygen").current_dir(&dir).args(args).arg("example.com"), "ldns-keygen").trim().to_owned();
    let ksk = keygen(&["-a", "ECDSAP256SHA256", "-k"]);
    let keys = [ksk.clone(), keygen(&["-a", "ECDSAP256SHA256"]), keygen(&["-a", "ED25519", "-k"]), keygen(&["-a", "ED25519"])];
    let out = dir.join("signed.db");
    let mut c = Command::new("ldns-signzone");
    c.current_dir(&dir);
    if nsec3 {
        c.args(["-n", "-p", "-t", "0"]);
    }
    c.args(["-o", "example.com", "-f", s(&out), s(&zone)]).args(&keys);
    run_ok(&mut c, "ldns-signzone");
    let ds = dir.join("ds");
    std::fs::write(&ds, run_ok(Command::new("ldns-key2ds").current_dir(&dir).args(["-n", "-2", &format!("{ksk}.key")]), "ldns-key2ds")).unwrap();
    Signed { what: format!("ldns-signzone {}", if nsec3 { "NSEC3 opt-out" } else { "NSEC" }), file: out, ds, nsec3, two_algorithms: true }
}

fn knot(t: &Path, nsec3: bool) -> Signed {
    let dir = t.join(if nsec3 { "knot-nsec3" } else { "knot-nsec" });
    let zone = write_zone(&dir);
    let conf = dir.join("knot.conf");
    let nsec3_conf = if nsec3 { "    nsec3: on\n    nsec3-opt-out: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n" } else { "" };
    std::fs::write(
        &conf,
        format!(
            "database:\n  storage: {d}\ntemplate:\n  - id: default\n    storage: {d}\npolicy:\n  - id: p\n    algorithm: ecdsap256sha256\n    manual: on\n{nsec3_conf}zone:\n  - domain: example.com.\n    file: {z}\n    dnssec-signing: on\n    dnssec-policy: p\n",
            d = s(&dir),
            z = s(&zone)
        ),
    )
    .unwrap();
    for ksk in ["yes", "no"] {
        run_ok(Command::new("keymgr").args(["-c", s(&conf), "example.com.", "generate", "algorithm=13", &format!("ksk={ksk}")]), "keymgr generate");
    }
    let outdir = dir.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    run_ok(Command::new("kzonesign").args(["-c", s(&conf), "-o", s(&outdir), "example.com."]), "kzonesign");
    let ds_all = run_ok(Command::new("keymgr").args(["-c", s(&conf), "example.com.", "ds"]), "keymgr ds");
    let ds = dir.join("ds");
    std::fs::write(&ds, ds_all.lines().find(|l| l.contains(" 13 2 ")).expect("a SHA-256 DS")).unwrap();
    Signed { what: format!("kzonesign {}", if nsec3 { "NSEC3 opt-out" } else { "NSEC" }), file: outdir.join("zone.db"), ds, nsec3, two_algorithms: false }
}

/// kskit's own cycle (`kskit demo`) and `kskit sign-zone`; returns the
/// signed zone and the ZSK side's directory (keystore with the SKR timeline).
fn kskit_signed(t: &Path) -> (Signed, PathBuf) {
    let d = kskit_demo(t, None);
    std::fs::create_dir_all(t.join("kskit")).unwrap();
    let out = t.join("kskit/signed.db");
    demo_sign_zone(&d, ZONE, &out, &[]);
    (Signed { what: "kskit sign-zone NSEC".into(), file: out, ds: d.join("trust-anchor.ds"), nsec3: false, two_algorithms: false }, d.join("zsk-side"))
}

/// One record line of a signed zone: owner, type and, for an RRSIG, the
/// type covered and algorithm (all three signers write one record a line).
/// Owner, type, and for an RRSIG (type covered, algorithm).
type Line = (String, String, Option<(String, String)>);

fn parse_line(l: &str) -> Option<Line> {
    if l.trim_start().starts_with(';') || l.trim().is_empty() || l.starts_with(char::is_whitespace) {
        return None;
    }
    let t: Vec<&str> = l.split_whitespace().collect();
    let mut i = 1;
    while t.get(i).is_some_and(|x| x.chars().all(|c| c.is_ascii_digit()) || x.eq_ignore_ascii_case("IN")) {
        i += 1;
    }
    let ty = t.get(i)?.to_ascii_uppercase();
    let cov = if ty == "RRSIG" { Some((t.get(i + 1)?.to_ascii_uppercase(), t.get(i + 2)?.to_string())) } else { None };
    Some((t[0].to_ascii_lowercase(), ty, cov))
}

/// A copy of the zone without the lines `drop` selects.
fn mutate(src: &Path, dst: &Path, drop: impl Fn(&str, &str, Option<(&str, &str)>) -> bool) -> usize {
    let text = std::fs::read_to_string(src).unwrap();
    let mut n = 0;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| match parse_line(l) {
            Some((o, t, c)) if drop(&o, &t, c.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))) => {
                n += 1;
                false
            }
            _ => true,
        })
        .collect();
    std::fs::write(dst, kept.join("\n") + "\n").unwrap();
    n
}

/// Verdicts (true = accepted) of kskit and the three other verifiers on a
/// zone file; `at` (Unix seconds) moves the time of the check where the
/// tool can (dnssec-verify cannot: `None` for it then).
struct Verdicts {
    kskit: bool,
    problems: Vec<serde_json::Value>,
    dnssec_verify: Option<bool>,
    ldns: bool,
    kzonecheck: bool,
    log: String,
}

fn verdicts(file: &Path, ds: &Path, at: Option<i64>) -> Verdicts {
    let dir = file.parent().unwrap();
    let mut k = kskit(dir);
    k.args(["--json", "verify-zone", s(file), "--trust-anchor", s(ds)]);
    if let Some(t) = at {
        let iso = time::OffsetDateTime::from_unix_timestamp(t).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
        k.args(["--now", &iso]);
    }
    let ko = output(&mut k);
    assert!(matches!(ko.status.code(), Some(0 | 1)), "kskit verify-zone errored:\n{}", text(&ko));
    let json: serde_json::Value = serde_json::from_slice(&ko.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&ko)));
    assert_eq!(json["ok"].as_bool(), Some(ko.status.code() == Some(0)), "exit code and JSON verdict differ");
    let dv = at.is_none().then(|| output(Command::new("dnssec-verify").args(["-q", "-o", "example.com", s(file)])));
    let mut l = Command::new("ldns-verify-zone");
    l.args(["-k", s(ds)]);
    if let Some(t) = at {
        l.args(["-t", &format!("+{}", t - time::OffsetDateTime::now_utc().unix_timestamp())]);
    }
    let lo = output(l.arg(s(file)));
    let mut z = Command::new("kzonecheck");
    z.args(["-o", "example.com", "-d", "on"]);
    if let Some(t) = at {
        z.args(["-t", &t.to_string()]);
    }
    let zo = output(z.arg(s(file)));
    let log = format!(
        "kskit:\n{}\ndnssec-verify:\n{}\nldns-verify-zone:\n{}\nkzonecheck:\n{}",
        text(&ko),
        dv.as_ref().map(text).unwrap_or_default(),
        text(&lo),
        text(&zo)
    );
    Verdicts {
        kskit: ko.status.success(),
        problems: json["problems"].as_array().cloned().unwrap_or_default(),
        dnssec_verify: dv.map(|o| o.status.success()),
        ldns: lo.status.success(),
        kzonecheck: zo.status.success(),
        log,
    }
}

/// Asserts every verifier reached `accepted`, and that kskit's problems
/// include `(check, owner, type)` when given.
#[track_caller]
fn expect(v: &Verdicts, case: &str, accepted: bool, named: Option<(&str, &str, &str)>) {
    assert_eq!(v.kskit, accepted, "{case}: kskit's verdict\n{}", v.log);
    if let Some(d) = v.dnssec_verify {
        assert_eq!(d, accepted, "{case}: dnssec-verify disagrees with kskit\n{}", v.log);
    }
    assert_eq!(v.ldns, accepted, "{case}: ldns-verify-zone disagrees with kskit\n{}", v.log);
    assert_eq!(v.kzonecheck, accepted, "{case}: kzonecheck disagrees with kskit\n{}", v.log);
    if let Some((check, owner, ty)) = named {
        assert!(
            v.problems.iter().any(|p| p["check"] == check && p["owner"] == owner && p["type"] == ty),
            "{case}: kskit does not name {check} {owner} {ty}\n{}",
            v.log
        );
    }
}

/// The good zone and its broken copies, each compared across verifiers.
fn good_and_broken(z: &Signed) {
    let w = &z.what;
    expect(&verdicts(&z.file, &z.ds, None), &format!("{w}: as signed"), true, None);
    let dir = z.file.parent().unwrap();

    // A dropped RRSIG.
    let f = dir.join("dropped-rrsig.db");
    assert!(mutate(&z.file, &f, |o, t, c| o == "www.example.com." && t == "RRSIG" && c.is_some_and(|(cov, _)| cov == "AAAA")) >= 1);
    expect(&verdicts(&f, &z.ds, None), &format!("{w}: dropped RRSIG"), false, Some(("ZONE-RRSIG-ALGORITHMS", "www.example.com.", "AAAA")));

    // Expired signatures: the zone checked 60 days on.
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 60 * 86400;
    expect(&verdicts(&z.file, &z.ds, Some(later)), &format!("{w}: expired"), false, Some(("ZONE-RRSIG-TIME", "www.example.com.", "A")));

    // A missing algorithm: no Ed25519 RRSIG except over the DNSKEY RRset.
    if z.two_algorithms {
        let f = dir.join("missing-algorithm.db");
        assert!(mutate(&z.file, &f, |_, t, c| t == "RRSIG" && c.is_some_and(|(cov, alg)| cov != "DNSKEY" && alg == "15")) > 5);
        // Only dnssec-verify checks the algorithm rule: it is a rule for
        // signers (RFC 4035 §2.2), and ldns-verify-zone and kzonecheck, like
        // validators (RFC 6840 §5.11), accept one valid algorithm.
        let v = verdicts(&f, &z.ds, None);
        let case = format!("{w}: missing algorithm");
        assert!(!v.kskit && v.dnssec_verify == Some(false), "{case}: kskit and dnssec-verify must both refuse\n{}", v.log);
        assert!(v.ldns && v.kzonecheck, "{case}: ldns-verify-zone or kzonecheck now check the algorithm rule: compare them here too\n{}", v.log);
        assert!(
            v.problems.iter().any(|p| p["check"] == "ZONE-RRSIG-ALGORITHMS" && p["owner"] == "mail.example.com." && p["type"] == "A" && p["message"].as_str().is_some_and(|m| m.contains("algorithm 15"))),
            "{case}: kskit does not name the missing algorithm at mail.example.com. A\n{}",
            v.log
        );
    }

    // A broken chain: one NSEC (or NSEC3) record and its RRSIG dropped.
    let f = dir.join("broken-chain.db");
    if z.nsec3 {
        let text = std::fs::read_to_string(&z.file).unwrap();
        let owner = text.lines().filter_map(parse_line).find(|(_, t, _)| t == "NSEC3").map(|(o, _, _)| o).expect("an NSEC3 record");
        assert!(mutate(&z.file, &f, |o, t, c| o == owner && (t == "NSEC3" || c.is_some_and(|(cov, _)| cov == "NSEC3"))) >= 2);
        let v = verdicts(&f, &z.ds, None);
        expect(&v, &format!("{w}: broken NSEC3 chain"), false, None);
        assert!(v.problems.iter().any(|p| p["check"] == "ZONE-NSEC3-CHAIN"), "{w}: no ZONE-NSEC3-CHAIN problem\n{}", v.log);
    } else {
        assert!(mutate(&z.file, &f, |o, t, c| o == "mail.example.com." && (t == "NSEC" || c.is_some_and(|(cov, _)| cov == "NSEC"))) >= 2);
        expect(&verdicts(&f, &z.ds, None), &format!("{w}: broken NSEC chain"), false, Some(("ZONE-NSEC-CHAIN", "mail.example.com.", "NSEC")));
    }
}

#[test]
fn bind_signed_zones_and_broken_copies_agree_with_three_verifiers() {
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    good_and_broken(&bind(t.path(), false));
    good_and_broken(&bind(t.path(), true));
}

#[test]
fn ldns_signed_zones_and_broken_copies_agree_with_three_verifiers() {
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    good_and_broken(&ldns(t.path(), false));
    good_and_broken(&ldns(t.path(), true));
}

#[test]
fn knot_signed_zones_and_broken_copies_agree_with_three_verifiers() {
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    good_and_broken(&knot(t.path(), false));
    good_and_broken(&knot(t.path(), true));
}

#[test]
fn kskit_signed_zone_passes_against_the_skr_and_a_foreign_dnskey_set_does_not() {
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (z, zdir) = kskit_signed(t.path());
    good_and_broken(&z);

    // Keystore mode: the SKR bundle in force is the reference.
    let o = run_kskit(&zdir, &["verify-zone", s(&z.file)]);
    assert_eq!(o.status.code(), Some(0), "keystore mode rejected kskit's own zone:\n{}", text(&o));
    assert!(text(&o).contains("PASS ZONE-SKR-BUNDLE"), "{}", text(&o));

    // A zone of the same name signed with other keys (BIND's): valid by
    // its own DS, but its DNSKEY RRset is not the SKR's.
    let other = bind(t.path(), false);
    let o = run_kskit(&zdir, &["--json", "verify-zone", s(&other.file)]);
    assert_eq!(o.status.code(), Some(1), "a foreign DNSKEY RRset passed:\n{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let named = |check: &str| json["problems"].as_array().unwrap().iter().any(|p| p["check"] == check && p["owner"] == "example.com." && p["type"] == "DNSKEY");
    assert!(named("ZONE-SKR-BUNDLE") && named("ZONE-DNSKEY-TRUSTED"), "{json:#}");
    assert_eq!(json["trust"], "keystore");

    // Errors exit 2: no trust anchor and no kskit.toml; an unreadable file.
    let o = run_kskit(t.path(), &["verify-zone", s(&z.file)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--trust-anchor"), "{}", text(&o));
    let o = run_kskit(t.path(), &["verify-zone", "/nonexistent/zone.db", "--trust-anchor", s(&z.ds)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
