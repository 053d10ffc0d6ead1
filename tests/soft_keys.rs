//! Software keys: generation and signing for every algorithm, the RFC 8080 §6
//! Ed25519 known answers, encrypted key files and their errors, the keystore.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use data_encoding::{BASE64, HEXLOWER};
use kskit::backends::soft::{self, KeyDecryption, KeyEncryption, SoftKey};
use kskit::backends::Signer;
use kskit::dnssec::name::{canonical_wire, parse_name};
use kskit::dnssec::record::{rtype, RData, RrSet};
use kskit::dnssec::sign::sign_rrset;
use kskit::dnssec::verify::{verify_raw, verify_rrsig};
use kskit::dnssec::{Algorithm, DigestType, Rrsig};
use kskit::keys::fsutil;
use kskit::keys::keystore::{KeyMeta, Keystore, Role};
use kskit::secrets::Secret;
use time::OffsetDateTime;

fn pass(s: &str) -> Secret {
    Secret::new(s.to_string())
}

fn mx_rrset() -> RrSet {
    // example.com. 3600 IN MX 10 mail.example.com. (RFC 8080 §6)
    let mut data = vec![0u8, 10];
    data.extend(canonical_wire(&parse_name("mail.example.com.").unwrap()));
    RrSet::new(parse_name("example.com.").unwrap(), 3600, vec![RData::Other { rtype: rtype::MX, data }]).unwrap()
}

#[test]
fn every_algorithm_generates_signs_and_verifies() {
    // RSA at 2048 bits only: 3072/4096-bit generation takes ~40 s each in a
    // debug build and goes through the same code path.
    let cases = [
        (Algorithm::RsaSha256, Some(2048), 2048, 256),
        (Algorithm::RsaSha512, None, 2048, 256),
        (Algorithm::EcdsaP256Sha256, None, 256, 64),
        (Algorithm::EcdsaP384Sha384, Some(384), 384, 96),
        (Algorithm::Ed25519, None, 256, 64),
    ];
    let zone = parse_name("example.com.").unwrap();
    for (alg, bits, want_bits, sig_len) in cases {
        let k = soft::generate(alg, bits, 257).unwrap();
        assert_eq!(k.algorithm(), alg);
        assert_eq!(k.bits(), want_bits, "{alg}");
        assert_eq!(k.dnskey().key_bits(), Some(want_bits), "{alg}");
        assert_eq!(k.dnskey().flags, 257);
        let sig = k.sign(b"signed data").unwrap();
        assert_eq!(sig.len(), sig_len, "{alg} signature length");
        verify_raw(k.dnskey(), b"signed data", &sig).unwrap();
        assert!(verify_raw(k.dnskey(), b"signed datA", &sig).is_err(), "{alg}: tampered data must fail");
        let mut bad = sig.clone();
        bad[sig_len / 2] ^= 1;
        assert!(verify_raw(k.dnskey(), b"signed data", &bad).is_err(), "{alg}: tampered signature must fail");

        let rrsig = sign_rrset(&k, &mx_rrset(), &zone, 1_700_000_000, 1_700_086_400).unwrap();
        verify_rrsig(&mx_rrset(), &rrsig, k.dnskey()).unwrap();

        // PKCS#8 round trip gives the same key.
        let again = SoftKey::from_pkcs8(alg, 257, k.pkcs8()).unwrap();
        assert_eq!(again.dnskey(), k.dnskey());
    }
}

#[test]
fn refused_algorithms_and_sizes() {
    for (alg, bits) in [
        (Algorithm::RsaSha1, Some(2048)),
        (Algorithm::RsaSha1Nsec3Sha1, None),
        (Algorithm::RsaSha256, Some(1024)),
        (Algorithm::RsaSha256, Some(8192)),
        (Algorithm::Ed25519, Some(512)),
    ] {
        assert!(soft::generate(alg, bits, 257).is_err(), "{alg} {bits:?} must be refused");
    }
}

/// RFC 8080 §6.1 with the verified erratum 4935 (the published RRSIGs
/// counted 3 labels for example.com.; the corrected ones use 2). Private
/// keys, public keys, key tags, DS digests and signatures are the RFC's.
const RFC8080: [(&str, &str, u16, &str, &str, &str); 2] = [
    (
        "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
        "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        3613,
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
        // erratum 4935, labels 2
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
        // as published, labels 3
        "Edk+IB9KNNWg0HAjm7FazXyrd5m3Rk8zNZbvNpAcM+eysqcUOMIjWoevFkjH5GaMWeG96GUVZu6ECKOQmemHDg==",
    ),
    (
        "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
        "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
        35217,
        "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
        "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
        "5LL2obmzdqjWI+Xto5eP5adXt/T5tMhasWvwcyW4L3SzfcRawOle9bodhC+oip9ayUGjY9T/rL4rN3bOuESGDA==",
    ),
];

