//! `kskit init DIR --zone ZONE`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Context;
use crate::config::Config;
use crate::keys::fsutil::write_atomic;
use crate::keys::keystore::Keystore;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory to create (or an existing empty one).
    pub dir: PathBuf,
    /// The zone to sign, e.g. example.com.
    #[arg(long)]
    pub zone: String,
}

pub fn run(a: InitArgs, ctx: &Context) -> Result<i32> {
    let zone = crate::dnssec::parse_name(&a.zone)?;
    let zone_text = crate::dnssec::name::to_presentation(&zone.to_lowercase());
    let cfg_path = a.dir.join("kskit.toml");
    if cfg_path.exists() {
        bail!("{} already exists; refusing to overwrite it", cfg_path.display());
    }
    std::fs::create_dir_all(&a.dir).with_context(|| format!("cannot create {}", a.dir.display()))?;
    let text = Config::template(&zone_text);
    // Parse what we are about to write, so a template bug can never leave a broken file.
    Config::parse(&text, &cfg_path)?;
    let ks_dir = a.dir.join("keystore");
    Keystore::init(&ks_dir).with_context(|| format!("cannot create keystore {}", ks_dir.display()))?;
    write_atomic(&cfg_path, text.as_bytes(), 0o644).with_context(|| format!("cannot write {}", cfg_path.display()))?;
    if ctx.json {
        super::print_json(&serde_json::json!({"config": cfg_path, "keystore": ks_dir, "zone": zone_text}))?;
    } else {
        println!("created {} for zone {zone_text}", cfg_path.display());
        println!("created keystore {}", ks_dir.display());
    }
    Ok(0)
}
