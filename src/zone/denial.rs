//! The authenticated-denial checks of zone verification: the NSEC chain
//! (RFC 4034 §4, RFC 4035 §2.3) and the NSEC3 chain (RFC 5155 §7.1,
//! opt-out included). Built on `crate::dnssec::denial` (record data, type
//! bit maps, the NSEC3 hash).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{Kind, Node, Problem, Problems, Stats, Zone};
use crate::dnssec::denial::{base32hex, base32hex_decode, nsec3_hash, Nsec, Nsec3, Nsec3Param, NSEC3_HASH_SHA1, NSEC3_MAX_ITERATIONS};
use crate::dnssec::presentation::{format_name, type_mnemonic};
use crate::dnssec::{rtype, Name, RData};
use crate::signzone::nsec::{canonical_key, CanonicalKey};

pub const ZONE_DENIAL: &str = "ZONE-DENIAL";
pub const ZONE_NSEC_CHAIN: &str = "ZONE-NSEC-CHAIN";
pub const ZONE_NSEC3_PARAM: &str = "ZONE-NSEC3-PARAM";
pub const ZONE_NSEC3_CHAIN: &str = "ZONE-NSEC3-CHAIN";

/// The problems of the denial checks, and which apply.
#[derive(Debug, Default)]
pub struct DenialProblems {
    pub denial: Vec<Problem>,
    pub nsec_applicable: bool,
    pub nsec: Vec<Problem>,
    pub nsec3_applicable: bool,
    pub nsec3_param: Vec<Problem>,
    pub nsec3: Vec<Problem>,
}

fn types_text(t: &BTreeSet<u16>) -> String {
    if t.is_empty() {
        return "none".into();
    }
    t.iter().map(|t| type_mnemonic(*t)).collect::<Vec<_>>().join(" ")
}

fn bitmap_diff(have: &BTreeSet<u16>, want: &BTreeSet<u16>) -> String {
    let extra: BTreeSet<u16> = have.difference(want).copied().collect();
    let missing: BTreeSet<u16> = want.difference(have).copied().collect();
    format!("the type bit map lists {}; expected {} (extra: {}; missing: {})", types_text(have), types_text(want), types_text(&extra), types_text(&missing))
}

fn rdata_wires(n: &Node, t: u16) -> Vec<Vec<u8>> {
    n.sets.get(&t).map(|s| s.rdatas.iter().map(RData::to_wire).collect()).unwrap_or_default()
}

/// Runs ZONE-DENIAL, then the NSEC checks when the zone has NSEC records
/// and the NSEC3 checks when it has NSEC3 or NSEC3PARAM records.
pub fn check_denial(z: &Zone, stats: &mut Stats) -> DenialProblems {
    let has_nsec = z.nodes.iter().any(|n| n.sets.contains_key(&rtype::NSEC));
    let has_nsec3 = z.nodes.iter().any(|n| n.sets.contains_key(&rtype::NSEC3) || n.sets.contains_key(&rtype::NSEC3PARAM));
    let mut out = DenialProblems { denial: check_denial_present(z, has_nsec, has_nsec3), ..Default::default() };
    stats.empty_non_terminals = empty_non_terminals(z).len();
    if has_nsec {
        out.nsec_applicable = true;
        out.nsec = check_nsec_chain(z);
    }
    if has_nsec3 {
        out.nsec3_applicable = true;
        let (param, params) = check_nsec3_param(z);
        out.nsec3_param = param;
        let (chain, opt_out, count) = check_nsec3_chain(z, params.as_ref());
        out.nsec3 = chain;
        stats.nsec3_records = count;
        stats.denial = match (has_nsec, opt_out) {
            (true, _) => "nsec+nsec3".into(),
            (false, true) => "nsec3-opt-out".into(),
            (false, false) => "nsec3".into(),
        };
    } else {
        stats.denial = if has_nsec { "nsec".into() } else { "none".into() };
    }
    out
}

/// ZONE-DENIAL: the zone has an NSEC or an NSEC3 chain; without one no
/// negative answer can be proven (RFC 4035 §2.3, RFC 5155 §7.1).
pub fn check_denial_present(z: &Zone, has_nsec: bool, has_nsec3: bool) -> Vec<Problem> {
    let mut p = Problems::default();
    if !has_nsec && !has_nsec3 {
        p.push(ZONE_DENIAL, &z.apex, rtype::NSEC, "the zone has neither an NSEC nor an NSEC3 chain");
    }
    p.0
}

