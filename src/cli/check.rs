//! `kskit check`: a Nagios/Icinga plugin for the imported SKR and, with
//! `--live`, for what the zone's servers serve (`crate::live::checks`). One
//! status line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no SKR imported,
//! unreadable configuration or keystore). Never exits 2 for its own errors:
//! those are UNKNOWN, as the plugin guidelines ask. `--metrics FILE` writes
//! the Prometheus text format (docs/monitoring.md).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use time::{Duration, OffsetDateTime};

use super::{parse_time_arg, print_json, Context};
use crate::dnssec::name::to_presentation;
use crate::dnssec::record::rtype;
use crate::dnssec::{parse_name, Name};
use crate::export::{timeline_health, SkrHealth, Status};
use crate::live::checks::{Expectation, LiveReport};
use crate::live::fetch::{ask_all, Question};
use crate::live::metrics::Metrics;

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
    /// Check as of this time instead of now (for tests and what-ifs). With
    /// --live, signatures served now are judged at this time too.
    #[arg(long)]
    pub now: Option<String>,
    /// Also ask every authoritative server of the zone (every NS name, IPv4
    /// and IPv6, UDP and TCP, DO set) and judge what it serves.
    #[arg(long)]
    pub live: bool,
    /// Only the live checks (implies --live): no SKR, keystore or
    /// kskit.toml needed, nothing compared with an SKR bundle. For a zone
    /// signed elsewhere (give --zone).
    #[arg(long)]
    pub live_only: bool,
    /// --live: WARNING when a served signature expires in fewer days.
    #[arg(long, default_value_t = 5)]
    pub sig_warn: u32,
    /// --live: CRITICAL when a served signature expires in fewer days.
    #[arg(long, default_value_t = 2)]
    pub sig_crit: u32,
    /// --live: the servers to ask.
    #[command(flatten)]
    pub net: super::servers::ServerArgs,
    /// --live: also check the signatures of NAME/TYPE (e.g. www.example.com/A; TYPE defaults to A), repeatable.
    #[arg(long = "sample")]
    pub samples: Vec<String>,
    /// Write the Prometheus text format to FILE (atomically), for node_exporter's textfile collector.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
}

fn now_of(a: &CheckArgs) -> Result<OffsetDateTime> {
    Ok(match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    })
}

fn health(a: &CheckArgs, ctx: &Context) -> Result<(SkrHealth, crate::skr::timeline::Timeline)> {
    let zone = super::export::zone_arg(ctx, &a.zone)?;
    let zone_text = to_presentation(&zone);
    let now = now_of(a)?;
    let lead = ctx.config()?.policy.ceremony_lead.0;
    let ks = ctx.keystore()?;
    let (tl, _) = crate::keys::skr_store::load(&ks, &zone_text).with_context(|| format!("cannot read the SKR timeline of {zone_text}"))?;
    Ok((timeline_health(&tl, now, Duration::days(i64::from(a.warn)), Duration::days(i64::from(a.crit)), lead), tl))
}

/// `NAME/TYPE` (TYPE defaults to A) as a question.
fn sample(s: &str) -> Result<Question> {
    let (n, t) = s.rsplit_once('/').unwrap_or((s, "A"));
    let t = rtype::parse(t).with_context(|| format!("--sample {}: unknown type", crate::quote::Q(s)))?;
    Ok(Question::new(&parse_name(n)?, t))
}

/// A name under `zone` that does not exist: a random label
/// (`kskit-nx-` and 8 hex digits), asked to see the denial of existence.
fn probe_name(zone: &Name) -> Result<Name> {
    let label = format!("kskit-nx-{:08x}", rand::random::<u32>());
    Name::from_ascii(&label).and_then(|l| l.append_domain(zone)).with_context(|| format!("cannot form a probe name under {}", to_presentation(zone)))
}

fn live(a: &CheckArgs, ctx: &Context, tl: Option<&crate::skr::timeline::Timeline>) -> Result<LiveReport> {
    let zone = super::export::zone_arg(ctx, &a.zone)?.to_lowercase();
    let now = now_of(a)?;
    let timeout = a.net.timeout();
    let samples = a.samples.iter().map(|s| sample(s)).collect::<Result<Vec<_>>>()?;
    let bundle = tl.and_then(|tl| tl.in_force(now).ok()).map(|x| {
        (
            x.bundle.keys.iter().map(|k| k.dnskey.clone()).collect::<Vec<_>>(),
            format!("SKR {} bundle {}", x.skr.name, crate::markup::terminal_safe(&x.bundle.id)),
        )
    });
    let (targets, unusable) = a.net.targets(&zone)?;
    let probe = Question::new(&probe_name(&zone)?, rtype::A);
    let qs = crate::live::checks::questions(&zone, &samples, Some(&probe));
    let obs = ask_all(&targets, &qs, timeout);
    let e = Expectation {
        zone,
        now: now.unix_timestamp().max(0) as u64,
        bundle,
        warn: i64::from(a.sig_warn) * 86400,
        crit: i64::from(a.sig_crit) * 86400,
        probe: Some(probe),
    };
    Ok(crate::live::checks::run(&e, &obs, unusable))
}

