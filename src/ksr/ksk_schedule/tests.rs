//! The KSK schedule rules on hand-made timelines: 10-day bundles, a KSK
//! side whose policy needs 1 day (plus safety) between announcement and
//! solo signing.

use super::*;
use crate::dnssec::{Algorithm, DigestType, Rrsig};
use crate::ksr::model::{BundleKey, BundleSignature, Format};

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
    let r = check_ksk_schedule(&prev, &good, &t);
    assert!(r.passed(), "{}", r.to_text());
    assert!(!check_ksk_revoke(&prev, &good, &t).applicable);
    // b appears and signs alone in the same bundle: not announced.
    let jump = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let p = check_ksk_publish(&prev, &jump, &t);
    assert!(p.is_failure() && p.message.contains(&format!("KSK {}", b.key_tag())), "{p}");
    // ... and a leaves while the DS it needs (CDS of day 10) may be cached.
    let r = check_ksk_retire(&prev, &jump, &t);
    assert!(r.is_failure() && r.message.contains(&format!("KSK {} leaves", a.key_tag())), "{r}");
}

#[test]
fn double_ksk_removing_the_old_key_right_after_the_ds_swap_fails_retire() {
    let (a, b) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a, &b], &[&a, &b], &[&a])]);
    // CDS asks for a until day 20, and a is gone at day 20 (no retire interval).
    let new = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let r = check_ksk_retire(&prev, &new, &sched(false));
    assert!(r.is_failure(), "{r}");
}

#[test]
fn double_ds_announces_by_cds_and_swaps_the_dnskey_at_once() {
    let (a, b) = (key(1), key(2));
    let prev = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a, &b])]);
    let new = skr(vec![bundle(20, &[&b], &[&b], &[&a, &b]), bundle(30, &[&b], &[&b], &[&b])]);
    let t = sched(true);
    let r = check_ksk_schedule(&prev, &new, &t);
    assert!(r.passed(), "{}", r.to_text());
    // Without the pre-published DS the swap is a jump.
    let prev2 = skr(vec![bundle(0, &[&a], &[&a], &[&a]), bundle(10, &[&a], &[&a], &[&a])]);
    let new2 = skr(vec![bundle(20, &[&b], &[&b], &[&b])]);
    let p = check_ksk_publish(&prev2, &new2, &t);
    assert!(p.is_failure(), "{p}");
    // With no CDS at all, double-DS is out of the SKRs' sight.
    let prev3 = skr(vec![bundle(0, &[&a], &[&a], &[])]);
    let new3 = skr(vec![bundle(10, &[&b], &[&b], &[])]);
    assert!(!check_ksk_publish(&prev3, &new3, &t).applicable);
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
