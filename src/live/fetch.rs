//! The network edge of the live checks: ask one authoritative server one
//! question over UDP or TCP with DO set (RFC 3225), and keep what the checks
//! need from the reply (RCODE, AA, TC over UDP, size, the RRset and its
//! RRSIGs). Queries go through [`crate::parent::query::exchange`], which
//! matches replies to queries (id, question) and retries over TCP when a UDP
//! reply is truncated. Finding the zone's own servers (every NS name, A and
//! AAAA) is [`discover_zone`]. Nothing here judges an answer.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use serde::Serialize;

use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::record::rtype;
use crate::dnssec::{Name, RData, Rrsig};
use crate::parent::discover::{address_lookup, ns_names, ns_target, NsTarget, MAX_NS};
use crate::parent::query::{exchange, Failure, QueryOptions};
use crate::parent::Transport;

use super::LiveError;

/// One question: owner name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub rtype: u16,
}

impl Question {
    pub fn new(name: &Name, rtype: u16) -> Self {
        Question { name: name.to_lowercase(), rtype }
    }

    /// `owner TYPE` for messages.
    pub fn label(&self) -> String {
        format!("{} {}", to_presentation(&self.name), rtype::name(self.rtype))
    }
}

/// How a server is asked: each server is asked every question over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        })
    }
}

/// What one server served for one question over one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// RCODE (RFC 1035 §4.1.1 with the EDNS extension).
    pub rcode: u16,
    /// The AA bit.
    pub authoritative: bool,
    /// Over UDP: the reply had TC set (RFC 1035 §4.1.1), and what follows
    /// is the TCP retry's answer (RFC 7766 §5).
    pub truncated: bool,
    /// Size in octets of the (final) reply as re-encoded.
    pub size: usize,
    /// TTL of the RRset (the first record's), when there is one.
    pub ttl: Option<u32>,
    /// The RRset's RDATA (records of the type owned by the name, answer section).
    pub rdatas: Vec<RData>,
    /// RRSIGs in the answer section owned by the name and covering the type.
    pub rrsigs: Vec<Rrsig>,
    /// The NSEC and NSEC3 RRsets of the authority section (the denial of
    /// existence, RFC 4035 §3.1.3), each with the RRSIGs covering it there.
    pub denial: Vec<DenialSet>,
}

/// One NSEC or NSEC3 RRset of a reply's authority section with its RRSIGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialSet {
    pub owner: Name,
    /// NSEC or NSEC3.
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Vec<RData>,
    pub rrsigs: Vec<Rrsig>,
}

impl Served {
    /// The RRset's RDATA in canonical wire form, sorted, duplicates removed:
    /// what two servers must agree on.
    pub fn canonical(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = self.rdatas.iter().map(RData::to_wire).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// One question's outcome at one server over one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Answer(Served),
    /// No usable reply: timeout, network error, mismatched or unparsable reply.
    Failed(String),
}

/// One server address and the NS names it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub ns: Vec<String>,
}

impl Target {
    /// `ADDR (ns1.example. ns2.example.)` for messages and labels.
    pub fn label(&self) -> String {
        if self.ns.is_empty() {
            self.addr.to_string()
        } else {
            format!("{} ({})", self.addr, self.ns.join(" "))
        }
    }
}

/// Everything one server served over one transport.
#[derive(Debug, Clone)]
pub struct ServerObs {
    pub target: Target,
    pub proto: Proto,
    pub answers: Vec<(Question, Fetched)>,
}

impl ServerObs {
    /// The served answer for `q`, if the server gave one.
    pub fn get(&self, q: &Question) -> Option<&Served> {
        self.answers.iter().find(|(x, _)| x == q).and_then(|(_, f)| match f {
            Fetched::Answer(s) => Some(s),
            Fetched::Failed(_) => None,
        })
    }

    /// `ADDR/udp` for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.target.label(), self.proto)
    }
}

