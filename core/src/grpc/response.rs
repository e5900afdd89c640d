//! The decoder for one call's response: fed the stream's HTTP/2 events, it yields the
//! response messages and then the final [`Status`] (grpc/doc/PROTOCOL-HTTP2.md, wire §2.4, §3).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::compression::{self, Encoding, InflateError};
use super::{Code, PREFIX_LEN, Status};
use crate::Bytes;
use crate::h2::ErrorCode;
use crate::hpack::Field;

/// What a [`Response`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a caller that drops an output loses a message or the call's end: every one must be handled"
)]
pub enum Output {
    /// One complete, decompressed message.
    Message(Bytes),
    /// The call is over; nothing follows.
    Finished(Status),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// No (final) response headers yet.
    AwaitHeaders,
    /// Headers seen; messages and trailers follow.
    Body,
    Finished,
}

/// The response side of one call. Feed it the stream's events with
/// [`Response::recv_headers`], [`Response::recv_data`] and [`Response::recv_reset`]; drain
/// [`Response::poll`]. When it finishes before the server ended the stream (oversized or
/// malformed message, non-gRPC response), the caller cancels the stream.
#[derive(Debug)]
pub struct Response {
    max_message_size: usize,
    state: State,
    /// `grpc-encoding` of the response: `None` if absent, `Err(name)` if unsupported.
    encoding: Option<Result<Encoding, Vec<u8>>>,
    /// The message being reassembled, prefix included; at most 5 + `max_message_size` bytes.
    buf: Vec<u8>,
    outputs: VecDeque<Output>,
}

