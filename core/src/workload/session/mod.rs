//! The helper's whole policy towards the agent, sans-I/O: one connection, a table of
//! subscriptions on it, and every timer and retry decision.
//!
//! Each subscription (today the X.509 watch) is a row that is open on a stream, queued for a
//! stream slot (SETTINGS_MAX_CONCURRENT_STREAMS), backing off until an instant, waiting for a
//! connection, or done (one-shot mode). The connection is dialled, up, or down until a
//! re-dial instant. A stall watch per row re-asks the agent when an update is overdue judged
//! by the SVID's own NotAfter, since an agent may legitimately stay silent for half an SVID's
//! life but never for all of it.
//!
//! Driving it, as quinn-proto is driven: report the socket's fate ([`Session::connected`],
//! [`Session::connection_lost`]), feed received bytes ([`Session::recv`]), call
//! [`Session::handle_timeout`] at [`Session::poll_timeout`], send what
//! [`Session::poll_transmit`] yields, and perform every [`Session::poll_action`], reporting
//! each write back with [`Session::written`]. Time enters only as arguments: a monotonic
//! [`Instant`] and the wall clock in Unix milliseconds.

mod jwt_rows;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::backoff::{Backoff, Schedule};
use super::{Client, ClientConfig, Error, Event};
use crate::grpc::{Code, Status};
use crate::h2::{self, StreamId};
use crate::jwt;
use crate::spiffe_id::TrustDomain;
use crate::time::{Instant, earliest};
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
}

impl X509Options {
    fn render_options<'a>(&self, hint: &'a str) -> RenderOptions<'a> {
        RenderOptions {
            hint,
            add_intermediates_to_bundle: self.add_intermediates_to_bundle,
            include_federated_domains: self.include_federated_domains,
            omit_expired: self.omit_expired,
        }
    }
}

/// What a [`Session`] serves and how.
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
    /// Open a new connection to the agent; report [`Session::connected`] or
    /// [`Session::connection_lost`].
    Dial,
    /// Close the connection (after sending what [`Session::poll_transmit`] holds).
    Disconnect,
    /// Write this X.509 set, then report [`Session::written`].
    WriteX509(Box<Rendered>),
    /// Write the JWT bundle file (upstream's format), then report [`Session::written`].
    WriteJwtBundle(Vec<u8>),
    /// Write the token of `jwt_svids[index]` (no newline), then report [`Session::written`].
    WriteJwtSvid {
        /// Which `jwt_svids` entry.
        index: usize,
        /// The compact JWS, verified against the JWT bundle.
        token: String,
    },
    /// Read the pid file and send `renew_signal` to that process, then report
    /// [`Session::pid_signalled`]. `attempt` counts from 1.
    SignalPidFile {
        /// Which attempt of the current run this is.
        attempt: u32,
    },
    /// Something worth logging happened.
    Report(Report),
    /// The run is over.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a connection.
    Idle,
    /// Connected, waiting for the server's stream limit to allow one more.
    Queued,
    Open(StreamId),
    Backoff(Instant),
    /// A JWT-SVID row waiting for the first JWT bundle to verify its token with.
    WaitBundles,
    /// A JWT-SVID row whose token is being written.
    Writing,
    /// A JWT-SVID row whose token is fresh until this refresh instant.
    Refresh(Instant),
    /// One-shot mode: written.
    Done,
}

/// The stall watch of a row: the SVID on disk and when to ask again.
#[derive(Clone, Copy, Debug)]
struct Watch {
    deadline: Instant,
    /// NotAfter of the SVID on disk, Unix seconds.
    not_after: i64,
    /// When it arrived.
    since: Instant,
    /// Stalls since a newer SVID arrived.
    stalls: u32,
    /// Whether this connection has already been probed for this stall.
    probed: bool,
}

#[derive(Debug)]
struct Row {
    sub: Sub,
    state: State,
    backoff: Backoff,
    watch: Option<Watch>,
    /// The output waiting for [`Session::written`]: its expiry, Unix seconds (`i64::MAX`
    /// for the JWT bundle, which has none).
    pending: Option<i64>,
    /// Expiry of the output on disk, Unix seconds (`i64::MAX`: none).
    on_disk_until: Option<i64>,
}

/// How long the agent connection may be down before the helper stops reporting ready.
pub const READY_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum Conn {
    Dialing,
    Up(Box<Client>),
    Down(Instant),
}

