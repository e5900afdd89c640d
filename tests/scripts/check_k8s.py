"""Offline check of the Kubernetes manifests of an example (no cluster, no kubectl).

    python3 check_k8s.py EXAMPLE_DIR

Reads EXAMPLE_DIR/kustomization.yaml (its resources and configMapGenerator) and every
EXAMPLE_DIR/k8s/*.yaml. Each object is validated against the Kubernetes API's OpenAPI schema
of KUBERNETES_VERSION by the maintained validator `kubernetes-validate` (PyPI), strictly:
kind and apiVersion, unknown fields, types, required fields. Then what a schema cannot see:
the references between objects (volumes, ConfigMaps and their keys, ServiceAccounts, Service
selectors, the CSI driver, RBAC role references, namespaces), and for every spiffe-helper-rs
container the helper.conf it is given: the agent socket lies in the CSI volume, cert_dir is
an emptyDir shared with an app container, a native sidecar is an init container with
restartPolicy Always, a plain init container runs one-shot (-daemon-mode=false), and a pod
annotated for Prometheus (prometheus.io/scrape) names the port and path of a helper's
health_checks.metrics_path, and an exec probe runs the helper's own -healthcheck with the
container's -config and the health listener enabled. Prints one line per problem and exits
1, or prints a summary and exits 0.
"""

import glob
import os
import re
import sys

import kubernetes_validate
import yaml

# Native sidecars (init containers with restartPolicy Always) are GA since 1.33.
KUBERNETES_VERSION = "1.33.0"

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CSIDriver"}
WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job"}
VOLUME_SOURCES = {"emptyDir", "configMap", "csi", "hostPath", "projected", "secret",
                  "persistentVolumeClaim"}
HELPER_IMAGE = re.compile(r"^(.*/)?spiffe-helper-rs(:[^:/]+)?$")
HELPER_BINARY = "/spiffe-helper"  # Dockerfile.scratch's ENTRYPOINT
HELPER_LINE = re.compile(r'^\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|(true|false|[0-9]+))\s*$')
HELPER_BLOCK = re.compile(r'^\s*(health_checks)\s*\{\s*$')

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def schema(where, obj):
    """Validates one object against the Kubernetes schema; False if it fails."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.path)
        problem(where + path, e.message)
        return False
    except kubernetes_validate.SchemaNotFoundError as e:
        problem(where, str(e))
        return False
    return True


def check_container(where, c, volumes):
    for i, mount in enumerate(c.get("volumeMounts") or []):
        if mount["name"] not in volumes:
            problem(f"{where}.volumeMounts[{i}]", f"volume {mount['name']!r} is not defined in "
                    "the pod")


def check_pod(where, spec, ns, objects, owner_kind, volumes):
    """Checks a pod spec's references; `volumes` holds the StatefulSet's claim templates and
    receives the pod's own volumes."""
    for i, v in enumerate(spec.get("volumes") or []):
        w = f"{where}.volumes[{i}]"
        sources = [s for s in v if s in VOLUME_SOURCES]
        if len(sources) != 1:
            problem(w, f"exactly one volume source, got {sources}")
            continue
        if v["name"] in volumes:
            problem(w, f"duplicate volume {v['name']!r}")
        volumes[v["name"]] = v
        source = v[sources[0]] or {}
        if sources[0] == "configMap" and ("ConfigMap", ns, source.get("name")) not in objects:
            problem(w, f"ConfigMap {ns}/{source.get('name')} is not defined")
        if sources[0] == "csi" and ("CSIDriver", None, source.get("driver")) not in objects:
            problem(w, f"CSIDriver {source.get('driver')!r} is not defined")
    account = spec.get("serviceAccountName")
    if account and ("ServiceAccount", ns, account) not in objects:
        problem(where, f"ServiceAccount {ns}/{account} is not defined")
    restart = spec.get("restartPolicy")
    allowed = {"Never", "OnFailure"} if owner_kind == "Job" else {"Always"}
    if owner_kind == "Job" and restart is None or restart is not None and restart not in allowed:
        problem(where, f"restartPolicy {restart!r} is not one of {sorted(allowed)}")
    names = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            w = f"{where}.{field}[{i}]"
            init = field == "initContainers"
            if "restartPolicy" in c and (not init or c["restartPolicy"] != "Always"):
                problem(w, "restartPolicy is only allowed on init containers, as Always")
            check_container(w, c, volumes)
            if c["name"] in names:
                problem(w, f"duplicate container name {c['name']!r}")
            names.add(c["name"])
    return volumes


