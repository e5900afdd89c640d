"""Driver of bench/run.sh (see there and BENCHMARKS.md). Runs each contestant as a child,
takes wall time around it and its CPU and peak RSS from wait4(2), and counts a run only
after `openssl verify` accepts the written chain against the written bundle, the key
matches the leaf and the bundle holds the expected number of roots (X.509), or after every
token's ES256 signature verifies with OpenSSL against the agent's JWKS and its claims name
the audience and the agent's SPIFFE ID (JWT). With STRICT=1 it exits 1 if any run failed
that check (timings never fail it)."""
import base64
import glob
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = os.environ.get
RUNS = int(ENV("RUNS", "40"))
SCALE_RUNS = int(ENV("SCALE_RUNS", "5"))
COUNTS = [int(c) for c in ENV("COUNTS", "1 100 1000 5000 10000").split()]
ROTATIONS = int(ENV("ROTATIONS", "100"))
JWT_COUNTS = [int(c) for c in ENV("JWT_COUNTS", "1 10 100").split()]
CG_ROTATIONS = int(ENV("CG_ROTATIONS", "4"))
CG_CAS = int(ENV("CG_CAS", "5000"))
HELPER = sys.argv[1]
AGENT = sys.argv[2]
PEER_RUST = sys.argv[3]
SPAWN = sys.argv[4]
PY = sys.argv[5] or None
SIGREC = sys.argv[6]
OUT = ENV("RESULTS") or os.path.join(ROOT, "bench", "results")
FILES = ("svid.pem", "svid_key.pem", "svid_bundle.pem")
SPIFFE_ID = "spiffe://example.org/workload"  # the agent's default identity
FAILED = []  # (part, contestant, why) of every run that failed its check


class Agent:
    def __init__(self, work, *flags):
        self.sock = os.path.join(work, "agent.sock")
        self.out = open(os.path.join(work, "agent.out"), "w+")
        self.proc = subprocess.Popen([AGENT, "--socket", self.sock, *flags], stdout=self.out,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline:
            self.out.seek(0)
            if any(l.startswith("listening") for l in self.out):
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"svid-dev-agent {flags} exited")
            time.sleep(0.05)
        raise SystemExit("svid-dev-agent did not start")

    def wait_sent(self):
        """Returns just after the agent's next rotation (within 2 s), so that a contestant
        started then has about a rotation period to start up before its second update."""
        count = lambda: sum(1 for l in open(self.out.name) if l.startswith("sent "))
        before, deadline = count(), time.time() + 2
        while count() == before and time.time() < deadline:
            time.sleep(0.002)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def conf(path, sock, certs, *extra):
    with open(path, "w") as f:
        f.write(f'agent_address = "{sock}"\ncert_dir = "{certs}"\n'
                'svid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\n'
                'svid_bundle_file_name = "svid_bundle.pem"\ninclude_federated_domains = true\n')
        f.write("\n".join(extra) + "\n")
    return path


def contestants(work, sock, certs):
    c = {
        "ours": [HELPER, "-config", conf(f"{work}/ours.conf", sock, certs, "daemon_mode = false")],
        "ours-noverify": [HELPER, "-config", conf(f"{work}/ours-nv.conf", sock, certs,
                                                  "daemon_mode = false",
                                                  "skip_svid_verification = true")],
        "rust-spiffe": [PEER_RUST, f"unix:{sock}", certs],
    }
    before = ENV("BEFORE")  # another build of ours to compare, e.g. before a change
    if before:
        c["before"] = [before, "-config", c["ours"][2]]
        c["before-noverify"] = [before, "-config", c["ours-noverify"][2]]
    if PY:
        c["py-spiffe"] = [PY, os.path.join(ROOT, "bench", "peer_py.py"), f"unix://{sock}", certs]
    return c


def run_once(argv):
    """(ok, wall s, cpu s, peak RSS kB, stderr tail), measured by bench/spawn.c."""
    r = subprocess.run([SPAWN, *argv], capture_output=True, text=True)
    code, wall_ns, cpu_us, hwm = (int(v) for v in r.stdout.split())
    tail = r.stderr.strip().splitlines()[-1:] or [""]
    return (code == 0, wall_ns / 1e9, cpu_us / 1e6, hwm, tail[0])


