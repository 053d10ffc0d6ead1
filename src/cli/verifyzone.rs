//! `kskit verify-zone FILE`: verify a whole signed zone file as a
//! validator would (`crate::zone`, docs/verify-zone.md). Exit 0 when no
//! check found a problem, 1 when one did, 2 on an error (unreadable zone
//! file or trust anchor, no SKR bundle in force).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context, EXIT_FAILED};
use crate::dnssec::name::to_presentation;
use crate::dnssec::presentation::parse_records;
use crate::dnssec::verify::verify_rrsig;
use crate::dnssec::{rtype, Dnskey, RrSet};
use crate::keys::keystore::Role;
use crate::skr::checks::{parse_trust_anchor, TrustAnchor};
use crate::timeutil::format_rfc3339;
use crate::zone::{verify_zone, Options, SkrBundle, Trust, ZoneReport};

#[derive(Args, Debug)]
pub struct VerifyZoneArgs {
    /// The signed zone file (presentation format, any signer).
    pub file: PathBuf,
    /// The zone apex (default: the owner of the file's SOA record). With a
    /// keystore and no SOA, the first zone of kskit.toml.
    #[arg(long)]
    pub zone: Option<String>,
    /// DS and/or DNSKEY records the zone's DNSKEY RRset must be signed by
    /// (the syntax of `skr verify --trust-anchor`). Without it, the
    /// keystore of kskit.toml is used: the KSKs of the SKR bundle in force,
    /// and the zone's DNSKEY, CDS and CDNSKEY RRsets must be that bundle's.
    #[arg(long)]
    pub trust_anchor: Option<PathBuf>,
    /// Verify as of this time: RFC 3339, `now` or `+10d`. Default now.
    #[arg(long)]
    pub now: Option<String>,
    /// Every RRset must stay validly signed for this long after --now
    /// (`7d`, `12h`, `P7D`, seconds).
    #[arg(long, default_value = "7d")]
    pub valid_for: String,
}

/// The trust of keystore mode: the bundle in force at `now` across the
/// imported SKRs, its KSKs that verifiably signed its DNSKEY RRset, and
/// the keystore's own KSKs of the zone.
fn keystore_trust(ctx: &Context, zone_text: &str, now: OffsetDateTime) -> Result<Trust> {
    let tl = super::skr::timeline(ctx, zone_text)?;
    let in_force = tl.in_force(now).with_context(|| format!("no SKR bundle of {zone_text} is in force at {}", format_rfc3339(now)))?;
    let (skr, b) = (&in_force.skr.skr, in_force.bundle);
    let keys: Vec<Dnskey> = b.keys.iter().map(|k| k.dnskey.clone()).collect();
    let rrset = RrSet::new(skr.domain.clone(), b.keys.first().map_or(0, |k| k.ttl), keys.iter().cloned().map(crate::dnssec::RData::Dnskey).collect())
        .with_context(|| format!("SKR bundle {} has no DNSKEY RRset", b.id))?;
    let mut anchor_keys: Vec<Dnskey> = Vec::new();
    for s in b.signatures.iter().filter(|s| s.rrsig.type_covered == rtype::DNSKEY) {
        if let Some(k) = keys.iter().find(|k| k.key_tag() == s.rrsig.key_tag && k.algorithm == s.rrsig.algorithm && verify_rrsig(&rrset, &s.rrsig, k).is_ok()) {
            anchor_keys.push(k.clone());
        }
    }
    let ks = ctx.keystore()?;
    for m in ks.keys().iter().filter(|m| m.zone.eq_ignore_ascii_case(zone_text) && matches!(m.role, Role::Ksk | Role::Csk)) {
        anchor_keys.push(m.dnskey()?);
    }
    if anchor_keys.is_empty() {
        bail!("SKR bundle {} of {} has no verifying KSK signature over its DNSKEY RRset: nothing to anchor the zone to", b.id, in_force.skr.name);
    }
    Ok(Trust {
        anchor: TrustAnchor { ds: vec![], dnskeys: anchor_keys, domain: skr.domain.clone() },
        bundle: Some(SkrBundle { label: format!("{} of {}", b.id, in_force.skr.name), dnskey: keys, cds: b.cds.clone(), cdnskey: b.cdnskey.clone() }),
    })
}

