//! Operator input (issue 14, point 8): out-of-range times and durations on
//! the command line, in kskit.toml and in a KSK policy give a clear error
//! and exit 2, never a panic (exit 101); errors quoting input are cut to a
//! readable length; a SHA-1-only trust anchor is warned about; the previous
//! SKR given to the chain checks is signature-checked first.

mod common;

use std::path::{Path, PathBuf};

use common::{run_kskit, s, text};

/// `kskit demo` in `t`: a ZSK side and a KSK side with software keys, a KSR
/// and its SKR. Returns the demo directory.
fn demo(t: &Path) -> PathBuf {
    let d = t.join("demo");
    common::ok(run_kskit(t, &["demo", "--dir", s(&d), "--format", "iana"]), "kskit demo");
    d
}

#[track_caller]
fn assert_exit_2_no_panic(dir: &Path, args: &[&str], must_say: &str) {
    let o = run_kskit(dir, args);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?} should exit 2:\n{out}");
    assert!(!out.contains("panicked"), "{args:?} panicked:\n{out}");
    assert!(out.contains(must_say), "{args:?} should say {must_say:?}:\n{out}");
}

#[test]
fn out_of_range_times_on_the_command_line_exit_2_without_panic() {
    let t = tempfile::tempdir().unwrap();
    let d = demo(t.path());
    let (zsk, ksk) = (d.join("zsk-side"), d.join("ksk-side"));
    let out = t.path().join("out");
    let ksr = d.join("request.ksr.xml");
    let far = "out of range";
    for args in [
        vec!["ksr", "generate", "--from", "now", "--until", "+9999999d", "-o", s(&out)],
        vec!["ksr", "generate", "--from", "+9999999d", "--until", "+9999999d", "-o", s(&out)],
        vec!["ksr", "generate", "--from", "now", "--until", "+99999999999999999999d", "-o", s(&out)],
        vec!["rollover", "plan", "--until", "+9999999d"],
        vec!["rollover", "plan", "--from", "+9999999d"],
        vec!["rollover", "status", "--now", "+9999999d"],
        vec!["rollover", "plan", "--from", "9999-12-31T00:00:00Z"],
        vec!["zsk", "pregenerate", "--until", "+9999999d"],
    ] {
        assert_exit_2_no_panic(&zsk, &args, far);
    }
    for args in [
        vec!["ksr", "verify", s(&ksr), "--now", "+9999999d"],
        vec!["ksr", "verify", s(&ksr), "--now=-9999999d"],
        vec!["ksr", "verify", s(&ksr), "--now", "9999-12-31T00:00:00Z"],
    ] {
        assert_exit_2_no_panic(&ksk, &args, far);
    }
    assert!(!out.exists(), "no output file after an error");
    // `check` speaks the monitoring plugin convention: UNKNOWN (3), no panic.
    let o = run_kskit(&zsk, &["check", "--now", "+9999999d"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!text(&o).contains("panicked") && text(&o).contains(far), "{}", text(&o));
}

#[test]
fn out_of_range_policy_durations_exit_2_without_panic() {
    let t = tempfile::tempdir().unwrap();
    let d = demo(t.path());
    let (zsk, ksk) = (d.join("zsk-side"), d.join("ksk-side"));
    let ksr = d.join("request.ksr.xml");
    // A KSK policy with a horizon of 27,000 years.
    let kp = t.path().join("ksk-policy.toml");
    std::fs::write(&kp, "horizon = \"P9999999D\"\n").unwrap();
    assert_exit_2_no_panic(&ksk, &["ksr", "verify", s(&ksr), "--policy", s(&kp)], "out of range");
    // kskit.toml: a signature validity of 27,000 years.
    let cfg = std::fs::read_to_string(zsk.join("kskit.toml")).unwrap();
    let huge = cfg.replace("signature_validity = \"21d\"", "signature_validity = \"P9999999D\"");
    assert_ne!(huge, cfg, "the template sets signature_validity");
    std::fs::write(zsk.join("kskit.toml"), &huge).unwrap();
    let out = t.path().join("out");
    assert_exit_2_no_panic(&zsk, &["policy", "check"], "out of range");
    assert_exit_2_no_panic(&zsk, &["ksr", "generate", "--from", "now", "--until", "+30d", "-o", s(&out)], "out of range");
    // parent_poll_interval × parent_confirmations beyond any time kskit handles.
    let many = cfg.replace("parent_confirmations = 3", "parent_confirmations = 4294967295").replace("parent_poll_interval = \"1h\"", "parent_poll_interval = \"36500d\"");
    assert_ne!(many, cfg);
    std::fs::write(zsk.join("kskit.toml"), &many).unwrap();
    assert_exit_2_no_panic(&zsk, &["policy", "check"], "out of range");
    assert_exit_2_no_panic(&zsk, &["rollover", "plan"], "out of range");
}

/// The DS record of digest type 1 (SHA-1) of the demo's KSK (RFC 4034 §5.1.4).
fn sha1_ds(ksk_side: &Path) -> String {
    use sha1::Digest;
    let keys = common::key_list(ksk_side);
    let k = keys.iter().find(|k| k["role"] == "ksk").unwrap();
    let pk = data_encoding::BASE64.decode(k["public_key"].as_str().unwrap().as_bytes()).unwrap();
    let mut rdata = vec![1u8, 1, 3, 13]; // flags 257, protocol 3, ECDSAP256SHA256
    rdata.extend_from_slice(&pk);
    let owner = b"\x07example\x03com\x00";
    let digest = sha1::Sha1::new().chain_update(owner).chain_update(&rdata).finalize();
    format!("example.com. IN DS {} 13 1 {}\n", k["key_tag"], data_encoding::HEXUPPER.encode(&digest))
}

#[test]
fn sha1_only_trust_anchor_is_warned_about() {
    let t = tempfile::tempdir().unwrap();
    let d = demo(t.path());
    let ta = t.path().join("sha1.ds");
    std::fs::write(&ta, sha1_ds(&d.join("ksk-side"))).unwrap();
    let skr = d.join("response.skr.xml");
    let ksr = d.join("request.ksr.xml");
    let o = run_kskit(t.path(), &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta)]);
    // The SHA-1 DS still pins the key (validators accept it), with a warning.
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning:") && err.contains("SHA-1") && err.contains("RFC 8624"), "{err}");
    // A SHA-256 DS: no such warning.
    let o = run_kskit(t.path(), &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&d.join("trust-anchor.ds"))]);
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stderr).contains("SHA-1"), "{}", text(&o));
}

