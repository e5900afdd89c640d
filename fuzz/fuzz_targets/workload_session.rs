//! The Workload API session (the helper's whole policy towards the agent) driven as the
//! daemon's loop drives it (every action performed at once), with every input a driver gives
//! in an arbitrary order: server bytes in arbitrary pieces, sockets that close, dials, writes and
//! pid-file signals that succeed or fail, monotonic time that passes and a wall clock that
//! steps. Besides never panicking, the session must:
//! - ask for a dial only when it has no connection (after its Disconnect or a loss);
//! - come to rest once its timers are handled: within a few rounds at one instant, no
//!   deadline is left at or before it (no tight loop);
//! - say nothing after its Exit, and have no deadline then;
//! - end one-shot mode with `Exit::Done` only once every configured output was written.
//!
//! Input: byte 0 is the configuration (bit 0 one-shot, bit 1 X.509 files, bit 2
//! verification, bit 3 the JWT bundle file, bits 4-5 how many JWT-SVIDs, bit 6 a pid file,
//! bit 7 the bundle options), bytes 1-8 the wall clock's start (Unix seconds, big endian);
//! then operations, each an opcode byte whose low 3 bits pick it and whose high 5 bits are
//! the fates (success or failure, in turn) of the dials, writes and signals it leads to:
//! 0, 6, 7 `len:u16 bytes` received; 1 time passes to the next deadline; 2 `t` t² × 100 ms
//! pass; 3 the socket closes; 4 `m:i8` the wall clock steps m minutes; 5 timers handled now.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::time::Instant;
use svid_core::workload::{
    Action, ClientConfig, Exit, JwtSvidOptions, Session, SessionConfig, Sub, X509Options,
};

/// Rounds of `handle_timeout` at one instant before the session must be at rest.
const SETTLE_ROUNDS: usize = 4;

fn config(flags: u8) -> SessionConfig {
    // The audiences of the recorded transcripts' FetchJWTSVID calls (fuzz/seeds).
    let jwt_svids = ["aud-one", "aud-two", "aud-three"][..usize::from((flags >> 4) & 3)]
        .iter()
        .map(|audience| JwtSvidOptions {
            audience: (*audience).into(),
            extra_audiences: Vec::new(),
        })
        .collect::<Vec<_>>();
    let jwt_bundle = flags & 8 != 0;
    let bundle_options = flags & 0x80 != 0;
    // Configuration validation refuses a helper with no output: X.509 stands in then.
    let x509 = (flags & 2 != 0 || (!jwt_bundle && jwt_svids.is_empty())).then_some(X509Options {
        add_intermediates_to_bundle: bundle_options,
        include_federated_domains: bundle_options,
        omit_expired: bundle_options,
        verify: flags & 4 != 0,
        credential_bundle: bundle_options,
        trust_domain_bundles: bundle_options,
        bundle_map: bundle_options,
    });
    SessionConfig {
        client: ClientConfig::default(),
        one_shot: flags & 1 != 0,
        hint: String::new(),
        x509,
        jwt_bundle,
        jwt_svids,
        pid_file: flags & 0x40 != 0,
    }
}

/// The outputs `config` asks for.
fn outputs(config: &SessionConfig) -> Vec<Sub> {
    let x509 = config.x509.as_ref().map(|_| Sub::X509);
    let bundle = config.jwt_bundle.then_some(Sub::JwtBundles);
    let svids = (0..config.jwt_svids.len()).map(Sub::JwtSvid);
    x509.into_iter().chain(bundle).chain(svids).collect()
}

/// The driver's side: its clocks, whether it holds a socket, the current fates, and what is
/// on disk.
struct Driver {
    session: Session,
    /// Outputs still to be written successfully.
    unwritten: Vec<Sub>,
    now: u64,
    unix_ms: i64,
    connected: bool,
    exited: bool,
    fates: u8,
    answered: u32,
    out: Vec<u8>,
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
                Action::WriteX509(_) => self.write(Sub::X509),
                Action::WriteJwtBundle(_) => self.write(Sub::JwtBundles),
                Action::WriteJwtSvid { index, .. } => self.write(Sub::JwtSvid(index)),
                Action::SignalPidFile { .. } => {
                    let ok = self.fate();
                    self.session.pid_signalled(now, ok);
                }
                Action::Report(_) => {}
                Action::Exit(exit) => {
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
        let _ = self.session.files_expired(self.unix_ms);
        let _ = self.session.agent_lost(self.instant());
    }

    /// Writes `sub`'s output, or fails to, as the fates say.
    fn write(&mut self, sub: Sub) {
        let ok = self.fate();
        if ok {
            self.unwritten.retain(|&s| s != sub);
        }
        self.session.written(self.instant(), self.unix_ms, sub, ok);
    }

    /// Moves both clocks forward by `ms`, then handles the timers until the session rests.
    fn pass(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.unix_ms = self
            .unix_ms
            .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        for _ in 0..SETTLE_ROUNDS {
            self.session.handle_timeout(self.instant(), self.unix_ms);
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
    let mut driver = Driver {
        unwritten: outputs(&config),
        session: Session::new(config),
        now: 0,
        unix_ms: i64::from_be_bytes(*start).saturating_mul(1000),
        connected: false,
        exited: false,
        fates: 0x1f,
        answered: 0,
        out: Vec::new(),
    };
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
                }
            }
            4 => {
                let Some((&m, tail)) = ops.split_first() else {
                    return;
                };
                ops = tail;
                let step = i64::from(m as i8) * 60_000;
                driver.unix_ms = driver.unix_ms.saturating_add(step);
            }
            5 => driver.pass(0),
            _ => {
                let Some((len, tail)) = ops.split_first_chunk::<2>() else {
                    return;
                };
                let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
                let (bytes, tail) = tail.split_at(len);
                ops = tail;
                // Bytes come only from a socket the driver holds.
                if driver.connected {
                    driver.session.recv(driver.instant(), driver.unix_ms, bytes);
                }
            }
        }
        driver.drain();
    }
});