fn print_text(file: &std::path::Path, r: &ZoneReport, now: OffsetDateTime, valid_for: &str) {
    let s = &r.stats;
    let algs: Vec<String> = s.algorithms.iter().map(|a| a.to_string()).collect();
    println!(
        "zone {} ({}): {} records, {} names, {} delegations, {} glue names, denial {}; {} of {} RRSIGs verified; algorithms {}",
        r.zone,
        file.display(),
        s.records,
        s.names,
        s.delegations,
        s.glue_names,
        s.denial,
        s.rrsigs_verified,
        s.rrsigs,
        if algs.is_empty() { "none".into() } else { algs.join(", ") }
    );
    println!("checked at {} for a margin of {valid_for}", format_rfc3339(now));
    for c in &r.checks {
        let word = match (c.applicable, c.problems) {
            (false, _) => "N/A ",
            (true, 0) => "PASS",
            (true, _) => "FAIL",
        };
        if c.problems > 0 {
            println!("{word} {} ({} problems)", c.id, c.problems);
        } else {
            println!("{word} {}", c.id);
        }
    }
    for p in &r.problems {
        println!("PROBLEM {} {} {}: {}", p.check, p.owner, p.rtype, p.message);
    }
    for n in &r.notes {
        println!("NOTE {n}");
    }
    if r.ok() {
        println!("OK: no problems");
    } else {
        println!("FAILED: {} problems", r.problems.len());
    }
}

pub fn run(a: VerifyZoneArgs, ctx: &Context) -> Result<i32> {
    let wall = OffsetDateTime::now_utc();
    let now = match &a.now {
        Some(t) => parse_time_arg(t, wall)?,
        None => wall,
    };
    let valid_for = crate::timeutil::parse_duration(&a.valid_for).with_context(|| "--valid-for".to_string())?;
    if valid_for.is_negative() {
        bail!("--valid-for must not be negative");
    }
    let text = String::from_utf8(super::read_file(&a.file)?).with_context(|| format!("{} is not UTF-8 text", a.file.display()))?;
    let zone_given = a.zone.as_deref().map(crate::dnssec::parse_name).transpose()?;
    let records = parse_records(&text, zone_given.as_ref(), None).with_context(|| format!("{} is not a valid zone file", a.file.display()))?;
    let apex = match &zone_given {
        Some(z) => z.clone(),
        None => match crate::zone::find_apex(&records, None) {
            Ok(z) => z,
            Err(e) if a.trust_anchor.is_none() && ctx.config_path.exists() => {
                let _ = e;
                super::export::zone_arg(ctx, &None)?
            }
            Err(e) => return Err(e).with_context(|| format!("cannot verify {}", a.file.display())),
        },
    };
    let trust = match &a.trust_anchor {
        Some(p) => {
            let ta_text = String::from_utf8(super::read_input(p)?).with_context(|| format!("trust anchor {} is not text", p.display()))?;
            let ta = parse_trust_anchor(&ta_text).with_context(|| format!("trust anchor {}", p.display()))?;
            if let Some(w) = ta.sha1_only_warning() {
                eprintln!("warning: {w} ({})", p.display());
            }
            Trust { anchor: ta, bundle: None }
        }
        None => {
            if !ctx.config_path.exists() {
                bail!(
                    "no trust anchor: give --trust-anchor FILE (DS or DNSKEY records) or run where kskit.toml is (or --config) to check against the keystore's SKR timeline"
                );
            }
            keystore_trust(ctx, &to_presentation(&apex), now)?
        }
    };
    let opts = Options { now: now.unix_timestamp().max(0) as u64, valid_for: valid_for.whole_seconds().max(0) as u64 };
    let report = verify_zone(&records, Some(&apex), &trust, &opts).with_context(|| format!("cannot verify {}", a.file.display()))?;
    if ctx.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), serde_json::Value::Bool(report.ok()));
            o.insert("file".into(), serde_json::Value::String(a.file.display().to_string()));
            o.insert("now".into(), serde_json::Value::String(format_rfc3339(now)));
            o.insert("valid_for_seconds".into(), serde_json::Value::from(opts.valid_for));
            o.insert("trust".into(), serde_json::Value::String(if trust.bundle.is_some() { "keystore".into() } else { "trust-anchor".into() }));
        }
        print_json(&v)?;
    } else {
        print_text(&a.file, &report, now, &a.valid_for);
    }
    Ok(if report.ok() { 0 } else { EXIT_FAILED })
}
