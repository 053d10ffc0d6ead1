//! `kskit hsm list|keygen|import`: keys on PKCS#11 tokens (docs/hsm.md,
//! docs/smartcard.md). Token keys are registered in the keystore with the
//! token URI (without PIN) as locator.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{print_json, Context, SecretArgs};
use crate::backends::pkcs11::{self, ListOptions, ModuleInventory, OpenOptions, TokenKey};
use crate::backends::Signer;
use crate::dnssec::name::to_presentation;
use crate::dnssec::{Algorithm, Name};
use crate::keys::keyref::{KeyRef, Pkcs11Uri, ENV_MODULE, ENV_PIN};
use crate::keys::keystore::{KeyMeta, KeyTiming, Keystore, Role};

#[derive(Subcommand, Debug)]
pub enum HsmCommand {
    /// List slots, tokens (exact labels), flags, mechanisms and keys of a PKCS#11 module.
    List(ListArgs),
    /// Generate a key pair on a token and register it in the keystore.
    Keygen(KeygenArgs),
    /// Put a software key (keystore id or file:PATH) on a token and register it.
    Import(ImportArgs),
    /// Per algorithm on a token: key generation time, the signing mechanism
    /// kskit chooses, signatures per second (benchmark keys kskit-bench-*,
    /// removed afterwards). JSON: docs/json.md.
    Bench(HsmBenchArgs),
}

#[derive(Args, Debug)]
pub struct HsmBenchArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// Algorithm, optionally with /BITS (RSASHA256/3072); repeat. Default:
    /// every algorithm and size the token can make (see `hsm list`).
    #[arg(long = "algorithm")]
    pub algorithms: Vec<String>,
    /// Seconds of signing per algorithm.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// PKCS#11 module (default: $KSKIT_PKCS11_MODULE).
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// Log in (PIN from $KSKIT_PIN or a prompt) to also list private
    /// objects. Logs in to one token only: the one --token/--serial names,
    /// or the module's only token; several candidates are refused.
    #[arg(long)]
    pub pin: bool,
    /// Only this token (a pkcs11: URI or a plain token label).
    #[arg(long)]
    pub token: Option<String>,
    /// Only the token with this serial number.
    #[arg(long)]
    pub serial: Option<String>,
    /// Try a login even if the token reports the PIN's final try.
    #[arg(long)]
    pub allow_final_try: bool,
    /// Seconds each token call may take (default 30).
    #[arg(long)]
    pub timeout: Option<u64>,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The token: a pkcs11: URI (RFC 7512), e.g.
    /// 'pkcs11:token=SmartCard-HSM%20(UserPIN)?module-path=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so'.
    #[arg(long)]
    pub token: String,
    /// Try a login even if the token reports the PIN's final try.
    #[arg(long)]
    pub allow_final_try: bool,
    /// Seconds each token call may take (default 30, or timeout= in the URI).
    #[arg(long)]
    pub timeout: Option<u64>,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519 (or the number).
    #[arg(long)]
    pub algorithm: Algorithm,
    /// RSA modulus size: 2048, 3072 or 4096.
    #[arg(long)]
    pub bits: Option<u32>,
    /// CKA_LABEL of the new key (must not exist on the token).
    #[arg(long)]
    pub label: String,
    #[arg(long, default_value = "ksk")]
    pub role: Role,
    /// Zone (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    /// Give the private key CKA_ALWAYS_AUTHENTICATE: the token then wants
    /// the PIN again before every signature (kskit asks once and repeats it).
    #[arg(long)]
    pub always_authenticate: bool,
    /// A standby KSK (policy `standby_ksk`; docs/rollover.md "Standby KSK").
    #[arg(long)]
    pub standby: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// The software key: keystore id, key tag or prefix, or file:PATH.
    pub key: String,
    /// CKA_LABEL on the token (default: the keystore id or the file name).
    #[arg(long)]
    pub label: Option<String>,
    /// Role for a file: key (default: from the key's flags).
    #[arg(long)]
    pub role: Option<Role>,
    /// Zone for a file: key (default: the first zone of kskit.toml).
    #[arg(long)]
    pub zone: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

