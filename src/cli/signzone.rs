//! `kskit sign-zone ZONEFILE -o SIGNED`: a small online signer. The
//! DNSKEY, CDNSKEY and CDS RRsets come pre-signed from the SKR bundle in
//! force; the active ZSKs of the keystore sign the rest; NSEC chain,
//! delegations and glue as RFC 4035 §2 says (`crate::signzone`).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, Context, SecretArgs};
use crate::backends::Signer;
use crate::dnssec::name::to_presentation;
use crate::export::{response_end_text, zonefile_records};
use crate::keys::keyref::KeyRef;
use crate::keys::keystore::{KeyMeta, Role};
use crate::keys::open::OpenHints;
use crate::signzone::{format_zone, sign_zone_rolling, SignOptions};
use crate::timeutil::{format_rfc3339, to_rrsig_time};

#[derive(Args, Debug)]
pub struct SignZoneArgs {
    /// The unsigned zone file (presentation format; $ORIGIN and $TTL honoured).
    pub zonefile: PathBuf,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// Sign as of this time: RFC 3339, `now` or `+10d`. Default now.
    #[arg(long)]
    pub at: Option<String>,
    /// The signed zone file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Signing threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seconds a token operation may take before it is abandoned (PKCS#11 ZSKs).
    #[arg(long)]
    pub token_timeout: Option<u64>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// The zone's ZSKs active at `at` (RFC 7583 §3.3: Active <= at < Retire).
pub fn active_zsks<'a>(keys: &'a [KeyMeta], zone: &str, at: OffsetDateTime) -> Vec<&'a KeyMeta> {
    keys.iter()
        .filter(|k| k.zone.eq_ignore_ascii_case(zone) && k.role == Role::Zsk)
        .filter(|k| k.timing.active.is_some_and(|a| a <= at) && k.timing.retire.is_none_or(|r| at < r))
        .collect()
}

pub fn run(a: SignZoneArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let zone = super::export::zone_arg(ctx, &a.zone)?;
    let zone_text = to_presentation(&zone);
    let now = OffsetDateTime::now_utc();
    let at = match &a.at {
        Some(t) => parse_time_arg(t, now)?,
        None => crate::timeutil::whole_seconds(now),
    };
    let text = String::from_utf8(super::read_file(&a.zonefile)?).with_context(|| format!("{} is not UTF-8 text", a.zonefile.display()))?;
    let input = crate::dnssec::presentation::parse_records(&text, Some(&zone), None)
        .with_context(|| format!("{} is not a valid zone file", a.zonefile.display()))?;

    // The bundle in force at `at` across every imported SKR (docs/handoff.md).
    let timeline = super::skr::timeline(ctx, &zone_text)?;
    let in_force = timeline.in_force(at).with_context(|| format!("cannot sign {zone_text}"))?;
    let (skr_path, bundle) = (&in_force.skr.name, in_force.bundle);
    let presigned = zonefile_records(&in_force.skr.skr, bundle);

    let ks = ctx.keystore()?;
    let metas = active_zsks(ks.keys(), &zone_text, at);
    if metas.is_empty() {
        bail!("no ZSK of {zone_text} is active at {} (see `kskit key list`; `kskit zsk pregenerate` makes them)", format_rfc3339(at));
    }
    let hints = OpenHints {
        algorithm: None,
        flags: Role::Zsk.flags(),
        allow_final_try: false,
        timeout: a.token_timeout.map(std::time::Duration::from_secs),
        isolate: false,
    };
    // During an algorithm rollover a ZSK may sign while the plan keeps it
    // out of the DNSKEY RRset (RFC 6781 §4.1.4); every other ZSK must be in it.
    let published = |m: &KeyMeta| m.timing.publish.is_none_or(|p| p <= at) && m.timing.remove.is_none_or(|r| at < r);
    let metas: Vec<&KeyMeta> = {
        let (mut p, u): (Vec<&KeyMeta>, Vec<&KeyMeta>) = metas.into_iter().partition(|m| published(m));
        p.extend(u);
        p
    };
    let n_published = metas.iter().filter(|m| published(m)).count();
    let refs: Vec<KeyRef> = metas.iter().map(|m| KeyRef::Keystore(m.id.clone())).collect();
    let opened = super::open_keys(Some(&ks), &refs, &a.secret, &hints, "ZSK")?;
    let signers: Vec<&dyn Signer> = opened.iter().map(|(k, _)| k.signer()).collect();
    let (signers, unpublished) = signers.split_at(n_published);

    let p = &cfg.policy;
    let inception = at - p.inception_offset.0;
    let expiration = at + p.signature_validity.0;
    // A jitter of a tenth of the validity, at most 12 hours.
    let tenth: time::Duration = p.signature_validity.0 / 10i32;
    let jitter = tenth.min(time::Duration::hours(12)).whole_seconds().max(0) as u32;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let opts = SignOptions { inception: to_rrsig_time(inception), expiration: to_rrsig_time(expiration), jitter, threads };
    let signed = sign_zone_rolling(&zone, &input, &presigned, signers, unpublished, &opts).with_context(|| format!("cannot sign {}", a.zonefile.display()))?;

    let tags: Vec<String> = metas
        .iter()
        .map(|m| format!("{} ({}){}", m.key_tag, m.algorithm, if published(m) { "" } else { " not in the DNSKEY RRset (algorithm rollover)" }))
        .collect();
    let header = format!(
        "{zone_text} signed by kskit {} at {} with ZSK {}\nsignatures valid {} .. {} (less up to {jitter} s of jitter)\nDNSKEY, CDNSKEY and CDS from SKR bundle {} (until {}) of {}",
        env!("CARGO_PKG_VERSION"),
        format_rfc3339(at),
        tags.join(", "),
        format_rfc3339(inception),
        format_rfc3339(expiration),
        bundle.id,
        response_end_text(bundle),
        skr_path
    );
    super::write_output(&a.output, format_zone(&signed, &header).as_bytes())?;
    if ctx.json {
        print_json(&serde_json::json!({
            "zone": zone_text, "output": a.output, "at": format_rfc3339(at), "zsks": metas.iter().map(|m| &m.id).collect::<Vec<_>>(),
            "unpublished_zsks": metas.iter().filter(|m| !published(m)).map(|m| &m.id).collect::<Vec<_>>(),
            "bundle": bundle.id, "bundle_until": response_end_text(bundle), "threads": threads, "stats": signed.stats,
        }))?;
    } else {
        let s = &signed.stats;
        println!(
            "signed {zone_text}: {} names, {} RRsets signed ({} signatures), {} delegations, {} glue names; wrote {}",
            s.names,
            s.rrsets_signed,
            s.signatures,
            s.delegations,
            s.glue_names,
            a.output.display()
        );
    }
    Ok(0)
}
