//! The whole offline KSK cycle through the CLI with the KSK on a SoftHSM2
//! token: `kskit hsm keygen` on the token, ZSK pre-generation and a KSR on
//! a separate ZSK side, `ksr verify`, `ksr sign --ksk pkcs11:...`, then
//! `skr verify` and `skr import` with the token key's DS as trust anchor.
//! RSASHA256 2048 and ECDSAP256SHA256, IANA XML and text formats; the text
//! runs use a token limited to a smartcard's raw mechanisms (CKM_ECDSA,
//! CKM_RSA_PKCS), so kskit hashes on the host as it must for a SmartCard-HSM.
//!
//! The trust anchor is `kskit key ds` of the keystore record made by `hsm
//! keygen`; the test checks it independently against the public key read
//! from the token with OpenSC's pkcs11-tool (DS digest computed here with
//! sha2, RFC 4034 §5.1.4). `ksr sign --json` must report exactly one token
//! signing operation per (bundle, RRset, KSK).
//!
//! The same cycle also runs through p11-kit's proxy module
//! (`p11-kit-proxy.so`, the way Knot and many distributions load modules) in
//! front of SoftHSM2 (issue 17.2): the proxy reads a user configuration
//! from `$HOME/.config/pkcs11/modules/`, so each test points HOME at a temp
//! directory holding a `softhsm2.module` file (same name as Debian's system
//! file, which it overrides) and touches no system configuration. Without
//! p11-kit's proxy module it fails under CI=true and skips otherwise.
//!
//! Each test has its own SoftHSM2 configuration and token directory (passed
//! to every command through SOFTHSM2_CONF), so they may run in parallel.
//! Without SoftHSM2 or pkcs11-tool they fail under CI=true and skip
//! otherwise.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::Digest;

/// The mechanisms of a SmartCard-HSM (see ../shared/README.md).
const SMARTCARD_MECHANISMS: &str = "CKM_RSA_PKCS,CKM_RSA_X_509,CKM_ECDSA,CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_EC_KEY_PAIR_GEN";
const TOKEN: &str = "kskit cycle";
const ZONE: &str = "example.com.";

fn tools_present() -> bool {
    SoftHsm::available() && require_tools("OpenSC's pkcs11-tool", "opensc", &["pkcs11-tool"], &[])
}

/// p11-kit's proxy module (Debian package p11-kit-modules).
const P11KIT_PROXY: &str = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";

/// How kskit reaches the SoftHSM2 token.
enum Via {
    /// Loading SoftHSM2 itself.
    Direct,
    /// Through p11-kit's proxy; HOME is this directory, holding the user
    /// module configuration that registers SoftHSM2.
    P11Kit(tempfile::TempDir),
}

impl Via {
    fn p11kit() -> Option<Via> {
        if !require_tools("p11-kit's proxy module", "p11-kit-modules", &[], &[P11KIT_PROXY]) {
            return None;
        }
        let home = tempfile::tempdir().expect("tempdir");
        let modules = home.path().join(".config/pkcs11/modules");
        std::fs::create_dir_all(&modules).expect("module config dir");
        std::fs::write(modules.join("softhsm2.module"), format!("module: {SOFTHSM_MODULE}\n")).expect("module config");
        Some(Via::P11Kit(home))
    }

    fn module(&self) -> &str {
        match self {
            Via::Direct => SOFTHSM_MODULE,
            Via::P11Kit(_) => P11KIT_PROXY,
        }
    }

    /// The token's URI with the test PIN, through this module.
    fn token_uri(&self, label: &str) -> String {
        format!("pkcs11:token={}?module-path={}&pin-value={USER_PIN}", label.replace(' ', "%20"), self.module())
    }

    /// A kskit command in `dir` that sees the SoftHSM2 configuration (and
    /// the p11-kit user configuration).
    fn kskit(&self, hsm: &SoftHsm, dir: &Path) -> Command {
        let mut c = hsm.kskit(dir);
        if let Via::P11Kit(home) = self {
            c.env("HOME", home.path()).env_remove("XDG_CONFIG_HOME");
        }
        c
    }
}

