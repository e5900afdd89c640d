//! Test helpers: build raw frames and split transmitted bytes back into frames.

use alloc::vec::Vec;

use super::frame::{self, Header};

/// One raw frame.
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_header(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

/// Splits `bytes` (after an optional client preface) into frames; panics on a torn frame.
pub(crate) fn parse_frames(bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut rest = bytes.strip_prefix(&frame::PREFACE[..]).unwrap_or(bytes);
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let head: [u8; 9] = rest[..9].try_into().unwrap();
        let h = Header::parse(&head);
        let end = 9 + h.len as usize;
        frames.push((h, rest[9..end].to_vec()));
        rest = &rest[end..];
    }
    frames
}
