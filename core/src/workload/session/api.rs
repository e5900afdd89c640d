//! The session's public vocabulary: what it is configured with, the rows of its table, the
//! actions it asks of the driver, what it reports, and how a run ends.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::super::{ClientConfig, DecodeError};
use crate::config::{HookEvent, Restart};
use crate::grpc::{Code, Status};
use crate::h2;
use crate::jwt;
use crate::x509::{self, EntryOptions, MapJwt, RenderOptions, Rendered};

/// The `helper.conf` settings that shape the X.509 files (with the session's `hint`, a
/// [`RenderOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X509Options {
    /// `add_intermediates_to_bundle`.
    pub add_intermediates_to_bundle: bool,
    /// `include_federated_domains`.
    pub include_federated_domains: bool,
    /// `omit_expired`.
    pub omit_expired: bool,
    /// Verify each X.509-SVID (chain against the bundle, SPIFFE ID) before it is written;
    /// `skip_svid_verification` turns this off. The key pair is checked either way, when the
    /// SVID is parsed.
    pub verify: bool,
    /// `svid_credential_bundle_file_name` is set: render the credential bundle.
    pub credential_bundle: bool,
    /// `trust_bundle_dir` is set: render one bundle per trust domain.
    pub trust_domain_bundles: bool,
    /// `spiffe_bundle_map_file_name` is set: render the SPIFFE bundle map.
    pub bundle_map: bool,
    /// A PKCS#12 store is configured: render what the stores hold.
    pub pkcs12: bool,
    /// `x509_svids`: more SVIDs, each by its hint, written in the same set; each entry has
    /// its own health entry, keyed by its hint.
    pub entries: Vec<EntryOptions>,
}

impl X509Options {
    pub(super) fn render_options<'a>(
        &'a self,
        hint: &'a str,
        bundle_map_jwt: MapJwt<'a>,
    ) -> RenderOptions<'a> {
        RenderOptions {
            hint,
            add_intermediates_to_bundle: self.add_intermediates_to_bundle,
            include_federated_domains: self.include_federated_domains,
            omit_expired: self.omit_expired,
            credential_bundle: self.credential_bundle,
            trust_domain_bundles: self.trust_domain_bundles,
            bundle_map: self.bundle_map,
            pkcs12: self.pkcs12,
            bundle_map_jwt,
            entries: &self.entries,
        }
    }
}

/// What a [`Session`](super::Session) serves and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The Workload API client and its HTTP/2 connection.
    pub client: ClientConfig,
    /// One-shot mode: end with [`Exit::Done`] once every output is written; retry on
    /// upstream's short schedule (`pkg/sidecar/workloadapi.go@v0.11.0`) and give up when it runs
    /// out.
    pub one_shot: bool,
    /// `hint`: which SVID (X.509) and which token (JWT) to write; empty picks the first.
    pub hint: String,
    /// The X.509 files, if configured.
    pub x509: Option<X509Options>,
    /// The JWT bundle file (`path.Join(cert_dir, jwt_bundle_file_name)`), if set: the JWT
    /// bundles are written on every FetchJWTBundles message; the path keys its health entry.
    pub jwt_bundle: Option<String>,
    /// `jwt_svids`: one FetchJWTSVID row each, refreshed from its token's own lifetime.
    pub jwt_svids: Vec<JwtSvidOptions>,
    /// `pid_file_name` is set: after each X.509 write (daemon mode), signal the process it
    /// names, retrying on upstream's schedule (`pkg/sidecar/sidecar.go@v0.11.0`).
    pub pid_file: bool,
    /// `cmd` is set: after each X.509 write (daemon mode), start it if it is not running,
    /// else signal it; one that exited is started again at the next write, as upstream's
    /// `signalProcess` does (`pkg/sidecar/sidecar.go@v0.11.0`).
    pub workload: bool,
    /// `start.restart`: what happens when `cmd` exits.
    pub restart: Restart,
    /// Wrapper mode (`spiffe-helper -- PROG`, ours; upstream issue #249): the workload
    /// starts once every output is written, SIGTERM and SIGINT are forwarded to it instead
    /// of ending the run, and its end ends the run with [`Exit::Wrapped`].
    pub wrap: bool,
    /// `one_shot_timeout` (one-shot mode): give up with [`Fatal::TimedOut`] once this long has passed
    /// since the session was created without every output written.
    pub timeout: Option<Duration>,
    /// The service manager listens (`NOTIFY_SOCKET` is set): emit [`Action::Notify`].
    pub notify: Option<NotifyConfig>,
    /// `reload.exec`: the hooks, by index (the `id` of [`Action::RunHook`]).
    pub hooks: Vec<HookOptions>,
}

