//! The NSEC3 chain (RFC 5155 §7.1): one NSEC3 record per authoritative
//! name and per empty non-terminal, owner the base32hex hash of the name
//! under the apex, each pointing at the next hash in order; with opt-out,
//! unsigned delegations left out. Parameters follow RFC 9276 by default
//! (`Nsec3Param::rfc9276`: SHA-1, no extra iterations, empty salt).

use std::collections::{BTreeSet, HashSet};

use super::{wire, SignZoneError};
use crate::dnssec::denial::{base32hex, nsec3_hash_wire, Nsec3, Nsec3Param, NSEC3_FLAG_OPT_OUT, NSEC3_HASH_SHA1, NSEC3_MAX_ITERATIONS};

/// A name of the zone for the chain: `types` the RRset types at it (the
/// type bit map, RFC 5155 §3.2.1), or `None` for an unsigned delegation an
/// opt-out chain leaves out (it still makes its empty non-terminals).
pub struct Member<'a> {
    pub owner: &'a [u8],
    pub types: Option<Vec<u16>>,
}

/// The chain: (owner, NSEC3 RDATA) in canonical (= hash) order.
pub struct Chain {
    pub records: Vec<(Box<[u8]>, Box<[u8]>)>,
    pub empty_non_terminals: usize,
}

/// NSEC3 parameters the signer accepts: hash algorithm 1 (SHA-1, RFC 5155
/// §11, the only one defined), at most [`NSEC3_MAX_ITERATIONS`] extra
/// iterations (RFC 9276 §3.1 recommends 0; validators may treat more as
/// insecure, §3.2), a salt of at most 255 octets (RFC 5155 §3.1.5).
pub fn check_param(p: &Nsec3Param) -> Result<(), SignZoneError> {
    if p.hash_algorithm != NSEC3_HASH_SHA1 {
        return Err(SignZoneError::Nsec3Param(format!("hash algorithm {} is not defined (only 1, SHA-1)", p.hash_algorithm)));
    }
    if p.iterations > NSEC3_MAX_ITERATIONS {
        return Err(SignZoneError::Nsec3Param(format!(
            "{} iterations exceed the limit of {NSEC3_MAX_ITERATIONS} (RFC 9276 §3.1 recommends 0)",
            p.iterations
        )));
    }
    if p.salt.len() > 255 {
        return Err(SignZoneError::Nsec3Param("the salt is longer than 255 octets".into()));
    }
    Ok(())
}

/// Builds the chain over `members` (every name of the zone that is not
/// below a delegation) under `apex`. Empty non-terminals, names between
/// the apex and a member that own no RRset (`existing` holds the names
/// that do), get NSEC3 records with an empty type bit map (RFC 5155 §7.1;
/// those leading only to opted-out delegations are kept too, which RFC
/// 5155 allows). Distinct names with one hash are refused.
pub fn build(apex: &[u8], members: &[Member<'_>], existing: &HashSet<&[u8]>, param: &Nsec3Param, opt_out: bool) -> Result<Chain, SignZoneError> {
    let mut ents: BTreeSet<&[u8]> = BTreeSet::new();
    for m in members.iter().filter(|m| m.owner != apex) {
        // Every member is below the apex, so the walk ends there.
        for a in wire::ancestors(m.owner).take_while(|a| *a != apex) {
            if !existing.contains(a) {
                ents.insert(a);
            }
        }
    }
    let mut hashed: Vec<([u8; 20], &[u8], &[u16])> = Vec::with_capacity(members.len() + ents.len());
    for m in members {
        if let Some(t) = &m.types {
            hashed.push((nsec3_hash_wire(m.owner, &param.salt, param.iterations), m.owner, t));
        }
    }
    for e in &ents {
        hashed.push((nsec3_hash_wire(e, &param.salt, param.iterations), e, &[]));
    }
    hashed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = hashed.windows(2).find(|w| w[0].0 == w[1].0) {
        let (mut a, mut b) = (String::new(), String::new());
        wire::push_presentation(&mut a, w[0].1);
        wire::push_presentation(&mut b, w[1].1);
        return Err(SignZoneError::Nsec3Collision(a, b));
    }
    let flags = if opt_out { NSEC3_FLAG_OPT_OUT } else { 0 };
    let mut records = Vec::with_capacity(hashed.len());
    for (i, (h, _, types)) in hashed.iter().enumerate() {
        let next = hashed.get(i + 1).or(hashed.first()).map(|n| n.0).unwrap_or(*h);
        let rd = Nsec3 {
            hash_algorithm: param.hash_algorithm,
            flags,
            iterations: param.iterations,
            salt: param.salt.clone(),
            next_hashed: next.to_vec(),
            types: types.to_vec(),
        }
        .to_wire();
        let label = base32hex(h);
        let mut owner = Vec::with_capacity(1 + label.len() + apex.len());
        owner.push(label.len() as u8);
        owner.extend_from_slice(label.as_bytes());
        owner.extend_from_slice(apex);
        records.push((owner.into_boxed_slice(), rd.into_boxed_slice()));
    }
    Ok(Chain { records, empty_non_terminals: ents.len() })
}
