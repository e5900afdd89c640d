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
//! each write back with [`Session::written`], each `cmd` start with
//! [`Session::workload_started`], its exit with [`Session::workload_exited`], each hook's end
//! with [`Session::hook_finished`], and SIGTERM or SIGINT with [`Session::stop`]. Time enters only as arguments: a monotonic [`Instant`] and
//! the wall clock, a [`UnixTime`].

mod api;
mod hooks;
mod jwt_rows;
mod metrics;
mod notify;
mod shutdown;
mod stall;
mod timer;
mod workload;

pub use api::{
    Action, EXIT_CONFIG, EXIT_HOOK, EXIT_OK, EXIT_OUTPUT, EXIT_REFUSED, EXIT_UNREACHABLE, Exit,
    Failure, Fatal, HookOptions, JwtRejection, JwtSvidOptions, Notify, NotifyConfig, ProcessStatus,
    Remedy, Report, SessionConfig, Subscription, X509Options,
};
use shutdown::Stopping;
pub use shutdown::{KILL_WAIT, SHUTDOWN_GRACE};
use stall::{Watch, stall_deadline};
use timer::{Timer, TimerTable};
use workload::Workload;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::backoff::{Backoff, Schedule};
use super::{Client, Event};
use crate::grpc::{Code, Status};
use crate::h2::{self, StreamId};
use crate::health::HealthState;
use crate::jwt;
use crate::metrics::{FailureReason, Metrics};
use crate::spiffe_id::TrustDomain;
use crate::time::{Instant, UnixTime, earliest};
use crate::x509;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a connection.
    Idle,
    /// Connected, waiting for the server's stream limit to allow one more.
    Queued,
    Open(StreamId),
    /// Waiting for [`Timer::Retry`] after a failure.
    Backoff,
    /// A JWT-SVID row waiting for the first JWT bundle to verify its token with.
    WaitBundles,
    /// A JWT-SVID row whose token is being written.
    Writing,
    /// A JWT-SVID row whose token is fresh until [`Timer::Retry`], its refresh.
    Refresh,
    /// One-shot mode: written.
    Done,
}

#[derive(Debug)]
struct Row {
    sub: Subscription,
    state: State,
    backoff: Backoff,
    watch: Option<Watch>,
    /// The output waiting for [`Session::written`].
    pending: Option<Pending>,
    /// Expiry of the output on disk, Unix seconds; `None` while nothing expiring (the JWT
    /// bundle has no expiry) is on disk.
    on_disk_until: Option<i64>,
}

/// An output handed to the driver to write, until [`Session::written`] reports on it.
#[derive(Debug)]
struct Pending {
    /// Its expiry, Unix seconds; `None` for the JWT bundle, which has none.
    expiry: Option<i64>,
    /// The SPIFFE ID of its SVID; empty for the bundle.
    spiffe_id: String,
}

/// How long the agent connection may be down before the helper stops reporting ready.
pub const READY_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum AgentConnection {
    Dialing,
    Up(Box<Client>),
    /// Dialled again at [`Timer::Redial`].
    Down,
}

/// The Workload API session. See the module documentation.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    conn: AgentConnection,
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
    /// The X.509 checks already passed under the current trust bundle, so that a rotation
    /// verifies only what it brings (bounded; dropped when the bundle changes).
    x509_verified: x509::VerifyCache,
    /// The pid-file signalling in progress: its schedule ([`Timer::PidRetry`] is the next
    /// attempt).
    pid: Option<Backoff>,
    /// Every deadline.
    timers: TimerTable,
    /// `READY=1` was sent.
    ready_sent: bool,
    /// The `cmd` process.
    workload: Workload,
    /// SIGTERM or SIGINT arrived: the shutdown in progress.
    stopping: Option<Stopping>,
    /// The backoff before the next restart of `cmd` under a restart policy.
    restart_delay: Duration,
    /// The `reload.exec` hooks' runs, by index.
    hooks: Vec<hooks::Hook>,
    /// One-shot mode: a hook run failed (the run ends with [`Fatal::HookFailed`]).
    hook_failed: bool,
    /// One-shot mode: every output is written; the run ends once the hooks are idle.
    all_written: bool,
    /// The write status of every output, for the health endpoints.
    health: HealthState,
    /// The counters and gauges of the metrics endpoint.
    metrics: Metrics,
    /// The bundle expiries of the X.509 set being written, for [`Metrics::set_bundles`].
    pending_bundles: Vec<(String, i64)>,
    /// For the X.509 write in flight: which `x509_svids` entries it holds.
    x509_entries_pending: Vec<bool>,
    /// With the bundle map and the JWT bundle file: the map's X.509 half of the last X.509
    /// update, joined with each JWT bundle that comes.
    map_x509: Option<x509::X509Keys>,
    actions: VecDeque<Action>,
    exited: bool,
}

