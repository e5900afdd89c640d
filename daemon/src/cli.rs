//! Command-line flags with Go `flag` package semantics, as upstream parses them
//! (`cmd/spiffe-helper/main.go@v0.11.0`):
//! `-flag` or `--flag`, `-flag=value` or `-flag value`; parsing stops at the first
//! non-flag argument; unknown flags exit 2 with usage.
//!
//! One deliberate fix: `-daemon-mode false` (a bool flag followed by a separate `true` or
//! `false`) means what the user wrote, where Go would ignore the word and set `true`.
//!
//! One addition (ours; upstream issue #249): `-- PROG [ARGS...]` runs the helper as a
//! wrapper of PROG. Upstream (`cmd/spiffe-helper/main.go@v0.11.0`) ignores everything after `--`,
//! as it ignores every positional argument; a positional argument without `--` is still ignored.
//!
//! Two modes of ours: `-validate` prints the effective configuration, and `-healthcheck
//! live|ready` (with `-timeout`) probes the helper's own health listener (issue 17).

use core::time::Duration;

use svid_core::config::{LogFormat, LogLevel, LogSettingError, parse_duration};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Read this config file (`None`: upstream's default `helper.conf`,
    /// `cmd/spiffe-helper/main.go@v0.11.0`, which may be missing
    /// when the environment configures the helper) with, if given, the `-daemon-mode`,
    /// `-log-level` and `-log-format` overrides, then do `mode`; `wrap` is the program and
    /// arguments after `--` (empty: not a wrapper).
    Run {
        config: Option<String>,
        daemon_mode: Option<bool>,
        logging: LogFlags,
        wrap: Vec<String>,
        mode: Mode,
    },
    /// `-version`: print the version and exit 0.
    Version,
    /// `-h`/`-help`: print usage and exit 0.
    Help,
}

/// What a run with a configuration does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Be the helper.
    #[default]
    Helper,
    /// `-validate`: print the effective configuration as JSON and exit.
    Validate,
    /// `-healthcheck live|ready`: request the running helper's health endpoint, with
    /// `-timeout` as the deadline.
    Healthcheck(Probe, Duration),
}

/// The check `-healthcheck` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `live`: the `liveness_path`.
    Live,
    /// `ready`: the `readiness_path`.
    Ready,
}

