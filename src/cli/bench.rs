//! `kskit bench`: signing and verification rates per algorithm and key size
//! on one thread and on N threads, software or PKCS#11; `--scenario` runs
//! ceremony scenarios instead; `--write-ksrs` writes the KSRs of a batch of
//! zones for benches/compare.sh. See docs/benchmarks.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use time::OffsetDateTime;

use super::Context;
use crate::backends::pkcs11::{self, OpenOptions, Pkcs11Signer};
use crate::backends::soft::SoftKey;
use crate::backends::Signer;
use crate::bench::{self, BenchCase, CaseResult, ScenarioResult};
use crate::dnssec::{Algorithm, DigestType, FLAG_SEP, FLAG_ZONE};
use crate::keys::keyref::{KeyRef, Pkcs11Uri};
use crate::ksr::ksk_policy::KskPolicy;
use crate::ksr::model::Format;
use crate::skr::sign::{CdsMode, Ksk, SignOptions};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Where the benchmark keys live: soft (generated in memory) or pkcs11
    /// (generated on the token of --token, removed afterwards).
    #[arg(long, value_enum, default_value = "soft")]
    pub backend: BackendArg,
    /// PKCS#11 URI of the token (with pin-source= or KSKIT_PIN; module-path=
    /// or KSKIT_PKCS11_MODULE). Keys are made with labels kskit-bench-*.
    #[arg(long)]
    pub token: Option<String>,
    /// Algorithm to measure, optionally with /BITS (RSASHA256/3072); an
    /// algorithm alone means its standard sizes. Repeat; default: all.
    #[arg(long = "algorithm")]
    pub algorithms: Vec<String>,
    /// Threads for the multi-threaded run (default: all cores); 1 measures one thread only.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seconds per measured phase (sign, verify, sign+verify).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Run a ceremony scenario instead of the rates. Repeat for several.
    #[arg(long = "scenario", value_enum)]
    pub scenarios: Vec<ScenarioArg>,
    /// Zones in the batch scenario and in --write-ksrs.
    #[arg(long, default_value_t = 1000)]
    pub zones: usize,
    /// Write the text-format KSRs of --zones zones to DIR/ksr/, their KSK
    /// policy to DIR/ksk-policy.toml and the zone names to DIR/zones.txt, then stop.
    #[arg(long)]
    pub write_ksrs: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    Soft,
    Pkcs11,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioArg {
    /// Sign one IANA-format KSR of a year of bundles (CDS published).
    KsrYear,
    /// Check and sign the text-format KSRs of --zones zones in one run and write their SKRs.
    Batch,
    /// Parse and check a large SKR (the one ksr-year makes).
    VerifySkr,
    /// Check a KeyTrap-shaped KSR and SKR (CVE-2023-50387: 9 bundles of 200
    /// keys sharing one key tag and 100 junk signatures, about 1.7 MB each)
    /// as `ksr verify` and `skr verify` do, once written in the IANA XML and once
    /// in the Knot/BIND text format; reports time and verification attempts.
    Keytrap,
    /// All of the above.
    All,
}

/// Benchmark keys of one case: `threads` signers of the same key (one
/// PKCS#11 session each), and what to remove from the token afterwards.
struct CaseKeys {
    soft: Option<SoftKey>,
    token: Vec<Pkcs11Signer>,
}

impl CaseKeys {
    fn signers(&self, n: usize) -> Vec<&dyn Signer> {
        match &self.soft {
            Some(k) => (0..n).map(|_| k as &dyn Signer).collect(),
            None => self.token.iter().map(|s| s as &dyn Signer).collect(),
        }
    }
}

/// The token the PKCS#11 benchmark runs on, with the PIN read once.
struct TokenBench {
    uri: Pkcs11Uri,
    pin: crate::secrets::Secret,
}

impl TokenBench {
    fn new(token: &str) -> Result<TokenBench> {
        let uri = match token.parse::<KeyRef>()? {
            KeyRef::Pkcs11(u) => u.token_only(),
            _ => bail!("--token must be a pkcs11: URI naming the token"),
        };
        let pin = uri.resolve_pin()?;
        Ok(TokenBench { uri, pin })
    }

    fn opts(&self) -> OpenOptions {
        OpenOptions { pin: Some(self.pin.clone()), ..OpenOptions::default() }
    }

