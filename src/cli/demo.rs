//! `kskit demo [--dir DIR]`: the whole offline KSK cycle on the embedded
//! default (software keys), each step printed with the command it stands for.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::{Command, Context, SecretArgs};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Work in this directory (must not exist or be empty); default: a temporary one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Zone to use.
    #[arg(long, default_value = "example.com.")]
    pub zone: String,
    /// KSR format: iana or text.
    #[arg(long, value_enum, default_value = "iana")]
    pub format: super::ksr::FormatArg,
}

pub fn run(a: DemoArgs, ctx: &Context) -> Result<i32> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d).with_context(|| format!("cannot read {}", d.display()))?.next().is_some() {
                bail!("{} is not empty; give a new or empty directory", d.display());
            }
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("kskit-demo-").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let zsk_dir = dir.join("zsk-side");
    let ksk_dir = dir.join("ksk-side");
    let pass = dir.join("passphrase");
    std::fs::create_dir_all(&dir)?;
    // A throwaway passphrase for the demo's keys, in a 0600 file.
    let mut bytes = [0u8; 18];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    crate::keys::fsutil::write_atomic(&pass, data_encoding::BASE64.encode(&bytes).as_bytes(), 0o600)?;
    let secret = || SecretArgs { passphrase_file: Some(pass.clone()), ..SecretArgs::default() };
    let ext = match a.format {
        super::ksr::FormatArg::Iana => "xml",
        super::ksr::FormatArg::Text => "txt",
    };
    let ksr = dir.join(format!("request.ksr.{ext}"));
    let skr = dir.join(format!("response.skr.{ext}"));
    let ta = dir.join("trust-anchor.ds");
    let zsk_ctx = Context { config_path: zsk_dir.join("kskit.toml"), json: false };
    let ksk_ctx = Context { config_path: ksk_dir.join("kskit.toml"), json: false };
    let _ = ctx;

    step("The ZSK operator sets up the online side", "kskit init zsk-side --zone ZONE");
    super::run(Command::Init(super::init::InitArgs { dir: zsk_dir.clone(), zone: a.zone.clone() }), &zsk_ctx)?;
    step("The KSK operator sets up the offline side", "kskit init ksk-side --zone ZONE");
    super::run(Command::Init(super::init::InitArgs { dir: ksk_dir.clone(), zone: a.zone.clone() }), &ksk_ctx)?;

    step("KSK side: generate the KSK (software key, age-encrypted)", "kskit key generate --role ksk --algorithm ECDSAP256SHA256");
    super::run(
        Command::Key(super::key::KeyCommand::Generate(super::key::GenerateArgs {
            role: crate::keys::keystore::Role::Ksk,
            algorithm: crate::dnssec::Algorithm::EcdsaP256Sha256,
            bits: None,
            zone: None,
            standby: false,
            secret: secret(),
        })),
        &ksk_ctx,
    )?;
    let ksk_id = ksk_ctx.keystore()?.keys().first().map(|k| k.id.clone()).context("the KSK was not stored")?;
    step("KSK side: publish the trust anchor (the DS for the parent)", "kskit key ds KSK > trust-anchor.ds");
    {
        let ks = ksk_ctx.keystore()?;
        let meta = ks.find(&ksk_id)?;
        let zone = crate::dnssec::parse_name(&meta.zone)?;
        let ds = meta.dnskey()?.ds(&zone, crate::dnssec::DigestType::Sha256);
        let line = crate::dnssec::presentation::format_record(&crate::dnssec::Record::new(zone, 86400, crate::dnssec::RData::Ds(ds)));
        println!("{line}");
        super::write_output(&ta, format!("{line}\n").as_bytes())?;
    }

    step("ZSK side: pre-generate the ZSKs the policy needs for 90 days", "kskit zsk pregenerate --until +90d");
    super::run(
        Command::Zsk(super::zsk::ZskCommand::Pregenerate(super::zsk::PregenerateArgs {
            until: "+90d".into(),
            from: None,
            zone: None,
            secret: secret(),
        })),
        &zsk_ctx,
    )?;
    step("ZSK side: write the KSR for the next 90 days", "kskit ksr generate --from now --until +90d -o request.ksr");
    super::run(
        Command::Ksr(super::ksr::KsrCommand::Generate(super::ksr::GenerateArgs {
            from: Some("now".into()),
            next: false,
            switch: None,
            until: "+90d".into(),
            format: a.format,
            output: ksr.clone(),
            zone: None,
            secret: secret(),
        })),
        &zsk_ctx,
    )?;

    let check = || super::ksr::CheckArgs { file: ksr.clone(), previous_skr: None, previous_skr_anchor: None, policy: None, now: None };
    step("KSK side (the ceremony): run every check on the KSR", "kskit ksr verify request.ksr");
    if super::run(Command::Ksr(super::ksr::KsrCommand::Verify(super::ksr::VerifyArgs { check: check() })), &ksk_ctx)? != 0 {
        bail!("the demo KSR failed its checks");
    }
    step("KSK side: sign the KSR (confirmation given with --yes)", "kskit ksr sign request.ksr --ksk KSK -o response.skr --yes");
    let code = super::run(
        Command::Ksr(super::ksr::KsrCommand::Sign(super::ksr::SignArgs {
            check: check(),
            ksks: vec![ksk_id],
            follow_plan: false,
            output: skr.clone(),
            signing: super::ksr::KskSigningArgs {
                ksk_algorithm: None,
                yes: true,
                cds: Some(super::ksr::CdsArg::Publish),
                cds_digest: vec![crate::dnssec::DigestType::Sha256],
                skr_layout: None,
                allow_final_try: false,
                token_timeout: None,
                isolate_module: false,
                secret: secret(),
            },
        })),
        &ksk_ctx,
    )?;
    if code != 0 {
        bail!("signing the demo KSR failed");
    }

    let verify = || super::skr::VerifyArgs { file: skr.clone(), ksr: Some(ksr.clone()), trust_anchor: ta.clone(), now: None };
    step("ZSK side: verify the SKR against the trust anchor and the KSR", "kskit skr verify response.skr --ksr request.ksr --trust-anchor trust-anchor.ds");
    if super::run(Command::Skr(super::skr::SkrCommand::Verify(verify())), &zsk_ctx)? != 0 {
        bail!("the demo SKR failed its checks");
    }
    step("ZSK side: import the SKR for the online signer", "kskit skr import response.skr --ksr request.ksr --trust-anchor trust-anchor.ds");
    if super::run(Command::Skr(super::skr::SkrCommand::Import(super::skr::ImportArgs { verify: verify(), without_ksr: false, external_zsks: false, hold: false })), &zsk_ctx)? != 0 {
        bail!("importing the demo SKR failed");
    }
    println!();
    println!("The offline KSK cycle completed.{}", match &a.dir {
        Some(d) => format!(" Files are in {}.", d.display()),
        None => " (temporary files removed; use --dir DIR to keep them)".into(),
    });
    Ok(0)
}

fn step(what: &str, cmd: &str) {
    println!();
    println!("== {what}");
    println!("   $ {cmd}");
}
