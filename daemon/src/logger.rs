//! Log lines in upstream's logrus text format (`cmd/spiffe-helper/main.go@v0.11.0`), one event
//! per line on stderr:
//! `time="2026-08-07T12:00:00Z" level=info msg="Received update" spiffe_id=spiffe://td/w system=spiffe-helper`.
//!
//! Fields come from `log`'s key-values and are printed in alphabetical order, like logrus.
//! Time is UTC: a `FROM scratch` image has no time-zone database.
//!
//! With `log_format = "json"`, each line is instead one JSON object as logrus's
//! `JSONFormatter` writes it (`github.com/sirupsen/logrus/json_formatter.go`): the fields plus
//! `level`, `msg` and `time` in one map, which Go's `encoding/json` writes with its keys
//! sorted: `{"level":"info","msg":"Received update","spiffe_id":"spiffe://td/w",
//! "system":"spiffe-helper","time":"2026-08-07T12:00:00Z"}`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use svid_core::config::{LogFormat, LogLevel};

struct Logger {
    json: AtomicBool,
}

static LOGGER: Logger = Logger {
    json: AtomicBool::new(false),
};

/// Installs the stderr logger at info level, in the text format.
pub(crate) fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Applies `log_level` and `log_format` to every line logged from now on.
pub(crate) fn configure(level: LogLevel, format: LogFormat) {
    log::set_max_level(match level {
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
    });
    LOGGER
        .json
        .store(format == LogFormat::Json, Ordering::Relaxed);
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let line = if self.json.load(Ordering::Relaxed) {
            format_json(secs, record)
        } else {
            format_line(secs, record)
        };
        // A closed stderr must not take the helper down.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// logrus's name of a level (`Level.String()`).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// The record's key-values, sorted by key.
fn sorted_fields(record: &Record) -> Vec<(String, String)> {
    let mut fields = Fields(Vec::new());
    // Collecting into a Vec cannot fail.
    let _ = record.key_values().visit(&mut fields);
    fields.0.sort();
    fields.0
}

/// Renders one record as a logrus text line, newline included.
fn format_line(unix_secs: u64, record: &Record) -> String {
    let level = level_name(record.level());
    let fields = sorted_fields(record);
    let mut line = String::with_capacity(128);
    let _ = write!(line, "time=\"{}\" level={level} msg=", rfc3339(unix_secs));
    push_value(&mut line, &record.args().to_string());
    for (key, value) in &fields {
        let _ = write!(line, " {key}=");
        push_value(&mut line, value);
    }
    line.push_str(" system=spiffe-helper\n");
    line
}

/// Renders one record as a logrus `JSONFormatter` line, newline included: one map of the
/// fields, `system`, `level`, `msg` and `time`, keys sorted as `encoding/json` sorts a map.
/// A field named like one of logrus's own keys is renamed `fields.<key>`, as logrus does.
fn format_json(unix_secs: u64, record: &Record) -> String {
    let mut map: Vec<(String, String)> = sorted_fields(record)
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "level" | "msg" | "time" => (format!("fields.{key}"), value),
            _ => (key, value),
        })
        .collect();
    map.push(("system".into(), "spiffe-helper".into()));
    map.push(("level".into(), level_name(record.level()).into()));
    map.push(("msg".into(), record.args().to_string()));
    map.push(("time".into(), rfc3339(unix_secs)));
    map.sort_by(|a, b| a.0.cmp(&b.0));
    let mut line = String::with_capacity(160);
    line.push('{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_json_string(&mut line, key);
        line.push(':');
        push_json_string(&mut line, value);
    }
    line.push_str("}\n");
    line
}

/// Appends `s` as Go's `encoding/json` encodes a string with HTML escaping on (logrus's
/// default): `"` and `\\` escaped, `\n` `\r` `\t` `\b` `\f` short, other control characters,
/// `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`/`\u20XX` (`encoding/json/encode.go`,
/// `appendString`).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
pub(crate) fn rfc3339(unix_secs: u64) -> String {
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

    /// A "Received update" record at 2026-08-07T12:00:00Z, rendered by `format`.
    fn received_update(
        format: fn(u64, &Record) -> String,
        level: Level,
        kvs: &[(&str, &str)],
    ) -> String {
        format(
            1_786_104_000,
            &Record::builder()
                .level(level)
                .args(format_args!("Received update"))
                .key_values(&kvs)
                .build(),
        )
    }

    #[test]
    fn line_has_upstream_layout_with_sorted_fields() {
        let kvs: &[(&str, &str)] = &[("spiffe_id", "spiffe://td/w"), ("error", "boom")];
        let line = received_update(format_line, Level::Info, kvs);
        assert_eq!(
            line,
            "time=\"2026-08-07T12:00:00Z\" level=info msg=\"Received update\" error=boom \
             spiffe_id=\"spiffe://td/w\" system=spiffe-helper\n"
        );
    }

    #[test]
    fn json_line_is_logrus_json_formatter_map_with_sorted_keys() {
        let kvs: &[(&str, &str)] = &[
            ("spiffe_id", "spiffe://td/w"),
            ("error", "a <b> & \"c\"\n\u{1}\u{2028}"),
            ("msg", "clash"),
        ];
        let line = received_update(format_json, Level::Warn, kvs);
        assert_eq!(
            line,
            "{\"error\":\"a \\u003cb\\u003e \\u0026 \\\"c\\\"\\n\\u0001\\u2028\",\
             \"fields.msg\":\"clash\",\"level\":\"warning\",\"msg\":\"Received update\",\
             \"spiffe_id\":\"spiffe://td/w\",\"system\":\"spiffe-helper\",\
             \"time\":\"2026-08-07T12:00:00Z\"}\n"
        );
    }
}
