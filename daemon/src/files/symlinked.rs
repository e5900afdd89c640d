//! The symlinked layout ([`Layout::Symlinked`](super::Layout::Symlinked),
//! `symlinked_layout = true`, ours): Kubernetes' atomic writer
//! (`pkg/volume/util/atomic_writer.go`). The files of a directory live in a versioned
//! directory `..<UTC time>`; `..data` is a symlink to the current one and each output is a
//! symlink `name -> ..data/name`. A new set is a new versioned directory (files not in the
//! set are hard-linked from the current one), published by one `rename(2)` of `..data`;
//! the old version is then removed.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    DirOutput, Output, WriteError, chown_path, create, make_dir, make_sibling, parent, sync_dir,
};

/// The symlink to the current versioned directory.
pub(super) const DATA: &str = "..data";
/// Where the next `..data` symlink is made before it is renamed over `..data`.
pub(super) const DATA_TMP: &str = "..data_tmp";

/// Writes `outputs` and `dir_outputs` as one new version in each directory they are in.
pub(super) fn write(
    outputs: &[Output<'_>],
    dir_outputs: &[DirOutput<'_>],
) -> Result<(), WriteError> {
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
pub(super) fn current_version(dir: &Path) -> Option<PathBuf> {
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
pub(super) fn version_stamp(secs: u64, nanos: u32) -> String {
    let rfc = crate::logger::rfc3339(secs); // 2026-11-30T10:00:00Z
    let digits: String = rfc
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '_' })
        .collect();
    format!("..{}.{nanos:09}", digits.trim_end_matches('_'))
}

/// Is `name` one of our versioned directory names?
pub(super) fn is_version_name(name: &str) -> bool {
    name.strip_prefix("..")
        .is_some_and(|rest| rest.len() >= 29 && rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Fills the new `version`: the current version's files the set does not replace, then
/// the set's files and directories.
fn fill_version(
    version: &Path,
    current: Option<&Path>,
    outs: &[&Output<'_>],
    subdirs: &[&DirOutput<'_>],
) -> Result<(), WriteError> {
    let names: HashSet<&OsStr> = outs
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
    skip: &HashSet<&OsStr>,
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
