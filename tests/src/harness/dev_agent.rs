//! Runs `svid-dev-agent` as a child process and reads its machine-readable stdout.

use super::lines::Lines;
use super::{PATIENCE, dev_agent_bin};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// One `x509 <serial-hex> <spiffe-id> notafter=<unix>` line of the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// Serial number as `openssl x509 -noout -serial` prints it (upper-case hex).
    pub serial_hex: String,
    /// The SVID's SPIFFE ID.
    pub spiffe_id: String,
    /// NotAfter, Unix seconds.
    pub not_after: i64,
}

impl Issued {
    /// Parses an `x509 ...` line; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = line.strip_prefix("x509 ")?.split(' ');
        let serial_hex = words.next()?.to_owned();
        let spiffe_id = words.next()?.to_owned();
        let not_after = words.next()?.strip_prefix("notafter=")?.parse().ok()?;
        Some(Self {
            serial_hex,
            spiffe_id,
            not_after,
        })
    }
}

/// A running development agent; killed (SIGKILL) on drop, leaving its socket file behind as a
/// crashed agent would.
pub struct DevAgent {
    child: Child,
    socket: PathBuf,
    out_dir: TempDir,
    stdout: Lines,
    stderr: Lines,
    socket_dir: Option<TempDir>,
}

impl DevAgent {
    /// Starts an agent on a socket in a fresh temporary directory, with `--out-dir` set, and
    /// waits for its `listening` line. `args` are extra agent flags.
    pub fn start(args: &[&str]) -> DevAgent {
        let dir = tempfile::tempdir().expect("creating the agent's socket directory");
        let socket = dir.path().join("agent.sock");
        let mut agent = Self::start_on(&socket, args);
        agent.socket_dir = Some(dir);
        agent
    }

    /// Starts an agent on `socket` (which a previous agent may have left behind).
    pub fn start_on(socket: &Path, args: &[&str]) -> DevAgent {
        let out_dir = tempfile::tempdir().expect("creating the agent's output directory");
        let mut child = Command::new(dev_agent_bin())
            .arg("--socket")
            .arg(socket)
            .arg("--out-dir")
            .arg(out_dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning svid-dev-agent");
        let (stdout, stderr) = (Lines::default(), Lines::default());
        stdout.follow(child.stdout.take().expect("agent stdout is piped"));
        stderr.follow(child.stderr.take().expect("agent stderr is piped"));
        let agent = DevAgent {
            child,
            socket: socket.to_owned(),
            out_dir,
            stdout,
            stderr,
            socket_dir: None,
        };
        let first = agent.stdout.wait_line(0, PATIENCE);
        let expected = format!("listening {}", socket.display());
        assert_eq!(
            first.as_deref(),
            Some(expected.as_str()),
            "svid-dev-agent did not start; stderr:\n{}",
            agent.stderr.text()
        );
        agent
    }

    /// The Unix socket the agent serves on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The socket path as a helper.conf `agent_address`.
    pub fn address(&self) -> String {
        self.socket.display().to_string()
    }

    /// The `tcp://IP:PORT` the agent serves on (started with `--tcp`), as it printed it.
    pub fn tcp_address(&self) -> String {
        let printed = self.stdout.wait_count("listening tcp://", 1, PATIENCE);
        assert!(printed, "no TCP listener:\n{}", self.stderr.text());
        self.stdout
            .snapshot()
            .iter()
            .find_map(|l| {
                l.strip_prefix("listening ")
                    .filter(|a| a.starts_with("tcp://"))
            })
            .map(str::to_owned)
            .expect("a listening tcp:// line")
    }

    /// `ca.pem`: the root CA of the agent's own trust domain.
    pub fn ca_pem(&self) -> PathBuf {
        self.out_dir.path().join("ca.pem")
    }

    /// Every line the agent printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.snapshot()
    }

    /// Every SVID the agent reported so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.stdout
            .snapshot()
            .iter()
            .filter_map(|l| Issued::parse(l))
            .collect()
    }

    /// Waits until the agent has reported at least `n` SVIDs and returns them all.
    pub fn wait_issued(&self, n: usize, timeout: Duration) -> Vec<Issued> {
        let reached = self.stdout.wait_count("x509 ", n, timeout);
        assert!(
            reached,
            "agent issued fewer than {n} SVIDs:\n{}",
            self.stdout.text()
        );
        self.issued()
    }

    /// What the agent printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits for the agent to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        super::wait_exit(&mut self.child, timeout)
    }

    /// Sends SIGTERM: the agent removes its socket and exits 0.
    pub fn terminate(&self) {
        super::terminate(&self.child);
    }

    /// Kills the agent with SIGKILL and reaps it; its socket file stays behind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevAgent {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::Issued;

    #[test]
    fn issued_lines_parse_and_other_lines_do_not() {
        assert_eq!(
            Issued::parse("x509 06B0A740A00001 spiffe://example.org/workload notafter=1795850779"),
            Some(Issued {
                serial_hex: "06B0A740A00001".into(),
                spiffe_id: "spiffe://example.org/workload".into(),
                not_after: 1_795_850_779,
            })
        );
        assert_eq!(Issued::parse("listening /tmp/a.sock"), None);
        assert_eq!(Issued::parse("x509 01 spiffe://td/w notafter=soon"), None);
    }
}
