//! Standby KSK and emergency rollover (issue 15 point 4, docs/rollover.md
//! "Standby KSK and emergency rollover"), end to end with real parts: a ZSK
//! side and a KSK side (`standby_ksk = true`) run quarterly ceremonies
//! (`ksr generate`, `ksr sign --follow-plan`, `skr import`); every bundle
//! publishes the standby's DNSKEY and is signed by it. Then the active KSK
//! is declared lost and `kskit rollover emergency` fixes the switch; the
//! emergency KSR from the switch is signed by the standby alone. At every
//! bundle in force, `sign-zone` signs the zone, ldns-verify-zone accepts it
//! at that time, and kskit's chain check validates it from the DS RRset the
//! parent holds then (and the one a resolver may still cache).
//!
//! With the standby's DS withheld, the emergency waits for the parent: a
//! knotd parent on 127.0.0.1 that serves only the lost key's DS keeps it
//! waiting (naming the server), the standby's DS at the parent for two
//! consecutive polls fixes the switch DS TTL + parent propagation delay later.
//!
//! ldns-verify-zone or knotd missing: FAIL when CI=true, else skip with a note.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use common::{fmt_time as fmt, ok, require_tools, run_kskit, s, set_policy_line, text, SignedZone};
use kskit::dnssec::presentation::parse_records;
use kskit::dnssec::{parse_name, Ds, RData};
use time::{Duration, OffsetDateTime};

use common::CHILD_ZONE as ZONE;

struct Sides {
    tmp: tempfile::TempDir,
    z: PathBuf,
    k: PathBuf,
    /// Keystore id → (DS, DS RDATA text, key tag).
    ds: HashMap<String, (Ds, String)>,
    lost: String,
    standby: String,
    ta: PathBuf,
}

fn json(o: &std::process::Output, what: &str) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: {e}: {out}\n{}", text(o)))
}

/// Both sides, with a KSK and a standby KSK, the ZSKs for 300 days.
fn setup(withheld: bool) -> Sides {
    let tmp = tempfile::tempdir().unwrap();
    let z = common::kskit_init(tmp.path(), "z", "child.example.");
    let k = common::kskit_init(tmp.path(), "k", "child.example.");
    set_policy_line(&k, "standby_ksk = ", "standby_ksk = true");
    if withheld {
        set_policy_line(&k, "standby_ds = ", "standby_ds = \"withheld\"");
    }
    let lost = json(&run_kskit(&k, &["--json", "key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256"]), "ksk")["id"].as_str().unwrap().to_string();
    let standby = json(&run_kskit(&k, &["--json", "key", "generate", "--role", "ksk", "--algorithm", "ECDSAP256SHA256", "--standby"]), "standby")["id"].as_str().unwrap().to_string();
    ok(run_kskit(&z, &["zsk", "pregenerate", "--until", "+300d"]), "pregenerate");
    std::fs::write(z.join("zone.db"), ZONE).unwrap();
    let mut ds = HashMap::new();
    let mut ta = String::new();
    for id in [&lost, &standby] {
        let line = ok(run_kskit(&k, &["key", "ds", id]), "key ds");
        let RData::Ds(d) = parse_records(&line, None, None).unwrap().remove(0).rdata else { panic!("not a DS: {line}") };
        ds.insert(id.clone(), (d, line.split(" DS ").nth(1).unwrap().trim().to_string()));
        ta.push_str(&line);
    }
    let ta_file = tmp.path().join("ta.ds");
    std::fs::write(&ta_file, ta).unwrap();
    Sides { tmp, z, k, ds, lost, standby, ta: ta_file }
}

impl Sides {
    /// One ceremony: the ZSK side's KSR (`range`: `--from`/`--until` or
    /// `--next`), signed with `--follow-plan` (and `--previous-skr`), imported.
    fn ceremony(&self, name: &str, range: &[&str], previous: Option<&Path>) -> PathBuf {
        let ksr = self.tmp.path().join(format!("{name}.ksr.xml"));
        let skr = self.tmp.path().join(format!("{name}.skr.xml"));
        let mut g = vec!["ksr", "generate"];
        g.extend_from_slice(range);
        g.extend(["-o", s(&ksr)]);
        ok(run_kskit(&self.z, &g), &format!("{name}: ksr generate"));
        let mut sign = vec!["ksr", "sign", s(&ksr), "--follow-plan", "-o", s(&skr), "--yes"];
        if let Some(p) = previous {
            sign.extend(["--previous-skr", s(p)]);
        }
        ok(run_kskit(&self.k, &sign), &format!("{name}: ksr sign --follow-plan"));
        ok(run_kskit(&self.z, &["skr", "import", s(&skr), "--ksr", s(&ksr), "--trust-anchor", s(&self.ta)]), &format!("{name}: skr import"));
        skr
    }

