#!/usr/bin/env bash
# The main job on one machine: the development agent (svid-dev-agent, a tonic Workload API
# server with an in-memory CA) rotates short-lived X.509-SVIDs; two spiffe-helper daemons
# write them as files for the seed lab's Python manifest server and client
# (examples/coastal-containers/), start them, and on every rotation SIGHUP the server (which
# reloads) and re-run the client (which fetches the manifest again over mutual TLS).
#
#   scripts/demo.sh                 # about 15 s; DEMO_SECONDS, DEMO_ROTATE to change
# Files and logs stay in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${DEMO_SECONDS:-15}
rotate=${DEMO_ROTATE:-4s}
td=coastal-containers.example
id=spiffe://$td/manifest/workload
out=$root/demo-out
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

echo "== building spiffe-helper and svid-dev-agent"
cargo build -p spiffe-helper -p svid-tests --bins
rm -rf "$out" && mkdir -p "$out/server" "$out/client"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== starting the development agent on $out/agent.sock (rotation every $rotate)"
target/debug/svid-dev-agent --socket "$out/agent.sock" --trust-domain "$td" --spiffe-id "$id" \
    --intermediate --ttl 1m --rotate-every "$rotate" >"$out/agent.out" 2>"$out/agent.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening' "$out/agent.out" && break; sleep 0.1; done

# Writes $out/<role>/helper.conf in the seed lab's layout, with paths for this machine.
helper_conf() {
    local role=$1 script=$2 signal_line=$3
    cat >"$out/$role/helper.conf" <<CONF
# $role helper.conf (seed lab, step 4), pointed at the development agent
agent_address = "$out/agent.sock"
cmd = "python3"
cmd_args = "$root/examples/coastal-containers/$script"
$signal_line
cert_dir = "$out/$role"
svid_file_name = "${role}_cert.pem"
svid_key_file_name = "${role}_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
CONF
}
helper_conf server manifest_server.py 'renew_signal = "SIGHUP"'
helper_conf client manifest_client.py '# no renew_signal: the client is run again on each update'

start_helper() {
    local role=$1
    (
        cd "$out/$role"
        SVID_CERT=$out/$role/${role}_cert.pem SVID_KEY=$out/$role/${role}_key.pem \
            TRUST_BUNDLE=$out/$role/svid_bundle.pem PORT=$port SERVER_HOST=127.0.0.1 \
            EXPECT_PEER_ID=$id PYTHONUNBUFFERED=1 \
            exec "$root/target/debug/spiffe-helper" -config helper.conf >"$out/$role.log" 2>&1
    ) &
    pids+=($!)
}
echo "== starting spiffe-helper for the manifest server and the manifest client"
start_helper server
start_helper client

echo "== watching $out/server/server_cert.pem for $seconds s"
serials=()
for _ in $(seq $((seconds * 2))); do
    sleep 0.5
    [[ -s $out/server/server_cert.pem ]] || continue
    serial=$(openssl x509 -in "$out/server/server_cert.pem" -noout -serial 2>/dev/null || true)
    if [[ -n $serial && ! " ${serials[*]} " =~ " $serial " ]]; then
        serials+=("$serial")
        printf '   %s  %s\n' "$(date +%T)" \
            "$(openssl x509 -in "$out/server/server_cert.pem" -noout -serial -enddate | paste -sd' ')"
    fi
done

echo "== the files"
ls -l "$out/server" "$out/client"
echo "== checked by OpenSSL"
openssl verify -CAfile "$out/server/svid_bundle.pem" -untrusted "$out/server/server_cert.pem" \
    "$out/server/server_cert.pem"
echo "== server helper log (helper lines and the Python server's own)"
tail -n 8 "$out/server.log"
echo "== client helper log"
grep -m 2 'Received ship manifest' "$out/client.log" || true

rotations=${#serials[@]}
manifests=$(grep -c 'Received ship manifest' "$out/client.log" || true)
reloads=$(grep -c 'SIGHUP: reloaded' "$out/server.log" || true)
echo "== summary: $rotations SVIDs seen, $reloads server reloads, $manifests manifests received"
((rotations >= 2 && reloads >= 1 && manifests >= 2)) || { echo "demo failed" >&2; exit 1; }
