//! RFC 9615 authenticated DNSSEC bootstrapping, as a registry checks it for
//! a child without a DS RRset: for every NS name `N` of the child, the
//! signaling records `_dsboot.<child>._signal.<N>` (CDS and CDNSKEY) must be
//! DNSSEC-validated through `N`'s own zone and equal the child's CDS and
//! CDNSKEY RRsets (RFC 9615 §4.1, §4.2).
//!
//! Validation here starts from a trust anchor for each signaling zone (the
//! DS or DNSKEY records of the zone that holds the NS name, e.g. from the
//! operator's own knowledge or a validated lookup), not from the root: kskit
//! does not walk the chain of trust, and the signaling name must lie in the
//! anchored zone itself (no delegation below it is followed). Pure apart
//! from [`check_bootstrap`]'s queries.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::dnssec::name::to_presentation;
use crate::dnssec::record::rtype;
use crate::dnssec::{Dnskey, Name, RData};
use crate::parent::query::{exchange, keys_answer, QueryOptions};
use crate::parent::validate::{check_parent_keys, Validation};
use crate::skr::checks::TrustAnchor;

use super::checks::best_signature;
use super::fetch::{served_of, Question};

/// The RFC 9615 §3.1 signaling name of `child` at name server `ns`:
/// `_dsboot.<child>._signal.<ns>`.
pub fn signaling_name(child: &Name, ns: &Name) -> Result<Name, String> {
    let text = format!("_dsboot.{}_signal.{}", to_presentation(child).trim_start_matches('.'), to_presentation(ns));
    crate::dnssec::parse_name(&text).map_err(|e| format!("signaling name for NS {} is not a valid name (too long?): {e}", to_presentation(ns)))
}

/// The NS target names in a served NS RRset (wire RDATA: one uncompressed name).
pub fn ns_names(rdatas: &[RData]) -> Vec<Name> {
    rdatas
        .iter()
        .filter_map(|r| match r {
            RData::Other { rtype: t, data } if *t == rtype::NS => crate::dnssec::name::from_wire(data).ok().map(|(n, _)| n.to_lowercase()),
            _ => None,
        })
        .collect()
}

fn ask(servers: &[SocketAddr], q: &Question, timeout: Duration) -> Result<hickory_proto::op::Message, String> {
    let opts = QueryOptions { timeout, tcp_only: false, recursion_desired: false, dnssec_ok: true };
    let mut errs = Vec::new();
    for s in servers {
        match exchange(*s, &q.name, RecordType::from(q.rtype), &opts).1 {
            Ok(m) => return Ok(m),
            Err(f) => errs.push(format!("{s}: {f:?}")),
        }
    }
    Err(format!("no signaling server answered {}: {}", q.label(), errs.join("; ")))
}

/// Where the signaling records are asked and what validates them.
#[derive(Debug, Clone)]
pub struct SignalSource {
    /// Trust anchors (DS or DNSKEY) of the zones holding the NS names.
    pub anchors: Vec<TrustAnchor>,
    /// Authoritative servers of those zones.
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
}

/// BOOTSTRAP (RFC 9615 §4.1, §4.2), the outcome feeding CDS-CHAIN: for every
/// NS name of the child (none may be in the child's own zone: in-bailiwick
/// names cannot carry signaling records, RFC 9615 §4.1), the signaling CDS
/// and CDNSKEY RRsets validate from the trust anchor of the zone holding
/// the NS name (its DNSKEY RRset asked of `servers` and validated with
/// `check_parent_keys`, the signaling RRsets signed by it, valid at `now`)
/// and equal the child's CDS and CDNSKEY RRsets (`child_cds`,
/// `child_cdnskey`: canonical RDATA, sorted).
pub fn check_bootstrap(child: &Name, ns: &[Name], child_cds: &[Vec<u8>], child_cdnskey: &[Vec<u8>], src: &SignalSource, now: u64) -> Result<String, String> {
    let (anchors, servers, timeout) = (&src.anchors, &src.servers, src.timeout);
    if ns.is_empty() {
        return Err("RFC 9615: the child serves no NS RRset".into());
    }
    if servers.is_empty() {
        return Err("RFC 9615: no server to ask for the signaling records (--signal-server)".into());
    }
    for n in ns {
        let nt = to_presentation(n);
        if child.zone_of(n) {
            return Err(format!("RFC 9615: NS {nt} is inside {}: no signaling records possible (in-bailiwick)", to_presentation(child)));
        }
        let anchor = anchors
            .iter()
            .filter(|a| a.domain.zone_of(n))
            .max_by_key(|a| a.domain.num_labels())
            .ok_or_else(|| format!("RFC 9615: no trust anchor (--signal-anchor) for a zone holding NS {nt}"))?;
        let zone = anchor.domain.to_lowercase();
        let kq = Question::new(&zone, rtype::DNSKEY);
        let km = ask(servers, &kq, timeout)?;
        let keys_ans = keys_answer(&zone, &km)?;
        let v = Validation { anchor: anchor.clone(), at: now };
        let keys: Vec<Dnskey> = check_parent_keys(&v, &keys_ans).map_err(|e| format!("RFC 9615: NS {nt}: {e}"))?;
        let sig = signaling_name(child, n)?;
        for (t, want) in [(rtype::CDS, child_cds), (rtype::CDNSKEY, child_cdnskey)] {
            let q = Question::new(&sig, t);
            let m = ask(servers, &q, timeout)?;
            let s = served_of(&q, &m, false)?;
            if s.rcode != 0 || !s.authoritative {
                return Err(format!("RFC 9615: {}: rcode {}{}", q.label(), crate::parent::rcode_name(s.rcode), if s.authoritative { "" } else { ", AA bit clear" }));
            }
            if s.canonical() != want {
                return Err(format!("RFC 9615: {} ({} record(s)) is not the child's {} RRset ({} record(s))", q.label(), s.rdatas.len(), rtype::name(t), want.len()));
            }
            if s.rdatas.is_empty() {
                continue;
            }
            best_signature(&zone, &q, &s, &keys, now).map_err(|why| format!("RFC 9615: {}: {why}", q.label()))?;
        }
    }
    Ok(format!("signaling records validated at {} NS name(s)", ns.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::parse_name;

    #[test]
    fn signaling_name_is_dsboot_child_signal_ns() {
        let n = signaling_name(&parse_name("Example.ORG.").unwrap(), &parse_name("ns1.provider.net.").unwrap()).unwrap();
        assert_eq!(to_presentation(&n).to_lowercase(), "_dsboot.example.org._signal.ns1.provider.net.");
        // Too long for a domain name (255 octets): an error, not a panic.
        let long = parse_name(&format!("{}.example.", vec!["a".repeat(60); 3].join("."))).unwrap();
        assert!(signaling_name(&long, &long).is_err());
    }
}