/// The DNSKEY public key field (RFC 3110 for RSA, RFC 6605 for ECDSA) of
/// the public key object `label` on the token, read with pkcs11-tool (an
/// implementation independent of kskit).
fn token_public_key(hsm: &SoftHsm, label: &str, algorithm: &str) -> Vec<u8> {
    let der = hsm.dir.path().join(format!("{label}.der"));
    let o = output(Command::new("pkcs11-tool").env("SOFTHSM2_CONF", &hsm.conf).args([
        "--module",
        SOFTHSM_MODULE,
        "--token-label",
        TOKEN,
        "--read-object",
        "--type",
        "pubkey",
        "--label",
        label,
        "-o",
        s(&der),
    ]));
    assert!(o.status.success(), "pkcs11-tool --read-object failed: {}", text(&o));
    let der = std::fs::read(&der).unwrap();
    if algorithm.starts_with("RSA") {
        let key = rsa::RsaPublicKey::from_public_key_der(&der).expect("RSA SubjectPublicKeyInfo");
        let (e, n) = (key.e().to_bytes_be(), key.n().to_bytes_be());
        let mut out = if e.len() <= 255 { vec![e.len() as u8] } else { vec![0, (e.len() >> 8) as u8, e.len() as u8] };
        out.extend_from_slice(&e);
        out.extend_from_slice(&n);
        out
    } else {
        // P-256 SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y.
        assert_eq!(der.len(), 91, "unexpected P-256 SPKI length");
        assert_eq!(der[26], 4, "not an uncompressed point");
        der[27..].to_vec()
    }
}

