//! The PKCS#11 backend against a real SoftHSM2 module: key generation,
//! listing, signing with every algorithm (verified with ring through the
//! crate's verifier and, for RSA, independently with the `rsa` crate), the
//! smartcard profile with a limited mechanism set (host hashing fallbacks),
//! import of software keys, the sign count, and each error case.
//!
//! SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, which happens once per
//! process while a module is in use; the tests therefore run one at a time
//! (a process-wide lock) and each points SOFTHSM2_CONF at its own config and
//! token directory. kskit finalizes the module when its last session closes,
//! so the next test's C_Initialize reads the next config.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use kskit::backends::pkcs11::{self, ListOptions, OpenOptions, Pkcs11Error, Pkcs11Signer, SignMechanism};
use kskit::backends::Signer;
use kskit::dnssec::{verify::verify_raw, Algorithm, Dnskey};
use kskit::keys::keyref::Pkcs11Uri;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SO_PIN: &str = "5678";
const PIN: &str = "1234";
const KSK: u16 = 257;

static LOCK: Mutex<()> = Mutex::new(());

struct Hsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

/// Whether SoftHSM2 is usable; in CI its absence is a failure, elsewhere a skip.
fn available() -> bool {
    let ok = Path::new(MODULE).is_file()
        && Command::new("softhsm2-util").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("SoftHSM2 ({MODULE} and softhsm2-util) is required in CI: apt-get install softhsm2");
        }
        eprintln!("note: SoftHSM2 not installed; skipping PKCS#11 tests");
    }
    ok
}

impl Hsm {
    /// A fresh SoftHSM2 config and token directory; `mechanisms` restricts
    /// the mechanism set (`slots.mechanisms`), e.g. to a smartcard's.
    fn new(mechanisms: &str) -> Hsm {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\nslots.mechanisms = {mechanisms}\nlibrary.reset_on_fork = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        std::env::set_var("SOFTHSM2_CONF", &conf);
        Hsm { dir, conf }
    }

