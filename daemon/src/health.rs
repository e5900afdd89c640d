//! The health listener (`health_checks`) for the poll(2) loop: a nonblocking TCP listener
//! (all interfaces, or `bind_address`) and the client connections of the core's
//! [`Slots`] table. The HTTP is the core's ([`svid_core::health`]) and so are the table's
//! decisions ([`svid_core::health::slots`]: whom to evict, which deadline applies, how
//! many to accept in a round): this file only accepts, reads, writes and closes.
//!
//! Bounds, so that held or slow connections cost the probes nothing and a hostile client
//! can neither stall the helper nor make it allocate without bound:
//! - at most [`Limits::max_conns`] (16) connections held; the listener stays in the poll
//!   set when the table is full, and a new connection takes the slot of the connection
//!   idle the longest (never one being answered). Descriptors: the listener, the table,
//!   and one just accepted while its victim is closed;
//! - a connection reading its head keeps its slot for [`Limits::grace`] (2 ms) after its
//!   accept and each byte: while no slot may be taken the listener leaves the poll set
//!   until [`Slots::next_room`], and newcomers wait in the accept queue, where a probe's
//!   request arrives before its accept;
//! - a round serves the connections held first, then accepts at most one table's worth,
//!   reading each new connection at once, so a probe whose request is already in is
//!   answered before the next accept;
//! - 5 s from accept to the first byte of the head, then [`Limits::read_header_timeout`]
//!   (1 s, `health_checks.read_header_timeout`) to its end; the head is read into a buffer
//!   of at most [`MAX_HEAD`] (8 KiB), a longer head gets `431` and the connection is closed;
//! - the response written within [`Limits::write_timeout`] (5 s); after it the write side is
//!   shut down and unread input discarded for at most [`Limits::linger`] (500 ms, as Go does
//!   before closing) and at most 64 KiB, so the peer reads the response instead of a reset;
//! - `accept` failing for lack of descriptors pauses accepting for 100 ms instead of
//!   spinning on a listener that stays readable.
//!
//! `driver::Driver::wait` polls it beside the agent socket and serves the session's `HealthState`.
//! Its timers run on the core's [`Instant`], read from the same clock as the session's and
//! passed in, so tests drive them with instants of their own.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
use svid_core::health::slots::{Admission, Id, Limits, Slots};
use svid_core::health::{
    Head, HealthState, MAX_HEAD, Request, RequestReader, render_error, render_metrics,
    render_response,
};
use svid_core::time::Instant;

/// Listen backlog: where connections wait between two rounds of accepts. Connections held
/// by a client beyond the table wait here, and once it is full the kernel drops new SYNs,
/// a probe's included (retried after 1 s, past a probe's timeout): so it is as large as
/// Linux's default `net.core.somaxconn` (4096 since 5.4), which caps it.
const BACKLOG: i32 = 4096;
/// Input discarded after the response before the connection is closed anyway.
const MAX_DRAIN: usize = 64 * 1024;
/// How long accepting pauses after running out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Where and what the listener serves, from `health_checks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `bind_address`; `None` listens on all interfaces.
    pub address: Option<IpAddr>,
    /// `bind_port`, as configured (checked when binding).
    pub port: i64,
    /// `liveness_path`.
    pub liveness_path: String,
    /// `readiness_path`.
    pub readiness_path: String,
    /// `read_header_timeout`.
    pub read_header_timeout: Duration,
    /// `metrics_path` (ours; empty: no metrics).
    pub metrics_path: String,
}

enum Phase {
    /// Reading the request head.
    Reading(RequestReader),
    /// Writing the response; `sent` bytes are out.
    Writing { out: Vec<u8>, sent: usize },
    /// Response sent and write side shut down; discarding input until EOF.
    Draining { discarded: usize },
}

/// A client's connection to the listener (a probe, kubelet, a scraper): its slot in the
/// table, its socket and where its exchange is.
struct ProbeConnection {
    id: Id,
    stream: TcpStream,
    phase: Phase,
}

/// What `poll(2)` reported for the listener's descriptors, taken out of the `PollFd` slice
/// (by [`Health::events`]) so its borrows can end before [`Health::on_ready`].
#[derive(Debug)]
pub(crate) struct Events {
    listener: bool,
    conns: Vec<bool>,
}

