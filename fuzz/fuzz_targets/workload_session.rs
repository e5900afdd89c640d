//! The Workload API session (the helper's whole policy towards the agent) driven as the
//! daemon's loop drives it (every action performed at once), with every input a driver gives
//! in an arbitrary order: server bytes in arbitrary pieces, sockets that close, dials, writes,
//! pid-file signals and `cmd` starts that succeed or fail, a `cmd` that exits, monotonic time
//! that passes and a wall clock that steps. Besides never panicking, the session must:
//! - ask for a dial only when it has no connection (after its Disconnect or a loss);
//! - come to rest once its timers are handled: within a few rounds at one instant, no
//!   deadline is left at or before it (no tight loop);
//! - say nothing after its Exit, and have no deadline then;
//! - end one-shot mode with `Exit::Done` only once every configured output was written;
//! - ask to start `cmd` only in daemon mode while it is not running, and to signal it only
//!   while it runs (a wrapper's program only once every output was written); run a hook
//!   only while that hook is not running, and kill one only while it runs; kill `cmd` only
//!   while it runs, after SIGTERM (never a wrapper's program);
//! - notify the service manager only when it listens: `READY=1` once, with every output
//!   written, and `STOPPING=1` right before the Exit;
//! - never count backwards: every counter of its metrics is at least what it was, and the
//!   metrics render.
//!
//! Input: byte 0 is the configuration (bit 0 one-shot, bit 1 X.509 files, bit 2
//! verification, bit 3 the JWT bundle file, bits 4-5 how many JWT-SVIDs, bit 6 a pid file,
//! bit 7 the bundle options and a 30 s `timeout`; a `cmd` whenever bit 6 or 7 is set, its
//! restart policy `never` with bit 6 alone, `on-failure` with bit 7 alone, `always` with
//! both, wrapper mode with bit 6 alone and bit 3; a service manager listening with bit 6, with a 10 s watchdog with bit 7 too; two
//! hooks (on `x509`, 5 s timeout; on `jwt_svid` and `jwt_bundle`, 1 s) with bit 2),
//! bytes 1-8 the wall clock's start (Unix seconds, big endian); then operations, each an
//! opcode byte whose low 3 bits pick it and whose high 5 bits are the fates (success or
//! failure, in turn) of the dials, writes, signals and starts it leads to: 0, 6 `len:u16
//! bytes` received; 7 `len:u16 bytes` received, or with no socket, the first running hook
//! ends (not started, when the fates say so) or else the `cmd` exits; 1 time
//! passes to the next deadline; 2 `t` t² × 100 ms pass; 3 the socket closes, or with no
//! socket, SIGTERM arrives; 4 `m:i8` the wall clock steps m minutes; 5 timers handled now.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use svid_core::config::{HookEvent, Restart};
use svid_core::metrics::{BuildInfo, Metrics};
use svid_core::time::{Instant, UnixTime};
use svid_core::workload::{
    Action, ClientConfig, Exit, HookOptions, JwtSvidOptions, Notify, NotifyConfig, ProcessStatus,
    Session, SessionConfig, Subscription, X509Options,
};
use svid_core::x509::EntryOptions;

/// Rounds of `handle_timeout` at one instant before the session must be at rest.
const SETTLE_ROUNDS: usize = 4;

