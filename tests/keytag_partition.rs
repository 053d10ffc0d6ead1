//! Key-tag partitioning between the two sides (docs/checks.md "Key-tag
//! partitions"; Knot's keytag-modulo, BIND's tag-range): keys are made in
//! their side's partition (`key generate`, `zsk pregenerate`, `hsm
//! keygen`), the KSK side refuses a KSR whose ZSKs fall outside the ZSK
//! partition (KSR-KEYTAG-PARTITION) and the ZSK side an SKR whose KSKs fall
//! outside the KSK partition (SKR-KEYTAG-PARTITION), each with exit 1
//! naming the key tag and writing nothing. A Knot-made KSR that respects
//! the partition is accepted.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const KSK_LINE: &str = "\nksk = { algorithm = \"ECDSAP256SHA256\", lifetime = \"0d\" }";
const ZSK_LINE: &str = "\nzsk = { algorithm = \"ECDSAP256SHA256\", lifetime = \"90d\" }";

/// `kskit init` of `name` with the ksk and zsk tables given extra keys
/// (`keytag_modulo = "1/2"`, `tag_range = [0, 32767]`, or nothing).
fn side(t: &Path, name: &str, ksk_extra: &str, zsk_extra: &str) -> PathBuf {
    let d = kskit_init(t, name, "example.net");
    let cfg = d.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap();
    assert!(c.contains(KSK_LINE) && c.contains(ZSK_LINE), "template changed: {c}");
    let table = |line: &str, extra: &str| if extra.is_empty() { line.to_string() } else { line.replace(" }", &format!(", {extra} }}")) };
    std::fs::write(&cfg, c.replace(KSK_LINE, &table(KSK_LINE, ksk_extra)).replace(ZSK_LINE, &table(ZSK_LINE, zsk_extra))).unwrap();
    d
}

fn tags(dir: &Path, role: &str) -> Vec<u16> {
    key_list(dir).iter().filter(|k| k["role"] == role).map(|k| k["key_tag"].as_u64().and_then(|t| u16::try_from(t).ok()).expect("key tag")).collect()
}

const FROM: &str = "2030-01-01T00:00:00Z";
const UNTIL: &str = "2030-04-01T00:00:00Z";
const SIGN_AT: &str = "2029-12-20T00:00:00Z";
const IMPORT_AT: &str = "2030-01-02T00:00:00Z";

/// The ZSK side's pre-generated ZSKs and its KSR (`format`), in `zdir`.
fn zsk_side_ksr(zdir: &Path, format: &str) -> PathBuf {
    ok(run_kskit(zdir, &["zsk", "pregenerate", "--from", FROM, "--until", UNTIL]), "zsk pregenerate");
    let ksr = zdir.join(format!("request.{format}"));
    ok(run_kskit(zdir, &["ksr", "generate", "--from", FROM, "--until", UNTIL, "--format", format, "-o", s(&ksr)]), "ksr generate");
    ksr
}

/// A KSK in `kdir` and its DS in `kdir/ta.ds`; returns the tag.
fn ksk_with_ds(kdir: &Path) -> (u16, PathBuf) {
    let tag = kskit_generate_ksk(kdir, "ECDSAP256SHA256");
    let ta = kdir.join("ta.ds");
    kskit_write_ds(kdir, &tag.to_string(), &ta);
    (tag, ta)
}

