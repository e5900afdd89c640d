//! Writes of a set of output files that leave, after any failure at any step, either the
//! whole old set or the whole new set on disk.
//!
//! Two layouts (see docs/differences.md, "Atomic writes"):
//!
//! - [`Layout::Plain`] (the default, as upstream's files): each file is a regular file.
//!   Every new file is staged as a temporary file beside its target, created with its final
//!   mode and fsynced; each existing target is kept as a hard-linked backup. Only then are
//!   the temporaries renamed over their targets, one after the other. If one rename fails
//!   (a bind-mounted or immutable target, a directory in the way), the targets already
//!   renamed are restored from their backups (or removed, if they did not exist before), so
//!   the set on disk is wholly the old one; on success the backups are removed. A reader
//!   racing the renames can, for that instant, see a new file beside an old one.
//! - [`Layout::Symlinked`] (`symlinked_layout = true`, ours): Kubernetes' atomic writer. The
//!   files of a directory live in a versioned directory `..<UTC time>`; `..data` is a symlink
//!   to the current one and each output is a symlink `name -> ..data/name`. A new set is a
//!   new versioned directory (files not in the set are hard-linked from the current one),
//!   published by one `rename(2)` of `..data`; the old version is then removed.
//!
//! Modes are applied on every write (upstream applies them only at creation), exactly as
//! configured: the umask can only narrow a file while it is being written, never widen it.
//! [`clean_leftovers`] removes at start what a killed helper left behind (temporaries,
//! backups holding copies of the key, unpublished versioned directories) and, with the
//! plain layout, what a run with the symlinked layout left.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::oserror::GoErrno;
use svid_core::pem;

/// How the files are laid out on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Regular files, replaced by rename (with rollback).
    #[default]
    Plain,
    /// Symlinks into a versioned directory swapped with one rename (`symlinked_layout`).
    Symlinked,
}

/// The symlink to the current versioned directory.
const DATA: &str = "..data";
/// Where the next `..data` symlink is made before it is renamed over `..data`.
const DATA_TMP: &str = "..data_tmp";

/// One file to write: its path, content and mode.
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

/// Why a set could not be written: Go's wording of the failed operation, its path(s) and the
/// OS error (`open /certs/svid.pem: permission denied`), and any rollback that failed too.
#[derive(Debug)]
pub(crate) struct WriteError {
    op: &'static str,
    path: String,
    source: io::Error,
    rollback: Vec<String>,
}

impl WriteError {
    /// `op` on `path` failed with `source`.
    pub(crate) fn new(op: &'static str, path: &Path, source: io::Error) -> WriteError {
        WriteError {
            op,
            path: path.display().to_string(),
            source,
            rollback: Vec::new(),
        }
    }

    fn two(op: &'static str, from: &Path, to: &Path, source: io::Error) -> WriteError {
        WriteError {
            op,
            path: format!("{} {}", from.display(), to.display()),
            source,
            rollback: Vec::new(),
        }
    }
}

/// Worded as Go's `*fs.PathError` on the target, as upstream's `os.WriteFile` fails: e.g.
/// `open certs/svid.pem: no such file or directory` for a missing `cert_dir`.
impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path, GoErrno(&self.source))?;
        for failed in &self.rollback {
            write!(f, "; could not restore {failed}")?;
        }
        Ok(())
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
        Layout::Plain => {
            let paths: Vec<Vec<String>> = dir_outputs
                .iter()
                .map(|d| {
                    let dir = Path::new(d.path);
                    d.files
                        .iter()
                        .map(|(name, _)| dir.join(name).to_string_lossy().into_owned())
                        .collect()
                })
                .collect();
            let mut all: Vec<Output<'_>> = outputs.iter().map(Output::copy).collect();
            let mut removals = Vec::new();
            for (d, paths) in dir_outputs.iter().zip(&paths) {
                all.extend(d.files.iter().zip(paths).map(|((_, data), path)| Output {
                    path,
                    data: *data,
                    mode: d.mode,
                }));
                removals.extend(stale_files(d)?);
            }
            write_plain(&all, &removals)
        }
        Layout::Symlinked => {
            type Group<'o, 'a> = (PathBuf, Vec<&'o Output<'a>>, Vec<&'o DirOutput<'a>>);
            let mut dirs: Vec<Group<'_, '_>> = Vec::new();
            let mut group = |path: &str| {
                let dir = parent(Path::new(path)).to_path_buf();
                match dirs.iter().position(|(d, _, _)| *d == dir) {
                    Some(i) => i,
                    None => {
                        dirs.push((dir, Vec::new(), Vec::new()));
                        dirs.len() - 1
                    }
                }
            };
            let mut at = Vec::new();
            for out in outputs {
                at.push((group(out.path), Some(out), None));
            }
            for d in dir_outputs {
                at.push((group(d.path), None, Some(d)));
            }
            for (i, out, d) in at {
                dirs[i].1.extend(out);
                dirs[i].2.extend(d);
            }
            dirs.iter()
                .try_for_each(|(dir, outs, subdirs)| write_version(dir, outs, subdirs))
        }
    }
}

impl Output<'_> {
    fn copy(&self) -> Output<'_> {
        Output {
            path: self.path,
            data: self.data,
            mode: self.mode,
        }
    }
}

/// The managed files of `d` on disk that are not in its new set (a missing directory has
/// none).
fn stale_files(d: &DirOutput<'_>) -> Result<Vec<PathBuf>, WriteError> {
    let dir = Path::new(d.path);
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WriteError::new("open", dir, e)),
    };
    Ok(entries
        .flatten()
        .filter(|e| !e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|name| (d.managed)(name) && !d.files.iter().any(|(f, _)| f == name))
        })
        .map(|e| e.path())
        .collect())
}

