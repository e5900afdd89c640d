//! `health::probe::verdict`, the `-healthcheck` reader of the answer's status line, on
//! arbitrary bytes arriving in arbitrary pieces: never panics; `Pending` only while fewer than
//! `MAX_STATUS_LINE` bytes have come; once reached, the verdict does not change as more bytes
//! come or the peer closes; and `Healthy` only for an `HTTP/1.x 200` status line.
//!
//! Input: a byte of piece lengths seed, then the bytes the server sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::health::probe::{MAX_STATUS_LINE, Verdict, verdict};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, sent)) = data.split_first() else {
        return;
    };
    let mut step = usize::from(seed % 13) + 1;
    let mut end = 0;
    let mut reached: Option<Verdict> = None;
    while end < sent.len() {
        end = (end + step).min(sent.len());
        step = step % 13 + 1;
        let now = verdict(&sent[..end], false);
        match (&reached, &now) {
            (None, Verdict::Pending) => assert!(end < MAX_STATUS_LINE),
            (None, _) => reached = Some(now),
            (Some(first), _) => assert_eq!(first, &now),
        }
    }
    let closed = verdict(sent, true);
    assert_ne!(closed, Verdict::Pending);
    if let Some(first) = reached {
        assert_eq!(first, closed);
    }
    if closed == Verdict::Healthy {
        assert!(
            sent.starts_with(b"HTTP/1.") && sent[7].is_ascii_digit() && &sent[8..12] == b" 200"
        );
    }
});
