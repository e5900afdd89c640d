//! The health listener (`health_checks`) for the poll(2) loop: a nonblocking TCP listener on
//! all interfaces and a small table of client connections. The HTTP is the core's
//! ([`svid_core::health`]): this file only moves bytes and keeps time.
//!
//! Bounds, so a slow or hostile client can neither stall the helper nor make it allocate
//! without bound:
//! - at most [`Limits::max_conns`] (16) connections at once. While the table is full the
//!   listener is left out of the poll set, so further connections wait in the kernel's
//!   backlog (128) and are served as slots free up; nothing is accepted only to be dropped;
//! - each request head is read into a buffer of at most [`MAX_HEAD`] (8 KiB); a longer
//!   head gets `431` and the connection is closed;
//! - the head must be complete within [`Limits::head_timeout`] (5 s from accept, upstream's
//!   `ReadHeaderTimeout`), the response written within [`Limits::write_timeout`] (5 s);
//!   a connection past its deadline is closed;
//! - after the response the write side is shut down and unread input is discarded for at
//!   most [`Limits::linger`] (500 ms, as Go does before closing) and at most 64 KiB, so the
//!   peer reads the response instead of a reset;
//! - `accept` failing for lack of descriptors pauses accepting for 100 ms instead of
//!   spinning on a listener that stays readable.
//!
//! `driver::run` polls it beside the agent socket and serves the session's `HealthState`.
//! Its timers run on the core's [`Instant`], read from the same clock as the session's and
//! passed in, so tests drive them with instants of their own.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
use svid_core::health::{
    HealthState, MAX_HEAD, RequestReader, Status, render_error, render_metrics, render_response,
};
use svid_core::time::Instant;

/// Listen backlog: where connections wait while the table is full.
const BACKLOG: i32 = 128;
/// Input discarded after the response before the connection is closed anyway.
const MAX_DRAIN: usize = 64 * 1024;
/// How long accepting pauses after running out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The listener's bounds; [`Limits::default`] is what the daemon uses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; more wait in the backlog.
    pub max_conns: usize,
    /// From accept to a complete request head.
    pub head_timeout: Duration,
    /// From a complete head to the whole response written.
    pub write_timeout: Duration,
    /// After the response, how long unread input is drained before closing.
    pub linger: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: 16,
            head_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            linger: Duration::from_millis(500),
        }
    }
}

enum Phase {
    /// Reading the request head.
    Reading(RequestReader),
    /// Writing the response; `sent` bytes are out.
    Writing { out: Vec<u8>, sent: usize },
    /// Response sent and write side shut down; discarding input until EOF.
    Draining { discarded: usize },
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    deadline: Instant,
}

/// What `poll(2)` reported for the listener's descriptors, taken out of the `PollFd` slice
/// (by [`Health::events`]) so its borrows can end before [`Health::on_ready`].
#[derive(Debug)]
pub struct Events {
    listener: bool,
    conns: Vec<bool>,
}

/// The health listener and its connections.
pub struct Health {
    listener: TcpListener,
    conns: Vec<Conn>,
    limits: Limits,
    liveness_path: String,
    readiness_path: String,
    /// `metrics_path` (empty: no metrics).
    metrics_path: String,
    /// Accepting is paused until then (out of descriptors).
    accept_paused: Option<Instant>,
}

