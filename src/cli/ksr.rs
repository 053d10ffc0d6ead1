//! `kskit ksr generate|verify|sign`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{parse_time_arg, print_json, write_output, Context, SecretArgs};
use crate::backends::Signer;
use crate::config::Policy;
use crate::digest::FileDigest;
use crate::ksr::generate::{generate_ksr, GenerateParams, ZskInput};
use crate::checks::Report;
use crate::dnssec::{Algorithm, DigestType};
use crate::keys::keyref::KeyRef;
use crate::keys::open::OpenHints;
use crate::ksr::checks::check_ksr;
use crate::ksr::ksk_policy::{self, KskPolicy};
use crate::ksr::model::{AlgorithmParams, AlgorithmPolicy, Format, Ksr, SignaturePolicy, TextLayout};
use crate::ksr::previous::check_previous_skr_signed;
use crate::skr::model::Skr;
use crate::skr::sign::{sign_ksr, sign_ksr_planned, BundleCds, BundleKsks, CdsMode, Ksk, PlannedBundle, SignOptions};

#[derive(Subcommand, Debug)]
pub enum KsrCommand {
    /// ZSK side: write a KSR for a period from the pre-generated ZSKs.
    Generate(GenerateArgs),
    /// KSK side: run every check on a KSR and report each (exit 1 on any failure).
    Verify(VerifyArgs),
    /// KSK side: check a KSR, confirm its digest, sign it with the KSK(s), write the SKR.
    Sign(SignArgs),
    /// KSK side: check and sign the KSRs of many zones in one run, with one login per token.
    SignBatch(super::batch::SignBatchArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The KSR file (IANA XML or Knot/BIND text).
    pub file: PathBuf,
    /// The SKR of the previous cycle, for the chain checks. Its signatures
    /// must verify and be by the KSK side's KSKs (this side's keystore's KSKs
    /// of the zone, or --previous-skr-anchor) before it is used.
    #[arg(long)]
    pub previous_skr: Option<PathBuf>,
    /// DS or DNSKEY records of the KSK(s) that signed the previous SKR
    /// (instead of the keystore's KSKs), e.g. the zone's trust anchor.
    #[arg(long, requires = "previous_skr")]
    pub previous_skr_anchor: Option<PathBuf>,
    /// KSK-side policy file (TOML). Default: the bounds of this side's
    /// kskit.toml (its zones, ZSK algorithm, signature validity, bundle
    /// interval, ksr_horizon); without one, the root zone's practice.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Check as of this time instead of now (rehearsals, old files).
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// A KSK: keystore id or key tag, file:PATH, or a pkcs11: URI. Repeat for several KSKs.
    #[arg(long = "ksk", required_unless_present = "follow_plan")]
    pub ksks: Vec<String>,
    /// Take the KSKs, their flags (RFC 5011 REVOKE) and the CDS/CDNSKEY of
    /// every bundle from the rollover plan of this side's kskit.toml and
    /// keystore (`kskit rollover plan --bundles` shows it), instead of --ksk and --cds.
    #[arg(long, conflicts_with_all = ["ksks", "cds"])]
    pub follow_plan: bool,
    /// Output SKR file (written atomically, in the KSR's format).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub signing: KskSigningArgs,
}

/// The options `ksr sign` and `ksr sign-batch` share: how the KSKs are
/// opened, the confirmation, and the CDS/CDNSKEY to pre-sign.
#[derive(Args, Debug)]
pub struct KskSigningArgs {
    /// DNSSEC algorithm of a token KSK that is not in the keystore.
    #[arg(long)]
    pub ksk_algorithm: Option<Algorithm>,
    /// Do not ask for confirmation (scripted runs).
    #[arg(long)]
    pub yes: bool,
    /// CDS/CDNSKEY to pre-sign in every bundle: none, publish (the signing
    /// KSKs), delete (RFC 8078). Default: none.
    #[arg(long, value_enum)]
    pub cds: Option<CdsArg>,
    /// CDS digest types when publishing.
    #[arg(long, value_delimiter = ',', default_value = "sha256")]
    pub cds_digest: Vec<DigestType>,
    /// Layout of a text-format SKR: knot (bundle times in Unix seconds, which
    /// every Knot version reads) or bind (YYYYMMDDHHMMSS, the only form BIND's
    /// named reads). Default: the layout the KSR came in.
    #[arg(long, value_enum)]
    pub skr_layout: Option<TextLayout>,
    /// Try a token login even when the token reports "final try".
    #[arg(long)]
    pub allow_final_try: bool,
    /// Seconds each token call may take before kskit gives up.
    #[arg(long)]
    pub token_timeout: Option<u64>,
    /// Run the PKCS#11 module in a separate kskit helper process (this
    /// process never loads it): a module that crashes, hangs or writes to
    /// stdout gives an error instead of taking kskit down. Also
    /// `[pkcs11] isolate_module = true` in kskit.toml.
    #[arg(long)]
    pub isolate_module: bool,
    #[command(flatten)]
    pub secret: SecretArgs,
}

impl KskSigningArgs {
    /// The layout of the SKR answering `ksr` (text format only; `None` for
    /// IANA XML): `--skr-layout`, else the KSR's own, and why.
    pub fn skr_layout(&self, ksr: &Ksr) -> Option<(TextLayout, &'static str)> {
        match (ksr.format, self.skr_layout) {
            (Format::Iana, _) => None,
            (Format::Text, Some(l)) => Some((l, "--skr-layout")),
            (Format::Text, None) => Some((ksr.layout, "the KSR's layout")),
        }
    }

    /// The CDS/CDNSKEY signing mode of `--cds` and `--cds-digest`.
    pub fn cds_mode(&self) -> CdsMode {
        CdsArg::mode(self.cds, &self.cds_digest)
    }

    /// How to open the KSKs: KSK flags, the given algorithm, final-try
    /// policy and token timeout.
    pub fn open_hints(&self) -> OpenHints {
        OpenHints {
            algorithm: self.ksk_algorithm,
            flags: crate::dnssec::FLAG_ZONE | crate::dnssec::FLAG_SEP,
            allow_final_try: self.allow_final_try,
            timeout: self.token_timeout.map(std::time::Duration::from_secs),
            isolate: self.isolate_module,
        }
    }

