//! `kskit rollover emergency`: the emergency KSK rollover to the standby
//! KSK (docs/rollover.md "Standby KSK and emergency rollover"). The timing
//! rules are the pure core in `crate::rollover::emergency`; this is the
//! edge: the keystore record, the parent polls, the report.


use anyhow::{bail, Context as _, Result};
use clap::Args;
use serde::Serialize;
use time::Duration;

use super::rollover::{make_plan, now_arg, poll_from_json, poll_live_rows, zone_of};
use super::{print_json, Context};
use crate::config::StandbyDs;
use crate::keys::keystore::{LossCause, Lost, Role};
use crate::parent::{ds_text, ExpectedDs};
use crate::rollover::emergency::{times, EmergencyTimes, Situation};
use crate::rollover::hold::{ds_key_id, key_id};
use crate::rollover::plan::Intervals;
use crate::rollover::state::{PollResult, StateFile};
use crate::timeutil::format_rfc3339;

#[derive(Args, Debug)]
pub struct EmergencyArgs {
    /// The KSK that is lost or compromised (keystore id, key tag or unique id prefix).
    #[arg(long)]
    pub key: String,
    /// `lost`: the private key is gone (it cannot sign its own revocation);
    /// `compromised`: it leaked but is still held here (with `rfc5011` it is
    /// revoked, RFC 5011 §2.1). Only the first run's cause counts.
    #[arg(long, value_enum, default_value = "lost")]
    pub cause: CauseArg,
    /// The standby KSK to move to (default: the zone's only standby KSK).
    #[arg(long)]
    pub standby: Option<String>,
    #[command(flatten)]
    pub poll: super::rollover::PollingArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CauseArg {
    Lost,
    Compromised,
}

/// The `--json` report (docs/json.md).
#[derive(Serialize)]
struct Report {
    zone: String,
    now: String,
    lost: KeyReport,
    cause: LossCause,
    standby: KeyReport,
    standby_ds: StandbyDs,
    declared: String,
    /// Whether this run recorded the emergency (false: it was recorded before).
    newly_declared: bool,
    #[serde(flatten)]
    times: EmergencyTimes,
    /// The DS records of each key named in `parent` (presentation form).
    ds: std::collections::BTreeMap<String, Vec<String>>,
    ttls: Ttls,
    /// This run's parent poll, when it polled.
    poll: Option<String>,
    /// Per parent server, what the emergency waits for.
    waits: Vec<String>,
    /// What to do next, in words.
    next: Vec<String>,
}

#[derive(Serialize)]
struct KeyReport {
    id: String,
    key_tag: u16,
    algorithm: u8,
}

#[derive(Serialize)]
struct Ttls {
    ds_ttl: i64,
    dnskey_ttl: i64,
    parent_propagation_delay: i64,
    zone_propagation_delay: i64,
    parent_hold: i64,
    registration_delay: i64,
}

pub fn run(a: EmergencyArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let p = &cfg.policy;
    if !p.standby_ksk {
        bail!("no standby KSK: the policy has standby_ksk = false (docs/rollover.md \"Standby KSK\"); without one, roll the KSK with a new key by the ordinary plan");
    }
    // The whole read-modify-write of keys.json and rollover.json under the keystore lock.
    let mut ks = ctx.keystore_locked()?;
    let (zname, zone) = zone_of(&cfg, &a.poll.zone)?;
    let now = now_arg(&a.poll.now)?;
    let lost_meta = ks.find(&a.key)?.clone();
    if lost_meta.role != Role::Ksk || !lost_meta.zone.eq_ignore_ascii_case(&zone) {
        bail!("key {} is a {} of {}, not a KSK of {zone}", lost_meta.id, lost_meta.role, lost_meta.zone);
    }
    let newly = lost_meta.lost.is_none();
    let mut record = match &lost_meta.lost {
        Some(r) => r.clone(),
        None => {
            if lost_meta.standby {
                bail!("key {} is the standby KSK itself; an emergency moves from the current KSK to the standby", lost_meta.id);
            }
            let used: Vec<&str> = ks.keys().iter().filter_map(|k| k.lost.as_ref().map(|l| l.standby.as_str())).collect();
            let candidates: Vec<&crate::keys::keystore::KeyMeta> = ks
                .keys()
                .iter()
                .filter(|k| k.standby && k.role == Role::Ksk && k.zone.eq_ignore_ascii_case(&zone) && k.lost.is_none() && !used.contains(&k.id.as_str()))
                .collect();
            let standby = match &a.standby {
                Some(r) => {
                    let m = ks.find(r)?;
                    if !candidates.iter().any(|c| c.id == m.id) {
                        bail!("key {} is not an unused standby KSK of {zone} (generate one with `key generate --role ksk --standby`)", m.id);
                    }
                    m.id.clone()
                }
                None => match candidates.as_slice() {
                    [one] => one.id.clone(),
                    [] => bail!("{zone} has no unused standby KSK in the keystore: nothing to move to (generate one with `key generate --role ksk --standby` before the next emergency)"),
                    many => bail!("{zone} has several standby KSKs ({}): name one with --standby", many.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")),
                },
            };
            Lost {
                cause: match a.cause {
                    CauseArg::Lost => LossCause::Lost,
                    CauseArg::Compromised => LossCause::Compromised,
                },
                declared: now,
                standby: standby.clone(),
                switch: None,
            }
        }
    };
    let standby_meta = ks.get(&record.standby).cloned().with_context(|| format!("the standby KSK {} of the emergency is not in the keystore", record.standby))?;
    let standby_key = standby_meta.dnskey()?;
    let lost_key = lost_meta.dnskey()?;
    if newly {
        let mut m = lost_meta.clone();
        m.lost = Some(record.clone());
        ks.update(m)?;
    }
    let pl = make_plan(&cfg, &ks, &zone, now, now + Duration::days(400))?;
    let planned_standby = pl.key(&record.standby).with_context(|| format!("the plan has no place for standby KSK {}", record.standby))?;
    // Not before the key existed (the plan's slot may start at the bundle it was made in).
    let standby_published = planned_standby.publish.unwrap_or(pl.anchor).max(standby_meta.created);
    let iv = Intervals::of(p);

    // The parent: is the standby's DS at every server?
    let needed: Vec<crate::dnssec::Ds> = p.cds_digests.iter().map(|d| standby_key.ds(&zname, *d)).collect();
    let keep = vec![key_id(standby_key.key_tag(), standby_key.algorithm), key_id(lost_key.key_tag(), lost_key.algorithm)];
    let mut sf = StateFile::load(ks.dir())?;
    let mut zs = sf.zones.remove(&zone).unwrap_or_default();
    let w = &mut zs.emergency;
    let _ = w.want(&needed);
    let mut poll_text = None;
    let confirmed_before = w.all_confirmed(&needed);
    if record.switch.is_none() && !confirmed_before {
        let due = w.last_poll.is_none_or(|l| now >= l + p.parent_poll_interval.0.max(Duration::seconds(1)));
        if due {
            let expected: Result<ExpectedDs, String> = Ok(ExpectedDs::Set { ds: needed.clone(), keys: vec![standby_key.clone(), lost_key.clone()] });
            let (r, answers) = match &a.poll.poll_json {
                Some(f) => (poll_from_json(f, &zone, &expected).unwrap_or_else(|e| PollResult { seen: false, reason: format!("{e:#}"), servers: vec![] }), vec![]),
                None => poll_live_rows(&cfg, &zname, &expected, a.poll.timeout),
            };
            // A standby DS the plan has asked for since long before (standby_ds =
            // "published") needs one poll that sees it at every server; a
            // withheld one the policy's consecutive confirmations.
            let long_standing = planned_standby.ds_submit.is_some_and(|s| s + iv.ds_publish <= now && s < record.declared);
            let confirmations = if long_standing { 1 } else { p.parent_confirmations };
            w.observe(now, &needed, &keep, &answers, r.seen, confirmations);
            if answers.is_empty() && !r.seen {
                w.waits = vec![r.reason.clone()];
            }
            poll_text = Some(format!("{} ({}), {} consecutive", if r.seen { "seen" } else { "not seen" }, r.reason, w.consecutive));
        }
    }
    let observed_ttl = Duration::seconds(i64::from(w.max_ds_ttl));
    let confirmed_at = needed.iter().filter_map(|d| w.confirmed_times().get(&ds_key_id(d)).copied()).max();
    // A long-standing published DS confirmed by this poll has been at the
    // parent since its planned registration.
    let confirmed_at = match (confirmed_at, planned_standby.ds_submit) {
        (Some(c), Some(s)) if !confirmed_before && s + iv.ds_publish <= now && s < record.declared => Some(c.min(s + iv.dreg)),
        (c, _) => c,
    };
    let waits = if confirmed_at.is_none() { w.waits.clone() } else { vec![] };
    let situation = Situation {
        policy: p,
        lost_key: &lost_meta.id,
        standby_key: &record.standby,
        cause: record.cause,
        declared: record.declared,
        now,
        anchor: pl.anchor,
        interval: pl.interval,
        standby_published,
        standby_ds_confirmed: record.switch.map(|_| record.declared).or(confirmed_at),
        ds_ttl: p.ds_ttl.0.max(observed_ttl),
    };
    let mut t = times(&situation);
    // The switch, once fixed, never moves (the KSK side may have signed from it).
    match record.switch {
        Some(s) => {
            t.switch = s;
            t.state = "ready";
        }
        None if t.state == "ready" => {
            record.switch = Some(t.switch);
            let mut m = ks.get(&lost_meta.id).cloned().context("the lost key left the keystore")?;
            m.lost = Some(record.clone());
            ks.update(m)?;
        }
        None => {}
    }
    if t.state == "ready" {
        // The times after the switch, from the plan that now has it.
        let pl = make_plan(&cfg, &ks, &zone, now, now + Duration::days(400))?;
        if let Some(k) = pl.key(&lost_meta.id) {
            t.dnskey_removed = k.remove.unwrap_or(t.switch);
        }
    }
    sf.zones.insert(zone.clone(), zs);
    sf.save(ks.dir())?;

    let mut ds = std::collections::BTreeMap::new();
    ds.insert(record.standby.clone(), needed.iter().map(ds_text).collect::<Vec<_>>());
    ds.insert(lost_meta.id.clone(), p.cds_digests.iter().map(|d| ds_text(&lost_key.ds(&zname, *d))).collect());
    let next = next_steps(&t, &record, &lost_meta.id, p);
    let report = Report {
        zone: zone.clone(),
        now: format_rfc3339(now),
        lost: KeyReport { id: lost_meta.id.clone(), key_tag: lost_key.key_tag(), algorithm: lost_key.algorithm },
        cause: record.cause,
        standby: KeyReport { id: record.standby.clone(), key_tag: standby_key.key_tag(), algorithm: standby_key.algorithm },
        standby_ds: p.standby_ds,
        declared: format_rfc3339(record.declared),
        newly_declared: newly,
        times: t,
        ds,
        ttls: Ttls {
            ds_ttl: situation.ds_ttl.whole_seconds(),
            dnskey_ttl: p.dnskey_ttl.0.whole_seconds(),
            parent_propagation_delay: p.parent_propagation_delay.0.whole_seconds(),
            zone_propagation_delay: p.zone_propagation_delay.0.whole_seconds(),
            parent_hold: p.parent_hold.0.whole_seconds(),
            registration_delay: iv.dreg.whole_seconds(),
        },
        poll: poll_text,
        waits,
        next,
    };
    if ctx.json {
        print_json(&report)?;
    } else {
        print_plain(&report);
    }
    Ok(0)
}

fn next_steps(t: &EmergencyTimes, r: &Lost, lost: &str, p: &crate::config::Policy) -> Vec<String> {
    let sw = format_rfc3339(t.switch);
    let mut v = Vec::new();
    if t.state == "ready" {
        v.push(format!("ZSK side: kskit ksr generate --switch {sw} --until +90d (the emergency KSR starts at the first bundle of the SKR timeline at or after the switch), and import the SKR as soon as it is signed: it replaces the bundles in force from {sw}"));
        v.push(format!(
            "KSK side: kskit ksr sign KSR --follow-plan --previous-skr LAST-SKR (the last SKR signed: the chain checks compare the emergency KSR with its bundles before the switch and accept this emergency, KSR-CHAIN-KSK-EMERGENCY); from {sw} the plan signs with the standby {} alone",
            r.standby
        ));
    } else {
        v.push("run `kskit rollover emergency` again (cron is fine) until the standby's DS is confirmed at every parent server; the bundles already signed keep the zone valid meanwhile (they are signed by the standby too)".to_string());
        v.push("check that the SKRs already imported cover the zone until the earliest switch (`kskit check`); if they end before it, the zone goes bogus then: the lost key cannot sign more".to_string());
    }
    v.push("generate the next standby KSK now (kskit key generate --role ksk --standby, or kskit hsm keygen --standby): the plan publishes it from the switch".to_string());
    if p.rfc5011 {
        match r.cause {
            LossCause::Compromised => v.push(format!("RFC 5011: {lost} is revoked (REVOKE bit, self-signed) from the switch; keep it available to sign until {}", format_rfc3339(t.dnskey_removed))),
            LossCause::Lost => v.push(format!("RFC 5011: {lost} cannot sign its revocation: tell trust-anchor operators to remove it by hand (resolvers keep it as an anchor until then)")),
        }
        if let Some(x) = &t.rfc5011 {
            if !x.pre_published_long_enough {
                v.push(format!(
                    "RFC 5011: the standby was published at {} and is trusted by every RFC 5011 resolver only from {} (30-day Add Hold-Down): until then such resolvers need a manual trust-anchor update",
                    format_rfc3339(x.standby_published),
                    format_rfc3339(x.standby_trusted)
                ));
            }
        }
    }
    v
}

fn print_plain(r: &Report) {
    let t = &r.times;
    println!("{}: EMERGENCY KSK rollover from {} (tag {}, {}) to standby {} (tag {}), declared {}", r.zone, r.lost.id, r.lost.key_tag, match r.cause {
        LossCause::Lost => "lost",
        LossCause::Compromised => "compromised",
    }, r.standby.id, r.standby.key_tag, r.declared);
    if let Some(pl) = &r.poll {
        println!("parent poll for the standby's DS: {pl}");
    }
    for w in &r.waits {
        println!("waiting: {w}");
    }
    match t.state {
        "ready" => println!("switch: from {} the standby signs alone (the emergency KSR starts there)", format_rfc3339(t.switch)),
        _ => println!("WAITING for the parent: the standby's DS is not confirmed at every parent server; earliest switch {} if the parent acts within parent_hold", format_rfc3339(t.switch)),
    }
    println!("at the parent:");
    for a in &t.parent {
        let ds = r.ds.get(&a.key).map(|d| d.join("; ")).unwrap_or_default();
        println!("  {} DS of {} ({ds}) not before {}: {}", a.action.to_uppercase(), a.key, format_rfc3339(a.earliest), a.how);
    }
    println!(
        "TTLs: DS {}s, DNSKEY {}s; parent propagation {}s, zone propagation {}s, parent hold {}s (registration delay {}s)",
        r.ttls.ds_ttl, r.ttls.dnskey_ttl, r.ttls.parent_propagation_delay, r.ttls.zone_propagation_delay, r.ttls.parent_hold, r.ttls.registration_delay
    );
    println!("the old key's DNSKEY leaves the zone at {}; no resolver can hold it or its DS after {}", format_rfc3339(t.dnskey_removed), format_rfc3339(t.free_of_old_key));
    for n in &r.next {
        println!("next: {n}");
    }
}

/// An emergency as `rollover status` and `rollover step` show it
/// (docs/json.md `emergencies[]`).
#[derive(Serialize)]
pub(super) struct EmergencyStatus {
    lost: KeyReport,
    cause: LossCause,
    standby: KeyReport,
    declared: String,
    /// From when the standby signs alone; `None` while not fixed.
    switch: Option<String>,
    /// While the switch is not fixed: what it waits for, in words.
    waiting_for: Option<String>,
    /// Per parent server, what the emergency waited for at the last poll of
    /// `rollover emergency` (the state file's `emergency` part).
    waits: Vec<String>,
}

/// The emergencies the keystore records for KSKs of `zone`, oldest first.
pub(super) fn recorded(cfg: &crate::config::Config, ks: &crate::keys::keystore::Keystore, zone: &str, zs: &crate::rollover::state::ZoneState) -> Result<Vec<EmergencyStatus>> {
    let p = &cfg.policy;
    let mut out = Vec::new();
    let mut lost: Vec<&crate::keys::keystore::KeyMeta> = ks.keys().iter().filter(|k| k.role == Role::Ksk && k.zone.eq_ignore_ascii_case(zone) && k.lost.is_some()).collect();
    lost.sort_by_key(|k| k.lost.as_ref().map(|l| l.declared));
    for k in lost {
        let Some(l) = &k.lost else { continue };
        let kr = |m: &crate::keys::keystore::KeyMeta| -> Result<KeyReport> {
            let d = m.dnskey()?;
            Ok(KeyReport { id: m.id.clone(), key_tag: d.key_tag(), algorithm: d.algorithm })
        };
        let standby = match ks.get(&l.standby) {
            Some(m) => kr(m)?,
            None => KeyReport { id: l.standby.clone(), key_tag: 0, algorithm: 0 },
        };
        let w = &zs.emergency;
        let waiting_for = l.switch.is_none().then(|| {
            format!(
                "the standby's DS ({}) confirmed at every parent server: {} consecutive seen poll(s) of {}, last poll {}; run `kskit rollover emergency --key {}` again (cron is fine)",
                if w.needed.is_empty() { "not polled yet".to_string() } else { w.needed.join("; ") },
                w.consecutive,
                p.parent_confirmations,
                w.last_poll.map_or_else(|| "never".to_string(), format_rfc3339),
                k.id
            )
        });
        out.push(EmergencyStatus {
            lost: kr(k)?,
            cause: l.cause,
            standby,
            declared: format_rfc3339(l.declared),
            switch: l.switch.map(format_rfc3339),
            waiting_for,
            waits: if l.switch.is_none() { w.waits.clone() } else { vec![] },
        });
    }
    Ok(out)
}

/// The warning when the policy wants a standby KSK (`standby_ksk = true`)
/// and the zone's keystore, on the KSK side, holds none unused (every one
/// taken by an emergency, or none made): the next emergency would have
/// nothing to move to.
pub(super) fn standby_warning(cfg: &crate::config::Config, ks: &crate::keys::keystore::Keystore, zone: &str) -> Option<String> {
    if !cfg.policy.standby_ksk {
        return None;
    }
    let ksks: Vec<&crate::keys::keystore::KeyMeta> = ks.keys().iter().filter(|k| k.role == Role::Ksk && k.zone.eq_ignore_ascii_case(zone)).collect();
    if ksks.is_empty() {
        return None; // the ZSK side: its KSKs come in the SKRs
    }
    let used: Vec<&str> = ksks.iter().filter_map(|k| k.lost.as_ref().map(|l| l.standby.as_str())).collect();
    if ksks.iter().any(|k| k.standby && k.lost.is_none() && !used.contains(&k.id.as_str())) {
        return None;
    }
    Some(format!(
        "{zone} has no unused standby KSK left (standby_ksk = true){}: generate a new standby: kskit key generate --role ksk --standby (or kskit hsm keygen --standby)",
        if used.is_empty() { "" } else { ", the last one was taken by an emergency" }
    ))
}

/// The plain-text lines of [`recorded`] for `rollover status` and `rollover step`.
pub(super) fn status_lines(e: &[EmergencyStatus]) -> Vec<String> {
    let mut v = Vec::new();
    for x in e {
        let cause = match x.cause {
            LossCause::Lost => "lost",
            LossCause::Compromised => "compromised",
        };
        v.push(format!(
            "EMERGENCY: KSK {} (tag {}) {cause}, declared {}; standby {} (tag {}) takes over {}",
            x.lost.id,
            x.lost.key_tag,
            x.declared,
            x.standby.id,
            x.standby.key_tag,
            match &x.switch {
                Some(s) => format!("from the switch {s}"),
                None => "once the switch is fixed (not yet)".to_string(),
            }
        ));
        if let Some(w) = &x.waiting_for {
            v.push(format!("  emergency waits for {w}"));
        }
        for w in &x.waits {
            v.push(format!("  emergency parent server: {w}"));
        }
    }
    v
}
