//! End-to-end: the helper as the parent of the workload, often PID 1 of a container. It
//! reaps what the child orphans, forwards SIGHUP instead of dying of it, stops the child's
//! whole process group at shutdown, and refuses at start the mistakes upstream only meets
//! later (an unknown `renew_signal`, a socket path too long for a Unix socket).

use rustix::process::{Pid, Signal, test_kill_process};
use svid_tests::{
    DevAgent, Helper, PATIENCE, child_script, helper_dir, wait_for_file, wait_until, x509_config,
};

/// The (pid, state) of every process whose parent is `parent`, from /proc.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split(' ');
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse().ok()) == Some(parent) {
            found.push((pid, state));
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    let pid = Pid::from_raw(pid as i32).unwrap();
    test_kill_process(pid).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn what_the_child_orphans_is_reaped_not_left_as_zombies() {
    let agent = DevAgent::start(&["--rotate-every", "300ms"]);
    let (dir, certs) = helper_dir();
    // On each SIGHUP the child leaves a short-lived process behind: the subshell exits at
    // once, so its `sleep` is reparented to the helper (its subreaper) and exits soon after.
    let extra = child_script(
        dir.path(),
        "trap '(sleep 0.2 &)' HUP\nwhile :; do sleep 1 & wait $!; done\n",
        "SIGHUP",
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    let mut orphans_seen = 0;
    let mut max_zombies = 0;
    assert!(
        wait_until(PATIENCE, || {
            let children = children_of(helper.pid());
            // Besides the child: orphans, alive or exited and not yet reaped.
            orphans_seen = orphans_seen.max(children.len().saturating_sub(1));
            helper.count_logs("X.509 certificates updated") >= 15
        }),
        "{}",
        helper.logs()
    );
    assert!(
        orphans_seen > 0,
        "the child's orphans were reparented to the helper"
    );
    // Let the last orphans exit, then nothing may be left unreaped.
    std::thread::sleep(std::time::Duration::from_millis(600));
    for _ in 0..5 {
        let zombies = children_of(helper.pid())
            .iter()
            .filter(|(_, state)| *state == 'Z')
            .count();
        max_zombies = max_zombies.max(zombies);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        max_zombies <= 1,
        "{max_zombies} zombies left\n{}",
        helper.logs()
    );
}

#[test]
fn sighup_is_forwarded_to_the_child_and_the_helper_keeps_running() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let log = dir.path().join("hup.log");
    let extra = child_script(
        dir.path(),
        &format!(
            "trap 'echo hup >> {}' HUP\necho up >> {}\nwhile :; do sleep 1 & wait $!; done\n",
            log.display(),
            log.display()
        ),
        "SIGUSR1",
    );
    let mut helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(wait_for_file(&log, PATIENCE), "{}", helper.logs());
    helper.signal(Signal::HUP);
    assert!(
        wait_until(PATIENCE, || std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("hup"))),
        "{}",
        helper.logs()
    );
    assert!(
        helper
            .wait_exit(std::time::Duration::from_millis(500))
            .is_none(),
        "the helper survives SIGHUP\n{}",
        helper.logs()
    );
}

#[test]
fn shutdown_stops_the_childs_whole_process_group() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let pid_file = dir.path().join("grandchild.pid");
    // The child starts a long-lived process of its own and ignores SIGTERM itself.
    let extra = child_script(
        dir.path(),
        &format!(
            "sleep 1000 &\necho $! > {}\ntrap '' TERM\nwhile :; do sleep 1; done\n",
            pid_file.display()
        ),
        "SIGUSR1",
    );
    let config = x509_config(&agent.address(), &certs, &extra);
    let mut helper = Helper::start_in(dir, &config, &[]);
    assert!(wait_for_file(&pid_file, PATIENCE), "{}", helper.logs());
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(grandchild));
    helper.terminate();
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    assert!(status.success(), "{status}\n{}", helper.logs());
    // The child ignored SIGTERM: its group was killed once the grace had passed.
    let logs = helper.final_logs();
    assert!(
        logs.contains("Process did not exit in time; killing it"),
        "{logs}"
    );
    assert!(
        wait_until(PATIENCE, || !alive(grandchild)),
        "the grandchild outlived the helper\n{logs}"
    );
}

