//! The rollover planner: policy + the keystore's keys → when every key is
//! published, signs, stops signing, is revoked and removed, and when its DS
//! is asked for and withdrawn at the parent. Pure: no I/O, no clock.
//!
//! Every time is on the bundle grid (the first key's activation plus whole
//! `bundle_interval`s), so every change falls on a KSR/SKR bundle boundary;
//! every waiting interval is rounded up to whole bundles. An algorithm
//! rollover runs on its own grid from `algorithm_rollover_start` (see
//! [`AlgorithmRollover`]). The rules and their
//! RFC sources are in docs/rollover.md.
//!
//! Key semantics at an instant `t` (half-open intervals):
//! - in the DNSKEY RRset: `publish <= t < remove`;
//! - signs (KSK: the DNSKEY RRset; ZSK: the zone): `active <= t < retire`,
//!   and a revoked KSK self-signs while published (RFC 5011 §2.1);
//! - REVOKE flag set: `revoke <= t`;
//! - DS wanted at the parent: `ds_submit <= t < ds_withdraw`.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::config::{CdsPublish, KskRollover, Policy, StandbyDs};
use crate::dnssec::{Algorithm, FLAG_REVOKE};
use crate::keys::keystore::{KeyMeta, KeyTiming, Role};
use crate::policy::{round_up, zsk_publish_interval, zsk_retire_interval, zsk_schedule};

/// RFC 5011 §2.4.1 Add Hold-Down and §6.6 Remove Hold-Down: 30 days.
pub const RFC5011_HOLD_DOWN: Duration = Duration::days(30);

/// Safety bound on the number of planned keys (a tiny lifetime over a long period).
const MAX_KEYS: usize = 2000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("policy: {0}")]
    Policy(String),
    #[error("keystore: {0}")]
    Keys(String),
}

type T = OffsetDateTime;

/// A precondition the state machine observes before a key moves on: the DS
/// of `ds_of` must be seen at every parent server for `parent_confirmations`
/// consecutive polls, and then DS TTL + parent propagation delay waited out
/// (RFC 7583 §3.3.2, §3.3.3: the old DS must have left every cache).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    /// The key whose DS must be seen at the parent.
    pub ds_of: String,
    /// The gate holds the key's events at or after this time.
    #[serde(with = "time::serde::rfc3339")]
    pub from: T,
}

/// One key of the plan: an existing keystore key or one still to be generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedKey {
    /// The keystore id, or `new-<role>-<n>` for a key still to be generated.
    pub id: String,
    pub existing: bool,
    pub role: Role,
    pub algorithm: Algorithm,
    pub key_tag: Option<u16>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub publish: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub active: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retire: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub remove: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoke: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ds_submit: Option<T>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ds_withdraw: Option<T>,
    pub gates: Vec<Gate>,
    /// A standby KSK (policy `standby_ksk`): published and self-signing,
    /// its DS at the parent or not (`standby_ds`), until an emergency
    /// (`kskit rollover emergency`) makes it the current KSK.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
}

fn within(t: T, from: Option<T>, to: Option<T>) -> bool {
    from.is_some_and(|f| f <= t) && to.is_none_or(|e| t < e)
}

impl PlannedKey {
    fn new(id: String, role: Role, algorithm: Algorithm) -> Self {
        PlannedKey {
            id,
            existing: false,
            role,
            algorithm,
            key_tag: None,
            publish: None,
            active: None,
            retire: None,
            remove: None,
            revoke: None,
            ds_submit: None,
            ds_withdraw: None,
            gates: Vec::new(),
            standby: false,
        }
    }

    /// In the DNSKEY RRset at `t`.
    pub fn published_at(&self, t: T) -> bool {
        within(t, self.publish, self.remove)
    }

    /// Signs at `t` (KSK: the DNSKEY RRset; ZSK: the zone's RRsets). A
    /// revoked KSK signs the DNSKEY RRset while it is published (RFC 5011
    /// §2.1: the revoked key must self-sign).
    pub fn signs_at(&self, t: T) -> bool {
        within(t, self.active, self.retire) || (self.role == Role::Ksk && self.revoked_at(t) && self.published_at(t))
    }

    /// REVOKE bit set at `t`.
    pub fn revoked_at(&self, t: T) -> bool {
        self.revoke.is_some_and(|r| r <= t)
    }

    /// The DNSKEY flags at `t` (RFC 4034 §2.1.1, RFC 5011 §3).
    pub fn flags_at(&self, t: T) -> u16 {
        self.role.flags() | if self.revoked_at(t) { FLAG_REVOKE } else { 0 }
    }

    /// The plan wants this key's DS at the parent at `t`.
    pub fn ds_wanted_at(&self, t: T) -> bool {
        within(t, self.ds_submit, self.ds_withdraw)
    }

    /// (kind, time) of every planned event, in time order.
    pub fn events(&self) -> Vec<(EventKind, T)> {
        let mut v: Vec<(EventKind, T)> = [
            (EventKind::Publish, self.publish),
            (EventKind::Active, self.active),
            (EventKind::Retire, self.retire),
            (EventKind::Remove, self.remove),
            (EventKind::Revoke, self.revoke),
            (EventKind::DsSubmit, self.ds_submit),
            (EventKind::DsWithdraw, self.ds_withdraw),
        ]
        .into_iter()
        .filter_map(|(k, t)| t.map(|t| (k, t)))
        .collect();
        v.sort_by_key(|(k, t)| (*t, *k));
        v
    }
}

