//! `kskit check --live`: what every authoritative server of the zone serves,
//! judged. Pure: the answers come in as [`ServerObs`] (one per server and
//! transport), the time and the bundle in force as data. Each rule is one
//! `pub fn` returning its findings, with a stable id listed in
//! docs/checks.md ("Live checks") and [`ALL`].

use std::collections::BTreeSet;

use serde::Serialize;

use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::record::rtype;
use crate::dnssec::verify::{rrsig_valid_at, verify_rrsig};
use crate::dnssec::denial::{base32hex_decode, nsec3_hash, Nsec, Nsec3, NSEC3_MAX_ITERATIONS};
use crate::dnssec::{Algorithm, Dnskey, Name, RData, RrSet, Rrsig};
use crate::export::{Status, SAFE_UDP_RESPONSE};

use super::fetch::{DenialSet, Proto, Question, ServerObs, Served};

/// Every live check id, in the order they run.
pub const ALL: &[&str] = &[
    "LIVE-ANSWERED",
    "LIVE-DNSKEY-BUNDLE",
    "LIVE-RRSIG-PRESENT",
    "LIVE-RRSIG-VALID",
    "LIVE-RRSIG-ALGORITHMS",
    "LIVE-DENIAL",
    "LIVE-RRSIG-MARGIN",
    "LIVE-RRSIG-SOA-EXPIRE",
    "LIVE-DNSKEY-SIZE",
    "LIVE-SERVERS-AGREE",
];

/// One problem found (or a note at OK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub status: Status,
    /// The server and transport (`ADDR (NS names)/udp`), when it is about one.
    pub server: Option<String>,
    pub message: String,
}

fn finding(id: &'static str, status: Status, o: Option<&ServerObs>, message: String) -> Finding {
    Finding { id, status, server: o.map(ServerObs::label), message }
}

/// What the servers are judged against.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub zone: Name,
    /// Seconds since the epoch: the time signatures must be valid at.
    pub now: u64,
    /// The DNSKEY RRset of the SKR bundle in force, and where it comes from
    /// (None: not compared, e.g. no SKR imported).
    pub bundle: Option<(Vec<Dnskey>, String)>,
    /// WARNING when a signature expires in fewer seconds.
    pub warn: i64,
    /// CRITICAL when a signature expires in fewer seconds.
    pub crit: i64,
    /// A name under the zone that does not exist (a random label), asked
    /// to see the denial of existence (None: not asked).
    pub probe: Option<Question>,
}

/// The questions `check --live` asks every server: the apex DNSKEY, SOA,
/// CDS, CDNSKEY and NS RRsets, then `samples`, then the `probe` for a name
/// that does not exist.
pub fn questions(zone: &Name, samples: &[Question], probe: Option<&Question>) -> Vec<Question> {
    let mut q: Vec<Question> = [rtype::DNSKEY, rtype::SOA, rtype::CDS, rtype::CDNSKEY, rtype::NS].iter().map(|t| Question::new(zone, *t)).collect();
    for s in samples.iter().chain(probe) {
        if !q.contains(s) {
            q.push(s.clone());
        }
    }
    q
}

fn tags(keys: &[Dnskey]) -> String {
    let mut t: Vec<String> = keys.iter().map(|k| format!("{}/{}", k.key_tag(), k.algorithm)).collect();
    t.sort();
    t.join(", ")
}

