#!/usr/bin/env bash
# The Debian package as a sysadmin uses it, on a booted systemd: lintian on the .deb, then a Debian 12 tree made
# with debootstrap and booted with systemd-nspawn, in which the package is installed with apt, configured
# against the AWS stand-ins on the host's loopback (the container shares the host's network), started with
# systemctl, and used through the API and `consolegate url` over the socket. Then: the journal, the privilege
# drop, `systemd-analyze security`, a `kill -9` that systemd recovers from, a clean stop, and `apt purge`
# leaving nothing behind but the logs.
#
# Usage: Tests/System/systemd_test.sh PATH/consolegate_VERSION_ARCH.deb (scripts/package-deb.sh makes it).
# Runs as root (CI: from scripts/test.sh); installs debootstrap, systemd-container and lintian if missing.
# Reuses the stand-ins when CONSOLEGATE_TEST_* are exported, otherwise starts its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEB=$(realpath "${1:?usage: $0 consolegate_VERSION_ARCH.deb}")
WORK=$(mktemp -d /tmp/consolegate-systemd-test.XXXXXX)
source Tests/lib/system_test.sh
source scripts/lib/standins.sh
PACKAGES=(debootstrap systemd-container lintian)
ROOT="$WORK/rootfs"
NSPAWN_PID="" LEADER="" OWN_STANDINS=0

# Runs a command inside the booted container, in all its namespaces.
inside() { nsenter -t "$LEADER" -a "$@"; }

boot() {
    systemd-nspawn -D "$ROOT" --boot --register=no --keep-unit --console=pipe >"$WORK/nspawn.log" 2>&1 </dev/null &
    NSPAWN_PID=$!
    for ((i = 0; i < 300; i++)); do # <= 30 s
        LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" | awk '$2 == "systemd" {print $1; exit}' || true)
        if [[ -n "$LEADER" ]] && inside systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded'; then return 0; fi
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.1
    done
    abort "the container did not boot" "$(tail -n 20 "$WORK/nspawn.log")"
}

finish() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n "$NSPAWN_PID" ]] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        ((failed > 0)) && inside journalctl -u consolegate --no-pager -n 40 2>/dev/null | sed 's/^/    | /'
        inside systemctl poweroff 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$NSPAWN_PID" 2>/dev/null
        wait "$NSPAWN_PID" 2>/dev/null
    fi
    # nspawn with --keep-unit on a host without systemd leaves its (empty) cgroups behind.
    for d in /sys/fs/cgroup/{systemd,unified}/{payload,supervisor}; do
        [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    ((OWN_STANDINS)) && stop_standins
    rm -rf "$WORK"
    report_and_exit "$status"
}
trap_finish

find_missing_packages "${PACKAGES[@]}"
((${#missing[@]} == 0)) || install_missing_packages

# ---------------------------------------------------------------- the .deb itself
if out=$(lintian --fail-on error --tag-display-limit 0 "$DEB" 2>&1); then
    pass "lintian: no errors$( [[ -n "$out" ]] && echo " ($(grep -c '^W:' <<<"$out") warnings)")"
    [[ -z "$out" ]] || sed 's/^/    | /' <<<"$out"
else
    fail "lintian found errors" "$out"
fi

# ---------------------------------------------------------------- stand-ins
if [[ -n "${CONSOLEGATE_TEST_MOTO_URL:-}" && -s "${CONSOLEGATE_TEST_FIXTURES:-}" ]] \
    && curl -s -o /dev/null --max-time 2 "$CONSOLEGATE_TEST_MOTO_URL/moto-api/"; then
    log "reusing the stand-ins at $CONSOLEGATE_TEST_MOTO_URL"
else
    log "starting the stand-ins"
    start_standins
    OWN_STANDINS=1
fi
RO_ARN=$(fixture "['roles']['ConsoleReadOnly']")

# ---------------------------------------------------------------- a Debian 12 with systemd
log "debootstrap (Debian 12, minbase)"
started=$SECONDS
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libpam-modules,libpam-runtime,man-db,curl,procps \
    bookworm "$ROOT" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || abort "debootstrap" "$(tail -n 20 "$WORK/debootstrap.log")"
pass "debootstrap: a Debian 12 tree in $((SECONDS - started)) s"
# What the tree holds before the package, to compare with after the purge.
snapshot() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp -o -path ./var/tmp -o -path ./var/log \
        -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/lib/systemd -o -path ./var/lib/man-db \
        -o -path ./etc/ld.so.cache -o -path ./root \) -prune -o -print | sort)
}
# The same tree before and after, whatever getent and adduser touch on the way (backups of passwd and group).
snapshot | grep -vE '^\./etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' >"$WORK/before.list"