    fn ds(&self, ids: &[&str]) -> Vec<Ds> {
        ids.iter().map(|id| self.ds[*id].0.clone()).collect()
    }

    fn tag(&self, id: &str) -> u16 {
        self.ds[id].0.key_tag
    }

    /// The zone signed at `at` by the ZSK side, checked by ldns-verify-zone at that time.
    fn signed(&self, at: OffsetDateTime) -> SignedZone {
        let out = self.z.join(format!("signed-{}.db", at.unix_timestamp()));
        ok(run_kskit(&self.z, &["sign-zone", s(&self.z.join("zone.db")), "--at", &fmt(at), "-o", s(&out)]), &format!("sign-zone at {}", fmt(at)));
        let t = format!("{:04}{:02}{:02}{:02}{:02}{:02}", at.year(), at.month() as u8, at.day(), at.hour(), at.minute(), at.second());
        let o = common::output(std::process::Command::new("ldns-verify-zone").args(["-t", &t, s(&out)]));
        assert!(o.status.success() && text(&o).contains("Zone is verified and complete"), "ldns-verify-zone rejected the zone at {t}:\n{}", text(&o));
        SignedZone::read(&out, &parse_name("child.example.").unwrap(), at)
    }

    /// Every bundle start of the SKRs given, in time order.
    fn bundle_times(skrs: &[&Path]) -> Vec<OffsetDateTime> {
        let mut v: Vec<OffsetDateTime> = skrs.iter().flat_map(|f| kskit::formats::parse_skr_any(&std::fs::read(f).unwrap()).unwrap().bundles.into_iter().map(|b| b.inception)).collect();
        v.sort();
        v.dedup();
        v
    }
}

fn status_json(k: &Path, now: OffsetDateTime) -> serde_json::Value {
    json(&run_kskit(k, &["--json", "rollover", "status", "--now", &fmt(now)]), "rollover status")
}

/// Every field docs/json.md documents for `section`, with its type.
fn check_documented(v: &serde_json::Value, section: &str) {
    let docs = common::json_doc();
    let sec = docs.get(section).unwrap_or_else(|| panic!("docs/json.md documents {section}"));
    let mut problems = Vec::new();
    for (path, ty) in &sec.fields {
        common::check_json_path(v, path, ty, &mut problems, path);
    }
    assert!(problems.is_empty() && !sec.fields.is_empty(), "docs/json.md {section}: {problems:?}\n{v}");
}

fn emergency(k: &Path, lost: &str, now: OffsetDateTime, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "rollover", "emergency", "--key", lost, "--now"];
    let n = fmt(now);
    args.push(&n);
    args.extend_from_slice(extra);
    let o = run_kskit(k, &args);
    assert!(o.status.success(), "rollover emergency at {n}:\n{}", text(&o));
    json(&o, "rollover emergency")
}

