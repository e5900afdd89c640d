//! The two run modes: the daemon, which watches the X.509 stream and keeps the files fresh,
//! and one-shot mode, which writes the files once and exits.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use async_signal::{Signal, Signals};
use futures_lite::{StreamExt, future};
use log::{error, info};
use svid_core::grpc::{Code, Status};
use svid_core::workload::Event;
use svid_core::x509::{self, RenderError, RenderOptions};
use svid_proto::X509svidResponse;

use crate::agent::{AgentConn, ConnError};
use crate::backoff;
use crate::child::Workload;
use crate::files::{self, Output};

/// Everything the run needs from the validated configuration.
pub struct Plan {
    pub socket: PathBuf,
    pub svid_path: String,
    pub key_path: String,
    pub bundle_path: String,
    pub cert_mode: u32,
    pub key_mode: u32,
    pub hint: String,
    pub add_intermediates_to_bundle: bool,
    pub include_federated_domains: bool,
    pub omit_expired: bool,
}

/// How a run ended.
pub enum Outcome {
    /// The work is done (one-shot mode).
    Done,
    /// SIGTERM or SIGINT arrived.
    Signalled(Signal),
    /// A non-retryable failure; exit 1 with this error.
    Fatal(String),
}

/// The signals the helper handles.
pub fn signals() -> std::io::Result<Signals> {
    Signals::new([Signal::Term, Signal::Int, Signal::Child])
}

/// Daemon mode: watch FetchX509SVID forever, re-dialling with backoff.
pub async fn daemon(plan: &Plan, signals: &mut Signals, workload: &mut Workload) -> Outcome {
    let mut backoff = backoff::Linear::default();
    info!("Watching for X509 Context");
    loop {
        match AgentConn::connect(&plan.socket).await {
            Err(e) => error!("Error while watching x509 context: {e}"),
            Ok(mut conn) => match watch(&mut conn, plan, signals, workload, &mut backoff).await {
                Ok(outcome) => return outcome,
                Err(e) => error!("Error while watching x509 context: {e}"),
            },
        }
        if let Some(sig) = sleep(backoff.next_delay(), signals, Some(workload)).await {
            return Outcome::Signalled(sig);
        }
    }
}

enum Wake {
    Read(Result<(), ConnError>),
    Signal(Signal),
    Reopen,
}

/// Waits for whichever comes first: bytes from the agent, a signal, or `reopen_at`.
async fn next_wake(
    conn: &mut AgentConn,
    signals: &mut Signals,
    reopen_at: Option<Instant>,
) -> Wake {
    let timer = reopen_at.map_or_else(Timer::never, Timer::at);
    future::or(
        future::or(async { Wake::Read(conn.read().await) }, async {
            Wake::Signal(next_signal(signals).await)
        }),
        async {
            timer.await;
            Wake::Reopen
        },
    )
    .await
}

/// Runs the X.509 watch on one connection until it is lost (`Err`) or the run ends.
async fn watch(
    conn: &mut AgentConn,
    plan: &Plan,
    signals: &mut Signals,
    workload: &mut Workload,
    backoff: &mut backoff::Linear,
) -> Result<Outcome, ConnError> {
    let mut stream = Some(conn.client.fetch_x509_svid().map_err(ConnError::Protocol)?);
    let mut reopen_at: Option<Instant> = None;
    conn.flush().await?;
    loop {
        match next_wake(conn, signals, reopen_at).await {
            Wake::Read(result) => result?,
            Wake::Signal(Signal::Child) => workload.reap(),
            Wake::Signal(sig) => return Ok(Outcome::Signalled(sig)),
            Wake::Reopen => {
                reopen_at = None;
                stream = Some(conn.client.fetch_x509_svid().map_err(ConnError::Protocol)?);
            }
        }
        while let Some(event) = conn.client.poll_event() {
            match event {
                Event::X509Svid {
                    stream: s,
                    response,
                } if Some(s) == stream => {
                    backoff.reset();
                    // Failures are logged inside; the watch goes on with the last good files.
                    let _ = update(plan, &response, Some(workload));
                }
                Event::BadMessage { stream: s, error } if Some(s) == stream => {
                    error!("Error while watching x509 context: {error}");
                }
                Event::Closed { stream: s, status } if Some(s) == stream => {
                    stream = None;
                    let err = rpc_error(&status);
                    error!("Error while watching x509 context: {err}");
                    if status.code == Code::InvalidArgument {
                        return Ok(Outcome::Fatal(format!("watching X.509 context: {err}")));
                    }
                    if conn.client.is_going_away() {
                        return Err(ConnError::Eof);
                    }
                    reopen_at = Some(Instant::now() + backoff.next_delay());
                }
                _ => {}
            }
        }
        conn.flush().await?;
    }
}

