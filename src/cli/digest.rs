//! `kskit digest FILE [--words]`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{print_json, read_file, Context};
use crate::digest::FileDigest;

#[derive(Args, Debug)]
pub struct DigestArgs {
    /// The file to hash.
    pub file: PathBuf,
    /// Also print the digest as PGP words.
    #[arg(long)]
    pub words: bool,
}

pub fn run(a: DigestArgs, ctx: &Context) -> Result<i32> {
    let data = read_file(&a.file)?;
    let d = FileDigest::of(&data);
    if ctx.json {
        print_json(&serde_json::json!({
            "file": a.file.display().to_string(),
            "sha256": d.hex(),
            "pgp_words": d.words(),
        }))?;
    } else {
        println!("SHA-256 {}  {}", d.hex(), a.file.display());
        if a.words {
            println!("{}", d.words_grouped());
        }
    }
    Ok(0)
}