/// The fraction of an SVID's remaining life after which silence counts as a stall: past
/// SPIRE's half-life rotation, with room left to fetch a fresh SVID before expiry.
const STALL_FRACTION: (i64, i64) = (3, 4);
/// Shortest wait for a stall PING's ACK.
const MIN_PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// The Workload API session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    conn: Conn,
    /// A connection being given up, kept until its last bytes (GOAWAY, RST_STREAM) are sent.
    closing: Option<Box<Client>>,
    conn_backoff: Backoff,
    /// Since when the helper has had no working agent connection (`None` once the agent has
    /// spoken on the current one).
    down_since: Option<Instant>,
    rows: Vec<Row>,
    /// The JWT bundles last received, by trust domain as the agent names them, for verifying
    /// JWT-SVIDs.
    jwt_bundles: Option<BTreeMap<TrustDomain, jwt::Jwks>>,
    /// The pid-file signalling in progress: its schedule and when to try again.
    pid: Option<(Backoff, Option<Instant>)>,
    actions: VecDeque<Action>,
    exited: bool,
}

impl Session {
    /// A session whose first action is [`Action::Dial`].
    pub fn new(config: SessionConfig) -> Self {
        let schedule = if config.one_shot {
            Schedule::OneShot
        } else {
            Schedule::Linear
        };
        let jwt_schedule = if config.one_shot {
            Schedule::OneShot
        } else {
            Schedule::Exponential
        };
        let x509 = config
            .x509
            .iter()
            .map(|_| (Sub::X509, State::Idle, schedule));
        let bundles = (config.jwt_bundle || !config.jwt_svids.is_empty()).then_some((
            Sub::JwtBundles,
            State::Idle,
            schedule,
        ));
        let svids = (0..config.jwt_svids.len())
            .map(|i| (Sub::JwtSvid(i), State::WaitBundles, jwt_schedule));
        let rows = x509
            .chain(bundles)
            .chain(svids)
            .map(|(sub, state, schedule)| Row {
                sub,
                state,
                backoff: Backoff::new(schedule),
                watch: None,
                pending: None,
                on_disk_until: None,
            })
            .collect();
        let mut session = Session {
            config,
            conn: Conn::Dialing,
            closing: None,
            conn_backoff: Backoff::new(schedule),
            down_since: None,
            rows,
            jwt_bundles: None,
            pid: None,
            actions: VecDeque::new(),
            exited: false,
        };
        session.actions.push_back(Action::Dial);
        session
    }

    /// The dial succeeded: every subscription is (re)opened on the new connection.
    pub fn connected(&mut self, now: Instant) {
        if self.exited {
            return;
        }
        self.conn = Conn::Up(Box::new(Client::new(self.config.client, now)));
        for row in &mut self.rows {
            if let Some(w) = &mut row.watch {
                w.probed = false;
            }
        }
        self.open_rows(now);
    }

    /// The dial failed or the socket closed: re-dial after the connection backoff.
    pub fn connection_lost(&mut self, now: Instant) {
        if !self.exited {
            self.go_down(now, false);
            // The socket is gone: nothing of the old connection can be sent.
            self.closing = None;
        }
    }

    /// Bytes read from the socket.
    pub fn recv(&mut self, now: Instant, unix_ms: i64, bytes: &[u8]) {
        let Conn::Up(client) = &mut self.conn else {
            return;
        };
        let result = client.recv(bytes);
        if result.is_ok() {
            // The agent speaks: the connection works.
            self.down_since = None;
        }
        self.drain_events(now, unix_ms, result.is_err());
        if let Err(e) = result {
            self.fail_connection(now, e, false);
        }
        self.open_rows(now);
    }

    /// Advances every timer to `now`.
    pub fn handle_timeout(&mut self, now: Instant, unix_ms: i64) {
        if self.exited {
            return;
        }
        if let Conn::Up(client) = &mut self.conn
            && let Err(e) = client.handle_timeout(now)
        {
            let immediate = e == Error::H2(h2::Error::PingTimeout);
            self.fail_connection(now, e, immediate);
        }
        if let Conn::Down(at) = self.conn
            && now >= at
        {
            self.conn = Conn::Dialing;
            self.actions.push_back(Action::Dial);
        }
        for row in &mut self.rows {
            if let State::Backoff(at) | State::Refresh(at) = row.state
                && now >= at
            {
                row.state = State::Idle;
            }
        }
        for i in 0..self.rows.len() {
            self.check_stall(i, now, unix_ms);
        }
        if let Some((backoff, retry_at)) = &mut self.pid
            && retry_at.is_some_and(|at| now >= at)
        {
            *retry_at = None;
            let attempt = backoff.attempts() + 1;
            self.actions.push_back(Action::SignalPidFile { attempt });
        }
        self.open_rows(now);
    }

