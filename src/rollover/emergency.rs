//! The emergency KSK rollover to the standby key (docs/rollover.md
//! "Standby KSK and emergency rollover"). Pure: no I/O, no clock.
//!
//! With `standby_ksk`, every bundle publishes the standby KSK's DNSKEY and
//! is signed by it too (self-signed: the standby is provably held, and it
//! validates alone the moment its DS is at the parent). When the current
//! KSK is lost or compromised, `kskit rollover emergency` records a [`Lost`]
//! on it; [`apply`] turns that record into the plan (the standby signs alone
//! from the switch, the lost key's DS is withdrawn, its DNSKEY leaves or is
//! revoked), [`times`] says when each step may happen and what the operator
//! must do at the parent, and [`rfc5011_timing`] holds the RFC 5011 rules for
//! a KSK that is a configured trust anchor.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::plan::{Intervals, Plan, PlanError, RFC5011_HOLD_DOWN};
use crate::config::{Policy, StandbyDs};
use crate::keys::keystore::{LossCause, Lost, Role};

type T = OffsetDateTime;

/// The first instant of the grid (`anchor` + whole `interval`s) at or after `t`.
pub fn grid_ceil(anchor: T, interval: Duration, t: T) -> T {
    let iv = interval.whole_seconds().max(1);
    let off = (t - anchor).whole_seconds();
    if off <= 0 {
        return anchor;
    }
    anchor + Duration::seconds((off + iv - 1) / iv * iv)
}

/// RFC 5011 §2.3 active refresh: a resolver re-queries a trust point's
/// DNSKEY RRset every MAX(1 hour, MIN(15 days, ½ OrigTTL, ½ RRSIG validity)).
pub fn rfc5011_query_interval(p: &Policy) -> Duration {
    let half = |d: Duration| Duration::seconds(d.whole_seconds() / 2);
    Duration::hours(1).max(Duration::days(15).min(half(p.dnskey_ttl.0)).min(half(p.signature_validity.0)))
}

/// What RFC 5011 means for an emergency roll when the zone's KSK is a
/// configured trust anchor (policy `rfc5011`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rfc5011Timing {
    /// When the standby entered the DNSKEY RRset.
    #[serde(with = "time::serde::rfc3339")]
    pub standby_published: T,
    /// The Add Hold-Down (RFC 5011 §2.4.1): max(30 days, DNSKEY TTL).
    pub add_hold_down_seconds: i64,
    /// From when every RFC 5011 resolver trusts the standby: publication +
    /// zone propagation + one active refresh interval (§2.3: the first
    /// query that sees it) + the Add Hold-Down.
    #[serde(with = "time::serde::rfc3339")]
    pub standby_trusted: T,
    /// The switch is at or after `standby_trusted`: no resolver is left
    /// without a trust anchor.
    pub pre_published_long_enough: bool,
    /// The old key gets the REVOKE bit (self-signed, §2.1) at the switch:
    /// only a key still held can sign its own revocation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoke: Option<T>,
    /// A revoked key stays published for the Remove Hold-Down (§2.4.2):
    /// Dprp + max(30 days, DNSKEY TTL), rounded up to whole bundles.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_removal: Option<T>,
}

/// The RFC 5011 timing of an emergency switch at `switch` to a standby
/// published at `standby_published`, for a key lost or compromised (`cause`).
pub fn rfc5011_timing(p: &Policy, standby_published: T, switch: T, cause: LossCause) -> Rfc5011Timing {
    let hold = RFC5011_HOLD_DOWN.max(p.dnskey_ttl.0);
    let standby_trusted = standby_published + p.zone_propagation_delay.0 + rfc5011_query_interval(p) + hold;
    let revocable = cause == LossCause::Compromised;
    Rfc5011Timing {
        standby_published,
        add_hold_down_seconds: hold.whole_seconds(),
        standby_trusted,
        pre_published_long_enough: switch >= standby_trusted,
        revoke: revocable.then_some(switch),
        revoked_removal: revocable.then(|| switch + Intervals::of(p).revoked_published),
    }
}

