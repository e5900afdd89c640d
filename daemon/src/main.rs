//! `spiffe-helper`: fetches X.509-SVIDs from the SPIFFE Workload API, writes them as files,
//! keeps them fresh as they rotate and signals the workload. A drop-in replacement for
//! upstream's Go helper: same flags (`cmd/spiffe-helper/main.go@v0.11.0`), same `helper.conf`,
//! same files.

mod agent;
mod child;
mod cli;
mod driver;
mod files;
mod health;
mod hooks;
mod logger;
mod notify;
mod oserror;
mod pidfile;
mod probe;
mod report;
mod setup;
mod signals;
mod x509_set;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use log::{error, info, warn};
use svid_core::config::{self, Validated};
use svid_core::workload::{
    ClientConfig, EXIT_CONFIG, Exit, HookOptions, JwtSvidOptions, SessionConfig, X509Options,
};
use svid_core::x509::EntryOptions;

use crate::child::Process;
use crate::driver::{FileSpec, Outcome, PidFile, Plan};
use crate::notify::Notifier;
use crate::x509_set::{EntryFiles, Pkcs12, Pkcs12Files, X509Files};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map_or("spiffe-helper", String::as_str);
    let (config_path, daemon_flag, log_flags, wrap, mode) =
        match cli::parse(args.get(1..).unwrap_or_default()) {
            Ok(cli::Command::Version) => {
                println!("{}", env!("SPIFFE_HELPER_VERSION"));
                return ExitCode::SUCCESS;
            }
            Ok(cli::Command::Help) => {
                eprint!("{}", cli::help(prog));
                return ExitCode::SUCCESS;
            }
            Ok(cli::Command::Run {
                config,
                daemon_mode,
                logging,
                wrap,
                mode,
            }) => (config, daemon_mode, logging, wrap, mode),
            Err(e) => {
                eprint!("{e}\n{}", cli::usage(prog));
                return ExitCode::from(2);
            }
        };
    // A probe logs only its failure (and a configuration error), unless told otherwise.
    let log_flags = match mode {
        cli::Mode::Healthcheck(..) => cli::LogFlags {
            level: log_flags.level.or(Some(config::LogLevel::Error)),
            ..log_flags
        },
        _ => log_flags,
    };
    logger::init();
    // The flags apply at once, so that even an unreadable config is reported as asked.
    logger::configure(
        log_flags.level.unwrap_or_default(),
        log_flags.format.unwrap_or_default(),
    );
    let validated = match load(config_path.as_deref(), daemon_flag, log_flags) {
        Ok(v) => v,
        Err(e) => {
            error!(error = e.to_string(); "{}", e.message());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match mode {
        cli::Mode::Validate => return validate(&validated),
        cli::Mode::Healthcheck(probe, timeout) => return healthcheck(&validated, probe, timeout),
        cli::Mode::Helper => {}
    }
    let exit = run(&validated, &wrap);
    if exit == ExitCode::SUCCESS {
        info!("Exiting");
    }
    exit
}

/// Upstream's `-config` default (`cmd/spiffe-helper/main.go@v0.11.0`).
const DEFAULT_CONFIG: &str = "helper.conf";

/// Why the configuration could not be loaded: upstream's log message ([`LoadError::message`])
/// and its `error` field (the `Display`).
#[derive(Debug)]
enum LoadError {
    /// The file cannot be opened (`op` "open") or read ("read").
    Read {
        /// The `-config` path.
        path: String,
        /// The operation that failed, as Go's `*fs.PathError` names it.
        op: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is not HCL v1 or JSON `helper.conf`.
    Parse {
        /// The `-config` path.
        path: String,
        /// Where and why.
        error: config::SyntaxError,
    },
    /// A `SPIFFE_HLP_*` variable cannot be applied.
    Env(config::EnvError),
    /// `log_level` or `log_format` (or the flag over it) is not one of the accepted words.
    LogSetting(config::LogSettingError),
    /// The configuration breaks a rule of upstream's (or of ours).
    Invalid(config::ValidationError),
}

impl LoadError {
    /// Upstream's log message for this error.
    fn message(&self) -> &'static str {
        match self {
            Self::Read { .. } | Self::Parse { .. } | Self::Env(_) => {
                "failed to parse configuration"
            }
            Self::LogSetting(_) | Self::Invalid(_) => "invalid configuration",
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { path, op, error } => write!(
                f,
                "failed to parse \"{path}\": {}",
                oserror::path_error(op, path, error)
            ),
            Self::Parse { path, error } => write!(f, "failed to parse \"{path}\": {error}"),
            Self::Env(e) => e.fmt(f),
            Self::LogSetting(e) => e.fmt(f),
            Self::Invalid(e) => e.fmt(f),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { error, .. } => Some(error),
            Self::Parse { error, .. } => Some(error),
            Self::Env(e) => Some(e),
            Self::LogSetting(e) => Some(e),
            Self::Invalid(e) => Some(e),
        }
    }
}

/// Reads, parses and validates the config (`path`: the `-config` flag), with the
/// `SPIFFE_HLP_*` environment variables over the file's keys; errors carry upstream's message
/// and detail (`cmd/spiffe-helper/config/config.go@v0.11.0`). Without `-config`, a missing
/// `helper.conf` is no error when the environment
/// sets at least one `SPIFFE_HLP_*` variable: the environment is then the whole
/// configuration.
fn load(
    path: Option<&str>,
    daemon_flag: Option<bool>,
    log_flags: cli::LogFlags,
) -> Result<Validated, LoadError> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| name.as_bytes().starts_with(config::ENV_PREFIX.as_bytes()))
        .collect();
    env.sort_unstable();
    let file_optional = path.is_none() && !env.is_empty();
    let path = path.unwrap_or(DEFAULT_CONFIG);
    let read_err = |op, error| LoadError::Read {
        path: path.to_owned(),
        op,
        error,
    };
    let names: Vec<_> = env.iter().map(|(n, _)| n.to_string_lossy()).collect();
    let names = names.join(",");
    let announce = |from_file: bool| {
        if !from_file {
            info!(variables = names.as_str(); "No configuration file \"{path}\": the {}* environment variables are the configuration", config::ENV_PREFIX);
            return;
        }
        info!("Using configuration file: \"{path}\"");
        if !env.is_empty() {
            info!(variables = names.as_str(); "Using {}* environment variables over the file's keys", config::ENV_PREFIX);
        }
    };
    // As Go's os.ReadFile: an open error, then a read error (a directory opens but cannot
    // be read), each worded as Go's *fs.PathError.
    let read = || {
        let mut file = match std::fs::File::open(path) {
            Err(e) if file_optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(|e| read_err("open", e))?,
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| read_err("read", e))?;
        config::parse_bytes(&bytes)
            .map(Some)
            .map_err(|error| LoadError::Parse {
                path: path.to_owned(),
                error,
            })
    };
    // The file's log settings (and the environment's over them) apply from the first line on
    // when they parse, before validation, whose warnings then follow `log_level` (upstream PR
    // #440's review); the flags alone govern the lines of a configuration that cannot be read.
    let parsed = read().inspect_err(|_| announce(true))?;
    let from_file = parsed.is_some();
    let mut parsed = parsed.unwrap_or_default();
    let pairs = env.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
    config::apply_env(&mut parsed, pairs).map_err(|e| {
        announce(from_file);
        LoadError::Env(e)
    })?;
    let announce = || announce(from_file);
    let invalid = |e: config::LogSettingError| {
        announce();
        LoadError::LogSetting(e)
    };
    // The flags win: written into the configuration, they are its effective values.
    if let Some(level) = log_flags.level {
        parsed.log_level = level.name().into();
    }
    if let Some(format) = log_flags.format {
        parsed.log_format = format.name().into();
    }
    let level = config::LogLevel::parse(&parsed.log_level).map_err(invalid)?;
    let format = config::LogFormat::parse(&parsed.log_format).map_err(invalid)?;
    logger::configure(level, format);
    announce();
    let env = std::env::var("SPIFFE_ENDPOINT_SOCKET").ok();
    let (validated, warnings) = parsed
        .validate(daemon_flag, env.as_deref())
        .map_err(LoadError::Invalid)?;
    for warning in warnings {
        warn!("{warning}");
    }
    Ok(validated)
}