    /// The outcome of the write asked for by an [`Action::WriteX509`],
    /// [`Action::WriteJwtBundle`] or [`Action::WriteJwtSvid`].
    pub fn written(&mut self, now: Instant, unix_ms: i64, sub: Sub, ok: bool) {
        let Some(i) = self.rows.iter().position(|r| r.sub == sub) else {
            return;
        };
        let Some(expiry) = self.rows[i].pending.take() else {
            return;
        };
        if ok {
            self.rows[i].on_disk_until = Some(expiry);
        }
        if !ok && self.config.one_shot {
            self.exit(Exit::Fatal(Fatal::WriteFailed(sub)));
            return;
        }
        match sub {
            Sub::X509 if ok => self.x509_written(i, now, unix_ms, expiry),
            Sub::JwtSvid(_) => self.jwt_svid_written(i, now, unix_ms, expiry, ok),
            _ => {}
        }
        if ok && self.config.one_shot {
            self.output_done(i);
        }
    }

    /// One-shot mode: row `i` has its output; the run ends when every row has.
    fn output_done(&mut self, i: usize) {
        let row = &mut self.rows[i];
        if let (State::Open(stream), Conn::Up(client)) = (row.state, &mut self.conn) {
            client.cancel(stream);
        }
        row.state = State::Done;
        if self.rows.iter().all(|r| r.state == State::Done) {
            self.exit(Exit::Done);
        }
    }

    fn x509_written(&mut self, i: usize, now: Instant, unix_ms: i64, not_after: i64) {
        let row = &mut self.rows[i];
        // Only a newer SVID ends a run of stalls; the same one again keeps backing off.
        let stalls = match row.watch {
            Some(w) if not_after <= w.not_after => w.stalls,
            _ => 0,
        };
        row.watch = Some(Watch {
            deadline: stall_deadline(now, unix_ms, not_after, stalls),
            not_after,
            since: now,
            stalls,
            probed: false,
        });
        if self.config.pid_file && !self.config.one_shot {
            // A fresh run of attempts, replacing one still retrying.
            self.pid = Some((Backoff::new(Schedule::PidFile), None));
            self.actions.push_back(Action::SignalPidFile { attempt: 1 });
        }
    }

    /// Whether some output on disk (X.509 leaf, JWT-SVID) has expired: readiness is false
    /// then, whatever upstream's write statuses say (its issue #221).
    pub fn files_expired(&self, unix_ms: i64) -> bool {
        self.rows
            .iter()
            .filter_map(|r| r.on_disk_until)
            .any(|until| until.saturating_mul(1000) <= unix_ms)
    }

    /// Whether the agent connection has been down for longer than [`READY_GRACE`]:
    /// readiness is false then (upstream ignores the agent once written, its issue #221).
    pub fn agent_lost(&self, now: Instant) -> bool {
        self.down_since
            .is_some_and(|since| now.saturating_duration_since(since) >= READY_GRACE)
    }

    /// The outcome of the attempt asked for by an [`Action::SignalPidFile`].
    pub fn pid_signalled(&mut self, now: Instant, ok: bool) {
        let Some((backoff, retry_at)) = &mut self.pid else {
            return;
        };
        if ok {
            self.pid = None;
            return;
        }
        match backoff.next_delay() {
            Some(delay) => *retry_at = Some(now + delay),
            None => {
                let attempts = backoff.attempts() + 1;
                self.pid = None;
                self.report(Report::PidFileGaveUp { attempts });
            }
        }
    }

