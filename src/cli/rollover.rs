//! `kskit rollover plan|status|step`: the policy's rollover timeline, and the
//! cron-driven state machine that follows it. See docs/rollover.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::{parse_time_arg, print_json, Context};
use crate::config::Config;
use crate::dnssec::name::to_presentation;
use crate::dnssec::{parse_name, Name};
use crate::keys::keystore::Keystore;
use crate::parent::query::{parse_server, QueryOptions};
use crate::parent::ExpectedDs;
use crate::rollover::hold::{ParentEvent, ServerAnswer};
use crate::rollover::plan::{plan, CdsSet, Plan, View};
use crate::rollover::state::{run_hooks, step, Change, HookFailure, PollResult, ServerPoll, StateFile, StepReport, ZoneState};
use crate::timeutil::format_rfc3339;

#[derive(Subcommand, Debug)]
pub enum RolloverCommand {
    /// Print the policy's rollover timeline (and draw it as SVG).
    Plan(PlanArgs),
    /// Print the recorded state of every key and what it waits for.
    Status(StatusArgs),
    /// Move keys whose planned time has come and whose preconditions are
    /// observed (idempotent; run it from cron). Exit 1 when a hook failed or
    /// a planned key is missing.
    Step(StepArgs),
    /// Emergency KSK rollover to the standby KSK: record the lost or
    /// compromised KSK, watch the parent for the standby's DS, and say what
    /// to do at the parent and when (docs/rollover.md). Run it again until
    /// it says the switch is fixed.
    Emergency(super::emergency::EmergencyArgs),
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Show the timeline from this time (default: now).
    #[arg(long)]
    pub from: Option<String>,
    /// Plan up to this time (default: one year after --from).
    #[arg(long)]
    pub until: Option<String>,
    /// Write an SVG chart of the plan to this file (date axis, now, KSR ceremonies, SKR end, DS states, legend).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    #[command(flatten)]
    pub chart: ChartArgs,
    /// Also print every bundle's DNSKEY RRset, signing KSKs and CDS set.
    #[arg(long)]
    pub bundles: bool,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Evaluate at this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
    #[arg(long)]
    pub zone: Option<String>,
}

/// `rollover step`'s arguments: the time and how the parent is polled
/// (shared with `rollover emergency`).
pub type StepArgs = PollingArgs;

#[derive(Args, Debug)]
pub struct PollingArgs {
    /// Act as if it were this time (testing, rehearsals).
    #[arg(long)]
    pub now: Option<String>,
    /// Use this saved `kskit parent poll --json` result instead of polling.
    #[arg(long)]
    pub poll_json: Option<PathBuf>,
    /// Seconds to wait for each parent server's reply.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
    #[arg(long)]
    pub zone: Option<String>,
}

pub fn run(cmd: RolloverCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        RolloverCommand::Plan(a) => plan_cmd(a, ctx),
        RolloverCommand::Status(a) => status_cmd(a, ctx),
        RolloverCommand::Step(a) => step_cmd(a, ctx),
        RolloverCommand::Emergency(a) => super::emergency::run(a, ctx),
    }
}

pub(super) fn zone_of(cfg: &Config, z: &Option<String>) -> Result<(Name, String)> {
    let zone = match z {
        Some(z) => parse_name(z)?,
        None => cfg.zone()?,
    }
    .to_lowercase();
    let text = to_presentation(&zone);
    Ok((zone, text))
}

pub(super) fn now_arg(s: &Option<String>) -> Result<OffsetDateTime> {
    let now = crate::timeutil::whole_seconds(OffsetDateTime::now_utc());
    match s {
        Some(t) => parse_time_arg(t, now),
        None => Ok(now),
    }
}

