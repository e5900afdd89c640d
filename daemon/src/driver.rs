//! The one event loop, single-threaded on `poll(2)`: it moves bytes between the agent
//! socket and the core's `workload::Session`, sleeps until the session's next deadline,
//! handles signals through a self-pipe, and performs the session's actions (dial, write
//! files, notify the child, log, exit). Every protocol, retry and timing decision is the
//! session's; this file only does the I/O.

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{debug, error, info, warn};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::Signal;
use svid_core::config::Hook;
use svid_core::metrics::BuildInfo;
use svid_core::time::{Instant, UnixTime};
use svid_core::workload::{Action, Exit, Session, SessionConfig, Subscription};
use svid_core::x509::Rendered;

use crate::agent::{ConnError, Endpoint, Stream};
use crate::child::Process;
use crate::files::{self, Data, Output};
use crate::health::{self, Health};
use crate::hooks::{self, Hooks};
use crate::notify::Notifier;
use crate::pidfile::{self, PidFileError};
use crate::report::log_report;
use crate::signals::Signals;
use crate::x509_set::{self, X509Files};

/// Everything the loop needs besides the session.
pub(crate) struct Plan {
    /// Where the agent listens.
    pub agent: Endpoint,
    /// The X.509 outputs, if configured.
    pub x509: Option<X509Files>,
    /// The JWT bundle file, if configured.
    pub jwt_bundle: Option<FileSpec>,
    /// The file of each `jwt_svids` entry.
    pub jwt_svids: Vec<FileSpec>,
    /// `pid_file_name` and the `renew_signal` to send to its process.
    pub pid_file: Option<PidFile>,
    /// The health listener (daemon mode with `health_checks.listener_enabled`).
    pub health: Option<health::Settings>,
    /// How the output files are laid out (`symlinked_layout`).
    pub layout: files::Layout,
    /// The service manager's notification socket (`NOTIFY_SOCKET`), if any.
    pub notifier: Option<Notifier>,
    /// The `reload.exec` hooks.
    pub hooks: Vec<Hook>,
}

/// A file the loop writes on its own: its path and mode.
pub(crate) struct FileSpec {
    pub path: String,
    pub mode: u32,
}

impl FileSpec {
    /// This file holding `data`.
    fn output<'a>(&'a self, data: &'a [u8]) -> Output<'a> {
        Output {
            path: &self.path,
            data: Data::Bytes(data),
            mode: self.mode,
        }
    }
}

/// The process to signal after each X.509 update (upstream's `pid_file_name`, read at each
/// update, and `renew_signal`; `pkg/sidecar/sidecar.go@v0.11.0`).
pub(crate) struct PidFile {
    pub path: String,
    pub signal: String,
}

/// How a run ended.
pub(crate) enum Outcome {
    /// The session's [`Exit`]; `last_conn` is the last connection error seen.
    Exit {
        exit: Exit,
        last_conn: Option<ConnError>,
    },
    /// `poll(2)` itself failed (never expected).
    PollFailed(rustix::io::Errno),
}

/// The monotonic clock handed to the core: milliseconds since the loop started.
struct Clock(std::time::Instant);

impl Clock {
    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Time from now until `t`, rounded up to the millisecond so a wake is never early.
    fn until(&self, t: Instant) -> Duration {
        let target = self.0 + Duration::from_millis(t.as_millis());
        let left = target.saturating_duration_since(std::time::Instant::now());
        Duration::from_millis(u64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(u64::MAX))
    }
}

/// The metrics endpoint's text: the session's metrics and this binary's version and commit
/// (`build.rs`).
fn metrics_text(session: &Session) -> Vec<u8> {
    let build = BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("SPIFFE_HELPER_COMMIT"),
    };
    let mut text = String::new();
    session.metrics().render(&build, &mut text);
    text.into_bytes()
}

/// Wall-clock time for certificate and token validity.
fn unix_now() -> UnixTime {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    UnixTime::from_millis(ms)
}