fn config(flags: u8) -> SessionConfig {
    // The audiences of the recorded transcripts' FetchJWTSVID calls (fuzz/seeds).
    let jwt_svids = ["aud-one", "aud-two", "aud-three"][..usize::from((flags >> 4) & 3)]
        .iter()
        .map(|audience| JwtSvidOptions {
            audience: (*audience).into(),
            extra_audiences: Vec::new(),
            path: format!("{audience}.token"),
        })
        .collect::<Vec<_>>();
    let jwt_bundle = (flags & 8 != 0).then(|| "jwt_bundle.json".to_owned());
    let bundle_options = flags & 0x80 != 0;
    // Configuration validation refuses a helper with no output: X.509 stands in then.
    let x509 =
        (flags & 2 != 0 || (jwt_bundle.is_none() && jwt_svids.is_empty())).then_some(X509Options {
            add_intermediates_to_bundle: bundle_options,
            include_federated_domains: bundle_options,
            omit_expired: bundle_options,
            verify: flags & 4 != 0,
            credential_bundle: bundle_options,
            trust_domain_bundles: bundle_options,
            bundle_map: bundle_options,
            pkcs12: bundle_options,
            // x509_svids: `other` is the hint of the `--hinted` agent's SVID; no SVID has
            // `absent`.
            entries: ["other", "absent"]
                .into_iter()
                .filter(|_| bundle_options)
                .map(|hint| EntryOptions {
                    hint: hint.into(),
                    credential_bundle: true,
                    pkcs12: true,
                })
                .collect(),
        });
    SessionConfig {
        client: ClientConfig::default(),
        one_shot: flags & 1 != 0,
        hint: String::new(),
        x509,
        jwt_bundle,
        jwt_svids,
        pid_file: flags & 0x40 != 0,
        workload: flags & 0xc0 != 0,
        wrap: flags >> 6 == 1 && flags & 8 != 0,
        restart: match flags >> 6 {
            2 => Restart::OnFailure,
            3 => Restart::Always,
            _ => Restart::Never,
        },
        timeout: (flags & 0x80 != 0).then(|| Duration::from_secs(30)),
        notify: (flags & 0x40 != 0).then(|| NotifyConfig {
            watchdog: (flags & 0x80 != 0).then(|| Duration::from_secs(10)),
        }),
        hooks: if flags & 4 != 0 {
            vec![
                HookOptions {
                    on: vec![HookEvent::X509],
                    timeout: Duration::from_secs(5),
                },
                HookOptions {
                    on: vec![HookEvent::JwtSvid, HookEvent::JwtBundle],
                    timeout: Duration::from_secs(1),
                },
            ]
        } else {
            Vec::new()
        },
    }
}

/// The outputs `config` asks for.
fn outputs(config: &SessionConfig) -> Vec<Subscription> {
    let x509 = config.x509.as_ref().map(|_| Subscription::X509);
    let bundle = config.jwt_bundle.as_ref().map(|_| Subscription::JwtBundles);
    let svids = (0..config.jwt_svids.len()).map(Subscription::JwtSvid);
    x509.into_iter().chain(bundle).chain(svids).collect()
}

/// The driver's side: its clocks, whether it holds a socket, the current fates, and what is
/// on disk.
struct Driver {
    session: Session,
    /// Outputs still to be written successfully.
    unwritten: Vec<Subscription>,
    now: u64,
    unix_now: UnixTime,
    connected: bool,
    exited: bool,
    /// SIGTERM arrived.
    terminated: bool,
    one_shot: bool,
    /// The `cmd` process the driver started and has not seen exit.
    running: Option<u32>,
    /// Wrapper mode.
    wrap: bool,
    /// The hooks the driver is running, and whether each was asked to be killed.
    hooks: [Option<bool>; 2],
    /// A service manager listens.
    notified: bool,
    /// `READY=1` was sent.
    ready: bool,
    /// The last action was `STOPPING=1`.
    stopping: bool,
    fates: u8,
    answered: u32,
    out: Vec<u8>,
    /// The metrics after the last round.
    metrics: Metrics,
}

impl Driver {
    fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// The next fate from the current opcode's five bits, in turn.
    fn fate(&mut self) -> bool {
        let ok = self.fates >> (self.answered % 5) & 1 != 0;
        self.answered += 1;
        ok
    }

