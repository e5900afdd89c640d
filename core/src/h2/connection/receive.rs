//! The receive side of [`Connection`]: one handler per frame type (RFC 9113 §6), stream
//! states (§5.1) and receive flow control (§6.9).

use super::{Connection, PendingBlock};
use crate::h2::frame::{self, Header, flag, kind, setting};
use crate::h2::{ErrorCode, Event, PeerError, StreamId};

impl Connection {
    /// Handles one complete frame; Err is a connection error.
    pub(super) fn on_frame(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        if let Some(pending) = &self.pending_block
            && (h.kind != kind::CONTINUATION || h.stream != pending.stream)
        {
            return Err(PeerError::ExpectedContinuation {
                stream: pending.stream,
                kind: h.kind,
                got_stream: h.stream,
            });
        }
        if !self.seen_settings {
            if h.kind != kind::SETTINGS || h.has(flag::ACK) {
                return Err(PeerError::MissingServerSettings { kind: h.kind });
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
            kind::PUSH_PROMISE => Err(PeerError::PushPromise),
            kind::PING => self.on_ping(h, payload),
            kind::GOAWAY => self.on_goaway(h, payload),
            kind::WINDOW_UPDATE => self.on_window_update(h, payload),
            _ => Ok(()),
        }
    }

    /// Received bytes that trigger a WINDOW_UPDATE, for the connection and for each stream:
    /// a quarter of the stream window (grpc-go's policy), never 0.
    pub(super) fn credit_threshold(&self) -> u32 {
        (self.stream_window / 4).max(1)
    }

    /// Whether `stream` is one we could have opened; anything else is idle (RFC 9113 §5.1).
    fn check_not_idle(&self, h: Header) -> Result<(), PeerError> {
        if h.stream.is_multiple_of(2) || h.stream >= self.next_stream {
            return Err(PeerError::IdleStream {
                kind: h.kind,
                stream: h.stream,
            });
        }
        Ok(())
    }

    fn on_data(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_stream(h)?;
        self.check_not_idle(h)?;
        // The whole payload, padding included, counts for flow control (RFC 9113 §6.1).
        if h.len > self.conn_recv_window {
            return Err(PeerError::FlowControlViolation {
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
        let Some(stream) = self.streams.get_mut(&h.stream) else {
            return Ok(());
        };
        if h.len > stream.recv_window {
            return Err(PeerError::FlowControlViolation {
                stream: h.stream,
                len: h.len,
                window: stream.recv_window,
            });
        }
        stream.recv_window -= h.len;
        // The data is credited when the user consumes it (`release_capacity`); the padding
        // was never the user's to hold, so it is released now.
        let padding = h.len - data.len() as u32;
        if !end_stream && padding > 0 {
            self.release_capacity(h.stream, padding);
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

    fn on_headers(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_stream(h)?;
        self.check_not_idle(h)?;
        let mut block = strip_padding(h, payload)?;
        if h.has(flag::PRIORITY) {
            // Exclusive bit, stream dependency and weight: ignored (RFC 9113 §6.2).
            block = block.get(5..).ok_or(PeerError::BadFrameLength {
                kind: h.kind,
                len: h.len,
            })?;
        }
        if block.len() > self.config.max_header_block {
            return Err(PeerError::HeaderBlockTooLarge {
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

    fn on_continuation(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        let Some(mut pending) = self.pending_block.take() else {
            return Err(PeerError::UnexpectedContinuation { stream: h.stream });
        };
        if pending.block.len() + payload.len() > self.config.max_header_block {
            return Err(PeerError::HeaderBlockTooLarge {
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
    ) -> Result<(), PeerError> {
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

    fn on_rst_stream(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_stream(h)?;
        require_len(h, 4)?;
        self.check_not_idle(h)?;
        let code = ErrorCode::from_u32(frame::be_u32(payload, 0).unwrap_or_default());
        if self.streams.remove(&h.stream).is_some() {
            self.events.push_back(Event::Reset {
                stream: h.stream,
                code,
                by_server: true,
            });
        }
        Ok(())
    }

    fn on_settings(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_connection(h)?;
        if h.has(flag::ACK) {
            if !payload.is_empty() {
                return Err(PeerError::SettingsAckWithPayload);
            }
            self.settings_acked = true;
            self.check_handshake_done();
            return Ok(());
        }
        let (entries, []) = payload.as_chunks::<6>() else {
            return Err(PeerError::BadFrameLength {
                kind: h.kind,
                len: h.len,
            });
        };
        for &[i0, i1, v0, v1, v2, v3] in entries {
            let id = u16::from_be_bytes([i0, i1]);
            let value = u32::from_be_bytes([v0, v1, v2, v3]);
            match id {
                setting::ENABLE_PUSH if value != 0 => {
                    return Err(PeerError::BadSetting { id, value });
                }
                setting::INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return Err(PeerError::BadSetting { id, value });
                    }
                    let delta = i64::from(value) - i64::from(self.peer_initial_window);
                    for (&stream, s) in self.streams.iter_mut() {
                        s.send_window += delta;
                        if s.send_window > i64::from(frame::MAX_WINDOW) {
                            return Err(PeerError::WindowOverflow { stream });
                        }
                    }
                    self.peer_initial_window = value;
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE).contains(&value)
                    {
                        return Err(PeerError::BadSetting { id, value });
                    }
                    self.peer_max_frame = value;
                }
                setting::MAX_CONCURRENT_STREAMS => self.peer_max_streams = value,
                // HEADER_TABLE_SIZE: our encoder never indexes. The rest are advisory here.
                _ => {}
            }
        }
        self.check_handshake_done();
        frame::write_settings_ack(&mut self.control);
        self.flush_bodies();
        Ok(())
    }

    fn on_ping(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_connection(h)?;
        require_len(h, 8)?;
        let mut data = [0u8; 8];
        data.copy_from_slice(payload);
        if !h.has(flag::ACK) {
            frame::write_ping_ack(&mut self.control, &data);
        } else if self.ping_in_flight.is_some_and(|(sent, _)| sent == data) {
            self.ping_in_flight = None;
        }
        Ok(())
    }

    /// The handshake is complete once the server's SETTINGS arrived and ours were acked.
    fn check_handshake_done(&mut self) {
        if self.seen_settings && self.settings_acked {
            self.handshake_deadline = None;
        }
    }

    fn on_goaway(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_connection(h)?;
        let (Some(last), Some(code)) = (frame::be_u32(payload, 0), frame::be_u32(payload, 4))
        else {
            return Err(PeerError::BadFrameLength {
                kind: h.kind,
                len: h.len,
            });
        };
        let last_stream = last & frame::MAX_STREAM_ID;
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

    fn on_window_update(&mut self, h: Header, payload: &[u8]) -> Result<(), PeerError> {
        require_len(h, 4)?;
        let increment = frame::be_u32(payload, 0).unwrap_or_default() & frame::MAX_WINDOW;
        if h.stream == 0 {
            if increment == 0 {
                return Err(PeerError::ZeroWindowIncrement);
            }
            self.conn_send_window += i64::from(increment);
            if self.conn_send_window > i64::from(frame::MAX_WINDOW) {
                return Err(PeerError::WindowOverflow { stream: 0 });
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
                    by_server: false,
                });
                return Ok(());
            }
        }
        self.flush_bodies();
        Ok(())
    }
}

/// Frames that belong to a stream must not use stream 0.
fn require_stream(h: Header) -> Result<(), PeerError> {
    if h.stream == 0 {
        return Err(PeerError::BadStreamId {
            kind: h.kind,
            stream: 0,
        });
    }
    Ok(())
}

/// Connection-level frames must use stream 0.
fn require_connection(h: Header) -> Result<(), PeerError> {
    if h.stream != 0 {
        return Err(PeerError::BadStreamId {
            kind: h.kind,
            stream: h.stream,
        });
    }
    Ok(())
}

fn require_len(h: Header, len: u32) -> Result<(), PeerError> {
    if h.len != len {
        return Err(PeerError::BadFrameLength {
            kind: h.kind,
            len: h.len,
        });
    }
    Ok(())
}

/// Strips the Pad Length byte and padding of a PADDED frame (RFC 9113 §6.1, §6.2).
fn strip_padding(h: Header, payload: &[u8]) -> Result<&[u8], PeerError> {
    if !h.has(flag::PADDED) {
        return Ok(payload);
    }
    let bad = PeerError::BadPadding {
        kind: h.kind,
        stream: h.stream,
    };
    let (&pad, rest) = payload.split_first().ok_or(bad.clone())?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or(bad)?;
    Ok(&rest[..keep])
}
