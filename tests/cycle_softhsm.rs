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

/// The public key object `label` on the test token, read with pkcs11-tool.
fn token_public_key(hsm: &SoftHsm, label: &str, algorithm: &str) -> Vec<u8> {
    let mut c = Command::new("pkcs11-tool");
    c.env("SOFTHSM2_CONF", &hsm.conf);
    pkcs11_tool_public_key(c, SOFTHSM_MODULE, TOKEN, label, algorithm, &hsm.dir.path().join(format!("{label}.der")))
}

/// The shared token cycle (tests/common/mod.rs) on the test token through `via`.
fn cycle_token<'a>(via: &Via, kskit: &'a dyn Fn(&Path) -> Command, public_key: &'a dyn Fn(&str, &str) -> Vec<u8>) -> CycleToken<'a> {
    CycleToken { kskit, uri: via.token_uri(TOKEN), module: via.module().to_string(), pin: USER_PIN, public_key }
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

/// `ksr verify` and `ksr sign` with `ksks` (the shared step), and the
/// RRSIGs in the file counted in its own syntax: one per (bundle, RRset, KSK).
fn sign(token: &CycleToken, kdir: &Path, ksr: &Path, skr: &Path, format: &str, ksks: &[String], env_pin: bool) -> u64 {
    let v = token.verify_and_sign(kdir, ksr, skr, ksks, env_pin);
    let bundles = v["bundles"].as_u64().expect("bundles");
    assert_eq!(rrsigs_in(skr, format) as u64, bundles * 3 * ksks.len() as u64, "RRSIGs in {}", skr.display());
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
    let kskit = |d: &Path| via.kskit(&hsm, d);
    let public_key = |label: &str, alg: &str| token_public_key(&hsm, label, alg);
    let token = cycle_token(via, &kskit, &public_key);
    let ksk = token.keygen(&kdir, ZONE, algorithm, bits, "ksk");
    let (zdir, ksr) = cycle_zsk_side(t, ZONE, format, algorithm, &kdir);

    let skr = t.join(if format == "iana" { "response.skr.xml" } else { "response.skr" });
    sign(&token, &kdir, &ksr, &skr, format, &[SoftHsm::with_pin(&ksk.locator)], false);
    let body = std::fs::read_to_string(&skr).unwrap();
    if format == "iana" {
        assert!(body.contains("<Response>") && body.contains("<SignatureData>"), "not an IANA SKR");
    } else {
        assert!(body.starts_with(";; SignedKeyResponse 1.0 "), "not a text SKR");
        assert!(body.contains(&format!("id = {}", ksk.key_tag)));
    }

    // The ZSK side (no token access) names the token key's tag when it verifies.
    let ta = &ksk.ds_file;
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

    // It verifies against the right DS and imports.
    cycle_verify_and_import(&zdir, &skr, &ksr, ta);
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
    let kskit = |d: &Path| hsm.kskit(d);
    let public_key = |label: &str, alg: &str| token_public_key(&hsm, label, alg);
    let token = cycle_token(&Via::Direct, &kskit, &public_key);
    let rsa = token.keygen(&kdir, ZONE, "RSASHA256", Some("2048"), "ksk-rsa");
    let ec = token.keygen(&kdir, ZONE, "ECDSAP256SHA256", None, "ksk-ec");
    let (zdir, ksr) = cycle_zsk_side(t, ZONE, "iana", "ECDSAP256SHA256", &kdir);
    let skr = t.join("response.skr.xml");
    // The keystore id opens the token key through its locator; the URI's
    // pin-value and KSKIT_PIN both give the PIN.
    sign(&token, &kdir, &ksr, &skr, "iana", &[SoftHsm::with_pin(&rsa.locator), ec.keystore_id.clone()], true);
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