/// What the session needs of one `reload.exec` hook.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookOptions {
    /// The updates that run it.
    pub on: Vec<HookEvent>,
    /// How long a run may take before [`Action::KillHook`].
    pub timeout: Duration,
}

/// What the service manager asked for (systemd's `sd_notify(3)` protocol).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `WATCHDOG_USEC` (when `WATCHDOG_PID` is unset or the helper's): send
    /// [`Notify::Watchdog`] every half of it while the session is healthy
    /// (`sd_watchdog_enabled(3)`).
    pub watchdog: Option<Duration>,
}

/// One `jwt_svids` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtSvidOptions {
    /// `jwt_audience`: the audience the token must carry.
    pub audience: String,
    /// `jwt_extra_audiences`: more audiences to ask for.
    pub extra_audiences: Vec<String>,
    /// The token file (`path.Join(cert_dir, jwt_svid_file_name)`): the key of its health
    /// entry.
    pub path: String,
}

/// A kind of subscription: one row of the session's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the driver must know the files of every subscription"
)]
pub enum Subscription {
    /// The FetchX509SVID watch.
    X509,
    /// The FetchJWTBundles watch (opened for the bundle file and to verify JWT-SVIDs).
    JwtBundles,
    /// The FetchJWTSVID call of `jwt_svids[n]`, repeated to refresh the token.
    JwtSvid(usize),
}

/// What the driver must do.
#[derive(Debug)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the driver must perform every action: a new one must fail to build, not be skipped"
)]
pub enum Action {
    /// Open a new connection to the agent; report [`Session::connected`](super::Session::connected) or
    /// [`Session::connection_lost`](super::Session::connection_lost).
    Dial,
    /// Close the connection (after sending what [`Session::poll_transmit`](super::Session::poll_transmit) holds).
    Disconnect,
    /// Write this X.509 set, then report [`Session::written`](super::Session::written).
    WriteX509(Box<Rendered>),
    /// Write the JWT bundle file (upstream's format, `pkg/disk/json.go@v0.11.0`) and, when given,
    /// the SPIFFE bundle map
    /// with the new JWT keys, as one set; then report [`Session::written`](super::Session::written).
    WriteJwtBundle {
        /// The JWT bundle file.
        file: Vec<u8>,
        /// The bundle map (X.509 roots of the last X.509 update and these JWT keys), when
        /// `spiffe_bundle_map_file_name` is set and an X.509 update has come.
        bundle_map: Option<Vec<u8>>,
    },
    /// Write the token of `jwt_svids[index]` (no newline), then report [`Session::written`](super::Session::written).
    WriteJwtSvid {
        /// Which `jwt_svids` entry.
        index: usize,
        /// The compact JWS, verified against the JWT bundle.
        token: String,
    },
    /// Read the pid file and send `renew_signal` to that process, then report
    /// [`Session::pid_signalled`](super::Session::pid_signalled). `attempt` counts from 1.
    SignalPidFile {
        /// Which attempt of the current run this is.
        attempt: u32,
    },
    /// Start `cmd` (in its own process group), then report
    /// [`Session::workload_started`](super::Session::workload_started).
    StartWorkload,
    /// Send `renew_signal` to the running `cmd`; the driver logs a failure, nothing waits
    /// for it.
    SignalWorkload,
    /// Send this signal (SIGTERM or SIGINT) to the workload's process group: forwarded in
    /// wrapper mode, the start of the shutdown otherwise.
    ForwardSignal(i32),
    /// The shutdown's grace has passed: kill the workload's process group (SIGKILL); its
    /// end is reported with [`Session::workload_exited`](super::Session::workload_exited).
    KillWorkload,
    /// Run hook `id` (in a new process group) for `event`, the output of `sub` being on disk;
    /// report its end with [`Session::hook_finished`](super::Session::hook_finished).
    RunHook {
        /// Which hook (its index in `reload.exec`).
        id: usize,
        /// What was written (`SPIFFE_HELPER_EVENT`).
        event: HookEvent,
        /// Which output: the files the hook is told about.
        sub: Subscription,
        /// The SPIFFE ID of the SVID written (empty for the JWT bundle).
        spiffe_id: String,
    },
    /// Hook `id` ran past its timeout: kill its process group (its end is reported as any).
    KillHook {
        /// Which hook.
        id: usize,
    },
    /// Tell the service manager (one `sd_notify(3)` datagram, best effort).
    Notify(Notify),
    /// Something worth logging happened.
    Report(Report),
    /// The run is over: always the last action.
    Exit(Exit),
}

