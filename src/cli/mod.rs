//! The one CLI layer (clap). Every subcommand parses its arguments, calls the
//! library below, and prints; nothing below this module prints or exits.
//!
//! Exit codes: 0 success; 1 a check or verification failed (the report says
//! which); 2 an error (bad input, I/O, token, usage). `kskit check` follows
//! the Nagios convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::backends::soft::{KeyDecryption, KeyEncryption};
use crate::config::Config;
use crate::keys::keyref::KeyRef;
use crate::keys::keystore::Keystore;

mod ceremony;
mod custody;
mod demo;
mod digest;
mod hsm;
mod init;
mod key;
pub mod manual;
mod report;
mod batch;
mod check;
mod cds;
mod servers;
mod export;
mod signzone;
mod bench;
mod ksr;
mod parent;
mod policy;
mod emergency;
mod rollover;
mod skr;
mod verifyzone;
mod zsk;

/// Exit code: a check or verification failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: an error (bad input, I/O, token, usage).
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(name = "kskit", version, about = "Offline DNSSEC KSK signing toolkit: KSRs, SKRs, HSMs and smartcards, rollovers")]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "kskit.toml", env = "KSKIT_CONFIG")]
    pub config: PathBuf,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create DIR/kskit.toml (commented default policy) and DIR/keystore/.
    Init(init::InitArgs),
    /// Software keys in the keystore: generate, list, print DS and DNSKEY.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// ZSK side: pre-generate ZSKs for the policy's rollovers.
    #[command(subcommand)]
    Zsk(zsk::ZskCommand),
    /// Key Signing Requests: generate (ZSK side), verify and sign (KSK side).
    #[command(subcommand)]
    Ksr(ksr::KsrCommand),
    /// Policy: check kskit.toml for impossible timings.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Signed Key Responses: verify and import (ZSK side).
    #[command(subcommand)]
    Skr(skr::SkrCommand),
    /// Hand the imported SKR to the online signer: Knot or BIND SKR file, or zone-file records.
    Export(export::ExportArgs),
    /// Sign a zone file: pre-signed DNSKEY/CDS/CDNSKEY from the SKR, the rest with the active ZSKs, NSEC chain.
    SignZone(signzone::SignZoneArgs),
    /// Verify a whole signed zone file (any signer) as a validator would: signatures per algorithm, trust anchor or SKR bundle, NSEC/NSEC3 chain.
    VerifyZone(verifyzone::VerifyZoneArgs),
    /// Nagios/Icinga check of the imported SKR (days left, bundle in force, DNSKEY size); --live: what every server serves.
    Check(check::CheckArgs),
    /// The registry's view of the zone's CDS/CDNSKEY at every name server: accept (0) or reject (1, naming the rule).
    #[command(subcommand)]
    Cds(cds::CdsCommand),
    /// Run the whole offline KSK cycle on software keys in a temporary directory.
    Demo(demo::DemoArgs),
    /// SHA-256 of a file, in hex and as PGP words (read aloud in ceremonies).
    Digest(digest::DigestArgs),
    /// PKCS#11 HSMs and smartcards: list tokens and keys, generate or import keys.
    #[command(subcommand)]
    Hsm(hsm::HsmCommand),
    /// Signing and verification rates per algorithm (software or PKCS#11), and ceremony scenarios.
    Bench(bench::BenchArgs),
    /// Parent side of KSK rollovers: poll the parent's servers for the DS RRset.
    #[command(subcommand)]
    Parent(parent::ParentCommand),
    /// Key ceremonies: run a script with a hash-chained transcript, verify a transcript, print a script.
    #[command(subcommand)]
    Ceremony(ceremony::CeremonyCommand),
    /// Write the KSK's trust anchor: DS, DNSKEY or RFC 7958 XML.
    TrustAnchor(custody::TrustAnchorArgs),
    /// Rollovers: plan the policy's ZSK, KSK and algorithm rollovers; status; step the state machine (cron).
    #[command(subcommand)]
    Rollover(rollover::RolloverCommand),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    Completions(manual::CompletionsArgs),
    /// Internal: the PKCS#11 helper process of module isolation (speaks a
    /// framed protocol on stdin/stdout; started by kskit itself).
    #[command(hide = true, name = "pkcs11-helper")]
    Pkcs11Helper,
    /// Write the man pages (kskit.1, kskit-ksr-sign.1, ...) into a directory.
    #[command(hide = true)]
    Manpages(manual::ManpagesArgs),
    /// Print the version; --verbose: commit, rustc, Cargo.lock SHA-256 and features of this build.
    Version(manual::VersionArgs),
    /// Write a self-contained HTML page for people: timeline, SKR coverage, parent polls, keys, checks.
    Report(report::ReportArgs),
}