def der_certs(pem_path):
    ders, cur = [], None
    for line in open(pem_path):
        line = line.strip()
        if line == "-----BEGIN CERTIFICATE-----":
            cur = []
        elif line == "-----END CERTIFICATE-----":
            ders.append(base64.b64decode("".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return ders


def check(certs, roots):
    """None when the files are right, else why not."""
    paths = [os.path.join(certs, f) for f in FILES]
    if not all(os.path.exists(p) for p in paths):
        return "files missing"
    svid, key, bundle = paths
    r = subprocess.run(["openssl", "verify", "-CAfile", bundle, "-untrusted", svid, svid],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "openssl verify: " + (r.stdout + r.stderr).strip()[-200:]
    a = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", svid], capture_output=True)
    b = subprocess.run(["openssl", "pkey", "-pubout", "-in", key], capture_output=True)
    if a.returncode or a.stdout != b.stdout:
        return "key does not match the leaf"
    n = len(der_certs(bundle))
    if n != roots:
        return f"bundle holds {n} roots, expected {roots}"
    return None


def clear(certs):
    shutil.rmtree(certs, ignore_errors=True)
    os.makedirs(certs)


def series(part, cs, certs, runs, verify):
    """Interleaved runs of every contestant, each checked by verify(certs, name) (None when
    right, else why): {name: dict}."""
    res = {n: {"wall": [], "cpu": [], "rss": [], "fail": None} for n in cs}
    for _ in range(runs):
        for name, argv in cs.items():
            if res[name]["fail"]:
                continue
            clear(certs)
            ok, wall, cpu, rss, tail = run_once(argv)
            why = None if ok else f"exit: {tail}"
            why = why or verify(certs, name)
            if why:
                res[name]["fail"] = why
                FAILED.append((part, name, why))
                continue
            res[name]["wall"].append(wall)
            res[name]["cpu"].append(cpu)
            res[name]["rss"].append(rss)
    out = {}
    for n, r in res.items():
        if r["fail"] or not r["wall"]:
            out[n] = {"fail": r["fail"]}
            continue
        w = sorted(r["wall"])
        out[n] = {"runs": len(w), "wall_ms": statistics.median(w) * 1e3,
                  "wall_p90_ms": w[min(len(w) - 1, int(0.9 * len(w)))] * 1e3,
                  "cpu_ms": statistics.median(r["cpu"]) * 1e3, "rss_kb": max(r["rss"])}
    return out


def table(title, res, base="rust-spiffe"):
    print(f"\n{title}")
    print(f"{'contestant':<15}{'wall med ms':>12}{'p90 ms':>9}{'CPU med ms':>12}{'peak RSS kB':>13}"
          f"{'wall x':>8}{'CPU x':>7}{'RSS x':>7}")
    b = res.get(base, {})
    for n, r in res.items():
        if "fail" in r:
            print(f"{n:<15}  FAILED: {r['fail']}")
            continue
        ratio = lambda k: f"{r[k] / b[k]:.2f}" if k in b else "-"
        print(f"{n:<15}{r['wall_ms']:>12.2f}{r['wall_p90_ms']:>9.2f}{r['cpu_ms']:>12.2f}"
              f"{r['rss_kb']:>13}{ratio('wall_ms'):>8}{ratio('cpu_ms'):>7}{ratio('rss_kb'):>7}")


def oneshot(results):
    for fs, base in (("tmpfs", "/dev/shm"), ("disk", os.path.join(ROOT, "bench", ".work"))):
        os.makedirs(base, exist_ok=True)
        work = tempfile.mkdtemp(prefix="oneshot.", dir=base)
        sockdir = tempfile.mkdtemp(prefix="agent.")
        agent = Agent(sockdir, "--intermediate")
        try:
            certs = os.path.join(work, "certs")
            res = series(f"oneshot {fs}", contestants(work, agent.sock, certs), certs, RUNS,
                         lambda c, _: check(c, 1))
        finally:
            agent.stop()
            shutil.rmtree(work)
            shutil.rmtree(sockdir)
        results[f"oneshot_{fs}"] = res
        table(f"one-shot, files on {fs} ({base}), {RUNS} interleaved runs each, "
              "ratios against rust-spiffe", res)


def scaling(results):
    results["scaling"] = {}
    for n in COUNTS:
        work = tempfile.mkdtemp(prefix="scale.", dir="/dev/shm")
        agent = Agent(work, "--intermediate", "--federate-count", str(n))
        try:
            certs = os.path.join(work, "certs")
            res = series(f"scaling {n}", contestants(work, agent.sock, certs), certs,
                         SCALE_RUNS, lambda c, _: check(c, n + 1))
            # message size: the DER of what the bundle file holds (own and federated roots)
            # plus the chain and key; protobuf framing adds a few bytes per certificate.
            clear(certs)
            subprocess.run(contestants(work, agent.sock, certs)["ours-noverify"], check=True,
                           stderr=subprocess.DEVNULL)
            der = sum(len(d) for d in der_certs(os.path.join(certs, "svid_bundle.pem")))
            der += sum(len(d) for d in der_certs(os.path.join(certs, "svid.pem")))
            res["_message_bytes"] = der
        finally:
            agent.stop()
            shutil.rmtree(work)
        results["scaling"][str(n)] = res
        msg = res.pop("_message_bytes")
        table(f"{n} federated CAs (message about {msg / 1048576:.2f} MiB), files on tmpfs, "
              f"{SCALE_RUNS} runs each", res)
        res["_message_bytes"] = msg


WRITTEN = re.compile(r"^written ")
# ours' update ends with cmd started (the first update) or signalled (every later one)
HELPER_DONE = re.compile(r'msg="(Started|Signalled) process"')


def proc_cpu(pid):
    """User + system CPU seconds of a live process, all its threads (exited ones included):
    its CPU-time clock, as clock_getcpuclockid(3) names it, the sum that /proc/<pid>/stat's
    utime + stime report in 10 ms ticks, to the nanosecond."""
    return time.clock_gettime_ns((~pid << 3) | 2) / 1e9  # CPUCLOCK_SCHED of the process


def proc_hwm(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    """None if the health listener answers /ready with 200, else why not."""
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            return None if r.status == 200 else f"/ready answered {r.status}"
    except OSError as e:
        return f"/ready: {e}"


class RunFailed(Exception):
    pass


def watch_run(argv, done, n, probe=None):
    """Runs argv (stdout and stderr on one pipe) until n of its lines match `done`, one per
    update it has completed. Its CPU time is read as the first and the n-th such line arrive
    (on a read that brings several, the count at that moment is kept with the figure), its
    VmHWM after the n-th; then probe(output so far) (None or why it failed) is called and it
    is stopped with SIGTERM. Returns (output, (updates, cpu s) at the first read, (updates, cpu s) at
    the last, VmHWM kB, what probe said); raises RunFailed if it exits or stalls first."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    fd = proc.stdout.fileno()
    out, seen, first, deadline = b"", 0, None, time.time() + 60 + n * 0.5
    try:
        while True:
            if time.time() > deadline:
                raise RunFailed(f"{seen} of {n} updates in time; output ends: "
                                + out.decode(errors="replace")[-300:])
            if not select.select([fd], [], [], 1)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RunFailed(f"exited after {seen} of {n} updates; output ends: "
                                + out.decode(errors="replace")[-300:])
            out += chunk
            seen = sum(1 for l in out.decode(errors="replace").splitlines(True)
                       if l.endswith("\n") and done.search(l))
            if seen and first is None:
                first = (seen, proc_cpu(proc.pid))
            if seen >= n:
                last = (seen, proc_cpu(proc.pid))
                hwm = proc_hwm(proc.pid)
                said = probe(out.decode(errors="replace")) if probe else None
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return out.decode(errors="replace"), first, last, hwm, said


def rotation_names():
    return (["ours-x509", "ours-noverify", "ours-full", "rust-spiffe"]
            + (["py-spiffe"] if PY else []))


def rotation_contestant(name, work, sock, certs):
    """(argv, regex of the line that ends one update, probe before stopping it or None).
    ours-x509 does the peers' job (and verifies the SVID), ours-noverify the same with
    skip_svid_verification; ours-full adds two JWT-SVIDs, the JWT bundle and the health
    listener (polled once at the end: /ready must answer 200)."""
    if name == "rust-spiffe":
        return [PEER_RUST, "--watch", str(ROTATIONS), f"unix:{sock}", certs], WRITTEN, None
    if name == "py-spiffe":
        return ([PY, os.path.join(ROOT, "bench", "peer_py.py"), "--watch", str(ROTATIONS),
                 f"unix://{sock}", certs], WRITTEN, None)
    extra, port = [], None
    if name == "ours-noverify":
        extra = ["skip_svid_verification = true"]
    if name == "ours-full":
        port = free_port()
        extra = [jwt_svids(2), 'jwt_bundle_file_name = "jwt_bundle.json"',
                 f"health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n}}"]
    signals = f"{work}/{name}.signals"

    def probe(output):
        # the stop's SIGTERM would discard a SIGUSR1 still pending at sigrec: let it land
        sent, deadline = output.count('msg="Signalled process"'), time.time() + 2
        while time.time() < deadline and (not os.path.exists(signals) or
                                          sum(1 for _ in open(signals)) < sent):
            time.sleep(0.002)
        return ready(port) if port else None
    argv = [HELPER, "-config", conf(f"{work}/{name}.conf", sock, certs, f'cmd = "{SIGREC}"',
                                    f'cmd_args = "{signals}"', 'renew_signal = "SIGUSR1"',
                                    *extra)]
    return argv, HELPER_DONE, probe


def latencies(name, work, agent, output):
    """Seconds from each `sent` line of the agent to the contestant's update of that serial,
    the first update (the SVID current at connection, sent before it) left out, and a note
    when they could not be matched. Peers print `written <serial> <ns>`; ours logs each
    update's serial, then `Signalled process`, and bench/sigrec.c logs the time each signal
    arrives, in the same order, unless two signals met while one was pending (they merge) or
    one came before sigrec had set its handler (it dies and is started again)."""
    sent = {}
    for line in open(agent.out.name):
        if line.startswith("sent "):
            serial, ns = line.split()[1:]
            sent[serial] = int(ns)
    if not name.startswith("ours"):
        done = [l.split()[1:] for l in output.splitlines() if l.startswith("written ")][1:]
        return [(int(ns) - sent[serial]) / 1e9 for serial, ns in done if serial in sent], None
    serial, signalled, started = None, [], 0
    for line in output.splitlines():
        m = re.search(r'msg="X.509 certificates updated".* serial=(\S+)', line)
        if m:
            serial = m.group(1)
        elif 'msg="Signalled process"' in line:
            signalled.append(serial)
        elif 'msg="Started process"' in line:
            started += 1
    arrived = [int(l) for l in open(f"{work}/{name}.signals")]
    if started != 1 or len(arrived) != len(signalled):
        return [], (f"latency not measured: sigrec started {started} times, received "
                    f"{len(arrived)} signals for {len(signalled)} sent")
    return [(t - sent[s]) / 1e9 for s, t in zip(signalled, arrived) if s in sent], None


def rotations(results):
    """Daemon or watch mode against an agent rotating every 50 ms, one agent per contestant,
    until ROTATIONS updates: CPU per update, peak RSS, latency from the agent to the files."""
    res = {}
    for name in rotation_names():
        work = tempfile.mkdtemp(prefix="rot.", dir="/dev/shm")
        agent = Agent(work, "--intermediate", "--rotate-every", "50ms")
        certs = os.path.join(work, "certs")
        os.makedirs(certs)
        try:
            argv, done, probe = rotation_contestant(name, work, agent.sock, certs)
            agent.wait_sent()
            try:
                output, first, last, hwm, why = watch_run(argv, done, ROTATIONS, probe)
            except RunFailed as e:
                why = str(e)
            why = why or check(certs, 1)
            if not why and name == "ours-full":
                why = check_jwt(certs, 2, jwt_keys(os.path.join(certs, "jwt_bundle.json")))
            if not why:
                lat, note = latencies(name, work, agent, output)
        finally:
            agent.stop()
            shutil.rmtree(work)
        if why:
            FAILED.append(("rotations", name, why))
            res[name] = {"fail": why}
            continue
        lat.sort()
        res[name] = {"updates": last[0], "cpu_per_update_ms": (last[1] - first[1]) /
                     max(1, last[0] - first[0]) * 1e3, "rss_kb": hwm,
                     "latency_med_ms": statistics.median(lat) * 1e3 if lat else None,
                     "latency_p90_ms": lat[min(len(lat) - 1, int(0.9 * len(lat)))] * 1e3
                     if lat else None, "latencies": len(lat), "note": note}
    results["rotations"] = {"rotations": ROTATIONS, "every_ms": 50, **res}
    print(f"\nrotations every 50 ms, {ROTATIONS} updates each (daemon / watch mode, files on "
          "tmpfs), ratios against rust-spiffe; latency: agent sent -> files durable (peers), "
          "-> files durable and SIGUSR1 received by cmd (ours)")
    print(f"{'contestant':<15}{'CPU/update ms':>14}{'peak RSS kB':>13}{'lat med ms':>12}"
          f"{'lat p90 ms':>12}{'CPU x':>7}{'RSS x':>7}{'lat x':>7}")
    b = res.get("rust-spiffe", {})
    for n, r in res.items():
        if "fail" in r:
            print(f"{n:<15}  FAILED: {r['fail']}")
            continue
        ratio = lambda k: f"{r[k] / b[k]:.2f}" if b.get(k) and r[k] is not None else "-"
        ms = lambda k: f"{r[k]:.2f}" if r[k] is not None else "-"
        print(f"{n:<15}{r['cpu_per_update_ms']:>14.3f}{r['rss_kb']:>13}{ms('latency_med_ms'):>12}"
              f"{ms('latency_p90_ms'):>12}{ratio('cpu_per_update_ms'):>7}{ratio('rss_kb'):>7}"
              f"{ratio('latency_med_ms'):>7}")
        if r["note"]:
            print(f"{'':<15}{r['note']}")


def callgrind(argv, out, done=None, n=0):
    """(instructions, why it failed or None) of argv under `valgrind --tool=callgrind`: every
    instruction of every thread in user space, whatever else the machine runs. With `done`,
    argv runs until n of its lines match it (one per update), then is stopped with SIGTERM
    (see watch_run); returns the updates seen too. The profile stays in `out` for
    callgrind_annotate."""
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
    seen = None
    if done is None:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, None, "exit: " + (r.stderr.strip().splitlines()[-1:] or [""])[0]
    else:
        try:
            _, _, (seen, _), _, _ = watch_run(cmd, done, n)
        except RunFailed as e:
            return None, None, str(e)
    with open(out) as f:
        totals = [int(m.group(2)) for m in re.finditer(r"^(summary|totals): (\d+)", f.read(),
                                                      re.M)]
    return (max(totals), seen, None) if totals else (None, None, f"no totals in {out}")


def instructions(results):
    """Instructions counted by callgrind: one-shot fetch (ours with and without verification,
    the peers), the cost of one update in daemon / watch mode, and a one-shot fetch with
    CG_CAS federated CAs. Per update = (instructions over 1 + CG_ROTATIONS updates - over 1
    update) / the updates between: start-up, the first update and the stop cancel out."""
    if not shutil.which("valgrind"):
        print("\nvalgrind is not installed: skipping the instruction counts")
        FAILED.append(("instructions", "valgrind", "not installed"))
        return
    prof = os.path.join(ROOT, "bench", ".work", "callgrind")
    os.makedirs(prof, exist_ok=True)
    res = {}

    def put(row, name, ir, why):
        if why:
            FAILED.append((f"instructions {row}", name, why))
        res.setdefault(name, {})[row] = ir if not why else None

    for row, flags, roots in (("oneshot", [], 1),
                              (f"cas{CG_CAS}", ["--federate-count", str(CG_CAS)], CG_CAS + 1)):
        work = tempfile.mkdtemp(prefix="cg.", dir="/dev/shm")
        agent = Agent(work, "--intermediate", *flags)
        certs = os.path.join(work, "certs")
        try:
            for name, argv in contestants(work, agent.sock, certs).items():
                if name == "py-spiffe":
                    continue
                clear(certs)
                ir, _, why = callgrind(argv, os.path.join(prof, f"{row}.{name}.out"))
                put(row, name, ir, why or check(certs, roots))
        finally:
            agent.stop()
            shutil.rmtree(work)
    updated = re.compile(r'msg="X.509 certificates updated"')
    for name in ("ours", "ours-noverify", "rust-spiffe"):
        counts = []
        for n in (1, 1 + CG_ROTATIONS):
            work = tempfile.mkdtemp(prefix="cg.", dir="/dev/shm")
            agent = Agent(work, "--intermediate", "--rotate-every", "1s")
            certs = os.path.join(work, "certs")
            os.makedirs(certs)
            if name == "rust-spiffe":
                argv, done = [PEER_RUST, "--watch", str(n), f"unix:{agent.sock}", certs], WRITTEN
            else:
                extra = ["skip_svid_verification = true"] if name == "ours-noverify" else []
                argv, done = [HELPER, "-config", conf(f"{work}/{name}.conf", agent.sock, certs,
                                                      *extra)], updated
            try:
                agent.wait_sent()
                ir, seen, why = callgrind(argv, os.path.join(prof, f"rotation{n}.{name}.out"),
                                          done, n)
                why = why or check(certs, 1)
            finally:
                agent.stop()
                shutil.rmtree(work)
            if why:
                put("rotation", name, None, why)
                break
            counts.append((seen, ir))
        if len(counts) == 2:
            (u1, i1), (u2, i2) = counts
            put("rotation", name, (i2 - i1) // max(1, u2 - u1), None)
    results["instructions"] = {"cas": CG_CAS, "rotations": CG_ROTATIONS, **res}
    rows = (("oneshot", "one-shot fetch"), ("rotation", "per update (daemon / watch)"),
            (f"cas{CG_CAS}", f"one-shot, {CG_CAS} federated CAs"))
    print(f"\ninstructions (valgrind --tool=callgrind, user space, all threads), ratios against "
          f"rust-spiffe; per update over {CG_ROTATIONS} updates; profiles in "
          f"{os.path.relpath(prof, ROOT)}")
    print(f"{'contestant':<17}" + "".join(f"{label:>34}" for _, label in rows))
    base = res.get("rust-spiffe", {})
    for name, r in res.items():
        cells = []
        for key, _ in rows:
            ir = r.get(key)
            ratio = f" ({ir / base[key]:.2f}x)" if ir and base.get(key) else ""
            cells.append(f"{ir:,}{ratio}" if ir else ("FAILED" if key in r else "-"))
        print(f"{name:<17}" + "".join(f"{c:>34}" for c in cells))


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def es256_verifies(jwk, signing_input, sig, tmp):
    """OpenSSL's verdict on an ES256 JWS signature (R || S) with a P-256 JWK."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or len(sig) != 64:
        return False
    spki = base64.b64encode(P256_SPKI_PREFIX + b"\x04" + b64url(jwk["x"]) + b64url(jwk["y"]))
    lines = "\n".join(spki[i:i + 64].decode() for i in range(0, len(spki), 64))

    def der_int(b):
        b = b.lstrip(b"\0") or b"\0"
        b = b"\0" + b if b[0] & 0x80 else b
        return b"\x02" + bytes([len(b)]) + b
    body = der_int(sig[:32]) + der_int(sig[32:])
    files = {"key.pem": f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n".encode(),
             "sig.der": b"\x30" + bytes([len(body)]) + body, "data": signing_input}
    for name, data in files.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", f"{tmp}/key.pem", "-signature",
                        f"{tmp}/sig.der", f"{tmp}/data"], capture_output=True)
    return r.returncode == 0


def jwt_keys(path):
    """{kid: JWK} over every trust domain of a JWT bundle file as ours writes it (a JSON
    object: trust domain -> standard base64 of its JWKS), or None if it is not one."""
    try:
        with open(path) as f:
            doc = json.load(f)
        return {k["kid"]: k for jwks in doc.values()
                for k in json.loads(base64.b64decode(jwks))["keys"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def check_jwt(certs, n, keys, bundle=None):
    """None when certs holds exactly the token files jwt-0 .. jwt-<n-1>, each a compact JWS
    whose ES256 signature OpenSSL verifies with the agent's key of its kid, whose aud holds
    aud-<i>, whose sub is the agent's SPIFFE ID and whose exp is ahead; and, given bundle,
    that file holds exactly the agent's keys. Else why not."""
    if not keys:
        return "no JWT keys to verify against"
    names = sorted(f for f in os.listdir(certs) if re.fullmatch(r"jwt-\d+", f))
    if names != sorted(f"jwt-{i}" for i in range(n)):
        return f"{len(names)} token files, expected jwt-0 .. jwt-{n - 1}"
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            with open(os.path.join(certs, f"jwt-{i}")) as f:
                token = f.read()
            parts = token.split(".")
            if len(parts) != 3:
                return f"jwt-{i} is not a compact JWS"
            try:
                header, claims = (json.loads(b64url(p)) for p in parts[:2])
                sig = b64url(parts[2])
                aud = claims.get("aud")
            except (ValueError, AttributeError):
                return f"jwt-{i}: header or claims are not base64url JSON objects"
            if f"aud-{i}" not in ([aud] if isinstance(aud, str) else aud or []):
                return f"jwt-{i}: aud {aud!r} lacks aud-{i}"
            if claims.get("sub") != SPIFFE_ID:
                return f"jwt-{i}: sub {claims.get('sub')!r}, expected {SPIFFE_ID}"
            if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
                return f"jwt-{i}: exp {claims.get('exp')!r} is not ahead"
            key = keys.get(header.get("kid"))
            signing_input = f"{parts[0]}.{parts[1]}".encode()
            if header.get("alg") != "ES256" or not key or not es256_verifies(
                    key, signing_input, sig, tmp):
                return f"jwt-{i}: ES256 signature does not verify with the agent's key"
    if bundle and jwt_keys(os.path.join(certs, bundle)) != keys:
        return f"{bundle} does not hold exactly the agent's JWT keys"
    return None


def jwt_svids(n):
    """The jwt_svids line of ours: audiences aud-<i>, files jwt-<i>."""
    return "jwt_svids = [" + ", ".join(
        f'{{ jwt_audience = "aud-{i}", jwt_svid_file_name = "jwt-{i}" }}' for i in range(n)) + "]"


def jwt_conf(path, sock, certs, *extra):
    with open(path, "w") as f:
        f.write(f'agent_address = "{sock}"\ncert_dir = "{certs}"\ndaemon_mode = false\n')
        f.write("\n".join(extra) + "\n")
    return path


def jwt(results):
    """One-shot fetch of one JWT-SVID per audience, for each of JWT_COUNTS. Ours also fetches
    and writes the JWT bundle and verifies each token against it (the peers parse the
    tokens without verifying: their libraries' plain fetch)."""
    work = tempfile.mkdtemp(prefix="jwt.", dir="/dev/shm")
    agent = Agent(work)
    certs = os.path.join(work, "certs")
    results["jwt"] = {}
    try:
        # the agent's JWKS, to verify every contestant's tokens with
        clear(certs)
        subprocess.run([HELPER, "-config", jwt_conf(f"{work}/keys.conf", agent.sock, certs,
                                                    'jwt_bundle_file_name = "keys.json"')],
                       check=True, stderr=subprocess.DEVNULL)
        keys = jwt_keys(os.path.join(certs, "keys.json"))
        for n in JWT_COUNTS:
            ours = jwt_conf(f"{work}/ours-{n}.conf", agent.sock, certs, jwt_svids(n),
                            'jwt_bundle_file_name = "jwt_bundle.json"')
            cs = {"ours": [HELPER, "-config", ours],
                  "rust-spiffe": [PEER_RUST, "--jwt", str(n), f"unix:{agent.sock}", certs]}
            if ENV("BEFORE"):
                cs["before"] = [ENV("BEFORE"), "-config", ours]
            if PY:
                cs["py-spiffe"] = [PY, os.path.join(ROOT, "bench", "peer_py.py"), "--jwt",
                                   str(n), f"unix://{agent.sock}", certs]
            res = series(f"jwt {n}", cs, certs, SCALE_RUNS, lambda c, name: check_jwt(
                c, n, keys, "jwt_bundle.json" if name in ("ours", "before") else None))
            results["jwt"][str(n)] = res
            table(f"{n} JWT audiences, one-shot, files on tmpfs, {SCALE_RUNS} runs each", res)
    finally:
        agent.stop()
        shutil.rmtree(work)
    print("\nfitted slope against JWT audiences (least squares over the counts that "
          "succeeded):")
    results["jwt_slopes_ms_per_audience"] = {}
    for name in next(iter(results["jwt"].values()), {}):
        pts = [(int(c), r[name]) for c, r in results["jwt"].items() if "wall_ms" in r[name]]
        if len(pts) >= 2:
            wall, b = fit([(x, r["wall_ms"]) for x, r in pts])
            cpu, _ = fit([(x, r["cpu_ms"]) for x, r in pts])
            results["jwt_slopes_ms_per_audience"][name] = {"wall": wall, "cpu": cpu}
            print(f"  {name:<15}{wall:8.3f} ms wall, {cpu:.3f} ms CPU per audience "
                  f"(wall intercept {b:.2f} ms, {len(pts)} points)")


def file_says(path):
    r = subprocess.run(["file", "-b", path], capture_output=True, text=True) \
        if shutil.which("file") else None
    return r.stdout.strip() if r and r.returncode == 0 else ""


def linking(path):
    """How `file` says the binary is linked, and whether it is stripped."""
    says = file_says(path)
    if not says:
        return "file(1) not available"
    kind = next((k for k in ("static-pie linked", "statically linked", "dynamically linked")
                 if k in says), "linking unknown")
    if kind == "dynamically linked" and "ld-linux" in says:
        kind = "dynamically linked to glibc (shared libraries not counted)"
    return kind + (", not stripped" if "not stripped" in says else
                   ", stripped" if "stripped" in says else "")


def sizes(results):
    """Bytes on disk of each contestant's program."""
    rows = []
    aarch64 = os.path.join(ROOT, "target", "aarch64-unknown-linux-musl", "release",
                           "spiffe-helper")
    for path in dict.fromkeys([HELPER, aarch64]):
        target = os.path.basename(os.path.dirname(os.path.dirname(path)))
        if os.path.exists(path):
            rows.append(("ours", target, os.path.getsize(path), linking(path)))
        else:
            rows.append(("ours", target, None, "not built"))
    rows.append(("rust-spiffe", f"host ({os.uname().machine})", os.path.getsize(PEER_RUST),
                 linking(PEER_RUST) + "; features workload-api-x509 + workload-api-jwt, "
                 "--watch and --jwt modes included"))
    if PY:
        site = glob.glob(os.path.join(os.path.dirname(os.path.dirname(PY)), "lib", "python*",
                                      "site-packages"))[0]
        du = lambda *paths: int(subprocess.run(["du", "-sbc", *paths], capture_output=True,
                                               text=True, check=True).stdout.split()[-2])
        tools = [p for g in ("pip", "pip-*", "setuptools", "setuptools-*", "_distutils_hack",
                             "pkg_resources", "distutils-precedence.pth")
                 for p in glob.glob(os.path.join(site, g))]
        rows.append(("py-spiffe", "site-packages", du(site),
                     f"du -sb of {os.path.relpath(site, ROOT)}, of which pip + setuptools "
                     f"{du(*tools) if tools else 0}; the Python interpreter comes on top"))
    with open(os.path.join(ROOT, "daemon", "Cargo.toml"), "rb") as f:
        features = tomllib.load(f).get("features")
    feature_note = (f"spiffe-helper's cargo features: {', '.join(features)}; only the default "
                    "build is measured" if features else
                    "spiffe-helper (daemon/Cargo.toml) has no cargo features: the default and "
                    "the minimal feature set are the same binary")
    results["sizes"] = {"features": features or {}, "binaries": [
        {"contestant": c, "target": t, "bytes": b, "note": n} for c, t, b, n in rows]}
    print("\nsizes, bytes on disk")
    print(f"{'contestant':<13}{'target':<28}{'bytes':>11}  note")
    for c, t, b, n in rows:
        print(f"{c:<13}{t:<28}{b if b is not None else '-':>11}  {n}")
    print(feature_note)


def fit(points):
    """Least-squares slope and intercept of [(x, y)]."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return slope, my - slope * mx


def plot(results):
    """Hand-written SVG: median wall time and peak RSS against federated CAs, log-log."""
    import math
    sc = results["scaling"]
    names = [n for n in next(iter(sc.values())) if not n.startswith("_")]
    colors = ["#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"]
    W, H, M = 420, 300, 55
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W + 20}" height="{H + 70}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{2 * W + 20}" height="{H + 70}" fill="white"/>']
    for panel, (key, label) in enumerate((("wall_ms", "median wall time, ms"),
                                          ("rss_kb", "peak RSS, kB"))):
        ox = panel * (W + 20)
        pts = {n: [(int(c), sc[c][n][key]) for c in sc if key in sc[c].get(n, {})] for n in names}
        ys = [y for p in pts.values() for _, y in p]
        xs = [int(c) for c in sc]
        x0, x1 = math.log10(min(xs)), math.log10(max(xs))
        y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        X = lambda x: ox + M + (math.log10(x) - x0) / ((x1 - x0) or 1) * (W - M - 10)
        Y = lambda y: 20 + (y1 - math.log10(y)) / ((y1 - y0) or 1) * (H - 40)
        svg.append(f'<text x="{ox + W / 2}" y="14" text-anchor="middle">{label} vs federated CAs'
                   ' (log-log)</text>')
        svg.append(f'<rect x="{ox + M}" y="20" width="{W - M - 10}" height="{H - 40}" '
                   'fill="none" stroke="#888"/>')
        for e in range(y0, y1 + 1):
            svg.append(f'<text x="{ox + M - 4}" y="{Y(10 ** e) + 4}" text-anchor="end">'
                       f'{10 ** e:g}</text>')
        for x in xs:
            svg.append(f'<text x="{X(x)}" y="{H - 6}" text-anchor="middle">{x}</text>')
        for i, n in enumerate(names):
            p = pts[n]
            if not p:
                continue
            svg.append('<polyline fill="none" stroke-width="2" stroke="{}" points="{}"/>'.format(
                colors[i % len(colors)], " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in p)))
            for x, y in p:
                svg.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{colors[i % len(colors)]}"/>')
            failed = [c for c in sc if "fail" in sc[c].get(n, {})]
            for c in failed:
                svg.append(f'<text x="{X(int(c)) - 4}" y="{Y(10 ** y1) + 14 + 12 * i}" '
                           f'fill="{colors[i % len(colors)]}" text-anchor="end">{n} fails</text>')
    for i, n in enumerate(names):
        svg.append(f'<rect x="{M + 130 * i}" y="{H + 20}" width="12" height="12" '
                   f'fill="{colors[i % len(colors)]}"/><text x="{M + 16 + 130 * i}" y="{H + 30}">{n}</text>')
    svg.append("</svg>")
    with open(os.path.join(OUT, "scaling.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    if ENV("REPLOT"):  # redraw scaling.svg from results.json only
        plot(json.load(open(os.path.join(OUT, "results.json"))))
        return
    results = {"runs": RUNS, "scale_runs": SCALE_RUNS}
    parts = ENV("PARTS", "sizes oneshot rotations instructions scaling jwt").split()
    if "sizes" in parts:
        sizes(results)
    if "oneshot" in parts:
        oneshot(results)
    if "rotations" in parts:
        rotations(results)
    if "instructions" in parts:
        instructions(results)
    if "scaling" in parts:
        scaling(results)
        print("\nfitted slope of median wall time vs federated CAs (least squares over the "
              "counts that succeeded):")
        results["slopes_ms_per_1000_cas"] = {}
        for n in [k for k in next(iter(results["scaling"].values())) if not k.startswith("_")]:
            pts = [(int(c), r[n]["wall_ms"]) for c, r in results["scaling"].items()
                   if "wall_ms" in r.get(n, {})]
            if len(pts) >= 2:
                s, b = fit(pts)
                results["slopes_ms_per_1000_cas"][n] = s * 1000
                print(f"  {n:<15}{s * 1000:8.2f} ms per 1,000 CAs (intercept {b:.2f} ms, "
                      f"{len(pts)} points)")
        plot(results)
        print(f"\nplot: {os.path.relpath(os.path.join(OUT, 'scaling.svg'), ROOT)}")
    if "jwt" in parts:
        jwt(results)
    results["failed_checks"] = [{"part": p, "contestant": c, "why": w} for p, c, w in FAILED]
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"figures: {os.path.relpath(os.path.join(OUT, 'results.json'), ROOT)}")
    if FAILED:
        print(f"\n{len(FAILED)} contestant series ended on a run that failed its check:")
        for p, c, w in FAILED:
            print(f"  {p}: {c}: {w}")
        if ENV("STRICT"):
            sys.exit(1)


if __name__ == "__main__":
    main()
