//! The ZSK side's SKR timeline (issue 15.1) and import against its request
//! (issue 14.3), through the CLI on software keys: a ZSK side and a KSK side
//! in separate directories, quarterly periods in 2030 reached with `--now`.

mod common;

use std::path::{Path, PathBuf};

use common::{kskit_generate_ksk, kskit_init, kskit_write_ds, ok, run_kskit, s, text};

const T0: &str = "2030-01-01T00:00:00Z";

struct Sides {
    _tmp: tempfile::TempDir,
    t: PathBuf,
    zsk: PathBuf,
    ksk: PathBuf,
    tag: String,
    ta: PathBuf,
}

/// A ZSK side with ZSKs pre-generated for 2030 and a KSK side with one KSK.
fn sides() -> Sides {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_path_buf();
    let zsk = kskit_init(&t, "zsk-side", "example.com.");
    let ksk = kskit_init(&t, "ksk-side", "example.com.");
    let tag = kskit_generate_ksk(&ksk, "ECDSAP256SHA256").to_string();
    let ta = t.join("ta.ds");
    kskit_write_ds(&ksk, &tag, &ta);
    ok(run_kskit(&zsk, &["zsk", "pregenerate", "--from", T0, "--until", "2030-12-31T00:00:00Z"]), "zsk pregenerate");
    Sides { _tmp: tmp, t, zsk, ksk, tag, ta }
}

impl Sides {
    /// `ksr generate ARGS -o NAME.xml` on the ZSK side; returns the file and the JSON report.
    fn generate(&self, name: &str, args: &[&str]) -> (PathBuf, serde_json::Value) {
        let ksr = self.t.join(format!("{name}.xml"));
        let mut a = vec!["--json", "ksr", "generate", "-o", s(&ksr)];
        a.extend(args);
        let out = ok(run_kskit(&self.zsk, &a), "ksr generate");
        (ksr, serde_json::from_str(&out).unwrap())
    }

    /// `ksr sign` on the KSK side as of `now`; returns the SKR file.
    fn sign(&self, ksr: &Path, now: &str) -> PathBuf {
        let skr = ksr.with_extension("skr.xml");
        ok(run_kskit(&self.ksk, &["ksr", "sign", s(ksr), "--ksk", &self.tag, "-o", s(&skr), "--yes", "--now", now]), "ksr sign");
        skr
    }

    fn import(&self, skr: &Path, ksr: &Path, now: &str) -> std::process::Output {
        run_kskit(&self.zsk, &["skr", "import", s(skr), "--ksr", s(ksr), "--trust-anchor", s(&self.ta), "--now", now])
    }

    fn list(&self, now: &str) -> serde_json::Value {
        serde_json::from_str(&ok(run_kskit(&self.zsk, &["--json", "skr", "list", "--now", now]), "skr list")).unwrap()
    }

    /// The SKR file of the zonefile export at `at` (from its header comment).
    fn exported_from(&self, at: &str) -> String {
        let out = ok(run_kskit(&self.zsk, &["export", "--to", "zonefile", "--at", at]), "export --to zonefile");
        out.lines().nth(1).unwrap_or("").to_string()
    }
}

/// Q1 (2030-01-01 .. 04-01) generated, signed and imported; returns (KSR, SKR).
fn q1(x: &Sides) -> (PathBuf, PathBuf) {
    let (ksr, _) = x.generate("q1", &["--from", T0, "--until", "2030-04-01T00:00:00Z"]);
    let skr = x.sign(&ksr, "2029-12-10T00:00:00Z");
    ok(x.import(&skr, &ksr, "2029-12-11T00:00:00Z"), "skr import q1");
    (ksr, skr)
}

