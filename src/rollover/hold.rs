//! Slow parents (docs/rollover.md "Slow parents"). The KSK side pre-signs,
//! next to every bundle of its plan (the *primary* variant), a *hold*
//! variant that keeps the old KSK as if the parent had not acted yet
//! ([`super::plan::Plan::held`]). The ZSK side puts a primary bundle that
//! differs from its hold variant in force only when every KSK that primary
//! bundle publishes has had its DS confirmed at every parent server, and the
//! DS TTL plus the parent's propagation delay have passed since (so no
//! resolver still holds a DS set without it, RFC 7583 §3.3.2, §3.3.3).
//!
//! This module is the pure core: key identities, the choice between the
//! variants ([`Established`]), what the parent must show for a primary
//! bundle ([`needed`]), and the bookkeeping of the ZSK side's parent polls
//! with their per-server wait reasons and hook events ([`ParentWatch`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::dnssec::{DigestType, Dnskey, Ds, Name};
use crate::parent::ds_text;
use crate::skr::model::ResponseBundle;

type T = OffsetDateTime;

/// A KSK as its DNSKEY and its DS records both name it: `TAG/ALG`.
pub fn key_id(tag: u16, alg: u8) -> String {
    format!("{tag}/{alg}")
}

/// The key id a DS record names.
pub fn ds_key_id(d: &Ds) -> String {
    key_id(d.key_tag, d.algorithm)
}

/// The KSKs a bundle publishes that a chain of trust can start from: SEP
/// flag set, not revoked (a revoked key validates nothing, RFC 5011 §2.1).
pub fn bundle_ksks(b: &ResponseBundle) -> Vec<&Dnskey> {
    b.keys.iter().map(|k| &k.dnskey).filter(|k| k.is_sep() && !k.is_revoked()).collect()
}

/// The KSKs of a bundle whose DS must be confirmed before it may be in
/// force: those of [`bundle_ksks`] that its CDS (else CDNSKEY) records name
/// when it has any, else all of them. A standby KSK whose DS is withheld
/// (docs/rollover.md "Standby KSK") is published but named by no CDS, and
/// must not hold the roll back.
pub fn gating_ksks(b: &ResponseBundle) -> Vec<&Dnskey> {
    let all = bundle_ksks(b);
    let named: Vec<String> = if b.cds.iter().any(|d| !d.is_delete()) {
        b.cds.iter().filter(|d| !d.is_delete()).map(ds_key_id).collect()
    } else {
        b.cdnskey.iter().filter(|k| k.algorithm != 0).map(|k| key_id(k.key_tag(), k.algorithm)).collect()
    };
    let some: Vec<&Dnskey> = all.iter().copied().filter(|k| named.contains(&key_id(k.key_tag(), k.algorithm))).collect();
    if some.is_empty() {
        all
    } else {
        some
    }
}

/// Whether two variants of one bundle publish the same records (DNSKEY,
/// CDS and CDNSKEY RRsets; their signatures always differ).
pub fn same_records(a: &ResponseBundle, b: &ResponseBundle) -> bool {
    fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        v.sort();
        v.dedup();
        v
    }
    let keys = |x: &ResponseBundle| sorted(x.keys.iter().map(|k| k.dnskey.to_wire()).collect());
    let cds = |x: &ResponseBundle| sorted(x.cds.iter().map(Ds::to_wire).collect());
    let cdnskey = |x: &ResponseBundle| sorted(x.cdnskey.iter().map(Dnskey::to_wire).collect());
    keys(a) == keys(b) && cds(a) == cds(b) && cdnskey(a) == cdnskey(b)
}

/// What the ZSK side knows of the parent: per KSK key id, when its DS was
/// first confirmed at every parent server, and how long a DS set may stay
/// cached after that (`wait` = DS TTL, the larger of the policy's and the
/// one observed, + parent propagation delay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Established {
    pub confirmed: BTreeMap<String, T>,
    pub wait: Duration,
}

impl Established {
    /// From the recorded watch state and the policy's DS TTL and parent
    /// propagation delay.
    pub fn of(w: &ParentWatch, ds_ttl: Duration, parent_propagation_delay: Duration) -> Established {
        let observed = Duration::seconds(i64::from(w.max_ds_ttl));
        Established { confirmed: w.confirmed_times(), wait: ds_ttl.max(observed) + parent_propagation_delay }
    }

