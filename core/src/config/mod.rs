//! `helper.conf`: the configuration model of spiffe-helper and everything needed to read it
//! exactly as upstream does (`cmd/spiffe-helper/config/config.go@v0.11.0`, decoded with
//! `hcl.Decode`).
//!
//! - [`parse`] reads the HCL v1 form, or the JSON form when the text starts with `{`;
//! - [`Config::validate`] applies upstream's validation order, messages and defaults;
//! - [`apply_env`] sets keys from `SPIFFE_HLP_*` environment variables over the file's;
//! - [`Validated::to_json`] prints the effective configuration (`-validate`);
//! - [`split_cmd_args`] splits `cmd_args` as Go's `encoding/csv` does;
//! - [`join_path`], [`agent_endpoint`] and [`signal_number`] interpret file names, the agent
//!   address and `renew_signal`.

mod cmd_args;
pub(crate) mod decode;
mod duration;
mod effective;
mod env;
mod hcl;
mod int;
mod json;
mod lifecycle;
mod logging;
mod path;
mod signal;
mod syntax;
mod validate;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

pub use cmd_args::{CmdArgsError, CmdArgsErrorKind, split_cmd_args};
pub use duration::parse_duration;
pub use env::{ENV_PREFIX, EnvError, EnvErrorKind, apply_env};
pub use int::IntError;
pub use lifecycle::{
    Args, DEFAULT_HOOK_TIMEOUT, ExecBlock, Hook, HookEvent, Lifecycle, ReloadBlock, Restart,
    StartBlock, Workload,
};
pub use logging::{LogFormat, LogLevel, LogSettingError};
pub use path::{AddressError, Endpoint, agent_endpoint, join_path};
pub use signal::signal_number;
pub use syntax::{MAX_DEPTH, Pos, SyntaxError, SyntaxErrorKind};
pub use validate::{
    DEFAULT_AGENT_ADDRESS, DEFAULT_BIND_PORT, DEFAULT_CERT_FILE_MODE, DEFAULT_KEY_FILE_MODE,
    DEFAULT_LIVENESS_PATH, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_READINESS_PATH, ExecError,
    MAX_MAX_MESSAGE_SIZE, Validated, ValidationError, Warning,
};

/// One entry of `jwt_svids`: a JWT-SVID to fetch and where to write it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtSvidConfig {
    /// `jwt_audience`: the first audience requested (required).
    pub jwt_audience: String,
    /// `jwt_extra_audiences`: further audiences.
    pub jwt_extra_audiences: Vec<String>,
    /// `jwt_svid_file_name`: output file, joined to `cert_dir` (required).
    pub jwt_svid_file_name: String,
    /// Keys of this entry that are not known, as written, sorted (rejected by validation).
    pub unknown_keys: Vec<String>,
}

/// One entry of `x509_svids` (ours): the X.509-SVID whose Workload API hint is `hint`,
/// written with its own files in the same set as the default SVID's (upstream issue #113).
/// Each field is a file name joined to `cert_dir`, as the top-level key of the same name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X509SvidConfig {
    /// `hint`: the SVID to write (required, unique across entries).
    pub hint: String,
    /// `svid_file_name`: leaf and intermediates (required).
    pub svid_file_name: String,
    /// `svid_key_file_name`: the private key (required).
    pub svid_key_file_name: String,
    /// `svid_bundle_file_name`: the trust bundle of the SVID's trust domain (required).
    pub svid_bundle_file_name: String,
    /// `svid_credential_bundle_file_name`: key, leaf and intermediates in one file.
    pub svid_credential_bundle_file_name: String,
    /// `pkcs12_keystore_file_name`: a PKCS#12 keystore of the entry's key and chain, alias
    /// its SPIFFE ID, with the password of the top-level `pkcs12_password_file`.
    pub pkcs12_keystore_file_name: String,
    /// `pkcs12_truststore_file_name`: a PKCS#12 truststore of the entry's bundle file.
    pub pkcs12_truststore_file_name: String,
    /// Keys of this entry that are not known, as written, sorted (rejected by validation).
    pub unknown_keys: Vec<String>,
}

