//! The whole offline KSK cycle with the KSK in a TPM (issue 17.1): a
//! software TPM (swtpm) on a free TCP port, tpm2-abrmd as resource manager
//! on a private D-Bus session bus, a token made with tpm2_ptool, and
//! tpm2-pkcs11 as the PKCS#11 module. `hsm list` shows what the TPM can and
//! cannot do (no Ed25519, RSA only up to 3072 bits), `hsm keygen` makes the
//! KSK (RSASHA256 2048 or ECDSAP256SHA256) and refuses what the TPM lacks
//! with an error naming the missing capability, `ksr sign` signs a KSR of a
//! separate ZSK side, and the ZSK side verifies and imports the SKR with the
//! token key's DS (checked against the public key OpenSC's pkcs11-tool
//! reads from the TPM) as trust anchor.
//!
//! Every process the test starts (swtpm, dbus-daemon, tpm2-abrmd) is killed
//! and reaped by [`Tpm`]'s Drop, also when an assertion fails. Without the
//! packages (swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools
//! tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus opensc) it fails under
//! CI=true and skips otherwise.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const TPM_MODULE: &str = "/usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1";
const TABRMD_TCTI: &str = "/usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0";
const TOKEN: &str = "ksk";
const TPM_USER_PIN: &str = "1234";
const TPM_SO_PIN: &str = "sopin5678";
const ZONE: &str = "example.com.";
const TCTI: &str = "tabrmd:bus_type=session";

fn tools_present() -> bool {
    require_tools(
        "the TPM stack (swtpm, tpm2-abrmd, tpm2-pkcs11)",
        "swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus",
        &["swtpm", "tpm2-abrmd", "tpm2_ptool", "tpm2_getcap", "dbus-daemon"],
        &[TPM_MODULE, TABRMD_TCTI],
    ) && require_tools("OpenSC's pkcs11-tool", "opensc", &["pkcs11-tool"], &[])
}

/// A running software TPM with its resource manager and a tpm2-pkcs11
/// token. Drop kills and reaps swtpm, tpm2-abrmd and the bus daemon.
struct Tpm {
    dir: tempfile::TempDir,
    swtpm: Option<Child>,
    abrmd: Option<Child>,
    dbus: Option<Child>,
    bus: String,
}