fn dnskeys_of(s: &Served) -> Vec<Dnskey> {
    s.rdatas
        .iter()
        .filter_map(|r| match r {
            RData::Dnskey(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn dnskey_q(zone: &Name) -> Question {
    Question::new(zone, rtype::DNSKEY)
}

/// RCODE NXDOMAIN (RFC 1035 §4.1.1).
const NXDOMAIN: u16 = 3;

/// LIVE-ANSWERED: every question got a reply matching it (RFC 5452 §9.1),
/// with NOERROR (NXDOMAIN for the probe of a name that does not exist) and
/// the AA bit: the zone's servers are authoritative for it (RFC 1035
/// §4.1.1; a lame server or a REFUSED is an outage for part of the
/// resolvers).
pub fn check_answered(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        for (q, f) in &o.answers {
            let probe = e.probe.as_ref() == Some(q);
            match f {
                super::fetch::Fetched::Failed(why) => out.push(finding("LIVE-ANSWERED", Status::Critical, Some(o), format!("{}: no answer: {why}", q.label()))),
                super::fetch::Fetched::Answer(s) if s.rcode != 0 && !(probe && s.rcode == NXDOMAIN) => out.push(finding(
                    "LIVE-ANSWERED",
                    Status::Critical,
                    Some(o),
                    format!("{}: rcode {}", q.label(), crate::parent::rcode_name(s.rcode)),
                )),
                super::fetch::Fetched::Answer(s) if !s.authoritative => out.push(finding(
                    "LIVE-ANSWERED",
                    Status::Critical,
                    Some(o),
                    format!("{}: not authoritative (AA bit clear): lame server", q.label()),
                )),
                _ => {}
            }
        }
    }
    out
}

/// LIVE-DNSKEY-BUNDLE: the DNSKEY RRset each server serves is exactly the
/// DNSKEY RRset of the SKR bundle in force (docs/handoff.md): a server still
/// serving the previous bundle, or keys the KSK never signed, is a zone that
/// validates with the wrong keys or not at all (RFC 4035 §5.2).
pub fn check_dnskey_bundle(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let Some((want, from)) = &e.bundle else { return vec![] };
    let mut want_w: Vec<Vec<u8>> = want.iter().map(Dnskey::to_wire).collect();
    want_w.sort();
    want_w.dedup();
    let mut out = Vec::new();
    for o in obs {
        let Some(s) = o.get(&dnskey_q(&e.zone)) else { continue };
        let got = dnskeys_of(s);
        let mut got_w: Vec<Vec<u8>> = got.iter().map(Dnskey::to_wire).collect();
        got_w.sort();
        got_w.dedup();
        if got_w == want_w {
            continue;
        }
        let extra: Vec<Dnskey> = got.iter().filter(|k| !want.contains(k)).cloned().collect();
        let missing: Vec<Dnskey> = want.iter().filter(|k| !got.contains(k)).cloned().collect();
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!("missing {}", tags(&missing)));
        }
        if !extra.is_empty() {
            why.push(format!("not in the bundle {}", tags(&extra)));
        }
        out.push(finding(
            "LIVE-DNSKEY-BUNDLE",
            Status::Critical,
            Some(o),
            format!("the served DNSKEY RRset ({}) is not the bundle in force ({from}: {}): {}", tags(&got), tags(want), why.join(", ")),
        ));
    }
    out
}

/// LIVE-RRSIG-PRESENT: every RRset served to a query with DO set comes with
/// its RRSIGs (RFC 4035 §3.1.1: an authoritative server must include them;
/// RFC 3225). A server that strips them makes validators fail the zone.
pub fn check_rrsigs_present(_e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        for (q, _) in &o.answers {
            if let Some(s) = o.get(q) {
                if !s.rdatas.is_empty() && s.rrsigs.is_empty() {
                    out.push(finding("LIVE-RRSIG-PRESENT", Status::Critical, Some(o), format!("{}: answered without RRSIG to a DO query", q.label())));
                }
            }
        }
    }
    out
}

/// The verdict on one served RRset's signatures: the latest expiration
/// among RRSIGs that are valid at `now` and verify with a zone key of the
/// same server's DNSKEY RRset, signed in the zone's name (RFC 4035
/// §5.3.1), or why there is none (expired, not yet valid, none verifies).
pub fn best_signature(zone: &Name, q: &Question, s: &Served, keys: &[Dnskey], now: u64) -> Result<u32, String> {
    best_of(zone, &q.name, s.ttl.unwrap_or(0), &s.rdatas, &s.rrsigs, keys, now)
}

/// Whether `sig` verifies over `set` with a key of `keys` that it names
/// (key tag and algorithm; a revoked key never counts). Only the keys the
/// RRSIG names are tried: the cost stays linear (KeyTrap, CVE-2023-50387).
fn verifies(set: &RrSet, sig: &Rrsig, keys: &[Dnskey]) -> bool {
    keys.iter().filter(|k| !k.is_revoked() && k.algorithm == sig.algorithm && k.key_tag() == sig.key_tag).any(|k| verify_rrsig(set, sig, k).is_ok())
}

