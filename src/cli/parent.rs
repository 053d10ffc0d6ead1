//! `kskit parent poll`: is the DS RRset the zone's CDS set implies published
//! at every parent authoritative server? See docs/parent.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context};
use crate::config::Config;
use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::{parse_name, DigestType, Name};
use crate::keys::keystore::Role;
use crate::parent::discover::{discover_parent, resolvers_from_resolv_conf, Discovered};
use crate::parent::query::{parse_server, query_all, QueryOptions};
use crate::parent::validate::Validation;
use crate::parent::{ds_text, judge_validated, overall, rcode_name, ExpectedDs, Observation, Transport, Verdict};

#[derive(Subcommand, Debug)]
pub enum ParentCommand {
    /// Ask every parent server for the zone's DS RRset and compare it with
    /// the expected set (exit 0 seen at every server, 1 not seen, 2 error).
    Poll(PollArgs),
}

#[derive(Args, Debug)]
pub struct PollArgs {
    /// The child zone (default: the configuration's first zone).
    #[arg(long)]
    pub zone: Option<String>,
    /// A parent authoritative server, ADDR[:PORT] (repeatable). Default: the
    /// policy's parent_servers, else discovered from the parent's NS RRset.
    #[arg(long = "server")]
    pub servers: Vec<String>,
    /// Query over TCP only (default: UDP, TCP when the reply is truncated).
    #[arg(long)]
    pub tcp: bool,
    /// Seconds to wait for each server's reply (per transport attempt).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
    /// The expected DS set: DS or CDS (and optionally DNSKEY or CDNSKEY)
    /// records in presentation format. Default: the CDS/CDNSKEY of the
    /// imported SKR's bundle in force, else the keystore's current KSKs.
    #[arg(long)]
    pub expect_ds: Option<PathBuf>,
    /// Recursive resolver ADDR[:PORT] for discovering the parent's servers
    /// (repeatable; default: the nameservers of /etc/resolv.conf).
    #[arg(long)]
    pub resolver: Vec<String>,
    /// The port on which discovered parent servers are asked (default 53;
    /// other values are for test labs).
    #[arg(long, default_value_t = 53)]
    pub ns_port: u16,
    /// Pick the SKR bundle and keys in force at this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// DNSSEC-validate each server's DS answer from this file of the parent
    /// zone's DS or DNSKEY records (default: the policy's parent_trust_anchor).
    #[arg(long)]
    pub parent_trust_anchor: Option<PathBuf>,
}

pub fn run(cmd: ParentCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        ParentCommand::Poll(a) => poll(a, ctx),
    }
}

#[derive(Serialize)]
struct ServerReport {
    /// The address asked, or the NS name when it has no usable address.
    server: String,
    /// The NS names whose address this is (discovery only).
    ns: Vec<String>,
    /// How the query went; null when nothing was asked (an NS name without address).
    transport: Option<Transport>,
    rcode: Option<String>,
    aa: Option<bool>,
    ds: Vec<String>,
    seen: bool,
    reason: String,
}

#[derive(Serialize)]
struct PollReport {
    zone: String,
    expected_from: String,
    delete: bool,
    expected: Vec<String>,
    /// The parent zone whose trust anchor validated the DS answers, when validating.
    validated_from: Option<String>,
    seen: bool,
    reason: String,
    /// How many NS names the parent has (null when the servers were given).
    ns_names: Option<usize>,
    /// How many addresses were asked.
    addresses: usize,
    servers: Vec<ServerReport>,
}

/// The configuration when the file exists (a broken one is an error).
fn optional_config(ctx: &Context) -> Result<Option<Config>> {
    if ctx.config_path.exists() {
        Ok(Some(ctx.config()?))
    } else {
        Ok(None)
    }
}

fn need<'a>(cfg: &'a Option<Config>, ctx: &Context, what: &str) -> Result<&'a Config> {
    cfg.as_ref().with_context(|| {
        format!("no configuration at {} to take {what} from (give it on the command line, or create one with `kskit init`)", ctx.config_path.display())
    })
}