impl Drop for Tpm {
    fn drop(&mut self) {
        // The resource manager first (it holds the TPM connection), then the TPM, then the bus.
        for c in [self.abrmd.take(), self.swtpm.take(), self.dbus.take()].into_iter().flatten() {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Two consecutive free TCP ports on 127.0.0.1 (swtpm's server and control ports).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < 65535 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1");
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Tpm {
    /// Starts swtpm, a private session bus and tpm2-abrmd, then makes the
    /// tpm2-pkcs11 store and token `TOKEN` with tpm2_ptool.
    fn start() -> Tpm {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["state", "store"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let mut tpm = Tpm { dir, swtpm: None, abrmd: None, dbus: None, bus: String::new() };
        let port = free_port_pair();
        let state = format!("dir={}", tpm.dir.path().join("state").display());
        let swtpm = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate", &state])
            .args(["--server", &format!("type=tcp,port={port}"), "--ctrl", &format!("type=tcp,port={}", port + 1)])
            .args(["--flags", "not-need-init,startup-clear"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start swtpm");
        tpm.swtpm = Some(swtpm);
        wait_until("swtpm listening", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port + 1)).is_ok());

        // A private session bus (not forked: the test owns the process and reaps it).
        let socket = tpm.dir.path().join("bus.sock");
        let dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", &format!("--address=unix:path={}", socket.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        tpm.dbus = Some(dbus);
        wait_until("the session bus socket", Duration::from_secs(20), || socket.exists());
        tpm.bus = format!("unix:path={}", socket.display());

        let abrmd = Command::new("tpm2-abrmd")
            .args(["--session", &format!("--tcti=swtpm:port={port}"), "--allow-root", "--flush-all"])
            .env("DBUS_SESSION_BUS_ADDRESS", &tpm.bus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tpm2-abrmd");
        tpm.abrmd = Some(abrmd);
        wait_until("tpm2-abrmd answering", Duration::from_secs(30), || {
            tpm.env(&mut Command::new("tpm2_getcap")).arg("properties-fixed").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
        });

        let o = output(tpm.env(&mut Command::new("tpm2_ptool")).arg("init"));
        assert!(o.status.success(), "tpm2_ptool init failed: {}", text(&o));
        let o = output(tpm.env(&mut Command::new("tpm2_ptool")).args([
            "addtoken",
            "--pid=1",
            &format!("--label={TOKEN}"),
            &format!("--sopin={TPM_SO_PIN}"),
            &format!("--userpin={TPM_USER_PIN}"),
        ]));
        assert!(o.status.success(), "tpm2_ptool addtoken failed: {}", text(&o));
        tpm
    }

    /// The environment every TPM client needs: the bus, the TCTI and the store.
    fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("TPM2TOOLS_TCTI", TCTI)
            .env("TPM2_PKCS11_TCTI", TCTI)
            .env("TPM2_PKCS11_STORE", self.dir.path().join("store"))
            .env("TSS2_LOG", "all+NONE")
    }

    fn kskit(&self, dir: &Path) -> Command {
        let mut c = kskit(dir);
        self.env(&mut c);
        c
    }

    fn token_uri(&self) -> String {
        format!("pkcs11:token={TOKEN}?module-path={TPM_MODULE}&pin-value={TPM_USER_PIN}")
    }

    /// The DNSKEY public key field of the public key object `label`, read
    /// with pkcs11-tool (independent of kskit).
    fn public_key(&self, label: &str, algorithm: &str) -> Vec<u8> {
        let mut c = Command::new("pkcs11-tool");
        self.env(&mut c);
        pkcs11_tool_public_key(c, TPM_MODULE, TOKEN, label, algorithm, &self.dir.path().join(format!("{label}.der")))
    }
}

fn json(o: std::process::Output, what: &str) -> serde_json::Value {
    let out = ok(o, what);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{out}"))
}

/// `hsm list --json` of the TPM token, as the token's entry.
fn listed_token(tpm: &Tpm, dir: &Path, pin: bool) -> serde_json::Value {
    let mut c = tpm.kskit(dir);
    c.args(["--json", "hsm", "list", "--module", TPM_MODULE, "--token", TOKEN]);
    if pin {
        c.arg("--pin").env("KSKIT_PIN", TPM_USER_PIN);
    }
    let v = json(output(&mut c), "kskit hsm list (TPM)");
    let slots = v["slots"].as_array().expect("slots");
    let t = slots.iter().map(|s| &s["token"]).find(|t| t["label"] == TOKEN).unwrap_or_else(|| panic!("token {TOKEN:?} not listed: {v}"));
    t.clone()
}

fn cycle(algorithm: &str, bits: Option<&str>, label: &str) {
    if !tools_present() {
        return;
    }
    let tpm = Tpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let kdir = kskit_init(t, "ksk-side", ZONE);

    // `hsm list` reports what the TPM can do for this algorithm, and what it cannot.
    let token = listed_token(&tpm, &kdir, false);
    let algs = token["algorithms"].as_array().expect("algorithms");
    let find = |a: &str| algs.iter().find(|x| x["algorithm"] == a).unwrap_or_else(|| panic!("{a} not in {token}")).clone();
    let this = find(algorithm);
    assert!(this["sign_mechanism"].is_string(), "the TPM cannot sign {algorithm}? {this}");
    let ed = find("ED25519");
    assert!(ed["sign_mechanism"].is_null() && ed["keygen_bits"].as_array().is_some_and(|b| b.is_empty()), "{ed}");
    assert!(ed["missing"].to_string().contains("CKM_EC_EDWARDS_KEY_PAIR_GEN"), "{ed}");

    // The shared token cycle (tests/common/mod.rs): key generation on the
    // TPM, its DS checked against the key pkcs11-tool reads from the TPM,
    // `hsm list --pin` showing it; the ZSK side's KSR verified and signed
    // with one TPM signature per bundle and RRset; the SKR verified and
    // imported by the ZSK side (no TPM) against the TPM key's DS.
    let kskit = |d: &Path| tpm.kskit(d);
    let public_key = |label: &str, alg: &str| tpm.public_key(label, alg);
    let token = CycleToken { kskit: &kskit, uri: tpm.token_uri(), module: TPM_MODULE.to_string(), pin: TPM_USER_PIN, public_key: &public_key };
    let ksk = token.keygen(&kdir, ZONE, algorithm, bits, label);
    let (zdir, ksr) = cycle_zsk_side(t, ZONE, "iana", algorithm, &kdir);
    let skr = t.join("response.skr.xml");
    let v = token.verify_and_sign(&kdir, &ksr, &skr, &[format!("{}&pin-value={TPM_USER_PIN}", ksk.locator)], false);
    let bundles = v["bundles"].as_u64().expect("bundles");
    let body = std::fs::read_to_string(&skr).unwrap();
    assert_eq!(body.matches("<SignatureData>").count() as u64, bundles * 3);
    cycle_verify_and_import(&zdir, &skr, &ksr, &ksk.ds_file);
}

#[test]
fn tpm_cycle_rsasha256_2048_ksk_keygen_sign_verify_import() {
    cycle("RSASHA256", Some("2048"), "ksk-rsa");
}

#[test]
fn tpm_cycle_ecdsap256_ksk_keygen_sign_verify_import() {
    cycle("ECDSAP256SHA256", None, "ksk-ec");
}

/// What the TPM lacks is refused before anything is tried: Ed25519 (no
/// CKM_EC_EDWARDS_KEY_PAIR_GEN) and RSA 4096 (CKM_RSA_PKCS_KEY_PAIR_GEN
/// stops at 3072 bits), exit 2, the error naming the missing capability,
/// and no key left on the token or in the keystore.
#[test]
fn tpm_refuses_ed25519_and_rsa_4096_naming_the_missing_capability() {
    if !tools_present() {
        return;
    }
    let tpm = Tpm::start();
    let tmp = tempfile::tempdir().unwrap();
    let kdir = kskit_init(tmp.path(), "ksk-side", ZONE);
    let uri = tpm.token_uri();
    for (alg, bits, label, needle) in [
        ("ED25519", None, "ksk-ed", "does not offer CKM_EC_EDWARDS_KEY_PAIR_GEN: it cannot make ED25519 keys"),
        ("RSASHA256", Some("4096"), "ksk-4096", "offers CKM_RSA_PKCS_KEY_PAIR_GEN only for 1024-3072-bit keys (CK_MECHANISM_INFO): it cannot make RSASHA256 4096-bit keys"),
    ] {
        let mut args = vec!["hsm", "keygen", "--token", &uri, "--algorithm", alg, "--label", label];
        if let Some(b) = bits {
            args.extend(["--bits", b]);
        }
        let o = output(tpm.kskit(&kdir).args(&args));
        assert_eq!(o.status.code(), Some(2), "{alg}: {}", text(&o));
        assert!(text(&o).contains(needle), "{alg}: {}", text(&o));
    }
    let token = listed_token(&tpm, &kdir, true);
    assert_eq!(token["keys"].as_array().map(|k| k.len()), Some(0), "a key was left on the TPM: {token}");
    assert!(key_list(&kdir).is_empty(), "a key was registered");
    let rsa = token["algorithms"].as_array().unwrap().iter().find(|a| a["algorithm"] == "RSASHA256").unwrap().clone();
    assert_eq!(rsa["keygen_bits"], serde_json::json!([2048, 3072]), "{rsa}");
    assert!(rsa["missing"].to_string().contains("no 4096-bit keys"), "{rsa}");
}
