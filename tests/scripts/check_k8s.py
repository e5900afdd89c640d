"""Offline check of the Kubernetes manifests of an example (no cluster, no kubectl).

    python3 check_k8s.py EXAMPLE_DIR

Reads EXAMPLE_DIR/kustomization.yaml (its resources and configMapGenerator) and every
EXAMPLE_DIR/k8s/*.yaml, and checks the fields they use against the Kubernetes API: the
apiVersion of each kind, the allowed keys of the objects, pod specs, containers, volumes and
mounts, value types, and the references between objects (volumes, ConfigMaps and their keys,
ServiceAccounts, Service selectors, the CSI driver, RBAC role references). For every
spiffe-helper-rs container it also reads the helper.conf it is given and checks that the agent
socket lies in the CSI volume and cert_dir is an emptyDir shared with an app container, that a
native sidecar is an init container with restartPolicy Always, that a plain init container
runs one-shot (-daemon-mode=false), and that an exec probe runs the helper's own -healthcheck
with the container's -config and the health listener enabled. Prints one line per problem and exits 1, or prints a
summary and exits 0.
"""

import glob
import os
import re
import sys

import yaml

API_VERSIONS = {
    "Namespace": "v1",
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "DaemonSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "CSIDriver": "storage.k8s.io/v1",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CSIDriver"}
TOP_KEYS = {
    "ConfigMap": {"data", "binaryData"},
    "Role": {"rules"},
    "ClusterRole": {"rules"},
    "RoleBinding": {"subjects", "roleRef"},
    "ClusterRoleBinding": {"subjects", "roleRef"},
    "ServiceAccount": {"automountServiceAccountToken"},
}
METADATA_KEYS = {"name", "namespace", "labels", "annotations"}
WORKLOAD_SPEC_KEYS = {
    "Deployment": {"replicas", "selector", "template", "strategy", "revisionHistoryLimit"},
    "DaemonSet": {"selector", "template", "updateStrategy"},
    "StatefulSet": {"replicas", "selector", "template", "serviceName", "volumeClaimTemplates"},
    "Job": {"template", "backoffLimit", "completions", "parallelism", "ttlSecondsAfterFinished"},
}
POD_SPEC_KEYS = {
    "serviceAccountName", "containers", "initContainers", "volumes", "securityContext",
    "hostPID", "hostNetwork", "dnsPolicy", "restartPolicy", "nodeSelector", "tolerations",
    "automountServiceAccountToken", "terminationGracePeriodSeconds", "shareProcessNamespace",
}
CONTAINER_KEYS = {
    "name", "image", "imagePullPolicy", "command", "args", "env", "ports", "volumeMounts",
    "resources", "securityContext", "livenessProbe", "readinessProbe", "startupProbe",
    "workingDir", "restartPolicy",
}
SECURITY_CONTEXT_KEYS = {
    "allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities", "privileged",
    "runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile",
}
POD_SECURITY_CONTEXT_KEYS = {
    "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile",
    "supplementalGroups",
}
VOLUME_SOURCES = {"emptyDir", "configMap", "csi", "hostPath", "projected", "secret",
                  "persistentVolumeClaim"}
MOUNT_KEYS = {"name", "mountPath", "readOnly", "subPath", "mountPropagation"}
PROBE_KEYS = {"httpGet", "exec", "tcpSocket", "grpc", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "failureThreshold", "successThreshold"}
SERVICE_SPEC_KEYS = {"type", "selector", "ports", "clusterIP"}
CSI_DRIVER_SPEC_KEYS = {"attachRequired", "podInfoOnMount", "fsGroupPolicy",
                        "volumeLifecycleModes"}
HELPER_IMAGE = re.compile(r"^(.*/)?spiffe-helper-rs(:[^:/]+)?$")
HELPER_BINARY = "/spiffe-helper"  # Dockerfile.scratch's ENTRYPOINT
HELPER_LINE = re.compile(r'^\s*([a-z_]+)\s*=\s*"([^"]*)"\s*$')

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def keys(where, obj, allowed, required=()):
    if not isinstance(obj, dict):
        problem(where, f"expected a mapping, got {type(obj).__name__}")
        return False
    for key in obj:
        if key not in allowed:
            problem(where, f"unknown field {key!r}")
    for key in required:
        if key not in obj:
            problem(where, f"missing field {key!r}")
    return True