/// The health listener and its connections.
pub(crate) struct Health {
    listener: TcpListener,
    conns: Vec<ProbeConnection>,
    slots: Slots,
    /// The liveness, readiness and metrics paths (the last empty: no metrics).
    paths: [String; 3],
    /// Accepting is paused until then (out of descriptors).
    accept_paused: Option<Instant>,
    /// The listener is out of the poll set until then: accepting is paused, or no slot may
    /// be taken ([`Slots::next_room`]). Settled at the end of each round.
    listen_from: Option<Instant>,
}

impl Health {
    /// Listens on `bind_address`, or on all interfaces: `[::]` dual-stack (IPv4 too), or
    /// `0.0.0.0` where IPv6 is unavailable. Errors read as Go's `net.Listen` words them
    /// (`listen tcp :8081: bind: address already in use`, `listen tcp 127.0.0.1:8081: ...`
    /// with an address; `listen tcp: address 70000: invalid port` for a port outside
    /// 0..=65535, which upstream's config does not reject), for the warning
    /// (`pkg/health/health.go@v0.11.0`) `Error serving health checks`.
    pub(crate) fn bind(settings: &Settings) -> io::Result<Health> {
        let host = settings.address.map(|a| match a {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        });
        let host = host.as_deref().unwrap_or("");
        let port = u16::try_from(settings.port).map_err(|_| {
            let address = match host {
                "" => settings.port.to_string(),
                host => format!("{host}:{}", settings.port),
            };
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("listen tcp: address {address}: invalid port"),
            )
        })?;
        let listener = match settings.address {
            Some(ip) => listen(SocketAddr::new(ip, port)),
            None => match listen(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
                Err((_, e)) if ipv6_unavailable(e) => {
                    listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
                }
                other => other,
            },
        }
        .map_err(|(syscall, e)| go_listen_error(host, port, syscall, e))?;
        Ok(Health {
            listener,
            conns: Vec::new(),
            slots: Slots::new(Limits {
                read_header_timeout: settings.read_header_timeout,
                ..Limits::default()
            }),
            paths: [
                settings.liveness_path.clone(),
                settings.readiness_path.clone(),
                settings.metrics_path.clone(),
            ],
            accept_paused: None,
            listen_from: None,
        })
    }

    #[cfg(test)]
    /// Replaces the default [`Limits`] (and forgets the connections).
    pub(crate) fn with_limits(mut self, limits: Limits) -> Health {
        self.slots = Slots::new(limits);
        self.conns.clear();
        self
    }

    #[cfg(test)]
    /// The address actually bound (its port is the one chosen when binding port 0).
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    #[cfg(test)]
    /// Connections open now.
    pub(crate) fn connections(&self) -> usize {
        self.conns.len()
    }

    #[cfg(test)]
    /// The table's bounds.
    pub(crate) fn limits(&self) -> Limits {
        *self.slots.limits()
    }

    #[cfg(test)]
    /// Bytes held across all connections: request heads being read (each at most
    /// [`MAX_HEAD`]) and responses not yet written.
    pub(crate) fn buffered(&self) -> usize {
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
        self.listen_from.is_none()
    }

    /// Appends the descriptors to poll: the listener (unless accepting is paused) and each
    /// connection, for reading or writing as its phase needs.
    pub(crate) fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) {
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
    pub(crate) fn events(&self, fds: &[PollFd<'_>]) -> Events {
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

    /// Serves what `poll(2)` reported: first the connections held (reads heads, answers them
    /// from `state`, the metrics path from the text `metrics` renders, writes, drains,
    /// closes), then accepts new ones, evicting as the table says.
    pub(crate) fn on_ready(
        &mut self,
        now: Instant,
        state: &HealthState,
        metrics: &dyn Fn() -> Vec<u8>,
        events: Events,
    ) {
        let mut i = 0;
        let answers = Answers {
            state,
            metrics,
            paths: &self.paths,
        };
        let slots = &mut self.slots;
        self.conns.retain_mut(|c| {
            let ready = events.conns.get(i).copied().unwrap_or(false);
            i += 1;
            !ready || serve(c, now, slots, &answers)
        });
        if events.listener {
            self.accept(now, state, metrics);
        }
    }

    fn accept(&mut self, now: Instant, state: &HealthState, metrics: &dyn Fn() -> Vec<u8>) {
        let answers = Answers {
            state,
            metrics,
            paths: &self.paths,
        };
        for _ in 0..self.slots.accept_batch() {
            if self.slots.next_room(now).is_some() {
                break;
            }
            let stream = match rustix::net::accept_with(
                &self.listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok(fd) => TcpStream::from(fd),
                Err(Errno::AGAIN) => break,
                // The peer gave up before we accepted, or a signal: try the next one.
                Err(Errno::CONNABORTED | Errno::INTR | Errno::PROTO) => continue,
                Err(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM) => {
                    self.accept_paused = Some(now + ACCEPT_PAUSE);
                    break;
                }
                // Other errors concern that one connection (ENETDOWN and the like).
                Err(_) => break,
            };
            let Admission::Admitted { id, evicted } = self.slots.admit(now) else {
                continue; // Dropping `stream` closes it.
            };
            if let Some(victim) = evicted {
                self.conns.retain(|c| c.id != victim);
            }
            let mut conn = ProbeConnection {
                id,
                stream,
                phase: Phase::Reading(RequestReader::new(MAX_HEAD)),
            };
            // A probe's request is usually in already: answer it before the next accept.
            if serve(&mut conn, now, &mut self.slots, &answers) {
                self.conns.push(conn);
            }
        }
    }

    /// The earliest deadline: a connection to close or the listener to poll again.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        svid_core::time::earliest(self.slots.next_deadline(), self.listen_from)
    }

    /// Closes the connections whose deadline has passed, then settles whether the next
    /// round polls the listener: not while accepting is paused or no slot may be taken.
    pub(crate) fn handle_timeouts(&mut self, now: Instant) {
        let expired = self.slots.expire(now);
        if !expired.is_empty() {
            self.conns.retain(|c| !expired.contains(&c.id));
        }
        if self.accept_paused.is_some_and(|t| t <= now) {
            self.accept_paused = None;
        }
        self.listen_from = self.accept_paused.or_else(|| self.slots.next_room(now));
    }
}

/// What a complete request is answered from: the health state, the metrics text, and the
/// liveness, readiness and metrics paths.
struct Answers<'a> {
    state: &'a HealthState,
    metrics: &'a dyn Fn() -> Vec<u8>,
    paths: &'a [String; 3],
}