/// [`best_signature`] of the RRset `rdatas` at `owner`.
fn best_of(zone: &Name, owner: &Name, ttl: u32, rdatas: &[RData], rrsigs: &[Rrsig], keys: &[Dnskey], now: u64) -> Result<u32, String> {
    if rrsigs.is_empty() {
        return Err("no RRSIG".into());
    }
    let set = RrSet::new(owner.clone(), ttl, rdatas.to_vec()).map_err(|e| e.to_string())?;
    let usable = |sig: &Rrsig| same_name(&sig.signer_name, zone);
    let mut best: Option<u32> = None;
    let mut timely = 0;
    for sig in rrsigs.iter().filter(|g| usable(g)) {
        if !rrsig_valid_at(sig, now) {
            continue;
        }
        timely += 1;
        if verifies(&set, sig, keys) && best.is_none_or(|b| sig.expiration > b) {
            best = Some(sig.expiration);
        }
    }
    if let Some(b) = best {
        return Ok(b);
    }
    if timely == 0 {
        let n = now as u32;
        let expired: Vec<String> = rrsigs.iter().filter(|g| g.expiration.wrapping_sub(n) as i32 <= 0).map(|g| crate::timeutil::format_rrsig_time(g.expiration)).collect();
        if !expired.is_empty() {
            return Err(format!("RRSIG expired (at {})", expired.join(", ")));
        }
        if rrsigs.iter().all(|g| !usable(g)) {
            return Err("no RRSIG signed in the zone's name".into());
        }
        return Err("no RRSIG valid yet (inception in the future)".into());
    }
    Err(format!("none of {} RRSIG(s) verifies with a key of the served DNSKEY RRset", rrsigs.len()))
}

/// LIVE-RRSIG-VALID: every served RRset has an RRSIG that is valid now and
/// verifies with a key of that server's DNSKEY RRset (RFC 4035 §5.3; an
/// expired signature is bogus, RFC 4035 §5.3.1).
pub fn check_signatures(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        let keys = o.get(&dnskey_q(&e.zone)).map(dnskeys_of).unwrap_or_default();
        for (q, _) in &o.answers {
            let Some(s) = o.get(q) else { continue };
            if s.rdatas.is_empty() || s.rrsigs.is_empty() {
                continue;
            }
            if let Err(why) = best_signature(&e.zone, q, s, &keys, e.now) {
                out.push(finding("LIVE-RRSIG-VALID", Status::Critical, Some(o), format!("{}: {why}", q.label())));
            }
        }
    }
    out
}

fn alg_name(a: u8) -> String {
    match Algorithm::from_number(a) {
        Ok(al) => format!("{a} ({al})"),
        Err(_) => a.to_string(),
    }
}

/// The algorithms of the zone keys of a DNSKEY RRset (revoked keys left
/// out): the algorithms that must each sign every RRset (RFC 4035 §2.2).
pub fn dnskey_algorithms(keys: &[Dnskey]) -> BTreeSet<u8> {
    keys.iter().filter(|k| k.is_zone_key() && !k.is_revoked()).map(|k| k.algorithm).collect()
}

/// The algorithms that sign the served RRset: those of its RRSIGs that are
/// signed in the zone's name, valid at `now` and verify with a key of
/// `keys` of that algorithm.
pub fn signing_algorithms(zone: &Name, q: &Question, s: &Served, keys: &[Dnskey], now: u64) -> BTreeSet<u8> {
    let Ok(set) = RrSet::new(q.name.clone(), s.ttl.unwrap_or(0), s.rdatas.clone()) else { return BTreeSet::new() };
    s.rrsigs.iter().filter(|g| same_name(&g.signer_name, zone) && rrsig_valid_at(g, now) && verifies(&set, g, keys)).map(|g| g.algorithm).collect()
}

