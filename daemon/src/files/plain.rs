//! The plain layout ([`Layout::Plain`](super::Layout::Plain), the default, as upstream's
//! files in `pkg/disk/x509.go@v0.11.0`): each file is a regular file. Every new file is
//! staged as a temporary file beside its target, created with its final mode and fsynced;
//! each existing target is kept as a hard-linked backup. Only then are the temporaries
//! renamed over their targets, one after the other. If one rename fails (a bind-mounted or
//! immutable target, a directory in the way), the targets already renamed are restored from
//! their backups (or removed, if they did not exist before), so the set on disk is wholly
//! the old one; on success the backups are removed. A reader racing the renames can, for
//! that instant, see a new file beside an old one.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    DirOutput, Output, RestoreFailure, WriteError, create, make_sibling, parent, sync_dir,
};

/// Writes `outputs` and the files of `dir_outputs` as one set, removing each directory's
/// stale managed files with it.
pub(super) fn write_with_dirs(
    outputs: &[Output<'_>],
    dir_outputs: &[DirOutput<'_>],
) -> Result<(), WriteError> {
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
    let mut all: Vec<Output<'_>> = outputs.to_vec();
    let mut removals = Vec::new();
    for (d, paths) in dir_outputs.iter().zip(&paths) {
        all.extend(d.files.iter().zip(paths).map(|((_, data), path)| Output {
            path,
            data: *data,
            mode: d.mode,
        }));
        removals.extend(stale_files(d)?);
    }
    write(&all, &removals)
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

/// Writes `outputs` and removes `removals` as one set (see the module's comment).
pub(super) fn write(outputs: &[Output<'_>], removals: &[PathBuf]) -> Result<(), WriteError> {
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
fn roll_back(staged: &[Staged]) -> Vec<RestoreFailure> {
    let mut failed = Vec::new();
    for s in staged.iter().filter(|s| s.renamed).rev() {
        let restored = match &s.backup {
            Some(b) => fs::rename(b, &s.target),
            None => fs::remove_file(&s.target),
        };
        if let Err(source) = restored {
            failed.push(RestoreFailure {
                target: s.target.clone(),
                source,
            });
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

/// fsyncs each directory of the set once.
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
