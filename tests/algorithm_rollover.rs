//! An algorithm rollover (RSASHA256 → ECDSAP256SHA256, RFC 6781 §4.1.4)
//! through the whole pipeline, with a ZSK side and a KSK side that share
//! only their kskit.toml policy: `zsk pregenerate` makes the new
//! algorithm's ZSK (signing before it is published), `ksr generate` asks for
//! both algorithms, `ksr sign --follow-plan` pre-signs the KSK side of every
//! bundle, `skr import` checks it and `sign-zone` signs the zone at one
//! instant of each of the six steps.
//!
//! Each signed zone is checked by ldns-verify-zone at its instant, and
//! every mix a resolver can hold (the DNSKEY RRset of one step with the
//! zone data of the step before or after, the DS of that step or the one
//! before) by kskit's chain check, which insists on the algorithm rule
//! (RFC 4035 §2.2). ldns-verify-zone does not check that rule and BIND's
//! dnssec-verify has no way to validate at another time than now, so the
//! rule is kskit's to check here; a negative control shows the check fails
//! on a zone that skipped the "new RRSIGs" step.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use common::{ok, require_tools, run_kskit, s, text};
use kskit::dnssec::presentation::parse_records;
use kskit::dnssec::{parse_name, Ds, Name, RData, RrSet, Rrsig};
use kskit::rollover::trust::TrustError;
use time::{Duration, OffsetDateTime};

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 3600
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.3
www AAAA 2001:db8::3
child NS ns.child
child DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.child A 192.0.2.53
";

/// The six steps of RFC 6781 §4.1.4 with the default policy (every step one
/// 10-day bundle): offset of each step's start from the rollover start S.
const STEPS: [(&str, i64); 6] =
    [("initial", -10), ("new RRSIGs", 0), ("new DNSKEY", 10), ("new DS", 20), ("DNSKEY removal", 30), ("RRSIGs removal", 40)];

fn fmt(t: OffsetDateTime) -> String {
    kskit::timeutil::format_rfc3339(t)
}

fn day_start(days_ahead: i64) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_time(time::Time::MIDNIGHT) + Duration::days(days_ahead)
}

