//! The signature, trust and delegation checks of zone verification. Each
//! is one named function with a stable id listed in docs/checks.md.

use std::collections::BTreeSet;

use super::{Kind, Node, Options, Problem, Problems, SkrBundle, Stats, Zone};
use crate::dnssec::name::same_name;
use crate::dnssec::presentation::type_mnemonic;
use crate::dnssec::verify::{rrsig_valid_at, verify_bounded, CanonicalRrset, FailBudget, VerifyLimits};
use crate::dnssec::{rtype, Algorithm, Dnskey, RData, RrSet, Rrsig};
use crate::skr::checks::TrustAnchor;
use crate::timeutil::format_rrsig_time;

pub const ZONE_APEX: &str = "ZONE-APEX";
pub const ZONE_RRSIG_VALID: &str = "ZONE-RRSIG-VALID";
pub const ZONE_RRSIG_ALGORITHMS: &str = "ZONE-RRSIG-ALGORITHMS";
pub const ZONE_RRSIG_TIME: &str = "ZONE-RRSIG-TIME";
pub const ZONE_DNSKEY_TRUSTED: &str = "ZONE-DNSKEY-TRUSTED";
pub const ZONE_SKR_BUNDLE: &str = "ZONE-SKR-BUNDLE";
pub const ZONE_DELEGATION_UNSIGNED: &str = "ZONE-DELEGATION-UNSIGNED";

fn alg_name(a: u8) -> String {
    match Algorithm::from_number(a) {
        Ok(al) => format!("{a} ({al})"),
        Err(_) => a.to_string(),
    }
}

/// ZONE-APEX: the zone has one SOA record, at its apex, an apex NS and
/// DNSKEY RRset, and no record outside the apex's subtree (RFC 1035 §5.2,
/// RFC 1034 §4.2.1; RFC 4035 §2.1: a signed zone publishes its DNSKEY
/// RRset at the apex).
pub fn check_apex(z: &Zone) -> Vec<Problem> {
    let mut p = Problems::default();
    for (name, t) in &z.out_of_zone {
        p.push(ZONE_APEX, name, *t, format!("outside the zone {}", crate::dnssec::presentation::format_name(&z.apex)));
    }
    match z.apex_node() {
        None => p.push(ZONE_APEX, &z.apex, rtype::SOA, "no record at the zone apex"),
        Some(a) => {
            match a.sets.get(&rtype::SOA).map(|s| s.rdatas.len()) {
                None => p.push(ZONE_APEX, &a.name, rtype::SOA, "no SOA record at the zone apex"),
                Some(1) => {}
                Some(n) => p.push(ZONE_APEX, &a.name, rtype::SOA, format!("{n} SOA records; exactly one is allowed")),
            }
            if !a.sets.contains_key(&rtype::NS) {
                p.push(ZONE_APEX, &a.name, rtype::NS, "no NS RRset at the zone apex");
            }
            if !a.sets.contains_key(&rtype::DNSKEY) {
                p.push(ZONE_APEX, &a.name, rtype::DNSKEY, "no DNSKEY RRset at the zone apex: the zone is not signed");
            }
        }
    }
    for n in z.nodes.iter().filter(|n| n.kind != Kind::Apex && n.sets.contains_key(&rtype::SOA)) {
        p.push(ZONE_APEX, &n.name, rtype::SOA, "SOA record below the zone apex");
    }
    p.0
}

/// The RRsets of a node that must be signed (RFC 4035 §2.2): every RRset
/// at the apex and at authoritative names and NSEC3 owners; at a
/// delegation only DS and NSEC; nothing below a delegation.
pub fn signed_types(n: &Node) -> Vec<u16> {
    match n.kind {
        Kind::Glue => Vec::new(),
        Kind::Delegation => n.sets.keys().copied().filter(|t| *t == rtype::DS || *t == rtype::NSEC).collect(),
        Kind::Apex | Kind::Authoritative | Kind::Nsec3Owner => n.sets.keys().copied().collect(),
    }
}

/// The problems of the three signature checks.
#[derive(Debug, Default)]
pub struct SignatureProblems {
    pub invalid: Vec<Problem>,
    pub algorithms: Vec<Problem>,
    pub time: Vec<Problem>,
}