/// Applies the emergency record `lost` of KSK `lost_id` to plan `pl`.
///
/// Before the switch is known (the standby's DS still awaited at the
/// parent) the plan only asks for the standby's DS from the declaration.
/// From the switch on, the standby is the current KSK (signing alone
/// with the lost key gone); the lost key stops signing, its DS is
/// withdrawn and its DNSKEY leaves — or, with `rfc5011` and a key still
/// held (compromised), it is revoked and self-signs for the Remove
/// Hold-Down. Regular KSK slots still to be generated that would have
/// followed the lost key from the switch on are dropped.
pub fn apply(pl: &mut Plan, p: &Policy, lost_id: &str, lost: &Lost) -> Result<(), PlanError> {
    let Some(si) = pl.keys.iter().position(|k| k.id == lost.standby && k.role == Role::Ksk) else {
        return Err(PlanError::Keys(format!(
            "the emergency of KSK {lost_id} names standby KSK {}, which the plan does not hold: it must be in the keystore as a standby (key generate --standby) with standby_ksk = true",
            lost.standby
        )));
    };
    let s = &mut pl.keys[si];
    s.ds_submit = Some(s.ds_submit.map_or(lost.declared, |d| d.min(lost.declared)));
    let Some(e) = lost.switch else { return Ok(()) };
    s.standby = false;
    let Some(li) = pl.keys.iter().position(|k| k.id == lost_id) else {
        return Err(PlanError::Keys(format!("the lost KSK {lost_id} has no place in the plan")));
    };
    let iv = Intervals::of(p);
    let l = &mut pl.keys[li];
    for f in [&mut l.publish, &mut l.active, &mut l.retire, &mut l.remove, &mut l.revoke, &mut l.ds_submit, &mut l.ds_withdraw] {
        if f.is_some_and(|t| t >= e) {
            *f = None;
        }
    }
    l.gates.retain(|g| g.from < e);
    if l.active.is_some() && l.retire.is_none() {
        l.retire = Some(e);
    }
    if l.ds_submit.is_some() && l.ds_withdraw.is_none() {
        l.ds_withdraw = Some(e);
    }
    if l.publish.is_some() && l.remove.is_none() {
        if p.rfc5011 && lost.cause == LossCause::Compromised {
            l.revoke = Some(e);
            l.remove = Some(e + iv.revoked_published);
        } else {
            l.remove = Some(e);
        }
    }
    // The standby's own successors (the ordinary rolls the plan continues
    // with one KSK lifetime after the switch) stay.
    let mut successors = vec![lost.standby.clone()];
    loop {
        let more: Vec<String> =
            pl.keys.iter().filter(|k| successors.contains(&k.id)).flat_map(|k| k.gates.iter().map(|g| g.ds_of.clone())).filter(|id| !successors.contains(id)).collect();
        if more.is_empty() {
            break;
        }
        successors.extend(more);
    }
    let dropped: Vec<String> = pl
        .keys
        .iter()
        .filter(|k| k.role == Role::Ksk && !k.existing && !k.standby && !successors.contains(&k.id) && k.publish.or(k.ds_submit).is_some_and(|t| t >= e))
        .map(|k| k.id.clone())
        .collect();
    pl.keys.retain(|k| !dropped.contains(&k.id));
    // Nothing waits for the lost key's DS any more, and the lost key's own
    // departure at the switch waits for nothing (the switch already waited
    // for the standby's DS): without these gates the hold variant
    // (`Plan::held`, docs/rollover.md "Slow parents") of an emergency KSR
    // neither keeps the lost key (which cannot sign) nor brings back a key
    // that waited for its DS. tests/soak_years.rs found it: the lost key
    // had come in by a double-DS roll, gated on its own DS.
    for k in pl.keys.iter_mut() {
        k.gates.retain(|g| !dropped.contains(&g.ds_of) && g.ds_of != lost_id);
        if k.id == lost_id {
            k.gates.clear();
        }
    }
    Ok(())
}

