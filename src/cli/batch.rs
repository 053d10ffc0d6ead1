//! `kskit ksr sign-batch DIR|FILES... --ksk KEYREF -o OUTDIR`: a batch
//! ceremony signing the KSRs of many zones in one run, with every KSK opened
//! (and every token logged in) once.
//!
//! Every KSR is read and checked before the first signature; one failing
//! KSR stops the batch with nothing signed. The operator confirms once, for
//! the whole list (each file's SHA-256 is printed, plus the SHA-256 of that
//! list). Every SKR is parsed back and checked against the KSKs and its KSR
//! before anything is written; then each SKR is written atomically to
//! OUTDIR/ZONE-FILE-NAME.skr. Existing output files are refused up front.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use time::OffsetDateTime;

use super::ksr::KskSigningArgs;
use super::{parse_time_arg, print_json, Context};
use crate::digest::FileDigest;
use crate::keys::keyref::KeyRef;
use crate::ksr::checks::check_ksr;
use crate::ksr::ksk_policy::KskPolicy;
use crate::ksr::model::{Format, Ksr};
use crate::skr::sign::{count_signatures, sign_ksr, Ksk, SignOptions};

#[derive(Args, Debug)]
pub struct SignBatchArgs {
    /// KSR files, or directories whose regular files are all KSRs (not recursive).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// A KSK that signs every KSR: keystore id or key tag, file:PATH, or a pkcs11: URI. Repeat for several.
    #[arg(long = "ksk", required = true)]
    pub ksks: Vec<String>,
    /// Output directory for the SKRs (created if missing; existing SKR files are refused).
    #[arg(short, long)]
    pub output: PathBuf,
    /// KSK-side policy file (TOML); its `accepted_domains` must name the zones.
    /// Default: the root and the zones of kskit.toml.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Check as of this time instead of now.
    #[arg(long)]
    pub now: Option<String>,
    #[command(flatten)]
    pub signing: KskSigningArgs,
}

/// One KSR of the batch, read and checked.
pub(crate) struct BatchItem {
    pub file: PathBuf,
    pub ksr: Ksr,
    pub digest: FileDigest,
    pub output: PathBuf,
    /// The text SKR's layout (`--skr-layout`, else the KSR's); `None` for IANA XML.
    pub layout: Option<crate::ksr::model::TextLayout>,
}

/// What signing a batch produced.
pub(crate) struct BatchOutcome {
    /// (output path, SKR text) per KSR, in input order.
    pub skrs: Vec<(PathBuf, String)>,
    pub bundles: usize,
    pub signatures: usize,
    /// Seconds spent signing and checking (after the KSKs were opened).
    pub seconds: f64,
}

/// The input files: files as given, directories expanded to their regular
/// files in name order.
pub(crate) fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        bail!("no KSR files in {}", inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    Ok(out)
}

