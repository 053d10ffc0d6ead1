//! `kskit check`: a Nagios/Icinga plugin for the imported SKR. One status
//! line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no SKR imported,
//! unreadable configuration or keystore). Never exits 2 for its own errors:
//! those are UNKNOWN, as the plugin guidelines ask.

use anyhow::{Context as _, Result};
use clap::Args;
use time::{Duration, OffsetDateTime};

use super::{parse_time_arg, print_json, Context};
use crate::dnssec::name::to_presentation;
use crate::export::{skr_health, SkrHealth, Status};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// WARNING when the last bundle's signatures expire in fewer days.
    #[arg(long, default_value_t = 14)]
    pub warn: u32,
    /// CRITICAL when the last bundle's signatures expire in fewer days.
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
    let (_, skr) = super::skr::current_skr(ctx, &zone_text)?.with_context(|| format!("no SKR imported for {zone_text}"))?;
    Ok(skr_health(&skr, now, Duration::days(i64::from(a.warn)), Duration::days(i64::from(a.crit))))
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
