//! The write-status model upstream reports (`pkg/sidecar/sidecar.go@v0.11.0`) plus our own
//! readiness conditions, and its JSON body (`pkg/health/health.go@v0.11.0`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::json::write_go_string;

/// The state of one output, as upstream names it in the JSON body
/// (`pkg/sidecar/sidecar.go@v0.11.0`).
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

    /// Upstream's liveness (`CheckLiveness`, `pkg/sidecar/sidecar.go@v0.11.0`): no entry has
    /// `failed`.
    pub fn is_live(&self) -> bool {
        self.statuses().all(|s| s != WriteStatus::Failed)
    }

    /// At least one entry, and every entry `written` (upstream's `CheckReadiness`,
    /// `pkg/sidecar/sidecar.go@v0.11.0`).
    pub fn all_written(&self) -> bool {
        self.statuses().next().is_some() && self.statuses().all(|s| s == WriteStatus::Written)
    }

    /// Readiness: [`all_written`](Self::all_written) (upstream), the agent not lost past the
    /// grace period and no expired file on disk (ours).
    pub fn is_ready(&self) -> bool {
        self.all_written() && self.agent_connected_recently && !self.files_expired
    }

    /// Appends upstream's JSON body (`pkg/health/health.go@v0.11.0`) for a check that passed
    /// (`ok`) or not: compact, no
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
