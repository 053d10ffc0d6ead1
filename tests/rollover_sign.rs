//! `kskit ksr sign --follow-plan`: the KSK side pre-signs each bundle with
//! the KSKs, flags and CDS/CDNSKEY its rollover plan gives for that bundle:
//! a double-KSK rollover across one KSR, and RFC 5011 revocation.

use std::path::Path;
use std::process::{Command, Output};

use kskit::dnssec::FLAG_REVOKE;

fn kskit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kskit"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSKIT_CONFIG")
        .env("KSKIT_PASSPHRASE", "rollover test")
        .output()
        .expect("run kskit")
}

fn ok(o: Output, what: &str) -> String {
    let t = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{what} failed:\n{t}");
    t
}

/// A ZSK side with a 90-day KSR and a KSK side with two KSKs whose policy
/// rolls the KSK every 60 days; returns (tmp, ksk side, KSR path).
fn setup(rfc5011: bool) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    ok(kskit(root, &["init", "z", "--zone", "example.com."]), "init z");
    ok(kskit(root, &["init", "k", "--zone", "example.com."]), "init k");
    let z = root.join("z");
    let k = root.join("k");
    let ksr = root.join("r.xml");
    let conf = k.join("kskit.toml");
    let mut c = std::fs::read_to_string(&conf).unwrap();
    c = c.replace(r#"ksk = { algorithm = "ECDSAP256SHA256", lifetime = "0d" }"#, r#"ksk = { algorithm = "ECDSAP256SHA256", lifetime = "60d" }"#);
    if rfc5011 {
        c = c.replace("rfc5011 = false", "rfc5011 = true");
    }
    std::fs::write(&conf, c).unwrap();
    ok(kskit(&k, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "ksk 1");
    ok(kskit(&k, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "ksk 2");
    if rfc5011 {
        // RFC 5011 keeps each new KSK 30 days (add hold-down) before it
        // signs, so the next rollover starts inside this KSR's period too.
        ok(kskit(&k, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "ksk 3");
    }
    // The plan starts at the first KSK's creation (now): a KSR for the next 90 days.
    ok(kskit(&z, &["zsk", "pregenerate", "--until", "+100d"]), "pregenerate");
    ok(kskit(&z, &["ksr", "generate", "--from", "+1h", "--until", "+90d", "-o", ksr.to_str().unwrap()]), "ksr generate");
    (t, k, ksr)
}

fn ksk_tags(k: &Path) -> Vec<u16> {
    let v: serde_json::Value = serde_json::from_slice(&kskit(k, &["--json", "key", "list"]).stdout).unwrap();
    v.as_array().unwrap().iter().map(|m| m["key_tag"].as_u64().unwrap() as u16).collect()
}

fn trust_anchor(k: &Path, out: &Path) {
    let v: serde_json::Value = serde_json::from_slice(&kskit(k, &["--json", "key", "list"]).stdout).unwrap();
    let mut ta = String::new();
    for m in v.as_array().unwrap() {
        ta.push_str(&ok(kskit(k, &["key", "ds", m["id"].as_str().unwrap()]), "key ds"));
    }
    std::fs::write(out, ta).unwrap();
}

#[test]
fn double_ksk_rollover_across_one_ksr() {
    let (t, k, ksr) = setup(false);
    let skr = t.path().join("s.xml");
    ok(kskit(&k, &["ksr", "sign", ksr.to_str().unwrap(), "--follow-plan", "-o", skr.to_str().unwrap(), "--yes"]), "ksr sign --follow-plan");
    let tags = ksk_tags(&k);
    let parsed = kskit::formats::parse_skr_any(&std::fs::read(&skr).unwrap()).unwrap();
    let mut sets = Vec::new();
    for b in &parsed.bundles {
        let ksks: Vec<u16> = b.keys.iter().filter(|k| k.dnskey.is_sep()).map(|k| k.dnskey.key_tag()).collect();
        let signers: Vec<u16> = b.signatures.iter().filter(|s| s.rrsig.type_covered == 48).map(|s| s.rrsig.key_tag).collect();
        // Every KSK that signs is in the DNSKEY RRset, and every RRSIG is by a KSK.
        for s in &signers {
            assert!(ksks.contains(s), "bundle {}: signer {s} not published ({ksks:?})", b.id);
        }
        sets.push(ksks);
    }
    let first = sets.first().unwrap();
    let last = sets.last().unwrap();
    assert_eq!(first.len(), 1, "one KSK at the start: {sets:?}");
    assert_eq!(last.len(), 1, "one KSK at the end: {sets:?}");
    assert_ne!(first, last, "the KSK rolled: {sets:?}");
    assert!(sets.iter().any(|s| s.len() == 2), "a double-KSK phase: {sets:?}");
    for s in &sets {
        assert!(s.iter().all(|t| tags.contains(t)), "{s:?} vs keystore {tags:?}");
    }
    let ta = t.path().join("ta.ds");
    trust_anchor(&k, &ta);
    ok(kskit(t.path(), &["skr", "verify", skr.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", "+2h"]), "skr verify");
}

#[test]
fn rfc5011_revoked_ksk_self_signs_under_its_revoked_tag() {
    let (t, k, ksr) = setup(true);
    let skr = t.path().join("s.xml");
    ok(kskit(&k, &["ksr", "sign", ksr.to_str().unwrap(), "--follow-plan", "-o", skr.to_str().unwrap(), "--yes"]), "ksr sign --follow-plan");
    let parsed = kskit::formats::parse_skr_any(&std::fs::read(&skr).unwrap()).unwrap();
    let revoked: Vec<_> = parsed.bundles.iter().flat_map(|b| b.keys.iter().filter(|k| k.dnskey.flags & FLAG_REVOKE != 0).map(move |k| (b, k))).collect();
    assert!(!revoked.is_empty(), "no bundle publishes a revoked KSK");
    for (b, key) in &revoked {
        let tag = key.dnskey.key_tag();
        assert!(
            b.signatures.iter().any(|s| s.rrsig.type_covered == 48 && s.rrsig.key_tag == tag),
            "bundle {}: the revoked KSK {tag} does not self-sign",
            b.id
        );
    }
    let ta = t.path().join("ta.ds");
    trust_anchor(&k, &ta);
    ok(kskit(t.path(), &["skr", "verify", skr.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", "+2h"]), "skr verify");
}