    /// [`Self::open_hints`], isolating the module also when kskit.toml's
    /// `[pkcs11] isolate_module` asks for it.
    pub fn open_hints_with(&self, ctx: &super::Context) -> OpenHints {
        let mut h = self.open_hints();
        h.isolate |= ctx.config().map(|c| c.pkcs11.isolate_module).unwrap_or(false);
        h
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdsArg {
    None,
    Publish,
    Delete,
}

impl CdsArg {
    /// The signing mode for `--cds` (absent: none) and `--cds-digest`.
    pub fn mode(arg: Option<CdsArg>, digests: &[DigestType]) -> CdsMode {
        match arg {
            Some(CdsArg::Publish) => CdsMode::Publish(digests.to_vec()),
            Some(CdsArg::Delete) => CdsMode::Delete,
            Some(CdsArg::None) | None => CdsMode::None,
        }
    }
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Start of the first bundle: RFC 3339, `now`, or `+10d`.
    #[arg(long, required_unless_present_any = ["next", "switch"], conflicts_with_all = ["next", "switch"])]
    pub from: Option<String>,
    /// An emergency KSR (`kskit rollover emergency`): the first bundle
    /// starts at the first bundle start of the SKR timeline at or after
    /// this time (the switch), so the ZSKs' pre-published times stay on
    /// the bundle grid they were planned on.
    #[arg(long, conflicts_with = "next")]
    pub switch: Option<String>,
    /// Continue the zone's timeline: the first bundle starts exactly one
    /// bundle interval after the last bundle already requested (by `ksr
    /// generate`) or imported (`skr import`); for the text format, at the
    /// end of the period last requested.
    #[arg(long)]
    pub next: bool,
    /// End of the period: no bundle starts at or after this time.
    #[arg(long)]
    pub until: String,
    #[arg(long, value_enum, default_value = "iana")]
    pub format: FormatArg,
    /// Output file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub zone: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// The IANA XML format of the root zone.
    Iana,
    /// The text format Knot DNS and BIND 9.20 share.
    Text,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Iana => Format::Iana,
            FormatArg::Text => Format::Text,
        }
    }
}

pub fn run(cmd: KsrCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        KsrCommand::Generate(a) => generate(a, ctx),
        KsrCommand::Verify(a) => verify(a, ctx),
        KsrCommand::Sign(a) => sign(a, ctx),
        KsrCommand::SignBatch(a) => super::batch::run(a, ctx),
    }
}

/// The request policy a kskit KSR carries (IANA `<RequestPolicy><ZSK>`).
/// The request policy of a kskit KSR: the policy's timings, and one entry
/// per algorithm (and RSA modulus size) among the KSR's ZSKs — two during an
/// algorithm rollover (RFC 6781 §4.1.4).
pub fn request_policy<'a>(p: &Policy, zsks: impl Iterator<Item = &'a crate::dnssec::Dnskey>) -> SignaturePolicy {
    let algorithms = algorithm_policies(zsks);
    let overlap = p.signature_validity.0 - p.bundle_interval.0;
    SignaturePolicy {
        publish_safety: p.publish_safety.0,
        retire_safety: p.retire_safety.0,
        max_signature_validity: p.signature_validity.0,
        min_signature_validity: p.signature_validity.0,
        max_validity_overlap: overlap,
        min_validity_overlap: overlap,
        algorithms,
    }
}

fn generate(a: GenerateArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let now = crate::timeutil::whole_seconds(OffsetDateTime::now_utc());
    let zone = match &a.zone {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => cfg.zone()?,
    };
    let zone_text = crate::dnssec::name::to_presentation(&zone.to_lowercase());
    let format: Format = a.format.into();
    // Under the keystore lock: the KSR is recorded in the zone's timeline
    // (for the next `--next`) in the same critical section that read it.
    let ks = ctx.keystore_locked()?;
    let from = match (&a.from, a.next) {
        (Some(f), _) => parse_time_arg(f, now)?,
        (None, false) if a.switch.is_some() => {
            let sw = parse_time_arg(a.switch.as_deref().unwrap_or_default(), now)?;
            let (tl, _) = crate::keys::skr_store::load(&ks, &zone_text)?;
            let mut starts: Vec<OffsetDateTime> = tl.skrs().iter().flat_map(|s| s.skr.bundles.iter().map(|b| b.inception)).collect();
            starts.sort();
            let iv = cfg.policy.bundle_interval.0.whole_seconds().max(1);
            match (starts.iter().find(|t| **t >= sw), starts.last()) {
                (Some(t), _) => *t,
                (None, Some(last)) => *last + time::Duration::seconds(((sw - *last).whole_seconds() + iv - 1) / iv * iv),
                (None, None) => bail!("--switch: no SKR imported for {zone_text}: give --from"),
            }
        }
        (None, _) => {
            let tf = crate::keys::skr_store::load_index(&crate::keys::skr_store::zone_path(&ks, &zone_text))?;
            crate::keys::skr_store::next_start(&tf, cfg.policy.bundle_interval.0).with_context(|| {
                format!("--next: no KSR was generated and no SKR imported for {zone_text} yet; give --from for the first one")
            })?
        }
    };
    // A relative --until counts from the start of the period with --next.
    let until = parse_time_arg(&a.until, if a.next || a.switch.is_some() { from } else { now })?;
    let metas: Vec<_> = super::zsk::scheduled_zsks(ks.keys(), &zone_text)
        .into_iter()
        .filter(|m| m.timing.publish.is_some_and(|p| p < until) && m.timing.remove.is_none_or(|r| r > from))
        .collect();
    if metas.is_empty() {
        bail!(
            "no ZSK of {zone_text} is published between {} and {}: run `kskit zsk pregenerate --until {}` first",
            crate::timeutil::format_rfc3339(from),
            crate::timeutil::format_rfc3339(until),
            crate::timeutil::format_rfc3339(until)
        );
    }
    // The IANA format proves possession of each ZSK: decrypt them for that.
    let signers: Vec<Option<Box<dyn Signer>>> = if format == Format::Iana {
        let dec = a.secret.decryption()?;
        metas.iter().map(|m| ks.load_soft_key(m, &dec).map(|k| Some(Box::new(k) as Box<dyn Signer>))).collect::<Result<_, _>>()?
    } else {
        metas.iter().map(|_| None).collect()
    };
    let zsks: Vec<ZskInput<'_>> = metas
        .iter()
        .zip(&signers)
        .map(|(m, s)| -> Result<ZskInput<'_>> {
            Ok(ZskInput {
                identifier: m.id.clone(),
                dnskey: m.dnskey()?,
                publish: m.timing.publish.context("ZSK without publish time")?,
                remove: m.timing.remove,
                signer: s.as_deref(),
            })
        })
        .collect::<Result<_>>()?;
    let params = GenerateParams {
        domain: zone,
        from,
        until,
        format,
        bundle_interval: cfg.policy.bundle_interval.0,
        signature_validity: cfg.policy.signature_validity.0,
        dnskey_ttl: cfg.policy.dnskey_ttl.0.whole_seconds() as u32,
        request_policy: Some(request_policy(&cfg.policy, zsks.iter().map(|z| &z.dnskey))),
    };
    let mut ksr = generate_ksr(&params, &zsks)?;
    if format == Format::Text {
        ksr.generated = Some((now, format!("kskit {}", env!("CARGO_PKG_VERSION"))));
    }
    let text = crate::formats::write_ksr(&ksr, format);
    // Never write what we cannot read back to the same request.
    let back = crate::formats::parse_ksr_any(text.as_bytes()).context("internal error: the KSR written does not parse back")?;
    if back.bundles.len() != ksr.bundles.len() {
        bail!("internal error: the KSR written does not parse back to the same bundles");
    }
    warn_dnskey_size_estimate(&ksr, &cfg.policy);
    write_output(&a.output, text.as_bytes())?;
    crate::keys::skr_store::record_request(&ks, &zone_text, &a.output, text.as_bytes(), &ksr, until, now)
        .with_context(|| format!("wrote {}, but could not record it in the SKR timeline", a.output.display()))?;
    let d = FileDigest::of(text.as_bytes());
    let first = ksr.bundles.first().map(|b| crate::timeutil::format_rfc3339(b.inception)).unwrap_or_default();
    if ctx.json {
        print_json(&serde_json::json!({
            "file": a.output, "bundles": ksr.bundles.len(), "sha256": d.hex(), "pgp_words": d.words(),
            "from": first, "until": crate::timeutil::format_rfc3339(until),
        }))?;
    } else {
        println!("wrote {} ({} bundles from {first}, {} ZSKs) for {zone_text}", a.output.display(), ksr.bundles.len(), zsks.len());
        println!("SHA-256 {}", d.hex());
        println!("{}", d.words_grouped());
    }
    Ok(0)
}

