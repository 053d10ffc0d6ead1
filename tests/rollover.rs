//! Rollovers: a year of policy through the planner with real signatures and
//! a chain-of-trust check at every bundle boundary and change (including
//! what resolvers may still have cached), and the `kskit rollover step`
//! state machine on a simulated clock with saved parent poll results.

mod common;
use common::{free_port, Knotd};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use data_encoding::BASE64;
use kskit::backends::soft::{self, SoftKey};
use kskit::backends::Signer;
use kskit::config::{At, Dur, Policy};
use kskit::dnssec::sign::sign_rrset;
use kskit::dnssec::{parse_name, Algorithm, DigestType, Dnskey, Ds, Name, RData, RrSet, Rrsig};
use kskit::keys::keystore::{KeyMeta, KeyTiming, Keystore, Role};
use kskit::rollover::plan::{plan, CdsSet, Plan};
use kskit::rollover::trust::{check_chain, Snapshot, Trust, TrustError};
use kskit::timeutil::{parse_instant, to_rrsig_time};
use time::{Duration, OffsetDateTime};

type T = OffsetDateTime;

fn t0() -> T {
    parse_instant("2027-01-01T00:00:00Z").unwrap()
}

fn zone() -> Name {
    parse_name("example.").unwrap()
}

/// RSASHA256 KSK rolled every 120 days, ZSK every 90 days, and an algorithm
/// rollover to ECDSAP256SHA256 starting 1 August.
fn year_policy() -> Policy {
    let mut p = Policy::default();
    p.ksk.algorithm = Algorithm::RsaSha256;
    p.ksk.bits = Some(2048);
    p.ksk.lifetime = Dur(Duration::days(120));
    p.zsk.algorithm = Algorithm::RsaSha256;
    p.zsk.bits = Some(2048);
    p.zsk.lifetime = Dur(Duration::days(90));
    p.algorithm_rollover_to = Some(Algorithm::EcdsaP256Sha256);
    p.algorithm_rollover_start = Some(At(parse_instant("2027-08-01T00:00:00Z").unwrap()));
    p
}

/// One real key per planned key.
fn keys_for(pl: &Plan) -> HashMap<String, SoftKey> {
    pl.keys
        .iter()
        .map(|k| {
            let bits = if k.algorithm.is_rsa() { Some(2048) } else { None };
            (k.id.clone(), soft::generate(k.algorithm, bits, k.role.flags()).expect("generate"))
        })
        .collect()
}

/// What the zone publishes at `t`: the DNSKEY RRset signed by the planned
/// KSKs, and a zone RRset (a TXT at the apex) signed by the planned ZSKs.
struct Published {
    dnskey: RrSet,
    dnskey_sigs: Vec<Rrsig>,
    data: RrSet,
    data_sigs: Vec<Rrsig>,
}

fn dnskey_of(pl: &Plan, keys: &HashMap<String, SoftKey>, id: &str, t: T) -> Dnskey {
    let k = pl.key(id).unwrap();
    let mut d = keys[id].dnskey().clone();
    d.flags = k.flags_at(t);
    d
}

fn published(pl: &Plan, keys: &HashMap<String, SoftKey>, t: T) -> Published {
    let v = pl.view_at(t);
    let dnskeys: Vec<RData> = v.dnskeys.iter().map(|k| RData::Dnskey(dnskey_of(pl, keys, &k.id, t))).collect();
    let dnskey = RrSet::new(zone(), 3600, dnskeys).unwrap();
    let (inc, exp) = (to_rrsig_time(t - Duration::hours(1)), to_rrsig_time(t + Duration::days(21)));
    let dnskey_sigs = v.dnskey_signers.iter().map(|id| sign_rrset(&keys[id], &dnskey, &zone(), inc, exp).unwrap()).collect();
    let data = RrSet::new(zone(), 3600, vec![RData::Other { rtype: 16, data: b"\x05hello".to_vec() }]).unwrap();
    let data_sigs = v.zone_signers.iter().map(|id| sign_rrset(&keys[id], &data, &zone(), inc, exp).unwrap()).collect();
    Published { dnskey, dnskey_sigs, data, data_sigs }
}

fn ds_set(pl: &Plan, keys: &HashMap<String, SoftKey>, t: T) -> Vec<Ds> {
    pl.parent_ds_at(t).iter().map(|id| dnskey_of(pl, keys, id, t).ds(&zone(), DigestType::Sha256)).collect()
}