/// What happens to a key, in lifecycle order: events of one key at the same
/// instant apply in this order (a key is published before it is active, and
/// its DS is submitted after), so the state after them is the latest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Publish,
    Active,
    DsSubmit,
    Revoke,
    Retire,
    DsWithdraw,
    Remove,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Publish => "publish",
            EventKind::Active => "active",
            EventKind::Retire => "retire",
            EventKind::Remove => "remove",
            EventKind::Revoke => "revoke",
            EventKind::DsSubmit => "ds-submit",
            EventKind::DsWithdraw => "ds-withdraw",
        }
    }
}

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub at: T,
    pub key: String,
    pub kind: EventKind,
    /// Held by a [`Gate`]: the planned time is the earliest.
    pub gated: bool,
}

/// The CDS/CDNSKEY RRsets of a bundle: none, the listed KSKs, or the RFC
/// 8078 §4 delete records — never a mix of delete and normal records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "keys", rename_all = "lowercase")]
pub enum CdsSet {
    None,
    Keys(Vec<String>),
    Delete,
}

/// A key in a DNSKEY RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyAt {
    pub id: String,
    pub role: Role,
    pub algorithm: Algorithm,
    pub flags: u16,
}

/// What the plan publishes at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    #[serde(with = "time::serde::rfc3339")]
    pub at: T,
    /// The DNSKEY RRset.
    pub dnskeys: Vec<KeyAt>,
    /// The KSKs whose RRSIGs cover the DNSKEY RRset (and CDS/CDNSKEY).
    pub dnskey_signers: Vec<String>,
    /// The ZSKs that sign the zone's other RRsets.
    pub zone_signers: Vec<String>,
    pub cds: CdsSet,
    /// The KSKs whose DS the parent should hold.
    pub parent_ds: Vec<String>,
}

/// The whole plan of a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub zone: String,
    /// The bundle grid's origin.
    #[serde(with = "time::serde::rfc3339")]
    pub anchor: T,
    #[serde(skip)]
    pub interval: Duration,
    pub bundle_interval_seconds: i64,
    pub keys: Vec<PlannedKey>,
    /// Keystore keys of the zone the plan found no place for.
    pub unplanned: Vec<String>,
    #[serde(skip)]
    cds_publish: CdsPublish,
    #[serde(skip)]
    cds_window: Duration,
}

