//! `kskit skr verify|import|list|remove`: the ZSK side checks an SKR before
//! anything reaches the online signer, and keeps every imported SKR in the
//! zone's timeline (`crate::keys::skr_store`, `crate::skr::timeline`).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context};
use crate::checks::Report;
use crate::digest::FileDigest;
use crate::keys::skr_store::{self, fmt_opt};
use crate::skr::checks::parse_trust_anchor;
use crate::skr::model::Skr;
use crate::skr::scheduled::{check_zsks_scheduled, keystore_zsks};
use crate::skr::timeline::Timeline;
use crate::timeutil::format_rfc3339;

#[derive(Subcommand, Debug)]
pub enum SkrCommand {
    /// Verify an SKR: every RRSIG, the trust anchor, and (with --ksr) the request.
    Verify(VerifyArgs),
    /// Verify an SKR against the KSR it answers and this keystore's ZSK
    /// schedule, then add it to the zone's SKR timeline for the online signer.
    Import(ImportArgs),
    /// Show the zone's SKR timeline: every imported SKR, its period, which is in force.
    List(ListArgs),
    /// Take an import back: remove an SKR from the timeline (file name, or a prefix of it or of its SHA-256).
    Remove(RemoveArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The SKR file (IANA XML or Knot/BIND text).
    pub file: PathBuf,
    /// The KSR this SKR answers: bundles, ZSK sets and times must match it.
    #[arg(long)]
    pub ksr: Option<PathBuf>,
    /// The KSK trust anchor: DS and/or DNSKEY records in presentation format.
    #[arg(long)]
    pub trust_anchor: PathBuf,
    /// Check as of this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// The KSR is truly lost: check every bundle's ZSKs against this
    /// keystore's ZSK schedule only (said loudly in the output).
    #[arg(long, conflicts_with = "ksr")]
    pub without_ksr: bool,
    /// The ZSKs are held by another signer (BIND or Knot is the ZSK side and
    /// kskit verifies and hands over its SKRs): needs --ksr, which is then
    /// the only reference for the bundles' ZSKs (said loudly in the output).
    #[arg(long, conflicts_with = "without_ksr", requires = "ksr")]
    pub external_zsks: bool,
    /// The SKR is the hold variant `ksr sign --follow-plan` wrote next to
    /// the SKR (`SKR.hold`): its bundles keep the old KSK and are used while
    /// the parent has not confirmed the new DS (docs/rollover.md "Slow parents").
    #[arg(long)]
    pub hold: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// Say what is in force at this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The imported SKR: its file name in the timeline (`skr list`), or a
    /// unique prefix of the file name or of its SHA-256.
    pub skr: String,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
}

pub fn run(cmd: SkrCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        SkrCommand::Verify(a) => verify(a, ctx),
        SkrCommand::Import(a) => import(a, ctx),
        SkrCommand::List(a) => list(a, ctx),
        SkrCommand::Remove(a) => remove(a, ctx),
    }
}

