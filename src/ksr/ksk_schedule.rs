//! The KSK schedule across SKRs: the KSK side chooses the KSKs of every
//! bundle when it signs, so before an SKR is written its KSK set is compared
//! with the previous SKR's (the root's KSK side does the same: KSKs appear
//! and disappear only with their publish and retire safety). Pure: the two
//! SKRs' bundles and the intervals of the KSK side's policy in, a check
//! result per rule out. The rules and their reasons are in docs/checks.md
//! and docs/rollover.md.
//!
//! The bundles of both SKRs form one timeline, ordered by inception; a
//! bundle is in force from its inception until the next one's. A KSK is
//! identified by algorithm and public key, so that its revoked form (another
//! key tag, RFC 5011 §3) is the same key.

use time::{Duration, OffsetDateTime};

use crate::checks::{CheckResult, Report};
use crate::config::{KskRollover, Policy};
use crate::dnssec::record::rtype;
use crate::dnssec::{Dnskey, Name, FLAG_REVOKE};
use crate::keys::keystore::LossCause;
use crate::rollover::plan::RFC5011_HOLD_DOWN;
use crate::skr::model::{ResponseBundle, Skr};
use crate::timeutil::format_rfc3339;

/// KSR-CHAIN-KSK-PUBLISH: a KSK added to the DNSKEY set is announced long enough before it signs alone.
pub const KSR_CHAIN_KSK_PUBLISH: &str = "KSR-CHAIN-KSK-PUBLISH";
/// KSR-CHAIN-KSK-RETIRE: no KSK leaves the DNSKEY set before its retire safety.
pub const KSR_CHAIN_KSK_RETIRE: &str = "KSR-CHAIN-KSK-RETIRE";
/// KSR-CHAIN-KSK-REVOKE: a revoked KSK stays published (revoked) for its revocation period.
pub const KSR_CHAIN_KSK_REVOKE: &str = "KSR-CHAIN-KSK-REVOKE";

/// KSR-CHAIN-KSK-EMERGENCY: an emergency recorded by the KSK side waives the
/// retire (lost key) and publish (standby) rules from its switch, and only then.
pub const KSR_CHAIN_KSK_EMERGENCY: &str = "KSR-CHAIN-KSK-EMERGENCY";

/// Every KSK schedule check id, in report order.
pub const ALL: &[&str] = &[KSR_CHAIN_KSK_PUBLISH, KSR_CHAIN_KSK_RETIRE, KSR_CHAIN_KSK_REVOKE, KSR_CHAIN_KSK_EMERGENCY];

/// An emergency the KSK side's keystore records (`kskit rollover
/// emergency`: the `lost` record of a KSK in keys.json), as data: the checks
/// read no keystore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emergency {
    /// The lost or compromised KSK.
    pub lost: Dnskey,
    /// The standby KSK that takes over.
    pub standby: Dnskey,
    pub cause: LossCause,
    pub declared: OffsetDateTime,
    /// From when the standby signs alone; `None` while the standby's DS is
    /// still awaited at the parent (then nothing is waived).
    pub switch: Option<OffsetDateTime>,
}

impl Emergency {
    fn cause_text(&self) -> &'static str {
        match self.cause {
            LossCause::Lost => "lost",
            LossCause::Compromised => "compromised",
        }
    }

    fn describe(&self) -> String {
        format!(
            "emergency declared {}, cause {}, switch {}",
            format_rfc3339(self.declared),
            self.cause_text(),
            self.switch.map_or_else(|| "not fixed yet".to_string(), format_rfc3339)
        )
    }
}

/// The emergency that lets KSK `k` leave at `at`: its lost key, with a
/// switch at or before `at`.
fn leave_waiver<'a>(emergencies: &'a [Emergency], k: &KeyId, at: OffsetDateTime) -> Option<&'a Emergency> {
    emergencies.iter().find(|e| key_id(&e.lost) == *k && e.switch.is_some_and(|sw| at >= sw))
}

/// The emergency that lets KSK `k` sign alone at `at` without its publish
/// interval: its standby, with a switch at or before `at`, published in a
/// bundle of the previous SKR (pre-published: resolvers may hold it).
fn solo_waiver<'a>(emergencies: &'a [Emergency], steps: &[Step], k: &KeyId, at: OffsetDateTime) -> Option<&'a Emergency> {
    let pre_published = steps.iter().any(|s| !s.new && s.ksks.iter().any(|(x, _)| x == k));
    emergencies.iter().find(|e| key_id(&e.standby) == *k && e.switch.is_some_and(|sw| at >= sw) && pre_published)
}

