# Shared by the bench scripts (source it): a dev agent on a socket in $work and a helper.conf
# that writes the three X.509 files to $work/certs.

# start_agent [AGENT FLAGS...]: starts svid-dev-agent in the background, waits until it listens.
start_agent() {
    target/debug/svid-dev-agent --socket "$work/agent.sock" "$@" >"$work/agent.out" 2>/dev/null &
    for _ in $(seq 100); do grep -q '^listening' "$work/agent.out" && break; sleep 0.1; done
}

# write_conf [EXTRA LINE]: $work/helper.conf for the agent above, plus EXTRA.
write_conf() {
    mkdir -p "$work/certs"
    cat >"$work/helper.conf" <<CONF
agent_address = "$work/agent.sock"
cert_dir = "$work/certs"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
${1:-}
CONF
}
