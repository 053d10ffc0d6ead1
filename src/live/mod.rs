//! Live checks of served zones: what the zone's authoritative servers
//! actually serve, asked over UDP and TCP with DO set at every address of
//! every NS name. [`checks`] is `kskit check --live` (the served DNSKEY RRset
//! against the SKR bundle in force, signature margins, sizes, agreement),
//! [`cds`] the registry's view of CDS/CDNSKEY (`kskit cds check`),
//! [`metrics`] the Prometheus text format, [`fetch`] the network edge.
//! See docs/monitoring.md.

pub mod bootstrap;
pub mod cds;
pub mod checks;
pub mod fetch;
pub mod metrics;

/// Errors of the live checks' setup (the checks themselves report findings).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("finding the zone's name servers: {0}")]
    Discovery(String),
}
