//! HTTP/2 error codes (RFC 9113 §7) and the errors of this connection implementation.

use core::fmt;

use super::{StreamId, frame};
use crate::hpack::HpackError;

/// HTTP/2 error codes (RFC 9113 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `NO_ERROR`.
    NoError,
    /// `PROTOCOL_ERROR`.
    ProtocolError,
    /// `INTERNAL_ERROR`.
    InternalError,
    /// `FLOW_CONTROL_ERROR`.
    FlowControlError,
    /// `SETTINGS_TIMEOUT`.
    SettingsTimeout,
    /// `STREAM_CLOSED`.
    StreamClosed,
    /// `FRAME_SIZE_ERROR`.
    FrameSizeError,
    /// `REFUSED_STREAM`.
    RefusedStream,
    /// `CANCEL`.
    Cancel,
    /// `COMPRESSION_ERROR`.
    CompressionError,
    /// `CONNECT_ERROR`.
    ConnectError,
    /// `ENHANCE_YOUR_CALM`.
    EnhanceYourCalm,
    /// `INADEQUATE_SECURITY`.
    InadequateSecurity,
    /// `HTTP_1_1_REQUIRED`.
    Http11Required,
    /// A code this implementation does not know (RFC 9113 §7: treat as INTERNAL_ERROR).
    Unknown(u32),
}

impl ErrorCode {
    /// Maps the wire value.
    pub fn from_u32(v: u32) -> Self {
        use ErrorCode::*;
        match v {
            0x0 => NoError,
            0x1 => ProtocolError,
            0x2 => InternalError,
            0x3 => FlowControlError,
            0x4 => SettingsTimeout,
            0x5 => StreamClosed,
            0x6 => FrameSizeError,
            0x7 => RefusedStream,
            0x8 => Cancel,
            0x9 => CompressionError,
            0xa => ConnectError,
            0xb => EnhanceYourCalm,
            0xc => InadequateSecurity,
            0xd => Http11Required,
            other => Unknown(other),
        }
    }

