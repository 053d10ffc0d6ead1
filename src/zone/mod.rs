//! Zone verification: a whole signed zone, from any signer (Knot, BIND,
//! ldns, kskit), checked as a validator would see it (`kskit verify-zone`,
//! docs/verify-zone.md). Pure: parsed records, a trust anchor (and, with a
//! keystore, the SKR bundle in force), a time and a margin in; a report of
//! named problems out, each naming the owner and type at fault.
//!
//! Cost: the records are sorted once into canonical order (RFC 4034 §6.1)
//! and grouped into names and RRsets; every check is then one pass over
//! the names (the NSEC3 chain adds one sort of the hashed owners and a
//! binary search per insecure delegation), and every RRSIG is verified at
//! most once, only against keys whose tag and algorithm fit, with a cap on
//! failed attempts per RRset (`crate::dnssec::verify::verify_bounded`).
//!
//! The checks (ids in docs/checks.md "Zone checks"): [`checks`] for the
//! signatures, the trust anchor, the SKR bundle and delegations,
//! [`denial`] for the NSEC and NSEC3 chains.

pub mod checks;
pub mod denial;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dnssec::name::same_name;
use crate::dnssec::presentation::{format_name, type_mnemonic};
use crate::dnssec::{rtype, Dnskey, Ds, Name, RData, Record, Rrsig};
use crate::signzone::nsec::{canonical_key, CanonicalKey};
use crate::skr::checks::TrustAnchor;

pub use checks::{
    ZONE_APEX, ZONE_DELEGATION_UNSIGNED, ZONE_DNSKEY_TRUSTED, ZONE_RRSIG_ALGORITHMS, ZONE_RRSIG_TIME, ZONE_RRSIG_VALID,
    ZONE_SKR_BUNDLE,
};
pub use denial::{ZONE_DENIAL, ZONE_NSEC3_CHAIN, ZONE_NSEC3_PARAM, ZONE_NSEC_CHAIN};

/// Every zone check id, in the order [`verify_zone`] runs them.
pub const ALL: [&str; 11] = [
    ZONE_APEX,
    ZONE_RRSIG_VALID,
    ZONE_RRSIG_ALGORITHMS,
    ZONE_RRSIG_TIME,
    ZONE_DNSKEY_TRUSTED,
    ZONE_SKR_BUNDLE,
    ZONE_DELEGATION_UNSIGNED,
    ZONE_DENIAL,
    ZONE_NSEC_CHAIN,
    ZONE_NSEC3_PARAM,
    ZONE_NSEC3_CHAIN,
];

/// One problem: the check that found it, the owner and type at fault
/// (presentation form, escaped), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub check: &'static str,
    pub owner: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub message: String,
}

/// The DNSKEY, CDS and CDNSKEY RRsets of the SKR bundle in force, which a
/// zone signed under kskit's SKR timeline must publish as they are.
#[derive(Debug, Clone)]
pub struct SkrBundle {
    /// The bundle id and the SKR it comes from, for messages.
    pub label: String,
    pub dnskey: Vec<Dnskey>,
    pub cds: Vec<Ds>,
    pub cdnskey: Vec<Dnskey>,
}

/// Where trust in the zone's DNSKEY RRset comes from.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Keys the DNSKEY RRset must be signed by (a DS/DNSKEY file, or the
    /// KSKs that signed the SKR bundle in force).
    pub anchor: TrustAnchor,
    /// With a keystore: the bundle in force, compared with the zone.
    pub bundle: Option<SkrBundle>,
}

/// The time of the check and the margin.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seconds since the epoch.
    pub now: u64,
    /// Every RRset must stay validly signed until `now + valid_for` seconds.
    pub valid_for: u64,
}

/// Counts of what was checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub records: usize,
    /// Names holding authoritative data (apex and delegations included; NSEC3 owners not).
    pub names: usize,
    pub delegations: usize,
    /// Names at or below a delegation other than the delegation itself (glue, occluded).
    pub glue_names: usize,
    pub empty_non_terminals: usize,
    pub authoritative_rrsets: usize,
    pub rrsigs: usize,
    pub rrsigs_verified: usize,
    /// `"nsec"`, `"nsec3"`, `"nsec3-opt-out"`, `"nsec+nsec3"` or `"none"`.
    pub denial: String,
    pub nsec3_records: usize,
    /// DNSKEY algorithms of the apex, each of which must sign every authoritative RRset.
    pub algorithms: Vec<u8>,
}

