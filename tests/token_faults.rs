//! Token faults during `kskit ksr sign` with a token KSK: a missing module
//! file, a token that is gone, a token pulled mid-run, a wrong PIN, wrong
//! signatures, and a module that stops answering (in C_Sign or in C_Login).
//!
//! The misbehaving module is tests/shim/slowshim.c, compiled here with `cc
//! -shared -fPIC` into a temp dir: it forwards to SoftHSM2 and, as its
//! environment says, sleeps (or never returns) in C_Sign or C_Login,
//! answers CKR_DEVICE_REMOVED after N signatures, or corrupts the signatures
//! it returns. It appends a line to a
//! counter file on every C_Login, so the tests can assert kskit never makes
//! a second PIN attempt.
//!
//! Every case asserts: exit 2 with a message naming the module (and the
//! slot or token), no SKR file and no temp file left in the output
//! directory, at most one C_Login. Hangs are bounded by the `timeout=` URI
//! attribute or `--token-timeout` (2 s here); the test only checks the run
//! ends within a generous guard (no assertion on speed).
//!
//! Needs SoftHSM2 and a C compiler: under CI=true their absence fails the
//! tests; otherwise they skip with a note.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{kskit_init, ok, output, require_tools, s, SoftHsm, SOFTHSM_MODULE, USER_PIN};

const TOKEN: &str = "faults";
/// A run still going after this is hung (the configured timeouts are 2 s).
const HANG_GUARD: Duration = Duration::from_secs(90);

fn available() -> bool {
    SoftHsm::available() && require_tools("a C compiler", "gcc", &["cc"], &[])
}

/// Compiles the shim into `dir`; returns the module path.
fn build_shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shim/slowshim.c");
    let out = dir.join("libslowshim.so");
    let o = output(Command::new("cc").args(["-shared", "-fPIC", "-Wall", "-o", s(&out), s(&src), "-ldl"]));
    assert!(o.status.success(), "cannot compile the PKCS#11 shim: {}", common::text(&o));
    out
}

struct Setup {
    hsm: SoftHsm,
    tmp: tempfile::TempDir,
    kdir: PathBuf,
    ksr: PathBuf,
    shim: PathBuf,
    logins: PathBuf,
    out: PathBuf,
}

impl Setup {
    /// A token with an ECDSA KSK `ksk` (made through the shim), a kskit
    /// directory with its keystore record, and a KSR from `kskit demo`.
    fn new() -> Setup {
        let hsm = SoftHsm::new(None);
        hsm.init_token(TOKEN);
        let tmp = tempfile::tempdir().expect("tempdir");
        let shim = build_shim(tmp.path());
        let kdir = kskit_init(tmp.path(), "ksk-side", "example.com.");
        let demo = tmp.path().join("demo");
        ok(common::run_kskit(tmp.path(), &["demo", "--dir", s(&demo)]), "kskit demo");
        let uri = format!("pkcs11:token={TOKEN}?module-path={}&pin-value={USER_PIN}", shim.display());
        ok(
            output(hsm.kskit(&kdir).args(["hsm", "keygen", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--label", "ksk"])),
            "kskit hsm keygen through the shim",
        );
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).expect("out dir");
        let logins = tmp.path().join("logins");
        Setup { hsm, kdir, ksr: demo.join("request.ksr.xml"), shim: shim.clone(), logins, out, tmp }
    }

    /// The KSK's URI through `module` with `pin` and extra query attributes.
    fn ksk_uri(&self, module: &Path, pin: &str, extra: &str) -> String {
        format!("pkcs11:token={TOKEN};object=ksk?module-path={}&pin-value={pin}{extra}", module.display())
    }

    /// `kskit ksr sign` with `args` after the KSR, the shim's environment
    /// `env`; returns (exit code, stderr). Killed and failed after HANG_GUARD.
    fn sign(&self, ksk: &str, extra_args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let skr = self.out.join("skr.xml");
        let mut c = self.hsm.kskit(&self.kdir);
        c.args(["ksr", "sign", s(&self.ksr), "--ksk", ksk, "-o", s(&skr), "--yes"])
            .args(extra_args)
            .env("SLOWSHIM_LOGIN_COUNT", &self.logins)
            .env("SLOWSHIM_MODULE", SOFTHSM_MODULE);
        for (k, v) in env {
            c.env(k, v);
        }
        common::run_with_guard(&mut c, HANG_GUARD, &format!("kskit ksr sign with {env:?} (the token timeout did not work)"))
    }

    /// C_Login calls the shim counted.
    fn login_count(&self) -> usize {
        std::fs::read_to_string(&self.logins).map(|t| t.lines().count()).unwrap_or(0)
    }

    /// The output directory is empty: no SKR, no temp file.
    #[track_caller]
    fn assert_no_output(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.out).expect("read out dir").map(|e| e.expect("entry").file_name()).collect();
        assert!(left.is_empty(), "files left in the output directory after a failed signing: {left:?}");
    }
}

/// Asserts a refusal: exit 2, and the message contains every needle.
#[track_caller]
fn assert_error(r: &(Option<i32>, String), needles: &[&str]) {
    assert_eq!(r.0, Some(2), "expected exit 2, got {:?}:\n{}", r.0, r.1);
    for n in needles {
        assert!(r.1.contains(n), "the error does not name {n:?}:\n{}", r.1);
    }
}

#[test]
fn the_shim_forwards_faithfully() {
    // Without faults the shim signs: the fault cases below test kskit, not a broken shim.
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[]);
    assert_eq!(r.0, Some(0), "signing through the shim failed:\n{}", r.1);
    assert!(t.out.join("skr.xml").is_file());
    assert_eq!(t.login_count(), 1, "one login per run");
}

