//! OS errors worded as Go words them, so that messages match upstream's byte for byte:
//! `open helper.conf: no such file or directory` where Rust's `io::Error` would say
//! `No such file or directory (os error 2)`.
//!
//! Go prints an errno with `syscall.Errno.Error()`, whose Linux strings are glibc's
//! `strerror` texts starting in lower case (`zerrors_linux_*.go`); a failed file operation is
//! an `*fs.PathError`, printed `<op> <path>: <errno text>`.

use std::fmt;
use std::io;

use rustix::io::Errno;

/// Go's text for each errno this helper can meet (files, directories, sockets, processes).
const GO_ERRNO_TEXT: &[(Errno, &str)] = &[
    (Errno::PERM, "operation not permitted"),
    (Errno::NOENT, "no such file or directory"),
    (Errno::SRCH, "no such process"),
    (Errno::INTR, "interrupted system call"),
    (Errno::IO, "input/output error"),
    (Errno::NXIO, "no such device or address"),
    (Errno::TOOBIG, "argument list too long"),
    (Errno::NOEXEC, "exec format error"),
    (Errno::BADF, "bad file descriptor"),
    (Errno::CHILD, "no child processes"),
    (Errno::AGAIN, "resource temporarily unavailable"),
    (Errno::NOMEM, "cannot allocate memory"),
    (Errno::ACCESS, "permission denied"),
    (Errno::FAULT, "bad address"),
    (Errno::NOTBLK, "block device required"),
    (Errno::BUSY, "device or resource busy"),
    (Errno::EXIST, "file exists"),
    (Errno::XDEV, "invalid cross-device link"),
    (Errno::NODEV, "no such device"),
    (Errno::NOTDIR, "not a directory"),
    (Errno::ISDIR, "is a directory"),
    (Errno::INVAL, "invalid argument"),
    (Errno::NFILE, "too many open files in system"),
    (Errno::MFILE, "too many open files"),
    (Errno::NOTTY, "inappropriate ioctl for device"),
    (Errno::TXTBSY, "text file busy"),
    (Errno::FBIG, "file too large"),
    (Errno::NOSPC, "no space left on device"),
    (Errno::SPIPE, "illegal seek"),
    (Errno::ROFS, "read-only file system"),
    (Errno::MLINK, "too many links"),
    (Errno::PIPE, "broken pipe"),
    (Errno::DOM, "numerical argument out of domain"),
    (Errno::RANGE, "numerical result out of range"),
    (Errno::DEADLK, "resource deadlock avoided"),
    (Errno::NAMETOOLONG, "file name too long"),
    (Errno::NOLCK, "no locks available"),
    (Errno::NOSYS, "function not implemented"),
    (Errno::NOTEMPTY, "directory not empty"),
    (Errno::LOOP, "too many levels of symbolic links"),
    (Errno::OVERFLOW, "value too large for defined data type"),
    (
        Errno::ILSEQ,
        "invalid or incomplete multibyte or wide character",
    ),
    (Errno::NOTSOCK, "socket operation on non-socket"),
    (Errno::DESTADDRREQ, "destination address required"),
    (Errno::MSGSIZE, "message too long"),
    (Errno::PROTOTYPE, "protocol wrong type for socket"),
    (Errno::NOPROTOOPT, "protocol not available"),
    (Errno::PROTONOSUPPORT, "protocol not supported"),
    (Errno::NOTSUP, "operation not supported"),
    (
        Errno::AFNOSUPPORT,
        "address family not supported by protocol",
    ),
    (Errno::ADDRINUSE, "address already in use"),
    (Errno::ADDRNOTAVAIL, "cannot assign requested address"),
    (Errno::NETDOWN, "network is down"),
    (Errno::NETUNREACH, "network is unreachable"),
    (Errno::NETRESET, "network dropped connection on reset"),
    (Errno::CONNABORTED, "software caused connection abort"),
    (Errno::CONNRESET, "connection reset by peer"),
    (Errno::NOBUFS, "no buffer space available"),
    (Errno::ISCONN, "transport endpoint is already connected"),
    (Errno::NOTCONN, "transport endpoint is not connected"),
    (
        Errno::SHUTDOWN,
        "cannot send after transport endpoint shutdown",
    ),
    (Errno::TIMEDOUT, "connection timed out"),
    (Errno::CONNREFUSED, "connection refused"),
    (Errno::HOSTDOWN, "host is down"),
    (Errno::HOSTUNREACH, "no route to host"),
    (Errno::ALREADY, "operation already in progress"),
    (Errno::INPROGRESS, "operation now in progress"),
    (Errno::STALE, "stale file handle"),
    (Errno::REMOTEIO, "remote I/O error"),
    (Errno::DQUOT, "disk quota exceeded"),
    (Errno::NOMEDIUM, "no medium found"),
    (Errno::CANCELED, "operation canceled"),
];

/// `e` as Go's `syscall.Errno` prints it; `errno N` for a number outside the table (Go's
/// own fallback), and Rust's text for an error that carries no OS error number.
pub(crate) struct GoErrno<'a>(pub &'a io::Error);

impl fmt::Display for GoErrno<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(raw) = self.0.raw_os_error() else {
            return write!(f, "{}", self.0);
        };
        let errno = Errno::from_raw_os_error(raw);
        match GO_ERRNO_TEXT.iter().find(|(e, _)| *e == errno) {
            Some((_, text)) => f.write_str(text),
            None => write!(f, "errno {raw}"),
        }
    }
}

/// Go's `*fs.PathError` text: `<op> <path>: <errno text>`, e.g.
/// `open helper.conf: no such file or directory` or `read /etc: is a directory`.
pub(crate) fn path_error(op: &str, path: &str, e: &io::Error) -> String {
    format!("{op} {path}: {}", GoErrno(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno.raw_os_error())
    }

    #[test]
    fn errnos_read_as_go_prints_them() {
        let cases = [
            (Errno::NOENT, "no such file or directory"),
            (Errno::ACCESS, "permission denied"),
            (Errno::ISDIR, "is a directory"),
            (Errno::NOTDIR, "not a directory"),
            (Errno::LOOP, "too many levels of symbolic links"),
            (Errno::NAMETOOLONG, "file name too long"),
            (Errno::ROFS, "read-only file system"),
            (Errno::NOSPC, "no space left on device"),
            (Errno::CONNREFUSED, "connection refused"),
        ];
        for (errno, want) in cases {
            assert_eq!(GoErrno(&os(errno)).to_string(), want);
        }
        assert_eq!(
            path_error("open", "helper.conf", &os(Errno::NOENT)),
            "open helper.conf: no such file or directory"
        );
    }

    #[test]
    fn every_entry_is_a_distinct_lower_case_errno() {
        for (i, (errno, text)) in GO_ERRNO_TEXT.iter().enumerate() {
            assert!(
                GO_ERRNO_TEXT[..i].iter().all(|(e, _)| e != errno),
                "{text} twice"
            );
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        }
    }

    #[test]
    fn unknown_numbers_and_non_os_errors() {
        assert_eq!(
            GoErrno(&io::Error::from_raw_os_error(4000)).to_string(),
            "errno 4000"
        );
        let custom = io::Error::new(io::ErrorKind::InvalidData, "bad bytes");
        assert_eq!(GoErrno(&custom).to_string(), "bad bytes");
    }
}