/// The agent connection: the socket, whether its connect is still in progress, and the
/// bytes not yet written to it.
struct AgentSocket {
    stream: Stream,
    connecting: bool,
    pending: Vec<u8>,
}

impl AgentSocket {
    /// Queues what the session has to send and writes as much as the socket takes now
    /// (nothing while the connect is in progress).
    fn transmit(&mut self, session: &mut Session) -> Result<(), ConnError> {
        session.poll_transmit(&mut self.pending);
        while !self.connecting && !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(0) => return Err(ConnError::Eof),
                Ok(n) => drop(self.pending.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        Ok(())
    }
}

/// What one [`Driver::wait`] found ready.
struct Ready {
    /// The signal self-pipe.
    signalled: bool,
    /// The agent socket (readable, writable, or its connect over).
    agent: bool,
    /// The health listener and its connections.
    health: Option<health::Events>,
    /// The hooks whose stderr has output.
    hooks: Vec<usize>,
}

/// What the loop owns: the session, the sockets, the workload and the hooks, and what the
/// log needs to say about them. Its methods split the loop as quinn's `ConnectionDriver`
/// (`quinn/src/connection.rs`) splits its poll: [`perform`](Driver::perform) an action,
/// [`wait`](Driver::wait) in poll(2), then hand the session what came in
/// ([`on_signals`](Driver::on_signals), [`on_readable`](Driver::on_readable),
/// [`on_timeout`](Driver::on_timeout)).
struct Driver<'a> {
    plan: &'a Plan,
    signals: &'a Signals,
    child: &'a mut Process,
    clock: Clock,
    session: Session,
    one_shot: bool,
    agent: Option<AgentSocket>,
    /// The last connection error, for the final error of a run.
    last_conn: Option<ConnError>,
    /// The last pid-file error, for the report of the pid file's give-up.
    last_pid_error: Option<PidFileError>,
    /// Whether a failed `sd_notify` was already logged.
    notify_failed: bool,
    buf: Vec<u8>,
    hooks: Hooks,
    /// The files on disk, for the hooks' environment.
    on_disk: hooks::Files,
    health: Option<Health>,
}

/// Runs `config` until the session exits or a terminating signal arrives.
pub(crate) fn run(
    plan: &Plan,
    config: SessionConfig,
    signals: &Signals,
    child: &mut Process,
) -> Outcome {
    let mut driver = Driver::new(plan, config, signals, child);
    loop {
        while let Some(action) = driver.session.poll_action() {
            if let Some(exit) = driver.perform(action) {
                return exit;
            }
        }
        if !driver.flush() {
            continue;
        }
        let ready = match driver.wait() {
            Ok(ready) => ready,
            Err(e) => return Outcome::PollFailed(e),
        };
        for id in ready.hooks {
            driver.hooks.read(id);
        }
        driver.on_health(ready.health);
        if ready.signalled && driver.on_signals() {
            continue;
        }
        if ready.agent {
            driver.on_readable();
        }
        driver.on_timeout();
    }
}

