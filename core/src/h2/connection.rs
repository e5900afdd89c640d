//! The HTTP/2 client connection state machine: its state, the public API, frame splitting
//! and the send side (request frames, send flow control). Frame handlers are in `receive`.

mod receive;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::frame::{self, Header, flag, kind, setting};
use super::{Config, Error, ErrorCode, Event, LocalError, MIN_PING_INTERVAL, PeerError, StreamId};
use crate::hpack::{self, Decoder};
use crate::time::{Instant, earliest};

/// Bound on queued, unsent SETTINGS and PING ACKs: a peer flooding them is cut off.
const MAX_CONTROL_QUEUE: usize = 16 << 10;

/// Send-side state of one stream we opened.
#[derive(Debug)]
struct Stream {
    /// The server's window for our DATA; may go negative after a SETTINGS change (§6.9.2).
    send_window: i64,
    /// How much more DATA we allow the server to send on this stream.
    recv_window: u32,
    /// Bytes released by the user ([`Connection::release_capacity`]) and not yet credited
    /// back with WINDOW_UPDATE.
    recv_unacked: u32,
    /// Request body not yet sent, from `body_sent` on.
    body: Vec<u8>,
    body_sent: usize,
    /// Whether our END_STREAM has been queued.
    local_closed: bool,
}

/// A header block spread over HEADERS and CONTINUATION frames (RFC 9113 §6.10).
#[derive(Debug)]
struct PendingBlock {
    stream: StreamId,
    end_stream: bool,
    block: Vec<u8>,
}

/// An HTTP/2 client connection (prior-knowledge h2c), sans-I/O.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    decoder: Decoder,
    /// Bytes received and not yet parsed into a complete frame.
    inbuf: Vec<u8>,
    /// Preface, our SETTINGS, SETTINGS and PING ACKs: sent before `out`.
    control: Vec<u8>,
    /// HEADERS, DATA, WINDOW_UPDATE, RST_STREAM and GOAWAY frames, in order.
    out: Vec<u8>,
    events: VecDeque<Event>,
    streams: BTreeMap<StreamId, Stream>,
    next_stream: StreamId,
    pending_block: Option<PendingBlock>,
    seen_settings: bool,
    peer_max_frame: u32,
    peer_initial_window: u32,
    conn_send_window: i64,
    conn_recv_window: u32,
    conn_recv_unacked: u32,
    /// Stream-level receive window granted by our SETTINGS.
    stream_window: u32,
    going_away: Option<StreamId>,
    failed: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS from the server (unlimited until it says).
    peer_max_streams: u32,
    /// Whether the server acknowledged our SETTINGS.
    settings_acked: bool,
    /// Until the handshake completes: when it is too late (RFC 9113 §6.5.3).
    handshake_deadline: Option<Instant>,
    /// When the next keepalive PING is due, if a stream is open then.
    next_keepalive: Instant,
    /// When our last PING was sent.
    last_ping: Option<Instant>,
    /// The payload and ACK deadline of our PING in flight.
    ping_in_flight: Option<([u8; 8], Instant)>,
    pings_sent: u64,
}

impl Connection {
    /// Queues the preface, our SETTINGS (ENABLE_PUSH=0, INITIAL_WINDOW_SIZE,
    /// MAX_HEADER_LIST_SIZE, and HEADER_TABLE_SIZE when not the default 4096) and a connection
    /// WINDOW_UPDATE raising the connection receive window (RFC 9113 §3.4, §6.9.2). `now`
    /// starts the handshake and keepalive clocks.
    pub fn new(config: Config, now: Instant) -> Self {
        let stream_window = config.initial_window_size.min(frame::MAX_WINDOW);
        let conn_window = stream_window.max(frame::DEFAULT_WINDOW);
        let mut control = Vec::with_capacity(64);
        control.extend_from_slice(frame::PREFACE);
        let mut settings = Vec::with_capacity(4);
        if config.header_table_size != 4096 {
            settings.push((setting::HEADER_TABLE_SIZE, config.header_table_size));
        }
        settings.push((setting::ENABLE_PUSH, 0));
        settings.push((setting::INITIAL_WINDOW_SIZE, stream_window));
        settings.push((setting::MAX_HEADER_LIST_SIZE, config.max_header_list_size));
        frame::write_settings(&mut control, &settings);
        if conn_window > frame::DEFAULT_WINDOW {
            frame::write_window_update(&mut control, 0, conn_window - frame::DEFAULT_WINDOW);
        }
        Connection {
            decoder: Decoder::new(
                config.header_table_size as usize,
                config.max_header_list_size as usize,
            ),
            config,
            inbuf: Vec::new(),
            control,
            out: Vec::new(),
            events: VecDeque::new(),
            streams: BTreeMap::new(),
            next_stream: 1,
            pending_block: None,
            seen_settings: false,
            peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
            peer_initial_window: frame::DEFAULT_WINDOW,
            conn_send_window: i64::from(frame::DEFAULT_WINDOW),
            conn_recv_window: conn_window,
            conn_recv_unacked: 0,
            stream_window,
            going_away: None,
            failed: false,
            peer_max_streams: u32::MAX,
            settings_acked: false,
            handshake_deadline: Some(now + config.handshake_timeout),
            next_keepalive: now + config.keepalive_interval.max(MIN_PING_INTERVAL),
            last_ping: None,
            ping_in_flight: None,
            pings_sent: 0,
        }
    }