/// One check's outcome in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    pub id: &'static str,
    /// `false` when the check does not apply (ZONE-SKR-BUNDLE without a
    /// keystore, the NSEC3 checks in an NSEC zone).
    pub applicable: bool,
    pub problems: usize,
}

/// The verdict on a zone.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneReport {
    pub zone: String,
    pub checks: Vec<CheckSummary>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
    pub stats: Stats,
}

impl ZoneReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Why a zone cannot be verified at all (as opposed to a problem in it).
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("the zone file holds no records")]
    Empty,
    #[error("the zone file has no SOA record: give the zone with --zone")]
    NoSoa,
    #[error("the zone file has SOA records at {0} and {1}: one zone per file")]
    ManySoa(String, String),
}

/// One RRset of the zone: TTL (the least of its records', RFC 2181 §5.2)
/// and RDATA, duplicates dropped.
#[derive(Debug, Clone)]
pub struct Set {
    pub ttl: u32,
    pub rdatas: Vec<RData>,
}

/// Where a name stands in the zone (RFC 4035 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Apex,
    /// Authoritative data.
    Authoritative,
    /// NS below the apex: only DS (and NSEC) are authoritative here.
    Delegation,
    /// Below a delegation: glue or occluded data, never signed.
    Glue,
    /// Holds only NSEC3 records (and their RRSIGs): a hashed owner name.
    Nsec3Owner,
}

/// One owner name with its RRsets and the RRSIGs over them.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: Name,
    pub key: CanonicalKey,
    pub kind: Kind,
    pub sets: BTreeMap<u16, Set>,
    /// RRSIGs by the type they cover.
    pub sigs: BTreeMap<u16, Vec<Rrsig>>,
}

impl Node {
    pub fn owner(&self) -> String {
        format_name(&self.name)
    }
    /// Holds no RRset other than NSEC3.
    fn only_nsec3(&self) -> bool {
        !self.sets.is_empty() && self.sets.keys().all(|t| *t == rtype::NSEC3)
    }
}

/// A zone in canonical order, every name classified.
#[derive(Debug, Clone)]
pub struct Zone {
    pub apex: Name,
    pub apex_key: CanonicalKey,
    /// In canonical order (RFC 4034 §6.1); the apex first.
    pub nodes: Vec<Node>,
    /// Records outside the zone (owner not at or below the apex).
    pub out_of_zone: Vec<(Name, u16)>,
}

impl Zone {
    pub fn apex_node(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.kind == Kind::Apex)
    }

    /// The apex DNSKEY RRset.
    pub fn dnskeys(&self) -> Vec<Dnskey> {
        self.apex_node()
            .and_then(|n| n.sets.get(&rtype::DNSKEY))
            .map(|s| s.rdatas.iter().filter_map(|r| if let RData::Dnskey(k) = r { Some(k.clone()) } else { None }).collect())
            .unwrap_or_default()
    }
}

/// The zone apex: `zone` when given, else the owner of the one SOA record.
pub fn find_apex(records: &[Record], zone: Option<&Name>) -> Result<Name, ZoneError> {
    if let Some(z) = zone {
        return Ok(z.to_lowercase());
    }
    if records.is_empty() {
        return Err(ZoneError::Empty);
    }
    let mut apex: Option<&Name> = None;
    for r in records.iter().filter(|r| r.rtype() == rtype::SOA) {
        match apex {
            Some(a) if !same_name(a, &r.name) => return Err(ZoneError::ManySoa(format_name(a), format_name(&r.name))),
            Some(_) => {}
            None => apex = Some(&r.name),
        }
    }
    apex.map(|a| a.to_lowercase()).ok_or(ZoneError::NoSoa)
}

