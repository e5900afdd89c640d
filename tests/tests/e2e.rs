//! End-to-end tests: the real `spiffe-helper` binary against `svid-dev-agent`, checked through
//! OpenSSL and Python `ssl`. Build the binary first: `cargo build -p spiffe-helper`.

use rustix::process::{Pid, test_kill_process};
use std::path::Path;
use svid_tests::{
    DevAgent, Helper, PATIENCE, SvidFiles, child_script, file_mode, helper_dir, pem_bodies,
    wait_for_file, wait_until, x509_config,
};

const UPDATED: &str = "X.509 certificates updated";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The files form one consistent, verifiable set (retried: a rotation may land mid-check).
fn assert_consistent(files: &SvidFiles, helper: &Helper) {
    let mut last = Ok(());
    let ok = wait_until(PATIENCE, || {
        last = files.verify_chain().and_then(|()| files.key_matches_leaf());
        last.is_ok()
    });
    assert!(
        ok,
        "files never consistent: {last:?}\nhelper log:\n{}",
        helper.logs()
    );
}

#[test]
fn daemon_writes_a_chain_that_openssl_and_python_accept() {
    let agent = DevAgent::start(&["--intermediate"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    assert!(
        helper.logs().contains("Received update")
            && helper.logs().contains("spiffe://example.org/workload"),
        "{}",
        helper.logs()
    );

    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    files.key_is_pkcs8().unwrap();
    assert_eq!(files.chain().unwrap().len(), 2, "leaf then intermediate");
    assert_eq!(
        files.leaf_uri_sans().unwrap(),
        ["spiffe://example.org/workload"]
    );
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
    assert_eq!(
        pem_bodies(&read(&files.bundle)),
        pem_bodies(&read(&agent.ca_pem())),
        "the bundle is the agent's root"
    );
    assert_eq!(file_mode(&files.svid).unwrap(), 0o644);
    assert_eq!(file_mode(&files.bundle).unwrap(), 0o644);
    assert_eq!(file_mode(&files.key).unwrap(), 0o600);

    let report = files.python_mtls().unwrap();
    assert_eq!(
        report.trim(),
        "ok server-saw=spiffe://example.org/workload client-saw=spiffe://example.org/workload"
    );
}

#[test]
fn rotation_replaces_the_svid_with_the_newest_issued_one() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    let files = SvidFiles::in_dir(&certs);
    let first = agent.wait_issued(1, PATIENCE)[0].serial_hex.clone();

    let mut seen = Vec::new();
    let caught_up = wait_until(PATIENCE, || {
        let Ok(serial) = files.leaf_serial() else {
            return false;
        };
        let newest = agent.issued().last().map(|i| i.serial_hex.clone());
        let done = serial != first && Some(&serial) == newest.as_ref();
        seen.push(serial);
        done
    });
    assert!(
        caught_up,
        "svid.pem never held the newest serial; saw {seen:?}, issued {:?}\n{}",
        agent.issued(),
        helper.logs()
    );
    let issued: Vec<String> = agent.issued().into_iter().map(|i| i.serial_hex).collect();
    for serial in &seen {
        assert!(
            issued.contains(serial),
            "{serial} was never issued: {issued:?}"
        );
    }
    assert!(helper.count_logs(UPDATED) >= 2, "{}", helper.logs());
    assert_consistent(&files, &helper);
}

#[test]
fn child_is_started_once_and_signalled_on_later_updates() {
    let agent = DevAgent::start(&["--rotate-every", "2s"]);
    let (dir, certs) = helper_dir();
    let pids = dir.path().join("child.pids");
    let signals = dir.path().join("signals");
    let extra = child_script(
        dir.path(),
        &format!(
            "trap 'echo usr1 >> {signals}' USR1\n\
             if [ -s {svid} ]; then state=present; else state=missing; fi\n\
             echo \"$$ $state\" >> {pids}\n\
             while kill -0 $PPID 2>/dev/null; do sleep 1 & wait $!; done\n",
            signals = signals.display(),
            svid = certs.join("svid.pem").display(),
            pids = pids.display(),
        ),
        "SIGUSR1",
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);

    let got_two = wait_until(PATIENCE, || read(&signals).lines().count() >= 2);
    let signal_count = read(&signals).lines().count();
    let updates = helper.count_logs(UPDATED);
    assert!(
        got_two,
        "child got {signal_count} signals\n{}",
        helper.logs()
    );
    assert!(
        signal_count < updates,
        "the first update starts the child without signalling it: {signal_count} signals, \
         {updates} updates"
    );

    let started = read(&pids);
    let lines: Vec<&str> = started.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "the child is started exactly once: {started:?}"
    );
    let (pid, state) = lines[0].split_once(' ').unwrap();
    assert_eq!(state, "present", "the child starts after the first write");
    let pid = Pid::from_raw(pid.parse().unwrap()).unwrap();
    assert!(
        test_kill_process(pid).is_ok(),
        "the same child is still running"
    );
}

