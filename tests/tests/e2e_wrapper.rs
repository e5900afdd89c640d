//! End-to-end: wrapper mode, `spiffe-helper [-config FILE] -- PROG [ARGS...]` (issue 15 point
//! 4, upstream issue #249), against the dev agent: PROG starts only once every output is on
//! disk, receives the signals the helper catches, keeps being signalled at each rotation,
//! and its exit status (128 + N for a signal) is the helper's. Build the binary first:
//! `cargo build --workspace --bins`.

use rustix::process::Signal;
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_until, x509_config};

/// A helper wrapping `sh -c script`, with the X.509 files and a JWT bundle file.
fn wrap(agent: &DevAgent, script: &str, extra: &str) -> Helper {
    let (dir, certs) = helper_dir();
    let config = x509_config(
        &agent.address(),
        &certs,
        &format!("jwt_bundle_file_name = \"jwt_bundle.json\"\n{extra}"),
    );
    Helper::start_in(dir, &config, &["--", "/bin/sh", "-c", script, "prog"])
}

/// Exits 99 unless every output file is there and not empty.
const FILES_OR_99: &str = "for f in certs/svid.pem certs/svid_key.pem certs/svid_bundle.pem \
                           certs/jwt_bundle.json; do test -s $f || exit 99; done\n";

#[test]
fn the_program_sees_every_file_and_its_exit_status_is_the_helpers() {
    let agent = DevAgent::start(&[]);
    for code in [0, 7] {
        let mut helper = wrap(&agent, &format!("{FILES_OR_99}exit {code}"), "");
        let status = helper
            .wait_exit(PATIENCE)
            .expect("the wrapper exits with PROG");
        assert_eq!(status.code(), Some(code), "{}", helper.logs());
    }
    // Killed by a signal: 128 + N, as a shell reports it.
    let mut helper = wrap(&agent, &format!("{FILES_OR_99}kill -KILL $$"), "");
    let status = helper
        .wait_exit(PATIENCE)
        .expect("the wrapper exits with PROG");
    assert_eq!(status.code(), Some(137), "{}", helper.logs());
    // A program that cannot be run: 127.
    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, "");
    let mut helper = Helper::start_in(dir, &config, &["--", "/nonexistent/prog"]);
    let status = helper.wait_exit(PATIENCE).expect("the wrapper exits");
    assert_eq!(status.code(), Some(127), "{}", helper.logs());
}

#[test]
fn signals_are_forwarded_and_rotations_signal_the_program() {
    let agent = DevAgent::start(&["--rotate-every", "500ms"]);
    let script = format!(
        "{FILES_OR_99}\
         for s in USR1 USR2 QUIT HUP INT; do trap \"echo $s >> seen\" $s; done\n\
         trap 'echo TERM >> seen; exit 42' TERM\n\
         echo up > up\n\
         while :; do sleep 0.05; done"
    );
    let helper = wrap(&agent, &script, "reload {\n  signal = \"SIGHUP\"\n}");
    let seen = helper.dir().join("seen");
    let up = helper.dir().join("up");
    assert!(wait_until(PATIENCE, || up.exists()), "{}", helper.logs());
    // A rotation sends reload.signal (SIGHUP).
    assert!(
        wait_until(PATIENCE, || std::fs::read_to_string(&seen)
            .is_ok_and(|t| t.contains("HUP"))),
        "{}",
        helper.logs()
    );
    let mut helper = helper;
    for (signal, name) in [
        (Signal::USR1, "USR1"),
        (Signal::USR2, "USR2"),
        (Signal::QUIT, "QUIT"),
        (Signal::INT, "INT"),
    ] {
        helper.signal(signal);
        assert!(
            wait_until(PATIENCE, || std::fs::read_to_string(&seen)
                .is_ok_and(|t| t.lines().any(|l| l == name))),
            "{name} not forwarded\n{}",
            helper.logs()
        );
        assert!(
            helper
                .wait_exit(std::time::Duration::from_millis(50))
                .is_none()
        );
    }
    helper.signal(Signal::TERM);
    let status = helper
        .wait_exit(PATIENCE)
        .expect("PROG ends on SIGTERM, and so the wrapper");
    assert_eq!(status.code(), Some(42), "{}", helper.logs());
}

#[test]
fn wrapper_mode_is_refused_beside_cmd_and_in_one_shot_mode() {
    let agent = DevAgent::start(&[]);
    for (extra, args, needle) in [
        (
            "cmd = \"/bin/true\"",
            &["--", "/bin/true"][..],
            "-- PROG and cmd (or start) are both set",
        ),
        (
            "",
            &["-daemon-mode=false", "--", "/bin/true"][..],
            "-- PROG needs daemon mode",
        ),
    ] {
        let (dir, certs) = helper_dir();
        let config = x509_config(&agent.address(), &certs, extra);
        let mut helper = Helper::start_in(dir, &config, args);
        let status = helper.wait_exit(PATIENCE).expect("refused");
        assert_eq!(status.code(), Some(1), "{}", helper.logs());
        assert!(helper.wait_for_log(needle, PATIENCE), "{}", helper.logs());
        assert!(!certs.join("svid.pem").exists());
    }
}