/// Reads and checks every KSR; returns the items, or the names of the files
/// that failed with their failed checks.
/// Runs `f` over `items` on every core (each thread takes the next item
/// as it finishes one); results in input order. The first error is returned.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(it) = items.get(i) else { break };
                let r = f(it);
                let failed = r.is_err();
                if let Some(slot) = slots.get(i) {
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
                if failed {
                    // Stop handing out work; the error is reported below.
                    next.store(items.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    for s in slots {
        match s.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(r) => out.push(r?),
            None => bail!("internal error: a batch worker stopped before finishing"),
        }
    }
    Ok(out)
}

pub(crate) fn read_and_check(files: &[PathBuf], outdir: &Path, policy: &KskPolicy, now: OffsetDateTime) -> Result<(Vec<BatchItem>, Vec<String>)> {
    let mut items = Vec::with_capacity(files.len());
    let mut failed = Vec::new();
    let mut outputs = std::collections::HashSet::new();
    // Reading, parsing and checking are independent per file: on every core.
    let checked = par_map(files, |f| {
        let data = super::read_input(f)?;
        let digest = FileDigest::of(&data);
        let ksr = crate::formats::parse_ksr_any(&data).with_context(|| format!("{} is not a valid KSR", f.display()))?;
        let report = check_ksr(&ksr, policy, None, now);
        let failures: Option<String> = (!report.passed()).then(|| {
            let names: Vec<String> = report.failures().iter().map(|c| format!("{} {}", c.id, c.message)).collect();
            format!("{}: {}", f.display(), names.join("; "))
        });
        Ok((digest, ksr, failures))
    })?;
    for (f, (digest, ksr, failures)) in files.iter().zip(checked) {
        failed.extend(failures);
        let stem = f.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ksr".into());
        let stem = stem.strip_suffix(".ksr").unwrap_or(&stem).to_string();
        let output = outdir.join(format!("{stem}.skr"));
        if !outputs.insert(output.clone()) {
            bail!("two KSRs would be answered in the same file {} (rename one)", output.display());
        }
        if output.exists() {
            bail!("{} exists already; refusing to overwrite an SKR (use a new output directory)", output.display());
        }
        items.push(BatchItem { file: f.clone(), ksr, digest, output, layout: None });
    }
    Ok((items, failed))
}

/// Signs every checked KSR with `ksks`, then parses back and checks each
/// SKR against the KSKs and its KSR. Nothing is written here.
pub(crate) fn sign_items(items: &[BatchItem], ksks: &[Ksk<'_>], opts: &SignOptions, policy: &KskPolicy, progress: &mut super::Progress) -> Result<BatchOutcome> {
    let start = Instant::now();
    let total: usize = items.iter().map(|it| count_signatures(&it.ksr, ksks.len(), opts).unwrap_or(0)).sum();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let progress = std::sync::Mutex::new(progress);
    // Each KSR is signed, serialised, parsed back and checked on its own:
    // the zones are spread over every core (the KSKs are shared; a token
    // serialises its own operations).
    let made = par_map(items, |it| {
        let mut o = opts.clone();
        if it.ksr.format == Format::Iana {
            o.ksk_policy = Some(super::ksr::response_ksk_policy(&it.ksr, ksks, policy));
        }
        let mut skr = sign_ksr(&it.ksr, ksks, &o, &mut |_, _| {}).with_context(|| format!("signing {}", it.file.display()))?;
        let d = done.fetch_add(count_signatures(&it.ksr, ksks.len(), &o).unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut p) = progress.try_lock() {
            p.tick(d, total);
        }
        skr.generated = Some((crate::timeutil::whole_seconds(OffsetDateTime::now_utc()), format!("kskit {}", env!("CARGO_PKG_VERSION"))));
        if let Some(l) = it.layout {
            skr.layout = l;
        }
        let text = crate::formats::write_skr(&skr, it.ksr.format);
        let back = crate::formats::parse_skr_any(text.as_bytes())
            .with_context(|| format!("internal error: the SKR for {} does not parse back", it.file.display()))?;
        let ta = crate::skr::checks::TrustAnchor {
            domain: it.ksr.domain.clone(),
            ds: vec![],
            dnskeys: ksks.iter().map(|k| k.signer.dnskey().clone()).collect(),
        };
        let at = it.ksr.bundles.first().map(|b| b.inception).unwrap_or(OffsetDateTime::now_utc());
        let rep = crate::skr::checks::check_skr(&back, &ta, Some(&it.ksr), at);
        if !rep.passed() {
            eprintln!("{}", rep.to_text().trim_end());
            bail!("internal error: the SKR made for {} does not pass the SKR checks; nothing written", it.file.display());
        }
        let sigs = skr.bundles.iter().map(|b| b.signatures.len()).sum::<usize>();
        Ok((it.output.clone(), text, skr.bundles.len(), sigs))
    })?;
    if let Ok(mut p) = progress.lock() {
        p.tick(total, total);
    }
    let (mut bundles, mut signatures) = (0usize, 0usize);
    let mut skrs = Vec::with_capacity(items.len());
    for (path, text, b, s) in made {
        bundles += b;
        signatures += s;
        skrs.push((path, text));
    }
    Ok(BatchOutcome { skrs, bundles, signatures, seconds: start.elapsed().as_secs_f64() })
}

/// Writes the batch's SKRs into `outdir`, each atomically and durably
/// (`crate::keys::fsutil::write_atomic_many`): every temp file is written
/// and fsynced (several at a time: concurrent fsyncs share journal
/// commits), then each is renamed into place, then the directory is
/// fsynced once before the batch is reported written. Never a partial file;
/// an error before the renames leaves no SKR written.
pub(crate) fn write_skrs(outdir: &Path, skrs: &[(PathBuf, String)]) -> Result<()> {
    std::fs::create_dir_all(outdir).with_context(|| format!("cannot create {}", outdir.display()))?;
    let files: Vec<(&Path, &[u8])> = skrs.iter().map(|(p, t)| (p.as_path(), t.as_bytes())).collect();
    crate::keys::fsutil::write_atomic_many(&files, crate::keys::fsutil::MODE_PUBLIC, WRITE_THREADS)
        .with_context(|| format!("cannot write the SKRs into {}", outdir.display()))?;
    Ok(())
}

/// Files written and fsynced at a time by [`write_skrs`]: fsync waits on
/// the disk, not the CPU, so more than the cores.
const WRITE_THREADS: usize = 16;

/// The KSK-side policy for the batch: as for `ksr sign`
/// ([`super::ksr::ksk_policy_for`]).
fn policy_for(a: &SignBatchArgs, ctx: &Context) -> Result<KskPolicy> {
    super::ksr::ksk_policy_for(a.policy.as_deref(), ctx)
}

pub fn run(a: SignBatchArgs, ctx: &Context) -> Result<i32> {
    let now = match &a.now {
        Some(t) => parse_time_arg(t, OffsetDateTime::now_utc())?,
        None => OffsetDateTime::now_utc(),
    };
    let files = expand_inputs(&a.inputs)?;
    let policy = policy_for(&a, ctx)?;
    let check_start = Instant::now();
    let (mut items, failed) = read_and_check(&files, &a.output, &policy, now)?;
    let check_seconds = check_start.elapsed().as_secs_f64();
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("KSR REJECTED {f}");
        }
        if ctx.json {
            print_json(&serde_json::json!({"signed": false, "rejected": failed}))?;
        }
        eprintln!("kskit: refusing to sign the batch: {} of {} KSR(s) failed their checks (kskit ksr verify FILE shows why)", failed.len(), items.len());
        return Ok(super::EXIT_FAILED);
    }
    let mut opts = SignOptions { cds: a.signing.cds_mode(), ..SignOptions::default() };
    super::ksr::text_timing(&mut opts, ctx)?;
    let mut total = 0usize;
    let mut listing = String::new();
    for it in &items {
        total += count_signatures(&it.ksr, a.ksks.len(), &opts)?;
        listing.push_str(&format!("{}  {}\n", it.digest.hex(), it.file.display()));
    }
    let list_digest = FileDigest::of(listing.as_bytes());
    // The SKR layout per KSR; said once per distinct choice, not once per file.
    let mut layouts: std::collections::BTreeMap<(String, String), Vec<String>> = std::collections::BTreeMap::new();
    for it in &mut items {
        it.layout = a.signing.skr_layout(&it.ksr).map(|(l, why)| {
            layouts.entry((l.name().to_string(), why.to_string())).or_default().push(it.file.display().to_string());
            l
        });
    }
    for ((name, why), files) in &layouts {
        match files.as_slice() {
            [one] => eprintln!("SKR layout for {one}: {name} ({why})"),
            many => eprintln!(
                "SKR layout for {} KSRs: {name} ({why}); first {}, last {}",
                many.len(),
                many.first().map_or("", |s| s.as_str()),
                many.last().map_or("", |s| s.as_str())
            ),
        }
    }
    if !ctx.json {
        print!("{listing}");
        println!("{} KSRs accepted: every check passed", items.len());
        println!("SHA-256 of this list {}", list_digest.hex());
        println!("{}", list_digest.words_grouped());
    }
    eprintln!("about to make {total} signatures for {} KSRs with {} KSK(s)", items.len(), a.ksks.len());
    if !a.signing.yes {
        super::ksr::confirm(&format!("Sign these {} KSRs (list SHA-256 {})? Type yes to proceed: ", items.len(), list_digest.hex()))?;
    }
    // Open every KSK once: one login per token for the whole batch.
    let ks = ctx.keystore().ok();
    let refs = a.ksks.iter().map(|r| r.parse::<KeyRef>()).collect::<Result<Vec<_>, _>>()?;
    let opened = super::open_keys(ks.as_ref(), &refs, &a.signing.secret, &a.signing.open_hints_with(ctx), "KSK")?;
    let ksks: Vec<Ksk<'_>> = opened.iter().map(|(k, id)| Ksk { signer: k.signer(), identifier: id.clone() }).collect();
    // RFC 4035 §2.2: every ZSK algorithm of every KSR needs a signing KSK.
    let algs: Vec<u8> = {
        let mut v: Vec<u8> = ksks.iter().map(|k| k.signer.dnskey().algorithm).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let refused: Vec<String> = items
        .iter()
        .map(|it| (it, crate::ksr::checks::check_dnskey_algorithms(&it.ksr, &algs)))
        .filter(|(_, c)| c.is_failure())
        .map(|(it, c)| format!("{}: {c}", it.file.display()))
        .collect();
    if !refused.is_empty() {
        for r in &refused {
            eprintln!("KSR REJECTED {r}");
        }
        if ctx.json {
            print_json(&serde_json::json!({"signed": false, "rejected": refused}))?;
        }
        eprintln!("kskit: refusing to sign the batch: {} KSR(s) hold ZSK algorithms no KSK signs with (RFC 4035 §2.2)", refused.len());
        return Ok(super::EXIT_FAILED);
    }
    let out = sign_items(&items, &ksks, &opts, &policy, &mut super::Progress::new(!ctx.json))?;
    write_skrs(&a.output, &out.skrs)?;
    let token_ops: u64 = opened.iter().map(|(k, _)| k.token_sign_count()).sum();
    if ctx.json {
        print_json(&serde_json::json!({
            "signed": true, "ksrs": items.len(), "bundles": out.bundles, "signatures": out.signatures,
            "token_sign_operations": token_ops, "check_seconds": check_seconds, "signing_seconds": out.seconds,
            "files": out.skrs.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "skr_layouts": items.iter().map(|it| it.layout).collect::<Vec<_>>(),
        }))?;
    } else {
        println!("wrote {} SKRs to {} ({} bundles, {} signatures in {:.2} s)", out.skrs.len(), a.output.display(), out.bundles, out.signatures, out.seconds);
    }
    Ok(0)
}
