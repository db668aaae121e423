#!/usr/bin/env bash
# Benchmarks `consolegate serve` (release build) as a whole: JSON logins over HTTP at 64 concurrent clients
# through a pam_permit stack and a cognito-developer mint, and prints per login the CPU of the daemon, of the
# PAM monitor and of its workers, the throughput and p50/p99 latency, and the idle RSS of both processes,
# beside the targets. Then one login at a time with the shared state in PostgreSQL (its p50 may be at most
# 2 ms above the memory backend's), and the same logins with state and audit in PostgreSQL (one replica), and
# through HAProxy to three such replicas: logins per second, p50 and p99 for each. Nothing leaves this machine.
#
#   scripts/bench.sh                    # builds as the package does (.build-deb), 500 warm-up + 5000 logins
#   CONSOLEGATE_BUILD_DIR=.build-deb/release BENCH_LOGINS=20000 scripts/bench.sh
#   BENCH_PRELOAD=/path/lib.so scripts/bench.sh   # every daemon runs with LD_PRELOAD (scripts/layout.sh)
#
# AWS is played by nginx with canned answers (Cognito, STS, the federation endpoint): it answers in
# microseconds for next to no CPU, where moto's own latency and CPU (tens of ms per call) would hide ours.
# PAM (pam_permit) and the bench user come from /etc/pam.d, /etc/passwd and /etc/group of the bench's own,
# bind-mounted in a private mount namespace: nothing on the host changes, and libpam and NSS work as in
# production. Not pam_wrapper and nss_wrapper: pam_wrapper sets itself up again in every forked PAM worker
# (a /tmp/pam.X each, out of 62 names; extra worker CPU) and concurrent workers race for those folders and
# lose their PAM config (PAM_PERM_DENIED); nss_wrapper's getgrouplist fails now and then under threads.
# Needs root, for the namespace and because the daemon starts as in production: as root, then it becomes the
# consolegate user (scripts/install-deps.sh creates it) and its PAM monitor stays root. nginx runs as nobody.
# The load generator is ab (apache2-utils).
# It measures and reports; it exits non-zero only when the setup fails or a login fails, not on a missed target.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
source scripts/lib/standins.sh   # free_port, wait_for_url
source scripts/lib/postgres.sh   # start_postgres, stop_postgres

LOGINS=${BENCH_LOGINS:-5000}
WARMUP=${BENCH_WARMUP:-500}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
for n in "$LOGINS" "$WARMUP" "$CONCURRENCY"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_LOGINS, BENCH_WARMUP, BENCH_CONCURRENCY must be positive integers" >&2; exit 2; }
done
# One user logs in throughout, and lockout.per_user_in_flight is at most 100.
[ "$CONCURRENCY" -le 100 ] || { echo "bench: BENCH_CONCURRENCY is at most 100" >&2; exit 2; }

fail() { echo "bench: $*" >&2; exit 1; }
[ "$EUID" -eq 0 ] || fail "run as root (a private mount namespace gives the daemon the bench's own /etc/pam.d, passwd, group)"
BENCH_USER=cgbench
! getent passwd "$BENCH_USER" >/dev/null || fail "user $BENCH_USER exists on this host; the bench adds its own"

# --- tools --------------------------------------------------------------------------------------------
missing=()
for package in nginx apache2-utils curl jq postgresql haproxy; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -n "${CONSOLEGATE_BUILD_DIR:-}" ]; then
    BUILD_DIR=$CONSOLEGATE_BUILD_DIR
else
    echo "== building consolegate and consolegate-pam as the package ships them (scripts/lib/release-build.sh)"
    source scripts/lib/release-build.sh
    BUILD_DIR=$(release_build .build-deb consolegate consolegate-pam)
fi
for binary in consolegate consolegate-pam; do
    [ -x "$BUILD_DIR/$binary" ] || fail "no $BUILD_DIR/$binary (set CONSOLEGATE_BUILD_DIR to the folder of a release build)"
done