#[test]
fn previous_skr_is_signature_checked_before_the_chain_checks() {
    let t = tempfile::tempdir().unwrap();
    let d = demo(t.path());
    let ksk = d.join("ksk-side");
    let ksr = d.join("request.ksr.xml");
    let prev = d.join("response.skr.xml");
    // The demo's own SKR as "previous": signed by this side's KSK, so the new
    // check passes (the chain checks fail: it is the same cycle, not the one before).
    let o = run_kskit(&ksk, &["ksr", "verify", s(&ksr), "--previous-skr", s(&prev)]);
    assert!(text(&o).contains("PASS KSR-PREVIOUS-SKR-SIGNED"), "{}", text(&o));
    // One character of a signature changed: refused with the check named.
    let orig = std::fs::read_to_string(&prev).unwrap();
    let i = orig.find("<SignatureData>").unwrap() + "<SignatureData>".len() + 10;
    let mut bad = orig.clone().into_bytes();
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let tampered = t.path().join("tampered.skr.xml");
    std::fs::write(&tampered, &bad).unwrap();
    let o = run_kskit(&ksk, &["ksr", "verify", s(&ksr), "--previous-skr", s(&tampered)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-PREVIOUS-SKR-SIGNED") && text(&o).contains("SKR-SIG-VERIFY"), "{}", text(&o));
    // A tampered previous SKR is not used: the chain checks do not run on it.
    assert!(!text(&o).contains("PASS KSR-CHAIN") && !text(&o).contains("FAIL KSR-CHAIN"), "{}", text(&o));
    // The same with the KSK's DS given as the anchor, from anywhere.
    let anchor = d.join("trust-anchor.ds");
    let o = run_kskit(t.path(), &["ksr", "verify", s(&ksr), "--previous-skr", s(&tampered), "--previous-skr-anchor", s(&anchor)]);
    assert!(text(&o).contains("FAIL KSR-PREVIOUS-SKR-SIGNED"), "{}", text(&o));
    let o = run_kskit(t.path(), &["ksr", "verify", s(&ksr), "--previous-skr", s(&prev), "--previous-skr-anchor", s(&anchor)]);
    assert!(text(&o).contains("PASS KSR-PREVIOUS-SKR-SIGNED"), "{}", text(&o));
    // Signed by another KSK: the ZSK side's keystore has none of this zone's KSKs.
    let other = t.path().join("other.ds");
    let ds = std::fs::read_to_string(&anchor).unwrap();
    let ds = ds.trim_end();
    let last = if ds.ends_with('0') { '1' } else { '0' };
    std::fs::write(&other, format!("{}{last}\n", &ds[..ds.len() - 1])).unwrap();
    let o = run_kskit(t.path(), &["ksr", "verify", s(&ksr), "--previous-skr", s(&prev), "--previous-skr-anchor", s(&other)]);
    assert!(text(&o).contains("FAIL KSR-PREVIOUS-SKR-SIGNED"), "{}", text(&o));
    // No KSK to check it against (no keystore here, no anchor): exit 2, saying what to give.
    assert_exit_2_no_panic(t.path(), &["ksr", "verify", s(&ksr), "--previous-skr", s(&prev)], "--previous-skr-anchor");
    assert_exit_2_no_panic(&d.join("zsk-side"), &["ksr", "verify", s(&ksr), "--previous-skr", s(&prev)], "--previous-skr-anchor");
}

#[test]
fn errors_quoting_a_5000_byte_token_cut_it() {
    let t = tempfile::tempdir().unwrap();
    let long = "X".repeat(5000);
    let ksr = t.path().join("long.ksr");
    std::fs::write(
        &ksr,
        format!(";; KeySigningRequest 1.0 1795427119 (x)\nexample.com. 3600 {long} 256 3 13 AAAA\n;; KeySigningRequest 1.0 generated at 2026-11-23T09:45:19Z by x\n"),
    )
    .unwrap();
    let kp = t.path().join("p.toml");
    std::fs::write(&kp, "").unwrap();
    let o = run_kskit(t.path(), &["ksr", "verify", s(&ksr), "--policy", s(&kp)]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{}", &out[..out.len().min(2000)]);
    assert!(out.len() < 1000 && out.contains("(5000 bytes)"), "{} bytes: {}", out.len(), &out[..out.len().min(2000)]);
}