/// What the operator must do at the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParentAction {
    /// `add` or `remove`.
    pub action: &'static str,
    /// The KSK (keystore id) whose DS it is.
    pub key: String,
    /// Not before this time.
    #[serde(with = "time::serde::rfc3339")]
    pub earliest: T,
    /// How: by hand at the registrar, or through the CDS of the bundles.
    pub how: String,
}

/// The times of an emergency roll, from what is known now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyTimes {
    /// `waiting-for-parent` (the standby's DS is not confirmed at every
    /// parent server yet) or `ready` (the switch is fixed).
    pub state: &'static str,
    /// The switch: the first bundle boundary from which the standby signs
    /// alone; the emergency KSR starts here. While waiting: the earliest
    /// it can be if the parent acts within `parent_hold`.
    #[serde(with = "time::serde::rfc3339")]
    pub switch: T,
    pub parent: Vec<ParentAction>,
    /// The lost key's DNSKEY leaves the DNSKEY RRset (after its revocation
    /// period when it is revoked).
    #[serde(with = "time::serde::rfc3339")]
    pub dnskey_removed: T,
    /// From then no resolver can hold a DS or DNSKEY RRset naming the lost key.
    #[serde(with = "time::serde::rfc3339")]
    pub free_of_old_key: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfc5011: Option<Rfc5011Timing>,
}

/// What [`times`] needs to know.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub policy: &'a Policy,
    pub lost_key: &'a str,
    pub standby_key: &'a str,
    pub cause: LossCause,
    pub declared: T,
    pub now: T,
    /// The plan's bundle grid.
    pub anchor: T,
    pub interval: Duration,
    /// When the standby was first published.
    pub standby_published: T,
    /// When the standby's DS was confirmed at every parent server (`None`: not yet).
    pub standby_ds_confirmed: Option<T>,
    /// The DS TTL to wait for: the larger of the policy's and the largest observed.
    pub ds_ttl: Duration,
}