/// LIVE-RRSIG-ALGORITHMS: every served RRset (SOA, DNSKEY, NS, CDS,
/// CDNSKEY and the samples) is signed by each algorithm of the server's
/// DNSKEY RRset, with an RRSIG valid now that verifies (RFC 4035 §2.2: the
/// signer's rule; RFC 6840 §5.11: a validator may then accept any one of
/// them, but one that holds the signer to it, or only trusts a DS of the
/// missing algorithm, fails the zone). CRITICAL. An RRset that no
/// algorithm signs is LIVE-RRSIG-VALID's (or LIVE-RRSIG-PRESENT's) finding.
pub fn check_rrsig_algorithms(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        let keys = o.get(&dnskey_q(&e.zone)).map(dnskeys_of).unwrap_or_default();
        let want = dnskey_algorithms(&keys);
        for (q, _) in &o.answers {
            if e.probe.as_ref() == Some(q) {
                continue;
            }
            let Some(s) = o.get(q) else { continue };
            if s.rdatas.is_empty() || s.rrsigs.is_empty() {
                continue;
            }
            let have = signing_algorithms(&e.zone, q, s, &keys, e.now);
            if have.is_empty() {
                continue;
            }
            let missing: Vec<String> = want.difference(&have).map(|a| alg_name(*a)).collect();
            if !missing.is_empty() {
                let by: Vec<String> = have.iter().map(|a| alg_name(*a)).collect();
                out.push(finding(
                    "LIVE-RRSIG-ALGORITHMS",
                    Status::Critical,
                    Some(o),
                    format!(
                        "{}: no valid RRSIG of algorithm {} of the served DNSKEY RRset (signed by algorithm {} only; RFC 4035 §2.2)",
                        q.label(),
                        missing.join(", "),
                        by.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

/// Whether an NSEC at `owner` matches or covers `name` in canonical order
/// (RFC 4034 §4.1.1, §6.1): `owner` ≤ `name` < `next`, or past the last
/// NSEC of the chain (whose next name is the apex).
fn nsec_covers(owner: &Name, n: &Nsec, name: &Name, zone: &Name) -> bool {
    use crate::signzone::nsec::canonical_cmp;
    use std::cmp::Ordering::*;
    let after_owner = canonical_cmp(owner, name) != Greater;
    let before_next = canonical_cmp(name, &n.next) == Less || same_name(&n.next, zone);
    after_owner && before_next
}

/// Whether an NSEC3 at `owner` matches or covers the hash of `name`
/// (RFC 5155 §8.3, §8.4): its hashed owner ≤ H(name) < next hashed owner,
/// wrapping at the end of the chain.
fn nsec3_covers(owner: &Name, n: &Nsec3, name: &Name) -> Result<bool, String> {
    if n.iterations > NSEC3_MAX_ITERATIONS {
        return Err(format!("NSEC3 with {} iterations, more than {NSEC3_MAX_ITERATIONS}: validators treat the zone as insecure (RFC 9276 §3.2)", n.iterations));
    }
    let label = owner.iter().next().ok_or("an NSEC3 owner name without a label")?;
    let own = base32hex_decode(&String::from_utf8_lossy(label)).ok_or_else(|| format!("NSEC3 owner {} is not a base32hex hash", to_presentation(owner)))?;
    let h = nsec3_hash(name, &n.salt, n.iterations).to_vec();
    let next = &n.next_hashed;
    Ok(if own.as_slice() < next.as_slice() { own <= h && h < *next } else { h >= own || h < *next })
}

/// The verdict on the denial of existence served for `name` (which does
/// not exist): NSEC or NSEC3 RRsets in the authority section, each with an
/// RRSIG valid now that verifies with a key of `keys`, one of them matching
/// or covering `name` (RFC 4035 §3.1.3, RFC 5155 §7.2).
pub fn judge_denial(zone: &Name, name: &Name, s: &Served, keys: &[Dnskey], now: u64) -> Result<(), String> {
    if s.denial.is_empty() {
        return Err("no NSEC or NSEC3 record in the authority section: the denial of existence is not authenticated (RFC 4035 §3.1.3)".into());
    }
    let mut covered = false;
    for d in &s.denial {
        let DenialSet { owner, rtype: t, ttl, rdatas, rrsigs } = d;
        let label = format!("{} {}", to_presentation(owner), rtype::name(*t));
        if rrsigs.is_empty() {
            return Err(format!("{label}: no RRSIG: the denial of existence is unsigned"));
        }
        best_of(zone, owner, *ttl, rdatas, rrsigs, keys, now).map_err(|why| format!("{label}: {why}"))?;
        for r in rdatas {
            let RData::Other { data, .. } = r else { continue };
            let c = if *t == rtype::NSEC {
                Nsec::from_wire(data).map(|n| nsec_covers(owner, &n, name, zone)).map_err(|e| format!("{label}: {e}"))?
            } else {
                let n = Nsec3::from_wire(data).map_err(|e| format!("{label}: {e}"))?;
                nsec3_covers(owner, &n, name).map_err(|e| format!("{label}: {e}"))?
            };
            covered |= c;
        }
    }
    if covered {
        Ok(())
    } else {
        Err(format!("no NSEC or NSEC3 record served covers {} (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2)", to_presentation(name)))
    }
}

/// LIVE-DENIAL: a name under the zone that does not exist (the probe, a
/// random label) gets, over DO, a signed denial of existence: NSEC or
/// NSEC3 records covering it, with RRSIGs valid now that verify with a key
/// of the server's DNSKEY RRset (RFC 4035 §3.1.3; RFC 5155 §7.2). An
/// NXDOMAIN or NODATA without them, or with unsigned ones, is bogus to a
/// validator: CRITICAL.
pub fn check_denial(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let Some(p) = &e.probe else { return vec![] };
    let mut out = Vec::new();
    for o in obs {
        let Some(s) = o.get(p) else { continue };
        if s.rcode != 0 && s.rcode != NXDOMAIN {
            continue;
        }
        let keys = o.get(&dnskey_q(&e.zone)).map(dnskeys_of).unwrap_or_default();
        let kind = if s.rcode == NXDOMAIN {
            "NXDOMAIN"
        } else if s.rdatas.is_empty() {
            "NODATA"
        } else {
            "wildcard answer"
        };
        if let Err(why) = judge_denial(&e.zone, &p.name, s, &keys, e.now) {
            out.push(finding("LIVE-DENIAL", Status::Critical, Some(o), format!("{} ({kind}): {why}", p.label())));
        }
    }
    out
}

/// The smallest signature margin (seconds from `now` to the best RRSIG's
/// expiration) per question at one server, for the RRsets that have one.
pub fn margins(e: &Expectation, o: &ServerObs) -> Vec<(Question, i64)> {
    let keys = o.get(&dnskey_q(&e.zone)).map(dnskeys_of).unwrap_or_default();
    o.answers
        .iter()
        .filter_map(|(q, _)| {
            let s = o.get(q)?;
            if s.rdatas.is_empty() {
                return None;
            }
            let exp = best_signature(&e.zone, q, s, &keys, e.now).ok()?;
            Some((q.clone(), i64::from(exp.wrapping_sub(e.now as u32) as i32)))
        })
        .collect()
}

fn days(secs: i64) -> String {
    format!("{:.1} days", secs as f64 / 86400.0)
}

/// LIVE-RRSIG-MARGIN: the signatures of the DNSKEY, SOA, CDS, CDNSKEY, NS
/// and sample RRsets stay valid for at least the warning (else WARNING) and
/// critical (else CRITICAL) thresholds: time to re-sign, or to import the
/// next SKR, before validators see expired signatures (RFC 6781 §4.4.2).
pub fn check_expiry_margin(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        for (q, m) in margins(e, o) {
            let st = if m < e.crit {
                Status::Critical
            } else if m < e.warn {
                Status::Warning
            } else {
                continue;
            };
            out.push(finding(
                "LIVE-RRSIG-MARGIN",
                st,
                Some(o),
                format!("{}: signatures expire in {} (threshold {})", q.label(), days(m), days(if st == Status::Critical { e.crit } else { e.warn })),
            ));
        }
    }
    out
}

/// The SOA EXPIRE field of a served SOA RRset (RFC 1035 §3.3.13: the last
/// five 32-bit fields are serial, refresh, retry, expire, minimum).
pub fn soa_expire(s: &Served) -> Option<u32> {
    s.rdatas.iter().find_map(|r| match r {
        RData::Other { rtype: t, data } if *t == rtype::SOA && data.len() >= 20 => {
            let f = data.get(data.len() - 8..data.len() - 4)?;
            Some(u32::from_be_bytes([f[0], f[1], f[2], f[3]]))
        }
        _ => None,
    })
}

/// LIVE-RRSIG-SOA-EXPIRE: a signature must outlive the SOA EXPIRE plus the
/// largest TTL served: a secondary cut off from its primary keeps serving
/// the zone for SOA EXPIRE, and resolvers cache it for a TTL more (RFC 6781
/// §4.4.2). WARNING when a signature expires sooner.
pub fn check_soa_expire(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs {
        let Some(expire) = o.get(&Question::new(&e.zone, rtype::SOA)).and_then(soa_expire) else { continue };
        let max_ttl = o.answers.iter().filter_map(|(q, _)| o.get(q)).filter_map(|s| s.ttl).max().unwrap_or(0);
        let need = i64::from(expire) + i64::from(max_ttl);
        for (q, m) in margins(e, o) {
            if m >= 0 && m < need {
                out.push(finding(
                    "LIVE-RRSIG-SOA-EXPIRE",
                    Status::Warning,
                    Some(o),
                    format!("{}: signatures expire in {}, before SOA expire ({expire} s) plus the largest TTL ({max_ttl} s) = {}", q.label(), days(m), days(need)),
                ));
            }
        }
    }
    out
}

/// LIVE-DNSKEY-SIZE: the DNSKEY response (DO set) fits in 1232 octets and
/// is not truncated over UDP (DNS Flag Day 2020; RFC 9715): a larger one
/// fragments or forces every resolver to retry over TCP (RFC 7766).
/// WARNING; the TCP answer is still checked by the other rules.
pub fn check_dnskey_size(e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in obs.iter().filter(|o| o.proto == Proto::Udp) {
        let Some(s) = o.get(&dnskey_q(&e.zone)) else { continue };
        if s.truncated {
            out.push(finding(
                "LIVE-DNSKEY-SIZE",
                Status::Warning,
                Some(o),
                format!("the DNSKEY response ({} octets over TCP) is truncated over UDP (EDNS buffer 1232): resolvers must retry over TCP", s.size),
            ));
        } else if s.size > SAFE_UDP_RESPONSE {
            out.push(finding("LIVE-DNSKEY-SIZE", Status::Warning, Some(o), format!("the DNSKEY response is {} octets, more than {SAFE_UDP_RESPONSE}", s.size)));
        }
    }
    out
}

/// LIVE-SERVERS-AGREE: every server, over every transport, serves the same
/// RRset for each question. A DNSKEY, CDS or CDNSKEY RRset that differs is
/// CRITICAL (validation, and a parent scanning CDS, depend on which server
/// is asked: RFC 7344 §4.1, RFC 8078 §3); other RRsets (a SOA serial still
/// propagating) WARNING.
pub fn check_servers_agree(_e: &Expectation, obs: &[ServerObs]) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(first) = obs.first() else { return out };
    for (q, _) in &first.answers {
        let mut groups: Vec<(Vec<Vec<u8>>, Vec<String>)> = Vec::new();
        for o in obs {
            let Some(s) = o.get(q) else { continue };
            if s.rcode != 0 {
                continue;
            }
            let c = s.canonical();
            match groups.iter_mut().find(|(g, _)| *g == c) {
                Some((_, who)) => who.push(o.label()),
                None => groups.push((c, vec![o.label()])),
            }
        }
        if groups.len() > 1 {
            let st = if matches!(q.rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY) { Status::Critical } else { Status::Warning };
            let desc: Vec<String> = groups.iter().enumerate().map(|(i, (g, who))| format!("version {} ({} record(s)) at {}", i + 1, g.len(), who.join(", "))).collect();
            out.push(finding("LIVE-SERVERS-AGREE", st, None, format!("servers disagree on {}: {}", q.label(), desc.join("; "))));
        }
    }
    out
}

/// Per server and transport: what the metrics and the JSON report show.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSummary {
    pub server: String,
    pub ns: Vec<String>,
    pub transport: Proto,
    /// DNSKEY response size in octets (null when there was no answer).
    pub dnskey_size: Option<usize>,
    pub dnskey_truncated: bool,
    /// Seconds until the best signature of each RRset expires.
    pub margins: Vec<(String, i64)>,
}

/// The whole live report.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    pub status: Status,
    pub zone: String,
    pub bundle: Option<String>,
    /// The name that does not exist asked to see the denial of existence.
    pub probe: Option<String>,
    /// NS names that could not be asked, with the reason.
    pub unusable: Vec<(String, String)>,
    pub findings: Vec<Finding>,
    pub servers: Vec<ServerSummary>,
    /// The smallest signature margin seen, seconds.
    pub min_margin: Option<i64>,
    pub message: String,
}

/// Runs every live check over the observations. NS names without a usable
/// address (`unusable`) are CRITICAL: a server that cannot be asked cannot
/// be shown to serve the zone.
pub fn run(e: &Expectation, obs: &[ServerObs], unusable: Vec<(String, String)>) -> LiveReport {
    let mut findings = Vec::new();
    for (ns, why) in &unusable {
        findings.push(Finding { id: "LIVE-ANSWERED", status: Status::Critical, server: Some(ns.clone()), message: format!("NS {ns} not asked: {why}") });
    }
    if obs.is_empty() {
        findings.push(Finding { id: "LIVE-ANSWERED", status: Status::Unknown, server: None, message: "no server to ask".into() });
    }
    type Rule = fn(&Expectation, &[ServerObs]) -> Vec<Finding>;
    let rules: [Rule; 10] = [
        check_answered,
        check_dnskey_bundle,
        check_rrsigs_present,
        check_signatures,
        check_rrsig_algorithms,
        check_denial,
        check_expiry_margin,
        check_soa_expire,
        check_dnskey_size,
        check_servers_agree,
    ];
    for r in rules {
        findings.extend(r(e, obs));
    }
    let status = findings.iter().map(|f| f.status).max().unwrap_or(Status::Ok);
    let servers: Vec<ServerSummary> = obs
        .iter()
        .map(|o| {
            let d = o.get(&dnskey_q(&e.zone));
            ServerSummary {
                server: o.target.addr.to_string(),
                ns: o.target.ns.clone(),
                transport: o.proto,
                dnskey_size: d.map(|s| s.size),
                dnskey_truncated: d.is_some_and(|s| s.truncated),
                margins: margins(e, o).into_iter().map(|(q, m)| (q.label(), m)).collect(),
            }
        })
        .collect();
    let min_margin = servers.iter().flat_map(|s| s.margins.iter().map(|(_, m)| *m)).min();
    let zone = to_presentation(&e.zone);
    let addrs = {
        let mut a: Vec<String> = obs.iter().map(|o| o.target.addr.to_string()).collect();
        a.dedup();
        a.len()
    };
    let message = if status == Status::Ok {
        format!(
            "{zone}: {addrs} server address(es) over UDP and TCP serve {}signed answers; signatures valid for at least {}",
            if e.bundle.is_some() { "the bundle in force and " } else { "" },
            min_margin.map(days).unwrap_or_else(|| "?".into())
        )
    } else {
        let worst: Vec<&Finding> = findings.iter().filter(|f| f.status == status).collect();
        let first = worst.first().map(|f| format!("{}{}: {}", f.id, f.server.as_ref().map(|s| format!(" {s}")).unwrap_or_default(), f.message)).unwrap_or_default();
        let more = if findings.len() > 1 { format!(" (+{} more finding(s))", findings.len() - 1) } else { String::new() };
        format!("{zone}: {first}{more}")
    };
    LiveReport { status, zone, bundle: e.bundle.as_ref().map(|(_, f)| f.clone()), probe: e.probe.as_ref().map(Question::label), unusable, findings, servers, min_margin, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_expire_is_the_fourth_of_the_last_five_fields() {
        let mut data = vec![0u8, 0u8]; // root MNAME and RNAME
        for v in [7u32, 3600, 600, 172_800, 300] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let s = Served { rcode: 0, authoritative: true, truncated: false, size: 0, ttl: Some(3600), rdatas: vec![RData::Other { rtype: rtype::SOA, data }], rrsigs: vec![], denial: vec![] };
        assert_eq!(soa_expire(&s), Some(172_800));
        let short = Served { rdatas: vec![RData::Other { rtype: rtype::SOA, data: vec![0; 5] }], ..s };
        assert_eq!(soa_expire(&short), None);
    }
}