impl<'a> Driver<'a> {
    /// A driver whose session starts now; binds the health listener (a failure is logged
    /// as `pkg/health/health.go@v0.11.0` does, and the run goes on without it).
    fn new(
        plan: &'a Plan,
        config: SessionConfig,
        signals: &'a Signals,
        child: &'a mut Process,
    ) -> Driver<'a> {
        let one_shot = config.one_shot;
        let clock = Clock(std::time::Instant::now());
        let session = Session::new(config, clock.now());
        let on_disk = hooks::Files {
            x509: plan
                .x509
                .as_ref()
                .map(|p| [p.svid.clone(), p.key.clone(), p.bundle.clone()]),
            serial: String::new(),
            jwt_svids: plan.jwt_svids.iter().map(|f| f.path.clone()).collect(),
            jwt_bundle: plan.jwt_bundle.as_ref().map(|f| f.path.clone()),
        };
        let health = plan
            .health
            .as_ref()
            .and_then(|settings| match Health::bind(settings) {
                Ok(h) => {
                    info!("Starting health server");
                    Some(h)
                }
                Err(e) => {
                    warn!(error = e.to_string(); "Error serving health checks");
                    None
                }
            });
        Driver {
            plan,
            signals,
            child,
            clock,
            session,
            one_shot,
            agent: None,
            last_conn: None,
            last_pid_error: None,
            notify_failed: false,
            buf: vec![0u8; 16 * 1024],
            hooks: Hooks::new(plan.hooks.clone()),
            on_disk,
            health,
        }
    }

    /// Performs one of the session's actions and reports its outcome to the session; the
    /// run's outcome once the action is [`Action::Exit`].
    fn perform(&mut self, action: Action) -> Option<Outcome> {
        let plan = self.plan;
        match action {
            Action::Dial => match plan.agent.dial() {
                Ok(dialled) => {
                    debug!(agent = plan.agent.to_string(); "Connecting to the Workload API");
                    self.agent = Some(AgentSocket {
                        stream: dialled.stream,
                        connecting: dialled.in_progress,
                        pending: Vec::new(),
                    });
                    // Told at once, also while the connect is in progress: the session's
                    // handshake deadline, which runs from here, bounds a connect that hangs.
                    self.session.connected(self.clock.now());
                }
                Err(e) => self.lose(e),
            },
            Action::Disconnect => {
                debug!("Closing the Workload API connection");
                if let Some(mut c) = self.agent.take() {
                    // Best effort: the GOAWAY or cancels, if the socket takes them now.
                    let _ = c.transmit(&mut self.session);
                }
            }
            Action::WriteX509(rendered) => {
                debug!(spiffe_id = rendered.spiffe_id.as_str(); "Writing the X.509 files");
                let ok = plan
                    .x509
                    .as_ref()
                    .is_some_and(|p| write_x509(plan.layout, p, &rendered));
                if ok {
                    self.on_disk.serial.clone_from(&rendered.serial);
                }
                // An exit not yet seen through SIGCHLD is reported before the write, so
                // the session starts `cmd` again instead of signalling it.
                self.reap();
                self.written(Subscription::X509, ok);
            }
            Action::WriteJwtBundle { file, bundle_map } => {
                let ok = plan.jwt_bundle.as_ref().is_some_and(|spec| {
                    let map = plan.x509.as_ref().and_then(|x| {
                        Some(Output {
                            path: x.bundle_map.as_deref()?,
                            data: Data::Bytes(bundle_map.as_deref()?),
                            mode: x.cert_mode,
                        })
                    });
                    write_jwt_bundle(plan.layout, spec.output(&file), map)
                });
                self.written(Subscription::JwtBundles, ok);
            }
            Action::WriteJwtSvid { index, token } => {
                debug!(index = index, bytes = token.len(); "Writing a JWT-SVID file");
                let ok = plan.jwt_svids.get(index).is_some_and(|spec| {
                    write_one(
                        plan.layout,
                        spec.output(token.as_bytes()),
                        "JWT SVID updated",
                        |e| {
                            error!("Unable to update JWT SVID: {e}");
                        },
                    )
                });
                self.written(Subscription::JwtSvid(index), ok);
            }
            Action::SignalPidFile { .. } => {
                let result = plan
                    .pid_file
                    .as_ref()
                    .map_or(Ok(()), |p| pidfile::signal(&p.path, &p.signal));
                self.session.pid_signalled(self.clock.now(), result.is_ok());
                self.last_pid_error = result.err();
            }
            Action::Notify(notify) => {
                let sent = plan.notifier.as_ref().map_or(Ok(()), |n| n.send(&notify));
                // Said once: a manager that stopped listening would repeat it each beat.
                if let Err(e) = sent
                    && !std::mem::replace(&mut self.notify_failed, true)
                {
                    warn!(error = e.to_string(); "Unable to notify the service manager");
                }
            }
            Action::StartWorkload => {
                let pid = self.child.start();
                self.session.workload_started(self.clock.now(), pid);
            }
            Action::SignalWorkload => self.child.signal(),
            Action::ForwardSignal(signal) => {
                if let Some(signal) = Signal::from_named_raw(signal) {
                    self.child.forward(signal);
                }
            }
            Action::RunHook {
                id,
                event,
                sub,
                spiffe_id,
            } => {
                if !self.hooks.run(id, event, sub, &spiffe_id, &self.on_disk) {
                    self.session.hook_finished(self.clock.now(), id, None);
                }
            }
            Action::KillWorkload => self.child.kill(),
            Action::KillHook { id } => self.hooks.kill(id),
            Action::Report(report) => {
                log_report(
                    &report,
                    self.one_shot,
                    self.last_conn.as_ref(),
                    self.last_pid_error.as_ref(),
                    &self.hooks,
                );
            }
            Action::Exit(exit) => {
                self.hooks.kill_all();
                if let Some(c) = &mut self.agent {
                    // Best effort: the cancels tell the agent we are gone.
                    let _ = c.transmit(&mut self.session);
                }
                let last_conn = self.last_conn.take();
                return Some(Outcome::Exit { exit, last_conn });
            }
        }
        None
    }

    /// Tells the session how a write of `sub` went.
    fn written(&mut self, sub: Subscription, ok: bool) {
        self.session.written(self.clock.now(), unix_now(), sub, ok);
    }

    /// Writes what the session has to send; `false` if that lost the connection.
    fn flush(&mut self) -> bool {
        if let Some(c) = &mut self.agent
            && let Err(e) = c.transmit(&mut self.session)
        {
            self.lose(e);
            return false;
        }
        true
    }

    /// Sleeps in poll(2) until a descriptor is ready or the earliest deadline (the
    /// session's or the health listener's) is due.
    fn wait(&self) -> Result<Ready, rustix::io::Errno> {
        let session_wait = self.session.poll_timeout().map(|t| self.clock.until(t));
        let health_wait = self
            .health
            .as_ref()
            .and_then(Health::next_deadline)
            .map(|t| self.clock.until(t));
        let timeout = match (session_wait, health_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .and_then(|d| Timespec::try_from(d).ok());
        let mut fds = vec![PollFd::new(self.signals, PollFlags::IN)];
        if let Some(c) = &self.agent {
            let mut flags = PollFlags::IN;
            // A connect in progress ends with the socket writable (connect(2), EINPROGRESS).
            if c.connecting || !c.pending.is_empty() {
                flags |= PollFlags::OUT;
            }
            fds.push(PollFd::new(&c.stream, flags));
        }
        let at = fds.len();
        if let Some(h) = &self.health {
            h.poll_fds(&mut fds);
        }
        let hooks_at = fds.len();
        self.hooks.poll_fds(&mut fds);
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
        let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        Ok(Ready {
            signalled: ready(&fds[0]),
            agent: self.agent.is_some() && ready(&fds[1]),
            health: self.health.as_ref().map(|h| h.events(&fds[at..hooks_at])),
            hooks: self.hooks.ready(&fds[hooks_at..]),
        })
    }

    /// Serves the health listener what poll(2) found, then its timeouts.
    fn on_health(&mut self, events: Option<health::Events>) {
        let Some(h) = &mut self.health else {
            return;
        };
        let now = self.clock.now();
        if let Some(events) = events {
            let session = &self.session;
            let metrics = || metrics_text(session);
            h.on_ready(now, &session.health(now, unix_now()), &metrics, events);
        }
        h.handle_timeouts(now);
    }

    /// Handles the signals that arrived; `true` if one stopped the session, whose actions
    /// then come first.
    fn on_signals(&mut self) -> bool {
        let arrived = self.signals.take();
        if arrived.child {
            self.reap();
        }
        if arrived.hangup {
            self.child.forward(Signal::HUP);
        }
        for signal in arrived.forward {
            self.child.forward(signal);
        }
        if let Some(sig) = arrived.terminate {
            self.session.stop(self.clock.now(), sig.as_raw());
            return true;
        }
        false
    }

    /// The agent socket polled ready: ends a connect in progress, then reads what came in.
    fn on_readable(&mut self) {
        let Some(c) = &mut self.agent else {
            return;
        };
        if c.connecting {
            if let Err(e) = self.plan.agent.connect_result(&c.stream) {
                self.lose(e);
                return;
            }
            c.connecting = false;
        }
        match c.stream.read(&mut self.buf) {
            Ok(0) => self.lose(ConnError::Eof),
            Ok(n) => {
                debug!(bytes = n; "Read from the Workload API");
                self.session
                    .recv(self.clock.now(), unix_now(), &self.buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => self.lose(ConnError::Io(e)),
        }
    }

    /// Hands the session its timeout once its deadline is due.
    fn on_timeout(&mut self) {
        let now = self.clock.now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now, unix_now());
        }
    }

    /// The connection is gone (or the dial failed): logged as upstream's X.509 watcher logs
    /// it (`pkg/sidecar/sidecar.go@v0.11.0`; one-shot mode logs it with the retry), kept
    /// for the final error, and reported to the session.
    fn lose(&mut self, e: ConnError) {
        self.agent = None;
        if !self.one_shot {
            error!("Error while watching x509 context: {e}");
        }
        self.last_conn = Some(e);
        self.session.connection_lost(self.clock.now());
    }

    /// Collects exited processes and reports the workload's and the hooks' ends to the
    /// session.
    fn reap(&mut self) {
        let now = self.clock.now();
        let mut ended = Vec::new();
        if let Some((_, status)) = self
            .child
            .reap(&mut |pid, status| ended.push((pid, status)))
        {
            self.session.workload_exited(now, status);
        }
        for (pid, status) in ended {
            if let Some(id) = self.hooks.ended(pid) {
                self.session.hook_finished(now, id, Some(status));
            }
        }
    }
}

