//! Policy timing: the checks that reject impossible timings (`kskit policy
//! check`), and the ZSK pre-publish schedule (RFC 7583 §3.2, §3.3.1) that
//! `kskit zsk pregenerate` follows. Pure: no I/O.

use time::{Duration, OffsetDateTime};

use crate::config::Policy;

/// One policy problem: a stable id and the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyProblem {
    pub id: &'static str,
    pub message: String,
}

fn secs(d: Duration) -> i64 {
    d.whole_seconds()
}

use crate::config::short_duration as human;

/// RFC 7583 §3.3.1 publication interval of a pre-published ZSK:
/// Ipub = Dprp + TTLkey, plus the publish safety margin.
pub fn zsk_publish_interval(p: &Policy) -> Duration {
    p.zone_propagation_delay.0 + p.dnskey_ttl.0 + p.publish_safety.0
}

/// RFC 7583 §3.3.1 retire interval of a ZSK: Iret = Dsgn + Dprp + TTLsig,
/// plus the retire safety margin. Dsgn is 0 with kskit's signer, which
/// re-signs every RRset when the active ZSK changes; TTLsig is bounded by
/// the zone's maximum TTL.
pub fn zsk_retire_interval(p: &Policy) -> Duration {
    p.zone_propagation_delay.0 + p.max_zone_ttl.0 + p.retire_safety.0
}

/// Rounds `d` up to a whole number of `step`s (at least one).
pub fn round_up(d: Duration, step: Duration) -> Duration {
    let (d, s) = (secs(d), secs(step).max(1));
    Duration::seconds(((d + s - 1) / s).max(1) * s)
}

/// Checks a policy for impossible timings. Each rule has an id.
pub fn check_policy(p: &Policy) -> Vec<PolicyProblem> {
    let mut out = Vec::new();
    let mut bad = |id: &'static str, message: String| out.push(PolicyProblem { id, message });
    let (validity, interval) = (p.signature_validity.0, p.bundle_interval.0);
    if interval <= Duration::ZERO {
        bad("POLICY-BUNDLE-INTERVAL", "bundle_interval must be positive".into());
    }
    // Consecutive bundles must overlap, or there are moments with no valid DNSKEY signature.
    if validity <= interval {
        bad(
            "POLICY-VALIDITY-OVERLAP",
            format!("signature_validity {} must exceed bundle_interval {} so that consecutive bundles overlap", human(validity), human(interval)),
        );
    }
    // A bundle must stay valid while resolvers hold its DNSKEY RRset (RFC 6781 §4.4.1).
    if validity < interval + p.dnskey_ttl.0 + p.zone_propagation_delay.0 {
        bad(
            "POLICY-VALIDITY-TTL",
            format!(
                "signature_validity {} is shorter than bundle_interval + dnskey_ttl + zone_propagation_delay ({}): cached DNSKEY RRsets would expire",
                human(validity),
                human(interval + p.dnskey_ttl.0 + p.zone_propagation_delay.0)
            ),
        );
    }
    if p.signature_refresh.0 >= validity {
        bad("POLICY-REFRESH", format!("signature_refresh {} must be shorter than signature_validity {}", human(p.signature_refresh.0), human(validity)));
    }
    if p.inception_offset.0 < Duration::ZERO {
        bad("POLICY-INCEPTION", "inception_offset must not be negative".into());
    }
    // A ZSK lifetime must cover its own pre-publication and retirement (RFC 7583 §3.3.1).
    let zl = p.zsk.lifetime.0;
    if zl > Duration::ZERO {
        let need = round_up(zsk_publish_interval(p), interval) + round_up(zsk_retire_interval(p), interval);
        if zl < need {
            bad(
                "POLICY-ZSK-LIFETIME",
                format!(
                    "zsk lifetime {} is shorter than its rollover needs ({}: publish interval then retire interval, in whole bundles of {})",
                    human(zl),
                    human(need),
                    human(interval)
                ),
            );
        }
        if zl < interval {
            bad("POLICY-ZSK-LIFETIME-BUNDLE", format!("zsk lifetime {} is shorter than one bundle ({})", human(zl), human(interval)));
        }
    }
    // A KSK rollover waits for the DS at the parent: Ipub(ds) + Iret (RFC 7583 §3.3.2).
    let kl = p.ksk.lifetime.0;
    if kl > Duration::ZERO {
        let need = p.parent_propagation_delay.0 + p.ds_ttl.0 + p.zone_propagation_delay.0 + p.dnskey_ttl.0 + p.publish_safety.0 + p.retire_safety.0 + p.parent_poll_interval.0.saturating_mul(i32::try_from(p.parent_confirmations).unwrap_or(i32::MAX));
        if kl < need {
            bad("POLICY-KSK-LIFETIME", format!("ksk lifetime {} is shorter than a KSK rollover needs ({})", human(kl), human(need)));
        }
    }
    for (name, kp) in [("ksk", &p.ksk), ("zsk", &p.zsk)] {
        if let Err(e) = kp.algorithm.check_new_bits(kp.bits.or(kp.algorithm.fixed_bits())) {
            bad("POLICY-ALGORITHM", format!("{name}: {e}"));
        }
    }
    if p.parent_confirmations == 0 {
        bad("POLICY-CONFIRMATIONS", "parent_confirmations must be at least 1".into());
    }
    if p.cds_digests.is_empty() && p.cds_publish != crate::config::CdsPublish::None {
        bad("POLICY-CDS-DIGESTS", "cds_digests is empty but CDS publication is on".into());
    }
    out
}