/// A KSR read and checked, with what the operator must see.
struct Checked {
    ksr: Ksr,
    report: Report,
    digest: FileDigest,
    /// The previous SKR as the chain checks take it (for an emergency KSR:
    /// its bundles before the KSR's first, `ksk_schedule::emergency_previous`).
    previous: Option<Skr>,
    /// The emergencies this side's keystore records (keys.json `lost`).
    emergencies: Vec<crate::ksr::ksk_schedule::Emergency>,
    /// The KSK side's binding policy the KSR was checked against.
    policy: KskPolicy,
}

/// The KSK-side policy: the file given, else the bounds of this side's
/// kskit.toml ([`KskPolicy::from_config`]: its zones only, its ZSK
/// algorithm, signature validity, interval and horizon), else the built-in
/// defaults (the root only, the root zone's practice). Never the KSR's own
/// request policy: that is a claim KSR-REQUEST-POLICY checks.
pub(crate) fn ksk_policy_for(policy: Option<&std::path::Path>, ctx: &Context) -> Result<KskPolicy> {
    if let Some(p) = policy {
        return ksk_policy::load(p).with_context(|| format!("KSK policy {}", p.display()));
    }
    if ctx.config_path.exists() {
        return Ok(KskPolicy::from_config(&ctx.config()?));
    }
    Ok(KskPolicy::default())
}

fn check(a: &CheckArgs, ctx: &Context) -> Result<Checked> {
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
    let data = super::read_input(&a.file)?;
    let digest = FileDigest::of(&data);
    let ksr = crate::formats::parse_ksr_any(&data).with_context(|| format!("{} is not a valid KSR", a.file.display()))?;
    let previous = match &a.previous_skr {
        Some(p) => Some(
            crate::formats::parse_skr_any(&super::read_input(p)?).with_context(|| format!("{} is not a valid SKR", p.display()))?,
        ),
        None => None,
    };
    let policy = ksk_policy_for(a.policy.as_deref(), ctx)?;
    // The previous SKR is used only once its signatures are checked against
    // the KSK side's own keys; a failing one does not reach the chain checks.
    let authenticated = match &previous {
        Some(p) => Some(check_previous_skr_signed(p, &ksr, &previous_skr_anchor(a, ctx, &ksr)?)),
        None => None,
    };
    let trusted = previous.as_ref().filter(|_| authenticated.as_ref().is_some_and(|r| r.passed));
    // An emergency KSR (`ksr generate --switch`) replaces the previous SKR's
    // bundles from its first inception: the chain checks compare it with the
    // bundles before (KSR-CHAIN-KSK-EMERGENCY, docs/rollover.md).
    let emergencies = if trusted.is_some() { recorded_emergencies(ctx, &ksr)? } else { vec![] };
    let first = ksr.bundles.iter().map(|b| b.inception).min();
    let cut = match (trusted, first) {
        (Some(p), Some(f)) => crate::ksr::ksk_schedule::emergency_previous(p, f, &emergencies),
        _ => None,
    };
    let mut report = check_ksr(&ksr, &policy, cut.as_ref().or(trusted), now);
    if let (Some(f), Some(c)) = (first, &cut) {
        report.note(format!(
            "emergency KSR: the previous SKR's bundles from {} are replaced by this KSR's; the chain checks compare it with the previous SKR's {} bundle(s) before",
            crate::timeutil::format_rfc3339(f),
            c.bundles.len()
        ));
    }
    if let Some(r) = authenticated {
        report.push(r);
    }
    let previous = cut.or(previous);
    Ok(Checked { ksr, report, digest, previous, emergencies, policy })
}