/// `-timeout` when not given.
pub(crate) const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `-log-level` and `-log-format`, which win over `log_level` and `log_format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogFlags {
    /// `-log-level`.
    pub level: Option<LogLevel>,
    /// `-log-format`.
    pub format: Option<LogFormat>,
}

/// A bad command line: its `Display` is the message printed before the usage text (exit code
/// 2), Go's `flag` package's words for its own mistakes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UsageError {
    /// An argument that starts with `-` but is no flag: `-`, `---x`, `-=x` (the argument).
    BadSyntax(String),
    /// A flag that takes a value is last, without one (the flag's name).
    MissingValue(String),
    /// `-log-level` or `-log-format` with a word that is not a level or format.
    LogSetting {
        /// The flag's name.
        flag: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        error: LogSettingError,
    },
    /// `-healthcheck` with a value other than `live` or `ready`.
    NotAProbe(String),
    /// `-timeout` with a value that is not a positive Go duration.
    BadTimeout(String),
    /// A boolean flag with a value Go's `strconv.ParseBool` refuses.
    BadBool {
        /// The flag's name.
        flag: String,
        /// The value given.
        value: String,
    },
    /// A flag no spiffe-helper knows (its name).
    UnknownFlag(String),
    /// `-validate` and `-healthcheck` together.
    ValidateAndHealthcheck,
    /// `-timeout` without `-healthcheck`.
    TimeoutWithoutHealthcheck,
    /// `-- PROG` with `-validate` or `-healthcheck`.
    WrapInAnotherMode,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let invalid = |f: &mut std::fmt::Formatter<'_>, value: &str, flag: &str| {
            write!(f, "invalid value {value:?} for flag -{flag}: ")
        };
        match self {
            Self::BadSyntax(arg) => write!(f, "bad flag syntax: {arg}"),
            Self::MissingValue(flag) => write!(f, "flag needs an argument: -{flag}"),
            Self::LogSetting { flag, value, error } => {
                invalid(f, value, flag)?;
                error.fmt(f)
            }
            Self::NotAProbe(value) => {
                invalid(f, value, "healthcheck")?;
                f.write_str("not live or ready")
            }
            Self::BadTimeout(value) => {
                invalid(f, value, "timeout")?;
                f.write_str("not a positive duration such as 1s or 500ms")
            }
            Self::BadBool { flag, value } => {
                write!(
                    f,
                    "invalid boolean value \"{value}\" for -{flag}: parse error"
                )
            }
            Self::UnknownFlag(flag) => write!(f, "flag provided but not defined: -{flag}"),
            Self::ValidateAndHealthcheck => f.write_str("-validate and -healthcheck: give one"),
            Self::TimeoutWithoutHealthcheck => {
                f.write_str("-timeout is the deadline of -healthcheck: give both")
            }
            Self::WrapInAnotherMode => {
                f.write_str("-- PROG runs the helper: not with -validate or -healthcheck")
            }
        }
    }
}

/// The source is the refused log setting's error, for [`UsageError::LogSetting`].
impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::LogSetting { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where `helper.conf` is documented key by key.
pub(crate) const CONFIG_KEYS_DOC: &str = "docs/configuration.md, section \"Configuration keys\"";

/// Upstream's usage text for program name `prog` (Go `flag.PrintDefaults`,
/// `cmd/spiffe-helper/main.go@v0.11.0`), printed alone
/// after a bad command line, as upstream prints it.
pub(crate) fn usage(prog: &str) -> String {
    format!(
        "Usage of {prog}:\n  -config string\n    \t<configFile> Configuration file path (default \"helper.conf\")\n  -daemon-mode\n    \tToggle running as a daemon to rotate X.509/JWT or just fetch and exit (default true)\n  -version\n    \tprint version\n"
    )
}

/// What `-h`/`-help` prints: [`usage`], then the flags of ours, wrapper mode's form and one
/// line pointing to the documentation of the configuration keys.
pub(crate) fn help(prog: &str) -> String {
    format!(
        "{}{OUR_FLAGS}After the flags, -- PROG [ARGS...] runs PROG once every output is written \
         and exits with its status (wrapper mode).\nConfiguration file keys: see \
         {CONFIG_KEYS_DOC} of spiffe-helper-rs.\n",
        usage(prog)
    )
}

/// The flags of ours, as Go's `flag.PrintDefaults` would list them, after upstream's.
const OUR_FLAGS: &str = "Flags of spiffe-helper-rs:\n  -healthcheck string\n    \tlive or ready: \
    request the running helper's health endpoint on localhost, exit 0 only on HTTP 200\n  \
    -timeout duration\n    \tdeadline of -healthcheck (default 1s)\n  -validate\n    \tprint the \
    effective configuration (file, SPIFFE_HLP_* environment, flags) as JSON and exit\n";

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Command, UsageError> {
    let mut config = None;
    let mut daemon_mode = None;
    let mut validate = false;
    let mut probe = None;
    let mut timeout = None;
    let mut logging = LogFlags::default();
    let mut version = false;
    let mut wrap = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            wrap = args[i..].to_vec();
            break;
        }
        let Some(stripped) = arg.strip_prefix('-').filter(|s| !s.is_empty()) else {
            break;
        };
        let body = stripped.strip_prefix('-').unwrap_or(stripped);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(UsageError::BadSyntax(arg.clone()));
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        match name {
            "config" | "log-level" | "log-format" | "healthcheck" | "timeout" => {
                let value = match value {
                    Some(v) => v.to_owned(),
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(UsageError::MissingValue(name.to_owned())),
                };
                let invalid = |error| UsageError::LogSetting {
                    flag: name.to_owned(),
                    value: value.clone(),
                    error,
                };
                match name {
                    "config" => config = Some(value),
                    "log-level" => logging.level = Some(LogLevel::parse(&value).map_err(invalid)?),
                    "log-format" => {
                        logging.format = Some(LogFormat::parse(&value).map_err(invalid)?)
                    }
                    "healthcheck" => {
                        probe = Some(match value.as_str() {
                            "live" => Probe::Live,
                            "ready" => Probe::Ready,
                            _ => return Err(UsageError::NotAProbe(value)),
                        });
                    }
                    _ => {
                        let positive = parse_duration(&value).filter(|d| !d.is_zero());
                        timeout = Some(positive.ok_or(UsageError::BadTimeout(value))?);
                    }
                }
            }
            "daemon-mode" | "version" | "validate" => {
                let parsed = match value {
                    Some(v) => parse_bool(v).ok_or_else(|| UsageError::BadBool {
                        flag: name.to_owned(),
                        value: v.to_owned(),
                    })?,
                    None => match args.get(i).map(String::as_str) {
                        Some(word @ ("true" | "false")) if name == "daemon-mode" => {
                            i += 1;
                            word == "true"
                        }
                        _ => true,
                    },
                };
                match name {
                    "version" => version = parsed,
                    "validate" => validate = parsed,
                    _ => daemon_mode = Some(parsed),
                }
            }
            "h" | "help" => return Ok(Command::Help),
            _ => {
                return Err(UsageError::UnknownFlag(name.to_owned()));
            }
        }
    }
    if version {
        return Ok(Command::Version);
    }
    let mode = match (validate, probe) {
        (true, Some(_)) => {
            return Err(UsageError::ValidateAndHealthcheck);
        }
        (true, None) => Mode::Validate,
        (false, Some(probe)) => Mode::Healthcheck(probe, timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT)),
        (false, None) if timeout.is_some() => {
            return Err(UsageError::TimeoutWithoutHealthcheck);
        }
        (false, None) => Mode::Helper,
    };
    if mode != Mode::Helper && !wrap.is_empty() {
        return Err(UsageError::WrapInAnotherMode);
    }
    Ok(Command::Run {
        config,
        daemon_mode,
        logging,
        wrap,
        mode,
    })
}

/// Go `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command, or the text of the usage error (which must stay byte for byte Go's).
    fn run(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    fn config(path: &str, daemon_mode: Option<bool>) -> Result<Command, String> {
        Ok(Command::Run {
            config: (path != DEFAULT).then(|| path.into()),
            daemon_mode,
            logging: LogFlags::default(),
            wrap: Vec::new(),
            mode: Mode::Helper,
        })
    }

    /// Stands for "no -config flag" in [`config`].
    const DEFAULT: &str = "(default)";

    #[test]
    fn log_flags_take_a_value_and_refuse_unknown_words() {
        let Ok(Command::Run { logging, .. }) =
            run(&["-log-level", "debug", "--log-format=json", "-config", "c"])
        else {
            panic!("a run command");
        };
        assert_eq!(
            logging,
            LogFlags {
                level: Some(LogLevel::Debug),
                format: Some(LogFormat::Json),
            }
        );
        assert_eq!(
            run(&["-log-level=trace"]),
            Err(
                "invalid value \"trace\" for flag -log-level: log_level \"trace\" is not one of \
                 debug, info, warn or error"
                    .into()
            )
        );
        assert_eq!(
            run(&["-log-format"]),
            Err("flag needs an argument: -log-format".into())
        );
    }

    #[test]
    fn defaults_and_value_forms() {
        assert_eq!(run(&[]), config(DEFAULT, None));
        assert_eq!(run(&["-config", "a.conf"]), config("a.conf", None));
        assert_eq!(run(&["--config=b.conf"]), config("b.conf", None));
        assert_eq!(run(&["-config=", "x"]), config("", None));
    }

    #[test]
    fn daemon_mode_forms() {
        assert_eq!(run(&["-daemon-mode=false"]), config(DEFAULT, Some(false)));
        assert_eq!(run(&["--daemon-mode=0"]), config(DEFAULT, Some(false)));
        assert_eq!(run(&["-daemon-mode"]), config(DEFAULT, Some(true)));
        assert_eq!(
            run(&["-daemon-mode", "false"]),
            config(DEFAULT, Some(false))
        );
        assert_eq!(
            run(&["-daemon-mode", "false", "-config", "c"]),
            config("c", Some(false))
        );
        assert_eq!(
            run(&["-daemon-mode=maybe"]),
            Err("invalid boolean value \"maybe\" for -daemon-mode: parse error".into())
        );
    }

    #[test]
    fn parsing_stops_at_first_positional() {
        assert_eq!(run(&["x", "-bogus"]), config(DEFAULT, None));
        assert_eq!(run(&["x", "--", "prog"]), config(DEFAULT, None));
    }

    #[test]
    fn what_follows_a_double_dash_is_the_wrapped_program() {
        assert_eq!(
            run(&["-config", "c", "--", "envoy", "-c", "--", "x y"]),
            Ok(Command::Run {
                config: Some("c".into()),
                daemon_mode: None,
                logging: LogFlags::default(),
                wrap: vec!["envoy".into(), "-c".into(), "--".into(), "x y".into()],
                mode: Mode::Helper,
            })
        );
        assert_eq!(run(&["--"]), config(DEFAULT, None));
    }

    #[test]
    fn help_is_upstreams_usage_then_points_to_the_config_keys() {
        let text = help("spiffe-helper");
        let (upstream, ours) = text
            .split_once("  -version\n    \tprint version\n")
            .unwrap();
        assert!(upstream.starts_with("Usage of spiffe-helper:\n  -config string\n"));
        assert!(usage("spiffe-helper").ends_with("  -version\n    \tprint version\n"));
        assert_eq!(
            ours,
            "Flags of spiffe-helper-rs:\n  -healthcheck string\n    \tlive or ready: request the \
             running helper's health endpoint on localhost, exit 0 only on HTTP 200\n  -timeout \
             duration\n    \tdeadline of -healthcheck (default 1s)\n  -validate\n    \tprint the \
             effective configuration (file, SPIFFE_HLP_* environment, flags) as JSON and exit\n\
             After the flags, -- PROG [ARGS...] runs PROG once every output is written and exits \
             with its status (wrapper mode).\nConfiguration file keys: see \
             docs/configuration.md, section \"Configuration keys\" of spiffe-helper-rs.\n"
        );
    }

    #[test]
    fn the_docs_have_the_section_usage_points_to() {
        let page = include_str!("../../docs/configuration.md");
        assert!(page.contains("\n## Configuration keys\n"));
        assert!(CONFIG_KEYS_DOC.contains("\"Configuration keys\""));
    }

    #[test]
    fn validate_and_healthcheck_are_modes_of_a_run() {
        let mode = |args: &[&str]| match run(args) {
            Ok(Command::Run { mode, config, .. }) => Ok((mode, config)),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(mode(&["-validate"]), Ok((Mode::Validate, None)));
        assert_eq!(
            mode(&["-config", "c", "--validate=true"]),
            Ok((Mode::Validate, Some("c".into())))
        );
        assert_eq!(mode(&["-validate=false"]), Ok((Mode::Helper, None)));
        assert_eq!(
            mode(&["-healthcheck", "ready"]),
            Ok((Mode::Healthcheck(Probe::Ready, DEFAULT_PROBE_TIMEOUT), None))
        );
        assert_eq!(
            mode(&["-healthcheck=live", "-timeout", "250ms"]),
            Ok((
                Mode::Healthcheck(Probe::Live, Duration::from_millis(250)),
                None
            ))
        );
        assert_eq!(
            mode(&["-healthcheck", "up"]),
            Err("invalid value \"up\" for flag -healthcheck: not live or ready".into())
        );
        assert_eq!(
            mode(&["-healthcheck", "live", "-timeout", "0"]),
            Err(
                "invalid value \"0\" for flag -timeout: not a positive duration such as 1s or \
                 500ms"
                    .into()
            )
        );
        assert_eq!(
            mode(&["-timeout", "1s"]),
            Err("-timeout is the deadline of -healthcheck: give both".into())
        );
        assert_eq!(
            mode(&["-validate", "-healthcheck", "live"]),
            Err("-validate and -healthcheck: give one".into())
        );
        assert_eq!(
            mode(&["-validate", "--", "prog"]),
            Err("-- PROG runs the helper: not with -validate or -healthcheck".into())
        );
    }

    #[test]
    fn version_help_and_errors() {
        assert_eq!(run(&["-version"]), Ok(Command::Version));
        assert_eq!(run(&["-config", "x", "--version"]), Ok(Command::Version));
        assert_eq!(run(&["-h"]), Ok(Command::Help));
        assert_eq!(run(&["-help"]), Ok(Command::Help));
        assert_eq!(
            run(&["-x"]),
            Err("flag provided but not defined: -x".into())
        );
        assert_eq!(
            run(&["-config"]),
            Err("flag needs an argument: -config".into())
        );
        assert_eq!(
            run(&["---config"]),
            Err("bad flag syntax: ---config".into())
        );
    }
}