#[test]
fn module_file_missing() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let missing = t.tmp.path().join("no-such-module.so");
    let r = t.sign(&t.ksk_uri(&missing, USER_PIN, ""), &[], &[]);
    assert_error(&r, &["no-such-module.so", "does not exist"]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 0);
}

#[test]
fn token_gone_before_the_run() {
    if !available() {
        return;
    }
    let t = Setup::new();
    // Remove the token's directory (SoftHSM2 keeps one per token): the slot is empty.
    let tokens = t.hsm.dir.path().join("tokens");
    for e in std::fs::read_dir(&tokens).expect("token dir") {
        std::fs::remove_dir_all(e.expect("entry").path()).expect("remove token");
    }
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[]);
    assert_error(&r, &["no token", TOKEN, s(&t.shim)]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 0);
}

#[test]
fn token_removed_mid_run() {
    if !available() {
        return;
    }
    let t = Setup::new();
    // The probe signature and a few bundles succeed, then the token is "pulled".
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[("SLOWSHIM_SIGN_FAIL_AFTER", "4")]);
    assert_error(&r, &["removed", &format!("token \"{TOKEN}\""), s(&t.shim)]);
    // Regression: the cause was printed twice (SignError::Bundle's text and again as its source).
    assert_eq!(r.1.matches("signing failed").count(), 1, "the cause is repeated:\n{}", r.1);
    t.assert_no_output();
    assert_eq!(t.login_count(), 1, "kskit logged in again after the token went away");
}

#[test]
fn wrong_pin_is_tried_once() {
    if !available() {
        return;
    }
    let t = Setup::new();
    // A second key on the same token: kskit must not log in again for it.
    let uri = format!("pkcs11:token={TOKEN}?module-path={}&pin-value={USER_PIN}", t.shim.display());
    ok(
        output(t.hsm.kskit(&t.kdir).args(["hsm", "keygen", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--label", "ksk2"])),
        "second key",
    );
    let _ = std::fs::remove_file(&t.logins);
    let k1 = t.ksk_uri(&t.shim, "0000", "");
    let k2 = format!("pkcs11:token={TOKEN};object=ksk2?module-path={}&pin-value=0000", t.shim.display());
    let r = t.sign(&k1, &["--ksk", &k2], &[]);
    assert_error(&r, &[&format!("wrong PIN for token \"{TOKEN}\"")]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 1, "more than one PIN attempt:\n{}", r.1);
    // The right PIN still works afterwards (the wrong one did not lock the token).
    let _ = std::fs::remove_file(&t.logins);
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[]);
    assert_eq!(r.0, Some(0), "{}", r.1);
}

#[test]
fn sign_that_never_returns_times_out_by_uri() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, "&timeout=2"), &[], &[("SLOWSHIM_SIGN_SLEEP", "forever")]);
    assert_error(&r, &["did not answer within 2 s", "slot", s(&t.shim), "signing"]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 1);
}

