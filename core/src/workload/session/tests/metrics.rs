//! The metrics move where the session decides, on the simulated clock: a write and its
//! failure, a refused update, a failed call, a reconnect, a stall, a signal, a restart, a
//! hook run.

use super::*;
use crate::metrics::{FailureReason, HookResult, OutputCounters};

/// The counters of output `label`.
fn counters(sim: &Sim, label: &str) -> OutputCounters {
    let mut m = sim.session.metrics();
    m.output_mut(label).unwrap().clone()
}

/// Failures of output `label` for `reason`.
fn failures(sim: &Sim, label: &str, reason: FailureReason) -> u64 {
    let i = FailureReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap();
    counters(sim, label).failures[i]
}

#[test]
fn x509_writes_failures_and_reconnects_are_counted() {
    let mut sim = Sim::new(false);
    let m = sim.session.metrics();
    assert_eq!((m.agent_connected, m.agent_connects), (false, 0));
    let labels =
        |m: &crate::metrics::Metrics| m.outputs.iter().map(|o| o.0.clone()).collect::<Vec<_>>();
    assert_eq!(labels(&m), ["x509"]);
    assert_eq!(counters(&sim, "x509"), OutputCounters::default());
    sim.connect();
    let m = sim.session.metrics();
    assert_eq!((m.agent_connected, m.agent_connects), (true, 1));

    sim.send_update(1, 3600, true);
    let written_at = sim.unix_now;
    let c = counters(&sim, "x509");
    assert_eq!((c.updates, c.last_update), (1, Some(written_at)));
    let m = sim.session.metrics();
    assert_eq!(m.x509_svid, Some((ID.to_string(), BASE_UNIX + 3600)));
    // The bundle's root: rcgen's default NotAfter.
    let root_expiry = rcgen::date_time_ymd(4096, 1, 1).unix_timestamp();
    assert_eq!(m.bundles, [("example.test".to_string(), root_expiry)]);

    // A failed write counts as one, and keeps what is on disk in the gauges.
    sim.advance(secs(10));
    sim.write_ok = false;
    sim.send_update(1, 7200, false);
    assert_eq!(failures(&sim, "x509", FailureReason::Write), 1);
    let c = counters(&sim, "x509");
    assert_eq!((c.updates, c.last_update), (1, Some(written_at)));
    assert_eq!(sim.session.metrics().x509_svid.unwrap().1, BASE_UNIX + 3600);

    // A chain that does not verify.
    sim.write_ok = true;
    sim.server(&frame(kind::DATA, 0, 1, &x509_message_with(7200, true)));
    assert_eq!(failures(&sim, "x509", FailureReason::Verification), 1);
    // The agent ends the watch (grpc-status 0: a watch is not meant to end).
    sim.server(&frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        TRAILERS_OK,
    ));
    assert_eq!(failures(&sim, "x509", FailureReason::Agent), 1);
    assert_eq!(counters(&sim, "x509").updates, 1);

    // The connection drops: down, then a second connect.
    sim.session.connection_lost(sim.now);
    sim.pump();
    assert!(!sim.session.metrics().agent_connected);
    sim.advance(secs(1));
    sim.connect();
    let m = sim.session.metrics();
    assert_eq!((m.agent_connected, m.agent_connects), (true, 2));
    sim.send_update(1, 9000, true);
    let c = counters(&sim, "x509");
    assert_eq!((c.updates, c.last_update), (2, Some(sim.unix_now)));
    assert_eq!(sim.session.metrics().x509_svid.unwrap().1, BASE_UNIX + 9000);
}

#[test]
fn a_stall_is_counted_once_per_stall() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 80, true);
    sim.advance(secs(60) - Duration::from_millis(1));
    assert_eq!(sim.session.metrics().agent_stalls, 0);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.session.metrics().agent_stalls, 1);
    for (_, ping) in is(&sim.sent(), kind::PING) {
        sim.server(&frame(kind::PING, flag::ACK, 0, &ping));
    }
    sim.advance(secs(15));
    assert_eq!(sim.session.metrics().agent_stalls, 2);
}

