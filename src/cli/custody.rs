//! `kskit key backup|restore|split|combine` and `kskit trust-anchor`
//! (docs/ceremony.md, "Custody").

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::{print_json, write_output, Context, SecretArgs};
use crate::backends::soft::KeyDecryption;
use crate::custody;
use crate::digest::FileDigest;
use crate::dnssec::presentation::format_record;
use crate::dnssec::{DigestType, RData, Record};
use crate::keys::fsutil::{self, MODE_SECRET};
use crate::keys::keystore::{KeyMeta, Role};

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The software key: keystore id, key tag or unique id prefix.
    pub key: String,
    /// Output backup file (age, armored; written atomically, mode 0600).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The key's passphrase (--passphrase-file, KSKIT_PASSPHRASE) or --identity
    /// opens it; each --recipient (age1..., one per custodian) can restore the backup.
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file.
    pub file: PathBuf,
    /// The new keystore copy is encrypted to a passphrase (--passphrase-file,
    /// KSKIT_PASSPHRASE or a prompt) or to --recipient; --identity opens the backup.
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct SplitArgs {
    /// The software key: keystore id, key tag or unique id prefix.
    pub key: String,
    /// How many shares restore the key (M).
    #[arg(long)]
    pub threshold: u8,
    /// How many shares to write (N).
    #[arg(long)]
    pub shares: u8,
    /// Directory for the share files (created; share-1-of-N.age or .json).
    #[arg(short, long)]
    pub output: PathBuf,
    /// --recipient given N times encrypts share i to the i-th custodian; the
    /// key is opened with its passphrase or --identity.
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct CombineArgs {
    /// Share files (any M of the N).
    #[arg(required = true)]
    pub shares: Vec<PathBuf>,
    /// Write the restored key as an age-encrypted key file (usable as file:PATH).
    #[arg(short, long, conflicts_with = "keystore")]
    pub output: Option<PathBuf>,
    /// Add the restored key to the keystore instead (refusing a duplicate).
    #[arg(long)]
    pub keystore: bool,
    /// age identity files that open encrypted shares (repeat, one per custodian).
    #[arg(long = "identity")]
    pub identities: Vec<PathBuf>,
    /// Encrypt the restored key to these age recipients instead of a passphrase.
    #[arg(long = "recipient")]
    pub recipients: Vec<String>,
    /// Read the new passphrase from this file instead of KSKIT_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaFormat {
    /// DS record (SHA-256) in presentation format.
    #[value(alias = "presentation")]
    Ds,
    /// DNSKEY record in presentation format.
    Dnskey,
    /// RFC 7958 / RFC 9718 XML trust anchor, as IANA's root-anchors.xml.
    Xml,
    /// JSON: DS (key tag, algorithm number and mnemonic, digest type, digest) and DNSKEY fields.
    Json,
    /// RFC 5910 secDNS-1.1 dsData for EPP.
    Epp,
    /// RFC 5910 secDNS-1.1 keyData for EPP (registries that take keys).
    EppKey,
    /// One field per line, as registrar web forms ask: names and numbers both.
    Fields,
}

#[derive(Args, Debug)]
pub struct TrustAnchorArgs {
    /// The KSK (keystore id, key tag or prefix); default: the keystore's only KSK.
    #[arg(long)]
    pub key: Option<String>,
    /// Output form (default: ds; with --json: json).
    #[arg(long, value_enum)]
    pub format: Option<TaFormat>,
    /// DS digest type for the ds, json, epp and fields formats: sha256 (default) or sha384.
    #[arg(long, default_value = "sha256")]
    pub digest: DigestType,
    /// Output file (written atomically); default: stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// validFrom of the XML KeyDigest (RFC 3339); default: the key's active time, else its creation.
    #[arg(long)]
    pub valid_from: Option<String>,
    /// The XML `source` attribute: where the file is published.
    #[arg(long, default_value = "kskit")]
    pub source: String,
}

fn soft_meta<'a>(ks: &'a crate::keys::keystore::Keystore, key: &str) -> Result<&'a KeyMeta> {
    let meta = ks.find(key)?;
    if !meta.is_soft() {
        bail!("key {} lives on a token ({}): only software keys can be backed up or split; token keys are backed up with the token vendor's tools", meta.id, meta.locator);
    }
    Ok(meta)
}

