//! `log_level` and `log_format` (ours; `log_level` is upstream PR #440's key, read with
//! logrus's `ParseLevel` case-insensitivity, `github.com/sirupsen/logrus/logrus.go`).

use alloc::string::String;
use core::fmt;

/// How much the helper logs; each level includes the ones after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the logger must implement every level"
)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: what upstream logs (logrus's default level,
    /// `cmd/spiffe-helper/main.go@v0.11.0`).
    #[default]
    Info,
    /// Everything, with the session's connection and retry details.
    Debug,
}

/// How each log line is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "the logger must implement every format"
)]
pub enum LogFormat {
    /// logrus's `TextFormatter` line, as upstream writes it (`cmd/spiffe-helper/main.go@v0.11.0`;
    /// the default).
    #[default]
    Text,
    /// logrus's `JSONFormatter`: one JSON object per line.
    Json,
}

/// A `log_level` or `log_format` value that is not one of the accepted words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogSettingError {
    /// `log_level` or `log_format`.
    pub key: &'static str,
    /// The value as written.
    pub value: String,
}

impl fmt::Display for LogSettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accepted = if self.key == "log_level" {
            "debug, info, warn or error"
        } else {
            "text or json"
        };
        write!(f, "{} {:?} is not one of {accepted}", self.key, self.value)
    }
}

impl core::error::Error for LogSettingError {}

impl LogLevel {
    /// Its name in `log_level`, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }

    /// Reads `value` case-insensitively (`warning` too, as logrus); empty means `info`.
    pub fn parse(value: &str) -> Result<Self, LogSettingError> {
        let level = match value.to_ascii_lowercase().as_str() {
            "" | "info" => Self::Info,
            "debug" => Self::Debug,
            "warn" | "warning" => Self::Warn,
            "error" => Self::Error,
            _ => {
                return Err(LogSettingError {
                    key: "log_level",
                    value: String::from(value),
                });
            }
        };
        Ok(level)
    }
}

impl LogFormat {
    /// Its name in `log_format`, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }

    /// Reads `value` case-insensitively; empty means `text`.
    pub fn parse(value: &str) -> Result<Self, LogSettingError> {
        match value.to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(LogSettingError {
                key: "log_format",
                value: String::from(value),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn levels_and_formats_parse_as_documented() {
        for (value, want) in [
            ("", LogLevel::Info),
            ("info", LogLevel::Info),
            ("DEBUG", LogLevel::Debug),
            ("warn", LogLevel::Warn),
            ("Warning", LogLevel::Warn),
            ("error", LogLevel::Error),
        ] {
            assert_eq!(LogLevel::parse(value), Ok(want), "{value}");
        }
        for (value, want) in [
            ("", LogFormat::Text),
            ("text", LogFormat::Text),
            ("JSON", LogFormat::Json),
        ] {
            assert_eq!(LogFormat::parse(value), Ok(want), "{value}");
        }
        assert!(LogLevel::Debug > LogLevel::Info && LogLevel::Warn > LogLevel::Error);
        for level in [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ] {
            assert_eq!(LogLevel::parse(level.name()), Ok(level));
        }
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(LogFormat::parse(format.name()), Ok(format));
        }
    }

    #[test]
    fn other_values_are_refused_by_name() {
        assert_eq!(
            LogLevel::parse("verbose").unwrap_err().to_string(),
            "log_level \"verbose\" is not one of debug, info, warn or error"
        );
        assert_eq!(
            LogFormat::parse("logfmt").unwrap_err().to_string(),
            "log_format \"logfmt\" is not one of text or json"
        );
        assert!(LogLevel::parse("trace").is_err());
    }
}
