//! Durations as Go's `time.ParseDuration` writes them (`30s`, `1m30s`, `1.5h`, `250ms`), for
//! the keys of ours that take a time (`one_shot_timeout`). Signs are refused: every such key is a
//! length of time.

use core::time::Duration;

/// Nanoseconds in each unit Go accepts, longest suffix first where one is a prefix of another.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses `s` as Go's `time.ParseDuration` does for a value without a sign: a sequence of
/// decimal numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`); `0` alone is zero. `None` for anything else, or past `u64::MAX` nanoseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let &(_, scale) = UNITS.iter().find(|(name, _)| *name == unit)?;
        let whole = if int.is_empty() {
            0
        } else {
            int.parse::<u64>().ok()?
        };
        let mut nanos = whole.checked_mul(scale)?;
        // The fraction's digits, each a tenth of the one before; digits past the unit's
        // resolution add nothing, as in Go.
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            nanos = nanos.checked_add(u64::from(d - b'0') * place)?;
        }
        total = total.checked_add(nanos)?;
        rest = after;
    }
    Some(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_parses() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("30s", 30_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("250ms", 250_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("7ns", 7),
            ("0s", 0),
        ];
        for &(text, nanos) in cases {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_nanos(nanos)),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_go_refuses_and_signs() {
        for text in [
            "",
            "30",
            "s",
            ".s",
            "1x",
            "1 s",
            "-1s",
            "+1s",
            "1s2",
            "1..5s",
            "99999999999h",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }
}
