//! HTTP/2 client connection for prior-knowledge h2c (RFC 9113), sans-I/O.
//!
//! Feed the bytes read from the socket to [`Connection::recv`], write out what
//! [`Connection::poll_transmit`] produces, and drain [`Connection::poll_event`]. The
//! connection implements what a gRPC client needs: SETTINGS, HEADERS/CONTINUATION with HPACK,
//! DATA with padding, flow control in both directions, PING ACKs, RST_STREAM and GOAWAY.
//! Every peer-fed buffer has an explicit bound.

mod connection;
mod error;
#[cfg(fuzzing)]
pub mod frame;
// Its items are `pub` for the fuzz targets, which see it under `cfg(fuzzing)`.
#[cfg(not(fuzzing))]
#[allow(unreachable_pub)]
pub(crate) mod frame;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use alloc::vec::Vec;
use core::time::Duration;

pub use connection::Connection;
pub use error::{Error, ErrorCode, LocalError, PeerError};

use crate::hpack::Field;

/// An HTTP/2 stream identifier (31 bits). Client streams are odd.
pub type StreamId = u32;

/// Limits and windows of a [`Connection`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise; the connection window is raised to at least
    /// this too (RFC 9113 §6.9.2). Capped at 2^31-1.
    pub initial_window_size: u32,
    /// HPACK dynamic table size we accept (SETTINGS_HEADER_TABLE_SIZE, RFC 7541 §4.2).
    pub header_table_size: u32,
    /// Largest decoded header list we accept (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 §6.5.2).
    pub max_header_list_size: u32,
    /// Bound on the HEADERS+CONTINUATION bytes of one header block buffered before decoding.
    pub max_header_block: usize,
    /// The server's SETTINGS must arrive, and ours be acknowledged, within this time of the
    /// connection's start (RFC 9113 §3.4, §6.5.3); otherwise the connection is dead.
    pub handshake_timeout: Duration,
    /// While a stream is open, a keepalive PING is sent this often (never more often than
    /// [`MIN_PING_INTERVAL`], grpc-go's default server enforcement).
    pub keepalive_interval: Duration,
    /// A PING not acknowledged within this time means the connection is dead.
    pub ping_timeout: Duration,
}

/// grpc-go servers, the SPIRE agent among them, count a PING that comes less than 5 minutes
/// after the previous one as a strike and send GOAWAY(ENHANCE_YOUR_CALM) on the third
/// (`keepalive.EnforcementPolicy` defaults). No PING of ours is ever closer than this.
pub const MIN_PING_INTERVAL: Duration = Duration::from_secs(5 * 60);

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_window_size: 1 << 20,
            header_table_size: 4096,
            max_header_list_size: 16 << 10,
            max_header_block: 32 << 10,
            handshake_timeout: Duration::from_secs(20),
            keepalive_interval: Duration::from_secs(6 * 60),
            ping_timeout: Duration::from_secs(20),
        }
    }
}

/// What the connection reports to its user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a user that drops an event loses a stream's data or end: every one must be handled"
)]
pub enum Event {
    /// A decoded header block: response headers, or trailers when `end_stream` is set.
    Headers {
        /// The stream.
        stream: StreamId,
        /// The decoded header fields, in order.
        fields: Vec<Field>,
        /// Whether the frame ended the stream.
        end_stream: bool,
    },
    /// DATA payload (padding stripped); `end_stream` marks the last one.
    Data {
        /// The stream.
        stream: StreamId,
        /// The payload.
        data: Vec<u8>,
        /// Whether the frame ended the stream.
        end_stream: bool,
    },
    /// The stream was reset: by the server's RST_STREAM (`by_server`), or by us because the
    /// server broke a stream-level rule (RFC 9113 §5.4.2).
    Reset {
        /// The stream.
        stream: StreamId,
        /// The error code of the RST_STREAM.
        code: ErrorCode,
        /// Whether the server sent it.
        by_server: bool,
    },
    /// The server sent GOAWAY: no new streams; streams above `last_stream` are closed.
    GoAway {
        /// The highest stream the server may still process.
        last_stream: StreamId,
        /// The error code.
        code: ErrorCode,
        /// The opaque debug data.
        debug: Vec<u8>,
    },
}
