//! The helper's Prometheus metrics (`health_checks.metrics_path`, ours): the counters and
//! gauges the session keeps ([`Session::metrics`](crate::workload::Session::metrics)) and
//! their text in the Prometheus text exposition format 0.0.4 (prometheus.io, "Exposition
//! formats": `# HELP` and `# TYPE` before each family's samples, label values with `\`,
//! `"` and line feed backslash-escaped, counters named `_total`).
//!
//! The metric names, types and labels are a contract: [`FAMILIES`] lists them in the order
//! they are rendered, and `docs/operations.md` documents each. Every label set is bounded by
//! the configuration (outputs, audiences, hooks) or by [`MAX_BUNDLE_SERIES`], so the text has
//! a bounded size whatever the agent sends. The core has no clock: timestamps are the Unix
//! times the session was given.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::time::UnixTime;

/// The most `spiffe_helper_x509_bundle_expiry_timestamp_seconds` series: the SVID's own
/// trust domain and the federated ones whose roots expire first.
pub const MAX_BUNDLE_SERIES: usize = 64;

/// The content type of the metrics response (text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why an update of an output was not written (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// What the agent sent was refused: verification, parsing, hint or size checks.
    Verification,
    /// Writing the files failed.
    Write,
    /// The output's call to the agent ended (an error status, or a watch closed) or sent a
    /// message that does not decode.
    Agent,
}

impl FailureReason {
    /// Every reason, in label order.
    pub const ALL: [FailureReason; 3] = [
        FailureReason::Agent,
        FailureReason::Verification,
        FailureReason::Write,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureReason::Verification => "verification",
            FailureReason::Write => "write",
            FailureReason::Agent => "agent",
        }
    }
}

/// How a hook run ended (the `result` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookResult {
    /// Exit status 0.
    Success,
    /// Another exit status, or ended by a signal.
    Failure,
    /// Killed at its timeout.
    Timeout,
    /// It could not be started.
    NotStarted,
}

impl HookResult {
    /// Every result, in label order.
    pub const ALL: [HookResult; 4] = [
        HookResult::Failure,
        HookResult::NotStarted,
        HookResult::Success,
        HookResult::Timeout,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            HookResult::Success => "success",
            HookResult::Failure => "failure",
            HookResult::Timeout => "timeout",
            HookResult::NotStarted => "not_started",
        }
    }
}

/// The counters of one output (the `output` label).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputCounters {
    /// Updates written.
    pub updates: u64,
    /// Updates not written, by [`FailureReason::ALL`] position.
    pub failures: [u64; 3],
    /// When the last update was written.
    pub last_update: Option<UnixTime>,
}

impl OutputCounters {
    /// Counts one failure for `reason`.
    pub fn fail(&mut self, reason: FailureReason) {
        if let Some(i) = FailureReason::ALL.iter().position(|r| *r == reason) {
            self.failures[i] = self.failures[i].saturating_add(1);
        }
    }
}

/// What `/metrics` shows. The session keeps it and updates it where it decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// By `output` label, in configuration order: `x509`, `jwt_bundle`,
    /// `jwt_svid:<jwt_audience>` (entries with one audience share a series).
    pub outputs: Vec<(String, OutputCounters)>,
    /// The X.509-SVID on disk: its SPIFFE ID and NotAfter (Unix seconds).
    pub x509_svid: Option<(String, i64)>,
    /// The earliest root NotAfter (Unix seconds) of each trust domain of the last X.509 set
    /// written, in name order, at most [`MAX_BUNDLE_SERIES`] (see [`Metrics::set_bundles`]).
    pub bundles: Vec<(String, i64)>,
    /// One per `jwt_svids` entry: its audience and the `exp` of the token on disk.
    pub jwt_svids: Vec<(String, Option<i64>)>,
    /// Whether a connection to the agent is up.
    pub agent_connected: bool,
    /// Connections to the agent made.
    pub agent_connects: u64,
    /// Stalls detected (no update for most of the SVID's remaining life).
    pub agent_stalls: u64,
    /// `renew_signal`s sent: to `cmd`, and to the pid file's process (delivered).
    pub workload_signals: u64,
    /// Starts of `cmd` asked for (the restarts are all but the first).
    pub workload_starts: u64,
    /// By hook (its index in `reload.exec`), runs by [`HookResult::ALL`] position.
    pub hook_runs: Vec<[u64; 4]>,
}

