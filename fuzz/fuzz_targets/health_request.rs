//! The health listener's request-head parser on arbitrary bytes fed in arbitrary pieces:
//! never panics, never keeps more than its limit, and `RequestReader` fed piece by piece
//! reaches the same answer as `health::parse` on the same bytes at once (a head is
//! complete at the same length with the same method and path, or fails the same way).
//!
//! Input: a limit byte (the limit is 1 + that, up to 256), a byte of piece lengths seed,
//! then the bytes the client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::health::{RequestReader, Head, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&[limit, seed], sent)) = data.split_first_chunk::<2>() else {
        return;
    };
    let limit = usize::from(limit) + 1;
    let whole = parse(sent, limit);
    if let Ok(Head::Complete(request)) = whole {
        assert!(request.head_len <= limit && request.head_len <= sent.len());
        assert!(request.path.starts_with('/') || request.path == "*");
    }

    let mut reader = RequestReader::new(limit);
    let mut rest = sent;
    let mut step = usize::from(seed % 7) + 1;
    let mut last = reader.feed(&[]).map(|s| s == Head::Partial);
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(step.min(rest.len()));
        rest = tail;
        step = step % 7 + 1;
        let status = reader.feed(piece);
        last = status.map(|s| s == Head::Partial);
        if let (Ok(Head::Complete(fed)), Ok(Head::Complete(at_once))) = (status, whole) {
            assert_eq!(fed, at_once);
        }
        assert!(reader.buffered() <= limit);
    }
    // Everything sent: the reader agrees with the one-shot parse, Partial included.
    match whole {
        Ok(Head::Partial) => assert_eq!(last, Ok(true)),
        Ok(Head::Complete(_)) => assert_eq!(last, Ok(false)),
        Err(error) => assert_eq!(last, Err(error)),
    }
});