    /// Generates the key of `case` on the token, opens `n` sessions on it,
    /// runs `f`, then closes the sessions and removes the key (also on error).
    fn with_key<R>(&self, case: BenchCase, n: usize, f: impl FnOnce(&CaseKeys) -> Result<R>) -> Result<R> {
        let label = bench::token_label(case);
        let tk = pkcs11::keygen(&self.uri, case.algorithm, Some(case.bits), &label, &self.opts())
            .with_context(|| format!("generating the {case} benchmark key on the token"))?;
        let result = (|| {
            let mut token = Vec::with_capacity(n);
            for _ in 0..n.max(1) {
                token.push(Pkcs11Signer::open(&tk.uri, case.algorithm, FLAG_ZONE | FLAG_SEP, &self.opts())?);
            }
            let keys = CaseKeys { soft: None, token };
            f(&keys)
        })();
        // Every session of this key is closed here (the signers are dropped).
        let removed = bench::remove_token_objects(&self.uri, &self.pin, &label);
        match (&result, removed) {
            (_, Ok(_)) => {}
            (Ok(_), Err(e)) => return Err(anyhow::anyhow!("{e}; remove the key labelled {label:?} by hand")),
            (Err(_), Err(e)) => eprintln!("kskit: warning: {e}; remove the key labelled {label:?} by hand"),
        }
        result
    }
}

fn cases(a: &BenchArgs) -> Result<Vec<BenchCase>> {
    if a.algorithms.is_empty() {
        return Ok(bench::default_cases());
    }
    let mut v = Vec::new();
    for s in &a.algorithms {
        for c in bench::parse_cases(s)? {
            if !v.contains(&c) {
                v.push(c);
            }
        }
    }
    Ok(v)
}

pub fn run(a: BenchArgs, ctx: &Context) -> Result<i32> {
    if !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        bail!("--seconds must be above 0 and at most 3600, got {}", a.seconds);
    }
    if a.zones == 0 {
        bail!("--zones must be at least 1");
    }
    if let Some(dir) = &a.write_ksrs {
        return write_ksrs(dir, a.zones, ctx);
    }
    let token = match (a.backend, &a.token) {
        (BackendArg::Pkcs11, Some(t)) => Some(TokenBench::new(t)?),
        (BackendArg::Pkcs11, None) => bail!("--backend pkcs11 needs --token URI"),
        (BackendArg::Soft, Some(_)) => bail!("--token is for --backend pkcs11"),
        (BackendArg::Soft, None) => None,
    };
    if !a.scenarios.is_empty() {
        return scenarios(&a, token.as_ref(), ctx);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = a.threads.unwrap_or(cores).max(1);
    let duration = Duration::from_secs_f64(a.seconds);
    let backend = match a.backend {
        BackendArg::Soft => "soft",
        BackendArg::Pkcs11 => "pkcs11",
    };
    if !ctx.json {
        println!("{backend} backend, {} s per phase, {cores} core(s); input: DNSKEY RRset (2 ZSKs + KSK) RRSIG signing input", a.seconds);
        println!("{:<16} {:>5} {:>7} {:>12} {:>12} {:>14} {:>6}", "algorithm", "bits", "threads", "sign/s", "verify/s", "sign+verify/s", "bytes");
    }
    let thread_counts: Vec<usize> = if threads > 1 { vec![1, threads] } else { vec![1] };
    for case in cases(&a)? {
        let measure = |keys: &CaseKeys| -> Result<Vec<CaseResult>> {
            let signers = keys.signers(threads);
            thread_counts
                .iter()
                .map(|&t| bench::run_case(backend, case.bits, &signers, t, duration).with_context(|| format!("measuring {case} on {t} thread(s)")))
                .collect()
        };
        let results = match &token {
            None => {
                let k = bench::soft_ksk(case)?;
                measure(&CaseKeys { soft: Some(k), token: vec![] })?
            }
            Some(tb) => tb.with_key(case, threads, measure)?,
        };
        for r in results {
            if ctx.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{:<16} {:>5} {:>7} {:>12.1} {:>12.1} {:>14.1} {:>6}",
                    r.algorithm, r.bits, r.threads, r.sign_per_sec, r.verify_per_sec, r.sign_verify_per_sec, r.input_bytes
                );
            }
        }
    }
    Ok(0)
}

/// The KSK policy accepting `zones` (and otherwise the defaults).
fn policy_toml(zones: &[String]) -> String {
    let list: Vec<String> = zones.iter().map(|z| format!("  {z:?},")).collect();
    format!("# KSK policy of the benchmark batch (kskit bench --write-ksrs)\naccepted_domains = [\n{}\n]\n", list.join("\n"))
}

fn write_ksrs(dir: &std::path::Path, n: usize, ctx: &Context) -> Result<i32> {
    let zones = bench::batch_zone_names(n);
    let ksrs = bench::batch_ksrs(&zones, Algorithm::EcdsaP256Sha256, crate::timeutil::whole_seconds(OffsetDateTime::now_utc()))?;
    let kdir = dir.join("ksr");
    std::fs::create_dir_all(&kdir).with_context(|| format!("cannot create {}", kdir.display()))?;
    for (name, text) in &ksrs {
        super::write_output(&kdir.join(name), text.as_bytes())?;
    }
    super::write_output(&dir.join("ksk-policy.toml"), policy_toml(&zones).as_bytes())?;
    let mut list = zones.join("\n");
    list.push('\n');
    super::write_output(&dir.join("zones.txt"), list.as_bytes())?;
    if ctx.json {
        super::print_json(&serde_json::json!({"ksrs": ksrs.len(), "dir": kdir, "policy": dir.join("ksk-policy.toml")}))?;
    } else {
        println!("wrote {} KSRs to {}, policy {}", ksrs.len(), kdir.display(), dir.join("ksk-policy.toml").display());
    }
    Ok(0)
}

