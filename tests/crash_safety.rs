//! Crash safety: `kskit` is killed with SIGKILL at random moments while it
//! generates keys (`kskit key generate`, ECDSA and some RSA), imports SKRs
//! (`kskit skr import`), pre-generates ZSKs (`kskit zsk pregenerate`,
//! many keys in one run) and steps rollovers (`kskit rollover step`), over
//! 250 times in all. After every kill:
//!
//! - the keystore loads (`kskit --json key list` succeeds);
//! - it holds the old or the new state (one generate: the old keys, or the
//!   old keys and one more; pregenerate: the old keys and some more);
//! - every key listed in keys.json with a `file:` locator has its file, and
//!   that file is complete (it decrypts with the test's age identity);
//! - no file under `private/` is unencrypted (each is an age file);
//! - `skr/<zone>/timeline.json` parses and names only files that exist,
//!   each one of the two SKRs imported (each verified by `kskit skr verify`
//!   first) with its digest, and `kskit check` finds a bundle in force;
//! - `rollover status` loads, and a rerun of the killed step ends in the
//!   same key states as one uninterrupted step from the state before.
//!
//! Randomness is seeded (`CRASH_SEED` to replay; the seed is printed). The
//! kill delays are drawn from 0 to 1.2 × the measured length of an
//! uninterrupted run, so kills land in every phase, including the writes at
//! the end. New keys are encrypted to an age X25519 recipient (no scrypt) so
//! a run takes milliseconds and the loop stays short.

mod common;

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{kskit, kskit_init, ok, run_kskit, s};
use rand::{Rng as _, SeedableRng as _};

const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

struct Ctx {
    rng: rand::rngs::StdRng,
    identity: age::x25519::Identity,
    recipient: String,
    kills: usize,
    finished: usize,
}

impl Ctx {
    fn new() -> Ctx {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
        eprintln!("crash_safety: CRASH_SEED={seed}");
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        Ctx { rng: rand::rngs::StdRng::seed_from_u64(seed), identity, recipient, kills: 0, finished: 0 }
    }

    /// Runs `cmd` to completion and returns how long it took.
    fn measure(&mut self, cmd: &mut Command, what: &str) -> Duration {
        let start = Instant::now();
        let o = common::output(cmd);
        assert!(o.status.success(), "{what} failed: {}", common::text(&o));
        start.elapsed()
    }

    /// Spawns `cmd`, sleeps a random time in [0, 1.2 × `full`] and kills it
    /// with SIGKILL (if it has not finished by then). Returns whether the
    /// process was killed.
    fn spawn_and_kill(&mut self, cmd: &mut Command, full: Duration) -> bool {
        let max_us = (full.as_micros() as u64).saturating_mul(6) / 5 + 1;
        let delay = Duration::from_micros(self.rng.gen_range(0..max_us));
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn kskit");
        std::thread::sleep(delay);
        let killed = match child.try_wait().expect("try_wait") {
            Some(_) => false,
            None => {
                child.kill().expect("SIGKILL");
                true
            }
        };
        let _ = child.wait();
        if killed {
            self.kills += 1;
        } else {
            self.finished += 1;
        }
        killed
    }

    /// Checks the keystore invariants; returns the key ids listed.
    fn check_keystore(&self, dir: &Path, ctx: &str) -> BTreeSet<String> {
        let o = run_kskit(dir, &["--json", "key", "list"]);
        assert!(o.status.success(), "{ctx}: the keystore does not load after the kill: {}", common::text(&o));
        let keys: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{ctx}: key list is not JSON: {e}"));
        let ks = dir.join("keystore");
        let mut ids = BTreeSet::new();
        for k in &keys {
            let id = k["id"].as_str().unwrap_or_else(|| panic!("{ctx}: key without id: {k}")).to_string();
            if let Some(rel) = k["locator"].as_str().and_then(|l| l.strip_prefix("file:")) {
                let path = ks.join(rel);
                let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{ctx}: key {id} is listed but its file {} is missing: {e}", path.display()));
                assert!(data.starts_with(AGE_HEADER), "{ctx}: key file {} is not an age file", path.display());
                // Complete: keys encrypted to the test recipient decrypt.
                if data.windows(7).any(|w| w == b"X25519 ") {
                    self.decrypts(&data).unwrap_or_else(|e| panic!("{ctx}: key file {} does not decrypt: {e}", path.display()));
                }
            }
            ids.insert(id);
        }
        let private = ks.join("private");
        if let Ok(rd) = std::fs::read_dir(&private) {
            for e in rd {
                let e = e.expect("dir entry");
                let mut head = Vec::new();
                std::fs::File::open(e.path()).and_then(|f| f.take(64).read_to_end(&mut head)).expect("read private file");
                assert!(
                    head.is_empty() || head.starts_with(AGE_HEADER) || head.starts_with(AGE_ARMOR),
                    "{ctx}: {} under private/ is not age-encrypted: {:?}",
                    e.path().display(),
                    String::from_utf8_lossy(&head)
                );
                // A non-empty file that is not a temp is a key kskit names (or an orphan of an unfinished generate).
            }
        }
        ids
    }