impl Plan {
    pub fn key(&self, id: &str) -> Option<&PlannedKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every event, in time order.
    pub fn events(&self) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .keys
            .iter()
            .flat_map(|k| {
                k.events().into_iter().map(move |(kind, at)| Event {
                    at,
                    key: k.id.clone(),
                    kind,
                    gated: k.gates.iter().any(|g| at >= g.from) && !matches!(kind, EventKind::DsSubmit),
                })
            })
            .collect();
        v.sort_by(|a, b| (a.at, a.kind, &a.key).cmp(&(b.at, b.kind, &b.key)));
        v
    }

    /// The bundle start times in `[from, until)` on the plan's grid.
    pub fn bundle_starts(&self, from: T, until: T) -> Vec<T> {
        let iv = self.interval.whole_seconds().max(1);
        let off = (from - self.anchor).whole_seconds();
        let k = if off <= 0 { 0 } else { (off + iv - 1) / iv };
        let mut t = self.anchor + Duration::seconds(k * iv);
        let mut out = Vec::new();
        while t < until && out.len() < 100_000 {
            out.push(t);
            t += self.interval;
        }
        out
    }

    /// The *hold* variant of the plan (docs/rollover.md "Slow parents"): as
    /// if the gate had not opened, i.e. the parent had not confirmed the
    /// new DS. Every event of a gated key at or after its first gate's
    /// `from` (except DS submissions) is held: the old KSK stays published
    /// and signing (no revocation), a double-DS incoming KSK stays
    /// unpublished, and no DS is withdrawn. The KSK side pre-signs this as
    /// the fallback the ZSK side keeps in force while the parent is late.
    ///
    /// A gate is held until the plan asks the parent for a later DS (the
    /// next roll's); from then on the held events happen there, i.e. the
    /// hold variant of a later roll assumes the earlier one done. Holding
    /// every gate for ever would bring a KSK retired rolls ago back into
    /// every later hold variant (and keep a double-DS KSK that has long
    /// been the zone's only KSK unpublished): such a variant validates
    /// from no DS the parent holds (tests/soak_years.rs found it).
    pub fn held(&self) -> Plan {
        let mut p = self.clone();
        let submits: Vec<T> = self.keys.iter().filter_map(|k| k.ds_submit).collect();
        for k in p.keys.iter_mut() {
            let froms: Vec<T> = k.gates.iter().map(|g| g.from).collect();
            for f in [&mut k.publish, &mut k.active, &mut k.retire, &mut k.remove, &mut k.revoke, &mut k.ds_withdraw] {
                let Some(t) = *f else { continue };
                // The latest of the key's gates at or before the event (a key
                // can be gated twice: the incoming key of one roll is the
                // outgoing key of the next), held until the next DS request.
                let Some(from) = froms.iter().copied().filter(|g| *g <= t).max() else { continue };
                let until = submits.iter().copied().filter(|s| *s > from).min();
                *f = until.map(|u| t.max(u));
            }
        }
        p
    }

    /// The KSKs whose DS the parent should hold at `t`.
    pub fn parent_ds_at(&self, t: T) -> Vec<String> {
        self.keys.iter().filter(|k| k.role == Role::Ksk && k.ds_wanted_at(t)).map(|k| k.id.clone()).collect()
    }

    /// The CDS/CDNSKEY set at `t` (RFC 7344 §4, RFC 8078 §4): per the
    /// policy's `cds_publish`: none; the DS the parent should hold (always);
    /// the same but only for a while after each DS change (rollover); or
    /// the delete records (delete).
    pub fn cds_at(&self, t: T) -> CdsSet {
        let wanted = self.parent_ds_at(t);
        match self.cds_publish {
            CdsPublish::None => CdsSet::None,
            CdsPublish::Delete => CdsSet::Delete,
            CdsPublish::Always if !wanted.is_empty() => CdsSet::Keys(wanted),
            CdsPublish::Rollover if !wanted.is_empty() => {
                let changing = self.keys.iter().flat_map(|k| [k.ds_submit, k.ds_withdraw]).flatten().any(|e| e <= t && t < e + self.cds_window);
                if changing {
                    CdsSet::Keys(wanted)
                } else {
                    CdsSet::None
                }
            }
            _ => CdsSet::None,
        }
    }

    /// What is published at `t`.
    pub fn view_at(&self, t: T) -> View {
        View {
            at: t,
            dnskeys: self
                .keys
                .iter()
                .filter(|k| k.published_at(t))
                .map(|k| KeyAt { id: k.id.clone(), role: k.role, algorithm: k.algorithm, flags: k.flags_at(t) })
                .collect(),
            dnskey_signers: self.keys.iter().filter(|k| k.role == Role::Ksk && k.signs_at(t)).map(|k| k.id.clone()).collect(),
            zone_signers: self.keys.iter().filter(|k| k.role == Role::Zsk && k.signs_at(t)).map(|k| k.id.clone()).collect(),
            cds: self.cds_at(t),
            parent_ds: self.parent_ds_at(t),
        }
    }

    /// The instants in `[from, to]` at which the view may change, plus `from`.
    pub fn change_points(&self, from: T, to: T) -> Vec<T> {
        let mut v: Vec<T> = vec![from];
        for k in &self.keys {
            for (_, t) in k.events() {
                if t > from && t <= to {
                    v.push(t);
                }
            }
            if self.cds_publish == CdsPublish::Rollover {
                for e in [k.ds_submit, k.ds_withdraw].into_iter().flatten() {
                    let end = e + self.cds_window;
                    if end > from && end <= to {
                        v.push(end);
                    }
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

/// The rollover intervals of a policy, each rounded up to whole bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub bundle: Duration,
    /// Expected registration delay: `parent_hold + parent_poll_interval ×
    /// parent_confirmations` (the real one is observed by the state machine).
    pub dreg: Duration,
    /// RFC 7583 §3.3.2 Ipub of a new KSK: Dprp + TTLkey (+ the RFC 5011 Add
    /// Hold-Down when `rfc5011`) + publish safety.
    pub ksk_publish: Duration,
    /// RFC 7583 §3.3.2 the wait after the DS change before the old KSK goes:
    /// Dreg + DprpP + TTLds + retire safety.
    pub ds_change: Duration,
    /// RFC 7583 §3.3.3 IpubP of the new DS: Dreg + DprpP + TTLds + publish safety.
    pub ds_publish: Duration,
    /// RFC 7583 §3.3.3 after the DNSKEY swap before the old DS goes: Dprp + TTLkey + retire safety.
    pub dnskey_change: Duration,
    /// RFC 6781 §4.1.4 "new RRSIGs" step: Dprp + max(TTLsig, TTLkey) + publish safety.
    pub new_signatures: Duration,
    /// RFC 5011 §6.6: a revoked key stays published Dprp + max(30 days, TTLkey).
    pub revoked_published: Duration,
}

impl Intervals {
    pub fn of(p: &Policy) -> Intervals {
        let iv = p.bundle_interval.0;
        let r = |d: Duration| round_up(d, iv);
        let dreg = p.parent_hold.0 + p.parent_poll_interval.0 * p.parent_confirmations.max(1) as i32;
        let hold = if p.rfc5011 { RFC5011_HOLD_DOWN.max(p.dnskey_ttl.0) } else { p.dnskey_ttl.0 };
        Intervals {
            bundle: iv,
            dreg,
            ksk_publish: r(p.zone_propagation_delay.0 + hold + p.publish_safety.0),
            ds_change: r(dreg + p.parent_propagation_delay.0 + p.ds_ttl.0 + p.retire_safety.0),
            ds_publish: r(dreg + p.parent_propagation_delay.0 + p.ds_ttl.0 + p.publish_safety.0),
            dnskey_change: r(p.zone_propagation_delay.0 + p.dnskey_ttl.0 + p.retire_safety.0),
            new_signatures: r(p.zone_propagation_delay.0 + p.max_zone_ttl.0.max(p.dnskey_ttl.0) + p.publish_safety.0),
            revoked_published: r(p.zone_propagation_delay.0 + RFC5011_HOLD_DOWN.max(p.dnskey_ttl.0)),
        }
    }
}

/// The first activation time among the zone's keys (publish, then created,
/// when a key has no activation time).
fn key_start(k: &KeyMeta) -> T {
    k.timing.active.or(k.timing.publish).unwrap_or(k.created)
}

struct Builder {
    keys: Vec<PlannedKey>,
    n_ksk: usize,
    n_zsk: usize,
    n_standby: usize,
}

impl Builder {
    fn add(&mut self, role: Role, alg: Algorithm) -> Result<usize, PlanError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(PlanError::Policy(format!("more than {MAX_KEYS} keys planned: lifetimes too short for the period")));
        }
        let id = match role {
            Role::Zsk => {
                self.n_zsk += 1;
                format!("new-zsk-{}", self.n_zsk)
            }
            _ => {
                self.n_ksk += 1;
                format!("new-ksk-{}", self.n_ksk)
            }
        };
        self.keys.push(PlannedKey::new(id, role, alg));
        Ok(self.keys.len() - 1)
    }

    /// A standby KSK slot, `new-standby-ksk-<n>` until a keystore key fills it.
    fn add_standby(&mut self, alg: Algorithm) -> Result<usize, PlanError> {
        if self.keys.len() >= MAX_KEYS {
            return Err(PlanError::Policy(format!("more than {MAX_KEYS} keys planned: lifetimes too short for the period")));
        }
        self.n_standby += 1;
        let mut k = PlannedKey::new(format!("new-standby-ksk-{}", self.n_standby), Role::Ksk, alg);
        k.standby = true;
        self.keys.push(k);
        Ok(self.keys.len() - 1)
    }

    fn key(&mut self, i: usize) -> Result<&mut PlannedKey, PlanError> {
        self.keys.get_mut(i).ok_or_else(|| PlanError::Keys(format!("internal: no planned key {i}")))
    }
}

/// Plans the KSK rollovers from key `cur` (active since `cur_active`, its DS
/// at the parent) every KSK lifetime, while the new key is published before
/// `until` and the whole rollover ends by `stop` (the algorithm rollover's
/// start). Returns the KSK current at the end.
fn ksk_chain(b: &mut Builder, p: &Policy, iv: &Intervals, mut cur: usize, mut cur_active: T, stop: Option<T>, until: T) -> Result<usize, PlanError> {
    let life = p.ksk.lifetime.0;
    if life <= Duration::ZERO {
        return Ok(cur);
    }
    let life = round_up(life, iv.bundle);
    loop {
        let r = cur_active + life;
        let alg = b.key(cur)?.algorithm;
        match p.ksk_rollover {
            KskRollover::DoubleKsk => {
                // RFC 7583 §3.3.2: publish the new KSK, wait Ipub, swap the DS
                // at R, wait for the old DS to leave caches, remove the old KSK.
                let publish = r - iv.ksk_publish;
                let retire = r + iv.ds_change;
                let remove = if p.rfc5011 { retire + iv.revoked_published } else { retire };
                if publish > until || stop.is_some_and(|s| remove > s) {
                    return Ok(cur);
                }
                let new = b.add(Role::Ksk, alg)?;
                let new_id = b.key(new)?.id.clone();
                let n = b.key(new)?;
                n.publish = Some(publish);
                n.active = Some(publish);
                n.ds_submit = Some(r);
                let o = b.key(cur)?;
                o.ds_withdraw = Some(r);
                o.retire = Some(retire);
                o.remove = Some(remove);
                o.revoke = p.rfc5011.then_some(retire);
                o.gates.push(Gate { ds_of: new_id, from: retire });
                cur = new;
            }
            KskRollover::DoubleDs => {
                if p.rfc5011 {
                    return Err(PlanError::Policy(
                        "rfc5011 needs ksk_rollover = \"double-ksk\": RFC 5011 §2.4.1 trust anchors learn the new KSK only while it is published next to the old one".into(),
                    ));
                }
                // RFC 7583 §3.3.3: add the new DS, wait IpubP, swap the DNSKEY
                // at R, wait for the old DNSKEY RRset to leave caches, withdraw the old DS.
                let submit = r - iv.ds_publish;
                let withdraw = r + iv.dnskey_change;
                if submit > until || stop.is_some_and(|s| withdraw > s) {
                    return Ok(cur);
                }
                let new = b.add(Role::Ksk, alg)?;
                let new_id = b.key(new)?.id.clone();
                let n = b.key(new)?;
                n.ds_submit = Some(submit);
                n.publish = Some(r);
                n.active = Some(r);
                n.gates.push(Gate { ds_of: new_id.clone(), from: r });
                let o = b.key(cur)?;
                o.retire = Some(r);
                o.remove = Some(r);
                o.ds_withdraw = Some(withdraw);
                o.gates.push(Gate { ds_of: new_id, from: r });
                cur = new;
            }
        }
        cur_active = r;
    }
}

/// Plans ZSKs from `first` on: the pre-publish schedule (RFC 7583 §3.2) of
/// [`zsk_schedule`]; keys whose activation would fall at or after `stop` are
/// not planned. Returns the ZSK index active last.
fn zsk_chain(b: &mut Builder, p: &Policy, alg: Algorithm, first: usize, first_active: T, stop: Option<T>, until: T) -> Result<usize, PlanError> {
    if p.zsk.lifetime.0 <= Duration::ZERO {
        return Ok(first);
    }
    let end = stop.map_or(until, |s| s.min(until));
    let slots = zsk_schedule(p, first_active, false, end);
    let mut cur = first;
    for (i, s) in slots.iter().enumerate() {
        if stop.is_some_and(|st| s.active >= st) {
            break;
        }
        let k = if i == 0 { first } else { b.add(Role::Zsk, alg)? };
        let key = b.key(k)?;
        if i > 0 {
            key.publish = Some(s.publish);
        }
        key.active = Some(s.active);
        key.retire = Some(s.retire);
        key.remove = Some(s.remove);
        cur = k;
    }
    Ok(cur)
}

/// The instants of an algorithm rollover (RFC 6781 §4.1.4, conservative),
/// the same for the ZSK side (`kskit zsk pregenerate`) and the KSK side
/// (`kskit ksr sign --follow-plan`): each step lasts a whole number of
/// bundles from `start`, which is `algorithm_rollover_start` itself (not
/// moved onto either side's bundle grid, so that two keystores with
/// different first keys agree) or the plan's anchor when that is later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlgorithmRollover {
    pub to: Algorithm,
    /// The new-algorithm ZSK starts signing the zone, unpublished.
    #[serde(with = "time::serde::rfc3339")]
    pub start: T,
    /// The new KSK and ZSK enter the DNSKEY RRset; the new KSK signs it.
    #[serde(with = "time::serde::rfc3339")]
    pub new_dnskeys: T,
    /// The DS swap (new DS submitted, old withdrawn; CDS = new KSK).
    #[serde(with = "time::serde::rfc3339")]
    pub ds_swap: T,
    /// The old KSK and ZSK leave the DNSKEY RRset (gated on the new DS).
    #[serde(with = "time::serde::rfc3339")]
    pub old_dnskeys_out: T,
    /// The old ZSK stops signing the zone.
    #[serde(with = "time::serde::rfc3339")]
    pub old_signatures_out: T,
}

