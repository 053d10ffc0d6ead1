//! Passphrases and PINs: read from a file, the environment or the terminal,
//! held in zeroizing memory, never logged or put on a command line. Also the
//! process-wide protection of secrets in memory: no core dumps
//! ([`harden_process`]) and key buffers locked in RAM ([`MemLock`]).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A secret string (passphrase, PIN); its memory is wiped on drop and its
/// `Debug` form shows no part of it, so a stray `{:?}` cannot log it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(s: Zeroizing<String>) -> Self {
        Secret(s)
    }
}

impl std::ops::Deref for Secret {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl std::ops::DerefMut for Secret {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The environment variable holding the key passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "KSKIT_PASSPHRASE";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no terminal to ask for the passphrase: set KSKIT_PASSPHRASE or use --passphrase-file")]
    NoTerminal,
    #[error("cannot read the passphrase from the terminal: {0}")]
    Terminal(std::io::Error),
    #[error("cannot read secret file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("secret file {0} is not UTF-8 text")]
    NotUtf8(PathBuf),
    #[error("{0} is empty: an empty passphrase is refused")]
    Empty(String),
    #[error("the two passphrases do not match")]
    Mismatch,
}

/// Keeps secrets out of core dumps, called first thing in `main`: makes the
/// process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)` on Linux: no core
/// file, not even through a `core_pattern` pipe such as systemd-coredump;
/// `/proc/PID/mem` and ptrace are closed to other processes of the same
/// user) and sets the core-file size limit (`RLIMIT_CORE`) to 0, soft and
/// hard, which children inherit. Returns what could not be done, for the
/// caller to warn about; neither step failing stops kskit.
pub fn harden_process() -> Vec<String> {
    let mut problems = Vec::new();
    let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: setrlimit reads the struct passed by reference and changes
    // only this process's limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        problems.push(format!("cannot set the core file size limit to 0: {}", std::io::Error::last_os_error()));
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer argument; the unused
        // ones are passed as 0 as prctl(2) asks.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) } != 0 {
            problems.push(format!("cannot make the process non-dumpable: {}", std::io::Error::last_os_error()));
        }
    }
    problems
}

/// Whether the warning that memory could not be locked was printed.
static MLOCK_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A buffer holding secret material (a decrypted private key), locked in
/// RAM with `mlock(2)` so that it is never written to swap; unlocked again
/// on drop. Where the system refuses (`RLIMIT_MEMLOCK`, a container without
/// `CAP_IPC_LOCK`), kskit warns once on stderr and goes on: a lock is a
/// hardening, not a condition of signing. Locks work on whole pages and do
/// not nest: dropping one `MemLock` unlocks a page another buffer on the
/// same page may still use. Keep the buffer alive and unmoved while the
/// lock is held (a `Vec`'s heap buffer, never reallocated).
pub struct MemLock {
    addr: usize,
    len: usize,
    locked: bool,
}

impl MemLock {
    /// Locks the memory of `buf` (nothing for an empty buffer).
    pub fn new(buf: &[u8]) -> MemLock {
        let (addr, len) = (buf.as_ptr() as usize, buf.len());
        if len == 0 {
            return MemLock { addr, len, locked: false };
        }
        // SAFETY: mlock only changes how the pages holding `buf` (memory we
        // borrow, valid for `len` bytes) are paged; it reads and writes none
        // of it.
        let locked = unsafe { libc::mlock(buf.as_ptr().cast(), len) } == 0;
        if !locked && !MLOCK_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                "warning: cannot lock key memory in RAM ({}): it could be written to swap; raise the locked-memory limit (ulimit -l) or use encrypted swap",
                std::io::Error::last_os_error()
            );
        }
        MemLock { addr, len, locked }
    }

    /// Whether the buffer is locked in RAM.
    pub fn is_locked(&self) -> bool {
        self.locked
    }
}

impl Drop for MemLock {
    fn drop(&mut self) {
        if self.locked {
            // SAFETY: munlock on the range locked in `new`; it touches no
            // memory contents and fails harmlessly if the range is unmapped.
            unsafe {
                libc::munlock(self.addr as *const libc::c_void, self.len);
            }
        }
    }
}