    fn decrypts(&self, data: &[u8]) -> Result<(), String> {
        let d = age::Decryptor::new(data).map_err(|e| e.to_string())?;
        let mut r = d.decrypt(std::iter::once(&self.identity as &dyn age::Identity)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| e.to_string())?;
        if out.is_empty() {
            return Err("empty plaintext".into());
        }
        Ok(())
    }
}

/// `kskit key generate` killed at random: 120 ECDSA and 12 RSA runs.
fn generate_loop(c: &mut Ctx, root: &Path) {
    let dir = kskit_init(root, "gen", "example.com.");
    let gen = |c: &Ctx, alg: &str| {
        let mut k = kskit(&dir);
        k.args(["key", "generate", "--role", "zsk", "--algorithm", alg, "--recipient", &c.recipient]);
        k
    };
    let full_ec = c.measure(&mut gen(c, "ECDSAP256SHA256"), "key generate ECDSA");
    let full_rsa = c.measure(&mut gen(c, "RSASHA256"), "key generate RSA");
    let mut ids = c.check_keystore(&dir, "after the measured runs");
    assert_eq!(ids.len(), 2);
    for i in 0..132 {
        let (alg, full) = if i % 11 == 10 { ("RSASHA256", full_rsa) } else { ("ECDSAP256SHA256", full_ec) };
        c.spawn_and_kill(&mut gen(c, alg), full);
        let ctx = format!("key generate {alg} #{i}");
        let now = c.check_keystore(&dir, &ctx);
        assert!(now.is_superset(&ids), "{ctx}: keys disappeared: {:?}", ids.difference(&now).collect::<Vec<_>>());
        assert!(now.len() <= ids.len() + 1, "{ctx}: {} keys after one generate from {}", now.len(), ids.len());
        ids = now;
    }
}

/// `kskit zsk pregenerate` (several keys per run) killed at random, each in a fresh keystore.
fn pregenerate_loop(c: &mut Ctx, root: &Path) {
    let pre = |c: &Ctx, dir: &Path| {
        let mut k = kskit(dir);
        k.args(["zsk", "pregenerate", "--until", "+400d", "--recipient", &c.recipient]);
        k
    };
    let d0 = kskit_init(root, "pre-measure", "example.com.");
    let full = c.measure(&mut pre(c, &d0), "zsk pregenerate");
    let all = c.check_keystore(&d0, "pregenerate measured").len();
    assert!(all >= 3, "pregenerate made only {all} keys");
    for i in 0..30 {
        let dir = kskit_init(root, &format!("pre-{i}"), "example.com.");
        c.spawn_and_kill(&mut pre(c, &dir), full);
        let ctx = format!("zsk pregenerate #{i}");
        let n = c.check_keystore(&dir, &ctx).len();
        // Every ZSK stored has its schedule (regression: the key and its
        // timing were two keys.json writes; a kill between them left an
        // unscheduled ZSK that the rerun did not count).
        for k in common::key_list(&dir) {
            assert!(!k["timing"]["active"].is_null(), "{ctx}: ZSK {} stored without its schedule", k["id"]);
        }
        assert!(n <= all, "{ctx}: {n} keys, more than a full run's {all}");
        // Running it again completes the set from whatever state the kill left.
        ok(common::output(&mut pre(c, &dir)), &format!("{ctx}: pregenerate after the kill"));
        assert_eq!(c.check_keystore(&dir, &ctx).len(), all, "{ctx}: the rerun did not complete the key set");
    }
}