#[test]
fn an_unknown_renew_signal_and_a_too_long_socket_path_are_refused_at_start() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let config = x509_config(
        &agent.address(),
        &certs,
        "cmd = \"/bin/true\"\nrenew_signal = \"SIGFOO\"",
    );
    refused_at_start(
        dir,
        &config,
        "renew_signal \\\"SIGFOO\\\" is not a signal name",
    );
    assert!(!certs.join("svid.pem").exists(), "nothing written");

    let (dir, certs) = helper_dir();
    let long = format!("/tmp/{}/agent.sock", "d".repeat(120));
    refused_at_start(
        dir,
        &x509_config(&long, &certs, ""),
        "more than a Unix socket address holds",
    );
}

/// Starts a helper with `config` and checks that it exits 1 at once, logging `needle`.
fn refused_at_start(dir: tempfile::TempDir, config: &str, needle: &str) {
    let mut helper = Helper::start_in(dir, config, &[]);
    let status = helper.wait_exit(PATIENCE).expect("refused at start");
    assert_eq!(status.code(), Some(1), "{}", helper.logs());
    assert!(helper.wait_for_log(needle, PATIENCE), "{}", helper.logs());
}

/// `start { cmd, args }` passes each argument as written (no CSV splitting: spaces, commas
/// and quotes stay), and `reload { signal }` reaches it at the next update, as the legacy
/// keys would.
#[test]
fn a_start_block_passes_its_argv_as_written_and_reload_signals_it() {
    let agent = DevAgent::start(&["--rotate-every", "700ms"]);
    let (dir, certs) = helper_dir();
    let (argv, hups) = (dir.path().join("argv"), dir.path().join("hups"));
    let script = format!(
        "trap 'echo hup >> {hups}' HUP\n\
         printf '%s\\n' \"$@\" > {argv}.tmp && mv {argv}.tmp {argv}\n\
         while :; do sleep 0.05; done\n",
        hups = hups.display(),
        argv = argv.display(),
    );
    let blocks = format!(
        "start {{\n  cmd = \"/bin/sh\"\n  args = [\"-c\", {script:?}, \"sh\", \"a b\", \"c,d\", \"\\\"q\\\"\", \"\"]\n  restart = \"never\"\n}}\n\
         reload {{\n  signal = \"SIGHUP\"\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &blocks), &[]);
    assert!(wait_for_file(&argv, PATIENCE), "{}", helper.logs());
    assert_eq!(
        std::fs::read_to_string(&argv).unwrap(),
        "a b\nc,d\n\"q\"\n\n"
    );
    assert!(wait_for_file(&hups, PATIENCE), "{}", helper.logs());
    assert!(
        helper.wait_for_log("msg=\"Signalled process\"", PATIENCE),
        "{}",
        helper.logs()
    );
}

#[test]
fn a_legacy_key_beside_its_block_is_refused_at_start_naming_both() {
    let (dir, certs) = helper_dir();
    let config = x509_config(
        "/nowhere.sock",
        &certs,
        "cmd = \"/bin/true\"\nstart {\n  cmd = \"/bin/false\"\n}",
    );
    refused_at_start(dir, &config, "cmd and start.cmd are both set: keep one");
}

/// A `cmd` that cannot start is logged in Go's words after upstream's
/// `error executing process "<cmd>": `: a bare name not on `$PATH`, a missing path, a file
/// that is not executable. Checked against Go's `os/exec` (`LookPath`, `fork/exec`).
#[test]
fn a_cmd_that_cannot_start_is_named_in_gos_words() {
    let agent = DevAgent::start(&[]);
    let not_executable = tempfile::NamedTempFile::new().unwrap();
    let not_executable = not_executable.path().display().to_string();
    let cases = [
        (
            "no-such-program-4242".to_owned(),
            r#"exec: \"no-such-program-4242\": executable file not found in $PATH"#.to_owned(),
        ),
        (
            "/nonexistent/p".to_owned(),
            r#"fork/exec /nonexistent/p: no such file or directory"#.to_owned(),
        ),
        (
            not_executable.clone(),
            format!("fork/exec {not_executable}: permission denied"),
        ),
    ];
    let helpers: Vec<(Helper, String)> = cases
        .into_iter()
        .map(|(cmd, why)| {
            let (dir, certs) = helper_dir();
            let extra = format!("cmd = \"{cmd}\"");
            let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
            let line = format!(
                r#"level=error msg="Unable to signal process" error="error executing process \"{cmd}\": {why}" system=spiffe-helper"#
            );
            (helper, line)
        })
        .collect();
    for (helper, line) in helpers {
        assert!(
            helper.wait_for_log(&line, PATIENCE),
            "{line}\n{}",
            helper.logs()
        );
    }
}

/// A `start` block running `script` with `sh -c` under `restart`.
fn start_block(script: &str, restart: &str) -> String {
    format!(
        "start {{\n  cmd = \"/bin/sh\"\n  args = [\"-c\", {script:?}]\n  restart = \"{restart}\"\n}}"
    )
}

/// The number of lines in `path` (0 when absent).
fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// `restart = "on-failure"`: a `cmd` that exits 3 twice, then is killed, is started again
/// after 1 s, 2 s and 4 s (the agent never rotates, so no update starts it), each restart
/// logged with the status in Go's words; the fourth run keeps going.
#[test]
fn restart_on_failure_restarts_with_backoff_logging_each_status() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let starts = dir.path().join("starts");
    let script = format!(
        "date +%s.%N >> {starts}\n\
         n=$(wc -l < {starts})\n\
         [ \"$n\" -le 2 ] && exit 3\n\
         [ \"$n\" -eq 3 ] && kill -KILL $$\n\
         while :; do sleep 0.05; done\n",
        starts = starts.display()
    );
    let config = x509_config(
        &agent.address(),
        &certs,
        &start_block(&script, "on-failure"),
    );
    let helper = Helper::start_in(dir, &config, &[]);
    assert!(
        wait_until(PATIENCE, || lines(&starts) >= 4),
        "{}",
        helper.logs()
    );
    for (status, delay) in [
        ("exit status 3", "1s"),
        ("exit status 3", "2s"),
        ("signal: killed", "4s"),
    ] {
        let needle = format!("restart_in={delay} status=\"{status}\"");
        assert!(
            helper.count_logs(&needle) == 1,
            "{needle}\n{}",
            helper.logs()
        );
    }
    let times = std::fs::read_to_string(&starts).unwrap();
    let times: Vec<f64> = times.lines().map(|t| t.parse().unwrap()).collect();
    for (gap, least) in times.windows(2).map(|w| w[1] - w[0]).zip([1.0, 2.0, 4.0]) {
        assert!(gap >= least, "restarted after {gap} s, before {least} s");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(lines(&starts), 4, "{}", helper.logs());
}

/// `restart = "on-failure"` leaves a clean exit alone; `restart = "always"` starts it again.
#[test]
fn a_clean_exit_is_restarted_only_by_restart_always() {
    let agent = DevAgent::start(&[]);
    let run = |policy: &str| {
        let (dir, certs) = helper_dir();
        let starts = dir.path().join("starts");
        let script = format!("echo run >> {}", starts.display());
        let config = x509_config(&agent.address(), &certs, &start_block(&script, policy));
        (Helper::start_in(dir, &config, &[]), starts)
    };
    let (helper, starts) = run("on-failure");
    assert!(
        helper.wait_for_log("msg=\"Process exited\" pid=", PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(helper.logs().contains("status=\"exit status 0\""));
    // A restart would have come after 1 s.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(lines(&starts), 1, "{}", helper.logs());
    assert_eq!(helper.count_logs("restarting it"), 0);

    let (helper, starts) = run("always");
    assert!(
        wait_until(PATIENCE, || lines(&starts) >= 3),
        "{}",
        helper.logs()
    );
    for delay in ["1s", "2s"] {
        let needle = format!("restart_in={delay} status=\"exit status 0\"");
        assert_eq!(helper.count_logs(&needle), 1, "{needle}\n{}", helper.logs());
    }
}