impl X509SvidConfig {
    /// The entry's file names with their keys, the optional ones when set.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            ("svid_file_name", &self.svid_file_name),
            ("svid_key_file_name", &self.svid_key_file_name),
            ("svid_bundle_file_name", &self.svid_bundle_file_name),
            (
                "svid_credential_bundle_file_name",
                &self.svid_credential_bundle_file_name,
            ),
            ("pkcs12_keystore_file_name", &self.pkcs12_keystore_file_name),
            (
                "pkcs12_truststore_file_name",
                &self.pkcs12_truststore_file_name,
            ),
        ]
        .into_iter()
        .filter(|(_, name)| !name.is_empty())
    }
}

/// `health_checks`: the HTTP liveness/readiness listener. Defaults are applied by
/// [`Config::validate`] only when `listener_enabled` is true, as upstream does
/// (`cmd/spiffe-helper/config/config.go@v0.11.0`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthChecks {
    /// `listener_enabled`.
    pub listener_enabled: bool,
    /// `bind_port` (default 8081; not range-checked, as upstream:
    /// `cmd/spiffe-helper/config/config.go@v0.11.0`).
    pub bind_port: i64,
    /// `liveness_path` (default `/live`).
    pub liveness_path: String,
    /// `readiness_path` (default `/ready`).
    pub readiness_path: String,
    /// `bind_address` (ours): the IP literal to listen on, empty for all interfaces; read by
    /// [`Validated::health_bind_address`](Validated::health_bind_address).
    pub bind_address: String,
    /// `read_header_timeout` (ours): a Go duration from the first byte of a request head to
    /// its end, empty for 1 s; read by
    /// [`Validated::health_read_header_timeout`](Validated::health_read_header_timeout).
    pub read_header_timeout: String,
    /// `metrics_path` (ours; empty: off): the path of the Prometheus metrics
    /// ([`crate::metrics`]).
    pub metrics_path: String,
}