/// Every combination a resolver may hold at `t` validates: a DS RRset from
/// the parent at any time in the DS window (registration delay + parent
/// propagation + DS TTL), a DNSKEY RRset from the DNSKEY window (zone
/// propagation + DNSKEY TTL), zone data signatures from the data window
/// (zone propagation + max zone TTL). Returns the first failure.
fn check_instant(pl: &Plan, p: &Policy, keys: &HashMap<String, SoftKey>, t: T, cache: &mut HashMap<i64, Published>) -> Result<Trust, String> {
    let ds_win = p.parent_poll_interval.0 * p.parent_confirmations as i32 + p.parent_propagation_delay.0 + p.ds_ttl.0;
    let key_win = p.zone_propagation_delay.0 + p.dnskey_ttl.0;
    let data_win = p.zone_propagation_delay.0 + p.max_zone_ttl.0;
    let at = t.unix_timestamp() as u64;
    // Nothing is cached from before the zone was signed.
    let key_times = pl.change_points((t - key_win).max(pl.anchor), t);
    let data_times = pl.change_points((t - data_win).max(pl.anchor), t);
    let ds_times = pl.change_points((t - ds_win).max(pl.anchor), t);
    for u in key_times.iter().chain(data_times.iter()) {
        cache.entry(u.unix_timestamp()).or_insert_with(|| published(pl, keys, *u));
    }
    let cache = &*cache;
    let z = zone();
    let mut result = Trust::Insecure;
    for kt in &key_times {
        let kp = &cache[&kt.unix_timestamp()];
        for dt in &ds_times {
            let ds = ds_set(pl, keys, *dt);
            for st in &data_times {
                let sp = &cache[&st.unix_timestamp()];
                let snap = Snapshot { zone: &z, ds: &ds, dnskey: &kp.dnskey, dnskey_sigs: &kp.dnskey_sigs, data: &sp.data, data_sigs: &sp.data_sigs, at };
                match check_chain(&snap) {
                    Ok(tr) => result = tr,
                    Err(e) => {
                        return Err(format!("at {t}: DS from {dt}, DNSKEY from {kt}, data signatures from {st}: {e}"));
                    }
                }
            }
        }
    }
    Ok(result)
}

#[test]
fn a_year_of_rollovers_validates_at_every_bundle_and_change() {
    let p = year_policy();
    let until = t0() + Duration::days(365);
    let pl = plan("example.", &p, &[], t0(), until).unwrap();
    // what the year holds
    let zsk_rolls = pl.keys.iter().filter(|k| k.role == Role::Zsk && k.publish.is_some_and(|t| t > t0() && t < until)).count();
    let rsa_ksks = pl.keys.iter().filter(|k| k.role == Role::Ksk && k.algorithm == Algorithm::RsaSha256).count();
    let ec_ksks = pl.keys.iter().filter(|k| k.role == Role::Ksk && k.algorithm == Algorithm::EcdsaP256Sha256 && k.publish.is_some_and(|t| t < until)).count();
    assert!(zsk_rolls >= 2, "two ZSK rollovers: {zsk_rolls}");
    assert!(rsa_ksks >= 2, "one KSK rollover within RSASHA256");
    assert!(ec_ksks >= 1, "the algorithm rollover");
    let keys = keys_for(&pl);
    let mut cache = HashMap::new();
    let mut instants = pl.bundle_starts(t0(), until);
    instants.extend(pl.change_points(t0(), until));
    instants.sort();
    instants.dedup();
    let mut secure = 0;
    let mut both_algs_published = 0;
    for t in &instants {
        let tr = check_instant(&pl, &p, &keys, *t, &mut cache).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tr, Trust::Secure);
        secure += 1;
        // CDS never mixes delete with keys, and follows the parent DS plan
        match pl.cds_at(*t) {
            CdsSet::Keys(k) => assert_eq!(k, pl.parent_ds_at(*t)),
            other => panic!("cds_publish=always but {other:?} at {t}"),
        }
        let algs: std::collections::BTreeSet<_> = pl.view_at(*t).dnskeys.iter().map(|k| k.algorithm).collect();
        if algs.len() == 2 {
            both_algs_published += 1;
        }
    }
    assert!(secure > 36);
    assert!(both_algs_published > 0, "the algorithm rollover publishes both algorithms for a while");
}

#[test]
fn a_broken_plan_is_caught() {
    // The same year, but the old KSK leaves the DNSKEY RRset as soon as the
    // DS changes (no wait for cached DS): the check must fail.
    let p = year_policy();
    let until = t0() + Duration::days(200);
    let mut pl = plan("example.", &p, &[], t0(), until).unwrap();
    let new_submit = pl.key("new-ksk-2").unwrap().ds_submit.unwrap();
    let old = pl.keys.iter_mut().find(|k| k.id == "new-ksk-1").unwrap();
    old.remove = Some(new_submit);
    old.retire = Some(new_submit);
    let keys = keys_for(&pl);
    let mut cache = HashMap::new();
    let e = check_instant(&pl, &p, &keys, new_submit, &mut cache).unwrap_err();
    assert!(e.contains("RFC 4035 §5.2") || e.contains("RFC 6840"), "{e}");

    // And an algorithm rollover that publishes the new DNSKEYs without their
    // signatures first breaks RFC 4035 §2.2 for cached data.
    let mut pl = plan("example.", &p, &[], t0(), t0() + Duration::days(365)).unwrap();
    let zn = pl.keys.iter_mut().find(|k| k.role == Role::Zsk && k.algorithm == Algorithm::EcdsaP256Sha256).unwrap();
    let publish = zn.publish.unwrap();
    zn.active = Some(publish);
    let keys = keys_for(&pl);
    let mut cache = HashMap::new();
    let e = check_instant(&pl, &p, &keys, publish, &mut cache).unwrap_err();
    assert!(e.contains("algorithm 13"), "{e}");
}