#[test]
fn import_without_the_ksr_is_refused_and_without_ksr_flag_warns_loudly() {
    let x = sides();
    let (ksr, _) = x.generate("q1", &["--from", T0, "--until", "2030-04-01T00:00:00Z"]);
    let skr = x.sign(&ksr, "2029-12-10T00:00:00Z");
    let o = run_kskit(&x.zsk, &["skr", "import", s(&skr), "--trust-anchor", s(&x.ta), "--now", "2029-12-11T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--ksr FILE") && text(&o).contains("--without-ksr"), "the error does not tell the fix:\n{}", text(&o));
    assert_eq!(x.list("2030-01-05T00:00:00Z")["skrs"].as_array().unwrap().len(), 0, "something was imported");
    // The KSR truly lost: --without-ksr imports after the schedule check, and says so.
    let o = run_kskit(&x.zsk, &["--json", "skr", "import", s(&skr), "--without-ksr", "--trust-anchor", s(&x.ta), "--now", "2029-12-11T00:00:00Z"]);
    let out = ok(o, "skr import --without-ksr");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["without_ksr"], true, "{v}");
    assert!(v["warning"].as_str().unwrap_or("").starts_with("WARNING"), "{v}");
    assert!(v.to_string().contains("SKR-ZSKS-SCHEDULED"), "{v}");
    let o = run_kskit(&x.zsk, &["skr", "import", s(&skr), "--without-ksr", "--trust-anchor", s(&x.ta), "--now", "2029-12-11T00:00:00Z"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.lines().any(|l| l.starts_with("WARNING: imported WITHOUT the KSR")), "{t}");
    assert!(t.contains("PASS SKR-ZSKS-SCHEDULED"), "{t}");
}