/// Writes the X.509 files as one set (see `x509_set`); logs the update or the failure.
fn write_x509(layout: files::Layout, paths: &X509Files, rendered: &Rendered) -> bool {
    for id in &rendered.spiffe_ids {
        info!(spiffe_id = id.as_str(); "Received update");
    }
    match x509_set::write(layout, paths, rendered) {
        Ok(()) => {
            let mut files = x509_set::written_names(paths, rendered).join(",");
            if let Some(dir) = &paths.trust_bundle_dir {
                files = format!("{files},{dir}/");
            }
            let not_after = u64::try_from(rendered.not_after)
                .map_or_else(|_| rendered.not_after.to_string(), crate::logger::rfc3339);
            info!(
                files = files,
                not_after = not_after,
                serial = rendered.serial.as_str(),
                spiffe_id = rendered.spiffe_id.as_str();
                "X.509 certificates updated"
            );
            true
        }
        Err(e) => {
            error!(error = e.to_string(); "Unable to dump bundle");
            false
        }
    }
}

/// Writes the JWT bundle file and, with the JWT keys in the SPIFFE bundle map, the map as
/// one set.
fn write_jwt_bundle(layout: files::Layout, bundle: Output<'_>, map: Option<Output<'_>>) -> bool {
    let failed = |e: &files::WriteError| error!("Error writing JWT Bundle to disk: {e}");
    let Some(map) = map else {
        return write_one(layout, bundle, "JWT bundle updated", failed);
    };
    match files::write_set(layout, &[bundle, map]) {
        Ok(()) => {
            info!(file = bundle.path, bundle_map = map.path; "JWT bundle updated");
            true
        }
        Err(e) => {
            failed(&e);
            false
        }
    }
}

/// Writes one file atomically; logs `done` or hands the error to `failed`.
fn write_one(
    layout: files::Layout,
    output: Output<'_>,
    done: &str,
    failed: impl FnOnce(&files::WriteError),
) -> bool {
    match files::write_set(layout, &[output]) {
        Ok(()) => {
            info!(file = output.path; "{done}");
            true
        }
        Err(e) => {
            failed(&e);
            false
        }
    }
}
