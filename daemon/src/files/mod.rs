//! Writes of a set of output files that leave, after any failure at any step, either the
//! whole old set or the whole new set on disk.
//!
//! Two layouts (see docs/differences.md, "Atomic writes"):
//!
//! - [`Layout::Plain`] (the default, as upstream's files, `pkg/disk/x509.go@v0.11.0`): each
//!   file is a regular file, written and rolled back as one set by [`plain`].
//! - [`Layout::Symlinked`] (`symlinked_layout = true`, ours): Kubernetes' atomic writer, a
//!   versioned directory published by one rename of `..data` ([`symlinked`]).
//!
//! Modes are applied on every write (upstream's `os.WriteFile` in `pkg/disk/x509.go@v0.11.0`
//! applies them only at creation), exactly as configured: the umask can only narrow a file
//! while it is being written, never widen it. [`leftovers`] removes at start what a killed
//! helper left behind. This module holds what both layouts share: the outputs, the owner,
//! the error, and how a file is created beside its target.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::oserror::GoErrno;
use svid_core::pem;

mod leftovers;
mod plain;
mod symlinked;
#[cfg(test)]
mod tests;

pub(crate) use leftovers::{clean_dir_leftovers, clean_leftovers};

/// How the files are laid out on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Regular files, replaced by rename (with rollback).
    #[default]
    Plain,
    /// Symlinks into a versioned directory swapped with one rename (`symlinked_layout`).
    Symlinked,
}

/// One file to write: its path, content and mode.
#[derive(Clone, Copy)]
pub(crate) struct Output<'a> {
    pub path: &'a str,
    pub data: Data<'a>,
    pub mode: u32,
}

/// A directory of a set (`trust_bundle_dir`): after the write it holds exactly `files`
/// among the entries `managed` picks; a managed file that is not in `files` (a trust domain
/// that is gone) is removed with the same set, and put back if the set is rolled back.
pub(crate) struct DirOutput<'a> {
    pub path: &'a str,
    /// File names (plain names) and contents.
    pub files: Vec<(String, Data<'a>)>,
    /// Mode of each file.
    pub mode: u32,
    /// Whether an entry of the directory, by name, is one of the set's files.
    pub managed: fn(&str) -> bool,
}

/// `file_owner`: the (UID, GID) given to every file, directory and symlink written.
static OWNER: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();

/// Sets the owner of everything written from now on (once, at start).
pub(crate) fn set_owner(uid: u32, gid: u32) {
    let _ = OWNER.set((uid, gid));
}

/// Gives `path` (not followed if it is a symlink) the `file_owner`, if one is set.
pub(crate) fn chown_path(path: &Path) -> io::Result<()> {
    let Some(&(uid, gid)) = OWNER.get() else {
        return Ok(());
    };
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)
}

/// Gives an open file the `file_owner`, if one is set.
fn chown_file(file: &File) -> io::Result<()> {
    let Some(&(uid, gid)) = OWNER.get() else {
        return Ok(());
    };
    rustix::fs::fchown(
        file,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(io::Error::from)
}

/// What a file holds.
#[derive(Clone, Copy)]
pub(crate) enum Data<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// These DER certificates as concatenated PEM `CERTIFICATE` blocks, encoded a piece at a
    /// time so that a bundle of thousands is never held whole as text.
    PemCertificates(&'a [svid_core::Bytes]),
}

impl Data<'_> {
    /// Writes the contents to `file`.
    fn write_to(self, file: &mut File) -> io::Result<()> {
        match self {
            Data::Bytes(bytes) => file.write_all(bytes),
            Data::PemCertificates(certs) => {
                /// Text gathered before each write(2).
                const CHUNK: usize = 64 * 1024;
                let mut text = Vec::with_capacity(CHUNK + 4096);
                for der in certs {
                    pem::encode(pem::CERTIFICATE, der, &mut text);
                    if text.len() >= CHUNK {
                        file.write_all(&text)?;
                        text.clear();
                    }
                }
                file.write_all(&text)
            }
        }
    }
}

/// Why a set could not be written: the failed operation in Go's words, its path (and, for a
/// rename or a link, the second path), the OS error, and every target a rollback could not
/// put back.
#[derive(Debug)]
pub(crate) struct WriteError {
    /// The operation, as Go names it (`open`, `rename`, `link`, `sync`, ...).
    op: &'static str,
    /// The file the operation failed on; for a rename or a link, its source.
    path: PathBuf,
    /// The destination of a rename or a link.
    to: Option<PathBuf>,
    /// The OS error.
    source: io::Error,
    /// The targets a rollback after this error could not restore.
    rollback: Vec<RestoreFailure>,
}

/// A target of a set that a rollback could not put back, and why.
#[derive(Debug)]
pub(crate) struct RestoreFailure {
    /// The target left with its new content (or, if it was new, left in place).
    target: PathBuf,
    /// Why the backup could not be renamed back, or the new file removed.
    source: io::Error,
}

