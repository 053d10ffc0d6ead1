//! The rollover state machine behind `kskit rollover step`: idempotent and
//! safe to run from cron every few minutes. Each run moves every keystore key
//! through the plan's events whose time has come, except where a [`Gate`]
//! holds it: a key whose events wait for a DS change moves on only after the
//! new DS was seen at every parent server for `parent_confirmations`
//! consecutive polls and DS TTL + parent propagation delay have passed since
//! (RFC 7583 §3.3.2, §3.3.3; RFC 7344 §4).
//!
//! Every observation and state change is recorded in `keystore/rollover.json`
//! (written atomically). The state is saved before hooks run, so a failing
//! hook never leaves a half-recorded state; failed hooks are kept and retried
//! on the next step.
//!
//! [`Gate`]: super::plan::Gate

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::plan::{EventKind, Plan};
use crate::config::Policy;
use crate::keys::fsutil::{write_atomic, MODE_PUBLIC};

/// The state file in the keystore directory.
pub const STATE_FILE: &str = "rollover.json";
const STATE_VERSION: u32 = 1;
/// Observations kept per zone (the oldest are dropped).
const MAX_OBSERVATIONS: usize = 500;

type T = OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid rollover state: {msg}")]
    Bad { path: PathBuf, msg: String },
}

/// The state name a planned event leads to.
pub fn state_after(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Publish => "published",
        EventKind::Active => "active",
        EventKind::Retire => "retired",
        EventKind::Remove => "removed",
        EventKind::Revoke => "revoked",
        EventKind::DsSubmit => "ds-submitted",
        EventKind::DsWithdraw => "ds-withdrawn",
    }
}

/// State name of a key confirmed at the parent.
pub const DS_SEEN: &str = "ds-seen";
/// State name of a key nothing has happened to yet.
pub const INITIAL: &str = "planned";

/// What is recorded about one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The last state reached.
    pub state: String,
    /// The planned events applied so far (by name), with when.
    pub applied: BTreeMap<String, String>,
    /// When its DS was confirmed at the parent.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ds_seen_at: Option<T>,
}

/// One parent poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    #[serde(with = "time::serde::rfc3339")]
    pub at: T,
    /// The keys whose DS the parent should hold.
    pub expected: Vec<String>,
    pub seen: bool,
    pub reason: String,
    /// Consecutive seen polls after this one.
    pub consecutive: u32,
    /// What each parent server answered (empty for a poll read from a file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerPoll>,
}

/// One parent server's part of a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPoll {
    /// The server (address, and NS names when discovered).
    pub server: String,
    /// It gave a usable answer (authoritative NOERROR or NXDOMAIN, and
    /// validated when the parent is validated).
    pub answered: bool,
    /// It served the expected DS set.
    pub seen: bool,
    pub reason: String,
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(with = "time::serde::rfc3339")]
    pub at: T,
    pub key: String,
    pub old: String,
    pub new: String,
    /// A parent event (`ds-needed`, `ds-seen`, `ds-gone`) rather than a key
    /// state change: the hook gets it as KSKIT_EVENT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The DS records concerned (presentation form): KSKIT_DS, one per line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds: Vec<String>,
}

/// A hook run that failed (retried on the next step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookFailure {
    pub change: Change,
    pub error: String,
}

/// The recorded state of one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneState {
    pub keys: BTreeMap<String, KeyRecord>,
    /// The DS set being confirmed and the consecutive seen polls of it.
    pub poll_expected: Vec<String>,
    pub consecutive: u32,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_poll: Option<T>,
    pub observations: Vec<Observation>,
    pub history: Vec<Change>,
    pub pending_hooks: Vec<HookFailure>,
    /// The ZSK side's watch of the parent for the SKR timeline's bundles
    /// (docs/rollover.md "Slow parents").
    #[serde(default)]
    pub parent: super::hold::ParentWatch,
    /// `kskit rollover emergency`'s watch of the parent for the standby
    /// KSK's DS (docs/rollover.md "Standby KSK and emergency rollover").
    #[serde(default)]
    pub emergency: super::hold::ParentWatch,
}

/// keystore/rollover.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub zones: BTreeMap<String, ZoneState>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile { version: STATE_VERSION, zones: BTreeMap::new() }
    }
}

impl StateFile {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(keystore: &Path) -> Result<StateFile, StateError> {
        let path = keystore.join(STATE_FILE);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::default()),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let s: StateFile = serde_json::from_slice(&data).map_err(|e| StateError::Bad { path: path.clone(), msg: e.to_string() })?;
        if s.version != STATE_VERSION {
            return Err(StateError::Bad { path, msg: format!("format version {} (this kskit reads {STATE_VERSION})", s.version) });
        }
        Ok(s)
    }

    /// Writes the state file atomically (temp file, fsync, rename).
    pub fn save(&self, keystore: &Path) -> Result<(), StateError> {
        let path = keystore.join(STATE_FILE);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| StateError::Bad { path: path.clone(), msg: e.to_string() })?;
        json.push(b'\n');
        write_atomic(&path, &json, MODE_PUBLIC).map_err(|source| StateError::Io { path, source })
    }
}

