//! `kskit zsk pregenerate --until T`: the ZSKs the policy's pre-publish
//! rollover needs up to T, with their RFC 7583 timing.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context, SecretArgs};
use crate::backends::soft;
use crate::keys::keystore::{KeyMeta, KeyTiming, Role};
use crate::policy::zsk_schedule;
use crate::rollover::plan::{new_algorithm_zsks, AlgorithmRollover};
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
    let now = crate::timeutil::whole_seconds(OffsetDateTime::now_utc());
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
    // The whole read-decide-generate-write sequence under the keystore lock:
    // a parallel run waits, then sees these keys and makes no duplicates.
    let mut ks = ctx.keystore_locked()?;
    let from = a.from.as_deref().map(|f| parse_time_arg(f, now)).transpose()?.unwrap_or(now);
    let anchor = crate::rollover::plan::grid_anchor(&zone_text, ks.keys(), from);
    if let Some(ar) = crate::rollover::plan::algorithm_rollover(&cfg.policy, anchor) {
        let done = pregenerate_algorithm_rollover(&mut ks, &cfg.policy, &zone, &zone_text, &ar, from, until, now, &a.secret)?;
        return report(ctx, &zone_text, until, &done);
    }
    let existing = scheduled_zsks(ks.keys(), &zone_text);
    if let Some(k) = existing.last().filter(|k| k.algorithm != cfg.policy.zsk.algorithm) {
        bail!(
            "ZSK {} of {zone_text} uses {}, but the policy's zsk algorithm is {}: changing the algorithm needs an algorithm rollover (set algorithm_rollover_to and algorithm_rollover_start; docs/rollover.md)",
            k.id,
            k.algorithm,
            cfg.policy.zsk.algorithm
        );
    }
    let (first_active, successor) = match existing.last() {
        Some(k) => match k.timing.retire {
            Some(r) => (r, true),
            None => bail!("ZSK {} never retires (zsk lifetime 0d): nothing to pre-generate", k.id),
        },
        None => (from, false),
    };
    let slots = zsk_schedule(&cfg.policy, first_active, successor, until);
    let slots: Vec<_> = slots.into_iter().filter(|s| s.publish <= until).collect();
    let mut made = Vec::new();
    if !slots.is_empty() {
        let enc = a.secret.encryption()?;
        for s in &slots {
            let key = soft::generate_distinct(cfg.policy.zsk.algorithm, cfg.policy.zsk.bits, Role::Zsk.flags(), &crate::keys::zone_key_tags(ks.keys(), &zone), &cfg.policy.zsk.tag_partition())?;
            // Key and schedule in one keys.json write (a kill between two writes left an unscheduled ZSK).
            let meta = ks.store_soft_key_timed(&key, &zone, Role::Zsk, &enc, now, s.timing(&cfg.policy))?;
            made.push(meta);
        }
    }
    report(ctx, &zone_text, until, &Done { made, rescheduled: vec![] })
}

/// What a pre-generation did: the keys made, the keys whose schedule changed.
struct Done {
    made: Vec<KeyMeta>,
    rescheduled: Vec<KeyMeta>,
}