fn recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    list.iter()
        .map(|s| {
            s.trim()
                .parse::<age::x25519::Recipient>()
                .map_err(|e| anyhow::anyhow!("bad age recipient {s:?}: {e}"))
        })
        .collect()
}

fn identities(paths: &[PathBuf]) -> Result<Vec<age::x25519::Identity>> {
    let mut out = Vec::new();
    for p in paths {
        let s = SecretArgs {
            identity: Some(p.clone()),
            ..SecretArgs::default()
        };
        match s.decryption()? {
            KeyDecryption::Identities(ids) => out.extend(ids),
            KeyDecryption::Passphrase(_) => bail!("{} holds no age identity", p.display()),
        }
    }
    Ok(out)
}

fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    fsutil::write_atomic(path, data, MODE_SECRET)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn backup(a: BackupArgs, ctx: &Context) -> Result<i32> {
    let rs = recipients(&a.secret.recipients)?;
    if rs.is_empty() {
        bail!("give each custodian's age recipient with --recipient age1... (any one of them can restore)");
    }
    let ks = ctx.keystore()?;
    let meta = soft_meta(&ks, &a.key)?;
    let dec = a.secret.decryption()?;
    let key = ks.load_soft_key(meta, &dec)?;
    let data = custody::backup(meta, &key, &rs)?;
    // Check before handing over: one custodian at least can... we cannot
    // decrypt without an identity, but the payload must parse back.
    write_secret(&a.output, &data)?;
    let d = FileDigest::of(&data);
    if ctx.json {
        print_json(
            &serde_json::json!({"file": a.output, "key": meta.id, "key_tag": meta.key_tag, "recipients": rs.len(), "sha256": d.hex(), "pgp_words": d.words()}),
        )?;
    } else {
        println!(
            "wrote backup {} of key {} (key tag {}) for {} custodian(s)",
            a.output.display(),
            meta.id,
            meta.key_tag,
            rs.len()
        );
        println!("SHA-256 {}", d.hex());
        println!("{}", d.words_grouped());
    }
    Ok(0)
}

pub fn restore(a: RestoreArgs, ctx: &Context) -> Result<i32> {
    let Some(id_file) = &a.secret.identity else {
        bail!("give a custodian's age identity file with --identity FILE to open the backup");
    };
    let ids = identities(std::slice::from_ref(id_file))?;
    let data = super::read_file(&a.file)?;
    let (meta, key) = custody::open_backup(&data, &ids)
        .with_context(|| format!("cannot open backup {}", a.file.display()))?;
    let mut ks = ctx.keystore()?;
    let enc_args = SecretArgs {
        passphrase_file: a.secret.passphrase_file.clone(),
        recipients: a.secret.recipients.clone(),
        identity: None,
    };
    let enc = enc_args.encryption()?;
    let m = custody::restore_into(&mut ks, &meta, &key, &enc)?;
    report_restored(&m, ctx)
}

fn report_restored(m: &KeyMeta, ctx: &Context) -> Result<i32> {
    if ctx.json {
        print_json(m)?;
    } else {
        println!(
            "restored {} key {} (key tag {}) for {} into the keystore",
            m.role, m.id, m.key_tag, m.zone
        );
        println!("{}", format_record(&dnskey_record(m)?));
    }
    Ok(0)
}