    /// From when primary bundle `p` may be in force: the latest
    /// confirmation of its KSKs' DS plus `wait`; `Err` naming the first KSK
    /// whose DS is not confirmed (or when it publishes no usable KSK).
    pub fn primary_from(&self, p: &ResponseBundle) -> Result<T, String> {
        let ksks = gating_ksks(p);
        let mut latest: Option<T> = None;
        for k in &ksks {
            let id = key_id(k.key_tag(), k.algorithm);
            match self.confirmed.get(&id) {
                Some(c) => latest = Some(latest.map_or(*c, |l| l.max(*c))),
                None => return Err(format!("the DS of KSK {id} has not been confirmed at every parent server")),
            }
        }
        latest.map(|l| l + self.wait).ok_or_else(|| "the bundle publishes no KSK".to_string())
    }

    /// Whether primary bundle `p` may be in force at `t`.
    pub fn primary_usable(&self, p: &ResponseBundle, t: T) -> bool {
        self.primary_from(p).is_ok_and(|f| f <= t)
    }
}

/// The DS records the parent must show for primary bundle `p`: its CDS
/// records when it has any (what a registry copies, RFC 7344 §4), else the
/// DS of its CDNSKEY records, else of the KSKs it publishes, for each of
/// `digests`. Empty for the RFC 8078 delete records (nothing to confirm).
pub fn needed(zone: &Name, p: &ResponseBundle, digests: &[DigestType]) -> Vec<Ds> {
    if p.cds.iter().any(Ds::is_delete) || p.cdnskey.iter().any(|k| k.algorithm == 0) {
        return vec![];
    }
    let mut out: Vec<Ds> = if !p.cds.is_empty() {
        p.cds.clone()
    } else {
        let keys: Vec<&Dnskey> = if p.cdnskey.is_empty() { bundle_ksks(p) } else { p.cdnskey.iter().collect() };
        keys.iter().flat_map(|k| digests.iter().map(|d| k.ds(zone, *d))).collect()
    };
    out.sort_by_key(|d| d.to_wire());
    out.dedup();
    out
}

/// One parent server's answer as the watch uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnswer {
    /// The server (address, and NS names when discovered).
    pub label: String,
    /// The DS records it answered with; `None` when it gave no usable
    /// answer (timeout, error, lame, not validated: `reason` says).
    pub ds: Option<Vec<Ds>>,
    pub ttl: Option<u32>,
    pub reason: String,
}

/// A hook event of the watch: `ds-needed` (a primary bundle in force asks
/// for a DS not confirmed yet), `ds-seen` (confirmed at every server for
/// `parent_confirmations` polls), `ds-gone` (a DS no longer at any server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentEvent {
    pub event: String,
    /// The DS records concerned, in presentation form.
    pub ds: Vec<String>,
}

pub const DS_NEEDED: &str = "ds-needed";
pub const DS_SEEN: &str = "ds-seen";
pub const DS_GONE: &str = "ds-gone";

/// The ZSK side's record of the parent (in `rollover.json`, per zone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentWatch {
    /// Per key id (`TAG/ALG`): when its DS was first confirmed at every
    /// parent server (RFC 3339). Never taken back: the switch to a primary
    /// bundle is one-way, so a flapping parent cannot make the DNSKEY set
    /// oscillate.
    #[serde(default)]
    pub confirmed: BTreeMap<String, String>,
    /// The DS records being confirmed (presentation form).
    #[serde(default)]
    pub needed: Vec<String>,
    /// Consecutive polls that saw `needed` at every server.
    #[serde(default)]
    pub consecutive: u32,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_poll: Option<T>,
    /// DS records (presentation form) some parent server held at the last poll.
    #[serde(default)]
    pub at_parent: Vec<String>,
    /// What the roll waited for at the last poll, per parent server.
    #[serde(default)]
    pub waits: Vec<String>,
    /// The largest DS TTL any parent server answered with.
    #[serde(default)]
    pub max_ds_ttl: u32,
    /// What each parent server answered at the last poll (at `last_poll`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_servers: Vec<crate::rollover::state::ServerPoll>,
}

impl ParentWatch {
    /// The confirmations as times (unparsable entries, which only a hand
    /// edit makes, are left out: they count as not confirmed).
    pub fn confirmed_times(&self) -> BTreeMap<String, T> {
        self.confirmed.iter().filter_map(|(k, v)| crate::timeutil::parse_instant(v).map(|t| (k.clone(), t))).collect()
    }

    /// Whether every DS of `needed` is confirmed.
    pub fn all_confirmed(&self, needed: &[Ds]) -> bool {
        needed.iter().all(|d| self.confirmed.contains_key(&ds_key_id(d)))
    }

