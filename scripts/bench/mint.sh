#!/usr/bin/env bash
# Benchmarks `consolegate mint` (release build) against the same cognito-developer flow in Python/boto3
# (scripts/bench/mint_boto3.py), each as a whole process, against the local stand-ins. Nothing leaves this machine.
#
#   scripts/bench/mint.sh       # 20 measured runs per tool, after 2 warm-up runs
#   BENCH_RUNS=50 scripts/bench/mint.sh
#
# Per tool: median wall time, median CPU time (user+sys) and peak RSS over the measured runs, read with
# wait4(2) so each number belongs to that one child process. Every run must exit 0 and print a URL.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${BENCH_RUNS:-20}
WARMUPS=2
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_RUNS must be a positive integer, not '$RUNS'" >&2; exit 2; }

scripts/install-deps.sh
source scripts/lib/standins.sh
trap stop_standins EXIT

echo "== building consolegate (release)"
# Quiet unless it fails; an up-to-date .build/release is reused and takes seconds.
build_log=$(mktemp)
if ! swift build -c release --product consolegate >"$build_log" 2>&1; then
    cat "$build_log" >&2
    rm -f "$build_log"
    exit 1
fi
rm -f "$build_log"
BIN="$PWD/.build/release/consolegate"

echo "== starting the AWS stand-ins (moto_server, federation endpoint)"
start_standins
PROVIDER=$(fixture "['developer_provider']")
POOL_ID=$(fixture "['identity_pool_id']")
ROLE=$(fixture "['roles']['ConsoleReadOnly']")

CONFIG="$STANDINS_DIR/consolegate.yaml"
write_standin_aws_config "$CONFIG"
cat >>"$CONFIG" <<YAML
access:
  - role: $ROLE
    users: [alice]
YAML

# moto accepts any broker keys; both tools read them from the environment.
export AWS_ENDPOINT_URL="$CONSOLEGATE_TEST_MOTO_URL" AWS_ACCESS_KEY_ID=demo-broker AWS_SECRET_ACCESS_KEY=demo-secret
export AWS_DEFAULT_REGION=us-east-1

CONSOLEGATE_CMD=("$BIN" mint --config "$CONFIG" --user alice --format json)
BOTO3_CMD=(python3 scripts/bench/mint_boto3.py --endpoint-url "$CONSOLEGATE_TEST_MOTO_URL"
    --federation-url "$CONSOLEGATE_TEST_FEDERATION_URL" --identity-pool-id "$POOL_ID"
    --developer-provider "$PROVIDER" --role-arn "$ROLE" --user alice)

echo "== measuring: $WARMUPS warm-up + $RUNS measured runs per tool"
# Arguments: RUNS WARMUPS, then per tool "LABEL OUTPUT-KIND COMMAND..." with the tools separated by ":::".
python3 - "$RUNS" "$WARMUPS" \
    "consolegate mint (release)" json "${CONSOLEGATE_CMD[@]}" ::: \
    "python3 + boto3" url "${BOTO3_CMD[@]}" <<'PY'
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

runs, warmups = int(sys.argv[1]), int(sys.argv[2])
federation_url = os.environ["CONSOLEGATE_TEST_FEDERATION_URL"]
login_prefix = federation_url + "?Action=login&"

tools, group = [], []
for arg in sys.argv[3:] + [":::"]:
    if arg == ":::":
        tools.append({"label": group[0], "kind": group[1], "cmd": group[2:], "samples": [], "last_url": None})
        group = []
    else:
        group.append(arg)


def measure(cmd):
    """Runs cmd to completion; returns (exit code, stdout, stderr, wall s, cpu s, peak RSS KiB)."""
    # Output goes to files, not pipes, so the child never blocks on a full pipe while we sit in wait4.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        # wait4, not Popen.wait: its rusage covers this child alone, not every child we ever reaped.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def fail(tool, why, stdout="", stderr=""):
    sys.stderr.write(f"bench: {tool['label']}: {why}\n  command: {' '.join(tool['cmd'])}\n")
    sys.stderr.write(f"  stdout: {stdout.strip()!r}\n  stderr: {stderr.strip()!r}\n")
    sys.exit(1)


def url_from(tool, stdout):
    if tool["kind"] == "json":
        try:
            return json.loads(stdout)["url"]
        except (ValueError, KeyError, TypeError):
            return None
    return stdout.strip()


# Rounds interleave the tools so that drift (moto's state growing, other load) touches both alike.
for round_no in range(warmups + runs):
    for tool in tools:
        code, stdout, stderr, wall, cpu, rss = measure(tool["cmd"])
        if code != 0:
            fail(tool, f"run {round_no + 1} exited {code}", stdout, stderr)
        url = url_from(tool, stdout)
        if not url or not url.startswith(login_prefix) or "SigninToken=" not in url:
            fail(tool, f"run {round_no + 1} printed no sign-in URL", stdout, stderr)
        tool["last_url"] = url
        if round_no >= warmups:
            tool["samples"].append((wall, cpu, rss))

# Redeem each tool's last URL once (untimed): both flows must yield a working sign-in for alice's role.
for tool in tools:
    target = urllib.parse.urlsplit(tool["last_url"])
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    conn.request("GET", f"{target.path}?{target.query}")
    response = conn.getresponse()
    principal = response.getheader("X-Standin-Principal", "")
    conn.close()
    if response.status != 302 or not principal.endswith("/alice"):
        fail(tool, f"its URL did not sign in alice (HTTP {response.status}, principal {principal!r})")

# The spawning process's resident pages count towards a child's ru_maxrss (exec keeps the pre-exec peak),
# so a peak at or below this floor says only "at most the floor". Measured last, when the harness is largest.
floor_kib = measure(["/bin/true"])[5]

header = ("tool", "runs", "median wall ms", "median CPU ms", "peak RSS MiB")
rows = [header]
for tool in tools:
    walls, cpus, rsss = zip(*tool["samples"])
    peak = max(rsss)
    rows.append((tool["label"], str(len(walls)), f"{statistics.median(walls) * 1000:.1f}",
                 f"{statistics.median(cpus) * 1000:.1f}",
                 f"{peak / 1024:.1f}" + (" (floor)" if peak <= floor_kib else "")))
widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
for n, row in enumerate(rows):
    cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
    print(" | ".join(cells).rstrip())
    if n == 0:
        print("-+-".join("-" * width for width in widths))
print(f"\nCPU = user + sys of the process itself; peaks above {floor_kib / 1024:.1f} MiB (the floor\n"
      "a /bin/true reads, inherited from the spawning process) are the tool's own.")
print("Every run exited 0 and printed a sign-in URL; each tool's last URL signed alice in at the stand-in.")
PY
