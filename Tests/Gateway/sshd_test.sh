#!/usr/bin/env bash
# End-to-end test of the SSH front door: a real sshd whose ForceCommand is `consolegate url`, talking over the
# daemon's Unix socket to `consolegate serve`, which mints through the local AWS stand-ins.
#
#   ssh user@127.0.0.1 [url --role ARN ...] -> sshd (own port, own host key, UsePAM no, key login)
#     -> ForceCommand: $CONSOLEGATE_BIN url --socket SOCK (options from SSH_ORIGINAL_COMMAND)
#     -> consolegate serve: SO_PEERCRED uid -> user name -> PAM account check (/etc/pam.d/<throwaway>, a copy
#        of pam/consolegate) -> access rules (NSS groups) -> mint -> the sign-in URL on stdout
#
# sshd uses the shipped deploy/sshd_config.d/consolegate.conf, included at the top of its config as in
# Debian's sshd_config, with the group and the binary path replaced.
#
# Runs as root (CI: from scripts/test.sh). Installs openssh-server/openssh-client if missing. Reuses the
# stand-ins when the caller exported CONSOLEGATE_TEST_MOTO_URL, CONSOLEGATE_TEST_FEDERATION_URL and
# CONSOLEGATE_TEST_FIXTURES; otherwise starts its own (scripts/lib/standins.sh). Creates throwaway users,
# groups and /etc/pam.d/consolegate-sshtest-*. An EXIT trap removes them and stops everything it started,
# also on failure. The last check verifies the cleanup. Last line: "N passed, M failed". Exit status is
# non-zero on failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN="${CONSOLEGATE_BIN:-$ROOT/.build/debug/consolegate}"
PAM_SRC="$ROOT/pam/consolegate"
SNIPPET_SRC="$ROOT/deploy/sshd_config.d/consolegate.conf"
PACKAGES=(openssh-server openssh-client)

source "$ROOT/Tests/lib/system_test.sh"

if [[ $EUID -ne 0 ]]; then
    echo "sshd_test.sh must run as root (it creates users, groups and /etc/pam.d/consolegate-sshtest-*)"
    echo "0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d /tmp/consolegate-sshd-test.XXXXXX)
chmod 0755 "$WORK" # the test users reach their keys, homes and the socket through it
TAG="cgs$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
U1="${TAG}u1" U2="${TAG}u2" U3="${TAG}u3"
G_ADMIN="${TAG}adm" G_RO="${TAG}ro" G_SOCK="${TAG}sock"
SERVICE="consolegate-sshtest-$TAG"
PAM_DST="/etc/pam.d/$SERVICE"
SOCK="$WORK/run/consolegate.sock"
CREATED_USERS=() CREATED_GROUPS=()
SSHD_PID="" SERVE_PID="" OWN_STANDINS=0 CREATED_RUN_SSHD=0 TOUCHED_PAM=0

show_logs() {
    local f
    for f in serve.log sshd.log; do
        [[ -s "$WORK/$f" ]] || continue
        echo "---- last lines of $f"
        tail -n 25 "$WORK/$f" | sed 's/^/    | /'
    done
}

