//! The SKR timeline of a zone: every imported SKR, and the rule that says
//! which bundle is in force at a time across all of them (docs/handoff.md
//! "The SKR timeline"). Pure: the SKRs come in parsed; storage is
//! `crate::keys::skr_store`.
//!
//! The rule: the SKRs are ordered by their first bundle's inception (equal
//! first inceptions: the later import comes later). The SKR that governs
//! time T is the last one whose first inception is at or before T: a newer
//! SKR's bundles take over from its first inception, and an older SKR's
//! bundles that start after it are never used. Within the governing SKR the
//! bundle in force is the one of [`bundle_in_force`] (the newest started
//! bundle whose validity contains T, as BIND's `dns_skr_lookup` and Knot's
//! offline records do). Importing the next quarter's SKR weeks ahead thus
//! changes nothing until its first bundle starts; re-importing a corrected
//! SKR for the same period replaces the earlier one.
//!
//! Slow parents (docs/rollover.md): an SKR imported as a *hold* variant
//! never governs; it offers, for bundles of a primary SKR (same id and
//! inception), a variant that keeps the old KSK. A primary bundle whose
//! records differ from its hold variant is in force only when the parent
//! state ([`Timeline::set_parent`]) shows every KSK it publishes confirmed
//! at every parent server for long enough
//! ([`crate::rollover::hold::Established::primary_usable`]); otherwise the
//! hold variant is. Without any parent state the hold variant is used.

use time::OffsetDateTime;

use crate::export::{bundle_end, bundle_in_force, ExportError};
use crate::skr::model::{ResponseBundle, Skr};
use crate::timeutil::format_rfc3339;

/// One imported SKR in the timeline.
#[derive(Debug, Clone)]
pub struct TimelineSkr {
    /// Where it is stored (a file name or path, for messages).
    pub name: String,
    /// Import order: larger is later.
    pub seq: u64,
    pub skr: Skr,
    /// A hold variant (`skr import --hold`): never governs, see the module doc.
    pub hold: bool,
}

impl TimelineSkr {
    /// The inception of its first bundle (`None` without bundles).
    pub fn first_inception(&self) -> Option<OffsetDateTime> {
        self.skr.bundles.iter().map(|b| b.inception).min()
    }
}

/// Why nothing is in force at a time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimelineError {
    #[error("no SKR imported for {zone}")]
    Empty { zone: String },
    #[error("{at} is before the first bundle of any SKR imported for {zone} (the earliest starts at {first}): its signatures are not valid yet")]
    BeforeFirst { zone: String, at: String, first: String },
    #[error("SKR {name}: {source}")]
    Skr { name: String, source: ExportError },
}

/// Every imported SKR of a zone, in timeline order.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub zone: String,
    skrs: Vec<TimelineSkr>,
    /// Hold variants, latest import first.
    holds: Vec<TimelineSkr>,
    /// What the ZSK side knows of the parent (`None`: nothing, hold variants win).
    parent: Option<crate::rollover::hold::Established>,
}

/// The bundle in force at a time and the SKR it comes from.
#[derive(Debug, Clone, Copy)]
pub struct InForce<'a> {
    pub skr: &'a TimelineSkr,
    pub bundle: &'a ResponseBundle,
}

impl Timeline {
    /// The timeline of `skrs` (any order; SKRs without bundles are left out).
    pub fn new(zone: &str, skrs: Vec<TimelineSkr>) -> Timeline {
        let (mut holds, skrs): (Vec<TimelineSkr>, Vec<TimelineSkr>) = skrs.into_iter().filter(|s| s.first_inception().is_some()).partition(|s| s.hold);
        let mut skrs = skrs;
        skrs.sort_by_key(|s| (s.first_inception(), s.seq));
        holds.sort_by_key(|s| std::cmp::Reverse(s.seq));
        Timeline { zone: zone.to_string(), skrs, holds, parent: None }
    }

    /// Sets what the ZSK side knows of the parent, which decides between a
    /// bundle's primary and hold variants.
    pub fn set_parent(&mut self, parent: crate::rollover::hold::Established) {
        self.parent = Some(parent);
    }

    /// The hold variants, latest import first.
    pub fn holds(&self) -> &[TimelineSkr] {
        &self.holds
    }

