//! The SPIFFE Workload API client the daemon drives: FetchX509SVID, FetchJWTBundles and
//! FetchJWTSVID calls over one [`h2::Connection`], with [`grpc::Response`] decoding and the
//! svid-proto messages. Sans-I/O: feed received bytes, drain bytes to send, drain events.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use prost::Message;
use svid_proto::{
    JwtBundlesRequest, JwtBundlesResponse, JwtsvidRequest, JwtsvidResponse, X509svidRequest,
    X509svidResponse, path,
};

#[cfg(feature = "verify")]
mod backoff;
#[cfg(feature = "verify")]
mod session;

#[cfg(feature = "verify")]
pub use session::{
    Action, EXIT_CONFIG, EXIT_HOOK, EXIT_OK, EXIT_OUTPUT, EXIT_REFUSED, EXIT_UNREACHABLE, Exit,
    Failure, Fatal, HookOptions, JwtRejection, JwtSvidOptions, KILL_WAIT, Notify, NotifyConfig,
    ProcessStatus, READY_GRACE, Remedy, Report, SHUTDOWN_GRACE, Session, SessionConfig,
    Subscription, X509Options,
};

use crate::grpc::{self, Code, Output, Status};
use crate::h2::{self, ErrorCode, StreamId};
use crate::time::Instant;

/// Settings of a [`Client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The `user-agent` request header.
    pub user_agent: &'static str,
    /// Largest response message accepted, before and after decompression.
    pub max_message_size: usize,
    /// HTTP/2 limits and windows.
    pub h2: h2::Config,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user_agent: concat!("spiffe-helper-rs/", env!("CARGO_PKG_VERSION")),
            max_message_size: grpc::DEFAULT_MAX_MESSAGE_SIZE,
            h2: h2::Config::default(),
        }
    }
}

/// What the client reports.
#[derive(Clone, Debug, PartialEq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a user that drops an event loses a message or a call's end: every one must be handled"
)]
pub enum Event {
    /// A message on a FetchX509SVID stream: a complete snapshot of the workload's SVIDs.
    X509Svid {
        /// The stream.
        stream: StreamId,
        /// The decoded message.
        response: X509svidResponse,
    },
    /// A message on a FetchJWTBundles stream: every JWT bundle (JWKS JSON per trust domain).
    JwtBundles {
        /// The stream.
        stream: StreamId,
        /// The decoded message.
        response: JwtBundlesResponse,
    },
    /// The single response of a FetchJWTSVID call; a `Closed` with OK follows.
    JwtSvid {
        /// The stream.
        stream: StreamId,
        /// The decoded message.
        response: JwtsvidResponse,
    },
    /// A message that failed to decode; the stream stays open (go-spiffe keeps reading).
    BadMessage {
        /// The stream.
        stream: StreamId,
        /// The decoding error.
        error: DecodeError,
    },
    /// The call ended (trailers, trailers-only, RST_STREAM, GOAWAY past last_stream, or a
    /// connection error). Not reported for calls ended with [`Client::cancel`].
    Closed {
        /// The stream.
        stream: StreamId,
        /// How the call ended.
        status: Status,
    },
}

/// A response message that is not a valid protobuf encoding of its type. prost's error stays
/// inside, so prost is not part of this crate's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(prost::DecodeError);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed response message: {}", self.0)
    }
}

impl core::error::Error for DecodeError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    X509Svid,
    JwtBundles,
    JwtSvid,
}

#[derive(Debug)]
struct Call {
    kind: Kind,
    response: grpc::Response,
    /// Messages received (for the unary cardinality check).
    messages: usize,
    /// The unary FetchJWTSVID result, held until the OK trailers.
    unary: Option<Result<JwtsvidResponse, prost::DecodeError>>,
    /// DATA bytes received and not yet credited back to the server: credit is returned once
    /// every event they produced has been polled, so a server that outpaces its reader is
    /// held to one stream window of unread messages.
    held: u32,
}

