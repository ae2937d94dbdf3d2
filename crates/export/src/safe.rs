//! Writing an export file without hurting the operator: the target is checked (never the
//! live index or its `-wal`/`-shm`/`-journal`, never a symbolic link or a non-regular file),
//! the data goes to a temporary file created exclusively with a random name and mode 0600 (0640 under systemd) in
//! the target's directory, and that file is renamed over the target only once complete.
//! `rename` replaces a directory entry and never follows a link, so a link planted at the
//! target after the check is replaced, not written through.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::ExportError;

/// Why an export target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeTarget {
    /// The target is the live index or one of its side files.
    #[error("{0} is the live index (or its {1} file); choose another --out")]
    LiveIndex(PathBuf, &'static str),
    /// The target is a symbolic link.
    #[error("{0} is a symbolic link; exports never write through links")]
    Symlink(PathBuf),
    /// The target exists and is not a regular file (directory, FIFO, device...).
    #[error("{0} exists and is not a regular file")]
    NotAFile(PathBuf),
    /// The target has no file name or no usable directory.
    #[error("{0} does not name a file")]
    NoFileName(PathBuf),
}

/// The side files SQLite keeps next to a database.
const SIDE_FILES: [(&str, &str); 4] = [
    ("", "database"),
    ("-wal", "-wal"),
    ("-shm", "-shm"),
    ("-journal", "-journal"),
];

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The directory an export target lives in (`.` for a bare file name).
fn parent_dir(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks that writing `out` cannot touch the index at `index` and does not go through a
/// link. An `out` that does not exist yet is compared by canonical path; one that exists, by
/// device and inode too (a hard link to the index is refused).
pub fn check_target(index: &Path, out: &Path) -> Result<(), ExportError> {
    let refuse = ExportError::Unsafe;
    let name = out
        .file_name()
        .ok_or_else(|| refuse(UnsafeTarget::NoFileName(out.to_path_buf())))?;
    let existing = match std::fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse(UnsafeTarget::Symlink(out.to_path_buf())));
        }
        Ok(m) if !m.file_type().is_file() => {
            return Err(refuse(UnsafeTarget::NotAFile(out.to_path_buf())));
        }
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    // Canonical form of the target: its directory resolved, its own name kept as given.
    let out_canon = std::fs::canonicalize(parent_dir(out))?.join(name);
    let index_canon = std::fs::canonicalize(index).unwrap_or_else(|_| index.to_path_buf());
    for (suffix, what) in SIDE_FILES {
        let side = with_suffix(&index_canon, suffix);
        if side == out_canon {
            return Err(refuse(UnsafeTarget::LiveIndex(out.to_path_buf(), what)));
        }
        if let (Some(o), Ok(s)) = (&existing, std::fs::metadata(&side))
            && o.dev() == s.dev()
            && o.ino() == s.ino()
        {
            return Err(refuse(UnsafeTarget::LiveIndex(out.to_path_buf(), what)));
        }
    }
    Ok(())
}

/// A temporary file beside the target, removed on drop unless [`TempOut::persist`]ed.
#[derive(Debug)]
pub struct TempOut {
    path: PathBuf,
    target: PathBuf,
    done: bool,
}

impl TempOut {
    /// Creates `.<name>.<random>.tmp` in the target's directory: exclusively (`O_EXCL`, so
    /// an existing file or link there is an error, never opened) and with mode
    /// [`store::mode::file_mode`] (0600, or 0640 under systemd) whatever the umask.
    pub fn create(target: &Path) -> Result<(TempOut, File), io::Error> {
        TempOut::create_with_mode(target, store::mode::file_mode())
    }

    /// [`TempOut::create`] with an explicit mode.
    fn create_with_mode(target: &Path, mode: u32) -> Result<(TempOut, File), io::Error> {
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                UnsafeTarget::NoFileName(target.to_path_buf()),
            )
        })?;
        let dir = parent_dir(target);
        let mut last = None;
        for _ in 0..8 {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
            let path = dir.join(tmp_name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    // The mode argument is filtered by the umask: set it exactly.
                    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
                    let tmp = TempOut {
                        path,
                        target: target.to_path_buf(),
                        done: false,
                    };
                    return Ok((tmp, file));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file over the target and syncs the directory.
    pub fn persist(mut self) -> Result<(), io::Error> {
        std::fs::rename(&self.path, &self.target)?;
        self.done = true;
        if let Ok(dir) = File::open(parent_dir(&self.target)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt as _;

    use store::mode::{PRIVATE_MODE, SERVICE_MODE};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn export_with(want: u32) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("links.csv");
        let (tmp, mut file) = TempOut::create_with_mode(&target, want).unwrap();
        assert_eq!(mode(tmp.path()), want, "the temporary file");
        io::Write::write_all(&mut file, b"did,inbox\n").unwrap();
        drop(file);
        tmp.persist().unwrap();
        assert_eq!(mode(&target), want, "the export");
    }

    #[test]
    fn exports_are_private_outside_systemd() {
        export_with(PRIVATE_MODE);
    }

    #[test]
    fn exports_are_group_readable_under_systemd() {
        export_with(SERVICE_MODE);
    }
}
