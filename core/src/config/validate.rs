//! Upstream's `ValidateConfig` (`cmd/spiffe-helper/config/config.go@v0.11.0`): the same checks in
//! the same order, the first error wins,
//! with upstream's exact messages; then the defaults (file modes, agent address, daemon
//! mode, health listener).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use super::duration::parse_duration;
use super::lifecycle::{
    Args, DEFAULT_HOOK_TIMEOUT, ExecBlock, Hook, HookEvent, Lifecycle, Restart, Workload,
};
use super::{Config, signal_number};
use crate::health::slots::DEFAULT_READ_HEADER_TIMEOUT;

/// Agent socket used when neither `agent_address` nor `SPIFFE_ENDPOINT_SOCKET` is set.
pub const DEFAULT_AGENT_ADDRESS: &str = "/tmp/spire-agent/public/api.sock";
/// Mode of the SVID and bundle files when `cert_file_mode` is 0 or absent.
pub const DEFAULT_CERT_FILE_MODE: u32 = 0o644;
/// Mode of the key, JWT bundle and JWT-SVID files when their mode is 0 or absent.
pub const DEFAULT_KEY_FILE_MODE: u32 = 0o600;
/// Health listener port when `bind_port` is 0 or absent.
pub const DEFAULT_BIND_PORT: i64 = 8081;
/// `max_message_size` when it is 0 or absent: 16 MiB, so that a bundle of 10,000 federated
/// CAs fits (gRPC's own default of 4 MiB does not).
pub const DEFAULT_MAX_MESSAGE_SIZE: i64 = 16 << 20;
/// Largest `max_message_size` accepted: 1 GiB. The helper holds at most one message of this
/// size being reassembled (and one decompressed copy); a larger bound is almost certainly a
/// typo.
pub const MAX_MAX_MESSAGE_SIZE: i64 = 1 << 30;
/// Health liveness path when `liveness_path` is empty.
pub const DEFAULT_LIVENESS_PATH: &str = "/live";
/// Health readiness path when `readiness_path` is empty.
pub const DEFAULT_READINESS_PATH: &str = "/ready";