/// One-shot mode: fetch the first X.509 message, write the files, exit. The agent being
/// unreachable or not yet having an identity for us is retried on upstream's schedule.
pub async fn once(plan: &Plan, signals: &mut Signals) -> Outcome {
    let mut delays = backoff::one_shot_delays();
    loop {
        let err = match fetch_first(plan, signals).await {
            Fetch::Got(response) => {
                return match update(plan, &response, None) {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::Fatal(e),
                };
            }
            Fetch::Signalled(sig) => return Outcome::Signalled(sig),
            Fetch::Failed { error, retryable } => {
                if !retryable {
                    return Outcome::Fatal(error);
                }
                error
            }
        };
        let Some(delay) = delays.next() else {
            return Outcome::Fatal(err);
        };
        error!(error = err.as_str(); "Error fetching x509 certificates");
        if let Some(sig) = sleep(delay, signals, None).await {
            return Outcome::Signalled(sig);
        }
    }
}

enum Fetch {
    Got(Box<X509svidResponse>),
    Signalled(Signal),
    Failed { error: String, retryable: bool },
}

async fn fetch_first(plan: &Plan, signals: &mut Signals) -> Fetch {
    let lost = |e: ConnError| Fetch::Failed {
        error: e.to_string(),
        retryable: true,
    };
    let mut conn = match AgentConn::connect(&plan.socket).await {
        Ok(conn) => conn,
        Err(e) => return lost(e),
    };
    let stream = match conn.client.fetch_x509_svid() {
        Ok(id) => id,
        Err(e) => return lost(ConnError::Protocol(e)),
    };
    if let Err(e) = conn.flush().await {
        return lost(e);
    }
    loop {
        match next_wake(&mut conn, signals, None).await {
            Wake::Read(Err(e)) => return lost(e),
            Wake::Signal(Signal::Child) | Wake::Read(Ok(())) | Wake::Reopen => {}
            Wake::Signal(sig) => return Fetch::Signalled(sig),
        }
        while let Some(event) = conn.client.poll_event() {
            match event {
                Event::X509Svid {
                    stream: s,
                    response,
                } if s == stream => {
                    conn.client.cancel(stream);
                    let _ = conn.flush().await;
                    return Fetch::Got(Box::new(response));
                }
                Event::BadMessage { stream: s, error } if s == stream => {
                    return Fetch::Failed {
                        error: error.to_string(),
                        retryable: false,
                    };
                }
                Event::Closed { stream: s, status } if s == stream => {
                    return Fetch::Failed {
                        error: rpc_error(&status),
                        retryable: matches!(
                            status.code,
                            Code::PermissionDenied | Code::Unavailable
                        ),
                    };
                }
                _ => {}
            }
        }
        if let Err(e) = conn.flush().await {
            return lost(e);
        }
    }
}

/// Validates and renders one X.509 message, writes the files and, in daemon mode, starts or
/// signals the workload. Errors are logged here; the message is returned for one-shot mode.
fn update(
    plan: &Plan,
    response: &X509svidResponse,
    workload: Option<&mut Workload>,
) -> Result<(), String> {
    let options = RenderOptions {
        hint: &plan.hint,
        add_intermediates_to_bundle: plan.add_intermediates_to_bundle,
        include_federated_domains: plan.include_federated_domains,
        omit_expired: plan.omit_expired,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let rendered = match x509::render(response, &options, now) {
        Ok(r) => r,
        // The message is fine but has nothing for us: upstream fails the file dump.
        Err(e @ (RenderError::HintNotFound | RenderError::NoBundle { .. })) => {
            let msg = e.to_string();
            error!(error = msg.as_str(); "Unable to dump bundle");
            return Err(msg);
        }
        // go-spiffe drops an invalid message and the watch goes on.
        Err(e) => {
            let msg = e.to_string();
            error!("Error while watching x509 context: {msg}");
            return Err(msg);
        }
    };
    for id in &rendered.spiffe_ids {
        info!(spiffe_id = id.as_str(); "Received update");
    }
    let written = files::write_set(&[
        Output {
            path: &plan.svid_path,
            data: &rendered.svid_pem,
            mode: plan.cert_mode,
        },
        Output {
            path: &plan.key_path,
            data: &rendered.key_pem,
            mode: plan.key_mode,
        },
        Output {
            path: &plan.bundle_path,
            data: &rendered.bundle_pem,
            mode: plan.cert_mode,
        },
    ]);
    if let Err(e) = written {
        let msg = e.to_string();
        error!(error = msg.as_str(); "Unable to dump bundle");
        return Err(msg);
    }
    info!("X.509 certificates updated");
    if let Some(workload) = workload {
        workload.on_update();
    }
    Ok(())
}

/// Waits for `delay`, reaping the child on SIGCHLD; returns a SIGTERM/SIGINT that cut it short.
async fn sleep(
    delay: Duration,
    signals: &mut Signals,
    mut workload: Option<&mut Workload>,
) -> Option<Signal> {
    let deadline = Instant::now() + delay;
    loop {
        let woke = future::or(async { Some(next_signal(signals).await) }, async {
            Timer::at(deadline).await;
            None
        })
        .await;
        match woke {
            None => return None,
            Some(Signal::Child) => {
                if let Some(w) = workload.as_deref_mut() {
                    w.reap();
                }
            }
            Some(sig) => return Some(sig),
        }
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