#[test]
fn an_skr_for_zsks_this_keystore_did_not_schedule_is_refused_with_and_without_its_ksr() {
    let x = sides();
    // Another ZSK side of the same zone (a superseded keystore, a replay
    // from elsewhere): its KSR signed by the same KSK verifies, but its
    // ZSKs are not this keystore's.
    let other = kskit_init(&x.t, "other-zsk", "example.com.");
    ok(run_kskit(&other, &["zsk", "pregenerate", "--from", T0, "--until", "2030-06-01T00:00:00Z"]), "zsk pregenerate (other)");
    let oksr = x.t.join("other.xml");
    ok(run_kskit(&other, &["ksr", "generate", "--from", T0, "--until", "2030-04-01T00:00:00Z", "-o", s(&oksr)]), "ksr generate (other)");
    let oskr = x.sign(&oksr, "2029-12-10T00:00:00Z");
    ok(run_kskit(&x.zsk, &["skr", "verify", s(&oskr), "--ksr", s(&oksr), "--trust-anchor", s(&x.ta), "--now", "2029-12-11T00:00:00Z"]), "skr verify (signatures hold)");
    for extra in [vec!["--ksr", s(&oksr)], vec!["--without-ksr"]] {
        let mut a = vec!["skr", "import", s(&oskr), "--trust-anchor", s(&x.ta), "--now", "2029-12-11T00:00:00Z"];
        a.extend(extra.iter().copied());
        let o = run_kskit(&x.zsk, &a);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains("FAIL SKR-ZSKS-SCHEDULED"), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains("nothing imported"), "{}", text(&o));
    }
    assert_eq!(x.list("2030-01-05T00:00:00Z")["skrs"].as_array().unwrap().len(), 0, "something was imported");
    // A superseded SKR: this keystore's own KSR and SKR, then the ZSK
    // schedule changes (the second ZSK published one bundle later).
    let (ksr, skr) = {
        let (k, _) = x.generate("q1", &["--from", T0, "--until", "2030-04-01T00:00:00Z"]);
        let s1 = x.sign(&k, "2029-12-10T00:00:00Z");
        (k, s1)
    };
    let keys_json = x.zsk.join("keystore/keys.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&keys_json).unwrap()).unwrap();
    let zsks = v["keys"].as_array_mut().unwrap();
    let second = zsks.iter_mut().filter(|k| k["role"] == "zsk").nth(1).expect("two ZSKs");
    second["timing"]["publish"] = serde_json::json!("2030-03-30T00:00:00Z");
    std::fs::write(&keys_json, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let o = x.import(&skr, &ksr, "2029-12-11T00:00:00Z");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-ZSKS-SCHEDULED"), "{}", text(&o));
}

#[test]
fn the_next_period_imported_ahead_leaves_the_current_bundle_in_force() {
    let x = sides();
    let (_, _) = q1(&x);
    // The next KSR continues exactly one bundle interval after Q1's last bundle.
    let (ksr2, v) = x.generate("q2", &["--next", "--until", "+90d"]);
    let q1_list = x.list("2030-01-05T00:00:00Z");
    let q1_last = q1_list["skrs"][0]["last_inception"].as_str().unwrap().to_string();
    assert_eq!(q1_last, "2030-03-22T00:00:00Z");
    assert_eq!(v["from"], "2030-04-01T00:00:00Z", "--next did not continue the timeline: {v}");
    let skr2 = x.sign(&ksr2, "2030-03-01T00:00:00Z");
    // The KSK side's chain checks accept it against Q1's SKR (no drift).
    ok(
        run_kskit(&x.ksk, &["ksr", "verify", s(&ksr2), "--previous-skr", s(&x.t.join("q1.skr.xml")), "--now", "2030-03-01T00:00:00Z"]),
        "ksr verify --previous-skr",
    );
    let o = x.import(&skr2, &ksr2, "2030-03-02T00:00:00Z");
    let out = ok(o, "skr import q2 ahead of time");
    assert!(out.contains("in force from 2030-04-01T00:00:00Z"), "{out}");
    // Q1 stays in force until Q2's first inception; then Q2 takes over.
    assert!(x.exported_from("2030-03-05T00:00:00Z").contains("/1893456000-"), "{}", x.exported_from("2030-03-05T00:00:00Z"));
    assert!(x.exported_from("2030-03-31T23:59:59Z").contains("/1893456000-"));
    assert!(x.exported_from("2030-04-01T00:00:00Z").contains("/1901232000-"), "{}", x.exported_from("2030-04-01T00:00:00Z"));
    // skr list: both, one in force and one future; coverage to Q2's end.
    let l = x.list("2030-03-05T00:00:00Z");
    let states: Vec<&str> = l["skrs"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["in force", "future"], "{l}");
    assert_eq!(l["coverage_end"], "2030-07-11T00:00:00Z", "{l}");
    // check: coverage across both SKRs; OK well before, WARNING when the next ceremony is due.
    let o = run_kskit(&x.zsk, &["--json", "check", "--now", "2030-03-05T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["coverage_end"], "2030-07-11T00:00:00Z", "{v}");
    assert_eq!(v["ceremony_due"], false);
    let o = run_kskit(&x.zsk, &["check", "--now", "2030-06-20T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("next ceremony due"), "{}", text(&o));
    // sign-zone uses the same lookup.
    let zf = x.zsk.join("zone.db");
    std::fs::write(&zf, "$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n").unwrap();
    let signed = x.zsk.join("zone.signed");
    ok(run_kskit(&x.zsk, &["sign-zone", s(&zf), "--at", "2030-03-05T00:00:00Z", "-o", s(&signed)]), "sign-zone in Q1 with Q2 imported");
    // skr remove takes the import back: Q1 alone again.
    let q2_file = l["skrs"][1]["file"].as_str().unwrap().to_string();
    ok(run_kskit(&x.zsk, &["skr", "remove", &q2_file]), "skr remove");
    let l = x.list("2030-03-05T00:00:00Z");
    assert_eq!(l["skrs"].as_array().unwrap().len(), 1, "{l}");
    assert!(!x.zsk.join("keystore/skr/example.com").join(&q2_file).exists());
    assert!(x.exported_from("2030-04-01T00:00:00Z").contains("/1893456000-"));
}

#[test]
fn a_keystore_with_only_current_json_reads_as_a_one_entry_timeline() {
    let x = sides();
    let (_, _) = q1(&x);
    let dir = x.zsk.join("keystore/skr/example.com");
    let tl: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("timeline.json")).unwrap()).unwrap();
    let e = &tl["skrs"][0];
    // The old layout: current.json only.
    std::fs::remove_file(dir.join("timeline.json")).unwrap();
    let cur = serde_json::json!({"file": e["file"], "sha256": e["sha256"], "format": e["format"], "imported": e["imported"], "bundles": e["bundles"]});
    std::fs::write(dir.join("current.json"), serde_json::to_vec_pretty(&cur).unwrap()).unwrap();
    assert!(x.exported_from("2030-02-01T00:00:00Z").contains("/1893456000-"));
    assert_eq!(x.list("2030-02-01T00:00:00Z")["skrs"].as_array().unwrap().len(), 1);
    ok(run_kskit(&x.zsk, &["check", "--now", "2030-01-05T00:00:00Z"]), "check on the old layout");
    // The next import writes timeline.json with both and retires current.json.
    let (ksr2, _) = x.generate("q2", &["--next", "--until", "+90d"]);
    let skr2 = x.sign(&ksr2, "2030-03-01T00:00:00Z");
    ok(x.import(&skr2, &ksr2, "2030-03-02T00:00:00Z"), "import after migration");
    assert!(!dir.join("current.json").exists());
    assert_eq!(x.list("2030-02-01T00:00:00Z")["skrs"].as_array().unwrap().len(), 2);
}
