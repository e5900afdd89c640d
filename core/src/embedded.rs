//! A blocking driver for microcontrollers: one Workload API X.509 fetch over any
//! [`embedded_io::Read`] + [`embedded_io::Write`] transport (feature `embedded-io`).
//!
//! [`fetch_x509_svid`] runs a [`workload::Client`] to completion: it writes the connection
//! preface and a FetchX509SVID call, feeds what it reads to the client until the first
//! `X509SVIDResponse` arrives, cancels the watch and returns the message. Memory stays within
//! the [`ClientConfig`] limits (message size, HPACK table and header list, header block); the
//! only other buffer is the caller's read buffer. Time comes from a caller-supplied [`Clock`]
//! and bounds the whole fetch with one deadline.
//!
//! A blocking `read` cannot be interrupted, so the deadline is checked between reads: give
//! the transport a read timeout and report it as [`ErrorKind::TimedOut`] (or `Interrupted`),
//! and the driver checks the clock and reads again.
//!
//! [`workload::Client`]: crate::workload::Client

use alloc::vec::Vec;
use core::fmt;

use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::grpc::Status;
use crate::h2;
use crate::proto::X509svidResponse;
use crate::time::Instant;
use crate::workload::{Client, ClientConfig, Event};

/// A monotonic millisecond clock, supplied by the caller (a SysTick counter, an RTC, ...).
pub trait Clock {
    /// Milliseconds since an arbitrary fixed origin; never decreases.
    fn now_ms(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Clock for F {
    fn now_ms(&mut self) -> u64 {
        self()
    }
}

/// Why [`fetch_x509_svid`] returned no SVID. `E` is the transport's error type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FetchError<E> {
    /// The transport failed (other than a read timeout).
    Io(E),
    /// The transport reached end of file before a response arrived.
    Eof,
    /// The deadline passed.
    Timeout,
    /// The client refused to open the call, or the connection failed without closing it.
    /// (A connection failure normally ends the call: that is `Status` with UNAVAILABLE.)
    Connection(h2::Error),
    /// The call ended without a response: the agent's status (e.g. PERMISSION_DENIED, no
    /// identity issued yet), or UNAVAILABLE when the connection failed.
    Status(Status),
}

impl<E: fmt::Debug> fmt::Display for FetchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io(e) => write!(f, "transport error: {e:?}"),
            FetchError::Eof => f.write_str("the agent closed the connection"),
            FetchError::Timeout => f.write_str("no X.509-SVID before the deadline"),
            FetchError::Connection(e) => write!(f, "HTTP/2: {e}"),
            FetchError::Status(s) => write!(f, "call ended: {}: {}", s.code, s.message),
        }
    }
}

/// The connection's error is in the message, so its source is that error's source.
impl<E: fmt::Debug> core::error::Error for FetchError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            FetchError::Connection(e) => e.source(),
            _ => None,
        }
    }
}

/// Limits for a small heap: 64 KiB messages, an 8 KiB header list and header block, a 1 KiB
/// HPACK table, 16 KiB receive windows (what `examples/embedded` runs with in 48 KiB).
pub fn small_heap_config() -> ClientConfig {
    let mut config = ClientConfig {
        max_message_size: 64 << 10,
        ..ClientConfig::default()
    };
    config.h2.initial_window_size = 16 << 10;
    config.h2.header_table_size = 1024;
    config.h2.max_header_list_size = 8 << 10;
    config.h2.max_header_block = 8 << 10;
    config
}

