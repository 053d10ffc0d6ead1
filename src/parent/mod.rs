//! Parent DS polling: is the DS RRset the child's CDS/CDNSKEY (RFC 7344,
//! RFC 8078) implies published at every parent authoritative server?
//!
//! This module is the pure core: what DS set is expected ([`ExpectedDs`]),
//! what one server answered ([`Observation`]), the verdict for one server
//! ([`judge`]) and for all of them ([`overall`]). The network I/O is in
//! [`query`], parent server discovery in [`discover`]. The matching rule and
//! its reasons are in docs/parent.md.

use serde::Serialize;

use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::presentation::format_rdata;
use crate::dnssec::record::rtype;
use crate::dnssec::{DigestType, Dnskey, DnssecError, Ds, Name, RData, Record, Rrsig};

pub mod discover;
pub mod query;
pub mod validate;

/// Errors of parent polling (bad expectations, bad server names, no servers).
#[derive(Debug, thiserror::Error)]
pub enum ParentError {
    #[error("bad parent server {0:?}: use ADDR, ADDR:PORT or [IPv6]:PORT")]
    BadServer(String),
    #[error("expected DS set: {0}")]
    Expected(String),
    #[error("discovering the parent's servers: {0}")]
    Discovery(String),
    #[error("building the DNS query: {0}")]
    Encode(String),
    #[error(transparent)]
    Dnssec(#[from] DnssecError),
}

/// RCODE values used by the verdicts (RFC 1035 §4.1.1).
pub const RCODE_NOERROR: u16 = 0;
/// Name Error (RFC 1035 §4.1.1).
pub const RCODE_NXDOMAIN: u16 = 3;

/// What the parent should hold for the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedDs {
    /// RFC 8078 §4 "delete": the parent should hold no DS RRset at all.
    Delete,
    /// Every DS in `ds` must be present; any further DS at the parent must be
    /// for one of `keys` (checked by digest, RFC 4034 §5.1.4).
    Set { ds: Vec<Ds>, keys: Vec<Dnskey> },
}

impl ExpectedDs {
    /// From a CDS RRset and/or a CDNSKEY RRset (RFC 7344 §3). The CDS records
    /// are what the parent copies literally, so when there are any they are the
    /// required DS set; otherwise the required set is each CDNSKEY's DS for
    /// every digest type in `digests`. CDNSKEY keys also let a parent DS of
    /// another digest type for the same key count as matching. A set made only
    /// of RFC 8078 §4 delete records means [`ExpectedDs::Delete`]; delete
    /// records mixed with others are rejected (RFC 8078 §4: the delete CDS and
    /// CDNSKEY stand alone).
    pub fn from_cds(zone: &Name, cds: &[Ds], cdnskey: &[Dnskey], digests: &[DigestType]) -> Result<Self, ParentError> {
        if cds.is_empty() && cdnskey.is_empty() {
            return Err(ParentError::Expected("no CDS, CDNSKEY or DS record to compare the parent with".into()));
        }
        let cds_delete = cds.iter().filter(|d| d.is_delete()).count();
        let key_delete = cdnskey.iter().filter(|k| k.algorithm == 0).count();
        if cds_delete + key_delete > 0 {
            if cds_delete == cds.len() && key_delete == cdnskey.len() {
                return Ok(ExpectedDs::Delete);
            }
            return Err(ParentError::Expected(
                "the RFC 8078 delete record (algorithm 0) is mixed with other records; it must stand alone".into(),
            ));
        }
        let keys = dedup(cdnskey.to_vec());
        let ds = if !cds.is_empty() {
            dedup(cds.to_vec())
        } else {
            if digests.is_empty() {
                return Err(ParentError::Expected("no digest type to compute DS from CDNSKEY (policy cds_digests is empty)".into()));
            }
            dedup(keys.iter().flat_map(|k| digests.iter().map(move |d| k.ds(zone, *d))).collect())
        };
        Ok(ExpectedDs::Set { ds, keys })
    }

    /// From records in presentation format (DS, CDS, DNSKEY, CDNSKEY), all
    /// owned by `zone`: DS and CDS count as CDS, DNSKEY and CDNSKEY as CDNSKEY
    /// (see [`ExpectedDs::from_cds`]).
    pub fn from_records(zone: &Name, records: &[Record], digests: &[DigestType]) -> Result<Self, ParentError> {
        let mut cds = Vec::new();
        let mut keys = Vec::new();
        for r in records {
            if !same_name(&r.name, zone) {
                return Err(ParentError::Expected(format!(
                    "record owned by {} is not for zone {}",
                    to_presentation(&r.name),
                    to_presentation(zone)
                )));
            }
            match &r.rdata {
                RData::Ds(d) | RData::Cds(d) => cds.push(d.clone()),
                RData::Dnskey(k) | RData::Cdnskey(k) => keys.push(k.clone()),
                other => {
                    return Err(ParentError::Expected(format!(
                        "{} record found; only DS, CDS, DNSKEY and CDNSKEY say what the parent should hold",
                        rtype::name(other.rtype())
                    )))
                }
            }
        }
        Self::from_cds(zone, &cds, &keys, digests)
    }