fn scenarios(a: &BenchArgs, token: Option<&TokenBench>, ctx: &Context) -> Result<i32> {
    let case = match cases(a)?.first() {
        Some(c) if !a.algorithms.is_empty() => *c,
        _ => BenchCase { algorithm: Algorithm::EcdsaP256Sha256, bits: 256 },
    };
    let all = a.scenarios.contains(&ScenarioArg::All);
    let want = |s: ScenarioArg| all || a.scenarios.contains(&s);
    let run_all = |keys: &CaseKeys| -> Result<Vec<ScenarioResult>> {
        let signer = *keys.signers(1).first().context("no KSK")?;
        let ksks = [Ksk { signer, identifier: "bench-ksk".into() }];
        let mut out = Vec::new();
        if want(ScenarioArg::KsrYear) || want(ScenarioArg::VerifySkr) {
            let (r, skr, ksr) = bench::scenario_ksr_year(&ksks, Format::Iana)?;
            if want(ScenarioArg::KsrYear) {
                out.push(r);
            }
            if want(ScenarioArg::VerifySkr) {
                out.push(bench::scenario_verify_skr(&skr, &ksr, &[signer.dnskey().clone()])?);
            }
        }
        if want(ScenarioArg::Batch) {
            out.push(batch_scenario(a.zones, &ksks)?);
        }
        if want(ScenarioArg::Keytrap) {
            out.push(bench::scenario_keytrap(9, 200, 100, crate::ksr::model::Format::Iana)?);
            out.push(bench::scenario_keytrap(9, 200, 100, crate::ksr::model::Format::Text)?);
        }
        Ok(out)
    };
    let results = match token {
        None => run_all(&CaseKeys { soft: Some(bench::soft_ksk(case)?), token: vec![] })?,
        Some(tb) => tb.with_key(case, 1, run_all)?,
    };
    for r in results {
        if ctx.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!("{:<11} {:>9.3} s {:>8} signatures {:>10.1}/s  {} (KSK {case})", r.scenario, r.seconds, r.signatures, r.signatures_per_sec, r.detail);
        }
    }
    Ok(0)
}

/// Scenario `batch`: the KSRs of `n` zones written to files, then read,
/// checked, signed (DNSKEY, CDS and CDNSKEY), checked back and written as
/// SKRs by the code of `kskit ksr sign-batch`, with the KSK opened once.
fn batch_scenario(n: usize, ksks: &[Ksk<'_>]) -> Result<ScenarioResult> {
    let tmp = tempfile::Builder::new().prefix("kskit-bench-batch-").tempdir()?;
    let zones = bench::batch_zone_names(n);
    let now = crate::timeutil::whole_seconds(OffsetDateTime::now_utc());
    let kdir = tmp.path().join("ksr");
    std::fs::create_dir_all(&kdir)?;
    for (name, text) in bench::batch_ksrs(&zones, Algorithm::EcdsaP256Sha256, now)? {
        std::fs::write(kdir.join(name), text)?;
    }
    let policy = KskPolicy::from_toml(&policy_toml(&zones), "batch policy").map_err(|e| anyhow::anyhow!("{e}"))?;
    let outdir = tmp.path().join("skr");
    let start = std::time::Instant::now();
    let files = super::batch::expand_inputs(&[kdir])?;
    let (items, failed) = super::batch::read_and_check(&files, &outdir, &policy, now)?;
    if !failed.is_empty() {
        bail!("benchmark KSRs failed their checks: {}", failed.join("; "));
    }
    let opts = SignOptions { cds: CdsMode::Publish(vec![DigestType::Sha256]), ..SignOptions::default() };
    let out = super::batch::sign_items(&items, ksks, &opts, &policy, &mut super::Progress::new(false))?;
    super::batch::write_skrs(&outdir, &out.skrs)?;
    let secs = start.elapsed().as_secs_f64();
    let detail = format!(
        "{n} zones' 90-day text KSRs read, checked, signed ({} bundles, DNSKEY+CDS+CDNSKEY), SKRs checked back and written; {:.2} ms per zone",
        out.bundles,
        secs * 1000.0 / n as f64
    );
    Ok(ScenarioResult::new("batch", secs, out.signatures as u64, detail))
}
