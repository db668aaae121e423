#!/usr/bin/env bash
# Runs every test: starts the local AWS stand-ins (moto_server and the federation-endpoint stand-in) on free
# loopback ports, checks the stand-in itself, builds, runs `swift test`, and stops the stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/lib/standins.sh
source scripts/lib/postgres.sh

trap 'stop_standins; stop_postgres' EXIT
echo "== federation stand-in self-test"
python3 -m pytest -rA Tests/StandIns/test_federation_standin.py

echo "== starting the AWS stand-ins"
start_standins
echo "== starting a throwaway PostgreSQL cluster"
start_postgres

echo "== swift build"
swift build --build-tests
export CONSOLEGATE_BIN="$PWD/.build/debug/consolegate"

echo "== swift test"
swift test --skip-build --skip LeakTests --skip LoadTests "$@"
# Counting leaked processes and descriptors needs a process where nothing else runs, and the load test
# keeps both cores busy: each runs on its own.
echo "== swift test: leak checks"
swift test --skip-build --filter LeakTests
echo "== swift test: load"
swift test --skip-build --filter LoadTests

echo "== fuzzing: each parser of untrusted bytes for 30 s (libFuzzer + ASan)"
scripts/fuzz.sh 30

echo "== web: the login page in headless Chromium"
python3 -m pytest -rA Tests/Web/browser_test.py
echo "== web: consolegate login in a terminal, the AWS CLI, /metrics"
python3 -m pytest -rA Tests/Web/client_test.py
echo "== connections: per-address cap, header and keep-alive timeouts, 5,000 hostile connections"
python3 -m pytest -rA Tests/Web/connections_test.py
echo "== API: the daemon's answers against docs/openapi.yaml (schemathesis)"
python3 -m pytest -rA Tests/Web/openapi_test.py
echo "== high availability: three replicas on PostgreSQL behind HAProxy"
python3 -m pytest -rA --durations=0 Tests/HA/ha_test.py

if [ "$(id -u)" = 0 ]; then
    echo "== secrets: no password left in the daemon's or the monitor's memory after a login (/proc/PID/mem)"
    python3 -m pytest -rA Tests/Web/memory_test.py
    echo "== LDAP: slapd + nslcd + pam_ldap"
    Tests/PAM/ldap_test.sh
    echo "== sshd with ForceCommand consolegate url"
    Tests/Gateway/sshd_test.sh
    echo "== the Debian package: lintian, then install, use and purge under a booted systemd (systemd-nspawn)"
    scripts/package-deb.sh .build-deb
    Tests/System/systemd_test.sh .build-deb/consolegate_*.deb
else
    echo "== the memory, LDAP, sshd and package tests need root (system users, nslcd, /etc/pam.d, systemd-nspawn); CI runs them as root" >&2
fi
