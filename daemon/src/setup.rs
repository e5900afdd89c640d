//! What the opt-in output keys need before the first write (issue 16): `create_cert_dir`
//! creates the directories, `file_owner` is checked once with a real `fchown(2)` so a helper
//! that could never give its files that owner is refused at start, and the warning that
//! `include_federated_domains` deserves.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use log::warn;

use crate::files;
use crate::oserror::GoErrno;

/// Why the helper cannot start with these keys.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// `create_cert_dir`: a directory could not be created.
    CreateDir(PathBuf, files::WriteError),
    /// `file_owner`: the helper is not allowed to give its files this owner.
    Owner((u32, u32), io::Error),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CreateDir(dir, e) => write!(f, "create_cert_dir {}: {e}", dir.display()),
            Self::Owner((uid, gid), e) => write!(
                f,
                "file_owner \"{uid}:{gid}\": the helper cannot give its files this owner \
                 (fchown: {}); run it as root or with CAP_CHOWN, or remove file_owner",
                GoErrno(e)
            ),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir(_, e) => Some(e),
            Self::Owner(_, e) => Some(e),
        }
    }
}

/// Creates `dir` and its missing parents, each with mode 0755 and the `file_owner`.
pub(crate) fn create_dir(dir: &str) -> Result<(), SetupError> {
    let path = Path::new(if dir.is_empty() { "." } else { dir });
    let mut missing = Vec::new();
    for ancestor in path.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        if fs::symlink_metadata(ancestor).is_ok() {
            break;
        }
        missing.push(ancestor);
    }
    for created in missing.into_iter().rev() {
        files::make_dir(created).map_err(|e| SetupError::CreateDir(created.to_path_buf(), e))?;
    }
    Ok(())
}

/// Checks that the helper may give a file in `cert_dir` the owner `(uid, gid)`, with a probe
/// file `.spiffe-helper-owner.<pid>.0.tmp` (removed at once; the leftover pattern of the
/// set's temporaries). A `cert_dir` where no file can be created is left to the writes,
/// whose errors name it.
pub(crate) fn check_owner(cert_dir: &str, owner: (u32, u32)) -> Result<(), SetupError> {
    let dir = if cert_dir.is_empty() { "." } else { cert_dir };
    let probe = Path::new(dir).join(format!(".spiffe-helper-owner.{}.0.tmp", std::process::id()));
    let Ok(file) = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
    else {
        return Ok(());
    };
    let result = rustix::fs::fchown(
        &file,
        Some(rustix::fs::Uid::from_raw(owner.0)),
        Some(rustix::fs::Gid::from_raw(owner.1)),
    );
    drop(file);
    let _ = fs::remove_file(&probe);
    result.map_err(|e| SetupError::Owner(owner, e.into()))
}

/// The warning of upstream issue #217 for `include_federated_domains`.
pub(crate) fn warn_federated_merge(bundle: &str) {
    warn!(
        file = bundle;
        "include_federated_domains merges every federated trust domain's CAs into one bundle \
         file: a TLS peer that trusts it accepts any of those CAs as an issuer for your own \
         trust domain's SPIFFE IDs too, unless it checks the trust domain itself. Set \
         trust_bundle_dir to get one file per trust domain instead"
    );
}