/// What every subcommand gets: global options and lazily loaded configuration.
pub struct Context {
    pub config_path: PathBuf,
    pub json: bool,
}

impl Context {
    /// Loads the configuration file named by `--config`.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.config_path).with_context(|| {
            format!("no usable configuration at {} (create one with `kskit init DIR --zone ZONE` or pass --config)", self.config_path.display())
        })
    }

    pub fn keystore_dir(&self) -> Result<PathBuf> {
        Ok(self.config()?.keystore_dir())
    }

    /// Opens the keystore of the configuration.
    pub fn keystore(&self) -> Result<Keystore> {
        let dir = self.keystore_dir()?;
        Keystore::open(&dir).with_context(|| format!("cannot open keystore {}", dir.display()))
    }

    /// Opens the keystore for a read-modify-write sequence: holds the
    /// keystore lock until the keystore is dropped (docs/keystore.md).
    pub fn keystore_locked(&self) -> Result<Keystore> {
        let dir = self.keystore_dir()?;
        Keystore::open_locked(&dir).with_context(|| format!("cannot open keystore {}", dir.display()))
    }
}

/// Opens every key in `refs` (keystore ids, `file:` paths or `pkcs11:` URIs)
/// before any signing starts: one passphrase prompt for all software keys,
/// one login per token. Returns each key with its identifier for SKR files.
pub fn open_keys(
    ks: Option<&Keystore>,
    refs: &[KeyRef],
    secret: &SecretArgs,
    hints: &crate::keys::open::OpenHints,
    what: &str,
) -> Result<Vec<(crate::keys::open::OpenedKey, String)>> {
    let mut decryption = secret.cached_decryption();
    refs.iter()
        .map(|r| crate::keys::open::open_key(r, ks, &mut decryption, hints).with_context(|| format!("cannot open {what} {r}")))
        .collect()
}

/// Where a software key's passphrase (or age identities/recipients) comes from.
#[derive(clap::Args, Debug, Default)]
pub struct SecretArgs {
    /// Read the key passphrase from this file (first line) instead of
    /// KSKIT_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Encrypt new keys to these age X25519 recipients (age1...) instead of a passphrase.
    #[arg(long = "recipient")]
    pub recipients: Vec<String>,
    /// Decrypt keys with the age X25519 identities in this file instead of a passphrase.
    #[arg(long)]
    pub identity: Option<PathBuf>,
}

impl SecretArgs {
    /// How to encrypt a new key file.
    pub fn encryption(&self) -> Result<KeyEncryption> {
        if !self.recipients.is_empty() {
            let r = self
                .recipients
                .iter()
                .map(|s| s.parse::<age::x25519::Recipient>().map_err(|e| anyhow::anyhow!("bad age recipient {s:?}: {e}")))
                .collect::<Result<Vec<_>>>()?;
            return Ok(KeyEncryption::Recipients(r));
        }
        Ok(KeyEncryption::Passphrase(crate::secrets::passphrase(self.passphrase_file.as_deref(), true)?))
    }

    /// How to decrypt key files.
    pub fn decryption(&self) -> Result<KeyDecryption> {
        if let Some(p) = &self.identity {
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(p).with_context(|| format!("cannot read identity file {}", p.display()))?);
            let ids = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.parse::<age::x25519::Identity>().map_err(|e| anyhow::anyhow!("bad age identity in {}: {e}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            if ids.is_empty() {
                anyhow::bail!("no age identity in {}", p.display());
            }
            return Ok(KeyDecryption::Identities(ids));
        }
        Ok(KeyDecryption::Passphrase(crate::secrets::passphrase(self.passphrase_file.as_deref(), false)?))
    }

    /// A decryption source for `open_key` that asks for the passphrase (or
    /// reads the identity file) only when a software key is opened, and at
    /// most once however many keys are opened.
    pub fn cached_decryption(&self) -> impl FnMut() -> std::result::Result<KeyDecryption, crate::keys::open::OpenError> + '_ {
        use crate::keys::open::OpenError;
        let mut cached: Option<crate::secrets::Secret> = None;
        move || {
            if self.identity.is_some() {
                return self.decryption().map_err(|e| OpenError::Other(format!("{e:#}")));
            }
            if cached.is_none() {
                cached = Some(crate::secrets::passphrase(self.passphrase_file.as_deref(), false).map_err(|e| OpenError::Other(e.to_string()))?);
            }
            let p = cached.clone().ok_or_else(|| OpenError::Other("no passphrase".into()))?;
            Ok(KeyDecryption::Passphrase(p))
        }
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // Log out of and close token sessions on Ctrl-C/SIGTERM too (a handler
    // may already be installed; that is fine).
    let _ = crate::backends::pkcs11::install_interrupt_cleanup();
    let ctx = Context { config_path: cli.config.clone(), json: cli.json };
    match run(cli.command, &ctx) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kskit: error: {e:#}");
            EXIT_ERROR
        }
    }
}