    /// The wire value.
    pub fn to_u32(self) -> u32 {
        use ErrorCode::*;
        match self {
            NoError => 0x0,
            ProtocolError => 0x1,
            InternalError => 0x2,
            FlowControlError => 0x3,
            SettingsTimeout => 0x4,
            StreamClosed => 0x5,
            FrameSizeError => 0x6,
            RefusedStream => 0x7,
            Cancel => 0x8,
            CompressionError => 0x9,
            ConnectError => 0xa,
            EnhanceYourCalm => 0xb,
            InadequateSecurity => 0xc,
            Http11Required => 0xd,
            Unknown(v) => v,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorCode::*;
        let name = match self {
            NoError => "NO_ERROR",
            ProtocolError => "PROTOCOL_ERROR",
            InternalError => "INTERNAL_ERROR",
            FlowControlError => "FLOW_CONTROL_ERROR",
            SettingsTimeout => "SETTINGS_TIMEOUT",
            StreamClosed => "STREAM_CLOSED",
            FrameSizeError => "FRAME_SIZE_ERROR",
            RefusedStream => "REFUSED_STREAM",
            Cancel => "CANCEL",
            CompressionError => "COMPRESSION_ERROR",
            ConnectError => "CONNECT_ERROR",
            EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            InadequateSecurity => "INADEQUATE_SECURITY",
            Http11Required => "HTTP_1_1_REQUIRED",
            Unknown(v) => return write!(f, "unknown error code {v:#x}"),
        };
        f.write_str(name)
    }
}

/// What the peer did wrong: a connection error (RFC 9113 §5.4.1). Every one is answered with
/// a GOAWAY carrying [`PeerError::code`], queued before the error is returned, and the
/// connection is dead; the caller flushes it and closes the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// The server's first bytes are an HTTP/1.x status line: it does not speak HTTP/2.
    Http1Response,
    /// The server's first frame was not SETTINGS (RFC 9113 §3.4).
    MissingServerSettings {
        /// The frame type.
        kind: u8,
    },
    /// A frame longer than our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2).
    FrameTooLarge {
        /// Its length in bytes.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A frame whose length is wrong for its type (RFC 9113 §6).
    BadFrameLength {
        /// The frame type.
        kind: u8,
        /// Its length in bytes.
        len: u32,
    },
    /// A stream-level frame on stream 0, or a connection-level frame on another stream.
    BadStreamId {
        /// The frame type.
        kind: u8,
        /// The stream.
        stream: StreamId,
    },
    /// A frame on a stream we never opened (idle, even or beyond our last, RFC 9113 §5.1).
    IdleStream {
        /// The frame type.
        kind: u8,
        /// The stream.
        stream: StreamId,
    },
    /// Padding at least as long as the frame payload (RFC 9113 §6.1).
    BadPadding {
        /// The frame type.
        kind: u8,
        /// The stream.
        stream: StreamId,
    },
    /// A frame other than CONTINUATION for the open header block (RFC 9113 §6.10).
    ExpectedContinuation {
        /// The stream.
        stream: StreamId,
        /// The frame type.
        kind: u8,
        /// The stream of the frame that came instead.
        got_stream: StreamId,
    },
    /// A CONTINUATION with no header block open (RFC 9113 §6.10).
    UnexpectedContinuation {
        /// The stream.
        stream: StreamId,
    },
    /// A header block over [`Config::max_header_block`](super::Config::max_header_block) bytes.
    HeaderBlockTooLarge {
        /// The limit.
        max: usize,
    },
    /// HPACK decoding failed (RFC 9113 §4.3: COMPRESSION_ERROR).
    Hpack(HpackError),
    /// PUSH_PROMISE although we sent ENABLE_PUSH=0 (RFC 9113 §8.4).
    PushPromise,
    /// A SETTINGS value out of range (RFC 9113 §6.5.2).
    BadSetting {
        /// The setting identifier.
        id: u16,
        /// The value received.
        value: u32,
    },
    /// A SETTINGS ACK with a payload (RFC 9113 §6.5).
    SettingsAckWithPayload,
    /// A WINDOW_UPDATE with increment 0 on stream 0 (RFC 9113 §6.9).
    ZeroWindowIncrement,
    /// A window grew beyond 2^31-1 (RFC 9113 §6.9.1).
    WindowOverflow {
        /// The stream.
        stream: StreamId,
    },
    /// The server sent more DATA than the window we granted (RFC 9113 §6.9).
    FlowControlViolation {
        /// The stream.
        stream: StreamId,
        /// Its length in bytes.
        len: u32,
        /// The receive window that was left.
        window: u32,
    },
    /// The server made us queue too many control-frame replies (PING/SETTINGS ACK flood).
    ControlFlood,
    /// The server's SETTINGS (`server_settings` false), or its ACK of ours, did not arrive
    /// within [`Config::handshake_timeout`](super::Config::handshake_timeout) (RFC 9113 §6.5.3).
    HandshakeTimeout {
        /// Whether the server's SETTINGS had arrived.
        server_settings: bool,
    },
    /// Our PING was not acknowledged within its timeout: the peer is gone or wedged.
    PingTimeout,
}

/// What we asked of a connection that cannot serve it. Nothing is sent: the peer did nothing
/// wrong, so no GOAWAY is queued for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// The connection already failed or the call came after a connection error.
    Closed,
    /// [`Connection::send_request`](super::Connection::send_request) after a GOAWAY: no new streams on this connection.
    GoingAway,
    /// All 2^30 client stream identifiers are used (RFC 9113 §5.1.1).
    StreamIdsExhausted,
    /// The request header block does not fit in one frame of the server's MAX_FRAME_SIZE.
    RequestHeadersTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: u32,
    },
}