/// The emergencies (`kskit rollover emergency`) this side's keystore
/// records for KSKs of the KSR's zone: the lost KSK, its standby, the
/// cause, when declared and the switch. None without a keystore.
fn recorded_emergencies(ctx: &Context, ksr: &Ksr) -> Result<Vec<crate::ksr::ksk_schedule::Emergency>> {
    if !ctx.config_path.exists() {
        return Ok(vec![]);
    }
    let ks = ctx.keystore()?;
    let zone = crate::dnssec::name::to_presentation(&ksr.domain).to_ascii_lowercase();
    let mut out = Vec::new();
    for k in ks.keys().iter().filter(|k| k.role == crate::keys::keystore::Role::Ksk && k.zone.eq_ignore_ascii_case(&zone)) {
        let Some(l) = &k.lost else { continue };
        let standby = ks.get(&l.standby).with_context(|| format!("the emergency of KSK {} names standby KSK {}, which is not in the keystore", k.id, l.standby))?;
        out.push(crate::ksr::ksk_schedule::Emergency { lost: k.dnskey()?, standby: standby.dnskey()?, cause: l.cause, declared: l.declared, switch: l.switch });
    }
    Ok(out)
}

/// The KSKs the previous SKR must be signed by: the records of
/// `--previous-skr-anchor`, else the KSKs of the KSR's zone in this side's
/// keystore. Neither: an error saying what to give.
fn previous_skr_anchor(a: &CheckArgs, ctx: &Context, ksr: &Ksr) -> Result<crate::skr::checks::TrustAnchor> {
    if let Some(p) = &a.previous_skr_anchor {
        let text = String::from_utf8(super::read_input(p)?).with_context(|| format!("previous SKR anchor {} is not text", p.display()))?;
        let ta = crate::skr::checks::parse_trust_anchor(&text).with_context(|| format!("previous SKR anchor {}", p.display()))?;
        if let Some(w) = ta.sha1_only_warning() {
            eprintln!("warning: {w} ({})", p.display());
        }
        return Ok(ta);
    }
    let zone = crate::dnssec::name::to_presentation(&ksr.domain).to_ascii_lowercase();
    let dnskeys = match ctx.config_path.exists().then(|| ctx.keystore()) {
        Some(Ok(ks)) => ks
            .keys()
            .iter()
            .filter(|k| k.role == crate::keys::keystore::Role::Ksk && k.zone.eq_ignore_ascii_case(&zone))
            .map(|k| k.dnskey())
            .collect::<Result<Vec<_>, _>>()?,
        Some(Err(e)) => return Err(e),
        None => vec![],
    };
    if dnskeys.is_empty() {
        bail!(
            "--previous-skr needs the KSKs that signed it, to check its signatures before the chain checks use it: \
             run where this side's keystore holds the KSKs of {zone}, or give --previous-skr-anchor FILE (their DS or DNSKEY records)"
        );
    }
    Ok(crate::skr::checks::TrustAnchor { domain: ksr.domain.clone(), ds: vec![], dnskeys })
}

fn print_report(c: &Checked, file: &std::path::Path, ctx: &Context) -> Result<()> {
    if ctx.json {
        print_json(&serde_json::json!({
            "file": file, "sha256": c.digest.hex(), "pgp_words": c.digest.words(),
            "domain": crate::dnssec::name::to_presentation(&c.ksr.domain), "bundles": c.ksr.bundles.len(),
            "passed": c.report.passed(), "report": c.report,
        }))?;
    } else {
        println!("KSR {} for {} ({} bundles)", file.display(), crate::dnssec::name::to_presentation(&c.ksr.domain), c.ksr.bundles.len());
        println!("SHA-256 {}", c.digest.hex());
        println!("{}", c.digest.words_grouped());
        println!("{}", c.report.to_text().trim_end());
        println!("{}", if c.report.passed() { "KSR accepted: every check passed" } else { "KSR REJECTED" });
    }
    Ok(())
}

fn verify(a: VerifyArgs, ctx: &Context) -> Result<i32> {
    let c = check(&a.check, ctx)?;
    print_report(&c, &a.check.file, ctx)?;
    Ok(if c.report.passed() { 0 } else { super::EXIT_FAILED })
}