#[test]
fn chain_check_rejects_missing_ds_algorithm_signature() {
    let k8 = soft::generate(Algorithm::RsaSha256, Some(2048), 257).unwrap();
    let k13 = soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
    let z = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let set = RrSet::new(zone(), 3600, vec![RData::Dnskey(k13.dnskey().clone()), RData::Dnskey(z.dnskey().clone())]).unwrap();
    let (inc, exp) = (to_rrsig_time(t0()), to_rrsig_time(t0() + Duration::days(10)));
    let sigs = vec![sign_rrset(&k13, &set, &zone(), inc, exp).unwrap()];
    let data = RrSet::new(zone(), 3600, vec![RData::Other { rtype: 16, data: b"\x01x".to_vec() }]).unwrap();
    let dsigs = vec![sign_rrset(&z, &data, &zone(), inc, exp).unwrap()];
    let at = (t0() + Duration::days(1)).unix_timestamp() as u64;
    let ds = vec![k8.dnskey().ds(&zone(), DigestType::Sha256), k13.dnskey().ds(&zone(), DigestType::Sha256)];
    let z = zone();
    let snap = Snapshot { zone: &z, ds: &ds, dnskey: &set, dnskey_sigs: &sigs, data: &data, data_sigs: &dsigs, at };
    assert_eq!(check_chain(&snap), Err(TrustError::DsAlgorithmUnsigned(8)));
    let ds = vec![k13.dnskey().ds(&zone(), DigestType::Sha256)];
    let snap = Snapshot { ds: &ds, ..snap };
    assert_eq!(check_chain(&snap), Ok(Trust::Secure));
    // expired signatures do not count
    let late = Snapshot { at: (t0() + Duration::days(11)).unix_timestamp() as u64, ..snap };
    assert_eq!(check_chain(&late), Err(TrustError::NoSecureEntryPoint));
}

// ---- state machine through the CLI ----

/// A kskit directory whose keystore holds the plan's first KSK and ZSK and
/// the successor KSK, with the plan's timing recorded; returns the plan.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    plan: Plan,
    hook_log: PathBuf,
    zone: String,
}

fn meta(zone: &str, id: &str, role: Role, key: &SoftKey, created: T) -> KeyMeta {
    let d = key.dnskey();
    KeyMeta {
        id: id.into(),
        zone: zone.into(),
        role,
        algorithm: key.algorithm(),
        bits: key.bits(),
        key_tag: d.key_tag(),
        flags: d.flags,
        public_key: BASE64.encode(&d.public_key),
        locator: format!("file:private/{id}.age"),
        created,
        timing: KeyTiming::default(),
        label: None,
        standby: false,
        lost: None,
    }
}

fn setup(hook_exit: i32) -> Setup {
    setup_for("example.", hook_exit)
}

/// A keystore for `zone` with a KSK rolled every 120 days (ksk-a, then
/// ksk-b) and one ZSK, two parent confirmations an hour apart, and a hook
/// that logs every state change and exits `hook_exit`.
fn setup_for(zone: &str, hook_exit: i32) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let hook_log = dir.join("hook.log");
    let hook = format!(
        "echo \"$KSKIT_ZONE $KSKIT_KEY $KSKIT_OLD_STATE $KSKIT_NEW_STATE\" >> '{}'; exit {hook_exit}",
        hook_log.display()
    );
    let cfg = format!(
        "zones = [\"{zone}\"]\nkeystore = \"keystore\"\n[policy]\nksk = {{ algorithm = \"ECDSAP256SHA256\", lifetime = \"120d\" }}\nzsk = {{ algorithm = \"ECDSAP256SHA256\", lifetime = \"0d\" }}\nparent_confirmations = 2\nparent_poll_interval = \"1h\"\nparent_servers = []\nhook = {hook:?}\n"
    );
    std::fs::write(dir.join("kskit.toml"), cfg).unwrap();
    let mut ks = Keystore::init(&dir.join("keystore")).unwrap();
    let cfgd = kskit::config::Config::load(&dir.join("kskit.toml")).unwrap();
    let pl0 = plan(zone, &cfgd.policy, &[], t0(), t0() + Duration::days(200)).unwrap();
    for (id, role) in [("ksk-a", Role::Ksk), ("zsk-a", Role::Zsk), ("ksk-b", Role::Ksk)] {
        let slot = match id {
            "ksk-a" => pl0.key("new-ksk-1").unwrap(),
            "zsk-a" => pl0.key("new-zsk-1").unwrap(),
            _ => pl0.key("new-ksk-2").unwrap(),
        };
        let k = soft::generate(Algorithm::EcdsaP256Sha256, None, role.flags()).unwrap();
        let mut m = meta(zone, id, role, &k, t0() - Duration::days(1));
        m.timing = KeyTiming { publish: slot.publish, active: slot.active, retire: slot.retire, remove: slot.remove, revoke: None };
        ks.add(m).unwrap();
    }
    let plan = plan(zone, &cfgd.policy, ks.keys(), t0(), t0() + Duration::days(200)).unwrap();
    assert!(plan.key("ksk-a").is_some() && plan.key("ksk-b").is_some(), "{:?}", plan.keys);
    Setup { _tmp: tmp, dir, plan, hook_log, zone: zone.to_string() }
}