/// The plan of the zone, far enough to cover `until`.
pub(super) fn make_plan(cfg: &Config, ks: &Keystore, zone: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<Plan> {
    plan(zone, &cfg.policy, ks.keys(), now, until).with_context(|| format!("cannot plan the rollovers of {zone}"))
}

fn fmt_t(t: Option<OffsetDateTime>) -> String {
    t.map(format_rfc3339).unwrap_or_else(|| "-".into())
}

fn cds_text(c: &CdsSet) -> String {
    match c {
        CdsSet::None => "none".into(),
        CdsSet::Delete => "delete (RFC 8078)".into(),
        CdsSet::Keys(k) => k.join(", "),
    }
}

/// When the chart places the planned KSR ceremonies.
#[derive(clap::Args, Debug, Clone)]
pub struct ChartArgs {
    /// Chart: the next KSR ceremony this many days before the imported SKR's coverage ends.
    #[arg(long, default_value_t = 14)]
    pub ceremony_lead_days: i64,
    /// Chart: then a KSR ceremony every this many days.
    #[arg(long, default_value_t = 90)]
    pub ceremony_every_days: i64,
}

/// What the chart shows besides the plan: now, the imported SKR's end, the
/// planned KSR ceremonies, the DS hold (parent propagation delay + DS TTL).
pub(super) fn chart_options(
    ctx: &Context,
    cfg: &Config,
    zone: &str,
    from: OffsetDateTime,
    until: OffsetDateTime,
    c: &ChartArgs,
) -> Result<crate::rollover::svg::ChartOptions> {
    let now = OffsetDateTime::now_utc();
    // The end of SKR coverage across the whole timeline (every imported SKR).
    let skr_end = super::skr::timeline(ctx, zone).ok().and_then(|t| t.coverage_end(now).ok());
    let p = &cfg.policy;
    Ok(crate::rollover::svg::ChartOptions {
        now: Some(now),
        ceremonies: crate::rollover::svg::planned_ceremonies(
            skr_end,
            from.max(now.min(until)),
            until,
            Duration::days(c.ceremony_lead_days.clamp(0, 3650)),
            Duration::days(c.ceremony_every_days.clamp(1, 3650)),
        ),
        skr_end,
        ds_hold: p.parent_propagation_delay.0 + p.ds_ttl.0,
        ds_ttl: p.ds_ttl.0,
    })
}

#[derive(Serialize)]
struct PlanReport<'a> {
    plan: &'a Plan,
    events: Vec<crate::rollover::plan::Event>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bundles: Vec<View>,
}

fn plan_cmd(a: PlanArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let ks = ctx.keystore()?;
    let (_, zone) = zone_of(&cfg, &a.zone)?;
    let from = now_arg(&a.from)?;
    let until = match &a.until {
        Some(u) => parse_time_arg(u, from)?,
        None => from + Duration::days(365),
    };
    if until <= from {
        bail!("--until {} is not after --from {}", format_rfc3339(until), format_rfc3339(from));
    }
    let pl = make_plan(&cfg, &ks, &zone, from, until)?;
    let events: Vec<_> = pl.events().into_iter().filter(|e| e.at >= from && e.at < until).collect();
    let bundles: Vec<View> = if a.bundles { pl.bundle_starts(from, until).into_iter().map(|t| pl.view_at(t)).collect() } else { vec![] };
    if let Some(path) = &a.svg {
        let opts = chart_options(ctx, &cfg, &zone, from, until, &a.chart)?;
        super::write_output(path, crate::rollover::svg::render(&pl, from, until, &opts).as_bytes())?;
    }
    if ctx.json {
        print_json(&PlanReport { plan: &pl, events, bundles })?;
        return Ok(0);
    }
    println!("Rollover plan of {zone} from {} to {} (bundles every {}s from {})", format_rfc3339(from), format_rfc3339(until), pl.bundle_interval_seconds, format_rfc3339(pl.anchor));
    for k in &pl.keys {
        println!(
            "  {:<32} {} {:<16} tag {:>5}  publish {}  active {}  retire {}  remove {}{}{}",
            k.id,
            k.role,
            k.algorithm.to_string(),
            k.key_tag.map(|t| t.to_string()).unwrap_or_else(|| "(new)".into()),
            fmt_t(k.publish),
            fmt_t(k.active),
            fmt_t(k.retire),
            fmt_t(k.remove),
            k.revoke.map(|t| format!("  revoke {}", format_rfc3339(t))).unwrap_or_default(),
            if k.ds_submit.is_some() { format!("  DS {} to {}", fmt_t(k.ds_submit), fmt_t(k.ds_withdraw)) } else { String::new() }
        );
    }
    for u in &pl.unplanned {
        println!("  note: keystore key {u} has no place in the plan (algorithm or order differs)");
    }
    println!("Events:");
    for e in &events {
        println!("  {}  {:<32} {}{}", format_rfc3339(e.at), e.key, e.kind.as_str(), if e.gated { " (earliest: waits for the parent's DS)" } else { "" });
    }
    for b in &bundles {
        let keys: Vec<String> = b.dnskeys.iter().map(|k| format!("{} {}/{}", k.id, k.flags, k.algorithm.number())).collect();
        println!("Bundle {}: DNSKEY [{}] signed by [{}]; CDS {}; parent DS [{}]", format_rfc3339(b.at), keys.join(", "), b.dnskey_signers.join(", "), cds_text(&b.cds), b.parent_ds.join(", "));
    }
    if let Some(p) = &a.svg {
        println!("wrote {}", p.display());
    }
    Ok(0)
}