    /// Performs every action at once, as the daemon does, then sends what is queued.
    fn drain(&mut self) {
        while let Some(action) = self.session.poll_action() {
            assert!(!self.exited, "{action:?} after Exit");
            let stopping = std::mem::replace(&mut self.stopping, false);
            let now = self.instant();
            match action {
                Action::Dial => {
                    assert!(!self.connected, "a dial while connected");
                    if self.fate() {
                        self.connected = true;
                        self.session.connected(now);
                    } else {
                        self.session.connection_lost(now);
                    }
                }
                Action::Disconnect => self.connected = false,
                Action::WriteX509(_) => self.write(Subscription::X509),
                Action::WriteJwtBundle { .. } => self.write(Subscription::JwtBundles),
                Action::WriteJwtSvid { index, .. } => self.write(Subscription::JwtSvid(index)),
                Action::SignalPidFile { .. } => {
                    let ok = self.fate();
                    self.session.pid_signalled(now, ok);
                }
                Action::StartWorkload => {
                    assert!(!self.one_shot, "a start in one-shot mode");
                    assert!(self.running.is_none(), "a start while cmd runs");
                    if self.wrap {
                        assert_eq!(
                            self.unwritten,
                            [],
                            "a wrapper's start with outputs not written"
                        );
                    }
                    self.running = self.fate().then_some(self.answered);
                    self.session.workload_started(now, self.running);
                }
                Action::SignalWorkload | Action::ForwardSignal(_) => {
                    assert!(self.running.is_some(), "a signal with no cmd running");
                }
                Action::KillWorkload => {
                    assert!(self.running.is_some(), "a kill with no cmd running");
                    assert!(self.terminated, "a kill with no SIGTERM");
                    assert!(!self.wrap, "a wrapper's program killed");
                }
                Action::RunHook { id, .. } => {
                    assert!(self.hooks[id].is_none(), "a second run of hook {id}");
                    self.hooks[id] = Some(false);
                }
                Action::KillHook { id } => {
                    assert_eq!(
                        self.hooks[id],
                        Some(false),
                        "a kill of hook {id} not running"
                    );
                    self.hooks[id] = Some(true);
                }
                Action::Report(_) => {}
                Action::Notify(notify) => {
                    assert!(self.notified, "{notify:?} with no service manager");
                    match notify {
                        Notify::Ready => {
                            assert!(!self.ready, "READY=1 twice");
                            assert_eq!(self.unwritten, [], "READY=1 with outputs not written");
                            self.ready = true;
                        }
                        Notify::Stopping => self.stopping = true,
                        Notify::Status { .. } | Notify::Watchdog => {}
                    }
                }
                Action::Exit(exit) => {
                    assert_eq!(stopping, self.notified, "STOPPING=1 right before Exit");
                    if exit == Exit::Done {
                        assert_eq!(self.unwritten, [], "Done with outputs not written");
                    }
                    self.exited = true;
                }
            }
        }
        self.out.clear();
        self.session.poll_transmit(&mut self.out);
        if self.exited {
            assert_eq!(self.session.poll_timeout(), None, "a deadline after Exit");
        }
        let _ = self.session.health(self.instant(), self.unix_now);
        self.check_metrics();
    }

    /// No counter goes down; the text renders.
    fn check_metrics(&mut self) {
        let now = self.session.metrics();
        let before = &self.metrics;
        for ((output, c), (_, b)) in now.outputs.iter().zip(&before.outputs) {
            assert!(c.updates >= b.updates, "{output}: updates went down");
            let mut failures = c.failures.iter().zip(b.failures);
            assert!(failures.all(|(n, b)| *n >= b), "{output}: failures");
        }
        let plain = |m: &Metrics| {
            [
                m.agent_connects,
                m.agent_stalls,
                m.workload_signals,
                m.workload_starts,
            ]
        };
        let mut pairs = plain(&now).into_iter().zip(plain(before));
        assert!(pairs.all(|(n, b)| n >= b), "a counter went down");
        let mut runs = now
            .hook_runs
            .iter()
            .flatten()
            .zip(before.hook_runs.iter().flatten());
        assert!(runs.all(|(n, b)| n >= b), "hook runs went down");
        let mut text = String::new();
        now.render(
            &BuildInfo {
                version: "v",
                commit: "c",
            },
            &mut text,
        );
        self.metrics = now;
    }