/// The signature checks over every authoritative RRset, each RRSIG
/// verified once:
///
/// - ZONE-RRSIG-VALID: every RRSIG by a key of the apex DNSKEY RRset
///   verifies, names the apex as signer and covers an RRset that exists
///   (RFC 4035 §5.3.1; RFC 4034 §3.1.7). RRSIGs by keys not in the DNSKEY
///   RRset (a key rolled out) are counted in a note, not failed: validators
///   ignore them.
/// - ZONE-RRSIG-ALGORITHMS: for each algorithm of the apex DNSKEY RRset,
///   every authoritative RRset has an RRSIG by a key of that algorithm in
///   the RRset (RFC 4035 §2.2, RFC 6840 §5.11).
/// - ZONE-RRSIG-TIME: for each algorithm, a verifying RRSIG is valid at
///   the time of the check and until the margin has passed (RFC 4034
///   §3.1.5, RFC 4035 §5.3.1; RFC 6781 §4.4.2 for the margin).
pub fn check_signatures(z: &Zone, opts: &Options, stats: &mut Stats, notes: &mut Vec<String>) -> SignatureProblems {
    let mut out = SignatureProblems::default();
    let keys: Vec<Dnskey> = z.dnskeys();
    let key_refs: Vec<&Dnskey> = keys.iter().collect();
    let tags: Vec<u16> = keys.iter().map(Dnskey::key_tag).collect();
    let algs: BTreeSet<u8> = keys.iter().filter(|k| k.is_zone_key() && !k.is_revoked()).map(|k| k.algorithm).collect();
    stats.algorithms = algs.iter().copied().collect();
    // Failed attempts are capped per RRset (KeyTrap): verification stays
    // linear in the zone's size.
    let limits = VerifyLimits { max_failed_total: usize::MAX, ..VerifyLimits::default() };
    let until = opts.now.saturating_add(opts.valid_for);
    let mut foreign = 0usize;
    let mut invalid = Problems::default();
    let mut algorithms = Problems::default();
    let mut time = Problems::default();
    for n in &z.nodes {
        stats.rrsigs += n.sigs.values().map(Vec::len).sum::<usize>();
        for t in n.sigs.keys() {
            if !n.sets.contains_key(t) {
                invalid.push(ZONE_RRSIG_VALID, &n.name, *t, format!("RRSIG over {} but no such RRset here", type_mnemonic(*t)));
            }
        }
        for t in signed_types(n) {
            let Some(set) = n.sets.get(&t) else { continue };
            stats.authoritative_rrsets += 1;
            let Ok(rrset) = RrSet::new(n.name.clone(), set.ttl, set.rdatas.clone()) else { continue };
            let canon = CanonicalRrset::new(rrset);
            let sigs: &[Rrsig] = n.sigs.get(&t).map(Vec::as_slice).unwrap_or(&[]);
            let mut budget = FailBudget::default();
            // Per algorithm: (RRSIGs by a DNSKEY-set key, the best verified validity).
            let mut by_alg: std::collections::BTreeMap<u8, (usize, Vec<&Rrsig>)> = std::collections::BTreeMap::new();
            for s in sigs {
                if !same_name(&s.signer_name, &z.apex) {
                    invalid.push(ZONE_RRSIG_VALID, &n.name, t, format!("RRSIG by key {} names signer {}, not the zone apex", s.key_tag, crate::dnssec::presentation::format_name(&s.signer_name)));
                    continue;
                }
                let known = keys.iter().any(|k| k.key_tag() == s.key_tag && k.algorithm == s.algorithm);
                if !known {
                    foreign += 1;
                    continue;
                }
                let e = by_alg.entry(s.algorithm).or_default();
                e.0 += 1;
                match verify_bounded(&canon, s, &key_refs, &tags, &limits, &mut budget) {
                    Ok(_) => {
                        stats.rrsigs_verified += 1;
                        e.1.push(s);
                    }
                    Err(why) => invalid.push(ZONE_RRSIG_VALID, &n.name, t, format!("RRSIG by key {} (algorithm {}) does not verify: {why}", s.key_tag, s.algorithm)),
                }
            }
            for a in &algs {
                let (tried, ok) = by_alg.get(a).map(|(n, v)| (*n, v.as_slice())).unwrap_or((0, &[]));
                if tried == 0 {
                    algorithms.push(ZONE_RRSIG_ALGORITHMS, &n.name, t, format!("no RRSIG by a key of algorithm {} of the DNSKEY RRset", alg_name(*a)));
                    continue;
                }
                if ok.is_empty() {
                    continue; // each failure is a ZONE-RRSIG-VALID problem already
                }
                let now32 = opts.now as u32;
                let current: Vec<&&Rrsig> = ok.iter().filter(|s| rrsig_valid_at(s, opts.now)).collect();
                if current.is_empty() {
                    let s = ok[0];
                    let msg = if rrsig_valid_at(s, until.max(opts.now)) || (s.inception.wrapping_sub(now32) as i32) > 0 {
                        format!("algorithm {}: RRSIG by key {} is not valid yet (inception {})", alg_name(*a), s.key_tag, format_rrsig_time(s.inception))
                    } else {
                        format!("algorithm {}: RRSIG by key {} expired at {}", alg_name(*a), s.key_tag, format_rrsig_time(s.expiration))
                    };
                    time.push(ZONE_RRSIG_TIME, &n.name, t, msg);
                    continue;
                }
                if !current.iter().any(|s| rrsig_valid_at(s, until)) {
                    let last = current.iter().map(|s| s.expiration).max_by_key(|e| e.wrapping_sub(now32)).unwrap_or(0);
                    time.push(
                        ZONE_RRSIG_TIME,
                        &n.name,
                        t,
                        format!("algorithm {}: the RRSIG expires at {}, within the margin of {} s (until {})", alg_name(*a), format_rrsig_time(last), opts.valid_for, format_rrsig_time(until as u32)),
                    );
                }
            }
        }
    }
    if foreign > 0 {
        notes.push(format!("{foreign} RRSIG(s) by keys not in the apex DNSKEY RRset were ignored, as validators ignore them"));
    }
    if algs.is_empty() {
        notes.push("the apex has no DNSKEY zone key: no RRset can validate".into());
    }
    out.invalid = invalid.0;
    out.algorithms = algorithms.0;
    out.time = time.0;
    out
}

