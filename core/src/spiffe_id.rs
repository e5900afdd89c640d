//! SPIFFE IDs and trust-domain names, parsed with the exact rules of the SPIFFE-ID standard
//! (SPIFFE-ID.md §2) as go-spiffe's `spiffeid` package applies them.
//!
//! Nothing is normalized: uppercase in the scheme or trust domain, percent-encoding, ports,
//! userinfo, queries and fragments are all rejected rather than rewritten.

use alloc::string::{String, ToString};
use core::fmt;

/// The only accepted scheme prefix (lowercase, as go-spiffe requires).
const SCHEME_PREFIX: &str = "spiffe://";

/// Longest accepted trust-domain name in bytes (SPIFFE-ID.md §2.1).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// Why a string is not a SPIFFE ID or trust-domain name.
///
/// Display texts are go-spiffe's, so operators see the messages they know from upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdError {
    /// The input is the empty string.
    Empty,
    /// The input does not start with exactly `spiffe://`.
    WrongScheme,
    /// Nothing between `spiffe://` and the path.
    MissingTrustDomain,
    /// A trust-domain byte outside `[a-z0-9._-]` (uppercase, `:`, `@`, `%`, non-ASCII, ...).
    BadTrustDomainChar,
    /// A path byte outside `[A-Za-z0-9._-]` (`%`, `?`, `#`, non-ASCII, ...).
    BadPathSegmentChar,
    /// Two slashes in a row: a path segment is empty.
    EmptySegment,
    /// A path segment is `.` or `..`.
    DotSegment,
    /// The path ends with `/`.
    TrailingSlash,
    /// The trust-domain name is longer than [`MAX_TRUST_DOMAIN_LEN`] bytes.
    TooLong,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "cannot be empty",
            Self::WrongScheme => "scheme is missing or invalid",
            Self::MissingTrustDomain => "trust domain is missing",
            Self::BadTrustDomainChar => {
                "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"
            }
            Self::BadPathSegmentChar => {
                "path segment characters are limited to letters, numbers, dots, dashes, and underscores"
            }
            Self::EmptySegment => "path cannot contain empty segments",
            Self::DotSegment => "path cannot contain dot segments",
            Self::TrailingSlash => "path cannot have a trailing slash",
            Self::TooLong => "trust domain cannot be longer than 255 bytes",
        })
    }
}

impl core::error::Error for IdError {}

/// Trust-domain characters: lowercase letters, digits, `.`, `-`, `_` (SPIFFE-ID.md §2.1).
fn is_trust_domain_char(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_')
}

/// Path-segment characters: letters, digits, `.`, `-`, `_` (SPIFFE-ID.md §2.2).
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// Checks a bare trust-domain name.
fn validate_trust_domain(name: &str) -> Result<(), IdError> {
    if name.is_empty() {
        return Err(IdError::MissingTrustDomain);
    }
    if !name.bytes().all(is_trust_domain_char) {
        return Err(IdError::BadTrustDomainChar);
    }
    if name.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(IdError::TooLong);
    }
    Ok(())
}

/// Checks a path that is empty or starts with `/` (SPIFFE-ID.md §2.2).
fn validate_path(path: &str) -> Result<(), IdError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(());
    };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "" if last => return Err(IdError::TrailingSlash),
            "" => return Err(IdError::EmptySegment),
            "." | ".." => return Err(IdError::DotSegment),
            _ if !segment.bytes().all(is_path_char) => return Err(IdError::BadPathSegmentChar),
            _ => {}
        }
    }
    Ok(())
}

/// A trust-domain name such as `example.org`: `[a-z0-9._-]+`, at most 255 bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Parses a bare trust-domain name (no scheme, no path).
    pub fn parse(name: &str) -> Result<TrustDomain, IdError> {
        validate_trust_domain(name)?;
        Ok(TrustDomain(name.to_string()))
    }

    /// Parses a Workload API map key: `spiffe://td`, `spiffe://td/path` or a bare `td`.
    ///
    /// Like go-spiffe's `TrustDomainFromString`, input containing `:/` is parsed as a full
    /// SPIFFE ID (path included) and only its trust domain is kept.
    pub fn from_id_or_name(s: &str) -> Result<TrustDomain, IdError> {
        if s.contains(":/") {
            let id = SpiffeId::parse(s)?;
            Ok(TrustDomain(id.trust_domain().to_string()))
        } else {
            TrustDomain::parse(s)
        }
    }

    /// The bare name, e.g. `example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SPIFFE ID `spiffe://<trust-domain><path>`, kept as the string it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpiffeId {
    id: String,
    /// Length of the trust-domain part, which starts right after `spiffe://`.
    td_len: usize,
}

impl SpiffeId {
    /// Parses a SPIFFE ID (SPIFFE-ID.md §2); the path may be empty (`spiffe://td`).
    pub fn parse(s: &str) -> Result<SpiffeId, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let rest = s.strip_prefix(SCHEME_PREFIX).ok_or(IdError::WrongScheme)?;
        let (td, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        validate_trust_domain(td)?;
        validate_path(path)?;
        Ok(SpiffeId {
            id: s.to_string(),
            td_len: td.len(),
        })
    }

