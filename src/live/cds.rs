//! `kskit cds check`: the registry's view of a child's CDS and CDNSKEY
//! RRsets (RFC 7344, RFC 8078), as a parent scanning every name server
//! would judge them before changing the DS RRset. Pure: the answers come in
//! as [`ServerObs`] (every server, UDP and TCP), the current DS RRset and
//! the time as data. Each rule is one `pub fn` with a stable id, listed in
//! [`ALL`] and docs/checks.md ("Registry view of CDS/CDNSKEY").

use serde::Serialize;

use crate::dnssec::name::to_presentation;
use crate::dnssec::record::rtype;
use crate::dnssec::verify::{rrsig_valid_at, verify_rrsig};
use crate::dnssec::{DigestType, Dnskey, Ds, Name, RData, RrSet};
use crate::parent::ds_text;

use super::checks::best_signature;
use super::fetch::{Fetched, Question, ServerObs, Served};

/// Every registry rule id, in the order they run.
pub const ALL: &[&str] = &[
    "CDS-FETCHED",
    "CDS-SAME-EVERYWHERE",
    "CDS-BOTH-PRESENT",
    "CDS-DELETE-ALONE",
    "CDS-CONSISTENT",
    "CDS-SIGNED",
    "CDS-CHAIN",
    "CDS-KEYS-SIGN-DNSKEY",
];

/// The questions a registry asks every server (NS: the names RFC 9615
/// bootstrapping needs).
pub fn questions(zone: &Name) -> Vec<Question> {
    [rtype::CDS, rtype::CDNSKEY, rtype::DNSKEY, rtype::NS].iter().map(|t| Question::new(zone, *t)).collect()
}

/// What the rules see: the child's RRsets as (the first) server served them.
#[derive(Debug, Clone, Default)]
pub struct ChildSets {
    pub cds: Vec<Ds>,
    pub cdnskey: Vec<Dnskey>,
    pub dnskey: Vec<Dnskey>,
}

fn served<'a>(o: &'a ServerObs, zone: &Name, t: u16) -> Option<&'a Served> {
    o.get(&Question::new(zone, t))
}

/// The sets from one observation.
pub fn child_sets(o: &ServerObs, zone: &Name) -> ChildSets {
    let mut c = ChildSets::default();
    for t in [rtype::CDS, rtype::CDNSKEY, rtype::DNSKEY] {
        for r in served(o, zone, t).map(|s| s.rdatas.as_slice()).unwrap_or_default() {
            match r {
                RData::Cds(d) => c.cds.push(d.clone()),
                RData::Cdnskey(k) => c.cdnskey.push(k.clone()),
                RData::Dnskey(k) => c.dnskey.push(k.clone()),
                _ => {}
            }
        }
    }
    c
}