#[derive(Serialize)]
struct KeyStatus {
    id: String,
    role: String,
    existing: bool,
    state: String,
    next: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    next_at: Option<OffsetDateTime>,
    waiting: Option<String>,
}

#[derive(Serialize)]
struct StatusReport<'a> {
    zone: String,
    #[serde(with = "time::serde::rfc3339")]
    now: OffsetDateTime,
    keys: Vec<KeyStatus>,
    /// The SKR timeline's bundle in force and its variant (slow parents).
    skr: Option<String>,
    /// The end of SKR coverage across the timeline.
    #[serde(with = "time::serde::rfc3339::option")]
    skr_coverage_end: Option<OffsetDateTime>,
    /// The DS records the primary bundle in force needs at the parent.
    parent_needed: Vec<String>,
    /// Per parent server, what the roll waits for (at the last poll).
    parent_waits: Vec<String>,
    /// The emergencies recorded for the zone's KSKs (`rollover emergency`).
    emergencies: Vec<super::emergency::EmergencyStatus>,
    /// What needs an operator (a standby KSK to make).
    warnings: Vec<String>,
    state: &'a ZoneState,
}

fn status_cmd(a: StatusArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let ks = ctx.keystore()?;
    let (_, zone) = zone_of(&cfg, &a.zone)?;
    let now = now_arg(&a.now)?;
    let pl = make_plan(&cfg, &ks, &zone, now, now + Duration::days(400))?;
    let sf = StateFile::load(ks.dir())?;
    let empty = ZoneState::default();
    let zs = sf.zones.get(&zone).unwrap_or(&empty);
    let keys: Vec<KeyStatus> = pl
        .keys
        .iter()
        .filter(|k| k.existing || k.events().iter().any(|(_, t)| *t <= now + Duration::days(400)))
        .map(|k| {
            let rec = zs.keys.get(&k.id);
            let next = k.events().into_iter().find(|(kind, _)| !rec.is_some_and(|r| r.applied.contains_key(kind.as_str())));
            let waiting = next.and_then(|(_, at)| if at <= now { crate::rollover::state::gate_open(&pl, &cfg.policy, zs, &k.id, at, now).err() } else { None });
            KeyStatus {
                id: k.id.clone(),
                role: k.role.to_string(),
                existing: k.existing,
                state: rec.map(|r| r.state.clone()).unwrap_or_else(|| crate::rollover::state::INITIAL.into()),
                next: next.map(|(kind, _)| kind.as_str().to_string()),
                next_at: next.map(|(_, t)| t),
                waiting,
            }
        })
        .collect();
    // The SKR timeline (ZSK side): which variant of the bundle in force, and
    // what the parent must still show.
    let (mut skr, mut coverage, mut needed) = (None, None, Vec::new());
    if let Ok((mut tl, _)) = crate::keys::skr_store::load(&ks, &zone) {
        if !tl.skrs().is_empty() {
            let p = &cfg.policy;
            let est = crate::rollover::hold::Established::of(&zs.parent, p.ds_ttl.0, p.parent_propagation_delay.0);
            tl.set_parent(est.clone());
            skr = Some(variant_text(&tl, &est, now).unwrap_or_else(|| match tl.in_force(now) {
                Ok(_) => "in force".into(),
                Err(e) => format!("nothing in force: {e}"),
            }));
            coverage = tl.coverage_end(now).ok();
            if let Ok((primary, _)) = tl.variants_at(now) {
                let zname = parse_name(&zone)?;
                needed = crate::rollover::hold::needed(&zname, primary.bundle, &p.cds_digests);
            }
        }
    }
    let parent_needed: Vec<String> = needed.iter().map(crate::parent::ds_text).collect();
    let pending: Vec<String> = needed.iter().filter(|d| !zs.parent.confirmed.contains_key(&crate::rollover::hold::ds_key_id(d))).map(|d| d.key_tag.to_string()).collect();
    let parent_waits = zs.parent.waits.clone();
    let emergencies = super::emergency::recorded(&cfg, &ks, &zone, zs)?;
    let warnings: Vec<String> = super::emergency::standby_warning(&cfg, &ks, &zone).into_iter().collect();
    if ctx.json {
        print_json(&StatusReport { zone, now, keys, skr, skr_coverage_end: coverage, parent_needed, parent_waits, emergencies, warnings, state: zs })?;
        return Ok(0);
    }
    println!("Rollover status of {zone} at {}", format_rfc3339(now));
    for l in super::emergency::status_lines(&emergencies) {
        println!("  {l}");
    }
    for w in &warnings {
        println!("  WARNING: {w}");
    }
    if let Some(s) = &skr {
        println!("  SKR timeline: {s}; coverage until {}", fmt_t(coverage));
        if !pending.is_empty() {
            println!("  parent: waiting for DS {} to be confirmed at every parent server ({} consecutive seen poll(s) of {}, last poll {})", pending.join(", "), zs.parent.consecutive, cfg.policy.parent_confirmations, fmt_t(zs.parent.last_poll));
        }
        for (k, t) in &zs.parent.confirmed {
            println!("  parent: DS of KSK {k} confirmed at every server at {t}");
        }
        if !parent_waits.is_empty() {
            println!("  parent servers: {}", parent_waits.join("; "));
        }
    }
    for k in &keys {
        println!(
            "  {:<32} {} {:<13} next {} at {}{}{}",
            k.id,
            k.role,
            k.state,
            k.next.as_deref().unwrap_or("-"),
            fmt_t(k.next_at),
            if k.existing { "" } else { " (to generate)" },
            k.waiting.as_ref().map(|w| format!("  [{w}]")).unwrap_or_default()
        );
    }
    if !zs.poll_expected.is_empty() {
        println!("  parent DS being confirmed: [{}], {} consecutive seen poll(s), last poll {}", zs.poll_expected.join(", "), zs.consecutive, fmt_t(zs.last_poll));
    }
    for o in zs.observations.iter().rev().take(5) {
        println!("  poll {}: {} ({}), consecutive {}", format_rfc3339(o.at), if o.seen { "seen" } else { "not seen" }, o.reason, o.consecutive);
    }
    for f in &zs.pending_hooks {
        println!("  HOOK FAILED for {} {} -> {} at {}: {}", f.change.key, f.change.old, f.change.new, format_rfc3339(f.change.at), f.error);
    }
    Ok(0)
}

