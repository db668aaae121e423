# Starts and stops the local AWS stand-ins: moto_server (twice: one checks signatures) and the
# federation-endpoint stand-in, each on a loopback port the kernel picks as it binds, so no other process can
# take it in between. Source it, then call start_standins.
#
# Exports: CONSOLEGATE_TEST_MOTO_URL, CONSOLEGATE_TEST_AUTH_MOTO_URL, CONSOLEGATE_TEST_FEDERATION_URL,
# CONSOLEGATE_TEST_FIXTURES (JSON from provision_standins.py), STANDINS_DIR.

STANDIN_PIDS=()

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# Waits until a URL answers at all (any HTTP status), for at most 20 s.
wait_for_url() {
    local url=$1
    for _ in $(seq 1 200); do
        if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
        sleep 0.1
    done
    echo "standins: $url did not come up" >&2
    return 1
}

# Starts moto_server on a port the kernel picks (-p 0), so no other process can take it first, and sets
# MOTO_PORT from its "Running on" line (at most 20 s).
start_moto() {
    local log=$1
    moto_server -H 127.0.0.1 -p 0 >"$log" 2>&1 &
    STANDIN_PIDS+=($!)
    MOTO_PORT=""
    for _ in $(seq 1 200); do
        MOTO_PORT=$(sed -n 's#^ \* Running on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$log" | head -n 1)
        [ -n "$MOTO_PORT" ] && return 0
        sleep 0.1
    done
    echo "standins: moto_server did not say where it runs" >&2
    cat "$log" >&2
    return 1
}

start_standins() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    STANDINS_DIR=$(mktemp -d /tmp/consolegate-standins.XXXXXX)
    export STANDINS_DIR

    start_moto "$STANDINS_DIR/moto.log"
    export CONSOLEGATE_TEST_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
    start_moto "$STANDINS_DIR/moto-auth.log"
    export CONSOLEGATE_TEST_AUTH_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
    wait_for_url "$CONSOLEGATE_TEST_MOTO_URL/moto-api/"
    wait_for_url "$CONSOLEGATE_TEST_AUTH_MOTO_URL/moto-api/"

    python3 "$root/Tests/StandIns/federation_standin.py" --port 0 --moto-url "$CONSOLEGATE_TEST_MOTO_URL" \
        --port-file "$STANDINS_DIR/federation.port" >"$STANDINS_DIR/federation.log" 2>&1 &
    STANDIN_PIDS+=($!)
    for _ in $(seq 1 200); do
        [ -s "$STANDINS_DIR/federation.port" ] && break
        sleep 0.1
    done
    [ -s "$STANDINS_DIR/federation.port" ] || { echo "standins: the federation stand-in did not start" >&2; cat "$STANDINS_DIR/federation.log" >&2; return 1; }
    export CONSOLEGATE_TEST_FEDERATION_URL="http://127.0.0.1:$(cat "$STANDINS_DIR/federation.port")/federation"

    export CONSOLEGATE_TEST_FIXTURES="$STANDINS_DIR/fixtures.json"
    python3 "$root/scripts/provision_standins.py" --moto-url "$CONSOLEGATE_TEST_MOTO_URL" \
        --auth-moto-url "$CONSOLEGATE_TEST_AUTH_MOTO_URL" >"$CONSOLEGATE_TEST_FIXTURES"
}

stop_standins() {
    local pid
    for pid in "${STANDIN_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STANDIN_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    STANDIN_PIDS=()
    [ -n "${STANDINS_DIR:-}" ] && rm -rf "$STANDINS_DIR"
}

# Prints a value from the provisioned fixtures, e.g. `fixture "['roles']['ConsoleAdmin']"`.
fixture() {
    python3 -c "import json; print(json.load(open('$CONSOLEGATE_TEST_FIXTURES'))$1)"
}

# Writes the `aws:` section of a ConsoleGate config that mints through the stand-ins with the
# cognito-developer strategy; the caller appends its own `access:` rules.
write_standin_aws_config() {
    cat >"$1" <<YAML
aws:
  region: us-east-1
  strategy: cognito-developer
  cognito:
    identity_pool_id: $(fixture "['identity_pool_id']")
    developer_provider: $(fixture "['developer_provider']")
  session_duration: 1h
  signin_endpoint: $CONSOLEGATE_TEST_FEDERATION_URL
  issuer: https://consolegate.example.org/
YAML
}