    /// The expected DS records in presentation form (empty for delete).
    pub fn ds_text(&self) -> Vec<String> {
        match self {
            ExpectedDs::Delete => vec![],
            ExpectedDs::Set { ds, .. } => ds.iter().map(ds_text).collect(),
        }
    }

    pub fn is_delete(&self) -> bool {
        matches!(self, ExpectedDs::Delete)
    }
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// A DS in presentation form (`tag alg digest-type HEX`).
pub fn ds_text(d: &Ds) -> String {
    format_rdata(&RData::Ds(d.clone()))
}

/// How a query went over the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP only.
    Udp,
    /// TCP only (`--tcp`).
    Tcp,
    /// UDP answered with TC set, then TCP (RFC 7766 §5).
    #[serde(rename = "udp+tcp")]
    UdpThenTcp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::UdpThenTcp => "udp+tcp",
        })
    }
}

/// The parts of a server's reply to `zone. IN DS` that the verdict uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsAnswer {
    /// RCODE (RFC 1035 §4.1.1, with the EDNS extension when present).
    pub rcode: u16,
    /// The AA bit (RFC 1035 §4.1.1).
    pub authoritative: bool,
    /// DS records in the answer section owned by the zone.
    pub ds: Vec<Ds>,
    /// The largest TTL of those DS records (`None` without any): the
    /// rollover waits for the DS TTL the parent really serves when it is
    /// longer than the policy's `ds_ttl`.
    pub ttl: Option<u32>,
    /// RRSIGs over those DS records in the answer section (asked with DO
    /// only when validating; empty otherwise).
    pub rrsigs: Vec<Rrsig>,
    /// When validating: the same server's answer for the parent zone's
    /// DNSKEY RRset, or why there is none.
    pub parent_keys: Option<Result<validate::KeysAnswer, String>>,
}

/// What polling one server gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A reply that matched the query (id, question).
    Answer(DsAnswer),
    /// No reply before the timeout.
    Timeout,
    /// Only replies that did not match the query (id, question, QR, opcode)
    /// or could not be parsed arrived.
    Mismatch(String),
    /// A network error (connection refused, unreachable...).
    Error(String),
}

/// The verdict for one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub seen: bool,
    pub reason: String,
}

impl Verdict {
    fn no(reason: impl Into<String>) -> Self {
        Verdict { seen: false, reason: reason.into() }
    }
}

/// The mnemonic of an RCODE as dig and kdig print it (IANA "DNS RCODEs").
pub fn rcode_name(rcode: u16) -> String {
    let n = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        r => return format!("RCODE{r}"),
    };
    n.to_string()
}

/// A server that did not answer, or answered something else, has not been
/// seen to hold anything: timeouts, network errors and mismatched replies
/// are "not seen" (RFC 5452 §9.1: a reply must match the query's id and
/// question to be accepted at all).
pub fn check_answered(obs: &Observation) -> Result<&DsAnswer, Verdict> {
    match obs {
        Observation::Answer(a) => Ok(a),
        Observation::Timeout => Err(Verdict::no("timeout")),
        Observation::Mismatch(m) => Err(Verdict::no(format!("mismatched reply: {m}"))),
        Observation::Error(e) => Err(Verdict::no(format!("error: {e}"))),
    }
}

/// Only the parent's own authoritative data says what it publishes: the DS
/// RRset lives on the parent side of the zone cut (RFC 4035 §3.1.4.1) and an
/// answer without the AA bit (RFC 1035 §4.1.1) is a referral, a cached copy
/// or a lame server.
pub fn check_authoritative(a: &DsAnswer) -> Result<(), Verdict> {
    if a.authoritative {
        Ok(())
    } else {
        Err(Verdict::no(format!("not authoritative (AA bit clear, rcode {}): lame server or referral", rcode_name(a.rcode))))
    }
}

/// NOERROR is the only RCODE that says something about a DS RRset; NXDOMAIN
/// is accepted only when the parent should hold no DS (RFC 8078 §4: the
/// delegation being gone leaves no DS either). SERVFAIL, REFUSED and the rest
/// say nothing (RFC 1035 §4.1.1).
pub fn check_rcode(a: &DsAnswer, expected: &ExpectedDs) -> Result<(), Verdict> {
    match a.rcode {
        RCODE_NOERROR => Ok(()),
        RCODE_NXDOMAIN if expected.is_delete() => Ok(()),
        r => Err(Verdict::no(format!("rcode {}", rcode_name(r)))),
    }
}