#[test]
fn login_that_never_returns_times_out_by_flag() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &["--token-timeout", "2"], &[("SLOWSHIM_LOGIN_SLEEP", "forever")]);
    assert_error(&r, &["did not answer within 2 s", "slot", s(&t.shim), "logging in"]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 1, "the PIN was tried again after the timeout");
}

#[test]
fn wrong_signatures_are_refused() {
    // A token whose signatures do not verify: kskit checks each one and
    // writes no SKR.
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[("SLOWSHIM_SIGN_CORRUPT", "1")]);
    assert_error(&r, &["does not verify", &format!("token {TOKEN:?}")]);
    t.assert_no_output();
    assert_eq!(t.login_count(), 1);
}

#[test]
fn slow_sign_within_the_timeout_completes() {
    // The timeout is per call: a token taking 1 s per signature, with a
    // 5 s timeout, finishes the whole run.
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, "&timeout=5"), &[], &[("SLOWSHIM_SIGN_SLEEP", "1")]);
    assert_eq!(r.0, Some(0), "a slow token within its timeout failed:\n{}", r.1);
    assert!(t.out.join("skr.xml").is_file());
    assert_eq!(t.login_count(), 1);
}

/// A token that reports "final try" (the next wrong PIN locks it): kskit
/// refuses to log in at all unless --allow-final-try is given, and a locked
/// token is refused outright. The shim sets the flags in C_GetTokenInfo.
#[test]
fn final_try_and_locked_tokens_are_not_logged_into() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let ksk = t.ksk_uri(&t.shim, USER_PIN, "");
    let _ = std::fs::remove_file(&t.logins);
    let r = t.sign(&ksk, &[], &[("SLOWSHIM_TOKEN_FLAGS", "0x20000")]);
    assert_error(&r, &["final try", "--allow-final-try"]);
    assert_eq!(t.login_count(), 0, "kskit tried a login on a final-try token:\n{}", r.1);
    t.assert_no_output();

    let r = t.sign(&ksk, &[], &[("SLOWSHIM_TOKEN_FLAGS", "0x40000")]);
    assert_eq!(r.0, Some(2), "{}", r.1);
    assert!(r.1.to_lowercase().contains("locked"), "the error does not say the PIN is locked:\n{}", r.1);
    assert_eq!(t.login_count(), 0, "kskit tried a login on a locked token:\n{}", r.1);
    t.assert_no_output();

    // With the explicit flag, the (right) PIN is tried once and signing works.
    let r = t.sign(&ksk, &["--allow-final-try"], &[("SLOWSHIM_TOKEN_FLAGS", "0x20000")]);
    assert_eq!(r.0, Some(0), "{}", r.1);
    assert_eq!(t.login_count(), 1);
}

/// The C_Login lines the shim counted: (slot, user type) each.
fn logins_by_slot(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let field = |name: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("shim login line without {name}: {l:?}"))
            };
            (field("slot="), field("user="))
        })
        .collect()
}

/// `softhsm2-util --init-token` for `label` with user PIN `pin`.
fn init_token_with_pin(hsm: &SoftHsm, label: &str, pin: &str) {
    let o = output(
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &hsm.conf)
            .args(["--init-token", "--free", "--label", label, "--so-pin", common::SO_PIN, "--pin", pin]),
    );
    assert!(o.status.success(), "softhsm2-util --init-token {label}: {}", common::text(&o));
}

