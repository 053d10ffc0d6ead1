//! Records what `kskit version --verbose` prints: the commit, the rustc
//! version, the SHA-256 of Cargo.lock, the enabled features, the profile and
//! the target. Nothing here depends on the time or the build directory, so
//! two builds of one commit stay byte-identical (docs/ceremony.md).

use std::path::Path;
use std::process::Command;

use sha2::Digest as _;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);

    // The commit: KSKIT_BUILD_COMMIT (a source tarball or package build
    // without .git), else git, else "unknown".
    println!("cargo:rerun-if-env-changed=KSKIT_BUILD_COMMIT");
    let commit = std::env::var("KSKIT_BUILD_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| run("git", &["-C", &dir.to_string_lossy(), "rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves (worktrees keep HEAD and refs in other places).
    for p in ["HEAD", "packed-refs"] {
        if let Some(path) = run("git", &["-C", &dir.to_string_lossy(), "rev-parse", "--path-format=absolute", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(r) = run("git", &["-C", &dir.to_string_lossy(), "symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = run("git", &["-C", &dir.to_string_lossy(), "rev-parse", "--path-format=absolute", "--git-path", &r]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_v = run(&rustc, &["-V"]).unwrap_or_else(|| "unknown".into());

    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read(dir.join("Cargo.lock"))
        .map(|d| {
            let h = sha2::Sha256::digest(&d);
            h.iter().map(|b| format!("{b:02x}")).collect::<String>()
        })
        .unwrap_or_else(|_| "unknown".into());

    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(|f| f.to_ascii_lowercase().replace('_', "-")))
        .collect();
    features.sort();

    println!("cargo:rustc-env=KSKIT_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=KSKIT_BUILD_RUSTC={rustc_v}");
    println!("cargo:rustc-env=KSKIT_BUILD_CARGO_LOCK_SHA256={lock}");
    println!("cargo:rustc-env=KSKIT_BUILD_FEATURES={}", features.join(","));
    println!("cargo:rustc-env=KSKIT_BUILD_PROFILE={}", std::env::var("PROFILE").unwrap_or_default());
    println!("cargo:rustc-env=KSKIT_BUILD_TARGET={}", std::env::var("TARGET").unwrap_or_default());
}
