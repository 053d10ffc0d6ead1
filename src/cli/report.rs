//! `kskit report --html FILE`: gathers the zone's plan, imported SKR,
//! rollover state, keys and checks for [`crate::report::render`].

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use time::{Duration, OffsetDateTime};

use super::{print_json, Context};
use crate::report::{CheckRow, Coverage, KeyRow, Page, Poll};
use crate::timeutil::format_rfc3339;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Write the self-contained HTML page to this file.
    #[arg(long)]
    pub html: PathBuf,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// The timeline covers this many days from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub days: u16,
    /// How many of the last parent polls to show.
    #[arg(long, default_value_t = 10)]
    pub polls: usize,
    #[command(flatten)]
    pub chart: super::rollover::ChartArgs,
}

pub fn run(a: ReportArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let ks = ctx.keystore()?;
    let zone = match &a.zone {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => cfg.zone()?,
    }
    .to_lowercase();
    let zone_text = crate::dnssec::name::to_presentation(&zone);
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::days(i64::from(a.days));
    let plan = crate::rollover::plan::plan(&zone_text, &cfg.policy, ks.keys(), now, until)
        .with_context(|| format!("cannot plan the rollovers of {zone_text}"))?;
    let opts = super::rollover::chart_options(ctx, &cfg, &zone_text, now, until, &a.chart)?;
    let svg = crate::rollover::svg::render_svg(&plan, now, until, &opts);

    let mut checks = Vec::new();
    // Nothing imported yet is a state the page shows, not an error.
    let timeline = super::skr::timeline(ctx, &zone_text).ok();
    let coverage = match timeline.as_ref().and_then(|t| t.governing_skr(now)).map(|t| (&t.name, &t.skr)) {
        Some((path, skr)) => {
            let h = crate::export::skr_health(&skr, now, Duration::days(14), Duration::days(7));
            checks.push(CheckRow { id: "SKR coverage (kskit check)".into(), status: h.status.label().to_string(), message: h.message.clone() });
            Some(Coverage {
                file: path.to_string(),
                bundles: skr.bundles.len(),
                first_inception: skr.bundles.first().map(|b| format_rfc3339(b.inception)).unwrap_or_default(),
                last_expiration: h.skr_end.clone(),
                days_left: h.days_left,
                bundle_in_force_until: h.bundle_in_force_until.clone(),
            })
        }
        None => {
            checks.push(CheckRow { id: "SKR coverage (kskit check)".into(), status: "CRITICAL".into(), message: format!("no SKR imported for {zone_text}") });
            None
        }
    };
    let problems = crate::policy::check_policy(&cfg.policy);
    if problems.is_empty() {
        checks.push(CheckRow { id: "policy (kskit policy check)".into(), status: "OK".into(), message: "the policy is consistent".into() });
    }
    for p in problems {
        checks.push(CheckRow { id: p.id.to_string(), status: "FAIL".into(), message: p.message });
    }

    let state = crate::rollover::state::StateFile::load(ks.dir()).context("cannot read the rollover state")?;
    let zs = state.zones.get(&zone_text);
    let polls: Vec<Poll> = zs
        .map(|z| {
            z.observations
                .iter()
                .rev()
                .take(a.polls)
                .map(|o| Poll { at: format_rfc3339(o.at), expected: o.expected.clone(), seen: o.seen, reason: o.reason.clone() })
                .collect()
        })
        .unwrap_or_default();
    let keys: Vec<KeyRow> = ks
        .keys()
        .iter()
        .filter(|k| k.zone == zone_text)
        .map(|k| KeyRow {
            id: k.id.clone(),
            role: k.role.to_string(),
            algorithm: k.algorithm.to_string(),
            bits: k.bits,
            key_tag: k.key_tag,
            locator: k.locator.clone(),
            state: zs.and_then(|z| z.keys.get(&k.id)).map(|r| r.state.clone()).unwrap_or_else(|| "-".into()),
        })
        .collect();
    let page = Page {
        zone: zone_text.clone(),
        generated: format_rfc3339(now),
        version: env!("CARGO_PKG_VERSION").into(),
        timeline_svg: svg,
        coverage,
        polls,
        keys,
        checks,
    };
    let html = crate::report::render(&page);
    super::write_output(&a.html, html.as_bytes())?;
    let d = crate::digest::FileDigest::of(html.as_bytes());
    if ctx.json {
        print_json(&serde_json::json!({"file": a.html, "zone": zone_text, "sha256": d.hex()}))?;
    } else {
        println!("wrote {} ({zone_text})", a.html.display());
    }
    Ok(0)
}