impl Answers<'_> {
    fn answer(&self, req: &Request<'_>) -> Vec<u8> {
        let [liveness, readiness, metrics] = self.paths;
        render_metrics(req, metrics, self.metrics)
            .unwrap_or_else(|| render_response(req, self.state, liveness, readiness))
    }
}

/// Does the I/O one connection is ready for; false when it is to be closed.
/// Tells `slots` of each step; a connection it returns false for is closed in `slots` too.
fn serve(c: &mut ProbeConnection, now: Instant, slots: &mut Slots, answers: &Answers<'_>) -> bool {
    let keep = step(c, now, slots, answers);
    if !keep {
        slots.close(c.id);
    }
    keep
}

fn step(c: &mut ProbeConnection, now: Instant, slots: &mut Slots, answers: &Answers<'_>) -> bool {
    let mut buf = [0u8; 2048];
    if let Phase::Reading(reader) = &mut c.phase {
        let response = loop {
            let want = reader.space().min(buf.len());
            match c.stream.read(&mut buf[..want]) {
                // The client went away before finishing its request.
                Ok(0) => return false,
                Ok(n) => {
                    slots.received(c.id, now, n);
                    match reader.feed(&buf[..n]) {
                        Ok(Head::Partial) => {}
                        Ok(Head::Complete(req)) => break answers.answer(&req),
                        Err(e) => break render_error(e),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        };
        c.phase = Phase::Writing {
            out: response,
            sent: 0,
        };
        slots.answering(c.id, now);
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
        slots.written(c.id, now);
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

/// Go's `net.Listen("tcp", "host:port")` error text (`host` empty for all interfaces,
/// bracketed for IPv6), with Go's (glibc's) lower-case errno words whatever libc this
/// binary uses.
fn go_listen_error(host: &str, port: u16, syscall: &str, e: Errno) -> io::Error {
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
        format!("listen tcp {host}:{port}: {syscall}: {text}"),
    )
}

#[cfg(test)]
mod tests;