/// The emergencies that concern the previous SKR: their lost KSK is
/// published in one of its bundles.
fn relevant<'a>(previous: &Skr, emergencies: &'a [Emergency]) -> Vec<&'a Emergency> {
    emergencies
        .iter()
        .filter(|e| previous.bundles.iter().any(|b| b.keys.iter().any(|k| k.dnskey.is_sep() && key_id(&k.dnskey) == key_id(&e.lost))))
        .collect()
}

/// The previous SKR as the chain checks take it when the new SKR is an
/// emergency SKR: an emergency with a switch at or before `new_first` (the
/// new KSR's first inception) whose lost KSK the previous SKR publishes,
/// and bundles of the previous SKR from `new_first` on. Those bundles are
/// replaced by the new SKR's (the ZSK side's timeline rule: the newer SKR's
/// bundles take over from its first inception, docs/rollover.md), so the
/// checks compare the new SKR with the bundles before it. `None` (take the
/// previous SKR whole) in every other case, also when nothing of the
/// previous SKR would be left.
pub fn emergency_previous(previous: &Skr, new_first: OffsetDateTime, emergencies: &[Emergency]) -> Option<Skr> {
    let applies = relevant(previous, emergencies).iter().any(|e| e.switch.is_some_and(|sw| sw <= new_first));
    if !applies || !previous.bundles.iter().any(|b| b.inception >= new_first) {
        return None;
    }
    let mut cut = previous.clone();
    cut.bundles.retain(|b| b.inception < new_first);
    (!cut.bundles.is_empty()).then_some(cut)
}

/// The intervals the checks use, from the KSK side's policy (not rounded to
/// bundles: these are the minimums).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KskSchedule {
    /// Double-KSK (RFC 7583 §3.3.2) announcement: Dprp + TTLkey + publish
    /// safety, plus the RFC 5011 §2.4.1 Add Hold-Down (max(30 days, TTLkey))
    /// when the KSK is a configured trust anchor.
    pub dnskey_publish: Duration,
    /// Double-DS (RFC 7583 §3.3.3) announcement: DprpP + TTLds + publish safety.
    pub ds_publish: Duration,
    /// RFC 7583 §3.3.2 after the DS change: DprpP + TTLds + retire safety.
    pub retire: Duration,
    /// A revoked KSK stays published Dprp + max(30 days, TTLkey): long
    /// enough for every RFC 5011 resolver, polling at most every 15 days
    /// (§2.3), to see the REVOKE bit before the key goes (§2.1, §2.4.2).
    pub revoked: Duration,
    /// The policy's method: double-DS announces a KSK by its DS (CDS).
    pub double_ds: bool,
}

impl KskSchedule {
    pub fn of(p: &Policy) -> Self {
        let hold = if p.rfc5011 { RFC5011_HOLD_DOWN.max(p.dnskey_ttl.0) } else { Duration::ZERO };
        KskSchedule {
            dnskey_publish: p.zone_propagation_delay.0 + p.dnskey_ttl.0 + p.publish_safety.0 + hold,
            ds_publish: p.parent_propagation_delay.0 + p.ds_ttl.0 + p.publish_safety.0,
            retire: p.parent_propagation_delay.0 + p.ds_ttl.0 + p.retire_safety.0,
            revoked: p.zone_propagation_delay.0 + RFC5011_HOLD_DOWN.max(p.dnskey_ttl.0),
            double_ds: p.ksk_rollover == KskRollover::DoubleDs,
        }
    }
}

/// A KSK's identity: algorithm and public key (the REVOKE bit aside).
type KeyId = (u8, Vec<u8>);

fn key_id(k: &Dnskey) -> KeyId {
    (k.algorithm, k.public_key.clone())
}

/// The key tag of a KSK without the REVOKE bit, for messages.
fn plain_tag(k: &Dnskey) -> u16 {
    let mut p = k.clone();
    p.flags &= !FLAG_REVOKE;
    p.key_tag()
}