fn sign(a: SignArgs, ctx: &Context) -> Result<i32> {
    let c = check(&a.check, ctx)?;
    if ctx.json {
        // The report goes into the final JSON object below.
    } else {
        print_report(&c, &a.check.file, ctx)?;
    }
    if !c.report.passed() {
        if ctx.json {
            print_json(&serde_json::json!({"signed": false, "report": c.report}))?;
        }
        eprintln!("kskit: refusing to sign: the KSR failed {} check(s)", c.report.failures().len());
        return Ok(super::EXIT_FAILED);
    }
    let _ = &c.previous;
    let mut opts = SignOptions { cds: a.signing.cds_mode(), ..SignOptions::default() };
    text_timing(&mut opts, ctx)?;
    let planned = crate::skr::sign::plan_bundles(&c.ksr, &opts)?;
    // With --follow-plan, the rollover plan says per bundle which KSKs are
    // published (with which flags), which sign, and the CDS/CDNSKEY set.
    let (ksk_refs, selection, hold_selection): PlanSelection = if a.follow_plan {
        plan_selection(&c.ksr, &planned, ctx)?
    } else {
        let every = (0..a.ksks.len()).collect::<Vec<_>>();
        let sel = BundleKsks {
            publish: vec![],
            sign: every,
            cds: match &opts.cds {
                CdsMode::None => BundleCds::None,
                CdsMode::Delete => BundleCds::Delete,
                CdsMode::Publish(d) => BundleCds::Keys { keys: (0..a.ksks.len()).collect(), digests: d.clone() },
            },
        };
        (a.ksks.clone(), vec![sel; planned.len()], None)
    };
    let count = |s: &[BundleKsks]| -> usize { s.iter().map(|b| b.sign.len() * if b.cds == BundleCds::None { 1 } else { 3 }).sum() };
    let total: usize = count(&selection) + hold_selection.as_deref().map_or(0, count);
    let hold_path = hold_selection.as_ref().map(|_| hold_output(&a.output)).transpose()?;
    if let Some(h) = &hold_path {
        eprintln!("the plan withdraws a KSK within this KSR: also signing the hold variant (the old KSK kept while the parent is late) into {}", h.display());
    }
    let bundles = planned.len();
    let layout = a.signing.skr_layout(&c.ksr);
    match layout {
        Some((l, why)) => eprintln!("SKR layout: {} ({why})", l.name()),
        None if a.signing.skr_layout.is_some() => eprintln!("kskit: --skr-layout ignored: the KSR is IANA XML and so is its SKR"),
        None => {}
    }
    eprintln!("about to make {total} signatures ({bundles} SKR bundles, {} KSK(s))", ksk_refs.len());
    // Open every KSK before the first signature (one login per token), and
    // before the confirmation, so that the estimate uses the measured rate.
    let ks = ctx.keystore().ok();
    let refs = ksk_refs.iter().map(|r| r.parse::<KeyRef>()).collect::<Result<Vec<_>, _>>()?;
    let opened = super::open_keys(ks.as_ref(), &refs, &a.signing.secret, &a.signing.open_hints_with(ctx), "KSK")?;
    // RFC 4035 §2.2 in every mode: each ZSK algorithm needs a signing KSK.
    let ksk_algs: Vec<u8> = opened.iter().map(|(k, _)| k.signer().dnskey().algorithm).collect();
    let algs = signing_algorithms(&ksk_algs, &selection);
    let alg_check = crate::ksr::checks::check_dnskey_algorithms(&c.ksr, &algs);
    if alg_check.is_failure() {
        if ctx.json {
            print_json(&serde_json::json!({"signed": false, "report": [alg_check]}))?;
        } else {
            println!("{alg_check}");
        }
        eprintln!("kskit: refusing to sign: {} failed", alg_check.id);
        return Ok(super::EXIT_FAILED);
    }
    // Time one signature per KSK: the estimate uses the tokens' measured
    // rate (a smartcard makes about 2 per second, an HSM hundreds).
    let probe = std::time::Instant::now();
    for (k, id) in &opened {
        k.signer().sign(b"kskit timing probe").with_context(|| format!("KSK {id} cannot sign"))?;
    }
    let per_sig = probe.elapsed().as_secs_f64() / opened.len().max(1) as f64;
    // Not counted in token_sign_operations below (one per bundle, RRset and KSK).
    let probe_ops: u64 = opened.iter().map(|(k, _)| k.token_sign_count()).sum();
    eprintln!(
        "measured {:.1} signatures per second on the KSK(s): signing will take about {:.0} s",
        1.0 / per_sig.max(1e-6),
        (per_sig * total as f64).ceil()
    );
    if !ksr_keytags_ok(&c.ksr, &opened) || !ksk_partition_ok(&opened, ctx)? {
        return Ok(super::EXIT_FAILED);
    }
    if !a.signing.yes {
        confirm(&format!("Sign this KSR (SHA-256 {}) with {} KSK(s)? Type yes to proceed: ", c.digest.hex(), ksk_refs.len()))?;
    }
    let ksks: Vec<Ksk<'_>> = opened.iter().map(|(k, id)| Ksk { signer: k.signer(), identifier: id.clone() }).collect();
    if c.ksr.format == Format::Iana {
        opts.ksk_policy = Some(response_ksk_policy(&c.ksr, &ksks, &c.policy));
    }
    let mut progress = super::Progress::new(!ctx.json);
    let sign_with = |selection: &[BundleKsks], progress: &mut super::Progress| -> Result<(String, crate::skr::model::Skr)> {
        let mut skr = if a.follow_plan {
            let by_id: std::collections::HashMap<&str, &BundleKsks> = planned.iter().map(|p| p.id.as_str()).zip(selection).collect();
            let select = |p: &crate::skr::sign::PlannedBundle| -> Result<BundleKsks, crate::skr::sign::SignError> {
                by_id.get(p.id.as_str()).map(|b| (*b).clone()).ok_or_else(|| crate::skr::sign::SignError::Invalid(format!("no plan for bundle {}", p.id)))
            };
            sign_ksr_planned(&c.ksr, &ksks, &opts, &select, &mut |d, t| progress.tick(d, t))?
        } else {
            sign_ksr(&c.ksr, &ksks, &opts, &mut |d, t| progress.tick(d, t))?
        };
        skr.generated = Some((OffsetDateTime::now_utc(), format!("kskit {}", env!("CARGO_PKG_VERSION"))));
        // The response policy names the algorithms of the KSKs that signed
        // (with --follow-plan a KSK opened for the plan may sign no bundle
        // of this SKR: SKR-RESPONSE-POLICY).
        if let Some(p) = skr.ksk_policy.as_mut() {
            let used: std::collections::BTreeSet<u8> = skr.bundles.iter().flat_map(|b| b.signatures.iter().map(|g| g.rrsig.algorithm)).collect();
            p.algorithms.retain(|a| used.contains(&a.algorithm));
        }
        if let Some((l, _)) = layout {
            skr.layout = l;
        }
        let text = crate::formats::write_skr(&skr, c.ksr.format);
        // Check what we are about to hand over, as the ZSK side will: it must
        // parse back and pass the SKR checks against these KSKs and this KSR.
        let back = crate::formats::parse_skr_any(text.as_bytes()).context("internal error: the SKR written does not parse back")?;
        let ta = crate::skr::checks::TrustAnchor {
            domain: c.ksr.domain.clone(),
            ds: vec![],
            dnskeys: ksks.iter().map(|k| k.signer.dnskey().clone()).collect(),
        };
        let sk_report = crate::skr::checks::check_skr(&back, &ta, Some(&c.ksr), c.ksr.bundles.first().map(|b| b.inception).unwrap_or(OffsetDateTime::now_utc()));
        if !sk_report.passed() {
            eprintln!("{}", sk_report.to_text().trim_end());
            anyhow::bail!("internal error: the SKR made does not pass the SKR checks; nothing written");
        }
        Ok((text, back))
    };
    let (text, back) = sign_with(&selection, &mut progress)?;
    let skr = &back;
    let hold = match &hold_selection {
        Some(h) => Some(sign_with(h, &mut progress)?.0),
        None => None,
    };
    warn_dnskey_size(&back, ctx)?;
    let mut schedule = None;
    if let Some(prev) = &c.previous {
        let r = ksk_schedule_report(prev, &back, ctx, &c.emergencies)?;
        if !r.passed() {
            if ctx.json {
                print_json(&serde_json::json!({"signed": false, "report": c.report, "ksk_schedule": r}))?;
            }
            return Ok(super::EXIT_FAILED);
        }
        schedule = Some(r);
    }
    write_output(&a.output, text.as_bytes())?;
    let hold_digest = match (&hold, &hold_path) {
        (Some(t), Some(p)) => {
            write_output(p, t.as_bytes())?;
            Some(FileDigest::of(t.as_bytes()))
        }
        _ => None,
    };
    let d = FileDigest::of(text.as_bytes());
    let token_ops: u64 = opened.iter().map(|(k, _)| k.token_sign_count()).sum::<u64>().saturating_sub(probe_ops);
    if ctx.json {
        print_json(&serde_json::json!({
            "signed": true, "file": a.output, "bundles": skr.bundles.len(), "signatures": total, "skr_layout": layout.map(|(l, _)| l),
            "token_sign_operations": token_ops, "timing_probe_token_operations": probe_ops, "sha256": d.hex(), "pgp_words": d.words(), "report": c.report,
            "hold_file": hold_path, "hold_sha256": hold_digest.as_ref().map(|h| h.hex()), "ksk_schedule": schedule,
        }))?;
    } else {
        println!("wrote SKR {} ({} bundles, {total} signatures)", a.output.display(), skr.bundles.len());
        println!("SHA-256 {}", d.hex());
        println!("{}", d.words_grouped());
        if let (Some(p), Some(h)) = (&hold_path, &hold_digest) {
            println!("wrote the hold variant {} (import it on the ZSK side with `kskit skr import --hold`)", p.display());
            println!("SHA-256 {}", h.hex());
            println!("{}", h.words_grouped());
        }
    }
    Ok(0)
}