/// The slot id of each token label, from `kskit hsm list --json` (no PIN).
fn slots_of(t: &Setup) -> Vec<(String, u64)> {
    let o = output(t.hsm.kskit(&t.kdir).args(["--json", "hsm", "list", "--module", s(&t.shim)]).env("SLOWSHIM_MODULE", SOFTHSM_MODULE));
    let v: serde_json::Value = serde_json::from_str(&common::ok(o, "hsm list --json")).expect("hsm list JSON");
    v["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|sl| Some((sl["token"]["label"].as_str()?.to_string(), sl["slot_id"].as_u64()?)))
        .collect()
}

/// `kskit hsm list --module SHIM --pin ARGS` with KSKIT_PIN=`pin`; (exit code, stderr).
fn hsm_list_pin(t: &Setup, pin: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut c = t.hsm.kskit(&t.kdir);
    c.args(["hsm", "list", "--module", s(&t.shim), "--pin"])
        .args(args)
        .env("KSKIT_PIN", pin)
        .env("SLOWSHIM_LOGIN_COUNT", &t.logins)
        .env("SLOWSHIM_MODULE", SOFTHSM_MODULE);
    common::run_with_guard(&mut c, HANG_GUARD, "kskit hsm list --pin")
}

/// Issue 14.7: two KSKs on one token in one `ksr sign` run share the
/// token's session: exactly one C_Login (the second key neither logs in
/// again nor resolves its PIN: its pin-source file does not exist).
#[test]
fn two_ksks_on_one_token_log_in_once() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let uri = format!("pkcs11:token={TOKEN}?module-path={}&pin-value={USER_PIN}", t.shim.display());
    ok(
        output(t.hsm.kskit(&t.kdir).args(["hsm", "keygen", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--label", "ksk2"])),
        "second key",
    );
    let _ = std::fs::remove_file(&t.logins);
    let k1 = t.ksk_uri(&t.shim, USER_PIN, "");
    let no_pin = t.tmp.path().join("no-such-pin-file");
    let k2 = format!("pkcs11:token={TOKEN};object=ksk2?module-path={}&pin-source={}", t.shim.display(), no_pin.display());
    let r = t.sign(&k1, &["--ksk", &k2], &[]);
    assert_eq!(r.0, Some(0), "signing with two KSKs on one token failed:\n{}", r.1);
    let skr = std::fs::read_to_string(t.out.join("skr.xml")).expect("SKR written");
    assert!(skr.contains("RRSIG") || skr.contains("Signature"), "no signatures in the SKR");
    let logins = logins_by_slot(&t.logins);
    assert_eq!(logins.len(), 1, "two KSKs on one token: expected one C_Login, got {logins:?}");
    assert_eq!(logins[0].1, 1, "the one login is a CKU_USER login");
}

/// Issue 14.7: `hsm list --pin --token X` logs in to X only: another
/// token of the module, with another PIN, sees no C_Login at all (each
/// wrong PIN would cost it a retry). By label and by serial.
#[test]
fn hsm_list_pin_logs_in_only_to_the_named_token() {
    if !available() {
        return;
    }
    let t = Setup::new();
    init_token_with_pin(&t.hsm, "other", "87654321");
    let slots = slots_of(&t);
    let slot = |label: &str| slots.iter().find(|(l, _)| l == label).map(|(_, s)| *s).unwrap_or_else(|| panic!("no token {label} in {slots:?}"));
    let (mine, other) = (slot(TOKEN), slot("other"));

    let r = hsm_list_pin(&t, USER_PIN, &["--token", TOKEN]);
    assert_eq!(r.0, Some(0), "{}", r.1);
    let logins = logins_by_slot(&t.logins);
    assert_eq!(logins.iter().filter(|(s, _)| *s == other).count(), 0, "the PIN was tried on the other token: {logins:?}");
    assert_eq!(logins.iter().filter(|(s, _)| *s == mine).count(), 1, "{logins:?}");

    // The other token, by its serial, with its own PIN: the first one is untouched.
    let _ = std::fs::remove_file(&t.logins);
    let o = output(t.hsm.kskit(&t.kdir).args(["--json", "hsm", "list", "--module", s(&t.shim)]).env("SLOWSHIM_MODULE", SOFTHSM_MODULE));
    let v: serde_json::Value = serde_json::from_str(&common::ok(o, "hsm list --json")).expect("JSON");
    let serial = v["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|sl| sl["slot_id"].as_u64() == Some(other))
        .and_then(|sl| sl["token"]["serial"].as_str())
        .expect("serial of the other token")
        .to_string();
    let r = hsm_list_pin(&t, "87654321", &["--serial", &serial]);
    assert_eq!(r.0, Some(0), "{}", r.1);
    let logins = logins_by_slot(&t.logins);
    assert_eq!(logins, vec![(other, 1)], "only the token with that serial is logged into");
}

/// Issue 14.7: `hsm list --pin` refuses, before any C_Login, when more than
/// one token could take the PIN: no --token on a two-token module, and a
/// label two tokens share.
#[test]
fn hsm_list_pin_refuses_several_candidate_tokens() {
    if !available() {
        return;
    }
    let t = Setup::new();
    init_token_with_pin(&t.hsm, "twin", USER_PIN);
    init_token_with_pin(&t.hsm, "twin", "87654321");
    let _ = std::fs::remove_file(&t.logins);

    let r = hsm_list_pin(&t, USER_PIN, &[]);
    assert_error(&r, &["--pin logs in to one token", "3 tokens match", "--token"]);
    assert_eq!(t.login_count(), 0, "a login happened before the refusal:\n{}", r.1);

    let r = hsm_list_pin(&t, USER_PIN, &["--token", "twin"]);
    assert_error(&r, &["2 tokens match", "label \"twin\""]);
    assert_eq!(t.login_count(), 0, "a login happened before the refusal:\n{}", r.1);

    // Without --pin the module is listed as before (no login, no refusal).
    let o = output(t.hsm.kskit(&t.kdir).args(["hsm", "list", "--module", s(&t.shim)]).env("SLOWSHIM_MODULE", SOFTHSM_MODULE).env("SLOWSHIM_LOGIN_COUNT", &t.logins));
    common::ok(o, "hsm list without --pin");
    assert_eq!(t.login_count(), 0);
}

/// Makes a KSK with CKA_ALWAYS_AUTHENTICATE (`hsm keygen --always-authenticate`)
/// on the test token; returns its URI with the test PIN.
fn always_authenticate_key(t: &Setup, label: &str) -> String {
    let uri = format!("pkcs11:token={TOKEN}?module-path={}&pin-value={USER_PIN}", t.shim.display());
    ok(
        output(t.hsm.kskit(&t.kdir).args([
            "hsm",
            "keygen",
            "--token",
            &uri,
            "--algorithm",
            "ECDSAP256SHA256",
            "--label",
            label,
            "--always-authenticate",
        ])),
        "hsm keygen --always-authenticate",
    );
    format!("pkcs11:token={TOKEN};object={label}?module-path={}&pin-value={USER_PIN}", t.shim.display())
}

/// Issue 17.3: a key with CKA_ALWAYS_AUTHENTICATE (SoftHSM2 enforces it:
/// C_Sign without a fresh context-specific login is CKR_USER_NOT_LOGGED_IN)
/// signs a whole KSR: one user login, and one C_Login(CKU_CONTEXT_SPECIFIC)
/// before every C_Sign.
#[test]
fn always_authenticate_key_gets_a_context_login_before_each_signature() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let ksk = always_authenticate_key(&t, "ksk-piv");
    let _ = std::fs::remove_file(&t.logins);
    let signs = t.tmp.path().join("signs");
    let r = t.sign(&ksk, &[], &[("SLOWSHIM_SIGN_COUNT", s(&signs))]);
    assert_eq!(r.0, Some(0), "signing with an always-authenticate key failed:\n{}", r.1);
    assert!(t.out.join("skr.xml").is_file());
    let logins = logins_by_slot(&t.logins);
    let user = logins.iter().filter(|(_, u)| *u == 1).count();
    let context = logins.iter().filter(|(_, u)| *u == 2).count();
    let sign_calls = std::fs::read_to_string(&signs).map(|t| t.lines().count()).unwrap_or(0);
    assert_eq!(user, 1, "one user login per run: {logins:?}");
    assert!(sign_calls > 1, "the KSR needs several signatures, the shim saw {sign_calls}");
    assert_eq!(context, sign_calls, "one context-specific login per C_Sign ({sign_calls} signatures): {logins:?}");
}

/// Issue 17.3: a wrong PIN at the context-specific login (the shim changes
/// the PIN it forwards for CKU_CONTEXT_SPECIFIC only) stops the run after
/// that one try: exit 2, an error saying so, no SKR.
#[test]
fn wrong_context_pin_stops_the_run_after_one_try() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let ksk = always_authenticate_key(&t, "ksk-piv");
    let _ = std::fs::remove_file(&t.logins);
    let r = t.sign(&ksk, &[], &[("SLOWSHIM_CONTEXT_PIN_CORRUPT", "1")]);
    assert_error(&r, &["wrong PIN", "context-specific", "ksk-piv", &format!("token \"{TOKEN}\"")]);
    t.assert_no_output();
    let logins = logins_by_slot(&t.logins);
    assert_eq!(logins.iter().filter(|(_, u)| *u == 2).count(), 1, "more than one context-specific PIN try: {logins:?}");
    assert_eq!(logins.iter().filter(|(_, u)| *u == 1).count(), 1, "{logins:?}");
}

/// `ksr sign --isolate-module` (module isolation, issue 17.4) with the
/// shim's fault `fault` in `fault_in`: exit 2 within the token timeout (2 s;
/// the guard only catches a hang), an error naming the module and what
/// happened, nothing of the module's on kskit's stdout, no SKR or temp
/// file, and no helper process left running.
fn isolated_fault(fault_in: &str, fault: &str, needles: &[&str]) {
    if !available() {
        return;
    }
    let t = Setup::new();
    let skr = t.out.join("skr.xml");
    let stdout_file = t.tmp.path().join("stdout");
    let stderr_file = t.tmp.path().join("stderr");
    let mut c = t.hsm.kskit(&t.kdir);
    c.args(["ksr", "sign", s(&t.ksr), "--ksk", &t.ksk_uri(&t.shim, USER_PIN, "&timeout=2"), "-o", s(&skr), "--yes", "--isolate-module"])
        .env("SLOWSHIM_LOGIN_COUNT", &t.logins)
        .env("SLOWSHIM_MODULE", SOFTHSM_MODULE)
        .env("SLOWSHIM_FAULT_IN", fault_in)
        .env("SLOWSHIM_FAULT", fault)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout_file).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap());
    let mut child = c.spawn().expect("spawn kskit");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kskit ksr sign --isolate-module with {fault} in {fault_in} did not finish within {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    assert_error(&(status.code(), stderr.clone()), needles);
    assert!(stderr.contains(s(&t.shim)), "the error does not name the module:\n{stderr}");
    // kskit's stdout holds its KSR check report and nothing of the module's.
    let stdout = String::from_utf8_lossy(&std::fs::read(&stdout_file).unwrap()).into_owned();
    assert!(!stdout.contains("slowshim"), "the module's output reached kskit's stdout:\n{stdout}");
    t.assert_no_output();
    assert!(t.login_count() <= 1, "more than one login");
    // No helper left: no live process has this test's shim environment.
    let marker = t.logins.display().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            let env = String::from_utf8_lossy(&env);
            assert!(!env.contains(&marker), "a process of this run is still alive: pid {:?}", e.file_name());
        }
    }
}