/// Control characters replaced, nothing cut (server and zone names are
/// already in presentation form; bundle ids were made terminal-safe).
pub(crate) fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

/// The metrics of `check` (and `check --live`): see docs/monitoring.md.
fn metrics(ctx: &Context, zone: &str, h: Option<&SkrHealth>, tl: Option<&crate::skr::timeline::Timeline>, l: Option<&LiveReport>, status: Status, now: OffsetDateTime) -> Metrics {
    let mut m = Metrics::new();
    let z = [("zone", zone)];
    m.gauge("kskit_check_status", "Nagios status of kskit check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", &z, f64::from(status.code()));
    m.gauge("kskit_check_timestamp_seconds", "When kskit check ran (Unix time)", &z, now.unix_timestamp() as f64);
    if let Some(h) = h {
        m.gauge("kskit_skr_coverage_days", "Whole days of SKR coverage left (the last bundle in force across every imported SKR)", &z, h.days_left as f64);
        m.gauge("kskit_skr_ceremony_due", "1 when the next KSR ceremony is due (coverage ends within ceremony_lead)", &z, if h.ceremony_due { 1.0 } else { 0.0 });
        m.gauge("kskit_skr_imported", "SKRs in the zone's timeline", &z, h.skrs as f64);
    }
    if let Some(tl) = tl {
        if let Some(max) = tl.merged().iter().map(|x| crate::export::dnskey_response_size(&x.skr.skr, x.bundle)).max() {
            m.gauge("kskit_skr_dnskey_response_bytes_max", "Largest estimated DNSKEY response (DO set) among the bundles of the imported SKRs", &z, max as f64);
        }
    }
    if let Ok(dir) = ctx.keystore_dir() {
        if let Ok(state) = crate::rollover::state::StateFile::load(&dir) {
            if let Some(zs) = state.zones.iter().find(|(n, _)| n.eq_ignore_ascii_case(zone)).map(|(_, s)| s) {
                for (key, rec) in &zs.keys {
                    m.gauge("kskit_rollover_key_state", "Rollover state of each key (value 1; the state is the label)", &[("zone", zone), ("key", key), ("state", &rec.state)], 1.0);
                }
                if let Some(p) = zs.observations.last() {
                    m.gauge("kskit_parent_last_poll_timestamp_seconds", "When the rollover's last parent DS poll ran (Unix time)", &z, p.at.unix_timestamp() as f64);
                    m.gauge("kskit_parent_last_poll_seen", "1 when the last parent DS poll saw the expected DS at every parent server", &z, if p.seen { 1.0 } else { 0.0 });
                    m.gauge("kskit_parent_consecutive_seen_polls", "Consecutive parent polls that saw the expected DS set", &z, f64::from(zs.consecutive));
                }
                parent_server_metrics(&mut m, zone, zs);
            }
        }
    }
    if let Some(l) = l {
        m.gauge("kskit_live_status", "Nagios status of the live checks alone", &z, f64::from(l.status.code()));
        if let Some(mm) = l.min_margin {
            m.gauge("kskit_live_rrsig_min_expiry_seconds", "Smallest time left until a served signature expires, over every server and RRset", &z, mm as f64);
        }
        for s in &l.servers {
            let ns = s.ns.join(" ");
            let t = s.transport.to_string();
            let lab = [("zone", zone), ("server", s.server.as_str()), ("ns", ns.as_str()), ("transport", t.as_str())];
            if let Some(n) = s.dnskey_size {
                m.gauge("kskit_live_dnskey_response_bytes", "Size of the DNSKEY response (DO set) per server and transport", &lab, n as f64);
            }
            if s.transport == crate::live::fetch::Proto::Udp {
                m.gauge("kskit_live_dnskey_truncated", "1 when the DNSKEY response is truncated over UDP (EDNS buffer 1232)", &lab[..3], if s.dnskey_truncated { 1.0 } else { 0.0 });
            }
            for (rr, secs) in &s.margins {
                let l2 = [("zone", zone), ("server", s.server.as_str()), ("transport", t.as_str()), ("rrset", rr.as_str())];
                m.gauge("kskit_live_rrsig_expiry_seconds", "Time left until the best valid signature of each served RRset expires", &l2, *secs as f64);
            }
        }
        for st in [Status::Warning, Status::Critical, Status::Unknown] {
            let n = l.findings.iter().filter(|f| f.status == st).count();
            m.gauge("kskit_live_findings", "Live findings per status", &[("zone", zone), ("status", st.label())], n as f64);
        }
    }
    m
}