impl Metrics {
    /// Keeps the bundle expiries (in name order) of an X.509 set written for the `own` trust
    /// domain: its own, then the others that expire first, [`MAX_BUNDLE_SERIES`] in all.
    pub fn set_bundles(&mut self, own: &str, mut expiries: Vec<(String, i64)>) {
        let others = MAX_BUNDLE_SERIES - 1;
        if expiries.len() > MAX_BUNDLE_SERIES {
            let mut times: Vec<i64> = expiries
                .iter()
                .filter(|(td, _)| td != own)
                .map(|(_, t)| *t)
                .collect();
            times.sort_unstable();
            let cutoff = times[others - 1];
            // Those before the cutoff, then those at it in name order while room is left.
            let mut at_cutoff = others - times.iter().filter(|t| **t < cutoff).count();
            expiries.retain(|(td, t)| {
                let keep = td == own || *t < cutoff || (*t == cutoff && at_cutoff > 0);
                if td != own && *t == cutoff && keep {
                    at_cutoff -= 1;
                }
                keep
            });
        }
        self.bundles = expiries;
    }

    /// The counters of output `label`, if it is one.
    pub fn output_mut(&mut self, label: &str) -> Option<&mut OutputCounters> {
        self.outputs
            .iter_mut()
            .find(|(l, _)| l == label)
            .map(|(_, c)| c)
    }

    /// Counts one run of hook `id` ending with `result`.
    pub fn hook_ran(&mut self, id: usize, result: HookResult) {
        let position = HookResult::ALL.iter().position(|r| *r == result);
        if let (Some(runs), Some(i)) = (self.hook_runs.get_mut(id), position) {
            runs[i] = runs[i].saturating_add(1);
        }
    }

    /// Appends the text exposition (format 0.0.4) of every family in [`FAMILIES`] order; the
    /// series of a family in a fixed order: outputs and audiences in configuration order,
    /// trust domains by name, hooks by index, reasons and results as in their `ALL`.
    pub fn render(&self, build: &BuildInfo<'_>, out: &mut String) {
        let mut w = Writer { out };
        let [
            x509,
            bundle,
            jwt,
            updates,
            failures,
            last,
            connected,
            connects,
            stalls,
            signals,
            restarts,
            hooks,
            info,
        ] = FAMILIES;
        w.family(x509);
        if let Some((id, not_after)) = &self.x509_svid {
            w.sample(x509, &[("spiffe_id", id)], Value::Int(*not_after));
        }
        w.family(bundle);
        for (td, not_after) in &self.bundles {
            w.sample(bundle, &[("trust_domain", td)], Value::Int(*not_after));
        }
        w.family(jwt);
        for (i, (audience, _)) in self.jwt_svids.iter().enumerate() {
            let same = |(a, _): &&(String, Option<i64>)| a == audience;
            // Once per audience, at its first entry: the earliest of its tokens.
            if self.jwt_svids[..i].iter().any(|e| same(&e)) {
                continue;
            }
            let earliest = self.jwt_svids[i..]
                .iter()
                .filter(same)
                .filter_map(|e| e.1)
                .min();
            if let Some(exp) = earliest {
                w.sample(jwt, &[("audience", audience)], Value::Int(exp));
            }
        }
        w.family(updates);
        for (output, c) in &self.outputs {
            w.sample(updates, &[("output", output)], Value::Count(c.updates));
        }
        w.family(failures);
        for (output, c) in &self.outputs {
            for (reason, n) in FailureReason::ALL.iter().zip(c.failures) {
                let labels = [("output", output.as_str()), ("reason", reason.as_str())];
                w.sample(failures, &labels, Value::Count(n));
            }
        }
        w.family(last);
        for (output, c) in &self.outputs {
            if let Some(t) = c.last_update {
                w.sample(last, &[("output", output)], Value::Millis(t.as_millis()));
            }
        }
        let plain = [
            (connected, u64::from(self.agent_connected)),
            (connects, self.agent_connects),
            (stalls, self.agent_stalls),
            (signals, self.workload_signals),
            (restarts, self.workload_starts.saturating_sub(1)),
        ];
        for (family, value) in plain {
            w.family(family);
            w.sample(family, &[], Value::Count(value));
        }
        w.family(hooks);
        for (id, runs) in self.hook_runs.iter().enumerate() {
            let id = id.to_string();
            for (result, n) in HookResult::ALL.iter().zip(runs) {
                let labels = [("hook", id.as_str()), ("result", result.as_str())];
                w.sample(hooks, &labels, Value::Count(*n));
            }
        }
        w.family(info);
        let labels = [("commit", build.commit), ("version", build.version)];
        w.sample(info, &labels, Value::Count(1));
    }
}

