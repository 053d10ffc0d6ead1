//! The CLI end to end on software keys: the demo cycle in both formats, the
//! real root files, tampered input rejected with the failing check named,
//! bad input giving exit code 2 and never leaving a partial file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kskit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kskit"));
    c.env_remove("KSKIT_PASSPHRASE").env_remove("KSKIT_CONFIG").env_remove("KSKIT_PIN");
    c
}

fn run(args: &[&str], dir: &Path) -> Output {
    kskit().args(args).current_dir(dir).env("KSKIT_PASSPHRASE", "correct horse").output().expect("run kskit")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn root_fixtures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/root");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared/fixtures/root is absent; skipping the root-file cases");
        None
    }
}

const ROOT_TA: &str = ". IN DS 19036 8 2 49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5\n";

#[test]
fn demo_runs_the_whole_cycle_in_both_formats() {
    for fmt in ["iana", "text"] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        let o = run(&["demo", "--dir", d.to_str().unwrap(), "--format", fmt], t.path());
        assert!(o.status.success(), "{fmt}: {}", text(&o));
        let out = text(&o);
        assert!(out.contains("The offline KSK cycle completed"), "{out}");
        assert!(out.contains("SKR verified and imported"), "{out}");
        // the imported SKR is in the ZSK side's keystore
        let skr_dir = d.join("zsk-side/keystore/skr/example.com");
        assert!(skr_dir.join("timeline.json").is_file());
        // no private key is stored unencrypted
        for side in ["zsk-side", "ksk-side"] {
            for e in std::fs::read_dir(d.join(side).join("keystore/private")).unwrap() {
                let data = std::fs::read(e.unwrap().path()).unwrap();
                assert!(data.starts_with(b"age-encryption.org/v1") || data.starts_with(b"-----BEGIN AGE"), "key file not age-encrypted");
            }
        }
    }
}

