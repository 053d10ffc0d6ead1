//! Atomic file writes: a file is either the old one or the new one, never a
//! partial one, even after a crash or power loss (write to a temp file in the
//! same directory, fsync it, rename it over the target, fsync the directory).

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// File mode for secrets (private key files, SKR-signing material).
pub const MODE_SECRET: u32 = 0o600;
/// File mode for everything else kskit writes.
pub const MODE_PUBLIC: u32 = 0o644;

/// The suffix of kskit's temp files: stale ones (left by a crash between
/// create and rename) are recognised by it and removed by [`remove_stale_temps`].
pub const TEMP_SUFFIX: &str = ".kskit-tmp";

/// A new temp file with exactly `mode`, in the directory of `path` (named
/// after it, with [`TEMP_SUFFIX`]), and that directory. tempfile creates it
/// with O_EXCL and mode 0600 and deletes it when the handle is dropped
/// without `persist`, which covers every error path.
fn temp_beside(path: &Path, mode: u32) -> io::Result<(tempfile::NamedTempFile, PathBuf)> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a file path", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", file_name.to_string_lossy());
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .permissions(Permissions::from_mode(MODE_SECRET))
        .tempfile_in(dir)?;
    // Set the exact mode (the creation mode is subject to the umask).
    tmp.as_file().set_permissions(Permissions::from_mode(mode))?;
    Ok((tmp, dir.to_path_buf()))
}

/// [`temp_beside`] holding `data`, written and fsynced: ready to be renamed
/// over `path`.
fn stage(path: &Path, data: &[u8], mode: u32) -> io::Result<(tempfile::NamedTempFile, PathBuf)> {
    let (mut tmp, dir) = temp_beside(path, mode)?;
    tmp.write_all(data)?;
    tmp.flush()?;
    tmp.as_file().sync_all()?;
    Ok((tmp, dir))
}

/// Writes `data` to `path` atomically with permissions `mode` (0600 for
/// secrets, 0644 otherwise): a temp file in the same directory is written,
/// fsynced and renamed over the target, then the directory is fsynced so the
/// rename itself is durable (rename(2) is atomic within a file system). On any
/// error the temp file is removed and the target is left untouched.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = write_atomic_unsynced_dir(path, data, mode)?;
    sync_dir(&dir)
}

/// [`write_atomic`] without the final directory fsync, for writing many
/// files into one directory: each file is complete and fsynced before it is
/// renamed into place (never a partial file), and the caller makes the
/// renames durable with one [`sync_dir`] of the returned directory after the
/// last file, before it reports the files written. A crash before that
/// fsync may lose some renames (the files are absent), never their content.
pub fn write_atomic_unsynced_dir(path: &Path, data: &[u8], mode: u32) -> io::Result<std::path::PathBuf> {
    let (tmp, dir) = stage(path, data, mode)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(dir)
}

/// Writes many files atomically and durably, for batches (`ksr
/// sign-batch`): every file is written to a temp file beside its target and
/// fsynced, several at a time on `threads` threads (concurrent fsyncs share
/// the file system's journal commits); only when every temp file is
/// complete and durable is each renamed over its target, and then each
/// directory is fsynced once, making the renames durable. An error in the
/// first phase removes every temp file and leaves every target untouched;
/// no target is ever a partial file. Returns the directories synced.
pub fn write_atomic_many(files: &[(&Path, &[u8])], mode: u32, threads: usize) -> io::Result<std::collections::BTreeSet<std::path::PathBuf>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    type Staged = io::Result<(tempfile::NamedTempFile, std::path::PathBuf)>;
    let slots: Vec<Mutex<Option<Staged>>> = files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, files.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, data)) = files.get(i) else { break };
                let r = stage(path, data, mode);
                let failed = r.is_err();
                if let Some(slot) = slots.get(i) {
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
                if failed {
                    next.store(files.len(), Ordering::Relaxed);
                }
            });
        }
    });
    // Every temp file complete and fsynced, or none renamed (dropping the
    // staged temp files removes them).
    let mut staged = Vec::with_capacity(files.len());
    for s in slots {
        match s.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(r) => staged.push(r?),
            None => return Err(io::Error::other("a writer thread stopped before finishing")),
        }
    }
    let mut dirs = std::collections::BTreeSet::new();
    for ((tmp, dir), (path, _)) in staged.into_iter().zip(files) {
        tmp.persist(path).map_err(|e| e.error)?;
        dirs.insert(dir);
    }
    for d in &dirs {
        sync_dir(d)?;
    }
    Ok(dirs)
}