/// The result of one parent poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollResult {
    pub seen: bool,
    pub reason: String,
    /// Per parent server (empty for a poll read from a file).
    pub servers: Vec<ServerPoll>,
}

/// What a step did and what holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub changes: Vec<Change>,
    pub observation: Option<Observation>,
    /// Keys held by a gate (normal while waiting for the parent).
    pub waiting: Vec<String>,
    /// Things that need the operator (a planned key not generated yet).
    pub attention: Vec<String>,
}

/// The keys whose DS submission awaits confirmation at `now`.
fn pending_ds(plan: &Plan, zs: &ZoneState) -> Vec<String> {
    plan.keys
        .iter()
        .filter(|k| k.existing)
        .filter(|k| zs.keys.get(&k.id).is_some_and(|r| r.applied.contains_key(EventKind::DsSubmit.as_str()) && r.ds_seen_at.is_none() && !r.applied.contains_key(EventKind::DsWithdraw.as_str())))
        .map(|k| k.id.clone())
        .collect()
}

/// Whether the gates of key `id` let an event at planned time `at` happen at
/// `now`: every gate in force names a key whose DS was confirmed at `c` with
/// `now >= c + ds_ttl + parent_propagation_delay`. Returns why not.
pub fn gate_open(plan: &Plan, p: &Policy, zs: &ZoneState, id: &str, at: T, now: T) -> Result<(), String> {
    let Some(k) = plan.key(id) else { return Ok(()) };
    for g in k.gates.iter().filter(|g| at >= g.from) {
        match zs.keys.get(&g.ds_of).and_then(|r| r.ds_seen_at) {
            None => return Err(format!("waiting for the DS of {} to be seen at the parent", g.ds_of)),
            Some(c) => {
                let ready = c + p.ds_ttl.0 + p.parent_propagation_delay.0;
                if now < ready {
                    return Err(format!(
                        "DS of {} seen at {}; waiting DS TTL + parent propagation delay until {}",
                        g.ds_of,
                        crate::timeutil::format_rfc3339(c),
                        crate::timeutil::format_rfc3339(ready)
                    ));
                }
            }
        }
    }
    Ok(())
}

fn record_change(zs: &mut ZoneState, report: &mut StepReport, now: T, key: &str, new: &str) {
    let rec = zs.keys.entry(key.to_string()).or_insert_with(|| KeyRecord { state: INITIAL.into(), ..Default::default() });
    let change = Change { at: now, key: key.to_string(), old: rec.state.clone(), new: new.to_string(), event: None, ds: vec![] };
    rec.state = new.to_string();
    zs.history.push(change.clone());
    report.changes.push(change);
}