    fn init_token(&self, label: &str) {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .unwrap();
        assert!(out.status.success(), "softhsm2-util failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn uri(&self, token: &str, object: Option<&str>) -> Pkcs11Uri {
        let mut s = format!("pkcs11:token={}", token.replace(' ', "%20"));
        if let Some(o) = object {
            s.push_str(&format!(";object={o}"));
        }
        s.push_str(&format!("?module-path={MODULE}&pin-value={PIN}"));
        s.parse().unwrap()
    }
}

fn opts() -> OpenOptions {
    OpenOptions::default()
}

/// Checks an RSA signature by the raw RSA operation s^e mod n with the `rsa`
/// crate's big integers against an EMSA-PKCS1-v1_5 encoding built here from
/// the RFC 8017 §9.2 DigestInfo prefixes (independent of ring and of kskit).
fn rsa_crate_verify(key: &Dnskey, alg: Algorithm, data: &[u8], sig: &[u8]) -> bool {
    use rsa::BigUint;
    use sha2::Digest;
    let (e, n) = kskit::dnssec::pubkey::rsa_components(&key.public_key).unwrap();
    let (prefix, hash): (&[u8], Vec<u8>) = match alg {
        Algorithm::RsaSha256 => (
            &[0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20],
            sha2::Sha256::digest(data).to_vec(),
        ),
        Algorithm::RsaSha512 => (
            &[0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40],
            sha2::Sha512::digest(data).to_vec(),
        ),
        _ => return false,
    };
    let k = sig.len();
    let mut em = vec![0x00, 0x01];
    em.resize(k - prefix.len() - hash.len() - 1, 0xFF);
    em.push(0);
    em.extend_from_slice(prefix);
    em.extend_from_slice(&hash);
    let m = BigUint::from_bytes_be(sig).modpow(&BigUint::from_bytes_be(e), &BigUint::from_bytes_be(n));
    m == BigUint::from_bytes_be(&em)
}

/// Signs with `signer`, checks the signature with the crate's verifier (ring)
/// and for RSA with the `rsa` crate, and checks tampered data is rejected.
fn check_signing(signer: &Pkcs11Signer, alg: Algorithm) {
    let data = b"\x00\x30\x08\x00 RFC 4034 signing input stand-in";
    let before = signer.sign_count();
    let sig = signer.sign(data).unwrap();
    assert_eq!(signer.sign_count(), before + 1);
    verify_raw(signer.dnskey(), data, &sig).unwrap();
    assert!(verify_raw(signer.dnskey(), b"tampered", &sig).is_err());
    let mut bad = sig.clone();
    bad[5] ^= 1;
    assert!(verify_raw(signer.dnskey(), data, &bad).is_err());
    match alg {
        Algorithm::RsaSha256 | Algorithm::RsaSha512 => {
            assert!(rsa_crate_verify(signer.dnskey(), alg, data, &sig), "rsa crate rejects {alg} signature");
            assert_eq!(sig.len(), signer.dnskey().key_bits().unwrap() as usize / 8);
        }
        Algorithm::EcdsaP256Sha256 | Algorithm::Ed25519 => assert_eq!(sig.len(), 64),
        Algorithm::EcdsaP384Sha384 => assert_eq!(sig.len(), 96),
        _ => unreachable!(),
    }
    assert_eq!(signer.dnskey().flags, KSK);
    assert_eq!(signer.dnskey().algorithm, alg.number());
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn keygen_list_sign_all_algorithms() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("ALL");
    hsm.init_token("KSK Token");
    let inv = pkcs11::list(Path::new(MODULE), &ListOptions::default()).unwrap();
    let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "KSK Token").unwrap();
    let has_eddsa = tok.sign_mechanisms.iter().any(|m| m == "CKM_EDDSA");
    assert!(tok.sign_mechanisms.iter().any(|m| m == "CKM_SHA256_RSA_PKCS"), "{:?}", tok.sign_mechanisms);
    assert!(tok.keygen_mechanisms.iter().any(|m| m == "CKM_RSA_PKCS_KEY_PAIR_GEN"), "{:?}", tok.keygen_mechanisms);
    assert!(tok.flags.login_required && tok.flags.token_initialized && !tok.flags.pin_locked);
    assert!(tok.keys.is_empty());

    let mut cases = vec![
        (Algorithm::RsaSha256, Some(2048), "rsa2048", vec![Algorithm::RsaSha256, Algorithm::RsaSha512]),
        (Algorithm::RsaSha512, Some(4096), "rsa4096", vec![Algorithm::RsaSha256, Algorithm::RsaSha512]),
        (Algorithm::EcdsaP256Sha256, None, "p256", vec![Algorithm::EcdsaP256Sha256]),
        (Algorithm::EcdsaP384Sha384, None, "p384", vec![Algorithm::EcdsaP384Sha384]),
    ];
    if has_eddsa {
        cases.push((Algorithm::Ed25519, None, "ed25519", vec![Algorithm::Ed25519]));
    } else {
        eprintln!("note: this SoftHSM2 build has no CKM_EDDSA; Ed25519 not tested");
    }
    let mut tags = Vec::new();
    for (alg, bits, label, sign_algs) in &cases {
        let key = pkcs11::keygen(&hsm.uri("KSK Token", None), *alg, *bits, label, &opts()).unwrap();
        assert_eq!(key.label, *label);
        assert_eq!(key.id.len(), 16);
        let shown = key.uri.to_string();
        assert!(!shown.contains("pin-value") && !shown.contains(PIN), "{shown}");
        assert!(shown.contains(&format!("object={label}")), "{shown}");
        for sa in sign_algs {
            let signer = Pkcs11Signer::open(&key.uri_with_pin(PIN), *sa, KSK, &opts()).unwrap();
            let want = match sa {
                Algorithm::RsaSha256 => SignMechanism::Sha256RsaPkcs,
                Algorithm::RsaSha512 => SignMechanism::Sha512RsaPkcs,
                Algorithm::Ed25519 => SignMechanism::Eddsa,
                // SoftHSM2 2.6 has no CKM_ECDSA_SHA256/384: hashing on the host
                _ => {
                    if tok.sign_mechanisms.iter().any(|m| m == "CKM_ECDSA_SHA256") {
                        signer.mechanism()
                    } else {
                        SignMechanism::Ecdsa
                    }
                }
            };
            assert_eq!(signer.mechanism(), want, "{sa}");
            check_signing(&signer, *sa);
            assert_eq!(signer.dnskey().public_key, key.public_key);
            tags.push((label.to_string(), *sa, signer.dnskey().key_tag()));
        }
    }
    // RSA-4096 really is 4096 bits
    let k = Pkcs11Signer::open(&hsm.uri("KSK Token", Some("rsa4096")), Algorithm::RsaSha512, KSK, &opts()).unwrap();
    assert_eq!(k.dnskey().key_bits(), Some(4096));
    drop(k);