/// The expected DS set of `ids`, from their keystore DNSKEYs and the policy's digests.
fn expected_ds(cfg: &Config, ks: &Keystore, zone: &Name, ids: &[String]) -> Result<ExpectedDs, String> {
    let mut keys = Vec::new();
    for id in ids {
        let k = ks.get(id).ok_or_else(|| format!("key {id} is not in the keystore"))?;
        keys.push(k.dnskey().map_err(|e| e.to_string())?);
    }
    ExpectedDs::from_cds(zone, &[], &keys, &cfg.policy.cds_digests).map_err(|e| e.to_string())
}

/// A saved `kskit parent poll --json` result: `seen`, and when present its
/// `zone` and `expected` DS set must be this step's (a stale file for
/// another DS set does not count).
pub(super) fn poll_from_json(path: &std::path::Path, zone: &str, expected: &Result<ExpectedDs, String>) -> Result<PollResult> {
    let v: serde_json::Value = serde_json::from_slice(&super::read_file(path)?).with_context(|| format!("{} is not JSON", path.display()))?;
    let seen = v.get("seen").and_then(|s| s.as_bool()).with_context(|| format!("{}: no boolean \"seen\" (is it `kskit parent poll --json` output?)", path.display()))?;
    let reason = v.get("reason").and_then(|s| s.as_str()).unwrap_or("").to_string();
    if let Some(z) = v.get("zone").and_then(|z| z.as_str()) {
        if !z.eq_ignore_ascii_case(zone) {
            return Ok(PollResult { servers: vec![], seen: false, reason: format!("poll result is for zone {z}, not {zone}") });
        }
    }
    let exp = match expected {
        Ok(e) => e,
        Err(e) => return Ok(PollResult { servers: vec![], seen: false, reason: e.clone() }),
    };
    if let Some(list) = v.get("expected").and_then(|e| e.as_array()) {
        let mut got: Vec<String> = list.iter().filter_map(|x| x.as_str().map(|s| s.to_ascii_uppercase())).collect();
        let mut want: Vec<String> = exp.ds_text().into_iter().map(|s| s.to_ascii_uppercase()).collect();
        got.sort();
        want.sort();
        let delete = v.get("delete").and_then(|d| d.as_bool()).unwrap_or(false);
        if got != want || delete != exp.is_delete() {
            return Ok(PollResult { servers: vec![], seen: false, reason: format!("poll result is for another DS set ({}), expected ({})", got.join("; "), want.join("; ")) });
        }
    }
    Ok(PollResult { servers: vec![], seen, reason: if reason.is_empty() { format!("from {}", path.display()) } else { reason } })
}

