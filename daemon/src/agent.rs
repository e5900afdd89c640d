//! One connection to the agent's Workload API socket: drives the sans-I/O
//! `svid_core::workload::Client` with an async Unix stream.

use std::fmt;
use std::io;
use std::path::Path;

use async_net::unix::UnixStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use svid_core::workload::{Client, ClientConfig};

/// Why the connection is gone; printed like grpc-go's transport errors.
#[derive(Debug)]
pub enum ConnError {
    /// The socket could not be dialled.
    Dial(String, io::Error),
    /// Reading or writing failed.
    Io(io::Error),
    /// The agent closed the connection.
    Eof,
    /// The agent broke the HTTP/2 or gRPC protocol.
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

/// A live connection and its protocol state.
pub struct AgentConn {
    stream: UnixStream,
    /// The Workload API client state machine.
    pub client: Client,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl AgentConn {
    /// Dials the agent socket at `path`.
    pub async fn connect(path: &Path) -> Result<Self, ConnError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| ConnError::Dial(path.display().to_string(), e))?;
        let config = ClientConfig {
            user_agent: concat!("spiffe-helper-rs/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Ok(AgentConn {
            stream,
            client: Client::new(config),
            out: Vec::new(),
            buf: vec![0; 16 * 1024],
        })
    }

    /// Sends everything the client has queued.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        self.out.clear();
        self.client.poll_transmit(&mut self.out);
        if !self.out.is_empty() {
            self.stream
                .write_all(&self.out)
                .await
                .map_err(ConnError::Io)?;
        }
        Ok(())
    }

    /// Reads what the agent sent and feeds it to the client.
    pub async fn read(&mut self) -> Result<(), ConnError> {
        let n = self
            .stream
            .read(&mut self.buf)
            .await
            .map_err(ConnError::Io)?;
        if n == 0 {
            return Err(ConnError::Eof);
        }
        if let Err(e) = self.client.recv(&self.buf[..n]) {
            // Best effort: let the agent see our GOAWAY before the socket closes.
            let _ = self.flush().await;
            return Err(ConnError::Protocol(e));
        }
        Ok(())
    }
}
