//! The connection to the agent's Workload API socket (Unix or TCP, SPIFFE Workload Endpoint
//! §4) and how it can fail, worded like grpc-go's transport errors so that logs read as
//! upstream's.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// Where the agent listens, as [`svid_core::config::agent_endpoint`] read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A Unix domain socket.
    Unix(PathBuf),
    /// A TCP listen socket at an IP literal.
    Tcp(SocketAddr),
}

impl fmt::Display for Endpoint {
    /// grpc-go's `network address` pair: `unix /path` or `tcp 127.0.0.1:8081`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix {}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp {addr}"),
        }
    }
}

/// A non-blocking stream to the agent.
pub(crate) enum Stream {
    /// To a Unix socket.
    Unix(UnixStream),
    /// To a TCP socket.
    Tcp(TcpStream),
}

/// A dial that did not fail at once: the stream, and whether its connect is still in
/// progress (`EINPROGRESS`, connect(2)): the stream then polls writable once the connect
/// is over, and [`Endpoint::connect_result`] tells how it ended.
pub(crate) struct Dialled {
    /// The socket.
    pub stream: Stream,
    /// Whether the connect is still in progress.
    pub in_progress: bool,
}

impl Endpoint {
    /// Dials the agent without blocking the loop: connect(2) on a socket opened with
    /// `O_NONBLOCK`, as Go's `net` package dials (`net/fd_unix.go`, `netFD.connect`).
    ///
    /// A TCP connect returns `EINPROGRESS` and completes later. A Unix stream socket
    /// connects at once or, when the listener's accept backlog is full, fails with `EAGAIN`
    /// instead of waiting for room (connect(2), ERRORS: "EAGAIN For nonblocking UNIX domain
    /// sockets, the socket is nonblocking, and the connection cannot be completed
    /// immediately"; under EINPROGRESS: "UNIX domain sockets failed with EAGAIN instead").
    /// Nothing polls ready when room is made, so that is a failed dial, which the session
    /// retries after its backoff: Go's `netFD.connect` returns it as an error too, and
    /// grpc-go redials after its backoff (`clientconn.go`, `addrConn.resetTransportAndUnlock`,
    /// v1.76.0, the version upstream's `go.mod@v0.11.0` builds with).
    pub(crate) fn dial(&self) -> Result<Dialled, ConnError> {
        let dial_error = |e: Errno| ConnError::Dial(self.clone(), e.into());
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let (fd, connected) = match self {
            Endpoint::Unix(path) => {
                let addr = SocketAddrUnix::new(path.as_path()).map_err(dial_error)?;
                let fd =
                    rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)
                        .map_err(dial_error)?;
                let connected = rustix::net::connect(&fd, &addr);
                (fd, connected)
            }
            Endpoint::Tcp(addr) => {
                let family = match addr {
                    SocketAddr::V4(_) => AddressFamily::INET,
                    SocketAddr::V6(_) => AddressFamily::INET6,
                };
                let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)
                    .map_err(dial_error)?;
                let connected = rustix::net::connect(&fd, addr);
                (fd, connected)
            }
        };
        let in_progress = match connected {
            Ok(()) => false,
            Err(Errno::INPROGRESS) => true,
            Err(e) => return Err(dial_error(e)),
        };
        let stream = match self {
            Endpoint::Unix(_) => Stream::Unix(UnixStream::from(fd)),
            Endpoint::Tcp(_) => {
                let socket = TcpStream::from(fd);
                socket.set_nodelay(true).map_err(ConnError::Io)?;
                Stream::Tcp(socket)
            }
        };
        Ok(Dialled {
            stream,
            in_progress,
        })
    }

    /// How a connect that was in progress ended, once its stream polled ready: the
    /// socket's pending error (`SO_ERROR`, connect(2) under `EINPROGRESS`).
    pub(crate) fn connect_result(&self, stream: &Stream) -> Result<(), ConnError> {
        match rustix::net::sockopt::socket_error(stream) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) | Err(e) => Err(ConnError::Dial(self.clone(), e.into())),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

/// Why the connection is gone; printed like grpc-go's transport errors.
#[derive(Debug)]
pub(crate) enum ConnError {
    /// The endpoint (`unix /path` or `tcp IP:PORT`) could not be dialled.
    Dial(Endpoint, io::Error),
    /// Reading or writing failed.
    Io(io::Error),
    /// The agent closed the connection.
    Eof,
    /// The session gave up on the connection: protocol error, timeout or GOAWAY.
    Protocol(svid_core::h2::Error),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rpc error: code = Unavailable desc = ")?;
        match self {
            ConnError::Dial(endpoint, e) => write!(f, "connection error: dial {endpoint}: {e}"),
            ConnError::Io(e) => write!(f, "connection error: {e}"),
            ConnError::Eof => f.write_str("connection closed by the agent"),
            ConnError::Protocol(e) => write!(f, "connection error: HTTP/2: {e}"),
        }
    }
}
