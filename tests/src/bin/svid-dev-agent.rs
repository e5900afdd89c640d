//! `svid-dev-agent`: development SPIFFE Workload API server for spiffe-helper-rs tests.
//! See `svid_tests::agent` for what it serves and prints.

use std::process::ExitCode;
use svid_tests::agent::{self, options};

fn main() -> ExitCode {
    let options = match options::Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("svid-dev-agent: {e}\n{}", options::USAGE);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("svid-dev-agent: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agent::run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("svid-dev-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
