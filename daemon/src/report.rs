//! How the session's reports and the run's outcome read in the log: upstream's messages and
//! grpc-go's wording, so that logs read as upstream's do (`pkg/sidecar/sidecar.go@v0.11.0`).

use log::{error, warn};
use svid_core::grpc::Status;
use svid_core::workload::{Failure, Fatal, Remedy, Report, Subscription};
use svid_core::x509::{RenderError, VerifyError};

use crate::agent::ConnError;
use crate::hooks::Hooks;
use crate::pidfile::PidFileError;

/// Logs `report`; the I/O side's last errors and the hooks' stderr lines complete it.
pub(crate) fn log_report(
    report: &Report,
    one_shot: bool,
    last_conn: Option<&ConnError>,
    last_pid_error: Option<&PidFileError>,
    hooks: &Hooks,
) {
    match report {
        Report::HookFinished {
            id,
            event,
            status,
            timed_out,
        } => hooks.log_finished(*id, *event, *status, *timed_out),
        Report::CallFailed { sub, status, .. } => {
            // grpc-go's Recv returns io.EOF for a stream the server ended with OK.
            let status = if status.is_ok() {
                "EOF".to_owned()
            } else {
                rpc_error(status)
            };
            match sub {
                Subscription::X509 => error!("Error while watching x509 context: {status}"),
                Subscription::JwtBundles => error!("Error while watching JWT bundles: {status}"),
                Subscription::JwtSvid(_) => error!("Unable to fetch JWT SVID: {status}"),
            }
        }
        Report::JwtRejected { sub, error, .. } => match sub {
            Subscription::JwtSvid(_) => error!("Unable to parse or validate token: {error}"),
            _ => error!("Error while watching JWT bundles: {error}"),
        },
        Report::BadMessage { error, .. } => error!("Error while watching x509 context: {error}"),
        Report::Rejected(e) => log_rejected(e),
        Report::EntryHintNotFound { index, hint } => error!(
            entry = format!("x509_svids[{index}]"),
            hint = hint.as_str(),
            error = "failed to find the hinted x509 SVID";
            "Unable to dump bundle"
        ),
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
                other => &unworded(other),
            };
            warn!(
                silent_for_secs = silent_for.as_secs(),
                expires_in_secs = expires_in_ms.div_euclid(1000);
                "No X.509 update from the agent for most of the SVID's remaining lifetime; {remedy}"
            );
        }
        Report::WorkloadExited { pid, status } => crate::child::log_exit(*pid, *status),
        Report::WorkloadRestarting {
            pid: Some(pid),
            status: Some(status),
            delay,
        } => warn!(
            pid = pid,
            status = crate::child::status_text(*status),
            restart_in = format!("{delay:?}");
            "Process exited; restarting it"
        ),
        Report::WorkloadRestarting { delay, .. } => warn!(
            restart_in = format!("{delay:?}");
            "Process could not be started; trying again"
        ),
        Report::PidFileGaveUp { attempts } => {
            let e = last_pid_error.map(ToString::to_string).unwrap_or_default();
            error!(attempts = attempts, error = e; "Unable to signal PID file");
        }
        Report::Retrying {
            sub,
            attempt,
            delay,
            after,
        } => {
            let error = match after {
                Failure::Status(s) => rpc_error(s),
                Failure::Connection => last_conn.map(ToString::to_string).unwrap_or_default(),
                other => unworded(other),
            };
            error!(
                attempt = attempt,
                error = error,
                retry_in = format!("{delay:?}");
                "{}", fetch_failure(sub.unwrap_or(Subscription::X509))
            );
        }
        other => warn!(report = unworded(other); "Session report"),
    }
}

/// A report, failure or outcome the core added and this file has no words for yet
/// (the core's enums are `#[non_exhaustive]`): its debug form, so that nothing is lost.
pub(crate) fn unworded(what: &impl core::fmt::Debug) -> String {
    format!("{what:?}")
}

/// A message that cannot be used: upstream fails the file dump when the message has nothing
/// for us, go-spiffe drops an invalid one, and we refuse one that fails verification.
fn log_rejected(e: &VerifyError) {
    match e {
        VerifyError::Render(RenderError::HintNotFound | RenderError::NoBundle { .. }) => {
            error!(error = e.to_string(); "Unable to dump bundle");
        }
        VerifyError::Render(e) => error!("Error while watching x509 context: {e}"),
        e => error!(
            error = e.to_string();
            "X.509-SVID failed verification; the files on disk are kept"
        ),
    }
}

/// The error line of a fatal outcome, as upstream words it (`pkg/sidecar/sidecar.go@v0.11.0`,
/// `cmd/spiffe-helper/main.go@v0.11.0`).
pub(crate) fn fatal_error(fatal: &Fatal, last_conn: Option<&ConnError>) -> String {
    match fatal {
        Fatal::Status { status, .. } => rpc_error(status),
        Fatal::RetriesExhausted(Failure::Status(s)) => rpc_error(s),
        Fatal::RetriesExhausted(Failure::Connection) => {
            last_conn.map(ToString::to_string).unwrap_or_default()
        }
        Fatal::BadMessage(e) => e.to_string(),
        Fatal::Rejected(e) => e.to_string(),
        Fatal::JwtRejected(_, e) => e.to_string(),
        Fatal::WriteFailed(Subscription::X509) => "unable to write the X.509 files".into(),
        Fatal::WriteFailed(Subscription::JwtBundles) => {
            "unable to write the JWT bundle file".into()
        }
        Fatal::WriteFailed(Subscription::JwtSvid(_)) => "unable to write the JWT SVID file".into(),
        Fatal::TimedOut(timeout) => {
            format!("timeout of {timeout:?} passed before every output was written")
        }
        Fatal::Interrupted { signal } => {
            format!("stopped by signal {signal} before every output was written")
        }
        Fatal::HookFailed => "a reload.exec hook failed or timed out".into(),
        other => unworded(other),
    }
}

/// Upstream's one-shot error message for the output a fatal failure belongs to
/// (`pkg/sidecar/sidecar.go@v0.11.0`).
pub(crate) fn one_shot_failure(fatal: &Fatal) -> &'static str {
    let sub = match fatal {
        Fatal::HookFailed => return "Error running hooks",
        Fatal::Status { sub, .. } | Fatal::JwtRejected(sub, _) | Fatal::WriteFailed(sub) => *sub,
        _ => Subscription::X509,
    };
    fetch_failure(sub)
}

/// Upstream's one-shot error message for a failure to fetch `sub`
/// (`pkg/sidecar/sidecar.go@v0.11.0`).
fn fetch_failure(sub: Subscription) -> &'static str {
    match sub {
        Subscription::X509 => "Error fetching x509 certificates",
        Subscription::JwtBundles => "Error fetching JWT bundle",
        Subscription::JwtSvid(_) => "Error fetching JWT SVIDs",
    }
}

/// A gRPC status as grpc-go prints it: `rpc error: code = NotFound desc = ...`.
fn rpc_error(status: &Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        status.code.go_name(),
        status.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use svid_core::grpc::Code;

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
