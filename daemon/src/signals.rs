//! SIGTERM, SIGINT and SIGCHLD as the event loop sees them: each sets its flag and writes a
//! byte to a self-pipe (a socket pair) whose read end the loop polls, so a signal wakes the
//! loop and is then read from the flags, with no second thread and no unsafe code here.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::Signal;
use signal_hook::low_level::pipe;

/// The installed handlers; poll its file descriptor for readability.
pub struct Signals {
    wake: UnixStream,
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    child: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> io::Result<Signals> {
        let (wake, notify) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let signals = Signals {
            wake,
            term: Arc::default(),
            int: Arc::default(),
            child: Arc::default(),
        };
        for (signal, flag) in [
            (Signal::TERM, &signals.term),
            (Signal::INT, &signals.int),
            (Signal::CHILD, &signals.child),
        ] {
            signal_hook::flag::register(signal.as_raw(), Arc::clone(flag))?;
            pipe::register(signal.as_raw(), notify.try_clone()?)?;
        }
        Ok(signals)
    }

    /// Drains the wake-ups; returns a terminating signal that arrived (SIGTERM first) and
    /// whether a child changed state.
    pub fn take(&self) -> (Option<Signal>, bool) {
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        let child = self.child.swap(false, Ordering::SeqCst);
        let terminate = if self.term.swap(false, Ordering::SeqCst) {
            Some(Signal::TERM)
        } else if self.int.swap(false, Ordering::SeqCst) {
            Some(Signal::INT)
        } else {
            None
        };
        (terminate, child)
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}