    /// The earliest instant at which [`Connection::handle_timeout`] has work: the handshake
    /// deadline, a PING's ACK deadline, or the next keepalive PING while a stream is open.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed {
            return None;
        }
        let keepalive = (!self.streams.is_empty()).then_some(self.next_keepalive);
        let ack = self.ping_in_flight.map(|(_, deadline)| deadline);
        earliest(earliest(self.handshake_deadline, ack), keepalive)
    }

    /// Advances the timers to `now`. Err = the connection is dead (handshake or PING ACK
    /// overdue): a GOAWAY is queued, as for the errors of [`Connection::recv`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.failed {
            return Err(LocalError::Closed.into());
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            let e = PeerError::HandshakeTimeout {
                server_settings: self.seen_settings,
            };
            return Err(self.fail(e));
        }
        if let Some((_, deadline)) = self.ping_in_flight
            && now >= deadline
        {
            return Err(self.fail(PeerError::PingTimeout));
        }
        if now >= self.next_keepalive {
            if !self.streams.is_empty() {
                self.ping(now, self.config.ping_timeout);
            }
            self.next_keepalive = now + self.config.keepalive_interval.max(MIN_PING_INTERVAL);
        }
        Ok(())
    }

    /// Sends a PING whose ACK must arrive within `timeout`, unless that would come within
    /// [`MIN_PING_INTERVAL`] of our previous PING. Returns whether a PING is in flight now
    /// (one already in flight gets the earlier of the two deadlines).
    pub fn ping(&mut self, now: Instant, timeout: core::time::Duration) -> bool {
        if self.failed {
            return false;
        }
        if let Some((_, deadline)) = &mut self.ping_in_flight {
            *deadline = (*deadline).min(now + timeout);
            return true;
        }
        if self
            .last_ping
            .is_some_and(|last| now.saturating_duration_since(last) < MIN_PING_INTERVAL)
        {
            return false;
        }
        self.pings_sent += 1;
        let payload = self.pings_sent.to_be_bytes();
        frame::write_ping(&mut self.control, &payload);
        self.ping_in_flight = Some((payload, now + timeout));
        self.last_ping = Some(now);
        true
    }

    /// Whether the server's SETTINGS_MAX_CONCURRENT_STREAMS lets us open another stream.
    pub fn can_open_stream(&self) -> bool {
        self.streams.len() < self.peer_max_streams as usize
    }

    /// Credits `n` received DATA bytes of `stream` back to the server once the user has
    /// consumed them: WINDOW_UPDATE goes out when a quarter of the window is due (RFC 9113
    /// §6.9). Until then the server can send at most the stream window.
    pub fn release_capacity(&mut self, stream: StreamId, n: u32) {
        let threshold = self.credit_threshold();
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        s.recv_unacked = s.recv_unacked.saturating_add(n);
        if s.recv_unacked >= threshold && !self.failed {
            frame::write_window_update(&mut self.out, stream, s.recv_unacked);
            s.recv_window = s.recv_window.saturating_add(s.recv_unacked);
            s.recv_unacked = 0;
        }
    }

    /// Opens the next odd stream: one HEADERS (END_HEADERS) and the body in DATA frames with
    /// END_STREAM on the last, split at the peer's MAX_FRAME_SIZE and held back while the
    /// peer's send windows are exhausted (RFC 9113 §5.1.1, §6.9). Err after GOAWAY.
    pub fn send_request(
        &mut self,
        fields: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<StreamId, Error> {
        if self.failed {
            return Err(LocalError::Closed.into());
        }
        if self.going_away.is_some() {
            return Err(LocalError::GoingAway.into());
        }
        let id = self.next_stream;
        if id > frame::MAX_STREAM_ID {
            return Err(LocalError::StreamIdsExhausted.into());
        }
        let mut block = Vec::new();
        for (name, value) in fields {
            hpack::encode_field(&mut block, name, value);
        }
        if block.len() > self.peer_max_frame as usize {
            return Err(LocalError::RequestHeadersTooLarge {
                len: block.len(),
                max: self.peer_max_frame,
            }
            .into());
        }
        self.next_stream = id + 2;
        frame::write_header(
            &mut self.out,
            block.len(),
            kind::HEADERS,
            flag::END_HEADERS,
            id,
        );
        self.out.extend_from_slice(&block);
        self.streams.insert(
            id,
            Stream {
                send_window: i64::from(self.peer_initial_window),
                recv_window: self.stream_window,
                recv_unacked: 0,
                body: body.to_vec(),
                body_sent: 0,
                local_closed: false,
            },
        );
        self.flush_bodies();
        Ok(id)
    }

    /// Resets `stream` with RST_STREAM(`code`) and forgets it; later frames for it are
    /// decoded (HEADERS) or credited to the connection window (DATA) and dropped.
    pub fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) {
        if self.streams.remove(&stream).is_some() && !self.failed {
            frame::write_rst_stream(&mut self.out, stream, code);
        }
    }

    /// Feeds bytes read from the socket (any split). Err = connection error: a GOAWAY with the
    /// error's code is queued; the caller flushes [`Connection::poll_transmit`] and closes.
    pub fn recv(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.failed {
            return Err(LocalError::Closed.into());
        }
        let mut buf = core::mem::take(&mut self.inbuf);
        buf.extend_from_slice(bytes);
        let mut pos = 0;
        let result = loop {
            let Some(head) = buf.get(pos..pos + frame::HEADER_LEN) else {
                break Ok(());
            };
            let mut raw = [0u8; frame::HEADER_LEN];
            raw.copy_from_slice(head);
            if !self.seen_settings && pos == 0 && raw.starts_with(b"HTTP/") {
                break Err(PeerError::Http1Response);
            }
            let header = Header::parse(&raw);
            if header.len > frame::DEFAULT_MAX_FRAME_SIZE {
                break Err(PeerError::FrameTooLarge {
                    len: header.len,
                    max: frame::DEFAULT_MAX_FRAME_SIZE,
                });
            }
            let start = pos + frame::HEADER_LEN;
            let end = start + header.len as usize;
            let Some(payload) = buf.get(start..end) else {
                break Ok(());
            };
            pos = end;
            if let Err(e) = self.on_frame(header, payload) {
                break Err(e);
            }
        };
        buf.drain(..pos);
        self.inbuf = buf;
        match result {
            Ok(()) => {
                if self.control.len() > MAX_CONTROL_QUEUE {
                    return Err(self.fail(PeerError::ControlFlood));
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Appends every queued outgoing byte to `out`: preface, SETTINGS and the SETTINGS/PING
    /// ACKs first, then HEADERS, DATA, WINDOW_UPDATE, RST_STREAM and GOAWAY in queue order.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.control);
        out.append(&mut self.out);
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the server sent GOAWAY (or the connection failed): open no new streams.
    pub fn is_going_away(&self) -> bool {
        self.going_away.is_some() || self.failed
    }

    /// Records a connection error: queues GOAWAY(code), drops every stream.
    fn fail(&mut self, e: PeerError) -> Error {
        self.failed = true;
        self.streams.clear();
        self.pending_block = None;
        self.inbuf = Vec::new();
        frame::write_goaway(&mut self.out, 0, e.code());
        Error::Peer(e)
    }

    /// Moves as much pending request body into DATA frames as the windows allow.
    fn flush_bodies(&mut self) {
        let max_frame = self.peer_max_frame as usize;
        for (&id, s) in self.streams.iter_mut() {
            while !s.local_closed {
                let remaining = s.body.len() - s.body_sent;
                let window = self.conn_send_window.min(s.send_window).max(0);
                let n = remaining
                    .min(max_frame)
                    .min(usize::try_from(window).unwrap_or(usize::MAX));
                if n == 0 && remaining > 0 {
                    break;
                }
                let last = n == remaining;
                let flags = if last { flag::END_STREAM } else { 0 };
                frame::write_header(&mut self.out, n, kind::DATA, flags, id);
                self.out
                    .extend_from_slice(&s.body[s.body_sent..s.body_sent + n]);
                s.body_sent += n;
                s.send_window -= n as i64;
                self.conn_send_window -= n as i64;
                if last {
                    s.local_closed = true;
                    s.body = Vec::new();
                }
            }
        }
    }
}