/// `kskit zsk pregenerate` after an algorithm rollover was configured (it
/// makes the new algorithm's keys and reschedules the old ZSK: several
/// writes) killed at random; the rerun must reach the same schedule as an
/// uninterrupted run.
fn pregenerate_rollover_loop(c: &mut Ctx, root: &Path) {
    let t0 = (time::OffsetDateTime::now_utc() + time::Duration::days(2)).replace_time(time::Time::MIDNIGHT);
    let fmt = kskit::timeutil::format_rfc3339;
    let prepare = |c: &Ctx, name: &str| -> std::path::PathBuf {
        let dir = kskit_init(root, name, "example.com.");
        let base = ["zsk", "pregenerate", "--from", &fmt(t0), "--until", &fmt(t0 + time::Duration::days(30)), "--recipient", &c.recipient];
        ok(run_kskit(&dir, &base), "zsk pregenerate before the rollover");
        let conf = dir.join("kskit.toml");
        let text = std::fs::read_to_string(&conf).unwrap();
        let text = text
            .replace("# algorithm_rollover_to = \"ECDSAP256SHA256\"", "algorithm_rollover_to = \"ED25519\"")
            .replace("# algorithm_rollover_start = \"2027-07-01T00:00:00Z\"", &format!("algorithm_rollover_start = \"{}\"", fmt(t0 + time::Duration::days(20))));
        assert!(text.contains("algorithm_rollover_to = \"ED25519\""), "kskit.toml template changed");
        std::fs::write(&conf, text).unwrap();
        dir
    };
    let roll = |c: &Ctx, dir: &Path| {
        let mut k = kskit(dir);
        k.args(["zsk", "pregenerate", "--until", &fmt(t0 + time::Duration::days(300)), "--recipient", &c.recipient]);
        k
    };
    let schedule = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = common::key_list(dir).iter().map(|k| format!("{} {}", k["algorithm"], k["timing"])).collect();
        v.sort();
        v
    };
    let d0 = prepare(c, "roll-measure");
    let full = c.measure(&mut roll(c, &d0), "zsk pregenerate with an algorithm rollover");
    let want = schedule(&d0);
    assert!(want.iter().any(|k| k.contains("ED25519")), "no ED25519 ZSK: {want:?}");
    for i in 0..12 {
        let dir = prepare(c, &format!("roll-{i}"));
        c.spawn_and_kill(&mut roll(c, &dir), full);
        let ctx = format!("zsk pregenerate with an algorithm rollover #{i}");
        c.check_keystore(&dir, &ctx);
        ok(common::output(&mut roll(c, &dir)), &format!("{ctx}: pregenerate after the kill"));
        assert_eq!(schedule(&dir), want, "{ctx}: the rerun did not reach the uninterrupted schedule");
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    data_encoding::HEXUPPER.encode(&sha2::Sha256::digest(data))
}

/// `kskit skr import` of two different SKRs, alternately, killed at random.
fn import_loop(c: &mut Ctx, root: &Path) {
    let demo = root.join("demo");
    ok(run_kskit(root, &["demo", "--dir", s(&demo)]), "kskit demo");
    let zsk = demo.join("zsk-side");
    let ksk = demo.join("ksk-side");
    let ta = demo.join("trust-anchor.ds");
    let skr1 = demo.join("response.skr.xml");
    // A second, different SKR for the same request: a new signing (ECDSA signatures differ).
    let skr2 = demo.join("response2.skr.xml");
    let ksk_id = common::key_list(&ksk).first().and_then(|k| k["id"].as_str().map(str::to_string)).expect("demo KSK");
    ok(
        run_kskit(
            &ksk,
            &["ksr", "sign", s(&demo.join("request.ksr.xml")), "--ksk", &ksk_id, "--output", s(&skr2), "--yes", "--passphrase-file", s(&demo.join("passphrase"))],
        ),
        "second ksr sign",
    );
    let mut known = BTreeSet::new();
    for f in [&skr1, &skr2] {
        ok(run_kskit(&zsk, &["skr", "verify", s(f), "--trust-anchor", s(&ta)]), "skr verify");
        known.insert(sha256_hex(&std::fs::read(f).expect("read SKR")));
    }
    assert_eq!(known.len(), 2, "the two SKRs are the same file");
    let import = |f: &PathBuf| {
        let mut k = kskit(&zsk);
        k.args(["skr", "import", s(f), "--ksr", s(&demo.join("request.ksr.xml")), "--trust-anchor", s(&ta)]);
        k
    };
    let full = c.measure(&mut import(&skr2), "skr import");
    let cur_dir = zsk.join("keystore").join("skr").join("example.com");
    let keys_before = c.check_keystore(&zsk, "before the imports");
    for i in 0..50 {
        let f = if i % 2 == 0 { &skr1 } else { &skr2 };
        c.spawn_and_kill(&mut import(f), full);
        let ctx = format!("skr import #{i}");
        let cur = std::fs::read(cur_dir.join("timeline.json")).unwrap_or_else(|e| panic!("{ctx}: timeline.json unreadable: {e}"));
        let v: serde_json::Value = serde_json::from_slice(&cur).unwrap_or_else(|e| panic!("{ctx}: timeline.json is not JSON: {e}"));
        let entries = v["skrs"].as_array().unwrap_or_else(|| panic!("{ctx}: timeline.json lists no SKRs: {v}"));
        assert!(!entries.is_empty() && entries.len() <= 2, "{ctx}: {v}");
        for e in entries {
            let name = e["file"].as_str().unwrap_or_else(|| panic!("{ctx}: timeline.json names no file: {v}"));
            let data = std::fs::read(cur_dir.join(name)).unwrap_or_else(|e| panic!("{ctx}: timeline.json names {name}, which cannot be read: {e}"));
            let digest = sha256_hex(&data);
            assert!(known.contains(&digest), "{ctx}: {name} is neither imported SKR (partial write?)");
            assert_eq!(e["sha256"].as_str(), Some(digest.as_str()), "{ctx}: timeline.json's digest does not match {name}");
        }
        assert_eq!(c.check_keystore(&zsk, &ctx), keys_before, "{ctx}: the import changed the keys");
    }
    // What timeline.json names is usable by the online side.
    ok(run_kskit(&zsk, &["check"]), "kskit check after the import kills");
}