# --- a private folder; the daemon's audit directory belongs to the user it becomes -------------------------
WORK=$(mktemp -d /tmp/consolegate-bench.XXXXXX)
PIDS=()
running() { local state; state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1); [ -n "$state" ] && [ "$state" != Z ]; }
cleanup() {   # SIGTERM, up to 5 s to end, then SIGKILL; the monitor ends with the daemon
    local pid left
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        left=0
        for pid in "${PIDS[@]}"; do if running "$pid"; then left=1; fi; done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    stop_postgres
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

getent passwd consolegate >/dev/null || fail "no consolegate user, whom the daemon becomes (scripts/install-deps.sh creates it)"
RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
# The daemon finds its monitor beside its own binary; copies also work where the build folder is private.
mkdir -p "$WORK/bin" "$WORK/etc/pam.d" "$WORK/nginx" "$WORK/audit"
cp "$BUILD_DIR/consolegate" "$BUILD_DIR/consolegate-pam" "$WORK/bin/"

NGINX_PORT=$(free_port)
UPSTREAM="http://127.0.0.1:$NGINX_PORT"

# --- AWS stand-in: nginx with canned answers, shaped as the real ones (and about as long) ---------------
pad() { local s=""; for _ in $(seq "$2"); do s+=$1; done; printf '%s' "$s"; }
JWT="eyJraWQiOiJ1cy1lYXN0LTEtNiIsInR5cCI6IkpXUyIsImFsZyI6IlJTNTEyIn0.$(pad eyJzdWIiOiJ1cy1lYXN0LTE6YmVuY2gi 16).$(pad c2lnbmF0dXJl 28)"
SESSION_TOKEN="IQoJb3JpZ2luX2VjE$(pad FwoGZXIvYXdzEBYaDEXAMPLETOKEN 28)"
SIGNIN_TOKEN=$(pad Y29uc29sZWdhdGUtYmVuY2gtc2lnbmluLXRva2Vu 14)
IDENTITY="us-east-1:0d2a6c5e-5a4e-4b1e-9c3f-3d1f2a7b9e10"
ROLE="arn:aws:iam::123456789012:role/ConsoleReadOnly"
cat >"$WORK/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /healthz { return 204; }
        # AWS_ENDPOINT_URL_COGNITO_IDENTITY: JSON 1.1, one operation.
        location = /cognito-identity {
            default_type application/x-amz-json-1.1;
            if (\$http_x_amz_target != "AWSCognitoIdentityService.GetOpenIdTokenForDeveloperIdentity") {
                return 400 '{"__type":"UnknownOperationException"}';
            }
            return 200 '{"IdentityId":"$IDENTITY","Token":"$JWT"}';
        }
        # AWS_ENDPOINT_URL_STS: the Query answer to AssumeRoleWithWebIdentity.
        location = /sts {
            default_type text/xml;
            return 200 '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>$IDENTITY</SubjectFromWebIdentityToken>
    <Audience>us-east-1:5b1c2d3e-0000-4000-8000-00000000beef</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/ConsoleReadOnly/cgbench</Arn>
      <AssumedRoleId>AROAEXAMPLEROLEID0001:cgbench</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLEBENCH0001</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>
      <SessionToken>$SESSION_TOKEN</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <Provider>cognito-identity.amazonaws.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
';
        }
        # aws.signin_endpoint: getSigninToken (the daemon POSTs it).
        location = /federation {
            default_type application/json;
            return 200 '{"SigninToken":"$SIGNIN_TOKEN"}';
        }
    }
}
NGINX