/// The zone's grid anchor: the earliest activation among its keystore keys
/// (publish, then creation, for a key without one), else `start`.
pub fn grid_anchor(zone: &str, keys: &[KeyMeta], start: T) -> T {
    let a = keys.iter().filter(|k| k.zone.eq_ignore_ascii_case(zone)).map(key_start).min().unwrap_or(start);
    crate::timeutil::whole_seconds(a)
}

/// The algorithm rollover the policy asks for, with the plan anchored at
/// `anchor`; `None` without `algorithm_rollover_to` or when going insecure.
pub fn algorithm_rollover(p: &Policy, anchor: T) -> Option<AlgorithmRollover> {
    let to = p.algorithm_rollover_to?;
    if p.cds_publish == CdsPublish::Delete {
        return None;
    }
    let iv = Intervals::of(p);
    let start = crate::timeutil::whole_seconds(p.algorithm_rollover_start.as_ref().map_or(anchor, |a| a.0).max(anchor));
    let new_dnskeys = start + iv.new_signatures;
    let ds_swap = new_dnskeys + iv.ksk_publish;
    let old_dnskeys_out = ds_swap + iv.ds_change;
    let old_signatures_out = old_dnskeys_out + iv.dnskey_change;
    Some(AlgorithmRollover { to, start, new_dnskeys, ds_swap, old_dnskeys_out, old_signatures_out })
}

