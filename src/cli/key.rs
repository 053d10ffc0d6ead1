//! `kskit key generate|list|ds|dnskey`: software keys in the keystore.

use anyhow::Result;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{print_json, Context, SecretArgs};
use crate::backends::soft;
use crate::dnssec::presentation::format_record;
use crate::dnssec::{Algorithm, DigestType, RData, Record};
use crate::keys::keystore::{KeyMeta, Role};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a software key pair, age-encrypted in the keystore.
    Generate(GenerateArgs),
    /// List the keystore's keys.
    List,
    /// Print a key's DS record(s): presentation format, JSON, EPP (RFC 5910) or registrar form fields.
    Ds(DsArgs),
    /// Print a key's DNSKEY record in presentation format.
    Dnskey(KeyArg),
    /// Back up a software key, age-encrypted to custodians' recipients (any one can restore).
    Backup(super::custody::BackupArgs),
    /// Restore a key from a backup file into the keystore (refuses a duplicate).
    Restore(super::custody::RestoreArgs),
    /// Split a software key M-of-N (Shamir) into share files, one per custodian.
    Split(super::custody::SplitArgs),
    /// Restore a key from any M share files.
    Combine(super::custody::CombineArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[arg(long)]
    pub role: Role,
    /// RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519 (or the number).
    #[arg(long)]
    pub algorithm: Algorithm,
    /// RSA modulus size: 2048, 3072 or 4096.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// A standby KSK (policy `standby_ksk`; docs/rollover.md "Standby KSK").
    #[arg(long)]
    pub standby: bool,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct KeyArg {
    /// Keystore id, key tag or unique id prefix.
    pub key: String,
}

#[derive(Args, Debug)]
pub struct DsArgs {
    pub key: String,
    /// Digest type(s): sha256 (default), sha384.
    #[arg(long, value_delimiter = ',', default_value = "sha256")]
    pub digest: Vec<DigestType>,
    /// Output form: presentation (default; `--json` means json), json, epp
    /// (RFC 5910 dsData), epp-key (RFC 5910 keyData), fields (registrar web forms).
    #[arg(long, value_enum)]
    pub format: Option<crate::registrar::DsFormat>,
}

pub fn run(cmd: KeyCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        KeyCommand::Generate(a) => generate(a, ctx),
        KeyCommand::List => list(ctx),
        KeyCommand::Ds(a) => ds(a, ctx),
        KeyCommand::Dnskey(a) => dnskey(a, ctx),
        KeyCommand::Backup(a) => super::custody::backup(a, ctx),
        KeyCommand::Restore(a) => super::custody::restore(a, ctx),
        KeyCommand::Split(a) => super::custody::split(a, ctx),
        KeyCommand::Combine(a) => super::custody::combine(a, ctx),
    }
}

fn generate(a: GenerateArgs, ctx: &Context) -> Result<i32> {
    let cfg = ctx.config()?;
    let zone = match &a.zone {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => cfg.zone()?,
    };
    if a.standby && a.role != Role::Ksk {
        anyhow::bail!("--standby is for KSKs (--role ksk)");
    }
    let mut ks = ctx.keystore()?;
    // Ask for the passphrase before the (possibly slow) key generation.
    let enc = a.secret.encryption()?;
    let key = soft::generate_distinct(a.algorithm, a.bits, a.role.flags(), &crate::keys::zone_key_tags(ks.keys(), &zone), &cfg.policy.tag_partition(a.role))?;
    let mut meta = ks.store_soft_key(&key, &zone, a.role, &enc, crate::timeutil::whole_seconds(OffsetDateTime::now_utc()))?;
    if a.standby {
        meta.standby = true;
        ks.update(meta.clone())?;
    }
    if ctx.json {
        print_json(&meta)?;
    } else {
        println!("generated {} {} key {} (key tag {}) for {}{}", meta.algorithm, meta.role, meta.id, meta.key_tag, meta.zone, if meta.standby { " (standby)" } else { "" });
        println!("{}", format_record(&dnskey_record(&meta)?));
    }
    Ok(0)
}

fn list(ctx: &Context) -> Result<i32> {
    let ks = ctx.keystore()?;
    if ctx.json {
        print_json(&ks.keys())?;
        return Ok(0);
    }
    if ks.keys().is_empty() {
        println!("no keys in {}", ks.dir().display());
        return Ok(0);
    }
    println!("{:<32} {:<5} {:<16} {:>5} {:>6}  {:<20} locator", "id", "role", "algorithm", "bits", "tag", "zone");
    for k in ks.keys() {
        println!(
            "{:<32} {:<5} {:<16} {:>5} {:>6}  {:<20} {}",
            k.id,
            k.role.to_string(),
            k.algorithm.to_string(),
            k.bits,
            k.key_tag,
            k.zone,
            k.locator
        );
    }
    Ok(0)
}

fn dnskey_record(meta: &KeyMeta) -> Result<Record> {
    let zone = crate::dnssec::parse_name(&meta.zone)?;
    Ok(Record::new(zone, 3600, RData::Dnskey(meta.dnskey()?)))
}

fn ds(a: DsArgs, ctx: &Context) -> Result<i32> {
    use crate::registrar::{render, report, DsFormat};
    let ks = ctx.keystore()?;
    let meta = ks.find(&a.key)?;
    let zone = crate::dnssec::parse_name(&meta.zone)?;
    let key = meta.dnskey()?;
    let format = a.format.unwrap_or(if ctx.json { DsFormat::Json } else { DsFormat::Presentation });
    print!("{}", render(&report(&meta.id, &zone, &key, &a.digest, 3600), format)?);
    Ok(0)
}

fn dnskey(a: KeyArg, ctx: &Context) -> Result<i32> {
    let ks = ctx.keystore()?;
    let meta = ks.find(&a.key)?;
    let line = format_record(&dnskey_record(meta)?);
    if ctx.json {
        print_json(&serde_json::json!({"id": meta.id, "key_tag": meta.key_tag, "dnskey": line}))?;
    } else {
        println!("{line}");
    }
    Ok(0)
}
