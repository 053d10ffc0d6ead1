//! The KSK schedule rules on hand-made timelines: 10-day bundles, a KSK
//! side whose policy needs 1 day (plus safety) between announcement and
//! solo signing.

use super::*;
use crate::dnssec::{Algorithm, DigestType, Rrsig};
use crate::ksr::model::{BundleKey, BundleSignature, Format};
use crate::keys::keystore::LossCause;

fn t0() -> OffsetDateTime {
    crate::timeutil::parse_instant("2027-01-01T00:00:00Z").unwrap()
}

fn key(seed: u8) -> Dnskey {
    Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![seed; 64])
}

fn revoked(k: &Dnskey) -> Dnskey {
    let mut r = k.clone();
    r.flags |= FLAG_REVOKE;
    r
}

/// A bundle at day `day` publishing `keys`, signed by `signers`, with a CDS for `cds`.
fn bundle(day: i64, keys: &[&Dnskey], signers: &[&Dnskey], cds: &[&Dnskey]) -> ResponseBundle {
    let at = t0() + Duration::days(day);
    ResponseBundle {
        id: format!("d{day}"),
        inception: at,
        expiration: Some(at + Duration::days(14)),
        keys: keys.iter().map(|k| BundleKey { key_identifier: format!("k{}", k.key_tag()), key_tag: k.key_tag(), ttl: 3600, dnskey: (*k).clone() }).collect(),
        cds: cds.iter().map(|k| plain(k).ds(&Name::root(), DigestType::Sha256)).collect(),
        cds_ttl: 0,
        cdnskey: vec![],
        cdnskey_ttl: 0,
        signatures: signers
            .iter()
            .map(|k| BundleSignature {
                key_identifier: None,
                ttl: 3600,
                rrsig: Rrsig {
                    type_covered: rtype::DNSKEY,
                    algorithm: k.algorithm,
                    labels: 0,
                    original_ttl: 3600,
                    expiration: 0,
                    inception: 0,
                    key_tag: k.key_tag(),
                    signer_name: Name::root(),
                    signature: vec![0; 64],
                },
            })
            .collect(),
    }
}

fn skr(bundles: Vec<ResponseBundle>) -> Skr {
    Skr { format: Format::Iana, id: "x".into(), domain: Name::root(), serial: None, ksk_policy: None, zsk_policy: None, bundles, generated: None, layout: Default::default() }
}

fn sched(double_ds: bool) -> KskSchedule {
    let mut p = Policy::default();
    if double_ds {
        p.ksk_rollover = KskRollover::DoubleDs;
    }
    KskSchedule::of(&p)
}

#[test]
fn double_ksk_with_enough_publication_passes_and_a_jump_fails() {
    let (a, b) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a])]);
    // b published at day 20 with a, DS swapped (CDS) at 30, a gone at 40.
    let good = skr(vec![
        bundle(20, &[&a, &b], &[&a, &b], &[&a]),
        bundle(30, &[&a, &b], &[&a, &b], &[&b]),
        bundle(40, &[&b], &[&b], &[&b]),
    ]);
    let t = sched(false);
    let r = check_ksk_schedule(&prev, &good, &t, &[]);
    assert!(r.passed(), "{}", r.to_text());
    assert!(!check_ksk_revoke(&prev, &good, &t).applicable);
    // b appears and signs alone in the same bundle: not announced.
    let jump = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let p = check_ksk_publish(&prev, &jump, &t, &[]);
    assert!(p.is_failure() && p.message.contains(&format!("KSK {}", b.key_tag())), "{p}");
    // ... and a leaves while the DS it needs (CDS of day 10) may be cached.
    let r = check_ksk_retire(&prev, &jump, &t, &[]);
    assert!(r.is_failure() && r.message.contains(&format!("KSK {} leaves", a.key_tag())), "{r}");
}

#[test]
fn double_ksk_removing_the_old_key_right_after_the_ds_swap_fails_retire() {
    let (a, b) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a, &b], &[&a, &b], &[&a])]);
    // CDS asks for a until day 20, and a is gone at day 20 (no retire interval).
    let new = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let r = check_ksk_retire(&prev, &new, &sched(false), &[]);
    assert!(r.is_failure(), "{r}");
}

