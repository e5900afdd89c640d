//! `spiffe-helper`: fetches X.509-SVIDs from the SPIFFE Workload API, writes them as files,
//! keeps them fresh as they rotate and signals the workload. A drop-in replacement for
//! upstream's Go helper: same flags, same `helper.conf`, same files.

mod agent;
mod backoff;
mod child;
mod cli;
mod files;
mod logger;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use log::{error, info, warn};
use svid_core::config::{self, Validated};

use crate::child::Workload;
use crate::run::{Outcome, Plan};

/// How long a child gets to exit after the forwarded SIGTERM/SIGINT before it is killed.
const CHILD_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map_or("spiffe-helper", String::as_str);
    let (config_path, daemon_flag) = match cli::parse(args.get(1..).unwrap_or_default()) {
        Ok(cli::Command::Version) => {
            println!("{}", env!("SPIFFE_HELPER_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Help) => {
            eprint!("{}", cli::usage(prog));
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Run {
            config,
            daemon_mode,
        }) => (config, daemon_mode),
        Err(cli::UsageError(msg)) => {
            eprint!("{msg}\n{}", cli::usage(prog));
            return ExitCode::from(2);
        }
    };
    logger::init();
    info!("Using configuration file: \"{config_path}\"");
    let validated = match load(&config_path, daemon_flag) {
        Ok(v) => v,
        Err((msg, error)) => {
            error!(error = error.as_str(); "{msg}");
            return ExitCode::FAILURE;
        }
    };
    let exit = run(&validated);
    if exit == ExitCode::SUCCESS {
        info!("Exiting");
    }
    exit
}

/// Reads, parses and validates the config; errors carry upstream's message and detail.
fn load(path: &str, daemon_flag: Option<bool>) -> Result<Validated, (&'static str, String)> {
    let parse_err = |e: String| {
        (
            "failed to parse configuration",
            format!("failed to parse \"{path}\": {e}"),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| parse_err(format!("open {path}: {e}")))?;
    let parsed = config::parse(&text).map_err(|e| parse_err(e.to_string()))?;
    let env = std::env::var("SPIFFE_ENDPOINT_SOCKET").ok();
    let (validated, warnings) = parsed
        .validate(daemon_flag, env.as_deref())
        .map_err(|e| ("invalid configuration", e.to_string()))?;
    for warning in warnings {
        warn!("{warning}");
    }
    Ok(validated)
}

fn run(cfg: &Validated) -> ExitCode {
    let plan = match plan(cfg) {
        Ok(p) => p,
        Err(e) => {
            error!(error = e.as_str(); "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let mut signals = match run::signals() {
        Ok(s) => s,
        Err(e) => {
            error!(error = e.to_string(); "Error starting spiffe-helper");
            return ExitCode::FAILURE;
        }
    };
    let outcome = if cfg.daemon_mode() {
        info!("Launching daemon");
        let mut workload = Workload::new(
            &cfg.config().cmd,
            &cfg.config().cmd_args,
            &cfg.config().renew_signal,
        );
        let outcome = async_io::block_on(run::daemon(&plan, &mut signals, &mut workload));
        if let Outcome::Signalled(sig) = &outcome
            && let Some(sig) = rustix::process::Signal::from_named_raw(*sig as i32)
        {
            workload.shutdown(sig, CHILD_GRACE);
        }
        outcome
    } else {
        info!("Daemon mode disabled");
        let outcome = async_io::block_on(run::once(&plan, &mut signals));
        if matches!(outcome, Outcome::Done) {
            info!("Successfully fetched x509 certificates");
        }
        outcome
    };
    match outcome {
        Outcome::Done | Outcome::Signalled(_) => ExitCode::SUCCESS,
        Outcome::Fatal(e) => {
            if !cfg.daemon_mode() {
                error!(error = e.as_str(); "Error fetching x509 certificates");
            }
            error!(error = e.as_str(); "Error starting spiffe-helper");
            ExitCode::FAILURE
        }
    }
}

/// The run plan: output paths (Go `path.Join` semantics), modes, agent socket. Refuses the
/// outputs this version does not write yet rather than silently ignoring them.
fn plan(cfg: &Validated) -> Result<Plan, String> {
    let c = cfg.config();
    let unsupported = [
        (!c.jwt_svids.is_empty(), "jwt_svids"),
        (!c.jwt_bundle_file_name.is_empty(), "jwt_bundle_file_name"),
        (!c.pid_file_name.is_empty(), "pid_file_name"),
        (c.health_checks.listener_enabled, "health_checks"),
    ];
    if let Some((_, key)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(format!(
            "'{key}' is not supported by this version of spiffe-helper-rs yet"
        ));
    }
    if c.svid_file_name.is_empty() {
        return Err("'svid_file_name' must be set: this version writes X.509 files only".into());
    }
    let socket = config::socket_path(&c.agent_address).map_err(|e| e.to_string())?;
    let mode = |m: i64| u32::try_from(m & 0o777).unwrap_or(0o600);
    Ok(Plan {
        socket: PathBuf::from(socket),
        svid_path: config::join_path(&c.cert_dir, &c.svid_file_name),
        key_path: config::join_path(&c.cert_dir, &c.svid_key_file_name),
        bundle_path: config::join_path(&c.cert_dir, &c.svid_bundle_file_name),
        cert_mode: mode(c.cert_file_mode),
        key_mode: mode(c.key_file_mode),
        hint: c.hint.clone(),
        add_intermediates_to_bundle: c.add_intermediates_to_bundle,
        include_federated_domains: c.include_federated_domains,
        omit_expired: c.omit_expired,
    })
}