/// Why a configuration is rejected. Messages are upstream's, word for word.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// Top-level keys that are not known (sorted, as written).
    UnknownTopLevelKeys(Vec<String>),
    /// Keys of one `jwt_svids` entry that are not known.
    UnknownJwtSvidKeys {
        /// Index of the entry.
        index: usize,
        /// The keys, sorted, as written.
        keys: Vec<String>,
    },
    /// A `jwt_svids` entry without `jwt_svid_file_name` (upstream's message names it
    /// `jwt_file_name`; kept so that scripts matching it keep working).
    JwtSvidFileNameRequired {
        /// Index of the entry.
        index: usize,
    },
    /// A `jwt_svids` entry without `jwt_audience`.
    JwtAudienceRequired {
        /// Index of the entry.
        index: usize,
    },
    /// `pid_file_name` with `daemon_mode = false`.
    PidFileWithoutDaemonMode,
    /// `pid_file_name` without `renew_signal`.
    PidFileWithoutRenewSignal,
    /// One or two of the X.509 file names, not all three.
    IncompleteX509Files,
    /// No X.509 files, no `jwt_svids` and no `jwt_bundle_file_name`.
    NothingToWrite,
    /// `cert_file_mode` below 0.
    NegativeCertFileMode,
    /// `key_file_mode` below 0.
    NegativeKeyFileMode,
    /// `jwt_bundle_file_mode` below 0.
    NegativeJwtBundleFileMode,
    /// `jwt_svid_file_mode` below 0.
    NegativeJwtSvidFileMode,
    /// `health_checks.bind_port` below 0 with the listener enabled.
    NegativeBindPort,
    /// `health_checks.metrics_path` (ours) that a request's path can never equal: it does
    /// not start with `/`, or holds `?`, `#`, a space or a control character.
    MetricsPath(String),
    /// `health_checks.metrics_path` equal to the liveness or readiness path (named).
    MetricsPathTaken {
        /// The path.
        path: String,
        /// `liveness_path` or `readiness_path`.
        by: &'static str,
    },
    /// `max_message_size` below 0 or above [`MAX_MAX_MESSAGE_SIZE`] (ours).
    MaxMessageSizeOutOfRange(i64),
    /// `symlinked_layout` with an output file name that is not a plain name in `cert_dir`
    /// (has a `/`, or starts with `..`, which the layout's own entries use). Ours.
    SymlinkedLayoutName(String),
    /// `one_shot_timeout` that is not a positive Go duration (ours).
    BadTimeout(String),
    /// Keys of a `start` or `reload` block that are not known (sorted, as written).
    UnknownBlockKeys {
        /// `start` or `reload`.
        block: &'static str,
        /// The keys.
        keys: Vec<String>,
    },
    /// A `reload.exec` block (its index) that cannot run.
    Exec(usize, ExecError),
    /// A `start` block without `cmd`.
    StartCmdRequired,
    /// `start.restart` that is not a policy.
    Restart(String),
    /// A legacy key and its block counterpart are both set.
    LegacyAndBlock {
        /// The legacy key (`cmd`, `cmd_args`, `renew_signal`, `pid_file_name`).
        legacy: &'static str,
        /// The block key that replaces it.
        block: &'static str,
    },
    /// `reload.pid_file` with `daemon_mode = false`.
    ReloadPidFileWithoutDaemonMode,
    /// `reload.pid_file` without `reload.signal`.
    ReloadPidFileWithoutSignal,
    /// `reload.signal` names no signal.
    UnknownReloadSignal(String),
    /// An output of the X.509 response (`svid_credential_bundle_file_name`,
    /// `trust_bundle_dir`, `spiffe_bundle_map_file_name`) without the three X.509 file
    /// names. Ours.
    NeedsX509Files(&'static str),
    /// `trust_bundle_dir` is `cert_dir` itself, or holds another output file: the helper
    /// removes the files of trust domains that are gone from it. Ours.
    TrustBundleDir(String),
    /// `file_owner` is not `UID:GID` with numeric IDs. Ours.
    FileOwner(String),
    /// `health_checks.bind_address` is not an IP literal. Ours.
    BadBindAddress(String),
    /// `health_checks.read_header_timeout` is not a positive Go duration. Ours.
    BadReadHeaderTimeout(String),
    /// A PKCS#12 store name (the key) without `pkcs12_password_file`. Ours.
    Pkcs12WithoutPassword(String),
    /// `pkcs12_password_file` without a PKCS#12 store name. Ours.
    Pkcs12PasswordWithoutStore,
    /// Keys of one `x509_svids` entry that are not known (sorted, as written). Ours.
    UnknownX509SvidKeys {
        /// Index of the entry.
        index: usize,
        /// The keys.
        keys: Vec<String>,
    },
    /// An `x509_svids` entry without `hint`. Ours.
    X509SvidHintRequired(usize),
    /// An `x509_svids` entry without all three of its X.509 file names. Ours.
    X509SvidFilesRequired(usize),
    /// Two `x509_svids` entries with the same hint (the later one's index). Ours.
    DuplicateHint {
        /// Index of the later entry.
        index: usize,
        /// The hint.
        hint: String,
    },
    /// A file of an `x509_svids` entry that is also another output's file. Ours.
    DuplicateFileName {
        /// The entry's key, such as `x509_svids[1].svid_file_name`.
        key: String,
        /// The file name as written.
        name: String,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTopLevelKeys(keys) => {
                write!(f, "unknown top level key(s): {}", keys.join(","))
            }
            Self::UnknownJwtSvidKeys { index, keys } => {
                write!(
                    f,
                    "unknown key(s) in jwt_svids[{index}]: {}",
                    keys.join(",")
                )
            }
            Self::JwtSvidFileNameRequired { .. } => {
                f.write_str("'jwt_file_name' is required in 'jwt_svids'")
            }
            Self::JwtAudienceRequired { .. } => {
                f.write_str("'jwt_audience' is required in 'jwt_svids'")
            }
            Self::PidFileWithoutDaemonMode => f.write_str(
                "pid_file_name is set but daemon_mode is false. \
                 pid_file_name is only supported in daemon_mode",
            ),
            Self::PidFileWithoutRenewSignal => {
                f.write_str("must specify renew_signal when using pid_file_name")
            }
            Self::IncompleteX509Files => f.write_str(
                "all or none of 'svid_file_name', 'svid_key_file_name', \
                 'svid_bundle_file_name' must be specified",
            ),
            Self::NothingToWrite => f.write_str(
                "at least one of the sets ('svid_file_name', 'svid_key_file_name', \
                 'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' \
                 must be fully specified",
            ),
            Self::NegativeCertFileMode => f.write_str("cert file mode must be positive"),
            Self::NegativeKeyFileMode => f.write_str("key file mode must be positive"),
            Self::NegativeJwtBundleFileMode => f.write_str("jwt bundle file mode must be positive"),
            Self::NegativeJwtSvidFileMode => f.write_str("jwt svid file mode must be positive"),
            Self::NegativeBindPort => f.write_str("bind port must be positive"),
            Self::MetricsPath(path) => write!(
                f,
                "health_checks.metrics_path {path:?} is not a URL path: it must start with '/' \
                 and hold no '?', '#', space or control character (empty turns metrics off)"
            ),
            Self::MetricsPathTaken { path, by } => write!(
                f,
                "health_checks.metrics_path {path:?} is also the {by}: give the metrics their own path"
            ),
            Self::MaxMessageSizeOutOfRange(n) => write!(
                f,
                "max_message_size {n} is out of range: give a number of bytes from 1 to \
                 {MAX_MAX_MESSAGE_SIZE} (1 GiB), or 0 for the default {DEFAULT_MAX_MESSAGE_SIZE} \
                 (16 MiB)"
            ),
            Self::SymlinkedLayoutName(name) => write!(
                f,
                "symlinked_layout needs plain file names in cert_dir (no '/', not starting with '..'): {name:?}"
            ),
            Self::UnknownBlockKeys { block, keys } => {
                write!(f, "unknown key(s) in {block}: {}", keys.join(","))
            }
            Self::Exec(index, e) => write!(f, "reload.exec[{index}]: {e}"),
            Self::StartCmdRequired => f.write_str("'cmd' is required in 'start'"),
            Self::Restart(policy) => write!(
                f,
                "start.restart {policy:?} is not one of \"never\", \"on-failure\", \"always\""
            ),
            Self::LegacyAndBlock { legacy, block } => write!(
                f,
                "{legacy} and {block} are both set: keep one (the start and reload blocks \
                 replace cmd, cmd_args, renew_signal and pid_file_name)"
            ),
            Self::ReloadPidFileWithoutDaemonMode => f.write_str(
                "reload.pid_file is set but daemon_mode is false. \
                 reload.pid_file is only supported in daemon_mode",
            ),
            Self::ReloadPidFileWithoutSignal => {
                f.write_str("must specify reload.signal when using reload.pid_file")
            }
            Self::UnknownReloadSignal(s) => write!(
                f,
                "reload.signal {s:?} is not a signal name such as \"SIGHUP\""
            ),
            Self::BadTimeout(text) => write!(
                f,
                "one_shot_timeout {text:?} is not a positive duration such as \"30s\", \"2m\" or \"1m30s\""
            ),
            Self::NeedsX509Files(key) => write!(
                f,
                "{key} needs the X.509 files: set 'svid_file_name', 'svid_key_file_name' and \
                 'svid_bundle_file_name' too"
            ),
            Self::TrustBundleDir(dir) => write!(
                f,
                "trust_bundle_dir {dir:?} must be a directory below cert_dir that holds no other \
                 output file (the helper removes the files of trust domains that are gone)"
            ),
            Self::FileOwner(owner) => write!(
                f,
                "file_owner {owner:?} is not \"UID:GID\" with numeric IDs, such as \"1000:1000\""
            ),
            Self::BadBindAddress(text) => write!(
                f,
                "health_checks.bind_address {text:?} is not an IP address such as \"127.0.0.1\", \
                 \"::1\" or \"[::1]\" (leave it out to listen on all interfaces)"
            ),
            Self::BadReadHeaderTimeout(text) => write!(
                f,
                "health_checks.read_header_timeout {text:?} is not a positive duration such as \
                 \"1s\" or \"500ms\""
            ),
            Self::Pkcs12WithoutPassword(key) => write!(
                f,
                "{key} needs 'pkcs12_password_file': the file holding the store's password \
                 (it may be empty)"
            ),
            Self::Pkcs12PasswordWithoutStore => f.write_str(
                "pkcs12_password_file is set but neither 'pkcs12_keystore_file_name' nor \
                 'pkcs12_truststore_file_name' is",
            ),
            Self::UnknownX509SvidKeys { index, keys } => {
                write!(
                    f,
                    "unknown key(s) in x509_svids[{index}]: {}",
                    keys.join(",")
                )
            }
            Self::X509SvidHintRequired(index) => {
                write!(f, "'hint' is required in 'x509_svids[{index}]'")
            }
            Self::X509SvidFilesRequired(index) => write!(
                f,
                "all of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must \
                 be specified in 'x509_svids[{index}]'"
            ),
            Self::DuplicateHint { index, hint } => write!(
                f,
                "x509_svids[{index}]: hint {hint:?} is already used by another entry; \
                 each entry needs its own hint"
            ),
            Self::DuplicateFileName { key, name } => write!(
                f,
                "{key} {name:?} is also the file of another output: each file name must be \
                 unique"
            ),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for ValidationError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Exec(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Something accepted but worth logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// `cmd` with `daemon_mode = false`.
    CmdIgnored,
    /// `renew_signal` with `daemon_mode = false`.
    RenewSignalIgnored,
    /// `one_shot_timeout` in daemon mode, which runs until stopped.
    TimeoutIgnored,
    /// A `start` or `reload` block (its name) with `daemon_mode = false`.
    BlockIgnored(&'static str),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CmdIgnored => {
                "cmd is set but daemon_mode is false. cmd will be ignored. \
                 This may become an error in a future release."
            }
            Self::RenewSignalIgnored => {
                "renew_signal is set but daemon_mode is false. renew_signal will be ignored. \
                 This may become an error in a future release."
            }
            Self::TimeoutIgnored => {
                "one_shot_timeout is set but daemon_mode is true. one_shot_timeout only limits \
                 a one-shot run and will be ignored."
            }
            Self::BlockIgnored("start") => {
                "start is set but daemon_mode is false. start will be ignored."
            }
            Self::BlockIgnored(_) => {
                "reload.signal is set but daemon_mode is false. reload.signal will be ignored \
                 (reload.exec hooks run in both modes)."
            }
        })
    }
}

