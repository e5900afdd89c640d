//! The session's public vocabulary: what it is configured with, the rows of its table, the
//! actions it asks of the driver, what it reports, and how a run ends.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::super::{ClientConfig, Error};
use crate::grpc::Status;
use crate::jwt;
use crate::x509::{self, RenderOptions, Rendered};

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
    /// Verify each X.509-SVID (key pair, chain against the bundle, SPIFFE ID) before it is
    /// written; `skip_svid_verification` turns this off.
    pub verify: bool,
    /// `svid_credential_bundle_file_name` is set: render the credential bundle.
    pub credential_bundle: bool,
    /// `trust_bundle_dir` is set: render one bundle per trust domain.
    pub trust_domain_bundles: bool,
    /// `spiffe_bundle_map_file_name` is set: render the SPIFFE bundle map.
    pub bundle_map: bool,
}

impl X509Options {
    pub(super) fn render_options<'a>(&self, hint: &'a str) -> RenderOptions<'a> {
        RenderOptions {
            hint,
            add_intermediates_to_bundle: self.add_intermediates_to_bundle,
            include_federated_domains: self.include_federated_domains,
            omit_expired: self.omit_expired,
            credential_bundle: self.credential_bundle,
            trust_domain_bundles: self.trust_domain_bundles,
            bundle_map: self.bundle_map,
        }
    }
}

/// What a [`Session`](super::Session) serves and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The Workload API client and its HTTP/2 connection.
    pub client: ClientConfig,
    /// One-shot mode: end with [`Exit::Done`] once every output is written; retry on
    /// upstream's short schedule and give up when it runs out.
    pub one_shot: bool,
    /// `hint`: which SVID (X.509) and which token (JWT) to write; empty picks the first.
    pub hint: String,
    /// The X.509 files, if configured.
    pub x509: Option<X509Options>,
    /// `jwt_bundle_file_name` is set: write the JWT bundles on every FetchJWTBundles message.
    pub jwt_bundle: bool,
    /// `jwt_svids`: one FetchJWTSVID row each, refreshed from its token's own lifetime.
    pub jwt_svids: Vec<JwtSvidOptions>,
    /// `pid_file_name` is set: after each X.509 write (daemon mode), signal the process it
    /// names, retrying on upstream's schedule.
    pub pid_file: bool,
}

/// One `jwt_svids` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtSvidOptions {
    /// `jwt_audience`: the audience the token must carry.
    pub audience: String,
    /// `jwt_extra_audiences`: more audiences to ask for.
    pub extra_audiences: Vec<String>,
}

/// A kind of subscription: one row of the session's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    /// The FetchX509SVID watch.
    X509,
    /// The FetchJWTBundles watch (opened for the bundle file and to verify JWT-SVIDs).
    JwtBundles,
    /// The FetchJWTSVID call of `jwt_svids[n]`, repeated to refresh the token.
    JwtSvid(usize),
}

/// What the driver must do.
#[derive(Debug)]
pub enum Action {
    /// Open a new connection to the agent; report [`Session::connected`](super::Session::connected) or
    /// [`Session::connection_lost`](super::Session::connection_lost).
    Dial,
    /// Close the connection (after sending what [`Session::poll_transmit`](super::Session::poll_transmit) holds).
    Disconnect,
    /// Write this X.509 set, then report [`Session::written`](super::Session::written).
    WriteX509(Box<Rendered>),
    /// Write the JWT bundle file (upstream's format), then report [`Session::written`](super::Session::written).
    WriteJwtBundle(Vec<u8>),
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
    /// Something worth logging happened.
    Report(Report),
    /// The run is over: always the last action.
    Exit(Exit),
}

/// Events the driver logs; none needs an answer.
#[derive(Debug, PartialEq)]
pub enum Report {
    /// A call ended (its status; OK for a stream the agent closed cleanly) and is reopened
    /// after `retry_in`.
    CallFailed {
        /// Which subscription.
        sub: Sub,
        /// How the call ended.
        status: Status,
        /// When it is reopened.
        retry_in: Duration,
    },
    /// A message that is not a valid protobuf encoding was dropped; the files stay.
    BadMessage {
        /// Which subscription.
        sub: Sub,
        /// The decoding error.
        error: Error,
    },
    /// An X.509 message that cannot be used (not renderable, or failing verification) was
    /// dropped; the files stay.
    Rejected(x509::VerifyError),
    /// A JWT message (bundle or token) that cannot be used was dropped; the file stays.
    JwtRejected {
        /// Which subscription.
        sub: Sub,
        /// Why.
        error: JwtRejection,
        /// When it is asked for again (JWT-SVIDs), or `None` (bundles: the next message).
        retry_in: Option<Duration>,
    },
    /// The session dropped the connection: HTTP/2 error, handshake or PING timeout, or GOAWAY.
    ConnectionFailed(Error),
    /// No update came for most of the SVID's remaining life: the session asked again.
    Stalled {
        /// Which subscription.
        sub: Sub,
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
    /// One-shot mode: a retryable failure, retried after `delay` (attempt counts from 1).
    Retrying {
        /// The output being fetched (`None`: the connection, for all of them).
        sub: Option<Sub>,
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
pub enum Remedy {
    /// PING the connection (a dead one fails its ACK deadline) and reopen the call on it.
    Reopen,
    /// The reopened call stalled too: drop the connection and dial again at once.
    Redial,
}

/// A retryable failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A call ended with this status.
    Status(Status),
    /// The connection could not be made or was lost (the driver knows the OS error).
    Connection,
}

/// How the run ends.
#[derive(Debug, PartialEq)]
pub enum Exit {
    /// One-shot mode: every configured output was written.
    Done,
    /// A failure that retrying cannot fix.
    Fatal(Fatal),
}

/// Why the run failed.
#[derive(Debug, PartialEq)]
pub enum Fatal {
    /// The agent refused the call: INVALID_ARGUMENT, or in one-shot mode any status other
    /// than PERMISSION_DENIED and UNAVAILABLE.
    Status {
        /// Which subscription.
        sub: Sub,
        /// The status.
        status: Status,
    },
    /// One-shot mode: the retry schedule ran out; the last failure.
    RetriesExhausted(Failure),
    /// One-shot mode: the message could not be decoded.
    BadMessage(Error),
    /// One-shot mode: the X.509 message could not be used.
    Rejected(x509::VerifyError),
    /// One-shot mode: the JWT bundle or token could not be used.
    JwtRejected(Sub, JwtRejection),
    /// One-shot mode: the files could not be written.
    WriteFailed(Sub),
}

/// Why a JWT bundle or token was not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtRejection {
    /// No token matches `hint` (upstream: `failed to find the hinted JWT SVID`), or the
    /// response holds no token.
    HintNotFound,
    /// The token failed verification against the JWT bundle.
    Invalid(jwt::VerifyError),
    /// The JWT bundles could not be read (one bad entry refuses the message, as go-spiffe).
    BadBundles(jwt::BundlesError),
}

impl core::fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::HintNotFound => f.write_str("failed to find the hinted JWT SVID"),
            Self::Invalid(e) => write!(f, "{e}"),
            Self::BadBundles(e) => write!(f, "{e}"),
        }
    }
}