/// Polls every parent server in-process (as `kskit parent poll`).
fn poll_live(cfg: &Config, zone: &Name, expected: &Result<ExpectedDs, String>, timeout: u64) -> PollResult {
    poll_live_rows(cfg, zone, expected, timeout).0
}

/// [`poll_live`], with what each server answered (for the per-server wait
/// reasons of the slow-parent watch).
pub(super) fn poll_live_rows(cfg: &Config, zone: &Name, expected: &Result<ExpectedDs, String>, timeout: u64) -> (PollResult, Vec<ServerAnswer>) {
    let exp = match expected {
        Ok(e) => e,
        Err(e) => return (PollResult { servers: vec![], seen: false, reason: e.clone() }, vec![]),
    };
    let mut servers: Vec<SocketAddr> = Vec::new();
    for s in &cfg.policy.parent_servers {
        match parse_server(s) {
            Ok(v) => servers.extend(v),
            Err(e) => return (PollResult { servers: vec![], seen: false, reason: e.to_string() }, vec![]),
        }
    }
    let timeout = std::time::Duration::from_secs(timeout);
    let targets = if servers.is_empty() {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolvers = crate::parent::discover::resolvers_from_resolv_conf(&text);
        match crate::parent::discover::discover_parent(zone, &resolvers, timeout, 53) {
            Ok(d) => super::parent::Targets::discovered(d),
            Err(e) => return (PollResult { servers: vec![], seen: false, reason: e.to_string() }, vec![]),
        }
    } else {
        super::parent::Targets::given(servers)
    };
    let validation = match super::parent::parent_validation(None, Some(cfg), zone, exp) {
        Ok(v) => v,
        Err(e) => return (PollResult { servers: vec![], seen: false, reason: format!("{e:#}") }, vec![]),
    };
    let opts = QueryOptions { timeout, tcp_only: false, recursion_desired: false, dnssec_ok: validation.is_some() };
    let (rows, all) = super::parent::poll_targets(&targets, zone, exp, validation.as_ref(), &opts);
    let mut servers = Vec::new();
    let answers = rows
        .iter()
        .map(|r| {
            let label = if r.ns.is_empty() || r.transport.is_none() { r.server.clone() } else { format!("{} ({})", r.server, r.ns.join(" ")) };
            // A DS list counts only from an authoritative NOERROR/NXDOMAIN
            // answer, and when validating only from one that validated.
            let usable = match &r.obs {
                crate::parent::Observation::Answer(a) if a.authoritative && [crate::parent::RCODE_NOERROR, crate::parent::RCODE_NXDOMAIN].contains(&a.rcode) && (validation.is_none() || r.verdict.seen) => Some(a),
                _ => None,
            };
            servers.push(ServerPoll { server: label.clone(), answered: usable.is_some(), seen: usable.is_some() && r.verdict.seen, reason: r.verdict.reason.clone() });
            ServerAnswer { label, ds: usable.map(|a| a.ds.clone()), ttl: usable.and_then(|a| a.ttl), reason: r.verdict.reason.clone() }
        })
        .collect();
    (PollResult { seen: all.seen, reason: all.reason, servers }, answers)
}