/// A configuration that passed validation, with every default applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated {
    config: Config,
    daemon_mode: bool,
    timeout: Option<Duration>,
    lifecycle: Lifecycle,
    file_owner: Option<(u32, u32)>,
    health_bind_address: Option<IpAddr>,
    health_read_header_timeout: Duration,
}

impl Validated {
    /// The configuration with defaults applied: `agent_address` is set, the four modes are
    /// positive, and when the health listener is enabled its port and paths are set.
    /// `daemon_mode` holds the resolved value.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, by value.
    pub fn into_config(self) -> Config {
        self.config
    }

    /// Daemon mode: the `-daemon-mode` flag if given, else the file, else true.
    pub fn daemon_mode(&self) -> bool {
        self.daemon_mode
    }

    /// Whether the X.509 files (all three names) are configured.
    pub fn x509_enabled(&self) -> bool {
        !self.config.svid_file_name.is_empty()
    }

    /// Permission bits of the SVID and bundle files (only the low 9 bits count, as in Go's
    /// `os.OpenFile`).
    pub fn cert_file_mode(&self) -> u32 {
        perm(self.config.cert_file_mode)
    }

    /// Permission bits of the key file.
    pub fn key_file_mode(&self) -> u32 {
        perm(self.config.key_file_mode)
    }