#[test]
fn root_ksr_and_skrs_pass_and_tampered_copies_fail() {
    let Some(f) = root_fixtures() else { return };
    let t = tempfile::tempdir().unwrap();
    let ksr = f.join("ksr-root-2017-q2-0.xml");
    let prev = f.join("skr-root-2017-q1-0.xml");
    let ta = t.path().join("root.ds");
    std::fs::write(&ta, ROOT_TA).unwrap();
    let o = run(&["ksr", "verify", ksr.to_str().unwrap(), "--previous-skr", prev.to_str().unwrap(), "--previous-skr-anchor", ta.to_str().unwrap(), "--now", "2017-03-01T00:00:00Z"], t.path());
    assert!(o.status.success(), "{}", text(&o));
    for q in ["q1", "q2"] {
        let skr = f.join(format!("skr-root-2017-{q}-0.xml"));
        let now = if q == "q1" { "2017-02-01T00:00:00Z" } else { "2017-05-01T00:00:00Z" };
        let o = run(&["skr", "verify", skr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", now], t.path());
        assert!(o.status.success(), "{q}: {}", text(&o));
    }
    let skr = f.join("skr-root-2017-q2-0.xml");
    let o = run(
        &["skr", "verify", skr.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", "2017-05-01T00:00:00Z", "--json"],
        t.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], true);

    // A changed signature byte in the SKR: SKR-SIG-VERIFY fails, exit 1.
    let orig = std::fs::read_to_string(&skr).unwrap();
    let i = orig.find("<SignatureData>").unwrap() + "<SignatureData>".len() + 10;
    let mut bad = orig.clone().into_bytes();
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad_path = t.path().join("tampered-skr.xml");
    std::fs::write(&bad_path, &bad).unwrap();
    let o = run(&["skr", "verify", bad_path.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", "2017-05-01T00:00:00Z"], t.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-SIG-VERIFY"), "{}", text(&o));

    // A wrong trust anchor: SKR-TRUST-ANCHOR fails.
    let other_ta = t.path().join("other.ds");
    std::fs::write(&other_ta, ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n").unwrap();
    let o = run(&["skr", "verify", skr.to_str().unwrap(), "--trust-anchor", other_ta.to_str().unwrap(), "--now", "2017-05-01T00:00:00Z"], t.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-TRUST-ANCHOR"), "{}", text(&o));

    // A changed key byte in the KSR: proof of possession fails.
    let orig = std::fs::read_to_string(&ksr).unwrap();
    let i = orig.find("<PublicKey>").unwrap() + "<PublicKey>".len() + 20;
    let mut bad = orig.into_bytes();
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad_ksr = t.path().join("tampered-ksr.xml");
    std::fs::write(&bad_ksr, &bad).unwrap();
    let o = run(&["ksr", "verify", bad_ksr.to_str().unwrap(), "--now", "2017-03-01T00:00:00Z"], t.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-POP"), "{}", text(&o));

    // A previous SKR that is not the one before: the chain checks fail.
    let o = run(&["ksr", "verify", ksr.to_str().unwrap(), "--previous-skr", skr.to_str().unwrap(), "--previous-skr-anchor", ta.to_str().unwrap(), "--now", "2017-03-01T00:00:00Z"], t.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-CHAIN-ID"), "{}", text(&o));
}

/// A fresh configuration with a KSK and pre-generated ZSKs.
fn setup(alg: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("z");
    let o = run(&["init", d.to_str().unwrap(), "--zone", "example.net"], t.path());
    assert!(o.status.success(), "{}", text(&o));
    // ZSKs of the KSK's algorithm: the DNSKEY RRset is signed with each
    // algorithm it holds (RFC 4035 §2.2, KSR-DNSKEY-ALGORITHMS).
    let cfg = d.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap();
    let zsk = "zsk = { algorithm = \"ECDSAP256SHA256\", lifetime = \"90d\" }";
    assert!(c.contains(zsk), "template changed: {c}");
    std::fs::write(&cfg, c.replace(zsk, &format!("zsk = {{ algorithm = \"{alg}\", lifetime = \"90d\" }}"))).unwrap();
    let o = run(&["key", "generate", "--role", "ksk", "--algorithm", alg], &d);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["zsk", "pregenerate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z"], &d);
    assert!(o.status.success(), "{}", text(&o));
    (t, d)
}

fn ksk_id(d: &Path) -> String {
    let o = run(&["key", "list", "--json"], d);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array().unwrap().iter().find(|k| k["role"] == "ksk").unwrap()["id"].as_str().unwrap().to_string()
}

#[test]
fn sign_with_rsa_and_ed25519_ksks_in_both_formats() {
    for alg in ["RSASHA256", "ED25519", "ECDSAP384SHA384"] {
        let (_t, d) = setup(alg);
        let ksk = ksk_id(&d);
        let ta = d.join("ta.ds");
        let o = run(&["key", "ds", &ksk], &d);
        std::fs::write(&ta, &o.stdout).unwrap();
        for fmt in ["iana", "text"] {
            let ksr = d.join(format!("r.{fmt}"));
            let skr = d.join(format!("s.{fmt}"));
            let o = run(&["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "--format", fmt, "-o", ksr.to_str().unwrap()], &d);
            assert!(o.status.success(), "{alg} {fmt}: {}", text(&o));
            let now = "2029-12-20T00:00:00Z";
            let o = run(&["ksr", "sign", ksr.to_str().unwrap(), "--ksk", &ksk, "-o", skr.to_str().unwrap(), "--yes", "--cds", "publish", "--now", now], &d);
            assert!(o.status.success(), "{alg} {fmt}: {}", text(&o));
            let o = run(&["skr", "verify", skr.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", "2030-01-02T00:00:00Z"], &d);
            assert!(o.status.success(), "{alg} {fmt}: {}", text(&o));
        }
    }
}

#[test]
fn sign_refuses_a_failing_ksr_and_writes_nothing() {
    let (_t, d) = setup("ECDSAP256SHA256");
    let ksk = ksk_id(&d);
    let ksr = d.join("r.xml");
    let o = run(&["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "-o", ksr.to_str().unwrap()], &d);
    assert!(o.status.success(), "{}", text(&o));
    // Signing as of a time after the KSR's bundles: KSR-HORIZON fails, nothing signed.
    let skr = d.join("s.xml");
    let o = run(&["ksr", "sign", ksr.to_str().unwrap(), "--ksk", &ksk, "-o", skr.to_str().unwrap(), "--yes", "--now", "2031-01-01T00:00:00Z"], &d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-HORIZON"), "{}", text(&o));
    assert!(!skr.exists(), "an SKR was written for a failing KSR");
    // Without --yes and without a terminal: refused, nothing written.
    let o = kskit()
        .args(["ksr", "sign", ksr.to_str().unwrap(), "--ksk", &ksk, "-o", skr.to_str().unwrap(), "--now", "2029-12-20T00:00:00Z"])
        .current_dir(&d)
        .env("KSKIT_PASSPHRASE", "correct horse")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    if !text(&o).contains("not confirmed") {
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("--yes"), "{}", text(&o));
    }
    assert!(!skr.exists());
    // A wrong passphrase: a clear error, exit 2, nothing written.
    let o = kskit()
        .args(["ksr", "sign", ksr.to_str().unwrap(), "--ksk", &ksk, "-o", skr.to_str().unwrap(), "--yes", "--now", "2029-12-20T00:00:00Z"])
        .current_dir(&d)
        .env("KSKIT_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).to_lowercase().contains("passphrase"), "{}", text(&o));
    assert!(!skr.exists());
}

#[test]
fn import_never_stores_a_failing_skr_and_keeps_the_previous_one() {
    let (_t, d) = setup("ECDSAP256SHA256");
    let ksk = ksk_id(&d);
    let ta = d.join("ta.ds");
    std::fs::write(&ta, run(&["key", "ds", &ksk], &d).stdout).unwrap();
    let ksr = d.join("r.xml");
    let skr = d.join("s.xml");
    assert!(run(&["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "-o", ksr.to_str().unwrap()], &d).status.success());
    assert!(run(&["ksr", "sign", ksr.to_str().unwrap(), "--ksk", &ksk, "-o", skr.to_str().unwrap(), "--yes", "--now", "2029-12-20T00:00:00Z"], &d).status.success());
    let now = "2030-01-02T00:00:00Z";
    let o = run(&["skr", "import", skr.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", now], &d);
    assert!(o.status.success(), "{}", text(&o));
    let cur = d.join("keystore/skr/example.net/timeline.json");
    let before = std::fs::read(&cur).unwrap();
    let files_before = std::fs::read_dir(cur.parent().unwrap()).unwrap().count();
    // Tamper with a signature and import again: rejected, nothing changes.
    let s = std::fs::read_to_string(&skr).unwrap();
    let i = s.rfind("<SignatureData>").unwrap() + "<SignatureData>".len() + 5;
    let mut b = s.into_bytes();
    b[i] = if b[i] == b'x' { b'y' } else { b'x' };
    let bad = d.join("bad.xml");
    std::fs::write(&bad, &b).unwrap();
    let o = run(&["skr", "import", bad.to_str().unwrap(), "--ksr", ksr.to_str().unwrap(), "--trust-anchor", ta.to_str().unwrap(), "--now", now], &d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nothing imported"), "{}", text(&o));
    assert_eq!(std::fs::read(&cur).unwrap(), before);
    assert_eq!(std::fs::read_dir(cur.parent().unwrap()).unwrap().count(), files_before);
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated.xml", b"<KSR id=\"x\" domain=\".\" serial=\"1\"><Request><RequestBundle id=\"a\">".to_vec()),
        ("entity.xml", b"<!DOCTYPE KSR [<!ENTITY a \"aaaa\">]><KSR id=\"x\" domain=\".\"></KSR>".to_vec()),
        ("garbage.txt", b";; KeySigningRequest 1.0 12 (bogus) ===\nexample. 3600 DNSKEY 256 3 13 !!!notbase64\n".to_vec()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01]),
    ];
    for (name, data) in cases {
        let p = dir.join(name);
        std::fs::write(&p, &data).unwrap();
        let o = run(&["ksr", "verify", p.to_str().unwrap()], dir);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains("kskit: error:"), "{name}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{name}: {}", text(&o));
    }
    // unknown algorithm and bad size
    let d = dir.join("z");
    assert!(run(&["init", d.to_str().unwrap(), "--zone", "example.org"], dir).status.success());
    let o = run(&["key", "generate", "--role", "ksk", "--algorithm", "GOST"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("GOST"), "{}", text(&o));
    let o = run(&["key", "generate", "--role", "ksk", "--algorithm", "RSASHA1"], &d);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["key", "generate", "--role", "ksk", "--algorithm", "RSASHA256", "--bits", "1024"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("1024"), "{}", text(&o));
    // a missing file
    let o = run(&["digest", "/nonexistent/file"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/file"), "{}", text(&o));
    // nothing half-written in the keystore
    let o = run(&["key", "list", "--json"], &d);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(), serde_json::json!([]));
    // init refuses to overwrite
    let o = run(&["init", d.to_str().unwrap(), "--zone", "example.org"], dir);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn digest_prints_sha256_and_pgp_words() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("f");
    std::fs::write(&p, b"abc").unwrap();
    let o = run(&["digest", p.to_str().unwrap(), "--words"], t.path());
    assert!(o.status.success());
    let out = text(&o);
    assert!(out.contains("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"), "{out}");
    // 0xBA at an even position, 0x78 at an odd one
    let o = run(&["--json", "digest", p.to_str().unwrap()], t.path());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pgp_words"][0], "shadow");
    assert_eq!(v["pgp_words"][1], "indigo");
}

/// Key times are whole seconds, as every KSR/SKR time is: a ZSK pre-generated
/// "now" at 12:00:00.7 must be published at the bundle that `ksr generate
/// --from now` starts at 12:00:00 in the same second (it used to say "no ZSK
/// is published" once ZSK files stopped taking a second of scrypt).
#[test]
fn keys_made_now_have_whole_second_times_and_a_ksr_from_now_finds_them() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("z");
    let o = run(&["init", d.to_str().unwrap(), "--zone", "example.net"], t.path());
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"], &d);
    assert!(o.status.success(), "{}", text(&o));
    for _ in 0..3 {
        let o = run(&["zsk", "pregenerate", "--until", "+200d"], &d);
        assert!(o.status.success(), "{}", text(&o));
        let o = run(&["ksr", "generate", "--from", "now", "--until", "+90d", "-o", "q.ksr"], &d);
        assert!(o.status.success(), "a KSR from now right after pregenerate: {}", text(&o));
    }
    let keys = std::fs::read_to_string(d.join("keystore/keys.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let mut times = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&v, &mut times);
    assert!(!times.is_empty(), "keys.json holds times: {keys}");
    assert!(times.iter().all(|s| !s.contains('.')), "fractional seconds in keys.json: {times:?}");
}