    /// The whole ID, e.g. `spiffe://example.org/workload`.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The trust-domain name, e.g. `example.org`.
    pub fn trust_domain(&self) -> &str {
        let after_scheme = &self.id[SCHEME_PREFIX.len()..];
        &after_scheme[..self.td_len]
    }

    /// The path: empty or `/segment/...`, e.g. `/workload`.
    pub fn path(&self) -> &str {
        &self.id[SCHEME_PREFIX.len() + self.td_len..]
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    const TD_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789.-_";
    const PATH_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

    #[test]
    fn valid_ids_split_into_trust_domain_and_path() {
        for (input, td, path) in [
            ("spiffe://trustdomain", "trustdomain", ""),
            ("spiffe://trustdomain/path", "trustdomain", "/path"),
            ("spiffe://trustdomain/.path", "trustdomain", "/.path"),
            ("spiffe://trustdomain/..path", "trustdomain", "/..path"),
            ("spiffe://trustdomain/...", "trustdomain", "/..."),
            (
                "spiffe://example.org/ns/default/sa/x",
                "example.org",
                "/ns/default/sa/x",
            ),
            ("spiffe://1.2.3.4/Path_A-b.c", "1.2.3.4", "/Path_A-b.c"),
        ] {
            let id = SpiffeId::parse(input).unwrap();
            assert_eq!(id.as_str(), input);
            assert_eq!(id.trust_domain(), td);
            assert_eq!(id.path(), path);
            assert_eq!(format!("{id}"), input);
        }
    }

    #[test]
    fn invalid_ids_give_go_spiffe_errors() {
        use IdError::*;
        for (input, err) in [
            ("", Empty),
            ("s", WrongScheme),
            ("spiffe:/", WrongScheme),
            ("Spiffe://", WrongScheme),
            ("SPIFFE://trustdomain", WrongScheme),
            ("spiffe:/trustdomain/path", WrongScheme),
            ("spiffe://", MissingTrustDomain),
            ("spiffe:///", MissingTrustDomain),
            ("spiffe:///path", MissingTrustDomain),
            ("spiffe://trustdomain/", TrailingSlash),
            ("spiffe://trustdomain/path/", TrailingSlash),
            ("spiffe://trustdomain//", EmptySegment),
            ("spiffe://trustdomain//path", EmptySegment),
            ("spiffe://trustdomain/.", DotSegment),
            ("spiffe://trustdomain/./path", DotSegment),
            ("spiffe://trustdomain/path/./other", DotSegment),
            ("spiffe://trustdomain/path/..", DotSegment),
            ("spiffe://trustdomain/..", DotSegment),
            ("spiffe://trustdomain/../path", DotSegment),
            ("spiffe://trustdomain/path/../other", DotSegment),
            ("spiffe://%F0%9F%A4%AF/path", BadTrustDomainChar),
            ("spiffe://%62%61%64/path", BadTrustDomainChar),
            ("spiffe://trust$domain", BadTrustDomainChar),
            ("spiffe://TrustDomain/path", BadTrustDomainChar),
            ("spiffe://td:8080/path", BadTrustDomainChar),
            ("spiffe://user@td/path", BadTrustDomainChar),
            ("spiffe://trustdomain/%F0%9F%A4%AF", BadPathSegmentChar),
            ("spiffe://trustdomain/%62%61%64", BadPathSegmentChar),
            ("spiffe://trustdomain/path$", BadPathSegmentChar),
            ("spiffe://trustdomain/path?query", BadPathSegmentChar),
            ("spiffe://trustdomain/path#fragment", BadPathSegmentChar),
            ("spiffe://trustdomain?query", BadTrustDomainChar),
        ] {
            assert_eq!(SpiffeId::parse(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn error_texts_are_go_spiffe_texts() {
        assert_eq!(IdError::Empty.to_string(), "cannot be empty");
        assert_eq!(
            IdError::WrongScheme.to_string(),
            "scheme is missing or invalid"
        );
        assert_eq!(
            IdError::MissingTrustDomain.to_string(),
            "trust domain is missing"
        );
        assert_eq!(
            IdError::BadTrustDomainChar.to_string(),
            "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"
        );
        assert_eq!(
            IdError::BadPathSegmentChar.to_string(),
            "path segment characters are limited to letters, numbers, dots, dashes, and underscores"
        );
        assert_eq!(
            IdError::EmptySegment.to_string(),
            "path cannot contain empty segments"
        );
        assert_eq!(
            IdError::DotSegment.to_string(),
            "path cannot contain dot segments"
        );
        assert_eq!(
            IdError::TrailingSlash.to_string(),
            "path cannot have a trailing slash"
        );
    }

    /// Every code point U+0000..=U+00FF in the trust domain: only `[a-z0-9._-]` pass.
    #[test]
    fn every_byte_in_trust_domain() {
        for b in 0..=255u8 {
            let c = char::from(b);
            let id = format!("spiffe://trustdomain{c}/path");
            let bare = format!("trustdomain{c}");
            if TD_CHARS.contains(&b) {
                let parsed = SpiffeId::parse(&id).unwrap();
                assert_eq!(parsed.trust_domain(), bare);
                assert_eq!(TrustDomain::parse(&bare).unwrap().as_str(), bare);
                assert_eq!(TrustDomain::from_id_or_name(&bare).unwrap().as_str(), bare);
            } else if c == '/' {
                assert_eq!(SpiffeId::parse(&id), Err(IdError::EmptySegment));
                assert_eq!(TrustDomain::parse(&bare), Err(IdError::BadTrustDomainChar));
            } else {
                assert_eq!(
                    SpiffeId::parse(&id),
                    Err(IdError::BadTrustDomainChar),
                    "{b}"
                );
                assert_eq!(TrustDomain::parse(&bare), Err(IdError::BadTrustDomainChar));
                assert_eq!(
                    TrustDomain::from_id_or_name(&id),
                    Err(IdError::BadTrustDomainChar)
                );
            }
        }
    }

    /// Every code point U+0000..=U+00FF in the path: only `[A-Za-z0-9._-]` pass.
    #[test]
    fn every_byte_in_path() {
        for b in 0..=255u8 {
            let c = char::from(b);
            let id = format!("spiffe://trustdomain/path{c}");
            if PATH_CHARS.contains(&b) {
                assert_eq!(SpiffeId::parse(&id).unwrap().path(), format!("/path{c}"));
            } else if c == '/' {
                assert_eq!(SpiffeId::parse(&id), Err(IdError::TrailingSlash));
            } else {
                assert_eq!(
                    SpiffeId::parse(&id),
                    Err(IdError::BadPathSegmentChar),
                    "{b}"
                );
            }
        }
    }

    #[test]
    fn trust_domain_length_limit() {
        let max: String = "a".repeat(MAX_TRUST_DOMAIN_LEN);
        assert_eq!(TrustDomain::parse(&max).unwrap().as_str(), max);
        let id = format!("spiffe://{max}/p");
        assert_eq!(SpiffeId::parse(&id).unwrap().trust_domain(), max);
        let over = format!("{max}a");
        assert_eq!(TrustDomain::parse(&over), Err(IdError::TooLong));
        let id = format!("spiffe://{over}/p");
        assert_eq!(SpiffeId::parse(&id), Err(IdError::TooLong));
    }

    #[test]
    fn ids_of_2048_bytes_are_accepted() {
        let path: String = "/abcdefg".repeat((2048 - "spiffe://td".len()) / 8);
        let id = format!("spiffe://td{path}");
        assert!(id.len() <= 2048 && id.len() > 2040);
        assert_eq!(SpiffeId::parse(&id).unwrap().path(), path);
    }

    #[test]
    fn trust_domain_from_workload_api_map_keys() {
        for key in [
            "spiffe://example.org",
            "spiffe://example.org/path",
            "example.org",
        ] {
            let td = TrustDomain::from_id_or_name(key).unwrap();
            assert_eq!(td.as_str(), "example.org");
            assert_eq!(format!("{td}"), "example.org");
        }
        assert_eq!(
            TrustDomain::from_id_or_name(""),
            Err(IdError::MissingTrustDomain)
        );
        assert_eq!(
            TrustDomain::from_id_or_name("spiffe://"),
            Err(IdError::MissingTrustDomain)
        );
        assert_eq!(
            TrustDomain::from_id_or_name("spiffe:/td"),
            Err(IdError::WrongScheme)
        );
        assert_eq!(
            TrustDomain::from_id_or_name("http://td"),
            Err(IdError::WrongScheme)
        );
        assert_eq!(
            TrustDomain::from_id_or_name("spiffe://td/"),
            Err(IdError::TrailingSlash)
        );
        assert_eq!(
            TrustDomain::from_id_or_name("Example.org"),
            Err(IdError::BadTrustDomainChar)
        );
        assert_eq!(
            TrustDomain::parse("spiffe://td"),
            Err(IdError::BadTrustDomainChar)
        );
        assert_eq!(TrustDomain::parse(""), Err(IdError::MissingTrustDomain));
    }

    #[test]
    fn ordering_and_equality_follow_the_string() {
        let mut ids: Vec<SpiffeId> = ["spiffe://b/x", "spiffe://a/y", "spiffe://a/X", "spiffe://a"]
            .into_iter()
            .map(|s| SpiffeId::parse(s).unwrap())
            .collect();
        ids.sort();
        let sorted: Vec<&str> = ids.iter().map(SpiffeId::as_str).collect();
        assert_eq!(
            sorted,
            ["spiffe://a", "spiffe://a/X", "spiffe://a/y", "spiffe://b/x"]
        );
        // Paths compare case-sensitively.
        assert_ne!(ids[1], ids[2]);
        assert_eq!(ids[0].clone(), SpiffeId::parse("spiffe://a").unwrap());
    }
}