/// Fetches one X.509-SVID response over `transport`, a fresh connection to the Workload API
/// (the agent's Unix socket, or a byte stream bridged to it). Gives up with
/// [`FetchError::Timeout`] once `clock` reaches `deadline_ms`. `read_buf` is the read
/// buffer (a few hundred bytes suffice; larger means fewer reads).
///
/// The response is returned as received: validate it with [`crate::x509::render`]. Before
/// returning, the watch is cancelled with RST_STREAM; the connection is not closed.
pub fn fetch_x509_svid<T: Read + Write>(
    transport: &mut T,
    clock: &mut impl Clock,
    deadline_ms: u64,
    config: ClientConfig,
    read_buf: &mut [u8],
) -> Result<X509svidResponse, FetchError<T::Error>> {
    let mut client = Client::new(config, Instant::from_millis(clock.now_ms()));
    let stream = client.fetch_x509_svid().map_err(FetchError::Connection)?;
    let mut out = Vec::new();
    loop {
        flush(&mut client, transport, &mut out)?;
        if clock.now_ms() >= deadline_ms {
            return Err(FetchError::Timeout);
        }
        let n = match transport.read(read_buf) {
            Ok(0) => return Err(FetchError::Eof),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => continue,
            Err(e) => return Err(FetchError::Io(e)),
        };
        // The connection's own deadlines (handshake, PING ACK) run on the same clock.
        let received = client
            .recv(&read_buf[..n])
            .and_then(|()| client.handle_timeout(Instant::from_millis(clock.now_ms())));
        while let Some(event) = client.poll_event() {
            match event {
                Event::X509Svid {
                    stream: s,
                    response,
                } if s == stream => {
                    client.cancel(stream);
                    flush(&mut client, transport, &mut out)?;
                    return Ok(response);
                }
                Event::Closed { stream: s, status } if s == stream => {
                    flush(&mut client, transport, &mut out)?;
                    return Err(FetchError::Status(status));
                }
                // go-spiffe keeps reading after an undecodable message; so do we.
                _ => {}
            }
        }
        if let Err(e) = received {
            flush(&mut client, transport, &mut out)?;
            return Err(FetchError::Connection(e));
        }
    }
}

