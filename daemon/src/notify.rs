//! The service manager's notification socket (systemd's `sd_notify(3)` protocol, without
//! libsystemd): one `AF_UNIX` datagram per [`Notify`] the session asks for, to the path or
//! abstract name (`@name`) in `NOTIFY_SOCKET`. When to send what is the session's decision;
//! this file only reads the environment, words the assignments and sends them.

use std::fmt;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};
use svid_core::workload::{Notify, NotifyConfig, Subscription};

/// The datagram socket and the manager's address.
pub(crate) struct Notifier {
    socket: OwnedFd,
    addr: SocketAddrUnix,
}

/// Why `NOTIFY_SOCKET` cannot be used.
#[derive(Debug)]
pub(crate) enum NotifyError {
    /// Neither an absolute path nor `@name` (systemd's `vsock:` addresses among them).
    Unsupported(String),
    /// The address or the socket could not be made.
    Socket(String, rustix::io::Errno),
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(a) => write!(
                f,
                "NOTIFY_SOCKET {a:?} is neither an absolute path nor an abstract @name"
            ),
            Self::Socket(a, e) => write!(f, "NOTIFY_SOCKET {a:?}: {e}"),
        }
    }
}

impl Notifier {
    /// The notifier for `NOTIFY_SOCKET`, or `None` when the variable is unset or empty.
    pub(crate) fn from_env() -> Option<Result<Notifier, NotifyError>> {
        let address = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|a| !a.is_empty())?;
        Some(Notifier::new(&address))
    }

    fn new(address: &str) -> Result<Notifier, NotifyError> {
        let failed = |e| NotifyError::Socket(address.to_owned(), e);
        let addr = if let Some(name) = address.strip_prefix('@') {
            SocketAddrUnix::new_abstract_name(name.as_bytes())
        } else if address.starts_with('/') {
            SocketAddrUnix::new(address)
        } else {
            return Err(NotifyError::Unsupported(address.to_owned()));
        }
        .map_err(failed)?;
        let socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(failed)?;
        Ok(Notifier { socket, addr })
    }

    /// Sends the assignment for `notify`; the manager not listening is the caller's to log.
    pub(crate) fn send(&self, notify: &Notify) -> rustix::io::Result<()> {
        let text = message(notify);
        rustix::net::sendto(
            &self.socket,
            text.as_bytes(),
            SendFlags::NOSIGNAL,
            &self.addr,
        )
        .map(drop)
    }
}

/// What the session needs to know of the manager: its watchdog interval, from
/// `WATCHDOG_USEC` when `WATCHDOG_PID` is unset or names this process
/// (`sd_watchdog_enabled(3)`).
pub(crate) fn config_from_env() -> NotifyConfig {
    let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let ours = env("WATCHDOG_PID").is_none_or(|pid| pid == std::process::id().to_string());
    let watchdog = env("WATCHDOG_USEC")
        .filter(|_| ours)
        .and_then(|usec| usec.parse::<u64>().ok())
        .filter(|&usec| usec > 0)
        .map(Duration::from_micros);
    NotifyConfig { watchdog }
}

/// The `sd_notify` assignment for `notify`.
fn message(notify: &Notify) -> String {
    match notify {
        Notify::Ready => "READY=1".into(),
        Notify::Watchdog => "WATCHDOG=1".into(),
        Notify::Stopping => "STOPPING=1".into(),
        Notify::Status {
            sub,
            spiffe_id,
            expires,
        } => {
            let kind = match sub {
                Subscription::X509 => "X.509-SVID",
                Subscription::JwtBundles | Subscription::JwtSvid(_) => "JWT-SVID",
            };
            let until = u64::try_from(*expires)
                .map_or_else(|_| expires.to_string(), crate::logger::rfc3339);
            format!("STATUS={kind} {spiffe_id} written, valid until {until}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_read_as_sd_notify_expects() {
        let status = Notify::Status {
            sub: Subscription::X509,
            spiffe_id: "spiffe://example.org/w".into(),
            expires: 1_893_456_000,
        };
        assert_eq!(
            message(&status),
            "STATUS=X.509-SVID spiffe://example.org/w written, valid until 2030-01-01T00:00:00Z"
        );
        assert_eq!(message(&Notify::Ready), "READY=1");
        assert_eq!(message(&Notify::Watchdog), "WATCHDOG=1");
        assert_eq!(message(&Notify::Stopping), "STOPPING=1");
    }

    #[test]
    fn only_paths_and_abstract_names_are_addresses() {
        assert!(Notifier::new("/run/systemd/notify").is_ok());
        assert!(Notifier::new("@sd-notify-test").is_ok());
        let e = Notifier::new("vsock:2:1234").err().unwrap();
        assert_eq!(
            e.to_string(),
            "NOTIFY_SOCKET \"vsock:2:1234\" is neither an absolute path nor an abstract @name"
        );
    }
}