finish() {
    local status=$? u g pid leftovers=""
    trap - EXIT INT TERM
    set +e
    ((failed > 0)) && show_logs
    log "cleanup"
    stop_pid "$SSHD_PID"
    stop_pid "$SERVE_PID"
    for u in "${CREATED_USERS[@]}"; do
        # Anything still running as a throwaway user (a session cut off by a timeout) was started by this test.
        for pid in $(pgrep -u "$u" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        userdel -r "$u" >/dev/null 2>&1 || userdel -f -r "$u" >/dev/null 2>&1
    done
    for g in "${CREATED_GROUPS[@]}"; do groupdel "$g" >/dev/null 2>&1; done
    nscd_flush
    ((TOUCHED_PAM)) && rm -f "$PAM_DST"
    ((OWN_STANDINS)) && stop_standins
    ((CREATED_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null

    for u in "${CREATED_USERS[@]}"; do getent passwd "$u" >/dev/null && leftovers+="user $u"$'\n'; done
    for g in "${CREATED_GROUPS[@]}" "${CREATED_USERS[@]}"; do getent group "$g" >/dev/null && leftovers+="group $g"$'\n'; done
    [[ -e "$PAM_DST" ]] && leftovers+="$PAM_DST"$'\n'
    [[ -n "$SSHD_PID" ]] && kill -0 "$SSHD_PID" 2>/dev/null && leftovers+="sshd $SSHD_PID"$'\n'
    [[ -n "$SERVE_PID" ]] && kill -0 "$SERVE_PID" 2>/dev/null && leftovers+="consolegate serve $SERVE_PID"$'\n'
    if [[ -z "$leftovers" ]]; then
        pass "cleanup: throwaway users, groups, $PAM_DST, sshd and the daemon are gone"
    else
        fail "cleanup left things behind" "$leftovers"
    fi
    rm -rf "$WORK"
    report_and_exit "$status"
}
trap_finish

# ---------------------------------------------------------------- packages and tools
find_missing_packages "${PACKAGES[@]}"
if ((${#missing[@]})); then
    install_missing_packages
fi
for tool in /usr/sbin/sshd ssh ssh-keygen ssh-keyscan curl python3 setpriv useradd chage; do
    command -v "$tool" >/dev/null || abort "$tool not found"
done

[[ -x "$BIN" ]] || abort "consolegate binary not found at $BIN (set CONSOLEGATE_BIN)"
"$BIN" serve --help >/dev/null 2>&1 || abort "$BIN has no working 'serve' subcommand"
"$BIN" url --help >/dev/null 2>&1 || abort "$BIN has no working 'url' subcommand"
# sshd runs the ForceCommand as the test user: the binary (and its Swift runtime) must be usable by others.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" --help 2>&1) \
    || abort "$BIN cannot be run by an unprivileged user" "$out"
[[ -r "$SNIPPET_SRC" ]] || abort "missing $SNIPPET_SRC"
[[ -r "$PAM_SRC" ]] || abort "missing $PAM_SRC"

# ---------------------------------------------------------------- stand-ins
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/standins.sh
source "$ROOT/scripts/lib/standins.sh"
if [[ -n "${CONSOLEGATE_TEST_MOTO_URL:-}" && -n "${CONSOLEGATE_TEST_FEDERATION_URL:-}" && -s "${CONSOLEGATE_TEST_FIXTURES:-}" ]] \
    && curl -s -o /dev/null --max-time 2 "$CONSOLEGATE_TEST_MOTO_URL/moto-api/"; then
    log "reusing the stand-ins at $CONSOLEGATE_TEST_MOTO_URL and $CONSOLEGATE_TEST_FEDERATION_URL"
else
    log "starting the AWS stand-ins"
    OWN_STANDINS=1
    start_standins || abort "starting the stand-ins" "$(tail -n 20 "${STANDINS_DIR:-/nonexistent}"/*.log 2>/dev/null)"
    [[ -s "$CONSOLEGATE_TEST_FIXTURES" ]] || abort "the stand-ins were not provisioned"
fi
FED="$CONSOLEGATE_TEST_FEDERATION_URL"
ADMIN_ARN=$(fixture "['roles']['ConsoleAdmin']") || abort "fixture roles.ConsoleAdmin"
RO_ARN=$(fixture "['roles']['ConsoleReadOnly']") || abort "fixture roles.ConsoleReadOnly"
ACCOUNT=${ADMIN_ARN#arn:aws:iam::}
ACCOUNT=${ACCOUNT%%:*}
ADMIN_NAME=${ADMIN_ARN##*/} RO_NAME=${RO_ARN##*/}
BROKER_ENV=(AWS_ENDPOINT_URL="$CONSOLEGATE_TEST_MOTO_URL" AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y
            AWS_EC2_METADATA_DISABLED=true)

# ---------------------------------------------------------------- users and groups
log "throwaway users $U1 ($G_ADMIN), $U2 ($G_RO), $U3 (no role); all in $G_SOCK"
for g in "$G_ADMIN" "$G_RO" "$G_SOCK"; do
    groupadd "$g" || abort "groupadd $g"
    CREATED_GROUPS+=("$g")
done
mkdir -m 0755 "$WORK/home"
add_user() { # NAME GROUPS
    useradd -m -d "$WORK/home/$1" -s /bin/bash -G "$2" "$1" || abort "useradd $1"
    CREATED_USERS+=("$1")
    # '*': no password, yet not locked ('!' would lock key logins too when sshd runs without PAM).
    usermod -p '*' "$1" || abort "usermod -p '*' $1"
}
add_user "$U1" "$G_ADMIN,$G_SOCK"
add_user "$U2" "$G_RO,$G_SOCK"
add_user "$U3" "$G_SOCK"
nscd_flush

TOUCHED_PAM=1
install -m 0644 -o root -g root "$PAM_SRC" "$PAM_DST" || abort "install $PAM_DST"

# ---------------------------------------------------------------- ConsoleGate config
mkdir -m 0755 "$WORK/run"   # the socket's directory: not writable by others, or the daemon refuses to start
mkdir -m 0750 "$WORK/log"
chown consolegate: "$WORK/log" # serve gives up root for this user, which reopens the audit file after rotation
HTTP_PORT=$(free_port)
CFG="$WORK/consolegate.yaml"
write_standin_aws_config "$CFG"
cat >>"$CFG" <<YAML
access:
  - role: $ADMIN_ARN
    groups: [$G_ADMIN]
  - role: $RO_ARN
    groups: [$G_RO]
listen:
  http: 127.0.0.1:$HTTP_PORT
  socket: $SOCK
  socket_mode: "0660"
  socket_group: $G_SOCK
pam:
  service: $SERVICE
  timeout: 30s
audit:
  file: $WORK/log/audit.jsonl
lockout: {per_user: 5, window: 15m, duration: 15m}
trusted_proxies: [127.0.0.1]
YAML

# The config, stand-ins and NSS groups without the daemon: separates their failures from the daemon's.
if out=$(env "${BROKER_ENV[@]}" "$BIN" mint --config "$CFG" --user "$U1" 2>&1) && [[ "$out" == "$FED?"* ]]; then
    pass "consolegate mint (no daemon) accepts the config and gives $U1 a URL"
else
    fail "consolegate mint --config $CFG --user $U1" "$out"$'\n'"$(cat "$CFG")"
fi

# ---------------------------------------------------------------- the daemon
log "starting consolegate serve"
env -u AWS_PROFILE -u AWS_SESSION_TOKEN "${BROKER_ENV[@]}" "$BIN" serve --config "$CFG" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
ready=0
for ((i = 0; i < 300; i++)); do # <= 30 s
    kill -0 "$SERVE_PID" 2>/dev/null || break
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --unix-socket "$SOCK" http://localhost/healthz)" == 200 ]]; then
        ready=1; break
    fi
    sleep 0.1
done
((ready)) || abort "consolegate serve did not answer /healthz on $SOCK" "$(tail -n 30 "$WORK/serve.log")"
pass "consolegate serve answers GET /healthz on the Unix socket"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HTTP_PORT/healthz")
if [[ "$code" == 200 ]]; then pass "GET /healthz on the HTTP listener: 200"; else fail "GET /healthz on 127.0.0.1:$HTTP_PORT gave '$code'"; fi

mode=$(stat -c '%a %U:%G %F' "$SOCK" 2>&1)
if [[ "$mode" == "660 root:$G_SOCK socket" ]]; then
    pass "socket is 0660 root:$G_SOCK"
else
    fail "socket mode/owner: '$mode', expected '660 root:$G_SOCK socket'"
fi

# ---------------------------------------------------------------- sshd
log "starting sshd"
ssh-keygen -q -t ed25519 -N '' -C "consolegate-sshd-test host" -f "$WORK/ssh_host_ed25519_key" || abort "host key"
ssh-keygen -q -t ed25519 -N '' -C "consolegate-sshd-test client" -f "$WORK/client_key" || abort "client key"
mkdir -m 0755 "$WORK/authorized_keys"
for u in "$U1" "$U2" "$U3"; do install -m 0644 "$WORK/client_key.pub" "$WORK/authorized_keys/$u"; done

# The shipped snippet, with the test's group and binary. ForceCommand goes through the user's shell: quote.
FORCE="$(printf '%q' "$BIN") url --socket $(printf '%q' "$SOCK")"
mkdir -m 0755 "$WORK/sshd_config.d"
snippet=$(<"$SNIPPET_SRC")
snippet=${snippet//"Match Group aws-console"/"Match Group $G_SOCK"}
snippet=${snippet//"ForceCommand /usr/local/bin/consolegate url"/"ForceCommand $FORCE"}
printf '%s\n' "$snippet" >"$WORK/sshd_config.d/consolegate.conf"
if ! grep -qx "Match Group $G_SOCK" "$WORK/sshd_config.d/consolegate.conf" \
    || ! grep -qF "ForceCommand $FORCE" "$WORK/sshd_config.d/consolegate.conf"; then
    abort "deploy/sshd_config.d/consolegate.conf no longer has 'Match Group aws-console' and 'ForceCommand /usr/local/bin/consolegate url'"
fi

[[ -d /run/sshd ]] || { mkdir -m 0755 /run/sshd; CREATED_RUN_SSHD=1; }
write_sshd_config() { # PORT
    cat >"$WORK/sshd_config" <<EOF
# Like Debian's sshd_config: the drop-in directory first.
Include $WORK/sshd_config.d/consolegate.conf
ListenAddress 127.0.0.1
Port $1
HostKey $WORK/ssh_host_ed25519_key
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys/%u
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $U1 $U2 $U3
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
EOF
}
HOSTKEY=$(cut -d' ' -f1,2 "$WORK/ssh_host_ed25519_key.pub")
ready=0
for _ in 1 2 3 4 5; do
    SSH_PORT=$(free_port)
    write_sshd_config "$SSH_PORT"
    out=$(/usr/sbin/sshd -t -f "$WORK/sshd_config" 2>&1) || abort "sshd -t rejects the config" "$out"
    /usr/sbin/sshd -D -e -f "$WORK/sshd_config" >"$WORK/sshd.log" 2>&1 &
    SSHD_PID=$!
    for ((i = 0; i < 100; i++)); do # <= 10 s
        kill -0 "$SSHD_PID" 2>/dev/null || break
        # Our sshd, recognised by its host key, not whatever else might hold the port.
        if [[ "$(ssh-keyscan -T 1 -t ed25519 -p "$SSH_PORT" 127.0.0.1 2>/dev/null | cut -d' ' -f2,3)" == "$HOSTKEY" ]]; then
            ready=1; break
        fi
        sleep 0.1
    done
    ((ready)) && break
    stop_pid "$SSHD_PID"; SSHD_PID=""
done
((ready)) || abort "sshd did not come up" "$(tail -n 20 "$WORK/sshd.log")"
pass "sshd listens on 127.0.0.1:$SSH_PORT"

# sshd's effective settings per user: the snippet applies to the group's members only. Checked before any
# command is sent, so that nothing below can ever run as a shell command.
effective() { /usr/sbin/sshd -T -f "$WORK/sshd_config" -C "user=$1,host=localhost,addr=127.0.0.1" 2>&1; }
bad=""
for u in "$U1" "$U2" "$U3"; do
    eff=$(effective "$u")
    grep -qxF "forcecommand $FORCE" <<<"$eff" || bad+="$u: $(grep -i '^forcecommand' <<<"$eff")"$'\n'
    for kv in "permittty no" "x11forwarding no" "allowtcpforwarding no" "allowagentforwarding no" \
              "allowstreamlocalforwarding no" "permittunnel no" "permituserrc no"; do
        grep -qxF "$kv" <<<"$eff" || bad+="$u: not '$kv'"$'\n'
    done
done
[[ -z "$bad" ]] || abort "the sshd snippet does not apply to members of $G_SOCK" "$bad"
eff=$(effective root)
if grep -qx "forcecommand none" <<<"$eff"; then
    pass "sshd -T: ForceCommand and no forwarding/TTY/rc for members of $G_SOCK only"
else
    fail "sshd -T: the Match block leaks to non-members (root)" "$(grep -i '^forcecommand' <<<"$eff")"
fi

# ---------------------------------------------------------------- helpers for the checks
# run_ssh USER [COMMAND...]: sets RC, OUT (stdout), ERR (stderr), LINES (stdout lines). `--` keeps ssh from
# taking a command that starts with `--format` as its own option.
run_ssh() {
    local user=$1; shift
    timeout 60 ssh -F /dev/null -T -n -p "$SSH_PORT" -i "$WORK/client_key" -o IdentitiesOnly=yes -o IdentityAgent=none \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR \
        -o ConnectTimeout=10 -- "$user@127.0.0.1" "$@" >"$WORK/stdout" 2>"$WORK/stderr"
    RC=$?
    OUT=$(<"$WORK/stdout") ERR=$(<"$WORK/stderr") LINES=$(grep -c '' "$WORK/stdout")
}
# as_user USER ARGS...: the socket client run directly as USER (no sshd, no PAM); same variables as run_ssh
as_user() {
    local user=$1; shift
    timeout 60 setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$BIN" url --socket "$SOCK" "$@" \
        </dev/null >"$WORK/stdout" 2>"$WORK/stderr"
    RC=$?
    OUT=$(<"$WORK/stdout") ERR=$(<"$WORK/stderr") LINES=$(grep -c '' "$WORK/stdout")
}
result() { printf 'exit %s\nstdout: %s\nstderr: %s' "$RC" "$OUT" "$ERR"; }

# check_url NAME ROLE_NAME USER: the last run printed exactly one URL line, and following it at the federation
# stand-in gives a 302 for assumed-role/ROLE_NAME/USER
check_url() {
    local name=$1 role=$2 user=$3 status principal expected
    expected="arn:aws:sts::$ACCOUNT:assumed-role/$role/$user"
    if [[ $RC -ne 0 || $LINES -ne 1 || "$OUT" != "$FED?"* ]]; then
        fail "$name: expected exit 0 and exactly one line starting with $FED?" "$(result)"
        return
    fi
    curl -s -o /dev/null -D "$WORK/headers" --max-time 10 "$OUT"
    status=$(head -n 1 "$WORK/headers" | tr -d '\r' | cut -d' ' -f2)
    principal=$(grep -i '^X-Standin-Principal:' "$WORK/headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r')
    if [[ "$status" == 302 && "$principal" == "$expected" ]]; then
        pass "$name: one URL line; it redirects (302) as $expected"
    else
        fail "$name: following the URL gave status '$status', principal '$principal' (expected 302, $expected)" "$(cat "$WORK/headers")"
    fi
}

# check_refused NAME EXPECTED_EXIT|nonzero [STDERR_REGEX...]: no URL, the exit code, stderr matching each regex
check_refused() {
    local name=$1 expected=$2 re problems=""; shift 2
    if [[ "$expected" == nonzero ]]; then
        [[ $RC -ne 0 ]] || problems+="exit 0; "
    else
        [[ $RC -eq $expected ]] || problems+="exit $RC, expected $expected; "
    fi
    [[ -z "$OUT" ]] || problems+="something on stdout; "
    [[ -n "$ERR" ]] || problems+="nothing on stderr; "
    for re in "$@"; do grep -qiE -- "$re" <<<"$ERR" || problems+="stderr does not match /$re/; "; done
    if [[ -z "$problems" ]]; then
        pass "$name (exit $RC): $(head -n 1 <<<"$ERR")"
    else
        fail "$name: ${problems%; }" "$(result)"
    fi
}

# ---------------------------------------------------------------- checks over SSH
log "checks over ssh"
run_ssh "$U1"
check_url "ssh $U1 (no command): default role" "$ADMIN_NAME" "$U1"
run_ssh "$U2"
check_url "ssh $U2 (no command): default role" "$RO_NAME" "$U2"
run_ssh "$U1" url --role "$ADMIN_ARN"
check_url "ssh $U1 'url --role <$ADMIN_NAME>'" "$ADMIN_NAME" "$U1"

run_ssh "$U1" url --format json
if [[ $RC -eq 0 ]] && python3 - "$WORK/stdout" "$ADMIN_ARN" "$U1" "$FED?" <<'PY'
import json, sys
path, role, user, prefix = sys.argv[1:]
d = json.load(open(path))
assert d["role_arn"] == role, d
assert d["session_name"] == user, d
assert d["url"].startswith(prefix), d
assert d["expires_at"], d
PY
then
    pass "ssh $U1 'url --format json': role_arn $ADMIN_NAME, session_name $U1, url, expires_at"
else
    fail "ssh $U1 'url --format json'" "$(result)"
fi

run_ssh "$U2" --format credential-process
if [[ $RC -eq 0 ]] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Version"] == 1 and d["AccessKeyId"] and d["SecretAccessKey"] and d["SessionToken"] and d["Expiration"], d
' "$WORK/stdout"; then
    pass "ssh $U2 '--format credential-process' (options without the word url): Version 1 credentials"
else
    fail "ssh $U2 '--format credential-process'" "$(result)"
fi

run_ssh "$U1" url --role "$RO_ARN"
check_refused "ssh $U1 'url --role <$RO_NAME>' (not his role)" 3 "$RO_NAME" "$ADMIN_NAME"

run_ssh "$U3"
check_refused "ssh $U3 (in no access rule)" 3

run_ssh "$U2" 'rm -rf /'
check_refused "ssh $U2 'rm -rf /'" 2 usage

# Shell syntax reaches the client as plain words; nothing is run. The canary belongs to $U2, who could delete it.
CANARY="$WORK/home/$U2/canary"
install -d -o "$U2" -m 0755 "$CANARY"
run_ssh "$U2" "url; rm -rf $CANARY"
check_refused "ssh $U2 'url; rm -rf ~/canary'" 2 usage
if [[ -d "$CANARY" ]]; then pass "ssh $U2 'url; rm -rf ~/canary': the canary is still there"; else fail "the canary was deleted: a shell ran the command"; fi

run_ssh "$U1" url --role
check_refused "ssh $U1 'url --role' (missing value)" 2 usage

# ---------------------------------------------------------------- the socket without sshd
log "checks on the socket directly"
as_user "$U2"
check_url "$U2 on the socket (setpriv, no sshd): default role" "$RO_NAME" "$U2"

timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" url --socket "$SOCK" \
    </dev/null >"$WORK/stdout" 2>"$WORK/stderr"
RC=$? OUT=$(<"$WORK/stdout") ERR=$(<"$WORK/stderr")
check_refused "nobody (not in $G_SOCK) cannot use the 0660 socket" nonzero

# ---------------------------------------------------------------- the daemon's PAM account check
log "PAM account check (pam_acct_mgmt through $PAM_DST)"
# sshd without PAM does not look at password ageing for key logins, so this reaches the daemon, and its
# pam_unix account check must refuse the must-change-password account.
chage -d 0 "$U1"
run_ssh "$U1"
check_refused "ssh $U1 after 'chage -d 0' (must change password): the daemon refuses" 3

# An expired account: sshd itself already refuses it (it checks shadow expiry without PAM), so the daemon's
# refusal is checked on the socket directly as well.
chage -E 0 "$U2"
run_ssh "$U2"
check_refused "ssh $U2 after 'chage -E 0' (expired)" nonzero
as_user "$U2"
check_refused "$U2 on the socket after 'chage -E 0': the daemon refuses" 3

# ---------------------------------------------------------------- audit log and the daemon afterwards
log "audit log and daemon state"
# Schema-agnostic: every line is a JSON object, and grants and refusals both leave a line naming user and role.
if [[ -s "$WORK/log/audit.jsonl" ]] && python3 - "$WORK/log/audit.jsonl" "$U1" "$U2" "$U3" "$ADMIN_ARN" "$RO_ARN" <<'PY'
import json, sys
path, u1, u2, u3, admin, ro = sys.argv[1:]
lines = [l for l in open(path) if l.strip()]
assert all(isinstance(json.loads(l), dict) for l in lines), "not every line is a JSON object"
def has(*words):
    return any(all(w in l for w in words) for l in lines)
assert has(u1, admin), f"no line with {u1} and {admin}"
assert has(u2, ro), f"no line with {u2} and {ro}"
assert has(u1, ro), f"no line for {u1}'s refused {ro}"
assert has(u3), f"no line for {u3} (refused: no role)"
PY
then
    pass "audit log: $(grep -c '' "$WORK/log/audit.jsonl") JSON lines, with the grants and the refusals"
else
    fail "audit log $WORK/log/audit.jsonl" "$(tail -n 12 "$WORK/log/audit.jsonl" 2>&1)"
fi

if kill -0 "$SERVE_PID" 2>/dev/null \
    && [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --unix-socket "$SOCK" http://localhost/healthz)" == 200 ]]; then
    pass "consolegate serve is still up and healthy"
else
    fail "consolegate serve died or stopped answering" "$(tail -n 30 "$WORK/serve.log")"
fi