/// The names whose NSEC type bit map the chain must carry, with the types:
/// every RRset at authoritative names plus NSEC and RRSIG (RFC 4035 §2.3);
/// at a delegation NS, DS when present, NSEC and RRSIG (RFC 4034 §4.1.2).
fn nsec_expected_types(n: &Node) -> BTreeSet<u16> {
    let mut t: BTreeSet<u16> = match n.kind {
        Kind::Delegation => n.sets.keys().copied().filter(|t| matches!(*t, rtype::NS | rtype::DS)).collect(),
        _ => n.sets.keys().copied().filter(|t| *t != rtype::NSEC3).collect(),
    };
    t.insert(rtype::NSEC);
    t.insert(rtype::RRSIG);
    t
}

/// ZONE-NSEC-CHAIN: every name with authoritative data and every
/// delegation has exactly one NSEC record; its next name is the next such
/// name in canonical order, the last pointing back to the apex; its type
/// bit map lists exactly the types present (RFC 4034 §4.1.1, §4.1.2, §6.1;
/// RFC 4035 §2.3). No NSEC sits below a delegation or at an NSEC3 owner.
pub fn check_nsec_chain(z: &Zone) -> Vec<Problem> {
    let mut p = Problems::default();
    let chain: Vec<&Node> = z.nodes.iter().filter(|n| matches!(n.kind, Kind::Apex | Kind::Authoritative | Kind::Delegation)).collect();
    for (i, n) in chain.iter().enumerate() {
        let next_name: &Name = chain.get(i + 1).map_or(&z.apex, |m| &m.name);
        let wires = rdata_wires(n, rtype::NSEC);
        let rd = match wires.as_slice() {
            [] => {
                p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, format!("no NSEC record: the chain skips this name (the next name is {})", format_name(next_name)));
                continue;
            }
            [one] => one,
            more => {
                p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, format!("{} NSEC records; exactly one is allowed", more.len()));
                continue;
            }
        };
        let nsec = match Nsec::from_wire(rd) {
            Ok(x) => x,
            Err(e) => {
                p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, e.to_string());
                continue;
            }
        };
        if canonical_key(&nsec.next) != canonical_key(next_name) {
            p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, format!("the next name is {}; the next name of the zone is {}", format_name(&nsec.next), format_name(next_name)));
        }
        let have: BTreeSet<u16> = nsec.types.iter().copied().collect();
        let want = nsec_expected_types(n);
        if have != want {
            p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, bitmap_diff(&have, &want));
        }
    }
    for n in z.nodes.iter().filter(|n| n.kind == Kind::Nsec3Owner && n.sets.contains_key(&rtype::NSEC)) {
        p.push(ZONE_NSEC_CHAIN, &n.name, rtype::NSEC, "NSEC at an NSEC3 owner name");
    }
    p.0
}

/// Whether an empty non-terminal must have an NSEC3 record (`true`) or may
/// be left out under opt-out because only insecure delegations lie below
/// it (`false`), RFC 5155 §7.1.
pub type EntNeed = bool;

/// The empty non-terminals of the zone (RFC 5155 §7.1; RFC 4592 §2.2.2):
/// names between the apex and an existing name that own no records.
pub fn empty_non_terminals(z: &Zone) -> HashMap<CanonicalKey, (Name, EntNeed)> {
    let existing: HashSet<&CanonicalKey> = z.nodes.iter().map(|n| &n.key).collect();
    let mut ents: HashMap<CanonicalKey, (Name, EntNeed)> = HashMap::new();
    for n in z.nodes.iter().filter(|n| matches!(n.kind, Kind::Authoritative | Kind::Delegation)) {
        let secure = !is_insecure_delegation(n);
        let mut name = n.name.base_name();
        let mut key = n.key.clone();
        key.pop();
        while key.len() > z.apex_key.len() {
            if existing.contains(&key) {
                break;
            }
            match ents.get_mut(&key) {
                Some(e) => {
                    if e.1 || !secure {
                        break;
                    }
                    e.1 = true;
                }
                None => {
                    ents.insert(key.clone(), (name.clone(), secure));
                }
            }
            name = name.base_name();
            key.pop();
        }
    }
    ents
}

fn is_insecure_delegation(n: &Node) -> bool {
    n.kind == Kind::Delegation && !n.sets.contains_key(&rtype::DS)
}

