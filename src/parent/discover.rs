//! Finding the parent's authoritative servers when none are configured: ask a
//! recursive resolver (from /etc/resolv.conf, or given) for the NS RRset of
//! the closest enclosing zone above the child, then for the A and AAAA
//! records of each name server. Kept deliberately simple (see docs/parent.md):
//! the resolver is trusted for this step, and the servers found are then
//! asked directly, each on port 53.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};

use super::query::{exchange, QueryOptions};
use super::ParentError;
use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::Name;

/// At most this many name servers are used (a parent NS RRset larger than
/// this is unusual; the root has 13).
pub const MAX_NS: usize = 16;

/// The `nameserver` addresses of a resolv.conf text (resolv.conf(5)), port 53.
pub fn resolvers_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("nameserver"), Some(a)) => a.split('%').next().and_then(|a| a.parse::<IpAddr>().ok()),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The NS target names in a reply's answer section owned by `owner`.
pub fn ns_names(owner: &Name, reply: &Message) -> Vec<Name> {
    reply
        .answers
        .iter()
        .filter(|r| same_name(&r.name, owner))
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect()
}

/// The A/AAAA addresses for `name` in any section of a reply.
pub fn addresses(name: &Name, reply: &Message) -> Vec<IpAddr> {
    reply
        .answers
        .iter()
        .chain(reply.additionals.iter())
        .filter(|r| same_name(&r.name, name))
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

fn ask(resolvers: &[SocketAddr], name: &Name, t: RecordType, opts: &QueryOptions) -> Result<Message, ParentError> {
    let mut errors = Vec::new();
    for r in resolvers {
        match exchange(*r, name, t, opts).1 {
            Ok(m) => return Ok(m),
            Err(f) => errors.push(format!("{r}: {f:?}")),
        }
    }
    Err(ParentError::Discovery(format!("no resolver answered {} {t}: {}", to_presentation(name), errors.join("; "))))
}

/// One NS name of the parent zone and what its address lookups gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsTarget {
    /// The NS target name.
    pub name: Name,
    /// Its IPv4 and IPv6 addresses (A and AAAA), with the port to ask on.
    pub addrs: Vec<SocketAddr>,
    /// Why the name cannot be (fully) polled: a lookup that failed, or no
    /// address at all. Empty when every lookup answered.
    pub problems: Vec<String>,
}

/// The parent zone and every one of its NS names, polled or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub parent: Name,
    pub targets: Vec<NsTarget>,
}

impl Discovered {
    /// Every address to ask, each once, in the order found.
    pub fn servers(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for a in self.targets.iter().flat_map(|t| t.addrs.iter()) {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }

    /// The NS names (presentation form) that have `addr` among their addresses.
    pub fn names_of(&self, addr: &SocketAddr) -> Vec<String> {
        self.targets.iter().filter(|t| t.addrs.contains(addr)).map(|t| to_presentation(&t.name)).collect()
    }

    /// The NS names that count as "not seen" whatever the addresses answer,
    /// with the reason: no address, or a failed lookup (its addresses may be
    /// incomplete, so a server of the parent may not have been asked).
    pub fn unpolled(&self) -> Vec<(String, String)> {
        self.targets.iter().filter(|t| !t.problems.is_empty()).map(|t| (to_presentation(&t.name), t.problems.join("; "))).collect()
    }
}

/// The addresses of `name` of type `t` (A or AAAA) in a resolver's reply, or
/// why the lookup says nothing: only NOERROR answers (with records, or none:
/// the name has no address of that type) are results; NXDOMAIN means the name
/// does not exist and any other RCODE (SERVFAIL, REFUSED...) is a failed
/// lookup (RFC 1035 §4.1.1).
pub fn address_lookup(name: &Name, t: RecordType, reply: &Message) -> Result<Vec<IpAddr>, String> {
    let rcode = u16::from(reply.metadata.response_code);
    match rcode {
        super::RCODE_NOERROR => Ok(addresses(name, reply)
            .into_iter()
            .filter(|ip| matches!((ip, t), (IpAddr::V4(_), RecordType::A) | (IpAddr::V6(_), RecordType::AAAA)))
            .collect()),
        super::RCODE_NXDOMAIN => Err(format!("{t} lookup: NXDOMAIN (the name does not exist)")),
        r => Err(format!("{t} lookup failed: {}", super::rcode_name(r))),
    }
}

/// The NS target from its A and AAAA lookups (each a list of addresses or the
/// reason it failed): a failed lookup is a problem even when the other type
/// gave addresses, and a name with no address at all is one too.
pub fn ns_target(name: Name, lookups: Vec<Result<Vec<IpAddr>, String>>, port: u16) -> NsTarget {
    let mut addrs = Vec::new();
    let mut problems = Vec::new();
    for l in lookups {
        match l {
            Ok(ips) => {
                for ip in ips {
                    let a = SocketAddr::new(ip, port);
                    if !addrs.contains(&a) {
                        addrs.push(a);
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    if addrs.is_empty() && problems.is_empty() {
        problems.push("no A or AAAA address".into());
    }
    NsTarget { name, addrs, problems }
}

/// Finds the parent zone's authoritative servers for `zone` through
/// `resolvers`: walks up from the zone's parent name until a name with an NS
/// RRset (the parent zone's apex), then looks up each NS name's A and AAAA
/// records. Every NS name is kept, with its addresses (asked on `port`) or
/// the reason it has none; NS names beyond [`MAX_NS`] are kept as not asked.
pub fn discover_parent(zone: &Name, resolvers: &[SocketAddr], timeout: std::time::Duration, port: u16) -> Result<Discovered, ParentError> {
    if zone.is_root() {
        return Err(ParentError::Discovery("the root zone has no parent".into()));
    }
    if resolvers.is_empty() {
        return Err(ParentError::Discovery("no resolver (no nameserver in /etc/resolv.conf); give --server".into()));
    }
    let opts = QueryOptions { timeout, tcp_only: false, recursion_desired: true, dnssec_ok: false };
    let mut candidate = zone.base_name();
    let mut names = Vec::new();
    for _ in 0..=zone.num_labels() {
        let reply = ask(resolvers, &candidate, RecordType::NS, &opts)?;
        names = ns_names(&candidate, &reply);
        if !names.is_empty() || candidate.is_root() {
            break;
        }
        candidate = candidate.base_name();
    }
    if names.is_empty() {
        return Err(ParentError::Discovery(format!("no NS RRset found above {}", to_presentation(zone))));
    }
    let mut unique: Vec<Name> = Vec::new();
    for n in names {
        if !unique.iter().any(|u| same_name(u, &n)) {
            unique.push(n);
        }
    }
    let mut targets = Vec::new();
    for (i, ns) in unique.into_iter().enumerate() {
        if i >= MAX_NS {
            targets.push(NsTarget { name: ns, addrs: vec![], problems: vec![format!("not asked: more than {MAX_NS} NS names")] });
            continue;
        }
        let lookups = [RecordType::A, RecordType::AAAA]
            .into_iter()
            .map(|t| ask(resolvers, &ns, t, &opts).map_err(|e| format!("{t} lookup failed: {e}")).and_then(|reply| address_lookup(&ns, t, &reply)))
            .collect();
        targets.push(ns_target(ns, lookups, port));
    }
    Ok(Discovered { parent: candidate, targets })
}