/// Groups the records into names in canonical order (one sort) and
/// classifies each name: apex, authoritative, delegation (NS below the
/// apex), glue (below a delegation), NSEC3 owner.
pub fn build(apex: &Name, records: &[Record]) -> Zone {
    let apex_key = canonical_key(apex);
    let mut keyed: Vec<(CanonicalKey, usize)> = Vec::with_capacity(records.len());
    let mut out_of_zone = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let k = canonical_key(&r.name);
        if !k.starts_with(&apex_key) {
            out_of_zone.push((r.name.clone(), r.rtype()));
            continue;
        }
        keyed.push((k, i));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut nodes: Vec<Node> = Vec::new();
    for (k, i) in keyed {
        let r = &records[i];
        if nodes.last().is_none_or(|n| n.key != k) {
            nodes.push(Node { name: r.name.clone(), key: k, kind: Kind::Authoritative, sets: BTreeMap::new(), sigs: BTreeMap::new() });
        }
        let Some(node) = nodes.last_mut() else { continue };
        match &r.rdata {
            RData::Rrsig(s) => node.sigs.entry(s.type_covered).or_default().push(s.clone()),
            rd => {
                let set = node.sets.entry(r.rtype()).or_insert(Set { ttl: r.ttl, rdatas: Vec::new() });
                set.ttl = set.ttl.min(r.ttl);
                if !set.rdatas.contains(rd) {
                    set.rdatas.push(rd.clone());
                }
            }
        }
    }
    // Canonical order puts every name below a delegation right after it.
    let mut cut: Option<CanonicalKey> = None;
    for n in &mut nodes {
        if cut.as_ref().is_some_and(|c| n.key.len() > c.len() && n.key.starts_with(c)) {
            n.kind = Kind::Glue;
            continue;
        }
        cut = None;
        if n.key == apex_key {
            n.kind = Kind::Apex;
        } else if n.sets.contains_key(&rtype::NS) {
            n.kind = Kind::Delegation;
            cut = Some(n.key.clone());
        } else if n.only_nsec3() {
            n.kind = Kind::Nsec3Owner;
        }
    }
    Zone { apex: apex.to_lowercase(), apex_key, nodes, out_of_zone }
}

/// Collects problems for one check.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, check: &'static str, owner: &Name, t: u16, message: impl Into<String>) {
        self.0.push(Problem { check, owner: format_name(owner), rtype: type_mnemonic(t), message: message.into() });
    }
}

/// Verifies a signed zone: `records` as parsed from the zone file, `zone`
/// the apex (else the SOA owner), `trust` the trust anchor (and SKR bundle),
/// `opts` the time and margin. Every check of [`ALL`] runs; the report
/// lists each problem with its check id, owner and type.
pub fn verify_zone(records: &[Record], zone: Option<&Name>, trust: &Trust, opts: &Options) -> Result<ZoneReport, ZoneError> {
    let apex = find_apex(records, zone)?;
    let z = build(&apex, records);
    let mut stats = Stats { records: records.len(), ..Stats::default() };
    let mut notes = Vec::new();
    let mut summaries = Vec::new();
    let mut all = Vec::new();
    let mut add = |id: &'static str, applicable: bool, p: Vec<Problem>, all: &mut Vec<Problem>| {
        summaries.push(CheckSummary { id, applicable, problems: p.len() });
        all.extend(p);
    };

    add(ZONE_APEX, true, checks::check_apex(&z), &mut all);
    let sig = checks::check_signatures(&z, opts, &mut stats, &mut notes);
    add(ZONE_RRSIG_VALID, true, sig.invalid, &mut all);
    add(ZONE_RRSIG_ALGORITHMS, true, sig.algorithms, &mut all);
    add(ZONE_RRSIG_TIME, true, sig.time, &mut all);
    add(ZONE_DNSKEY_TRUSTED, true, checks::check_dnskey_trusted(&z, &trust.anchor, opts), &mut all);
    match &trust.bundle {
        Some(b) => add(ZONE_SKR_BUNDLE, true, checks::check_skr_bundle(&z, b), &mut all),
        None => add(ZONE_SKR_BUNDLE, false, Vec::new(), &mut all),
    }
    add(ZONE_DELEGATION_UNSIGNED, true, checks::check_delegations_unsigned(&z), &mut all);
    let d = denial::check_denial(&z, &mut stats);
    add(ZONE_DENIAL, true, d.denial, &mut all);
    add(ZONE_NSEC_CHAIN, d.nsec_applicable, d.nsec, &mut all);
    add(ZONE_NSEC3_PARAM, d.nsec3_applicable, d.nsec3_param, &mut all);
    add(ZONE_NSEC3_CHAIN, d.nsec3_applicable, d.nsec3, &mut all);

    for n in &z.nodes {
        match n.kind {
            Kind::Delegation => stats.delegations += 1,
            Kind::Glue => stats.glue_names += 1,
            _ => {}
        }
        if matches!(n.kind, Kind::Apex | Kind::Authoritative | Kind::Delegation) {
            stats.names += 1;
        }
    }
    Ok(ZoneReport { zone: format_name(&apex), checks: summaries, problems: all, notes, stats })
}

#[cfg(test)]
mod tests;
