//! The health endpoints (`health_checks`), sans-I/O: a bounded HTTP/1.1 request-head parser,
//! the write-status model upstream reports, and the exact response bytes.
//!
//! Upstream serves two paths (liveness and readiness) with Go's `net/http`: any method, the
//! path matched exactly and case-sensitively, the query ignored, every other path answered
//! with Go's `404 page not found`. Both paths return the same JSON body; only the status line
//! differs. Every response here ends the connection (`Connection: close`): a probe sends one
//! request per connection, and the daemon then never has to frame a second request.
//!
//! Differences from upstream, on purpose:
//! - readiness is false when the state has no entry at all (upstream issue #423), when the
//!   agent connection has been down past the session's grace period, and when a file on disk
//!   has expired (upstream issue #221: upstream stays ready forever once it wrote once);
//! - the request head is limited to [`MAX_HEAD`] bytes (Go allows 1 MiB) and gets `431`
//!   past it; the path is matched as sent, without percent-decoding or Go's clean-path
//!   redirects; no `Date` header is sent (the core has no clock).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::json::write_go_string;

pub mod probe;
pub mod slots;

/// The request-head limit the daemon uses: probes send a few hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;

// ---------------------------------------------------------------------------------------------
// Request-head parser
// ---------------------------------------------------------------------------------------------

/// Why a request head was refused. Each maps to the status Go's server would answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// No end of the head within the limit (`431 Request Header Fields Too Large`).
    TooLarge,
    /// The request line is not `METHOD SP target SP HTTP/d.d`, the method is not a token or
    /// the target is not an origin-form, absolute-form or `*` target (`400 Bad Request`).
    BadRequestLine,
    /// A header line without a colon, with a name that is not a token, with a control
    /// character in its value, or starting with whitespace (`400 Bad Request`).
    BadHeader,
    /// A well-formed version other than HTTP/1.x (`505 HTTP Version Not Supported`).
    UnsupportedVersion,
}

impl ParseError {
    /// The HTTP status code this error is answered with.
    pub const fn status(self) -> u16 {
        match self {
            ParseError::TooLarge => 431,
            ParseError::BadRequestLine | ParseError::BadHeader => 400,
            ParseError::UnsupportedVersion => 505,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::TooLarge => "request header too large",
            ParseError::BadRequestLine => "malformed request line",
            ParseError::BadHeader => "malformed header line",
            ParseError::UnsupportedVersion => "unsupported protocol version",
        })
    }
}

impl core::error::Error for ParseError {}

/// A complete request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method as sent (a token, case-sensitive: `GET`, `HEAD`, ...).
    pub method: &'a str,
    /// The path of the target, without the query: `/ready` for `/ready?x=1` and for
    /// `http://host:8081/ready`; `*` for `OPTIONS *`.
    pub path: &'a str,
    /// `x` of `HTTP/1.x`.
    pub minor_version: u8,
    /// Bytes of the head, including the empty line that ends it; a body, if any, follows.
    pub head_len: usize,
}

impl Request<'_> {
    /// Whether the response must carry no body (`HEAD`).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// The outcome of parsing the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a parse is either partial or complete, as httparse::Status"
)]
pub enum Status<'a> {
    /// The head is not complete yet, and nothing seen so far is wrong.
    Partial,
    /// The head is complete.
    Complete(Request<'a>),
}

/// Where a scan of a partial head stopped.
enum Scan {
    /// Lines before this offset are complete and valid; the head has not ended.
    More(usize),
    /// The head ends at this offset.
    Done(usize),
}

/// Scans whole lines of `buf` from `from` (the start of a line) within `limit` bytes,
/// validating each line as it completes. Lines end with LF; a CR before it is dropped, as
/// Go's reader does.
fn scan(buf: &[u8], from: usize, limit: usize) -> Result<Scan, ParseError> {
    let window = &buf[..buf.len().min(limit)];
    let mut start = from;
    while let Some(off) = window.get(start..).and_then(|rest| memchr(b'\n', rest)) {
        let nl = start + off;
        let line = strip_cr(&window[start..nl]);
        if start == 0 {
            request_line(line)?;
        } else if line.is_empty() {
            return Ok(Scan::Done(nl + 1));
        } else {
            header_line(line)?;
        }
        start = nl + 1;
    }
    if buf.len() >= limit {
        return Err(ParseError::TooLarge);
    }
    Ok(Scan::More(start))
}

/// Parses a request head at the start of `buf`, allowing at most `limit` bytes for it
/// (httparse style: call again with more bytes after [`Status::Partial`]). It never
/// allocates and never looks past `limit` bytes.
pub fn parse(buf: &[u8], limit: usize) -> Result<Status<'_>, ParseError> {
    match scan(buf, 0, limit)? {
        Scan::More(_) => Ok(Status::Partial),
        Scan::Done(head_len) => complete(buf, head_len),
    }
}

