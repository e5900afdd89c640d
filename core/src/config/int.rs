//! Integers as upstream reads them (`cmd/spiffe-helper/config/config.go@v0.11.0`, `hcl.Decode`):
//! Go's `strconv.ParseInt(text, 0, 0)` on a 64-bit target.
//!
//! Base 0 means the prefix picks the base: `0x`/`0X` hex, `0o`/`0O` octal, `0b`/`0B`
//! binary, a bare leading `0` octal (so `0644` is 420), anything else decimal. Underscores
//! may separate digits. HCL v1 number literals and quoted strings in integer keys both go
//! through this, so `cert_file_mode = "0o644"` is 420 while the bare `0o644` is a syntax
//! error of the HCL lexer.

use alloc::string::String;
use core::fmt;

/// Why Go's `strconv.ParseInt` rejects a text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntError {
    /// Not an integer in Go syntax.
    Syntax(String),
    /// An integer outside `i64`.
    Range(String),
}

impl fmt::Display for IntError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(s) => write!(f, "strconv.ParseInt: parsing {s:?}: invalid syntax"),
            Self::Range(s) => write!(f, "strconv.ParseInt: parsing {s:?}: value out of range"),
        }
    }
}

impl core::error::Error for IntError {}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(super) fn parse_go_int(s: &str) -> Result<i64, IntError> {
    let syntax = || IntError::Syntax(String::from(s));
    let (neg, unsigned) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = match parse_go_uint(unsigned) {
        Ok(n) => n,
        Err(UintError::Syntax) => return Err(syntax()),
        Err(UintError::Range) => return Err(IntError::Range(String::from(s))),
    };
    const CUTOFF: u64 = 1 << 63;
    if neg {
        if magnitude > CUTOFF {
            return Err(IntError::Range(String::from(s)));
        }
        Ok(0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Range(String::from(s)))
    }
}

enum UintError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_go_uint(s: &str) -> Result<u64, UintError> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(UintError::Syntax);
    }
    let (base, digits): (u64, &[u8]) = match bytes {
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (2, &bytes[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (8, &bytes[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (16, &bytes[2..]),
        [b'0', rest @ ..] => (8, rest),
        _ => (10, bytes),
    };
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            c if c.is_ascii_alphabetic() => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return Err(UintError::Syntax),
        };
        if d >= base {
            return Err(UintError::Syntax);
        }
        // Go reports the first overflow at once, before later syntax errors.
        n = n
            .checked_mul(base)
            .and_then(|m| m.checked_add(d))
            .ok_or(UintError::Range)?;
    }
    if underscores && !underscore_ok(bytes) {
        return Err(UintError::Syntax);
    }
    Ok(n)
}

/// Go's `underscoreOK`: underscores only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if let [b'0', p, ..] = s {
        let p = p.to_ascii_lowercase();
        if matches!(p, b'b' | b'o' | b'x') {
            i = 2;
            saw = Saw::Digit;
            hex = p == b'x';
        }
    }
    for &c in s.iter().skip(i) {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn ok(s: &str) -> i64 {
        match parse_go_int(s) {
            Ok(v) => v,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    // Every expectation below was checked against Go 1.19's strconv.ParseInt(s, 0, 0).

    #[test]
    fn bases() {
        assert_eq!(ok("0644"), 0o644);
        assert_eq!(ok("644"), 644);
        assert_eq!(ok("420"), 420);
        assert_eq!(ok("0x1A4"), 420);
        assert_eq!(ok("0X1a4"), 420);
        assert_eq!(ok("0o644"), 420);
        assert_eq!(ok("0O644"), 420);
        assert_eq!(ok("0b110100100"), 420);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("00"), 0);
        assert_eq!(ok("-1"), -1);
        assert_eq!(ok("+7"), 7);
        assert_eq!(ok("-0644"), -420);
        assert_eq!(ok("1_000"), 1000);
        assert_eq!(ok("0x_1f"), 31);
        assert_eq!(ok("0_644"), 420);
    }

    #[test]
    fn limits() {
        assert_eq!(ok("9223372036854775807"), i64::MAX);
        assert_eq!(ok("-9223372036854775808"), i64::MIN);
        assert_eq!(
            parse_go_int("9223372036854775808"),
            Err(IntError::Range("9223372036854775808".into()))
        );
        assert_eq!(
            parse_go_int("-9223372036854775809"),
            Err(IntError::Range("-9223372036854775809".into()))
        );
        assert_eq!(
            parse_go_int("0xffffffffffffffffff"),
            Err(IntError::Range("0xffffffffffffffffff".into()))
        );
    }

    #[test]
    fn syntax_errors() {
        for s in [
            "", "-", "+", "08", "0x", "0b", "0o", "abc", "1.5", "1e3", "1__0", "_1", "1_", "0x_",
            " 1", "1 ", "--1", "0b102",
        ] {
            assert_eq!(parse_go_int(s), Err(IntError::Syntax(s.into())), "{s:?}");
        }
    }

    #[test]
    fn display_matches_go() {
        assert_eq!(
            parse_go_int("abc").unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            parse_go_int("99999999999999999999")
                .unwrap_err()
                .to_string(),
            r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#
        );
    }
}