/// Where the hold variant of `output` goes: `OUTPUT.hold` (not on stdout).
fn hold_output(output: &std::path::Path) -> Result<PathBuf> {
    if output.as_os_str() == "-" {
        bail!("the plan withdraws a KSK within this KSR, so a hold variant must be written next to the SKR: give -o FILE (not -)");
    }
    let mut s = output.as_os_str().to_owned();
    s.push(".hold");
    Ok(PathBuf::from(s))
}

/// KSR-KEYTAG-DISTINCT before the first signature: the KSR's ZSKs and the
/// opened KSKs (and their revoked forms) have distinct key tags.
fn ksr_keytags_ok(ksr: &Ksr, opened: &[(crate::keys::open::OpenedKey, String)]) -> bool {
    let ksks: Vec<crate::dnssec::Dnskey> = opened.iter().map(|(k, _)| k.signer().dnskey().clone()).collect();
    let r = crate::skr::keyset::check_ksr_keytags(ksr, &ksks);
    if r.is_failure() {
        eprintln!("{r}");
        eprintln!("kskit: refusing to sign: a ZSK and a KSK share a key tag; the ZSK side must make a new ZSK (kskit zsk pregenerate after deleting it) or this side a new KSK");
        return false;
    }
    true
}

/// KSR-KSK-KEYTAG-PARTITION before the first signature: the opened KSKs
/// have key tags in this side's KSK partition (kskit.toml; none without one).
fn ksk_partition_ok(opened: &[(crate::keys::open::OpenedKey, String)], ctx: &Context) -> Result<bool> {
    if !ctx.config_path.exists() {
        return Ok(true);
    }
    let part = ctx.config()?.policy.tag_partition(crate::keys::keystore::Role::Ksk);
    let ksks: Vec<crate::dnssec::Dnskey> = opened.iter().map(|(k, _)| k.signer().dnskey().clone()).collect();
    let r = crate::skr::keyset::check_ksk_keytag_partition(&ksks, &part);
    if r.is_failure() {
        eprintln!("{r}");
        eprintln!("kskit: refusing to sign: a KSK lies outside this side's key-tag partition; make a KSK in it (kskit key generate --role ksk) or change the partition both sides agreed on");
        return Ok(false);
    }
    if r.applicable && !ctx.json {
        eprintln!("{r}");
    }
    Ok(true)
}

/// DNSKEY-RESPONSE-SIZE of the SKR made (exact), as a warning: the budget
/// is the policy's `dnskey_response_budget` (kskit.toml, else the default).
fn warn_dnskey_size(skr: &crate::skr::model::Skr, ctx: &Context) -> Result<()> {
    let budget = if ctx.config_path.exists() { ctx.config()?.policy.dnskey_response_budget } else { crate::skr::keyset::DEFAULT_DNSKEY_RESPONSE_BUDGET };
    let r = crate::skr::keyset::check_skr_dnskey_size(skr, budget);
    if r.is_failure() {
        eprintln!("warning: {r}: responses this large may fragment over UDP or need TCP (RFC 7766)");
    }
    Ok(())
}

/// The algorithms of the KSKs that sign the DNSKEY RRset in some bundle
/// (with `--ksk`: every KSK given).
pub(crate) fn signing_algorithms(ksk_algs: &[u8], selection: &[BundleKsks]) -> Vec<u8> {
    let mut algs: Vec<u8> = selection.iter().flat_map(|b| b.sign.iter()).filter_map(|i| ksk_algs.get(*i)).copied().collect();
    algs.sort_unstable();
    algs.dedup();
    algs
}

/// Text-format SKRs: the signatures' validity, refresh interval and
/// inception offset come from this side's kskit.toml (`signature_validity`,
/// `bundle_interval`, `inception_offset`), not Knot's defaults; without a
/// kskit.toml, Knot's defaults (14 days, 7 days, 90 minutes) stay.
pub(crate) fn text_timing(opts: &mut SignOptions, ctx: &Context) -> Result<()> {
    if ctx.config_path.exists() {
        let cfg = ctx.config()?;
        opts.text_validity = cfg.policy.signature_validity.0;
        opts.text_refresh = cfg.policy.bundle_interval.0;
        opts.text_inception_offset = cfg.policy.inception_offset.0;
    }
    Ok(())
}