/// The last poll of each parent server: the later of the rollover step's
/// last poll and the slow-parent watch's (docs/rollover.md), per server.
fn parent_server_metrics(m: &mut Metrics, zone: &str, zs: &crate::rollover::state::ZoneState) {
    use crate::rollover::state::ServerPoll;
    let mut per: Vec<(OffsetDateTime, &ServerPoll)> = Vec::new();
    let step = zs.observations.last().map(|o| (o.at, &o.servers));
    let watch = zs.parent.last_poll.map(|t| (t, &zs.parent.last_servers));
    for (at, servers) in [step, watch].into_iter().flatten() {
        for sp in servers {
            match per.iter_mut().find(|(_, x)| x.server == sp.server) {
                Some(e) if e.0 < at => *e = (at, sp),
                Some(_) => {}
                None => per.push((at, sp)),
            }
        }
    }
    for (at, sp) in per {
        let l = [("zone", zone), ("server", sp.server.as_str())];
        m.gauge("kskit_parent_server_last_poll_timestamp_seconds", "When each parent server was last polled for the zone's DS (Unix time)", &l, at.unix_timestamp() as f64);
        m.gauge("kskit_parent_server_last_poll_answered", "1 when the parent server gave a usable answer at its last poll", &l, if sp.answered { 1.0 } else { 0.0 });
        m.gauge("kskit_parent_server_last_poll_seen", "1 when the parent server served the expected DS set at its last poll", &l, if sp.seen { 1.0 } else { 0.0 });
    }
}

pub fn run(a: CheckArgs, ctx: &Context) -> Result<i32> {
    let zone_text = super::export::zone_arg(ctx, &a.zone).map(|z| to_presentation(&z)).unwrap_or_else(|_| a.zone.clone().unwrap_or_default());
    let (h, tl) = if a.live_only {
        (None, None)
    } else {
        match health(&a, ctx) {
            Ok((h, tl)) => (Some(Ok(h)), Some(tl)),
            Err(e) => (Some(Err(e)), None),
        }
    };
    let l = if a.live || a.live_only { Some(live(&a, ctx, tl.as_ref())) } else { None };
    let (status, line, json) = match (&h, &l) {
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            let msg = format!("{e:#}");
            (Status::Unknown, format!("KSKIT UNKNOWN - {msg}"), serde_json::json!({ "status": "UNKNOWN", "message": msg }))
        }
        (None, None) => (Status::Unknown, "KSKIT UNKNOWN - nothing to check".into(), serde_json::json!({ "status": "UNKNOWN", "message": "nothing to check" })),
        (None, Some(Ok(l))) => {
            let perf = format!("sig_days_left={:.2};{};{};;", l.min_margin.map(|m| m as f64 / 86400.0).unwrap_or(0.0), a.sig_warn, a.sig_crit);
            let json = serde_json::json!({ "status": l.status, "message": l.message, "live": l });
            (l.status, format!("KSKIT {} - {} | {perf}", l.status.label(), safe(&l.message)), json)
        }
        (Some(Ok(h)), None) => {
            let line = format!("KSKIT {} - {} | days_left={};{};{};;", h.status.label(), h.message, h.days_left, a.warn, a.crit);
            (h.status, line, serde_json::to_value(h)?)
        }
        (Some(Ok(h)), Some(Ok(l))) => {
            let status = h.status.max(l.status);
            let msg = if l.status >= h.status { format!("{}; SKR: {}", l.message, h.message) } else { format!("{}; live: {}", h.message, l.message) };
            let perf = format!(
                "days_left={};{};{};; sig_days_left={:.2};{};{};;",
                h.days_left,
                a.warn,
                a.crit,
                l.min_margin.map(|m| m as f64 / 86400.0).unwrap_or(0.0),
                a.sig_warn,
                a.sig_crit
            );
            let mut json = serde_json::to_value(h)?;
            json["status"] = serde_json::to_value(status)?;
            json["skr_status"] = serde_json::to_value(h.status)?;
            json["live"] = serde_json::to_value(l)?;
            (status, format!("KSKIT {} - {} | {perf}", status.label(), safe(&msg)), json)
        }
    };
    if let Some(p) = &a.metrics {
        let now = now_of(&a).unwrap_or_else(|_| OffsetDateTime::now_utc());
        let m = metrics(ctx, &zone_text, h.as_ref().and_then(|h| h.as_ref().ok()), tl.as_ref(), l.as_ref().and_then(|l| l.as_ref().ok()), status, now);
        if let Err(e) = super::write_output(p, m.render().as_bytes()) {
            eprintln!("kskit: {e:#}");
            if !ctx.json {
                println!("KSKIT UNKNOWN - {e:#}");
            }
            return Ok(Status::Unknown.code());
        }
    }
    if ctx.json {
        print_json(&json)?;
    } else {
        println!("{line}");
        if let Some(Ok(l)) = &l {
            for f in &l.findings {
                println!("{} {}{}: {}", f.status.label(), f.id, f.server.as_ref().map(|s| format!(" {}", safe(s))).unwrap_or_default(), safe(&f.message));
            }
        }
    }
    Ok(status.code())
}