    // Listing without PIN: public objects, with the KSK key tags signers use.
    let inv = pkcs11::list(Path::new(MODULE), &ListOptions::default()).unwrap();
    let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "KSK Token").unwrap();
    assert!(!tok.logged_in);
    assert_eq!(tok.keys.len(), cases.len());
    for (label, alg, tag) in &tags {
        let k = tok.keys.iter().find(|k| &k.label == label).unwrap();
        assert_eq!(k.has_private, None);
        let t = k.ksk_key_tags.iter().find(|t| t.number == alg.number()).unwrap();
        assert_eq!(t.key_tag, *tag, "{label} {alg}");
    }
    let rsa = tok.keys.iter().find(|k| k.label == "rsa4096").unwrap();
    assert_eq!((rsa.key_type.as_str(), rsa.bits), ("RSA", Some(4096)));
    let p384 = tok.keys.iter().find(|k| k.label == "p384").unwrap();
    assert_eq!(p384.curve.as_deref(), Some("P-384"));
    // With PIN: private objects are seen too.
    let lo = ListOptions { pin: Some(kskit::secrets::Secret::new(PIN.to_string())), ..Default::default() };
    let inv = pkcs11::list(Path::new(MODULE), &lo).unwrap();
    let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "KSK Token").unwrap();
    assert!(tok.logged_in, "{:?}", tok.login_error);
    assert!(tok.keys.iter().all(|k| k.has_private == Some(true)));
    // generated private keys are token objects, sensitive and not extractable
    let flags = private_key_flags("KSK Token");
    assert_eq!(flags.len(), cases.len());
    for (label, token, sensitive, extractable, sign) in flags {
        assert!(token && sensitive && !extractable && sign, "{label}");
    }
    // JSON form serialises
    let json = serde_json::to_string(&inv).unwrap();
    assert!(json.contains("\"label\":\"KSK Token\""));
}

/// Token object with the PIN attached again (URIs from keygen carry none).
trait WithPin {
    fn uri_with_pin(&self, pin: &str) -> Pkcs11Uri;
}
impl WithPin for pkcs11::TokenKey {
    fn uri_with_pin(&self, pin: &str) -> Pkcs11Uri {
        let mut u = self.uri.clone();
        u.set_pin_value(Some(kskit::secrets::Secret::new(pin.to_string())));
        u
    }
}

