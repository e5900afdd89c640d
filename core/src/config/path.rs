//! Output paths and the agent address.
//!
//! Upstream joins every output file name to `cert_dir` with Go's `path.Join`
//! (`pkg/disk/x509.go@v0.11.0`, `pkg/disk/json.go@v0.11.0`; not
//! `filepath.Join`, and not Rust's `PathBuf::join`, where an absolute name replaces the
//! directory), and dials `"unix://" + agent_address`, which works only for absolute paths.
//! We accept that form and the `unix:` and `tcp:` URI forms of the SPIFFE Workload Endpoint
//! specification (§4), plus relative paths.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Go's `path.Join(dir, name)`: the non-empty parts joined by `/`, then cleaned as Go's
/// `path.Clean` does (`""` when both are empty).
pub fn join_path(dir: &str, name: &str) -> String {
    let joined = match (dir.is_empty(), name.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => String::from(name),
        (false, true) => String::from(dir),
        (false, false) => alloc::format!("{dir}/{name}"),
    };
    clean(&joined)
}

/// Go's `path.Clean`: one slash between elements, no `.` elements, `..` resolved against
/// the element before it (dropped at the root), `.` for an empty result.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => alloc::format!("/{body}"),
        (false, true) => String::from("."),
        (false, false) => body,
    }
}

/// Why an agent address cannot be used; the wording names the rule of the SPIFFE Workload
/// Endpoint specification, §4 "Locating the Endpoint" (`standards/SPIFFE_Workload_Endpoint.md`
/// in github.com/spiffe/spiffe).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// The address is empty.
    Empty,
    /// A URI scheme other than `unix` or `tcp` (e.g. `http://`).
    UnsupportedScheme(String),
    /// `unix://host/path`: the SPIFFE spec forbids an authority in unix URIs.
    UnixAuthority,
    /// `unix:` followed by a relative path, or by nothing.
    UnixPathNotAbsolute,
    /// `unix:` URI with a query (`?`), fragment (`#`) or percent-escape (`%`).
    UnixUriExtras,
    /// `tcp:` not followed by `//` and an authority (`tcp:127.0.0.1:8081`).
    TcpNoAuthority,
    /// `tcp://` URI with userinfo, a path, a query or a fragment.
    TcpUriExtras,
    /// `tcp://` URI whose host is not an IP literal (a name such as `localhost`).
    TcpHostNotIp,
    /// `tcp://` URI without a port, or with one that is not 1 to 65535.
    TcpPort,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("agent address is empty"),
            Self::UnsupportedScheme(scheme) => write!(
                f,
                "agent address scheme {scheme:?} is not supported: the SPIFFE Workload Endpoint \
                 scheme must be unix or tcp (/path, unix:///path, unix:/path or tcp://IP:PORT)"
            ),
            Self::UnixAuthority => f.write_str(
                "agent address unix URI must not have an authority: use unix:///absolute/path",
            ),
            Self::UnixPathNotAbsolute => {
                f.write_str("agent address unix URI must hold an absolute path")
            }
            Self::UnixUriExtras => f.write_str(
                "agent address unix URI must not have a query, a fragment or percent-escapes",
            ),
            Self::TcpNoAuthority => {
                f.write_str("agent address tcp URI must have the form tcp://IP:PORT")
            }
            Self::TcpUriExtras => f.write_str(
                "agent address tcp URI must not have userinfo, a path, a query or a fragment: \
                 use tcp://IP:PORT",
            ),
            Self::TcpHostNotIp => f.write_str(
                "agent address tcp URI host must be an IP address (v4, or v6 in brackets), \
                 not a name: use tcp://IP:PORT",
            ),
            Self::TcpPort => f.write_str(
                "agent address tcp URI must have a port from 1 to 65535: use tcp://IP:PORT",
            ),
        }
    }
}

impl core::error::Error for AddressError {}

/// Where the agent's Workload API listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the driver must be able to dial every endpoint"
)]
pub enum Endpoint<'a> {
    /// A Unix domain socket path, absolute or (a bare relative path) as given.
    Unix(&'a str),
    /// A TCP listen socket.
    Tcp(SocketAddr),
}

