//! Command-line options of `svid-dev-agent`, parsed by hand (no argument-parsing crate) with
//! precise errors.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `svid-dev-agent` can be told on its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `--socket PATH`: the Unix socket to serve on (required).
    pub socket: PathBuf,
    /// `--tcp IP:PORT`: also serve the main identity on this TCP address (port 0: any free
    /// port); the agent prints `listening tcp://IP:PORT` with the bound port.
    pub tcp: Option<std::net::SocketAddr>,
    /// `--trust-domain TD` (default `example.org`).
    pub trust_domain: String,
    /// `--spiffe-id ID` (default `spiffe://<trust domain>/workload`).
    pub spiffe_id: String,
    /// `--intermediate`: put an intermediate CA between the root and the leaves.
    pub intermediate: bool,
    /// `--hinted`: answer as the agent of upstream's hint tests: the SVID and each JWT-SVID
    /// carry the hint `other` and come after a decoy for `spiffe://<td>/shouldnt/ever/get`
    /// with the hint `first`.
    pub hinted: bool,
    /// `--ttl DUR`: X.509-SVID lifetime (default 1 h).
    pub ttl: Duration,
    /// `--rotate-every DUR`: issue a new SVID this often (default: never).
    pub rotate_every: Option<Duration>,
    /// `--federate TD` (repeatable): extra trust domains with their own roots and JWT keys.
    pub federate: Vec<String>,
    /// `--jwt-ttl DUR`: JWT-SVID lifetime (default 5 min).
    pub jwt_ttl: Duration,
    /// `--deny-first N`: answer the first N FetchX509SVID calls with PERMISSION_DENIED.
    pub deny_first: u32,
    /// `--exit-after-updates N`: exit after sending N X.509 updates in total.
    pub exit_after_updates: Option<u64>,
    /// `--foreign-bundle`: serve another CA's root as the bundle (SVIDs then fail
    /// verification).
    pub foreign_bundle: bool,
    /// `--stall-after N`: once a connection has carried N X.509 updates, stop writing to it
    /// (no more messages, no PING ACKs) while keeping it open, as a wedged agent would.
    pub stall_after: Option<u64>,
    /// `--federate-count N`: N more federated trust domains `fed<i>.test`, X.509 roots only
    /// (one shared key, so that 10,000 of them take about a second to make).
    pub federate_count: u32,
    /// `--trickle`: every write to a connection carries at most one byte.
    pub trickle: bool,
    /// `--out-dir DIR`: write the root CA of the agent's trust domain as `DIR/ca.pem`.
    pub out_dir: Option<PathBuf>,
    /// `--workload PATH=ID` (repeatable): one more socket, serving SVIDs for ID from the same
    /// CA, rotated together with the main one.
    pub workloads: Vec<(PathBuf, String)>,
    /// `--extra-svid HINT=ID` (repeatable): every X.509 response also carries an SVID for ID
    /// with this hint, after the main one, from the same CA, rotated together with it.
    pub extra_svids: Vec<(String, String)>,
    /// `--jwt-subject ID`: the `sub` of every JWT-SVID issued, while the response still names
    /// the agent's own SPIFFE ID (a token for another workload).
    pub jwt_subject: Option<String>,
    /// `--jwt-padding N`: one more claim, `pad`, of N bytes in every JWT-SVID.
    pub jwt_padding: u64,
    /// `--jwt-ed25519`: the agent's own trust domain signs JWT-SVIDs with an Ed25519 key
    /// (EdDSA, RFC 8037), served as an `OKP` JWK.
    pub jwt_ed25519: bool,
}