/// Whether `d` is one of the expected DS records, or a DS of another digest
/// type for one of the expected keys (the parent may compute its own digests
/// from CDNSKEY, RFC 7344 §4; the digest is recomputed, RFC 4034 §5.1.4).
pub fn ds_is_expected(zone: &Name, d: &Ds, ds: &[Ds], keys: &[Dnskey]) -> bool {
    ds.contains(d) || keys.iter().any(|k| d.matches(zone, k))
}

/// The parent's DS RRset matches the expectation when it contains every
/// expected DS and every DS it holds is for an expected key; a DS left over
/// for a retired key means the parent has not caught up (RFC 7344 §4: the
/// parent's DS RRset is to reflect the CDS/CDNSKEY RRset). For a delete, the
/// parent must hold no DS at all (RFC 8078 §4).
pub fn check_ds_set(zone: &Name, a: &DsAnswer, expected: &ExpectedDs) -> Result<(), Verdict> {
    match expected {
        ExpectedDs::Delete => {
            if a.ds.is_empty() {
                Ok(())
            } else {
                Err(Verdict::no(format!(
                    "DS still present ({}), expected none (delete)",
                    a.ds.iter().map(ds_text).collect::<Vec<_>>().join("; ")
                )))
            }
        }
        ExpectedDs::Set { ds, keys } => {
            if a.ds.is_empty() {
                return Err(Verdict::no(if a.rcode == RCODE_NXDOMAIN { "NXDOMAIN: no delegation" } else { "no DS RRset" }));
            }
            let missing: Vec<String> = ds.iter().filter(|d| !a.ds.contains(d)).map(ds_text).collect();
            let extra: Vec<String> =
                a.ds.iter().filter(|d| !ds_is_expected(zone, d, ds, keys)).map(ds_text).collect();
            let mut why = Vec::new();
            if !missing.is_empty() {
                why.push(format!("missing {}", missing.join("; ")));
            }
            if !extra.is_empty() {
                why.push(format!("unexpected (stale?) {}", extra.join("; ")));
            }
            if why.is_empty() {
                Ok(())
            } else {
                Err(Verdict::no(why.join(", ")))
            }
        }
    }
}

/// The verdict for one server: answered, authoritative, usable RCODE, and a
/// DS RRset that matches the expectation. Anything else is "not seen".
pub fn judge(zone: &Name, expected: &ExpectedDs, obs: &Observation) -> Verdict {
    judge_validated(zone, expected, obs, None)
}

/// [`judge`], and with `validation` the DS RRset must also validate from the
/// parent's trust anchor ([`validate::check_ds_validated`]).
pub fn judge_validated(zone: &Name, expected: &ExpectedDs, obs: &Observation, validation: Option<&validate::Validation>) -> Verdict {
    let a = match check_answered(obs) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let checks = check_authoritative(a)
        .and_then(|_| check_rcode(a, expected))
        .and_then(|_| check_ds_set(zone, a, expected))
        .and_then(|_| validation.map_or(Ok(()), |v| validate::check_ds_validated(zone, v, a)));
    match checks {
        Err(v) => v,
        Ok(()) => Verdict {
            seen: true,
            reason: if expected.is_delete() {
                "no DS RRset, as the delete request asks".into()
            } else if validation.is_some() {
                format!("DS RRset matches ({} record(s)) and validates from the parent trust anchor", a.ds.len())
            } else {
                format!("DS RRset matches ({} record(s))", a.ds.len())
            },
        },
    }
}

/// The overall verdict: seen only when there is at least one server and
/// every server has it. Servers that disagree cannot all match, so they
/// are "not seen"; the reason says so.
pub fn overall(results: &[(String, &Observation, &Verdict)]) -> Verdict {
    if results.is_empty() {
        return Verdict::no("no parent servers");
    }
    let not: Vec<String> =
        results.iter().filter(|(_, _, v)| !v.seen).map(|(s, _, v)| format!("{s}: {}", v.reason)).collect();
    if not.is_empty() {
        return Verdict { seen: true, reason: format!("seen at all {} server(s)", results.len()) };
    }
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    for (_, o, _) in results {
        if let Observation::Answer(a) = o {
            let mut s: Vec<Vec<u8>> = a.ds.iter().map(Ds::to_wire).collect();
            s.sort();
            if !sets.contains(&s) {
                sets.push(s);
            }
        }
    }
    let disagree = if sets.len() > 1 { "servers disagree; " } else { "" };
    Verdict::no(format!("{disagree}not seen at {} of {} server(s): {}", not.len(), results.len(), not.join("; ")))
}

#[cfg(test)]
mod tests;