#[test]
fn isolated_module_segfault_in_c_sign_is_an_error() {
    isolated_fault("C_Sign", "segv", &["helper process while signing", "signal 11 (SIGSEGV"]);
}

#[test]
fn isolated_module_abort_in_c_sign_is_an_error() {
    isolated_fault("C_Sign", "abort", &["helper process while signing", "signal 6 (SIGABRT"]);
}

#[test]
fn isolated_module_stdout_noise_in_c_sign_is_an_error() {
    isolated_fault("C_Sign", "noise", &["helper process while signing", "wrote to stdout", "slowshim"]);
}

#[test]
fn isolated_module_hang_in_c_sign_times_out() {
    isolated_fault("C_Sign", "hang", &["did not answer within 2 s"]);
}

#[test]
fn isolated_module_segfault_in_c_login_is_an_error() {
    isolated_fault("C_Login", "segv", &["helper process while opening the key", "signal 11 (SIGSEGV"]);
}

#[test]
fn isolated_module_abort_in_c_login_is_an_error() {
    isolated_fault("C_Login", "abort", &["helper process while opening the key", "signal 6 (SIGABRT"]);
}

#[test]
fn isolated_module_stdout_noise_in_c_login_is_an_error() {
    isolated_fault("C_Login", "noise", &["helper process while opening the key", "wrote to stdout"]);
}