/// A staged file of the plain layout.
struct Staged {
    /// The new content; `None` for a file the set removes.
    tmp: Option<PathBuf>,
    target: PathBuf,
    /// A hard link to the previous target, if there was one to keep.
    backup: Option<PathBuf>,
    renamed: bool,
}

fn write_plain(outputs: &[Output<'_>], removals: &[PathBuf]) -> Result<(), WriteError> {
    let mut staged: Vec<Staged> = Vec::with_capacity(outputs.len() + removals.len());
    // Stage every file and keep every old one before touching any target.
    let news = outputs
        .iter()
        .map(|out| (PathBuf::from(out.path), Some(out)));
    let gone = removals.iter().map(|path| (path.clone(), None));
    for (target, out) in news.chain(gone) {
        let tmp = match out {
            Some(out) => match make_sibling(&target, "tmp", |tmp| create(tmp, &target, out)) {
                Ok(tmp) => Some(tmp),
                Err(e) => {
                    discard(&staged);
                    return Err(e);
                }
            },
            None => None,
        };
        let mut s = Staged {
            tmp,
            target,
            backup: None,
            renamed: false,
        };
        let kept = keep(&s.target);
        match kept {
            Ok(backup) => {
                s.backup = backup;
                staged.push(s);
            }
            Err(e) => {
                staged.push(s);
                discard(&staged);
                return Err(e);
            }
        }
    }
    for i in 0..staged.len() {
        let s = &staged[i];
        let done = match &s.tmp {
            Some(tmp) => fs::rename(tmp, &s.target)
                .map_err(|source| WriteError::two("rename", tmp, &s.target, source)),
            None => fs::remove_file(&s.target).map_err(|e| WriteError::new("remove", &s.target, e)),
        };
        if let Err(mut err) = done {
            err.rollback = roll_back(&staged);
            discard(&staged);
            let _ = sync_dirs(&staged);
            return Err(err);
        }
        staged[i].renamed = true;
    }
    let synced = sync_dirs(&staged);
    for s in &staged {
        if let Some(b) = &s.backup {
            let _ = fs::remove_file(b);
        }
    }
    synced
}

/// Keeps the current target as a hard link `.<name>.<pid>.<n>.old` beside it. Nothing to
/// keep when there is no target, or when it is a directory (a file can never be renamed
/// over one: the rename will fail and name it).
fn keep(target: &Path) -> Result<Option<PathBuf>, WriteError> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WriteError::new("lstat", target, e)),
        Ok(m) if m.is_dir() => return Ok(None),
        Ok(_) => {}
    }
    // link(2) without AT_SYMLINK_FOLLOW: a symlink is kept as the symlink itself.
    let backup = make_sibling(target, "old", |backup| {
        fs::hard_link(target, backup).map_err(|e| WriteError::two("link", target, backup, e))
    })?;
    Ok(Some(backup))
}

/// Puts back what was renamed; returns the targets that could not be restored.
fn roll_back(staged: &[Staged]) -> Vec<String> {
    let mut failed = Vec::new();
    for s in staged.iter().filter(|s| s.renamed).rev() {
        let restored = match &s.backup {
            Some(b) => fs::rename(b, &s.target),
            None => fs::remove_file(&s.target),
        };
        if let Err(e) = restored {
            failed.push(format!("{}: {}", s.target.display(), GoErrno(&e)));
        }
    }
    failed
}

/// Removes the temporaries and backups that are still there.
fn discard(staged: &[Staged]) {
    for s in staged {
        if let Some(tmp) = &s.tmp {
            let _ = fs::remove_file(tmp);
        }
        if let Some(b) = &s.backup {
            let _ = fs::remove_file(b);
        }
    }
}

fn sync_dirs(staged: &[Staged]) -> Result<(), WriteError> {
    let mut seen = HashSet::new();
    for s in staged {
        let dir = parent(&s.target);
        if seen.insert(dir.to_path_buf()) {
            sync_dir(dir).map_err(|e| WriteError::new("sync", dir, e))?;
        }
    }
    Ok(())
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

/// `.<name>.<pid>.<n>.<ext>` beside `target`.
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

fn parent(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Publishes `outs` in `dir` as a new version of the symlinked layout.
fn write_version(
    dir: &Path,
    outs: &[&Output<'_>],
    subdirs: &[&DirOutput<'_>],
) -> Result<(), WriteError> {
    let data = dir.join(DATA);
    let current = current_version(dir);
    let (name, version) = new_version_dir(dir)?;
    let filled = fill_version(&version, current.as_deref(), outs, subdirs)
        .and_then(|()| sync_dir(&version).map_err(|e| WriteError::new("sync", &version, e)))
        .and_then(|()| {
            let tmp = dir.join(DATA_TMP);
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&name, &tmp)
                .map_err(|e| WriteError::new("symlink", &tmp, e))?;
            chown_path(&tmp).map_err(|e| WriteError::new("chown", &tmp, e))?;
            fs::rename(&tmp, &data).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                WriteError::two("rename", &tmp, &data, e)
            })
        });
    if let Err(e) = filled {
        let _ = fs::remove_dir_all(&version);
        return Err(e);
    }
    // Published. Point each output at `..data/<name>` (already so after the first write).
    let mut result = sync_dir(dir).map_err(|e| WriteError::new("sync", dir, e));
    let targets = outs
        .iter()
        .map(|o| o.path)
        .chain(subdirs.iter().map(|d| d.path));
    for target in targets {
        let target = Path::new(target);
        let Some(file) = target.file_name() else {
            continue;
        };
        let want = Path::new(DATA).join(file);
        if fs::read_link(target).is_ok_and(|t| t == want) {
            continue;
        }
        let linked = make_sibling(target, "tmp", |tmp| {
            std::os::unix::fs::symlink(&want, tmp).map_err(|e| WriteError::new("symlink", tmp, e))
        })
        .and_then(|tmp| {
            chown_path(&tmp)
                .map_err(|e| WriteError::new("chown", &tmp, e))
                .and_then(|()| {
                    fs::rename(&tmp, target).map_err(|e| WriteError::two("rename", &tmp, target, e))
                })
                .inspect_err(|_| {
                    let _ = fs::remove_file(&tmp);
                })
        });
        if let Err(e) = linked {
            result = result.and(Err(e));
        }
    }
    if let Err(e) = sync_dir(dir) {
        result = result.and(Err(WriteError::new("sync", dir, e)));
    }
    if let Some(old) = current.filter(|c| *c != version) {
        let _ = fs::remove_dir_all(old);
    }
    result
}

/// The versioned directory `..data` points to, if it is one.
fn current_version(dir: &Path) -> Option<PathBuf> {
    let target = fs::read_link(dir.join(DATA)).ok()?;
    let path = dir.join(target);
    fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_dir())
        .then_some(path)
}