#[test]
fn smartcard_profile_uses_host_hashing_fallbacks() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("CKM_RSA_PKCS,CKM_RSA_X_509,CKM_ECDSA,CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_EC_KEY_PAIR_GEN");
    hsm.init_token("SmartCard-HSM (UserPIN)");
    let inv = pkcs11::list(Path::new(MODULE), &ListOptions::default()).unwrap();
    let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "SmartCard-HSM (UserPIN)").unwrap();
    assert!(!tok.sign_mechanisms.iter().any(|m| m == "CKM_SHA256_RSA_PKCS"), "{:?}", tok.sign_mechanisms);
    let uri = hsm.uri("SmartCard-HSM (UserPIN)", None);
    let rsa = pkcs11::keygen(&uri, Algorithm::RsaSha256, Some(2048), "ksk-rsa", &opts()).unwrap();
    let ec = pkcs11::keygen(&uri, Algorithm::EcdsaP256Sha256, None, "ksk-ec", &opts()).unwrap();
    for alg in [Algorithm::RsaSha256, Algorithm::RsaSha512] {
        let s = Pkcs11Signer::open(&rsa.uri_with_pin(PIN), alg, KSK, &opts()).unwrap();
        assert_eq!(s.mechanism(), SignMechanism::RsaPkcs);
        assert_eq!(s.mechanism().name(), "CKM_RSA_PKCS");
        check_signing(&s, alg);
    }
    let s = Pkcs11Signer::open(&ec.uri_with_pin(PIN), Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap();
    assert_eq!(s.mechanism(), SignMechanism::Ecdsa);
    check_signing(&s, Algorithm::EcdsaP256Sha256);
    // Ed25519 cannot be made here: the card profile has no Edwards key generation.
    let e = pkcs11::keygen(&uri, Algorithm::Ed25519, None, "ksk-ed", &opts()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("CKM_EC_EDWARDS_KEY_PAIR_GEN"), "{e}");
    drop(s);
}

#[test]
fn raw_rsa_x509_only_token_pads_on_the_host() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("CKM_RSA_X_509,CKM_RSA_PKCS_KEY_PAIR_GEN");
    hsm.init_token("raw");
    let key = pkcs11::keygen(&hsm.uri("raw", None), Algorithm::RsaSha512, Some(2048), "k", &opts()).unwrap();
    let s = Pkcs11Signer::open(&key.uri_with_pin(PIN), Algorithm::RsaSha512, KSK, &opts()).unwrap();
    assert_eq!(s.mechanism(), SignMechanism::RsaX509);
    check_signing(&s, Algorithm::RsaSha512);
    // ECDSA has no mechanism at all on this token
    let e = pkcs11::keygen(&hsm.uri("raw", None), Algorithm::EcdsaP256Sha256, None, "e", &opts()).unwrap_err();
    assert!(e.to_string().contains("cannot make ECDSAP256SHA256 keys"), "{e}");
}

#[test]
fn import_soft_keys_and_sign_count() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("ALL");
    hsm.init_token("imp");
    let uri = hsm.uri("imp", None);
    for (alg, bits) in [(Algorithm::RsaSha256, Some(2048)), (Algorithm::EcdsaP256Sha256, None), (Algorithm::EcdsaP384Sha384, None), (Algorithm::Ed25519, None)] {
        let soft = kskit::backends::soft::generate(alg, bits, KSK).unwrap();
        let label = format!("imported-{}", alg.number());
        let tk = pkcs11::import_key(&uri, &soft, &label, &opts()).unwrap();
        assert_eq!(tk.public_key, soft.dnskey().public_key);
        let s = Pkcs11Signer::open(&tk.uri_with_pin(PIN), alg, KSK, &opts()).unwrap();
        assert_eq!(s.dnskey(), soft.dnskey());
        assert_eq!(s.sign_count(), 0);
        let data = b"count me";
        for i in 1..=3u64 {
            let sig = s.sign(data).unwrap();
            // the token's signature verifies against the software key's DNSKEY
            verify_raw(soft.dnskey(), data, &sig).unwrap();
            assert_eq!(s.sign_count(), i);
        }
    }
    let inv = pkcs11::list(
        Path::new(MODULE),
        &ListOptions { pin: Some(kskit::secrets::Secret::new(PIN.to_string())), ..Default::default() },
    )
    .unwrap();
    let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "imp").unwrap();
    assert_eq!(tok.keys.len(), 4);
    assert!(tok.keys.iter().all(|k| k.has_public && k.has_private == Some(true)));
    // the label is taken now
    let soft = kskit::backends::soft::generate(Algorithm::EcdsaP256Sha256, None, KSK).unwrap();
    let e = pkcs11::import_key(&uri, &soft, "imported-13", &opts()).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    // the imported private keys are token objects, sensitive and not extractable
    let flags = private_key_flags("imp");
    assert_eq!(flags.len(), 4);
    for (label, token, sensitive, extractable, sign) in flags {
        assert!(token && sensitive && !extractable && sign, "{label}");
    }
}