/// DNSKEY-RESPONSE-SIZE estimated for a KSR, with one KSK per algorithm the
/// policy names (the KSK and, during an algorithm rollover, the new one), as
/// a warning.
fn warn_dnskey_size_estimate(ksr: &Ksr, p: &crate::config::Policy) {
    use crate::skr::keyset::{check_ksr_dnskey_size, sample_ksk};
    let mut ksks = vec![sample_ksk(p.ksk.algorithm, p.ksk.bits)];
    if let Some(to) = p.algorithm_rollover_to {
        ksks.push(sample_ksk(to, None));
    }
    let r = check_ksr_dnskey_size(ksr, &ksks, p.dnskey_response_budget);
    if r.is_failure() {
        eprintln!("warning: {r}: responses this large may fragment over UDP or need TCP (RFC 7766)");
    }
}

/// The KSK schedule of the SKR about to be written against the previous
/// SKR's (KSR-CHAIN-KSK-*), with this side's policy (kskit.toml when there
/// is one, else the defaults) and the emergencies its keystore records;
/// prints the report when a check fails, and the emergency waiver
/// (KSR-CHAIN-KSK-EMERGENCY) whenever one applies.
fn ksk_schedule_report(previous: &crate::skr::model::Skr, new: &crate::skr::model::Skr, ctx: &Context, emergencies: &[crate::ksr::ksk_schedule::Emergency]) -> Result<Report> {
    use crate::ksr::ksk_schedule::{check_ksk_schedule, KskSchedule, KSR_CHAIN_KSK_EMERGENCY};
    let policy = if ctx.config_path.exists() { ctx.config()?.policy } else { crate::config::Policy::default() };
    let r = check_ksk_schedule(previous, new, &KskSchedule::of(&policy), emergencies);
    if r.passed() {
        if let Some(e) = r.get(KSR_CHAIN_KSK_EMERGENCY).filter(|e| e.applicable) {
            eprintln!("{e}");
        }
        return Ok(r);
    }
    eprintln!("{}", r.to_text().trim_end());
    eprintln!("kskit: refusing to write the SKR: its KSK schedule does not continue the previous SKR's ({} check(s) failed)", r.failures().len());
    Ok(r)
}

/// Asks the operator on the terminal; anything but "yes" aborts.
pub(crate) fn confirm(question: &str) -> Result<()> {
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty");
    let Ok(mut tty) = tty else {
        bail!("confirmation needed but there is no terminal: pass --yes for scripted runs");
    };
    write!(tty, "{question}")?;
    tty.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&mut tty).read_line(&mut line)?;
    if line.trim() != "yes" {
        bail!("not confirmed; nothing signed");
    }
    Ok(())
}

/// One `<Algorithm>` entry of an IANA request or response policy per
/// distinct algorithm and parameters among `keys` (RSA: modulus size and
/// public exponent as the key has them; the curves: their size).
fn algorithm_policies<'a>(keys: impl Iterator<Item = &'a crate::dnssec::Dnskey>) -> Vec<AlgorithmPolicy> {
    let mut out: Vec<AlgorithmPolicy> = Vec::new();
    for key in keys {
        let Ok(alg) = crate::dnssec::Algorithm::from_number(key.algorithm) else { continue };
        let params = if alg.is_rsa() {
            let exponent = crate::dnssec::pubkey::rsa_components(&key.public_key)
                .map(|(e, _)| e.iter().fold(0u64, |acc, b| acc.saturating_mul(256).saturating_add(*b as u64)))
                .unwrap_or(0);
            AlgorithmParams::Rsa { size: key.key_bits().unwrap_or(0), exponent }
        } else if alg.is_ecdsa() {
            AlgorithmParams::Ecdsa { size: alg.default_bits() }
        } else {
            AlgorithmParams::EdDsa { size: alg.default_bits() }
        };
        let ap = AlgorithmPolicy { algorithm: alg.number(), params };
        if !out.contains(&ap) {
            out.push(ap);
        }
    }
    out
}