/// A Workload API client on one HTTP/2 connection.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    conn: h2::Connection,
    calls: BTreeMap<StreamId, Call>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client whose connection preface and SETTINGS are already queued for sending; `now`
    /// starts the connection's handshake and keepalive clocks.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Client {
            conn: h2::Connection::new(config.h2, now),
            config,
            calls: BTreeMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Opens a FetchX509SVID watch; each update arrives as [`Event::X509Svid`].
    pub fn fetch_x509_svid(&mut self) -> Result<StreamId, h2::Error> {
        self.call(
            Kind::X509Svid,
            path::FETCH_X509_SVID,
            &X509svidRequest {}.encode_to_vec(),
        )
    }

    /// Opens a FetchJWTBundles watch; each update arrives as [`Event::JwtBundles`].
    pub fn fetch_jwt_bundles(&mut self) -> Result<StreamId, h2::Error> {
        self.call(
            Kind::JwtBundles,
            path::FETCH_JWT_BUNDLES,
            &JwtBundlesRequest {}.encode_to_vec(),
        )
    }

    /// Calls FetchJWTSVID (unary) for `audience` and, if not empty, `spiffe_id`.
    pub fn fetch_jwt_svid(
        &mut self,
        audience: &[&str],
        spiffe_id: &str,
    ) -> Result<StreamId, h2::Error> {
        let request = JwtsvidRequest {
            audience: audience.iter().map(|a| a.to_string()).collect(),
            spiffe_id: String::from(spiffe_id),
        };
        self.call(
            Kind::JwtSvid,
            path::FETCH_JWT_SVID,
            &request.encode_to_vec(),
        )
    }

    /// RST_STREAM(CANCEL): ends a watch or a one-shot fetch. No event follows for it.
    pub fn cancel(&mut self, stream: StreamId) {
        if self.calls.remove(&stream).is_some() {
            self.conn.reset_stream(stream, ErrorCode::Cancel);
        }
    }

    /// Feeds bytes read from the socket. Err: the connection is dead (a GOAWAY is queued to
    /// flush); every open call has been closed with UNAVAILABLE.
    pub fn recv(&mut self, bytes: &[u8]) -> Result<(), h2::Error> {
        let result = self.conn.recv(bytes);
        while let Some(event) = self.conn.poll_event() {
            self.on_h2_event(event);
        }
        self.release_if_drained();
        result.map_err(|e| self.connection_failed(e))
    }

    /// When [`Client::handle_timeout`] next has work (see [`h2::Connection::poll_timeout`]).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// Advances the connection's timers. Err: the connection is dead (handshake or PING
    /// overdue); every open call has been closed with UNAVAILABLE, as for [`Client::recv`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), h2::Error> {
        self.conn
            .handle_timeout(now)
            .map_err(|e| self.connection_failed(e))
    }

    /// Probes the connection with a PING that must be answered within `timeout` (see
    /// [`h2::Connection::ping`]); false if the PING rate limit forbids one now.
    pub fn ping(&mut self, now: Instant, timeout: core::time::Duration) -> bool {
        self.conn.ping(now, timeout)
    }

    /// Whether the server's stream limit allows another call now.
    pub fn can_open_call(&self) -> bool {
        !self.conn.is_going_away() && self.conn.can_open_stream()
    }

    /// Appends every queued outgoing byte to `out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        self.conn.poll_transmit(out);
    }

    /// The next event, if any. Draining the events returns flow-control credit.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        self.release_if_drained();
        event
    }

    /// Once every event has been taken, the bytes behind them are credited back.
    fn release_if_drained(&mut self) {
        if !self.events.is_empty() {
            return;
        }
        for (&stream, call) in self.calls.iter_mut() {
            if call.held > 0 {
                self.conn
                    .release_capacity(stream, core::mem::take(&mut call.held));
            }
        }
    }

    fn connection_failed(&mut self, e: h2::Error) -> h2::Error {
        let status = Status::new(Code::Unavailable, format!("connection error: {e}"));
        self.close_all(|_| true, &status);
        e
    }

    /// Whether the connection takes no new calls (GOAWAY received or connection failed).
    pub fn is_going_away(&self) -> bool {
        self.conn.is_going_away()
    }

    /// Request headers in the order of wire §2.3, then one message and END_STREAM.
    fn call(&mut self, kind: Kind, path: &str, message: &[u8]) -> Result<StreamId, h2::Error> {
        let fields: [(&[u8], &[u8]); 9] = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.as_bytes()),
            (b":authority", b"localhost"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"user-agent", self.config.user_agent.as_bytes()),
            (b"grpc-accept-encoding", b"gzip, deflate"),
            (b"workload.spiffe.io", b"true"),
        ];
        let mut body = Vec::with_capacity(grpc::PREFIX_LEN + message.len());
        grpc::encode_message(&mut body, message);
        let stream = self.conn.send_request(&fields, &body)?;
        self.calls.insert(
            stream,
            Call {
                kind,
                response: grpc::Response::new(self.config.max_message_size),
                messages: 0,
                unary: None,
                held: 0,
            },
        );
        Ok(stream)
    }

    fn on_h2_event(&mut self, event: h2::Event) {
        match event {
            h2::Event::Headers {
                stream,
                fields,
                end_stream,
            } => {
                if let Some(call) = self.calls.get_mut(&stream) {
                    call.response.recv_headers(&fields, end_stream);
                    self.pump(stream, end_stream);
                }
            }
            h2::Event::Data {
                stream,
                data,
                end_stream,
            } => {
                if let Some(call) = self.calls.get_mut(&stream) {
                    call.held = call.held.saturating_add(data.len() as u32);
                    call.response.recv_data(&data, end_stream);
                    self.pump(stream, end_stream);
                }
            }
            h2::Event::Reset {
                stream,
                code,
                by_server,
            } => {
                if let Some(call) = self.calls.get_mut(&stream) {
                    call.response.recv_reset(code, by_server);
                    self.pump(stream, true);
                }
            }
            h2::Event::GoAway {
                last_stream,
                code,
                debug,
            } => {
                let status = Status::new(
                    Code::Unavailable,
                    format!(
                        "connection going away (GOAWAY {code}: {})",
                        String::from_utf8_lossy(&debug)
                    ),
                );
                self.close_all(|id| id > last_stream, &status);
            }
        }
    }

    /// Turns the call's decoder output into events. `peer_ended`: the server has ended the
    /// stream, so a call that finishes early need not be cancelled.
    fn pump(&mut self, stream: StreamId, peer_ended: bool) {
        let Some(call) = self.calls.get_mut(&stream) else {
            return;
        };
        let mut finished = None;
        while let Some(output) = call.response.poll() {
            match output {
                Output::Message(bytes) => {
                    call.messages += 1;
                    match call.kind {
                        // Decoded from the buffer the message arrived in: the
                        // certificates and keys are slices of it, not copies.
                        Kind::X509Svid => {
                            self.events
                                .push_back(match X509svidResponse::decode(bytes) {
                                    Ok(response) => Event::X509Svid { stream, response },
                                    Err(e) => bad_message(stream, e),
                                })
                        }
                        Kind::JwtBundles => {
                            self.events
                                .push_back(match JwtBundlesResponse::decode(&bytes[..]) {
                                    Ok(response) => Event::JwtBundles { stream, response },
                                    Err(e) => bad_message(stream, e),
                                })
                        }
                        Kind::JwtSvid if call.messages > 1 => {
                            finished = Some(Status::new(
                                Code::Internal,
                                "cardinality violation: received multiple response messages \
                                 for a unary call",
                            ));
                            break;
                        }
                        Kind::JwtSvid => {
                            call.unary = Some(JwtsvidResponse::decode(&bytes[..]));
                        }
                    }
                }
                Output::Finished(status) => {
                    finished = Some(status);
                    break;
                }
            }
        }
        let Some(mut status) = finished else {
            return;
        };
        if call.kind == Kind::JwtSvid && status.is_ok() {
            match call.unary.take() {
                Some(Ok(response)) => self.events.push_back(Event::JwtSvid { stream, response }),
                Some(Err(e)) => {
                    status =
                        Status::new(Code::Internal, format!("malformed response message: {e}"));
                }
                None => {
                    status = Status::new(
                        Code::Internal,
                        "cardinality violation: received no response message for a unary call",
                    );
                }
            }
        }
        let early = !peer_ended || !call.response.is_finished();
        self.calls.remove(&stream);
        if early {
            self.conn.reset_stream(stream, ErrorCode::Cancel);
        }
        self.events.push_back(Event::Closed { stream, status });
    }

    /// Closes every call whose stream matches `which` with `status`.
    fn close_all(&mut self, which: impl Fn(StreamId) -> bool, status: &Status) {
        let closing: Vec<StreamId> = self.calls.keys().copied().filter(|&s| which(s)).collect();
        for stream in closing {
            self.calls.remove(&stream);
            self.events.push_back(Event::Closed {
                stream,
                status: status.clone(),
            });
        }
    }
}

fn bad_message(stream: StreamId, e: prost::DecodeError) -> Event {
    Event::BadMessage {
        stream,
        error: DecodeError(e),
    }
}

#[cfg(test)]
mod tests;
