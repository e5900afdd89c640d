//! The Kubernetes manifests of `examples/coastal-containers/` pass the offline check
//! `tests/scripts/check_k8s.py`: the Kubernetes API schemas through the maintained validator
//! `kubernetes-validate` (PyPI), then the references between objects and the helper's own
//! rules. Each kind of mistake it looks for, made in a copy, is reported.

use std::path::Path;
use std::process::Command;
use svid_tests::harness::platform::{run, skip, unavailable, workspace};

fn check(example: &Path) -> Result<String, String> {
    run(Command::new("python3")
        .arg(workspace().join("tests/scripts/check_k8s.py"))
        .arg(example))
}

/// Copies the example's manifests and generator inputs into a fresh directory.
fn copy_example() -> tempfile::TempDir {
    let source = workspace().join("examples/coastal-containers");
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("k8s")).unwrap();
    for entry in std::fs::read_dir(source.join("k8s")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            copy.path().join("k8s").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    for name in [
        "kustomization.yaml",
        "manifest_server.py",
        "manifest_client.py",
        "svid_files.py",
    ] {
        std::fs::copy(source.join(name), copy.path().join(name)).unwrap();
    }
    copy
}

#[test]
fn the_manifests_pass_and_each_mistake_is_reported() {
    let test = "the_manifests_pass_and_each_mistake_is_reported";
    if let Some(reason) = unavailable("python3", &["-c", "import kubernetes_validate"]) {
        return skip(
            test,
            &format!("kubernetes-validate is not installed: {reason}"),
        );
    }
    let ok = check(&workspace().join("examples/coastal-containers")).unwrap();
    assert!(ok.starts_with("ok: 27 objects"), "{ok}");

    // (file, text, replacement, expected report)
    let mistakes = [
        (
            "manifest-server.yaml",
            "          restartPolicy: Always\n",
            "",
            "exactly one of them",
        ),
        (
            "manifest-client.yaml",
            "              mountPath: /spire-agent-socket\n",
            "              mountPath: /spire-agent\n",
            "agent_address '/spire-agent-socket/agent.sock' is not in a CSI volume",
        ),
        (
            "manifest-client.yaml",
            "          volumeMounts:\n",
            "          volumeMount:\n",
            "Additional properties are not allowed ('volumeMount' was unexpected)",
        ),
        (
            "manifest-server.yaml",
            "  selector:\n    app: server\n",
            "  selector:\n    app: hq\n",
            "matches no pod template",
        ),
        (
            "spire-agent.yaml",
            "kind: DaemonSet",
            "kind: Daemonset",
            "'Daemonset' is not one of ['DaemonSet']",
        ),
        (
            "manifest-client-once.yaml",
            "            name: client-helper-config\n",
            "            name: client-helper-conf\n",
            "ConfigMap default/client-helper-conf is not defined",
        ),
        (
            "manifest-server.yaml",
            "              mountPath: /var/run/secrets/svids\n              readOnly: true\n",
            "              mountPath: /svids\n              readOnly: true\n",
            "no app container mounts 'svids' at /var/run/secrets/svids",
        ),
        (
            "manifest-server.yaml",
            "            - containerPort: 8443\n",
            "            - containerPort: \"8443\"\n",
            "'8443' is not of type 'integer'",
        ),
        (
            "manifest-server.yaml",
            "        prometheus.io/port: \"8081\"\n",
            "        prometheus.io/port: \"9090\"\n",
            "prometheus.io/port '9090' is not the helper's health_checks.bind_port 8081",
        ),
        (
            "manifest-client.yaml",
            "      metrics_path = \"/metrics\"\n",
            "",
            "prometheus.io/path '/metrics' is not the helper's health_checks.metrics_path None",
        ),
        (
            "manifest-server.yaml",
            "\"-healthcheck\", \"ready\"]",
            "\"-healthcheck\", \"live\"]",
            "the probe must be -config /opt/spire/config/helper.conf -healthcheck ready",
        ),
        (
            "manifest-client.yaml",
            "      listener_enabled = true\n",
            "",
            "-healthcheck needs the health listener",
        ),
    ];
    for (file, text, replacement, expected) in mistakes {
        let copy = copy_example();
        let path = copy.path().join("k8s").join(file);
        let original = std::fs::read_to_string(&path).unwrap();
        assert!(original.contains(text), "{file} has no {text:?}");
        std::fs::write(&path, original.replacen(text, replacement, 1)).unwrap();
        let report = check(copy.path()).expect_err(expected);
        assert!(
            report.contains(expected),
            "{file}: {expected:?} not in\n{report}"
        );
    }
}
