//! Key ceremonies (docs/ceremony.md): scripts of steps performed by roles
//! with witnesses, run step by step with a hash-chained transcript.
//!
//! - [`script`]: the TOML script format and variable resolution (pure);
//! - [`transcript`]: the JSON-lines transcript, writing and verification;
//! - [`render`]: the printable HTML version of a script (pure);
//! - this module: the runner, which shows each step, runs its command with
//!   `sh -c`, records file digests and asks for acknowledgement through a
//!   [`Console`] the CLI provides (this module never prints).

pub mod render;
pub mod script;
pub mod transcript;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use serde_json::json;
use time::OffsetDateTime;

use script::{Resolved, ResolvedStep};
use transcript::{Closing, FileRecord, TranscriptError, TranscriptWriter, FORMAT_VERSION};

/// At most this much of a command's output is kept in the transcript.
pub const MAX_OUTPUT: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error(transparent)]
    Script(#[from] script::ScriptError),
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    #[error("{0}")]
    Console(String),
}

/// Where the runner shows things and asks for acknowledgement.
pub trait Console {
    /// Shows text to the people in the room (a line or more, no trailing newline needed).
    fn show(&mut self, text: &str);
    /// Shows a chunk of a running command's output as it arrives.
    fn output(&mut self, chunk: &[u8], stderr: bool);
    /// Asks for acknowledgement; `Ok(false)` stops the ceremony.
    fn acknowledge(&mut self, prompt: &str) -> Result<bool, CeremonyError>;
}

/// How to run a ceremony.
pub struct RunOptions {
    /// Acknowledge every step without asking (non-interactive runs); recorded as such.
    pub yes: bool,
    /// The script file as named on the command line, and its SHA-256.
    pub script_path: String,
    pub script_sha256: String,
    pub script_words: String,
    pub transcript: PathBuf,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// A command failed (or a declared file was missing) at this step.
    Failed(usize),
    /// Acknowledgement was refused at this step.
    Aborted(usize),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed(_) => "failed",
            Outcome::Aborted(_) => "aborted",
        }
    }
}

pub struct RunResult {
    pub outcome: Outcome,
    pub closing: Closing,
}

fn now_text() -> String {
    crate::timeutil::format_rfc3339(OffsetDateTime::now_utc())
}

fn files_json(f: &[FileRecord]) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}

/// Reads the declared files of a step and digests them.
fn digest_files(paths: &[String]) -> Result<Vec<FileRecord>, String> {
    paths
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map(|d| FileRecord::of(p, &d))
                .map_err(|e| format!("cannot read {p}: {e}"))
        })
        .collect()
}

/// What a command did.
struct CommandRun {
    exit_code: Option<i32>,
    output: Vec<u8>,
    truncated: bool,
    error: Option<String>,
}