/// RFC 4034 §5.1.4: SHA-256 over the owner name (wire form) and the DNSKEY
/// RDATA (flags 257, protocol 3, algorithm, public key), in upper-case hex.
fn ds_sha256(zone: &str, algorithm_number: u8, public_key: &[u8]) -> String {
    let mut h = sha2::Sha256::new();
    for label in zone.trim_end_matches('.').split('.') {
        h.update([label.len() as u8]);
        h.update(label.as_bytes());
    }
    h.update([0u8]);
    h.update([1u8, 1, 3, algorithm_number]);
    h.update(public_key);
    h.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// Number of RRSIGs in an SKR file, counted in the file's own syntax.
fn rrsigs_in(skr: &Path, format: &str) -> usize {
    let body = std::fs::read_to_string(skr).unwrap();
    if format == "iana" {
        body.matches("<SignatureData>").count()
    } else {
        body.lines().filter(|l| l.split_whitespace().nth(2) == Some("RRSIG")).count()
    }
}

/// A token KSK made by `kskit hsm keygen` in the kskit directory `kdir`.
struct TokenKsk {
    keystore_id: String,
    locator: String,
    key_tag: u16,
    ds_file: std::path::PathBuf,
}

/// `kskit hsm keygen` on the test token, then `kskit key ds` of the new
/// keystore record, checked against the token's public key and `hsm list`.
fn token_keygen(hsm: &SoftHsm, via: &Via, kdir: &Path, algorithm: &str, bits: Option<&str>, label: &str) -> TokenKsk {
    let uri = via.token_uri(TOKEN);
    let mut args = vec!["--json", "hsm", "keygen", "--token", &uri, "--algorithm", algorithm, "--label", label];
    if let Some(b) = bits {
        args.extend(["--bits", b]);
    }
    let out = ok(output(via.kskit(hsm, kdir).args(&args)), "kskit hsm keygen");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keystore_id = v["keystore_id"].as_str().expect("keystore_id").to_owned();
    let locator = v["locator"].as_str().expect("locator").to_owned();
    assert!(locator.contains(&format!("module-path={}", via.module())), "the locator names another module: {locator}");
    let key_tag = v["key_tag"].as_u64().and_then(|t| u16::try_from(t).ok()).expect("key_tag");
    assert_eq!(v["flags"], 257, "{out}");

    let ds_file = kdir.join(format!("{label}.ds"));
    kskit_write_ds(kdir, &keystore_id, &ds_file);
    let ds = std::fs::read_to_string(&ds_file).unwrap();
    let f: Vec<&str> = ds.split_whitespace().collect();
    let pos = f.iter().position(|x| *x == "DS").expect("DS line");
    let (tag, alg, digest_type, digest) = (f[pos + 1], f[pos + 2], f[pos + 3], f[pos + 4]);
    assert_eq!(tag, key_tag.to_string());
    assert_eq!(digest_type, "2", "kskit key ds defaults to SHA-256");
    let alg_number: u8 = alg.parse().unwrap();
    let expected = ds_sha256(ZONE, alg_number, &token_public_key(hsm, label, algorithm));
    assert_eq!(digest.to_ascii_uppercase(), expected, "the keystore's DS is not the token key's DS");

    // `hsm list` names the same key tag for the token object.
    let out = ok(output(via.kskit(hsm, kdir).args(["--json", "hsm", "list", "--token", &uri])), "kskit hsm list");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys = v["slots"].as_array().into_iter().flatten().flat_map(|sl| sl["token"]["keys"].as_array().into_iter().flatten());
    let listed = keys.filter(|k| k["label"] == label).flat_map(|k| k["ksk_key_tags"].as_array().into_iter().flatten()).any(|t| t["key_tag"] == key_tag);
    assert!(listed, "hsm list does not show key tag {key_tag} for {label}:\n{out}");
    TokenKsk { keystore_id, locator, key_tag, ds_file }
}

/// The ZSK side: a kskit directory with pre-generated ZSKs and a KSR in
/// `format` for the next 90 days. Returns the ZSK directory and the KSR.
/// Both sides' kskit.toml get ZSKs of the KSK's algorithm (RFC 4035 §2.2:
/// the KSK side refuses a DNSKEY RRset with an algorithm no KSK signs with).
fn zsk_side(t: &Path, format: &str, algorithm: &str, kdir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let zdir = kskit_init(t, "zsk-side", ZONE);
    let zsk = if algorithm.starts_with("RSA") {
        format!(r#"zsk = {{ algorithm = "{algorithm}", bits = 2048, lifetime = "90d" }}"#)
    } else {
        format!(r#"zsk = {{ algorithm = "{algorithm}", lifetime = "90d" }}"#)
    };
    for dir in [zdir.as_path(), kdir] {
        let conf = dir.join("kskit.toml");
        let text = std::fs::read_to_string(&conf).unwrap();
        let line = text.lines().find(|l| l.starts_with("zsk = ")).expect("zsk policy line").to_owned();
        std::fs::write(&conf, text.replace(&line, &zsk)).unwrap();
    }
    ok(run_kskit(&zdir, &["zsk", "pregenerate", "--until", "+90d"]), "kskit zsk pregenerate");
    let ksr = t.join(if format == "iana" { "request.ksr.xml" } else { "request.ksr" });
    ok(run_kskit(&zdir, &["ksr", "generate", "--from", "now", "--until", "+90d", "--format", format, "-o", s(&ksr)]), "kskit ksr generate");
    (zdir, ksr)
}

/// `ksr sign --json` with `ksks`; checks the token signing operations
/// against bundles × RRsets (DNSKEY, CDS, CDNSKEY with --cds publish) × KSKs
/// and against the RRSIGs in the file. Returns the number of bundles.
#[allow(clippy::too_many_arguments)]
fn sign(hsm: &SoftHsm, via: &Via, kdir: &Path, ksr: &Path, skr: &Path, format: &str, ksks: &[String], env_pin: bool) -> u64 {
    let mut args: Vec<&str> = vec!["--json", "ksr", "sign", s(ksr), "-o", s(skr), "--yes", "--cds", "publish"];
    for k in ksks {
        args.extend(["--ksk", k.as_str()]);
    }
    let mut c = via.kskit(hsm, kdir);
    if env_pin {
        c.env("KSKIT_PIN", USER_PIN);
    }
    let out = ok(output(c.args(&args)), "kskit ksr sign (token KSK)");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signed"], true, "{out}");
    let bundles = v["bundles"].as_u64().expect("bundles");
    assert!(bundles >= 2, "{out}");
    let rrsets_per_bundle = 3;
    let expected = bundles * rrsets_per_bundle * ksks.len() as u64;
    assert_eq!(v["token_sign_operations"].as_u64(), Some(expected), "not one token signature per (bundle, RRset, KSK):\n{out}");
    assert_eq!(v["signatures"].as_u64(), Some(expected), "{out}");
    assert_eq!(rrsigs_in(skr, format) as u64, expected, "RRSIGs in {}", skr.display());
    bundles
}

/// The whole cycle for one algorithm and format, loading SoftHSM2 itself.
fn cycle(algorithm: &str, bits: Option<&str>, format: &str) {
    if !tools_present() {
        return;
    }
    cycle_via(&Via::Direct, algorithm, bits, format);
}

/// The whole cycle for one algorithm and format through p11-kit's proxy.
fn cycle_p11kit(algorithm: &str, bits: Option<&str>, format: &str) {
    if !tools_present() {
        return;
    }
    let Some(via) = Via::p11kit() else { return };
    cycle_via(&via, algorithm, bits, format);
}

fn cycle_via(via: &Via, algorithm: &str, bits: Option<&str>, format: &str) {
    let mechanisms = (format == "text").then_some(SMARTCARD_MECHANISMS);
    let hsm = SoftHsm::new(mechanisms);
    hsm.init_token(TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    let kdir = kskit_init(t, "ksk-side", ZONE);
    let ksk = token_keygen(&hsm, via, &kdir, algorithm, bits, "ksk");
    let (zdir, ksr) = zsk_side(t, format, algorithm, &kdir);

    let out = ok(output(via.kskit(&hsm, &kdir).args(["ksr", "verify", s(&ksr)])), "kskit ksr verify");
    assert!(out.contains("KSR accepted"), "{out}");

    let skr = t.join(if format == "iana" { "response.skr.xml" } else { "response.skr" });
    sign(&hsm, via, &kdir, &ksr, &skr, format, &[SoftHsm::with_pin(&ksk.locator)], false);
    let body = std::fs::read_to_string(&skr).unwrap();
    if format == "iana" {
        assert!(body.contains("<Response>") && body.contains("<SignatureData>"), "not an IANA SKR");
    } else {
        assert!(body.starts_with(";; SignedKeyResponse 1.0 "), "not a text SKR");
        assert!(body.contains(&format!("id = {}", ksk.key_tag)));
    }

    // The ZSK side (no token access) verifies against the token key's DS.
    let ta = &ksk.ds_file;
    let o = run_kskit(&zdir, &["--json", "skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(ta)]);
    let out = ok(o, "kskit skr verify");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], true, "{out}");
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(ta)]);
    assert!(ok(o, "kskit skr verify").contains(&format!("key tags {}", ksk.key_tag)));

    // A DS with one digest digit changed does not anchor the SKR.
    let ds = std::fs::read_to_string(ta).unwrap();
    let trimmed = ds.trim_end();
    let last = trimmed.chars().last().unwrap();
    let wrong = format!("{}{}\n", &trimmed[..trimmed.len() - 1], if last == '0' { '1' } else { '0' });
    let wrong_ta = t.join("wrong.ds");
    std::fs::write(&wrong_ta, wrong).unwrap();
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&wrong_ta)]);
    assert_eq!(o.status.code(), Some(1), "a wrong DS was accepted:\n{}", text(&o));
    assert!(text(&o).contains("FAIL SKR-TRUST-ANCHOR"), "{}", text(&o));

    let o = run_kskit(&zdir, &["--json", "skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(ta)]);
    let out = ok(o, "kskit skr import");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], true, "{out}");
    assert!(zdir.join(v["imported"].as_str().expect("imported")).is_file());
    assert!(zdir.join("keystore/skr/example.com/timeline.json").is_file());
    let _ = &ksk.keystore_id;
}