fn now_of(a: &Option<String>) -> Result<OffsetDateTime> {
    match a {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc()),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// The ZSK side's own bounds on an SKR, from its kskit.toml when there is
/// one: the signatures' validity (`signature_validity`, SKR-MAX-VALIDITY)
/// and the KSK side's key-tag partition (`ksk.keytag_modulo` /
/// `ksk.tag_range`, SKR-KEYTAG-PARTITION).
#[derive(Debug, Default)]
pub struct SkrBounds {
    pub max_validity: Option<time::Duration>,
    pub ksk_tags: crate::keys::tag_partition::TagPartition,
}

fn bounds(ctx: &Context) -> Result<SkrBounds> {
    if ctx.config_path.exists() {
        let p = ctx.config()?.policy;
        return Ok(SkrBounds { max_validity: Some(p.signature_validity.0), ksk_tags: p.ksk.tag_partition() });
    }
    Ok(SkrBounds::default())
}

/// Reads and checks an SKR; returns it, its bytes and the report.
pub fn check_file(a: &VerifyArgs, bounds: &SkrBounds) -> Result<(Skr, Vec<u8>, Report)> {
    let now = now_of(&a.now)?;
    let data = super::read_input(&a.file)?;
    let skr = crate::formats::parse_skr_any(&data).with_context(|| format!("{} is not a valid SKR", a.file.display()))?;
    let ta_text = String::from_utf8(super::read_input(&a.trust_anchor)?)
        .with_context(|| format!("trust anchor {} is not text", a.trust_anchor.display()))?;
    let ta = parse_trust_anchor(&ta_text).with_context(|| format!("trust anchor {}", a.trust_anchor.display()))?;
    if let Some(w) = ta.sha1_only_warning() {
        eprintln!("warning: {w} ({})", a.trust_anchor.display());
    }
    let ksr = match &a.ksr {
        Some(p) => Some(crate::formats::parse_ksr_any(&super::read_input(p)?).with_context(|| format!("{} is not a valid KSR", p.display()))?),
        None => None,
    };
    let mut report = crate::skr::checks::check_skr_bounded(&skr, &ta, ksr.as_ref(), now, bounds.max_validity);
    report.push(crate::skr::keyset::check_skr_keytag_partition(&skr, &bounds.ksk_tags));
    Ok((skr, data, report))
}

fn print_header(a: &VerifyArgs, skr: &Skr, data: &[u8], report: &Report) {
    let d = FileDigest::of(data);
    let domain = crate::dnssec::name::to_presentation(&skr.domain);
    println!("SKR {} for {domain} ({} bundles)", a.file.display(), skr.bundles.len());
    println!("SHA-256 {}", d.hex());
    println!("{}", d.words_grouped());
    println!("{}", report.to_text().trim_end());
}

fn verify(a: VerifyArgs, ctx: &Context) -> Result<i32> {
    let (skr, data, report) = check_file(&a, &bounds(ctx)?)?;
    if ctx.json {
        let d = FileDigest::of(&data);
        print_json(&serde_json::json!({
            "file": a.file, "domain": crate::dnssec::name::to_presentation(&skr.domain), "bundles": skr.bundles.len(),
            "sha256": d.hex(), "pgp_words": d.words(), "passed": report.passed(), "imported": null, "report": report,
        }))?;
    } else {
        print_header(&a, &skr, &data, &report);
        println!("{}", if report.passed() { "SKR verified" } else { "SKR REJECTED" });
    }
    Ok(if report.passed() { 0 } else { super::EXIT_FAILED })
}

/// The warning an import without the KSR always carries.
const WITHOUT_KSR_WARNING: &str = "WARNING: imported WITHOUT the KSR it answers (--without-ksr): the SKR was not compared with the request sent to the KSK side; its bundles were checked only against this keystore's ZSK schedule";

/// The warning an import of another signer's ZSKs always carries.
const EXTERNAL_ZSKS_WARNING: &str = "WARNING: --external-zsks: this keystore does not hold the SKR's ZSKs, so they were compared only with the KSR given, not with a ZSK schedule of this keystore";

fn import(a: ImportArgs, ctx: &Context) -> Result<i32> {
    if a.verify.ksr.is_none() && !a.without_ksr {
        bail!(
            "`skr import` needs the KSR this SKR answers: add --ksr FILE (the request you sent to the KSK side), so that every bundle is compared with it. \
             Only if that KSR is truly lost, --without-ksr checks the bundles against this keystore's ZSK schedule instead"
        );
    }
    let (skr, data, mut report) = check_file(&a.verify, &bounds(ctx)?)?;
    let zone = crate::dnssec::name::to_presentation(&skr.domain.to_lowercase());
    // One critical section: the ZSK schedule read and the timeline written
    // under the keystore lock (a parallel `zsk pregenerate` waits).
    let ks = ctx.keystore_locked()?;
    if a.external_zsks {
        report.push(crate::checks::CheckResult::not_applicable(
            crate::skr::scheduled::SKR_ZSKS_SCHEDULED,
            "--external-zsks: the ZSKs are another signer's; the KSR (SKR-MATCHES-KSR) is the only reference for them",
        ));
        eprintln!("kskit: {EXTERNAL_ZSKS_WARNING}");
    } else {
        report.push(check_zsks_scheduled(&skr, &keystore_zsks(ks.keys(), &zone)));
    }
    if a.without_ksr {
        report.note("imported without the KSR (--without-ksr): SKR-MATCHES-KSR did not run; SKR-ZSKS-SCHEDULED compared each bundle with the keystore's ZSK schedule");
    }
    let now = now_of(&a.verify.now)?;
    let stored = if report.passed() { Some(skr_store::import_variant(&ks, &zone, &skr, &data, a.without_ksr, a.hold, OffsetDateTime::now_utc())?) } else { None };
    let timeline = if stored.is_some() {
        let mut tl = skr_store::load(&ks, &zone)?.0;
        attach_parent(&mut tl, &ks, &zone, ctx);
        Some(tl)
    } else {
        None
    };
    if a.hold {
        if let Some(tl) = &timeline {
            let matched = skr.bundles.iter().filter(|b| tl.merged().iter().any(|x| x.bundle.id == b.id && x.bundle.inception == b.inception) || tl.skrs().iter().any(|s| s.skr.bundles.iter().any(|p| p.id == b.id && p.inception == b.inception))).count();
            if matched < skr.bundles.len() {
                eprintln!("kskit: NOTE: {} of the {} hold bundles have no primary bundle (same id and inception) imported yet: import the SKR they go with", skr.bundles.len() - matched, skr.bundles.len());
            }
        }
    }
    let takes_over = skr.bundles.iter().map(|b| b.inception).min();
    let in_force_now = timeline.as_ref().map(|t| t.in_force(now).map(|x| (x.skr.name.clone(), x.bundle.id.clone())));
    if a.without_ksr {
        eprintln!("kskit: {WITHOUT_KSR_WARNING}");
    }
    if ctx.json {
        let d = FileDigest::of(&data);
        print_json(&serde_json::json!({
            "file": a.verify.file, "domain": zone, "bundles": skr.bundles.len(), "sha256": d.hex(), "pgp_words": d.words(),
            "passed": report.passed(), "imported": stored.as_ref().map(|s| &s.path), "report": report,
            "without_ksr": a.without_ksr,
            "warning": if a.without_ksr { Some(WITHOUT_KSR_WARNING) } else { None },
            "takes_over_at": takes_over.map(format_rfc3339),
            "overlaps": stored.as_ref().map(|s| &s.overlaps),
            "in_force_now": in_force_now.as_ref().map(|r| match r {
                Ok((f, b)) => serde_json::json!({"skr": f, "bundle": b}),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            }),
        }))?;
    } else {
        print_header(&a.verify, &skr, &data, &report);
        if a.without_ksr {
            println!("{WITHOUT_KSR_WARNING}");
        }
        match &stored {
            Some(s) => {
                println!("SKR verified and imported as {}{}", s.path.display(), if s.again { " (imported before: now the latest import of its period)" } else { "" });
                if let Some(t) = takes_over {
                    println!("its bundles are in force from {} (the newer SKR takes over from its first inception)", format_rfc3339(t));
                }
                if !s.overlaps.is_empty() {
                    println!("overlaps the imported SKR(s) {}: from {} on, this one is used", s.overlaps.join(", "), fmt_opt(takes_over));
                }
                match &in_force_now {
                    Some(Ok((f, b))) => println!("in force at {}: bundle {b:?} of {f}", format_rfc3339(now)),
                    Some(Err(e)) => println!("NOTE: nothing is in force at {}: {e}", format_rfc3339(now)),
                    None => {}
                }
            }
            None => println!("SKR REJECTED: nothing imported"),
        }
    }
    Ok(if report.passed() { 0 } else { super::EXIT_FAILED })
}

/// The zone of `--zone` or the configuration, as lowercase presentation text.
fn zone_text(ctx: &Context, zone: &Option<String>) -> Result<String> {
    Ok(crate::dnssec::name::to_presentation(&super::export::zone_arg(ctx, zone)?))
}

/// The SKR timeline of `zone`; an error when no SKR is imported.
pub fn timeline(ctx: &Context, zone: &str) -> Result<Timeline> {
    let ks = ctx.keystore()?;
    let (mut tl, _) = skr_store::load(&ks, zone).with_context(|| format!("cannot read the SKR timeline of {zone}"))?;
    if tl.skrs().is_empty() {
        bail!("no SKR imported for {zone} (run `kskit skr import` first)");
    }
    attach_parent(&mut tl, &ks, zone, ctx);
    Ok(tl)
}

/// Gives the timeline what `rollover step` recorded of the parent (which
/// DS are confirmed since when), so that it chooses between a bundle's
/// primary and hold variants (docs/rollover.md "Slow parents"). An
/// unreadable state counts as nothing confirmed: the hold variants stay.
pub fn attach_parent(tl: &mut Timeline, ks: &crate::keys::keystore::Keystore, zone: &str, ctx: &Context) {
    let policy = ctx.config().map(|c| c.policy.clone()).unwrap_or_default();
    let watch = match crate::rollover::state::StateFile::load(ks.dir()) {
        Ok(sf) => sf.zones.get(zone).map(|z| z.parent.clone()).unwrap_or_default(),
        Err(e) => {
            eprintln!("kskit: warning: {e}: treating the new DS as not confirmed (hold variants stay in force)");
            Default::default()
        }
    };
    tl.set_parent(crate::rollover::hold::Established::of(&watch, policy.ds_ttl.0, policy.parent_propagation_delay.0));
}

fn list(a: ListArgs, ctx: &Context) -> Result<i32> {
    let zone = zone_text(ctx, &a.zone)?;
    let now = now_of(&a.now)?;
    let ks = ctx.keystore()?;
    let (tl, tf) = skr_store::load(&ks, &zone).with_context(|| format!("cannot read the SKR timeline of {zone}"))?;
    let in_force = tl.in_force(now);
    let governing = tl.governing_skr(now).map(|s| s.name.clone());
    let coverage = tl.coverage_end(now).ok();
    let mut rows = Vec::new();
    for (i, s) in tl.skrs().iter().enumerate() {
        let file = std::path::Path::new(&s.name).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let entry = tf.skrs.iter().find(|e| e.file == file);
        let first = s.first_inception();
        let next_first = tl.skrs().get(i + 1).and_then(|n| n.first_inception());
        let end = crate::export::skr_end(&s.skr).ok();
        let state = if in_force.as_ref().is_ok_and(|x| x.skr.name == s.name) {
            "in force"
        } else if next_first.is_some_and(|n| first.is_some_and(|f| n <= f)) {
            "superseded"
        } else if first.is_some_and(|f| f > now) {
            "future"
        } else if governing.as_deref() == Some(s.name.as_str()) {
            "governing (no bundle in force)"
        } else {
            "past"
        };
        rows.push(serde_json::json!({
            "file": file, "path": s.name, "format": s.skr.format, "bundles": s.skr.bundles.len(),
            "first_inception": fmt_opt(first), "last_inception": fmt_opt(s.skr.bundles.iter().map(|b| b.inception).max()),
            "in_force_from": fmt_opt(first), "in_force_until": fmt_opt(next_first.map(|n| end.map_or(n, |e| e.min(n))).or(end)),
            "end": fmt_opt(end), "state": state,
            "imported": entry.map(|e| e.imported.clone()), "sha256": entry.map(|e| e.sha256.clone()),
            "without_ksr": entry.is_some_and(|e| e.without_ksr),
        }));
    }
    let requested: Vec<_> = tf
        .requested
        .iter()
        .map(|r| serde_json::json!({"file": r.file, "bundles": r.bundles, "first_inception": format_rfc3339(r.first_inception), "last_inception": format_rfc3339(r.last_inception), "until": format_rfc3339(r.until), "generated": r.generated}))
        .collect();
    if ctx.json {
        print_json(&serde_json::json!({
            "zone": zone, "now": format_rfc3339(now), "skrs": rows, "requested": requested,
            "in_force": in_force.as_ref().ok().map(|x| serde_json::json!({"skr": x.skr.name, "bundle": x.bundle.id})),
            "coverage_end": coverage.map(format_rfc3339),
        }))?;
        return Ok(0);
    }
    println!("SKR timeline of {zone} at {}", format_rfc3339(now));
    if rows.is_empty() {
        println!("  no SKR imported");
    }
    for r in &rows {
        println!(
            "  {:<34} {:>4} bundles  {} .. {}  in force {} .. {}  [{}]{}",
            r["file"].as_str().unwrap_or(""),
            r["bundles"],
            r["first_inception"].as_str().unwrap_or(""),
            r["end"].as_str().unwrap_or(""),
            r["in_force_from"].as_str().unwrap_or(""),
            r["in_force_until"].as_str().unwrap_or(""),
            r["state"].as_str().unwrap_or(""),
            if r["without_ksr"] == true { "  (imported WITHOUT its KSR)" } else { "" }
        );
    }
    match &in_force {
        Ok(x) => println!("in force: bundle {:?} of {}", x.bundle.id, x.skr.name),
        Err(e) => println!("NOTHING IN FORCE: {e}"),
    }
    if let Some(c) = coverage {
        println!("coverage until {}", format_rfc3339(c));
    }
    for r in &tf.requested {
        println!("  requested: {} ({} bundles, {} .. {})", r.file, r.bundles, format_rfc3339(r.first_inception), format_rfc3339(r.until));
    }
    Ok(0)
}

fn remove(a: RemoveArgs, ctx: &Context) -> Result<i32> {
    let zone = zone_text(ctx, &a.zone)?;
    let ks = ctx.keystore_locked()?;
    let e = skr_store::remove(&ks, &zone, &a.skr)?;
    if ctx.json {
        print_json(&serde_json::json!({"zone": zone, "removed": e}))?;
    } else {
        println!("removed {} ({} bundles from {}) from the SKR timeline of {zone}", e.file, e.bundles, fmt_opt(e.first_inception));
    }
    Ok(0)
}