/// Runs `command` with `sh -c`, streaming stdout and stderr to the console
/// as they arrive and capturing both (interleaved) for the transcript.
/// Standard input is inherited (a command may prompt on the terminal).
fn run_command(command: &str, env: &[(String, String)], console: &mut dyn Console) -> CommandRun {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CommandRun {
                exit_code: None,
                output: Vec::new(),
                truncated: false,
                error: Some(format!("cannot start sh: {e}")),
            }
        }
    };
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let mut readers = Vec::new();
    let pipes: Vec<(bool, Box<dyn Read + Send>)> = [
        child
            .stdout
            .take()
            .map(|p| (false, Box::new(p) as Box<dyn Read + Send>)),
        child
            .stderr
            .take()
            .map(|p| (true, Box::new(p) as Box<dyn Read + Send>)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (is_err, mut pipe) in pipes {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx
                            .send((is_err, buf.get(..n).unwrap_or_default().to_vec()))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    let mut output = Vec::new();
    let mut truncated = false;
    for (is_err, chunk) in rx {
        console.output(&chunk, is_err);
        let room = MAX_OUTPUT.saturating_sub(output.len());
        if chunk.len() > room {
            truncated = true;
        }
        output.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
    }
    for r in readers {
        let _ = r.join();
    }
    match child.wait() {
        Ok(st) => CommandRun {
            exit_code: st.code(),
            output,
            truncated,
            error: if st.code().is_none() {
                Some(format!("the command was killed ({st})"))
            } else {
                None
            },
        },
        Err(e) => CommandRun {
            exit_code: None,
            output,
            truncated,
            error: Some(format!("cannot wait for the command: {e}")),
        },
    }
}

fn show_step(s: &ResolvedStep, total: usize, console: &mut dyn Console) {
    let mut t = format!(
        "\n=== Step {}/{}: {} ===\n{}: {}",
        s.number, total, s.title, s.role, s.say
    );
    if let Some(c) = &s.command_shown {
        t.push_str(&format!("\n$ {c}"));
    }
    console.show(&t);
}

fn show_files(what: &str, files: &[FileRecord], console: &mut dyn Console) {
    for f in files {
        console.show(&format!(
            "{what} {} ({} bytes)\n  SHA-256 {}\n  {}",
            f.path, f.bytes, f.sha256, f.pgp_words
        ));
    }
}

/// Runs a resolved script: a start entry, one entry per step (written when
/// the step ends), and a closing entry. Stops at the first failing command
/// or missing declared file (recorded, outcome `failed`) or refused
/// acknowledgement (outcome `aborted`). `host` and `user` describe where it ran.
pub fn run(
    script: &Resolved,
    opts: &RunOptions,
    console: &mut dyn Console,
) -> Result<RunResult, CeremonyError> {
    let mut w = TranscriptWriter::create(&opts.transcript)?;
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    w.append(
        "start",
        json!({
            "format": FORMAT_VERSION,
            "title": script.title,
            "script": opts.script_path,
            "script_sha256": opts.script_sha256,
            "script_pgp_words": opts.script_words,
            "variables": script.shown_values(),
            "env": script.env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            "steps": script.steps.len(),
            "kskit_version": env!("CARGO_PKG_VERSION"),
            "user": user,
            "host": host,
            "cwd": cwd,
            "acknowledgement": if opts.yes { "--yes (non-interactive)" } else { "terminal" },
        }),
        &now_text(),
    )?;
    console.show(&format!(
        "Ceremony: {}\nScript {} SHA-256 {}\n  {}\nTranscript: {}",
        script.title,
        opts.script_path,
        opts.script_sha256,
        opts.script_words,
        opts.transcript.display()
    ));
    let total = script.steps.len();
    let mut outcome = Outcome::Completed;
    for s in &script.steps {
        show_step(s, total, console);
        let started = now_text();
        let mut entry = json!({
            "step": s.number,
            "title": s.title,
            "role": s.role,
            "say": s.say,
            "confirm": s.confirm,
            "started": started,
        });
        let mut error: Option<String> = None;
        let reads = match digest_files(&s.reads) {
            Ok(r) => r,
            Err(e) => {
                error = Some(e);
                Vec::new()
            }
        };
        show_files("reads", &reads, console);
        entry["reads"] = files_json(&reads);
        if let (Some(cmd), None) = (&s.command, &error) {
            entry["command"] = json!(s.command_shown);
            let r = run_command(cmd, &script.env, console);
            entry["exit_code"] = json!(r.exit_code);
            entry["output"] = json!(String::from_utf8_lossy(&r.output));
            if r.truncated {
                entry["output_truncated"] = json!(true);
            }
            match (r.exit_code, r.error) {
                (_, Some(e)) => error = Some(e),
                (Some(0), None) => {}
                (Some(c), None) => error = Some(format!("the command exited with status {c}")),
                (None, None) => error = Some("the command did not exit normally".into()),
            }
        } else if let Some(cmd) = &s.command_shown {
            entry["command"] = json!(cmd);
        }
        if error.is_none() {
            match digest_files(&s.writes) {
                Ok(wr) => {
                    show_files("wrote", &wr, console);
                    entry["writes"] = files_json(&wr);
                }
                Err(e) => {
                    error = Some(format!(
                        "a file the step should have written is missing: {e}"
                    ))
                }
            }
        }
        if let Some(e) = &error {
            console.show(&format!("STEP {} FAILED: {e}", s.number));
            entry["outcome"] = json!("failed");
            entry["error"] = json!(e);
            w.append("step", entry, &now_text())?;
            outcome = Outcome::Failed(s.number);
            break;
        }
        console.show(&format!("Confirm: {}", s.confirm));
        let ack = if opts.yes {
            console.show("(acknowledged by --yes)");
            Ok(true)
        } else {
            console.acknowledge(&format!(
                "Step {} ({}): type yes to confirm, anything else stops the ceremony: ",
                s.number, s.role
            ))
        };
        match ack {
            Ok(true) => {
                entry["acknowledged"] = json!(if opts.yes { "--yes" } else { "terminal" });
                entry["outcome"] = json!("ok");
                w.append("step", entry, &now_text())?;
            }
            Ok(false) | Err(_) => {
                let why = match &ack {
                    Err(e) => e.to_string(),
                    _ => "not acknowledged".to_string(),
                };
                entry["outcome"] = json!("aborted");
                entry["error"] = json!(why);
                w.append("step", entry, &now_text())?;
                outcome = Outcome::Aborted(s.number);
                break;
            }
        }
    }
    let failed_step = match outcome {
        Outcome::Completed => None,
        Outcome::Failed(n) | Outcome::Aborted(n) => Some(n),
    };
    let closing = w.close(
        json!({"outcome": outcome.as_str(), "failed_step": failed_step}),
        &now_text(),
    )?;
    Ok(RunResult { outcome, closing })
}
