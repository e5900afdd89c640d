//! End-to-end: the health listener of the real binary, queried with Python's `http.client`.
//! Upstream's endpoints and JSON body, and our honest readiness: not ready before every
//! output is written, not ready again once a file on disk has expired (the agent gone).

use std::process::Command;
use svid_tests::{DevAgent, Helper, PATIENCE, free_port, helper_dir, wait_until, x509_config};

/// `GET path` with Python's `http.client`: the status and body, or `None` if unreachable.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let script = format!(
        "import http.client\n\
         c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=5)\n\
         c.request('GET', '{path}')\n\
         r = c.getresponse()\n\
         assert r.getheader('Content-Type') in ('application/json', 'text/plain; charset=utf-8')\n\
         print(r.status)\n\
         print(r.read().decode(), end='')\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let (status, body) = text.split_once('\n')?;
    Some((status.parse().ok()?, body.to_owned()))
}

#[test]
fn health_reports_upstreams_body_and_readiness_follows_the_files() {
    let mut agent = DevAgent::start(&["--ttl", "4s", "--rotate-every", "2s", "--jwt-ttl", "4s"]);
    let (dir, certs) = helper_dir();
    let port = free_port();
    let extra = format!(
        "jwt_bundle_file_name = \"jwt_bundle.json\"\n\
         jwt_svids = [{{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }}]\n\
         health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n\
           liveness_path = \"/alive\"\n  readiness_path = \"/ready\"\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    let body_ok = format!(
        "{{\"status\":\"OK\",\"health\":{{\"file_write_statuses\":{{\"x509_write_status\":\"written\",\
         \"jwt_write_status\":{{\"{c}/jwt_bundle.json\":\"written\",\"{c}/svc.token\":\"written\"}}}}}}}}",
        c = certs.display()
    );
    assert!(
        wait_until(PATIENCE, || get(port, "/ready")
            == Some((200, body_ok.clone()))),
        "ready never reported: {:?}\n{}",
        get(port, "/ready"),
        helper.logs()
    );
    assert_eq!(get(port, "/alive"), Some((200, body_ok.clone())));
    assert_eq!(
        get(port, "/other"),
        Some((404, "404 page not found\n".to_owned()))
    );
    assert!(helper.logs().contains("Starting health server"));

    // The agent goes away: within the SVID's 4 s the files on disk expire, and readiness
    // says so while liveness (no failed write) stays up.
    agent.kill();
    let not_ready = body_ok.replace("\"status\":\"OK\"", "\"status\":\"Service Unavailable\"");
    assert!(
        wait_until(PATIENCE, || get(port, "/ready")
            == Some((503, not_ready.clone()))),
        "{:?}\n{}",
        get(port, "/ready"),
        helper.logs()
    );
    assert_eq!(get(port, "/alive"), Some((200, body_ok)));
}