/// A service-manager notification (`sd_notify(3)` assignments).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the driver must send every notification"
)]
pub enum Notify {
    /// `READY=1`: every configured output has been written (sent once).
    Ready,
    /// `STATUS=`: an SVID was written; its SPIFFE ID and when it expires (Unix seconds).
    Status {
        /// Which output.
        sub: Subscription,
        /// The SVID's SPIFFE ID.
        spiffe_id: String,
        /// Its NotAfter (X.509) or `exp` (JWT).
        expires: i64,
    },
    /// `WATCHDOG=1`: the session is healthy.
    Watchdog,
    /// `STOPPING=1`: the run ends (sent just before [`Action::Exit`]).
    Stopping,
}

/// Events the driver logs; none needs an answer.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum Report {
    /// A call ended (its status; OK for a stream the agent closed cleanly) and is reopened
    /// after `retry_in`.
    CallFailed {
        /// Which subscription.
        sub: Subscription,
        /// How the call ended.
        status: Status,
        /// When it is reopened.
        retry_in: Duration,
    },
    /// A message that is not a valid protobuf encoding was dropped; the files stay.
    BadMessage {
        /// Which subscription.
        sub: Subscription,
        /// The decoding error.
        error: DecodeError,
    },
    /// An X.509 message that cannot be used (not renderable, or failing verification) was
    /// dropped; the files stay.
    Rejected(x509::VerifyError),
    /// No SVID of the X.509 message carries the hint of `x509_svids[index]`: the rest of
    /// the set is written, that entry's files are left as they are and it is not ready
    /// (upstream's words for a missing hint, `pkg/disk/x509.go@v0.11.0`: `failed to find the
    /// hinted x509 SVID`).
    EntryHintNotFound {
        /// Which entry.
        index: usize,
        /// Its hint.
        hint: String,
    },
    /// A JWT message (bundle or token) that cannot be used was dropped; the file stays.
    JwtRejected {
        /// Which subscription.
        sub: Subscription,
        /// Why.
        error: JwtRejection,
        /// When it is asked for again (JWT-SVIDs), or `None` (bundles: the next message).
        retry_in: Option<Duration>,
    },
    /// The session dropped the connection: HTTP/2 error, handshake or PING timeout, or GOAWAY.
    ConnectionFailed(h2::Error),
    /// No update came for most of the SVID's remaining life: the session asked again.
    Stalled {
        /// Which subscription.
        sub: Subscription,
        /// Time since the SVID on disk arrived.
        silent_for: Duration,
        /// Milliseconds until it expires (negative: expired).
        expires_in_ms: i64,
        /// What the session did about it.
        remedy: Remedy,
    },
    /// Signalling the pid file failed on every attempt of upstream's schedule; the next X.509
    /// update starts again.
    PidFileGaveUp {
        /// Attempts made.
        attempts: u32,
    },
    /// The `cmd` process exited; it is started again at the next X.509 write
    /// ([`Restart::Never`]) or not at all ([`Restart::OnFailure`] after a clean exit).
    WorkloadExited {
        /// Its process ID.
        pid: u32,
        /// How it ended.
        status: ProcessStatus,
    },
    /// The `cmd` process exited (or could not be started: `pid` and `status` are `None`) and
    /// its restart policy starts it again after `delay`.
    WorkloadRestarting {
        /// Its process ID.
        pid: Option<u32>,
        /// How it ended.
        status: Option<ProcessStatus>,
        /// The backoff before the next start.
        delay: Duration,
    },
    /// A hook run ended.
    HookFinished {
        /// Which hook.
        id: usize,
        /// The update it ran for.
        event: HookEvent,
        /// How it ended; `None` when it could not be started.
        status: Option<ProcessStatus>,
        /// It was killed at its timeout.
        timed_out: bool,
    },
    /// One-shot mode: a retryable failure, retried after `delay` (attempt counts from 1).
    Retrying {
        /// The output being fetched (`None`: the connection, for all of them).
        sub: Option<Subscription>,
        /// Which retry this is.
        attempt: u32,
        /// When.
        delay: Duration,
        /// What failed.
        after: Failure,
    },
}

