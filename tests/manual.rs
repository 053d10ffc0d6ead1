//! Man pages and shell completions generated from the clap definitions
//! (issue 18 point 1): every subcommand of the clap tree has a man page that
//! `man -l` renders without a warning; the bash, zsh and fish completion
//! scripts load in their shells and complete subcommands.

mod common;

use clap::CommandFactory as _;
use common::*;

/// Page names from our own walk of the clap tree: kskit, kskit-ksr, kskit-ksr-sign, ...
fn expected_pages() -> Vec<String> {
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            let name = format!("{prefix}-{}", sub.get_name());
            out.push(name.clone());
            walk(&name, sub, out);
        }
    }
    let mut root = kskit::cli::Cli::command();
    root.build();
    let mut out = vec!["kskit".to_string()];
    walk("kskit", &root, &mut out);
    out
}

#[test]
fn every_subcommand_has_a_man_page_that_man_renders_without_warnings() {
    if !require_tools("man", "man-db, groff-base", &["man", "groff"], &[]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("man1");
    ok(run_kskit(t.path(), &["manpages", s(&dir)]), "kskit manpages");
    let pages = expected_pages();
    assert!(pages.len() > 40, "the walk found only {} commands", pages.len());
    for must in ["kskit-ksr-sign", "kskit-skr-import", "kskit-rollover-plan", "kskit-key-ds", "kskit-completions", "kskit-sign-zone"] {
        assert!(pages.iter().any(|p| p == must), "{must} missing from the clap tree walk");
    }
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut want: Vec<String> = pages.iter().map(|p| format!("{p}.1")).collect();
    want.sort();
    assert_eq!(written, want, "man pages written vs subcommands");
    for p in &pages {
        let file = dir.join(format!("{p}.1"));
        let o = output(
            std::process::Command::new("man")
                .args(["--warnings", "-l", s(&file)])
                .env("MANWIDTH", "80")
                .env("LC_ALL", "C.UTF-8")
                .env_remove("MANPAGER")
                .env("PAGER", "cat"),
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "man -l {p}.1 failed: {stderr}");
        assert!(stderr.trim().is_empty(), "man -l {p}.1 warns:\n{stderr}");
        // Strip groff's overstrike bold/underline ("N\bN").
        let raw = String::from_utf8_lossy(&o.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(text.contains("NAME") && text.contains(p.as_str()), "{p}.1 renders without its NAME section:\n{text}");
    }
    // A subcommand page carries its own options and the usage as typed.
    let sign = std::fs::read_to_string(dir.join("kskit-ksr-sign.1")).unwrap();
    assert!(sign.contains("kskit ksr sign"), "usage line of kskit-ksr-sign.1");
}

fn completion(shell: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let out = ok(run_kskit(t.path(), &["completions", shell]), "kskit completions");
    assert!(out.contains("kskit"), "{shell} completion names kskit");
    let f = t.path().join(format!("kskit.{shell}"));
    std::fs::write(&f, out).unwrap();
    (t, f)
}

#[test]
fn bash_completion_completes_subcommands_and_options() {
    let (_t, f) = completion("bash");
    // Load the script and ask its function for the completions of `kskit ks` and `kskit ksr si`.
    let script = format!(
        "source {f}\nCOMP_WORDS=(kskit ks); COMP_CWORD=1; COMP_LINE='kskit ks'; COMP_POINT=8; _kskit kskit ks kskit; echo \"top:${{COMPREPLY[*]}}\"\nCOMP_WORDS=(kskit ksr sign --); COMP_CWORD=3; _kskit kskit -- sign; echo \"opts:${{COMPREPLY[*]}}\"",
        f = s(&f)
    );
    let o = output(std::process::Command::new("bash").args(["--norc", "-c", &script]));
    let out = ok(o, "bash completion");
    let top = out.lines().find_map(|l| l.strip_prefix("top:")).unwrap_or_default();
    assert!(top.split_whitespace().any(|w| w == "ksr"), "bash completion of `kskit ks`: {out}");
    let opts = out.lines().find_map(|l| l.strip_prefix("opts:")).unwrap_or_default();
    assert!(opts.split_whitespace().any(|w| w == "--output"), "bash completion of `kskit ksr sign --`: {out}");
}

#[test]
fn zsh_and_fish_completions_parse_in_their_shells() {
    if !require_tools("zsh and fish", "zsh, fish", &["zsh", "fish"], &[]) {
        return;
    }
    let (_t, f) = completion("zsh");
    ok(output(std::process::Command::new("zsh").args(["-n", s(&f)])), "zsh -n");
    let (_t2, f) = completion("fish");
    ok(output(std::process::Command::new("fish").args(["--no-execute", s(&f)])), "fish --no-execute");
    // fish really completes from it.
    let o = output(std::process::Command::new("fish").args(["-c", &format!("source {}; complete -C 'kskit ks'", s(&f))]));
    let out = ok(o, "fish complete -C");
    assert!(out.lines().any(|l| l.starts_with("ksr")), "fish completion of `kskit ks`: {out}");
}