def helper_conf(where, container, volumes, ns, objects):
    """The key/value pairs of the helper.conf a spiffe-helper-rs container is given."""
    args = container.get("args", [])
    if "-config" not in args or args.index("-config") + 1 >= len(args):
        problem(where, "spiffe-helper-rs needs -config PATH")
        return None
    path = args[args.index("-config") + 1]
    folder, name = os.path.split(path)
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount.get("name"), {})
        if mount.get("mountPath") == folder and "configMap" in volume:
            cm = objects.get(("ConfigMap", ns, volume["configMap"].get("name")), {})
            text = (cm.get("data") or {}).get(name)
            if text is None:
                problem(where, f"ConfigMap {volume['configMap'].get('name')} has no key {name!r}")
                return None
            conf, block = {}, ""
            for line in text.splitlines():
                match = HELPER_LINE.match(line)
                opened = HELPER_BLOCK.match(line)
                if match:
                    conf[block + match.group(1)] = match.group(2) or match.group(3)
                elif opened and not block:
                    block = opened.group(1) + "."
                elif line.strip() == "}" and block:
                    block = ""
                elif line.strip() and not line.strip().startswith("#"):
                    problem(where, f"helper.conf line not understood: {line!r}")
            if block:
                problem(where, f"helper.conf: {block[:-1]} block not closed")
            return conf
    problem(where, f"{path} is not in a ConfigMap volume of the container")
    return None


def mount_at(container, volumes, path, source):
    """The volume name of `source` kind mounted at `path` in the container, or None."""
    for mount in container.get("volumeMounts", []):
        if mount.get("mountPath") == path and source in volumes.get(mount.get("name"), {}):
            return mount
    return None


def check_helpers(where, spec, volumes, ns, objects):
    """Checks every spiffe-helper-rs container; returns the helper.conf of each."""
    confs = []
    apps = spec.get("containers") or []
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            if not isinstance(c, dict) or not HELPER_IMAGE.match(str(c.get("image", ""))):
                continue
            w = f"{where}.{field}[{i}]"
            sidecar = field == "initContainers" and c.get("restartPolicy") == "Always"
            one_shot = "-daemon-mode=false" in c.get("args", [])
            if field == "containers":
                problem(w, "run spiffe-helper-rs as an init container (sidecar or one-shot)")
            elif sidecar == one_shot:
                problem(w, "a sidecar runs with restartPolicy Always, a one-shot init "
                        "container with -daemon-mode=false: exactly one of them")
            conf = helper_conf(w, c, volumes, ns, objects)
            if conf is None:
                continue
            confs.append(conf)
            socket_dir = os.path.dirname(conf.get("agent_address", ""))
            csi = mount_at(c, volumes, socket_dir, "csi")
            if csi is None:
                problem(w, f"agent_address {conf.get('agent_address')!r} is not in a CSI volume")
            cert_dir = conf.get("cert_dir", "")
            out = mount_at(c, volumes, cert_dir, "emptyDir")
            if out is None:
                problem(w, f"cert_dir {cert_dir!r} is not an emptyDir mount")
            elif out.get("readOnly"):
                problem(w, f"cert_dir {cert_dir!r} is mounted read-only")
            elif not any(m.get("name") == out["name"] and m.get("mountPath") == cert_dir
                         for app in apps for m in app.get("volumeMounts", [])):
                problem(w, f"no app container mounts {out['name']!r} at {cert_dir}")
            for key in ("svid_file_name", "svid_key_file_name", "svid_bundle_file_name"):
                if not conf.get(key):
                    problem(w, f"helper.conf sets no {key}")
            check_helper_probes(w, c, conf)
    return confs


def check_scrape(where, annotations, confs):
    """prometheus.io/scrape: "true" needs a daemon helper whose health listener serves
    metrics on prometheus.io/port (default 8081 as the helper's) and prometheus.io/path."""
    if annotations.get("prometheus.io/scrape") != "true":
        return
    port = annotations.get("prometheus.io/port", "")
    path = annotations.get("prometheus.io/path", "/metrics")
    for conf in confs:
        if conf.get("health_checks.listener_enabled") != "true":
            continue
        bind_port = conf.get("health_checks.bind_port", "8081")
        if port != bind_port:
            problem(where, f"prometheus.io/port {port!r} is not the helper's "
                    f"health_checks.bind_port {bind_port}")
        elif path != conf.get("health_checks.metrics_path"):
            problem(where, f"prometheus.io/path {path!r} is not the helper's "
                    f"health_checks.metrics_path {conf.get('health_checks.metrics_path')!r}")
        return
    problem(where, "prometheus.io/scrape without a helper whose health listener is enabled")


def check_helper_probes(where, container, conf):
    """An exec probe of a spiffe-helper-rs container runs the image's binary with the
    container's own -config and `-healthcheck live` (liveness) or `ready` (readiness), and
    the helper enables the health listener (in its helper.conf, or SPIFFE_HLP_HEALTH_CHECKS)."""
    args = container.get("args", [])
    config = args[args.index("-config") + 1] if "-config" in args[:-1] else None
    env = {v.get("name"): v.get("value", "") for v in container.get("env") or []}
    for probe, check in (("livenessProbe", "live"), ("readinessProbe", "ready"),
                         ("startupProbe", "ready")):
        command = ((container.get(probe) or {}).get("exec") or {}).get("command")
        if command is None:
            continue
        w = f"{where}.{probe}"
        if command[:1] != [HELPER_BINARY]:
            problem(w, f"the probe runs {command[:1]}, not the image's {HELPER_BINARY}")
        if command[1:] != ["-config", config, "-healthcheck", check]:
            problem(w, f"the probe must be -config {config} -healthcheck {check}")
        enabled = conf.get("health_checks.listener_enabled") == "true" or re.search(
            r'"listener_enabled"\s*:\s*true', env.get("SPIFFE_HLP_HEALTH_CHECKS", ""))
        if not enabled:
            problem(w, "-healthcheck needs the health listener: health_checks { "
                    "listener_enabled = true } in helper.conf or SPIFFE_HLP_HEALTH_CHECKS")