/// The `<ResponsePolicy><KSK>` of an IANA SKR: what this KSK side signs
/// under, never the requester's claims (issue 14 point 4). Validity and
/// overlap bounds come from the KSK side's binding policy; a bound the
/// policy leaves open is stated as what this SKR's bundles actually have
/// (their times are covered by the KSK's signatures). Algorithms are the
/// signing KSKs'. Publish and retire safety are not stated (zero).
pub(crate) fn response_ksk_policy(ksr: &Ksr, ksks: &[Ksk<'_>], policy: &KskPolicy) -> SignaturePolicy {
    let algorithms = algorithm_policies(ksks.iter().map(|k| k.signer.dnskey()));
    let validities: Vec<time::Duration> = ksr.bundles.iter().filter_map(|b| Some(b.expiration? - b.inception)).collect();
    let overlaps: Vec<time::Duration> = ksr.bundles.windows(2).filter_map(|w| Some(w.first()?.expiration? - w.get(1)?.inception)).collect();
    let lo = |v: &[time::Duration]| v.iter().copied().min().unwrap_or(time::Duration::ZERO);
    let hi = |v: &[time::Duration]| v.iter().copied().max().unwrap_or(time::Duration::ZERO);
    SignaturePolicy {
        publish_safety: time::Duration::ZERO,
        retire_safety: time::Duration::ZERO,
        max_signature_validity: policy.max_signature_validity.unwrap_or_else(|| hi(&validities)),
        min_signature_validity: policy.min_signature_validity.unwrap_or_else(|| lo(&validities)),
        max_validity_overlap: policy.max_overlap.unwrap_or_else(|| hi(&overlaps)),
        min_validity_overlap: policy.min_overlap.unwrap_or_else(|| lo(&overlaps)),
        algorithms,
    }
}

/// The KSKs and, per SKR bundle, what the rollover plan of this side's
/// kskit.toml and keystore publishes at the bundle's start: KSKs with their
/// flags, the signing KSKs, and the CDS/CDNSKEY set. Every KSK the plan
/// needs must already be in the keystore.
/// The KSK references, the primary selection and (when it differs) the hold selection.
type PlanSelection = (Vec<String>, Vec<BundleKsks>, Option<Vec<BundleKsks>>);

fn plan_selection(ksr: &Ksr, planned: &[PlannedBundle], ctx: &Context) -> Result<PlanSelection> {
    let cfg = ctx.config()?;
    let ks = ctx.keystore()?;
    let zone = crate::dnssec::name::to_presentation(&ksr.domain.to_lowercase());
    let (Some(first), Some(last)) = (planned.first(), planned.last()) else { bail!("the KSR has no bundles") };
    let pl = crate::rollover::plan::plan(&zone, &cfg.policy, ks.keys(), first.inception, last.sig_expiration)
        .with_context(|| format!("cannot plan the rollovers of {zone}"))?;
    let mut ids: Vec<String> = Vec::new();
    let index = |id: &str, ids: &mut Vec<String>| -> Result<usize> {
        if let Some(i) = ids.iter().position(|x| x == id) {
            return Ok(i);
        }
        let Some(meta) = ks.get(id) else {
            bail!("the rollover plan needs KSK {id:?}, which is not in the keystore yet: generate it first (kskit key generate --role ksk, or kskit hsm keygen)");
        };
        if let Some(l) = meta.lost.as_ref().filter(|l| l.cause == crate::keys::keystore::LossCause::Lost) {
            match l.switch {
                Some(sw) => bail!(
                    "the rollover plan needs the lost KSK {id} for bundles before the emergency switch {}: the emergency KSR must start at the switch (kskit ksr generate --from {})",
                    crate::timeutil::format_rfc3339(sw),
                    crate::timeutil::format_rfc3339(sw)
                ),
                None => bail!("KSK {id} is lost and the standby's DS is not confirmed at the parent yet: run `kskit rollover emergency --key {id}` until it gives the switch, then sign a KSR from it"),
            }
        }
        ids.push(id.to_string());
        Ok(ids.len() - 1)
    };
    // The primary variant follows the plan; the hold variant (docs/rollover.md
    // "Slow parents") keeps the old KSK as if the parent never confirmed the
    // new DS. It is written only when some bundle differs.
    let held = pl.held();
    let primary = selection_for(ksr, planned, &pl, &mut ids, &index, &cfg)?;
    let hold = selection_for(ksr, planned, &held, &mut ids, &index, &cfg)?;
    let hold = (hold != primary).then_some(hold);
    Ok((ids, primary, hold))
}

/// Per SKR bundle, what plan `pl` publishes at its start.
fn selection_for(
    ksr: &Ksr,
    planned: &[PlannedBundle],
    pl: &crate::rollover::plan::Plan,
    ids: &mut Vec<String>,
    index: &dyn Fn(&str, &mut Vec<String>) -> Result<usize>,
    cfg: &crate::config::Config,
) -> Result<Vec<BundleKsks>> {
    use crate::keys::keystore::Role;
    use crate::rollover::plan::CdsSet;
    let mut out = Vec::with_capacity(planned.len());
    for p in planned {
        let v = pl.view_at(p.inception);
        let mut publish = Vec::new();
        for k in v.dnskeys.iter().filter(|k| k.role == Role::Ksk) {
            publish.push((index(&k.id, ids)?, k.flags));
        }
        let sign = v.dnskey_signers.iter().map(|id| index(id, ids)).collect::<Result<Vec<_>>>()?;
        let cds = match &v.cds {
            CdsSet::None => BundleCds::None,
            CdsSet::Delete => BundleCds::Delete,
            CdsSet::Keys(keys) => BundleCds::Keys {
                keys: keys.iter().map(|id| index(id, ids)).collect::<Result<Vec<_>>>()?,
                digests: cfg.policy.cds_digests.clone(),
            },
        };
        if sign.is_empty() {
            bail!("the rollover plan has no KSK signing at {} (bundle {})", crate::timeutil::format_rfc3339(p.inception), p.id);
        }
        check_bundle_algorithms(ksr, p, &v, pl)?;
        out.push(BundleKsks { publish, sign, cds });
    }
    Ok(out)
}

/// The algorithm rule (RFC 4035 §2.2) for the DNSKEY RRset a planned bundle
/// will publish: every algorithm among the KSR bundle's ZSKs and the plan's
/// KSKs needs a KSK of that algorithm signing the RRset. It fails when the
/// ZSK side's and this side's algorithm rollovers disagree (different
/// policies, or `algorithm_rollover_start` left to differing anchors), and
/// is checked for every bundle before the first signature.
fn check_bundle_algorithms(ksr: &Ksr, p: &PlannedBundle, v: &crate::rollover::plan::View, pl: &crate::rollover::plan::Plan) -> Result<()> {
    let req = ksr.bundles.get(p.request_index).with_context(|| format!("internal error: no request bundle for {}", p.id))?;
    let signing: Vec<u8> = v.dnskey_signers.iter().filter_map(|id| pl.key(id)).map(|k| k.algorithm.number()).collect();
    let zsk_algs = req.keys.iter().map(|k| (k.dnskey.algorithm, format!("ZSK {}", k.dnskey.key_tag())));
    let ksk_algs = v.dnskeys.iter().filter(|k| k.role == crate::keys::keystore::Role::Ksk).map(|k| (k.algorithm.number(), format!("KSK {}", k.id)));
    for (alg, who) in zsk_algs.chain(ksk_algs) {
        if !signing.contains(&alg) {
            let when = pl
                .keys
                .iter()
                .filter(|k| k.role == crate::keys::keystore::Role::Ksk && k.algorithm.number() == alg)
                .filter_map(|k| Some((k.active?, k.retire)))
                .map(|(a, r)| format!("{} .. {}", crate::timeutil::format_rfc3339(a), r.map(crate::timeutil::format_rfc3339).unwrap_or_else(|| "-".into())))
                .collect::<Vec<_>>();
            bail!(
                "bundle {} at {}: the DNSKEY RRset would hold {who} of algorithm {alg}, but the rollover plan has no KSK of that algorithm signing then ({}); every algorithm of the DNSKEY RRset must sign it (RFC 4035 §2.2). The ZSK side's KSR and this side's plan disagree: give both kskit.toml the same policy and algorithm_rollover_start",
                p.id,
                crate::timeutil::format_rfc3339(p.inception),
                if when.is_empty() { "the plan has no such KSK".to_string() } else { format!("it plans one signing {}", when.join(", ")) }
            );
        }
    }
    Ok(())
}