/// Timing of one ZSK in the pre-publish schedule (RFC 7583 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZskSlot {
    pub publish: OffsetDateTime,
    pub active: OffsetDateTime,
    pub retire: OffsetDateTime,
    pub remove: OffsetDateTime,
}

impl ZskSlot {
    /// The slot as a keystore key's timing; with a zero ZSK lifetime the key
    /// never retires (no retire or remove time).
    pub fn timing(&self, p: &Policy) -> crate::keys::keystore::KeyTiming {
        let ends = p.zsk.lifetime.0 > Duration::ZERO;
        crate::keys::keystore::KeyTiming {
            publish: Some(self.publish),
            active: Some(self.active),
            retire: ends.then_some(self.retire),
            remove: ends.then_some(self.remove),
            revoke: None,
        }
    }
}

/// The ZSK pre-publish schedule from `first_active` (when the first new key
/// must sign; `first_is_successor` when a key is already active then, so the
/// first new key is pre-published too) until keys are published up to
/// `until`. Lifetimes, publication and retirement are whole bundle intervals
/// so that every change falls on a bundle boundary.
pub fn zsk_schedule(p: &Policy, first_active: OffsetDateTime, first_is_successor: bool, until: OffsetDateTime) -> Vec<ZskSlot> {
    let interval = p.bundle_interval.0;
    let life = round_up(p.zsk.lifetime.0, interval);
    let ipub = round_up(zsk_publish_interval(p), interval);
    let iret = round_up(zsk_retire_interval(p), interval);
    let mut out = Vec::new();
    let mut active = first_active;
    let mut k = 0usize;
    loop {
        let publish = if k == 0 && !first_is_successor { active } else { active - ipub };
        if publish > until || (k > 0 && p.zsk.lifetime.0 <= Duration::ZERO) {
            break;
        }
        let retire = active + life;
        out.push(ZskSlot { publish, active, retire, remove: retire + iret });
        active = retire;
        k += 1;
        if k > 10_000 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Policy};
    use crate::timeutil::parse_instant;

    #[test]
    fn default_policy_is_sane() {
        assert_eq!(check_policy(&Policy::default()), vec![]);
    }

    #[test]
    fn impossible_timings_are_named() {
        let p = Policy { signature_validity: Dur(Duration::days(5)), ..Policy::default() };
        let ids: Vec<_> = check_policy(&p).into_iter().map(|x| x.id).collect();
        assert!(ids.contains(&"POLICY-VALIDITY-OVERLAP"), "{ids:?}");
        let mut p = Policy::default();
        p.zsk = crate::config::KeyPolicy { lifetime: Dur(Duration::days(10)), ..p.zsk };
        let ids: Vec<_> = check_policy(&p).into_iter().map(|x| x.id).collect();
        assert!(ids.contains(&"POLICY-ZSK-LIFETIME"), "{ids:?}");
    }

    #[test]
    fn schedule_prepublishes_and_overlaps() {
        let p = Policy::default();
        let t0 = parse_instant("2027-01-01T00:00:00Z").unwrap();
        let s = zsk_schedule(&p, t0, false, t0 + Duration::days(200));
        assert!(s.len() >= 3, "{s:?}");
        assert_eq!(s[0].publish, t0);
        for w in s.windows(2) {
            // the successor is published one bundle before it is active, and the old key stays after
            assert_eq!(w[1].active, w[0].retire);
            assert!(w[1].publish < w[1].active);
            assert!(w[0].remove > w[1].active);
        }
        // every moment up to `until` has an active key
        assert!(s.last().unwrap().retire >= t0 + Duration::days(200));
    }
}