/// ZONE-DNSKEY-TRUSTED: the apex DNSKEY RRset carries an RRSIG by a
/// non-revoked key of that RRset which the trust anchor pins (a matching
/// DS or an equal DNSKEY), verifying and valid now and through the margin:
/// where a validator's chain of trust enters the zone (RFC 4035 §5.2,
/// RFC 5011 §2.1 for revoked keys). The trust anchor must be for the zone.
pub fn check_dnskey_trusted(z: &Zone, ta: &TrustAnchor, opts: &Options) -> Vec<Problem> {
    let mut p = Problems::default();
    if !same_name(&ta.domain, &z.apex) {
        p.push(
            ZONE_DNSKEY_TRUSTED,
            &z.apex,
            rtype::DNSKEY,
            format!("the trust anchor is for {}, not for this zone", crate::dnssec::presentation::format_name(&ta.domain)),
        );
        return p.0;
    }
    let Some(apex) = z.apex_node() else { return p.0 };
    let Some(set) = apex.sets.get(&rtype::DNSKEY) else {
        p.push(ZONE_DNSKEY_TRUSTED, &z.apex, rtype::DNSKEY, "no DNSKEY RRset to anchor");
        return p.0;
    };
    let keys: Vec<Dnskey> = set.rdatas.iter().filter_map(|r| if let RData::Dnskey(k) = r { Some(k.clone()) } else { None }).collect();
    let pinned: Vec<&Dnskey> = keys.iter().filter(|k| ta.pins(k) && !k.is_revoked()).collect();
    if pinned.is_empty() {
        p.push(ZONE_DNSKEY_TRUSTED, &z.apex, rtype::DNSKEY, format!("no key of the DNSKEY RRset (key tags {}) is pinned by the trust anchor", tag_list(keys.iter())));
        return p.0;
    }
    let Ok(rrset) = RrSet::new(z.apex.clone(), set.ttl, set.rdatas.clone()) else { return p.0 };
    let canon = CanonicalRrset::new(rrset);
    let tags: Vec<u16> = pinned.iter().map(|k| k.key_tag()).collect();
    let limits = VerifyLimits::default();
    let mut budget = FailBudget::default();
    let until = opts.now.saturating_add(opts.valid_for);
    let mut verified: Vec<&Rrsig> = Vec::new();
    for s in apex.sigs.get(&rtype::DNSKEY).into_iter().flatten() {
        if same_name(&s.signer_name, &z.apex) && verify_bounded(&canon, s, &pinned, &tags, &limits, &mut budget).is_ok() {
            verified.push(s);
        }
    }
    if verified.is_empty() {
        p.push(ZONE_DNSKEY_TRUSTED, &z.apex, rtype::DNSKEY, format!("no verifying RRSIG by a trust-anchored key (key tags {})", tag_list(pinned.iter().copied())));
    } else if !verified.iter().any(|s| rrsig_valid_at(s, opts.now) && rrsig_valid_at(s, until)) {
        let s = verified[0];
        p.push(
            ZONE_DNSKEY_TRUSTED,
            &z.apex,
            rtype::DNSKEY,
            format!("the RRSIG by trust-anchored key {} is valid {} .. {}, not from now through the margin", s.key_tag, format_rrsig_time(s.inception), format_rrsig_time(s.expiration)),
        );
    }
    p.0
}

