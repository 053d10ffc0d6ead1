//! The signer as it was before the compact, streaming rewrite (commit
//! 7b1f74a), kept only for tests: the new signer must produce the same
//! zone, record for record, for NSEC (see `tests.rs`).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};

use rand::Rng;

use super::nsec::{canonical_key, format_nsec_rdata, nsec_record, CanonicalKey};
use super::{check_algorithm_rule, check_in_zone, check_soa, check_zsks_published, is_replaced, SignOptions, SignStats, SignZoneError, SignedZone};
use crate::backends::Signer;
use crate::dnssec::name::to_presentation;
use crate::dnssec::presentation::format_record;
use crate::dnssec::sign::sign_rrset;
use crate::dnssec::{rtype, DnssecError, Dnskey, Name, RData, Record, RrSet, Rrsig};

fn p(n: &Name) -> String {
    to_presentation(n)
}

/// An RRset of the input: TTL and RDATA.
type OwnSet = (u32, Vec<RData>);

#[derive(Debug, Default)]
struct Node {
    name: Option<Name>,
    /// type -> (TTL, RDATA)
    sets: BTreeMap<u16, (u32, Vec<RData>)>,
}

/// A CNAME owner has no other data (RFC 1034 §3.6.2, RFC 2181 §10.1; only
/// the DNSSEC records RRSIG and NSEC may sit beside it, RFC 4035 §2.5).
fn check_cname_exclusive(node: &Node) -> Result<(), SignZoneError> {
    if node.sets.contains_key(&rtype::CNAME) && node.sets.len() > 1 {
        return Err(SignZoneError::CnameAndOther(node.name.as_ref().map(p).unwrap_or_default()));
    }
    Ok(())
}

/// DS RRsets only at delegation points, never at the apex (RFC 4035 §2.4,
/// RFC 4034 §5: the DS is the parent's record of a child zone).
fn check_ds_placement(node: &Node, is_apex: bool, is_delegation: bool) -> Result<(), SignZoneError> {
    if !node.sets.contains_key(&rtype::DS) {
        return Ok(());
    }
    let name = node.name.as_ref().map(p).unwrap_or_default();
    if is_apex {
        return Err(SignZoneError::DsAtApex(name));
    }
    if !is_delegation {
        return Err(SignZoneError::DsWithoutDelegation(name));
    }
    Ok(())
}

