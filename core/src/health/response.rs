//! The exact response bytes: the two checks, Go's `404`, the refused heads and the metrics
//! path.

use alloc::string::String;
use alloc::vec::Vec;

use super::{HealthState, Request, RequestError};

/// Go's body for an unknown path.
pub const NOT_FOUND_BODY: &str = "404 page not found\n";

/// The full response to `request`: the liveness or readiness check (`200` or `503`,
/// `application/json`, upstream's body, `pkg/health/health.go@v0.11.0`) on the two paths whatever
/// the method, Go's `404`
/// elsewhere. A `HEAD` request gets the same headers and no body. If the two paths are
/// equal (validation rejects that), liveness answers.
pub fn render_response(
    request: &Request<'_>,
    state: &HealthState,
    liveness_path: &str,
    readiness_path: &str,
) -> Vec<u8> {
    let check = if request.path == liveness_path {
        Some(state.is_live())
    } else if request.path == readiness_path {
        Some(state.is_ready())
    } else {
        None
    };
    let mut body = Vec::new();
    let (code, content_type) = match check {
        Some(ok) => {
            state.write_json(ok, &mut body);
            (if ok { 200 } else { 503 }, "application/json")
        }
        None => {
            body.extend_from_slice(NOT_FOUND_BODY.as_bytes());
            (404, "text/plain; charset=utf-8")
        }
    };
    let extra: &[&str] = if check.is_none() {
        &["X-Content-Type-Options: nosniff"]
    } else {
        &[]
    };
    let body = if request.is_head() {
        None
    } else {
        Some(body.as_slice())
    };
    let len = body.map_or_else(|| rendered_len(check, state), <[u8]>::len);
    response(request.minor_version, code, content_type, extra, len, body)
}

/// The body length a GET would get, for a HEAD response's `Content-Length`.
fn rendered_len(check: Option<bool>, state: &HealthState) -> usize {
    match check {
        Some(ok) => {
            let mut b = Vec::new();
            state.write_json(ok, &mut b);
            b.len()
        }
        None => NOT_FOUND_BODY.len(),
    }
}

/// The response to a refused head, with Go's texts (`400 Bad Request`, `431 Request Header
/// Fields Too Large`, `505 HTTP Version Not Supported: unsupported protocol version`).
pub fn render_error(error: RequestError) -> Vec<u8> {
    let body: &str = match error {
        RequestError::TooLarge => "431 Request Header Fields Too Large",
        RequestError::BadRequestLine | RequestError::BadHeader => "400 Bad Request",
        RequestError::UnsupportedVersion => {
            "505 HTTP Version Not Supported: unsupported protocol version"
        }
    };
    let body = body.as_bytes();
    response(
        1,
        error.status(),
        "text/plain; charset=utf-8",
        &[],
        body.len(),
        Some(body),
    )
}

/// The response to a request for `metrics_path` (ours; off when empty): `200` with the
/// Prometheus text `body` renders ([`crate::metrics`]), whatever the method, as the other two
/// paths; a `HEAD` request gets the same headers and no body. `None` for any other path.
pub fn render_metrics(
    request: &Request<'_>,
    metrics_path: &str,
    body: impl FnOnce() -> Vec<u8>,
) -> Option<Vec<u8>> {
    if metrics_path.is_empty() || request.path != metrics_path {
        return None;
    }
    let body = body();
    let sent = (!request.is_head()).then_some(body.as_slice());
    Some(response(
        request.minor_version,
        200,
        crate::metrics::CONTENT_TYPE,
        &[],
        body.len(),
        sent,
    ))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn response(
    minor_version: u8,
    code: u16,
    content_type: &str,
    extra: &[&str],
    content_length: usize,
    body: Option<&[u8]>,
) -> Vec<u8> {
    use core::fmt::Write as _;
    let version = if minor_version == 0 { "1.0" } else { "1.1" };
    let mut head = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        head,
        "HTTP/{version} {code} {}\r\nContent-Type: {content_type}\r\n",
        reason(code)
    );
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    let mut out = head.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    out
}
