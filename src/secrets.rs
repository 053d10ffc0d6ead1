//! Passphrases and PINs: read from a file, the environment or the terminal,
//! held in zeroizing memory, never logged or put on a command line.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A secret string (passphrase, PIN); its memory is wiped on drop.
pub type Secret = Zeroizing<String>;

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

/// Asks for a secret on the terminal (`/dev/tty`, not stdin), without echo.
/// Fails with [`SecretError::NoTerminal`] when there is no terminal (cron, CI).
pub fn prompt_secret(prompt: &str) -> Result<Secret, SecretError> {
    // rpassword reads /dev/tty; check that it can be opened so that "no
    // terminal" gets its own clear error instead of an errno.
    if fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        return Err(SecretError::NoTerminal);
    }
    let s = Zeroizing::new(rpassword::prompt_password(prompt).map_err(SecretError::Terminal)?);
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
    Ok(Zeroizing::new(text.to_string()))
}

/// The key passphrase: from `file` if given, else from `KSKIT_PASSPHRASE`,
/// else asked on the terminal (twice when `confirm`, for new keys).
pub fn passphrase(file: Option<&Path>, confirm: bool) -> Result<Secret, SecretError> {
    if let Some(path) = file {
        return read_secret_file(path);
    }
    if let Some(v) = std::env::var_os(PASSPHRASE_ENV) {
        let v = Zeroizing::new(v.into_string().map_err(|_| SecretError::NotUtf8(PathBuf::from(format!("${PASSPHRASE_ENV}"))))?);
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