fn step_cmd(a: StepArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    // Read-modify-write of rollover.json under the keystore lock (a
    // parallel `rollover step` from cron, or `zsk pregenerate`, waits); the
    // keys are read under the same lock. Hooks run without it: a hook may
    // itself run kskit.
    let ks = ctx.keystore_locked()?;
    let (zname, zone) = zone_of(&cfg, &a.zone)?;
    let now = now_arg(&a.now)?;
    let pl = make_plan(&cfg, &ks, &zone, now, now + Duration::days(400))?;
    let mut sf = StateFile::load(ks.dir())?;
    let mut zs = sf.zones.remove(&zone).unwrap_or_default();
    let mut poll = |ids: &[String]| -> PollResult {
        let expected = expected_ds(&cfg, &ks, &zname, ids);
        match &a.poll_json {
            Some(p) => poll_from_json(p, &zone, &expected).unwrap_or_else(|e| PollResult { servers: vec![], seen: false, reason: format!("{e:#}") }),
            None => poll_live(&cfg, &zname, &expected, a.timeout),
        }
    };
    let mut report: StepReport = step(&pl, &cfg.policy, &mut zs, now, &mut poll);
    // A keystore without KSKs of the zone is a ZSK side: its KSKs come in
    // the SKRs, so the plan's KSK slots need no key here.
    let zsk_side = !ks.keys().iter().any(|k| k.zone.eq_ignore_ascii_case(&zone) && k.role == crate::keys::keystore::Role::Ksk);
    if zsk_side {
        let placeholders: Vec<String> = pl.keys.iter().filter(|k| k.role == crate::keys::keystore::Role::Ksk && !k.existing).map(|k| format!("{} (", k.id)).collect();
        report.attention.retain(|m| !placeholders.iter().any(|p| m.starts_with(p.as_str())));
    }
    // The slow-parent watch of the SKR timeline (docs/rollover.md).
    let watch = parent_watch(&cfg, &ks, &zname, &zone, &mut zs, now, &a);
    let emergencies = super::emergency::recorded(&cfg, &ks, &zone, &zs)?;
    let standby_warning = super::emergency::standby_warning(&cfg, &ks, &zone);
    for e in &watch.events {
        let c = Change { at: now, key: "parent".into(), old: String::new(), new: e.event.clone(), event: Some(e.event.clone()), ds: e.ds.clone() };
        zs.history.push(c.clone());
        report.changes.push(c);
    }
    // Record first, with every hook still to run marked pending: the state
    // stays consistent whatever the hooks do (or if this process dies).
    let retry = std::mem::take(&mut zs.pending_hooks);
    let mut to_run = retry.clone();
    to_run.extend(report.changes.iter().map(|c| HookFailure { change: c.clone(), error: "not run yet".into() }));
    let hooked = cfg.policy.hook.as_deref().is_some_and(|h| !h.trim().is_empty());
    if hooked {
        zs.pending_hooks = to_run.clone();
    }
    sf.zones.insert(zone.clone(), zs);
    sf.save(ks.dir())?;
    let dir = ks.dir().to_path_buf();
    drop(ks);
    let failed = run_hooks(cfg.policy.hook.as_deref(), &zone, retry, &report.changes);
    if hooked {
        // Lock again and merge: drop the hooks this run ran, keep any that
        // another step recorded meanwhile, add the ones that failed.
        let ks = ctx.keystore_locked()?;
        let mut sf = StateFile::load(&dir)?;
        if let Some(z) = sf.zones.get_mut(&zone) {
            let ran: Vec<Change> = to_run.iter().map(|h| h.change.clone()).collect();
            z.pending_hooks.retain(|h| !ran.contains(&h.change));
            z.pending_hooks.extend(failed.iter().cloned());
        }
        sf.save(ks.dir())?;
    }

    if ctx.json {
        print_json(&serde_json::json!({
            "zone": zone, "now": format_rfc3339(now), "report": report, "parent": watch, "hook_failures": failed,
            "emergencies": emergencies, "warnings": standby_warning.iter().collect::<Vec<_>>(),
        }))?;
    } else {
        for l in super::emergency::status_lines(&emergencies) {
            println!("{l}");
        }
        if let Some(w) = &standby_warning {
            println!("WARNING: {w}");
        }
        for c in &report.changes {
            match &c.event {
                Some(e) => println!("{} parent: {e}: {}", format_rfc3339(c.at), c.ds.join("; ")),
                None => println!("{} {}: {} -> {}", format_rfc3339(c.at), c.key, c.old, c.new),
            }
        }
        if let Some(v) = &watch.variant {
            println!("SKR bundle in force: {v}");
        }
        if let Some(o) = &watch.poll {
            println!("parent poll (SKR timeline): {o}");
        }
        for w in &watch.waits {
            println!("waiting: {w}");
        }
        if let Some(o) = &report.observation {
            println!("parent poll: {} ({}), {} consecutive", if o.seen { "seen" } else { "not seen" }, o.reason, o.consecutive);
        }
        for w in &report.waiting {
            println!("waiting: {w}");
        }
        for w in &report.attention {
            println!("ATTENTION: {w}");
        }
        for f in &failed {
            eprintln!("kskit: hook failed for {} {} -> {}: {} (kept; retried on the next step)", f.change.key, f.change.old, f.change.new, f.error);
        }
        if report.changes.is_empty() && report.observation.is_none() && report.waiting.is_empty() && report.attention.is_empty() && watch.poll.is_none() && emergencies.is_empty() {
            println!("{zone}: nothing to do at {}", format_rfc3339(now));
        }
    }
    Ok(if failed.is_empty() && report.attention.is_empty() { 0 } else { super::EXIT_FAILED })
}