#[test]
fn a_lost_ksk_moves_to_the_published_standby_and_every_bundle_in_force_validates() {
    if !require_tools("ldns-verify-zone", "ldnsutils", &["ldns-verify-zone"], &[]) {
        return;
    }
    let sd = setup(false);
    let zone = parse_name("child.example.").unwrap();
    let (l, sb) = (sd.lost.clone(), sd.standby.clone());
    // Two quarters signed ahead, the second with the KSK-schedule chain checks.
    let q1 = sd.ceremony("q1", &["--from", "+1h", "--until", "+90d"], None);
    let q2 = sd.ceremony("q2", &["--next", "--until", "+90d"], Some(&q1));
    let start = Sides::bundle_times(&[&q1])[0];

    // Day 120: the active KSK's smartcard melted. The standby's DS has been
    // at the parent since the start (a saved poll says so).
    let now = start + Duration::days(120) + Duration::hours(5);
    let poll = sd.tmp.path().join("poll.json");
    std::fs::write(&poll, r#"{"zone": "child.example.", "seen": true, "reason": "DS seen at every parent server"}"#).unwrap();
    // Before the emergency: no emergency shown, a standby left, no warning.
    let st = status_json(&sd.k, now);
    assert!(st["emergencies"].as_array().unwrap().is_empty() && st["warnings"].as_array().unwrap().is_empty(), "{st}");
    // A copy of the KSK side as it was before the declaration (no `lost` record).
    let unrecorded = sd.tmp.path().join("k-unrecorded");
    assert!(std::process::Command::new("cp").args(["-a", s(&sd.k), s(&unrecorded)]).status().unwrap().success());
    let r = emergency(&sd.k, &l, now, &["--poll-json", s(&poll)]);
    assert_eq!(r["state"], "ready", "{r}");
    // Every field docs/json.md documents, with its type.
    let docs = common::json_doc();
    let sec = docs.get("kskit rollover emergency").expect("docs/json.md documents rollover emergency");
    let mut problems = Vec::new();
    for (path, ty) in &sec.fields {
        common::check_json_path(&r, path, ty, &mut problems, path);
    }
    assert!(problems.is_empty() && !sec.fields.is_empty(), "docs/json.md: {problems:?}\n{r}");
    assert_eq!(r["lost"]["id"], l.as_str());
    assert_eq!(r["standby"]["id"], sb.as_str());
    let switch = kskit::timeutil::parse_instant(r["switch"].as_str().unwrap()).unwrap();
    assert!(switch >= now && switch < now + Duration::days(10), "the next bundle boundary: {r}");
    let parent = r["parent"].as_array().unwrap();
    assert_eq!(parent.len(), 1, "no DS to add: the standby's is at the parent: {r}");
    assert_eq!((parent[0]["action"].as_str(), parent[0]["key"].as_str()), (Some("remove"), Some(l.as_str())));
    assert_eq!(parent[0]["earliest"], r["switch"]);
    assert!(r["ds"][&l].as_array().unwrap()[0].as_str().unwrap().starts_with(&sd.tag(&l).to_string()), "{r}");
    assert_eq!(r["ttls"]["ds_ttl"], 86400);
    // Idempotent: a second run gives the same switch.
    let again = emergency(&sd.k, &l, now + Duration::hours(1), &["--poll-json", s(&poll)]);
    assert_eq!(again["switch"], r["switch"]);
    assert_eq!(again["newly_declared"], false);
    // The plain-words report says the same.
    let plain = ok(run_kskit(&sd.k, &["rollover", "emergency", "--key", &l, "--now", &fmt(now), "--poll-json", s(&poll)]), "plain report");
    assert!(plain.contains("REMOVE DS of") && plain.contains(&fmt(switch)), "{plain}");

    // A KSR reaching back before the switch cannot be signed: the lost key would be needed.
    let early = sd.tmp.path().join("early.ksr.xml");
    ok(run_kskit(&sd.z, &["ksr", "generate", "--from", &fmt(switch - Duration::days(10)), "--until", &fmt(switch + Duration::days(30)), "-o", s(&early)]), "early ksr");
    let o = run_kskit(&sd.k, &["ksr", "sign", s(&early), "--follow-plan", "-o", s(&sd.tmp.path().join("early.skr.xml")), "--yes"]);
    assert!(!o.status.success() && text(&o).contains("lost KSK"), "{}", text(&o));

    // `rollover status` and `rollover step` show the emergency, and that no
    // unused standby is left.
    let st = status_json(&sd.k, now);
    check_documented(&st, "kskit rollover status");
    let e = &st["emergencies"][0];
    assert_eq!((e["lost"]["id"].as_str(), e["standby"]["id"].as_str(), e["cause"].as_str()), (Some(l.as_str()), Some(sb.as_str()), Some("lost")), "{st}");
    assert_eq!((&e["switch"], &e["declared"], &e["waiting_for"]), (&r["switch"], &r["declared"], &serde_json::Value::Null), "{st}");
    assert!(st["warnings"].to_string().contains("generate a new standby: kskit key generate --role ksk --standby"), "{st}");
    let plain = ok(run_kskit(&sd.k, &["rollover", "status", "--now", &fmt(now)]), "rollover status");
    assert!(plain.contains(&format!("EMERGENCY: KSK {l} (tag {}) lost", sd.tag(&l))) && plain.contains(&format!("from the switch {}", fmt(switch))), "{plain}");
    assert!(plain.contains("WARNING: ") && plain.contains("generate a new standby"), "{plain}");
    let o = run_kskit(&sd.k, &["--json", "rollover", "step", "--now", &fmt(now), "--poll-json", s(&poll)]);
    let step = json(&o, "rollover step");
    check_documented(&step, "kskit rollover step");
    assert_eq!(step["emergencies"][0]["switch"], r["switch"], "{step}");

    // The emergency ceremony: a KSR from the switch, signed by the standby
    // alone, with the chain checks against q2 (the SKR the switch falls in).
    let em_ksr = sd.tmp.path().join("emergency.ksr.xml");
    let em = sd.tmp.path().join("emergency.skr.xml");
    ok(run_kskit(&sd.z, &["ksr", "generate", "--switch", &fmt(switch), "--until", "+90d", "-o", s(&em_ksr)]), "emergency ksr generate");
    // Where no emergency is recorded, switching to the standby inside q2 is refused.
    let o = run_kskit(&unrecorded, &["ksr", "sign", s(&em_ksr), "--ksk", &sb, "--previous-skr", s(&q2), "-o", s(&sd.tmp.path().join("x.skr.xml")), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL KSR-CHAIN-") && !text(&o).contains("leaves early"), "{}", text(&o));
    assert!(!sd.tmp.path().join("x.skr.xml").exists());
    // Where it is recorded: signed, the waiver named.
    let o = run_kskit(&sd.k, &["ksr", "sign", s(&em_ksr), "--follow-plan", "--previous-skr", s(&q2), "-o", s(&em), "--yes"]);
    let out = text(&o);
    assert!(o.status.success(), "emergency ksr sign --previous-skr:\n{out}");
    assert!(out.contains("emergency KSR: the previous SKR's bundles from"), "{out}");
    let waiver = format!("PASS KSR-CHAIN-KSK-EMERGENCY KSK {} leaves early: emergency declared {}, cause lost, switch {}", sd.tag(&l), r["declared"].as_str().unwrap(), fmt(switch));
    assert!(out.contains(&waiver), "{waiver}\n{out}");
    ok(run_kskit(&sd.z, &["skr", "import", s(&em), "--ksr", s(&em_ksr), "--trust-anchor", s(&sd.ta)]), "emergency skr import");
    // The emergency KSR starts at the first bundle of the timeline at or after the switch.
    let first = em_starts(&em)[0];
    assert!(first >= switch && first < switch + Duration::days(10), "{} vs switch {}", fmt(first), fmt(switch));
    let switch = first;
    for b in &kskit::formats::parse_skr_any(&std::fs::read(&em).unwrap()).unwrap().bundles {
        let tags: BTreeSet<u16> = b.keys.iter().filter(|k| k.dnskey.is_sep()).map(|k| k.dnskey.key_tag()).collect();
        assert_eq!(tags, BTreeSet::from([sd.tag(&sb)]), "bundle {}: the standby alone", b.id);
        assert!(b.cds.iter().all(|d| d.key_tag == sd.tag(&sb)) && !b.cds.is_empty(), "the CDS asks for the standby's DS only");
    }

    // Every bundle in force, quarter 1 to the emergency SKR.
    let times: Vec<OffsetDateTime> = Sides::bundle_times(&[&q1, &q2, &em]).into_iter().filter(|t| *t < switch || em_starts(&em).contains(t)).collect();
    let mut prev: Option<SignedZone> = None;
    for at in times {
        let at = at + Duration::hours(1);
        let z = sd.signed(at);
        let before = at < switch;
        let want: BTreeSet<u16> = if before { BTreeSet::from([sd.tag(&l), sd.tag(&sb)]) } else { BTreeSet::from([sd.tag(&sb)]) };
        assert_eq!(z.ksk_tags(), want, "KSKs at {}", fmt(at));
        // The parent: both DS before the switch; after it the lost key's DS
        // is withdrawn, but resolvers may still cache both.
        let parents: Vec<Vec<Ds>> = if before { vec![sd.ds(&[&l, &sb])] } else { vec![sd.ds(&[&sb]), sd.ds(&[&l, &sb])] };
        for ds in &parents {
            SignedZone::chain(&zone, ds, &z, &z).unwrap_or_else(|e| panic!("at {} from DS {:?}: {e}", fmt(at), ds.iter().map(|d| d.key_tag).collect::<Vec<_>>()));
            // A resolver holding the previous bundle's DNSKEY RRset.
            if let Some(p) = &prev {
                SignedZone::chain(&zone, ds, p, &z).unwrap_or_else(|e| panic!("at {} with the cached DNSKEY RRset: {e}", fmt(at)));
            }
        }
        // The standby alone validates every bundle (it self-signs each).
        SignedZone::chain(&zone, &sd.ds(&[&sb]), &z, &z).unwrap_or_else(|e| panic!("standby alone at {}: {e}", fmt(at)));
        if !before {
            assert!(SignedZone::chain(&zone, &sd.ds(&[&l]), &z, &z).is_err(), "after the switch nothing is signed by the lost key");
        }
        prev = Some(z);
    }
}

fn em_starts(f: &Path) -> Vec<OffsetDateTime> {
    kskit::formats::parse_skr_any(&std::fs::read(f).unwrap()).unwrap().bundles.into_iter().map(|b| b.inception).collect()
}

#[test]
fn a_withheld_standby_waits_for_its_ds_at_a_knotd_parent() {
    if !common::knotd_present() || !require_tools("ldns-verify-zone", "ldnsutils", &["ldns-verify-zone"], &[]) {
        return;
    }
    let sd = setup(true);
    let zone = parse_name("child.example.").unwrap();
    let (l, sb) = (sd.lost.clone(), sd.standby.clone());
    set_policy_line(&sd.k, "parent_confirmations = ", "parent_confirmations = 2");
    let q1 = sd.ceremony("q1", &["--from", "+1h", "--until", "+90d"], None);
    let start = Sides::bundle_times(&[&q1])[0];
    // Withheld: the standby is published and signs, but no CDS names it.
    let z0 = sd.signed(start + Duration::hours(1));
    assert_eq!(z0.ksk_tags(), BTreeSet::from([sd.tag(&l), sd.tag(&sb)]));
    assert!(z0.cds.iter().all(|d| d.key_tag == sd.tag(&l)) && !z0.cds.is_empty(), "CDS names the active KSK only");
    SignedZone::chain(&zone, &sd.ds(&[&l]), &z0, &z0).expect("validates from the active KSK's DS");

    let servers = |addr: String| set_policy_line(&sd.k, "parent_servers = ", &format!("parent_servers = [{addr:?}]"));
    // Day 30: the key is lost; the parent has only its DS.
    let t1 = start + Duration::days(30);
    let p1 = common::ParentKnot::start(&[&sd.ds[&l].1], false);
    servers(p1.addr());
    let r = emergency(&sd.k, &l, t1, &["--timeout", "2"]);
    assert_eq!(r["state"], "waiting-for-parent", "{r}");
    // `rollover status` shows the emergency waiting, and for what, per server.
    let st = status_json(&sd.k, t1);
    check_documented(&st, "kskit rollover status");
    let e = &st["emergencies"][0];
    assert!(e["switch"].is_null() && e["waiting_for"].as_str().is_some_and(|w| w.contains("confirmed at every parent server")), "{st}");
    assert!(e["waits"].to_string().contains(&format!("absent at {}", p1.addr())), "{st}");
    let plain = ok(run_kskit(&sd.k, &["rollover", "status", "--now", &fmt(t1)]), "rollover status");
    assert!(plain.contains("once the switch is fixed (not yet)") && plain.contains("emergency waits for the standby's DS"), "{plain}");
    let actions: Vec<(String, String)> = r["parent"].as_array().unwrap().iter().map(|a| (a["action"].as_str().unwrap().into(), a["key"].as_str().unwrap().into())).collect();
    assert_eq!(actions, [("add".to_string(), sb.clone()), ("remove".to_string(), l.clone())], "{r}");
    assert!(r["waits"].to_string().contains(&format!("absent at {}", p1.addr())), "the wait names the server: {r}");
    let earliest = kskit::timeutil::parse_instant(r["switch"].as_str().unwrap()).unwrap();
    assert!(earliest >= t1 + Duration::days(3) + Duration::days(1), "parent_hold + DS TTL at least: {r}");
    // Nothing can be signed past the lost key yet.
    let ksr = sd.tmp.path().join("wait.ksr.xml");
    ok(run_kskit(&sd.z, &["ksr", "generate", "--from", &fmt(earliest), "--until", &fmt(earliest + Duration::days(30)), "-o", s(&ksr)]), "ksr");
    let o = run_kskit(&sd.k, &["ksr", "sign", s(&ksr), "--follow-plan", "-o", s(&sd.tmp.path().join("wait.skr.xml")), "--yes"]);
    assert!(!o.status.success() && text(&o).contains("is lost"), "{}", text(&o));
    drop(p1);

    // Day 34: the registrar added the standby's DS. Two polls an hour apart confirm it.
    let p2 = common::ParentKnot::start(&[&sd.ds[&l].1, &sd.ds[&sb].1], false);
    servers(p2.addr());
    let t2 = t1 + Duration::days(4);
    let r = emergency(&sd.k, &l, t2, &["--timeout", "2"]);
    assert_eq!(r["state"], "waiting-for-parent", "one poll is not a confirmation: {r}");
    let t3 = t2 + Duration::hours(1);
    let r = emergency(&sd.k, &l, t3, &["--timeout", "2"]);
    assert_eq!(r["state"], "ready", "{r}");
    let switch = kskit::timeutil::parse_instant(r["switch"].as_str().unwrap()).unwrap();
    assert!(switch >= t3 + Duration::days(1) + Duration::hours(1), "DS TTL + parent propagation delay after the confirmation: {r}");
    assert!(switch < t3 + Duration::days(1) + Duration::hours(1) + Duration::days(10), "at the next bundle boundary: {r}");
    drop(p2);

    // Signed with the chain checks against q1: the lost key leaves without
    // its retire interval (the CDS named it alone), waived for the emergency.
    let em = sd.ceremony("emergency", &["--switch", &fmt(switch), "--until", "+60d"], Some(&q1));
    let first = em_starts(&em)[0];
    assert!(first >= switch && first < switch + Duration::days(10), "{} vs switch {}", fmt(first), fmt(switch));
    let switch = first;
    for at in [switch - Duration::days(1), switch + Duration::hours(1), switch + Duration::days(20)] {
        let z = sd.signed(at);
        if at < switch {
            assert_eq!(z.ksk_tags(), BTreeSet::from([sd.tag(&l), sd.tag(&sb)]));
            SignedZone::chain(&zone, &sd.ds(&[&l]), &z, &z).expect("the bundles signed before keep validating from the old DS");
        } else {
            assert_eq!(z.ksk_tags(), BTreeSet::from([sd.tag(&sb)]), "{}", em.display());
            for ds in [sd.ds(&[&sb]), sd.ds(&[&l, &sb])] {
                SignedZone::chain(&zone, &ds, &z, &z).unwrap_or_else(|e| panic!("at {}: {e}", fmt(at)));
            }
        }
    }
}

/// The drill script of ceremony-scripts/ runs to its end on soft keys: the
/// emergency SKR is signed by the standby alone and imported.
#[test]
fn the_emergency_drill_script_runs_on_soft_keys() {
    let d = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony-scripts/emergency-drill.toml");
    let t = d.path().join("drill.jsonl");
    let o = run_kskit(d.path(), &["ceremony", "run", s(&script), "--yes", "--transcript", s(&t)]);
    let out = text(&o);
    assert!(o.status.success() && out.contains("Ceremony COMPLETED"), "{out}");
    assert!(out.contains("switch: from ") && out.contains("REMOVE DS of"), "the emergency report is in the drill: {out}");
    assert!(out.contains("PASS KSR-CHAIN-KSK-EMERGENCY") && out.contains("leaves early"), "the emergency SKR is signed with the chain checks: {out}");
    assert!(out.contains("EMERGENCY: KSK") && out.contains("generate a new standby"), "rollover status shows the emergency: {out}");
    assert!(out.contains("SKR verified and imported") && out.matches("[future]").count() + out.matches("[in force]").count() >= 2, "{out}");
}