fn poll(a: PollArgs, ctx: &Context) -> Result<i32> {
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
    let cfg = optional_config(ctx)?;
    let zone: Name = match &a.zone {
        Some(z) => parse_name(z)?,
        None => need(&cfg, ctx, "the zone")?.zone()?,
    };
    let zone = zone.to_lowercase();
    let digests: Vec<DigestType> = cfg.as_ref().map(|c| c.policy.cds_digests.clone()).unwrap_or_else(|| vec![DigestType::Sha256]);
    let timeout = Duration::from_secs(a.timeout);

    let (expected, expected_from) = expected_set(&a, ctx, &cfg, &zone, &digests, now)?;
    let targets = servers(&a, &cfg, &zone, timeout)?;
    if targets.servers.is_empty() && targets.discovered.is_none() {
        bail!("no parent servers to ask (give --server, or set parent_servers in the policy)");
    }

    let validation = parent_validation(a.parent_trust_anchor.as_deref(), cfg.as_ref(), &zone, &expected)?;
    let opts = QueryOptions { timeout, tcp_only: a.tcp, recursion_desired: false, dnssec_ok: validation.is_some() };
    let (rows, all) = poll_targets(&targets, &zone, &expected, validation.as_ref(), &opts);

    let report = PollReport {
        zone: to_presentation(&zone),
        expected_from,
        delete: expected.is_delete(),
        expected: expected.ds_text(),
        validated_from: validation.as_ref().map(|v| to_presentation(v.parent())),
        seen: all.seen,
        reason: all.reason.clone(),
        ns_names: targets.discovered.as_ref().map(|d| d.targets.len()),
        addresses: targets.servers.len(),
        servers: rows
            .into_iter()
            .map(|r| {
                let (rcode, aa, ds) = match &r.obs {
                    Observation::Answer(x) => (Some(rcode_name(x.rcode)), Some(x.authoritative), x.ds.iter().map(ds_text).collect()),
                    _ => (None, None, vec![]),
                };
                ServerReport { server: r.server, ns: r.ns, transport: r.transport, rcode, aa, ds, seen: r.verdict.seen, reason: r.verdict.reason }
            })
            .collect(),
    };
    if ctx.json {
        print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(if all.seen { 0 } else { super::EXIT_FAILED })
}

fn print_text(r: &PollReport) {
    println!("Parent DS for {} (expected from {})", r.zone, r.expected_from);
    if r.delete {
        println!("  expected: no DS (RFC 8078 delete)");
    }
    if let Some(p) = &r.validated_from {
        println!("  validated: DS answers must validate from the trust anchor of {p}");
    }
    for e in &r.expected {
        println!("  expected: DS {e}");
    }
    match r.ns_names {
        Some(n) => println!("  asked: {} address(es) of {n} NS name(s)", r.addresses),
        None => println!("  asked: {} address(es) given", r.addresses),
    }
    for s in &r.servers {
        let head = match (&s.rcode, s.aa, s.transport) {
            (Some(rc), Some(aa), Some(t)) => format!("{t} {rc}{}", if aa { " aa" } else { "" }),
            (_, _, Some(t)) => t.to_string(),
            (_, _, None) => "not asked".to_string(),
        };
        let ns = if s.ns.is_empty() || s.transport.is_none() { String::new() } else { format!(" {}", s.ns.join(" ")) };
        println!("{}{ns} ({head}): {} - {}", s.server, if s.seen { "seen" } else { "NOT SEEN" }, s.reason);
        for d in &s.ds {
            println!("    DS {d}");
        }
    }
    println!("{}: {}", if r.seen { "SEEN" } else { "NOT SEEN" }, r.reason);
}

/// The expected DS set and where it came from: --expect-ds, else the CDS/CDNSKEY
/// of the imported SKR's bundle in force at `now`, else the keystore's KSKs.
fn expected_set(a: &PollArgs, ctx: &Context, cfg: &Option<Config>, zone: &Name, digests: &[DigestType], now: OffsetDateTime) -> Result<(ExpectedDs, String)> {
    if let Some(p) = &a.expect_ds {
        let text = String::from_utf8(super::read_file(p)?).with_context(|| format!("{} is not text", p.display()))?;
        let recs = crate::dnssec::presentation::parse_records(&text, Some(zone), Some(3600)).with_context(|| format!("{} is not valid presentation format", p.display()))?;
        let e = ExpectedDs::from_records(zone, &recs, digests).with_context(|| format!("{}", p.display()))?;
        return Ok((e, format!("file {}", p.display())));
    }
    need(cfg, ctx, "the expected DS set (or give --expect-ds)")?;
    let zname = to_presentation(zone);
    let ks = ctx.keystore()?;
    let (timeline, _) = crate::keys::skr_store::load(&ks, &zname).with_context(|| format!("cannot read the SKR timeline of {zname}"))?;
    if !timeline.skrs().is_empty() {
        // The bundle in force across every imported SKR (docs/handoff.md).
        let x = timeline.in_force(now).with_context(|| format!("the imported SKRs have no bundle in force at {}", crate::timeutil::format_rfc3339(now)))?;
        let bundle = x.bundle;
        if !bundle.cds.is_empty() || !bundle.cdnskey.is_empty() {
            let e = ExpectedDs::from_cds(zone, &bundle.cds, &bundle.cdnskey, digests)?;
            return Ok((e, format!("SKR {} bundle {}", x.skr.name, crate::markup::terminal_safe(&bundle.id))));
        }
    }
    let keys = ks
        .keys()
        .iter()
        .filter(|k| k.zone.eq_ignore_ascii_case(&zname) && matches!(k.role, Role::Ksk | Role::Csk))
        .filter(|k| k.flags & crate::dnssec::FLAG_REVOKE == 0)
        .filter(|k| k.timing.publish.is_none_or(|t| t <= now))
        .filter(|k| k.timing.retire.is_none_or(|t| t > now) && k.timing.remove.is_none_or(|t| t > now))
        .map(|k| k.dnskey().map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("no expected DS set for {zname}: no --expect-ds, no CDS/CDNSKEY in an imported SKR, and no current KSK in the keystore");
    }
    let e = ExpectedDs::from_cds(zone, &[], &keys, digests)?;
    Ok((e, format!("keystore KSKs ({})", keys.iter().map(|k| k.key_tag().to_string()).collect::<Vec<_>>().join(", "))))
}

/// What to poll: the addresses to ask and, when they were discovered, every
/// NS name of the parent (those without a usable address count as not seen).
pub(crate) struct Targets {
    pub servers: Vec<SocketAddr>,
    pub discovered: Option<Discovered>,
}

impl Targets {
    /// Servers given (command line or policy); no NS names.
    pub fn given(servers: Vec<SocketAddr>) -> Self {
        Targets { servers, discovered: None }
    }

    /// Discovered servers: every address of every NS name.
    pub fn discovered(d: Discovered) -> Self {
        Targets { servers: d.servers(), discovered: Some(d) }
    }
}

/// One row of a poll: an address asked, or an NS name that could not be.
pub(crate) struct PollRow {
    pub server: String,
    pub ns: Vec<String>,
    pub transport: Option<Transport>,
    pub obs: Observation,
    pub verdict: Verdict,
}

/// Asks every address of `targets` and judges each answer; an NS name with
/// no address or a failed lookup is a row of its own, not seen, named. The
/// overall verdict needs every row seen ([`overall`]).
pub(crate) fn poll_targets(targets: &Targets, zone: &Name, expected: &ExpectedDs, validation: Option<&Validation>, opts: &QueryOptions) -> (Vec<PollRow>, Verdict) {
    let results = query_all(&targets.servers, zone, opts, validation.map(|v| v.parent()));
    let mut rows: Vec<PollRow> = targets
        .servers
        .iter()
        .zip(results)
        .map(|(s, (t, o))| {
            let verdict = judge_validated(zone, expected, &o, validation);
            let ns = targets.discovered.as_ref().map(|d| d.names_of(s)).unwrap_or_default();
            PollRow { server: s.to_string(), ns, transport: Some(t), obs: o, verdict }
        })
        .collect();
    if let Some(d) = &targets.discovered {
        for (name, why) in d.unpolled() {
            let reason = format!("NS {name}: {why}");
            rows.push(PollRow { server: name.clone(), ns: vec![name], transport: None, obs: Observation::Error(reason.clone()), verdict: Verdict { seen: false, reason } });
        }
    }
    let labelled: Vec<(String, &Observation, &Verdict)> = rows
        .iter()
        .map(|r| {
            let label = if r.transport.is_some() && !r.ns.is_empty() { format!("{} ({})", r.server, r.ns.join(" ")) } else { r.server.clone() };
            (label, &r.obs, &r.verdict)
        })
        .collect();
    let mut all = overall(&labelled);
    if let (true, Some(d)) = (all.seen, &targets.discovered) {
        all.reason = format!("{} of {} NS name(s)", all.reason, d.targets.len());
    }
    (rows, all)
}

/// The servers to ask: --server, else the policy's parent_servers, else
/// discovered through a recursive resolver (every NS name, IPv4 and IPv6).
fn servers(a: &PollArgs, cfg: &Option<Config>, zone: &Name, timeout: Duration) -> Result<Targets> {
    let given: Vec<String> = if !a.servers.is_empty() {
        a.servers.clone()
    } else {
        cfg.as_ref().map(|c| c.policy.parent_servers.clone()).unwrap_or_default()
    };
    let mut out = Vec::new();
    for s in &given {
        for addr in parse_server(s)? {
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    if !out.is_empty() {
        return Ok(Targets::given(out));
    }
    let resolvers: Vec<SocketAddr> = if !a.resolver.is_empty() {
        let mut v = Vec::new();
        for r in &a.resolver {
            v.extend(parse_server(r)?);
        }
        v
    } else {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        resolvers_from_resolv_conf(&text)
    };
    Ok(Targets::discovered(discover_parent(zone, &resolvers, timeout, a.ns_port)?))
}

/// The DNSSEC validation of the parent's DS answers, when a parent trust
/// anchor is given (`given`, else the policy's `parent_trust_anchor`): the
/// anchor must be for a zone above `zone`, and an RFC 8078 delete cannot be
/// confirmed by validation (kskit does not check denial of existence).
/// Signatures are checked at the clock's time: the servers answer now.
pub(crate) fn parent_validation(given: Option<&Path>, cfg: Option<&Config>, zone: &Name, expected: &ExpectedDs) -> Result<Option<Validation>> {
    let path = match (given, cfg.and_then(|c| c.policy.parent_trust_anchor.as_ref().map(|p| (c, p)))) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some((c, p))) => c.resolve(p),
        (None, None) => return Ok(None),
    };
    let text = String::from_utf8(super::read_file(&path)?).with_context(|| format!("the parent trust anchor {} is not text", path.display()))?;
    let anchor = crate::skr::checks::parse_trust_anchor(&text).with_context(|| format!("parent trust anchor {}", path.display()))?;
    if let Some(w) = anchor.sha1_only_warning() {
        eprintln!("warning: parent trust anchor {}: {w}", path.display());
    }
    if same_name(&anchor.domain, zone) || !anchor.domain.zone_of(zone) {
        bail!(
            "the parent trust anchor {} is for {}, which is not above {}: give the DS or DNSKEY records of the parent zone",
            path.display(),
            to_presentation(&anchor.domain),
            to_presentation(zone)
        );
    }
    if expected.is_delete() {
        bail!("a DS deletion (RFC 8078) cannot be confirmed with DNSSEC validation: kskit does not check denial of existence (NSEC/NSEC3); poll without a parent trust anchor");
    }
    Ok(Some(Validation { anchor, at: OffsetDateTime::now_utc().unix_timestamp().max(0) as u64 }))
}