#[test]
fn key_generate_and_zsk_pregenerate_make_keys_only_in_their_partition() {
    let tmp = tempfile::tempdir().unwrap();
    // Knot's form on one side, BIND's on the other, and both forms at once.
    let d = side(tmp.path(), "z", "tag_range = [32768, 65535]", "keytag_modulo = \"1/2\", tag_range = [0, 32767]");
    for _ in 0..4 {
        ok(run_kskit(&d, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "key generate ksk");
        ok(run_kskit(&d, &["key", "generate", "--role", "zsk", "--algorithm", "ECDSAP256SHA256"]), "key generate zsk");
    }
    ok(run_kskit(&d, &["zsk", "pregenerate", "--from", FROM, "--until", "2031-01-01T00:00:00Z"]), "zsk pregenerate");
    let (ksks, zsks) = (tags(&d, "ksk"), tags(&d, "zsk"));
    assert_eq!(ksks.len(), 4);
    assert!(zsks.len() >= 8, "{zsks:?}");
    assert!(ksks.iter().all(|t| *t >= 32768), "a KSK outside tag_range [32768, 65535]: {ksks:?}");
    assert!(zsks.iter().all(|t| *t <= 32767 && t % 2 == 1), "a ZSK outside keytag_modulo 1/2 and tag_range [0, 32767]: {zsks:?}");
}

#[test]
fn a_partitioned_cycle_signs_and_imports_in_both_formats() {
    for format in ["iana", "text"] {
        let tmp = tempfile::tempdir().unwrap();
        // One policy for both sides: ZSKs even, KSKs odd (Knot's "0/2" and "1/2").
        let (ksk, zsk) = ("keytag_modulo = \"1/2\"", "keytag_modulo = \"0/2\"");
        let zdir = side(tmp.path(), "zsk-side", ksk, zsk);
        let kdir = side(tmp.path(), "ksk-side", ksk, zsk);
        let (tag, ta) = ksk_with_ds(&kdir);
        assert_eq!(tag % 2, 1, "the KSK was made outside its partition");
        let ksr = zsk_side_ksr(&zdir, format);
        assert!(tags(&zdir, "zsk").iter().all(|t| t % 2 == 0), "{:?}", tags(&zdir, "zsk"));
        let out = ok(run_kskit(&kdir, &["ksr", "verify", s(&ksr), "--now", SIGN_AT]), "ksr verify");
        assert!(out.contains("PASS KSR-KEYTAG-PARTITION"), "{out}");
        let skr = tmp.path().join(format!("response.{format}"));
        ok(run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--now", SIGN_AT]), "ksr sign");
        let out = ok(run_kskit(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", IMPORT_AT]), "skr import");
        assert!(out.contains("PASS SKR-KEYTAG-PARTITION"), "{format}: {out}");
    }
}

#[test]
fn a_ksr_with_a_zsk_outside_the_zsk_partition_is_refused_naming_its_tag() {
    let tmp = tempfile::tempdir().unwrap();
    // The ZSK side makes odd ZSKs; the KSK side expects even ones.
    let zdir = side(tmp.path(), "zsk-side", "", "keytag_modulo = \"1/2\"");
    let kdir = side(tmp.path(), "ksk-side", "keytag_modulo = \"1/4\"", "keytag_modulo = \"0/2\"");
    let (tag, _ta) = ksk_with_ds(&kdir);
    let ksr = zsk_side_ksr(&zdir, "iana");
    let zsks = tags(&zdir, "zsk");
    let o = run_kskit(&kdir, &["ksr", "verify", s(&ksr), "--now", SIGN_AT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL KSR-KEYTAG-PARTITION"), "{out}");
    for z in &zsks {
        assert!(out.contains(&format!("ZSK {z} ")), "ZSK {z} not named: {out}");
    }
    assert!(out.contains("keytag_modulo \"0/2\""), "the partition is not named: {out}");
    let skr = tmp.path().join("response.xml");
    let o = run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--now", SIGN_AT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-KEYTAG-PARTITION"), "{}", text(&o));
    assert!(!skr.exists(), "an SKR was written for a KSR outside the partition");
}

#[test]
fn an_skr_with_a_ksk_outside_the_ksk_partition_is_refused_naming_its_tag() {
    let tmp = tempfile::tempdir().unwrap();
    // The ZSK side expects odd KSKs; the KSK side makes KSKs ≡ 0 mod 4.
    let zdir = side(tmp.path(), "zsk-side", "keytag_modulo = \"1/2\"", "keytag_modulo = \"2/4\"");
    let kdir = side(tmp.path(), "ksk-side", "keytag_modulo = \"0/4\"", "");
    let (tag, ta) = ksk_with_ds(&kdir);
    assert_eq!(tag % 4, 0);
    let ksr = zsk_side_ksr(&zdir, "text");
    let skr = tmp.path().join("response.text");
    ok(run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--now", SIGN_AT]), "ksr sign");
    let o = run_kskit(&zdir, &["skr", "verify", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", IMPORT_AT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = run_kskit(&zdir, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&ta), "--now", IMPORT_AT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL SKR-KEYTAG-PARTITION") && out.contains(&format!("KSK {tag} ")) && out.contains("keytag_modulo \"1/2\""), "{out}");
    assert!(out.contains("nothing imported"), "{out}");
    let timeline = zdir.join("keystore/skr/example.net/timeline.json");
    let imported = std::fs::read_to_string(&timeline).unwrap_or_default();
    assert!(!imported.contains("response"), "the SKR reached the timeline: {imported}");
}

#[test]
fn ksr_sign_refuses_a_ksk_outside_its_own_ksk_partition_naming_its_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let zsk = "keytag_modulo = \"0/2\"";
    let zdir = side(tmp.path(), "zsk-side", "", zsk);
    // The KSK is odd; then the partition changes to the other odd residue
    // mod 4 (as if the key had been made before the partition was set).
    let kdir = side(tmp.path(), "ksk-side", "keytag_modulo = \"1/2\"", zsk);
    let (tag, _ta) = ksk_with_ds(&kdir);
    assert_eq!(tag % 2, 1);
    let ksr = zsk_side_ksr(&zdir, "iana");
    let skr = tmp.path().join("response.xml");
    // In the partition: signed, the check named on stderr.
    let o = run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--now", SIGN_AT]);
    assert!(o.status.success() && text(&o).contains("PASS KSR-KSK-KEYTAG-PARTITION"), "{}", text(&o));
    std::fs::remove_file(&skr).unwrap();
    // The partition changed under the key: refused before any signature, naming the tag.
    let cfg = kdir.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap();
    let r = if tag % 4 == 1 { 3 } else { 1 };
    let other = format!("keytag_modulo = \"{r}/4\"");
    std::fs::write(&cfg, c.replacen("keytag_modulo = \"1/2\"", &other, 1)).unwrap();
    let o = run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes", "--now", SIGN_AT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL KSR-KSK-KEYTAG-PARTITION") && out.contains(&format!("KSK {tag} is outside")) && out.contains(&format!("keytag_modulo \"{r}/4\"")), "{out}");
    assert!(!skr.exists(), "an SKR was written with a KSK outside the partition");
}

#[test]
fn overlapping_partitions_are_refused_before_anything_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let d = side(tmp.path(), "z", "tag_range = [30000, 65535]", "tag_range = [0, 32767]");
    let o = run_kskit(&d, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("overlap"), "{}", text(&o));
    assert!(key_list_raw_is_empty(&d), "a key was made under an invalid policy");
}

/// Whether the keystore of `d` holds no key (read directly: `key list`
/// refuses the invalid configuration too).
fn key_list_raw_is_empty(d: &Path) -> bool {
    let keys = d.join("keystore/keys.json");
    std::fs::read_to_string(keys).map(|t| !t.contains("\"key_tag\"")).unwrap_or(true)
}

#[test]
fn hsm_keygen_makes_a_ksk_in_the_ksk_partition_on_softhsm() {
    if !SoftHsm::available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = side(tmp.path(), "ksk-side", "keytag_modulo = \"3/4\"", "keytag_modulo = \"0/4\"");
    let hsm = SoftHsm::new(None);
    hsm.init_token("partition");
    let uri = hsm.token_uri("partition");
    for label in ["ksk-a", "ksk-b", "ksk-c"] {
        let o = output(hsm.kskit(&d).args(["--json", "hsm", "keygen", "--token", &uri, "--algorithm", "ECDSAP256SHA256", "--label", label, "--role", "ksk"]));
        assert!(o.status.success(), "hsm keygen: {}", text(&o));
    }
    let ksks = tags(&d, "ksk");
    assert_eq!(ksks.len(), 3, "{ksks:?}");
    assert!(ksks.iter().all(|t| t % 4 == 3), "a token KSK outside keytag_modulo 3/4: {ksks:?}");
    // Refused key pairs were removed from the token: only the three kept remain.
    let o = output(std::process::Command::new("pkcs11-tool").env("SOFTHSM2_CONF", &hsm.conf).args(["--module", SOFTHSM_MODULE, "--login", "--pin", USER_PIN, "--token-label", "partition", "--list-objects", "--type", "privkey"]));
    assert!(o.status.success(), "pkcs11-tool --list-objects: {}", text(&o));
    let n = String::from_utf8_lossy(&o.stdout).matches("Private Key Object").count();
    assert_eq!(n, 3, "{}", text(&o));
}

/// Knot's ZSK side with keys in the partition: `keytag-modulo` in knot.conf
/// where keymgr knows it (Knot 3.3 and later); with Knot 3.2 (Debian 12),
/// which lacks it, the same outcome by remaking the pre-generated ZSKs until
/// every tag satisfies it (what keytag-modulo does key by key).
fn knot_zsks_in_partition(knot: &Knot, remainder: u16, modulus: u16) -> Vec<u16> {
    let conf = std::fs::read_to_string(&knot.zsk_conf).unwrap();
    let with = conf.replace("    offline-ksk: on\n", &format!("    offline-ksk: on\n    keytag-modulo: {remainder}/{modulus}\n"));
    std::fs::write(&knot.zsk_conf, &with).unwrap();
    let native = output(std::process::Command::new("knotc").arg("-c").arg(&knot.zsk_conf).arg("conf-check")).status.success();
    if !native {
        std::fs::write(&knot.zsk_conf, &conf).unwrap();
    }
    let kasp = knot.dir.path().join("zsk");
    for _ in 0..300 {
        ok(knot.zsk(&["pregenerate", "+90d"]), "keymgr pregenerate");
        let list = ok(knot.zsk(&["list"]), "keymgr list");
        let zsks: Vec<u16> = list.lines().filter(|l| l.contains(" ZSK ")).filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect();
        assert!(!zsks.is_empty(), "keymgr made no ZSK:\n{list}");
        if zsks.iter().all(|t| t % modulus == remainder) {
            return zsks;
        }
        assert!(!native, "Knot's keytag-modulo {remainder}/{modulus} made a ZSK outside it: {zsks:?}");
        std::fs::remove_dir_all(&kasp).unwrap();
        std::fs::create_dir_all(&kasp).unwrap();
    }
    panic!("no Knot ZSK set in keytag-modulo {remainder}/{modulus} after 300 tries");
}

#[test]
fn knot_ksr_in_the_zsk_partition_is_signed_and_one_outside_is_refused() {
    if !Knot::available() || !require_tools("Knot DNS (knotc)", "knot", &["knotc"], &[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let knot = Knot::new();
    let zsks = knot_zsks_in_partition(&knot, 0, 2);
    let ksr = t.join("knot.ksr");
    std::fs::write(&ksr, ok(knot.zsk(&["generate-ksr", "+0", "+60d"]), "keymgr generate-ksr")).unwrap();

    // kskit's KSK side with ZSKs even, KSKs odd: accepted and signed.
    let kdir = {
        let d = kskit_init(t, "kskit-ksk", "example.com.");
        let cfg = d.join("kskit.toml");
        let c = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, c.replace(KSK_LINE, &KSK_LINE.replace(" }", ", keytag_modulo = \"1/2\" }")).replace(ZSK_LINE, &ZSK_LINE.replace(" }", ", keytag_modulo = \"0/2\" }"))).unwrap();
        d
    };
    let tag = kskit_generate_ksk(&kdir, "ECDSAP256SHA256");
    assert_eq!(tag % 2, 1);
    let out = ok(run_kskit(&kdir, &["ksr", "verify", s(&ksr)]), "kskit ksr verify (Knot KSR)");
    assert!(out.contains("PASS KSR-KEYTAG-PARTITION"), "{out}");
    let skr = t.join("kskit.skr");
    ok(run_kskit(&kdir, &["ksr", "sign", s(&ksr), "--ksk", &tag.to_string(), "-o", s(&skr), "--yes"]), "kskit ksr sign (Knot KSR)");
    ok(knot.zsk(&["import-skr", s(&skr)]), "keymgr import-skr");

    // A KSK side that expects the other half refuses the same KSR, naming Knot's ZSKs.
    let refuse = kskit_init(t, "refusing-ksk", "example.com.");
    let cfg = refuse.join("kskit.toml");
    let c = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, c.replace(ZSK_LINE, &ZSK_LINE.replace(" }", ", keytag_modulo = \"1/2\" }"))).unwrap();
    let o = run_kskit(&refuse, &["ksr", "verify", s(&ksr)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL KSR-KEYTAG-PARTITION"), "{out}");
    assert!(zsks.iter().any(|z| out.contains(&format!("ZSK {z} "))), "no Knot ZSK ({zsks:?}) named: {out}");
}
