//! `kskit ceremony run|verify-transcript|print` (docs/ceremony.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use super::{print_json, write_output, Context};
use crate::ceremony::script::{self, Resolved};
use crate::ceremony::{self as cer, CeremonyError, Console, Outcome, RunOptions};
use crate::digest::FileDigest;

#[derive(Subcommand, Debug)]
pub enum CeremonyCommand {
    /// Run a ceremony script step by step, writing a hash-chained transcript.
    Run(RunArgs),
    /// Verify a transcript: hash chain, order, closing entry (and the final hash written down).
    VerifyTranscript(VerifyArgs),
    /// Render a script as a printable HTML document (steps, initials, signature lines).
    Print(PrintArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The ceremony script (TOML).
    pub script: PathBuf,
    /// A variable value: NAME=VALUE (repeat).
    #[arg(long = "var")]
    pub vars: Vec<String>,
    /// Acknowledge every step without asking (rehearsals, CI); recorded in the transcript.
    #[arg(long)]
    pub yes: bool,
    /// Transcript file (JSON lines; must not exist). Default: ceremony-<script>-<UTC time>.jsonl.
    #[arg(long)]
    pub transcript: Option<PathBuf>,
    /// Keep the run's scratch directory ${tmp} instead of removing it.
    #[arg(long)]
    pub keep_tmp: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The transcript file.
    pub file: PathBuf,
    /// The final hash the witnesses wrote down (hex; spaces allowed).
    #[arg(long)]
    pub final_hash: Option<String>,
}

#[derive(Args, Debug)]
pub struct PrintArgs {
    /// The ceremony script (TOML).
    pub script: PathBuf,
    /// Output HTML file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// A variable value: NAME=VALUE (repeat); variables without a value print as «NAME».
    #[arg(long = "var")]
    pub vars: Vec<String>,
}

pub fn run(cmd: CeremonyCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        CeremonyCommand::Run(a) => run_script(a, ctx),
        CeremonyCommand::VerifyTranscript(a) => verify(a, ctx),
        CeremonyCommand::Print(a) => print(a),
    }
}

fn today() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Loads a script and its digest.
fn load(path: &std::path::Path) -> Result<(script::Script, FileDigest)> {
    let data = super::read_file(path)?;
    let text = std::str::from_utf8(&data)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let s = script::parse(text).with_context(|| format!("ceremony script {}", path.display()))?;
    Ok((s, FileDigest::of(&data)))
}

/// The terminal: steps on stdout, command output as it comes, acknowledgement on /dev/tty.
struct Terminal;

impl Console for Terminal {
    fn show(&mut self, text: &str) {
        println!("{text}");
    }
    fn output(&mut self, chunk: &[u8], stderr: bool) {
        if stderr {
            let _ = std::io::stderr().write_all(chunk);
        } else {
            let mut o = std::io::stdout();
            let _ = o.write_all(chunk);
            let _ = o.flush();
        }
    }
    fn acknowledge(&mut self, prompt: &str) -> std::result::Result<bool, CeremonyError> {
        use std::io::BufRead;
        let _ = std::io::stdout().flush();
        let mut tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|e| CeremonyError::Console(format!("no terminal to acknowledge on: {e}")))?;
        write!(tty, "{prompt}").map_err(|e| CeremonyError::Console(e.to_string()))?;
        let _ = tty.flush();
        let mut line = String::new();
        std::io::BufReader::new(&mut tty)
            .read_line(&mut line)
            .map_err(|e| CeremonyError::Console(e.to_string()))?;
        Ok(line.trim() == "yes")
    }
}