/// Writes everything the client has queued.
fn flush<T: Write>(
    client: &mut Client,
    transport: &mut T,
    out: &mut Vec<u8>,
) -> Result<(), FetchError<T::Error>> {
    out.clear();
    client.poll_transmit(out);
    if !out.is_empty() {
        transport.write_all(out).map_err(FetchError::Io)?;
        transport.flush().map_err(FetchError::Io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloc::collections::VecDeque;
    use alloc::vec;

    use super::*;
    use crate::grpc::Code;
    use crate::h2::frame::{self, kind};
    use crate::h2::testutil::{frame, parse_frames};
    use crate::x509::{RenderOptions, render};

    const GO_SERVER: &[u8] = include_bytes!("testdata/h2/grpc-go.server.bin");

    /// A transport that returns scripted reads and records every write.
    #[derive(Default)]
    struct Scripted {
        reads: VecDeque<Result<Vec<u8>, ErrorKind>>,
        written: Vec<u8>,
    }

    impl embedded_io::ErrorType for Scripted {
        type Error = ErrorKind;
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let Some(next) = self.reads.front_mut() else {
                return Ok(0);
            };
            let chunk = next.as_mut().map_err(|e| *e)?;
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.reads.pop_front();
            }
            Ok(n)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    /// A clock that advances 10 ms on every reading.
    fn ticking() -> impl FnMut() -> u64 {
        let mut now = 0;
        move || {
            now += 10;
            now
        }
    }

    /// The grpc-go transcript's frames on the connection and on stream 1 (the X.509 watch).
    fn go_x509_watch() -> Vec<u8> {
        parse_frames(GO_SERVER)
            .iter()
            .filter(|(h, _)| h.stream <= 1)
            .flat_map(|(h, payload)| frame(h.kind, h.flags, h.stream, payload))
            .collect()
    }

    #[test]
    fn fetches_the_first_svid_of_a_recorded_grpc_go_connection_and_cancels() {
        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(go_x509_watch()));
        let mut buf = [0u8; 97];
        let response = fetch_x509_svid(
            &mut transport,
            &mut ticking(),
            1_000,
            ClientConfig::default(),
            &mut buf,
        )
        .unwrap();
        let rendered = render(&response, &RenderOptions::default(), 0).unwrap();
        assert_eq!(rendered.spiffe_id, "spiffe://example.org/workload");
        // Preface and SETTINGS, one request, and the RST_STREAM(CANCEL) of the watch last.
        assert!(transport.written.starts_with(frame::PREFACE));
        let frames = parse_frames(&transport.written);
        let headers: Vec<_> = frames
            .iter()
            .filter(|(h, _)| h.kind == kind::HEADERS)
            .collect();
        assert_eq!(headers.len(), 1);
        let (last, payload) = frames.last().unwrap();
        assert_eq!((last.kind, last.stream), (kind::RST_STREAM, 1));
        assert_eq!(payload, &8u32.to_be_bytes());
        // It stopped reading at the first response: the rotations are left unread.
        assert!(!transport.reads.is_empty());
    }

    #[test]
    fn read_timeouts_are_retried_until_the_deadline() {
        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(GO_SERVER[..100].to_vec()));
        transport
            .reads
            .extend((0..1000).map(|_| Err(ErrorKind::TimedOut)));
        let mut now = 0;
        let mut clock = || {
            now += 10;
            now
        };
        let result = fetch_x509_svid(
            &mut transport,
            &mut clock,
            500,
            ClientConfig::default(),
            &mut [0; 64],
        );
        assert_eq!(result, Err(FetchError::Timeout));
        assert_eq!(now, 500);
    }

    #[test]
    fn other_transport_errors_and_eof_end_the_fetch() {
        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(GO_SERVER[..100].to_vec()));
        transport.reads.push_back(Err(ErrorKind::ConnectionReset));
        let config = ClientConfig::default();
        let result = fetch_x509_svid(&mut transport, &mut ticking(), 1_000, config, &mut [0; 64]);
        assert_eq!(result, Err(FetchError::Io(ErrorKind::ConnectionReset)));

        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(GO_SERVER[..100].to_vec()));
        let result = fetch_x509_svid(&mut transport, &mut ticking(), 1_000, config, &mut [0; 64]);
        assert_eq!(result, Err(FetchError::Eof));
    }

    #[test]
    fn a_call_ended_by_the_agent_returns_its_status() {
        let mut server = frame(kind::SETTINGS, 0, 0, &[]);
        // Trailers-only: :status 200, content-type application/grpc, grpc-status 7.
        let mut block = Vec::new();
        crate::hpack::encode_field(&mut block, b":status", b"200");
        crate::hpack::encode_field(&mut block, b"content-type", b"application/grpc");
        crate::hpack::encode_field(&mut block, b"grpc-status", b"7");
        crate::hpack::encode_field(&mut block, b"grpc-message", b"no identity issued");
        server.extend(frame(kind::HEADERS, 0x05, 1, &block));
        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(server));
        let result = fetch_x509_svid(
            &mut transport,
            &mut ticking(),
            1_000,
            ClientConfig::default(),
            &mut vec![0; 512],
        );
        let Err(FetchError::Status(status)) = result else {
            panic!("{result:?}");
        };
        assert_eq!(status.code, Code::PermissionDenied);
        assert_eq!(status.message, "no identity issued");
    }

    #[test]
    fn a_protocol_error_fails_the_call_as_unavailable() {
        // A DATA frame before the server's SETTINGS is a connection error.
        let mut transport = Scripted::default();
        transport.reads.push_back(Ok(frame(kind::DATA, 0, 1, b"x")));
        let result = fetch_x509_svid(
            &mut transport,
            &mut ticking(),
            1_000,
            ClientConfig::default(),
            &mut [0; 64],
        );
        let Err(FetchError::Status(status)) = result else {
            panic!("{result:?}");
        };
        assert_eq!(status.code, Code::Unavailable);
        // The GOAWAY was written before giving up.
        let frames = parse_frames(&transport.written);
        assert_eq!(frames.last().unwrap().0.kind, kind::GOAWAY);
    }
}
