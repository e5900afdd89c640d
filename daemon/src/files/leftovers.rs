//! What a killed helper left behind, removed (or put back) at start: the temporaries and
//! backups of a plain write (`.<name>.<pid>.<n>.tmp|old`, which can hold copies of the key),
//! a whole set interrupted between its renames, unpublished versioned directories of the
//! symlinked layout, and, with the plain layout, what a run with the symlinked layout left.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::symlinked::{DATA, DATA_TMP, current_version, is_version_name};
use super::{Data, Layout, Output, parent, plain, sync_dir};

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

/// A leftover's file name, `.<name>.<pid>.<n>.tmp|old` (the names `super::sibling` makes).
struct LeftoverName<'a> {
    /// The file name of the target it was made for.
    target: &'a str,
    /// The process ID of the writer.
    pid: &'a str,
    /// A backup of the target (`old`), not a new file staged for it (`tmp`).
    backup: bool,
}

impl<'a> LeftoverName<'a> {
    /// Parses `file`; `None` if it is not a leftover's name.
    fn parse(file: &'a str) -> Option<LeftoverName<'a>> {
        let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let (rest, kind) = file.strip_prefix('.')?.rsplit_once('.')?;
        let (rest, n) = rest.rsplit_once('.')?;
        let (target, pid) = rest.rsplit_once('.')?;
        (numeric(pid) && numeric(n) && matches!(kind, "tmp" | "old")).then_some(LeftoverName {
            target,
            pid,
            backup: kind == "old",
        })
    }
}

/// A leftover found beside a target.
struct Leftover {
    /// Where it is.
    path: PathBuf,
    /// The process ID of the writer that left it.
    pid: String,
    /// A backup of the target, not a new file staged for it.
    backup: bool,
}

/// The `.<name>.<pid>.<n>.tmp|old` files beside `target`.
fn leftovers_of(target: &Path) -> Vec<Leftover> {
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
            let parsed = LeftoverName::parse(file.to_str()?)?;
            (parsed.target == name).then(|| Leftover {
                path: entry.path(),
                pid: parsed.pid.to_owned(),
                backup: parsed.backup,
            })
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
        let found: Vec<Vec<Leftover>> = set.iter().map(|p| leftovers_of(Path::new(p))).collect();
        let backups: Vec<Option<&Leftover>> = found
            .iter()
            .map(
                |f| match f.iter().filter(|l| l.backup).collect::<Vec<_>>()[..] {
                    [one] => Some(one),
                    _ => None,
                },
            )
            .collect();
        let whole = backups.iter().all(Option::is_some)
            && backups
                .iter()
                .flatten()
                .all(|b| backups[0].is_some_and(|first| first.pid == b.pid));
        if whole && layout == Layout::Plain {
            for (target, backup) in set.iter().zip(backups.iter().flatten()) {
                if fs::rename(&backup.path, target).is_ok() {
                    done.restored.push(PathBuf::from(target));
                }
            }
            if let Some(first) = backups.first().copied().flatten() {
                done.restored_sets.push((index, first.pid.clone()));
            }
        }
        for (path, leftovers) in set.iter().zip(&found) {
            let dir = parent(Path::new(path));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            for leftover in leftovers {
                if fs::remove_file(&leftover.path).is_ok() {
                    done.removed.push(leftover.path.clone());
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
            plain::write(
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

/// Cleans a directory of a plain set ([`DirOutput`](super::DirOutput)) after a killed
/// write, once [`clean_leftovers`] has dealt with the set's files: when it put the set back
/// whole from the backups of process `restore_pid`, that process's backups here are put
/// back too (removed files reappear); every other `.<name>.<pid>.<n>.tmp|old` of a
/// `managed` name is removed. A file the killed write added (no backup) stays until the
/// next write.
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
        let Some(name) = file.to_str().and_then(LeftoverName::parse) else {
            continue;
        };
        if !managed(name.target) {
            continue;
        }
        let path = entry.path();
        if name.backup && restore_pid == Some(name.pid) {
            let target = Path::new(dir).join(name.target);
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