#[test]
fn signals_and_restarts_of_the_workload_are_counted() {
    let mut sim = with_cmd(false);
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.send_update(1, 7200, false);
    sim.send_update(1, 9000, false);
    assert_eq!(sim.seen.workload, ["start", "signal", "signal"]);
    // Two signals to cmd, three delivered to the pid file's process.
    let m = sim.session.metrics();
    assert_eq!((m.workload_signals, m.workload_starts), (5, 1));
    // A pid-file attempt that fails is not a signal.
    sim.pid_ok = false;
    sim.send_update(1, 9100, false);
    assert_eq!(sim.session.metrics().workload_signals, 6);

    let mut sim = restarting(Restart::Always);
    assert_eq!(sim.session.metrics().workload_starts, 1);
    sim.cmd_exits_after(secs(5), ProcessStatus::Code(1));
    sim.cmd_exits_after(secs(5), ProcessStatus::Code(1));
    assert_eq!(sim.session.metrics().workload_starts, 2);
    // The second restart is due 2 s after the exit.
    sim.advance(secs(2));
    assert_eq!(sim.seen.started_at.len(), 3);
    assert_eq!(sim.session.metrics().workload_starts, 3);
    let mut text = String::new();
    let build = crate::metrics::BuildInfo {
        version: "v",
        commit: "c",
    };
    sim.session.metrics().render(&build, &mut text);
    assert!(
        text.contains("\nspiffe_helper_workload_restarts_total 2\n"),
        "{text}"
    );
}

#[test]
fn hook_runs_are_counted_by_result() {
    let mut sim = with_hooks(false);
    let runs = |sim: &Sim, id: usize| {
        let m = sim.session.metrics();
        HookResult::ALL
            .iter()
            .zip(m.hook_runs[id])
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (r.as_str(), n))
            .collect::<Vec<_>>()
    };
    assert_eq!(sim.session.metrics().hook_runs, [[0; 4]; 2]);
    sim.send_update(1, 3600, true);
    sim.hook_ends(0, Some(ProcessStatus::Code(0)));
    sim.send_update(1, 3700, false);
    sim.hook_ends(0, Some(ProcessStatus::Code(2)));
    sim.send_update(1, 3800, false);
    sim.hook_ends(0, None);
    sim.send_update(1, 3900, false);
    sim.advance(secs(10));
    assert_eq!(sim.seen.hook_kills.len(), 1);
    assert_eq!(
        runs(&sim, 0),
        [("failure", 1), ("not_started", 1), ("success", 1)]
    );
    sim.hook_ends(0, Some(ProcessStatus::Signal(9)));
    assert_eq!(
        runs(&sim, 0),
        [
            ("failure", 1),
            ("not_started", 1),
            ("success", 1),
            ("timeout", 1)
        ]
    );
    assert_eq!(runs(&sim, 1), []);
}

#[test]
fn jwt_outputs_count_their_writes_and_refusals_and_show_the_token_expiry() {
    let mut sim = Sim::with(jwt_config("svc"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    let labels: Vec<String> = sim
        .session
        .metrics()
        .outputs
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(labels, ["x509", "jwt_bundle", "jwt_svid:svc"]);
    sim.server(&reply(3, &bundles_message()));
    assert_eq!(counters(&sim, "jwt_bundle").updates, 1);
    sim.sent();
    sim.server(&jwt_svid_response(5, &es256_token()));
    assert_eq!(counters(&sim, "jwt_svid:svc").updates, 1);
    let m = sim.session.metrics();
    // The test token's exp: 300 s after JWT_NOW.
    assert_eq!(m.jwt_svids, [("svc".to_string(), Some(JWT_NOW + 300))]);

    let mut sim = Sim::with(jwt_config("another-audience"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    sim.server(&reply(3, &bundles_message()));
    sim.sent();
    sim.server(&jwt_svid_response(5, &es256_token()));
    let label = "jwt_svid:another-audience";
    assert_eq!(failures(&sim, label, FailureReason::Verification), 1);
    assert_eq!(counters(&sim, label).updates, 0);
    assert_eq!(
        sim.session.metrics().jwt_svids,
        [("another-audience".to_string(), None)]
    );
}