pub fn split(a: SplitArgs, ctx: &Context) -> Result<i32> {
    let rs = recipients(&a.secret.recipients)?;
    if !rs.is_empty() && rs.len() != a.shares as usize {
        bail!(
            "--recipient was given {} times for {} shares: give one recipient per share (or none)",
            rs.len(),
            a.shares
        );
    }
    let ks = ctx.keystore()?;
    let meta = soft_meta(&ks, &a.key)?;
    let dec = a.secret.decryption()?;
    let key = ks.load_soft_key(meta, &dec)?;
    let shares = custody::split(meta, &key, a.threshold, a.shares)?;
    // Check the split before writing anything: the first M shares restore the key.
    let first: Vec<_> = shares.iter().take(a.threshold as usize).cloned().collect();
    let (_, back) =
        custody::combine(&first).context("internal error: the shares do not restore the key")?;
    if back.pkcs8() != key.pkcs8() {
        bail!("internal error: the shares restore another key; nothing written");
    }
    fsutil::create_dir_with_mode(&a.output, 0o700)
        .with_context(|| format!("cannot create {}", a.output.display()))?;
    if rs.is_empty() {
        eprintln!("WARNING: the shares are written UNENCRYPTED (no --recipient). Anyone holding {} of them holds the key.", a.threshold);
        eprintln!(
            "WARNING: hand each share to its custodian on its own medium now and delete {}.",
            a.output.display()
        );
    }
    let mut written = Vec::new();
    for (i, s) in shares.iter().enumerate() {
        let json = zeroize::Zeroizing::new(serde_json::to_vec_pretty(s)?);
        let (name, data) = match rs.get(i) {
            Some(r) => (
                format!("share-{}-of-{}.age", s.index, s.shares),
                custody::encrypt_to(&json, std::slice::from_ref(r))?,
            ),
            None => (
                format!("share-{}-of-{}.json", s.index, s.shares),
                json.to_vec(),
            ),
        };
        let path = a.output.join(name);
        if path.exists() {
            bail!("{} already exists: use a new directory", path.display());
        }
        write_secret(&path, &data)?;
        written.push((path, FileDigest::of(&data)));
    }
    if ctx.json {
        let files: Vec<_> = written
            .iter()
            .map(|(p, d)| serde_json::json!({"file": p, "sha256": d.hex()}))
            .collect();
        print_json(
            &serde_json::json!({"key": meta.id, "threshold": a.threshold, "shares": a.shares, "encrypted": !rs.is_empty(), "files": files}),
        )?;
    } else {
        println!(
            "split key {} (key tag {}) {}-of-{}:",
            meta.id, meta.key_tag, a.threshold, a.shares
        );
        for (p, d) in &written {
            println!("  {}  SHA-256 {}", p.display(), d.hex());
        }
    }
    Ok(0)
}

pub fn combine(a: CombineArgs, ctx: &Context) -> Result<i32> {
    if a.output.is_none() && !a.keystore {
        bail!("say where the restored key goes: -o FILE (an encrypted key file) or --keystore");
    }
    let ids = identities(&a.identities)?;
    let mut shares = Vec::new();
    for p in &a.shares {
        let data = super::read_file(p)?;
        let what = p.display().to_string();
        let plain = if custody::is_age(&data) {
            if ids.is_empty() {
                bail!("{what} is encrypted: give its custodian's identity with --identity FILE");
            }
            custody::decrypt_with(&data, &ids, &what)?
        } else {
            zeroize::Zeroizing::new(data)
        };
        shares.push(custody::parse_share(&plain, &what)?);
    }
    let (meta, key) = custody::combine(&shares)?;
    let enc = SecretArgs {
        passphrase_file: a.passphrase_file.clone(),
        recipients: a.recipients.clone(),
        identity: None,
    }
    .encryption()?;
    if a.keystore {
        let mut ks = ctx.keystore()?;
        let m = custody::restore_into(&mut ks, &meta, &key, &enc)?;
        return report_restored(&m, ctx);
    }
    let out = a.output.as_deref().context("no output")?;
    let data = crate::backends::soft::encrypt_key(&key, &enc)?;
    write_secret(out, &data)?;
    if ctx.json {
        print_json(&serde_json::json!({"file": out, "key": meta.id, "key_tag": meta.key_tag}))?;
    } else {
        println!(
            "restored key {} (key tag {}, {}) to {} (use it as file:{})",
            meta.id,
            meta.key_tag,
            meta.zone,
            out.display(),
            out.display()
        );
    }
    Ok(0)
}

fn dnskey_record(meta: &KeyMeta) -> Result<Record> {
    let zone = crate::dnssec::parse_name(&meta.zone)?;
    Ok(Record::new(zone, 3600, RData::Dnskey(meta.dnskey()?)))
}