/// The fewest safe steps from here. The standby's DS must be in every DS
/// RRset a resolver may hold before the standby signs alone: confirmed at
/// every parent server at time c, the switch is the first bundle boundary
/// at or after max(now, c + DS TTL + parent propagation delay) (RFC 7583
/// §3.3.3, as for a double-DS roll whose new DS went in long ago). While
/// not confirmed, the switch is estimated from the declaration plus the
/// registration delay (Dreg = parent_hold + polls) and the same waits.
pub fn times(s: &Situation<'_>) -> EmergencyTimes {
    let p = s.policy;
    let iv = Intervals::of(p);
    let wait = s.ds_ttl.max(p.ds_ttl.0) + p.parent_propagation_delay.0;
    let (state, switch) = match s.standby_ds_confirmed {
        Some(c) => ("ready", grid_ceil(s.anchor, s.interval, s.now.max(c + wait))),
        None => ("waiting-for-parent", grid_ceil(s.anchor, s.interval, s.now.max(s.declared + iv.dreg + wait))),
    };
    let mut parent = Vec::new();
    if s.standby_ds_confirmed.is_none() {
        let how = if p.standby_ds == StandbyDs::Withheld {
            "by hand at the registrar now: the bundles in force do not carry its CDS, and no bundle naming it can be signed without the lost key"
        } else {
            "by hand at the registrar now: the standby's DS should have been at the parent since it was published (standby_ds = \"published\") but is not at every server"
        };
        parent.push(ParentAction { action: "add", key: s.standby_key.to_string(), earliest: s.now, how: how.into() });
    }
    let remove_how = if p.cds_publish == crate::config::CdsPublish::None {
        "by hand at the registrar once the standby's DS is at every parent server"
    } else {
        "through the CDS of the emergency bundles (they name the standby only), or by hand at the registrar from then"
    };
    let remove_at = match s.standby_ds_confirmed {
        Some(c) if p.cds_publish == crate::config::CdsPublish::None => s.now.max(c),
        _ => switch,
    };
    parent.push(ParentAction { action: "remove", key: s.lost_key.to_string(), earliest: remove_at, how: remove_how.into() });
    let rfc = p.rfc5011.then(|| rfc5011_timing(p, s.standby_published, switch, s.cause));
    let dnskey_removed = rfc.as_ref().and_then(|r| r.revoked_removal).unwrap_or(switch);
    let ds_gone = remove_at + iv.dreg + p.parent_propagation_delay.0 + s.ds_ttl.max(p.ds_ttl.0);
    let dnskey_gone = dnskey_removed + p.zone_propagation_delay.0 + p.dnskey_ttl.0;
    EmergencyTimes { state, switch, parent, dnskey_removed, free_of_old_key: ds_gone.max(dnskey_gone), rfc5011: rfc }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::keys::keystore::KeyMeta;
    use crate::timeutil::parse_instant;

    fn t0() -> T {
        parse_instant("2027-01-01T00:00:00Z").unwrap()
    }

    fn policy() -> Policy {
        Policy { standby_ksk: true, ..Policy::default() }
    }

    fn situation(p: &Policy, confirmed: Option<T>, now: T) -> Situation<'_> {
        Situation {
            policy: p,
            lost_key: "old",
            standby_key: "standby",
            cause: LossCause::Lost,
            declared: now,
            now,
            anchor: t0(),
            interval: p.bundle_interval.0,
            standby_published: t0(),
            standby_ds_confirmed: confirmed,
            ds_ttl: p.ds_ttl.0,
        }
    }

    #[test]
    fn rfc5011_add_hold_down_is_30_days_plus_refresh() {
        let p = Policy { rfc5011: true, ..policy() };
        // dnskey_ttl 1h: the active refresh interval is 1 hour (the floor).
        assert_eq!(rfc5011_query_interval(&p), Duration::hours(1));
        let r = rfc5011_timing(&p, t0(), t0() + Duration::days(10), LossCause::Lost);
        assert_eq!(r.add_hold_down_seconds, Duration::days(30).whole_seconds());
        assert_eq!(r.standby_trusted, t0() + Duration::days(30) + Duration::hours(2));
        assert!(!r.pre_published_long_enough, "10 days is inside the 30-day Add Hold-Down");
        assert_eq!(r.revoke, None, "a lost key cannot sign its revocation");
        let r = rfc5011_timing(&p, t0(), t0() + Duration::days(40), LossCause::Compromised);
        assert!(r.pre_published_long_enough);
        assert_eq!(r.revoke, Some(t0() + Duration::days(40)));
        // Remove Hold-Down: Dprp + 30 days, on whole bundles (10 days): 40 days.
        assert_eq!(r.revoked_removal, Some(t0() + Duration::days(80)));
        // A long DNSKEY TTL lengthens both the hold-down and the refresh (capped at 15 days).
        let p = Policy { dnskey_ttl: Dur(Duration::days(40)), ..p };
        // ½ TTL = 20 days, capped by 15 days and by ½ signature validity (21 days): 10.5 days.
        assert_eq!(rfc5011_query_interval(&p), Duration::hours(252));
        assert_eq!(rfc5011_timing(&p, t0(), t0(), LossCause::Lost).add_hold_down_seconds, Duration::days(40).whole_seconds());
    }

    #[test]
    fn published_standby_switches_at_the_next_bundle() {
        let p = policy();
        let now = t0() + Duration::days(95) + Duration::hours(3);
        let t = times(&situation(&p, Some(t0() + Duration::days(3)), now));
        assert_eq!(t.state, "ready");
        assert_eq!(t.switch, t0() + Duration::days(100));
        assert_eq!(t.parent.len(), 1);
        assert_eq!((t.parent[0].action, t.parent[0].earliest), ("remove", t.switch));
        assert_eq!(t.dnskey_removed, t.switch);
        assert!(t.free_of_old_key >= t.switch + p.ds_ttl.0);
    }

    #[test]
    fn withheld_standby_waits_for_the_parent() {
        let p = Policy { standby_ds: StandbyDs::Withheld, ..policy() };
        let now = t0() + Duration::days(95);
        let t = times(&situation(&p, None, now));
        assert_eq!(t.state, "waiting-for-parent");
        assert_eq!(t.parent[0].action, "add");
        assert_eq!(t.parent[0].earliest, now);
        let iv = Intervals::of(&p);
        assert!(t.switch >= now + iv.dreg + p.ds_ttl.0 + p.parent_propagation_delay.0);
        // Confirmed 5 days later: DS TTL (1 day, or the larger one observed) + DprpP after it.
        let c = now + Duration::days(5);
        let mut s = situation(&p, Some(c), c);
        s.declared = now;
        s.ds_ttl = Duration::days(2);
        let t = times(&s);
        assert_eq!(t.state, "ready");
        assert_eq!(t.switch, grid_ceil(t0(), p.bundle_interval.0, c + Duration::days(2) + Duration::hours(1)));
    }

    fn ksk(id: &str, standby: bool, created: T) -> KeyMeta {
        use crate::backends::Signer;
        let key = crate::backends::soft::generate(crate::dnssec::Algorithm::EcdsaP256Sha256, None, 257).unwrap();
        let dnskey = key.dnskey();
        KeyMeta {
            id: id.into(),
            zone: "example.".into(),
            role: Role::Ksk,
            algorithm: crate::dnssec::Algorithm::EcdsaP256Sha256,
            bits: 256,
            key_tag: dnskey.key_tag(),
            flags: 257,
            public_key: data_encoding::BASE64.encode(&dnskey.public_key),
            locator: "file:x".into(),
            created,
            timing: Default::default(),
            label: None,
            standby,
            lost: None,
        }
    }

    #[test]
    fn the_plan_publishes_the_standby_and_switches_to_it() {
        let p = policy();
        let mut keys = vec![ksk("old", false, t0()), ksk("standby", true, t0())];
        let until = t0() + Duration::days(300);
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        let v = pl.view_at(t0() + Duration::days(50));
        assert!(v.dnskeys.iter().any(|k| k.id == "standby" && k.flags == 257));
        assert_eq!(v.dnskey_signers, ["old", "standby"], "the standby self-signs");
        assert_eq!(v.parent_ds, ["old", "standby"]);
        // withheld: published and signing, DS not asked for
        let pw = Policy { standby_ds: StandbyDs::Withheld, ..policy() };
        let plw = super::super::plan::plan("example.", &pw, &keys, t0(), until).unwrap();
        assert_eq!(plw.view_at(t0() + Duration::days(50)).parent_ds, ["old"]);
        // The emergency: switch at day 100.
        let e = t0() + Duration::days(100);
        keys[0].lost = Some(Lost { cause: LossCause::Lost, declared: e - Duration::days(2), standby: "standby".into(), switch: Some(e) });
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        let before = pl.view_at(e - Duration::days(10));
        assert_eq!(before.dnskey_signers, ["old", "standby"]);
        let after = pl.view_at(e);
        assert_eq!(after.dnskey_signers, ["standby"]);
        assert!(!after.dnskeys.iter().any(|k| k.id == "old"));
        assert_eq!(after.parent_ds, ["standby"]);
        assert_eq!(after.cds, super::super::plan::CdsSet::Keys(vec!["standby".into()]));
        // the next standby is planned from the switch once it is generated
        assert!(!pl.keys.iter().any(|k| k.standby && !k.existing));
        keys.push(ksk("standby2", true, e - Duration::days(1)));
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        assert_eq!(pl.view_at(e).dnskey_signers, ["standby", "standby2"]);
        keys.pop();
        // With RFC 5011 and a compromised (still held) key: revoked, self-signing, then removed.
        let p5 = Policy { rfc5011: true, ..policy() };
        keys[0].lost.as_mut().unwrap().cause = LossCause::Compromised;
        let pl = super::super::plan::plan("example.", &p5, &keys, t0(), until).unwrap();
        let v = pl.view_at(e);
        assert!(v.dnskeys.iter().any(|k| k.id == "old" && k.flags == 257 | crate::dnssec::FLAG_REVOKE));
        assert_eq!(v.dnskey_signers, ["old", "standby"]);
        assert_eq!(v.parent_ds, ["standby"]);
        assert!(!pl.view_at(e + Intervals::of(&p5).revoked_published).dnskeys.iter().any(|k| k.id == "old"));
    }

    #[test]
    fn after_an_emergency_the_next_ordinary_roll_counts_from_the_switch() {
        let mut p = policy();
        p.ksk.lifetime = Dur(Duration::days(120));
        let mut keys = vec![ksk("old", false, t0()), ksk("standby", true, t0())];
        let until = t0() + Duration::days(400);
        // Without an emergency the roll comes one lifetime after the old key's activation.
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        assert_eq!(pl.key("old").unwrap().ds_withdraw, Some(t0() + Duration::days(120)));
        // The emergency at day 100: the lost key's roll at day 120 is gone,
        // and the standby, current from the switch, rolls at day 220.
        let e = t0() + Duration::days(100);
        keys[0].lost = Some(Lost { cause: LossCause::Lost, declared: e - Duration::days(2), standby: "standby".into(), switch: Some(e) });
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        let rolls: Vec<T> = pl.keys.iter().filter(|k| k.role == Role::Ksk && !k.standby && !k.existing).filter_map(|k| k.ds_submit).collect();
        assert_eq!(rolls.first(), Some(&(e + Duration::days(120))), "the next roll: one KSK lifetime after the switch: {rolls:?}");
        assert!(!rolls.contains(&(t0() + Duration::days(120))), "not from the lost key's activation: {rolls:?}");
        let s = pl.key("standby").unwrap();
        assert_eq!(s.ds_withdraw, Some(e + Duration::days(120)));
        assert_eq!(pl.view_at(e + Duration::days(120) - Duration::days(20)).dnskey_signers, ["standby"]);
        let successor = pl.keys.iter().find(|k| k.ds_submit == Some(e + Duration::days(120))).unwrap();
        assert_eq!(pl.view_at(e + Duration::days(200)).dnskey_signers, std::slice::from_ref(&successor.id));
    }

    #[test]
    fn the_hold_variant_after_an_emergency_has_neither_the_lost_key_nor_its_predecessor() {
        // "k2" came in by a double-DS roll (gated on its own DS; "k1" left
        // gated on it) and is lost after the roll: from the switch the hold
        // plan is the primary's, the standby alone.
        let mut p = Policy { ksk_rollover: crate::config::KskRollover::DoubleDs, ..policy() };
        p.ksk.lifetime = Dur(Duration::days(120));
        let mut keys = vec![ksk("k1", false, t0()), ksk("k2", false, t0()), ksk("standby", true, t0())];
        let until = t0() + Duration::days(400);
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        let r = pl.key("k2").and_then(|k| k.publish).expect("k2 comes in by the roll");
        let e = r + Duration::days(40);
        keys[1].lost = Some(Lost { cause: LossCause::Lost, declared: e - Duration::days(2), standby: "standby".into(), switch: Some(e) });
        let pl = super::super::plan::plan("example.", &p, &keys, t0(), until).unwrap();
        let held = pl.held();
        for at in [e, e + Duration::days(30)] {
            let v = held.view_at(at);
            assert_eq!(v.dnskey_signers, ["standby"], "at {at}");
            assert!(!v.dnskeys.iter().any(|k| k.id == "k1" || k.id == "k2"), "at {at}: {:?}", v.dnskeys);
            assert_eq!(v, pl.view_at(at));
        }
        // Later the standby's own successor roll (one lifetime after the
        // switch) is under way, and the hold variant rightly keeps the
        // standby until the successor's DS is seen; the lost keys never return.
        let v = held.view_at(e + Duration::days(200));
        assert!(!v.dnskeys.iter().any(|k| k.id == "k1" || k.id == "k2"), "{:?}", v.dnskeys);
        assert!(v.dnskey_signers.contains(&"standby".to_string()), "{:?}", v.dnskey_signers);
    }
}