fn run_script(a: RunArgs, ctx: &Context) -> Result<i32> {
    let (s, digest) = load(&a.script)?;
    let given = script::parse_var_args(&a.vars)?;
    if !a.yes
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_err()
    {
        bail!("this ceremony asks for acknowledgement at every step but there is no terminal: run it on a terminal, or pass --yes for a non-interactive run (recorded in the transcript)");
    }
    let exe = std::env::current_exe().context("cannot find the kskit executable")?;
    let tmp = tempfile::Builder::new()
        .prefix("kskit-ceremony-")
        .tempdir()
        .context("cannot create the scratch directory")?;
    let mut builtins = BTreeMap::new();
    builtins.insert("kskit".to_string(), exe.display().to_string());
    builtins.insert("tmp".to_string(), tmp.path().display().to_string());
    builtins.insert(
        "yes".to_string(),
        if a.yes {
            "--yes".to_string()
        } else {
            String::new()
        },
    );
    builtins.insert("date".to_string(), today());
    // Every variable resolved (or an error naming the missing ones) before any step.
    let resolved: Resolved = script::resolve(&s, &given, &builtins)?;
    let transcript = match a.transcript {
        Some(t) => t,
        None => {
            let stem = a
                .script
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "ceremony".into());
            let t = time::OffsetDateTime::now_utc();
            PathBuf::from(format!(
                "ceremony-{stem}-{:04}{:02}{:02}T{:02}{:02}{:02}Z.jsonl",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ))
        }
    };
    let opts = RunOptions {
        yes: a.yes,
        script_path: a.script.display().to_string(),
        script_sha256: digest.hex(),
        script_words: digest.words().join(" "),
        transcript: transcript.clone(),
    };
    let result = cer::run(&resolved, &opts, &mut Terminal);
    if a.keep_tmp {
        let kept = tmp.keep();
        eprintln!("scratch directory kept: {}", kept.display());
    }
    let r = result?;
    let c = &r.closing;
    if ctx.json {
        print_json(&serde_json::json!({
            "outcome": r.outcome.as_str(),
            "failed_step": match r.outcome { Outcome::Completed => None, Outcome::Failed(n) | Outcome::Aborted(n) => Some(n) },
            "transcript": transcript, "entries": c.entries, "final_hash": c.final_hash, "final_pgp_words": c.final_words,
        }))?;
    }
    println!("\n=== Ceremony {} ===", r.outcome.as_str().to_uppercase());
    println!("Transcript {}: {} entries", transcript.display(), c.entries);
    println!(
        "Final hash (witnesses write this down):\n  {}",
        c.final_hash
    );
    let words: Vec<&str> = c.final_words.split(' ').collect();
    for (i, chunk) in words.chunks(8).enumerate() {
        println!("  {:02X}: {}", i * 8, chunk.join(" "));
    }
    Ok(match r.outcome {
        Outcome::Completed => 0,
        Outcome::Failed(n) => {
            eprintln!(
                "kskit: the ceremony stopped at step {n}: its command failed (see the transcript)"
            );
            super::EXIT_FAILED
        }
        Outcome::Aborted(n) => {
            eprintln!("kskit: the ceremony was stopped at step {n}: not acknowledged");
            super::EXIT_FAILED
        }
    })
}

fn verify(a: VerifyArgs, ctx: &Context) -> Result<i32> {
    let data = super::read_file(&a.file)?;
    match cer::transcript::verify(&data, a.final_hash.as_deref()) {
        Ok(v) => {
            if ctx.json {
                print_json(&serde_json::json!({"valid": true, "summary": v}))?;
            } else {
                println!(
                    "transcript {} is intact: {} entries ({} steps), closed",
                    a.file.display(),
                    v.entries,
                    v.steps
                );
                println!(
                    "ceremony: {} (started {}, closed {})",
                    v.title, v.started, v.closed
                );
                match v.failed_step {
                    Some(n) => println!("outcome: {} at step {n}", v.outcome),
                    None => println!("outcome: {}", v.outcome),
                }
                println!("final hash {}", v.final_hash);
                println!("  {}", v.final_words);
                if a.final_hash.is_some() {
                    println!("the final hash matches the one written down");
                } else {
                    println!("compare the final hash with the one the witnesses wrote down (or pass --final-hash)");
                }
            }
            Ok(0)
        }
        Err(e) => {
            if ctx.json {
                print_json(&serde_json::json!({"valid": false, "error": e.to_string()}))?;
            }
            eprintln!(
                "kskit: transcript {} FAILED verification: {e}",
                a.file.display()
            );
            Ok(super::EXIT_FAILED)
        }
    }
}

fn print(a: PrintArgs) -> Result<i32> {
    let (s, digest) = load(&a.script)?;
    let mut given = script::parse_var_args(&a.vars)?;
    for (k, v) in &s.variables {
        if !given.contains_key(k) && v.default.is_none() {
            given.insert(k.clone(), format!("«{k}»"));
        }
    }
    let mut builtins = BTreeMap::new();
    builtins.insert("kskit".to_string(), "kskit".to_string());
    builtins.insert("tmp".to_string(), "«tmp»".to_string());
    builtins.insert("yes".to_string(), String::new());
    builtins.insert("date".to_string(), today());
    let resolved = script::resolve(&s, &given, &builtins)?;
    let html = cer::render::render_html(&resolved, &a.script.display().to_string(), &digest.hex());
    write_output(&a.output, html.as_bytes())?;
    println!(
        "wrote {} ({} steps)",
        a.output.display(),
        resolved.steps.len()
    );
    Ok(0)
}