/// ZONE-NSEC3-PARAM: the apex has exactly one NSEC3PARAM record, hash
/// algorithm 1 (SHA-1), flags 0 and at most 150 extra iterations
/// (RFC 5155 §4.1, §4.2; RFC 9276 §3.2: validators may treat more as
/// insecure). Returns the parameters the chain is checked with (from
/// NSEC3PARAM, else from the first NSEC3 record).
pub fn check_nsec3_param(z: &Zone) -> (Vec<Problem>, Option<Nsec3Param>) {
    let mut p = Problems::default();
    let wires = z.apex_node().map(|a| rdata_wires(a, rtype::NSEC3PARAM)).unwrap_or_default();
    let param = match wires.as_slice() {
        [] => {
            p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, "NSEC3 records but no NSEC3PARAM at the apex: authoritative servers cannot find the chain");
            None
        }
        [one] => match Nsec3Param::from_wire(one) {
            Ok(x) => Some(x),
            Err(e) => {
                p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, e.to_string());
                None
            }
        },
        more => {
            p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, format!("{} NSEC3PARAM records: the chain's parameters are ambiguous", more.len()));
            None
        }
    };
    if let Some(x) = &param {
        if x.hash_algorithm != NSEC3_HASH_SHA1 {
            p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, format!("hash algorithm {} (only 1, SHA-1, is defined)", x.hash_algorithm));
        }
        if x.flags != 0 {
            p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, format!("flags {} (must be 0 in NSEC3PARAM)", x.flags));
        }
        if x.iterations > NSEC3_MAX_ITERATIONS {
            p.push(ZONE_NSEC3_PARAM, &z.apex, rtype::NSEC3PARAM, format!("{} extra iterations: more than {NSEC3_MAX_ITERATIONS}, validators treat the zone as insecure", x.iterations));
        }
    }
    let param = param.or_else(|| {
        z.nodes.iter().find_map(|n| n.sets.get(&rtype::NSEC3)).and_then(|s| s.rdatas.first()).and_then(|r| Nsec3::from_wire(&r.to_wire()).ok()).map(|n| Nsec3Param {
            hash_algorithm: n.hash_algorithm,
            flags: 0,
            iterations: n.iterations,
            salt: n.salt,
        })
    });
    (p.0, param)
}

/// What an NSEC3 record should stand for.
#[derive(Debug, Clone)]
struct Expected {
    name: Name,
    /// Its types (empty for an empty non-terminal).
    types: BTreeSet<u16>,
    /// May be left out if an opt-out NSEC3 covers it.
    optional: bool,
}

/// The NSEC3 type bit map of a name: the types present (RRSIG when any
/// RRset there is signed); at a delegation NS, DS when present and RRSIG
/// with a DS (RFC 5155 §3.2.1, §7.1; RFC 4034 §4.1.2).
fn nsec3_expected_types(n: &Node) -> BTreeSet<u16> {
    let mut t: BTreeSet<u16> = match n.kind {
        Kind::Delegation => n.sets.keys().copied().filter(|t| matches!(*t, rtype::NS | rtype::DS)).collect(),
        _ => n.sets.keys().copied().filter(|t| *t != rtype::NSEC && *t != rtype::NSEC3).collect(),
    };
    let signed = match n.kind {
        Kind::Delegation => t.contains(&rtype::DS),
        _ => !t.is_empty(),
    };
    if signed {
        t.insert(rtype::RRSIG);
    }
    t
}