/// `kskit init` with an RSASHA256 KSK and ZSK that never roll and an
/// algorithm rollover to ECDSAP256SHA256 at `start`.
fn side(parent: &Path, name: &str, start: OffsetDateTime) -> PathBuf {
    let dir = common::kskit_init(parent, name, "example.com.");
    let conf = dir.join("kskit.toml");
    let mut c = std::fs::read_to_string(&conf).unwrap();
    for (prefix, line) in [
        ("ksk = ", r#"ksk = { algorithm = "RSASHA256", bits = 2048, lifetime = "0d" }"#.to_string()),
        ("zsk = ", r#"zsk = { algorithm = "RSASHA256", bits = 2048, lifetime = "0d" }"#.to_string()),
        ("# algorithm_rollover_to = ", r#"algorithm_rollover_to = "ECDSAP256SHA256""#.to_string()),
        ("# algorithm_rollover_start = ", format!("algorithm_rollover_start = \"{}\"", fmt(start))),
    ] {
        let old = c.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} line in kskit.toml")).to_string();
        c = c.replace(&old, &line);
    }
    std::fs::write(&conf, c).unwrap();
    dir
}

struct Pipeline {
    _tmp: tempfile::TempDir,
    z: PathBuf,
    k: PathBuf,
    ksr: PathBuf,
    skr: PathBuf,
    /// The DS of the RSASHA256 and the ECDSAP256SHA256 KSK.
    ds_old: Ds,
    ds_new: Ds,
    start: OffsetDateTime,
}

/// Both sides, the keys, the KSR; with `zone_side_start` the ZSK side's
/// policy starts the rollover at another time than the KSK side's.
fn pipeline(zone_side_start: Option<OffsetDateTime>) -> Pipeline {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = day_start(2);
    let start = t0 + Duration::days(10);
    let z = side(tmp.path(), "zsk-side", zone_side_start.unwrap_or(start));
    let k = side(tmp.path(), "ksk-side", start);
    ok(run_kskit(&k, &["key", "generate", "--role", "ksk", "--algorithm", "RSASHA256", "--bits", "2048"]), "RSASHA256 KSK");
    ok(run_kskit(&k, &["key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "ECDSAP256SHA256 KSK");
    let mut ds = HashMap::new();
    let mut ta = String::new();
    for key in common::key_list(&k) {
        let line = ok(run_kskit(&k, &["key", "ds", key["id"].as_str().unwrap()]), "key ds");
        let rec = parse_records(&line, None, None).unwrap().remove(0);
        let RData::Ds(d) = rec.rdata else { panic!("not a DS: {line}") };
        ds.insert(d.algorithm, d);
        ta.push_str(&line);
    }
    std::fs::write(tmp.path().join("ta.ds"), ta).unwrap();
    let made = ok(run_kskit(&z, &["zsk", "pregenerate", "--from", &fmt(t0), "--until", &fmt(t0 + Duration::days(100))]), "zsk pregenerate");
    assert!(made.contains("RSASHA256") && made.contains("ECDSAP256SHA256"), "pregenerate made both algorithms' ZSKs:\n{made}");
    let ksr = tmp.path().join("req.xml");
    ok(run_kskit(&z, &["ksr", "generate", "--from", &fmt(t0), "--until", &fmt(t0 + Duration::days(90)), "-o", s(&ksr)]), "ksr generate");
    let skr = tmp.path().join("resp.xml");
    Pipeline { z, k, ksr, skr, ds_old: ds.remove(&8).unwrap(), ds_new: ds.remove(&13).unwrap(), start, _tmp: tmp }
}

/// One signed zone, split into what a resolver caches separately.
struct Signed {
    at: OffsetDateTime,
    dnskey: RrSet,
    dnskey_sigs: Vec<Rrsig>,
    /// Every other signed RRset with its RRSIGs, by (owner, type).
    data: Vec<(RrSet, Vec<Rrsig>)>,
    /// CDS and CDNSKEY with their RRSIGs: pre-signed by the KSKs like the
    /// DNSKEY RRset, so with that step's DNSKEY algorithms only.
    ksk_signed: Vec<(RrSet, Vec<Rrsig>)>,
    cds: Vec<Ds>,
}

impl Signed {
    fn dnskey_algorithms(&self) -> BTreeSet<u8> {
        self.dnskey.rdatas.iter().filter_map(|r| if let RData::Dnskey(k) = r { Some(k.algorithm) } else { None }).collect()
    }
    fn data_algorithms(&self) -> BTreeSet<u8> {
        self.data.iter().flat_map(|(_, sigs)| sigs.iter().map(|s| s.algorithm)).collect()
    }
}

fn parse_signed(file: &Path, zone: &Name, at: OffsetDateTime) -> Signed {
    let common::SignedParts { apex, dnskey, dnskey_sigs, mut sets, sigs } = common::SignedParts::read(file, zone);
    let cds = sets
        .remove(&(apex, 59))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| if let RData::Cds(d) = r.rdata { Some(d) } else { None })
        .collect();
    let (ksk_signed, data): (Vec<_>, Vec<_>) = sets
        .into_iter()
        .filter_map(|(k, recs)| sigs.get(&k).map(|s| (RrSet::from_records(&recs).unwrap(), s.clone())))
        .partition(|(set, _)| set.rtype == 59 || set.rtype == 60);
    Signed { at, dnskey, dnskey_sigs, data, ksk_signed, cds }
}

/// The chain check for a resolver holding this DS RRset, the DNSKEY RRset
/// of `keys` and the zone data of `data`, at the later of their times.
fn chain(zone: &Name, ds: &[Ds], keys: &Signed, data: &Signed) -> Result<(), String> {
    let same_step = std::ptr::eq(keys, data);
    let sets = data.data.iter().chain(data.ksk_signed.iter().filter(|_| same_step));
    common::chain_secure(zone, ds, &keys.dnskey, &keys.dnskey_sigs, sets, keys.at.max(data.at))
}

fn ldns_verify(file: &Path, at: OffsetDateTime) {
    let t = format!("{:04}{:02}{:02}{:02}{:02}{:02}", at.year(), at.month() as u8, at.day(), at.hour(), at.minute(), at.second());
    let o = common::output(std::process::Command::new("ldns-verify-zone").args(["-t", &t, s(file)]));
    assert!(o.status.success() && text(&o).contains("Zone is verified and complete"), "ldns-verify-zone rejected {}:\n{}", file.display(), text(&o));
}

#[test]
fn algorithm_rollover_through_ksr_skr_and_sign_zone() {
    if !require_tools("ldns-verify-zone", "ldnsutils", &["ldns-verify-zone"], &[]) {
        return;
    }
    let p = pipeline(None);
    let zone = parse_name("example.com.").unwrap();

    // The KSR asks for both ZSK algorithms.
    let ksr = kskit::formats::parse_ksr_any(&std::fs::read(&p.ksr).unwrap()).unwrap();
    let algs: Vec<u8> = ksr.request_policy.as_ref().expect("an IANA request policy").algorithms.iter().map(|a| a.algorithm).collect();
    assert_eq!(algs, vec![8, 13], "request policy algorithms");
    let zsk_algs = |t: OffsetDateTime| -> BTreeSet<u8> {
        let b = ksr.bundles.iter().rev().find(|b| b.inception <= t).unwrap();
        b.keys.iter().map(|k| k.dnskey.algorithm).collect()
    };
    // The new ZSK is published with the new KSK, not when it starts signing.
    assert_eq!(zsk_algs(p.start), BTreeSet::from([8]));
    assert_eq!(zsk_algs(p.start + Duration::days(10)), BTreeSet::from([8, 13]));
    assert_eq!(zsk_algs(p.start + Duration::days(30)), BTreeSet::from([13]));

    ok(run_kskit(&p.k, &["ksr", "sign", s(&p.ksr), "--follow-plan", "-o", s(&p.skr), "--yes"]), "ksr sign --follow-plan");
    ok(run_kskit(&p.z, &["skr", "import", s(&p.skr), "--ksr", s(&p.ksr), "--trust-anchor", s(&p.z.parent().unwrap().join("ta.ds"))]), "skr import");

    let zf = p.z.join("zone.db");
    std::fs::write(&zf, ZONE).unwrap();
    let mut signed = Vec::new();
    for (name, off) in STEPS {
        let at = p.start + Duration::days(off) + Duration::hours(1);
        let out = p.z.join(format!("signed-{off}.db"));
        let o = ok(run_kskit(&p.z, &["sign-zone", s(&zf), "--at", &fmt(at), "-o", s(&out)]), &format!("sign-zone at step {name}"));
        ldns_verify(&out, at);
        let sz = parse_signed(&out, &zone, at);
        eprintln!("{name}: DNSKEY algorithms {:?}, RRSIG algorithms {:?} ({})", sz.dnskey_algorithms(), sz.data_algorithms(), o.trim());
        signed.push(sz);
    }
    let want = |i: usize| -> (Vec<u8>, Vec<u8>) {
        let (d, r): (&[u8], &[u8]) = match i {
            0 => (&[8], &[8]),
            1 => (&[8], &[8, 13]),
            2 | 3 => (&[8, 13], &[8, 13]),
            4 => (&[13], &[8, 13]),
            _ => (&[13], &[13]),
        };
        (d.to_vec(), r.to_vec())
    };
    for (i, sz) in signed.iter().enumerate() {
        let (d, r) = want(i);
        assert_eq!(sz.dnskey_algorithms().into_iter().collect::<Vec<_>>(), d, "DNSKEY algorithms at step {}", STEPS[i].0);
        assert_eq!(sz.data_algorithms().into_iter().collect::<Vec<_>>(), r, "zone RRSIG algorithms at step {}", STEPS[i].0);
        assert!(!sz.ksk_signed.is_empty(), "CDS/CDNSKEY at step {}", STEPS[i].0);
        for (set, sigs) in &sz.ksk_signed {
            let a: Vec<u8> = sigs.iter().map(|s| s.algorithm).collect::<BTreeSet<_>>().into_iter().collect();
            assert_eq!(a, d, "RRSIG algorithms of type {} at step {}", set.rtype, STEPS[i].0);
        }
        // Every signed RRset carries every algorithm of the step.
        for (set, sigs) in &sz.data {
            let a: Vec<u8> = sigs.iter().map(|s| s.algorithm).collect::<BTreeSet<_>>().into_iter().collect();
            assert_eq!(a, r, "RRSIG algorithms of {} type {} at step {}", kskit::dnssec::name::to_presentation(&set.name), set.rtype, STEPS[i].0);
        }
    }
    // CDS: the old KSK's until the DS swap, then the new one's.
    assert_eq!(signed[2].cds.iter().map(|d| d.key_tag).collect::<Vec<_>>(), vec![p.ds_old.key_tag]);
    assert_eq!(signed[3].cds.iter().map(|d| d.key_tag).collect::<Vec<_>>(), vec![p.ds_new.key_tag]);

    // The parent's DS per step: the old KSK's until "new DS", then the new one's.
    let ds = |i: usize| if i < 3 { vec![p.ds_old.clone()] } else { vec![p.ds_new.clone()] };
    for i in 0..signed.len() {
        for j in [i.saturating_sub(1), i, (i + 1).min(signed.len() - 1)] {
            for d in [ds(i), ds(i.saturating_sub(1))] {
                // A DS cached from the step before only meets a DNSKEY RRset of the step it was replaced in.
                if i >= 4 && d != ds(i) {
                    continue;
                }
                chain(&zone, &d, &signed[i], &signed[j])
                    .unwrap_or_else(|e| panic!("DNSKEY RRset of step {:?} with zone data of step {:?}: {e}", STEPS[i].0, STEPS[j].0));
            }
        }
    }
    // Negative control: without the "new RRSIGs" step, a resolver with the
    // new DNSKEY RRset and zone data cached from before fails (RFC 4035 §2.2).
    let e = chain(&zone, &ds(2), &signed[2], &signed[0]).expect_err("initial zone data under the new DNSKEY RRset");
    assert!(e.contains(&TrustError::DataAlgorithmUnsigned(13).to_string()), "{e}");
}

#[test]
fn sides_that_disagree_are_stopped_before_the_first_signature() {
    // The ZSK side starts 10 days early: its KSR publishes the ECDSAP256SHA256
    // ZSK a bundle before the KSK side has an ECDSAP256SHA256 KSK signing.
    let early = day_start(2);
    let p = pipeline(Some(early));
    let o = run_kskit(&p.k, &["ksr", "sign", s(&p.ksr), "--follow-plan", "-o", s(&p.skr), "--yes"]);
    let t = text(&o);
    assert!(!o.status.success(), "ksr sign accepted a KSR whose algorithm rollover disagrees:\n{t}");
    assert!(t.contains("RFC 4035 §2.2") && t.contains("algorithm 13") && t.contains("algorithm_rollover_start"), "{t}");
    assert!(!p.skr.exists(), "an SKR was written");
}

/// Sets `prefix`'s line of `dir`/kskit.toml to `line`.
fn set_line(dir: &Path, prefix: &str, line: &str) {
    let conf = dir.join("kskit.toml");
    let c = std::fs::read_to_string(&conf).unwrap();
    let old = c.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} line")).to_string();
    std::fs::write(&conf, c.replace(&old, line)).unwrap();
}

fn zsks(dir: &Path) -> Vec<serde_json::Value> {
    common::key_list(dir).into_iter().filter(|k| k["role"] == "zsk").collect()
}

#[test]
fn pregenerate_reschedules_the_old_zsk_once_and_refuses_late_old_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = day_start(2);
    let z = common::kskit_init(tmp.path(), "z", "example.com.");
    // An ECDSAP256SHA256 ZSK rolled every 90 days, made before the rollover is configured.
    ok(run_kskit(&z, &["zsk", "pregenerate", "--from", &fmt(t0), "--until", &fmt(t0 + Duration::days(30))]), "pregenerate");
    let before = zsks(&z);
    assert_eq!(before.len(), 1);
    let start = t0 + Duration::days(20);
    set_line(&z, "# algorithm_rollover_to = ", r#"algorithm_rollover_to = "ED25519""#);
    set_line(&z, "# algorithm_rollover_start = ", &format!("algorithm_rollover_start = \"{}\"", fmt(start)));
    let out = ok(run_kskit(&z, &["zsk", "pregenerate", "--until", &fmt(t0 + Duration::days(60))]), "pregenerate with the rollover");
    assert!(out.contains("rescheduled ") && out.contains("ED25519"), "{out}");
    let after = zsks(&z);
    assert_eq!(after.len(), 2, "{after:?}");
    let old = after.iter().find(|k| k["id"] == before[0]["id"]).unwrap();
    let new = after.iter().find(|k| k["algorithm"] == "ED25519").expect("an ED25519 ZSK");
    let t = |k: &serde_json::Value, f: &str| kskit::timeutil::parse_instant(k["timing"][f].as_str().unwrap()).unwrap();
    // The old ZSK leaves the DNSKEY RRset at X and stops signing at Y; the new one signs from S, published at P.
    assert_eq!(t(old, "remove"), start + Duration::days(30));
    assert_eq!(t(old, "retire"), start + Duration::days(40));
    assert_eq!(t(new, "active"), start);
    assert_eq!(t(new, "publish"), start + Duration::days(10));
    // Idempotent: a second run changes nothing.
    let again = ok(run_kskit(&z, &["zsk", "pregenerate", "--until", &fmt(t0 + Duration::days(60))]), "pregenerate again");
    assert!(again.contains("already scheduled"), "{again}");
    assert_eq!(zsks(&z), after);

    // Changing the ZSK algorithm without a rollover is refused, by name.
    let z3 = common::kskit_init(tmp.path(), "z3", "example.com.");
    ok(run_kskit(&z3, &["zsk", "pregenerate", "--from", &fmt(t0), "--until", &fmt(t0 + Duration::days(30))]), "pregenerate z3");
    set_line(&z3, "zsk = ", r#"zsk = { algorithm = "ED25519", lifetime = "90d" }"#);
    let o = run_kskit(&z3, &["zsk", "pregenerate", "--until", &fmt(t0 + Duration::days(200))]);
    let msg = text(&o);
    assert!(!o.status.success() && msg.contains("needs an algorithm rollover"), "{msg}");

    // A ZSK of the old algorithm that would start after S is refused, by name.
    let z2 = common::kskit_init(tmp.path(), "z2", "example.com.");
    set_line(&z2, "zsk = ", r#"zsk = { algorithm = "ECDSAP256SHA256", lifetime = "30d" }"#);
    ok(run_kskit(&z2, &["zsk", "pregenerate", "--from", &fmt(t0), "--until", &fmt(t0 + Duration::days(60))]), "pregenerate z2");
    set_line(&z2, "# algorithm_rollover_to = ", r#"algorithm_rollover_to = "ED25519""#);
    set_line(&z2, "# algorithm_rollover_start = ", &format!("algorithm_rollover_start = \"{}\"", fmt(start)));
    let o = run_kskit(&z2, &["zsk", "pregenerate", "--until", &fmt(t0 + Duration::days(60))]);
    let msg = text(&o);
    assert!(!o.status.success() && msg.contains("after the algorithm rollover") && msg.contains("delete it"), "{msg}");
}
