//! `kskit completions SHELL`, `kskit manpages DIR` (hidden; used by the
//! Debian package build) and `kskit version [--verbose]`: what is generated
//! from the clap definitions themselves, so manuals and completions never
//! drift from the commands.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Args, CommandFactory as _};

use super::{print_json, Cli, Context};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManpagesArgs {
    /// Directory to write kskit.1 and one kskit-SUB-COMMAND.1 per subcommand into.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Also print the commit, rustc version, Cargo.lock SHA-256 and features the binary was built with.
    #[arg(long)]
    pub verbose: bool,
}

/// The clap command tree with global options propagated to every subcommand.
pub fn command() -> clap::Command {
    let mut c = Cli::command();
    c.build();
    c
}

pub fn completions(a: CompletionsArgs, _ctx: &Context) -> Result<i32> {
    let mut c = command();
    clap_complete::generate(a.shell, &mut c, "kskit", &mut std::io::stdout());
    Ok(0)
}

/// Every command of the tree (the root first) with its man page name
/// (`kskit`, `kskit-ksr`, `kskit-ksr-sign`, ...), without clap's `help`.
pub fn man_commands() -> Vec<(String, clap::Command)> {
    // Subcommand names contain '-' themselves (sign-zone): the usage line
    // (`bin`) is built from the command path, the page name by joining it.
    fn walk(prefix: &str, bin: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            let name = format!("{prefix}-{}", sub.get_name());
            let path_bin = format!("{bin} {}", sub.get_name());
            let page = sub.clone().name(name.clone()).display_name(name.clone()).bin_name(path_bin.clone());
            out.push((name.clone(), page));
            walk(&name, &path_bin, sub, out);
        }
    }
    let root = command();
    let mut out = vec![("kskit".to_string(), root.clone())];
    walk("kskit", "kskit", &root, &mut out);
    out
}

/// Writes one section-1 man page per command into `dir`; returns the file names.
pub fn write_manpages(dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut names = Vec::new();
    for (name, cmd) in man_commands() {
        let mut buf = Vec::new();
        let man = clap_mangen::Man::new(cmd).title(name.to_uppercase()).section("1").source(format!("kskit {}", env!("CARGO_PKG_VERSION"))).manual("kskit manual");
        man.render(&mut buf).with_context(|| format!("cannot render the man page of {name}"))?;
        let file = format!("{name}.1");
        let text = String::from_utf8_lossy(&buf);
        super::write_output(&dir.join(&file), allow_breaks(&text).as_bytes())?;
        names.push(file);
    }
    Ok(names)
}

/// Sets left adjustment and lets troff break long words (URIs, paths) after `/`, `?` and `;` with
/// the zero-width break `\:`, so that no line is too long to adjust at 80
/// columns (`man --warnings` would say "cannot adjust line").
fn allow_breaks(roff: &str) -> String {
    roff.lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                return line.to_string();
            }
            line.split(' ')
                .map(|w| if w.chars().count() > 30 { w.replace('/', "/\\:").replace('?', "?\\:").replace(';', ";\\:") } else { w.to_string() })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .flat_map(|l| {
            // Left-adjusted text: a line holding one long URI has no spaces
            // to stretch, and justification would warn.
            if l.starts_with(".TH ") {
                vec![l, ".ad l".to_string()]
            } else {
                vec![l]
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn manpages(a: ManpagesArgs, ctx: &Context) -> Result<i32> {
    let names = write_manpages(&a.dir)?;
    if ctx.json {
        print_json(&serde_json::json!({"dir": a.dir, "pages": names}))?;
    } else {
        println!("wrote {} man pages to {}", names.len(), a.dir.display());
    }
    Ok(0)
}

/// What build.rs recorded about this build (see build.rs).
#[derive(serde::Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
    pub rustc: &'static str,
    pub cargo_lock_sha256: &'static str,
    pub features: Vec<&'static str>,
    pub profile: &'static str,
    pub target: &'static str,
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("KSKIT_BUILD_COMMIT"),
        rustc: env!("KSKIT_BUILD_RUSTC"),
        cargo_lock_sha256: env!("KSKIT_BUILD_CARGO_LOCK_SHA256"),
        features: env!("KSKIT_BUILD_FEATURES").split(',').filter(|s| !s.is_empty()).collect(),
        profile: env!("KSKIT_BUILD_PROFILE"),
        target: env!("KSKIT_BUILD_TARGET"),
    }
}

pub fn version(a: VersionArgs, ctx: &Context) -> Result<i32> {
    let b = build_info();
    if ctx.json {
        print_json(&b)?;
        return Ok(0);
    }
    println!("kskit {}", b.version);
    if a.verbose {
        println!("commit:            {}", b.commit);
        println!("rustc:             {}", b.rustc);
        println!("Cargo.lock SHA-256: {}", b.cargo_lock_sha256);
        println!("features:          {}", if b.features.is_empty() { "(none)".to_string() } else { b.features.join(",") });
        println!("profile:           {}", b.profile);
        println!("target:            {}", b.target);
    }
    Ok(0)
}
