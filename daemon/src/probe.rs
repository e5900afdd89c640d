//! `-healthcheck live|ready` (ours, issue 17): the exec probe of a `FROM scratch` image, which
//! has no shell and no curl. Requests the running helper's own health endpoint over TCP and
//! reports the core's verdict ([`svid_core::health::probe`]); the whole exchange (connect,
//! send, read) must end within the deadline.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use svid_core::config::Validated;
use svid_core::health::probe::{Verdict, request, verdict};

use crate::cli::Probe;
use crate::oserror::GoErrno;

/// Why `-healthcheck` failed: the `error` field of its log line.
#[derive(Debug)]
pub(crate) enum ProbeError {
    /// The listener is off, or the helper runs one-shot.
    NoEndpoint,
    /// `bind_port` is not a TCP port.
    BadPort(i64),
    /// The request to `http://{addr}{path}` failed.
    Request {
        /// Where it was sent.
        addr: SocketAddr,
        /// The path requested.
        path: String,
        /// Why it failed.
        error: RequestError,
    },
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoEndpoint => f.write_str(
                "the configuration serves no health endpoint: it needs health_checks { \
                 listener_enabled = true } and daemon mode",
            ),
            Self::BadPort(port) => write!(f, "bind_port {port} is not a TCP port"),
            Self::Request { addr, path, error } => write!(f, "http://{addr}{path}: {error}"),
        }
    }
}

/// The source is the failed request's error, for [`ProbeError::Request`].
impl std::error::Error for ProbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Why a request to the health endpoint failed.
#[derive(Debug)]
pub(crate) enum RequestError {
    /// No answer within the deadline.
    Late(Duration),
    /// Connecting, sending or reading failed (`op`: `connect to`, `send to`, `read from`).
    Io {
        /// What was being done.
        op: &'static str,
        /// With whom.
        addr: SocketAddr,
        /// The OS error.
        error: io::Error,
    },
    /// Another status than `200`, or an answer that is not HTTP/1.x: the core's one-line
    /// reason.
    Unhealthy(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Duration's Debug form reads as a Go duration for the usual deadlines: 1s,
            // 300ms, 1.5s.
            Self::Late(timeout) => write!(f, "no answer within {timeout:?}"),
            Self::Io { op, addr, error } => write!(f, "{op} {addr}: {}", GoErrno(error)),
            Self::Unhealthy(reason) => f.write_str(reason),
        }
    }
}

/// The source is the OS error, for [`RequestError::Io`].
impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where the helper described by `cfg` serves `probe`: the address and the path; or why it
/// serves nothing.
pub(crate) fn target(cfg: &Validated, probe: Probe) -> Result<(SocketAddr, String), ProbeError> {
    let h = &cfg.config().health_checks;
    if !h.listener_enabled || !cfg.daemon_mode() {
        return Err(ProbeError::NoEndpoint);
    }
    let port = u16::try_from(h.bind_port).map_err(|_| ProbeError::BadPort(h.bind_port))?;
    let path = match probe {
        Probe::Live => &h.liveness_path,
        Probe::Ready => &h.readiness_path,
    };
    // Without `bind_address` the listener binds every interface, so loopback reaches it; with
    // one, that address, or its family's loopback when it is unspecified (`0.0.0.0`, `::`).
    let ip = match cfg.health_bind_address() {
        None | Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
    };
    Ok((SocketAddr::new(ip, port), path.clone()))
}

/// Requests `path` on `addr` and waits for the status line, all within `timeout`: `Ok` on
/// `200`, else the one-line reason.
pub(crate) fn check(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), RequestError> {
    let deadline = Instant::now() + timeout;
    let late = || RequestError::Late(timeout);
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let io_error = |op, error: io::Error| match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => late(),
        _ => RequestError::Io { op, addr, error },
    };
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| io_error("connect to", e))?;
    stream
        .set_write_timeout(Some(left().ok_or_else(late)?))
        .and_then(|()| stream.write_all(&request(path, &addr.to_string())))
        .map_err(|e| io_error("send to", e))?;
    let mut received = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    loop {
        let closed = match left() {
            None => return Err(late()),
            Some(d) => {
                stream
                    .set_read_timeout(Some(d))
                    .map_err(|e| io_error("read from", e))?;
                match stream.read(&mut buf) {
                    Ok(0) => true,
                    Ok(n) => {
                        received.extend_from_slice(&buf[..n]);
                        false
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                    Err(e) => return Err(io_error("read from", e)),
                }
            }
        };
        match verdict(&received, closed) {
            // Pending means fewer than MAX_STATUS_LINE bytes so far: `received` is bounded.
            Verdict::Pending => {}
            Verdict::Healthy => return Ok(()),
            Verdict::Unhealthy(reason) => return Err(RequestError::Unhealthy(reason)),
        }
    }
}