/// One bundle of the joint timeline, reduced to what the rules use.
#[derive(Debug, Clone)]
struct Step {
    at: OffsetDateTime,
    id: String,
    /// From the new SKR (the rules judge events there).
    new: bool,
    /// Published KSKs (SEP bit) with their REVOKE bit.
    ksks: Vec<(KeyId, bool)>,
    /// Non-revoked KSKs whose RRSIG covers the DNSKEY RRset.
    signers: Vec<KeyId>,
    /// The KSKs the CDS/CDNSKEY RRsets name (`None`: none published, or the
    /// RFC 8078 delete form).
    cds: Option<Vec<KeyId>>,
}

fn step(domain: &Name, b: &ResponseBundle, new: bool, known: &[Dnskey]) -> Step {
    let ksks: Vec<&Dnskey> = b.keys.iter().map(|k| &k.dnskey).filter(|k| k.is_sep()).collect();
    let signers = b
        .signatures
        .iter()
        .filter(|s| s.rrsig.type_covered == rtype::DNSKEY)
        .filter_map(|s| ksks.iter().find(|k| k.key_tag() == s.rrsig.key_tag && k.algorithm == s.rrsig.algorithm && !k.is_revoked()))
        .map(|k| key_id(k))
        .collect();
    let named: Vec<KeyId> = known
        .iter()
        .filter(|k| b.cds.iter().any(|d| !d.is_delete() && d.matches(domain, &plain(k))) || b.cdnskey.iter().any(|c| c.algorithm != 0 && key_id(c) == key_id(k)))
        .map(key_id)
        .collect();
    Step {
        at: b.inception,
        id: b.id.clone(),
        new,
        ksks: ksks.iter().map(|k| (key_id(k), k.is_revoked())).collect(),
        signers,
        cds: (!named.is_empty()).then_some(named),
    }
}

fn plain(k: &Dnskey) -> Dnskey {
    let mut p = k.clone();
    p.flags &= !FLAG_REVOKE;
    p
}

/// The joint timeline of both SKRs (previous first), by inception.
fn timeline(previous: &Skr, new: &Skr) -> (Vec<Step>, Vec<Dnskey>) {
    let mut known: Vec<Dnskey> = Vec::new();
    for k in previous.bundles.iter().chain(new.bundles.iter()).flat_map(|b| b.keys.iter()).map(|k| plain(&k.dnskey)).filter(|k| k.is_sep()) {
        if !known.iter().any(|x| key_id(x) == key_id(&k)) {
            known.push(k);
        }
    }
    let mut steps: Vec<Step> = previous
        .bundles
        .iter()
        .map(|b| step(&previous.domain, b, false, &known))
        .chain(new.bundles.iter().map(|b| step(&new.domain, b, true, &known)))
        .collect();
    steps.sort_by_key(|s| (s.at, s.new));
    (steps, known)
}

fn tag_of(known: &[Dnskey], id: &KeyId) -> u16 {
    known.iter().find(|k| key_id(k) == *id).map(plain_tag).unwrap_or(0)
}

fn when(s: &Step) -> String {
    format!("bundle {} ({})", s.id, format_rfc3339(s.at))
}

/// The first step at which `k` is announced: published in the DNSKEY set
/// or, when `by_cds`, named by the CDS/CDNSKEY.
fn announced(steps: &[Step], k: &KeyId, by_cds: bool) -> Option<usize> {
    steps.iter().position(|s| s.ksks.iter().any(|(x, _)| x == k) || (by_cds && s.cds.as_ref().is_some_and(|c| c.contains(k))))
}