def typed(where, value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        problem(where, f"expected {kind.__name__}, got {value!r}")
        return False
    return True


def check_env(where, env):
    for i, var in enumerate(env or []):
        w = f"{where}.env[{i}]"
        if keys(w, var, {"name", "value", "valueFrom"}, ["name"]):
            if ("value" in var) == ("valueFrom" in var):
                problem(w, "exactly one of value and valueFrom")
            if "value" in var:
                typed(w + ".value", var["value"], str)


def check_container(where, c, volumes, init):
    if not keys(where, c, CONTAINER_KEYS, ["name", "image"]):
        return
    if "restartPolicy" in c and (not init or c["restartPolicy"] != "Always"):
        problem(where, "restartPolicy is only allowed on init containers, as Always")
    for field in ("command", "args"):
        for arg in c.get(field, []):
            typed(f"{where}.{field}", arg, str)
    check_env(where, c.get("env"))
    for i, port in enumerate(c.get("ports", [])):
        w = f"{where}.ports[{i}]"
        if keys(w, port, {"containerPort", "name", "protocol"}, ["containerPort"]):
            if typed(w, port["containerPort"], int) and not 0 < port["containerPort"] < 65536:
                problem(w, "containerPort out of range")
    if "securityContext" in c:
        keys(f"{where}.securityContext", c["securityContext"], SECURITY_CONTEXT_KEYS)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            keys(f"{where}.{probe}", c[probe], PROBE_KEYS)
    if "resources" in c:
        keys(f"{where}.resources", c["resources"], {"requests", "limits"})
    for i, mount in enumerate(c.get("volumeMounts", [])):
        w = f"{where}.volumeMounts[{i}]"
        if keys(w, mount, MOUNT_KEYS, ["name", "mountPath"]):
            if mount["name"] not in volumes:
                problem(w, f"volume {mount['name']!r} is not defined in the pod")
            if not str(mount["mountPath"]).startswith("/"):
                problem(w, "mountPath must be absolute")


def check_pod(where, spec, ns, objects, owner_kind, volumes):
    """Checks a pod spec; `volumes` holds the StatefulSet's claim templates and receives the
    pod's own volumes."""
    if not keys(where, spec, POD_SPEC_KEYS, ["containers"]):
        return {}
    for i, v in enumerate(spec.get("volumes", [])):
        w = f"{where}.volumes[{i}]"
        if not keys(w, v, {"name"} | VOLUME_SOURCES, ["name"]):
            continue
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
    if "securityContext" in spec:
        keys(f"{where}.securityContext", spec["securityContext"], POD_SECURITY_CONTEXT_KEYS)
    account = spec.get("serviceAccountName")
    if account and ("ServiceAccount", ns, account) not in objects:
        problem(where, f"ServiceAccount {ns}/{account} is not defined")
    restart = spec.get("restartPolicy")
    allowed = {"Never", "OnFailure"} if owner_kind == "Job" else {"Always"}
    if owner_kind == "Job" and restart is None or restart is not None and restart not in allowed:
        problem(where, f"restartPolicy {restart!r} is not one of {sorted(allowed)}")
    names = set()
    for field, init in (("initContainers", True), ("containers", False)):
        for i, c in enumerate(spec.get(field) or []):
            w = f"{where}.{field}[{i}]"
            check_container(w, c, volumes, init)
            name = c.get("name") if isinstance(c, dict) else None
            if name in names:
                problem(w, f"duplicate container name {name!r}")
            names.add(name)
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
            conf = {}
            for line in text.splitlines():
                match = HELPER_LINE.match(line)
                if match:
                    conf[match.group(1)] = match.group(2)
                elif line.strip() and not line.strip().startswith("#"):
                    problem(where, f"helper.conf line not understood: {line!r}")
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
            check_helper_probes(w, c)


def check_helper_probes(where, container):
    """An exec probe of a spiffe-helper-rs container runs the image's binary with the
    container's own -config and `-healthcheck live` (liveness) or `ready` (readiness), and
    the container enables the health listener (SPIFFE_HLP_HEALTH_CHECKS)."""
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
        if not re.search(r'"listener_enabled"\s*:\s*true',
                         env.get("SPIFFE_HLP_HEALTH_CHECKS", "")):
            problem(w, "-healthcheck needs the health listener: set SPIFFE_HLP_HEALTH_CHECKS "
                    "to {\"listener_enabled\":true}")


def check_object(where, obj, objects, pod_labels):
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    spec = obj.get("spec")
    if kind in WORKLOAD_SPEC_KEYS:
        if not keys(f"{where}.spec", spec, WORKLOAD_SPEC_KEYS[kind], ["template"]):
            return
        template = spec["template"]
        keys(f"{where}.spec.template", template, {"metadata", "spec"}, ["spec"])
        labels = (template.get("metadata") or {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        if kind != "Job":
            if not selector:
                problem(f"{where}.spec.selector", "matchLabels is required")
            elif any(labels.get(k) != v for k, v in selector.items()):
                problem(f"{where}.spec.selector", "matchLabels do not match the pod labels")
        pod_labels.append((ns, labels))
        volumes = {c["metadata"]["name"]: {"persistentVolumeClaim": {}}
                   for c in spec.get("volumeClaimTemplates", [])}
        check_pod(f"{where}.spec.template.spec", template["spec"], ns, objects, kind, volumes)
        check_helpers(f"{where}.spec.template.spec", template["spec"], volumes, ns, objects)
    elif kind == "Service":
        if keys(f"{where}.spec", spec, SERVICE_SPEC_KEYS, ["ports", "selector"]):
            for i, port in enumerate(spec["ports"]):
                w = f"{where}.spec.ports[{i}]"
                if keys(w, port, {"name", "port", "targetPort", "protocol"}, ["port"]):
                    typed(w + ".port", port["port"], int)
    elif kind == "CSIDriver":
        keys(f"{where}.spec", spec, CSI_DRIVER_SPEC_KEYS)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef") or {}
        role_ns = ns if ref.get("kind") == "Role" else None
        if (ref.get("kind"), role_ns, ref.get("name")) not in objects:
            problem(where, f"roleRef {ref.get('kind')} {ref.get('name')} is not defined")
        for s in obj.get("subjects") or []:
            if (s.get("kind"), s.get("namespace"), s.get("name")) not in objects:
                problem(where, f"subject {s.get('kind')} {s.get('namespace')}/{s.get('name')} "
                        "is not defined")
    elif kind == "ConfigMap":
        for key, value in (obj.get("data") or {}).items():
            typed(f"{where}.data.{key}", value, str)


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
        keys("kustomization.yaml", k, {"apiVersion", "kind", "resources", "configMapGenerator",
                                       "generatorOptions"})
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
    docs = load(example)
    objects = {}
    for where, obj in docs:
        if not isinstance(obj, dict):
            problem(where, "not a mapping")
            continue
        kind = obj.get("kind")
        if kind not in API_VERSIONS:
            problem(where, f"kind {kind!r} is not one this check knows")
            continue
        if obj.get("apiVersion") != API_VERSIONS[kind]:
            problem(where, f"{kind} needs apiVersion {API_VERSIONS[kind]}")
        allowed = {"apiVersion", "kind", "metadata", "spec"} | TOP_KEYS.get(kind, set())
        keys(where, obj, allowed, ["metadata"])
        meta = obj.get("metadata") or {}
        keys(f"{where}.metadata", meta, METADATA_KEYS, ["name"])
        ns = meta.get("namespace")
        if (kind in CLUSTER_SCOPED) != (ns is None):
            problem(where, f"{kind} {'must not' if kind in CLUSTER_SCOPED else 'must'} "
                    "have a namespace")
        elif ns is not None and ns != "default" and ("Namespace", None, ns) not in objects:
            if not any(o.get("kind") == "Namespace" and o["metadata"]["name"] == ns
                       for _, o in docs if isinstance(o, dict)):
                problem(where, f"namespace {ns!r} is not defined")
        key = (kind, ns, meta.get("name"))
        if key in objects:
            problem(where, f"{kind} {ns}/{meta.get('name')} is defined twice")
        objects[key] = obj
    pod_labels = []
    for where, obj in docs:
        if isinstance(obj, dict) and obj.get("kind") in API_VERSIONS:
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
