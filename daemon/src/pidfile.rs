//! `pid_file_name`: after each X.509 update the helper reads the pid file afresh and sends
//! `renew_signal` to that process. The retries (upstream's 10 attempts, 100 ms × 2^k apart,
//! `pkg/sidecar/sidecar.go@v0.11.0`)
//! are the session's timers; one attempt is done here, without blocking.

use std::fmt;
use std::io::Read;

use crate::child::{ChildError, signal_process};
use crate::oserror::path_error;

/// Why one attempt failed; worded as upstream's errors (`signalPIDFile` in
/// `pkg/sidecar/sidecar.go@v0.11.0`).
#[derive(Debug)]
pub(crate) enum PidFileError {
    /// The file could not be opened (`op` "open") or read ("read").
    Read {
        /// The pid file.
        path: String,
        /// The operation that failed, as Go's `*fs.PathError` names it.
        op: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// The content is not an integer for Go's `strconv.Atoi`: the path, the text and why.
    Parse(String, String, AtoiError),
    /// The process could not be signalled.
    Signal(ChildError),
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, op, error } => write!(
                f,
                "failed to read pid file \"{path}\": {}",
                path_error(op, path, error)
            ),
            Self::Parse(path, text, why) => write!(
                f,
                "failed to parse pid file \"{path}\": strconv.Atoi: parsing {text:?}: {why}"
            ),
            Self::Signal(e) => write!(f, "{e}"),
        }
    }
}

/// Reads `path` as Go's `os.ReadFile` (open, then read), takes the integer Go's
/// `strconv.Atoi` reads from its trimmed text, and sends `renew_signal` to that process.
pub(crate) fn signal(path: &str, renew_signal: &str) -> Result<(), PidFileError> {
    let read_error = |op, error| PidFileError::Read {
        path: path.into(),
        op,
        error,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| read_error("open", e))?
        .read_to_end(&mut bytes)
        .map_err(|e| read_error("read", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    let pid = parse_atoi(text).map_err(|why| PidFileError::Parse(path.into(), text.into(), why))?;
    signal_process(pid, renew_signal).map_err(PidFileError::Signal)
}

/// Why Go's `strconv.Atoi` refuses a text; displayed as its `strconv.ErrSyntax` and
/// `strconv.ErrRange`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtoiError {
    /// Not an optional sign followed by ASCII digits.
    Syntax,
    /// Outside the 64-bit range.
    Range,
}

impl fmt::Display for AtoiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "invalid syntax",
            Self::Range => "value out of range",
        })
    }
}

/// Go's `strconv.Atoi` on 64 bits: an optional sign, then ASCII digits.
fn parse_atoi(text: &str) -> Result<i64, AtoiError> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AtoiError::Syntax);
    }
    text.strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .map_err(|_| AtoiError::Range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse_like_atoi() {
        assert_eq!(parse_atoi("42"), Ok(42));
        assert_eq!(parse_atoi("+42"), Ok(42));
        assert_eq!(parse_atoi("-3"), Ok(-3));
        assert_eq!(parse_atoi("0"), Ok(0));
        for bad in ["", "+", "0x10", " 4", "4 2", "abc", "--3"] {
            assert_eq!(parse_atoi(bad), Err(AtoiError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_atoi("99999999999999999999"), Err(AtoiError::Range));
        assert_eq!(AtoiError::Syntax.to_string(), "invalid syntax");
        assert_eq!(AtoiError::Range.to_string(), "value out of range");
    }

    /// A fresh directory for one test.
    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pidfile-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn errors_name_the_file() {
        let dir = temp_dir("test");
        let missing = dir.join("missing.pid");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            signal(missing, "SIGHUP").unwrap_err().to_string(),
            format!(
                "failed to read pid file \"{missing}\": open {missing}: no such file or directory"
            )
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
        let read_dir = dir.to_str().unwrap();
        assert_eq!(
            signal(read_dir, "SIGHUP").unwrap_err().to_string(),
            format!("failed to read pid file \"{read_dir}\": read {read_dir}: is a directory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What Go's `os.Process.Signal` says for pids that name no live process we may signal,
    /// after upstream's `error signaling process with signal num <description>: `
    /// (`pkg/sidecar/util_posix.go@v0.11.0`).
    #[test]
    fn signal_errors_are_gos() {
        let dir = temp_dir("signal");
        let file = dir.join("app.pid");
        let path = file.to_str().unwrap();
        let mut exited = std::process::Command::new("true").spawn().unwrap();
        exited.wait().unwrap();
        let cases = [
            ("0\n".to_owned(), "hangup: os: process not initialized"),
            ("-1".to_owned(), "hangup: os: process already released"),
            (
                "-7".to_owned(),
                "hangup: pid -7 names a process group, which is not signalled",
            ),
            (
                exited.id().to_string(),
                "hangup: os: process already finished",
            ),
        ];
        for (content, want) in cases {
            std::fs::write(&file, &content).unwrap();
            let got = signal(path, "SIGHUP").unwrap_err().to_string();
            assert_eq!(
                got,
                format!("error signaling process with signal num {want}")
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