/// The endpoint named by `agent_address` (or `SPIFFE_ENDPOINT_SOCKET`).
///
/// Forms: a plain path, absolute (upstream's form) or relative (returned as given; the
/// daemon resolves it against its working directory); `unix:///path`; `unix:/path`;
/// `tcp://IP:PORT` with an IPv4 literal or a bracketed IPv6 literal. SPIFFE Workload
/// Endpoint §4: "If the scheme is set to `tcp`, then the host component of the authority
/// MUST be set to an IP address [...] no other component may be set." Other schemes are
/// rejected.
pub fn agent_endpoint(agent_address: &str) -> Result<Endpoint<'_>, AddressError> {
    if agent_address.is_empty() {
        return Err(AddressError::Empty);
    }
    if let Some(rest) = agent_address.strip_prefix("unix:") {
        let path = match rest.strip_prefix("//") {
            Some(after) if !after.is_empty() && !after.starts_with('/') => {
                return Err(AddressError::UnixAuthority);
            }
            Some(after) => after,
            None => rest,
        };
        if !path.starts_with('/') {
            return Err(AddressError::UnixPathNotAbsolute);
        }
        if path.contains(['?', '#', '%']) {
            return Err(AddressError::UnixUriExtras);
        }
        return Ok(Endpoint::Unix(path));
    }
    if let Some(rest) = agent_address.strip_prefix("tcp:") {
        return tcp_endpoint(rest).map(Endpoint::Tcp);
    }
    if let Some(scheme) = uri_scheme(agent_address) {
        return Err(AddressError::UnsupportedScheme(String::from(scheme)));
    }
    Ok(Endpoint::Unix(agent_address))
}

/// The `IP:PORT` authority of a `tcp:` URI, `rest` being what follows `tcp:`.
fn tcp_endpoint(rest: &str) -> Result<SocketAddr, AddressError> {
    let authority = rest
        .strip_prefix("//")
        .filter(|a| !a.is_empty())
        .ok_or(AddressError::TcpNoAuthority)?;
    if authority.contains(['@', '/', '?', '#']) {
        return Err(AddressError::TcpUriExtras);
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (ip, after) = v6.split_once(']').ok_or(AddressError::TcpHostNotIp)?;
            let ip = ip
                .parse::<Ipv6Addr>()
                .map_err(|_| AddressError::TcpHostNotIp)?;
            (IpAddr::V6(ip), after.strip_prefix(':'))
        }
        None => {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let ip = host
                .parse::<Ipv4Addr>()
                .map_err(|_| AddressError::TcpHostNotIp)?;
            (IpAddr::V4(ip), port)
        }
    };
    let port = port
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or(AddressError::TcpPort)?;
    Ok(SocketAddr::new(host, port))
}