#[test]
fn cycle_rsasha256_2048_token_ksk_iana() {
    cycle("RSASHA256", Some("2048"), "iana");
}

#[test]
fn cycle_rsasha256_2048_token_ksk_text_smartcard_mechanisms() {
    cycle("RSASHA256", Some("2048"), "text");
}

#[test]
fn cycle_ecdsap256_token_ksk_iana() {
    cycle("ECDSAP256SHA256", None, "iana");
}

#[test]
fn cycle_ecdsap256_token_ksk_text_smartcard_mechanisms() {
    cycle("ECDSAP256SHA256", None, "text");
}

#[test]
fn cycle_rsasha256_2048_token_ksk_iana_through_p11kit_proxy() {
    cycle_p11kit("RSASHA256", Some("2048"), "iana");
}

#[test]
fn cycle_ecdsap256_token_ksk_text_smartcard_mechanisms_through_p11kit_proxy() {
    cycle_p11kit("ECDSAP256SHA256", None, "text");
}

/// Two token KSKs (an algorithm rollover's double signature): one
/// referenced by its pkcs11: URI, one by its keystore id with the PIN in
/// KSKIT_PIN; 2 × bundles × 3 token operations. The SKR verifies with both
/// DS records as the trust anchor; with only one of them SKR-TRUST-ANCHOR
/// fails (kskit requires every signing KSK to be pinned).
#[test]
fn two_token_ksks_sign_once_per_bundle_rrset_and_ksk() {
    if !tools_present() {
        return;
    }
    let hsm = SoftHsm::new(None);
    hsm.init_token(TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let kdir = kskit_init(t, "ksk-side", ZONE);
    let rsa = token_keygen(&hsm, &Via::Direct, &kdir, "RSASHA256", Some("2048"), "ksk-rsa");
    let ec = token_keygen(&hsm, &Via::Direct, &kdir, "ECDSAP256SHA256", None, "ksk-ec");
    let (zdir, ksr) = zsk_side(t, "iana", "ECDSAP256SHA256", &kdir);
    ok(output(hsm.kskit(&kdir).args(["ksr", "verify", s(&ksr)])), "kskit ksr verify");
    let skr = t.join("response.skr.xml");
    // The keystore id opens the token key through its locator; the URI's
    // pin-value and KSKIT_PIN both give the PIN.
    sign(&hsm, &Via::Direct, &kdir, &ksr, &skr, "iana", &[SoftHsm::with_pin(&rsa.locator), ec.keystore_id.clone()], true);
    let both = t.join("both.ds");
    let ds_text = std::fs::read_to_string(&rsa.ds_file).unwrap() + &std::fs::read_to_string(&ec.ds_file).unwrap();
    std::fs::write(&both, ds_text).unwrap();
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&both)]);
    let out = ok(o, "kskit skr verify (two KSKs)");
    let (lo, hi) = (rsa.key_tag.min(ec.key_tag), rsa.key_tag.max(ec.key_tag));
    assert!(out.contains(&format!("key tags {lo}, {hi}")) || out.contains(&format!("key tags {hi}, {lo}")), "{out}");
    for (ta, missing) in [(&rsa.ds_file, ec.key_tag), (&ec.ds_file, rsa.key_tag)] {
        let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(ta)]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("FAIL SKR-TRUST-ANCHOR: bundle") && text(&o).contains(&format!("key tag {missing} is not pinned")), "{}", text(&o));
    }
    ok(run_kskit(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&both)]), "kskit skr import (two KSKs)");
}