    /// Permission bits of the JWT bundle file.
    pub fn jwt_bundle_file_mode(&self) -> u32 {
        perm(self.config.jwt_bundle_file_mode)
    }

    /// `max_message_size` in bytes, default applied (at most [`MAX_MAX_MESSAGE_SIZE`]).
    pub fn max_message_size(&self) -> usize {
        usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX)
    }

    /// Permission bits of the JWT-SVID files.
    pub fn jwt_svid_file_mode(&self) -> u32 {
        perm(self.config.jwt_svid_file_mode)
    }

    /// What the helper starts and signals, from the legacy keys or the `start` and `reload`
    /// blocks.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// `one_shot_timeout` in one-shot mode (`None` in daemon mode, or when not set).
    pub fn one_shot_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// `file_owner` as (UID, GID), if set.
    pub fn file_owner(&self) -> Option<(u32, u32)> {
        self.file_owner
    }

    /// `health_checks.bind_address` as an address, `None` for all interfaces.
    pub fn health_bind_address(&self) -> Option<IpAddr> {
        self.health_bind_address
    }

    /// `health_checks.read_header_timeout`, default applied.
    pub fn health_read_header_timeout(&self) -> Duration {
        self.health_read_header_timeout
    }
}

/// An IPv4 or IPv6 literal, IPv6 with or without the brackets of a URL's host
/// (RFC 3986 §3.2.2). A zone (`fe80::1%eth0`) and host names are not addresses.
fn parse_ip(text: &str) -> Option<IpAddr> {
    match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(v6) => v6.parse().ok().map(IpAddr::V6),
        None => text.parse().ok(),
    }
}

/// Reads `file_owner`: two decimal IDs below 2^32 - 1 (`-1` means "unchanged" to chown(2))
/// separated by one `:`.
fn parse_owner(owner: &str) -> Option<(u32, u32)> {
    let id = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|&n| n != u32::MAX)
    };
    let (uid, gid) = owner.split_once(':')?;
    Some((id(uid)?, id(gid)?))
}

/// Checks `trust_bundle_dir` against `cert_dir` and the output file names (see
/// [`ValidationError::TrustBundleDir`]).
fn check_trust_bundle_dir<'a>(
    cert_dir: &str,
    dir: &str,
    outputs: impl Iterator<Item = &'a String>,
) -> Result<(), ValidationError> {
    let joined = super::join_path(cert_dir, dir);
    let inside = alloc::format!("{joined}/");
    let mut outputs = outputs.map(|name| super::join_path(cert_dir, name));
    if joined == super::join_path(cert_dir, ".") || outputs.any(|p| p.starts_with(&inside)) {
        return Err(ValidationError::TrustBundleDir(String::from(dir)));
    }
    Ok(())
}

fn perm(mode: i64) -> u32 {
    (mode & 0o777) as u32
}