/// The new algorithm's ZSKs, in order: the first signs from `start` but is
/// published only at `new_dnskeys` (RFC 6781 §4.1.4 "new RRSIGs"); its
/// successors follow the pre-publish schedule (RFC 7583 §3.2), the first
/// of them active one ZSK lifetime after `start` but not before the old
/// signatures are gone plus a publish interval. Up to keys published (or
/// signing) by `until`; with a zero ZSK lifetime, one key that never retires.
pub fn new_algorithm_zsks(p: &Policy, ar: &AlgorithmRollover, until: T) -> Vec<KeyTiming> {
    let iv = p.bundle_interval.0;
    let mut first = KeyTiming { publish: Some(ar.new_dnskeys), active: Some(ar.start), ..KeyTiming::default() };
    if p.zsk.lifetime.0 <= Duration::ZERO || iv <= Duration::ZERO {
        return vec![first];
    }
    let next = (ar.start + round_up(p.zsk.lifetime.0, iv)).max(ar.old_signatures_out + round_up(zsk_publish_interval(p), iv));
    first.retire = Some(next);
    first.remove = Some(next + round_up(zsk_retire_interval(p), iv));
    let mut out = vec![first];
    out.extend(zsk_schedule(p, next, true, until).iter().map(|s| s.timing(p)));
    out
}