/// The scheme of `s` if it looks like `scheme://...` (RFC 3986 §3.1 syntax).
fn uri_scheme(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && rest.starts_with("//")).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_matches_go_path_join() {
        // The joins of `pkg/disk/x509.go@v0.11.0`, then more cases; all checked against Go 1.19's
        // path.Join.
        let cases = [
            ("", "svid.pem", "svid.pem"),
            ("certs/", "svid.pem", "certs/svid.pem"),
            ("", "/etc/jwts/aws.jwt", "/etc/jwts/aws.jwt"),
            ("/certs", "/etc/x.jwt", "/certs/etc/x.jwt"),
            ("a", "../x", "x"),
            ("", "", ""),
            ("a", "", "a"),
            ("", "b", "b"),
            ("/", "a", "/a"),
            ("/", "", "/"),
            ("a/", "b", "a/b"),
            ("a/", "", "a"),
            ("certs", "./svid.pem", "certs/svid.pem"),
            ("/run/../x", "y", "/x/y"),
            ("/", "../../x", "/x"),
            ("..", "x", "../x"),
            ("a", "../../x", "../x"),
            ("a//b", "c//d/", "a/b/c/d"),
            (".", ".", "."),
            ("a", "..", "."),
        ];
        for (dir, name, want) in cases {
            assert_eq!(join_path(dir, name), want, "join_path({dir:?}, {name:?})");
        }
    }

    #[test]
    fn endpoint_forms() {
        let unix = [
            (
                "/tmp/spire-agent/public/api.sock",
                "/tmp/spire-agent/public/api.sock",
            ),
            ("unix:///run/spire/agent.sock", "/run/spire/agent.sock"),
            ("unix:/run/spire/agent.sock", "/run/spire/agent.sock"),
            ("agent.sock", "agent.sock"),
            ("./sockets/agent.sock", "./sockets/agent.sock"),
            ("/odd:name/agent.sock", "/odd:name/agent.sock"),
        ];
        for (address, want) in unix {
            assert_eq!(
                agent_endpoint(address),
                Ok(Endpoint::Unix(want)),
                "{address}"
            );
        }
        let tcp = [
            ("tcp://127.0.0.1:8081", "127.0.0.1:8081"),
            ("tcp://10.0.0.1:1", "10.0.0.1:1"),
            ("tcp://[::1]:65535", "[::1]:65535"),
            ("tcp://[2001:db8::7]:8000", "[2001:db8::7]:8000"),
        ];
        for (address, want) in tcp {
            assert_eq!(
                agent_endpoint(address),
                Ok(Endpoint::Tcp(want.parse().unwrap())),
                "{address}"
            );
        }
        use AddressError::*;
        let err = [
            ("", Empty),
            ("http://localhost/x", UnsupportedScheme("http".into())),
            ("dns://10.0.0.1:53", UnsupportedScheme("dns".into())),
            ("unix://agent/api.sock", UnixAuthority),
            ("unix://", UnixPathNotAbsolute),
            ("unix:agent.sock", UnixPathNotAbsolute),
            ("unix:///a.sock?x=1", UnixUriExtras),
            ("unix:///a.sock#f", UnixUriExtras),
            ("unix:///a%20b.sock", UnixUriExtras),
            ("tcp:127.0.0.1:8081", TcpNoAuthority),
            ("tcp://", TcpNoAuthority),
            ("tcp://127.0.0.1:8081/foo", TcpUriExtras),
            ("tcp://127.0.0.1:8081/", TcpUriExtras),
            ("tcp://127.0.0.1:8081?x=1", TcpUriExtras),
            ("tcp://127.0.0.1:8081#f", TcpUriExtras),
            ("tcp://user@127.0.0.1:8081", TcpUriExtras),
            ("tcp://localhost:8081", TcpHostNotIp),
            ("tcp://spire-agent.example:8081", TcpHostNotIp),
            ("tcp://::1:8081", TcpHostNotIp),
            ("tcp://[::1", TcpHostNotIp),
            ("tcp://[fe80::1%25eth0]:8081", TcpHostNotIp),
            ("tcp://1.2.3:8081", TcpHostNotIp),
            ("tcp://127.0.0.1", TcpPort),
            ("tcp://127.0.0.1:", TcpPort),
            ("tcp://127.0.0.1:0", TcpPort),
            ("tcp://127.0.0.1:65536", TcpPort),
            ("tcp://127.0.0.1:+80", TcpPort),
            ("tcp://[::1]", TcpPort),
            ("tcp://[::1]8081", TcpPort),
        ];
        for (address, want) in err {
            assert_eq!(agent_endpoint(address), Err(want), "{address}");
        }
    }

    #[test]
    fn address_error_names_the_problem() {
        use alloc::string::ToString;
        assert_eq!(
            agent_endpoint("tcp://localhost:8081")
                .unwrap_err()
                .to_string(),
            "agent address tcp URI host must be an IP address (v4, or v6 in brackets), \
             not a name: use tcp://IP:PORT"
        );
        assert_eq!(
            agent_endpoint("http://10.0.0.1:1").unwrap_err().to_string(),
            "agent address scheme \"http\" is not supported: the SPIFFE Workload Endpoint \
             scheme must be unix or tcp (/path, unix:///path, unix:/path or tcp://IP:PORT)"
        );
    }
}
