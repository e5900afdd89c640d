//! The session's metrics (`health_checks.metrics_path`): counted where the session decides,
//! rendered by [`crate::metrics`]. Each output has one `output` label (`x509`,
//! `jwt_bundle`, `jwt_svid:<jwt_audience>`), created at start-up with every counter at 0 so
//! that a series exists before its first event.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{ProcessStatus, Session, SessionConfig, Subscription};
use crate::metrics::{FailureReason, HookResult, Metrics, OutputCounters};
use crate::time::UnixTime;

impl Session {
    /// The metrics at start-up: every configured output and hook at 0.
    pub(super) fn initial_metrics(config: &SessionConfig) -> Metrics {
        let mut labels = Vec::new();
        if config.x509.is_some() {
            labels.push(String::from("x509"));
        }
        if config.jwt_bundle.is_some() {
            labels.push(String::from("jwt_bundle"));
        }
        for j in &config.jwt_svids {
            let label = jwt_svid_label(&j.audience);
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        Metrics {
            outputs: labels
                .into_iter()
                .map(|l| (l, OutputCounters::default()))
                .collect(),
            jwt_svids: config
                .jwt_svids
                .iter()
                .map(|j| (j.audience.clone(), None))
                .collect(),
            hook_runs: alloc::vec![[0; 4]; config.hooks.len()],
            ..Metrics::default()
        }
    }

    /// The counters of `sub`'s output, if it writes one (the JWT bundle watch opened only
    /// to verify tokens does not).
    fn output_counters(&mut self, sub: Subscription) -> Option<&mut OutputCounters> {
        let label = match sub {
            Subscription::X509 => String::from("x509"),
            Subscription::JwtBundles => String::from("jwt_bundle"),
            Subscription::JwtSvid(n) => jwt_svid_label(&self.config.jwt_svids.get(n)?.audience),
        };
        self.metrics.output_mut(&label)
    }

    /// Counts an update of `sub`'s output not written for `reason`.
    pub(super) fn count_failure(&mut self, sub: Subscription, reason: FailureReason) {
        if let Some(c) = self.output_counters(sub) {
            c.fail(reason);
        }
    }

    /// Counts a write of `sub`'s output: on success its update, its time, and what is now on
    /// disk (the SVID `spiffe_id` expiring at `expiry`; the X.509 set's bundles).
    pub(super) fn count_written(
        &mut self,
        sub: Subscription,
        unix_now: UnixTime,
        ok: bool,
        spiffe_id: &str,
        expiry: Option<i64>,
    ) {
        let bundles = if sub == Subscription::X509 {
            core::mem::take(&mut self.pending_bundles)
        } else {
            Vec::new()
        };
        let Some(c) = self.output_counters(sub) else {
            return;
        };
        if !ok {
            return c.fail(FailureReason::Write);
        }
        c.updates = c.updates.saturating_add(1);
        c.last_update = Some(unix_now);
        match sub {
            Subscription::X509 => {
                let own = crate::spiffe_id::SpiffeId::parse(spiffe_id)
                    .map(|id| String::from(id.trust_domain()))
                    .unwrap_or_default();
                self.metrics.set_bundles(&own, bundles);
                if let Some(expiry) = expiry {
                    self.metrics.x509_svid = Some((String::from(spiffe_id), expiry));
                }
            }
            Subscription::JwtSvid(n) => {
                if let (Some((_, exp)), Some(expiry)) = (self.metrics.jwt_svids.get_mut(n), expiry)
                {
                    *exp = Some(expiry);
                }
            }
            Subscription::JwtBundles => {}
        }
    }

    /// Counts a run of hook `id` that ended with `status` (`None`: not started).
    pub(super) fn count_hook(&mut self, id: usize, status: Option<ProcessStatus>, timed_out: bool) {
        let result = match status {
            _ if timed_out => HookResult::Timeout,
            None => HookResult::NotStarted,
            Some(ProcessStatus::Code(0)) => HookResult::Success,
            Some(_) => HookResult::Failure,
        };
        self.metrics.hook_ran(id, result);
    }

    /// What the metrics endpoint shows now.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics.clone();
        m.agent_connected = matches!(self.conn, super::AgentConnection::Up(_));
        m
    }
}

/// The `output` label of a `jwt_svids` entry.
fn jwt_svid_label(audience: &str) -> String {
    format!("jwt_svid:{audience}")
}