/// What the slow-parent watch did in one step.
#[derive(Serialize, Default)]
struct WatchReport {
    /// The bundle in force and its variant (primary, or hold and why).
    variant: Option<String>,
    /// The DS records the primary bundle in force needs at the parent.
    needed: Vec<String>,
    /// The poll's overall verdict, when it polled.
    poll: Option<String>,
    /// Per parent server, what the roll waits for.
    waits: Vec<String>,
    events: Vec<ParentEvent>,
}

/// The bundle in force at `now` and which variant, in words.
fn variant_text(tl: &crate::skr::timeline::Timeline, est: &crate::rollover::hold::Established, now: OffsetDateTime) -> Option<String> {
    let (p, h) = tl.variants_at(now).ok()?;
    let chosen = tl.in_force(now).ok()?;
    let name = |s: &str| std::path::Path::new(s).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    Some(match h {
        None => format!("bundle {:?} of {} (no hold variant differs)", p.bundle.id, name(&p.skr.name)),
        Some(_) if !chosen.skr.hold => format!("bundle {:?} of {}: primary variant (the new DS is confirmed and the old DS TTL has passed)", p.bundle.id, name(&p.skr.name)),
        Some(h) => {
            let why = match est.primary_from(p.bundle) {
                Err(e) => e,
                Ok(t) => format!("a resolver may cache the old DS set until {}", format_rfc3339(t)),
            };
            format!("bundle {:?}: HOLD variant of {} keeping the old KSK; the primary variant waits: {why}", h.bundle.id, name(&h.skr.name))
        }
    })
}