fn complete(buf: &[u8], head_len: usize) -> Result<Status<'_>, ParseError> {
    let first = memchr(b'\n', buf).unwrap_or(0);
    let (method, path, minor_version) = request_line(strip_cr(&buf[..first]))?;
    Ok(Status::Complete(Request {
        method,
        path,
        minor_version,
        head_len,
    }))
}

/// An incremental reader that owns a buffer bounded by its limit: feed it bytes as they
/// arrive. Each byte is scanned once; the buffer never grows past the limit, whatever the
/// peer sends.
#[derive(Debug)]
pub struct RequestReader {
    buf: Vec<u8>,
    limit: usize,
    /// Start of the first line not yet complete.
    scanned: usize,
    done: Option<Result<usize, ParseError>>,
}

impl RequestReader {
    /// A reader that accepts a head of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        RequestReader {
            buf: Vec::new(),
            limit,
            scanned: 0,
            done: None,
        }
    }

    /// How many more bytes the reader keeps (0 once it is full or finished): read at most
    /// this many from the socket.
    pub fn space(&self) -> usize {
        if self.done.is_some() {
            0
        } else {
            self.limit - self.buf.len()
        }
    }

    /// Bytes held so far (never more than the limit).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes `data` (only the first [`space`](Self::space) bytes are kept) and reports the
    /// head's progress. Once complete or failed, the same result is returned and further
    /// bytes are ignored (they would be the body or garbage).
    pub fn feed(&mut self, data: &[u8]) -> Result<Status<'_>, ParseError> {
        if self.done.is_none() {
            // Bytes past the limit are dropped: a full buffer without the end of the head
            // is `TooLarge` whatever follows.
            let take = data.len().min(self.space());
            self.buf.extend_from_slice(&data[..take]);
            match scan(&self.buf, self.scanned, self.limit) {
                Ok(Scan::More(at)) => self.scanned = at,
                Ok(Scan::Done(len)) => self.done = Some(Ok(len)),
                Err(e) => self.done = Some(Err(e)),
            }
        }
        match self.done {
            None => Ok(Status::Partial),
            Some(Ok(len)) => complete(&self.buf, len),
            Some(Err(e)) => Err(e),
        }
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| is_tchar(c))
}

/// `METHOD SP target SP HTTP/d.d`, split on the first two spaces as Go does.
fn request_line(line: &[u8]) -> Result<(&str, &str, u8), ParseError> {
    let bad = ParseError::BadRequestLine;
    let sp1 = memchr(b' ', line).ok_or(bad)?;
    let (method, rest) = (&line[..sp1], &line[sp1 + 1..]);
    let sp2 = memchr(b' ', rest).ok_or(bad)?;
    let (target, version) = (&rest[..sp2], &rest[sp2 + 1..]);
    let minor_version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major != b'1' {
                return Err(ParseError::UnsupportedVersion);
            }
            minor - b'0'
        }
        _ => return Err(bad),
    };
    if !is_token(method) {
        return Err(bad);
    }
    // Visible characters only; bytes past ASCII are allowed if they are UTF-8 (Go accepts
    // them and answers 404).
    if target.is_empty() || target.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(bad);
    }
    let target = core::str::from_utf8(target).map_err(|_| bad)?;
    let method = core::str::from_utf8(method).map_err(|_| bad)?;
    Ok((method, target_path(target).ok_or(bad)?, minor_version))
}

/// The path of an origin-form (`/p?q`), absolute-form (`http://h/p?q`) or `*` target.
fn target_path(target: &str) -> Option<&str> {
    fn no_query(s: &str) -> &str {
        s.split_once('?').map_or(s, |(path, _)| path)
    }
    if target.starts_with('/') {
        return Some(no_query(target));
    }
    if target == "*" {
        return Some(target);
    }
    let (scheme, rest) = target.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return None;
    }
    let rest = no_query(rest);
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// `name: value`, the name a token, the value free of control characters but HTAB.
fn header_line(line: &[u8]) -> Result<(), ParseError> {
    let colon = memchr(b':', line).ok_or(ParseError::BadHeader)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if !is_token(name) || value.iter().any(|&c| (c < b' ' && c != b'\t') || c == 0x7f) {
        return Err(ParseError::BadHeader);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Health model
// ---------------------------------------------------------------------------------------------

/// The state of one output, as upstream names it in the JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteStatus {
    /// Not written yet (every entry starts here).
    Unwritten,
    /// The last write succeeded.
    Written,
    /// The last write failed.
    Failed,
}

impl WriteStatus {
    /// `unwritten`, `written` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WriteStatus::Unwritten => "unwritten",
            WriteStatus::Written => "written",
            WriteStatus::Failed => "failed",
        }
    }

    /// The status after a write attempt.
    pub const fn from_write(ok: bool) -> Self {
        if ok {
            WriteStatus::Written
        } else {
            WriteStatus::Failed
        }
    }
}

