//! `kskit sign-zone` with NSEC3 (RFC 5155), end to end through the binary:
//! a TLD-shaped zone (mostly delegations, a quarter with DS, in-bailiwick
//! glue, delegations below empty non-terminals, a wildcard) is signed from
//! the SKR of a `kskit demo` cycle, with opt-out chosen on the command
//! line and without opt-out chosen in kskit.toml, and three independent
//! validators accept it: ldns's `ldns-verify-zone`, BIND's `dnssec-verify`
//! and Knot's `kzonecheck --dnssec on`. A zone with one NSEC3 record
//! removed is refused by all three.
//!
//! Without the tools the tests fail under CI=true and skip otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn validators_available() -> bool {
    require_tools(
        "ldns-verify-zone, dnssec-verify and kzonecheck",
        "ldnsutils, bind9-utils and knot-dnssecutils",
        &["ldns-verify-zone", "dnssec-verify", "kzonecheck"],
        &[],
    )
}

/// A delegation-heavy zone: `n` delegations, every fourth with a DS, every
/// other with in-bailiwick glue; two delegations below empty
/// non-terminals (one secure, one not); a wildcard and a deep name.
fn tld_zone(n: usize) -> String {
    let mut t = String::from(
        "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1 hostmaster 2026120101 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2.other.net.\nns1 A 192.0.2.1\nnic A 192.0.2.2\n*.wild TXT \"wildcard\"\ndeep.er.name A 192.0.2.3\n",
    );
    for i in 0..n {
        if i % 2 == 0 {
            t.push_str(&format!("d{i} NS ns1.d{i}\nns1.d{i} A 198.51.100.{}\nns1.d{i} AAAA 2001:db8::{i:x}\n", i % 250));
        }
        t.push_str(&format!("d{i} NS ns.hoster.net.\n"));
        if i % 4 == 0 {
            t.push_str(&format!("d{i} DS {} 13 2 {:064X}\n", 1000 + i, (i as u128 + 1) * 0x9E37_79B9_7F4A_7C15));
        }
    }
    t.push_str("x.ent NS ns.hoster.net.\nsecure.ent2 NS ns.hoster.net.\nsecure.ent2 DS 4242 13 2 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n");
    t
}

/// `kskit demo` in a temp dir: the ZSK side directory and the passphrase file.
fn demo() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("demo");
    ok(run_kskit(tmp.path(), &["demo", "--dir", s(&d)]), "kskit demo");
    let pass = s(&d.join("passphrase")).to_owned();
    (tmp, d.join("zsk-side"), pass)
}

fn validate(file: &Path) -> Vec<(&'static str, bool, String)> {
    let ldns = output(Command::new("ldns-verify-zone").arg(s(file)));
    let bind = output(Command::new("dnssec-verify").args(["-o", "example.com", s(file)]));
    let knot = output(Command::new("kzonecheck").args(["-o", "example.com", "-d", "on", s(file)]));
    vec![
        ("ldns-verify-zone", ldns.status.success() && text(&ldns).contains("Zone is verified and complete"), text(&ldns)),
        ("dnssec-verify", bind.status.success() && text(&bind).contains("Zone fully signed"), text(&bind)),
        ("kzonecheck", knot.status.success(), text(&knot)),
    ]
}

#[track_caller]
fn assert_all_accept(file: &Path) {
    for (tool, good, out) in validate(file) {
        assert!(good, "{tool} rejected {}:\n{out}", file.display());
    }
}

#[track_caller]
fn assert_all_refuse(file: &Path) {
    for (tool, good, out) in validate(file) {
        assert!(!good, "{tool} accepted the broken zone {}:\n{out}", file.display());
    }
}