    /// The hold variant of primary bundle `b` (same id and inception), if imported.
    pub fn hold_of(&self, b: &ResponseBundle) -> Option<InForce<'_>> {
        self.holds.iter().find_map(|s| s.skr.bundles.iter().find(|h| h.id == b.id && h.inception == b.inception).map(|h| InForce { skr: s, bundle: h }))
    }

    /// The variant of `x` (a primary bundle) in force at `at`: the primary
    /// one unless a hold variant with other records exists and the parent
    /// state does not allow the primary yet.
    fn choose<'a>(&'a self, x: InForce<'a>, at: OffsetDateTime) -> InForce<'a> {
        match self.hold_of(x.bundle) {
            Some(h) if !crate::rollover::hold::same_records(x.bundle, h.bundle) => {
                if self.parent.as_ref().is_some_and(|p| p.primary_usable(x.bundle, at)) {
                    x
                } else {
                    h
                }
            }
            _ => x,
        }
    }

    /// The primary bundle at `at` (whatever the parent shows) and, when it
    /// has a hold variant with other records, that variant.
    pub fn variants_at(&self, at: OffsetDateTime) -> Result<(InForce<'_>, Option<InForce<'_>>), TimelineError> {
        let p = self.primary_in_force(at)?;
        let h = self.hold_of(p.bundle).filter(|h| !crate::rollover::hold::same_records(p.bundle, h.bundle));
        Ok((p, h))
    }

    /// The SKRs in timeline order.
    pub fn skrs(&self) -> &[TimelineSkr] {
        &self.skrs
    }

    /// The index of the SKR that governs `at` (see the module doc).
    fn governing(&self, at: OffsetDateTime) -> Option<usize> {
        self.skrs.iter().rposition(|s| s.first_inception().is_some_and(|f| f <= at))
    }

    /// The SKR governing `at`, if any.
    pub fn governing_skr(&self, at: OffsetDateTime) -> Option<&TimelineSkr> {
        self.governing(at).map(|i| &self.skrs[i])
    }

    /// The first inception of the SKR after `i`: where SKR `i` stops governing.
    fn next_start(&self, i: usize) -> Option<OffsetDateTime> {
        self.skrs.get(i + 1).and_then(|s| s.first_inception())
    }

    /// The bundle in force at `at` across the timeline, or why there is
    /// none (before every SKR, expired, a gap): never an expired or
    /// not-yet-valid bundle.
    pub fn in_force(&self, at: OffsetDateTime) -> Result<InForce<'_>, TimelineError> {
        let p = self.primary_in_force(at)?;
        Ok(self.choose(p, at))
    }

    /// [`Timeline::in_force`] among the primary SKRs only.
    fn primary_in_force(&self, at: OffsetDateTime) -> Result<InForce<'_>, TimelineError> {
        let Some(first) = self.skrs.first() else {
            return Err(TimelineError::Empty { zone: self.zone.clone() });
        };
        let Some(i) = self.governing(at) else {
            return Err(TimelineError::BeforeFirst {
                zone: self.zone.clone(),
                at: format_rfc3339(at),
                first: first.first_inception().map(format_rfc3339).unwrap_or_default(),
            });
        };
        let s = &self.skrs[i];
        let bundle = bundle_in_force(&s.skr, at).map_err(|source| TimelineError::Skr { name: s.name.clone(), source })?;
        Ok(InForce { skr: s, bundle })
    }

    /// Every bundle that the rule can put in force, in inception order:
    /// each SKR's bundles before the next SKR's first inception.
    pub fn merged(&self) -> Vec<InForce<'_>> {
        let mut out = Vec::new();
        for (i, s) in self.skrs.iter().enumerate() {
            let stop = self.next_start(i);
            for b in &s.skr.bundles {
                if stop.is_none_or(|t| b.inception < t) {
                    out.push(InForce { skr: s, bundle: b });
                }
            }
        }
        out.sort_by_key(|x| x.bundle.inception);
        out.into_iter().map(|x| self.choose(x, x.bundle.inception)).collect()
    }

    /// The bundles from the one in force at `at` on, across the timeline:
    /// what the online signer needs (Knot's and BIND's SKR import).
    pub fn from_in_force(&self, at: OffsetDateTime) -> Result<Vec<InForce<'_>>, TimelineError> {
        let now = self.in_force(at)?;
        Ok(self
            .merged()
            .into_iter()
            .filter(|x| x.bundle.inception >= now.bundle.inception)
            .map(|x| if x.bundle.inception == now.bundle.inception { now } else { x })
            .collect())
    }

    /// The bundles of [`Timeline::from_in_force`] as one SKR in the text
    /// format's model (each converted from its own SKR's format): what
    /// `export --to knot|bind` writes.
    pub fn text_skr_from(&self, at: OffsetDateTime) -> Result<Skr, TimelineError> {
        let ahead = self.from_in_force(at)?;
        let mut bundles = Vec::with_capacity(ahead.len());
        for x in &ahead {
            let one = Skr { bundles: vec![x.bundle.clone()], ..x.skr.skr.clone() };
            bundles.extend(crate::export::to_text_model(&one).bundles);
        }
        let domain = ahead.first().map(|x| x.skr.skr.domain.clone()).unwrap_or_else(crate::dnssec::Name::root);
        let mut out = crate::export::to_text_model(&Skr {
            format: crate::ksr::model::Format::Text,
            id: String::new(),
            domain,
            serial: None,
            ksk_policy: None,
            zsk_policy: None,
            bundles: vec![],
            generated: None,
            layout: Default::default(),
        });
        out.bundles = bundles;
        Ok(out)
    }

    /// The end of coverage from `now`: the first time at or after `now`
    /// when no bundle is in force (a gap between SKRs, or the end of the
    /// last one). `Err` when nothing is in force at `now`.
    pub fn coverage_end(&self, now: OffsetDateTime) -> Result<OffsetDateTime, TimelineError> {
        self.in_force(now)?;
        let mut ends = Vec::new();
        for x in self.merged() {
            let e = bundle_end(&x.skr.skr, x.bundle).map_err(|source| TimelineError::Skr { name: x.skr.name.clone(), source })?;
            if e > now {
                ends.push(e);
            }
        }
        ends.sort();
        ends.dedup();
        // Coverage can only stop where a bundle ends (a new SKR starts with
        // a bundle in force at its first inception).
        for e in &ends {
            if self.in_force(*e).is_err() {
                return Ok(*e);
            }
        }
        Ok(ends.last().copied().unwrap_or(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::parse_name;
    use crate::ksr::model::Format;
    use crate::timeutil::parse_instant;

    fn t(s: &str) -> OffsetDateTime {
        parse_instant(s).unwrap()
    }

    fn bundle(id: &str, inc: &str, exp: &str) -> ResponseBundle {
        ResponseBundle {
            id: id.into(),
            inception: t(inc),
            expiration: Some(t(exp)),
            keys: vec![],
            cds: vec![],
            cds_ttl: 0,
            cdnskey: vec![],
            cdnskey_ttl: 0,
            signatures: vec![],
        }
    }

    fn skr(name: &str, seq: u64, bundles: Vec<ResponseBundle>) -> TimelineSkr {
        TimelineSkr {
            name: name.into(),
            seq,
            hold: false,
            skr: Skr {
                format: Format::Iana,
                id: name.into(),
                domain: parse_name("example.com.").unwrap(),
                serial: None,
                ksk_policy: None,
                zsk_policy: None,
                bundles,
                generated: None,
                layout: Default::default(),
            },
        }
    }

    /// Q1: bundles every 10 days from Jan 1, each valid 21 days; Q2 from Apr 1.
    fn q1() -> TimelineSkr {
        skr("q1", 1, vec![bundle("a1", "2027-01-01T00:00:00Z", "2027-01-22T00:00:00Z"), bundle("a2", "2027-03-22T00:00:00Z", "2027-04-12T00:00:00Z"), bundle("a3", "2027-04-01T00:00:00Z", "2027-04-22T00:00:00Z")])
    }
    fn q2() -> TimelineSkr {
        skr("q2", 2, vec![bundle("b1", "2027-04-01T00:00:00Z", "2027-04-22T00:00:00Z"), bundle("b2", "2027-04-11T00:00:00Z", "2027-05-02T00:00:00Z")])
    }

    #[test]
    fn the_next_period_imported_ahead_changes_nothing_until_it_starts() {
        let tl = Timeline::new("example.com.", vec![q2(), q1()]);
        // Q1 governs until Q2's first inception, whatever the import order.
        assert_eq!(tl.in_force(t("2027-03-31T23:59:59Z")).unwrap().bundle.id, "a2");
        // From Q2's first inception, Q2's bundles take over (not Q1's a3, which starts at the same time).
        let x = tl.in_force(t("2027-04-01T00:00:00Z")).unwrap();
        assert_eq!((x.skr.name.as_str(), x.bundle.id.as_str()), ("q2", "b1"));
        assert_eq!(tl.in_force(t("2027-04-20T00:00:00Z")).unwrap().bundle.id, "b2");
        assert!(matches!(tl.in_force(t("2026-12-31T00:00:00Z")), Err(TimelineError::BeforeFirst { .. })));
        assert!(matches!(tl.in_force(t("2027-05-02T00:00:00Z")), Err(TimelineError::Skr { .. })));
        let merged: Vec<&str> = tl.merged().iter().map(|x| x.bundle.id.as_str()).collect();
        assert_eq!(merged, ["a1", "a2", "b1", "b2"]);
        let from: Vec<&str> = tl.from_in_force(t("2027-03-25T00:00:00Z")).unwrap().iter().map(|x| x.bundle.id.as_str()).collect();
        assert_eq!(from, ["a2", "b1", "b2"]);
    }

    #[test]
    fn coverage_runs_across_skrs_and_stops_at_a_gap() {
        let tl = Timeline::new("example.com.", vec![q1(), q2()]);
        assert_eq!(tl.coverage_end(t("2027-03-25T00:00:00Z")).unwrap(), t("2027-05-02T00:00:00Z"));
        // Q1 alone: a gap from Jan 22 to Mar 22.
        let tl1 = Timeline::new("example.com.", vec![q1()]);
        assert_eq!(tl1.coverage_end(t("2027-01-05T00:00:00Z")).unwrap(), t("2027-01-22T00:00:00Z"));
        assert_eq!(tl1.coverage_end(t("2027-03-25T00:00:00Z")).unwrap(), t("2027-04-22T00:00:00Z"));
        assert!(tl1.coverage_end(t("2027-02-01T00:00:00Z")).is_err());
        assert!(matches!(Timeline::new("x.", vec![]).in_force(t("2027-01-01T00:00:00Z")), Err(TimelineError::Empty { .. })));
    }

    #[test]
    fn a_later_import_for_the_same_period_replaces_the_earlier() {
        let mut again = q1();
        again.name = "q1-resigned".into();
        again.seq = 3;
        again.skr.bundles[0].id = "r1".into();
        let tl = Timeline::new("example.com.", vec![again, q1()]);
        let x = tl.in_force(t("2027-01-02T00:00:00Z")).unwrap();
        assert_eq!((x.skr.name.as_str(), x.bundle.id.as_str()), ("q1-resigned", "r1"));
    }

    #[test]
    fn a_hold_variant_stays_in_force_until_the_parent_confirms_the_new_ds() {
        use crate::ksr::model::BundleKey;
        use crate::rollover::hold::{key_id, Established};
        let k = |seed: u8| crate::dnssec::Dnskey { flags: 257, protocol: 3, algorithm: 13, public_key: vec![seed; 64] };
        let (old, new) = (k(1), k(2));
        let with = |mut b: ResponseBundle, keys: &[&crate::dnssec::Dnskey]| {
            b.keys = keys.iter().map(|d| BundleKey { key_identifier: "x".into(), key_tag: d.key_tag(), ttl: 3600, dnskey: (*d).clone() }).collect();
            b
        };
        let p = skr("q1", 1, vec![with(bundle("a1", "2027-01-01T00:00:00Z", "2027-01-22T00:00:00Z"), &[&old, &new]), with(bundle("a2", "2027-01-11T00:00:00Z", "2027-02-01T00:00:00Z"), &[&new])]);
        let mut h = skr("q1.hold", 2, vec![with(bundle("a1", "2027-01-01T00:00:00Z", "2027-01-22T00:00:00Z"), &[&old, &new]), with(bundle("a2", "2027-01-11T00:00:00Z", "2027-02-01T00:00:00Z"), &[&old, &new])]);
        h.hold = true;
        let mut tl = Timeline::new("example.com.", vec![p, h]);
        assert_eq!(tl.skrs().len(), 1, "a hold variant never governs");
        // Bundles whose records agree: the primary one.
        assert_eq!(tl.in_force(t("2027-01-02T00:00:00Z")).unwrap().skr.name, "q1");
        // Without any parent state: the hold variant.
        let at = t("2027-01-15T00:00:00Z");
        assert_eq!(tl.in_force(at).unwrap().skr.name, "q1.hold");
        // Confirmed, but the old DS may still be cached: still the hold variant.
        let mut e = Established { confirmed: Default::default(), wait: crate::timeutil::parse_duration("1d").unwrap() };
        e.confirmed.insert(key_id(new.key_tag(), 13), t("2027-01-14T12:00:00Z"));
        tl.set_parent(e.clone());
        assert_eq!(tl.in_force(at).unwrap().skr.name, "q1.hold");
        assert_eq!(tl.in_force(t("2027-01-15T12:00:00Z")).unwrap().skr.name, "q1");
        // The export of future bundles from before the confirmation's wait uses the hold variant for a2.
        let ahead: Vec<&str> = tl.from_in_force(t("2027-01-02T00:00:00Z")).unwrap().iter().map(|x| x.skr.name.as_str()).collect();
        assert_eq!(ahead, ["q1", "q1.hold"]);
        let ahead: Vec<&str> = tl.from_in_force(t("2027-01-16T00:00:00Z")).unwrap().iter().map(|x| x.skr.name.as_str()).collect();
        assert_eq!(ahead, ["q1"]);
    }
}
