//! The one event loop: it moves bytes between the agent socket and the core's
//! `workload::Session`, arms one timer at the session's next deadline, handles signals, and
//! performs the session's actions (dial, write files, notify the child, log, exit). Every
//! protocol, retry and timing decision is the session's; this file only does the I/O.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use async_net::unix::UnixStream;
use async_signal::{Signal, Signals};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt, future};
use log::{error, info, warn};
use svid_core::grpc::{Code, Status};
use svid_core::time::Instant;
use svid_core::workload::{
    Action, Exit, Failure, Fatal, Remedy, Report, Session, SessionConfig, Sub,
};
use svid_core::x509::{RenderError, Rendered};

use crate::agent::ConnError;
use crate::child::Process;
use crate::files::{self, Output};

/// Where the X.509 files go and with which modes.
pub struct X509Files {
    pub svid: String,
    pub key: String,
    pub bundle: String,
    pub cert_mode: u32,
    pub key_mode: u32,
}

/// Everything the loop needs besides the session.
pub struct Plan {
    pub socket: PathBuf,
    pub x509: X509Files,
}

/// How a run ended.
pub enum Outcome {
    /// The session is done (one-shot mode).
    Done,
    /// SIGTERM or SIGINT arrived.
    Signalled(Signal),
    /// A failure retrying cannot fix; `last_conn` is the last connection error seen.
    Fatal {
        fatal: Fatal,
        last_conn: Option<ConnError>,
    },
}

/// The signals the helper handles.
pub fn signals() -> std::io::Result<Signals> {
    Signals::new([Signal::Term, Signal::Int, Signal::Child])
}

/// The monotonic clock handed to the core: milliseconds since the loop started.
struct Clock(std::time::Instant);

impl Clock {
    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn to_std(&self, t: Instant) -> std::time::Instant {
        self.0 + Duration::from_millis(t.as_millis())
    }
}

/// Wall-clock time for certificate validity, Unix milliseconds.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

enum Wake {
    Read(std::io::Result<usize>),
    Timer,
    Signal(Signal),
}

/// Runs `config` until the session exits or a terminating signal arrives.
pub async fn run(
    plan: &Plan,
    config: SessionConfig,
    signals: &mut Signals,
    child: &mut Process,
) -> Outcome {
    let one_shot = config.one_shot;
    let clock = Clock(std::time::Instant::now());
    let mut session = Session::new(config);
    let mut socket: Option<UnixStream> = None;
    let mut last_conn: Option<ConnError> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Dial => match UnixStream::connect(&plan.socket).await {
                    Ok(s) => {
                        socket = Some(s);
                        session.connected(clock.now());
                    }
                    Err(e) => {
                        lost(&mut last_conn, one_shot, dial_error(&plan.socket, e));
                        session.connection_lost(clock.now());
                    }
                },
                Action::Disconnect => {
                    if let Some(mut s) = socket.take() {
                        out.clear();
                        session.poll_transmit(&mut out);
                        // Best effort: the agent may already be gone.
                        let _ = s.write_all(&out).await;
                    }
                }
                Action::WriteX509(rendered) => {
                    let ok = write_x509(&plan.x509, &rendered);
                    if ok && !one_shot {
                        child.on_update();
                    }
                    session.written(clock.now(), unix_ms(), Sub::X509, ok);
                }
                Action::Report(report) => log_report(&report, one_shot, last_conn.as_ref()),
                Action::Exit(Exit::Done) => {
                    // Best effort: the cancels tell the agent we are gone.
                    let _ = flush(&mut session, socket.as_mut(), &mut out).await;
                    return Outcome::Done;
                }
                Action::Exit(Exit::Fatal(fatal)) => return Outcome::Fatal { fatal, last_conn },
            }
        }
        if let Err(e) = flush(&mut session, socket.as_mut(), &mut out).await {
            socket = None;
            lost(&mut last_conn, one_shot, e);
            session.connection_lost(clock.now());
            continue;
        }
        let timer = session
            .poll_timeout()
            .map_or_else(Timer::never, |t| Timer::at(clock.to_std(t)));
        let read = async {
            match socket.as_mut() {
                Some(s) => Wake::Read(s.read(&mut buf).await),
                None => future::pending().await,
            }
        };
        let timer = async {
            timer.await;
            Wake::Timer
        };
        let signal = async { Wake::Signal(next_signal(signals).await) };
        match future::or(future::or(read, timer), signal).await {
            Wake::Read(Ok(0)) => {
                socket = None;
                lost(&mut last_conn, one_shot, ConnError::Eof);
                session.connection_lost(clock.now());
            }
            Wake::Read(Ok(n)) => session.recv(clock.now(), unix_ms(), &buf[..n]),
            Wake::Read(Err(e)) => {
                socket = None;
                lost(&mut last_conn, one_shot, ConnError::Io(e));
                session.connection_lost(clock.now());
            }
            Wake::Timer => session.handle_timeout(clock.now(), unix_ms()),
            Wake::Signal(Signal::Child) => child.reap(),
            Wake::Signal(sig) => return Outcome::Signalled(sig),
        }
    }
}

/// Sends what the session has queued.
async fn flush(
    session: &mut Session,
    socket: Option<&mut UnixStream>,
    out: &mut Vec<u8>,
) -> Result<(), ConnError> {
    out.clear();
    session.poll_transmit(out);
    match socket {
        Some(s) if !out.is_empty() => s.write_all(out).await.map_err(ConnError::Io),
        _ => Ok(()),
    }
}