#[test]
fn tld_zone_signed_with_nsec3_opt_out_passes_ldns_bind_and_knot_validators() {
    if !validators_available() {
        return;
    }
    let (_tmp, zdir, pass) = demo();
    let zf = zdir.join("tld.zone");
    std::fs::write(&zf, tld_zone(400)).unwrap();
    let out = zdir.join("tld.signed");
    let o = run_kskit(&zdir, &["sign-zone", s(&zf), "-o", s(&out), "--passphrase-file", &pass, "--denial", "nsec3", "--opt-out", "--threads", "2"]);
    let msg = ok(o, "kskit sign-zone --denial nsec3 --opt-out");
    let signed = std::fs::read_to_string(&out).unwrap();
    // RFC 9276 parameters; every NSEC3 has the opt-out flag; no NSEC.
    assert!(signed.contains("example.com. 300 IN NSEC3PARAM 1 0 0 -\n"), "{signed}");
    let n3: Vec<&str> = signed.lines().filter(|l| l.contains(" IN NSEC3 ")).collect();
    assert!(n3.iter().all(|l| l.contains(" IN NSEC3 1 1 0 - ")), "{n3:?}");
    assert!(!signed.contains(" IN NSEC "));
    // Opt-out: the 300 delegations without DS (and their glue) are out of the
    // chain; in are the apex, ns1, nic, the wildcard, deep.er.name, 100 + 1
    // secure delegations and the empty non-terminals wild, er, name.er, ent
    // and ent2 (kept although ent leads only to an unsigned delegation).
    assert_eq!(n3.len(), 4 + 1 + 101 + 5, "{msg}");
    assert!(msg.contains(", 111 NSEC3 (5 empty non-terminals)"), "{msg}");
    assert!(!signed.contains("d1.example.com. 3600 IN RRSIG NS"));
    assert_all_accept(&out);

    // One NSEC3 record removed: every validator objects.
    let victim = n3[n3.len() / 2];
    let owner = victim.split(' ').next().unwrap();
    let broken: String = signed.lines().filter(|l| !l.starts_with(owner)).map(|l| format!("{l}\n")).collect();
    let bad = zdir.join("broken.signed");
    std::fs::write(&bad, broken).unwrap();
    assert_all_refuse(&bad);
}

#[test]
fn nsec3_without_opt_out_from_kskit_toml_passes_ldns_bind_and_knot_validators() {
    if !validators_available() {
        return;
    }
    let (_tmp, zdir, pass) = demo();
    let conf = zdir.join("kskit.toml");
    let text = std::fs::read_to_string(&conf).unwrap();
    let text = if text.contains("denial = \"nsec\"") {
        text.replace("denial = \"nsec\"", "denial = \"nsec3\"").replace("nsec3_salt = \"-\"", "nsec3_salt = \"CAFE\"").replace("nsec3_iterations = 0", "nsec3_iterations = 2")
    } else {
        text.replacen("[policy]\n", "[policy]\ndenial = \"nsec3\"\nnsec3_salt = \"CAFE\"\nnsec3_iterations = 2\n", 1)
    };
    std::fs::write(&conf, text).unwrap();
    let zf = zdir.join("tld.zone");
    std::fs::write(&zf, tld_zone(60)).unwrap();
    let out = zdir.join("tld.signed");
    let msg = ok(run_kskit(&zdir, &["sign-zone", s(&zf), "-o", s(&out), "--passphrase-file", &pass, "--verify", "all"]), "kskit sign-zone (policy NSEC3)");
    let signed = std::fs::read_to_string(&out).unwrap();
    assert!(signed.contains("example.com. 300 IN NSEC3PARAM 1 0 2 CAFE\n"), "{signed}");
    // Every delegation is in the chain, none with the opt-out flag.
    let n3 = signed.lines().filter(|l| l.contains(" IN NSEC3 1 0 2 CAFE ")).count();
    assert_eq!(n3, 4 + 1 + 62 + 5, "{msg}");
    assert_all_accept(&out);

    // Out-of-bounds parameters are refused before anything is written.
    let o = run_kskit(&zdir, &["sign-zone", s(&zf), "-o", s(&zdir.join("x.signed")), "--passphrase-file", &pass, "--nsec3-iterations", "500"]);
    assert_eq!(o.status.code(), Some(2), "{}", text_of(&o));
    assert!(text_of(&o).contains("500 iterations exceed the limit"), "{}", text_of(&o));
    assert!(!zdir.join("x.signed").exists());
}

fn text_of(o: &std::process::Output) -> String {
    text(o)
}
