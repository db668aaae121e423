#!/usr/bin/env bash
# The whole path against local stand-ins: starts moto (as AWS) and the federation-endpoint stand-in,
# provisions an identity pool and console roles, mints console sign-in URLs for demo users and follows
# one to show where it lands. Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/standins.sh
trap stop_standins EXIT

echo "== building consolegate"
swift build -c release --product consolegate >/dev/null
BIN="$PWD/.build/release/consolegate"

echo "== starting the AWS stand-ins (moto_server, federation endpoint)"
start_standins
fixture() { python3 -c "import json,sys; print(json.load(open('$CONSOLEGATE_TEST_FIXTURES'))$1)"; }

CONFIG="$STANDINS_DIR/consolegate.yaml"
cat >"$CONFIG" <<YAML
aws:
  region: us-east-1
  strategy: cognito-developer
  cognito:
    identity_pool_id: $(fixture "['identity_pool_id']")
    developer_provider: $(fixture "['developer_provider']")
  session_duration: 1h
  signin_endpoint: $CONSOLEGATE_TEST_FEDERATION_URL
  issuer: https://consolegate.example.org/
access:
  - role: $(fixture "['roles']['ConsoleAdmin']")
    users: [carol]
  - role: $(fixture "['roles']['ConsoleReadOnly']")
    users: [alice, carol]
YAML
echo "== config"; cat "$CONFIG"

# moto accepts any broker keys; against AWS these come from the usual credential chain.
export AWS_ENDPOINT_URL="$CONSOLEGATE_TEST_MOTO_URL" AWS_ACCESS_KEY_ID=demo-broker AWS_SECRET_ACCESS_KEY=demo-secret

echo "== alice: default role, JSON output"
"$BIN" mint --config "$CONFIG" --user alice --format json
echo
echo "== carol: her second role, in eu-west-1"
url=$("$BIN" mint --config "$CONFIG" --user carol --role "$(fixture "['roles']['ConsoleReadOnly']")" --region eu-west-1)
echo "$url"
echo
echo "== following carol's URL at the federation stand-in"
curl -s -o /dev/null -D - "$url" | grep -iE '^(HTTP|Location|X-Standin-Principal)'