/// Per-key rollover states from `kskit --json rollover status` (in plan order).
fn rollover_states(dir: &Path, ctx: &str) -> Vec<(String, String)> {
    let o = run_kskit(dir, &["--json", "rollover", "status"]);
    assert!(o.status.success(), "{ctx}: rollover status fails after the kill: {}", common::text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{ctx}: rollover status is not JSON: {e}"));
    v["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: no keys in rollover status: {v}"))
        .iter()
        .map(|k| (k["id"].as_str().unwrap_or("").to_string(), k["state"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// Copies a kskit directory (kskit.toml and the keystore tree).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// `kskit rollover step` killed at random while the clock (`--now`) moves
/// on by 10 days a step: after each kill the state loads, and a rerun at the
/// same time ends in the same per-key states as an uninterrupted step on a
/// copy made before the killed one. Parent polls go to a closed port on
/// 127.0.0.1 (refused at once; no traffic leaves the machine).
fn rollover_loop(c: &mut Ctx, root: &Path) {
    let dir = kskit_init(root, "roll", "example.com.");
    let toml = dir.join("kskit.toml");
    let text = std::fs::read_to_string(&toml).expect("read kskit.toml");
    assert!(text.contains("parent_servers = []"), "kskit.toml template changed: parent_servers");
    std::fs::write(&toml, text.replace("parent_servers = []", "parent_servers = [\"127.0.0.1:9\"]")).expect("write kskit.toml");
    ok(run_kskit(&dir, &["zsk", "pregenerate", "--until", "+800d", "--recipient", &c.recipient]), "zsk pregenerate");
    ok(run_kskit(&dir, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256", "--recipient", &c.recipient]), "key generate KSK");
    let step = |dir: &Path, days: u32| {
        let mut k = kskit(dir);
        k.args(["rollover", "step", "--timeout", "1", "--now", &format!("+{days}d")]);
        k
    };
    let full = c.measure(&mut step(&dir, 0), "rollover step");
    let keys = c.check_keystore(&dir, "rollover setup");
    for i in 1..=40u32 {
        let days = i * 10;
        let reference = root.join(format!("roll-ref-{i}"));
        copy_dir(&dir, &reference);
        let ctx = format!("rollover step #{i} (+{days}d)");
        c.spawn_and_kill(&mut step(&dir, days), full);
        let _ = rollover_states(&dir, &ctx);
        assert_eq!(c.check_keystore(&dir, &ctx), keys, "{ctx}: the step changed the keys");
        let rerun = common::output(&mut step(&dir, days));
        assert!(matches!(rerun.status.code(), Some(0) | Some(1)), "{ctx}: rerun failed: {}", common::text(&rerun));
        let o = common::output(&mut step(&reference, days));
        assert!(matches!(o.status.code(), Some(0) | Some(1)), "{ctx}: reference step failed: {}", common::text(&o));
        assert_eq!(rollover_states(&dir, &ctx), rollover_states(&reference, &ctx), "{ctx}: kill and rerun differ from one uninterrupted step");
        let _ = std::fs::remove_dir_all(&reference);
    }
}

#[test]
fn kill_9_leaves_old_or_new_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut c = Ctx::new();
    generate_loop(&mut c, tmp.path());
    pregenerate_loop(&mut c, tmp.path());
    pregenerate_rollover_loop(&mut c, tmp.path());
    import_loop(&mut c, tmp.path());
    rollover_loop(&mut c, tmp.path());
    eprintln!("crash_safety: {} runs killed, {} finished before the kill", c.kills, c.finished);
    assert!(c.kills + c.finished >= 200, "fewer than 200 runs");
    // The delays reach past a full run only rarely; most runs must have been killed.
    assert!(c.kills >= 100, "only {} of {} runs were killed: the delays are too long", c.kills, c.kills + c.finished);
}
