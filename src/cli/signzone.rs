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
use crate::config::DenialKind;
use crate::dnssec::denial::{parse_salt, Nsec3Param};
use crate::signzone::{write_signed_zone, Denial, SignOptions, Verify};
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
    /// Authenticated denial: nsec or nsec3 (default: the policy's `denial`).
    #[arg(long, value_enum)]
    pub denial: Option<DenialKind>,
    /// NSEC3 extra iterations (default: the policy's, RFC 9276: 0).
    #[arg(long)]
    pub nsec3_iterations: Option<u16>,
    /// NSEC3 salt in hex, `-` for none (default: the policy's, RFC 9276: none).
    #[arg(long)]
    pub nsec3_salt: Option<String>,
    /// NSEC3 opt-out: leave delegations without DS out of the chain (RFC
    /// 5155 §6). Default: the policy's `nsec3_opt_out`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub opt_out: Option<bool>,
    /// Verify every signature after making it (`all`) or a sample (`sample`,
    /// the default; docs/benchmarks.md says why that is safe).
    #[arg(long, value_enum, default_value = "sample")]
    pub verify: VerifyArg,
    /// Seconds a token operation may take before it is abandoned (PKCS#11 ZSKs).
    #[arg(long)]
    pub token_timeout: Option<u64>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// The zone's ZSKs active at `at` (RFC 7583 §3.3: Active <= at < Retire).
/// `--verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyArg {
    All,
    Sample,
}

/// The denial settings: the command line over the policy (kskit.toml).
pub fn denial_of(a: &SignZoneArgs, p: &crate::config::Policy) -> Result<Denial> {
    Ok(match a.denial.unwrap_or(p.denial) {
        DenialKind::Nsec => Denial::Nsec,
        DenialKind::Nsec3 => {
            let salt_text = a.nsec3_salt.as_deref().unwrap_or(&p.nsec3_salt);
            let Some(salt) = parse_salt(salt_text) else {
                bail!("NSEC3 salt {:?} is neither `-` nor hex of at most 255 octets", crate::quote::Q(salt_text));
            };
            let mut param = Nsec3Param::rfc9276();
            param.iterations = a.nsec3_iterations.unwrap_or(p.nsec3_iterations);
            param.salt = salt;
            crate::signzone::nsec3::check_param(&param)?;
            Denial::Nsec3 { param, opt_out: a.opt_out.unwrap_or(p.nsec3_opt_out) }
        }
    })
}

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
    let denial = denial_of(&a, &cfg.policy)?;

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
    let text = String::from_utf8(super::read_file(&a.zonefile)?).with_context(|| format!("{} is not UTF-8 text", a.zonefile.display()))?;
    // Read only now, after the keys are open: decrypting a passphrase-protected
    // ZSK file runs scrypt, which takes 64 MiB for a moment (2^16, see
    // `soft::ZSK_SCRYPT_LOG_N`; older files may ask for more); the zone is not
    // held while it does, so the peak memory is the larger of the two, not
    // their sum (docs/benchmarks.md).
    // Parsed straight into the compact form, in batches of records on a
    // second thread: the zone is never held tokenized or as parsed records
    // whole (peak memory).
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let input = match crate::signzone::parse_zone_text(&zone, &text, threads) {
        Ok(input) => input,
        Err(e @ crate::signzone::SignZoneError::Dnssec(_)) => {
            return Err(anyhow::Error::new(e).context(format!("{} is not a valid zone file", a.zonefile.display())))
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot sign {}", a.zonefile.display()))),
    };
    drop(text);

    let p = &cfg.policy;
    let inception = at - p.inception_offset.0;
    let expiration = at + p.signature_validity.0;
    // A jitter of a tenth of the validity, at most 12 hours.
    let tenth: time::Duration = p.signature_validity.0 / 10i32;
    let jitter = tenth.min(time::Duration::hours(12)).whole_seconds().max(0) as u32;
    let verify = match a.verify {
        VerifyArg::All => Verify::All,
        VerifyArg::Sample => Verify::Sample,
    };
    let denial_text = match &denial {
        Denial::Nsec => "NSEC".to_string(),
        Denial::Nsec3 { param, opt_out } => format!(
            "NSEC3 {} iterations, salt {}{}",
            param.iterations,
            crate::dnssec::denial::format_salt(&param.salt),
            if *opt_out { ", opt-out" } else { "" }
        ),
    };
    let opts = SignOptions { inception: to_rrsig_time(inception), expiration: to_rrsig_time(expiration), jitter, threads, denial, verify };

    let tags: Vec<String> = metas
        .iter()
        .map(|m| format!("{} ({}){}", m.key_tag, m.algorithm, if published(m) { "" } else { " not in the DNSKEY RRset (algorithm rollover)" }))
        .collect();
    let header = format!(
        "{zone_text} signed by kskit {} at {} with ZSK {}\nsignatures valid {} .. {} (less up to {jitter} s of jitter); {denial_text}\nDNSKEY, CDNSKEY and CDS from SKR bundle {} (until {}) of {}",
        env!("CARGO_PKG_VERSION"),
        format_rfc3339(at),
        tags.join(", "),
        format_rfc3339(inception),
        format_rfc3339(expiration),
        bundle.id,
        response_end_text(bundle),
        skr_path
    );
    // Streamed to a temp file beside the output, renamed over it only when
    // the whole zone is signed and written (never a partial file).
    let stats = crate::keys::fsutil::write_atomic_with(&a.output, crate::keys::fsutil::MODE_PUBLIC, |w| {
        write_signed_zone(&zone, &input, &presigned, signers, unpublished, &opts, &header, w)
    })
    .with_context(|| format!("cannot sign {} into {}", a.zonefile.display(), a.output.display()))?;
    if ctx.json {
        print_json(&serde_json::json!({
            "zone": zone_text, "output": a.output, "at": format_rfc3339(at), "zsks": metas.iter().map(|m| &m.id).collect::<Vec<_>>(),
            "unpublished_zsks": metas.iter().filter(|m| !published(m)).map(|m| &m.id).collect::<Vec<_>>(),
            "bundle": bundle.id, "bundle_until": response_end_text(bundle), "threads": threads, "stats": stats,
        }))?;
    } else {
        let s = &stats;
        println!(
            "signed {zone_text}: {} names, {} RRsets signed ({} signatures), {} delegations, {} glue names{}; wrote {}",
            s.names,
            s.rrsets_signed,
            s.signatures,
            s.delegations,
            s.glue_names,
            if s.nsec3 > 0 { format!(", {} NSEC3 ({} empty non-terminals)", s.nsec3, s.empty_non_terminals) } else { String::new() },
            a.output.display()
        );
    }
    Ok(0)
}