#[test]
fn rfc8080_ed25519_examples_byte_for_byte() {
    let zone = parse_name("example.com.").unwrap();
    for (private, public, tag, ds, sig_fixed, sig_published) in RFC8080 {
        let seed = BASE64.decode(private.as_bytes()).unwrap();
        let key = SoftKey::ed25519_from_seed(&seed, 257).unwrap();
        assert_eq!(BASE64.encode(&key.dnskey().public_key), public);
        assert_eq!(key.dnskey().key_tag(), tag);
        assert_eq!(HEXLOWER.encode(&key.dnskey().ds(&zone, DigestType::Sha256).digest), ds);

        let rrsig = sign_rrset(&key, &mx_rrset(), &zone, 1_438_207_200, 1_440_021_600).unwrap();
        assert_eq!(rrsig.labels, 2);
        assert_eq!(rrsig.key_tag, tag);
        assert_eq!(BASE64.encode(&rrsig.signature), sig_fixed, "RRSIG of key {tag} (RFC 8080 erratum 4935)");

        // The published example, labels 3, is also reproduced exactly (EdDSA is deterministic).
        let published = Rrsig { labels: 3, signature: Vec::new(), ..rrsig.clone() };
        let raw = key.sign(&mx_rrset().signing_input(&published)).unwrap();
        assert_eq!(BASE64.encode(&raw), sig_published, "published RRSIG of key {tag}");

        // Loaded through PKCS#8 the key is the same.
        let k2 = SoftKey::from_pkcs8(Algorithm::Ed25519, 257, key.pkcs8()).unwrap();
        assert_eq!(k2.dnskey(), key.dnskey());
    }
}

#[test]
fn encrypted_key_round_trip_passphrase_and_recipients() {
    let key = soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
    let file = soft::encrypt_key(&key, &KeyEncryption::Passphrase(pass("correct horse"))).unwrap();
    assert!(file.starts_with(b"age-encryption.org/v1"));
    // The private key does not appear in the file.
    assert!(!file.windows(key.pkcs8().len()).any(|w| w == key.pkcs8()));
    let back = soft::decrypt_key(&file, &KeyDecryption::Passphrase(pass("correct horse"))).unwrap();
    assert_eq!(back.pkcs8(), key.pkcs8());
    assert_eq!(back.dnskey(), key.dnskey());
    assert_eq!(back.algorithm(), Algorithm::EcdsaP256Sha256);
    let sig = back.sign(b"x").unwrap();
    verify_raw(key.dnskey(), b"x", &sig).unwrap();

    let id1 = age::x25519::Identity::generate();
    let id2 = age::x25519::Identity::generate();
    let zsk = soft::generate(Algorithm::Ed25519, None, 256).unwrap();
    let file = soft::encrypt_key(&zsk, &KeyEncryption::Recipients(vec![id1.to_public(), id2.to_public()])).unwrap();
    let back = soft::decrypt_key(&file, &KeyDecryption::Identities(vec![id2])).unwrap();
    assert_eq!(back.dnskey(), zsk.dnskey());
    assert_eq!(back.flags(), 256);

    let other = age::x25519::Identity::generate();
    let e = soft::decrypt_key(&file, &KeyDecryption::Identities(vec![other])).unwrap_err().to_string();
    assert!(e.contains("none of the given age identities"), "{e}");
    let e = soft::decrypt_key(&file, &KeyDecryption::Passphrase(pass("x"))).unwrap_err().to_string();
    assert!(e.contains("not to a passphrase"), "{e}");
}