pub fn run(cmd: HsmCommand, ctx: &Context) -> Result<i32> {
    // Log out of tokens on Ctrl-C; an already installed handler is fine.
    let _ = pkcs11::install_interrupt_cleanup();
    match cmd {
        HsmCommand::List(a) => list(a, ctx),
        HsmCommand::Keygen(a) => keygen(a, ctx),
        HsmCommand::Import(a) => import(a, ctx),
        HsmCommand::Bench(a) => bench(a, ctx),
    }
}

fn token_uri(s: &str) -> Result<Pkcs11Uri> {
    match s.parse::<KeyRef>()? {
        KeyRef::Pkcs11(u) => Ok(u),
        _ => bail!("--token wants a pkcs11: URI, e.g. 'pkcs11:token=KSK?module-path=/usr/lib/softhsm/libsofthsm2.so'"),
    }
}

fn open_options(t: &TokenArgs) -> OpenOptions {
    OpenOptions {
        allow_final_try: t.allow_final_try,
        timeout: t.timeout.map(std::time::Duration::from_secs),
        pin: None,
    }
}

fn list(a: ListArgs, ctx: &Context) -> Result<i32> {
    let filter = match &a.token {
        Some(t) if t.to_ascii_lowercase().starts_with("pkcs11:") => Some(token_uri(t)?),
        Some(t) => Some(Pkcs11Uri::for_token(t)),
        None => None,
    };
    let filter = match (filter, &a.serial) {
        (f, None) => f,
        (Some(mut f), Some(serial)) => {
            if f.serial.as_ref().is_some_and(|s| s != serial) {
                bail!("--serial {serial:?} contradicts serial= in --token");
            }
            f.serial = Some(serial.clone());
            Some(f)
        }
        (None, Some(serial)) => {
            let mut f = Pkcs11Uri::default();
            f.serial = Some(serial.clone());
            Some(f)
        }
    };
    let module = match (&a.module, filter.as_ref().and_then(|f| f.module_path.clone())) {
        (Some(m), _) => m.clone(),
        (None, Some(m)) => m,
        (None, None) => match std::env::var_os(ENV_MODULE) {
            Some(m) if !m.is_empty() => PathBuf::from(m),
            _ => bail!("no PKCS#11 module: pass --module PATH or set {ENV_MODULE}"),
        },
    };
    let pin = if a.pin {
        Some(match std::env::var(ENV_PIN) {
            Ok(p) => crate::secrets::Secret::new(p),
            Err(_) => crate::secrets::prompt_secret("User PIN: ")?,
        })
    } else {
        None
    };
    let opts = ListOptions { pin, filter, timeout: a.timeout.map(std::time::Duration::from_secs), allow_final_try: a.allow_final_try };
    let inv = pkcs11::list(&module, &opts)?;
    if ctx.json {
        print_json(&inv)?;
    } else {
        print_inventory(&inv, a.pin);
    }
    Ok(0)
}

fn yes(b: bool, s: &str) -> Option<&str> {
    b.then_some(s)
}