#[test]
fn double_ds_announces_by_cds_and_swaps_the_dnskey_at_once() {
    let (a, b) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a, &b])]);
    let new = skr(vec![bundle(20, &[&b], &[&b], &[&a, &b]), bundle(30, &[&b], &[&b], &[&b])]);
    let t = sched(true);
    let r = check_ksk_schedule(&prev, &new, &t, &[]);
    assert!(r.passed(), "{}", r.to_text());
    // Without the pre-published DS the swap is a jump.
    let prev2 = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a])]);
    let new2 = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let p = check_ksk_publish(&prev2, &new2, &t, &[]);
    assert!(p.is_failure(), "{p}");
    // With no CDS at all, double-DS is out of the SKRs' sight.
    let prev3 = skr(vec![bundle(0, &[&a], &[&a], &[])]);
    let new3 = skr(vec![bundle(10, &[&b], &[&b], &[])]);
    assert!(!check_ksk_publish(&prev3, &new3, &t, &[]).applicable);
}

#[test]
fn a_revoked_key_stays_its_period_and_never_comes_back() {
    let (a, b) = (key(1), key(2));
    let ra = revoked(&a);
    let t = sched(false);
    assert!(t.revoked >= Duration::days(30));
    let prev = skr(vec![bundle(0, &[&a, &b], &[&a, &b], &[&b]), bundle(10, &[&ra, &b], &[&ra, &b], &[&b])]);
    // removed 10 days after revocation: too early
    let early = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let r = check_ksk_revoke(&prev, &early, &t);
    assert!(r.is_failure() && r.message.contains("must stay"), "{r}");
    // kept 40 days: fine
    let kept = skr(vec![
        bundle(20, &[&ra, &b], &[&ra, &b], &[&b]),
        bundle(30, &[&ra, &b], &[&ra, &b], &[&b]),
        bundle(40, &[&ra, &b], &[&ra, &b], &[&b]),
        bundle(50, &[&b], &[&b], &[&b]),
    ]);
    assert!(check_ksk_revoke(&prev, &kept, &t).passed, "{}", check_ksk_revoke(&prev, &kept, &t));
    // un-revoked again: refused
    let back = skr(vec![bundle(20, &[&a, &b], &[&a, &b], &[&b])]);
    let r = check_ksk_revoke(&prev, &back, &t);
    assert!(r.is_failure() && r.message.contains("permanent"), "{r}");
}

fn emergency(lost: &Dnskey, standby: &Dnskey, switch: Option<i64>) -> Emergency {
    Emergency { lost: lost.clone(), standby: standby.clone(), cause: LossCause::Lost, declared: t0() + Duration::days(12), switch: switch.map(|d| t0() + Duration::days(d)) }
}

/// The active KSK `a` and a standby `s` (published and self-signing, its DS
/// withheld: the CDS names `a` only) for 40 days; `a` is lost on day 12 and
/// the emergency SKR from day 20 is signed by `s` alone.
fn emergency_case() -> (Dnskey, Dnskey, Skr, Skr) {
    let (a, s) = (key(1), key(2));
    let prev = skr((0..4).map(|i| bundle(i * 10, &[&a, &s], &[&a, &s], &[&a])).collect());
    let new = skr(vec![bundle(20, &[&s], &[&s], &[&s]), bundle(30, &[&s], &[&s], &[&s])]);
    (a, s, prev, new)
}

