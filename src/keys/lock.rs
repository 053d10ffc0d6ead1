//! The keystore's advisory lock: every keystore write (keys.json, the
//! rollover state, the SKR timeline) happens while one kskit process holds
//! `keystore/.lock`, and read-modify-write sequences hold it from the read to
//! the write, so parallel runs (cron's `rollover step` while an operator
//! generates keys) never lose an update (docs/keystore.md "Locking").
//!
//! The lock is flock(2) through the `fs4` crate (docs/dependencies.md): the
//! kernel releases it when the process exits, also on `kill -9`, so a crash
//! never leaves a stale lock. It is advisory: only kskit honours it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fs4::TryLockError;

/// The lock file in the keystore directory.
pub const LOCK_FILE: &str = ".lock";

/// A held keystore lock; dropping it releases the lock.
#[derive(Debug)]
pub struct KeystoreLock {
    // Closing the file releases the flock.
    _file: File,
    path: PathBuf,
}

fn open_lock_file(dir: &Path) -> io::Result<(File, PathBuf)> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path)?;
    Ok((file, path))
}

impl KeystoreLock {
    /// Takes the lock of the keystore at `dir`, waiting for another kskit
    /// process that holds it (saying so on stderr once).
    pub fn acquire(dir: &Path) -> io::Result<KeystoreLock> {
        let (file, path) = open_lock_file(dir)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!("kskit: waiting for the keystore lock held by another kskit process ({})…", path.display());
                fs4::FileExt::lock(&file)?;
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        Ok(KeystoreLock { _file: file, path })
    }

    /// Takes the lock only if no other process holds it (`None` then, and
    /// also when the lock file cannot be created, e.g. a read-only keystore).
    pub fn try_acquire(dir: &Path) -> Option<KeystoreLock> {
        let (file, path) = open_lock_file(dir).ok()?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Some(KeystoreLock { _file: file, path }),
            Err(_) => None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_excludes_another_until_dropped() {
        let d = tempfile::tempdir().unwrap();
        let held = KeystoreLock::acquire(d.path()).unwrap();
        assert!(KeystoreLock::try_acquire(d.path()).is_none(), "a second lock was granted while the first is held");
        drop(held);
        assert!(KeystoreLock::try_acquire(d.path()).is_some());
    }
}
