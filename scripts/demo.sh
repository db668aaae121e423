#!/usr/bin/env bash
# The whole path against local stand-ins: starts moto (as AWS) and the federation-endpoint stand-in,
# provisions an identity pool and console roles, creates demo users in a PAM stack under pam_wrapper,
# authenticates them through ConsoleGate's PAM helper, mints their console sign-in URLs and follows one
# to show where it lands. Nothing leaves this machine and nothing in /etc is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/lib/standins.sh
trap stop_standins EXIT

echo "== building consolegate"
swift build -c release --product consolegate >/dev/null
BIN="$PWD/.build/release/consolegate"

echo "== starting the AWS stand-ins (moto_server, federation endpoint)"
start_standins

CONFIG="$STANDINS_DIR/consolegate.yaml"
write_standin_aws_config "$CONFIG"
cat >>"$CONFIG" <<YAML
access:
  - role: $(fixture "['roles']['ConsoleAdmin']")
    users: [carol]
  - role: $(fixture "['roles']['ConsoleReadOnly']")
    users: [alice, carol]
YAML
echo "== config"; cat "$CONFIG"

# Demo users in a PAM stack of their own: pam_wrapper points libpam at this service directory, and
# pam_matrix checks passwords from a small file instead of /etc/shadow.
PAMDIR="$STANDINS_DIR/pam"
mkdir -p "$PAMDIR/services"
printf 'alice:alice-demo-pw:consolegate\ncarol:carol-demo-pw:consolegate\n' >"$PAMDIR/passdb"
MATRIX=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so
printf 'auth required %s passdb=%s\naccount required %s passdb=%s\n' "$MATRIX" "$PAMDIR/passdb" "$MATRIX" "$PAMDIR/passdb" \
    >"$PAMDIR/services/consolegate"
# Only ConsoleGate gets pam_wrapper; it passes these variables on to its PAM helper.
PAM_WRAPPER_ENV=(LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMDIR/services")

login() {  # user password: PAM first, and only then a URL
    local user=$1 password=$2; shift 2
    if printf '%s\n' "$password" | env "${PAM_WRAPPER_ENV[@]}" "$BIN" authenticate --service consolegate --user "$user" --password-stdin; then
        "$BIN" mint --config "$CONFIG" --user "$user" "$@"
    else
        echo "(no URL for $user)"
    fi
}

# moto accepts any broker keys; against AWS these come from the usual credential chain.
export AWS_ENDPOINT_URL="$CONSOLEGATE_TEST_MOTO_URL" AWS_ACCESS_KEY_ID=demo-broker AWS_SECRET_ACCESS_KEY=demo-secret

echo "== alice logs in with a wrong password"
login alice not-her-password
echo
echo "== alice logs in: her default role, JSON output"
login alice alice-demo-pw --format json
echo
echo "== carol logs in: her second role, in eu-west-1"
url=$(login carol carol-demo-pw --role "$(fixture "['roles']['ConsoleReadOnly']")" --region eu-west-1 | tail -n 1)
echo "$url"
echo
echo "== following carol's URL at the federation stand-in"
curl -s -o /dev/null -D - "$url" | grep -iE '^(HTTP|Location|X-Standin-Principal)'
