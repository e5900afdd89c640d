//! The health endpoints (`health_checks`), sans-I/O: a bounded HTTP/1.1 request-head parser,
//! the write-status model upstream reports, and the exact response bytes.
//!
//! Upstream (`pkg/health/health.go@v0.11.0`, statuses in `pkg/sidecar/sidecar.go@v0.11.0`) serves
//! two paths (liveness and readiness) with Go's `net/http`: any method, the
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
//!
//! Layout: `request` (the head parser: our line framing and limit, each line checked by
//! `httparse`), `state` (the write statuses and readiness), `response` (the bytes sent),
//! `slots` (the listener's connection table), `probe` (the `-healthcheck` client's side).

pub mod probe;
mod request;
mod response;
pub mod slots;
mod state;

pub use request::{Head, Request, RequestError, RequestReader, parse};
pub use response::{NOT_FOUND_BODY, render_error, render_metrics, render_response};
pub use state::{HealthState, WriteStatus};

/// The request-head limit the daemon uses: probes send a few hundred bytes.
pub const MAX_HEAD: usize = 8 * 1024;

#[cfg(test)]
mod tests;