/// Plans the zone's rollovers until `until`. `start` is where the plan
/// begins when the zone has no key yet (else the first key's activation).
pub fn plan(zone: &str, p: &Policy, keys: &[KeyMeta], start: T, until: T) -> Result<Plan, PlanError> {
    if p.bundle_interval.0 <= Duration::ZERO {
        return Err(PlanError::Policy("bundle_interval must be positive".into()));
    }
    let zone_keys: Vec<&KeyMeta> = keys.iter().filter(|k| k.zone.eq_ignore_ascii_case(zone)).collect();
    if let Some(c) = zone_keys.iter().find(|k| k.role == Role::Csk) {
        return Err(PlanError::Keys(format!("key {} is a CSK: CSK rollovers are not planned (use a KSK and a ZSK)", c.id)));
    }
    let iv = Intervals::of(p);
    let anchor = grid_anchor(zone, keys, start);
    let mut b = Builder { keys: Vec::new(), n_ksk: 0, n_zsk: 0, n_standby: 0 };

    let old_alg = |role: Role, pol: Algorithm| zone_keys.iter().filter(|k| k.role == role).min_by_key(|k| key_start(k)).map_or(pol, |k| k.algorithm);
    let ksk_alg = old_alg(Role::Ksk, p.ksk.algorithm);
    let zsk_alg = old_alg(Role::Zsk, p.zsk.algorithm);

    // The first KSK and ZSK: published and active from the anchor, the
    // KSK's DS at the parent (RFC 8078 delete: withdrawn from the start).
    let k0 = b.add(Role::Ksk, ksk_alg)?;
    let z0 = b.add(Role::Zsk, zsk_alg)?;
    for i in [k0, z0] {
        let k = b.key(i)?;
        k.publish = Some(anchor);
        k.active = Some(anchor);
    }
    b.key(k0)?.ds_submit = Some(anchor);
    let delete = p.cds_publish == CdsPublish::Delete;
    if delete {
        b.key(k0)?.ds_withdraw = Some(anchor);
    }

    // The standby KSK (docs/rollover.md "Standby KSK"): published and
    // self-signing from the anchor (a later-made standby key from its
    // creation, below), its DS asked for from the start unless withheld.
    // Each emergency with a fixed switch, in time order.
    let mut switches: Vec<T> = zone_keys.iter().filter_map(|m| m.lost.as_ref().and_then(|l| l.switch)).collect();
    switches.sort();
    // The standby slots in order: the first, then one per switch.
    let mut standby_slots: Vec<usize> = Vec::new();
    let standby = if p.standby_ksk && !delete {
        let s = b.add_standby(ksk_alg)?;
        let k = b.key(s)?;
        k.publish = Some(anchor);
        k.active = Some(anchor);
        if p.standby_ds == StandbyDs::Published {
            k.ds_submit = Some(anchor);
        }
        standby_slots.push(s);
        // Each emergency uses up a standby: the next one is published from
        // that emergency's switch (generate it then).
        for at in switches.iter().copied() {
            let n = b.add_standby(ksk_alg)?;
            standby_slots.push(n);
            let k = b.key(n)?;
            k.publish = Some(at);
            k.active = Some(at);
            if p.standby_ds == StandbyDs::Published {
                k.ds_submit = Some(at);
            }
        }
        Some(s)
    } else {
        None
    };

    let alg = algorithm_rollover(p, anchor);
    if let Some(ar) = &alg {
        if ar.to == ksk_alg && ar.to == zsk_alg {
            return Err(PlanError::Policy(format!("algorithm_rollover_to {} is the keys' algorithm already", ar.to)));
        }
    }
    let alg_start = alg.as_ref().map(|a| a.start);

    // After an emergency the standby it used (the last emergency's: the
    // standby slot before the last switch's) is the current KSK from the
    // switch, its activation as the zone's KSK: the ordinary KSK rolls stop
    // at the switch and go on one KSK lifetime after it, not after the lost
    // key's activation. With an algorithm rollover before the switch, the
    // plan keeps the rolls as they were.
    let emergency_from = switches
        .last()
        .copied()
        .filter(|sw| !delete && alg_start.is_none_or(|a| a > *sw))
        .and_then(|sw| standby_slots.get(switches.len() - 1).map(|si| (*si, sw)));
    let ksk_cur = match emergency_from {
        _ if delete => k0,
        Some((si, sw)) => {
            ksk_chain(&mut b, p, &iv, k0, anchor, Some(sw), until)?;
            ksk_chain(&mut b, p, &iv, si, sw, alg_start, until)?
        }
        None => ksk_chain(&mut b, p, &iv, k0, anchor, alg_start, until)?,
    };
    let zsk_cur = zsk_chain(&mut b, p, zsk_alg, z0, anchor, alg_start, until)?;

    if let Some(ar) = alg.filter(|a| a.start <= until) {
        // RFC 6781 §4.1.4 (conservative): new-algorithm zone signatures
        // first, then the new DNSKEYs, then the DS swap, then the old
        // DNSKEYs out, then the old zone signatures out. A KSK signs the
        // DNSKEY RRset only while it is in it: that RRset's RRSIGs travel
        // and are cached with it, so earlier or later KSK signatures would
        // protect nothing, and the ZSK side could not verify them.
        let kn = b.add(Role::Ksk, ar.to)?;
        let kn_id = b.key(kn)?.id.clone();
        let k = b.key(kn)?;
        k.publish = Some(ar.new_dnskeys);
        k.active = Some(ar.new_dnskeys);
        k.ds_submit = Some(ar.ds_swap);
        let ko = b.key(ksk_cur)?;
        ko.ds_withdraw = Some(ar.ds_swap);
        ko.retire = Some(ar.old_dnskeys_out);
        if p.rfc5011 {
            ko.revoke = Some(ar.old_dnskeys_out);
            ko.remove = Some(ar.old_dnskeys_out + iv.revoked_published);
        } else {
            ko.remove = Some(ar.old_dnskeys_out);
        }
        ko.gates.push(Gate { ds_of: kn_id.clone(), from: ar.old_dnskeys_out });
        // The old algorithm's standby leaves with the old KSK; a standby of
        // the new algorithm comes in with the new KSK.
        if let Some(si) = standby {
            let so = b.key(si)?;
            so.retire = Some(ar.old_dnskeys_out);
            so.remove = Some(ar.old_dnskeys_out);
            if so.ds_submit.is_some() {
                so.ds_withdraw = Some(ar.ds_swap);
            }
            so.gates.push(Gate { ds_of: kn_id.clone(), from: ar.old_dnskeys_out });
            let sn = b.add_standby(ar.to)?;
            let k = b.key(sn)?;
            k.publish = Some(ar.new_dnskeys);
            k.active = Some(ar.new_dnskeys);
            if p.standby_ds == StandbyDs::Published {
                k.ds_submit = Some(ar.ds_swap);
            }
        }
        let zo = b.key(zsk_cur)?;
        zo.retire = Some(ar.old_signatures_out);
        zo.remove = Some(ar.old_dnskeys_out);
        zo.gates.push(Gate { ds_of: kn_id, from: ar.old_dnskeys_out });
        // The new algorithm's key chains continue from here.
        ksk_chain(&mut b, p, &iv, kn, ar.ds_swap, None, until)?;
        for t in new_algorithm_zsks(p, &ar, until) {
            let k = b.add(Role::Zsk, ar.to)?;
            let key = b.key(k)?;
            key.publish = t.publish;
            key.active = t.active;
            key.retire = t.retire;
            key.remove = t.remove;
        }
    }

    let unplanned = assign_existing(&mut b.keys, &zone_keys);
    let mut pl = Plan {
        zone: zone.to_string(),
        anchor,
        interval: iv.bundle,
        bundle_interval_seconds: iv.bundle.whole_seconds(),
        keys: b.keys,
        unplanned,
        cds_publish: p.cds_publish,
        cds_window: iv.ds_change,
    };
    // The next standby after an emergency is planned only once generated
    // (the emergency KSR must not wait for it).
    pl.keys.retain(|k| !(k.standby && !k.existing && k.publish.is_some_and(|t| t > anchor)));
    // A standby key made after the anchor is published from the bundle
    // boundary at or before its creation (the bundle it was made in; SKRs
    // signed before it existed simply do not have it).
    for k in pl.keys.iter_mut().filter(|k| k.standby && k.existing) {
        let Some(meta) = zone_keys.iter().find(|m| m.id == k.id) else { continue };
        let made = crate::timeutil::whole_seconds(key_start(meta));
        let ivs = iv.bundle.whole_seconds().max(1);
        let at = anchor + Duration::seconds((made - anchor).whole_seconds().max(0) / ivs * ivs);
        if k.publish.is_some_and(|p| p < at) {
            for f in [&mut k.publish, &mut k.active, &mut k.ds_submit] {
                if let Some(t) = f.as_mut() {
                    *t = (*t).max(at);
                }
            }
        }
    }
    for meta in zone_keys.iter().filter(|m| m.role == Role::Ksk) {
        if let Some(lost) = &meta.lost {
            super::emergency::apply(&mut pl, p, &meta.id, lost)?;
        }
    }
    Ok(pl)
}