/// The contents of `helper.conf` as written, before validation and defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `agent_address`: the Workload API socket (see [`agent_endpoint`]).
    pub agent_address: String,
    /// `cmd`: program started on the first X.509 update and signalled on later ones.
    pub cmd: String,
    /// `cmd_args`: arguments of `cmd`, split by [`split_cmd_args`].
    pub cmd_args: String,
    /// `pid_file_name`: file holding a PID to signal after each X.509 update.
    pub pid_file_name: String,
    /// `renew_signal`: signal name such as `SIGHUP` (see [`signal_number`]).
    pub renew_signal: String,
    /// `cert_dir`: directory of every output file (see [`join_path`]).
    pub cert_dir: String,
    /// `daemon_mode`; `None` when absent from the file.
    pub daemon_mode: Option<bool>,
    /// `add_intermediates_to_bundle`.
    pub add_intermediates_to_bundle: bool,
    /// `include_federated_domains`.
    pub include_federated_domains: bool,
    /// `omit_expired`.
    pub omit_expired: bool,
    /// `skip_svid_verification` (ours, not upstream's): write X.509-SVIDs without verifying
    /// the chain against the bundle; parsing still checks that the key matches the leaf.
    pub skip_svid_verification: bool,
    /// `hint`: selects the SVID whose Workload API hint equals it.
    pub hint: String,
    /// `svid_file_name`.
    pub svid_file_name: String,
    /// `svid_key_file_name`.
    pub svid_key_file_name: String,
    /// `svid_bundle_file_name`.
    pub svid_bundle_file_name: String,
    /// `jwt_bundle_file_name`.
    pub jwt_bundle_file_name: String,
    /// `jwt_svids`.
    pub jwt_svids: Vec<JwtSvidConfig>,
    /// `cert_file_mode` (0 means the default 0644).
    pub cert_file_mode: i64,
    /// `key_file_mode` (0 means the default 0600).
    pub key_file_mode: i64,
    /// `jwt_bundle_file_mode` (0 means the default 0600).
    pub jwt_bundle_file_mode: i64,
    /// `jwt_svid_file_mode` (0 means the default 0600).
    pub jwt_svid_file_mode: i64,
    /// `health_checks`.
    pub health_checks: HealthChecks,
    /// `max_message_size` (ours, not upstream's): the largest Workload API response message
    /// accepted, in bytes, before and after decompression (0 means the default 16 MiB).
    pub max_message_size: i64,
    /// `symlinked_layout` (ours, not upstream's): the output files are symlinks into a
    /// versioned directory swapped with one rename, as Kubernetes' atomic writer does.
    pub symlinked_layout: bool,
    /// `one_shot_timeout` (ours, not upstream's): in one-shot mode, give up once this much time has
    /// passed without every output written; a Go duration such as `30s` (empty: no limit).
    pub one_shot_timeout: String,
    /// `start { ... }` (ours): the workload, instead of `cmd` and `cmd_args`.
    pub start: Option<StartBlock>,
    /// `reload { ... }` (ours): instead of `renew_signal` and `pid_file_name`.
    pub reload: Option<ReloadBlock>,
    /// `svid_credential_bundle_file_name` (ours): the key, then the leaf and intermediates,
    /// in one PEM file (upstream issue #7; what ghostunnel's `--keystore` and Kubernetes
    /// PodCertificate projections hold).
    pub svid_credential_bundle_file_name: String,
    /// `trust_bundle_dir` (ours): a directory, joined to `cert_dir`, holding one
    /// `<trust-domain>.pem` per trust domain (upstream issues #89, #217).
    pub trust_bundle_dir: String,
    /// `spiffe_bundle_map_file_name` (ours): the SPIFFE bundle map (gRFC A87) of every
    /// trust domain's X.509 roots.
    pub spiffe_bundle_map_file_name: String,
    /// `pkcs12_keystore_file_name` (ours): a PKCS#12 keystore of the key and its chain
    /// (RFC 7292), alias the SPIFFE ID, encrypted with the password of `pkcs12_password_file`.
    pub pkcs12_keystore_file_name: String,
    /// `pkcs12_truststore_file_name` (ours): a PKCS#12 truststore of the bundle file's
    /// certificates as trusted certificate entries.
    pub pkcs12_truststore_file_name: String,
    /// `pkcs12_password_file` (ours): the file holding the PKCS#12 stores' password, read
    /// once at start (not joined to `cert_dir`).
    pub pkcs12_password_file: String,
    /// `x509_svids` (ours): more X.509-SVIDs, each picked by its hint and written with its
    /// own files in the same set as the default one.
    pub x509_svids: Vec<X509SvidConfig>,
    /// `file_owner` (ours): `"UID:GID"`, numeric, given to every file and directory written.
    pub file_owner: String,
    /// `create_cert_dir` (ours): create `cert_dir` (and `trust_bundle_dir`) if missing.
    pub create_cert_dir: bool,
    /// `log_level` (upstream PR #440): see [`LogLevel::parse`].
    pub log_level: String,
    /// `log_format` (ours): see [`LogFormat::parse`].
    pub log_format: String,
    /// Top-level keys that are not known, as written, sorted (rejected by validation).
    pub unknown_keys: Vec<String>,
}

/// Parses the bytes of `helper.conf` as [`parse`] does; bytes that are not UTF-8 are an
/// error at the position of the first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> Result<Config, SyntaxError> {
    match core::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let valid = core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
            Err(SyntaxError {
                pos: Pos {
                    line: count(valid.matches('\n').count()),
                    column: count(valid[line_start..].chars().count()),
                },
                kind: SyntaxErrorKind::InvalidUtf8,
            })
        }
    }
}

/// Parses `helper.conf` text: JSON when the first non-blank character is `{`, else HCL v1.
///
/// Errors carry the position of the problem and display as `At L:C: ...`. Validation
/// (required keys, unknown keys, defaults) is left to [`Config::validate`].
pub fn parse(text: &str) -> Result<Config, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let items = if text.trim_start().starts_with('{') {
        json::parse(text)?
    } else {
        hcl::parse(text)?
    };
    decode::config(items)
}