/// Replaces a mode of 0 by `default`; a negative mode is `error`.
fn mode(mode: &mut i64, default: u32, error: ValidationError) -> Result<(), ValidationError> {
    match *mode {
        m if m < 0 => Err(error),
        0 => {
            *mode = i64::from(default);
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Config {
    /// Validates as upstream's `ValidateConfig` (`cmd/spiffe-helper/config/config.go@v0.11.0`)
    /// does (same order, first error wins, same
    /// messages) and applies the defaults. `daemon_mode_flag` is the `-daemon-mode` flag
    /// when it was given on the command line; `endpoint_env` is `SPIFFE_ENDPOINT_SOCKET`.
    /// Returns the warnings to log. The Windows-only check on `renew_signal` is left out:
    /// this helper runs on Linux.
    pub fn validate(
        mut self,
        daemon_mode_flag: Option<bool>,
        endpoint_env: Option<&str>,
    ) -> Result<(Validated, Vec<Warning>), ValidationError> {
        if !self.unknown_keys.is_empty() {
            return Err(ValidationError::UnknownTopLevelKeys(self.unknown_keys));
        }
        if let Some((index, jwt)) = self
            .jwt_svids
            .iter()
            .enumerate()
            .find(|(_, j)| !j.unknown_keys.is_empty())
        {
            let keys = jwt.unknown_keys.clone();
            return Err(ValidationError::UnknownJwtSvidKeys { index, keys });
        }
        for (index, jwt) in self.jwt_svids.iter().enumerate() {
            if jwt.jwt_svid_file_name.is_empty() {
                return Err(ValidationError::JwtSvidFileNameRequired { index });
            }
            if jwt.jwt_audience.is_empty() {
                return Err(ValidationError::JwtAudienceRequired { index });
            }
        }
        if self.agent_address.is_empty() {
            self.agent_address = String::from(match endpoint_env {
                Some(env) if !env.is_empty() => env,
                _ => DEFAULT_AGENT_ADDRESS,
            });
        }

        let daemon_mode = daemon_mode_flag.or(self.daemon_mode).unwrap_or(true);
        self.daemon_mode = Some(daemon_mode);
        let mut warnings = Vec::new();
        // Only a config of ours has blocks (upstream refuses them as unknown keys): checking
        // them first keeps upstream's order for every upstream config.
        let lifecycle = self.lifecycle(daemon_mode, &mut warnings)?;
        if !daemon_mode {
            if !self.cmd.is_empty() {
                warnings.push(Warning::CmdIgnored);
            }
            if !self.renew_signal.is_empty() {
                warnings.push(Warning::RenewSignalIgnored);
            }
            if !self.pid_file_name.is_empty() {
                return Err(ValidationError::PidFileWithoutDaemonMode);
            }
        }
        if !self.pid_file_name.is_empty() && self.renew_signal.is_empty() {
            return Err(ValidationError::PidFileWithoutRenewSignal);
        }

        let x509_names = [
            &self.svid_file_name,
            &self.svid_key_file_name,
            &self.svid_bundle_file_name,
        ];
        let x509_set = x509_names.iter().filter(|n| !n.is_empty()).count();
        if x509_set != 0 && x509_set != 3 {
            return Err(ValidationError::IncompleteX509Files);
        }
        if !self.x509_svids.is_empty() {
            if x509_set == 0 {
                return Err(ValidationError::NeedsX509Files("x509_svids"));
            }
            self.check_x509_svids()?;
        }
        if x509_set == 0 && self.jwt_svids.is_empty() && self.jwt_bundle_file_name.is_empty() {
            return Err(ValidationError::NothingToWrite);
        }

        use ValidationError as E;
        mode(
            &mut self.cert_file_mode,
            DEFAULT_CERT_FILE_MODE,
            E::NegativeCertFileMode,
        )?;
        mode(
            &mut self.key_file_mode,
            DEFAULT_KEY_FILE_MODE,
            E::NegativeKeyFileMode,
        )?;
        mode(
            &mut self.jwt_bundle_file_mode,
            DEFAULT_KEY_FILE_MODE,
            E::NegativeJwtBundleFileMode,
        )?;
        mode(
            &mut self.jwt_svid_file_mode,
            DEFAULT_KEY_FILE_MODE,
            E::NegativeJwtSvidFileMode,
        )?;

        match self.max_message_size {
            0 => self.max_message_size = DEFAULT_MAX_MESSAGE_SIZE,
            n if !(1..=MAX_MAX_MESSAGE_SIZE).contains(&n) => {
                return Err(ValidationError::MaxMessageSizeOutOfRange(n));
            }
            _ => {}
        }
        let x509_extras = [
            (
                "svid_credential_bundle_file_name",
                &self.svid_credential_bundle_file_name,
            ),
            ("trust_bundle_dir", &self.trust_bundle_dir),
            (
                "spiffe_bundle_map_file_name",
                &self.spiffe_bundle_map_file_name,
            ),
            ("pkcs12_keystore_file_name", &self.pkcs12_keystore_file_name),
            (
                "pkcs12_truststore_file_name",
                &self.pkcs12_truststore_file_name,
            ),
        ];
        if let Some((key, _)) = x509_extras.iter().find(|(_, v)| !v.is_empty())
            && x509_set == 0
        {
            return Err(ValidationError::NeedsX509Files(key));
        }
        let entry_stores = self.x509_svids.iter().enumerate().flat_map(|(i, e)| {
            e.files()
                .filter(|(key, _)| key.starts_with("pkcs12_"))
                .map(move |(key, _)| alloc::format!("x509_svids[{i}].{key}"))
        });
        let pkcs12_store = x509_extras[3..]
            .iter()
            .find(|(_, v)| !v.is_empty())
            .map(|(key, _)| String::from(*key))
            .or_else(|| entry_stores.into_iter().next());
        match (pkcs12_store, self.pkcs12_password_file.is_empty()) {
            (Some(key), true) => return Err(ValidationError::Pkcs12WithoutPassword(key)),
            (None, false) => return Err(ValidationError::Pkcs12PasswordWithoutStore),
            _ => {}
        }
        if !self.trust_bundle_dir.is_empty() {
            let files = x509_names
                .into_iter()
                .chain([
                    &self.svid_credential_bundle_file_name,
                    &self.spiffe_bundle_map_file_name,
                    &self.pkcs12_keystore_file_name,
                    &self.pkcs12_truststore_file_name,
                    &self.jwt_bundle_file_name,
                ])
                .chain(self.jwt_svids.iter().map(|j| &j.jwt_svid_file_name))
                .chain(
                    self.x509_svids
                        .iter()
                        .flat_map(|e| e.files().map(|(_, n)| n)),
                )
                .filter(|n| !n.is_empty());
            check_trust_bundle_dir(&self.cert_dir, &self.trust_bundle_dir, files)?;
        }
        let file_owner = match self.file_owner.as_str() {
            "" => None,
            owner => {
                Some(parse_owner(owner).ok_or_else(|| ValidationError::FileOwner(owner.into()))?)
            }
        };
        if self.symlinked_layout {
            let names = x509_names
                .into_iter()
                .chain(x509_extras.iter().map(|(_, v)| *v))
                .chain([&self.jwt_bundle_file_name])
                .chain(self.jwt_svids.iter().map(|j| &j.jwt_svid_file_name))
                .chain(
                    self.x509_svids
                        .iter()
                        .flat_map(|e| e.files().map(|(_, n)| n)),
                );
            for name in names.filter(|n| !n.is_empty()) {
                if name.contains('/') || name.starts_with("..") {
                    return Err(ValidationError::SymlinkedLayoutName(name.clone()));
                }
            }
        }

        let timeout = match self.one_shot_timeout.as_str() {
            "" => None,
            text => match parse_duration(text) {
                Some(t) if !t.is_zero() => Some(t),
                _ => return Err(ValidationError::BadTimeout(self.one_shot_timeout)),
            },
        };
        if timeout.is_some() && daemon_mode {
            warnings.push(Warning::TimeoutIgnored);
        }

        let health = &mut self.health_checks;
        let health_bind_address = match health.bind_address.as_str() {
            "" => None,
            text => Some(
                parse_ip(text)
                    .ok_or_else(|| ValidationError::BadBindAddress(health.bind_address.clone()))?,
            ),
        };
        let health_read_header_timeout = match health.read_header_timeout.as_str() {
            "" => DEFAULT_READ_HEADER_TIMEOUT,
            text => parse_duration(text)
                .filter(|t| !t.is_zero())
                .ok_or_else(|| {
                    ValidationError::BadReadHeaderTimeout(health.read_header_timeout.clone())
                })?,
        };
        if health.listener_enabled {
            match health.bind_port {
                p if p < 0 => return Err(ValidationError::NegativeBindPort),
                0 => health.bind_port = DEFAULT_BIND_PORT,
                _ => {}
            }
            if health.liveness_path.is_empty() {
                health.liveness_path = String::from(DEFAULT_LIVENESS_PATH);
            }
            if health.readiness_path.is_empty() {
                health.readiness_path = String::from(DEFAULT_READINESS_PATH);
            }
            check_metrics_path(health)?;
        }
        Ok((
            Validated {
                config: self,
                daemon_mode,
                timeout: timeout.filter(|_| !daemon_mode),
                lifecycle,
                file_owner,
                health_bind_address,
                health_read_header_timeout,
            },
            warnings,
        ))
    }
}

/// `health_checks.metrics_path` (empty: off) must be a path a request can carry, and not
/// one of the two health paths.
fn check_metrics_path(health: &super::HealthChecks) -> Result<(), ValidationError> {
    let path = &health.metrics_path;
    if path.is_empty() {
        return Ok(());
    }
    let bad = |c: char| c.is_control() || " ?#".contains(c);
    if !path.starts_with('/') || path.chars().any(bad) {
        return Err(ValidationError::MetricsPath(path.clone()));
    }
    let taken = [
        (&health.liveness_path, "liveness_path"),
        (&health.readiness_path, "readiness_path"),
    ];
    match taken.into_iter().find(|(p, _)| *p == path) {
        Some((_, by)) => Err(ValidationError::MetricsPathTaken {
            path: path.clone(),
            by,
        }),
        None => Ok(()),
    }
}

impl Config {
    /// Checks the `x509_svids` entries, in order: unknown keys, `hint`, the three file
    /// names, hints unique, and each entry's files unique among every output's files
    /// (compared joined to `cert_dir`; duplicates among upstream's own keys stay allowed).
    fn check_x509_svids(&self) -> Result<(), ValidationError> {
        use ValidationError as E;
        for (index, entry) in self.x509_svids.iter().enumerate() {
            if !entry.unknown_keys.is_empty() {
                let mut keys = entry.unknown_keys.clone();
                keys.sort_unstable();
                keys.dedup();
                return Err(E::UnknownX509SvidKeys { index, keys });
            }
            if entry.hint.is_empty() {
                return Err(E::X509SvidHintRequired(index));
            }
            let trio = [
                &entry.svid_file_name,
                &entry.svid_key_file_name,
                &entry.svid_bundle_file_name,
            ];
            if trio.iter().any(|n| n.is_empty()) {
                return Err(E::X509SvidFilesRequired(index));
            }
            if self.x509_svids[..index]
                .iter()
                .any(|e| e.hint == entry.hint)
            {
                let hint = entry.hint.clone();
                return Err(E::DuplicateHint { index, hint });
            }
        }
        let join = |name: &String| super::join_path(&self.cert_dir, name);
        let others: Vec<String> = [
            &self.svid_file_name,
            &self.svid_key_file_name,
            &self.svid_bundle_file_name,
            &self.svid_credential_bundle_file_name,
            &self.spiffe_bundle_map_file_name,
            &self.pkcs12_keystore_file_name,
            &self.pkcs12_truststore_file_name,
            &self.jwt_bundle_file_name,
        ]
        .into_iter()
        .chain(self.jwt_svids.iter().map(|j| &j.jwt_svid_file_name))
        .filter(|n| !n.is_empty())
        .map(join)
        .collect();
        let mut seen = others;
        for (index, entry) in self.x509_svids.iter().enumerate() {
            for (key, name) in entry.files() {
                let path = join(name);
                if seen.contains(&path) {
                    let key = alloc::format!("x509_svids[{index}].{key}");
                    let name = name.clone();
                    return Err(E::DuplicateFileName { key, name });
                }
                seen.push(path);
            }
        }
        Ok(())
    }

    /// Checks the `start` and `reload` blocks against the legacy keys and maps either onto
    /// one [`Lifecycle`].
    fn lifecycle(
        &self,
        daemon_mode: bool,
        warnings: &mut Vec<Warning>,
    ) -> Result<Lifecycle, ValidationError> {
        use ValidationError as E;
        let legacy = [
            ("cmd", &self.cmd, "start.cmd", self.start.is_some()),
            (
                "cmd_args",
                &self.cmd_args,
                "start.args",
                self.start.is_some(),
            ),
            (
                "renew_signal",
                &self.renew_signal,
                "reload.signal",
                self.reload.is_some(),
            ),
            (
                "pid_file_name",
                &self.pid_file_name,
                "reload.pid_file",
                self.reload.is_some(),
            ),
        ];
        if let Some((legacy, _, block, _)) = legacy
            .iter()
            .find(|(_, value, _, block)| !value.is_empty() && *block)
        {
            return Err(E::LegacyAndBlock { legacy, block });
        }
        let mut lifecycle = Lifecycle {
            workload: (!self.cmd.is_empty()).then(|| Workload {
                cmd: self.cmd.clone(),
                args: Args::Csv(self.cmd_args.clone()),
                restart: Restart::Never,
            }),
            signal: self.renew_signal.clone(),
            pid_file: self.pid_file_name.clone(),
            hooks: Vec::new(),
        };
        if let Some(start) = &self.start {
            let mut unknown = start.unknown_keys.clone();
            unknown.sort_unstable();
            unknown.dedup();
            if !unknown.is_empty() {
                return Err(E::UnknownBlockKeys {
                    block: "start",
                    keys: unknown,
                });
            }
            if start.cmd.is_empty() {
                return Err(E::StartCmdRequired);
            }
            let restart =
                Restart::parse(&start.restart).ok_or_else(|| E::Restart(start.restart.clone()))?;
            lifecycle.workload = Some(Workload {
                cmd: start.cmd.clone(),
                args: Args::List(start.args.clone().unwrap_or_default()),
                restart,
            });
        }
        if let Some(reload) = &self.reload {
            let mut unknown = reload.unknown_keys.clone();
            unknown.sort_unstable();
            unknown.dedup();
            if !unknown.is_empty() {
                return Err(E::UnknownBlockKeys {
                    block: "reload",
                    keys: unknown,
                });
            }
            if !reload.pid_file.is_empty() {
                if !daemon_mode {
                    return Err(E::ReloadPidFileWithoutDaemonMode);
                }
                if reload.signal.is_empty() {
                    return Err(E::ReloadPidFileWithoutSignal);
                }
            }
            if daemon_mode && !reload.signal.is_empty() && signal_number(&reload.signal).is_none() {
                return Err(E::UnknownReloadSignal(reload.signal.clone()));
            }
            lifecycle.signal.clone_from(&reload.signal);
            lifecycle.pid_file.clone_from(&reload.pid_file);
            lifecycle.hooks = reload
                .exec
                .iter()
                .enumerate()
                .map(|(i, exec)| self.hook(exec).map_err(|e| E::Exec(i, e)))
                .collect::<Result<_, _>>()?;
        }
        if !daemon_mode {
            warnings.extend(self.start.iter().map(|_| Warning::BlockIgnored("start")));
            let signal = self.reload.as_ref().is_some_and(|r| !r.signal.is_empty());
            warnings.extend(signal.then_some(Warning::BlockIgnored("reload")));
            lifecycle.workload = None;
        }
        Ok(lifecycle)
    }

    /// A `reload.exec` block as a [`Hook`]: `on` defaults to `["x509"]`, `timeout` to
    /// [`DEFAULT_HOOK_TIMEOUT`]; every event must name a configured output, or the hook
    /// would never run.
    fn hook(&self, exec: &ExecBlock) -> Result<Hook, ExecError> {
        if !exec.unknown_keys.is_empty() {
            return Err(ExecError::UnknownKeys(exec.unknown_keys.clone()));
        }
        if exec.cmd.is_empty() {
            return Err(ExecError::CmdRequired);
        }
        let mut on = Vec::new();
        for name in exec.on.as_deref().unwrap_or(&[]) {
            let event =
                HookEvent::parse(name).ok_or_else(|| ExecError::UnknownEvent(name.clone()))?;
            if !on.contains(&event) {
                on.push(event);
            }
        }
        match &exec.on {
            None => on.push(HookEvent::X509),
            Some(list) if list.is_empty() => return Err(ExecError::NoEvents),
            Some(_) => {}
        }
        if let Some((event, key)) = on
            .iter()
            .find_map(|&event| self.missing_output(event).map(|key| (event, key)))
        {
            return Err(ExecError::OutputNotConfigured {
                event,
                key,
                default: exec.on.is_none(),
            });
        }
        let timeout = match exec.timeout.as_str() {
            "" => DEFAULT_HOOK_TIMEOUT,
            text => parse_duration(text)
                .filter(|t| !t.is_zero())
                .ok_or_else(|| ExecError::BadTimeout(exec.timeout.clone()))?,
        };
        Ok(Hook {
            cmd: exec.cmd.clone(),
            args: exec.args.clone(),
            on,
            timeout,
        })
    }

    /// The key that configures `event`'s output, when it is not set.
    fn missing_output(&self, event: HookEvent) -> Option<&'static str> {
        let (set, key) = match event {
            HookEvent::X509 => (!self.svid_file_name.is_empty(), "svid_file_name"),
            HookEvent::JwtSvid => (!self.jwt_svids.is_empty(), "jwt_svids"),
            HookEvent::JwtBundle => (
                !self.jwt_bundle_file_name.is_empty(),
                "jwt_bundle_file_name",
            ),
        };
        (!set).then_some(key)
    }
}

/// Why a `reload.exec` block cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecError {
    /// Keys that are not known (sorted, as written).
    UnknownKeys(Vec<String>),
    /// No `cmd`.
    CmdRequired,
    /// An `on` entry that names no event.
    UnknownEvent(String),
    /// `on = []`: it would never run.
    NoEvents,
    /// `timeout` that is not a positive Go duration.
    BadTimeout(String),
    /// An event whose output is not configured (`key` is not set): the hook would never
    /// run. `default`: the event is `on`'s default.
    OutputNotConfigured {
        /// The event.
        event: HookEvent,
        /// The key that configures its output.
        key: &'static str,
        /// `on` is not set: the event is its default, `x509`.
        default: bool,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKeys(keys) => write!(f, "unknown key(s): {}", keys.join(",")),
            Self::CmdRequired => f.write_str("'cmd' is required"),
            Self::UnknownEvent(name) => write!(
                f,
                "on {name:?} is not one of \"x509\", \"jwt_svid\", \"jwt_bundle\""
            ),
            Self::NoEvents => f.write_str(
                "on is empty: name at least one of \"x509\", \"jwt_svid\", \"jwt_bundle\"",
            ),
            Self::BadTimeout(text) => write!(
                f,
                "timeout {text:?} is not a positive duration such as \"10s\" or \"1m30s\""
            ),
            Self::OutputNotConfigured {
                event,
                key,
                default,
            } => {
                let default = if *default {
                    " (the default when on is not set)"
                } else {
                    ""
                };
                write!(
                    f,
                    "on {:?}{default} names an output that is not configured: {key} is not set, \
                     so this hook would never run",
                    event.name()
                )
            }
        }
    }
}

impl core::error::Error for ExecError {}