/// Why a command line was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    /// `--socket` was not given.
    MissingSocket,
    /// A flag that takes a value was last on the line.
    MissingValue(String),
    /// A flag this program does not know.
    UnknownFlag(String),
    /// A duration that is not `<digits><ms|s|m|h>`, or is zero.
    BadDuration { flag: String, value: String },
    /// A count that is not a decimal number.
    BadNumber { flag: String, value: String },
    /// A trust domain with characters outside `a-z 0-9 . - _`, or empty.
    BadTrustDomain(String),
    /// A SPIFFE ID that is not `spiffe://<trust domain>/<path>`.
    BadSpiffeId { id: String, trust_domain: String },
    /// A `--workload` value that is not `PATH=ID`.
    BadWorkload(String),
    /// An `--extra-svid` value that is not `HINT=ID` with a non-empty hint.
    BadExtraSvid(String),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSocket => write!(f, "--socket PATH is required"),
            Self::MissingValue(flag) => write!(f, "{flag} needs a value"),
            Self::UnknownFlag(flag) => write!(f, "unknown flag {flag}"),
            Self::BadDuration { flag, value } => write!(
                f,
                "{flag}: {value:?} is not a positive duration such as 500ms, 2s, 5m or 1h"
            ),
            Self::BadNumber { flag, value } => {
                write!(f, "{flag}: {value:?} is not a non-negative integer")
            }
            Self::BadTrustDomain(td) => write!(
                f,
                "trust domain {td:?} must be non-empty and use only a-z 0-9 . - _"
            ),
            Self::BadSpiffeId { id, trust_domain } => write!(
                f,
                "SPIFFE ID {id:?} must be spiffe://{trust_domain}/<path> with a non-empty path"
            ),
            Self::BadWorkload(value) => write!(
                f,
                "--workload: {value:?} is not PATH=SPIFFE-ID with a non-empty path"
            ),
            Self::BadExtraSvid(value) => write!(
                f,
                "--extra-svid: {value:?} is not HINT=SPIFFE-ID with a non-empty hint"
            ),
        }
    }
}

impl std::error::Error for OptionsError {}

/// The usage text printed on a bad command line.
pub const USAGE: &str = "usage: svid-dev-agent --socket PATH [--tcp IP:PORT] [--trust-domain TD] [--spiffe-id ID] \
[--intermediate] [--hinted] [--ttl DUR] [--rotate-every DUR] [--federate TD]... [--jwt-ttl DUR] \
[--deny-first N] [--exit-after-updates N] [--stall-after N] [--foreign-bundle] \
[--federate-count N] [--trickle] [--out-dir DIR] \
[--workload PATH=ID]... [--extra-svid HINT=ID]... [--jwt-subject ID] [--jwt-padding N] [--jwt-ed25519]";

