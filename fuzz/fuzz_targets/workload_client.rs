//! The whole Workload API client connection fed arbitrary server bytes after a valid server
//! preface (SETTINGS), split at arbitrary points, with calls cancelled at arbitrary points: it
//! must never panic, must report only calls it has open, and close each at most once.
//!
//! Input: four bytes seed the read sizes, cancellations and the time that passes between
//! reads (timeouts are handled as they fall due); the rest is the server's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::h2::frame;
use svid_core::time::Instant;
use svid_core::workload::{Client, ClientConfig, Event};

/// A server SETTINGS frame with no parameters: the valid start of the server's stream.
const SERVER_SETTINGS: [u8; 9] = [0, 0, 0, frame::kind::SETTINGS, 0, 0, 0, 0, 0];

fuzz_target!(|data: &[u8]| {
    let Some((seed, server)) = data.split_first_chunk::<4>() else {
        return;
    };
    // xorshift32: read sizes from 1 byte to 4 KiB, and the odd cancellation.
    let mut state = u32::from_le_bytes(*seed) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut now = 0u64;
    let mut client = Client::new(ClientConfig::default(), Instant::from_millis(now));
    let mut open = vec![
        client.fetch_x509_svid().unwrap(),
        client.fetch_jwt_bundles().unwrap(),
        client.fetch_jwt_svid(&["aud"], "").unwrap(),
    ];
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    let mut failed = client.recv(&SERVER_SETTINGS).is_err();
    let mut rest = server;
    while !rest.is_empty() {
        let r = next();
        let len = if r & 0x100 != 0 {
            r % 16 + 1
        } else {
            r % 4096 + 1
        };
        let (chunk, tail) = rest.split_at((len as usize).min(rest.len()));
        rest = tail;
        // Up to ~68 minutes between reads: past handshake, keepalive and PING deadlines.
        now += u64::from(r >> 20) * 1000;
        let result = client
            .recv(chunk)
            .and_then(|()| client.handle_timeout(Instant::from_millis(now)));
        assert!(
            !(failed && result.is_ok()),
            "recv succeeded after a connection error"
        );
        failed |= result.is_err();
        while let Some(event) = client.poll_event() {
            match event {
                Event::X509Svid { stream, .. }
                | Event::JwtBundles { stream, .. }
                | Event::JwtSvid { stream, .. }
                | Event::BadMessage { stream, .. } => {
                    assert!(open.contains(&stream), "event on stream {stream}, not open")
                }
                Event::Closed { stream, .. } => {
                    let at = open.iter().position(|&s| s == stream);
                    open.swap_remove(at.expect("Closed for a call that is not open"));
                }
            }
        }
        if r & 0xf000 == 0 && !open.is_empty() {
            client.cancel(open.swap_remove(0));
        }
        if failed {
            assert!(open.is_empty(), "a connection error left calls open");
        }
        out.clear();
        client.poll_transmit(&mut out);
    }
});