impl WriteError {
    /// `op` on `path` failed with `source`.
    pub(crate) fn new(op: &'static str, path: &Path, source: io::Error) -> WriteError {
        WriteError {
            op,
            path: path.to_path_buf(),
            to: None,
            source,
            rollback: Vec::new(),
        }
    }

    /// `op` (a rename or a link) from `from` to `to` failed with `source`.
    fn two(op: &'static str, from: &Path, to: &Path, source: io::Error) -> WriteError {
        WriteError {
            to: Some(to.to_path_buf()),
            ..WriteError::new(op, from, source)
        }
    }
}

/// Worded as Go's `*fs.PathError` on the target (`op path: err`), as upstream's
/// `os.WriteFile` fails in `pkg/disk/x509.go@v0.11.0`: e.g. `open certs/svid.pem: no such
/// file or directory` for a missing `cert_dir`; a rename or a link as Go's `*os.LinkError`
/// (`op old new: err`); then `; could not restore target: err` for each rollback failure.
impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.path.display())?;
        if let Some(to) = &self.to {
            write!(f, " {}", to.display())?;
        }
        write!(f, ": {}", GoErrno(&self.source))?;
        for failed in &self.rollback {
            write!(
                f,
                "; could not restore {}: {}",
                failed.target.display(),
                GoErrno(&failed.source)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes every output or none of them: on failure the previous files are left (or put
/// back) exactly as they were.
pub(crate) fn write_set(layout: Layout, outputs: &[Output<'_>]) -> Result<(), WriteError> {
    write_set_with_dirs(layout, outputs, &[])
}

/// [`write_set`] with directories in the set. Plain layout: each directory's files are
/// written and its stale managed files removed like the other files of the set (staged,
/// kept, renamed or removed, rolled back together). Symlinked layout: each directory is a
/// directory of the new version (its path must be a plain name in the directory of the
/// outputs, as `symlinked_layout` validation requires), published by the same rename.
pub(crate) fn write_set_with_dirs(
    layout: Layout,
    outputs: &[Output<'_>],
    dir_outputs: &[DirOutput<'_>],
) -> Result<(), WriteError> {
    match layout {
        Layout::Plain => plain::write_with_dirs(outputs, dir_outputs),
        Layout::Symlinked => symlinked::write(outputs, dir_outputs),
    }
}

/// Names tried by [`make_sibling`] before it gives up. A name already taken is a file this
/// process did not make (a leftover of an earlier process that had the same pid): it is
/// left alone and the next name is tried.
const NAME_ATTEMPTS: u32 = 8;

/// Makes a new file beside `target` with `make`, at the first free
/// `.<name>.<pid>.<n>.<ext>`: `make` must fail with `AlreadyExists` when its path is taken.
/// After [`NAME_ATTEMPTS`] taken names, `make`'s last error is returned.
fn make_sibling(
    target: &Path,
    ext: &str,
    mut make: impl FnMut(&Path) -> Result<(), WriteError>,
) -> Result<PathBuf, WriteError> {
    let mut attempts = 0;
    loop {
        let path = sibling(target, ext);
        attempts += 1;
        match make(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.source.kind() == io::ErrorKind::AlreadyExists => {
                if attempts == NAME_ATTEMPTS {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// `.<name>.<pid>.<n>.<ext>` beside `target` (the names [`leftovers`] recognises).
fn sibling(target: &Path, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(
        ".{name}.{}.{}.{ext}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Creates `path` (which must not exist) with `out`'s data and exactly its mode, fsynced;
/// errors name `shown`, the file the user configured, except that an existing `path` is
/// named itself. Removes `path` on failure.
fn create(path: &Path, shown: &Path, out: &Output<'_>) -> Result<(), WriteError> {
    // The umask can only narrow the mode given to open(2): the file is never readable
    // beyond its final mode, even before the fchmod below.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(out.mode)
        .open(path)
        .map_err(|e| {
            let taken = e.kind() == io::ErrorKind::AlreadyExists;
            WriteError::new("open", if taken { path } else { shown }, e)
        })?;
    let result = chown_file(&file)
        .map_err(|e| WriteError::new("chown", shown, e))
        .and_then(|()| {
            file.set_permissions(fs::Permissions::from_mode(out.mode))
                .map_err(|e| WriteError::new("chmod", shown, e))
        })
        .and_then(|()| {
            out.data
                .write_to(&mut file)
                .map_err(|e| WriteError::new("write", shown, e))
        })
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| WriteError::new("sync", shown, e))
        });
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// The directory of `target` (`.` for a bare name).
fn parent(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs `dir`, so the renames and removals in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `path` with mode 0755 exactly and the `file_owner`.
pub(crate) fn make_dir(path: &Path) -> Result<(), WriteError> {
    DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|e| WriteError::new("mkdir", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| WriteError::new("chmod", path, e))?;
    chown_path(path).map_err(|e| WriteError::new("chown", path, e))
}