# --- what the daemon's namespace sees in /etc; the daemon's config ---------------------------------------
printf 'auth required pam_permit.so\naccount required pam_permit.so\n' >"$WORK/etc/pam.d/consolegate-bench"
{ cat /etc/passwd; echo "$BENCH_USER:x:59999:59999:ConsoleGate bench:/nonexistent:/usr/sbin/nologin"; } >"$WORK/etc/passwd"
{ cat /etc/group; echo "$BENCH_USER:x:59999:"; echo "consolegate-bench:x:59998:$BENCH_USER"; } >"$WORK/etc/group"
printf '{"username":"%s","password":"bench-password"}' "$BENCH_USER" >"$WORK/login.json"
# Defaults except for the lockout: every login is the same user from the same address, and each one in flight
# counts as a possible guess (per_user, per_address) as well as in flight.
cat >"$WORK/config.yaml" <<YAML
aws:
  region: us-east-1
  strategy: cognito-developer
  cognito:
    identity_pool_id: us-east-1:5b1c2d3e-0000-4000-8000-00000000beef
    developer_provider: login.consolegate.bench
  signin_endpoint: $UPSTREAM/federation
  issuer: https://consolegate.example.org/
access:
  - role: $ROLE
    groups: [consolegate-bench]
listen:
  http: 127.0.0.1:0
  metrics: 127.0.0.1:0
pam:
  service: consolegate-bench
audit:
  file: $WORK/audit/audit.jsonl
lockout:
  per_user: 100
  per_user_in_flight: 100
  per_address: 1000
  per_address_in_flight: 1000
YAML
chown -R nobody:nogroup "$WORK/nginx"
chown consolegate: "$WORK/audit"
chmod 0755 "$WORK"

# --- start ------------------------------------------------------------------------------------------------
echo "== starting nginx (the AWS stand-in) on $UPSTREAM"
"${RUN_AS[@]}" nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx.conf" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for_url "$UPSTREAM/healthz" || { cat "$WORK/nginx/error.log" >&2; fail "nginx did not start"; }

# start_gateway CONFIG HOST LOG: `serve` in a private mount namespace with the bench's /etc; sets DAEMON_PID,
# API_PORT and METRICS_PORT once both listeners have logged their ports (at most 30 s).
start_gateway() {
    local config=$1 host=$2 log=$3
    # unshare, sh and env each exec the next: $! is the daemon.
    unshare --mount --propagation private sh -c \
        'for f in pam.d passwd group; do mount --bind "$0/$f" "/etc/$f" || exit 1; done; exec "$@"' "$WORK/etc" \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" ${BENCH_PRELOAD:+LD_PRELOAD="$BENCH_PRELOAD"} \
        AWS_ENDPOINT_URL_COGNITO_IDENTITY="$UPSTREAM/cognito-identity" AWS_ENDPOINT_URL_STS="$UPSTREAM/sts" \
        AWS_ACCESS_KEY_ID=bench-broker-key-id AWS_SECRET_ACCESS_KEY=bench-broker-secret \
        "$WORK/bin/consolegate" serve --config "$config" >/dev/null 2>"$log" &
    DAEMON_PID=$!
    PIDS=("$DAEMON_PID" "${PIDS[@]}")
    API_PORT="" METRICS_PORT=""
    local pattern="listening on ${host//./\\.}:[0-9]*"
    for _ in $(seq 300); do
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log" >&2; fail "consolegate serve exited during start-up"; }
        API_PORT=$(grep -v '"listener":"metrics"' "$log" | grep -o "$pattern" | head -1 | cut -d: -f2 || true)
        METRICS_PORT=$(grep '"listener":"metrics"' "$log" | grep -o "$pattern" | head -1 | cut -d: -f2 || true)
        [ -n "$API_PORT" ] && [ -n "$METRICS_PORT" ] && break
        sleep 0.1
    done
    [ -n "$API_PORT" ] && [ -n "$METRICS_PORT" ] || { cat "$log" >&2; fail "consolegate serve did not say where it listens within 30 s"; }
    # With PostgreSQL, ready once the schema is current and the database answers.
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$host:$API_PORT/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    cat "$log" >&2
    fail "consolegate serve on $host did not turn healthy within 30 s"
}

