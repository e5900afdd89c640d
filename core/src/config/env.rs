//! `SPIFFE_HLP_<KEY>` environment variables (ours; the naming of upstream issue #223 and
//! PR #335, `cmd/spiffe-helper/config/config.go` there): every top-level key of
//! `helper.conf` can be set as `SPIFFE_HLP_` followed by the key in upper case.
//!
//! A scalar key's variable holds the value as the file would hold it in quotes, and is read
//! with the file's rules (an integer by Go's `strconv.ParseInt(s, 0, 0)`, a bool as `true`,
//! `false`, `1` or `0`, case-insensitively). A block or list key (`jwt_svids`, `x509_svids`,
//! `health_checks`, `start`, `reload`) holds its value as JSON, decoded as the file's JSON
//! form decodes it. A variable replaces the key's whole value: a list from the file is not
//! appended to, a block is not merged. A `SPIFFE_HLP_` name that is no key is an error, as
//! an unknown key in the file is.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::Config;
use super::decode::{STRUCTURED_KEYS, replace};
use super::json;
use super::syntax::{Pos, SyntaxError, SyntaxErrorKind, Value, ValueKind};

/// The prefix of the configuration variables.
pub const ENV_PREFIX: &str = "SPIFFE_HLP_";

/// A `SPIFFE_HLP_*` variable that cannot be applied; displays as `NAME: problem`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvError {
    /// The variable's name (bytes that are not UTF-8 replaced by U+FFFD).
    pub var: String,
    /// What is wrong with it.
    pub kind: EnvErrorKind,
}

/// What is wrong with a `SPIFFE_HLP_*` variable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvErrorKind {
    /// The name is not `SPIFFE_HLP_` followed by a key in upper case.
    UnknownKey,
    /// The value is not UTF-8.
    NotUtf8,
    /// A scalar key's value is not of the key's type (the file's message).
    Value(SyntaxErrorKind),
    /// A block or list key's JSON is malformed or of the wrong shape; the position is in
    /// the value.
    Json(SyntaxError),
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.var)?;
        match &self.kind {
            EnvErrorKind::UnknownKey => write!(
                f,
                "not a configuration key ({ENV_PREFIX} must be followed by a key of \
                 helper.conf in upper case, such as {ENV_PREFIX}CERT_DIR)"
            ),
            EnvErrorKind::NotUtf8 => f.write_str("the value is not UTF-8"),
            EnvErrorKind::Value(kind) => write!(f, "{kind}"),
            EnvErrorKind::Json(e) => write!(f, "{e} (the value of a block or list is JSON)"),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for EnvError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            EnvErrorKind::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// Applies the `SPIFFE_HLP_*` variables among `vars` (name, value) over `config`, in the
/// order of their names; other names are ignored. Returns how many were applied: 0 means
/// the environment configures nothing.
pub fn apply_env<'a>(
    config: &mut Config,
    vars: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<usize, EnvError> {
    let mut ours: Vec<(&[u8], &[u8])> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX.as_bytes()))
        .collect();
    ours.sort_unstable();
    for &(name, value) in &ours {
        apply_one(config, name, value)?;
    }
    Ok(ours.len())
}

/// Applies one `SPIFFE_HLP_*` variable.
fn apply_one(config: &mut Config, name: &[u8], value: &[u8]) -> Result<(), EnvError> {
    let error = |kind| EnvError {
        var: String::from_utf8_lossy(name).into_owned(),
        kind,
    };
    let suffix = &name[ENV_PREFIX.len()..];
    if suffix.is_empty()
        || !suffix
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
    {
        return Err(error(EnvErrorKind::UnknownKey));
    }
    let key = String::from_utf8_lossy(suffix).to_ascii_lowercase();
    let text = core::str::from_utf8(value).map_err(|_| error(EnvErrorKind::NotUtf8))?;
    let structured = STRUCTURED_KEYS.contains(&key.as_str());
    let value = if structured {
        json::value(text).map_err(|e| error(EnvErrorKind::Json(e)))?
    } else {
        Value {
            pos: Pos { line: 1, column: 1 },
            kind: ValueKind::String(String::from(text)),
        }
    };
    match replace(config, &key, value) {
        None => Err(error(EnvErrorKind::UnknownKey)),
        Some(Err(e)) if structured => Err(error(EnvErrorKind::Json(e))),
        Some(Err(e)) => Err(error(EnvErrorKind::Value(e.kind))),
        Some(Ok(())) => Ok(()),
    }
}