#[test]
fn wrong_passphrase_truncated_and_foreign_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = soft::generate(Algorithm::Ed25519, None, 257).unwrap();
    let data = soft::encrypt_key(&key, &KeyEncryption::Passphrase(pass("right"))).unwrap();
    let path = dir.path().join("k.age");
    fs::write(&path, &data).unwrap();

    let e = soft::decrypt_key_file(&path, &KeyDecryption::Passphrase(pass("wrong"))).unwrap_err().to_string();
    assert!(e.contains("wrong passphrase for key file") && e.contains("k.age"), "{e}");

    // Truncated inside the header and inside the payload.
    for cut in [20, data.len() - 10] {
        let p = dir.path().join(format!("cut{cut}.age"));
        fs::write(&p, &data[..cut]).unwrap();
        let e = soft::decrypt_key_file(&p, &KeyDecryption::Passphrase(pass("right"))).unwrap_err().to_string();
        assert!(e.contains("truncated or corrupt") && e.contains(&format!("cut{cut}.age")), "{e}");
    }

    // Not age at all: a PEM key, a BIND key, an empty file.
    for (name, content) in [
        ("pem", &b"-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----\n"[..]),
        ("bind", &b"Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\n"[..]),
        ("empty", &b""[..]),
    ] {
        let p = dir.path().join(name);
        fs::write(&p, content).unwrap();
        let e = soft::decrypt_key_file(&p, &KeyDecryption::Passphrase(pass("right"))).unwrap_err().to_string();
        assert!(e.contains("foreign key file") && e.contains(name), "{e}");
    }

    // age-encrypted, but not a kskit key.
    let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("right".to_owned()));
    let mut other = Vec::new();
    {
        use std::io::Write;
        let mut w = enc.wrap_output(&mut other).unwrap();
        w.write_all(b"just some secret notes\n").unwrap();
        w.finish().unwrap();
    }
    let e = soft::decrypt_key(&other, &KeyDecryption::Passphrase(pass("right"))).unwrap_err().to_string();
    assert!(e.contains("foreign key file"), "{e}");
}

fn ks_key(ks: &mut Keystore, zone: &str, role: Role, alg: Algorithm) -> KeyMeta {
    let key = soft::generate(alg, None, role.flags()).unwrap();
    ks.store_soft_key(&key, &parse_name(zone).unwrap(), role, &KeyEncryption::Passphrase(pass("pw")), OffsetDateTime::now_utc())
        .unwrap()
}

fn mode(p: &std::path::Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn keystore_store_find_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keystore");
    let e = Keystore::open(&dir).unwrap_err().to_string();
    assert!(e.contains("no keystore at") && e.contains("run `kskit init`"), "{e}");

    let mut ks = Keystore::init(&dir).unwrap();
    assert!(Keystore::init(&dir).is_err(), "init over an existing keystore must fail");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("private")), 0o700);
    assert_eq!(ks.skr_dir(), dir.join("skr"));

    let ksk = ks_key(&mut ks, "example.com.", Role::Ksk, Algorithm::EcdsaP256Sha256);
    let zsk = ks_key(&mut ks, "Example.COM", Role::Zsk, Algorithm::Ed25519);
    let root = ks_key(&mut ks, ".", Role::Ksk, Algorithm::EcdsaP256Sha256);
    assert_eq!(ksk.zone, "example.com.");
    assert_eq!(zsk.zone, "example.com.");
    assert!(ksk.id.starts_with(&format!("example.com-ksk-{}-", ksk.key_tag)), "{}", ksk.id);
    assert!(root.id.starts_with("root-ksk-"), "{}", root.id);
    assert_eq!(ksk.flags, 257);
    assert_eq!(zsk.flags, 256);
    assert_eq!(ksk.locator, format!("file:private/{}.age", ksk.id));
    let kf = dir.join("private").join(format!("{}.age", ksk.id));
    assert_eq!(mode(&kf), 0o600);
    assert_eq!(mode(&dir.join("keys.json")), 0o644);
    assert_eq!(ksk.dnskey().unwrap().key_tag(), ksk.key_tag);

    // Reopened from disk, the metadata is the same.
    let ks = Keystore::open(&dir).unwrap();
    assert_eq!(ks.keys(), &[ksk.clone(), zsk.clone(), root.clone()]);

    // find: exact id, key tag, unique prefix, ambiguous prefix, none.
    assert_eq!(ks.find(&ksk.id).unwrap().id, ksk.id);
    if ksk.key_tag != zsk.key_tag && ksk.key_tag != root.key_tag {
        assert_eq!(ks.find(&ksk.key_tag.to_string()).unwrap().id, ksk.id);
    }
    assert_eq!(ks.find("example.com-zsk").unwrap().id, zsk.id);
    let e = ks.find("example.com-").unwrap_err().to_string();
    assert!(e.contains("ambiguous") && e.contains(&ksk.id) && e.contains(&zsk.id), "{e}");
    let e = ks.find("nosuch").unwrap_err().to_string();
    assert!(e.contains("no key matches") && e.contains(&root.id), "{e}");

    // Duplicate ids are refused.
    let mut ks = ks;
    let e = ks.add(ksk.clone()).unwrap_err().to_string();
    assert!(e.contains("already"), "{e}");

    // load: the key signs as its DNSKEY says and describes itself by id.
    let k = ks.load_soft_key(&ksk, &KeyDecryption::Passphrase(pass("pw"))).unwrap();
    assert_eq!(k.dnskey(), &ksk.dnskey().unwrap());
    assert_eq!(k.describe(), format!("soft:{}", ksk.id));
    verify_raw(k.dnskey(), b"d", &k.sign(b"d").unwrap()).unwrap();
    let e = ks.load_soft_key(&ksk, &KeyDecryption::Passphrase(pass("nope"))).unwrap_err().to_string();
    assert!(e.contains("wrong passphrase for key file") && e.contains(&ksk.id), "{e}");

    // Metadata that points at another key's file is caught.
    let mut wrong = ksk.clone();
    wrong.locator = root.locator.clone();
    let e = ks.load_soft_key(&wrong, &KeyDecryption::Passphrase(pass("pw"))).unwrap_err().to_string();
    assert!(e.contains("different key"), "{e}");
    let mut wrong = ksk.clone();
    wrong.locator = zsk.locator.clone();
    let e = ks.load_soft_key(&wrong, &KeyDecryption::Passphrase(pass("pw"))).unwrap_err().to_string();
    assert!(e.contains("algorithm mismatch"), "{e}");

    // update keeps the change on disk; a record whose tag does not match its key is refused.
    let mut upd = zsk.clone();
    upd.label = Some("2026 Q4 ZSK".into());
    ks.update(upd.clone()).unwrap();
    assert_eq!(Keystore::open(&dir).unwrap().get(&zsk.id), Some(&upd));
    let mut bad = zsk.clone();
    bad.key_tag = bad.key_tag.wrapping_add(1);
    assert!(ks.update(bad).unwrap_err().to_string().contains("key tag"));

    // Role flags are checked when storing.
    let zsk_flags = soft::generate(Algorithm::Ed25519, None, 256).unwrap();
    let e = ks
        .store_soft_key(&zsk_flags, &parse_name("example.com").unwrap(), Role::Ksk, &KeyEncryption::Passphrase(pass("pw")), OffsetDateTime::now_utc())
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not fit role ksk"), "{e}");
}

