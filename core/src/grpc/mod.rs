//! gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): length-prefixed messages, status codes,
//! `grpc-status`/`grpc-message` trailers, and the per-call response decoder [`Response`].

mod compression;
mod response;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use compression::{Encoding, InflateError};
pub use response::{Output, Response};

/// Length of the message prefix: compressed flag and big-endian u32 length.
pub const PREFIX_LEN: usize = 5;

/// Default bound on a received message, before and after decompression.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// gRPC status codes (grpc/doc/statuscodes.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `OK` (0).
    Ok = 0,
    /// `CANCELLED` (1).
    Cancelled = 1,
    /// `UNKNOWN` (2).
    Unknown = 2,
    /// `INVALID_ARGUMENT` (3).
    InvalidArgument = 3,
    /// `DEADLINE_EXCEEDED` (4).
    DeadlineExceeded = 4,
    /// `NOT_FOUND` (5).
    NotFound = 5,
    /// `ALREADY_EXISTS` (6).
    AlreadyExists = 6,
    /// `PERMISSION_DENIED` (7).
    PermissionDenied = 7,
    /// `RESOURCE_EXHAUSTED` (8).
    ResourceExhausted = 8,
    /// `FAILED_PRECONDITION` (9).
    FailedPrecondition = 9,
    /// `ABORTED` (10).
    Aborted = 10,
    /// `OUT_OF_RANGE` (11).
    OutOfRange = 11,
    /// `UNIMPLEMENTED` (12).
    Unimplemented = 12,
    /// `INTERNAL` (13).
    Internal = 13,
    /// `UNAVAILABLE` (14).
    Unavailable = 14,
    /// `DATA_LOSS` (15).
    DataLoss = 15,
    /// `UNAUTHENTICATED` (16).
    Unauthenticated = 16,
}

impl Code {
    /// The code for a numeric value; `None` outside 0..=16.
    pub fn from_u32(v: u32) -> Option<Code> {
        use Code::*;
        Some(match v {
            0 => Ok,
            1 => Cancelled,
            2 => Unknown,
            3 => InvalidArgument,
            4 => DeadlineExceeded,
            5 => NotFound,
            6 => AlreadyExists,
            7 => PermissionDenied,
            8 => ResourceExhausted,
            9 => FailedPrecondition,
            10 => Aborted,
            11 => OutOfRange,
            12 => Unimplemented,
            13 => Internal,
            14 => Unavailable,
            15 => DataLoss,
            16 => Unauthenticated,
            _ => return None,
        })
    }

    /// The canonical upper-case name, e.g. `PERMISSION_DENIED`.
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Ok => "OK",
            Cancelled => "CANCELLED",
            Unknown => "UNKNOWN",
            InvalidArgument => "INVALID_ARGUMENT",
            DeadlineExceeded => "DEADLINE_EXCEEDED",
            NotFound => "NOT_FOUND",
            AlreadyExists => "ALREADY_EXISTS",
            PermissionDenied => "PERMISSION_DENIED",
            ResourceExhausted => "RESOURCE_EXHAUSTED",
            FailedPrecondition => "FAILED_PRECONDITION",
            Aborted => "ABORTED",
            OutOfRange => "OUT_OF_RANGE",
            Unimplemented => "UNIMPLEMENTED",
            Internal => "INTERNAL",
            Unavailable => "UNAVAILABLE",
            DataLoss => "DATA_LOSS",
            Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// grpc-go's name of the code, as its errors print it (`rpc error: code = NotFound`):
    /// `codes.Code.String()`, `codes/code_string.go` in grpc-go v1.70.0.
    pub fn go_name(self) -> &'static str {
        use Code::*;
        match self {
            Ok => "OK",
            Cancelled => "Canceled",
            Unknown => "Unknown",
            InvalidArgument => "InvalidArgument",
            DeadlineExceeded => "DeadlineExceeded",
            NotFound => "NotFound",
            AlreadyExists => "AlreadyExists",
            PermissionDenied => "PermissionDenied",
            ResourceExhausted => "ResourceExhausted",
            FailedPrecondition => "FailedPrecondition",
            Aborted => "Aborted",
            OutOfRange => "OutOfRange",
            Unimplemented => "Unimplemented",
            Internal => "Internal",
            Unavailable => "Unavailable",
            DataLoss => "DataLoss",
            Unauthenticated => "Unauthenticated",
        }
    }

    /// The code grpc-go synthesizes for a non-gRPC HTTP response status (wire §3.3).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a call: a code and a (decoded) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The `grpc-status` code.
    pub code: Code,
    /// The decoded `grpc-message`.
    pub message: String,
}

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
        }
    }

    /// Whether the code is OK.
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }

    /// Reads `grpc-status` and `grpc-message` values: a malformed status (not a decimal
    /// number without sign, or outside 0..=16) is UNKNOWN, the message is percent-decoded.
    pub fn from_trailers(grpc_status: &[u8], grpc_message: Option<&[u8]>) -> Self {
        let message = grpc_message.map(percent_decode).unwrap_or_default();
        let code = core::str::from_utf8(grpc_status)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .and_then(Code::from_u32);
        match code {
            Some(code) => Status { code, message },
            None => Status::new(
                Code::Unknown,
                alloc::format!(
                    "malformed grpc-status {:?}: {message}",
                    String::from_utf8_lossy(grpc_status)
                ),
            ),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Appends one uncompressed length-prefixed message (flag 0, big-endian length).
pub fn encode_message(out: &mut Vec<u8>, message: &[u8]) {
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
}

/// Decodes a `grpc-message` value: each `%XX` (two hex digits) becomes that byte, malformed
/// sequences stay literal, then the bytes are read as UTF-8 lossily. Never fails.
pub fn percent_decode(value: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        let hex = value.get(i + 1..i + 3).and_then(|h| {
            let hi = char::from(h[0]).to_digit(16)?;
            let lo = char::from(h[1]).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        });
        match (b, hex) {
            (b'%', Some(byte)) => {
                bytes.push(byte);
                i += 3;
            }
            _ => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests;
