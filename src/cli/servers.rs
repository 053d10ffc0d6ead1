//! Which authoritative servers of a zone the live commands ask (`check
//! --live`, `cds check`): one set of flags, flattened into both.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::dnssec::Name;
use crate::live::fetch::{discover_zone, targets_of, Target};
use crate::parent::discover::resolvers_from_resolv_conf;
use crate::parent::query::parse_server;

/// The servers to ask and how long to wait for each reply.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Ask this server, ADDR[:PORT] (repeatable) instead of the zone's NS
    /// names found through a resolver.
    #[arg(long = "server")]
    pub servers: Vec<String>,
    /// Recursive resolver ADDR[:PORT] to find the zone's NS names and their
    /// addresses (repeatable; default: /etc/resolv.conf).
    #[arg(long)]
    pub resolver: Vec<String>,
    /// The port on which the discovered name servers are asked (default 53;
    /// other values are for test labs).
    #[arg(long, default_value_t = 53)]
    pub ns_port: u16,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

/// NS names that could not be asked, with the reason.
pub(crate) type Unusable = Vec<(String, String)>;

impl ServerArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }

    /// The servers to ask for `zone`: `--server` (ADDR[:PORT]), else every
    /// address of every NS name found through `--resolver` (else
    /// /etc/resolv.conf), asked on `--ns-port`. Returns the targets and the
    /// NS names that have no usable address.
    pub fn targets(&self, zone: &Name) -> Result<(Vec<Target>, Unusable)> {
        if !self.servers.is_empty() {
            let mut out: Vec<Target> = Vec::new();
            for s in &self.servers {
                for addr in parse_server(s)? {
                    if !out.iter().any(|t| t.addr == addr) {
                        out.push(Target { addr, ns: vec![] });
                    }
                }
            }
            return Ok((out, vec![]));
        }
        let resolvers: Vec<SocketAddr> = if !self.resolver.is_empty() {
            let mut v = Vec::new();
            for r in &self.resolver {
                v.extend(parse_server(r)?);
            }
            v
        } else {
            resolvers_from_resolv_conf(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
        };
        let ns = discover_zone(zone, &resolvers, self.timeout(), self.ns_port)?;
        Ok(targets_of(&ns))
    }
}
