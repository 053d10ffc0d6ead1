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

/// Finds the parent zone's authoritative servers for `zone` through
/// `resolvers`: walks up from the zone's parent name until a name with an NS
/// RRset (the parent zone's apex), then resolves each server's addresses.
/// Returns the parent zone and the servers (port 53).
pub fn discover_parent_servers(zone: &Name, resolvers: &[SocketAddr], timeout: std::time::Duration) -> Result<(Name, Vec<SocketAddr>), ParentError> {
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
    names.truncate(MAX_NS);
    let mut servers = Vec::new();
    for ns in &names {
        for t in [RecordType::A, RecordType::AAAA] {
            if let Ok(reply) = ask(resolvers, ns, t, &opts) {
                for ip in addresses(ns, &reply) {
                    let a = SocketAddr::new(ip, 53);
                    if !servers.contains(&a) {
                        servers.push(a);
                    }
                }
            }
        }
    }
    if servers.is_empty() {
        return Err(ParentError::Discovery(format!("no address found for the NS of {}", to_presentation(&candidate))));
    }
    Ok((candidate, servers))
}