started=$SECONDS
boot
pass "systemd-nspawn --boot: running in $((SECONDS - started)) s"

# ---------------------------------------------------------------- install
cp "$DEB" "$ROOT/root/"
if out=$(inside env DEBIAN_FRONTEND=noninteractive apt-get install -y "/root/$(basename "$DEB")" 2>&1); then
    pass "apt install ./$(basename "$DEB")"
else
    abort "apt install the package" "$out"
fi
VERSION=$(dpkg-deb -f "$DEB" Version)
# No Swift toolchain in the tree: the package's binaries must stand on Debian's own libraries.
libraries=$(inside ldd /usr/bin/consolegate /usr/libexec/consolegate/consolegate-pam 2>&1)
if [[ ! -e "$ROOT/opt/swift" ]] && ! grep -qE 'not found|swift' <<<"$libraries"; then
    pass "the binaries need no Swift toolchain (no /opt/swift; ldd finds only Debian's libraries)"
else
    fail "the binaries need more than Debian's libraries" "$libraries"
fi
out=$(inside consolegate --version 2>&1)
[[ "$out" == "$VERSION" ]] && pass "consolegate --version: $out" || fail "consolegate --version gave '$out', not $VERSION"
if inside man -P cat consolegate-serve 2>/dev/null | grep -q "consolegate serve"; then
    pass "man consolegate-serve"
else
    fail "man consolegate-serve" "$(inside man -P cat consolegate-serve 2>&1 | head -n 5)"
fi
listing=$(inside dpkg -L consolegate)
expected=(/usr/bin/consolegate /usr/libexec/consolegate/consolegate-pam /lib/systemd/system/consolegate.service
          /etc/pam.d/consolegate /etc/pam.d/consolegate-ldap /etc/pam.d/consolegate-otp /etc/pam.d/consolegate-stepup /etc/consolegate/config.yaml
          /usr/share/doc/consolegate/examples/sshd_config.d/consolegate.conf /usr/share/man/man1/consolegate-url.1.gz
          /usr/share/bash-completion/completions/consolegate /usr/share/zsh/vendor-completions/_consolegate
          /usr/share/fish/vendor_completions.d/consolegate.fish)
absent=$(for path in "${expected[@]}"; do grep -qxF "$path" <<<"$listing" || echo "$path"; done)
[[ -z "$absent" ]] && pass "dpkg -L lists the binaries, unit, PAM files, config, sshd example, man pages and completions" \
    || fail "dpkg -L lacks" "$absent"
modes=$(inside stat -c '%n %U:%G %a' /etc/consolegate /etc/consolegate/config.yaml /var/log/consolegate)
expected_modes=$'/etc/consolegate root:root 750\n/etc/consolegate/config.yaml root:root 640\n/var/log/consolegate consolegate:consolegate 750'
[[ "$modes" == "$expected_modes" ]] && pass "postinst: the consolegate user owns /var/log/consolegate; /etc/consolegate is root's, 0750/0640" \
    || fail "owners and modes after install" "$modes"
inside systemctl is-enabled consolegate >/dev/null 2>&1 && fail "the service is enabled before its config is filled in" \
    || pass "installing does not enable or start the service"

# ---------------------------------------------------------------- configure and start
PORT=$(free_port)
write_standin_aws_config "$WORK/config.yaml"
cat >>"$WORK/config.yaml" <<YAML
access:
  - role: $RO_ARN
    users: [alice]
listen:
  http: 127.0.0.1:$PORT
  socket: /run/consolegate/consolegate.sock
  socket_mode: "0660"
  socket_group: consolegate-users
pam:
  service: consolegate
audit:
  file: /var/log/consolegate/audit.jsonl
lockout:
  failure_floor: 100ms
YAML
install -m 0640 "$WORK/config.yaml" "$ROOT/etc/consolegate/config.yaml"
printf 'AWS_ENDPOINT_URL=%s\nAWS_ACCESS_KEY_ID=x\nAWS_SECRET_ACCESS_KEY=y\nAWS_EC2_METADATA_DISABLED=true\n' "$CONSOLEGATE_TEST_MOTO_URL" \
    | install -m 0600 /dev/stdin "$ROOT/etc/default/consolegate"
inside useradd -m -s /bin/bash -G consolegate-users alice
echo 'alice:correct-horse-battery' | inside chpasswd
# With the unit's environment, as the service will see it.
out=$(inside sh -c 'set -a; . /etc/default/consolegate; consolegate check-config /etc/consolegate/config.yaml' 2>&1) \
    && pass "consolegate check-config" || fail "consolegate check-config" "$out"

