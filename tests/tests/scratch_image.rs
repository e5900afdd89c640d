//! The "needs nothing from the OS" promise: the static binary runs as the only file of a
//! `FROM scratch` image and in an empty chroot, against the development agent through its
//! socket, and writes files that OpenSSL and Python `ssl` accept. The linux/amd64 image is
//! built from `Dockerfile.scratch`; both platforms' images are also loaded, with skopeo, from
//! the multi-platform OCI image layout `scripts/oci-image.py` writes (the one
//! `scripts/release.sh` publishes), and each is run: linux/arm64 under qemu through binfmt_misc.
//! Needs the static binaries (`scripts/test.sh` builds them), Docker, skopeo, a registered
//! `qemu-aarch64` binfmt handler (`.ci/run` registers it) and root; a test whose tool cannot
//! run here says so and skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use svid_tests::harness::platform::{
    chmod, note, run, skip, static_helper, unavailable, workspace,
};
use svid_tests::{DevAgent, PATIENCE, SvidFiles, wait_for_file, wait_until};

const TRIPLE: &str = "x86_64-unknown-linux-musl";
/// Each platform of the multi-platform image: Docker's architecture and the Rust target.
const PLATFORMS: [(&str, &str); 2] = [
    ("amd64", "x86_64-unknown-linux-musl"),
    ("arm64", "aarch64-unknown-linux-musl"),
];
/// The binfmt_misc entry that runs AArch64 executables under qemu (`qemu-user-static`'s
/// `/usr/lib/binfmt.d/qemu-aarch64.conf`, with the F flag, so it works inside containers).
const BINFMT_AARCH64: &str = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
/// The unprivileged numeric user of the image, also used in the chroot.
const USER: &str = "65532:65532";

/// helper.conf with the agent socket and the output directory at fixed paths.
fn config(agent_address: &str, cert_dir: &str) -> String {
    format!(
        "agent_address = \"{agent_address}\"\n\
         cert_dir = \"{cert_dir}\"\n\
         svid_file_name = \"svid.pem\"\n\
         svid_key_file_name = \"svid_key.pem\"\n\
         svid_bundle_file_name = \"svid_bundle.pem\"\n"
    )
}

/// The files verify with OpenSSL and complete a Python mTLS handshake, and the leaf is one the
/// agent issued.
fn assert_valid(files: &SvidFiles, agent: &DevAgent) {
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    files.python_mtls().unwrap();
    let serial = files.leaf_serial().unwrap();
    assert!(
        agent.issued().iter().any(|i| i.serial_hex == serial),
        "leaf {serial} was not issued by the agent"
    );
}

/// Removes the test's container and image, whatever happened.
struct DockerCleanup {
    container: String,
    image: String,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["rm", "-f", &self.container]));
        let _ = run(Command::new("docker").args(["rmi", "-f", &self.image]));
    }
}

/// The paths of every file in the image's layers, from `docker save`.
fn image_files(image: &str) -> Vec<String> {
    let saved = tempfile::tempdir().unwrap();
    let tar = saved.path().join("image.tar");
    run(Command::new("docker")
        .args(["save", "-o"])
        .arg(&tar)
        .arg(image))
    .unwrap();
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(saved.path()))
    .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.path().join("manifest.json")).unwrap())
            .unwrap();
    let layers = manifest[0]["Layers"]
        .as_array()
        .expect("Layers in manifest.json");
    let mut files = Vec::new();
    for layer in layers {
        let layer = saved.path().join(layer.as_str().unwrap());
        let listing = run(Command::new("tar").arg("-tf").arg(&layer)).unwrap();
        files.extend(listing.lines().map(str::to_owned));
    }
    files
}

/// `docker image inspect` of the fields the image must carry: size, then architecture, user,
/// entrypoint and command.
fn inspect(image: &str) -> (u64, String) {
    let out = run(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{.Size}} {{.Architecture}} {{.Config.User}} {{json .Config.Entrypoint}} \
         {{json .Config.Cmd}}",
        image,
    ]))
    .unwrap();
    let (size, config) = out.trim().split_once(' ').unwrap();
    (size.parse().unwrap(), config.to_owned())
}

