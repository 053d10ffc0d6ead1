//! Concurrent kskit runs on one keystore (issue 15.7): every write happens
//! under the keystore lock and read-modify-write sequences hold it
//! throughout, so parallel runs lose no update and make no duplicates.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use common::{kskit, kskit_generate_ksk, kskit_init, kskit_write_ds, ok, run_kskit, s, text};

fn keys(dir: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("keystore/keys.json")).unwrap()).unwrap();
    v["keys"].as_array().unwrap().clone()
}

fn key_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("keystore/private")).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".age")).count()
}

/// Starts every command at once, then waits for all; each must succeed.
fn all_at_once(dir: &Path, runs: Vec<Vec<String>>) {
    let children: Vec<(Vec<String>, Child)> = runs
        .into_iter()
        .map(|a| {
            let c = kskit(dir).args(&a).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kskit");
            (a, c)
        })
        .collect();
    for (a, c) in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{a:?} failed:\n{}", text(&o));
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

#[test]
fn six_parallel_key_generate_runs_leave_six_keys_and_six_files() {
    let t = tempfile::tempdir().unwrap();
    let d = kskit_init(t.path(), "z", "example.com.");
    all_at_once(&d, (0..6).map(|_| strings(&["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"])).collect());
    assert_eq!(keys(&d).len(), 6, "keys.json lost an update: {:?}", keys(&d));
    assert_eq!(key_files(&d), 6);
    // Every key is usable (its file matches its record).
    for k in keys(&d) {
        ok(run_kskit(&d, &["key", "ds", k["id"].as_str().unwrap()]), "key ds");
    }
}

#[test]
fn parallel_zsk_pregenerate_and_rollover_step_make_what_one_run_makes() {
    let t = tempfile::tempdir().unwrap();
    // The reference: one run alone.
    let alone = kskit_init(t.path(), "alone", "example.com.");
    let pre = ["zsk", "pregenerate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-12-01T00:00:00Z"];
    ok(run_kskit(&alone, &pre), "zsk pregenerate alone");
    let want = keys(&alone).len();
    assert!(want >= 4, "{want}");
    // Three pregenerate runs and two rollover steps at once.
    let d = kskit_init(t.path(), "z", "example.com.");
    kskit_generate_ksk(&d, "ECDSAP256SHA256");
    let step = ["rollover", "step", "--now", "2030-01-02T00:00:00Z", "--poll-json", "/nonexistent/poll.json"];
    let mut runs: Vec<Vec<String>> = (0..3).map(|_| strings(&pre)).collect();
    runs.push(strings(&step));
    runs.push(strings(&step));
    let children: Vec<Child> = runs.iter().map(|a| kskit(&d).args(a).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    for (a, c) in runs.iter().zip(children) {
        let o = c.wait_with_output().unwrap();
        // rollover step may exit 1 (ATTENTION: no parent poll result); never 2.
        assert!(o.status.code() == Some(0) || (a[0] == "rollover" && o.status.code() == Some(1)), "{a:?}:\n{}", text(&o));
    }
    let zsks = keys(&d).into_iter().filter(|k| k["role"] == "zsk").count();
    assert_eq!(zsks, want, "parallel pregenerate runs made {zsks} ZSKs, one run makes {want}");
    assert_eq!(key_files(&d), want + 1);
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("keystore/rollover.json")).unwrap()).unwrap();
    assert!(state["zones"]["example.com."].is_object(), "{state}");
}

#[test]
fn parallel_skr_imports_of_different_periods_all_reach_the_timeline() {
    let t = tempfile::tempdir().unwrap();
    let z = kskit_init(t.path(), "zsk-side", "example.com.");
    let k = kskit_init(t.path(), "ksk-side", "example.com.");
    let tag = kskit_generate_ksk(&k, "ECDSAP256SHA256").to_string();
    let ta = t.path().join("ta.ds");
    kskit_write_ds(&k, &tag, &ta);
    ok(run_kskit(&z, &["zsk", "pregenerate", "--from", "2030-01-01T00:00:00Z", "--until", "2031-01-01T00:00:00Z"]), "pregenerate");
    let mut files = Vec::new();
    for (i, now) in ["2029-12-10T00:00:00Z", "2030-03-10T00:00:00Z", "2030-06-10T00:00:00Z", "2030-09-10T00:00:00Z"].iter().enumerate() {
        let ksr = t.path().join(format!("q{i}.xml"));
        let skr = t.path().join(format!("q{i}.skr.xml"));
        let mut a = vec!["ksr", "generate", "-o", s(&ksr)];
        if i == 0 {
            a.extend(["--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z"]);
        } else {
            a.extend(["--next", "--until", "+90d"]);
        }
        ok(run_kskit(&z, &a), "ksr generate");
        ok(run_kskit(&k, &["ksr", "sign", s(&ksr), "--ksk", &tag, "-o", s(&skr), "--yes", "--now", now]), "ksr sign");
        files.push((ksr, skr));
    }
    let runs = files
        .iter()
        .map(|(ksr, skr)| strings(&["skr", "import", s(skr), "--ksr", s(ksr), "--trust-anchor", s(&ta), "--now", "2029-12-11T00:00:00Z"]))
        .collect();
    all_at_once(&z, runs);
    let out = ok(run_kskit(&z, &["--json", "skr", "list", "--now", "2030-01-05T00:00:00Z"]), "skr list");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["skrs"].as_array().unwrap().len(), 4, "an import was lost: {v}");
    assert_eq!(v["requested"].as_array().unwrap().len(), 4, "{v}");
}

#[test]
fn a_run_waits_for_the_lock_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let d = kskit_init(t.path(), "z", "example.com.");
    // This test holds the lock, as another kskit process would.
    let lock = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(d.join("keystore/.lock")).unwrap();
    fs4::FileExt::lock(&lock).unwrap();
    let mut child = kskit(&d)
        .args(["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first stderr line comes while kskit waits (it blocks after it).
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for the keystore lock held by another kskit process"), "{line:?}");
    assert_eq!(keys(&d).len(), 0, "keys.json was written while the lock was held");
    fs4::FileExt::unlock(&lock).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(keys(&d).len(), 1);
}