/// RDATA in canonical wire form (RFC 4034 §6.2: embedded names uncompressed
/// and lowercased), as kskit's [`RData`].
fn rdata_of(r: &hickory_proto::rr::Record) -> Result<RData, String> {
    let mut bytes = Vec::new();
    {
        let mut enc = BinEncoder::new(&mut bytes);
        enc.set_canonical_form(true);
        r.data.emit(&mut enc).map_err(|e| format!("cannot re-encode a {} record: {e}", r.record_type()))?;
    }
    RData::from_wire(u16::from(r.record_type()), &bytes).map_err(|e| e.to_string())
}

/// The answer for `q` in `reply`: the RRset of the type owned by the name in
/// the answer section and the RRSIGs covering it there.
pub fn served_of(q: &Question, reply: &Message, truncated: bool) -> Result<Served, String> {
    let mut rdatas = Vec::new();
    let mut rrsigs = Vec::new();
    let mut ttl = None;
    for r in &reply.answers {
        if !same_name(&r.name, &q.name) || r.dns_class != DNSClass::IN {
            continue;
        }
        let t = u16::from(r.record_type());
        if t == q.rtype {
            ttl.get_or_insert(r.ttl);
            rdatas.push(rdata_of(r)?);
        } else if t == rtype::RRSIG {
            if let RData::Rrsig(s) = rdata_of(r)? {
                if s.type_covered == q.rtype {
                    rrsigs.push(s);
                }
            }
        }
    }
    let size = reply.to_vec().map(|v| v.len()).unwrap_or(0);
    Ok(Served {
        denial: denial_of(reply)?,
        rcode: u16::from(reply.metadata.response_code),
        authoritative: reply.metadata.authoritative,
        truncated,
        size,
        ttl,
        rdatas,
        rrsigs,
    })
}

/// The NSEC and NSEC3 RRsets of the authority section, grouped by owner
/// and type, with the RRSIGs covering them.
fn denial_of(reply: &Message) -> Result<Vec<DenialSet>, String> {
    let mut out: Vec<DenialSet> = Vec::new();
    let mut sigs: Vec<(Name, Rrsig)> = Vec::new();
    for r in &reply.authorities {
        if r.dns_class != DNSClass::IN {
            continue;
        }
        let t = u16::from(r.record_type());
        if t == rtype::NSEC || t == rtype::NSEC3 {
            let rd = rdata_of(r)?;
            match out.iter_mut().find(|d| d.rtype == t && same_name(&d.owner, &r.name)) {
                Some(d) => d.rdatas.push(rd),
                None => out.push(DenialSet { owner: r.name.to_lowercase(), rtype: t, ttl: r.ttl, rdatas: vec![rd], rrsigs: vec![] }),
            }
        } else if t == rtype::RRSIG {
            if let RData::Rrsig(s) = rdata_of(r)? {
                if s.type_covered == rtype::NSEC || s.type_covered == rtype::NSEC3 {
                    sigs.push((r.name.clone(), s));
                }
            }
        }
    }
    for (owner, s) in sigs {
        if let Some(d) = out.iter_mut().find(|d| d.rtype == s.type_covered && same_name(&d.owner, &owner)) {
            d.rrsigs.push(s);
        }
    }
    Ok(out)
}

fn failure_text(f: Failure) -> String {
    match f {
        Failure::Timeout => "timeout".into(),
        Failure::Mismatch(m) => format!("mismatched reply: {m}"),
        Failure::Io(e) => e,
    }
}

/// Asks `server` the question over `proto` with DO set and RD clear.
pub fn ask(server: SocketAddr, q: &Question, proto: Proto, timeout: Duration) -> Fetched {
    let opts = QueryOptions { timeout, tcp_only: proto == Proto::Tcp, recursion_desired: false, dnssec_ok: true };
    let (transport, r) = exchange(server, &q.name, RecordType::from(q.rtype), &opts);
    match r {
        Ok(m) => match served_of(q, &m, transport == Transport::UdpThenTcp) {
            Ok(s) => Fetched::Answer(s),
            Err(e) => Fetched::Failed(e),
        },
        Err(f) => Fetched::Failed(failure_text(f)),
    }
}