/// One step at `now`: poll the parent when a DS change awaits confirmation
/// (at most once per `parent_poll_interval`), then move every keystore key
/// through its due events, stopping at a closed gate. `poll` gets the ids of
/// the keys whose DS the parent should hold. Pure apart from `poll`.
pub fn step(
    plan: &Plan,
    p: &Policy,
    zs: &mut ZoneState,
    now: T,
    poll: &mut dyn FnMut(&[String]) -> PollResult,
) -> StepReport {
    let mut report = StepReport::default();

    // 1. Due DS submissions (and the events before them) first, so that a
    //    poll in this same step already looks for them.
    let advance = |zs: &mut ZoneState, report: &mut StepReport, only_ds: bool| {
        for k in plan.keys.iter() {
            if !k.existing {
                if let Some((kind, at)) = k.events().into_iter().find(|(_, at)| *at <= now) {
                    let msg = format!("{} ({}) is planned to {} at {} but is not in the keystore: generate it", k.id, k.role, kind.as_str(), crate::timeutil::format_rfc3339(at));
                    if !only_ds && !report.attention.contains(&msg) {
                        report.attention.push(msg);
                    }
                }
                continue;
            }
            // First pass: only keys whose DS submission is due, through that
            // submission (their publish/active events come before it in
            // lifecycle order and are applied on the way).
            let applied = |zs: &ZoneState, kind: EventKind| zs.keys.get(&k.id).is_some_and(|r| r.applied.contains_key(kind.as_str()));
            if only_ds && !k.events().iter().any(|(kind, at)| *kind == EventKind::DsSubmit && *at <= now && !applied(zs, *kind)) {
                continue;
            }
            for (kind, at) in k.events() {
                if at > now {
                    break;
                }
                if applied(zs, kind) {
                    continue;
                }
                if only_ds && kind > EventKind::DsSubmit {
                    break;
                }
                if kind != EventKind::DsSubmit {
                    if let Err(why) = gate_open(plan, p, zs, &k.id, at, now) {
                        let msg = format!("{}: {} held: {why}", k.id, kind.as_str());
                        if !report.waiting.contains(&msg) {
                            report.waiting.push(msg);
                        }
                        break;
                    }
                }
                record_change(zs, report, now, &k.id, state_after(kind));
                if let Some(r) = zs.keys.get_mut(&k.id) {
                    r.applied.insert(kind.as_str().to_string(), crate::timeutil::format_rfc3339(now));
                }
            }
        }
    };
    advance(zs, &mut report, true);

    // 2. Poll the parent for the DS set the plan wants now.
    let pending = pending_ds(plan, zs);
    if !pending.is_empty() {
        let due = zs.last_poll.is_none_or(|l| now >= l + p.parent_poll_interval.0.max(Duration::seconds(1)));
        if due {
            let expected = plan.parent_ds_at(now);
            if expected != zs.poll_expected {
                zs.poll_expected = expected.clone();
                zs.consecutive = 0;
            }
            let r = poll(&expected);
            zs.consecutive = if r.seen { zs.consecutive + 1 } else { 0 };
            zs.last_poll = Some(now);
            let obs = Observation { at: now, expected: expected.clone(), seen: r.seen, reason: r.reason, consecutive: zs.consecutive, servers: r.servers };
            zs.observations.push(obs.clone());
            if zs.observations.len() > MAX_OBSERVATIONS {
                let drop = zs.observations.len() - MAX_OBSERVATIONS;
                zs.observations.drain(..drop);
            }
            report.observation = Some(obs);
            if zs.consecutive >= p.parent_confirmations.max(1) {
                for id in pending.iter().filter(|id| expected.contains(id)) {
                    record_change(zs, &mut report, now, id, DS_SEEN);
                    if let Some(r) = zs.keys.get_mut(id) {
                        r.ds_seen_at = Some(now);
                    }
                }
                zs.consecutive = 0;
            }
        }
    }

    // 3. Everything else that is due.
    advance(zs, &mut report, false);
    report
}

/// Runs the hook for one change: `sh -c HOOK` with KSKIT_ZONE, KSKIT_KEY,
/// KSKIT_OLD_STATE, KSKIT_NEW_STATE, KSKIT_TIME, KSKIT_EVENT (the parent
/// event, or the new state) and KSKIT_DS (DS records, one per line) in its
/// environment.
pub fn run_hook(hook: &str, zone: &str, c: &Change) -> Result<(), String> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(hook)
        .env("KSKIT_ZONE", zone)
        .env("KSKIT_EVENT", c.event.as_deref().unwrap_or(&c.new))
        .env("KSKIT_DS", c.ds.join("\n"))
        .env("KSKIT_KEY", &c.key)
        .env("KSKIT_OLD_STATE", &c.old)
        .env("KSKIT_NEW_STATE", &c.new)
        .env("KSKIT_TIME", crate::timeutil::format_rfc3339(c.at))
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run hook: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("hook exited with {status}"))
    }
}

/// Runs the hook for the retried failures and the new changes, in order.
/// Returns the failures (which the caller records for the next step).
pub fn run_hooks(hook: Option<&str>, zone: &str, retry: Vec<HookFailure>, changes: &[Change]) -> Vec<HookFailure> {
    let Some(hook) = hook.filter(|h| !h.trim().is_empty()) else { return Vec::new() };
    let mut failed = Vec::new();
    for c in retry.into_iter().map(|f| f.change).chain(changes.iter().cloned()) {
        if let Err(error) = run_hook(hook, zone, &c) {
            failed.push(HookFailure { change: c, error });
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::rollover::plan::plan;
    use crate::timeutil::parse_instant;

    #[test]
    fn placeholders_need_attention_and_nothing_moves_early() {
        let t0 = parse_instant("2027-01-01T00:00:00Z").unwrap();
        let mut p = Policy::default();
        p.ksk.lifetime = Dur(Duration::days(120));
        let pl = plan("example.", &p, &[], t0, t0 + Duration::days(200)).unwrap();
        let mut zs = ZoneState::default();
        let r = step(&pl, &p, &mut zs, t0 - Duration::days(1), &mut |_| unreachable!());
        assert!(r.changes.is_empty() && r.attention.is_empty());
        let r = step(&pl, &p, &mut zs, t0, &mut |_| PollResult { seen: false, reason: "x".into(), servers: vec![] });
        assert!(r.changes.is_empty(), "no keystore key, nothing to move");
        assert!(!r.attention.is_empty());
    }
}
