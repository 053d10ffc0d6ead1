//! `kskit cds check --zone Z`: what a registry scanning the child's CDS and
//! CDNSKEY RRsets at every name server would see and decide
//! (`crate::live::cds`). Exit 0 accept, 1 reject (the rule is named), 2 error.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::check::safe;
use super::{parse_time_arg, print_json, Context};
use crate::dnssec::name::same_name;
use crate::dnssec::{parse_name, RData};
use crate::live::cds::{judge, questions};
use crate::dnssec::record::rtype;
use crate::live::bootstrap::{check_bootstrap, ns_names, SignalSource};
use crate::live::fetch::{ask_all, Question};

#[derive(Subcommand, Debug)]
pub enum CdsCommand {
    /// The registry's view: would a parent accept the zone's CDS/CDNSKEY
    /// (exit 0), reject it (1, naming the rule), or is there an error (2)?
    Check(CdsCheckArgs),
}

#[derive(Args, Debug)]
pub struct CdsCheckArgs {
    /// The child zone.
    #[arg(long)]
    pub zone: String,
    /// The servers to ask.
    #[command(flatten)]
    pub net: super::servers::ServerArgs,
    /// The DS RRset the parent holds now (DS records in presentation
    /// format): the CDS must validate from it (RFC 7344 §4.1).
    #[arg(long)]
    pub ds: Option<PathBuf>,
    /// No DS yet: authenticate the CDS by RFC 9615 bootstrapping, validating
    /// each NS name's `_dsboot` signaling records from this trust anchor of
    /// the zone holding the NS name (DS or DNSKEY records; repeatable).
    #[arg(long)]
    pub signal_anchor: Vec<PathBuf>,
    /// Authoritative server ADDR[:PORT] of the signaling zones (repeatable;
    /// needed with --signal-anchor).
    #[arg(long)]
    pub signal_server: Vec<String>,
    /// Print only the DS RRset a registry would install (zone-file lines), as a registry would.
    #[arg(long)]
    pub as_registry: bool,
    /// Judge signatures at this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
}

pub fn run(cmd: CdsCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        CdsCommand::Check(a) => check(a, ctx),
    }
}

fn check(a: CdsCheckArgs, ctx: &Context) -> Result<i32> {
    let zone = parse_name(&a.zone)?.to_lowercase();
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
    let ds = match &a.ds {
        None => None,
        Some(p) => {
            let text = String::from_utf8(super::read_input(p)?).with_context(|| format!("{} is not text", p.display()))?;
            let recs = crate::dnssec::presentation::parse_records(&text, Some(&zone), Some(3600)).with_context(|| format!("{} is not valid presentation format", p.display()))?;
            let mut v = Vec::new();
            for r in recs {
                match r.rdata {
                    RData::Ds(d) if same_name(&r.name, &zone) => v.push(d),
                    _ => bail!("{}: only DS records owned by {} belong in the current DS RRset", p.display(), a.zone),
                }
            }
            if v.is_empty() {
                bail!("{}: no DS record", p.display());
            }
            Some(v)
        }
    };
    let timeout = a.net.timeout();
    let (targets, unusable) = a.net.targets(&zone)?;
    if targets.is_empty() {
        bail!("no server to ask for {}", a.zone);
    }
    let obs = ask_all(&targets, &questions(&zone), timeout);
    let at = now.unix_timestamp().max(0) as u64;
    let bootstrap = if ds.is_none() && !a.signal_anchor.is_empty() {
        let mut anchors = Vec::new();
        for p in &a.signal_anchor {
            let text = String::from_utf8(super::read_input(p)?).with_context(|| format!("{} is not text", p.display()))?;
            anchors.push(crate::skr::checks::parse_trust_anchor(&text).with_context(|| format!("signaling trust anchor {}", p.display()))?);
        }
        let mut servers = Vec::new();
        for s in &a.signal_server {
            servers.extend(crate::parent::query::parse_server(s)?);
        }
        let src = SignalSource { anchors, servers, timeout };
        let first = obs.first().context("no server answered")?;
        let get = |t: u16| first.get(&Question::new(&zone, t));
        let ns = get(rtype::NS).map(|s| ns_names(&s.rdatas)).unwrap_or_default();
        let cds = get(rtype::CDS).map(|s| s.canonical()).unwrap_or_default();
        let cdnskey = get(rtype::CDNSKEY).map(|s| s.canonical()).unwrap_or_default();
        Some(check_bootstrap(&zone, &ns, &cds, &cdnskey, &src, at))
    } else {
        None
    };
    let mut view = judge(&zone, &obs, ds.as_deref(), bootstrap, at);
    if !unusable.is_empty() && view.accept {
        let why: Vec<String> = unusable.iter().map(|(n, w)| format!("NS {n}: {w}")).collect();
        view.accept = false;
        view.ds.clear();
        view.message = format!("a registry would REJECT: CDS-FETCHED not every name server could be asked: {}", why.join("; "));
        if let Some(r) = view.rules.iter_mut().find(|r| r.id == "CDS-FETCHED") {
            r.passed = Some(false);
            r.message = why.join("; ");
        }
    }
    let code = if view.accept { 0 } else { super::EXIT_FAILED };
    if ctx.json {
        print_json(&view)?;
    } else if a.as_registry {
        if view.accept {
            if view.delete {
                println!("; delete the DS RRset of {} (RFC 8078)", view.zone);
            }
            for d in &view.ds {
                println!("{} 3600 IN DS {d}", view.zone);
            }
        } else {
            eprintln!("{}", safe(&view.message));
        }
    } else {
        println!("CDS/CDNSKEY of {} as a registry sees it ({} address(es), UDP and TCP)", view.zone, targets.len());
        for r in &view.rules {
            let tag = match r.passed {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "N/A ",
            };
            println!("{tag} {}: {}", r.id, safe(&r.message));
        }
        for d in &view.ds {
            println!("  DS {d}");
        }
        println!("{}", safe(&view.message));
    }
    Ok(code)
}