/// What the health endpoints report: upstream's write statuses plus our own readiness
/// conditions. The session owns it and updates it
/// ([`Session::health`](crate::workload::Session::health)); the listener only reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthState {
    /// The X.509 entry, `None` when X.509 is not configured (the JSON then has no key).
    pub x509: Option<WriteStatus>,
    /// One entry per `x509_svids` entry (ours), keyed by its hint; written as
    /// `x509_svids_write_status` only when there is one, so upstream's body is unchanged.
    pub x509_svids: BTreeMap<String, WriteStatus>,
    /// One entry per JWT output (bundle file, each JWT-SVID file), keyed by the joined path
    /// (`path.Join(cert_dir, name)`), sorted as Go's JSON encoder sorts map keys.
    pub jwt: BTreeMap<String, WriteStatus>,
    /// False once the agent connection has been down longer than the session's grace
    /// period; makes readiness false. Starts true.
    pub agent_connected_recently: bool,
    /// True while some file on disk holds an expired SVID or token; makes readiness false.
    /// Starts false.
    pub files_expired: bool,
}

impl HealthState {
    /// The state at start-up: every configured entry `unwritten`. Equal JWT paths share one
    /// entry, as upstream's map does.
    pub fn new<I, S>(x509_enabled: bool, jwt_paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        HealthState {
            x509: x509_enabled.then_some(WriteStatus::Unwritten),
            x509_svids: BTreeMap::new(),
            jwt: jwt_paths
                .into_iter()
                .map(|p| (p.into(), WriteStatus::Unwritten))
                .collect(),
            agent_connected_recently: true,
            files_expired: false,
        }
    }

    /// Records an X.509 write attempt; no effect when X.509 is not configured.
    pub fn record_x509(&mut self, ok: bool) {
        if let Some(s) = &mut self.x509 {
            *s = WriteStatus::from_write(ok);
        }
    }

    /// Records a write attempt of the `x509_svids` entry with this hint (`ok` false: the
    /// write failed, or the response had no SVID with the hint), adding it if new.
    pub fn record_x509_svid(&mut self, hint: &str, ok: bool) {
        self.x509_svids
            .insert(String::from(hint), WriteStatus::from_write(ok));
    }

    /// Records a write attempt of the JWT output at `path` (the joined path), adding the
    /// entry if it was not there.
    pub fn record_jwt(&mut self, path: &str, ok: bool) {
        let status = WriteStatus::from_write(ok);
        match self.jwt.get_mut(path) {
            Some(s) => *s = status,
            None => {
                self.jwt.insert(String::from(path), status);
            }
        }
    }

    fn statuses(&self) -> impl Iterator<Item = WriteStatus> + '_ {
        self.x509
            .into_iter()
            .chain(self.x509_svids.values().copied())
            .chain(self.jwt.values().copied())
    }

    /// Upstream's liveness: no entry has `failed`.
    pub fn is_live(&self) -> bool {
        self.statuses().all(|s| s != WriteStatus::Failed)
    }

    /// At least one entry, and every entry `written` (upstream's readiness).
    pub fn all_written(&self) -> bool {
        self.statuses().next().is_some() && self.statuses().all(|s| s == WriteStatus::Written)
    }

    /// Readiness: [`all_written`](Self::all_written) (upstream), the agent not lost past the
    /// grace period and no expired file on disk (ours).
    pub fn is_ready(&self) -> bool {
        self.all_written() && self.agent_connected_recently && !self.files_expired
    }

    /// Appends upstream's JSON body for a check that passed (`ok`) or not: compact, no
    /// trailing newline, `x509_write_status` left out when X.509 is not configured.
    pub fn write_json(&self, ok: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"status":""#);
        out.extend_from_slice(if ok { b"OK" } else { b"Service Unavailable" });
        out.extend_from_slice(br#"","health":{"file_write_statuses":{"#);
        if let Some(s) = self.x509 {
            out.extend_from_slice(br#""x509_write_status":""#);
            out.extend_from_slice(s.as_str().as_bytes());
            out.extend_from_slice(b"\",");
        }
        if !self.x509_svids.is_empty() {
            out.extend_from_slice(br#""x509_svids_write_status":"#);
            write_statuses(&self.x509_svids, out);
            out.push(b',');
        }
        out.extend_from_slice(br#""jwt_write_status":"#);
        write_statuses(&self.jwt, out);
        out.extend_from_slice(b"}}}");
    }
}

/// A JSON object of write statuses, keys in order.
fn write_statuses(statuses: &BTreeMap<String, WriteStatus>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, s)) in statuses.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_go_string(key, out);
        out.push(b':');
        write_go_string(s.as_str(), out);
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// Go's body for an unknown path.
pub const NOT_FOUND_BODY: &str = "404 page not found\n";

/// The full response to `request`: the liveness or readiness check (`200` or `503`,
/// `application/json`, upstream's body) on the two paths whatever the method, Go's `404`
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
pub fn render_error(error: ParseError) -> Vec<u8> {
    let body: &str = match error {
        ParseError::TooLarge => "431 Request Header Fields Too Large",
        ParseError::BadRequestLine | ParseError::BadHeader => "400 Bad Request",
        ParseError::UnsupportedVersion => {
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

#[cfg(test)]
mod tests;