/// What the session does about a stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Remedy {
    /// PING the connection (a dead one fails its ACK deadline) and reopen the call on it.
    Reopen,
    /// The reopened call stalled too: drop the connection and dial again at once.
    Redial,
}

/// A retryable failure.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A call ended with this status.
    Status(Status),
    /// The connection could not be made or was lost (the driver knows the OS error).
    Connection,
}

/// How a process ended, as `waitpid(2)` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "waitpid(2) reports an exit or a termination signal, nothing else"
)]
pub enum ProcessStatus {
    /// It exited with this status (`WEXITSTATUS`).
    Code(i32),
    /// A signal ended it (`WTERMSIG`).
    Signal(i32),
}

/// How the run ends.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum Exit {
    /// One-shot mode: every configured output was written.
    Done,
    /// Daemon mode: stopped by this signal (SIGTERM or SIGINT), which the driver forwards to
    /// `cmd`.
    Stopped {
        /// The signal number.
        signal: i32,
    },
    /// A failure that retrying cannot fix.
    Fatal(Fatal),
    /// Wrapper mode: the program ended so (`None`: it could not be started).
    Wrapped(Option<ProcessStatus>),
}

/// The exit status for every configured output written, and for daemon mode stopped by a
/// signal (upstream's, its issues #179/#180).
pub const EXIT_OK: u8 = 0;
/// The configuration was refused; also every failure in daemon mode, as upstream
/// (`cmd/spiffe-helper/main.go@v0.11.0`).
pub const EXIT_CONFIG: u8 = 1;
/// One-shot mode: the agent could not be reached, the retries ran out, or `timeout` passed.
pub const EXIT_UNREACHABLE: u8 = 2;
/// One-shot mode: the agent refused (PERMISSION_DENIED after the retries, INVALID_ARGUMENT
/// or another status retrying cannot fix).
pub const EXIT_REFUSED: u8 = 3;
/// One-shot mode: an output could not be written, or what the agent sent failed decoding or
/// verification.
pub const EXIT_OUTPUT: u8 = 4;
/// One-shot mode: every output was written but a `reload.exec` hook failed or timed out.
pub const EXIT_HOOK: u8 = 5;

impl Exit {
    /// The process exit status for this end of a run: the one place the codes are decided.
    /// A one-shot run stopped by signal N before it was done exits 128 + N, as a shell
    /// reports a process killed by it.
    pub fn code(&self, one_shot: bool) -> u8 {
        let fatal = match self {
            Exit::Done | Exit::Stopped { .. } => return EXIT_OK,
            Exit::Wrapped(status) => return wrapped_code(*status),
            Exit::Fatal(_) if !one_shot => return EXIT_CONFIG,
            Exit::Fatal(fatal) => fatal,
        };
        match fatal {
            Fatal::Interrupted { signal } => {
                u8::try_from(128 + (*signal).clamp(0, 127)).unwrap_or(u8::MAX)
            }
            Fatal::TimedOut(_)
            | Fatal::RetriesExhausted(Failure::Connection)
            | Fatal::RetriesExhausted(Failure::Status(Status {
                code: Code::Unavailable,
                ..
            })) => EXIT_UNREACHABLE,
            Fatal::Status { .. } | Fatal::RetriesExhausted(Failure::Status(_)) => EXIT_REFUSED,
            Fatal::BadMessage(_)
            | Fatal::Rejected(_)
            | Fatal::JwtRejected(..)
            | Fatal::WriteFailed(_) => EXIT_OUTPUT,
            Fatal::HookFailed => EXIT_HOOK,
        }
    }
}