    /// Writes `sub`'s output, or fails to, as the fates say.
    fn write(&mut self, sub: Subscription) {
        let ok = self.fate();
        if ok {
            self.unwritten.retain(|&s| s != sub);
        }
        self.session.written(self.instant(), self.unix_now, sub, ok);
    }

    /// Moves both clocks forward by `ms`, then handles the timers until the session rests.
    fn pass(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.unix_now = self.unix_now + Duration::from_millis(ms);
        for _ in 0..SETTLE_ROUNDS {
            self.session.handle_timeout(self.instant(), self.unix_now);
            self.drain();
            if self
                .session
                .poll_timeout()
                .is_none_or(|t| t > self.instant())
            {
                return;
            }
        }
        panic!(
            "no rest after {SETTLE_ROUNDS} rounds at {}: next deadline {:?}",
            self.now,
            self.session.poll_timeout()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((start, mut ops)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let config = config(flags);
    let wrap = config.wrap;
    let mut driver = Driver {
        unwritten: outputs(&config),
        session: Session::new(config, Instant::from_millis(0)),
        now: 0,
        unix_now: UnixTime::from_secs(i64::from_be_bytes(*start)),
        connected: false,
        exited: false,
        terminated: false,
        one_shot: flags & 1 != 0,
        running: None,
        hooks: [None; 2],
        wrap,
        notified: flags & 0x40 != 0,
        ready: false,
        stopping: false,
        fates: 0x1f,
        answered: 0,
        out: Vec::new(),
        metrics: Metrics::default(),
    };
    driver.metrics = driver.session.metrics();
    driver.drain();
    while let Some((&op, tail)) = ops.split_first() {
        ops = tail;
        driver.fates = op >> 3;
        driver.answered = 0;
        match op & 7 {
            1 => {
                if let Some(at) = driver.session.poll_timeout() {
                    driver.pass(at.as_millis().saturating_sub(driver.now));
                }
            }
            2 => {
                let Some((&t, tail)) = ops.split_first() else {
                    return;
                };
                ops = tail;
                driver.pass(u64::from(t) * u64::from(t) * 100);
            }
            3 => {
                if driver.connected {
                    driver.connected = false;
                    driver.session.connection_lost(driver.instant());
                } else {
                    driver.terminated = true;
                    driver.session.stop(driver.instant(), 15);
                }
            }
            4 => {
                let Some((&m, tail)) = ops.split_first() else {
                    return;
                };
                ops = tail;
                let step = i64::from(m as i8) * 60_000;
                driver.unix_now =
                    UnixTime::from_millis(driver.unix_now.as_millis().saturating_add(step));
            }
            5 => driver.pass(0),
            7 if !driver.connected => {
                if let Some(id) = driver.hooks.iter().position(Option::is_some) {
                    driver.hooks[id] = None;
                    let status = driver
                        .fate()
                        .then_some(ProcessStatus::Code(i32::from(driver.fates)));
                    driver.session.hook_finished(driver.instant(), id, status);
                } else if driver.running.take().is_some() {
                    let status = ProcessStatus::Code(i32::from(driver.fates));
                    driver.session.workload_exited(driver.instant(), status);
                }
            }
            _ => {
                let Some((len, tail)) = ops.split_first_chunk::<2>() else {
                    return;
                };
                let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
                let (bytes, tail) = tail.split_at(len);
                ops = tail;
                // Bytes come only from a socket the driver holds.
                if driver.connected {
                    driver.session.recv(driver.instant(), driver.unix_now, bytes);
                }
            }
        }
        driver.drain();
    }
});