impl Session {
    /// A session starting at `now`, whose first action is [`Action::Dial`].
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let hooks = Session::initial_hooks(config.hooks.len());
        let schedule = if config.one_shot {
            Schedule::OneShot
        } else {
            Schedule::Linear
        };
        let jwt_schedule = if config.one_shot {
            Schedule::OneShot
        } else {
            Schedule::JwtRefresh
        };
        let x509 = config
            .x509
            .iter()
            .map(|_| (Subscription::X509, State::Idle, schedule));
        let bundles = (config.jwt_bundle.is_some() || !config.jwt_svids.is_empty()).then_some((
            Subscription::JwtBundles,
            State::Idle,
            schedule,
        ));
        let svids = (0..config.jwt_svids.len())
            .map(|i| (Subscription::JwtSvid(i), State::WaitBundles, jwt_schedule));
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
            .collect::<Vec<_>>();
        let health = Session::initial_health(&config);
        let metrics = Session::initial_metrics(&config);
        let mut timers = TimerTable::new(rows.len(), hooks.len());
        if let Some(timeout) = config.timeout.filter(|_| config.one_shot) {
            timers.set(Timer::GiveUp, now + timeout);
        }
        if let Some(every) = config.notify.as_ref().and_then(notify::heartbeat) {
            timers.set(Timer::Heartbeat, now + every);
        }
        let mut session = Session {
            config,
            conn: AgentConnection::Dialing,
            closing: None,
            conn_backoff: Backoff::new(schedule),
            down_since: None,
            rows,
            jwt_bundles: None,
            x509_verified: x509::VerifyCache::default(),
            pid: None,
            timers,
            ready_sent: false,
            workload: Workload::Stopped,
            stopping: None,
            restart_delay: workload::RESTART_MIN,
            hooks,
            hook_failed: false,
            all_written: false,
            health,
            metrics,
            pending_bundles: Vec::new(),
            x509_entries_pending: Vec::new(),
            map_x509: None,
            actions: VecDeque::new(),
            exited: false,
        };
        session.push(Action::Dial);
        session
    }

    /// The dial succeeded: every subscription is (re)opened on the new connection.
    pub fn connected(&mut self, now: Instant) {
        if self.exited {
            return;
        }
        self.conn = AgentConnection::Up(Box::new(Client::new(self.config.client, now)));
        self.metrics.agent_connects = self.metrics.agent_connects.saturating_add(1);
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

    /// Bytes read from the socket (dropped during the shutdown: nothing is written then).
    pub fn recv(&mut self, now: Instant, unix_now: UnixTime, bytes: &[u8]) {
        let AgentConnection::Up(client) = &mut self.conn else {
            return;
        };
        if self.stopping.is_some() {
            return;
        }
        let result = client.recv(bytes);
        if result.is_ok() {
            // The agent speaks: the connection works.
            self.down_since = None;
        }
        self.drain_events(now, unix_now, result.is_err());
        if let Err(e) = result {
            self.fail_connection(now, e, false);
        }
        self.open_rows(now);
    }

    /// SIGTERM or SIGINT (`signal`) arrived at `now`: the run ends, with [`Exit::Stopped`]
    /// in daemon mode and, in one-shot mode, [`Fatal::Interrupted`] since not every output
    /// is written, once the running `cmd` and hooks are stopped (within [`SHUTDOWN_GRACE`]);
    /// a second signal changes nothing. A wrapper with its program running forwards it instead
    /// ([`Action::ForwardSignal`]).
    pub fn stop(&mut self, now: Instant, signal: i32) {
        if self.exited || self.forward_stop(signal) || self.stopping.is_some() {
            return;
        }
        self.begin_stop(now, signal);
    }

    /// Advances every timer to `now`.
    pub fn handle_timeout(&mut self, now: Instant, unix_now: UnixTime) {
        if self.exited {
            return;
        }
        if self.stopping.is_some() {
            return self.stop_due(now);
        }
        if let (true, Some(timeout)) = (
            self.timers.is_expired(Timer::GiveUp, now),
            self.config.timeout,
        ) {
            return self.exit(Exit::Fatal(Fatal::TimedOut(timeout)));
        }
        self.heartbeat_due(now, unix_now);
        self.restart_due(now);
        self.hook_timeouts(now);
        if let AgentConnection::Up(client) = &mut self.conn
            && let Err(e) = client.handle_timeout(now)
        {
            let immediate = e == h2::Error::Peer(h2::PeerError::PingTimeout);
            self.fail_connection(now, e, immediate);
        }
        if matches!(self.conn, AgentConnection::Down)
            && self.timers.take_expired(Timer::Redial, now)
        {
            self.conn = AgentConnection::Dialing;
            self.push(Action::Dial);
        }
        for (i, row) in self.rows.iter_mut().enumerate() {
            if matches!(row.state, State::Backoff | State::Refresh)
                && self.timers.take_expired(Timer::Retry(i), now)
            {
                row.state = State::Idle;
            }
        }
        for i in 0..self.rows.len() {
            self.check_stall(i, now, unix_now);
        }
        if let Some(backoff) = &self.pid
            && self.timers.take_expired(Timer::PidRetry, now)
        {
            let attempt = backoff.attempts() + 1;
            self.push(Action::SignalPidFile { attempt });
        }
        self.open_rows(now);
    }

    /// The outcome of the write asked for by an [`Action::WriteX509`],
    /// [`Action::WriteJwtBundle`] or [`Action::WriteJwtSvid`].
    pub fn written(&mut self, now: Instant, unix_now: UnixTime, sub: Subscription, ok: bool) {
        let Some(i) = self.rows.iter().position(|r| r.sub == sub) else {
            return;
        };
        let Some(Pending { expiry, spiffe_id }) = self.rows[i].pending.take() else {
            return;
        };
        if ok {
            self.rows[i].on_disk_until = expiry;
        }
        self.record_health(sub, ok);
        self.count_written(sub, unix_now, ok, &spiffe_id, expiry);
        if ok {
            self.run_hooks(now, sub, &spiffe_id);
            self.notify_written(sub, spiffe_id, expiry);
            self.start_wrapped();
        }
        if !ok && self.config.one_shot {
            self.exit(Exit::Fatal(Fatal::WriteFailed(sub)));
            return;
        }
        match (sub, expiry) {
            (Subscription::X509, Some(expiry)) if ok => self.x509_written(i, now, unix_now, expiry),
            (Subscription::JwtSvid(_), Some(expiry)) => {
                self.jwt_svid_written(i, now, unix_now, expiry, ok);
            }
            _ => {}
        }
        if ok && self.config.one_shot {
            self.output_done(i);
        }
    }

    /// One-shot mode: row `i` has its output; the run ends when every row has.
    fn output_done(&mut self, i: usize) {
        let row = &mut self.rows[i];
        if let (State::Open(stream), AgentConnection::Up(client)) = (row.state, &mut self.conn) {
            client.cancel(stream);
        }
        row.state = State::Done;
        if self.rows.iter().all(|r| r.state == State::Done) {
            self.all_written = true;
            self.end_one_shot();
        }
    }

    fn x509_written(&mut self, i: usize, now: Instant, unix_now: UnixTime, not_after: i64) {
        let row = &mut self.rows[i];
        // Only a newer SVID ends a run of stalls; the same one again keeps backing off.
        let stalls = match row.watch {
            Some(w) if not_after <= w.not_after => w.stalls,
            _ => 0,
        };
        self.timers.set(
            Timer::Stall(i),
            stall_deadline(now, unix_now, not_after, stalls),
        );
        row.watch = Some(Watch {
            not_after,
            since: now,
            stalls,
            probed: false,
        });
        self.notify_workload();
        if self.config.pid_file && !self.config.one_shot {
            // A fresh run of attempts, replacing one still retrying.
            self.pid = Some(Backoff::new(Schedule::PidFile));
            self.timers.stop(Timer::PidRetry);
            self.push(Action::SignalPidFile { attempt: 1 });
        }
    }

    /// Whether some output on disk (X.509 leaf, JWT-SVID) has expired: readiness is false
    /// then, whatever upstream's write statuses say (its issue #221).
    pub fn files_expired(&self, unix_now: UnixTime) -> bool {
        self.rows
            .iter()
            .filter_map(|r| r.on_disk_until)
            .any(|until| UnixTime::from_secs(until) <= unix_now)
    }

    /// Whether the agent connection has been down for longer than [`READY_GRACE`]:
    /// readiness is false then (upstream ignores the agent once written, its issue #221).
    pub fn agent_lost(&self, now: Instant) -> bool {
        self.down_since
            .is_some_and(|since| now.saturating_duration_since(since) >= READY_GRACE)
    }

    /// The outcome of the attempt asked for by an [`Action::SignalPidFile`].
    pub fn pid_signalled(&mut self, now: Instant, ok: bool) {
        let Some(backoff) = &mut self.pid else {
            return;
        };
        if ok {
            self.pid = None;
            self.metrics.workload_signals = self.metrics.workload_signals.saturating_add(1);
            return;
        }
        match backoff.next_delay() {
            Some(delay) => self.timers.set(Timer::PidRetry, now + delay),
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
        if let AgentConnection::Up(client) = &mut self.conn {
            client.poll_transmit(out);
        }
    }

    /// The next instant [`Session::handle_timeout`] has work; `None`: only I/O can wake it.
    /// The earliest of the session's timer table and its connection's timers.
    ///
    /// As quinn-proto's `Connection::poll_timeout`, the value holds until the next call
    /// into the session: any input ([`Session::connected`], [`Session::connection_lost`],
    /// [`Session::recv`], [`Session::written`], [`Session::stop`] and the other reports of
    /// what the driver did), [`Session::handle_timeout`] or [`Session::poll_transmit`] may
    /// change it, so the driver asks again after each.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.exited {
            return None;
        }
        if self.stopping.is_some() {
            return self.timers.get(Timer::Stop);
        }
        let client = match &self.conn {
            AgentConnection::Up(client) => client.poll_timeout(),
            _ => None,
        };
        // A stall watch counts only while its call is open.
        let armed = |t| match t {
            Timer::Stall(i) => matches!(self.rows[i].state, State::Open(_)),
            _ => true,
        };
        earliest(client, self.timers.next(armed))
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Queues `action`, unless the run is over: [`Action::Exit`] is the last action.
    fn push(&mut self, action: Action) {
        if !self.exited {
            self.actions.push_back(action);
        }
    }

    fn report(&mut self, report: Report) {
        match &report {
            Report::Rejected(_) => {
                self.record_health(Subscription::X509, false);
                self.count_failure(Subscription::X509, FailureReason::Verification);
            }
            Report::JwtRejected { sub, .. } => {
                self.record_health(*sub, false);
                self.count_failure(*sub, FailureReason::Verification);
            }
            Report::CallFailed { sub, .. } | Report::BadMessage { sub, .. } => {
                self.count_failure(*sub, FailureReason::Agent);
            }
            _ => {}
        }
        self.push(Action::Report(report));
    }

    /// Ends the run (once: a later exit is dropped, as every action after the first).
    fn exit(&mut self, exit: Exit) {
        if self.config.notify.is_some() {
            self.push(Action::Notify(Notify::Stopping));
        }
        self.push(Action::Exit(exit));
        self.exited = true;
    }

    fn row_of(&self, stream: StreamId) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.state == State::Open(stream))
    }

    /// Handles the client's events. After a connection error only the messages that arrived
    /// before it count: the calls' closing is the connection's loss, handled by the caller.
    fn drain_events(&mut self, now: Instant, unix_now: UnixTime, conn_failed: bool) {
        let AgentConnection::Up(client) = &mut self.conn else {
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
                    let map_jwt = if options.bundle_map && self.config.jwt_bundle.is_some() {
                        self.jwt_bundles
                            .as_ref()
                            .map_or(x509::MapJwt::Waiting, x509::MapJwt::Keys)
                    } else {
                        x509::MapJwt::Off
                    };
                    let opts = options.render_options(&self.config.hint, map_jwt);
                    let now_unix = unix_now.as_secs();
                    let verified = if options.verify {
                        x509::render_verified_cached(
                            &response,
                            &opts,
                            now_unix,
                            &mut self.x509_verified,
                        )
                    } else {
                        x509::render(&response, &opts, now_unix).map_err(Into::into)
                    };
                    match verified {
                        Ok(rendered) => self.x509_rendered(i, rendered),
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
                        self.on_jwt_svid(i, now, unix_now, response.svids);
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

    /// An X.509 message rendered (and verified): write it. An `x509_svids` entry whose
    /// hint the message lacks is reported and left out of the set (its files stay as they
    /// are, its health entry fails); in one-shot mode, which cannot finish without it, the
    /// message is refused. The set's expiry is its earliest leaf's.
    fn x509_rendered(&mut self, i: usize, mut rendered: x509::Rendered) {
        let entries = self
            .config
            .x509
            .as_ref()
            .map_or(&[][..], |o| o.entries.as_slice());
        let missing: Vec<(usize, String)> = rendered
            .entries
            .iter()
            .zip(entries)
            .enumerate()
            .filter(|(_, (files, _))| files.is_none())
            .map(|(index, (_, entry))| (index, entry.hint.clone()))
            .collect();
        if let Some((index, hint)) = missing.first().cloned()
            && self.config.one_shot
        {
            let error = x509::RenderError::EntryHintNotFound { index, hint };
            return self.exit(Exit::Fatal(Fatal::Rejected(error.into())));
        }
        for (index, hint) in missing {
            self.push(Action::Report(Report::EntryHintNotFound { index, hint }));
        }
        let expiry = rendered
            .entries
            .iter()
            .flatten()
            .map(|files| files.not_after)
            .fold(rendered.not_after, i64::min);
        self.x509_entries_pending = rendered.entries.iter().map(Option::is_some).collect();
        if self.config.jwt_bundle.is_some()
            && self.config.x509.as_ref().is_some_and(|o| o.bundle_map)
        {
            self.map_x509 = Some(core::mem::take(&mut rendered.bundle_map_x509));
        }
        self.rows[i].pending = Some(Pending {
            expiry: Some(expiry),
            spiffe_id: rendered.spiffe_id.clone(),
        });
        self.pending_bundles = core::mem::take(&mut rendered.bundle_expiries);
        self.push(Action::WriteX509(Box::new(rendered)));
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
        let going_away = matches!(&self.conn, AgentConnection::Up(c) if c.is_going_away());
        let Some(delay) = self.rows[i].backoff.next_delay() else {
            self.exit(Exit::Fatal(Fatal::RetriesExhausted(Failure::Status(
                status,
            ))));
            return;
        };
        self.rows[i].state = State::Backoff;
        self.timers.set(Timer::Retry(i), now + delay);
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
            // The call's failure, reported above, already says the connection is going away.
            self.push(Action::Disconnect);
            self.go_down(now, false);
        }
    }

    /// The session gives up on the connection: report, close, re-dial.
    fn fail_connection(&mut self, now: Instant, error: h2::Error, immediate: bool) {
        self.report(Report::ConnectionFailed(error));
        self.push(Action::Disconnect);
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
        if let AgentConnection::Up(client) =
            core::mem::replace(&mut self.conn, AgentConnection::Down)
        {
            self.closing = Some(client);
        }
        self.timers.set(Timer::Redial, now + delay);
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
        let AgentConnection::Up(client) = &mut self.conn else {
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
                Subscription::X509 => client.fetch_x509_svid(),
                Subscription::JwtBundles => client.fetch_jwt_bundles(),
                Subscription::JwtSvid(n) => {
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
}

#[cfg(test)]
mod tests;