def check_object(where, obj, objects, pod_labels):
    kind = obj["kind"]
    ns = obj["metadata"].get("namespace")
    spec = obj.get("spec") or {}
    if kind in WORKLOAD_KINDS:
        template = spec["template"]
        labels = (template.get("metadata") or {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        if kind != "Job":
            if not selector:
                problem(f"{where}.spec.selector", "matchLabels is required")
            elif any(labels.get(k) != v for k, v in selector.items()):
                problem(f"{where}.spec.selector", "matchLabels do not match the pod labels")
        pod_labels.append((ns, labels))
        volumes = {c["metadata"]["name"]: {"persistentVolumeClaim": {}}
                   for c in spec.get("volumeClaimTemplates") or []}
        check_pod(f"{where}.spec.template.spec", template["spec"], ns, objects, kind, volumes)
        confs = check_helpers(f"{where}.spec.template.spec", template["spec"], volumes, ns,
                              objects)
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        check_scrape(f"{where}.spec.template.metadata.annotations", annotations, confs)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef") or {}
        role_ns = ns if ref.get("kind") == "Role" else None
        if (ref.get("kind"), role_ns, ref.get("name")) not in objects:
            problem(where, f"roleRef {ref.get('kind')} {ref.get('name')} is not defined")
        for s in obj.get("subjects") or []:
            if (s.get("kind"), s.get("namespace"), s.get("name")) not in objects:
                problem(where, f"subject {s.get('kind')} {s.get('namespace')}/{s.get('name')} "
                        "is not defined")


def load(example):
    """(where, object) for every object of k8s/*.yaml and the kustomization's generators."""
    docs = []
    kustomization = os.path.join(example, "kustomization.yaml")
    files = sorted(glob.glob(os.path.join(example, "k8s", "*.yaml")))
    if not files:
        problem(example, "no k8s/*.yaml")
    for path in files:
        with open(path) as f:
            for i, doc in enumerate(yaml.safe_load_all(f)):
                if doc is not None:
                    docs.append((f"{os.path.relpath(path, example)}#{i}", doc))
    if os.path.exists(kustomization):
        with open(kustomization) as f:
            k = yaml.safe_load(f)
        unknown = set(k) - {"apiVersion", "kind", "resources", "configMapGenerator",
                            "generatorOptions"}
        if unknown:
            problem("kustomization.yaml", f"unknown fields {sorted(unknown)}")
        for resource in k.get("resources", []):
            if os.path.join(example, resource) not in files:
                problem("kustomization.yaml", f"resource {resource} is not in k8s/")
        for gen in k.get("configMapGenerator", []):
            data = {}
            for name in gen.get("files", []):
                path = os.path.join(example, name)
                if not os.path.isfile(path):
                    problem("kustomization.yaml", f"configMapGenerator file {name} is missing")
                    continue
                with open(path) as f:
                    data[os.path.basename(name)] = f.read()
            meta = {"name": gen.get("name"), "namespace": gen.get("namespace")}
            docs.append(("kustomization.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": meta, "data": data}))
    return docs


def main(example):
    docs = [(where, obj) for where, obj in load(example) if schema(where, obj)]
    objects = {}
    for where, obj in docs:
        kind, meta = obj["kind"], obj["metadata"]
        ns = meta.get("namespace")
        if (kind in CLUSTER_SCOPED) != (ns is None):
            problem(where, f"{kind} {'must not' if kind in CLUSTER_SCOPED else 'must'} "
                    "have a namespace")
        elif ns is not None and ns != "default" and not any(
                o["kind"] == "Namespace" and o["metadata"]["name"] == ns for _, o in docs):
            problem(where, f"namespace {ns!r} is not defined")
        key = (kind, ns, meta.get("name"))
        if key in objects:
            problem(where, f"{kind} {ns}/{meta.get('name')} is defined twice")
        objects[key] = obj
    pod_labels = []
    for where, obj in docs:
        check_object(where, obj, objects, pod_labels)
    for (kind, ns, name), obj in objects.items():
        selector = (obj.get("spec") or {}).get("selector") if kind == "Service" else None
        if selector and not any(pns == ns and all(labels.get(k) == v
                                                  for k, v in selector.items())
                                for pns, labels in pod_labels):
            problem(f"Service {ns}/{name}", f"selector {selector} matches no pod template")
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"ok: {len(objects)} objects in {example} checked")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