fn dial_error(socket: &Path, e: std::io::Error) -> ConnError {
    ConnError::Dial(socket.display().to_string(), e)
}

/// Logs a lost connection as go-spiffe's watcher does (one-shot mode logs it with the retry)
/// and keeps it for the final error.
fn lost(last: &mut Option<ConnError>, one_shot: bool, e: ConnError) {
    if !one_shot {
        error!("Error while watching x509 context: {e}");
    }
    *last = Some(e);
}

/// Writes the three X.509 files atomically; logs the update or the failure.
fn write_x509(paths: &X509Files, rendered: &Rendered) -> bool {
    for id in &rendered.spiffe_ids {
        info!(spiffe_id = id.as_str(); "Received update");
    }
    let written = files::write_set(&[
        Output {
            path: &paths.svid,
            data: &rendered.svid_pem,
            mode: paths.cert_mode,
        },
        Output {
            path: &paths.key,
            data: &rendered.key_pem,
            mode: paths.key_mode,
        },
        Output {
            path: &paths.bundle,
            data: &rendered.bundle_pem,
            mode: paths.cert_mode,
        },
    ]);
    match written {
        Ok(()) => {
            info!("X.509 certificates updated");
            true
        }
        Err(e) => {
            error!(error = e.to_string(); "Unable to dump bundle");
            false
        }
    }
}

fn log_report(report: &Report, one_shot: bool, last_conn: Option<&ConnError>) {
    match report {
        Report::CallFailed { status, .. } => {
            error!("Error while watching x509 context: {}", rpc_error(status));
        }
        Report::BadMessage { error, .. } => error!("Error while watching x509 context: {error}"),
        Report::Rejected(e) => log_rejected(e),
        Report::ConnectionFailed(e) => {
            let e = ConnError::Protocol(e.clone());
            if one_shot {
                error!(error = e.to_string(); "Error fetching x509 certificates");
            } else {
                error!("Error while watching x509 context: {e}");
            }
        }
        Report::Stalled {
            silent_for,
            expires_in_ms,
            remedy,
            ..
        } => {
            let remedy = match remedy {
                Remedy::Reopen => "probing the connection and asking again",
                Remedy::Redial => "reconnecting",
            };
            warn!(
                silent_for_secs = silent_for.as_secs(),
                expires_in_secs = expires_in_ms.div_euclid(1000);
                "No X.509 update from the agent for most of the SVID's remaining lifetime; {remedy}"
            );
        }
        Report::Retrying {
            attempt,
            delay,
            after,
        } => {
            let error = match after {
                Failure::Status(s) => rpc_error(s),
                Failure::Connection => last_conn.map(ToString::to_string).unwrap_or_default(),
            };
            error!(
                attempt = attempt,
                error = error,
                retry_in = format!("{delay:?}");
                "Error fetching x509 certificates"
            );
        }
    }
}

/// A message that cannot be used: upstream fails the file dump when the message has nothing
/// for us, and go-spiffe drops an invalid one.
fn log_rejected(e: &RenderError) {
    match e {
        RenderError::HintNotFound | RenderError::NoBundle { .. } => {
            error!(error = e.to_string(); "Unable to dump bundle");
        }
        e => error!("Error while watching x509 context: {e}"),
    }
}

/// The error line of a fatal outcome, as upstream words it.
pub fn fatal_error(fatal: &Fatal, last_conn: Option<&ConnError>) -> String {
    match fatal {
        Fatal::Status { status, .. } => rpc_error(status),
        Fatal::RetriesExhausted(Failure::Status(s)) => rpc_error(s),
        Fatal::RetriesExhausted(Failure::Connection) => {
            last_conn.map(ToString::to_string).unwrap_or_default()
        }
        Fatal::BadMessage(e) => e.to_string(),
        Fatal::Rejected(e) => e.to_string(),
        Fatal::WriteFailed(_) => "unable to write the X.509 files".into(),
    }
}

async fn next_signal(signals: &mut Signals) -> Signal {
    loop {
        match signals.next().await {
            Some(Ok(sig)) => return sig,
            Some(Err(_)) => {}
            None => future::pending::<()>().await,
        }
    }
}

/// A gRPC status as grpc-go prints it: `rpc error: code = NotFound desc = ...`. grpc-go's
/// code names are our variant names, but for its spellings `OK` and `Canceled`.
fn rpc_error(status: &Status) -> String {
    let code = match status.code {
        Code::Ok => "OK".into(),
        Code::Cancelled => "Canceled".into(),
        code => format!("{code:?}"),
    };
    format!("rpc error: code = {code} desc = {}", status.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_like_grpc_go() {
        let print = |code, msg: &str| rpc_error(&Status::new(code, msg));
        assert_eq!(
            print(Code::PermissionDenied, "no identity issued"),
            "rpc error: code = PermissionDenied desc = no identity issued"
        );
        assert_eq!(
            print(Code::Cancelled, ""),
            "rpc error: code = Canceled desc = "
        );
        assert_eq!(print(Code::Ok, ""), "rpc error: code = OK desc = ");
        assert_eq!(
            print(Code::Unavailable, "x"),
            "rpc error: code = Unavailable desc = x"
        );
    }
}