impl Options {
    /// Parses the arguments that follow the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, OptionsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut socket = None;
        let mut trust_domain = String::from("example.org");
        let mut spiffe_id = None;
        let mut opts = Options {
            socket: PathBuf::new(),
            tcp: None,
            trust_domain: String::new(),
            spiffe_id: String::new(),
            intermediate: false,
            hinted: false,
            ttl: Duration::from_secs(3600),
            rotate_every: None,
            federate: Vec::new(),
            jwt_ttl: Duration::from_secs(300),
            deny_first: 0,
            exit_after_updates: None,
            stall_after: None,
            foreign_bundle: false,
            federate_count: 0,
            trickle: false,
            out_dir: None,
            workloads: Vec::new(),
            extra_svids: Vec::new(),
            jwt_subject: None,
            jwt_padding: 0,
            jwt_ed25519: false,
        };
        let mut args = args.into_iter().map(Into::into);
        while let Some(flag) = args.next() {
            if flag == "--intermediate" {
                opts.intermediate = true;
                continue;
            }
            if flag == "--foreign-bundle" {
                opts.foreign_bundle = true;
                continue;
            }
            if flag == "--trickle" {
                opts.trickle = true;
                continue;
            }
            if flag == "--hinted" {
                opts.hinted = true;
                continue;
            }
            if flag == "--jwt-ed25519" {
                opts.jwt_ed25519 = true;
                continue;
            }
            let mut value = || {
                args.next()
                    .ok_or_else(|| OptionsError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--socket" => socket = Some(PathBuf::from(value()?)),
                "--tcp" => opts.tcp = Some(parse_number(&flag, &value()?)?),
                "--trust-domain" => trust_domain = value()?,
                "--spiffe-id" => spiffe_id = Some(value()?),
                "--ttl" => opts.ttl = parse_duration(&flag, &value()?)?,
                "--rotate-every" => opts.rotate_every = Some(parse_duration(&flag, &value()?)?),
                "--federate" => opts.federate.push(value()?),
                "--jwt-ttl" => opts.jwt_ttl = parse_duration(&flag, &value()?)?,
                "--deny-first" => opts.deny_first = parse_number(&flag, &value()?)?,
                "--exit-after-updates" => {
                    opts.exit_after_updates = Some(parse_number(&flag, &value()?)?)
                }
                "--stall-after" => opts.stall_after = Some(parse_number(&flag, &value()?)?),
                "--federate-count" => opts.federate_count = parse_number(&flag, &value()?)?,
                "--out-dir" => opts.out_dir = Some(PathBuf::from(value()?)),
                "--jwt-subject" => opts.jwt_subject = Some(value()?),
                "--jwt-padding" => opts.jwt_padding = parse_number(&flag, &value()?)?,
                "--workload" => {
                    let value = value()?;
                    match value.split_once('=') {
                        Some((path, id)) if !path.is_empty() => {
                            opts.workloads.push((PathBuf::from(path), id.to_owned()))
                        }
                        _ => return Err(OptionsError::BadWorkload(value)),
                    }
                }
                "--extra-svid" => {
                    let value = value()?;
                    match value.split_once('=') {
                        Some((hint, id)) if !hint.is_empty() => {
                            opts.extra_svids.push((hint.to_owned(), id.to_owned()))
                        }
                        _ => return Err(OptionsError::BadExtraSvid(value)),
                    }
                }
                _ => return Err(OptionsError::UnknownFlag(flag)),
            }
        }
        opts.socket = socket.ok_or(OptionsError::MissingSocket)?;
        for td in std::iter::once(&trust_domain).chain(&opts.federate) {
            check_trust_domain(td)?;
        }
        let spiffe_id = spiffe_id.unwrap_or_else(|| format!("spiffe://{trust_domain}/workload"));
        let extra_ids = opts.extra_svids.iter().map(|(_, id)| id);
        let ids = std::iter::once(&spiffe_id)
            .chain(opts.workloads.iter().map(|(_, id)| id))
            .chain(extra_ids);
        for id in ids {
            let path_ok = id
                .strip_prefix("spiffe://")
                .and_then(|rest| rest.strip_prefix(trust_domain.as_str()))
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|path| !path.is_empty());
            if !path_ok {
                return Err(OptionsError::BadSpiffeId {
                    id: id.clone(),
                    trust_domain,
                });
            }
        }
        opts.trust_domain = trust_domain;
        opts.spiffe_id = spiffe_id;
        Ok(opts)
    }
}

fn check_trust_domain(td: &str) -> Result<(), OptionsError> {
    let valid = !td.is_empty()
        && td
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(OptionsError::BadTrustDomain(td.to_owned()))
    }
}

