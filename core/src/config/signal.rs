//! `renew_signal` names: exactly those of `golang.org/x/sys/unix.SignalNum` on Linux
//! (case-sensitive, `SIG` prefix required; no numbers, real-time signals or the aliases
//! `SIGIOT`, `SIGPOLL`, `SIGCLD`). Numbers are those of x86, x86_64, ARM, AArch64 and
//! RISC-V Linux.

const SIGNALS: [(&str, i32); 31] = [
    ("SIGHUP", 1),
    ("SIGINT", 2),
    ("SIGQUIT", 3),
    ("SIGILL", 4),
    ("SIGTRAP", 5),
    ("SIGABRT", 6),
    ("SIGBUS", 7),
    ("SIGFPE", 8),
    ("SIGKILL", 9),
    ("SIGUSR1", 10),
    ("SIGSEGV", 11),
    ("SIGUSR2", 12),
    ("SIGPIPE", 13),
    ("SIGALRM", 14),
    ("SIGTERM", 15),
    ("SIGSTKFLT", 16),
    ("SIGCHLD", 17),
    ("SIGCONT", 18),
    ("SIGSTOP", 19),
    ("SIGTSTP", 20),
    ("SIGTTIN", 21),
    ("SIGTTOU", 22),
    ("SIGURG", 23),
    ("SIGXCPU", 24),
    ("SIGXFSZ", 25),
    ("SIGVTALRM", 26),
    ("SIGPROF", 27),
    ("SIGWINCH", 28),
    ("SIGIO", 29),
    ("SIGPWR", 30),
    ("SIGSYS", 31),
];

/// The Linux signal number of a `renew_signal` name, or `None` if upstream rejects it
/// (`unix.SignalNum` in `pkg/sidecar/util_posix.go@v0.11.0`).
pub fn signal_number(name: &str) -> Option<i32> {
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, num)| num)
}

#[cfg(test)]
mod tests {
    use super::signal_number;

    #[test]
    fn accepted_names() {
        assert_eq!(signal_number("SIGHUP"), Some(1));
        assert_eq!(signal_number("SIGUSR1"), Some(10));
        assert_eq!(signal_number("SIGUSR2"), Some(12));
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("SIGSTKFLT"), Some(16));
        assert_eq!(signal_number("SIGWINCH"), Some(28));
        assert_eq!(signal_number("SIGSYS"), Some(31));
    }

    #[test]
    fn rejected_names() {
        for name in [
            "",
            "HUP",
            "sighup",
            "SigHup",
            "SIGHUP ",
            "1",
            "SIGIOT",
            "SIGPOLL",
            "SIGCLD",
            "SIGRTMIN",
            "SIGRTMIN+1",
            "SIGEMT",
            "SIGINFO",
        ] {
            assert_eq!(signal_number(name), None, "{name:?}");
        }
    }
}