echo "== starting consolegate serve"
start_gateway "$WORK/config.yaml" 127.0.0.1 "$WORK/daemon.log"
MONITOR_PID=$(pgrep -P "$DAEMON_PID" -x consolegate-pam || true)
[ -n "$MONITOR_PID" ] || fail "no consolegate-pam monitor under the daemon (pid $DAEMON_PID)"
LOGIN_URL="http://127.0.0.1:$API_PORT/api/v1/login"

# --- one login must give a sign-in URL --------------------------------------------------------------------
answer=$(curl -sS --max-time 10 -H 'Content-Type: application/json' --data-binary @"$WORK/login.json" "$LOGIN_URL") || answer="(no answer)"
if ! jq -e --arg prefix "$UPSTREAM/federation?Action=login&" --arg token "$SIGNIN_TOKEN" \
        '(.url | startswith($prefix)) and (.url | contains("SigninToken=" + $token))' <<<"$answer" >/dev/null 2>&1; then
    echo "answer: $answer" >&2
    tail -n 20 "$WORK/daemon.log" "$WORK/nginx/error.log" >&2
    fail "a login through the daemon did not return a sign-in URL"
fi
echo "== one login returned a sign-in URL"

rss_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }   # rss_kib PID VmRSS|RssAnon
DAEMON_RSS=$(rss_kib "$DAEMON_PID" VmRSS) DAEMON_ANON=$(rss_kib "$DAEMON_PID" RssAnon)
MONITOR_RSS=$(rss_kib "$MONITOR_PID" VmRSS) MONITOR_ANON=$(rss_kib "$MONITOR_PID" RssAnon)

# utime stime cutime cstime (clock ticks) of a process; the fields after "(comm)".
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13, $14, $15 }'; }
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }   # the whole machine

# ab's report: a latency percentile, the mean time per request, logins per second.
percentile() { awk -v p="$1%" '$1 == p { print $2 }' "$2"; }
# ab's -e table has the percentiles in fractions of a millisecond (its report rounds them to whole ones).
median_ms() { awk -F, '$1 == 50 { print $2 }' "$1.csv"; }
throughput() { awk '/^Requests per second:/ { printf "%.0f", $4 }' "$1"; }

# One connection per login, as a CLI client makes (ab speaks HTTP/1.0 without keep-alive).
run_ab() {   # run_ab N OUTPUT [CONCURRENCY [URL]]: N logins; fails unless every answer was a 2xx
    ab -q -n "$1" -c "${3:-$CONCURRENCY}" -s 30 -e "$2.csv" -p "$WORK/login.json" -T application/json "${4:-$LOGIN_URL}" >"$2" 2>&1 \
        || { cat "$2" >&2; fail "ab failed"; }
    local complete bad non2xx
    complete=$(awk '/^Complete requests:/ { print $3 }' "$2")
    # ab counts answers whose length differs from the first as failed; only connect/receive/exceptions count.
    bad=$(sed -n 's/^   (Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\))$/\1 \2 \3/p' "$2" | awk '{ print $1 + $2 + $3 }')
    non2xx=$(awk '/^Non-2xx responses:/ { print $3 }' "$2")
    [ "$complete" = "$1" ] && [ "${bad:-0}" = 0 ] && [ -z "$non2xx" ] \
        || { cat "$2" >&2; grep -hv '"outcome":"success"' "$WORK"/audit*/audit.jsonl | head -n 3 >&2; fail "not every login succeeded (complete $complete of $1, non-2xx ${non2xx:-0}, errors ${bad:-0})"; }
}

echo "== warm-up: $WARMUP logins, $CONCURRENCY at a time"
run_ab "$WARMUP" "$WORK/ab-warmup.txt"