/// `-validate`: the checks made at start that the configuration alone decides (see
/// [`plan`]), then the effective configuration on stdout as JSON.
fn validate(cfg: &Validated) -> ExitCode {
    if let Err(e) = plan(cfg) {
        error!(error = e.to_string(); "invalid configuration");
        return ExitCode::from(EXIT_CONFIG);
    }
    print!("{}", cfg.to_json());
    ExitCode::SUCCESS
}

/// `-healthcheck`: exit 0 when the helper's own endpoint answers `200` within `timeout`,
/// else 1 with the reason.
fn healthcheck(cfg: &Validated, which: cli::Probe, timeout: std::time::Duration) -> ExitCode {
    let result = probe::target(cfg, which).and_then(|(addr, path)| {
        probe::check(addr, &path, timeout).map_err(|error| probe::ProbeError::Request {
            addr,
            path,
            error,
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = e.to_string(); "Health check failed");
            ExitCode::FAILURE
        }
    }
}

fn run(cfg: &Validated, wrap: &[String]) -> ExitCode {
    let (plan, mut session) = match plan(cfg) {
        Ok(p) => p,
        Err(e) => {
            error!(error = e.to_string(); "invalid configuration");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let lifecycle = cfg.lifecycle();
    let workload = match wrapped(cfg, wrap) {
        Ok(None) => lifecycle.workload.clone(),
        Ok(Some(program)) => {
            session.workload = true;
            session.wrap = true;
            Some(program)
        }
        Err(e) => {
            error!(error = e.to_string(); "invalid configuration");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let signals = match signals::Signals::install(session.wrap) {
        Ok(s) => s,
        Err(e) => {
            error!(error = e.to_string(); "Error starting spiffe-helper");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let c = cfg.config();
    if let agent::Endpoint::Unix(socket) = &plan.agent
        && let Some(kind) = not_a_socket(socket)
    {
        error!(error = format!("agent address {} is {kind}, not a Unix socket", socket.display()); "invalid configuration");
        return ExitCode::from(EXIT_CONFIG);
    }
    info!(agent_address = c.agent_address.as_str(); "Using the Workload API");
    if let Err(e) = prepare_outputs(cfg, &plan) {
        error!(error = e.to_string(); "invalid configuration");
        return ExitCode::from(EXIT_CONFIG);
    }
    check_cert_dir(&c.cert_dir);
    clean_leftovers(&plan);
    let mut child = Process::new(workload.as_ref(), &lifecycle.signal);
    if cfg.daemon_mode() {
        child::become_subreaper();
        info!("Launching daemon");
        if plan.x509.is_some() {
            info!("Watching for X509 Context");
        }
        if plan.jwt_bundle.is_some() {
            info!("Watching for JWT Bundles");
        }
    } else {
        info!("Daemon mode disabled");
    }
    let outcome = driver::run(&plan, session, &signals, &mut child);
    let (exit, last_conn) = match outcome {
        Outcome::Exit { exit, last_conn } => (exit, last_conn),
        Outcome::PollFailed(e) => {
            error!(error = e.to_string(); "Error starting spiffe-helper");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match &exit {
        Exit::Done => {
            if plan.x509.is_some() {
                info!("Successfully fetched x509 certificates");
            }
            if plan.jwt_bundle.is_some() {
                info!("Successfully fetched JWT bundle");
            }
            if !plan.jwt_svids.is_empty() {
                info!("Successfully fetched JWT SVIDs");
            }
        }
        Exit::Stopped { .. } | Exit::Wrapped(None) => {}
        Exit::Wrapped(Some(status)) => {
            info!(status = child::status_text(*status); "Program exited; exiting with its status");
        }
        Exit::Fatal(fatal) => {
            let e = report::fatal_error(fatal, last_conn.as_ref());
            if !cfg.daemon_mode() {
                error!(error = e.as_str(); "{}", report::one_shot_failure(fatal));
            }
            error!(error = e.as_str(); "Error starting spiffe-helper");
        }
        other => info!(exit = report::unworded(other); "Run ended"),
    }
    ExitCode::from(exit.code(!cfg.daemon_mode()))
}

/// Wrapper mode (`-- PROG [ARGS...]`): PROG as the workload, refused beside `cmd` or
/// `start`, or in one-shot mode.
fn wrapped(cfg: &Validated, wrap: &[String]) -> Result<Option<config::Workload>, WrapError> {
    let Some((cmd, args)) = wrap.split_first() else {
        return Ok(None);
    };
    if !cfg.daemon_mode() {
        return Err(WrapError::OneShot);
    }
    if cfg.lifecycle().workload.is_some() {
        return Err(WrapError::BesideCmd);
    }
    Ok(Some(config::Workload {
        cmd: cmd.clone(),
        args: config::Args::List(args.to_vec()),
        restart: config::Restart::Never,
    }))
}

/// Why `-- PROG` cannot run with this configuration.
#[derive(Debug)]
enum WrapError {
    /// `daemon_mode = false`.
    OneShot,
    /// `cmd` or a `start` block names a program too.
    BesideCmd,
}

impl std::fmt::Display for WrapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OneShot => "-- PROG needs daemon mode: it runs PROG and keeps its files fresh",
            Self::BesideCmd => "-- PROG and cmd (or start) are both set: keep one",
        })
    }
}

impl std::error::Error for WrapError {}

/// `file_owner`, `create_cert_dir` and the `include_federated_domains` warning (see
/// `setup`).
fn prepare_outputs(cfg: &Validated, plan: &Plan) -> Result<(), setup::SetupError> {
    let c = cfg.config();
    if let Some((uid, gid)) = cfg.file_owner() {
        files::set_owner(uid, gid);
    }
    if c.create_cert_dir {
        setup::create_dir(&c.cert_dir)?;
        if let Some(dir) = plan.x509.as_ref().and_then(|x| x.trust_bundle_dir.as_ref())
            && plan.layout == files::Layout::Plain
        {
            setup::create_dir(dir)?;
        }
    }
    if let Some(owner) = cfg.file_owner() {
        setup::check_owner(&c.cert_dir, owner)?;
    }
    if c.include_federated_domains
        && let Some(x) = &plan.x509
    {
        setup::warn_federated_merge(&x.bundle);
    }
    Ok(())
}

/// Says once, plainly, when `cert_dir` cannot take the files: every write would fail until
/// it is fixed (the helper does not create it, as upstream does not:
/// `pkg/disk/x509.go@v0.11.0`).
fn check_cert_dir(cert_dir: &str) {
    let dir = if cert_dir.is_empty() { "." } else { cert_dir };
    let problem = match std::fs::metadata(dir) {
        Err(e) => Some(e.to_string()),
        Ok(meta) if !meta.is_dir() => Some("not a directory".into()),
        Ok(_) => rustix::fs::access(dir, rustix::fs::Access::WRITE_OK)
            .err()
            .map(|e| std::io::Error::from(e).to_string()),
    };
    if let Some(problem) = problem {
        error!(cert_dir = dir, error = problem; "cert_dir cannot be written; every write will fail until it is fixed");
    }
}

/// What the agent socket path is when it is something no agent can listen on: a directory
/// or a regular file (ours: upstream retries forever). A missing path is fine: the agent may
/// start later.
fn not_a_socket(socket: &std::path::Path) -> Option<&'static str> {
    let meta = std::fs::metadata(socket).ok()?;
    if meta.is_dir() {
        Some("a directory")
    } else if meta.is_file() {
        Some("a regular file")
    } else {
        None
    }
}

/// Mistakes in a validated configuration that upstream only notices later (a signal name at
/// the second update, a socket path at every dial): refused at start instead.
#[derive(Debug)]
enum PlanError {
    /// `agent_address` is no SPIFFE Workload Endpoint address.
    Address(config::AddressError),
    /// `renew_signal` names no signal.
    UnknownSignal(String),
    /// The socket path does not fit a Unix socket address (`sun_path`, 108 bytes).
    SocketPathTooLong(String),
    /// `pkcs12_password_file` cannot be read as a password.
    Pkcs12Password(x509_set::PasswordError),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Address(e) => write!(f, "{e}"),
            Self::UnknownSignal(s) => write!(
                f,
                "renew_signal {s:?} is not a signal name such as \"SIGHUP\""
            ),
            Self::SocketPathTooLong(p) => write!(
                f,
                "agent socket path is {} bytes long, more than a Unix socket address holds ({MAX_SOCKET_PATH}): {p}",
                p.len()
            ),
            Self::Pkcs12Password(e) => write!(f, "{e}"),
        }
    }
}

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Cleans up after a helper killed mid-write: puts back a set whose renames were cut
/// short, removes temporaries, backups (copies of the key among them) and unpublished
/// versioned directories.
fn clean_leftovers(plan: &Plan) {
    let mut sets: Vec<Vec<&str>> = Vec::new();
    if let Some(x) = &plan.x509 {
        sets.push(x.names());
        // With the symlinked layout, the directory is a symlink replaced like a file.
        sets.extend(x.trust_bundle_dir.iter().map(|dir| vec![dir.as_str()]));
    }
    if let Some(f) = &plan.jwt_bundle {
        sets.push(vec![f.path.as_str()]);
    }
    sets.extend(plan.jwt_svids.iter().map(|f| vec![f.path.as_str()]));
    let sets: Vec<&[&str]> = sets.iter().map(Vec::as_slice).collect();
    let mut cleaned = files::clean_leftovers(plan.layout, &sets);
    if let Some(dir) = plan.x509.as_ref().and_then(|x| x.trust_bundle_dir.as_ref())
        && plan.layout == files::Layout::Plain
    {
        let pid = cleaned.restored_sets.iter().find(|(set, _)| *set == 0);
        let more = files::clean_dir_leftovers(
            dir,
            x509_set::is_trust_domain_file,
            pid.map(|(_, pid)| pid.as_str()),
        );
        cleaned.restored.extend(more.restored);
        cleaned.removed.extend(more.removed);
    }
    for restored in cleaned.restored {
        warn!(file = restored.display().to_string(); "Restored the previous file of an interrupted write");
    }
    for removed in cleaned.removed {
        info!(file = removed.display().to_string(); "Removed a leftover of an interrupted write");
    }
    for unlinked in cleaned.unlinked {
        info!(file = unlinked.display().to_string(); "Made a plain file of a symlink of symlinked_layout, now off");
    }
    for removed in cleaned.other_layout {
        info!(file = removed.display().to_string(); "Removed a file of symlinked_layout, now off");
    }
}

/// The run plan and the session's configuration: output paths (Go `path.Join` semantics),
/// modes, agent socket, health listener.
fn plan(cfg: &Validated) -> Result<(Plan, SessionConfig), PlanError> {
    let c = cfg.config();
    let agent = match config::agent_endpoint(&c.agent_address).map_err(PlanError::Address)? {
        config::Endpoint::Unix(socket) if socket.len() > MAX_SOCKET_PATH => {
            return Err(PlanError::SocketPathTooLong(socket.to_owned()));
        }
        config::Endpoint::Unix(socket) => agent::Endpoint::Unix(PathBuf::from(socket)),
        config::Endpoint::Tcp(addr) => agent::Endpoint::Tcp(addr),
    };
    if cfg.daemon_mode()
        && !c.renew_signal.is_empty()
        && config::signal_number(&c.renew_signal).is_none()
    {
        return Err(PlanError::UnknownSignal(c.renew_signal.clone()));
    }
    let join = |name: &str| config::join_path(&c.cert_dir, name);
    let name = |name: &str| (!name.is_empty()).then(|| join(name));
    let stores = |keystore: &str, truststore: &str| Pkcs12Files {
        keystore: name(keystore),
        truststore: name(truststore),
    };
    // Validation asks for the password file exactly when some store is named.
    let pkcs12 = match c.pkcs12_password_file.as_str() {
        "" => None,
        path => Some(Pkcs12 {
            files: stores(&c.pkcs12_keystore_file_name, &c.pkcs12_truststore_file_name),
            password: x509_set::read_password(path).map_err(PlanError::Pkcs12Password)?,
        }),
    };
    let plan = Plan {
        agent,
        x509: cfg.x509_enabled().then(|| X509Files {
            svid: join(&c.svid_file_name),
            key: join(&c.svid_key_file_name),
            bundle: join(&c.svid_bundle_file_name),
            credential: (!c.svid_credential_bundle_file_name.is_empty())
                .then(|| join(&c.svid_credential_bundle_file_name)),
            bundle_map: (!c.spiffe_bundle_map_file_name.is_empty())
                .then(|| join(&c.spiffe_bundle_map_file_name)),
            trust_bundle_dir: (!c.trust_bundle_dir.is_empty()).then(|| join(&c.trust_bundle_dir)),
            pkcs12: pkcs12.clone(),
            entries: c
                .x509_svids
                .iter()
                .map(|e| EntryFiles {
                    svid: join(&e.svid_file_name),
                    key: join(&e.svid_key_file_name),
                    bundle: join(&e.svid_bundle_file_name),
                    credential: (!e.svid_credential_bundle_file_name.is_empty())
                        .then(|| join(&e.svid_credential_bundle_file_name)),
                    pkcs12: stores(&e.pkcs12_keystore_file_name, &e.pkcs12_truststore_file_name),
                })
                .collect(),
            cert_mode: cfg.cert_file_mode(),
            key_mode: cfg.key_file_mode(),
        }),
        jwt_bundle: (!c.jwt_bundle_file_name.is_empty()).then(|| FileSpec {
            path: join(&c.jwt_bundle_file_name),
            mode: cfg.jwt_bundle_file_mode(),
        }),
        jwt_svids: c
            .jwt_svids
            .iter()
            .map(|j| FileSpec {
                path: join(&j.jwt_svid_file_name),
                mode: cfg.jwt_svid_file_mode(),
            })
            .collect(),
        pid_file: (!cfg.lifecycle().pid_file.is_empty()).then(|| PidFile {
            path: cfg.lifecycle().pid_file.clone(),
            signal: cfg.lifecycle().signal.clone(),
        }),
        health: (cfg.daemon_mode() && c.health_checks.listener_enabled).then(|| {
            let h = &c.health_checks;
            health::Settings {
                address: cfg.health_bind_address(),
                port: h.bind_port,
                liveness_path: h.liveness_path.clone(),
                readiness_path: h.readiness_path.clone(),
                read_header_timeout: cfg.health_read_header_timeout(),
                metrics_path: h.metrics_path.clone(),
            }
        }),
        layout: if c.symlinked_layout {
            files::Layout::Symlinked
        } else {
            files::Layout::Plain
        },
        notifier: Notifier::from_env().and_then(|n| {
            n.inspect_err(|e| warn!(error = e.to_string(); "Not notifying the service manager"))
                .ok()
        }),
        hooks: cfg.lifecycle().hooks.clone(),
    };
    let session = SessionConfig {
        client: ClientConfig {
            user_agent: concat!("spiffe-helper-rs/", env!("CARGO_PKG_VERSION")),
            max_message_size: cfg.max_message_size(),
            ..ClientConfig::default()
        },
        one_shot: !cfg.daemon_mode(),
        hint: c.hint.clone(),
        x509: cfg.x509_enabled().then_some(X509Options {
            add_intermediates_to_bundle: c.add_intermediates_to_bundle,
            include_federated_domains: c.include_federated_domains,
            omit_expired: c.omit_expired,
            verify: !c.skip_svid_verification,
            credential_bundle: !c.svid_credential_bundle_file_name.is_empty(),
            trust_domain_bundles: !c.trust_bundle_dir.is_empty(),
            bundle_map: !c.spiffe_bundle_map_file_name.is_empty(),
            pkcs12: !c.pkcs12_keystore_file_name.is_empty()
                || !c.pkcs12_truststore_file_name.is_empty(),
            entries: c
                .x509_svids
                .iter()
                .map(|e| EntryOptions {
                    hint: e.hint.clone(),
                    credential_bundle: !e.svid_credential_bundle_file_name.is_empty(),
                    pkcs12: !e.pkcs12_keystore_file_name.is_empty()
                        || !e.pkcs12_truststore_file_name.is_empty(),
                })
                .collect(),
        }),
        jwt_bundle: plan.jwt_bundle.as_ref().map(|f| f.path.clone()),
        jwt_svids: c
            .jwt_svids
            .iter()
            .zip(&plan.jwt_svids)
            .map(|(j, f)| JwtSvidOptions {
                audience: j.jwt_audience.clone(),
                extra_audiences: j.jwt_extra_audiences.clone(),
                path: f.path.clone(),
            })
            .collect(),
        pid_file: !cfg.lifecycle().pid_file.is_empty(),
        workload: cfg.lifecycle().workload.is_some(),
        wrap: false,
        restart: cfg
            .lifecycle()
            .workload
            .as_ref()
            .map(|w| w.restart)
            .unwrap_or_default(),
        timeout: cfg.one_shot_timeout(),
        notify: plan.notifier.as_ref().map(|_| notify::config_from_env()),
        hooks: cfg
            .lifecycle()
            .hooks
            .iter()
            .map(|h| HookOptions {
                on: h.on.clone(),
                timeout: h.timeout,
            })
            .collect(),
    };
    Ok((plan, session))
}