#[test]
fn interrupted_save_leaves_old_state_and_stale_temps_are_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ks");
    let mut ks = Keystore::init(&dir).unwrap();
    let first = ks_key(&mut ks, "example.org", Role::Ksk, Algorithm::Ed25519);

    // A crash after the temp file was written but before the rename: a
    // partial keys.json temp and a partial key file temp are left behind.
    fs::write(dir.join(".keys.json.Xy12ab.kskit-tmp"), b"{\"version\":1,\"keys\":[{\"id\":").unwrap();
    fs::write(dir.join("private").join(".example.org-zsk-1-0000.age.Ab34cd.kskit-tmp"), b"age-enc").unwrap();
    let ks = Keystore::open(&dir).unwrap();
    assert_eq!(ks.keys(), std::slice::from_ref(&first));
    for d in [dir.clone(), dir.join("private")] {
        for e in fs::read_dir(&d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!fsutil::is_temp_name(&name), "stale temp {name} not removed from {}", d.display());
        }
    }

    // A save that fails (keys.json cannot be replaced) changes nothing in
    // memory, leaves no temp file and no orphaned key file.
    let mut ks = ks;
    let saved = fs::read(dir.join("keys.json")).unwrap();
    fs::remove_file(dir.join("keys.json")).unwrap();
    fs::create_dir(dir.join("keys.json")).unwrap();
    fs::write(dir.join("keys.json").join("blocker"), b"x").unwrap();
    let key = soft::generate(Algorithm::Ed25519, None, 256).unwrap();
    let r = ks.store_soft_key(&key, &parse_name("example.org").unwrap(), Role::Zsk, &KeyEncryption::Passphrase(pass("pw")), OffsetDateTime::now_utc());
    assert!(r.is_err());
    assert_eq!(ks.keys(), std::slice::from_ref(&first));
    let names: Vec<String> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !fsutil::is_temp_name(n)), "{names:?}");
    let privs: Vec<String> =
        fs::read_dir(dir.join("private")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(privs, vec![format!("{}.age", first.id)]);
    fs::remove_dir_all(dir.join("keys.json")).unwrap();
    fs::write(dir.join("keys.json"), saved).unwrap();
    assert_eq!(Keystore::open(&dir).unwrap().keys(), &[first]);
}

#[test]
fn atomic_write_error_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("out.json");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("x"), b"x").unwrap();
    assert!(fsutil::write_atomic(&target, b"new", fsutil::MODE_SECRET).is_err());
    let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // In a missing directory it fails cleanly too.
    assert!(fsutil::write_atomic(&tmp.path().join("nope/file"), b"x", fsutil::MODE_PUBLIC).is_err());
    let f = tmp.path().join("secret");
    fsutil::write_atomic(&f, b"s", fsutil::MODE_SECRET).unwrap();
    assert_eq!(mode(&f), 0o600);
}
