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
    /// The JWT bundle file and its mode, if configured.
    pub jwt_bundle: Option<(String, u32)>,
    /// The file and mode of each `jwt_svids` entry.
    pub jwt_svids: Vec<(String, u32)>,
    /// `pid_file_name` and the `renew_signal` to send to its process.
    pub pid_file: Option<(String, String)>,
    /// The health listener (daemon mode with `health_checks.listener_enabled`).
    pub health: Option<health::Settings>,
    /// How the output files are laid out (`symlinked_layout`).
    pub layout: files::Layout,
    /// The service manager's notification socket (`NOTIFY_SOCKET`), if any.
    pub notifier: Option<Notifier>,
    /// The `reload.exec` hooks.
    pub hooks: Vec<Hook>,
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

/// The agent connection: the socket and the bytes not yet written to it.
struct Conn {
    socket: Stream,
    pending: Vec<u8>,
}

impl Conn {
    fn dial(agent: &Endpoint) -> Result<Conn, ConnError> {
        Ok(Conn {
            socket: agent.dial()?,
            pending: Vec::new(),
        })
    }

    /// Queues what the session has to send and writes as much as the socket takes now.
    fn transmit(&mut self, session: &mut Session) -> Result<(), ConnError> {
        session.poll_transmit(&mut self.pending);
        while !self.pending.is_empty() {
            match self.socket.write(&self.pending) {
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

/// Runs `config` until the session exits or a terminating signal arrives.
pub(crate) fn run(
    plan: &Plan,
    config: SessionConfig,
    signals: &Signals,
    child: &mut Process,
) -> Outcome {
    let one_shot = config.one_shot;
    let clock = Clock(std::time::Instant::now());
    let mut session = Session::new(config, clock.now());
    let mut conn: Option<Conn> = None;
    let mut last_conn: Option<ConnError> = None;
    let mut last_pid_error: Option<PidFileError> = None;
    let mut notify_failed = false;
    let mut buf = vec![0u8; 16 * 1024];
    let mut hooks = Hooks::new(plan.hooks.clone());
    let mut on_disk = hooks::Files {
        x509: plan
            .x509
            .as_ref()
            .map(|p| [p.svid.clone(), p.key.clone(), p.bundle.clone()]),
        serial: String::new(),
        jwt_svids: plan.jwt_svids.iter().map(|(p, _)| p.clone()).collect(),
        jwt_bundle: plan.jwt_bundle.as_ref().map(|(p, _)| p.clone()),
    };
    let mut health = plan
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
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Dial => match Conn::dial(&plan.agent) {
                    Ok(c) => {
                        debug!(agent = plan.agent.to_string(); "Connecting to the Workload API");
                        conn = Some(c);
                        session.connected(clock.now());
                    }
                    Err(e) => {
                        lost(&mut last_conn, one_shot, e);
                        session.connection_lost(clock.now());
                    }
                },
                Action::Disconnect => {
                    debug!("Closing the Workload API connection");
                    if let Some(mut c) = conn.take() {
                        // Best effort: the GOAWAY or cancels, if the socket takes them now.
                        let _ = c.transmit(&mut session);
                    }
                }
                Action::WriteX509(rendered) => {
                    debug!(spiffe_id = rendered.spiffe_id.as_str(); "Writing the X.509 files");
                    let ok = plan
                        .x509
                        .as_ref()
                        .is_some_and(|p| write_x509(plan.layout, p, &rendered));
                    if ok {
                        on_disk.serial.clone_from(&rendered.serial);
                    }
                    // An exit not yet seen through SIGCHLD is reported before the write, so
                    // the session starts `cmd` again instead of signalling it.
                    reap(child, &mut hooks, &mut session, clock.now());
                    session.written(clock.now(), unix_now(), Subscription::X509, ok);
                }
                Action::WriteJwtBundle { file, bundle_map } => {
                    let ok = plan.jwt_bundle.as_ref().is_some_and(|(path, mode)| {
                        let map = plan.x509.as_ref().and_then(|x| {
                            let path = x.bundle_map.as_deref()?;
                            Some((path, bundle_map.as_deref()?, x.cert_mode))
                        });
                        write_jwt_bundle(plan.layout, (path, &file, *mode), map)
                    });
                    session.written(clock.now(), unix_now(), Subscription::JwtBundles, ok);
                }
                Action::WriteJwtSvid { index, token } => {
                    debug!(index = index, bytes = token.len(); "Writing a JWT-SVID file");
                    let ok = plan.jwt_svids.get(index).is_some_and(|(path, mode)| {
                        write_one(
                            plan.layout,
                            path,
                            token.as_bytes(),
                            *mode,
                            "JWT SVID updated",
                            |e| {
                                error!("Unable to update JWT SVID: {e}");
                            },
                        )
                    });
                    session.written(clock.now(), unix_now(), Subscription::JwtSvid(index), ok);
                }
                Action::SignalPidFile { .. } => {
                    let result = plan
                        .pid_file
                        .as_ref()
                        .map_or(Ok(()), |(path, sig)| pidfile::signal(path, sig));
                    session.pid_signalled(clock.now(), result.is_ok());
                    last_pid_error = result.err();
                }
                Action::Notify(notify) => {
                    let sent = plan.notifier.as_ref().map_or(Ok(()), |n| n.send(&notify));
                    // Said once: a manager that stopped listening would repeat it each beat.
                    if let Err(e) = sent
                        && !std::mem::replace(&mut notify_failed, true)
                    {
                        warn!(error = e.to_string(); "Unable to notify the service manager");
                    }
                }
                Action::StartWorkload => session.workload_started(clock.now(), child.start()),
                Action::SignalWorkload => child.signal(),
                Action::ForwardSignal(signal) => {
                    if let Some(signal) = Signal::from_named_raw(signal) {
                        child.forward(signal);
                    }
                }
                Action::RunHook {
                    id,
                    event,
                    sub,
                    spiffe_id,
                } => {
                    if !hooks.run(id, event, sub, &spiffe_id, &on_disk) {
                        session.hook_finished(clock.now(), id, None);
                    }
                }
                Action::KillWorkload => child.kill(),
                Action::KillHook { id } => hooks.kill(id),
                Action::Report(report) => {
                    log_report(
                        &report,
                        one_shot,
                        last_conn.as_ref(),
                        last_pid_error.as_ref(),
                        &hooks,
                    );
                }
                Action::Exit(exit) => {
                    hooks.kill_all();
                    if let Some(c) = &mut conn {
                        // Best effort: the cancels tell the agent we are gone.
                        let _ = c.transmit(&mut session);
                    }
                    return Outcome::Exit { exit, last_conn };
                }
            }
        }
        if let Some(c) = &mut conn
            && let Err(e) = c.transmit(&mut session)
        {
            conn = None;
            lost(&mut last_conn, one_shot, e);
            session.connection_lost(clock.now());
            continue;
        }
        let session_wait = session.poll_timeout().map(|t| clock.until(t));
        let health_wait = health
            .as_ref()
            .and_then(Health::next_deadline)
            .map(|t| clock.until(t));
        let timeout = match (session_wait, health_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .and_then(|d| Timespec::try_from(d).ok());
        let (signalled, readable, health_events, hook_output) = {
            let mut fds = vec![PollFd::new(signals, PollFlags::IN)];
            if let Some(c) = &conn {
                let mut flags = PollFlags::IN;
                if !c.pending.is_empty() {
                    flags |= PollFlags::OUT;
                }
                fds.push(PollFd::new(&c.socket, flags));
            }
            let at = fds.len();
            if let Some(h) = &health {
                h.poll_fds(&mut fds);
            }
            let hooks_at = fds.len();
            hooks.poll_fds(&mut fds);
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Outcome::PollFailed(e),
            }
            let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
            let readable = conn.is_some() && ready(&fds[1]);
            let events = health.as_ref().map(|h| h.events(&fds[at..hooks_at]));
            let hook_output = hooks.ready(&fds[hooks_at..]);
            (ready(&fds[0]), readable, events, hook_output)
        };
        for id in hook_output {
            hooks.read(id);
        }
        if let Some(h) = &mut health {
            let now = clock.now();
            if let Some(events) = health_events {
                let metrics = || metrics_text(&session);
                h.on_ready(now, &session.health(now, unix_now()), &metrics, events);
            }
            h.handle_timeouts(now);
        }
        if signalled {
            let arrived = signals.take();
            if arrived.child {
                reap(child, &mut hooks, &mut session, clock.now());
            }
            if arrived.hangup {
                child.forward(Signal::HUP);
            }
            for signal in arrived.forward {
                child.forward(signal);
            }
            if let Some(sig) = arrived.terminate {
                session.stop(clock.now(), sig.as_raw());
                continue;
            }
        }
        if readable && let Some(c) = &mut conn {
            match c.socket.read(&mut buf) {
                Ok(0) => {
                    conn = None;
                    lost(&mut last_conn, one_shot, ConnError::Eof);
                    session.connection_lost(clock.now());
                }
                Ok(n) => {
                    debug!(bytes = n; "Read from the Workload API");
                    session.recv(clock.now(), unix_now(), &buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    conn = None;
                    lost(&mut last_conn, one_shot, ConnError::Io(e));
                    session.connection_lost(clock.now());
                }
            }
        }
        if session.poll_timeout().is_some_and(|t| t <= clock.now()) {
            session.handle_timeout(clock.now(), unix_now());
        }
    }
}

/// Collects exited processes and reports the workload's and the hooks' ends to the session.
fn reap(child: &mut Process, hooks: &mut Hooks, session: &mut Session, now: Instant) {
    let mut ended = Vec::new();
    if let Some((_, status)) = child.reap(&mut |pid, status| ended.push((pid, status))) {
        session.workload_exited(now, status);
    }
    for (pid, status) in ended {
        if let Some(id) = hooks.ended(pid) {
            session.hook_finished(now, id, Some(status));
        }
    }
}

/// Logs a lost connection as go-spiffe's watcher does (one-shot mode logs it with the retry)
/// and keeps it for the final error.
fn lost(last: &mut Option<ConnError>, one_shot: bool, e: ConnError) {
    if !one_shot {
        error!("Error while watching x509 context: {e}");
    }
    *last = Some(e);
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
/// one set: (path, bytes, mode) each.
fn write_jwt_bundle(
    layout: files::Layout,
    (path, data, mode): (&str, &[u8], u32),
    map: Option<(&str, &[u8], u32)>,
) -> bool {
    let failed = |e: &files::WriteError| error!("Error writing JWT Bundle to disk: {e}");
    let Some((map_path, map, map_mode)) = map else {
        return write_one(layout, path, data, mode, "JWT bundle updated", failed);
    };
    let outputs = [
        Output {
            path,
            data: Data::Bytes(data),
            mode,
        },
        Output {
            path: map_path,
            data: Data::Bytes(map),
            mode: map_mode,
        },
    ];
    match files::write_set(layout, &outputs) {
        Ok(()) => {
            info!(file = path, bundle_map = map_path; "JWT bundle updated");
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
    path: &str,
    data: &[u8],
    mode: u32,
    done: &str,
    failed: impl FnOnce(&files::WriteError),
) -> bool {
    let data = Data::Bytes(data);
    match files::write_set(layout, &[Output { path, data, mode }]) {
        Ok(()) => {
            info!(file = path; "{done}");
            true
        }
        Err(e) => {
            failed(&e);
            false
        }
    }
}
