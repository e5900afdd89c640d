//! Soak: many fast X.509 rotations with JWT-SVIDs refreshing and the health endpoint polled,
//! against the real binary. Open file descriptors and RSS must stay within a small bound and
//! every SVID the agent issues must reach the files. CI runs `SOAK_ROTATIONS` (default 200);
//! `scripts/soak.sh` runs 2,000.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;
use svid_tests::{DevAgent, Helper, PATIENCE, free_port, helper_dir, wait_until, x509_config};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

/// One raw `GET /ready`; the status code, or 0 if the listener did not answer.
fn ready_status(port: u16) -> u16 {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn rotations_with_jwt_and_health_keep_fds_and_memory_bounded() {
    let rotations: usize = std::env::var("SOAK_ROTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let agent = DevAgent::start(&["--rotate-every", "100ms", "--jwt-ttl", "3s"]);
    let (dir, certs) = helper_dir();
    let port = free_port();
    let extra = format!(
        "jwt_bundle_file_name = \"bundle.json\"\n\
         jwt_svids = [{{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }}]\n\
         health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    let updated = |n| helper.wait_for_logs("X.509 certificates updated", n, PATIENCE);
    assert!(updated(20), "{}", helper.logs());
    let (fds0, rss0) = (open_fds(helper.pid()), rss_kb(helper.pid()));
    let mut polls = 0;
    let mut not_ready = 0;
    assert!(
        wait_until(PATIENCE * 10, || {
            polls += 1;
            if ready_status(port) != 200 {
                not_ready += 1;
            }
            helper.count_logs("X.509 certificates updated") >= rotations
        }),
        "{}",
        helper.logs()
    );
    let (fds1, rss1) = (open_fds(helper.pid()), rss_kb(helper.pid()));
    eprintln!(
        "soak: {rotations} rotations, descriptors {fds0} -> {fds1}, RSS {rss0} -> {rss1} kB, \
         {polls} health polls"
    );
    assert!(fds1 <= fds0 + 2, "descriptors grew from {fds0} to {fds1}");
    assert!(rss1 <= rss0 + 512, "RSS grew from {rss0} kB to {rss1} kB");
    assert!(
        not_ready * 20 <= polls,
        "ready in {} of {polls} polls",
        polls - not_ready
    );
    assert!(
        helper.count_logs("JWT SVID updated") >= 2,
        "{}",
        helper.logs()
    );
    // Every SVID issued while the helper ran reached the files (the agent's first one aside).
    let logs = helper.logs();
    let written: BTreeSet<&str> = logs
        .lines()
        .filter_map(|l| l.split(" serial=").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    let issued = agent.issued();
    let newest = issued
        .iter()
        .rposition(|i| written.contains(i.serial_hex.as_str()))
        .expect("some issued SVID was written");
    assert!(
        newest + 1 >= rotations,
        "only {newest} rotations reached the files"
    );
    let missed: Vec<&str> = issued[1..=newest]
        .iter()
        .map(|i| i.serial_hex.as_str())
        .filter(|s| !written.contains(s))
        .collect();
    assert!(missed.is_empty(), "rotations missed: {missed:?}");
}
