//! End-to-end: `pid_file_name`. The helper reads the pid file afresh after each X.509 update
//! and sends `renew_signal` to that process, retrying while the file is missing, as upstream
//! does for a workload that writes its pid file late (upstream issues #250, #251).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_until, x509_config};

/// A Python workload that writes its pid file only after `delay` seconds and appends a line
/// to `signals.log` for every SIGUSR1.
fn late_workload(dir: &Path, delay: f64) -> Child {
    let script = format!(
        "import os, signal, time\n\
         log = open('signals.log', 'a', buffering=1)\n\
         signal.signal(signal.SIGUSR1, lambda *_: log.write('usr1\\n'))\n\
         time.sleep({delay})\n\
         open('app.pid.tmp', 'w').write(' %d\\n' % os.getpid())\n\
         os.rename('app.pid.tmp', 'app.pid')\n\
         while True: time.sleep(1)\n"
    );
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 runs")
}

/// A helper.conf for `agent` that signals the process in `pid_file` with SIGUSR1.
fn pid_config(agent: &DevAgent, certs: &Path, pid_file: &Path) -> String {
    let extra = format!(
        "pid_file_name = \"{}\"\nrenew_signal = \"SIGUSR1\"",
        pid_file.display()
    );
    x509_config(&agent.address(), certs, &extra)
}

#[test]
fn a_late_pid_file_is_retried_and_its_process_signalled_on_every_update() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let mut workload = late_workload(dir.path(), 1.5);
    let pid_file = dir.path().join("app.pid");
    let config = pid_config(&agent, &certs, &pid_file);
    let helper = Helper::start_in(dir, &config, &[]);
    let log = helper.dir().join("signals.log");
    let signalled = |n: usize| {
        wait_until(PATIENCE, || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= n)
        })
    };
    assert!(signalled(3), "helper:\n{}", helper.logs());
    assert!(
        !helper.logs().contains("Unable to signal PID file"),
        "{}",
        helper.logs()
    );
    let _ = workload.kill();
    let _ = workload.wait();
}

#[test]
fn a_process_that_is_gone_is_retried_without_holding_back_updates() {
    let agent = DevAgent::start(&["--rotate-every", "500ms"]);
    let (dir, certs) = helper_dir();
    // A pid that exists nowhere: every attempt fails with ESRCH.
    let pid_file = dir.path().join("app.pid");
    std::fs::write(&pid_file, "2147483646\n").unwrap();
    let config = pid_config(&agent, &certs, &pid_file);
    let helper = Helper::start_in(dir, &config, &[]);
    // Upstream's retry loop holds the watch for ~51 s; here updates keep landing meanwhile.
    assert!(
        helper.wait_for_logs("X.509 certificates updated", 6, Duration::from_secs(20)),
        "{}",
        helper.logs()
    );
    assert!(!helper.logs().contains("Unable to signal PID file"));
}
