//! `pid_file_name`: after each X.509 update the helper reads the pid file afresh and sends
//! `renew_signal` to that process. The retries (upstream's 10 attempts, 100 ms × 2^k apart)
//! are the session's timers; one attempt is done here, without blocking.

use std::fmt;

use crate::child::{ChildError, signal_process};

/// Why one attempt failed; worded as upstream's errors.
#[derive(Debug)]
pub enum PidFileError {
    /// The file could not be read.
    Read(String, std::io::Error),
    /// The content is not a decimal process id.
    Parse(String, String),
    /// The process could not be signalled.
    Signal(ChildError),
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(path, e) => write!(f, "failed to read pid file \"{path}\": {e}"),
            Self::Parse(path, text) => write!(
                f,
                "failed to parse pid file \"{path}\": strconv.Atoi: parsing \"{text}\": invalid syntax"
            ),
            Self::Signal(e) => write!(f, "{e}"),
        }
    }
}

/// Reads `path` (surrounding white space trimmed, a decimal pid as Go's `strconv.Atoi`
/// reads it) and sends `renew_signal` to that process.
pub fn signal(path: &str, renew_signal: &str) -> Result<(), PidFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| PidFileError::Read(path.into(), e))?;
    let text = text.trim();
    let pid = parse_atoi(text).ok_or_else(|| PidFileError::Parse(path.into(), text.into()))?;
    signal_process(pid, renew_signal).map_err(PidFileError::Signal)
}

/// Go's `strconv.Atoi` for the values a pid can take: an optional sign, ASCII digits. A
/// negative or zero value is no process we may signal.
fn parse_atoi(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&pid| pid > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse_like_atoi() {
        assert_eq!(parse_atoi("42"), Some(42));
        assert_eq!(parse_atoi("+42"), Some(42));
        for bad in ["", "0x10", " 4", "4 2", "-3", "0", "abc", "99999999999"] {
            assert_eq!(parse_atoi(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("pidfile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pid");
        let missing = missing.to_str().unwrap();
        let e = signal(missing, "SIGHUP").unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("failed to read pid file \"{missing}\": ")),
            "{e}"
        );
        let garbage = dir.join("garbage.pid");
        std::fs::write(&garbage, " nope \n").unwrap();
        let garbage = garbage.to_str().unwrap();
        assert_eq!(
            signal(garbage, "SIGHUP").unwrap_err().to_string(),
            format!(
                "failed to parse pid file \"{garbage}\": strconv.Atoi: parsing \"nope\": invalid syntax"
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