fn parse_duration(flag: &str, value: &str) -> Result<Duration, OptionsError> {
    let bad = || OptionsError::BadDuration {
        flag: flag.to_owned(),
        value: value.to_owned(),
    };
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, OptionsError> {
    value.parse().map_err(|_| OptionsError::BadNumber {
        flag: flag.to_owned(),
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_brief() {
        let o = Options::parse(["--socket", "/tmp/a.sock"]).unwrap();
        assert_eq!(o.socket, PathBuf::from("/tmp/a.sock"));
        assert_eq!(o.trust_domain, "example.org");
        assert_eq!(o.spiffe_id, "spiffe://example.org/workload");
        assert_eq!(o.ttl, Duration::from_secs(3600));
        assert_eq!(o.jwt_ttl, Duration::from_secs(300));
        assert_eq!(o.rotate_every, None);
        assert!(!o.intermediate);
        assert!(!o.hinted);
    }

    #[test]
    fn every_flag_is_read() {
        let o = Options::parse([
            "--socket",
            "s",
            "--trust-domain",
            "corp.test",
            "--intermediate",
            "--hinted",
            "--ttl",
            "90s",
            "--rotate-every",
            "1500ms",
            "--federate",
            "a.test",
            "--federate",
            "b.test",
            "--jwt-ttl",
            "2m",
            "--deny-first",
            "3",
            "--exit-after-updates",
            "4",
            "--stall-after",
            "2",
            "--federate-count",
            "7",
            "--trickle",
            "--out-dir",
            "d",
            "--workload",
            "/tmp/c.sock=spiffe://corp.test/client",
            "--extra-svid",
            "db=spiffe://corp.test/db",
            "--jwt-subject",
            "spiffe://corp.test/other",
            "--jwt-padding",
            "20000",
            "--jwt-ed25519",
        ])
        .unwrap();
        assert_eq!(o.jwt_subject.as_deref(), Some("spiffe://corp.test/other"));
        assert_eq!(o.jwt_padding, 20_000);
        assert_eq!(
            o.extra_svids,
            [("db".to_owned(), "spiffe://corp.test/db".to_owned())]
        );
        assert!(o.jwt_ed25519);
        assert_eq!(o.spiffe_id, "spiffe://corp.test/workload");
        assert!(o.intermediate);
        assert!(o.hinted);
        assert_eq!(o.ttl, Duration::from_secs(90));
        assert_eq!(o.rotate_every, Some(Duration::from_millis(1500)));
        assert_eq!(o.federate, ["a.test", "b.test"]);
        assert_eq!(o.jwt_ttl, Duration::from_secs(120));
        assert_eq!(o.deny_first, 3);
        assert_eq!(o.exit_after_updates, Some(4));
        assert_eq!(o.stall_after, Some(2));
        assert_eq!(o.federate_count, 7);
        assert!(o.trickle);
        assert_eq!(o.out_dir, Some(PathBuf::from("d")));
        assert_eq!(
            o.workloads,
            [(
                PathBuf::from("/tmp/c.sock"),
                "spiffe://corp.test/client".to_owned()
            )]
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            Options::parse(["--ttl", "1h"]),
            Err(OptionsError::MissingSocket)
        );
        assert_eq!(
            Options::parse(["--socket"]),
            Err(OptionsError::MissingValue("--socket".into()))
        );
        assert_eq!(
            Options::parse(["--socket", "s", "--bogus"]),
            Err(OptionsError::UnknownFlag("--bogus".into()))
        );
        for bad in ["0s", "5", "s", "1d", "-1s", "99999999999999999999h"] {
            assert!(
                matches!(
                    Options::parse(["--socket", "s", "--ttl", bad]),
                    Err(OptionsError::BadDuration { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            Options::parse(["--socket", "s", "--trust-domain", "Example.org"]),
            Err(OptionsError::BadTrustDomain("Example.org".into()))
        );
        assert!(matches!(
            Options::parse(["--socket", "s", "--spiffe-id", "spiffe://other.org/w"]),
            Err(OptionsError::BadSpiffeId { .. })
        ));
        assert!(matches!(
            Options::parse(["--socket", "s", "--spiffe-id", "spiffe://example.org/"]),
            Err(OptionsError::BadSpiffeId { .. })
        ));
        for bad in ["/tmp/c.sock", "=spiffe://example.org/c"] {
            assert_eq!(
                Options::parse(["--socket", "s", "--workload", bad]),
                Err(OptionsError::BadWorkload(bad.into()))
            );
        }
        assert!(matches!(
            Options::parse(["--socket", "s", "--workload", "c=spiffe://other.org/c"]),
            Err(OptionsError::BadSpiffeId { .. })
        ));
    }
}
