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
use rustix::net::{AddressFamily, SocketFlags, SocketType};

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
    /// Connected to a Unix socket.
    Unix(UnixStream),
    /// Connected, or still connecting: a refused or timed-out TCP connect shows as an error
    /// on the first read or write, and the session's timeouts bound a connect that hangs.
    Tcp(TcpStream),
}

impl Endpoint {
    /// Dials the agent without blocking the loop: a Unix socket connects at once; a TCP
    /// connect is started non-blocking (`EINPROGRESS`), and the stream polls writable once
    /// it completes.
    pub(crate) fn dial(&self) -> Result<Stream, ConnError> {
        let dial_error = |e: io::Error| ConnError::Dial(self.to_string(), e);
        match self {
            Endpoint::Unix(path) => {
                let socket = UnixStream::connect(path).map_err(dial_error)?;
                socket.set_nonblocking(true).map_err(ConnError::Io)?;
                Ok(Stream::Unix(socket))
            }
            Endpoint::Tcp(addr) => {
                let family = match addr {
                    SocketAddr::V4(_) => AddressFamily::INET,
                    SocketAddr::V6(_) => AddressFamily::INET6,
                };
                let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)
                    .map_err(|e| dial_error(e.into()))?;
                match rustix::net::connect(&fd, addr) {
                    Ok(()) | Err(Errno::INPROGRESS) => {}
                    Err(e) => return Err(dial_error(e.into())),
                }
                let socket = TcpStream::from(fd);
                socket.set_nodelay(true).map_err(ConnError::Io)?;
                Ok(Stream::Tcp(socket))
            }
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
    Dial(String, io::Error),
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