impl std::fmt::Debug for MemLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemLock({} bytes, locked: {})", self.len, self.locked)
    }
}

/// Asks for a secret on the terminal (`/dev/tty`, not stdin), without echo.
/// Fails with [`SecretError::NoTerminal`] when there is no terminal (cron, CI).
pub fn prompt_secret(prompt: &str) -> Result<Secret, SecretError> {
    // rpassword reads /dev/tty; check that it can be opened so that "no
    // terminal" gets its own clear error instead of an errno.
    if fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        return Err(SecretError::NoTerminal);
    }
    let s = Secret::new(rpassword::prompt_password(prompt).map_err(SecretError::Terminal)?);
    Ok(s)
}

/// Reads a secret from the first line of a file (trailing `\n` / `\r\n`
/// stripped). Warns on stderr if the file is readable by group or others.
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    let ferr = |source| SecretError::File { path: path.to_path_buf(), source };
    let mut f = fs::File::open(path).map_err(ferr)?;
    let mode = f.metadata().map_err(ferr)?.permissions().mode();
    if mode & 0o077 != 0 {
        eprintln!(
            "warning: secret file {} is readable by group or others (mode {:o}); use chmod 600",
            path.display(),
            mode & 0o777
        );
    }
    let mut raw = Zeroizing::new(Vec::new());
    f.read_to_end(&mut raw).map_err(ferr)?;
    let line_end = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
    let mut line = raw.get(..line_end).unwrap_or_default();
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    let text = std::str::from_utf8(line).map_err(|_| SecretError::NotUtf8(path.to_path_buf()))?;
    if text.is_empty() {
        return Err(SecretError::Empty(format!("secret file {}", path.display())));
    }
    Ok(Secret::new(text.to_string()))
}

/// The key passphrase: from `file` if given, else from `KSKIT_PASSPHRASE`,
/// else asked on the terminal (twice when `confirm`, for new keys).
pub fn passphrase(file: Option<&Path>, confirm: bool) -> Result<Secret, SecretError> {
    if let Some(path) = file {
        return read_secret_file(path);
    }
    if let Some(v) = std::env::var_os(PASSPHRASE_ENV) {
        let v = Secret::new(v.into_string().map_err(|_| SecretError::NotUtf8(PathBuf::from(format!("${PASSPHRASE_ENV}"))))?);
        if v.is_empty() {
            return Err(SecretError::Empty(PASSPHRASE_ENV.to_string()));
        }
        return Ok(v);
    }
    let first = prompt_secret("kskit key passphrase: ")?;
    if first.is_empty() {
        return Err(SecretError::Empty("the passphrase".to_string()));
    }
    if confirm {
        let again = prompt_secret("repeat the passphrase: ")?;
        if again.as_str() != first.as_str() {
            return Err(SecretError::Mismatch);
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_and_error_forms_show_no_part_of_it() {
        let s = Secret::new("123456-pin".into());
        let shown = format!("{s:?} {:?}", Some(s.clone()));
        assert!(!shown.contains("123456") && !shown.contains("pin"), "{shown}");
        assert_eq!(s.as_str(), "123456-pin");
    }

    #[test]
    fn key_buffers_are_locked_in_ram() {
        // A few hundred bytes, as a decrypted PKCS#8 key: within the default
        // RLIMIT_MEMLOCK (64 KiB or more on Linux), so the lock must hold.
        let buf = Zeroizing::new(vec![7u8; 300]);
        let lock = MemLock::new(&buf);
        assert!(lock.is_locked(), "mlock of 300 bytes failed");
        drop(lock);
        assert!(!MemLock::new(&[]).is_locked());
    }

    #[test]
    fn file_first_line_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        fs::write(&p, b"correct horse\r\nsecond line\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&p).unwrap().as_str(), "correct horse");
        assert_eq!(passphrase(Some(&p), true).unwrap().as_str(), "correct horse");
        fs::write(&p, b"\n").unwrap();
        assert!(matches!(read_secret_file(&p), Err(SecretError::Empty(_))));
        let missing = d.path().join("nope");
        let e = read_secret_file(&missing).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
