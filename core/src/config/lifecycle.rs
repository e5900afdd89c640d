//! The workload's lifecycle as one model, whichever way `helper.conf` says it: upstream's
//! legacy keys (`cmd`, `cmd_args`, `renew_signal`, `pid_file_name`;
//! `cmd/spiffe-helper/config/config.go@v0.11.0`) or our `start {}` and
//! `reload {}` blocks (the shape of upstream's open PR #410, with the keys of this
//! project's issue 15):
//!
//! ```hcl
//! start {
//!   cmd     = "/usr/bin/envoy"
//!   args    = ["-c", "/etc/envoy/envoy.yaml"]   # an argv list: no CSV splitting
//!   restart = "never"                           # never | on-failure | always
//! }
//! reload {
//!   signal   = "SIGHUP"
//!   pid_file = "/run/app.pid"
//!   exec {                                      # zero or more hooks
//!     cmd     = "/usr/local/bin/push-secret"
//!     args    = ["--namespace", "prod"]
//!     on      = ["x509"]                        # any of x509, jwt_svid, jwt_bundle
//!     timeout = "10s"
//!   }
//! }
//! ```
//!
//! A legacy key and its block counterpart together are refused, naming both.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::cmd_args::{CmdArgsError, split_cmd_args};

/// `start { ... }` as written (ours).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartBlock {
    /// `cmd`: the program (required).
    pub cmd: String,
    /// `args`: its arguments, each as is; `None` when absent.
    pub args: Option<Vec<String>>,
    /// `restart`: `never` (the default), `on-failure` or `always`, see [`Restart`].
    pub restart: String,
    /// Keys of the block that are not known, as written, sorted.
    pub unknown_keys: Vec<String>,
}

/// `reload { ... }` as written (ours).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadBlock {
    /// `signal`: sent to `cmd` and to the `pid_file` process after each X.509 update.
    pub signal: String,
    /// `pid_file`: a file holding the PID of a process to signal.
    pub pid_file: String,
    /// `exec { ... }`: the hooks, in order.
    pub exec: Vec<ExecBlock>,
    /// Keys of the block that are not known, as written, sorted.
    pub unknown_keys: Vec<String>,
}

/// `reload { exec { ... } }` as written (ours; upstream issues #40, #246, #250).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecBlock {
    /// `cmd`: the program (required).
    pub cmd: String,
    /// `args`: its arguments, each as is.
    pub args: Vec<String>,
    /// `on`: the updates that run it; `None` when absent (`["x509"]`).
    pub on: Option<Vec<String>>,
    /// `timeout`: a Go duration; empty for [`DEFAULT_HOOK_TIMEOUT`].
    pub timeout: String,
    /// Keys of the block that are not known, as written, sorted.
    pub unknown_keys: Vec<String>,
}

/// A hook's `timeout` when none is written.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// An update that runs hooks: one output set made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookEvent {
    /// The X.509 SVID, key and bundle files.
    X509,
    /// A `jwt_svids` token file.
    JwtSvid,
    /// The JWT bundle file.
    JwtBundle,
}

impl HookEvent {
    /// Every event, in the order of [`HookEvent::name`]'s list.
    pub const ALL: [HookEvent; 3] = [HookEvent::X509, HookEvent::JwtSvid, HookEvent::JwtBundle];

    /// Its name in `on` and in `SPIFFE_HELPER_EVENT`.
    pub fn name(self) -> &'static str {
        match self {
            HookEvent::X509 => "x509",
            HookEvent::JwtSvid => "jwt_svid",
            HookEvent::JwtBundle => "jwt_bundle",
        }
    }

    /// The event named `name`, if any.
    pub fn parse(name: &str) -> Option<HookEvent> {
        HookEvent::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// A validated hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// The program: a path, or a name looked up on `PATH`.
    pub cmd: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The updates that run it (each once).
    pub on: Vec<HookEvent>,
    /// How long a run may take before its process group is killed.
    pub timeout: Duration,
}

/// The arguments of the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the driver must be able to start every form of arguments"
)]
pub enum Args {
    /// Legacy `cmd_args`: split as upstream splits it (`pkg/sidecar/sidecar.go@v0.11.0`), when
    /// the command starts (upstream
    /// reports a bad one then, at each update: `error parsing cmd arguments`).
    Csv(String),
    /// `start.args`: the argv list as written.
    List(Vec<String>),
}

impl Args {
    /// The argument vector.
    pub fn split(&self) -> Result<Vec<String>, CmdArgsError> {
        match self {
            Args::Csv(text) => split_cmd_args(text),
            Args::List(list) => Ok(list.clone()),
        }
    }
}

/// What happens when the workload exits (`start.restart`, ours; upstream issue #269).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restart {
    /// Started again at the next X.509 update, as upstream's `signalProcess` does
    /// (`pkg/sidecar/sidecar.go@v0.11.0`); the legacy `cmd` always behaves so.
    #[default]
    Never,
    /// Started again after a backoff when it exits non-zero or is killed; a clean exit
    /// (status 0) ends it for good.
    OnFailure,
    /// Started again after a backoff whenever it exits.
    Always,
}

impl Restart {
    /// The policy named `text` (`""` is `never`), or `None`.
    pub fn parse(text: &str) -> Option<Restart> {
        match text {
            "" | "never" => Some(Restart::Never),
            "on-failure" => Some(Restart::OnFailure),
            "always" => Some(Restart::Always),
            _ => None,
        }
    }
}

/// The program the helper starts (daemon mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The program: a path, or a name looked up on `PATH`.
    pub cmd: String,
    /// Its arguments.
    pub args: Args,
    /// What happens when it exits.
    pub restart: Restart,
}

/// What the helper starts and signals, from the legacy keys or the blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// `cmd` / `start.cmd` in daemon mode; `None` when there is none or in one-shot mode.
    pub workload: Option<Workload>,
    /// `renew_signal` / `reload.signal` (empty: none).
    pub signal: String,
    /// `pid_file_name` / `reload.pid_file` (empty: none).
    pub pid_file: String,
    /// `reload.exec` blocks (in both modes).
    pub hooks: Vec<Hook>,
}
