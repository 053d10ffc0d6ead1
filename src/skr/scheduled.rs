//! SKR-ZSKS-SCHEDULED: the ZSK side imports only an SKR whose ZSKs are its
//! own scheduled ZSKs for those times. A replayed SKR of another period, a
//! superseded SKR (answering a KSR made before the ZSK schedule changed) or
//! an SKR spliced with another zone's or another signer's ZSKs is refused,
//! with or without the KSR it answers. Pure: the keystore's ZSKs come in as
//! arguments.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::checks::CheckResult;
use crate::dnssec::rdata::FLAG_SEP;
use crate::dnssec::Dnskey;
use crate::keys::keystore::{KeyMeta, Role};
use crate::ksr::generate::published_at;
use crate::skr::model::Skr;
use crate::timeutil::format_rfc3339;

pub const SKR_ZSKS_SCHEDULED: &str = "SKR-ZSKS-SCHEDULED";

/// Every check id of this module.
pub const ALL: [&str; 1] = [SKR_ZSKS_SCHEDULED];

/// A ZSK of the keystore with its publication schedule.
#[derive(Debug, Clone)]
pub struct ScheduledZsk {
    pub id: String,
    pub dnskey: Dnskey,
    pub publish: OffsetDateTime,
    pub remove: Option<OffsetDateTime>,
}

/// The keystore's scheduled ZSKs of `zone` (those `ksr generate` puts in a
/// KSR: role ZSK, with publish and active times). Keys whose DNSKEY cannot
/// be read are left out (the keystore refuses them when it opens).
pub fn keystore_zsks(keys: &[KeyMeta], zone: &str) -> Vec<ScheduledZsk> {
    keys.iter()
        .filter(|k| k.zone.eq_ignore_ascii_case(zone) && k.role == Role::Zsk && k.timing.active.is_some())
        .filter_map(|k| {
            Some(ScheduledZsk { id: k.id.clone(), dnskey: k.dnskey().ok()?, publish: k.timing.publish?, remove: k.timing.remove })
        })
        .collect()
}

/// SKR-ZSKS-SCHEDULED: each bundle's ZSKs (its DNSKEYs without the SEP
/// flag) are exactly the keystore ZSKs published at the bundle's inception
/// by their schedule, with the rule `ksr generate` builds bundles with
/// (RFC 7583 §3.3 publish..remove). The ZSK side must never publish a
/// DNSKEY RRset naming ZSKs it does not hold, or missing the ZSK that signs
/// the zone then (RFC 4035 §2.1; RFC 6781 §4.1.1: a ZSK rollover depends on
/// the pre-published key being in the RRset at its time).
pub fn check_zsks_scheduled(skr: &Skr, zsks: &[ScheduledZsk]) -> CheckResult {
    if skr.bundles.is_empty() {
        return CheckResult::fail(SKR_ZSKS_SCHEDULED, "the SKR holds no bundles");
    }
    if zsks.is_empty() {
        return CheckResult::fail(
            SKR_ZSKS_SCHEDULED,
            "the keystore has no scheduled ZSK for this zone: this SKR does not answer a KSR of this keystore (`kskit zsk pregenerate`, `kskit ksr generate`)",
        );
    }
    let mut problems = Vec::new();
    for b in &skr.bundles {
        let got: BTreeSet<Vec<u8>> = b.keys.iter().filter(|k| k.dnskey.flags & FLAG_SEP == 0).map(|k| k.dnskey.to_wire()).collect();
        // KSR and SKR times are whole seconds; keystore times may carry a
        // fraction (a text KSR's bundle starts at a ZSK's publish time).
        let whole = crate::timeutil::whole_seconds;
        let want: BTreeSet<Vec<u8>> = zsks
            .iter()
            .filter(|z| published_at(whole(z.publish), z.remove.map(whole), b.inception))
            .map(|z| z.dnskey.to_wire())
            .collect();
        if got == want {
            continue;
        }
        let tag = |w: &Vec<u8>| {
            b.keys.iter().find(|k| &k.dnskey.to_wire() == w).map(|k| k.dnskey.key_tag()).or_else(|| zsks.iter().find(|z| &z.dnskey.to_wire() == w).map(|z| z.dnskey.key_tag()))
        };
        let names = |v: Vec<&Vec<u8>>| v.into_iter().map(|w| tag(w).map_or("?".into(), |t| t.to_string())).collect::<Vec<_>>().join(", ");
        let extra: Vec<&Vec<u8>> = got.difference(&want).collect();
        let missing: Vec<&Vec<u8>> = want.difference(&got).collect();
        let mut what = Vec::new();
        if !extra.is_empty() {
            what.push(format!("ZSK(s) {} not scheduled then in this keystore", names(extra)));
        }
        if !missing.is_empty() {
            what.push(format!("scheduled ZSK(s) {} missing", names(missing)));
        }
        problems.push(format!("bundle {} at {}: {}", shown_id(&b.id), format_rfc3339(b.inception), what.join(", ")));
    }
    let n = skr.bundles.len();
    CheckResult::from_problems(
        SKR_ZSKS_SCHEDULED,
        problems,
        format!("the ZSKs of all {n} bundles are this keystore's ZSKs scheduled at each bundle's inception"),
    )
}

/// A bundle id for a message: unsigned input, so quoted with control
/// characters escaped and cut to 40 characters.
fn shown_id(id: &str) -> String {
    let cut: String = id.chars().take(40).collect();
    let more = if id.chars().count() > 40 { "…" } else { "" };
    format!("{cut:?}{more}")
}