impl Health {
    /// Listens on `port` on all interfaces: `[::]` dual-stack (IPv4 too), or `0.0.0.0` where
    /// IPv6 is unavailable. Errors read as Go's `net.Listen` words them (`listen tcp :8081:
    /// bind: address already in use`; `listen tcp: address 70000: invalid port` for a port
    /// outside 0..=65535, which upstream's config does not reject), for the warning
    /// `Error serving health checks`.
    pub fn bind(port: i64, liveness_path: &str, readiness_path: &str) -> io::Result<Health> {
        let port = u16::try_from(port).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("listen tcp: address {port}: invalid port"),
            )
        })?;
        let listener = match listen(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
            Err((_, e)) if ipv6_unavailable(e) => {
                listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
            }
            other => other,
        }
        .map_err(|(syscall, e)| go_listen_error(port, syscall, e))?;
        Ok(Health {
            listener,
            conns: Vec::new(),
            limits: Limits::default(),
            liveness_path: liveness_path.to_owned(),
            readiness_path: readiness_path.to_owned(),
            metrics_path: String::new(),
            accept_paused: None,
        })
    }

    /// Also answers `path` (when not empty) with the Prometheus metrics.
    pub fn with_metrics_path(mut self, path: &str) -> Health {
        path.clone_into(&mut self.metrics_path);
        self
    }

    #[cfg(test)]
    /// Replaces the default [`Limits`].
    pub fn with_limits(mut self, limits: Limits) -> Health {
        self.limits = limits;
        self
    }

    #[cfg(test)]
    /// The address actually bound (its port is the one chosen when binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    #[cfg(test)]
    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    #[cfg(test)]
    /// Bytes held across all connections: request heads being read (each at most
    /// [`MAX_HEAD`]) and responses not yet written.
    pub fn buffered(&self) -> usize {
        self.conns
            .iter()
            .map(|c| match &c.phase {
                Phase::Reading(r) => r.buffered(),
                Phase::Writing { out, .. } => out.len(),
                Phase::Draining { .. } => 0,
            })
            .sum()
    }

    fn accepting(&self) -> bool {
        self.accept_paused.is_none() && self.conns.len() < self.limits.max_conns
    }

    /// Appends the descriptors to poll: the listener (unless the table is full) and each
    /// connection, for reading or writing as its phase needs.
    pub fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) {
        if self.accepting() {
            fds.push(PollFd::new(&self.listener, PollFlags::IN));
        }
        for c in &self.conns {
            let flags = match c.phase {
                Phase::Writing { .. } => PollFlags::OUT,
                Phase::Reading(_) | Phase::Draining { .. } => PollFlags::IN,
            };
            fds.push(PollFd::new(&c.stream, flags));
        }
    }

    /// Reads the results for the descriptors [`poll_fds`](Self::poll_fds) appended: pass the
    /// slice that starts where they start. Nothing may change `self` in between.
    pub fn events(&self, fds: &[PollFd<'_>]) -> Events {
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        let (listener, conns) = if self.accepting() {
            (ready.first().copied().unwrap_or(false), ready.get(1..))
        } else {
            (false, Some(&ready[..]))
        };
        Events {
            listener,
            conns: conns.unwrap_or_default().to_vec(),
        }
    }

    /// Serves what `poll(2)` reported: reads heads, answers them from `state` (the metrics
    /// path from the text `metrics` renders), writes, drains and closes connections, and
    /// accepts new ones while there is room.
    pub fn on_ready(
        &mut self,
        now: Instant,
        state: &HealthState,
        metrics: &dyn Fn() -> Vec<u8>,
        events: Events,
    ) {
        let mut i = 0;
        self.conns.retain_mut(|c| {
            let ready = events.conns.get(i).copied().unwrap_or(false);
            i += 1;
            !ready
                || serve(
                    c,
                    now,
                    state,
                    metrics,
                    &self.limits,
                    [
                        &self.liveness_path,
                        &self.readiness_path,
                        &self.metrics_path,
                    ],
                )
        });
        if events.listener {
            self.accept(now);
        }
    }

    fn accept(&mut self, now: Instant) {
        while self.accepting() {
            match rustix::net::accept_with(
                &self.listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok(fd) => self.conns.push(Conn {
                    stream: TcpStream::from(fd),
                    phase: Phase::Reading(RequestReader::new(MAX_HEAD)),
                    deadline: now + self.limits.head_timeout,
                }),
                Err(Errno::AGAIN) => break,
                // The peer gave up before we accepted, or a signal: try the next one.
                Err(Errno::CONNABORTED | Errno::INTR | Errno::PROTO) => {}
                Err(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM) => {
                    self.accept_paused = Some(now + ACCEPT_PAUSE);
                    break;
                }
                // Other errors concern that one connection (ENETDOWN and the like).
                Err(_) => break,
            }
        }
    }

    /// The earliest deadline: a connection to close or accepting to resume.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .map(|c| c.deadline)
            .chain(self.accept_paused)
            .min()
    }

    /// Closes the connections whose deadline has passed and resumes accepting when due.
    pub fn handle_timeouts(&mut self, now: Instant) {
        self.conns.retain(|c| c.deadline > now);
        if self.accept_paused.is_some_and(|t| t <= now) {
            self.accept_paused = None;
        }
    }
}

