//! The client side of `-healthcheck live|ready` (ours, issue 17), sans-I/O: the request the
//! probe sends to the helper's own health listener, and a bounded reader of the answer's
//! status line (RFC 9112 §4) that decides the probe's outcome: healthy only on `200`.
//!
//! Only the status line is read: the probe's verdict needs nothing else, and a peer that
//! sends more than [`MAX_STATUS_LINE`] bytes without ending it is not the helper.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The longest status line read: the helper's are about 40 bytes.
pub const MAX_STATUS_LINE: usize = 1024;

/// The request for `path` (as configured, sent as is), one per connection: `GET`, HTTP/1.1,
/// `Host` (RFC 9112 §3.2), `Connection: close`.
pub fn request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: spiffe-helper-healthcheck\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// What the bytes received so far say.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the prober must act on every verdict"
)]
pub enum Verdict {
    /// The status line is not complete yet: read more.
    Pending,
    /// `200`: the check passed.
    Healthy,
    /// Another status, or an answer that is not HTTP/1.x: the reason, one line.
    Unhealthy(String),
}

/// Reads the status line at the start of `received`; `closed` is true once the peer has
/// closed its side (nothing more will come).
pub fn verdict(received: &[u8], closed: bool) -> Verdict {
    let window = &received[..received.len().min(MAX_STATUS_LINE)];
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        return if received.len() >= MAX_STATUS_LINE {
            Verdict::Unhealthy(format!(
                "no status line within {MAX_STATUS_LINE} bytes: not an HTTP answer"
            ))
        } else if closed {
            Verdict::Unhealthy(if received.is_empty() {
                String::from("the connection was closed without an answer")
            } else {
                String::from("the connection was closed in the middle of the status line")
            })
        } else {
            Verdict::Pending
        };
    };
    // A bare LF ends the line too (RFC 9112 §2.2); the CR before it is not part of it.
    let line = &window[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match status_line(line) {
        Some((200, _)) => Verdict::Healthy,
        Some((code, reason)) => Verdict::Unhealthy(format!("HTTP {code} {reason}")),
        None => Verdict::Unhealthy(String::from(
            "the answer does not start with an HTTP/1.x status line",
        )),
    }
}

/// `HTTP-version SP status-code SP [reason-phrase]` (RFC 9112 §4): the code and the reason,
/// or `None` when the line is not one. HTTP/1.0 is accepted, as a 1.1 client must.
fn status_line(line: &[u8]) -> Option<(u16, &str)> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    if !minor.is_ascii_digit() {
        return None;
    }
    let rest = rest.strip_prefix(b" ")?;
    let (code, rest) = rest.split_at_checked(3)?;
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return None;
    }
    let code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    // The reason is optional, but the space before it is not (RFC 9112 §4); it holds
    // HTAB, SP, VCHAR or obs-text. Only its visible ASCII is kept for the one-line reason.
    let reason = match rest {
        [] => "",
        [b' ', reason @ ..] if reason.iter().all(|&b| b == b'\t' || b >= b' ' && b != 0x7f) => {
            core::str::from_utf8(reason)
                .ok()
                .filter(|r| r.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                .unwrap_or("")
        }
        _ => return None,
    };
    Some((code, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_one_get_per_connection() {
        assert_eq!(
            request("/ready", "127.0.0.1:8081"),
            b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: \
              spiffe-helper-healthcheck\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn only_200_is_healthy() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}";
        assert_eq!(verdict(ok, false), Verdict::Healthy);
        assert_eq!(verdict(b"HTTP/1.0 200 OK\n", true), Verdict::Healthy);
        assert_eq!(verdict(b"HTTP/1.1 200 \r\n", false), Verdict::Healthy);
        assert_eq!(verdict(b"HTTP/1.1 200\r\n", false), Verdict::Healthy);
        for (answer, reason) in [
            (
                &b"HTTP/1.1 503 Service Unavailable\r\n"[..],
                "HTTP 503 Service Unavailable",
            ),
            (b"HTTP/1.1 404 Not Found\r\n", "HTTP 404 Not Found"),
            (b"HTTP/1.1 204 No Content\r\n", "HTTP 204 No Content"),
            (b"HTTP/1.1 201 \xffbad\r\n", "HTTP 201 "),
        ] {
            assert_eq!(verdict(answer, false), Verdict::Unhealthy(reason.into()));
        }
    }

    #[test]
    fn pending_until_the_line_ends_then_refused_when_it_cannot() {
        let line = b"HTTP/1.1 200 OK\r\n";
        for n in 0..line.len() - 1 {
            assert_eq!(verdict(&line[..n], false), Verdict::Pending, "{n}");
        }
        assert_eq!(
            verdict(b"", true),
            Verdict::Unhealthy("the connection was closed without an answer".into())
        );
        assert_eq!(
            verdict(b"HTTP/1.1 20", true),
            Verdict::Unhealthy("the connection was closed in the middle of the status line".into())
        );
        let long = [b'H'; MAX_STATUS_LINE];
        assert_eq!(
            verdict(&long, false),
            Verdict::Unhealthy("no status line within 1024 bytes: not an HTTP answer".into())
        );
        let mut late = Vec::from(&b"HTTP/1.1 200 "[..]);
        late.resize(MAX_STATUS_LINE, b'x');
        late.extend_from_slice(b"\r\n");
        assert!(matches!(verdict(&late, false), Verdict::Unhealthy(_)));
    }

    #[test]
    fn what_is_not_an_http_1_status_line_is_unhealthy() {
        let bad =
            Verdict::Unhealthy("the answer does not start with an HTTP/1.x status line".into());
        for answer in [
            &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
            b"HTTP/2 200 OK\r\n",
            b"HTTP/1.x 200 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 20a OK\r\n",
            b"HTTP/1.1 099 Low\r\n",
            b"HTTP/1.1 200OK\r\n",
            b"HTTP/1.1 200 O\x01K\r\n",
            b"http/1.1 200 OK\r\n",
            b"\r\n",
        ] {
            assert_eq!(
                verdict(answer, false),
                bad,
                "{:?}",
                String::from_utf8_lossy(answer)
            );
        }
    }
}
