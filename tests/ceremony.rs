//! Ceremonies and custody, end to end through the `kskit` binary: the
//! rehearsal script on SoftHSM2, transcript tampering, failing steps,
//! backups, M-of-N splits, the printable script and the trust anchor.

mod common;

use std::path::{Path, PathBuf};

use common::{output, run_kskit, text};
use sha2::Digest;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha256_hex(d: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(&sha2::Sha256::digest(d))
}

/// The final hash printed after "Final hash".
fn final_hash(stdout: &str) -> String {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("Final hash"));
    lines.nth(1).map(|l| l.trim().to_string()).unwrap_or_default()
}

fn verify_transcript(dir: &Path, t: &Path, hash: Option<&str>) -> std::process::Output {
    let mut args = vec!["ceremony".to_string(), "verify-transcript".into(), t.display().to_string()];
    if let Some(h) = hash {
        args.push("--final-hash".into());
        args.push(h.into());
    }
    run_kskit(dir, &args)
}

fn entries(t: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn rehearsal_runs_on_softhsm_and_its_transcript_verifies() {
    if !common::require_tools("SoftHSM2", "softhsm2", &["softhsm2-util"], &[common::SOFTHSM_MODULE]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("rehearsal.jsonl");
    let skr = d.path().join("response.skr.xml");
    let o = run_kskit(
        d.path(),
        &[
            "ceremony".as_ref(),
            "run".as_ref(),
            manifest().join("ceremony-scripts/rehearsal.toml").as_os_str(),
            "--yes".as_ref(),
            "--transcript".as_ref(),
            t.as_os_str(),
            "--var".as_ref(),
            format!("skr={}", skr.display()).as_ref(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    // The estimate is shown before the signing confirmation.
    assert!(text(&o).contains("about to make"), "{}", text(&o));
    let h = final_hash(&out);
    assert_eq!(h.len(), 64, "{out}");
    let v = verify_transcript(d.path(), &t, Some(&h));
    assert!(v.status.success(), "{}", text(&v));
    let es = entries(&t);
    assert_eq!(es.first().unwrap()["kind"], "start");
    assert_eq!(es.last().unwrap()["kind"], "close");
    assert_eq!(es.last().unwrap()["outcome"], "completed");
    // The SKR the transcript records is the SKR on disk.
    let sign = es.iter().find(|e| e["title"] == "Sign the KSR").expect("a signing step");
    assert_eq!(sign["exit_code"], 0);
    assert_eq!(sign["writes"][0]["sha256"], sha256_hex(&std::fs::read(&skr).unwrap()));
    // Secret variables never reach the transcript.
    let raw = std::fs::read_to_string(&t).unwrap();
    assert!(!raw.contains("87654321") && !raw.contains("throwaway-zsk-passphrase"), "a secret leaked into the transcript");
    // Another final hash is refused.
    let other = format!("{}{}", &h[..63], if h.ends_with('0') { "1" } else { "0" });
    assert_eq!(verify_transcript(d.path(), &t, Some(&other)).status.code(), Some(1));
}

const QUICK: &str = r#"
title = "quick <ceremony> & co"
[variables]
msg = { description = "what to say" }
out = { description = "a file", default = "${tmp}/out.txt" }
[[steps]]
title = "Say <hello>"
role = "Ceremony Administrator"
say = "Say ${msg}"
command = "echo ${msg} > ${out} && cat ${out}"
confirm = "it was said"
writes = ["${out}"]
[[steps]]
title = "Check"
role = "Internal Witness"
say = "Check the file"
command = "cat ${out}"
confirm = "checked"
reads = ["${out}"]
[[steps]]
title = "Sign off"
role = "Crypto Officer"
say = "Done"
confirm = "done"
"#;

fn quick_transcript(d: &Path) -> (PathBuf, String) {
    let s = d.join("quick.toml");
    std::fs::write(&s, QUICK).unwrap();
    let t = d.join("quick.jsonl");
    let o = run_kskit(d, &["ceremony", "run", "quick.toml", "--yes", "--transcript", "quick.jsonl", "--var", "msg=hello world"]);
    assert!(o.status.success(), "{}", text(&o));
    (t, final_hash(&String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn transcript_tampering_is_detected() {
    let d = tempfile::tempdir().unwrap();
    let (t, h) = quick_transcript(d.path());
    let good = std::fs::read(&t).unwrap();
    assert!(verify_transcript(d.path(), &t, Some(&h)).status.success());
    let lines: Vec<Vec<u8>> = good.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(lines.len(), 5, "start, three steps, close");
    let check = |name: &str, data: Vec<u8>| {
        let p = d.path().join(name);
        std::fs::write(&p, data).unwrap();
        let o = verify_transcript(d.path(), &p, None);
        assert_eq!(o.status.code(), Some(1), "{name} not detected: {}", text(&o));
    };
    // Change one byte in every entry (a letter inside the time stamp's digits, keeping JSON valid).
    for (i, _) in lines.iter().enumerate() {
        let mut ls = lines.clone();
        let pos = ls[i].windows(8).position(|w| w == b"\"time\":\"").unwrap() + 10;
        ls[i][pos] = if ls[i][pos] == b'9' { b'8' } else { b'9' };
        check(&format!("edit-{i}"), ls.concat());
    }
    for i in 0..lines.len() {
        let mut ls = lines.clone();
        ls.remove(i);
        check(&format!("delete-{i}"), ls.concat());
    }
    for i in 1..lines.len() - 1 {
        let mut ls = lines.clone();
        ls.swap(i, i + 1);
        check(&format!("swap-{i}"), ls.concat());
    }
    let mut ls = lines.clone();
    let dup = ls[2].clone();
    ls.insert(2, dup);
    check("insert", ls.concat());
    check("no-close", lines[..4].concat());
    check("cut-close", good[..good.len() - 20].to_vec());
}

#[test]
fn a_failing_command_stops_the_ceremony_and_is_recorded() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("fail.toml");
    let marker = d.path().join("must-not-exist");
    std::fs::write(
        &s,
        format!(
            r#"title = "fail"
[[steps]]
title = "fails"
role = "Crypto Officer"
say = "this fails"
command = "echo about to fail; exit 3"
confirm = "-"
[[steps]]
title = "never"
role = "Crypto Officer"
say = "never runs"
command = "touch {}"
confirm = "-"
"#,
            marker.display()
        ),
    )
    .unwrap();
    let o = run_kskit(d.path(), &["ceremony", "run", "fail.toml", "--yes", "--transcript", "t.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!marker.exists(), "a step after the failure ran");
    let es = entries(&d.path().join("t.jsonl"));
    assert_eq!(es.len(), 3);
    assert_eq!(es[1]["outcome"], "failed");
    assert_eq!(es[1]["exit_code"], 3);
    assert!(es[1]["output"].as_str().unwrap().contains("about to fail"));
    assert_eq!(es[2]["outcome"], "failed");
    let v = verify_transcript(d.path(), &d.path().join("t.jsonl"), None);
    assert!(v.status.success() && text(&v).contains("failed at step 1"), "{}", text(&v));
}

#[test]
fn missing_variables_and_no_terminal_are_errors_before_any_step() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("quick.toml"), QUICK).unwrap();
    let o = run_kskit(d.path(), &["ceremony", "run", "quick.toml", "--yes", "--transcript", "t.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("msg"), "{}", text(&o));
    assert!(!d.path().join("t.jsonl").exists(), "no transcript for a run that never started");
    let o = run_kskit(d.path(), &["ceremony", "run", "quick.toml", "--var", "nosuch=1", "--var", "msg=x", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Without a controlling terminal and without --yes: a clear error.
    if common::tool_exists("setsid") {
        let mut c = std::process::Command::new("setsid");
        c.arg(env!("CARGO_BIN_EXE_kskit"))
            .args(["ceremony", "run", "quick.toml", "--var", "msg=x", "--transcript", "t2.jsonl"])
            .current_dir(d.path())
            .stdin(std::process::Stdio::null());
        let o = output(&mut c);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("--yes"), "{}", text(&o));
        assert!(!d.path().join("t2.jsonl").exists());
    }
}

#[test]
fn print_renders_every_step_escaped() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("quick.toml"), QUICK).unwrap();
    let o = run_kskit(d.path(), &["ceremony", "print", "quick.toml", "-o", "q.html", "--var", "msg=<b>hi</b>"]);
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(d.path().join("q.html")).unwrap();
    for t in ["Step 1: Say &lt;hello&gt;", "Step 2: Check", "Step 3: Sign off", "&lt;b&gt;hi&lt;/b&gt;", "quick &lt;ceremony&gt; &amp; co"] {
        assert!(html.contains(t), "{t} missing");
    }
    assert!(!html.contains("<b>hi"), "unescaped text");
    for role in ["Ceremony Administrator", "Internal Witness", "Crypto Officer"] {
        assert!(html.matches(role).count() >= 2, "{role}: step and signature line");
    }
    // Every shipped script renders, with all its steps.
    for f in std::fs::read_dir(manifest().join("ceremony-scripts")).unwrap() {
        let p = f.unwrap().path();
        let out = d.path().join("s.html");
        let o = run_kskit(d.path(), &["ceremony".as_ref(), "print".as_ref(), p.as_os_str(), "-o".as_ref(), out.as_os_str()]);
        assert!(o.status.success(), "{}: {}", p.display(), text(&o));
        let script: toml::Value = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let n = script["steps"].as_array().unwrap().len();
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.contains(&format!("Step {n}:")) && !html.contains(&format!("Step {}:", n + 1)), "{}", p.display());
    }
}

/// A KSK side with one ECDSA KSK; returns its keystore id.
fn ksk_side(dir: &Path) -> String {
    let o = run_kskit(dir, &["init", ".", "--zone", "example.com."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run_kskit(dir, &["--json", "key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let p = dir.join(name);
    std::fs::write(&p, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (p, id.to_public().to_string())
}

fn dnskey_line(dir: &Path, id: &str) -> String {
    let o = run_kskit(dir, &["key", "dnskey", id]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Signs with the keystore key and verifies with ring against `dnskey`.
fn signs_for(dir: &Path, id: &str, dnskey: &str) {
    use kskit::backends::Signer;
    let ks = kskit::keys::keystore::Keystore::open(&dir.join("keystore")).unwrap();
    let meta = ks.find(id).unwrap();
    let dec = kskit::backends::soft::KeyDecryption::Passphrase(kskit::secrets::Secret::new(common::PASSPHRASE.to_string()));
    let key = ks.load_soft_key(meta, &dec).unwrap();
    let sig = key.sign(b"restored key signs").unwrap();
    let b64 = dnskey.split_whitespace().skip(7).collect::<String>();
    let mut point = vec![4u8];
    point.extend(data_encoding::BASE64.decode(b64.as_bytes()).unwrap());
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point).verify(b"restored key signs", &sig).unwrap();
}

#[test]
fn backup_and_restore_round_trip() {
    let a = tempfile::tempdir().unwrap();
    let id = ksk_side(a.path());
    let original = dnskey_line(a.path(), &id);
    let (id1, r1) = identity(a.path(), "custodian1.key");
    let (_id2, r2) = identity(a.path(), "custodian2.key");
    let o = run_kskit(a.path(), &["key", "backup", &id, "--recipient", &r1, "--recipient", &r2, "-o", "ksk.backup"]);
    assert!(o.status.success(), "{}", text(&o));
    let backup = a.path().join("ksk.backup");
    assert!(!std::fs::read_to_string(&backup).unwrap().contains("PRIVATE"));
    // Restore on another machine (a fresh keystore) with one custodian's identity.
    let b = tempfile::tempdir().unwrap();
    assert!(run_kskit(b.path(), &["init", ".", "--zone", "example.com."]).status.success());
    let restore = |dir: &Path| {
        run_kskit(dir, &["key".as_ref(), "restore".as_ref(), backup.as_os_str(), "--identity".as_ref(), id1.as_os_str()])
    };
    let o = restore(b.path());
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(dnskey_line(b.path(), &id), original);
    signs_for(b.path(), &id, &original);
    // A second restore is a duplicate.
    let o = restore(b.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("already in the keystore"), "{}", text(&o));
    // A stranger's identity opens nothing.
    let (stranger, _) = identity(a.path(), "stranger.key");
    let o = run_kskit(b.path(), &["key".as_ref(), "restore".as_ref(), backup.as_os_str(), "--identity".as_ref(), stranger.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn three_of_five_split_restores_from_every_three_and_never_from_two() {
    let a = tempfile::tempdir().unwrap();
    let id = ksk_side(a.path());
    let original = dnskey_line(a.path(), &id);
    let custodians: Vec<(PathBuf, String)> = (1..=5).map(|i| identity(a.path(), &format!("c{i}.key"))).collect();
    let mut args: Vec<String> = vec!["key".into(), "split".into(), id.clone(), "--threshold".into(), "3".into(), "--shares".into(), "5".into(), "-o".into(), "shares".into()];
    for (_, r) in &custodians {
        args.push("--recipient".into());
        args.push(r.clone());
    }
    let o = run_kskit(a.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    let share = |i: usize| a.path().join(format!("shares/share-{i}-of-5.age"));
    let (out_id, out_r) = identity(a.path(), "restored.key");
    let combine = |set: &[usize], n: usize| {
        let mut args: Vec<String> = vec!["key".into(), "combine".into()];
        args.extend(set.iter().map(|i| share(*i).display().to_string()));
        for i in set {
            args.push("--identity".into());
            args.push(custodians[i - 1].0.display().to_string());
        }
        let out = a.path().join(format!("restored-{n}.age"));
        args.extend(["-o".into(), out.display().to_string(), "--recipient".into(), out_r.clone()]);
        (run_kskit(a.path(), &args), out)
    };
    let ids = kskit::backends::soft::KeyDecryption::Identities(vec![std::fs::read_to_string(&out_id).unwrap().trim().parse().unwrap()]);
    let want = original.split_whitespace().skip(7).collect::<String>();
    let mut n = 0;
    for x in 1..=5 {
        for y in x + 1..=5 {
            n += 1;
            let (o, _) = combine(&[x, y], n);
            assert_eq!(o.status.code(), Some(2), "2 shares restored a key: {}", text(&o));
            assert!(text(&o).contains("not enough shares"), "{}", text(&o));
            for z in y + 1..=5 {
                n += 1;
                let (o, out) = combine(&[x, y, z], n);
                assert!(o.status.success(), "shares {x},{y},{z}: {}", text(&o));
                let key = kskit::backends::soft::decrypt_key_file(&out, &ids).unwrap();
                use kskit::backends::Signer;
                assert_eq!(data_encoding::BASE64.encode(&key.dnskey().public_key), want, "shares {x},{y},{z}");
            }
        }
    }
    // A share of another split is refused, not combined into garbage.
    let mut args2 = args.clone();
    let pos = args2.iter().position(|s| s == "shares").unwrap();
    args2[pos] = "shares2".into();
    assert!(run_kskit(a.path(), &args2).status.success());
    let mut c: Vec<String> = vec!["key".into(), "combine".into(), share(1).display().to_string(), share(2).display().to_string()];
    c.push(a.path().join("shares2/share-3-of-5.age").display().to_string());
    for (idf, _) in custodians.iter().take(3) {
        c.extend(["--identity".into(), idf.display().to_string()]);
    }
    c.extend(["-o".into(), "mixed.age".into(), "--recipient".into(), out_r.clone()]);
    let o = run_kskit(a.path(), &c);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!a.path().join("mixed.age").exists());
}

#[test]
fn trust_anchor_formats() {
    let a = tempfile::tempdir().unwrap();
    let id = ksk_side(a.path());
    let ds = run_kskit(a.path(), &["key", "ds", &id]);
    let ds = String::from_utf8_lossy(&ds.stdout).to_string();
    let o = run_kskit(a.path(), &["trust-anchor", "--format", "ds"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), ds.trim());
    let o = run_kskit(a.path(), &["trust-anchor", "--format", "xml", "-o", "ta.xml"]);
    assert!(o.status.success(), "{}", text(&o));
    let xml = std::fs::read_to_string(a.path().join("ta.xml")).unwrap();
    let digest = ds.split_whitespace().last().unwrap().to_uppercase();
    let tag = ds.split_whitespace().nth(4).unwrap();
    for want in ["<Zone>example.com.</Zone>", &format!("<KeyTag>{tag}</KeyTag>"), "<Algorithm>13</Algorithm>", "<DigestType>2</DigestType>", &format!("<Digest>{digest}</Digest>"), "<Flags>257</Flags>"] {
        assert!(xml.contains(want), "{want} missing in {xml}");
    }
}