/// Asks every target every question over UDP and over TCP (one thread per
/// target and transport); results in the order of `targets`, UDP first.
pub fn ask_all(targets: &[Target], questions: &[Question], timeout: Duration) -> Vec<ServerObs> {
    let jobs: Vec<(&Target, Proto)> = targets.iter().flat_map(|t| [(t, Proto::Udp), (t, Proto::Tcp)]).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(t, p)| {
                let (t, p) = (*t, *p);
                s.spawn(move || ServerObs { target: t.clone(), proto: p, answers: questions.iter().map(|q| (q.clone(), ask(t.addr, q, p, timeout))).collect() })
            })
            .collect();
        handles
            .into_iter()
            .zip(jobs.iter())
            .map(|(h, (t, p))| {
                h.join().unwrap_or_else(|_| ServerObs {
                    target: (*t).clone(),
                    proto: *p,
                    answers: questions.iter().map(|q| (q.clone(), Fetched::Failed("query thread panicked".into()))).collect(),
                })
            })
            .collect()
    })
}

/// The zone's own authoritative servers, found through `resolvers`: the NS
/// RRset of `zone`, then A and AAAA of every NS name (each address asked on
/// `port`). NS names without a usable address are returned with the reason.
pub fn discover_zone(zone: &Name, resolvers: &[SocketAddr], timeout: Duration, port: u16) -> Result<Vec<NsTarget>, LiveError> {
    if resolvers.is_empty() {
        return Err(LiveError::Discovery("no resolver (no nameserver in /etc/resolv.conf); give --server or --resolver".into()));
    }
    let opts = QueryOptions { timeout, tcp_only: false, recursion_desired: true, dnssec_ok: false };
    let ask_any = |name: &Name, t: RecordType| -> Result<Message, String> {
        let mut errors = Vec::new();
        for r in resolvers {
            match exchange(*r, name, t, &opts).1 {
                Ok(m) => return Ok(m),
                Err(f) => errors.push(format!("{r}: {}", failure_text(f))),
            }
        }
        Err(format!("no resolver answered {} {t}: {}", to_presentation(name), errors.join("; ")))
    };
    let reply = ask_any(zone, RecordType::NS).map_err(LiveError::Discovery)?;
    let mut names: Vec<Name> = Vec::new();
    for n in ns_names(zone, &reply) {
        if !names.iter().any(|u| same_name(u, &n)) {
            names.push(n);
        }
    }
    if names.is_empty() {
        return Err(LiveError::Discovery(format!("no NS RRset for {}", to_presentation(zone))));
    }
    let mut out = Vec::new();
    for (i, ns) in names.into_iter().enumerate() {
        if i >= MAX_NS {
            out.push(NsTarget { name: ns, addrs: vec![], problems: vec![format!("not asked: more than {MAX_NS} NS names")] });
            continue;
        }
        let lookups = [RecordType::A, RecordType::AAAA]
            .into_iter()
            .map(|t| ask_any(&ns, t).map_err(|e| format!("{t} lookup failed: {e}")).and_then(|reply| address_lookup(&ns, t, &reply)))
            .collect();
        out.push(ns_target(ns, lookups, port));
    }
    Ok(out)
}

/// Every address of `ns` as a [`Target`] (one per address, with every NS
/// name it belongs to), and the NS names that have none, with the reason.
pub fn targets_of(ns: &[NsTarget]) -> (Vec<Target>, Vec<(String, String)>) {
    let mut out: Vec<Target> = Vec::new();
    let mut unusable = Vec::new();
    for t in ns {
        let name = to_presentation(&t.name);
        for a in &t.addrs {
            match out.iter_mut().find(|x| x.addr == *a) {
                Some(x) => x.ns.push(name.clone()),
                None => out.push(Target { addr: *a, ns: vec![name.clone()] }),
            }
        }
        if !t.problems.is_empty() {
            unusable.push((name, t.problems.join("; ")));
        }
    }
    (out, unusable)
}
