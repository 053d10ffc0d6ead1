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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::Digest;

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
        let der = self.dir.path().join(format!("{label}.der"));
        let o = output(self.env(&mut Command::new("pkcs11-tool")).args([
            "--module",
            TPM_MODULE,
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
            let mut out = vec![e.len() as u8];
            out.extend_from_slice(&e);
            out.extend_from_slice(&n);
            out
        } else {
            assert_eq!(der.len(), 91, "unexpected P-256 SPKI length");
            assert_eq!(der[26], 4, "not an uncompressed point");
            der[27..].to_vec()
        }
    }
}

/// RFC 4034 §5.1.4 SHA-256 DS digest of a KSK (flags 257), upper-case hex.
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

fn zsk_side(t: &Path, algorithm: &str, kdir: &Path) -> (PathBuf, PathBuf) {
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
    let ksr = t.join("request.ksr.xml");
    ok(run_kskit(&zdir, &["ksr", "generate", "--from", "now", "--until", "+90d", "--format", "iana", "-o", s(&ksr)]), "kskit ksr generate");
    (zdir, ksr)
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

    // Key generation on the TPM, registered in the keystore.
    let uri = tpm.token_uri();
    let mut args = vec!["--json", "hsm", "keygen", "--token", &uri, "--algorithm", algorithm, "--label", label];
    if let Some(b) = bits {
        args.extend(["--bits", b]);
    }
    let v = json(output(tpm.kskit(&kdir).args(&args)), "kskit hsm keygen (TPM)");
    let keystore_id = v["keystore_id"].as_str().expect("keystore_id").to_owned();
    let locator = v["locator"].as_str().expect("locator").to_owned();
    let key_tag = v["key_tag"].as_u64().expect("key_tag");
    assert!(locator.contains(&format!("module-path={TPM_MODULE}")), "{locator}");

    // The keystore's DS is the DS of the key pkcs11-tool reads from the TPM.
    let ds_file = kdir.join(format!("{label}.ds"));
    kskit_write_ds(&kdir, &keystore_id, &ds_file);
    let ds = std::fs::read_to_string(&ds_file).unwrap();
    let f: Vec<&str> = ds.split_whitespace().collect();
    let pos = f.iter().position(|x| *x == "DS").expect("DS line");
    assert_eq!(f[pos + 1], key_tag.to_string());
    let expected = ds_sha256(ZONE, f[pos + 2].parse().unwrap(), &tpm.public_key(label, algorithm));
    assert_eq!(f[pos + 4].to_ascii_uppercase(), expected, "the keystore's DS is not the TPM key's DS");

    // `hsm list --pin` shows the key with its key tag.
    let token = listed_token(&tpm, &kdir, true);
    let listed = token["keys"].as_array().into_iter().flatten().filter(|k| k["label"] == label).any(|k| {
        k["has_private"] == true && k["ksk_key_tags"].as_array().into_iter().flatten().any(|t| t["key_tag"].as_u64() == Some(key_tag))
    });
    assert!(listed, "hsm list does not show {label} with key tag {key_tag}: {token}");

    // The ZSK side's KSR, verified and signed with the TPM KSK.
    let (zdir, ksr) = zsk_side(t, algorithm, &kdir);
    let out = ok(output(tpm.kskit(&kdir).args(["ksr", "verify", s(&ksr)])), "kskit ksr verify");
    assert!(out.contains("KSR accepted"), "{out}");
    let skr = t.join("response.skr.xml");
    let ksk = format!("{locator}&pin-value={TPM_USER_PIN}");
    let v = json(
        output(tpm.kskit(&kdir).args(["--json", "ksr", "sign", s(&ksr), "-o", s(&skr), "--yes", "--cds", "publish", "--ksk", &ksk])),
        "kskit ksr sign (TPM KSK)",
    );
    assert_eq!(v["signed"], true, "{v}");
    let bundles = v["bundles"].as_u64().expect("bundles");
    assert!(bundles >= 2, "{v}");
    assert_eq!(v["token_sign_operations"].as_u64(), Some(bundles * 3), "not one TPM signature per bundle and RRset: {v}");
    let body = std::fs::read_to_string(&skr).unwrap();
    assert_eq!(body.matches("<SignatureData>").count() as u64, bundles * 3);

    // The ZSK side (no TPM) verifies against the TPM key's DS and imports.
    let v = json(run_kskit(&zdir, &["--json", "skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ds_file)]), "kskit skr verify");
    assert_eq!(v["passed"], true, "{v}");
    let v = json(run_kskit(&zdir, &["--json", "skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ds_file)]), "kskit skr import");
    assert_eq!(v["passed"], true, "{v}");
    assert!(zdir.join(v["imported"].as_str().expect("imported")).is_file());
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