#[test]
fn one_shot_mode_writes_the_files_and_exits_0() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(
        dir,
        &x509_config(&agent.address(), &certs, ""),
        &["-daemon-mode=false"],
    );
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert!(status.success(), "{status}\n{}", helper.logs());

    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
    assert_eq!(file_mode(&files.key).unwrap(), 0o600);
}

#[test]
fn one_shot_mode_retries_permission_denied() {
    let agent = DevAgent::start(&["--deny-first", "2"]);
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(
        dir,
        &x509_config(&agent.address(), &certs, ""),
        &["-daemon-mode=false"],
    );
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert!(status.success(), "{status}\n{}", helper.logs());
    assert!(
        agent.stderr().contains("call 2 denied"),
        "{}",
        agent.stderr()
    );
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn helper_reconnects_to_a_restarted_agent_with_a_new_ca() {
    let mut first = DevAgent::start(&["--intermediate"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&first.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    let old_root = pem_bodies(&read(&first.ca_pem()));
    assert_eq!(pem_bodies(&read(&files.bundle)), old_root);

    first.kill();
    let second = DevAgent::start_on(first.socket(), &[]);
    let new_root = pem_bodies(&read(&second.ca_pem()));
    assert_ne!(new_root, old_root);
    let switched = wait_until(PATIENCE, || pem_bodies(&read(&files.bundle)) == new_root);
    assert!(
        switched,
        "bundle never switched to the new CA\n{}",
        helper.logs()
    );
    assert_consistent(&files, &helper);
    assert_eq!(files.leaf_serial().unwrap(), second.issued()[0].serial_hex);
    assert_eq!(
        files.chain().unwrap().len(),
        1,
        "the new agent has no intermediate"
    );
}

#[test]
fn helper_started_before_the_agent_writes_once_it_appears() {
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("agent.sock");
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(
        dir,
        &x509_config(&socket.display().to_string(), &certs, ""),
        &[],
    );
    let files = SvidFiles::in_dir(&certs);
    // Give it a moment of failing to connect; nothing may be written meanwhile.
    assert!(!wait_until(std::time::Duration::from_secs(1), || files
        .svid
        .exists()));

    let agent = DevAgent::start_on(&socket, &[]);
    assert!(wait_for_file(&files.bundle, PATIENCE), "{}", helper.logs());
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    files.verify_chain().unwrap();
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
}

#[test]
fn sigterm_stops_the_daemon_with_exit_0() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    helper.terminate();
    let status = helper
        .wait_exit(PATIENCE)
        .expect("the helper exits on SIGTERM");
    assert!(status.success(), "{status}\n{}", helper.logs());
}

#[test]
fn an_exited_child_is_started_again_at_the_next_update() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let pids = dir.path().join("pids");
    let extra = child_script(
        dir.path(),
        &format!("echo $$ >> {}\n", pids.display()),
        "SIGUSR1",
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(
        wait_until(PATIENCE, || read(&pids).lines().count() >= 3),
        "{}",
        helper.logs()
    );
    let runs = read(&pids);
    let distinct: std::collections::BTreeSet<&str> = runs.lines().collect();
    assert_eq!(
        distinct.len(),
        runs.lines().count(),
        "a new process each time: {runs}"
    );
    assert!(
        helper.count_logs("Process exited") >= 2,
        "exits are reaped and logged\n{}",
        helper.logs()
    );
    assert!(
        !helper.logs().contains("Unable to signal process"),
        "an exited child is restarted, never signalled\n{}",
        helper.logs()
    );
}

#[test]
fn sigterm_is_forwarded_to_the_child_and_its_exit_is_logged() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let seen = dir.path().join("seen");
    let ready = dir.path().join("ready");
    let extra = child_script(
        dir.path(),
        &format!(
            "trap 'echo term >> {seen}; exit 3' TERM\n\
             echo up > {ready}\n\
             while :; do sleep 0.1; done\n",
            seen = seen.display(),
            ready = ready.display(),
        ),
        "",
    );
    let mut helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(wait_for_file(&ready, PATIENCE), "{}", helper.logs());
    helper.terminate();
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    assert!(status.success(), "{status}\n{}", helper.logs());
    assert_eq!(read(&seen), "term\n", "the child got SIGTERM once");
    let logs = helper.logs();
    assert!(logs.contains("Process exited"), "{logs}");
    assert!(logs.contains("status=\"exit status 3\""), "{logs}");
}