fn kskit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kskit")).current_dir(dir).args(args).env_remove("KSKIT_CONFIG").output().expect("run kskit")
}

fn step(s: &Setup, now: T, poll: Option<&Path>) -> (i32, serde_json::Value) {
    let now = kskit::timeutil::format_rfc3339(now);
    let mut args = vec!["--json", "rollover", "step", "--now", now.as_str()];
    let p;
    if let Some(f) = poll {
        p = f.display().to_string();
        args.extend(["--poll-json", p.as_str()]);
    }
    let o = kskit(&s.dir, &args);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap_or(-1), v)
}

fn state(s: &Setup) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(s.dir.join("keystore/rollover.json")).unwrap()).unwrap()
}

fn key_state(s: &Setup, id: &str) -> String {
    state(s)["zones"][s.zone.as_str()]["keys"][id]["state"].as_str().unwrap_or("planned").to_string()
}

/// A `kskit parent poll --json` result for the DS of `ids` at two servers,
/// seen at `seen_at` of them.
fn poll_file(s: &Setup, ids: &[&str], seen_at: usize, name: &str) -> PathBuf {
    let ks = Keystore::open(&s.dir.join("keystore")).unwrap();
    let keys: Vec<Dnskey> = ids.iter().map(|id| ks.get(id).unwrap().dnskey().unwrap()).collect();
    let e = kskit::parent::ExpectedDs::from_cds(&zone(), &[], &keys, &[DigestType::Sha256]).unwrap();
    let servers: Vec<serde_json::Value> = (0..2)
        .map(|i| serde_json::json!({"server": format!("192.0.2.{i}:53"), "seen": i < seen_at, "reason": if i < seen_at {"DS RRset matches"} else {"no DS RRset"}}))
        .collect();
    let all = seen_at == 2;
    let v = serde_json::json!({"zone": "example.", "expected_from": "test", "delete": false, "expected": e.ds_text(), "seen": all,
        "reason": if all {"seen at all 2 server(s)"} else {"not seen at 1 of 2 server(s)"}, "servers": servers});
    let p = s.dir.join(name);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

fn hook_lines(s: &Setup) -> Vec<String> {
    std::fs::read_to_string(&s.hook_log).unwrap_or_default().lines().map(str::to_string).collect()
}

#[test]
fn step_follows_the_plan_and_waits_for_the_parent() {
    let s = setup(0);
    let a_ds = poll_file(&s, &["ksk-a"], 2, "a.json");
    // Before anything is due: nothing happens.
    let (code, v) = step(&s, t0() - Duration::days(1), Some(&a_ds));
    assert_eq!(code, 0, "{v}");
    assert!(v["report"]["changes"].as_array().unwrap().is_empty());
    // At t0 the first keys are published and active, the first DS submitted.
    let (code, v) = step(&s, t0(), Some(&a_ds));
    assert_eq!(code, 0, "{v}");
    // Same-instant events apply in lifecycle order: published, then active,
    // then (KSK) its DS submitted.
    assert_eq!(key_state(&s, "ksk-a"), "ds-submitted");
    assert_eq!(key_state(&s, "zsk-a"), "active");
    let lines = hook_lines(&s);
    for want in ["ksk-a planned published", "ksk-a published active", "ksk-a active ds-submitted", "zsk-a planned published", "zsk-a published active"] {
        assert!(lines.contains(&format!("example. {want}")), "{want}: {lines:?}");
    }
    // Re-running at the same instant is idempotent (no change, no poll, no hook).
    let before = std::fs::read(s.dir.join("keystore/rollover.json")).unwrap();
    let n = hook_lines(&s).len();
    let (code, v) = step(&s, t0(), Some(&a_ds));
    assert_eq!(code, 0);
    assert!(v["report"]["changes"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["report"]["observation"].is_null(), "{v}");
    assert_eq!(std::fs::read(s.dir.join("keystore/rollover.json")).unwrap(), before);
    assert_eq!(hook_lines(&s).len(), n);
    // The initial DS is confirmed after two consecutive seen polls.
    step(&s, t0() + Duration::hours(1), Some(&a_ds));
    assert_eq!(key_state(&s, "ksk-a"), "ds-seen");

    let new = s.plan.key("ksk-b").unwrap().clone();
    let old = s.plan.key("ksk-a").unwrap().clone();
    let r = new.ds_submit.unwrap();
    let old_retire = old.retire.unwrap();
    // Just before the new KSK's publication: nothing moves.
    let (_, v) = step(&s, new.publish.unwrap() - Duration::minutes(5), Some(&a_ds));
    assert!(v["report"]["changes"].as_array().unwrap().is_empty(), "{v}");
    step(&s, new.publish.unwrap(), Some(&a_ds));
    // Published and active at the same instant: the later state stands.
    assert_eq!(key_state(&s, "ksk-b"), "active");
    // DS swap: the new DS is submitted, the old one withdrawn.
    let b_one = poll_file(&s, &["ksk-b"], 1, "b1.json");
    let b_both = poll_file(&s, &["ksk-b"], 2, "b2.json");
    let (_, v) = step(&s, r, Some(&b_one));
    assert_eq!(key_state(&s, "ksk-b"), "ds-submitted", "{v}");
    assert_eq!(v["report"]["observation"]["seen"], false);
    // Seen at both, then at one only: the consecutive count restarts.
    let (_, v) = step(&s, r + Duration::hours(1), Some(&b_both));
    assert_eq!(v["report"]["observation"]["consecutive"], 1, "{v}");
    let (_, v) = step(&s, r + Duration::hours(2), Some(&b_one));
    assert_eq!(v["report"]["observation"]["consecutive"], 0, "{v}");
    // A poll for another DS set (stale file) does not count either.
    let (_, v) = step(&s, r + Duration::hours(3), Some(&a_ds));
    assert_eq!(v["report"]["observation"]["seen"], false, "{v}");
    assert!(v["report"]["observation"]["reason"].as_str().unwrap().contains("another DS set"), "{v}");
    // Polls closer together than parent_poll_interval are not made.
    let (_, v) = step(&s, r + Duration::hours(3) + Duration::minutes(5), Some(&b_both));
    assert!(v["report"]["observation"].is_null(), "{v}");
    // Two consecutive seen polls confirm the DS.
    step(&s, r + Duration::hours(4), Some(&b_both));
    let (_, v) = step(&s, r + Duration::hours(5), Some(&b_both));
    assert_eq!(key_state(&s, "ksk-b"), "ds-seen", "{v}");
    let seen_at = r + Duration::hours(5);
    // The old KSK's planned retirement is long after; suppose the parent
    // were slow instead: the gate needs DS TTL + parent propagation after the
    // confirmation. Step at the planned time: confirmation + 1d1h has passed.
    assert!(old_retire >= seen_at + Duration::days(1) + Duration::hours(1));
    let (_, v) = step(&s, old_retire - Duration::minutes(1), None);
    assert_ne!(key_state(&s, "ksk-a"), "retired", "{v}");
    let (code, v) = step(&s, old_retire, None);
    assert_eq!(code, 0, "{v}");
    assert!(["retired", "removed"].contains(&key_state(&s, "ksk-a").as_str()), "{v}");
    let lines = hook_lines(&s);
    assert!(lines.iter().any(|l| l.starts_with("example. ksk-a ") && (l.ends_with(" removed") || l.ends_with(" retired"))), "{lines:?}");
}

#[test]
fn old_ksk_waits_for_confirmation_and_ds_ttl() {
    let s = setup(0);
    let a_ds = poll_file(&s, &["ksk-a"], 2, "a.json");
    step(&s, t0(), Some(&a_ds));
    step(&s, t0() + Duration::hours(1), Some(&a_ds));
    let new = s.plan.key("ksk-b").unwrap().clone();
    let old_retire = s.plan.key("ksk-a").unwrap().retire.unwrap();
    let r = new.ds_submit.unwrap();
    step(&s, new.publish.unwrap(), None);
    // The parent never shows the new DS at both servers until after the
    // planned retirement: the old KSK stays.
    let b_one = poll_file(&s, &["ksk-b"], 1, "b1.json");
    let mut t = r;
    while t <= old_retire + Duration::hours(2) {
        step(&s, t, Some(&b_one));
        t += Duration::hours(6);
    }
    assert_eq!(key_state(&s, "ksk-b"), "ds-submitted");
    assert_eq!(key_state(&s, "ksk-a"), "ds-withdrawn");
    let (_, v) = kskit_status(&s, old_retire + Duration::hours(2));
    assert!(v.contains("waiting for the DS of ksk-b"), "{v}");
    // Now seen at both, twice: confirmed at c; the old KSK waits until c + 1d + 1h.
    let b_both = poll_file(&s, &["ksk-b"], 2, "b2.json");
    let c0 = old_retire + Duration::hours(10);
    step(&s, c0, Some(&b_both));
    let c = c0 + Duration::hours(1);
    step(&s, c, Some(&b_both));
    assert_eq!(key_state(&s, "ksk-b"), "ds-seen");
    let (_, v) = step(&s, c + Duration::days(1), Some(&b_both));
    assert_eq!(key_state(&s, "ksk-a"), "ds-withdrawn", "{v}");
    assert!(v["report"]["waiting"].to_string().contains("DS TTL"), "{v}");
    let (_, v) = step(&s, c + Duration::days(1) + Duration::hours(1), None);
    assert!(["retired", "removed"].contains(&key_state(&s, "ksk-a").as_str()), "{v}");
}

fn kskit_status(s: &Setup, now: T) -> (i32, String) {
    let now = kskit::timeutil::format_rfc3339(now);
    let o = kskit(&s.dir, &["rollover", "status", "--now", now.as_str()]);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string())
}

#[test]
fn failing_hook_is_reported_state_is_kept_and_hook_retried() {
    let s = setup(3);
    let a_ds = poll_file(&s, &["ksk-a"], 2, "a.json");
    let (code, v) = step(&s, t0(), Some(&a_ds));
    assert_eq!(code, 1, "a failing hook exits 1: {v}");
    assert_eq!(key_state(&s, "ksk-a"), "ds-submitted", "the state is recorded anyway");
    let st = state(&s);
    let pending = st["zones"]["example."]["pending_hooks"].as_array().unwrap();
    assert!(!pending.is_empty());
    let n = hook_lines(&s).len();
    // The next step retries the failed hooks (and exits 1 again) without new changes.
    let (code, v) = step(&s, t0() + Duration::minutes(1), Some(&a_ds));
    assert_eq!(code, 1);
    assert!(v["report"]["changes"].as_array().unwrap().is_empty());
    assert_eq!(hook_lines(&s).len(), 2 * n);
}

#[test]
fn plan_cli_writes_escaped_svg_and_json() {
    let s = setup(0);
    let svg = s.dir.join("plan.svg");
    let o = kskit(&s.dir, &["--json", "rollover", "plan", "--from", "2027-01-01T00:00:00Z", "--until", "2027-07-01T00:00:00Z", "--svg", svg.to_str().unwrap(), "--bundles"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["events"].as_array().unwrap().iter().any(|e| e["key"] == "ksk-b" && e["kind"] == "ds-submit"));
    let b = v["bundles"].as_array().unwrap();
    assert_eq!(b.len(), 19);
    assert!(b.iter().all(|x| x["cds"]["kind"] == "keys"));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml") && text.contains("ksk-b") && text.trim_end().ends_with("</svg>"));
}

/// The zone as published at the simulated instant `t` (the plan's DNSKEY
/// RRset signed by the plan's KSKs, SOA/NS/A signed by the plan's ZSKs), with
/// signatures valid around the real clock, because delv validates now.
fn zone_file_at(pl: &Plan, keys: &HashMap<String, SoftKey>, t: T) -> String {
    use kskit::dnssec::presentation::{format_record, parse_records};
    let v = pl.view_at(t);
    let now = OffsetDateTime::now_utc();
    let (inc, exp) = (to_rrsig_time(now - Duration::hours(1)), to_rrsig_time(now + Duration::days(1)));
    let z = zone();
    let data = parse_records(
        "example. 3600 IN SOA ns1.example. hostmaster.example. 1 3600 900 604800 300\nexample. 3600 IN NS ns1.example.\nns1.example. 3600 IN A 192.0.2.1\n",
        None,
        None,
    )
    .unwrap();
    let mut out = String::new();
    let mut sets: Vec<(RrSet, Vec<&str>)> = Vec::new();
    for r in &data {
        sets.push((RrSet::from_records(std::slice::from_ref(r)).unwrap(), v.zone_signers.iter().map(String::as_str).collect()));
    }
    let dnskeys: Vec<RData> = v.dnskeys.iter().map(|k| RData::Dnskey(dnskey_of(pl, keys, &k.id, t))).collect();
    sets.push((RrSet::new(z.clone(), 3600, dnskeys).unwrap(), v.dnskey_signers.iter().map(String::as_str).collect()));
    for (set, signers) in &sets {
        for r in set.records() {
            out.push_str(&format_record(&r));
            out.push('\n');
        }
        for id in signers {
            // (The year's policy revokes nothing, so every key signs under its own flags.)
            let sig = sign_rrset(&keys[*id], set, &z, inc, exp).unwrap();
            let rec = kskit::dnssec::Record::new(set.name.clone(), set.ttl, RData::Rrsig(sig));
            out.push_str(&format_record(&rec));
            out.push('\n');
        }
    }
    out
}

/// At key instants of the simulated year (the ZSK and KSK rollovers and
/// each step of the algorithm rollover), knotd on 127.0.0.1 serves the
/// zone as the plan publishes it, and `delv`, with the parent's DS set of
/// that instant as the only trust anchors, fully validates the SOA and the
/// DNSKEY RRset.
#[test]
fn delv_validates_the_published_state_at_key_instants() {
    let tools = ["knotd", "delv"];
    let missing: Vec<&str> = tools.iter().copied().filter(|t| Command::new(t).arg("-V").output().is_err()).collect();
    if !missing.is_empty() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but {missing:?} are missing (apt-get install knot bind9-dnsutils)");
        eprintln!("note: skipping: {missing:?} not installed");
        return;
    }
    let p = year_policy();
    let until = t0() + Duration::days(365);
    let pl = plan("example.", &p, &[], t0(), until).unwrap();
    let keys = keys_for(&pl);
    // Instants just after each change of a KSK or of the DS set, at most ten.
    let mut instants: Vec<T> = pl
        .change_points(t0(), until)
        .into_iter()
        .filter(|t| {
            let before = pl.view_at(*t - Duration::seconds(1));
            let after = pl.view_at(*t);
            before.dnskey_signers != after.dnskey_signers || before.parent_ds != after.parent_ds || before.dnskeys != after.dnskeys
        })
        .map(|t| t + Duration::hours(1))
        .collect();
    instants.dedup();
    if instants.len() > 10 {
        let step = instants.len().div_ceil(10);
        instants = instants.into_iter().step_by(step).collect();
    }
    assert!(instants.len() >= 4, "too few key instants: {instants:?}");
    let tmp = tempfile::tempdir().unwrap();
    let mut algorithms_seen = std::collections::BTreeSet::new();
    for (n, t) in instants.iter().enumerate() {
        let dir = tmp.path().join(format!("i{n}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("example.zone"), zone_file_at(&pl, &keys, *t)).unwrap();
        let ds = ds_set(&pl, &keys, *t);
        for d in &ds {
            algorithms_seen.insert(d.algorithm);
        }
        let anchors: String = ds
            .iter()
            .map(|d| format!("  example. static-ds {} {} {} \"{}\";\n", d.key_tag, d.algorithm, d.digest_type, data_encoding::HEXUPPER.encode(&d.digest)))
            .collect();
        std::fs::write(dir.join("anchors.conf"), format!("trust-anchors {{\n{anchors}}};\n")).unwrap();
        let port = free_port();
        let conf = format!(
            "server:\n    rundir: {d}\n    listen: 127.0.0.1@{port}\ndatabase:\n    storage: {d}\nzone:\n  - domain: example.\n    storage: {d}\n    file: example.zone\n",
            d = dir.display()
        );
        std::fs::write(dir.join("knot.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.join("knotd.log")).unwrap();
        let child = Command::new("knotd").arg("-c").arg(dir.join("knot.conf")).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("start knotd");
        let _knotd = Knotd(child);
        let delv = |rtype: &str| {
            Command::new("delv")
                .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
                .arg(dir.join("anchors.conf"))
                .args(["+root=example.", "+tcp", "example.", rtype])
                .output()
                .unwrap()
        };
        // Wait (bounded) for knotd to serve the zone.
        let mut out = String::new();
        for _ in 0..100 {
            let o = delv("SOA");
            out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            if out.contains("; fully validated") || !(out.contains("connection refused") || out.contains("timed out") || out.contains("SERVFAIL")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let logt = std::fs::read_to_string(dir.join("knotd.log")).unwrap_or_default();
        assert!(out.contains("; fully validated"), "at {t} (DS {ds:?}): delv did not validate SOA:\n{out}\nknotd log:\n{logt}");
        let o = delv("DNSKEY");
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(out.contains("; fully validated"), "at {t}: delv did not validate DNSKEY:\n{out}");
        if n == 0 {
            // The same zone with an unrelated key as the only anchor must not validate.
            let other = soft::generate(Algorithm::RsaSha256, Some(2048), 257).unwrap();
            let d = other.dnskey().ds(&zone(), DigestType::Sha256);
            let wrong = format!(
                "trust-anchors {{\n  example. static-ds {} {} {} \"{}\";\n}};\n",
                d.key_tag,
                d.algorithm,
                d.digest_type,
                data_encoding::HEXUPPER.encode(&d.digest)
            );
            std::fs::write(dir.join("anchors.conf"), wrong).unwrap();
            let o = delv("SOA");
            let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(!out.contains("; fully validated"), "delv validated with an unrelated anchor:\n{out}");
        }
    }
    eprintln!("delv validated {} key instants", instants.len());
    assert!(algorithms_seen.len() == 2, "the instants cover both algorithms' DS: {algorithms_seen:?}");
}

/// `rollover step` polling real parent servers: knotd instances on
/// 127.0.0.1 serve `example.` with the `child.example.` delegation and are
/// the policy's `parent_servers`. The new DS on one of two servers, absent
/// from one, or behind a server that never answers holds the rollover back;
/// on both servers it is confirmed after `parent_confirmations` (2)
/// consecutive polls, and the old KSK goes once DS TTL + parent propagation
/// delay have passed since the confirmation.
#[test]
fn step_polls_real_parent_servers_and_completes_the_rollover() {
    if !common::knotd_present() {
        return;
    }
    let s = setup_for("child.example.", 0);
    let ks = Keystore::open(&s.dir.join("keystore")).unwrap();
    let child = parse_name("child.example.").unwrap();
    let ds_of = |id: &str| kskit::parent::ds_text(&ks.get(id).unwrap().dnskey().unwrap().ds(&child, DigestType::Sha256));
    let (ds_a, ds_b) = (ds_of("ksk-a"), ds_of("ksk-b"));
    let servers = |addrs: &[String]| {
        let conf = s.dir.join("kskit.toml");
        let c = std::fs::read_to_string(&conf).unwrap();
        let old = c.lines().find(|l| l.starts_with("parent_servers = ")).unwrap().to_string();
        let list: Vec<String> = addrs.iter().map(|a| format!("{a:?}")).collect();
        std::fs::write(&conf, c.replace(&old, &format!("parent_servers = [{}]", list.join(", ")))).unwrap();
    };
    let live = |now: T| -> serde_json::Value {
        let now = kskit::timeutil::format_rfc3339(now);
        let o = kskit(&s.dir, &["--json", "rollover", "step", "--now", now.as_str(), "--timeout", "1"]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{}", String::from_utf8_lossy(&o.stderr)))
    };
    let observed = |v: &serde_json::Value| (v["report"]["observation"]["seen"].as_bool(), v["report"]["observation"]["reason"].as_str().unwrap_or("").to_string());

    // The first KSK's DS at both servers: confirmed after two polls.
    let (a1, b1) = (common::ParentKnot::start(&[&ds_a], false), common::ParentKnot::start(&[&ds_a], false));
    servers(&[a1.addr(), b1.addr()]);
    live(t0());
    assert_eq!(key_state(&s, "ksk-a"), "ds-submitted");
    let v = live(t0() + Duration::hours(1));
    assert_eq!(key_state(&s, "ksk-a"), "ds-seen", "{v}");
    drop((a1, b1));

    let new = s.plan.key("ksk-b").unwrap().clone();
    let old_retire = s.plan.key("ksk-a").unwrap().retire.unwrap();
    let r = new.ds_submit.unwrap();
    live(new.publish.unwrap());
    assert_eq!(key_state(&s, "ksk-b"), "active");

    // DS swap: the new DS at one server, absent from the other: not seen.
    let (a2, b2) = (common::ParentKnot::start(&[&ds_b], false), common::ParentKnot::start(&[], false));
    servers(&[a2.addr(), b2.addr()]);
    let v = live(r);
    assert_eq!(key_state(&s, "ksk-b"), "ds-submitted", "{v}");
    let (seen, why) = observed(&v);
    assert_eq!(seen, Some(false), "{v}");
    assert!(why.contains("no DS"), "{v}");

    // The new DS at one server, the other never answers: not seen either.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    servers(&[a2.addr(), silent_addr.clone()]);
    let v = live(r + Duration::hours(1));
    let (seen, why) = observed(&v);
    assert_eq!(seen, Some(false), "{v}");
    assert!(why.contains("timeout"), "{v}");
    assert_eq!(key_state(&s, "ksk-b"), "ds-submitted");
    // The metrics give the last poll per parent server: one served the new
    // DS, the other never answered.
    let prom = s.dir.join("kskit.prom");
    let o = kskit(&s.dir, &["check", "--metrics", prom.to_str().unwrap()]);
    let m = std::fs::read_to_string(&prom).unwrap_or_else(|e| panic!("no metrics ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    let at = (r + Duration::hours(1)).unix_timestamp();
    for (server, answered, seen) in [(a2.addr(), 1, 1), (silent_addr.clone(), 0, 0)] {
        let l = format!("{{zone=\"child.example.\",server=\"{server}\"}}");
        assert!(m.contains(&format!("kskit_parent_server_last_poll_timestamp_seconds{l} {at}\n")), "{server}:\n{m}");
        assert!(m.contains(&format!("kskit_parent_server_last_poll_answered{l} {answered}\n")), "{server}:\n{m}");
        assert!(m.contains(&format!("kskit_parent_server_last_poll_seen{l} {seen}\n")), "{server}:\n{m}");
    }
    drop((a2, b2, silent));

    // The new DS at both servers: two consecutive polls confirm it.
    let (a3, b3) = (common::ParentKnot::start(&[&ds_b], false), common::ParentKnot::start(&[&ds_b], false));
    servers(&[a3.addr(), b3.addr()]);
    let v = live(r + Duration::hours(2));
    assert_eq!(v["report"]["observation"]["consecutive"], 1, "{v}");
    assert_eq!(key_state(&s, "ksk-b"), "ds-submitted");
    let v = live(r + Duration::hours(3));
    assert_eq!(key_state(&s, "ksk-b"), "ds-seen", "{v}\n{}\n{}", a3.log(), b3.log());
    // The old KSK goes at its planned time, which is after confirmation + DS TTL + propagation.
    assert!(old_retire >= r + Duration::hours(3) + Duration::days(1) + Duration::hours(1));
    let v = live(old_retire - Duration::minutes(1));
    assert_eq!(key_state(&s, "ksk-a"), "ds-withdrawn", "{v}");
    let v = live(old_retire);
    assert!(["retired", "removed"].contains(&key_state(&s, "ksk-a").as_str()), "{v}");
}