#[test]
fn isolated_module_hang_in_c_login_times_out() {
    isolated_fault("C_Login", "hang", &["did not answer within 2 s"]);
}

#[test]
fn isolated_module_segfault_in_c_findobjects_is_an_error() {
    isolated_fault("C_FindObjects", "segv", &["helper process while opening the key", "signal 11 (SIGSEGV"]);
}

#[test]
fn isolated_module_abort_in_c_findobjects_is_an_error() {
    isolated_fault("C_FindObjects", "abort", &["helper process while opening the key", "signal 6 (SIGABRT"]);
}

#[test]
fn isolated_module_stdout_noise_in_c_findobjects_is_an_error() {
    isolated_fault("C_FindObjects", "noise", &["helper process while opening the key", "wrote to stdout"]);
}

#[test]
fn isolated_module_hang_in_c_findobjects_times_out() {
    isolated_fault("C_FindObjects", "hang", &["did not answer within 2 s"]);
}

/// Without faults the isolated module signs the whole KSR (one login), and
/// kskit.toml's `[pkcs11] isolate_module = true` turns isolation on too:
/// the shim's stdout noise in C_Sign then stops the run as it does with the flag.
#[test]
fn isolated_module_signs_and_kskit_toml_turns_isolation_on() {
    if !available() {
        return;
    }
    let t = Setup::new();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &["--isolate-module"], &[]);
    assert_eq!(r.0, Some(0), "signing in the helper failed:\n{}", r.1);
    assert!(t.out.join("skr.xml").is_file());
    assert_eq!(t.login_count(), 1, "one login per run");
    std::fs::remove_file(t.out.join("skr.xml")).unwrap();
    // Without isolation the noise would go to kskit's own stdout; with it in kskit.toml it is refused.
    let conf = t.kdir.join("kskit.toml");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{text}\n[pkcs11]\nisolate_module = true\n")).unwrap();
    let r = t.sign(&t.ksk_uri(&t.shim, USER_PIN, ""), &[], &[("SLOWSHIM_FAULT_IN", "C_Sign"), ("SLOWSHIM_FAULT", "noise")]);
    assert_error(&r, &["wrote to stdout", "helper process while signing"]);
    t.assert_no_output();
}