fn tag_list<'a>(keys: impl Iterator<Item = &'a Dnskey>) -> String {
    let v: Vec<String> = keys.map(|k| k.key_tag().to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// ZONE-SKR-BUNDLE: with kskit's keystore, the zone's DNSKEY, CDS and
/// CDNSKEY RRsets are exactly those of the SKR bundle in force (records
/// compared as canonical RDATA sets): the KSK side signed those and no
/// other (docs/handoff.md; RFC 6781 §4.1 pre-published keys come from the
/// SKR, RFC 7344 §4 CDS/CDNSKEY signed by the KSK).
pub fn check_skr_bundle(z: &Zone, b: &SkrBundle) -> Vec<Problem> {
    let mut p = Problems::default();
    let apex = z.apex_node();
    let zone_set = |t: u16| -> BTreeSet<Vec<u8>> {
        apex.and_then(|a| a.sets.get(&t)).map(|s| s.rdatas.iter().map(RData::to_wire).collect()).unwrap_or_default()
    };
    let want = [
        (rtype::DNSKEY, b.dnskey.iter().map(Dnskey::to_wire).collect::<BTreeSet<_>>()),
        (rtype::CDS, b.cds.iter().map(|d| d.to_wire()).collect()),
        (rtype::CDNSKEY, b.cdnskey.iter().map(Dnskey::to_wire).collect()),
    ];
    for (t, want) in want {
        let have = zone_set(t);
        if have == want {
            continue;
        }
        let extra = have.difference(&want).count();
        let missing = want.difference(&have).count();
        let what = if t == rtype::DNSKEY {
            let tags = |s: &BTreeSet<Vec<u8>>, o: &BTreeSet<Vec<u8>>| -> String {
                let v: Vec<String> = s.difference(o).map(|w| crate::dnssec::rdata::key_tag_of_rdata(w).to_string()).collect();
                if v.is_empty() {
                    "none".into()
                } else {
                    v.join(", ")
                }
            };
            format!("key tags only in the zone: {}; only in the bundle: {}", tags(&have, &want), tags(&want, &have))
        } else {
            format!("{extra} record(s) only in the zone, {missing} only in the bundle")
        };
        p.push(ZONE_SKR_BUNDLE, &z.apex, t, format!("the {} RRset is not the one of SKR bundle {}: {what}", type_mnemonic(t), b.label));
    }
    p.0
}

/// ZONE-DELEGATION-UNSIGNED: at a delegation only the DS and NSEC RRsets
/// are signed (the NS RRset and glue belong to the child, RFC 4035 §2.2),
/// and names below a delegation carry no RRSIG, NSEC or NSEC3 (RFC 4035
/// §2.2, §2.3). An unsigned DS is ZONE-RRSIG-ALGORITHMS'.
pub fn check_delegations_unsigned(z: &Zone) -> Vec<Problem> {
    let mut p = Problems::default();
    for n in &z.nodes {
        match n.kind {
            Kind::Delegation => {
                for t in n.sigs.keys().filter(|t| **t != rtype::DS && **t != rtype::NSEC) {
                    p.push(ZONE_DELEGATION_UNSIGNED, &n.name, *t, format!("the delegation's {} RRset is signed: only DS and NSEC are authoritative at a delegation", type_mnemonic(*t)));
                }
            }
            Kind::Glue => {
                for t in n.sigs.keys() {
                    p.push(ZONE_DELEGATION_UNSIGNED, &n.name, *t, "glue (or data below a delegation) is signed");
                }
                if n.sets.contains_key(&rtype::NSEC) {
                    p.push(ZONE_DELEGATION_UNSIGNED, &n.name, rtype::NSEC, "NSEC below a delegation");
                }
            }
            _ => {}
        }
    }
    p.0
}
