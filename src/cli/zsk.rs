//! `kskit zsk pregenerate --until T`: the ZSKs the policy's pre-publish
//! rollover needs up to T, with their RFC 7583 timing.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context, SecretArgs};
use crate::backends::soft;
use crate::keys::keystore::{KeyMeta, KeyTiming, Role};
use crate::policy::zsk_schedule;
use crate::timeutil::format_rfc3339;

#[derive(Subcommand, Debug)]
pub enum ZskCommand {
    /// Generate the ZSKs the policy's ZSK rollovers need up to a date.
    Pregenerate(PregenerateArgs),
}

#[derive(Args, Debug)]
pub struct PregenerateArgs {
    /// Generate keys published up to this time: RFC 3339, `now`, or `+90d`.
    #[arg(long)]
    pub until: String,
    /// When the first key becomes active if the zone has no ZSK yet (default: now).
    #[arg(long)]
    pub from: Option<String>,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

pub fn run(cmd: ZskCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        ZskCommand::Pregenerate(a) => pregenerate(a, ctx),
    }
}

/// The zone's ZSKs with a schedule, ordered by activation.
pub fn scheduled_zsks<'a>(keys: &'a [KeyMeta], zone: &str) -> Vec<&'a KeyMeta> {
    let mut v: Vec<&KeyMeta> =
        keys.iter().filter(|k| k.zone.eq_ignore_ascii_case(zone) && k.role == Role::Zsk && k.timing.active.is_some()).collect();
    v.sort_by_key(|k| k.timing.active);
    v
}

fn pregenerate(a: PregenerateArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let now = OffsetDateTime::now_utc();
    let until = parse_time_arg(&a.until, now)?;
    let zone = match &a.zone {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => cfg.zone()?,
    };
    let zone_text = crate::dnssec::name::to_presentation(&zone.to_lowercase());
    let problems = crate::policy::check_policy(&cfg.policy);
    if !problems.is_empty() {
        bail!("the policy has impossible timings (see `kskit policy check`): {}", problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "));
    }
    let mut ks = ctx.keystore()?;
    let existing = scheduled_zsks(ks.keys(), &zone_text);
    let (first_active, successor) = match existing.last() {
        Some(k) => match k.timing.retire {
            Some(r) => (r, true),
            None => bail!("ZSK {} never retires (zsk lifetime 0d): nothing to pre-generate", k.id),
        },
        None => (a.from.as_deref().map(|f| parse_time_arg(f, now)).transpose()?.unwrap_or(now), false),
    };
    let slots = zsk_schedule(&cfg.policy, first_active, successor, until);
    let slots: Vec<_> = slots.into_iter().filter(|s| s.publish <= until).collect();
    let mut made = Vec::new();
    if !slots.is_empty() {
        let enc = a.secret.encryption()?;
        for s in &slots {
            let key = soft::generate(cfg.policy.zsk.algorithm, cfg.policy.zsk.bits, Role::Zsk.flags())?;
            // Key and schedule in one keys.json write (a kill between two writes left an unscheduled ZSK).
            let timing = KeyTiming { publish: Some(s.publish), active: Some(s.active), retire: Some(s.retire), remove: Some(s.remove), revoke: None };
            let meta = ks.store_soft_key_timed(&key, &zone, Role::Zsk, &enc, now, timing)?;
            made.push(meta);
        }
    }
    if ctx.json {
        print_json(&made)?;
    } else if made.is_empty() {
        println!("{zone_text}: ZSKs are already scheduled up to {}", format_rfc3339(until));
    } else {
        for m in &made {
            let t = &m.timing;
            let f = |x: Option<OffsetDateTime>| x.map(format_rfc3339).unwrap_or_else(|| "-".into());
            println!(
                "{} {} tag {:>5}  publish {}  active {}  retire {}  remove {}",
                m.id,
                m.algorithm,
                m.key_tag,
                f(t.publish),
                f(t.active),
                f(t.retire),
                f(t.remove)
            );
        }
    }
    Ok(0)
}