/// KSR-CHAIN-KSK-PUBLISH: every KSK that signs the DNSKEY RRset alone for
/// the first time in the new SKR was announced at least the publish interval
/// before: double-KSK (RFC 7583 §3.3.2) by its DNSKEY, Dprp + TTLkey +
/// publish safety before (with RFC 5011, also the §2.4.1 Add Hold-Down);
/// double-DS (RFC 7583 §3.3.3) by its DS, named by the CDS/CDNSKEY DprpP +
/// TTLds + publish safety before. A KSK announced in the first bundle of the
/// timeline is established (its history is older than both SKRs). With
/// double-DS and no CDS/CDNSKEY at all, the DS is submitted out of band and
/// the SKRs cannot show it: not applicable. Waived only for the standby of a
/// recorded emergency from its switch when the previous SKR published it
/// ([`check_ksk_emergency`]).
pub fn check_ksk_publish(previous: &Skr, new: &Skr, t: &KskSchedule, emergencies: &[Emergency]) -> CheckResult {
    let (steps, known) = timeline(previous, new);
    let any_cds = steps.iter().any(|s| s.cds.is_some());
    if t.double_ds && !any_cds {
        return CheckResult::not_applicable(KSR_CHAIN_KSK_PUBLISH, "double-DS without CDS/CDNSKEY: the new DS is announced out of band, which the SKRs do not show");
    }
    let (need, how) = if t.double_ds { (t.ds_publish, "its DS (CDS/CDNSKEY)") } else { (t.dnskey_publish, "its DNSKEY") };
    let mut problems = Vec::new();
    let mut waived = Vec::new();
    let mut seen: Vec<KeyId> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let [k] = s.signers.as_slice() else { continue };
        if seen.contains(k) {
            continue;
        }
        seen.push(k.clone());
        if !s.new {
            continue;
        }
        let Some(a) = announced(&steps, k, t.double_ds) else { continue };
        if a == 0 {
            continue;
        }
        let ann = &steps[a];
        if ann.at + need > s.at && a <= i {
            if let Some(e) = solo_waiver(emergencies, &steps, k, s.at) {
                waived.push(format!("standby KSK {} signs alone from {} ({})", tag_of(&known, k), when(s), e.describe()));
                continue;
            }
            problems.push(format!(
                "KSK {} signs alone from {} but was announced by {how} only at {}: {} < {} (the publish interval)",
                tag_of(&known, k),
                when(s),
                when(ann),
                s.at - ann.at,
                need
            ));
        }
    }
    let mut ok = format!("every KSK that signs alone was announced at least {need} before");
    if !waived.is_empty() {
        ok = format!("{ok}, but for the emergency ({}; see {KSR_CHAIN_KSK_EMERGENCY})", waived.join("; "));
    }
    CheckResult::from_problems(KSR_CHAIN_KSK_PUBLISH, problems, ok)
}

/// KSR-CHAIN-KSK-RETIRE: no KSK leaves the DNSKEY set in the new SKR while
/// a resolver may still hold a DS that only it matches: every CDS/CDNSKEY
/// set in force during the retire interval (DprpP + TTLds + retire safety,
/// RFC 7583 §3.3.2) before it leaves names a KSK that still signs. Without
/// CDS/CDNSKEY in that window the KSK side cannot see the DS; then
/// (double-KSK) a KSK still signing must have been published at least the
/// retire interval before, and with double-DS the rule is not applicable.
/// Waived only for the lost KSK of a recorded emergency from its switch
/// ([`check_ksk_emergency`]).
pub fn check_ksk_retire(previous: &Skr, new: &Skr, t: &KskSchedule, emergencies: &[Emergency]) -> CheckResult {
    let (steps, known) = timeline(previous, new);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut waived: Vec<String> = Vec::new();
    for w in 1..steps.len() {
        let (before, s) = (&steps[w - 1], &steps[w]);
        if !s.new {
            continue;
        }
        for (k, _) in &before.ksks {
            if s.ksks.iter().any(|(x, _)| x == k) {
                continue;
            }
            if let Some(e) = leave_waiver(emergencies, k, s.at) {
                let w = format!("KSK {} leaves early at {} ({})", tag_of(&known, k), when(s), e.describe());
                if !waived.contains(&w) {
                    waived.push(w);
                }
                continue;
            }
            let window_start = s.at - t.retire;
            // The steps in force at some time of [window_start, s.at).
            let in_window: Vec<&Step> =
                steps[..w].iter().enumerate().filter(|(j, x)| x.at < s.at && steps.get(j + 1).is_none_or(|n| n.at > window_start)).map(|(_, x)| x).collect();
            let cds: Vec<&Step> = in_window.iter().copied().filter(|x| x.cds.is_some()).collect();
            if !cds.is_empty() {
                for x in cds {
                    let named = x.cds.as_deref().unwrap_or_default();
                    if !named.iter().any(|n| s.signers.contains(n)) {
                        problems.push(format!(
                            "KSK {} leaves the DNSKEY set at {}, but the CDS of {} asks for a DS set ({}) matching no KSK signing then: resolvers holding that DS for up to {} break",
                            tag_of(&known, k),
                            when(s),
                            when(x),
                            named.iter().map(|n| tag_of(&known, n).to_string()).collect::<Vec<_>>().join(", "),
                            t.retire
                        ));
                    }
                }
            } else if t.double_ds {
                notes.push(format!("KSK {} leaves at {}: no CDS/CDNSKEY in the window (double-DS, DS out of band)", tag_of(&known, k), when(s)));
            } else {
                let ok = s.signers.iter().any(|n| announced(&steps, n, false).is_some_and(|a| a == 0 || steps[a].at + t.retire <= s.at));
                if !ok {
                    problems.push(format!(
                        "KSK {} leaves the DNSKEY set at {}, but no KSK signing then was published {} before (retire interval)",
                        tag_of(&known, k),
                        when(s),
                        t.retire
                    ));
                }
            }
        }
    }
    if problems.is_empty() && !notes.is_empty() {
        return CheckResult::not_applicable(KSR_CHAIN_KSK_RETIRE, notes.join("; "));
    }
    let mut ok = format!("no KSK leaves within {} of a DS set that needs it", t.retire);
    if !waived.is_empty() {
        ok = format!("{ok}, but for the emergency ({}; see {KSR_CHAIN_KSK_EMERGENCY})", waived.join("; "));
    }
    CheckResult::from_problems(KSR_CHAIN_KSK_RETIRE, problems, ok)
}