/// Gives the plan's slots the ids of the keystore's keys: per role, in order
/// of activation, while the algorithms agree. Returns the ids left over.
fn assign_existing(planned: &mut [PlannedKey], existing: &[&KeyMeta]) -> Vec<String> {
    let mut left = Vec::new();
    let mut renames: Vec<(String, String)> = Vec::new();
    // Standby KSKs fill standby slots only, other keys the other slots.
    for (role, standby) in [(Role::Ksk, false), (Role::Ksk, true), (Role::Zsk, false)] {
        let mut have: Vec<&&KeyMeta> = existing.iter().filter(|k| k.role == role && k.standby == standby).collect();
        have.sort_by(|a, b| (key_start(a), &a.id).cmp(&(key_start(b), &b.id)));
        let mut slots: Vec<&mut PlannedKey> = planned.iter_mut().filter(|k| k.role == role && k.standby == standby).collect();
        slots.sort_by_key(|k| (k.active.or(k.publish), k.id.clone()));
        let mut it = slots.into_iter();
        for k in have {
            match it.next() {
                Some(slot) if slot.algorithm == k.algorithm => {
                    renames.push((slot.id.clone(), k.id.clone()));
                    slot.id = k.id.clone();
                    slot.existing = true;
                    slot.key_tag = Some(k.key_tag);
                }
                _ => left.push(k.id.clone()),
            }
        }
    }
    for k in planned.iter_mut() {
        for g in k.gates.iter_mut() {
            if let Some((_, new)) = renames.iter().find(|(old, _)| *old == g.ds_of) {
                g.ds_of = new.clone();
            }
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{At, Dur};
    use crate::timeutil::parse_instant;

    fn t0() -> T {
        parse_instant("2027-01-01T00:00:00Z").unwrap()
    }

    fn policy() -> Policy {
        let mut p = Policy::default();
        p.ksk.lifetime = Dur(Duration::days(120));
        p
    }

    #[test]
    fn double_ksk_order() {
        let p = policy();
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(200)).unwrap();
        let old = pl.key("new-ksk-1").unwrap();
        let new = pl.key("new-ksk-2").unwrap();
        // new KSK published before the DS swap, old KSK gone after it
        assert!(new.publish.unwrap() < new.ds_submit.unwrap());
        assert_eq!(old.ds_withdraw, new.ds_submit);
        assert!(old.remove.unwrap() > new.ds_submit.unwrap());
        let iv = Intervals::of(&p);
        assert!(new.ds_submit.unwrap() - new.publish.unwrap() >= p.zone_propagation_delay.0 + p.dnskey_ttl.0);
        assert!(old.remove.unwrap() - new.ds_submit.unwrap() >= iv.dreg + p.parent_propagation_delay.0 + p.ds_ttl.0);
        assert_eq!(old.gates[0].ds_of, "new-ksk-2");
    }

    #[test]
    fn double_ds_order_and_rfc5011_refused() {
        let mut p = policy();
        p.ksk_rollover = KskRollover::DoubleDs;
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(200)).unwrap();
        let old = pl.key("new-ksk-1").unwrap();
        let new = pl.key("new-ksk-2").unwrap();
        assert!(new.ds_submit.unwrap() < new.publish.unwrap());
        assert_eq!(old.remove, new.publish);
        assert!(old.ds_withdraw.unwrap() > new.publish.unwrap());
        p.rfc5011 = true;
        assert!(plan("example.", &p, &[], t0(), t0() + Duration::days(200)).is_err());
    }

    #[test]
    fn rfc5011_revokes_and_self_signs() {
        let mut p = policy();
        p.rfc5011 = true;
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(200)).unwrap();
        let old = pl.key("new-ksk-1").unwrap();
        let new = pl.key("new-ksk-2").unwrap();
        let rv = old.revoke.unwrap();
        assert!(rv - new.publish.unwrap() >= RFC5011_HOLD_DOWN);
        assert!(old.remove.unwrap() - rv >= RFC5011_HOLD_DOWN);
        let v = pl.view_at(rv);
        let k = v.dnskeys.iter().find(|k| k.id == old.id).unwrap();
        assert_eq!(k.flags, 257 | FLAG_REVOKE);
        assert!(v.dnskey_signers.contains(&old.id), "revoked key self-signs");
    }

    #[test]
    fn algorithm_rollover_order() {
        let mut p = policy();
        p.ksk.lifetime = Dur(Duration::ZERO);
        p.ksk.algorithm = Algorithm::RsaSha256;
        p.zsk.algorithm = Algorithm::RsaSha256;
        p.algorithm_rollover_to = Some(Algorithm::EcdsaP256Sha256);
        p.algorithm_rollover_start = Some(At(t0() + Duration::days(45)));
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(300)).unwrap();
        let kn = pl.keys.iter().find(|k| k.role == Role::Ksk && k.algorithm == Algorithm::EcdsaP256Sha256).unwrap();
        let zn = pl.keys.iter().find(|k| k.role == Role::Zsk && k.algorithm == Algorithm::EcdsaP256Sha256).unwrap();
        let ko = pl.key("new-ksk-1").unwrap();
        let ar = algorithm_rollover(&p, t0()).unwrap();
        // exactly the configured start, not moved onto the bundle grid
        assert_eq!(ar.start, t0() + Duration::days(45));
        // zone signatures, then DNSKEYs, then DS, then old DNSKEYs out, then old zone signatures out
        assert_eq!(zn.active, Some(ar.start));
        assert!(zn.active < zn.publish);
        assert_eq!(zn.publish, kn.publish);
        // a KSK signs the DNSKEY RRset only while it is in it
        assert_eq!(kn.active, kn.publish);
        assert!(kn.publish < kn.ds_submit);
        assert_eq!(ko.ds_withdraw, kn.ds_submit);
        assert!(ko.remove > kn.ds_submit);
        assert_eq!(ko.retire, ko.remove);
        // the old ZSK leaves the DNSKEY RRset with the old KSK and signs until the end
        let zo: Vec<_> = pl.keys.iter().filter(|k| k.role == Role::Zsk && k.algorithm == Algorithm::RsaSha256).collect();
        let zo = zo.last().unwrap();
        assert_eq!(zo.remove, ko.remove);
        assert_eq!(zo.retire, Some(ar.old_signatures_out));
        assert!(zo.retire > zo.remove);
        // the same ZSK timings as `zsk pregenerate` uses
        let zsks: Vec<KeyTiming> = pl
            .keys
            .iter()
            .filter(|k| k.role == Role::Zsk && k.algorithm == Algorithm::EcdsaP256Sha256)
            .map(|k| KeyTiming { publish: k.publish, active: k.active, retire: k.retire, remove: k.remove, revoke: None })
            .collect();
        assert_eq!(zsks, new_algorithm_zsks(&p, &ar, t0() + Duration::days(300)));
    }

    #[test]
    fn held_plan_keeps_the_old_ksk_until_the_parent_confirms() {
        // double-KSK: after the planned removal the hold variant still
        // publishes and signs with both KSKs; the CDS asks for the new DS.
        let p = policy();
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(200)).unwrap();
        let h = pl.held();
        let old = pl.key("new-ksk-1").unwrap();
        let after = old.remove.unwrap();
        let v = pl.view_at(after);
        let hv = h.view_at(after);
        assert_eq!(v.dnskey_signers, ["new-ksk-2"]);
        assert_eq!(hv.dnskey_signers, ["new-ksk-1", "new-ksk-2"]);
        assert_eq!(hv.cds, CdsSet::Keys(vec!["new-ksk-2".into()]));
        // Before the gate the two variants agree.
        let before = old.gates[0].from - Duration::seconds(1);
        assert_eq!(pl.view_at(before), h.view_at(before));
        // double-DS: the hold variant never publishes the new KSK and keeps both DS.
        let mut p = policy();
        p.ksk_rollover = KskRollover::DoubleDs;
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(200)).unwrap();
        let new = pl.key("new-ksk-2").unwrap();
        let r = new.publish.unwrap();
        let hv = pl.held().view_at(r + Duration::days(30));
        assert_eq!(hv.dnskey_signers, ["new-ksk-1"]);
        assert_eq!(hv.parent_ds, ["new-ksk-1", "new-ksk-2"]);
        assert_eq!(pl.view_at(r).dnskey_signers, ["new-ksk-2"]);
    }

    #[test]
    fn held_plan_holds_a_roll_only_until_the_next_roll_asks_for_its_ds() {
        // Two double-DS rolls: the hold variant of the second holds the
        // second only; it does not bring the first KSK back nor keep the
        // second KSK (the zone's only one since the first roll) out.
        let mut p = policy();
        p.ksk_rollover = KskRollover::DoubleDs;
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(900)).unwrap();
        let third = pl.key("new-ksk-3").expect("a second roll within the horizon");
        let asked = third.ds_submit.unwrap();
        let r2 = third.publish.unwrap();
        let h = pl.held();
        for at in [asked, r2 + Duration::days(30)] {
            let hv = h.view_at(at);
            assert_eq!(hv.dnskey_signers, ["new-ksk-2"], "at {at}");
            assert!(hv.parent_ds.iter().all(|k| k != "new-ksk-1"), "at {at}: {:?}", hv.parent_ds);
        }
        // The first roll is still held before the second asks for its DS.
        let r1 = pl.key("new-ksk-2").unwrap().publish.unwrap();
        assert_eq!(h.view_at(r1 + Duration::days(1)).dnskey_signers, ["new-ksk-1"]);
        assert_eq!(h.view_at(asked - Duration::seconds(1)).dnskey_signers, ["new-ksk-1"]);
    }

    #[test]
    fn parent_hold_lengthens_the_registration_delay() {
        let mut p = policy();
        p.parent_hold = Dur(Duration::days(7));
        let iv = Intervals::of(&p);
        assert_eq!(iv.dreg, Duration::days(7) + p.parent_poll_interval.0 * p.parent_confirmations as i32);
        assert!(iv.ds_change >= iv.dreg + p.ds_ttl.0);
    }

    #[test]
    fn delete_never_mixes() {
        let mut p = policy();
        p.cds_publish = CdsPublish::Delete;
        let pl = plan("example.", &p, &[], t0(), t0() + Duration::days(100)).unwrap();
        for t in pl.bundle_starts(t0(), t0() + Duration::days(100)) {
            assert_eq!(pl.cds_at(t), CdsSet::Delete);
            assert!(pl.parent_ds_at(t).is_empty());
        }
    }
}
