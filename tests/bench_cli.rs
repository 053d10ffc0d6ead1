//! `kskit bench` output, `kskit ksr sign-batch`, and the count of token
//! signing operations in a ceremony (library level, SoftHSM2). No test here
//! asserts anything about speed: performance is measured by `kskit bench`
//! and benches/compare.sh, never by timed tests.

use std::path::Path;
use std::process::Command;

use kskit::backends::pkcs11::{self, OpenOptions, Pkcs11Signer};
use kskit::backends::soft::{self, KeyEncryption};
use kskit::backends::Signer;
use kskit::dnssec::{rtype, Algorithm, DigestType, FLAG_SEP, FLAG_ZONE};
use kskit::keys::keyref::Pkcs11Uri;
use kskit::ksr::model::Format;
use kskit::skr::sign::{count_signatures, sign_ksr, CdsMode, Ksk, SignOptions};

const KSKIT: &str = env!("CARGO_BIN_EXE_kskit");

fn kskit(args: &[&str]) -> std::process::Output {
    Command::new(KSKIT).args(args).env_remove("KSKIT_CONFIG").output().unwrap()
}

#[test]
fn bench_json_is_one_object_per_case_with_positive_rates() {
    let out = kskit(&["bench", "--seconds", "0.2", "--algorithm", "ECDSAP256SHA256", "--threads", "2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let objs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // One case (P-256), measured on 1 and on 2 threads.
    assert_eq!(objs.len(), 2, "{text}");
    let threads: Vec<u64> = objs.iter().map(|o| o["threads"].as_u64().unwrap()).collect();
    assert_eq!(threads, vec![1, 2]);
    for o in &objs {
        assert_eq!(o["algorithm"], "ECDSAP256SHA256");
        assert_eq!(o["bits"], 256);
        assert_eq!(o["backend"], "soft");
        for f in ["sign_per_sec", "verify_per_sec", "sign_verify_per_sec"] {
            let v = o[f].as_f64().unwrap_or_else(|| panic!("{f} missing in {o}"));
            assert!(v > 0.0 && v.is_finite(), "{f} = {v}");
        }
        // The signing input of a DNSKEY RRset of two P-256 ZSKs and the KSK:
        // RRSIG RDATA (18 + 13 for example.com.) + 3 RRs of 13 + 10 + 68 octets.
        assert_eq!(o["input_bytes"], 18 + 13 + 3 * (13 + 10 + 68));
    }
}

#[test]
fn bench_rejects_unknown_and_verify_only_algorithms() {
    for alg in ["NOPE", "RSASHA1", "RSASHA256/1024"] {
        let out = kskit(&["bench", "--seconds", "0.1", "--algorithm", alg]);
        assert_eq!(out.status.code(), Some(2), "{alg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error"), "{alg}: {err}");
    }
    let out = kskit(&["bench", "--backend", "pkcs11", "--seconds", "0.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
}

/// An age key file (passphrase) with a new KSK, and the passphrase file.
fn ksk_file(dir: &Path, alg: Algorithm) -> (std::path::PathBuf, std::path::PathBuf, kskit::dnssec::Dnskey) {
    let k = soft::generate(alg, None, FLAG_ZONE | FLAG_SEP).unwrap();
    let pass = dir.join("pass");
    std::fs::write(&pass, "bench test passphrase\n").unwrap();
    let enc = KeyEncryption::Passphrase(kskit::secrets::Secret::new("bench test passphrase".into()));
    let file = dir.join("ksk.age");
    std::fs::write(&file, soft::encrypt_key(&k, &enc).unwrap()).unwrap();
    (file, pass, k.dnskey().clone())
}

#[test]
fn sign_batch_signs_every_ksr_and_each_skr_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = kskit(&["bench", "--write-ksrs", dir.path().to_str().unwrap(), "--zones", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (key, pass, dnskey) = ksk_file(dir.path(), Algorithm::EcdsaP256Sha256);
    let outdir = dir.path().join("skr");
    let out = kskit(&[
        "ksr",
        "sign-batch",
        dir.path().join("ksr").to_str().unwrap(),
        "--ksk",
        &format!("file:{}", key.display()),
        "--policy",
        dir.path().join("ksk-policy.toml").to_str().unwrap(),
        "-o",
        outdir.to_str().unwrap(),
        "--yes",
        "--cds",
        "publish",
        "--passphrase-file",
        pass.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["signed"], true);
    assert_eq!(j["ksrs"], 3);
    let mut sigs = 0usize;
    for z in ["z0001.bench.example.", "z0002.bench.example.", "z0003.bench.example."] {
        let ksr = kskit::formats::parse_ksr_any(&std::fs::read(dir.path().join("ksr").join(format!("{z}ksr"))).unwrap()).unwrap();
        let skr = kskit::formats::parse_skr_any(&std::fs::read(outdir.join(format!("{z}skr"))).unwrap()).unwrap();
        assert_eq!(kskit::dnssec::name::to_presentation(&skr.domain), z);
        let ta = kskit::skr::checks::TrustAnchor { domain: skr.domain.clone(), ds: vec![], dnskeys: vec![dnskey.clone()] };
        let rep = kskit::skr::checks::check_skr(&skr, &ta, Some(&ksr), ksr.bundles[0].inception);
        assert!(rep.passed(), "{z}: {}", rep.to_text());
        for b in &skr.bundles {
            // DNSKEY, CDS and CDNSKEY each signed once by the one KSK.
            let mut covered: Vec<u16> = b.signatures.iter().map(|s| s.rrsig.type_covered).collect();
            covered.sort();
            assert_eq!(covered, vec![rtype::DNSKEY, rtype::CDS, rtype::CDNSKEY]);
            sigs += 3;
        }
    }
    assert_eq!(j["signatures"].as_u64().unwrap() as usize, sigs);

    // A second run into the same directory refuses to overwrite the SKRs.
    let again = kskit(&[
        "ksr", "sign-batch", dir.path().join("ksr").to_str().unwrap(), "--ksk", &format!("file:{}", key.display()),
        "--policy", dir.path().join("ksk-policy.toml").to_str().unwrap(), "-o", outdir.to_str().unwrap(), "--yes",
        "--passphrase-file", pass.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}

#[test]
fn sign_batch_refuses_the_whole_batch_when_one_ksr_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kskit(&["bench", "--write-ksrs", dir.path().to_str().unwrap(), "--zones", "2"]).status.success());
    // A policy that accepts only the first zone: the second KSR fails KSR-DOMAIN.
    let policy = dir.path().join("one-zone.toml");
    std::fs::write(&policy, "accepted_domains = [\"z0001.bench.example.\"]\n").unwrap();
    let (key, pass, _) = ksk_file(dir.path(), Algorithm::Ed25519);
    let outdir = dir.path().join("skr");
    let out = kskit(&[
        "ksr", "sign-batch", dir.path().join("ksr").to_str().unwrap(), "--ksk", &format!("file:{}", key.display()),
        "--policy", policy.to_str().unwrap(), "-o", outdir.to_str().unwrap(), "--yes", "--passphrase-file", pass.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("z0002.bench.example.ksr") && err.contains("KSR-DOMAIN"), "{err}");
    assert!(!outdir.exists(), "nothing may be written when the batch is refused");
}

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";

/// Whether SoftHSM2 is usable; in CI its absence is a failure, elsewhere a skip.
fn softhsm_available() -> bool {
    let ok = Path::new(MODULE).is_file()
        && Command::new("softhsm2-util").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("SoftHSM2 ({MODULE} and softhsm2-util) is required in CI: apt-get install softhsm2");
        }
        eprintln!("note: SoftHSM2 not installed; skipping the token signing-count test");
    }
    ok
}

/// A SoftHSM2 configuration of its own under `dir` with one initialised
/// token `label` (user PIN [`PIN`]); returns the configuration file.
fn softhsm_token(dir: &Path, label: &str) -> std::path::PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(&conf, format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display())).unwrap();
    let init = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", label, "--so-pin", "5678", "--pin", PIN])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    conf
}

/// A token ceremony performs exactly one signing operation per (bundle,
/// RRset, KSK): with CDS publication (DNSKEY, CDS and CDNSKEY RRsets) and
/// two KSKs on a SoftHSM2 token, each KSK's `sign_count` is 3 per SKR bundle.
#[test]
fn token_ceremony_signs_once_per_bundle_rrset_and_ksk() {
    if !softhsm_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm_token(dir.path(), "bench-count");
    // This test binary has no other in-process SoftHSM2 user: the variable is read at C_Initialize.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let uri: Pkcs11Uri = format!("pkcs11:token=bench-count?module-path={MODULE}&pin-value={PIN}").parse().unwrap();
    let opts = OpenOptions::default();
    let k1 = pkcs11::keygen(&uri, Algorithm::EcdsaP256Sha256, None, "ksk-a", &opts).unwrap();
    let k2 = pkcs11::keygen(&uri, Algorithm::EcdsaP256Sha256, None, "ksk-b", &opts).unwrap();
    let mut u1 = k1.uri.clone();
    u1.set_pin_value(Some(kskit::secrets::Secret::new(PIN.into())));
    let mut u2 = k2.uri.clone();
    u2.set_pin_value(Some(kskit::secrets::Secret::new(PIN.into())));
    let s1 = Pkcs11Signer::open(&u1, Algorithm::EcdsaP256Sha256, FLAG_ZONE | FLAG_SEP, &opts).unwrap();
    let s2 = Pkcs11Signer::open(&u2, Algorithm::EcdsaP256Sha256, FLAG_ZONE | FLAG_SEP, &opts).unwrap();
    assert_eq!((s1.sign_count(), s2.sign_count()), (0, 0));

    let now = kskit::timeutil::whole_seconds(time::OffsetDateTime::now_utc());
    let zone = kskit::dnssec::parse_name("example.net.").unwrap();
    for format in [Format::Text, Format::Iana] {
        let (b1, b2) = (s1.sign_count(), s2.sign_count());
        let ksr = kskit::bench::rollover_ksr(&zone, Algorithm::EcdsaP256Sha256, format, now, 60).unwrap();
        let opts = SignOptions { cds: CdsMode::Publish(vec![DigestType::Sha256]), ..SignOptions::default() };
        let ksks = [Ksk { signer: &s1, identifier: "ksk-a".into() }, Ksk { signer: &s2, identifier: "ksk-b".into() }];
        let skr = sign_ksr(&ksr, &ksks, &opts, &mut |_, _| {}).unwrap();
        let bundles = skr.bundles.len() as u64;
        assert!(bundles >= 2, "{format:?}: {bundles} bundles");
        // Exactly 3 RRsets x 1 operation per bundle for each KSK.
        assert_eq!(s1.sign_count() - b1, 3 * bundles, "{format:?}: KSK a");
        assert_eq!(s2.sign_count() - b2, 3 * bundles, "{format:?}: KSK b");
        assert_eq!(count_signatures(&ksr, 2, &opts).unwrap() as u64, 6 * bundles);
        // Every signature is in the SKR and the SKR passes its checks.
        let total: usize = skr.bundles.iter().map(|b| b.signatures.len()).sum();
        assert_eq!(total as u64, 6 * bundles);
        let ta = kskit::skr::checks::TrustAnchor { domain: zone.clone(), ds: vec![], dnskeys: vec![s1.dnskey().clone(), s2.dnskey().clone()] };
        let rep = kskit::skr::checks::check_skr(&skr, &ta, Some(&ksr), ksr.bundles[0].inception);
        assert!(rep.passed(), "{format:?}: {}", rep.to_text());
    }
}

/// `kskit bench --backend pkcs11` makes its keys on the token, measures
/// them, and removes them again through the backend (`pkcs11::delete_objects`):
/// the token's own keys stay, no `kskit-bench-` object is left.
#[test]
fn token_bench_removes_its_keys_and_only_its_keys() {
    if !softhsm_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm_token(dir.path(), "bench-clean");
    let uri = format!("pkcs11:token=bench-clean?module-path={MODULE}&pin-value={PIN}");
    let k = dir.path().join("k");
    let made = Command::new(KSKIT).args(["init", k.to_str().unwrap(), "--zone", "example.com."]).env_remove("KSKIT_CONFIG").output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let run = |args: &[&str]| {
        Command::new(KSKIT).args(args).current_dir(&k).env_remove("KSKIT_CONFIG").env("SOFTHSM2_CONF", &conf).output().unwrap()
    };
    let kg = run(&["hsm", "keygen", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--label", "real-ksk"]);
    assert!(kg.status.success(), "{}", String::from_utf8_lossy(&kg.stderr));
    let out = run(&["bench", "--backend", "pkcs11", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--seconds", "0.2", "--threads", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = run(&["--json", "hsm", "list", "--token", &uri]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let labels: Vec<String> = v["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|sl| sl["token"]["keys"].as_array().into_iter().flatten())
        .filter_map(|k| k["label"].as_str().map(str::to_owned))
        .collect();
    assert!(labels.iter().any(|l| l == "real-ksk"), "the token's own key is gone: {labels:?}");
    assert!(!labels.iter().any(|l| l.starts_with("kskit-bench-")), "benchmark keys left on the token: {labels:?}");
}