/// Runs `image` as `container` against the development agent through a mounted socket
/// directory, writing to a mounted volume: the files are valid and the agent's, a rotation
/// reaches them, and `docker stop` (SIGTERM) ends the helper with exit 0.
fn runs_against_the_agent(image: &str, container: &str) {
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "2s"]);
    chmod(agent.socket().parent().unwrap(), 0o755);
    chmod(agent.socket(), 0o777);
    let config_dir = tempfile::tempdir().unwrap();
    chmod(config_dir.path(), 0o755);
    std::fs::write(
        config_dir.path().join("helper.conf"),
        config("/spire-agent-socket/agent.sock", "/var/run/secrets/svids"),
    )
    .unwrap();
    let certs = tempfile::tempdir().unwrap();
    chmod(certs.path(), 0o777);
    let volume =
        |host: &Path, inside: &str, mode: &str| format!("{}:{inside}:{mode}", host.display());
    run(Command::new("docker").args([
        "run",
        "-d",
        "--name",
        container,
        "--network",
        "none",
        "-v",
        &volume(
            agent.socket().parent().unwrap(),
            "/spire-agent-socket",
            "ro",
        ),
        "-v",
        &volume(config_dir.path(), "/opt/spire/config", "ro"),
        "-v",
        &volume(certs.path(), "/var/run/secrets/svids", "rw"),
        image,
    ]))
    .unwrap();
    // The helper logs to stderr, which `docker logs` replays on its own stderr.
    let logs = || match Command::new("docker").args(["logs", container]).output() {
        Ok(out) => String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned(),
        Err(e) => format!("docker logs: {e}"),
    };

    let files = SvidFiles::in_dir(certs.path());
    assert!(wait_for_file(&files.bundle, PATIENCE), "{}", logs());
    assert_valid(&files, &agent);
    // Still running: a rotation reaches the mounted volume.
    let first = files.leaf_serial().unwrap();
    assert!(
        wait_until(PATIENCE, || files.leaf_serial().is_ok_and(|s| s != first)),
        "{}",
        logs()
    );
    assert!(wait_until(PATIENCE, || files.verify_chain().is_ok()));

    run(Command::new("docker").args(["stop", container])).unwrap();
    let status =
        run(Command::new("docker").args(["inspect", "--format", "{{.State.ExitCode}}", container]))
            .unwrap();
    assert_eq!(status.trim(), "0", "{}", logs());
    assert!(logs().contains("X.509 certificates updated"), "{}", logs());
}