fn print_inventory(inv: &ModuleInventory, pin: bool) {
    println!(
        "module {} ({} {}, library {}, PKCS#11 {})",
        inv.module, inv.library_manufacturer, inv.library_description, inv.library_version, inv.cryptoki_version
    );
    for s in &inv.slots {
        let Some(t) = &s.token else {
            println!("\nslot {} ({:?}): no token", s.slot_id, s.description);
            continue;
        };
        // Quoted so that leading/trailing/embedded spaces are visible.
        println!("\nslot {}: token label {:?}", s.slot_id, t.label);
        println!("  serial {:?}, manufacturer {:?}, model {:?}", t.serial, t.manufacturer, t.model);
        let f = &t.flags;
        let flags: Vec<&str> = [
            yes(f.token_initialized, "initialised"),
            yes(!f.token_initialized, "NOT INITIALISED"),
            yes(f.login_required, "login required"),
            yes(f.pin_count_low, "PIN COUNT LOW"),
            yes(f.pin_final_try, "PIN FINAL TRY"),
            yes(f.pin_locked, "PIN LOCKED"),
            yes(f.pin_to_be_changed, "PIN to be changed"),
            yes(f.protected_authentication_path, "PIN pad"),
            yes(f.write_protected, "write-protected"),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!("  flags: {}", flags.join(", "));
        if f.token_initialized {
            println!("  uri: {}", t.uri);
        }
        println!("  signing mechanisms: {}", if t.sign_mechanisms.is_empty() { "none".into() } else { t.sign_mechanisms.join(" ") });
        println!("  key generation: {}", if t.keygen_mechanisms.is_empty() { "none".into() } else { t.keygen_mechanisms.join(" ") });
        println!("  DNSSEC algorithms:");
        for a in &t.algorithms {
            let sign = a.sign_mechanism.as_deref().unwrap_or("cannot sign");
            let gen = if a.keygen_bits.is_empty() {
                "cannot make keys".to_string()
            } else {
                format!("keygen {}", a.keygen_bits.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("/"))
            };
            let missing = if a.missing.is_empty() { String::new() } else { format!("; missing: {}", a.missing.join("; ")) };
            println!("    {:<16} {sign}, {gen}{missing}", a.algorithm);
        }
        if let Some(e) = &t.login_error {
            println!("  login: {e}");
        }
        if !f.token_initialized {
            continue;
        }
        let scope = if t.logged_in {
            "public and private objects"
        } else if pin {
            "public objects only (not logged in)"
        } else {
            "public objects only; --pin to see private keys"
        };
        println!("  keys ({scope}):");
        if t.keys.is_empty() {
            println!("    none");
        }
        for k in &t.keys {
            let size = match (&k.curve, k.bits) {
                (Some(c), _) => c.clone(),
                (None, Some(b)) => format!("{b} bits"),
                _ => "?".into(),
            };
            let tags: Vec<String> = k.ksk_key_tags.iter().map(|t| format!("{} {}", t.algorithm, t.key_tag)).collect();
            let private = match k.has_private {
                Some(true) => ", private key present",
                Some(false) => ", NO private key",
                None => "",
            };
            println!("    label {:?} id {} {} {}{private}", k.label, if k.id.is_empty() { "(none)" } else { &k.id }, k.key_type, size);
            if !tags.is_empty() {
                println!("      key tag as KSK: {}", tags.join(", "));
            }
            if let Some(n) = &k.note {
                println!("      note: {n}");
            }
            println!("      {}", k.uri);
        }
    }
}

/// A keystore id for a token key: `<zone>-<role>-<tag>-hsm<hex>`.
fn token_key_id(ks: &Keystore, zone: &Name, role: Role, tag: u16) -> Result<String> {
    Ok(ks.new_id(zone, role, tag, "hsm")?)
}

/// Registers a token key in the keystore with its URI (no PIN) as locator.
fn register(ks: &mut Keystore, key: &TokenKey, alg: Algorithm, zone: &Name, role: Role, standby: bool) -> Result<KeyMeta> {
    let dnskey = key.dnskey(alg, role.flags());
    let tag = dnskey.key_tag();
    let mut uri = key.uri.clone();
    uri.set_pin_value(None);
    let meta = KeyMeta {
        id: token_key_id(ks, zone, role, tag)?,
        zone: to_presentation(&zone.to_lowercase()),
        role,
        algorithm: alg,
        bits: key.kind.bits(),
        key_tag: tag,
        flags: role.flags(),
        public_key: data_encoding::BASE64.encode(&key.public_key),
        locator: uri.to_string(),
        created: crate::timeutil::whole_seconds(OffsetDateTime::now_utc()),
        timing: KeyTiming::default(),
        label: Some(key.label.clone()),
        standby,
        lost: None,
    };
    ks.add(meta.clone()).context("the key is on the token but could not be registered in the keystore")?;
    Ok(meta)
}

fn report(meta: &KeyMeta, key: &TokenKey, what: &str, ctx: &Context) -> Result<()> {
    if ctx.json {
        print_json(&serde_json::json!({
            "keystore_id": meta.id,
            "locator": meta.locator,
            "label": key.label,
            "id": key.id_hex(),
            "algorithm": meta.algorithm,
            "bits": meta.bits,
            "key_tag": meta.key_tag,
            "flags": meta.flags,
            "zone": meta.zone,
        }))?;
    } else {
        println!(
            "{what} {} {} key {:?} (id {}, key tag {}) for {}; keystore id {}",
            meta.algorithm,
            meta.role,
            key.label,
            key.id_hex(),
            meta.key_tag,
            meta.zone,
            meta.id
        );
        println!("locator: {}", meta.locator);
    }
    Ok(())
}

fn zone_of(z: &Option<String>, ctx: &Context) -> Result<Name> {
    Ok(match z {
        Some(z) => crate::dnssec::parse_name(z)?,
        None => ctx.config()?.zone()?,
    })
}

fn keygen(a: KeygenArgs, ctx: &Context) -> Result<i32> {
    let uri = token_uri(&a.token.token)?;
    // Everything that can fail without the token is checked before the key is made.
    let zone = zone_of(&a.zone, ctx)?;
    let mut ks = ctx.keystore()?;
    a.algorithm.check_new_bits(a.bits)?;
    if a.standby && a.role != Role::Ksk {
        bail!("--standby is for KSKs (--role ksk)");
    }
    // No two keys of a zone share a key tag (nor the tag of a KSK's RFC 5011
    // revoked form): a key pair whose tag is taken is destroyed on the token
    // and another made, as `key generate` does with software keys.
    let taken = crate::keys::zone_key_tags(ks.keys(), &zone);
    // The side's key-tag partition (kskit.toml ksk/zsk keytag_modulo,
    // tag_range): a key pair outside it is removed and another made too.
    let partition = if ctx.config_path.exists() { ctx.config()?.policy.tag_partition(a.role) } else { Default::default() };
    let flags = a.role.flags();
    let mut accept = |k: &pkcs11::TokenKey| -> bool {
        let d = k.dnskey(a.algorithm, flags);
        let ok = crate::backends::soft::tag_acceptable(&d, &taken, &partition);
        if !ok && !partition.contains(d.key_tag()) {
            eprintln!("kskit: the key made has key tag {}, outside this side's partition ({partition}): removing it and making another", d.key_tag());
        } else if !ok {
            eprintln!("kskit: the key made has key tag {}, which another key of the zone has: removing it and making another", d.key_tag());
        }
        ok
    };
    let key = pkcs11::keygen_accepting(&uri, a.algorithm, a.bits, &a.label, &open_options(&a.token), a.always_authenticate, partition.tries(crate::backends::soft::KEY_TAG_TRIES), &mut accept)?;
    let meta = register(&mut ks, &key, a.algorithm, &zone, a.role, a.standby)?;
    report(&meta, &key, "generated", ctx)?;
    Ok(0)
}

fn import(a: ImportArgs, ctx: &Context) -> Result<i32> {
    let uri = token_uri(&a.token.token)?;
    let mut ks = ctx.keystore()?;
    let (soft, zone, role, default_label) = match a.key.parse::<KeyRef>()? {
        KeyRef::Keystore(r) => {
            let meta = ks.find(&r)?.clone();
            if !meta.is_soft() {
                bail!("key {} is not a software key (it lives at {})", meta.id, meta.locator);
            }
            let soft = ks.load_soft_key(&meta, &a.secret.decryption()?)?;
            let zone = crate::dnssec::parse_name(&meta.zone)?;
            (soft, zone, a.role.unwrap_or(meta.role), meta.id.clone())
        }
        KeyRef::File(p) => {
            let zone = zone_of(&a.zone, ctx)?;
            let soft = crate::backends::soft::decrypt_key_file(&p, &a.secret.decryption()?)?;
            let role = a.role.unwrap_or(if soft.dnskey().is_sep() { Role::Ksk } else { Role::Zsk });
            let label = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
            (soft, zone, role, label)
        }
        KeyRef::Pkcs11(_) => bail!("{} is already a token key; import takes a keystore id or file:PATH", a.key),
    };
    let label = a.label.clone().unwrap_or(default_label);
    let key = pkcs11::import_key(&uri, &soft, &label, &open_options(&a.token))?;
    let meta = register(&mut ks, &key, soft.algorithm(), &zone, role, false)?;
    report(&meta, &key, "imported", ctx)?;
    Ok(0)
}

/// One measured case of `hsm bench` (docs/json.md).
#[derive(serde::Serialize)]
struct HsmBenchResult {
    algorithm: String,
    bits: u32,
    mechanism: Option<String>,
    keygen_seconds: Option<f64>,
    signatures: u64,
    seconds: f64,
    signatures_per_sec: f64,
    error: Option<String>,
}

fn bench(a: HsmBenchArgs, ctx: &Context) -> Result<i32> {
    use crate::backends::pkcs11::Pkcs11Signer;
    use crate::bench::{parse_cases, remove_token_objects, token_label, BenchCase};
    if !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        bail!("--seconds must be above 0 and at most 3600, got {}", a.seconds);
    }
    let uri = token_uri(&a.token.token)?.token_only();
    let pin = uri.resolve_pin()?;
    let opts = || OpenOptions { pin: Some(pin.clone()), ..open_options(&a.token) };
    let module = uri.module()?;
    // The token's facts: its label and what it can make (as hsm list shows them).
    let inv = pkcs11::list(&module, &ListOptions { filter: Some(uri.clone()), timeout: a.token.timeout.map(std::time::Duration::from_secs), ..ListOptions::default() })?;
    let token = inv
        .slots
        .iter()
        .filter_map(|s| s.token.as_ref())
        .find(|t| t.flags.token_initialized)
        .context("the token is not in the module's list")?
        .clone();
    let mut cases: Vec<BenchCase> = Vec::new();
    if a.algorithms.is_empty() {
        for s in &token.algorithms {
            let alg: Algorithm = s.algorithm.parse()?;
            if s.sign_mechanism.is_some() {
                cases.extend(s.keygen_bits.iter().map(|&bits| BenchCase { algorithm: alg, bits }));
            }
        }
    } else {
        for s in &a.algorithms {
            cases.extend(parse_cases(s)?);
        }
    }
    // What the token lacks (as hsm list says it), reported and never tried:
    // an operator's published figures then say what the token cannot do.
    let not_offered: Vec<serde_json::Value> = token
        .algorithms
        .iter()
        .filter(|s| !s.missing.is_empty())
        .map(|s| serde_json::json!({ "algorithm": s.algorithm, "missing": s.missing }))
        .collect();
    if !ctx.json {
        for s in token.algorithms.iter().filter(|s| !s.missing.is_empty()) {
            println!("{:<16}        not offered by the token (not tried): {}", s.algorithm, s.missing.join("; "));
        }
    }
    let mut results = Vec::new();
    let data = vec![0x5au8; 512];
    for case in cases {
        let label = token_label(case);
        let start = std::time::Instant::now();
        let made = pkcs11::keygen(&uri, case.algorithm, Some(case.bits), &label, &opts());
        let keygen_seconds = start.elapsed().as_secs_f64();
        let mut r = HsmBenchResult {
            algorithm: case.algorithm.mnemonic().to_string(),
            bits: case.bits,
            mechanism: None,
            keygen_seconds: None,
            signatures: 0,
            seconds: 0.0,
            signatures_per_sec: 0.0,
            error: None,
        };
        match made {
            Err(e) => r.error = Some(e.to_string()),
            Ok(key) => {
                r.keygen_seconds = Some(keygen_seconds);
                let measured = (|| -> Result<()> {
                    let signer = Pkcs11Signer::open(&key.uri, case.algorithm, crate::dnssec::FLAG_ZONE | crate::dnssec::FLAG_SEP, &opts())?;
                    r.mechanism = Some(signer.mechanism().name().to_string());
                    let start = std::time::Instant::now();
                    while start.elapsed().as_secs_f64() < a.seconds {
                        signer.sign(&data)?;
                        r.signatures += 1;
                    }
                    r.seconds = start.elapsed().as_secs_f64();
                    r.signatures_per_sec = r.signatures as f64 / r.seconds;
                    Ok(())
                })();
                if let Err(e) = measured {
                    r.error = Some(format!("{e:#}"));
                }
                if let Err(e) = remove_token_objects(&uri, &pin, &label) {
                    eprintln!("kskit: warning: {e}; remove the key labelled {label:?} by hand");
                }
            }
        }
        if !ctx.json {
            match &r.error {
                Some(e) => println!("{:<16} {:>5}  refused: {e}", r.algorithm, r.bits),
                None => println!(
                    "{:<16} {:>5}  {:<22} keygen {:>8.3} s  {:>10.1} signatures/s",
                    r.algorithm,
                    r.bits,
                    r.mechanism.as_deref().unwrap_or("-"),
                    r.keygen_seconds.unwrap_or(0.0),
                    r.signatures_per_sec
                ),
            }
        }
        results.push(r);
    }
    if ctx.json {
        print_json(&serde_json::json!({
            "module": inv.module,
            "library_description": inv.library_description,
            "library_version": inv.library_version,
            "token": token.label,
            "manufacturer": token.manufacturer,
            "model": token.model,
            "seconds_per_case": a.seconds,
            "not_offered": not_offered,
            "results": results,
        }))?;
    }
    Ok(if results.iter().any(|r| r.error.is_some()) { 1 } else { 0 })
}