/// One step of the slow-parent watch: for the SKR timeline's primary
/// bundle in force, the DS records the parent must show (`ds-needed` when
/// new), a poll of every parent server when a DS is still to be confirmed
/// or an unwanted DS still at the parent (at most once per
/// `parent_poll_interval`), `ds-seen` after `parent_confirmations`
/// consecutive seen polls, `ds-gone` when a DS left every server.
fn parent_watch(cfg: &Config, ks: &Keystore, zname: &Name, zone: &str, zs: &mut ZoneState, now: OffsetDateTime, a: &StepArgs) -> WatchReport {
    let mut out = WatchReport::default();
    let Ok((mut tl, _)) = crate::keys::skr_store::load(ks, zone) else { return out };
    if tl.skrs().is_empty() {
        return out;
    }
    let p = &cfg.policy;
    let Ok((primary, hold)) = tl.variants_at(now) else { return out };
    let needed = crate::rollover::hold::needed(zname, primary.bundle, &p.cds_digests);
    out.needed = needed.iter().map(crate::parent::ds_text).collect();
    let mut keep: Vec<String> = needed.iter().map(crate::rollover::hold::ds_key_id).collect();
    keep.extend(crate::rollover::hold::bundle_ksks(primary.bundle).iter().map(|k| crate::rollover::hold::key_id(k.key_tag(), k.algorithm)));
    if let Some(e) = zs.parent.want(&needed) {
        out.events.push(e);
    }
    let due = zs.parent.last_poll.is_none_or(|l| now >= l + p.parent_poll_interval.0.max(Duration::seconds(1)));
    if !needed.is_empty() && due && zs.parent.poll_wanted(&needed, &keep) {
        // Any DS at the parent for a KSK either variant publishes (or its
        // CDNSKEY names) is allowed next to the needed ones.
        let mut keys: Vec<crate::dnssec::Dnskey> = Vec::new();
        for b in [Some(primary.bundle), hold.map(|h| h.bundle)].into_iter().flatten() {
            keys.extend(b.keys.iter().map(|k| &k.dnskey).filter(|k| k.is_sep()).cloned());
            keys.extend(b.cdnskey.iter().cloned());
        }
        let expected: Result<ExpectedDs, String> = Ok(ExpectedDs::Set { ds: needed.clone(), keys });
        let (r, answers) = match &a.poll_json {
            Some(f) => (poll_from_json(f, zone, &expected).unwrap_or_else(|e| PollResult { servers: vec![], seen: false, reason: format!("{e:#}") }), vec![]),
            None => poll_live_rows(cfg, zname, &expected, a.timeout),
        };
        let events = zs.parent.observe(now, &needed, &keep, &answers, r.seen, p.parent_confirmations);
        zs.parent.last_servers = r.servers.clone();
        if answers.is_empty() && !r.seen {
            zs.parent.waits = vec![r.reason.clone()];
        }
        out.poll = Some(format!("{} ({}), {} consecutive", if r.seen { "seen" } else { "not seen" }, r.reason, zs.parent.consecutive));
        out.events.extend(events);
    }
    if !zs.parent.all_confirmed(&needed) || zs.parent.poll_wanted(&needed, &keep) {
        out.waits = zs.parent.waits.clone();
    }
    let est = crate::rollover::hold::Established::of(&zs.parent, p.ds_ttl.0, p.parent_propagation_delay.0);
    tl.set_parent(est.clone());
    out.variant = variant_text(&tl, &est, now);
    out
}
