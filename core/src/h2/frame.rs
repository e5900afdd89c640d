//! HTTP/2 frame layer (RFC 9113 §4 and §6): the 9-byte frame header, frame type and flag
//! constants, and encoders for the frames this client sends.

use alloc::vec::Vec;

use super::{ErrorCode, StreamId};

/// Length of the frame header (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;
/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Initial flow-control window and SETTINGS_MAX_FRAME_SIZE default (RFC 9113 §6.5.2).
pub const DEFAULT_WINDOW: u32 = 65_535;
/// Default and minimum SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// Largest legal SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Largest flow-control window (RFC 9113 §6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;
/// Largest stream identifier: 31 bits, the high bit of the field reserved (RFC 9113 §4.1,
/// §5.1.1).
pub const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// Frame types (RFC 9113 §6).
pub mod kind {
    /// `DATA`.
    pub const DATA: u8 = 0x0;
    /// `HEADERS`.
    pub const HEADERS: u8 = 0x1;
    /// `PRIORITY`.
    pub const PRIORITY: u8 = 0x2;
    /// `RST_STREAM`.
    pub const RST_STREAM: u8 = 0x3;
    /// `SETTINGS`.
    pub const SETTINGS: u8 = 0x4;
    /// `PUSH_PROMISE`.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// `PING`.
    pub const PING: u8 = 0x6;
    /// `GOAWAY`.
    pub const GOAWAY: u8 = 0x7;
    /// `WINDOW_UPDATE`.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// `CONTINUATION`.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (RFC 9113 §6).
pub mod flag {
    /// `END_STREAM`.
    pub const END_STREAM: u8 = 0x1;
    /// `ACK`.
    pub const ACK: u8 = 0x1;
    /// `END_HEADERS`.
    pub const END_HEADERS: u8 = 0x4;
    /// `PADDED`.
    pub const PADDED: u8 = 0x8;
    /// `PRIORITY`.
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (RFC 9113 §6.5.2).
pub mod setting {
    /// `HEADER_TABLE_SIZE`.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// `ENABLE_PUSH`.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// `MAX_CONCURRENT_STREAMS`.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// `INITIAL_WINDOW_SIZE`.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// `MAX_FRAME_SIZE`.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// `MAX_HEADER_LIST_SIZE`.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// A parsed frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: u32,
    /// Frame type, see [`kind`].
    pub kind: u8,
    /// Flags, see [`flag`].
    pub flags: u8,
    /// Stream identifier with the reserved bit masked off.
    pub stream: StreamId,
}

impl Header {
    /// Parses the 9-byte frame header.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Self {
        Header {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_STREAM_ID,
        }
    }

    /// Whether `f` is set in the flags.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Appends a frame header; `len` must be below 2^24 (callers split at MAX_FRAME_SIZE).
pub fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: StreamId) {
    let len = (len as u32).to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & MAX_WINDOW).to_be_bytes());
}

/// Appends a SETTINGS frame carrying `settings` (RFC 9113 §6.5).
pub fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    write_header(out, settings.len() * 6, kind::SETTINGS, 0, 0);
    for (id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends an empty SETTINGS frame with the ACK flag (RFC 9113 §6.5.3).
pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends a PING ACK echoing `payload` (RFC 9113 §6.7).
pub fn write_ping_ack(out: &mut Vec<u8>, payload: &[u8; 8]) {
    write_header(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(payload);
}

/// Appends a PING (RFC 9113 §6.7) carrying `payload`.
pub fn write_ping(out: &mut Vec<u8>, payload: &[u8; 8]) {
    write_header(out, 8, kind::PING, 0, 0);
    out.extend_from_slice(payload);
}

/// Appends a WINDOW_UPDATE; `increment` must be in 1..=2^31-1 (RFC 9113 §6.9).
pub fn write_window_update(out: &mut Vec<u8>, stream: StreamId, increment: u32) {
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

/// Appends an RST_STREAM (RFC 9113 §6.4).
pub fn write_rst_stream(out: &mut Vec<u8>, stream: StreamId, code: ErrorCode) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// Appends a GOAWAY without debug data (RFC 9113 §6.8).
pub fn write_goaway(out: &mut Vec<u8>, last_stream: StreamId, code: ErrorCode) {
    write_header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// Reads a big-endian u32 at `at`, if the slice is long enough.
pub fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