#[test]
fn clear_errors() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("ALL");
    hsm.init_token("errs");
    make_duplicate_labels("errs", "dup");
    let uri = hsm.uri("errs", None);
    pkcs11::keygen(&uri, Algorithm::EcdsaP256Sha256, None, "ksk", &opts()).unwrap();

    // missing module file
    let mut u = hsm.uri("errs", Some("ksk"));
    u.module_path = Some(hsm.dir.path().join("nope.so"));
    let e = Pkcs11Signer::open(&u, Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::ModuleNotFound(_)), "{e}");
    assert!(e.to_string().contains("nope.so") && e.to_string().contains("does not exist"), "{e}");
    let e = pkcs11::list(&hsm.dir.path().join("nope.so"), &ListOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");

    // missing token: the message lists the tokens present
    let e = Pkcs11Signer::open(&hsm.uri("SmartCard-HSM", Some("ksk")), Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    let m = e.to_string();
    assert!(m.contains("no token with label \"SmartCard-HSM\"") && m.contains("\"errs\""), "{m}");

    // missing key
    let e = Pkcs11Signer::open(&hsm.uri("errs", Some("zsk")), Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    assert_eq!(e.to_string(), "no key with label \"zsk\" on token \"errs\"");

    // no key selector
    let e = Pkcs11Signer::open(&uri, Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::NoKeySelector), "{e}");

    // unsupported algorithm: an EC key cannot sign RSASHA256, RSASHA1 is verify-only
    let e = Pkcs11Signer::open(&hsm.uri("errs", Some("ksk")), Algorithm::RsaSha256, KSK, &opts()).unwrap_err();
    assert!(e.to_string().contains("EC P-256 key; it cannot sign RSASHA256"), "{e}");
    let e = Pkcs11Signer::open(&hsm.uri("errs", Some("ksk")), Algorithm::RsaSha1, KSK, &opts()).unwrap_err();
    assert!(e.to_string().contains("verify-only"), "{e}");
    let e = pkcs11::keygen(&uri, Algorithm::RsaSha256, Some(1024), "small", &opts()).unwrap_err();
    assert!(e.to_string().contains("1024-bit keys are not allowed"), "{e}");

    // label already taken
    let e = pkcs11::keygen(&uri, Algorithm::EcdsaP256Sha256, None, "ksk", &opts()).unwrap_err();
    assert_eq!(e.to_string(), "a key with label \"ksk\" already exists on token \"errs\"; choose another label");

    // duplicate labels (made by another tool): ask for id=
    let e = Pkcs11Signer::open(&hsm.uri("errs", Some("dup")), Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    let m = e.to_string();
    assert!(m.starts_with("2 keys have label \"dup\" on token \"errs\": use id="), "{m}");
    assert!(m.contains("0a") && m.contains("0b"), "{m}");
    // and with id= it works
    let u: Pkcs11Uri = format!("pkcs11:token=errs;object=dup;id=%0b?module-path={MODULE}&pin-value={PIN}").parse().unwrap();
    let s = Pkcs11Signer::open(&u, Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap();
    check_signing(&s, Algorithm::EcdsaP256Sha256);
    drop(s);

    // wrong PIN: its own error with the token's PIN flags; no second attempt in this run
    let bad: Pkcs11Uri = format!("pkcs11:token=errs;object=ksk?module-path={MODULE}&pin-value=0000").parse().unwrap();
    let e = Pkcs11Signer::open(&bad, Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::WrongPin { .. }), "{e}");
    assert!(e.to_string().starts_with("wrong PIN for token \"errs\"; token PIN flags:"), "{e}");
    let e = Pkcs11Signer::open(&hsm.uri("errs", Some("ksk")), Algorithm::EcdsaP256Sha256, KSK, &opts()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::SecondLogin { .. }), "{e}");
}

/// Makes two EC key pairs labelled `label` (ids 0a and 0b) with cryptoki
/// directly, as another tool would; kskit itself refuses duplicate labels.
/// Runs while no kskit session is open (the module is not initialised).
fn make_duplicate_labels(token: &str, label: &str) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::Attribute;
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).map(|i| i.label() == token).unwrap_or(false))
        .unwrap();
    let s = ctx.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::from(PIN))).unwrap();
    let p256 = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    for id in [0x0au8, 0x0b] {
        let public = [
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::EcParams(p256.clone()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(vec![id]),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(vec![id]),
        ];
        s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private).unwrap();
    }
    s.logout().unwrap();
    drop(s);
    ctx.finalize().unwrap();
}

