//! SIGTERM, SIGINT, SIGHUP and SIGCHLD (and in wrapper mode SIGUSR1, SIGUSR2, SIGQUIT, to
//! forward) as the event loop sees them: each sets its flag and writes a byte to a self-pipe
//! (a socket pair) whose read end the loop polls, so a signal wakes the loop and is then read
//! from the flags, with no second thread and no unsafe code here.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::Signal;
use signal_hook::low_level::pipe;

/// The installed handlers; poll its file descriptor for readability.
pub(crate) struct Signals {
    wake: UnixStream,
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
    child: Arc<AtomicBool>,
    /// Wrapper mode: SIGUSR1, SIGUSR2, SIGQUIT, forwarded to the program.
    usr1: Arc<AtomicBool>,
    usr2: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
}

/// What arrived since the last look.
pub(crate) struct Arrived {
    /// SIGTERM or SIGINT (SIGTERM first if both): the helper shuts down.
    pub terminate: Option<Signal>,
    /// SIGHUP: forwarded to the child, as init shims do.
    pub hangup: bool,
    /// Wrapper mode: SIGUSR1, SIGUSR2 and SIGQUIT that arrived, to forward to the program.
    pub forward: Vec<Signal>,
    /// SIGCHLD: a child changed state.
    pub child: bool,
}

impl Signals {
    /// Installs the handlers; `wrap` (wrapper mode) also catches SIGUSR1, SIGUSR2 and
    /// SIGQUIT, which otherwise keep their default action.
    pub(crate) fn install(wrap: bool) -> io::Result<Signals> {
        let (wake, notify) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let signals = Signals {
            wake,
            term: Arc::default(),
            int: Arc::default(),
            hup: Arc::default(),
            child: Arc::default(),
            usr1: Arc::default(),
            usr2: Arc::default(),
            quit: Arc::default(),
        };
        let forwarded = [
            (Signal::USR1, &signals.usr1),
            (Signal::USR2, &signals.usr2),
            (Signal::QUIT, &signals.quit),
        ];
        let always = [
            (Signal::TERM, &signals.term),
            (Signal::INT, &signals.int),
            (Signal::HUP, &signals.hup),
            (Signal::CHILD, &signals.child),
        ];
        let extra = if wrap { &forwarded[..] } else { &[] };
        for &(signal, flag) in always.iter().chain(extra) {
            signal_hook::flag::register(signal.as_raw(), Arc::clone(flag))?;
            pipe::register(signal.as_raw(), notify.try_clone()?)?;
        }
        Ok(signals)
    }

    /// Drains the wake-ups and reports what arrived.
    pub(crate) fn take(&self) -> Arrived {
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        let took = |flag: &AtomicBool| flag.swap(false, Ordering::SeqCst);
        let terminate = if took(&self.term) {
            Some(Signal::TERM)
        } else if took(&self.int) {
            Some(Signal::INT)
        } else {
            None
        };
        let forward = [
            (Signal::USR1, &self.usr1),
            (Signal::USR2, &self.usr2),
            (Signal::QUIT, &self.quit),
        ]
        .into_iter()
        .filter(|(_, flag)| took(flag))
        .map(|(signal, _)| signal)
        .collect();
        Arrived {
            terminate,
            hangup: took(&self.hup),
            child: took(&self.child),
            forward,
        }
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}
