#!/usr/bin/env bash
# Runs every test: starts the local AWS stand-ins (moto_server and the federation-endpoint stand-in) on free
# loopback ports, checks the stand-in itself, builds, runs `swift test`, and stops the stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/standins.sh

trap stop_standins EXIT
echo "== federation stand-in self-test"
python3 Tests/StandIns/test_federation_standin.py

echo "== starting the AWS stand-ins"
start_standins

echo "== swift build"
swift build --build-tests
export CONSOLEGATE_BIN="$PWD/.build/debug/consolegate"

echo "== swift test"
swift test --skip-build "$@"