/// [`write_atomic`] for output too large to hold in memory: `fill` writes
/// the content to a buffered temp file; only when it succeeds is the file
/// fsynced and renamed over `path`. On any error the temp file is removed
/// and the target is left untouched.
pub fn write_atomic_with<T, E: From<io::Error>>(path: &Path, mode: u32, fill: impl FnOnce(&mut dyn Write) -> Result<T, E>) -> Result<T, E> {
    let (tmp, dir) = temp_beside(path, mode)?;
    let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
    let out = fill(&mut w)?;
    let tmp = w.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(&dir)?;
    Ok(out)
}

/// Fsyncs a directory so that renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether `name` is one of kskit's temp files (see [`write_atomic`]).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Removes stale kskit temp files in `dir` (not recursive), left by a crash
/// between creating a temp file and renaming it. Returns how many were
/// removed. Only one kskit process should write a directory at a time.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_temp_name(&name.to_string_lossy()) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Creates `dir` (and missing parents) and sets its mode to `mode`.
pub fn create_dir_with_mode(dir: &Path, mode: u32) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_sets_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        write_atomic(&p, b"one", MODE_PUBLIC).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        write_atomic(&p, b"two", MODE_SECRET).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "only the target remains: {names:?}");
    }

    #[test]
    fn write_atomic_many_writes_every_file_with_its_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..40).map(|i| d.path().join(format!("z{i}.skr"))).collect();
        let datas: Vec<Vec<u8>> = (0..40).map(|i| format!("skr {i}\n").into_bytes()).collect();
        fs::write(&paths[3], b"old").unwrap();
        let files: Vec<(&Path, &[u8])> = paths.iter().zip(&datas).map(|(p, d)| (p.as_path(), &d[..])).collect();
        let dirs = write_atomic_many(&files, MODE_PUBLIC, 7).unwrap();
        assert_eq!(dirs.into_iter().collect::<Vec<_>>(), vec![d.path().to_path_buf()]);
        for (p, data) in paths.iter().zip(&datas) {
            assert_eq!(&fs::read(p).unwrap(), data, "{}", p.display());
            assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o644);
        }
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 40, "only the targets remain: {names:?}");
    }

    #[test]
    fn write_atomic_many_writes_nothing_when_one_temp_file_cannot_be_made() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("a.skr");
        let bad = d.path().join("missing-dir").join("b.skr");
        let files: Vec<(&Path, &[u8])> = vec![(good.as_path(), b"a"), (bad.as_path(), b"b")];
        assert!(write_atomic_many(&files, MODE_PUBLIC, 2).is_err());
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.is_empty(), "no target and no temp file written: {names:?}");
    }

    #[test]
    fn failed_rename_leaves_no_temp_and_keeps_target() {
        let d = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename must fail.
        let p = d.path().join("target");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inside"), b"x").unwrap();
        assert!(write_atomic(&p, b"data", MODE_SECRET).is_err());
        let names: Vec<String> =
            fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["target".to_string()]);
        assert!(p.is_dir());
    }

    #[test]
    fn stale_temps_are_recognised_and_removed() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(".keys.json.abc123.kskit-tmp"), b"{partial").unwrap();
        fs::write(d.path().join("keys.json"), b"{}").unwrap();
        assert_eq!(remove_stale_temps(d.path()).unwrap(), 1);
        assert!(d.path().join("keys.json").exists());
        assert!(!is_temp_name("keys.json"));
    }
}
