//! Secrets in memory (issue 14, point 6): a `kskit ksr sign` holding a
//! decrypted software KSK at its confirmation prompt, killed with SIGABRT,
//! leaves no core file, even when the operator's shell allows core dumps
//! (`ulimit -c unlimited`): kskit sets its own core limit to 0 and makes
//! itself non-dumpable at start.
//!
//! The confirmation is read from the terminal, so the signer runs under
//! `script(1)` (util-linux, package bsdutils), which gives it a pseudo-terminal.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{ok, run_kskit, s};

/// The children of `pid`, from /proc/*/stat (field 4 is the parent).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // comm may hold spaces and parentheses: the fields after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else { continue };
        if let Some(pp) = rest.split_whitespace().nth(1).and_then(|v| v.parse::<u32>().ok()) {
            parent_of.push((p, pp));
        }
    }
    let mut out = vec![];
    let mut todo = vec![pid];
    while let Some(x) = todo.pop() {
        for (c, _) in parent_of.iter().filter(|(_, pp)| *pp == x) {
            out.push(*c);
            todo.push(*c);
        }
    }
    out
}

/// The soft and hard core-file size limits of `pid` from /proc/PID/limits.
fn core_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max core file size")).expect("core limit line");
    let mut v = line["Max core file size".len()..].split_whitespace();
    (v.next().unwrap().to_string(), v.next().unwrap().to_string())
}

/// Where the kernel writes core files of a process working in `cwd`, per
/// /proc/sys/kernel/core_pattern; `None` when they go to a pipe handler.
fn core_dir(cwd: &Path) -> Option<PathBuf> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_else(|_| "core".into());
    let pattern = pattern.trim();
    if pattern.starts_with('|') {
        return None;
    }
    let p = Path::new(pattern);
    Some(match p.parent() {
        Some(d) if p.is_absolute() => d.to_path_buf(),
        Some(d) if !d.as_os_str().is_empty() => cwd.join(d),
        _ => cwd.to_path_buf(),
    })
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn sign_killed_with_sigabrt_at_its_prompt_leaves_no_core_file() {
    if !common::require_tools("script(1), to give the signer a terminal", "bsdutils", &["script"], &[]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = common::kskit_init(t.path(), "z", "example.net");
    common::kskit_generate_ksk(&d, "ECDSAP256SHA256");
    let ksk = common::key_list(&d).iter().find(|k| k["role"] == "ksk").unwrap()["id"].as_str().unwrap().to_string();
    ok(run_kskit(&d, &["zsk", "pregenerate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z"]), "zsk pregenerate");
    let ksr = d.join("r.xml");
    ok(run_kskit(&d, &["ksr", "generate", "--from", "2030-01-01T00:00:00Z", "--until", "2030-04-01T00:00:00Z", "-o", s(&ksr)]), "ksr generate");

    // The signer works in its own directory, where a relative core_pattern
    // ("core", the kernel default) would put the dump.
    let work = t.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let skr = t.path().join("s.xml");
    let sign = format!(
        "exec {} --config {} ksr sign {} --ksk {ksk} -o {} --now 2029-12-20T00:00:00Z",
        env!("CARGO_BIN_EXE_kskit"),
        s(&d.join("kskit.toml")),
        s(&ksr),
        s(&skr)
    );
    let dumps = core_dir(&work);
    let before = dumps.as_deref().map(listing);
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-f", "-e", "-c", &sign, "/dev/null"])
        .current_dir(&work)
        .env_remove("KSKIT_CONFIG")
        .env_remove("KSKIT_PIN")
        .env("KSKIT_PASSPHRASE", common::PASSPHRASE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // As an operator whose shell allows core dumps: `ulimit -c unlimited`.
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start script");
    let _stdin = child.stdin.take(); // kept open: the prompt waits for an answer
    let seen = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Wait for the prompt (the KSK is decrypted and has made its timing
    // signature by then); a guard, not a timing: fail if it never comes.
    let start = std::time::Instant::now();
    while !seen.lock().unwrap().contains("Type yes to proceed") {
        if start.elapsed() > std::time::Duration::from_secs(600) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("ksr sign never reached its confirmation prompt:\n{}", seen.lock().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let signer = descendants(child.id())
        .into_iter()
        .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "kskit"))
        .expect("the kskit process under script");
    let limits = core_limits(signer);
    // SAFETY: kill(2) on the signer, a process this test started.
    assert_eq!(unsafe { libc::kill(signer as i32, libc::SIGABRT) }, 0);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(!skr.exists(), "nothing was signed");
    assert_ne!(status.code(), Some(0), "the signer was killed");
    assert_eq!(limits, ("0".to_string(), "0".to_string()), "kskit leaves its core file size limit at {limits:?}");
    match (dumps, before) {
        (Some(dir), Some(before)) => {
            let after = listing(&dir);
            let new: Vec<_> = after.iter().filter(|f| !before.contains(f)).collect();
            assert!(new.is_empty(), "SIGABRT of ksr sign left {new:?} in {}", dir.display());
        }
        _ => eprintln!("note: core_pattern pipes to a handler; only the core limit of 0 was checked"),
    }
    assert!(listing(&work).is_empty(), "files left in the signer's directory: {:?}", listing(&work));
}
