#!/usr/bin/env bash
# Writes scripts/layout/consolegate.order and consolegate-pam.order: the functions that the daemon and the PAM
# monitor run during scripts/bench.sh's start-up and logins, in the order they first run them. The release build
# (scripts/lib/release-build.sh) places these first, so the code that runs shares pages and the idle RSS stays
# small. Run it as root (bench.sh needs root) after changes that move a lot of code, and commit the lists; a
# stale list costs memory, not correctness: scripts/bench.sh's idle RSS shows it.
#
# 1. Link the release build with every function on a page of its own (RELEASE_LAYOUT=profile).
# 2. Run the bench, briefly, with touch-trace.so preloaded into the daemons and monitors: it records each page
#    of code the first time it runs, that is each function.
# 3. Turn the pages into function names (order.py), then link as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
[ "$EUID" -eq 0 ] || { echo "layout: run as root (scripts/bench.sh needs it)" >&2; exit 1; }
source scripts/lib/release-build.sh

echo "== linking with one function per page"
PROFILE=$(RELEASE_LAYOUT=profile release_build .build-deb consolegate consolegate-pam)
TRACE=$(mktemp -d /tmp/consolegate-layout-XXXXXX)
trap 'rm -rf "$TRACE"' EXIT
gcc -O2 -Wall -shared -fPIC -o "$TRACE/touch-trace.so" scripts/layout/touch-trace.c -ldl
# The traced copies must stay as they are until order.py has read them.
mkdir "$TRACE/bin"
cp "$PROFILE/consolegate" "$PROFILE/consolegate-pam" "$TRACE/bin/"

echo "== tracing a short scripts/bench.sh run"
if ! CONSOLEGATE_BUILD_DIR="$TRACE/bin" BENCH_PRELOAD="$TRACE/touch-trace.so" BENCH_LOGINS=300 BENCH_WARMUP=100 \
        BENCH_SERIAL_LOGINS=20 scripts/bench.sh >"$TRACE/bench.log" 2>&1; then
    cat "$TRACE/bench.log" >&2
    exit 1
fi

for product in consolegate consolegate-pam; do
    # One trace per process (NAME.PID), earliest process first: the memory backend's daemon, then PostgreSQL's.
    mapfile -t traces < <(cd "$TRACE" && ls "$product".[0-9]* | sort -t. -k2 -n | sed "s#^#$TRACE/#")
    [ ${#traces[@]} -gt 0 ] || { echo "layout: no trace of $product" >&2; exit 1; }
    scripts/layout/order.py "$TRACE/bin/$product" "${traces[@]}" >"scripts/layout/$product.order"
    echo "== scripts/layout/$product.order: $(wc -l <"scripts/layout/$product.order") functions from ${#traces[@]} processes"
done

echo "== linking as the package does"
release_build .build-deb consolegate consolegate-pam >/dev/null
