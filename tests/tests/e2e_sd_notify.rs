//! systemd's notification protocol (`sd_notify(3)`), end to end: the test binds a real
//! `AF_UNIX` datagram socket (a path, or an abstract name), starts the real binary with
//! `NOTIFY_SOCKET` pointing at it, and reads what the helper sends while the dev agent
//! rotates SVIDs. Build the binary first: `cargo build --workspace --bins`.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use svid_tests::{
    DevAgent, Helper, PATIENCE, SvidFiles, child_script, helper_dir, wait_for_file, x509_config,
};

/// The manager's side: datagrams as they arrive, each checked against the files on disk.
struct Manager {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Manager {
    fn new(socket: UnixDatagram) -> Manager {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Manager {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads datagrams until one satisfies `done` (true) or `timeout` passes (false); `each`
    /// sees every datagram as it arrives.
    fn read_until(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(&str),
        done: impl Fn(&str) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                each(&text);
                self.seen.push(text.clone());
                if done(&text) {
                    return true;
                }
            }
        }
        false
    }

    fn count(&self, prefix: &str) -> usize {
        self.seen.iter().filter(|m| m.starts_with(prefix)).count()
    }
}

#[test]
fn daemon_mode_reports_ready_status_watchdog_and_stopping_to_a_path_socket() {
    let agent = DevAgent::start(&["--rotate-every", "700ms"]);
    let (dir, certs) = helper_dir();
    let socket_path = dir.path().join("notify.sock");
    let mut manager = Manager::new(UnixDatagram::bind(&socket_path).unwrap());
    let inherited = dir.path().join("inherited");
    let script = child_script(
        dir.path(),
        &format!(
            "echo \"${{NOTIFY_SOCKET:-unset}}\" > {}\n",
            inherited.display()
        ),
        "",
    );
    let config = x509_config(&agent.address(), &certs, &script);
    let socket_env = socket_path.display().to_string();
    let mut helper = Helper::start_in_with_env(
        dir,
        &config,
        &[],
        &[
            ("NOTIFY_SOCKET", socket_env.as_str()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let files = SvidFiles::in_dir(&certs);
    let mut ready_with_files = None;
    let ready = manager.read_until(
        PATIENCE,
        |m| {
            if m == "READY=1" {
                ready_with_files = Some(files.verify_chain());
            }
        },
        |m| m == "READY=1",
    );
    assert!(ready, "{:?}\n{}", manager.seen, helper.logs());
    // READY=1 came after a complete write that OpenSSL accepts, and after its STATUS.
    ready_with_files.unwrap().unwrap();
    let id = "spiffe://example.org/workload";
    let first_status = format!("STATUS=X.509-SVID {id} written, valid until ");
    assert!(
        manager.seen[..manager.seen.len() - 1]
            .iter()
            .any(|m| m.starts_with(&first_status)),
        "{:?}",
        manager.seen
    );
    // Heartbeats every 200 ms, a STATUS per rotation, READY=1 only once.
    manager.read_until(Duration::from_millis(1600), |_| {}, |_| false);
    assert!(
        manager.count("WATCHDOG=1") >= 3,
        "{:?}\n{}",
        manager.seen,
        helper.logs()
    );
    assert!(manager.count(&first_status) >= 2, "{:?}", manager.seen);
    assert_eq!(manager.count("READY=1"), 1);
    // The workload did not inherit the helper's notification socket.
    assert!(wait_for_file(&inherited, PATIENCE), "{}", helper.logs());
    assert_eq!(std::fs::read_to_string(&inherited).unwrap(), "unset\n");
    helper.terminate();
    assert!(
        manager.read_until(PATIENCE, |_| {}, |m| m == "STOPPING=1"),
        "{:?}",
        manager.seen
    );
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
}

#[test]
fn a_one_shot_run_notifies_an_abstract_socket_in_order() {
    let agent = DevAgent::start(&[]);
    let name = format!(
        "spiffe-helper-test-{}-{:?}",
        std::process::id(),
        Instant::now()
    );
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let mut manager = Manager::new(UnixDatagram::bind_addr(&addr).unwrap());
    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, "");
    let env = format!("@{name}");
    let mut helper = Helper::start_in_with_env(
        dir,
        &config,
        &["-daemon-mode=false"],
        &[("NOTIFY_SOCKET", env.as_str())],
    );
    assert!(
        manager.read_until(PATIENCE, |_| {}, |m| m == "STOPPING=1"),
        "{:?}\n{}",
        manager.seen,
        helper.logs()
    );
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
    let kinds: Vec<&str> = manager
        .seen
        .iter()
        .map(|m| m.split_once('=').map_or(m.as_str(), |(k, _)| k))
        .collect();
    assert_eq!(kinds, ["STATUS", "READY", "STOPPING"], "{:?}", manager.seen);
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}