/// [`sign_zone`] during an algorithm rollover: `unpublished` ZSKs sign every
/// authoritative RRset too although the plan keeps them out of the DNSKEY
/// RRset — the new algorithm's ZSK before its DNSKEY is published, the old
/// one after its DNSKEY is gone (RFC 6781 §4.1.4 "new RRSIGs" and "DNSKEY
/// removal"). Validators ignore those RRSIGs; they are there for resolvers
/// whose cached DNSKEY RRset is older or newer than the zone's. They do not
/// count for the algorithm rule: each algorithm of the DNSKEY RRset still
/// needs a published ZSK.
pub fn reference_sign_zone_rolling(
    zone: &Name,
    input: &[Record],
    presigned: &[Record],
    zsks: &[&dyn Signer],
    unpublished: &[&dyn Signer],
    opts: &SignOptions,
) -> Result<SignedZone, SignZoneError> {
    let zone = zone.to_lowercase();
    let records: Vec<Record> = input
        .iter()
        .filter(|r| !is_replaced(r))
        .map(|r| Record::new(r.name.to_lowercase(), r.ttl, r.rdata.clone()))
        .collect();
    check_in_zone(&zone, &records)?;
    check_in_zone(&zone, presigned)?;
    let nsec_ttl = check_soa(&zone, &records)?;
    let dnskeys: Vec<Dnskey> = presigned
        .iter()
        .filter_map(|r| match &r.rdata {
            RData::Dnskey(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    check_zsks_published(zsks, &dnskeys)?;
    check_algorithm_rule(zsks, &dnskeys)?;
    let all: Vec<&dyn Signer> = zsks.iter().chain(unpublished).copied().collect();
    let zsks: &[&dyn Signer] = &all;

    // Group into names and RRsets; an RRset's TTL is the least of its
    // records' (RFC 2181 §5.2), duplicate RDATA dropped (RFC 2181 §5).
    let mut nodes: BTreeMap<CanonicalKey, Node> = BTreeMap::new();
    for r in &records {
        let node = nodes.entry(canonical_key(&r.name)).or_default();
        node.name.get_or_insert_with(|| r.name.clone());
        let set = node.sets.entry(r.rtype()).or_insert((r.ttl, Vec::new()));
        set.0 = set.0.min(r.ttl);
        if !set.1.contains(&r.rdata) {
            set.1.push(r.rdata.clone());
        }
    }
    let apex_key = canonical_key(&zone);
    if !nodes.get(&apex_key).is_some_and(|n| n.sets.contains_key(&rtype::NS)) {
        return Err(SignZoneError::NoApexNs(p(&zone)));
    }
    // Pre-signed apex RRsets, by type: (records, RRSIGs covering them).
    let mut pre: BTreeMap<u16, (Vec<Record>, Vec<Record>)> = BTreeMap::new();
    for r in presigned {
        match &r.rdata {
            RData::Rrsig(s) => pre.entry(s.type_covered).or_default().1.push(r.clone()),
            _ => pre.entry(r.rtype()).or_default().0.push(r.clone()),
        }
    }
    pre.retain(|_, (recs, _)| !recs.is_empty());

    let delegations: HashSet<CanonicalKey> =
        nodes.iter().filter(|(k, n)| **k != apex_key && n.sets.contains_key(&rtype::NS)).map(|(k, _)| k.clone()).collect();
    let below_delegation = |k: &CanonicalKey| (apex_key.len() + 1..k.len()).any(|l| k.get(..l).is_some_and(|a| delegations.contains(a)));

    // Decide, per name, what is signed and which names get an NSEC.
    let mut stats = SignStats::default();
    let mut chain: Vec<CanonicalKey> = Vec::new();
    for (k, node) in &nodes {
        let is_apex = *k == apex_key;
        let is_delegation = delegations.contains(k);
        if below_delegation(k) {
            stats.glue_names += 1;
            continue;
        }
        check_cname_exclusive(node)?;
        check_ds_placement(node, is_apex, is_delegation)?;
        if is_delegation {
            stats.delegations += 1;
        }
        chain.push(k.clone());
    }
    stats.names = chain.len();

    // The NSEC chain over the authoritative names, closing at the apex.
    let mut nsecs: BTreeMap<CanonicalKey, Record> = BTreeMap::new();
    for (i, k) in chain.iter().enumerate() {
        let Some(node) = nodes.get(k) else { continue };
        let Some(owner) = node.name.clone() else { continue };
        let next_key = chain.get(i + 1).unwrap_or(&apex_key);
        let next = nodes.get(next_key).and_then(|n| n.name.clone()).unwrap_or_else(|| zone.clone());
        let mut types: Vec<u16> = node.sets.keys().copied().collect();
        if *k == apex_key {
            types.extend(pre.keys().copied());
        }
        // The NSEC itself is signed at every name, so RRSIG is always in
        // the bitmap, even at a delegation without DS (RFC 4034 §4.1.2).
        types.push(rtype::NSEC);
        types.push(rtype::RRSIG);
        nsecs.insert(k.clone(), nsec_record(&owner, &next, &types, nsec_ttl));
    }

    // Everything to sign with the ZSKs, in output order.
    let mut to_sign: Vec<RrSet> = Vec::new();
    for k in &chain {
        let Some(node) = nodes.get(k) else { continue };
        let Some(owner) = node.name.clone() else { continue };
        let is_delegation = delegations.contains(k);
        for (t, (ttl, rdatas)) in &node.sets {
            if is_delegation && *t != rtype::DS {
                continue;
            }
            to_sign.push(RrSet::new(owner.clone(), *ttl, rdatas.clone())?);
        }
        if let Some(n) = nsecs.get(k) {
            to_sign.push(RrSet::from_records(std::slice::from_ref(n))?);
        }
    }
    let sigs = sign_all(&to_sign, zsks, &zone, opts)?;
    stats.rrsets_signed = to_sign.len();
    stats.signatures = sigs.iter().map(Vec::len).sum();
    let mut sig_of: BTreeMap<(CanonicalKey, u16), Vec<Rrsig>> = BTreeMap::new();
    for (set, s) in to_sign.iter().zip(sigs) {
        sig_of.insert((canonical_key(&set.name), set.rtype), s);
    }

    // Output: names in canonical order; SOA first at the apex, then types in
    // numeric order, each RRset followed by its RRSIGs.
    let mut out: Vec<Record> = Vec::with_capacity(records.len() * 2 + presigned.len());
    for (k, node) in &nodes {
        let Some(owner) = node.name.clone() else { continue };
        let is_apex = *k == apex_key;
        // (type, own RRset or None for a pre-signed one)
        let mut sets: Vec<(u16, Option<OwnSet>)> = node.sets.iter().map(|(t, (ttl, rd))| (*t, Some((*ttl, rd.clone())))).collect();
        if let Some(n) = nsecs.get(k) {
            sets.push((rtype::NSEC, Some((n.ttl, vec![n.rdata.clone()]))));
        }
        if is_apex {
            sets.extend(pre.keys().map(|t| (*t, None)));
        }
        sets.sort_by_key(|(t, _)| (*t != rtype::SOA, *t));
        for (t, set) in sets {
            match set {
                Some((ttl, rdatas)) => {
                    out.extend(rdatas.into_iter().map(|rd| Record::new(owner.clone(), ttl, rd)));
                    if let Some(s) = sig_of.get(&(k.clone(), t)) {
                        out.extend(s.iter().map(|g| Record::new(owner.clone(), ttl, RData::Rrsig(g.clone()))));
                    }
                }
                None => {
                    if let Some((recs, rsigs)) = pre.get(&t) {
                        out.extend(recs.iter().cloned());
                        out.extend(rsigs.iter().cloned());
                    }
                }
            }
        }
    }
    Ok(SignedZone { zone, records: out, stats })
}

/// Signs each RRset with every ZSK, on `opts.threads` threads; the result
/// is in the order of `sets`. Each signature is verified before use
/// (`crate::dnssec::sign::sign_rrset`).
fn sign_all(sets: &[RrSet], zsks: &[&dyn Signer], signer_name: &Name, opts: &SignOptions) -> Result<Vec<Vec<Rrsig>>, SignZoneError> {
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let validity = opts.expiration.wrapping_sub(opts.inception);
    let jitter = opts.jitter.min(validity / 2);
    let threads = opts.threads.clamp(1, sets.len());
    let chunk = sets.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = sets
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<Vec<Vec<Rrsig>>, DnssecError> {
                    let mut rng = rand::thread_rng();
                    part.iter()
                        .map(|set| {
                            let exp = opts.expiration.wrapping_sub(if jitter > 0 { rng.gen_range(0..=jitter) } else { 0 });
                            zsks.iter().map(|k| sign_rrset(*k, set, signer_name, opts.inception, exp)).collect()
                        })
                        .collect()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(sets.len());
        for h in handles {
            let part = h.join().map_err(|_| DnssecError::Signing("a signing thread panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// The signed zone in presentation format, one record per line (NSEC
/// written with type mnemonics), after a comment header `header`.
pub fn reference_format_zone(z: &SignedZone, header: &str) -> String {
    let mut s = String::new();
    for l in header.lines() {
        s.push_str("; ");
        s.push_str(l);
        s.push('\n');
    }
    for r in &z.records {
        match &r.rdata {
            RData::Other { rtype: rtype::NSEC, data } => match format_nsec_rdata(data) {
                Some(rd) => s.push_str(&format!("{} {} IN NSEC {rd}", crate::dnssec::presentation::format_name(&r.name), r.ttl)),
                None => s.push_str(&format_record(r)),
            },
            _ => s.push_str(&format_record(r)),
        }
        s.push('\n');
    }
    s
}

