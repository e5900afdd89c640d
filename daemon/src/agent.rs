//! How the connection to the agent's Workload API socket can fail, worded like grpc-go's
//! transport errors so that logs read as upstream's.

use std::fmt;
use std::io;

/// Why the connection is gone; printed like grpc-go's transport errors.
#[derive(Debug)]
pub enum ConnError {
    /// The socket could not be dialled.
    Dial(String, io::Error),
    /// Reading or writing failed.
    Io(io::Error),
    /// The agent closed the connection.
    Eof,
    /// The session gave up on the connection: protocol error, timeout or GOAWAY.
    Protocol(svid_core::workload::Error),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rpc error: code = Unavailable desc = ")?;
        match self {
            ConnError::Dial(path, e) => write!(f, "connection error: dial unix {path}: {e}"),
            ConnError::Io(e) => write!(f, "connection error: {e}"),
            ConnError::Eof => f.write_str("connection closed by the agent"),
            ConnError::Protocol(e) => write!(f, "connection error: {e}"),
        }
    }
}
