//! `kskit check`: a Nagios/Icinga plugin for the imported SKR. One status
//! line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no SKR imported,
//! unreadable configuration or keystore). Never exits 2 for its own errors:
//! those are UNKNOWN, as the plugin guidelines ask.

use anyhow::{Context as _, Result};
use clap::Args;
use time::{Duration, OffsetDateTime};

use super::{parse_time_arg, print_json, Context};
use crate::dnssec::name::to_presentation;
use crate::export::{timeline_health, SkrHealth, Status};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// WARNING when coverage (the last bundle in force across every imported
    /// SKR) ends in fewer days. WARNING also when it ends within the
    /// policy's `ceremony_lead` (the next ceremony is due).
    #[arg(long, default_value_t = 14)]
    pub warn: u32,
    /// CRITICAL when coverage ends in fewer days.
    #[arg(long, default_value_t = 7)]
    pub crit: u32,
    /// Check as of this time instead of now (for tests and what-ifs).
    #[arg(long)]
    pub now: Option<String>,
}

fn health(a: &CheckArgs, ctx: &Context) -> Result<SkrHealth> {
    let zone = super::export::zone_arg(ctx, &a.zone)?;
    let zone_text = to_presentation(&zone);
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
    let lead = ctx.config()?.policy.ceremony_lead.0;
    let ks = ctx.keystore()?;
    let (tl, _) = crate::keys::skr_store::load(&ks, &zone_text).with_context(|| format!("cannot read the SKR timeline of {zone_text}"))?;
    Ok(timeline_health(&tl, now, Duration::days(i64::from(a.warn)), Duration::days(i64::from(a.crit)), lead))
}

pub fn run(a: CheckArgs, ctx: &Context) -> Result<i32> {
    let (status, line, json) = match health(&a, ctx) {
        Ok(h) => {
            let line = format!(
                "KSKIT {} - {} | days_left={};{};{};;",
                h.status.label(),
                h.message,
                h.days_left,
                a.warn,
                a.crit
            );
            let json = serde_json::to_value(&h)?;
            (h.status, line, json)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            (Status::Unknown, format!("KSKIT UNKNOWN - {msg}"), serde_json::json!({ "status": "UNKNOWN", "message": msg }))
        }
    };
    if ctx.json {
        print_json(&json)?;
    } else {
        println!("{line}");
    }
    Ok(status.code())
}