/// Does the I/O one connection is ready for; false when it is to be closed.
fn serve(
    c: &mut Conn,
    now: Instant,
    state: &HealthState,
    metrics: &dyn Fn() -> Vec<u8>,
    limits: &Limits,
    [liveness_path, readiness_path, metrics_path]: [&str; 3],
) -> bool {
    let mut buf = [0u8; 2048];
    if let Phase::Reading(reader) = &mut c.phase {
        let response = loop {
            let want = reader.space().min(buf.len());
            match c.stream.read(&mut buf[..want]) {
                // The client went away before finishing its request.
                Ok(0) => return false,
                Ok(n) => match reader.feed(&buf[..n]) {
                    Ok(Status::Partial) => {}
                    Ok(Status::Complete(req)) => {
                        break render_metrics(&req, metrics_path, metrics).unwrap_or_else(|| {
                            render_response(&req, state, liveness_path, readiness_path)
                        });
                    }
                    Err(e) => break render_error(e),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        };
        c.phase = Phase::Writing {
            out: response,
            sent: 0,
        };
        c.deadline = now + limits.write_timeout;
    }
    if let Phase::Writing { out, sent } = &mut c.phase {
        while *sent < out.len() {
            match c.stream.write(&out[*sent..]) {
                Ok(0) => return false,
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        if c.stream.shutdown(Shutdown::Write).is_err() {
            return false;
        }
        c.phase = Phase::Draining { discarded: 0 };
        c.deadline = now + limits.linger;
        // Fall through: the peer may have closed already.
    }
    if let Phase::Draining { discarded } = &mut c.phase {
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    *discarded += n;
                    if *discarded > MAX_DRAIN {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
    true
}

/// Whether binding `[::]` failed because this host has no IPv6, not for a reason IPv4 would
/// share (port in use, permission).
fn ipv6_unavailable(e: Errno) -> bool {
    matches!(
        e,
        Errno::AFNOSUPPORT | Errno::ADDRNOTAVAIL | Errno::PROTONOSUPPORT | Errno::INVAL
    )
}

/// A nonblocking, close-on-exec listening socket on `addr`, with `SO_REUSEADDR` (as Go sets
/// it) and, for IPv6, `IPV6_V6ONLY` off so IPv4 clients reach it too. An error names the
/// call that failed.
fn listen(addr: SocketAddr) -> Result<TcpListener, (&'static str, Errno)> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| ("socket", e))?;
    sockopt::set_socket_reuseaddr(&fd, true).map_err(|e| ("setsockopt", e))?;
    if addr.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, false).map_err(|e| ("setsockopt", e))?;
    }
    rustix::net::bind(&fd, &addr).map_err(|e| ("bind", e))?;
    rustix::net::listen(&fd, BACKLOG).map_err(|e| ("listen", e))?;
    Ok(TcpListener::from(fd))
}

/// Go's `net.Listen("tcp", ":port")` error text, with Go's (glibc's) lower-case errno
/// words whatever libc this binary uses.
fn go_listen_error(port: u16, syscall: &str, e: Errno) -> io::Error {
    let text = match e {
        Errno::ADDRINUSE => "address already in use".to_owned(),
        Errno::ACCESS => "permission denied".to_owned(),
        Errno::ADDRNOTAVAIL => "cannot assign requested address".to_owned(),
        Errno::AFNOSUPPORT => "address family not supported by protocol".to_owned(),
        Errno::MFILE => "too many open files".to_owned(),
        Errno::NFILE => "too many open files in system".to_owned(),
        Errno::NOBUFS => "no buffer space available".to_owned(),
        other => {
            let full = io::Error::from(other).to_string();
            let text = full.split(" (os error").next().unwrap_or(&full);
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_lowercase().chain(chars).collect::<String>()
            })
        }
    };
    io::Error::new(
        io::Error::from(e).kind(),
        format!("listen tcp :{port}: {syscall}: {text}"),
    )
}

#[cfg(test)]
mod tests;