/// Creates `..YYYY_MM_DD_HH_MM_SS.nnnnnnnnn` (mode 0755) in `dir`.
fn new_version_dir(dir: &Path) -> Result<(OsString, PathBuf), WriteError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = version_stamp(now.as_secs(), now.subsec_nanos());
    for n in 0u32.. {
        let name = if n == 0 {
            stamp.clone()
        } else {
            format!("{stamp}_{n}")
        };
        let path = dir.join(&name);
        match DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .map_err(|e| WriteError::new("chmod", &path, e))?;
                chown_path(&path).map_err(|e| WriteError::new("chown", &path, e))?;
                return Ok((name.into(), path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
            Err(e) => return Err(WriteError::new("mkdir", &path, e)),
        }
    }
    unreachable!("0u32.. ends only through a return")
}

/// `..2026_11_30_10_00_00.123456789` for the given Unix time, UTC.
fn version_stamp(secs: u64, nanos: u32) -> String {
    let rfc = crate::logger::rfc3339(secs); // 2026-11-30T10:00:00Z
    let digits: String = rfc
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '_' })
        .collect();
    format!("..{}.{nanos:09}", digits.trim_end_matches('_'))
}

/// Is `name` one of our versioned directory names?
fn is_version_name(name: &str) -> bool {
    name.strip_prefix("..")
        .is_some_and(|rest| rest.len() >= 29 && rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn fill_version(
    version: &Path,
    current: Option<&Path>,
    outs: &[&Output<'_>],
    subdirs: &[&DirOutput<'_>],
) -> Result<(), WriteError> {
    let names: HashSet<&std::ffi::OsStr> = outs
        .iter()
        .map(|o| o.path)
        .chain(subdirs.iter().map(|d| d.path))
        .filter_map(|p| Path::new(p).file_name())
        .collect();
    if let Some(current) = current {
        link_files(current, version, &names, true)?;
    }
    for out in outs {
        let target = Path::new(out.path);
        let file = target.file_name().unwrap_or(target.as_os_str());
        create(&version.join(file), target, out)?;
    }
    for d in subdirs {
        let target = Path::new(d.path);
        let sub = version.join(target.file_name().unwrap_or(target.as_os_str()));
        make_dir(&sub)?;
        for (name, data) in &d.files {
            let shown = target.join(name);
            let out = Output {
                path: "",
                data: *data,
                mode: d.mode,
            };
            create(&sub.join(name), &shown, &out)?;
        }
    }
    Ok(())
}

/// Hard-links the regular files of `from` that are not in `skip` into `to` (and, with
/// `subdirs`, the files of each subdirectory into a new one): the outputs of the current
/// version that the new one does not replace.
fn link_files(
    from: &Path,
    to: &Path,
    skip: &HashSet<&std::ffi::OsStr>,
    subdirs: bool,
) -> Result<(), WriteError> {
    let entries = fs::read_dir(from).map_err(|e| WriteError::new("open", from, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let (source, dest) = (entry.path(), to.join(&name));
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if skip.contains(name.as_os_str()) {
            continue;
        }
        if kind.is_file() {
            fs::hard_link(&source, &dest)
                .map_err(|e| WriteError::two("link", &source, &dest, e))?;
        } else if kind.is_dir() && subdirs {
            make_dir(&dest)?;
            link_files(&source, &dest, &HashSet::new(), false)?;
        }
    }
    Ok(())
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

/// What [`clean_leftovers`] did.
#[derive(Debug, Default)]
pub(crate) struct Cleaned {
    /// Targets put back from the backups of a write killed in the middle of its renames.
    pub restored: Vec<PathBuf>,
    /// Leftovers removed.
    pub removed: Vec<PathBuf>,
    /// Outputs of an earlier run with `symlinked_layout` that were symlinks into `..data`,
    /// now plain copies of their files.
    pub unlinked: Vec<PathBuf>,
    /// What an earlier run with `symlinked_layout` left and the plain layout does not use:
    /// `..data` and the versioned directories (copies of the key among them).
    pub other_layout: Vec<PathBuf>,
    /// The sets (by index) put back whole, with the process ID of the killed write.
    pub restored_sets: Vec<(usize, String)>,
}

/// A leftover's file name, `.<name>.<pid>.<n>.tmp|old` ([`sibling`]'s naming): its target's
/// name, the writer's process ID, and whether it is a backup (`old`).
fn leftover_name(file: &str) -> Option<(&str, &str, bool)> {
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let (rest, kind) = file.strip_prefix('.')?.rsplit_once('.')?;
    let (rest, n) = rest.rsplit_once('.')?;
    let (name, pid) = rest.rsplit_once('.')?;
    (numeric(pid) && numeric(n) && matches!(kind, "tmp" | "old")).then_some((
        name,
        pid,
        kind == "old",
    ))
}

/// The `.<name>.<pid>.<n>.tmp|old` files beside `target`: (path, pid, is a backup).
fn leftovers_of(target: &Path) -> Vec<(PathBuf, String, bool)> {
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(parent(target)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let file = entry.file_name();
            let (of, pid, backup) = leftover_name(file.to_str()?)?;
            (of == name).then(|| (entry.path(), pid.to_owned(), backup))
        })
        .collect()
}

/// Cleans up after a helper killed mid-write, in the directories of the outputs; `sets`
/// are the files written together (the X.509 trio, the JWT bundle, each JWT-SVID).
///
/// Plain layout: when every file of a set has a backup from the same process, the write
/// was killed before it removed any backup, maybe between two renames: the backups are
/// renamed back, so the set is wholly the old one again. Otherwise (killed while staging,
/// or after the renames while removing backups) the targets are consistent and the backups
/// are dropped. Then every `.<name>.<pid>.<n>.tmp|old` left (they can hold copies of the
/// key) is removed and, with the symlinked layout, `..data_tmp` and every versioned
/// directory `..data` does not point to. With the plain layout, what a run with the
/// symlinked layout left is undone ([`drop_symlinked_layout`]).
pub(crate) fn clean_leftovers(layout: Layout, sets: &[&[&str]]) -> Cleaned {
    let mut done = Cleaned::default();
    let mut dirs: Vec<&Path> = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        let found: Vec<Vec<(PathBuf, String, bool)>> =
            set.iter().map(|p| leftovers_of(Path::new(p))).collect();
        let backups: Vec<Option<&(PathBuf, String, bool)>> = found
            .iter()
            .map(|f| match f.iter().filter(|l| l.2).collect::<Vec<_>>()[..] {
                [one] => Some(one),
                _ => None,
            })
            .collect();
        let whole = backups.iter().all(Option::is_some)
            && backups
                .iter()
                .flatten()
                .all(|b| backups[0].is_some_and(|first| first.1 == b.1));
        if whole && layout == Layout::Plain {
            for (target, backup) in set.iter().zip(backups.iter().flatten()) {
                if fs::rename(&backup.0, target).is_ok() {
                    done.restored.push(PathBuf::from(target));
                }
            }
            if let Some(first) = backups.first().copied().flatten() {
                done.restored_sets.push((index, first.1.clone()));
            }
        }
        for (path, leftovers) in set.iter().zip(&found) {
            let dir = parent(Path::new(path));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            for (leftover, _, _) in leftovers {
                if fs::remove_file(leftover).is_ok() {
                    done.removed.push(leftover.clone());
                }
            }
        }
    }
    if !done.restored.is_empty() {
        for dir in &dirs {
            let _ = sync_dir(dir);
        }
    }
    if layout == Layout::Plain {
        for dir in dirs {
            drop_symlinked_layout(dir, sets, &mut done);
        }
    } else {
        for dir in dirs {
            let tmp = dir.join(DATA_TMP);
            if fs::remove_file(&tmp).is_ok() {
                done.removed.push(tmp);
            }
            let current = current_version(dir);
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let versioned = entry.file_name().to_str().is_some_and(is_version_name);
                if versioned
                    && entry.file_type().is_ok_and(|t| t.is_dir())
                    && current.as_ref() != Some(&path)
                    && fs::remove_dir_all(&path).is_ok()
                {
                    done.removed.push(path);
                }
            }
        }
    }
    done
}

/// Undoes, in `dir`, what a run with `symlinked_layout` left for the plain layout: each
/// output of `sets` in `dir` that is a symlink `name -> ..data/name` is replaced by a plain
/// copy of its file (its bytes and mode, written as any output is), then `..data` (if it
/// points to a versioned name), `..data_tmp` and every versioned directory `..<UTC time>`
/// are removed. Nothing else is touched; if a copy fails, nothing is removed, so no output
/// is left dangling.
fn drop_symlinked_layout(dir: &Path, sets: &[&[&str]], done: &mut Cleaned) {
    let data = dir.join(DATA);
    let ours =
        |link: &Path| fs::read_link(link).is_ok_and(|t| t.to_str().is_some_and(is_version_name));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let versions: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_version_name))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    if versions.is_empty() && !ours(&data) && !ours(&dir.join(DATA_TMP)) {
        return;
    }
    let outputs = sets.iter().flat_map(|set| set.iter()).copied();
    for target in outputs.filter(|t| parent(Path::new(t)) == dir) {
        let Some(file) = Path::new(target).file_name() else {
            continue;
        };
        if !fs::read_link(target).is_ok_and(|t| t == Path::new(DATA).join(file)) {
            continue;
        }
        // Read through the symlink: the published version's file.
        let copied = fs::metadata(target).and_then(|meta| {
            let bytes = fs::read(target)?;
            let mode = meta.permissions().mode() & 0o7777;
            let data = Data::Bytes(&bytes);
            write_plain(
                &[Output {
                    path: target,
                    data,
                    mode,
                }],
                &[],
            )
            .map_err(|e| e.source)
        });
        match copied {
            Ok(()) => done.unlinked.push(PathBuf::from(target)),
            Err(_) => return,
        }
    }
    for link in [data, dir.join(DATA_TMP)] {
        if ours(&link) && fs::remove_file(&link).is_ok() {
            done.other_layout.push(link);
        }
    }
    for version in versions {
        if fs::remove_dir_all(&version).is_ok() {
            done.other_layout.push(version);
        }
    }
    let _ = sync_dir(dir);
}

/// Cleans a directory of a plain set ([`DirOutput`]) after a killed write, once
/// [`clean_leftovers`] has dealt with the set's files: when it put the set back whole from
/// the backups of process `restore_pid`, that process's backups here are put back too
/// (removed files reappear); every other `.<name>.<pid>.<n>.tmp|old` of a `managed` name is
/// removed. A file the killed write added (no backup) stays until the next write.
pub(crate) fn clean_dir_leftovers(
    dir: &str,
    managed: fn(&str) -> bool,
    restore_pid: Option<&str>,
) -> Cleaned {
    let mut done = Cleaned::default();
    let Ok(entries) = fs::read_dir(dir) else {
        return done;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some((name, pid, backup)) = file.to_str().and_then(leftover_name) else {
            continue;
        };
        if !managed(name) {
            continue;
        }
        let path = entry.path();
        if backup && restore_pid == Some(pid) {
            let target = Path::new(dir).join(name);
            // A write killed while staging left the backup as a second link to the target
            // itself: rename(2) then succeeds and leaves both names (nothing was changed), so
            // the backup still there is removed below.
            if fs::rename(&path, &target).is_ok() && fs::symlink_metadata(&path).is_err() {
                done.restored.push(target);
                continue;
            }
        }
        if fs::remove_file(&path).is_ok() {
            done.removed.push(path);
        }
    }
    if !done.restored.is_empty() {
        let _ = sync_dir(Path::new(dir));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("files-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn set<'a>(paths: &'a [String; 3], data: &'a [&'a [u8]; 3]) -> [Output<'a>; 3] {
        [0, 1, 2].map(|i| Output {
            path: &paths[i],
            data: Data::Bytes(data[i]),
            mode: if i == 1 { 0o600 } else { 0o644 },
        })
    }

    fn paths(dir: &Path) -> [String; 3] {
        ["svid.pem", "svid_key.pem", "svid_bundle.pem"]
            .map(|n| dir.join(n).to_string_lossy().into_owned())
    }

    #[test]
    fn writes_content_and_exact_modes_every_time() {
        for layout in [Layout::Plain, Layout::Symlinked] {
            let dir = temp_dir(&format!("modes-{layout:?}"));
            let a = dir.join("a.pem").to_string_lossy().into_owned();
            let b = dir.join("b.pem").to_string_lossy().into_owned();
            for (round, mode) in [(1u8, 0o600u32), (2, 0o644)] {
                let data = vec![round; 10];
                write_set(
                    layout,
                    &[
                        Output {
                            path: &a,
                            data: Data::Bytes(&data),
                            mode,
                        },
                        Output {
                            path: &b,
                            data: Data::Bytes(b"key"),
                            mode: 0o640,
                        },
                    ],
                )
                .unwrap();
                assert_eq!(fs::read(&a).unwrap(), data);
                assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, mode);
                assert_eq!(
                    fs::metadata(&b).unwrap().permissions().mode() & 0o777,
                    0o640
                );
            }
            let want = match layout {
                Layout::Plain => 2,
                Layout::Symlinked => 4, // a.pem, b.pem, ..data and one version
            };
            assert_eq!(names(&dir).len(), want, "{layout:?}: {:?}", names(&dir));
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn pem_certificates_are_streamed_to_the_text_of_the_whole() {
        // 300 "certificates" of 700 bytes: about 280 kB of PEM, several 64 KiB pieces.
        let certs: Vec<svid_core::Bytes> = (0..300u32)
            .map(|i| {
                (0..700)
                    .map(|j| (i * 7 + j) as u8)
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect();
        let mut whole = Vec::new();
        for der in &certs {
            pem::encode(pem::CERTIFICATE, der, &mut whole);
        }
        for layout in [Layout::Plain, Layout::Symlinked] {
            let dir = temp_dir(&format!("stream-{layout:?}"));
            let path = dir.join("bundle.pem").to_string_lossy().into_owned();
            let out = Output {
                path: &path,
                data: Data::PemCertificates(&certs),
                mode: 0o644,
            };
            write_set(layout, &[out]).unwrap();
            assert_eq!(fs::read(&path).unwrap(), whole, "{layout:?}");
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn failure_while_staging_leaves_previous_files_untouched() {
        let dir = temp_dir("fail");
        let good = dir.join("svid.pem").to_string_lossy().into_owned();
        let one = |data: &'static [u8]| Output {
            path: &good,
            data: Data::Bytes(data),
            mode: 0o644,
        };
        write_set(Layout::Plain, &[one(b"old")]).unwrap();
        let missing = dir
            .join("no-such-dir/key.pem")
            .to_string_lossy()
            .into_owned();
        let err = write_set(
            Layout::Plain,
            &[
                one(b"new"),
                Output {
                    path: &missing,
                    data: Data::Bytes(b"k"),
                    mode: 0o600,
                },
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("open {missing}: no such file or directory")
        );
        assert_eq!(fs::read(&good).unwrap(), b"old");
        assert_eq!(names(&dir), ["svid.pem"], "temporary and backup removed");
        fs::remove_dir_all(dir).unwrap();
    }

    /// A non-empty directory in place of one file makes its rename fail for real (EISDIR);
    /// the files renamed before it are put back, whichever file of the set fails.
    #[test]
    fn a_failed_rename_of_any_file_restores_the_old_set() {
        for failing in 0..3 {
            let dir = temp_dir(&format!("rollback-{failing}"));
            let p = paths(&dir);
            write_set(
                Layout::Plain,
                &set(&p, &[b"old-svid", b"old-key", b"old-bundle"]),
            )
            .unwrap();
            fs::remove_file(&p[failing]).unwrap();
            fs::create_dir(&p[failing]).unwrap();
            fs::write(Path::new(&p[failing]).join("x"), b"x").unwrap();
            let before = names(&dir);
            let err = write_set(
                Layout::Plain,
                &set(&p, &[b"new-svid", b"new-key", b"new-bundle"]),
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("rename ")
                    && text.ends_with(&format!("{}: is a directory", p[failing])),
                "{text}"
            );
            for (i, old) in [&b"old-svid"[..], b"old-key", b"old-bundle"]
                .iter()
                .enumerate()
            {
                if i != failing {
                    assert_eq!(
                        fs::read(&p[i]).unwrap(),
                        *old,
                        "file {i}, failing {failing}"
                    );
                }
            }
            assert_eq!(names(&dir), before, "no temporaries or backups left");
            fs::remove_dir_all(dir).unwrap();
        }
    }

    /// With no previous set, a failure removes the new files already renamed.
    #[test]
    fn a_failed_first_write_leaves_no_new_files() {
        let dir = temp_dir("rollback-first");
        let p = paths(&dir);
        fs::create_dir(&p[2]).unwrap();
        fs::write(Path::new(&p[2]).join("x"), b"x").unwrap();
        write_set(Layout::Plain, &set(&p, &[b"svid", b"key", b"bundle"])).unwrap_err();
        assert_eq!(names(&dir), ["svid_bundle.pem"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replaces_a_symlink_instead_of_writing_through_it() {
        for layout in [Layout::Plain, Layout::Symlinked] {
            let dir = temp_dir(&format!("link-{layout:?}"));
            let real = dir.join("real.pem");
            fs::write(&real, b"precious").unwrap();
            let link = dir.join("svid.pem");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            let path = link.to_string_lossy().into_owned();
            write_set(
                layout,
                &[Output {
                    path: &path,
                    data: Data::Bytes(b"svid"),
                    mode: 0o644,
                }],
            )
            .unwrap();
            assert_eq!(fs::read(&real).unwrap(), b"precious");
            assert_eq!(fs::read(&link).unwrap(), b"svid");
            let kind = fs::symlink_metadata(&link).unwrap().file_type();
            match layout {
                Layout::Plain => assert!(!kind.is_symlink()),
                Layout::Symlinked => {
                    assert_eq!(fs::read_link(&link).unwrap(), Path::new("..data/svid.pem"))
                }
            }
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn symlinked_layout_swaps_one_version_and_keeps_other_files() {
        let dir = temp_dir("versions");
        let p = paths(&dir);
        write_set(Layout::Symlinked, &set(&p, &[b"s1", b"k1", b"b1"])).unwrap();
        let first = fs::read_link(dir.join(DATA)).unwrap();
        assert!(is_version_name(first.to_str().unwrap()), "{first:?}");
        let jwt = dir.join("jwt.token").to_string_lossy().into_owned();
        write_set(
            Layout::Symlinked,
            &[Output {
                path: &jwt,
                data: Data::Bytes(b"token"),
                mode: 0o600,
            }],
        )
        .unwrap();
        write_set(Layout::Symlinked, &set(&p, &[b"s2", b"k2", b"b2"])).unwrap();
        let last = fs::read_link(dir.join(DATA)).unwrap();
        assert_ne!(first, last);
        for (path, want) in p.iter().zip([b"s2", b"k2", b"b2"]) {
            assert_eq!(fs::read(path).unwrap(), want);
            let link = fs::read_link(path).unwrap();
            assert!(link.starts_with(DATA), "{link:?}");
        }
        assert_eq!(fs::read(&jwt).unwrap(), b"token", "kept across versions");
        let key = dir.join(&last).join("svid_key.pem");
        assert_eq!(
            fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut want = vec![
            DATA.to_owned(),
            last.to_string_lossy().into_owned(),
            "jwt.token".into(),
            "svid.pem".into(),
            "svid_bundle.pem".into(),
            "svid_key.pem".into(),
        ];
        want.sort();
        assert_eq!(names(&dir), want, "old versions removed");
        fs::remove_dir_all(dir).unwrap();
    }

    /// The symlinked layout's `..data` and versions go once it is off; a `..data` that is
    /// not ours (it points to no versioned name) stays, and so does everything else; if an
    /// output cannot be copied out, nothing is removed, so no output is left dangling.
    #[test]
    fn the_symlinked_layout_is_undone_only_where_it_is_ours() {
        let dir = temp_dir("undo-symlinked");
        let p = paths(&dir);
        write_set(Layout::Symlinked, &set(&p, &[b"s", b"k", b"b"])).unwrap();
        let version = dir.join(fs::read_link(dir.join(DATA)).unwrap());
        let refs: Vec<&str> = p.iter().map(String::as_str).collect();
        // The key cannot be copied out (its file is gone from the version): nothing goes.
        let key = version.join("svid_key.pem");
        fs::rename(&key, dir.join("key.aside")).unwrap();
        let partial = clean_leftovers(Layout::Plain, &[&refs]);
        assert!(partial.other_layout.is_empty(), "{partial:?}");
        assert!(version.exists() && fs::read_link(&p[1]).is_ok());
        fs::rename(dir.join("key.aside"), &key).unwrap();
        for path in &partial.unlinked {
            // Copied out before the key failed; a symlink again, as the layout had it.
            fs::remove_file(path).unwrap();
            let name = path.file_name().unwrap();
            std::os::unix::fs::symlink(Path::new(DATA).join(name), path).unwrap();
        }

        let done = clean_leftovers(Layout::Plain, &[&refs]);
        assert_eq!(done.unlinked.len(), 3, "{done:?}");
        assert_eq!(done.other_layout, [dir.join(DATA), version.clone()]);
        for (path, want) in p.iter().zip([b"s", b"k", b"b"]) {
            assert!(fs::symlink_metadata(path).unwrap().is_file());
            assert_eq!(fs::read(path).unwrap(), want);
        }
        let mode = fs::metadata(&p[1]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(names(&dir), ["svid.pem", "svid_bundle.pem", "svid_key.pem"]);

        // A `..data` of someone else's.
        std::os::unix::fs::symlink("elsewhere", dir.join(DATA)).unwrap();
        let done = clean_leftovers(Layout::Plain, &[&refs]);
        assert!(done.other_layout.is_empty() && done.unlinked.is_empty());
        assert!(fs::symlink_metadata(dir.join(DATA)).is_ok());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn leftovers_of_a_killed_helper_are_removed_and_nothing_else() {
        let dir = temp_dir("leftovers");
        let p = paths(&dir);
        write_set(Layout::Symlinked, &set(&p, &[b"s", b"k", b"b"])).unwrap();
        let current = fs::read_link(dir.join(DATA)).unwrap();
        let junk = [
            ".svid.pem.123.4.tmp",
            ".svid_key.pem.77.0.old",
            ".svid_bundle.pem.1.2.tmp",
        ];
        let keep = [
            ".svid.pem.x.tmp",
            ".other.pem.1.2.tmp",
            "svid.pem.1.2.tmp",
            ".svid.pem.1.2.tmp.bak",
        ];
        for name in junk.iter().chain(&keep) {
            fs::write(dir.join(name), b"secret").unwrap();
        }
        let stale = dir.join(version_stamp(1_700_000_000, 5));
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("svid_key.pem"), b"old key").unwrap();
        std::os::unix::fs::symlink(&current, dir.join(DATA_TMP)).unwrap();
        fs::create_dir(dir.join("..not-ours")).unwrap();

        let refs: Vec<&str> = p.iter().map(String::as_str).collect();
        let done = clean_leftovers(Layout::Symlinked, &[&refs]);
        assert!(done.restored.is_empty());
        assert_eq!(done.removed.len(), junk.len() + 2, "{done:?}");
        let left = names(&dir);
        for name in junk {
            assert!(!left.contains(&name.to_owned()), "{name} left");
        }
        for name in keep {
            assert!(left.contains(&name.to_owned()), "{name} removed");
        }
        assert!(!stale.exists() && !dir.join(DATA_TMP).exists());
        assert!(dir.join("..not-ours").exists());
        assert_eq!(fs::read(&p[1]).unwrap(), b"k", "the current version stays");
        fs::remove_dir_all(dir).unwrap();
    }

    /// The states a SIGKILL can leave a plain write in, rebuilt by hand (the crash test
    /// in tests/tests/e2e_writes.rs kills the real binary).
    #[test]
    fn a_write_killed_between_renames_is_rolled_back_at_start() {
        let dir = temp_dir("restore");
        let p = paths(&dir);
        let refs: Vec<&str> = p.iter().map(String::as_str).collect();
        let old: [&[u8]; 3] = [b"old-svid", b"old-key", b"old-bundle"];
        let pid = 4242;
        // Killed after renaming svid.pem and the key, before the bundle: all backups there.
        for (i, path) in p.iter().enumerate() {
            let name = Path::new(path).file_name().unwrap().to_str().unwrap();
            fs::write(dir.join(format!(".{name}.{pid}.{}.old", 2 * i + 1)), old[i]).unwrap();
            if i < 2 {
                fs::write(path, b"new").unwrap();
            } else {
                fs::write(path, old[i]).unwrap();
                fs::write(dir.join(format!(".{name}.{pid}.{}.tmp", 2 * i)), b"new").unwrap();
            }
        }
        let done = clean_leftovers(Layout::Plain, &[&refs]);
        assert_eq!(done.restored.len(), 3, "{done:?}");
        for (path, want) in p.iter().zip(old) {
            assert_eq!(fs::read(path).unwrap(), want);
        }
        assert_eq!(names(&dir).len(), 3, "{:?}", names(&dir));

        // Killed while removing backups (svid.pem's already gone): the new set stays.
        for (i, path) in p.iter().enumerate() {
            fs::write(path, b"new").unwrap();
            if i > 0 {
                let name = Path::new(path).file_name().unwrap().to_str().unwrap();
                fs::write(dir.join(format!(".{name}.{pid}.{}.old", 2 * i + 1)), old[i]).unwrap();
            }
        }
        let done = clean_leftovers(Layout::Plain, &[&refs]);
        assert!(
            done.restored.is_empty() && done.removed.len() == 2,
            "{done:?}"
        );
        for path in &p {
            assert_eq!(fs::read(path).unwrap(), b"new");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    fn pem_names(name: &str) -> bool {
        name.ends_with(".pem")
    }

    fn bundles<'a>(path: &'a str, tds: &[&str], data: &'a [u8]) -> DirOutput<'a> {
        DirOutput {
            path,
            files: tds
                .iter()
                .map(|td| (format!("{td}.pem"), Data::Bytes(data)))
                .collect(),
            mode: 0o644,
            managed: pem_names,
        }
    }

    /// Plain layout: the directory's files are written with the set, managed files of
    /// domains that are gone are removed, other entries are left alone; a failure elsewhere
    /// in the set puts the removed file back.
    #[test]
    fn a_directory_of_the_set_drops_stale_files_and_rolls_back_with_it() {
        let dir = temp_dir("dir-plain");
        let sub = dir.join("bundles");
        fs::create_dir(&sub).unwrap();
        let sub_path = sub.to_string_lossy().into_owned();
        let p = paths(&dir);
        fs::write(sub.join("gone.test.pem"), b"old gone").unwrap();
        fs::write(sub.join("README"), b"mine").unwrap();
        write_set_with_dirs(
            Layout::Plain,
            &set(&p, &[b"s1", b"k1", b"b1"]),
            &[bundles(&sub_path, &["a.test", "b.test"], b"v1")],
        )
        .unwrap();
        assert_eq!(names(&sub), ["README", "a.test.pem", "b.test.pem"]);

        fs::write(sub.join("gone.test.pem"), b"old gone").unwrap();
        fs::remove_file(&p[2]).unwrap();
        fs::create_dir(&p[2]).unwrap();
        fs::write(Path::new(&p[2]).join("x"), b"x").unwrap();
        write_set_with_dirs(
            Layout::Plain,
            &set(&p, &[b"s2", b"k2", b"b2"]),
            &[bundles(&sub_path, &["a.test"], b"v2")],
        )
        .unwrap_err();
        assert_eq!(
            names(&sub),
            ["README", "a.test.pem", "b.test.pem", "gone.test.pem"]
        );
        assert_eq!(fs::read(sub.join("a.test.pem")).unwrap(), b"v1");
        assert_eq!(fs::read(sub.join("gone.test.pem")).unwrap(), b"old gone");
        assert_eq!(fs::read(&p[0]).unwrap(), b"s1");
        fs::remove_dir_all(dir).unwrap();
    }

    /// Symlinked layout: the directory is part of the version (one rename publishes it
    /// with the files), and a later write of other files keeps it.
    #[test]
    fn a_directory_of_the_set_is_part_of_the_version() {
        let dir = temp_dir("dir-symlinked");
        let sub_path = dir.join("bundles").to_string_lossy().into_owned();
        let p = paths(&dir);
        for (round, tds) in [(b"1", &["a.test", "b.test"][..]), (b"2", &["a.test"][..])] {
            write_set_with_dirs(
                Layout::Symlinked,
                &set(&p, &[round, round, round]),
                &[bundles(&sub_path, tds, round)],
            )
            .unwrap();
        }
        assert_eq!(
            fs::read_link(&sub_path).unwrap(),
            Path::new("..data/bundles")
        );
        assert_eq!(names(Path::new(&sub_path)), ["a.test.pem"]);
        let version = dir.join(fs::read_link(dir.join(DATA)).unwrap());
        let meta = fs::metadata(version.join("bundles")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        let jwt = dir.join("jwt.token").to_string_lossy().into_owned();
        let token = Output {
            path: &jwt,
            data: Data::Bytes(b"token"),
            mode: 0o600,
        };
        write_set(Layout::Symlinked, &[token]).unwrap();
        assert_eq!(
            fs::read(Path::new(&sub_path).join("a.test.pem")).unwrap(),
            b"2"
        );
        assert_eq!(fs::read(&p[0]).unwrap(), b"2");
        fs::remove_dir_all(dir).unwrap();
    }

    /// A plain write killed between its renames: the directory's backups of the same
    /// process come back with the set, other leftovers go.
    #[test]
    fn a_killed_write_of_a_directory_is_rolled_back_at_start() {
        let dir = temp_dir("dir-restore");
        let sub = dir.join("bundles");
        fs::create_dir(&sub).unwrap();
        let sub_path = sub.to_string_lossy().into_owned();
        fs::write(sub.join(".gone.test.pem.42.7.old"), b"removed by the kill").unwrap();
        fs::write(sub.join(".a.test.pem.42.5.old"), b"old a").unwrap();
        fs::write(sub.join("a.test.pem"), b"new a").unwrap();
        fs::write(sub.join(".b.test.pem.42.6.tmp"), b"new b").unwrap();
        fs::write(sub.join(".c.test.pem.41.1.old"), b"older kill").unwrap();
        fs::write(sub.join(".notes.7.1.old"), b"not managed").unwrap();
        // Killed while staging: the backup is still a link to the target itself.
        fs::write(sub.join("b.test.pem"), b"current b").unwrap();
        fs::hard_link(sub.join("b.test.pem"), sub.join(".b.test.pem.42.8.old")).unwrap();
        let done = clean_dir_leftovers(&sub_path, pem_names, Some("42"));
        assert_eq!(done.restored.len(), 2, "{done:?}");
        assert_eq!(done.removed.len(), 3, "{done:?}");
        assert_eq!(fs::read(sub.join("b.test.pem")).unwrap(), b"current b");
        assert_eq!(fs::read(sub.join("a.test.pem")).unwrap(), b"old a");
        assert_eq!(
            fs::read(sub.join("gone.test.pem")).unwrap(),
            b"removed by the kill"
        );
        assert_eq!(
            names(&sub),
            [
                ".notes.7.1.old",
                "a.test.pem",
                "b.test.pem",
                "gone.test.pem"
            ]
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn version_names_sort_by_time() {
        assert_eq!(
            version_stamp(1_796_032_800, 123_000_000),
            "..2026_11_30_10_00_00.123000000"
        );
        assert!(is_version_name(&version_stamp(0, 0)));
        assert!(!is_version_name(DATA) && !is_version_name(DATA_TMP));
    }
}