/// The RFC 7958 XML trust anchor (with RFC 9718's PublicKey and Flags).
fn trust_anchor_xml(
    meta: &KeyMeta,
    valid_from: time::OffsetDateTime,
    source: &str,
) -> Result<String> {
    use crate::markup::escape;
    let zone = crate::dnssec::parse_name(&meta.zone)?;
    let key = meta.dnskey()?;
    let ds = key.ds(&zone, DigestType::Sha256);
    let digest = data_encoding::HEXUPPER.encode(&ds.digest);
    let vf = valid_from.to_offset(time::UtcOffset::UTC);
    let vf = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        vf.year(),
        u8::from(vf.month()),
        vf.day(),
        vf.hour(),
        vf.minute(),
        vf.second()
    );
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TrustAnchor id=\"{}\" source=\"{}\">\n<Zone>{}</Zone>\n<KeyDigest id=\"{}\" validFrom=\"{}\">\n<KeyTag>{}</KeyTag>\n<Algorithm>{}</Algorithm>\n<DigestType>2</DigestType>\n<Digest>{}</Digest>\n<PublicKey>{}</PublicKey>\n<Flags>{}</Flags>\n</KeyDigest>\n</TrustAnchor>\n",
        uuid::Uuid::new_v4().to_string().to_uppercase(),
        escape(source),
        escape(&meta.zone),
        escape(&format!("K{}", meta.key_tag)),
        vf,
        meta.key_tag,
        meta.algorithm.number(),
        digest,
        data_encoding::BASE64.encode(&key.public_key),
        key.flags
    ))
}

pub fn trust_anchor(a: TrustAnchorArgs, ctx: &Context) -> Result<i32> {
    let ks = ctx.keystore()?;
    let meta = match &a.key {
        Some(k) => ks.find(k)?,
        None => {
            let ksks: Vec<&KeyMeta> = ks.keys().iter().filter(|k| k.role != Role::Zsk).collect();
            match ksks.as_slice() {
                [one] => *one,
                [] => bail!("no KSK in the keystore: generate one or pass --key"),
                many => bail!(
                    "several KSKs in the keystore ({}): pass --key",
                    many.iter()
                        .map(|k| k.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let zone = crate::dnssec::parse_name(&meta.zone)?;
    let format = a.format.unwrap_or(if ctx.json { TaFormat::Json } else { TaFormat::Ds });
    let text = match format {
        TaFormat::Ds => {
            let ds = meta.dnskey()?.ds(&zone, a.digest);
            format!(
                "{}\n",
                format_record(&Record::new(zone, 3600, RData::Ds(ds)))
            )
        }
        TaFormat::Dnskey => format!("{}\n", format_record(&dnskey_record(meta)?)),
        TaFormat::Json | TaFormat::Epp | TaFormat::EppKey | TaFormat::Fields => {
            use crate::registrar::DsFormat;
            let f = match format {
                TaFormat::Json => DsFormat::Json,
                TaFormat::Epp => DsFormat::Epp,
                TaFormat::EppKey => DsFormat::EppKey,
                _ => DsFormat::Fields,
            };
            let r = crate::registrar::report(&meta.id, &zone, &meta.dnskey()?, &[a.digest], 3600);
            crate::registrar::render(&r, f)?
        }
        TaFormat::Xml => {
            let vf = match &a.valid_from {
                Some(v) => super::parse_time_arg(v, time::OffsetDateTime::now_utc())?,
                None => meta.timing.active.unwrap_or(meta.created),
            };
            trust_anchor_xml(meta, vf, &a.source)?
        }
    };
    match &a.output {
        Some(p) => {
            write_output(p, text.as_bytes())?;
            let d = FileDigest::of(text.as_bytes());
            println!(
                "wrote {} (key {} tag {})\nSHA-256 {}\n{}",
                p.display(),
                meta.id,
                meta.key_tag,
                d.hex(),
                d.words_grouped()
            );
        }
        None => print!("{text}"),
    }
    Ok(0)
}
