//! Log lines in upstream's logrus text format, one event per line on stderr:
//! `time="2026-08-07T12:00:00Z" level=info msg="Received update" spiffe_id=spiffe://td/w system=spiffe-helper`.
//!
//! Fields come from `log`'s key-values and are printed in alphabetical order, like logrus.
//! Time is UTC: a `FROM scratch` image has no time-zone database.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

struct Logger;

/// Installs the stderr logger at info level.
pub fn init() {
    static LOGGER: Logger = Logger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let line = format_line(secs, record);
        // A closed stderr must not take the helper down.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Renders one record as a logrus text line, newline included.
fn format_line(unix_secs: u64, record: &Record) -> String {
    let level = match record.level() {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    };
    let mut fields = Fields(Vec::new());
    // Collecting into a Vec cannot fail.
    let _ = record.key_values().visit(&mut fields);
    fields.0.sort();
    let mut line = String::with_capacity(128);
    let _ = write!(line, "time=\"{}\" level={level} msg=", rfc3339(unix_secs));
    push_value(&mut line, &record.args().to_string());
    for (key, value) in &fields.0 {
        let _ = write!(line, " {key}=");
        push_value(&mut line, value);
    }
    line.push_str(" system=spiffe-helper\n");
    line
}

struct Fields(Vec<(String, String)>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.push((key.as_str().to_owned(), value.to_string()));
        Ok(())
    }
}

/// Appends `value` bare when logrus would (only `[A-Za-z0-9-._/@^+]`, or empty), else Go-quoted.
fn push_value(out: &mut String, value: &str) {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, proleptic Gregorian).
/// `unix_secs` as RFC 3339 in UTC, as the log lines print time.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_786_104_000), "2026-08-07T12:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn values_are_quoted_like_logrus() {
        let mut s = String::new();
        push_value(&mut s, "spiffe://example.org/w");
        assert_eq!(s, "\"spiffe://example.org/w\"");
        s.clear();
        push_value(&mut s, "certs/svid.pem");
        assert_eq!(s, "certs/svid.pem");
        s.clear();
        push_value(&mut s, "Using configuration file: \"helper.conf\"");
        assert_eq!(s, r#""Using configuration file: \"helper.conf\"""#);
        s.clear();
        push_value(&mut s, "");
        assert_eq!(s, "");
    }

    #[test]
    fn line_has_upstream_layout_with_sorted_fields() {
        let kvs: &[(&str, &str)] = &[("spiffe_id", "spiffe://td/w"), ("error", "boom")];
        let line = format_line(
            1_786_104_000,
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("Received update"))
                .key_values(&kvs)
                .build(),
        );
        assert_eq!(
            line,
            "time=\"2026-08-07T12:00:00Z\" level=info msg=\"Received update\" error=boom \
             spiffe_id=\"spiffe://td/w\" system=spiffe-helper\n"
        );
    }
}