/// What `spiffe_helper_build_info` says about the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildInfo<'a> {
    /// The crate version.
    pub version: &'a str,
    /// The git commit the binary was built from (`unknown` when not known).
    pub commit: &'a str,
}

/// One metric family: name, type and help text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// The metric name (counters end in `_total`).
    pub name: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// Its labels, in the order they are written.
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
}

const fn family(
    name: &'static str,
    kind: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
    }
}

/// Every family, in the order [`Metrics::render`] writes them.
pub const FAMILIES: [Family; 13] = [
    family(
        "spiffe_helper_x509_svid_expiry_timestamp_seconds",
        "gauge",
        &["spiffe_id"],
        "NotAfter of the X.509-SVID on disk, as a Unix timestamp.",
    ),
    family(
        "spiffe_helper_x509_bundle_expiry_timestamp_seconds",
        "gauge",
        &["trust_domain"],
        "Earliest NotAfter of the trust domain's CA certificates in the last X.509 set written, as a Unix timestamp.",
    ),
    family(
        "spiffe_helper_jwt_svid_expiry_timestamp_seconds",
        "gauge",
        &["audience"],
        "Expiry (exp) of the JWT-SVID on disk for the audience, as a Unix timestamp.",
    ),
    family(
        "spiffe_helper_updates_total",
        "counter",
        &["output"],
        "Updates written to the output's files.",
    ),
    family(
        "spiffe_helper_update_failures_total",
        "counter",
        &["output", "reason"],
        "Updates of the output not written, by reason (agent, verification, write).",
    ),
    family(
        "spiffe_helper_last_update_timestamp_seconds",
        "gauge",
        &["output"],
        "When the output's last update was written, as a Unix timestamp.",
    ),
    family(
        "spiffe_helper_agent_connected",
        "gauge",
        &[],
        "1 while a connection to the SPIFFE Workload API agent is up, else 0.",
    ),
    family(
        "spiffe_helper_agent_connects_total",
        "counter",
        &[],
        "Connections made to the agent.",
    ),
    family(
        "spiffe_helper_agent_stalls_total",
        "counter",
        &[],
        "Stalls detected: no X.509 update for most of the SVID's remaining life.",
    ),
    family(
        "spiffe_helper_workload_signals_total",
        "counter",
        &[],
        "renew_signal sent to cmd or delivered to the pid file's process.",
    ),
    family(
        "spiffe_helper_workload_restarts_total",
        "counter",
        &[],
        "Starts of cmd after its first one.",
    ),
    family(
        "spiffe_helper_hook_runs_total",
        "counter",
        &["hook", "result"],
        "reload.exec hook runs (hook: its index), by result.",
    ),
    family(
        "spiffe_helper_build_info",
        "gauge",
        &["commit", "version"],
        "The helper's version and the git commit it was built from; always 1.",
    ),
];

/// A sample's value.
#[derive(Clone, Copy)]
enum Value {
    /// A count or a whole number of seconds, written as an integer.
    Count(u64),
    /// Whole seconds, possibly negative.
    Int(i64),
    /// Milliseconds, written as seconds with three decimals.
    Millis(i64),
}

struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    fn family(&mut self, f: Family) {
        self.out.push_str("# HELP ");
        self.out.push_str(f.name);
        self.out.push(' ');
        escape(f.help, false, self.out);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(f.name);
        self.out.push(' ');
        self.out.push_str(f.kind);
        self.out.push('\n');
    }

    fn sample(&mut self, f: Family, labels: &[(&str, &str)], value: Value) {
        self.out.push_str(f.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(name);
                self.out.push_str("=\"");
                escape(value, true, self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        // Writing to a String cannot fail.
        let _ = match value {
            Value::Count(n) => write!(self.out, " {n}"),
            Value::Int(n) => write!(self.out, " {n}"),
            Value::Millis(ms) => {
                let sign = if ms < 0 { "-" } else { "" };
                let abs = ms.unsigned_abs();
                write!(self.out, " {sign}{}.{:03}", abs / 1000, abs % 1000)
            }
        };
        self.out.push('\n');
    }
}

/// Escapes `s` as the format requires: `\` and line feed always, `"` in label values.
fn escape(s: &str, label_value: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