/// KSR-CHAIN-KSK-REVOKE: a KSK first published with the REVOKE bit (RFC 5011
/// §2.1) stays published, revoked, at least the revocation period (Dprp +
/// max(30 days, TTLkey), see [`KskSchedule::revoked`]) when it leaves in the
/// new SKR, and never comes back without the bit (revocation is permanent,
/// RFC 5011 §2.1). A key still published when the timeline ends is judged by
/// the next SKR's check. Not applicable when no bundle has a revoked KSK.
pub fn check_ksk_revoke(previous: &Skr, new: &Skr, t: &KskSchedule) -> CheckResult {
    let (steps, known) = timeline(previous, new);
    let mut revoked_at: Vec<(KeyId, usize)> = Vec::new();
    let mut problems = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        for (k, rev) in &s.ksks {
            let first = revoked_at.iter().find(|(x, _)| x == k).map(|(_, j)| *j);
            match (rev, first) {
                (true, None) => revoked_at.push((k.clone(), i)),
                (false, Some(j)) if s.new => problems.push(format!(
                    "KSK {} is published without the REVOKE bit at {} after it was revoked at {}: revocation is permanent",
                    tag_of(&known, k),
                    when(s),
                    when(&steps[j])
                )),
                _ => {}
            }
        }
        if i == 0 || !s.new {
            continue;
        }
        for (k, j) in &revoked_at {
            let was = steps[i - 1].ksks.iter().any(|(x, _)| x == k);
            let is = s.ksks.iter().any(|(x, _)| x == k);
            if was && !is && steps[*j].at + t.revoked > s.at {
                problems.push(format!(
                    "revoked KSK {} leaves the DNSKEY set at {}, {} after it was revoked at {}: it must stay {}",
                    tag_of(&known, k),
                    when(s),
                    s.at - steps[*j].at,
                    when(&steps[*j]),
                    t.revoked
                ));
            }
        }
    }
    if revoked_at.is_empty() {
        return CheckResult::not_applicable(KSR_CHAIN_KSK_REVOKE, "no bundle publishes a revoked KSK");
    }
    CheckResult::from_problems(KSR_CHAIN_KSK_REVOKE, problems, format!("every revoked KSK stays published at least {}", t.revoked))
}