/// What Dockerfile.scratch sets, as [`inspect`] prints it after the size.
fn dockerfile_config(arch: &str) -> String {
    format!(r#"{arch} {USER} ["/spiffe-helper"] ["-config","/opt/spire/config/helper.conf"]"#)
}

#[test]
fn scratch_image_runs_as_non_root_against_the_agent_through_a_mounted_socket() {
    let test = "scratch_image_runs_as_non_root_against_the_agent_through_a_mounted_socket";
    let binary = static_helper(TRIPLE);
    if let Some(reason) = unavailable("docker", &["info"]) {
        return skip(test, &format!("Docker cannot run here: {reason}"));
    }
    let tag = format!("spiffe-helper-rs-test:{}", std::process::id());
    let cleanup = DockerCleanup {
        container: format!("spiffe-helper-rs-test-{}", std::process::id()),
        image: tag.clone(),
    };

    // The build context holds the binary where Dockerfile.scratch expects it for linux/amd64.
    let context = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(context.path().join("linux/amd64")).unwrap();
    std::fs::copy(&binary, context.path().join("linux/amd64/spiffe-helper")).unwrap();
    run(Command::new("docker")
        .args(["build", "-q", "-f"])
        .arg(workspace().join("Dockerfile.scratch"))
        .args(["-t", &tag])
        .arg(context.path()))
    .unwrap();
    assert_eq!(
        image_files(&tag),
        ["spiffe-helper"],
        "the image holds the binary alone"
    );
    let (size, config) = inspect(&tag);
    assert_eq!(config, dockerfile_config("amd64"));
    note(&format!("FROM scratch image {tag}: {size} bytes"));
    runs_against_the_agent(&tag, &cleanup.container);
}

/// Why the linux/arm64 image cannot run here, if it cannot: no binfmt_misc handler for
/// AArch64 executables.
fn aarch64_unavailable() -> Option<String> {
    match std::fs::read_to_string(BINFMT_AARCH64) {
        Ok(entry) if entry.lines().next() == Some("enabled") => None,
        Ok(_) => Some(format!("{BINFMT_AARCH64} is disabled")),
        Err(e) => Some(format!(
            "no qemu-aarch64 binfmt_misc handler ({BINFMT_AARCH64}: {e}); .ci/run registers it"
        )),
    }
}

#[test]
fn the_multi_platform_oci_index_runs_on_amd64_and_arm64() {
    let test = "the_multi_platform_oci_index_runs_on_amd64_and_arm64";
    let binaries: Vec<PathBuf> = PLATFORMS.iter().map(|(_, t)| static_helper(t)).collect();
    if let Some(reason) = unavailable("docker", &["info"]) {
        return skip(test, &format!("Docker cannot run here: {reason}"));
    }
    if let Some(reason) = unavailable("skopeo", &["--version"]) {
        return skip(test, &reason);
    }
    let layout = tempfile::tempdir().unwrap();
    let oci = layout.path().join("oci");
    let mut write = Command::new(workspace().join("scripts/oci-image.py"));
    write.arg(&oci).arg("test");
    for ((arch, _), binary) in PLATFORMS.iter().zip(&binaries) {
        write.arg(format!("linux/{arch}={}", binary.display()));
    }
    run(&mut write).unwrap();

    for ((arch, _), binary) in PLATFORMS.iter().zip(&binaries) {
        let tag = format!("spiffe-helper-rs-test:{}-{arch}", std::process::id());
        let cleanup = DockerCleanup {
            container: format!("spiffe-helper-rs-test-{}-{arch}", std::process::id()),
            image: tag.clone(),
        };
        // skopeo picks the platform's manifest from the index and checks every digest.
        run(Command::new("skopeo")
            .args([
                "--override-os",
                "linux",
                "--override-arch",
                arch,
                "copy",
                "-q",
            ])
            .arg(format!("oci:{}:test", oci.display()))
            .arg(format!("docker-daemon:{tag}")))
        .unwrap();
        assert_eq!(image_files(&tag), ["spiffe-helper"]);
        let (size, config) = inspect(&tag);
        assert_eq!(config, dockerfile_config(arch));
        assert_eq!(size, std::fs::metadata(binary).unwrap().len());
        if *arch == "arm64"
            && let Some(reason) = aarch64_unavailable()
        {
            return skip(test, &format!("linux/arm64 cannot run: {reason}"));
        }
        note(&format!("OCI index, linux/{arch}: {size} bytes"));
        runs_against_the_agent(&tag, &cleanup.container);
    }
}

#[test]
fn static_binary_runs_alone_in_an_empty_chroot() {
    let test = "static_binary_runs_alone_in_an_empty_chroot";
    let binary = static_helper(TRIPLE);
    if !rustix::process::geteuid().is_root() {
        return skip(test, "chroot(2) needs root");
    }
    if let Some(reason) = unavailable("chroot", &["--version"]) {
        return skip(test, &reason);
    }
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    std::fs::copy(&binary, root.path().join("spiffe-helper")).unwrap();
    std::fs::write(
        root.path().join("helper.conf"),
        config("/agent.sock", "/certs"),
    )
    .unwrap();
    std::fs::create_dir(root.path().join("certs")).unwrap();
    chmod(&root.path().join("certs"), 0o777);
    let agent = DevAgent::start_on(&root.path().join("agent.sock"), &["--intermediate"]);
    chmod(agent.socket(), 0o777);

    let mut entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["agent.sock", "certs", "helper.conf", "spiffe-helper"]
    );

    let out = run(Command::new("chroot")
        .arg(format!("--userspec={USER}"))
        .arg(root.path())
        .args([
            "/spiffe-helper",
            "-config",
            "/helper.conf",
            "-daemon-mode=false",
        ]))
    .unwrap_or_else(|e| panic!("the helper failed in the chroot: {e}"));
    let files = SvidFiles::in_dir(&root.path().join("certs"));
    assert!(files.bundle.is_file(), "{out}");
    assert_valid(&files, &agent);
}