    /// Appends the bytes to send to the agent.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        if let Some(mut client) = self.closing.take() {
            client.poll_transmit(out);
        }
        if let Conn::Up(client) = &mut self.conn {
            client.poll_transmit(out);
        }
    }

    /// The next instant [`Session::handle_timeout`] has work; `None`: only I/O can wake it.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.exited {
            return None;
        }
        let mut next = match &self.conn {
            Conn::Up(client) => client.poll_timeout(),
            Conn::Down(at) => Some(*at),
            Conn::Dialing => None,
        };
        if let Some((_, retry_at)) = &self.pid {
            next = earliest(next, *retry_at);
        }
        for row in &self.rows {
            match row.state {
                State::Backoff(at) | State::Refresh(at) => next = earliest(next, Some(at)),
                State::Open(_) => next = earliest(next, row.watch.map(|w| w.deadline)),
                _ => {}
            }
        }
        next
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn report(&mut self, report: Report) {
        self.actions.push_back(Action::Report(report));
    }

    fn exit(&mut self, exit: Exit) {
        if !self.exited {
            self.exited = true;
            self.actions.push_back(Action::Exit(exit));
        }
    }

    fn row_of(&self, stream: StreamId) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.state == State::Open(stream))
    }

    /// Handles the client's events. After a connection error only the messages that arrived
    /// before it count: the calls' closing is the connection's loss, handled by the caller.
    fn drain_events(&mut self, now: Instant, unix_ms: i64, conn_failed: bool) {
        let Conn::Up(client) = &mut self.conn else {
            return;
        };
        let events: Vec<Event> = core::iter::from_fn(|| client.poll_event()).collect();
        for event in events {
            match event {
                Event::X509Svid { stream, response } => {
                    let Some(i) = self.row_of(stream) else {
                        continue;
                    };
                    self.conn_backoff.reset();
                    self.rows[i].backoff.reset();
                    let Some(options) = &self.config.x509 else {
                        continue;
                    };
                    let opts = options.render_options(&self.config.hint);
                    let now_unix = unix_ms.div_euclid(1000);
                    let verified = match x509::render(&response, &opts, now_unix) {
                        Ok(rendered) if options.verify => {
                            x509::verify_response(&response, &opts, now_unix).map(|()| rendered)
                        }
                        Ok(rendered) => Ok(rendered),
                        Err(e) => Err(x509::VerifyError::Render(e)),
                    };
                    match verified {
                        Ok(rendered) => {
                            self.rows[i].pending = Some(rendered.not_after);
                            self.actions
                                .push_back(Action::WriteX509(Box::new(rendered)));
                        }
                        Err(e) if self.config.one_shot => {
                            self.exit(Exit::Fatal(Fatal::Rejected(e)));
                        }
                        Err(e) => self.report(Report::Rejected(e)),
                    }
                }
                Event::JwtBundles { stream, response } => {
                    if let Some(i) = self.row_of(stream) {
                        self.conn_backoff.reset();
                        self.rows[i].backoff.reset();
                        self.on_jwt_bundles(i, now, response.bundles);
                    }
                }
                Event::JwtSvid { stream, response } => {
                    if let Some(i) = self.row_of(stream) {
                        self.conn_backoff.reset();
                        self.on_jwt_svid(i, now, unix_ms, response.svids);
                    }
                }
                Event::BadMessage { stream, error } => {
                    let Some(i) = self.row_of(stream) else {
                        continue;
                    };
                    if self.config.one_shot {
                        self.exit(Exit::Fatal(Fatal::BadMessage(error)));
                    } else {
                        let sub = self.rows[i].sub;
                        self.report(Report::BadMessage { sub, error });
                    }
                }
                Event::Closed { stream, status } if !conn_failed => {
                    if let Some(i) = self.row_of(stream) {
                        self.call_closed(i, now, status);
                    }
                }
                _ => {}
            }
        }
    }

    /// A call ended: fatal, or reopened after the row's backoff (on a new connection if
    /// this one is going away).
    fn call_closed(&mut self, i: usize, now: Instant, status: Status) {
        let sub = self.rows[i].sub;
        let retryable = !self.config.one_shot
            || matches!(status.code, Code::PermissionDenied | Code::Unavailable);
        if status.code == Code::InvalidArgument || !retryable {
            self.exit(Exit::Fatal(Fatal::Status { sub, status }));
            return;
        }
        let going_away = matches!(&self.conn, Conn::Up(c) if c.is_going_away());
        let Some(delay) = self.rows[i].backoff.next_delay() else {
            self.exit(Exit::Fatal(Fatal::RetriesExhausted(Failure::Status(
                status,
            ))));
            return;
        };
        self.rows[i].state = State::Backoff(now + delay);
        if self.config.one_shot {
            let attempt = self.rows[i].backoff.attempts();
            let after = Failure::Status(status);
            self.report(Report::Retrying {
                sub: Some(sub),
                attempt,
                delay,
                after,
            });
        } else {
            self.report(Report::CallFailed {
                sub,
                status,
                retry_in: delay,
            });
        }
        if going_away {
            self.fail_connection(now, Error::H2(h2::Error::GoingAway), false);
        }
    }

    /// The session gives up on the connection: report, close, re-dial.
    fn fail_connection(&mut self, now: Instant, error: Error, immediate: bool) {
        self.report(Report::ConnectionFailed(error));
        self.actions.push_back(Action::Disconnect);
        self.go_down(now, immediate);
    }

    /// Every row waits for a new connection, dialled after the connection backoff (at once
    /// when `immediate`).
    fn go_down(&mut self, now: Instant, immediate: bool) {
        self.down_since.get_or_insert(now);
        for row in &mut self.rows {
            if matches!(row.state, State::Open(_) | State::Queued) {
                row.state = State::Idle;
            }
        }
        let delay = if immediate {
            Some(Duration::ZERO)
        } else {
            self.conn_backoff.next_delay()
        };
        let Some(delay) = delay else {
            self.exit(Exit::Fatal(Fatal::RetriesExhausted(Failure::Connection)));
            return;
        };
        if let Conn::Up(client) = core::mem::replace(&mut self.conn, Conn::Down(now + delay)) {
            self.closing = Some(client);
        }
        if self.config.one_shot && !immediate {
            let attempt = self.conn_backoff.attempts();
            self.report(Report::Retrying {
                sub: None,
                attempt,
                delay,
                after: Failure::Connection,
            });
        }
    }

    /// Opens every waiting row the server's stream limit allows.
    fn open_rows(&mut self, now: Instant) {
        let Conn::Up(client) = &mut self.conn else {
            return;
        };
        let mut failed = None;
        for row in &mut self.rows {
            if !matches!(row.state, State::Idle | State::Queued) {
                continue;
            }
            if !client.can_open_call() {
                row.state = State::Queued;
                continue;
            }
            let opened = match row.sub {
                Sub::X509 => client.fetch_x509_svid(),
                Sub::JwtBundles => client.fetch_jwt_bundles(),
                Sub::JwtSvid(n) => {
                    let entry = &self.config.jwt_svids[n];
                    let audiences: Vec<&str> = core::iter::once(entry.audience.as_str())
                        .chain(entry.extra_audiences.iter().map(String::as_str))
                        .collect();
                    client.fetch_jwt_svid(&audiences, "")
                }
            };
            match opened {
                Ok(stream) => row.state = State::Open(stream),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            self.fail_connection(now, e, false);
        }
    }

    /// Fires the row's stall watch if due: first PING and reopen the call, then re-dial.
    fn check_stall(&mut self, i: usize, now: Instant, unix_ms: i64) {
        let row = &mut self.rows[i];
        let (State::Open(stream), Some(w)) = (row.state, &mut row.watch) else {
            return;
        };
        if now < w.deadline {
            return;
        }
        let Conn::Up(client) = &mut self.conn else {
            return;
        };
        w.stalls = w.stalls.saturating_add(1);
        w.deadline = stall_deadline(now, unix_ms, w.not_after, w.stalls);
        let expires_in_ms = w.not_after.saturating_mul(1000).saturating_sub(unix_ms);
        let remedy = if w.probed {
            Remedy::Redial
        } else {
            w.probed = true;
            let probe = Duration::from_millis(u64::try_from(expires_in_ms / 8).unwrap_or(0))
                .clamp(MIN_PROBE_TIMEOUT, self.config.client.h2.ping_timeout);
            client.ping(now, probe);
            client.cancel(stream);
            row.state = State::Idle;
            Remedy::Reopen
        };
        let report = Report::Stalled {
            sub: row.sub,
            silent_for: now.saturating_duration_since(w.since),
            expires_in_ms,
            remedy,
        };
        self.report(report);
        if remedy == Remedy::Redial {
            self.actions.push_back(Action::Disconnect);
            self.go_down(now, true);
        }
    }
}

/// When silence about an SVID expiring at `not_after` becomes a stall: after
/// [`STALL_FRACTION`] of its remaining life, and no sooner than `stalls` seconds (1 to 30)
/// so that an agent with nothing newer to give is not asked in a tight loop.
fn stall_deadline(now: Instant, unix_ms: i64, not_after: i64, stalls: u32) -> Instant {
    let remaining = not_after.saturating_mul(1000).saturating_sub(unix_ms);
    let wait = remaining.max(0) / STALL_FRACTION.1 * STALL_FRACTION.0;
    let floor = Duration::from_secs(u64::from(stalls.clamp(1, 30)));
    now + Duration::from_millis(u64::try_from(wait).unwrap_or(0)).max(floor)
}

#[cfg(test)]
mod tests;