/// ZONE-NSEC3-CHAIN: with the parameters of NSEC3PARAM, every NSEC3 record
/// has those parameters and an owner that is one base32hex label of 20
/// octets directly below the apex, at most one per owner; the records,
/// sorted by hash, link each to the next through the next hashed owner
/// name and the last back to the first (a closed ring); every name with
/// authoritative data, every secure delegation and every empty
/// non-terminal has an NSEC3 whose type bit map lists exactly its types;
/// an insecure delegation (and an empty non-terminal above only insecure
/// delegations) may lack one only when the NSEC3 covering its hash has the
/// opt-out flag; no NSEC3 stands for a name that is not in the zone
/// (RFC 5155 §3, §7.1, §6 opt-out). Returns the problems, whether any
/// record has opt-out, and the number of NSEC3 records.
pub fn check_nsec3_chain(z: &Zone, params: Option<&Nsec3Param>) -> (Vec<Problem>, bool, usize) {
    let mut p = Problems::default();
    // The NSEC3 records by raw hash.
    let mut ring: Vec<(Vec<u8>, Nsec3, &Node)> = Vec::new();
    let apex_labels = z.apex_key.len();
    for n in &z.nodes {
        let Some(set) = n.sets.get(&rtype::NSEC3) else { continue };
        if n.kind == Kind::Glue {
            p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, "NSEC3 below a delegation");
            continue;
        }
        if set.rdatas.len() > 1 {
            p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, format!("{} NSEC3 records at one owner", set.rdatas.len()));
        }
        let hash = if n.key.len() == apex_labels + 1 {
            n.key.last().and_then(|l| std::str::from_utf8(l).ok()).and_then(base32hex_decode).filter(|h| h.len() == 20)
        } else {
            None
        };
        let Some(hash) = hash else {
            p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, "the owner is not a base32hex SHA-1 hash label directly below the apex");
            continue;
        };
        let Some(rd) = set.rdatas.first() else { continue };
        let rec = match Nsec3::from_wire(&rd.to_wire()) {
            Ok(r) => r,
            Err(e) => {
                p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, e.to_string());
                continue;
            }
        };
        if let Some(pa) = params {
            if rec.hash_algorithm != pa.hash_algorithm || rec.iterations != pa.iterations || rec.salt != pa.salt {
                p.push(
                    ZONE_NSEC3_CHAIN,
                    &n.name,
                    rtype::NSEC3,
                    format!(
                        "parameters (algorithm {}, {} iterations, salt {}) differ from NSEC3PARAM's ({}, {}, {})",
                        rec.hash_algorithm,
                        rec.iterations,
                        crate::dnssec::denial::format_salt(&rec.salt),
                        pa.hash_algorithm,
                        pa.iterations,
                        crate::dnssec::denial::format_salt(&pa.salt)
                    ),
                );
                continue;
            }
        }
        ring.push((hash, rec, n));
    }
    let count = ring.len();
    let opt_out = ring.iter().any(|(_, r, _)| r.opt_out());
    let Some(pa) = params else { return (p.0, opt_out, count) };
    ring.sort_by(|a, b| a.0.cmp(&b.0));

    // The ring: each next hashed owner is the following owner's hash.
    for (i, (_, rec, n)) in ring.iter().enumerate() {
        let Some((next, _, _)) = ring.get(i + 1).or_else(|| ring.first()) else { continue };
        if rec.next_hashed != *next {
            p.push(
                ZONE_NSEC3_CHAIN,
                &n.name,
                rtype::NSEC3,
                format!("the next hashed owner is {}; the next NSEC3 owner of the zone is {}", base32hex(&rec.next_hashed), base32hex(next)),
            );
        }
    }

    // What must (or may) have an NSEC3, by hash.
    let mut expected: HashMap<Vec<u8>, Expected> = HashMap::new();
    for n in z.nodes.iter().filter(|n| matches!(n.kind, Kind::Apex | Kind::Authoritative | Kind::Delegation)) {
        let h = nsec3_hash(&n.name, &pa.salt, pa.iterations).to_vec();
        expected.insert(h, Expected { name: n.name.clone(), types: nsec3_expected_types(n), optional: is_insecure_delegation(n) });
    }
    for (name, need) in empty_non_terminals(z).into_values() {
        let h = nsec3_hash(&name, &pa.salt, pa.iterations).to_vec();
        expected.insert(h, Expected { name, types: BTreeSet::new(), optional: !need });
    }

    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(ring.len());
    for (h, rec, n) in &ring {
        seen.insert(h.as_slice());
        match expected.get(h) {
            None => p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, "stands for no name of the zone (its hash matches no owner name or empty non-terminal)"),
            Some(e) => {
                let have: BTreeSet<u16> = rec.types.iter().copied().collect();
                if have != e.types {
                    p.push(ZONE_NSEC3_CHAIN, &n.name, rtype::NSEC3, format!("NSEC3 of {}: {}", format_name(&e.name), bitmap_diff(&have, &e.types)));
                }
            }
        }
    }
    let hashes: Vec<&[u8]> = ring.iter().map(|(h, _, _)| h.as_slice()).collect();
    let mut missing: Vec<(&Vec<u8>, &Expected)> = expected.iter().filter(|(h, _)| !seen.contains(h.as_slice())).collect();
    missing.sort_by(|a, b| a.0.cmp(b.0));
    for (h, e) in missing {
        let what = if e.types.is_empty() { "empty non-terminal" } else { "name" };
        if !e.optional {
            p.push(ZONE_NSEC3_CHAIN, &e.name, rtype::NSEC3, format!("no NSEC3 record for this {what} (hash {})", base32hex(h)));
            continue;
        }
        // The NSEC3 covering the hash: the last owner before it, wrapping.
        let i = hashes.partition_point(|x| *x < h.as_slice());
        let cover = if i == 0 { ring.last() } else { ring.get(i - 1) };
        match cover {
            Some((_, rec, _)) if rec.opt_out() => {}
            Some((_, _, cn)) => p.push(
                ZONE_NSEC3_CHAIN,
                &e.name,
                rtype::NSEC3,
                format!("insecure delegation without an NSEC3 record, and the NSEC3 covering it ({}) has no opt-out flag", format_name(&cn.name)),
            ),
            None => p.push(ZONE_NSEC3_CHAIN, &e.name, rtype::NSEC3, "no NSEC3 record covers this insecure delegation"),
        }
    }
    (p.0, opt_out, count)
}
