//! The HTTP/2 client connection state machine: frame parsing, stream states, flow control.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::frame::{self, Header, flag, kind, setting};
use super::{Config, Error, ErrorCode, Event, StreamId};
use crate::hpack::{self, Decoder};

/// Bound on queued, unsent SETTINGS and PING ACKs: a peer flooding them is cut off.
const MAX_CONTROL_QUEUE: usize = 16 << 10;

/// Send-side state of one stream we opened.
#[derive(Debug)]
struct Stream {
    /// The server's window for our DATA; may go negative after a SETTINGS change (§6.9.2).
    send_window: i64,
    /// How much more DATA we allow the server to send on this stream.
    recv_window: u32,
    /// Bytes received and not yet credited back with WINDOW_UPDATE.
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
}

impl Connection {
    /// Queues the preface, our SETTINGS (ENABLE_PUSH=0, INITIAL_WINDOW_SIZE,
    /// MAX_HEADER_LIST_SIZE, and HEADER_TABLE_SIZE when not the default 4096) and a connection
    /// WINDOW_UPDATE raising the connection receive window (RFC 9113 §3.4, §6.9.2).
    pub fn new(config: Config) -> Self {
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
            return Err(Error::Closed);
        }
        if self.going_away.is_some() {
            return Err(Error::GoingAway);
        }
        let id = self.next_stream;
        if id > frame::MAX_WINDOW {
            return Err(Error::StreamIdsExhausted);
        }
        let mut block = Vec::new();
        for (name, value) in fields {
            hpack::encode_field(&mut block, name, value);
        }
        if block.len() > self.peer_max_frame as usize {
            return Err(Error::RequestHeadersTooLarge {
                len: block.len(),
                max: self.peer_max_frame,
            });
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
            return Err(Error::Closed);
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
            let header = Header::parse(&raw);
            if header.len > frame::DEFAULT_MAX_FRAME_SIZE {
                break Err(Error::FrameTooLarge {
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
                    return Err(self.fail(Error::ControlFlood));
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
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the server sent GOAWAY (or the connection failed): open no new streams.
    pub fn is_going_away(&self) -> bool {
        self.going_away.is_some() || self.failed
    }

    /// Records a connection error: queues GOAWAY(code), drops every stream.
    fn fail(&mut self, e: Error) -> Error {
        self.failed = true;
        self.streams.clear();
        self.pending_block = None;
        self.inbuf = Vec::new();
        frame::write_goaway(&mut self.out, 0, e.code());
        e
    }

    fn on_frame(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        if let Some(pending) = &self.pending_block
            && (h.kind != kind::CONTINUATION || h.stream != pending.stream)
        {
            return Err(Error::ExpectedContinuation {
                stream: pending.stream,
                kind: h.kind,
                got_stream: h.stream,
            });
        }
        if !self.seen_settings {
            if h.kind != kind::SETTINGS || h.has(flag::ACK) {
                return Err(Error::MissingServerSettings { kind: h.kind });
            }
            self.seen_settings = true;
        }
        match h.kind {
            kind::DATA => self.on_data(h, payload),
            kind::HEADERS => self.on_headers(h, payload),
            kind::CONTINUATION => self.on_continuation(h, payload),
            kind::PRIORITY => {
                require_stream(h)?;
                require_len(h, 5)
            }
            kind::RST_STREAM => self.on_rst_stream(h, payload),
            kind::SETTINGS => self.on_settings(h, payload),
            kind::PUSH_PROMISE => Err(Error::PushPromise),
            kind::PING => self.on_ping(h, payload),
            kind::GOAWAY => self.on_goaway(h, payload),
            kind::WINDOW_UPDATE => self.on_window_update(h, payload),
            _ => Ok(()),
        }
    }

    /// Received bytes that trigger a WINDOW_UPDATE, for the connection and for each stream:
    /// a quarter of the stream window (grpc-go's policy, wire §2.6), never 0.
    fn credit_threshold(&self) -> u32 {
        (self.stream_window / 4).max(1)
    }

    /// Whether `stream` is one we could have opened; anything else is idle (RFC 9113 §5.1).
    fn check_not_idle(&self, h: Header) -> Result<(), Error> {
        if h.stream.is_multiple_of(2) || h.stream >= self.next_stream {
            return Err(Error::IdleStream {
                kind: h.kind,
                stream: h.stream,
            });
        }
        Ok(())
    }

    fn on_data(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_stream(h)?;
        self.check_not_idle(h)?;
        // The whole payload, padding included, counts for flow control (RFC 9113 §6.1).
        if h.len > self.conn_recv_window {
            return Err(Error::FlowControlViolation {
                stream: 0,
                len: h.len,
                window: self.conn_recv_window,
            });
        }
        let data = strip_padding(h, payload)?;
        self.conn_recv_window -= h.len;
        self.conn_recv_unacked += h.len;
        if self.conn_recv_unacked >= self.credit_threshold() {
            frame::write_window_update(&mut self.out, 0, self.conn_recv_unacked);
            self.conn_recv_window += self.conn_recv_unacked;
            self.conn_recv_unacked = 0;
        }
        let end_stream = h.has(flag::END_STREAM);
        let threshold = self.credit_threshold();
        let Some(stream) = self.streams.get_mut(&h.stream) else {
            return Ok(());
        };
        if h.len > stream.recv_window {
            return Err(Error::FlowControlViolation {
                stream: h.stream,
                len: h.len,
                window: stream.recv_window,
            });
        }
        stream.recv_window -= h.len;
        if !end_stream {
            stream.recv_unacked += h.len;
            if stream.recv_unacked >= threshold {
                frame::write_window_update(&mut self.out, h.stream, stream.recv_unacked);
                stream.recv_window += stream.recv_unacked;
                stream.recv_unacked = 0;
            }
        }
        if !data.is_empty() || end_stream {
            self.events.push_back(Event::Data {
                stream: h.stream,
                data: data.to_vec(),
                end_stream,
            });
        }
        if end_stream {
            self.remote_closed(h.stream);
        }
        Ok(())
    }

    fn on_headers(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_stream(h)?;
        self.check_not_idle(h)?;
        let mut block = strip_padding(h, payload)?;
        if h.has(flag::PRIORITY) {
            // Exclusive bit, stream dependency and weight: ignored (RFC 9113 §6.2).
            block = block.get(5..).ok_or(Error::BadFrameLength {
                kind: h.kind,
                len: h.len,
            })?;
        }
        if block.len() > self.config.max_header_block {
            return Err(Error::HeaderBlockTooLarge {
                max: self.config.max_header_block,
            });
        }
        let end_stream = h.has(flag::END_STREAM);
        if h.has(flag::END_HEADERS) {
            self.on_header_block(h.stream, end_stream, block)
        } else {
            self.pending_block = Some(PendingBlock {
                stream: h.stream,
                end_stream,
                block: block.to_vec(),
            });
            Ok(())
        }
    }

    fn on_continuation(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        let Some(mut pending) = self.pending_block.take() else {
            return Err(Error::UnexpectedContinuation { stream: h.stream });
        };
        if pending.block.len() + payload.len() > self.config.max_header_block {
            return Err(Error::HeaderBlockTooLarge {
                max: self.config.max_header_block,
            });
        }
        pending.block.extend_from_slice(payload);
        if h.has(flag::END_HEADERS) {
            self.on_header_block(pending.stream, pending.end_stream, &pending.block)
        } else {
            self.pending_block = Some(pending);
            Ok(())
        }
    }

    /// Decodes every block, even for streams we reset or forgot, to keep the HPACK dynamic
    /// table in step with the server's (RFC 9113 §4.3).
    fn on_header_block(
        &mut self,
        stream: StreamId,
        end_stream: bool,
        block: &[u8],
    ) -> Result<(), Error> {
        let fields = self.decoder.decode(block)?;
        if self.streams.contains_key(&stream) {
            self.events.push_back(Event::Headers {
                stream,
                fields,
                end_stream,
            });
            if end_stream {
                self.remote_closed(stream);
            }
        }
        Ok(())
    }

    /// The server ended its side of `stream`. If our request is still being sent, the
    /// response is complete anyway: stop with RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
    fn remote_closed(&mut self, stream: StreamId) {
        if let Some(s) = self.streams.remove(&stream)
            && !s.local_closed
        {
            frame::write_rst_stream(&mut self.out, stream, ErrorCode::NoError);
        }
    }

    fn on_rst_stream(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_stream(h)?;
        require_len(h, 4)?;
        self.check_not_idle(h)?;
        let code = ErrorCode::from_u32(frame::be_u32(payload, 0).unwrap_or_default());
        if self.streams.remove(&h.stream).is_some() {
            self.events.push_back(Event::Reset {
                stream: h.stream,
                code,
            });
        }
        Ok(())
    }

    fn on_settings(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_connection(h)?;
        if h.has(flag::ACK) {
            return if payload.is_empty() {
                Ok(())
            } else {
                Err(Error::SettingsAckWithPayload)
            };
        }
        if !payload.len().is_multiple_of(6) {
            return Err(Error::BadFrameLength {
                kind: h.kind,
                len: h.len,
            });
        }
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                setting::ENABLE_PUSH if value != 0 => {
                    return Err(Error::BadSetting { id, value });
                }
                setting::INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return Err(Error::BadSetting { id, value });
                    }
                    let delta = i64::from(value) - i64::from(self.peer_initial_window);
                    for (&stream, s) in self.streams.iter_mut() {
                        s.send_window += delta;
                        if s.send_window > i64::from(frame::MAX_WINDOW) {
                            return Err(Error::WindowOverflow { stream });
                        }
                    }
                    self.peer_initial_window = value;
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE).contains(&value)
                    {
                        return Err(Error::BadSetting { id, value });
                    }
                    self.peer_max_frame = value;
                }
                // HEADER_TABLE_SIZE: our encoder never indexes. The rest are advisory here.
                _ => {}
            }
        }
        frame::write_settings_ack(&mut self.control);
        self.flush_bodies();
        Ok(())
    }

    fn on_ping(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_connection(h)?;
        require_len(h, 8)?;
        if !h.has(flag::ACK) {
            let mut data = [0u8; 8];
            data.copy_from_slice(payload);
            frame::write_ping_ack(&mut self.control, &data);
        }
        Ok(())
    }

    fn on_goaway(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_connection(h)?;
        let (Some(last), Some(code)) = (frame::be_u32(payload, 0), frame::be_u32(payload, 4))
        else {
            return Err(Error::BadFrameLength {
                kind: h.kind,
                len: h.len,
            });
        };
        let last_stream = last & frame::MAX_WINDOW;
        let last_stream = self.going_away.map_or(last_stream, |l| l.min(last_stream));
        self.going_away = Some(last_stream);
        self.streams.retain(|&id, _| id <= last_stream);
        self.events.push_back(Event::GoAway {
            last_stream,
            code: ErrorCode::from_u32(code),
            debug: payload.get(8..).unwrap_or_default().to_vec(),
        });
        Ok(())
    }

    fn on_window_update(&mut self, h: Header, payload: &[u8]) -> Result<(), Error> {
        require_len(h, 4)?;
        let increment = frame::be_u32(payload, 0).unwrap_or_default() & frame::MAX_WINDOW;
        if h.stream == 0 {
            if increment == 0 {
                return Err(Error::ZeroWindowIncrement);
            }
            self.conn_send_window += i64::from(increment);
            if self.conn_send_window > i64::from(frame::MAX_WINDOW) {
                return Err(Error::WindowOverflow { stream: 0 });
            }
        } else {
            self.check_not_idle(h)?;
            let Some(s) = self.streams.get_mut(&h.stream) else {
                return Ok(());
            };
            s.send_window += i64::from(increment);
            // Zero increment or overflow on a stream: stream errors (RFC 9113 §6.9, §6.9.1).
            let code = if increment == 0 {
                Some(ErrorCode::ProtocolError)
            } else if s.send_window > i64::from(frame::MAX_WINDOW) {
                Some(ErrorCode::FlowControlError)
            } else {
                None
            };
            if let Some(code) = code {
                self.reset_stream(h.stream, code);
                self.events.push_back(Event::Reset {
                    stream: h.stream,
                    code,
                });
                return Ok(());
            }
        }
        self.flush_bodies();
        Ok(())
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

/// Frames that belong to a stream must not use stream 0.
fn require_stream(h: Header) -> Result<(), Error> {
    if h.stream == 0 {
        return Err(Error::BadStreamId {
            kind: h.kind,
            stream: 0,
        });
    }
    Ok(())
}

/// Connection-level frames must use stream 0.
fn require_connection(h: Header) -> Result<(), Error> {
    if h.stream != 0 {
        return Err(Error::BadStreamId {
            kind: h.kind,
            stream: h.stream,
        });
    }
    Ok(())
}

fn require_len(h: Header, len: u32) -> Result<(), Error> {
    if h.len != len {
        return Err(Error::BadFrameLength {
            kind: h.kind,
            len: h.len,
        });
    }
    Ok(())
}

/// Strips the Pad Length byte and padding of a PADDED frame (RFC 9113 §6.1, §6.2).
fn strip_padding(h: Header, payload: &[u8]) -> Result<&[u8], Error> {
    if !h.has(flag::PADDED) {
        return Ok(payload);
    }
    let bad = Error::BadPadding {
        kind: h.kind,
        stream: h.stream,
    };
    let (&pad, rest) = payload.split_first().ok_or(bad.clone())?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or(bad)?;
    Ok(&rest[..keep])
}