inside systemctl enable --now consolegate >/dev/null 2>&1 || fail "systemctl enable --now consolegate"
up() { [[ "$(inside curl -s -o /dev/null -w '%{http_code}' --max-time 1 --unix-socket /run/consolegate/consolegate.sock http://localhost/healthz)" == 200 ]]; }
for ((i = 0; i < 100; i++)); do up && break; sleep 0.1; done
up && pass "systemctl enable --now: /healthz answers on the socket" \
    || abort "the service did not come up" "$(inside systemctl status consolegate --no-pager 2>&1 | tail -n 20)"
main_pid() { inside systemctl show -p MainPID --value consolegate; }
PID=$(main_pid)
service_uid=$(inside id -u consolegate)
uids=$(inside sh -c "cat /proc/$PID/task/*/status" | awk '/^Uid:/ {print $2, $3, $4, $5}' | sort -u)
[[ "$uids" == "$service_uid $service_uid $service_uid $service_uid" ]] && pass "every thread of the daemon runs as consolegate" \
    || fail "the daemon's threads' uids" "$uids"
if inside journalctl -u consolegate --no-pager | grep -q "gave up root: now consolegate"; then
    pass "journal: gave up root: now consolegate"
else
    fail "journal lacks the drop" "$(inside journalctl -u consolegate --no-pager | tail -n 10)"
fi

# ---------------------------------------------------------------- use it
answer=$(curl -s --max-time 20 -H 'Content-Type: application/json' -d '{"username":"alice","password":"correct-horse-battery"}' \
    "http://127.0.0.1:$PORT/api/v1/login")
url=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("url", ""))' "$answer" 2>/dev/null || true)
[[ "$url" == "$CONSOLEGATE_TEST_FEDERATION_URL?"* ]] && pass "API login through pam_unix in the container: a sign-in URL" \
    || fail "API login" "$answer"
url=$(inside runuser -u alice -- consolegate url 2>&1 || true)
[[ "$url" == "$CONSOLEGATE_TEST_FEDERATION_URL?"* ]] && pass "consolegate url over the socket, as alice: a sign-in URL" \
    || fail "consolegate url as alice" "$url"
lines=$(inside grep -c '"outcome":"success"' /var/log/consolegate/audit.jsonl || true)
[[ "$lines" == 2 ]] && pass "audit: both sign-ins recorded" || fail "audit success lines: $lines"

score=$(inside systemd-analyze security consolegate --no-pager 2>&1 | sed -n 's/.*Overall exposure level for consolegate.service: \([0-9.]*\).*/\1/p')
if [[ -n "$score" ]] && python3 -c 'import sys; sys.exit(float(sys.argv[1]) >= 2.8)' "$score"; then
    pass "systemd-analyze security consolegate: $score (below the 2.8 of the root daemon)"
else
    fail "systemd-analyze security consolegate: '$score'"
fi

# ---------------------------------------------------------------- failure and stop
inside kill -9 "$PID"
for ((i = 0; i < 100; i++)); do
    new=$(main_pid)
    [[ "$new" != 0 && "$new" != "$PID" ]] && up && break
    sleep 0.1
done
[[ "$new" != 0 && "$new" != "$PID" ]] && up && pass "kill -9 of the daemon: systemd restarted it (pid $PID, then $new)" \
    || fail "no restart after kill -9" "$(inside systemctl status consolegate --no-pager 2>&1 | tail -n 15)"
inside systemctl stop consolegate
state="$(inside systemctl show -p ActiveState --value consolegate) $(inside systemctl show -p Result --value consolegate)"
[[ "$state" == "inactive success" ]] && pass "systemctl stop: inactive, result success" || fail "after stop: $state"
if inside journalctl -u consolegate --no-pager | grep -q '"level":"critical"'; then
    fail "a critical line in the journal" "$(inside journalctl -u consolegate --no-pager | grep '"level":"critical"')"
else
    pass "no critical line in the journal across start, kill -9 and stop"
fi

# ---------------------------------------------------------------- purge
out=$(inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y consolegate 2>&1) && pass "apt purge consolegate" || fail "apt purge" "$out"
inside getent passwd consolegate >/dev/null && fail "the consolegate user is still there after purge" || pass "purge removed the consolegate user"
# What the test itself added, as the operator would have.
inside userdel -r alice >/dev/null 2>&1
rm -f "$ROOT/etc/default/consolegate"
snapshot | grep -vE '^\./etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' >"$WORK/after.list"
left=$(comm -13 "$WORK/before.list" "$WORK/after.list")
[[ -z "$left" ]] && pass "apt purge leaves nothing behind outside /var/log" || fail "left behind after purge" "$left"
[[ -d "$ROOT/var/log/consolegate" ]] && pass "the audit logs stay" || fail "purge removed /var/log/consolegate"
