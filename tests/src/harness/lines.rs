//! Collects the lines a child process prints on a pipe, on a background thread, so tests can
//! wait for a line without blocking on the pipe themselves.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lines read so far from one or more pipes, shared with the reader threads.
#[derive(Clone, Default)]
pub struct Lines {
    inner: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Default)]
struct State {
    lines: Vec<String>,
    open_pipes: usize,
}

impl Lines {
    /// Starts a thread that appends every line of `pipe` (lossy UTF-8) until EOF.
    pub fn follow(&self, pipe: impl Read + Send + 'static) {
        self.lock().open_pipes += 1;
        let this = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_owned();
                this.lock().lines.push(text);
                this.inner.1.notify_all();
            }
            this.lock().open_pipes -= 1;
            this.inner.1.notify_all();
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of every line read so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    /// Waits until every pipe reached EOF, then returns all lines joined with newlines (what
    /// [`Lines::text`] returns at that point, or at the timeout).
    pub fn text_at_eof(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.open_pipes > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .inner
                .1
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.lines.join("\n")
    }

    /// Every line read so far, joined with newlines (for failure messages).
    pub fn text(&self) -> String {
        self.snapshot().join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lock()
            .lines
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until the line at index `index` exists; `None` on timeout or when every pipe
    /// closed first.
    pub fn wait_line(&self, index: usize, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(line) = state.lines.get(index) {
                return Some(line.clone());
            }
            let now = Instant::now();
            if now >= deadline || state.open_pipes == 0 {
                return None;
            }
            state = self
                .inner
                .1
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until at least `n` lines contain `needle`.
    pub fn wait_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.lines.iter().filter(|l| l.contains(needle)).count() >= n {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || state.open_pipes == 0 {
                return false;
            }
            state = self
                .inner
                .1
                .wait_timeout(state, (deadline - now).min(Duration::from_millis(200)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