pub(crate) fn run(cmd: Command, ctx: &Context) -> Result<i32> {
    match cmd {
        Command::Digest(a) => digest::run(a, ctx),
        Command::Export(a) => export::run(a, ctx),
        Command::SignZone(a) => signzone::run(a, ctx),
        Command::Check(a) => check::run(a, ctx),
        Command::Cds(c) => cds::run(c, ctx),
        Command::VerifyZone(a) => verifyzone::run(a, ctx),
        Command::Hsm(c) => hsm::run(c, ctx),
        Command::Ceremony(c) => ceremony::run(c, ctx),
        Command::TrustAnchor(a) => custody::trust_anchor(a, ctx),
        Command::Bench(a) => bench::run(a, ctx),
        Command::Demo(a) => demo::run(a, ctx),
        Command::Init(a) => init::run(a, ctx),
        Command::Key(c) => key::run(c, ctx),
        Command::Zsk(c) => zsk::run(c, ctx),
        Command::Ksr(c) => ksr::run(c, ctx),
        Command::Skr(c) => skr::run(c, ctx),
        Command::Policy(c) => policy::run(c, ctx),
        Command::Parent(c) => parent::run(c, ctx),
        Command::Rollover(c) => rollover::run(c, ctx),
        Command::Completions(a) => manual::completions(a, ctx),
        Command::Manpages(a) => manual::manpages(a, ctx),
        Command::Version(a) => manual::version(a, ctx),
        Command::Report(a) => report::run(a, ctx),
        Command::Pkcs11Helper => Ok(crate::backends::pkcs11::helper::serve()),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Reads a whole input file with a clear error naming it.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads a KSR, SKR or trust-anchor file of at most
/// [`crate::formats::MAX_INPUT`] bytes. A larger file is refused from its
/// metadata length before anything is read, and the read itself stops one
/// byte past the limit (a pipe or device reports no length), so a hostile
/// 10 GB file never reaches memory. The error names the limit.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    read_limited(path, crate::formats::MAX_INPUT)
}

/// [`read_input`] with an explicit limit in bytes.
pub fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let ctx = || format!("cannot read {}", path.display());
    let too_large = |size: usize| crate::formats::FormatError::TooLarge { size, limit };
    let file = std::fs::File::open(path).with_context(ctx)?;
    let len = file.metadata().with_context(ctx)?.len();
    if len > limit as u64 {
        return Err(too_large(usize::try_from(len).unwrap_or(usize::MAX))).with_context(ctx);
    }
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit as u64 + 1).read_to_end(&mut data).with_context(ctx)?;
    if data.len() > limit {
        return Err(too_large(data.len())).with_context(|| format!("cannot read {} (more than {limit} bytes)", path.display()));
    }
    Ok(data)
}

/// Parses a time argument: RFC 3339, `now`, or `+90d`-style offsets from now.
pub fn parse_time_arg(s: &str, now: time::OffsetDateTime) -> Result<time::OffsetDateTime> {
    Ok(crate::timeutil::parse_time(s, now)?)
}

/// Writes an output file atomically (temp file, fsync, rename): on any error
/// no partial file is left.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    crate::keys::fsutil::write_atomic(path, data, 0o644).with_context(|| format!("cannot write {}", path.display()))
}

/// A progress line on stderr for long signing runs (a smartcard makes about
/// two signatures per second): done/total, rate and time left, redrawn at
/// most twice a second. Silent when `enabled` is false (JSON output).
pub struct Progress {
    enabled: bool,
    start: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let now = std::time::Instant::now();
        Progress { enabled, start: now, last: now }
    }

    /// Reports `done` of `total` signatures.
    pub fn tick(&mut self, done: usize, total: usize) {
        if !self.enabled || (self.last.elapsed().as_millis() < 500 && done < total) {
            return;
        }
        self.last = std::time::Instant::now();
        let rate = done as f64 / self.start.elapsed().as_secs_f64().max(0.001);
        let left = total.saturating_sub(done) as f64 / rate.max(0.001);
        eprint!("\rsigned {done}/{total}  {rate:.1}/s  {left:.0} s left   ");
        if done >= total {
            eprintln!();
        }
    }
}