echo "== measuring: $LOGINS logins, $CONCURRENCY at a time"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" -x nginx | head -1)
read -r d_ut d_st _ _ < <(cpu_ticks "$DAEMON_PID")
read -r m_ut m_st m_cut m_cst < <(cpu_ticks "$MONITOR_PID")
read -r n_ut n_st _ _ < <(cpu_ticks "$NGINX_WORKER")
busy=$(busy_ticks)
TIMEFORMAT='%U %S'
{ time run_ab "$LOGINS" "$WORK/ab.txt" 2>&3; } 3>&2 2>"$WORK/ab-cpu.txt"   # ab's own CPU, for context
read -r d_ut2 d_st2 _ _ < <(cpu_ticks "$DAEMON_PID")
read -r m_ut2 m_st2 m_cut2 m_cst2 < <(cpu_ticks "$MONITOR_PID")
read -r n_ut2 n_st2 _ _ < <(cpu_ticks "$NGINX_WORKER")
busy2=$(busy_ticks)

# The daemon's own count of successful logins must match: one check login, the warm-up and the run.
expected=$((1 + WARMUP + LOGINS))
successes=$(curl -sS --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics" \
    | awk '/^consolegate_logins_total\{/ && /outcome="success"/ { sum += $NF } END { print sum + 0 }')
[ "$successes" = "$expected" ] || fail "the daemon counted $successes successful logins, not $expected"

# --- report -----------------------------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
per_login() { awk -v t="$1" -v hz="$HZ" -v n="$LOGINS" 'BEGIN { printf "%.3f", t * 1000 / hz / n }'; }
daemon_ms=$(per_login $((d_ut2 + d_st2 - d_ut - d_st)))
monitor_ms=$(per_login $((m_ut2 + m_st2 - m_ut - m_st)))
worker_ms=$(per_login $((m_cut2 + m_cst2 - m_cut - m_cst)))
pam_ms=$(awk -v a="$monitor_ms" -v b="$worker_ms" 'BEGIN { printf "%.3f", a + b }')
total_ms=$(awk -v a="$daemon_ms" -v b="$pam_ms" 'BEGIN { printf "%.3f", a + b }')
nginx_ms=$(per_login $((n_ut2 + n_st2 - n_ut - n_st)))
ab_ms=$(awk -v n="$LOGINS" '{ printf "%.3f", ($1 + $2) * 1000 / n }' "$WORK/ab-cpu.txt")
rps=$(throughput "$WORK/ab.txt")
p50=$(percentile 50 "$WORK/ab.txt")
p99=$(percentile 99 "$WORK/ab.txt")
# What the rest of the machine used meanwhile (other users' builds make every number worse).
elapsed=$(awk '/^Time taken for tests:/ { print $5 }' "$WORK/ab.txt")
others=$(awk -v b="$((busy2 - busy))" -v ours="$((d_ut2 + d_st2 - d_ut - d_st + m_ut2 + m_st2 - m_ut - m_st + m_cut2 + m_cst2 - m_cut - m_cst + n_ut2 + n_st2 - n_ut - n_st))" \
    -v ab="$(awk '{ print $1 + $2 }' "$WORK/ab-cpu.txt")" -v hz="$HZ" -v t="$elapsed" -v cores="$(nproc)" \
    'BEGIN { o = (b - ours - ab * hz) / (t * hz * cores) * 100; printf "%.0f", (o < 0 ? 0 : o) }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

row() {   # row LABEL VALUE UNIT [<=|>= TARGET]
    local verdict=""
    if [ -n "${4:-}" ]; then
        if awk -v v="$2" -v t="$5" -v op="$4" 'BEGIN { exit !(op == "<=" ? v <= t : v >= t) }'; then verdict="ok"; else verdict="MISSED"; fi
    fi
    printf '%-42s %10s %-9s %-12s %s\n' "$1" "$2" "$3" "${4:+$4 $5}" "$verdict"
}
echo
printf '%-42s %10s %-9s %-12s %s\n' "measure" "value" "unit" "target" ""
printf '%.0s-' {1..82}; echo
row "CPU per login: daemon" "$daemon_ms" "ms"
row "CPU per login: PAM monitor" "$monitor_ms" "ms"
row "CPU per login: PAM workers" "$worker_ms" "ms" "<=" 1
row "CPU per login: gateway total" "$total_ms" "ms" "<=" 4
row "logins per second ($CONCURRENCY clients)" "$rps" "/s" ">=" 400
row "latency p50" "$p50" "ms"
row "latency p99" "$p99" "ms"
row "idle RSS: daemon" "$(mib "$DAEMON_RSS")" "MiB" "<=" 25
row "  of which anonymous (not file-backed)" "$(mib "$DAEMON_ANON")" "MiB"
row "idle RSS: PAM monitor" "$(mib "$MONITOR_RSS")" "MiB" "<=" 4
row "  of which anonymous (not file-backed)" "$(mib "$MONITOR_ANON")" "MiB"
echo
echo "$LOGINS logins after $WARMUP warm-up, $CONCURRENCY concurrent, one connection each; all answered 200 and the"
echo "daemon counted them as successes. CPU from /proc/PID/stat (${HZ} Hz ticks): gateway total = daemon + monitor"
echo "+ workers (the monitor's reaped children). Idle RSS after start-up and one login. Also per login: ab ${ab_ms} ms,"
echo "nginx ${nginx_ms} ms. Other processes used ${others}% of this $(nproc)-core machine during the run (0 = it was idle)."

# --- the shared state: one replica on PostgreSQL, then three behind HAProxy ---------------------------------
SERIAL=${BENCH_SERIAL_LOGINS:-500}

echo
echo "== one login at a time, memory backend: $SERIAL logins"
run_ab "$SERIAL" "$WORK/ab-serial-memory.txt" 1
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true

echo "== starting PostgreSQL (a throwaway cluster)"
start_postgres
PG_ROLE_PASSWORD=$(openssl rand -hex 16)
PGPASSWORD=$CONSOLEGATE_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$CONSOLEGATE_TEST_PG_PORT" -U postgres \
    -c "CREATE ROLE gateway LOGIN PASSWORD '$PG_ROLE_PASSWORD'" -c "CREATE DATABASE gateway OWNER gateway" >/dev/null
printf '%s\n' "$PG_ROLE_PASSWORD" >"$WORK/pgpassword"
openssl rand -base64 48 >"$WORK/device-keys"
chmod 0600 "$WORK/pgpassword" "$WORK/device-keys"

# replica_config N [audit]: config N on 127.0.0.N with the state in PostgreSQL, and the audit there too.
replica_config() {
    mkdir -p "$WORK/audit$1"
    chown consolegate: "$WORK/audit$1"
    sed -e "s#127.0.0.1:0#127.0.0.$1:0#" -e "s#$WORK/audit/#$WORK/audit$1/#" "$WORK/config.yaml" >"$WORK/config$1.yaml"
    cat >>"$WORK/config$1.yaml" <<YAML
  device_key_file: $WORK/device-keys
state:
  backend: postgres
  postgres:
    url: postgres://gateway@127.0.0.1:$CONSOLEGATE_TEST_PG_PORT/gateway?sslmode=disable
    password_file: $WORK/pgpassword
YAML
    [ "${2:-}" != audit ] || sed -i 's#^  file: \(.*\)$#  file: \1\n  postgres: true#' "$WORK/config$1.yaml"
}

echo "== the state alone in PostgreSQL (the audit in its file, as with memory): $SERIAL logins one at a time"
replica_config 5
start_gateway "$WORK/config5.yaml" 127.0.0.5 "$WORK/daemon5.log"
STATE_URL="http://127.0.0.5:$API_PORT/api/v1/login"
run_ab "$WARMUP" "$WORK/ab-warmup-state.txt" 1 "$STATE_URL"
run_ab "$SERIAL" "$WORK/ab-serial-state.txt" 1 "$STATE_URL"
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true

echo "== three replicas with state and audit in PostgreSQL"
for replica in 2 3 4; do
    replica_config "$replica" audit
    start_gateway "$WORK/config$replica.yaml" "127.0.0.$replica" "$WORK/daemon$replica.log"
    eval "REPLICA_PORT_$replica=$API_PORT"
done
PG_URL="http://127.0.0.2:$REPLICA_PORT_2/api/v1/login"

# One at a time first: after thousands of logins the database is busy for a while (autovacuum of the audit
# table, a checkpoint), which would be measured too.
echo "== one replica on PostgreSQL: warm-up, $SERIAL logins one at a time, then $LOGINS at $CONCURRENCY"
run_ab "$WARMUP" "$WORK/ab-warmup-pg.txt" "$CONCURRENCY" "$PG_URL"
run_ab "$SERIAL" "$WORK/ab-serial-pg.txt" 1 "$PG_URL"
run_ab "$LOGINS" "$WORK/ab-pg.txt" "$CONCURRENCY" "$PG_URL"

HAPROXY_PORT=$(free_port)
cat >"$WORK/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option httpchk GET /healthz
    default-server inter 1s fall 2 rise 2
frontend gateway
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend replicas
backend replicas
    balance roundrobin
    server r2 127.0.0.2:$REPLICA_PORT_2 check
    server r3 127.0.0.3:$REPLICA_PORT_3 check
    server r4 127.0.0.4:$REPLICA_PORT_4 check
CFG
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=("$!")
HA_URL="http://127.0.0.1:$HAPROXY_PORT/api/v1/login"
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HAPROXY_PORT/healthz")" = 200 ] && break
    sleep 0.1
done
echo "== three replicas behind HAProxy: warm-up, $LOGINS logins at $CONCURRENCY"
run_ab "$WARMUP" "$WORK/ab-warmup-ha.txt" "$CONCURRENCY" "$HA_URL"
run_ab "$LOGINS" "$WORK/ab-ha.txt" "$CONCURRENCY" "$HA_URL"

added() { awk -v a="$(median_ms "$1")" -v b="$(median_ms "$WORK/ab-serial-memory.txt")" 'BEGIN { printf "%.2f", a - b }'; }
echo
printf '%-42s %10s %10s %10s\n' "state" "logins/s" "p50 ms" "p99 ms"
printf '%.0s-' {1..76}; echo
printf '%-42s %10s %10s %10s\n' "memory, one replica ($CONCURRENCY clients)" "$(throughput "$WORK/ab.txt")" "$(percentile 50 "$WORK/ab.txt")" "$(percentile 99 "$WORK/ab.txt")"
printf '%-42s %10s %10s %10s\n' "PostgreSQL, one replica ($CONCURRENCY clients)" "$(throughput "$WORK/ab-pg.txt")" "$(percentile 50 "$WORK/ab-pg.txt")" "$(percentile 99 "$WORK/ab-pg.txt")"
printf '%-42s %10s %10s %10s\n' "PostgreSQL, 3 replicas + HAProxy ($CONCURRENCY)" "$(throughput "$WORK/ab-ha.txt")" "$(percentile 50 "$WORK/ab-ha.txt")" "$(percentile 99 "$WORK/ab-ha.txt")"
echo
row "one at a time, p50: memory" "$(median_ms "$WORK/ab-serial-memory.txt")" "ms"
row "one at a time, p50: state in PostgreSQL" "$(median_ms "$WORK/ab-serial-state.txt")" "ms"
row "  added by the PostgreSQL state" "$(added "$WORK/ab-serial-state.txt")" "ms" "<=" 2
row "one at a time, p50: state and audit in PG" "$(median_ms "$WORK/ab-serial-pg.txt")" "ms"
row "  added by state and audit in PostgreSQL" "$(added "$WORK/ab-serial-pg.txt")" "ms"
echo
echo "The PostgreSQL state adds two round trips to a login: admit before PAM, and finish, which runs while AWS is"
echo "asked. The audit in PostgreSQL adds two more, each committed before the login goes on: the minting row before"
echo "AWS is asked, the outcome row before the answer. Three replicas share this machine's two cores with"
echo "PostgreSQL, HAProxy, nginx and ab, so their throughput shows the overhead of the balancer, not a scale-out."