    /// Sets the DS set being confirmed. A new set restarts the count; the
    /// `ds-needed` event when it asks for a DS not confirmed yet.
    pub fn want(&mut self, needed: &[Ds]) -> Option<ParentEvent> {
        let text: Vec<String> = needed.iter().map(ds_text).collect();
        if text == self.needed {
            return None;
        }
        self.needed = text.clone();
        self.consecutive = 0;
        (!self.all_confirmed(needed)).then(|| ParentEvent { event: DS_NEEDED.into(), ds: text })
    }

    /// Whether a poll is useful: a DS to confirm, or a DS at the parent
    /// that the zone no longer wants (to report its going).
    pub fn poll_wanted(&self, needed: &[Ds], keep: &[String]) -> bool {
        !self.all_confirmed(needed) || self.at_parent.iter().any(|d| !keep.iter().any(|k| ds_text_key_id(d).as_deref() == Some(k.as_str())))
    }

    /// Records one poll of every parent server at `now`: `seen_all` is the
    /// overall verdict for `needed` (as `kskit parent poll` gives it);
    /// `keep` the key ids whose DS the zone still wants. Returns the events.
    pub fn observe(&mut self, now: T, needed: &[Ds], keep: &[String], answers: &[ServerAnswer], seen_all: bool, confirmations: u32) -> Vec<ParentEvent> {
        let mut events = Vec::new();
        self.last_poll = Some(now);
        self.consecutive = if seen_all { self.consecutive.saturating_add(1) } else { 0 };
        if self.consecutive >= confirmations.max(1) {
            let stamp = crate::timeutil::format_rfc3339(now);
            let mut new = false;
            for d in needed {
                let id = ds_key_id(d);
                if let std::collections::btree_map::Entry::Vacant(e) = self.confirmed.entry(id) {
                    e.insert(stamp.clone());
                    new = true;
                }
            }
            if new {
                events.push(ParentEvent { event: DS_SEEN.into(), ds: needed.iter().map(ds_text).collect() });
            }
        }
        self.waits = waits(needed, keep, answers);
        let all_answered = !answers.is_empty() && answers.iter().all(|a| a.ds.is_some());
        let mut now_at: Vec<String> = answers.iter().flat_map(|a| a.ds.iter().flatten().map(ds_text)).collect();
        now_at.sort();
        now_at.dedup();
        if all_answered {
            let gone: Vec<String> = self.at_parent.iter().filter(|d| !now_at.contains(d)).cloned().collect();
            if !gone.is_empty() {
                events.push(ParentEvent { event: DS_GONE.into(), ds: gone });
            }
            self.at_parent = now_at;
        } else {
            // A server that did not answer may still hold what it held.
            for d in now_at {
                if !self.at_parent.contains(&d) {
                    self.at_parent.push(d);
                }
            }
        }
        if let Some(t) = answers.iter().filter_map(|a| a.ttl).max() {
            self.max_ds_ttl = self.max_ds_ttl.max(t);
        }
        events
    }
}

/// The key id of a DS in presentation form (`TAG ALG ...`).
fn ds_text_key_id(d: &str) -> Option<String> {
    let mut f = d.split_whitespace();
    let tag: u16 = f.next()?.parse().ok()?;
    let alg: u8 = f.next()?.parse().ok()?;
    Some(key_id(tag, alg))
}

