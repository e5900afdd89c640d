//! Output paths and the agent address.
//!
//! Upstream joins every output file name to `cert_dir` with Go's `path.Join` (not
//! `filepath.Join`, and not Rust's `PathBuf::join`, where an absolute name replaces the
//! directory), and dials `"unix://" + agent_address`, which works only for absolute paths.
//! We accept that form and the `unix:` URI forms of the SPIFFE Workload Endpoint
//! specification (§4), plus relative paths.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

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

/// Why an agent address cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The address is empty.
    Empty,
    /// A URI scheme other than `unix` (e.g. `tcp://`).
    UnsupportedScheme(String),
    /// `unix://host/path`: the SPIFFE spec forbids an authority in unix URIs.
    UnixAuthority,
    /// `unix:` followed by a relative path, or by nothing.
    UnixPathNotAbsolute,
    /// `unix:` URI with a query (`?`), fragment (`#`) or percent-escape (`%`).
    UnixUriExtras,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("agent address is empty"),
            Self::UnsupportedScheme(scheme) => write!(
                f,
                "agent address scheme {scheme:?} is not supported: use a unix socket path \
                 (/path, unix:///path or unix:/path)"
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
        }
    }
}

impl core::error::Error for AddressError {}

/// The Unix socket path named by `agent_address`.
///
/// Forms: a plain path, absolute (upstream's form) or relative (returned as given; the
/// daemon resolves it against its working directory); `unix:///path`; `unix:/path`.
/// Other schemes (`tcp://...`) are rejected.
pub fn socket_path(agent_address: &str) -> Result<&str, AddressError> {
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
        return Ok(path);
    }
    if let Some(scheme) = uri_scheme(agent_address) {
        return Err(AddressError::UnsupportedScheme(String::from(scheme)));
    }
    Ok(agent_address)
}

/// The scheme of `s` if it looks like `scheme://...` or `tcp:...` (RFC 3986 §3.1 syntax).
fn uri_scheme(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && (rest.starts_with("//") || scheme.eq_ignore_ascii_case("tcp"))).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_matches_go_path_join() {
        // §2.7 of the upstream notes, then more cases; all checked against Go 1.19's path.Join.
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
    fn socket_path_forms() {
        let ok = [
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
        for (address, want) in ok {
            assert_eq!(socket_path(address), Ok(want), "{address}");
        }
        let err = [
            ("", AddressError::Empty),
            (
                "tcp://127.0.0.1:8081",
                AddressError::UnsupportedScheme("tcp".into()),
            ),
            (
                "tcp:127.0.0.1:8081",
                AddressError::UnsupportedScheme("tcp".into()),
            ),
            (
                "http://localhost/x",
                AddressError::UnsupportedScheme("http".into()),
            ),
            ("unix://agent/api.sock", AddressError::UnixAuthority),
            ("unix://", AddressError::UnixPathNotAbsolute),
            ("unix:agent.sock", AddressError::UnixPathNotAbsolute),
            ("unix:///a.sock?x=1", AddressError::UnixUriExtras),
            ("unix:///a.sock#f", AddressError::UnixUriExtras),
            ("unix:///a%20b.sock", AddressError::UnixUriExtras),
        ];
        for (address, want) in err {
            assert_eq!(socket_path(address), Err(want), "{address}");
        }
    }

    #[test]
    fn address_error_names_the_problem() {
        use alloc::string::ToString;
        assert_eq!(
            socket_path("tcp://10.0.0.1:1").unwrap_err().to_string(),
            "agent address scheme \"tcp\" is not supported: use a unix socket path \
             (/path, unix:///path or unix:/path)"
        );
    }
}
