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

/// After upstream's 10 attempts, the last pid-file error is logged in Go's words: a missing
/// file as `os.ReadFile` names it, a process that is gone and a pid of 0 as
/// `os.Process.Signal` says them. About 51 s: the three helpers run side by side.
#[test]
fn pid_file_errors_are_logged_in_gos_words() {
    let agent = DevAgent::start(&[]);
    let mut exited = Command::new("true").spawn().unwrap();
    exited.wait().unwrap();
    let cases = [
        (
            None,
            "failed to read pid file \\\"{p}\\\": open {p}: no such file or directory",
        ),
        (
            Some(exited.id().to_string()),
            "error signaling process with signal num user defined signal 1: os: process already finished",
        ),
        (
            Some("0".to_owned()),
            "error signaling process with signal num user defined signal 1: os: process not initialized",
        ),
    ];
    let helpers: Vec<(Helper, String)> = cases
        .into_iter()
        .map(|(content, why)| {
            let (dir, certs) = helper_dir();
            let pid_file = dir.path().join("app.pid");
            if let Some(content) = content {
                std::fs::write(&pid_file, content).unwrap();
            }
            let why = why.replace("{p}", &pid_file.display().to_string());
            let helper = Helper::start_in(dir, &pid_config(&agent, &certs, &pid_file), &[]);
            let line = format!(
                r#"level=error msg="Unable to signal PID file" attempts=10 error="{why}" system=spiffe-helper"#
            );
            (helper, line)
        })
        .collect();
    for (helper, line) in helpers {
        let wait = Duration::from_secs(90);
        assert!(
            helper.wait_for_log(&line, wait),
            "{line}\n{}",
            helper.logs()
        );
    }
}