#[test]
fn a_recorded_emergency_lets_the_lost_key_leave_at_the_switch_and_says_so() {
    let (a, s, prev, new) = emergency_case();
    let t = sched(false);
    let em = [emergency(&a, &s, Some(20))];
    // The emergency SKR replaces the previous SKR's bundles from day 20.
    let cut = emergency_previous(&prev, t0() + Duration::days(20), &em).expect("the emergency cuts the previous SKR");
    assert_eq!(cut.bundles.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), ["d0", "d10"]);
    // Without the record the lost key leaves too early: refused, as before.
    let r = check_ksk_schedule(&cut, &new, &t, &[]);
    assert!(r.get(KSR_CHAIN_KSK_RETIRE).is_some_and(|c| c.is_failure()), "{}", r.to_text());
    assert!(!r.get(KSR_CHAIN_KSK_EMERGENCY).unwrap().applicable);
    assert!(emergency_previous(&prev, t0() + Duration::days(20), &[]).is_none());
    // With it: passes, and the waiver is named with the facts.
    let r = check_ksk_schedule(&cut, &new, &t, &em);
    assert!(r.passed(), "{}", r.to_text());
    let e = r.get(KSR_CHAIN_KSK_EMERGENCY).unwrap();
    assert!(e.applicable && e.passed, "{e}");
    let want = format!("KSK {} leaves early: emergency declared 2027-01-13T00:00:00Z, cause lost, switch 2027-01-21T00:00:00Z", a.key_tag());
    assert!(e.message.contains(&want) && e.message.contains(&format!("standby KSK {}", s.key_tag())), "{e}");
    assert!(r.get(KSR_CHAIN_KSK_RETIRE).unwrap().message.contains("but for the emergency"), "{}", r.to_text());
}

#[test]
fn an_emergency_without_switch_or_for_another_key_or_before_the_switch_waives_nothing() {
    let (a, s, prev, new) = emergency_case();
    let t = sched(false);
    let at = t0() + Duration::days(20);
    // Switch not fixed yet: no cut, no waiver.
    let pending = [emergency(&a, &s, None)];
    assert!(emergency_previous(&prev, at, &pending).is_none());
    let r = check_ksk_schedule(&prev, &new, &t, &pending);
    assert!(!r.passed(), "{}", r.to_text());
    let e = r.get(KSR_CHAIN_KSK_EMERGENCY).unwrap();
    assert!(!e.applicable && e.message.contains("not fixed yet"), "{e}");
    // An emergency of another key (not in the previous SKR): nothing changes.
    let other = [emergency(&key(3), &s, Some(20))];
    assert!(emergency_previous(&prev, at, &other).is_none());
    let cut = emergency_previous(&prev, at, &[emergency(&a, &s, Some(20))]).unwrap();
    let r = check_ksk_schedule(&cut, &new, &t, &other);
    assert!(r.get(KSR_CHAIN_KSK_RETIRE).is_some_and(|c| c.is_failure()), "{}", r.to_text());
    assert!(!r.get(KSR_CHAIN_KSK_EMERGENCY).unwrap().applicable);
    // A new SKR that keeps the lost key (nothing emergency about it): nothing waived, nothing claimed.
    let keeps = skr(vec![bundle(40, &[&a, &s], &[&a, &s], &[&a])]);
    let e = check_ksk_emergency(&prev, &keeps, &[emergency(&a, &s, Some(20))]);
    assert!(!e.applicable && e.message.contains("nothing waived"), "{e}");
    // The lost key leaving before the recorded switch: refused.
    let late = [emergency(&a, &s, Some(30))];
    assert!(emergency_previous(&prev, at, &late).is_none());
    let r = check_ksk_schedule(&cut, &new, &t, &late);
    assert!(r.get(KSR_CHAIN_KSK_RETIRE).is_some_and(|c| c.is_failure()), "{}", r.to_text());
}

#[test]
fn a_standby_the_previous_skr_never_published_is_refused_even_in_an_emergency() {
    let (a, s) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a])]);
    let new = skr(vec![bundle(20, &[&s], &[&s], &[&s])]);
    let em = [emergency(&a, &s, Some(20))];
    let r = check_ksk_schedule(&prev, &new, &sched(false), &em);
    let p = r.get(KSR_CHAIN_KSK_PUBLISH).unwrap();
    assert!(p.is_failure() && p.message.contains(&format!("KSK {}", s.key_tag())), "{}", r.to_text());
    let e = r.get(KSR_CHAIN_KSK_EMERGENCY).unwrap();
    assert!(e.is_failure() && e.message.contains("pre-published standby"), "{e}");
}