/// Per server, what the roll waits for: a needed DS absent ("new DS 54321
/// absent at 2001:db8::53"), a DS the zone no longer wants still there
/// ("DS 12345 still at 192.0.2.1"), or no usable answer.
pub fn waits(needed: &[Ds], keep: &[String], answers: &[ServerAnswer]) -> Vec<String> {
    let mut out = Vec::new();
    for a in answers {
        let Some(ds) = &a.ds else {
            out.push(format!("no usable answer from {}: {}", a.label, a.reason));
            continue;
        };
        for d in needed.iter().filter(|d| !ds.contains(d)) {
            out.push(format!("new DS {} absent at {}", d.key_tag, a.label));
        }
        for d in ds.iter().filter(|d| !keep.contains(&ds_key_id(d))) {
            out.push(format!("DS {} still at {}", d.key_tag, a.label));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ksr::model::BundleKey;
    use crate::timeutil::parse_instant;

    fn key(seed: u8, flags: u16) -> Dnskey {
        Dnskey { flags, protocol: 3, algorithm: 13, public_key: vec![seed; 64] }
    }

    fn bundle(keys: &[Dnskey], cds: Vec<Ds>) -> ResponseBundle {
        ResponseBundle {
            id: "b".into(),
            inception: parse_instant("2027-01-01T00:00:00Z").unwrap(),
            expiration: None,
            keys: keys.iter().map(|k| BundleKey { key_identifier: "k".into(), key_tag: k.key_tag(), ttl: 3600, dnskey: k.clone() }).collect(),
            cds,
            cds_ttl: 0,
            cdnskey: vec![],
            cdnskey_ttl: 0,
            signatures: vec![],
        }
    }

    #[test]
    fn primary_waits_for_every_ksk_ds_and_the_ds_ttl() {
        let zone = crate::dnssec::parse_name("example.").unwrap();
        let (old, new, zsk) = (key(1, 257), key(2, 257), key(3, 256));
        let primary = bundle(&[new.clone(), zsk.clone()], vec![new.ds(&zone, DigestType::Sha256)]);
        let hold = bundle(&[old.clone(), new.clone(), zsk.clone()], vec![new.ds(&zone, DigestType::Sha256)]);
        assert!(!same_records(&primary, &hold));
        assert!(same_records(&hold, &hold.clone()));
        let t = parse_instant("2027-01-05T00:00:00Z").unwrap();
        let mut e = Established { confirmed: BTreeMap::new(), wait: Duration::days(1) };
        assert!(!e.primary_usable(&primary, t + Duration::days(100)));
        e.confirmed.insert(key_id(new.key_tag(), 13), t);
        assert!(!e.primary_usable(&primary, t + Duration::hours(23)), "the old DS may still be cached");
        assert!(e.primary_usable(&primary, t + Duration::days(1)));
        // A revoked old KSK (RFC 5011) is no chain start: it needs no DS.
        let revoked = Dnskey { flags: 257 | crate::dnssec::FLAG_REVOKE, ..old.clone() };
        let p5011 = bundle(&[revoked, new.clone(), zsk], vec![]);
        assert!(e.primary_usable(&p5011, t + Duration::days(1)));
        assert_eq!(needed(&zone, &p5011, &[DigestType::Sha256]), vec![new.ds(&zone, DigestType::Sha256)]);
    }

    #[test]
    fn watch_confirms_after_consecutive_polls_and_reports_each_server() {
        let zone = crate::dnssec::parse_name("example.").unwrap();
        let (old, new) = (key(1, 257), key(2, 257));
        let (dold, dnew) = (old.ds(&zone, DigestType::Sha256), new.ds(&zone, DigestType::Sha256));
        let need = vec![dnew.clone()];
        let keep = vec![ds_key_id(&dnew)];
        let mut w = ParentWatch::default();
        let ev = w.want(&need).unwrap();
        assert_eq!(ev.event, DS_NEEDED);
        assert!(w.want(&need).is_none(), "asked once");
        let t = parse_instant("2027-01-05T00:00:00Z").unwrap();
        let late = [
            ServerAnswer { label: "192.0.2.1".into(), ds: Some(vec![dold.clone()]), ttl: Some(86400), reason: String::new() },
            ServerAnswer { label: "2001:db8::53".into(), ds: Some(vec![dold.clone(), dnew.clone()]), ttl: Some(7200), reason: String::new() },
        ];
        let ev = w.observe(t, &need, &keep, &late, false, 2);
        assert!(ev.is_empty());
        let text = w.waits.join("; ");
        assert!(text.contains(&format!("new DS {} absent at 192.0.2.1", new.key_tag())), "{text}");
        assert!(text.contains(&format!("DS {} still at 2001:db8::53", old.key_tag())), "{text}");
        assert_eq!(w.max_ds_ttl, 86400);
        let both = [
            ServerAnswer { label: "192.0.2.1".into(), ds: Some(vec![dnew.clone()]), ttl: Some(3600), reason: String::new() },
            ServerAnswer { label: "2001:db8::53".into(), ds: Some(vec![dnew.clone()]), ttl: Some(3600), reason: String::new() },
        ];
        let ev = w.observe(t + Duration::hours(1), &need, &keep, &both, true, 2);
        assert_eq!(ev.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), [DS_GONE], "one poll is not enough to confirm");
        assert_eq!(ev[0].ds, [ds_text(&dold)]);
        let ev = w.observe(t + Duration::hours(2), &need, &keep, &both, true, 2);
        assert_eq!(ev.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), [DS_SEEN]);
        assert!(w.all_confirmed(&need));
        assert!(!w.poll_wanted(&need, &keep));
        // A silent server keeps what it held in `at_parent`.
        let silent = [ServerAnswer { label: "192.0.2.9".into(), ds: None, ttl: None, reason: "timeout".into() }];
        w.observe(t + Duration::hours(3), &need, &keep, &silent, false, 2);
        assert_eq!(w.at_parent, [ds_text(&dnew)]);
        assert!(w.waits[0].contains("timeout"));
    }
}