/// CDS-FETCHED: every server answered the CDS, CDNSKEY and DNSKEY queries
/// over UDP and TCP, authoritatively, with NOERROR: a parent acts only on
/// what every name server says (RFC 7344 §6.1; RFC 8078 §3; Zonemaster
/// DNSSEC15).
pub fn check_fetched(_zone: &Name, obs: &[ServerObs]) -> Result<(), String> {
    if obs.is_empty() {
        return Err("no server was asked".into());
    }
    for o in obs {
        for (q, f) in &o.answers {
            match f {
                Fetched::Failed(why) => return Err(format!("{}: {}: {why}", o.label(), q.label())),
                Fetched::Answer(s) if s.rcode != 0 || !s.authoritative => {
                    return Err(format!("{}: {}: rcode {}{}", o.label(), q.label(), crate::parent::rcode_name(s.rcode), if s.authoritative { "" } else { ", AA bit clear" }))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// CDS-SAME-EVERYWHERE: every server, over UDP and TCP, serves the same CDS
/// and the same CDNSKEY RRset (RFC 7344 §6.1: inconsistent answers mean no
/// action; Zonemaster DNSSEC15; the .CH rules).
pub fn check_same_everywhere(zone: &Name, obs: &[ServerObs]) -> Result<(), String> {
    for t in [rtype::CDS, rtype::CDNSKEY] {
        let mut versions: Vec<(Vec<Vec<u8>>, Vec<String>)> = Vec::new();
        for o in obs {
            let c = served(o, zone, t).map(Served::canonical).unwrap_or_default();
            match versions.iter_mut().find(|(v, _)| *v == c) {
                Some((_, w)) => w.push(o.label()),
                None => versions.push((c, vec![o.label()])),
            }
        }
        if versions.len() > 1 {
            let d: Vec<String> = versions.iter().map(|(v, w)| format!("{} record(s) at {}", v.len(), w.join(", "))).collect();
            return Err(format!("the {} RRset differs between servers: {}", rtype::name(t), d.join("; ")));
        }
    }
    Ok(())
}

/// CDS-BOTH-PRESENT: the child publishes both a CDS and a CDNSKEY RRset
/// (RFC 7344 §4: a child SHOULD publish both, and registries that use one
/// or the other see the same request; the .CH rules require both).
pub fn check_both_present(c: &ChildSets) -> Result<(), String> {
    match (c.cds.is_empty(), c.cdnskey.is_empty()) {
        (true, true) => Err("no CDS and no CDNSKEY RRset: nothing to act on".into()),
        (true, false) => Err("a CDNSKEY RRset but no CDS RRset".into()),
        (false, true) => Err("a CDS RRset but no CDNSKEY RRset".into()),
        (false, false) => Ok(()),
    }
}

/// CDS-DELETE-ALONE: the RFC 8078 §4 delete records (CDS `0 0 0 00`,
/// CDNSKEY `0 3 0 AA==`) stand alone: mixed with other records, the
/// request is refused.
pub fn check_delete_alone(c: &ChildSets) -> Result<(), String> {
    let cds_del = c.cds.iter().filter(|d| d.is_delete()).count();
    let key_del = c.cdnskey.iter().filter(|k| k.algorithm == 0).count();
    if cds_del + key_del == 0 {
        return Ok(());
    }
    if cds_del == c.cds.len() && key_del == c.cdnskey.len() {
        return Ok(());
    }
    Err("an RFC 8078 delete record (algorithm 0) is mixed with other CDS/CDNSKEY records".into())
}

/// Whether the sets ask for the DS RRset to be removed (RFC 8078 §4).
pub fn is_delete(c: &ChildSets) -> bool {
    (!c.cds.is_empty() || !c.cdnskey.is_empty()) && c.cds.iter().all(|d| d.is_delete()) && c.cdnskey.iter().all(|k| k.algorithm == 0)
}

/// CDS-CONSISTENT: the CDS and CDNSKEY RRsets name the same keys: every CDS
/// matches a CDNSKEY (digest recomputed, RFC 4034 §5.1.4) and every CDNSKEY
/// has a CDS (RFC 7344 §4: both must agree; Zonemaster DNSSEC15).
pub fn check_consistent(zone: &Name, c: &ChildSets) -> Result<(), String> {
    if is_delete(c) {
        return Ok(());
    }
    let lone: Vec<String> = c.cds.iter().filter(|d| !c.cdnskey.iter().any(|k| d.matches(zone, k))).map(ds_text).collect();
    if !lone.is_empty() {
        return Err(format!("CDS without a matching CDNSKEY: {}", lone.join("; ")));
    }
    let keys: Vec<String> = c.cdnskey.iter().filter(|k| !c.cds.iter().any(|d| d.matches(zone, k))).map(|k| k.key_tag().to_string()).collect();
    if !keys.is_empty() {
        return Err(format!("CDNSKEY without a matching CDS: key tag {}", keys.join(", ")));
    }
    Ok(())
}

/// CDS-SIGNED: at every server the CDS and CDNSKEY RRsets carry an RRSIG
/// valid now that verifies with a key of the served DNSKEY RRset (RFC 7344
/// §4.1 and §6.1: signed with a key of the child's DNSKEY RRset; Zonemaster
/// DNSSEC16, DNSSEC17).
pub fn check_signed(zone: &Name, obs: &[ServerObs], now: u64) -> Result<(), String> {
    for o in obs {
        let keys = child_sets(o, zone).dnskey;
        for t in [rtype::CDS, rtype::CDNSKEY] {
            let q = Question::new(zone, t);
            let Some(s) = o.get(&q) else { continue };
            if s.rdatas.is_empty() {
                continue;
            }
            best_signature(zone, &q, s, &keys, now).map_err(|why| format!("{}: {}: {why}", o.label(), q.label()))?;
        }
    }
    Ok(())
}

/// The keys of `dnskey` that sign the DNSKEY RRset with an RRSIG valid now
/// at server `o` (RFC 4035 §5.3).
pub fn dnskey_signers(zone: &Name, o: &ServerObs, now: u64) -> Vec<Dnskey> {
    let q = Question::new(zone, rtype::DNSKEY);
    let Some(s) = o.get(&q) else { return vec![] };
    let keys = child_sets(o, zone).dnskey;
    let Ok(set) = RrSet::new(zone.clone(), s.ttl.unwrap_or(0), s.rdatas.clone()) else { return vec![] };
    keys.iter()
        .filter(|k| !k.is_revoked())
        .filter(|k| s.rrsigs.iter().any(|g| rrsig_valid_at(g, now) && crate::dnssec::name::same_name(&g.signer_name, zone) && verify_rrsig(&set, g, k).is_ok()))
        .cloned()
        .collect()
}

/// CDS-CHAIN: the DNSKEY RRset validates from the DS RRset the parent holds
/// now: one of its keys matches a current DS and signs the DNSKEY RRset
/// (RFC 7344 §4.1: the CDS must validate from the current DS; RFC 4035
/// §5.2). Without a DS RRset this rule needs RFC 9615 bootstrapping, which
/// the caller judges instead.
pub fn check_chain(zone: &Name, obs: &[ServerObs], ds: &[Ds], now: u64) -> Result<(), String> {
    for o in obs {
        let signers = dnskey_signers(zone, o, now);
        if !signers.iter().any(|k| ds.iter().any(|d| d.matches(zone, k))) {
            return Err(format!(
                "{}: no key matching the current DS RRset ({}) signs the DNSKEY RRset (signers: {})",
                o.label(),
                ds.iter().map(ds_text).collect::<Vec<_>>().join("; "),
                if signers.is_empty() { "none".into() } else { signers.iter().map(|k| k.key_tag().to_string()).collect::<Vec<_>>().join(", ") }
            ));
        }
    }
    Ok(())
}

/// CDS-KEYS-SIGN-DNSKEY: every key a CDS or CDNSKEY points to is in the
/// DNSKEY RRset and signs it: after the parent installs the DS, the chain
/// must hold through each of them (RFC 7344 §4.1 — continuity; Zonemaster
/// DNSSEC18; RFC 6781 §4.1.2).
pub fn check_keys_sign_dnskey(zone: &Name, obs: &[ServerObs], now: u64) -> Result<(), String> {
    for o in obs {
        let c = child_sets(o, zone);
        if is_delete(&c) {
            continue;
        }
        let signers = dnskey_signers(zone, o, now);
        for d in &c.cds {
            if !signers.iter().any(|k| d.matches(zone, k)) {
                return Err(format!("{}: CDS {} points to a key that does not sign the DNSKEY RRset", o.label(), ds_text(d)));
            }
        }
        for k in &c.cdnskey {
            if !signers.contains(k) {
                return Err(format!("{}: CDNSKEY key tag {} does not sign the DNSKEY RRset", o.label(), k.key_tag()));
            }
        }
    }
    Ok(())
}

/// One rule's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub id: &'static str,
    /// true: holds; false: the registry rejects; null: not applicable.
    pub passed: Option<bool>,
    pub message: String,
}

/// The registry's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryView {
    pub zone: String,
    pub accept: bool,
    /// The DS RRset (presentation RDATA) the registry would install;
    /// empty for a delete or a rejection.
    pub ds: Vec<String>,
    pub delete: bool,
    pub rules: Vec<RuleResult>,
    pub message: String,
}

/// The DS RRset a registry installs: the CDS records as published; from
/// CDNSKEY alone, SHA-256 DS (RFC 7344 §4; RFC 8624 §3.3).
pub fn registry_ds(zone: &Name, c: &ChildSets) -> Vec<Ds> {
    let mut out: Vec<Ds> = Vec::new();
    let from = if c.cds.is_empty() { c.cdnskey.iter().map(|k| k.ds(zone, DigestType::Sha256)).collect() } else { c.cds.clone() };
    for d in from {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Runs every rule. `ds`: the DS RRset the parent holds now (None: the
/// child is unsigned at the parent, so CDS-CHAIN needs `bootstrap`, the
/// outcome of the RFC 9615 check, when one was made).
pub fn judge(zone: &Name, obs: &[ServerObs], ds: Option<&[Ds]>, bootstrap: Option<Result<String, String>>, now: u64) -> RegistryView {
    let c = obs.first().map(|o| child_sets(o, zone)).unwrap_or_default();
    let mut rules = Vec::new();
    let mut push = |id: &'static str, r: Result<(), String>, ok: &str| {
        rules.push(match r {
            Ok(()) => RuleResult { id, passed: Some(true), message: ok.to_string() },
            Err(m) => RuleResult { id, passed: Some(false), message: m },
        })
    };
    push("CDS-FETCHED", check_fetched(zone, obs), "every server answered over UDP and TCP");
    push("CDS-SAME-EVERYWHERE", check_same_everywhere(zone, obs), "every server serves the same CDS and CDNSKEY RRsets");
    push("CDS-BOTH-PRESENT", check_both_present(&c), "CDS and CDNSKEY both present");
    push("CDS-DELETE-ALONE", check_delete_alone(&c), "no delete record mixed with others");
    push("CDS-CONSISTENT", check_consistent(zone, &c), "CDS and CDNSKEY name the same keys");
    push("CDS-SIGNED", check_signed(zone, obs, now), "CDS and CDNSKEY signed by a key of the DNSKEY RRset");
    match (ds, bootstrap) {
        (Some(ds), _) if !ds.is_empty() => push("CDS-CHAIN", check_chain(zone, obs, ds, now), "the DNSKEY RRset validates from the current DS"),
        (_, Some(b)) => push("CDS-CHAIN", b.map(|_| ()), "no DS: authenticated by RFC 9615 bootstrapping at every name server"),
        _ => push(
            "CDS-CHAIN",
            Err("no current DS RRset given (--ds) and no RFC 9615 bootstrapping checked (--signal-anchor): the CDS cannot be authenticated".into()),
            "",
        ),
    }
    push("CDS-KEYS-SIGN-DNSKEY", check_keys_sign_dnskey(zone, obs, now), "every key the CDS/CDNSKEY points to signs the DNSKEY RRset");
    let failed: Vec<&RuleResult> = rules.iter().filter(|r| r.passed == Some(false)).collect();
    let accept = failed.is_empty();
    let delete = accept && is_delete(&c);
    let ds_out: Vec<String> = if accept && !delete { registry_ds(zone, &c).iter().map(ds_text).collect() } else { vec![] };
    let zname = to_presentation(zone);
    let message = match failed.first() {
        Some(r) => format!("a registry would REJECT the CDS/CDNSKEY of {zname}: {} {}", r.id, r.message),
        None if delete => format!("a registry would ACCEPT: remove the DS RRset of {zname} (RFC 8078 delete)"),
        None => format!("a registry would ACCEPT: install {} DS record(s) for {zname}", ds_out.len()),
    };
    RegistryView { zone: zname, accept, ds: ds_out, delete, rules, message }
}
