//! Atomic writes of a set of output files.
//!
//! Every file of a set is first written in full to a temporary file in its own directory,
//! created with the final mode, and fsynced. Only when all of them are ready are they renamed
//! over their targets, one right after the other, and each directory is fsynced. A failure
//! before the renames removes the temporaries and leaves every previous file untouched.
//!
//! Modes are applied on every write (upstream applies them only at creation), exactly as
//! configured: the umask does not narrow them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One file to write: its path, content and mode.
pub struct Output<'a> {
    pub path: &'a str,
    pub data: &'a [u8],
    pub mode: u32,
}

/// Why a set could not be written; names the file and the step.
#[derive(Debug)]
pub struct WriteError {
    path: PathBuf,
    step: &'static str,
    source: io::Error,
}

/// Worded as Go's `*fs.PathError` on the target, as upstream's `os.WriteFile` fails: e.g.
/// `open certs/svid.pem: no such file or directory` for a missing `cert_dir`.
impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.to_string_lossy();
        f.write_str(&crate::oserror::path_error(self.step, &path, &self.source))
    }
}

/// Writes every output or, on failure before the renames, none of them.
pub fn write_set(outputs: &[Output<'_>]) -> Result<(), WriteError> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(outputs.len());
    for out in outputs {
        match stage(out) {
            Ok(tmp) => staged.push((tmp, Path::new(out.path))),
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    let mut first_err = None;
    for (tmp, target) in &staged {
        if let Err(source) = fs::rename(tmp, target) {
            let _ = fs::remove_file(tmp);
            first_err.get_or_insert(WriteError {
                path: target.to_path_buf(),
                step: "rename to",
                source,
            });
        }
    }
    for (_, target) in &staged {
        if let Err(source) = sync_dir(target) {
            first_err.get_or_insert(WriteError {
                path: target.to_path_buf(),
                step: "sync directory of",
                source,
            });
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Writes `out` to a fresh temporary file beside its target; returns the temporary path.
fn stage(out: &Output<'_>) -> Result<PathBuf, WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let target = Path::new(out.path);
    let name = target
        .file_name()
        .map_or_else(|| out.path.to_owned(), |n| n.to_string_lossy().into_owned());
    let tmp = target.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let fail = |step, source| WriteError {
        path: target.to_path_buf(),
        step,
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(out.mode)
        .open(&tmp)
        .map_err(|e| fail("open", e))?;
    let result = file
        .set_permissions(fs::Permissions::from_mode(out.mode))
        .map_err(|e| fail("set mode of", e))
        .and_then(|()| file.write_all(out.data).map_err(|e| fail("write", e)))
        .and_then(|()| file.sync_all().map_err(|e| fail("sync", e)));
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn sync_dir(target: &Path) -> io::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
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

    #[test]
    fn writes_content_and_exact_modes_every_time() {
        let dir = temp_dir("modes");
        let a = dir.join("a.pem").to_string_lossy().into_owned();
        let b = dir.join("b.pem").to_string_lossy().into_owned();
        for (round, mode) in [(1u8, 0o600u32), (2, 0o644)] {
            let data = vec![round; 10];
            write_set(&[
                Output {
                    path: &a,
                    data: &data,
                    mode,
                },
                Output {
                    path: &b,
                    data: b"key",
                    mode: 0o640,
                },
            ])
            .unwrap();
            assert_eq!(fs::read(&a).unwrap(), data);
            assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, mode);
            assert_eq!(
                fs::metadata(&b).unwrap().permissions().mode() & 0o777,
                0o640
            );
        }
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            2,
            "no temporaries left"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failure_leaves_previous_files_untouched() {
        let dir = temp_dir("fail");
        let good = dir.join("svid.pem").to_string_lossy().into_owned();
        write_set(&[Output {
            path: &good,
            data: b"old",
            mode: 0o644,
        }])
        .unwrap();
        let missing = dir
            .join("no-such-dir/key.pem")
            .to_string_lossy()
            .into_owned();
        let err = write_set(&[
            Output {
                path: &good,
                data: b"new",
                mode: 0o644,
            },
            Output {
                path: &missing,
                data: b"k",
                mode: 0o600,
            },
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("open {missing}: no such file or directory"),
            "upstream's words"
        );
        assert_eq!(fs::read(&good).unwrap(), b"old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "temporary removed");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replaces_a_symlink_instead_of_writing_through_it() {
        let dir = temp_dir("link");
        let real = dir.join("real.pem");
        fs::write(&real, b"precious").unwrap();
        let link = dir.join("svid.pem");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let path = link.to_string_lossy().into_owned();
        write_set(&[Output {
            path: &path,
            data: b"svid",
            mode: 0o644,
        }])
        .unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"precious");
        assert_eq!(fs::read(&link).unwrap(), b"svid");
        assert!(
            !fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