impl Response {
    /// A decoder that refuses messages over `max_message_size` bytes (before and after
    /// decompression) with RESOURCE_EXHAUSTED.
    pub fn new(max_message_size: usize) -> Self {
        Response {
            max_message_size,
            state: State::AwaitHeaders,
            encoding: None,
            buf: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The next message or the final status.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Whether the final status has been produced (it may still wait in [`Response::poll`]).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// A decoded header block: response headers, trailers, or a trailers-only response.
    pub fn recv_headers(&mut self, fields: &[Field], end_stream: bool) {
        match self.state {
            State::Finished => {}
            State::AwaitHeaders => self.on_response_headers(fields, end_stream),
            State::Body if !end_stream => self.finish(Status::new(
                Code::Internal,
                "a HEADERS frame cannot appear in the middle of a stream",
            )),
            State::Body if !self.buf.is_empty() => self.finish_partial(),
            State::Body => {
                let status = match find(fields, b"grpc-status") {
                    Some(s) => Status::from_trailers(s, find(fields, b"grpc-message")),
                    None => Status::new(Code::Unknown, "trailers without grpc-status"),
                };
                self.finish(status);
            }
        }
    }

    fn on_response_headers(&mut self, fields: &[Field], end_stream: bool) {
        let http = find(fields, b":status")
            .and_then(|s| core::str::from_utf8(s).ok())
            .filter(|s| s.len() == 3)
            .and_then(|s| s.parse::<u16>().ok());
        let Some(http) = http else {
            return self.finish(Status::new(Code::Internal, "missing or malformed :status"));
        };
        if (100..200).contains(&http) {
            if end_stream {
                self.finish(Status::new(
                    Code::Internal,
                    format!("informational HTTP status {http} ended the stream"),
                ));
            }
            return;
        }
        let content_type = find(fields, b"content-type").unwrap_or_default();
        let grpc = is_grpc_content_type(content_type);
        let grpc_status = find(fields, b"grpc-status");
        if end_stream {
            let status = match grpc_status {
                Some(s) => Status::from_trailers(s, find(fields, b"grpc-message")),
                None if grpc && http == 200 => {
                    Status::new(Code::Unknown, "response ended without grpc-status")
                }
                None => http_status(http, content_type),
            };
            return self.finish(status);
        }
        if !grpc || http != 200 {
            return self.finish(http_status(http, content_type));
        }
        self.encoding =
            find(fields, b"grpc-encoding").map(|e| Encoding::from_name(e).ok_or(e.to_vec()));
        self.state = State::Body;
    }

    /// DATA payload of the stream (any split of the message stream).
    pub fn recv_data(&mut self, mut data: &[u8], end_stream: bool) {
        match self.state {
            State::Finished => return,
            State::AwaitHeaders => {
                return self.finish(Status::new(Code::Internal, "DATA before response headers"));
            }
            State::Body => {}
        }
        loop {
            let want = match self.buf.get(..PREFIX_LEN) {
                None => PREFIX_LEN - self.buf.len(),
                Some(prefix) => {
                    let flag = prefix[0];
                    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
                    if let Err(status) = self.check_prefix(flag, len) {
                        return self.finish(status);
                    }
                    let total = PREFIX_LEN + len as usize;
                    if self.buf.len() == PREFIX_LEN {
                        // Sized once (the length is within the limit): no regrowth and no
                        // spare capacity, whatever the size.
                        self.buf.reserve_exact(total - PREFIX_LEN);
                    }
                    if self.buf.len() == total {
                        if let Err(status) = self.complete_message(flag) {
                            return self.finish(status);
                        }
                        continue;
                    }
                    total - self.buf.len()
                }
            };
            let take = want.min(data.len());
            if take == 0 {
                break;
            }
            let (head, rest) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = rest;
        }
        if end_stream {
            if self.buf.is_empty() {
                self.finish(Status::new(
                    Code::Internal,
                    "server closed the stream without sending trailers",
                ));
            } else {
                self.finish_partial();
            }
        }
    }

    fn check_prefix(&self, flag: u8, len: u32) -> Result<(), Status> {
        if flag > 1 {
            return Err(Status::new(
                Code::Internal,
                format!("invalid message compressed flag {flag}"),
            ));
        }
        if len as usize > self.max_message_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "received message larger than max ({len} vs. {})",
                    self.max_message_size
                ),
            ));
        }
        Ok(())
    }

    fn complete_message(&mut self, flag: u8) -> Result<(), Status> {
        // The prefix is sliced off, not moved out: the message is the buffer it arrived in.
        let mut message = Bytes::from(core::mem::take(&mut self.buf)).slice(PREFIX_LEN..);
        if flag == 1 {
            message = self.inflate(&message)?.into();
        }
        self.outputs.push_back(Output::Message(message));
        Ok(())
    }

    fn inflate(&self, message: &[u8]) -> Result<Vec<u8>, Status> {
        let encoding = match &self.encoding {
            None | Some(Ok(Encoding::Identity)) => {
                return Err(Status::new(
                    Code::Internal,
                    "compressed flag set without grpc-encoding",
                ));
            }
            Some(Err(name)) => {
                return Err(Status::new(
                    Code::Unimplemented,
                    format!(
                        "decompressor is not installed for grpc-encoding {:?}",
                        String::from_utf8_lossy(name)
                    ),
                ));
            }
            Some(Ok(encoding)) => *encoding,
        };
        compression::inflate(encoding, message, self.max_message_size).map_err(|e| match e {
            InflateError::TooLarge { .. } => Status::new(
                Code::ResourceExhausted,
                format!(
                    "decompressed message larger than max ({})",
                    self.max_message_size
                ),
            ),
            e => Status::new(Code::Internal, format!("failed to decompress message: {e}")),
        })
    }

    /// The stream was reset, by the server or (`by_server` false) by our connection after
    /// a stream error (gRPC PROTOCOL-HTTP2.md "Errors"). After trailers, their status stands.
    pub fn recv_reset(&mut self, code: ErrorCode, by_server: bool) {
        if self.state == State::Finished {
            return;
        }
        let status = match code {
            ErrorCode::RefusedStream => Code::Unavailable,
            ErrorCode::Cancel => Code::Cancelled,
            ErrorCode::EnhanceYourCalm => Code::ResourceExhausted,
            _ => Code::Internal,
        };
        let by = if by_server {
            "by server"
        } else {
            "after a stream error"
        };
        self.finish(Status::new(status, format!("stream reset {by}: {code}")));
    }

    fn finish_partial(&mut self) {
        let len = self.buf.len();
        self.finish(Status::new(
            Code::Internal,
            format!("stream ended with a partial message ({len} bytes)"),
        ));
    }

    fn finish(&mut self, status: Status) {
        self.state = State::Finished;
        self.buf = Vec::new();
        self.outputs.push_back(Output::Finished(status));
    }
}

/// The first value of the header `name`.
fn find<'a>(fields: &'a [Field], name: &[u8]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_slice())
}

/// `application/grpc`, optionally followed by `+codec` or `;params` (PROTOCOL-HTTP2.md).
fn is_grpc_content_type(value: &[u8]) -> bool {
    match value.strip_prefix(b"application/grpc") {
        Some(rest) => matches!(rest.first(), None | Some(b'+') | Some(b';')),
        None => false,
    }
}

/// The status grpc-go synthesizes for a non-gRPC response.
fn http_status(http: u16, content_type: &[u8]) -> Status {
    Status::new(
        Code::from_http_status(http),
        format!(
            "unexpected HTTP response: status {http}, content-type {:?}",
            String::from_utf8_lossy(content_type)
        ),
    )
}
