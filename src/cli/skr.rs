//! `kskit skr verify|import`: the ZSK side checks an SKR before anything
//! reaches the online signer.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context};
use crate::checks::Report;
use crate::digest::FileDigest;
use crate::ksr::model::Format;
use crate::skr::checks::parse_trust_anchor;
use crate::skr::model::Skr;

#[derive(Subcommand, Debug)]
pub enum SkrCommand {
    /// Verify an SKR: every RRSIG, the trust anchor, and (with --ksr) the request.
    Verify(VerifyArgs),
    /// Verify an SKR, then store it in the keystore for the online signer.
    Import(VerifyArgs),
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

pub fn run(cmd: SkrCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        SkrCommand::Verify(a) => verify(a, ctx, false),
        SkrCommand::Import(a) => verify(a, ctx, true),
    }
}

/// The ZSK side's own bound on the SKR's signature validity: kskit.toml's
/// `signature_validity` (SKR-MAX-VALIDITY), when there is a kskit.toml.
fn max_validity(ctx: &Context) -> Result<Option<time::Duration>> {
    if ctx.config_path.exists() {
        return Ok(Some(ctx.config()?.policy.signature_validity.0));
    }
    Ok(None)
}

/// Reads and checks an SKR; returns it, its bytes and the report.
/// `max_validity` bounds the signatures' validity (SKR-MAX-VALIDITY).
pub fn check_file_bounded(a: &VerifyArgs, max_validity: Option<time::Duration>) -> Result<(Skr, Vec<u8>, Report)> {
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
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
    let report = crate::skr::checks::check_skr_bounded(&skr, &ta, ksr.as_ref(), now, max_validity);
    Ok((skr, data, report))
}

fn verify(a: VerifyArgs, ctx: &Context, import: bool) -> Result<i32> {
    let (skr, data, report) = check_file_bounded(&a, max_validity(ctx)?)?;
    let d = FileDigest::of(&data);
    let domain = crate::dnssec::name::to_presentation(&skr.domain);
    let stored = if report.passed() && import { Some(store(ctx, &skr, &data)?) } else { None };
    if ctx.json {
        print_json(&serde_json::json!({
            "file": a.file, "domain": domain, "bundles": skr.bundles.len(), "sha256": d.hex(), "pgp_words": d.words(),
            "passed": report.passed(), "imported": stored, "report": report,
        }))?;
    } else {
        println!("SKR {} for {domain} ({} bundles)", a.file.display(), skr.bundles.len());
        println!("SHA-256 {}", d.hex());
        println!("{}", d.words_grouped());
        println!("{}", report.to_text().trim_end());
        match (&stored, report.passed()) {
            (Some(p), _) => println!("SKR verified and imported as {}", p.display()),
            (None, true) => println!("SKR verified"),
            (None, false) => println!("SKR REJECTED{}", if import { ": nothing imported" } else { "" }),
        }
    }
    Ok(if report.passed() { 0 } else { super::EXIT_FAILED })
}

/// Stores a verified SKR under `keystore/skr/<zone>/` and points
/// `current.json` at it; both writes are atomic, so a crash leaves either the
/// previous import or this one in force.
fn store(ctx: &Context, skr: &Skr, data: &[u8]) -> Result<PathBuf> {
    let ks = ctx.keystore()?;
    let zone = crate::dnssec::name::to_presentation(&skr.domain.to_lowercase());
    let dir = ks.skr_dir().join(zone_dir(&zone));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let d = FileDigest::of(data);
    let first = skr.bundles.first().map(|b| b.inception.unix_timestamp()).unwrap_or(0);
    let ext = match skr.format {
        Format::Iana => "xml",
        Format::Text => "skr",
    };
    let name = format!("{first}-{}.{ext}", &d.hex()[..16]);
    let path = dir.join(&name);
    crate::keys::fsutil::write_atomic(&path, data, 0o644).with_context(|| format!("cannot write {}", path.display()))?;
    let current = serde_json::json!({
        "file": name,
        "sha256": d.hex(),
        "format": skr.format,
        "imported": crate::timeutil::format_rfc3339(OffsetDateTime::now_utc()),
        "bundles": skr.bundles.len(),
    });
    let cur = dir.join("current.json");
    crate::keys::fsutil::write_atomic(&cur, serde_json::to_string_pretty(&current)?.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", cur.display()))?;
    Ok(path)
}

/// Directory name for a zone's SKRs: the zone without the trailing dot, `root` for the root.
pub fn zone_dir(zone: &str) -> String {
    let z = zone.trim_end_matches('.');
    if z.is_empty() {
        "root".into()
    } else {
        z.to_string()
    }
}

/// The SKR currently imported for `zone`, if any.
pub fn current_skr(ctx: &Context, zone: &str) -> Result<Option<(PathBuf, Skr)>> {
    let ks = ctx.keystore()?;
    let dir = ks.skr_dir().join(zone_dir(zone));
    let cur = dir.join("current.json");
    if !cur.exists() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_slice(&super::read_file(&cur)?).with_context(|| format!("{} is corrupt", cur.display()))?;
    let name = v.get("file").and_then(|f| f.as_str()).with_context(|| format!("{} names no file", cur.display()))?;
    let path = dir.join(Path::new(name).file_name().context("bad file name")?);
    let skr = crate::formats::parse_skr_any(&super::read_input(&path)?).with_context(|| format!("{} is not a valid SKR", path.display()))?;
    Ok(Some((path, skr)))
}