/// `kskit --json hsm bench` (issue 17.5) on SoftHSM2 limited to a
/// smartcard's mechanisms: the JSON shape of docs/json.md (not timings),
/// the mechanism kskit chose per algorithm (raw CKM_ECDSA, CKM_RSA_PKCS on
/// such a card), a key generation time, and an algorithm the token cannot
/// do (Ed25519) reported as refused with exit 1. No benchmark key is left.
#[test]
fn hsm_bench_json_reports_mechanism_keygen_time_and_refusals() {
    if !tools_present() {
        return;
    }
    let hsm = SoftHsm::new(Some(SMARTCARD_MECHANISMS));
    hsm.init_token(TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    let uri = Via::Direct.token_uri(TOKEN);
    let o = output(hsm.kskit(tmp.path()).args([
        "--json",
        "hsm",
        "bench",
        "--token",
        &uri,
        "--seconds",
        "0.2",
        "--algorithm",
        "ECDSAP256SHA256",
        "--algorithm",
        "RSASHA256/2048",
        "--algorithm",
        "ED25519",
    ]));
    assert_eq!(o.status.code(), Some(1), "a refused algorithm is exit 1:\n{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    assert_eq!(v["module"], SOFTHSM_MODULE, "{v}");
    assert_eq!(v["token"], TOKEN, "{v}");
    for k in ["library_description", "library_version", "manufacturer", "model"] {
        assert!(v[k].is_string(), "{k} missing: {v}");
    }
    assert!(v["seconds_per_case"].is_number(), "{v}");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{v}");
    let by = |alg: &str| results.iter().find(|r| r["algorithm"] == alg).unwrap_or_else(|| panic!("{alg} missing: {v}"));
    for (alg, bits, mech) in [("ECDSAP256SHA256", 256, "CKM_ECDSA"), ("RSASHA256", 2048, "CKM_RSA_PKCS")] {
        let r = by(alg);
        assert_eq!(r["bits"], bits, "{r}");
        assert_eq!(r["mechanism"], mech, "{r}");
        assert!(r["keygen_seconds"].as_f64().is_some_and(|s| s > 0.0), "{r}");
        assert!(r["signatures"].as_u64().is_some_and(|n| n >= 1), "{r}");
        assert!(r["seconds"].as_f64().is_some_and(|s| s > 0.0), "{r}");
        assert!(r["signatures_per_sec"].as_f64().is_some_and(|s| s > 0.0), "{r}");
        assert!(r["error"].is_null(), "{r}");
    }
    let ed = by("ED25519");
    assert!(ed["error"].as_str().is_some_and(|e| e.contains("CKM_EC_EDWARDS_KEY_PAIR_GEN")), "{ed}");
    assert!(ed["mechanism"].is_null() && ed["keygen_seconds"].is_null() && ed["signatures"] == 0, "{ed}");
    // Every benchmark key was removed from the token.
    let out = ok(output(hsm.kskit(tmp.path()).args(["--json", "hsm", "list", "--token", &uri, "--pin"]).env("KSKIT_PIN", USER_PIN)), "kskit hsm list");
    assert!(!out.contains("kskit-bench-"), "a benchmark key was left on the token:\n{out}");
}