/// KSR-CHAIN-KSK-EMERGENCY: the emergency KSK rollover (docs/rollover.md
/// "Standby KSK and emergency rollover") as the chain sees it. A KSK whose
/// private key is lost cannot sign until its retire safety has passed, so
/// when the KSK side's keystore records an emergency for a KSK the previous
/// SKR publishes, with a fixed switch, two rules are waived from that switch
/// on and nowhere else: the lost KSK may leave the DNSKEY set early
/// (KSR-CHAIN-KSK-RETIRE; `rollover emergency` fixes the switch only once
/// the standby's DS is confirmed at every parent server and its TTL and the
/// parent's propagation delay have passed, RFC 7583 §3.3.3), and the standby
/// may sign alone (KSR-CHAIN-KSK-PUBLISH) — but only a standby the previous
/// SKR already published (pre-published, RFC 7583 §3.3.2; for RFC 5011 trust
/// anchors the Add Hold-Down counts from that publication, RFC 5011 §2.4.1).
/// It fails when the new SKR makes the standby of a recorded emergency sign
/// alone though no bundle of the previous SKR published it; it passes naming
/// each emergency it waives for (lost key, cause, declared, switch); `N/A`
/// when no emergency is recorded for a KSK of the previous SKR, or none has
/// its switch fixed. A revoked (compromised) lost key still obeys
/// KSR-CHAIN-KSK-REVOKE.
pub fn check_ksk_emergency(previous: &Skr, new: &Skr, emergencies: &[Emergency]) -> CheckResult {
    let rel = relevant(previous, emergencies);
    if rel.is_empty() {
        return CheckResult::not_applicable(KSR_CHAIN_KSK_EMERGENCY, "no emergency is recorded for a KSK of the previous SKR");
    }
    let (steps, _) = timeline(previous, new);
    let mut problems = Vec::new();
    let mut waivers = Vec::new();
    let mut pending = Vec::new();
    for e in rel {
        let (lost, standby) = (key_id(&e.lost), key_id(&e.standby));
        let (lt, st) = (plain_tag(&e.lost), plain_tag(&e.standby));
        let Some(sw) = e.switch else {
            pending.push(format!("KSK {lt}: {}: nothing is waived until the switch is fixed (kskit rollover emergency)", e.describe()));
            continue;
        };
        let solo = steps.iter().find(|s| s.new && s.at >= sw && matches!(s.signers.as_slice(), [x] if *x == standby));
        let published = steps.iter().find(|s| !s.new && s.ksks.iter().any(|(x, _)| *x == standby));
        let leaves = steps.iter().find(|s| s.new && s.at >= sw && !s.ksks.iter().any(|(x, _)| *x == lost));
        match (solo, published) {
            (None, _) if leaves.is_none() => {
                pending.push(format!("KSK {lt}: {}: the new SKR neither drops it nor has the standby sign alone: nothing waived", e.describe()));
            }
            (Some(s), None) => problems.push(format!(
                "standby KSK {st} of the emergency of KSK {lt} ({}) signs alone from {} but no bundle of the previous SKR published it: an emergency moves only to a pre-published standby",
                e.describe(),
                when(s)
            )),
            (solo, published) => {
                let what = if leaves.is_some() { "leaves early" } else { "stops signing early (still published)" };
                let mut w = format!("KSK {lt} {what}: {}", e.describe());
                if let Some(l) = leaves {
                    w.push_str(&format!("; it leaves the DNSKEY set at {}", when(l)));
                }
                if let (Some(s), Some(p)) = (solo, published) {
                    w.push_str(&format!("; standby KSK {st} (published in the previous SKR from {}) signs alone from {}", when(p), when(s)));
                }
                waivers.push(w);
            }
        }
    }
    if problems.is_empty() && waivers.is_empty() {
        return CheckResult::not_applicable(KSR_CHAIN_KSK_EMERGENCY, pending.join("; "));
    }
    waivers.extend(pending);
    CheckResult::from_problems(KSR_CHAIN_KSK_EMERGENCY, problems, waivers.join("; "))
}

/// The KSK schedule checks of `new` (the SKR about to be written) against
/// `previous` (the SKR of the cycle before; for an emergency SKR cut by
/// [`emergency_previous`]), with the emergencies the KSK side records.
pub fn check_ksk_schedule(previous: &Skr, new: &Skr, t: &KskSchedule, emergencies: &[Emergency]) -> Report {
    let mut r = Report::new();
    r.push(check_ksk_publish(previous, new, t, emergencies));
    r.push(check_ksk_retire(previous, new, t, emergencies));
    r.push(check_ksk_revoke(previous, new, t));
    r.push(check_ksk_emergency(previous, new, emergencies));
    r
}

#[cfg(test)]
mod tests;
