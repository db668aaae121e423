#!/usr/bin/env bash
# The whole path against local stand-ins: moto (as AWS) and the federation-endpoint stand-in, an identity
# pool and console roles, demo users in two groups in a PAM stack of their own, the gateway daemon, and logins
# through its JSON API and its local socket, each ending at a console sign-in URL. Nothing leaves this
# machine and nothing in /etc is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/lib/standins.sh

DAEMON_PID=
cleanup() {
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    stop_standins
}
trap cleanup EXIT

echo "== building consolegate"
# The daemon and its PAM monitor (consolegate-pam), which it finds beside itself.
swift build -c release --product consolegate >/dev/null && swift build -c release --product consolegate-pam >/dev/null
BIN="$PWD/.build/release/consolegate"

echo "== starting the AWS stand-ins (moto_server, federation endpoint)"
start_standins

# Demo users: pam_wrapper points libpam at this service directory and pam_matrix checks passwords from a small
# file; nss_wrapper serves their groups. The account that runs this script is "carol" to the daemon, so the
# socket demo speaks for her.
DEMO="$STANDINS_DIR/demo"
chmod 0755 "$STANDINS_DIR" # the daemon, once it has given up root, reaches its audit file through it
mkdir -p -m 0755 "$DEMO" "$DEMO/run"
mkdir -p "$DEMO/services"
printf 'alice:alice-demo-pw:consolegate\ncarol:carol-demo-pw:consolegate\n' >"$DEMO/passdb"
MATRIX=/usr/lib/$(gcc -print-multiarch)/pam_wrapper/pam_matrix.so
printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' "$MATRIX" "$DEMO/passdb" "$MATRIX" "$DEMO/passdb" \
    >"$DEMO/services/consolegate"
printf 'alice:x:2001:2001::/nonexistent:/bin/bash\ncarol:x:%s:%s::/nonexistent:/bin/bash\n' "$(id -u)" "$(id -g)" >"$DEMO/passwd"
printf 'staff:x:3001:alice,carol\naws-admins:x:3002:carol\n' >"$DEMO/group"
# Started as root, the daemon gives root up to the consolegate user (install-deps.sh creates it), which owns
# the audit directory.
mkdir -m 0750 "$DEMO/audit"
if [ "$(id -u)" = 0 ]; then
    getent passwd consolegate >>"$DEMO/passwd"
    getent group consolegate >>"$DEMO/group"
    chown consolegate: "$DEMO/audit"
fi
# Only ConsoleGate gets the wrappers; it passes them on to its PAM helper.
WRAPPERS=(LD_PRELOAD=libpam_wrapper.so:libnss_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$DEMO/services"
          NSS_WRAPPER_PASSWD="$DEMO/passwd" NSS_WRAPPER_GROUP="$DEMO/group")

PORT=$(free_port)
CONFIG="$DEMO/consolegate.yaml"
write_standin_aws_config "$CONFIG"
cat >>"$CONFIG" <<YAML
access:
  - role: $(fixture "['roles']['ConsoleAdmin']")
    groups: [aws-admins]
  - role: $(fixture "['roles']['ConsoleReadOnly']")
    groups: [staff]
listen:
  http: 127.0.0.1:$PORT
  socket: $DEMO/run/consolegate.sock
  socket_mode: "0600"
pam:
  service: consolegate
audit:
  file: $DEMO/audit/audit.jsonl
lockout:
  failure_floor: 500ms
YAML
echo "== config"; cat "$CONFIG"

echo "== PAM alone: consolegate authenticate"
printf 'alice-demo-pw\n' | env "${WRAPPERS[@]}" "$BIN" authenticate --service consolegate --user alice --password-stdin

echo "== starting the gateway: consolegate serve"
# moto accepts any broker keys; against AWS these come from the usual credential chain.
env "${WRAPPERS[@]}" AWS_ENDPOINT_URL="$CONSOLEGATE_TEST_MOTO_URL" AWS_ACCESS_KEY_ID=demo-broker AWS_SECRET_ACCESS_KEY=demo-secret \
    AWS_EC2_METADATA_DISABLED=true "$BIN" serve --config "$CONFIG" 2>"$DEMO/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 1 100); do
    [ "$(grep -c 'listening on' "$DEMO/daemon.log" || true)" -ge 2 ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DEMO/daemon.log"; exit 1; }
    sleep 0.1
done
cat "$DEMO/daemon.log"

api_login() {
    curl -s -w '  (HTTP %{http_code})\n' -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$PORT/api/v1/login"
}
echo
echo "== API: alice with a wrong password"
api_login '{"username":"alice","password":"not-her-password"}'
echo "== API: alice (group staff) gets her role"
api_login '{"username":"alice","password":"alice-demo-pw"}'
echo "== API: carol (staff and aws-admins) lists her roles, then picks the read-only one"
curl -s -u carol:carol-demo-pw "http://127.0.0.1:$PORT/api/v1/roles"; echo
api_login "{\"username\":\"carol\",\"password\":\"carol-demo-pw\",\"role\":\"$(fixture "['roles']['ConsoleReadOnly']")\"}"

echo
echo "== socket: consolegate url, as the account running this script (carol to the daemon)"
url=$("$BIN" url --socket "$DEMO/run/consolegate.sock")
echo "$url"
echo "== following that URL at the federation stand-in"
curl -s -o /dev/null -D - "$url" | grep -iE '^(HTTP|Location|X-Standin-Principal)'

echo
echo "== the audit trail"
cat "$DEMO/audit/audit.jsonl"
