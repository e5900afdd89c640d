//! The request-head parser: our framing (lines, the head's end, the byte limit) around
//! `httparse`, which validates each line as it completes, with Go's version handling and
//! path extraction kept.

use alloc::vec::Vec;
use core::fmt;

/// Why a request head was refused. Each maps to the status Go's server would answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
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

impl RequestError {
    /// The HTTP status code this error is answered with.
    pub const fn status(self) -> u16 {
        match self {
            RequestError::TooLarge => 431,
            RequestError::BadRequestLine | RequestError::BadHeader => 400,
            RequestError::UnsupportedVersion => 505,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::TooLarge => "request header too large",
            RequestError::BadRequestLine => "malformed request line",
            RequestError::BadHeader => "malformed header line",
            RequestError::UnsupportedVersion => "unsupported protocol version",
        })
    }
}

impl core::error::Error for RequestError {}

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
pub enum Head<'a> {
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
fn scan(buf: &[u8], from: usize, limit: usize) -> Result<Scan, RequestError> {
    let window = &buf[..buf.len().min(limit)];
    let mut start = from;
    while let Some(off) = window.get(start..).and_then(|rest| memchr(b'\n', rest)) {
        let nl = start + off;
        let line = &window[start..=nl];
        if start == 0 {
            request_line(line)?;
        } else if strip_eol(line).is_empty() {
            return Ok(Scan::Done(nl + 1));
        } else {
            header_line(line)?;
        }
        start = nl + 1;
    }
    if buf.len() >= limit {
        return Err(RequestError::TooLarge);
    }
    Ok(Scan::More(start))
}

/// Parses a request head at the start of `buf`, allowing at most `limit` bytes for it
/// (httparse style: call again with more bytes after [`Head::Partial`]). It never
/// allocates and never looks past `limit` bytes.
pub fn parse(buf: &[u8], limit: usize) -> Result<Head<'_>, RequestError> {
    match scan(buf, 0, limit)? {
        Scan::More(_) => Ok(Head::Partial),
        Scan::Done(head_len) => complete(buf, head_len),
    }
}

fn complete(buf: &[u8], head_len: usize) -> Result<Head<'_>, RequestError> {
    let first = memchr(b'\n', buf).map_or(0, |nl| nl + 1);
    let (method, path, minor_version) = request_line(&buf[..first])?;
    Ok(Head::Complete(Request {
        method,
        path,
        minor_version,
        head_len,
    }))
}

/// An incremental reader that owns a buffer bounded by its limit: feed it bytes as they
/// arrive. Each line is checked once, when its LF arrives; the buffer never grows past the
/// limit, whatever the peer sends.
#[derive(Debug)]
pub struct RequestReader {
    buf: Vec<u8>,
    limit: usize,
    /// Start of the first line not yet complete.
    scanned: usize,
    done: Option<Result<usize, RequestError>>,
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
    pub fn feed(&mut self, data: &[u8]) -> Result<Head<'_>, RequestError> {
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
            None => Ok(Head::Partial),
            Some(Ok(len)) => complete(&self.buf, len),
            Some(Err(e)) => Err(e),
        }
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// A line without its LF and the CR before it, if any.
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `METHOD SP target SP HTTP/d.d` (`line` ends with its LF). httparse checks the method (a
/// token), the single spaces and the target (visible characters, UTF-8); the version is
/// read as Go's `net/http.ParseHTTPVersion` reads it, which accepts any `HTTP/1.d` where
/// httparse knows only 1.0 and 1.1. Malformed lines are refused (`400`) before a major
/// version other than 1 (`505`), in Go's order: `net/http`'s server answers 505 only for a
/// request its `readRequest` accepted.
fn request_line(line: &[u8]) -> Result<(&str, &str, u8), RequestError> {
    let bad = RequestError::BadRequestLine;
    // httparse skips empty lines before the request line (RFC 9112 section 2.2); Go does
    // not, and answers `400`.
    if strip_eol(line).is_empty() {
        return Err(bad);
    }
    let mut parsed = httparse::Request::new(&mut []);
    let known = match parsed.parse(line) {
        // The line is whole: only the headers that follow are missing.
        Ok(httparse::Status::Partial) => parsed.version,
        Err(httparse::Error::Version) => None,
        Ok(httparse::Status::Complete(_)) | Err(_) => return Err(bad),
    };
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
        return Err(bad);
    };
    let path = target_path(target).ok_or(bad)?;
    let minor_version = match known {
        Some(minor) => minor,
        // After `METHOD SP target SP`: what httparse did not take as 1.0 or 1.1.
        None => match strip_eol(line).get(method.len() + target.len() + 2..) {
            Some(&[b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
                if major.is_ascii_digit() && minor.is_ascii_digit() =>
            {
                if major != b'1' {
                    return Err(RequestError::UnsupportedVersion);
                }
                minor - b'0'
            }
            _ => return Err(bad),
        },
    };
    Ok((method, path, minor_version))
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

/// `name: value` (`line` ends with its LF), checked by httparse: the name a token right
/// before the colon, the value free of control characters but HTAB.
fn header_line(line: &[u8]) -> Result<(), RequestError> {
    let mut header = [httparse::EMPTY_HEADER; 1];
    match httparse::parse_headers(line, &mut header) {
        // One valid header; the head goes on.
        Ok(httparse::Status::Partial) => Ok(()),
        Ok(httparse::Status::Complete(_)) | Err(_) => Err(RequestError::BadHeader),
    }
}
