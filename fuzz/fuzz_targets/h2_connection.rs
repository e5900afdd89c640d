//! The HTTP/2 frame parser and client connection (`h2::Connection`) fed arbitrary server frames
//! after the server's SETTINGS: never panics, only reports events for streams it opened, and
//! everything it transmits is a sequence of whole, well-formed frames.
//!
//! Input: the first byte is the read size; the rest is the server's bytes after its SETTINGS.
//! Each chunk's first byte is also the seconds that pass before it (timeouts interleaved).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::h2::frame::{self, Header};
use svid_core::h2::{Config, Connection, Event};
use svid_core::time::Instant;

/// A server SETTINGS frame with no parameters: the valid start of the server's stream.
const SERVER_SETTINGS: [u8; 9] = [0, 0, 0, frame::kind::SETTINGS, 0, 0, 0, 0, 0];

/// Splits `bytes` into frames; panics on a partial frame.
fn check_frames(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let head: &[u8; frame::HEADER_LEN] = bytes
            .first_chunk()
            .unwrap_or_else(|| panic!("partial frame header {bytes:02x?}"));
        let h = Header::parse(head);
        let end = frame::HEADER_LEN + h.len as usize;
        assert!(bytes.len() >= end, "partial frame {h:?}");
        assert!(h.len <= frame::MAX_MAX_FRAME_SIZE);
        bytes = &bytes[end..];
    }
}

fuzz_target!(|data: &[u8]| {
    let (split, rest) = data
        .split_first()
        .map_or((1, data), |(b, r)| (usize::from(*b) + 1, r));
    let mut now = 0u64;
    let mut conn = Connection::new(Config::default(), Instant::from_millis(now));
    let get: [(&[u8], &[u8]); 3] = [
        (b":method", b"POST"),
        (b":path", b"/x"),
        (b"te", b"trailers"),
    ];
    let mut opened = vec![conn.send_request(&get, b"hello").unwrap()];
    opened.push(conn.send_request(&get, &[0; 70_000]).unwrap());
    let mut out = Vec::new();
    conn.poll_transmit(&mut out);
    let preface = out.strip_prefix(frame::PREFACE).expect("preface first");
    check_frames(preface);
    let mut failed = conn.recv(&SERVER_SETTINGS).is_err();
    for chunk in rest.chunks(split) {
        // The chunk's first byte says how many seconds pass first: timeouts fire as they fall due.
        now += u64::from(chunk[0]) * 1000;
        let result = conn
            .recv(chunk)
            .and_then(|()| conn.handle_timeout(Instant::from_millis(now)));
        assert!(
            !(failed && result.is_ok()),
            "recv succeeded after a connection error"
        );
        failed |= result.is_err();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Data { stream, data, .. } => {
                    assert!(opened.contains(&stream), "data on stream {stream}");
                    // Consumed at once: the credit goes back.
                    conn.release_capacity(stream, data.len() as u32);
                }
                Event::Headers { stream, .. } | Event::Reset { stream, .. } => {
                    assert!(
                        opened.contains(&stream),
                        "event on stream {stream} we never opened"
                    )
                }
                Event::GoAway { .. } => {}
            }
        }
        out.clear();
        conn.poll_transmit(&mut out);
        check_frames(&out);
        if !failed && !conn.is_going_away() && opened.len() < 8 {
            opened.push(conn.send_request(&get, b"").unwrap());
        }
    }
});