impl PeerError {
    /// The HTTP/2 error code of the GOAWAY sent for this error (RFC 9113 §7).
    pub fn code(&self) -> ErrorCode {
        use PeerError::*;
        match self {
            FrameTooLarge { .. } | BadFrameLength { .. } => ErrorCode::FrameSizeError,
            Hpack(_) => ErrorCode::CompressionError,
            BadSetting { id, .. } if *id == frame::setting::INITIAL_WINDOW_SIZE => {
                ErrorCode::FlowControlError
            }
            WindowOverflow { .. } | FlowControlViolation { .. } => ErrorCode::FlowControlError,
            HeaderBlockTooLarge { .. } | ControlFlood => ErrorCode::EnhanceYourCalm,
            HandshakeTimeout { .. } => ErrorCode::SettingsTimeout,
            // The peer is silent, not wrong: a plain close (h2's `Initiator::Library` with
            // NO_ERROR for a keepalive timeout).
            PingTimeout => ErrorCode::NoError,
            _ => ErrorCode::ProtocolError,
        }
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PeerError::*;
        match self {
            Http1Response => {
                f.write_str("the server answered in HTTP/1.x, not HTTP/2: it is not a gRPC server")
            }
            MissingServerSettings { kind } => {
                write!(f, "server's first frame is type {kind:#x}, not SETTINGS")
            }
            FrameTooLarge { len, max } => write!(f, "frame of {len} bytes exceeds maximum {max}"),
            BadFrameLength { kind, len } => {
                write!(f, "frame type {kind:#x} has invalid length {len}")
            }
            BadStreamId { kind, stream } => {
                write!(f, "frame type {kind:#x} not allowed on stream {stream}")
            }
            IdleStream { kind, stream } => {
                write!(f, "frame type {kind:#x} on idle stream {stream}")
            }
            BadPadding { kind, stream } => write!(
                f,
                "frame type {kind:#x} on stream {stream}: padding exceeds payload"
            ),
            ExpectedContinuation {
                stream,
                kind,
                got_stream,
            } => write!(
                f,
                "expected CONTINUATION for stream {stream}, got type {kind:#x} on stream {got_stream}"
            ),
            UnexpectedContinuation { stream } => {
                write!(
                    f,
                    "CONTINUATION on stream {stream} without an open header block"
                )
            }
            HeaderBlockTooLarge { max } => write!(f, "header block exceeds {max} bytes"),
            Hpack(e) => write!(f, "header block decoding failed: {e}"),
            PushPromise => f.write_str("PUSH_PROMISE received although push is disabled"),
            BadSetting { id, value } => write!(f, "invalid value {value} for setting {id:#x}"),
            SettingsAckWithPayload => f.write_str("SETTINGS ACK with a payload"),
            ZeroWindowIncrement => f.write_str("WINDOW_UPDATE with increment 0 on the connection"),
            WindowOverflow { stream } => {
                write!(f, "flow-control window of stream {stream} exceeds 2^31-1")
            }
            FlowControlViolation {
                stream,
                len,
                window,
            } => write!(
                f,
                "DATA of {len} bytes on stream {stream} exceeds the receive window of {window}"
            ),
            ControlFlood => f.write_str("too many unsent control frame replies queued"),
            HandshakeTimeout {
                server_settings: false,
            } => f.write_str("the server sent no HTTP/2 SETTINGS in time"),
            HandshakeTimeout {
                server_settings: true,
            } => f.write_str("the server did not acknowledge our HTTP/2 SETTINGS in time"),
            PingTimeout => f.write_str("the server did not answer a PING in time"),
        }
    }
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LocalError::*;
        match self {
            Closed => f.write_str("connection is closed"),
            GoingAway => f.write_str("connection is going away (GOAWAY received)"),
            StreamIdsExhausted => f.write_str("stream identifiers exhausted"),
            RequestHeadersTooLarge { len, max } => write!(
                f,
                "request header block of {len} bytes exceeds the peer's frame size {max}"
            ),
        }
    }
}

impl From<HpackError> for PeerError {
    fn from(e: HpackError) -> Self {
        PeerError::Hpack(e)
    }
}

impl core::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            PeerError::Hpack(e) => Some(e),
            _ => None,
        }
    }
}

impl core::error::Error for LocalError {}

/// Errors of the HTTP/2 layer: what the peer did ([`PeerError`], a GOAWAY is queued) or what
/// we asked that the connection cannot do ([`LocalError`], nothing sent), split as rustls
/// splits `PeerMisbehaved` from `ApiMisuse` and h2 tells its `Initiator`s apart.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol or went silent; the connection is dead.
    Peer(PeerError),
    /// A call the connection cannot serve; the connection is as it was.
    Local(LocalError),
}

impl Error {
    /// The code of the GOAWAY queued for this error; `None` for a [`LocalError`], which
    /// sends nothing.
    pub fn goaway_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Peer(e) => Some(e.code()),
            Error::Local(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Peer(e) => e.fmt(f),
            Error::Local(e) => e.fmt(f),
        }
    }
}

/// Transparent: the message is the inner error's, so the source is the inner error's source.
impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Peer(e) => e.source(),
            Error::Local(e) => e.source(),
        }
    }
}

impl From<PeerError> for Error {
    fn from(e: PeerError) -> Self {
        Error::Peer(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Error::Local(e)
    }
}