/// (label, CKA_TOKEN, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN) of every
/// private key on `token`, read with cryptoki directly while no kskit
/// session is open.
fn private_key_flags(token: &str) -> Vec<(String, bool, bool, bool, bool)> {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).map(|i| i.label() == token).unwrap_or(false))
        .unwrap();
    let s = ctx.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::from(PIN))).unwrap();
    let mut out = Vec::new();
    for h in s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).unwrap() {
        let attrs = s
            .get_attributes(h, &[AttributeType::Label, AttributeType::Token, AttributeType::Sensitive, AttributeType::Extractable, AttributeType::Sign])
            .unwrap();
        let mut row = (String::new(), false, false, true, false);
        for a in attrs {
            match a {
                Attribute::Label(l) => row.0 = String::from_utf8_lossy(&l).into_owned(),
                Attribute::Token(b) => row.1 = b,
                Attribute::Sensitive(b) => row.2 = b,
                Attribute::Extractable(b) => row.3 = b,
                Attribute::Sign(b) => row.4 = b,
                _ => {}
            }
        }
        out.push(row);
    }
    s.logout().unwrap();
    drop(s);
    ctx.finalize().unwrap();
    out
}

/// `hsm keygen`'s key-tag retry (issue 15 point 8): a key pair whose tag is
/// refused is destroyed on the token and another made, in one login; when
/// every try is refused nothing with the label is left on the token.
#[test]
fn keygen_retries_a_refused_key_tag_and_leaves_only_the_accepted_key() {
    let _g = lock();
    if !available() {
        return;
    }
    let hsm = Hsm::new("ALL");
    hsm.init_token("Tags");
    let uri = hsm.uri("Tags", None);
    let mut seen: Vec<String> = Vec::new();
    let mut accept = |k: &pkcs11::TokenKey| {
        seen.push(k.id_hex());
        seen.len() == 3
    };
    let key = pkcs11::keygen_accepting(&uri, Algorithm::EcdsaP256Sha256, None, "ksk-tag", &opts(), false, 32, &mut accept).unwrap();
    assert_eq!(seen.len(), 3, "two refused, the third accepted");
    assert_eq!(seen[2], key.id_hex());
    let keys_on = |label: &str| -> Vec<String> {
        let inv = pkcs11::list(Path::new(MODULE), &ListOptions::default()).unwrap();
        let tok = inv.slots.iter().filter_map(|s| s.token.as_ref()).find(|t| t.label == "Tags").unwrap();
        tok.keys.iter().filter(|k| k.label == label).map(|k| k.id.clone()).collect()
    };
    let left = keys_on("ksk-tag");
    assert!(!left.is_empty() && left.iter().all(|id| id.eq_ignore_ascii_case(&key.id_hex())), "only the accepted key pair is left: {left:?} vs {}", key.id_hex());
    let e = pkcs11::keygen_accepting(&uri, Algorithm::EcdsaP256Sha256, None, "never", &opts(), false, 3, &mut |_| false).unwrap_err();
    assert!(e.to_string().contains("after 3 tries"), "{e}");
    assert!(keys_on("never").is_empty(), "every refused key pair was removed");
}