fn report(ctx: &Context, zone_text: &str, until: OffsetDateTime, done: &Done) -> Result<i32> {
    if ctx.json {
        if done.rescheduled.is_empty() {
            print_json(&done.made)?;
        } else {
            print_json(&serde_json::json!({"made": done.made, "rescheduled": done.rescheduled}))?;
        }
    } else if done.made.is_empty() && done.rescheduled.is_empty() {
        println!("{zone_text}: ZSKs are already scheduled up to {}", format_rfc3339(until));
    } else {
        for (what, m) in done.rescheduled.iter().map(|m| ("rescheduled ", m)).chain(done.made.iter().map(|m| ("", m))) {
            let t = &m.timing;
            let f = |x: Option<OffsetDateTime>| x.map(format_rfc3339).unwrap_or_else(|| "-".into());
            println!(
                "{what}{} {} tag {:>5}  publish {}  active {}  retire {}  remove {}",
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

/// `zsk pregenerate` while the policy has an algorithm rollover: the old
/// algorithm's pre-publish chain up to the rollover's start, the ZSK that is
/// active then kept published until the old DNSKEYs leave and signing until
/// the old signatures stop, and the new algorithm's ZSKs, the first signing
/// from the start but published only with the new KSK (RFC 6781 §4.1.4).
/// The instants are the planner's (`rollover::plan::algorithm_rollover`),
/// which the KSK side's `ksr sign --follow-plan` uses too.
#[allow(clippy::too_many_arguments)]
fn pregenerate_algorithm_rollover(
    ks: &mut crate::keys::keystore::Keystore,
    p: &crate::config::Policy,
    zone: &crate::dnssec::Name,
    zone_text: &str,
    ar: &AlgorithmRollover,
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
    secret: &SecretArgs,
) -> Result<Done> {
    let existing: Vec<KeyMeta> = scheduled_zsks(ks.keys(), zone_text).into_iter().cloned().collect();
    let old_alg = existing.first().map_or(p.zsk.algorithm, |k| k.algorithm);
    if old_alg == ar.to {
        bail!(
            "algorithm_rollover_to {} is already the algorithm of {zone_text}'s first ZSK{}: nothing to roll (remove algorithm_rollover_to, or generate the old algorithm's ZSK first)",
            ar.to,
            existing.first().map(|k| format!(" {}", k.id)).unwrap_or_default()
        );
    }
    let (old, new): (Vec<&KeyMeta>, Vec<&KeyMeta>) = existing.iter().partition(|k| k.algorithm != ar.to);
    if let Some(k) = old.iter().find(|k| k.timing.active.is_some_and(|t| t >= ar.start)) {
        bail!(
            "ZSK {} ({}) becomes active at {}, after the algorithm rollover to {} starts at {}: delete it (it was pre-generated before the rollover was configured) or move algorithm_rollover_start",
            k.id,
            k.algorithm,
            k.timing.active.map(format_rfc3339).unwrap_or_default(),
            ar.to,
            format_rfc3339(ar.start)
        );
    }
    let bits = |alg| if alg == p.zsk.algorithm { p.zsk.bits } else { None };
    // 1. The old algorithm's chain up to the start (the first key even at it).
    let mut wanted: Vec<(crate::dnssec::Algorithm, KeyTiming)> = Vec::new();
    let last_old = old.last().map(|k| k.timing.clone());
    let chain = match last_old {
        Some(t) => t.retire.filter(|r| *r < ar.start).map(|r| (r, true)),
        None => Some((from, false)),
    };
    if let Some((first_active, successor)) = chain {
        for (i, s) in zsk_schedule(p, first_active, successor, until.min(ar.start)).into_iter().enumerate() {
            if s.active >= ar.start && (i != 0 || successor) {
                break;
            }
            wanted.push((old_alg, s.timing(p)));
        }
    }
    // 2. The key active at the start stays published until the old DNSKEYs
    //    leave and signs until the old signatures stop.
    let at_start = |t: &KeyTiming| t.active.is_some_and(|a| a <= ar.start) && t.retire.is_none_or(|r| r >= ar.start);
    let roll = |t: &mut KeyTiming| {
        t.retire = Some(ar.old_signatures_out);
        t.remove = Some(ar.old_dnskeys_out);
    };
    let mut rescheduled = Vec::new();
    match wanted.last_mut() {
        Some((_, t)) if at_start(t) => roll(t),
        Some(_) => {}
        None => {
            if let Some(k) = old.last().filter(|k| at_start(&k.timing)) {
                let mut m = (*k).clone();
                roll(&mut m.timing);
                if m.timing != k.timing {
                    if ar.start <= now {
                        bail!(
                            "the algorithm rollover to {} starts at {}, in the past, and ZSK {} is not scheduled for it: set algorithm_rollover_start in the future",
                            ar.to,
                            format_rfc3339(ar.start),
                            k.id
                        );
                    }
                    rescheduled.push(m);
                }
            }
        }
    }
    // 3. The new algorithm's ZSKs; those already made must be the first ones.
    let slots = new_algorithm_zsks(p, ar, until);
    for (k, s) in new.iter().zip(&slots) {
        if k.timing.active != s.active || k.timing.publish != s.publish {
            bail!(
                "ZSK {} ({}) is scheduled active {} / published {}, but the policy's algorithm rollover has its slot active {} / published {}: was the policy changed after the key was made?",
                k.id,
                k.algorithm,
                k.timing.active.map(format_rfc3339).unwrap_or_default(),
                k.timing.publish.map(format_rfc3339).unwrap_or_default(),
                s.active.map(format_rfc3339).unwrap_or_default(),
                s.publish.map(format_rfc3339).unwrap_or_default()
            );
        }
    }
    for s in slots.into_iter().skip(new.len()) {
        if s.publish.into_iter().chain(s.active).min().is_some_and(|t| t <= until) {
            wanted.push((ar.to, s));
        }
    }
    // Writes: each key with its schedule in one keys.json write, then the
    // rescheduled key; a rerun after a crash finds what is missing.
    let mut made = Vec::new();
    if !wanted.is_empty() {
        let enc = secret.encryption()?;
        for (alg, timing) in wanted {
            let key = soft::generate_distinct(alg, bits(alg), Role::Zsk.flags(), &crate::keys::zone_key_tags(ks.keys(), zone), &p.zsk.tag_partition())?;
            made.push(ks.store_soft_key_timed(&key, zone, Role::Zsk, &enc, now, timing)?);
        }
    }
    for m in &rescheduled {
        ks.update(m.clone())?;
    }
    Ok(Done { made, rescheduled })
}