/// The restricted smartcard profile: SoftHSM2 limited to a SmartCard-HSM's
/// raw mechanisms (`SMARTCARD_MECHANISMS`) behind the shim at a card's
/// speed (`SMARTCARD_SIGN_DELAY_MS` per signature).
fn smartcard_profile(tmp: &Path) -> (SoftHsm, PathBuf) {
    let shim = build_shim(tmp);
    let hsm = SoftHsm::new(Some(common::SMARTCARD_MECHANISMS));
    hsm.init_token(TOKEN);
    (hsm, shim)
}

/// `kskit --json hsm bench` (issue 17.5) on the restricted smartcard
/// profile: every field docs/json.md lists for `hsm bench` is there with
/// its type; the mechanisms kskit chose are the card's raw ones (CKM_ECDSA,
/// CKM_RSA_PKCS over host hashes); what the profile lacks (EdDSA,
/// hash-and-sign) is reported in `not_offered`, and refused when asked
/// for, and the shim's mechanism log shows it was never tried: no
/// C_GenerateKeyPair or C_SignInit with a mechanism outside the profile.
/// No benchmark key is left. (Rates are not asserted: no timed tests.)
#[test]
fn hsm_bench_on_the_restricted_smartcard_profile_reports_what_it_lacks_and_never_tries_it() {
    if !available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (hsm, shim) = smartcard_profile(tmp.path());
    let mechs = tmp.path().join("mechanisms.log");
    let uri = format!("pkcs11:token={TOKEN}?module-path={}&pin-value={USER_PIN}", shim.display());
    let bench = |extra: &[&str]| {
        let mut c = hsm.kskit(tmp.path());
        c.env("SLOWSHIM_SIGN_DELAY_MS", common::SMARTCARD_SIGN_DELAY_MS).env("SLOWSHIM_MECH_LOG", &mechs);
        c.args(["--json", "hsm", "bench", "--token", &uri, "--seconds", "0.5"]).args(extra);
        output(&mut c)
    };
    // What the token offers (no --algorithm): measured, exit 0; the rest listed as not offered.
    let o = bench(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", common::text(&o)));
    // Asked for Ed25519 too: refused (exit 1), not tried.
    let o = bench(&["--algorithm", "ECDSAP256SHA256", "--algorithm", "RSASHA256/2048", "--algorithm", "ED25519"]);
    assert_eq!(o.status.code(), Some(1), "a refused algorithm is exit 1:\n{}", common::text(&o));
    let asked: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", common::text(&o)));

    let doc = common::json_doc();
    let section = doc.get("kskit hsm bench").expect("docs/json.md documents kskit hsm bench");
    assert!(section.fields.iter().any(|(p, _)| p == "not_offered"), "docs/json.md lacks not_offered");
    for v in [&all, &asked] {
        let mut problems = Vec::new();
        for (path, ty) in &section.fields {
            common::check_json_path(v, path, ty, &mut problems, path);
        }
        assert!(problems.is_empty(), "hsm bench JSON disagrees with docs/json.md: {problems:?}\n{v}");
        // EdDSA is what the profile lacks, by name.
        let lacks = v["not_offered"].as_array().expect("not_offered");
        let ed = lacks.iter().find(|x| x["algorithm"] == "ED25519").unwrap_or_else(|| panic!("ED25519 not reported as not offered: {v}"));
        assert!(ed["missing"].to_string().contains("CKM_EC_EDWARDS_KEY_PAIR_GEN"), "{ed}");
    }
    let results = all["results"].as_array().expect("results");
    assert!(results.iter().all(|r| r["algorithm"] != "ED25519"), "Ed25519 measured on a token without EdDSA: {all}");
    for (alg, mech) in [("ECDSAP256SHA256", "CKM_ECDSA"), ("RSASHA256", "CKM_RSA_PKCS")] {
        let r = results.iter().find(|r| r["algorithm"] == alg).unwrap_or_else(|| panic!("{alg} not measured: {all}"));
        assert_eq!(r["mechanism"], mech, "{r}");
        assert!(r["error"].is_null() && r["signatures"].as_u64().is_some_and(|n| n >= 1), "{r}");
    }
    let asked_results = asked["results"].as_array().expect("results");
    let ed = asked_results.iter().find(|r| r["algorithm"] == "ED25519").expect("ED25519 result");
    assert!(ed["error"].as_str().is_some_and(|e| e.contains("CKM_EC_EDWARDS_KEY_PAIR_GEN")) && ed["mechanism"].is_null() && ed["signatures"] == 0, "{ed}");

    // The shim saw only the profile's mechanisms (PKCS#11 2.40 numbers).
    let log = std::fs::read_to_string(&mechs).expect("the shim logged mechanisms");
    let allowed_keygen = ["0x0" /* CKM_RSA_PKCS_KEY_PAIR_GEN */, "0x1040" /* CKM_EC_KEY_PAIR_GEN */];
    let allowed_sign = ["0x1" /* CKM_RSA_PKCS */, "0x3" /* CKM_RSA_X_509 */, "0x1041" /* CKM_ECDSA */];
    let (mut keygens, mut signs) = (0, 0);
    for line in log.lines() {
        match line.split_once(' ') {
            Some(("keygen", m)) => {
                keygens += 1;
                assert!(allowed_keygen.contains(&m), "kskit tried key generation with {m}, outside the profile:\n{log}");
            }
            Some(("signinit", m)) => {
                signs += 1;
                assert!(allowed_sign.contains(&m), "kskit tried signing with {m}, outside the profile:\n{log}");
            }
            _ => panic!("unexpected shim log line {line:?}"),
        }
    }
    assert!(keygens >= 2 && signs >= 2, "the shim saw no key generation or signing:\n{log}");
    // Every benchmark key was removed from the token.
    let out = ok(output(hsm.kskit(tmp.path()).args(["--json", "hsm", "list", "--token", &uri, "--pin"]).env("KSKIT_PIN", USER_PIN)), "kskit hsm list");
    assert!(!out.contains("kskit-bench-"), "a benchmark key was left on the token:\n{out}");
}
