//! `kskit export --to knot|bind|zonefile`: hands the imported SKR to the
//! online signer. Knot and BIND get the SKR in their text format; a zone
//! file gets the DNSKEY, CDNSKEY and CDS RRsets and their RRSIGs of the
//! bundle in force. Nothing expired or not yet valid is ever written: past
//! the last bundle (or before the first) the command fails with exit 2.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context};
use crate::dnssec::name::to_presentation;
use crate::export::{response_end_text, text_skr, zonefile_records};
use crate::ksr::model::TextLayout;
use crate::markup::terminal_safe;
use crate::skr::model::Skr;
use crate::timeutil::format_rfc3339;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// SKR text file for Knot DNS `keymgr ZONE import-skr FILE`.
    Knot,
    /// SKR text file for BIND 9.20 `rndc skr -import FILE ZONE`.
    Bind,
    /// DNSKEY, CDNSKEY, CDS and their RRSIGs of the bundle in force, for a zone file.
    Zonefile,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// What to write.
    #[arg(long, value_enum)]
    pub to: Target,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// The time of interest (zonefile: whose bundle; knot/bind: must lie
    /// within the SKR): RFC 3339, `now` or `+10d`. Default now.
    #[arg(long)]
    pub at: Option<String>,
    /// Output file (written atomically); default stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// The zone of `--zone` or the configuration, as lowercase presentation text.
pub fn zone_arg(ctx: &Context, zone: &Option<String>) -> Result<crate::dnssec::Name> {
    Ok(match zone {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => ctx.config()?.zone()?,
    }
    .to_lowercase())
}

pub fn run(a: ExportArgs, ctx: &Context) -> Result<i32> {
    let zone = zone_arg(ctx, &a.zone)?;
    let zone_text = to_presentation(&zone);
    let now = OffsetDateTime::now_utc();
    let at = match &a.at {
        Some(t) => parse_time_arg(t, now)?,
        None => crate::timeutil::whole_seconds(now),
    };
    // The bundle in force at `at` across every imported SKR; refuse
    // outright when nothing is in force: the error says why.
    let timeline = super::skr::timeline(ctx, &zone_text)?;
    let in_force = timeline.in_force(at).with_context(|| format!("cannot export the SKRs of {zone_text}"))?;
    let (path, skr, bundle) = (&in_force.skr.name, &in_force.skr.skr, in_force.bundle);
    // Knot and BIND get every bundle from the one in force on, across the
    // timeline: the rest of this period and every later period imported.
    let handed: Skr = timeline.text_skr_from(at)?;
    let coverage = timeline.coverage_end(at)?;
    let text = match a.to {
        Target::Knot => text_skr(&handed, TextLayout::Knot, crate::timeutil::whole_seconds(now)),
        Target::Bind => text_skr(&handed, TextLayout::Bind, crate::timeutil::whole_seconds(now)),
        Target::Zonefile => {
            let mut s = format!(
                "; {zone_text} DNSKEY, CDNSKEY and CDS from the SKR bundle {} in force at {} (until {}),\n; exported by kskit {} from {}\n",
                terminal_safe(&bundle.id),
                format_rfc3339(at),
                response_end_text(bundle),
                env!("CARGO_PKG_VERSION"),
                path
            );
            for r in zonefile_records(skr, bundle) {
                s.push_str(&crate::dnssec::presentation::format_record(&r));
                s.push('\n');
            }
            s
        }
    };
    match &a.output {
        Some(p) => super::write_output(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    if let Some(p) = &a.output {
        if ctx.json {
            print_json(&serde_json::json!({
                "zone": zone_text, "to": format!("{:?}", a.to).to_lowercase(), "output": p, "at": format_rfc3339(at),
                "bundle": bundle.id, "bundle_until": response_end_text(bundle), "skr_until": format_rfc3339(crate::export::skr_end(skr)?), "coverage_until": format_rfc3339(coverage),
                "skr": path, "bundles": if a.to == Target::Zonefile { 1 } else { handed.bundles.len() },
            }))?;
        } else {
            eprintln!("wrote {} ({zone_text}, bundle {} in force at {})", p.display(), terminal_safe(&bundle.id), format_rfc3339(at));
        }
    }
    Ok(0)
}