/// The exit status of a wrapper: the program's own, 128 + N for a program killed by signal
/// N (as a shell reports it), 127 when it could not be started (as `env(1)` and shells).
fn wrapped_code(status: Option<ProcessStatus>) -> u8 {
    match status {
        Some(ProcessStatus::Code(code)) => u8::try_from(code & 0xff).unwrap_or(u8::MAX),
        Some(ProcessStatus::Signal(sig)) => {
            u8::try_from(128 + sig.clamp(0, 127)).unwrap_or(u8::MAX)
        }
        None => 127,
    }
}

/// Why the run failed.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum Fatal {
    /// The agent refused the call: INVALID_ARGUMENT, or in one-shot mode any status other
    /// than PERMISSION_DENIED and UNAVAILABLE.
    Status {
        /// Which subscription.
        sub: Subscription,
        /// The status.
        status: Status,
    },
    /// One-shot mode: the retry schedule ran out; the last failure.
    RetriesExhausted(Failure),
    /// One-shot mode: the message could not be decoded.
    BadMessage(DecodeError),
    /// One-shot mode: the X.509 message could not be used.
    Rejected(x509::VerifyError),
    /// One-shot mode: the JWT bundle or token could not be used.
    JwtRejected(Subscription, JwtRejection),
    /// One-shot mode: the files could not be written.
    WriteFailed(Subscription),
    /// One-shot mode: `timeout` passed before every output was written.
    TimedOut(Duration),
    /// One-shot mode: every output was written, but a hook run failed or timed out.
    HookFailed,
    /// One-shot mode: SIGTERM or SIGINT (this signal number) arrived before every output was
    /// written.
    Interrupted {
        /// The signal number.
        signal: i32,
    },
}

/// Why a JWT bundle or token was not written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtRejection {
    /// No token matches `hint` (upstream, `pkg/disk/json.go@v0.11.0`: `failed to find the hinted
    /// JWT SVID`), or the response holds no token.
    HintNotFound,
    /// The token failed verification against the JWT bundle.
    Invalid(jwt::VerifyError),
    /// The JWT bundles could not be read (one bad entry refuses the message, as go-spiffe).
    BadBundles(jwt::BundlesError),
    /// The token verified, but its `sub` is not the SPIFFE ID the response gives for it:
    /// another workload's token (upstream writes it: `pkg/sidecar/sidecar.go@v0.11.0`).
    SubjectMismatch {
        /// The token's `sub`.
        sub: String,
        /// The response's `spiffe_id`.
        spiffe_id: String,
    },
    /// The token is longer than [`jwt::MAX_TOKEN_SIZE`] bytes; it is not parsed.
    TooLarge {
        /// Its length in bytes.
        size: usize,
    },
}

impl core::fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::HintNotFound => f.write_str("failed to find the hinted JWT SVID"),
            Self::Invalid(e) => write!(f, "{e}"),
            Self::BadBundles(e) => write!(f, "{e}"),
            Self::SubjectMismatch { sub, spiffe_id } => write!(
                f,
                "token subject {sub:?} is not the SPIFFE ID of the JWT-SVID {spiffe_id:?}"
            ),
            Self::TooLarge { size } => write!(
                f,
                "token is {size} bytes, over the limit of {} bytes",
                jwt::MAX_TOKEN_SIZE
            ),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for JwtRejection {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::BadBundles(e) => Some(e),
            _ => None,
        }
    }
}
